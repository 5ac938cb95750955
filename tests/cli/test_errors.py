"""Every user mistake in `leadscore train` / `score`: exit code 2, one line naming it, no trace.

A refused training must leave MLflow untouched: no run, no registered model.
"""

from __future__ import annotations

import copy
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner, Result

from cli.main import app
from features.spec import builtin_spec_path

runner = CliRunner()

_HUBSPOT = yaml.safe_load(builtin_spec_path("hubspot").read_text(encoding="utf-8"))

# Builds the files of one bad input in a folder; returns the extra `train` arguments.
Setup = Callable[[Path, pd.DataFrame], list[str]]


def invoke(*args: str | Path) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def assert_user_error(result: Result, *names: str) -> None:
    """Exit code 2 from the CLI's own handler: one message naming each of `names`."""
    output = result.output
    assert result.exit_code == 2, output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Usage:" not in output  # exit code 2 is also click's for a bad option
    assert "Traceback" not in output
    # the message is the last thing printed; spec and config mistakes list one key a line
    assert output.count("error: ") == 1, output
    assert output.startswith("error: ") or "\nerror: " in output, output
    message = output[output.index("error: ") :]
    for name in names:
        assert name in message, f"{name!r} not in {message!r}"


@pytest.fixture(scope="session")
def empty_store_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, fully migrated MLflow database (creating one costs seconds; copying does not)."""
    path = tmp_path_factory.mktemp("store") / "mlflow.db"
    uri = f"sqlite:///{path}"
    MlflowClient(tracking_uri=uri, registry_uri=uri).search_experiments()
    return path


@pytest.fixture
def empty_store(empty_store_template: Path) -> Path:
    """This test's tracking database exists and holds nothing, like a fresh `mlflow.db`."""
    path = Path(os.environ["MLFLOW_TRACKING_URI"].removeprefix("sqlite:///"))
    shutil.copyfile(empty_store_template, path)
    return path


def assert_nothing_logged() -> None:
    uri = os.environ["MLFLOW_TRACKING_URI"]
    mlflow.set_tracking_uri(uri)
    assert mlflow.get_experiment_by_name("leadscore") is None
    assert len(mlflow.search_runs(search_all_experiments=True)) == 0
    assert MlflowClient(tracking_uri=uri, registry_uri=uri).search_registered_models() == []


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def write_spec(folder: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """The HubSpot spec with an edit, as a YAML file."""
    spec = copy.deepcopy(_HUBSPOT)
    edit(spec)
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def label_from_converted(spec: dict[str, Any]) -> None:
    """An X-Education-like label: a 0/1 column rather than a stage date."""
    spec["label"] = {"column": "converted"}
    spec["leaky_columns"].remove("converted")


def with_leaky_notes(leads: pd.DataFrame, folder: Path) -> tuple[Path, Path]:
    """Leads with `sales_notes_count` (filled in after conversion), and a spec that uses it."""
    noise = np.random.default_rng(0).integers(0, 3, len(leads))
    data = write_csv(
        leads.assign(sales_notes_count=(leads["converted"].astype(int) * 5 + noise).astype(str)),
        folder / "leads.csv",
    )
    spec = write_spec(
        folder, lambda s: s["interest"].append({"name": "sales_notes_count", "type": "numeric"})
    )
    return data, spec


# -- train: bad inputs ----------------------------------------------------------------------


def missing_data_file(folder: Path, leads: pd.DataFrame) -> list[str]:
    return ["--data", str(folder / "leads.csv")]


def missing_data_file_with_brackets(folder: Path, leads: pd.DataFrame) -> list[str]:
    return ["--data", str(folder / "[archive]" / "leads.csv")]


def xlsx_file(folder: Path, leads: pd.DataFrame) -> list[str]:
    path = folder / "leads.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a workbook")
    return ["--data", str(path)]


def empty_file(folder: Path, leads: pd.DataFrame) -> list[str]:
    path = folder / "leads.csv"
    path.touch()
    return ["--data", str(path)]


def header_only(folder: Path, leads: pd.DataFrame) -> list[str]:
    return ["--data", str(write_csv(leads.head(0), folder / "leads.csv"))]


def spec_column_missing(folder: Path, leads: pd.DataFrame) -> list[str]:
    return ["--data", str(write_csv(leads.drop(columns=["industry"]), folder / "leads.csv"))]


def label_not_binary(folder: Path, leads: pd.DataFrame) -> list[str]:
    data = leads.copy()
    data.loc[5, "converted"] = "maybe"
    return [
        "--data",
        str(write_csv(data, folder / "leads.csv")),
        "--spec",
        str(write_spec(folder, label_from_converted)),
    ]


def few_positives(folder: Path, leads: pd.DataFrame) -> list[str]:
    converted = leads["converted"] == "1"
    # the oldest positives: their 90-day label window is closed, so all 20 count
    oldest = leads[converted].sort_values("createdate").head(20)
    data = pd.concat([leads[~converted], oldest])
    return ["--data", str(write_csv(data, folder / "leads.csv"))]


def single_class(folder: Path, leads: pd.DataFrame) -> list[str]:
    data = leads[leads["converted"] == "0"]
    return ["--data", str(write_csv(data, folder / "leads.csv"))]


def feature_all_blank(folder: Path, leads: pd.DataFrame) -> list[str]:
    data = leads.assign(annualrevenue="")
    return ["--data", str(write_csv(data, folder / "leads.csv"))]


def unparseable_dates(folder: Path, leads: pd.DataFrame) -> list[str]:
    data = leads.copy()
    data.loc[[10, 20, 30], "createdate"] = "not a date"
    return ["--data", str(write_csv(data, folder / "leads.csv"))]


def unreadable_number(folder: Path, leads: pd.DataFrame) -> list[str]:
    data = leads.copy()
    data.loc[7, "hs_analytics_num_visits"] = "lots"
    return ["--data", str(write_csv(data, folder / "leads.csv"))]


def denylisted_feature(folder: Path, leads: pd.DataFrame) -> list[str]:
    spec = write_spec(
        folder, lambda s: s["interest"].append({"name": "lifecyclestage", "type": "categorical"})
    )
    return ["--data", str(write_csv(leads, folder / "leads.csv")), "--spec", str(spec)]


def leaky_feature(folder: Path, leads: pd.DataFrame) -> list[str]:
    data, spec = with_leaky_notes(leads, folder)
    return ["--data", str(data), "--spec", str(spec)]


def spec_not_found(folder: Path, leads: pd.DataFrame) -> list[str]:
    return [
        "--data",
        str(write_csv(leads, folder / "leads.csv")),
        "--spec",
        str(folder / "mycrm.yaml"),
    ]


def unknown_builtin_spec(folder: Path, leads: pd.DataFrame) -> list[str]:
    return ["--data", str(write_csv(leads, folder / "leads.csv")), "--spec", "salesforce"]


def spec_invalid_yaml(folder: Path, leads: pd.DataFrame) -> list[str]:
    path = folder / "mycrm.yaml"
    path.write_text("name: [unclosed\n")
    return ["--data", str(write_csv(leads, folder / "leads.csv")), "--spec", str(path)]


def config_unknown_key(folder: Path, leads: pd.DataFrame) -> list[str]:
    path = folder / "settings.yaml"
    path.write_text(yaml.safe_dump({"boster": {"num_leaves": 7}}))
    return ["--data", str(write_csv(leads, folder / "leads.csv")), "--config", str(path)]


def config_bad_nested_value(folder: Path, leads: pd.DataFrame) -> list[str]:
    path = folder / "settings.yaml"
    path.write_text(yaml.safe_dump({"booster": {"num_leaves": 1}}))
    return ["--data", str(write_csv(leads, folder / "leads.csv")), "--config", str(path)]


def config_not_found(folder: Path, leads: pd.DataFrame) -> list[str]:
    return [
        "--data",
        str(write_csv(leads, folder / "leads.csv")),
        "--config",
        str(folder / "settings.yaml"),
    ]


def promote_sometimes(folder: Path, leads: pd.DataFrame) -> list[str]:
    return ["--data", str(write_csv(leads, folder / "leads.csv")), "--promote", "sometimes"]


@pytest.mark.parametrize(
    ("setup", "names"),
    [
        pytest.param(missing_data_file, ["data file not found", "leads.csv"], id="data-not-found"),
        pytest.param(
            missing_data_file_with_brackets,
            ["data file not found", "[archive]/leads.csv"],
            id="data-not-found-brackets-in-path",
        ),
        pytest.param(xlsx_file, ["unsupported data format", "leads.xlsx", ".csv"], id="xlsx"),
        pytest.param(empty_file, ["leads.csv", "is empty"], id="empty-file"),
        pytest.param(header_only, ["leads.csv", "a header but no rows"], id="header-only"),
        pytest.param(
            spec_column_missing,
            ["missing column(s) the spec needs: 'industry'"],
            id="spec-column-missing",
        ),
        pytest.param(
            label_not_binary,
            ["label column 'converted' must hold 0 or 1", "'maybe'"],
            id="label-not-binary",
        ),
        pytest.param(
            few_positives,
            [
                "hs_lifecyclestage_salesqualifiedlead_date within 90 days",
                "only 20 positive(s)",
                "at least 50",
            ],
            id="few-positives",
        ),
        pytest.param(
            single_class,
            ["hs_lifecyclestage_salesqualifiedlead_date", "single class", "0 positive(s)"],
            id="single-class",
        ),
        pytest.param(
            feature_all_blank, ["'annualrevenue'", "no value in any row"], id="feature-all-blank"
        ),
        pytest.param(
            unparseable_dates,
            ["'createdate'", "3 value(s) that are not dates", "'not a date'"],
            id="unparseable-dates",
        ),
        pytest.param(
            unreadable_number, ["'hs_analytics_num_visits'", "'lots'"], id="unreadable-number"
        ),
        pytest.param(
            denylisted_feature,
            ["spec.yaml", "'lifecyclestage'", "leaky_columns"],
            id="denylisted-feature",
        ),
        pytest.param(
            leaky_feature,
            ["possible label leak", "'sales_notes_count'", "leakage.allow"],
            id="leaky-feature",
        ),
        pytest.param(spec_not_found, ["spec file not found", "mycrm.yaml"], id="spec-not-found"),
        pytest.param(
            unknown_builtin_spec, ["no built-in spec named 'salesforce'"], id="unknown-builtin-spec"
        ),
        pytest.param(
            spec_invalid_yaml, ["mycrm.yaml", "is not valid YAML"], id="spec-invalid-yaml"
        ),
        pytest.param(
            config_unknown_key, ["settings.yaml", "boster: Extra inputs"], id="config-unknown-key"
        ),
        pytest.param(
            config_bad_nested_value, ["settings.yaml", "booster.num_leaves:"], id="config-bad-value"
        ),
        pytest.param(
            config_not_found, ["config file not found", "settings.yaml"], id="config-not-found"
        ),
        pytest.param(promote_sometimes, ["--promote", "'sometimes'"], id="promote-sometimes"),
    ],
)
def test_train_refuses_bad_input(
    small_leads: pd.DataFrame,
    fast_config_file: Path,
    empty_store: Path,
    tmp_path: Path,
    setup: Setup,
    names: list[str],
) -> None:
    folder = tmp_path / "input"
    folder.mkdir()
    extra = setup(folder, small_leads)
    config = [] if "--config" in extra else ["--config", str(fast_config_file)]
    result = invoke("train", *config, *extra)
    assert_user_error(result, *names)
    assert_nothing_logged()


def test_leaky_column_trains_once_allowed(
    small_leads: pd.DataFrame, fast_config_file: Path, tmp_path: Path
) -> None:
    data, spec = with_leaky_notes(small_leads, tmp_path)
    settings = yaml.safe_load(fast_config_file.read_text())
    settings["leakage"]["allow"] = ["sales_notes_count"]
    config = tmp_path / "allow.yaml"
    config.write_text(yaml.safe_dump(settings))

    result = invoke("train", "--data", data, "--spec", spec, "--config", config)

    assert result.exit_code == 0, result.output
    assert "registered lead-scorer version 1 as champion" in result.output
    uri = os.environ["MLFLOW_TRACKING_URI"]
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(search_all_experiments=True)
    assert len(runs) == 1
    assert runs.loc[0, "params.leakage.allow"] == "sales_notes_count"
    registered = MlflowClient(tracking_uri=uri, registry_uri=uri).search_registered_models()
    assert [m.name for m in registered] == ["lead-scorer"]


# -- score ------------------------------------------------------------------------------------


def test_score_without_a_registered_model(small_leads_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores.csv"
    result = invoke("score", "--data", small_leads_csv, "--out", out)
    assert_user_error(result, "no model at models:/lead-scorer@champion", "leadscore train")
    assert not out.exists()


def test_score_with_an_unknown_model_uri(
    small_leads_csv: Path, empty_store: Path, tmp_path: Path
) -> None:
    result = invoke(
        "score",
        "--data",
        small_leads_csv,
        "--out",
        tmp_path / "scores.csv",
        "--model",
        "models:/my-scorer/3",
    )
    assert_user_error(result, "no model at models:/my-scorer/3")


@pytest.mark.parametrize(
    ("data_name", "out_name", "names"),
    [
        pytest.param(
            "nowhere.csv", "scores.csv", ["data file not found", "nowhere.csv"], id="data-not-found"
        ),
        pytest.param(
            "leads.xlsx", "scores.csv", ["unsupported data format", "leads.xlsx"], id="data-xlsx"
        ),
        pytest.param("empty.csv", "scores.csv", ["empty.csv", "is empty"], id="data-empty"),
        pytest.param(
            "leads.csv", "scores.xlsx", ["unsupported data format", "scores.xlsx"], id="out-xlsx"
        ),
    ],
)
def test_score_refuses_bad_files(
    tmp_path: Path, data_name: str, out_name: str, names: list[str]
) -> None:
    (tmp_path / "empty.csv").touch()
    (tmp_path / "leads.xlsx").write_bytes(b"PK\x03\x04")
    (tmp_path / "leads.csv").write_text("hs_object_id\n1\n")
    result = invoke("score", "--data", tmp_path / data_name, "--out", tmp_path / out_name)
    assert_user_error(result, *names)
    assert not (tmp_path / out_name).exists()


def test_score_refuses_data_without_a_spec_column(
    small_leads: pd.DataFrame, small_leads_csv: Path, fast_config_file: Path, tmp_path: Path
) -> None:
    trained = invoke("train", "--data", small_leads_csv, "--config", fast_config_file)
    assert trained.exit_code == 0, trained.output
    data = write_csv(small_leads.drop(columns=["country"]).head(500), tmp_path / "new.csv")
    out = tmp_path / "scores.csv"

    result = invoke("score", "--data", data, "--out", out)

    assert_user_error(result, "new.csv", "missing column(s) the spec needs: 'country'")
    assert not out.exists()
    assert not out.with_name("scores.csv.partial").exists()
