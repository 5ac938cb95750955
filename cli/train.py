"""`leadscore train` and `leadscore registry check`: train, log to MLflow, register, gate
`champion`; print what was measured (data, metrics, decay, thresholds) and where to see it."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from cli.common import (
    BUILT_IN_SPECS,
    Stages,
    console,
    console_script,
    err_console,
    user_errors,
)
from features.errors import LeadscoreError
from models.mlflow_store import CHAMPION, MODEL_NAME, TRAINING_EXPERIMENT

if TYPE_CHECKING:
    pass

# Past this many rows in an unsampled train slice, `leadscore train` points to
# configs/large-export.yaml.
LARGE_TRAIN_ROWS = 500_000


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
    threads: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="LightGBM threads (0 = all cores; default: the config's booster.num_threads, "
            "0). The model is the same whatever the number",
        ),
    ] = None,
) -> None:
    """Train fit / interest / full models, log them to MLflow, register, and gate `champion`."""
    # Before OpenMP starts (with LightGBM's import below): threads that wait for work sleep
    # instead of spinning, which on a machine other processes keep busy made training
    # many times slower (README "Benchmarks"). An OMP_WAIT_POLICY of the user's is kept.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from features.files import file_sha256, load_events, load_leads
    from features.spec import resolve_spec
    from training.config import load_config
    from training.data import fingerprint, prepare, prepare_point_in_time
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
    if threads is not None:
        settings = settings.model_copy(
            update={"booster": settings.booster.model_copy(update={"num_threads": threads})}
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
        if design.sample is not None:
            console.print(sample_line(design.sample), highlight=False, soft_wrap=True)
        elif len(design.split.train) > LARGE_TRAIN_ROWS:
            console.print(
                large_export_line(len(design.split.train)), highlight=False, soft_wrap=True
            )
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
    colour = "green" if promotion.alias == CHAMPION else "yellow"
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


@registry_app.command("check")
@user_errors
def registry_check(
    model_name: Annotated[str, typer.Option(help="registered model name")] = MODEL_NAME,
    experiment: Annotated[
        str, typer.Option(help="experiment of the training runs")
    ] = TRAINING_EXPERIMENT,
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
    from models.mlflow_store import configure, sqlite_database
    from training.registry import check_registry, open_store, store_errors

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


def large_export_line(train_rows: int) -> str:
    """The hint for a train slice past LARGE_TRAIN_ROWS that is not sampled."""
    return (
        f"large export: {train_rows:,} rows in the train slice; configs/large-export.yaml "
        "(sample.max_train_rows: 300000, calibration_folds: 2) trained 1 M examples 3.5× "
        'faster at 0.0009 less test AUC (README, "Benchmarks")'
    )


def sample_line(sample: dict[str, Any]) -> str:
    """What `sample.max_train_rows` did to the train slice."""
    return (
        f"sample: the train slice thinned from {sample['train_rows']:,} to {sample['kept']:,} "
        f"rows (sample.max_train_rows), the same share of positives and negatives in each of "
        f"{sample['time_blocks']} time blocks (base rate {sample['base_rate_before']:.2%} → "
        f"{sample['base_rate_kept']:.2%}); validation and test keep every row"
    )


def ui_command(uri: str, experiment_id: str | None = None, run_id: str | None = None) -> str:
    """How to open the MLflow UI on the tracking store `uri`: a tracking server's own
    address, or a command to paste as printed (the venv's `mlflow` by its full path when
    the shell would not find it). With an experiment (and run), the link opens its runs
    (the run's evaluation report): MLflow 3.17 otherwise opens on its empty GenAI view."""
    from models.mlflow_store import experiment_url

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
    from training.thresholds import STAGE_ROWS

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
    for stage in STAGE_ROWS[:3]:  # SQL, MQL, MQL or SQL
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
