"""Mapping a booster's raw margin to an honest probability.

Fitted with scikit-learn (isotonic regression or a one-feature logistic
regression, i.e. Platt scaling), then reduced to a few numbers so that serving
needs nothing but numpy: isotonic becomes its step thresholds (`np.interp`, which
is exactly `IsotonicRegression.predict` with clipping), sigmoid becomes a slope
and an intercept.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss
from sklearn.model_selection import StratifiedKFold

Method = Literal["isotonic", "sigmoid"]


class Calibrator:
    """Raw margin → probability; `method` is "isotonic" or "sigmoid"."""

    def __init__(self, method: Method = "isotonic") -> None:
        self.method = method

    def fit(self, margin: np.ndarray, y: np.ndarray) -> Calibrator:
        margin = np.asarray(margin, dtype=np.float64)
        if self.method == "isotonic":
            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(margin, y)
            self.x_ = np.asarray(iso.X_thresholds_, dtype=np.float64)
            self.y_ = np.asarray(iso.y_thresholds_, dtype=np.float64)
        else:
            # A very weak penalty: this is Platt scaling, not a regularised model.
            lr = LogisticRegression(C=1e6).fit(margin.reshape(-1, 1), y)
            self.x_ = np.array([float(lr.coef_[0, 0])])
            self.y_ = np.array([float(lr.intercept_[0])])
        return self

    def predict(self, margin: np.ndarray) -> np.ndarray:
        margin = np.asarray(margin, dtype=np.float64)
        if self.method == "isotonic":
            return np.interp(margin, self.x_, self.y_)
        return 1.0 / (1.0 + np.exp(-(self.x_[0] * margin + self.y_[0])))

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "x": self.x_.tolist(), "y": self.y_.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        calibrator = cls(data["method"])
        calibrator.x_ = np.asarray(data["x"], dtype=np.float64)
        calibrator.y_ = np.asarray(data["y"], dtype=np.float64)
        return calibrator


def fit_best_calibrator(
    margin: np.ndarray,
    y: np.ndarray,
    method: Literal["auto", "isotonic", "sigmoid"] = "auto",
    folds: int = 5,
    seed: int = 0,
) -> tuple[Calibrator, dict[str, float], np.ndarray]:
    """Fit the requested calibrator, or with "auto" the one with the lower Brier score.

    The Brier scores that decide are out-of-fold (k-fold within the calibration slice):
    judged in-sample, isotonic regression would always win by overfitting. The chosen
    method is then refitted on the whole slice. Returns it, the out-of-fold Brier
    score of every method tried, and the chosen method's out-of-fold probabilities
    (honest estimates for the calibration rows themselves).
    """
    margin = np.asarray(margin, dtype=np.float64)
    y = np.asarray(y)
    methods: list[Method] = ["isotonic", "sigmoid"] if method == "auto" else [method]
    briers: dict[str, float] = {}
    honest: dict[str, np.ndarray] = {}
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for m in methods:
        out_of_fold = np.empty(len(y), dtype=np.float64)
        for fit_idx, held_idx in splitter.split(margin.reshape(-1, 1), y):
            calibrator = Calibrator(m).fit(margin[fit_idx], y[fit_idx])
            out_of_fold[held_idx] = calibrator.predict(margin[held_idx])
        briers[m] = float(brier_score_loss(y, out_of_fold))
        honest[m] = out_of_fold
    best = min(methods, key=lambda m: briers[m])
    return Calibrator(best).fit(margin, y), briers, honest[best]
