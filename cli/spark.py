"""`leadscore score --engine spark`: the checks and the summary line of `leadscore score`,
the job itself in `serving.spark` (read, score with mapInPandas, write Parquet)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cli.common import console, err_console, moment_of, scored_line
from features.errors import LeadscoreError


def score_on_spark(
    data: str,
    out: str,
    model: str,
    *,
    batch_rows: int,
    reasons: bool,
    k: int,
    events: str | None,
    as_of: str | None,
    no_id: bool,
    spark_conf: list[str],
    partitions: int | None,
    lang: str = "en",
) -> None:
    """Score `data` into the Parquet directory `out` on Spark; one summary line at the end.

    A local data file gets `leadscore score`'s own checks before the model loads and
    before Spark starts (the same messages); a remote one the same column checks on the
    schema Spark reads. A row that cannot be scored fails the job with the local path's
    message, and nothing is left at `out`."""
    from serving.spark import local_file, parse_conf, require_pyspark

    require_pyspark()
    if Path(out).name.lower().endswith((".csv", ".csv.gz", ".txt")):
        raise LeadscoreError(f"--engine spark writes Parquet (a directory), not CSV: {out}")
    conf = parse_conf(spark_conf)
    moment = moment_of(as_of)

    from serving.batch import check_file, check_readable
    from serving.resolve import load_model
    from serving.spark import score_path, spark_session

    local = local_file(data)
    if local is not None:
        check_readable(local)
    local_events = None if events is None else local_file(events)
    if local_events is not None:
        check_readable(local_events, "event log")
    scorer, version = load_model(model)
    if local is not None:
        check_file(scorer, local, batch_rows, None, no_id)
    err_console.print(
        f"scoring as of {moment.text}" + (" (now)" if as_of is None else "") + " on Spark",
        highlight=False,
    )
    options: dict[str, Any] = {
        "as_of": moment,
        "reasons": reasons,
        "k": k,
        "no_id": no_id,
        "batch_rows": batch_rows,
        "lang": lang,
    }
    with spark_session(conf, app="leadscore score") as spark:
        if events is None:
            written = score_path(
                spark, data, out, scorer, version, partitions=partitions, **options
            )
        else:
            from serving.spark_events import score_path_with_events

            written = score_path_with_events(
                spark, data, events, out, scorer, version, buckets=partitions, **options
            )
    console.print(scored_line(written, model, version, moment, out))
