"""The `leadscore` command line: generate demo data, train, score.

A user's mistake (bad file, column, key, value) prints one line naming it and exits
with code 2, before any MLflow run starts and without touching the registry.

Each command imports what it needs when it runs: `leadscore --help` stays quick, and
`score` / `explain` on a bundle folder never import MLflow or the training code.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from features.errors import LeadscoreError
from features.spec import builtin_specs

if TYPE_CHECKING:
    import pandas as pd
    from rich.progress import Progress, TaskID

app = typer.Typer(
    help="leadscore: fit / interest lead scoring with MLflow and BentoML.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_MODEL_NAME = "lead-scorer"
BUILT_IN_SPECS = ", ".join(builtin_specs())
# The moment of scoring and the event log, as `score` and `explain` take them.
EventsOption = Annotated[
    Path | None,
    typer.Option(help="event log, .csv or .parquet: features from the events before --as-of"),
]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="the moment of scoring, ISO 8601 or epoch ms (default: now); timestamps "
        "and events after it are an error",
    ),
]
MODEL_HELP = "MLflow model URI, or a bundle folder (bundle.json: read without MLflow)"


def user_errors(command: F) -> F:
    """Turn a LeadscoreError into one clear line on stderr and exit code 2."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except LeadscoreError as error:
            err_console.print(
                f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


def on_terminal(stream: Console) -> bool:
    """Whether `stream` is an interactive terminal: not a file, a pipe or a CI log (where
    a live display, even one FORCE_COLOR asks for, is only noise)."""
    isatty = getattr(stream.file, "isatty", None)
    try:
        interactive = bool(isatty is not None and isatty())
    except ValueError:  # a closed stream
        interactive = False
    return interactive and not stream.is_dumb_terminal


class Stages:
    """Progress through a command's named stages, on stderr.

    On a terminal: a rich display, a line per stage with a spinner and its time, ticked
    off when the next stage begins. Elsewhere (CI, cron, a pipe): one plain line per stage,
    `leadscore train [3.2 s] training fit, interest and full models…`, with the seconds
    since the command began, and a last `done` line. Call `end()` before printing to
    stdout: a live display and another stream's output would garble each other.
    """

    def __init__(self, command: str, stream: Console | None = None) -> None:
        self.command = command
        self.stream = stream or err_console
        self.live = on_terminal(self.stream)
        self.began = time.perf_counter()
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> Stages:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self.end(failed=kind is not None)
        if kind is None:
            self.line("done")

    def elapsed(self) -> float:
        return time.perf_counter() - self.began

    def line(self, text: str) -> None:
        """One plain progress line (off a terminal only)."""
        if not self.live:
            self.stream.print(
                f"{self.command} [{self.elapsed():.1f} s] {text}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )

    def stage(self, name: str) -> None:
        """End the current stage (if any) and begin `name`."""
        if not self.live:
            self.line(f"{name}…")
            return
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        if self._progress is None:
            self._progress = Progress(
                SpinnerColumn(finished_text="[green]✓[/]"),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=self.stream,
            )
            self._progress.start()
        elif self._task is not None:
            self._progress.update(self._task, total=1, completed=1)
        self._task = self._progress.add_task(escape(name), total=None)

    def end(self, failed: bool = False) -> None:
        """Stop the display after the current stage (ticked off, or dropped if it failed)."""
        progress, task, self._progress, self._task = self._progress, self._task, None, None
        if progress is None:
            return
        if task is not None:
            if failed:
                progress.remove_task(task)
            else:
                progress.update(task, total=1, completed=1)
        progress.stop()


class RowProgress:
    """Rows done of a total (None: unknown): a rich progress bar on a terminal; elsewhere a
    plain line on stderr after the first chunk and then at most every `every` seconds."""

    def __init__(self, command: str, what: str, total: int | None, every: float = 1.0) -> None:
        self.stages = Stages(command)
        self.what = what
        self.total = total
        self.every = every
        self.done = 0
        self._last: float | None = None
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> RowProgress:
        if self.stages.live:
            from rich.progress import Progress

            self._progress = Progress(console=self.stages.stream, transient=True)
            self._progress.start()
            self._task = self._progress.add_task(escape(self.what), total=self.total)
        return self

    def advance(self, rows: int) -> None:
        self.done += rows
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=rows)
            return
        now = self.stages.elapsed()
        if self._last is None or now - self._last >= self.every:
            self._last = now
            self.stages.line(self.text())

    def text(self) -> str:
        if not self.total:
            return f"{self.what}: {self.done:,} rows"
        return f"{self.what}: {self.done:,} of {self.total:,} rows ({self.done / self.total:.0%})"

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if self._progress is not None:
            self._progress.stop()
        elif kind is None:
            self.stages.line(self.text() + ", done")


def console_script(name: str) -> str:
    """How to run `name`, a command installed beside this Python (the project's virtual
    environment), as a shell word: the bare name when the shell finds that same file on
    PATH, else its full path (a venv not activated), else `python -m name`."""
    folder = Path(sys.executable).parent  # not resolved: a venv's python is a symlink
    beside = next((folder / n for n in (name, f"{name}.exe") if (folder / n).is_file()), None)
    found = shutil.which(name)
    if beside is None:
        return f"{shlex.quote(sys.executable)} -m {name}"
    if found is not None:
        try:
            if os.path.samefile(found, beside):
                return name
        except OSError:
            pass
    return shlex.quote(str(beside))


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
    from features.generate import generate_demo
    from training.data import data_format

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


@app.command()
@user_errors
def train(
    data: Annotated[Path, typer.Option(help="CRM export, .csv or .parquet")],
    spec: Annotated[
        str, typer.Option(help=f"dataset spec YAML, or a built-in name: {BUILT_IN_SPECS}")
    ] = "hubspot",
    events: Annotated[
        Path | None,
        typer.Option(
            help="event log, .csv or .parquet: train on point-in-time examples (features as "
            "of each example's moment, from the events before it)"
        ),
    ] = None,
    config: Annotated[Path | None, typer.Option(help="training config YAML")] = None,
    promote: Annotated[
        str | None, typer.Option(help="always | never | auto (default: auto, the champion gate)")
    ] = None,
    model_name: Annotated[str | None, typer.Option(help="registered model name")] = None,
) -> None:
    """Train fit / interest / full models, log them to MLflow, register, and gate `champion`."""
    from features.spec import resolve_spec
    from training.config import load_config
    from training.data import (
        file_sha256,
        fingerprint,
        load_events,
        load_leads,
        prepare,
        prepare_point_in_time,
    )
    from training.snapshot import leak_text
    from training.train import design_matrix

    dataset_spec = resolve_spec(spec)
    settings = load_config(config)
    updates: dict[str, Any] = {}
    if promote is not None:
        if promote not in ("always", "never", "auto"):
            raise LeadscoreError(f"--promote must be always, never or auto, not {promote!r}")
        updates["promote"] = promote
    if model_name:
        updates["model_name"] = model_name
    if updates:
        settings = settings.model_copy(
            update={"registry": settings.registry.model_copy(update=updates)}
        )

    with Stages("leadscore train") as stages:
        stages.stage("reading data")
        frame = load_leads(data, dialect=dataset_spec.csv)
        if events is not None:
            log = load_events(events, dataset_spec)
            stages.stage("building point-in-time examples")
            prepared = prepare_point_in_time(
                frame, log, dataset_spec, settings.examples, settings.min_positives
            )
        elif dataset_spec.needs_events:
            raise LeadscoreError(
                f"spec {dataset_spec.name!r} reads window features from an event log "
                "(events.windows): give it with --events FILE"
            )
        else:
            stages.stage("reading labels and time")
            prepared = prepare(frame, dataset_spec, settings.min_positives)
        stages.stage("encoding features and checking for leaks")
        design = design_matrix(prepared, dataset_spec, settings)
        prints = fingerprint(prepared, dataset_spec, file_sha256(data))
        stages.end()
        console.print(data_line(prints, settings.examples.at_days), highlight=False)
        for leak in design.snapshot_leaks:
            console.print(
                "[yellow]snapshot leak:[/] "
                + escape(leak_text(leak, str(dataset_spec.label.from_date)))
                + (" (allowed by snapshot.allow)" if leak["allowed"] else ""),
                highlight=False,
                soft_wrap=True,
            )
        for warning in design.drift.get("warnings", []):
            console.print("[yellow]drift:[/] " + escape(warning), highlight=False, soft_wrap=True)

        stages.stage("opening MLflow")
        import mlflow
        from mlflow.tracking import MlflowClient

        from training.evaluation import report_of_test_slice
        from training.registry import Heartbeat, check_registry, open_store, store_errors
        from training.tracking import (
            configure,
            ensure_experiment,
            log_evaluation_report,
            log_training_run,
            register_and_promote,
        )
        from training.train import train_scorer

        uri = configure()
        open_store(uri)  # the schema once, under a lock; a store we cannot write: one line
        with store_errors(uri):
            check = check_registry(
                MlflowClient(), settings.registry.model_name, settings.registry.experiment
            )
            experiment_id = ensure_experiment(settings.registry.experiment, uri)
            spec_path = Path(spec) if Path(spec).exists() else None
            if spec_path is None:
                from features.spec import builtin_spec_path

                spec_path = builtin_spec_path(spec)
            active = mlflow.start_run(
                experiment_id=experiment_id, run_name=f"{dataset_spec.name}-{prints['rows']}"
            )
        for line in check.lines():
            stages.line(f"registry check: {line}")
            if stages.live:
                err_console.print(
                    f"[yellow]registry check:[/] {escape(line)}", highlight=False, soft_wrap=True
                )
        # The run ends (FINISHED) only after its version exists and the decision is written.
        with active, Heartbeat(active.info.run_id) as heartbeat:
            stages.stage("training fit/interest/full models")
            heartbeat.phase("training")
            result = train_scorer(prepared, dataset_spec, settings, design)
            stages.stage("logging to MLflow")
            heartbeat.phase("logging")
            run_id, model_uri = log_training_run(result, settings, prints, spec_path)
            stages.stage("evaluation report of the test slice")
            heartbeat.phase("evaluation-report")
            report = report_of_test_slice(
                result,
                prepared,
                design.spec or dataset_spec,
                data_file=str(data),
                model={
                    "uri": model_uri,
                    "version": None,
                    "run_id": run_id,
                    "spec": dataset_spec.name,
                    "trained_at": result.scorer.metadata.get("trained_at"),
                },
            )
            log_evaluation_report(report, run_id)
            stages.stage("registering the model")
            heartbeat.phase("registering")
            promotion = register_and_promote(model_uri, run_id, result, settings.registry)

    console.print(metrics_table(result.metrics, result.report))
    console.print(threshold_table(result.report["thresholds"]))
    for note in result.report["thresholds"]["notes"]:
        console.print(f"[yellow]target not met:[/] {escape(note)}", highlight=False)
    for note in result.report["notes"]:
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    if result.report.get("decay"):
        console.print(decay_table(result.report["decay"]))
    colour = "green" if promotion.alias == "champion" else "yellow"
    console.print(
        f"registered [bold]{settings.registry.model_name}[/] version "
        f"{promotion.version} as [bold {colour}]{promotion.alias}[/]: "
        f"{promotion.reason}",
        highlight=False,
    )
    console.print(
        f"MLflow run {run_id} in {uri} (evaluation report of the test slice in its "
        "artifacts: evaluation/report.html)",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"open the MLflow UI:  {ui_command(uri, experiment_id, run_id)}",
        highlight=False,
        soft_wrap=True,
    )


registry_app = typer.Typer(
    help="The model registry: find and mark what interrupted trainings left behind.",
    no_args_is_help=True,
)
app.add_typer(registry_app, name="registry")


@registry_app.command("check")
@user_errors
def registry_check(
    model_name: Annotated[str, typer.Option(help="registered model name")] = DEFAULT_MODEL_NAME,
    experiment: Annotated[str, typer.Option(help="experiment of the training runs")] = "leadscore",
    fix: Annotated[
        bool,
        typer.Option(
            help="mark what is found (runs FAILED, versions refused); --no-fix only reports"
        ),
    ] = True,
    exit_code: Annotated[
        bool, typer.Option("--exit-code", help="exit with 1 when anything was found")
    ] = False,
) -> None:
    """Find versions without a promotion decision and runs left RUNNING by a dead process
    (no heartbeat, or a process of this host that is gone); print one line for each, mark
    them, and never move an alias. `leadscore train` runs the same check first."""
    from training.model_uri import configure
    from training.registry import check_registry, open_store, sqlite_database, store_errors

    uri = configure()
    database = sqlite_database(uri)
    if database is not None and not database.is_file():
        console.print(f"no MLflow database at {database}: nothing to check", highlight=False)
        return
    from mlflow.tracking import MlflowClient

    if fix:
        open_store(uri)
    with store_errors(uri, "written" if fix else "read"):
        report = check_registry(MlflowClient(), model_name, experiment, fix=fix)
    for line in report.lines():
        console.print(escape(line), highlight=False, soft_wrap=True)
    console.print(report.summary(), highlight=False, soft_wrap=True)
    if exit_code and report.damages:
        raise typer.Exit(code=1)


def data_line(prints: dict[str, Any], at_days: list[float]) -> str:
    """What training learns from: leads (or point-in-time examples), dates, base rate."""
    if "leads" in prints:
        moments = ", ".join(f"{d:g}" for d in at_days)
        head = (
            f"data: {prints['rows']:,} point-in-time examples of {prints['leads']:,} leads "
            f"(at {moments} days after creation) from {prints['time_from']} to "
            f"{prints['time_to']}, base rate {prints['base_rate']:.1%}"
        )
        left = [
            f"{prints['rows_left_out_open_window']:,} label window still open",
            f"{prints['examples_left_out_already_converted']:,} already converted",
        ]
        return head + f" (left out: {', '.join(left)})"
    return (
        f"data: {prints['rows']:,} leads from {prints['time_from']} to "
        f"{prints['time_to']}, base rate {prints['base_rate']:.1%}"
        + (
            f" ({prints['rows_left_out_open_window']:,} left out: label window still open)"
            if prints["rows_left_out_open_window"]
            else ""
        )
    )


def ui_command(uri: str, experiment_id: str | None = None, run_id: str | None = None) -> str:
    """How to open the MLflow UI on the tracking store `uri`: a tracking server's own
    address, or a command to paste as printed (the venv's `mlflow` by its full path when
    the shell would not find it). With an experiment (and run), the link opens its runs
    (the run's evaluation report): MLflow 3.17 otherwise opens on its empty GenAI view."""
    from training.model_uri import experiment_url

    def page(ui: str) -> str:
        if experiment_id is None:
            return ui
        report = "evaluation/report.html" if run_id else None
        return experiment_url(ui, experiment_id, run_id, report)

    if uri.startswith(("http://", "https://")):
        return f"{page(uri)} in a browser"
    if uri.startswith("databricks"):
        return "the experiment in your Databricks workspace"
    command = f"{console_script('mlflow')} ui --backend-store-uri {shlex.quote(uri)} --port 5000"
    return f"{command}  → {page('http://127.0.0.1:5000')}"


def metrics_table(metrics: dict[str, float], report: dict[str, Any]) -> Table:
    """Test-slice metrics of the three models, their logistic baselines and the base rate."""
    rows = report["rows"]
    learned = (
        f"trained on the oldest {rows['train'] + rows['validation']:,}, the newest "
        f"{rows['validation']:,} of them choosing the tree count"
        if report.get("refit")
        else f"trained on the oldest {rows['train']:,}, calibrated on the next "
        f"{rows['validation']:,}"
    )
    unit = "examples" if report.get("examples", {}).get("point_in_time") else "leads"
    table = Table(title=f"test slice: the newest {rows['test']:,} {unit} ({learned})")
    for column in ("model", "ROC AUC", "PR AUC", "Brier", "ECE", "top-10% lift"):
        table.add_column(column, justify="left" if column == "model" else "right")
    lines = [("base rate", "base_rate")]
    for name in ("full", "fit", "interest"):
        lines += [(f"{name} model (LightGBM)", name), ("  logistic baseline", f"{name}_logistic")]
    for label, key in lines:
        table.add_row(
            label,
            *(
                f"{metrics[f'test.{key}.{m}']:.3f}"
                for m in ("roc_auc", "pr_auc", "brier", "ece", "top_decile_lift")
            ),
        )
    return table


def decay_table(decay: dict[str, Any]) -> Table:
    """The learned decay per event kind and age, beside HubSpot's fixed one."""
    kinds = decay["kinds"]
    first = next(iter(kinds.values()))
    table = Table(
        title="learned decay: interest points for one more event, by its age (share of a "
        f"fresh one's); HubSpot: {decay['hubspot']}"
    )
    table.add_column("kind")
    for row in first:
        table.add_column(row["age"], justify="right")

    def share(value: float | None) -> str:
        return "–" if value is None else f"{value:.0%}"

    for kind, rows in kinds.items():
        table.add_row(kind, *(f"{r['effect']:+.2f} ({share(r['share_of_newest'])})" for r in rows))
    table.add_row("HubSpot", *(share(r["hubspot_share"]) for r in first))
    least = [
        min(
            (rows[i]["support"] for rows in kinds.values() if rows[i]["support"] is not None),
            default=None,
        )
        for i in range(len(first))
    ]
    table.caption = (
        "examples with an event of that age (least over kinds): "
        + ", ".join(f"{r['age']} {share(v)}" for r, v in zip(first, least, strict=True))
        + "; where few examples reach an age the model cannot know its decay"
    )
    return table


def threshold_table(thresholds: dict[str, Any]) -> Table:
    """What the fitted thresholds do: validation (where they were chosen) and test."""
    t = thresholds["policy"]["thresholds"]
    table = Table(
        title=(
            f"recommendations (SQL: probability ≥ {t['sql_probability']:.3f} and fit ≥ "
            f"{t['sql_min_fit']:.1f}; MQL: probability ≥ {t['mql_probability']:.3f}, fit ≥ "
            f"{t['mql_min_fit']:.1f}, interest ≥ {t['mql_min_interest']:.1f})"
        )
    )
    for column in ("stage", "slice", "share", "per week", "conversion", "recall", "lift"):
        table.add_column(column, justify="left" if column in ("stage", "slice") else "right")
    for stage in ("SQL", "MQL", "MQL or SQL"):
        for slice_name in ("validation", "test"):
            entry = thresholds[slice_name]["stages"][stage]
            per_week = f"{entry['per_week']:.1f}" if "per_week" in entry else "–"
            table.add_row(
                stage if slice_name == "validation" else "",
                slice_name,
                f"{entry['share']:.1%}",
                per_week,
                f"{entry['conversion_rate']:.1%}",
                f"{entry['recall']:.1%}",
                f"{entry['lift']:.2f}",
            )
    return table


@app.command()
@user_errors
def score(
    data: Annotated[Path, typer.Option(help="leads to score, .csv or .parquet")],
    out: Annotated[Path, typer.Option(help="output file, .csv or .parquet")],
    model: Annotated[str, typer.Option(help=MODEL_HELP)] = f"models:/{DEFAULT_MODEL_NAME}@champion",
    chunk_size: Annotated[int, typer.Option(min=1, help="rows per chunk")] = 50_000,
    reasons: Annotated[bool, typer.Option(help="add the top fit / interest reasons")] = False,
    k: Annotated[int, typer.Option(min=1, help="reasons per direction and score")] = 3,
    events: EventsOption = None,
    as_of: AsOfOption = None,
    no_id: Annotated[
        bool,
        typer.Option(
            "--no-id",
            help="score a file without the spec's id column (the scores cannot be joined back "
            "to the leads but by row order)",
        ),
    ] = False,
) -> None:
    """Score a file in chunks: id, scores, grades, recommendation, model version [, reasons]."""
    from features.build import check_columns
    from training.data import count_rows, data_format, load_events, read_chunks
    from training.model_uri import load_model

    in_kind, out_kind = data_format(data), data_format(out)
    if not data.is_file():
        raise LeadscoreError(f"data file not found: {data}")
    if data.stat().st_size == 0:
        raise LeadscoreError(f"data file {data} is empty")
    moment = moment_of(as_of)
    scorer, version = load_model(model)
    spec = scorer.spec
    log = load_events(events, spec) if events is not None else None
    # Read the first rows once to fail early on a file that does not match the spec.
    columns = scorer.input_columns  # a CRM export's other properties are not read
    head = next(read_chunks(data, in_kind, min(chunk_size, 1000), columns, spec.csv), None)
    if head is None or head.empty:
        raise LeadscoreError(f"data file {data} is empty (a header but no rows)")
    check_columns(head, spec.contact_columns(log is not None), f"data file {data}")
    if log is not None and spec.id not in head.columns:
        raise LeadscoreError(
            f"data file {data} has no id column {spec.id!r}: events are matched to leads by it"
        )
    if spec.id not in head.columns and not no_id:
        raise LeadscoreError(
            f"data file {data} has no id column {spec.id!r}: its scores could not be joined "
            "back to the leads (pass --no-id to score it anyway, in row order)"
        )
    if scorer.policy is not None:
        scorer.policy_columns(head)  # the catalogue's columns must be there too
    err_console.print(
        f"scoring as of {moment.text}" + (" (now)" if as_of is None else ""), highlight=False
    )

    total = count_rows(data, in_kind)
    tmp_out = out.with_name(out.name + ".partial")
    written = 0
    seen = EventLeads(log, spec.id, spec.missing_tokens)
    with (
        RowProgress("leadscore score", f"scoring {data.name}", total) as progress,
        ChunkWriter(tmp_out, out_kind) as writer,
    ):
        chunks = seen.mark(read_chunks(data, in_kind, chunk_size, columns, spec.csv))
        for scored in scorer.score_chunks(chunks, reasons=reasons, k=k, as_of=moment, events=log):
            scored["model_version"] = version
            writer.write(scored)
            written += len(scored)
            progress.advance(len(scored))
        seen.check(data)  # before the output is in place
    tmp_out.replace(out)
    console.print(
        f"scored {written:,} leads with {model}"
        + (f" (version {version})" if version else "")
        + f" as of {moment.text} → {out}"
    )


def moment_of(as_of: str | None) -> Any:
    """`--as-of` as an `AsOf` (None: now); an unreadable one is a user error."""
    from features.coerce import CoercionError
    from features.timestamps import AsOf

    try:
        return AsOf.of(as_of, "--as-of")
    except CoercionError as error:
        raise LeadscoreError(f"--as-of: cannot read {as_of!r} as {error.expected}") from None


class EventLeads:
    """Which leads of an event log a scoring run met; an event of a lead the data file
    does not hold is an error (a wrong file, or ids that do not match)."""

    def __init__(self, log: Any, id_column: str, missing: frozenset[str]) -> None:
        import numpy as np

        self.log = log
        self.id_column = id_column
        self.missing = missing
        self.met = np.zeros(0 if log is None else len(log.ids), dtype=bool)

    def mark(self, chunks: Any) -> Any:
        from features.build import read_categories

        for chunk in chunks:
            if self.log is not None:
                codes = self.log.codes_of(
                    read_categories(chunk[self.id_column], self.id_column, self.missing)
                )
                self.met[codes[codes >= 0]] = True
            yield chunk

    def check(self, data: Path) -> None:
        import numpy as np

        if self.log is None or self.met.all():
            return
        unmet = ~self.met[self.log.lead]
        at = int(np.argmax(unmet))
        raise LeadscoreError(
            f"{self.log.source} row {self.log.row[at]}: lead {self.log.ids[self.log.lead[at]]!r} "
            f"(column {self.id_column!r}) is not in {data} ({int(unmet.sum()):,} event(s) of "
            "leads the file does not hold); nothing was written"
        )


@app.command()
@user_errors
def explain(
    data: Annotated[Path, typer.Option(help="file with the lead, .csv or .parquet")],
    id: Annotated[str, typer.Option("--id", help="the lead's id (the spec's id column)")],
    model: Annotated[str, typer.Option(help=MODEL_HELP)] = f"models:/{DEFAULT_MODEL_NAME}@champion",
    k: Annotated[int, typer.Option(min=1, help="reasons per direction and score")] = 3,
    events: EventsOption = None,
    as_of: AsOfOption = None,
) -> None:
    """Print a card for one lead: scores, grades, recommendation and rule, reasons."""
    from features.coerce import CoercionError
    from training.data import load_events, load_leads
    from training.model_uri import load_model

    moment = moment_of(as_of)
    scorer, version = load_model(model)
    frame = load_leads(data, dialect=scorer.spec.csv)
    id_column = scorer.spec.id
    if id_column not in frame.columns:
        raise LeadscoreError(f"data file {data} has no id column {id_column!r}")
    rows = frame[frame[id_column].astype(str).str.strip() == id.strip()]
    if rows.empty:
        raise LeadscoreError(f"no lead with {id_column} = {id!r} in {data}")
    log = load_events(events, scorer.spec) if events is not None else None
    rows = scorer.as_of_frame(rows.iloc[:1], moment, log)
    record = {str(column): value for column, value in rows.iloc[0].items()}
    try:
        result = scorer.recommend_records([record], explain=True, k=k, as_of=moment)[0]
    except CoercionError as error:
        raise LeadscoreError(f"lead {id!r}: {error}") from None
    console.print(lead_card(id, record, result, scorer, model, version, moment.text))


def lead_card(
    lead_id: str,
    record: dict[str, Any],
    result: dict[str, Any],
    scorer: Any,
    model: str,
    version: str,
    as_of: str | None = None,
) -> Any:
    """A rich panel a sales rep can read."""
    from rich.panel import Panel

    rec = result["recommendation"]
    stage_now = record.get(scorer.policy.requirements.stage_column) if scorer.policy else None
    lines = [
        f"[bold]probability to convert[/] {result['probability']:.1%}",
        f"[bold]fit[/] {result['fit']:.0f}/100 (grade {result['fit_grade']})   "
        f"[bold]interest[/] {result['interest']:.0f}/100 (grade {result['interest_grade']})",
        "",
        f"[bold]recommendation[/] {rec['lifecyclestage']}"
        + (f", lead status {rec['hs_lead_status']}" if rec["hs_lead_status"] else "")
        + (" [green](changed)[/]" if rec["changed"] else " (unchanged)")
        + (f" — now {escape(str(stage_now))}" if stage_now else ""),
        f"[bold]rule[/] {rec['rule']}: {escape(rec['detail'])}",
    ]
    for group in ("fit", "interest"):
        reasons = result["reasons"][group]
        lines += [
            "",
            f"[bold]{group}[/] (baseline {reasons['baseline']:.0f} → {reasons['score']:.0f})",
        ]
        for factor in reasons["positive"]:
            lines.append(f"  [green]+{factor['effect']:.1f}[/] {escape(factor['text'])}")
        for factor in reasons["negative"]:
            lines.append(f"  [red]{factor['effect']:.1f}[/] {escape(factor['text'])}")
    return Panel(
        "\n".join(lines),
        title=f"lead {escape(lead_id)}",
        subtitle=f"{model}"
        + (f" (version {version})" if version else "")
        + (f", as of {as_of}" if as_of else ""),
    )


def _arrow_type(column: pd.Series) -> Any:
    """The Arrow type a scored column is written as: text (object or str) as string."""
    import pandas as pd
    import pyarrow as pa

    if pd.api.types.is_string_dtype(column.dtype):
        return pa.string()
    return pa.Schema.from_pandas(column.to_frame(), preserve_index=False).field(0).type


class ChunkWriter:
    """Append DataFrames of the same columns to one CSV or Parquet file, through Arrow.

    The first chunk fixes the schema; text columns are strings whatever a chunk holds
    (a chunk whose lead statuses are all empty must not turn the column's type to null).
    Chunks are written in order by a thread, so the next one is scored meanwhile; a
    failed write is raised by the next `write` or on leaving, and leaves no file.
    """

    def __init__(self, path: Path, kind: Literal["csv", "parquet"] | str) -> None:
        self.path = path
        self.kind = kind
        self._writer: Any = None
        self._schema: Any = None
        self._pending: Future[None] | None = None
        self._thread = ThreadPoolExecutor(max_workers=1)

    def __enter__(self) -> ChunkWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self

    def write(self, frame: pd.DataFrame) -> None:
        self._wait()
        self._pending = self._thread.submit(self._write, frame)

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _write(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa

        if self._schema is None:
            self._schema = pa.schema(
                [(str(name), _arrow_type(frame[name])) for name in frame.columns]
            )
            if self.kind == "csv":
                import pyarrow.csv as pcsv

                self._writer = pcsv.CSVWriter(
                    self.path, self._schema, write_options=pcsv.WriteOptions(quoting_style="needed")
                )
            else:
                import pyarrow.parquet as pq

                self._writer = pq.ParquetWriter(self.path, self._schema)
        self._writer.write_table(
            pa.Table.from_pandas(frame, schema=self._schema, preserve_index=False)
        )

    def __exit__(self, *exc: object) -> None:
        ok = exc[0] is None
        try:
            if ok:
                self._wait()  # the last chunk
        except BaseException:
            ok = False
            raise
        finally:
            self._thread.shutdown()  # after an error, lets a running write finish first
            try:
                if self._writer is not None:
                    self._writer.close()
            finally:
                if not ok:
                    self.path.unlink(missing_ok=True)


def _register_more() -> None:
    # `serving` never imports `training`; the CLI (here) may import `serving`.
    from serving.cli import serve
    from training.evaluate_cli import evaluate
    from training.monitor_cli import monitor

    app.command("evaluate")(user_errors(evaluate))
    app.command("monitor")(user_errors(monitor))
    app.command("serve")(user_errors(serve))


_register_more()
