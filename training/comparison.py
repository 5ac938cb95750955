"""The model side by side with simple baselines, on the same evaluated leads.

The base rate, a logistic regression and a points-rule score, all fitted (the points
rule only mapped to a probability) on the leads created before the evaluated ones,
never on them; then the same metrics, gains and curves for each.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from features.spec import DatasetSpec, FeatureType
from features.timestamps import AsOf
from models.scorer import LeadScorer
from training.data import PreparedData
from training.metrics import curves, gains, logistic_baseline, ranking_metrics
from training.points import PointsBaseline, PointsRules
from training.result import BASE_RATE, COMPARISON, LOGISTIC, POINTS, ComparisonRow, Curves, Gains

# A score that orders leads (`rank`) and its probability (`p`, None: not known).
Ranked = tuple[np.ndarray, np.ndarray | None]


@dataclass
class Baselines:
    """The baselines' scores of the evaluated leads (None: not available) and what the
    report must say about how they were made."""

    base_rate: float
    scores: dict[str, Ranked | None]
    notes: list[str] = field(default_factory=list)


@dataclass
class Comparison:
    rows: list[ComparisonRow]
    gains: dict[str, Gains]
    curves: dict[str, Curves]


def logistic_probability(
    scorer: LeadScorer, x_fit: np.ndarray, y_fit: np.ndarray, x: np.ndarray, seed: int = 0
) -> np.ndarray:
    """A logistic regression on the scorer's encoded features (all of them), as in training."""
    categorical = [
        j for j, f in enumerate(scorer.spec.features) if f.type is FeatureType.categorical
    ]
    numeric = [j for j in range(x.shape[1]) if j not in categorical]
    model = logistic_baseline(categorical, numeric, seed).fit(x_fit, y_fit)
    return np.asarray(model.predict_proba(x)[:, 1], dtype=np.float64)


def _usable(data: PreparedData | None) -> bool:
    return data is not None and len(data.y) > 0 and data.y.min() != data.y.max()


def baseline_scores(
    scorer: LeadScorer,
    evaluated: PreparedData,
    x: np.ndarray,
    spec: DatasetSpec,
    *,
    baselines: PreparedData | None,
    points: PointsRules | None,
    later_start: str | None = None,
) -> Baselines:
    """Score the evaluated leads (encoded as `x`) by each baseline.

    `baselines` are the leads created before the evaluated ones: the logistic
    regression learns there, the points rule's points are mapped to a probability
    there, and the base rate is theirs. `later_start`: a `--from` known to give the
    baselines leads of both classes, suggested when they lack one.
    """
    y = evaluated.y
    notes: list[str] = []
    usable = _usable(baselines)
    n_before = len(baselines.y) if baselines is not None else 0
    if n_before:
        assert baselines is not None
        base_rate = float(baselines.y.mean())
        notes.append(
            f"the base rate ({base_rate:.1%}) is the conversion rate of the "
            f"{n_before:,} {baselines.unit} created before the evaluated ones"
        )
    elif "base_rate" in scorer.metadata:
        base_rate = float(scorer.metadata["base_rate"])
        notes.append(
            f"no lead before the evaluated ones: the base rate ({base_rate:.1%}) is "
            "the model's training base rate"
        )
    else:
        base_rate = float(y.mean())
        notes.append(
            "no lead before the evaluated ones and no training base rate: the base "
            "rate is the evaluated leads' own (in-sample, flatters the baseline)"
        )
    scores: dict[str, Ranked | None] = {
        BASE_RATE: (np.full(len(y), base_rate), np.full(len(y), base_rate))
    }
    if usable:
        assert baselines is not None
        x_before = scorer.encode(baselines.frame, AsOf(baselines.moments))
        p_lr = logistic_probability(scorer, x_before, baselines.y, x)
        scores[LOGISTIC] = (p_lr, p_lr)
        fitted = "the logistic regression (on the model's encoded features)" + (
            " and the points rule's probability map are" if points is not None else " is"
        )
        notes.append(
            f"{fitted} fitted on the {n_before:,} {baselines.unit} created before the "
            "evaluated ones, never on the evaluated leads"
        )
    else:
        scores[LOGISTIC] = None
        notes.append(
            "no logistic regression: the leads before the evaluated ones are "
            f"{n_before} with a single class or none"
            + (
                f"; start the range later (--from {later_start} leaves leads of both "
                "classes before it)"
                if later_start
                else ""
            )
        )
    frame = evaluated.frame
    if points is not None:
        points.check(frame, f"points rules ({points.name})")
        baseline = PointsBaseline(points, spec.missing_tokens)
        raw_points = baseline.points(frame, evaluated.moments)
        p_points = None
        if usable:
            assert baselines is not None
            p_points = baseline.fit(baselines.frame, baselines.y, baselines.moments).probability(
                raw_points
            )
        scores[POINTS] = (raw_points, p_points)
        notes.append(
            f"points rule ({points.name}, {len(points.rules)} rules): ROC AUC, PR AUC,"
            " lift, gains and curves rank leads by their points; Brier and ECE use "
            "the points mapped to a probability by isotonic regression on the earlier "
            "leads" + ("" if usable else " (not available: no earlier leads)")
        )
    else:
        scores[POINTS] = None
        notes.append(
            "no points rule: `leadscore evaluate --points FILE` (a YAML of points per "
            "property value) compares the model with one"
        )
    return Baselines(base_rate, scores, notes)


def compare(y: np.ndarray, scores: dict[str, Ranked | None], bins: int = 10) -> Comparison:
    """Every score of `COMPARISON` measured on the same leads (a missing one: a row of
    None, and no gains or curves)."""
    out = Comparison([], {}, {})
    for name in COMPARISON:
        entry = scores.get(name)
        if entry is None:
            out.rows.append(
                ComparisonRow(
                    name=name, roc_auc=None, pr_auc=None, brier=None, ece=None, top_decile_lift=None
                )
            )
            continue
        rank, p = entry
        out.rows.append(ranking_metrics(name, y, rank, p, bins))
        out.gains[name] = gains(y, rank)
        out.curves[name] = curves(y, rank)
    return out
