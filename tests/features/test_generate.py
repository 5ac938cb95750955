"""The demo-data generator: shape, HubSpot conventions and the hidden ground truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.errors import LeadscoreError
from features.generate import generate_leads

ROWS = 5000

COLUMNS = [
    "hs_object_id",
    "createdate",
    "numemployees",
    "annualrevenue",
    "industry",
    "country",
    "jobtitle",
    "hs_email_domain",
    "hs_analytics_num_visits",
    "hs_analytics_num_page_views",
    "hs_email_open",
    "hs_email_click",
    "num_conversion_events",
    "pricing_page_views",
    "content_downloads",
    "webinar_attended",
    "demo_requested",
    "days_since_last_visit",
    "hs_analytics_source",
    "lifecyclestage",
    "hs_lead_status",
    "converted",
    "hs_lifecyclestage_salesqualifiedlead_date",
    "_true_fit",
    "_true_interest",
    "_true_probability",
]
TEXT_COLUMNS = [
    "hs_object_id",
    "createdate",
    "numemployees",
    "industry",
    "country",
    "jobtitle",
    "hs_email_domain",
    "webinar_attended",
    "demo_requested",
    "hs_analytics_source",
    "lifecyclestage",
    "hs_lead_status",
    "hs_lifecyclestage_salesqualifiedlead_date",
]
COUNT_COLUMNS = [
    "hs_analytics_num_visits",
    "hs_analytics_num_page_views",
    "hs_email_open",
    "hs_email_click",
    "num_conversion_events",
    "pricing_page_views",
    "content_downloads",
]
FLOAT_COLUMNS = [
    "annualrevenue",
    "days_since_last_visit",
    "_true_fit",
    "_true_interest",
    "_true_probability",
]
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
ISO_UTC = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"


@pytest.fixture(scope="module")
def leads() -> pd.DataFrame:
    return generate_leads(ROWS, seed=11)


def test_same_seed_gives_the_same_frame() -> None:
    pd.testing.assert_frame_equal(generate_leads(2000, seed=5), generate_leads(2000, seed=5))


def test_different_seeds_give_different_frames() -> None:
    a, b = generate_leads(2000, seed=5), generate_leads(2000, seed=6)
    assert not np.allclose(a["_true_fit"], b["_true_fit"])
    assert (a["createdate"] != b["createdate"]).mean() > 0.99


def test_columns_and_types(leads: pd.DataFrame) -> None:
    assert list(leads.columns) == COLUMNS
    assert len(leads) == ROWS
    for column in [*COUNT_COLUMNS, "converted"]:
        assert leads[column].dtype == np.int64, column
    for column in FLOAT_COLUMNS:
        assert leads[column].dtype == np.float64, column
    for column in TEXT_COLUMNS:
        values = leads[column].dropna()
        assert all(isinstance(value, str) for value in values), column


def test_no_value_is_a_stand_in_for_missing(leads: pd.DataFrame) -> None:
    for column in TEXT_COLUMNS:
        values = leads[column].dropna()
        assert not values.isin(["nan", "NaN", "None", "NULL", ""]).any(), column


def test_ids_are_unique_digit_strings(leads: pd.DataFrame) -> None:
    ids = leads["hs_object_id"]
    assert ids.is_unique
    assert ids.str.fullmatch(r"\d{7}").all()


@pytest.mark.parametrize(
    ("column", "low", "high"),
    [
        ("numemployees", 0.10, 0.20),
        ("annualrevenue", 0.15, 0.25),
        ("industry", 0.10, 0.20),
        ("country", 0.05, 0.15),
        ("jobtitle", 0.06, 0.13),
        ("days_since_last_visit", 0.01, 0.15),
        ("hs_lead_status", 0.75, 0.95),
        ("hs_email_domain", 0.0, 0.0),
        ("hs_analytics_num_visits", 0.0, 0.0),
        ("createdate", 0.0, 0.0),
    ],
)
def test_missing_shares(leads: pd.DataFrame, column: str, low: float, high: float) -> None:
    share = leads[column].isna().mean()
    assert low <= share <= high, share


def test_firmographic_values_follow_hubspot(leads: pd.DataFrame) -> None:
    sizes = set(leads["numemployees"].dropna())
    assert sizes == {"1-5", "5-25", "25-50", "50-100", "100-500", "500-1000", "1000+"}
    assert (leads["annualrevenue"].dropna() > 0).all()
    revenue = leads["annualrevenue"].dropna()
    assert revenue.mean() > 2 * revenue.median()  # heavy tailed
    assert leads["industry"].value_counts(normalize=True).iloc[:12].min() > 0.02
    assert 8 <= leads["country"].nunique() <= 12
    sources = {
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
    assert set(leads["hs_analytics_source"]) == sources
    stages = leads["lifecyclestage"].value_counts(normalize=True)
    assert set(stages.index) == {"lead", "subscriber", "marketingqualifiedlead", "other"}
    assert stages["lead"] > 0.5


def test_email_domains(leads: pd.DataFrame) -> None:
    domains = leads["hs_email_domain"]
    free = domains.isin(FREE_MAIL)
    assert 0.30 <= free.mean() <= 0.40
    assert domains[~free].str.fullmatch(r"example-[a-z-]+\.com").all()
    assert domains[~free].nunique() > 500


def test_booleans_are_true_false_strings(leads: pd.DataFrame) -> None:
    for column in ("webinar_attended", "demo_requested"):
        assert set(leads[column]) == {"true", "false"}, column
    assert 0.02 <= (leads["demo_requested"] == "true").mean() <= 0.04


def test_counts_are_consistent(leads: pd.DataFrame) -> None:
    assert (leads[COUNT_COLUMNS] >= 0).all().all()
    assert (leads["hs_email_click"] <= leads["hs_email_open"]).all()
    assert (leads["hs_analytics_num_page_views"] >= leads["hs_analytics_num_visits"]).all()
    assert (leads["pricing_page_views"] <= leads["hs_analytics_num_page_views"]).all()
    never_visited = leads["hs_analytics_num_visits"] == 0
    assert (leads["days_since_last_visit"].isna() == never_visited).all()
    assert (leads["days_since_last_visit"].dropna() >= 0).all()


def test_create_dates_span_18_months_up_to_end(leads: pd.DataFrame) -> None:
    assert leads["createdate"].str.fullmatch(ISO_UTC).all()
    created = pd.to_datetime(leads["createdate"], utc=True)
    assert created.max() < pd.Timestamp("2026-07-01", tz="UTC")
    assert created.min() >= pd.Timestamp("2024-12-29", tz="UTC")
    assert 530 <= (created.max() - created.min()).days <= 548
    weekend = created.dt.day_of_week >= 5
    assert weekend.mean() < 0.2  # weekend days get fewer sign-ups than weekdays (2/7 = 0.29)
    start, end = created.min(), created.max()
    first_half_year = (created < start + pd.Timedelta(days=182)).sum()
    last_half_year = (created > end - pd.Timedelta(days=182)).sum()
    assert last_half_year > 1.2 * first_half_year  # arrivals grow over time


def test_end_moves_the_window() -> None:
    created = pd.to_datetime(generate_leads(500, seed=1, end="2025-01-31")["createdate"])
    assert created.max() < pd.Timestamp("2025-02-01", tz="UTC")
    assert created.min() >= pd.Timestamp("2023-07-31", tz="UTC")


def test_base_rate_and_probability_agree(leads: pd.DataFrame) -> None:
    rate = leads["converted"].mean()
    assert 0.08 <= rate <= 0.16
    assert set(leads["converted"]) == {0, 1}
    p = leads["_true_probability"]
    assert ((p > 0) & (p < 1)).all()
    standard_error = np.sqrt((p * (1 - p)).sum()) / len(p)
    assert abs(rate - p.mean()) < 4 * standard_error


def test_sql_date_present_iff_converted_and_within_75_days(leads: pd.DataFrame) -> None:
    sql = leads["hs_lifecyclestage_salesqualifiedlead_date"]
    created = pd.to_datetime(leads["createdate"], utc=True)
    settled = created < created.max() - pd.Timedelta(days=76)
    assert (sql[settled].notna() == (leads.loc[settled, "converted"] == 1)).all()
    assert (sql.notna() <= (leads["converted"] == 1)).all()
    # the export ends with the last creation day: no SQL date from the future
    assert (
        pd.to_datetime(sql.dropna(), utc=True) < created.max().ceil("D") + pd.Timedelta(days=1)
    ).all()
    assert sql.dropna().str.fullmatch(ISO_UTC).all()
    lag = pd.to_datetime(sql, utc=True) - pd.to_datetime(leads["createdate"], utc=True)
    lag = lag.dropna()
    assert (lag >= pd.Timedelta(days=1)).all()
    assert (lag <= pd.Timedelta(days=75)).all()


def test_latents_are_standardised_and_independent(leads: pd.DataFrame) -> None:
    fit, interest = leads["_true_fit"], leads["_true_interest"]
    assert abs(fit.mean()) < 0.1 and 0.9 < fit.std() < 1.1
    assert abs(interest.mean()) < 0.1 and 0.9 < interest.std() < 1.1
    assert abs(np.corrcoef(fit, interest)[0, 1]) < 0.05


def test_observed_columns_read_the_latents(leads: pd.DataFrame) -> None:
    interest = leads["_true_interest"]
    visits = np.log1p(leads["hs_analytics_num_visits"])
    assert np.corrcoef(visits, interest)[0, 1] > 0.7
    days = leads["days_since_last_visit"]
    seen = days.notna()
    assert np.corrcoef(np.log(days[seen] + 0.1), interest[seen])[0, 1] < -0.8
    fit = leads["_true_fit"]
    free = leads["hs_email_domain"].isin(FREE_MAIL)
    assert fit[~free].mean() - fit[free].mean() > 0.5
    size = leads["numemployees"]
    assert fit[size == "100-500"].mean() - fit[size == "1-5"].mean() > 1.0
    students = leads["jobtitle"].str.lower().str.contains("student|intern", na=False)
    chiefs = leads["jobtitle"].str.contains("CEO|Chief|CMO", na=False)
    assert fit[chiefs].mean() - fit[students].mean() > 1.0


def test_demo_requests_come_from_interested_leads_that_fit(leads: pd.DataFrame) -> None:
    demo = leads["demo_requested"] == "true"
    assert leads.loc[demo, "_true_interest"].mean() > 0.8
    assert leads.loc[demo, "_true_fit"].mean() > 0.3
    assert leads.loc[demo, "converted"].mean() > 3 * leads["converted"].mean()


def test_fit_pays_off_more_at_high_interest(leads: pd.DataFrame) -> None:
    p = leads["_true_probability"]
    logit = np.log(p / (1 - p))
    interest = leads["_true_interest"]
    high, low = interest > interest.quantile(0.75), interest < interest.quantile(0.25)
    slope_high = np.polyfit(leads.loc[high, "_true_fit"], logit[high], 1)[0]
    slope_low = np.polyfit(leads.loc[low, "_true_fit"], logit[low], 1)[0]
    assert slope_low > 0
    assert slope_high > slope_low + 0.5


def test_zero_rows_gives_an_empty_frame_with_all_columns() -> None:
    frame = generate_leads(0)
    assert frame.empty
    assert list(frame.columns) == COLUMNS


@pytest.mark.parametrize(("rows", "end"), [(-1, "2026-06-30"), (10, "not a date")])
def test_bad_arguments_raise_a_leadscore_error(rows: int, end: str) -> None:
    with pytest.raises(LeadscoreError):
        generate_leads(rows, end=end)
