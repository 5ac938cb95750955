"""`leadscore alignment`: write the marketing–sales alignment sheet of a model.

The model comes from the registry (or a bundle folder), the numbers from its training
run's report.json; `training.alignment` renders the page. Registered in `cli.main` as
`app.command("alignment")(user_errors(alignment))`.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.common import DEFAULT_MODEL, MODEL_HELP, LangOption, console, err_console, language_of
from features.errors import LeadscoreError

log = logging.getLogger(__name__)


def alignment(
    out: Annotated[Path, typer.Option(help="the sheet to write, an .html file")],
    model: Annotated[str, typer.Option(help=MODEL_HELP)] = DEFAULT_MODEL,
    lang: LangOption = "en",
) -> None:
    """Write the marketing–sales alignment sheet: stage definitions and owners, the MQL and
    SQL criteria with the fitted thresholds, the requirements catalogue, expected weekly
    volumes, the strongest factors, lead statuses with their follow-up service levels and
    a sign-off block, on at most two A4 pages."""
    from models.mlflow_store import configure
    from models.policy import Policy
    from serving.resolve import open_model, parse_registry_uri
    from training.alignment import SheetModel, write_alignment

    lang = language_of(lang)
    if out.suffix.lower() not in (".html", ".htm"):
        raise LeadscoreError(f"--out: {str(out)!r} must be an .html file")
    if out.is_dir():
        raise LeadscoreError(f"--out: {str(out)!r} is a folder; give the sheet's file name")

    uri = configure()
    loaded = open_model(model, uri)
    scorer, version = loaded.scorer, loaded.version or ""
    policy = scorer.policy
    if not isinstance(policy, Policy):
        raise LeadscoreError(
            f"model {model} has no decision policy (thresholds and catalogue): "
            "no alignment sheet to write"
        )
    run_id = loaded.run_id
    report = run_report(run_id)
    if report is None:
        err_console.print(
            f"[yellow]note:[/] no training run report for {model}: the sheet has no "
            "volumes and no factors",
            highlight=False,
            soft_wrap=True,
        )
    registry = parse_registry_uri(model)
    sheet = SheetModel(
        name=registry[0] if registry else model,
        version=version or None,
        run_id=run_id,
        trained_at=scorer.metadata.get("trained_at"),
        spec=scorer.spec.name,
    )
    try:
        path = write_alignment(policy, report, sheet, out, lang)
    except OSError as error:
        raise LeadscoreError(f"--out: cannot write {str(out)!r}: {error.strerror}") from None
    console.print(
        f"wrote the alignment sheet of {sheet.name}"
        + (f" version {sheet.version}" if sheet.version else "")
        + f" to {path}",
        highlight=False,
        soft_wrap=True,
    )


def run_report(run_id: str | None) -> dict[str, Any] | None:
    """The training run's report.json (None: no run, or the run has none)."""
    if run_id is None:
        return None
    from mlflow.artifacts import download_artifacts
    from mlflow.exceptions import MlflowException

    from training.alignment import RUN_REPORT

    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = download_artifacts(run_id=run_id, artifact_path=RUN_REPORT, dst_path=tmp)
        except (MlflowException, OSError) as error:
            log.info("no %s in run %s: %s", RUN_REPORT, run_id, error)
            return None
        report: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return report
