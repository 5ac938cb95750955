"""Dataset spec validation: the built-in specs load; every mistake names its key."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from features.coerce import NumberFormat
from features.errors import LeadscoreError
from features.spec import (
    CsvSpec,
    DatasetSpec,
    Derivation,
    EventsSpec,
    FeatureType,
    Group,
    builtin_spec_path,
    builtin_specs,
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
    assert [f.name for f in hubspot_spec.fit] == [
        "numemployees",
        "annualrevenue",
        "industry",
        "country",
        "seniority",
        "email_domain_type",
    ]
    assert [f.name for f in hubspot_spec.interest] == [
        "hs_analytics_num_visits",
        "hs_analytics_num_page_views",
        "days_since_last_visit",
        "days_since_first_visit",
        "hs_email_open",
        "hs_email_click",
        "days_since_last_email_open",
        "num_conversion_events",
        "num_unique_conversion_events",
        "days_since_last_form",
        "recent_conversion",
        "first_conversion",
        "hs_analytics_source",
    ]
    assert {"demo_requested", "pricing_page_views"}.isdisjoint(hubspot_spec.feature_columns)
    seniority = next(f for f in hubspot_spec.fit if f.name == "seniority")
    assert (seniority.source, seniority.type) == ("jobtitle", FeatureType.categorical)
    recent = next(f for f in hubspot_spec.interest if f.name == "recent_conversion")
    assert (recent.source, recent.derive, recent.type) == (
        "recent_conversion_event_name",
        Derivation.event_name,
        FeatureType.categorical,
    )
    assert {"Select", "", "NaN"} <= hubspot_spec.missing_tokens
    assert hubspot_spec.required_columns[:3] == [
        "hs_object_id",
        "createdate",
        "hs_lifecyclestage_salesqualifiedlead_date",
    ]
    assert hubspot_spec.timestamp_columns == [
        "hs_analytics_last_visit_timestamp",
        "hs_analytics_first_visit_timestamp",
        "hs_email_last_open_date",
        "recent_conversion_date",
    ]


def test_hubspot_spec_events(hubspot_spec: DatasetSpec) -> None:
    events = hubspot_spec.events
    assert events is not None
    assert (events.id, events.time, events.type, events.value) == (
        "hs_object_id",
        "timestamp",
        "event_type",
        "event_value",
    )
    assert set(events.kinds) == {
        "visit",
        "page_view",
        "pricing_view",
        "email_open",
        "email_click",
        "form",
    }
    assert events.kinds["pricing_view"].value_contains == ["/pricing"]
    assert (events.windows, events.windowed_kinds, events.window_features()) == ([], [], [])
    assert {name: (r.how, r.kind) for name, r in events.properties.items()} == {
        "hs_analytics_num_visits": ("count", "visit"),
        "hs_analytics_num_page_views": ("count", "page_view"),
        "hs_analytics_first_visit_timestamp": ("first", "visit"),
        "hs_analytics_last_visit_timestamp": ("last", "visit"),
        "hs_email_open": ("count", "email_open"),
        "hs_email_click": ("count", "email_click"),
        "hs_email_last_open_date": ("last", "email_open"),
        "hs_email_last_click_date": ("last", "email_click"),
        "num_conversion_events": ("count", "form"),
        "num_unique_conversion_events": ("count_distinct", "form"),
        "first_conversion_event_name": ("first_value", "form"),
        "recent_conversion_event_name": ("last_value", "form"),
        "first_conversion_date": ("first", "form"),
        "recent_conversion_date": ("last", "form"),
    }
    assert hubspot_spec.event_columns == list(events.properties)
    assert not hubspot_spec.needs_events
    # every interest feature but the original source is rebuilt from the log
    assert hubspot_spec.contact_columns(with_events=True) == [
        "numemployees",
        "annualrevenue",
        "industry",
        "country",
        "jobtitle",
        "hs_email_domain",
        "hs_analytics_source",
    ]
    assert hubspot_spec.contact_columns(with_events=False) == hubspot_spec.feature_columns


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
    return lambda spec: spec.setdefault(group, []).append(feature)


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
            "'seniority', 'email_domain_type', 'event_name' or 'days_since'",
            id="unknown-derivation",
        ),
        pytest.param(
            _add_feature(
                "interest",
                {
                    "name": "days_since_note",
                    "column": "notes_last_updated",
                    "derive": "days_since",
                    "type": "categorical",
                },
            ),
            "interest.13",
            "a derived feature (days_since) must have type numeric",
            id="days-since-not-numeric",
        ),
        pytest.param(
            _set("interest.10.type", "numeric"),
            "interest.10",
            "a derived feature (event_name) must have type categorical",
            id="event-name-not-categorical",
        ),
        pytest.param(
            _set("events.properties.hs_email_open", {"count": "email_opens"}),
            "events",
            "property 'hs_email_open' reads unknown event kind 'email_opens'",
            id="rollup-of-unknown-kind",
        ),
        pytest.param(
            _set("events.properties.hs_email_open", {"count": "email_open", "last": "email_open"}),
            "events.properties.hs_email_open",
            "give exactly one of count, count_distinct, first, last, first_value, last_value",
            id="rollup-two-ways",
        ),
        pytest.param(
            _set("events.properties.hs_email_open", {"sum": "email_open"}),
            "events.properties.hs_email_open.sum",
            "Extra inputs are not permitted",
            id="rollup-unknown-way",
        ),
        pytest.param(
            lambda spec: spec["events"].pop("value"),
            "events",
            "property 'num_unique_conversion_events' (count_distinct) needs a `value` column",
            id="value-rollup-without-value-column",
        ),
        pytest.param(
            lambda spec: (
                spec["events"].pop("value"),
                _set("events.properties", {"hs_analytics_num_visits": {"count": "visit"}})(spec),
            ),
            "events",
            "kind 'pricing_view' (value_contains) needs a `value` column",
            id="value-contains-without-value-column",
        ),
        pytest.param(
            _set("events.windows", [0, 7]),
            "events",
            "windows must be distinct positive numbers of days",
            id="window-zero",
        ),
        pytest.param(
            _set("events.windows", [7, 30, 7]),
            "events",
            "windows must be distinct positive numbers of days",
            id="window-twice",
        ),
        pytest.param(
            _set("events.windows", [-7]),
            "events",
            "windows must be distinct positive numbers of days",
            id="window-negative",
        ),
        pytest.param(
            _set("events.windows", ["a week"]),
            "events.windows.0",
            "valid integer",
            id="window-not-a-number",
        ),
        pytest.param(
            _set("events.window_kinds", ["visit"]),
            "events",
            "window_kinds needs windows",
            id="window-kinds-without-windows",
        ),
        pytest.param(
            lambda spec: spec["events"].update(windows=[7], window_kinds=["visits"]),
            "events",
            "window_kinds names unknown event kind 'visits'",
            id="window-kind-unknown",
        ),
        pytest.param(_set("events.kinds", {}), "events.kinds", "at least 1 item", id="no-kinds"),
        pytest.param(
            _set("events.kinds.visit.colour", "blue"),
            "events.kinds.visit.colour",
            "Extra inputs are not permitted",
            id="unknown-kind-key",
        ),
        pytest.param(
            _set("events.id", ""), "events.id", "at least 1 character", id="empty-events-id"
        ),
        pytest.param(
            _set("events", "events.csv"), "events", "valid dictionary", id="events-not-a-mapping"
        ),
        pytest.param(
            _set("events.properties.hs_lead_status", {"count": "visit"}),
            "(top level)",
            "events.properties rebuilds 'hs_lead_status', which is the id, time or label "
            "column or listed in leaky_columns",
            id="rollup-into-a-leaky-column",
        ),
        pytest.param(
            _set("events.properties.createdate", {"first": "visit"}),
            "(top level)",
            "events.properties rebuilds 'createdate'",
            id="rollup-into-the-time-column",
        ),
        pytest.param(
            _set("csv", {"delimiter": ";;"}),
            "csv.delimiter",
            "a delimiter is one character",
            id="csv-long-delimiter",
        ),
        pytest.param(
            _set("csv", {"decimal": ";"}), "csv.decimal", "'.' or ','", id="csv-bad-decimal"
        ),
        pytest.param(
            _set("csv", {"thousands": "x"}),
            "csv.thousands",
            "thousands must be one of",
            id="csv-bad-thousands",
        ),
        pytest.param(
            _set("csv", {"decimal": ",", "thousands": ","}),
            "csv",
            "decimal and thousands are both ','",
            id="csv-same-marks",
        ),
        pytest.param(
            _set("fit.0.missing", "999"),
            "fit.0.missing",
            "valid list",
            id="feature-missing-not-a-list",
        ),
        pytest.param(
            _add_feature("context", {"name": "lifecyclestage", "type": "categorical"}),
            "(top level)",
            "context feature 'lifecyclestage' uses column 'lifecyclestage', which the spec "
            "lists in leaky_columns",
            id="leaky-context-feature",
        ),
        pytest.param(
            _add_feature("context", {"name": "industry", "type": "categorical"}),
            "(top level)",
            "feature name 'industry' is used twice",
            id="context-feature-named-twice",
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
    with pytest.raises(LeadscoreError) as caught:
        resolve_spec("salesforce")
    assert str(caught.value) == (
        "no built-in spec named 'salesforce'; built in: hubspot, hubspot-custom, "
        "hubspot-events, salesforce-leads, x-education (or give the path of a spec file)"
    )
    assert builtin_specs() == [
        "hubspot",
        "hubspot-custom",
        "hubspot-events",
        "salesforce-leads",
        "x-education",
    ]


def test_csv_section_defaults_to_plain_english_numbers(hubspot_spec: DatasetSpec) -> None:
    assert hubspot_spec.csv == CsvSpec()
    assert hubspot_spec.csv.delimiter is None  # detected from the file
    assert hubspot_spec.numbers == NumberFormat(".", ",")
    assert CsvSpec(decimal=",").numbers == NumberFormat(",", ".")
    assert CsvSpec(decimal=",", thousands=" ").numbers == NumberFormat(",", " ")
    assert CsvSpec(delimiter="\t", thousands="'").numbers == NumberFormat(".", "'")


def test_context_features_belong_to_the_full_model_only(hubspot_dict: dict[str, Any]) -> None:
    hubspot_dict["context"] = [
        {"name": "euribor3m", "type": "numeric", "label": "Euribor 3 months"},
        {"name": "month", "type": "categorical"},
    ]
    spec = parse_spec(hubspot_dict)
    assert [f.name for f in spec.features][-3:] == ["hs_analytics_source", "euribor3m", "month"]
    assert "euribor3m" not in {f.name for f in [*spec.fit, *spec.interest]}
    assert spec.feature_columns[-2:] == ["euribor3m", "month"]
    assert spec.group_of("euribor3m") is Group.context
    assert spec.group_of("industry") is Group.fit
    assert spec.group_of("hs_email_open") is Group.interest
    with pytest.raises(LeadscoreError, match="has no feature named 'nope'"):
        spec.group_of("nope")
    # a spec without context features reads as before
    assert parse_spec(_HUBSPOT).context == []


def test_per_feature_missing_values(hubspot_dict: dict[str, Any]) -> None:
    hubspot_dict["fit"][0]["missing"] = ["999", "n/a"]
    spec = parse_spec(hubspot_dict)
    employees, revenue = spec.fit[0], spec.fit[1]
    assert spec.missing_for(employees) == spec.missing_tokens | {"999", "n/a"}
    assert spec.missing_for(revenue) == spec.missing_tokens


def test_salesforce_leads_spec_loads() -> None:
    spec = resolve_spec("salesforce-leads")
    assert (spec.id, spec.time.column, spec.label.from_date) == (
        "Id",
        "CreatedDate",
        "ConvertedDate",
    )
    assert {"Status", "IsConverted", "ConvertedOpportunityId"} <= set(spec.leaky_columns)
    assert spec.feature_columns == [
        "Title",
        "Email",
        "Industry",
        "NumberOfEmployees",
        "AnnualRevenue",
        "Country",
        "LeadSource",
        "HasOptedOutOfEmail",
    ]
    assert "--None--" in spec.missing_tokens


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


# --- window features ---------------------------------------------------------------------------


def _with_windows(data: dict[str, Any], **events: Any) -> dict[str, Any]:
    data["events"].update(events)
    return data


def test_windows_add_interest_features(hubspot_dict: dict[str, Any]) -> None:
    spec = parse_spec(
        _with_windows(hubspot_dict, windows=[30, 7], window_kinds=["visit", "pricing_view"])
    )
    added = [(f.name, f.readable, f.unit, f.type) for f in spec.interest[13:]]
    assert added == [
        ("visit_last_7d", "Website visits in the last 7 days", "visits", FeatureType.numeric),
        ("visit_last_30d", "Website visits in the last 30 days", "visits", FeatureType.numeric),
        # days_since_last_visit: the spec lists a feature of that name itself (below)
        ("pricing_view_last_7d", "Pricing page views in the last 7 days", "views", "numeric"),
        ("pricing_view_last_30d", "Pricing page views in the last 30 days", "views", "numeric"),
        (
            "days_since_last_pricing_view",
            "Days since the last pricing page view",
            "days",
            FeatureType.numeric,
        ),
        ("days_since_first_event", "Days since the first activity", "days", FeatureType.numeric),
    ]
    own = next(f for f in spec.interest if f.name == "days_since_last_visit")
    assert (own.source, own.derive) == ("hs_analytics_last_visit_timestamp", Derivation.days_since)
    assert sum(f.name == "days_since_last_visit" for f in spec.features) == 1
    assert spec.needs_events
    assert spec.event_columns == [
        *spec.events.properties,  # type: ignore[union-attr]
        "visit_last_7d",
        "visit_last_30d",
        "pricing_view_last_7d",
        "pricing_view_last_30d",
        "days_since_last_pricing_view",
        "days_since_first_event",
    ]
    assert "visit_last_7d" not in spec.contact_columns(with_events=True)
    assert "visit_last_7d" in spec.contact_columns(with_events=False)


def test_window_features_of_every_kind(hubspot_dict: dict[str, Any]) -> None:
    spec = parse_spec(_with_windows(hubspot_dict, windows=[90]))
    assert spec.events is not None and len(spec.events.windowed_kinds) == 6
    # per kind: one window and the days since the last one; one days since the first event;
    # less the three days-since features the spec has under those names (from properties)
    assert len(spec.interest) == 13 + 6 * 2 + 1 - 3
    own = {"days_since_last_visit", "days_since_last_email_open", "days_since_last_form"}
    assert own <= {f.name for f in spec.interest[:13]}
    assert own.isdisjoint(spec.event_columns)
    assert {"email_click_last_90d", "days_since_last_page_view"} <= set(spec.event_columns)


def test_window_features_are_added_once(hubspot_dict: dict[str, Any]) -> None:
    """Validating a spec again (as when a logged model's spec is read back) adds nothing."""
    spec = parse_spec(_with_windows(hubspot_dict, windows=[7, 30]))
    again = parse_spec(spec.model_dump(mode="json"))
    assert again == spec
    names = [f.name for f in again.features]
    assert len(names) == len(set(names))


def test_a_window_feature_listed_in_the_spec_keeps_its_own_entry(
    hubspot_dict: dict[str, Any],
) -> None:
    hubspot_dict["interest"].append(
        {
            "name": "visit_last_7d",
            "type": "numeric",
            "label": "Visits this week",
            "monotone": "increasing",
        }
    )
    spec = parse_spec(_with_windows(hubspot_dict, windows=[7]))
    mine = [f for f in spec.features if f.name == "visit_last_7d"]
    assert [(f.readable, f.monotone, f.unit) for f in mine] == [
        ("Visits this week", "increasing", None)
    ]
    assert "visit_last_7d" in spec.event_columns


def test_events_spec_alone() -> None:
    events = EventsSpec.model_validate(
        {
            "id": "lead",
            "time": "at",
            "type": "kind",
            "kinds": {"open": {"type": "email_open"}},
            "properties": {"opens": {"count": "open"}, "last_open": {"last": "open"}},
            "windows": [1],
        }
    )
    assert events.value is None and events.window_kinds is None
    assert [f["name"] for f in events.window_features()] == [
        "open_last_1d",
        "days_since_last_open",
        "days_since_first_event",
    ]
    assert events.window_features()[0]["label"] == "Open in the last 1 days"


# Contact properties every HubSpot portal has (HubSpot's "default contact properties"
# knowledge-base article, internal names): the default spec reads no other.
HUBSPOT_DEFAULT_PROPERTIES = frozenset(
    {
        "hs_object_id",
        "createdate",
        "hs_lifecyclestage_salesqualifiedlead_date",
        "numemployees",
        "annualrevenue",
        "industry",
        "country",
        "jobtitle",
        "hs_email_domain",
        "hs_analytics_source",
        "hs_analytics_num_visits",
        "hs_analytics_num_page_views",
        "hs_analytics_first_visit_timestamp",
        "hs_analytics_last_visit_timestamp",
        "hs_email_open",
        "hs_email_click",
        "hs_email_last_open_date",
        "hs_email_last_click_date",
        "num_conversion_events",
        "num_unique_conversion_events",
        "first_conversion_event_name",
        "recent_conversion_event_name",
        "first_conversion_date",
        "recent_conversion_date",
    }
)


def test_the_default_spec_reads_only_hubspot_default_properties(
    hubspot_spec: DatasetSpec,
) -> None:
    assert hubspot_spec.events is not None
    read = {*hubspot_spec.required_columns, *hubspot_spec.events.properties}
    assert read <= HUBSPOT_DEFAULT_PROPERTIES, read - HUBSPOT_DEFAULT_PROPERTIES
    assert not hubspot_spec.needs_events  # scores a HubSpot contact from its properties alone


def test_custom_properties_live_in_their_own_example_spec(hubspot_spec: DatasetSpec) -> None:
    custom = resolve_spec("hubspot-custom")
    extra = set(custom.feature_columns) - set(hubspot_spec.feature_columns)
    assert extra == {"demo_requested", "pricing_page_views", "webinar_attended"}
    assert not extra & HUBSPOT_DEFAULT_PROPERTIES
    demo = next(f for f in custom.interest if f.name == "demo_requested")
    assert (demo.type, demo.monotone) == (FeatureType.boolean, "increasing")
    windowed = resolve_spec("hubspot-events")
    assert windowed.needs_events and set(windowed.feature_columns) > set(
        hubspot_spec.feature_columns
    )
