"""Spark fixtures: one local[2] session for the whole test session, the committed golden
scorer (tests/models/golden/bundle: a bundle folder, and registered as champion), 20,000
generated leads.

The modules that need Spark skip, naming the reason, when pyspark is not installed
(`pip install -e '.[spark]'`); tests/spark/test_engine.py needs no Spark.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from features.generate import generate_demo
from models.scorer import LeadScorer
from tests.conftest import REPO, as_crm_text

GOLDEN_BUNDLE = REPO / "tests" / "models" / "golden" / "bundle"

# Spark's Arrow batches in these tests: small, so a worker joins several into one chunk.
ARROW_BATCH = 2_500


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A local[2] session (UI off, small Arrow batches); Python workers run this venv."""
    pytest.importorskip("pyspark", reason="pyspark is not installed: pip install -e '.[spark]'")
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("leadscore-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(ARROW_BATCH))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("FATAL")  # a test's failed task is no news here
    yield session
    session.stop()


@pytest.fixture(scope="session")
def leads_20k() -> pd.DataFrame:
    """20,000 generated contacts (other than the scorer's training leads) as CRM text."""
    return as_crm_text(generate_demo(20_000, seed=11).contacts)


@pytest.fixture(scope="session")
def leads_20k_csv(leads_20k: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("spark-data") / "leads.csv"
    leads_20k.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def bundle() -> Path:
    """A scorer with a decision policy as a bundle folder (a `--model` without MLflow): the
    golden one, so that these tests train nothing."""
    return GOLDEN_BUNDLE


@pytest.fixture(scope="session")
def scorer(bundle: Path) -> LeadScorer:
    return LeadScorer.load(bundle)


@dataclass(frozen=True)
class Champion:
    tracking_uri: str
    uri: str
    version: str


@pytest.fixture(scope="session")
def champion(
    scorer: LeadScorer, bundle: Path, tmp_path_factory: pytest.TempPathFactory
) -> Champion:
    """The scorer logged as the pyfunc model and registered as lead-scorer@champion, in a
    SQLite registry of its own."""
    import mlflow
    from mlflow.tracking import MlflowClient

    from models.pyfunc import log_scorer
    from training.tracking import configure, ensure_experiment
    from training.train import input_example

    folder = tmp_path_factory.mktemp("spark-registry")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        configure(uri)
        leads = as_crm_text(generate_demo(500, seed=12).contacts)
        with mlflow.start_run(experiment_id=ensure_experiment("leadscore", uri)):
            info = log_scorer(
                scorer, bundle, input_example(scorer, leads), registered_model_name="lead-scorer"
            )
        version = str(info.registered_model_version)
        MlflowClient(uri, uri).set_registered_model_alias("lead-scorer", "champion", version)
    return Champion(uri, "models:/lead-scorer@champion", version)
