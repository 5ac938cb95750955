"""`leadscore score` (a file, in chunks, through `serving.batch`) and `leadscore explain`
(one lead's card: scores, grades, recommendation and rule, reasons)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from cli.common import (
    DEFAULT_MODEL,
    MODEL_HELP,
    AsOfOption,
    EventsOption,
    RowProgress,
    console,
    err_console,
    moment_of,
)
from features.errors import LeadscoreError

if TYPE_CHECKING:
    from models.contract import LeadScore, Scorer


def score(
    data: Annotated[Path, typer.Option(help="leads to score, .csv or .parquet")],
    out: Annotated[Path, typer.Option(help="output file, .csv or .parquet")],
    model: Annotated[str, typer.Option(help=MODEL_HELP)] = DEFAULT_MODEL,
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
    from features.files import count_rows, data_format, load_events
    from serving.batch import check_file, check_readable, score_file
    from serving.resolve import load_model

    data_format(out)
    check_readable(data)
    moment = moment_of(as_of)
    scorer, version = load_model(model)
    log = load_events(events, scorer.spec) if events is not None else None
    check_file(scorer, data, chunk_size, log, no_id)
    err_console.print(
        f"scoring as of {moment.text}" + (" (now)" if as_of is None else ""), highlight=False
    )
    total = count_rows(data, data_format(data))
    with RowProgress("leadscore score", f"scoring {data.name}", total) as progress:
        written = score_file(
            scorer,
            data,
            out,
            as_of=moment,
            version=version,
            chunk_size=chunk_size,
            reasons=reasons,
            k=k,
            events=log,
            progress=progress.advance,
        )
    console.print(
        f"scored {written:,} leads with {model}"
        + (f" (version {version})" if version else "")
        + f" as of {moment.text} → {out}"
    )


def explain(
    data: Annotated[Path, typer.Option(help="file with the lead, .csv or .parquet")],
    id: Annotated[str, typer.Option("--id", help="the lead's id (the spec's id column)")],
    model: Annotated[str, typer.Option(help=MODEL_HELP)] = DEFAULT_MODEL,
    k: Annotated[int, typer.Option(min=1, help="reasons per direction and score")] = 3,
    events: EventsOption = None,
    as_of: AsOfOption = None,
) -> None:
    """Print a card for one lead: scores, grades, recommendation and rule, reasons."""
    from features.coerce import CoercionError
    from features.files import load_events, load_leads
    from serving.resolve import load_model

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
        result = scorer.results([record], explain=True, k=k, as_of=moment)[0]
    except CoercionError as error:
        raise LeadscoreError(f"lead {id!r}: {error}") from None
    console.print(lead_card(id, record, result, scorer, model, version, moment.text))


def lead_card(
    lead_id: str,
    record: dict[str, Any],
    result: LeadScore,
    scorer: Scorer,
    model: str,
    version: str,
    as_of: str | None = None,
) -> Any:
    """A rich panel a sales rep can read."""
    from rich.panel import Panel

    stage_now = record.get(scorer.policy.requirements.stage_column) if scorer.policy else None
    lines = [
        f"[bold]probability to convert[/] {result.probability:.1%}",
        f"[bold]fit[/] {result.fit:.0f}/100{_grade(result.fit_grade)}   "
        f"[bold]interest[/] {result.interest:.0f}/100{_grade(result.interest_grade)}",
    ]
    decision = result.decision
    if decision is not None:
        lines += [
            "",
            f"[bold]recommendation[/] {decision.stage}"
            + (f", lead status {decision.lead_status}" if decision.lead_status else "")
            + (" [green](changed)[/]" if decision.changed else " (unchanged)")
            + (f" — now {escape(str(stage_now))}" if stage_now else ""),
            f"[bold]rule[/] {decision.rule}: {escape(decision.detail)}",
        ]
        action = decision.next_action
        if action is not None:
            lines.append(
                f"[bold]next action[/] {action.type}"
                + (f", due {action.due}" if action.due else "")
                + f": {escape(action.detail)}"
            )
    for group, reasons in (result.reasons or {}).items():
        lines += ["", f"[bold]{group}[/] (baseline {reasons.baseline:.0f} → {reasons.score:.0f})"]
        for factor in reasons.positive:
            lines.append(f"  [green]+{factor.effect:.1f}[/] {escape(factor.text)}")
        for factor in reasons.negative:
            lines.append(f"  [red]{factor.effect:.1f}[/] {escape(factor.text)}")
    return Panel(
        "\n".join(lines),
        title=f"lead {escape(lead_id)}",
        subtitle=f"{model}"
        + (f" (version {version})" if version else "")
        + (f", as of {as_of}" if as_of else ""),
    )


def _grade(grade: str | None) -> str:
    return f" (grade {grade})" if grade else ""
