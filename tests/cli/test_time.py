"""The command line in time: `generate --events`, `train --events` (point-in-time examples),
the snapshot-leak refusal, `score --as-of / --events`, and each bad event log or moment
answered with exit code 2, one line naming file, row or lead and column, nothing logged."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from features.generate import EVENT_COLUMNS, Demo
from tests.cli.test_errors import (
    assert_nothing_logged,
    assert_user_error,
    empty_store,
    empty_store_template,
    invoke,
)
from tests.conftest import DEMO_AS_OF

__all__ = ["empty_store", "empty_store_template"]  # fixtures used here


@pytest.fixture(scope="module")
def files(small_demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The 4,000 demo contacts (CSV, CRM text) and their events (CSV and Parquet)."""
    from tests.conftest import as_crm_text

    folder = tmp_path_factory.mktemp("time")
    contacts = folder / "leads.csv"
    as_crm_text(small_demo.contacts).to_csv(contacts, index=False)
    events_csv = folder / "events.csv"
    small_demo.events.to_csv(events_csv, index=False)
    events_parquet = folder / "events.parquet"
    small_demo.events.to_parquet(events_parquet, index=False)
    return {"contacts": contacts, "events": events_csv, "events_parquet": events_parquet}


def test_generate_writes_contacts_and_the_event_log(tmp_path: Path) -> None:
    result = invoke(
        "generate", "--rows", "300", "--seed", "4", "--out", tmp_path / "c.csv",
        "--events", tmp_path / "e.parquet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "300 leads" in result.output and "events to" in result.output
    events = pd.read_parquet(tmp_path / "e.parquet")
    contacts = pd.read_csv(tmp_path / "c.csv", dtype=str)
    assert list(events.columns) == list(EVENT_COLUMNS)
    assert set(events["hs_object_id"]) <= set(contacts["hs_object_id"])
    assert not (tmp_path / "e.parquet.partial").exists()


def test_training_a_snapshot_export_with_activity_after_conversion_is_refused(
    files: dict[str, Path], empty_store: Path
) -> None:
    result = invoke("train", "--data", files["contacts"])
    assert_user_error(
        result,
        "snapshot leak",
        "hs_analytics_last_visit_timestamp",
        "of converted leads",
        "--events",
        "snapshot.allow",
    )
    assert_nothing_logged()


def test_train_with_events_learns_from_point_in_time_examples(
    files: dict[str, Path], fast_config_file: Path, tmp_path: Path
) -> None:
    result = invoke(
        "train", "--data", files["contacts"], "--events", files["events_parquet"],
        "--config", fast_config_file,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "point-in-time examples of" in result.output
    assert "already converted" in result.output
    run = mlflow.search_runs(experiment_names=["leadscore"], output_format="list")[0]
    assert run.data.tags["leadscore.examples"] == "point_in_time"
    assert run.data.tags["leadscore.snapshot_leaks"] == "none"
    assert int(run.data.params["data.leads"]) < int(run.data.params["data.rows"])

    # score the export as of its own moment, with and without the event log
    out = tmp_path / "scores.csv"
    scored = invoke(
        "score", "--data", files["contacts"], "--out", out, "--as-of", DEMO_AS_OF,
        "--events", files["events"],
    )  # fmt: skip
    assert scored.exit_code == 0, scored.output
    assert "as of 2026-07-01T00:00:00Z" in scored.output
    with_log = pd.read_csv(out)
    plain = invoke(
        "score", "--data", files["contacts"], "--out", tmp_path / "plain.csv",
        "--as-of", DEMO_AS_OF,
    )  # fmt: skip
    assert plain.exit_code == 0, plain.output
    # the export's properties are the events rolled up at its end: the same scores
    pd.testing.assert_series_equal(
        with_log["probability"], pd.read_csv(tmp_path / "plain.csv")["probability"], rtol=1e-12
    )
    # an earlier moment, from the log: fewer events count, other scores
    earlier = invoke(
        "score", "--data", files["contacts"], "--out", tmp_path / "earlier.csv",
        "--as-of", "2026-12-31", "--events", files["events"],
    )  # fmt: skip
    assert earlier.exit_code == 0, earlier.output

    # ... and every mistake about the moment or the log: exit 2, no output file
    for args, names in (
        (["--as-of", "yesterday"], ["--as-of", "'yesterday'", "ISO 8601"]),
        (["--as-of", "2025-01-01"], ["createdate", "after the moment of scoring"]),
        (
            ["--as-of", "2026-06-01", "--events", files["events"]],
            ["row", "is after the moment of scoring", "as_of 2026-06-01"],
        ),
        (["--as-of", DEMO_AS_OF, "--events", tmp_path / "none.csv"], ["event log not found"]),
    ):
        bad = tmp_path / "bad.csv"
        assert_user_error(invoke("score", "--data", files["contacts"], "--out", bad, *args), *names)
        assert not bad.exists() and not (tmp_path / "bad.csv.partial").exists()


BadLog = Callable[[pd.DataFrame], pd.DataFrame]


def unparseable_timestamp(events: pd.DataFrame) -> pd.DataFrame:
    events = events.astype({"timestamp": str})
    events.loc[17, "timestamp"] = "last tuesday"
    return events


def without_type(events: pd.DataFrame) -> pd.DataFrame:
    return events.assign(event_type=events["event_type"].mask(events.index == 5, ""))


def unknown_lead(events: pd.DataFrame) -> pd.DataFrame:
    return events.assign(hs_object_id=events["hs_object_id"].mask(events.index == 9, "9999999"))


def without_time_column(events: pd.DataFrame) -> pd.DataFrame:
    return events.drop(columns=["timestamp"])


def future_dated(events: pd.DataFrame) -> pd.DataFrame:
    events = events.astype({"timestamp": str})
    events.loc[3, "timestamp"] = "2099-01-01T00:00:00Z"
    return events


@pytest.mark.parametrize(
    ("bad", "names"),
    [
        (unparseable_timestamp, ["events.csv row 18", "'timestamp'", "'last tuesday'"]),
        (without_type, ["events.csv row 6", "'event_type'", "every event needs a type"]),
        (unknown_lead, ["events.csv row 10", "'9999999'", "is not in"]),
        (without_time_column, ["events.csv", "missing column", "'timestamp'"]),
        (future_dated, ["events.csv row 4", "2099-01-01T00:00:00Z", "in the future"]),
    ],
    ids=["unparseable-timestamp", "no-type", "unknown-lead", "no-time-column", "future-dated"],
)
def test_train_refuses_a_bad_event_log(
    files: dict[str, Path],
    small_demo: Demo,
    empty_store: Path,
    tmp_path: Path,
    bad: BadLog,
    names: list[str],
) -> None:
    events = tmp_path / "events.csv"
    bad(small_demo.events.head(200).copy()).to_csv(events, index=False)
    result = invoke("train", "--data", files["contacts"], "--events", events)
    assert_user_error(result, *names)
    assert_nothing_logged()


def test_a_spec_with_window_features_needs_the_event_log(
    files: dict[str, Path], empty_store: Path
) -> None:
    result = invoke("train", "--data", files["contacts"], "--spec", "hubspot-events")
    assert_user_error(result, "hubspot-events", "--events")
    assert_nothing_logged()
