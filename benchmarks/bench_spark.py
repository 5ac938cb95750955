"""Scoring on Spark (local[1], local[2]) against the single-process scorer, in one run.

Run on demand (not part of the tests; needs `pip install -e '.[spark]'`; minutes):

    .venv/bin/python benchmarks/bench_spark.py [--rows 1000000] [--reasons-rows 100000]
                                              [--memory-only]

Trains a scorer point-in-time on `--train-rows` generated leads (as bench_batch_scoring
does), registers it in a temporary MLflow store, writes `--rows` generated leads as CRM text
to a Parquet file (row groups of `--row-group` rows, so Spark can split it), scored as of
2026-07-01T00:00:00Z, and measures:

- the baseline: `serving.batch.score_file` (what `leadscore score` runs, start-up excluded)
  on the same file, Parquet out, in this process;
- Spark's fixed costs apart: starting the session (JVM and context), resolving and loading
  `models:/lead-scorer@champion` on the driver;
- `serving.spark.score_path` (what `leadscore score --engine spark` runs after its checks:
  read, ship the bundle, mapInPandas, write Parquet, count) on local[2] and local[1], as
  rows/s and as a ratio of the baseline's time; on local[2] also with Spark's own 10,000-row
  Arrow batches as the scoring chunk instead of 50,000, and with reasons on
  `--reasons-rows` rows (against `score_file(reasons=True)` on the same rows);
- the peak resident memory of Spark's Python workers (psutil, sampled every 0.1 s): of the
  largest one, and of all of them at once;
- `pyfunc.predict` (text inputs, as logged now) against a copy of the model logged with
  the former any-type inputs and against `LeadScorer.score`, on 10,000 rows.

`--memory-only` runs only Spark local[2] on `--rows` (10,000,000 for the issue's memory
goal: `make bench-spark-memory`) and reports its time and the Python workers' peak memory;
the file is written a row group at a time, so the benchmark itself never holds more than
`--distinct` leads.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from timing import DEMO_AS_OF, as_crm_text, train_demo

RESOLVE = "import sys; from serving.resolve import open_model; open_model(sys.argv[1], sys.argv[2])"


class WorkerMemory:
    """Peak RSS of Spark's Python workers (`pyspark.daemon` and the workers it forks)."""

    def __init__(self, every: float = 0.1) -> None:
        self.every = every
        self.largest = 0
        self.together = 0
        self.pids: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = 0
            for process in psutil.process_iter(["cmdline", "memory_info"]):
                line = " ".join(process.info["cmdline"] or [])
                if "pyspark.daemon" in line or "pyspark.worker" in line:
                    rss = process.info["memory_info"].rss
                    self.pids.add(process.pid)
                    self.largest = max(self.largest, rss)
                    total += rss
            self.together = max(self.together, total)
            time.sleep(self.every)

    def __enter__(self) -> WorkerMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = call()
    return time.perf_counter() - started, value


BUSY: dict[str, float] = {}  # case → cores the machine kept busy on average while it ran


def busy_timed(case: str, call: Callable[[], Any]) -> tuple[float, Any]:
    """`timed`, and the machine's busy CPU time over the wall time (all processes: this
    one, Spark's JVM, its Python workers) into BUSY[case]: on a quiet machine, how many
    cores the case used."""
    import psutil

    def busy() -> float:
        times = psutil.cpu_times()
        return sum(times) - times.idle - getattr(times, "iowait", 0.0)

    before = busy()
    seconds, value = timed(call)
    BUSY[case] = (busy() - before) / seconds
    return seconds, value


@contextmanager
def session(master: str) -> Iterator[tuple[Any, float]]:
    from serving.spark import spark_session

    conf = {
        "spark.master": master,
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
    }
    started = time.perf_counter()
    with spark_session(conf, app=f"bench-spark {master}") as spark:
        spark.sparkContext.setLogLevel("ERROR")
        yield spark, time.perf_counter() - started


def mib(value: int) -> str:
    return f"{value / 2**20:,.0f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="leads to score")
    parser.add_argument("--reasons-rows", type=int, default=100_000, help="leads with reasons")
    parser.add_argument(
        "--train-rows", type=int, default=20_000, help="generated leads to train on"
    )
    parser.add_argument("--row-group", type=int, default=100_000, help="Parquet row group rows")
    parser.add_argument(
        "--distinct", type=int, default=200_000, help="distinct leads generated (then repeated)"
    )
    parser.add_argument(
        "--memory-only",
        action="store_true",
        help="only Spark local[2] on --rows: time and the Python workers' peak memory",
    )
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

    import mlflow
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from mlflow.tracking import MlflowClient
    from mlflow.types.schema import AnyType, ColSpec, Schema

    from features.generate import generate_leads
    from features.timestamps import AsOf
    from models.pyfunc import BUNDLE_ARTIFACT, log_scorer, pip_requirements, signature_for
    from serving.batch import score_file
    from serving.resolve import open_model
    from serving.spark import score_path
    from training.tracking import configure, ensure_experiment

    cores = len(os.sched_getaffinity(0))
    load = os.getloadavg()
    print(f"{os.cpu_count()} cores ({cores} usable); load average {load[0]:.1f} at the start")
    trained = train_demo(args.train_rows, seed=7)
    scorer = trained.scorer
    print(trained.describe())
    moment = AsOf.of(DEMO_AS_OF)
    id_column = scorer.spec.id

    with tempfile.TemporaryDirectory(prefix="bench-spark-") as tmp_name:
        tmp = Path(tmp_name)
        distinct = as_crm_text(generate_leads(min(args.rows, args.distinct), seed=11))

        def leads(start: int, stop: int) -> pd.DataFrame:
            """Rows start..stop of the distinct leads repeated, each with its own id."""
            at = np.arange(start, stop)
            part = distinct.iloc[at % len(distinct)].reset_index(drop=True)
            part[id_column] = (at + 10_000_000).astype(str)
            return part

        data = tmp / "leads.parquet"
        with pq.ParquetWriter(data, pa.Schema.from_pandas(leads(0, 1), preserve_index=False)) as w:
            for start in range(0, args.rows, args.row_group):
                chunk = leads(start, min(start + args.row_group, args.rows))
                w.write_table(pa.Table.from_pandas(chunk, preserve_index=False))
        frame = leads(0, min(args.rows, max(args.reasons_rows, 10_000)))
        warm = tmp / "warm-up.parquet"  # 4 row groups: every worker of local[2] starts
        frame.head(10_000).to_parquet(warm, index=False, row_group_size=2_500)
        reasons_data = tmp / "leads-reasons.parquet"
        frame.head(args.reasons_rows).to_parquet(
            reasons_data, index=False, row_group_size=args.row_group
        )
        print(
            f"{args.rows:,} leads ({len(distinct):,} distinct, repeated with new ids) in "
            f"{data.stat().st_size / 2**20:,.0f} MiB of Parquet, row groups of {args.row_group:,}"
        )

        uri = configure(f"sqlite:///{tmp / 'bench.db'}")
        with mlflow.start_run(experiment_id=ensure_experiment("bench", uri)):
            bundle = scorer.save(tmp / "bundle")
            info = log_scorer(scorer, bundle, None, registered_model_name="lead-scorer")
        MlflowClient(uri, uri).set_registered_model_alias(
            "lead-scorer", "champion", str(info.registered_model_version)
        )

        if args.memory_only:
            found = open_model("models:/lead-scorer@champion", uri)
            with session("local[2]") as (spark, started), WorkerMemory() as workers:
                partitions = spark.read.parquet(str(data)).rdd.getNumPartitions()
                score_path(spark, str(warm), str(tmp / "warm"), found.scorer, "1", as_of=moment)
                print(f"local[2], {args.rows:,} rows…", file=sys.stderr, flush=True)
                seconds, written = timed(
                    lambda: score_path(
                        spark, str(data), str(tmp / "spark"), found.scorer, "1", as_of=moment
                    )
                )
            assert written == args.rows, (written, args.rows)
            print(
                f"\nSpark local[2] (session start {started:.1f} s): {args.rows:,} rows in "
                f"{seconds:.1f} s, {args.rows / seconds:,.0f} rows/s; {partitions} input "
                f"partitions of ~{args.rows / partitions:,.0f} rows; Python workers: peak RSS "
                f"{mib(workers.largest)} of the largest, {mib(workers.together)} of all at once "
                f"({len(workers.pids)} processes seen); scored Parquet "
                f"{sum(f.stat().st_size for f in (tmp / 'spark').rglob('*.parquet')) / 2**20:,.0f}"
                " MiB"
            )
            print(f"load average at the end {os.getloadavg()[0]:.1f}")
            return

        print("baseline: score_file in this process…", file=sys.stderr, flush=True)
        base, _ = busy_timed(
            "base",
            lambda: score_file(scorer, data, tmp / "local.parquet", as_of=moment, version="1"),
        )
        base_reasons, _ = busy_timed(
            "reasons",
            lambda: score_file(
                scorer, reasons_data, tmp / "local-r.parquet", as_of=moment, reasons=True
            ),
        )
        found = open_model("models:/lead-scorer@champion", uri)
        # what a fresh `leadscore score --engine spark` pays: Python, MLflow, the registry
        resolve_s, _ = timed(
            lambda: subprocess.run(
                [sys.executable, "-c", RESOLVE, "models:/lead-scorer@champion", uri], check=True
            )
        )
        bare_s, _ = timed(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True))
        resolve_s -= bare_s

        rows: list[tuple[str, int, float, str]] = []
        cases: list[str] = []  # each row's case name in BUSY

        def run(spark: Any, name: str, source: Path, n: int, **options: Any) -> float:
            print(f"{name}…", file=sys.stderr, flush=True)
            seconds, written = busy_timed(
                name,
                lambda: score_path(
                    spark,
                    str(source),
                    str(tmp / "spark"),
                    found.scorer,
                    "1",
                    as_of=moment,
                    **options,
                ),
            )
            assert written == n, (written, n)
            return float(seconds)

        memory: dict[str, WorkerMemory] = {}
        starts: dict[str, float] = {}
        first: dict[str, float] = {}
        for master in ("local[2]", "local[1]"):
            with session(master) as (spark, started), WorkerMemory() as workers:
                starts[master] = started
                first[master] = run(spark, f"{master}, first job", warm, 10_000)
                seconds = run(spark, f"{master}, chunks of 50,000", data, args.rows)
                rows.append((f"Spark {master}, chunks of 50,000", args.rows, seconds, "base"))
                cases.append(f"{master}, chunks of 50,000")
                if master == "local[2]":
                    seconds = run(
                        spark, f"{master}, chunks of 10,000", data, args.rows, batch_rows=10_000
                    )
                    rows.append(
                        (
                            f"Spark {master}, chunks of 10,000 (Spark's batch)",
                            args.rows,
                            seconds,
                            "base",
                        )
                    )
                    cases.append(f"{master}, chunks of 10,000")
                    seconds = run(
                        spark, f"{master}, reasons", reasons_data, args.reasons_rows, reasons=True
                    )
                    rows.append(
                        (f"Spark {master} with reasons", args.reasons_rows, seconds, "reasons")
                    )
                    cases.append(f"{master}, reasons")
            memory[master] = workers

        print(
            f"\nfixed costs: Spark session start {starts['local[2]']:.1f} s (JVM + context; "
            f"local[1] after it in the same JVM {starts['local[1]']:.1f} s), resolving and "
            f"loading models:/lead-scorer@champion in a fresh Python {resolve_s:.1f} s (imports "
            f"included); the first job of a session (10,000 rows in 4 tasks, Python workers "
            f"start and import leadscore): local[2] {first['local[2]']:.1f} s, local[1] "
            f"{first['local[1]']:.1f} s; the cases below ran after it"
        )
        print(
            "\nthroughput (wall time of the job; ratio = single-process time / this time; "
            "cores busy = the machine's CPU time over the wall time, every process)"
        )
        print(f"{'case':52} {'rows':>10} {'seconds':>8} {'rows/s':>9} {'ratio':>6} {'cores':>6}")
        print(
            f"{'single process: score_file, chunks of 50,000':52} {args.rows:>10,} {base:8.1f} "
            f"{args.rows / base:9,.0f} {1:6.2f} {BUSY['base']:6.2f}"
        )
        print(
            f"{'single process: score_file with reasons':52} {args.reasons_rows:>10,} "
            f"{base_reasons:8.1f} {args.reasons_rows / base_reasons:9,.0f} {1:6.2f} "
            f"{BUSY['reasons']:6.2f}"
        )
        for (name, n, seconds, against), case in zip(rows, cases, strict=True):
            reference = base if against == "base" else base_reasons
            print(
                f"{name:52} {n:>10,} {seconds:8.1f} {n / seconds:9,.0f} "
                f"{reference / seconds:6.2f} {BUSY[case]:6.2f}"
            )
        one = next(s for name, _, s, _ in rows if name.startswith("Spark local[1]"))
        two = next(s for name, _, s, _ in rows if name.startswith("Spark local[2], chunks of 50"))
        print(f"\nscaling: local[2] is {one / two:.2f}× local[1] (2.00 = linear in cores)")
        for master, workers in memory.items():
            print(
                f"Python workers, {master}: peak RSS {mib(workers.largest)} of the largest, "
                f"{mib(workers.together)} of all at once ({len(workers.pids)} processes seen)"
            )

        print("\npyfunc input check, 10,000 rows…", file=sys.stderr, flush=True)
        sample = frame.head(10_000)[scorer.input_columns]
        signature = signature_for(scorer)
        any_type = type(signature)(
            inputs=Schema(
                [ColSpec(AnyType(), c.name, required=False) for c in signature.inputs.inputs]
            ),
            outputs=signature.outputs,
            params=signature.params,
        )
        models = {}
        for name, sig in (("text inputs (now)", signature), ("any-type inputs (before)", any_type)):
            path = tmp / name.split()[0]
            mlflow.pyfunc.save_model(
                str(path),
                python_model=str(
                    Path(sys.modules["models.pyfunc"].__file__).with_name("mlflow_model.py")
                ),
                artifacts={BUNDLE_ARTIFACT: str(bundle)},
                signature=sig,
                pip_requirements=pip_requirements(),
            )
            models[name] = mlflow.pyfunc.load_model(str(path))
        params = {"as_of": DEMO_AS_OF}
        cases: dict[str, Callable[[], Any]] = {
            "LeadScorer.score": lambda: scorer.score(sample, as_of=moment),
            **{
                f"pyfunc.predict, {name}": (lambda m=m: m.predict(sample, params=params))
                for name, m in models.items()
            },
        }
        best = {name: min(timed(call)[0] for _ in range(3)) for name, call in cases.items()}
        print(f"{'case (10,000 rows, best of 3)':44} {'seconds':>8} {'× score':>8}")
        for name, seconds in best.items():
            print(f"{name:44} {seconds:8.3f} {seconds / best['LeadScorer.score']:8.2f}")
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
