"""Acceptance: time-true models recover the generator's known truth and beat the snapshot;
the real X Education data.

Slow (full-size training): run with `make test-all`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from features.files import load_leads
from features.generate import Demo, generate_demo
from features.spec import resolve_spec
from features.timestamps import NS_PER_DAY, AsOf, read_timestamps
from tests.conftest import X_EDUCATION, as_crm_text, demo_examples, needs_x_education
from training.config import TrainConfig
from training.data import PreparedData, prepare
from training.train import TrainResult, train_scorer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo() -> Demo:
    return generate_demo(20_000, seed=7)


@pytest.fixture(scope="module")
def examples(demo: Demo) -> PreparedData:
    return demo_examples(demo, resolve_spec("hubspot"))


@pytest.fixture(scope="module")
def demo_result(examples: PreparedData) -> TrainResult:
    return train_scorer(examples, resolve_spec("hubspot"), TrainConfig())


@pytest.fixture(scope="module")
def test_rows(demo_result: TrainResult, examples: PreparedData) -> PreparedData:
    return examples.rows(demo_result.split.test)


def days_after_creation(rows: PreparedData) -> np.ndarray:
    created = read_timestamps(rows.frame["createdate"], "createdate").astype(np.int64)
    return np.round((rows.moments - created) / NS_PER_DAY)


def test_the_point_in_time_model_beats_its_baseline_and_is_calibrated(
    demo_result: TrainResult,
) -> None:
    m = demo_result.metrics
    assert m["test.full.roc_auc"] > m["test.full_logistic.roc_auc"]
    assert m["test.full.ece"] <= 0.03
    assert m["test.full.roc_auc"] > m["test.fit.roc_auc"] + 0.03
    assert m["test.full.roc_auc"] > m["test.interest.roc_auc"] + 0.03


def test_the_model_comes_close_to_the_truth_as_it_learns_more(
    demo_result: TrainResult, test_rows: PreparedData
) -> None:
    """At creation little is known of a lead's interest; a week and a month later its
    events tell more, and the model gets closer to the generator's true probability
    (measured 0.77 / 0.85 / 0.82 against the truth's 0.88 / 0.88 / 0.84, seed 7)."""
    age = days_after_creation(test_rows)
    truth = test_rows.frame["_true_probability"].astype(float).to_numpy()
    p = demo_result.test_scores["full"]
    ratios = {}
    for days in (0, 7, 30):
        at = age == days
        assert at.sum() > 500, days
        ratios[days] = roc_auc_score(test_rows.y[at], p[at]) / roc_auc_score(
            test_rows.y[at], truth[at]
        )
    assert ratios[0] >= 0.85 and ratios[7] >= 0.9 and ratios[30] >= 0.92, ratios


def test_fit_and_interest_scores_rank_like_the_latents(
    demo_result: TrainResult, test_rows: PreparedData
) -> None:
    frame = test_rows.frame
    fit = spearmanr(demo_result.test_scores["fit"], frame["_true_fit"].astype(float))
    assert fit.statistic >= 0.85
    # once the lead has had time to do something (measured 0.50, seed 7: the interest
    # score estimates the chance to convert from interest, and 12 % of the contacts were
    # imported without any activity to read it from)
    later = days_after_creation(test_rows) > 0
    interest = spearmanr(
        demo_result.test_scores["interest"][later], frame["_true_interest"][later].astype(float)
    )
    assert interest.statistic >= 0.45


def test_a_snapshot_model_looks_better_offline_and_is_worse_in_use(
    demo: Demo, demo_result: TrainResult, test_rows: PreparedData
) -> None:
    """The issue's goal: trained on the export alone, a model's own test slice flatters it
    (its activity counts include what converted leads did afterwards); scored as it will
    be used, features as of each moment, it ranks leads worse than the point-in-time model
    (measured 0.98 offline, 0.65 in use, against 0.83)."""
    spec = resolve_spec("hubspot")
    snapshot = train_scorer(
        prepare(as_crm_text(demo.contacts), spec),
        spec,
        TrainConfig.model_validate({"snapshot": {"max_share": 1.0}}),
    )
    in_use = snapshot.scorer.score(test_rows.frame, decide=False, as_of=AsOf(test_rows.moments))[
        "probability"
    ]
    snapshot_auc = roc_auc_score(test_rows.y, in_use)
    assert snapshot.metrics["test.full.roc_auc"] > snapshot_auc + 0.2  # inflated offline
    assert demo_result.metrics["test.full.roc_auc"] > snapshot_auc + 0.1
    assert isinstance(snapshot.test_frame, pd.DataFrame)


@pytest.mark.realdata
@needs_x_education
def test_x_education_leak_free_beats_logistic_regression() -> None:
    spec = resolve_spec("x-education")
    frame = load_leads(X_EDUCATION)
    result = train_scorer(prepare(frame, spec), spec, TrainConfig())
    m = result.metrics
    assert m["test.full.roc_auc"] >= 0.88
    assert m["test.full.roc_auc"] > m["test.full_logistic.roc_auc"]
    assert m["test.full.brier"] < m["test.base_rate.brier"]
    used = {f.source for f in spec.features}
    assert not used & {"Tags", "Lead Quality", "Lead Profile", "Last Notable Activity"}
    assert not any(c.startswith("Asymmetrique") for c in used)
    assert isinstance(result.test_frame, pd.DataFrame)
