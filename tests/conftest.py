"""Shared fixtures: seeded synthetic leads, fast training settings, a private MLflow store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from features.generate import generate_leads
from features.spec import DatasetSpec, resolve_spec
from training.config import TrainConfig

REPO = Path(__file__).resolve().parents[1]
X_EDUCATION = REPO.parent / "shared" / "data" / "x-education" / "Leads.csv"


def as_crm_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every value as a string, empty for missing: what a CSV export or HubSpot sends."""
    return frame.astype(object).where(frame.notna(), "").astype(str)


@pytest.fixture(autouse=True)
def _isolated_mlflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test gets its own SQLite tracking database and working directory."""
    monkeypatch.setenv("BENTOML_DO_NOT_TRACK", "true")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    yield tmp_path


@pytest.fixture(scope="session")
def hubspot_spec() -> DatasetSpec:
    return resolve_spec("hubspot")


@pytest.fixture(scope="session")
def small_leads() -> pd.DataFrame:
    """4,000 generated leads as CRM text (about 570 conversions)."""
    return as_crm_text(generate_leads(4000, seed=3))


@pytest.fixture(scope="session")
def small_leads_csv(small_leads: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "leads.csv"
    small_leads.to_csv(path, index=False)
    return path


@pytest.fixture
def fast_config() -> TrainConfig:
    """Small, quick models: enough to test behaviour, not to judge accuracy."""
    return TrainConfig.model_validate(
        {
            "booster": {"max_rounds": 80, "early_stopping_rounds": 15, "num_leaves": 7},
            "calibration_folds": 3,
            "shap_sample": 200,
        }
    )


@pytest.fixture
def fast_config_file(fast_config: TrainConfig, tmp_path: Path) -> Path:
    import yaml

    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(fast_config.model_dump(mode="json")))
    return path
