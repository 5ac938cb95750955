"""Synthetic HubSpot-style contacts with a known ground truth, for demos and model tests.

Each lead has two hidden traits: *fit* (who the lead is: company size, revenue, industry,
country, seniority, free-mail or business address) and *interest* (what the lead does:
visits, opens, downloads, a demo request). Fit is a fixed function of the firmographic
columns plus a little noise; interest is an independent standard normal that the
behavioural counts measure with noise. The chance to convert is a logistic function of
both with a positive interaction, so interest pays off mainly when fit is good.

The columns ``_true_fit``, ``_true_interest`` and ``_true_probability`` hold the truth and
must never be used as features; ``_true_probability`` is exactly the probability with
which ``converted`` was drawn.
"""

from __future__ import annotations

import logging

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

_LIFECYCLE: tuple[tuple[str, float], ...] = (
    ("lead", 0.70),
    ("subscriber", 0.22),
    ("marketingqualifiedlead", 0.06),
    ("other", 0.02),
)
_LEAD_STATUS: tuple[tuple[str | None, float], ...] = (
    (None, 0.85),
    ("NEW", 0.06),
    ("OPEN", 0.04),
    ("IN_PROGRESS", 0.03),
    ("ATTEMPTED_TO_CONTACT", 0.02),
)

# Conversion: logit = b0 + drift + b_f*fit + b_i*interest + b_fi*fit*interest + b_d*demo.
_B0 = -2.55
_B_FIT = 0.9
_B_INTEREST = 1.25
_B_FIT_INTEREST = 0.5
_B_DEMO = 0.6
# The intercept falls linearly by 2 * _DRIFT logits over the span: as volume grows,
# the average lead gets a little worse.
_DRIFT = 0.1
# Demo request: a rare hand-raise, mostly by interested leads that fit.
_DEMO_B0 = -4.6
_DEMO_FIT = 0.6
_DEMO_INTEREST = 1.1
_DEMO_FIT_INTEREST = 0.3

OUTPUT_COLUMNS: tuple[str, ...] = (
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
)


def generate_leads(rows: int, seed: int = 0, end: str = "2026-06-30") -> pd.DataFrame:
    """Generate `rows` synthetic contacts created over ~18 months up to `end` (a UTC date).

    The same (rows, seed, end) always gives the same frame. Missing values are NaN;
    booleans are the strings ``"true"``/``"false"``, as in a HubSpot export.
    """
    if rows < 0:
        raise LeadscoreError(f"rows must be a count of leads (0 or more), got {rows}")
    try:
        end_day = np.datetime64(pd.Timestamp(end).date(), "D")
    except ValueError as error:
        raise LeadscoreError(f"end must be a date such as 2026-06-30, got {end!r}") from error
    rng = np.random.default_rng(seed)

    created, elapsed = _create_dates(rng, rows, end_day)
    fit_cols, fit = _fit(rng, rows)
    interest = rng.standard_normal(rows)
    behaviour, demo = _behaviour(rng, interest, fit)

    logit = (
        _B0
        + _DRIFT * (1.0 - 2.0 * elapsed)
        + _B_FIT * fit
        + _B_INTEREST * interest
        + _B_FIT_INTEREST * fit * interest
        + _B_DEMO * demo.astype(np.float64)
    )
    probability = 1.0 / (1.0 + np.exp(-logit))
    converted = (rng.random(rows) < probability).astype(np.int64)

    # Most leads are qualified within a few weeks; a few take up to the 75-day cap.
    lag_days = np.minimum(1.0 + rng.gamma(1.5, 12.0, rows), MAX_SQL_LAG_DAYS)
    lag_seconds = (lag_days * 86_400).astype(np.int64)
    reached = created + lag_seconds.astype("timedelta64[s]")
    # The export is taken at the end of `end`: a conversion after that has not happened
    # yet as far as the CRM knows (`converted` still holds the eventual outcome).
    export_end = end_day + np.timedelta64(1, "D")
    known = (converted == 1) & (reached < export_end)
    sql_date = np.full(rows, None, dtype=object)
    sql_date[known] = _iso(reached[known])

    frame = pd.DataFrame(
        {
            "hs_object_id": (np.arange(rows) + FIRST_ID).astype(str),
            "createdate": _iso(created),
            **fit_cols,
            **behaviour,
            "lifecyclestage": _choose(rng, rows, _LIFECYCLE),
            "hs_lead_status": _choose(rng, rows, _LEAD_STATUS),
            "converted": converted,
            "hs_lifecyclestage_salesqualifiedlead_date": sql_date,
            "_true_fit": fit,
            "_true_interest": interest,
            "_true_probability": probability,
        }
    )
    logger.debug("generated %d leads (seed %d), %d converted", rows, seed, converted.sum())
    return frame[list(OUTPUT_COLUMNS)]


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


def _behaviour(
    rng: np.random.Generator, interest: np.ndarray, fit: np.ndarray
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Engagement columns (noisy readings of the latent interest) and the demo-request flags."""
    rows = len(interest)

    def counts(a: float, b: float, shape: float) -> np.ndarray:
        mean = np.exp(a + b * interest)
        return rng.poisson(mean * rng.gamma(shape, 1.0 / shape, rows)).astype(np.int64)

    visits = counts(1.8, 1.0, 12.0)
    extra_views = rng.poisson(
        visits * np.exp(0.4 + 0.25 * interest) * rng.gamma(3.0, 1.0 / 3.0, rows)
    )
    page_views = (visits + extra_views).astype(np.int64)
    opens = counts(2.0, 0.8, 10.0)
    click_p = 1.0 / (1.0 + np.exp(-(-1.6 + 0.7 * interest)))
    clicks = rng.binomial(opens, click_p).astype(np.int64)
    conversion_events = counts(0.0, 0.8, 10.0)
    pricing = np.minimum(counts(-1.0, 1.0, 5.0), page_views)
    downloads = counts(-0.8, 0.8, 5.0)
    webinar = rng.random(rows) < 1.0 / (1.0 + np.exp(-(-2.4 + 0.9 * interest)))
    demo_logit = (
        _DEMO_B0 + _DEMO_FIT * fit + _DEMO_INTEREST * interest + _DEMO_FIT_INTEREST * fit * interest
    )
    demo = rng.random(rows) < 1.0 / (1.0 + np.exp(-demo_logit))
    days = np.round(np.exp(2.6 - 0.9 * interest + 0.2 * rng.standard_normal(rows)), 1)
    days = np.where(visits > 0, days, np.nan)

    source_logits = _SOURCE_BASE + np.outer(interest, _SOURCE_INTEREST)
    source_p = np.exp(source_logits)
    source_p /= source_p.sum(axis=1, keepdims=True)
    source = _row_choice(rng, source_p)

    columns = {
        "hs_analytics_num_visits": visits,
        "hs_analytics_num_page_views": page_views,
        "hs_email_open": opens,
        "hs_email_click": clicks,
        "num_conversion_events": conversion_events,
        "pricing_page_views": pricing,
        "content_downloads": downloads,
        "webinar_attended": _bool_strings(webinar),
        "demo_requested": _bool_strings(demo),
        "days_since_last_visit": days,
        "hs_analytics_source": np.array(_SOURCES, dtype=object)[source],
    }
    return columns, demo


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


def _bool_strings(flags: np.ndarray) -> np.ndarray:
    return np.where(flags, "true", "false").astype(object)


def _iso(times: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(times.astype("datetime64[s]"), unit="s", timezone="UTC").astype(
        object
    )
