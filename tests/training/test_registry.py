"""MLflow logging and the registry: the pyfunc equals the bundle; the champion gate holds."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from cli.main import app
from features.spec import DatasetSpec
from features.timestamps import AsOf
from models.mlflow_store import experiment_url
from models.pyfunc import load_scorer
from tests.conftest import DEMO_AS_OF
from training.config import RegistryConfig, TrainConfig
from training.data import prepare
from training.tracking import (
    EXPERIMENT_KIND,
    EXPERIMENT_KIND_TAG,
    artifact_root,
    configure,
    decide_alias,
    ensure_experiment,
    log_training_run,
    register_and_promote,
)
from training.train import train_scorer

runner = CliRunner()


def train_cli(data: Path, config: Path, *extra: str) -> str:
    result = runner.invoke(
        app, ["train", "--data", str(data), "--spec", "hubspot", "--config", str(config), *extra]
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_pyfunc_from_registry_scores_like_the_in_memory_bundle(
    small_leads: pd.DataFrame, hubspot_spec: DatasetSpec, fast_config: TrainConfig
) -> None:
    uri = configure()
    result = train_scorer(prepare(small_leads, hubspot_spec), hubspot_spec, fast_config)
    with mlflow.start_run(experiment_id=ensure_experiment("leadscore", uri)):
        run_id, model_uri = log_training_run(result, fast_config, {"rows": 1}, None)
    promotion = register_and_promote(model_uri, run_id, result, fast_config.registry)
    assert (promotion.version, promotion.alias) == ("1", "champion")

    rows = small_leads.head(300)
    moment = AsOf.of(DEMO_AS_OF)
    expected = result.scorer.score(rows, as_of=moment)
    pyfunc = mlflow.pyfunc.load_model("models:/lead-scorer@champion")
    predicted = pyfunc.predict(rows, params={"as_of": DEMO_AS_OF}).reset_index(drop=True)
    # the pyfunc always has the output signature's reason columns: null unless explained
    reasons = ["fit_reasons", "interest_reasons"]
    assert list(predicted.columns) == [*expected.columns, *reasons]
    assert predicted[reasons].isna().all().all()
    pd.testing.assert_frame_equal(predicted.drop(columns=reasons), expected.reset_index(drop=True))
    pd.testing.assert_frame_equal(
        load_scorer("models:/lead-scorer@champion").score(rows, as_of=moment), expected
    )
    # recommendations and reasons too, through MLflow's params
    explained = result.scorer.score(rows, reasons=True, k=2, as_of=moment)
    # a lead whose margin and baseline share a flat isotonic step has no reason to give
    assert explained["fit_reasons"].str.len().gt(0).mean() > 0.9
    assert set(explained["recommended_stage"]) <= {
        "subscriber",
        "lead",
        "marketingqualifiedlead",
        "salesqualifiedlead",
        "opportunity",
        "customer",
        "other",
    }
    pd.testing.assert_frame_equal(
        pyfunc.predict(rows, params={"explain": True, "k": 2, "as_of": DEMO_AS_OF}).reset_index(
            drop=True
        ),
        explained.reset_index(drop=True),
    )

    run = mlflow.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert float(run.data.metrics["test.full.roc_auc"]) == pytest.approx(
        result.metrics["test.full.roc_auc"]
    )
    assert run.data.params["booster.num_leaves"] == "7"
    artifacts = {a.path for a in MlflowClient().list_artifacts(run_id)}
    assert {"plots", "report.json", "spec.yaml", "thresholds.json"} <= artifacts
    plots = {Path(a.path).name for a in MlflowClient().list_artifacts(run_id, "plots")}
    assert plots == {
        "reliability.png",
        "gains_lift.png",
        "shap_summary_full.png",
        "thresholds_test.png",
    }


def test_artifacts_live_beside_the_sqlite_file(
    small_leads_csv: Path, fast_config_file: Path, tmp_path: Path
) -> None:
    train_cli(small_leads_csv, fast_config_file)
    assert (tmp_path / "mlartifacts").is_dir()
    assert not (tmp_path / "mlruns").exists()
    # and MLflow 3's UI shows its runs, not an empty GenAI overview
    experiment = MlflowClient(os.environ["MLFLOW_TRACKING_URI"]).get_experiment_by_name("leadscore")
    assert experiment is not None
    assert experiment.tags[EXPERIMENT_KIND_TAG] == "custom_model_development"


def test_a_worse_model_stays_challenger_and_a_forced_one_becomes_champion(
    small_leads_csv: Path, fast_config_file: Path, tmp_path: Path
) -> None:
    first = train_cli(small_leads_csv, fast_config_file)
    assert "version 1 as champion" in first

    worse = yaml.safe_load(fast_config_file.read_text())
    worse["booster"].update({"max_rounds": 1, "num_leaves": 2})
    worse_file = tmp_path / "worse.yaml"
    worse_file.write_text(yaml.safe_dump(worse))

    second = train_cli(small_leads_csv, worse_file)
    assert "version 2 as challenger" in second
    assert "lower AUC" in " ".join(second.split())
    client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    assert str(client.get_model_version_by_alias("lead-scorer", "champion").version) == "1"
    assert str(client.get_model_version_by_alias("lead-scorer", "challenger").version) == "2"

    third = train_cli(small_leads_csv, worse_file, "--promote", "always")
    assert "version 3 as champion" in third
    assert str(client.get_model_version_by_alias("lead-scorer", "champion").version) == "3"

    # each version and its run carry the decision; each run finished after it was written
    for number, decision in (("1", "champion"), ("2", "challenger"), ("3", "champion")):
        version = client.get_model_version("lead-scorer", number)
        assert version.tags["leadscore.decision"] == decision
        assert version.tags["leadscore.promotion"]
        run = client.get_run(str(version.run_id))
        assert run.info.status == "FINISHED"
        assert run.data.tags["leadscore.decision"] == decision
        assert run.data.tags["leadscore.phase"] == "registering"
        assert float(run.data.tags["leadscore.heartbeat"]) <= run.info.end_time / 1000 + 1
    assert (
        "because --promote always"
        in client.get_model_version("lead-scorer", "3").tags["leadscore.promotion"]
    )


def test_batch_scoring_writes_ids_scores_and_the_version(
    small_leads_csv: Path, small_leads: pd.DataFrame, fast_config_file: Path, tmp_path: Path
) -> None:
    train_cli(small_leads_csv, fast_config_file)
    for suffix in ("csv", "parquet"):
        out = tmp_path / f"scores.{suffix}"
        result = runner.invoke(
            app, ["score", "--data", str(small_leads_csv), "--out", str(out), "--chunk-size", "700"]
        )
        assert result.exit_code == 0, result.output
        scores = (
            pd.read_csv(out, dtype={"hs_object_id": str})
            if suffix == "csv"
            else pd.read_parquet(out)
        )
        assert len(scores) == len(small_leads)
        assert scores["hs_object_id"].astype(str).tolist() == small_leads["hs_object_id"].tolist()
        assert set(scores["model_version"].astype(str)) == {"1"}
        expected = load_scorer("models:/lead-scorer@champion").score(small_leads)
        pd.testing.assert_series_equal(
            scores["probability"], expected["probability"], check_exact=False, rtol=1e-9
        )
        assert not out.with_name(out.name + ".partial").exists()


@pytest.mark.parametrize(
    ("new", "old", "promote", "alias"),
    [
        ({"roc_auc": 0.80, "brier": 0.10}, None, "auto", "champion"),
        ({"roc_auc": 0.80, "brier": 0.10}, {"roc_auc": 0.80, "brier": 0.10}, "auto", "champion"),
        ({"roc_auc": 0.79, "brier": 0.09}, {"roc_auc": 0.80, "brier": 0.10}, "auto", "challenger"),
        ({"roc_auc": 0.85, "brier": 0.11}, {"roc_auc": 0.80, "brier": 0.10}, "auto", "challenger"),
        ({"roc_auc": 0.85, "brier": 0.1015}, {"roc_auc": 0.80, "brier": 0.10}, "auto", "champion"),
        ({"roc_auc": 0.50, "brier": 0.30}, {"roc_auc": 0.80, "brier": 0.10}, "always", "champion"),
        ({"roc_auc": 0.90, "brier": 0.05}, None, "never", "challenger"),
    ],
)
def test_champion_gate(
    new: dict[str, float], old: dict[str, float] | None, promote: str, alias: str
) -> None:
    config = RegistryConfig(promote=promote)  # type: ignore[arg-type]
    assert decide_alias(new, old, config)[0] == alias


def test_a_champion_that_cannot_score_the_new_data_is_not_replaced_silently() -> None:
    alias, reason = decide_alias(
        {"roc_auc": 0.9, "brier": 0.05}, None, RegistryConfig(), "data is missing column(s) 'x'"
    )
    assert alias == "challenger"
    assert "--promote always" in reason


# -- the experiment, as MLflow 3's UI reads it --------------------------------------------------
def test_a_new_experiment_is_a_machine_learning_one_with_artifacts_beside_the_database(
    tmp_path: Path,
) -> None:
    uri = configure()
    experiment = mlflow.get_experiment(ensure_experiment("leadscore", uri))
    assert experiment.tags[EXPERIMENT_KIND_TAG] == EXPERIMENT_KIND == "custom_model_development"
    assert experiment.artifact_location == (tmp_path / "mlartifacts" / "leadscore").as_uri()
    assert ensure_experiment("leadscore", uri) == experiment.experiment_id


def test_an_existing_experiment_without_a_kind_gets_one_and_a_chosen_kind_stays() -> None:
    uri = configure()
    client = MlflowClient()
    old = client.create_experiment("made-by-an-older-leadscore")
    assert EXPERIMENT_KIND_TAG not in client.get_experiment(old).tags
    assert ensure_experiment("made-by-an-older-leadscore", uri) == old
    assert client.get_experiment(old).tags[EXPERIMENT_KIND_TAG] == "custom_model_development"

    chosen = client.create_experiment("chosen-in-the-ui", tags={EXPERIMENT_KIND_TAG: "finetuning"})
    assert ensure_experiment("chosen-in-the-ui", uri) == chosen
    assert client.get_experiment(chosen).tags[EXPERIMENT_KIND_TAG] == "finetuning"


@pytest.mark.parametrize(
    ("uri", "root"),
    [
        ("sqlite:////data/mlflow/mlflow.db", "file:///data/mlflow/mlartifacts"),
        ("http://127.0.0.1:5000", None),
        ("https://mlflow.example.com", None),
        ("databricks", None),
    ],
)
def test_artifacts_go_beside_a_sqlite_file_and_wherever_a_server_keeps_them(
    uri: str, root: str | None
) -> None:
    assert artifact_root(uri) == root


def test_experiment_urls_open_the_machine_learning_view() -> None:
    assert (
        experiment_url("http://127.0.0.1:5000/", "3")
        == "http://127.0.0.1:5000/#/experiments/3?workflowType=machine_learning"
    )
    assert experiment_url("http://h:1", "3", "abc", "evaluation/report.html") == (
        "http://h:1/#/experiments/3/runs/abc/artifacts/evaluation/report.html"
        "?workflowType=machine_learning"
    )


@pytest.mark.parametrize(
    ("new", "old", "promote", "alias", "said"),
    [
        # first model, beaten by the baseline beyond the AUC margin: no champion at all
        ({"roc_auc": 0.75, "brier": 0.10}, None, "auto", "challenger", "AUC by 0.0500"),
        # beats the champion, but the baseline beats it in Brier beyond the margin
        (
            {"roc_auc": 0.82, "brier": 0.105},
            {"roc_auc": 0.79, "brier": 0.11},
            "auto",
            "challenger",
            "Brier by 0.0050",
        ),
        # within the margins: promoted as before
        ({"roc_auc": 0.797, "brier": 0.1015}, None, "auto", "champion", "first model"),
        # forced: champion, and the reason says what it overrode
        ({"roc_auc": 0.70, "brier": 0.12}, None, "always", "champion", "although the logistic"),
    ],
)
def test_a_model_the_logistic_baseline_beats_is_never_made_champion(
    new: dict[str, float], old: dict[str, float] | None, promote: str, alias: str, said: str
) -> None:
    baseline = {"roc_auc": 0.80, "brier": 0.10}
    config = RegistryConfig(promote=promote)  # type: ignore[arg-type]
    got, reason = decide_alias(new, old, config, None, baseline)
    assert got == alias
    assert said in reason
    if alias == "challenger":
        assert "logistic baseline trained on the same rows beats it" in reason
        assert "--promote always overrides" in reason


def test_a_training_that_loses_to_its_baseline_registers_a_challenger(
    small_leads: pd.DataFrame, hubspot_spec: DatasetSpec, fast_config: TrainConfig
) -> None:
    """Forced: the same training with its test AUC lowered below the logistic baseline's."""
    uri = configure()
    result = train_scorer(prepare(small_leads, hubspot_spec), hubspot_spec, fast_config)
    result.metrics["test.full.roc_auc"] = result.metrics["test.full_logistic.roc_auc"] - 0.02
    with mlflow.start_run(experiment_id=ensure_experiment("leadscore", uri)):
        run_id, model_uri = log_training_run(result, fast_config, {"rows": 1}, None)
    # the default gate (the fast config switches its baseline rule off)
    promotion = register_and_promote(model_uri, run_id, result, RegistryConfig())
    assert promotion.alias == "challenger"
    assert "logistic baseline" in promotion.reason and "AUC by 0.0200" in promotion.reason
    client = MlflowClient()
    with pytest.raises(MlflowException):
        client.get_model_version_by_alias("lead-scorer", "champion")
    assert client.get_model_version("lead-scorer", "1").tags["leadscore.decision"] == "challenger"
