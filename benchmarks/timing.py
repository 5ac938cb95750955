"""Timing helpers shared by the benchmarks (scripts run from the repository root)."""

from __future__ import annotations

import time
from collections.abc import Callable


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


def percentile_ms(values: list[float], q: float) -> float:
    """The q-quantile (0–1) of durations in seconds, in milliseconds."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e3
