"""Training fixtures: one small scorer, trained once per session and shared by the modules."""

from __future__ import annotations

import pandas as pd
import pytest

from features.generate import Demo, generate_demo
from features.spec import DatasetSpec, resolve_spec
from models.scorer import LeadScorer
from tests.conftest import as_crm_text, demo_examples
from training.config import TrainConfig
from training.data import PreparedData
from training.train import train_scorer

FAST = {
    # one thread: the same model as on any number (test_threads.py), and faster for models
    # this small on a machine other processes keep busy
    "booster": {"max_rounds": 80, "early_stopping_rounds": 15, "num_leaves": 7, "num_threads": 1},
    "calibration_folds": 3,
}


@pytest.fixture(scope="session")
def spec() -> DatasetSpec:
    return resolve_spec("hubspot")


@pytest.fixture(scope="session")
def config() -> TrainConfig:
    return TrainConfig.model_validate(FAST)


@pytest.fixture(scope="session")
def demo() -> Demo:
    """6,000 generated contacts and their events."""
    return generate_demo(6000, seed=5)


@pytest.fixture(scope="session")
def leads(demo: Demo) -> pd.DataFrame:
    """The 6,000 generated contacts as CRM text."""
    return as_crm_text(demo.contacts)


@pytest.fixture(scope="session")
def prepared(demo: Demo, spec: DatasetSpec) -> PreparedData:
    """Point-in-time examples of the 6,000 contacts."""
    return demo_examples(demo, spec)


@pytest.fixture(scope="session")
def scorer(prepared: PreparedData, spec: DatasetSpec, config: TrainConfig) -> LeadScorer:
    return train_scorer(prepared, spec, config).scorer
