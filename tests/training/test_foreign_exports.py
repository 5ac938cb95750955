"""Exports from other systems, read as they come: CSV dialects, numbers written the
export's way, yes/no labels, sentinels, context features and a CRM's own stages.

Two exports are generated here (seeded): a German bank-marketing-style file (semicolons,
decimal commas, a yes/no label, `pdays = 999` for "never contacted", economic indicators
as context features) and a Salesforce Lead export (Status values, numbers with thousands
separators). Each trains with its spec and no edit to the file, and scores.
"""

from __future__ import annotations

import gzip
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.errors import LeadscoreError
from features.files import load_events, load_leads, read_chunks, sniff_delimiter
from features.spec import CsvSpec, DatasetSpec, parse_spec, resolve_spec
from features.timestamps import AsOf
from models.scorer import LeadScorer
from tests.conftest import REPO
from training.config import TrainConfig, load_config
from training.data import derive_labels, prepare
from training.train import TrainResult, train_scorer

FAST: dict[str, Any] = {
    "booster": {"max_rounds": 40, "early_stopping_rounds": 10},
    "calibration_folds": 3,
}


def write_text(path: Path, text: str) -> Path:
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode("utf-8")))
    else:
        path.write_text(text, encoding="utf-8")
    return path


# -- CSV dialects -----------------------------------------------------------------------------

ROWS = [
    ["id", "company", "revenue", "note"],
    ["1", "Acme, Inc.", "1,5", "a|b"],
    ["2", "Müller; Söhne", "1.234,56", "tab\there"],
    ["3", "", "7", ""],
]


def dialect_text(delimiter: str) -> str:
    """`ROWS` written with a delimiter, quoting the values that hold it (as exports do)."""

    def cell(value: str) -> str:
        return f'"{value}"' if delimiter in value or '"' in value else value

    return "".join(delimiter.join(cell(v) for v in row) + "\r\n" for row in ROWS)


@pytest.mark.parametrize("name", ["leads.csv", "leads.csv.gz"])
@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"], ids=["comma", "semi", "tab", "pipe"])
def test_the_delimiter_is_detected(tmp_path: Path, delimiter: str, name: str) -> None:
    path = write_text(tmp_path / name, dialect_text(delimiter))
    assert sniff_delimiter(path) == delimiter
    expected = pd.DataFrame(ROWS[1:], columns=ROWS[0])
    frame = load_leads(path)
    pd.testing.assert_frame_equal(frame, expected)
    chunks = pd.concat(read_chunks(path, "csv", 2), ignore_index=True)
    pd.testing.assert_frame_equal(chunks, expected)
    assert [len(c) for c in read_chunks(path, "csv", 2, columns=["revenue", "id"])] == [2, 1]


def test_the_spec_delimiter_overrides_detection(tmp_path: Path) -> None:
    # both ';' and '|' split every line in two: detection takes ';', the spec says '|'
    path = write_text(tmp_path / "odd.csv", "id;name|x\n1;a|b\n")
    assert list(load_leads(path).columns) == ["id", "name|x"]
    dialect = CsvSpec(delimiter="|")
    assert list(load_leads(path, dialect=dialect).columns) == ["id;name", "x"]
    chunk = next(read_chunks(path, "csv", 10, dialect=dialect))
    assert chunk.to_dict("records") == [{"id;name": "1;a", "x": "b"}]


def test_a_wrong_delimiter_is_named(tmp_path: Path) -> None:
    path = write_text(tmp_path / "leads.csv", dialect_text(";"))
    comma = CsvSpec(delimiter=",")
    with pytest.raises(LeadscoreError) as caught:
        load_leads(path, dialect=comma)
    message = str(caught.value)
    assert message.startswith(f"data file {path}: its header reads as the single column ")
    assert (
        "it looks like a ';'-separated file: set `csv: {delimiter: \";\"}` in the spec" in message
    )
    with pytest.raises(LeadscoreError, match="it looks like a ';'-separated file"):
        next(read_chunks(path, "csv", 10, dialect=comma))


def test_an_event_log_delimiter_is_detected(tmp_path: Path, hubspot_spec: DatasetSpec) -> None:
    path = write_text(
        tmp_path / "events.csv",
        "hs_object_id;timestamp;event_type;event_value\n"
        "7;2025-01-02T10:00:00Z;page_view;https://x.example/pricing\n"
        "7;2025-01-03T10:00:00Z;form_submission;Request a demo\n",
    )
    log = load_events(path, hubspot_spec)
    assert len(log) == 2 and log.ids.tolist() == ["7"]
    assert log.type.tolist() == ["page_view", "form_submission"]


# -- labels -----------------------------------------------------------------------------------


def label_spec() -> DatasetSpec:
    return parse_spec(
        {
            "name": "labels",
            "id": "id",
            "time": {"column": "n", "kind": "ordinal"},
            "label": {"column": "y"},
            "fit": [{"name": "a", "type": "numeric"}],
            "interest": [{"name": "b", "type": "numeric"}],
        }
    )


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1", "0", "1.0", "0.0"], [1, 0, 1, 0]),
        (["true", "False", " TRUE ", "false"], [1, 0, 1, 0]),
        (["yes", "no", " Yes", "NO "], [1, 0, 1, 0]),
        ([True, False, True, False], [1, 0, 1, 0]),
    ],
)
def test_labels_read_as_exports_write_them(values: list[Any], expected: list[int]) -> None:
    frame = pd.DataFrame({"y": values})
    y, known = derive_labels(frame, label_spec(), pd.Series([1.0, 2.0, 3.0, 4.0]))
    assert y.tolist() == expected and known.all()


def test_a_label_that_is_no_yes_or_no_is_refused() -> None:
    frame = pd.DataFrame({"y": ["yes", "maybe", "", "no"]})
    with pytest.raises(LeadscoreError) as caught:
        derive_labels(frame, label_spec(), pd.Series([1.0, 2.0, 3.0, 4.0]))
    assert str(caught.value) == (
        "label column 'y' must hold 0 or 1 (or true/false, yes/no); found 2 other value(s), "
        "e.g. '', 'maybe'"
    )


# -- names the file does not have --------------------------------------------------------------


def small_frame(n: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "id": [str(i) for i in range(n)],
            "n": [str(i) for i in range(n)],
            "y": ["yes", "no"] * (n // 2),
            "a": rng.integers(0, 9, n).astype(str),
            "b": rng.integers(0, 9, n).astype(str),
            "Lead Quality": ["High"] * n,
        }
    )


def test_leaky_columns_the_file_lacks_are_named(caplog: pytest.LogCaptureFixture) -> None:
    spec = label_spec().model_copy(update={"leaky_columns": ["Lead Qualty", "Tags"]})
    frame = small_frame()
    frame.attrs["source"] = "leads.csv"
    with caplog.at_level(logging.INFO, logger="training.data"):
        prepare(frame, spec, min_positives=10)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == [
        "leaky_columns of spec 'labels' that are not columns of leads.csv: 'Lead Qualty' (did "
        "you mean 'Lead Quality'?); a misspelt name keeps no leak out of the features"
    ]
    # a name like no column at all is another export's column: said, not warned
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert said == ["leaky_columns of spec 'labels' not in leads.csv: 'Tags'"]
    caplog.clear()
    spec = spec.model_copy(update={"leaky_columns": ["Lead Quality"]})
    with caplog.at_level(logging.WARNING, logger="training.data"):
        prepare(frame, spec, min_positives=10)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_feature_columns_the_file_lacks_stay_an_error() -> None:
    frame = small_frame().drop(columns=["b"])
    with pytest.raises(LeadscoreError, match=r"data is missing column.*: 'b'"):
        prepare(frame, label_spec(), min_positives=10)


def test_a_feature_reading_a_derived_feature_is_explained() -> None:
    data = label_spec().model_dump(mode="json")
    data["fit"].append({"name": "level", "column": "Title", "derive": "seniority"})
    data["fit"][-1]["type"] = "categorical"
    data["interest"].append(
        {"name": "x", "column": "level", "derive": "seniority", "type": "categorical"}
    )
    frame = small_frame().assign(Title="CEO")
    with pytest.raises(LeadscoreError) as caught:
        prepare(frame, parse_spec(data), min_positives=10)
    assert "'level' is not a column of the file but the name of feature 'level', derived " in (
        str(caught.value)
    )
    assert "feature(s) 'x' must name a raw column of the export (e.g. column: Title)" in str(
        caught.value
    )


# -- a German bank-marketing-style export --------------------------------------------------------

BANK_SPEC: dict[str, Any] = {
    "name": "bank-marketing",
    "id": "client_id",
    "time": {"column": "contact_date"},
    "label": {"column": "y"},
    "csv": {"decimal": ","},  # the delimiter (';') is detected
    "missing_values": ["unknown"],
    "leaky_columns": ["duration"],  # known only once the call is over
    "fit": [
        {"name": "age", "type": "numeric", "unit": "years"},
        {"name": "job", "type": "categorical"},
        {"name": "marital", "type": "categorical"},
        {"name": "education", "type": "categorical"},
        {"name": "housing", "type": "categorical"},
    ],
    "interest": [
        {"name": "contact", "type": "categorical"},
        {"name": "campaign", "type": "numeric", "label": "Calls this campaign"},
        {"name": "pdays", "type": "numeric", "missing": ["999"], "label": "Days since last call"},
        {"name": "previous", "type": "numeric"},
        {"name": "poutcome", "type": "categorical", "missing": ["nonexistent"]},
    ],
    "context": [
        {"name": "month", "type": "categorical"},
        {"name": "emp.var.rate", "type": "numeric"},
        {"name": "cons.price.idx", "type": "numeric"},
        {"name": "euribor3m", "type": "numeric"},
        {"name": "nr.employed", "type": "numeric"},
    ],
}


def german(value: float, decimals: int) -> str:
    """A number as a German export writes it: 5.191,0."""
    return f"{value:,.{decimals}f}".translate(str.maketrans({",": ".", ".": ","}))


def bank_export(n: int, seed: int) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Calls of a bank's term-deposit campaigns over 30 months, as CRM text, and the true
    numbers behind the text. Conversions follow the economy (low Euribor), earlier
    success and recent calls, students and retirees, mobile phones."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2008-05-01", tz="UTC")
    days = np.sort(rng.integers(0, 910, n))
    dates = start + pd.to_timedelta(days, unit="D")
    month_index = days // 30
    # the economy moves month by month (in every slice of the time split, too)
    euribor = np.round(rng.uniform(0.6, 4.9, 31), 3)[month_index]
    emp_var = np.round(1.4 - 3.0 * (4.9 - euribor) / 4.2, 1)
    price = np.round(93.2 + 0.8 * np.sin(month_index / 3.0), 3)
    employed = np.round(5228.1 - 200.0 * (4.9 - euribor) / 4.2, 1)
    job = rng.choice(
        ["admin.", "blue-collar", "technician", "student", "retired", "management", "unknown"],
        n,
        p=[0.25, 0.22, 0.17, 0.05, 0.06, 0.2, 0.05],
    )
    age = np.where(job == "student", rng.integers(18, 28, n), rng.integers(25, 75, n))
    contacted = rng.random(n) < 0.2
    pdays = np.where(contacted, rng.integers(0, 27, n), 999)
    previous = np.where(contacted, rng.integers(1, 5, n), 0)
    poutcome = np.where(
        contacted, rng.choice(["success", "failure"], n, p=[0.4, 0.6]), "nonexistent"
    )
    contact = rng.choice(["cellular", "telephone"], n, p=[0.65, 0.35])
    campaign = rng.integers(1, 8, n)
    logit = (
        -4.0
        + 0.9 * (4.9 - euribor)
        + 2.0 * (poutcome == "success")
        + 0.6 * ((pdays < 10) & contacted)
        + 0.9 * np.isin(job, ["student", "retired"])
        + 0.5 * (contact == "cellular")
        - 0.15 * campaign
    )
    converted = rng.random(n) < 1 / (1 + np.exp(-logit))
    yes_no = np.where(converted, "yes", "no").astype(object)
    yes_no[::97] = np.where(converted[::97], " Yes", "NO ")  # as people type it
    frame = pd.DataFrame(
        {
            "client_id": [f"C{i:06d}" for i in range(n)],
            "contact_date": dates.strftime("%Y-%m-%d"),
            "age": age.astype(str),
            "job": job,
            "marital": rng.choice(["married", "single", "divorced", "unknown"], n),
            "education": rng.choice(["basic.9y", "high.school", "university.degree"], n),
            "housing": rng.choice(["yes", "no", "unknown"], n),
            "contact": contact,
            "month": dates.strftime("%b").str.lower(),
            "duration": np.where(converted, rng.integers(200, 900, n), rng.integers(5, 400, n)),
            "campaign": campaign.astype(str),
            "pdays": pdays.astype(str),
            "previous": previous.astype(str),
            "poutcome": poutcome,
            "emp.var.rate": [german(v, 1) for v in emp_var],
            "cons.price.idx": [german(v, 3) for v in price],
            "euribor3m": [german(v, 3) for v in euribor],
            "nr.employed": [german(v, 1) for v in employed],
            "y": yes_no,
        }
    )
    truth = {
        "converted": converted.astype(int),
        "pdays": np.where(pdays == 999, np.nan, pdays.astype(float)),
        "euribor3m": euribor,
        "nr.employed": employed,
        "cons.price.idx": price,
    }
    return frame, truth


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    frame, truth = bank_export(3000, seed=12)
    path = tmp_path_factory.mktemp("bank") / "bank-additional.csv"
    frame.to_csv(path, sep=";", index=False)
    return path, truth


@pytest.fixture(scope="module")
def bank_trained(
    bank: tuple[Path, dict[str, np.ndarray]],
) -> tuple[pd.DataFrame, TrainResult]:
    spec = parse_spec(BANK_SPEC, "bank-marketing")
    frame = load_leads(bank[0], dialect=spec.csv)
    return frame, train_scorer(prepare(frame, spec), spec, TrainConfig.model_validate(FAST))


def test_a_german_bank_export_reads_unedited(
    bank: tuple[Path, dict[str, np.ndarray]], bank_trained: tuple[pd.DataFrame, TrainResult]
) -> None:
    path, truth = bank
    assert path.read_text(encoding="utf-8").splitlines()[1].count(";") == 18
    frame, result = bank_trained
    assert frame.shape == (3000, 19)
    assert frame["euribor3m"].iloc[0] == german(truth["euribor3m"][0], 3)  # still text
    spec = result.scorer.spec
    data = prepare(frame, spec)
    np.testing.assert_array_equal(data.y, truth["converted"])  # yes/no, any case
    x = result.scorer.encoder.transform(frame)
    column = {name: j for j, name in enumerate(result.scorer.encoder.feature_names_)}
    np.testing.assert_array_equal(x[:, column["pdays"]], truth["pdays"])  # 999 is missing
    for name in ("euribor3m", "nr.employed", "cons.price.idx"):
        np.testing.assert_allclose(x[:, column[name]], truth[name], rtol=0, atol=1e-9)
    assert (x[:, column["nr.employed"]] > 5000).all()  # "5.191,0" is 5191, not 5.191


def test_context_features_feed_the_full_model_only(
    bank_trained: tuple[pd.DataFrame, TrainResult],
) -> None:
    _, result = bank_trained
    models = result.scorer.models
    context = ["month", "emp.var.rate", "cons.price.idx", "euribor3m", "nr.employed"]
    assert models["fit"].features == ["age", "job", "marital", "education", "housing"]
    assert models["interest"].features == ["contact", "campaign", "pdays", "previous", "poutcome"]
    assert models["full"].features[-5:] == context
    assert len(models["full"].features) == 15
    # the economy drives these conversions: only the full model sees it
    metrics = result.metrics
    assert metrics["test.full.roc_auc"] > 0.7
    for group in ("fit", "interest"):
        assert metrics["test.full.roc_auc"] > metrics[f"test.{group}.roc_auc"] + 0.05


def test_a_german_bank_export_scores(bank_trained: tuple[pd.DataFrame, TrainResult]) -> None:
    frame, result = bank_trained
    scorer = result.scorer
    as_of = AsOf.of("2010-12-01T00:00:00Z")
    scored = scorer.score(frame.iloc[-300:], as_of=as_of)
    assert len(scored) == 300 and scored["client_id"].iloc[0] == frame["client_id"].iloc[-300]
    assert scored["probability"].between(0, 1).all()
    assert scored["probability"].nunique() > 20
    # the service's path reads decimal commas and sentinels as the batch does
    rows = frame.iloc[-20:].to_dict("records")
    records = scorer.score_records(rows, as_of)
    np.testing.assert_allclose(
        [r["probability"] for r in records], scored["probability"].iloc[-20:], rtol=1e-12
    )
    typed = [{**r, "pdays": int(r["pdays"])} for r in rows]  # 999 sent as a number
    np.testing.assert_allclose(
        [r["probability"] for r in scorer.score_records(typed, as_of)],
        [r["probability"] for r in records],
        rtol=1e-12,
    )


# -- a Salesforce Lead export ----------------------------------------------------------------------

# The repository's example config for this spec (configs/salesforce-leads.yaml: Status
# mapped to stages, served countries, 10+ employees), with quick boosters.
SALESFORCE_CONFIG: dict[str, Any] = {
    **load_config(REPO / "configs" / "salesforce-leads.yaml").model_dump(
        mode="json", by_alias=True
    ),
    **FAST,
}
EXPORTED = "2025-03-01T00:00:00Z"


def salesforce_export(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Leads of two years as a Salesforce export writes them, and the true company sizes."""
    rng = np.random.default_rng(seed)
    end = pd.Timestamp(EXPORTED)
    created = end - pd.to_timedelta(np.sort(rng.integers(1, 730 * 24, n))[::-1], unit="h")
    title = rng.choice(
        ["CEO", "VP Sales", "Marketing Manager", "Analyst", "Student", "Head of IT", ""], n
    )
    senior = np.isin(title, ["CEO", "VP Sales", "Head of IT"])
    employees = np.round(np.exp(rng.normal(4.5, 1.8, n))).astype(int) + 1
    revenue = employees * rng.uniform(50_000, 250_000, n)
    industry = rng.choice(["Technology", "Finance", "Retail", "Education", "--None--"], n)
    source = rng.choice(["Web", "Phone Inquiry", "Partner Referral", "Purchased List"], n)
    domain = rng.choice(["gmail.com", "acme-corp.example", "initech.example"], n)
    logit = (
        -2.4
        + 1.1 * senior
        + 0.35 * np.log10(employees)
        + 0.8 * (industry == "Technology")
        + 0.9 * (source == "Partner Referral")
        - 0.8 * (source == "Purchased List")
        - 0.7 * (domain == "gmail.com")
    )
    converted = rng.random(n) < 1 / (1 + np.exp(-logit))
    converted_at = created + pd.to_timedelta(rng.integers(2, 120, n), unit="D")
    converted &= converted_at < end
    status = np.where(
        converted,
        "Closed - Converted",
        rng.choice(["Open - Not Contacted", "Working - Contacted", "Closed - Not Converted"], n),
    )
    size_text = np.array([f"{e:,}" for e in employees], dtype=object)
    size_text[rng.random(n) < 0.05] = ""
    frame = pd.DataFrame(
        {
            "Id": [f"00Q5g{i:010d}EAA" for i in range(n)],
            "CreatedDate": created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "Title": title,
            "Company": [f"Company {i}" for i in range(n)],
            "Email": [f"lead{i}@{d}" for i, d in enumerate(domain)],
            "Industry": industry,
            "NumberOfEmployees": size_text,
            "AnnualRevenue": [f"{r:,.2f}" for r in revenue],  # "1,234,567.89"
            "Country": rng.choice(["United States", "Germany", "Canada"], n),
            "LeadSource": source,
            "HasOptedOutOfEmail": rng.choice(["true", "false"], n, p=[0.1, 0.9]),
            "Status": status,
            "Rating": rng.choice(["Hot", "Warm", "Cold", ""], n),
            "IsConverted": np.where(converted, "true", "false"),
            "ConvertedDate": np.where(converted, converted_at.strftime("%Y-%m-%d"), ""),
            "ConvertedAccountId": np.where(converted, "001000000000001AAA", ""),
            "ConvertedContactId": np.where(converted, "003000000000001AAA", ""),
            "ConvertedOpportunityId": np.where(converted, "006000000000001AAA", ""),
            "LastActivityDate": created.strftime("%Y-%m-%d"),
        }
    )
    return frame, np.where(size_text == "", np.nan, employees.astype(float))


@pytest.fixture(scope="module")
def salesforce(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[pd.DataFrame, np.ndarray, LeadScorer]:
    raw, employees = salesforce_export(3000, seed=12)
    path = tmp_path_factory.mktemp("salesforce") / "leads.csv"
    raw.to_csv(path, index=False)
    spec = resolve_spec("salesforce-leads")
    frame = load_leads(path, dialect=spec.csv)
    data = prepare(frame, spec)
    result = train_scorer(data, spec, TrainConfig.model_validate(SALESFORCE_CONFIG))
    return frame, employees, result.scorer


def test_a_salesforce_export_reads_unedited(
    salesforce: tuple[pd.DataFrame, np.ndarray, LeadScorer],
) -> None:
    frame, employees, scorer = salesforce
    assert frame["NumberOfEmployees"].str.contains(",").any()  # the file as exported
    x = scorer.encoder.transform(frame, AsOf.of(EXPORTED))
    names = scorer.encoder.feature_names_
    np.testing.assert_array_equal(x[:, names.index("NumberOfEmployees")], employees)
    revenue = x[:, names.index("AnnualRevenue")]
    assert (revenue > 10_000).all()  # "1,234,567.89" is over a million, not 1.2
    expected = frame["AnnualRevenue"].str.replace(",", "").astype(float).to_numpy()
    np.testing.assert_array_equal(revenue, expected)


def test_a_salesforce_export_scores_into_its_own_stages(
    salesforce: tuple[pd.DataFrame, np.ndarray, LeadScorer],
) -> None:
    frame, employees, scorer = salesforce
    scored = scorer.score(frame, as_of=AsOf.of(EXPORTED))
    assert scored["probability"].between(0, 1).all()
    status = frame["Status"].to_numpy()
    stage = scored["recommended_stage"].to_numpy()
    rule = scored["rule"].to_numpy()
    converted = status == "Closed - Converted"
    assert (stage[converted] == "opportunity").all()
    assert (stage[status == "Closed - Not Converted"] == "other").all()
    assert (
        rule[converted | (status == "Closed - Not Converted")] == "already_at_or_past_stage"
    ).all()
    working = status == "Working - Contacted"
    assert (stage[working] == "salesqualifiedlead").all()
    open_ = status == "Open - Not Contacted"
    small = open_ & ~np.isnan(employees) & (employees < 10)
    assert small.sum() > 10
    assert (rule[small] == "requirement_failed").all() and (stage[small] == "lead").all()
    assert set(stage[open_]) <= {"lead", "marketingqualifiedlead", "salesqualifiedlead"}
    assert set(rule[open_ & ~small]) - {"requirement_failed"}  # some are scored


def test_an_allow_list_naming_no_feature_is_named(caplog: pytest.LogCaptureFixture) -> None:
    from training.train import check_leakage

    rng = np.random.default_rng(1)
    x, y = rng.random((200, 2)), rng.integers(0, 2, 200)
    config = TrainConfig.model_validate({"leakage": {"allow": ["a", "Lead Qualty"]}})
    with caplog.at_level(logging.WARNING, logger="training.train"):
        check_leakage(x, y, label_spec(), config)
    assert [r.getMessage() for r in caplog.records] == [
        "leakage.allow names 'Lead Qualty', which no feature of spec 'labels' has as its "
        "name or column"
    ]
