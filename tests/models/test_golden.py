"""Golden answers: a committed scorer and 200 leads, and what every scoring path answers.

The fixtures in tests/models/golden/ were written by scripts/make_golden.py: a bundle
(JSON + LightGBM text), 200 generated leads as HubSpot text, and the answers as of
2026-07-01 of the batch path (DataFrame columns) and the records path (the service's
dicts), reasons included. A refactor of the scoring code must give exactly these
answers on every path (the service's, over HTTP, in tests/serving/test_golden_http.py);
the pyfunc wrapper must give the batch path's. Rewrite the fixtures only for an intended
change of behaviour.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from features.timestamps import AsOf
from models.scorer import LeadScorer

GOLDEN = Path(__file__).resolve().parent / "golden"
AS_OF = "2026-07-01T00:00:00Z"
# Probabilities are float64 sums of the same trees: the same on every machine but for
# the last bits of a different summation order.
REL = 1e-9


def lines(name: str) -> list[dict[str, Any]]:
    text = (GOLDEN / name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture(scope="module")
def scorer() -> LeadScorer:
    return LeadScorer.load(GOLDEN / "bundle")


@pytest.fixture(scope="module")
def leads() -> pd.DataFrame:
    return pd.read_csv(GOLDEN / "leads.csv", dtype=str, keep_default_na=False, na_values=[""])


def frame_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A scored frame as JSON-able rows at full float precision (None for missing)."""
    rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return json.loads(json.dumps(rows, default=lambda v: v.item()))


def records_of(leads: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in row.items() if isinstance(v, str)}
        for row in leads.to_dict(orient="records")
    ]


def same(got: Any, want: Any, where: str) -> None:
    """Equal, floats to `REL`, recursively; `where` names the place of a difference."""
    if isinstance(want, float) and isinstance(got, int | float) and not isinstance(got, bool):
        assert math.isclose(got, want, rel_tol=REL, abs_tol=1e-12), f"{where}: {got} != {want}"
    elif isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), f"{where}: keys differ"
        for key in want:
            same(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{where}: lengths differ"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            same(g, w, f"{where}[{i}]")
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"


def test_the_batch_path_gives_the_golden_answers(scorer: LeadScorer, leads: pd.DataFrame) -> None:
    scored = scorer.score(leads, reasons=True, k=3, as_of=AsOf.of(AS_OF))
    got = frame_rows(scored)
    want = lines("batch.jsonl")
    assert len(got) == len(want) == 200
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        same(g, w, f"lead {w['hs_object_id']} (row {i})")


def test_the_records_path_gives_the_golden_answers(scorer: LeadScorer, leads: pd.DataFrame) -> None:
    got = scorer.recommend_records(records_of(leads), explain=True, k=3, as_of=AsOf.of(AS_OF))
    want = lines("records.jsonl")
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(json.loads(json.dumps(got, default=str)), want, strict=True)):
        same(g, w, f"record {i}")


def test_both_paths_agree_on_every_number_and_decision() -> None:
    """The two vocabularies of today say the same thing (what one contract will say once)."""
    for batch, record in zip(lines("batch.jsonl"), lines("records.jsonl"), strict=True):
        for key in ("probability", "fit", "interest"):
            assert math.isclose(batch[key], record[key], rel_tol=REL)
        assert batch["fit_grade"] == record["fit_grade"]
        assert batch["interest_grade"] == record["interest_grade"]
        decision = record["recommendation"]
        assert batch["recommended_stage"] == decision["lifecyclestage"]
        assert batch["lead_status"] == decision["hs_lead_status"]
        assert batch["rule"] == decision["rule"]
        for group in ("fit", "interest"):
            texts = [
                f["text"]
                for f in record["reasons"][group]["positive"] + record["reasons"][group]["negative"]
            ]
            for text in texts:
                assert text.split(" — ")[0] in (batch[f"{group}_reasons"] or "")


def test_the_pyfunc_model_gives_the_batch_answers(
    scorer: LeadScorer, leads: pd.DataFrame, tmp_path: Path
) -> None:
    import mlflow

    from models.pyfunc import log_scorer

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    with mlflow.start_run(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "no input example": none is needed
        info = log_scorer(scorer, GOLDEN / "bundle", None)
    model = mlflow.pyfunc.load_model(info.model_uri)
    scored = model.predict(leads, params={"explain": True, "k": 3, "as_of": AS_OF})
    got = frame_rows(pd.DataFrame(scored))
    for i, (g, w) in enumerate(zip(got, lines("batch.jsonl"), strict=True)):
        same(g, w, f"pyfunc row {i}")
