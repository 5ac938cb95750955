"""The scorer bundle: one set of scores whatever the path (frame, records, saved, MLflow)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.errors import LeadscoreError
from features.spec import DatasetSpec
from features.timestamps import AsOf
from models.scorer import LeadScorer
from tests.conftest import DEMO_AS_OF
from training.config import TrainConfig
from training.data import PreparedData
from training.train import TrainResult, train_scorer

AS_OF = AsOf.of(DEMO_AS_OF)


@pytest.fixture(scope="module")
def trained(small_examples: PreparedData, hubspot_spec: DatasetSpec) -> TrainResult:
    config = TrainConfig.model_validate(
        {"booster": {"max_rounds": 60, "early_stopping_rounds": 10}, "calibration_folds": 3}
    )
    return train_scorer(small_examples, hubspot_spec, config)


@pytest.fixture(scope="module")
def scorer(trained: TrainResult) -> LeadScorer:
    return trained.scorer


def test_scores_are_probabilities_and_0_to_100(
    scorer: LeadScorer, small_leads: pd.DataFrame
) -> None:
    scores = scorer.score(small_leads.head(500), as_of=AS_OF)
    assert list(scores.columns) == [
        "hs_object_id",
        "probability",
        "fit",
        "interest",
        "fit_grade",
        "interest_grade",
        "recommended_stage",
        "lead_status",
        "changed",
        "rule",
        "rule_detail",
        "next_action",
        "next_action_due",
    ]
    assert scores["probability"].between(0, 1).all()
    assert scores[["fit", "interest"]].stack().between(0, 100).all()
    assert scores["hs_object_id"].tolist() == small_leads["hs_object_id"].head(500).tolist()
    # not a constant: the models rank leads
    assert scores["probability"].std() > 0.01


def test_records_path_equals_frame_path(scorer: LeadScorer, small_leads: pd.DataFrame) -> None:
    rows = small_leads.head(200)
    frame_scores = scorer.score(rows, as_of=AS_OF)
    record_scores = scorer.score_records(rows.to_dict("records"), as_of=AS_OF)
    for name in ("probability", "fit", "interest"):
        np.testing.assert_allclose(
            [r[name] for r in record_scores], frame_scores[name], rtol=0, atol=1e-12
        )


def test_typed_values_score_like_strings(scorer: LeadScorer, small_leads: pd.DataFrame) -> None:
    text = small_leads.head(200)
    typed = text.copy()
    for column in ("hs_analytics_num_visits", "hs_analytics_num_page_views", "annualrevenue"):
        typed[column] = pd.to_numeric(text[column].replace("", np.nan))
    # HubSpot's other spelling of a date-time: epoch milliseconds (as a number)
    visited = pd.to_datetime(text["hs_analytics_last_visit_timestamp"].replace("", None), utc=True)
    epoch_ms = (visited - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(milliseconds=1)
    typed["hs_analytics_last_visit_timestamp"] = epoch_ms
    pd.testing.assert_frame_equal(scorer.score(text, as_of=AS_OF), scorer.score(typed, as_of=AS_OF))


def test_missing_values_and_unknown_categories_are_accepted(scorer: LeadScorer) -> None:
    odd = [
        {},
        {
            "industry": "Underwater Basket Weaving",
            "country": "Atlantis",
            "numemployees": "1000+",
            "hs_analytics_source": "CARRIER_PIGEON",
        },
        {
            "numemployees": "100-500",
            "hs_analytics_num_visits": "14",
            "webinar_attended": "TRUE",
            "jobtitle": "  Head of Marketing  ",
            "hs_email_domain": "j@example-corp.com",
        },
    ]
    for record in scorer.score_records(odd, as_of=AS_OF):
        assert 0.0 <= record["probability"] <= 1.0
        assert not math.isnan(record["fit"]) and not math.isnan(record["interest"])


def test_the_lead_id_never_changes_a_score(scorer: LeadScorer, small_leads: pd.DataFrame) -> None:
    rows = small_leads.head(100).copy()
    before = scorer.score(rows, as_of=AS_OF)[["probability", "fit", "interest"]]
    rows["hs_object_id"] = [f"other-{i}" for i in range(len(rows))]
    after = scorer.score(rows, as_of=AS_OF)[["probability", "fit", "interest"]]
    pd.testing.assert_frame_equal(before, after)


def test_more_page_views_never_lower_interest(
    scorer: LeadScorer, small_leads: pd.DataFrame
) -> None:
    """hs_analytics_num_page_views is constrained monotone increasing in the HubSpot spec."""
    rows = small_leads.head(200).to_dict("records")
    previous = None
    for views in ("0", "1", "3", "8", "20", "60"):
        scores = scorer.score_records(
            [{**r, "hs_analytics_num_page_views": views} for r in rows], as_of=AS_OF
        )
        interest = np.array([s["interest"] for s in scores])
        if previous is not None:
            assert (interest >= previous - 1e-12).all()
        previous = interest


def test_save_and_load_round_trip(
    scorer: LeadScorer, small_leads: pd.DataFrame, tmp_path: Path
) -> None:
    loaded = LeadScorer.load(scorer.save(tmp_path / "bundle"))
    pd.testing.assert_frame_equal(
        scorer.score(small_leads, as_of=AS_OF), loaded.score(small_leads, as_of=AS_OF)
    )
    assert loaded.metadata["spec_name"] == "hubspot-contacts"


def test_save_refuses_to_overwrite(scorer: LeadScorer, tmp_path: Path) -> None:
    scorer.save(tmp_path / "bundle")
    with pytest.raises(FileExistsError):
        scorer.save(tmp_path / "bundle")


def test_load_names_a_folder_that_is_not_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(LeadscoreError, match="not a leadscore bundle"):
        LeadScorer.load(tmp_path)


def test_scoring_a_frame_without_a_spec_column_names_it(
    scorer: LeadScorer, small_leads: pd.DataFrame
) -> None:
    with pytest.raises(LeadscoreError, match="'industry'"):
        scorer.score(small_leads.drop(columns=["industry"]).head(5), as_of=AS_OF)


def test_scoring_a_wrong_type_names_the_column(scorer: LeadScorer) -> None:
    with pytest.raises(LeadscoreError, match=r"hs_analytics_num_visits.*'lots'"):
        scorer.score_records([{"hs_analytics_num_visits": "lots"}], as_of=AS_OF)


@pytest.mark.parametrize("reasons", [False, True])
def test_a_stream_of_chunks_scores_as_each_chunk_alone(
    scorer: LeadScorer, small_leads: pd.DataFrame, reasons: bool
) -> None:
    chunks = [small_leads.iloc[i : i + 700] for i in range(0, 2000, 700)]
    streamed = list(scorer.score_chunks(iter(chunks), reasons=reasons, k=2, as_of=AS_OF))
    assert len(streamed) == 3
    for chunk, scored in zip(chunks, streamed, strict=True):
        pd.testing.assert_frame_equal(
            scored, scorer.score(chunk, reasons=reasons, k=2, as_of=AS_OF)
        )
    assert list(scorer.score_chunks([], as_of=AS_OF)) == []


def test_a_bad_chunk_in_a_stream_is_raised_after_the_good_ones(
    scorer: LeadScorer, small_leads: pd.DataFrame
) -> None:
    bad = small_leads.iloc[100:200].assign(hs_analytics_num_visits="lots")
    stream = scorer.score_chunks(
        [small_leads.iloc[:100], bad, small_leads.iloc[200:300]], as_of=AS_OF
    )
    assert len(next(stream)) == 100  # the bad chunk is encoded meanwhile: raised only now
    with pytest.raises(LeadscoreError, match=r"hs_analytics_num_visits.*'lots'"):
        next(stream)
    early = scorer.score_chunks([small_leads.iloc[:100]] * 3, as_of=AS_OF)
    next(early)
    early.close()  # a reader that stops early: the thread reading ahead is let go


def _awkward_values(columns: np.ndarray, split_points: dict[int, np.ndarray | None]) -> np.ndarray:
    """3,000 rows drawn from 500 of `columns`, with numbers put on, just below and just
    above each threshold, and at 0, -0, a tiny number, ±inf and NaN (where LightGBM's
    missing rules bite)."""
    rng = np.random.default_rng(5)
    rows = columns[rng.integers(0, min(len(columns), 500), 3000)].copy()
    for column, thresholds in split_points.items():
        if thresholds is None:
            continue
        special = np.array([0.0, -0.0, 1e-36, -1e-36, np.inf, -np.inf, np.nan])
        near = np.concatenate(
            [thresholds, np.nextafter(thresholds, -np.inf), np.nextafter(thresholds, np.inf)]
        )
        choices = np.concatenate([near, special])
        replace = rng.random(len(rows)) < 0.2
        rows[replace, column] = rng.choice(choices, replace.sum())
    return rows


def test_treeshap_per_branch_pattern_equals_treeshap_per_row(
    scorer: LeadScorer, small_leads: pd.DataFrame
) -> None:
    matrix = scorer.encode(small_leads, as_of=AS_OF)
    for name in ("fit", "interest"):
        model = scorer.models[name]
        columns = _awkward_values(model.columns(matrix), model.shap.split_points())
        shared, _ = model.shap.branch_patterns(columns)
        assert len(shared) < 0.95 * len(columns)  # patterns are shared: the short path runs
        every_row = model.booster.predict(columns, pred_contrib=True)
        padded = np.zeros((len(columns), matrix.shape[1]))
        padded[:, model.indices] = columns
        np.testing.assert_array_equal(model.contributions(padded), every_row)


def test_branch_patterns_follow_lightgbm_missing_rules() -> None:
    """A booster trained to treat zeros as missing, with a categorical column: rows share
    a pattern exactly when every split sends them the same way."""
    import lightgbm as lgb

    from models.calibration import Calibrator
    from models.submodel import SubModel

    rng = np.random.default_rng(11)
    x = np.column_stack(
        [rng.normal(size=4000), rng.integers(0, 6, 4000).astype(float), rng.poisson(1, 4000)]
    ).astype(float)
    x[rng.random(4000) < 0.1, 0] = np.nan
    y = (x[:, 1] % 2 == 0) ^ (np.nan_to_num(x[:, 0]) > 0.3) ^ (x[:, 2] == 0)
    for zero_as_missing in (False, True):
        booster = lgb.train(
            {"objective": "binary", "verbose": -1, "zero_as_missing": zero_as_missing},
            lgb.Dataset(x, y.astype(int), categorical_feature=[1]),
            num_boost_round=15,
        )
        model = SubModel("m", ["a", "b", "c"], [0, 1, 2], booster, Calibrator())
        splits = model.shap.split_points()
        assert splits[1] is None and splits[0] is not None  # categorical / numeric
        rows = _awkward_values(x, splits)
        np.testing.assert_array_equal(
            model.contributions(rows), booster.predict(rows, pred_contrib=True)
        )
        leaves = booster.predict(rows, pred_leaf=True)
        shared, pattern = model.shap.branch_patterns(rows)
        same = pattern[:, None] == pattern[None, :300]
        same_leaves = (leaves[:, None, :] == leaves[None, :300, :]).all(axis=2)
        assert not (same & ~same_leaves).any()  # one pattern never spans two paths
        assert len(shared) < len(rows)
