"""Plain Python for JSON: what a report, a bundle manifest or a log line is written as."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel


def jsonable(value: Any) -> Any:
    """Plain Python for JSON: dicts, lists, str, int, finite float, bool and None.

    Results are dumped as set (a section never given stays out), numpy scalars and
    arrays are unwrapped, NaN and ±inf become None, anything else its text."""
    if isinstance(value, BaseModel):
        return jsonable(value.model_dump(exclude_unset=True))
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)
