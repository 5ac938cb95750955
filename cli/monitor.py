"""`leadscore monitor`: has production moved away from what the model learned from?

Input: the scores production wrote (`leadscore score`'s output: id, probability,
recommended_stage, model_version), and optionally the current CRM export of the same
leads (`--data`, with `--events` when the spec reads an event log): their features as of
`--as-of` for feature drift, their creation week for volumes, and their outcome where it
is known for live calibration. Output: report.json and report.html in `--out`, a summary
on the terminal, an optional MLflow run, and the exit code a nightly job acts on:
0 no action needed, 1 retraining advised, 2 bad input. Numbers come from
`training.monitor`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer
from rich.markup import escape
from rich.table import Table

from cli.common import DEFAULT_MODEL, console
from features.errors import LeadscoreError
from models.mlflow_store import MONITOR_EXPERIMENT

if TYPE_CHECKING:
    import pandas as pd

    from models.scorer import LeadScorer

NEEDED = ("probability",)


def monitor(
    scores: Annotated[
        Path, typer.Option(help="scores written by `leadscore score` (.csv or .parquet)")
    ],
    data: Annotated[
        Path | None,
        typer.Option(
            help="current CRM export of the scored leads: features (drift), creation week "
            "(volumes) and known outcomes (live calibration)"
        ),
    ] = None,
    model: Annotated[
        str, typer.Option(help="the model that scored them (MLflow URI or bundle folder)")
    ] = DEFAULT_MODEL,
    out: Annotated[Path, typer.Option(help="folder for report.html and report.json")] = Path(
        "reports/monitor"
    ),
    events: Annotated[
        Path | None,
        typer.Option(help="event log (.csv or .parquet), for a spec that reads one"),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="the moment the leads' features are taken as of (default: now)"
        ),
    ] = None,
    log_mlflow: Annotated[
        bool,
        typer.Option(
            "--log-mlflow",
            help=f"log the report and metrics to MLflow experiment {MONITOR_EXPERIMENT}",
        ),
    ] = False,
) -> None:
    """Compare production's leads and scores with the model's training data: PSI per
    feature and of the score, MQL/SQL volumes per week, live calibration. Exit code 1
    when retraining is advised."""
    from cli.common import moment_of
    from features.files import load_events, load_leads
    from serving.resolve import load_model
    from training import monitor as m
    from training.monitor_report import render_monitor_html

    moment = moment_of(as_of)
    scorer, version = load_model(model)
    spec = scorer.spec
    scored = read_scores(scores, spec.id)
    missing = [c for c in (spec.id, *NEEDED) if c not in scored.columns]
    if missing:
        raise LeadscoreError(
            f"scores file {scores} has no column {', '.join(map(repr, missing))}: expected "
            "the output of `leadscore score` (id, probability, recommended_stage, model_version)"
        )
    profile = scorer.metadata.get("monitor_reference")
    if not profile:
        raise LeadscoreError(
            f"model {model} keeps no training profile to compare with (trained before "
            "`leadscore monitor` existed): retrain it with this version of leadscore"
        )
    check_version(scored, version, scores, model)
    by_age = profile.get("by_age")
    if by_age is not None and (data is None or events is None):
        raise LeadscoreError(
            f"model {model} learned from point-in-time examples (leads at "
            f"{', '.join(by_age)} days after creation): give --data and --events so the "
            "scored leads are compared at the same ages"
        )
    probability = numbers(scored["probability"], "probability", scores)
    report: dict[str, Any] = {
        "model": {"uri": model, "version": version or None, "spec": spec.name},
        "scores": {"file": str(scores), "leads": len(scored)},
        "as_of": moment.text,
        "score": m.score_drift(probability, profile["all"]) if by_age is None else None,
        "features": [],
        "volumes": None,
        "calibration": None,
        "notes": [],
    }
    stages = (
        scored["recommended_stage"].astype(str).to_numpy()
        if "recommended_stage" in scored.columns
        else None
    )
    if data is not None:
        frame = load_leads(data, dialect=spec.csv)
        if spec.id not in frame.columns:
            raise LeadscoreError(
                f"data file {data} has no id column {spec.id!r}: outcomes and features are "
                "matched to the scores by it"
            )
        joined, order = join_scores(scored, frame, spec.id)
        if len(joined) < len(scored):
            report["notes"].append(
                f"{len(scored) - len(joined):,} scored leads are not in {data.name}: left out "
                "of feature drift, volumes and calibration"
            )
        log = load_events(events, spec) if events is not None else None
        if by_age is None:
            x = encode_as_of(scorer, joined, log, moment)
            report["features"] = m.feature_drift(x, spec, profile["all"])
        else:
            report["features"], report["score"], report["ages"] = drift_by_age(
                scorer, joined, log, moment, by_age
            )
        weeks = creation_weeks(joined, spec)
        if stages is not None and weeks is not None:
            report["volumes"] = m.weekly_volumes(
                stages[order], weeks, scorer.metadata.get("threshold_report") or {}
            )
        report["calibration"] = outcomes(joined, spec, probability[order])
    else:
        report["notes"].append("no --data: feature drift, volumes and calibration left out")
    report["advice"] = m.advice(report)
    report["retrain_advised"] = bool(report["advice"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str))
    (out / "report.html").write_text(render_monitor_html(report), encoding="utf-8")
    print_summary(report, out)
    if log_mlflow:
        log_run(report, out)
    if report["retrain_advised"]:
        raise typer.Exit(code=1)


def read_scores(path: Path, id_column: str) -> pd.DataFrame:
    """`leadscore score`'s output (.csv, .parquet), or the service's scoring log: a folder
    `monitoring/leadscore_scores` (or one of its `data.*.log` files) of JSON lines that
    BentoML's monitoring wrote (serving/monitoring.py)."""
    import pandas as pd

    from features.files import load_leads

    if path.is_dir() or path.suffix == ".log":
        files = sorted(path.rglob("data.*.log*")) if path.is_dir() else [path]
        if not files:
            raise LeadscoreError(
                f"scores folder {path} holds no BentoML monitoring data (data.*.log files): "
                "is LEADSCORE_SCORING_LOG=true set for the service?"
            )
        frames = []
        for file in files:
            try:
                frames.append(pd.read_json(file, lines=True, dtype={id_column: str}))
            except ValueError as error:
                raise LeadscoreError(
                    f"scores log {file} is not JSON lines: {str(error).splitlines()[0]}"
                ) from None
        frame = pd.concat(frames, ignore_index=True)
        if id_column in frame.columns:
            frame[id_column] = frame[id_column].astype(str)
        return frame
    return load_leads(path, "scores file")


def check_version(scored: pd.DataFrame, version: str, scores: Path, model: str) -> None:
    """Scores from another model version than the one named cannot be compared with it."""
    if "model_version" not in scored.columns or not version:
        return
    seen = sorted({str(v) for v in scored["model_version"].dropna() if str(v).strip()})
    other = [v for v in seen if v != str(version)]
    if other:
        raise LeadscoreError(
            f"scores file {scores} holds scores of model version {', '.join(other)}, not of "
            f"{model} (version {version}): monitor them with --model models:/NAME/"
            f"{other[0]}"
        )


def numbers(column: pd.Series, name: str, path: Path) -> np.ndarray:
    import pandas as pd

    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(values) & column.notna().to_numpy()
    if bad.any():
        at = int(np.argmax(bad))
        raise LeadscoreError(
            f"scores file {path} row {at + 2}: column {name!r} holds {column.iloc[at]!r}, "
            "expected a number"
        )
    return values


def join_scores(
    scored: pd.DataFrame, frame: pd.DataFrame, id_column: str
) -> tuple[pd.DataFrame, np.ndarray]:
    """The data rows of the scored leads (in the scores' order) and the positions in the
    scores of those found."""
    ids = scored[id_column].astype(str).str.strip()
    frame = frame.assign(**{id_column: frame[id_column].astype(str).str.strip()})
    frame = frame.drop_duplicates(id_column, keep="last").set_index(id_column, drop=False)
    found = ids.isin(frame.index).to_numpy()
    order = np.flatnonzero(found)
    return frame.loc[ids[found].tolist()].reset_index(drop=True), order


def drift_by_age(
    scorer: LeadScorer, frame: pd.DataFrame, log: Any, moment: Any, by_age: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, int]]:
    """Feature and score drift of the leads taken at the ages the model learned from: each
    lead as of creation + 0, 7, 30 days (those moments before `moment`), compared with the
    training rows of the same age; PSIs averaged over the ages weighted by their leads."""
    from features.build import read_categories
    from features.events import event_columns
    from features.timestamps import NS_PER_DAY, AsOf, read_timestamps
    from training import monitor as m

    spec = scorer.spec
    assert spec.events is not None and log is not None
    created = read_timestamps(frame[spec.time.column], spec.time.column, spec.missing_tokens)
    created_ns = created.astype("datetime64[ns]").astype(np.int64)
    now = int(np.max(moment.rows(1)))
    codes = log.codes_of(read_categories(frame[spec.id], spec.id, spec.missing_tokens))
    features: list[tuple[int, list[dict[str, Any]]]] = []
    scores: list[tuple[int, list[dict[str, Any]]]] = []
    counts: dict[str, int] = {}
    for age, reference in by_age.items():
        moments = created_ns + round(float(age) * NS_PER_DAY)
        rows = np.flatnonzero(~np.isnat(created) & (moments <= now))
        counts[age] = len(rows)
        if len(rows) == 0:
            continue
        part = frame.iloc[rows].reset_index(drop=True)
        for name, values in event_columns(spec.events, log, codes[rows], moments[rows]).items():
            part[name] = values
        x = scorer.encode(part, AsOf(moments[rows]))
        drift = m.feature_drift(x, spec, reference)
        features.append((len(rows), [{**row, "age": age} for row in drift]))
        probability = scorer.models["full"].probability(x)
        score = m.score_drift(probability, reference)
        scores.append((len(rows), [{"feature": "probability", "age": age, **score}]))
    if not features:
        raise LeadscoreError(
            f"no scored lead was created at least {min(map(float, by_age)):g} days before "
            f"{moment.text}: nothing to compare at the model's ages"
        )
    score_row = m.combine(scores)[0]
    return m.combine(features), score_row, counts


def encode_as_of(scorer: LeadScorer, frame: pd.DataFrame, log: Any, moment: Any) -> np.ndarray:
    """The leads' features as of the moment (from the event log when the spec has one)."""
    from features.events import with_event_columns

    spec = scorer.spec
    if spec.needs_events and log is None:
        raise LeadscoreError(
            f"spec {spec.name!r} reads window features from an event log: give it with --events"
        )
    if log is not None:
        frame = with_event_columns(frame, spec, log, moment)
    return scorer.encode(frame, moment)


def creation_weeks(frame: pd.DataFrame, spec: Any) -> np.ndarray | None:
    """Each lead's ISO week of creation (None for an ordinal time column)."""
    import pandas as pd

    from features.timestamps import read_timestamps

    if spec.time.kind != "datetime":
        return None
    stamps = read_timestamps(frame[spec.time.column], spec.time.column)
    weeks = pd.to_datetime(stamps, utc=True).strftime("%G-W%V")
    return np.asarray(weeks, dtype=object)


def outcomes(frame: pd.DataFrame, spec: Any, probability: np.ndarray) -> dict[str, Any]:
    """Live calibration on the scored leads whose outcome the export knows now."""
    from training import monitor as m
    from training.data import prepare

    try:
        prepared = prepare(frame.assign(_position=np.arange(len(frame))), spec, 1)
    except LeadscoreError as error:
        return {"outcomes": 0, "bands": [], "ece": None, "note": str(error)}
    positions = prepared.frame["_position"].to_numpy(dtype=np.int64)
    return m.live_calibration(prepared.y, probability[positions])


def print_summary(report: dict[str, Any], out: Path) -> None:
    from training import monitor as m

    table = Table(title="Drift since training (PSI: < 0.1 stable, ≥ 0.25 major)")
    table.add_column("feature")
    table.add_column("PSI", justify="right")
    table.add_column("reading")
    for row in report["features"][:10]:
        colour = {"major shift": "red", "moderate shift": "yellow"}.get(row["reading"], "")
        table.add_row(
            escape(row["feature"]),
            f"{row['psi']:.3f}",
            f"[{colour}]{row['reading']}[/]" if colour else row["reading"],
        )
    score = report["score"]
    if score is not None:
        table.add_row("(probability)", f"{score['psi']:.3f}", m.psi_reading(score["psi"]))
    console.print(table)
    live = report.get("calibration") or {}
    if live.get("ece") is not None:
        console.print(
            f"live calibration: ECE {live['ece']:.3f} on {live['outcomes']:,} leads with a "
            "known outcome",
            highlight=False,
        )
    for note in report["notes"]:
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    if report["advice"]:
        for reason in report["advice"]:
            console.print(f"[bold red]retraining advised:[/] {escape(reason)}", highlight=False)
    else:
        console.print("[green]no action needed:[/] nothing moved beyond the limits")
    console.print(f"report: {out / 'report.html'}", highlight=False)


def log_run(report: dict[str, Any], out: Path) -> None:
    """The report and its numbers as a run of the monitoring experiment."""
    import mlflow

    from models.mlflow_store import configure
    from training.tracking import ensure_experiment

    uri = configure()
    experiment_id = ensure_experiment(MONITOR_EXPERIMENT, uri)
    with mlflow.start_run(experiment_id=experiment_id, run_name="monitor"):
        mlflow.set_tags(
            {
                "leadscore.model": report["model"]["uri"],
                "leadscore.model_version": report["model"]["version"] or "",
                "leadscore.retrain_advised": str(report["retrain_advised"]).lower(),
            }
        )
        metrics = {f"psi.{r['feature']}": r["psi"] for r in report["features"]}
        if report["score"] is not None:
            metrics["psi.probability"] = report["score"]["psi"]
        live = report.get("calibration") or {}
        if live.get("ece") is not None:
            metrics["live.ece"] = live["ece"]
        mlflow.log_metrics(metrics)
        mlflow.log_artifacts(str(out), "monitor")
    console.print(f"logged to MLflow experiment {MONITOR_EXPERIMENT} in {uri}", highlight=False)
