"""LightGBM's thread count: all cores by default, and the same model whatever the count."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from cli.main import app
from features.spec import DatasetSpec
from tests.training.conftest import FAST
from training.config import TrainConfig
from training.data import PreparedData
from training.train import TrainResult, booster_params, train_scorer

runner = CliRunner()


def trees_of(result: TrainResult) -> dict[str, str]:
    """Each booster's trees as LightGBM writes them, without the parameters section
    (which records num_threads itself)."""
    return {
        name: model.booster.model_to_string().split("\nparameters:\n")[0]
        for name, model in result.scorer.models.items()
    }


def with_threads(threads: int) -> TrainConfig:
    return TrainConfig.model_validate(
        {**FAST, "booster": {**FAST["booster"], "num_threads": threads}}
    )


def test_the_default_is_every_core(spec: DatasetSpec) -> None:
    config = TrainConfig()
    assert config.booster.num_threads == 0
    assert booster_params(config.booster, spec.features, config.seed)["num_threads"] == 0


@pytest.fixture(scope="module")
def one_thread(prepared: PreparedData, spec: DatasetSpec) -> TrainResult:
    return train_scorer(prepared, spec, with_threads(1))


@pytest.mark.parametrize("threads", [2, 0])
def test_the_model_does_not_depend_on_the_thread_count(
    one_thread: TrainResult, prepared: PreparedData, spec: DatasetSpec, threads: int
) -> None:
    other = train_scorer(prepared, spec, with_threads(threads))
    assert trees_of(other) == trees_of(one_thread)
    for name, model in other.scorer.models.items():
        calibrator = one_thread.scorer.models[name].calibrator
        assert model.calibrator.method == calibrator.method
        np.testing.assert_array_equal(model.calibrator.x_, calibrator.x_)
        np.testing.assert_array_equal(model.calibrator.y_, calibrator.y_)
    assert other.metrics == one_thread.metrics
    # the drift report's adversarial model runs on the same threads
    assert other.report["drift"]["adversarial"] == one_thread.report["drift"]["adversarial"]
    assert other.report["drift"]["adversarial"]["auc"] is not None


def test_the_model_string_records_the_threads_it_was_trained_with(
    one_thread: TrainResult,
) -> None:
    # What tells the runs apart above is only this parameter line, not a tree.
    text = one_thread.scorer.models["full"].booster.model_to_string()
    assert "[num_threads: 1]" in text.split("\nparameters:\n")[1]


def test_train_threads_option_overrides_the_config(
    small_leads_csv: Path, fast_config_file: Path, tmp_path: Path
) -> None:
    settings = yaml.safe_load(fast_config_file.read_text())
    settings["booster"]["num_threads"] = 2
    config = tmp_path / "two-threads.yaml"
    config.write_text(yaml.safe_dump(settings))
    result = runner.invoke(
        app, ["train", "--data", str(small_leads_csv), "--config", str(config), "--threads", "1"]
    )
    assert result.exit_code == 0, result.output
    runs = MlflowClient().search_runs(
        [e.experiment_id for e in MlflowClient().search_experiments()]
    )
    assert [run.data.params["booster.num_threads"] for run in runs] == ["1"]


def test_train_refuses_a_negative_thread_count(small_leads_csv: Path) -> None:
    result = runner.invoke(app, ["train", "--data", str(small_leads_csv), "--threads", "-1"])
    assert result.exit_code == 2
    assert "--threads" in result.output
