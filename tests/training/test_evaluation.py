"""`leadscore evaluate`: the report's numbers on data with a known truth, the honesty of
what is compared with what, the rolling-origin backtest, and clear errors for bad input."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
import typer
import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner, Result

from cli.common import user_errors
from cli.evaluate import evaluate
from cli.main import app as leadscore_app
from features.errors import LeadscoreError
from features.generate import Demo, generate_leads
from features.jsonable import jsonable
from features.spec import DatasetSpec, builtin_spec_path
from features.timestamps import AsOf
from models.pyfunc import BUNDLE_ARTIFACT, pip_requirements, signature_for
from models.scorer import LeadScorer
from training.backtest import backtest, backtest_months
from training.config import SplitConfig, TrainConfig
from training.data import PreparedData, split_by_time
from training.evaluation import default_slice_columns, evaluate_scorer
from training.metrics import (
    expected_calibration_error,
    gains,
    logistic_baseline,
    reliability,
    top_decile_lift,
)
from training.points import default_points_path, load_points
from training.provenance import training_overlap_notes
from training.result import COMPARISON
from training.selection import default_selection, select_rows, subset
from training.slices import MISSING_VALUE, slice_metrics
from training.train import input_example

runner = CliRunner()


# --- known truth: the metric helpers ---------------------------------------------------


@pytest.fixture(scope="module")
def truth() -> pd.DataFrame:
    """20,000 generated leads with their hidden probability (numbers, not CRM text)."""
    return generate_leads(20_000, seed=11)


def test_the_true_probability_is_calibrated(truth: pd.DataFrame) -> None:
    y, p = truth["converted"].to_numpy(), truth["_true_probability"].to_numpy()
    assert expected_calibration_error(y, p) < 0.02
    # a miscalibrated copy of the same ranking is caught
    assert expected_calibration_error(y, np.clip(p * 1.6, 0, 1)) > 0.05


def test_a_random_score_has_no_lift(truth: pd.DataFrame) -> None:
    y = truth["converted"].to_numpy()
    random = np.random.default_rng(0).random(len(y))
    assert 0.7 < top_decile_lift(y, random) < 1.3
    by_decile = gains(y, random)
    assert np.allclose(by_decile.lift, 1.0, atol=0.3)
    assert gains(y, truth["_true_probability"].to_numpy()).lift[0] > 3


def test_gains_by_decile_of_a_constant_score_is_the_diagonal() -> None:
    y = np.array([1, 0, 0, 0, 1, 0, 0, 0, 0, 1] * 7)  # the 1s first: order must not matter
    by_decile = gains(y, np.full(len(y), 0.3))
    assert by_decile.share == pytest.approx(np.linspace(0.1, 1.0, 10))
    assert by_decile.captured == pytest.approx(by_decile.share)
    assert by_decile.lift == pytest.approx(np.ones(10))
    assert by_decile.conversion_rate == pytest.approx(np.full(10, 0.3))


def test_gains_of_tied_scores_do_not_depend_on_row_order() -> None:
    rng = np.random.default_rng(3)
    y = (rng.random(500) < 0.2).astype(np.float64)
    score = rng.choice([0.1, 0.3, 0.3, 0.5, 0.9], size=500)  # a few values, many ties
    first = gains(y, score, points=20)
    for seed in range(5):
        order = np.random.default_rng(seed).permutation(len(y))
        assert gains(y[order], score[order], points=20) == first
    # ties share the places at a cut in proportion: the top share's rate is exact
    top = score == 0.9
    assert first.conversion_rate[0] == pytest.approx(y[top].mean())


def test_ece_is_the_lead_weighted_gap_of_the_reliability_bins() -> None:
    y = np.array([0, 1, 0, 0, 1, 1, 0, 1], dtype=np.float64)
    p = np.array([0.05, 0.1, 0.2, 0.25, 0.6, 0.7, 0.95, 0.95])  # 0.2 is in the bin [0.2, 0.3)
    bins = reliability(y, p)
    assert bins.count == [1, 1, 2, 1, 1, 2]
    assert bins.predicted == pytest.approx([0.05, 0.1, 0.225, 0.6, 0.7, 0.95])
    assert bins.observed == pytest.approx([0, 1, 0, 1, 1, 0.5])
    gaps = [0.05, 0.9, 0.225, 0.4, 0.3, 0.45]
    weights = [1, 1, 2, 1, 1, 2]
    assert bins.ece == pytest.approx(sum(g * w for g, w in zip(gaps, weights, strict=True)) / 8)
    assert expected_calibration_error(y, p) == bins.ece


def test_a_perfect_score_captures_every_conversion_in_the_top_decile() -> None:
    y = np.r_[np.ones(10), np.zeros(90)]
    by_decile = gains(y, np.r_[np.linspace(1, 0.9, 10), np.linspace(0.5, 0, 90)])
    assert by_decile.captured[0] == 1.0 and by_decile.lift[0] == pytest.approx(10.0)
    assert by_decile.conversion_rate[0] == 1.0 and by_decile.conversion_rate[-1] == 0.1


def test_a_slice_with_a_scrambled_score_is_flagged(truth: pd.DataFrame) -> None:
    y = truth["converted"].to_numpy()
    p = truth["_true_probability"].to_numpy().copy()
    rng = np.random.default_rng(1)
    segment = rng.choice(
        np.array(["north", "south", "west", None], dtype=object), len(y), p=[0.4, 0.3, 0.2, 0.1]
    )
    west = np.flatnonzero(segment == "west")
    p[west] = rng.permutation(p[west])  # same scores, no longer about these leads
    frame = pd.DataFrame({"segment": segment, "other": "x"})
    slices = slice_metrics(y, p, float(y.mean()), frame, ["segment", "absent"], frozenset({""}))
    assert set(slices) == {"segment"}
    by_value = {e["value"]: e for e in slices["segment"]}
    assert [e["value"] for e in slices["segment"]] == ["north", "south", "west", MISSING_VALUE]
    assert by_value["west"]["worse_than_base_rate"]
    assert by_value["west"]["roc_auc"] == pytest.approx(0.5, abs=0.05)
    for value in ("north", "south", MISSING_VALUE):
        entry = by_value[value]
        assert not entry["worse_than_base_rate"], entry
        assert entry["brier"] < entry["brier_base_rate"] and entry["roc_auc"] > 0.8
    assert sum(e["rows"] for e in slices["segment"]) == len(y)
    assert by_value["north"]["base_rate"] == pytest.approx(y[segment == "north"].mean())


def test_slices_keep_the_most_common_values() -> None:
    values = [f"v{i}" for i in range(12) for _ in range(12 - i)]
    y = np.tile([0, 1], len(values) // 2)
    slices = slice_metrics(
        y, np.full(len(y), 0.5), 0.5, pd.DataFrame({"c": values}), ["c"], frozenset(), top=3
    )
    assert [e["value"] for e in slices["c"]] == ["v0", "v1", "v2"]


def test_jsonable_turns_nan_into_null() -> None:
    out = jsonable({"a": np.float64("nan"), "b": [np.int64(2), np.inf], "c": np.bool_(True)})
    assert out == {"a": None, "b": [2, None], "c": True}
    json.dumps(out, allow_nan=False)


# --- the evaluation of a trained scorer ------------------------------------------------

# spec, config, leads, prepared and the trained scorer: session fixtures in conftest.py


@pytest.fixture(scope="module")
def model_dir(
    scorer: LeadScorer, leads: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The scorer as an MLflow pyfunc model in a folder: a model URI for every test."""
    root = tmp_path_factory.mktemp("model")
    bundle = scorer.save(root / "bundle")
    path = root / "pyfunc"
    mlflow.pyfunc.save_model(
        str(path),
        python_model=str(Path(mlflow_model_file())),
        artifacts={BUNDLE_ARTIFACT: str(bundle)},
        signature=signature_for(scorer),
        input_example=input_example(scorer, leads.head(200)),
        pip_requirements=pip_requirements(),
    )
    return path


def mlflow_model_file() -> Path:
    import models.pyfunc

    return Path(models.pyfunc.__file__).with_name("mlflow_model.py")


@pytest.fixture(scope="module")
def report(scorer: LeadScorer, prepared: PreparedData, spec: DatasetSpec) -> dict[str, Any]:
    """The evaluated sections in their JSON form (as report.json holds them)."""
    selection = select_rows(prepared, spec)
    sections = evaluate_scorer(
        scorer,
        subset(prepared, selection.rows),
        spec,
        baselines=subset(prepared, selection.before),
        points=load_points(default_points_path()),
        slice_columns=default_slice_columns(scorer.spec),
    )
    out: dict[str, Any] = jsonable(sections)
    return out


def test_the_newest_slice_is_training_s_test_slice(
    prepared: PreparedData, spec: DatasetSpec
) -> None:
    n = len(prepared.y)
    selection = select_rows(prepared, spec, test_share=0.15)
    split = split_by_time(n, SplitConfig(validation=0.15, test=0.15), prepared.groups)
    np.testing.assert_array_equal(selection.rows, split.test)
    np.testing.assert_array_equal(
        selection.before, np.sort(np.concatenate([split.train, split.validation]))
    )
    assert selection.rows[0] >= n - round(0.15 * n) and selection.rows[-1] == n - 1
    # point-in-time examples: no lead is on both sides
    assert not set(prepared.groups[selection.rows]) & set(prepared.groups[selection.before])
    assert selection.default
    # one row per lead (an export): exactly the newest share
    single = subset(prepared, np.unique(prepared.groups, return_index=True)[1])
    one_each = PreparedData(single.frame, single.y, single.times, 0, single.as_of)
    start = len(one_each.y) - round(0.15 * len(one_each.y))
    plain = select_rows(one_each, spec, test_share=0.15)
    np.testing.assert_array_equal(plain.rows, np.arange(start, len(one_each.y)))
    np.testing.assert_array_equal(plain.before, np.arange(start))


def test_on_a_newer_export_the_default_is_the_leads_after_the_training_data(
    prepared: PreparedData, spec: DatasetSpec
) -> None:
    trained = {"data.sha256": "older-export", "data.time_to": "2026-01-31", "split.test": "0.15"}
    selection = default_selection(prepared, spec, 0.15, trained, "newer-export")
    first = pd.Timestamp(int(prepared.times[selection.rows[0]]), tz="UTC")
    assert first >= pd.Timestamp("2026-02-01", tz="UTC")
    assert selection.rows[-1] == len(prepared.y) - 1
    np.testing.assert_array_equal(selection.before, np.arange(selection.rows[0]))
    assert "after the model's training data (which ends 2026-01-31)" in selection.description
    newest = select_rows(prepared, spec, test_share=0.15)
    same_file = default_selection(prepared, spec, 0.15, trained, "older-export")
    np.testing.assert_array_equal(same_file.rows, newest.rows)
    nothing_after = default_selection(
        prepared, spec, 0.15, {**trained, "data.time_to": "2027-01-01"}, "x"
    )
    np.testing.assert_array_equal(nothing_after.rows, newest.rows)
    np.testing.assert_array_equal(
        default_selection(prepared, spec, 0.15, None, "x").rows, newest.rows
    )


def test_a_date_range_includes_the_whole_last_day(
    prepared: PreparedData, spec: DatasetSpec
) -> None:
    selection = select_rows(prepared, spec, "2026-01-01", "2026-01-31")
    days = pd.to_datetime(prepared.times[selection.rows].astype("int64"), utc=True)
    assert days.min() >= pd.Timestamp("2026-01-01", tz="UTC")
    assert days.max().strftime("%Y-%m") == "2026-01" and days.max().day == 31
    everything = pd.to_datetime(prepared.times.astype("int64"), utc=True)
    in_month = np.flatnonzero(everything.strftime("%Y-%m") == "2026-01")
    # every example in the month of a lead whose first example is in it
    first = pd.Series(np.arange(len(prepared.y))).groupby(prepared.groups).transform("min")
    np.testing.assert_array_equal(
        selection.rows, in_month[first.to_numpy()[in_month] >= in_month[0]]
    )
    assert (selection.before < selection.rows[0]).all()
    assert not set(prepared.groups[selection.rows]) & set(prepared.groups[selection.before])


@pytest.mark.parametrize(
    ("date_from", "date_to", "message"),
    [
        ("2030-01-01", "2030-02-01", "no leads between 2030-01-01 and 2030-02-01"),
        (None, "2020-01-01", "no leads between the first lead and 2020-01-01"),
        ("yesterday-ish", None, "--from: 'yesterday-ish' is not a date"),
        ("2026-02-01", "2026-01-01", "before --from"),
    ],
)
def test_bad_date_ranges_are_clear_errors(
    prepared: PreparedData,
    spec: DatasetSpec,
    date_from: str | None,
    date_to: str | None,
    message: str,
) -> None:
    with pytest.raises(LeadscoreError, match=message):
        select_rows(prepared, spec, date_from, date_to)


def test_the_report_compares_four_scores_on_the_same_leads(report: dict[str, Any]) -> None:
    rows = {r["name"]: r for r in report["comparison"]}
    assert [r["name"] for r in report["comparison"]] == list(COMPARISON)
    for name, row in rows.items():
        for metric in ("roc_auc", "pr_auc", "brier", "ece", "top_decile_lift"):
            assert row[metric] is not None and np.isfinite(row[metric]), (name, metric)
    model, base = rows["leadscore"], rows["base rate"]
    assert base["roc_auc"] == 0.5 and base["top_decile_lift"] == pytest.approx(1.0)
    assert model["roc_auc"] > 0.75 and model["brier"] < base["brier"] - 0.01
    assert model["top_decile_lift"] > 2.5
    assert rows["points rule"]["roc_auc"] > 0.65
    assert report["metrics"]["probability"]["roc_auc"] == model["roc_auc"]
    assert set(report["gains"]) == set(report["curves"]) == set(COMPARISON)


def test_report_sections_have_the_documented_shape(report: dict[str, Any]) -> None:
    assert (
        set(report["metrics"]) == set(report["reliability"]) == {"probability", "fit", "interest"}
    )
    for name in ("fit", "interest"):  # 0–100 scores scaled to probabilities
        assert 0 < report["metrics"][name]["brier"] < 0.2
    bins = report["reliability"]["probability"]
    assert len(bins["predicted"]) == len(bins["observed"]) == len(bins["count"])
    assert bins["ece"] == report["metrics"]["probability"]["ece"]
    for name, curve in report["curves"].items():
        assert 2 <= len(curve["roc"]["fpr"]) == len(curve["roc"]["tpr"]) <= 200, name
        assert len(curve["pr"]["recall"]) == len(curve["pr"]["precision"]) <= 200
        assert curve["roc"]["fpr"][0] == 0 and curve["roc"]["tpr"][-1] == 1
    assert report["gains"]["leadscore"]["captured"][-1] == pytest.approx(1.0)
    assert report["thresholds"]["stages"]["SQL"]["leads"] > 0
    months = [m["month"] for m in report["stability"]]
    assert months == sorted(months) and len(months) >= 2
    assert all(
        m["rows"] > 0 and (m["roc_auc"] is None or 0.5 < m["roc_auc"] <= 1)
        for m in report["stability"]
    )
    assert set(report["slices"]) == {"hs_analytics_source", "country"}
    assert all(len(v) <= 8 for v in report["slices"].values())
    json.dumps(jsonable(report), allow_nan=False)


def test_the_logistic_baseline_learns_only_from_earlier_leads(
    report: dict[str, Any], scorer: LeadScorer, prepared: PreparedData, spec: DatasetSpec
) -> None:
    from sklearn.metrics import roc_auc_score

    selection = select_rows(prepared, spec)
    x = scorer.encode(prepared.frame, AsOf(prepared.moments))
    categorical = [j for j, f in enumerate(scorer.spec.features) if f.type.value == "categorical"]
    numeric = [j for j in range(x.shape[1]) if j not in categorical]
    by_hand = logistic_baseline(categorical, numeric).fit(
        x[selection.before], prepared.y[selection.before]
    )
    auc = roc_auc_score(prepared.y[selection.rows], by_hand.predict_proba(x[selection.rows])[:, 1])
    assert report["comparison"][1]["roc_auc"] == pytest.approx(auc)
    assert any(
        "before the evaluated ones, never on the evaluated leads" in n for n in report["notes"]
    )


def test_without_earlier_leads_the_trained_baselines_are_left_out(
    scorer: LeadScorer, prepared: PreparedData, spec: DatasetSpec
) -> None:
    selection = select_rows(prepared, spec, None, "2025-06-30")
    assert len(selection.before) == 0
    out = jsonable(
        evaluate_scorer(
            scorer,
            subset(prepared, selection.rows),
            spec,
            baselines=None,
            points=load_points(default_points_path()),
            slice_columns=[],
        )
    )
    rows = {r["name"]: r for r in out["comparison"]}
    assert rows["logistic regression"]["roc_auc"] is None
    assert rows["points rule"]["roc_auc"] > 0.6 and rows["points rule"]["brier"] is None
    assert "logistic regression" not in out["gains"]
    assert any("training base rate" in n for n in out["notes"])


def test_notes_say_whether_the_model_could_have_seen_the_leads(
    prepared: PreparedData, spec: DatasetSpec
) -> None:
    n = len(prepared.y)
    newest = select_rows(prepared, spec)
    wide = select_rows(prepared, spec, "2025-10-01")
    same = {
        "data.sha256": "abc",
        "data.rows": str(n),
        "data.time_from": "2024-12-30",
        "data.time_to": "2026-04-01",
        "split.test": "0.15",
    }

    def note(selection: Any, trained: dict[str, str] | None, sha: str = "abc") -> str:
        return " ".join(
            training_overlap_notes(
                prepared, spec, selection, sha, trained, {"trained_at": "2026-07-01T00:00:00+00:00"}
            )
        )

    assert "never saw these leads" in note(newest, same)
    # the rows the model learned from: split as training splits (a lead on one side only)
    split = split_by_time(n, SplitConfig(validation=0.15, test=0.15), prepared.groups)
    seen = int(np.isin(wide.rows, np.concatenate([split.train, split.validation])).sum())
    assert 0 < seen < int((wide.rows < n - round(0.15 * n)).sum())  # purged rows not seen
    assert f"{seen:,} of the {len(wide.rows):,} evaluated leads were in the model's" in note(
        wide, same
    )
    assert "overlap the model's training data" in note(wide, same, sha="other")
    earlier = {**same, "data.time_to": "2025-09-30"}
    assert "after the newest lead" in note(wide, earlier, sha="other")
    unknown = note(newest, None)
    assert "unknown" in unknown and "2026-07-01" in unknown


# --- rolling-origin backtest -------------------------------------------------------------


def test_backtest_trains_on_earlier_months_and_tests_on_the_next(
    prepared: PreparedData, spec: DatasetSpec, config: TrainConfig
) -> None:
    months, partial = backtest_months(prepared, 2)
    newest = pd.Timestamp(int(prepared.times[-1]), tz="UTC")
    assert partial is not None and newest.strftime("%Y-%m") in partial
    assert months == ["2026-02", "2026-03"]

    result = jsonable(backtest(prepared, spec, config, 2))  # as report.json holds it
    assert [f["test_month"] for f in result["folds"]] == months
    for fold in result["folds"]:
        start = pd.Timestamp(f"{fold['test_month']}-01", tz="UTC")
        assert pd.Timestamp(fold["train_until"], tz="UTC") < start  # strictly before
        assert 0.5 < fold["roc_auc"] <= 1 and 0.5 < fold["logistic_roc_auc"] <= 1
        assert 0 < fold["brier"] < 0.2 and 0 <= fold["ece"] < 0.1
        assert 0 < fold["positives"] < fold["rows"]
        in_month = (
            pd.to_datetime(prepared.times.astype("int64"), utc=True).strftime("%Y-%m")
            == fold["test_month"]
        )
        assert fold["rows"] == int(in_month.sum())
        assert fold["positives"] == int(prepared.y[in_month].sum())
        assert 0 < fold["train_rows"] < np.flatnonzero(in_month)[0]
        # the default calibration (every labelled row) and the recent window, both measured
        assert fold["ece_calibrated_on_all"] == fold["ece"]
        assert 0 <= fold["ece_calibrated_on_recent"] < 0.2
    first, second = result["folds"]
    assert first["train_rows"] < second["train_rows"]
    summary = result["summary"]["roc_auc"]
    aucs = [f["roc_auc"] for f in result["folds"]]
    assert summary["mean"] == pytest.approx(np.mean(aucs))
    assert summary["std"] == pytest.approx(np.std(aucs, ddof=1))
    assert (summary["min"], summary["max"]) == (min(aucs), max(aucs))


def test_backtest_needs_months(
    prepared: PreparedData, spec: DatasetSpec, config: TrainConfig
) -> None:
    with pytest.raises(LeadscoreError, match="needs at least 31 complete months"):
        backtest(prepared, spec, config, 30)
    ordinal = spec.model_copy(update={"time": spec.time.model_copy(update={"kind": "ordinal"})})
    with pytest.raises(LeadscoreError, match=r"datetime time column.*'createdate' is ordinal"):
        backtest(prepared, ordinal, config, 2)


# --- the command -------------------------------------------------------------------------


def cli() -> typer.Typer:
    app = typer.Typer()
    app.callback()(lambda: None)
    app.command("evaluate")(user_errors(evaluate))
    return app


def invoke(*args: str | Path) -> Result:
    return runner.invoke(cli(), ["evaluate", *map(str, args)])


def assert_user_error(result: Result, *names: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "Usage:" not in result.output
    message = result.output[result.output.index("error: ") :]
    for name in names:
        assert name in message, f"{name!r} not in {message!r}"


@pytest.fixture(scope="module")
def leads_csv(leads: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "leads.csv"
    leads.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def events_file(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The contacts' event log (Parquet): evaluation on point-in-time examples."""
    path = tmp_path_factory.mktemp("data") / "events.parquet"
    demo.events.to_parquet(path, index=False)
    return path


def test_evaluate_writes_the_report_and_logs_it(
    model_dir: Path, leads_csv: Path, events_file: Path, prepared: PreparedData, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    result = invoke(
        "--data",
        leads_csv,
        "--events",
        events_file,
        "--model",
        model_dir,
        "--out",
        out,
        "--log-mlflow",
    )
    assert result.exit_code == 0, result.output
    for name in COMPARISON:
        assert name in result.output
    written = json.loads((out / "report.json").read_text(), parse_constant=_no_nan)
    assert [r["name"] for r in written["comparison"]] == list(COMPARISON)
    assert written["model"]["uri"] == str(model_dir) and written["backtest"] is None
    split = split_by_time(len(prepared.y), SplitConfig(), prepared.groups)
    assert written["data"]["rows"] == len(split.test)
    assert written["data"]["time_to"] == str(pd.Timestamp(int(prepared.times[-1]), tz="UTC").date())
    assert any("training data is unknown" in n for n in written["notes"])
    try:
        import training.report  # noqa: F401
    except ModuleNotFoundError:
        pass
    else:
        assert (out / "report.html").stat().st_size > 1000

    experiment = mlflow.get_experiment_by_name("leadscore-evaluation")
    assert experiment is not None
    runs = mlflow.search_runs([experiment.experiment_id], output_format="list")
    assert len(runs) == 1
    run = runs[0]
    leadscore_row = written["comparison"][-1]
    assert run.data.metrics["leadscore.roc_auc"] == pytest.approx(leadscore_row["roc_auc"])
    assert "points_rule.brier" in run.data.metrics
    artifacts = {a.path for a in MlflowClient().list_artifacts(run.info.run_id)}
    assert "report.json" in artifacts


def test_without_the_renderer_the_command_writes_the_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from cli.evaluate import write

    monkeypatch.setitem(sys.modules, "training.report", None)  # as if not written yet
    paths = write({"comparison": [{"name": "leadscore", "roc_auc": 0.8}]}, tmp_path / "r")
    assert paths == {"json": tmp_path / "r" / "report.json"}
    assert json.loads(paths["json"].read_text())["comparison"][0]["roc_auc"] == 0.8
    assert not (tmp_path / "r" / "report.html").exists()


def _no_nan(value: str) -> Any:
    raise AssertionError(f"report.json holds {value}, which is not JSON")


@pytest.fixture
def narrow_spec(tmp_path: Path) -> Iterator[Path]:
    """The HubSpot spec without the industry and country features."""
    data = yaml.safe_load(builtin_spec_path("hubspot").read_text(encoding="utf-8"))
    data["fit"] = [f for f in data["fit"] if f["name"] not in ("industry", "country")]
    path = tmp_path / "narrow.yaml"
    path.write_text(yaml.safe_dump(data))
    yield path


def test_a_model_that_does_not_match_the_data_names_the_columns(
    model_dir: Path, leads: pd.DataFrame, narrow_spec: Path, tmp_path: Path
) -> None:
    data = tmp_path / "no-industry.csv"
    leads.drop(columns=["industry", "country"]).to_csv(data, index=False)
    result = invoke(
        "--data", data, "--spec", narrow_spec, "--model", model_dir, "--out", tmp_path / "r"
    )
    assert_user_error(result, "does not match", "'industry'", "'country'")
    assert not (tmp_path / "r").exists()


def test_a_date_range_without_leads_is_an_error(
    model_dir: Path, leads_csv: Path, tmp_path: Path
) -> None:
    result = invoke(
        "--data",
        leads_csv,
        "--model",
        model_dir,
        "--from",
        "2030-01-01",
        "--to",
        "2030-03-31",
        "--out",
        tmp_path / "r",
    )
    assert_user_error(result, "no leads between 2030-01-01 and 2030-03-31")


def test_points_rules_naming_an_unknown_column_are_an_error(
    model_dir: Path, leads_csv: Path, tmp_path: Path
) -> None:
    rules = tmp_path / "points.yaml"
    rules.write_text("rules:\n  - {column: lead_temperature, equals: hot, points: 10}\n")
    result = invoke(
        "--data", leads_csv, "--model", model_dir, "--points", rules, "--out", tmp_path / "r"
    )
    assert_user_error(result, "'lead_temperature'", str(rules))
    rules.write_text("rules:\n  - {column: country, equals: Germany, pionts: 10}\n")
    assert_user_error(
        invoke("--data", leads_csv, "--model", model_dir, "--points", rules), "rules.0.pionts"
    )


def test_backtest_with_an_ordinal_time_column_is_an_error(
    leads: pd.DataFrame, tmp_path: Path
) -> None:
    data = yaml.safe_load(builtin_spec_path("hubspot").read_text(encoding="utf-8"))
    data["time"] = {"column": "lead_number", "kind": "ordinal"}
    data["label"] = {"column": "converted"}
    spec_path = tmp_path / "ordinal.yaml"
    spec_path.write_text(yaml.safe_dump(data))
    csv = tmp_path / "ordinal.csv"
    leads.assign(lead_number=range(len(leads))).to_csv(csv, index=False)
    result = invoke(
        "--data",
        csv,
        "--spec",
        spec_path,
        "--backtest",
        "2",
        "--model",
        tmp_path / "no-model-needed",
    )
    assert_user_error(result, "--backtest needs a datetime time column", "'lead_number'")


def train_with_cli(leads_csv: Path, events: Path, config: TrainConfig, tmp_path: Path) -> None:
    """`leadscore train` on the leads and their events with this config, into the test's
    MLflow store."""
    config_file = tmp_path / "train.yaml"
    config_file.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    trained = runner.invoke(
        leadscore_app,
        ["train", "--data", str(leads_csv), "--events", str(events), "--config", str(config_file)],
    )
    assert trained.exit_code == 0, trained.output


def test_evaluating_the_registered_champion_reproduces_its_test_metrics(
    leads_csv: Path, events_file: Path, config: TrainConfig, tmp_path: Path
) -> None:
    train_with_cli(leads_csv, events_file, config, tmp_path)
    result = invoke("--data", leads_csv, "--events", events_file, "--out", tmp_path / "r")
    assert result.exit_code == 0, result.output
    written = json.loads((tmp_path / "r" / "report.json").read_text())
    assert written["model"]["version"] == "1"
    assert written["model"]["uri"] == "models:/lead-scorer@champion"
    assert any("never saw these leads" in n for n in written["notes"]), written["notes"]
    # the same leads as training's test slice: the same numbers
    logged = mlflow.search_runs(experiment_names=["leadscore"], output_format="list")[0]
    rows = {r["name"]: r for r in written["comparison"]}
    for name, key in (("leadscore", "full"), ("logistic regression", "full_logistic")):
        for metric in ("roc_auc", "pr_auc", "brier", "ece"):
            assert rows[name][metric] == pytest.approx(
                logged.data.metrics[f"test.{key}.{metric}"], rel=1e-6
            ), (name, metric)


def test_training_logs_the_evaluation_report_of_its_test_slice(
    leads_csv: Path, events_file: Path, config: TrainConfig, prepared: PreparedData, tmp_path: Path
) -> None:
    train_with_cli(leads_csv, events_file, config, tmp_path)
    run = mlflow.search_runs(experiment_names=["leadscore"], output_format="list")[0]
    run_id, client = run.info.run_id, MlflowClient()
    assert {a.path for a in client.list_artifacts(run_id, "evaluation")} == {
        "evaluation/report.html",
        "evaluation/report.json",
    }
    folder = Path(client.download_artifacts(run_id, "evaluation", str(tmp_path / "logged")))
    written = json.loads((folder / "report.json").read_text(), parse_constant=_no_nan)
    rows = {r["name"]: r for r in written["comparison"]}
    assert rows["leadscore"]["roc_auc"] == pytest.approx(
        run.data.metrics["test.full.roc_auc"], rel=1e-12
    )
    assert rows["logistic regression"]["roc_auc"] == pytest.approx(
        run.data.metrics["test.full_logistic.roc_auc"], rel=1e-12
    )
    assert rows["points rule"]["roc_auc"] > 0.6
    assert written["data"]["rows"] == len(
        split_by_time(len(prepared.y), config.split, prepared.groups).test
    )
    assert written["model"]["run_id"] == run_id and written["backtest"] is None
    assert any("never saw these leads" in n for n in written["notes"]), written["notes"]
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert "<title>leadscore evaluation" in html and len(html) > 10_000

    # `evaluate --run-id` adds a report to that run, beside the training's own one
    result = invoke(
        "--data", leads_csv, "--events", events_file, "--out", tmp_path / "r", "--run-id", run_id
    )
    assert result.exit_code == 0, result.output
    evaluated = json.loads((tmp_path / "r" / "report.json").read_text())
    span = f"evaluation/{evaluated['data']['time_from']}_{evaluated['data']['time_to']}"
    assert {a.path for a in client.list_artifacts(run_id, span)} == {
        f"{span}/report.html",
        f"{span}/report.json",
    }
    assert evaluated["comparison"][-1]["roc_auc"] == pytest.approx(
        rows["leadscore"]["roc_auc"], rel=1e-9
    )  # the same leads, the same model
    assert len(client.list_artifacts(run_id, "evaluation")) == 3
    assert len(mlflow.search_runs(search_all_experiments=True, output_format="list")) == 1


@pytest.mark.parametrize("database", [True, False], ids=["empty-store", "no-database"])
def test_run_id_of_no_run_is_an_error_and_nothing_is_written(
    leads_csv: Path, tmp_path: Path, database: bool
) -> None:
    uri = os.environ["MLFLOW_TRACKING_URI"]
    if database:
        MlflowClient(tracking_uri=uri).search_experiments()  # creates the empty store
    result = invoke(
        "--data",
        leads_csv,
        "--model",
        tmp_path / "no-model-needed",
        "--out",
        tmp_path / "r",
        "--run-id",
        "0f1e2d-no-such-run",
    )
    assert_user_error(result, "--run-id", "'0f1e2d-no-such-run'")
    assert not (tmp_path / "r").exists()
    assert Path(uri.removeprefix("sqlite:///")).exists() == database
