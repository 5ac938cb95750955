"""Reading the project's YAML files (specs, training configs, points rules) the same way.

Every mistake becomes one `LeadscoreError` naming the file and, for a validation
error, the dotted key (e.g. `fit.2.type`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from features.errors import LeadscoreError, describe_validation_error

Model = TypeVar("Model", bound=BaseModel)


def read_yaml(path: str | Path, what: str) -> Any:
    """The parsed content of a YAML file; `what` names the kind of file in messages."""
    path = Path(path)
    if not path.is_file():
        raise LeadscoreError(f"{what} not found: {path}")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise LeadscoreError(f"{what} {path} is not valid YAML: {error}") from None


def validate_mapping(model: type[Model], data: Any, what: str) -> Model:
    """Validate a mapping as `model`; `what` (e.g. "dataset spec mine.yaml") leads messages."""
    if not isinstance(data, dict):
        raise LeadscoreError(f"invalid {what}: expected a mapping at the top level")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise LeadscoreError(describe_validation_error(error, what)) from None
