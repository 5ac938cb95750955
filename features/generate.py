"""Synthetic HubSpot contacts and the event log they were summarised from, with a known truth.

Each lead has two hidden traits: *fit* (who the lead is: company size, revenue, industry,
country, seniority, free-mail or business address) and *interest* (how engaged it is).
Fit is a fixed function of the firmographic columns plus a little noise; interest is an
independent standard normal. The chance to convert (reach Sales Qualified Lead) is a
logistic function of both with a positive interaction, so interest pays off mainly when
fit is good.

What a lead *does* is an event log, as a HubSpot portal records it: website sessions
(`visit`) and their `page_view`s (some of the pricing page), marketing `email_open`s and
`email_click`s, and `form_submission`s (the form that created the contact, content
downloads, webinars, and the hand-raises: demo requests and contact-sales forms).
Interested leads come more often; everyone's visits fade after sign-up. In the week
before a lead becomes an SQL it comes back, looks at pricing and often asks for a demo.
After it, sales and onboarding bring many more visits and opens.

The contacts are the export a user would download at the end of `end`: HubSpot's own
properties (`hs_analytics_num_visits`, `hs_analytics_last_visit_timestamp`,
`recent_conversion_event_name`, …) rolled up from *all* events up to then, with the
rules of the default spec's `events:` section. So, as in every real export, a
converted lead's counts include what it did after it converted: the snapshot problem
that point-in-time training (`leadscore train --events`) avoids.

The columns ``_true_fit``, ``_true_interest`` and ``_true_probability`` hold the truth and
must never be used as features; ``_true_probability`` is exactly the probability with
which ``converted`` (the eventual outcome) was drawn.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.errors import LeadscoreError

logger = logging.getLogger(__name__)

SPAN_DAYS = 548  # about 18 months of create dates, ending at `end`
FIRST_ID = 1_000_001
MAX_SQL_LAG_DAYS = 75

EMPLOYEE_RANGES: tuple[str, ...] = (
    "1-5",
    "5-25",
    "25-50",
    "50-100",
    "100-500",
    "500-1000",
    "1000+",
)
_SIZE_P = np.array([0.20, 0.25, 0.15, 0.12, 0.15, 0.06, 0.07])
_SIZE_FIT = np.array([-1.3, -0.6, -0.1, 0.35, 0.75, 0.85, 0.7])
_SIZE_LOG_REVENUE = np.array([12.0, 13.3, 14.6, 15.4, 16.5, 17.6, 18.8])  # log USD
_REVENUE_SD = 0.6
_REVENUE_FIT = 0.2  # per sd of revenue above what the company size predicts
# Small companies are less often enriched.
_SIZE_MISSING = np.array([0.26, 0.18, 0.12, 0.09, 0.07, 0.05, 0.05])
_REVENUE_MISSING = np.array([0.34, 0.25, 0.17, 0.13, 0.10, 0.08, 0.07])

_INDUSTRIES: tuple[tuple[str, float, float], ...] = (  # name, weight, fit effect
    ("Computer Software", 0.14, 0.6),
    ("Information Technology and Services", 0.13, 0.5),
    ("Marketing and Advertising", 0.11, 0.4),
    ("Financial Services", 0.08, 0.3),
    ("Consulting", 0.08, 0.2),
    ("Machinery", 0.07, 0.0),
    ("Logistics", 0.06, 0.0),
    ("Retail", 0.08, -0.1),
    ("Hospital & Health Care", 0.06, -0.2),
    ("Real Estate", 0.06, -0.3),
    ("Education Management", 0.07, -0.6),
    ("Government", 0.04, -0.8),
    ("Veterinary", 0.004, -0.3),
    ("Maritime", 0.003, 0.0),
    ("Wine and Spirits", 0.003, -0.2),
    ("Renewables & Environment", 0.004, 0.2),
    ("Think Tanks", 0.002, -0.4),
    ("Semiconductors", 0.004, 0.3),
)
_INDUSTRY_MISSING = 0.12

_COUNTRIES: tuple[tuple[str, float, float], ...] = (  # name, weight, fit effect
    ("United States", 0.32, 0.5),
    ("Germany", 0.14, 0.5),
    ("United Kingdom", 0.12, 0.4),
    ("Canada", 0.06, 0.3),
    ("Netherlands", 0.05, 0.3),
    ("Australia", 0.04, 0.1),
    ("France", 0.06, 0.0),
    ("India", 0.11, -0.9),
    ("Brazil", 0.06, -0.8),
    ("Nigeria", 0.04, -1.1),
)
_COUNTRY_MISSING = 0.07

# Seniority levels follow the buckets of `features.coerce.seniority`.
_SENIORITY_FIT = {
    "c_level": 0.9,
    "vp": 0.9,
    "director": 0.7,
    "manager": 0.3,
    "individual": -0.25,
    "junior": -1.5,
}
_TITLES: tuple[tuple[str, str, float], ...] = (  # title, level, weight
    ("CEO", "c_level", 3.0),
    ("Founder & CEO", "c_level", 1.0),
    ("Co-Founder", "c_level", 1.0),
    ("Owner", "c_level", 1.5),
    ("Chief Marketing Officer", "c_level", 1.0),
    ("CMO", "c_level", 1.0),
    ("VP Sales", "vp", 2.0),
    ("VP Marketing", "vp", 2.0),
    ("VP of Growth", "vp", 1.0),
    ("vp marketing", "vp", 0.5),
    ("Head of Marketing", "director", 3.0),
    ("head of growth", "director", 1.0),
    ("Head of Demand Generation", "director", 1.0),
    ("Marketing Director", "director", 3.0),
    ("Director of Sales", "director", 2.0),
    ("Marketing Manager", "manager", 8.0),
    ("marketing manager", "manager", 1.5),
    ("Sales Manager", "manager", 5.0),
    ("Sr. Manager, Demand Gen", "manager", 1.5),
    ("Growth Marketing Manager", "manager", 2.0),
    ("Marketing Lead", "manager", 1.5),
    ("Marketing Specialist", "individual", 7.0),
    ("Content Marketing Specialist", "individual", 2.5),
    ("Marketing Coordinator", "individual", 3.0),
    ("Sales Representative", "individual", 3.0),
    ("Analyst", "individual", 3.0),
    ("Marketing Analyst", "individual", 2.5),
    ("Data Analyst", "individual", 1.5),
    ("Consultant", "individual", 2.0),
    ("Intern", "junior", 2.0),
    ("Marketing Intern", "junior", 1.5),
    ("Student", "junior", 3.0),
    ("student", "junior", 1.0),
)
_TITLE_MISSING = 0.09

_FREE_MAIL_GLOBAL: tuple[tuple[str, float], ...] = (
    ("gmail.com", 0.50),
    ("yahoo.com", 0.13),
    ("outlook.com", 0.12),
    ("hotmail.com", 0.12),
    ("icloud.com", 0.08),
    ("aol.com", 0.05),
)
_FREE_MAIL_GERMANY: tuple[tuple[str, float], ...] = (
    ("gmail.com", 0.35),
    ("gmx.de", 0.25),
    ("web.de", 0.22),
    ("t-online.de", 0.10),
    ("outlook.com", 0.08),
)
# Share of free-mail addresses by company size, raised for students and interns.
_SIZE_FREE_MAIL = np.array([0.55, 0.40, 0.27, 0.21, 0.16, 0.13, 0.11])
_JUNIOR_FREE_MAIL = 0.35
_FREE_MAIL_FIT = -0.7
# Company domains are example-<a><b><suffix>.com, from these space-separated words.
_DOMAIN_WORDS_A = (
    "acme blue bright cloud core delta echo falcon fern granite harbor iron jade kite lumen "
    "maple north nova oak orbit pine polar quant rapid red river sage silver solar summit "
    "terra true urban vector vivid west wild zen alpine apex"
)
_DOMAIN_WORDS_B = (
    "labs soft works systems data logic media group tech cloud analytics digital partners "
    "ventures health retail freight capital studio tools metrics forge line point hub wave "
    "stack base"
)
_DOMAIN_SUFFIXES: tuple[str, ...] = ("", "-inc", "-group", "hq", "-gmbh", "-ltd")

_FIT_NOISE = 0.15  # sd of the noise added to the deterministic fit, in raw fit units
# Population mean and sd of the raw fit, measured once on 2 million rows so that
# `_true_fit` has mean ~0 and sd ~1 whatever the number of rows.
_FIT_MEAN = -0.0628
_FIT_SD = 1.4039

_SOURCES: tuple[str, ...] = (
    "ORGANIC_SEARCH",
    "PAID_SEARCH",
    "DIRECT_TRAFFIC",
    "SOCIAL_MEDIA",
    "REFERRALS",
    "EMAIL_MARKETING",
    "OFFLINE",
    "PAID_SOCIAL",
    "OTHER_CAMPAIGNS",
)
_SOURCE_BASE = np.array([1.2, 0.6, 0.7, 0.0, 0.1, 0.2, -0.6, 0.1, -0.9])
_SOURCE_INTEREST = np.array([0.1, 0.0, 0.35, -0.2, 0.3, 0.3, -0.3, -0.35, -0.1])

_OPEN_STAGES: tuple[tuple[str, float], ...] = (
    ("lead", 0.70),
    ("subscriber", 0.20),
    ("marketingqualifiedlead", 0.07),
    ("other", 0.03),
)
_OPEN_STATUS: tuple[tuple[str | None, float], ...] = (
    (None, 0.88),
    ("NEW", 0.04),
    ("OPEN", 0.03),
    ("ATTEMPTED_TO_CONTACT", 0.03),
    ("UNQUALIFIED", 0.02),
)
_SALES_STAGES: tuple[tuple[str, float], ...] = (
    ("salesqualifiedlead", 0.45),
    ("opportunity", 0.30),
    ("customer", 0.25),
)
_SALES_STATUS: tuple[tuple[str | None, float], ...] = (
    ("NEW", 0.15),
    ("IN_PROGRESS", 0.30),
    ("CONNECTED", 0.25),
    ("OPEN_DEAL", 0.25),
    ("ATTEMPTED_TO_CONTACT", 0.05),
)

# Conversion: logit = b0 + drift + b_f*fit + b_i*interest + b_fi*fit*interest
# + b_h*(signed up with a demo or contact-sales request).
_B0 = -2.5
_B_HAND_RAISE = 2.2
_B_FIT = 0.9
_B_INTEREST = 1.3
_B_FIT_INTEREST = 0.5
# The intercept falls linearly by 2 * _DRIFT logits over the span: as volume grows,
# the average lead gets a little worse.
_DRIFT = 0.1

# `--drift`: the world moves over the span. The intercept climbs by 2 * _PLANTED_DRIFT logits
# from the oldest lead to the newest (the base rate grows several-fold), and a new source
# takes over the leads (its share grows from 0 to 95 % with the calendar): a column that
# tracks time, not the lead (conversion does not depend on it).
_PLANTED_DRIFT = 1.2
_NEW_SOURCE = "AI_REFERRALS"
_NEW_SOURCE_SHARE = (2.5, -0.25)  # share = clip(a * elapsed + b, 0, 0.95)

# --- behaviour (rates per day; times in days from the contact's creation) -------------------
_VISIT_RATE = (-2.1, 0.8)  # log sessions per day at sign-up: a + b * interest
_VISIT_FADE_DAYS = 30.0  # sessions fade after sign-up with this time constant
_BACKGROUND_RATE = 0.006  # sessions per day that never fade, times exp(0.4 * interest)
_PRE_SIGNUP = (-0.6, 0.6)  # log of the anonymous sessions in the 21 days before sign-up
_EXTRA_PAGES = (-0.3, 0.4)  # page views per session: 1 + Poisson(exp(a + b * interest))
_PRICING = (-2.8, 0.8)  # logit of a session viewing the pricing page
_RAMP_SESSIONS = 2.0  # sessions in the week before SQL: Poisson(this * (1 + sigmoid(z)))
_RAMP_PRICING = 0.5
_DEMO_BEFORE_SQL = 0.40  # converters: a demo request within 2 days before SQL ...
_CONTACT_BEFORE_SQL = 0.15  # ... or a contact-sales form
_DEMO_OTHERS = (-5.2, 0.6, 1.1, 0.3)  # logit of a demo request by a non-converter (b0, f, i, fi)
_EMAIL_EVERY_DAYS = 14  # the newsletter
_OPEN = (-1.1, 0.7, -0.01)  # logit of opening the k-th newsletter: a + b * interest + c * k
_CLICK = (-1.5, 0.6)  # logit of a click, given an open
_FORM_RATE = (-3.3, 0.7)  # log of other forms per day (content, webinars), fading over 60 days
_AFTER_SQL_RATE = 0.12  # sessions per day after SQL (sales, onboarding), fading over 45 days
_AFTER_SQL_OPEN = 0.2  # logit of opening a newsletter after SQL

_PAGES: tuple[tuple[str, float], ...] = (
    ("/", 0.22),
    ("/product", 0.14),
    ("/features", 0.10),
    ("/blog/lead-scoring-basics", 0.12),
    ("/blog/marketing-sales-alignment", 0.08),
    ("/blog/hubspot-lifecycle-stages", 0.07),
    ("/case-studies/example-maschinenbau", 0.06),
    ("/integrations", 0.06),
    ("/about", 0.05),
    ("/careers", 0.04),
    ("/docs/getting-started", 0.06),
)
PRICING_PAGE = "/pricing"
DEMO_FORM = "Demo request"
CONTACT_FORM = "Contact sales"
_SIGNUP_FORMS: tuple[tuple[str, float], ...] = (
    ("E-Book: Lead Scoring Guide", 0.24),
    ("Whitepaper: Marketing-Sales Alignment", 0.13),
    ("Checklist: HubSpot Lifecycle Stages", 0.11),
    ("Newsletter signup", 0.27),
    ("Webinar: Lead Scoring in Practice", 0.17),
    ("Free trial", 0.08),
)
# Signing up with a hand-raise (demo request or contact-sales form): mostly leads that fit
# and are interested. Logit: b0 + b_f * fit + b_i * interest.
_SIGNUP_HAND_RAISE = (-4.4, 0.7, 1.0)
_IMPORTED = 0.12  # contacts imported or typed in: no sign-up form, no earlier visits
_LATER_FORMS: tuple[tuple[str, float], ...] = (
    ("E-Book: Lead Scoring Guide", 0.22),
    ("Whitepaper: Marketing-Sales Alignment", 0.18),
    ("Checklist: HubSpot Lifecycle Stages", 0.15),
    ("Webinar: Lead Scoring in Practice", 0.25),
    ("Webinar: Pipeline Reviews", 0.12),
    ("Free trial", 0.08),
)

EVENT_COLUMNS: tuple[str, ...] = ("hs_object_id", "timestamp", "event_type", "event_value")
# Contact properties the export holds, rolled up from the events (the default spec's
# `events.properties`), in this order.
ACTIVITY_COLUMNS: tuple[str, ...] = (
    "hs_analytics_num_visits",
    "hs_analytics_num_page_views",
    "hs_analytics_first_visit_timestamp",
    "hs_analytics_last_visit_timestamp",
    "hs_email_open",
    "hs_email_click",
    "hs_email_last_open_date",
    "hs_email_last_click_date",
    "num_conversion_events",
    "num_unique_conversion_events",
    "first_conversion_event_name",
    "recent_conversion_event_name",
    "first_conversion_date",
    "recent_conversion_date",
)
COUNT_COLUMNS: tuple[str, ...] = (
    "hs_analytics_num_visits",
    "hs_analytics_num_page_views",
    "hs_email_open",
    "hs_email_click",
    "num_conversion_events",
    "num_unique_conversion_events",
)
OUTPUT_COLUMNS: tuple[str, ...] = (
    "hs_object_id",
    "createdate",
    "numemployees",
    "annualrevenue",
    "industry",
    "country",
    "jobtitle",
    "hs_email_domain",
    "hs_analytics_source",
    *ACTIVITY_COLUMNS,
    "lifecyclestage",
    "hs_lead_status",
    "converted",
    "hs_lifecyclestage_salesqualifiedlead_date",
    "_true_fit",
    "_true_interest",
    "_true_probability",
)


@dataclass(frozen=True)
class Demo:
    """Generated contacts (the export at the end of `end`) and their event log."""

    contacts: pd.DataFrame
    events: pd.DataFrame
    export_end: pd.Timestamp


def generate_leads(
    rows: int, seed: int = 0, end: str = "2026-06-30", drift: bool = False
) -> pd.DataFrame:
    """The contacts of `generate_demo` (the export at the end of `end`, a UTC date)."""
    return generate_demo(rows, seed, end, drift).contacts


def generate_demo(rows: int, seed: int = 0, end: str = "2026-06-30", drift: bool = False) -> Demo:
    """Generate `rows` contacts created over ~18 months up to `end`, and their events.

    The same (rows, seed, end, drift) always gives the same frames. Missing values are
    None / NaN; timestamps ISO 8601 in UTC, as HubSpot's v3 API writes them. `drift`
    plants a moving world: a base rate that climbs several-fold over the span and a
    source column that tracks the calendar (`_PLANTED_DRIFT`, `_NEW_SOURCE`).
    """
    if isinstance(rows, bool) or not isinstance(rows, int | np.integer) or rows < 0:
        raise LeadscoreError(f"rows must be a count of leads (0 or more), got {rows!r}")
    try:
        day = pd.Timestamp(end)
    except (ValueError, TypeError) as error:
        raise LeadscoreError(f"end must be a date such as 2026-06-30, got {end!r}") from error
    if pd.isna(day):  # None and "" are NaT to pandas
        raise LeadscoreError(f"end must be a date such as 2026-06-30, got {end!r}")
    end_day = np.datetime64(day.date(), "D")
    rng = np.random.default_rng(seed)

    created, elapsed = _create_dates(rng, rows, end_day)
    fit_cols, fit = _fit(rng, rows)
    interest = rng.standard_normal(rows)
    h0, hf, hi = _SIGNUP_HAND_RAISE
    # Imported contacts (a list, a trade-fair scan, one sales typed in) arrive without a
    # form or a visit: no activity at all is a state the model must see in training.
    imported = rng.random(rows) < _IMPORTED
    raised = ~imported & (rng.random(rows) < _sigmoid(h0 + hf * fit + hi * interest))
    logit = (
        _B0
        + _DRIFT * (1.0 - 2.0 * elapsed)
        + _B_FIT * fit
        + _B_INTEREST * interest
        + _B_FIT_INTEREST * fit * interest
        + _B_HAND_RAISE * raised
        + (_PLANTED_DRIFT * (2.0 * elapsed - 1.0) if drift else 0.0)
    )
    probability = 1.0 / (1.0 + np.exp(-logit))
    converted = (rng.random(rows) < probability).astype(np.int64)

    # Most leads are qualified within a few weeks; a few take up to the 75-day cap.
    lag_days = np.minimum(1.0 + rng.gamma(1.5, 12.0, rows), MAX_SQL_LAG_DAYS)
    lag_seconds = (lag_days * 86_400).astype(np.int64)
    reached = created + lag_seconds.astype("timedelta64[s]")
    # The export is taken at the end of `end`: a conversion after that has not happened
    # yet as far as the CRM knows (`converted` still holds the eventual outcome).
    export_end = (end_day + np.timedelta64(1, "D")).astype("datetime64[s]")
    known = (converted == 1) & (reached < export_end)
    sql_date = np.full(rows, None, dtype=object)
    sql_date[known] = _iso(reached[known])

    source = _row_choice(rng, _softmax(_SOURCE_BASE + np.outer(interest, _SOURCE_INTEREST)))
    source[imported] = _SOURCES.index("OFFLINE")
    sources = np.array(_SOURCES, dtype=object)[source]
    if drift:
        a, b = _NEW_SOURCE_SHARE
        sources[rng.random(rows) < np.clip(a * elapsed + b, 0.0, 0.95)] = _NEW_SOURCE
    ids = (np.arange(rows) + FIRST_ID).astype(str).astype(object)
    events = _events(
        rng, ids, created, export_end, interest, fit, converted, lag_days, known, raised, imported
    )
    activity = _rollup(ids, events, export_end)

    stage = _choose(rng, rows, _OPEN_STAGES)
    status = _choose(rng, rows, _OPEN_STATUS)
    stage[known] = _choose(rng, int(known.sum()), _SALES_STAGES)
    status[known] = _choose(rng, int(known.sum()), _SALES_STATUS)

    frame = pd.DataFrame(
        {
            "hs_object_id": ids,
            "createdate": _iso(created),
            **fit_cols,
            "hs_analytics_source": sources,
            **activity,
            "lifecyclestage": stage,
            "hs_lead_status": status,
            "converted": converted,
            "hs_lifecyclestage_salesqualifiedlead_date": sql_date,
            "_true_fit": fit,
            "_true_interest": interest,
            "_true_probability": probability,
        }
    )
    logger.debug(
        "generated %d leads (seed %d), %d converted, %d events",
        rows,
        seed,
        converted.sum(),
        len(events),
    )
    return Demo(frame[list(OUTPUT_COLUMNS)], events, pd.Timestamp(export_end, tz="UTC"))


def _softmax(logits: np.ndarray) -> np.ndarray:
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return np.asarray(p / p.sum(axis=1, keepdims=True))


def _sigmoid(x: np.ndarray | float) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64))))


def _times(
    rng: np.random.Generator,
    counts: np.ndarray,
    start: np.ndarray,
    span: np.ndarray,
    fade: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """`counts[i]` moments for lead i in [start_i, start_i + span_i) (days), uniform or with
    a density that fades as exp(-t / fade). Returns (lead index, day) per moment."""
    lead = np.repeat(np.arange(len(counts)), counts)
    u = rng.random(len(lead))
    width = span[lead]
    offset = u * width if fade is None else -fade * np.log1p(-u * -np.expm1(-width / fade))
    return lead, start[lead] + offset


def _fading_count(
    rng: np.random.Generator, rate: np.ndarray, span: np.ndarray, fade: float
) -> np.ndarray:
    """Poisson counts of a process with rate `rate`·exp(-t/fade) over [0, span) days."""
    mean = rate * fade * -np.expm1(-np.maximum(span, 0.0) / fade)
    return rng.poisson(mean)


def _events(
    rng: np.random.Generator,
    ids: np.ndarray,
    created: np.ndarray,
    export_end: np.datetime64,
    interest: np.ndarray,
    fit: np.ndarray,
    converted: np.ndarray,
    lag_days: np.ndarray,
    known: np.ndarray,
    raised: np.ndarray,
    imported: np.ndarray,
) -> pd.DataFrame:
    """The event log (see the module docstring), sorted by time. `raised`: the leads
    that signed up with a hand-raise (a demo request or contact-sales form)."""
    rows = len(ids)
    z = interest
    until_end = (export_end - created).astype(np.float64) / 86_400  # days to the export
    # Before SQL: until the SQL date for converters (or the export), else the export.
    engaged = np.where(converted == 1, np.minimum(lag_days, until_end), until_end)
    zero = np.zeros(rows)
    parts: list[tuple[np.ndarray, np.ndarray, str, np.ndarray]] = []

    def add(lead: np.ndarray, day: np.ndarray, kind: str, value: np.ndarray | str) -> None:
        values = np.full(len(lead), value, dtype=object) if isinstance(value, str) else value
        parts.append((lead, day, kind, values))

    # Sessions: anonymous ones before sign-up, fading engagement, a background trickle,
    # the week before SQL, and after SQL (sales and onboarding).
    sessions: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    pre = rng.poisson(np.exp(_PRE_SIGNUP[0] + _PRE_SIGNUP[1] * z)) * ~imported
    lead, day = _times(rng, pre, np.full(rows, -21.0), np.full(rows, 21.0))
    sessions.append((lead, day, np.full(len(lead), _sigmoid(_PRICING[0] + _PRICING[1] * z)[lead])))
    rate = np.exp(_VISIT_RATE[0] + _VISIT_RATE[1] * z)
    lead, day = _times(
        rng, _fading_count(rng, rate, engaged, _VISIT_FADE_DAYS), zero, engaged, _VISIT_FADE_DAYS
    )
    sessions.append((lead, day, _sigmoid(_PRICING[0] + _PRICING[1] * z)[lead]))
    lead, day = _times(
        rng, rng.poisson(_BACKGROUND_RATE * np.exp(0.4 * z) * engaged), zero, engaged
    )
    sessions.append((lead, day, _sigmoid(_PRICING[0] + _PRICING[1] * z)[lead]))
    ramp_start = np.maximum(lag_days - 7.0, 0.0)
    ramp = rng.poisson(_RAMP_SESSIONS * (1.0 + _sigmoid(z))) * known
    lead, day = _times(rng, ramp, ramp_start, lag_days - ramp_start)
    sessions.append((lead, day, np.full(len(lead), _RAMP_PRICING)))
    after = np.where(known, until_end - lag_days, 0.0)
    lead, day = _times(
        rng, _fading_count(rng, np.full(rows, _AFTER_SQL_RATE), after, 45.0), lag_days, after, 45.0
    )
    sessions.append((lead, day, np.full(len(lead), _sigmoid(_PRICING[0] + 0.5))))
    s_lead = np.concatenate([s[0] for s in sessions])
    s_day = np.concatenate([s[1] for s in sessions])
    s_pricing = rng.random(len(s_lead)) < np.concatenate([s[2] for s in sessions])
    extra = rng.poisson(np.exp(_EXTRA_PAGES[0] + _EXTRA_PAGES[1] * z)[s_lead])
    pages = 1 + extra
    page_names, page_w = zip(*_PAGES, strict=True)
    page_p = np.array(page_w) / np.sum(page_w)
    p_lead = np.repeat(s_lead, pages)
    p_session = np.repeat(np.arange(len(s_lead)), pages)
    p_step = np.arange(len(p_lead)) - np.repeat(np.cumsum(pages) - pages, pages)
    p_day = s_day[p_session] + p_step * (45.0 / 86_400)  # 45 seconds a page
    paths = np.array(page_names, dtype=object)[rng.choice(len(page_p), len(p_lead), p=page_p)]
    # a session that views pricing does so on its second page (or its only one)
    pricing_at = np.minimum(1, pages - 1)
    priced = s_pricing[p_session] & (p_step == pricing_at[p_session])
    paths[priced] = PRICING_PAGE
    add(s_lead, s_day, "visit", paths[p_step == 0])
    add(p_lead, p_day, "page_view", paths)

    # Forms: the one that created the contact (seconds before creation), later content
    # and webinars, hand-raises before SQL, and rare demo requests by others.
    signup_names, signup_w = zip(*_SIGNUP_FORMS, strict=True)
    signup = np.array(signup_names, dtype=object)[
        rng.choice(len(signup_w), rows, p=np.array(signup_w) / np.sum(signup_w))
    ]
    signup[raised] = np.where(rng.random(int(raised.sum())) < 0.5, DEMO_FORM, CONTACT_FORM)
    signed = ~imported
    add(
        np.flatnonzero(signed),
        -rng.uniform(5, 300, rows)[signed] / 86_400,
        "form_submission",
        signup[signed],
    )
    form_rate = np.exp(_FORM_RATE[0] + _FORM_RATE[1] * z)
    lead, day = _times(rng, _fading_count(rng, form_rate, engaged, 60.0), zero, engaged, 60.0)
    later_names, later_w = zip(*_LATER_FORMS, strict=True)
    later = np.array(later_names, dtype=object)[
        rng.choice(len(later_w), len(lead), p=np.array(later_w) / np.sum(later_w))
    ]
    add(lead, day, "form_submission", later)
    hand = rng.random(rows)
    demo = known & (hand < _DEMO_BEFORE_SQL)
    contact = known & (hand >= _DEMO_BEFORE_SQL) & (hand < _DEMO_BEFORE_SQL + _CONTACT_BEFORE_SQL)
    before = np.maximum(lag_days - rng.uniform(0.05, 2.0, rows), 0.0)
    add(np.flatnonzero(demo), before[demo], "form_submission", DEMO_FORM)
    add(np.flatnonzero(contact), before[contact], "form_submission", CONTACT_FORM)
    b0, bf, bi, bfi = _DEMO_OTHERS
    others = (converted == 0) & (
        rng.random(rows) < _sigmoid(b0 + bf * fit + bi * z + bfi * fit * z)
    )
    add(
        np.flatnonzero(others),
        (rng.random(rows) * until_end)[others],
        "form_submission",
        DEMO_FORM,
    )

    # The newsletter: every two weeks from two days after sign-up; opens fade with the
    # number of issues, and rise after SQL (a customer reads the vendor's mail).
    issues = np.maximum(np.floor((until_end - 2.0) / _EMAIL_EVERY_DAYS).astype(np.int64) + 1, 0)
    e_lead = np.repeat(np.arange(rows), issues)
    e_issue = np.arange(len(e_lead)) - np.repeat(np.cumsum(issues) - issues, issues)
    e_day = 2.0 + _EMAIL_EVERY_DAYS * e_issue + rng.exponential(0.6, len(e_lead))
    sold = known[e_lead] & (e_day >= lag_days[e_lead])
    open_logit = np.where(
        sold, _AFTER_SQL_OPEN, _OPEN[0] + _OPEN[1] * z[e_lead] + _OPEN[2] * e_issue
    )
    opened = rng.random(len(e_lead)) < _sigmoid(open_logit)
    click_logit = np.where(sold, -0.3, _CLICK[0] + _CLICK[1] * z[e_lead])
    clicked = opened & (rng.random(len(e_lead)) < _sigmoid(click_logit))
    names = np.char.add("Newsletter #", (e_issue + 1).astype(str)).astype(object)
    add(e_lead[opened], e_day[opened], "email_open", names[opened])
    add(
        e_lead[clicked],
        e_day[clicked] + rng.exponential(0.02, int(clicked.sum())),
        "email_click",
        names[clicked],
    )

    lead = np.concatenate([p[0] for p in parts]).astype(np.intp)
    day = np.concatenate([p[1] for p in parts])
    kinds = np.concatenate([np.full(len(p[0]), p[2], dtype=object) for p in parts])
    values = np.concatenate([p[3] for p in parts])
    at = created[lead].astype("datetime64[ms]") + np.round(day * 86_400_000).astype(
        "timedelta64[ms]"
    )
    keep = at < export_end  # the export knows nothing later
    order = np.lexsort((lead[keep], at[keep]))
    return pd.DataFrame(
        {
            "hs_object_id": ids[lead[keep]][order],
            "timestamp": at[keep][order],
            "event_type": kinds[keep][order],
            "event_value": values[keep][order],
        }
    )


def _rollup(ids: np.ndarray, events: pd.DataFrame, export_end: np.datetime64) -> dict[str, Any]:
    """The contacts' activity properties at the export: the default spec's rules."""
    from features.events import event_columns, read_event_log
    from features.spec import resolve_spec

    spec = resolve_spec("hubspot")
    assert spec.events is not None
    log = read_event_log(events, spec.events, "generated events", spec.missing_tokens)
    moment = np.full(len(ids), export_end.astype("datetime64[ns]").astype(np.int64))
    columns = event_columns(spec.events, log, log.codes_of(ids), moment)
    out: dict[str, Any] = {}
    for name in ACTIVITY_COLUMNS:
        values = columns[name]
        if name in COUNT_COLUMNS:
            out[name] = values.astype(np.int64)
        elif values.dtype.kind == "M":
            text = _iso_ms(values)
            text[np.isnat(values)] = None
            out[name] = text
        else:
            out[name] = values
    return out


def _create_dates(
    rng: np.random.Generator, rows: int, end_day: np.datetime64
) -> tuple[np.ndarray, np.ndarray]:
    """Create timestamps and their position in the span (0 to 1).

    Arrivals grow over time and are lower at weekends.
    """
    days = end_day - np.arange(SPAN_DAYS - 1, -1, -1).astype("timedelta64[D]")
    trend = 1.0 + 0.6 * np.linspace(0.0, 1.0, SPAN_DAYS)
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    weight = trend * np.where(weekday >= 5, 0.35, 1.0)
    day_index = rng.choice(SPAN_DAYS, size=rows, p=weight / weight.sum())
    # Seconds of the day around mid-afternoon UTC (Europe and the Americas both awake).
    seconds = np.mod(rng.normal(14.5 * 3600, 4.5 * 3600, rows), 86_400).astype(np.int64)
    created = days[day_index].astype("datetime64[s]") + seconds.astype("timedelta64[s]")
    elapsed = (day_index + seconds / 86_400) / SPAN_DAYS
    return created, elapsed


def _fit(rng: np.random.Generator, rows: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Firmographic columns and the standardised latent fit they (mostly) determine."""
    size = rng.choice(len(EMPLOYEE_RANGES), size=rows, p=_SIZE_P)
    revenue_z = rng.standard_normal(rows)
    revenue = np.exp(_SIZE_LOG_REVENUE[size] + _REVENUE_SD * revenue_z)
    revenue = np.round(revenue, -3)

    industry_names, industry_w, industry_fit = _table(_INDUSTRIES)
    industry = rng.choice(len(industry_names), size=rows, p=industry_w)
    country_names, country_w, country_fit = _table(_COUNTRIES)
    country = rng.choice(len(country_names), size=rows, p=country_w)

    titles = np.array([t for t, _, _ in _TITLES], dtype=object)
    title_level = np.array([level for _, level, _ in _TITLES])
    title_fit = np.array([_SENIORITY_FIT[level] for _, level, _ in _TITLES])
    title_w = np.array([w for _, _, w in _TITLES])
    title = rng.choice(len(titles), size=rows, p=title_w / title_w.sum())
    level = title_level[title]

    p_free = np.clip(_SIZE_FREE_MAIL[size] + _JUNIOR_FREE_MAIL * (level == "junior"), 0, 0.95)
    free = rng.random(rows) < p_free
    domain = _email_domains(rng, rows, free, country_names[country] == "Germany")

    raw = (
        _SIZE_FIT[size]
        + _REVENUE_FIT * revenue_z
        + industry_fit[industry]
        + country_fit[country]
        + title_fit[title]
        + _FREE_MAIL_FIT * free
        + _FIT_NOISE * rng.standard_normal(rows)
    )
    fit = (raw - _FIT_MEAN) / _FIT_SD

    # The CRM lacks some values; the latent above still used them.
    sizes = np.array(EMPLOYEE_RANGES, dtype=object)[size]
    sizes[rng.random(rows) < _SIZE_MISSING[size]] = None
    revenue[rng.random(rows) < _REVENUE_MISSING[size]] = np.nan
    industries = industry_names[industry]
    industries[rng.random(rows) < _INDUSTRY_MISSING] = None
    countries = country_names[country]
    countries[rng.random(rows) < _COUNTRY_MISSING] = None
    jobtitles = titles[title]
    jobtitles[rng.random(rows) < _TITLE_MISSING] = None

    columns = {
        "numemployees": sizes,
        "annualrevenue": revenue,
        "industry": industries,
        "country": countries,
        "jobtitle": jobtitles,
        "hs_email_domain": domain,
    }
    return columns, fit


def _email_domains(
    rng: np.random.Generator, rows: int, free: np.ndarray, german: np.ndarray
) -> np.ndarray:
    """Free-mail domains (local ones for Germany) or invented company domains."""
    company = np.array(
        [
            f"example-{a}{b}{c}.com"
            for a in _DOMAIN_WORDS_A.split()
            for b in _DOMAIN_WORDS_B.split()
            for c in _DOMAIN_SUFFIXES
        ],
        dtype=object,
    )
    domain = company[rng.integers(0, len(company), rows)]
    global_free = _choose(rng, rows, _FREE_MAIL_GLOBAL)
    german_free = _choose(rng, rows, _FREE_MAIL_GERMANY)
    domain[free] = np.where(german, german_free, global_free)[free]
    return domain


def _table(
    entries: tuple[tuple[str, float, float], ...],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    names = np.array([e[0] for e in entries], dtype=object)
    weights = np.array([e[1] for e in entries])
    effects = np.array([e[2] for e in entries])
    return names, weights / weights.sum(), effects


def _choose(
    rng: np.random.Generator, rows: int, entries: tuple[tuple[str | None, float], ...]
) -> np.ndarray:
    values = np.array([e[0] for e in entries], dtype=object)
    weights = np.array([e[1] for e in entries])
    return values[rng.choice(len(values), size=rows, p=weights / weights.sum())]


def _row_choice(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One category index per row, each row with its own probabilities."""
    cumulative = probabilities.cumsum(axis=1)
    u = rng.random(len(probabilities))[:, None] * cumulative[:, -1:]
    return np.minimum((u > cumulative).sum(axis=1), probabilities.shape[1] - 1)


def _iso(times: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(times.astype("datetime64[s]"), unit="s", timezone="UTC").astype(
        object
    )


def _iso_ms(times: np.ndarray) -> np.ndarray:
    """ISO 8601 with milliseconds, as HubSpot's v3 API writes date-time properties."""
    return np.datetime_as_string(times.astype("datetime64[ms]"), unit="ms", timezone="UTC").astype(
        object
    )
