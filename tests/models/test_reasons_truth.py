"""Reasons against the generator's truth: leads with a known strong signal are told so, in
words that compare their value with the typical training lead's.

`features.generate` plants what drives conversion: a hand-raise (a demo request or a
contact-sales form) adds 2.2 logits; among fit traits a junior title (-1.5) and a company
of 1-5 employees (-1.3 against +0.35 for 50-100) weigh most. A small scorer trained on
point-in-time examples must name them among a lead's top three reasons, and a value
below the typical lead's must read "fewer than the typical lead's N".
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from features.generate import CONTACT_FORM, DEMO_FORM, generate_demo
from features.spec import DatasetSpec
from features.timestamps import AsOf
from models.contract import Factor, Group, GroupReasons
from models.scorer import LeadScorer
from tests.conftest import DEMO_AS_OF, as_crm_text
from training.config import TrainConfig
from training.data import PreparedData
from training.train import train_scorer

AS_OF = AsOf.of(DEMO_AS_OF)
HAND_RAISE = {"recent_conversion", "first_conversion"}  # the last and the first form


@pytest.fixture(scope="module")
def scorer(small_examples: PreparedData, hubspot_spec: DatasetSpec) -> LeadScorer:
    config = TrainConfig.model_validate(
        {"booster": {"max_rounds": 60, "early_stopping_rounds": 10}, "calibration_folds": 3}
    )
    return train_scorer(small_examples, hubspot_spec, config).scorer


@pytest.fixture(scope="module")
def leads() -> pd.DataFrame:
    """1,500 leads the scorer never saw, as the export sends them."""
    return as_crm_text(generate_demo(1500, seed=21).contacts)


@pytest.fixture(scope="module")
def explained(scorer: LeadScorer, leads: pd.DataFrame) -> list[dict[Group, GroupReasons]]:
    matrix = scorer.encode(leads, AS_OF)
    return scorer.explainer.factors(matrix, leads.to_dict("records"), k=3)


def top(reasons: GroupReasons, direction: str) -> list[Factor]:
    return list(reasons.positive if direction == "raises" else reasons.negative)


def test_hand_raisers_are_told_their_hand_raise_first(
    leads: pd.DataFrame, explained: list[dict[Group, GroupReasons]]
) -> None:
    raised = leads["recent_conversion_event_name"].isin([DEMO_FORM, CONTACT_FORM]).to_numpy()
    assert raised.sum() >= 50
    first = [top(explained[i]["interest"], "raises")[:1] for i in np.flatnonzero(raised)]
    named = [f[0].feature in HAND_RAISE for f in first if f]
    assert len(named) == raised.sum()
    assert np.mean(named) >= 0.95
    texts = {f[0].text for f in first if f[0].feature in HAND_RAISE}
    assert texts <= {
        f"{label}: {form} — raises interest"
        for label in ("Last form", "First form")
        for form in ("demo request", "contact sales")
    }


@pytest.mark.parametrize(
    ("feature", "value", "wording"),
    [
        # a junior title: the category says it all, no comparison
        ("seniority", "student or intern", r"Seniority: student or intern — lowers fit"),
        # the smallest companies, against the typical training lead's range
        (
            "numemployees",
            "1-5",
            r"Company size: 1-5 employees, fewer than the typical lead's 25-50 — lowers fit",
        ),
    ],
)
def test_the_weakest_fit_traits_are_among_the_top_reasons(
    scorer: LeadScorer,
    leads: pd.DataFrame,
    explained: list[dict[Group, GroupReasons]],
    feature: str,
    value: str,
    wording: str,
) -> None:
    assert scorer.encoder.reference_["numemployees"] == "25-50"
    matrix = scorer.encode(leads, AS_OF)
    column = matrix[:, scorer.encoder.feature_names_.index(feature)]
    if feature == "numemployees":
        has = leads["numemployees"].to_numpy() == value
    else:
        has = np.array([scorer.encoder.decode(feature, v) == value for v in column])
    assert has.sum() >= 50
    factors = [
        next((f for f in top(explained[i]["fit"], "lowers") if f.feature == feature), None)
        for i in np.flatnonzero(has)
    ]
    assert np.mean([f is not None for f in factors]) >= 0.95
    assert {f.text for f in factors if f is not None} == {wording}


def test_fewer_page_views_than_typical_read_so(
    scorer: LeadScorer, leads: pd.DataFrame, explained: list[dict[Group, GroupReasons]]
) -> None:
    """Page views are monotone increasing: fewer than the typical lead's lowers interest."""
    typical = scorer.encoder.reference_["hs_analytics_num_page_views"]
    assert isinstance(typical, float) and typical >= 1
    column = scorer.encode(leads, AS_OF)[
        :, scorer.encoder.feature_names_.index("hs_analytics_num_page_views")
    ]
    below = np.flatnonzero(column < typical)
    texts = [
        f.text
        for i in below
        for f in [*explained[i]["interest"].positive, *explained[i]["interest"].negative]
        if f.feature == "hs_analytics_num_page_views"
    ]
    assert len(texts) >= 20
    pattern = (
        rf"Page views: \d+ pages?, fewer than the typical lead's {int(typical)} — lowers interest"
    )
    assert [t for t in texts if not re.fullmatch(pattern, t)] == []
