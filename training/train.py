"""Training: three LightGBM models (fit, interest, full), calibrated, evaluated against baselines.

Pure steps on in-memory data; nothing here touches disk or MLflow (see
`training.tracking` for that), so every step is testable on a small frame.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from features.build import FeatureEncoder, check_columns
from features.errors import LeadscoreError
from features.spec import DatasetSpec, Derivation, FeatureSpec, FeatureType
from features.timestamps import NS_PER_DAY, AsOf, FutureTimestampError, iso, read_timestamps
from models.attribution import effects_from_contributions, margin_of
from models.calibration import Calibrator, fit_best_calibrator
from models.scorer import LeadScorer
from models.submodel import SUBMODELS, SubModel
from training.config import BoosterConfig, TrainConfig
from training.data import PreparedData, Split, check_split, split_by_time
from training.decay import learned_decay
from training.drift import drift_report, without_features
from training.metrics import classification_metrics, logistic_baseline, single_column_auc
from training.monitor import age_profiles, example_ages
from training.sample import sample_train
from training.selection import time_text
from training.snapshot import leak_text, snapshot_leaks
from training.thresholds import NS_PER_WEEK, fit_policy, threshold_report

log = logging.getLogger(__name__)

# How many of the strongest fit and interest factors the report keeps (the alignment sheet).
FACTORS_KEPT = 5
# The overall factors are mean TreeSHAP effects over at most this many test rows (a
# seeded random draw): their standard error is then far below the digits shown, and a
# 1 M-example training does not spend half a minute on them.
FACTORS_MAX_ROWS = 20_000


@dataclass
class TrainResult:
    """The trained scorer, its metrics, and the test slice they were measured on."""

    scorer: LeadScorer
    metrics: dict[str, float]
    report: dict[str, Any]
    split: Split
    test_frame: pd.DataFrame
    y_test: np.ndarray
    test_as_of: np.ndarray | None = None
    test_scores: dict[str, np.ndarray] = field(default_factory=dict)
    validation_scores: dict[str, np.ndarray] = field(default_factory=dict)
    baseline_scores: dict[str, np.ndarray] = field(default_factory=dict)
    # per sub-model, the calibrator of the other `recency.calibrate_on` choice (reports)
    other_calibrators: dict[str, Calibrator | None] = field(default_factory=dict)

    @property
    def as_of(self) -> AsOf | None:
        """The test rows' moments (None: now)."""
        return None if self.test_as_of is None else AsOf(self.test_as_of)


def check_all_missing(matrix: np.ndarray, spec: DatasetSpec) -> None:
    """A feature without a single value in the data is a spec or export mistake."""
    empty = np.isnan(matrix).all(axis=0)
    if empty.any():
        names = [
            f"{f.name!r} (column {f.source!r})"
            for f, e in zip(spec.features, empty, strict=True)
            if e
        ]
        raise LeadscoreError(
            f"feature(s) {', '.join(names)} have no value in any row; "
            "check the column in the export or remove it from the spec"
        )


def check_leakage(
    matrix: np.ndarray, y: np.ndarray, spec: DatasetSpec, config: TrainConfig
) -> dict[str, float]:
    """Single-column AUC of every feature on the train slice; stop on a suspicious one."""
    aucs = {
        f.name: single_column_auc(matrix[:, j], y, f.type is FeatureType.categorical)
        for j, f in enumerate(spec.features)
    }
    limit = config.leakage.max_single_column_auc
    allowed = set(config.leakage.allow)
    warn_unknown_allowed(spec, allowed, "leakage.allow")
    suspicious = [
        f"{f.source!r} (AUC {aucs[f.name]:.3f})"
        for f in spec.features
        if aucs[f.name] >= limit and f.source not in allowed and f.name not in allowed
    ]
    if suspicious:
        raise LeadscoreError(
            f"possible label leak: column {', '.join(suspicious)} alone reaches ROC AUC ≥ "
            f"{limit} on the train slice. Remove it from the spec, or if it is known before "
            "the moment of scoring, list it under leakage.allow in the training config"
        )
    return aucs


def warn_unknown_allowed(spec: DatasetSpec, allowed: set[str], key: str) -> None:
    """Log names in an `allow` list of the training config that no feature has (name or
    column): a typo there allows nothing, and the check it meant to pass still stops."""
    known = {name for f in spec.features for name in (f.name, f.source)}
    unknown = sorted(allowed - known)
    if unknown:
        log.warning(
            "%s names %s, which no feature of spec %r has as its name or column",
            key,
            ", ".join(map(repr, unknown)),
            spec.name,
        )


def booster_params(config: BoosterConfig, features: list[FeatureSpec], seed: int) -> dict[str, Any]:
    monotone = [{"increasing": 1, "decreasing": -1}.get(f.monotone or "", 0) for f in features]
    params: dict[str, Any] = {
        "objective": "binary",
        "metric": "binary_logloss",
        "learning_rate": config.learning_rate,
        "num_leaves": config.num_leaves,
        "max_depth": config.max_depth,
        "min_child_samples": config.min_child_samples,
        "feature_fraction": config.feature_fraction,
        "bagging_fraction": config.bagging_fraction,
        "bagging_freq": config.bagging_freq,
        "lambda_l2": config.lambda_l2,
        "cat_smooth": config.cat_smooth,
        "min_data_per_group": config.min_data_per_group,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": config.num_threads,
        "verbosity": -1,
    }
    if any(monotone):
        params["monotone_constraints"] = monotone
    return params


def _boost(
    params: dict[str, Any],
    x: np.ndarray,
    y: np.ndarray,
    categorical: list[int],
    rounds: int,
    valid: tuple[np.ndarray, np.ndarray] | None = None,
    early_stopping: int = 0,
    weight: np.ndarray | None = None,
) -> lgb.Booster:
    names = [f"f{i}" for i in range(x.shape[1])]
    train_set = lgb.Dataset(
        x, y, weight=weight, feature_name=names, categorical_feature=categorical
    )
    if valid is None:
        return lgb.train(params, train_set, num_boost_round=rounds)
    valid_set = lgb.Dataset(valid[0], valid[1], reference=train_set)
    booster = lgb.train(
        params,
        train_set,
        num_boost_round=rounds,
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(early_stopping, verbose=False)],
    )
    best = booster.best_iteration or booster.current_iteration()
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=best))


def fit_submodel(
    name: str,
    spec: DatasetSpec,
    features: list[FeatureSpec],
    x: np.ndarray,
    y: np.ndarray,
    split: Split,
    config: TrainConfig,
    moments: np.ndarray | None = None,
) -> tuple[SubModel, np.ndarray, dict[str, Any], Calibrator | None]:
    """Train one calibrated booster on a feature group.

    The number of trees is chosen by early stopping on the validation slice. With
    `refit` (the default) the final booster is then trained on train + validation
    with that many trees — the newest labelled leads matter most for the next
    ones — and calibrated on out-of-fold margins from k boosters trained the same
    way, so calibration never sees a lead its booster was trained on. Without
    `refit`, the booster from the train slice is calibrated on the validation slice.

    With `refit`, `recency` decides how much the newest rows count: the boosters' row
    weights (`half_life_days`, by age from `moments`) and the rows the calibration is
    fitted on (`calibrate_on`: all, or the newest `calibration_window` share). The other
    calibration choice is fitted too and returned, so training can report both on the
    test slice.

    Returns the sub-model, honest (out-of-sample) probabilities for the validation
    rows, what was chosen, and the calibrator of the other `calibrate_on` choice (None
    without `refit`).
    """
    names = [f.name for f in spec.features]
    indices = [names.index(f.name) for f in features]
    categorical = [i for i, f in enumerate(features) if f.type is FeatureType.categorical]
    params = booster_params(config.booster, features, config.seed)
    x_sub = x[:, indices]
    stage_one = _boost(
        params,
        x_sub[split.train],
        y[split.train],
        categorical,
        config.booster.max_rounds,
        valid=(x_sub[split.validation], y[split.validation]),
        early_stopping=config.booster.early_stopping_rounds,
    )
    trees = stage_one.current_iteration()
    recency = config.recency
    alternative: Calibrator | None = None
    if config.refit:
        rows = np.concatenate([split.train, split.validation])
        weight = age_weights(moments, rows, recency.half_life_days)
        margin = np.empty(len(rows), dtype=np.float64)
        folds = StratifiedKFold(config.calibration_folds, shuffle=True, random_state=config.seed)
        for fit_idx, held_idx in folds.split(rows, y[rows]):
            fold_booster = _boost(
                params,
                x_sub[rows[fit_idx]],
                y[rows[fit_idx]],
                categorical,
                trees,
                weight=None if weight is None else weight[fit_idx],
            )
            margin[held_idx] = fold_booster.predict(x_sub[rows[held_idx]], raw_score=True)
        booster = _boost(params, x_sub[rows], y[rows], categorical, trees, weight=weight)
        # Rows are in time order: the newest share (never less than the validation
        # slice, whose honest probabilities are returned) is the recent window.
        recent = max(round(len(rows) * recency.calibration_window), len(split.validation))
        windows = {"all": len(rows), "recent": recent}
        fitted = {
            choice: fit_best_calibrator(
                margin[-size:],
                y[rows][-size:],
                config.calibration,
                folds=config.calibration_folds,
                seed=config.seed,
            )
            for choice, size in windows.items()
        }
        calibrator, briers, honest = fitted[recency.calibrate_on]
        alternative = fitted["recent" if recency.calibrate_on == "all" else "all"][0]
        window = windows[recency.calibrate_on]
    else:
        rows = split.validation
        booster = stage_one
        margin = np.asarray(booster.predict(x_sub[rows], raw_score=True))
        calibrator, briers, honest = fit_best_calibrator(
            margin, y[rows], config.calibration, folds=config.calibration_folds, seed=config.seed
        )
        window = len(rows)
    model = SubModel(name, [f.name for f in features], indices, booster, calibrator)
    info = {
        "trees": trees,
        "refit": config.refit,
        "calibration": calibrator.method,
        "calibration_brier_by_method": briers,
        "calibration_rows": window,
        "calibrated_on": recency.calibrate_on if config.refit else "validation",
        "half_life_days": recency.half_life_days if config.refit else None,
    }
    log.info("%s model: %d trees, %s calibration", name, trees, calibrator.method)
    return model, honest[len(honest) - len(split.validation) :], info, alternative


def monitor_reference(
    data: PreparedData,
    split: Split,
    x: np.ndarray,
    probability: np.ndarray,
    encoder: FeatureEncoder,
) -> dict[str, Any]:
    """The profile `leadscore monitor` compares production with: the rows the model
    learned from and its test-slice probabilities (per example age, point-in-time)."""
    learned = np.concatenate([split.train, split.validation])
    ages = None
    if data.point_in_time:
        spec = encoder.spec
        created = read_timestamps(data.frame[spec.time.column], spec.time.column)
        ages = example_ages(data.moments, created.astype("datetime64[ns]").astype(np.int64))
    return age_profiles(
        x[learned],
        None if ages is None else ages[learned],
        probability,
        None if ages is None else ages[split.test],
        encoder.spec,
        {name: int(encoder.other_code(name)) + 1 for name in encoder.categories_},
    )


def calibration_rows(config: TrainConfig, drift: dict[str, Any]) -> str:
    """`recency.calibrate_on` resolved: `auto` is `recent` when the validation slice's base
    rate moved away from train's (drift report; the test slice is not looked at)."""
    chosen = config.recency.calibrate_on
    if chosen != "auto":
        return chosen
    validation = drift.get("base_rate", {}).get("validation", {})
    return "recent" if validation.get("shifted") else "all"


def age_weights(
    moments: np.ndarray | None, rows: np.ndarray, half_life_days: float | None
) -> np.ndarray | None:
    """Row weights halving every `half_life_days` of age before the newest row (None:
    equal weights)."""
    if half_life_days is None or moments is None:
        return None
    age_days = (moments[rows].max() - moments[rows]).astype(np.float64) / NS_PER_DAY
    return np.asarray(0.5 ** (age_days / half_life_days))


def feature_groups(spec: DatasetSpec) -> dict[str, list[FeatureSpec]]:
    """The features of each sub-model: `context` features are the full model's only."""
    return {"full": spec.features, "fit": list(spec.fit), "interest": list(spec.interest)}


@dataclass(frozen=True)
class Design:
    """The validated, encoded training data: split positions, fitted encoder, matrix."""

    split: Split
    encoder: FeatureEncoder
    x: np.ndarray
    single_column_auc: dict[str, float]
    snapshot_leaks: list[dict[str, Any]] = field(default_factory=list)
    spec: DatasetSpec | None = None
    drift: dict[str, Any] = field(default_factory=dict)
    # what sample.max_train_rows did to the train slice (None: it kept every row)
    sample: dict[str, Any] | None = None


def design_matrix(data: PreparedData, spec: DatasetSpec, config: TrainConfig) -> Design:
    """Split by time, fit the encoder on the train slice, encode, and run the input checks.

    Every check a user's data can fail happens here, before any MLflow run starts.
    """
    leaks = snapshot_leaks(data, spec, config.snapshot)
    refused = [leak for leak in leaks if leak["refused"]]
    if refused:
        label_date = str(spec.label.from_date)
        raise LeadscoreError(
            "snapshot leak: "
            + "; ".join(leak_text(leak, label_date) for leak in refused)
            + f". Above {config.snapshot.max_share:.0%} (snapshot.max_share) the model would "
            "learn the future: "
            + (
                "train with the event log (--events FILE)"
                if spec.events is not None
                else f"add an events: section to spec {spec.name!r} and train with the event "
                "log (--events FILE)"
            )
            + ", or list the column under snapshot.allow in the training config to train "
            "anyway"
        )
    split = split_by_time(len(data.y), config.split, data.groups)
    check_split(data.y, split)
    split, sample = sample_train(
        split, data.y, config.sample.max_train_rows, config.sample.time_blocks, config.seed
    )
    encoder, x = encode(data, spec, config, split)
    drift = data_drift(data, spec, config, split, x)
    dropped = {proxy["feature"] for proxy in drift["time_proxies"]}
    if config.drift.time_proxies == "drop" and dropped:
        spec = without_features(spec, dropped)
        encoder, x = encode(data, spec, config, split)
    catalogue = config.decision.catalogue
    check_columns(
        data.frame,
        [
            c
            for c in catalogue.columns
            if c not in (catalogue.stage_column, catalogue.status_column)
        ],
        "data (for decision.catalogue in the training config)",
    )
    single_aucs = check_leakage(x[split.train], data.y[split.train], spec, config)
    return Design(split, encoder, x, single_aucs, leaks, spec, drift, sample)


def data_drift(
    data: PreparedData, spec: DatasetSpec, config: TrainConfig, split: Split, x: np.ndarray
) -> dict[str, Any]:
    """The drift report (training/drift.py) of the encoded data: base rates by slice and
    month, adversarial validation of old vs new in the train slice, time proxies."""
    # When a row was scored: an example's moment, or for a one-row-per-lead export the
    # lead's time (every row of a snapshot shares the export's moment).
    when = data.moments if data.point_in_time else data.times
    return drift_report(
        x,
        data.y,
        when,
        {"train": split.train, "validation": split.validation, "test": split.test},
        spec,
        data.groups,
        config.drift,
        config.seed,
        monthly=spec.time.kind == "datetime",
        threads=config.booster.num_threads,
    )


def encode(
    data: PreparedData, spec: DatasetSpec, config: TrainConfig, split: Split
) -> tuple[FeatureEncoder, np.ndarray]:
    """Fit the encoder on the train slice and encode every row as of its moment."""
    encoder = FeatureEncoder(spec, min_category_count=config.min_category_count)
    try:
        # the moments make "days since" features' typical values (the reasons' reference)
        encoder.fit(data.frame.iloc[split.train], AsOf(data.moments[split.train]))
        x = encoder.transform(data.frame, AsOf(data.moments))
    except FutureTimestampError as error:
        raise LeadscoreError(
            f"column {error.column!r} holds {error.value!r}, after the moment of its example "
            f"(as_of {iso(error.as_of)}): "
            + (
                "a snapshot property cannot be read as of an earlier moment; rebuild it from "
                "the event log (the spec's events.properties) or leave it out of the spec"
                if data.point_in_time
                else "a date after the export was taken"
            )
        ) from None
    check_all_missing(x, spec)
    return encoder, x


def train_scorer(
    data: PreparedData, spec: DatasetSpec, config: TrainConfig, design: Design | None = None
) -> TrainResult:
    """Fit the three calibrated models on a design matrix; evaluate them and the baselines."""
    design = design or design_matrix(data, spec, config)
    split, encoder, x = design.split, design.encoder, design.x
    spec = design.spec or spec  # without the time proxies drift.time_proxies: drop left out
    groups = feature_groups(spec)
    calibrate_on = calibration_rows(config, design.drift)
    config = config.model_copy(
        update={"recency": config.recency.model_copy(update={"calibrate_on": calibrate_on})}
    )
    models: dict[str, SubModel] = {}
    model_info: dict[str, Any] = {}
    validation_scores: dict[str, np.ndarray] = {}
    alternatives: dict[str, Calibrator | None] = {}
    for name in SUBMODELS:
        models[name], validation_scores[name], model_info[name], alternatives[name] = fit_submodel(
            name, spec, groups[name], x, data.y, split, config, data.moments
        )

    y_train, y_test = data.y[split.train], data.y[split.test]
    base_rate = float(y_train.mean())
    metrics: dict[str, float] = {}
    test_scores: dict[str, np.ndarray] = {}
    baseline_scores: dict[str, np.ndarray] = {}
    base = classification_metrics(y_test, np.full(len(y_test), base_rate), config.ece_bins)
    for key, value in base.items():
        metrics[f"test.base_rate.{key}"] = value
    calibration_choices: dict[str, Any] = {}
    for name, model in models.items():
        margin = model.margin(x[split.test])
        test_scores[name] = model.calibrator.predict(margin)  # = model.probability
        other = alternatives[name]
        if other is not None:
            chosen = config.recency.calibrate_on
            calibration_choices[name] = {
                "chosen": chosen,
                **{
                    choice: classification_metrics(y_test, p, config.ece_bins)
                    for choice, p in (
                        (chosen, test_scores[name]),
                        ("recent" if chosen == "all" else "all", other.predict(margin)),
                    )
                },
            }
        for slice_name, y_slice, p in (
            ("validation", data.y[split.validation], validation_scores[name]),
            ("test", y_test, test_scores[name]),
        ):
            for key, value in classification_metrics(y_slice, p, config.ece_bins).items():
                metrics[f"{slice_name}.{name}.{key}"] = value
        cols = list(model.indices)
        categorical = [
            i for i, j in enumerate(cols) if spec.features[j].type is FeatureType.categorical
        ]
        numeric = [i for i in range(len(cols)) if i not in categorical]
        baseline = logistic_baseline(categorical, numeric, config.seed)
        # The baseline learns from the same rows as the model it is compared with.
        fit_rows = np.concatenate([split.train, split.validation]) if config.refit else split.train
        baseline.fit(x[fit_rows][:, cols], data.y[fit_rows])
        p_lr = baseline.predict_proba(x[split.test][:, cols])[:, 1]
        baseline_scores[name] = p_lr
        for key, value in classification_metrics(y_test, p_lr, config.ece_bins).items():
            metrics[f"test.{name}_logistic.{key}"] = value

    test_frame = data.frame.iloc[split.test].reset_index(drop=True)
    validation_frame = data.frame.iloc[split.validation]
    as_scores = {
        "probability": validation_scores["full"],
        "fit": 100.0 * validation_scores["fit"],
        "interest": 100.0 * validation_scores["interest"],
    }
    weeks = {
        name: span_weeks(data.times[rows], spec, None if data.groups is None else data.groups[rows])
        for name, rows in (("validation", split.validation), ("test", split.test))
    }
    missing = spec.missing_tokens
    policy = fit_policy(
        as_scores,
        data.y[split.validation],
        raw_columns(validation_frame, catalogue_columns(config)),
        missing,
        config.decision,
        weeks["validation"],
        spec.numbers,
    )
    thresholds: dict[str, Any] = {
        "policy": policy.model_dump(mode="json", by_alias=True),
        "notes": policy.notes,
        "validation": threshold_report(
            policy,
            as_scores,
            data.y[split.validation],
            raw_columns(validation_frame, catalogue_columns(config)),
            missing,
            weeks["validation"],
        ),
        "test": threshold_report(
            policy,
            {
                "probability": test_scores["full"],
                "fit": 100.0 * test_scores["fit"],
                "interest": 100.0 * test_scores["interest"],
            },
            y_test,
            raw_columns(test_frame, catalogue_columns(config)),
            missing,
            weeks["test"],
        ),
    }
    for slice_name in ("validation", "test"):
        for stage, key in (("SQL", "sql"), ("MQL", "mql")):
            for measure, value in thresholds[slice_name]["stages"][stage].items():
                if measure != "leads" and np.isfinite(value):
                    metrics[f"{slice_name}.{key}.{measure}"] = float(value)

    report = {
        "notes": [
            f"the {name} model used all {config.booster.max_rounds} rounds (early stopping "
            "never stopped it, so more trees would likely still help): raise "
            "booster.max_rounds or booster.learning_rate"
            for name, info in model_info.items()
            if info["trees"] >= config.booster.max_rounds
        ],
        "rows": {
            "train": len(split.train),
            "validation": len(split.validation),
            "test": len(split.test),
        },
        "examples": (
            {
                "point_in_time": True,
                "at_days": config.examples.at_days,
                "leads": len(pd.unique(data.groups)),
                "left_out_already_converted": data.dropped_converted,
                "left_out_across_cuts": split.purged,
            }
            if data.groups is not None
            else {"point_in_time": False}
        ),
        "snapshot_leaks": design.snapshot_leaks,
        "sample": design.sample,
        "drift": design.drift,
        "calibration_window": calibration_choices,
        "base_rate": {"train": base_rate, "test": float(y_test.mean())},
        "refit": config.refit,
        "models": model_info,
        "single_column_auc": design.single_column_auc,
        "thresholds": thresholds,
        "factors": overall_factors(
            models, spec, x[split.test], data.times[split.test], seed=config.seed
        ),
    }
    metadata = {
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "leadscore_version": version("leadscore"),
        "lightgbm_version": lgb.__version__,
        "spec_name": spec.name,
        "base_rate": base_rate,
        "rows": report["rows"],
        "models": model_info,
        "test_metrics": {k: v for k, v in metrics.items() if not k.startswith("validation.")},
        "threshold_report": thresholds["test"]["stages"],
        # What `leadscore monitor` compares production with (training/monitor.py).
        "monitor_reference": monitor_reference(data, split, x, test_scores["full"], encoder),
    }
    scorer = LeadScorer(spec, encoder, models, metadata, policy)
    report["decay"] = learned_decay(scorer, x[split.test])
    return TrainResult(
        scorer,
        metrics,
        report,
        split,
        test_frame,
        y_test,
        data.moments[split.test],
        test_scores,
        validation_scores,
        baseline_scores,
        alternatives,
    )


def overall_factors(
    models: dict[str, SubModel],
    spec: DatasetSpec,
    x: np.ndarray,
    times: np.ndarray,
    top: int = FACTORS_KEPT,
    seed: int = 0,
    max_rows: int = FACTORS_MAX_ROWS,
) -> dict[str, Any]:
    """The strongest factors of the fit and of the interest score over a slice (the test
    slice: leads no model learned from), for the alignment sheet. A slice of more than
    `max_rows` rows is measured on a random draw of that many (`seed`); `rows` says how
    many were, `slice_rows` how many the slice has.

    A feature's strength is its mean absolute TreeSHAP effect in score points (the
    units of a rep's reasons, `models.attribution`); its share is that strength over
    the sum of all the sub-model's features' strengths. Strongest first, named by the
    spec's readable label. `times` (the slice's time keys) give its dates as the report
    writes them.
    """
    labels = {f.name: f.readable for f in spec.features}
    slice_rows = len(x)
    if slice_rows > max_rows:
        drawn = np.random.default_rng(seed).choice(slice_rows, max_rows, replace=False)
        x = x[np.sort(drawn)]
    out: dict[str, Any] = {
        "slice": "test",
        "rows": len(x),
        "slice_rows": slice_rows,
        "time_from": time_text(float(times.min()), spec) if len(times) else None,
        "time_to": time_text(float(times.max()), spec) if len(times) else None,
    }
    for name in ("fit", "interest"):
        model = models[name]
        contrib = model.contributions(x)
        effect, _, _ = effects_from_contributions(model.calibrator, contrib, margin_of(contrib))
        strength = np.abs(effect).mean(axis=0) if len(x) else np.zeros(len(model.features))
        total = float(strength.sum())
        order = np.argsort(-strength, kind="stable")[:top]
        out[name] = [
            {
                "feature": model.features[j],
                "label": labels[model.features[j]],
                "mean_abs_points": float(strength[j]),
                "share": float(strength[j]) / total,
            }
            for j in order
            if strength[j] > 0
        ]
    return out


def catalogue_columns(config: TrainConfig) -> list[str]:
    return config.decision.catalogue.columns


def raw_columns(frame: pd.DataFrame, names: list[str]) -> dict[str, Any]:
    """The named raw columns as object arrays (absent columns are left out: missing)."""
    return {c: frame[c].to_numpy(dtype=object) for c in names if c in frame.columns}


def span_weeks(
    times: np.ndarray, spec: DatasetSpec, groups: np.ndarray | None = None
) -> float | None:
    """How many weeks a slice covers (None for an ordinal time column).

    With several examples per lead (`groups`), the weeks are stretched by the examples
    per lead, so "per week" counts leads, not examples.
    """
    if spec.time.kind != "datetime" or len(times) < 2:
        return None
    weeks = float((times.max() - times.min()) / NS_PER_WEEK)
    if groups is not None and len(groups):
        weeks *= len(groups) / len(pd.unique(groups))
    return weeks


def input_example(
    scorer: LeadScorer, frame: pd.DataFrame, as_of: AsOf | None = None
) -> pd.DataFrame:
    """One made-up lead of typical values (medians, most common categories): no personal data.

    A timestamp is the median days before the latest moment of `as_of` (default: now)."""
    row: dict[str, Any] = {scorer.spec.id: "example-lead"}
    as_of = as_of or AsOf.now()
    x = scorer.encoder.transform(frame, as_of)
    latest = int(np.max(as_of.ns))
    for j, feature in enumerate(scorer.spec.features):
        values = x[:, j][~np.isnan(x[:, j])]
        if feature.derive is Derivation.days_since:
            days = float(np.median(values)) if len(values) else None
            row[feature.source] = "" if days is None else iso(latest - round(days * NS_PER_DAY))
            continue
        if feature.derive is not None:
            continue
        if feature.type is FeatureType.numeric:
            row[feature.source] = str(round(float(np.median(values)), 2)) if len(values) else ""
        elif feature.type is FeatureType.boolean:
            row[feature.source] = "true" if len(values) and values.mean() > 0.5 else "false"
        else:
            codes, counts = np.unique(values, return_counts=True)
            common = (
                scorer.encoder.decode(feature.name, float(codes[np.argmax(counts)]))
                if len(codes)
                else None
            )
            row[feature.source] = common or ""
    for feature in scorer.spec.features:
        if feature.derive is not None and feature.derive is not Derivation.days_since:
            row[feature.source] = {
                "seniority": "Marketing Manager",
                "email_domain_type": "example.com",
                "event_name": "Webinar registration",
            }[feature.derive.value]
    return pd.DataFrame([row])
