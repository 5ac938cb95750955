"""Metrics for calibrated probabilities and the baselines they are compared to."""

from __future__ import annotations

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """ECE with equal-width bins: Σ share(bin) · |mean(y) − mean(p)| over non-empty bins."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    which = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            total += in_bin.mean() * abs(y[in_bin].mean() - p[in_bin].mean())
    return float(total)


def reliability_curve(
    y: np.ndarray, p: np.ndarray, bins: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean predicted, observed rate and count per non-empty equal-width bin."""
    which = np.minimum((np.asarray(p) * bins).astype(int), bins - 1)
    predicted, observed, counts = [], [], []
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            predicted.append(p[in_bin].mean())
            observed.append(y[in_bin].mean())
            counts.append(int(in_bin.sum()))
    return np.array(predicted), np.array(observed), np.array(counts)


def cumulative_gains(
    y: np.ndarray, score: np.ndarray, points: int = 20
) -> tuple[np.ndarray, np.ndarray]:
    """Share of leads contacted (best score first) → share of all conversions captured."""
    order = np.argsort(-np.asarray(score), kind="stable")
    captured = np.cumsum(np.asarray(y)[order]) / max(1, int(np.sum(y)))
    shares = np.linspace(1 / points, 1.0, points)
    cut = np.maximum(1, np.round(shares * len(order)).astype(int)) - 1
    return shares, captured[cut]


def top_decile_lift(y: np.ndarray, score: np.ndarray) -> float:
    """Conversion rate of the best-scored 10 % over the overall rate.

    Ties at the cut share the places left in proportion, so a constant score has a
    lift of exactly 1 whatever the row order.
    """
    y = np.asarray(y, dtype=np.float64)
    score = np.asarray(score, dtype=np.float64)
    rate = float(y.mean())
    if rate == 0:
        return float("nan")
    n_top = max(1, len(y) // 10)
    cut = np.sort(score)[::-1][n_top - 1]
    above = score > cut
    tied = score == cut
    captured = y[above].sum() + (n_top - above.sum()) * y[tied].mean()
    return float(captured / n_top / rate)


def classification_metrics(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict[str, float]:
    """ROC AUC, PR AUC, Brier, ECE and top-decile lift of probabilities `p` for labels `y`."""
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "ece": expected_calibration_error(y, p, bins),
        "top_decile_lift": top_decile_lift(y, p),
    }


def logistic_baseline(categorical: list[int], numeric: list[int], seed: int = 0) -> Pipeline:
    """A plain, well-made logistic regression on the encoded matrix.

    One-hot for categories (rare ones grouped), median imputation with missing
    indicators and scaling for numbers: the strong simple baseline a reviewer expects.
    """
    transformers = []
    if numeric:
        transformers.append(
            (
                "numeric",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                    StandardScaler(),
                ),
                numeric,
            )
        )
    if categorical:
        transformers.append(
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value=-1.0),
                    OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=5),
                ),
                categorical,
            )
        )
    return make_pipeline(
        ColumnTransformer(transformers), LogisticRegression(max_iter=2000, C=1.0, random_state=seed)
    )
