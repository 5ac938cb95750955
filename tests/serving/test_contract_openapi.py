"""The OpenAPI document and the docs page agree with the service (issue 13, items 7 and 8):
the real error body, a bearer security scheme, every status the service answers, strict
booleans, messages in the service's own words by JSON path, and a docs page that loads
nothing from elsewhere."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from serving.openapi import as_openapi_30, error_body
from serving.schemas import ErrorResponse

API = ("/score", "/hubspot/score", "/salesforce/score")


@pytest.fixture(scope="module")
def spec(client: TestClient) -> dict[str, Any]:
    response = client.get("/docs.json")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def test_the_error_schema_is_the_body_sent(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    error = schemas["ErrorResponse"]
    assert error["properties"]["error"]["type"] == "string"
    detail = error["properties"]["detail"]
    assert detail["type"] == "array"
    assert detail["items"]["$ref"] == "#/components/schemas/ErrorItem"
    assert {"loc", "msg", "type"} <= set(schemas["ErrorItem"]["required"])
    assert "InvalidArgument" not in schemas and "NotFound" not in schemas


def test_every_status_the_service_answers_is_declared(spec: dict[str, Any]) -> None:
    for path in API:
        responses = spec["paths"][path]["post"]["responses"]
        assert {"200", "400", "401", "413", "415", "429", "500"} <= set(responses), path
        for status in ("400", "401", "413", "415", "429", "500"):
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorResponse"}
        assert "404" not in responses
    model = spec["paths"]["/model"]["get"]["responses"]
    assert {"200", "401"} <= set(model)
    reload = spec["paths"]["/admin/reload"]["post"]["responses"]
    assert {"200", "401", "403", "503"} <= set(reload)


def test_bearer_security_and_the_hubspot_signature_alternative(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["hubspotSignature"]["name"] == "X-HubSpot-Signature-v3"
    assert schemes["hubspotTimestamp"]["name"] == "X-HubSpot-Request-Timestamp"
    for path in ("/score", "/salesforce/score"):
        assert spec["paths"][path]["post"]["security"] == [{"bearerAuth": []}]
    assert spec["paths"]["/hubspot/score"]["post"]["security"] == [
        {"bearerAuth": []},
        {"hubspotSignature": [], "hubspotTimestamp": []},
    ]
    assert spec["paths"]["/model"]["get"]["security"] == [{"bearerAuth": []}]
    assert "security" not in spec["paths"]["/livez"]["get"]


def test_the_document_is_openapi_30_in_the_projects_words(spec: dict[str, Any]) -> None:
    text = json.dumps(spec)
    assert '"type": "null"' not in text  # JSON Schema 2020, not OpenAPI 3.0
    assert "IODescriptor" not in text and "__Input" not in text
    assert spec["info"]["title"] == "leadscore"
    assert "BentoML" not in spec["info"]["description"]
    assert "bentoml.com" not in text and "contact" not in spec["info"]
    request = spec["paths"]["/score"]["post"]["requestBody"]["content"]["application/json"]
    assert request["schema"]["properties"]["explain"]["type"] == "boolean"
    hubspot = spec["paths"]["/hubspot/score"]["post"]["requestBody"]["content"]
    (batch,) = [
        b
        for b in hubspot["application/json"]["schema"]["oneOf"]
        if "results" in b.get("properties", {})
    ]
    assert "minItems" not in batch["properties"]["results"]  # an empty search is valid
    answer = spec["components"]["schemas"]["HubSpotResponse"]["properties"]
    assert "batches" in answer


@pytest.mark.parametrize("value", [0, 1, "yes", "true", None, [], {}])
@pytest.mark.parametrize("path", ["/score", "/salesforce/score"])
def test_explain_takes_only_true_or_false(client: TestClient, path: str, value: Any) -> None:
    response = client.post(path, json={"leads": [{}], "explain": value})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "explain: expected true or false"
    assert body["detail"] == [
        {"loc": ["explain"], "msg": "expected true or false", "type": "bool_type"}
    ]


@pytest.mark.parametrize(
    ("path", "raw", "starts"),
    [
        ("/score", b'{"leads": [', "body: not valid JSON"),
        ("/score", b"{}", "leads: required"),
        ("/score", b'{"leads": "x"}', "leads: expected a list"),
        ("/score", b'{"leads": [1]}', "leads[0]: "),
        ("/score", b'{"leads": []}', "leads: expected at least one item"),
        ("/hubspot/score", b'{"properties"', "body: not valid JSON"),
        ("/hubspot/score", b'{"foo": 1}', "body: expected a HubSpot object"),
        ("/salesforce/score", b'{"leads": [[]]}', "leads[0]: "),
    ],
)
def test_400_bodies_are_error_and_detail_in_the_services_words(
    client: TestClient, path: str, raw: bytes, starts: str
) -> None:
    response = client.post(path, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    body = response.json()
    ErrorResponse.model_validate(body)
    assert isinstance(body["detail"], list) and body["detail"]
    assert body["error"].startswith(starts), body["error"]
    assert not re.search(r"validation errors? for|IODescriptor|__Input", response.text)


@pytest.mark.parametrize(
    ("status", "raw", "expected"),
    [
        (400, b'[{"error": "bad"}]', {"error": "bad", "detail": []}),
        (500, b'{"error": "An unexpected error"}', {"error": "An unexpected error", "detail": []}),
        (400, b'{"error": "x", "detail": "y"}', {"error": "x: y", "detail": []}),
        (502, b"<html>", {"error": "request failed with status 502", "detail": []}),
    ],
)
def test_other_error_bodies_get_the_one_shape(
    status: int, raw: bytes, expected: dict[str, Any]
) -> None:
    rewritten = error_body(status, raw)
    assert rewritten is not None and json.loads(rewritten) == expected
    assert error_body(400, b'{"error": "fine", "detail": []}') is None


def test_null_branches_become_nullable() -> None:
    schema = {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}
    assert as_openapi_30(schema) == {"type": "string", "nullable": True, "default": None}
    ref = {"anyOf": [{"$ref": "#/x"}, {"type": "null"}]}
    assert as_openapi_30(ref) == {"allOf": [{"$ref": "#/x"}], "nullable": True}


def test_the_docs_page_is_the_projects_and_loads_only_local_files(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    html = page.text
    assert "googletagmanager" not in html and "gtm" not in html.lower()
    assert "<title>leadscore" in html and "BentoML" not in html
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("./static_content/") for s in sources), sources
    assert "validatorUrl: null" in html  # Swagger UI would call validator.swagger.io
    for source in sources:
        assert client.get(source.removeprefix(".")).status_code == 200, source


def test_reload_is_refused_without_an_api_token(client: TestClient) -> None:
    response = client.post("/admin/reload")
    assert response.status_code == 403
    assert "LEADSCORE_API_TOKEN" in response.json()["error"]
