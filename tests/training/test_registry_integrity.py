"""The registry stays right when trainings overlap, die, or meet a store they cannot write.

The kill matrix runs real `leadscore train` processes that SIGKILL themselves at a phase
(`LEADSCORE_TEST_KILL_AT`, read by `training.registry.kill_point`), each against a
SQLite registry of its own that already has a champion; then `leadscore registry check`
must report exactly the damage, and the champion must load and score.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
import yaml
from mlflow.entities import Run, RunData, RunInfo, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from cli.main import app
from features.errors import LeadscoreError
from features.generate import generate_demo
from features.spec import DatasetSpec
from features.timestamps import AsOf
from models.mlflow_store import sqlite_database
from models.pyfunc import load_scorer
from tests.conftest import DEMO_AS_OF, NO_BASELINE_GATE, as_crm_text
from training.config import TrainConfig
from training.data import prepare
from training.registry import (
    DECISION_TAG,
    ENDED_TAG,
    HEARTBEAT_TAG,
    HOST_TAG,
    LOCK_TAG,
    PID_TAG,
    PROMOTION_TAG,
    TagLock,
    check_registry,
    death_of,
    host_name,
    open_store,
    promotion_lock,
)
from training.tracking import (
    configure,
    ensure_experiment,
    log_training_run,
    register_and_promote,
)
from training.train import TrainResult, train_scorer

runner = CliRunner()
NAME = "lead-scorer"
# smaller than the fast config: a killed process only has to reach its phase
TINY = {
    "booster": {"max_rounds": 20, "early_stopping_rounds": 5, "num_leaves": 4},
    "calibration_folds": 2,
    "shap_sample": 100,
    "snapshot": {"max_share": 1.0},
    "min_positives": 5,
    "registry": NO_BASELINE_GATE,
}


def leadscore(*args: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """`leadscore ARGS` in a process of its own (output captured)."""
    return subprocess.Popen(
        [sys.executable, "-c", "from cli.main import app; app()", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def child_env(uri: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSCORE_TEST")}
    return {**env, "MLFLOW_TRACKING_URI": uri, "MLFLOW_DISABLE_TELEMETRY": "true", **extra}


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """400 generated leads (what `leadscore generate --rows 400` writes) and a tiny config."""
    folder = tmp_path_factory.mktemp("tiny")
    data = folder / "leads.csv"
    as_crm_text(generate_demo(400, seed=7).contacts).to_csv(data, index=False)
    config = folder / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    return data, config


@pytest.fixture(scope="module")
def trained(small_leads: pd.DataFrame, hubspot_spec: DatasetSpec) -> TrainResult:
    config = TrainConfig.model_validate({**TINY, "min_positives": 50})
    return train_scorer(prepare(small_leads, hubspot_spec), hubspot_spec, config)


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with MLflow's schema, made once: creating one costs seconds."""
    database = tmp_path_factory.mktemp("empty") / "mlflow.db"
    open_store(f"sqlite:///{database}")
    return database


@pytest.fixture(scope="module")
def seeded_store(
    tmp_path_factory: pytest.TempPathFactory, empty_store: Path, trained: TrainResult
) -> Path:
    """A database where `lead-scorer` version 1 is champion, as `leadscore train` leaves
    it. Copies of it keep their artifacts (experiment and models) in this one's folder."""
    database = tmp_path_factory.mktemp("seeded") / "mlflow.db"
    shutil.copy(empty_store, database)
    uri = configure(f"sqlite:///{database}")
    with mlflow.start_run(experiment_id=ensure_experiment("leadscore", uri)):
        run_id, model_uri = log_training_run(trained, TrainConfig(), {"rows": 1}, None)
        promotion = register_and_promote(
            model_uri, run_id, trained, TrainConfig.model_validate(TINY).registry
        )
    assert (promotion.version, promotion.alias) == ("1", "champion")
    return database


def store_from(template: Path, folder: Path) -> str:
    """A copy of `template` in `folder`, as the tracking store of this process."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(template, folder / "mlflow.db")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = uri  # (the autouse fixture restores it)
    return configure(uri)


def champion_scores(uri: str, leads: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    """The champion's version, and its scores of a few leads (it loads and scores)."""
    configure(uri)
    version = str(MlflowClient().get_model_version_by_alias(NAME, "champion").version)
    scorer = load_scorer(f"models:/{NAME}@champion")
    scored = scorer.score(leads.head(20), as_of=AsOf.of(DEMO_AS_OF))
    assert scored["probability"].between(0, 1).all() and len(scored) == 20
    return version, scored


def check_lines(uri: str, *flags: str) -> tuple[int, list[str]]:
    os.environ["MLFLOW_TRACKING_URI"] = uri
    result = runner.invoke(app, ["registry", "check", *flags])
    return result.exit_code, result.output.strip().splitlines()


# -- many trainings on a new database -----------------------------------------------------------
def test_processes_opening_a_new_database_at_once_create_its_schema_once(tmp_path: Path) -> None:
    """Without the lock, two of three such processes fail in MLflow's migration
    (`duplicate column name: step`, `table _alembic_tmp_latest_metrics already exists`)."""
    uri = f"sqlite:///{tmp_path / 'new' / 'mlflow.db'}"
    code = (
        "import sys; from mlflow.tracking import MlflowClient; "
        "from training.registry import open_store; open_store(sys.argv[1]); "
        "MlflowClient(sys.argv[1]).create_experiment(f'e{sys.argv[2]}')"
    )
    children = [
        subprocess.Popen(
            [sys.executable, "-c", code, uri, str(i)],
            env=child_env(uri),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(3)
    ]
    outputs = [child.communicate(timeout=240)[0] for child in children]
    assert [child.returncode for child in children] == [0, 0, 0], outputs
    names = {e.name for e in MlflowClient(uri).search_experiments()}
    assert names == {"Default", "e0", "e1", "e2"}
    assert (tmp_path / "new" / "mlflow.db.lock").is_file()


# -- a store that cannot be written -------------------------------------------------------------
def read_only_uri(tmp_path: Path, empty_store: Path) -> str:
    """An existing database that SQLite opens read-only (`mode=ro`): what a read-only mount
    or file gives a non-root user. (As root, `chmod 444` does not stop SQLite writing.)"""
    store_from(empty_store, tmp_path / "ro")
    return f"sqlite:///file:{tmp_path / 'ro' / 'mlflow.db'}?mode=ro&uri=true"


def under_a_file_uri(tmp_path: Path, empty_store: Path) -> str:
    """A database whose folder cannot be created: its parent is a regular file."""
    (tmp_path / "a-file").write_text("not a folder")
    return f"sqlite:///{tmp_path / 'a-file' / 'mlflow.db'}"


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (read_only_uri, "attempt to write a readonly database"),
        (under_a_file_uri, "cannot create the folder"),
    ],
)
def test_a_store_that_cannot_be_written_is_one_line_and_exit_2(
    make: Any,
    why: str,
    tmp_path: Path,
    empty_store: Path,
    small_leads_csv: Path,
    fast_config_file: Path,
) -> None:
    uri = make(tmp_path, empty_store)
    os.environ["MLFLOW_TRACKING_URI"] = uri
    result = runner.invoke(
        app, ["train", "--data", str(small_leads_csv), "--config", str(fast_config_file)]
    )
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and uri in errors[0] and why in errors[0], result.output
    assert "cannot be written" in errors[0]
    assert "Traceback" not in result.output

    checked = runner.invoke(app, ["registry", "check"])
    if make is under_a_file_uri:
        assert checked.exit_code == 0 and "nothing to check" in checked.output
    else:  # marking needs a write; reading it still works
        assert checked.exit_code == 2 and "cannot be written" in checked.output
        summary = f"registry check of {NAME} (0 version(s), no champion) and experiment leadscore"
        assert check_lines(uri, "--no-fix") == (0, [f"{summary}: no damage"])


# -- kill -9 at each phase ----------------------------------------------------------------------
PHASES = ["training", "logging-model", "after-register", "after-alias", "after-decision"]


def test_a_training_killed_at_any_phase_leaves_a_champion_and_a_readable_story(
    tmp_path: Path,
    seeded_store: Path,
    tiny_data: tuple[Path, Path],
    small_leads: pd.DataFrame,
) -> None:
    data, config = tiny_data
    uris = {phase: store_from(seeded_store, tmp_path / phase) for phase in PHASES}
    _, before = champion_scores(uris["training"], small_leads)
    children = {
        phase: leadscore(
            "train",
            "--data",
            str(data),
            "--config",
            str(config),
            "--promote",
            "always",
            env=child_env(uris[phase], LEADSCORE_TEST_KILL_AT=phase),
            cwd=tmp_path / phase,
        )
        for phase in PHASES
    }
    for phase, child in children.items():
        output = child.communicate(timeout=300)[0]
        assert child.returncode == -9, (phase, output)

    runs = {}
    for phase, uri in uris.items():
        client = MlflowClient(uri, uri)
        (run,) = client.search_runs(
            [client.get_experiment_by_name("leadscore").experiment_id],
            "attributes.status = 'RUNNING'",
        )
        runs[phase] = run.info.run_id
        assert run.data.tags[PID_TAG].isdigit() and run.data.tags[HOST_TAG] == host_name()

    dead = "left RUNNING by a dead process (its process (pid"
    expected = {
        "training": [f"run {runs['training']} {dead}", "phase training): would be marked FAILED"],
        "logging-model": [
            f"run {runs['logging-model']} {dead}",
            "phase logging): would be marked FAILED",
        ],
        "after-register": [
            f"{NAME} version 2 (run {runs['after-register']}) had no promotion decision: no "
            "decision: the training process ended before promotion (its gate had decided "
            "champion: promoted because --promote always)",
            f"run {runs['after-register']} {dead}",
            "would be marked FAILED",
        ],
        "after-alias": [
            f"{NAME} version 2 (run {runs['after-alias']}) had no promotion decision: recorded "
            "by registry check: it holds the alias champion, but the training process ended "
            "before recording why (its gate: champion: promoted because --promote always)",
            f"run {runs['after-alias']} {dead}",
            "would be marked FAILED",
        ],
        "after-decision": [f"run {runs['after-decision']} {dead}", "would be marked FINISHED"],
    }
    champions = {"after-alias": "2", "after-decision": "2"}
    for phase, uri in uris.items():
        code, lines = check_lines(uri, "--no-fix", "--exit-code")
        assert code == 1, (phase, lines)
        text = "\n".join(lines)
        for piece in expected[phase]:
            assert piece in text, (phase, piece, text)
        damages = len([p for p in expected[phase] if p.startswith(("run ", NAME))])
        assert len(lines) == damages + 1, (phase, lines)
        assert lines[-1].endswith(f"{damages} damaged item(s) (not marked: --no-fix)")

        # marked: by `registry check`, or (after-register) by the next `leadscore train`
        if phase == "after-register":
            os.environ["MLFLOW_TRACKING_URI"] = uri
            again = runner.invoke(
                app, ["train", "--data", str(data), "--config", str(config), "--promote", "never"]
            )
            assert again.exit_code == 0, again.output
            said = " ".join(again.output.split())
            assert "registry check: lead-scorer version 2" in said
            assert "marked refused: no decision: the training process ended before" in said
            assert f"run {runs[phase]} left RUNNING by a dead process" in said
            assert "version 3 as challenger" in said
        else:
            code, lines = check_lines(uri, "--exit-code")
            assert code == 1 and lines[-1].endswith(f"{damages} damaged item(s) marked"), lines
        assert check_lines(uri, "--exit-code")[0] == 0

        client = MlflowClient(uri, uri)
        run = client.get_run(runs[phase])
        assert run.info.status == ("FINISHED" if phase == "after-decision" else "FAILED")
        assert "the training process ended without finishing the run" in run.data.tags[ENDED_TAG]
        for version in client.search_model_versions(f"name = '{NAME}'"):
            assert version.tags[DECISION_TAG] in ("champion", "challenger", "refused")
            assert version.tags[PROMOTION_TAG]
        if phase in ("after-register", "after-alias"):
            assert client.get_model_version(NAME, "2").tags[DECISION_TAG] == (
                "refused" if phase == "after-register" else "champion"
            )
            assert (
                run.data.tags[DECISION_TAG]
                == client.get_model_version(NAME, "2").tags[DECISION_TAG]
            )
        version, scores = champion_scores(uri, small_leads)
        assert version == champions.get(phase, "1"), phase
        if version == "1":
            pd.testing.assert_frame_equal(scores, before)


# -- liveness -----------------------------------------------------------------------------------
def gone_pid() -> int:
    """The id of a process of this host that has ended (and been reaped)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def a_run(tags: dict[str, str], started: float, status: str = "RUNNING") -> Run:
    info = RunInfo("r1", "0", "me", status, int(started * 1000), None, "active")
    return Run(info, RunData(tags=[RunTag(k, v) for k, v in tags.items()]))


@pytest.mark.parametrize(
    ("tags", "dead"),
    [
        ({"pid": "gone", "host": "here", "beat": 0}, "its process (pid"),
        ({"pid": "me", "host": "here", "beat": 0}, None),
        ({"pid": "me", "host": "here", "beat": 400}, "last heartbeat"),  # a reused pid
        ({"pid": "1", "host": "elsewhere", "beat": 10}, None),
        ({"pid": "1", "host": "elsewhere", "beat": 301}, "last heartbeat"),
        ({}, "no heartbeat; started"),
    ],
)
def test_a_running_run_is_dead_when_its_process_is_gone_or_its_heartbeat_stale(
    tags: dict[str, Any], dead: str | None
) -> None:
    now = time.time()
    pid = {"gone": str(gone_pid()), "me": str(os.getpid())}.get(tags.get("pid", ""), "1")
    host = host_name() if tags.get("host") == "here" else "another-host"
    run_tags = (
        {PID_TAG: pid, HOST_TAG: host, HEARTBEAT_TAG: f"{now - tags['beat']:.0f}"} if tags else {}
    )
    why = death_of(a_run(run_tags, started=now - 1000), now=now)
    assert (why is None) if dead is None else (why is not None and dead in why), why
    assert death_of(a_run(run_tags, now - 1000, status="FINISHED"), now=now) is None


def test_a_pending_logged_model_of_a_dead_run_is_marked_failed(
    tmp_path: Path, empty_store: Path
) -> None:
    """What a kill during model logging leaves: the run RUNNING, its model PENDING."""
    uri = store_from(empty_store, tmp_path)
    with mlflow.start_run(experiment_id=ensure_experiment("leadscore", uri)) as run:
        mlflow.set_tags({PID_TAG: str(gone_pid()), HOST_TAG: host_name()})
        model = mlflow.initialize_logged_model(name="model")
    client = MlflowClient()
    client.update_run(run.info.run_id, "RUNNING")  # as a killed process leaves it
    assert client.get_logged_model(model.model_id).status == "PENDING"

    report = check_registry(client, NAME, "leadscore")
    assert [d.item for d in report.damages] == ["run", "model"]
    assert report.damages[1].text == (
        f"logged model {model.model_id} of run {run.info.run_id} left PENDING: marked FAILED"
    )
    assert client.get_logged_model(model.model_id).status == "FAILED"
    assert client.get_run(run.info.run_id).info.status == "FAILED"
    assert check_registry(client, NAME, "leadscore").damages == []


def test_versions_of_live_runs_and_older_leadscores_are_left_alone_others_are_reported(
    trained: TrainResult, tmp_path: Path, empty_store: Path
) -> None:
    uri = store_from(empty_store, tmp_path)
    client = MlflowClient()
    experiment = ensure_experiment("leadscore", uri)
    with mlflow.start_run(experiment_id=experiment):
        run_id, model_uri = log_training_run(trained, TrainConfig(), {"rows": 1}, None)
    # an older leadscore: its reason only (no decision tag)
    old = mlflow.register_model(model_uri, NAME).version
    client.set_model_version_tag(NAME, old, PROMOTION_TAG, "first model: no champion yet")
    # registered by hand, outside `leadscore train`
    by_hand = mlflow.register_model(model_uri, NAME).version
    # a training still deciding (its run RUNNING, this process alive)
    live = client.create_run(experiment, tags={PID_TAG: str(os.getpid()), HOST_TAG: host_name()})
    client.set_tag(live.info.run_id, HEARTBEAT_TAG, f"{time.time():.0f}")
    client.create_model_version(NAME, model_uri, live.info.run_id, {DECISION_TAG: "pending"})

    report = check_registry(client, NAME, "leadscore", fix=False)
    assert report.lines() == [
        f"{NAME} version {by_hand} (run {run_id}) had no promotion decision: no decision: "
        "registered outside `leadscore train`"
    ]


# -- the promotion lock -------------------------------------------------------------------------
def overlaps(spans: list[tuple[float, float]]) -> int:
    spans = sorted(spans)
    return sum(1 for a, b in itertools.pairwise(spans) if b[0] < a[1])


@pytest.mark.parametrize("kind", ["file", "tag"])
def test_promotions_of_one_model_never_interleave(
    kind: str, tmp_path: Path, empty_store: Path
) -> None:
    uri = store_from(empty_store, tmp_path)
    spans: list[tuple[float, float]] = []

    def promote() -> None:
        client = MlflowClient()
        lock = (
            promotion_lock(client, NAME, uri)
            if kind == "file"
            else TagLock(client, NAME, settle=0.3)
        )
        with lock:
            began = time.monotonic()
            lock.confirm()
            time.sleep(0.2)
            spans.append((began, time.monotonic()))

    threads = [threading.Thread(target=promote) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(spans) == 3 and overlaps(spans) == 0, spans
    if kind == "tag":  # released
        assert LOCK_TAG not in MlflowClient().get_registered_model(NAME).tags


def test_a_lease_of_a_dead_or_expired_holder_is_taken_over_and_the_holder_cannot_promote(
    tmp_path: Path, empty_store: Path
) -> None:
    store_from(empty_store, tmp_path)
    client = MlflowClient()
    holder = TagLock(client, NAME, settle=0.05)
    holder.__enter__()
    # a lease whose process is gone (this host)
    tag = (
        client.get_registered_model(NAME)
        .tags[LOCK_TAG]
        .replace(f'"pid": {os.getpid()}', f'"pid": {gone_pid()}')
    )
    client.set_registered_model_tag(NAME, LOCK_TAG, tag)
    with TagLock(client, NAME, settle=0.05, timeout=5), pytest.raises(LeadscoreError):
        holder.confirm()
    # a live holder's lease blocks until it expires
    with TagLock(client, NAME, settle=0.05, lease=0.5), TagLock(client, NAME, settle=0.05):
        pass


def test_a_failure_before_the_alias_moves_records_the_version_refused(
    trained: TrainResult, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, empty_store: Path
) -> None:
    uri = store_from(empty_store, tmp_path)
    with mlflow.start_run(experiment_id=ensure_experiment("leadscore", uri)):
        run_id, model_uri = log_training_run(trained, TrainConfig(), {"rows": 1}, None)

    def refuse(*_: Any) -> None:
        raise MlflowException("the registry said no")

    monkeypatch.setattr(MlflowClient, "set_registered_model_alias", refuse)
    with pytest.raises(MlflowException):
        register_and_promote(model_uri, run_id, trained, TrainConfig().registry)
    version = MlflowClient().get_model_version(NAME, "1")
    assert version.tags[DECISION_TAG] == "refused"
    assert version.tags[PROMOTION_TAG] == "refused: the registry said no"
    assert MlflowClient().get_run(run_id).data.tags[DECISION_TAG] == "refused"


@pytest.mark.parametrize(
    ("uri", "path"),
    [
        ("sqlite:////data/mlflow.db", "/data/mlflow.db"),
        ("sqlite:///file:/data/mlflow.db?mode=ro&uri=true", "/data/mlflow.db"),
        ("http://127.0.0.1:5000", None),
    ],
)
def test_the_database_of_a_tracking_uri(uri: str, path: str | None) -> None:
    assert sqlite_database(uri) == (Path(path) if path else None)


# -- stress: whole trainings at once on a new database ------------------------------------------
@pytest.mark.stress
def test_three_trainings_at_once_on_a_new_database_all_succeed(
    tmp_path: Path, tiny_data: tuple[Path, Path], small_leads: pd.DataFrame
) -> None:
    data, config = tiny_data
    uri = f"sqlite:///{tmp_path / 'new' / 'mlflow.db'}"
    children = [
        leadscore(
            "train", "--data", str(data), "--config", str(config), env=child_env(uri), cwd=tmp_path
        )
        for _ in range(3)
    ]
    outputs = [child.communicate(timeout=400)[0] for child in children]
    assert [c.returncode for c in children] == [0, 0, 0], outputs
    assert not any("Traceback" in output for output in outputs)
    said = [" ".join(output.split()) for output in outputs]
    registered = sorted(text.split("registered lead-scorer version ")[1][:1] for text in said)
    assert registered == ["1", "2", "3"]
    assert check_lines(uri, "--exit-code")[0] == 0
    champion_scores(uri, small_leads)
    assert sqlite_database(uri) is not None


def test_a_promotion_that_waited_for_the_lock_must_beat_the_champion_made_meanwhile(
    trained: TrainResult,
    small_leads: pd.DataFrame,
    hubspot_spec: DatasetSpec,
    tmp_path: Path,
    empty_store: Path,
) -> None:
    uri = store_from(empty_store, tmp_path)
    weak_config = TrainConfig.model_validate(
        {**TINY, "min_positives": 50, "booster": {"max_rounds": 1, "num_leaves": 2}}
    )
    weak = train_scorer(prepare(small_leads, hubspot_spec), hubspot_spec, weak_config)
    logged = {}
    for name, result in (("strong", trained), ("weak", weak)):
        with mlflow.start_run(experiment_id=ensure_experiment("leadscore", uri)):
            logged[name] = log_training_run(result, TrainConfig(), {"rows": 1}, None)
    outcome: dict[str, Any] = {}

    def promote_weak() -> None:
        run_id, model_uri = logged["weak"]
        outcome["weak"] = register_and_promote(model_uri, run_id, weak, TrainConfig().registry)

    client = MlflowClient()
    with promotion_lock(client, NAME, uri):  # another process promoting
        waiter = threading.Thread(target=promote_weak)
        waiter.start()
        time.sleep(0.5)
        assert "weak" not in outcome  # it waits
        model_uri = logged["strong"][1]
        strong = mlflow.register_model(model_uri, NAME, tags={DECISION_TAG: "champion"})
        client.set_registered_model_alias(NAME, "champion", strong.version)
    waiter.join(timeout=120)
    promotion = outcome["weak"]
    assert (promotion.version, promotion.alias) == ("2", "challenger"), promotion
    assert "lower AUC" in promotion.reason
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "1"
