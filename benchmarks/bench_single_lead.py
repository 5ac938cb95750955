"""Single-lead scoring latency: the bundle's no-pandas path against the alternatives.

Run on demand (not part of the tests):

    .venv/bin/python benchmarks/bench_single_lead.py [--rows 20000] [--repeat 2000]

Trains a scorer on generated leads in memory, then times one lead per call through
(a) `LeadScorer.score_records` (the service's hot path), (b) `LeadScorer.score` on a
one-row DataFrame, (c) the MLflow pyfunc `predict`, and as the floor (d) the three
raw LightGBM boosters on an already-encoded row. Prints medians, p99 and ratios to
the floor, all measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

from timing import timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=2_000)
    args = parser.parse_args()

    import mlflow

    from features.generate import generate_leads
    from features.spec import resolve_spec
    from models.pyfunc import log_scorer
    from training.config import TrainConfig
    from training.data import prepare
    from training.tracking import configure, ensure_experiment
    from training.train import train_scorer

    spec = resolve_spec("hubspot")
    leads = generate_leads(args.rows, seed=7)
    leads = leads.astype(object).where(leads.notna(), "").astype(str)
    result = train_scorer(prepare(leads, spec), spec, TrainConfig())
    scorer = result.scorer
    lead = leads.iloc[[123]]
    record = lead.to_dict("records")
    encoded = scorer.encoder.transform_records(record)

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        uri = configure(f"sqlite:///{Path(tmp) / 'bench.db'}")
        with mlflow.start_run(experiment_id=ensure_experiment("bench", uri)):
            bundle = scorer.save(Path(tmp) / "bundle")
            info = log_scorer(scorer, bundle, lead)
        pyfunc = mlflow.pyfunc.load_model(info.model_uri)

        def floor() -> None:
            for model in scorer.models.values():
                model.booster.predict(model.columns(encoded), raw_score=True, num_threads=1)

        cases: dict[str, Callable[[], object]] = {
            "raw boosters on an encoded row (floor)": floor,
            "LeadScorer.score_records (hot path)": lambda: scorer.score_records(record),
            "LeadScorer.score (one-row DataFrame)": lambda: scorer.score(lead),
            "MLflow pyfunc predict (DataFrame)": lambda: pyfunc.predict(lead),
        }
        results = {name: timings(call, args.repeat) for name, call in cases.items()}

    base = statistics.median(results["raw boosters on an encoded row (floor)"])
    print(f"one lead per call, {args.repeat} calls each, {os.cpu_count()} cores")
    print(f"{'path':45} {'p50 ms':>8} {'p99 ms':>8} {'× floor':>8}")
    for name, values in results.items():
        p50 = statistics.median(values)
        p99 = sorted(values)[int(0.99 * len(values)) - 1]
        print(f"{name:45} {p50 * 1e3:8.3f} {p99 * 1e3:8.3f} {p50 / base:8.1f}")
    trees = {n: m.booster.num_trees() for n, m in scorer.models.items()}
    print(f"trees: {trees}")


if __name__ == "__main__":
    main()
