"""MLflow: what a training run logs, and the registry with its champion gate.

Where runs go (`tracking_uri`, `configure`) lives in the light `models.mlflow_store`,
which the scoring commands import without this module's MLflow and training imports;
both names are re-exported here.
"""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from sklearn.metrics import brier_score_loss, roc_auc_score

from features.errors import LeadscoreError, first_line
from features.spec import FeatureType
from models.mlflow_store import configure as configure
from models.mlflow_store import tracking_uri as tracking_uri
from models.pyfunc import load_scorer, log_scorer
from models.scorer import LeadScorer
from training import charts
from training.config import RegistryConfig, TrainConfig
from training.metrics import gains, reliability
from training.registry import (
    CHALLENGER,
    CHAMPION,
    DECISION_TAG,
    INTENDED_TAG,
    PENDING,
    REFUSED,
    kill_point,
    promotion_lock,
    record_decision,
    sqlite_database,
)
from training.result import Thresholds
from training.train import TrainResult, input_example

log = logging.getLogger(__name__)

# where a training run keeps the evaluation report of its own test slice
EVALUATION_ARTIFACTS = "evaluation"
# MLflow 3's experiment kinds (the UI's ExperimentKind): ours trains models, no GenAI
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"


def artifact_root(uri: str) -> str | None:
    """For a SQLite store, artifacts live beside the database file, not in ./mlruns.

    None for anything else: a tracking server (`http(s)://`) keeps a new experiment's
    artifacts where it was told (`--artifacts-destination`, proxied as
    `mlflow-artifacts:/`), so nothing is written on this machine.
    """
    db = sqlite_database(uri)
    return None if db is None else (db.parent / "mlartifacts").resolve().as_uri()


def ensure_experiment(name: str, uri: str) -> str:
    """The id of experiment `name`, created when missing (artifacts beside a SQLite store,
    else where the server keeps them), and marked as a machine-learning experiment.

    MLflow 3's UI tells "GenAI apps & agents" (traces, token usage) from "machine
    learning" (runs, models) by the experiment tag `mlflow.experimentKind`, as MLflow's
    own demo sets it. An existing experiment gets the tag only when it has none: a kind
    someone chose in the UI stays. (MLflow 3.17's UI follows its sidebar switch instead;
    `models.mlflow_store.experiment_url` links to the runs in either version.)
    """
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is None:
        root = artifact_root(uri)
        try:
            return str(
                mlflow.create_experiment(
                    name,
                    artifact_location=f"{root}/{name}" if root else None,
                    tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND},
                )
            )
        except MlflowException as error:
            # another process (a parallel training) created it first: use theirs
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            experiment = mlflow.get_experiment_by_name(name)
            if experiment is None:
                raise
    # (a deleted experiment takes no tags: starting a run in it fails with MLflow's message)
    if EXPERIMENT_KIND_TAG not in experiment.tags and experiment.lifecycle_stage == "active":
        MlflowClient().set_experiment_tag(
            experiment.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND
        )
    return str(experiment.experiment_id)


@dataclass(frozen=True)
class Promotion:
    version: str
    alias: str
    reason: str
    champion_metrics: dict[str, float] | None


def log_training_run(
    result: TrainResult, config: TrainConfig, fingerprint: dict[str, Any], spec_path: Path | None
) -> tuple[str, str]:
    """Log params, metrics, charts, spec and the pyfunc bundle to the active run.

    Returns (run id, logged model URI).
    """
    run = mlflow.active_run()
    assert run is not None, "log_training_run needs an active MLflow run"
    mlflow.log_params(config.flat())
    mlflow.log_params(
        {
            "spec.name": result.scorer.spec.name,
            "spec.fit_features": len(result.scorer.spec.fit),
            "spec.interest_features": len(result.scorer.spec.interest),
        }
    )
    mlflow.log_params({f"data.{k}": v for k, v in fingerprint.items()})
    mlflow.log_metrics({k: float(v) for k, v in result.metrics.items() if np.isfinite(v)})
    for name, info in result.report["models"].items():
        mlflow.log_metric(f"trees.{name}", info["trees"])
    drift = result.report.get("drift") or {}
    drift_metrics = {
        "drift.adversarial_auc": (drift.get("adversarial") or {}).get("auc"),
        **{
            f"drift.base_rate.{name}": rates.get("rate")
            for name, rates in (drift.get("base_rate") or {}).items()
        },
        **{f"drift.time_proxy.{p['feature']}": p["auc"] for p in drift.get("time_proxies", [])},
    }
    mlflow.log_metrics(
        {k: float(v) for k, v in drift_metrics.items() if v is not None and np.isfinite(v)}
    )
    leaks = result.report.get("snapshot_leaks", [])
    for leak in leaks:
        mlflow.log_metric(f"snapshot_leak.{leak['column']}", leak["share"])
    mlflow.set_tags(
        {
            "leadscore.spec": result.scorer.spec.name,
            "leadscore.data_sha256": str(fingerprint.get("sha256", "")),
            "leadscore.examples": (
                "point_in_time" if result.report["examples"]["point_in_time"] else "snapshot"
            ),
            "leadscore.snapshot_leaks": ", ".join(leak["column"] for leak in leaks) or "none",
            "leadscore.drift_warnings": str(len(drift.get("warnings", []))),
            "leadscore.time_proxies": ", ".join(p["feature"] for p in drift.get("time_proxies", []))
            or "none",
        }
    )

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        y = result.y_test
        scores = {
            **{f"{n} model": p for n, p in result.test_scores.items()},
            "logistic (all features)": result.baseline_scores["full"],
        }
        charts.save_png(
            charts.reliability_chart({name: reliability(y, p) for name, p in scores.items()}),
            out / "plots" / "reliability.png",
        )
        charts.save_png(
            charts.gains_chart(
                {
                    name: gains(y, p, points=20)
                    for name, p in {
                        "full model": result.test_scores["full"],
                        "logistic (all features)": result.baseline_scores["full"],
                        "fit model": result.test_scores["fit"],
                        "interest model": result.test_scores["interest"],
                    }.items()
                }
            ),
            out / "plots" / "gains_lift.png",
        )
        _shap_summary(result, out / "plots" / "shap_summary_full.png", config.shap_sample)
        charts.save_png(
            charts.threshold_chart(Thresholds.model_validate(result.report["thresholds"]["test"])),
            out / "plots" / "thresholds_test.png",
        )
        (out / "thresholds.json").write_text(json.dumps(result.report["thresholds"], indent=2))
        (out / "report.json").write_text(
            json.dumps({"metrics": result.metrics, **result.report, "data": fingerprint}, indent=2)
        )
        (out / "spec.yaml").write_text(
            spec_path.read_text(encoding="utf-8")
            if spec_path
            else json.dumps(result.scorer.spec.model_dump(mode="json"), indent=2)
        )
        mlflow.log_artifacts(str(out))
        bundle_dir = result.scorer.save(out / "bundle")
        # A model that reads window features scores only with the leads' events, which a
        # pyfunc input example cannot carry: it has none (MLflow would fail to score it).
        example = (
            None
            if result.scorer.spec.needs_events
            else input_example(result.scorer, result.test_frame, result.as_of)
        )
        kill_point("logging-model")
        info = log_scorer(result.scorer, bundle_dir, example)
    return run.info.run_id, str(info.model_uri)


def log_evaluation_report(
    report: dict[str, Any], run_id: str, artifact_path: str = EVALUATION_ARTIFACTS
) -> None:
    """Write the evaluation report (report.html + report.json) into a run's artifacts."""
    from training.report import write_report

    with tempfile.TemporaryDirectory() as tmp:
        write_report(report, Path(tmp))
        MlflowClient().log_artifacts(run_id, tmp, artifact_path)


def _shap_summary(result: TrainResult, path: Path, sample: int) -> None:
    scorer = result.scorer
    x = scorer.encode(result.test_frame, result.as_of)
    rng = np.random.default_rng(0)
    rows = rng.choice(len(x), size=min(len(x), sample), replace=False)
    contributions = scorer.models["full"].contributions(x[rows])[:, :-1]
    shown = x[rows].copy()
    for j, feature in enumerate(scorer.spec.features):
        if feature.type is FeatureType.categorical:
            shown[:, j] = np.nan  # codes carry no order: leave them uncoloured
    charts.save_png(
        charts.shap_summary(contributions, shown, [f.readable for f in scorer.spec.features]), path
    )


def champion_metrics(scorer: LeadScorer, result: TrainResult) -> dict[str, float]:
    """Re-score the test slice with another scorer (the current champion)."""
    scored = scorer.score(result.test_frame, decide=False, as_of=result.as_of)
    p = scored["probability"].to_numpy()
    return {
        "roc_auc": float(roc_auc_score(result.y_test, p)),
        "brier": float(brier_score_loss(result.y_test, p)),
    }


def baseline_shortfall(
    new: dict[str, float], baseline: dict[str, float] | None, config: RegistryConfig
) -> str | None:
    """How the logistic baseline trained on the same rows beats the model on the test
    slice beyond the configured margins, in one sentence (None: it does not)."""
    if not baseline:
        return None
    auc_gap = baseline["roc_auc"] - new["roc_auc"]
    brier_gap = new["brier"] - baseline["brier"]
    beaten = []
    if auc_gap > config.baseline_auc_margin:
        beaten.append(
            f"AUC by {auc_gap:.4f} ({baseline['roc_auc']:.4f} vs {new['roc_auc']:.4f}; "
            f"margin {config.baseline_auc_margin:g})"
        )
    if brier_gap > config.baseline_brier_margin:
        beaten.append(
            f"Brier by {brier_gap:.4f} ({baseline['brier']:.4f} vs {new['brier']:.4f}; "
            f"margin {config.baseline_brier_margin:g})"
        )
    if not beaten:
        return None
    return (
        "the logistic baseline trained on the same rows beats it on the test slice in "
        + " and in ".join(beaten)
    )


def decide_alias(
    new: dict[str, float],
    old: dict[str, float] | None,
    config: RegistryConfig,
    old_problem: str | None = None,
    baseline: dict[str, float] | None = None,
) -> tuple[str, str]:
    """Champion or challenger, and why, from the new model's, the current champion's and
    the logistic baseline's test metrics: champion only if the new model beats the
    champion and is not worse than the baseline beyond the margins."""
    shortfall = baseline_shortfall(new, baseline, config)
    if config.promote == "always":
        return CHAMPION, "promoted because --promote always" + (
            f", although {shortfall}" if shortfall else ""
        )
    if config.promote == "never":
        return CHALLENGER, "not promoted because --promote never"
    if old_problem is not None:
        return CHALLENGER, (
            f"the current champion could not be scored on this test slice "
            f"({old_problem}); use --promote always to replace it"
        )
    if old is None:
        if shortfall is not None:
            return CHALLENGER, f"kept as challenger: {shortfall} (--promote always overrides)"
        return CHAMPION, "first model: no champion yet"
    auc_ok = new["roc_auc"] >= old["roc_auc"]
    brier_ok = new["brier"] <= old["brier"] + config.brier_tolerance
    summary = (
        f"test AUC {new['roc_auc']:.4f} vs champion {old['roc_auc']:.4f}, "
        f"Brier {new['brier']:.4f} vs {old['brier']:.4f}"
    )
    if auc_ok and brier_ok:
        if shortfall is not None:
            return CHALLENGER, (
                f"kept as challenger: it beats the champion ({summary}), but {shortfall} "
                "(--promote always overrides)"
            )
        return CHAMPION, f"promoted: {summary}"
    why = "lower AUC" if not auc_ok else f"Brier worse by more than {config.brier_tolerance}"
    return CHALLENGER, f"kept as challenger ({why}): {summary}"


def register_and_promote(
    model_uri: str, run_id: str, result: TrainResult, config: RegistryConfig
) -> Promotion:
    """Register a new version and record the champion gate's decision, as one step.

    Under the model's promotion lock (`training.registry.promotion_lock`): the current
    champion is read and scored, the gate decides, the decision is written on the run
    (`leadscore.decision.intended`), the version is created `pending`, the alias moves,
    and the decision with its reason is written on the version and the run. A process
    that dies in between leaves a version `pending` or a run RUNNING: `leadscore
    registry check` (and the next `leadscore train`) finds and marks it.
    """
    client = MlflowClient()
    name = config.model_name
    new = {
        "roc_auc": result.metrics["test.full.roc_auc"],
        "brier": result.metrics["test.full.brier"],
    }
    baseline = {
        key: result.metrics[f"test.full_logistic.{key}"]
        for key in ("roc_auc", "brier")
        if f"test.full_logistic.{key}" in result.metrics
    }
    with promotion_lock(client, name, mlflow.get_tracking_uri()) as lock:
        # read under the lock: a process that waited here must beat the newest champion
        old, problem = current_champion(client, name, result, config)
        alias, reason = decide_alias(new, old, config, problem, baseline or None)
        client.set_tag(run_id, INTENDED_TAG, f"{alias}: {reason}")
        version = str(
            mlflow.register_model(
                model_uri, name, tags={"run_id": run_id, DECISION_TAG: PENDING}
            ).version
        )
        kill_point("after-register")
        moved = False
        try:
            lock.confirm()
            client.set_registered_model_alias(name, alias, version)
            moved = True
            kill_point("after-alias")
            record_decision(client, name, version, run_id, alias, reason)
        except (MlflowException, LeadscoreError) as error:
            if not moved:  # say why it has no alias; a moved alias is left for the check
                with contextlib.suppress(MlflowException):
                    record_decision(
                        client, name, version, run_id, REFUSED, f"refused: {first_line(error)}"
                    )
            raise
    kill_point("after-decision")
    log_alignment(result, run_id, name, version)
    return Promotion(version, alias, reason, old)


def log_alignment(result: TrainResult, run_id: str, name: str, version: str) -> None:
    """Write the marketing–sales alignment sheet of a registered version into its run's
    artifacts (`alignment.html`, beside the report.json it is rendered from).

    The model is registered and its decision written by then: a sheet that cannot be
    logged is a warning (`leadscore alignment` writes it again), never a failed training.
    """
    from features.jsonable import jsonable
    from training.alignment import ARTIFACT, SheetModel, write_alignment

    policy = result.scorer.policy
    if policy is None:
        return
    model = SheetModel(
        name=name,
        version=version,
        run_id=run_id,
        trained_at=result.scorer.metadata.get("trained_at"),
        spec=result.scorer.spec.name,
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = write_alignment(policy, jsonable(result.report), model, Path(tmp) / ARTIFACT)
            MlflowClient().log_artifact(run_id, str(path))
    except (MlflowException, OSError) as error:
        log.warning("the alignment sheet of %s version %s was not logged: %s", name, version, error)


def current_champion(
    client: MlflowClient, name: str, result: TrainResult, config: RegistryConfig
) -> tuple[dict[str, float] | None, str | None]:
    """The champion's metrics on this test slice (None: no champion, or not asked), or
    why it could not be scored."""
    if config.promote != "auto":
        return None, None
    try:
        client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None, None
    try:
        return champion_metrics(load_scorer(f"models:/{name}@{CHAMPION}"), result), None
    except LeadscoreError as error:
        return None, str(error)
