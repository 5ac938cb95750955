"""The evaluation report: `report.json` and one self-contained `report.html`.

`leadscore evaluate` hands over an `EvaluationResult` (or its JSON form); this module
writes the JSON and renders the HTML from the template `templates/report.html.j2` for
a data scientist deciding whether to trust the model.

The HTML loads nothing from elsewhere (many machines have no network, and a report
must still open years later): the charts are base64 PNGs (`training.charts`), the
styles are inline, and a Content-Security-Policy forbids scripts and outside
resources. Jinja2 escapes every string from the data, since slice values come straight
from CRM fields. A part the result leaves out or sets to null (no thresholds, no
backtest, no months for an ordinal time column) is one sentence in the report.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from models.policy import GRADES
from training import charts
from training.result import (
    MODEL,
    ComparisonRow,
    DataSummary,
    EvaluationResult,
    ModelInfo,
    Reliability,
    Scores,
    Stage,
    TimeFeatures,
    to_json,
)
from training.templating import finite, num, render, text
from training.thresholds import STAGE_ROWS

log = logging.getLogger(__name__)

SCORES = ("probability", "fit", "interest")
# key, column title, whether a higher value is better
METRICS: tuple[tuple[str, str, bool], ...] = (
    ("roc_auc", "ROC AUC", True),
    ("pr_auc", "PR AUC", True),
    ("brier", "Brier", False),
    ("ece", "ECE", False),
    ("top_decile_lift", "top-10 % lift", True),
)
METRIC_TITLES = {key: title for key, title, _ in METRICS} | {"logistic_roc_auc": "logistic ROC AUC"}
SECTIONS = (
    ("comparison", "Model vs baselines"),
    ("reliability", "Calibration"),
    ("gains", "Gains and lift"),
    ("curves", "ROC and precision-recall"),
    ("thresholds", "Thresholds"),
    ("stability", "Stability over time"),
    ("time", "Time-true features"),
    ("drift", "Drift"),
    ("slices", "Slices"),
    ("backtest", "Backtest"),
    ("notes", "Notes"),
)


class MetricRow(NamedTuple):
    """A row of a metric table: the name, and each metric's text and whether it is bold."""

    name: str
    cells: list[tuple[str, bool]]


def write_report(result: EvaluationResult | Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write `report.json` (NaN as null) and the self-contained `report.html` into `out_dir`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "report.json", "html": out_dir / "report.html"}
    paths["json"].write_text(to_json(result), encoding="utf-8")
    paths["html"].write_text(render_html(result), encoding="utf-8")
    log.info("wrote the evaluation report to %s", paths["html"])
    return paths


def render_html(result: EvaluationResult | Mapping[str, Any]) -> str:
    """The whole report as one HTML document (charts embedded, no scripts, nothing fetched)."""
    typed = EvaluationResult.read(result)
    model = typed.model or ModelInfo()
    data = typed.data or DataSummary()
    reliability = {
        n: entry for n in SCORES if (entry := (typed.reliability or {}).get(n)) and entry.predicted
    }
    gains = {name: entry for name, entry in (typed.gains or {}).items() if entry.share}
    curves = typed.curves or {}
    months = typed.stability or []
    folds = typed.backtest.folds if typed.backtest else []
    drift = typed.drift if typed.drift and typed.drift.model_fields_set else None
    thresholds = typed.thresholds
    slices = {column: rows for column, rows in (typed.slices or {}).items() if rows}
    stages: dict[str, Stage] = {}
    if thresholds is not None:
        known = [s for s in STAGE_ROWS if s in thresholds.stages]
        others = [s for s in thresholds.stages if s not in STAGE_ROWS]
        stages = {s: thresholds.stages[s] for s in known + others}
    metrics = typed.metrics or {}
    title = f"leadscore evaluation: {model.spec or 'model'} {model.version or ''}".strip()
    return render(
        "report.html.j2",
        title=title,
        sections=SECTIONS,
        result=typed,
        model=model,
        data=data,
        comparison=_metric_rows([(r.name, r) for r in typed.comparison or []], bold_best=True),
        score_table=_metric_rows([(n, metrics[n]) for n in SCORES if n in metrics], False),
        metric_titles=METRIC_TITLES,
        our_model=MODEL,
        reliability=reliability,
        reliability_left_out=[n for n in SCORES if n not in reliability],
        bins={name: _bins(entry) for name, entry in reliability.items()},
        gains=gains,
        shares=next(iter(gains.values())).share if gains else [],
        curves=curves,
        thresholds=thresholds,
        stages=stages,
        per_week=any("per_week" in s.model_fields_set for s in stages.values()),
        grade_groups=[g for g in ("fit", "interest") if thresholds and g in thresholds.grades],
        grades=GRADES,
        months=months,
        time=typed.time or TimeFeatures(),
        drift=drift,
        drift_rates=[
            (name, drift.base_rate[name])
            for name in ("train", "validation", "test")
            if drift and name in drift.base_rate
        ],
        slices=slices,
        worse=[
            f"{column} = {text(row.value)}"
            for column, rows in slices.items()
            for row in rows
            if row.worse_than_base_rate
        ],
        folds=folds,
        no_backtest=_no_backtest(typed),
        notes=[n for n in typed.notes or [] if n is not None and n.strip()],
        at=_at,
        charts={
            "reliability": charts.png_base64(charts.reliability_chart(reliability))
            if reliability
            else None,
            "gains": charts.png_base64(charts.gains_chart(gains)) if gains else None,
            "curves": charts.png_base64(
                charts.curves_chart(
                    curves,
                    {name: _curve_labels(typed, name) for name in curves},
                    finite(data.base_rate),
                )
            )
            if curves
            else None,
            "stability": charts.png_base64(charts.stability_chart(months)) if months else None,
            "backtest": charts.png_base64(charts.backtest_chart(folds)) if folds else None,
        },
    )


def _metric_rows(
    rows: Sequence[tuple[str, Scores | ComparisonRow]], bold_best: bool
) -> list[MetricRow]:
    """The metric table: every value to 3 decimals, the best per column bold."""
    shown = {key: [num(getattr(row, key)) for _, row in rows] for key, _, _ in METRICS}
    best: dict[str, str | None] = {}
    for key, _, higher in METRICS:
        values = [float(v) for v in shown[key] if finite(v) is not None]
        best[key] = (
            None if not values or not bold_best else num(max(values) if higher else min(values))
        )
    return [
        MetricRow(name, [(shown[key][i], shown[key][i] == best[key]) for key, _, _ in METRICS])
        for i, (name, _) in enumerate(rows)
    ]


def _bins(entry: Reliability) -> list[tuple[Any, Any, Any]]:
    """Mean predicted, observed rate and count per bin (a count missing: None)."""
    counts = list(entry.count)[: len(entry.predicted)]
    counts += [None] * (len(entry.predicted) - len(counts))
    return list(zip(entry.predicted, entry.observed, counts, strict=False))


def _at(values: Sequence[Any], i: int) -> Any:
    return values[i] if i < len(values) else None


def _curve_labels(result: EvaluationResult, name: str) -> tuple[str, str]:
    """Legend texts (ROC, PR) with the AUCs from the comparison (or the score metrics)."""
    known: Any = None
    for row in result.comparison or []:
        if row.name == name:
            known = row
    if known is None:
        known = (result.metrics or {}).get(name)
    roc = finite(known.roc_auc) if known is not None else None
    pr = finite(known.pr_auc) if known is not None else None
    return (
        f"{name} (AUC {roc:.3f})" if roc is not None else name,
        f"{name} (AP {pr:.3f})" if pr is not None else name,
    )


def _no_backtest(result: EvaluationResult) -> str:
    """Why there is no backtest, suggesting `--backtest` only where it would run: a
    backtest tests on calendar months, so it needs a datetime time column (the data's
    `time_kind`; a result without it has a `stability` list only for one) and at least
    two complete months (`backtest_months`, the most it takes, when known)."""
    data = result.data or DataSummary()
    kind = data.time_kind
    if kind is None and "stability" in result.model_fields_set:
        kind = "datetime" if result.stability is not None else "ordinal"
    if kind == "ordinal":
        return (
            "No backtest in this result: a backtest tests on calendar months, and this "
            "data's time column is ordinal."
        )
    if kind != "datetime":
        return "No backtest in this result."
    most = data.backtest_months
    if most is None:
        return (
            "No backtest in this result (run `leadscore evaluate --backtest N` to test on "
            "the last N complete months)."
        )
    if most < 1:
        return (
            "No backtest in this result: the data has too few complete calendar months "
            "(a backtest trains on at least one and tests on the next)."
        )
    months = min(3, int(most))
    return (
        f"No backtest in this result (run `leadscore evaluate --backtest {months}`; this "
        f"data allows up to {int(most)} month(s))."
    )
