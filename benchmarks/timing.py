"""Helpers shared by the benchmarks (scripts run from the repository root): timing, and
the demo model they measure, trained point-in-time as `leadscore train --events` trains."""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The generated export is taken at the end of 2026-06-30: its leads are scored as of then
# (without a moment, "now" is used and every demo lead looks dormant).
DEMO_AS_OF = "2026-07-01T00:00:00Z"


def timings(call: Callable[[], object], repeat: int, warmup: int = 50) -> list[float]:
    """Seconds per call of `call`, after `warmup` untimed calls."""
    for _ in range(min(warmup, repeat)):
        call()
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        out.append(time.perf_counter() - start)
    return out


def rounds_of(
    cases: dict[str, Callable[[], object]], repeat: int, rounds: int
) -> dict[str, list[list[float]]]:
    """`timings` of each case, `rounds` times; the cases take turns each round so that
    other load on the shared machine hits them alike. Per case: one list per round."""
    out: dict[str, list[list[float]]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, call in cases.items():
            out[name].append(timings(call, repeat))
    return out


def p50_best_and_spread(per_round: list[list[float]]) -> tuple[float, float]:
    """The best round's median and how much the slowest round's median is above it (s)."""
    medians = [statistics.median(values) for values in per_round]
    return min(medians), max(medians) - min(medians)


def percentile_ms(values: list[float], q: float) -> float:
    """The q-quantile (0–1) of durations in seconds, in milliseconds."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e3


def as_crm_text(frame: Any) -> Any:
    """Every value as a string, empty for missing: what a CSV export or HubSpot sends."""
    return frame.astype(object).where(frame.notna(), "").astype(str)


@dataclass(frozen=True)
class DemoModel:
    """A scorer trained on generated contacts and their events, and what it was trained on."""

    contacts: Any  # the export (end of 2026-06-30) as CRM text
    data: Any  # PreparedData: the point-in-time examples
    result: Any  # TrainResult
    seconds: float  # prepare + train

    @property
    def scorer(self) -> Any:
        return self.result.scorer

    def describe(self) -> str:
        trees = {n: m.booster.num_trees() for n, m in self.scorer.models.items()}
        return (
            f"trained point-in-time on {len(self.data.y):,} examples of {len(self.contacts):,} "
            f"generated leads (0/7/30 days after creation) in {self.seconds:.0f} s; trees {trees}"
        )


def train_demo(leads: int, seed: int = 7) -> DemoModel:
    """`generate_demo(leads, seed)`, its contacts as CRM text and its event log, trained
    with the default `TrainConfig` on point-in-time examples (the generated export alone
    is refused: its activity includes what converted leads did after converting)."""
    from features.events import read_event_log
    from features.generate import generate_demo
    from features.spec import resolve_spec
    from training.config import TrainConfig
    from training.data import prepare_point_in_time
    from training.train import train_scorer

    spec, config = resolve_spec("hubspot"), TrainConfig()
    demo = generate_demo(leads, seed=seed)
    contacts = as_crm_text(demo.contacts)
    assert spec.events is not None
    started = time.perf_counter()
    log = read_event_log(demo.events, spec.events, "generated events", spec.missing_tokens)
    data = prepare_point_in_time(contacts, log, spec, config.examples, config.min_positives)
    result = train_scorer(data, spec, config)
    return DemoModel(contacts, data, result, time.perf_counter() - started)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now, for a server the benchmark starts."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to a server's process group (arbiter and workers), SIGKILL if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
