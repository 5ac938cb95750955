"""Dataset spec validation: the built-in specs load; every mistake names its key."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from features.errors import LeadscoreError
from features.spec import (
    DatasetSpec,
    FeatureType,
    builtin_spec_path,
    load_spec,
    parse_spec,
    resolve_spec,
)

Edit = Callable[[dict[str, Any]], None]

_HUBSPOT = yaml.safe_load(builtin_spec_path("hubspot").read_text(encoding="utf-8"))


@pytest.fixture
def hubspot_dict() -> dict[str, Any]:
    """A fresh, editable copy of the built-in HubSpot spec."""
    return copy.deepcopy(_HUBSPOT)


def test_hubspot_spec_loads(hubspot_spec: DatasetSpec) -> None:
    assert hubspot_spec.name == "hubspot-contacts"
    assert hubspot_spec.id == "hs_object_id"
    assert (hubspot_spec.time.column, hubspot_spec.time.kind) == ("createdate", "datetime")
    assert hubspot_spec.label.from_date == "hs_lifecyclestage_salesqualifiedlead_date"
    assert hubspot_spec.label.within_days == 90
    assert len(hubspot_spec.fit) == 6 and len(hubspot_spec.interest) == 11
    seniority = next(f for f in hubspot_spec.fit if f.name == "seniority")
    assert (seniority.source, seniority.type) == ("jobtitle", FeatureType.categorical)
    assert {"Select", "", "NaN"} <= hubspot_spec.missing_tokens
    assert hubspot_spec.required_columns[:3] == [
        "hs_object_id",
        "createdate",
        "hs_lifecyclestage_salesqualifiedlead_date",
    ]


def test_x_education_spec_loads() -> None:
    spec = resolve_spec("x-education")
    assert spec.id == "Prospect ID"
    assert (spec.time.column, spec.time.kind) == ("Lead Number", "ordinal")
    assert spec.label.column == "Converted" and spec.label.from_date is None
    assert "Tags" in spec.leaky_columns
    assert "Tags" not in spec.feature_columns
    assert len(spec.features) == 17


def test_resolve_spec_reads_a_path(hubspot_dict: dict[str, Any], tmp_path: Path) -> None:
    hubspot_dict["name"] = "my-crm"
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(hubspot_dict))
    assert resolve_spec(path).name == "my-crm"
    assert resolve_spec(str(path)) == load_spec(path)


def _set(path: str, value: Any) -> Edit:
    """An edit that sets a dotted key (list positions as numbers) to a value."""
    *parents, last = path.split(".")

    def edit(spec: dict[str, Any]) -> None:
        node: Any = spec
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[int(last) if isinstance(node, list) else last] = value

    return edit


def _delete(key: str) -> Edit:
    return lambda spec: spec.pop(key)


def _add_feature(group: str, feature: dict[str, Any]) -> Edit:
    return lambda spec: spec[group].append(feature)


# (edit, the key the error line starts with, what that line must say)
@pytest.mark.parametrize(
    ("edit", "key", "says"),
    [
        pytest.param(
            _set("fit.1.type", "money"),
            "fit.1.type",
            "'numeric', 'categorical' or",
            id="bad-feature-type",
        ),
        pytest.param(
            _set("interest.0.monotone", "up"),
            "interest.0.monotone",
            "'increasing'",
            id="bad-monotone",
        ),
        pytest.param(
            _set("colour", "blue"),
            "colour",
            "Extra inputs are not permitted",
            id="unknown-top-level-key",
        ),
        pytest.param(
            _set("fit.0.bogus", 1),
            "fit.0.bogus",
            "Extra inputs are not permitted",
            id="unknown-feature-key",
        ),
        pytest.param(_delete("id"), "id", "Field required", id="missing-id"),
        pytest.param(_delete("time"), "time", "Field required", id="missing-time"),
        pytest.param(_set("id", ""), "id", "at least 1 character", id="empty-id"),
        pytest.param(
            _set("time.kind", "weekly"), "time.kind", "'datetime' or 'ordinal'", id="bad-time-kind"
        ),
        pytest.param(
            _set("label", {"column": "converted", "from_date": "closedate", "within_days": 30}),
            "label",
            "exactly one of `column`",
            id="label-column-and-from-date",
        ),
        pytest.param(_set("label", {}), "label", "exactly one of `column`", id="label-empty"),
        pytest.param(
            _set("label", {"from_date": "closedate"}),
            "label",
            "`from_date` needs `within_days`",
            id="from-date-without-days",
        ),
        pytest.param(
            _set("label", {"column": "converted", "within_days": 30}),
            "label",
            "`within_days` only applies",
            id="within-days-with-column",
        ),
        pytest.param(
            _set("label.within_days", 0),
            "label.within_days",
            "greater than 0",
            id="within-days-zero",
        ),
        pytest.param(_set("fit", []), "fit", "at least 1 item", id="no-fit-features"),
        pytest.param(
            _set("interest.0.name", ""),
            "interest.0.name",
            "at least 1 character",
            id="empty-feature-name",
        ),
        pytest.param(
            _add_feature("interest", {"name": "lifecyclestage", "type": "categorical"}),
            "(top level)",
            "uses column 'lifecyclestage', which the spec lists in leaky_columns",
            id="leaky-column-as-feature",
        ),
        pytest.param(
            _add_feature(
                "fit", {"name": "status", "column": "hs_lead_status", "type": "categorical"}
            ),
            "(top level)",
            "feature 'status' uses column 'hs_lead_status', which the spec lists in leaky_columns",
            id="leaky-column-renamed",
        ),
        pytest.param(
            _add_feature("fit", {"name": "lead_id", "column": "hs_object_id", "type": "numeric"}),
            "(top level)",
            "uses column 'hs_object_id', which is the id, time or label",
            id="feature-on-id",
        ),
        pytest.param(
            _add_feature(
                "interest",
                {
                    "name": "sql",
                    "column": "hs_lifecyclestage_salesqualifiedlead_date",
                    "type": "numeric",
                },
            ),
            "(top level)",
            "uses column 'hs_lifecyclestage_salesqualifiedlead_date', "
            "which is the id, time or label",
            id="feature-on-label-date",
        ),
        pytest.param(
            lambda spec: (
                _set("label", {"column": "won"})(spec),
                _add_feature("fit", {"name": "won", "type": "boolean"})(spec),
            ),
            "(top level)",
            "uses column 'won', which is the id, time or label",
            id="feature-on-label-column",
        ),
        pytest.param(
            _add_feature("fit", {"name": "createdate", "type": "numeric"}),
            "(top level)",
            "uses column 'createdate', which is the id, time or label",
            id="feature-on-time",
        ),
        pytest.param(
            _add_feature(
                "interest", {"name": "industry", "column": "jobtitle", "type": "categorical"}
            ),
            "(top level)",
            "feature name 'industry' is used twice",
            id="duplicate-name-across-groups",
        ),
        pytest.param(
            _set("fit.4.type", "numeric"),
            "fit.4",
            "a derived feature (seniority) must have type categorical",
            id="derived-not-categorical",
        ),
        pytest.param(
            _set("fit.2.monotone", "increasing"),
            "fit.2",
            "monotone applies to numeric or boolean",
            id="monotone-categorical",
        ),
        pytest.param(
            _set("fit.4.derive", "zodiac"),
            "fit.4.derive",
            "'seniority' or 'email_domain_type'",
            id="unknown-derivation",
        ),
    ],
)
def test_spec_mistakes_name_the_key(
    hubspot_dict: dict[str, Any], edit: Edit, key: str, says: str
) -> None:
    edit(hubspot_dict)
    with pytest.raises(LeadscoreError) as caught:
        parse_spec(hubspot_dict, "mine.yaml")
    header, *lines = str(caught.value).splitlines()
    assert header == "invalid dataset spec mine.yaml:"
    assert len(lines) == 1
    assert lines[0].startswith(f"  {key}: ")
    assert says in lines[0]


def test_bad_key_is_named_with_its_position(hubspot_dict: dict[str, Any]) -> None:
    hubspot_dict["fit"][1]["type"] = "money"
    with pytest.raises(LeadscoreError) as caught:
        parse_spec(hubspot_dict)
    assert "  fit.1.type: " in str(caught.value)
    assert "fit.0" not in str(caught.value)


def test_every_mistake_is_listed(hubspot_dict: dict[str, Any]) -> None:
    del hubspot_dict["id"]
    hubspot_dict["fit"][1]["type"] = "money"
    hubspot_dict["colour"] = "blue"
    with pytest.raises(LeadscoreError) as caught:
        parse_spec(hubspot_dict)
    lines = str(caught.value).splitlines()[1:]
    assert sorted(line.split(":")[0].strip() for line in lines) == ["colour", "fit.1.type", "id"]


@pytest.mark.parametrize("data", [None, [], "hubspot", 3], ids=["none", "list", "text", "int"])
def test_spec_must_be_a_mapping(data: Any) -> None:
    with pytest.raises(LeadscoreError, match=r"mine\.yaml: expected a mapping"):
        parse_spec(data, "mine.yaml")


def test_spec_file_not_found(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(LeadscoreError) as caught:
        resolve_spec(path)
    assert str(caught.value) == f"spec file not found: {path}"


def test_unknown_builtin_spec() -> None:
    with pytest.raises(LeadscoreError, match="no built-in spec named 'salesforce'"):
        resolve_spec("salesforce")


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("name: [unclosed\n", id="unclosed-bracket"),
        pytest.param("name: a\n  id: b\n:\n", id="bad-indent"),
        pytest.param("fit: {name: x, type: numeric\n", id="unclosed-brace"),
    ],
)
def test_spec_file_with_invalid_yaml(tmp_path: Path, text: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(LeadscoreError) as caught:
        load_spec(path)
    assert str(caught.value).startswith(f"spec file {path} is not valid YAML")


def test_spec_file_mistake_names_the_file(hubspot_dict: dict[str, Any], tmp_path: Path) -> None:
    del hubspot_dict["id"]
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(hubspot_dict))
    with pytest.raises(LeadscoreError) as caught:
        load_spec(path)
    assert str(caught.value).splitlines() == [
        f"invalid dataset spec {path}:",
        "  id: Field required",
    ]
