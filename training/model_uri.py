"""Where MLflow runs go, and the scorer a model reference points at.

A model reference is a local bundle folder (what `LeadScorer.save` writes: bundle.json
and the booster files) or an MLflow model URI (`models:/NAME@ALIAS`, `models:/NAME/3`,
`runs:/RUN/model`, a saved pyfunc folder). Kept light on purpose: `leadscore score` and
`explain` import this module, and a bundle folder loads without importing MLflow
(`import mlflow` and opening its SQLite store cost seconds of start-up).

The embedded default needs no server: a SQLite file `mlflow.db` in the working
directory with artifacts in `mlartifacts/` beside it. `MLFLOW_TRACKING_URI`
overrides it (a remote server is a setting, not a code change).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from features.errors import LeadscoreError, first_line

if TYPE_CHECKING:
    from models.scorer import LeadScorer

BUNDLE_MANIFEST = "bundle.json"
NOT_FOUND_HINT = "train one with `leadscore train`"
# MLflow 3.17's UI shows an experiment in the view of its sidebar switch ("GenAI": traces
# and token usage, unless this browser stored "Model training"), whatever the
# experiment's kind tag says; this query parameter opens the machine-learning view.
MACHINE_LEARNING_VIEW = "workflowType=machine_learning"


def tracking_uri() -> str:
    """`MLFLOW_TRACKING_URI`, or a SQLite file in the current directory."""
    return os.environ.get("MLFLOW_TRACKING_URI") or (
        f"sqlite:///{(Path.cwd() / 'mlflow.db').resolve()}"
    )


def configure(uri: str | None = None) -> str:
    """Point MLflow at `uri` (default: `tracking_uri()`); call from entry points only."""
    import mlflow

    uri = uri or tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def experiment_url(
    ui: str, experiment_id: str, run_id: str | None = None, artifact: str | None = None
) -> str:
    """The MLflow UI page (at `ui`, e.g. http://127.0.0.1:5000) of an experiment's runs,
    of one run, or of one of its artifacts, in the machine-learning view."""
    page = f"#/experiments/{experiment_id}"
    if run_id:
        page += f"/runs/{run_id}" + (f"/artifacts/{artifact}" if artifact else "")
    return f"{ui.rstrip('/')}/{page}?{MACHINE_LEARNING_VIEW}"


def bundle_folder(reference: str) -> Path | None:
    """The folder, when `reference` names a saved scorer bundle on this machine."""
    path = Path(reference).expanduser()
    return path if (path / BUNDLE_MANIFEST).is_file() else None


def load_model(reference: str, tracking: str | None = None) -> tuple[LeadScorer, str]:
    """The scorer a reference points at and its registry version ("" when not registered).

    A bundle folder is read directly; anything else is an MLflow model URI, resolved
    against `tracking` (default: `tracking_uri()`).
    """
    folder = bundle_folder(reference)
    if folder is not None:
        return load_bundle(folder), ""
    return load_mlflow_model(reference, tracking or tracking_uri())


def load_bundle(folder: Path) -> LeadScorer:
    from lightgbm.basic import LightGBMError

    from models.scorer import LeadScorer

    try:
        return LeadScorer.load(folder)
    except (OSError, ValueError, KeyError, TypeError, LightGBMError) as error:
        # a half-copied or hand-edited bundle: name the folder, not a traceback
        raise LeadscoreError(
            f"could not read the bundle at {folder}: {first_line(error)}"
        ) from None


def load_mlflow_model(uri: str, tracking: str) -> tuple[LeadScorer, str]:
    """Load through MLflow; an alias is pinned to its version first, so the version
    printed is the one that scored even if the alias moves meanwhile."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from models.pyfunc import load_scorer

    if uri.startswith(("models:/", "runs:/")) and tracking.startswith("sqlite:///"):
        database = Path(tracking.removeprefix("sqlite:///"))
        if not database.is_file():
            # MLflow would create an empty database here: say what is missing instead.
            raise LeadscoreError(
                f"no model at {uri}: there is no MLflow database at {database} ({NOT_FOUND_HINT})"
            )
    configure(tracking)
    version = ""
    load_uri = uri
    try:
        if uri.startswith("models:/"):
            ref = uri.removeprefix("models:/")
            if "@" in ref:
                name, alias = ref.split("@", 1)
                version = str(MlflowClient().get_model_version_by_alias(name, alias).version)
                load_uri = f"models:/{name}/{version}"
            elif "/" in ref:
                version = ref.split("/", 1)[1]
        scorer = load_scorer(load_uri)
    except (MlflowException, OSError) as error:
        raise LeadscoreError(f"no model at {uri}: {first_line(error)} ({NOT_FOUND_HINT})") from None
    return scorer, version
