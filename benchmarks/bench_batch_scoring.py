"""Batch scoring throughput against raw LightGBM on the same rows and trees, and its memory.

Run on demand (not part of the tests; a few minutes, `--million` adds a few more):

    .venv/bin/python benchmarks/bench_batch_scoring.py [--rows 200000] [--chunk-size 50000]
                                                      [--rounds 3] [--million]

Trains a scorer point-in-time on `--train-rows` generated leads and their events
(default `TrainConfig`, as `leadscore train --events`), logs it to a temporary MLflow
store, generates `--rows` other leads as CRM text (the export at the end of 2026-06-30,
scored as of 2026-07-01T00:00:00Z: `--as-of` for the command, `as_of=` in process; the
floors read the matrix encoded as of the same moment), and measures in one run:

- without reasons: `LeadScorer.score(chunk, decide=True)` over chunks of
  `--chunk-size` rows, `LeadScorer.score_chunks` (what `leadscore score` calls: the
  next chunk is encoded in a thread meanwhile), and the `leadscore score` command end
  to end on a CSV of the same rows, each as a share of the floor: raw
  `booster.predict(raw_score=True)` of the three boosters on the already-encoded
  matrix (same rows, same trees, LightGBM's default threads). Goal ≥ 50 %.
  Where the time goes: encode (and, within it, reading the `days_since` timestamp
  columns), score_matrix, decide.
- with reasons: `score(chunk, decide=True, reasons=True)` and `leadscore score
  --reasons`, as a share of raw `pred_contrib` of the fit and interest boosters on
  every row. Goal ≥ 80 %. Where the time goes: TreeSHAP over chunks (run once per
  distinct branch pattern; the share of patterns is printed, and raw `pred_contrib`
  of every row of each chunk beside it), the reason lines.
- `--million`: the peak resident memory of `leadscore score` on 1,000,000 rows against
  the same command on `--rows` rows. It reads and writes in chunks, so the peak should
  not grow with the file.

In-process cases take turns for `--rounds` rounds (fastest kept), so that other load
on the machine hits them alike. A command's peak RSS comes from `os.wait4` in a small
launcher process (see `bench_training.run_measured`).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench_training import run_measured
from timing import DEMO_AS_OF, as_crm_text, train_demo

LEADSCORE = Path(sys.executable).with_name("leadscore")


def interleaved(cases: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Wall seconds of each case in each round; the cases take turns."""
    seconds: dict[str, list[float]] = {name: [] for name in cases}
    for round_ in range(rounds):
        for name, call in cases.items():
            started = time.perf_counter()
            call()
            seconds[name].append(time.perf_counter() - started)
        print(f"  round {round_ + 1}/{rounds} done", file=sys.stderr, flush=True)
    return seconds


def report(title: str, rows: int, seconds: dict[str, list[float]], floor: str, goal: float) -> None:
    """Per case: the fastest round, the spread (slowest − fastest), and the share of the
    floor's fastest round."""
    base = min(seconds[floor])
    print(f"\n{title} ({rows:,} rows; share of floor = floor time / case time; goal ≥ {goal:.0%})")
    width = max(map(len, seconds))
    print(f"{'case':{width}} {'seconds':>8} {'spread':>7} {'rows/s':>10} {'of floor':>9}")
    for name, values in seconds.items():
        best = min(values)
        print(
            f"{name:{width}} {best:8.2f} {max(values) - best:+7.2f} {rows / best:10,.0f} "
            f"{base / best:9.1%}"
        )


def _spread(values: list[float]) -> str:
    return f"spread {max(values) - min(values):+.1f} s"


def cli(
    data: Path,
    out: Path,
    model_uri: str,
    env: dict[str, str],
    chunk_size: int,
    reasons: bool = False,
) -> tuple[float, int]:
    command = [
        str(LEADSCORE),
        "score",
        "--data",
        str(data),
        "--out",
        str(out),
        "--model",
        model_uri,
        "--chunk-size",
        str(chunk_size),
        "--as-of",
        DEMO_AS_OF,
    ]
    seconds, peak, _ = run_measured(command + (["--reasons"] if reasons else []), env=env)
    out.unlink(missing_ok=True)
    return seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="leads to score")
    parser.add_argument(
        "--train-rows",
        type=int,
        default=20_000,
        help="generated leads to train on (~2.2 examples each)",
    )
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=50_000,
        help="rows per chunk (the `leadscore score` default)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="timed runs of each case")
    parser.add_argument(
        "--million",
        action="store_true",
        help="also the peak memory of `leadscore score` on 1,000,000 rows",
    )
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

    import mlflow

    from features.generate import generate_leads
    from features.spec import Derivation
    from features.timestamps import AsOf, days_since, read_timestamps
    from models.contract import GROUPS
    from models.pyfunc import log_scorer
    from models.scorer import MIN_EFFECT
    from training.tracking import configure, ensure_experiment
    from training.train import input_example

    cores, usable = os.cpu_count(), len(os.sched_getaffinity(0))
    print(f"{cores} cores ({usable} usable); LightGBM prediction on its default threads")
    trained = train_demo(args.train_rows, seed=7)
    scorer, train = trained.scorer, trained.contacts
    spec = scorer.spec
    print(trained.describe())
    as_of = AsOf.of(DEMO_AS_OF)
    print(f"scoring generated leads as of {as_of.text}")

    frame = as_crm_text(generate_leads(args.rows, seed=11))
    chunks = [frame.iloc[i : i + args.chunk_size] for i in range(0, len(frame), args.chunk_size)]
    matrix = scorer.encoder.transform(frame, as_of)
    boosters = {n: (m.booster, m.columns(matrix)) for n, m in scorer.models.items()}
    encoded = [scorer.encode(c, as_of) for c in chunks]
    stamped = [f for f in spec.features if f.derive is Derivation.days_since]
    missing = spec.missing_tokens

    def timestamps() -> None:
        for chunk in chunks:
            for feature in stamped:
                values = chunk[feature.source]
                stamps = read_timestamps(values, feature.source, missing)
                days_since(stamps, as_of, feature.source, values.to_numpy())

    scored = [scorer.score_matrix(m) for m in encoded]
    shap = [{g: scorer.models[g].contributions(m) for g in GROUPS} for m in encoded]
    assert scorer.policy is not None

    def floor() -> None:
        for booster, columns in boosters.values():
            booster.predict(columns, raw_score=True)

    def contrib_floor() -> None:
        for name in ("fit", "interest"):
            booster, columns = boosters[name]
            booster.predict(columns, pred_contrib=True)

    plain: dict[str, Callable[[], object]] = {
        "raw predict, 3 boosters, encoded matrix (floor)": floor,
        "LeadScorer.score(chunk, decide=True)": lambda: [
            scorer.score(c, as_of=as_of) for c in chunks
        ],
        "LeadScorer.score_chunks(chunks) (encodes the next chunk meanwhile)": lambda: list(
            scorer.score_chunks(chunks, as_of=as_of)
        ),
        "  of which encode (chunks)": lambda: [scorer.encode(c, as_of) for c in chunks],
        f"    of which {len(stamped)} timestamp columns (read_timestamps + days_since)": (
            timestamps
        ),
        "  of which score_matrix (encoded chunks)": lambda: [
            scorer.score_matrix(m) for m in encoded
        ],
        "  of which decide (scored chunks)": lambda: [
            scorer.decide(scorer.policy_columns(c), s)  # type: ignore[union-attr]
            for c, s in zip(chunks, scored, strict=True)
        ],
    }
    with_reasons: dict[str, Callable[[], object]] = {
        "raw pred_contrib, fit + interest, encoded (floor)": contrib_floor,
        "LeadScorer.score(chunk, decide=True, reasons=True)": lambda: [
            scorer.score(c, reasons=True, as_of=as_of) for c in chunks
        ],
        "LeadScorer.score_chunks(chunks, reasons=True)": lambda: list(
            scorer.score_chunks(chunks, reasons=True, as_of=as_of)
        ),
        "  of which TreeSHAP, fit + interest (encoded chunks)": lambda: [
            [scorer.models[g].contributions(m) for g in GROUPS] for m in encoded
        ],
        "  (raw pred_contrib of every row of each chunk, for comparison)": lambda: [
            [
                scorer.models[g].booster.predict(scorer.models[g].columns(m), pred_contrib=True)
                for g in GROUPS
            ]
            for m in encoded
        ],
        "  of which reason lines (given the TreeSHAP values)": lambda: [
            scorer.explainer.lines(m, c, 3, min_effect=MIN_EFFECT, contributions=s)
            for c, m, s in zip(chunks, encoded, shap, strict=True)
        ],
    }
    for group in GROUPS:
        model = scorer.models[group]
        patterns = sum(len(model.shap.branch_patterns(model.columns(m))[0]) for m in encoded)
        print(
            f"{group}: {patterns:,} distinct branch patterns in {args.rows:,} rows "
            f"({patterns / args.rows:.0%}; TreeSHAP runs once per pattern of a chunk)"
        )
    print("timing in-process cases…", file=sys.stderr, flush=True)
    plain_seconds = interleaved(plain, args.rounds)
    reasons_seconds = interleaved(with_reasons, args.rounds)

    with tempfile.TemporaryDirectory(prefix="bench-score-") as tmp_name:
        tmp = Path(tmp_name)
        uri = configure(f"sqlite:///{tmp / 'bench.db'}")
        with mlflow.start_run(experiment_id=ensure_experiment("bench", uri)):
            bundle = scorer.save(tmp / "bundle")
            model_uri = log_scorer(scorer, bundle, input_example(scorer, train, as_of)).model_uri
        env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
        data, small, out = tmp / "leads.csv", tmp / "small.csv", tmp / "scores.csv"
        frame.to_csv(data, index=False)
        frame.iloc[:1000].to_csv(small, index=False)
        print("timing the `leadscore score` command…", file=sys.stderr, flush=True)
        runs: dict[str, list[tuple[float, int]]] = {
            k: [] for k in ("plain", "reasons", "small", "small_r")
        }
        for _ in range(args.rounds):
            runs["small"].append(cli(small, out, model_uri, env, args.chunk_size))
            runs["plain"].append(cli(data, out, model_uri, env, args.chunk_size))
            runs["small_r"].append(cli(small, out, model_uri, env, args.chunk_size, True))
            runs["reasons"].append(cli(data, out, model_uri, env, args.chunk_size, True))
        best = {k: min(v) for k, v in runs.items()}
        command = {k: [seconds for seconds, _ in v] for k, v in runs.items()}
        million: tuple[float, int] | None = None
        if args.million:
            big = tmp / "million.csv"
            started = time.perf_counter()
            as_crm_text(generate_leads(1_000_000, seed=13)).to_csv(big, index=False)
            print(
                f"wrote 1,000,000 leads ({big.stat().st_size / 2**20:.0f} MiB) in "
                f"{time.perf_counter() - started:.0f} s",
                file=sys.stderr,
                flush=True,
            )
            million = cli(big, out, model_uri, env, args.chunk_size)
            million_mib = big.stat().st_size / 2**20
        data_mib = data.stat().st_size / 2**20

    startup, startup_r = best["small"][0], best["small_r"][0]
    plain_seconds["`leadscore score` command, CSV → CSV"] = command["plain"]
    plain_seconds["  same, less start-up (the command on 1,000 rows)"] = [
        seconds - startup for seconds in command["plain"]
    ]
    reasons_seconds["`leadscore score --reasons` command, CSV → CSV"] = command["reasons"]
    reasons_seconds["  same, less start-up (the command on 1,000 rows)"] = [
        seconds - startup_r for seconds in command["reasons"]
    ]
    report(
        "without reasons",
        args.rows,
        plain_seconds,
        "raw predict, 3 boosters, encoded matrix (floor)",
        0.5,
    )
    report(
        "with reasons (top 3 per direction, fit and interest)",
        args.rows,
        reasons_seconds,
        "raw pred_contrib, fit + interest, encoded (floor)",
        0.8,
    )
    print(
        f"\nchunks of {args.chunk_size:,} rows; fastest of {args.rounds} (spread = slowest − "
        f"fastest); command start-up (1,000 rows, fastest) {startup:.1f} s "
        f"({_spread(command['small'])}), with --reasons {startup_r:.1f} s "
        f"({_spread(command['small_r'])}); less start-up = each run less the fastest start-up"
    )

    def peaks(key: str) -> str:
        low, high = (f(peak for _, peak in runs[key]) / 2**20 for f in (min, max))
        return f"{low:,.0f}–{high:,.0f} MiB"

    print(
        f"peak RSS of `leadscore score` (lowest–highest of {args.rounds}): {peaks('small')} on "
        f"1,000 rows, {peaks('plain')} on {args.rows:,} rows ({data_mib:.0f} MiB CSV), with "
        f"--reasons {peaks('reasons')}"
        + (
            f", {million[1] / 2**20:,.0f} MiB on 1,000,000 rows ({million_mib:.0f} MiB CSV, "
            f"{million[0]:.0f} s)"
            if million
            else ""
        )
    )


if __name__ == "__main__":
    main()
