"""Point-in-time features from an event log: what the CRM knew about a lead at a moment.

An event log has one row per event: the lead's id, a timestamp, a type and an optional
value (a URL, a form name). `event_columns` turns it, for any set of (lead, moment)
pairs, into the columns the dataset spec's `events:` section declares:

- CRM properties rebuilt as of the moment (`properties`: HubSpot's
  `hs_analytics_num_visits`, `hs_analytics_last_visit_timestamp`,
  `recent_conversion_event_name`, …), so a model trained on history reads what the CRM
  showed then, and a live contact can be scored from the CRM's current values;
- window features (`windows`): per kind, the events in the last 7 / 30 / 90 days, the
  days since the last one, and the days since the first event.

Only events strictly before the moment count. The same function serves training (many
moments per lead), batch scoring (one moment, many leads) and the service (one lead,
its events sent inline): one sort of events and moments together, then prefix sums.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from features.build import read_categories, read_each
from features.coerce import CoercionError, is_missing, to_category
from features.errors import LeadscoreError
from features.spec import (
    FIRST_EVENT_FEATURE,
    DatasetSpec,
    EventKind,
    EventsSpec,
    window_feature,
)
from features.timestamps import (
    NS_PER_DAY,
    AsOf,
    FutureTimestampError,
    iso,
    read_timestamps,
    to_timestamp,
)

# The key a lead record sends its own events under (`/score`: `{"events": [...]}`).
INLINE_EVENTS = "events"


@dataclass(frozen=True)
class EventLog:
    """Events as arrays. `lead[i]` indexes `ids` (the leads' id text); `time` is ns since
    the epoch (UTC); `type` lower-case text; `value` text or None (None: no value column).
    `row` is each event's place in its source (1-based data row), for messages."""

    ids: np.ndarray
    lead: np.ndarray
    time: np.ndarray
    type: np.ndarray
    value: np.ndarray | None
    row: np.ndarray
    source: str = "events"

    def __len__(self) -> int:
        return len(self.lead)

    def codes_of(self, ids: Sequence[Any] | np.ndarray) -> np.ndarray:
        """Each id's index into `ids` (-1 for a lead without events)."""
        return np.asarray(pd.Index(self.ids).get_indexer(np.asarray(ids, dtype=object)))


def empty_log(events: EventsSpec) -> EventLog:
    return EventLog(
        np.empty(0, dtype=object),
        np.empty(0, dtype=np.intp),
        np.empty(0, dtype=np.int64),
        np.empty(0, dtype=object),
        None if events.value is None else np.empty(0, dtype=object),
        np.empty(0, dtype=np.intp),
    )


def event_columns_needed(events: EventsSpec) -> list[str]:
    """The columns of an event log the spec's events section reads."""
    return [events.id, events.time, events.type, *([events.value] if events.value else [])]


def check_event_columns(columns: Collection[str], events: EventsSpec, source: str) -> None:
    """An event log's columns hold the ones the spec's events section names."""
    absent = [c for c in event_columns_needed(events) if c not in columns]
    if absent:
        raise LeadscoreError(
            f"event log {source} is missing column(s) the spec's events section names: "
            f"{', '.join(map(repr, absent))} (found {', '.join(map(repr, list(columns)[:8]))})"
        )


def read_event_log(
    frame: pd.DataFrame,
    events: EventsSpec,
    source: str,
    missing: Collection[str],
    rows: np.ndarray | None = None,
) -> EventLog:
    """An event log from a DataFrame (a CSV as text, or typed Parquet columns).

    Every event needs a lead id, a readable timestamp and a type; a mistake is one
    `LeadscoreError` naming the source, the data row and the column. `rows`: each
    event's data row in its source (default: its place in `frame`, from 1), for a frame
    that holds part of a log (a Spark task's).
    """
    check_event_columns(frame.columns, events, source)
    rows = np.arange(1, len(frame) + 1) if rows is None else np.asarray(rows)
    ids = read_categories(frame[events.id], events.id, missing)
    _require(_nones(ids), events.id, source, "the lead it belongs to", rows)
    types = read_categories(frame[events.type], events.type, missing)
    _require(_nones(types), events.type, source, "a type", rows)
    try:
        times = read_timestamps(frame[events.time], events.time, missing)
    except CoercionError as error:
        row = rows[_first_row(frame[events.time], error.value)]
        raise LeadscoreError(
            f"event log {source} row {row}, column {events.time!r}: cannot read "
            f"{error.value!r} as {error.expected}"
        ) from None
    _require(np.isnat(times), events.time, source, "a timestamp", rows)
    values = None
    if events.value:
        values = _shared(read_categories(frame[events.value], events.value, missing))
    codes, uniques = pd.factorize(ids)
    return EventLog(
        np.asarray(uniques, dtype=object),
        codes.astype(np.intp),
        times.astype(np.int64),
        _lower(types),
        values,
        rows,
        source,
    )


def _lower(texts: np.ndarray) -> np.ndarray:
    """Lower-case text, once per distinct text (a log has a handful of types in millions
    of events; np.char.lower took 0.5 s for a million)."""
    codes, uniques = pd.factorize(texts)
    lowered = np.empty(len(uniques), dtype=object)
    lowered[:] = [str(text).lower() for text in uniques]
    return lowered[codes]


def _shared(values: np.ndarray) -> np.ndarray:
    """The same texts as one object each: a log's values repeat (URLs, form names), and a
    million copies of sixty texts cost ~90 MiB."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    table = np.empty(len(uniques) + 1, dtype=object)
    table[:-1] = uniques
    table[-1] = None  # code -1: no value
    return table[codes]


def _nones(values: np.ndarray) -> np.ndarray:
    return np.fromiter((v is None for v in values), dtype=bool, count=len(values))


def _require(empty: np.ndarray, column: str, source: str, what: str, rows: np.ndarray) -> None:
    if empty.any():
        row = rows[int(np.argmax(empty))]
        raise LeadscoreError(
            f"event log {source} row {row}, column {column!r}: empty in {int(empty.sum()):,} "
            f"row(s); every event needs {what}"
        )


def _first_row(values: pd.Series, bad: Any) -> int:
    """The place (from 0) of the first value that reads as `bad`."""
    matches = np.flatnonzero(values.astype(str).to_numpy() == str(bad))
    return int(matches[0]) if len(matches) else 0


def inline_log(
    records: Sequence[Mapping[str, Any]], events: EventsSpec, missing: Collection[str]
) -> EventLog:
    """The events leads send inline (`{"events": [{time, type, value}, ...]}`), lead i =
    record i; `row` is an event's place in its lead's list. A bad event raises
    `CoercionError` whose column is `events[j].<key>` and whose `record` is the lead's
    position."""
    lead: list[int] = []
    time: list[int] = []
    kind: list[str] = []
    value: list[Any] = []
    place: list[int] = []
    for i, record in enumerate(records):
        sent = record.get(INLINE_EVENTS)
        if sent is None:
            continue
        if not isinstance(sent, list):
            raise _at(CoercionError(INLINE_EVENTS, type(sent).__name__, "a list of events"), i)
        for j, event in enumerate(sent):
            if not isinstance(event, Mapping):
                where = f"{INLINE_EVENTS}[{j}]"
                raise _at(CoercionError(where, type(event).__name__, "an event object"), i)
            try:
                stamp = to_timestamp(event.get(events.time), events.time, missing)
                if stamp is None:
                    raise CoercionError(events.time, None, "a timestamp")
                name = event.get(events.type)
                if is_missing(name, missing) or not isinstance(name, str | int):
                    raise CoercionError(events.type, name, "an event type")
                raw = event.get(events.value) if events.value else None
                if raw is not None and not isinstance(raw, str | int | float):
                    raise CoercionError(events.value or "", raw, "a text value")
                # read as a log file's columns are (`read_categories`): "3.0" is "3" alike
                kind.append(str(to_category(name, events.type, missing)).lower())
                value.append(to_category(raw, events.value or "", missing))
            except CoercionError as error:
                where = f"{INLINE_EVENTS}[{j}].{error.column}"
                raise _at(CoercionError(where, error.value, error.expected), i) from None
            lead.append(i)
            place.append(j)
            time.append(stamp)
    return EventLog(
        np.arange(len(records)).astype(object),
        np.asarray(lead, dtype=np.intp),
        np.asarray(time, dtype=np.int64),
        np.asarray(kind, dtype=object),
        np.asarray(value, dtype=object) if events.value else None,
        np.asarray(place, dtype=np.intp),
        "inline events",
    )


def _at(error: CoercionError, record: int) -> CoercionError:
    error.record = record  # type: ignore[attr-defined]
    return error


def needs_events_key(records: Sequence[Mapping[str, Any]]) -> int | None:
    """Position of the first record that sends no events (no `events` key, or null)."""
    for i, record in enumerate(records):
        if record.get(INLINE_EVENTS) is None:
            return i
    return None


def _now_for_skew(log: EventLog, moments: np.ndarray, slack: int) -> EventLog:
    """Events up to `slack` after their moment (an implicit "now": the CRM's clock runs
    a little ahead of ours) count as having just happened."""
    if not slack or len(log) == 0:
        return log
    at = moments[log.lead]
    ahead = log.time >= at
    if not ahead.any():
        return log
    return replace(log, time=np.where(ahead, at - 1, log.time))


# --- the features ------------------------------------------------------------------------------


def kind_masks(log: EventLog, kinds: Mapping[str, EventKind]) -> dict[str, np.ndarray]:
    """Which events are of each kind (its type, and any of its texts in the value)."""
    out = {}
    for name, kind in kinds.items():
        mask = log.type == kind.type.strip().lower()
        if kind.value_contains and mask.any():
            values = log.value if log.value is not None else np.full(len(log), None, object)
            mask &= read_each(values, _contains_any(kind.value_contains)).astype(bool)
        out[name] = np.asarray(mask, dtype=bool)
    return out


def _contains_any(texts: Sequence[str]) -> Any:
    needles = [t.lower() for t in texts]
    return lambda value: value is not None and any(n in str(value).lower() for n in needles)


def event_columns(
    events: EventsSpec, log: EventLog, lead: np.ndarray, as_of: np.ndarray
) -> dict[str, np.ndarray]:
    """The `events:` section's columns for each (lead, moment) pair, from events strictly
    before the moment.

    `lead`: each pair's index into `log.ids` (-1: no events); `as_of`: each pair's moment
    (ns). Counts are floats (0 without events), `first` / `last` datetime64[ns] (NaT
    without one), values text or None, days since: float (NaN without an event).
    """
    lead = np.asarray(lead, dtype=np.intp)
    as_of = np.asarray(as_of, dtype=np.int64)
    n = len(lead)
    windows = sorted(events.windows)
    probes = len(windows) + 1
    # Moments and window starts sorted among the events: probe q*probes + 0 is pair q's
    # moment, + w its moment minus the w-th window. At equal times a probe sorts before
    # an event: an event at the moment itself is not before it.
    probe_lead = np.repeat(lead, probes)
    offsets = np.array([0, *windows], dtype=np.int64) * NS_PER_DAY
    probe_time = (as_of[:, None] - offsets[None, :]).ravel()
    m = len(log)
    all_lead = np.concatenate([log.lead, probe_lead])
    all_time = np.concatenate([log.time, probe_time])
    is_event = np.concatenate([np.ones(m, dtype=np.int8), np.zeros(len(probe_lead), np.int8)])
    order = np.lexsort((is_event, all_time, all_lead))
    position = np.empty(len(order), dtype=np.intp)
    position[order] = np.arange(len(order))
    sorted_lead = all_lead[order]
    sorted_time = all_time[order]
    event_at = order < m  # sorted position → holds an event
    event_index = np.where(event_at, order, 0)  # sorted position → its event (if any)
    at = position[m:].reshape(n, probes)  # each probe's sorted position
    moment = at[:, 0]
    start = np.searchsorted(sorted_lead, lead, side="left")  # each pair's lead segment

    masks = kind_masks(log, events.kinds)
    cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def of_kind(name: str) -> np.ndarray:
        if m == 0:  # no event for event_index to point at
            return np.zeros(len(order), dtype=bool)
        return event_at & masks[name][event_index]

    def counts_before(flags: np.ndarray) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(flags, dtype=np.int64)])

    def first_last(name: str) -> tuple[np.ndarray, np.ndarray]:
        """Sorted positions of the first and last event of a kind before each moment
        (-1 when there is none)."""
        if name not in cache:
            cache[name] = _first_last(of_kind(name), start, moment)
        return cache[name]

    out: dict[str, np.ndarray] = {}
    for column, rollup in events.properties.items():
        how = rollup.how
        name = str(getattr(rollup, how))
        if how == "count":
            before = counts_before(of_kind(name))
            out[column] = (before[moment] - before[start]).astype(np.float64)
        elif how == "count_distinct":
            out[column] = _distinct_before(
                of_kind(name), event_index, log, sorted_lead, start, moment
            )
        else:
            first, last = first_last(name)
            chosen = first if how.startswith("first") else last
            if how in ("first", "last"):
                stamps = np.where(chosen >= 0, sorted_time[chosen], np.iinfo(np.int64).min)
                out[column] = stamps.astype("datetime64[ns]")
            else:
                values = log.value if log.value is not None else np.full(m, None, object)
                picked = np.full(n, None, dtype=object)
                found = chosen >= 0
                picked[found] = values[event_index[chosen[found]]]
                out[column] = picked
    if windows:
        any_first = np.full(n, -1, dtype=np.intp)
        for name in events.windowed_kinds:
            before = counts_before(of_kind(name))
            for w, days in enumerate(windows, start=1):
                out[window_feature(name, days)] = (before[moment] - before[at[:, w]]).astype(
                    np.float64
                )
            first, last = first_last(name)
            out[f"days_since_last_{name}"] = _days(as_of, sorted_time, last)
            any_first = np.where(
                (first >= 0) & ((any_first < 0) | (first < any_first)), first, any_first
            )
        out[FIRST_EVENT_FEATURE] = _days(as_of, sorted_time, any_first)
    return out


def _first_last(
    flags: np.ndarray, start: np.ndarray, moment: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    positions = np.arange(len(flags))
    last_seen = np.maximum.accumulate(np.where(flags, positions, -1))
    big = len(flags)
    next_seen = np.minimum.accumulate(np.where(flags, positions, big)[::-1])[::-1]
    next_seen = np.append(next_seen, big)
    last = last_seen[moment]
    last = np.where(last >= start, last, -1)
    first = next_seen[start]
    first = np.where(first < moment, first, -1)
    return first, last


def _distinct_before(
    flags: np.ndarray,
    event_index: np.ndarray,
    log: EventLog,
    sorted_lead: np.ndarray,
    start: np.ndarray,
    moment: np.ndarray,
) -> np.ndarray:
    """Distinct values among a kind's events before each moment (missing values apart)."""
    values = log.value if log.value is not None else np.full(len(log), None, object)
    where = np.flatnonzero(flags)
    seen = values[event_index[where]]
    present = np.fromiter((v is not None for v in seen), dtype=bool, count=len(seen))
    where, seen = where[present], seen[present]
    codes, _ = pd.factorize(seen)
    key = sorted_lead[where].astype(np.int64) * (int(codes.max(initial=0)) + 1) + codes
    _, first = np.unique(key, return_index=True)  # first occurrence in time order
    novel = np.zeros(len(flags), dtype=bool)
    novel[where[first]] = True
    before = np.concatenate([[0], np.cumsum(novel, dtype=np.int64)])
    return (before[moment] - before[start]).astype(np.float64)


def _days(as_of: np.ndarray, sorted_time: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    days = np.full(len(as_of), np.nan)
    found = chosen >= 0
    days[found] = (as_of[found] - sorted_time[chosen[found]]) / NS_PER_DAY
    return days


def check_before(log: EventLog, lead: np.ndarray, as_of: np.ndarray, slack: int = 0) -> None:
    """Scoring: an event after its lead's moment is from the future — an error naming the
    event's row, its lead and both times. `lead` / `as_of`: each scored lead's index
    into `log.ids` and its moment."""
    # A lead not scored gets the last moment that still leaves room for the slack (the
    # largest int64 plus the slack would wrap around to a moment long past).
    moment = np.full(len(log.ids), np.iinfo(np.int64).max - slack, dtype=np.int64)
    known = lead >= 0
    np.minimum.at(moment, lead[known], np.asarray(as_of, dtype=np.int64)[known])
    late = log.time > moment[log.lead] + slack
    if late.any():
        i = int(np.argmax(late))
        raise LeadscoreError(
            f"{log.source} row {log.row[i]}: the event of lead {log.ids[log.lead[i]]!r} at "
            f"{iso(log.time[i])} is after the moment of scoring (as_of {iso(moment[log.lead[i]])})"
            f"; {int(late.sum()):,} event(s) are. Score as of a later moment, or leave out "
            "events from after it"
        )


# --- rows and records as of a moment ----------------------------------------------------------


def with_event_columns(
    frame: pd.DataFrame, spec: DatasetSpec, log: EventLog, as_of: AsOf
) -> pd.DataFrame:
    """The frame with the spec's event columns rebuilt from the log as of the moment
    (batch scoring). An event of one of these leads after the moment is an error."""
    assert spec.events is not None
    ids = read_categories(frame[spec.id], spec.id, spec.missing_tokens)
    codes = log.codes_of(ids)
    moments = as_of.rows(len(frame))
    check_before(log, codes, moments, as_of.slack)
    if as_of.slack:
        per_lead = np.full(len(log.ids), np.iinfo(np.int64).max, dtype=np.int64)
        known = codes >= 0
        np.minimum.at(per_lead, codes[known], moments[known])
        log = _now_for_skew(log, per_lead, as_of.slack)
    columns = event_columns(spec.events, log, codes, moments)
    out = frame.copy(deep=False)
    for name, values in columns.items():
        out[name] = values
    return out


def records_as_of(
    records: Sequence[Mapping[str, Any]], spec: DatasetSpec, as_of: AsOf
) -> list[Mapping[str, Any]]:
    """Records with the spec's event columns rebuilt from the events each lead sends
    inline; a lead without an `events` key keeps its own properties (the CRM's current
    values), unless the spec's window features need its events.

    Errors are `CoercionError`s with `record` (or, for a future event,
    `FutureTimestampError` with `row`) set to the lead's position.
    """
    events = spec.events
    if events is None:
        return list(records)
    missing = spec.missing_tokens
    if spec.needs_events and (absent := needs_events_key(records)) is not None:
        raise _at(
            CoercionError(
                INLINE_EVENTS,
                None,
                "the lead's events (a list, may be empty): this model reads window features "
                "from them",
            ),
            absent,
        )
    sending = [i for i, record in enumerate(records) if record.get(INLINE_EVENTS) is not None]
    if not sending:
        return list(records)
    log = inline_log(records, events, missing)
    moments = as_of.rows(len(records))
    late = log.time > moments[log.lead.astype(np.intp)] + as_of.slack
    if late.any():
        at = int(np.argmax(late))
        lead = int(log.lead[at])
        where = f"{INLINE_EVENTS}[{log.row[at]}].{events.time}"
        raise FutureTimestampError(where, iso(log.time[at]), int(moments[lead]), lead)
    log = _now_for_skew(log, moments, as_of.slack)
    chosen = np.asarray(sending, dtype=np.intp)
    columns = event_columns(events, log, chosen, moments[chosen])
    out = list(records)
    for place, i in enumerate(sending):
        out[i] = {**records[i], **{name: values[place] for name, values in columns.items()}}
    return out
