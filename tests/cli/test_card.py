"""The card `leadscore explain` prints, built from the scoring contract."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

from cli.main import app
from cli.score import lead_card
from features.timestamps import AsOf
from models.scorer import LeadScorer
from tests.conftest import DEMO_AS_OF


def card_text(scorer: LeadScorer, record: dict[str, object]) -> str:
    result = scorer.results([record], explain=True, k=2, as_of=AsOf.of(DEMO_AS_OF))[0]
    console = Console(width=200, record=True)
    console.print(lead_card("42", record, result, scorer, "a/bundle", "", DEMO_AS_OF))
    return console.export_text()


def first_record(leads: pd.DataFrame) -> dict[str, object]:
    return {str(k): v for k, v in leads.iloc[0].items()}


def test_the_card_shows_scores_grades_recommendation_next_action_and_reasons(
    scorer: LeadScorer, leads: pd.DataFrame
) -> None:
    text = card_text(scorer, first_record(leads))
    assert "probability to convert" in text
    assert "(grade " in text
    assert "recommendation " in text and "rule " in text
    assert "next action " in text
    assert "fit (baseline" in text and "interest (baseline" in text
    assert " — raises " in text or " — lowers " in text


def test_a_model_without_a_decision_policy_gets_a_card_of_scores_and_reasons(
    scorer: LeadScorer, leads: pd.DataFrame
) -> None:
    bare = LeadScorer(scorer.spec, scorer.encoder, scorer.models, scorer.metadata, policy=None)
    text = card_text(bare, first_record(leads))
    assert "probability to convert" in text
    assert "grade" not in text and "recommendation" not in text and "next action" not in text
    assert "fit (baseline" in text and "interest (baseline" in text


def test_the_card_in_german(scorer: LeadScorer, leads: pd.DataFrame) -> None:
    record = first_record(leads)
    result = scorer.results([record], explain=True, k=2, as_of=AsOf.of(DEMO_AS_OF), lang="de")[0]
    console = Console(width=200, record=True)
    console.print(lead_card("42", record, result, scorer, "a/bundle", "7", DEMO_AS_OF, "de"))
    text = console.export_text()
    assert "Abschlusswahrscheinlichkeit " in text and " %" in text
    assert "(Note " in text and "Empfehlung " in text and "Regel " in text
    assert "nächste Aktion " in text
    assert "Fit (Basis " in text and "Interesse (Basis " in text
    assert " — erhöht " in text or " — senkt " in text
    assert "Lead 42" in text and "(Version 7), Stand 2026-07-01" in text
    for english in ("probability to convert", "recommendation", "baseline", " raises ", "lowers"):
        assert english not in text, english


def test_explain_takes_the_language_from_the_option_or_leadscore_lang(
    scorer: LeadScorer, leads: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = scorer.save(tmp_path / "bundle")
    data = tmp_path / "leads.csv"
    leads.head(5).to_csv(data, index=False)
    lead_id = str(leads.iloc[0][scorer.spec.id])
    args = ["explain", "--data", str(data), "--model", str(bundle), "--id", lead_id]
    args += ["--as-of", DEMO_AS_OF]
    runner = CliRunner()
    german = runner.invoke(app, [*args, "--lang", "de"])
    assert german.exit_code == 0, german.output
    assert "Abschlusswahrscheinlichkeit" in german.output
    monkeypatch.setenv("LEADSCORE_LANG", "de")
    assert runner.invoke(app, args).output == german.output
    assert "probability to convert" in runner.invoke(app, [*args, "--lang", "en"]).output
    monkeypatch.setenv("LEADSCORE_LANG", "fr")
    bad = runner.invoke(app, args)
    assert bad.exit_code == 2, bad.output
    assert bad.output.count("error: ") == 1 and "'fr'" in bad.output and "en, de" in bad.output


def test_score_writes_german_reasons_and_details_with_the_same_numbers(
    scorer: LeadScorer, leads: pd.DataFrame, tmp_path: Path
) -> None:
    bundle = scorer.save(tmp_path / "bundle")
    data = tmp_path / "leads.csv"
    leads.head(200).to_csv(data, index=False)
    runner = CliRunner()
    outs = {}
    for lang in ("en", "de"):
        out = tmp_path / f"scores-{lang}.csv"
        args = ["score", "--data", str(data), "--out", str(out), "--model", str(bundle)]
        result = runner.invoke(app, [*args, "--reasons", "--as-of", DEMO_AS_OF, "--lang", lang])
        assert result.exit_code == 0, result.output
        outs[lang] = pd.read_csv(out, dtype=str, keep_default_na=False)
    en, de = outs["en"], outs["de"]
    words = ["fit_reasons", "interest_reasons", "rule_detail"]
    pd.testing.assert_frame_equal(en.drop(columns=words), de.drop(columns=words))
    assert de["fit_reasons"].str.contains(" — (?:erhöht|senkt) den Fit \\([+-]\\d+,\\d\\)").all()
    assert not de["interest_reasons"].str.contains("raises|lowers").any()
    assert (de["rule_detail"] != en["rule_detail"]).any()
