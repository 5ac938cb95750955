"""A real MLflow tracking server on loopback: `leadscore train` logs to it over HTTP,
`leadscore score` loads the champion from its registry, and its web UI shows the runs
and the evaluation report (headless Chromium, driven over the DevTools protocol).

One server per module: it takes 20-75 s to start on a 2-core machine. Each test points
MLflow at it for its own duration and uses an experiment of its own.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from cli.main import app
from features.generate import Demo
from features.timestamps import AsOf
from models.mlflow_store import experiment_url
from models.pyfunc import load_scorer
from tests.browser import CHROMIUM, CHROMIUM_FLAGS
from tests.conftest import DEMO_AS_OF
from tests.training.test_registry_integrity import tiny_data as tiny_data
from tests.training.test_report import (
    BLOCKED_PROBE,
    CHARTS,
    example_result,
)
from training.report import render_html
from training.templating import CSP
from training.tracking import (
    EXPERIMENT_KIND_TAG,
    configure,
    ensure_experiment,
    log_evaluation_report,
)

pytestmark = pytest.mark.slow
runner = CliRunner()
STARTUP_SECONDS = 240
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.is_file(), reason="no /usr/bin/chromium (bash scripts/install-chromium)"
)


# -- the server ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Server:
    url: str
    root: Path  # the server's own files: mlflow.db, artifacts/, server.log

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    def get(self, endpoint: str, **params: str) -> requests.Response:
        return requests.get(f"{self.url}/{endpoint}", params=params, timeout=60)

    def api(self, endpoint: str, **params: str) -> dict[str, Any]:
        """A GET of MLflow's REST API (`/api/2.0/mlflow/...`) that must succeed."""
        response = self.get(f"api/2.0/mlflow/{endpoint}", **params)
        assert response.status_code == 200, (endpoint, response.status_code, response.text[:500])
        return dict(response.json())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def log_tail(root: Path) -> str:
    return (root / "server.log").read_text(errors="replace")[-3000:]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`mlflow server` with a SQLite store and proxied artifacts, on a free loopback port."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING")}
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    # no GenAI job runner (8 more processes, a huey store in /dev/shm): nothing here uses it
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination", str(root / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1",
    ]  # fmt: skip
    with (root / "server.log").open("wb") as log:
        # its own process group: the uvicorn processes it starts stop with it
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root,
            start_new_session=True,
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"mlflow server exited with {process.returncode}:\n{log_tail(root)}")
            with contextlib.suppress(requests.ConnectionError, requests.Timeout):
                if requests.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(
                    f"mlflow server not healthy after {STARTUP_SECONDS} s:\n{log_tail(root)}"
                )
            time.sleep(0.5)
        yield Server(url, root)
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """The server and the workers it started (its process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


@pytest.fixture
def remote(server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """MLflow and the leadscore commands pointed at the server for one test."""
    before = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    configure(server.url)
    yield server
    mlflow.set_tracking_uri(before[0])
    mlflow.set_registry_uri(before[1])


# -- training and scoring against it ------------------------------------------------------------
def test_train_logs_to_the_server_and_score_loads_its_champion(
    remote: Server,
    small_leads_csv: Path,
    small_leads: pd.DataFrame,
    small_demo: Demo,
    fast_config_file: Path,
    tmp_path: Path,
) -> None:
    events = tmp_path / "events.parquet"
    small_demo.events.to_parquet(events, index=False)
    trained = runner.invoke(
        app,
        ["train", "--data", str(small_leads_csv), "--events", str(events), "--spec", "hubspot",
         "--config", str(fast_config_file)],
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    assert "version 1 as champion" in " ".join(trained.output.split())
    # nothing on this machine: no database, no ./mlruns, no mlartifacts
    assert not {"mlflow.db", "mlruns", "mlartifacts"} & {p.name for p in tmp_path.iterdir()}

    experiment = remote.api("experiments/get-by-name", experiment_name="leadscore")["experiment"]
    tags = {t["key"]: t["value"] for t in experiment.get("tags", [])}
    assert tags[EXPERIMENT_KIND_TAG] == "custom_model_development"
    assert experiment["artifact_location"] == f"mlflow-artifacts:/{experiment['experiment_id']}"
    runs = requests.post(
        f"{remote.url}/api/2.0/mlflow/runs/search",
        json={"experiment_ids": [experiment["experiment_id"]]},
        timeout=60,
    ).json()["runs"]
    assert len(runs) == 1
    run = runs[0]
    run_id = run["info"]["run_id"]
    assert run["info"]["status"] == "FINISHED"
    assert run["info"]["artifact_uri"].startswith("mlflow-artifacts:/")
    metrics = {m["key"]: m["value"] for m in run["data"]["metrics"]}
    assert 0.6 < metrics["test.full.roc_auc"] <= 1.0
    tops = {f["path"] for f in remote.api("artifacts/list", run_id=run_id)["files"]}
    assert {"evaluation", "plots", "report.json", "spec.yaml", "thresholds.json"} <= tops
    listed = remote.api("artifacts/list", run_id=run_id, path="evaluation")["files"]
    evaluation = {f["path"] for f in listed}
    assert evaluation == {"evaluation/report.html", "evaluation/report.json"}

    # the report as MLflow's UI fetches it
    page = remote.get("get-artifact", path="evaluation/report.html", run_uuid=run_id)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in page.text
    assert "<h1>Evaluation of hubspot-contacts</h1>" in page.text
    report = remote.get("get-artifact", path="evaluation/report.json", run_uuid=run_id).json()
    assert report["model"]["run_id"] == run_id
    assert report["data"]["rows"] > 100

    # the registry: version 1 of this run as champion, its model files on the server
    version = remote.api("registered-models/alias", name="lead-scorer", alias="champion")[
        "model_version"
    ]
    assert (version["version"], version["run_id"]) == ("1", run_id)
    model_id = version["source"].removeprefix("models:/")
    location = remote.api(f"logged-models/{model_id}")["model"]["info"]["artifact_uri"]
    assert location.startswith("mlflow-artifacts:/")
    stored = location.removeprefix("mlflow-artifacts:/")
    mlmodel = remote.get(f"api/2.0/mlflow-artifacts/artifacts/{stored}/MLmodel")
    assert mlmodel.status_code == 200 and "python_function" in mlmodel.text
    assert (remote.artifacts / stored / "MLmodel").is_file()
    run_files = remote.artifacts / experiment["experiment_id"] / run_id / "artifacts"
    assert (run_files / "evaluation" / "report.html").is_file()

    out = tmp_path / "scores.csv"
    scored = runner.invoke(
        app,
        ["score", "--data", str(small_leads_csv), "--out", str(out), "--events", str(events),
         "--model", "models:/lead-scorer@champion", "--as-of", DEMO_AS_OF],
    )  # fmt: skip
    assert scored.exit_code == 0, scored.output
    scores = pd.read_csv(out, dtype={"hs_object_id": str})
    assert scores["hs_object_id"].tolist() == small_leads["hs_object_id"].tolist()
    assert set(scores["model_version"].astype(str)) == {"1"}
    assert scores["probability"].between(0, 1).all()
    assert scores["probability"].nunique() > 100


def test_overlapping_and_killed_trainings_keep_the_server_registry_right(
    remote: Server, tiny_data: tuple[Path, Path], small_leads: pd.DataFrame, tmp_path: Path
) -> None:
    """Three trainings at once over HTTP, one killed after registering its version while
    it holds the promotion lease (a registered-model tag): the other two wait for the
    lease, take it over from the dead process, and promote one after the other; `registry
    check` reports the undecided version and the dead run, and the champion scores."""
    from tests.training.test_registry_integrity import child_env, leadscore
    from training.registry import DECISION_TAG, LOCK_TAG

    data, tiny = tiny_data
    config = tmp_path / "overlap.yaml"
    settings = yaml.safe_load(tiny.read_text())
    settings["registry"] = {"model_name": "overlap", "experiment": "overlap"}
    config.write_text(yaml.safe_dump(settings))
    train = ("train", "--data", str(data), "--config", str(config), "--promote", "always")
    killed = leadscore(*train, env=child_env(remote.url, LEADSCORE_TEST_KILL_AT="after-register"),
                       cwd=tmp_path)  # fmt: skip
    assert killed.wait(timeout=300) == -9, killed.communicate()[0]
    children = [leadscore(*train, env=child_env(remote.url), cwd=tmp_path) for _ in range(2)]
    outputs = [child.communicate(timeout=300)[0] for child in children]
    errors = [line for output in outputs for line in output.splitlines() if "error" in line]
    assert [child.returncode for child in children] == [0, 0], errors or outputs
    said = " ".join(" ".join(outputs).split())
    assert "Traceback" not in said
    # the first of them to take the lease marked the killed one's version and run
    assert "registry check: overlap version 1 (run" in said
    assert "marked refused: no decision: the training process ended before promotion" in said
    assert "left RUNNING by a dead process" in said
    for version in ("2", "3"):  # the later one beat the newer champion it re-read
        assert f"registered overlap version {version} as champion" in said

    client = MlflowClient(remote.url, remote.url)
    decisions = {
        str(v.version): v.tags[DECISION_TAG]
        for v in client.search_model_versions("name = 'overlap'")
    }
    assert decisions == {"1": "refused", "2": "champion", "3": "champion"}
    assert str(client.get_model_version_by_alias("overlap", "champion").version) == "3"
    assert LOCK_TAG not in client.get_registered_model("overlap").tags
    checked = runner.invoke(
        app, ["registry", "check", "--model-name", "overlap", "--experiment", "overlap",
              "--exit-code"],
    )  # fmt: skip
    assert checked.exit_code == 0, checked.output
    scored = load_scorer("models:/overlap@champion").score(
        small_leads.head(20), as_of=AsOf.of(DEMO_AS_OF)
    )
    assert scored["probability"].between(0, 1).all()


# -- its web UI, in headless Chromium -----------------------------------------------------------
class DevToolsError(RuntimeError):
    pass


class DevTools:
    """The Chrome DevTools protocol over one WebSocket: the page, and the frames that
    run in processes of their own (MLflow's sandboxed artifact iframe is one), each
    reached through its session."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.frames: list[str] = []
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            data = json.loads(message.data)
            future = self.replies.pop(data.get("id"), None)
            if future is not None:
                future.set_result(data)
            elif (
                data.get("method") == "Target.attachedToTarget"
                and data["params"]["targetInfo"]["type"] == "iframe"
            ):
                self.frames.append(data["params"]["sessionId"])

    async def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        number = next(self.ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.replies[number] = future
        message: dict[str, Any] = {"id": number, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        await self.ws.send_str(json.dumps(message))
        reply = await asyncio.wait_for(future, 60)
        if "error" in reply:
            raise DevToolsError(f"{method}: {reply['error']}")
        return dict(reply.get("result", {}))

    async def value(self, expression: str, session: str | None = None) -> Any:
        result = await self.call(
            "Runtime.evaluate", session, expression=expression, returnByValue=True
        )
        return result.get("result", {}).get("value")

    async def until(self, expression: str, session: str | None = None, seconds: float = 90) -> Any:
        """The value of `expression` once it is truthy."""
        deadline = time.monotonic() + seconds
        while True:
            with contextlib.suppress(DevToolsError):  # a frame that is being replaced
                value = await self.value(expression, session)
                if value:
                    return value
            if time.monotonic() > deadline:
                raise AssertionError(f"still false after {seconds} s: {expression}")
            await asyncio.sleep(0.25)

    async def frame(self, url_prefix: str, seconds: float = 90) -> str:
        """The session of the out-of-process frame whose document's URL starts so."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for session in list(self.frames):
                with contextlib.suppress(DevToolsError):
                    if str(await self.value("location.href", session)).startswith(url_prefix):
                        return session
            await asyncio.sleep(0.25)
        raise AssertionError(f"no frame showing {url_prefix}… after {seconds} s")

    async def screenshot(self, path: Path) -> None:
        shot = await self.call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))


@contextlib.asynccontextmanager
async def chromium(profile: Path) -> AsyncIterator[DevTools]:
    import aiohttp  # an MLflow dependency: a WebSocket client without another package

    process = subprocess.Popen(
        [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
         "--remote-debugging-port=0", "--window-size=1400,1000", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.is_file() and port_file.read_text().strip()):
            assert process.poll() is None and time.monotonic() < deadline, "chromium did not start"
            await asyncio.sleep(0.1)
        port = port_file.read_text().split()[0]
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/json/list") as listing:
                targets = await listing.json()
            page = next(t for t in targets if t["type"] == "page")
            async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                tools = DevTools(ws)
                await tools.call(
                    "Target.setAutoAttach", autoAttach=True, waitForDebuggerOnStart=False,
                    flatten=True,
                )  # fmt: skip
                try:
                    yield tools
                finally:
                    tools.reader.cancel()
    finally:
        process.terminate()
        process.wait(timeout=30)


REPORT_STATE = """document.readyState === "complete" && Array.from(document.images).every(
  (i) => i.complete && i.naturalWidth > 0) && {
  title: document.title,
  csp: document.querySelector('meta[http-equiv="Content-Security-Policy"]')?.content ?? null,
  images: Array.from(document.images).map((i) => [i.id, i.naturalWidth]),
  scriptRan: document.body.dataset.inlineScriptRan ?? null,
}"""
VIEWER = """(() => { const f = document.querySelector("iframe.mlflow-html-iframe");
  const r = f && f.getBoundingClientRect();
  return f && {src: f.src, sandbox: f.getAttribute("sandbox"),
               box: [r.left, r.top, r.right, r.bottom].map(Math.round)}; })()"""


def log_report_run(experiment: str, tmp_path: Path) -> tuple[str, str]:
    """A run with the example evaluation report, and two probes of the policy: the report
    with an inline script (that must not run) and, as a control, the same without the
    policy (where it must run: the viewer's sandbox allows scripts)."""
    uri = mlflow.get_tracking_uri()
    experiment_id = ensure_experiment(experiment, uri)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        pass
    log_evaluation_report(example_result(), run.info.run_id)
    page = render_html(example_result(n=800)).replace("</main>", BLOCKED_PROBE + "</main>", 1)
    for folder, text in {
        "probe": page,
        "control": page.replace(f'<meta http-equiv="Content-Security-Policy" content="{CSP}">', ""),
    }.items():
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "report.html").write_text(text, encoding="utf-8")
        MlflowClient().log_artifacts(run.info.run_id, str(tmp_path / folder), folder)
    return experiment_id, run.info.run_id


def orange_pixels(path: Path, box: list[int]) -> int:
    """Pixels of matplotlib's orange (#ff7f0e, a line in the gains chart; in no style of
    the report) inside `box` (left, top, right, bottom) of a screenshot."""
    import matplotlib.image

    left, top, right, bottom = box
    pixels = matplotlib.image.imread(path)[top:bottom, left:right, :3]
    return int((np.abs(pixels - np.array([0xFF, 0x7F, 0x0E]) / 255).max(axis=2) < 0.08).sum())


@pytest.mark.browser
@needs_chromium
def test_the_evaluation_report_shows_in_mlflow_s_artifact_viewer(
    remote: Server, tmp_path: Path
) -> None:
    """MLflow 3.17 fetches an HTML artifact, wraps it in a Blob and shows it in
    `<iframe sandbox="allow-scripts" src="blob:…">`: the report's charts must load there,
    and its own policy must still refuse scripts, which that sandbox would allow."""
    experiment_id, run_id = log_report_run("report-viewer", tmp_path)
    shot = tmp_path / "mlflow-artifact-view.png"

    async def look() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        async with chromium(tmp_path / "profile") as browser:
            for artifact in ("evaluation/report.html", "probe/report.html", "control/report.html"):
                # a page of its own: within the UI, the previous artifact's frame lingers
                await browser.call("Page.navigate", url="about:blank")
                url = experiment_url(remote.url, experiment_id, run_id, artifact)
                await browser.call("Page.navigate", url=url)
                viewer = await browser.until(VIEWER)
                frame = await browser.frame(viewer["src"])
                seen[artifact] = {"viewer": viewer, **await browser.until(REPORT_STATE, frame)}
                if artifact == "evaluation/report.html":
                    await browser.value(
                        'document.getElementById("chart-gains").scrollIntoView()', frame
                    )
                    await asyncio.sleep(1)
                    await browser.screenshot(shot)
        return seen

    seen = asyncio.run(look())
    report = seen["evaluation/report.html"]
    assert report["viewer"]["sandbox"] == "allow-scripts"
    assert report["viewer"]["src"].startswith(f"blob:{remote.url}/")
    left, top, right, bottom = report["viewer"]["box"]
    assert right - left > 400 and bottom - top > 300, report["viewer"]
    assert report["title"] == "leadscore evaluation: hubspot 3"
    assert report["csp"] == CSP
    assert {chart for chart, _ in report["images"]} == CHARTS
    assert all(width >= 600 for _, width in report["images"]), report["images"]
    # the charts were painted in MLflow's pane, not only loaded
    assert orange_pixels(shot, report["viewer"]["box"]) > 150, shot
    # the policy, not the sandbox, keeps scripts out: the control shows the probe works
    assert seen["control/report.html"]["scriptRan"] == "yes"
    assert seen["probe/report.html"]["csp"] == CSP
    assert seen["probe/report.html"]["scriptRan"] is None


@pytest.mark.browser
@needs_chromium
def test_an_experiment_link_opens_on_its_runs(remote: Server, tmp_path: Path) -> None:
    """A fresh browser opens MLflow 3.17 in its GenAI view (traces, token usage) whatever
    the experiment's kind tag; `experiment_url` opens the experiment's runs."""
    experiment_id = ensure_experiment("runs-view", remote.url)
    with mlflow.start_run(experiment_id=experiment_id, run_name="a-leadscore-run"):
        pass

    async def look() -> tuple[str, str]:
        async with chromium(tmp_path / "profile") as browser:
            await browser.call("Page.navigate", url=experiment_url(remote.url, experiment_id))
            text = await browser.until(
                'document.body.innerText.includes("a-leadscore-run") && document.body.innerText'
            )
            return str(await browser.value("location.href")), str(text)

    href, text = asyncio.run(look())
    assert f"#/experiments/{experiment_id}/runs?" in href, href
    assert "workflowType=machine_learning" in href
    assert "Model registry" in text  # the machine-learning sidebar, not the GenAI one
