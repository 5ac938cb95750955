"""`leadscore score --engine`: an unknown engine and a missing pyspark are one-line user
errors (exit 2) before any model loads; these tests need no Spark."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cli.main import app

runner = CliRunner()


def invoke(*args: str | Path) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def assert_one_line_error(result: Result, *names: str) -> None:
    output = result.output
    assert result.exit_code == 2, output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in output and "Usage:" not in output
    assert [line.startswith("error: ") for line in output.splitlines()].count(True) == 1, output
    message = output[output.index("error: ") :]
    for name in names:
        assert name in message, f"{name!r} not in {message!r}"


def test_an_unknown_engine_is_named(tmp_path: Path) -> None:
    data = tmp_path / "leads.csv"
    data.write_text("hs_object_id\n1\n")
    result = invoke("score", "--engine", "dask", "--data", data, "--out", tmp_path / "s.parquet")
    assert_one_line_error(result, "unknown engine 'dask'", "local or spark")
    assert not (tmp_path / "s.parquet").exists()


def test_spark_without_pyspark_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)  # `import pyspark` raises ImportError
    data = tmp_path / "leads.csv"
    data.write_text("hs_object_id\n1\n")
    result = invoke("score", "--engine", "spark", "--data", data, "--out", tmp_path / "scores")
    assert_one_line_error(result, "pyspark", "pip install -e '.[spark]'")
    assert not (tmp_path / "scores").exists()


def test_spark_settings_are_refused_by_the_local_engine(tmp_path: Path) -> None:
    data = tmp_path / "leads.csv"
    data.write_text("hs_object_id\n1\n")
    result = invoke(
        "score", "--data", data, "--out", tmp_path / "s.csv", "--spark-conf", "spark.master=x"
    )
    assert_one_line_error(result, "--spark-conf", "--engine spark")


@pytest.mark.parametrize(
    ("path", "local"),
    [
        ("leads.csv", Path("leads.csv")),
        ("/data/leads.parquet", Path("/data/leads.parquet")),
        ("file:///data/leads.csv", Path("/data/leads.csv")),
        ("file:/data/leads.csv", Path("/data/leads.csv")),
        ("s3a://crm/leads.csv", None),
        ("hdfs:///crm/leads.parquet", None),
    ],
)
def test_a_path_is_local_unless_it_names_another_file_system(path: str, local: Path | None) -> None:
    from serving.spark import local_file

    assert local_file(path) == local


def test_spark_settings_are_key_value_pairs() -> None:
    from features.errors import LeadscoreError
    from serving.spark import parse_conf

    assert parse_conf(["spark.master=local[2]", "spark.a=b=c"]) == {
        "spark.master": "local[2]",
        "spark.a": "b=c",
    }
    with pytest.raises(LeadscoreError, match="expected KEY=VALUE"):
        parse_conf(["=x"])
