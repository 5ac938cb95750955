"""The demo-data generator: HubSpot contacts and the event log they were rolled up from,
with a known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.errors import LeadscoreError
from features.events import EventLog, event_columns, read_event_log
from features.generate import ACTIVITY_COLUMNS, Demo, generate_demo, generate_leads
from features.spec import DatasetSpec
from features.timestamps import NS_PER_DAY, read_timestamps

ROWS = 3000

ACTIVITY = list(ACTIVITY_COLUMNS)
COLUMNS = [
    "hs_object_id",
    "createdate",
    "numemployees",
    "annualrevenue",
    "industry",
    "country",
    "jobtitle",
    "hs_email_domain",
    "hs_analytics_source",
    *ACTIVITY,
    "lifecyclestage",
    "hs_lead_status",
    "converted",
    "hs_lifecyclestage_salesqualifiedlead_date",
    "_true_fit",
    "_true_interest",
    "_true_probability",
]
COUNTS = [
    "hs_analytics_num_visits",
    "hs_analytics_num_page_views",
    "hs_email_open",
    "hs_email_click",
    "num_conversion_events",
    "num_unique_conversion_events",
]
TIMES = [
    "hs_analytics_first_visit_timestamp",
    "hs_analytics_last_visit_timestamp",
    "hs_email_last_open_date",
    "hs_email_last_click_date",
    "first_conversion_date",
    "recent_conversion_date",
]
FLOATS = ["annualrevenue", "_true_fit", "_true_interest", "_true_probability"]
TEXTS = [c for c in COLUMNS if c not in {*COUNTS, *FLOATS, "converted"}]
EVENT_COLUMNS = ["hs_object_id", "timestamp", "event_type", "event_value"]
EVENT_TYPES = {"visit", "page_view", "email_open", "email_click", "form_submission"}
FREE_MAIL = {
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
    "aol.com",
    "gmx.de",
    "web.de",
    "t-online.de",
}
ISO_SECONDS = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"
ISO_MILLISECONDS = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"
HAND_RAISES = ["Demo request", "Contact sales"]
END = pd.Timestamp("2026-07-01", tz="UTC")  # the end of the default `end` day


@pytest.fixture(scope="module")
def demo() -> Demo:
    return generate_demo(ROWS, seed=11)


@pytest.fixture(scope="module")
def leads(demo: Demo) -> pd.DataFrame:
    return demo.contacts


@pytest.fixture(scope="module")
def log(demo: Demo, hubspot_spec: DatasetSpec) -> EventLog:
    assert hubspot_spec.events is not None
    return read_event_log(demo.events, hubspot_spec.events, "gen", hubspot_spec.missing_tokens)


def ns(column: pd.Series) -> np.ndarray:
    """A column of ISO 8601 texts as ns since the epoch (NaT: the int64 minimum)."""
    return read_timestamps(column, str(column.name)).astype(np.int64)


def test_same_seed_gives_the_same_frames() -> None:
    a, b = generate_demo(800, seed=5), generate_demo(800, seed=5)
    pd.testing.assert_frame_equal(a.contacts, b.contacts)
    pd.testing.assert_frame_equal(a.events, b.events)
    assert a.export_end == b.export_end
    pd.testing.assert_frame_equal(generate_leads(800, seed=5), a.contacts)


def test_different_seeds_give_different_frames() -> None:
    a, b = generate_demo(800, seed=5), generate_demo(800, seed=6)
    assert not np.allclose(a.contacts["_true_fit"], b.contacts["_true_fit"])
    assert (a.contacts["createdate"] != b.contacts["createdate"]).mean() > 0.99
    assert len(a.events) != len(b.events)


def test_columns_and_types(demo: Demo) -> None:
    leads, events = demo.contacts, demo.events
    assert list(leads.columns) == COLUMNS
    assert len(leads) == ROWS
    for column in [*COUNTS, "converted"]:
        assert leads[column].dtype == np.int64, column
    for column in FLOATS:
        assert leads[column].dtype == np.float64, column
    for column in TEXTS:
        assert all(isinstance(value, str) for value in leads[column].dropna()), column
        assert not leads[column].dropna().isin(["nan", "NaN", "None", "NULL", ""]).any(), column
    assert list(events.columns) == EVENT_COLUMNS
    assert events["timestamp"].dtype == np.dtype("datetime64[ms]")
    for column in ("hs_object_id", "event_type", "event_value"):
        assert all(isinstance(value, str) for value in events[column]), column
    assert demo.export_end == END


def test_ids_and_timestamps_follow_hubspot(leads: pd.DataFrame) -> None:
    ids = leads["hs_object_id"]
    assert ids.is_unique and ids.str.fullmatch(r"\d{7}").all()
    assert ids.iloc[0] == "1000001"
    assert leads["createdate"].str.fullmatch(ISO_SECONDS).all()
    sql = leads["hs_lifecyclestage_salesqualifiedlead_date"].dropna()
    assert sql.str.fullmatch(ISO_SECONDS).all()
    for column in TIMES:  # v3 API date-time properties: milliseconds and Z
        assert leads[column].dropna().str.fullmatch(ISO_MILLISECONDS).all(), column


@pytest.mark.parametrize(
    ("column", "low", "high"),
    [
        ("numemployees", 0.10, 0.20),
        ("annualrevenue", 0.15, 0.25),
        ("industry", 0.08, 0.16),
        ("country", 0.04, 0.11),
        ("jobtitle", 0.06, 0.13),
        ("hs_lead_status", 0.65, 0.85),
        ("hs_analytics_last_visit_timestamp", 0.01, 0.10),
        ("hs_email_last_click_date", 0.35, 0.60),
        ("hs_email_domain", 0.0, 0.0),
        ("hs_analytics_num_visits", 0.0, 0.0),
        ("createdate", 0.0, 0.0),
        # every contact signed up with a form, but the imported ones (12 %, most of
        # whom submit one later)
        ("recent_conversion_event_name", 0.01, 0.12),
    ],
)
def test_missing_shares(leads: pd.DataFrame, column: str, low: float, high: float) -> None:
    share = leads[column].isna().mean()
    assert low <= share <= high, share


def test_firmographic_values_follow_hubspot(leads: pd.DataFrame) -> None:
    sizes = set(leads["numemployees"].dropna())
    assert sizes == {"1-5", "5-25", "25-50", "50-100", "100-500", "500-1000", "1000+"}
    revenue = leads["annualrevenue"].dropna()
    assert (revenue > 0).all() and (revenue % 1000 == 0).all()
    assert revenue.mean() > 2 * revenue.median()  # heavy tailed
    assert leads["industry"].value_counts(normalize=True).iloc[:12].min() > 0.02
    assert 8 <= leads["country"].nunique() <= 12
    assert set(leads["hs_analytics_source"]) == {
        "ORGANIC_SEARCH",
        "PAID_SEARCH",
        "DIRECT_TRAFFIC",
        "SOCIAL_MEDIA",
        "REFERRALS",
        "EMAIL_MARKETING",
        "OFFLINE",
        "PAID_SOCIAL",
        "OTHER_CAMPAIGNS",
    }
    sql = leads["hs_lifecyclestage_salesqualifiedlead_date"].notna()
    assert set(leads.loc[sql, "lifecyclestage"]) == {
        "salesqualifiedlead",
        "opportunity",
        "customer",
    }
    assert set(leads.loc[~sql, "lifecyclestage"]) == {
        "lead",
        "subscriber",
        "marketingqualifiedlead",
        "other",
    }


def test_email_domains(leads: pd.DataFrame) -> None:
    domains = leads["hs_email_domain"]
    free = domains.isin(FREE_MAIL)
    assert 0.28 <= free.mean() <= 0.40
    assert domains[~free].str.fullmatch(r"example-[a-z-]+\.com").all()
    assert domains[~free].nunique() > 500


def test_activity_is_the_events_rolled_up_at_the_export(
    demo: Demo, log: EventLog, hubspot_spec: DatasetSpec
) -> None:
    """Each contact's activity properties are its events up to the export, by the default
    spec's rules: a re-rollup gives them back."""
    assert hubspot_spec.events is not None
    leads = demo.contacts
    assert sorted(hubspot_spec.events.properties) == sorted(ACTIVITY)
    moment = np.full(len(leads), demo.export_end.value)
    rebuilt = event_columns(hubspot_spec.events, log, log.codes_of(leads["hs_object_id"]), moment)
    for column in COUNTS:
        np.testing.assert_array_equal(rebuilt[column], leads[column], err_msg=column)
    for column in TIMES:
        np.testing.assert_array_equal(
            rebuilt[column].astype(np.int64), ns(leads[column]), err_msg=column
        )
    for column in ("first_conversion_event_name", "recent_conversion_event_name"):
        written = [None if pd.isna(v) else v for v in leads[column]]
        assert rebuilt[column].tolist() == written, column
    assert (leads["hs_analytics_num_visits"] > 0).mean() > 0.9
    assert leads["num_unique_conversion_events"].max() >= 3


def test_events_belong_to_contacts_and_end_before_the_export(demo: Demo) -> None:
    events = demo.events
    assert set(events["hs_object_id"]) <= set(demo.contacts["hs_object_id"])
    assert events["timestamp"].max() < demo.export_end.tz_localize(None)
    assert events["timestamp"].is_monotonic_increasing
    assert set(events["event_type"]) == EVENT_TYPES
    counts = events["event_type"].value_counts()
    assert counts["page_view"] > counts["visit"] > counts["email_open"] > counts["email_click"]
    values = events.groupby("event_type")["event_value"]
    assert values.apply(lambda v: v.str.startswith("/").all()).to_dict() == {
        "email_click": False,
        "email_open": False,
        "form_submission": False,
        "page_view": True,
        "visit": True,
    }
    pages = events.loc[events["event_type"] == "page_view", "event_value"]
    assert 0.01 < (pages == "/pricing").mean() < 0.2
    forms = set(events.loc[events["event_type"] == "form_submission", "event_value"])
    assert {*HAND_RAISES, "Newsletter signup", "Free trial"} <= forms
    assert (
        events.loc[events["event_type"] == "email_open", "event_value"]
        .str.fullmatch(r"Newsletter #\d+")
        .all()
    )


def test_counts_are_consistent(leads: pd.DataFrame) -> None:
    assert (leads[COUNTS] >= 0).all().all()
    assert (leads["hs_email_click"] <= leads["hs_email_open"]).all()
    assert (leads["hs_analytics_num_page_views"] >= leads["hs_analytics_num_visits"]).all()
    assert (leads["num_unique_conversion_events"] <= leads["num_conversion_events"]).all()
    # contacts imported without a form (source OFFLINE): the only ones without activity
    formless = leads["num_conversion_events"] == 0
    assert formless.any() and (leads.loc[formless, "hs_analytics_source"] == "OFFLINE").all()
    never = leads["hs_analytics_num_visits"] == 0
    assert (leads["hs_analytics_last_visit_timestamp"].isna() == never).all()
    first = ns(leads["hs_analytics_first_visit_timestamp"])[~never]
    last = ns(leads["hs_analytics_last_visit_timestamp"])[~never]
    assert (first <= last).all() and (first < last).mean() > 0.5


def test_create_dates_span_18_months_up_to_end(leads: pd.DataFrame) -> None:
    created = pd.to_datetime(leads["createdate"], utc=True)
    assert created.max() < END
    assert created.min() >= pd.Timestamp("2024-12-29", tz="UTC")
    assert 530 <= (created.max() - created.min()).days <= 548
    assert (created.dt.day_of_week >= 5).mean() < 0.2  # fewer sign-ups at weekends (2/7)
    start, end = created.min(), created.max()
    first_half_year = (created < start + pd.Timedelta(days=182)).sum()
    last_half_year = (created > end - pd.Timedelta(days=182)).sum()
    assert last_half_year > 1.2 * first_half_year  # arrivals grow over time


def test_end_moves_the_window() -> None:
    demo = generate_demo(300, seed=1, end="2025-01-31")
    created = pd.to_datetime(demo.contacts["createdate"], utc=True)
    assert created.max() < pd.Timestamp("2025-02-01", tz="UTC")
    assert created.min() >= pd.Timestamp("2023-07-31", tz="UTC")
    assert demo.export_end == pd.Timestamp("2025-02-01", tz="UTC")
    assert demo.events["timestamp"].max() < pd.Timestamp("2025-02-01")


def test_interest_drives_engagement(leads: pd.DataFrame) -> None:
    interest = leads["_true_interest"]
    for column, least in [
        ("hs_analytics_num_visits", 0.6),
        ("hs_analytics_num_page_views", 0.6),
        ("hs_email_open", 0.3),
        ("num_conversion_events", 0.3),
    ]:
        r = np.corrcoef(np.log1p(leads[column]), interest)[0, 1]
        assert r > least, (column, r)
    # engagement reads interest, not fit
    assert (
        abs(np.corrcoef(np.log1p(leads["hs_analytics_num_visits"]), leads["_true_fit"])[0, 1])
        < 0.15
    )


def test_observed_fit_columns_read_the_latent_fit(leads: pd.DataFrame) -> None:
    fit = leads["_true_fit"]
    free = leads["hs_email_domain"].isin(FREE_MAIL)
    assert fit[~free].mean() - fit[free].mean() > 0.5
    size = leads["numemployees"]
    assert fit[size == "100-500"].mean() - fit[size == "1-5"].mean() > 1.0
    students = leads["jobtitle"].str.lower().str.contains("student|intern", na=False)
    chiefs = leads["jobtitle"].str.contains("CEO|Chief|CMO", na=False)
    assert fit[chiefs].mean() - fit[students].mean() > 1.0


def test_the_snapshot_shows_activity_after_conversion(
    leads: pd.DataFrame, log: EventLog, hubspot_spec: DatasetSpec
) -> None:
    """The export's counts include what a converted lead did after it became an SQL (the
    snapshot problem); rolled up as of its SQL date, no activity is after it."""
    assert hubspot_spec.events is not None
    sql = ns(leads["hs_lifecyclestage_salesqualifiedlead_date"])
    known = sql != np.iinfo(np.int64).min
    assert known.sum() > 300
    last_visit = ns(leads["hs_analytics_last_visit_timestamp"])
    assert (last_visit[known] > sql[known]).mean() > 0.8
    assert (ns(leads["hs_email_last_open_date"])[known] > sql[known]).mean() > 0.5

    then = event_columns(
        hubspot_spec.events, log, log.codes_of(leads["hs_object_id"][known]), sql[known]
    )
    for column in TIMES:
        stamps, seen = then[column].astype(np.int64), ~np.isnat(then[column])
        assert seen.sum() > 50 and (stamps[seen] < sql[known][seen]).all(), column
    for column in COUNTS:
        assert (then[column] <= leads.loc[known, column]).all(), column
    visits = leads.loc[known, "hs_analytics_num_visits"].to_numpy()
    assert (then["hs_analytics_num_visits"] < visits).mean() > 0.8
    # the week before SQL: converters come back (and many ask for a demo)
    assert (
        then["hs_analytics_last_visit_timestamp"].astype(np.int64) > sql[known] - 7 * NS_PER_DAY
    ).mean() > 0.8
    recent = pd.Series(then["recent_conversion_event_name"])
    assert recent.isin(HAND_RAISES).mean() > 0.4


def test_hand_raise_forms_convert_more(leads: pd.DataFrame) -> None:
    base = leads["converted"].mean()
    signed_up = leads["first_conversion_event_name"].isin(HAND_RAISES)
    assert 0.01 < signed_up.mean() < 0.05
    assert leads.loc[signed_up, "converted"].mean() > 3 * base
    assert leads.loc[signed_up, "_true_interest"].mean() > 0.6
    assert leads.loc[signed_up, "_true_fit"].mean() > 0.3
    others = leads["first_conversion_event_name"].isin(
        ["Newsletter signup", "E-Book: Lead Scoring Guide"]
    )
    assert leads.loc[others, "converted"].mean() < base


def test_base_rate_and_probability_agree(leads: pd.DataFrame) -> None:
    rate = leads["converted"].mean()
    assert 0.10 <= rate <= 0.20
    assert set(leads["converted"]) == {0, 1}
    p = leads["_true_probability"]
    assert ((p > 0) & (p < 1)).all()
    standard_error = np.sqrt((p * (1 - p)).sum()) / len(p)
    assert abs(rate - p.mean()) < 4 * standard_error


def test_sql_date_present_iff_converted_and_within_75_days(leads: pd.DataFrame) -> None:
    sql = leads["hs_lifecyclestage_salesqualifiedlead_date"]
    created = pd.to_datetime(leads["createdate"], utc=True)
    settled = created < END - pd.Timedelta(days=76)
    assert (sql[settled].notna() == (leads.loc[settled, "converted"] == 1)).all()
    assert (sql.notna() <= (leads["converted"] == 1)).all()
    # converted after the export: the export knows nothing of it yet
    assert (sql.isna() & (leads["converted"] == 1)).sum() > 0
    assert (pd.to_datetime(sql.dropna(), utc=True) < END).all()
    lag = (pd.to_datetime(sql, utc=True) - created).dropna()
    assert (lag >= pd.Timedelta(days=1)).all()
    assert (lag <= pd.Timedelta(days=75)).all()
    assert lag.max() > pd.Timedelta(days=60)


def test_latents_are_standardised_and_independent(leads: pd.DataFrame) -> None:
    fit, interest = leads["_true_fit"], leads["_true_interest"]
    assert abs(fit.mean()) < 0.1 and 0.9 < fit.std() < 1.1
    assert abs(interest.mean()) < 0.1 and 0.9 < interest.std() < 1.1
    assert abs(np.corrcoef(fit, interest)[0, 1]) < 0.06


def test_fit_pays_off_more_at_high_interest(leads: pd.DataFrame) -> None:
    p = leads["_true_probability"]
    logit = np.log(p / (1 - p))
    interest = leads["_true_interest"]
    high, low = interest > interest.quantile(0.75), interest < interest.quantile(0.25)
    slope_high = np.polyfit(leads.loc[high, "_true_fit"], logit[high], 1)[0]
    slope_low = np.polyfit(leads.loc[low, "_true_fit"], logit[low], 1)[0]
    assert slope_low > 0
    assert slope_high > slope_low + 0.5


def test_zero_rows_gives_empty_frames_with_all_columns() -> None:
    demo = generate_demo(0)
    assert demo.contacts.empty and list(demo.contacts.columns) == COLUMNS
    assert demo.events.empty and list(demo.events.columns) == EVENT_COLUMNS
    assert demo.export_end == END
    assert list(generate_leads(0).columns) == COLUMNS


@pytest.mark.parametrize(
    ("rows", "end", "message"),
    [
        (-1, "2026-06-30", "rows must be a count of leads (0 or more), got -1"),
        (2.5, "2026-06-30", "rows must be a count of leads (0 or more), got 2.5"),
        ("10", "2026-06-30", "rows must be a count of leads (0 or more), got '10'"),
        (True, "2026-06-30", "rows must be a count of leads (0 or more), got True"),
        (10, "not a date", "end must be a date such as 2026-06-30, got 'not a date'"),
        (10, "2026-13-45", "end must be a date such as 2026-06-30, got '2026-13-45'"),
        (10, "", "end must be a date such as 2026-06-30, got ''"),
        (10, None, "end must be a date such as 2026-06-30, got None"),
    ],
)
def test_bad_arguments_raise_a_leadscore_error(rows: object, end: object, message: str) -> None:
    with pytest.raises(LeadscoreError) as caught:
        generate_demo(rows, end=end)  # type: ignore[arg-type]
    assert str(caught.value) == message
