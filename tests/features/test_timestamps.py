"""Timestamps: one reading rule for one value (`to_timestamp`) and for a column
(`read_timestamps`), and the days from a timestamp to the moment of scoring."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.coerce import CoercionError
from features.errors import LeadscoreError
from features.spec import DEFAULT_MISSING_VALUES
from features.timestamps import (
    CLOCK_SKEW_NS,
    EXPECTED,
    NS_PER_DAY,
    AsOf,
    FutureTimestampError,
    days_since,
    iso,
    now,
    read_as_of,
    read_timestamps,
    to_timestamp,
)

MISSING = frozenset([*DEFAULT_MISSING_VALUES, "Select", "Unknown", "-"])
COLUMN = "hs_analytics_last_visit_timestamp"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ns(*parts: int, nanos: int = 0, hours: int = 0) -> int:
    """An instant in ns since the epoch, by integer arithmetic on a calendar time given in
    UTC+`hours` (year, month, day[, hour, minute, second, microsecond])."""
    moment = datetime(*parts, tzinfo=timezone(timedelta(hours=hours)))  # type: ignore[misc]
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000 + nanos


# 2025-03-14T09:14:11.123Z, as HubSpot's v3 API writes it, and the same instant in
# epoch milliseconds, as the v1 APIs and exports write it.
MOMENT = ns(2025, 3, 14, 9, 14, 11, 123_000)
MOMENT_MS = 1_741_943_651_123

# (text as a CRM sends it, the instant it stands for; None: missing)
TEXTS: list[tuple[str, int | None]] = [
    ("2025-03-14T09:14:11.123Z", MOMENT),
    ("2025-03-14T09:14:11Z", ns(2025, 3, 14, 9, 14, 11)),
    (str(MOMENT_MS), MOMENT),
    (f" {MOMENT_MS}\t", MOMENT),
    (f"{MOMENT_MS}.5", MOMENT + 500_000),
    (f"{MOMENT_MS}.000", MOMENT),
    (f"-{MOMENT_MS}", -MOMENT),  # 1914: before the epoch
    ("100000000000", 10**17),  # the smallest number read as epoch ms (1973-03-03)
    ("2025-03-14T11:14:11.123+02:00", MOMENT),
    ("2025-03-14T09:14:11.123+0000", MOMENT),  # Salesforce
    ("2025-03-14T04:14:11.123-0500", MOMENT),
    ("2025-03-14T14:44:11.123+05:30", MOMENT),
    ("2025-03-14T09:14:11.123", MOMENT),  # no zone: UTC
    ("2025-03-14 09:14:11.123", MOMENT),
    ("2025-03-14", ns(2025, 3, 14)),
    ("  2025-03-14T09:14:11.123Z \n", MOMENT),
    ("2025-03-14T09:14:11.123456Z", ns(2025, 3, 14, 9, 14, 11, 123_456)),
    ("2025-03-14T09:14:11.123456789Z", ns(2025, 3, 14, 9, 14, 11, 123_456, nanos=789)),
    (
        "2025-03-14T10:14:11.123456789+0100",
        ns(2025, 3, 14, 10, 14, 11, 123_456, nanos=789, hours=1),
    ),
    ("2025-03-14 09:14:11 UTC", ns(2025, 3, 14, 9, 14, 11)),  # read through pandas
    ("1677-09-22T00:00:00Z", ns(1677, 9, 22)),  # the range datetime64[ns] holds
    ("2262-04-10T23:59:59.999Z", ns(2262, 4, 10, 23, 59, 59, 999_000)),
    ("", None),
    ("   ", None),
    ("NA", None),
    (" Select ", None),
    ("nan", None),
    ("Unknown", None),
]


def test_the_oracle() -> None:
    """The expected instants, checked against pandas and a hand count of days."""
    assert pd.Timestamp("2025-03-14T09:14:11.123Z").value == MOMENT
    days = (date(2025, 3, 14) - date(1970, 1, 1)).days
    assert ((days * 24 + 9) * 3600 + 14 * 60 + 11) * 10**9 + 123 * 10**6 == MOMENT
    assert ns(2025, 3, 14, 10, hours=1) == ns(2025, 3, 14, 9)
    assert sum(expected == MOMENT for _, expected in TEXTS) >= 10


@pytest.mark.parametrize(("text", "expected"), TEXTS, ids=[repr(t) for t, _ in TEXTS])
def test_to_timestamp_reads_each_spelling(text: str, expected: int | None) -> None:
    assert to_timestamp(text, COLUMN, MISSING) == expected


@pytest.mark.parametrize("dtype", [object, "string[python]", "string[pyarrow]", "str"])
def test_a_column_reads_as_its_values_do(dtype: Any) -> None:
    """The vectorised rule gives, value for value, what the scalar rule gives: a column
    holding the whole zoo (epoch ms, ISO, pandas-only spellings and missing markers)."""
    texts = [text for text, _ in TEXTS]
    column = pd.Series(texts * 3, dtype=dtype, index=np.arange(len(texts) * 3) * 7)
    read = read_timestamps(column, COLUMN, MISSING)
    assert read.dtype == np.dtype("datetime64[ns]")
    expected = [e for _, e in TEXTS] * 3
    got = [None if np.isnat(v) else int(v.astype(np.int64)) for v in read]
    assert got == expected
    assert got == [to_timestamp(v, COLUMN, MISSING) for v in column.tolist()]


# Values a typed source (Parquet, JSON, the service's records) sends.
TYPED: list[tuple[Any, int | None]] = [
    (MOMENT_MS, MOMENT),
    (float(MOMENT_MS), MOMENT),
    (np.int64(MOMENT_MS), MOMENT),
    (np.float64(MOMENT_MS + 0.25), MOMENT + 250_000),
    (datetime(2025, 3, 14, 9, 14, 11, 123_000), MOMENT),  # naive: UTC
    (datetime(2025, 3, 14, 11, 14, 11, 123_000, tzinfo=timezone(timedelta(hours=2))), MOMENT),
    (date(2025, 3, 14), ns(2025, 3, 14)),
    (pd.Timestamp("2025-03-14T09:14:11.123456789"), ns(2025, 3, 14, 9, 14, 11, 123_456, nanos=789)),
    (pd.Timestamp("2025-03-14T11:14:11.123+02:00"), MOMENT),
    (np.datetime64("2025-03-14T09:14:11.123"), MOMENT),
    (
        np.datetime64("2025-03-14T09:14:11.123456789", "ns"),
        ns(2025, 3, 14, 9, 14, 11, 123_456, nanos=789),
    ),
    (None, None),
    (math.nan, None),
    (pd.NA, None),
    (pd.NaT, None),
    (np.datetime64("NaT"), None),
]


@pytest.mark.parametrize(("value", "expected"), TYPED, ids=[repr(v) for v, _ in TYPED])
def test_typed_values_read_alike_alone_and_in_a_column(value: Any, expected: int | None) -> None:
    assert to_timestamp(value, COLUMN, MISSING) == expected
    mixed = pd.Series([value, "2025-03-14", value], dtype=object)
    read = read_timestamps(mixed, COLUMN, MISSING)
    got = [None if np.isnat(v) else int(v.astype(np.int64)) for v in read]
    assert got == [expected, ns(2025, 3, 14), expected]


@pytest.mark.parametrize(
    "column",
    [
        pd.Series([MOMENT_MS, 10**12, MOMENT_MS], dtype="int64"),
        pd.Series([MOMENT_MS, 10**12, None], dtype="Int64"),
        pd.Series([float(MOMENT_MS), 1e12, math.nan], dtype="float64"),
        pd.Series([str(MOMENT_MS), "1000000000000", None], dtype="string[pyarrow]"),
        pd.Series(pd.to_datetime([MOMENT, 10**18, None]), dtype="datetime64[ns]"),
        pd.Series(pd.to_datetime([MOMENT, 10**18, None]).as_unit("ms")),
        pd.Series(pd.to_datetime([MOMENT, 10**18, None]).as_unit("us").tz_localize("UTC")),
        pd.Series(
            pd.to_datetime([MOMENT, 10**18, None]).tz_localize("UTC").tz_convert("Europe/Berlin")
        ),
    ],
    ids=["int64", "Int64", "float64", "arrow-text", "ns", "ms", "us-utc", "berlin"],
)
def test_typed_columns(column: pd.Series) -> None:
    read = read_timestamps(column, COLUMN, MISSING)
    assert read.dtype == np.dtype("datetime64[ns]")
    assert read.astype(np.int64)[:2].tolist() == [MOMENT, 10**18]
    if len(column) > 2 and column.isna().iloc[2]:
        assert np.isnat(read[2])
    assert [to_timestamp(v, COLUMN, MISSING) for v in column.tolist()][:2] == [MOMENT, 10**18]


def test_epoch_milliseconds_and_iso_are_the_same_instant_to_the_nanosecond() -> None:
    """Epoch ms are read exactly: an event in ms and an `as_of` in ISO 8601 at the same
    instant are equal, not 64 ns apart (float ms × 1e6 rounds to 256 ns steps)."""
    ms = np.arange(1_700_000_000_000, 1_700_000_000_000 + 5_000 * 7_919, 7_919)
    read = read_timestamps(pd.Series(ms), COLUMN)
    np.testing.assert_array_equal(read.astype(np.int64), ms * 1_000_000)
    texts = read_timestamps(pd.Series(ms.astype(str)), COLUMN)
    np.testing.assert_array_equal(texts.astype(np.int64), ms * 1_000_000)
    assert [to_timestamp(int(m), COLUMN) for m in ms[:200]] == [int(m) * 10**6 for m in ms[:200]]
    assert to_timestamp(str(MOMENT_MS), COLUMN) == to_timestamp(iso(MOMENT), COLUMN)


def test_blank_text_is_missing_even_when_not_listed() -> None:
    """A blank cell holds no timestamp; both rules agree on it without a missing list."""
    assert to_timestamp("", COLUMN) is None
    assert to_timestamp("  ", COLUMN) is None
    assert np.isnat(read_timestamps(pd.Series(["", "  "], dtype="str"), COLUMN)).all()


BAD: list[Any] = [
    "soon",
    "2025-13-01",
    "2025-02-30",
    "2025-03-14T25:00:00Z",
    "14/03/2025 25:00",
    "12",  # a count, not epoch ms
    "99999999999",  # just below 1e11 ms
    "1710407651",  # epoch seconds: would be January 1970 as milliseconds
    "now",  # pandas reads it as the current time
    "Today",
    "1e12",
    "1,741,943,651,123",
    "3025-03-14",  # a typo: datetime64[ns] ends in 2262, numpy would wrap it around
    "1500-01-01T00:00:00Z",
    "99999999999999",  # epoch ms of the year 5138
    "inf",
    12,
    1.5,
    -(10**8),
    10**16,
    math.inf,
    True,
    False,
    datetime(3025, 3, 14),
    np.datetime64("3025-03-14"),
    pd.Timestamp("3025-03-14"),
]


@pytest.mark.parametrize("value", BAD, ids=[repr(v) for v in BAD])
def test_bad_values_name_the_column_and_the_format(value: Any) -> None:
    with pytest.raises(CoercionError) as one:
        to_timestamp(value, COLUMN, MISSING)
    assert isinstance(one.value, LeadscoreError)
    assert (one.value.column, one.value.expected) == (COLUMN, EXPECTED)
    assert one.value.value is value
    assert str(one.value) == f"column {COLUMN!r}: cannot read {value!r} as {EXPECTED}"
    assert "ISO 8601" in EXPECTED and "epoch milliseconds" in EXPECTED

    column = pd.Series(["2025-03-14T09:14:11Z", None, value, str(MOMENT_MS)], dtype=object)
    with pytest.raises(CoercionError) as many:
        read_timestamps(column, COLUMN, MISSING)
    assert (many.value.column, many.value.expected) == (COLUMN, EXPECTED)
    assert many.value.value is value  # the value as sent, not as cleaned up


@pytest.mark.parametrize(
    "column",
    [
        pd.Series([MOMENT_MS, 12], dtype="int64"),
        pd.Series([float(MOMENT_MS), 1e20], dtype="float64"),
        pd.Series([MOMENT_MS, 99_999_999_999_999], dtype="Int64"),
        pd.Series(pd.to_datetime(["2025-03-14", "3025-03-14"])),  # datetime64[us]
        pd.Series(pd.to_datetime(["2025-03-14", "1500-01-01"]).tz_localize("UTC")),
        pd.Series([True, False]),
    ],
    ids=["int-count", "float-huge", "Int64-year-5138", "us-3025", "us-1500-utc", "bool"],
)
def test_bad_typed_columns_are_refused(column: pd.Series) -> None:
    with pytest.raises(CoercionError) as caught:
        read_timestamps(column, COLUMN, MISSING)
    assert caught.value.column == COLUMN
    assert str(caught.value).startswith(f"column {COLUMN!r}: cannot read ")


@pytest.mark.parametrize(
    ("values", "first"),
    [
        (["2025-03-14", "later", "sooner"], "later"),
        ([str(MOMENT_MS), " 12 ", "13"], " 12 "),
        (["2025-03-14", " 3025-01-01", "3026-01-01"], " 3025-01-01"),
    ],
)
def test_the_error_names_the_first_bad_value(values: list[str], first: str) -> None:
    with pytest.raises(CoercionError) as caught:
        read_timestamps(pd.Series(values * 40, dtype="str"), COLUMN, MISSING)
    assert caught.value.value == first


# --- the moment of scoring ------------------------------------------------------------------

AS_OF = ns(2025, 3, 14, 12)


def stamps(*values: int | None) -> np.ndarray:
    return np.array(
        [np.datetime64("NaT") if v is None else np.datetime64(v, "ns") for v in values],
        dtype="datetime64[ns]",
    )


def test_days_since_counts_to_the_moment() -> None:
    days = days_since(
        stamps(AS_OF - NS_PER_DAY * 3 // 2, AS_OF, None, AS_OF - 400 * NS_PER_DAY),
        AsOf(AS_OF),
        COLUMN,
    )
    np.testing.assert_array_equal(days, [1.5, 0.0, math.nan, 400.0])


def test_days_since_with_one_moment_per_row() -> None:
    moments = np.array([AS_OF, AS_OF + NS_PER_DAY, AS_OF + 10 * NS_PER_DAY])
    days = days_since(stamps(AS_OF, AS_OF, None), AsOf(moments), COLUMN)
    np.testing.assert_array_equal(days, [0.0, 1.0, math.nan])


@pytest.mark.parametrize("row", [0, 2, 4])
@pytest.mark.parametrize("with_values", [True, False])
def test_a_future_timestamp_names_its_row(row: int, with_values: bool) -> None:
    values = [AS_OF - NS_PER_DAY] * 5
    values[row] = AS_OF + 1  # one nanosecond late
    if row < 4:
        values[4] = AS_OF + NS_PER_DAY  # later rows are late too: the first one is named
    texts = [iso(v) + f"#{i}" for i, v in enumerate(values)]
    with pytest.raises(FutureTimestampError) as caught:
        days_since(stamps(*values), AsOf(AS_OF), COLUMN, texts if with_values else None)
    error = caught.value
    assert isinstance(error, CoercionError)
    assert (error.row, error.as_of, error.column) == (row, AS_OF, COLUMN)
    assert error.value == (texts[row] if with_values else iso(AS_OF + 1))
    assert error.expected == "a time at or before as_of 2025-03-14T12:00:00Z"


def test_a_future_timestamp_against_its_own_rows_moment() -> None:
    moments = np.array([AS_OF + 5 * NS_PER_DAY, AS_OF])
    with pytest.raises(FutureTimestampError) as caught:
        days_since(stamps(AS_OF + NS_PER_DAY, AS_OF + NS_PER_DAY), AsOf(moments), COLUMN)
    assert (caught.value.row, caught.value.as_of) == (1, AS_OF)


@pytest.mark.parametrize(
    ("ahead", "implicit", "days"),
    [
        pytest.param(0, False, 0.0, id="explicit-at-the-moment"),
        pytest.param(1, False, None, id="explicit-1ns-late"),
        pytest.param(60 * 10**9, True, 0.0, id="implicit-1min-ahead"),
        pytest.param(CLOCK_SKEW_NS, True, 0.0, id="implicit-exactly-the-skew"),
        pytest.param(CLOCK_SKEW_NS + 1, True, None, id="implicit-beyond-the-skew"),
        pytest.param(NS_PER_DAY, True, None, id="implicit-a-day-ahead"),
    ],
)
def test_clock_skew_of_an_implicit_now(ahead: int, implicit: bool, days: float | None) -> None:
    """A CRM clock a little ahead of ours is still "now", when now is implicit."""
    as_of = AsOf(AS_OF, implicit=implicit)
    assert as_of.slack == (CLOCK_SKEW_NS if implicit else 0)
    given = stamps(AS_OF - NS_PER_DAY, AS_OF + ahead)
    if days is None:
        with pytest.raises(FutureTimestampError) as caught:
            days_since(given, as_of, COLUMN)
        assert caught.value.row == 1
    else:
        np.testing.assert_array_equal(days_since(given, as_of, COLUMN), [1.0, days])


def test_as_of_rows() -> None:
    assert AsOf(AS_OF).rows(3).tolist() == [AS_OF] * 3
    assert AsOf(np.array([1, 2])).rows(2).tolist() == [1, 2]
    assert AsOf(np.array([1, 2])).at(1) == 2 and AsOf(AS_OF).at(7) == AS_OF
    assert AsOf(np.array([AS_OF, AS_OF - NS_PER_DAY])).text == "2025-03-14T12:00:00Z"
    with pytest.raises(ValueError, match=r"as_of has 2 moment\(s\) for 3 row\(s\)"):
        AsOf(np.array([1, 2])).rows(3)


def test_as_of_of_a_value() -> None:
    explicit = AsOf.of("2025-03-14T12:00:00Z")
    assert (explicit.ns, explicit.implicit) == (AS_OF, False)
    assert AsOf.of(str(AS_OF // 10**6)).ns == AS_OF
    before = now()
    implicit = AsOf.of(None)
    assert implicit.implicit and before <= int(implicit.ns) <= now()
    with pytest.raises(CoercionError) as caught:
        AsOf.of("soon", field="body.as_of")
    assert str(caught.value) == f"column 'body.as_of': cannot read 'soon' as {EXPECTED}"
    with pytest.raises(CoercionError, match="column 'as_of'"):
        read_as_of("")


@pytest.mark.parametrize(
    ("instant", "text"),
    [
        (AS_OF, "2025-03-14T12:00:00Z"),
        (MOMENT, "2025-03-14T09:14:11.123Z"),
        (0, "1970-01-01T00:00:00Z"),
        (np.int64(MOMENT), "2025-03-14T09:14:11.123Z"),
        (np.datetime64(MOMENT, "ns"), "2025-03-14T09:14:11.123Z"),
    ],
)
def test_iso(instant: Any, text: str) -> None:
    assert iso(instant) == text
    assert to_timestamp(text, COLUMN) == int(np.asarray(instant).astype(np.int64))
