"""Finding and loading the served model: registry alias → pinned version → scorer bundle.

An alias (`models:/lead-scorer@champion`) is resolved to its version once, and that
exact version is loaded, so the version the service reports is the one that scores
even if the alias moves while the service starts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from features.errors import LeadscoreError, first_line
from serving.settings import ServingSettings

log = logging.getLogger(__name__)


class ModelNotFoundError(LeadscoreError):
    """No loadable leadscore model at the configured URI."""


@dataclass
class LoadedModel:
    """The scorer and where it came from."""

    scorer: Any  # models.scorer.LeadScorer (kept loose: serving codes against its methods)
    uri: str
    name: str
    version: str | None = None
    alias: str | None = None
    run_id: str | None = None
    load_uri: str = ""
    tracking_uri: str = ""
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def parse_registry_uri(uri: str) -> tuple[str, str | None, str | None] | None:
    """`models:/NAME@ALIAS` or `models:/NAME/VERSION` → (name, version, alias); else None."""
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


def resolve_model(settings: ServingSettings) -> LoadedModel:
    """Point MLflow at the tracking URI and find the registry entry (without loading it).

    Returns a `LoadedModel` without scorer whose `load_uri` pins the version; raises
    `ModelNotFoundError` naming the URI when the registry has no such model.
    """
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    uri = settings.model_uri
    tracking = settings.tracking_uri()
    found = LoadedModel(scorer=None, uri=uri, name=uri, load_uri=uri, tracking_uri=tracking)
    database = Path(tracking.removeprefix("sqlite:///"))
    if tracking.startswith("sqlite:///") and not database.is_file():
        # MLflow would create an empty database here: say what is missing instead.
        raise not_found(found, f"there is no MLflow database at {database}")
    mlflow.set_tracking_uri(tracking)
    mlflow.set_registry_uri(tracking)
    registry = parse_registry_uri(uri)
    if registry is None:
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
                raise not_found(found, f"registered model {name!r} has no versions")
            entry = max(entries, key=lambda v: int(v.version))
    except MlflowException as error:
        raise not_found(found, first_line(error)) from None
    found.name, found.version, found.alias = name, str(entry.version), alias
    found.run_id = entry.run_id
    found.load_uri = f"models:/{name}/{entry.version}"
    return found


def load_model(settings: ServingSettings) -> LoadedModel:
    """Resolve and load the configured model; `ModelNotFoundError` (naming it) if absent."""
    from mlflow.exceptions import MlflowException

    from models.pyfunc import load_scorer

    found = resolve_model(settings)
    try:
        found.scorer = load_scorer(found.load_uri)
    except (MlflowException, OSError, LeadscoreError) as error:
        raise not_found(found, first_line(error)) from None
    found.loaded_at = datetime.now(UTC)
    log.info("loaded %s (version %s) from %s", found.uri, found.version, found.tracking_uri)
    return found


def not_found(found: LoadedModel, reason: str) -> ModelNotFoundError:
    return ModelNotFoundError(
        f"no leadscore model at {found.uri} (MLflow tracking URI {found.tracking_uri}): "
        f"{reason}. Train and register one with `leadscore train`, or point "
        "LEADSCORE_MODEL_URI / MLFLOW_TRACKING_URI at an existing one."
    )
