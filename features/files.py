"""Lead and event files: their format, reading them (whole or in chunks) and writing scores.

CSV (delimiter sniffed or set by the spec's `csv` dialect) and Parquet; every error names
the file and what was expected.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from features.errors import LeadscoreError, first_line
from features.events import EventLog, read_event_log
from features.spec import DELIMITERS, CsvSpec, DatasetSpec, EventsSpec

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


# Bytes of a CSV file's start read to detect its delimiter.
_SNIFF_BYTES = 1 << 16
_SNIFF_ROWS = 50


def sniff_delimiter(path: Path) -> str:
    """The delimiter of a CSV file (comma, semicolon, tab or pipe), from its first lines.

    The one that splits the header into the most columns while giving every line read
    as many fields as the header wins; a comma when none splits the header at all.
    """
    import csv
    import io

    import pyarrow as pa

    with pa.input_stream(str(path), compression="detect") as raw:
        head = raw.read(_SNIFF_BYTES)
        whole = len(head) < _SNIFF_BYTES
    text = head.decode("utf-8-sig", errors="replace")
    best, best_score = ",", (0.0, 1)
    for delimiter in DELIMITERS:
        try:
            rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        except csv.Error:
            continue
        rows = [row for row in rows if row][: _SNIFF_ROWS + 1]
        if not whole and len(rows) > 1:
            rows = rows[:-1]  # the last line read may be cut off
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        score = (sum(len(row) == width for row in rows) / len(rows), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def csv_delimiter(path: Path, dialect: CsvSpec | None) -> str:
    """The spec's delimiter, else the file's own (`sniff_delimiter`)."""
    if dialect is not None and dialect.delimiter is not None:
        return dialect.delimiter
    return sniff_delimiter(path)


def check_header(header: list[str], delimiter: str, path: Path, what: str) -> None:
    """A header read as one column that holds another delimiter: the wrong delimiter."""
    if len(header) != 1:
        return
    likely = next((d for d in DELIMITERS if d != delimiter and d in header[0]), None)
    if likely is not None:
        raise LeadscoreError(
            f"{what} {path}: its header reads as the single column {header[0]!r} with "
            f"delimiter {delimiter!r}; it looks like a {likely!r}-separated file: set "
            f"`csv: {{delimiter: {json.dumps(likely)}}}` in the spec, or leave the delimiter "
            "out to have it detected"
        )


def load_leads(
    path: str | Path, what: str = "data file", dialect: CsvSpec | None = None
) -> pd.DataFrame:
    """Read a CSV (every value as text, as a CRM sends it) or Parquet file of leads.

    A CSV file's delimiter is the spec's (`dialect`, its `csv` section) or detected.
    """
    path = Path(path)
    if not path.is_file():
        raise LeadscoreError(f"{what} not found: {path}")
    kind = data_format(path)
    if path.stat().st_size == 0:
        raise LeadscoreError(f"{what} {path} is empty")
    try:
        if kind == "csv":
            delimiter = csv_delimiter(path, dialect)
            frame = pd.read_csv(
                path, sep=delimiter, dtype=str, keep_default_na=False, encoding="utf-8-sig"
            )
            check_header([str(c) for c in frame.columns], delimiter, path, what)
        else:
            frame = pd.read_parquet(path)
    except UnicodeDecodeError as error:
        raise LeadscoreError(f"{what} {path} is not UTF-8 text: {error.reason}") from None
    except LeadscoreError:
        raise
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, ValueError) as error:
        raise LeadscoreError(f"could not read {kind} file {path}: {first_line(error)}") from None
    if frame.empty:
        raise LeadscoreError(f"{what} {path} is empty (a header but no rows)")
    frame.attrs["source"] = str(path)
    return frame


def load_events(path: str | Path, spec: DatasetSpec) -> EventLog:
    """Read an event log (CSV or Parquet) with the columns the spec's `events:` names.

    A CSV log's delimiter is detected: the spec's `csv.delimiter` describes the
    contacts export, which may come from another system than the log.
    """
    events = events_section(spec)
    frame = load_leads(path, "event log")
    return read_event_log(frame, events, str(path), spec.missing_tokens)


def events_section(spec: DatasetSpec) -> EventsSpec:
    """The spec's `events:` section; a user error when it has none (it cannot read a log)."""
    if spec.events is None:
        raise LeadscoreError(
            f"spec {spec.name!r} has no events section: it cannot read an event log "
            "(--events); add `events:` to the spec (see features/specs/hubspot.yaml)"
        )
    return spec.events


def read_chunks(
    path: Path,
    kind: str,
    size: int,
    columns: Collection[str] | None = None,
    dialect: CsvSpec | None = None,
) -> Iterator[pd.DataFrame]:
    """Stream a file in DataFrames of at most `size` rows (never the whole file at once).

    `columns`: read only those of them the file has (a CRM export may hold hundreds of
    properties a model never reads); the caller names the ones it lacks. `dialect`: the
    spec's `csv` section (a CSV file's delimiter is otherwise detected).
    """
    if kind == "csv":
        yield from read_csv_chunks(path, size, columns, dialect)
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
    path: Path, size: int, columns: Collection[str] | None = None, dialect: CsvSpec | None = None
) -> Iterator[pd.DataFrame]:
    """A CSV file as text columns ("" for empty cells, as `load_leads` reads it), in
    DataFrames of `size` rows; only the `columns` the file has, when given; delimited as
    `dialect` says or as detected (`sniff_delimiter`). Arrow's
    streaming reader parses it in C, about 6× faster than pandas' chunked reader. It
    reads some 30 blocks ahead: 1 MiB blocks keep that near 40 MiB (4 MiB blocks made
    the peak grow with the file up to ~150 MiB).
    """
    import csv
    import io

    import pyarrow as pa
    import pyarrow.csv as pcsv

    try:
        delimiter = csv_delimiter(path, dialect)
        # Arrow decompresses a .csv.gz by its name; the header is read the same way.
        with pa.input_stream(str(path), compression="detect") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            header = next(csv.reader(text, delimiter=delimiter), None)
        if not header:
            return
        check_header(header, delimiter, path, "data file")
        kept = header if columns is None else [name for name in header if name in columns]
        reader = pcsv.open_csv(
            path,
            read_options=pcsv.ReadOptions(block_size=1 << 20),
            parse_options=pcsv.ParseOptions(delimiter=delimiter),
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


def _arrow_type(column: pd.Series) -> Any:
    """The Arrow type a scored column is written as: text (object or str) as string."""
    import pandas as pd
    import pyarrow as pa

    if pd.api.types.is_string_dtype(column.dtype):
        return pa.string()
    return pa.Schema.from_pandas(column.to_frame(), preserve_index=False).field(0).type


class ChunkWriter:
    """Append DataFrames of the same columns to one CSV or Parquet file, through Arrow.

    The first chunk fixes the schema; text columns are strings whatever a chunk holds
    (a chunk whose lead statuses are all empty must not turn the column's type to null).
    Chunks are written in order by a thread, so the next one is scored meanwhile; a
    failed write is raised by the next `write` or on leaving, and leaves no file.
    """

    def __init__(self, path: Path, kind: Literal["csv", "parquet"] | str) -> None:
        self.path = path
        self.kind = kind
        self._writer: Any = None
        self._schema: Any = None
        self._pending: Future[None] | None = None
        self._thread = ThreadPoolExecutor(max_workers=1)

    def __enter__(self) -> ChunkWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self

    def write(self, frame: pd.DataFrame) -> None:
        self._wait()
        self._pending = self._thread.submit(self._write, frame)

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _write(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa

        if self._schema is None:
            self._schema = pa.schema(
                [(str(name), _arrow_type(frame[name])) for name in frame.columns]
            )
            if self.kind == "csv":
                import pyarrow.csv as pcsv

                self._writer = pcsv.CSVWriter(
                    self.path, self._schema, write_options=pcsv.WriteOptions(quoting_style="needed")
                )
            else:
                import pyarrow.parquet as pq

                self._writer = pq.ParquetWriter(self.path, self._schema)
        self._writer.write_table(
            pa.Table.from_pandas(frame, schema=self._schema, preserve_index=False)
        )

    def __exit__(self, *exc: object) -> None:
        ok = exc[0] is None
        try:
            if ok:
                self._wait()  # the last chunk
        except BaseException:
            ok = False
            raise
        finally:
            self._thread.shutdown()  # after an error, lets a running write finish first
            try:
                if self._writer is not None:
                    self._writer.close()
            finally:
                if not ok:
                    self.path.unlink(missing_ok=True)
