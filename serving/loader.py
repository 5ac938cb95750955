"""Finding and loading the served model: registry alias → pinned version → scorer bundle.

An alias (`models:/lead-scorer@champion`) is resolved to its version once, and that
exact version is loaded, so the version the service reports is the one that scores
even if the alias moves while the service starts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from features.errors import LeadscoreError
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


def load_model(settings: ServingSettings) -> LoadedModel:
    """Point MLflow at the configured tracking URI and load the model; clear error if absent."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from models.pyfunc import load_scorer

    uri = settings.model_uri
    tracking = settings.tracking_uri()
    mlflow.set_tracking_uri(tracking)
    mlflow.set_registry_uri(tracking)

    def missing(reason: str) -> ModelNotFoundError:
        return ModelNotFoundError(
            f"no leadscore model at {uri} (MLflow tracking URI {tracking}): {reason}. "
            "Train and register one with `leadscore train`, or point LEADSCORE_MODEL_URI / "
            "MLFLOW_TRACKING_URI at an existing one.")

    loaded = LoadedModel(scorer=None, uri=uri, name=uri, tracking_uri=tracking)
    load_uri = uri
    registry = parse_registry_uri(uri)
    try:
        if registry is not None:
            name, version, alias = registry
            client = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
            if alias is not None:
                entry = client.get_model_version_by_alias(name, alias)
            elif version is not None and version != "latest":
                entry = client.get_model_version(name, version)
            else:
                entries = client.search_model_versions(f"name = '{name}'")
                if not entries:
                    raise missing(f"registered model {name!r} has no versions")
                entry = max(entries, key=lambda v: int(v.version))
            loaded.name, loaded.version, loaded.alias = name, str(entry.version), alias
            loaded.run_id = entry.run_id
            load_uri = f"models:/{name}/{entry.version}"
        loaded.scorer = load_scorer(load_uri)
    except ModelNotFoundError:
        raise
    except (MlflowException, OSError, LeadscoreError) as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise missing(first_line) from None
    log.info("loaded %s (version %s) from %s", uri, loaded.version, tracking)
    return loaded
