"""Training fixtures: one small scorer, trained once per session and shared by the modules."""

from __future__ import annotations

import pandas as pd
import pytest

from features.generate import generate_leads
from features.spec import DatasetSpec, resolve_spec
from models.scorer import LeadScorer
from tests.conftest import as_crm_text
from training.config import TrainConfig
from training.data import PreparedData, prepare
from training.train import train_scorer

FAST = {
    "booster": {"max_rounds": 80, "early_stopping_rounds": 15, "num_leaves": 7},
    "calibration_folds": 3,
}


@pytest.fixture(scope="session")
def spec() -> DatasetSpec:
    return resolve_spec("hubspot")


@pytest.fixture(scope="session")
def config() -> TrainConfig:
    return TrainConfig.model_validate(FAST)


@pytest.fixture(scope="session")
def leads() -> pd.DataFrame:
    """6,000 generated leads as CRM text."""
    return as_crm_text(generate_leads(6000, seed=5))


@pytest.fixture(scope="session")
def prepared(leads: pd.DataFrame, spec: DatasetSpec) -> PreparedData:
    return prepare(leads, spec)


@pytest.fixture(scope="session")
def scorer(prepared: PreparedData, spec: DatasetSpec, config: TrainConfig) -> LeadScorer:
    return train_scorer(prepared, spec, config).scorer
