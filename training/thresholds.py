"""Thresholds from the sales team's targets, fitted on the validation slice.

The targets are business statements ("sales can take 40 SQLs a week", "SQLs must
convert at 40 %", "MQLs must convert at twice the base rate"); this module turns
them into probability and score cut-offs using honest (out-of-sample) validation
probabilities, says plainly when a target cannot be met, and reports what the
chosen thresholds do on the test slice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from features.coerce import DEFAULT_NUMBERS, NumberFormat
from models.actions import Actions
from models.policy import GRADES, MQL, OTHER, SQL, Grade, Policy, Requirements, Thresholds

log = logging.getLogger(__name__)

NS_PER_WEEK = 7 * 24 * 3600 * 1e9
# The rows of the threshold report (`threshold_report`), in the order they are shown.
LEAD = "lead"
SQL_ROW, MQL_ROW, MQL_OR_SQL_ROW = "SQL", "MQL", "MQL or SQL"
STAGE_ROWS = (SQL_ROW, MQL_ROW, MQL_OR_SQL_ROW, LEAD, OTHER)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GradeShares(_Strict):
    """Share of validation leads in grades A, B and C (D is the rest), like MadKudu's tiers."""

    A: float = Field(0.15, gt=0, lt=1)
    B: float = Field(0.25, gt=0, lt=1)
    C: float = Field(0.30, gt=0, lt=1)

    @model_validator(mode="after")
    def _leaves_d(self) -> GradeShares:
        if self.A + self.B + self.C >= 1:
            raise ValueError("A + B + C must be below 1 (D takes the rest)")
        return self


class SqlTarget(_Strict):
    """What sales can take and needs: capacity (per week, or as a share) and/or precision."""

    capacity_per_week: float | None = Field(None, gt=0)
    max_share: float | None = Field(None, gt=0, le=1)
    min_precision: float | None = Field(0.5, gt=0, lt=1)
    min_fit_grade: Grade = "B"

    @model_validator(mode="after")
    def _some_target(self) -> SqlTarget:
        if self.capacity_per_week is None and self.max_share is None and self.min_precision is None:
            raise ValueError("give at least one of capacity_per_week, max_share, min_precision")
        return self


class MqlTarget(_Strict):
    """MQLs must convert at `min_lift` × the base rate, with minimum fit AND interest grades."""

    min_lift: float = Field(2.0, gt=1)
    min_fit_grade: Grade = "C"
    min_interest_grade: Grade = "C"


class DecisionConfig(_Strict):
    """The sales team's targets and catalogue, and (`actions`, filled in from the training
    config's top-level `actions:` by `TrainConfig`) the next-action rules the policy keeps."""

    grades: GradeShares = Field(default_factory=GradeShares)
    sql: SqlTarget = Field(default_factory=SqlTarget)
    mql: MqlTarget = Field(default_factory=MqlTarget)
    catalogue: Requirements = Field(default_factory=Requirements)
    min_support: int = Field(20, ge=1, description="fewest validation leads behind a threshold")
    # Not a key of `decision:` in a config file (TrainConfig refuses it there) and not
    # logged twice: the top-level `actions:` is copied here.
    actions: Actions = Field(default_factory=Actions, exclude=True)


def grade_cuts(scores: np.ndarray, shares: GradeShares) -> list[float]:
    """Score cut-offs [A≥, B≥, C≥] so that the given shares of leads fall in A, B, C."""
    tops = np.cumsum([shares.A, shares.B, shares.C])
    return [float(np.quantile(scores, 1.0 - top)) for top in tops]


def cut_for(grade: Grade, cuts: Sequence[float]) -> float:
    """The lowest score of a grade (D: every score)."""
    return 0.0 if grade == "D" else float(cuts[GRADES.index(grade)])


def _sweep(
    p: np.ndarray, y: np.ndarray, candidates: np.ndarray, fixed: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each threshold t taken from the candidates' probabilities (descending): the size
    and positives of `fixed ∪ {candidate with p ≥ t}`, and t itself."""
    order = np.argsort(-p[candidates], kind="stable")
    p_sorted = p[candidates][order]
    y_sorted = y[candidates][order]
    # only the last index of each run of ties is a reachable set (p ≥ t takes all ties)
    last = np.r_[p_sorted[1:] != p_sorted[:-1], True]
    size = np.cumsum(np.ones_like(p_sorted))[last] + fixed.sum()
    positives = np.cumsum(y_sorted)[last] + y[fixed].sum()
    return p_sorted[last], size, positives


def fit_policy(
    scores: Mapping[str, np.ndarray],
    y: np.ndarray,
    columns: Mapping[str, Sequence[Any]],
    missing: frozenset[str],
    config: DecisionConfig,
    weeks: float | None,
    numbers: NumberFormat = DEFAULT_NUMBERS,
) -> Policy:
    """Choose grade cuts and MQL / SQL thresholds on the validation slice.

    `scores` are out-of-sample validation probabilities (0–1) and fit / interest
    scores (0–100); `weeks` is the time the validation slice spans (None when the
    time column is only an order, which rules out a weekly capacity); `numbers`: how
    the export writes numbers (the spec's), kept in the policy for the catalogue.
    """
    notes: list[str] = []
    p = np.asarray(scores["probability"], dtype=np.float64)
    fit = np.asarray(scores["fit"], dtype=np.float64)
    interest = np.asarray(scores["interest"], dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = len(y)
    base_rate = float(y.mean())
    fit_cuts = grade_cuts(fit, config.grades)
    interest_cuts = grade_cuts(interest, config.grades)
    never = float(np.nextafter(1.0, 2.0))  # a probability no lead reaches

    # Who the catalogue already decides (excluded, failed, hand-raise) before scores.
    gate = Policy(
        thresholds=Thresholds(
            fit_grade_cuts=fit_cuts,
            interest_grade_cuts=interest_cuts,
            sql_probability=never,
            sql_min_fit=0.0,
            mql_probability=never,
            mql_min_fit=0.0,
            mql_min_interest=0.0,
        ),
        requirements=config.catalogue,
        numbers=numbers,
    ).decide(columns, scores, missing, fresh=True)
    hand_raised = gate["rule"] == "hand_raise"
    open_to_score = gate["rule"] == "below_thresholds"

    # --- SQL --------------------------------------------------------------------------
    target = config.sql
    sql_min_fit = cut_for(target.min_fit_grade, fit_cuts)
    candidates = np.flatnonzero(open_to_score & (fit >= sql_min_fit))
    t_values, size, positives = _sweep(p, y, candidates, hand_raised)
    share = size / n
    precision = positives / size
    allowed = np.ones(len(t_values), dtype=bool)
    max_share = target.max_share
    if target.capacity_per_week is not None:
        if weeks is None or weeks <= 0:
            notes.append(
                "SQL capacity per week needs a datetime time column; capacity "
                "target ignored (use sql.max_share for an ordinal time column)"
            )
        else:
            weekly = n / weeks
            share_from_capacity = target.capacity_per_week / weekly
            max_share = min(max_share or 1.0, share_from_capacity)
            log.info(
                "SQL capacity %.0f/week of %.0f leads/week → at most %.1f %%",
                target.capacity_per_week,
                weekly,
                100 * share_from_capacity,
            )
    if max_share is not None:
        allowed &= share <= max_share + 1e-12
        if not allowed.any():
            notes.append(
                f"SQL capacity (at most {max_share:.1%} of leads) cannot be met: "
                f"hand-raises alone are {hand_raised.mean():.1%}; no SQL by score"
            )
    if target.min_precision is not None:
        meets = allowed & (precision >= target.min_precision) & (size >= config.min_support)
        if meets.any():
            allowed = meets
        elif allowed.any():
            supported = allowed & (size >= config.min_support)
            pool = supported if supported.any() else allowed
            best = int(np.argmax(np.where(pool, precision, -1.0)))
            notes.append(
                f"SQL precision target {target.min_precision:.0%} cannot be met on "
                f"validation: the best is {precision[best]:.1%} at probability ≥ "
                f"{t_values[best]:.3f} ({share[best]:.1%} of leads); using that"
            )
            allowed = np.arange(len(t_values)) == best
    # the lowest allowed threshold: the most SQLs that still meet every target
    sql_probability = float(t_values[allowed].min()) if allowed.any() else never

    # --- MQL --------------------------------------------------------------------------
    mql_target = config.mql
    mql_min_fit = cut_for(mql_target.min_fit_grade, fit_cuts)
    mql_min_interest = cut_for(mql_target.min_interest_grade, interest_cuts)
    is_sql = hand_raised | (open_to_score & (p >= sql_probability) & (fit >= sql_min_fit))
    candidates = np.flatnonzero(
        open_to_score & ~is_sql & (fit >= mql_min_fit) & (interest >= mql_min_interest)
    )
    t_values, size, positives = _sweep(p, y, candidates, np.zeros(n, dtype=bool))
    rate = positives / np.maximum(size, 1)
    wanted = mql_target.min_lift * base_rate
    meets = (rate >= wanted) & (size >= config.min_support)
    if meets.any():
        mql_probability = float(t_values[meets].min())
    elif len(t_values):
        supported = size >= config.min_support
        pool = supported if supported.any() else np.ones(len(t_values), dtype=bool)
        best = int(np.argmax(np.where(pool, rate, -1.0)))
        mql_probability = float(t_values[best])
        notes.append(
            f"MQL target ({mql_target.min_lift:g} × base rate = {wanted:.1%}) cannot "
            f"be met on validation: the best is {rate[best]:.1%} at probability ≥ "
            f"{mql_probability:.3f}; using that"
        )
    else:
        mql_probability = never
        notes.append("no validation lead meets the MQL fit and interest minimums; no MQL by score")
    for note in notes:
        log.warning(note)
    return Policy(
        thresholds=Thresholds(
            fit_grade_cuts=fit_cuts,
            interest_grade_cuts=interest_cuts,
            sql_probability=sql_probability,
            sql_min_fit=sql_min_fit,
            mql_probability=mql_probability,
            mql_min_fit=mql_min_fit,
            mql_min_interest=mql_min_interest,
        ),
        requirements=config.catalogue,
        notes=notes,
        numbers=numbers,
        actions=config.actions,
    )


def threshold_report(
    policy: Policy,
    scores: Mapping[str, np.ndarray],
    y: np.ndarray,
    columns: Mapping[str, Sequence[Any]],
    missing: frozenset[str],
    weeks: float | None = None,
) -> dict[str, Any]:
    """Per stage: share of leads, conversion rate, recall and lift over the base rate.

    Every lead is evaluated as a fresh `lead` (its recorded stage is history, not input).
    """
    decided = policy.decide(columns, scores, missing, fresh=True)
    y = np.asarray(y, dtype=np.float64)
    base = float(y.mean())
    positives = max(float(y.sum()), 1.0)
    stages = decided["lifecyclestage"]
    out: dict[str, Any] = {"rows": len(y), "base_rate": base, "stages": {}, "grades": {}}
    for name, mask in (
        (SQL_ROW, stages == SQL),
        (MQL_ROW, stages == MQL),
        (MQL_OR_SQL_ROW, np.isin(stages, [MQL, SQL])),
        (OTHER, stages == OTHER),
        (LEAD, stages == LEAD),
    ):
        count = int(mask.sum())
        rate = float(y[mask].mean()) if count else float("nan")
        out["stages"][name] = {
            "leads": count,
            "share": count / len(y),
            "conversion_rate": rate,
            "recall": float(y[mask].sum()) / positives,
            "lift": rate / base if count and base > 0 else float("nan"),
            **({"per_week": count / weeks} if weeks else {}),
        }
    for group in ("fit", "interest"):
        grades = decided[f"{group}_grade"]
        out["grades"][group] = {
            g: {
                "share": float((grades == g).mean()),
                "conversion_rate": float(y[grades == g].mean())
                if (grades == g).any()
                else float("nan"),
            }
            for g in GRADES
        }
    out["rules"] = {str(r): int((decided["rule"] == r).sum()) for r in np.unique(decided["rule"])}
    return out
