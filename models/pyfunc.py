"""The scorer bundle as one MLflow pyfunc model.

A custom `PythonModel` with the bundle folder as its one explicit artifact: no
pickled estimators, no skops trust lists. Loading it needs the leadscore package
installed (the service and the CLI have it).

The input schema is decided on purpose: every column the scorer reads, optional, as
text — what CRM exports and APIs send (numbers and timestamps as strings); the bundle's
own readers coerce the values. MLflow passes a text (or object) column through as it
is, where an any-type column cost a Python call per value (2–3× the scoring itself); a
frame of numpy numbers is refused by MLflow: send it as text (`df.astype(str)`, in Spark
`cast("string")`). The output always has every column of the output signature (reasons
null unless `explain`), so `mlflow.pyfunc.spark_udf` works with its default result type.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types.schema import (
    ColSpec,
    DataType,
    ParamSchema,
    ParamSpec,
    Schema,
    TensorSpec,
)

from features.errors import LeadscoreError
from features.timestamps import AsOf
from models.contract import Column, batch_columns
from models.scorer import LeadScorer

BUNDLE_ARTIFACT = "bundle"


class LeadScorerModel(mlflow.pyfunc.PythonModel):  # type: ignore[misc,name-defined]
    """MLflow wrapper: `predict` takes raw CRM rows and returns id + scores."""

    def load_context(self, context: Any) -> None:
        self.scorer = LeadScorer.load(context.artifacts[BUNDLE_ARTIFACT])

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Scores, recommendations and next actions; `params={"explain": True, "k": 3}`
        adds reasons; `params={"as_of": "2026-07-01T00:00:00Z"}` computes features (and
        the next actions' due times) as of that moment (default: now); `params={"lang":
        "de"}` words the reasons and details in German (`models.i18n`)."""
        params = params or {}
        scored = self.scorer.score(
            pd.DataFrame(model_input),
            reasons=bool(params.get("explain")),
            k=int(params.get("k", 3)),
            as_of=AsOf.of(params.get("as_of") or None),
            lang=str(params.get("lang") or "en"),
        )
        return complete(scored, output_columns(self.scorer))


def output_columns(scorer: LeadScorer) -> list[Column]:
    """The pyfunc's output columns, in order: the id, the scores, with a policy the grades,
    decision and next action, then the reasons (null unless explained)."""
    return batch_columns(scorer.spec.id, scorer.policy is not None, reasons=True)


def complete(scored: pd.DataFrame, columns: list[Column]) -> pd.DataFrame:
    """Every output column, a missing one (the id of rows sent without it, reasons not
    asked for) as nulls; in a Spark task, nullable text as `SparkText`."""
    out = scored.copy(deep=False)
    for column in columns:
        if column.name not in out.columns:
            out[column.name] = pd.Series(None, index=out.index, dtype=object)
    out = out[[c.name for c in columns]]
    if _in_spark_task():
        for column in columns:
            if column.dtype == "string" and not column.required:
                out[column.name] = pd.Series(
                    SparkText(out[column.name].to_numpy(object, copy=True)), index=out.index
                )
    return out


def _in_spark_task() -> bool:
    """Whether this runs in a Spark task (as `mlflow.pyfunc.spark_udf` runs it)."""
    if "pyspark" not in sys.modules:
        return False
    from pyspark import TaskContext

    return TaskContext.get() is not None


class SparkText(pd.arrays.StringArray):
    """Text whose cast to `str` keeps a missing value missing.

    `mlflow.pyfunc.spark_udf` (MLflow 3.17) casts each text field of a struct result with
    `astype(np.str_)`: None becomes the text "None" (a lead without a status would get the
    status "None"). This array answers that cast with itself; any other cast is pandas'.
    """

    def astype(self, dtype: Any, copy: bool = True) -> Any:
        if dtype is str or dtype is np.str_ or (isinstance(dtype, np.dtype) and dtype.kind == "U"):
            return self.copy() if copy else self
        return super().astype(dtype, copy=copy)


def signature_for(scorer: LeadScorer) -> ModelSignature:
    """Inputs: the columns `score` reads, optional, as text; outputs: the batch columns of
    `models.contract` (`output_columns`)."""
    spec = scorer.spec
    inputs = [spec.id, spec.time.column, *spec.feature_columns]
    if scorer.policy is not None:
        inputs += [c for c in scorer.policy.requirements.columns if c not in inputs]
    columns: list[ColSpec | TensorSpec] = [
        ColSpec(DataType.string, c, required=False) for c in dict.fromkeys(inputs)
    ]
    outputs: list[ColSpec | TensorSpec] = [
        ColSpec(DataType[c.dtype], c.name, required=c.required) for c in output_columns(scorer)
    ]
    params = ParamSchema(
        [
            ParamSpec("explain", DataType.boolean, False),
            ParamSpec("k", DataType.long, 3),
            ParamSpec("as_of", DataType.string, ""),
            ParamSpec("lang", DataType.string, "en"),
        ]
    )
    return ModelSignature(inputs=Schema(columns), outputs=Schema(outputs), params=params)


def pip_requirements() -> list[str]:
    """What the logged model needs at load time (explicit: inference picks up test tools)."""
    from importlib.metadata import version

    packages = ["lightgbm", "numpy", "pandas", "scikit-learn", "pydantic", "pyyaml", "mlflow"]
    return [f"{name}=={version(name)}" for name in packages]


def log_scorer(
    scorer: LeadScorer,
    bundle_dir: Path,
    input_example: pd.DataFrame | None,
    name: str = "model",
    registered_model_name: str | None = None,
) -> Any:
    """Log the saved bundle as a pyfunc model in the active run; returns the ModelInfo."""
    return mlflow.pyfunc.log_model(
        name=name,
        python_model=str(Path(__file__).with_name("mlflow_model.py")),
        artifacts={BUNDLE_ARTIFACT: str(bundle_dir)},
        signature=signature_for(scorer),
        input_example=input_example,
        pip_requirements=pip_requirements(),
        registered_model_name=registered_model_name,
    )


def load_scorer(model_uri: str) -> LeadScorer:
    """Load a logged or registered scorer and return the bundle inside it."""
    # the dependency check compares pins with this environment: 1.7 s of start-up, and
    # a leadscore model only needs the leadscore package, which the caller has
    model = mlflow.pyfunc.load_model(model_uri, suppress_warnings=True)
    scorer = getattr(model.unwrap_python_model(), "scorer", None)
    if not isinstance(scorer, LeadScorer):
        raise LeadscoreError(f"{model_uri} is not a leadscore model")
    return scorer
