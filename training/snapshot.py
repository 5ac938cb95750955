"""Snapshot leaks: activity counts in an export that include what a lead did after converting.

A CRM export is a snapshot taken today. A converted lead's visit and e-mail counts
include its sales calls, demos and onboarding pages; a model trained on them learns
the future. Without an event log the counts cannot be taken back to the moment of
scoring, but the export says when they are tainted: a converted lead whose activity
timestamp (last visit, last open, last form) lies after its label date has counted
activity after converting. Each such timestamp column is reported with the share of
converted leads affected, and the counts it dates (those the spec's `events.properties`
roll up from the same kind of event).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from features.spec import DatasetSpec
from features.timestamps import read_timestamps
from training.config import SnapshotConfig
from training.data import PreparedData, missing_of_column, to_datetime

# A column whose share is below this is not reported (a few late back-fills are noise).
REPORT_SHARE = 0.05


def activity_timestamps(spec: DatasetSpec) -> dict[str, list[str]]:
    """Timestamp column → the count columns it dates (same event kind in `events`)."""
    out: dict[str, list[str]] = {c: [] for c in spec.timestamp_columns}
    if spec.events is not None:
        rollups = spec.events.properties
        for name, rollup in rollups.items():
            if rollup.how in ("first", "last"):
                out.setdefault(name, [])
                out[name] = [
                    other
                    for other, r in rollups.items()
                    if r.kind == rollup.kind and r.how in ("count", "count_distinct")
                ]
    return out


def snapshot_leaks(
    data: PreparedData, spec: DatasetSpec, config: SnapshotConfig
) -> list[dict[str, Any]]:
    """One entry per activity timestamp that lies after the label date for at least
    `REPORT_SHARE` of converted leads: column, share, the counts it dates, which
    features read them, and whether training must refuse (`refused`)."""
    if data.point_in_time or spec.label.from_date is None:
        return []
    frame = data.frame
    reached = to_datetime(frame[spec.label.from_date], spec.label.from_date, allow_missing=True)
    converted = (data.y == 1) & reached.notna().to_numpy()
    total = int(converted.sum())
    if total == 0:
        return []
    reached_ns = reached.to_numpy(dtype="datetime64[ns]")[converted]
    sources = {f.source: f.name for f in spec.features}
    out = []
    for column, counts in activity_timestamps(spec).items():
        if column not in frame.columns:
            continue
        stamps = read_timestamps(frame[column], column, missing_of_column(spec, column))
        stamps = stamps[converted]
        after = int((~np.isnat(stamps) & (stamps > reached_ns)).sum())
        share = after / total
        if share < REPORT_SHARE:
            continue
        features = [sources[c] for c in [column, *counts] if c in sources]
        allowed = column in config.allow
        out.append(
            {
                "column": column,
                "share": share,
                "converted_leads": total,
                "after_conversion": after,
                "counts": counts,
                "features": features,
                "allowed": allowed,
                "refused": bool(features) and share > config.max_share and not allowed,
            }
        )
    return out


def leak_text(leak: dict[str, Any], label_date: str) -> str:
    """One line: what the column says, what it taints, what to do."""
    dated = leak["counts"]
    taints = f"; {', '.join(dated)} include what they did after converting" if dated else ""
    used = f" (features: {', '.join(leak['features'])})" if leak["features"] else " (not a feature)"
    return (
        f"{leak['column']} is after {label_date} for {leak['share']:.0%} of converted leads "
        f"({leak['after_conversion']:,} of {leak['converted_leads']:,}){taints}{used}"
    )
