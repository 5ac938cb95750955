"""sample.max_train_rows: a stratified, time-respecting sample of the train slice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app
from features.errors import LeadscoreError
from features.spec import DatasetSpec
from tests.conftest import REPO
from tests.training.conftest import FAST
from training.config import SplitConfig, TrainConfig, load_config
from training.data import PreparedData, split_by_time
from training.sample import cell_quotas, sample_train, stratified_time_sample

runner = CliRunner()


def drifting_labels(n: int, seed: int = 0) -> np.ndarray:
    """0/1 labels whose base rate climbs from 5 % to 40 % over the rows (time order)."""
    rng = np.random.default_rng(seed)
    return (rng.random(n) < np.linspace(0.05, 0.40, n)).astype(np.int64)


@pytest.mark.parametrize(
    ("counts", "size"),
    [([10, 10], 7), ([3, 0, 5, 1], 6), ([100, 1, 1, 1], 50), ([7, 7, 7], 21), ([5], 1)],
)
def test_quotas_add_up_to_the_size_and_follow_the_counts(counts: list[int], size: int) -> None:
    quotas = cell_quotas(np.asarray(counts), size)
    assert quotas.sum() == size
    assert (quotas <= np.asarray(counts)).all()
    exact = np.asarray(counts) * size / sum(counts)
    assert (np.abs(quotas - exact) < 1).all()


def test_the_sample_keeps_the_size_the_time_order_and_each_blocks_base_rate() -> None:
    y = drifting_labels(50_000)
    rows = np.arange(40_000)  # a train slice: the oldest positions
    kept = stratified_time_sample(rows, y, 10_000, blocks=20, seed=1)
    assert len(kept) == 10_000
    assert len(np.unique(kept)) == len(kept) and np.isin(kept, rows).all()
    assert (np.diff(kept) > 0).all()  # in time order
    # every block of 2,000 train rows keeps a quarter of its positives and of its negatives
    for block in range(20):
        inside = rows[block * 2000 : (block + 1) * 2000]
        chosen = kept[np.isin(kept, inside)]
        for label in (0, 1):
            share = (y[chosen] == label).sum() / (y[inside] == label).sum()
            assert share == pytest.approx(0.25, abs=1 / (y[inside] == label).sum() + 1e-9)
    # the base rate's climb over time is kept: the newest block's rate stays far above the oldest's
    first, last = kept[kept < 2000], kept[kept >= 38_000]
    assert y[last].mean() - y[first].mean() == pytest.approx(
        y[38_000:40_000].mean() - y[:2000].mean(), abs=0.01
    )


def test_the_sample_is_drawn_with_the_seed() -> None:
    y = drifting_labels(20_000)
    rows = np.arange(20_000)
    a = stratified_time_sample(rows, y, 5_000, blocks=10, seed=3)
    assert np.array_equal(a, stratified_time_sample(rows, y, 5_000, blocks=10, seed=3))
    assert not np.array_equal(a, stratified_time_sample(rows, y, 5_000, blocks=10, seed=4))


def test_only_the_train_slice_is_thinned() -> None:
    y = drifting_labels(30_000)
    split = split_by_time(len(y), SplitConfig())
    thinned, info = sample_train(split, y, 6_000, blocks=20, seed=0)
    assert len(thinned.train) == 6_000 and np.isin(thinned.train, split.train).all()
    assert np.array_equal(thinned.validation, split.validation)
    assert np.array_equal(thinned.test, split.test)
    assert info is not None and info["train_rows"] == len(split.train) and info["kept"] == 6_000
    assert info["base_rate_kept"] == pytest.approx(info["base_rate_before"], abs=1e-3)


@pytest.mark.parametrize("max_rows", [None, 21_000])
def test_a_train_slice_within_the_limit_is_left_alone(max_rows: int | None) -> None:
    y = drifting_labels(30_000)
    split = split_by_time(len(y), SplitConfig())
    assert sample_train(split, y, max_rows, blocks=20, seed=0) == (split, None)


def test_training_on_a_sample_measures_the_same_test_rows(
    prepared: PreparedData, spec: DatasetSpec
) -> None:
    from training.train import design_matrix

    full = design_matrix(prepared, spec, TrainConfig.model_validate(FAST))
    config = TrainConfig.model_validate({**FAST, "sample": {"max_train_rows": 4000}})
    sampled = design_matrix(prepared, spec, config)
    assert len(full.split.train) > 4000
    assert len(sampled.split.train) == 4000
    assert np.array_equal(sampled.split.test, full.split.test)
    assert np.array_equal(sampled.split.validation, full.split.validation)
    assert sampled.sample is not None and sampled.sample["train_rows"] == len(full.split.train)
    assert full.sample is None

    from training.train import train_scorer

    result = train_scorer(prepared, spec, config, sampled)
    assert result.report["rows"]["train"] == 4000
    assert result.report["sample"] == sampled.sample
    assert len(result.y_test) == len(full.split.test)


def test_a_too_small_sample_is_refused_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump({"sample": {"max_train_rows": 10}}))
    with pytest.raises(LeadscoreError, match="max_train_rows"):
        load_config(path)


def test_train_says_when_it_sampled(
    small_leads_csv: Path, fast_config_file: Path, tmp_path: Path
) -> None:
    settings = yaml.safe_load(fast_config_file.read_text())
    settings["sample"] = {"max_train_rows": 1500}
    config = tmp_path / "sampled.yaml"
    config.write_text(yaml.safe_dump(settings))
    result = runner.invoke(app, ["train", "--data", str(small_leads_csv), "--config", str(config)])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("sample:"))
    assert "to 1,500 rows" in line and "validation and test keep every row" in line


def test_train_points_a_large_unsampled_export_to_the_large_export_config(
    small_leads_csv: Path, fast_config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cli.train

    monkeypatch.setattr(cli.train, "LARGE_TRAIN_ROWS", 1000)
    result = runner.invoke(
        app, ["train", "--data", str(small_leads_csv), "--config", str(fast_config_file)]
    )
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("large export:"))
    assert "rows in the train slice; configs/large-export.yaml" in line


def test_the_large_export_config_changes_only_the_sample_and_the_folds() -> None:
    config = load_config(REPO / "configs" / "large-export.yaml")
    assert config.sample.max_train_rows == 300_000
    assert config.calibration_folds == 2
    changed = {k for k, v in config.flat().items() if TrainConfig().flat()[k] != v}
    assert changed == {"sample.max_train_rows", "calibration_folds"}
