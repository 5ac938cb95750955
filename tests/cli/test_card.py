"""The card `leadscore explain` prints, built from the scoring contract."""

from __future__ import annotations

import pandas as pd
from rich.console import Console

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
