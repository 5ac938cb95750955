"""A model reference → the scorer it names: the one place the CLI and the service resolve
and load models.

A reference is a local bundle folder (what `LeadScorer.save` writes: bundle.json and the
booster files) or an MLflow model URI: `models:/NAME@ALIAS`, `models:/NAME/VERSION`,
`models:/NAME/latest` or `models:/NAME` (the highest version), `runs:/RUN/model`, a saved
pyfunc folder. A registry reference is pinned to its version before loading, so the
version reported is the one that scores even if the alias moves meanwhile.

Light on purpose: a bundle folder loads without importing MLflow (`leadscore score` with
a folder starts in a second); MLflow is imported only for an MLflow URI.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from features.errors import LeadscoreError, first_line
from models.mlflow_store import configure, sqlite_database

if TYPE_CHECKING:
    from models.scorer import LeadScorer

log = logging.getLogger(__name__)

BUNDLE_MANIFEST = "bundle.json"
TRAIN_HINT = "train and register one with `leadscore train`"


class ModelNotFoundError(LeadscoreError):
    """No loadable leadscore model at a reference."""


@dataclass
class Resolved:
    """Where a model reference points: the registry entry (name, version, alias, the run
    that trained it) and the URI that loads exactly that version."""

    uri: str
    name: str
    version: str | None = None
    alias: str | None = None
    run_id: str | None = None
    load_uri: str = ""
    tracking_uri: str = ""

    def where(self) -> dict[str, Any]:
        """The fields of `Resolved` alone (a subclass's own fields left out)."""
        return {f.name: getattr(self, f.name) for f in fields(Resolved)}


@dataclass
class LoadedModel(Resolved):
    """A resolved model and its scorer."""

    scorer: LeadScorer = field(kw_only=True)
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC), kw_only=True)


def parse_registry_uri(uri: str) -> tuple[str, str | None, str | None] | None:
    """`models:/NAME@ALIAS`, `models:/NAME/VERSION` or `models:/NAME` → (name, version,
    alias); else None. A bare name and `latest` mean the highest version."""
    if not uri.startswith("models:/"):
        return None
    ref = uri.removeprefix("models:/").strip("/")
    if "@" in ref:
        name, alias = ref.split("@", 1)
        return name, None, alias
    if "/" in ref:
        name, version = ref.rsplit("/", 1)
        return name, version, None
    return ref, None, None


def bundle_folder(reference: str) -> Path | None:
    """The folder, when `reference` names a saved scorer bundle on this machine."""
    path = Path(reference).expanduser()
    return path if (path / BUNDLE_MANIFEST).is_file() else None


def resolve(uri: str, tracking: str, hint: str = TRAIN_HINT) -> Resolved:
    """Point MLflow at `tracking` and find the registry entry of `uri` (without loading it).

    Returns where it points, with a `load_uri` that pins the version; raises
    `ModelNotFoundError` naming the URI (and `hint`: what to do) when there is none.
    """
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    found = Resolved(uri=uri, name=uri, load_uri=uri, tracking_uri=tracking)
    database = sqlite_database(tracking)
    if uri.startswith(("models:/", "runs:/")) and database is not None and not database.is_file():
        # MLflow would create an empty database here: say what is missing instead.
        raise not_found(found, f"there is no MLflow database at {database}", hint)
    mlflow.set_tracking_uri(tracking)
    mlflow.set_registry_uri(tracking)
    registry = parse_registry_uri(uri)
    if registry is None:
        if uri.startswith("runs:/"):
            found.run_id = uri.removeprefix("runs:/").split("/", 1)[0]
        return found
    name, version, alias = registry
    client = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
    try:
        if alias is not None:
            entry = client.get_model_version_by_alias(name, alias)
        elif version is not None and version != "latest":
            entry = client.get_model_version(name, version)
        else:
            entries = client.search_model_versions(f"name = '{name}'")
            if not entries:
                return logged_model(found, client, hint)
            entry = max(entries, key=lambda v: int(v.version))
    except MlflowException as error:
        raise not_found(found, registry_error(error, tracking), hint) from None
    found.name, found.version, found.alias = name, str(entry.version), alias
    found.run_id = entry.run_id
    found.load_uri = f"models:/{name}/{entry.version}"
    return found


def logged_model(found: Resolved, client: Any, hint: str = TRAIN_HINT) -> Resolved:
    """`models:/ID` that names no registered model: MLflow 3's logged model of that id
    (loaded by its own URI), or `ModelNotFoundError` naming both."""
    from mlflow.exceptions import MlflowException

    ref = found.uri.removeprefix("models:/").strip("/")
    try:
        found.run_id = client.get_logged_model(ref).source_run_id
    except MlflowException:
        raise not_found(
            found, f"no registered model and no logged model is called {ref!r}", hint
        ) from None
    return found


def load_version(found: Resolved, hint: str = TRAIN_HINT) -> LoadedModel:
    """Load the scorer of the version `found.load_uri` pins (MLflow pointed at its
    tracking URI); `ModelNotFoundError`, naming it, when it cannot be loaded."""
    from mlflow.exceptions import MlflowException

    from models.pyfunc import load_scorer

    try:
        scorer = load_scorer(found.load_uri)
    except (MlflowException, OSError, LeadscoreError) as error:
        raise not_found(found, first_line(error), hint) from None
    log.info("loaded %s (version %s) from %s", found.uri, found.version, found.tracking_uri)
    return LoadedModel(**found.where(), scorer=scorer)


def load_bundle(folder: Path) -> LeadScorer:
    """The scorer saved in a bundle folder; a half-copied or hand-edited one is one line."""
    from lightgbm.basic import LightGBMError

    from models.scorer import LeadScorer

    try:
        return LeadScorer.load(folder)
    except (OSError, ValueError, KeyError, TypeError, LightGBMError) as error:
        raise LeadscoreError(
            f"could not read the bundle at {folder}: {first_line(error)}"
        ) from None


def open_model(reference: str, tracking: str | None = None) -> LoadedModel:
    """The scorer a reference points at, with where it came from (version and training run
    when registered; none for a bundle folder).

    A bundle folder is read directly; anything else is an MLflow model URI, resolved
    against `tracking` (default: `MLFLOW_TRACKING_URI` or ./mlflow.db).
    """
    folder = bundle_folder(reference)
    if folder is not None:
        return LoadedModel(uri=reference, name=reference, scorer=load_bundle(folder))
    return load_version(resolve(reference, configure(tracking)))


def load_model(reference: str, tracking: str | None = None) -> tuple[LeadScorer, str]:
    """`open_model`'s scorer and registry version ("" when not registered)."""
    found = open_model(reference, tracking)
    return found.scorer, found.version or ""


def registry_error(error: Exception, tracking: str) -> str:
    """Why a registry look-up failed, in one line (an unreachable server said so)."""
    text = first_line(error)
    if tracking.startswith(("http://", "https://")) and (
        "Max retries exceeded" in text or "failed with exception" in text
    ):
        return (
            f"the MLflow tracking server at {tracking} did not answer "
            f"(MLFLOW_HTTP_REQUEST_TIMEOUT={os.environ.get('MLFLOW_HTTP_REQUEST_TIMEOUT', '120')}"
            f" s, MLFLOW_HTTP_REQUEST_MAX_RETRIES="
            f"{os.environ.get('MLFLOW_HTTP_REQUEST_MAX_RETRIES', '7')})"
        )
    return text


def not_found(found: Resolved, reason: str, hint: str = TRAIN_HINT) -> ModelNotFoundError:
    return ModelNotFoundError(
        f"no model at {found.uri} (MLflow tracking URI {found.tracking_uri}): {reason}; {hint}"
    )
