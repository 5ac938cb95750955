"""Training cost: time and peak memory of the whole pipeline for 10k, 100k and 1M rows.

Run on demand (not part of the tests; the 1M size takes many minutes):

    .venv/bin/python benchmarks/bench_training.py [--sizes 10000,100000,1000000] [--rounds 3]
                                                 [--data-dir DIR]

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


def child(contacts: Path, events: Path) -> None:
    """One size: load, prepare, design, train; prints one JSON line of measurements."""
    import numpy as np

    from features.files import load_events, load_leads
    from features.spec import resolve_spec
    from training.config import TrainConfig
    from training.data import prepare_point_in_time
    from training.train import design_matrix, train_scorer

    out: dict[str, Any] = {"rss_after_imports": peak_rss()}
    spec, config = resolve_spec("hubspot"), TrainConfig()
    progress = f"[{contacts.stem}]"
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
        threads=config.booster.num_threads,
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


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="10000,100000,1000000",
        help="comma-separated numbers of rows (point-in-time examples, ~2.2 per lead)",
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
    parser.add_argument("--child", type=Path, nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(","))
    temporary = None if args.data_dir else tempfile.TemporaryDirectory(prefix="bench-train-")
    data_dir = args.data_dir or Path(temporary.name)  # type: ignore[union-attr]
    data_dir.mkdir(parents=True, exist_ok=True)
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0))
    print(
        f"{cores} cores ({usable} usable by this process); default TrainConfig; seed {SEED}; "
        "rows = point-in-time examples (leadscore train --events), not leads"
    )
    runs: dict[int, list[dict[str, Any]]] = {size: [] for size in sizes}
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
                print(
                    f"round {round_ + 1}/{args.rounds}: training on ~{size:,} point-in-time "
                    "examples…",
                    flush=True,
                )
                wall, peak, out = run_measured(
                    [sys.executable, __file__, "--child", str(contacts), str(events)]
                )
                measured = json.loads(out.strip().splitlines()[-1])
                s = measured["seconds"]
                measured.update(
                    size=size,
                    wall=wall,
                    peak_rss=peak,
                    pipeline=s["prepare"] + s["design"] + s["train"],
                )
                runs[size].append(measured)
                print(f"  done in {wall:.1f} s, peak RSS {peak / 2**20:,.0f} MiB", flush=True)
    finally:
        if temporary is not None:
            temporary.cleanup()
    results = [min(runs[size], key=lambda r: r["pipeline"]) for size in sizes]

    print(
        f"\n{'examples':>9} {'leads':>8} {'events':>10} {'load s':>7} {'events s':>8} "
        f"{'prepare s':>9} {'design s':>8} {'train s':>8} {'pipeline s':>10} {'peak MiB':>9} "
        f"{'load MiB':>9} {'train MiB':>9}  trees full/fit/interest  test AUC"
    )
    for r in results:
        s, pipeline = r["seconds"], r["pipeline"]
        trees = "/".join(str(r["trees"][n]) for n in ("full", "fit", "interest"))
        train_peak = f"{r['peak_rss_pipeline'] / 2**20:9,.0f}" if r["peak_reset"] else f"{'n/a':>9}"
        print(
            f"{r['examples']:9,} {r['leads_loaded']:8,} {r['events_loaded']:10,} "
            f"{s['load']:7.1f} {s['events']:8.1f} {s['prepare']:9.1f} {s['design']:8.1f} "
            f"{s['train']:8.1f} {pipeline:10.1f} {r['peak_rss'] / 2**20:9,.0f} "
            f"{r['peak_rss_load'] / 2**20:9,.0f} {train_peak}  {trees:>22}  {r['test_auc']:.3f}"
        )
    for r in results:
        times = [run["pipeline"] for run in runs[r["size"]]]
        peaks = [run["peak_rss"] / 2**20 for run in runs[r["size"]]]
        print(
            f"  {r['examples']:,} examples, {len(times)} run(s): pipeline {min(times):.1f} s "
            f"(spread {max(times) - min(times):+.1f} s: {', '.join(f'{t:.1f}' for t in times)}), "
            f"peak {min(peaks):,.0f}–{max(peaks):,.0f} MiB"
        )
    for r in results:
        split = r["split"]
        print(
            f"  {r['examples']:,} examples of {r['example_leads']:,} leads: train/validation/"
            f"test {split['train']:,}/{split['validation']:,}/{split['test']:,} "
            f"({r['purged']:,} purged: a lead stays on one side of each cut)"
        )
    if results:
        print(
            "rows = point-in-time examples (0/7/30 days after creation, label window closed); "
            "load = the contacts CSV; events = load_events (Parquet + read_event_log); "
            "pipeline = prepare_point_in_time + design_matrix + train_scorer (loads "
            "separate); peak = the child's whole life; train MiB = peak during prepare + "
            f"train alone; {results[0]['rss_after_imports'] / 2**20:.0f} MiB of it are the "
            f"imports; LightGBM on {results[0]['threads']} thread(s) (TrainConfig default)"
        )
    if len(results) > 1:
        rows_done = [r["examples"] for r in results]
        print("time (pipeline) grows " + growth(rows_done, [r["pipeline"] for r in results]))
        print("peak memory grows " + growth(rows_done, [r["peak_rss"] for r in results]))


if __name__ == "__main__":
    main()
