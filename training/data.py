"""Loading a CRM export, deriving the label and the time order, and the time-based split."""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.build import check_columns, read_categories
from features.coerce import CoercionError, is_missing
from features.errors import LeadscoreError
from features.events import EventLog, event_columns
from features.spec import DatasetSpec
from features.timestamps import NS_PER_DAY, iso, now, read_timestamps
from training.config import ExamplesConfig, SplitConfig

log = logging.getLogger(__name__)


def parse_times(values: pd.Series, column: str, kind: str) -> pd.Series:
    """The time column as numbers that order leads (ns since epoch, or the ordinal itself)."""
    missing = values.map(lambda v: is_missing(v, ("",)))
    if missing.any():
        raise LeadscoreError(
            f"time column {column!r} is empty in {int(missing.sum())} row(s); every lead "
            "needs a time to be placed in the time-based split"
        )
    if kind == "ordinal":
        numbers = pd.to_numeric(values, errors="coerce")
        bad = numbers.isna()
        if bad.any():
            raise LeadscoreError(
                f"time column {column!r} (ordinal) has {int(bad.sum())} value(s) that are not "
                f"numbers, e.g. {values[bad].iloc[0]!r}"
            )
        return numbers.astype("float64")
    return to_datetime(values, column).astype("int64").astype("float64")


def to_datetime(values: pd.Series, column: str, allow_missing: bool = False) -> pd.Series:
    """Parse ISO dates or epoch milliseconds (HubSpot sends both) as UTC timestamps."""
    try:
        stamps = read_timestamps(values, column)
    except CoercionError as error:
        bad = int(values.astype(str).eq(str(error.value)).sum()) or 1
        raise LeadscoreError(
            f"column {column!r} has {bad} value(s) that are not dates, "
            f"e.g. {error.value!r} (expected ISO 8601 or epoch milliseconds)"
        ) from None
    if not allow_missing and np.isnat(stamps).any():
        raise LeadscoreError(f"column {column!r} is empty in {int(np.isnat(stamps).sum())} row(s)")
    return pd.Series(stamps, index=values.index).dt.tz_localize("UTC")


# A 0/1 label as exports write it (read trimmed and case-insensitively).
_LABEL_VALUES = {
    **{"1": 1, "1.0": 1, "true": 1, "yes": 1},
    **{"0": 0, "0.0": 0, "false": 0, "no": 0},
}


def derive_labels(
    frame: pd.DataFrame, spec: DatasetSpec, times: pd.Series
) -> tuple[pd.Series, pd.Series]:
    """The 0/1 label per row, and a mask of rows whose outcome is known.

    With a stage-date label, leads created less than `within_days` before the end
    of the export have not had their full window yet: they are masked out rather
    than counted as negatives.
    """
    label = spec.label
    if label.column is not None:
        raw = frame[label.column]
        text = raw.astype("string").str.strip().str.lower()
        y = text.map(_LABEL_VALUES)
        bad = y.isna()
        if bad.any():
            examples = sorted({str(v) for v in raw[bad].head(50)})[:5]
            raise LeadscoreError(
                f"label column {label.column!r} must hold 0 or 1 (or true/false, yes/no); "
                f"found {int(bad.sum())} other value(s), e.g. {', '.join(map(repr, examples))}"
            )
        return y.astype("int64"), pd.Series(True, index=frame.index)
    assert label.from_date is not None and label.within_days is not None
    reached = to_datetime(frame[label.from_date], label.from_date, allow_missing=True)
    created = pd.to_datetime(times.astype("int64"), utc=True)
    window = pd.Timedelta(days=label.within_days)
    y = (reached.notna() & (reached - created <= window)).astype("int64")
    export_end = max(created.max(), reached.max() if reached.notna().any() else created.max())
    known = created <= export_end - window
    return y, known


@dataclass(frozen=True)
class PreparedData:
    """Rows with a known outcome, sorted by time, with their labels and time keys.

    `as_of`: each row's moment of scoring (ns): the export's own moment for a snapshot
    export, the example's moment for point-in-time examples. `groups`: each row's lead
    (point-in-time examples: several rows per lead), or None (one row per lead).
    """

    frame: pd.DataFrame
    y: np.ndarray
    times: np.ndarray
    dropped_unknown: int
    as_of: np.ndarray | None = None
    groups: np.ndarray | None = None
    dropped_converted: int = 0

    @property
    def point_in_time(self) -> bool:
        return self.groups is not None

    @property
    def unit(self) -> str:
        """What a row is, in messages: a lead, or one point-in-time example of a lead."""
        return "examples" if self.groups is not None else "leads"

    @property
    def moments(self) -> np.ndarray:
        """`as_of`, or now for every row when there is none (an ordinal export)."""
        return self.as_of if self.as_of is not None else np.full(len(self.y), now())

    def rows(self, positions: np.ndarray) -> PreparedData:
        """The rows at `positions` (still sorted by time)."""
        return PreparedData(
            self.frame.iloc[positions].reset_index(drop=True),
            self.y[positions],
            self.times[positions],
            0,
            None if self.as_of is None else self.as_of[positions],
            None if self.groups is None else self.groups[positions],
        )


def prepare(frame: pd.DataFrame, spec: DatasetSpec, min_positives: int = 50) -> PreparedData:
    """Check the columns, derive labels and time, drop rows without a known outcome, sort."""
    source = frame.attrs.get("source")
    check_columns(frame, spec.required_columns, f"data file {source}" if source else "data", spec)
    warn_absent_leaky(frame, spec)
    times = parse_times(frame[spec.time.column], spec.time.column, spec.time.kind)
    y, known = derive_labels(frame, spec, times)
    dropped = int((~known).sum())
    if dropped:
        log.info(
            "left out %d lead(s) whose %d-day label window is still open",
            dropped,
            spec.label.within_days or 0,
        )
    order = np.argsort(times[known].to_numpy(), kind="stable")
    kept = frame[known.to_numpy()].iloc[order].reset_index(drop=True)
    labels = y[known].to_numpy()[order]
    what = spec.label.column or f"{spec.label.from_date} within {spec.label.within_days} days"
    check_labels(labels, what, min_positives, "row(s)")
    moment = snapshot_moment(kept, spec, times) if spec.time.kind == "datetime" else None
    as_of = None if moment is None else np.full(len(labels), moment, dtype=np.int64)
    return PreparedData(kept, labels, times[known].to_numpy()[order], dropped, as_of)


def warn_absent_leaky(frame: pd.DataFrame, spec: DatasetSpec) -> None:
    """Name the spec's `leaky_columns` the file does not have. One close to a column the
    file has is likely a typo that lets the very column it means into the features: a
    warning. The others are logged at INFO: a spec lists what any export of its CRM may
    hold (the HubSpot spec lists 19 sales-side properties; an export has a few)."""
    absent = [c for c in spec.leaky_columns if c not in frame.columns]
    if not absent:
        return
    columns = [str(c) for c in frame.columns]
    typos, others = [], []
    for column in absent:
        close = difflib.get_close_matches(column, columns, n=1, cutoff=0.8)
        if close:
            typos.append(f"{column!r} (did you mean {close[0]!r}?)")
        else:
            others.append(repr(column))
    source = frame.attrs.get("source") or "the data"
    if typos:
        log.warning(
            "leaky_columns of spec %r that are not columns of %s: %s; a misspelt name keeps "
            "no leak out of the features",
            spec.name,
            source,
            ", ".join(typos),
        )
    if others:
        log.info("leaky_columns of spec %r not in %s: %s", spec.name, source, ", ".join(others))


def check_labels(y: np.ndarray, what: str, min_positives: int, rows: str) -> None:
    """Both classes, and enough conversions to train and evaluate on."""
    positives = int(y.sum())
    if positives == 0 or positives == len(y):
        raise LeadscoreError(
            f"label ({what}) has a single class: {positives} positive(s) in {len(y)} "
            f"{rows}; training needs converted and unconverted leads"
        )
    if positives < min_positives:
        raise LeadscoreError(
            f"label ({what}) has only {positives} positive(s); at least {min_positives} "
            "are needed to train and evaluate honestly"
        )


def snapshot_moment(frame: pd.DataFrame, spec: DatasetSpec, times: pd.Series) -> int:
    """When a snapshot export was taken: its latest timestamp (creation, label date, or a
    timestamp feature). Its features are computed as of that moment."""
    latest = [int(times.max())]
    for column in [*spec.label.columns, *spec.timestamp_columns]:
        if column in frame.columns and column != spec.label.column:
            stamps = read_timestamps(frame[column], column, missing_of_column(spec, column))
            if (~np.isnat(stamps)).any():
                latest.append(int(stamps[~np.isnat(stamps)].astype(np.int64).max()))
    return max(latest)


def missing_of_column(spec: DatasetSpec, column: str) -> frozenset[str]:
    """The missing markers of a raw column: the spec's, and those of features reading it."""
    own = (m for f in spec.features if f.source == column for m in f.missing)
    return spec.missing_tokens | frozenset(own)


@dataclass(frozen=True)
class Split:
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    purged: int = 0


def split_by_time(n_rows: int, config: SplitConfig, groups: np.ndarray | None = None) -> Split:
    """Positions of the oldest → train, then validation, newest → test (rows sorted by time).

    `groups` (each row's lead, for point-in-time examples): a lead belongs to the slice of
    its earliest example; its later examples that fall in a later slice are left out
    (`purged`), so no lead is on both sides of a cut.
    """
    n_test = round(n_rows * config.test)
    n_val = round(n_rows * config.validation)
    n_train = n_rows - n_val - n_test
    positions = np.arange(n_rows)
    part = np.searchsorted([n_train, n_train + n_val], positions, side="right")
    purged = 0
    if groups is not None:
        codes, _ = pd.factorize(groups)
        first = np.full(codes.max(initial=-1) + 1, n_rows, dtype=np.intp)
        np.minimum.at(first, codes, positions)
        home = part[first[codes]]
        purged = int((home != part).sum())
        part = np.where(home == part, part, -1)
    return Split(positions[part == 0], positions[part == 1], positions[part == 2], purged)


def check_split(y: np.ndarray, split: Split) -> None:
    for name in ("train", "validation", "test"):
        part = y[getattr(split, name)]
        if len(part) == 0 or part.min() == part.max():
            raise LeadscoreError(
                f"the {name} slice (by time) has a single class ({int(part.sum())} positive(s) "
                f"in {len(part)} row(s)); give more data or change split shares"
            )


def fingerprint(data: PreparedData, spec: DatasetSpec, sha256: str | None) -> dict[str, object]:
    """What identifies the training data: hash, rows, time range, base rate."""
    if spec.time.kind == "datetime":
        first, last = (
            str(pd.Timestamp(int(t), tz="UTC").date()) for t in (data.times[0], data.times[-1])
        )
    else:
        first, last = (f"{t:g}" for t in (data.times[0], data.times[-1]))
    out: dict[str, object] = {
        "sha256": sha256 or "",
        "rows": len(data.y),
        "rows_left_out_open_window": data.dropped_unknown,
        "time_from": first,
        "time_to": last,
        "base_rate": round(float(data.y.mean()), 6),
    }
    if data.groups is not None:
        out["leads"] = len(np.unique(data.groups))
        out["examples_left_out_already_converted"] = data.dropped_converted
    return out


def prepare_point_in_time(
    contacts: pd.DataFrame,
    events: EventLog,
    spec: DatasetSpec,
    examples: ExamplesConfig,
    min_positives: int = 50,
) -> PreparedData:
    """Point-in-time examples from contacts and their event log.

    Each lead is an example at each moment `examples.at_days` after its creation whose
    label window has closed by the end of the data; the spec's event columns are rebuilt
    from the events strictly before the moment; the label is "reached the label stage
    within `within_days` after the moment". A lead already past the stage at a moment
    gives no example there. Sorted by moment; `groups` holds each example's lead.
    """
    source = contacts.attrs.get("source") or "data"
    label = spec.label
    if label.from_date is None or label.within_days is None:
        raise LeadscoreError(
            f"point-in-time examples need a stage-date label (label.from_date and "
            f"within_days in spec {spec.name!r}); a 0/1 column says nothing of when"
        )
    if spec.time.kind != "datetime":
        raise LeadscoreError(
            f"point-in-time examples need a datetime time column; {spec.time.column!r} is "
            f"{spec.time.kind}"
        )
    assert spec.events is not None
    check_columns(
        contacts,
        [spec.id, spec.time.column, label.from_date, *spec.contact_columns(True)],
        f"data file {source}",
        spec,
    )
    warn_absent_leaky(contacts, spec)
    ids = read_categories(contacts[spec.id], spec.id, spec.missing_tokens)
    if any(i is None for i in ids):
        raise LeadscoreError(f"data file {source}: id column {spec.id!r} is empty in some rows")
    index = pd.Index(ids)
    if not index.is_unique:
        twice = index[index.duplicated()][0]
        raise LeadscoreError(
            f"data file {source}: id {twice!r} (column {spec.id!r}) is there twice; "
            "point-in-time examples need one row per lead"
        )
    lead_of_event = index.get_indexer(events.ids)
    unknown = lead_of_event[events.lead] < 0
    if unknown.any():
        at = int(np.argmax(unknown))
        raise LeadscoreError(
            f"event log {events.source} row {events.row[at]}: lead {events.ids[events.lead[at]]!r} "
            f"(column {spec.events.id!r}) is not in {source} ({int(unknown.sum()):,} event(s) "
            "of unknown leads)"
        )
    future = events.time > now()
    if future.any():  # it would also make every label window look closed
        at = int(np.argmax(future))
        raise LeadscoreError(
            f"event log {events.source} row {events.row[at]}: the event of lead "
            f"{events.ids[events.lead[at]]!r} is dated {iso(events.time[at])}, in the future "
            f"(column {spec.events.time!r}; {int(future.sum()):,} such event(s))"
        )
    created = parse_times(contacts[spec.time.column], spec.time.column, "datetime")
    created_ns = created.to_numpy(dtype=np.int64)
    reached = to_datetime(contacts[label.from_date], label.from_date, allow_missing=True)
    reached_ns = np.where(reached.isna(), np.iinfo(np.int64).max, reached.astype("int64"))
    ends = [int(created_ns.max()), int(events.time.max(initial=np.iinfo(np.int64).min))]
    if reached.notna().any():
        ends.append(int(reached_ns[reached.notna().to_numpy()].max()))
    end = max(ends)
    window = label.within_days * NS_PER_DAY

    lead_parts, moment_parts = [], []
    dropped_open = dropped_converted = 0
    for days in examples.at_days:
        moment = created_ns + round(days * NS_PER_DAY)
        settled = moment + window <= end
        already = reached_ns <= moment
        dropped_open += int((~settled & ~already).sum())
        dropped_converted += int((settled & already).sum())
        keep = np.flatnonzero(settled & ~already)
        lead_parts.append(keep)
        moment_parts.append(moment[keep])
    lead = np.concatenate(lead_parts)
    moments = np.concatenate(moment_parts)
    order = np.lexsort((lead, moments))
    lead, moments = lead[order], moments[order]
    y = ((reached_ns[lead] > moments) & (reached_ns[lead] <= moments + window)).astype(np.int64)
    frame = contacts.iloc[lead].reset_index(drop=True)
    codes = events.codes_of(ids[lead])
    for name, values in event_columns(spec.events, events, codes, moments).items():
        frame[name] = values
    frame.attrs["source"] = source
    what = f"{label.from_date} within {label.within_days} days after the moment"
    check_labels(y, what, min_positives, "example(s)")
    log.info("%d examples of %d leads, data up to %s", len(y), len(np.unique(lead)), iso(end))
    return PreparedData(
        frame, y, moments.astype(np.float64), dropped_open, moments, ids[lead], dropped_converted
    )
