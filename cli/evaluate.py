"""`leadscore evaluate`: score leads the model never saw and write the evaluation report.

The command only loads, checks, saves and logs; every number comes from the pure
functions in `training.evaluation`. Registered in `cli.main` as
`app.command("evaluate")(user_errors(evaluate))`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from cli.common import BUILT_IN_SPECS, DEFAULT_MODEL, console
from features.errors import LeadscoreError
from models.mlflow_store import EVALUATION_EXPERIMENT

if TYPE_CHECKING:
    import pandas as pd

    from models.scorer import LeadScorer

log = logging.getLogger(__name__)


def evaluate(
    data: Annotated[Path, typer.Option(help="CRM export with known outcomes, .csv or .parquet")],
    spec: Annotated[
        str,
        typer.Option(
            help=f"dataset spec YAML, or a built-in name: {BUILT_IN_SPECS} (how to read "
            "labels and time)"
        ),
    ] = "hubspot",
    model: Annotated[
        str, typer.Option(help="MLflow model URI, or a bundle folder")
    ] = DEFAULT_MODEL,
    out: Annotated[Path, typer.Option(help="folder for report.html and report.json")] = Path(
        "reports/evaluation"
    ),
    points: Annotated[
        Path | None,
        typer.Option(
            help="points-rules YAML for the points baseline (default: "
            "configs/points-hubspot.yaml when the data has its columns)"
        ),
    ] = None,
    date_from: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="evaluate leads created on or after this date (default: the model's "
            "test slice, or on a newer export the leads after its training data)",
        ),
    ] = None,
    date_to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="evaluate leads created on or before this date (a date without a time "
            "includes the whole day)",
        ),
    ] = None,
    backtest: Annotated[
        int,
        typer.Option(
            min=0, help="rolling-origin backtest over the last N months (trains N new models)"
        ),
    ] = 0,
    config: Annotated[
        Path | None,
        typer.Option(help="training config YAML: the test share, and how backtest folds train"),
    ] = None,
    log_mlflow: Annotated[
        bool,
        typer.Option(
            "--log-mlflow",
            help=f"log the report and metrics to MLflow experiment {EVALUATION_EXPERIMENT}",
        ),
    ] = False,
    run_id: Annotated[
        str | None,
        typer.Option(
            "--run-id",
            help="also log the report into this existing MLflow run (e.g. the model's "
            "training run), under evaluation/FROM_TO/",
        ),
    ] = None,
    events: Annotated[
        Path | None,
        typer.Option(
            help="event log (.csv or .parquet): evaluate point-in-time examples, features "
            "as of each example's moment (as the model is used)"
        ),
    ] = None,
) -> None:
    """Evaluate a model on leads it never saw, against the base rate, a logistic regression
    and a points rule; write an HTML + JSON report."""
    from cli.common import Stages
    from features.files import file_sha256, load_events, load_leads
    from features.jsonable import jsonable
    from features.spec import resolve_spec
    from models.mlflow_store import configure
    from serving.resolve import open_model
    from training import backtest as rolling_origin
    from training import evaluation
    from training.config import load_config
    from training.data import prepare, prepare_point_in_time
    from training.evaluation_runs import check_run, log_to_mlflow, log_to_run, training_params
    from training.points import default_points_path, load_points
    from training.provenance import training_overlap_notes
    from training.selection import default_selection, later_from, select_rows, subset
    from training.slices import default_slice_columns
    from training.snapshot import snapshot_leaks

    # Every input check before the model is loaded or anything is written.
    dataset_spec = resolve_spec(spec)
    settings = load_config(config)
    if backtest:
        rolling_origin.check_backtest(dataset_spec, backtest)
    rules = load_points(points) if points is not None else None
    stages = Stages("leadscore evaluate")
    with stages:
        stages.stage("reading data")
        frame = load_leads(data, dialect=dataset_spec.csv)
        if rules is not None:
            rules.check(frame, f"points rules {points}")
        if events is not None:
            log = load_events(events, dataset_spec)
            stages.stage("building point-in-time examples")
            prepared = prepare_point_in_time(
                frame, log, dataset_spec, settings.examples, settings.min_positives
            )
        else:
            stages.stage("reading labels and time")
            prepared = prepare(frame, dataset_spec, settings.min_positives)
        # A date range is checked now; the default slice's share may come from the model's run.
        selection = (
            select_rows(prepared, dataset_spec, date_from, date_to)
            if date_from or date_to
            else None
        )
        partial = rolling_origin.backtest_months(prepared, backtest)[1] if backtest else None

        stages.stage("loading the model")
        uri = configure()
        if run_id is not None:
            check_run(run_id, uri)
        loaded = open_model(model, uri)
        scorer, version = loaded.scorer, loaded.version or ""
        check_model_matches(scorer, frame, model, data)
        notes: list[str] = []
        if scorer.spec.name != dataset_spec.name:
            notes.append(
                f"the model was trained with spec {scorer.spec.name!r}; the data is read "
                f"with spec {dataset_spec.name!r} (labels and time)"
            )
        if rules is None:
            rules = evaluation.default_points_rule(frame.columns)
            if rules is not None:
                notes.append(f"points rule: the default {default_points_path().name}")

        trained = training_params(loaded.run_id)
        test_share = settings.split.test
        if config is None and trained and "split.test" in trained:
            test_share = float(trained["split.test"])
        sha256 = file_sha256(data)
        if selection is None:
            selection = default_selection(prepared, dataset_spec, test_share, trained, sha256)
        evaluated = subset(prepared, selection.rows)
        before = subset(prepared, selection.before) if len(selection.before) else None
        notes += training_overlap_notes(
            prepared, dataset_spec, selection, sha256, trained, scorer.metadata
        )
        if prepared.dropped_unknown:
            notes.append(
                f"{prepared.dropped_unknown:,} {prepared.unit} left out: their label window is "
                "still open (outcome not known yet)"
            )

        stages.stage(f"evaluating {len(evaluated.y):,} {evaluated.unit}")
        sections = evaluation.evaluate_scorer(
            scorer,
            evaluated,
            dataset_spec,
            baselines=before,
            points=rules,
            slice_columns=default_slice_columns(scorer.spec),
            later_start=later_from(prepared, dataset_spec, selection, date_to),
        )
        backtest_result = None
        if backtest:

            def fold(month: str, number: int, total: int) -> None:
                stages.stage(f"backtest month {month} ({number} of {total})")

            backtest_result = rolling_origin.backtest(
                prepared, dataset_spec, settings, backtest, on_fold=fold
            )
            notes.append(rolling_origin.backtest_note(settings, backtest))
            if partial:
                notes.append(partial)

        stages.stage("evaluation report")
        result: dict[str, Any] = jsonable(
            {
                "model": {
                    "uri": model,
                    "version": version,
                    "spec": scorer.spec.name,
                    "trained_at": scorer.metadata.get("trained_at"),
                },
                "data": evaluation.data_summary(
                    evaluated, dataset_spec, str(data), selection, prepared
                ),
                **{k: v for k, v in jsonable(sections).items() if k != "notes"},
                "time": {
                    "examples": {
                        "point_in_time": prepared.point_in_time,
                        **(
                            {"at_days": settings.examples.at_days} if prepared.point_in_time else {}
                        ),
                    },
                    "snapshot_leaks": snapshot_leaks(prepared, dataset_spec, settings.snapshot),
                },
                "backtest": backtest_result,
                "notes": notes + (sections.notes or []),
            }
        )
        paths = write(result, out)
        stages.end()

        console.print(comparison_table(result))
        if backtest_result is not None:
            console.print(backtest_table(result["backtest"]))
            console.print(calibration_line(result["backtest"]), highlight=False)
        for note in result["notes"]:
            console.print(f"[dim]note:[/] {escape(note)}", highlight=False, soft_wrap=True)
        for kind, path in paths.items():
            console.print(f"{kind}: {path}", highlight=False)
        if not log_mlflow and run_id is None:
            return
        stages.stage("logging to MLflow")
        new_run = log_to_mlflow(result, paths, uri) if log_mlflow else None
        folder = log_to_run(paths, run_id, result["data"]) if run_id is not None else None
        stages.end()
        if new_run is not None:
            console.print(
                f"MLflow run {new_run} in experiment {EVALUATION_EXPERIMENT} ({uri})",
                highlight=False,
            )
        if folder is not None:
            console.print(
                f"logged into MLflow run {run_id}: {folder}/ ({uri})",
                highlight=False,
                soft_wrap=True,
            )


def check_model_matches(scorer: LeadScorer, frame: pd.DataFrame, model: str, data: Path) -> None:
    """The data must hold every column the model reads (features and its catalogue)."""
    needed = list(scorer.spec.feature_columns)
    if scorer.policy is not None:
        catalogue = scorer.policy.requirements
        needed += [
            c
            for c in catalogue.columns
            if c not in (catalogue.stage_column, catalogue.status_column)
        ]
    absent = [c for c in dict.fromkeys(needed) if c not in frame.columns]
    if absent:
        raise LeadscoreError(
            f"model {model} (spec {scorer.spec.name!r}) does not match data file {data}: "
            f"missing column(s) {', '.join(map(repr, absent))}"
        )


def write(result: dict[str, Any], out: Path) -> dict[str, Path]:
    """report.html + report.json through the renderer, or report.json alone without it."""
    out.mkdir(parents=True, exist_ok=True)
    try:
        from training.report import write_report
    except ModuleNotFoundError as error:
        if error.name != "training.report":
            raise
        path = out / "report.json"
        path.write_text(json.dumps(result, indent=2, default=float), encoding="utf-8")
        return {"json": path}
    return write_report(result, out)


def _cell(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def comparison_table(result: dict[str, Any]) -> Table:
    data = result["data"]
    table = Table(
        title=f"{data['selection']}: {data['rows']:,} {data.get('unit', 'leads')} from "
        f"{data['time_from']} "
        f"to {data['time_to']}, base rate {data['base_rate']:.1%}"
    )
    for column in ("model", "ROC AUC", "PR AUC", "Brier", "ECE", "top-10% lift"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for row in result["comparison"]:
        table.add_row(
            row["name"],
            *(_cell(row[m]) for m in ("roc_auc", "pr_auc", "brier", "ece", "top_decile_lift")),
        )
    return table


def backtest_table(backtest: dict[str, Any]) -> Table:
    from training.backtest import BACKTEST_METRICS

    table = Table(
        title="rolling-origin backtest: a new model per month, trained on the leads before it"
    )
    for column in ("month", "rows", "conv.", "ROC AUC", "PR AUC", "Brier", "ECE", "LR AUC"):
        table.add_column(column, justify="left" if column == "month" else "right")
    for fold in backtest["folds"]:
        table.add_row(
            fold["test_month"],
            f"{fold['rows']:,}",
            f"{fold['positives']:,}",
            _cell(fold["roc_auc"]),
            _cell(fold["pr_auc"]),
            _cell(fold["brier"]),
            _cell(fold["ece"]),
            _cell(fold["logistic_roc_auc"]),
        )
    summary = backtest["summary"]
    for stat in ("mean", "std"):
        table.add_row(
            stat,
            "",
            "",
            *(_cell((summary.get(m) or {}).get(stat)) for m in BACKTEST_METRICS[:5]),
        )
    return table


def calibration_line(backtest: dict[str, Any]) -> str:
    """The same models' mean ECE calibrated on every labelled row and on the recent window
    only (recency.calibrate_on), to choose the setting by."""
    summary = backtest["summary"]

    def mean(metric: str) -> str:
        return _cell((summary.get(metric) or {}).get("mean"))

    return (
        f"mean ECE calibrated on every labelled row {mean('ece_calibrated_on_all')}, on the "
        f"recent window {mean('ece_calibrated_on_recent')} (recency.calibrate_on)"
    )
