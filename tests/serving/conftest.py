"""Serving fixtures: one small model trained into a private registry, shared by the session.

Training and registering take a few seconds, so the registry is built once per test
session. The repository's `fast_config` fixture is per test, so `FAST_TRAINING` repeats
it, plus a small requirements catalogue so that every recommendation rule can fire.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

from features.spec import DatasetSpec
from tests.serving.support import Registry
from training.config import TrainConfig

FAST_TRAINING: dict[str, Any] = {
    "booster": {"max_rounds": 80, "early_stopping_rounds": 15, "num_leaves": 7},
    "calibration_folds": 3,
    "shap_sample": 200,
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
            "hand_raise": [{"column": "demo_requested"}],
        },
    },
}


@pytest.fixture(scope="session")
def registry(
    small_leads: pd.DataFrame, hubspot_spec: DatasetSpec, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Registry]:
    """`lead-scorer` version 1, alias champion, in a SQLite registry of its own."""
    import mlflow

    from training.data import prepare
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
        result = train_scorer(prepare(small_leads, hubspot_spec), hubspot_spec, config)
        with mlflow.start_run(experiment_id=ensure_experiment("leadscore", uri)):
            run_id, model_uri = log_training_run(result, config, {"rows": len(small_leads)}, None)
        promotion = register_and_promote(model_uri, run_id, result, config.registry)
    assert promotion.alias == "champion"
    yield Registry(uri, folder, result, promotion.version)
