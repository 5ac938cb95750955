"""Scoring on Spark with an event log: `leadscore score --engine spark --events LOG`.

The local path builds each lead's event properties (and window features) from the
events before the moment of scoring (`LeadScorer.as_of_frame`). On Spark, leads and
events are put into the same buckets by a hash of the lead id (`spark.sql.shuffle.partitions`
buckets, or `--partitions`), and each bucket's leads are scored with its events in one
Python call (`cogroup(...).applyInPandas`): the same functions, the same values, one
bucket in a worker's memory at a time.

Each event keeps its data row in the log (numbered on the JVM: its partition's offset
plus its place in the partition), so a mistake in a row is reported with the local
path's message and row. The count in "N event(s) of leads the file does not hold" is
the bucket's, where the local path counts the whole log.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from features.errors import LeadscoreError
from features.events import check_event_columns, event_columns_needed, read_event_log
from features.files import data_format, events_section
from features.timestamps import AsOf
from serving.batch import EventLeads
from serving.spark import (
    BATCH_ROWS,
    VERSION_COLUMN,
    check_csv_lines,
    epoch_micros,
    from_epoch_micros,
    local_file,
    output_columns,
    read_checked,
    read_table,
    ship_bundle,
    spark_schema,
    worker_error,
    worker_scorer,
    write_scores,
)

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

    from models.scorer import LeadScorer

BUCKET = "__leadscore_bucket"  # which Python call scores a lead and its events
ROW = "__leadscore_row"  # an event's data row in its log (from 1)


def read_events(df: DataFrame, scorer: LeadScorer, source: str) -> DataFrame:
    """The columns of an event log the spec reads (checked on the driver, the local path's
    message), each event's data row beside them."""
    events = events_section(scorer.spec)
    check_event_columns(df.columns, events, source)
    return with_row_numbers(df.select(*event_columns_needed(events)))


def with_row_numbers(df: DataFrame) -> DataFrame:
    """`df` with ROW: each row's place in the source, from 1, in the order Spark reads it
    (a file's order). One job counts the rows of each partition; a row's number is its
    partition's offset plus its place in the partition (`monotonically_increasing_id`
    holds both)."""
    from pyspark.sql import functions as F

    tagged = df.withColumn(ROW, F.monotonically_increasing_id())
    part = F.shiftright(F.col(ROW), 33)
    counts: dict[int, int] = {
        int(row[0]): int(row[1]) for row in tagged.groupBy(part.alias("p")).count().collect()
    }
    offsets: list[Column] = []
    total = 0
    for partition in sorted(counts):
        offsets += [F.lit(partition), F.lit(total)]
        total += counts[partition]
    if not offsets:
        return tagged.withColumn(ROW, F.lit(0).cast("long"))
    place = F.col(ROW).bitwiseAND(F.lit((1 << 33) - 1))
    return tagged.withColumn(ROW, F.create_map(*offsets)[part] + place + F.lit(1))


def bucketed(df: DataFrame, column: str, buckets: int) -> DataFrame:
    """`df` with BUCKET: a hash of `column` as text (the same text on both sides of the
    cogroup whatever the columns' Spark types), modulo `buckets`."""
    from pyspark.sql import functions as F

    return df.withColumn(BUCKET, F.pmod(F.hash(F.col(column).cast("string")), F.lit(buckets)))


@dataclass(frozen=True)
class EventScoringJob:
    """One bucket's leads and events in, its scored leads out (`applyInPandas` of a
    cogroup): the log read as `features.events.read_event_log` reads it (with the events'
    own rows), every event checked to meet its lead (`serving.batch.EventLeads`), the leads
    scored in chunks as `leadscore score --events` scores them."""

    bundle: str
    version: str
    as_of: AsOf
    reasons: bool
    k: int
    columns: tuple[str, ...]
    instants: tuple[str, ...]  # the leads' timestamp columns, as epoch microseconds
    event_instants: tuple[str, ...]  # the log's
    source: str  # the event log's path, for messages
    data: str  # the leads' path, for messages
    batch_rows: int
    lang: str = "en"

    def __call__(self, leads: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
        try:
            return self._score(leads, events)
        except LeadscoreError as error:
            raise worker_error(error) from None

    def _score(self, leads: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
        scorer = worker_scorer(self.bundle)
        spec = scorer.spec
        assert spec.events is not None  # checked on the driver
        rows = events.pop(ROW).to_numpy(dtype=np.int64)
        events = from_epoch_micros(events.drop(columns=[BUCKET]), self.event_instants)
        leads = from_epoch_micros(leads.drop(columns=[BUCKET]), self.instants)
        order = np.argsort(rows, kind="stable")  # the log's own order, as the local path
        events, rows = events.iloc[order].reset_index(drop=True), rows[order]
        log = read_event_log(events, spec.events, self.source, spec.missing_tokens, rows)
        seen = EventLeads(log, spec.id, spec.missing_tokens)
        scored = list(
            scorer.score_chunks(
                seen.mark(_chunks(leads, self.batch_rows)),
                reasons=self.reasons,
                k=self.k,
                as_of=self.as_of,
                events=log,
                lang=self.lang,
            )
        )
        seen.check(self.data)
        if not scored:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in self.columns})
        out = pd.concat(scored, ignore_index=True)
        out[VERSION_COLUMN] = self.version
        return out[list(self.columns)]


def _chunks(frame: pd.DataFrame, rows: int) -> Iterator[pd.DataFrame]:
    for start in range(0, len(frame), rows):
        yield frame.iloc[start : start + rows].reset_index(drop=True)


def score_path_with_events(
    spark: SparkSession,
    data: str,
    events: str,
    out: str,
    scorer: LeadScorer,
    version: str,
    *,
    as_of: AsOf,
    reasons: bool = False,
    k: int = 3,
    no_id: bool = False,
    batch_rows: int = BATCH_ROWS,
    buckets: int | None = None,
    lang: str = "en",
) -> int:
    """`serving.spark.score_path` with an event log: the leads' event properties built
    from the events at `events` (any path Spark reads). Both files are checked first (the
    local path's messages); leads and events are bucketed by lead id (`buckets`, default
    `spark.sql.shuffle.partitions`) and each bucket is scored in one call; all or nothing."""
    leads = read_checked(spark, data, scorer, no_id, events=True)
    local = local_file(events)
    if local is not None and data_format(local) == "csv":
        check_csv_lines(local, scorer.spec.events.id if scorer.spec.events else None, None)
    source = str(local) if local is not None else events
    log = read_events(read_table(spark, events, None), scorer, source)
    spec = scorer.spec
    assert spec.events is not None  # read_events checked it
    count = buckets or int(spark.conf.get("spark.sql.shuffle.partitions") or 200)
    shipped = [c for c in scorer.input_columns if c in leads.columns]
    leads_out, instants = epoch_micros(leads.select(*shipped))
    log_out, event_instants = epoch_micros(log)
    columns = output_columns(scorer, reasons)
    job = EventScoringJob(
        bundle=ship_bundle(spark, scorer, version),
        version=version,
        as_of=as_of,
        reasons=reasons,
        k=k,
        columns=tuple(c.name for c in columns),
        instants=instants,
        event_instants=event_instants,
        source=source,
        data=data,
        batch_rows=batch_rows,
        lang=lang,
    )
    left = bucketed(leads_out, spec.id, count).groupBy(BUCKET)
    right = bucketed(log_out, spec.events.id, count).groupBy(BUCKET)

    def score_bucket(leads: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
        # a function of two arguments: Spark's worker counts a callable object's `self`
        # and would hand it the bucket's key too
        return job(leads, events)

    scored = left.cogroup(right).applyInPandas(score_bucket, spark_schema(columns))
    return write_scores(spark, scored, out)
