"""The evaluation in MLflow: the training run behind a model, and a report logged as a run
of its own (or into an existing run).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from features.errors import LeadscoreError
from models.mlflow_store import EVALUATION_EXPERIMENT, sqlite_database
from training.tracking import EVALUATION_ARTIFACTS, ensure_experiment

log = logging.getLogger(__name__)


def check_run(run_id: str, uri: str) -> None:
    """`--run-id` must name a live run of the tracking store (checked before any writing)."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    database = sqlite_database(uri)
    if database is not None and not database.is_file():
        # MLflow would create an empty database here: say what is missing instead.
        raise LeadscoreError(
            f"--run-id: no MLflow run {run_id!r}: there is no MLflow database at {database}"
        )
    try:
        run = MlflowClient().get_run(run_id)
    except MlflowException:
        raise LeadscoreError(f"--run-id: no MLflow run {run_id!r} in {uri}") from None
    if run.info.lifecycle_stage == "deleted":
        raise LeadscoreError(f"--run-id: MLflow run {run_id!r} is deleted")


def training_params(run_id: str | None) -> dict[str, str] | None:
    """The params of the run that trained the model (data fingerprint, split), if known."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    if not run_id:
        return None
    try:
        return dict(MlflowClient().get_run(run_id).data.params)
    except (MlflowException, OSError) as error:
        log.info("no training run %s: %s", run_id, error)
        return None


def metric_key(name: str) -> str:
    return name.replace(" ", "_")


def log_to_run(paths: dict[str, Path], run_id: str, data: dict[str, Any]) -> str:
    """The report files into an existing run, in a folder named after the evaluated time
    range (a training run's own report, `evaluation/report.*`, stays as it is)."""
    from mlflow.tracking import MlflowClient

    folder = f"{EVALUATION_ARTIFACTS}/{data['time_from']}_{data['time_to']}"
    client = MlflowClient()
    for path in paths.values():
        client.log_artifact(run_id, str(path), folder)
    return folder


def log_to_mlflow(result: dict[str, Any], paths: dict[str, Path], uri: str) -> str:
    """A new run in the evaluation experiment: the report files, comparison metrics."""
    import mlflow

    experiment_id = ensure_experiment(EVALUATION_EXPERIMENT, uri)
    model, data = result["model"], result["data"]
    name = f"{model['uri'].removeprefix('models:/')}-{data['time_from']}-{data['time_to']}"
    with mlflow.start_run(experiment_id=experiment_id, run_name=name) as run:
        mlflow.log_params(
            {
                "model.uri": model["uri"],
                "model.version": model["version"],
                "model.spec": model["spec"],
                "data.file": data["file"],
                "data.rows": data["rows"],
                "data.time_from": data["time_from"],
                "data.time_to": data["time_to"],
                "data.selection": data["selection"],
            }
        )
        metrics = {
            f"{metric_key(row['name'])}.{m}": row[m]
            for row in result["comparison"]
            for m in ("roc_auc", "pr_auc", "brier", "ece", "top_decile_lift")
            if row[m] is not None
        }
        if result["backtest"] is not None:
            for metric, stats in result["backtest"]["summary"].items():
                metrics.update(
                    {f"backtest.{metric}.{s}": v for s, v in stats.items() if v is not None}
                )
        mlflow.log_metrics(metrics)
        mlflow.set_tags(
            {"leadscore.model_uri": model["uri"], "leadscore.model_version": model["version"]}
        )
        for path in paths.values():
            mlflow.log_artifact(str(path))
        return str(run.info.run_id)
