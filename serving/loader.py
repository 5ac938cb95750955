"""Finding and loading the served model: registry alias → pinned version → scorer bundle.

An alias (`models:/lead-scorer@champion`) is resolved to its version once, and that
exact version is loaded, so the version the service reports is the one that scores
even if the alias moves while the service starts.

One version per server: `pin_served_model` runs once in the server's main process (the
BentoML arbiter, before any worker starts) and writes the resolved version to a small
state file (`ModelState`) whose path every worker inherits (`LEADSCORE_MODEL_STATE`).
Workers load that version, also when one is restarted after a crash; an explicit reload
(`POST /admin/reload`) writes the new version there and every worker follows it.

Start-up never hangs on an unreachable tracking server: `bound_mlflow_timeouts` caps
MLflow's HTTP timeout and retries (unless set) so that a failed look-up ends in seconds.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from features.errors import LeadscoreError
from serving.resolve import LoadedModel, Resolved, load_version, resolve
from serving.settings import ServingSettings

log = logging.getLogger(__name__)

# The environment variable naming the server's state file (set by `pin_served_model`).
STATE_ENV = "LEADSCORE_MODEL_STATE"
SERVE_HINT = (
    "train and register one with `leadscore train`, or point LEADSCORE_MODEL_URI / "
    "MLFLOW_TRACKING_URI at an existing one"
)
# MLflow's HTTP client defaults (120 s timeout, 7 retries with backoff factor 2) make one
# look-up of an unreachable tracking server take minutes. At most ~20 s with these.
MLFLOW_START_TIMEOUTS = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0",
}


class SettingsError(LeadscoreError):
    """A serving setting (`LEADSCORE_…`) the service cannot start with."""


def read_settings() -> ServingSettings:
    """`ServingSettings()` from the environment, or `SettingsError` in one line."""
    from pydantic import ValidationError

    try:
        return ServingSettings()
    except ValidationError as error:
        problems = "; ".join(
            str(item["msg"]).removeprefix("Value error, ")
            if item["type"] == "value_error"
            else f"{'.'.join(str(p) for p in item['loc'])}: {item['msg']}"
            for item in error.errors(include_url=False)
        )
        raise SettingsError(f"invalid serving settings: {problems}") from None


def load_model(settings: ServingSettings) -> LoadedModel:
    """Resolve and load the configured model; `ModelNotFoundError` (naming it) if absent."""
    return load_resolved(resolve_model(settings))


def resolve_model(settings: ServingSettings) -> Resolved:
    """The registry entry of the configured model, pinned to its version (not loaded)."""
    return resolve(settings.model_uri, settings.tracking_uri(), SERVE_HINT)


def load_resolved(found: Resolved) -> LoadedModel:
    """Load the version `found` pins; `ModelNotFoundError`, naming it, when it cannot be."""
    return load_version(found, SERVE_HINT)


def bound_mlflow_timeouts(environ: MutableMapping[str, str] | None = None) -> None:
    """Cap MLflow's HTTP timeout and retries in `environ` (default: this process's), keeping
    any value already set, so that an unreachable tracking server fails fast."""
    target = os.environ if environ is None else environ
    for name, value in MLFLOW_START_TIMEOUTS.items():
        target.setdefault(name, value)


@dataclass
class ModelState(Resolved):
    """What every worker of one server serves: the pinned version and where it came from."""

    arbiter_pid: int = 0
    pinned_at: str = ""

    @classmethod
    def of(cls, found: Resolved, arbiter_pid: int) -> ModelState:
        return cls(
            **found.where(), arbiter_pid=arbiter_pid, pinned_at=datetime.now(UTC).isoformat()
        )

    def write(self, path: Path) -> None:
        """Replace the file atomically (a reader sees the old or the new state, never half)."""
        partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # one per writer
        partial.write_text(json.dumps(asdict(self)), encoding="utf-8")
        os.replace(partial, path)

    @classmethod
    def read(cls, path: Path) -> ModelState:
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def state_path() -> Path | None:
    """The server's state file, when this process runs under `bentoml serve`."""
    value = os.environ.get(STATE_ENV)
    return Path(value) if value and Path(value).is_file() else None


def pin_served_model(environ: MutableMapping[str, str] | None = None) -> ModelState:
    """Resolve the configured model once, for the whole server, before workers start.

    Writes the state file and sets `LEADSCORE_MODEL_STATE` and `MLFLOW_TRACKING_URI` in
    `environ` (default: this process's environment, which the workers inherit). Raises
    `ModelNotFoundError` (one line) when there is no model or the registry does not answer,
    `SettingsError` for a setting the service cannot start with.
    """
    target = os.environ if environ is None else environ
    bound_mlflow_timeouts(target)
    settings = read_settings()
    found = resolve_model(settings)
    folder = Path(tempfile.mkdtemp(prefix="leadscore-server-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    state = ModelState.of(found, os.getpid())
    path = folder / "model.json"
    state.write(path)
    target[STATE_ENV] = str(path)
    # Workers may run in another working directory: the registry is the one found here.
    target["MLFLOW_TRACKING_URI"] = found.tracking_uri
    log.info("pinned %s to version %s for every worker (state: %s)", found.uri, found.version, path)
    return state


def load_pinned(state: ModelState) -> LoadedModel:
    """Load exactly the state's version (`ModelNotFoundError` if it cannot be loaded)."""
    import mlflow

    mlflow.set_tracking_uri(state.tracking_uri)
    mlflow.set_registry_uri(state.tracking_uri)
    return load_resolved(Resolved(**state.where()))


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` + `.lock` (the workers of one server take turns)."""
    with open(path.with_suffix(".lock"), "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def record_worker_start(state_file: Path, worker: str, pid: int) -> int | None:
    """Note that `worker` now runs as `pid`; the pid it ran as before, if it never shut down
    (a crash: circus restarted it), else None."""
    path = state_file.with_name("workers.json")
    with locked(path):
        workers: dict[str, int] = (
            json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        )
        before = workers.get(worker)
        workers[worker] = pid
        path.write_text(json.dumps(workers), encoding="utf-8")
    return before if before != pid else None


def record_worker_stop(state_file: Path, worker: str, pid: int) -> None:
    """Forget a worker that shuts down cleanly (so its next start is no crash)."""
    path = state_file.with_name("workers.json")
    with locked(path):
        if not path.is_file():
            return
        workers: dict[str, int] = json.loads(path.read_text(encoding="utf-8"))
        if workers.get(worker) == pid:
            del workers[worker]
            path.write_text(json.dumps(workers), encoding="utf-8")
