"""Shared fixtures: seeded synthetic leads, fast training settings, a private MLflow store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from features.events import EventLog, read_event_log
from features.generate import Demo, generate_demo
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


def demo_log(demo: Demo, spec: DatasetSpec) -> EventLog:
    """The generated events as the spec reads them."""
    assert spec.events is not None
    return read_event_log(demo.events, spec.events, "generated events", spec.missing_tokens)


@pytest.fixture(scope="session")
def small_demo() -> Demo:
    """4,000 generated contacts (about 600 conversions) and their event log."""
    return generate_demo(4000, seed=3)


@pytest.fixture(scope="session")
def small_leads(small_demo: Demo) -> pd.DataFrame:
    """The 4,000 generated contacts as CRM text (the export at the end of the data)."""
    return as_crm_text(small_demo.contacts)


@pytest.fixture(scope="session")
def small_events(small_demo: Demo, hubspot_spec: DatasetSpec) -> EventLog:
    return demo_log(small_demo, hubspot_spec)


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
