"""Load test of the scoring service against a naive baseline, both on loopback, in one run.

Run on demand (not part of the tests; about 3 minutes):

    .venv/bin/python benchmarks/bench_service.py [--rows 20000] [--duration 4] [--variants]

It trains a scorer point-in-time on generated leads and their events (as `leadscore train
--events`) into a temporary MLflow registry, starts
(a) the real service, `bentoml serve serving.service:LeadScoring`, and (b) the naive
baseline (`benchmarks/naive_baseline_service.py`: FastAPI + uvicorn + pickled sklearn
pipelines + `shap.TreeExplainer` per request, trained on the same examples), each on a free
127.0.0.1 port, then measures, with leads of the generated export scored as of its moment
(`"as_of": "2026-07-01T00:00:00Z"` in every request body, `as_of=` in process):

- latency: p50/p99 of one lead per request, without and with `explain`, requests to the
  two servers interleaved so that both see the same machine noise;
- throughput: leads per second at concurrency 1, 8 and 32 with batches of 1 and 100
  leads, for `--duration` seconds per cell;
- the in-process floor: `LeadScorer.recommend_records` for one lead, without HTTP.

`--variants` also starts the service with BentoML's tracing on, access log off, metrics
off, one at a time, and compares their single-lead latency (interleaved), and compares
throughput with 2 workers instead of 1.
Every loop is bounded by a request count or a deadline; servers are stopped by their
process group. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from timing import DEMO_AS_OF, free_port, percentile_ms, stop_group, timings, train_demo

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
JSON = {"Content-Type": "application/json"}


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        stop_group(self.process)


def start(name: str, command: list[str], env: dict[str, str], folder: Path) -> Server:
    port = free_port(HOST)
    log = folder / f"{name}.log"
    command = [c.replace("{port}", str(port)) for c in command]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Server(name, port, process, log)


def wait_ready(server: Server, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"{server.name} exited:\n{server.log.read_text()[-2000:]}")
        try:
            conn = http.client.HTTPConnection(HOST, server.port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{server.name} not ready after {timeout:.0f} s")


def post(conn: http.client.HTTPConnection, body: bytes) -> None:
    conn.request("POST", "/score", body, JSON)
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise SystemExit(f"HTTP {response.status}: {data[:300]!r}")


def body_of(leads: list[dict[str, Any]], explain: bool) -> bytes:
    return json.dumps({"leads": leads, "explain": explain, "as_of": DEMO_AS_OF}).encode()


def latencies(
    servers: list[Server], body: bytes, requests: int, warmup: int = 50
) -> dict[str, list[float]]:
    """Sequential requests, alternating between the servers (same noise for each)."""
    conns = {s.name: http.client.HTTPConnection(HOST, s.port, timeout=60) for s in servers}
    times: dict[str, list[float]] = {s.name: [] for s in servers}
    for i in range(warmup + requests):
        for name, conn in conns.items():
            begin = time.perf_counter()
            post(conn, body)
            if i >= warmup:
                times[name].append(time.perf_counter() - begin)
    for conn in conns.values():
        conn.close()
    return times


@dataclass
class Load:
    requests: int = 0
    seconds: float = 0.0
    times: list[float] = field(default_factory=list)


def throughput(
    server: Server, body: bytes, concurrency: int, duration: float, max_requests: int = 200_000
) -> Load:
    """`concurrency` clients on keep-alive connections for `duration` seconds.

    An asyncio client writing raw HTTP/1.1: Python threads with http.client let the
    client's GIL, not the server, set the pace above a few connections (measured: 8
    threads 254 req/s where 8 processes got 490).
    """
    return asyncio.run(_throughput(server.port, body, concurrency, duration, max_requests))


async def _throughput(
    port: int, body: bytes, concurrency: int, duration: float, max_requests: int
) -> Load:
    head = (
        f"POST /score HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json"
        f"\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode("ascii")
    load = Load()
    stop_at = time.perf_counter() + duration

    async def client() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while time.perf_counter() < stop_at and load.requests < max_requests:
                begin = time.perf_counter()
                writer.write(head + body)
                headers = await reader.readuntil(b"\r\n\r\n")
                if headers[9:12] != b"200":
                    raise SystemExit(f"HTTP {headers[:12]!r}")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in headers.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                load.times.append(time.perf_counter() - begin)
                load.requests += 1
        finally:
            writer.close()

    begin = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    load.seconds = time.perf_counter() - begin
    return load


def floor(call: Callable[[], object], repeat: int = 500) -> float:
    return statistics.median(timings(call, repeat)) * 1e3


def train(rows: int, folder: Path) -> tuple[Any, str, list[dict[str, Any]], Path]:
    """Train into a temporary registry; build the naive pipelines on the same examples."""
    import mlflow

    from features.spec import Derivation, FeatureType
    from training.config import TrainConfig
    from training.tracking import (
        configure,
        ensure_experiment,
        log_training_run,
        register_and_promote,
    )

    sys.path.insert(0, str(Path(__file__).parent))
    from naive_baseline_service import build_naive_model

    uri = configure(f"sqlite:///{folder / 'mlflow.db'}")
    config = TrainConfig()
    trained = train_demo(rows, seed=7)
    result, data, leads = trained.result, trained.data, trained.contacts
    spec = result.scorer.spec
    print(trained.describe(), flush=True)
    with mlflow.start_run(experiment_id=ensure_experiment("bench", uri)):
        run_id, model_uri = log_training_run(result, config, {"rows": len(data.y)}, None)
    register_and_promote(model_uri, run_id, result, config.registry)

    columns: dict[str, dict[str, list[str]]] = {}
    for group, features in (
        ("fit", spec.fit),
        ("interest", spec.interest),
        ("full", spec.features),
    ):
        columns[group] = {
            "numeric": [
                f.source
                for f in features
                if f.type is not FeatureType.categorical and f.derive is not Derivation.days_since
            ],
            "timestamp": [f.source for f in features if f.derive is Derivation.days_since],
            "categorical": [f.source for f in features if f.type is FeatureType.categorical],
        }
    trees = max(m.booster.num_trees() for m in result.scorer.models.values())
    assert data.as_of is not None
    naive = build_naive_model(
        data.frame, data.y, data.as_of, columns, folder / "naive.pkl", trees=trees
    )
    # What a CRM sends for a lead: the columns the model reads (features, id, create date,
    # the decision's stage and status).
    sample = leads[result.scorer.input_columns].tail(200).to_dict("records")
    return result.scorer, uri, sample, naive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, default=20_000, help="generated leads to train on (~2.2 examples each)"
    )
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per throughput cell")
    parser.add_argument("--latency-requests", type=int, default=600)
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary registry and the server logs"
    )
    parser.add_argument(
        "--variants",
        action="store_true",
        help="also measure BentoML tracing / access log / metrics costs",
    )
    args = parser.parse_args()

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    folder = Path(tempfile.mkdtemp(prefix="leadscore-bench-"))
    print(
        f"training on {args.rows:,} generated leads (temporary registry in {folder})…", flush=True
    )
    scorer, uri, sample, naive_path = train(args.rows, folder)
    from features.timestamps import AsOf

    as_of = AsOf.of(DEMO_AS_OF)
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": uri,
        "BENTOML_DO_NOT_TRACK": "true",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "OMP_NUM_THREADS": "1",
        "BENTOML_HOME": str(folder / "bentoml"),
        "NAIVE_MODEL": str(naive_path),
    }
    env.pop("LEADSCORE_API_TOKEN", None)
    bentoml = [
        sys.executable,
        "-m",
        "bentoml",
        "serve",
        "serving.service:LeadScoring",
        "--host",
        HOST,
        "--port",
        "{port}",
    ]
    servers = [
        start("leadscore", bentoml, env, folder),
        start(
            "naive",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "naive_baseline_service:app",
                "--app-dir",
                str(REPO / "benchmarks"),
                "--host",
                HOST,
                "--port",
                "{port}",
                "--log-level",
                "warning",
            ],
            env,
            folder,
        ),
    ]
    variants: list[Server] = []
    if args.variants:
        for name, option in (
            ("+tracing", "services.leadscore.tracing.excluded_urls=/none"),
            ("-access log", "services.leadscore.logging.access.enabled=false"),
            ("-metrics", "services.leadscore.metrics.enabled=false"),
            ("2 workers", "services.leadscore.workers=2"),
        ):
            variants.append(start(name, bentoml, {**env, "BENTOML_CONFIG_OPTIONS": option}, folder))
    try:
        for server in servers + variants:
            wait_ready(server)
        ours = servers[0]
        one, hundred = sample[:1], sample[:100]
        trees = {n: m.booster.num_trees() for n, m in scorer.models.items()}
        print(f"\n{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; trees {trees}")

        print(
            f"\nin-process floor, one lead as of {as_of.text} (LeadScorer.recommend_records, "
            "no HTTP):"
        )
        for explain in (False, True):
            ms = floor(lambda e=explain: scorer.recommend_records(one, explain=e, as_of=as_of))
            print(f"  explain={explain!s:5}  p50 {ms:6.2f} ms")

        print("\nlatency, one lead per request (sequential, interleaved):")
        print(f"  {'server':12} {'explain':8} {'p50 ms':>8} {'p99 ms':>8}")
        p50: dict[tuple[str, bool], float] = {}
        for explain in (False, True):
            times = latencies(servers, body_of(one, explain), args.latency_requests)
            for name, values in times.items():
                p50[(name, explain)] = percentile_ms(values, 0.5)
                print(
                    f"  {name:12} {explain!s:8} {p50[(name, explain)]:8.2f} "
                    f"{percentile_ms(values, 0.99):8.2f}"
                )
        for explain in (False, True):
            print(
                f"  naive / leadscore p50, explain={explain}: "
                f"{p50[('naive', explain)] / p50[('leadscore', explain)]:.1f}×"
            )

        print(f"\nthroughput ({args.duration:.0f} s per cell, no explain):")
        print(
            f"  {'server':12} {'conc.':>5} {'batch':>5} {'req/s':>8} {'leads/s':>9} "
            f"{'p50 ms':>8} {'p99 ms':>8}"
        )
        rates: dict[tuple[str, int, int], float] = {}
        for batch, leads in ((1, one), (100, hundred)):
            for concurrency in (1, 8, 32):
                for server in servers:
                    load = throughput(server, body_of(leads, False), concurrency, args.duration)
                    per_second = load.requests / load.seconds
                    rates[(server.name, concurrency, batch)] = per_second * batch
                    print(
                        f"  {server.name:12} {concurrency:5} {batch:5} {per_second:8.1f} "
                        f"{per_second * batch:9.0f} {percentile_ms(load.times, 0.5):8.2f} "
                        f"{percentile_ms(load.times, 0.99):8.2f}",
                        flush=True,
                    )
        print("\n  leadscore / naive throughput:")
        for batch in (1, 100):
            cells = ", ".join(
                f"c={c}: {rates[('leadscore', c, batch)] / rates[('naive', c, batch)]:.1f}×"
                for c in (1, 8, 32)
            )
            print(f"    batch {batch:3}: {cells}")

        if variants:
            print("\nBentoML options, one lead per request (interleaved with the default):")
            times = latencies([ours, *variants], body_of(one, False), args.latency_requests)
            base = percentile_ms(times["leadscore"], 0.5)
            for name, values in times.items():
                median = percentile_ms(values, 0.5)
                print(f"  {name:12} p50 {median:6.2f} ms ({median - base:+.2f})")
            print("\nworkers, throughput at concurrency 8 (leads/s):")
            for server in (ours, variants[-1]):
                cells = []
                for batch, leads in ((1, one), (100, hundred)):
                    load = throughput(server, body_of(leads, False), 8, args.duration)
                    cells.append(f"batch {batch}: {load.requests / load.seconds * batch:7.0f}")
                print(f"  {server.name:12} " + ", ".join(cells))
    finally:
        for server in servers + variants:
            server.stop()
        if args.keep:
            print(f"\nregistry, pickles and server logs kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
