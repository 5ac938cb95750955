"""The evaluation report: one self-contained HTML file with its numbers as JSON.

`leadscore evaluate` hands over a result dict (model, data, metrics, reliability,
gains, curves, comparison with the baselines, thresholds, stability, slices,
backtest, notes); this module writes it as `report.json` and renders it as
`report.html` for a data scientist deciding whether to trust the model.

The HTML loads nothing from elsewhere (many machines have no network, and a report
must still open years later): the charts are base64 PNGs drawn with matplotlib's
Agg renderer, the styles are inline, and a Content-Security-Policy forbids scripts
and outside resources. Every string from the data is HTML-escaped, since slice
values come straight from CRM fields. A part the result leaves out or sets to null
(no thresholds, no backtest, no months for an ordinal time column) is one sentence
in the report, not an error.
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

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
STAGES = ("SQL", "MQL", "MQL or SQL", "lead", "other")
GRADES = ("A", "B", "C", "D")
OUR_MODEL = "leadscore"
MISSING = "–"

# Scripts and every outside resource are refused: the report needs neither, and a
# value that slipped past escaping still could not run.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

STYLE = """
:root { --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --band: #f6f8fa;
        --ours: #e7f5ff; --worse: #fff0f0; --worse-ink: #b42318; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.45;
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
             Arial, sans-serif; }
header, main { max-width: 1100px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 24px; border-bottom: 1px solid var(--line); }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 36px 0 8px; padding-top: 8px; border-top: 1px solid var(--line); }
h3 { font-size: 16px; margin: 20px 0 6px; }
p { margin: 6px 0 10px; }
.muted, caption { color: var(--muted); }
nav { margin: 12px 0 16px; font-size: 14px; }
nav a { margin-right: 14px; color: #0b5cad; text-decoration: none; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 12px 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 14px; }
caption { text-align: left; font-size: 13px; padding-bottom: 4px; caption-side: top; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: right;
         font-variant-numeric: tabular-nums; }
th { background: var(--band); font-weight: 600; }
th:first-child, td:first-child { text-align: left; }
th[colspan] { text-align: center; }
td.text { text-align: left; overflow-wrap: anywhere; max-width: 420px; }
tr.ours td { background: var(--ours); }
tr.worse td { background: var(--worse); }
.flag { color: var(--worse-ink); font-weight: 600; white-space: nowrap; }
p.warn { color: var(--worse-ink); }
img.chart { display: block; max-width: 100%; height: auto; margin: 8px 0 4px; }
details { margin: 4px 0 12px; }
summary { cursor: pointer; color: #0b5cad; }
.tables { display: flex; flex-wrap: wrap; gap: 0 32px; align-items: flex-start; }
ul.notes li { margin: 4px 0; }
"""


# -- public ----------------------------------------------------------------------------------
def write_report(result: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write `report.json` (NaN as null) and the self-contained `report.html` into `out_dir`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "report.json", "html": out_dir / "report.html"}
    paths["json"].write_text(to_json(result), encoding="utf-8")
    paths["html"].write_text(render_html(result), encoding="utf-8")
    log.info("wrote the evaluation report to %s", paths["html"])
    return paths


def to_json(result: Mapping[str, Any]) -> str:
    """The result as strict JSON: NaN and infinities become null, numpy values plain ones."""
    return json.dumps(jsonable(result), indent=2, allow_nan=False, ensure_ascii=False)


def jsonable(value: Any) -> Any:
    """A copy of `value` made of dicts, lists, str, int, finite float, bool and None."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def render_html(result: Mapping[str, Any]) -> str:
    """The whole report as one HTML document (charts embedded, no scripts, nothing fetched)."""
    sections: list[tuple[str, str, Callable[[Mapping[str, Any]], str]]] = [
        ("comparison", "Model vs baselines", _comparison_section),
        ("reliability", "Calibration", _reliability_section),
        ("gains", "Gains and lift", _gains_section),
        ("curves", "ROC and precision-recall", _curves_section),
        ("thresholds", "Thresholds", _thresholds_section),
        ("stability", "Stability over time", _stability_section),
        ("time", "Time-true features", _time_section),
        ("drift", "Drift", _drift_section),
        ("slices", "Slices", _slices_section),
        ("backtest", "Backtest", _backtest_section),
        ("notes", "Notes", _notes_section),
    ]
    model = _mapping(result.get("model"))
    title = f"leadscore evaluation: {model.get('spec') or 'model'} {model.get('version') or ''}"
    nav = "".join(f'<a href="#{key}">{_e(name)}</a>' for key, name, _ in sections)
    body = "".join(
        f'<section id="{key}"><h2>{_e(name)}</h2>{render(result)}</section>'
        for key, name, render in sections
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title.strip())}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<header>{_header(result)}<nav>{nav}</nav></header>\n"
        f"<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


# -- sections --------------------------------------------------------------------------------
def _header(result: Mapping[str, Any]) -> str:
    model = _mapping(result.get("model"))
    data = _mapping(result.get("data"))
    facts = [
        ("model", model.get("uri")),
        ("version", model.get("version")),
        ("spec", model.get("spec")),
        ("trained at", model.get("trained_at") or "unknown"),
        ("data", data.get("file")),
        ("rows evaluated", _int(data.get("rows"))),
        ("time range", f"{data.get('time_from') or MISSING} to {data.get('time_to') or MISSING}"),
        ("base rate", _pct(data.get("base_rate"))),
        ("selection", data.get("selection")),
    ]
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(MISSING if v is None else v)}</dd>" for k, v in facts)
    return (
        f"<h1>Evaluation of {_e(model.get('spec') or 'the model')}</h1>"
        '<p class="muted">Every number below is in report.json beside this file. '
        "Scores are judged on leads the model was not trained on.</p>"
        f'<dl class="facts">{items}</dl>'
    )


def _comparison_section(result: Mapping[str, Any]) -> str:
    parts = []
    rows = [r for r in _sequence(result.get("comparison")) if isinstance(r, Mapping)]
    if rows:
        parts.append(
            "<p>The same leads scored by each: the base rate (everyone gets the "
            "average), a logistic regression, the CRM-style points rule, and "
            f"{OUR_MODEL}. Best value per column in bold. Higher is better except "
            "Brier and ECE.</p>"
        )
        parts.append(_metric_table(rows, "name", "model", "comparison on the same rows"))
    else:
        parts.append(_absent("No baseline comparison in this result."))
    metrics = _mapping(result.get("metrics"))
    score_rows = [
        {"name": name, **_mapping(metrics.get(name))}
        for name in SCORES
        if isinstance(metrics.get(name), Mapping)
    ]
    if score_rows:
        parts.append(
            "<h3>The three scores</h3><p>Fit and interest each judged alone, "
            "against the same conversions.</p>"
        )
        parts.append(
            _metric_table(
                score_rows, "name", "score", "probability, fit and interest", bold_best=False
            )
        )
    return "".join(parts)


def _metric_table(
    rows: Sequence[Mapping[str, Any]],
    name_key: str,
    name_title: str,
    caption: str,
    bold_best: bool = True,
) -> str:
    shown = {key: [_num(r.get(key)) for r in rows] for key, _, _ in METRICS}
    best: dict[str, str | None] = {}
    for key, _, higher in METRICS:
        values = [float(v) for v in shown[key] if v != MISSING]
        best[key] = (
            None if not values or not bold_best else _num(max(values) if higher else min(values))
        )
    head = "".join(f"<th>{_e(title)}</th>" for _, title, _ in METRICS)
    body = []
    for i, row in enumerate(rows):
        name = str(row.get(name_key, MISSING))
        cells = []
        for key, _, _ in METRICS:
            text = shown[key][i]
            cells.append(
                f"<td><strong>{text}</strong></td>" if text == best[key] else f"<td>{text}</td>"
            )
        css = ' class="ours"' if name == OUR_MODEL else ""
        body.append(f'<tr{css}><td class="text">{_e(name)}</td>{"".join(cells)}</tr>')
    return (
        f"<table><caption>{_e(caption)}</caption><thead><tr><th>{_e(name_title)}</th>"
        f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def _reliability_section(result: Mapping[str, Any]) -> str:
    reliability = _mapping(result.get("reliability"))
    names = [
        n
        for n in SCORES
        if isinstance(reliability.get(n), Mapping) and _sequence(reliability[n].get("predicted"))
    ]
    if not names:
        return _absent("No reliability data in this result.")
    left_out = [n for n in SCORES if n not in names]
    parts = [
        "<p>Predicted probability against the observed conversion rate per bin; on "
        'the dashed diagonal "0.30" means 30 % convert. Dot size is the number of '
        "leads in the bin. ECE is the lead-weighted mean distance to the diagonal.</p>",
        _img(
            "chart-reliability",
            "Reliability diagrams with ECE for " + ", ".join(names),
            _reliability_chart(reliability, names),
        ),
    ]
    if left_out:
        parts.append(_absent(f"No reliability data for {', '.join(left_out)}."))
    for name in names:
        entry = reliability[name]
        rows = zip(
            _sequence(entry.get("predicted")),
            _sequence(entry.get("observed")),
            _padded(entry.get("count"), len(_sequence(entry.get("predicted")))),
            strict=False,
        )
        body = "".join(
            f"<tr><td>{_num(p)}</td><td>{_num(o)}</td><td>{_int(c)}</td></tr>" for p, o, c in rows
        )
        parts.append(
            f"<details><summary>{_e(name)}: bins (ECE {_num(entry.get('ece'))})</summary>"
            "<table><thead><tr><th>mean predicted</th><th>observed rate</th><th>leads</th>"
            f"</tr></thead><tbody>{body}</tbody></table></details>"
        )
    return "".join(parts)


def _gains_section(result: Mapping[str, Any]) -> str:
    gains = {
        str(k): v
        for k, v in _mapping(result.get("gains")).items()
        if isinstance(v, Mapping) and _sequence(v.get("share"))
    }
    if not gains:
        return _absent("No gains data in this result.")
    names = list(gains)
    shares = _sequence(gains[names[0]].get("share"))
    head_top = "".join(f'<th colspan="3">{_e(n)}</th>' for n in names)
    head = "".join("<th>captured</th><th>lift</th><th>conversion</th>" for _ in names)
    body = []
    for i, share in enumerate(shares):
        cells = []
        for name in names:
            entry = gains[name]
            cells.append(
                f"<td>{_pct(_at(entry.get('captured'), i))}</td>"
                f"<td>{_num(_at(entry.get('lift'), i), 2)}</td>"
                f"<td>{_pct(_at(entry.get('conversion_rate'), i))}</td>"
            )
        body.append(f"<tr><td>top {_pct(share, 0)}</td>{''.join(cells)}</tr>")
    return (
        "<p>Work the leads best score first: the share of all conversions found after "
        "each tenth of the leads (left), and how many times the base rate those leads "
        "convert at (right).</p>"
        + _img(
            "chart-gains",
            "Cumulative gains and lift by decile for " + ", ".join(names),
            _gains_chart(gains),
        )
        + "<table><caption>cumulative, best scores first</caption><thead>"
        f'<tr><th rowspan="2">leads worked</th>{head_top}</tr><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _curves_section(result: Mapping[str, Any]) -> str:
    curves = {
        str(k): v for k, v in _mapping(result.get("curves")).items() if isinstance(v, Mapping)
    }
    if not curves:
        return _absent("No ROC or precision-recall curves in this result.")
    base_rate = _float(_mapping(result.get("data")).get("base_rate"))
    labels = {name: _curve_label(result, name) for name in curves}
    return (
        "<p>ROC: the share of converters ranked above a threshold against the share of "
        "non-converters. Precision-recall: of the leads above a threshold, how many "
        "convert, against the share of converters found; the dashed line is the base "
        "rate.</p>"
        + _img(
            "chart-curves",
            "ROC and precision-recall curves for " + ", ".join(curves),
            _curves_chart(curves, labels, base_rate),
        )
    )


def _thresholds_section(result: Mapping[str, Any]) -> str:
    thresholds = result.get("thresholds")
    if not isinstance(thresholds, Mapping):
        return _absent("This model has no decision thresholds: no MQL / SQL table.")
    stages = _mapping(thresholds.get("stages"))
    per_week = any(isinstance(s, Mapping) and "per_week" in s for s in stages.values())
    head = (
        "<th>stage</th><th>leads</th><th>share</th>"
        + ("<th>per week</th>" if per_week else "")
        + "<th>conversion</th><th>recall</th><th>lift</th>"
    )
    body = []
    for stage in [s for s in STAGES if s in stages] + [s for s in stages if s not in STAGES]:
        entry = _mapping(stages[stage])
        week = f"<td>{_num(entry.get('per_week'), 1)}</td>" if per_week else ""
        body.append(
            f'<tr><td class="text">{_e(stage)}</td><td>{_int(entry.get("leads"))}'
            f"</td><td>{_pct(entry.get('share'))}</td>{week}"
            f"<td>{_pct(entry.get('conversion_rate'))}</td>"
            f"<td>{_pct(entry.get('recall'))}</td><td>{_num(entry.get('lift'), 2)}</td>"
            "</tr>"
        )
    parts = [
        f"<p>Every lead taken as a new lead ({_int(thresholds.get('rows'))} leads, base "
        f"rate {_pct(thresholds.get('base_rate'))}): the stage the fitted thresholds "
        "recommend, how many of those leads convert, the share of all conversions "
        "they hold (recall) and the lift over the base rate.</p>",
        f"<table><caption>recommended stage</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>",
    ]
    tables = []
    grades = _mapping(thresholds.get("grades"))
    groups = [g for g in ("fit", "interest") if isinstance(grades.get(g), Mapping)]
    if groups:
        head = "".join(f"<th>{_e(g)} share</th><th>{_e(g)} conversion</th>" for g in groups)
        rows = "".join(
            f"<tr><td>{grade}</td>"
            + "".join(
                f"<td>{_pct(_mapping(grades[g].get(grade)).get('share'))}</td>"
                f"<td>{_pct(_mapping(grades[g].get(grade)).get('conversion_rate'))}</td>"
                for g in groups
            )
            + "</tr>"
            for grade in GRADES
        )
        tables.append(
            f"<table><caption>grades</caption><thead><tr><th>grade</th>{head}</tr>"
            f"</thead><tbody>{rows}</tbody></table>"
        )
    rules = _mapping(thresholds.get("rules"))
    if rules:
        rows = "".join(
            f'<tr><td class="text">{_e(rule)}</td><td>{_int(count)}</td></tr>'
            for rule, count in rules.items()
        )
        tables.append(
            "<table><caption>the rule that decided</caption><thead><tr><th>rule"
            f"</th><th>leads</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    if tables:
        parts.append(f'<div class="tables">{"".join(tables)}</div>')
    return "".join(parts)


def _stability_section(result: Mapping[str, Any]) -> str:
    months = [m for m in _sequence(result.get("stability")) if isinstance(m, Mapping)]
    if not months:
        return _absent(
            "No stability over time: the data has no calendar months to group "
            "by (an ordinal time column) or the evaluated rows fall in one period."
        )
    body = "".join(
        f"<tr><td>{_e(m.get('month', MISSING))}</td><td>{_int(m.get('rows'))}</td>"
        f"<td>{_pct(m.get('base_rate'))}</td><td>{_num(m.get('roc_auc'))}</td></tr>"
        for m in months
    )
    note = (
        '<p class="muted">A month without both converted and unconverted leads has no AUC (–).</p>'
        if any(_float(m.get("roc_auc")) is None for m in months)
        else ""
    )
    return (
        "<p>ROC AUC and base rate per month of the evaluated leads: a model that only "
        "worked in one month, or a drifting base rate, shows here.</p>"
        + _img("chart-stability", "ROC AUC and base rate per month", _stability_chart(months))
        + "<table><thead><tr><th>month</th><th>leads</th><th>base rate</th>"
        f"<th>ROC AUC</th></tr></thead><tbody>{body}</tbody></table>{note}"
    )


def _drift_section(result: Mapping[str, Any]) -> str:
    """What training saw move: base rate by slice and month, old vs new, time proxies."""
    drift = _mapping(result.get("drift"))
    if not drift:
        return _absent(
            "No drift report: it is made at training time (this report is of another run)."
        )
    warnings = [w for w in _sequence(drift.get("warnings")) if isinstance(w, str)]
    parts = [
        "".join(f'<p class="warn">⚠ {_e(w)}</p>' for w in warnings)
        or "<p>Nothing moved beyond sampling noise: base rates agree between slices and "
        "months, and no feature alone tells old leads from new ones.</p>"
    ]
    rates = _mapping(drift.get("base_rate"))
    rows = "".join(
        f"<tr><td>{_e(name)}</td><td>{_int(r.get('rows'))}</td><td>{_int(r.get('units'))}</td>"
        f"<td>{_pct(r.get('rate'))}</td><td>{_num(r.get('ratio_to_train'), 2)}</td>"
        f"<td>{_num(r.get('p_value_vs_train'), 3)}</td></tr>"
        for name in ("train", "validation", "test")
        if (r := _mapping(rates.get(name)))
    )
    if rows:
        parts.append(
            "<h3>Base rate by slice</h3><p>Compared with train by a two-proportion z-test "
            "on independent units (leads, for point-in-time examples).</p>"
            "<table><thead><tr><th>slice</th><th>rows</th><th>units</th><th>base rate</th>"
            f"<th>× train</th><th>p</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    monthly = _mapping(drift.get("monthly"))
    months = [m for m in _sequence(monthly.get("months")) if isinstance(m, Mapping)]
    if months:
        body = "".join(
            f"<tr><td>{_e(m.get('month'))}</td><td>{_int(m.get('rows'))}</td>"
            f"<td>{_pct(m.get('rate'))}</td></tr>"
            for m in months
        )
        parts.append(
            f"<h3>Base rate by month</h3><p>{_e(monthly.get('test'))}: p = "
            f"{_num(monthly.get('p_value'), 3)}.</p><table><thead><tr><th>month</th>"
            f"<th>rows</th><th>base rate</th></tr></thead><tbody>{body}</tbody></table>"
        )
    adversarial = _mapping(drift.get("adversarial"))
    if adversarial.get("auc") is not None:
        top = ", ".join(
            f"{_e(t.get('feature'))} ({_pct(t.get('share_of_gain'), 0)})"
            for t in _sequence(adversarial.get("top_features"))
            if isinstance(t, Mapping)
        )
        parts.append(
            "<h3>Old vs new</h3><p>A quick model told the oldest third of the train slice "
            f"from its newest third with ROC AUC {_num(adversarial.get('auc'))} (0.5: they "
            f"look alike). What it used most: {top or '–'}.</p>"
        )
    proxies = [p for p in _sequence(drift.get("time_proxies")) if isinstance(p, Mapping)]
    if proxies:
        body = "".join(
            f"<tr><td>{_e(p.get('feature'))}</td><td>{_e(p.get('column'))}</td>"
            f"<td>{_num(p.get('auc'))}</td></tr>"
            for p in proxies
        )
        parts.append(
            f"<h3>Time proxies ({_e(drift.get('time_proxy_action'))})</h3><table><thead><tr>"
            "<th>feature</th><th>column</th><th>old-vs-new AUC</th></tr></thead>"
            f"<tbody>{body}</tbody></table>"
        )
    return "".join(parts)


def _time_section(result: Mapping[str, Any]) -> str:
    """How the features were taken in time: point-in-time examples, or a snapshot export
    and the activity columns that include behaviour after conversion."""
    time = _mapping(result.get("time"))
    examples = _mapping(time.get("examples"))
    parts = []
    if examples.get("point_in_time"):
        days = ", ".join(_text(d) for d in _sequence(examples.get("at_days")))
        parts.append(
            "<p>Point-in-time examples: each lead was scored as of moments after its "
            f"creation ({_e(days)} days), with features from the events before each moment "
            "only; the label is whether it became an SQL within the window after it.</p>"
        )
    else:
        parts.append(
            "<p>Snapshot export: every feature is the export's value at the moment it was "
            "taken. Activity counts of converted leads may include what they did after "
            "converting; the columns that show it are below.</p>"
        )
    leaks = [leak for leak in _sequence(time.get("snapshot_leaks")) if isinstance(leak, Mapping)]
    if leaks:
        rows = "".join(
            f"<tr><td>{_e(leak.get('column'))}</td><td>{_pct(leak.get('share'))}</td>"
            f"<td>{_int(leak.get('after_conversion'))} of {_int(leak.get('converted_leads'))}</td>"
            f"<td>{_e(', '.join(map(str, _sequence(leak.get('counts')))) or '–')}</td>"
            f"<td>{_e(', '.join(map(str, _sequence(leak.get('features')))) or '–')}</td>"
            f"<td>{'yes' if leak.get('allowed') else 'no'}</td></tr>"
            for leak in leaks
        )
        # `--events` only works for a spec that reads an event log (data.events; a
        # result without it is from before that was recorded: keep the advice)
        if _mapping(result.get("data")).get("events") is False:
            remedy = (
                "this spec reads no event log to take features as of each moment: leave "
                "these counts out of the spec"
            )
        else:
            remedy = (
                "train with the event log (<code>--events</code>) to take features as of "
                "each moment"
            )
        parts.append(
            '<p class="warn">Snapshot leak: these activity timestamps lie after the label '
            "date for the share of converted leads shown, so the counts they date include "
            f"behaviour after conversion. The model may have learned the future; {remedy}.</p>"
            "<table><thead><tr><th>timestamp column</th><th>converted leads after "
            "conversion</th><th>leads</th><th>counts it dates</th><th>features</th>"
            f"<th>allowed</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    elif not examples.get("point_in_time"):
        parts.append(
            "<p>No activity timestamp lies after the label date: no snapshot leak seen.</p>"
        )
    decay = _mapping(time.get("decay"))
    kinds = {k: list(_sequence(v)) for k, v in _mapping(decay.get("kinds")).items()}
    if kinds:
        first = next(iter(kinds.values()))
        head = "".join(f"<th>{_e(r.get('age'))}</th>" for r in first)
        body = "".join(
            f"<tr><td>{_e(kind)}</td>"
            + "".join(
                f"<td>{_num(r.get('effect'), 2)} ({_pct(r.get('share_of_newest'), 0)})</td>"
                for r in rows
            )
            + "</tr>"
            for kind, rows in kinds.items()
        )
        hubspot = "".join(f"<td>{_pct(r.get('hubspot_share'), 0)}</td>" for r in first)
        parts.append(
            "<h3>Learned decay</h3><p>The effect on the interest score (points) of one more "
            "event of each kind by its age, and as a share of a fresh one's, learned from the "
            f"conversions; HubSpot's decay ({_e(decay.get('hubspot'))}) for comparison.</p>"
            f"<table><thead><tr><th>kind</th>{head}</tr></thead><tbody>{body}"
            f"<tr><td>HubSpot</td>{hubspot}</tr></tbody></table>"
        )
    return "".join(parts)


def _slices_section(result: Mapping[str, Any]) -> str:
    slices = {str(k): v for k, v in _mapping(result.get("slices")).items() if _sequence(v)}
    if not slices:
        return _absent("No slices in this result.")
    worse = [
        (column, row.get("value"))
        for column, rows in slices.items()
        for row in rows
        if isinstance(row, Mapping) and row.get("worse_than_base_rate")
    ]
    if worse:
        listed = ", ".join(f"{_e(c)} = {_e(_text(v))}" for c, v in worse)
        summary = (
            f'<p class="flag">⚠ {len(worse)} slice(s) where the model is worse than '
            f"the base rate: {listed}.</p>"
        )
    else:
        summary = "<p>No slice where the model is worse than the base rate.</p>"
    parts = [
        "<p>The same measures for the most common values of each column. A slice is "
        "flagged when the model's Brier score there is worse than predicting the "
        "slice's own base rate for every lead.</p>",
        summary,
    ]
    for column, rows in slices.items():
        body = []
        for row in rows:
            if not isinstance(row, Mapping):
                continue
            flagged = bool(row.get("worse_than_base_rate"))
            flag = '<span class="flag">⚠ worse than base rate</span>' if flagged else ""
            css = ' class="worse"' if flagged else ""
            body.append(
                f"<tr{css}>"
                f'<td class="text">{_e(_text(row.get("value")))}</td>'
                f"<td>{_int(row.get('rows'))}</td><td>{_pct(row.get('base_rate'))}</td>"
                f"<td>{_num(row.get('roc_auc'))}</td><td>{_num(row.get('brier'))}</td>"
                f'<td>{_num(row.get("brier_base_rate"))}</td><td class="text">{flag}</td>'
                "</tr>"
            )
        parts.append(
            f"<h3>by {_e(column)}</h3><table><thead><tr><th>value</th><th>leads</th>"
            "<th>base rate</th><th>ROC AUC</th><th>Brier</th><th>Brier of base rate</th>"
            f"<th></th></tr></thead><tbody>{''.join(body)}</tbody></table>"
        )
    return "".join(parts)


def _backtest_section(result: Mapping[str, Any]) -> str:
    backtest = result.get("backtest")
    folds = [f for f in _sequence(_mapping(backtest).get("folds")) if isinstance(f, Mapping)]
    if not folds:
        return _absent(_no_backtest(result))
    body = "".join(
        f"<tr><td>{_e(f.get('test_month', MISSING))}</td>"
        f'<td class="text">{_e(f.get("train_until", MISSING))}</td>'
        f"<td>{_int(f.get('rows'))}</td><td>{_int(f.get('positives'))}</td>"
        f"<td>{_num(f.get('roc_auc'))}</td><td>{_num(f.get('pr_auc'))}</td>"
        f"<td>{_num(f.get('brier'))}</td><td>{_num(f.get('ece'))}</td>"
        f"<td>{_num(f.get('logistic_roc_auc'))}</td></tr>"
        for f in folds
    )
    parts = [
        f"<p>Rolling origin: {len(folds)} fold(s), each trained on the leads up to a "
        "month and tested on the next month, as the model would have been used.</p>",
        _img(
            "chart-backtest",
            "ROC AUC per backtest fold, model and logistic regression",
            _backtest_chart(folds),
        ),
        "<table><caption>per fold</caption><thead><tr><th>test month</th>"
        "<th>trained until</th><th>leads</th><th>converted</th><th>ROC AUC</th>"
        "<th>PR AUC</th><th>Brier</th><th>ECE</th><th>logistic ROC AUC</th></tr></thead>"
        f"<tbody>{body}</tbody></table>",
    ]
    summary = _mapping(_mapping(backtest).get("summary"))
    if summary:
        rows = "".join(
            f'<tr><td class="text">{_e(METRIC_TITLES.get(metric, metric))}</td>'
            + "".join(
                f"<td>{_num(_mapping(stats).get(k))}</td>" for k in ("mean", "std", "min", "max")
            )
            + "</tr>"
            for metric, stats in summary.items()
        )
        parts.append(
            "<table><caption>spread over the folds</caption><thead><tr><th>metric</th>"
            "<th>mean</th><th>std</th><th>min</th><th>max</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
    return "".join(parts)


def _no_backtest(result: Mapping[str, Any]) -> str:
    """Why there is no backtest, suggesting `--backtest` only where it would run: a
    backtest tests on calendar months, so it needs a datetime time column (the data's
    `time_kind`; a result without it has a `stability` list only for one) and at least
    two complete months (`backtest_months`, the most it takes, when known)."""
    data = _mapping(result.get("data"))
    kind = data.get("time_kind")
    if kind is None and "stability" in result:
        kind = "datetime" if isinstance(result["stability"], list | tuple) else "ordinal"
    if kind == "ordinal":
        return (
            "No backtest in this result: a backtest tests on calendar months, and this "
            "data's time column is ordinal."
        )
    if kind != "datetime":
        return "No backtest in this result."
    most = _float(data.get("backtest_months"))
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


def _notes_section(result: Mapping[str, Any]) -> str:
    notes = [n for n in _sequence(result.get("notes")) if n is not None and str(n).strip()]
    if not notes:
        return _absent("No notes.")
    return '<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>"


# -- charts ----------------------------------------------------------------------------------
def _reliability_chart(reliability: Mapping[str, Any], names: list[str]) -> str:
    fig = Figure(figsize=(4.0 * len(names) + 0.5, 4.4))
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names, strict=True):
        entry = reliability[name]
        predicted = _floats(entry.get("predicted"))
        observed = _floats(entry.get("observed"), len(predicted))
        counts = _floats(entry.get("count"), len(predicted))
        finite = np.r_[predicted, observed]
        finite = finite[np.isfinite(finite)]
        top = float(finite.max()) * 1.08 + 0.02 if len(finite) else 1.0
        top = min(top, 1.0) if top <= 1.05 else top
        weights = np.nan_to_num(counts, nan=1.0)
        sizes = 20 + 280 * weights / weights.max() if weights.max() > 0 else 40
        ax.plot([0, top], [0, top], linestyle="--", color="grey", linewidth=1)
        ax.plot(predicted, observed, color="#1c7ed6", linewidth=1.2)
        ax.scatter(predicted, observed, s=sizes, color="#1c7ed6", alpha=0.7, zorder=3)
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        ax.set_aspect("equal")
        ece = _float(entry.get("ece"))
        ax.set_title(_plain(f"{name}: ECE {ece:.3f}" if ece is not None else name))
        ax.set_xlabel("predicted probability")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("observed conversion rate")
    return _png(fig)


def _gains_chart(gains: Mapping[str, Mapping[str, Any]]) -> str:
    fig = Figure(figsize=(11, 4.4))
    gain_ax, lift_ax = fig.subplots(1, 2)
    gain_ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
    lift_ax.axhline(1.0, linestyle="--", color="grey", label="random")
    for name, entry in gains.items():
        share = _floats(entry.get("share"))
        gain_ax.plot(
            np.r_[0.0, share],
            np.r_[0.0, _floats(entry.get("captured"), len(share))],
            marker=".",
            label=_plain(name),
        )
        lift_ax.plot(
            share,
            _floats(entry.get("lift"), len(share)),
            marker="o",
            markersize=4,
            label=_plain(name),
        )
    gain_ax.set(
        xlabel="share of leads worked (best scores first)",
        ylabel="share of conversions captured",
        title="Cumulative gains",
        xlim=(0, 1),
        ylim=(0, 1.02),
    )
    lift_ax.set(
        xlabel="share of leads worked (best scores first)",
        ylabel="conversion rate / base rate",
        title="Lift by decile (cumulative)",
        xlim=(0, 1.02),
    )
    _legends(gain_ax, lift_ax)
    return _png(fig)


def _curves_chart(
    curves: Mapping[str, Mapping[str, Any]],
    labels: Mapping[str, Mapping[str, str]],
    base_rate: float | None,
) -> str:
    fig = Figure(figsize=(11, 4.6))
    roc_ax, pr_ax = fig.subplots(1, 2)
    roc_ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
    if base_rate is not None:
        pr_ax.axhline(base_rate, linestyle="--", color="grey", label="base rate")
    for name, entry in curves.items():
        roc = _mapping(entry.get("roc"))
        pr = _mapping(entry.get("pr"))
        if _sequence(roc.get("fpr")):
            fpr = _floats(roc.get("fpr"))
            roc_ax.plot(fpr, _floats(roc.get("tpr"), len(fpr)), label=_plain(labels[name]["roc"]))
        if _sequence(pr.get("recall")):
            recall = _floats(pr.get("recall"))
            pr_ax.plot(
                recall,
                _floats(pr.get("precision"), len(recall)),
                label=_plain(labels[name]["pr"]),
                drawstyle="steps-post",
            )
    roc_ax.set(
        xlabel="false positive rate",
        ylabel="true positive rate (recall)",
        title="ROC",
        xlim=(0, 1),
        ylim=(0, 1.01),
    )
    pr_ax.set(
        xlabel="recall", ylabel="precision", title="Precision-recall", xlim=(0, 1), ylim=(0, 1.01)
    )
    _legends(roc_ax, pr_ax)
    return _png(fig)


def _stability_chart(months: list[Mapping[str, Any]]) -> str:
    labels = [_plain(str(m.get("month", "?"))) for m in months]
    x = np.arange(len(months))
    auc = _floats([m.get("roc_auc") for m in months])
    rate = _floats([m.get("base_rate") for m in months])
    rows = [m.get("rows") for m in months]
    fig = Figure(figsize=(max(7.0, 0.7 * len(months) + 3), 5.2))
    auc_ax, rate_ax = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    auc_ax.plot(x, auc, marker="o", color="#1c7ed6")
    finite = auc[np.isfinite(auc)]
    low = min(0.5, float(finite.min()) - 0.02) if len(finite) else 0.5
    auc_ax.set(ylabel="ROC AUC", ylim=(max(0.0, low), 1.0), title="ROC AUC and base rate per month")
    auc_ax.axhline(0.5, linestyle="--", color="grey", linewidth=1)
    auc_ax.grid(alpha=0.3)
    bars = rate_ax.bar(x, np.nan_to_num(rate), color="#adb5bd")
    for bar, count in zip(bars, rows, strict=True):
        rate_ax.annotate(
            _int(count),
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=7,
            color="#495057",
        )
    top = float(np.nanmax(rate)) if np.isfinite(rate).any() else 0.0
    rate_ax.set(ylabel="base rate", ylim=(0, max(top * 1.3, 0.01)))
    rate_ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    rate_ax.set_xticks(
        x,
        labels,
        rotation=45 if len(months) > 8 else 0,
        ha="right" if len(months) > 8 else "center",
    )
    return _png(fig)


def _backtest_chart(folds: list[Mapping[str, Any]]) -> str:
    x = np.arange(len(folds))
    fig = Figure(figsize=(max(7.0, 0.7 * len(folds) + 3), 3.8))
    ax = fig.subplots()
    ax.plot(x, _floats([f.get("roc_auc") for f in folds]), marker="o", label=OUR_MODEL)
    ax.plot(
        x,
        _floats([f.get("logistic_roc_auc") for f in folds]),
        marker="s",
        linestyle=":",
        label="logistic regression",
    )
    ax.set_xticks(
        x,
        [_plain(str(f.get("test_month", "?"))) for f in folds],
        rotation=45 if len(folds) > 8 else 0,
    )
    values = np.r_[
        _floats([f.get("roc_auc") for f in folds]),
        _floats([f.get("logistic_roc_auc") for f in folds]),
    ]
    values = values[np.isfinite(values)]
    if len(values):  # a ±0.05 margin: enough to read, not so tight that noise looks like drift
        ax.set_ylim(max(0.0, float(values.min()) - 0.05), min(1.0, float(values.max()) + 0.05))
    ax.set(
        xlabel="test month (trained on the months before)",
        ylabel="ROC AUC",
        title="Rolling-origin backtest",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def _curve_label(result: Mapping[str, Any], name: str) -> dict[str, str]:
    """Legend text with the AUCs from the comparison (or the score metrics) when known."""
    known: Mapping[str, Any] = {}
    for row in _sequence(result.get("comparison")):
        if isinstance(row, Mapping) and row.get("name") == name:
            known = row
    if not known:
        known = _mapping(_mapping(result.get("metrics")).get(name))
    roc, pr = _float(known.get("roc_auc")), _float(known.get("pr_auc"))
    return {
        "roc": f"{name} (AUC {roc:.3f})" if roc is not None else name,
        "pr": f"{name} (AP {pr:.3f})" if pr is not None else name,
    }


def _legends(*axes: Axes) -> None:
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=100)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _img(chart_id: str, alt: str, png_base64: str) -> str:
    return (
        f'<img class="chart" id="{chart_id}" alt="{_e(alt)}" '
        f'src="data:image/png;base64,{png_base64}">'
    )


# -- formatting ------------------------------------------------------------------------------
def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _plain(text: str) -> str:
    """Text for matplotlib: a `$` pair in a name would start mathtext (and may fail)."""
    return text.replace("$", r"\$")


def _text(value: Any) -> str:
    return (
        "(missing)"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else str(value)
    )


def _absent(sentence: str) -> str:
    return f'<p class="muted absent">{_e(sentence)}</p>'


def _float(value: Any) -> float | None:
    """A finite float, or None for null, NaN, infinities and anything not a number."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _num(value: Any, digits: int = 3) -> str:
    number = _float(value)
    return MISSING if number is None else f"{number:.{digits}f}"


def _pct(value: Any, digits: int = 1) -> str:
    number = _float(value)
    return MISSING if number is None else f"{100 * number:.{digits}f} %"


def _int(value: Any) -> str:
    number = _float(value)
    return MISSING if number is None else f"{round(number):,}"


def _floats(values: Any, length: int | None = None) -> np.ndarray:
    """Numbers as floats (null → NaN), padded or cut to `length` so that pairs line up."""
    out = np.array(
        [np.nan if _float(v) is None else float(v) for v in _sequence(values)], dtype=np.float64
    )
    if length is None:
        return out
    return np.r_[out, np.full(max(0, length - len(out)), np.nan)][:length]


def _padded(values: Any, length: int) -> list[Any]:
    items = list(_sequence(values))[:length]
    return items + [None] * (length - len(items))


def _at(values: Any, i: int) -> Any:
    items = _sequence(values)
    return items[i] if i < len(items) else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _sequence(value: Any) -> Sequence[Any]:
    if isinstance(value, np.ndarray):
        return list(value.tolist())
    if isinstance(value, list | tuple):
        return value
    return ()
