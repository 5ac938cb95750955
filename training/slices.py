"""The model on parts of the evaluated leads: by month, and by value of a column.

A model that only works in one month, or worse than knowing a slice's own base rate
for some lead source or country, shows here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from features.coerce import is_missing, to_category
from features.spec import DatasetSpec, FeatureType
from training.metrics import auc_or_none
from training.result import Month

SLICE_VALUES = 8
MISSING_VALUE = "(missing)"


def stability(
    y: np.ndarray, p: np.ndarray, times: np.ndarray, spec: DatasetSpec
) -> list[Month] | None:
    """Rows, base rate and ROC AUC per calendar month (UTC); None for an ordinal time."""
    if spec.time.kind != "datetime":
        return None
    months = pd.to_datetime(times.astype("int64"), utc=True).strftime("%Y-%m").to_numpy()
    out = []
    for month in sorted(set(months)):
        mask = months == month
        out.append(
            Month(
                month=str(month),
                rows=int(mask.sum()),
                base_rate=float(y[mask].mean()),
                roc_auc=auc_or_none(y[mask], p[mask]),
            )
        )
    return out


def slice_values(values: pd.Series, missing: frozenset[str]) -> np.ndarray:
    """Raw values as slice labels: the text, or "(missing)"."""

    def label(value: Any) -> str:
        if is_missing(value, missing):
            return MISSING_VALUE
        return to_category(value, str(values.name), missing) or MISSING_VALUE

    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    labels = np.array([label(v) for v in uniques] + [MISSING_VALUE], dtype=object)
    return labels[codes]  # code -1 picks the appended "(missing)"


def slice_metrics(
    y: np.ndarray,
    p: np.ndarray,
    base_rate: float,
    frame: pd.DataFrame,
    columns: Sequence[str],
    missing: frozenset[str],
    top: int = SLICE_VALUES,
) -> dict[str, list[dict[str, Any]]]:
    """The model by value of each column (its `top` most common values).

    A slice is flagged when the model's Brier score there is worse than predicting the
    slice's own base rate for every lead of it (`brier_base_rate`): with drift the
    overall base rate (`base_rate`, the comparison table's constant, older leads) is stale
    and would hide a model that is worse than knowing the slice's rate. Its Brier score is
    kept as `brier_overall_base_rate`. The rows are the result's JSON form
    (`training.result.SliceRow` reads them).
    """
    y = np.asarray(y, dtype=np.float64)
    out: dict[str, list[dict[str, Any]]] = {}
    for column in columns:
        if column not in frame.columns:
            continue
        labels = slice_values(frame[column], missing)
        counts = pd.Series(labels).value_counts()
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]
        entries = []
        for value, _ in ranked:
            mask = labels == value
            brier = float(np.mean((y[mask] - p[mask]) ** 2))
            own_rate = float(y[mask].mean())
            brier_base = float(np.mean((y[mask] - own_rate) ** 2))
            entries.append(
                {
                    "value": str(value),
                    "rows": int(mask.sum()),
                    "base_rate": own_rate,
                    "roc_auc": auc_or_none(y[mask], p[mask]),
                    "brier": brier,
                    "brier_base_rate": brier_base,
                    "brier_overall_base_rate": float(np.mean((y[mask] - base_rate) ** 2)),
                    "worse_than_base_rate": bool(brier > brier_base),
                }
            )
        out[column] = entries
    return out


def default_slice_columns(spec: DatasetSpec) -> list[str]:
    """Lead source and country when the spec has them (by column name), else the first
    two categorical features."""
    categorical = [
        f.source for f in spec.features if f.type is FeatureType.categorical and f.derive is None
    ]
    named = [c for c in categorical if "source" in c.lower()] + [
        c for c in categorical if "country" in c.lower()
    ]
    return list(dict.fromkeys(named)) or categorical[:2]
