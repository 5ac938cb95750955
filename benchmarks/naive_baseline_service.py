"""The naive baseline the service is measured against (benchmark only, not part of leadscore).

What a first version of a scoring API often looks like: FastAPI + uvicorn, three pickled
scikit-learn pipelines (pandas `ColumnTransformer` → `LGBMClassifier`) for fit, interest and
the full model, a DataFrame per request, and with `explain` a `shap.TreeExplainer` built per
request. Same request and response shape as `POST /score` (without recommendations), `as_of`
included: timestamp columns become days before it with `pd.to_datetime`, per request (in
training, each row's own moment, an `_as_of` column of the training frame).

    NAIVE_MODEL=/path/naive.pkl uvicorn naive_baseline_service:app --app-dir benchmarks

`build_naive_model` trains and pickles the pipelines; `benchmarks/bench_service.py` does it.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fastapi import FastAPI
from pydantic import BaseModel

GROUPS = ("full", "fit", "interest")


AS_OF = "_as_of"  # each row's moment of scoring (epoch ns), added to the frame


class ScoreRequest(BaseModel):
    leads: list[dict[str, Any]]
    explain: bool = False
    as_of: str | None = None


MISSING = frozenset({"", "nan", "NA", "N/A", "null", "None", "Select", "Unknown", "-"})


def _numeric(frame: pd.DataFrame) -> pd.DataFrame:
    """Numbers (HubSpot ranges as midpoints) and yes/no, read with leadscore's own readers
    so that both services see the same values; pandas does the rest."""
    from features.coerce import to_boolean, to_number

    def read(value: Any, column: str) -> float:
        try:
            return to_number(value, column, MISSING)
        except ValueError:
            return to_boolean(value, column, MISSING)

    return frame.apply(lambda c: c.map(lambda v: read(v, str(c.name))))


def _days_since(frame: pd.DataFrame) -> pd.DataFrame:
    """Timestamp columns (all but the last, `_as_of`) as days before each row's moment."""
    moments = pd.to_datetime(frame[AS_OF].astype("int64"), utc=True)
    out = {}
    for column in frame.columns[:-1]:
        stamps = pd.to_datetime(frame[column], utc=True, format="ISO8601", errors="coerce")
        out[column] = (moments - stamps).dt.total_seconds() / 86_400
    return pd.DataFrame(out, index=frame.index)


def _derived(frame: pd.DataFrame) -> pd.DataFrame:
    """Job title → seniority, email → free mail / business, form title → kind of form (as
    the dataset spec derives)."""
    from features.coerce import email_domain_type, event_name, seniority

    derivations = {
        "jobtitle": seniority,
        "hs_email_domain": email_domain_type,
        "recent_conversion_event_name": event_name,
        "first_conversion_event_name": event_name,
    }
    out = frame.copy()
    for column, derive in derivations.items():
        if column in out:
            out[column] = out[column].map(lambda v, c=column, d=derive: d(v, c, MISSING))
    return out.astype(object).where(out.notna(), "missing")


def build_naive_model(
    frame: pd.DataFrame,
    y: np.ndarray,
    as_of: np.ndarray,
    columns: dict[str, dict[str, list[str]]],
    path: Path,
    trees: int = 100,
) -> Path:
    """Fit one sklearn pipeline per group on raw CRM text columns and pickle them.

    `as_of`: each row's moment (epoch ns); `columns`: per group, its raw columns by kind
    (`numeric`, `timestamp`, `categorical`)."""
    import lightgbm as lgb
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

    pipelines = {}
    for group in GROUPS:
        encoder = OrdinalEncoder(
            handle_unknown="use_encoded_value", unknown_value=-1, min_frequency=10
        )
        kinds = columns[group]
        parts = [
            ("numeric", FunctionTransformer(_numeric), kinds["numeric"]),
            ("timestamp", FunctionTransformer(_days_since), [*kinds["timestamp"], AS_OF]),
            (
                "categorical",
                Pipeline([("derive", FunctionTransformer(_derived)), ("encode", encoder)]),
                kinds["categorical"],
            ),
        ]
        transformer = ColumnTransformer([part for part in parts if part[2] not in ([], [AS_OF])])
        model = lgb.LGBMClassifier(
            n_estimators=trees, num_leaves=15, learning_rate=0.05, verbose=-1, n_jobs=1
        )
        pipelines[group] = Pipeline([("columns", transformer), ("model", model)])
        pipelines[group].fit(frame.assign(**{AS_OF: as_of})[_inputs(kinds)], y)
    with open(path, "wb") as out:
        pickle.dump({"pipelines": pipelines, "columns": columns}, out)
    return path


def _inputs(kinds: dict[str, list[str]]) -> list[str]:
    """A group's raw columns in the order its pipeline reads them, `_as_of` with timestamps."""
    moment = [AS_OF] if kinds["timestamp"] else []
    return [*kinds["numeric"], *kinds["timestamp"], *moment, *kinds["categorical"]]


app = FastAPI(title="naive baseline")
state: dict[str, Any] = {}


@app.on_event("startup")
def load() -> None:
    with open(os.environ["NAIVE_MODEL"], "rb") as handle:
        state.update(pickle.load(handle))


@app.get("/readyz")
def readyz() -> dict[str, bool]:
    return {"ready": bool(state)}


@app.post("/score")
def score(request: ScoreRequest) -> dict[str, Any]:
    import shap

    frame = pd.DataFrame(request.leads)
    moment = pd.Timestamp(request.as_of) if request.as_of else pd.Timestamp.now(tz="UTC")
    frame[AS_OF] = moment.value
    results: list[dict[str, Any]] = [{} for _ in range(len(frame))]
    for group, pipeline in state["pipelines"].items():
        columns = _inputs(state["columns"][group])
        x = frame.reindex(columns=columns).astype(object).where(frame.notna(), None)
        names = [c for c in columns if c != AS_OF]  # what the encoded columns are
        probability = pipeline.predict_proba(x)[:, 1]
        for result, p in zip(results, probability, strict=True):
            result[group if group != "full" else "probability"] = float(
                p if group == "full" else 100 * p
            )
        if request.explain and group != "full":
            encoded = pipeline.named_steps["columns"].transform(x)
            explainer = shap.TreeExplainer(pipeline.named_steps["model"])
            values = np.asarray(explainer.shap_values(encoded))
            values = values[-1] if values.ndim == 3 and values.shape[0] == 2 else values
            for result, row in zip(results, values.reshape(len(frame), -1), strict=True):
                order = np.argsort(row)
                result.setdefault("reasons", {})[group] = {
                    "positive": [names[i] for i in order[::-1][:3] if row[i] > 0],
                    "negative": [names[i] for i in order[:3] if row[i] < 0],
                }
    return {"results": results}
