"""Raw CRM rows → the numeric matrix the models read, the same way in training and serving.

`FeatureEncoder` learns from the training slice the category → code map of each
categorical feature (rare categories share the code of "other", as do categories first
seen at scoring time), and each feature's typical value, which reasons compare a lead's
own value with (it does not change the matrix). Everything else is a fixed reading rule
from `features.coerce`. Two entry points share those rules: `transform` for a
DataFrame (batch) and `transform_records` for a few dicts (the service's hot path,
no pandas).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from features.coerce import (
    DEFAULT_NUMBERS,
    DERIVATIONS,
    INTEGRAL_TEXT,
    CoercionError,
    NumberFormat,
    number_reader,
    sentinel_numbers,
    to_boolean,
    to_category,
)
from features.errors import LeadscoreError
from features.spec import DELIMITERS, DatasetSpec, Derivation, FeatureSpec, FeatureType
from features.timestamps import AsOf, days_since, read_timestamps, to_timestamp

OTHER = "(other)"
# Up to this many values are read one by one: factorising costs more than it saves.
_FEW = 64
# Text Arrow casts to the very float Python's float() reads: an optional minus and
# digits, with or without a decimal part, 15 characters at most (any parser rounds
# these alike) once thousands separators are dropped and the decimal mark is a point.
_PLAIN_LENGTH = 15

Reader = Callable[[Any, str, Collection[str]], Any]
# A feature's typical value in training: a number (as encoded, e.g. days, or the text it
# was read from, "25-50"), a yes/no, a category, or None when there is none.
Typical = float | bool | str | None


def reader_for(feature: FeatureSpec, numbers: NumberFormat = DEFAULT_NUMBERS) -> Reader:
    """The scalar function that reads a raw value of this feature (a `days_since`
    feature's raw value is a timestamp: its days depend on the moment, see `transform`).

    `numbers`: how the export writes numbers (the spec's `csv` section). A number in the
    feature's own `missing` list is missing however it comes (999, 999.0, "999").
    """
    if feature.derive is Derivation.days_since:
        return to_timestamp
    if feature.derive is not None:
        return DERIVATIONS[feature.derive.value]
    if feature.type is FeatureType.numeric:
        return number_reader(numbers, sentinel_numbers(feature.missing, numbers))
    if feature.type is FeatureType.boolean:
        return to_boolean
    return to_category


def read_distinct(
    feature: FeatureSpec,
    values: pd.Series,
    missing: Collection[str],
    numbers: NumberFormat = DEFAULT_NUMBERS,
) -> tuple[np.ndarray, list[Any]]:
    """Each row's index into the column's distinct values, and each of them read once.

    The reading of a missing value (NA) comes last, so index −1 picks it: `reads[codes]`
    gives the rows' readings. A CRM column has far fewer distinct values than rows, so
    the scalar readers (the single definition of how a value is read) stay cheap.
    """
    read, column = reader_for(feature, numbers), feature.source
    return _distinct_reads(values, lambda v: read(v, column, missing))


def _distinct_reads(values: Any, read: Callable[[Any], Any]) -> tuple[np.ndarray, list[Any]]:
    """Factorise `values` and read each distinct value once; NA reads as `read(None)`, last.

    Values that cannot be hashed (a list or dict sent as a value) are read one by one.
    """
    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    except TypeError:
        return np.arange(len(values)), [*(read(v) for v in values), read(None)]
    return codes, [*(read(u) for u in uniques.tolist()), read(None)]


def read_column(
    feature: FeatureSpec,
    values: pd.Series,
    missing: Collection[str],
    numbers: NumberFormat = DEFAULT_NUMBERS,
) -> pd.Series:
    """Read a raw column into typed values (float for numeric/boolean, str/None for categories).

    `missing`: the feature's missing markers (the spec's and its own); `numbers`: how
    the export writes numbers."""
    if feature.type is FeatureType.numeric and feature.derive is None:
        read: np.ndarray | None = None
        if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
            values.dtype
        ):
            read = values.to_numpy(dtype=np.float64, na_value=np.nan)
            if np.isinf(read).any():
                raise CoercionError(feature.source, float("inf"), "a finite number")
        elif isinstance(values.dtype, pd.StringDtype) and len(values) > _FEW:
            read = _read_number_text(feature, values, missing, numbers)
        if read is not None:
            sentinels = sentinel_numbers(feature.missing, numbers)
            if sentinels:
                read[np.isin(read, list(sentinels))] = np.nan
            return pd.Series(read, index=values.index)
    codes, reads = read_distinct(feature, values, missing, numbers)
    if feature.type is FeatureType.categorical:
        return pd.Series(np.asarray(reads, dtype=object)[codes], index=values.index, dtype="object")
    return pd.Series(np.asarray(reads, dtype=np.float64)[codes], index=values.index)


def _read_number_text(
    feature: FeatureSpec, values: pd.Series, missing: Collection[str], numbers: NumberFormat
) -> np.ndarray:
    """`read_column` of a numeric text column: plain decimals (most of a CRM's numbers,
    and mostly distinct ones, such as revenue), with or without thousands separators, are
    cast by Arrow at once; the rest (ranges, `1000+`, missing markers, anything odd) go
    through `to_number`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(values)
    plain = pc.or_(
        pc.match_substring_regex(text, f"^-?{numbers.plain}$"),
        pc.match_substring_regex(text, f"^-?{numbers.grouped}$"),
    )
    point = pc.replace_substring(text, numbers.thousands, "")
    if numbers.decimal != ".":
        point = pc.replace_substring(point, numbers.decimal, ".")
    plain = pc.and_(plain, pc.less_equal(pc.utf8_length(point), _PLAIN_LENGTH))
    markers = [m for m in missing if re.fullmatch(r"[-0-9.,' \u00a0\u202f]+", m)]
    if markers:  # a missing marker that looks like a number ("-1") is still missing
        plain = pc.and_(plain, pc.invert(pc.is_in(text, pa.array(markers, pa.string()))))
    plain = plain.fill_null(False)
    cast = pc.cast(pc.if_else(plain, point, pa.scalar(None, pa.string())), pa.float64())
    out = cast.to_numpy(zero_copy_only=False)
    out = out if out.flags.writeable else out.copy()
    rest = ~np.asarray(plain, dtype=bool)
    if rest.any():
        codes, reads = read_distinct(feature, values[rest], missing, numbers)
        out[rest] = np.asarray(reads, dtype=np.float64)[codes]
    return out


def read_each(
    values: Sequence[Any] | np.ndarray | pd.Series, read: Callable[[Any], Any]
) -> np.ndarray:
    """`read(value)` for every value (an object array), called once per distinct value.

    NA values (None, NaN) are all read as None. Larger batches are factorised; a few
    values (the service's records), or values that cannot be hashed, are read one by one.
    """
    out = np.empty(len(values), dtype=object)
    if len(values) <= _FEW:
        out[:] = [read(v) for v in values]
        return out
    array: Any
    if isinstance(values, pd.Series):  # typed columns (Arrow text) factorise natively
        array = values.to_numpy(dtype=object) if values.dtype == object else values
    elif isinstance(values, np.ndarray):
        array = values.astype(object, copy=False)
    else:  # fromiter keeps a list value one value
        array = np.fromiter(values, dtype=object, count=len(values))
    codes, reads = _distinct_reads(array, read)
    lookup = np.empty(len(reads), dtype=object)
    lookup[:] = reads
    out[:] = lookup[codes]
    return out


def read_categories(values: pd.Series, column: str, missing: Collection[str]) -> np.ndarray:
    """`to_category` of every value of a column (an object array of str / None).

    Vectorised for text columns, where most values are distinct (ids); other columns
    go value by value through `to_category` itself.
    """
    if not (
        pd.api.types.is_string_dtype(values.dtype)
        and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty")
    ):
        return read_each(values, lambda v: to_category(v, column, missing))
    text = values.astype("string").str.strip()
    absent = (text.isna() | text.isin(list(missing))).to_numpy(dtype=bool)
    integral = text.str.fullmatch(INTEGRAL_TEXT).fillna(False).to_numpy(dtype=bool)
    out = text.to_numpy(dtype=object)
    if integral.any():
        out[integral] = [t.split(".", 1)[0] for t in out[integral]]
    out[absent] = None
    return out


class FeatureEncoder:
    """Encodes raw CRM rows into a float matrix (NaN = missing), one column per spec feature.

    Parameters
    ----------
    spec: the dataset spec whose features are encoded, in `spec.features` order.
    min_category_count: categories seen fewer times than this in training share the
        "other" code with categories never seen before.
    max_categories: at most this many categories per feature get their own code.

    Learned: `categories_` (per categorical feature, the categories with a code of their
    own) and `reference_` (per feature, the typical training lead's value: the median of
    a number, counted as encoded (days for `days_since`), the answer most leads give to a
    yes/no, the most common category; None where there is none, e.g. when most leads have
    no value; and for every feature of a bundle saved before it was kept).
    """

    def __init__(
        self, spec: DatasetSpec, min_category_count: int = 10, max_categories: int = 60
    ) -> None:
        self.spec = spec
        self.min_category_count = min_category_count
        self.max_categories = max_categories

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame, as_of: AsOf | None = None) -> FeatureEncoder:
        """Learn the category codes, and each feature's typical value, from a training frame
        of raw rows.

        `as_of`: the moment(s) of the rows (one per row for point-in-time examples), which
        a `days_since` feature's typical value needs; without it those features have none.
        """
        check_columns(frame, self.spec.feature_columns, "data", self.spec)
        numbers = self.spec.numbers
        self.categories_: dict[str, list[str]] = {}
        for feature in self.spec.features:
            if feature.type is not FeatureType.categorical:
                continue
            missing = self.spec.missing_for(feature)
            read = read_column(feature, frame[feature.source], missing, numbers)
            counts = read.value_counts()
            kept = counts[counts >= self.min_category_count].index[: self.max_categories]
            self.categories_[feature.name] = sorted(str(c) for c in kept)
        self._prepare()
        self.reference_ = self._typical(frame, as_of)
        return self

    def _typical(self, frame: pd.DataFrame, as_of: AsOf | None) -> dict[str, Typical]:
        """Each feature's typical value in the training rows (see `reference_`)."""
        timed = [self.spec.features[j].source for j in self._timed]
        if timed and as_of is None:  # no moment: no days, so no typical days either
            frame = frame.assign(**dict.fromkeys(timed, None))
        x = self.transform(frame, as_of or AsOf.now())
        out: dict[str, Typical] = {}
        for j, feature in enumerate(self.spec.features):
            values = x[:, j]
            present = values[~np.isnan(values)]
            if feature.type is FeatureType.categorical:
                # the most common of every row's values, missing and "other" included: a
                # typical lead without a value has no typical category
                codes, counts = np.unique(np.nan_to_num(values, nan=-1.0), return_counts=True)
                top = codes[np.argmax(counts)] if len(codes) else -1.0
                category = self.decode(feature.name, top) if top >= 0 else None
                out[feature.name] = None if category in (None, OTHER) else category
            elif not len(present):
                out[feature.name] = None
            elif feature.type is FeatureType.boolean:
                share = float(np.mean(present >= 0.5))
                out[feature.name] = None if share == 0.5 else share > 0.5
            else:  # the median, as one of the values seen ("3 visits", never "2.5")
                median = float(np.quantile(present, 0.5, method="inverted_cdf"))
                # kept as the text it was read from, when that says more ("25-50")
                text = (
                    _typical_text(frame[feature.source], values == median)
                    if feature.derive is None
                    else None
                )
                out[feature.name] = text or median
        return out

    def _prepare(self) -> None:
        self.feature_names_ = [f.name for f in self.spec.features]
        self._codes = {
            name: {c: float(i) for i, c in enumerate(cats)}
            for name, cats in self.categories_.items()
        }
        numbers = self.spec.numbers
        # Per feature: its raw column, name, reader, category codes and missing markers.
        self._plan: list[tuple[str, str, Reader, dict[str, float] | None, frozenset[str]]] = [
            (
                f.source,
                f.name,
                reader_for(f, numbers),
                self._codes.get(f.name),
                self.spec.missing_for(f),
            )
            for f in self.spec.features
        ]
        self._timed = [
            j for j, f in enumerate(self.spec.features) if f.derive is Derivation.days_since
        ]

    @property
    def categorical_indices(self) -> list[int]:
        return [i for i, f in enumerate(self.spec.features) if f.type is FeatureType.categorical]

    def other_code(self, name: str) -> float:
        return float(len(self.categories_[name]))

    def decode(self, name: str, code: float) -> str | None:
        """The category a code stands for (None when missing, OTHER for rare/unseen)."""
        if math.isnan(code):
            return None
        categories = self.categories_[name]
        index = int(code)
        return categories[index] if index < len(categories) else OTHER

    # -- transforming ------------------------------------------------------------------------
    def transform(self, frame: pd.DataFrame, as_of: AsOf | None = None) -> np.ndarray:
        """Encode a DataFrame of raw rows (every spec column must be present).

        `as_of`: the moment `days_since` features count to (default: now). A timestamp
        after it raises `FutureTimestampError` naming the column and the row.
        """
        check_columns(frame, self.spec.feature_columns, "data", self.spec)
        out = np.empty((len(frame), len(self._plan)), dtype=np.float64)
        if self._timed:
            as_of = as_of or AsOf.now()
        numbers = self.spec.numbers
        for j, feature in enumerate(self.spec.features):
            codes = self._codes.get(feature.name)
            missing = self._plan[j][4]
            if feature.derive is Derivation.days_since:
                assert as_of is not None
                values = frame[feature.source]
                stamps = read_timestamps(values, feature.source, missing)
                out[:, j] = days_since(stamps, as_of, feature.source, values.to_numpy())
                continue
            if codes is None:
                out[:, j] = read_column(feature, frame[feature.source], missing, numbers)
                continue
            rows, reads = read_distinct(feature, frame[feature.source], missing, numbers)
            other = float(len(codes))
            coded = [math.nan if r is None else codes.get(r, other) for r in reads]
            out[:, j] = np.asarray(coded, dtype=np.float64)[rows]
        return out

    def transform_records(
        self, records: Sequence[Mapping[str, Any]], as_of: AsOf | None = None
    ) -> np.ndarray:
        """Encode a few raw rows given as dicts; absent keys are missing values.

        `as_of` as for `transform`.
        """
        out = np.empty((len(records), len(self._plan)), dtype=np.float64)
        timed = set(self._timed)
        nat = np.iinfo(np.int64).min
        stamps = {j: np.full(len(records), nat, dtype=np.int64) for j in timed}
        for i, record in enumerate(records):
            for j, (column, _name, read, codes, missing) in enumerate(self._plan):
                value = read(record.get(column), column, missing)
                if j in timed:
                    if value is not None:
                        stamps[j][i] = value
                elif codes is None:
                    out[i, j] = value
                else:
                    out[i, j] = math.nan if value is None else codes.get(value, float(len(codes)))
        if timed:
            moment = as_of or AsOf.now()
            for j, ns in stamps.items():
                column = self._plan[j][0]
                values = [record.get(column) for record in records]
                out[:, j] = days_since(ns.view("datetime64[ns]"), moment, column, values)
        return out

    # -- persistence -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "min_category_count": self.min_category_count,
            "max_categories": self.max_categories,
            "categories": self.categories_,
            "reference": self.reference_,
        }

    @classmethod
    def from_dict(cls, spec: DatasetSpec, data: Mapping[str, Any]) -> FeatureEncoder:
        encoder = cls(spec, data["min_category_count"], data["max_categories"])
        encoder.categories_ = {k: list(v) for k, v in data["categories"].items()}
        # A bundle saved before typical values were kept has none: its reasons say no
        # comparison, as they did.
        encoder.reference_ = _read_reference(spec, data.get("reference") or {})
        encoder._prepare()
        return encoder


def _typical_text(values: pd.Series, at: np.ndarray) -> str | None:
    """The text most of the rows `at` read their (equal) number from, when it is a range
    or `1000+` rather than a plain number; else None."""
    counts = pd.Series(values.to_numpy()[at]).value_counts()
    text = counts.index[0] if len(counts) else None
    if not isinstance(text, str):
        return None
    text = " ".join(text.split())
    try:
        float(text)
    except ValueError:
        return text
    return None


def _read_reference(spec: DatasetSpec, data: Mapping[str, Any]) -> dict[str, Typical]:
    """`reference_` from a saved bundle, each value of its feature's type (else none)."""
    out: dict[str, Typical] = {}
    for feature in spec.features:
        value = data.get(feature.name)
        if feature.type is FeatureType.categorical:
            ok = isinstance(value, str)
        elif feature.type is FeatureType.boolean:
            ok = isinstance(value, bool)
        elif isinstance(value, str):  # a number's typical text ("25-50")
            try:
                ok = feature.derive is None and math.isfinite(
                    reader_for(feature, spec.numbers)(value, feature.source, ())
                )
            except LeadscoreError:
                ok = False
        else:
            ok = (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and math.isfinite(value)
            )
        out[feature.name] = value if ok else None
    return out


def check_columns(
    frame: pd.DataFrame, columns: Sequence[str], what: str, spec: DatasetSpec | None = None
) -> None:
    """Raise naming every required column the frame lacks, and what likely went wrong: a
    file read with the wrong delimiter (one column), or a feature that reads another
    feature instead of a raw column (with `spec`)."""
    absent = [c for c in columns if c not in frame.columns]
    if not absent:
        return
    message = f"{what} is missing column(s) the spec needs: {', '.join(map(repr, absent))}"
    if len(frame.columns) == 1:
        header = str(frame.columns[0])
        if likely := next((d for d in DELIMITERS if d in header), None):
            message += (
                f". Its header reads as the single column {header!r}: it looks like a "
                f"{likely!r}-separated file (set csv.delimiter in the spec)"
            )
    if spec is not None:
        message += "".join(_reads_a_feature(spec, column) for column in absent)
    raise LeadscoreError(message)


def _reads_a_feature(spec: DatasetSpec, column: str) -> str:
    """A hint when an absent column is the name another feature gives its own column."""
    named = next((f for f in spec.features if f.name == column and f.source != column), None)
    if named is None:
        return ""
    readers = [f.name for f in spec.features if f.source == column and f is not named]
    how = f"derived ({named.derive.value}) from" if named.derive else "read from"
    return (
        f". {column!r} is not a column of the file but the name of feature {column!r}, "
        f"{how} column {named.source!r}; "
        + (f"feature(s) {', '.join(map(repr, readers))} " if readers else "a feature ")
        + f"must name a raw column of the export (e.g. column: {named.source}), not "
        "another feature"
    )
