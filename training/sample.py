"""A stratified, time-respecting sample of the train slice, for very large exports.

Past a few hundred thousand examples a lead-scoring model learns little more from
more of the same old leads, while every booster, calibration fold and baseline costs
time in proportion to the rows. `sample.max_train_rows` thins the *train* slice (the
oldest rows) to that many rows:

- The split is made first, on all rows, by time: validation (early stopping, thresholds,
  capacities per week) and test (every metric) keep all their rows, so the test AUC of a
  sampled run is measured on exactly the rows of a full one.
- The same share is kept in every cell of (time block, label): the train slice is cut
  into `time_blocks` consecutive blocks of equal size, and each block keeps that share of
  its positives and of its negatives. The base rate, its course over time and the time
  order are kept; classes are never reweighted, so probabilities stay honest.
- Which rows of a cell are kept is drawn with the training seed: same data, same seed,
  same sample.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from training.data import Split


def cell_quotas(counts: np.ndarray, size: int) -> np.ndarray:
    """How many rows each cell keeps: `size` shared in proportion to `counts`, the
    rounding remainder going to the cells with the largest fractional parts (ties: the
    earlier cell), so the quotas add up to `size` exactly."""
    total = int(counts.sum())
    exact = counts * (size / total)
    quotas = np.floor(exact).astype(np.int64)
    short = size - int(quotas.sum())
    if short > 0:
        order = np.argsort(-(exact - quotas), kind="stable")[:short]
        quotas[order] += 1
    return np.minimum(quotas, counts)


def stratified_time_sample(
    rows: np.ndarray, y: np.ndarray, size: int, blocks: int, seed: int
) -> np.ndarray:
    """`size` of `rows` (positions in time order), the same share of every (time block,
    label) cell, in time order. All of `rows` when there are no more than `size`."""
    if len(rows) <= size:
        return rows
    block = np.minimum(np.arange(len(rows)) * blocks // len(rows), blocks - 1)
    label = np.asarray(y[rows], dtype=np.int64)
    cell = block * 2 + label
    counts = np.bincount(cell, minlength=2 * blocks)
    quotas = cell_quotas(counts, size)
    rng = np.random.default_rng(seed)
    kept = []
    for c in np.flatnonzero(quotas):
        members = np.flatnonzero(cell == c)
        kept.append(rng.choice(members, int(quotas[c]), replace=False))
    return rows[np.sort(np.concatenate(kept))]


def sample_train(
    split: Split, y: np.ndarray, max_rows: int | None, blocks: int, seed: int
) -> tuple[Split, dict[str, Any] | None]:
    """The split with its train slice thinned to `max_rows` (None: unchanged), and what
    was done (None when nothing was), for the training report."""
    if max_rows is None or len(split.train) <= max_rows:
        return split, None
    kept = stratified_time_sample(split.train, y, max_rows, blocks, seed)
    info = {
        "max_train_rows": max_rows,
        "time_blocks": blocks,
        "train_rows": len(split.train),
        "kept": len(kept),
        "base_rate_before": float(y[split.train].mean()),
        "base_rate_kept": float(y[kept].mean()),
    }
    return dataclasses.replace(split, train=kept), info
