"""Helpers shared by the serving tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from training.train import TrainResult

CRM_FIXTURES = Path(__file__).resolve().parent / "crm"


@dataclass
class Registry:
    """A private SQLite registry holding `lead-scorer` (champion) and how it was trained."""

    tracking_uri: str
    folder: Path
    result: TrainResult
    version: str


def asgi_channel(body: bytes, size: int) -> tuple[Any, Any, list[dict[str, Any]]]:
    """An ASGI `receive` handing `body` over in parts of `size` bytes (then a disconnect),
    a `send`, and the list it records the answer's messages in (middleware unit tests)."""
    parts = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    messages = [
        {"type": "http.request", "body": p, "more_body": i < len(parts) - 1}
        for i, p in enumerate(parts)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    return receive, send, sent


def crm_fixture(name: str) -> Any:
    """A payload from tests/serving/crm (hand-written in the CRMs' shapes)."""
    return json.loads((CRM_FIXTURES / name).read_text(encoding="utf-8"))


# The demo data ends at the end of 2026-06-30: scoring as of then sees every event.
AS_OF = "2026-07-01T00:00:00Z"


def events_by_lead(events: pd.DataFrame, before: str) -> dict[str, list[dict[str, Any]]]:
    """The generated event log as each lead would send it inline (`{"events": [...]}`):
    events strictly before `before`, timestamps as ISO 8601 with milliseconds."""
    cut = pd.Timestamp(before).tz_convert(None)
    kept = events[events["timestamp"] < cut]
    out: dict[str, list[dict[str, Any]]] = {}
    for lead, stamp, kind, value in zip(
        kept["hs_object_id"],
        kept["timestamp"],
        kept["event_type"],
        kept["event_value"],
        strict=True,
    ):
        out.setdefault(str(lead), []).append(
            {
                "timestamp": stamp.isoformat(timespec="milliseconds") + "Z",
                "event_type": kind,
                "event_value": None if pd.isna(value) else value,
            }
        )
    return out
