"""Attribution: each feature's share of a score, from exact TreeSHAP, in score points.

The factors come from exact TreeSHAP (LightGBM's `pred_contrib`): per lead, one value φ_i
per feature in raw-margin units plus the bias b (the expected margin), with
b + Σφ_i = the booster's margin m. Reps read scores on the 0–100 probability scale, so
each φ_i is turned into score points by spreading the calibrated difference over the
features in proportion to their share of the margin:

    effect_i = φ_i · (cal(m) − cal(b)) / (m − b) · 100

Hence Σ effect_i = score − baseline exactly, where baseline = 100 · cal(b) is the score of
a lead whose every feature sits at its expected contribution. An increasing calibrator
(isotonic, or a sigmoid with a positive slope — what training produces) keeps the sign
of every φ_i. When m == b the secant is undefined and the calibrator's local slope at b
is used instead. A sigmoid with a negative slope (a booster ranking backwards, which
training would not ship) gets the same signed ratio: effects then carry the sign of
their pull on the *score*, opposite to φ_i, so "raises fit" always means the score is
higher because of it. With a flat stretch of an isotonic calibrator (cal(m) == cal(b)
while m != b) every effect is 0 and the lead has no reasons: its score is the baseline.

For many rows TreeSHAP runs once per distinct branch pattern (`TreeShap`).
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

# Below this many rows LightGBM's OpenMP threads cost more than they save; on a busy
# 2-core machine 100 leads took 36 ms with all threads and 4 ms with one.
_SINGLE_THREAD_ROWS = 10_000
# From this many rows TreeSHAP runs once per distinct branch pattern (`TreeShap`).
_PATTERN_ROWS = 1_000
# LightGBM sends a value within this distance of 0 down a split's missing side when
# the split treats zeros as missing (its kZeroThreshold).
_ZERO = 1e-35
# Effects smaller than this many score points are rounding noise, never reasons.
_ZERO_EFFECT = 1e-9
# Σφ and the booster's margin − bias agree to ~1e-15; below this the secant is meaningless.
_ZERO_MARGIN = 1e-12


def threads(rows: int) -> int:
    """LightGBM threads for predicting `rows` rows: one for a few, else all cores (0)."""
    return 1 if rows <= _SINGLE_THREAD_ROWS else 0


class TreeShap:
    """Exact TreeSHAP values of one booster, in raw-margin units; the last column is the
    baseline.

    Two leads that go the same way at every split of every tree have the same values, so
    for many rows TreeSHAP runs once per distinct branch pattern and the values are
    copied to the leads that share it (a CRM's empty and repeated values make patterns
    fewer than leads).
    """

    def __init__(self, booster: lgb.Booster) -> None:
        self.booster = booster
        self._splits: dict[int, np.ndarray | None] | None = None

    def __call__(self, columns: np.ndarray) -> np.ndarray:
        """The values of rows holding the booster's columns."""
        if len(columns) < _PATTERN_ROWS:
            return self._contributions(columns)
        shared, pattern = self.branch_patterns(columns)
        if len(shared) > 0.95 * len(columns):  # too few shared to pay for the copy
            return self._contributions(columns)
        return self._contributions(columns[shared])[pattern]

    def _contributions(self, columns: np.ndarray) -> np.ndarray:
        return np.asarray(
            self.booster.predict(columns, pred_contrib=True, num_threads=threads(len(columns))),
            dtype=np.float64,
        )

    def branch_patterns(self, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(one row of each distinct branch pattern, each row's pattern number).

        A value's side of a numeric split depends only on where it falls among the
        thresholds, whether it is missing and whether it is zero (LightGBM's missing
        rules); a categorical split reads the value itself.
        """
        code = np.zeros(len(columns), dtype=np.int64)
        size = 1  # patterns `code` can hold so far
        for column, thresholds in self.split_points().items():
            values = columns[:, column]
            if thresholds is None:
                key, uniques = pd.factorize(values, use_na_sentinel=False)
                width = len(uniques)
            else:
                key = 2 * np.searchsorted(thresholds, values) + (np.abs(values) <= _ZERO)
                key[np.isnan(values)] = 2 * len(thresholds) + 2
                width = 2 * len(thresholds) + 3
            if size * width >= 2**62:  # renumber the patterns so far: at most one per row
                code, found = pd.factorize(code)
                size = len(found)
            code = code * width + key
            size *= width
        pattern, found = pd.factorize(code)
        shared = np.empty(len(found), dtype=np.intp)
        shared[pattern] = np.arange(len(columns))  # any row of a pattern stands for it
        return shared, pattern

    def split_points(self) -> dict[int, np.ndarray | None]:
        """Per column the booster splits on: its sorted numeric thresholds, or None for a
        categorical column. Read once from the booster's trees."""
        if self._splits is not None:
            return self._splits
        numeric: dict[int, set[float]] = {}
        categorical: set[int] = set()
        nodes = [tree["tree_structure"] for tree in self.booster.dump_model()["tree_info"]]
        while nodes:
            node = nodes.pop()
            if "split_feature" not in node:
                continue
            if node["decision_type"] == "==":
                categorical.add(node["split_feature"])
            else:
                numeric.setdefault(node["split_feature"], set()).add(float(node["threshold"]))
            nodes += [node["left_child"], node["right_child"]]
        splits: dict[int, np.ndarray | None] = {c: None for c in categorical}
        for column, thresholds in numeric.items():
            if column not in categorical:
                splits[column] = np.array(sorted(thresholds))
        self._splits = splits
        return splits


def local_slope(calibrator: Any, at: np.ndarray) -> np.ndarray:
    """d cal / d margin at `at` by a central difference (works for isotonic and sigmoid)."""
    at = np.asarray(at, dtype=np.float64)
    step = 1e-6 * np.maximum(1.0, np.abs(at))
    up = calibrator.predict(at + step)
    down = calibrator.predict(at - step)
    return np.asarray((up - down) / (2.0 * step), dtype=np.float64)


def effects_from_contributions(
    calibrator: Any, contrib: np.ndarray, margin: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Effects in score points from TreeSHAP values and the booster's margin.

    `calibrator`: the sub-model's (anything with `predict(margins)`). Returns (effects
    n × features, baseline n, score n), score = 100 · cal(margin) as the scorer computes
    it, and every row satisfies Σ effects == score − baseline.
    """
    phi = contrib[:, :-1]
    bias = contrib[:, -1]
    calibrate = calibrator.predict
    score = 100.0 * np.asarray(calibrate(margin), dtype=np.float64)
    baseline = 100.0 * np.asarray(calibrate(bias), dtype=np.float64)
    delta = phi.sum(axis=1)
    # Dividing by Σφ (not margin − bias) makes the effects add up to the score exactly.
    level = _ZERO_MARGIN * (1.0 + np.abs(bias) + np.abs(phi).sum(axis=1))
    flat = np.abs(delta) <= level
    ratio = np.empty(len(phi), dtype=np.float64)
    ratio[~flat] = (score - baseline)[~flat] / delta[~flat]
    if flat.any():
        ratio[flat] = 100.0 * local_slope(calibrator, bias[flat])
    return phi * ratio[:, None], baseline, score


def margin_of(contrib: np.ndarray) -> np.ndarray:
    """The booster's margin from its TreeSHAP values: bias + Σφ (predict's to ~1e-15)."""
    return np.asarray(contrib.sum(axis=1), dtype=np.float64)


def top_effects(
    effect: np.ndarray, k: int, min_effect: float, sign: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Up to k effects of one sign per row, largest |effect| first, as three arrays:
    feature indices (n × k), effects (n × k), and how many of them qualify per row (the
    rest are padding).

    Effects within rounding noise of 0 (or below `min_effect`) are no reason either way.
    Ties keep feature order.
    """
    n, width = effect.shape
    take = min(k, width)
    floor = max(_ZERO_EFFECT, min_effect)
    signed = sign * effect
    keyed = np.where(signed > floor, signed, -np.inf)
    order = np.argsort(-keyed, axis=1, kind="stable")[:, :take]
    rows = np.arange(n)[:, None]
    count = np.isfinite(keyed[rows, order]).sum(axis=1)
    return order, effect[rows, order], count
