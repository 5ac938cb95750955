"""`leadscore serve`: start the BentoML service on the local registry's champion.

A typer-compatible function, registered on the main app with `app.command("serve")(serve)`.
It checks the settings and that the model is registered first (one clear line and exit
code 2 otherwise, within seconds also when the tracking server does not answer), then
replaces itself with `bentoml serve serving.service:LeadScoring`, so Ctrl-C and process
managers reach the server directly. That server resolves the model URI once more, in its
main process, and pins the version for every worker (`serving.loader.pin_served_model`).
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

SERVICE = "serving.service:LeadScoring"


def browsable(host: str) -> str:
    """The host part of a URL that reaches a server bound to `host` from this machine: a
    wildcard address (every interface) is not one a browser can open."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def serve(
    port: Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")] = 3000,
    model: Annotated[
        str | None,
        typer.Option(
            help="MLflow model URI (default: LEADSCORE_MODEL_URI or models:/lead-scorer@champion)"
        ),
    ] = None,
    host: Annotated[
        str, typer.Option(help="address to bind; 0.0.0.0 to accept connections from other machines")
    ] = "127.0.0.1",
) -> None:
    """Serve scores, recommendations and reasons over HTTP (BentoML): POST /score,
    POST /hubspot/score, GET /model, POST /admin/reload; OpenAPI at /docs.json."""
    from rich.console import Console
    from rich.markup import escape

    from serving.loader import SettingsError, bound_mlflow_timeouts, read_settings, resolve_model
    from serving.resolve import ModelNotFoundError

    err = Console(stderr=True)
    env = dict(os.environ)
    if model:
        env["LEADSCORE_MODEL_URI"] = model
    # A tracking server that does not answer fails in seconds, here and in the server.
    bound_mlflow_timeouts()
    bound_mlflow_timeouts(env)
    # The tracking URI is resolved here, in the caller's folder, so the server (whose
    # working directory BentoML may change) reads the same registry.
    try:
        settings = read_settings()
    except SettingsError as error:
        err.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None
    if model:
        settings = settings.model_copy(update={"model_uri": model})
    env.setdefault("MLFLOW_TRACKING_URI", settings.tracking_uri())
    # One request, one core: LightGBM's OpenMP threads only fight each other and the
    # other requests of a busy server (measured: 100 leads 4 ms single-threaded vs 36 ms).
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("BENTOML_DO_NOT_TRACK", "true")
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    try:
        resolve_model(settings)
    except ModelNotFoundError as error:
        err.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None
    args = [sys.executable, "-m", "bentoml", "serve", SERVICE, "--host", host, "--port", str(port)]
    base = f"http://{browsable(host)}:{port}"
    err.print(
        f"serving {settings.model_uri} on "
        + (f"{host} port {port}, here {base}" if base != f"http://{host}:{port}" else base)
        + f" (docs: {base}/docs.json)",
        highlight=False,
        soft_wrap=True,
    )
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, args, env)
