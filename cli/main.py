"""The `leadscore` command line: generate demo data, train, score.

A user's mistake (bad file, column, key, value) prints one line naming it and exits
with code 2, before any MLflow run starts and without touching the registry.

Each command imports what it needs when it runs: `leadscore --help` stays quick, and
`score` / `explain` on a bundle folder never import MLflow or the training code.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import (
    console,
    user_errors,
)

if TYPE_CHECKING:
    import pandas as pd

app = typer.Typer(
    help="leadscore: fit / interest lead scoring with MLflow and BentoML.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log details")] = False,
) -> None:
    # MLflow's artifact progress bars would interleave with ours.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


@app.command()
@user_errors
def generate(
    out: Annotated[Path, typer.Option(help="output file, .csv or .parquet")],
    rows: Annotated[int, typer.Option(min=100, help="number of leads")] = 20_000,
    seed: Annotated[int, typer.Option(help="random seed")] = 7,
    events: Annotated[
        Path | None,
        typer.Option(help="also write the event log the contacts were summarised from"),
    ] = None,
    drift: Annotated[
        bool,
        typer.Option(
            "--drift",
            help="plant a moving world: a base rate that climbs several-fold over the data's "
            "span and a lead source that tracks the calendar",
        ),
    ] = False,
) -> None:
    """Write HubSpot demo contacts (an export at the end of the data: default properties,
    timestamps as HubSpot's API writes them) with a known truth (`_true_*` columns), and
    with --events the event log they were rolled up from."""
    from features.files import data_format
    from features.generate import generate_demo

    kinds = [data_format(out), *([data_format(events)] if events is not None else [])]
    demo = generate_demo(rows, seed=seed, drift=drift)
    for frame, path, kind in (
        (demo.contacts, out, kinds[0]),
        *([(demo.events, events, kinds[1])] if events is not None else []),
    ):
        write_frame(frame, path, kind)
    console.print(
        f"wrote {len(demo.contacts):,} leads to {out} (base rate "
        f"{demo.contacts['converted'].mean():.1%}; the export as of "
        f"{demo.export_end.isoformat().replace('+00:00', 'Z')})"
        + (f" and {len(demo.events):,} events to {events}" if events is not None else "")
    )


def write_frame(frame: pd.DataFrame, path: Path, kind: str) -> None:
    """Write a frame whole or not at all (a temporary file, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        if kind == "csv":
            frame.to_csv(partial, index=False)
        else:
            frame.to_parquet(partial, index=False)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def _register() -> None:
    """Each command lives in its own module; its heavy imports happen when it runs."""
    from cli.alignment import alignment
    from cli.evaluate import evaluate
    from cli.monitor import monitor
    from cli.score import explain, score
    from cli.serve import serve
    from cli.train import registry_app, train

    app.command("train")(user_errors(train))
    app.add_typer(registry_app, name="registry")
    app.command("score")(user_errors(score))
    app.command("explain")(user_errors(explain))
    app.command("evaluate")(user_errors(evaluate))
    app.command("monitor")(user_errors(monitor))
    app.command("serve")(user_errors(serve))
    app.command("alignment")(user_errors(alignment))


_register()
