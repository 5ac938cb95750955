"""`leadscore monitor`: a month of scored leads against what the model learned from."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from cli.main import app
from features.generate import generate_demo
from models.scorer import LeadScorer
from tests.conftest import DEMO_AS_OF, as_crm_text
from training.monitor import PSI_MAJOR, combine, psi, shares

runner = CliRunner()


def invoke(*args: str | Path) -> Result:
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def bundle(scorer: LeadScorer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bundle") / "scorer"
    scorer.save(folder)
    return folder


def month(folder: Path, drift: bool, seed: int) -> dict[str, Path]:
    """June 2026's leads of a generated export (drifted or not), their events, and their
    scores as of the export's end (the batch scorer's output)."""
    demo = generate_demo(4000, seed=seed, drift=drift)
    leads = as_crm_text(demo.contacts)
    leads = leads[leads["createdate"] >= "2026-06-01"]
    events = demo.events[demo.events["hs_object_id"].astype(str).isin(leads["hs_object_id"])]
    paths = {
        "data": folder / "leads.csv",
        "events": folder / "events.parquet",
        "scores": folder / "scores.csv",
    }
    leads.to_csv(paths["data"], index=False)
    events.to_parquet(paths["events"], index=False)
    return paths


def scored(bundle: Path, paths: dict[str, Path]) -> dict[str, Path]:
    result = invoke(
        "score", "--data", paths["data"], "--events", paths["events"], "--model", bundle,
        "--as-of", DEMO_AS_OF, "--out", paths["scores"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return paths


def monitor(bundle: Path, paths: dict[str, Path], out: Path, *extra: str) -> Result:
    return invoke(
        "monitor", "--scores", paths["scores"], "--data", paths["data"], "--events",
        paths["events"], "--model", bundle, "--as-of", DEMO_AS_OF, "--out", out, *extra,
    )  # fmt: skip


def test_a_drifted_month_is_flagged_and_advises_retraining(bundle: Path, tmp_path: Path) -> None:
    paths = scored(bundle, month(tmp_path, drift=True, seed=21))
    result = monitor(bundle, paths, tmp_path / "report")
    assert result.exit_code == 1, result.output
    assert "retraining advised" in result.output and "hs_analytics_source" in result.output
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    source = next(r for r in report["features"] if r["feature"] == "hs_analytics_source")
    assert source["psi"] >= PSI_MAJOR and source["reading"] == "major shift"
    # June's leads are compared at 0 and 7 days; none is 30 days old on July 1.
    assert set(source["by_age"]) == {"0", "7"}
    assert report["ages"]["30"] == 0 and report["ages"]["0"] > 100
    assert report["retrain_advised"] is True
    assert report["volumes"]["weeks"] and report["volumes"]["promised"]["SQL"]["share"] > 0
    html = (tmp_path / "report" / "report.html").read_text()
    assert "hs_analytics_source" in html and "retraining advised" in html


def test_an_undrifted_month_needs_no_action(bundle: Path, tmp_path: Path) -> None:
    paths = scored(bundle, month(tmp_path, drift=False, seed=22))
    result = monitor(bundle, paths, tmp_path / "report")
    assert result.exit_code == 0, result.output
    assert "no action needed" in result.output
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    # Compared at the same ages, no feature of the same world moves majorly.
    assert max(r["psi"] for r in report["features"]) < PSI_MAJOR
    assert report["score"]["psi"] < PSI_MAJOR

    # The service's scoring log (BentoML monitoring's JSON lines) reads the same way.
    log = tmp_path / "monitoring" / "leadscore_scores" / "data"
    log.mkdir(parents=True)
    scores = pd.read_csv(paths["scores"], dtype={"hs_object_id": str})
    keep = ["hs_object_id", "probability", "fit", "interest", "recommended_stage"]
    scores[keep].assign(as_of=DEMO_AS_OF, timestamp="2026-07-01T00:00:01").to_json(
        log / "data.0.log", orient="records", lines=True
    )
    from_log = monitor(bundle, {**paths, "scores": tmp_path / "monitoring"}, tmp_path / "from_log")
    assert from_log.exit_code == 0, from_log.output
    again = json.loads((tmp_path / "from_log" / "report.json").read_text())
    assert again["features"] == report["features"] and again["scores"]["leads"] == len(scores)


def test_bad_monitor_input_is_one_line_and_exit_2(bundle: Path, tmp_path: Path) -> None:
    paths = scored(bundle, month(tmp_path, drift=False, seed=23))
    scores = pd.read_csv(paths["scores"], dtype=str)

    scores.drop(columns=["probability"]).to_csv(tmp_path / "noprob.csv", index=False)
    result = monitor(bundle, {**paths, "scores": tmp_path / "noprob.csv"}, tmp_path / "r")
    assert result.exit_code == 2
    assert "no column 'probability'" in result.output

    scores.assign(model_version="7").to_csv(tmp_path / "other.csv", index=False)
    registered = invoke(
        "monitor", "--scores", tmp_path / "other.csv", "--model", bundle, "--out", tmp_path / "r"
    )
    # A bundle folder has no registry version to compare with: the PIT model asks for data.
    assert registered.exit_code == 2 and "--events" in registered.output

    leads = pd.read_csv(paths["data"], dtype=str).drop(columns=["hs_object_id"])
    leads.to_csv(tmp_path / "noid.csv", index=False)
    result = monitor(bundle, {**paths, "data": tmp_path / "noid.csv"}, tmp_path / "r")
    assert result.exit_code == 2 and "no id column 'hs_object_id'" in result.output

    scores.assign(probability="high").to_csv(tmp_path / "text.csv", index=False)
    result = monitor(bundle, {**paths, "scores": tmp_path / "text.csv"}, tmp_path / "r")
    assert result.exit_code == 2 and "expected a number" in result.output
    assert not (tmp_path / "r" / "report.json").exists()


def test_scores_of_another_version_are_refused() -> None:
    from cli.monitor import check_version
    from features.errors import LeadscoreError

    frame = pd.DataFrame({"model_version": ["3", "3", "4"]})
    with pytest.raises(LeadscoreError, match=r"model version 4, not of .* \(version 3\)"):
        check_version(frame, "3", Path("s.csv"), "models:/lead-scorer@champion")
    check_version(frame.iloc[:2], "3", Path("s.csv"), "models:/lead-scorer@champion")


def test_psi_reads_the_usual_way() -> None:
    same = np.array([0.25, 0.25, 0.5])
    assert psi(same, same) == 0.0
    moved = np.array([0.5, 0.25, 0.25])
    expected = 0.25 * np.log(2) + 0.0 + -0.25 * np.log(0.5)
    assert psi(same, moved) == pytest.approx(expected)
    entry = {"type": "numeric", "edges": [1.0, 2.0]}
    np.testing.assert_allclose(shares(np.array([0.5, 1.5, 2.5, np.nan]), entry), [0.25] * 4)
    rows = combine(
        [
            (30, [{"feature": "a", "psi": 0.3, "age": "0"}]),
            (10, [{"feature": "a", "psi": 0.1, "age": "7"}]),
        ]
    )
    assert rows[0]["psi"] == pytest.approx(0.25) and rows[0]["by_age"] == {"0": 0.3, "7": 0.1}
