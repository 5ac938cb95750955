"""The evaluation report: sections, escaping, missing parts, JSON, and a real browser."""

from __future__ import annotations

import base64
import json
import math
import re
import struct
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import precision_recall_curve, roc_curve

from features.jsonable import jsonable
from tests.browser import chromium, needs_chromium
from training.metrics import (
    classification_metrics,
    expected_calibration_error,
    gains,
    reliability_curve,
)
from training.report import render_html, write_report

CHARTS = {"chart-reliability", "chart-gains", "chart-curves", "chart-stability", "chart-backtest"}
SECTIONS = [
    "comparison",
    "reliability",
    "gains",
    "curves",
    "thresholds",
    "stability",
    "time",
    "drift",
    "slices",
    "backtest",
    "notes",
]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# -- an example result, shaped like `leadscore evaluate`'s ------------------------------------
def _metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return {k: round(v, 4) for k, v in classification_metrics(y, p).items()}


def _gains(y: np.ndarray, p: np.ndarray) -> dict[str, list[float]]:
    by_decile = gains(y, p)
    return {
        "share": [round(s or 0.0, 2) for s in by_decile.share],
        "captured": np.round(by_decile.captured, 4).tolist(),
        "lift": np.round(by_decile.lift, 3).tolist(),
        "conversion_rate": np.round(by_decile.conversion_rate, 4).tolist(),
    }


def _curves(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    fpr, tpr, _ = roc_curve(y, p)
    precision, recall, _ = precision_recall_curve(y, p)
    keep = np.unique(np.linspace(0, len(recall) - 1, 150).astype(int))
    return {
        "roc": {"fpr": fpr.round(4).tolist(), "tpr": tpr.round(4).tolist()},
        "pr": {
            "recall": recall[keep].round(4).tolist(),
            "precision": precision[keep].round(4).tolist(),
        },
    }


def _reliability(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    predicted, observed, count = reliability_curve(y, p)
    return {
        "predicted": predicted.round(4).tolist(),
        "observed": observed.round(4).tolist(),
        "count": count.tolist(),
        "ece": round(expected_calibration_error(y, p), 4),
    }


def example_result(n: int = 3000, seed: int = 5) -> dict[str, Any]:
    """A realistic evaluation of 3,000 leads over four months (seeded; truth known)."""
    rng = np.random.default_rng(seed)
    fit = rng.normal(size=n)
    interest = rng.normal(size=n)
    truth = 1 / (1 + np.exp(-(-2.2 + 0.8 * fit + 1.0 * interest + 0.3 * fit * interest)))
    y = (rng.random(n) < truth).astype(np.float64)

    def noisy(scale: float) -> np.ndarray:
        logit = np.log(truth / (1 - truth)) + rng.normal(scale=scale, size=n)
        return 1 / (1 + np.exp(-logit))

    scores = {
        "leadscore": noisy(0.35),
        "logistic regression": noisy(0.55),
        # a points rule is coarse: a handful of distinct values
        "points rule": np.round(noisy(1.1) * 8) / 8 * 0.6 + 0.04,
        "base rate": np.full(n, y.mean()),
    }
    sub = {
        "probability": scores["leadscore"],
        "fit": 1 / (1 + np.exp(-(-1.9 + 0.8 * fit))),
        "interest": 1 / (1 + np.exp(-(-2.0 + 0.9 * interest))),
    }
    months = np.repeat(["2026-01", "2026-02", "2026-03", "2026-04"], n // 4)
    p = scores["leadscore"]
    sql = p >= np.quantile(p, 0.9)
    mql = ~sql & (p >= np.quantile(p, 0.83))
    base = float(y.mean())

    def stage(mask: np.ndarray, weeks: float | None = 17.0) -> dict[str, float]:
        rate = float(y[mask].mean())
        out = {
            "leads": int(mask.sum()),
            "share": float(mask.mean()),
            "conversion_rate": rate,
            "recall": float(y[mask].sum() / y.sum()),
            "lift": rate / base,
        }
        return {**out, "per_week": mask.sum() / weeks} if weeks else out

    source = rng.choice(
        ["ORGANIC_SEARCH", "PAID_SEARCH", "DIRECT_TRAFFIC", "OFFLINE"], n, p=[0.4, 0.3, 0.2, 0.1]
    )
    country = rng.choice(["United States", "Germany", "United Kingdom", "India"], n)

    def slices(values: np.ndarray, worse: set[str]) -> list[dict[str, Any]]:
        rows = []
        for value in dict.fromkeys(values):
            mask = values == value
            m = _metrics(y[mask], p[mask])
            brier_base = float(np.mean((y[mask] - y[mask].mean()) ** 2))
            flagged = value in worse
            rows.append(
                {
                    "value": str(value),
                    "rows": int(mask.sum()),
                    "base_rate": float(y[mask].mean()),
                    "roc_auc": m["roc_auc"],
                    "brier": brier_base + 0.004 if flagged else m["brier"],
                    "brier_base_rate": brier_base,
                    "worse_than_base_rate": flagged,
                }
            )
        return rows

    comparison = [
        {"name": name, **_metrics(y, scores[name])}
        for name in ("base rate", "logistic regression", "points rule", "leadscore")
    ]
    return {
        "model": {
            "uri": "models:/lead-scorer@champion",
            "version": "3",
            "spec": "hubspot",
            "trained_at": "2026-06-30T18:02:11+00:00",
        },
        "data": {
            "file": "data/demo/leads.csv",
            "rows": n,
            "time_from": "2026-01-01",
            "time_to": "2026-04-30",
            "base_rate": base,
            "selection": "the newest 15 % of leads (after the training cut-off)",
        },
        "metrics": {name: _metrics(y, s) for name, s in sub.items()},
        "reliability": {name: _reliability(y, s) for name, s in sub.items()},
        "gains": {
            name: _gains(y, scores[name])
            for name in ("leadscore", "logistic regression", "points rule")
        },
        "curves": {
            name: _curves(y, scores[name])
            for name in ("leadscore", "logistic regression", "points rule")
        },
        "comparison": comparison,
        "thresholds": {
            "rows": n,
            "base_rate": base,
            "stages": {
                "SQL": stage(sql),
                "MQL": stage(mql),
                "MQL or SQL": stage(sql | mql),
                "other": stage(np.zeros(n, bool) | (np.arange(n) < 30)),
                "lead": stage(~sql & ~mql & (np.arange(n) >= 30)),
            },
            "grades": {
                group: {
                    g: {"share": s, "conversion_rate": r}
                    for g, s, r in zip(
                        "ABCD", (0.15, 0.25, 0.30, 0.30), (0.41, 0.19, 0.09, 0.04), strict=True
                    )
                }
                for group in ("fit", "interest")
            },
            "rules": {
                "score_sql": int(sql.sum()),
                "score_mql": int(mql.sum()),
                "below_thresholds": n - int(sql.sum() + mql.sum()) - 30,
                "excluded": 30,
            },
        },
        "stability": [
            {
                "month": m,
                "rows": int((months == m).sum()),
                "base_rate": float(y[months == m].mean()),
                "roc_auc": _metrics(y[months == m], p[months == m])["roc_auc"],
            }
            for m in dict.fromkeys(months)
        ],
        "slices": {
            "hs_analytics_source": slices(source, {"OFFLINE"}),
            "country": slices(country, set()),
        },
        "backtest": {
            "folds": [
                {
                    "train_until": f"2026-0{m - 1}-28",
                    "test_month": f"2026-0{m}",
                    "rows": 740 + 10 * m,
                    "positives": 100 + m,
                    "roc_auc": auc,
                    "pr_auc": auc - 0.38,
                    "brier": 0.095 + 0.002 * m,
                    "ece": 0.01 + 0.003 * m,
                    "logistic_roc_auc": auc - 0.012,
                }
                for m, auc in ((2, 0.829), (3, 0.841), (4, 0.822))
            ],
            "summary": {
                "roc_auc": {"mean": 0.8307, "std": 0.0078, "min": 0.822, "max": 0.841},
                "brier": {"mean": 0.101, "std": 0.0016, "min": 0.099, "max": 0.103},
            },
        },
        "notes": ["The MQL target (2 × base rate) is not met on these leads: lift 1.75."],
    }


@pytest.fixture(scope="module")
def example() -> dict[str, Any]:
    return example_result()


@pytest.fixture(scope="module")
def example_html(example: dict[str, Any]) -> str:
    return render_html(example)


# -- a small reading of the HTML --------------------------------------------------------------
class Page(HTMLParser):
    """Tags, images, sections and table cells (with bold and row classes) of a report."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.sections: list[str] = []
        self.tables: list[dict[str, Any]] = []  # {"section", "rows": [(class, [(text, bold)])]}
        self._section = ""
        self._cell: list[str] | None = None
        self._bold = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "section":
            self._section = a.get("id") or ""
            self.sections.append(self._section)
        elif tag == "table":
            self.tables.append({"section": self._section, "rows": []})
        elif tag == "tr":
            self.tables[-1]["rows"].append((a.get("class") or "", []))
        elif tag in ("td", "th"):
            self._cell, self._bold = [], False
        elif tag == "strong" and self._cell is not None:
            self._bold = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1]["rows"][-1][1].append(("".join(self._cell).strip(), self._bold))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def images(self) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == "img"]

    def section_tables(self, section: str) -> list[dict[str, Any]]:
        return [t for t in self.tables if t["section"] == section]


def section_text(html: str, section: str) -> str:
    match = re.search(rf'<section id="{section}">(.*?)</section>', html, re.S)
    assert match, section
    return match.group(1)


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(PNG_SIGNATURE)
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# -- the renderer ------------------------------------------------------------------------------
def test_every_section_has_its_heading_and_every_chart_is_an_embedded_png(
    example_html: str,
) -> None:
    page = Page(example_html)
    assert page.sections == SECTIONS
    images = page.images()
    assert {img["id"] for img in images} == CHARTS
    for img in images:
        assert img["alt"] and len(img["alt"] or "") > 10, img["id"]
        src = img["src"] or ""
        assert src.startswith("data:image/png;base64,"), img["id"]
        width, height = png_size(base64.b64decode(src.split(",", 1)[1], validate=True))
        assert width >= 600 and height >= 300, (img["id"], width, height)


def test_the_numbers_shown_are_the_result_s(example: dict[str, Any], example_html: str) -> None:
    page = Page(example_html)
    comparison = page.section_tables("comparison")[0]["rows"]
    by_name = {cells[0][0]: [text for text, _ in cells[1:]] for _, cells in comparison[1:]}
    for row in example["comparison"]:
        assert by_name[row["name"]] == [
            f"{row[k]:.3f}" for k in ("roc_auc", "pr_auc", "brier", "ece", "top_decile_lift")
        ]
    stability = page.section_tables("stability")[0]["rows"][1:]
    assert [cells[0][0] for _, cells in stability] == ["2026-01", "2026-02", "2026-03", "2026-04"]
    assert stability[0][1][3][0] == f"{example['stability'][0]['roc_auc']:.3f}"
    sql = next(
        cells for _, cells in page.section_tables("thresholds")[0]["rows"] if cells[0][0] == "SQL"
    )
    assert sql[1][0] == f"{example['thresholds']['stages']['SQL']['leads']:,}"
    assert f"{100 * example['data']['base_rate']:.1f} %" in section_text_header(example_html)


def section_text_header(html: str) -> str:
    return html.split("<main>", 1)[0]


def test_the_best_value_per_column_is_bold_and_only_it() -> None:
    result = example_result()
    result["comparison"] = [
        {
            "name": "base rate",
            "roc_auc": 0.5,
            "pr_auc": 0.137,
            "brier": 0.118,
            "ece": 0.004,
            "top_decile_lift": 1.0,
        },
        {
            "name": "logistic regression",
            "roc_auc": 0.826,
            "pr_auc": 0.494,
            "brier": 0.092,
            "ece": 0.010,
            "top_decile_lift": 3.823,
        },
        {
            "name": "points rule",
            "roc_auc": 0.701,
            "pr_auc": 0.30,
            "brier": float("nan"),
            "ece": None,
            "top_decile_lift": 2.1,
        },
        {
            "name": "leadscore",
            "roc_auc": 0.834,
            "pr_auc": 0.509,
            "brier": 0.090,
            "ece": 0.012,
            "top_decile_lift": 4.066,
        },
    ]
    rows = Page(render_html(result)).section_tables("comparison")[0]["rows"][1:]
    bold = {cells[0][0]: [text for text, b in cells[1:] if b] for _, cells in rows}
    assert bold == {
        "base rate": ["0.004"],
        "logistic regression": [],
        "points rule": [],
        "leadscore": ["0.834", "0.509", "0.090", "4.066"],
    }
    assert [cls for cls, _ in rows] == ["", "", "", "ours"]
    points = next(cells for _, cells in rows if cells[0][0] == "points rule")
    assert [points[3][0], points[4][0]] == ["–", "–"]  # NaN and null Brier / ECE


def test_slices_worse_than_the_base_rate_are_flagged(example_html: str) -> None:
    page = Page(example_html)
    source, country = page.section_tables("slices")
    flagged = {cells[0][0]: (cls, cells[-1][0]) for cls, cells in source["rows"][1:]}
    assert flagged["OFFLINE"] == ("worse", "⚠ worse than base rate")
    assert all(v == ("", "") for k, v in flagged.items() if k != "OFFLINE")
    assert all(cls == "" for cls, _ in country["rows"][1:])
    text = section_text(example_html, "slices")
    assert (
        "1 slice(s) where the model is worse than the base rate: hs_analytics_source = "
        "OFFLINE." in text
    )


HOSTILE = ['<script>alert("x")</script>', '"><img src=x onerror=alert(1)>']
PLACES = [
    "slice value",
    "slice column",
    "model uri",
    "data file",
    "note",
    "comparison name",
    "gains and curve name",
    "month",
    "rule",
]


def _place(result: dict[str, Any], where: str, text: str) -> None:
    if where == "slice value":
        result["slices"]["country"][0]["value"] = text
    elif where == "slice column":
        result["slices"][text] = result["slices"].pop("country")
    elif where == "model uri":
        result["model"]["uri"] = text
    elif where == "data file":
        result["data"]["file"] = text
    elif where == "note":
        result["notes"].append(text)
    elif where == "comparison name":
        result["comparison"][2]["name"] = text
    elif where == "gains and curve name":
        result["gains"][text] = result["gains"].pop("points rule")
        result["curves"][text] = result["curves"].pop("points rule")
    elif where == "month":
        result["stability"][1]["month"] = text
        result["backtest"]["folds"][0]["test_month"] = text
    elif where == "rule":
        result["thresholds"]["rules"][text] = 3


def _escaped(text: str) -> str:
    """The text as Jinja2's autoescaping (markupsafe) writes it."""
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;")
    )


@pytest.mark.parametrize("payload", HOSTILE)
def test_strings_from_the_data_are_escaped_wherever_they_appear(payload: str) -> None:
    result = example_result(n=800)
    # one render for all places; the place's name in the text tells which one failed
    for where in PLACES:
        _place(result, where, f"{where}: {payload}")
    html = render_html(result)
    page = Page(html)
    for where in PLACES:
        assert f"{where}: {payload}" not in html, where
        assert _escaped(f"{where}: {payload}") in html, where
    assert not [t for t, _ in page.tags if t == "script"]
    assert {img["id"] for img in page.images()} == CHARTS  # no injected <img>
    assert not any(k.startswith("on") for _, a in page.tags for k in a)


def test_nothing_is_loaded_from_elsewhere_and_scripts_are_refused(example_html: str) -> None:
    page = Page(example_html)
    assert not [t for t, _ in page.tags if t in ("script", "link", "iframe", "object", "embed")]
    for tag, attrs in page.tags:
        for key in ("src", "href"):
            if key in attrs:
                assert (attrs[key] or "").startswith(("data:", "#")), (tag, attrs[key])
    csp = next(
        a["content"]
        for t, a in page.tags
        if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    )
    assert "default-src 'none'" in (csp or "") and "img-src data:" in (csp or "")
    assert "url(" not in example_html and "@import" not in example_html


def test_a_dollar_sign_in_a_name_is_drawn_as_text() -> None:
    result = example_result(n=800)
    odd = r"points ($\frac{ per $)"  # mathtext would fail to parse this
    result["gains"][odd] = result["gains"].pop("points rule")
    result["curves"][odd] = result["curves"].pop("points rule")
    page = Page(render_html(result))
    assert {img["id"] for img in page.images()} == CHARTS
    headers = [
        text for t in page.section_tables("gains") for _, cells in t["rows"] for text, _ in cells
    ]
    assert odd in headers


ABSENT = {
    "thresholds": (None, "no decision thresholds", None),
    "backtest": (None, "No backtest in this result", "chart-backtest"),
    "stability": ([], "No stability over time", "chart-stability"),
    "slices": ({}, "No slices in this result.", None),
    "notes": ([], "No notes.", None),
    "gains": ({}, "No gains data in this result.", "chart-gains"),
    "curves": (None, "No ROC or precision-recall curves", "chart-curves"),
    "comparison": ([], "No baseline comparison", None),
}


@pytest.mark.parametrize("key", list(ABSENT))
def test_a_null_part_is_one_sentence(key: str) -> None:
    result = example_result(n=800)
    empty, sentence, chart = ABSENT[key]
    result[key] = empty
    html = render_html(result)
    assert sentence in section_text(html, key)
    assert {img["id"] for img in Page(html).images()} == CHARTS - {chart}


def test_a_result_with_only_model_and_data_says_what_is_missing() -> None:
    result = {k: v for k, v in example_result(n=800).items() if k in ("model", "data")}
    html = render_html(result)
    page = Page(html)
    assert page.sections == SECTIONS
    assert page.images() == []
    for key, (_, sentence, _) in ABSENT.items():
        assert sentence in section_text(html, key), key
    assert "No reliability data in this result." in section_text(html, "reliability")


def test_reliability_for_one_score_missing_is_said() -> None:
    result = example_result(n=800)
    del result["reliability"]["interest"]
    html = render_html(result)
    assert "No reliability data for interest." in section_text(html, "reliability")
    assert "chart-reliability" in {img["id"] for img in Page(html).images()}


def test_null_numbers_are_a_dash_not_a_crash() -> None:
    result = example_result(n=800)
    result["stability"][2]["roc_auc"] = None  # a month with one class
    result["slices"]["country"][1]["roc_auc"] = float("nan")
    result["thresholds"]["stages"]["other"] = {
        "leads": 0,
        "share": 0.0,
        "conversion_rate": float("nan"),
        "recall": 0.0,
        "lift": float("nan"),
        "per_week": 0.0,
    }
    page = Page(render_html(result))
    stability = page.section_tables("stability")[0]["rows"][1:]
    assert stability[2][1][3][0] == "–"
    country = page.section_tables("slices")[1]["rows"][1:]
    assert country[1][1][3][0] == "–"
    other = next(c for _, c in page.section_tables("thresholds")[0]["rows"] if c[0][0] == "other")
    assert [other[i][0] for i in (1, 4, 6)] == ["0", "–", "–"]
    assert {img["id"] for img in page.images()} == CHARTS


def test_write_report_writes_strict_json_with_nan_as_null_and_the_html(tmp_path: Path) -> None:
    result = example_result(n=800)
    expected = json.loads(json.dumps(result))  # the clean result, as plain JSON types
    result["metrics"]["interest"]["ece"] = float("nan")
    result["metrics"]["fit"]["brier"] = np.float64(0.1234)
    result["data"]["rows"] = np.int64(800)
    result["stability"][0]["roc_auc"] = float("inf")
    result["reliability"]["fit"]["count"] = np.array(result["reliability"]["fit"]["count"])
    expected["metrics"]["interest"]["ece"] = None
    expected["metrics"]["fit"]["brier"] = 0.1234
    expected["stability"][0]["roc_auc"] = None

    paths = write_report(result, tmp_path / "out" / "eval")

    assert set(paths) == {"json", "html"}
    text = paths["json"].read_text(encoding="utf-8")

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in report.json")

    assert json.loads(text, parse_constant=refuse) == expected
    assert text.startswith('{\n  "model": {\n    "uri"')  # indent=2
    assert paths["html"].read_text(encoding="utf-8") == render_html(result)
    assert jsonable(result) == expected


# -- in a real browser -------------------------------------------------------------------------

# Put before the report's Content-Security-Policy, so that it may run: once the
# policy is in force no inline script runs (the second probe checks that).
LOAD_PROBE = """<script>
addEventListener("load", () => {
  const images = Array.from(document.images);
  const loaded = images.filter((i) => i.complete && i.naturalWidth > 0);
  document.body.dataset.imagesLoaded = loaded.length + "/" + images.length;
  document.body.dataset.loadedIds = loaded.map((i) => i.id).sort().join(" ");
  document.body.dataset.widths = loaded.map((i) => i.naturalWidth).join(" ");
});
</script>"""
BLOCKED_PROBE = '<script>document.body.dataset.inlineScriptRan = "yes";</script>'


@pytest.mark.browser
@needs_chromium
def test_the_report_opens_in_chromium_with_every_chart_loaded(tmp_path: Path) -> None:
    paths = write_report(example_result(), tmp_path / "report")
    page = paths["html"].read_text(encoding="utf-8")
    probed = tmp_path / "report" / "probed.html"
    probed.write_text(
        page.replace("<head>", "<head>" + LOAD_PROBE, 1).replace(
            "</main>", BLOCKED_PROBE + "</main>", 1
        ),
        encoding="utf-8",
    )

    dom = chromium(["--virtual-time-budget=5000", "--dump-dom", probed.as_uri()], tmp_path).stdout

    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:500]
    attrs = dict(re.findall(r'(data-[a-z-]+)="([^"]*)"', body.group(1)))
    assert attrs.get("data-images-loaded") == f"{len(CHARTS)}/{len(CHARTS)}", attrs
    assert attrs["data-loaded-ids"].split() == sorted(CHARTS)
    assert all(int(w) >= 600 for w in attrs["data-widths"].split())
    assert "data-inline-script-ran" not in attrs  # the policy refused the inline script

    shot = tmp_path / "report.png"
    chromium([f"--screenshot={shot}", "--window-size=1280,2400", paths["html"].as_uri()], tmp_path)
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (2400, 1280)
    # The charts were painted, not just the text: matplotlib's orange (#ff7f0e, the
    # logistic regression's lines in the gains chart) is in no style of the page.
    orange = np.abs(pixels - np.array([0xFF, 0x7F, 0x0E]) / 255).max(axis=2) < 0.08
    assert orange.sum() > 300, orange.sum()
    assert not math.isclose(float(pixels.std()), 0.0)


def test_example_result_is_realistic() -> None:
    """The example keeps its promises: the model beats the baselines, ECE is small."""
    result = example_result()
    by_name = {r["name"]: r for r in result["comparison"]}
    assert (
        by_name["leadscore"]["roc_auc"]
        > by_name["logistic regression"]["roc_auc"]
        > by_name["points rule"]["roc_auc"]
        > 0.5
    )
    assert by_name["base rate"]["roc_auc"] == 0.5
    assert result["metrics"]["probability"]["ece"] < 0.03


def test_the_time_section_names_snapshot_leaks_and_the_learned_decay() -> None:
    leak = {
        "column": "hs_analytics_last_visit_timestamp",
        "share": 0.93,
        "converted_leads": 200,
        "after_conversion": 186,
        "counts": ["hs_analytics_num_visits"],
        "features": ["days_since_last_visit", "hs_analytics_num_visits"],
        "allowed": True,
        "refused": False,
    }
    snapshot = render_html(
        {
            **example_result(n=800),
            "time": {"examples": {"point_in_time": False}, "snapshot_leaks": [leak]},
        }
    )
    section = snapshot[snapshot.index('<section id="time">') :]
    section = section[: section.index("</section>")]
    assert "Snapshot leak" in section and "hs_analytics_last_visit_timestamp" in section
    assert "93.0" in section and "186 of 200" in section and "hs_analytics_num_visits" in section
    decay = {
        "hubspot": "25 % of the points every 30 days",
        "kinds": {
            "pricing_view": [
                {"age": "0–7 days", "effect": 6.0, "share_of_newest": 1.0, "hubspot_share": 1.0},
                {"age": "7–30 days", "effect": 3.6, "share_of_newest": 0.6, "hubspot_share": 1.0},
                {"age": "30+ days", "effect": 0.2, "share_of_newest": 0.04, "hubspot_share": 0.5},
            ]
        },
    }
    timed = render_html(
        {
            **example_result(n=800),
            "time": {"examples": {"point_in_time": True, "at_days": [0, 7, 30]}, "decay": decay},
        }
    )
    section = timed[timed.index('<section id="time">') :]
    section = section[: section.index("</section>")]
    assert "Point-in-time examples" in section and "0, 7, 30 days" in section
    assert "Snapshot leak" not in section
    assert "Learned decay" in section and "pricing_view" in section and "(60 %)" in section
    assert "25 % of the points every 30 days" in section


# -- what the report suggests ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "stability", "sentence"),
    [
        # the data says what it allows (`leadscore evaluate` records it)
        (
            {"time_kind": "datetime", "backtest_months": 5},
            "keep",
            "run `leadscore evaluate --backtest 3`; this data allows up to 5 month(s)",
        ),
        (
            {"time_kind": "datetime", "backtest_months": 2},
            "keep",
            "run `leadscore evaluate --backtest 2`; this data allows up to 2 month(s)",
        ),
        ({"time_kind": "datetime", "backtest_months": 0}, "keep", "too few complete calendar"),
        (
            {"time_kind": "datetime", "backtest_months": None},
            "keep",
            "run `leadscore evaluate --backtest N` to test on the last N complete months",
        ),
        ({"time_kind": "ordinal", "backtest_months": 0}, None, "time column is ordinal"),
        # an older result: months of stability only for a datetime time column
        ({}, "keep", "run `leadscore evaluate --backtest N`"),
        ({}, [], "run `leadscore evaluate --backtest N`"),
        ({}, None, "time column is ordinal"),
        ({}, "drop", "No backtest in this result.</p>"),
    ],
)
def test_a_backtest_is_suggested_only_where_it_would_run(
    data: dict[str, Any], stability: Any, sentence: str
) -> None:
    result = example_result(n=800)
    result["backtest"] = None
    result["data"].update(data)
    if stability == "drop":
        del result["stability"]
    elif stability != "keep":
        result["stability"] = stability
    section = section_text(render_html(result), "backtest")
    assert sentence in section
    assert section.startswith('<h2>Backtest</h2><p class="muted absent">No backtest in this result')
    suggests = "leadscore evaluate --backtest" in section
    assert suggests == ("run `" in sentence)


@pytest.mark.parametrize(
    ("events", "advice"), [(True, "--events"), (None, "--events"), (False, "")]
)
def test_a_snapshot_leak_suggests_the_event_log_only_for_a_spec_that_reads_one(
    events: bool | None, advice: str
) -> None:
    result = example_result(n=800)
    if events is not None:
        result["data"]["events"] = events
    result["time"] = {
        "examples": {"point_in_time": False},
        "snapshot_leaks": [{"column": "hs_analytics_last_visit_timestamp", "share": 0.9}],
    }
    section = section_text(render_html(result), "time")
    assert "Snapshot leak" in section
    assert ("<code>--events</code>" in section) == bool(advice)
    assert ("reads no event log" in section) == (not advice)
