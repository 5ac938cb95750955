"""Monitoring a model in production: has the world its leads come from moved since training?

`leadscore monitor` compares what production scored with what the model learned from:

- **Feature drift**: the population stability index (PSI) of each feature between the
  training rows (a profile kept in the model at training time: decile bins of each
  number, the share of each category, the share missing) and the scored leads. The usual
  reading: below 0.1 stable, 0.1 to 0.25 a moderate shift, 0.25 and above a major shift.
- **Score drift**: the PSI of the probability against the model's own test slice.
- **Volumes**: MQL and SQL recommendations per week of creation against what the
  thresholds promised on the test slice (per week and share).
- **Live calibration**: for scored leads whose outcome is now known (a current CRM
  export), the realised conversion per score band against the predicted probability.

Retraining is advised (exit code 1) when a feature or the score shifts majorly (PSI ≥
0.25) or live calibration is off by more than `MAX_LIVE_ECE`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from features.spec import DatasetSpec, FeatureType
from features.timestamps import NS_PER_DAY

PSI_MODERATE = 0.1
PSI_MAJOR = 0.25
# Live expected calibration error above which retraining is advised (with enough outcomes).
MAX_LIVE_ECE = 0.1
MIN_OUTCOMES = 200
BINS = 10
# An age of point-in-time examples gets a profile of its own from this many rows.
MIN_PROFILE_ROWS = 50
# Shares are floored at this before the PSI's logarithm (an empty bin is not infinite drift).
FLOOR = 1e-4


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two share vectors over the same bins."""
    e = np.maximum(np.asarray(expected, dtype=np.float64), FLOOR)
    a = np.maximum(np.asarray(actual, dtype=np.float64), FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_reading(value: float) -> str:
    if value >= PSI_MAJOR:
        return "major shift"
    if value >= PSI_MODERATE:
        return "moderate shift"
    return "stable"


def numeric_bins(values: np.ndarray) -> list[float]:
    """Inner decile edges of the present values (unique; none for a constant column)."""
    present = values[~np.isnan(values)]
    if len(present) == 0:
        return []
    edges = np.quantile(present, np.linspace(0, 1, BINS + 1)[1:-1])
    return [float(e) for e in np.unique(edges)]


def shares(values: np.ndarray, entry: dict[str, Any]) -> np.ndarray:
    """The share of rows in each bin of a profile entry; the last bin is "missing"."""
    values = np.asarray(values, dtype=np.float64)
    missing = np.isnan(values)
    if entry["type"] == "categorical":
        size = int(entry["codes"])
        codes = np.clip(values[~missing], 0, size - 1).astype(np.int64)
        counts = np.bincount(codes, minlength=size).astype(np.float64)
    else:
        positions = np.searchsorted(np.asarray(entry["edges"]), values[~missing], side="right")
        counts = np.bincount(positions, minlength=len(entry["edges"]) + 1).astype(np.float64)
    counts = np.append(counts, float(missing.sum()))
    return counts / max(len(values), 1)


def reference_profile(
    x: np.ndarray, spec: DatasetSpec, code_counts: dict[str, int], probability: np.ndarray
) -> dict[str, Any]:
    """What production is compared with: per feature the bins and shares of the rows the
    model learned from (`x`, encoded), and the bins and shares of the test slice's
    probabilities. `code_counts`: per categorical feature its number of codes (the
    encoder's categories plus "other")."""
    features: dict[str, Any] = {}
    for j, feature in enumerate(spec.features):
        column = x[:, j]
        if feature.type is FeatureType.categorical:
            entry: dict[str, Any] = {"type": "categorical", "codes": code_counts[feature.name]}
        else:
            entry = {"type": "numeric", "edges": numeric_bins(column)}
        entry["shares"] = shares(column, entry).tolist()
        features[feature.name] = entry
    score: dict[str, Any] = {"type": "numeric", "edges": numeric_bins(probability)}
    score["shares"] = shares(probability, score).tolist()
    return {"rows": len(x), "features": features, "probability": score}


def age_profiles(
    x: np.ndarray,
    ages: np.ndarray | None,
    probability: np.ndarray,
    probability_ages: np.ndarray | None,
    spec: DatasetSpec,
    code_counts: dict[str, int],
) -> dict[str, Any]:
    """The reference kept in a model: one profile of every row, or for point-in-time
    examples one per age (days after creation, e.g. 0, 7, 30), since a lead's "days since"
    and window features depend on its age as much as on the world. `x`/`ages`: the rows the
    model learned from; `probability`/`probability_ages`: the test slice's."""
    if ages is None or probability_ages is None:
        return {"all": reference_profile(x, spec, code_counts, probability)}
    by_age = {}
    for age in np.unique(ages):
        rows, tested = ages == age, probability_ages == age
        if rows.sum() >= MIN_PROFILE_ROWS and tested.sum() >= MIN_PROFILE_ROWS:
            by_age[f"{age:g}"] = reference_profile(x[rows], spec, code_counts, probability[tested])
    return {"by_age": by_age}


def example_ages(moments: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Whole days from each lead's creation to the moment of its example."""
    return np.round((moments - times).astype(np.float64) / NS_PER_DAY)


def combine(per_age: list[tuple[int, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """Feature drift of several ages as one row per feature: the PSI averaged over the ages
    weighted by their leads, with each age's own PSI kept."""
    total = sum(count for count, _ in per_age) or 1
    out: dict[str, dict[str, Any]] = {}
    for count, rows in per_age:
        for row in rows:
            entry = out.setdefault(row["feature"], {**row, "psi": 0.0, "by_age": {}})
            entry["psi"] += row["psi"] * count / total
            entry["by_age"][row["age"]] = row["psi"]
    for entry in out.values():
        entry["reading"] = psi_reading(entry["psi"])
        entry.pop("age", None)
    return sorted(out.values(), key=lambda row: -row["psi"])


def feature_drift(
    x: np.ndarray, spec: DatasetSpec, profile: dict[str, Any]
) -> list[dict[str, Any]]:
    """PSI of every feature of the scored leads against the training profile, worst first."""
    out = []
    for j, feature in enumerate(spec.features):
        entry = profile["features"].get(feature.name)
        if entry is None:
            continue
        actual = shares(x[:, j], entry)
        value = psi(np.asarray(entry["shares"]), actual)
        out.append(
            {
                "feature": feature.name,
                "column": feature.source,
                "label": feature.readable,
                "psi": value,
                "reading": psi_reading(value),
                "missing_share_training": float(entry["shares"][-1]),
                "missing_share_now": float(actual[-1]),
            }
        )
    return sorted(out, key=lambda row: -row["psi"])


def score_drift(probability: np.ndarray, profile: dict[str, Any]) -> dict[str, Any]:
    entry = profile["probability"]
    value = psi(np.asarray(entry["shares"]), shares(probability, entry))
    return {
        "psi": value,
        "reading": psi_reading(value),
        "mean_now": float(np.mean(probability)) if len(probability) else None,
    }


def weekly_volumes(
    stages: np.ndarray, weeks: np.ndarray, promised: dict[str, Any]
) -> dict[str, Any]:
    """Recommended MQLs and SQLs per week of creation against the thresholds' promise."""
    out: dict[str, Any] = {"weeks": [], "promised": {}}
    for name, stage in (("SQL", "salesqualifiedlead"), ("MQL", "marketingqualifiedlead")):
        entry = promised.get(name) or {}
        out["promised"][name] = {
            "per_week": entry.get("per_week"),
            "share": entry.get("share"),
            "share_now": float(np.mean(stages == stage)) if len(stages) else None,
        }
    for week in sorted(set(weeks.tolist())):
        mask = weeks == week
        out["weeks"].append(
            {
                "week": str(week),
                "leads": int(mask.sum()),
                "SQL": int(np.sum(stages[mask] == "salesqualifiedlead")),
                "MQL": int(np.sum(stages[mask] == "marketingqualifiedlead")),
            }
        )
    return out


def live_calibration(y: np.ndarray, probability: np.ndarray) -> dict[str, Any]:
    """Realised conversion per band of predicted probability (deciles), and the ECE."""
    if len(y) == 0:
        return {"outcomes": 0, "bands": [], "ece": None}
    edges = np.unique(np.quantile(probability, np.linspace(0, 1, BINS + 1)[1:-1]))
    band = np.searchsorted(edges, probability, side="right")
    bands = []
    ece = 0.0
    for b in range(len(edges) + 1):
        mask = band == b
        if not mask.any():
            continue
        predicted, realised = float(probability[mask].mean()), float(y[mask].mean())
        ece += mask.mean() * abs(predicted - realised)
        bands.append(
            {
                "from": float(probability[mask].min()),
                "to": float(probability[mask].max()),
                "leads": int(mask.sum()),
                "predicted": predicted,
                "realised": realised,
            }
        )
    return {"outcomes": len(y), "bands": bands, "ece": float(ece)}


def advice(report: dict[str, Any]) -> list[str]:
    """Why retraining is advised, in plain words (empty: no action needed)."""
    reasons = [
        f"feature {row['feature']!r} shifted majorly (PSI {row['psi']:.2f} ≥ {PSI_MAJOR})"
        for row in report.get("features", [])
        if row["psi"] >= PSI_MAJOR
    ]
    score = report.get("score")
    if score is not None and score["psi"] >= PSI_MAJOR:
        reasons.append(f"the score distribution shifted majorly (PSI {score['psi']:.2f})")
    live = report.get("calibration") or {}
    if (
        live.get("ece") is not None
        and live["outcomes"] >= MIN_OUTCOMES
        and live["ece"] > MAX_LIVE_ECE
    ):
        reasons.append(
            f"probabilities are off on the {live['outcomes']:,} leads with a known outcome "
            f"(ECE {live['ece']:.3f} > {MAX_LIVE_ECE})"
        )
    return reasons
