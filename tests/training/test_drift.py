"""Drift at training time: base rates by slice and month, old vs new, time proxies, slices
against their own base rate, and calibration on the recent window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.generate import generate_demo
from features.spec import DatasetSpec
from tests.conftest import demo_examples
from training.config import TrainConfig
from training.data import PreparedData
from training.drift import proportion_test, without_features
from training.slices import slice_metrics
from training.train import TrainResult, calibration_rows, design_matrix, train_scorer

FAST = {
    "booster": {"max_rounds": 80, "early_stopping_rounds": 15, "num_leaves": 7},
    "calibration_folds": 3,
}


@pytest.fixture(scope="module")
def drifted(hubspot_spec: DatasetSpec) -> PreparedData:
    """6,000 generated contacts of a moving world (`--drift`), as point-in-time examples."""
    return demo_examples(generate_demo(6000, seed=5, drift=True), hubspot_spec)


@pytest.fixture(scope="module")
def kept(drifted: PreparedData, hubspot_spec: DatasetSpec) -> TrainResult:
    """The drifted data trained with time proxies warned about (kept), calibrated `auto`."""
    return train_scorer(drifted, hubspot_spec, config(recency={"calibrate_on": "auto"}))


def config(**extra: object) -> TrainConfig:
    return TrainConfig.model_validate({**FAST, **extra})


def test_planted_drift_is_named_base_rate_shift_and_time_proxy(
    drifted: PreparedData, hubspot_spec: DatasetSpec
) -> None:
    report = design_matrix(drifted, hubspot_spec, config()).drift
    rates = report["base_rate"]
    assert rates["test"]["shifted"] and rates["test"]["rate"] > 1.5 * rates["train"]["rate"]
    # Point-in-time examples of one lead share an outcome: the tests count leads.
    assert rates["train"]["units"] < rates["train"]["rows"]
    assert report["monthly"]["shifted"] and report["monthly"]["p_value"] < 1e-6
    assert report["adversarial"]["auc"] > 0.8
    assert report["adversarial"]["top_features"][0]["feature"] == "hs_analytics_source"
    assert [p["column"] for p in report["time_proxies"]] == ["hs_analytics_source"]
    text = " ".join(report["warnings"])
    assert "the base rate moved" in text and "z-test" in text
    assert "time proxies: 'hs_analytics_source'" in text and "kept" in text


def test_an_unmoved_world_raises_no_warning(
    small_examples: PreparedData, hubspot_spec: DatasetSpec
) -> None:
    report = design_matrix(small_examples, hubspot_spec, config()).drift
    assert report["warnings"] == []
    assert report["time_proxies"] == []
    assert report["adversarial"]["auc"] < 0.65


def test_drop_leaves_the_time_proxy_out_and_costs_no_auc(
    drifted: PreparedData, hubspot_spec: DatasetSpec, kept: TrainResult
) -> None:
    dropped = train_scorer(
        drifted, hubspot_spec, config(drift="drop", recency={"calibrate_on": "auto"})
    )
    names = [f.name for f in dropped.scorer.spec.features]
    assert "hs_analytics_source" not in names
    assert "hs_analytics_source" in [f.name for f in kept.scorer.spec.features]
    assert "left out of the model" in " ".join(dropped.report["drift"]["warnings"])
    assert dropped.metrics["test.full.roc_auc"] >= kept.metrics["test.full.roc_auc"] - 0.005


def test_drift_shorthand_and_full_form_are_the_same_setting() -> None:
    assert TrainConfig.model_validate({"drift": "drop"}).drift.time_proxies == "drop"
    assert TrainConfig.model_validate({"drift": {"time_proxies": "drop"}}).drift.time_proxies == (
        "drop"
    )
    with pytest.raises(ValueError, match="time_proxies"):
        TrainConfig.model_validate({"drift": "sometimes"})


def test_dropping_every_feature_of_a_group_is_refused(hubspot_spec: DatasetSpec) -> None:
    with pytest.raises(Exception, match="fit model without features"):
        without_features(hubspot_spec, {f.name for f in hubspot_spec.fit})


def test_proportion_test_reads_noise_as_noise() -> None:
    assert proportion_test(100, 1000, 105, 1000) > 0.5
    assert proportion_test(100, 1000, 200, 1000) < 1e-6
    assert proportion_test(0, 0, 5, 10) == 1.0


def test_slices_are_flagged_against_their_own_base_rate() -> None:
    """A slice converting at 50 % where the model says 20 % for everyone beats the stale
    overall base rate (10 %) but not the slice's own rate: flagged."""
    y = np.array([1, 0] * 50 + [0] * 100)
    p = np.array([0.2] * 100 + [0.05] * 100)
    frame = pd.DataFrame({"source": ["NEW"] * 100 + ["OLD"] * 100})
    slices = slice_metrics(y, p, 0.1, frame, ["source"], frozenset())
    new = next(row for row in slices["source"] if row["value"] == "NEW")
    assert new["base_rate"] == 0.5
    assert new["brier_base_rate"] == pytest.approx(0.25)
    assert new["brier"] == pytest.approx(0.5 * 0.8**2 + 0.5 * 0.2**2)
    assert new["brier"] < new["brier_overall_base_rate"]  # the stale rate would hide it
    assert new["worse_than_base_rate"]


def test_auto_calibrates_on_the_recent_window_only_when_the_base_rate_moved(
    kept: TrainResult,
) -> None:
    moved = {"base_rate": {"validation": {"shifted": True}}}
    still = {"base_rate": {"validation": {"shifted": False}}}
    auto = config(recency={"calibrate_on": "auto"})
    assert calibration_rows(auto, moved) == "recent"
    assert calibration_rows(auto, still) == "all"
    assert calibration_rows(config(), moved) == "all"  # the default: every labelled row

    result = kept
    info = result.report["models"]["full"]
    assert info["calibrated_on"] == "recent"
    assert info["calibration_rows"] < len(result.split.train) + len(result.split.validation)
    side_by_side = result.report["calibration_window"]["full"]
    assert side_by_side["chosen"] == "recent"
    # Both choices measured on the same test slice; on a moved world the recent window
    # is the better calibrated.
    assert side_by_side["recent"]["ece"] < side_by_side["all"]["ece"]
    assert result.other_calibrators["full"] is not None


def test_half_life_weights_halve_with_age() -> None:
    from features.timestamps import NS_PER_DAY
    from training.train import age_weights

    moments = np.array([0, 30, 60], dtype=np.int64) * NS_PER_DAY
    weights = age_weights(moments, np.arange(3), 30.0)
    assert weights is not None
    np.testing.assert_allclose(weights, [0.25, 0.5, 1.0])
    assert age_weights(moments, np.arange(3), None) is None


def test_train_prints_the_planted_drift(tmp_path: Path, fast_config_file: Path) -> None:
    """`leadscore generate --drift` then `leadscore train`: the output names the base-rate
    shift and the time proxy (the default `drift: warn` keeps it)."""
    from typer.testing import CliRunner

    from cli.main import app

    runner = CliRunner()
    leads, events = tmp_path / "leads.csv", tmp_path / "events.parquet"
    generated = runner.invoke(
        app,
        ["generate", "--rows", "4000", "--seed", "5", "--drift", "--out", str(leads),
         "--events", str(events)],
    )  # fmt: skip
    assert generated.exit_code == 0, generated.output
    trained = runner.invoke(
        app,
        ["train", "--data", str(leads), "--events", str(events), "--config",
         str(fast_config_file)],
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    text = " ".join(trained.output.split())
    assert "drift: the base rate moved" in text
    assert "drift: time proxies: 'hs_analytics_source'" in text and "kept" in text
