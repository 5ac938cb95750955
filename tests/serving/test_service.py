"""The HTTP contract in-process (`TestClient(LeadScoring.to_asgi())`): results, and every error
path a client can cause answered with a 4xx naming the problem, never a 500."""

from __future__ import annotations

import json
import logging
from typing import Any

import pandas as pd
import pytest
from starlette.testclient import TestClient

from features.timestamps import AsOf
from models.contract import ACTION_COLUMNS, DECISION_COLUMNS
from tests.serving.support import AS_OF, Registry, crm_fixture


@pytest.fixture(scope="module")
def leads(small_leads: pd.DataFrame) -> list[dict[str, Any]]:
    """60 generated leads as HubSpot sends them (strings), extra columns included."""
    return small_leads.head(60).to_dict("records")  # type: ignore[return-value]


def score(
    client: TestClient, leads: list[dict[str, Any]], explain: bool = False, as_of: Any = AS_OF
) -> Any:
    body: dict[str, Any] = {"leads": leads, "explain": explain}
    if as_of is not None:
        body["as_of"] = as_of
    response = client.post("/score", json=body)
    assert response.status_code == 200, response.text
    return response.json()


# -- the contract --------------------------------------------------------------------------------


def test_scores_come_back_in_input_order_with_model_and_time(
    client: TestClient, leads: list[dict[str, Any]], registry: Registry
) -> None:
    body = score(client, leads)
    assert [r["id"] for r in body["results"]] == [lead["hs_object_id"] for lead in leads]
    assert body["model"] == {"name": "lead-scorer", "version": registry.version}
    assert body["scored_at"].endswith("Z") or "+00:00" in body["scored_at"]
    assert body["as_of"] == AS_OF
    for result in body["results"]:
        assert 0 <= result["probability"] <= 1
        assert result["score"] == pytest.approx(100 * result["probability"])
        for group in ("fit", "interest"):
            assert 0 <= result[group]["score"] <= 100
            assert result[group]["grade"] in {"A", "B", "C", "D"}
        recommendation = result["recommendation"]
        assert recommendation["lifecyclestage"]
        assert recommendation["rule"]
        assert result["reasons"] is None


def test_service_scores_equal_the_batch_scorer(
    client: TestClient, leads: list[dict[str, Any]], small_leads: pd.DataFrame, registry: Registry
) -> None:
    """Skew test: same lead, same numbers, whether scored over HTTP or on a DataFrame."""
    expected = registry.result.scorer.score(small_leads.head(len(leads)), as_of=AsOf.of(AS_OF))
    results = score(client, leads)["results"]
    for result, (_, row) in zip(results, expected.iterrows(), strict=True):
        assert result["id"] == row["hs_object_id"]
        assert result["probability"] == pytest.approx(row["probability"], abs=1e-12)
        assert result["fit"]["score"] == pytest.approx(row["fit"], abs=1e-10)
        assert result["interest"]["score"] == pytest.approx(row["interest"], abs=1e-10)
        assert result["fit"]["grade"] == row["fit_grade"]
        assert result["interest"]["grade"] == row["interest_grade"]
        for column in DECISION_COLUMNS:  # the API's key and the batch column of each field
            assert result["recommendation"][column.key] == row[column.name], column
        next_action = result["recommendation"]["next_action"]
        for column in ACTION_COLUMNS:  # next_action.type / .due and the batch columns
            want = row[column.name] if isinstance(row[column.name], str) else None
            assert next_action[column.field] == want, column


def test_explain_adds_fit_and_interest_reasons(
    client: TestClient, leads: list[dict[str, Any]]
) -> None:
    plain = score(client, leads[:3])["results"]
    explained = score(client, leads[:3], explain=True)["results"]
    for without, with_reasons in zip(plain, explained, strict=True):
        assert with_reasons["probability"] == without["probability"]
        reasons = with_reasons["reasons"]
        assert set(reasons) == {"fit", "interest"}
        factors = [
            f
            for group in reasons.values()
            for side in ("positive", "negative")
            for f in group[side]
        ]
        assert factors, "an explained lead has at least one reason"
        for factor in factors:
            assert factor["text"] and factor["label"] and factor["feature"]
        assert all(f["effect"] > 0 for f in reasons["fit"]["positive"])
        assert all(f["effect"] < 0 for f in reasons["fit"]["negative"])


def test_missing_empty_and_unknown_properties(
    client: TestClient, leads: list[dict[str, Any]]
) -> None:
    lead = dict(leads[0])
    blank = {k: "" for k in lead}
    blank["hs_object_id"] = "1"
    results = score(
        client, [lead, {**lead, "unknown_property": {"nested": [1, 2]}, "another": None}, blank, {}]
    )["results"]
    assert results[1]["probability"] == results[0]["probability"]  # unknown ignored
    assert results[2]["probability"] == results[3]["probability"]  # "" is missing
    assert results[3]["id"] is None


def test_typed_values_score_like_hubspot_strings(
    client: TestClient, leads: list[dict[str, Any]]
) -> None:
    lead = {
        **leads[0],
        "hs_analytics_num_visits": "12",
        "hs_analytics_last_visit_timestamp": "2026-06-29T12:00:00.000Z",
        "annualrevenue": "2500000",
    }
    typed = {
        **lead,
        "hs_analytics_num_visits": 12,
        "hs_analytics_last_visit_timestamp": 1782734400000,  # the same moment, epoch ms
        "annualrevenue": 2.5e6,
    }
    as_text = {**typed, "hs_analytics_last_visit_timestamp": "1782734400000"}
    first, second, third = score(client, [lead, typed, as_text])["results"]
    assert first["probability"] == second["probability"] == third["probability"]


def test_a_hand_raise_becomes_an_sql_with_status_new(
    client: TestClient, leads: list[dict[str, Any]]
) -> None:
    lead = {
        **leads[0],
        "recent_conversion_event_name": "Request a demo",
        "numemployees": "100-500",
        "hs_email_domain": "example-buyer.com",
        "lifecyclestage": "lead",
        "hs_lead_status": "",
    }
    recommendation = score(client, [lead])["results"][0]["recommendation"]
    assert recommendation == {
        **recommendation,
        "lifecyclestage": "salesqualifiedlead",
        "hs_lead_status": "NEW",
        "changed": True,
        "rule": "hand_raise",
    }
    customer = {**lead, "lifecyclestage": "customer"}
    kept = score(client, [customer])["results"][0]["recommendation"]
    assert (kept["lifecyclestage"], kept["changed"]) == ("customer", False)
    competitor = {**lead, "hs_email_domain": "example-competitor.com"}
    excluded = score(client, [competitor])["results"][0]["recommendation"]
    assert (excluded["lifecyclestage"], excluded["rule"]) == ("other", "excluded")


def test_model_endpoint(client: TestClient, registry: Registry) -> None:
    response = client.get("/model")
    assert response.status_code == 200
    info = response.json()
    assert (info["name"], info["version"], info["alias"]) == (
        "lead-scorer",
        registry.version,
        "champion",
    )
    assert info["trained_at"] == registry.result.scorer.metadata["trained_at"]
    assert info["test_metrics"]["test.full.roc_auc"] == pytest.approx(
        registry.result.metrics["test.full.roc_auc"]
    )
    assert info["decision_layer"] is True
    assert info["thresholds"]
    columns = {f["column"] for f in info["features"]}
    assert {"numemployees", "jobtitle", "hs_analytics_num_visits"} <= columns
    assert {f["group"] for f in info["features"]} == {"fit", "interest"}
    assert info["max_batch_size"] == 1000
    assert "days_since_last_visit" in {f["name"] for f in info["features"]}
    assert info["time_column"] == "createdate"
    events = info["events"]
    assert (events["key"], events["time"], events["type"], events["value"]) == (
        "events",
        "timestamp",
        "event_type",
        "event_value",
    )
    assert events["required"] is False and events["windows"] == []
    assert events["kinds"]["visit"] == {
        "type": "visit",
        "value_contains": None,
        "label": ("Website visits"),
    }
    assert events["kinds"]["pricing_view"]["value_contains"] == ["/pricing"]
    assert events["kinds"]["form"]["type"] == "form_submission"
    assert events["properties"]["hs_analytics_num_visits"] == {"how": "count", "kind": "visit"}
    assert events["properties"]["hs_analytics_last_visit_timestamp"] == {
        "how": "last",
        "kind": "visit",
    }
    assert events["properties"]["recent_conversion_event_name"] == {
        "how": "last_value",
        "kind": "form",
    }


def test_health_and_openapi_with_real_schemas(client: TestClient) -> None:
    assert client.get("/livez").status_code == 200
    assert client.get("/readyz").status_code == 200
    docs = client.get("/docs.json")
    assert docs.status_code == 200
    spec = docs.json()
    assert {"/score", "/hubspot/score", "/model", "/salesforce/score"} <= set(spec["paths"])
    request = spec["paths"]["/score"]["post"]["requestBody"]["content"]["application/json"]
    assert request["schema"]["properties"]["leads"]["type"] == "array"
    assert request["schema"]["properties"]["leads"]["minItems"] == 1
    lead = request["schema"]["properties"]["leads"]["items"]
    assert lead["properties"]["events"]["items"]["required"] == ["timestamp", "event_type"]
    assert "events" in lead["example"] and "as_of" in lead["description"]
    as_of = request["schema"]["properties"]["as_of"]
    assert {branch["type"] for branch in as_of["oneOf"]} == {"string", "number"}
    schemas = spec["components"]["schemas"]
    result = schemas["LeadResult"]["properties"]
    assert {"id", "probability", "score", "fit", "interest", "recommendation", "reasons"} <= set(
        result
    )
    answer = spec["paths"]["/score"]["post"]["responses"]["200"]["content"]["application/json"]
    assert answer["schema"]["properties"]["as_of"]["format"] == "date-time"
    assert "as_of" in answer["schema"]["required"]
    hubspot = spec["paths"]["/hubspot/score"]["post"]["requestBody"]["content"]
    assert len(hubspot["application/json"]["schema"]["oneOf"]) == 4
    model = spec["paths"]["/model"]["get"]["responses"]["200"]["content"]["application/json"]
    assert model["schema"]["$ref"].endswith("/ModelInfo")


# -- HubSpot -------------------------------------------------------------------------------------


def test_hubspot_v3_object_gives_properties_to_patch_back(
    client: TestClient, registry: Registry
) -> None:
    contact = crm_fixture("hubspot_contact_v3.json")
    response = client.post("/hubspot/score", params={"as_of": "2025-04-02T12:00:03Z"}, json=contact)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["as_of"] == "2025-04-02T12:00:03Z"
    assert body["actions"] is None  # create bodies only when asked for (?actions=true)
    (update,) = body["results"]
    assert update["id"] == "51"
    properties = update["properties"]
    assert all(isinstance(v, str) for v in properties.values())
    probability = float(properties["leadscore_probability"])
    assert 0 <= probability <= 1
    assert properties["leadscore_fit_grade"] in {"A", "B", "C", "D"}
    assert properties["leadscore_model_version"] == registry.version
    assert "Fit" in properties["leadscore_reasons"]
    # same lead, same moment through /score: same number
    flat = score(client, [contact["properties"]], as_of="2025-04-02T12:00:03Z")["results"][0]
    assert f"{flat['probability']:.4f}" == properties["leadscore_probability"]
    stage = flat["recommendation"]["lifecyclestage"]
    assert ("lifecyclestage" in properties) == (stage != "lead")


def test_hubspot_batch_read_list_and_legacy_webhook(client: TestClient) -> None:
    batch = crm_fixture("hubspot_contacts_batch_read.json")
    answer = client.post("/hubspot/score", json=batch).json()
    assert [u["id"] for u in answer["results"]] == ["51", "52", "53"]
    # the customer keeps its stage and its status: neither is written back
    assert "lifecyclestage" not in answer["results"][2]["properties"]
    assert "hs_lead_status" not in answer["results"][2]["properties"]
    as_list = client.post("/hubspot/score", json=batch["results"]).json()
    assert [u["properties"]["leadscore_probability"] for u in as_list["results"]] == [
        u["properties"]["leadscore_probability"] for u in answer["results"]
    ]
    legacy = crm_fixture("hubspot_workflow_webhook_legacy.json")
    response = client.post("/hubspot/score", json=legacy)
    assert response.status_code == 200, response.text
    (update,) = response.json()["results"]
    assert update["id"] == "51"
    # the legacy body carries the batch's contact 51 properties: same score
    assert (
        update["properties"]["leadscore_probability"]
        == answer["results"][0]["properties"]["leadscore_probability"]
    )


def test_hubspot_hand_raise_writes_stage_and_status(client: TestClient) -> None:
    contact = {
        "id": "77",
        "properties": {
            "recent_conversion_event_name": "Produktdemo anfragen",
            "lifecyclestage": "lead",
            "hs_lead_status": "",
            "numemployees": "50-100",
        },
    }
    (update,) = client.post("/hubspot/score", json=contact).json()["results"]
    assert update["properties"]["lifecyclestage"] == "salesqualifiedlead"
    assert update["properties"]["hs_lead_status"] == "NEW"
    contact["properties"]["hs_lead_status"] = "IN_PROGRESS"
    (update,) = client.post("/hubspot/score", json=contact).json()["results"]
    assert update["properties"]["lifecyclestage"] == "salesqualifiedlead"
    assert "hs_lead_status" not in update["properties"]  # never overwritten


def test_salesforce_lead(client: TestClient) -> None:
    lead = crm_fixture("salesforce_lead.json")
    response = client.post(
        "/salesforce/score",
        json={"leads": [lead], "explain": True, "as_of": "2025-04-02T12:00:00Z"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["as_of"] == "2025-04-02T12:00:00Z"
    (result,) = response.json()["results"]
    assert result["id"] == "00Q5e00000ABCdeEAF"
    company_size = [
        f
        for f in result["reasons"]["fit"]["positive"] + result["reasons"]["fit"]["negative"]
        if f["feature"] == "numemployees"
    ]
    assert not company_size or company_size[0]["value"] in (240, 240.0, "240")


# -- errors: 4xx naming the problem, never a 500 -------------------------------------------------


def error_of(client: TestClient, status: int, path: str = "/score", **kwargs: Any) -> str:
    response = client.post(path, **kwargs)
    assert response.status_code == status, response.text
    body = response.json()
    text = json.dumps(body)
    assert "Traceback" not in text
    return text


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"leads": []}, "leads"),
        ({"leads": None}, "leads"),
        ({}, "leads"),
        ({"leads": [None]}, "leads"),
        ({"leads": "x"}, "leads"),
        ({"leads": [{"numemployees": "many"}]}, "numemployees"),
        ({"leads": [{"hs_analytics_num_visits": [1, 2]}]}, "hs_analytics_num_visits"),
        (
            {"leads": [{"hs_analytics_last_visit_timestamp": "perhaps"}]},
            "hs_analytics_last_visit_timestamp",
        ),
        ({"leads": [{"createdate": True}]}, "createdate"),
        ({"leads": [{"industry": {"a": 1}}]}, "industry"),
        ({"leads": [{"lifecyclestage": "prospect"}]}, "lifecyclestage"),
        ({"leads": [{"hs_object_id": {"x": 1}}]}, "hs_object_id"),
        ({"leads": [{}], "explain": {"x": 1}}, "explain"),
    ],
)
def test_bad_values_are_400s_naming_the_field(
    client: TestClient, body: dict[str, Any], names: str
) -> None:
    assert names in error_of(client, 400, json=body)


def test_a_bad_value_names_its_lead_and_the_expected_type(client: TestClient) -> None:
    body = json.loads(error_of(client, 400, json={"leads": [{}, {}, {"numemployees": "abc"}]}))
    assert "leads[2].numemployees" in body["error"]
    assert body["detail"][0]["loc"] == ["leads", 2, "numemployees"]
    assert body["detail"][0]["expected"] == "a number"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"leads": [{"annualrevenue": 1e999}]}',
        b'{"leads": [{"annualrevenue": -1e999}]}',
        b'{"leads": [{"annualrevenue": ' + b"9" * 400 + b"}]}",
        b'{"leads": [{"annualrevenue": ' + b"9" * 5000 + b"}]}",
        b'{"leads": [{"jobtitle": "\xff\xfe"}]}',
        b"\xff\xfe\x00{",
        b'{"leads": [{"jobtitle": ' + b"[" * 5000 + b"]" * 5000 + b"}]}",
        b'{"leads": [{"x": ' + b'{"a":' * 3000 + b"1" + b"}" * 3000 + b"}]}",
        b'{"leads": [',
        b"",
        b"null",
        b"[]",
    ],
)
def test_hostile_bodies_are_400s(client: TestClient, raw: bytes) -> None:
    error_of(client, 400, content=raw, headers={"content-type": "application/json"})


def test_more_leads_than_the_limit_is_413_naming_it(client: TestClient) -> None:
    text = error_of(client, 413, json={"leads": [{}] * 1001})
    assert "1,000" in text and "LEADSCORE_MAX_BATCH_SIZE" in text
    hubspot = [{"id": str(i), "properties": {}} for i in range(1001)]
    assert "1,000" in error_of(client, 413, "/hubspot/score", json=hubspot)


@pytest.mark.parametrize(
    "body",
    [
        {"foo": 1},
        {"id": "1"},
        "text",
        5,
        [1, 2],
        {"properties": {"a": {"b": [1]}}, "id": "1"},
        {"results": "x"},
        {"vid": 1, "properties": {"a": {"value": {"x": 1}}}},
        {"results": [{"id": "1"}]},
    ],
)
def test_bad_hubspot_bodies_are_400s(client: TestClient, body: Any) -> None:
    error_of(client, 400, "/hubspot/score", json=body)


def test_not_json_is_415(client: TestClient) -> None:
    text = error_of(
        client,
        415,
        content=b"leads=1",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert "application/json" in text
    error_of(
        client, 415, content=b"\x80\x04", headers={"content-type": "application/vnd.bentoml+pickle"}
    )
    error_of(client, 415, files={"leads": ("a.json", b"[]")})


def test_client_errors_log_one_warning_line_without_traceback(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    client.post("/score", json={"leads": []})
    client.post("/score", json={"leads": [{"numemployees": "abc"}]})
    client.post("/score", content=b"{", headers={"content-type": "application/json"})
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(records) == 3, [r.getMessage() for r in records]
    for record in records:
        assert record.levelno == logging.WARNING
        assert record.exc_info is None and not record.exc_text
        assert "\n" not in record.getMessage()
        assert record.getMessage().startswith("400 POST /score")
