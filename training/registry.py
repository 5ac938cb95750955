"""What keeps the registry right when trainings overlap, die or meet a store they cannot write.

- **Opening a store** (`open_store`): a new SQLite database gets MLflow's schema once, under
  a file lock beside it, before any run starts (MLflow's own migration races when several
  processes create the same new database); a store that cannot be written is one
  `LeadscoreError` naming its URI, before any run starts.
- **Liveness** (`Heartbeat`): a training run carries `leadscore.pid`, `leadscore.host`
  and `leadscore.heartbeat` (epoch seconds, refreshed every `HEARTBEAT_SECONDS` by a
  daemon thread). A RUNNING run is dead when, on this host, its process is gone, or, from
  anywhere, its heartbeat (its start time when it has none) is older than `STALE_SECONDS`.
- **Promotion lock** (`promotion_lock`): the comparison with the champion and the alias
  move of one registered model never interleave. SQLite: `fcntl.flock` on a file beside
  the database (exact; released by the kernel when a holder dies). Any other store (an
  `mlflow server` over HTTP): a lease written as a registered-model tag (`TagLock`),
  see its docstring for what it does and does not guarantee.
- **Decisions** (`leadscore.decision` on the version and the run: `champion`,
  `challenger` or `refused`, with the reason in `leadscore.promotion`): a version is born
  `pending` and the decision is its last write; `check_registry` finds versions left
  undecided and runs left RUNNING by a dead process, marks them and says so. It never
  moves an alias.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import random
import signal
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from features.errors import LeadscoreError, first_line
from models.mlflow_store import CHALLENGER, CHAMPION, sqlite_database

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)

REFUSED = "refused"
PENDING = "pending"
# tags of a training run (the first three) and of a run and its version (the last three)
PID_TAG = "leadscore.pid"
HOST_TAG = "leadscore.host"
HEARTBEAT_TAG = "leadscore.heartbeat"
PHASE_TAG = "leadscore.phase"
DECISION_TAG = "leadscore.decision"
PROMOTION_TAG = "leadscore.promotion"
# on the run, before the version is registered: what the gate decided (alias: reason)
INTENDED_TAG = "leadscore.decision.intended"
# on a run that `check_registry` ended: why
ENDED_TAG = "leadscore.ended_by_check"
# a registered-model tag: the promotion lease of a store without a shared file system
LOCK_TAG = "leadscore.promotion_lock"

HEARTBEAT_SECONDS = 30.0
STALE_SECONDS = 300.0  # ten missed heartbeats
LOCK_WAIT_SECONDS = 600.0
LEASE_SECONDS = 300.0
LEASE_SETTLE_SECONDS = 2.0
NO_DECISION = "no decision: the training process ended before promotion"
DEAD_RUN = "the training process ended without finishing the run"

# Test-only: the name of a phase at which the training process kills itself (SIGKILL),
# as a machine dying there would. Phases: training, logging-model, after-register,
# after-alias, after-decision.
KILL_ENV = "LEADSCORE_TEST_KILL_AT"


def kill_point(phase: str) -> None:
    """Die here, without clean-up, when `LEADSCORE_TEST_KILL_AT` names this phase."""
    if os.environ.get(KILL_ENV) == phase:
        os.kill(os.getpid(), signal.SIGKILL)


# -- the store -----------------------------------------------------------------------------------
def lock_file(uri: str) -> Path | None:
    """The lock file beside a SQLite store (schema creation and promotions)."""
    database = sqlite_database(uri)
    return None if database is None else database.with_name(database.name + ".lock")


def cannot_write(uri: str, why: object, what: str = "written") -> LeadscoreError:
    return LeadscoreError(
        f"the MLflow tracking store {uri} cannot be {what}: {one_line(why)}"
        + (" (set MLFLOW_TRACKING_URI to a store you can write)" if what == "written" else "")
    )


def one_line(why: object) -> str:
    return first_line(why) if isinstance(why, BaseException) else str(why).strip().split("\n")[0]


@contextlib.contextmanager
def store_errors(uri: str, what: str = "written") -> Iterator[None]:
    """A failure of the store itself (read-only, unreachable, unopenable) as one line."""
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except (MlflowException, SQLAlchemyError, OSError, sqlite3.Error) as error:
        raise cannot_write(uri, getattr(error, "message", None) or error, what) from None


@contextlib.contextmanager
def file_lock(path: Path, uri: str, timeout: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
    """An exclusive `flock` on `path`: waits up to `timeout` seconds for another holder."""
    try:
        handle = path.open("a")
    except OSError as error:
        raise cannot_write(uri, f"cannot create the lock file {path}: {error.strerror}") from None
    with handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LeadscoreError(
                        f"another leadscore process held {path} for more than {timeout:.0f} s"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def open_store(uri: str) -> None:
    """Make the store ready before any run starts, or fail with one line naming it.

    A SQLite store: its folder is created, MLflow's schema (tracking and registry) is
    created or verified under the lock file beside it, and a write is tried and rolled
    back. Any other store: one read, so an unreachable server fails here.
    """
    from mlflow.tracking import MlflowClient

    database = sqlite_database(uri)
    if database is None:
        with store_errors(uri):
            MlflowClient(uri, uri).search_experiments(max_results=1)
        return
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise cannot_write(
            uri, f"cannot create the folder {database.parent}: {error.strerror}"
        ) from None
    lock = lock_file(uri)
    assert lock is not None
    with file_lock(lock, uri), store_errors(uri):
        client = MlflowClient(uri, uri)
        client.search_experiments(max_results=1)  # creates the tracking schema
        client.search_registered_models(max_results=1)  # and the registry's
        probe_write(uri)


def probe_write(uri: str) -> None:
    """A write to a SQLite store, rolled back: fails on a read-only file, folder or mount."""
    rest = uri.removeprefix("sqlite:///")
    connection = sqlite3.connect(rest, uri=rest.startswith("file:"), isolation_level=None)
    try:
        connection.execute("BEGIN")
        connection.execute("CREATE TABLE leadscore_write_probe (x INTEGER)")
        connection.execute("ROLLBACK")
    finally:
        connection.close()


# -- liveness ------------------------------------------------------------------------------------
def host_name() -> str:
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    """Whether a process of this host with that id runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    return True


def death_of(run: Run, now: float | None = None, stale: float = STALE_SECONDS) -> str | None:
    """Why a RUNNING run is dead, or None when it is finished or may still be alive."""
    if run.info.status != "RUNNING":
        return None
    now = time.time() if now is None else now
    tags = run.data.tags
    pid, host = tags.get(PID_TAG, ""), tags.get(HOST_TAG)
    if host == host_name() and pid.isdigit() and not pid_alive(int(pid)):
        return f"its process (pid {pid} on {host}) is gone"
    try:
        beat = float(tags[HEARTBEAT_TAG])
        what = "last heartbeat"
    except (KeyError, ValueError):
        beat = (run.info.start_time or 0) / 1000
        what = "no heartbeat; started"
    if now - beat > stale:
        return f"{what} {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(beat))}"
    return None


class Heartbeat:
    """Marks a run as this process's and keeps saying it is alive (a daemon thread); the
    training's phases are written too (`phase`), each a possible test kill point."""

    def __init__(self, run_id: str, every: float = HEARTBEAT_SECONDS) -> None:
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient()
        self.run_id = run_id
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="leadscore-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self.client.log_batch(
            self.run_id,
            tags=[
                _tag(PID_TAG, str(os.getpid())),
                _tag(HOST_TAG, host_name()),
                _tag(HEARTBEAT_TAG, f"{time.time():.0f}"),
            ],
        )
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def phase(self, name: str) -> None:
        self.client.set_tag(self.run_id, PHASE_TAG, name)
        kill_point(name)

    def _beat(self) -> None:
        from mlflow.exceptions import MlflowException

        while not self._stop.wait(self.every):
            try:
                self.client.set_tag(self.run_id, HEARTBEAT_TAG, f"{time.time():.0f}")
            except (MlflowException, OSError) as error:
                # a missed beat is not a failed training; many missed ones make it look dead
                log.warning("heartbeat of run %s not written: %s", self.run_id, first_line(error))


def _tag(key: str, value: str) -> Any:
    from mlflow.entities import RunTag

    return RunTag(key, value)


# -- the promotion lock --------------------------------------------------------------------------
def lease_of(client: MlflowClient, name: str) -> dict[str, Any] | None:
    """The promotion lease written on registered model `name` (owner, pid, host, expires)."""
    value = client.get_registered_model(name).tags.get(LOCK_TAG)
    if not value:
        return None
    try:
        holder = json.loads(value)
    except ValueError:
        return None  # not ours to read: treat as free
    return holder if isinstance(holder, dict) else None


def lease_free(holder: dict[str, Any] | None) -> bool:
    """No lease, an expired one, or one whose process (on this host) is gone."""
    if holder is None or float(holder.get("expires", 0)) < time.time():
        return True
    pid = str(holder.get("pid", ""))
    return holder.get("host") == host_name() and pid.isdigit() and not pid_alive(int(pid))


class TagLock:
    """A promotion lease held as a tag of the registered model, for stores that share no
    file system with us (an `mlflow server` over HTTP, a database server).

    MLflow's API has no compare-and-set, so acquiring writes the lease (owner token, pid,
    host, expiry) only when none is held or the holder's lease expired (or its process,
    on this host, is gone), waits `settle` seconds, and re-reads: the last writer wins and
    every other contender goes back to waiting. The holder re-reads once more just before
    the alias move (`confirm`). Guaranteed: two holders never both pass `confirm` as long
    as no contender stalls more than `settle` seconds between reading the free lease and
    writing its own, and no holder runs longer than `lease` seconds. Not guaranteed:
    exclusion against a process that pauses longer than that (a suspended VM), or one that
    does not take the lease (the MLflow UI, another tool moving the alias).
    """

    def __init__(
        self,
        client: MlflowClient,
        name: str,
        lease: float = LEASE_SECONDS,
        settle: float = LEASE_SETTLE_SECONDS,
        timeout: float = LOCK_WAIT_SECONDS,
    ) -> None:
        self.client = client
        self.name = name
        self.lease = lease
        self.settle = settle
        self.timeout = timeout
        self.token = uuid.uuid4().hex

    def _holder(self) -> dict[str, Any] | None:
        return lease_of(self.client, self.name)

    def _free(self, holder: dict[str, Any] | None) -> bool:
        return lease_free(holder)

    def confirm(self) -> None:
        holder = self._holder()
        if holder is None or holder.get("owner") != self.token:
            raise LeadscoreError(
                f"the promotion lock of {self.name} was taken over (lease {self.lease:.0f} s "
                "expired?): not moving the alias"
            )

    def __enter__(self) -> TagLock:
        from mlflow.exceptions import MlflowException

        with contextlib.suppress(MlflowException):  # RESOURCE_ALREADY_EXISTS
            self.client.create_registered_model(self.name)
        deadline = time.monotonic() + self.timeout
        while True:
            holder = self._holder()
            if self._free(holder):
                mine = {
                    "owner": self.token,
                    "pid": os.getpid(),
                    "host": host_name(),
                    "expires": time.time() + self.lease,
                }
                self.client.set_registered_model_tag(self.name, LOCK_TAG, json.dumps(mine))
                time.sleep(self.settle)
                holder = self._holder()
                if holder is not None and holder.get("owner") == self.token:
                    return self
            if time.monotonic() > deadline:
                raise LeadscoreError(
                    f"the promotion lock of {self.name} stayed held for {self.timeout:.0f} s "
                    f"(by pid {(holder or {}).get('pid')} on {(holder or {}).get('host')})"
                )
            time.sleep(0.2 + random.random() * 0.3)

    def __exit__(self, *_: object) -> None:
        from mlflow.exceptions import MlflowException

        with contextlib.suppress(MlflowException):
            holder = self._holder()
            if holder is not None and holder.get("owner") == self.token:
                self.client.delete_registered_model_tag(self.name, LOCK_TAG)


class FileLock:
    """`file_lock` as an object with the `TagLock` interface (confirm: the kernel holds it)."""

    def __init__(self, path: Path, uri: str) -> None:
        self._lock = file_lock(path, uri)

    def confirm(self) -> None:
        pass

    def __enter__(self) -> FileLock:
        self._lock.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._lock.__exit__(*exc)


def promotion_lock(client: MlflowClient, name: str, uri: str) -> FileLock | TagLock:
    """The lock under which model `name` is compared with its champion and promoted."""
    path = lock_file(uri)
    return FileLock(path, uri) if path is not None else TagLock(client, name)


# -- decisions -----------------------------------------------------------------------------------
def record_decision(
    client: MlflowClient, name: str, version: str, run_id: str | None, decision: str, reason: str
) -> None:
    """The reason, then the decision (the write that makes the version decided), on the
    version and then its run."""
    client.set_model_version_tag(name, version, PROMOTION_TAG, reason)
    client.set_model_version_tag(name, version, DECISION_TAG, decision)
    if run_id:
        client.set_tag(run_id, PROMOTION_TAG, f"v{version} → {decision}: {reason}")
        client.set_tag(run_id, DECISION_TAG, decision)


def decided(tags: dict[str, str]) -> bool:
    """A version with a decision (or one promoted by a leadscore from before decisions)."""
    decision = tags.get(DECISION_TAG)
    return decision not in (None, PENDING) or (decision is None and PROMOTION_TAG in tags)


@dataclass(frozen=True)
class Damage:
    item: str  # "run", "version", "model" (a logged model), "lock" (a promotion lease)
    ref: str
    text: str


@dataclass
class CheckReport:
    model_name: str
    experiment: str
    fixed: bool
    damages: list[Damage] = field(default_factory=list)
    versions: int = 0
    champion: str | None = None

    def lines(self) -> list[str]:
        return [d.text for d in self.damages]

    def summary(self) -> str:
        champion = f"champion version {self.champion}" if self.champion else "no champion"
        found = (
            f"{len(self.damages)} damaged item(s)"
            + (" marked" if self.fixed and self.damages else "")
            + ("" if self.fixed or not self.damages else " (not marked: --no-fix)")
            if self.damages
            else "no damage"
        )
        return (
            f"registry check of {self.model_name} ({self.versions} version(s), {champion}) "
            f"and experiment {self.experiment}: {found}"
        )


def race_tolerant(write: Callable[[], object], attempts: int = 3) -> None:
    """Run a tag write that another process may be doing at the same moment (two trainings
    starting together both mark the same dead run): MLflow's SQL store inserts a new tag
    after reading it absent, so the slower writer meets a UNIQUE constraint; tried again,
    the write updates the row the other one made."""
    from mlflow.exceptions import MlflowException

    for attempt in range(attempts):
        try:
            write()
            return
        except MlflowException as error:
            if "UNIQUE constraint" not in str(error) or attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


def check_registry(
    client: MlflowClient,
    model_name: str,
    experiment: str,
    fix: bool = True,
    stale: float = STALE_SECONDS,
) -> CheckReport:
    """Find runs left RUNNING by a dead process, their PENDING logged models, and versions
    without a promotion decision; with `fix`, mark them. Aliases are never moved.

    A dead run that recorded its decision is ended FINISHED (its story is whole), else
    FAILED. An undecided version that holds an alias gets that alias as its decision (the
    process died after moving it); any other is `refused` with `NO_DECISION`.
    """
    from mlflow.exceptions import MlflowException

    report = CheckReport(model_name, experiment, fix)
    runs: dict[str, Run] = {}
    found = client.get_experiment_by_name(experiment)
    experiment_ids = [found.experiment_id] if found is not None else []
    if experiment_ids:
        for run in client.search_runs(
            experiment_ids, "attributes.status = 'RUNNING'", max_results=1000
        ):
            runs[run.info.run_id] = run

    versions = []
    aliases: dict[str, str] = {}
    try:
        registered = client.get_registered_model(model_name)
        aliases = {alias: str(v) for alias, v in registered.aliases.items()}
        versions = list(client.search_model_versions(f"name = '{model_name}'"))
    except MlflowException as error:
        if error.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
    report.versions = len(versions)
    report.champion = aliases.get(CHAMPION)
    lease = lease_of(client, model_name) if versions else None
    if lease is not None and lease_free(lease):
        # reported, never deleted here: a contender may be writing its own lease over it
        # right now (there is no compare-and-set); the next promotion takes it over
        report.damages.append(
            Damage(
                "lock",
                model_name,
                f"promotion lock of {model_name} left by pid {lease.get('pid')} on "
                f"{lease.get('host')} (gone or expired): the next promotion takes it over",
            )
        )
    versions = [v for v in versions if not decided(v.tags)]
    for version in versions:  # the runs of undecided versions only: one request each
        if version.run_id and version.run_id not in runs:
            with contextlib.suppress(MlflowException):
                runs[version.run_id] = client.get_run(version.run_id)

    dead = {run_id: why for run_id, run in runs.items() if (why := death_of(run, stale=stale))}
    by_number = sorted(versions, key=lambda v: int(v.version))
    for version in by_number:
        source = runs.get(version.run_id or "")
        if source is not None and source.info.status == "RUNNING" and version.run_id not in dead:
            continue  # its training is still deciding
        number = str(version.version)
        held = [a for a in (CHAMPION, CHALLENGER) if aliases.get(a) == number]
        intended = source.data.tags.get(INTENDED_TAG) if source is not None else None
        ours = source is not None and PID_TAG in source.data.tags
        if held:
            decision = held[0]
            reason = (
                f"recorded by registry check: it holds the alias {decision}, but the "
                "training process ended before recording why"
                + (f" (its gate: {intended})" if intended else "")
            )
        else:
            decision = REFUSED
            reason = (
                NO_DECISION + (f" (its gate had decided {intended})" if intended else "")
                if ours or source is None or version.tags.get(DECISION_TAG) == PENDING
                else "no decision: registered outside `leadscore train`"
            )
        if fix:
            run_id = version.run_id if source is not None else None
            race_tolerant(
                partial(record_decision, client, model_name, number, run_id, decision, reason)
            )
        report.damages.append(
            Damage(
                "version",
                number,
                f"{model_name} version {number} (run {version.run_id}) had no promotion "
                + (f"decision: marked {decision}: {reason}" if fix else f"decision: {reason}"),
            )
        )

    for run_id, why in dead.items():
        run = runs[run_id]
        whole = run.data.tags.get(DECISION_TAG, PENDING) != PENDING
        status = "FINISHED" if whole else "FAILED"
        if fix:
            race_tolerant(partial(client.set_tag, run_id, ENDED_TAG, f"{DEAD_RUN} ({why})"))
            client.set_terminated(run_id, status)
        phase = run.data.tags.get(PHASE_TAG)
        report.damages.append(
            Damage(
                "run",
                run_id,
                f"run {run_id} left RUNNING by a dead process ({why}"
                + (f"; last phase {phase}" if phase else "")
                + ")"
                + (f": marked {status}" if fix else f": would be marked {status}"),
            )
        )
        ids = [run.info.experiment_id]
        # (MLflow 3.17's SQL store does not filter logged models by status)
        for model in client.search_logged_models(ids, filter_string=f"source_run_id = '{run_id}'"):
            if str(model.status) != "PENDING":
                continue
            if fix:
                client.finalize_logged_model(model.model_id, "FAILED")
            report.damages.append(
                Damage(
                    "model",
                    model.model_id,
                    f"logged model {model.model_id} of run {run_id} left PENDING"
                    + (": marked FAILED" if fix else ": would be marked FAILED"),
                )
            )
    return report
