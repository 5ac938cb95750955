"""FeatureEncoder: learned category codes, and one answer from the batch and the record paths."""

from __future__ import annotations

import json
import math
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.build import OTHER, FeatureEncoder, read_categories, read_each
from features.coerce import to_category
from features.errors import LeadscoreError
from features.spec import DatasetSpec, FeatureType, parse_spec
from features.timestamps import NS_PER_DAY, AsOf, FutureTimestampError, iso

NAN = math.nan


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as dicts, as the service receives them."""
    return cast(list[dict[str, Any]], frame.to_dict("records"))


@pytest.fixture(scope="module")
def tiny_spec() -> DatasetSpec:
    """One feature of each kind: numeric, categorical, derived, boolean."""
    return parse_spec(
        {
            "name": "tiny",
            "id": "lead_id",
            "time": {"column": "created"},
            "label": {"column": "won"},
            "missing_values": ["Select"],
            "fit": [
                {"name": "employees", "type": "numeric"},
                {"name": "industry", "type": "categorical"},
                {
                    "name": "seniority",
                    "column": "title",
                    "derive": "seniority",
                    "type": "categorical",
                },
            ],
            "interest": [{"name": "demo", "type": "boolean"}],
        }
    )


@pytest.fixture
def tiny_dict_spec(tiny_spec: DatasetSpec) -> dict[str, Any]:
    """An editable copy of the tiny spec."""
    return tiny_spec.model_dump(mode="json", exclude_defaults=True)


@pytest.fixture
def tiny_frame() -> pd.DataFrame:
    """Retail three times, Logistics twice, Maritime once; every value as CRM text."""
    return pd.DataFrame(
        {
            "lead_id": ["a", "b", "c", "d", "e", "f"],
            "employees": ["10", "100-500", "", "1000+", "Select", "7"],
            "industry": ["Retail", "Retail", " Retail ", "Logistics", "Logistics", "Maritime"],
            "title": ["CEO", "Analyst", "", "Marketing Manager", "CTO", "Student"],
            "demo": ["true", "no", "", "1", "False", "yes"],
        }
    )


@pytest.fixture
def tiny_encoder(tiny_spec: DatasetSpec, tiny_frame: pd.DataFrame) -> FeatureEncoder:
    return FeatureEncoder(tiny_spec, min_category_count=2).fit(tiny_frame)


def test_fit_learns_frequent_categories_only(tiny_encoder: FeatureEncoder) -> None:
    assert tiny_encoder.feature_names_ == ["employees", "industry", "seniority", "demo"]
    assert tiny_encoder.categories_ == {
        "industry": ["Logistics", "Retail"],
        "seniority": ["C-level or owner"],
    }
    assert tiny_encoder.categorical_indices == [1, 2]
    assert tiny_encoder.other_code("industry") == 2.0


def test_transform_encodes_every_kind(
    tiny_encoder: FeatureEncoder, tiny_frame: pd.DataFrame
) -> None:
    other_industry, other_seniority = 2.0, 1.0
    expected = np.array(
        [
            [10.0, 1.0, 0.0, 1.0],
            [300.0, 1.0, other_seniority, 0.0],
            [NAN, 1.0, NAN, NAN],
            [1000.0, 0.0, other_seniority, 1.0],
            [NAN, 0.0, 0.0, 0.0],
            [7.0, other_industry, other_seniority, 1.0],
        ]
    )
    np.testing.assert_array_equal(tiny_encoder.transform(tiny_frame), expected)
    np.testing.assert_array_equal(tiny_encoder.transform_records(records(tiny_frame)), expected)


@pytest.mark.parametrize(
    ("industry", "code"),
    [
        ("Retail", 1.0),
        ("Logistics", 0.0),
        ("Maritime", 2.0),  # seen once in training: rare
        ("Government", 2.0),  # never seen
        ("retail", 2.0),  # categories are case-sensitive
        ("", NAN),
        ("Select", NAN),
        (None, NAN),
    ],
)
def test_category_codes(
    tiny_encoder: FeatureEncoder, tiny_frame: pd.DataFrame, industry: str | None, code: float
) -> None:
    industries: list[Any] = [industry]
    row = tiny_frame.iloc[[0]].assign(industry=industries)
    from_frame = tiny_encoder.transform(row)[0, 1]
    from_record = tiny_encoder.transform_records(records(row))[0, 1]
    np.testing.assert_array_equal([from_frame, from_record], [code, code])


def test_rare_and_unseen_categories_decode_as_other(tiny_encoder: FeatureEncoder) -> None:
    assert tiny_encoder.decode("industry", 1.0) == "Retail"
    assert tiny_encoder.decode("industry", 2.0) == OTHER
    assert tiny_encoder.decode("industry", NAN) is None


def test_max_categories_keeps_the_most_frequent(
    tiny_spec: DatasetSpec, tiny_frame: pd.DataFrame
) -> None:
    encoder = FeatureEncoder(tiny_spec, min_category_count=1, max_categories=1).fit(tiny_frame)
    assert encoder.categories_["industry"] == ["Retail"]
    codes = encoder.transform(tiny_frame)[:, 1]
    np.testing.assert_array_equal(codes, [0.0, 0.0, 0.0, 1.0, 1.0, 1.0])


def test_absent_record_keys_are_missing(tiny_encoder: FeatureEncoder) -> None:
    encoded = tiny_encoder.transform_records([{"industry": "Retail"}, {}])
    np.testing.assert_array_equal(encoded, [[NAN, 1.0, NAN, NAN], [NAN, NAN, NAN, NAN]])


@pytest.mark.parametrize("dropped", ["employees", "industry", "title", "demo"])
def test_missing_column_is_named(
    tiny_spec: DatasetSpec, tiny_encoder: FeatureEncoder, tiny_frame: pd.DataFrame, dropped: str
) -> None:
    frame = tiny_frame.drop(columns=[dropped])
    message = f"data is missing column(s) the spec needs: '{dropped}'"
    with pytest.raises(LeadscoreError) as on_fit:
        FeatureEncoder(tiny_spec).fit(frame)
    assert str(on_fit.value) == message
    with pytest.raises(LeadscoreError) as on_transform:
        tiny_encoder.transform(frame)
    assert str(on_transform.value) == message


def test_unreadable_value_names_column_and_value(
    tiny_encoder: FeatureEncoder, tiny_frame: pd.DataFrame
) -> None:
    frame = tiny_frame.assign(demo=["true", "no", "", "1", "perhaps", "yes"])
    with pytest.raises(LeadscoreError, match="column 'demo': cannot read 'perhaps'"):
        tiny_encoder.transform(frame)
    with pytest.raises(LeadscoreError, match="column 'demo': cannot read 'perhaps'"):
        tiny_encoder.transform_records(records(frame))


def test_round_trip_through_dict_gives_identical_transforms(
    tiny_spec: DatasetSpec, tiny_encoder: FeatureEncoder, tiny_frame: pd.DataFrame
) -> None:
    restored = FeatureEncoder.from_dict(tiny_spec, json.loads(json.dumps(tiny_encoder.to_dict())))
    assert restored.to_dict() == tiny_encoder.to_dict()
    industries: list[Any] = ["Government", None, "Retail", "Maritime", "", "x"]
    unseen = tiny_frame.assign(industry=industries)
    for frame in (tiny_frame, unseen):
        np.testing.assert_array_equal(restored.transform(frame), tiny_encoder.transform(frame))
        rows = records(frame)
        np.testing.assert_array_equal(
            restored.transform_records(rows), tiny_encoder.transform_records(rows)
        )


# -- the typical training lead (what reasons compare a lead's value with) ---------------------


def test_fit_keeps_each_features_typical_value(tiny_encoder: FeatureEncoder) -> None:
    assert tiny_encoder.reference_ == {
        # the median of 7, 10, 300 and 1000 as one of them (never 155), read from plain text
        "employees": 10.0,
        # " Retail " reads as Retail: three of six
        "industry": "Retail",
        # most leads' title is rare ("other"): no typical category
        "seniority": None,
        # three yes (true, 1, yes) against two no; the empty value does not vote
        "demo": True,
    }


def test_a_typical_number_read_from_a_range_keeps_its_text(tiny_spec: DatasetSpec) -> None:
    frame = pd.DataFrame(
        {
            "employees": ["1-5", " 25-50", "25-50", "1000+", "25-50", ""],
            "industry": ["Retail", "", "", "", "Logistics", "Retail"],
            "title": [""] * 6,
            "demo": ["no", "yes", "no", "yes", "", ""],
        }
    )
    encoder = FeatureEncoder(tiny_spec, min_category_count=1).fit(frame)
    # the median of 3, 37.5, 37.5, 1000, 37.5 is 37.5, most often written "25-50"; a missing
    # industry is the most common "value": no typical industry; a tie of yes and no: none
    assert encoder.reference_ == {
        "employees": "25-50",
        "industry": None,
        "seniority": None,
        "demo": None,
    }
    restored = FeatureEncoder.from_dict(tiny_spec, json.loads(json.dumps(encoder.to_dict())))
    assert restored.reference_ == encoder.reference_


def test_typical_days_need_the_rows_moments(timed: FeatureEncoder) -> None:
    frame = pd.DataFrame(
        {
            "industry": ["Retail"] * 5,
            "last_visit": ["2025-03-13T12:00:00Z", "2025-03-04T12:00:00Z", "", "2025-03-12", ""],
            "form": ["Demo request", "", "", "", ""],
        }
    )
    spec = timed.spec
    without = FeatureEncoder(spec, min_category_count=1).fit(frame)
    assert without.reference_["days_since_visit"] is None  # no moment: no days
    at_moment = FeatureEncoder(spec, min_category_count=1).fit(frame, AsOf(AS_OF))
    # 1, 10 and 2.5 days before the moment: the median is 2.5
    assert at_moment.reference_ == {
        "industry": "Retail",
        "days_since_visit": 2.5,
        "last_form": None,  # most leads submitted no form
    }
    # per row, as training examples are: the third visit is counted from a day later
    moments = AsOf(np.array([AS_OF, AS_OF, AS_OF, AS_OF + NS_PER_DAY, AS_OF]))
    per_row = FeatureEncoder(spec, min_category_count=1).fit(frame, moments)
    assert per_row.reference_["days_since_visit"] == 3.5
    # the typical values change no code of the matrix
    np.testing.assert_array_equal(
        at_moment.transform(frame, AsOf(AS_OF)), without.transform(frame, AsOf(AS_OF))
    )


def test_a_bundle_saved_before_typical_values_has_none(
    tiny_spec: DatasetSpec, tiny_encoder: FeatureEncoder
) -> None:
    old = {k: v for k, v in tiny_encoder.to_dict().items() if k != "reference"}
    assert FeatureEncoder.from_dict(tiny_spec, old).reference_ == dict.fromkeys(
        ["employees", "industry", "seniority", "demo"]
    )
    # a value of the wrong kind for its feature is no typical value either
    odd = {
        **old,
        "reference": {"employees": "lots", "industry": 3, "seniority": None, "demo": "yes"},
    }
    assert set(FeatureEncoder.from_dict(tiny_spec, odd).reference_.values()) == {None}


# -- batch and record paths agree on realistic leads --------------------------------------------


def as_typed(frame: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """CRM text with numbers as numbers (ints when whole) and booleans as bools.

    Text that is not a plain number (``100-500``, ``1000+``) stays text, so numeric
    columns with ranges become mixed-type object columns.
    """
    typed = frame.copy()
    for feature in spec.features:
        if feature.derive is not None:
            continue
        text = frame[feature.source]
        if feature.type is FeatureType.numeric:
            numbers = pd.to_numeric(text, errors="coerce")
            if numbers.notna().all() and (numbers % 1 == 0).all():
                typed[feature.source] = numbers.astype("int64")
            elif numbers[text != ""].notna().all():
                typed[feature.source] = numbers.astype("float64")
            else:
                typed[feature.source] = pd.Series(
                    [
                        n if not math.isnan(n) else (t or None)
                        for n, t in zip(numbers, text, strict=True)
                    ],
                    index=text.index,
                    dtype=object,
                )
        elif feature.type is FeatureType.boolean:
            typed[feature.source] = text.map({"true": True, "false": False, "": None}).astype(
                object
            )
        else:
            typed[feature.source] = text.where(text != "", None).astype(object)
    return typed


@pytest.fixture(scope="module")
def fitted(small_leads: pd.DataFrame, hubspot_spec: DatasetSpec) -> FeatureEncoder:
    return FeatureEncoder(hubspot_spec).fit(small_leads)


# The generated export is taken at the end of 2026-06-30: its leads are encoded as of then
# (an implicit now would differ between two calls).
EXPORT = AsOf.of("2026-07-01T00:00:00Z")


def assert_same_encoding(batch: np.ndarray, records: np.ndarray) -> None:
    assert batch.shape == records.shape
    np.testing.assert_array_equal(np.isnan(batch), np.isnan(records))
    np.testing.assert_array_equal(batch, records)


def test_batch_equals_records_on_crm_text(
    small_leads: pd.DataFrame, fitted: FeatureEncoder
) -> None:
    rows = small_leads.head(300)
    batch = fitted.transform(rows, EXPORT)
    assert batch.shape == (300, 19)
    # the comparison covers missing values, ranges and days since a timestamp
    assert np.isnan(batch).any(axis=0).sum() >= 6
    assert (batch[:, 0] == 300.0).any()
    days = batch[:, fitted.feature_names_.index("days_since_last_visit")]
    assert np.nanmin(days) >= 0 and np.nanmax(days) > 30
    assert_same_encoding(batch, fitted.transform_records(records(rows), EXPORT))


def test_batch_equals_records_on_typed_values(
    small_leads: pd.DataFrame, hubspot_spec: DatasetSpec, fitted: FeatureEncoder
) -> None:
    text_rows = small_leads.head(300)
    rows = as_typed(text_rows, hubspot_spec)
    assert rows["annualrevenue"].dtype == "float64"
    assert rows["hs_email_open"].dtype == "int64"
    assert rows["numemployees"].dtype == object
    batch = fitted.transform(rows, EXPORT)
    assert_same_encoding(batch, fitted.transform_records(records(rows), EXPORT))
    # a typed export and a text export of the same leads encode the same
    assert_same_encoding(batch, fitted.transform(text_rows, EXPORT))


TEXTS = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "NA",
            "Unknown",
            "3.0",
            "-12.000",
            " 7.0 ",
            "x.0",
            "4.5",
            "1e3",
            "Retail",
            " Retail ",
            "RETAIL",
            "None",
        ]
    ),
    st.text(max_size=6),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(TEXTS, st.none()), min_size=0, max_size=150))
def test_read_categories_equals_to_category_value_by_value(values: list[str | None]) -> None:
    missing = {"", "NA", "Unknown"}
    expected = [to_category(v, "c", missing) for v in values]
    for series in (pd.Series(values, dtype="str"), pd.Series(values, dtype=object)):
        assert read_categories(series, "c", missing).tolist() == expected
    numbers = pd.Series([3.0, 2.5, math.nan, -1.0, 1e6] * 20)
    assert read_categories(numbers, "c", missing).tolist() == [
        to_category(v, "c", missing) for v in numbers
    ]


@pytest.mark.parametrize("size", [3, 64, 65, 500])
def test_read_each_equals_reading_value_by_value(size: int) -> None:
    values = (["x", None, math.nan, "y", 3, "x", " y", 2.5] * 63)[:size]
    calls: list[Any] = []

    def read(value: Any) -> str:  # like every reader: None and NaN both mean missing
        calls.append(value)
        return "missing" if value is None or value != value else repr(value)

    expected = [read(v) for v in values]
    for given_as in (values, np.array(values, dtype=object), pd.Series(values, dtype=object)):
        calls.clear()
        out = read_each(given_as, read)
        assert out.dtype == object and out.tolist() == expected
        if size > 64:  # a large batch reads each distinct value once, and missing once
            assert len(calls) == 6


def test_read_each_reads_unhashable_values_one_by_one() -> None:
    values = [["a", "list"], {"a": "dict"}, "x"] * 30
    assert read_each(values, repr).tolist() == [repr(v) for v in values]
    assert read_each(np.array([*values, None], dtype=object)[:-1], repr).tolist() == [
        repr(v) for v in values
    ]


NUMBER_TEXTS = [
    *("12", "-0", "0", "007", "1.5", "-2.25", "11328500.00", "0.1", "3.14159265358979"),
    *("123456789012345", "1234567890123456", "12345678901234567890", "99999999999999.9"),
    *("1e5", " 3 ", "+4", "1.", ".5", "100-500", "1000+", "1_000", "١٢", "nan", "\u00a07"),
    *("", "N/A", "-1", None),
]


@pytest.mark.parametrize("dtype", ["string[pyarrow]", "string[python]", "str"])
def test_number_text_is_read_as_to_number_reads_it(dtype: str) -> None:
    """Plain decimals are cast by Arrow in one go: the same floats as `to_number`,
    missing markers that look like numbers included."""
    from features.build import read_column
    from features.coerce import to_number
    from features.spec import FeatureSpec

    feature = FeatureSpec(name="revenue", type=FeatureType.numeric)
    missing = {"", "N/A", "-1"}
    values = pd.Series(NUMBER_TEXTS * 5, dtype=dtype)
    read = read_column(feature, values, missing).to_numpy()
    expected = np.array([to_number(v, "revenue", missing) for v in values.tolist()], dtype=float)
    np.testing.assert_array_equal(read, expected)  # NaN where NaN, -0 as -0
    assert np.signbit(read[1]) and not np.signbit(read[2])
    with pytest.raises(LeadscoreError, match=r"'revenue'.*'lots'"):
        read_column(feature, pd.Series([*NUMBER_TEXTS * 5, "lots"], dtype=dtype), missing)


GROUPED_TEXTS = {
    ".": [
        *("13,000", "1,234,567.89", "-1,234", "999,999,999,999.5", "1,234,567,890,123.5"),
        *("1,000-5,000", "1,000+", "12,34", "1,0000", "1,5", "+1,000", " 1,000 ", "9,990"),
    ],
    ",": [
        *("1.234,56", "0,5", "-0,25", "1.234", "1.234.567", "1234", "999.999.999.999,5"),
        *("1,5-2,5", "1.000+", "7", "-0", "1.2345", "9.990", "1.234.567.890.123,5"),
    ],
}


@pytest.mark.parametrize("dtype", ["string[pyarrow]", "object"])
@pytest.mark.parametrize("decimal", [".", ","])
def test_grouped_number_text_is_read_as_to_number_reads_it(decimal: str, dtype: str) -> None:
    """Thousands separators and decimal commas: Arrow's fast path (over 64 values of a
    text column) and the scalar reader agree, value for value, refusals included."""
    from features.build import read_column
    from features.coerce import NumberFormat, to_number
    from features.spec import FeatureSpec

    numbers = NumberFormat(decimal, "," if decimal == "." else ".")
    feature = FeatureSpec(name="revenue", type=FeatureType.numeric)
    missing = {"", "N/A", "-1"}
    texts = [*GROUPED_TEXTS[decimal], "", "N/A", "-1", None]

    def scalar(value: Any) -> float:
        try:
            return to_number(value, "revenue", missing, numbers)
        except LeadscoreError:
            return -123.0

    readable = [t for t in texts if scalar(t) != -123.0]
    assert len(readable) < len(texts)  # some are refused: they must be refused in a batch too
    values = pd.Series(readable * 10, dtype=dtype)
    read = read_column(feature, values, missing, numbers).to_numpy()
    np.testing.assert_array_equal(read, [scalar(v) for v in values.tolist()])
    refused = next(t for t in texts if scalar(t) == -123.0)
    with pytest.raises(LeadscoreError, match=f"'revenue'.*{refused!r}"):
        read_column(feature, pd.Series([*readable * 10, refused], dtype=dtype), missing, numbers)


@pytest.fixture(scope="module")
def foreign_spec() -> DatasetSpec:
    """A German export: decimal commas, a sentinel 999, a context feature."""
    return parse_spec(
        {
            "name": "foreign",
            "id": "client_id",
            "time": {"column": "contacted"},
            "label": {"column": "y"},
            "csv": {"delimiter": ";", "decimal": ","},
            "missing_values": ["unknown"],
            "fit": [
                {"name": "age", "type": "numeric"},
                {"name": "job", "type": "categorical"},
            ],
            "interest": [
                {"name": "pdays", "type": "numeric", "missing": ["999"]},
                {"name": "poutcome", "type": "categorical", "missing": ["nonexistent"]},
                {"name": "cellular", "type": "boolean", "missing": ["-1"]},
            ],
            "context": [{"name": "euribor3m", "type": "numeric"}],
        }
    )


def test_feature_missing_values_and_decimal_commas_in_both_paths(
    foreign_spec: DatasetSpec,
) -> None:
    frame = pd.DataFrame(
        {
            "age": ["41", "1.041", "unknown", "35", "58"],
            "job": ["admin.", "admin.", "unknown", "student", "admin."],
            "pdays": ["999", "6", "3", "999,0", "1.000"],
            "poutcome": ["nonexistent", "success", "failure", "success", "nonexistent"],
            "cellular": ["yes", "no", "-1", "", "yes"],
            "euribor3m": ["4,857", "1,313", "0,634", "4,857", "5"],
        }
    )
    encoder = FeatureEncoder(foreign_spec, min_category_count=1).fit(frame)
    assert encoder.feature_names_ == ["age", "job", "pdays", "poutcome", "cellular", "euribor3m"]
    success, failure = (
        float(encoder.categories_["poutcome"].index(c)) for c in ("success", "failure")
    )
    expected = np.array(
        [
            [41.0, 0.0, NAN, NAN, 1.0, 4.857],
            [1041.0, 0.0, 6.0, success, 0.0, 1.313],
            [NAN, NAN, 3.0, failure, NAN, 0.634],
            [35.0, 1.0, NAN, success, NAN, 4.857],
            [58.0, 0.0, 1000.0, NAN, 1.0, 5.0],
        ]
    )
    np.testing.assert_array_equal(encoder.transform(frame), expected)
    np.testing.assert_array_equal(encoder.transform_records(records(frame)), expected)
    # the sentinel sent as a number (JSON, a typed column) is missing too
    typed = frame.assign(pdays=[999, 6, 3, 999, 1000])
    np.testing.assert_array_equal(encoder.transform(typed), expected)
    sent = [999, 6, 3, 999.0, 1000]
    as_json = [{**r, "pdays": v} for r, v in zip(records(frame), sent, strict=True)]
    np.testing.assert_array_equal(encoder.transform_records(as_json), expected)
    # a long column goes through Arrow's fast path: the same reading
    long = pd.concat([frame] * 30, ignore_index=True).astype("string[pyarrow]")
    np.testing.assert_array_equal(encoder.transform(long), np.tile(expected, (30, 1)))


def test_sentinels_belong_to_their_feature_only(foreign_spec: DatasetSpec) -> None:
    """`missing: ["999"]` on pdays leaves 999 in another column a number."""
    frame = pd.DataFrame(
        {
            "age": ["999"],
            "job": ["admin."],
            "pdays": ["999"],
            "poutcome": ["success"],
            "cellular": ["yes"],
            "euribor3m": ["999"],
        }
    )
    x = FeatureEncoder(foreign_spec, min_category_count=1).fit(frame).transform(frame)
    assert x[0, 0] == 999.0 and math.isnan(x[0, 2]) and x[0, 5] == 999.0


def test_a_decimal_point_in_a_decimal_comma_export_is_refused(foreign_spec: DatasetSpec) -> None:
    frame = pd.DataFrame(
        {
            "age": ["41"],
            "job": ["admin."],
            "pdays": ["6"],
            "poutcome": ["success"],
            "cellular": ["yes"],
            "euribor3m": ["4.85"],  # ("4.857" is 4857 in a German export)
        }
    )
    encoder = FeatureEncoder(foreign_spec, min_category_count=1)
    with pytest.raises(LeadscoreError, match=r"'euribor3m': cannot read '4\.85'.*decimal ','"):
        encoder.fit(frame).transform(frame)


def test_a_file_read_with_the_wrong_delimiter_is_named(tiny_spec: DatasetSpec) -> None:
    frame = pd.DataFrame({"lead_id;employees;industry;title;demo": ["a;1;Retail;CEO;yes"]})
    with pytest.raises(LeadscoreError) as caught:
        FeatureEncoder(tiny_spec).fit(frame)
    assert "it looks like a ';'-separated file" in str(caught.value)


def test_a_feature_reading_another_feature_is_named(tiny_dict_spec: dict[str, Any]) -> None:
    """`column: seniority` names the derived feature, not a column of the file."""
    tiny_dict_spec["interest"].append(
        {"name": "x", "column": "seniority", "derive": "seniority", "type": "categorical"}
    )
    spec = parse_spec(tiny_dict_spec)
    frame = pd.DataFrame(
        {"employees": ["1"], "industry": ["Retail"], "title": ["CEO"], "demo": ["yes"]}
    )
    with pytest.raises(LeadscoreError) as caught:
        FeatureEncoder(spec).fit(frame)
    assert str(caught.value) == (
        "data is missing column(s) the spec needs: 'seniority'. 'seniority' is not a column "
        "of the file but the name of feature 'seniority', derived (seniority) from column "
        "'title'; feature(s) 'x' must name a raw column of the export (e.g. column: title), "
        "not another feature"
    )


# -- time: days since a timestamp, as of a moment -------------------------------------------

AS_OF = 1_741_953_600 * 10**9  # 2025-03-14T12:00:00Z


@pytest.fixture(scope="module")
def timed() -> FeatureEncoder:
    """A days-since feature and a form-name feature."""
    spec = parse_spec(
        {
            "name": "timed",
            "id": "lead_id",
            "time": {"column": "created"},
            "label": {"column": "won"},
            "fit": [{"name": "industry", "type": "categorical"}],
            "interest": [
                {
                    "name": "days_since_visit",
                    "column": "last_visit",
                    "derive": "days_since",
                    "type": "numeric",
                },
                {
                    "name": "last_form",
                    "column": "form",
                    "derive": "event_name",
                    "type": "categorical",
                },
            ],
        }
    )
    frame = pd.DataFrame(
        {
            "industry": ["Retail"] * 4,
            "last_visit": [""] * 4,
            "form": ["Demo request", "Book a demo", "E-Book: Guide", "Whitepaper: X"],
        }
    )
    return FeatureEncoder(spec, min_category_count=2).fit(frame)


def test_days_since_and_event_name_encode_alike_in_both_paths(timed: FeatureEncoder) -> None:
    assert timed.categories_ == {
        "industry": ["Retail"],
        "last_form": ["content download", "demo request"],
    }
    frame = pd.DataFrame(
        {
            "industry": ["Retail", "Retail", "Retail", "Retail", "Retail"],
            "last_visit": [
                "2025-03-13T12:00:00Z",  # a day before
                str((AS_OF - NS_PER_DAY // 2) // 10**6),  # half a day before, in epoch ms
                "2025-03-14T14:00:00+02:00",  # the moment itself
                "",
                "2025-03-04",
            ],
            "form": ["Demo anfordern", "Leitfaden herunterladen", "Contact sales", "", "Survey"],
        }
    )
    expected = np.array(
        [[0.0, 1.0, 1.0], [0.0, 0.5, 0.0], [0.0, 0.0, 2.0], [0.0, NAN, NAN], [0.0, 10.5, 2.0]]
    )
    as_of = AsOf(AS_OF)
    np.testing.assert_array_equal(timed.transform(frame, as_of), expected)
    np.testing.assert_array_equal(timed.transform_records(records(frame), as_of), expected)
    rows = AsOf(np.array([AS_OF, AS_OF, AS_OF + NS_PER_DAY, AS_OF, AS_OF]))
    np.testing.assert_array_equal(timed.transform(frame, rows)[:, 1], [1.0, 0.5, 1.0, NAN, 10.5])


@pytest.mark.parametrize("row", [0, 2])
def test_a_future_timestamp_names_column_and_row_in_both_paths(
    timed: FeatureEncoder, row: int
) -> None:
    visits = ["2025-03-13T12:00:00Z"] * 3
    visits[row] = "2025-03-15T00:00:00Z"
    frame = pd.DataFrame({"industry": ["Retail"] * 3, "last_visit": visits, "form": [""] * 3})
    for encode in (timed.transform, lambda f, a: timed.transform_records(records(f), a)):
        with pytest.raises(FutureTimestampError) as caught:
            encode(frame, AsOf(AS_OF))
        error = caught.value
        assert (error.column, error.row, error.value) == ("last_visit", row, visits[row])
        assert str(error) == (
            "column 'last_visit': cannot read '2025-03-15T00:00:00Z' as a time at or before "
            f"as_of {iso(AS_OF)}"
        )
