"""Single-lead scoring latency: the bundle's no-pandas path against the alternatives.

Run on demand (not part of the tests):

    .venv/bin/python benchmarks/bench_single_lead.py [--rows 20000] [--repeat 2000] [--rounds 3]

Trains a scorer point-in-time on generated leads and their events in memory (as
`leadscore train --events`), then times one lead of the generated export per call, as of
2026-07-01T00:00:00Z (the export's moment), through (a) `LeadScorer.score_records` (the
service's hot path), (b) `LeadScorer.score` on a one-row DataFrame, (c) the MLflow pyfunc
`predict` (`params={"as_of": ...}`), and as the floor (d) the three raw LightGBM boosters
on an already-encoded row. The cases take turns for `--rounds` rounds of `--repeat` calls
each; prints the best round's median, the spread of the rounds' medians, p99 over all
calls and ratios of best medians to the floor, all measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from timing import DEMO_AS_OF, p50_best_and_spread, percentile_ms, rounds_of, train_demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, default=20_000, help="generated leads to train on (~2.2 examples each)"
    )
    parser.add_argument("--repeat", type=int, default=2_000, help="calls per case and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, the cases taking turns")
    args = parser.parse_args()

    import mlflow

    from features.timestamps import AsOf
    from models.pyfunc import log_scorer
    from training.tracking import configure, ensure_experiment
    from training.train import input_example

    trained = train_demo(args.rows, seed=7)
    scorer, leads = trained.scorer, trained.contacts
    as_of = AsOf.of(DEMO_AS_OF)
    lead = leads.iloc[[123]]
    record = lead.to_dict("records")
    encoded = scorer.encoder.transform_records(record, as_of)
    params = {"as_of": DEMO_AS_OF}
    # The pyfunc gets the columns its signature names: MLflow logs a warning on every call
    # for any other column (the generator's `_true_*` truth, `converted`, …).
    signed = lead[[c for c in scorer.input_columns if c in lead.columns]]

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        uri = configure(f"sqlite:///{Path(tmp) / 'bench.db'}")
        with mlflow.start_run(experiment_id=ensure_experiment("bench", uri)):
            bundle = scorer.save(Path(tmp) / "bundle")
            info = log_scorer(scorer, bundle, input_example(scorer, leads, as_of))
        pyfunc = mlflow.pyfunc.load_model(info.model_uri)

        def floor() -> None:
            for model in scorer.models.values():
                model.booster.predict(model.columns(encoded), raw_score=True, num_threads=1)

        cases: dict[str, Callable[[], object]] = {
            "raw boosters on an encoded row (floor)": floor,
            "LeadScorer.score_records (hot path)": lambda: scorer.score_records(
                record, as_of=as_of
            ),
            "LeadScorer.score (one-row DataFrame)": lambda: scorer.score(lead, as_of=as_of),
            "MLflow pyfunc predict (DataFrame)": lambda: pyfunc.predict(signed, params=params),
        }
        results = rounds_of(cases, args.repeat, args.rounds)

    best = {name: p50_best_and_spread(per_round) for name, per_round in results.items()}
    base = best["raw boosters on an encoded row (floor)"][0]
    print(trained.describe())
    print(
        f"one lead per call as of {as_of.text}; {args.rounds} rounds of {args.repeat} calls "
        f"per case, the cases taking turns; {os.cpu_count()} cores"
    )
    print(f"{'path':45} {'p50 ms':>8} {'spread':>8} {'p99 ms':>8} {'× floor':>8}")
    for name, per_round in results.items():
        p50, spread = best[name]
        p99 = percentile_ms([v for values in per_round for v in values], 0.99)
        print(f"{name:45} {p50 * 1e3:8.3f} {spread * 1e3:+8.3f} {p99:8.3f} {p50 / base:8.1f}")
    print(
        "p50 = the best round's median; spread = the slowest round's median minus it; "
        "p99 over all calls"
    )
    trees = {n: m.booster.num_trees() for n, m in scorer.models.items()}
    print(f"trees: {trees}")


if __name__ == "__main__":
    main()
