"""Training settings: a typed pydantic model with defaults, readable from YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from features.yaml_files import read_yaml, validate_mapping
from models.actions import Actions
from models.mlflow_store import MODEL_NAME, TRAINING_EXPERIMENT
from training.thresholds import DecisionConfig


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SplitConfig(_Strict):
    """Shares of the time-ordered data: oldest → train, then validation, newest → test."""

    validation: float = Field(0.15, gt=0, lt=0.5)
    test: float = Field(0.15, gt=0, lt=0.5)

    @model_validator(mode="after")
    def _leaves_training(self) -> SplitConfig:
        if self.validation + self.test >= 0.8:
            raise ValueError("validation + test must leave at least 20 % for training")
        return self


class BoosterConfig(_Strict):
    """LightGBM settings shared by the fit, interest and full models.

    Few, shallow trees on purpose: explanations (TreeSHAP) cost grows with tree count
    and depth, and lead data rarely rewards deep trees.
    """

    learning_rate: float = Field(0.05, gt=0, le=1)
    num_leaves: int = Field(7, ge=2)
    max_depth: int = Field(-1, ge=-1)
    min_child_samples: int = Field(50, ge=1)
    feature_fraction: float = Field(0.9, gt=0, le=1)
    bagging_fraction: float = Field(0.9, gt=0, le=1)
    bagging_freq: int = Field(1, ge=0)
    lambda_l2: float = Field(1.0, ge=0)
    cat_smooth: float = Field(10.0, ge=0)
    min_data_per_group: int = Field(50, ge=1)
    max_rounds: int = Field(1000, ge=1)
    early_stopping_rounds: int = Field(50, ge=1)
    # LightGBM's threads; 0 (the default) = OpenMP's default: every core this process may
    # use, or OMP_NUM_THREADS. The trees do not depend on it (deterministic + row-wise
    # histograms: 1, 2 or all threads give the same model, tests/training/test_threads.py).
    # On a machine other processes keep busy, threads that spin-wait for a core cost more
    # than they save: `leadscore train` sets OMP_WAIT_POLICY=PASSIVE (README "Benchmarks").
    num_threads: int = Field(0, ge=0)


class SampleConfig(_Strict):
    """A stratified, time-respecting sample of the train slice for very large exports
    (training/sample.py): validation and test keep all their rows; the train slice keeps
    at most `max_train_rows`, the same share of positives and negatives in each of
    `time_blocks` consecutive blocks. null (the default): every row."""

    max_train_rows: int | None = Field(None, ge=1000)
    time_blocks: int = Field(20, ge=1)


class LeakageConfig(_Strict):
    """A spec column that alone reaches this train-slice ROC AUC stops training."""

    max_single_column_auc: float = Field(0.95, gt=0.5, le=1.0)
    allow: list[str] = Field(
        default_factory=list, description="columns allowed past the single-column AUC check"
    )


class SnapshotConfig(_Strict):
    """The snapshot-leak check of an export without an event log.

    An activity timestamp (last visit, last open, last form) after a converted lead's
    label date means that column's counts include what the lead did after converting.
    Above `max_share` of converted leads, training stops unless the column is in `allow`.
    """

    max_share: float = Field(0.25, ge=0, le=1)
    allow: list[str] = Field(default_factory=list, description="columns allowed past the check")


class ExamplesConfig(_Strict):
    """Point-in-time examples (training with an event log): each lead is an example at
    each of these moments after its creation, unless it was already converted then."""

    at_days: list[float] = Field(default_factory=lambda: [0.0, 7.0, 30.0], min_length=1)

    @model_validator(mode="after")
    def _check(self) -> ExamplesConfig:
        if any(d < 0 for d in self.at_days) or len(set(self.at_days)) != len(self.at_days):
            raise ValueError("at_days must be distinct numbers of days, 0 or more")
        return self


class DriftConfig(_Strict):
    """What training does when the data says the world moved (see training/drift.py).

    `drift: drop` in a config is short for `drift: {time_proxies: drop}`."""

    time_proxies: Literal["warn", "drop"] = Field(
        "warn", description="warn: name time proxies; drop: leave them out of the model"
    )
    time_proxy_auc: float = Field(
        0.8, gt=0.5, le=1.0, description="single-feature old-vs-new AUC that makes a time proxy"
    )
    alpha: float = Field(
        0.001, gt=0, lt=0.5, description="significance level of the base-rate shift tests"
    )


class RecencyConfig(_Strict):
    """How much the newest labelled leads count in the final fit (`refit` only).

    `calibrate_on: recent` fits the probability calibration on the newest
    `calibration_window` share of the labelled rows only (out-of-fold margins), so a base
    rate that moved is reflected in the probabilities; `all` (the default) uses every
    labelled row; `auto` is `recent` when the drift report finds the validation slice's
    base rate shifted from train's, else `all`. Measured (README "Drift"): mean ECE of the
    demo's 3-month backtest 0.0106 all vs 0.0113 recent; X Education's test slice 0.037
    all vs 0.043 recent (where `auto` picks recent); a planted drift 0.049 all vs 0.037
    recent. Every labelled row is the default, the recent window an option.
    `half_life_days` weights the final boosters' rows by age (a row that old counts half
    as much as the newest); null: every row counts the same."""

    calibrate_on: Literal["all", "auto", "recent"] = "all"
    calibration_window: float = Field(0.3, gt=0.05, le=1.0)
    half_life_days: float | None = Field(None, gt=0)


class RegistryConfig(_Strict):
    model_name: str = Field(MODEL_NAME, min_length=1)
    experiment: str = Field(TRAINING_EXPERIMENT, min_length=1)
    promote: Literal["auto", "always", "never"] = "auto"
    brier_tolerance: float = Field(0.002, ge=0, description="how much worse Brier may be")
    baseline_auc_margin: float = Field(
        0.005,
        ge=0,
        description="how far below the logistic baseline's test AUC a champion's may be",
    )
    baseline_brier_margin: float = Field(
        0.002,
        ge=0,
        description="how far above the logistic baseline's test Brier a champion's may be",
    )


class TrainConfig(_Strict):
    """Everything a training run depends on; logged whole as MLflow params."""

    seed: int = 42
    split: SplitConfig = Field(default_factory=SplitConfig)
    booster: BoosterConfig = Field(default_factory=BoosterConfig)
    sample: SampleConfig = Field(default_factory=SampleConfig)
    calibration: Literal["auto", "isotonic", "sigmoid"] = "auto"
    calibration_folds: int = Field(5, ge=2)
    refit: bool = Field(True, description="retrain on train + validation, calibrate out-of-fold")
    leakage: LeakageConfig = Field(default_factory=LeakageConfig)
    snapshot: SnapshotConfig = Field(default_factory=SnapshotConfig)
    examples: ExamplesConfig = Field(default_factory=ExamplesConfig)
    registry: RegistryConfig = Field(default_factory=RegistryConfig)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    recency: RecencyConfig = Field(default_factory=RecencyConfig)
    decision: DecisionConfig = Field(default_factory=DecisionConfig)
    actions: Actions = Field(
        default_factory=Actions,
        description="lead status → next action and its due time (kept in the bundle's policy)",
    )
    min_positives: int = Field(50, ge=1)
    min_category_count: int = Field(10, ge=1)
    ece_bins: int = Field(10, ge=2)
    shap_sample: int = Field(2000, ge=100, description="rows drawn for the SHAP summary")

    @model_validator(mode="before")
    @classmethod
    def _drift_shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("drift"), str):
            return {**data, "drift": {"time_proxies": data["drift"]}}
        return data

    @model_validator(mode="before")
    @classmethod
    def _actions_at_the_top(cls, data: Any) -> Any:
        decision = data.get("decision") if isinstance(data, dict) else None
        if isinstance(decision, dict) and "actions" in decision:
            raise ValueError(
                "decision.actions: write the next-action rules at the top level (actions:)"
            )
        return data

    @model_validator(mode="after")
    def _actions_into_the_policy(self) -> TrainConfig:
        # `fit_policy` reads the decision config: the rules travel with it into the policy.
        if self.decision.actions != self.actions:
            self.decision = self.decision.model_copy(update={"actions": self.actions})
        return self

    def flat(self) -> dict[str, Any]:
        """Dotted key → value, for MLflow params."""
        out: dict[str, Any] = {}

        def walk(prefix: str, value: Any) -> None:
            if isinstance(value, dict):
                for key, item in value.items():
                    walk(f"{prefix}.{key}" if prefix else key, item)
            else:
                out[prefix] = ",".join(map(str, value)) if isinstance(value, list) else value

        walk("", self.model_dump(mode="json"))
        return out


def load_config(path: str | Path | None) -> TrainConfig:
    """Read a training config YAML (None → defaults); errors name the key."""
    if path is None:
        return TrainConfig()
    data = read_yaml(path, "config file")
    return validate_mapping(TrainConfig, {} if data is None else data, f"training config {path}")
