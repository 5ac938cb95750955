"""Scalar readers: one raw CRM value → one typed feature value, or an error naming both."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from features.coerce import (
    DERIVATIONS,
    CoercionError,
    NumberFormat,
    email_domain_type,
    event_name,
    is_missing,
    number_reader,
    seniority,
    to_boolean,
    to_category,
    to_number,
)
from features.errors import LeadscoreError
from features.spec import DEFAULT_MISSING_VALUES

# What the HubSpot spec treats as missing: the defaults plus its own placeholders.
MISSING = frozenset([*DEFAULT_MISSING_VALUES, "Select", "Unknown", "-"])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("42", 42.0),
        (" 3.5 ", 3.5),
        ("-7", -7.0),
        ("1e3", 1000.0),
        ("0", 0.0),
        (7, 7.0),
        (2.5, 2.5),
        (np.int64(5), 5.0),
        (np.float64(0.25), 0.25),
        (True, 1.0),
        (False, 0.0),
        ("100-500", 300.0),
        ("1-5", 3.0),
        (" 5 - 25 ", 15.0),
        ("0.5-1.5", 1.0),
        ("1000+", 1000.0),
        ("1000 +", 1000.0),
    ],
)
def test_to_number_reads(value: Any, expected: float) -> None:
    result = to_number(value, "numemployees", MISSING)
    assert type(result) is float
    assert result == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "Select",
        " Select ",
        "Unknown",
        "-",
        "NaN",
        "nan",
        "N/A",
        "null",
        None,
        math.nan,
        np.nan,
        np.float32("nan"),
        pd.NaT,
        # pandas' own missing scalar, e.g. from a nullable (Int64, string[python]) column
        pd.NA,
    ],
    ids=repr,
)
def test_missing_tokens_read_as_missing(value: Any) -> None:
    assert is_missing(value, MISSING)
    assert math.isnan(to_number(value, "annualrevenue", MISSING))
    assert math.isnan(to_boolean(value, "hs_email_optout", MISSING))
    assert to_category(value, "industry", MISSING) is None
    assert seniority(value, "jobtitle", MISSING) is None
    assert email_domain_type(value, "hs_email_domain", MISSING) is None
    assert event_name(value, "recent_conversion_event_name", MISSING) is None


def test_placeholder_is_missing_only_when_listed() -> None:
    assert math.isnan(to_number("Select", "numemployees", ["Select"]))
    with pytest.raises(CoercionError, match="cannot read 'Select' as a number"):
        to_number("Select", "numemployees", [""])
    assert to_category("Select", "industry", [""]) == "Select"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("abc", "a number"),
        ("1,000,0", "a number"),
        ("$500", "a number"),
        ("-5-10", "a number"),
        ("12 visits", "a number"),
        ("inf", "a finite number"),
        ("-inf", "a finite number"),
        ("Infinity", "a finite number"),
        ("1e400", "a finite number"),
        (math.inf, "a finite number"),
        (-math.inf, "a finite number"),
    ],
)
def test_to_number_refuses(value: Any, expected: str) -> None:
    with pytest.raises(CoercionError) as caught:
        to_number(value, "hs_analytics_num_visits", MISSING)
    error = caught.value
    assert isinstance(error, LeadscoreError)
    assert (error.column, error.value, error.expected) == (
        "hs_analytics_num_visits",
        value,
        expected,
    )
    assert str(error) == f"column 'hs_analytics_num_visits': cannot read {value!r} as {expected}"


# -- numbers as CRMs export them: thousands separators, decimal commas ---------------------

GERMAN = NumberFormat(decimal=",", thousands=".")
COMMA_HINT = (
    "a number (a comma is read only between thousands: if it is a decimal comma here, "
    'set `csv: {decimal: ","}` in the spec)'
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("13,000", 13000.0),
        ("1,234,567.89", 1234567.89),
        (" -1,234 ", -1234.0),
        ("+1,000", 1000.0),
        ("999", 999.0),
        ("1,000-5,000", 3000.0),  # a range of grouped numbers
        ("1,000+", 1000.0),
        ("100-500", 300.0),  # HubSpot's ranges as before
        ("0.5-1.5", 1.0),
    ],
)
def test_to_number_reads_thousands_separators(value: str, expected: float) -> None:
    assert to_number(value, "annualrevenue", MISSING) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1,5", COMMA_HINT),  # a decimal comma, perhaps: never silently 15
        ("12,34", COMMA_HINT),
        ("1,2345", COMMA_HINT),
        ("1,000,0", "a number"),
        (",000", "a number"),
        ("1,,000", "a number"),
        ("1,000.5.5", "a number"),
    ],
)
def test_to_number_refuses_commas_outside_thousands(value: str, expected: str) -> None:
    with pytest.raises(CoercionError) as caught:
        to_number(value, "annualrevenue", MISSING)
    assert caught.value.expected == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1.234,56", 1234.56),
        ("0,5", 0.5),
        ("-0,25", -0.25),
        ("1.234", 1234.0),  # a German thousands point
        ("1.234.567", 1234567.0),
        ("1234", 1234.0),
        ("1,5-2,5", 2.0),
        ("100-500", 300.0),
        ("1.000+", 1000.0),
        (2.5, 2.5),  # a number sent as a number is what it is
    ],
)
def test_to_number_reads_decimal_commas(value: Any, expected: float) -> None:
    assert to_number(value, "euribor3m", MISSING, GERMAN) == expected
    assert number_reader(GERMAN)(value, "euribor3m", MISSING) == expected


@pytest.mark.parametrize("value", ["1.5", "12.34", "1e3", "1,234.5"])
def test_decimal_comma_refuses_a_decimal_point(value: str) -> None:
    with pytest.raises(CoercionError) as caught:
        to_number(value, "euribor3m", MISSING, GERMAN)
    assert "decimal ','" in caught.value.expected


def test_other_thousands_separators() -> None:
    swiss = NumberFormat(decimal=".", thousands="'")
    assert to_number("1'234'567.5", "revenue", MISSING, swiss) == 1234567.5
    french = NumberFormat(decimal=",", thousands="\u202f")
    assert to_number("1\u202f234,5", "revenue", MISSING, french) == 1234.5
    with pytest.raises(CoercionError):  # the default reads no apostrophes
        to_number("1'234", "revenue", MISSING)


@pytest.mark.parametrize(("decimal", "thousands"), [(",", ","), (".", "."), (";", "."), (".", "x")])
def test_number_format_refuses_nonsense(decimal: str, thousands: str) -> None:
    with pytest.raises(ValueError):
        NumberFormat(decimal=decimal, thousands=thousands)


def test_a_sentinel_number_is_missing_however_it_comes() -> None:
    read = number_reader(missing_numbers={999.0})
    for value in ("999", " 999 ", "999.0", 999, 999.0, np.int64(999)):
        assert math.isnan(read(value, "pdays", MISSING)), value
    assert read("998", "pdays", MISSING) == 998.0
    assert read("9,990", "pdays", MISSING) == 9990.0


def test_a_number_matches_its_text_marker_as_a_category_or_boolean() -> None:
    """A marker "999" or "-1" also means missing when the value is sent as a number."""
    missing = MISSING | {"999", "-1"}
    assert to_category(999, "poutcome", missing) is None
    assert to_category(999.0, "poutcome", missing) is None
    assert to_category(998, "poutcome", missing) == "998"
    assert math.isnan(to_boolean(-1, "optout", missing))
    assert to_boolean(1, "optout", missing) == 1.0


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_to_number_reads_back_the_text_of_any_finite_float(x: float) -> None:
    assert to_number(str(x), "annualrevenue", MISSING) == x


@pytest.mark.parametrize(
    "value",
    [
        "true",
        "True",
        "TRUE",
        " yes ",
        "Yes",
        "y",
        "t",
        "1",
        "1.0",
        "on",
        "ON",
        True,
        1,
        1.0,
        np.bool_(True),
        np.int64(1),
    ],
)
def test_to_boolean_true(value: Any) -> None:
    assert to_boolean(value, "hs_email_optout", MISSING) == 1.0


@pytest.mark.parametrize(
    "value",
    [
        "false",
        "False",
        "FALSE",
        " no ",
        "No",
        "n",
        "f",
        "0",
        "0.0",
        "off",
        "Off",
        False,
        0,
        0.0,
        np.bool_(False),
        np.int64(0),
    ],
)
def test_to_boolean_false(value: Any) -> None:
    assert to_boolean(value, "hs_email_optout", MISSING) == 0.0


@pytest.mark.parametrize("value", ["maybe", "2", "yess", "-1", 2, 0.5])
def test_to_boolean_refuses(value: Any) -> None:
    with pytest.raises(CoercionError) as caught:
        to_boolean(value, "hs_email_optout", MISSING)
    assert (caught.value.column, caught.value.value) == ("hs_email_optout", value)
    assert str(caught.value).startswith(
        f"column 'hs_email_optout': cannot read {value!r} as a boolean"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3.0, "3"),
        (np.float64(3.0), "3"),
        (3, "3"),
        (np.int64(3), "3"),
        (2.5, "2.5"),
        ("  Computer Software ", "Computer Software"),
        ("Germany", "Germany"),
        ("3", "3"),
        (True, "true"),
        (False, "false"),
    ],
)
def test_to_category_reads(value: Any, expected: str) -> None:
    assert to_category(value, "industry", MISSING) == expected


@pytest.mark.parametrize("value", [{"name": "Retail"}, ["Retail", "Logistics"]])
def test_to_category_refuses_structures(value: Any) -> None:
    with pytest.raises(CoercionError) as caught:
        to_category(value, "industry", MISSING)
    assert str(caught.value) == (
        f"column 'industry': cannot read {value!r} as a single category value"
    )


@pytest.mark.parametrize(
    ("title", "level"),
    [
        ("CEO", "C-level or owner"),
        ("Co-Founder & CTO", "C-level or owner"),
        ("Chief Marketing Officer", "C-level or owner"),
        ("Geschäftsführer", "C-level or owner"),
        ("Owner", "C-level or owner"),
        ("VP Sales", "VP"),
        ("Vice President of Marketing", "VP"),
        ("SVP, Engineering", "VP"),
        ("Head of Marketing", "director or head"),
        ("Director of Operations", "director or head"),
        ("Leiterin Vertrieb", "director or head"),
        ("Marketing Manager", "manager"),
        ("Team Lead Support", "manager"),
        ("Analyst", "individual contributor"),
        ("Software Engineer", "individual contributor"),
        ("Leadership Coach", "individual contributor"),
        ("International Account Executive", "individual contributor"),
        ("Student", "student or intern"),
        ("Werkstudent", "student or intern"),
        ("Marketing Intern", "student or intern"),
        ("  ceo  ", "C-level or owner"),
        ("MARKETING MANAGER", "manager"),
    ],
)
def test_seniority_of_typical_titles(title: str, level: str) -> None:
    assert seniority(title, "jobtitle", MISSING) == level


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("gmail.com", "free mail"),
        ("a@gmail.com", "free mail"),
        (" Jane.Doe@GMAIL.com ", "free mail"),
        ("web.de", "free mail"),
        ("rediffmail.com", "free mail"),
        ("example-corp.com", "business"),
        ("jane@example-corp.com", "business"),
        ("mail.gmail.com", "business"),
        ("", None),
        ("Unknown", None),
        (None, None),
        ("localhost", None),
        ("jane@intranet", None),
    ],
)
def test_email_domain_type(value: Any, kind: str | None) -> None:
    assert email_domain_type(value, "hs_email_domain", MISSING) == kind


# Form names as HubSpot portals write them, English and German, and the kind each is.
EVENT_NAMES: list[tuple[str, str]] = [
    ("Demo request", "demo request"),
    ("Book a demo", "demo request"),
    ("Request a Demo", "demo request"),
    ("Product demonstration", "demo request"),
    ("Demo anfordern", "demo request"),
    ("Produktdemo vereinbaren", "demo request"),
    ("Vorführung anfragen", "demo request"),
    ("Contact sales", "contact sales"),
    ("Contact us", "contact sales"),
    ("Talk to sales", "contact sales"),
    ("Request a quote", "contact sales"),
    ("Sales inquiry", "contact sales"),
    ("Book a meeting", "contact sales"),
    ("Pricing request", "contact sales"),
    ("Call back", "contact sales"),
    ("Kontaktformular", "contact sales"),
    ("Rückruf anfordern", "contact sales"),
    ("Angebot anfordern", "contact sales"),
    ("Beratungstermin", "contact sales"),
    ("Termin vereinbaren", "contact sales"),
    ("Vertrieb kontaktieren", "contact sales"),
    ("Webinar: Lead Scoring in Practice", "webinar or event"),
    ("Event registration", "webinar or event"),
    ("Workshop signup", "webinar or event"),
    ("Webinar-Anmeldung", "webinar or event"),
    ("Konferenz 2025", "webinar or event"),
    ("Newsletter signup", "newsletter or blog"),
    ("Subscribe to our blog", "newsletter or blog"),
    ("Newsletter abonnieren", "newsletter or blog"),
    ("Free trial", "free trial"),
    ("Sign up", "free trial"),
    ("Free trial download", "free trial"),
    ("Kostenlose Testversion", "free trial"),
    ("Registrierung", "free trial"),
    ("E-Book: Lead Scoring Guide", "content download"),
    ("Checklist: HubSpot Lifecycle Stages", "content download"),
    ("Case study download", "content download"),
    ("Leitfaden herunterladen", "content download"),
    ("Fallstudie: Maschinenbau", "content download"),
    # a content form about sales is still a content form, in either language
    ("Whitepaper: Marketing-Sales Alignment", "content download"),
    ("Template: Sales Playbook", "content download"),
    ("Whitepaper: Vertrieb und Marketing", "content download"),
    ("Vorlage: Vertriebsplan", "content download"),
    ("E-Book: Angebotserstellung", "content download"),
    ("Leitfaden: Terminplanung im Vertrieb", "content download"),
    ("Studie: Beratung im Mittelstand", "content download"),
    ("Webinar: Vertriebsstrategien", "webinar or event"),
    ("Newsletter: Kontakt halten", "newsletter or blog"),
    ("Careers application", "other form"),
    ("Umfrage", "other form"),
    ("  DEMO REQUEST ", "demo request"),
    (3, "other form"),
]


@pytest.mark.parametrize(("name", "kind"), EVENT_NAMES, ids=[str(n) for n, _ in EVENT_NAMES])
def test_event_name(name: Any, kind: str) -> None:
    assert event_name(name, "recent_conversion_event_name", MISSING) == kind
    assert DERIVATIONS["event_name"] is event_name


def test_event_name_refuses_structures() -> None:
    with pytest.raises(CoercionError) as caught:
        event_name(["Demo request"], "recent_conversion_event_name", MISSING)
    assert caught.value.column == "recent_conversion_event_name"
