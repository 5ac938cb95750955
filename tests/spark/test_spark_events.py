"""`leadscore score --engine spark --events`: the leads' event properties built from the
log on Spark give what `--engine local --events` gives; a bad event is refused with the
local path's message (its row included) and nothing is written."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from features.generate import generate_demo
from tests.conftest import as_crm_text
from tests.spark.test_cli_spark import score
from tests.spark.test_engine import assert_one_line_error

pytestmark = pytest.mark.spark
pytest.importorskip("pyspark", reason="pyspark is not installed: pip install -e '.[spark]'")


@dataclass(frozen=True)
class Demo:
    contacts: Path
    events: pd.DataFrame  # as generated (typed)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """2,000 generated leads (CSV, CRM text) and their events."""
    folder = tmp_path_factory.mktemp("spark-events")
    generated = generate_demo(2_000, seed=13)
    contacts = folder / "contacts.csv"
    as_crm_text(generated.contacts).to_csv(contacts, index=False)
    return Demo(contacts, generated.events)


@contextmanager
def small_partitions(spark: Any) -> Iterator[None]:
    """Spark reads files in 64 KiB splits: an event log of many partitions."""
    key = "spark.sql.files.maxPartitionBytes"
    before = spark.conf.get(key)
    spark.conf.set(key, "65536")
    try:
        yield
    finally:
        spark.conf.set(key, before)


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_events_on_spark_score_as_the_local_path_does(
    spark: Any, bundle: Path, demo: Demo, tmp_path: Path, kind: str
) -> None:
    # every other event: as of the export, the whole log would rebuild the export's own
    # rolled-up properties, and the scores would not show whether the log was read
    thinned = demo.events.iloc[::2]
    events = tmp_path / f"events.{kind}"
    if kind == "parquet":
        thinned.to_parquet(events, index=False)
    else:
        thinned.to_csv(events, index=False)
    extra = ("--events", str(events), "--reasons")
    local = score("local", demo.contacts, tmp_path / "local.parquet", bundle, *extra)
    assert local.exit_code == 0, local.output
    with small_partitions(spark):
        on_spark = score(
            "spark", demo.contacts, tmp_path / "spark", bundle, *extra, "--partitions", "3"
        )
    assert on_spark.exit_code == 0, on_spark.output
    want = pd.read_parquet(tmp_path / "local.parquet")
    got = pd.read_parquet(tmp_path / "spark")
    assert list(got.columns) == list(want.columns)
    assert got.dtypes.astype(str).tolist() == want.dtypes.astype(str).tolist()
    got = got.sort_values("hs_object_id").reset_index(drop=True)
    want = want.sort_values("hs_object_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=0, atol=1e-9)
    # the log changed the scores: without it the export's rolled-up properties are read
    plain = score("local", demo.contacts, tmp_path / "plain.parquet", bundle, "--reasons")
    assert plain.exit_code == 0, plain.output
    rolled_up = pd.read_parquet(tmp_path / "plain.parquet").sort_values("hs_object_id")
    assert (rolled_up["interest"].to_numpy() != want["interest"].to_numpy()).any()


@pytest.mark.parametrize(
    ("broken", "named"),
    [
        ("unreadable-time", "row 4321, column 'timestamp': cannot read 'last week'"),
        ("unknown-lead", "row 1234: lead 'no-such-lead'"),
        ("missing-column", "is missing column(s) the spec's events section names: 'event_type'"),
    ],
)
def test_a_bad_event_gets_the_local_message_and_nothing_is_written(
    spark: Any, bundle: Path, demo: Demo, tmp_path: Path, broken: str, named: str
) -> None:
    rows = demo.events.astype({"timestamp": str})
    if broken == "unreadable-time":
        rows.loc[4_320, "timestamp"] = "last week"
    elif broken == "unknown-lead":
        rows["hs_object_id"] = rows["hs_object_id"].astype(str)
        rows.loc[1_233, "hs_object_id"] = "no-such-lead"
    else:
        rows = rows.drop(columns=["event_type"])
    events = tmp_path / "events.csv"
    rows.to_csv(events, index=False)
    extra = ("--events", str(events))
    local = score("local", demo.contacts, tmp_path / "local.parquet", bundle, *extra)
    with small_partitions(spark):
        on_spark = score("spark", demo.contacts, tmp_path / "spark", bundle, *extra)
    assert_one_line_error(local, named)
    message = " ".join(local.output[local.output.index("error: ") :].split())
    assert_one_line_error(on_spark)
    assert " ".join(on_spark.output[on_spark.output.index("error: ") :].split()) == message
    assert not (tmp_path / "spark").exists() and not (tmp_path / "spark.partial").exists()
