"""Cost of reasons for sales reps: `models.reasons` against the TreeSHAP it is built on.

Run on demand (not part of the tests):

    .venv/bin/python benchmarks/bench_reasons.py [--rows 20000] [--batch 10000] [--repeat 1000]
                                                [--rounds 3]

Trains a scorer point-in-time on generated leads and their events in memory (default
training settings, as `leadscore train --events`), then times, for a batch of other
generated leads (the export at the end of 2026-06-30, encoded and explained as of
2026-07-01T00:00:00Z): the raw `booster.predict(pred_contrib=True)` of the fit and the
interest model (the floor, on one thread and on all cores), the effect matrices
(`Explainer.effects`), and the full reasons (`Explainer.factors`, and `explain`: the
factors as the records path's dicts, with and without the raw records to quote; and
`Explainer.lines`, the batch renderer's one line per lead and group). Phrases compare a
lead's value with the typical training lead's where the bundle keeps it (the count of
features that have one is printed: 0 for a bundle saved before, as it phrased). Then
one lead per call: p50 / p99 latency of the raw TreeSHAP floor, `explain` on an encoded
row and `explain_records` on a raw dict. Cases take turns for `--rounds` rounds (best
kept, the spread beside it). Prints ratios to the floor and the trees' count and depth,
all measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from timing import (
    DEMO_AS_OF,
    as_crm_text,
    p50_best_and_spread,
    percentile_ms,
    rounds_of,
    train_demo,
)


def interleaved(
    cases: dict[str, Callable[[], object]], rounds: int
) -> dict[str, tuple[float, float, float]]:
    """Fastest wall and CPU seconds of each batch case, and the spread of the wall seconds
    (slowest − fastest); the cases take turns, so that other load on the machine hits
    them alike."""
    wall: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, call in cases.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            call()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return {
        name: (min(wall[name]), min(cpu[name]), max(wall[name]) - min(wall[name])) for name in cases
    }


def tree_shape(booster: Any) -> dict[str, float]:
    """Tree count, and the mean / max depth and leaves per tree."""

    def depth(node: dict[str, Any]) -> int:
        if "leaf_value" in node:
            return 0
        return 1 + max(depth(node["left_child"]), depth(node["right_child"]))

    trees = booster.dump_model()["tree_info"]
    depths = [depth(t["tree_structure"]) for t in trees]
    leaves = [t["num_leaves"] for t in trees]
    return {
        "trees": len(trees),
        "mean_depth": statistics.fmean(depths) if depths else 0.0,
        "max_depth": max(depths, default=0),
        "mean_leaves": statistics.fmean(leaves) if leaves else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--rows", type=int, default=20_000, help="generated leads to train on (~2.2 examples each)"
    )
    parser.add_argument("--batch", type=int, default=10_000, help="leads explained at once")
    parser.add_argument(
        "--repeat", type=int, default=1_000, help="single-lead calls per case and round"
    )
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds of each case")
    args = parser.parse_args()

    from features.generate import generate_leads
    from features.timestamps import AsOf
    from models.contract import GROUPS

    trained = train_demo(args.rows, seed=7)
    scorer = trained.scorer
    explainer = scorer.explainer

    def explain(matrix: Any, raw: Any = None, k: int = 3) -> list[dict[str, Any]]:
        """The factors as the records path writes them (`LeadScore.record`'s reasons)."""
        return [
            {group: reasons.record() for group, reasons in lead.items()}
            for lead in explainer.factors(matrix, raw, k)
        ]

    def explain_records(one: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows, matrix = scorer.encode_records(one, as_of)
        return explain(matrix, rows)

    as_of = AsOf.of(DEMO_AS_OF)

    batch = as_crm_text(generate_leads(args.batch, seed=8))
    matrix = scorer.encode(batch, as_of)
    records = batch.to_dict("records")
    models = [scorer.models["fit"], scorer.models["interest"]]
    columns = [m.columns(matrix) for m in models]

    def floor(threads: int) -> Callable[[], object]:
        return lambda: [
            m.booster.predict(c, pred_contrib=True, num_threads=threads)
            for m, c in zip(models, columns, strict=True)
        ]

    batch_cases: dict[str, Callable[[], object]] = {
        "pred_contrib fit+interest, 1 thread": floor(1),
        "pred_contrib fit+interest, all cores (floor)": floor(0),
        "effects() fit+interest": lambda: [explainer.effects(g, matrix) for g in GROUPS],
        "factors(matrix, raw, k=3)": lambda: explainer.factors(matrix, records, k=3),
        "explain(matrix, raw, k=3)": lambda: explain(matrix, records, k=3),
        "explain(matrix, k=3), no raw": lambda: explain(matrix, k=3),
        "lines(matrix, raw, k=3)": lambda: explainer.lines(matrix, batch, k=3),
        "encode + explain (frame, raw)": lambda: explain(scorer.encode(batch, as_of), records, k=3),
    }
    batch_results = interleaved(batch_cases, args.rounds)

    one = records[123:124]
    encoded = scorer.encoder.transform_records(one, as_of)
    one_columns = [m.columns(encoded) for m in models]

    def single_floor() -> None:
        for m, c in zip(models, one_columns, strict=True):
            m.booster.predict(c, pred_contrib=True, num_threads=1)

    single_cases: dict[str, Callable[[], object]] = {
        "pred_contrib fit+interest (floor)": single_floor,
        "explain(encoded row, raw)": lambda: explain(encoded, one),
        "explain_records(one dict)": lambda: explain_records(one),
        "score_records(one dict), for scale": lambda: scorer.score_records(one, as_of=as_of),
    }
    single_results = rounds_of(single_cases, args.repeat, args.rounds)

    print(f"{trained.describe()}; {os.cpu_count()} cores; explained as of {as_of.text}")
    typical = getattr(scorer.encoder, "reference_", {})
    print(
        f"  typical training values kept for {sum(v is not None for v in typical.values())} "
        f"of {len(scorer.spec.features)} features (compared with in the phrases)"
    )
    for name in ("fit", "interest", "full"):
        shape = tree_shape(scorer.models[name].booster)
        print(
            f"  {name:9} {shape['trees']:4d} trees, depth mean {shape['mean_depth']:.1f} "
            f"max {shape['max_depth']}, leaves mean {shape['mean_leaves']:.1f}, "
            f"{len(scorer.models[name].features)} features, "
            f"calibration {scorer.models[name].calibrator.method}"
        )

    base, base_cpu, _ = batch_results["pred_contrib fit+interest, all cores (floor)"]
    print(
        f"\n{args.batch} leads in one call (fastest of {args.rounds}, spread = slowest − "
        "fastest; CPU = all threads)"
    )
    print(
        f"{'case':46} {'wall s':>7} {'spread':>7} {'ms/lead':>8} {'× floor':>8} {'CPU s':>7} "
        f"{'× floor':>8}"
    )
    for name, (seconds, cpu, spread) in batch_results.items():
        print(
            f"{name:46} {seconds:7.3f} {spread:+7.3f} {1e3 * seconds / args.batch:8.3f} "
            f"{seconds / base:8.2f} {cpu:7.3f} {cpu / base_cpu:8.2f}"
        )

    best = {name: p50_best_and_spread(rounds) for name, rounds in single_results.items()}
    single_base = best["pred_contrib fit+interest (floor)"][0]
    print(
        f"\none lead per call, {args.rounds} rounds of {args.repeat} calls each (p50 = the "
        "best round's median, spread = the slowest round's minus it; p99 over all calls)"
    )
    print(f"{'case':46} {'p50 ms':>7} {'spread':>7} {'p99 ms':>8} {'× floor':>8}")
    for name, rounds in single_results.items():
        p50, spread = best[name]
        p99 = percentile_ms([v for values in rounds for v in values], 0.99)
        print(
            f"{name:46} {1e3 * p50:7.3f} {1e3 * spread:+7.3f} {p99:8.3f} {p50 / single_base:8.1f}"
        )


if __name__ == "__main__":
    main()
