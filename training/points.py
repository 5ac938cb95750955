"""A points-rule baseline: the hand-made lead score a CRM admin builds in HubSpot or Marketo.

A YAML file lists rules; each rule tests one raw column and adds its points (negative
points subtract) to every lead it matches. Several rules may test the same column, so
bands ("+5 from 1 pricing page view, +5 more from 3") are several rules:

```yaml
rules:
  - {column: demo_requested, equals: true, points: 10}
  - {column: pricing_page_views, min: 1, points: 5}
  - {column: pricing_page_views, min: 3, points: 5}
  - {column: jobtitle, contains: [vp, director, head], points: 8}
  - {column: hs_email_domain, in: [gmail.com, yahoo.com], points: -10}
  - {column: numemployees, present: false, points: -3}
```

Tests (exactly one per rule; `min` and `max` together make a band):
`equals` (one value, case-insensitive; `true`/`false` read as booleans), `in` (a list of
values; an email address also matches by its domain), `min` / `max` (numbers, HubSpot
ranges such as ``100-500`` read as their midpoint), `present` (true: the column has a
value; false: it is empty), `contains` (a word or phrase, or a list of them, found in
the text at word boundaries, case-insensitive: ``vp`` matches "VP Sales", not "MVP"),
and on a timestamp `within_days` / `older_than_days` (at most / more than that many days
before the moment of scoring: HubSpot's score "timeframe").
A missing value matches no test except `present: false`.

The points themselves rank leads. To compare the rule's Brier score and calibration
with a model, `PointsBaseline` maps points to a probability with an isotonic (monotone)
regression fitted on older leads; the ranking is left as it is.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sklearn.isotonic import IsotonicRegression

from features.build import check_columns
from features.coerce import is_missing, to_boolean, to_category, to_number
from features.errors import LeadscoreError
from features.spec import DEFAULT_MISSING_VALUES
from features.timestamps import AsOf, days_since, now, read_timestamps
from features.yaml_files import read_yaml, validate_mapping

_TESTS = ("equals", "in_", "min", "max", "present", "contains", "within_days", "older_than_days")


class PointsRule(BaseModel):
    """One rule: when `column` passes the test, the lead gets `points`."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    column: str = Field(min_length=1)
    points: float
    name: str | None = Field(default=None, description="a readable label for the rule")
    equals: str | float | bool | None = None
    in_: list[str | float] | None = Field(default=None, alias="in", min_length=1)
    min: float | None = None
    max: float | None = None
    present: bool | None = None
    contains: str | list[str] | None = None
    within_days: float | None = Field(default=None, gt=0)
    older_than_days: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_test(self) -> PointsRule:
        tests = [t.rstrip("_") for t in _TESTS if getattr(self, t) is not None]
        if not tests:
            raise ValueError(
                "give a test: equals, in, min, max, present, contains, within_days or "
                "older_than_days"
            )
        if len(tests) > 1 and set(tests) != {"min", "max"}:
            raise ValueError(f"one test per rule (found {', '.join(tests)}); use two rules")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is above max ({self.max:g})")
        if isinstance(self.contains, list) and not self.contains:
            raise ValueError("contains needs at least one word or phrase")
        return self

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        test = next(t for t in _TESTS if getattr(self, t) is not None)
        return f"{self.column} {test.rstrip('_')} {getattr(self, test)!r}"

    def matches(
        self, values: pd.Series, missing: Collection[str], as_of: np.ndarray | None = None
    ) -> np.ndarray:
        """Whether each raw value passes the test (each distinct value is read once).

        `as_of`: each row's moment (ns), for `within_days` / `older_than_days`."""
        if self.within_days is not None or self.older_than_days is not None:
            moments = as_of if as_of is not None else np.full(len(values), now())
            days = days_since(
                read_timestamps(values, self.column, missing), AsOf(moments), self.column
            )
            if self.within_days is not None:
                return np.asarray(days <= self.within_days)  # NaN (missing) is False
            return np.asarray(days > float(self.older_than_days or 0.0))
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        on_unique = np.array([self._matches_one(v, missing) for v in uniques], dtype=bool)
        out = np.full(len(values), self.present is False)  # -1: pandas' missing value
        present = codes >= 0
        out[present] = on_unique[codes[present]]
        return out

    def _matches_one(self, value: Any, missing: Collection[str]) -> bool:
        if is_missing(value, missing):
            return self.present is False
        if self.present is not None:
            return self.present
        if self.min is not None or self.max is not None:
            number = to_number(value, self.column, missing)
            return (self.min is None or number >= self.min) and (
                self.max is None or number <= self.max
            )
        if isinstance(self.equals, bool):
            return to_boolean(value, self.column, missing) == float(self.equals)
        text = (to_category(value, self.column, missing) or "").lower()
        if self.equals is not None:
            return text == _as_text(self.equals)
        if self.in_ is not None:
            listed = {_as_text(v) for v in self.in_}
            return text in listed or text.rsplit("@", 1)[-1] in listed
        assert self.contains is not None
        return bool(_contains_pattern(self.contains).search(text))


class PointsRules(BaseModel):
    """A points score: a list of rules whose points add up."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "points rule"
    description: str = ""
    rules: list[PointsRule] = Field(min_length=1)

    @property
    def columns(self) -> list[str]:
        return list(dict.fromkeys(rule.column for rule in self.rules))

    def check(self, frame: pd.DataFrame, what: str = "points rules") -> None:
        """Every column a rule names must be in the data."""
        absent = [c for c in self.columns if c not in frame.columns]
        if absent:
            raise LeadscoreError(
                f"{what} name column(s) not in the data: {', '.join(map(repr, absent))}"
            )

    def score(
        self,
        frame: pd.DataFrame,
        missing: Collection[str] = frozenset(DEFAULT_MISSING_VALUES),
        as_of: np.ndarray | None = None,
    ) -> np.ndarray:
        """The points of every row: the sum of the points of the rules it matches, as of
        each row's moment (`as_of`, ns; default now)."""
        check_columns(frame, self.columns, "data (for the points rules)")
        total = np.zeros(len(frame), dtype=np.float64)
        for rule in self.rules:
            total += rule.points * rule.matches(frame[rule.column], missing, as_of)
        return total


def parse_points(data: Any, source: str = "<points rules>") -> PointsRules:
    """Validate a mapping as points rules; errors name the key (e.g. `rules.2.pionts`)."""
    return validate_mapping(PointsRules, data, f"points rules {source}")


def load_points(path: str | Path) -> PointsRules:
    """Read and validate a points-rules YAML file."""
    return parse_points(read_yaml(path, "points rules file"), str(path))


def default_points_path() -> Path:
    """The demo's points rules (`configs/points-hubspot.yaml` in the repository)."""
    return Path(__file__).resolve().parents[1] / "configs" / "points-hubspot.yaml"


class PointsBaseline:
    """Points as a probability: isotonic regression of the outcome on the points.

    Behaves like a scikit-learn estimator on raw frames: `fit(frame, y)` learns the
    monotone map on older leads, `predict_proba(frame)` applies it. The map never
    reverses the rule's order; it only says what a number of points has meant.
    """

    def __init__(
        self, rules: PointsRules, missing: Collection[str] = frozenset(DEFAULT_MISSING_VALUES)
    ) -> None:
        self.rules = rules
        self.missing = missing

    def points(self, frame: pd.DataFrame, as_of: np.ndarray | None = None) -> np.ndarray:
        return self.rules.score(frame, self.missing, as_of)

    def fit(
        self, frame: pd.DataFrame, y: np.ndarray, as_of: np.ndarray | None = None
    ) -> PointsBaseline:
        y = np.asarray(y, dtype=np.float64)
        if len(y) != len(frame):
            raise ValueError(f"{len(frame)} rows but {len(y)} labels")
        self.isotonic_ = IsotonicRegression(
            y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip"
        ).fit(self.points(frame, as_of), y)
        return self

    def probability(self, points: np.ndarray) -> np.ndarray:
        return np.asarray(
            self.isotonic_.predict(np.asarray(points, dtype=np.float64)), dtype=np.float64
        )

    def predict_proba(self, frame: pd.DataFrame, as_of: np.ndarray | None = None) -> np.ndarray:
        p = self.probability(self.points(frame, as_of))
        return np.column_stack([1.0 - p, p])


def _as_text(value: str | float | bool) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip().lower()


_PATTERNS: dict[tuple[str, ...], re.Pattern[str]] = {}


def _contains_pattern(words: str | list[str]) -> re.Pattern[str]:
    key = (words,) if isinstance(words, str) else tuple(words)
    if key not in _PATTERNS:
        alternatives = "|".join(re.escape(w.strip().lower()) for w in key)
        _PATTERNS[key] = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")
    return _PATTERNS[key]
