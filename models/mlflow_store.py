"""Where MLflow keeps runs and models: the tracking URI, pointing MLflow at it, and links
into its UI. Shared by training (logging, registering) and serving (resolving a model).

Kept light on purpose: importing it does not import MLflow (`import mlflow` and opening
its SQLite store cost seconds of start-up).

The embedded default needs no server: a SQLite file `mlflow.db` in the working
directory with artifacts in `mlartifacts/` beside it. `MLFLOW_TRACKING_URI`
overrides it (a remote server is a setting, not a code change).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

# The registry's names: the model `leadscore train` registers, the alias the service and
# `leadscore score` use, the alias of a registered model that was not promoted.
MODEL_NAME = "lead-scorer"
CHAMPION = "champion"
CHALLENGER = "challenger"
DEFAULT_MODEL_URI = f"models:/{MODEL_NAME}@{CHAMPION}"
# The experiments of training runs, `leadscore evaluate` and `leadscore monitor`.
TRAINING_EXPERIMENT = "leadscore"
EVALUATION_EXPERIMENT = "leadscore-evaluation"
MONITOR_EXPERIMENT = "leadscore-monitor"

# MLflow 3.17's UI shows an experiment in the view of its sidebar switch ("GenAI": traces
# and token usage, unless this browser stored "Model training"), whatever the
# experiment's kind tag says; this query parameter opens the machine-learning view.
MACHINE_LEARNING_VIEW = "workflowType=machine_learning"


def local_store_uri() -> str:
    """The embedded default: a SQLite file `mlflow.db` in the current directory."""
    return f"sqlite:///{(Path.cwd() / 'mlflow.db').resolve()}"


def tracking_uri() -> str:
    """`MLFLOW_TRACKING_URI`, or the embedded default (`local_store_uri`)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or local_store_uri()


def sqlite_database(uri: str) -> Path | None:
    """The database file of a `sqlite:///` tracking URI (also `sqlite:///file:PATH?mode=ro
    &uri=true`, SQLite's own URI form), None for any other store."""
    if not uri.startswith("sqlite:///"):
        return None
    rest = uri.removeprefix("sqlite:///")
    if rest.startswith("file:"):
        return Path(unquote(urlsplit(rest).path))
    return Path(rest.split("?", 1)[0])


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
