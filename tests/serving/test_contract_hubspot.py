"""HubSpot write-back (issue 13, items 5 and 10): strict, distinct ids named by JSON path,
batch-update bodies of at most 100, an empty search answered with nothing to do, and
property-name settings refused at start."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from serving.adapters import PayloadError, hubspot_records, json_path
from serving.loader import SettingsError, read_settings
from serving.service import LeadScoring
from tests.serving.support import Registry

CONTACT = {"properties": {"jobtitle": "CEO", "numemployees": "50"}}


def refused(client: TestClient, body: Any) -> dict[str, Any]:
    response = client.post("/hubspot/score", json=body)
    assert response.status_code == 400, response.text
    answer: dict[str, Any] = response.json()
    assert set(answer) == {"error", "detail"}
    return answer


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"id": True, **CONTACT}, ["id"]),
        ({"id": False, **CONTACT}, ["id"]),
        ({"id": None, **CONTACT}, ["id"]),
        ({"id": "", **CONTACT}, ["id"]),
        ({"id": "  ", **CONTACT}, ["id"]),
        ({"id": 51.5, **CONTACT}, ["id"]),
        ({"id": -3, **CONTACT}, ["id"]),
        ({"id": [51], **CONTACT}, ["id"]),
        ([{"id": "51", **CONTACT}, {"id": True, **CONTACT}], [1, "id"]),
        ({"results": [{"id": "51", **CONTACT}, {"id": False, **CONTACT}]}, ["results", 1, "id"]),
        ({"vid": None, "properties": {}}, ["vid"]),
        ({"vid": True, "properties": {"jobtitle": {"value": "CEO"}}}, ["vid"]),
        (
            {"properties": {"hs_object_id": True, "jobtitle": "CEO"}},
            ["properties", "hs_object_id"],
        ),
    ],
)
def test_an_id_that_is_no_id_is_a_400_naming_its_json_path(
    client: TestClient, body: Any, loc: list[str | int]
) -> None:
    answer = refused(client, body)
    (item,) = answer["detail"]
    assert item["loc"] == loc
    assert item["type"] in ("id_type", "id_value")
    assert answer["error"].startswith(json_path(loc) + ": expected an id")


def test_a_contact_without_any_id_is_refused_not_answered_with_a_null_id(
    client: TestClient,
) -> None:
    answer = refused(client, {"results": [{"id": "51", **CONTACT}, CONTACT]})
    assert answer["detail"][0]["loc"] == ["results", 1]
    assert answer["detail"][0]["type"] == "missing_id"
    assert "hs_object_id" in answer["error"]


@pytest.mark.parametrize(
    "body",
    [
        [{"id": "51", **CONTACT}, {"id": 51, **CONTACT}],
        {"results": [{"id": "7", **CONTACT}, {"id": "8", **CONTACT}, {"id": "7", **CONTACT}]},
    ],
)
def test_duplicate_ids_are_refused_naming_them(client: TestClient, body: Any) -> None:
    answer = refused(client, body)
    assert answer["detail"][0]["type"] == "duplicate_id"
    text = answer["error"]
    assert ("'51'" in text and "[0]" in text and "[1]" in text) or (
        "'7'" in text and "results[0]" in text and "results[2]" in text
    )


@pytest.mark.parametrize("body", [{"results": []}, [], {"results": [], "paging": {}}])
def test_a_search_without_hits_is_an_empty_answer(client: TestClient, body: Any) -> None:
    response = client.post("/hubspot/score", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["results"] == [] and answer["batches"] == []
    assert answer["model"]["name"] == "lead-scorer"


def test_integer_ids_come_back_as_text(client: TestClient) -> None:
    response = client.post("/hubspot/score", json=[{"id": 51, **CONTACT}, {"vid": 52}])
    assert response.status_code == 200, response.text
    assert [r["id"] for r in response.json()["results"]] == ["51", "52"]


def test_batch_update_bodies_hold_at_most_100_inputs(client: TestClient) -> None:
    objects = [{"id": str(1000 + i), **CONTACT} for i in range(250)]
    response = client.post("/hubspot/score", json={"results": objects})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert [len(batch["inputs"]) for batch in answer["batches"]] == [100, 100, 50]
    flattened = [update for batch in answer["batches"] for update in batch["inputs"]]
    assert flattened == answer["results"]
    assert [u["id"] for u in flattened] == [o["id"] for o in objects]
    for update in flattened:
        assert set(update) == {"id", "properties"}
        assert all(isinstance(v, str) for v in update["properties"].values())


def test_hubspot_records_units() -> None:
    assert hubspot_records({"results": []}) == []
    assert hubspot_records({"id": 9, "properties": {"a": 1}}) == [("9", {"a": 1})]
    legacy = {"vid": 51, "properties": {"jobtitle": {"value": "CEO"}}}
    assert hubspot_records(legacy) == [("51", {"jobtitle": "CEO"})]
    with pytest.raises(PayloadError) as caught:
        hubspot_records(
            {"results": [{"id": "1", "properties": {}}, {"id": 10**30, "properties": {}}]}
        )
    assert caught.value.loc == ["results", 1, "id"]
    with pytest.raises(PayloadError, match=r"^body: expected a HubSpot object"):
        hubspot_records({"foo": 1})
    assert json_path([]) == "body"
    assert json_path(["results", 2, "properties", "odd key"]) == "results[2].properties.'odd key'"


# -- property-name settings: refused at start, in one line ------------------------------------


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"LEADSCORE_HUBSPOT__FIT": "leadscore_score"}, "'leadscore_score' is set for"),
        ({"LEADSCORE_HUBSPOT__SCORE": "Lead Score %"}, "is not a HubSpot property name"),
        ({"LEADSCORE_HUBSPOT__REASONS": "9reasons"}, "is not a HubSpot property name"),
        ({"LEADSCORE_HUBSPOT__REASONS": "x" * 101}, "is not a HubSpot property name"),
        ({"LEADSCORE_HUBSPOT__FIT_GRADE": "lifecyclestage"}, "(the recommendation)"),
        (
            {"LEADSCORE_HUBSPOT__FIT": "same_name", "LEADSCORE_HUBSPOT__INTEREST": "same_name"},
            "LEADSCORE_HUBSPOT__FIT and LEADSCORE_HUBSPOT__INTEREST",
        ),
    ],
)
def test_bad_property_names_refuse_to_start(
    env: dict[str, str], words: str, monkeypatch: pytest.MonkeyPatch, registry: Registry
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry.tracking_uri)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        read_settings()
    message = str(caught.value)
    assert words in message and "\n" not in message
    assert message.startswith("invalid serving settings: ")
    with pytest.raises(SettingsError):
        LeadScoring()


def test_empty_names_and_the_defaults_are_fine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADSCORE_HUBSPOT__REASONS", "")
    monkeypatch.setenv("LEADSCORE_HUBSPOT__FIT_GRADE", "")
    names = read_settings().hubspot
    assert names.reasons == "" and names.score == "leadscore_score"
    assert json.loads(names.model_dump_json())["fit"] == "leadscore_fit"
