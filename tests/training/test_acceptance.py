"""Acceptance: the models recover the generator's known truth; the real X Education data.

Slow (full-size training): run with `make test-all`.
"""

from __future__ import annotations

import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from features.generate import generate_leads
from features.spec import resolve_spec
from tests.conftest import X_EDUCATION, as_crm_text
from training.config import TrainConfig
from training.data import load_leads, prepare
from training.train import TrainResult, train_scorer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_result() -> TrainResult:
    spec = resolve_spec("hubspot")
    leads = as_crm_text(generate_leads(20_000, seed=7))
    return train_scorer(prepare(leads, spec), spec, TrainConfig())


def test_full_model_is_close_to_the_truth_and_calibrated(demo_result: TrainResult) -> None:
    truth = demo_result.test_frame["_true_probability"].astype(float)
    true_auc = roc_auc_score(demo_result.y_test, truth)
    auc = demo_result.metrics["test.full.roc_auc"]
    assert auc >= 0.97 * true_auc, (auc, true_auc)
    assert demo_result.metrics["test.full.ece"] <= 0.03
    assert auc > demo_result.metrics["test.full_logistic.roc_auc"]


def test_fit_and_interest_scores_rank_like_the_latents(demo_result: TrainResult) -> None:
    frame = demo_result.test_frame
    fit = spearmanr(demo_result.test_scores["fit"], frame["_true_fit"].astype(float))
    interest = spearmanr(demo_result.test_scores["interest"], frame["_true_interest"].astype(float))
    assert fit.statistic >= 0.7
    assert interest.statistic >= 0.7


def test_the_full_model_beats_each_group_alone(demo_result: TrainResult) -> None:
    m = demo_result.metrics
    assert m["test.full.roc_auc"] > m["test.fit.roc_auc"] + 0.03
    assert m["test.full.roc_auc"] > m["test.interest.roc_auc"] + 0.03


@pytest.mark.realdata
@pytest.mark.skipif(not X_EDUCATION.is_file(), reason="../shared/data/x-education absent")
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
