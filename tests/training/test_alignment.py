"""The marketing–sales alignment sheet: logged with every trained model, written by
`leadscore alignment`, every number equal to the training run's report.json, and at most
two A4 pages in a real browser."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mlflow.artifacts import download_artifacts
from typer.testing import CliRunner, Result

from cli.main import app
from features.spec import DatasetSpec
from models.actions import ACTION_TYPES, Actions, parse_duration, words
from models.attribution import effects_from_contributions, margin_of
from models.i18n import language
from models.policy import OTHER, STAGES, Policy, Requirements, Thresholds
from tests.browser import chromium, needs_chromium
from tests.conftest import NO_BASELINE_GATE, REPO
from training.alignment import (
    ARTIFACT,
    RUN_REPORT,
    Fact,
    SheetModel,
    grade_of,
    render_alignment,
    resolve_pointer,
)
from training.config import TrainConfig, load_config
from training.data import PreparedData
from training.result import Factors
from training.train import TrainResult, overall_factors

MODEL = "alignment-test"
runner = CliRunner()

VALUE = re.compile(r'<span class="v" data-key="([^"]*)" data-format="([^"]*)">([^<]*)</span>')
MODEL_VALUE = re.compile(r'<span class="m" data-model="([^"]*)">([^<]*)</span>')


@dataclass(frozen=True)
class Trained:
    uri: str
    result: TrainResult
    run_id: str
    version: str
    report: dict[str, Any]
    sheet: str


@pytest.fixture(scope="module")
def trained(
    small_examples: PreparedData,
    hubspot_spec: DatasetSpec,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Trained]:
    """A small model with the demo's catalogue (configs/hubspot-demo.yaml), trained,
    logged and registered in a store of its own; its run's report.json and sheet."""
    import mlflow

    from training.tracking import (
        configure,
        ensure_experiment,
        log_training_run,
        register_and_promote,
    )
    from training.train import train_scorer

    demo = load_config(REPO / "configs" / "hubspot-demo.yaml")
    config = TrainConfig.model_validate(
        {
            **demo.model_dump(mode="json", by_alias=True),
            "booster": {"max_rounds": 80, "early_stopping_rounds": 15, "num_leaves": 7},
            "calibration_folds": 3,
            "shap_sample": 200,
            "registry": {**NO_BASELINE_GATE, "model_name": MODEL},
        }
    )
    folder = tmp_path_factory.mktemp("alignment")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        configure(uri)
        result = train_scorer(small_examples, hubspot_spec, config)
        with mlflow.start_run(experiment_id=ensure_experiment("leadscore", uri)):
            run_id, model_uri = log_training_run(result, config, {"rows": 1}, None)
        promotion = register_and_promote(model_uri, run_id, result, config.registry)
        files = {
            name: Path(download_artifacts(run_id=run_id, artifact_path=name, dst_path=str(folder)))
            for name in (RUN_REPORT, ARTIFACT)
        }
        yield Trained(
            uri,
            result,
            run_id,
            promotion.version,
            json.loads(files[RUN_REPORT].read_text(encoding="utf-8")),
            files[ARTIFACT].read_text(encoding="utf-8"),
        )


def invoke(*args: str | Path) -> Result:
    return runner.invoke(app, [str(a) for a in args])


# German writes 1.234,5 where English writes 1,234.5 (written here, not taken from Babel).
GERMAN_DIGITS = str.maketrans({",": ".", ".": ","})


def shown(value: Any, format: str, lang: str = "en") -> str:
    """A report.json value as the sheet must write it (written here independently)."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    if format == "duration":
        return words(parse_duration(value), language(lang))
    if format == "label":  # a feature's label, in the sheet's language
        return language(lang).gettext(str(value))
    if format == "text":
        return str(value)
    if format == "pct":
        text = f"{100 * value:.1f} %"
    elif format == "pct0":
        text = f"{100 * value:.0f} %"
    elif format == "num1":
        text = f"{value:.1f}"
    elif format == "whole":
        text = f"{round(value):,}"
    else:
        assert format == "number", format
        text = f"{round(value):,}" if float(value).is_integer() else f"{value:.2f}"
    return text.translate(GERMAN_DIGITS) if lang == "de" else text


def values(page: str) -> list[tuple[str, str, str]]:
    """(JSON Pointer, format, text) of every value on the page."""
    return [(key, fmt, html.unescape(text)) for key, fmt, text in VALUE.findall(page)]


def visible_text_without_values(page: str) -> str:
    """The page's visible text once every value and model field is taken out."""
    body = page[page.index("<body>") :]
    body = re.sub(r"<style>.*?</style>", " ", body, flags=re.S)
    body = MODEL_VALUE.sub(" ", VALUE.sub(" ", body))
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


# -- the sheet of a trained model ---------------------------------------------------------------


def test_every_number_on_the_logged_sheet_equals_the_runs_report_json(trained: Trained) -> None:
    page = trained.sheet
    found = values(page)
    for key, fmt, text in found:
        assert text == shown(resolve_pointer(trained.report, key), fmt), key
    # ... and the comparison would see a report that says otherwise
    tampered = json.loads(json.dumps(trained.report))
    tampered["thresholds"]["test"]["stages"]["SQL"]["per_week"] += 0.5
    tampered["factors"]["fit"][0]["label"] = "Something else"
    assert sum(text != shown(resolve_pointer(tampered, key), fmt) for key, fmt, text in found) == 2
    keys = {key for key, _, _ in found}
    # the fitted thresholds, the test slice's volumes and dates, and the factors are all there
    for key in (
        "/thresholds/policy/thresholds/sql_probability",
        "/thresholds/policy/thresholds/sql_min_fit",
        "/thresholds/policy/thresholds/mql_probability",
        "/thresholds/policy/thresholds/mql_min_fit",
        "/thresholds/policy/thresholds/mql_min_interest",
        "/thresholds/policy/thresholds/fit_grade_cuts/0",
        "/thresholds/policy/requirements/requirements/1/min",
        "/thresholds/policy/requirements/exclusions/0/in/2",
        "/thresholds/policy/requirements/hand_raise/0/event_kinds/1",
        "/thresholds/test/rows",
        "/thresholds/test/stages/SQL/per_week",
        "/thresholds/test/stages/MQL/conversion_rate",
        "/factors/time_from",
        "/factors/time_to",
        "/factors/fit/4/share",
        "/factors/interest/0/mean_abs_points",
        "/thresholds/policy/actions/contact_within",
        "/thresholds/policy/actions/retry_after",
        "/thresholds/policy/actions/recheck_after",
    ):
        assert key in keys, key
    # no number on the page comes from anywhere else
    assert not re.search(r"\d", visible_text_without_values(page)), re.findall(
        r".{30}\d.{30}", visible_text_without_values(page)
    )
    fields = dict(MODEL_VALUE.findall(page))
    assert fields == {
        "name": MODEL,
        "version": trained.version,
        "run_id": trained.run_id,
        "trained_at": trained.result.scorer.metadata["trained_at"],
        "spec": trained.result.scorer.spec.name,
    }


def test_the_sheet_states_the_policy_the_model_decides_with(trained: Trained) -> None:
    """Numbers checked by hand, not through the sheet's own lookup."""
    page = trained.sheet
    policy = trained.result.scorer.policy
    assert policy is not None
    t = policy.thresholds
    stages = trained.report["thresholds"]["test"]["stages"]
    assert f"a chance to convert of at least {_v(t.sql_probability * 100, '.1f')} %" in _text(page)
    assert f"a fit score of at least {t.mql_min_fit:.1f}" in _text(page)
    assert f"{stages['SQL']['per_week']:.1f}" in _text(page)
    assert "served country: country is one of United States, Canada" in _text(page)
    assert "company of 5+ employees: numemployees is at least 5 (an empty value passes)" in (
        _text(page)
    )
    assert "recent_conversion_event_name was one of demo request, contact sales" in _text(page)
    for stage in (*STAGES, OTHER):
        assert f"<code>{stage}</code>" in page
    assert "A new SQL gets lead status NEW and sales contacts it within 4 h" in _text(page)
    for status in policy.actions.statuses:
        assert f"<code>{status}</code>" in page
    assert (
        "ATTEMPTED_TO_CONTACT Tried, not reached yet. sales tries to reach the lead again "
        "after 2 d" in _text(page)
    )
    assert "OPEN_DEAL A deal is created. sales creates the deal at once" in _text(page)
    assert page.count('class="box"') >= 4  # MQL, SQL and the two signatures


def _v(value: float, spec: str) -> str:
    return format(value, spec)


def _text(page: str) -> str:
    """The page's words as read: cells and blocks apart, inline markup gone."""
    page = re.sub(r"<style>.*?</style>", " ", page, flags=re.S)
    page = re.sub(r"</?(td|th|tr|li|p|dt|dd|h\d|div|section|ul|ol|br|table)\b[^>]*>", " ", page)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", page)).split())


def test_the_report_holds_the_strongest_factors_of_the_test_slice(trained: Trained) -> None:
    result = trained.result
    factors = Factors.model_validate(trained.report["factors"])
    assert factors.rows == len(result.y_test)
    spec = result.scorer.spec
    labels = {f.name: f.readable for f in spec.features}
    x = result.scorer.encode(result.test_frame, result.as_of)
    for name, kept in (("fit", factors.fit), ("interest", factors.interest)):
        model = result.scorer.models[name]
        assert len(kept) == 5
        assert {f.feature for f in kept} <= set(model.features)
        assert [f.label for f in kept] == [labels[str(f.feature)] for f in kept]
        points = [float(f.mean_abs_points or 0) for f in kept]
        assert points == sorted(points, reverse=True) and points[-1] > 0
        # recomputed here: the mean |effect| in score points of the strongest feature
        contrib = model.contributions(x)
        effect, _, _ = effects_from_contributions(model.calibrator, contrib, margin_of(contrib))
        strength = np.abs(effect).mean(axis=0)
        j = model.features.index(str(kept[0].feature))
        assert kept[0].mean_abs_points == pytest.approx(strength[j], rel=1e-9)
        assert kept[0].share == pytest.approx(strength[j] / strength.sum(), rel=1e-9)
        assert sum(float(f.share or 0) for f in kept) <= 1 + 1e-9
    assert factors.slice_rows == factors.rows


def test_a_large_slice_is_measured_on_a_seeded_draw_of_its_rows(trained: Trained) -> None:
    result = trained.result
    scorer = result.scorer
    x = scorer.encode(result.test_frame, result.as_of)
    times = np.arange(len(x), dtype=np.float64)
    every = overall_factors(scorer.models, scorer.spec, x, times)
    half = len(x) // 2
    drawn = overall_factors(scorer.models, scorer.spec, x, times, seed=3, max_rows=half)
    assert (drawn["rows"], drawn["slice_rows"]) == (half, len(x))
    assert (every["rows"], every["slice_rows"]) == (len(x), len(x))
    assert drawn == overall_factors(scorer.models, scorer.spec, x, times, seed=3, max_rows=half)
    assert drawn != overall_factors(scorer.models, scorer.spec, x, times, seed=4, max_rows=half)
    for name in ("fit", "interest"):
        # half the rows: the same strongest factor, its strength close to the whole slice's
        assert drawn[name][0]["feature"] == every[name][0]["feature"]
        assert drawn[name][0]["mean_abs_points"] == pytest.approx(
            every[name][0]["mean_abs_points"], rel=0.15
        )


# -- the command ---------------------------------------------------------------------------------


def test_the_command_writes_the_sheet_the_run_logged(
    trained: Trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained.uri)
    out = tmp_path / "sheets" / "alignment.html"
    result = invoke("alignment", "--model", f"models:/{MODEL}@champion", "--out", out)
    assert result.exit_code == 0, result.output
    assert f"version {trained.version}" in result.output
    assert out.read_text(encoding="utf-8") == trained.sheet


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--lang", "fr", "--out", "sheet.html"], ["--lang", "'fr'", "en, de"]),
        (["--out", "sheet.pdf"], ["--out", "sheet.pdf", ".html"]),
        (["--model", "models:/no-such-model@champion", "--out", "sheet.html"], ["no-such-model"]),
    ],
)
def test_a_bad_option_is_one_line_and_exit_2(
    trained: Trained,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    names: list[str],
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained.uri)
    monkeypatch.chdir(tmp_path)
    result = invoke("alignment", "--model", f"models:/{MODEL}@champion", *args)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output and "Usage:" not in result.output
    assert result.output.count("error: ") == 1, result.output
    message = " ".join(result.output[result.output.index("error: ") :].split())
    for name in names:
        assert name in message, (name, message)
    assert not list(tmp_path.glob("sheet.*"))


def test_a_bundle_folder_without_its_run_gets_a_sheet_without_volumes(
    trained: Trained, tmp_path: Path
) -> None:
    bundle = trained.result.scorer.save(tmp_path / "bundle")
    out = tmp_path / "sheet.html"
    result = invoke("alignment", "--model", bundle, "--out", out)
    assert result.exit_code == 0, result.output
    assert "no training run report" in result.output
    page = out.read_text(encoding="utf-8")
    assert "No volumes: this model's training run report was not found." in _text(page)
    assert "/thresholds/test/" not in page
    # the thresholds are the bundle's own
    sql = trained.result.scorer.policy.thresholds.sql_probability  # type: ignore[union-attr]
    assert f">{100 * sql:.1f} %</span>" in page


# -- the rendering -------------------------------------------------------------------------------


def policy_of(**catalogue: Any) -> Policy:
    never = float(np.nextafter(1.0, 2.0))
    return Policy(
        thresholds=Thresholds(
            fit_grade_cuts=[70.0, 50.0, 30.0],
            interest_grade_cuts=[60.0, 40.0, 20.0],
            sql_probability=never,
            sql_min_fit=50.0,
            mql_probability=0.25,
            mql_min_fit=0.0,
            mql_min_interest=20.0,
        ),
        requirements=Requirements.model_validate(catalogue),
        notes=["SQL precision target 50% cannot be met"],
    )


def test_a_threshold_fitting_could_not_set_is_said_in_words() -> None:
    page = render_alignment(policy_of(), None, SheetModel(name="m", version="1"))
    assert "never by score: the SQL targets could not be met" in page
    assert "/thresholds/policy/thresholds/sql_probability" not in page
    assert "(grade D or better)" in _text(page)  # a minimum fit of 0: any fit
    assert "SQL precision target 50% cannot be met" in _text(page)
    assert "No requirements: every lead may be handed over." in page


def test_catalogue_values_from_the_crm_are_escaped() -> None:
    page = render_alignment(
        policy_of(
            exclusions=[{"name": "<b>bad</b>", "column": "x", "in": ["<script>alert(1)</script>"]}],
            stages={"Open / <new>": "lead"},
        ),
        None,
        SheetModel(name="<i>m</i>"),
    )
    assert "<script>alert" not in page and "<b>bad" not in page and "<i>m" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'data-key="/thresholds/policy/requirements/stages/Open ~1 &lt;new&gt;"' in page


def test_configured_service_levels_and_statuses_are_on_the_sheet() -> None:
    base = policy_of()
    policy = base.model_copy(
        update={
            "actions": Actions.model_validate(
                {
                    "contact_within": "P1DT12H",
                    "deal_within": "30m",
                    "statuses": {"NURTURE": "nurture"},
                }
            )
        }
    )
    page = _text(render_alignment(policy, None, SheetModel(name="m")))
    assert "sales contacts it within 1 d 12 h" in page
    assert (
        "NEW New in the sales queue, not contacted yet. sales contacts the lead within 1 d 12 h"
        in page
    )
    assert "OPEN_DEAL A deal is created. sales creates the deal within 30 min" in page
    assert "NURTURE Added by this team's configuration. marketing nurtures the lead –" in page


def test_each_action_s_due_time_is_read_from_its_field() -> None:
    """Each action's period comes from its own setting (distinct periods, so a mix-up shows)."""
    actions = Actions.model_validate(
        {"contact_within": "1h", "retry_after": "2h", "deal_within": "3h", "recheck_after": "4h"}
    )
    hours = {"contact": 1, "retry_contact": 2, "create_deal": 3, "recheck": 4}
    for action in ACTION_TYPES:
        expected = timedelta(hours=hours[action]) if action in hours else None
        assert actions.period(action) == expected, action


def test_facts_and_pointers() -> None:
    document = {"a/b": [{"c~": 1.5}], "n": None}
    fact = Fact(document)["a/b"][0]["c~"]
    assert (fact.raw, fact.pointer) == (1.5, "/a~1b/0/c~0")
    assert resolve_pointer(document, fact.pointer) == 1.5
    assert Fact(document)["missing"]["deeper"].raw is None
    assert resolve_pointer(document, "/a~1b/7") is None
    assert not Fact(document)["n"] and len(Fact(document)["a/b"]) == 1
    assert grade_of(50.0, [70.0, 50.0, 30.0]) == "B"
    assert grade_of(0.0, [70.0, 50.0, 30.0]) == "D"
    assert grade_of(42.0, [70.0, 50.0, 30.0]) is None


# -- in a real browser ---------------------------------------------------------------------------


def printed_pages(page: str, tmp_path: Path, name: str) -> int:
    """The pages Chromium prints the page on (A4 by the sheet's @page rule)."""
    source = tmp_path / f"{name}.html"
    source.write_text(page, encoding="utf-8")
    pdf = tmp_path / f"{name}.pdf"
    chromium(["--no-pdf-header-footer", f"--print-to-pdf={pdf}", source.as_uri()], tmp_path)
    data = pdf.read_bytes()
    counts = [int(n) for n in re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", data)]
    counts += [int(n) for n in re.findall(rb"/Count\s+(\d+)[^>]*?/Type\s*/Pages\b", data)]
    pages = len(re.findall(rb"/Type\s*/Page\b", data))
    assert counts and max(counts) == pages, (counts, pages)
    # A4 portrait: 595 × 842 points
    box = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", data)
    assert box and abs(float(box.group(1)) - 595) < 2 and abs(float(box.group(2)) - 842) < 2
    return pages


@pytest.mark.browser
@needs_chromium
def test_the_sheet_prints_on_two_a4_pages_at_most(trained: Trained, tmp_path: Path) -> None:
    assert printed_pages(trained.sheet, tmp_path, "sheet") <= 2
    # the count can fail: a catalogue of forty requirements does not fit
    policy = trained.result.scorer.policy
    assert policy is not None
    long = policy.model_copy(
        update={
            "requirements": Requirements(
                requirements=[
                    {"name": f"rule {i}", "column": "country", "in": ["Germany"] * 8}  # type: ignore[list-item]
                    for i in range(40)
                ]
            )
        }
    )
    sheet = render_alignment(long, trained.report, SheetModel(name=MODEL))
    assert printed_pages(sheet, tmp_path, "long") > 2


@pytest.mark.browser
@needs_chromium
def test_the_sheet_opens_in_chromium(trained: Trained, tmp_path: Path) -> None:
    source = tmp_path / "alignment.html"
    source.write_text(trained.sheet, encoding="utf-8")
    shot = tmp_path / "alignment.png"
    chromium([f"--screenshot={shot}", "--window-size=1000,2600", source.as_uri()], tmp_path)
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]
    print(f"screenshot of the alignment sheet: {shot}")
    assert pixels.shape[:2] == (2600, 1000)
    ink = pixels.max(axis=2) < 0.35  # dark text and the signature lines
    rows = np.flatnonzero(ink.any(axis=1))
    # the page was painted from its title down to the sign-off block
    assert rows.min() < 120 and rows.max() > 1200, (rows.min(), rows.max())
    assert not np.isclose(float(pixels.std()), 0.0)


# -- in German -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def german(trained: Trained) -> str:
    policy = trained.result.scorer.policy
    assert policy is not None
    model = SheetModel(name=MODEL, version=trained.version, run_id=trained.run_id)
    return render_alignment(policy, trained.report, model, "de")


def test_the_german_sheet_carries_the_same_numbers_as_the_english_one(
    trained: Trained, german: str
) -> None:
    english = values(trained.sheet)
    found = values(german)
    # the same values of report.json in the same places ...
    assert [(key, fmt) for key, fmt, _ in found] == [(key, fmt) for key, fmt, _ in english]
    # ... each written as German writes it (and the comparison can fail)
    for key, fmt, text in found:
        assert text == shown(resolve_pointer(trained.report, key), fmt, "de"), key
    decimals = [text for _, fmt, text in found if fmt in ("pct", "num1")]
    written = [text for text in decimals if text != "–"]
    assert written and all("," in text and "." not in text for text in written), decimals
    assert any(text != shown(resolve_pointer(trained.report, key), fmt) for key, fmt, text in found)
    assert not re.search(r"\d", visible_text_without_values(german))


def test_the_german_sheet_is_in_german(german: str) -> None:
    text = _text(german)
    assert '<html lang="de">' in german
    for words_de in (
        "Marketing-Sales-Alignment",
        "Lifecycle-Phasen",
        "Abonnent",
        "Marketing-Qualified-Lead (MQL)",
        "Sales-Qualified-Lead (SQL)",
        "Kunde",
        "Andere",
        "Anforderungskatalog",
        "Freigabe",
        "Unterschrift",
        "Ein neuer SQL erhält den Lead-Status NEW, und der Vertrieb kontaktiert ihn innerhalb "
        "von 4 Std.",
        "ATTEMPTED_TO_CONTACT Kontakt versucht, noch nicht erreicht. der Vertrieb versucht "
        "erneut, den Lead zu erreichen nach 2 Tg.",
    ):
        assert words_de in text, words_de
    for english in ("Lifecycle stages", "Sign-off", "Requirements catalogue", "leads a week"):
        assert english not in text, english
    # the strongest factors by their German labels
    assert "Unternehmensgröße" in text or "Jahresumsatz" in text or "Branche" in text


def test_every_message_of_the_sheet_has_a_german_translation(german: str) -> None:
    """A message without a translation would show in English: the catalogue has them all."""
    from babel.messages.extract import extract_from_file

    template = REPO / "training" / "templates" / "alignment.html.j2"
    messages = {
        message
        for _, message, _, _ in extract_from_file("jinja2", template, keywords={"_": None})
        if isinstance(message, str)
    }
    de = language("de")
    assert len(messages) > 80
    assert [m for m in messages if de.known(m) is None] == []


@pytest.mark.browser
@needs_chromium
def test_the_german_sheet_prints_on_two_a4_pages_at_most(german: str, tmp_path: Path) -> None:
    assert printed_pages(german, tmp_path, "sheet-de") <= 2
