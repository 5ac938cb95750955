"""Event logs: what the CRM knew about a lead at a moment.

`event_columns` (one sort, prefix sums) is checked against a reference written as plain
loops over the events, on seeded random logs and on logs hypothesis makes up; then the
property the issue asks for: an event after the moment of scoring never changes a lead's
features, nor its score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.build import FeatureEncoder
from features.coerce import CoercionError
from features.errors import LeadscoreError
from features.events import (
    EventLog,
    event_columns,
    inline_log,
    kind_masks,
    read_event_log,
    records_as_of,
    with_event_columns,
)
from features.generate import Demo
from features.spec import (
    DEFAULT_MISSING_VALUES,
    DatasetSpec,
    EventsSpec,
    builtin_spec_path,
    parse_spec,
)
from features.timestamps import (
    NS_PER_DAY,
    AsOf,
    FutureTimestampError,
    iso,
    read_as_of,
    read_timestamps,
)

MISSING = frozenset([*DEFAULT_MISSING_VALUES, "Select"])
HOUR = 3_600 * 10**9
START = 1_735_689_600 * 10**9  # 2025-01-01T00:00:00Z

# A spec with every rollup, kinds narrowed by value, and windows (given unsorted).
EVENTS = EventsSpec.model_validate(
    {
        "id": "lead",
        "time": "at",
        "type": "kind",
        "value": "value",
        "kinds": {
            "visit": {"type": "visit"},
            "page_view": {"type": "page_view"},
            "pricing": {"type": "page_view", "value_contains": ["/PRICING", "/plans"]},
            "open": {"type": "email_open"},
            "form": {"type": " Form_Submission "},
        },
        "properties": {
            "visits": {"count": "visit"},
            "pricing_views": {"count": "pricing"},
            "distinct_pages": {"count_distinct": "page_view"},
            "distinct_forms": {"count_distinct": "form"},
            "first_visit": {"first": "visit"},
            "last_visit": {"last": "visit"},
            "last_pricing_at": {"last": "pricing"},
            "first_form": {"first_value": "form"},
            "last_form": {"last_value": "form"},
            "last_pricing_page": {"last_value": "pricing"},
            "opens": {"count": "open"},
        },
        "windows": [30, 1, 7],
        "window_kinds": ["visit", "pricing", "form"],
    }
)
# The same kinds, windows over every kind, no properties.
WINDOWS_ONLY = EventsSpec.model_validate(
    {**EVENTS.model_dump(exclude={"properties", "window_kinds"}), "windows": [2, 14]}
)
NO_WINDOWS = EventsSpec.model_validate(EVENTS.model_dump(exclude={"windows", "window_kinds"}))

TYPES = ["visit", "Visit", "page_view", " PAGE_VIEW", "email_open", "form_submission", "call"]
VALUES: list[str | None] = [
    None,
    "/",
    "/pricing",
    "/Pricing/enterprise",
    "/plans",
    "/blog",
    "Demo request",
    "Newsletter",
    "Select",  # a missing marker: no value
]


@dataclass(frozen=True)
class Event:
    lead: str
    time: int  # ns since the epoch
    type: str
    value: str | None


def log_of(events: Sequence[Event], spec: EventsSpec = EVENTS) -> EventLog:
    frame = pd.DataFrame(
        {
            spec.id: pd.Series([e.lead for e in events], dtype=object),
            spec.time: pd.Series(np.array([e.time for e in events], dtype="datetime64[ns]")),
            spec.type: pd.Series([e.type for e in events], dtype=object),
            **(
                {spec.value: pd.Series([e.value for e in events], dtype=object)}
                if spec.value
                else {}
            ),
        }
    )
    return read_event_log(frame, spec, "events.csv", MISSING)


def columns_of(
    spec: EventsSpec, events: Sequence[Event], pairs: Sequence[tuple[str, int]]
) -> dict[str, np.ndarray]:
    log = log_of(events, spec)
    codes = log.codes_of([lead for lead, _ in pairs])
    moments = np.array([moment for _, moment in pairs], dtype=np.int64)
    return event_columns(spec, log, codes, moments)


# --- the reference: loops over the events, one (lead, moment) pair at a time ---------------


def reference(
    spec: EventsSpec, events: Sequence[Event], pairs: Sequence[tuple[str, int]]
) -> dict[str, list[Any]]:
    """What each pair's columns must be, from the events of its lead strictly before its
    moment. Among events at the same time, the later row of the log is the later event."""

    def value(event: Event) -> str | None:
        return None if event.value is None or event.value.strip() in MISSING else event.value

    def is_kind(event: Event, name: str) -> bool:
        kind = spec.kinds[name]
        if event.type.strip().lower() != kind.type.strip().lower():
            return False
        if kind.value_contains is None:
            return True
        text = value(event)
        return text is not None and any(t.lower() in text.lower() for t in kind.value_contains)

    out: dict[str, list[Any]] = {name: [] for name in spec.properties}
    for name in spec.windowed_kinds:
        for days in spec.windows:
            out[f"{name}_last_{days}d"] = []
        out[f"days_since_last_{name}"] = []
    if spec.windowed_kinds:
        out["days_since_first_event"] = []
    for lead, moment in pairs:
        before = [
            (event.time, row, event)
            for row, event in enumerate(events)
            if event.lead == lead and event.time < moment
        ]
        before.sort(key=lambda item: (item[0], item[1]))
        for column, rollup in spec.properties.items():
            mine = [event for _, _, event in before if is_kind(event, rollup.kind)]
            if rollup.how == "count":
                out[column].append(float(len(mine)))
            elif rollup.how == "count_distinct":
                out[column].append(float(len({value(e) for e in mine} - {None})))
            elif rollup.how == "first":
                out[column].append(mine[0].time if mine else None)
            elif rollup.how == "last":
                out[column].append(mine[-1].time if mine else None)
            elif rollup.how == "first_value":
                out[column].append(value(mine[0]) if mine else None)
            else:
                assert rollup.how == "last_value"
                out[column].append(value(mine[-1]) if mine else None)
        firsts = []
        for name in spec.windowed_kinds:
            mine = [event for _, _, event in before if is_kind(event, name)]
            for days in spec.windows:
                since = moment - days * NS_PER_DAY  # an event at the window's start counts
                out[f"{name}_last_{days}d"].append(float(sum(e.time >= since for e in mine)))
            last = max((e.time for e in mine), default=None)
            out[f"days_since_last_{name}"].append(
                math.nan if last is None else (moment - last) / NS_PER_DAY
            )
            firsts += [e.time for e in mine]
        if spec.windowed_kinds:
            out["days_since_first_event"].append(
                (moment - min(firsts)) / NS_PER_DAY if firsts else math.nan
            )
    return out


def assert_columns_equal(got: Mapping[str, np.ndarray], expected: Mapping[str, list[Any]]) -> None:
    assert sorted(got) == sorted(expected)
    for name, want in expected.items():
        column = got[name]
        assert len(column) == len(want), name
        if column.dtype.kind == "M":
            stamps = [None if np.isnat(v) else int(v.astype(np.int64)) for v in column]
            assert stamps == want, name
        elif column.dtype == object:
            assert column.tolist() == want, name
        elif name.startswith("days_since"):
            np.testing.assert_allclose(column, want, rtol=1e-12, err_msg=name)
        else:
            assert column.dtype == np.float64, name
            np.testing.assert_array_equal(column, want, err_msg=name)


def test_the_reference_on_a_hand_made_log() -> None:
    """The reference itself, on a log small enough to count by hand."""
    day = NS_PER_DAY
    moment = START + 10 * day
    events = [
        Event("a", START, "visit", "/"),
        Event("a", START + 3 * day, "page_view", "/pricing"),
        Event("a", moment - 7 * day, "visit", "/blog"),  # at the start of the 7-day window
        Event("a", moment - day, "form_submission", "Demo request"),
        Event("a", moment - day, "form_submission", "Newsletter"),  # same time, later row
        Event("a", moment, "visit", "/"),  # at the moment itself: not before it
        Event("b", START, "visit", "/"),
    ]
    got = reference(EVENTS, events, [("a", moment), ("c", moment)])
    assert got["visits"] == [2.0, 0.0]
    assert got["pricing_views"] == [1.0, 0.0]
    assert got["first_visit"] == [START, None]
    assert got["last_visit"] == [moment - 7 * day, None]
    assert (got["first_form"], got["last_form"]) == (["Demo request", None], ["Newsletter", None])
    assert got["visit_last_7d"] == [1.0, 0.0] and got["visit_last_1d"] == [0.0, 0.0]
    assert got["form_last_1d"] == [2.0, 0.0]
    assert got["days_since_last_visit"][0] == 7.0 and math.isnan(got["days_since_last_visit"][1])
    assert got["days_since_first_event"][0] == 10.0
    assert_columns_equal(columns_of(EVENTS, events, [("a", moment), ("c", moment)]), got)


def random_case(seed: int) -> tuple[list[Event], list[tuple[str, int]]]:
    """A log on an hourly grid and moments on the same grid: events at the moment itself and
    at the start of a window happen; several moments per lead; leads without events."""
    rng = np.random.default_rng(seed)
    leads = [f"{seed}-{i}" for i in range(25)]
    events = [
        Event(
            leads[rng.integers(len(leads))],
            START + int(rng.integers(0, 24 * 60)) * HOUR,
            TYPES[rng.integers(len(TYPES))],
            VALUES[rng.integers(len(VALUES))],
        )
        for _ in range(700)
    ]
    pairs = [
        (leads[rng.integers(len(leads))], START + int(rng.integers(0, 24 * 70)) * HOUR)
        for _ in range(120)
    ]
    for event in events[:40]:  # moments right at an event and a window after it
        pairs.append((event.lead, event.time))
        pairs.append((event.lead, event.time + int(rng.choice([1, 7, 30])) * NS_PER_DAY))
    pairs += [("nobody", START + 5 * NS_PER_DAY), ("", START), (leads[0], START - 1)]
    order = rng.permutation(len(pairs))
    return events, [pairs[i] for i in order]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("spec", [EVENTS, WINDOWS_ONLY, NO_WINDOWS], ids=["all", "windows", "none"])
def test_event_columns_equal_the_reference(seed: int, spec: EventsSpec) -> None:
    events, pairs = random_case(seed)
    got = columns_of(spec, events, pairs)
    assert_columns_equal(got, reference(spec, events, pairs))


def test_the_random_cases_cover_the_edges() -> None:
    """What the comparison above is worth: ties, unknown leads, repeated leads and every
    rollup with something to roll up."""
    events, pairs = random_case(1)
    log = log_of(events)
    codes = log.codes_of([lead for lead, _ in pairs])
    assert (codes == -1).sum() == 2
    assert len({lead for lead, _ in pairs}) < len(pairs)  # several moments per lead
    times = {(e.lead, e.time) for e in events}
    assert sum((lead, moment) in times for lead, moment in pairs) >= 40
    starts = {(lead, moment - d * NS_PER_DAY) for lead, moment in pairs for d in (1, 7, 30)}
    assert len(times & starts) >= 40
    expected = reference(EVENTS, events, pairs)
    for name, values in expected.items():
        assert len({str(v) for v in values}) >= 2, name


EVENT = st.builds(
    Event,
    lead=st.sampled_from(["a", "b", "c"]),
    time=st.integers(0, 24 * 40).map(lambda h: START + h * HOUR),
    type=st.sampled_from(TYPES),
    value=st.sampled_from(VALUES),
)
PAIR = st.tuples(
    st.sampled_from(["a", "b", "c", "d"]),
    st.integers(0, 24 * 45).map(lambda h: START + h * HOUR),
)


@settings(max_examples=60, deadline=None)
@given(events=st.lists(EVENT, max_size=40), pairs=st.lists(PAIR, max_size=8))
def test_event_columns_equal_the_reference_on_any_log(
    events: list[Event], pairs: list[tuple[str, int]]
) -> None:
    assert_columns_equal(columns_of(EVENTS, events, pairs), reference(EVENTS, events, pairs))


@st.composite
def later_events(draw: st.DrawFn, moments: Mapping[str, int]) -> list[tuple[int, Event]]:
    """Events at or after their lead's moment (or of a lead not scored), each with the
    place it is inserted at in the log."""
    extra = []
    for _ in range(draw(st.integers(1, 6))):
        lead = draw(st.sampled_from([*moments, "new"]))
        after = moments.get(lead, START)
        time = after + draw(st.integers(0, 24 * 40)) * HOUR
        event = Event(lead, time, draw(st.sampled_from(TYPES)), draw(st.sampled_from(VALUES)))
        extra.append((draw(st.integers(0, 60)), event))
    return extra


@settings(max_examples=80, deadline=None)
@given(data=st.data(), events=st.lists(EVENT, max_size=40))
def test_an_event_after_the_moment_never_changes_the_features(
    data: st.DataObject, events: list[Event]
) -> None:
    moments = data.draw(
        st.dictionaries(
            st.sampled_from(["a", "b", "c"]),
            st.integers(0, 24 * 40).map(lambda h: START + h * HOUR),
            min_size=1,
        )
    )
    pairs = list(moments.items())
    later = list(events)
    for place, event in data.draw(later_events(moments)):
        later.insert(min(place, len(later)), event)
    before = columns_of(EVENTS, events, pairs)
    after = columns_of(EVENTS, later, pairs)
    assert_columns_equal(after, as_reference(before))


def as_reference(columns: Mapping[str, np.ndarray]) -> dict[str, list[Any]]:
    """Columns in the reference's terms (timestamps as ns or None)."""
    return {
        name: [None if np.isnat(v) else int(v.astype(np.int64)) for v in column]
        if column.dtype.kind == "M"
        else column.tolist()
        for name, column in columns.items()
    }


@pytest.mark.parametrize(
    ("events", "pairs"),
    [
        pytest.param([], [("a", START)], id="empty-log"),
        pytest.param([Event("a", START, "visit", "/")], [], id="no-pairs"),
        pytest.param([], [], id="nothing"),
    ],
)
def test_event_columns_of_nothing(events: list[Event], pairs: list[tuple[str, int]]) -> None:
    got = columns_of(EVENTS, events, pairs)
    assert_columns_equal(got, reference(EVENTS, events, pairs))
    assert all(len(column) == len(pairs) for column in got.values())


def test_kind_masks() -> None:
    events = [
        Event("a", START, "PAGE_VIEW", "/Pricing/enterprise"),
        Event("a", START, "page_view", "/blog"),
        Event("a", START, "page_view", None),
        Event("a", START, "visit", "/plans"),
        Event("a", START, " Form_Submission", "Demo request"),
    ]
    masks = kind_masks(log_of(events), EVENTS.kinds)
    assert {name: mask.tolist() for name, mask in masks.items()} == {
        "visit": [False, False, False, True, False],
        "page_view": [True, True, True, False, False],
        "pricing": [True, False, False, False, False],
        "open": [False] * 5,
        "form": [False, False, False, False, True],
    }


# --- reading an event log -----------------------------------------------------------------


def test_read_event_log_reads_every_column() -> None:
    frame = pd.DataFrame(
        {
            "lead": ["7", " 8 ", "7", "9.0"],
            "at": ["2025-01-01T00:00:00Z", "1735689600000", "2025-01-01 01:00", "2025-01-02"],
            "kind": ["Visit", "PAGE_VIEW", " visit ", "Form_Submission"],
            "value": ["/", "", "Select", " Demo request "],
        }
    )
    log = read_event_log(frame, EVENTS, "events.csv", MISSING)
    assert log.ids.tolist() == ["7", "8", "9"]
    assert log.lead.tolist() == [0, 1, 0, 2]
    assert log.time.tolist() == [START, START, START + HOUR, START + 24 * HOUR]
    assert log.type.tolist() == ["visit", "page_view", "visit", "form_submission"]
    assert log.value is not None and log.value.tolist() == ["/", None, None, "Demo request"]
    assert log.row.tolist() == [1, 2, 3, 4]
    assert (log.source, len(log)) == ("events.csv", 4)
    assert log.codes_of(["9", "7", "10", None]).tolist() == [2, 0, -1, -1]


def test_read_event_log_lowers_the_types_of_a_large_log_like_python() -> None:
    """The types of a large log are lower-cased once per distinct type (not per event, as
    np.char.lower did): the same text as str.lower, in an object array."""
    types = np.array(["Visit", "PAGE_VIEW", "Email_Open", "FORM_SUBMISSION", "İD", "ß"] * 5_000)
    rng = np.random.default_rng(0)
    rng.shuffle(types)
    frame = pd.DataFrame(
        {
            "lead": (np.arange(len(types)) % 977).astype(str),
            "at": np.full(len(types), START, dtype="datetime64[ns]"),
            "kind": pd.Series(types, dtype="str"),
            "value": pd.Series(["/"] * len(types), dtype="str"),
        }
    )
    log = read_event_log(frame, EVENTS, "events.parquet", MISSING)
    assert log.type.dtype == object
    assert log.type.tolist() == [t.lower() for t in types.tolist()]
    assert set(log.type.tolist()) == {
        "visit",
        "page_view",
        "email_open",
        "form_submission",
        "İD".lower(),
        "ß",
    }


def _events_frame(**changes: list[Any]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "lead": ["1", "2", "3", "4"],
            "at": ["2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z", "1735689600000", "2025-01-03"],
            "kind": ["visit", "visit", "page_view", "email_open"],
            "value": ["/", "/", "/pricing", ""],
        }
    )
    for column, values in changes.items():
        frame[column] = values
    return frame


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        pytest.param(
            _events_frame().drop(columns=["value", "kind"]),
            "event log events.csv is missing column(s) the spec's events section names: "
            "'kind', 'value' (found 'lead', 'at')",
            id="missing-columns",
        ),
        pytest.param(
            _events_frame(lead=["1", "2", " ", "Select"]),
            "event log events.csv row 3, column 'lead': empty in 2 row(s); every event needs "
            "the lead it belongs to",
            id="empty-id",
        ),
        pytest.param(
            _events_frame(kind=["visit", None, "", "visit"]),
            "event log events.csv row 2, column 'kind': empty in 2 row(s); every event needs "
            "a type",
            id="empty-type",
        ),
        pytest.param(
            _events_frame(at=["2025-01-01", "2025-01-02", "NA", ""]),
            "event log events.csv row 3, column 'at': empty in 2 row(s); every event needs "
            "a timestamp",
            id="empty-timestamp",
        ),
        pytest.param(
            _events_frame(at=["2025-01-01", "2025-01-02", "soon", "later"]),
            "event log events.csv row 3, column 'at': cannot read 'soon' as a timestamp "
            "(ISO 8601 such as 2025-03-14T09:14:11Z, or epoch milliseconds)",
            id="bad-timestamp",
        ),
        pytest.param(
            _events_frame(at=["2025-01-01", "2025-01-02", "2025-01-03", " soon "]),
            "event log events.csv row 4, column 'at': cannot read ' soon ' as a timestamp",
            id="bad-timestamp-with-spaces",
        ),
        pytest.param(
            _events_frame(
                at=["2025-01-01", "2025-01-02", "2025-03-14T09:14:99+0000", "2025-01-04"]
            ),
            "event log events.csv row 3, column 'at': cannot read '2025-03-14T09:14:99+0000'",
            id="bad-timestamp-with-an-offset",
        ),
        pytest.param(
            _events_frame(at=["2025-01-01", "1735689600000", "2025-01-03", "12"]),
            "event log events.csv row 4, column 'at': cannot read '12' as a timestamp",
            id="too-small-for-epoch-ms",
        ),
        pytest.param(
            _events_frame(at=[1735689600000, 1735689600000, 1735689600000, 3]),
            "event log events.csv row 4, column 'at': cannot read ",
            id="typed-epoch-ms",
        ),
        pytest.param(
            _events_frame(at=["2025-01-01", "2025-01-02", "3025-01-03", "2025-01-04"]),
            "event log events.csv row 3, column 'at': cannot read '3025-01-03' as a timestamp",
            id="year-out-of-range",
        ),
    ],
)
def test_read_event_log_names_file_row_and_column(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(LeadscoreError) as caught:
        read_event_log(frame, EVENTS, "events.csv", MISSING)
    assert str(caught.value).startswith(message)


# --- events sent inline ----------------------------------------------------------------------


def hubspot_with(events: Mapping[str, Any]) -> DatasetSpec:
    """The default spec, its events section changed."""
    data = yaml.safe_load(builtin_spec_path("hubspot").read_text(encoding="utf-8"))
    data["events"] = {**data["events"], **events}
    return parse_spec(data)


def test_inline_log_reads_each_records_events() -> None:
    records = [
        {"events": [{"at": "2025-01-01T00:00:00Z", "kind": "Visit", "value": " / "}]},
        {"hs_object_id": "x"},
        {
            "events": [
                {"at": 1735689600000, "kind": "form_submission", "value": "Demo request"},
                {"at": "2025-01-02", "kind": " page_view", "value": None},
                {"at": "2025-01-03", "kind": "page_view"},
                {"at": "2025-01-04", "kind": "page_view", "value": "Select"},
            ]
        },
        {"events": []},
    ]
    log = inline_log(records, EVENTS, MISSING)
    assert log.ids.tolist() == [0, 1, 2, 3]
    assert log.lead.tolist() == [0, 2, 2, 2, 2]
    assert log.time.tolist() == [
        START,
        START,
        START + 24 * HOUR,
        START + 48 * HOUR,
        START + 72 * HOUR,
    ]
    assert log.type.tolist() == ["visit", "form_submission", "page_view", "page_view", "page_view"]
    assert log.value is not None
    assert log.value.tolist() == ["/", "Demo request", None, None, None]
    assert log.row.tolist() == [0, 0, 1, 2, 3]


def test_inline_and_logged_events_read_alike() -> None:
    """A value or type reads the same inline as in a file (`to_category`): "3.0" and 3.0
    are the category "3" either way, true is "true"."""
    sent: list[dict[str, Any]] = [
        {"at": "2025-01-01", "kind": kind, "value": value}
        for kind, value in [
            ("Visit", "3.0"),
            ("visit", 3.0),
            ("visit", 7),
            ("visit", True),
            (" VISIT ", " /x "),
            ("visit", "-"),
            (12, "/"),
        ]
    ]
    inline = inline_log([{"events": sent}], EVENTS, MISSING | {"-"})
    frame = pd.DataFrame({key: [e[key] for e in sent] for key in ("at", "kind", "value")})
    logged = read_event_log(frame.assign(lead="1"), EVENTS, "events.csv", MISSING | {"-"})
    assert inline.value is not None and logged.value is not None
    assert (
        inline.value.tolist() == logged.value.tolist() == ["3", "3", "7", "true", "/x", None, "/"]
    )
    assert inline.type.tolist() == logged.type.tolist() == ["visit"] * 6 + ["12"]


def test_records_that_all_send_no_events(
    hubspot_spec: DatasetSpec, windowed_spec: DatasetSpec
) -> None:
    """New leads without a single event: zero counts, no times (an empty log is no error)."""
    as_of = AsOf(START)
    for spec in (hubspot_spec, windowed_spec):
        out = records_as_of([{"events": []}, {"events": []}], spec, as_of)
        assert [r["hs_analytics_num_visits"] for r in out] == [0.0, 0.0]
        assert all(np.isnat(r["hs_analytics_last_visit_timestamp"]) for r in out)
        assert [r["recent_conversion_event_name"] for r in out] == [None, None]
    out = records_as_of([{"events": []}], windowed_spec, as_of)
    assert out[0]["visit_last_7d"] == 0.0 and math.isnan(out[0]["days_since_first_event"])


@pytest.mark.parametrize(
    ("events", "record", "column", "value", "expected"),
    [
        pytest.param("visits", 1, "events", "str", "a list of events", id="not-a-list"),
        pytest.param(["visit"], 1, "events[0]", "str", "an event object", id="not-an-object"),
        pytest.param(
            [{"at": "2025-01-01", "kind": "visit"}, {"at": "soon", "kind": "visit"}],
            1,
            "events[1].at",
            "soon",
            "a timestamp (ISO 8601 such as 2025-03-14T09:14:11Z, or epoch milliseconds)",
            id="bad-timestamp",
        ),
        pytest.param(
            [{"kind": "visit"}], 1, "events[0].at", None, "a timestamp", id="no-timestamp"
        ),
        pytest.param(
            [{"at": "2025-01-01", "kind": "visit"}, {"at": "", "kind": "visit"}],
            1,
            "events[1].at",
            None,
            "a timestamp",
            id="blank-timestamp",
        ),
        pytest.param(
            [{"at": "2025-01-01", "kind": " "}],
            1,
            "events[0].kind",
            " ",
            "an event type",
            id="blank-type",
        ),
        pytest.param(
            [{"at": "2025-01-01", "kind": ["visit"]}],
            1,
            "events[0].kind",
            ["visit"],
            "an event type",
            id="list-type",
        ),
        pytest.param(
            [{"at": "2025-01-01", "kind": "visit", "value": {"url": "/"}}],
            1,
            "events[0].value",
            {"url": "/"},
            "a text value",
            id="object-value",
        ),
    ],
)
def test_inline_log_errors_name_record_and_key(
    events: Any, record: int, column: str, value: Any, expected: str
) -> None:
    records = [{"events": []}, {"events": events}]
    with pytest.raises(CoercionError) as caught:
        inline_log(records, EVENTS, MISSING)
    error = caught.value
    assert (error.column, error.value, error.expected) == (column, value, expected)
    assert error.record == record  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def windowed_spec() -> DatasetSpec:
    """The default spec with window features (7 and 30 days): scoring needs the events."""
    return hubspot_with({"windows": [7, 30]})


def test_records_as_of_errors(hubspot_spec: DatasetSpec, windowed_spec: DatasetSpec) -> None:
    as_of = AsOf(START + 10 * NS_PER_DAY)
    visit = {"timestamp": "2025-01-02T00:00:00Z", "event_type": "visit", "event_value": "/"}
    late = {**visit, "timestamp": "2025-01-11T00:00:00.001Z"}
    with pytest.raises(FutureTimestampError) as caught:
        records_as_of([{"events": [visit]}, {"events": [visit, visit, late]}], hubspot_spec, as_of)
    error = caught.value
    assert (error.row, error.column, error.as_of) == (1, "events[2].timestamp", as_of.ns)
    assert error.value == "2025-01-11T00:00:00.001Z"

    with pytest.raises(CoercionError) as missing:
        records_as_of([{"events": []}, {"hs_object_id": "2"}], windowed_spec, as_of)
    assert (missing.value.column, missing.value.record) == ("events", 1)  # type: ignore[attr-defined]
    assert "this model reads window features from them" in str(missing.value)

    with pytest.raises(CoercionError) as bad:
        records_as_of(
            [{"events": [visit]}, {"events": [{"event_type": "visit"}]}], hubspot_spec, as_of
        )
    assert (bad.value.column, bad.value.record) == ("events[0].timestamp", 1)  # type: ignore[attr-defined]


def test_records_as_of_keeps_the_crms_values_of_leads_without_events(
    hubspot_spec: DatasetSpec,
) -> None:
    as_of = AsOf(START + 10 * NS_PER_DAY)
    own = {"hs_object_id": "1", "hs_analytics_num_visits": "12"}
    sent = {
        "hs_object_id": "2",
        "hs_analytics_num_visits": "12",
        "events": [{"timestamp": START // 10**6, "event_type": "visit", "event_value": "/"}],
    }
    empty = {"hs_object_id": "3", "hs_analytics_num_visits": "12", "events": []}
    out = records_as_of([own, sent, empty], hubspot_spec, as_of)
    assert out[0] is own
    assert [r["hs_analytics_num_visits"] for r in out] == ["12", 1.0, 0.0]
    assert out[1]["hs_analytics_first_visit_timestamp"] == np.datetime64(START, "ns")
    assert np.isnat(out[2]["hs_analytics_last_visit_timestamp"])
    assert out[1]["recent_conversion_event_name"] is None
    assert records_as_of([own], hubspot_spec, as_of) == [own]


def test_with_event_columns_refuses_a_future_event_of_a_scored_lead(
    hubspot_spec: DatasetSpec,
) -> None:
    events = pd.DataFrame(
        {
            "hs_object_id": ["1", "2", "2"],
            "timestamp": ["2025-01-01", "2025-01-02", "2025-01-20T00:00:00Z"],
            "event_type": ["visit", "visit", "visit"],
            "event_value": ["/", "/", "/"],
        }
    )
    log = read_event_log(events, hubspot_spec.events, "events.csv", MISSING)  # type: ignore[arg-type]
    frame = pd.DataFrame({"hs_object_id": ["1", "2"]})
    with pytest.raises(LeadscoreError) as caught:
        with_event_columns(frame, hubspot_spec, log, AsOf(START + 10 * NS_PER_DAY))
    assert str(caught.value) == (
        "events.csv row 3: the event of lead '2' at 2025-01-20T00:00:00Z is after the moment "
        "of scoring (as_of 2025-01-11T00:00:00Z); 1 event(s) are. Score as of a later moment, "
        "or leave out events from after it"
    )
    # only the scored leads' events count: lead 2 is not scored here
    one = with_event_columns(frame.iloc[:1], hubspot_spec, log, AsOf(START + 10 * NS_PER_DAY))
    assert one["hs_analytics_num_visits"].tolist() == [1.0]


def test_with_event_columns_as_of_now_ignores_other_leads_events(
    hubspot_spec: DatasetSpec,
) -> None:
    """Scoring as of an implicit now (with its clock skew): another lead's events are no
    reason to refuse (the "no moment" of an unscored lead must not overflow)."""
    events = pd.DataFrame(
        {
            "hs_object_id": ["1", "2"],
            "timestamp": ["2025-01-01", "2025-01-02"],
            "event_type": ["visit", "visit"],
            "event_value": ["/", "/"],
        }
    )
    log = read_event_log(events, hubspot_spec.events, "events.csv", MISSING)  # type: ignore[arg-type]
    out = with_event_columns(pd.DataFrame({"hs_object_id": ["1"]}), hubspot_spec, log, AsOf.now())
    assert out["hs_analytics_num_visits"].tolist() == [1.0]
    assert out["hs_analytics_last_visit_timestamp"].tolist() == [pd.Timestamp("2025-01-01")]


# --- the batch path and the record path agree ---------------------------------------------


def crm_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every value as text, empty for missing: a CSV export."""
    return frame.astype(object).where(frame.notna(), "").astype(str)


@pytest.mark.parametrize("windows", [False, True], ids=["hubspot", "hubspot-windows"])
def test_batch_and_records_rebuild_the_same_features(
    small_demo: Demo, hubspot_spec: DatasetSpec, windowed_spec: DatasetSpec, windows: bool
) -> None:
    spec = windowed_spec if windows else hubspot_spec
    assert spec.events is not None
    contacts = crm_text(small_demo.contacts)
    events = small_demo.events
    moment = int(pd.Timestamp("2026-03-01", tz="UTC").value)
    # leads created before the moment, with events up to it only (later ones are refused)
    chosen = contacts[pd.to_datetime(contacts["createdate"]) < pd.Timestamp("2026-02-20", tz="UTC")]
    chosen = chosen.sample(40, random_state=5).reset_index(drop=True)
    mine = events[
        events["hs_object_id"].isin(chosen["hs_object_id"])
        & (events["timestamp"] <= pd.Timestamp(moment, unit="ns"))
    ].reset_index(drop=True)
    text = crm_text(mine)
    text["timestamp"] = [iso(t) for t in mine["timestamp"].to_numpy().astype("datetime64[ns]")]
    text.loc[1::2, "timestamp"] = (  # every other event in epoch ms, as HubSpot's v1 API
        mine["timestamp"]
        .iloc[1::2]
        .to_numpy()
        .astype("datetime64[ms]")
        .astype(np.int64)
        .astype(str)
    )
    # plus events of other leads, after the moment: not these leads' business
    others = crm_text(events[~events["hs_object_id"].isin(chosen["hs_object_id"])].tail(50))
    log = read_event_log(pd.concat([text, others]), spec.events, "events.csv", MISSING)
    as_of = AsOf(moment)
    batch = with_event_columns(chosen, spec, log, as_of)

    records = []
    for i, row in enumerate(chosen.to_dict("records")):
        sent = text[text["hs_object_id"] == row["hs_object_id"]]
        records.append(
            {
                **row,
                "events": [
                    {
                        "timestamp": int(t) if i % 3 == 0 and t.isdigit() else t,
                        "event_type": kind,
                        "event_value": value,
                    }
                    for t, kind, value in zip(
                        sent["timestamp"], sent["event_type"], sent["event_value"], strict=True
                    )
                ],
            }
        )
    rebuilt = records_as_of(records, spec, as_of)
    assert len(mine) > 200 and (batch["hs_analytics_num_visits"] > 0).mean() > 0.5
    for name in spec.event_columns:
        from_records = [r[name] for r in rebuilt]
        for i, (a, b) in enumerate(zip(batch[name].tolist(), from_records, strict=True)):
            same = (a == b) or (pd.isna(a) and pd.isna(b))
            assert same, (name, i, a, b)
    encoder = FeatureEncoder(spec, min_category_count=2).fit(batch)
    np.testing.assert_array_equal(
        encoder.transform(batch, as_of), encoder.transform_records(rebuilt, as_of)
    )


# --- an event after the moment never changes a score ----------------------------------------


@dataclass(frozen=True)
class Trained:
    scorer: Any
    contacts: pd.DataFrame  # CRM text, the leads scored below
    events: pd.DataFrame  # their events, as CRM text
    moments: np.ndarray  # each lead's moment (ns)


@pytest.fixture(scope="module")
def trained(small_demo: Demo, hubspot_spec: DatasetSpec) -> Trained:
    """A small scorer trained point-in-time on the generated leads, and 30 leads to score,
    each at a moment of its own (its first two weeks)."""
    from training.config import TrainConfig
    from training.data import prepare_point_in_time
    from training.train import train_scorer

    assert hubspot_spec.events is not None
    config = TrainConfig.model_validate(
        {"booster": {"max_rounds": 40, "early_stopping_rounds": 10}, "calibration_folds": 3}
    )
    contacts = crm_text(small_demo.contacts)
    log = read_event_log(small_demo.events, hubspot_spec.events, "gen", hubspot_spec.missing_tokens)
    prepared = prepare_point_in_time(contacts, log, hubspot_spec, config.examples, 50)
    scorer = train_scorer(prepared, hubspot_spec, config).scorer
    chosen = contacts.sample(30, random_state=2).reset_index(drop=True)
    created = read_timestamps(chosen["createdate"], "createdate").astype(np.int64)
    moments = created + np.random.default_rng(2).integers(0, 14 * 24, len(chosen)) * HOUR
    events = crm_text(
        small_demo.events[small_demo.events["hs_object_id"].isin(chosen["hs_object_id"])]
    )
    events["timestamp"] = [
        iso(t)
        for t in small_demo.events.loc[events.index, "timestamp"]
        .to_numpy()
        .astype("datetime64[ns]")
    ]
    return Trained(scorer, chosen, events.reset_index(drop=True), moments)


def scores(trained: Trained, events: pd.DataFrame, spec: DatasetSpec) -> dict[str, np.ndarray]:
    assert spec.events is not None
    log = read_event_log(events, spec.events, "events.csv", spec.missing_tokens)
    frame = trained.contacts.copy()
    codes = log.codes_of(frame[spec.id].to_numpy())
    for name, values in event_columns(spec.events, log, codes, trained.moments).items():
        frame[name] = values
    scorer = trained.scorer
    return scorer.score_matrix(scorer.encoder.transform(frame, AsOf(trained.moments)))


LATER_TYPES = ["visit", "page_view", "email_open", "email_click", "form_submission"]
LATER_VALUES = ["/pricing", "/", "Demo request", "Contact sales", "Newsletter #9", "Free trial"]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    later=st.lists(
        st.tuples(
            st.integers(0, 29),
            st.integers(0, 60 * 24),  # hours after the lead's moment (0: at it)
            st.sampled_from(LATER_TYPES),
            st.sampled_from(LATER_VALUES),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_an_event_after_the_moment_never_changes_the_score(
    trained: Trained, hubspot_spec: DatasetSpec, later: list[tuple[int, int, str, str]]
) -> None:
    base = scores(trained, trained.events, hubspot_spec)
    extra = pd.DataFrame(
        {
            "hs_object_id": [trained.contacts["hs_object_id"].iloc[i] for i, _, _, _ in later],
            "timestamp": [iso(trained.moments[i] + h * HOUR) for i, h, _, _ in later],
            "event_type": [kind for _, _, kind, _ in later],
            "event_value": [value for _, _, _, value in later],
        }
    )
    with_later = pd.concat([extra, trained.events], ignore_index=True)
    after = scores(trained, with_later, hubspot_spec)
    for name in ("probability", "fit", "interest"):
        np.testing.assert_array_equal(after[name], base[name], err_msg=name)


def test_the_scorer_reads_the_events_before_the_moment(
    trained: Trained, hubspot_spec: DatasetSpec
) -> None:
    """The invariance above is worth something: events before the moment do move scores."""
    base = scores(trained, trained.events, hubspot_spec)
    earlier = pd.DataFrame(
        {
            "hs_object_id": np.repeat(trained.contacts["hs_object_id"].to_numpy(), 12),
            "timestamp": [iso(m - h * HOUR) for m in trained.moments for h in range(1, 13)],
            "event_type": ["page_view", "visit", "form_submission"] * 4 * 30,
            "event_value": ["/pricing", "/pricing", "Demo request"] * 4 * 30,
        }
    )
    moved = scores(trained, pd.concat([trained.events, earlier], ignore_index=True), hubspot_spec)
    assert (moved["interest"] != base["interest"]).mean() > 0.5
    assert moved["probability"].mean() > base["probability"].mean()


def test_null_events_are_no_events_sent(hubspot_spec: DatasetSpec) -> None:
    """`"events": null` keeps the CRM's own values, as a lead without the key does."""
    record = {"hs_object_id": "1", "hs_analytics_num_visits": "14"}
    moment = AsOf(read_as_of("2026-07-01T00:00:00Z"))
    [kept] = records_as_of([{**record, "events": None}], hubspot_spec, moment)
    assert kept["hs_analytics_num_visits"] == "14"
    [rebuilt] = records_as_of([{**record, "events": []}], hubspot_spec, moment)
    assert rebuilt["hs_analytics_num_visits"] == 0.0


def test_an_event_within_the_clock_skew_of_now_counts_as_just_now(
    hubspot_spec: DatasetSpec,
) -> None:
    now = AsOf.now()
    ahead = iso(int(now.ns) + 60 * 1_000_000_000)  # the CRM's clock a minute ahead
    sent = [{"timestamp": ahead, "event_type": "visit", "event_value": "/"}]
    [record] = records_as_of([{"events": sent}], hubspot_spec, now)
    assert record["hs_analytics_num_visits"] == 1.0
    with pytest.raises(FutureTimestampError):  # an explicit moment is exact
        records_as_of([{"events": sent}], hubspot_spec, AsOf(int(now.ns)))
