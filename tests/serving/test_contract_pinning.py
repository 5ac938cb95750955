"""One version per server, in process (issue 13, item 4): the state file the server's main
process writes, a worker that loads exactly the pinned version, and restarts told apart
from clean starts. The real server with a crash and a reload: test_contract_server.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from serving.loader import (
    MLFLOW_START_TIMEOUTS,
    STATE_ENV,
    ModelState,
    bound_mlflow_timeouts,
    pin_served_model,
    record_worker_start,
    record_worker_stop,
    state_path,
)
from serving.service import LeadScoring
from tests.serving.support import Registry


@pytest.fixture
def registry_env(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> Registry:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry.tracking_uri)
    for name in ("LEADSCORE_MODEL_URI", "LEADSCORE_API_TOKEN", STATE_ENV, *MLFLOW_START_TIMEOUTS):
        monkeypatch.delenv(name, raising=False)
    return registry


def test_the_main_process_pins_the_alias_to_a_version(registry_env: Registry) -> None:
    environ: dict[str, str] = {}
    state = pin_served_model(environ)
    assert (state.name, state.version, state.alias) == (
        "lead-scorer",
        registry_env.version,
        "champion",
    )
    assert state.load_uri == f"models:/lead-scorer/{registry_env.version}"
    assert state.arbiter_pid == os.getpid()
    path = Path(environ[STATE_ENV])
    assert ModelState.read(path) == state
    assert environ["MLFLOW_TRACKING_URI"] == registry_env.tracking_uri
    assert {k: environ[k] for k in MLFLOW_START_TIMEOUTS} == MLFLOW_START_TIMEOUTS


def test_a_worker_serves_the_pinned_version_not_the_alias(
    registry_env: Registry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The state names version 1 under an alias that (as far as the worker knows) may have
    moved: the worker loads exactly what the state says and reports it, alias included."""
    environ: dict[str, str] = {}
    state = pin_served_model(environ)
    pinned = ModelState(**{**state.__dict__, "alias": "champion", "uri": "models:/lead-scorer@x"})
    path = tmp_path / "model.json"
    pinned.write(path)
    monkeypatch.setenv(STATE_ENV, str(path))
    assert state_path() == path
    service = LeadScoring()
    assert service.model.version == registry_env.version
    assert service.model.uri == "models:/lead-scorer@x"  # from the state, not re-resolved
    assert service.model.alias == "champion"
    assert json.loads((tmp_path / "workers.json").read_text()) == {"0": os.getpid()}


def test_a_restart_without_a_shutdown_is_told_apart(tmp_path: Path) -> None:
    state = tmp_path / "model.json"
    state.write_text("{}")
    assert record_worker_start(state, "1", 100) is None
    assert record_worker_start(state, "2", 200) is None
    assert record_worker_start(state, "1", 101) == 100  # 100 never shut down: a crash
    record_worker_stop(state, "1", 101)
    assert record_worker_start(state, "1", 102) is None  # a clean stop, then a start
    record_worker_stop(state, "2", 999)  # not its pid: nothing forgotten
    assert record_worker_start(state, "2", 201) == 200


def test_mlflow_timeouts_are_bounded_unless_set() -> None:
    environ = {"MLFLOW_HTTP_REQUEST_TIMEOUT": "60"}
    bound_mlflow_timeouts(environ)
    assert environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "60"
    assert environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "2"
