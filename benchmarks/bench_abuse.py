"""Load and abuse of the scoring service on loopback: what issue 13 found, measured.

Run on demand (not part of the tests; 1–3 minutes per server):

    .venv/bin/python benchmarks/bench_abuse.py [--rows 4000] [--repo DIR ...]

It trains a small scorer on generated leads into a temporary MLflow registry, then starts
`bentoml serve serving.service:LeadScoring` (with `LEADSCORE_API_TOKEN` set) from each
`--repo` (default: this repository; give an exported older commit, e.g.
`git archive HEAD | tar -x -C /tmp/base`, to compare before and after in one run: its code
is imported first through `PYTHONPATH`), and measures, per server:

- latency of one lead per request, with reasons (p50/p99; the servers interleaved);
- (1) `--rounds` × `--unknown` GETs to new paths `/y1` … `/yN` without a token: worker RSS
  (via /proc), the Prometheus multiprocess directory's size and `/metrics` lines and series,
  before and after each round;
- (2) a forged log line: `GET /model%0A<timestamp> [ERROR] FORGED` without a token, and
  with the token a HubSpot property name holding a line break and an e-mail address sent
  as `numemployees`: the server log's forged lines and e-mail addresses are counted;
- (3) `--big` POSTs of 15 MB of tiny HubSpot objects (450,000) to `/hubspot/score`: time to
  the 413 (p50/p99) while a thread asks `/livez` every 10 ms (p50/p99/max), worker RSS after;
- (5) `--guesses` wrong tokens from one client: statuses and time.

Every loop is bounded by a count and a deadline; servers are stopped by their process
group. Nothing leaves 127.0.0.1. Clients are told apart by `X-Forwarded-For` (uvicorn trusts
it from 127.0.0.1), so that the failed logins of (1) and (5) block no other phase.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from timing import DEMO_AS_OF, free_port, percentile_ms, stop_group, train_demo

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
TOKEN = "bench-abuse-token-81c3"
FORGED = "1999-12-31T23:59:59+0000 [ERROR] FORGED"
E_MAIL = "jane.doe@example.com"
DEADLINE_S = 120.0  # per phase and server


@dataclass
class Server:
    name: str
    repo: Path
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    home: Path

    def stop(self) -> None:
        stop_group(self.process)

    def connect(self, timeout: float = 60.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(HOST, self.port, timeout=timeout)


def train(rows: int, folder: Path) -> tuple[str, list[dict[str, Any]]]:
    """A scorer on `rows` generated leads, registered as champion; a sample of its leads."""
    import mlflow

    from training.config import TrainConfig
    from training.tracking import (
        configure,
        ensure_experiment,
        log_training_run,
        register_and_promote,
    )

    uri = configure(f"sqlite:///{folder / 'mlflow.db'}")
    config = TrainConfig()
    trained = train_demo(rows, seed=7)
    print(trained.describe(), flush=True)
    with mlflow.start_run(experiment_id=ensure_experiment("bench", uri)):
        run_id, model_uri = log_training_run(
            trained.result, config, {"rows": len(trained.data.y)}, None
        )
    register_and_promote(model_uri, run_id, trained.result, config.registry)
    columns = trained.scorer.input_columns
    return uri, trained.contacts[columns].tail(50).to_dict("records")


def start(name: str, repo: Path, uri: str, folder: Path) -> Server:
    port = free_port(HOST)
    home = folder / f"bentoml-{name}"
    log = folder / f"{name}.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(repo),
        "MLFLOW_TRACKING_URI": uri,
        "LEADSCORE_API_TOKEN": TOKEN,
        "BENTOML_DO_NOT_TRACK": "true",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "OMP_NUM_THREADS": "1",
        "BENTOML_HOME": str(home),
    }
    env.pop("LEADSCORE_MODEL_URI", None)
    command = [sys.executable, "-m", "bentoml", "serve", "serving.service:LeadScoring"]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [*command, "--host", HOST, "--port", str(port)],
            cwd=repo,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(name, repo, port, process, log, home)


def wait_ready(server: Server, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"{server.name} exited:\n{server.log.read_text()[-2000:]}")
        try:
            conn = server.connect(timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{server.name} not ready after {timeout:.0f} s")


def request(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    conn.request(method, path, body, headers or {})
    response = conn.getresponse()
    return response.status, response.read()


def auth(address: str, token: str | None = TOKEN) -> dict[str, str]:
    headers = {"X-Forwarded-For": address, "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def worker_rss_mb(server: Server) -> float:
    """Resident memory of the server's workers: the arbiter's child processes (circus starts
    each in a session of its own, so not by process group)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent != server.process.pid:
                continue
            status = (entry / "status").read_text()
        except (OSError, ValueError, IndexError):
            continue
        rss = next((line for line in status.splitlines() if line.startswith("VmRSS:")), None)
        if rss is not None:
            total += int(rss.split()[1])
    return total / 1024


def metrics(server: Server) -> tuple[int, int, float]:
    """`/metrics`: lines, series (samples), and the multiprocess directory's size in MB."""
    conn = server.connect()
    _, body = request(conn, "GET", "/metrics")
    conn.close()
    lines = body.decode().splitlines()
    samples = [line for line in lines if line and not line.startswith("#")]
    folder = server.home / "prometheus_multiproc_dir"
    size = sum(f.stat().st_size for f in folder.glob("*") if f.is_file()) if folder.exists() else 0
    return len(lines), len(samples), size / 1e6


def single_lead(servers: list[Server], lead: dict[str, Any], count: int) -> dict[str, list[float]]:
    """One lead with reasons per request, the servers taking turns (same noise for each)."""
    body = json.dumps({"leads": [lead], "explain": True, "as_of": DEMO_AS_OF}).encode()
    conns = {s.name: s.connect() for s in servers}
    times: dict[str, list[float]] = {s.name: [] for s in servers}
    for i in range(50 + count):
        for name, conn in conns.items():
            begin = time.perf_counter()
            status, data = request(conn, "POST", "/score", body, auth("10.0.0.1"))
            if status != 200:
                raise SystemExit(f"{name}: HTTP {status}: {data[:300]!r}")
            if i >= 50:
                times[name].append(time.perf_counter() - begin)
    for conn in conns.values():
        conn.close()
    return times


def unknown_paths(server: Server, count: int, round_: int) -> tuple[float, dict[int, int]]:
    conn = server.connect()
    statuses: dict[int, int] = {}
    begin = time.perf_counter()
    for i in range(1, count + 1):
        path = f"/y{(round_ - 1) * count + i}"  # new paths every round
        status, _ = request(conn, "GET", path, headers=auth("10.0.1.1", None))
        statuses[status] = statuses.get(status, 0) + 1
        if time.perf_counter() - begin > DEADLINE_S:
            break
    conn.close()
    return time.perf_counter() - begin, statuses


def forged_lines(server: Server) -> tuple[int, int]:
    """Send the forgeries; count forged lines and e-mail addresses in the server log."""
    conn = server.connect()
    request(conn, "GET", "/model%0A" + FORGED.replace(" ", "%20"), headers=auth("10.0.2.1", None))
    for body in (
        {"id": "1", "properties": {"numemployees": E_MAIL}},
        {"id": "2", "properties": {f"x\n{FORGED}": {"a": [1]}}},
        {"id": "3", "properties": {f"numemployees\n{FORGED}": E_MAIL}},
    ):
        request(conn, "POST", "/hubspot/score", json.dumps(body).encode(), auth("10.0.2.2"))
    request(
        conn,
        "POST",
        "/score",
        json.dumps({"leads": [{"numemployees": E_MAIL}]}).encode(),
        auth("10.0.2.2"),
    )
    conn.close()
    time.sleep(0.5)
    log = server.log.read_text(errors="replace")
    forged = [line for line in log.splitlines() if line.startswith(FORGED[:10])]
    return len(forged), log.count(E_MAIL)


class Prober(threading.Thread):
    """Asks `/livez` every 10 ms until stopped; keeps the answers' times."""

    def __init__(self, server: Server) -> None:
        super().__init__(daemon=True)
        self.server, self.times, self.stopping = server, list[float](), threading.Event()

    def run(self) -> None:
        conn = self.server.connect()
        while not self.stopping.is_set():
            begin = time.perf_counter()
            request(conn, "GET", "/livez")
            self.times.append(time.perf_counter() - begin)
            time.sleep(0.01)
        conn.close()


def big_batches(server: Server, count: int) -> tuple[list[float], list[float], dict[int, int]]:
    body = b"[" + b",".join(b'{"id":"%07d","properties":{}}' % i for i in range(450_000)) + b"]"
    statuses: dict[int, int] = {}
    times: list[float] = []
    prober = Prober(server)
    prober.start()
    begin = time.perf_counter()
    try:
        for _ in range(count):
            conn = server.connect(timeout=DEADLINE_S)
            start_one = time.perf_counter()
            status, _ = request(conn, "POST", "/hubspot/score", body, auth("10.0.3.1"))
            times.append(time.perf_counter() - start_one)
            statuses[status] = statuses.get(status, 0) + 1
            conn.close()
            if time.perf_counter() - begin > DEADLINE_S:
                break
        time.sleep(0.1)
    finally:
        prober.stopping.set()
        prober.join(timeout=60)
    return times, prober.times, statuses


def guesses(server: Server, count: int) -> tuple[float, dict[int, int]]:
    conn = server.connect()
    statuses: dict[int, int] = {}
    begin = time.perf_counter()
    for i in range(count):
        status, _ = request(conn, "GET", "/model", headers=auth("10.0.5.1", f"guess-{i}"))
        statuses[status] = statuses.get(status, 0) + 1
        if time.perf_counter() - begin > DEADLINE_S:
            break
    conn.close()
    return time.perf_counter() - begin, statuses


def ms(values: list[float], q: float) -> str:
    return f"{percentile_ms(values, q):.1f}" if values else "–"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4000, help="generated leads to train on")
    parser.add_argument(
        "--repo",
        type=Path,
        action="append",
        help="a checkout to serve from (repeat to compare; default: this repository)",
    )
    parser.add_argument("--unknown", type=int, default=5000, help="GETs to unknown paths")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of --unknown GETs")
    parser.add_argument("--big", type=int, default=10, help="15 MB batches to send")
    parser.add_argument("--guesses", type=int, default=1000, help="wrong tokens to send")
    parser.add_argument("--latency-requests", type=int, default=400)
    parser.add_argument("--keep", action="store_true", help="keep the registry and server logs")
    args = parser.parse_args()
    repos = [r.resolve() for r in (args.repo or [REPO])]

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    folder = Path(tempfile.mkdtemp(prefix="leadscore-abuse-"))
    print(f"training on {args.rows:,} generated leads (registry in {folder})…", flush=True)
    uri, sample = train(args.rows, folder)
    names = [f"{i}:{r.name}" for i, r in enumerate(repos)]
    servers = [start(n, r, uri, folder) for n, r in zip(names, repos, strict=True)]
    try:
        for server in servers:
            wait_ready(server)
        print(f"\n{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
        for server in servers:
            print(f"  {server.name}: {server.repo}")

        print("\none lead with reasons per request (sequential, servers interleaved):")
        times = single_lead(servers, sample[0], args.latency_requests)
        for name, values in times.items():
            print(f"  {name:20} p50 {ms(values, 0.5)} ms  p99 {ms(values, 0.99)} ms")

        for server in servers:
            print(f"\n== {server.name} ({server.repo})")
            for round_ in range(1, args.rounds + 1):
                rss0 = worker_rss_mb(server)
                lines0, series0, size0 = metrics(server)
                took, statuses = unknown_paths(server, args.unknown, round_)
                rss1 = worker_rss_mb(server)
                lines1, series1, size1 = metrics(server)
                print(
                    f"(1) round {round_}: {sum(statuses.values()):,} GETs /y…/yN without a "
                    f"token in {took:.1f} s ({statuses}): worker RSS {rss0:.0f} → {rss1:.0f} "
                    f"MB; /metrics lines {lines0:,} → {lines1:,}, series {series0:,} → "
                    f"{series1:,}; metrics files {size0:.2f} → {size1:.2f} MB"
                )
            forged, mails = forged_lines(server)
            print(f"(2) forged log lines: {forged}; e-mail addresses in the log: {mails}")
            took_each, probes, statuses = big_batches(server, args.big)
            rss2 = worker_rss_mb(server)
            print(
                f"(3) {len(took_each)} POSTs of 15 MB tiny objects ({statuses}): answer p50 "
                f"{ms(took_each, 0.5)} ms, p99 {ms(took_each, 0.99)} ms; /livez meanwhile "
                f"({len(probes)}) p50 {ms(probes, 0.5)} ms, p99 {ms(probes, 0.99)} ms, max "
                f"{max(probes, default=0) * 1e3:.1f} ms; worker RSS after {rss2:.0f} MB"
            )
            took, statuses = guesses(server, args.guesses)
            print(f"(5) {sum(statuses.values()):,} wrong tokens in {took:.1f} s: {statuses}")
    finally:
        for server in servers:
            server.stop()
        if args.keep:
            print(f"\nregistry and server logs kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
