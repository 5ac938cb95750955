"""The scorer bundle as one MLflow pyfunc model.

A custom `PythonModel` with the bundle folder as its one explicit artifact: no
pickled estimators, no skops trust lists. Loading it needs the leadscore package
installed (the service and the CLI have it). The input schema is decided on purpose:
every spec column optional and of any type, because CRMs send numbers as strings
and the bundle's own readers coerce them (MLflow's type enforcement would reject
an int column where a double was recorded, or a numeric string).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types.schema import (
    AnyType,
    ColSpec,
    DataType,
    ParamSchema,
    ParamSpec,
    Schema,
    TensorSpec,
)

from features.errors import LeadscoreError
from features.timestamps import AsOf
from models.contract import (
    ACTION_COLUMNS,
    DECISION_COLUMNS,
    GRADE_COLUMNS,
    REASON_COLUMNS,
    SCORE_COLUMNS,
)
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
        the next actions' due times) as of that moment (default: now)."""
        params = params or {}
        return self.scorer.score(
            pd.DataFrame(model_input),
            reasons=bool(params.get("explain")),
            k=int(params.get("k", 3)),
            as_of=AsOf.of(params.get("as_of") or None),
        )


def signature_for(scorer: LeadScorer) -> ModelSignature:
    """Inputs: the columns `score` reads, any type; outputs: the batch columns of
    `models.contract`."""
    spec = scorer.spec
    inputs = [spec.id, spec.time.column, *spec.feature_columns]
    if scorer.policy is not None:
        inputs += [c for c in scorer.policy.requirements.columns if c not in inputs]
    columns: list[ColSpec | TensorSpec] = [ColSpec(AnyType(), c, required=False) for c in inputs]
    columns_out = [*SCORE_COLUMNS]
    if scorer.policy is not None:
        columns_out += [*GRADE_COLUMNS, *DECISION_COLUMNS, *ACTION_COLUMNS]
    columns_out += REASON_COLUMNS.values()
    outputs: list[ColSpec | TensorSpec] = [
        ColSpec(DataType.string, spec.id, required=False),
        *(ColSpec(DataType[c.dtype], c.name, required=c.required) for c in columns_out),
    ]
    params = ParamSchema(
        [
            ParamSpec("explain", DataType.boolean, False),
            ParamSpec("k", DataType.long, 3),
            ParamSpec("as_of", DataType.string, ""),
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
