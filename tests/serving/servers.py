"""The real BentoML server for end-to-end tests: `bentoml serve serving.service:LeadScoring`
on a free loopback port, started in a process group of its own and stopped by it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

TOKEN = "e2e-token-4f9c2b7a"
READY_TIMEOUT = 120.0


@dataclass
class Server:
    url: str
    log: Path
    process: subprocess.Popen[bytes]

    def client(self, token: str | None = TOKEN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30.0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group (arbiter and workers), SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def server_env(
    tracking_uri: str, folder: Path, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The server's environment: this one, the registry, the test token, telemetry off."""
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": tracking_uri,
        "LEADSCORE_API_TOKEN": TOKEN,
        "BENTOML_DO_NOT_TRACK": "true",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "BENTOML_HOME": str(folder / "bentoml"),
        "OMP_NUM_THREADS": "1",
    }
    env.pop("LEADSCORE_MODEL_URI", None)
    env.update(extra or {})
    return env


@contextmanager
def running_server(
    tracking_uri: str,
    folder: Path,
    extra_env: Mapping[str, str] | None = None,
    args: tuple[str, ...] = (),
) -> Iterator[Server]:
    """Start the server (cwd `folder`, log `folder/server.log`), wait for `/readyz`, yield it,
    stop it. `extra_env` adds to or overrides `server_env`; `args` go to `bentoml serve`."""
    port = free_port()
    log = folder / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bentoml",
                "serve",
                "serving.service:LeadScoring",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *args,
            ],
            cwd=folder,
            env=server_env(tracking_uri, folder, extra_env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"server exited ({process.returncode}):\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"server not ready in {READY_TIMEOUT:.0f} s:\n{log.read_text()[-3000:]}"
                )
            time.sleep(0.3)
        yield Server(url, log, process)
    finally:
        stop(process)
