"""Shared fixtures: seeded synthetic leads, fast training settings, a private MLflow store."""

from __future__ import annotations

import os

# LightGBM's OpenMP threads wait asleep, not spinning: on a shared, busy machine spinning
# made multi-thread trainings 3-4x slower (README "Benchmarks"). Before lightgbm's import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from features.events import EventLog, read_event_log
from features.generate import Demo, generate_demo
from features.spec import DatasetSpec, resolve_spec
from training.config import TrainConfig
from training.data import PreparedData, prepare_point_in_time

REPO = Path(__file__).resolve().parents[1]
# X Education's Leads.csv is not in the repository (see README, "Real data: X Education"):
# LEADSCORE_X_EDUCATION points at it; the sibling shared/ folder is where it lies here.
X_EDUCATION = Path(
    os.environ.get(
        "LEADSCORE_X_EDUCATION", REPO.parent / "shared" / "data" / "x-education" / "Leads.csv"
    )
)
needs_x_education = pytest.mark.skipif(
    not X_EDUCATION.is_file(),
    reason=f"X Education's Leads.csv not found at {X_EDUCATION} (set LEADSCORE_X_EDUCATION; "
    "README: Real data)",
)


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


def demo_examples(demo: Demo, spec: DatasetSpec, config: TrainConfig | None = None) -> PreparedData:
    """Point-in-time training examples of generated contacts (as CRM text) and events."""
    config = config or TrainConfig()
    return prepare_point_in_time(
        as_crm_text(demo.contacts),
        demo_log(demo, spec),
        spec,
        config.examples,
        config.min_positives,
    )


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
def small_examples(small_demo: Demo, hubspot_spec: DatasetSpec) -> PreparedData:
    """Point-in-time examples of the 4,000 contacts (at 0, 7 and 30 days after creation)."""
    return demo_examples(small_demo, hubspot_spec)


# Registry settings for tests whose small, quick models are not there to be judged: the
# champion gate's comparison with the logistic baseline is switched off (margins of 1).
NO_BASELINE_GATE = {"baseline_auc_margin": 1.0, "baseline_brier_margin": 1.0}

# The generated export is taken at the end of 2026-06-30: score it as of then.
DEMO_AS_OF = "2026-07-01T00:00:00Z"


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
            # One thread: the model is the same on any number (tests/training/test_threads.py)
            # and on models this small, on a machine other processes keep busy, LightGBM's
            # threads spend more time waiting for each other than they save.
            "booster": {
                "max_rounds": 80,
                "early_stopping_rounds": 15,
                "num_leaves": 7,
                "num_threads": 1,
            },
            "calibration_folds": 3,
            "shap_sample": 200,
            # The generated export is a snapshot whose activity includes what converted
            # leads did afterwards; these tests train on it anyway (the point-in-time path
            # and the refusal have tests of their own).
            "snapshot": {"max_share": 1.0},
            # Such small models can lose to the logistic baseline on 4,000 leads; the
            # champion gate's baseline rule has tests of its own (test_registry.py).
            "registry": NO_BASELINE_GATE,
        }
    )


@pytest.fixture
def fast_config_file(fast_config: TrainConfig, tmp_path: Path) -> Path:
    import yaml

    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(fast_config.model_dump(mode="json")))
    return path
