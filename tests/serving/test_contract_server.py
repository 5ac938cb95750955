"""The real server (issue 13, items 4, 6 and 7): one model version for every worker through a
crash and a promotion until an explicit reload; a fail-fast start; and a bounded
schemathesis run against `/docs.json` (no 5xx, no answer that disagrees with the document).

The server runs on a private copy of the session's registry (this module promotes a new
version there), with two workers so that "every worker" means something."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.serving.servers import TOKEN, Server, free_port, running_server, server_env
from tests.serving.support import Registry

BIN = Path(sys.executable).parent
START_LIMIT = 30.0  # seconds within which a server that cannot start must have exited


@pytest.fixture(scope="module")
def private_registry(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A copy of the session's SQLite registry (artifacts stay where they are)."""
    folder = tmp_path_factory.mktemp("private-registry")
    shutil.copy(registry.folder / "mlflow.db", folder / "mlflow.db")
    return f"sqlite:///{folder / 'mlflow.db'}"


@pytest.fixture(scope="module")
def server(private_registry: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    extra = {"BENTOML_CONFIG_OPTIONS": "services.leadscore.workers=2"}
    with running_server(private_registry, tmp_path_factory.mktemp("server2"), extra) as started:
        yield started


def versions_seen(server: Server, requests: int = 16) -> set[str]:
    """The versions `/model` and `/score` name over fresh connections (spread over workers)."""
    seen = set()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for i in range(requests):
        with httpx.Client(base_url=server.url, headers=headers, timeout=30.0) as client:
            if i % 2:
                seen.add(client.get("/model").json()["version"])
            else:
                answer = client.post("/score", json={"leads": [{"jobtitle": "CEO"}]}).json()
                seen.add(answer["model"]["version"])
    return seen


def workers(server: Server) -> list[psutil.Process]:
    return psutil.Process(server.process.pid).children()


def test_schemathesis_finds_no_5xx_and_no_answer_off_the_document(
    server: Server, tmp_path: Path
) -> None:
    started = time.monotonic()
    run = subprocess.run(
        [
            str(BIN / "st"),
            "run",
            f"{server.url}/docs.json",
            "--header",
            f"Authorization: Bearer {TOKEN}",
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,"
            "response_schema_conformance",
            "--mode",
            "all",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "60",
            "--seed",
            "1313",
            "--no-shrink",
            "--generation-database",
            "none",
        ],
        capture_output=True,
        text=True,
        timeout=170,
        cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"},
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    assert "No issues found" in output, output[-3000:]
    generated = int(output.split(" generated")[0].rsplit("\n", 1)[-1].split()[-1])
    assert generated >= 300, output[-2000:]
    assert time.monotonic() - started < 120


def test_one_version_through_a_crash_and_a_promotion_until_reload(
    server: Server, private_registry: str
) -> None:
    from mlflow.tracking import MlflowClient

    assert versions_seen(server) == {"1"}
    with server.client() as client:
        info = client.get("/model").json()
    assert (info["version"], info["alias"], info["uri"]) == (
        "1",
        "champion",
        "models:/lead-scorer@champion",
    )
    # A promotion: version 2 becomes champion while the server runs.
    registry = MlflowClient(tracking_uri=private_registry, registry_uri=private_registry)
    first = registry.get_model_version("lead-scorer", "1")
    second = registry.create_model_version("lead-scorer", first.source, run_id=first.run_id)
    registry.set_registered_model_alias("lead-scorer", "champion", second.version)
    assert str(second.version) == "2"
    # A crash: one worker killed; circus starts another, which must not read the alias.
    before = {p.pid for p in workers(server)}
    assert len(before) == 2
    victim = sorted(before)[0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while True:
        now = {p.pid for p in workers(server)}
        log = server.log.read_text(errors="replace")
        if len(now) == 2 and victim not in now and f"(pid {victim}) ended" in log:
            break
        assert time.monotonic() < deadline, log[-3000:]
        time.sleep(0.3)
    deadline = time.monotonic() + 60
    while httpx.get(f"{server.url}/readyz", timeout=5).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.3)
    time.sleep(1.0)  # the new worker takes connections once initialized
    assert versions_seen(server, 24) == {"1"}
    (crash,) = [line for line in log.splitlines() if f"(pid {victim}) ended" in line]
    assert "[ERROR]" in crash and "restarted" in crash and "version 1" in crash
    assert log.count("worker ") and "started (pid" in log
    # The explicit move: authenticated, and then every worker serves version 2.
    assert httpx.post(f"{server.url}/admin/reload", timeout=30).status_code == 401
    with server.client() as client:
        moved = client.post("/admin/reload")
    assert moved.status_code == 200, moved.text
    assert moved.json() == {
        "changed": True,
        "previous": {"name": "lead-scorer", "version": "1"},
        "model": {"name": "lead-scorer", "version": "2"},
        "alias": "champion",
    }
    assert versions_seen(server, 24) == {"2"}
    with server.client() as client:
        again = client.post("/admin/reload").json()
        assert again["changed"] is False and again["model"]["version"] == "2"
        assert client.get("/model").json()["alias"] == "champion"


# -- fail fast ---------------------------------------------------------------------------------


def start(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, float]:
    """Run a start command that must end on its own: (exit code, output, seconds). One that
    does not is killed with every process it started (BentoML's workers run in sessions of
    their own, out of reach of a process-group kill)."""
    started = time.monotonic()
    log = cwd / "start.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        process.wait(timeout=START_LIMIT + 15)
    except subprocess.TimeoutExpired:
        tree = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
        for member in tree:
            with contextlib.suppress(psutil.Error):
                member.kill()
        process.wait(timeout=10)
    return process.returncode, log.read_text(errors="replace"), time.monotonic() - started


def bentoml_serve() -> list[str]:
    port = str(free_port())
    return [sys.executable, "-m", "bentoml", "serve", "serving.service:LeadScoring", "--port", port]


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"LEADSCORE_MODEL_URI": "models:/no-such-model@champion"}, "no-such-model@champion"),
        ({"LEADSCORE_HUBSPOT__FIT": "leadscore_score"}, "'leadscore_score' is set for"),
        ({"MLFLOW_TRACKING_URI": "http://127.0.0.1:{closed}"}, "did not answer"),
    ],
)
def test_bentoml_serve_refuses_to_start_in_one_line(
    registry: Registry, tmp_path: Path, extra: dict[str, str], says: str
) -> None:
    extra = {k: v.format(closed=free_port()) for k, v in extra.items()}
    env = server_env(registry.tracking_uri, tmp_path, extra)
    code, output, seconds = start(bentoml_serve(), env, tmp_path)
    assert code == 2, output[-3000:]
    assert seconds < START_LIMIT
    assert "Traceback" not in output
    (line,) = [x for x in output.splitlines() if "cannot start" in x]
    assert "[CRITICAL]" in line
    assert says in line


def test_leadscore_serve_refuses_an_unreachable_tracking_server(
    registry: Registry, tmp_path: Path
) -> None:
    env = server_env(f"http://127.0.0.1:{free_port()}", tmp_path)
    code, output, seconds = start([str(BIN / "leadscore"), "serve"], env, tmp_path)
    assert code == 2, output[-3000:]
    assert seconds < START_LIMIT
    assert "did not answer" in " ".join(output.split()) and "Traceback" not in output


@pytest.mark.stress
@pytest.mark.parametrize("command", ["bentoml", "leadscore"])
def test_a_tracking_server_that_never_answers_fails_within_30_s(
    tmp_path: Path, command: str
) -> None:
    """Connections are accepted (the kernel's backlog) but nothing ever answers: MLflow's
    defaults wait minutes; the bounded timeouts end the start in seconds."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        uri = f"http://127.0.0.1:{silent.getsockname()[1]}"
        env = server_env(uri, tmp_path)
        args = bentoml_serve() if command == "bentoml" else [str(BIN / "leadscore"), "serve"]
        code, output, seconds = start(args, env, tmp_path)
    assert code == 2, output[-3000:]
    assert seconds < START_LIMIT, seconds
    assert "did not answer" in " ".join(output.split())


# -- the docs page in a browser -----------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
# Chromium's own background calls (clock, sign-in, component updates): not the page's.
BROWSER_OWN = {
    "accounts.google.com",
    "clients2.google.com",
    "update.googleapis.com",
    "optimizationguide-pa.googleapis.com",
    "content-autofill.googleapis.com",
    "safebrowsing.googleapis.com",
}


def request_host(request: bytes) -> str:
    """The host a proxied request is for: `CONNECT host:443` or `GET http://host/…`."""
    parts = request.split(b" ", 2)
    if len(parts) < 2:
        return request.decode(errors="replace")
    target = parts[1].decode(errors="replace")
    return target.removeprefix("http://").split("/", 1)[0].rsplit(":", 1)[0]


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.is_file(), reason="no /usr/bin/chromium")
def test_the_docs_page_renders_and_nothing_leaves_loopback(server: Server, tmp_path: Path) -> None:
    """Every request that is not to loopback goes to a proxy that only records it: the page
    must render the API from this server alone (BentoML's loads a tag manager)."""
    attempts: list[bytes] = []
    with socket.socket() as proxy:
        proxy.bind(("127.0.0.1", 0))
        proxy.listen(16)
        proxy.settimeout(0.1)
        dom = subprocess.Popen(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={tmp_path / 'profile'}",
                f"--proxy-server=http://127.0.0.1:{proxy.getsockname()[1]}",
                "--virtual-time-budget=8000",
                "--dump-dom",
                f"{server.url}/",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        deadline = time.monotonic() + 90
        while dom.poll() is None and time.monotonic() < deadline:
            try:
                connection, _ = proxy.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(1)
                try:
                    attempts.append(connection.recv(200))
                except TimeoutError:
                    attempts.append(b"(connection without a request)")
        output, _ = dom.communicate(timeout=30)
    hosts = [request_host(attempt) for attempt in attempts]
    assert [h for h in hosts if h not in BROWSER_OWN] == [], hosts
    assert "/hubspot/score" in output and "/admin/reload" in output  # Swagger UI rendered
    assert "googletagmanager" not in output
