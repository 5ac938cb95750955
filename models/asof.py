"""As-of checks of raw leads: none is scored before it was created, and what a value from
after the moment of scoring is called (the moment itself is `features.timestamps.AsOf`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from features.errors import LeadscoreError
from features.spec import DatasetSpec
from features.timestamps import AsOf, FutureTimestampError, iso, read_timestamps, to_timestamp

# Below this many rows pandas' per-column overhead costs more than the record path.
SMALL_BATCH = 64


def future_message(spec: DatasetSpec, error: FutureTimestampError, frame: pd.DataFrame) -> str:
    """What `LeadScorer.encode` says of a value after the moment of scoring, naming the lead."""
    lead = frame[spec.id].iloc[error.row] if spec.id in frame.columns else None
    who = f"lead {lead!r}" if lead is not None else f"row {error.row + 1}"
    return (
        f"{who}: {error.column} is {error.value!r}, after the moment of scoring "
        f"(as_of {iso(error.as_of)}); a value from the future is never a feature. "
        "Score as of a later moment (--as-of), or check the export"
    )


def check_created(spec: DatasetSpec, frame: pd.DataFrame, as_of: AsOf) -> None:
    """A lead of the frame created after the moment of scoring: `LeadscoreError` naming it."""
    column = spec.time.column
    if spec.time.kind != "datetime" or column not in frame.columns:
        return
    missing = spec.missing_tokens
    if len(frame) <= SMALL_BATCH:  # one value at a time is ~2 ms cheaper than pandas
        read = [to_timestamp(v, column, missing) for v in frame[column].tolist()]
        nat = np.iinfo(np.int64).min
        created = np.array([nat if r is None else r for r in read], dtype=np.int64).view(
            "datetime64[ns]"
        )
    else:
        created = read_timestamps(frame[column], column, missing)
    moments = as_of.rows(len(frame))
    late = ~np.isnat(created) & (created.astype(np.int64) > moments + as_of.slack)
    if late.any():
        row = int(np.argmax(late))
        lead = frame[spec.id].iloc[row] if spec.id in frame.columns else row + 1
        raise LeadscoreError(
            f"lead {lead!r}: {column} {iso(created[row])} is after the moment of scoring "
            f"(as_of {iso(moments[row])}); a lead cannot be scored before it exists"
        )


def check_created_records(
    spec: DatasetSpec, records: Sequence[Mapping[str, Any]], as_of: AsOf
) -> None:
    """A lead created after the moment: `FutureTimestampError` naming its position."""
    column = spec.time.column
    if spec.time.kind != "datetime":
        return
    missing = spec.missing_tokens
    for row, record in enumerate(records):
        created = to_timestamp(record.get(column), column, missing)
        if created is not None and created > as_of.at(row) + as_of.slack:
            raise FutureTimestampError(column, record.get(column), as_of.at(row), row)
