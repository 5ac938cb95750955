"""Next actions over HTTP (issue 16): `recommendation.next_action` on /score, the unknown
status as a 400, and `/hubspot/score?actions=true` answering the Tasks and Deals API create
bodies in the shapes of HubSpot's public documentation (tests/serving/crm)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from models.contract import Decision, LeadScore, NextAction
from serving.hubspot_actions import action_bodies, deal_body, task_body
from serving.loader import SettingsError, read_settings
from serving.settings import HubSpotActionSettings
from tests.serving.support import crm_fixture

AS_OF = "2026-07-01T00:00:00Z"
SHAPES = crm_fixture("hubspot_create_shapes.json")


def lead(status: str, stage: str = "salesqualifiedlead", **more: str) -> dict[str, str]:
    return {
        "hs_object_id": more.pop("id", "900"),
        "createdate": "2026-05-02T10:00:00Z",
        "jobtitle": "Head of Sales",
        "numemployees": "50-100",
        "lifecyclestage": stage,
        "hs_lead_status": status,
        **more,
    }


def check_body(body: Any, kind: str, contact_id: str) -> None:
    """A create body in the documented shape (hubspot_create_shapes.json), associated with
    the contact by the default association type; every property value a string."""
    shape = SHAPES[kind]
    assert sorted(body) == sorted(SHAPES["body_keys"])
    properties = body["properties"]
    assert set(properties) <= set(shape["properties"]), set(properties) - set(shape["properties"])
    assert set(shape["required"]) <= set(properties)
    assert all(isinstance(v, str) and v for v in properties.values()), properties
    for name, allowed in shape["values"].items():
        if name in properties:
            assert properties[name] in allowed, (name, properties[name])
    for name in shape["timestamps"]:
        if name in properties:  # UTC, as HubSpot reads it
            assert properties[name].endswith("Z") and properties[name][10] == "T"
    rules = SHAPES["association"]
    (association,) = body["associations"]
    assert sorted(association) == sorted(rules["keys"])
    assert sorted(association["to"]) == rules["to_keys"]
    (kind_of,) = association["types"]
    assert sorted(kind_of) == sorted(rules["type_keys"])
    assert kind_of["associationCategory"] in rules["categories"]
    assert isinstance(kind_of["associationTypeId"], int)
    if contact_id:
        assert association["to"]["id"] == contact_id
        assert kind_of["associationTypeId"] == shape["contact_association_type_id"]


@pytest.mark.parametrize(
    ("name", "kind"), [("hubspot_task_create.json", "tasks"), ("hubspot_deal_create.json", "deals")]
)
def test_the_documented_examples_have_the_documented_shape(name: str, kind: str) -> None:
    # the checker accepts what the documentation shows (and so tests the right thing)
    check_body(crm_fixture(name), kind, "51")


def test_the_default_settings_are_hubspots_defaults() -> None:
    settings = HubSpotActionSettings()
    assert settings.task_contact_association == SHAPES["tasks"]["contact_association_type_id"]
    assert settings.deal_contact_association == SHAPES["deals"]["contact_association_type_id"]
    assert settings.deal_pipeline == SHAPES["deals"]["default_pipeline"]
    assert settings.deal_stage == SHAPES["deals"]["default_pipeline_first_stage"]


# -- /score ------------------------------------------------------------------------------------


def test_score_answers_the_next_action_inside_the_recommendation(client: TestClient) -> None:
    leads = [
        lead("NEW", id="1"),
        lead("ATTEMPTED_TO_CONTACT", id="2"),
        lead("BAD_TIMING", id="3"),
        lead("OPEN_DEAL", id="4"),
        lead("IN_PROGRESS", id="5"),
        lead("NEW", stage="customer", id="6"),
        lead("", stage="subscriber", id="7"),
    ]
    response = client.post("/score", json={"leads": leads, "as_of": AS_OF})
    assert response.status_code == 200, response.text
    actions = [r["recommendation"]["next_action"] for r in response.json()["results"]]
    assert [(a["type"], a["due"]) for a in actions] == [
        ("contact", "2026-07-01T04:00:00Z"),
        ("retry_contact", "2026-07-03T00:00:00Z"),
        ("recheck", "2026-09-29T00:00:00Z"),
        ("create_deal", "2026-07-01T00:00:00Z"),
        ("none", None),
        ("none", None),  # forward only: no first contact for a customer
        ("nurture", None),
    ]
    assert all(a["detail"] and "\n" not in a["detail"] for a in actions)


def test_an_unknown_lead_status_is_a_400_naming_the_lead_and_the_allowed_values(
    client: TestClient,
) -> None:
    leads = [lead("NEW", id="1"), lead("Recycled", id="2")]
    response = client.post("/score", json={"leads": leads, "as_of": AS_OF})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"].startswith(
        "leads[1].hs_lead_status: cannot read 'Recycled' as a lead status"
    )
    assert "ATTEMPTED_TO_CONTACT" in body["error"] and "actions.statuses" in body["error"]
    (item,) = body["detail"]
    assert item["loc"] == ["leads", 1, "hs_lead_status"]
    hubspot = client.post(
        "/hubspot/score", json=[{"id": "8", "properties": lead("SNOOZED")}], params={"as_of": AS_OF}
    )
    assert hubspot.status_code == 400, hubspot.text
    assert hubspot.json()["detail"][0]["loc"] == ["objects", 0, "hs_lead_status"]


# -- /hubspot/score?actions=true ----------------------------------------------------------------


def contacts() -> list[dict[str, Any]]:
    owner = {"hubspot_owner_id": "7391024", "firstname": "Julia", "lastname": "Meyer"}
    return [
        {"id": "11", "properties": lead("NEW", **owner)},
        {"id": "12", "properties": lead("ATTEMPTED_TO_CONTACT", email="a.b@example.com")},
        {"id": "13", "properties": lead("BAD_TIMING")},
        {"id": "14", "properties": lead("OPEN_DEAL", company="Example GmbH", **owner)},
        {"id": "15", "properties": lead("IN_PROGRESS")},
        {"id": "16", "properties": lead("OPEN_DEAL", stage="opportunity")},
        {"id": "17", "properties": lead("", stage="lead")},
    ]


def test_hubspot_answers_task_and_deal_bodies_when_asked(client: TestClient) -> None:
    response = client.post(
        "/hubspot/score", json=contacts(), params={"as_of": AS_OF, "actions": "true"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [u["id"] for u in body["results"]] == [str(i) for i in range(11, 18)]
    tasks, deals = body["actions"]["tasks"], body["actions"]["deals"]
    assert [t["associations"][0]["to"]["id"] for t in tasks] == ["11", "12", "13"]
    assert [d["associations"][0]["to"]["id"] for d in deals] == ["14"]  # not 16: has its deal
    for task in tasks:
        check_body(task, "tasks", task["associations"][0]["to"]["id"])
    check_body(deals[0], "deals", "14")
    first, retry, recheck = (t["properties"] for t in tasks)
    assert first["hs_timestamp"] == "2026-07-01T04:00:00Z"  # the SQL's service level
    assert (first["hs_task_type"], first["hs_task_priority"]) == ("CALL", "HIGH")
    assert first["hs_task_subject"] == "Contact Julia Meyer"
    assert first["hubspot_owner_id"] == "7391024"
    assert first["hs_task_body"].startswith("NEW: ")
    assert retry["hs_timestamp"] == "2026-07-03T00:00:00Z"  # two days later
    assert "a.b@example.com" in retry["hs_task_subject"] and "hubspot_owner_id" not in retry
    assert recheck["hs_timestamp"] == "2026-09-29T00:00:00Z"
    assert (recheck["hs_task_type"], recheck["hs_task_priority"]) == ("TODO", "LOW")
    assert deals[0]["properties"] == {
        "dealname": "Example GmbH (Julia Meyer)",
        "pipeline": "default",
        "dealstage": "appointmentscheduled",
        "hubspot_owner_id": "7391024",
    }
    # the same contacts without the parameter: the same updates, no bodies
    plain = client.post("/hubspot/score", json=contacts(), params={"as_of": AS_OF}).json()
    assert plain["actions"] is None
    assert updates(plain) == updates(body)
    off = client.post("/hubspot/score", json=contacts(), params={"as_of": AS_OF, "actions": "0"})
    assert off.json()["actions"] is None


def updates(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The contact updates of a HubSpot answer, without the time they were scored at."""
    return [
        {
            **u,
            "properties": {k: v for k, v in u["properties"].items() if k != "leadscore_scored_at"},
        }
        for u in answer["results"]
    ]


@pytest.mark.parametrize("value", ["yes", "", "2", "truee"])
def test_actions_takes_only_true_or_false(client: TestClient, value: str) -> None:
    response = client.post("/hubspot/score", json=contacts()[:1], params={"actions": value})
    assert response.status_code == 400, response.text
    assert response.json() == {
        "error": "actions: expected true or false",
        "detail": [{"loc": ["actions"], "msg": "expected true or false", "type": "bool_type"}],
    }


def test_the_openapi_document_names_the_query_parameters(client: TestClient) -> None:
    spec = client.get("/docs.json").json()
    parameters = spec["paths"]["/hubspot/score"]["post"]["parameters"]
    assert {p["name"]: p["schema"]["type"] for p in parameters} == {
        "as_of": "string",
        "actions": "boolean",
        "lang": "string",
    }
    schemas = spec["components"]["schemas"]
    assert "actions" in schemas["HubSpotResponse"]["properties"]
    answer = spec["paths"]["/hubspot/score"]["post"]["responses"]["200"]["content"]
    # null unless asked for: BentoML's inline answer schema would drop the null branch
    assert answer["application/json"]["schema"]["properties"]["actions"]["nullable"] is True
    assert "next_action" in schemas["Recommendation"]["properties"]


# -- the body builders and their settings -------------------------------------------------------


def scored(action: str, due: str | None) -> LeadScore:
    decision = Decision("salesqualifiedlead", "NEW", False, "score_sql", "", None)
    decision.next_action = NextAction(action, due, f"{action} reason")  # type: ignore[arg-type]
    return LeadScore(0.5, 50.0, 50.0, "B", "B", decision)


def test_deal_pipeline_stage_and_association_ids_are_settings() -> None:
    settings = HubSpotActionSettings(
        deal_pipeline="12345678",
        deal_stage="87654321",
        task_contact_association=999,
        deal_contact_association=998,
    )
    deal = deal_body("5", {}, settings)
    assert (deal["properties"]["pipeline"], deal["properties"]["dealstage"]) == (
        "12345678",
        "87654321",
    )
    assert deal["properties"]["dealname"] == "contact 5"
    assert deal["associations"][0]["types"][0]["associationTypeId"] == 998
    task = task_body("5", {}, NextAction("contact", "2026-07-01T04:00:00Z", "x"), settings)
    assert task["associations"][0]["types"][0]["associationTypeId"] == 999
    check_body(task, "tasks", "")
    check_body(deal, "deals", "")


def test_only_contact_retry_recheck_and_create_deal_need_a_body() -> None:
    outs = [
        scored("contact", AS_OF),
        scored("nurture", None),
        scored("none", None),
        scored("create_deal", AS_OF),
        LeadScore(0.5, 50.0, 50.0),  # a model without a decision layer
    ]
    objects = [(str(i), {}) for i in range(len(outs))]
    bodies = action_bodies(objects, outs, HubSpotActionSettings())
    assert [t["associations"][0]["to"]["id"] for t in bodies["tasks"]] == ["0"]
    assert [d["associations"][0]["to"]["id"] for d in bodies["deals"]] == ["3"]
    with pytest.raises(ValueError):
        task_body("1", {}, NextAction("nurture", None, "x"), HubSpotActionSettings())


@pytest.mark.parametrize(
    ("name", "value"),
    [("DEAL_PIPELINE", "my pipeline"), ("DEAL_STAGE", ""), ("TASK_CONTACT_ASSOCIATION", "0")],
)
def test_a_bad_action_setting_stops_the_start_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(f"LEADSCORE_HUBSPOT_ACTIONS__{name}", value)
    with pytest.raises(SettingsError) as caught:
        read_settings()
    message = str(caught.value)
    assert "\n" not in message
    assert name in message.upper()


# -- in German (issue 16 part 4) ---------------------------------------------------------------


def test_score_answers_in_the_language_asked_for(client: TestClient) -> None:
    leads = [lead("ATTEMPTED_TO_CONTACT", id="1"), lead("", stage="lead", id="2")]
    english = client.post("/score", json={"leads": leads, "as_of": AS_OF, "explain": True})
    german = client.post(
        "/score", json={"leads": leads, "as_of": AS_OF, "explain": True, "lang": "de"}
    )
    assert english.status_code == 200 and german.status_code == 200, german.text
    en, de = english.json()["results"], german.json()["results"]
    for a, b in zip(en, de, strict=True):  # the same numbers, codes and due times
        assert (a["probability"], a["fit"], a["interest"]) == (
            b["probability"],
            b["fit"],
            b["interest"],
        )
        for key in ("lifecyclestage", "hs_lead_status", "rule"):
            assert a["recommendation"][key] == b["recommendation"][key]
        action_a, action_b = a["recommendation"]["next_action"], b["recommendation"]["next_action"]
        assert (action_a["type"], action_a["due"]) == (action_b["type"], action_b["due"])
        assert [f["effect"] for f in a["reasons"]["fit"]["positive"]] == [
            f["effect"] for f in b["reasons"]["fit"]["positive"]
        ]
    assert de[0]["recommendation"]["next_action"]["detail"] == (
        "ATTEMPTED_TO_CONTACT: Kontakt versucht, noch nicht erreicht; erneuter Versuch in 2 Tg."
    )
    texts = [
        f["text"] for r in de for g in ("fit", "interest") for f in r["reasons"][g]["positive"]
    ]
    assert texts and all(" — erhöht " in t for t in texts), texts


@pytest.mark.parametrize("value", ["fr", "", "DEU"])
def test_a_language_without_a_catalogue_is_a_400_naming_lang(
    client: TestClient, value: str
) -> None:
    response = client.post("/score", json={"leads": [lead("NEW")], "lang": value})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == (
        f"lang: no message catalogue for language {value!r}; expected one of en, de"
    )
    assert body["detail"][0]["loc"] == ["lang"]
    hubspot = client.post("/hubspot/score", json=contacts()[:1], params={"lang": value})
    assert hubspot.status_code == 400, hubspot.text
    assert hubspot.json()["detail"][0]["loc"] == ["lang"]


def test_hubspot_writes_german_reasons_and_task_bodies(client: TestClient) -> None:
    response = client.post(
        "/hubspot/score",
        json=contacts(),
        params={"as_of": AS_OF, "actions": "true", "lang": "de"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    reasons = [u["properties"].get("leadscore_reasons", "") for u in body["results"]]
    assert any(r.startswith("Fit ") and " | Interesse " in r for r in reasons), reasons
    first = body["actions"]["tasks"][0]["properties"]
    assert first["hs_task_subject"] == "Julia Meyer kontaktieren"
    assert first["hs_task_body"].startswith("NEW: neu in der Vertriebs-Warteschlange")
    for task in body["actions"]["tasks"]:
        check_body(task, "tasks", task["associations"][0]["to"]["id"])
    english = client.post("/hubspot/score", json=contacts(), params={"as_of": AS_OF}).json()
    strip = {"leadscore_reasons"}
    assert [
        {k: v for k, v in u.items() if k not in strip}
        for u in (x["properties"] for x in updates(body))
    ] == [
        {k: v for k, v in u.items() if k not in strip}
        for u in (x["properties"] for x in updates(english))
    ]


def test_an_unknown_leadscore_lang_stops_the_start_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEADSCORE_LANG", "fr")
    with pytest.raises(SettingsError) as caught:
        read_settings()
    message = str(caught.value)
    assert "\n" not in message and "LANG" in message.upper() and "'fr'" in message
    monkeypatch.setenv("LEADSCORE_LANG", "de")
    assert read_settings().lang == "de"
