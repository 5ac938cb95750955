"""A newcomer's first hour (issue 14): scores that join back to the leads, progress that
names its stages wherever the command runs, and only suggestions that work as printed.

Typer's CliRunner is not a terminal: every command here prints plain progress lines on
stderr (`result.stderr`), and stdout (`result.stdout`) holds what it always held.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
import yaml
from rich.console import Console
from typer.testing import CliRunner, Result

from cli.common import Stages, console_script
from cli.main import app
from cli.train import ui_command
from features.spec import DatasetSpec, builtin_spec_path
from features.timestamps import AsOf
from models.scorer import LeadScorer
from tests.cli.test_errors import assert_user_error
from tests.conftest import DEMO_AS_OF
from training import backtest, selection
from training.data import PreparedData

runner = CliRunner()


def invoke(*args: str | Path) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def progress_lines(result: Result, command: str) -> list[tuple[float, str]]:
    """The plain progress lines of `command` on stderr: (seconds, text)."""
    found = re.findall(rf"^{command} \[(\d+\.\d) s\] (.+)$", result.stderr, flags=re.MULTILINE)
    return [(float(seconds), text) for seconds, text in found]


def assert_stages(result: Result, command: str, *stages: str) -> None:
    """Each stage named on its own line, in this order, the seconds never going back, and
    nothing of the progress on stdout."""
    lines = progress_lines(result, command)
    texts = [text for _, text in lines]
    at = 0
    for stage in stages:
        following = [i for i, text in enumerate(texts) if i >= at and text.startswith(stage)]
        assert following, f"{stage!r} not after line {at} of {texts}"
        at = following[0] + 1
    seconds = [s for s, _ in lines]
    assert seconds == sorted(seconds)
    assert f"{command} [" not in result.stdout


@pytest.fixture(scope="module")
def bundle(scorer: LeadScorer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's trained scorer as a bundle folder: a model for `score` and `evaluate`
    without training one here."""
    return scorer.save(tmp_path_factory.mktemp("model") / "bundle")


# -- score: the id column ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def without_ids(leads: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "no-ids.csv"
    leads.tail(300).drop(columns=["hs_object_id"]).to_csv(path, index=False)
    return path


def test_scoring_a_file_without_the_id_column_is_an_error(
    bundle: Path, without_ids: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scores.csv"
    result = invoke(
        "score", "--data", without_ids, "--model", bundle, "--out", out, "--as-of", DEMO_AS_OF
    )
    assert_user_error(result, str(without_ids), "no id column 'hs_object_id'", "--no-id")
    assert result.output.count("\n") <= 2  # the moment of scoring, then the one error line
    assert not out.exists() and not out.with_name("scores.csv.partial").exists()


def test_no_id_scores_the_file_in_row_order_with_plain_progress(
    bundle: Path, without_ids: Path, scorer: LeadScorer, leads: pd.DataFrame, tmp_path: Path
) -> None:
    out = tmp_path / "scores.csv"
    result = invoke(
        "score", "--data", without_ids, "--model", bundle, "--out", out,
        "--as-of", DEMO_AS_OF, "--no-id", "--chunk-size", "100",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(out)
    assert "hs_object_id" not in scores.columns
    expected = scorer.score(
        leads.tail(300).drop(columns=["hs_object_id"]).reset_index(drop=True),
        as_of=AsOf.of(DEMO_AS_OF),
    )
    np.testing.assert_allclose(scores["probability"], expected["probability"], rtol=1e-9)
    # stdout as before; stderr: the first chunk, and the end (no bar: not a terminal)
    assert result.stdout.startswith("scored 300 leads with ")
    texts = [text for _, text in progress_lines(result, "leadscore score")]
    assert texts[0] == "scoring no-ids.csv: 100 of 300 rows (33%)"
    assert texts[-1] == "scoring no-ids.csv: 300 of 300 rows (100%), done"


def test_no_id_with_an_event_log_is_still_an_error(
    bundle: Path, without_ids: Path, tmp_path: Path
) -> None:
    events = tmp_path / "events.csv"
    events.write_text("hs_object_id,event_type,timestamp\n")
    out = tmp_path / "scores.csv"
    result = invoke(
        "score", "--data", without_ids, "--model", bundle, "--out", out,
        "--as-of", DEMO_AS_OF, "--no-id", "--events", events,
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert not out.exists()


# -- progress off a terminal ----------------------------------------------------------------


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("tty", [True, False], ids=["terminal", "forced-colour-log"])
def test_stages_draw_live_only_on_a_terminal(tty: bool) -> None:
    """FORCE_COLOR in a CI log makes rich think it has a terminal: still plain lines there."""
    file = _Tty() if tty else io.StringIO()
    stream = Console(file=file, force_terminal=True, width=100)
    with Stages("leadscore train", stream) as stages:
        stages.stage("reading data")
        stages.stage("training fit/interest/full models")
    written = file.getvalue()
    assert "training fit/interest/full models" in written
    assert ("leadscore train [" in written) is not tty
    assert ("leadscore train [0.0 s] done" in written) is not tty


def test_a_failed_stage_gets_no_done_line() -> None:
    file = io.StringIO()
    with pytest.raises(RuntimeError), Stages("leadscore train", Console(file=file)) as stages:
        stages.stage("reading data")
        raise RuntimeError("broken")
    assert file.getvalue().splitlines() == ["leadscore train [0.0 s] reading data…"]


def path_without_mlflow() -> str:
    """PATH without any folder that holds an `mlflow` (the venv is not activated)."""
    folders = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(f for f in folders if f and not (Path(f) / "mlflow").exists())


def test_train_names_its_stages_and_prints_a_ui_command_that_runs(
    small_leads_csv: Path, fast_config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", path_without_mlflow())
    result = invoke("train", "--data", small_leads_csv, "--config", fast_config_file)
    assert result.exit_code == 0, result.output
    assert_stages(
        result,
        "leadscore train",
        "reading data…",
        "reading labels and time…",
        "encoding features and checking for leaks…",
        "opening MLflow…",
        "training fit/interest/full models…",
        "logging to MLflow…",
        "evaluation report of the test slice…",
        "registering the model…",
        "done",
    )
    assert "registered lead-scorer version 1 as champion" in result.stdout

    line = next(x for x in result.stdout.splitlines() if x.startswith("open the MLflow UI:"))
    command, arrow = line.removeprefix("open the MLflow UI:").split("→")
    # the run's evaluation report, in MLflow's machine-learning view (not its GenAI one)
    link = arrow.strip()
    assert link.startswith("http://127.0.0.1:5000/#/experiments/") and "/runs/" in link
    assert link.endswith("/artifacts/evaluation/report.html?workflowType=machine_learning")
    argv = shlex.split(command)
    assert Path(argv[0]).is_absolute() and os.access(argv[0], os.X_OK), argv
    assert argv[1:] == [
        "ui",
        "--backend-store-uri",
        os.environ["MLFLOW_TRACKING_URI"],
        "--port",
        "5000",
    ]
    # the line as printed, in a shell whose PATH has no mlflow: its options are this
    # MLflow's (--help parses them, then exits instead of serving)
    ran = subprocess.run(
        [*argv, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PATH": path_without_mlflow()},
    )
    assert ran.returncode == 0, ran.stderr
    assert "--backend-store-uri" in ran.stdout


def test_the_ui_command_is_the_bare_name_when_the_shell_finds_the_same_mlflow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    venv_bin = str(Path(sys.executable).parent)
    monkeypatch.setenv("PATH", os.pathsep.join([venv_bin, path_without_mlflow()]))
    assert ui_command("sqlite:////srv/my store/mlflow.db") == (
        "mlflow ui --backend-store-uri 'sqlite:////srv/my store/mlflow.db' --port 5000"
        "  → http://127.0.0.1:5000"
    )
    monkeypatch.setenv("PATH", path_without_mlflow())
    assert console_script("mlflow") == str(Path(venv_bin) / "mlflow")


def test_without_an_mlflow_script_the_ui_command_runs_it_as_a_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    python = tmp_path / "bin" / "python"  # an interpreter without console scripts beside it
    monkeypatch.setattr(sys, "executable", str(python))
    assert console_script("mlflow") == f"{python} -m mlflow"


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("http://mlflow.internal:5000", "http://mlflow.internal:5000 in a browser"),
        ("databricks", "the experiment in your Databricks workspace"),
    ],
)
def test_a_tracking_server_is_opened_at_its_own_address(uri: str, expected: str) -> None:
    assert ui_command(uri) == expected
    assert "127.0.0.1" not in ui_command(uri)


def test_serve_on_every_interface_prints_an_address_a_browser_opens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import serving.loader
    from cli.serve import browsable, serve

    started: list[list[str]] = []
    monkeypatch.setattr(serving.loader, "resolve_model", lambda settings: None)
    monkeypatch.setattr(os, "execve", lambda path, args, env: started.append(args))
    command = typer.Typer()
    command.command()(serve)
    command.command("other")(lambda: None)
    result = runner.invoke(command, ["serve", "--host", "0.0.0.0", "--port", "3999"])
    assert result.exit_code == 0, result.output
    assert started and started[0][-4:] == ["--host", "0.0.0.0", "--port", "3999"]
    assert "(docs: http://127.0.0.1:3999/docs.json)" in result.stderr
    assert "http://0.0.0.0" not in result.stderr
    assert [browsable(h) for h in ("127.0.0.1", "::", "::1", "example.com")] == [
        "127.0.0.1",
        "[::1]",
        "[::1]",
        "example.com",
    ]


# -- evaluate: stages, and no suggestion that cannot work ----------------------------------


@pytest.fixture
def ordinal(leads: pd.DataFrame, tmp_path: Path) -> tuple[Path, Path]:
    """The leads with an ordinal time column (a lead number) and a spec that reads it."""
    data = yaml.safe_load(builtin_spec_path("hubspot").read_text(encoding="utf-8"))
    data["time"] = {"column": "lead_number", "kind": "ordinal"}
    data["label"] = {"column": "converted"}
    spec = tmp_path / "ordinal.yaml"
    spec.write_text(yaml.safe_dump(data))
    csv = tmp_path / "ordinal.csv"
    # numbers of seven digits: the report and the notes must write every one of them
    leads.assign(lead_number=range(1_000_000, 1_000_000 + len(leads))).to_csv(csv, index=False)
    return csv, spec


def test_evaluating_an_ordinal_time_column_never_suggests_a_backtest(
    bundle: Path, ordinal: tuple[Path, Path], tmp_path: Path
) -> None:
    csv, spec = ordinal
    out = tmp_path / "report"
    result = invoke(
        "evaluate", "--data", csv, "--spec", spec, "--model", bundle, "--out", out,
        "--from", "1000000", "--to", "1003000",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert_stages(
        result,
        "leadscore evaluate",
        "reading data…",
        "reading labels and time…",
        "loading the model…",
        "evaluating ",
        "evaluation report…",
        "done",
    )
    written = json.loads((out / "report.json").read_text())
    assert written["data"]["time_kind"] == "ordinal"
    assert written["data"]["backtest_months"] == 0  # what the report needs to decide
    assert written["data"]["events"] is True
    assert "backtest" not in result.output.lower()
    assert not [n for n in written["notes"] if "backtest" in n.lower()]
    # ordinals written in full, the range's ends included, as --from / --to take them
    assert (written["data"]["time_from"], written["data"]["time_to"]) == ("1000000", "1003000")
    # the range starts at the first lead: no baseline learns; a later --from that works
    suggestion = next(n for n in written["notes"] if n.startswith("no logistic regression"))
    later = re.search(r"--from (\S+) leaves leads of both classes", suggestion)
    assert later is not None, suggestion
    again = invoke(
        "evaluate", "--data", csv, "--spec", spec, "--model", bundle, "--out", out,
        "--from", later.group(1), "--to", "1003000",
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    rows = {r["name"]: r for r in json.loads((out / "report.json").read_text())["comparison"]}
    assert rows["logistic regression"]["roc_auc"] is not None


def test_evaluate_with_a_backtest_names_each_month(
    bundle: Path, leads: pd.DataFrame, fast_config_file: Path, tmp_path: Path
) -> None:
    csv = tmp_path / "leads.csv"
    leads.to_csv(csv, index=False)
    result = invoke(
        "evaluate", "--data", csv, "--model", bundle, "--out", tmp_path / "report",
        "--backtest", "1", "--config", fast_config_file,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert_stages(
        result,
        "leadscore evaluate",
        "reading data…",
        "loading the model…",
        "evaluating ",
        "backtest month ",
        "evaluation report…",
        "done",
    )
    month = re.findall(r"backtest month (\d{4}-\d{2}) \(1 of 1\)…", result.stderr)
    written = json.loads((tmp_path / "report" / "report.json").read_text())
    assert month == [written["backtest"]["folds"][0]["test_month"]]
    assert written["data"]["time_kind"] == "datetime"
    assert written["data"]["backtest_months"] >= 1


# -- suggestions, unit by unit --------------------------------------------------------------


def test_too_long_a_backtest_names_the_longest_that_works(
    prepared: PreparedData, spec: DatasetSpec
) -> None:
    most = backtest.max_backtest_months(prepared, spec)
    assert most >= 2
    backtest.backtest_months(prepared, most)  # works
    with pytest.raises(Exception, match=rf"--backtest {most} at most"):
        backtest.backtest_months(prepared, most + 1)


def test_a_later_start_is_suggested_only_when_it_works(
    prepared: PreparedData, spec: DatasetSpec
) -> None:
    everything = selection.select_rows(prepared, spec, "2000-01-01", None)
    later = selection.later_from(prepared, spec, everything, None)
    assert later is not None
    chosen = selection.select_rows(prepared, spec, later, None)
    before = prepared.y[chosen.before]
    assert before.min() == 0 and before.max() == 1
    # a day earlier does not work: the suggestion is the first start that does
    earlier = str((pd.Timestamp(later) - pd.Timedelta(days=1)).date())
    first = prepared.y[selection.select_rows(prepared, spec, earlier, None).before]
    assert len(first) == 0 or first.min() == first.max()
    # a range that ends before that start: no start works, none is suggested
    short = selection.select_rows(prepared, spec, "2000-01-01", earlier)
    assert selection.later_from(prepared, spec, short, earlier) is None
    # baselines that already learn: nothing to suggest
    newest = selection.select_rows(prepared, spec)
    assert selection.later_from(prepared, spec, newest, None) is None
