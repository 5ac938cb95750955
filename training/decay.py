"""How fast interest decays, learned from the conversions, next to HubSpot's fixed decay.

HubSpot's lead scores let points decay by a fixed share per period (e.g. 25 % a month)
for every kind of event alike. With an event log and window features, the model learns
the decay per kind from the data instead. This module reads it back: for each test
example, one more event of a kind is added at a given age (its window counts, the days
since the last one and the rolled-up properties of that kind change as they would; the
lead's age, the days since its first activity, is held fixed), and the mean change of
the interest score is that age's effect. `support` says how many examples had such an
event: the model can only have learned the decay at ages its examples reach.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np

from features.spec import DatasetSpec, Derivation, window_feature
from models.scorer import LeadScorer

# HubSpot's decay setting the comparison uses: this share of the points every period.
HUBSPOT_DECAY_PERCENT = 25.0
HUBSPOT_DECAY_DAYS = 30.0


def hubspot_weight(age_days: float) -> float:
    """The share of an event's points HubSpot's decay leaves after `age_days`."""
    periods = np.floor(age_days / HUBSPOT_DECAY_DAYS)
    return float(max(0.0, 1.0 - HUBSPOT_DECAY_PERCENT / 100.0 * periods))


def age_buckets(windows: list[int]) -> list[tuple[str, float]]:
    """(label, a representative age in days) per bucket the windows cut: 0–7, 7–30, …, 90+."""
    edges = [0, *sorted(windows)]
    buckets = [(f"{low}–{high} days", (low + high) / 2.0) for low, high in pairwise(edges)]
    return [*buckets, (f"{edges[-1]}+ days", 2.0 * edges[-1])]


def learned_decay(scorer: LeadScorer, matrix: np.ndarray) -> dict[str, Any] | None:
    """Per windowed kind and age bucket: the mean effect on the interest score (points)
    of one more event of that age, and that effect as a share of the newest bucket's,
    beside HubSpot's weight for the same age. None without window features."""
    spec = scorer.spec
    events = spec.events
    if events is None or not events.windowed_kinds or len(matrix) == 0:
        return None
    model = scorer.models["interest"]
    base = model.probability(matrix)
    buckets = age_buckets(events.windows)
    kinds: dict[str, Any] = {}
    for kind in events.windowed_kinds:
        effects = [
            float(np.mean(model.probability(_with_one_more(spec, kind, age, matrix)) - base))
            * 100.0
            for _, age in buckets
        ]
        newest = effects[0]
        kinds[kind] = [
            {
                "age": label,
                "age_days": age,
                "effect": effect,
                "share_of_newest": effect / newest if abs(newest) > 1e-9 else None,
                "hubspot_share": hubspot_weight(age),
                "support": support,
            }
            for (label, age), effect, support in zip(
                buckets, effects, _support(spec, kind, matrix), strict=True
            )
        ]
    return {
        "kinds": kinds,
        "hubspot": f"{HUBSPOT_DECAY_PERCENT:g} % of the points every {HUBSPOT_DECAY_DAYS:g} days",
        "rows": len(matrix),
    }


def _with_one_more(spec: DatasetSpec, kind: str, age: float, matrix: np.ndarray) -> np.ndarray:
    """The encoded rows with one more event of `kind`, `age` days before the moment."""
    assert spec.events is not None
    names = [f.name for f in spec.features]
    out = matrix.copy()

    def column(name: str) -> np.ndarray | None:
        return out[:, names.index(name)] if name in names else None

    def newer(values: np.ndarray) -> None:  # days since the last one
        values[:] = np.where(np.isnan(values), age, np.minimum(values, age))

    def older(values: np.ndarray) -> None:  # days since the first one
        values[:] = np.where(np.isnan(values), age, np.maximum(values, age))

    for days in events_windows(spec):
        counts = column(window_feature(kind, days))
        if counts is not None and age < days:
            counts += 1.0
    last = column(f"days_since_last_{kind}")
    if last is not None:
        newer(last)
    rollups = spec.events.properties
    for j, feature in enumerate(spec.features):
        rollup = rollups.get(feature.source)
        if rollup is None or rollup.kind != kind:
            continue
        if rollup.how == "count" and feature.derive is None:
            out[:, j] += 1.0
        elif feature.derive is Derivation.days_since and rollup.how == "last":
            newer(out[:, j])
        elif feature.derive is Derivation.days_since and rollup.how == "first":
            older(out[:, j])
    return out


def _support(spec: DatasetSpec, kind: str, matrix: np.ndarray) -> list[float | None]:
    """Per age bucket, the share of rows with an event of `kind` that old (None for the
    oldest bucket: the windows do not reach it)."""
    names = [f.name for f in spec.features]
    counts = [matrix[:, names.index(window_feature(kind, days))] for days in events_windows(spec)]
    shares: list[float | None] = [float(np.mean(counts[0] > 0))]
    shares += [float(np.mean(new > old)) for old, new in pairwise(counts)]
    return [*shares, None]


def events_windows(spec: DatasetSpec) -> list[int]:
    return sorted(spec.events.windows) if spec.events is not None else []
