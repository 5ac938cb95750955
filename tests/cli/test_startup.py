"""`leadscore score` / `explain` on a bundle folder: no MLflow, no training code, same scores.

`import mlflow` and opening its store cost seconds before the first lead is scored;
a bundle folder (what `LeadScorer.save` writes) needs neither.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.main import app
from models.scorer import LeadScorer

# Run in a fresh interpreter: the test process itself has imported MLflow long ago.
PROBE = """
import json, sys
from typer.testing import CliRunner
from cli.main import app
result = CliRunner().invoke(app, sys.argv[1:])
heavy = ["mlflow", "sqlalchemy", "matplotlib", "training.train", "training.tracking"]
print(json.dumps({"exit_code": result.exit_code, "output": result.output,
                  "imported": [m for m in heavy if m in sys.modules]}))
"""


@pytest.fixture(scope="module")
def bundle(scorer: LeadScorer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scorer.save(tmp_path_factory.mktemp("model") / "bundle")


@pytest.fixture(scope="module")
def few_leads(leads: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "few.csv"
    leads.tail(300).to_csv(path, index=False)
    return path


def probe(*args: str | Path) -> dict[str, object]:
    """The command's exit code and output, and which heavy modules it imported."""
    run = subprocess.run(
        [sys.executable, "-c", PROBE, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    result: dict[str, object] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def test_scoring_with_a_bundle_folder_never_imports_mlflow(
    bundle: Path, few_leads: Path, scorer: LeadScorer, leads: pd.DataFrame, tmp_path: Path
) -> None:
    out = tmp_path / "scores.csv"
    result = probe("score", "--data", few_leads, "--model", bundle, "--out", out)
    assert result["exit_code"] == 0, result["output"]
    assert result["imported"] == [], result["imported"]
    scores = pd.read_csv(out, dtype={"hs_object_id": str}, keep_default_na=False)
    expected = scorer.score(leads.tail(300).reset_index(drop=True))
    assert scores["hs_object_id"].tolist() == expected["hs_object_id"].astype(str).tolist()
    pd.testing.assert_series_equal(
        scores["probability"], expected["probability"], check_exact=False, rtol=1e-9
    )
    assert set(scores["model_version"]) == {""}  # not a registry version
    assert not (tmp_path / "mlflow.db").exists()


def test_explaining_with_a_bundle_folder_never_imports_mlflow(
    bundle: Path, few_leads: Path, leads: pd.DataFrame, tmp_path: Path
) -> None:
    lead_id = leads["hs_object_id"].iloc[-1]
    result = probe("explain", "--data", few_leads, "--model", bundle, "--id", lead_id)
    assert result["exit_code"] == 0, result["output"]
    assert result["imported"] == [], result["imported"]
    assert f"lead {lead_id}" in str(result["output"])
    assert "probability to convert" in str(result["output"])
    assert not (tmp_path / "mlflow.db").exists()


def test_a_broken_bundle_folder_is_one_clear_line(
    bundle: Path, few_leads: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(bundle, broken)
    (broken / "full.lgb.txt").unlink()
    out = tmp_path / "scores.csv"
    result = CliRunner().invoke(
        app, ["score", "--data", str(few_leads), "--model", str(broken), "--out", str(out)]
    )
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert f"could not read the bundle at {broken}" in " ".join(result.output.split())
    assert not out.exists()


def test_a_registry_uri_without_a_database_names_it_and_creates_none(
    few_leads: Path, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        app, ["score", "--data", str(few_leads), "--out", str(tmp_path / "scores.csv")]
    )
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert "no model at models:/lead-scorer@champion" in message
    assert f"no MLflow database at {tmp_path / 'mlflow.db'}" in message
    assert not (tmp_path / "mlflow.db").exists()
