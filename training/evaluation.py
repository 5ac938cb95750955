"""Honest evaluation of a trained scorer on leads it never saw: the result's sections.

Pure steps on in-memory data (the command in `cli.evaluate` loads, saves and logs).
The evaluated leads come from `training.selection`, the baselines from
`training.comparison`, the backtest from `training.backtest`; this module scores the
leads and puts the typed `EvaluationResult` together: metrics, reliability (ECE), gains
and lift, ROC and precision-recall curves, the comparison with the baselines, the
threshold table, stability per month and slices by lead source and country.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from features.errors import LeadscoreError
from features.jsonable import jsonable
from features.spec import DatasetSpec
from features.timestamps import AsOf
from models.scorer import LeadScorer
from training.backtest import max_backtest_months
from training.comparison import baseline_scores, compare
from training.data import PreparedData
from training.metrics import reliability, scores
from training.points import PointsRules, default_points_path, load_points
from training.result import (
    MODEL,
    DataSummary,
    EvaluationResult,
    SliceRow,
    Thresholds,
)
from training.selection import Selection, subset, time_text
from training.slices import default_slice_columns, slice_metrics, stability
from training.thresholds import threshold_report
from training.train import span_weeks

if TYPE_CHECKING:
    from training.train import TrainResult


def evaluate_scorer(
    scorer: LeadScorer,
    evaluated: PreparedData,
    spec: DatasetSpec,
    *,
    baselines: PreparedData | None,
    points: PointsRules | None,
    slice_columns: Sequence[str],
    bins: int = 10,
    later_start: str | None = None,
) -> EvaluationResult:
    """Score the evaluated leads and compare the model with the baselines on them.

    `baselines` are the leads created before the evaluated ones (where the baselines
    learn; see `training.comparison.baseline_scores`). `later_start`: a `--from` known to
    give the baselines leads of both classes (`later_from`), suggested when they lack one.
    Returns the result's measured sections and their notes (no model, data or backtest).
    """
    y = evaluated.y
    if y.min() == y.max():
        raise LeadscoreError(
            f"the evaluated leads have a single class ({int(y.sum())} "
            f"positive(s) in {len(y)} lead(s)); choose a wider range"
        )
    frame = evaluated.frame
    x = scorer.encode(frame, AsOf(evaluated.moments))
    scored = scorer.score_matrix(x)
    as_probability = {
        "probability": scored["probability"],
        "fit": scored["fit"] / 100.0,
        "interest": scored["interest"] / 100.0,
    }
    baseline = baseline_scores(
        scorer,
        evaluated,
        x,
        spec,
        baselines=baselines,
        points=points,
        later_start=later_start,
    )
    notes = list(baseline.notes)
    comparison = compare(
        y, {**baseline.scores, MODEL: (scored["probability"], scored["probability"])}, bins
    )

    thresholds = None
    if scorer.policy is not None:
        thresholds = Thresholds.model_validate(
            jsonable(
                threshold_report_for(
                    scorer, frame, scored, y, span_weeks(evaluated.times, spec, evaluated.groups)
                )
            )
        )
    else:
        notes.append("the model has no decision policy: no threshold table")
    months = stability(y, scored["probability"], evaluated.times, spec)
    if months is None:
        notes.append(
            f"stability over time needs a datetime time column; {spec.time.column!r} is ordinal"
        )
    slices = {
        column: [SliceRow.model_validate(row) for row in rows]
        for column, rows in slice_metrics(
            y, scored["probability"], baseline.base_rate, frame, slice_columns, spec.missing_tokens
        ).items()
    }
    flagged = [
        f"{column} = {row.value}"
        for column, rows in slices.items()
        for row in rows
        if row.worse_than_base_rate
    ]
    if flagged:
        notes.append(
            "the model's Brier score is worse than the base rate's on: " + "; ".join(flagged)
        )
    return EvaluationResult(
        metrics={k: scores(y, p, bins) for k, p in as_probability.items()},
        reliability={k: reliability(y, p, bins) for k, p in as_probability.items()},
        gains=comparison.gains,
        curves=comparison.curves,
        comparison=comparison.rows,
        thresholds=thresholds,
        stability=months,
        slices=slices,
        notes=notes,
    )


def default_points_rule(columns: Collection[str]) -> PointsRules | None:
    """The repository's points rule (`configs/points-hubspot.yaml`) when the data has
    every column it reads, else None."""
    path = default_points_path()
    if not path.is_file():
        return None
    rules = load_points(path)
    return rules if all(c in columns for c in rules.columns) else None


def report_of_test_slice(
    result: TrainResult,
    data: PreparedData,
    spec: DatasetSpec,
    *,
    model: Mapping[str, Any],
    data_file: str,
) -> dict[str, Any]:
    """The evaluation report of a training's own test slice, as `leadscore evaluate`
    writes it for the model on the same file (without a backtest), in its JSON form.

    `data` is what the model was trained on (`result.split` indexes it): the baselines
    learn from every lead before the test slice, the model's train and validation rows.
    """
    test = result.split.test
    n = len(data.y)
    selection = Selection(
        test,
        np.sort(np.concatenate([result.split.train, result.split.validation])),
        f"the training's test slice: the newest {len(test):,} of {n:,} {data.unit}",
        default=True,
    )
    evaluated = subset(data, selection.rows)
    notes = [
        "the model never saw these leads: they are its own test slice, held out "
        "from training, tree-count choice and calibration"
    ]
    points = default_points_rule(data.frame.columns)
    if points is not None:
        notes.append(f"points rule: the default {default_points_path().name}")
    if data.dropped_unknown:
        notes.append(
            f"{data.dropped_unknown:,} {data.unit} left out: their label window is "
            "still open (outcome not known yet)"
        )
    sections = evaluate_scorer(
        result.scorer,
        evaluated,
        spec,
        baselines=subset(data, selection.before),
        points=points,
        slice_columns=default_slice_columns(result.scorer.spec),
    )
    return {
        "model": jsonable(dict(model)),
        "data": jsonable(data_summary(evaluated, spec, data_file, selection, data)),
        **{k: v for k, v in jsonable(sections).items() if k != "notes"},
        "time": jsonable(
            {
                "examples": result.report.get("examples", {"point_in_time": False}),
                "snapshot_leaks": result.report.get("snapshot_leaks", []),
                "decay": result.report.get("decay"),
            }
        ),
        "drift": jsonable(result.report.get("drift")),
        "backtest": None,
        "notes": notes + [n for n in sections.notes or [] if n is not None],
    }


def threshold_report_for(
    scorer: LeadScorer,
    frame: pd.DataFrame,
    scores: Mapping[str, np.ndarray],
    y: np.ndarray,
    weeks: float | None,
) -> dict[str, Any]:
    """What the model's own thresholds do on these leads (each evaluated as a new lead)."""
    assert scorer.policy is not None
    return threshold_report(
        scorer.policy, scores, y, scorer.policy_columns(frame), scorer.spec.missing_tokens, weeks
    )


def data_summary(
    evaluated: PreparedData,
    spec: DatasetSpec,
    file: str,
    selection: Selection,
    data: PreparedData | None = None,
) -> DataSummary:
    """The evaluated rows, and what the file allows (for the report's suggestions):
    `time_kind` (a backtest and stability by month need "datetime"), `backtest_months`
    (the most `--backtest` takes on the whole prepared file `data`; 0: none, None:
    unknown) and `events` (whether the spec reads an event log, so `--events` works)."""
    return DataSummary(
        file=file,
        rows=len(evaluated.y),
        unit=evaluated.unit,
        time_from=time_text(evaluated.times[0], spec),
        time_to=time_text(evaluated.times[-1], spec),
        base_rate=float(evaluated.y.mean()),
        selection=selection.description,
        time_kind=spec.time.kind,
        backtest_months=max_backtest_months(data, spec) if data is not None else None,
        events=spec.events is not None,
    )
