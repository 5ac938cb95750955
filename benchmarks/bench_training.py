"""Training cost: time and peak memory of the whole pipeline for 10k, 100k and 1M rows.

Run on demand (not part of the tests; the 1M size takes many minutes):

    .venv/bin/python benchmarks/bench_training.py [--sizes 10000,100000,1000000] [--rounds 3]
                                                 [--threads 1,0] [--max-train-rows none,400000]
                                                 [--calibration-folds 5,2] [--data-dir DIR]

A row is a point-in-time training example, as `leadscore train --events` trains: a lead
at 0, 7 and 30 days after its creation (`TrainConfig().examples`) whose label window has
closed, about 2.2 examples per generated lead. For each size the parent generates
`size / 2.2` demo leads (`generate_demo`) and writes the contacts to a CSV and their
event log to a Parquet file, as `make demo` does (kept in `--data-dir` for the next
run), then starts a fresh child process that does what `leadscore train --events` does
before MLflow: `load_leads` (every value read as text), `load_events`,
`prepare_point_in_time`, `design_matrix` and `train_scorer` with the default
`TrainConfig`. Time is per phase; memory is the child's peak resident set size, from
`os.wait4` in a small launcher process (it includes LightGBM's native buffers, which
tracemalloc cannot see), and the child's own peak during the loads and during prepare +
train (it resets the kernel's high-water mark between the two). Each size runs `--rounds`
times (the sizes taking turns); the run with the fastest pipeline is shown, and the spread
(slowest − fastest pipeline, highest − lowest peak) beside it. At the end: how time and
memory grow per 10× rows.

Each size runs once per variant: every `--threads` value (LightGBM's `num_threads`, 0 = all
cores, the default) with every `--max-train-rows` value (`sample.max_train_rows`, none =
every row) and every `--calibration-folds` value (`calibration_folds`, default 5), the
variants taking turns within a round. The first variant (default: one thread, every row,
5 folds) is the baseline: each other variant's pipeline time is printed as a
ratio to it and its test AUC as a difference from it, both from the same run. The child
runs with OMP_WAIT_POLICY=PASSIVE, as `leadscore train` does (set it in the environment
to measure another policy). The load average of the machine is printed before and after.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

SEED = 7
# Point-in-time examples per generated lead with the default `examples.at_days` (0, 7, 30):
# 2.206 at 4.5k, 20k and 45k leads (seed 7); the sizes asked for are examples.
EXAMPLES_PER_LEAD = 2.2


# A small process between the benchmark and the measured command. A child's peak RSS
# counts the memory of the process it was forked from until it calls exec (Linux keeps
# the old address space's high-water mark), so forking from a benchmark that holds
# gigabytes of leads would be measured too; forking from this ~10 MiB launcher is not.
LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execv(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measured(command: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Run a command; its wall seconds, its peak RSS in bytes (`wait4`), and its stdout.

    stderr passes through, for progress. The RSS includes native memory (LightGBM's
    buffers) that tracemalloc cannot see.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".maxrss") as peak_file:
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", LAUNCHER, peak_file.name, *command],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            check=False,
        )
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command[:3])}… failed with exit code {done.returncode}")
        kib = int(Path(peak_file.name).read_text() or 0)
    return seconds, kib * 1024, done.stdout  # ru_maxrss is in KiB on Linux


def peak_rss() -> int:
    """This process's peak RSS so far (VmHWM), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def reset_peak_rss() -> bool:
    """Reset the kernel's high-water mark to the current RSS (Linux ≥ 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def child(
    contacts: Path, events: Path, threads: int, max_train_rows: int | None, folds: int
) -> None:
    """One size and variant: load, prepare, design, train; prints one JSON line of
    measurements."""
    import numpy as np

    from features.files import load_events, load_leads
    from features.spec import resolve_spec
    from training.config import TrainConfig
    from training.data import prepare_point_in_time
    from training.train import design_matrix, train_scorer

    out: dict[str, Any] = {"rss_after_imports": peak_rss()}
    spec = resolve_spec("hubspot")
    config = TrainConfig.model_validate(
        {
            "booster": {"num_threads": threads},
            "sample": {"max_train_rows": max_train_rows},
            "calibration_folds": folds,
        }
    )
    progress = f"[{contacts.stem} {variant_name((threads, max_train_rows, folds))}]"
    seconds: dict[str, float] = {}

    def phase(name: str, started: float) -> None:
        seconds[name] = time.perf_counter() - started
        print(f"  {progress} {name}: {seconds[name]:.1f} s", file=sys.stderr, flush=True)

    started = time.perf_counter()
    frame = load_leads(contacts)
    phase("load", started)
    started = time.perf_counter()
    log = load_events(events, spec)
    phase("events", started)
    out["peak_rss_load"] = peak_rss()
    out["peak_reset"] = reset_peak_rss()

    started = time.perf_counter()
    prepared = prepare_point_in_time(frame, log, spec, config.examples, config.min_positives)
    phase("prepare", started)
    started = time.perf_counter()
    design = design_matrix(prepared, spec, config)
    phase("design", started)
    started = time.perf_counter()
    result = train_scorer(prepared, spec, config, design)
    phase("train", started)

    split = result.split
    out.update(
        seconds=seconds,
        peak_rss_pipeline=peak_rss(),
        leads_loaded=len(frame),
        events_loaded=len(log.time),
        examples=len(prepared.y),
        example_leads=len(np.unique(prepared.groups)),
        split={k: len(getattr(split, k)) for k in ("train", "validation", "test")},
        purged=split.purged,
        trees={n: m.booster.num_trees() for n, m in result.scorer.models.items()},
        test_auc=result.metrics["test.full.roc_auc"],
        test_brier=result.metrics["test.full.brier"],
        test_ece=result.metrics["test.full.ece"],
        threads=config.booster.num_threads,
        sample=design.sample,
    )
    print(json.dumps(out))


def write_demo(size: int, contacts: Path, events: Path) -> None:
    """Demo contacts (CSV) and their events (Parquet) for about `size` examples."""
    from features.generate import generate_demo

    if contacts.is_file() and events.is_file():
        print(f"using {contacts} and {events}", flush=True)
        return
    started = time.perf_counter()
    leads = math.ceil(size / EXAMPLES_PER_LEAD)
    demo = generate_demo(leads, seed=SEED)
    for path, write in (
        (contacts, lambda p: demo.contacts.to_csv(p, index=False)),
        (events, lambda p: demo.events.to_parquet(p, index=False)),
    ):
        partial = path.with_name(path.name + ".partial")
        write(partial)
        partial.replace(path)
    print(
        f"wrote {leads:,} generated leads to {contacts} ({contacts.stat().st_size / 2**20:.0f} "
        f"MiB) and their {len(demo.events):,} events to {events} "
        f"({events.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - started:.0f} s",
        flush=True,
    )


def growth(sizes: list[int], values: list[float]) -> str:
    """Ratio per 10× rows between neighbouring sizes, and the exponent k in value ∝ rows^k."""
    parts = []
    for (n0, v0), (n1, v1) in pairwise(zip(sizes, values, strict=True)):
        ratio = v1 / v0
        per_10x = ratio ** (1 / math.log10(n1 / n0))
        parts.append(
            f"{n0:,} → {n1:,}: ×{ratio:.1f} (×{per_10x:.1f} per 10× rows, "
            f"k = {math.log(ratio) / math.log(n1 / n0):.2f})"
        )
    return "; ".join(parts)


Variant = tuple[int, int | None, int]  # (num_threads, sample.max_train_rows, calibration_folds)


def variant_name(variant: Variant) -> str:
    threads, rows, folds = variant
    return (
        (f"{threads} thread(s)" if threads else "all cores")
        + (f", sample {rows:,}" if rows else "")
        + (f", {folds} folds" if folds != 5 else "")
    )


def load_line() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="10000,100000,1000000",
        help="comma-separated numbers of rows (point-in-time examples, ~2.2 per lead)",
    )
    parser.add_argument(
        "--threads",
        default="1,0",
        help="comma-separated LightGBM thread counts (0 = all cores); the first is the baseline",
    )
    parser.add_argument(
        "--max-train-rows",
        default="none",
        help="comma-separated sample.max_train_rows values (none = every row)",
    )
    parser.add_argument(
        "--calibration-folds",
        default="5",
        help="comma-separated calibration_folds values (5 = the default)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="keep the generated contacts and events here (default: a temporary folder)",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="runs per size (fastest shown, spread beside it)"
    )
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        contacts, events, threads, rows, folds = args.child
        child(
            Path(contacts),
            Path(events),
            int(threads),
            None if rows == "none" else int(rows),
            int(folds),
        )
        return

    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(","))
    variants: list[Variant] = [
        (int(threads), None if rows.strip() == "none" else int(rows.replace("_", "")), int(folds))
        for folds in args.calibration_folds.split(",")
        for rows in args.max_train_rows.split(",")
        for threads in args.threads.split(",")
    ]
    temporary = None if args.data_dir else tempfile.TemporaryDirectory(prefix="bench-train-")
    data_dir = args.data_dir or Path(temporary.name)  # type: ignore[union-attr]
    data_dir.mkdir(parents=True, exist_ok=True)
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0))
    env = {**os.environ}
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `leadscore train` sets it
    print(
        f"{cores} cores ({usable} usable by this process); default TrainConfig but for the "
        f"variants; seed {SEED}; OMP_WAIT_POLICY={env['OMP_WAIT_POLICY']}; rows = "
        "point-in-time examples (leadscore train --events), not leads"
    )
    print(f"before: {load_line()}", flush=True)
    runs: dict[tuple[int, Variant], list[dict[str, Any]]] = {
        (size, variant): [] for size in sizes for variant in variants
    }
    try:
        files = {}
        for size in sizes:
            files[size] = (
                data_dir / f"demo-{size}-contacts.csv",
                data_dir / f"demo-{size}-events.parquet",
            )
            write_demo(size, *files[size])
        for round_ in range(args.rounds):
            for size in sizes:
                contacts, events = files[size]
                for variant in variants:
                    print(
                        f"round {round_ + 1}/{args.rounds}: training on ~{size:,} point-in-time "
                        f"examples, {variant_name(variant)}…",
                        flush=True,
                    )
                    wall, peak, out = run_measured(
                        [
                            sys.executable,
                            __file__,
                            "--child",
                            str(contacts),
                            str(events),
                            str(variant[0]),
                            "none" if variant[1] is None else str(variant[1]),
                            str(variant[2]),
                        ],
                        env,
                    )
                    measured = json.loads(out.strip().splitlines()[-1])
                    s = measured["seconds"]
                    measured.update(
                        size=size,
                        variant=variant,
                        wall=wall,
                        peak_rss=peak,
                        pipeline=s["prepare"] + s["design"] + s["train"],
                    )
                    runs[size, variant].append(measured)
                    print(
                        f"  done in {wall:.1f} s, peak RSS {peak / 2**20:,.0f} MiB, test AUC "
                        f"{measured['test_auc']:.4f}",
                        flush=True,
                    )
    finally:
        if temporary is not None:
            temporary.cleanup()
    print(f"after: {load_line()}")
    best = {key: min(found, key=lambda r: r["pipeline"]) for key, found in runs.items()}

    print(
        f"\n{'examples':>9} {'leads':>8} {'events':>10} {'variant':>34} {'load s':>7} "
        f"{'events s':>8} {'prepare s':>9} {'design s':>8} {'train s':>8} {'pipeline s':>10} "
        f"{'× base':>6} {'peak MiB':>9} {'load MiB':>9} {'train MiB':>9}  "
        "trees full/fit/interest  test AUC  Δ AUC  Brier   ECE"
    )
    for size in sizes:
        base = best[size, variants[0]]
        for variant in variants:
            r = best[size, variant]
            s, pipeline = r["seconds"], r["pipeline"]
            trees = "/".join(str(r["trees"][n]) for n in ("full", "fit", "interest"))
            train_peak = (
                f"{r['peak_rss_pipeline'] / 2**20:9,.0f}" if r["peak_reset"] else f"{'n/a':>9}"
            )
            print(
                f"{r['examples']:9,} {r['leads_loaded']:8,} {r['events_loaded']:10,} "
                f"{variant_name(variant):>34} {s['load']:7.1f} {s['events']:8.1f} "
                f"{s['prepare']:9.1f} {s['design']:8.1f} {s['train']:8.1f} {pipeline:10.1f} "
                f"{base['pipeline'] / pipeline:6.2f} {r['peak_rss'] / 2**20:9,.0f} "
                f"{r['peak_rss_load'] / 2**20:9,.0f} {train_peak}  {trees:>22}  "
                f"{r['test_auc']:.4f}  {r['test_auc'] - base['test_auc']:+.4f}  "
                f"{r['test_brier']:.4f}  {r['test_ece']:.4f}"
            )
    for (_size, variant), found in runs.items():
        times = [run["pipeline"] for run in found]
        peaks = [run["peak_rss"] / 2**20 for run in found]
        print(
            f"  {found[0]['examples']:,} examples, {variant_name(variant)}, {len(times)} run(s): "
            f"pipeline {min(times):.1f} s (spread {max(times) - min(times):+.1f} s: "
            f"{', '.join(f'{t:.1f}' for t in times)}), peak {min(peaks):,.0f}–{max(peaks):,.0f} MiB"
        )
    for size in sizes:
        r = best[size, variants[0]]
        split = r["split"]
        print(
            f"  {r['examples']:,} examples of {r['example_leads']:,} leads: train/validation/"
            f"test {split['train']:,}/{split['validation']:,}/{split['test']:,} "
            f"({r['purged']:,} purged: a lead stays on one side of each cut)"
        )
        for variant in variants[1:]:
            sample = best[size, variant]["sample"]
            if sample:
                print(
                    f"    {variant_name(variant)}: train slice {sample['train_rows']:,} → "
                    f"{sample['kept']:,} rows (base rate {sample['base_rate_before']:.4f} → "
                    f"{sample['base_rate_kept']:.4f}); validation and test unchanged"
                )
    first = best[sizes[0], variants[0]]
    print(
        "rows = point-in-time examples (0/7/30 days after creation, label window closed); "
        "load = the contacts CSV; events = load_events (Parquet + read_event_log); "
        "pipeline = prepare_point_in_time + design_matrix + train_scorer (loads "
        "separate); × base = the first variant's pipeline time over this one's (same run); "
        "Δ AUC = test AUC minus the first variant's (the same test rows); peak = the child's "
        "whole life; train MiB = peak during prepare + train alone; "
        f"{first['rss_after_imports'] / 2**20:.0f} MiB of it are the imports"
    )
    if len(sizes) > 1:
        for variant in variants:
            rows_done = [best[size, variant]["examples"] for size in sizes]
            print(
                f"{variant_name(variant)}: time (pipeline) grows "
                + growth(rows_done, [best[size, variant]["pipeline"] for size in sizes])
            )
            print(
                f"{variant_name(variant)}: peak memory grows "
                + growth(rows_done, [best[size, variant]["peak_rss"] for size in sizes])
            )


if __name__ == "__main__":
    main()
