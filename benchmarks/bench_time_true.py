"""Snapshot against point-in-time training on the demo: each model evaluated as it will be used.

Run on demand (not part of the tests; under a minute per seed on a 2-core machine):

    .venv/bin/python benchmarks/bench_time_true.py [--rows 20000] [--seeds 7,11,23]
                                                  [--bootstrap 300]

The issue's goal: on the demo with events, a model trained on the snapshot export,
evaluated as it will be used (features as of the moment of scoring), against the
point-in-time model: the point-in-time model's AUC is higher, and the snapshot model's
offline AUC is shown to be inflated.

Per seed, `generate_demo(--rows, seed)` gives the contacts (the export at the end of
2026-06-30, read as text as from a CSV) and their event log. Two models, default
`TrainConfig` each:

- the snapshot model: `prepare` on the export, trained with the snapshot-leak check's
  columns (and any the single-column leak check names) allowed, as a user who follows
  the error message would;
- the point-in-time model: `prepare_point_in_time` (examples 0, 7 and 30 days after
  creation; label: SQL within 90 days after the moment), as `leadscore train --events`.

One table: the snapshot model on its own test slice (offline, as the export shows it);
the snapshot model as used, on the point-in-time test examples with the features
rebuilt as of each example's moment; the same examples with the export's features (the
offline view on the very same rows and labels); the point-in-time model on those
examples; each model's logistic baseline where it applies (the snapshot one refitted
exactly as `train_scorer` fits it, then fed the rebuilt features); and the truth
(`_true_probability`, the chance of converting ever, not within 90 days of the moment)
on the same rows as a reference ceiling. Then "as used" by moment (0 / 7 / 30 days after
creation), and a paired bootstrap of the AUC differences on the same examples.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np
import pandas as pd
from bench_events import changed_since, code_state, library_files

NS_PER_DAY = 86_400 * 1_000_000_000
METRICS = ("roc_auc", "pr_auc", "brier", "ece", "top_decile_lift")


def as_crm_text(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(object).where(frame.notna(), "").astype(str)


def snapshot_config(prepared: Any, spec: Any) -> tuple[Any, list[str], dict[str, float]]:
    """The default `TrainConfig` with what the two leak checks would refuse allowed."""
    from training.config import SnapshotConfig, TrainConfig
    from training.snapshot import snapshot_leaks
    from training.train import design_matrix

    leaks = [leak["column"] for leak in snapshot_leaks(prepared, spec, SnapshotConfig())]
    probe = TrainConfig.model_validate(
        {"snapshot": {"allow": leaks}, "leakage": {"max_single_column_auc": 1.0}}
    )
    aucs = design_matrix(prepared, spec, probe).single_column_auc
    limit = TrainConfig().leakage.max_single_column_auc
    sources = {f.name: f.source for f in spec.features}
    strong = {sources[name]: auc for name, auc in aucs.items() if auc >= limit}
    config = TrainConfig.model_validate(
        {"snapshot": {"allow": leaks}, "leakage": {"allow": sorted(strong)}}
    )
    return config, leaks, strong


def logistic_as_trained(result: Any, design: Any, y: np.ndarray, config: Any, spec: Any) -> Any:
    """The full model's logistic baseline, fitted exactly as `train_scorer` fits it."""
    from features.spec import FeatureType
    from training.metrics import logistic_baseline

    categorical = [j for j, f in enumerate(spec.features) if f.type is FeatureType.categorical]
    numeric = [j for j in range(len(spec.features)) if j not in categorical]
    split = result.split
    rows = np.concatenate([split.train, split.validation]) if config.refit else split.train
    return logistic_baseline(categorical, numeric, config.seed).fit(design.x[rows], y[rows])


def metrics(y: np.ndarray, p: np.ndarray, bins: int) -> dict[str, float]:
    """`classification_metrics`, with the observed rate and the mean probability (a model
    that scores everyone near 0 has a Brier score and an ECE near the rate)."""
    from training.metrics import classification_metrics

    p = np.asarray(p, dtype=np.float64)
    return {
        **classification_metrics(y, p, bins),
        "rate": float(np.mean(y)),
        "mean_p": float(p.mean()),
    }


def paired_bootstrap(
    y: np.ndarray, a: np.ndarray, b: np.ndarray, resamples: int, seed: int
) -> tuple[float, float, float]:
    """AUC(a) − AUC(b) on the same rows, and its 95 % interval (rows resampled)."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(resamples):
        rows = rng.integers(0, len(y), len(y))
        if y[rows].min() == y[rows].max():
            continue
        diffs.append(roc_auc_score(y[rows], a[rows]) - roc_auc_score(y[rows], b[rows]))
    low, high = np.percentile(diffs, [2.5, 97.5])
    return float(roc_auc_score(y, a) - roc_auc_score(y, b)), float(low), float(high)


def one_seed(rows: int, seed: int, resamples: int) -> dict[str, Any]:
    from features.events import read_event_log
    from features.generate import generate_demo
    from features.spec import resolve_spec
    from features.timestamps import AsOf, read_timestamps
    from training.config import TrainConfig
    from training.data import prepare, prepare_point_in_time
    from training.train import design_matrix, train_scorer

    spec = resolve_spec("hubspot")
    seconds: dict[str, float] = {}
    started = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal started
        now = time.perf_counter()
        seconds[name] = now - started
        started = now

    demo = generate_demo(rows, seed=seed)
    contacts = as_crm_text(demo.contacts)
    log = read_event_log(demo.events, spec.events, "demo events", spec.missing_tokens)
    lap("generate")

    snapshot = prepare(contacts, spec)
    config, leaks, strong = snapshot_config(snapshot, spec)
    design = design_matrix(snapshot, spec, config)
    snap = train_scorer(snapshot, spec, config, design)
    lap("train snapshot")

    pit_config = TrainConfig()
    examples = prepare_point_in_time(
        contacts, log, spec, pit_config.examples, pit_config.min_positives
    )
    pit = train_scorer(examples, spec, pit_config)
    lap("train point-in-time")

    test = examples.rows(pit.split.test)
    assert test.as_of is not None and test.groups is not None
    moments = AsOf(test.as_of)
    bins = pit_config.ece_bins
    snap_used = snap.scorer.score(test.frame, decide=False, as_of=moments)["probability"]
    snap_logistic = logistic_as_trained(snap, design, snapshot.y, config, spec)
    snap_logistic_used = snap_logistic.predict_proba(snap.scorer.encode(test.frame, moments))[:, 1]
    # The same examples as the export shows them: each lead's exported row, as of the export.
    exported = contacts.set_index(spec.id).loc[test.groups].reset_index()
    export_moment = AsOf(int(snapshot.moments[0]))
    snap_offline_rows = snap.scorer.score(exported, decide=False, as_of=export_moment)[
        "probability"
    ].to_numpy()
    refit_check = snap_logistic.predict_proba(design.x[snap.split.test])[:, 1]
    lap("score")

    truth_snap = snap.test_frame["_true_probability"].astype(float).to_numpy()
    truth = test.frame["_true_probability"].astype(float).to_numpy()
    y_snap, y = snap.y_test, test.y
    table = {
        "snapshot model, offline: own test slice, export": (
            "snap",
            metrics(y_snap, snap.test_scores["full"], bins),
        ),
        "  snapshot logistic, offline": ("snap", metrics(y_snap, refit_check, bins)),
        "  truth, snapshot test slice": ("snap", metrics(y_snap, truth_snap, bins)),
        "snapshot model, same examples, export features": (
            "pit",
            metrics(y, snap_offline_rows, bins),
        ),
        "snapshot model, as used: features as of moment": (
            "pit",
            metrics(y, snap_used.to_numpy(), bins),
        ),
        "  snapshot logistic, as used": ("pit", metrics(y, snap_logistic_used, bins)),
        "point-in-time model": ("pit", metrics(y, pit.test_scores["full"], bins)),
        "  point-in-time logistic": ("pit", metrics(y, pit.baseline_scores["full"], bins)),
        "  truth (_true_probability)": ("pit", metrics(y, truth, bins)),
    }
    created = read_timestamps(test.frame[spec.time.column], spec.time.column).astype(np.int64)
    days = np.rint((test.as_of - created) / NS_PER_DAY).astype(int)
    scores_by_moment = {
        "snapshot model, as used": snap_used.to_numpy(),
        "  snapshot logistic, as used": snap_logistic_used,
        "snapshot model, export features": snap_offline_rows,
        "point-in-time model": pit.test_scores["full"],
        "  point-in-time logistic": pit.baseline_scores["full"],
        "  truth (_true_probability)": truth,
    }
    by_moment = {}
    for day in sorted(set(days.tolist())):
        rows_at = days == day
        by_moment[day] = {
            "n": int(rows_at.sum()),
            "positives": int(y[rows_at].sum()),
            "table": {
                name: metrics(y[rows_at], p[rows_at], bins) for name, p in scores_by_moment.items()
            },
        }
    pit_p, used_p = pit.test_scores["full"], snap_used.to_numpy()
    bootstrap = {
        "point-in-time − snapshot as used": paired_bootstrap(y, pit_p, used_p, resamples, seed),
        "snapshot: export features − as used (inflation)": paired_bootstrap(
            y, snap_offline_rows, used_p, resamples, seed
        ),
    }
    lap("evaluate")
    return {
        "seed": seed,
        "rows": rows,
        "events": len(demo.events),
        "seconds": seconds,
        "leaks": leaks,
        "strong": strong,
        "logistic_check": (
            snap.metrics["test.full_logistic.roc_auc"],
            table["  snapshot logistic, offline"][1]["roc_auc"],
        ),
        "snapshot_rows": {k: len(getattr(snap.split, k)) for k in ("train", "validation", "test")},
        "snapshot_positives": int(y_snap.sum()),
        "snapshot_dropped": snapshot.dropped_unknown,
        "pit_rows": {k: len(getattr(pit.split, k)) for k in ("train", "validation", "test")},
        "pit_purged": pit.split.purged,
        "pit_examples": len(examples.y),
        "pit_leads": len(np.unique(examples.groups)) if examples.groups is not None else 0,
        "pit_dropped": (examples.dropped_unknown, examples.dropped_converted),
        "pit_positives": int(y.sum()),
        "trees": {
            "snapshot": {n: m.booster.num_trees() for n, m in snap.scorer.models.items()},
            "pit": {n: m.booster.num_trees() for n, m in pit.scorer.models.items()},
        },
        "table": table,
        "by_moment": by_moment,
        "bootstrap": bootstrap,
    }


def print_table(rows: dict[str, dict[str, float]], sizes: dict[str, str] | None = None) -> None:
    """One line per model: its metrics (`sizes`: which rows, beside the name)."""
    sizes = sizes or {}
    print(
        f"{'model':52} {'rows':>15} {'ROC AUC':>8} {'PR AUC':>7} {'Brier':>7} {'ECE':>7} "
        f"{'lift@10%':>9} {'rate':>6} {'mean p':>7}"
    )
    for name, m in rows.items():
        print(
            f"{name:52} {sizes.get(name, ''):>15} {m['roc_auc']:8.3f} {m['pr_auc']:7.3f} "
            f"{m['brier']:7.4f} {m['ece']:7.4f} {m['top_decile_lift']:9.2f} "
            f"{m['rate']:6.1%} {m['mean_p']:7.1%}"
        )


def report(r: dict[str, Any]) -> None:
    s = r["seconds"]
    print(
        f"\n=== seed {r['seed']}: {r['rows']:,} leads, {r['events']:,} events "
        f"({', '.join(f'{k} {v:.0f} s' for k, v in s.items())}; total {sum(s.values()):.0f} s)"
    )
    sr, pr = r["snapshot_rows"], r["pit_rows"]
    print(
        f"snapshot export: train/validation/test {sr['train']:,}/{sr['validation']:,}/"
        f"{sr['test']:,} leads ({r['snapshot_dropped']:,} left out: label window open), "
        f"{r['snapshot_positives']:,} positives in test; allowed past the snapshot check: "
        f"{', '.join(r['leaks']) or 'none'}; past the single-column check: "
        + (", ".join(f"{c} ({a:.3f})" for c, a in r["strong"].items()) or "none")
    )
    print(
        f"point-in-time: {r['pit_examples']:,} examples of {r['pit_leads']:,} leads "
        f"({r['pit_dropped'][0]:,} left out: window open, {r['pit_dropped'][1]:,}: already "
        f"SQL); train/validation/test {pr['train']:,}/{pr['validation']:,}/{pr['test']:,} "
        f"({r['pit_purged']:,} purged across cuts), {r['pit_positives']:,} positives in test"
    )
    print(
        f"trees (full/fit/interest): snapshot "
        f"{'/'.join(str(v) for v in r['trees']['snapshot'].values())}, point-in-time "
        f"{'/'.join(str(v) for v in r['trees']['pit'].values())}; the refitted snapshot "
        f"logistic reproduces train_scorer's test AUC: {r['logistic_check'][0]:.4f} vs "
        f"{r['logistic_check'][1]:.4f}"
    )
    sizes = {
        name: f"{sr['test']:,} leads" if where == "snap" else f"{pr['test']:,} examples"
        for name, (where, _) in r["table"].items()
    }
    print()
    print_table({name: m for name, (_, m) in r["table"].items()}, sizes)
    table = r["table"]
    offline = table["snapshot model, offline: own test slice, export"][1]
    same = table["snapshot model, same examples, export features"][1]
    used = table["snapshot model, as used: features as of moment"][1]
    pit = table["point-in-time model"][1]
    print(
        f"snapshot AUC offline {offline['roc_auc']:.3f} (same examples, export features "
        f"{same['roc_auc']:.3f}) → as used {used['roc_auc']:.3f}: inflated by "
        f"{offline['roc_auc'] - used['roc_auc']:+.3f} ({same['roc_auc'] - used['roc_auc']:+.3f} "
        f"on the same rows); point-in-time {pit['roc_auc']:.3f}, "
        f"{pit['roc_auc'] - used['roc_auc']:+.3f} over the snapshot model as used"
    )
    for name, (diff, low, high) in r["bootstrap"].items():
        print(f"  paired bootstrap, AUC {name}: {diff:+.3f} (95 % {low:+.3f} to {high:+.3f})")
    for day, part in r["by_moment"].items():
        print(
            f"\nas used, {day} days after creation: {part['n']:,} examples, "
            f"{part['positives']:,} positives ({part['positives'] / part['n']:.1%})"
        )
        print_table(part["table"])


def summary(results: list[dict[str, Any]]) -> None:
    names = {
        "snapshot offline": "snapshot model, offline: own test slice, export",
        "snapshot same rows, export": "snapshot model, same examples, export features",
        "snapshot as used": "snapshot model, as used: features as of moment",
        "snapshot logistic as used": "  snapshot logistic, as used",
        "point-in-time": "point-in-time model",
        "pit logistic": "  point-in-time logistic",
        "truth": "  truth (_true_probability)",
    }
    print(f"\n=== ROC AUC across seeds ({', '.join(str(r['seed']) for r in results)})")
    print(f"{'':28}" + "".join(f"{'seed ' + str(r['seed']):>10}" for r in results) + f"{'mean':>9}")
    for short, name in names.items():
        values = [r["table"][name][1]["roc_auc"] for r in results]
        print(f"{short:28}" + "".join(f"{v:10.3f}" for v in values) + f"{np.mean(values):9.3f}")
    for metric in ("pr_auc", "brier", "ece", "mean_p"):
        print(f"{metric}" + (" (lower is better)" if metric in ("brier", "ece") else ""))
        for short in ("snapshot offline", "snapshot as used", "point-in-time"):
            values = [r["table"][names[short]][1][metric] for r in results]
            print(
                f"  {short:26}" + "".join(f"{v:10.4f}" for v in values) + f"{np.mean(values):9.4f}"
            )
    rates = [r["table"][names["point-in-time"]][1]["rate"] for r in results]
    print(f"  {'rate (examples)':26}" + "".join(f"{v:10.4f}" for v in rates))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="demo leads per seed")
    parser.add_argument("--seeds", default="7", help="comma-separated demo seeds, e.g. 7,11,23")
    parser.add_argument(
        "--bootstrap", type=int, default=300, help="resamples for the AUC intervals"
    )
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    cores, usable = os.cpu_count(), len(os.sched_getaffinity(0))
    print(
        f"{cores} cores ({usable} usable); generate_demo({args.rows:,}, seed) for seeds "
        f"{', '.join(map(str, seeds))}; default TrainConfig; {code_state()}"
    )
    sources = library_files()
    results = []
    for seed in seeds:
        results.append(one_seed(args.rows, seed, args.bootstrap))
        report(results[-1])
    if len(results) > 1:
        summary(results)
    if changed := changed_since(sources):
        print(
            f"WARNING: {', '.join(changed)} changed during the run; this process had read "
            "the library before: the numbers are of the code as it was at the start"
        )


if __name__ == "__main__":
    main()
