"""Whether the evaluated model could have trained on the evaluated leads, as notes.

The training run's data fingerprint and split (MLflow params) tell: the same file and
its test slice, later leads, or an overlap that flatters the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from features.spec import DatasetSpec
from training.config import SplitConfig
from training.data import PreparedData, split_by_time
from training.selection import Selection, time_text


def training_overlap_notes(
    data: PreparedData,
    spec: DatasetSpec,
    selection: Selection,
    sha256: str,
    trained: Mapping[str, str] | None,
    metadata: Mapping[str, Any],
) -> list[str]:
    """Whether the model could have trained on the evaluated leads, as far as is known.

    `trained` is the training run's data fingerprint and split (MLflow params
    `data.sha256`, `data.rows`, `data.time_to`, `split.test`), or None when unknown.
    """
    evaluated_from = time_text(data.times[selection.rows[0]], spec)
    if not trained or "data.time_to" not in trained:
        when = metadata.get("trained_at")
        return [
            (
                "the model's training data is unknown (no MLflow run with its data "
                "fingerprint)"
                + (f"; it was trained at {when}" if when else "")
                + ": make sure it did not learn from these leads, or the numbers flatter it"
            )
        ]
    same_file = trained.get("data.sha256") == sha256 and str(trained.get("data.rows")) == str(
        len(data.y)
    )
    if same_file and "split.test" in trained:
        shares = SplitConfig(
            validation=float(trained.get("split.validation", 0.15)),
            test=float(trained["split.test"]),
        )
        split = split_by_time(len(data.y), shares, data.groups)
        learned = np.concatenate([split.train, split.validation])
        seen = int(np.isin(selection.rows, learned).sum())
        if seen == 0:
            return [
                "the model was trained on this file and never saw these leads: they are "
                f"in its test slice (the newest {len(split.test):,} {data.unit})"
            ]
        return [
            f"{seen:,} of the {len(selection.rows):,} evaluated leads were in the model's "
            "training rows (same file): the numbers flatter the model; evaluate "
            + (
                f"its test slice (the training's test share, {shares.test:.0%}: no --config, "
                "or one with that split.test) or later leads"
                if selection.default
                else "its test slice (no --from/--to) or later leads"
            )
        ]
    time_to = str(trained["data.time_to"])
    newest_training = time_to
    if spec.time.kind == "datetime" and evaluated_from > newest_training:
        return [
            f"every evaluated lead was created after the newest lead of the model's "
            f"training data ({time_to})"
        ]
    if spec.time.kind == "ordinal" and float(evaluated_from) > float(newest_training):
        return [f"every evaluated lead comes after the model's training data (up to {time_to})"]
    return [
        f"the evaluated leads (from {evaluated_from}) overlap the model's training data "
        f"({trained.get('data.time_from', '?')} to {time_to}, another file): the model may "
        "have trained on some of them, so the numbers can flatter it"
    ]
