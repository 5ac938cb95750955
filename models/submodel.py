"""One sub-model of the bundle: a LightGBM booster on a subset of the encoded columns, and
its calibrator (margins, calibrated probabilities, TreeSHAP values)."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np

from models.attribution import TreeShap, threads
from models.calibration import Calibrator

SUBMODELS = ("full", "fit", "interest")


class SubModel:
    """One booster on a subset of the encoded columns, plus its calibrator."""

    def __init__(
        self,
        name: str,
        features: list[str],
        indices: list[int],
        booster: lgb.Booster,
        calibrator: Calibrator,
    ) -> None:
        self.name = name
        self.features = features
        self.indices = np.asarray(indices, dtype=np.intp)
        self.booster = booster
        self.calibrator = calibrator
        self.shap = TreeShap(booster)

    def columns(self, matrix: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(matrix[:, self.indices])

    def margin(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(
            self.booster.predict(
                self.columns(matrix), raw_score=True, num_threads=threads(len(matrix))
            ),
            dtype=np.float64,
        )

    def probability(self, matrix: np.ndarray) -> np.ndarray:
        return self.calibrator.predict(self.margin(matrix))

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """Exact TreeSHAP values in raw-margin units; the last column is the baseline
        (for many rows, once per distinct branch pattern: `TreeShap`)."""
        return self.shap(self.columns(matrix))
