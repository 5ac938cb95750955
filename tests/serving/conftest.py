"""Serving fixtures: one small model trained into a private registry, shared by the session.

Training and registering take a few seconds, so the registry is built once per test
session. The repository's `fast_config` fixture is per test, so `FAST_TRAINING` repeats
it, plus a small requirements catalogue so that every recommendation rule can fire.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

with warnings.catch_warnings():  # starlette asks for httpx2, which is not installed
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from features.events import EventLog
from features.spec import DatasetSpec
from tests.conftest import NO_BASELINE_GATE
from tests.serving.support import Registry
from training.config import TrainConfig

FAST_TRAINING: dict[str, Any] = {
    "booster": {"max_rounds": 80, "early_stopping_rounds": 15, "num_leaves": 7},
    "calibration_folds": 3,
    "shap_sample": 200,
    # a small model may lose to the logistic baseline: served all the same (gate tested apart)
    "registry": NO_BASELINE_GATE,
    "decision": {
        "catalogue": {
            "requirements": [
                {
                    "name": "company of 5+ employees",
                    "column": "numemployees",
                    "min": 5,
                    "allow_missing": True,
                }
            ],
            "exclusions": [
                {
                    "name": "competitor domain",
                    "column": "hs_email_domain",
                    "in": ["example-competitor.com"],
                }
            ],
            "hand_raise": [
                {
                    "column": "recent_conversion_event_name",
                    "event_kinds": ["demo request", "contact sales"],
                }
            ],
        },
    },
}


@pytest.fixture(scope="session")
def registry(
    small_leads: pd.DataFrame,
    small_events: EventLog,
    hubspot_spec: DatasetSpec,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Registry]:
    """`lead-scorer` version 1, alias champion, in a SQLite registry of its own: trained
    point-in-time (contacts + event log), the honest way (a snapshot export is refused)."""
    import mlflow

    from training.data import prepare_point_in_time
    from training.tracking import (
        configure,
        ensure_experiment,
        log_training_run,
        register_and_promote,
    )
    from training.train import train_scorer

    folder = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    config = TrainConfig.model_validate(FAST_TRAINING)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        configure(uri)
        prepared = prepare_point_in_time(
            small_leads, small_events, hubspot_spec, config.examples, config.min_positives
        )
        result = train_scorer(prepared, hubspot_spec, config)
        with mlflow.start_run(experiment_id=ensure_experiment("leadscore", uri)):
            run_id, model_uri = log_training_run(result, config, {"rows": len(small_leads)}, None)
        promotion = register_and_promote(model_uri, run_id, result, config.registry)
    assert promotion.alias == "champion"
    yield Registry(uri, folder, result, promotion.version)


@pytest.fixture(scope="session")
def client(registry: Registry) -> Iterator[TestClient]:
    """The service in-process (`TestClient(LeadScoring.to_asgi())`) serving the champion;
    one per session (BentoML's Prometheus metrics register once per process)."""
    from serving.service import LeadScoring

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", registry.tracking_uri)
        for name in (
            "LEADSCORE_API_TOKEN",
            "LEADSCORE_MODEL_URI",
            "LEADSCORE_MAX_BATCH_SIZE",
            "LEADSCORE_MLFLOW_TRACKING_URI",
        ):
            patch.delenv(name, raising=False)
        with TestClient(LeadScoring.to_asgi(), raise_server_exceptions=False) as test_client:
            yield test_client
