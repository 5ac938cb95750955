"""Without a model the service and `leadscore serve` refuse to start, naming the URI."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cli.serve import serve
from serving.resolve import ModelNotFoundError
from serving.service import LeadScoring
from tests.serving.support import Registry


def test_the_service_refuses_to_start_without_a_model(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry.tracking_uri)
    monkeypatch.setenv("LEADSCORE_MODEL_URI", "models:/no-such-model@champion")
    with pytest.raises(ModelNotFoundError, match="no-such-model@champion") as caught:
        LeadScoring()  # what the server runs at startup, before it reports ready
    assert "leadscore train" in str(caught.value)
    assert registry.tracking_uri in str(caught.value)


def test_serve_command_exits_2_with_one_clear_line(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry.tracking_uri)
    app = typer.Typer()
    app.command()(serve)
    app.command("other")(lambda: None)  # two commands: `serve` is addressed by name
    result = CliRunner().invoke(
        app, ["serve", "--model", "models:/lead-scorer/7", "--port", "3999"]
    )
    assert result.exit_code == 2
    assert "no model at models:/lead-scorer/7" in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_a_missing_registry_file_is_named_not_created(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(serve)
    app.command("other")(lambda: None)
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2
    output = " ".join(result.output.split())
    assert "models:/lead-scorer@champion" in output
    assert f"no MLflow database at {tmp_path / 'mlflow.db'}" in output.replace("\n", "")
    assert not (tmp_path / "mlflow.db").exists()
