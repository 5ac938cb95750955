"""Loading a CRM export, deriving the label and the time order, and the time-based split."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.build import check_columns
from features.coerce import is_missing
from features.errors import LeadscoreError, first_line
from features.spec import DatasetSpec
from training.config import SplitConfig

log = logging.getLogger(__name__)

CSV_SUFFIXES = (".csv", ".csv.gz", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")


def data_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    raise LeadscoreError(
        f"unsupported data format for {path}: expected a .csv, .csv.gz or .parquet file"
    )


def load_leads(path: str | Path) -> pd.DataFrame:
    """Read a CSV (every value as text, as a CRM sends it) or Parquet file of leads."""
    path = Path(path)
    if not path.is_file():
        raise LeadscoreError(f"data file not found: {path}")
    kind = data_format(path)
    if path.stat().st_size == 0:
        raise LeadscoreError(f"data file {path} is empty")
    try:
        if kind == "csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        else:
            frame = pd.read_parquet(path)
    except UnicodeDecodeError as error:
        raise LeadscoreError(f"data file {path} is not UTF-8 text: {error.reason}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, ValueError) as error:
        raise LeadscoreError(f"could not read {kind} file {path}: {first_line(error)}") from None
    if frame.empty:
        raise LeadscoreError(f"data file {path} is empty (a header but no rows)")
    frame.attrs["source"] = str(path)
    return frame


def read_chunks(
    path: Path, kind: str, size: int, columns: Collection[str] | None = None
) -> Iterator[pd.DataFrame]:
    """Stream a file in DataFrames of at most `size` rows (never the whole file at once).

    `columns`: read only those of them the file has (a CRM export may hold hundreds of
    properties a model never reads); the caller names the ones it lacks.
    """
    if kind == "csv":
        yield from read_csv_chunks(path, size, columns)
    else:
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(path)
            names = parquet.schema_arrow.names
            kept = names if columns is None else [n for n in names if n in columns]
            for batch in parquet.iter_batches(batch_size=size, columns=kept):
                yield batch.to_pandas()
        except OSError as error:
            raise LeadscoreError(f"could not read parquet file {path}: {error}") from None


def read_csv_chunks(
    path: Path, size: int, columns: Collection[str] | None = None
) -> Iterator[pd.DataFrame]:
    """A CSV file as text columns ("" for empty cells, as `load_leads` reads it), in
    DataFrames of `size` rows; only the `columns` the file has, when given. Arrow's
    streaming reader parses it in C, about 6× faster than pandas' chunked reader. It
    reads some 30 blocks ahead: 1 MiB blocks keep that near 40 MiB (4 MiB blocks made
    the peak grow with the file up to ~150 MiB).
    """
    import csv
    import io

    import pyarrow as pa
    import pyarrow.csv as pcsv

    try:
        # Arrow decompresses a .csv.gz by its name; the header is read the same way.
        with pa.input_stream(str(path), compression="detect") as raw:
            header = next(csv.reader(io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")), None)
        if not header:
            return
        kept = header if columns is None else [name for name in header if name in columns]
        reader = pcsv.open_csv(
            path,
            read_options=pcsv.ReadOptions(block_size=1 << 20),
            convert_options=pcsv.ConvertOptions(
                include_columns=kept,
                column_types={name: pa.string() for name in kept},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        pending: list[pa.RecordBatch] = []
        rows = 0
        for batch in reader:
            pending.append(batch)
            rows += batch.num_rows
            while rows >= size:
                table = pa.Table.from_batches(pending)
                yield table.slice(0, size).to_pandas()
                rest = table.slice(size)
                pending, rows = rest.to_batches(), rest.num_rows
        if rows:
            yield pa.Table.from_batches(pending).to_pandas()
    except (pa.ArrowInvalid, UnicodeDecodeError, csv.Error) as error:
        raise LeadscoreError(f"could not read csv file {path}: {error}") from None


def count_rows(path: Path, kind: str) -> int | None:
    if kind == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    if path.name.lower().endswith(".gz"):
        return None  # lines of compressed bytes say nothing: the progress bar has no total
    with open(path, "rb") as handle:
        lines = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
    return max(0, lines - 1)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = pd.to_datetime(values, utc=True)
    else:
        text = values.astype("string").str.strip()
        absent = text.isna() | (text == "")
        epoch = pd.to_numeric(text.where(~absent), errors="coerce")
        is_epoch = epoch.notna()
        parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
        if is_epoch.any():
            parsed[is_epoch] = pd.to_datetime(epoch[is_epoch], unit="ms", utc=True)
        rest = ~absent & ~is_epoch
        if rest.any():
            parsed[rest] = pd.to_datetime(text[rest], utc=True, errors="coerce", format="mixed")
        bad = rest & parsed.isna()
        if bad.any():
            raise LeadscoreError(
                f"column {column!r} has {int(bad.sum())} value(s) that are not dates, "
                f"e.g. {values[bad].iloc[0]!r} (expected ISO 8601 or epoch milliseconds)"
            )
        if not allow_missing and absent.any():
            raise LeadscoreError(f"column {column!r} is empty in {int(absent.sum())} row(s)")
    return parsed.astype("datetime64[ns, UTC]")


_LABEL_VALUES = {"0": 0, "1": 1, "0.0": 0, "1.0": 1, "true": 1, "false": 0}


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
                f"label column {label.column!r} must hold 0 or 1; found {int(bad.sum())} "
                f"other value(s), e.g. {', '.join(map(repr, examples))}"
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
    """Rows with a known outcome, sorted by time, with their labels and time keys."""

    frame: pd.DataFrame
    y: np.ndarray
    times: np.ndarray
    dropped_unknown: int


def prepare(frame: pd.DataFrame, spec: DatasetSpec, min_positives: int = 50) -> PreparedData:
    """Check the columns, derive labels and time, drop rows without a known outcome, sort."""
    source = frame.attrs.get("source")
    check_columns(frame, spec.required_columns, f"data file {source}" if source else "data")
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
    positives = int(labels.sum())
    what = spec.label.column or f"{spec.label.from_date} within {spec.label.within_days} days"
    if positives == 0 or positives == len(labels):
        raise LeadscoreError(
            f"label ({what}) has a single class: {positives} positive(s) in {len(labels)} "
            "row(s); training needs converted and unconverted leads"
        )
    if positives < min_positives:
        raise LeadscoreError(
            f"label ({what}) has only {positives} positive(s); at least {min_positives} "
            "are needed to train and evaluate honestly"
        )
    return PreparedData(kept, labels, times[known].to_numpy()[order], dropped)


@dataclass(frozen=True)
class Split:
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray


def split_by_time(n_rows: int, config: SplitConfig) -> Split:
    """Positions of the oldest → train, then validation, newest → test (rows sorted by time)."""
    n_test = round(n_rows * config.test)
    n_val = round(n_rows * config.validation)
    n_train = n_rows - n_val - n_test
    positions = np.arange(n_rows)
    return Split(
        positions[:n_train], positions[n_train : n_train + n_val], positions[n_train + n_val :]
    )


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
    return {
        "sha256": sha256 or "",
        "rows": len(data.y),
        "rows_left_out_open_window": data.dropped_unknown,
        "time_from": first,
        "time_to": last,
        "base_rate": round(float(data.y.mean()), 6),
    }
