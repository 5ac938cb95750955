"""The points-rule baseline: rules add up as written; mistakes name the key or column."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from features.errors import LeadscoreError
from training.points import (
    PointsBaseline,
    default_points_path,
    load_points,
    parse_points,
)


def rules(*items: dict[str, Any]) -> dict[str, Any]:
    return {"rules": list(items)}


LEADS = pd.DataFrame(
    {
        "demo_requested": ["true", "false", "yes", "", "TRUE"],
        "pricing_page_views": ["0", "2", "7", "", "3"],
        "numemployees": ["1-5", "100-500", "1000+", "", "Unknown"],
        "hs_email_domain": ["gmail.com", "jane@GMAIL.com", "example-acme.com", "", "web.de"],
        "jobtitle": ["VP Marketing", "MVP of fun", "Head of Growth", "", "Marketing Intern"],
        "country": ["Germany", "germany ", "India", "Select", "France"],
    }
)


def test_points_add_up_rule_by_rule_on_an_inline_frame() -> None:
    points = parse_points(
        rules(
            {"column": "demo_requested", "equals": True, "points": 10},
            {"column": "pricing_page_views", "min": 1, "points": 5},
            {"column": "pricing_page_views", "min": 3, "points": 5},
            {"column": "numemployees", "min": 50, "max": 500, "points": 4},  # a band
            {"column": "numemployees", "present": False, "points": -2},
            {"column": "hs_email_domain", "in": ["gmail.com", "web.de"], "points": -10},
            {"column": "jobtitle", "contains": ["vp", "head"], "points": 8},
            {"column": "jobtitle", "contains": "intern", "points": -10},
            {"column": "country", "equals": "Germany", "points": 3},
        )
    )
    expected = [
        10 + 0 + 0 - 10 + 8 + 3,  # demo, 0 views, 1-5 (3) outside the band, gmail, VP
        0 + 5 + 4 - 10 + 0 + 3,  # 2 views, 100-500 (300) in the band, an address's domain
        10 + 5 + 5 + 0 + 8 + 0,  # 7 views, 1000+ (1000) above the band; "head"
        -2,  # everything missing: only `present: false` matches
        10 + 5 + 5 - 2 - 10 - 10 + 0,  # "Unknown" is missing in the spec's sense; intern
    ]
    missing = frozenset({"", "Unknown", "Select"})
    np.testing.assert_array_equal(points.score(LEADS, missing), expected)
    assert points.columns == [
        "demo_requested",
        "pricing_page_views",
        "numemployees",
        "hs_email_domain",
        "jobtitle",
        "country",
    ]


def test_contains_matches_words_not_parts_of_words() -> None:
    points = parse_points(rules({"column": "t", "contains": ["vp", "co-founder"], "points": 1}))
    frame = pd.DataFrame(
        {"t": ["VP Sales", "MVP", "svp", "Co-Founder & CEO", "cofounder", "the vp."]}
    )
    np.testing.assert_array_equal(points.score(frame), [1, 0, 0, 1, 0, 1])


def test_numbers_from_parquet_and_text_from_csv_score_the_same() -> None:
    points = parse_points(
        rules({"column": "n", "min": 3, "points": 2}, {"column": "n", "equals": 5, "points": 1})
    )
    as_text = pd.DataFrame({"n": ["1", "3", "5", "5.0", ""]})
    as_numbers = pd.DataFrame({"n": [1.0, 3.0, 5.0, 5.0, np.nan]})
    np.testing.assert_array_equal(points.score(as_text), [0, 2, 3, 3, 0])
    np.testing.assert_array_equal(points.score(as_numbers), [0, 2, 3, 3, 0])


@pytest.mark.parametrize(
    ("data", "names"),
    [
        (rules({"column": "x", "equals": "a", "pionts": 3}), ["rules.0.pionts", "rules.0.points"]),
        (
            rules(
                {"column": "x", "equals": "a", "points": 1},
                {"column": "y", "equalz": "b", "points": 1},
            ),
            ["rules.1.equalz"],
        ),
        ({"rules": [], "title": "x"}, ["title", "rules"]),
        (rules({"column": "x", "points": 1}), ["rules.0", "give a test"]),
        (
            rules({"column": "x", "equals": "a", "min": 1, "points": 1}),
            ["rules.0", "one test per rule", "equals, min"],
        ),
        (rules({"column": "x", "min": 5, "max": 1, "points": 1}), ["rules.0", "min (5)"]),
        (rules({"column": "x", "in": [], "points": 1}), ["rules.0.in"]),
        (rules({"column": "x", "equals": "a", "points": "many"}), ["rules.0.points"]),
        ([{"column": "x"}], ["expected a mapping"]),
    ],
)
def test_rule_mistakes_name_the_key(data: Any, names: list[str]) -> None:
    with pytest.raises(LeadscoreError) as caught:
        parse_points(data, "my-points.yaml")
    message = str(caught.value)
    assert "my-points.yaml" in message
    for name in names:
        assert name in message, message


def test_a_rule_on_an_unknown_column_names_it() -> None:
    points = parse_points(
        rules(
            {"column": "country", "equals": "Germany", "points": 1},
            {"column": "favourite_colour", "equals": "red", "points": 1},
        )
    )
    with pytest.raises(LeadscoreError, match="'favourite_colour'") as caught:
        points.check(LEADS, "points rules p.yaml")
    assert "'country'" not in str(caught.value)
    with pytest.raises(LeadscoreError, match="'favourite_colour'"):
        points.score(LEADS)


def test_a_value_a_rule_cannot_read_names_the_column() -> None:
    points = parse_points(rules({"column": "country", "min": 3, "points": 1}))
    with pytest.raises(LeadscoreError, match="'country'"):
        points.score(LEADS)


def test_files_missing_or_not_yaml_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(LeadscoreError, match="not found"):
        load_points(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [\n")
    with pytest.raises(LeadscoreError, match="not valid YAML"):
        load_points(bad)


def test_points_become_a_monotone_probability_fitted_on_older_leads() -> None:
    rng = np.random.default_rng(0)
    views = rng.integers(0, 8, 3000)
    y = (rng.random(3000) < 0.05 + 0.1 * views).astype(int)
    frame = pd.DataFrame({"v": views.astype(str)})
    points = parse_points(
        rules({"column": "v", "min": 2, "points": 5}, {"column": "v", "min": 5, "points": 5})
    )
    baseline = PointsBaseline(points).fit(frame, y)
    p = baseline.predict_proba(frame)[:, 1]
    assert p.shape == (3000,) and p.min() >= 0 and p.max() <= 1
    for level in (0, 5, 10):  # one probability per level: the observed rate there
        at = baseline.points(frame) == level
        assert p[at] == pytest.approx(np.full(at.sum(), y[at].mean()))
    assert np.all(np.diff(baseline.probability(np.array([-5.0, 0, 5, 10, 20]))) >= 0)


def test_the_default_rules_fit_the_demo_data(small_leads: pd.DataFrame) -> None:
    points = load_points(default_points_path())
    points.check(small_leads)
    score = points.score(small_leads)
    y = small_leads["converted"].astype(int)
    # a sensible hand-made score: clearly better than chance, short of the truth
    auc = roc_auc_score(y, score)
    truth = roc_auc_score(y, small_leads["_true_probability"].astype(float))
    assert 0.7 < auc < truth
