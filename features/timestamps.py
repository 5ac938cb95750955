"""Reading CRM timestamps, and "now" as an explicit moment (`as_of`).

HubSpot sends a date-time property either as epoch milliseconds (`"1710407651123"`,
as the v1 APIs and exports do) or as ISO 8601 (`"2025-03-14T09:14:11.123Z"`, as the v3
API does); Salesforce sends ISO 8601 with an offset (`"2025-03-14T09:14:11.000+0000"`).
Both read here, as nanoseconds since the epoch (UTC). A time without a zone is UTC.

Two entry points share one reading rule: `to_timestamp` for one value (the service's
records, no pandas) and `read_timestamps` for a column (batch and training). A test
feeds both the same zoo of values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from features.coerce import CoercionError, is_missing

NS_PER_DAY = 86_400 * 1_000_000_000
NS_PER_MS = 1_000_000
EXPECTED = "a timestamp (ISO 8601 such as 2025-03-14T09:14:11Z, or epoch milliseconds)"
# datetime64[ns] holds the moments from 1677-09-21 to 2262-04-11; numpy and pandas would
# wrap one outside around to another date (a typo such as 3025 becoming 1856), so it is
# refused. Days, so that comparing with a moment of any unit needs no conversion.
_FIRST_DAY = np.datetime64("1677-09-22", "D")
_END_DAY = np.datetime64("2262-04-11", "D")  # the first day not read
_FIRST_NS = int(_FIRST_DAY.astype("datetime64[ns]").astype(np.int64))
_END_NS = int(_END_DAY.astype("datetime64[ns]").astype(np.int64))
# Numbers are epoch milliseconds: 1e11 ms is March 1973, before any CRM. Below that a
# number is no CRM timestamp (epoch seconds such as 1710407651 would read as January 1970,
# a count, a typo); above the range of datetime64[ns] neither.
_MIN_MS = 1e11
_FIRST_MS, _END_MS = _FIRST_NS // NS_PER_MS, _END_NS // NS_PER_MS
_DIGITS = re.compile(r"^-?\d+(?:\.\d+)?$")
# Salesforce writes offsets without a colon (+0000); Python's parser wants +00:00.
_BARE_OFFSET = re.compile(r"([+-]\d{2})(\d{2})$")
# More than microseconds: Python's parser would drop the nanoseconds that pandas keeps.
_NANOSECONDS = re.compile(r"[.,]\d{7,}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# ISO 8601 as HubSpot's v3 API and most exports write it, which Python's own parser reads
# exactly as pandas does: date, time, up to 6 fractional digits, Z or ±HH:MM.
_PLAIN_ISO = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})?$"
)
_WORDS = re.compile(r"^[A-Za-z ]+$")


def to_timestamp(value: Any, column: str, missing: Collection[str] = ()) -> int | None:
    """One value as ns since the epoch (UTC), or None when missing (or blank)."""
    if is_missing(value, missing):
        return None
    if isinstance(value, bool):
        raise CoercionError(column, value, EXPECTED)
    if isinstance(value, pd.Timestamp):
        return _from_datetime64(value.asm8, value, column)  # asm8: UTC, in its own unit
    if isinstance(value, datetime):
        return _from_datetime(value, value, column)
    if isinstance(value, date):
        return _from_datetime(datetime(value.year, value.month, value.day), value, column)
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else _from_datetime64(value, value, column)
    if isinstance(value, int | float | np.integer | np.floating):
        try:
            number = float(value)
        except OverflowError:  # an integer of hundreds of digits
            raise CoercionError(column, _short(value), EXPECTED) from None
        return _from_ms(number, value, column)
    text = str(value).strip()
    if not text:
        return None
    if _PLAIN_ISO.match(text):  # most CRM timestamps: Python's parser, no regex rewriting
        try:
            return _from_datetime(datetime.fromisoformat(text), value, column)
        except ValueError:  # hour 25, February 30
            raise CoercionError(column, value, EXPECTED) from None
    if _WORDS.match(text):  # "now", "today": pandas would read them as the current time
        raise CoercionError(column, value, EXPECTED)
    if _DIGITS.match(text):
        return _from_ms(float(text), value, column)
    if not _NANOSECONDS.search(text):
        try:
            moment = datetime.fromisoformat(_BARE_OFFSET.sub(r"\1:\2", text))
        except ValueError:
            pass
        else:
            return _from_datetime(moment, value, column)
    try:  # other spellings pandas reads (e.g. "2025-03-14 09:14:11 UTC", nanoseconds)
        stamp = pd.Timestamp(text)
    except (ValueError, OverflowError):
        raise CoercionError(column, value, EXPECTED) from None
    if stamp is pd.NaT:
        raise CoercionError(column, value, EXPECTED)
    return _from_datetime64(stamp.asm8, value, column)


def _short(value: Any) -> Any:
    """A huge integer described, not printed (Python refuses to print 4,300+ digits)."""
    if isinstance(value, int) and value.bit_length() > 128:
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    return value


def _from_datetime(moment: datetime, value: Any, column: str) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    ns = (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    if not _FIRST_NS <= ns < _END_NS:
        raise CoercionError(column, value, EXPECTED)
    return ns


def _from_datetime64(moment: np.datetime64, value: Any, column: str) -> int:
    if not _FIRST_DAY <= moment < _END_DAY:
        raise CoercionError(column, value, EXPECTED)
    return int(moment.astype("datetime64[ns]").astype(np.int64))


def _from_ms(number: float, value: Any, column: str) -> int:
    if not math.isfinite(number) or abs(number) < _MIN_MS or not _FIRST_MS <= number < _END_MS:
        raise CoercionError(column, value, EXPECTED)
    # Whole milliseconds times 10**6 exactly: number * 1e6 as a float rounds to steps of
    # 256 ns, and an event in epoch ms would miss the same instant written in ISO 8601.
    whole = math.floor(number)
    return whole * NS_PER_MS + round((number - whole) * NS_PER_MS)


def _ms_to_ns(numbers: np.ndarray) -> np.ndarray:
    """`_from_ms` of numbers already checked by `_check_ms`, vectorised."""
    whole = np.floor(numbers)
    fraction = np.round((numbers - whole) * NS_PER_MS).astype(np.int64)
    return whole.astype(np.int64) * NS_PER_MS + fraction


def read_timestamps(values: pd.Series, column: str, missing: Collection[str] = ()) -> np.ndarray:
    """A column as datetime64[ns] (UTC, zone dropped; NaT = missing); same rule as
    `to_timestamp`, vectorised. Raises `CoercionError` naming a bad value as it was sent
    (the first one of its kind: epoch ms are read before ISO 8601)."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = pd.to_datetime(values, utc=True)
        return _as_ns(parsed.dt.tz_localize(None).to_numpy(), values, column)
    out = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[ns]")
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values):
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        present = ~np.isnan(numbers)
        _check_ms(numbers, present, values, column)
        out[present] = _ms_to_ns(numbers[present])
        return out
    text = values.astype("string").str.strip()
    absent = (text.isna() | text.isin(list(missing)) | (text == "")).to_numpy(dtype=bool)
    # Most CRM timestamps are plain ISO 8601: one check, then one parse, for them all;
    # the other spellings get the other checks.
    plain = text.str.fullmatch(_PLAIN_ISO.pattern).fillna(False).to_numpy(dtype=bool) & ~absent
    if plain.any():
        parsed = pd.to_datetime(text[plain], utc=True, errors="coerce", format="ISO8601")
        read = _as_ns(parsed.dt.tz_localize(None).to_numpy(), values[plain], column)
        if np.isnat(read).any():  # hour 25, February 30
            raise CoercionError(
                column, values[plain].iloc[int(np.argmax(np.isnat(read)))], EXPECTED
            )
        out[plain] = read
        if plain.all():
            return out
        absent |= plain
    digits = text.str.fullmatch(_DIGITS.pattern).fillna(False).to_numpy(dtype=bool) & ~absent
    if digits.any():
        numbers = pd.to_numeric(text[digits]).to_numpy(dtype=np.float64)
        _check_ms(numbers, np.ones(len(numbers), dtype=bool), values[digits], column)
        out[digits] = _ms_to_ns(numbers)
    rest = ~absent & ~digits
    if rest.any():
        named = text[rest].str.fullmatch(_WORDS.pattern).fillna(False).to_numpy(dtype=bool)
        if named.any():  # "now", "today": pandas reads them as the current time
            raise CoercionError(column, values[rest].iloc[int(np.argmax(named))], EXPECTED)
        words = text[rest].str.replace(_BARE_OFFSET.pattern, r"\1:\2", regex=True)
        # no cache: pandas' cache of distinct texts costs more than it saves (1.9 s
        # instead of 0.3 s for a million event times, most of them distinct)
        parsed = pd.to_datetime(words, utc=True, errors="coerce", format="ISO8601", cache=False)
        read = _as_ns(parsed.dt.tz_localize(None).to_numpy(), values[rest], column)
        odd = np.isnat(read)
        if odd.any():  # the other spellings `to_timestamp` reads through pandas too
            read[odd] = [read_as_of(v, column) for v in values[rest][odd]]
        out[rest] = read
    return out


def _check_ms(numbers: np.ndarray, present: np.ndarray, values: pd.Series, column: str) -> None:
    fits = (np.abs(numbers) >= _MIN_MS) & (numbers >= _FIRST_MS) & (numbers < _END_MS)
    bad = present & ~fits
    if bad.any():
        raise CoercionError(column, values.iloc[int(np.argmax(bad))], EXPECTED)


def _as_ns(moments: np.ndarray, values: pd.Series, column: str) -> np.ndarray:
    """datetime64 of any unit as datetime64[ns]; a moment outside its range is refused
    (numpy's cast would wrap it around)."""
    outside = ~np.isnat(moments) & ((moments < _FIRST_DAY) | (moments >= _END_DAY))
    if outside.any():
        raise CoercionError(column, values.iloc[int(np.argmax(outside))], EXPECTED)
    return moments.astype("datetime64[ns]")


# --- the moment of scoring ------------------------------------------------------------------


def now() -> int:
    """The current moment in ns since the epoch (UTC)."""
    return to_timestamp(datetime.now(UTC), "now") or 0


def read_as_of(value: Any, field: str = "as_of") -> int:
    """An explicit `as_of` (ISO 8601 or epoch milliseconds) as ns; errors name `field`."""
    stamp = to_timestamp(value, field)
    if stamp is None:
        raise CoercionError(field, value, EXPECTED)
    return stamp


def iso(ns: int | np.integer | np.datetime64) -> str:
    """ns since the epoch → `2025-03-14T09:14:11Z` (milliseconds only when there are some)."""
    moment = pd.Timestamp(int(np.asarray(ns).astype(np.int64)), tz=UTC)
    text = moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")


# How much later than the request's own clock a CRM timestamp may be and still count as
# "now" (days since = 0): the CRM's clock and ours differ by a little. Only for an
# implicit as_of (the time a request arrived); an explicit as_of is exact.
CLOCK_SKEW_NS = 5 * 60 * 1_000_000_000


@dataclass(frozen=True)
class AsOf:
    """The moment features are computed for: one for every lead, or one per lead
    (training examples). `implicit`: the moment a request was made ("now")."""

    ns: int | np.ndarray
    implicit: bool = False

    @classmethod
    def now(cls) -> AsOf:
        return cls(now(), implicit=True)

    @classmethod
    def of(cls, value: Any, field: str = "as_of") -> AsOf:
        """An explicit moment (ISO 8601 or epoch milliseconds); None means now."""
        return cls.now() if value is None else cls(read_as_of(value, field))

    @property
    def slack(self) -> int:
        return CLOCK_SKEW_NS if self.implicit else 0

    def rows(self, n: int) -> np.ndarray:
        """One moment per row (ns)."""
        if np.ndim(self.ns) == 0:
            return np.full(n, int(self.ns), dtype=np.int64)
        rows = np.asarray(self.ns, dtype=np.int64)
        if len(rows) != n:
            raise ValueError(f"as_of has {len(rows)} moment(s) for {n} row(s)")
        return rows

    def at(self, row: int) -> int:
        return int(self.ns) if np.ndim(self.ns) == 0 else int(np.asarray(self.ns)[row])

    @property
    def text(self) -> str:
        """The moment as ISO 8601 (the latest one, when there is one per row)."""
        return iso(int(np.max(self.ns)))


class FutureTimestampError(CoercionError):
    """A timestamp after the moment of scoring: a value from the future is never a feature.

    `row`: the position of the lead in its batch, so the caller can name it."""

    def __init__(self, column: str, value: Any, as_of: int, row: int) -> None:
        self.row = row
        self.as_of = as_of
        super().__init__(column, value, f"a time at or before as_of {iso(as_of)}")


def days_since(stamps: np.ndarray, as_of: AsOf, column: str, values: Any = None) -> np.ndarray:
    """Days from each timestamp (datetime64[ns], NaT = missing) to its row's moment.

    A timestamp after the moment is an error (`FutureTimestampError` naming the first
    such row); within the clock skew of an implicit "now" it counts as 0 days.
    """
    stamps = np.asarray(stamps, dtype="datetime64[ns]")
    present = ~np.isnat(stamps)
    ns = stamps.astype(np.int64)
    moments = as_of.rows(len(stamps))
    ahead = present & (ns > moments)
    if ahead.any():
        late = ahead & (ns > moments + as_of.slack)
        if late.any():
            row = int(np.argmax(late))
            value = iso(ns[row]) if values is None else values[row]
            raise FutureTimestampError(column, value, int(moments[row]), row)
        ns = np.where(ahead, moments, ns)
    days = np.full(len(stamps), np.nan)
    days[present] = (moments[present] - ns[present]) / NS_PER_DAY
    return days
