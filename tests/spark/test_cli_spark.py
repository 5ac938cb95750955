"""`leadscore score --engine spark` against `--engine local`: the same columns, types and
values; a bad file refused with the same message and nothing written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.conftest import DEMO_AS_OF
from tests.spark.test_engine import assert_one_line_error, invoke

pytestmark = pytest.mark.spark
pytest.importorskip("pyspark", reason="pyspark is not installed: pip install -e '.[spark]'")


def score(engine: str, data: Path, out: Path, model: Path, *extra: str) -> Any:
    return invoke(
        "score",
        "--engine",
        engine,
        "--data",
        data,
        "--out",
        out,
        "--model",
        model,
        "--as-of",
        DEMO_AS_OF,
        *extra,
    )


def test_the_spark_engine_writes_what_the_local_engine_writes(
    spark: Any, bundle: Path, leads_20k: pd.DataFrame, tmp_path: Path
) -> None:
    data = tmp_path / "leads.csv"
    leads_20k.head(3_000).to_csv(data, index=False)
    local = score("local", data, tmp_path / "local.parquet", bundle, "--reasons")
    assert local.exit_code == 0, local.output
    on_spark = score("spark", data, tmp_path / "spark", bundle, "--reasons", "--partitions", "2")
    assert on_spark.exit_code == 0, on_spark.output
    assert f"scored 3,000 leads with {bundle} as of {DEMO_AS_OF} → {tmp_path / 'spark'}" in (
        " ".join(on_spark.output.split())
    )
    want = pd.read_parquet(tmp_path / "local.parquet")
    got = pd.read_parquet(tmp_path / "spark")
    assert list(got.columns) == list(want.columns)
    assert got.dtypes.astype(str).tolist() == want.dtypes.astype(str).tolist()
    got = got.sort_values("hs_object_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    ("broken", "named"),
    [
        ("missing-column", "missing column(s) the spec needs: 'country'"),
        ("unreadable-value", "'twice'"),
        ("extra-fields", "Expected 30 columns, got 32"),
    ],
)
def test_a_bad_file_gets_the_local_message_and_nothing_is_written(
    spark: Any, bundle: Path, leads_20k: pd.DataFrame, tmp_path: Path, broken: str, named: str
) -> None:
    rows = leads_20k.head(3_000).copy()
    if broken == "missing-column":
        rows = rows.drop(columns=["country"])
    elif broken == "unreadable-value":
        rows.loc[2_500, "hs_email_open"] = "twice"
    data = tmp_path / "bad.csv"
    rows.to_csv(data, index=False)
    if broken == "extra-fields":  # a line Spark's own reader would cut short in silence
        lines = data.read_text().splitlines()
        lines[2_501] += ",one,two"
        data.write_text("\n".join(lines) + "\n")
    local = score("local", data, tmp_path / "local.parquet", bundle)
    on_spark = score("spark", data, tmp_path / "spark", bundle)
    assert_one_line_error(local, named)
    message = " ".join(local.output[local.output.index("error: ") :].split())
    assert_one_line_error(on_spark)
    assert " ".join(on_spark.output[on_spark.output.index("error: ") :].split()) == message
    assert not (tmp_path / "spark").exists() and not (tmp_path / "spark.partial").exists()


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        (["--spark-conf", "spark.master"], ["--spark-conf 'spark.master'", "KEY=VALUE"]),
        (["--events", "events.csv"], ["event log not found", "events.csv"]),
    ],
)
def test_spark_options_are_checked_before_spark_starts(
    bundle: Path, tmp_path: Path, extra: list[str], names: list[str]
) -> None:
    data = tmp_path / "leads.csv"
    data.write_text("hs_object_id\n1\n")
    result = score("spark", data, tmp_path / "spark", bundle, *extra)
    assert_one_line_error(result, *names)
