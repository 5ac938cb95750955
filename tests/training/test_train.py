"""Training says when its settings held the models back."""

from __future__ import annotations

from features.spec import DatasetSpec
from tests.training.conftest import FAST
from training.config import TrainConfig
from training.data import PreparedData
from training.train import train_scorer


def test_models_that_use_every_round_are_named_in_a_note(
    prepared: PreparedData, spec: DatasetSpec
) -> None:
    capped = TrainConfig.model_validate(
        {**FAST, "booster": {**FAST["booster"], "max_rounds": 3, "early_stopping_rounds": 50}}
    )
    notes = train_scorer(prepared, spec, capped).report["notes"]
    assert len(notes) == 3 and all("all 3 rounds" in n and "booster.max_rounds" in n for n in notes)
    assert {n.split()[1] for n in notes} == {"full", "fit", "interest"}


def test_models_stopped_early_leave_no_note(prepared: PreparedData, spec: DatasetSpec) -> None:
    config = TrainConfig.model_validate(
        {**FAST, "booster": {**FAST["booster"], "learning_rate": 0.2, "max_rounds": 400}}
    )
    result = train_scorer(prepared, spec, config)
    assert all(
        info["trees"] < config.booster.max_rounds for info in result.report["models"].values()
    )
    assert result.report["notes"] == []
