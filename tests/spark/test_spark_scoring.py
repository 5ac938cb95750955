"""Scoring on Spark gives what the local path gives: `score_spark` / `score_path` against
`serving.batch.score_file` on 20,000 generated leads, the registered model as a Spark UDF
with its default result type, and bad input refused with the local path's message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.errors import LeadscoreError
from features.timestamps import AsOf
from models.contract import REASON_COLUMNS
from models.scorer import LeadScorer
from serving.batch import score_file
from serving.spark import rechunk, score_frame, score_path, score_spark, user_error
from tests.conftest import DEMO_AS_OF
from tests.spark.conftest import Champion

pytestmark = pytest.mark.spark
pytest.importorskip("pyspark", reason="pyspark is not installed: pip install -e '.[spark]'")

MOMENT = AsOf.of(DEMO_AS_OF)
SCORES = ["probability", "fit", "interest"]


def local_scores(scorer: LeadScorer, data: Path, out: Path, **options: Any) -> pd.DataFrame:
    """What `leadscore score` writes (serving.batch, chunks of 50,000), as a frame."""
    score_file(scorer, data, out, as_of=MOMENT, version="7", **options)
    return pd.read_parquet(out)


def assert_same_scores(
    got: pd.DataFrame, want: pd.DataFrame, id_column: str, types: bool = True
) -> None:
    """Same columns in the same order (with `types`, of the same types), the same leads;
    scores within 1e-9, every other column identical (nulls where `want` has nulls)."""
    assert list(got.columns) == list(want.columns)
    if types:
        assert got.dtypes.astype(str).tolist() == want.dtypes.astype(str).tolist()
    assert len(got) == len(want)
    got = got.sort_values(id_column).reset_index(drop=True)
    want = want.sort_values(id_column).reset_index(drop=True)
    for column in SCORES:
        assert np.abs(got[column] - want[column]).max() <= 1e-9, column
    for column in (c for c in want.columns if c not in SCORES):
        assert got[column].isna().tolist() == want[column].isna().tolist(), column
        assert got[column].dropna().tolist() == want[column].dropna().tolist(), column


def test_spark_scores_20k_leads_as_the_local_path_does(
    spark: Any, scorer: LeadScorer, leads_20k_csv: Path, tmp_path: Path
) -> None:
    want = local_scores(scorer, leads_20k_csv, tmp_path / "local.parquet", reasons=True, k=2)
    out = tmp_path / "spark-scores"
    # Arrow batches of 2,500 rows joined into chunks of at least 6,000 in each worker
    written = score_path(
        spark,
        str(leads_20k_csv),
        str(out),
        scorer,
        "7",
        as_of=MOMENT,
        reasons=True,
        k=2,
        batch_rows=6_000,
    )
    got = pd.read_parquet(out)
    assert written == len(got) == 20_000
    assert_same_scores(got, want, scorer.spec.id)
    assert got["fit_reasons"].notna().mean() > 0.9  # reasons were written, not nulls
    assert got["lead_status"].isna().any() and not got["lead_status"].eq("None").any()
    assert not (tmp_path / "spark-scores.partial").exists()


def test_score_spark_pins_the_alias_and_ships_only_the_input_columns(
    spark: Any, champion: Champion, scorer: LeadScorer, leads_20k: pd.DataFrame
) -> None:
    rows = leads_20k.head(3_000).assign(notes="not a column the model reads")
    df = spark.createDataFrame(rows)
    scored = score_spark(df, champion.uri, as_of=DEMO_AS_OF, tracking=champion.tracking_uri)
    plan = scored._jdf.queryExecution().optimizedPlan().toString()
    assert "notes" not in plan
    got = scored.toPandas()
    assert set(got["model_version"]) == {champion.version}
    want = scorer.score(rows, as_of=MOMENT).assign(model_version=champion.version)
    assert not {c.name for c in REASON_COLUMNS.values()} & set(got.columns)
    assert_same_scores(got, want.reset_index(drop=True), scorer.spec.id, types=False)


def test_typed_parquet_columns_score_as_the_local_path_reads_them(
    spark: Any, scorer: LeadScorer, leads_20k: pd.DataFrame, tmp_path: Path
) -> None:
    """Numbers as numbers and timestamps as timestamps (a warehouse table), in a session
    whose time zone is not UTC: the same instants reach the scorer."""
    rows = leads_20k.head(2_000).copy()
    rows["annualrevenue"] = pd.to_numeric(rows["annualrevenue"].replace("", None))
    rows["hs_analytics_num_visits"] = pd.to_numeric(rows["hs_analytics_num_visits"])
    for column in ("createdate", "hs_analytics_last_visit_timestamp"):
        rows[column] = pd.to_datetime(rows[column].replace("", None), utc=True, format="ISO8601")
    data = tmp_path / "typed.parquet"
    rows.to_parquet(data, index=False)
    want = local_scores(scorer, data, tmp_path / "local.parquet")
    spark.conf.set("spark.sql.session.timeZone", "America/Los_Angeles")
    try:
        df = spark.read.parquet(str(data))
        got = score_frame(df, scorer, "7", as_of=MOMENT).toPandas()
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")
    assert_same_scores(got, want, scorer.spec.id, types=False)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("numemployees", "lots", "column 'numemployees': cannot read 'lots' as a number"),
        ("createdate", "2027-01-01T00:00:00Z", "is after the moment of scoring"),
    ],
)
def test_a_malformed_row_fails_with_the_local_message_and_writes_nothing(
    spark: Any,
    scorer: LeadScorer,
    leads_20k: pd.DataFrame,
    tmp_path: Path,
    column: str,
    value: str,
    message: str,
) -> None:
    rows = leads_20k.head(6_000).copy()
    rows.loc[4_321, column] = value  # past the rows the up-front check reads
    data = tmp_path / "bad.csv"
    rows.to_csv(data, index=False)
    with pytest.raises(LeadscoreError) as local:
        score_file(scorer, data, tmp_path / "local.parquet", as_of=MOMENT)
    assert message in str(local.value)
    out = tmp_path / "spark-scores"
    with pytest.raises(LeadscoreError) as on_spark:
        score_path(spark, str(data), str(out), scorer, "7", as_of=MOMENT)
    assert str(on_spark.value) == str(local.value)
    assert not out.exists() and not (tmp_path / "spark-scores.partial").exists()


def test_spark_udf_with_its_default_result_type_keeps_nulls(
    spark: Any,
    champion: Champion,
    scorer: LeadScorer,
    leads_20k: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import mlflow
    from pyspark.sql import functions as F

    monkeypatch.setenv("MLFLOW_TRACKING_URI", champion.tracking_uri)
    mlflow.set_tracking_uri(champion.tracking_uri)
    rows = leads_20k.head(2_000)
    df = spark.createDataFrame(rows)
    inputs = mlflow.models.get_model_info(champion.uri).signature.inputs.input_names()
    struct = F.struct(*[c for c in inputs if c in df.columns])
    want = scorer.score(rows, reasons=True, k=2, as_of=MOMENT).reset_index(drop=True)

    plain = mlflow.pyfunc.spark_udf(spark, champion.uri, params={"as_of": DEMO_AS_OF})
    got = df.select(plain(struct).alias("s")).select("s.*").toPandas()
    assert list(got.columns) == list(want.columns)
    assert np.abs(got["probability"] - want["probability"]).max() <= 1e-9
    assert got[[c.name for c in REASON_COLUMNS.values()]].isna().all().all()
    for column in ("lead_status", "next_action_due", "recommended_stage", "rule"):
        assert got[column].isna().tolist() == want[column].isna().tolist(), column
        assert got[column].fillna("-").tolist() == want[column].fillna("-").tolist(), column
    assert got["lead_status"].isna().any() and not got.eq("None").any().any()

    explained = mlflow.pyfunc.spark_udf(
        spark, champion.uri, params={"as_of": DEMO_AS_OF, "explain": True, "k": 2}
    )
    got = df.select(explained(struct).alias("s")).select("s.*").toPandas()
    for reasons in (c.name for c in REASON_COLUMNS.values()):
        assert got[reasons].isna().tolist() == want[reasons].isna().tolist()
        assert got[reasons].fillna("-").tolist() == want[reasons].fillna("-").tolist()


def test_a_worker_error_is_found_in_sparks_text_and_others_are_not() -> None:
    text = 'PythonException: ... RuntimeError: leadscore-user-error:"lead \'7\': a \\"b\\""\n at'
    found = user_error(RuntimeError(text))
    assert found is not None and str(found) == "lead '7': a \"b\""
    assert user_error(RuntimeError("java.lang.OutOfMemoryError")) is None


def test_rechunk_joins_small_frames_in_order() -> None:
    frames = [pd.DataFrame({"a": range(i, i + 3)}) for i in range(0, 15, 3)]
    chunks = list(rechunk(frames, 7))
    assert [len(c) for c in chunks] == [9, 6]
    assert pd.concat(chunks)["a"].tolist() == list(range(15))
    assert list(rechunk([], 7)) == []


def test_score_spark_words_reasons_and_details_in_the_language_asked_for(
    spark: Any, champion: Champion, scorer: LeadScorer, leads_20k: pd.DataFrame
) -> None:
    rows = leads_20k.head(1_000)
    scored = score_spark(
        spark.createDataFrame(rows),
        champion.uri,
        reasons=True,
        as_of=DEMO_AS_OF,
        tracking=champion.tracking_uri,
        lang="de",
    ).toPandas()
    want = scorer.score(rows, reasons=True, as_of=MOMENT, lang="de")
    want = want.assign(model_version=champion.version).reset_index(drop=True)
    assert_same_scores(scored, want, scorer.spec.id, types=False)
    assert scored["fit_reasons"].str.contains(" den Fit ").all()
    with pytest.raises(LeadscoreError, match="'fr'"):
        score_spark(spark.createDataFrame(rows), champion.uri, lang="fr")
