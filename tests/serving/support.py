"""Helpers shared by the serving tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from training.train import TrainResult

CRM_FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "crm"


@dataclass
class Registry:
    """A private SQLite registry holding `lead-scorer` (champion) and how it was trained."""

    tracking_uri: str
    folder: Path
    result: TrainResult
    version: str


def crm_fixture(name: str) -> Any:
    """A payload from ../shared/fixtures/crm (the test is skipped when it is absent)."""
    path = CRM_FIXTURES / name
    if not path.is_file():
        pytest.skip(f"CRM fixture {path} not found")
    return json.loads(path.read_text(encoding="utf-8"))
