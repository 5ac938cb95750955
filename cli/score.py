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
    LangOption,
    RowProgress,
    console,
    err_console,
    language_of,
    moment_of,
    scored_line,
)
from features.errors import LeadscoreError
from models.i18n import N_

if TYPE_CHECKING:
    from models.contract import LeadScore, Scorer


def score(
    data_path: Annotated[
        str,
        typer.Option(
            "--data",
            help="leads to score, .csv or .parquet (with --engine spark: any path Spark reads, "
            "e.g. hdfs://… or s3a://…)",
        ),
    ],
    out_path: Annotated[
        str,
        typer.Option(
            "--out",
            help="output file, .csv or .parquet (with --engine spark: a Parquet directory)",
        ),
    ],
    model: Annotated[str, typer.Option(help=MODEL_HELP)] = DEFAULT_MODEL,
    chunk_size: Annotated[
        int, typer.Option(min=1, help="rows per chunk (with --engine spark: per worker batch)")
    ] = 50_000,
    reasons: Annotated[bool, typer.Option(help="add the top fit / interest reasons")] = False,
    k: Annotated[int, typer.Option(min=1, help="reasons per direction and score")] = 3,
    events: Annotated[
        str | None,
        typer.Option(
            help="event log, .csv or .parquet: features from the events before --as-of (with "
            "--engine spark: any path Spark reads)"
        ),
    ] = None,
    as_of: AsOfOption = None,
    no_id: Annotated[
        bool,
        typer.Option(
            "--no-id",
            help="score a file without the spec's id column (the scores cannot be joined back "
            "to the leads but by row order)",
        ),
    ] = False,
    engine: Annotated[
        str,
        typer.Option(
            help="local: this process, in chunks; spark: Apache Spark's mapInPandas, Parquet "
            "out (pip install -e '.[spark]')",
        ),
    ] = "local",
    spark_conf: Annotated[
        list[str] | None,
        typer.Option(
            "--spark-conf",
            help="a Spark setting KEY=VALUE for --engine spark (repeatable), e.g. "
            "spark.master=local[4]",
        ),
    ] = None,
    partitions: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="with --engine spark: spread the rows over N partitions before scoring (a "
            "Parquet file of one row group is otherwise read by one task)",
        ),
    ] = None,
    lang: LangOption = "en",
) -> None:
    """Score a file in chunks: id, scores, grades, recommendation, model version [, reasons]."""
    from features.files import count_rows, data_format, load_events
    from serving.batch import check_file, check_readable, score_file
    from serving.resolve import load_model

    lang = language_of(lang)
    if engine == "spark":
        from cli.spark import score_on_spark

        score_on_spark(
            data_path,
            out_path,
            model,
            batch_rows=chunk_size,
            reasons=reasons,
            k=k,
            events=events,
            as_of=as_of,
            no_id=no_id,
            spark_conf=spark_conf or [],
            partitions=partitions,
            lang=lang,
        )
        return
    if engine != "local":
        raise LeadscoreError(f"unknown engine {engine!r}: expected local or spark")
    if spark_conf or partitions is not None:
        raise LeadscoreError("--spark-conf and --partitions are settings of --engine spark")
    data, out = Path(data_path), Path(out_path)
    data_format(out)
    check_readable(data)
    moment = moment_of(as_of)
    scorer, version = load_model(model)
    log = load_events(Path(events), scorer.spec) if events is not None else None
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
            lang=lang,
        )
    console.print(scored_line(written, model, version, moment, out))


def explain(
    data: Annotated[Path, typer.Option(help="file with the lead, .csv or .parquet")],
    id: Annotated[str, typer.Option("--id", help="the lead's id (the spec's id column)")],
    model: Annotated[str, typer.Option(help=MODEL_HELP)] = DEFAULT_MODEL,
    k: Annotated[int, typer.Option(min=1, help="reasons per direction and score")] = 3,
    events: EventsOption = None,
    as_of: AsOfOption = None,
    lang: LangOption = "en",
) -> None:
    """Print a card for one lead: scores, grades, recommendation and rule, reasons."""
    from features.coerce import CoercionError
    from features.files import load_events, load_leads
    from serving.resolve import load_model

    lang = language_of(lang)
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
        result = scorer.results([record], explain=True, k=k, as_of=moment, lang=lang)[0]
    except CoercionError as error:
        raise LeadscoreError(f"lead {id!r}: {error}") from None
    console.print(lead_card(id, record, result, scorer, model, version, moment.text, lang))


# The card's own words (messages: `models.i18n`).
CARD = {
    "probability": N_("probability to convert"),
    "fit": N_("fit"),
    "interest": N_("interest"),
    "grade": N_("grade %(grade)s"),
    "recommendation": N_("recommendation"),
    "lead_status": N_("lead status %(status)s"),
    "changed": N_("changed"),
    "unchanged": N_("unchanged"),
    "now": N_("now %(stage)s"),
    "rule": N_("rule"),
    "next_action": N_("next action"),
    "due": N_("due %(due)s"),
    "baseline": N_("baseline %(baseline)s → %(score)s"),
    "lead": N_("lead %(id)s"),
    "version": N_("version %(version)s"),
    "as_of": N_("as of %(moment)s"),
}


def lead_card(
    lead_id: str,
    record: dict[str, Any],
    result: LeadScore,
    scorer: Scorer,
    model: str,
    version: str,
    as_of: str | None = None,
    lang: str = "en",
) -> Any:
    """A rich panel a sales rep can read, in `lang` (the result's reasons and details are
    already in it). English names a stage by its code, other languages by its name."""
    from rich.panel import Panel

    from models.actions import stage_name
    from models.i18n import language

    words = language(lang)
    say, n = words.format, words.number
    card = {key: words.gettext(message) for key, message in CARD.items()}

    def stage(code: Any) -> str:
        return escape(str(code) if words.is_source else stage_name(str(code), words))

    def grade(letter: str | None) -> str:
        return f" ({say(CARD['grade'], grade=letter)})" if letter else ""

    stage_now = record.get(scorer.policy.requirements.stage_column) if scorer.policy else None
    chance = result.probability
    percent = f"{chance:.1%}" if words.is_source else f"{100 * chance:.1f} %"
    lines = [
        f"[bold]{card['probability']}[/] {n(percent)}",
        f"[bold]{card['fit']}[/] {result.fit:.0f}/100{grade(result.fit_grade)}   "
        f"[bold]{card['interest']}[/] {result.interest:.0f}/100{grade(result.interest_grade)}",
    ]
    decision = result.decision
    if decision is not None:
        status = decision.lead_status
        lines += [
            "",
            f"[bold]{card['recommendation']}[/] {stage(decision.stage)}"
            + (f", {say(CARD['lead_status'], status=status)}" if status else "")
            + (f" [green]({card['changed']})[/]" if decision.changed else f" ({card['unchanged']})")
            + (f" — {say(CARD['now'], stage=stage(stage_now))}" if stage_now else ""),
            f"[bold]{card['rule']}[/] {decision.rule}: {escape(decision.detail)}",
        ]
        action = decision.next_action
        if action is not None:
            lines.append(
                f"[bold]{card['next_action']}[/] {action.type}"
                + (f", {say(CARD['due'], due=action.due)}" if action.due else "")
                + f": {escape(action.detail)}"
            )
    for group, reasons in (result.reasons or {}).items():
        baseline = say(
            CARD["baseline"], baseline=f"{reasons.baseline:.0f}", score=f"{reasons.score:.0f}"
        )
        lines += ["", f"[bold]{card[group]}[/] ({baseline})"]
        for factor in reasons.positive:
            lines.append(f"  [green]{n(f'+{factor.effect:.1f}')}[/] {escape(factor.text)}")
        for factor in reasons.negative:
            lines.append(f"  [red]{n(f'{factor.effect:.1f}')}[/] {escape(factor.text)}")
    return Panel(
        "\n".join(lines),
        title=escape(say(CARD["lead"], id=lead_id)),
        subtitle=f"{model}"
        + (f" ({say(CARD['version'], version=version)})" if version else "")
        + (f", {say(CARD['as_of'], moment=as_of)}" if as_of else ""),
    )
