"""Metrics of scores against outcomes, and the logistic baseline they are compared to.

One definition of each, used by training (MLflow metrics and charts), evaluation and
the report: calibration (ECE, reliability bins), ranking (ROC AUC, PR AUC, lift, gains,
curves). Tied scores never depend on row order: at a cut, tied leads share the places
left in proportion (a constant score is the diagonal of the gains chart, lift 1).

Reliability bins are equal-width with the upper edge closed to the left (a probability
of exactly 0.2 is in the bin [0.2, 0.3)), as ECE uses them. scikit-learn's
`calibration_curve` puts such a value into the lower bin, which moves fit and interest
scores (whole points / 100, often on an edge) between bins, so it is not used here.
"""

from __future__ import annotations

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from training.result import (
    ComparisonRow,
    Curves,
    Gains,
    PrecisionRecallCurve,
    Reliability,
    RocCurve,
    Scores,
)

CURVE_POINTS = 200


# --- calibration -------------------------------------------------------------------------


def reliability_curve(
    y: np.ndarray, p: np.ndarray, bins: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean predicted, observed rate and count per non-empty equal-width bin."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    which = np.minimum((p * bins).astype(int), bins - 1)
    predicted, observed, counts = [], [], []
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            predicted.append(p[in_bin].mean())
            observed.append(y[in_bin].mean())
            counts.append(int(in_bin.sum()))
    return np.array(predicted), np.array(observed), np.array(counts, dtype=np.int64)


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """ECE with equal-width bins: Σ share(bin) · |mean(y) − mean(p)| over non-empty bins."""
    predicted, observed, counts = reliability_curve(y, p, bins)
    n = len(np.asarray(y))
    gaps = zip(predicted, observed, counts, strict=True)
    return float(sum(c / n * abs(o - q) for q, o, c in gaps))


def reliability(y: np.ndarray, p: np.ndarray, bins: int = 10) -> Reliability:
    """The reliability bins of probabilities `p` and their ECE."""
    predicted, observed, count = reliability_curve(y, p, bins)
    return Reliability(
        predicted=predicted.tolist(),
        observed=observed.tolist(),
        count=count.tolist(),
        ece=expected_calibration_error(y, p, bins),
    )


# --- ranking -----------------------------------------------------------------------------


def _captured(y: np.ndarray, score: np.ndarray, ordered: np.ndarray, n_top: int) -> float:
    """Conversions among the `n_top` best scores; the leads tied at the cut share the
    places left in proportion to their conversions."""
    cut = ordered[n_top - 1]
    above = score > cut
    tied = score == cut
    return float(y[above].sum() + (n_top - above.sum()) * y[tied].mean())


def gains(y: np.ndarray, score: np.ndarray, points: int = 10) -> Gains:
    """Best score first, after each 1/`points` of the leads: the share of conversions
    captured, the lift over the base rate and the conversion rate of that top share."""
    y = np.asarray(y, dtype=np.float64)
    score = np.asarray(score, dtype=np.float64)
    n, positives = len(y), max(float(y.sum()), 1e-12)
    ordered = np.sort(score)[::-1]
    shares = [round((k + 1) / points, 10) for k in range(points)]
    captured, lift, rate = [], [], []
    for share in shares:
        n_top = min(n, max(1, int(np.floor(share * n + 1e-9))))
        caught = _captured(y, score, ordered, n_top)
        captured.append(float(caught / positives))
        rate.append(float(caught / n_top))
        lift.append(float(caught / n_top / (positives / n)))
    return Gains(share=list(shares), captured=captured, lift=lift, conversion_rate=rate)


def top_decile_lift(y: np.ndarray, score: np.ndarray) -> float:
    """Conversion rate of the best-scored 10 % over the overall rate (ties shared, so a
    constant score has a lift of exactly 1 whatever the row order)."""
    y = np.asarray(y, dtype=np.float64)
    score = np.asarray(score, dtype=np.float64)
    rate = float(y.mean())
    if rate == 0:
        return float("nan")
    n_top = max(1, len(y) // 10)
    captured = _captured(y, score, np.sort(score)[::-1], n_top)
    return float(captured / n_top / rate)


def auc_or_none(y: np.ndarray, score: np.ndarray) -> float | None:
    """ROC AUC, or None when the rows hold a single class (no AUC exists)."""
    y = np.asarray(y)
    if len(y) == 0 or y.min() == y.max():
        return None
    return float(roc_auc_score(y, score))


def _thin(*arrays: np.ndarray, limit: int = CURVE_POINTS) -> list[list[float]]:
    """At most `limit` evenly spaced points of a curve, first and last kept."""
    n = len(arrays[0])
    keep = np.unique(np.linspace(0, n - 1, min(n, limit)).round().astype(int))
    return [np.asarray(a, dtype=np.float64)[keep].tolist() for a in arrays]


def curves(y: np.ndarray, score: np.ndarray) -> Curves:
    """ROC and precision-recall curves, each thinned to ≤ 200 points."""
    fpr, tpr, _ = roc_curve(y, score)
    precision, recall, _ = precision_recall_curve(y, score)
    fpr_l, tpr_l = _thin(fpr, tpr)
    recall_l, precision_l = _thin(recall, precision)
    return Curves(
        roc=RocCurve(fpr=fpr_l, tpr=tpr_l),
        pr=PrecisionRecallCurve(recall=recall_l, precision=precision_l),
    )


# --- the metric rows ---------------------------------------------------------------------


def classification_metrics(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict[str, float]:
    """ROC AUC, PR AUC, Brier, ECE and top-decile lift of probabilities `p` for labels `y`."""
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "ece": expected_calibration_error(y, p, bins),
        "top_decile_lift": top_decile_lift(y, p),
    }


def scores(y: np.ndarray, p: np.ndarray, bins: int = 10) -> Scores:
    """`classification_metrics` as the result's typed row."""
    return Scores(**classification_metrics(y, p, bins))


def ranking_metrics(
    name: str, y: np.ndarray, rank: np.ndarray, p: np.ndarray | None, bins: int = 10
) -> ComparisonRow:
    """Ranking metrics from `rank`; Brier and ECE from the probability `p` (None: unknown)."""
    return ComparisonRow(
        name=name,
        roc_auc=float(roc_auc_score(y, rank)),
        pr_auc=float(average_precision_score(y, rank)),
        brier=float(brier_score_loss(y, p)) if p is not None else None,
        ece=expected_calibration_error(y, p, bins) if p is not None else None,
        top_decile_lift=top_decile_lift(y, rank),
    )


# --- the logistic baseline ---------------------------------------------------------------


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


def single_column_auc(
    values: np.ndarray, y: np.ndarray, categorical: bool, bins: int = 20
) -> float:
    """How well one column alone separates the classes (in-sample group rates, either sign).

    Numbers are cut into quantile bins and categories kept as they are; missing is a
    group of its own. A leak shows whichever way it points, monotone or not.
    """
    groups = np.full(len(values), -1, dtype=np.int64)
    present = ~np.isnan(values)
    if present.any():
        if categorical:
            groups[present] = values[present].astype(np.int64)
        else:
            edges = np.unique(np.quantile(values[present], np.linspace(0, 1, bins + 1)[1:-1]))
            groups[present] = np.searchsorted(edges, values[present], side="right")
    _, inverse = np.unique(groups, return_inverse=True)
    rates = np.bincount(inverse, weights=y) / np.bincount(inverse)
    auc = float(roc_auc_score(y, rates[inverse]))
    return max(auc, 1.0 - auc)
