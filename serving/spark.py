"""Batch scoring on Apache Spark: the scorer bundle over a Spark DataFrame with
`mapInPandas`, with the same columns and values as `leadscore score` (serving.batch).

`score_spark(df, model_uri)` is the helper for a DataFrame a user already has: the model
reference is resolved once on the driver (an alias pinned to its version), the bundle is
shipped to the executors with `SparkContext.addFile` and loaded once per Python worker
(then reused by its tasks), only the columns the scorer reads leave the JVM, and the
output schema comes from the scoring contract (`models.contract`) plus `model_version`.
`score_path` is what `leadscore score --engine spark` runs: read a CSV or Parquet path,
check it, score it, write Parquet — all or nothing, like the local path.

pyspark is an optional dependency (`pip install -e '.[spark]'`): nothing here imports it
until a function runs.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import sys
import tempfile
import uuid
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from features.errors import LeadscoreError
from features.files import csv_delimiter, data_format, read_csv_chunks
from features.timestamps import AsOf
from models.contract import Column, batch_columns
from models.i18n import check_language
from serving.batch import check_head

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from features.spec import CsvSpec
    from models.scorer import LeadScorer

# Rows a Python worker scores at once. Spark hands pandas 10,000-row Arrow batches by
# default; LightGBM and the reasons' shared branch patterns do better on larger ones, and
# `leadscore score` reads 50,000-row chunks (benchmarks/bench_spark.py measures both).
BATCH_ROWS = 50_000
VERSION_COLUMN = "model_version"
INSTALL_HINT = "pip install -e '.[spark]'"
# Set on the sessions `leadscore score --engine spark` starts (a user's --spark-conf wins):
# Spark hands pandas its timestamps in the session's time zone with the zone dropped.
SESSION_DEFAULTS = {"spark.sql.session.timeZone": "UTC"}
# A user error raised in a Python worker reaches the driver inside Spark's error text:
# the message travels JSON-quoted behind this mark and is raised there again, word for word.
_ERROR_MARK = "leadscore-user-error:"


def require_pyspark() -> None:
    """A one-line user error when pyspark is not installed."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise LeadscoreError(
            f"scoring on Spark needs pyspark, which is not installed: {INSTALL_HINT}"
        ) from None


@contextmanager
def spark_session(conf: Mapping[str, str] | None = None, app: str = "leadscore") -> Iterator[Any]:
    """A Spark session for the CLI, stopped on leaving when it was started here (a session
    already active in this process, a notebook's or a test's, is used and left running).

    Spark's own settings apply (spark-defaults.conf, PYSPARK_SUBMIT_ARGS; local[*] when no
    master is set), then `SESSION_DEFAULTS`, then `conf`. Python workers run this
    interpreter (the project's environment) unless PYSPARK_PYTHON says otherwise: Spark
    would start the system `python3`, which has no leadscore."""
    require_pyspark()
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # pyspark 4.3 warns on pandas 3 at every mapInPandas; this project tests the pair
    warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas", FutureWarning)
    active = SparkSession.getActiveSession()
    builder = SparkSession.builder.appName(app)
    for key, value in {**SESSION_DEFAULTS, **(conf or {})}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    try:
        yield session
    finally:
        if active is None:
            session.stop()


def parse_conf(pairs: Sequence[str]) -> dict[str, str]:
    """`--spark-conf KEY=VALUE` options as a dict; a pair without `=` is a user error."""
    conf: dict[str, str] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key.strip():
            raise LeadscoreError(
                f"--spark-conf {pair!r}: expected KEY=VALUE, e.g. spark.master=local[2]"
            )
        conf[key.strip()] = value
    return conf


# -- the output ------------------------------------------------------------------------------


def output_columns(scorer: LeadScorer, reasons: bool, with_id: bool = True) -> list[Column]:
    """The columns `leadscore score` writes, in its order: the id (when the input has it),
    scores, grades, decision and next action (with a policy), reasons (when asked), version."""
    id_column = scorer.spec.id if with_id else None
    return [*batch_columns(id_column, scorer.policy is not None, reasons), Column(VERSION_COLUMN)]


def spark_schema(columns: Sequence[Column]) -> Any:
    """The contract's columns as a Spark StructType (every field nullable, as Arrow writes)."""
    from pyspark.sql import types as T

    kinds = {"double": T.DoubleType, "string": T.StringType, "boolean": T.BooleanType}
    fields = []
    for column in columns:
        if column.dtype not in kinds:
            raise ValueError(f"no Spark type for contract type {column.dtype!r} ({column.name})")
        fields.append(T.StructField(column.name, kinds[column.dtype](), nullable=True))
    return T.StructType(fields)


# -- the work of a Python worker ----------------------------------------------------------------

_LOADED: dict[str, LeadScorer] = {}


def worker_scorer(name: str) -> LeadScorer:
    """The bundle shipped as `name`, loaded once per Python worker process (which keeps
    only the latest: a worker runs one task at a time)."""
    scorer = _LOADED.get(name)
    if scorer is None:
        from pyspark import SparkFiles

        from models.scorer import LeadScorer

        scorer = LeadScorer.load(SparkFiles.get(name))
        _LOADED.clear()
        _LOADED[name] = scorer
    return scorer


def rechunk(frames: Iterable[pd.DataFrame], rows: int) -> Iterator[pd.DataFrame]:
    """Frames of at least `rows` rows (the last one may be smaller), in order."""
    pending: list[pd.DataFrame] = []
    count = 0
    for frame in frames:
        pending.append(frame)
        count += len(frame)
        if count >= rows:
            yield pending[0] if len(pending) == 1 else pd.concat(pending, ignore_index=True)
            pending, count = [], 0
    if count:
        yield pending[0] if len(pending) == 1 else pd.concat(pending, ignore_index=True)


@dataclass(frozen=True)
class ScoringJob:
    """The function `mapInPandas` runs in each task: Arrow batches of raw rows in, scored
    rows out, through `LeadScorer.score_chunks` (the next chunk is encoded while this one
    is scored), as `leadscore score` does."""

    bundle: str  # the name the bundle was shipped under (SparkFiles)
    version: str
    as_of: AsOf
    reasons: bool
    k: int
    columns: tuple[str, ...]  # the output's, in order
    instants: tuple[str, ...]  # timestamp columns shipped as epoch microseconds
    batch_rows: int = BATCH_ROWS
    lang: str = "en"  # of the reasons and the decision's details

    def __call__(self, batches: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        scorer = worker_scorer(self.bundle)
        raw = (from_epoch_micros(batch, self.instants) for batch in batches)
        chunks = rechunk(raw, self.batch_rows)
        scored_chunks = scorer.score_chunks(
            chunks, reasons=self.reasons, k=self.k, as_of=self.as_of, lang=self.lang
        )
        try:
            for scored in scored_chunks:
                scored[VERSION_COLUMN] = self.version
                yield scored[list(self.columns)]
        except LeadscoreError as error:
            raise worker_error(error) from None


def from_epoch_micros(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """`frame` with `columns` (shipped as epoch microseconds, `epoch_micros`) as UTC
    timestamps again."""
    for column in columns:
        frame[column] = pd.to_datetime(frame[column], unit="us", utc=True)
    return frame


def worker_error(error: LeadscoreError) -> RuntimeError:
    """What a Python worker raises for a user error: its message behind the mark
    `user_error` finds on the driver."""
    return RuntimeError(_ERROR_MARK + json.dumps(str(error)))


def user_error(error: BaseException) -> LeadscoreError | None:
    """The user error a Python worker raised, when `error` (Spark's, on the driver) carries
    one; None for any other failure."""
    found = re.search(re.escape(_ERROR_MARK) + r'("(?:[^"\\]|\\.)*")', str(error))
    return None if found is None else LeadscoreError(json.loads(found.group(1)))


# -- scoring a DataFrame ----------------------------------------------------------------------


def score_spark(
    df: DataFrame,
    model_uri: str,
    reasons: bool = False,
    k: int = 3,
    as_of: str | AsOf | None = None,
    *,
    batch_rows: int = BATCH_ROWS,
    tracking: str | None = None,
    lang: str = "en",
) -> DataFrame:
    """Score a Spark DataFrame of raw CRM rows: the id, scores, grades, recommendation and
    next action, reasons (when asked) and `model_version`, as `leadscore score` writes them.

    `model_uri`: an MLflow model URI (an alias is pinned to its version here, on the
    driver) or a bundle folder; `tracking`: the MLflow tracking URI (default
    MLFLOW_TRACKING_URI or ./mlflow.db). `as_of`: the moment of scoring (ISO 8601, epoch
    ms or an `AsOf`; default: now, taken once here for every row); `lang`: the language of
    the reasons and details (`models.i18n`). Lazy, like any
    transformation: a user error in a row (an unreadable number, a lead created after
    `as_of`) fails the action that runs it; `user_error` finds its message in Spark's.
    """
    from serving.resolve import open_model

    moment = as_of if isinstance(as_of, AsOf) else AsOf.of(as_of)
    lang = check_language(lang)
    found = open_model(model_uri, tracking)
    return score_frame(
        df,
        found.scorer,
        found.version or "",
        reasons=reasons,
        k=k,
        as_of=moment,
        batch_rows=batch_rows,
        lang=lang,
    )


def score_frame(
    df: DataFrame,
    scorer: LeadScorer,
    version: str,
    *,
    reasons: bool = False,
    k: int = 3,
    as_of: AsOf,
    batch_rows: int = BATCH_ROWS,
    what: str = "data",
    lang: str = "en",
) -> DataFrame:
    """`score_spark` with a loaded scorer: the columns checked on the driver (`what` names
    the data in the message), the bundle shipped, the job planned."""
    spec = scorer.spec
    check_frame_columns(scorer, df.columns, what, no_id=True)
    shipped = [c for c in scorer.input_columns if c in df.columns]
    selected, instants = epoch_micros(df.select(*shipped))
    columns = output_columns(scorer, reasons, with_id=spec.id in shipped)
    job = ScoringJob(
        bundle=ship_bundle(df.sparkSession, scorer, version),
        version=version,
        as_of=as_of,
        reasons=reasons,
        k=k,
        columns=tuple(c.name for c in columns),
        instants=instants,
        batch_rows=batch_rows,
        lang=lang,
    )
    return selected.mapInPandas(job, spark_schema(columns))


def epoch_micros(df: DataFrame) -> tuple[DataFrame, tuple[str, ...]]:
    """`df` with its timestamp columns as epoch microseconds (Arrow hands pandas a
    timestamp in the session's zone with the zone dropped; a worker reads them back as
    UTC), and their names."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    instants = tuple(
        field.name for field in df.schema.fields if isinstance(field.dataType, T.TimestampType)
    )
    selected = [F.unix_micros(F.col(c)).alias(c) if c in instants else F.col(c) for c in df.columns]
    return df.select(*selected), instants


def check_frame_columns(
    scorer: LeadScorer, names: Sequence[str], what: str, no_id: bool = False, events: bool = False
) -> None:
    """`serving.batch.check_file`'s column checks, on a DataFrame's column names (no rows
    read): the spec's columns, the id column (unless `no_id`; always with `events`), the
    catalogue's columns."""
    check_head(scorer, pd.DataFrame(columns=list(names)), what, events, no_id)


def ship_bundle(spark: SparkSession, scorer: LeadScorer, version: str) -> str:
    """Save the bundle once on the driver and add it to the Spark job's files; returns the
    name a worker finds it under (`SparkFiles.get`). Removed when this process ends."""
    folder = Path(tempfile.mkdtemp(prefix="leadscore-spark-"))
    atexit.register(shutil.rmtree, folder, True)
    name = f"leadscore-bundle-{version or 'unregistered'}-{uuid.uuid4().hex[:12]}"
    scorer.save(folder / name)
    spark.sparkContext.addFile(str(folder / name), recursive=True)
    return name


# -- the CLI's job: a path in, a Parquet directory out --------------------------------------------


def local_file(path: str) -> Path | None:
    """The file on this machine a path names (plain, or a file: URI); None for any other
    file system (hdfs://, s3a://, …), which only Spark reads."""
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):", path)
    if scheme is None:
        return Path(path)
    if scheme.group(1).lower() == "file":
        return Path(re.sub(r"^file:(//)?", "", path, flags=re.IGNORECASE))
    return None


def read_leads(spark: SparkSession, data: str, scorer: LeadScorer) -> DataFrame:
    """A CSV or Parquet path as Spark reads it, CSV values as text as `leadscore score`
    reads them: every column a string, an empty cell an empty string, `"` quoting."""
    return read_table(spark, data, scorer.spec.csv)


def read_table(spark: SparkSession, data: str, dialect: CsvSpec | None) -> DataFrame:
    """`read_leads` for any file: a CSV's delimiter is the dialect's, else the local
    file's own, else a comma."""
    kind = data_format(Path(data))
    if kind == "parquet":
        return spark.read.parquet(data)
    local = local_file(data)
    if local is not None:
        delimiter = csv_delimiter(local, dialect)
    else:
        delimiter = dialect.delimiter if dialect and dialect.delimiter else ","
    return (
        spark.read.option("header", True)
        .option("sep", delimiter)
        .option("quote", '"')
        .option("escape", '"')
        .option("mode", "FAILFAST")
        .option("encoding", "UTF-8")
        .csv(data)
        .na.fill("")  # Spark reads an empty cell as null; the local path as ""
    )


def score_path(
    spark: SparkSession,
    data: str,
    out: str,
    scorer: LeadScorer,
    version: str,
    *,
    as_of: AsOf,
    reasons: bool = False,
    k: int = 3,
    no_id: bool = False,
    batch_rows: int = BATCH_ROWS,
    partitions: int | None = None,
    lang: str = "en",
) -> int:
    """Score `data` (CSV or Parquet, any path Spark reads) into the Parquet directory `out`;
    returns the number of leads written.

    The columns are checked before anything runs. Written to `out.partial` and moved into
    place only when the job succeeded; a user error in a row (raised in a worker) is raised
    here with the local path's message, and nothing is left at `out`. With an event log:
    `serving.spark_events.score_path_with_events`."""
    if no_id and partitions is not None:
        raise LeadscoreError(
            "--no-id keeps the scores in the file's row order, which --partitions shuffles: "
            "give one or the other"
        )
    df = read_checked(spark, data, scorer, no_id)
    if partitions is not None:
        df = df.repartition(partitions)
    scored = score_frame(
        df,
        scorer,
        version,
        reasons=reasons,
        k=k,
        as_of=as_of,
        batch_rows=batch_rows,
        what=f"data file {data}",
        lang=lang,
    )
    return write_scores(spark, scored, out)


def read_checked(
    spark: SparkSession, data: str, scorer: LeadScorer, no_id: bool = False, events: bool = False
) -> DataFrame:
    """The leads at `data` as Spark reads them, after the local path's checks: a local CSV
    file's lines, the columns (the id always with `events`), at least one row."""
    what = f"data file {data}"
    local = local_file(data)
    if local is not None and data_format(local) == "csv":
        check_csv_lines(local, scorer.spec.id, scorer.spec.csv)
    df = read_leads(spark, data, scorer)
    check_frame_columns(scorer, df.columns, what, no_id, events)
    if df.isEmpty():
        raise LeadscoreError(f"{what} is empty (a header but no rows)")
    return df


def write_scores(spark: SparkSession, scored: DataFrame, out: str) -> int:
    """Run the job: the scores written to `out.partial`, moved to `out` when it succeeded
    (nothing left at `out` otherwise, a worker's user error raised with its message); the
    number of leads written."""
    files = HadoopFiles(spark)
    partial = out.rstrip("/") + ".partial"
    files.delete(partial)
    try:
        scored.write.mode("overwrite").parquet(partial)
    except Exception as error:
        files.delete(partial)
        raised = user_error(error)
        if raised is not None:
            raise raised from None
        raise
    files.replace(partial, out)
    return int(spark.read.parquet(out).count())


def check_csv_lines(path: Path, column: str | None, dialect: CsvSpec | None) -> None:
    """Every line of a local CSV file splits into the header's fields, checked by reading it
    through (one `column`) as `leadscore score` reads it (its message; about 0.7 s per
    million rows): Spark's reader would drop a line's extra fields without a word."""
    for _ in read_csv_chunks(path, 1 << 20, None if column is None else {column}, dialect):
        pass


class HadoopFiles:
    """Deleting and renaming on any file system Spark writes to (local, HDFS, S3…), through
    Hadoop's FileSystem API in the driver's JVM."""

    def __init__(self, spark: SparkSession) -> None:
        self.jvm: Any = spark.sparkContext._jvm
        self.conf: Any = spark.sparkContext._jsc.hadoopConfiguration()

    def _path(self, path: str) -> tuple[Any, Any]:
        hadoop_path = self.jvm.org.apache.hadoop.fs.Path(path)
        return hadoop_path.getFileSystem(self.conf), hadoop_path

    def delete(self, path: str) -> None:
        fs, hadoop_path = self._path(path)
        if fs.exists(hadoop_path):
            fs.delete(hadoop_path, True)

    def replace(self, source: str, target: str) -> None:
        """Move `source` to `target`, replacing what was there."""
        self.delete(target)
        fs, source_path = self._path(source)
        _, target_path = self._path(target)
        if not fs.rename(source_path, target_path):
            raise LeadscoreError(f"could not move the scores from {source} to {target}")
