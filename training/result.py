"""The evaluation result, typed: what `leadscore evaluate` measures, section by section.

`report.json` is this result's JSON (`to_json`), and the HTML report renders it. A
section left out or null (no thresholds, no backtest, no months for an ordinal time
column) stays None; a result read back from JSON is validated leniently (every field
has a default, unknown keys are kept), so that an older `report.json` still renders.
`jsonable` turns any of it (and numpy values) into plain JSON types.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from features.jsonable import jsonable

# The scores an evaluation compares, as every table, chart and JSON key names them.
BASE_RATE, LOGISTIC, POINTS, MODEL = "base rate", "logistic regression", "points rule", "leadscore"
COMPARISON = (BASE_RATE, LOGISTIC, POINTS, MODEL)


class Part(BaseModel):
    """A section of the result: unknown keys kept, numbers accepted where text is due."""

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)


class ModelInfo(Part):
    uri: str | None = None
    version: str | None = None
    run_id: str | None = None
    spec: str | None = None
    trained_at: str | None = None


class DataSummary(Part):
    """The evaluated rows, and what the file allows (for the report's suggestions):
    `time_kind` (a backtest needs "datetime"), `backtest_months` (the most `--backtest`
    takes; 0: none, None: unknown) and `events` (whether `--events` works)."""

    file: str | None = None
    rows: int | None = None
    unit: str | None = None
    time_from: str | None = None
    time_to: str | None = None
    base_rate: float | None = None
    selection: str | None = None
    time_kind: str | None = None
    backtest_months: int | None = None
    events: bool | None = None


class Scores(Part):
    """ROC AUC, PR AUC, Brier, ECE and top-decile lift (None: not measurable)."""

    roc_auc: float | None = None
    pr_auc: float | None = None
    brier: float | None = None
    ece: float | None = None
    top_decile_lift: float | None = None


class ComparisonRow(Part):
    """One score of the model-vs-baselines table (every metric None: not available)."""

    name: str = ""
    roc_auc: float | None = None
    pr_auc: float | None = None
    brier: float | None = None
    ece: float | None = None
    top_decile_lift: float | None = None


class Reliability(Part):
    """Mean predicted, observed rate and count per non-empty probability bin, and ECE."""

    predicted: list[float | None] = []
    observed: list[float | None] = []
    count: list[int | None] = []
    ece: float | None = None


class Gains(Part):
    """Best score first: share of leads → share of conversions captured, lift, and the
    conversion rate of that top share."""

    share: list[float | None] = []
    captured: list[float | None] = []
    lift: list[float | None] = []
    conversion_rate: list[float | None] = []


class RocCurve(Part):
    fpr: list[float | None] = []
    tpr: list[float | None] = []


class PrecisionRecallCurve(Part):
    recall: list[float | None] = []
    precision: list[float | None] = []


class Curves(Part):
    roc: RocCurve = RocCurve()
    pr: PrecisionRecallCurve = PrecisionRecallCurve()


class Stage(Part):
    leads: int | None = None
    share: float | None = None
    conversion_rate: float | None = None
    recall: float | None = None
    lift: float | None = None
    per_week: float | None = None


class GradeRate(Part):
    share: float | None = None
    conversion_rate: float | None = None


class Thresholds(Part):
    """What the model's thresholds do (`training.thresholds.threshold_report`)."""

    rows: int | None = None
    base_rate: float | None = None
    stages: dict[str, Stage] = {}
    grades: dict[str, dict[str, GradeRate]] = {}
    rules: dict[str, int | None] = {}


class Month(Part):
    month: str | None = None
    rows: int | None = None
    base_rate: float | None = None
    roc_auc: float | None = None


class SliceRow(Part):
    """The model on the leads with one value of a column; `worse_than_base_rate` when its
    Brier score is worse than predicting the slice's own base rate."""

    value: str | None = None
    rows: int | None = None
    base_rate: float | None = None
    roc_auc: float | None = None
    brier: float | None = None
    brier_base_rate: float | None = None
    brier_overall_base_rate: float | None = None
    worse_than_base_rate: bool = False


class Examples(Part):
    point_in_time: bool = False
    at_days: list[int | float] = []


class SnapshotLeak(Part):
    column: str | None = None
    share: float | None = None
    converted_leads: int | None = None
    after_conversion: int | None = None
    counts: list[str] = []
    features: list[str] = []
    allowed: bool = False


class DecayAge(Part):
    age: str | None = None
    effect: float | None = None
    share_of_newest: float | None = None
    hubspot_share: float | None = None


class Decay(Part):
    kinds: dict[str, list[DecayAge]] = {}
    hubspot: str | None = None


class TimeFeatures(Part):
    """How the features were taken in time (`training.snapshot`, `training.decay`)."""

    examples: Examples = Examples()
    snapshot_leaks: list[SnapshotLeak] = []
    decay: Decay | None = None


class SliceRate(Part):
    rows: int | None = None
    units: int | None = None
    rate: float | None = None
    p_value_vs_train: float | None = None
    ratio_to_train: float | None = None


class MonthRate(Part):
    month: str | None = None
    rows: int | None = None
    rate: float | None = None


class MonthlyRates(Part):
    test: str | None = None
    p_value: float | None = None
    months: list[MonthRate] = []


class TopFeature(Part):
    feature: str | None = None
    share_of_gain: float | None = None


class Adversarial(Part):
    auc: float | None = None
    top_features: list[TopFeature] = []


class TimeProxy(Part):
    feature: str | None = None
    column: str | None = None
    auc: float | None = None


class Drift(Part):
    """What training saw move (`training.drift.drift_report`)."""

    base_rate: dict[str, SliceRate] = {}
    monthly: MonthlyRates | None = None
    adversarial: Adversarial = Adversarial()
    time_proxies: list[TimeProxy] = []
    time_proxy_action: str | None = None
    warnings: list[str] = []


class BacktestFold(Part):
    train_until: str | None = None
    test_month: str | None = None
    train_rows: int | None = None
    rows: int | None = None
    positives: int | None = None
    roc_auc: float | None = None
    pr_auc: float | None = None
    brier: float | None = None
    ece: float | None = None
    logistic_roc_auc: float | None = None
    ece_calibrated_on_all: float | None = None
    ece_calibrated_on_recent: float | None = None


class Spread(Part):
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None


class Backtest(Part):
    """The rolling-origin folds and the spread of each metric over them."""

    folds: list[BacktestFold] = []
    summary: dict[str, Spread] = {}


class FactorStrength(Part):
    """One feature's strength over a slice: its mean absolute TreeSHAP effect in score
    points and its share of the sub-model's total, by its readable label."""

    feature: str | None = None
    label: str | None = None
    mean_abs_points: float | None = None
    share: float | None = None


class Factors(Part):
    """The strongest fit and interest factors overall (`training.train.overall_factors`),
    and the slice they were measured on (its dates, its rows and how many of them were
    measured: a large slice is measured on a random draw)."""

    slice: str | None = None
    rows: int | None = None
    slice_rows: int | None = None
    time_from: str | None = None
    time_to: str | None = None
    fit: list[FactorStrength] = []
    interest: list[FactorStrength] = []


class EvaluationResult(Part):
    """Everything the evaluation report shows; report.json is its JSON."""

    model: ModelInfo | None = None
    data: DataSummary | None = None
    metrics: dict[str, Scores] | None = None
    reliability: dict[str, Reliability] | None = None
    gains: dict[str, Gains] | None = None
    curves: dict[str, Curves] | None = None
    comparison: list[ComparisonRow] | None = None
    thresholds: Thresholds | None = None
    stability: list[Month] | None = None
    slices: dict[str, list[SliceRow]] | None = None
    time: TimeFeatures | None = None
    drift: Drift | None = None
    backtest: Backtest | None = None
    factors: Factors | None = None
    notes: list[str] | None = None

    @classmethod
    def read(cls, value: EvaluationResult | Mapping[str, Any]) -> EvaluationResult:
        """The typed result of a result or of its JSON form (e.g. a report.json read back),
        numbers that are not finite as None."""
        return cls.model_validate(jsonable(value))


def to_json(result: EvaluationResult | Mapping[str, Any]) -> str:
    """The result as strict JSON (report.json): NaN and infinities null, indented."""
    return json.dumps(jsonable(result), indent=2, allow_nan=False, ensure_ascii=False)
