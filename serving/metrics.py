"""Prometheus metrics with bounded labels, and `/metrics` to read them.

BentoML 1.4's own HTTP metrics label every request with its raw path, and its metrics
middleware is the outermost one of the app (`ServiceAppFactory.middlewares`: metrics,
OpenTelemetry, access log, timeout, then the service's own middlewares, CORS, context), so
no middleware of ours can answer or relabel a request before it is counted: 5,000 requests
to `/y1` … `/y5000` made 5,000 label sets, a 37.8 MB metrics directory and a 100,076-line
`/metrics`. The service turns BentoML's metrics off (`metrics={"enabled": False}`) and
counts here instead, labelled by the *route* that answered (`/score`, `/model`, …; Starlette
writes it to `scope["route"]`), by a known method and by the status code; a path no route
matched is `endpoint="other"`. The label sets are thus bounded by routes × methods × codes,
whatever clients send.

Series (the label names are BentoML's, prefixed `leadscore_`, so that they never collide
with BentoML's should someone turn those back on):
- `leadscore_request_total{endpoint, method, http_response_code}`
- `leadscore_request_duration_seconds{endpoint, method, http_response_code}` (histogram)
- `leadscore_request_in_progress{endpoint, method}` (gauge, summed over workers)

Under `bentoml serve` the workers write to BentoML's multiprocess directory
(`PROMETHEUS_MULTIPROC_DIR`) and `/metrics` sums them; in-process (tests) it reads this
process's registry. `prometheus_client` is imported on the first request, when the worker's
environment is final (its mode is chosen at import).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from time import perf_counter
from typing import Any

from serving.auth import OPEN_PATHS

Scope = dict[str, Any]
Message = dict[str, Any]

OTHER = "other"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Metrics:
    """The three series, created once per process (prometheus_client refuses a second)."""

    _instance: Metrics | None = None

    def __init__(self) -> None:
        import prometheus_client as prom

        self.prom = prom
        labels = ["endpoint", "method", "http_response_code"]
        self.total = prom.Counter(
            "leadscore_request_total", "HTTP requests answered", labelnames=labels
        )
        self.duration = prom.Histogram(
            "leadscore_request_duration_seconds",
            "time to answer an HTTP request, in seconds",
            labelnames=labels,
        )
        self.in_progress = prom.Gauge(
            "leadscore_request_in_progress",
            "HTTP requests being answered",
            labelnames=["endpoint", "method"],
            multiprocess_mode="livesum",
        )

    @classmethod
    def get(cls) -> Metrics:
        if cls._instance is None:
            cls._instance = Metrics()
        return cls._instance

    def exposition(self) -> tuple[bytes, str]:
        """The text format of every series (all workers' under `bentoml serve`)."""
        prom = self.prom
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = prom.CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return prom.generate_latest(registry), prom.CONTENT_TYPE_LATEST
        return prom.generate_latest(), prom.CONTENT_TYPE_LATEST


def route_label(scope: Scope, known: frozenset[str]) -> str:
    """The route that answered (its path template), a known path, else `other`."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str) and path:
        return path
    return scope["path"] if scope["path"] in known else OTHER


class TrafficMetrics:
    """Pure ASGI middleware: counts and times every HTTP request; answers `GET /metrics`.

    `routes`: paths a request may be answered on before routing (401, 413 by the guard; the
    docs by the service's front) and still be labelled by: the service's API routes, and
    the open paths (probes, docs)."""

    def __init__(self, app: Any, routes: Iterable[str] = ()) -> None:
        self.app = app
        self.known = frozenset(routes) | OPEN_PATHS
        self.metrics: Metrics | None = None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.metrics is None:
            self.metrics = Metrics.get()
        metrics = self.metrics
        if scope["path"] == "/metrics" and scope["method"] in ("GET", "HEAD"):
            body, media_type = metrics.exposition()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", media_type.encode("latin-1")),
                        (b"content-length", str(len(body)).encode("ascii")),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        method = scope["method"] if scope["method"] in METHODS else OTHER
        begin = perf_counter()
        status = 0
        # The route is known only once routing ran: the in-progress gauge uses the path when
        # it is a known one, else `other` (bounded either way).
        pending = metrics.in_progress.labels(
            scope["path"] if scope["path"] in self.known else OTHER, method
        )
        pending.inc()

        async def counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                labels = (route_label(scope, self.known), method, str(status))
                metrics.total.labels(*labels).inc()
                metrics.duration.labels(*labels).observe(perf_counter() - begin)
            await send(message)

        try:
            await self.app(scope, receive, counted)
        finally:
            pending.dec()
