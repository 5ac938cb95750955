"""Phrasing: a feature's value in words a rep reads, from the dataset spec alone."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.build import OTHER, FeatureEncoder
from features.spec import DatasetSpec, FeatureSpec, FeatureType, parse_spec, resolve_spec
from features.timestamps import AsOf
from models.contract import direction_of
from models.phrasing import (
    NO_RAW,
    Phraser,
    fewer_word,
    format_number,
    is_enum_like,
    lead_value,
    negate,
    phrase,
    prettify_enum,
    sentence,
    typical_phrase,
)

NAN = math.nan

# What a rep must never read: encoder markers and Python/pandas spellings of "missing".
FORBIDDEN = re.compile(r"\bnan\b|\bNone\b|\(other\)|\bNaN\b|<NA>|\bnull\b", re.IGNORECASE)


def sentence_of(feature: Any, value: Any, state: Any, group: str, effect: float) -> str:
    return sentence(phrase(feature, value, state), direction_of(effect), group)


# --- sentences from the spec alone (X Education) --------------------------------------------


@pytest.fixture(scope="module")
def xed_spec() -> DatasetSpec:
    return resolve_spec("x-education")


def _feature(spec: DatasetSpec, name: str) -> Any:
    return next(f for f in spec.features if f.name == name)


@pytest.mark.parametrize(
    ("name", "value", "state", "expected"),
    [
        ("TotalVisits", 1, "present", "Website visits: 1 visit"),
        ("TotalVisits", 12, "present", "Website visits: 12 visits"),
        ("Total Time Spent on Website", 1532, "present", "Time on website: 1,532 seconds"),
        ("Page Views Per Visit", 2.5, "present", "Pages per visit: 2.5 pages"),
        ("Page Views Per Visit", None, "missing", "Pages per visit unknown"),
        ("Last Activity", "Email Opened", "present", "Last activity: Email Opened"),
        ("Last Activity", None, "missing", "Last activity unknown"),
        ("Country", "Atlantis", "other", "Country 'Atlantis' is rare or new to the model"),
        ("Country", OTHER, "other", "Country: a value rare or new to the model"),
        ("What is your current occupation", "Other", "present", "Occupation: Other"),
        (
            "A free copy of Mastering The Interview",
            "yes",
            "present",
            "Asked for the free interview guide",
        ),
        (
            "A free copy of Mastering The Interview",
            "no",
            "present",
            "Has not asked for the free interview guide",
        ),
        ("Do Not Email", "yes", "present", "Opted out of email"),
        ("Do Not Email", "no", "present", "Has not opted out of email"),
        ("Do Not Call", None, "missing", "Opted out of calls: unknown"),
        ("Search", "no", "present", "Has not seen a search ad"),
        ("Through Recommendations", "no", "present", "Has not come through a recommendation"),
    ],
)
def test_x_education_phrases(
    xed_spec: DatasetSpec, name: str, value: Any, state: Any, expected: str
) -> None:
    feature = _feature(xed_spec, name)
    assert phrase(feature, value, state) == expected
    group = "fit" if any(f.name == name for f in xed_spec.fit) else "interest"
    assert sentence_of(feature, value, state, group, -0.4) == f"{expected} — lowers {group}"
    assert sentence_of(feature, value, state, group, 2.0) == f"{expected} — raises {group}"


def test_every_x_education_feature_has_a_clean_phrase_in_every_state(xed_spec: DatasetSpec) -> None:
    samples = {
        FeatureType.numeric: 3.0,
        FeatureType.boolean: "no",
        FeatureType.categorical: "Mumbai",
    }
    for feature in xed_spec.features:
        states = [("present", samples[feature.type]), ("missing", None)]
        if feature.type is FeatureType.categorical:
            states += [("other", "Atlantis"), ("other", OTHER)]
        for state, value in states:
            text = sentence_of(feature, value, state, "fit", 1.0)
            assert not FORBIDDEN.search(text), text
            assert feature.readable.lower() in text.lower() or text.startswith("Has not ")


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Requested a demo", "Has not requested a demo"),
        ("Attended a webinar", "Has not attended a webinar"),
        ("Opted out of email", "Has not opted out of email"),
        ("Saw a search ad", "Has not seen a search ad"),
        ("Registered for the event", "Has not registered for the event"),
        ("Is a customer", "Is not a customer"),
        ("Has a phone number", "Does not have a phone number"),
        ("Interested in pricing", None),  # adjective, not an action
        ("Registered user", None),  # adjective + noun
        ("Newsletter subscriber", None),
        ("Need a demo", None),
        ("", None),
    ],
)
def test_negate(label: str, expected: str | None) -> None:
    assert negate(label) == expected


def test_boolean_labels_without_a_safe_negation_say_yes_or_no(xed_spec: DatasetSpec) -> None:
    feature = _feature(xed_spec, "Search").model_copy(update={"label": "Newsletter subscriber"})
    assert phrase(feature, "yes", "present") == "Newsletter subscriber: yes"
    assert phrase(feature, "no", "present") == "Newsletter subscriber: no"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1234567.0, "1,234,567"),
        (2.0, "2"),
        (23.7, "23.7"),
        (2.456, "2.46"),
        (0.004, "0.004"),
        (-3.0, "-3"),
        (1500.25, "1,500.25"),
        (0.0, "0"),
    ],
)
def test_format_number(value: float, expected: str) -> None:
    assert format_number(value) == expected


def test_format_number_refuses_nan() -> None:
    with pytest.raises(ValueError):
        format_number(float("nan"))


def test_enum_detection_and_prettifying() -> None:
    assert is_enum_like(["ORGANIC_SEARCH", "OFFLINE", "REFERRALS"])
    assert not is_enum_like(["USA", "UK"])  # no underscore: could be codes, left alone
    assert not is_enum_like(["ORGANIC_SEARCH", "Direct traffic"])
    assert not is_enum_like([])
    assert prettify_enum("OTHER_CAMPAIGNS") == "Other campaigns"
    assert prettify_enum("AI_REFERRALS") == "AI referrals"


# --- compared with the typical training lead (the encoder's reference values) ---------------

MOMENT = "2025-03-14T12:00:00Z"


@pytest.fixture(scope="module")
def typical_spec() -> DatasetSpec:
    """A number of each wording (a count, money, days), a yes/no and a CRM enum."""
    return parse_spec(
        {
            "name": "typical",
            "id": "lead_id",
            "time": {"column": "created"},
            "label": {"column": "won"},
            "fit": [
                {
                    "name": "employees",
                    "type": "numeric",
                    "label": "Company size",
                    "unit": "employees",
                },
                {"name": "revenue", "type": "numeric", "label": "Annual revenue", "unit": "USD"},
                {"name": "source", "type": "categorical", "label": "Original source"},
            ],
            "interest": [
                {"name": "visits", "type": "numeric", "label": "Website visits", "unit": "visits"},
                {
                    "name": "days_since_visit",
                    "column": "last_visit",
                    "derive": "days_since",
                    "type": "numeric",
                    "label": "Days since last visit",
                    "unit": "days",
                },
                {"name": "demo", "type": "boolean", "label": "Requested a demo"},
            ],
        }
    )


@pytest.fixture(scope="module")
def typical_encoder(typical_spec: DatasetSpec) -> FeatureEncoder:
    """Typical: 25-50 employees, 2,500,000.5 USD, ORGANIC_SEARCH, 3 visits, 4.2 days, no demo."""
    frame = pd.DataFrame(
        {
            "employees": ["1-5", "25-50", "25-50", "1000+", ""],
            "revenue": ["1000000", "2500000.5", "9000000", "", ""],
            "source": ["ORGANIC_SEARCH", "ORGANIC_SEARCH", "PAID_SOCIAL", "OFFLINE", ""],
            "visits": ["1", "3", "3", "12", "40"],
            "last_visit": [
                "2025-03-13T12:00:00Z",  # 1 day before the moment
                "2025-03-10T07:12:00Z",  # 4.2 days
                "2025-03-01T12:00:00Z",  # 13 days
                "",
                "",
            ],
            "demo": ["no", "no", "yes", "no", ""],
        }
    )
    return FeatureEncoder(typical_spec, min_category_count=1).fit(frame, AsOf.of(MOMENT))


def phrase_of(encoder: FeatureEncoder, name: str, encoded: float, raw: Any = None) -> str:
    feature = next(f for f in encoder.spec.features if f.name == name)
    record = None if raw is None else {feature.source: raw}
    return Phraser(encoder, feature).phrase_of(encoded, record, {})[1]


def test_the_encoder_keeps_the_typical_values(typical_encoder: FeatureEncoder) -> None:
    assert typical_encoder.reference_ == {
        "employees": "25-50",
        "revenue": 2500000.5,
        "source": "ORGANIC_SEARCH",
        "visits": 3.0,
        "days_since_visit": pytest.approx(4.2),
        "demo": False,
    }


@pytest.mark.parametrize(
    ("name", "encoded", "raw", "expected"),
    [
        # a count: "fewer", the typical value without its unit, as the issue words it
        ("visits", 1.0, None, "Website visits: 1 visit, fewer than the typical lead's 3"),
        ("visits", 12.0, None, "Website visits: 12 visits, more than the typical lead's 3"),
        ("visits", 3.0, None, "Website visits: 3 visits, like the typical lead"),
        ("visits", NAN, None, "Website visits unknown"),
        # a range keeps its text, and so does the typical value
        (
            "employees",
            3.0,
            "1-5",
            "Company size: 1-5 employees, fewer than the typical lead's 25-50",
        ),
        ("employees", 37.5, "25-50", "Company size: 25-50 employees, like the typical lead"),
        ("employees", 37.5, None, "Company size: 37.5 employees, like the typical lead"),
        # a number inside the typical range is like it; outside, beyond its ends
        ("employees", 40.0, "40", "Company size: 40 employees, like the typical lead"),
        ("employees", 25.0, None, "Company size: 25 employees, like the typical lead"),
        (
            "employees",
            20.0,
            None,
            "Company size: 20 employees, fewer than the typical lead's 25-50",
        ),
        ("employees", 60.0, None, "Company size: 60 employees, more than the typical lead's 25-50"),
        (
            "employees",
            1000.0,
            "1000+",
            "Company size: 1000+ employees, more than the typical lead's 25-50",
        ),
        # money is not counted: "less"; equal as a rep reads the numbers
        (
            "revenue",
            990.0,
            None,
            "Annual revenue: 990 USD, less than the typical lead's 2,500,000.5 USD",
        ),
        ("revenue", 2500000.501, None, "Annual revenue: 2,500,000.5 USD, like the typical lead"),
        # days as shown: tenths below ten days, so 4.24 days is the typical 4.2
        ("days_since_visit", 4.24, None, "Days since last visit: 4.2 days, like the typical lead"),
        (
            "days_since_visit",
            0.5,
            None,
            "Days since last visit: 0.5 days, fewer than the typical lead's 4.2",
        ),
        (
            "days_since_visit",
            30.4,
            None,
            "Days since last visit: 30 days, more than the typical lead's 4.2",
        ),
        # a yes/no: only the usual answer says so
        ("demo", 0.0, None, "Has not requested a demo, like most leads"),
        ("demo", 1.0, None, "Requested a demo"),
        ("demo", NAN, None, "Requested a demo: unknown"),
        # a category: only the most common one says so
        ("source", 1.0, None, "Original source: Organic search, like the typical lead"),
        ("source", 2.0, None, "Original source: Paid social"),
        (
            "source",
            3.0,
            "CARRIER_PIGEON",
            "Original source 'CARRIER_PIGEON' is rare or new to the model",
        ),
    ],
)
def test_a_value_is_compared_with_the_typical_leads(
    typical_encoder: FeatureEncoder, name: str, encoded: float, raw: Any, expected: str
) -> None:
    assert phrase_of(typical_encoder, name, encoded, raw) == expected


def test_a_bundle_without_typical_values_phrases_as_before(
    typical_spec: DatasetSpec, typical_encoder: FeatureEncoder
) -> None:
    old = FeatureEncoder.from_dict(
        typical_spec, {k: v for k, v in typical_encoder.to_dict().items() if k != "reference"}
    )
    for name, encoded, raw in [
        ("visits", 1.0, None),
        ("employees", 3.0, "1-5"),
        ("days_since_visit", 4.24, None),
        ("demo", 0.0, None),
        ("source", 1.0, None),
    ]:
        feature = next(f for f in typical_spec.features if f.name == name)
        value, state = lead_value(old, feature, encoded, NO_RAW if raw is None else raw)
        bare = phrase(feature, value, state, name == "source")
        assert phrase_of(old, name, encoded, raw) == bare
        assert phrase_of(typical_encoder, name, encoded, raw).startswith(bare + ", ")


def test_batch_phrases_equal_one_leads(typical_encoder: FeatureEncoder) -> None:
    """`Phraser.phrases` (the batch renderer's, per distinct value) says what `phrase_of` says."""
    values: dict[str, list[Any]] = {
        "visits": ["1", "3", "3", "12", "", "3.0", "2.5", 7],
        "employees": ["1-5", "25-50", "25-50", "37.5", "1000+", "", "3", " 25-50 "],
        "revenue": ["990", "2500000.5", "2500000.501", "", "1e7", "5", "1-9", "2,500,000.5"],
        "source": [
            "ORGANIC_SEARCH",
            "PAID_SOCIAL",
            "CARRIER_PIGEON",
            "",
            "OFFLINE",
            "ORGANIC_SEARCH",
            "x",
            "y",
        ],
        "demo": ["no", "yes", "", "no", "true", "0", "1", "no"],
    }
    frame = pd.DataFrame({**values, "last_visit": [""] * 8})
    for name, raw in values.items():
        feature = next(f for f in typical_encoder.spec.features if f.name == name)
        phraser = Phraser(typical_encoder, feature)
        column = typical_encoder.transform_records(
            [{feature.source: v} for v in raw], AsOf.of(MOMENT)
        )[:, phraser.column]
        rows = np.arange(len(raw))
        inverse, table = phraser.phrases(column, frame[feature.source], rows)
        batch = [table[i] for i in inverse]
        one = [
            phraser.phrase_of(float(e), {feature.source: v}, {})[1]
            for e, v in zip(column, raw, strict=True)
        ]
        assert batch == one, name
    days = Phraser(typical_encoder, typical_encoder.spec.features[4])
    encoded = np.array([4.24, 0.5, 30.4, NAN, 4.2])
    inverse, table = days.phrases(encoded, None, np.arange(5))
    assert [table[i] for i in inverse] == [days.phrase_of(float(e), None, {})[1] for e in encoded]


def test_typical_phrase_describes_a_feature(typical_encoder: FeatureEncoder) -> None:
    phrases = {f.name: typical_phrase(typical_encoder, f) for f in typical_encoder.spec.features}
    assert phrases == {
        "employees": "Company size: 25-50 employees",
        "revenue": "Annual revenue: 2,500,000.5 USD",
        "source": "Original source: Organic search",
        "visits": "Website visits: 3 visits",
        "days_since_visit": "Days since last visit: 4.2 days",
        "demo": "Has not requested a demo",
    }


@pytest.mark.parametrize(
    ("unit", "word"),
    [
        ("visits", "fewer"),
        ("employees", "fewer"),
        ("USD", "less"),
        (None, "less"),
        ("class", "less"),
    ],
)
def test_fewer_for_counted_units_less_for_the_rest(unit: str | None, word: str) -> None:
    feature = FeatureSpec(name="x", type=FeatureType.numeric, unit=unit)
    assert fewer_word(feature) == word


def test_an_open_ended_typical_range(
    typical_spec: DatasetSpec, typical_encoder: FeatureEncoder
) -> None:
    saved = typical_encoder.to_dict()
    encoder = FeatureEncoder.from_dict(
        typical_spec, {**saved, "reference": {**saved["reference"], "employees": "1000+"}}
    )
    assert phrase_of(encoder, "employees", 5000.0) == (
        "Company size: 5,000 employees, like the typical lead"
    )
    assert phrase_of(encoder, "employees", 300.0, "100-500") == (
        "Company size: 100-500 employees, fewer than the typical lead's 1000+"
    )
