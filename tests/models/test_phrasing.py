"""Phrasing: a feature's value in words a rep reads, from the dataset spec alone."""

from __future__ import annotations

import re
from typing import Any

import pytest

from features.build import OTHER
from features.spec import DatasetSpec, FeatureType, resolve_spec
from models.contract import direction_of
from models.phrasing import (
    format_number,
    is_enum_like,
    negate,
    phrase,
    prettify_enum,
    sentence,
)

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
