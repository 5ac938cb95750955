"""Settings, auth guard and CRM adapters on their own (no model, no server)."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr, TypeAdapter, ValidationError

from features.coerce import CoercionError
from features.timestamps import AsOf, FutureTimestampError
from models.contract import GROUPS, Decision, Factor, Group, GroupReasons, LeadScore, NextAction
from serving.adapters import (
    REASONS_MAX_CHARS,
    check_numbers,
    format_reasons,
    hubspot_properties,
    hubspot_records,
    salesforce_record,
)
from serving.auth import bearer_token, is_open, token_matches
from serving.logs import ClientErrorFilter
from serving.middleware import RequestGuard
from serving.service import ClientError, coercion_error, moment, one_line, read_as_of, shown_key
from serving.settings import HubSpotProperties, ServingSettings
from tests.serving.support import asgi_channel, crm_fixture

# -- settings ------------------------------------------------------------------------------------


def test_settings_defaults_and_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in ("MLFLOW_TRACKING_URI", "LEADSCORE_MLFLOW_TRACKING_URI", "LEADSCORE_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    settings = ServingSettings()
    assert settings.model_uri == "models:/lead-scorer@champion"
    assert settings.tracking_uri() == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert settings.api_token is None and settings.max_batch_size == 1000
    assert settings.hubspot.probability == "leadscore_probability"

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////elsewhere/mlflow.db")
    assert ServingSettings().tracking_uri() == "sqlite:////elsewhere/mlflow.db"
    monkeypatch.setenv("LEADSCORE_MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    monkeypatch.setenv("LEADSCORE_MODEL_URI", "models:/other/3")
    monkeypatch.setenv("LEADSCORE_API_TOKEN", "s3cret")
    monkeypatch.setenv("LEADSCORE_MAX_BATCH_SIZE", "50")
    monkeypatch.setenv("LEADSCORE_HUBSPOT__REASONS", "")
    monkeypatch.setenv("LEADSCORE_HUBSPOT__PROBABILITY", "p_convert")
    settings = ServingSettings()
    assert settings.tracking_uri() == "http://127.0.0.1:5000"
    assert settings.model_uri == "models:/other/3"
    assert settings.api_token is not None and settings.api_token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)
    assert settings.max_batch_size == 50
    assert (settings.hubspot.reasons, settings.hubspot.probability) == ("", "p_convert")


def test_an_empty_token_means_no_auth_and_bad_numbers_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEADSCORE_API_TOKEN", "  ")
    assert ServingSettings().api_token is None
    monkeypatch.setenv("LEADSCORE_MAX_BATCH_SIZE", "0")
    with pytest.raises(ValidationError, match="max_batch_size"):
        ServingSettings()


# -- auth and the request guard ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "token"),
    [
        (None, None),
        (b"", None),
        (b"Bearer abc", b"abc"),
        (b"bearer  abc ", b"abc"),
        (b"Basic abc", None),
        (b"Bearer", None),
        (b"abc", None),
    ],
)
def test_bearer_token(header: bytes | None, token: bytes | None) -> None:
    assert bearer_token(header) == token


def test_token_matches_only_the_exact_token() -> None:
    secret = SecretStr("s3cret-token")
    assert token_matches(b"s3cret-token", secret)
    for sent in (None, b"", b"s3cret", b"s3cret-token ", b"S3CRET-TOKEN"):
        assert not token_matches(sent, secret)


def test_health_and_docs_are_open_scoring_is_not() -> None:
    assert all(is_open(p) for p in ("/livez", "/readyz", "/healthz", "/metrics", "/docs.json"))
    assert not any(is_open(p) for p in ("/score", "/hubspot/score", "/model", "/x"))


def run_guard(
    settings: ServingSettings,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes = b"",
    chunks: int = 1,
) -> tuple[int, dict[str, Any] | None, bytes | None]:
    """Send one request through RequestGuard; returns status, JSON body, body the app got."""
    seen: dict[str, bytes] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        seen["body"] = message["body"]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    receive, send, sent = asgi_channel(body, max(1, len(body) // chunks))

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    asyncio.run(RequestGuard(app, settings)(scope, receive, send))
    status = sent[0]["status"]
    payload = json.loads(sent[1]["body"]) if status != 200 else None
    return status, payload, seen.get("body")


JSON = {"content-type": "application/json"}


def test_guard_requires_the_token_except_on_open_paths(caplog: pytest.LogCaptureFixture) -> None:
    settings = ServingSettings(api_token="s3cret-token")
    status, body, _ = run_guard(settings, "POST", "/score", JSON, b"{}")
    assert status == 401 and body is not None and "missing bearer token" in body["error"]
    status, body, _ = run_guard(
        settings, "POST", "/score", {**JSON, "Authorization": "Bearer wrong"}, b"{}"
    )
    assert status == 401 and body is not None and "invalid bearer token" in body["error"]
    assert run_guard(settings, "GET", "/model", {"Authorization": "Bearer wrong"})[0] == 401
    assert (
        run_guard(
            settings, "POST", "/score", {**JSON, "Authorization": "Bearer s3cret-token"}, b"{}"
        )[0]
        == 200
    )
    assert run_guard(settings, "GET", "/readyz", {})[0] == 200
    assert "s3cret" not in caplog.text and "wrong" not in caplog.text


def test_guard_refuses_non_json_and_oversized_bodies() -> None:
    settings = ServingSettings(max_body_bytes=2048)
    assert run_guard(settings, "POST", "/score", {"content-type": "text/csv"}, b"a")[0] == 415
    assert (
        run_guard(
            settings, "POST", "/score", {"content-type": "application/json; charset=utf-8"}, b"{}"
        )[0]
        == 200
    )
    assert run_guard(settings, "POST", "/score", {}, b"{}")[0] == 200
    big = b"x" * 5000
    status, body, _ = run_guard(
        settings, "POST", "/score", {**JSON, "content-length": str(len(big))}, big
    )
    assert status == 413 and body is not None and "2,048" in body["error"]
    # without a content length (chunked), counted while reading
    assert run_guard(settings, "POST", "/score", JSON, big, chunks=5)[0] == 413
    status, _, seen = run_guard(settings, "POST", "/score", JSON, b'{"leads": []}', chunks=3)
    assert (status, seen) == (200, b'{"leads": []}')


def test_client_error_filter_makes_one_warning_line() -> None:
    try:
        TypeAdapter(list[int]).validate_python(["x", None])
    except ValidationError as error:
        exc_info = (type(error), error, error.__traceback__)
    record = logging.LogRecord(
        "bentoml", logging.ERROR, __file__, 1, "Exception on %s [%s]", ("/score", "POST"), exc_info
    )
    assert ClientErrorFilter().filter(record)
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert record.getMessage().startswith("400 POST /score: invalid request: 0: ")
    server = logging.LogRecord(
        "bentoml",
        logging.ERROR,
        __file__,
        1,
        "Exception on %s [%s]",
        ("/score", "POST"),
        (RuntimeError, RuntimeError("x"), None),
    )
    assert ClientErrorFilter().filter(server)
    assert server.levelno == logging.ERROR and server.exc_info is not None


# -- CRM adapters --------------------------------------------------------------------------------


def test_hubspot_shapes_become_flat_records() -> None:
    contact = crm_fixture("hubspot_contact_v3.json")
    [(object_id, record)] = hubspot_records(contact)
    assert object_id == "51" and record["numemployees"] == "100-500"
    batch = crm_fixture("hubspot_contacts_batch_read.json")
    records = hubspot_records(batch)
    assert [i for i, _ in records] == ["51", "52", "53"]
    assert records[1][1]["jobtitle"] == "Student"
    legacy = crm_fixture("hubspot_workflow_webhook_legacy.json")
    [(object_id, record)] = hubspot_records(legacy)
    assert object_id == "51"
    assert record["numemployees"] == "100-500" and record["lifecyclestage"] == "lead"
    no_id = {"properties": {"hs_object_id": "9", "jobtitle": "CEO"}}
    assert hubspot_records(no_id)[0][0] == "9"


def test_salesforce_lead_maps_to_hubspot_names() -> None:
    record = salesforce_record(crm_fixture("salesforce_lead.json"))
    assert record["hs_object_id"] == "00Q5e00000ABCdeEAF"
    assert record["jobtitle"] == "Head of Marketing"
    assert record["numemployees"] == 240
    assert record["hs_email_domain"] == "j.meyer@example-maschinenbau.de"
    assert "FirstName" not in record and "Email" not in record


@pytest.mark.parametrize("value", [float("inf"), -float("inf"), 10**400])
def test_numbers_no_float_holds_are_refused(value: Any) -> None:
    with pytest.raises(CoercionError) as caught:
        check_numbers({"ok": 1e300, "annualrevenue": value})
    assert caught.value.column == "annualrevenue"
    check_numbers({"a": 1, "b": 2.5, "c": True, "d": "1e999", "e": None})


def factor(group: Group, phrase: str, effect: float) -> Factor:
    return Factor(group, "f", "f", "F", None, effect, phrase)


RESULT = LeadScore(
    probability=0.31234,
    fit=71.26,
    interest=45.04,
    fit_grade="A",
    interest_grade="B",
    decision=Decision(
        stage="salesqualifiedlead",
        lead_status="NEW",
        changed=True,
        rule="score_sql",
        detail="",
        next_action=NextAction("contact", "2025-04-02T16:00:00Z", "NEW: …; contact within 4 h"),
    ),
    reasons={
        "fit": GroupReasons(
            71.26,
            50.0,
            positive=[
                factor("fit", "Seniority: VP", 5.0),
                factor("fit", "Company size: 300 employees", 2.0),
                factor("fit", "Country: Germany", 1.0),
            ],
            negative=[],
        ),
        "interest": GroupReasons(
            45.04,
            48.0,
            positive=[],
            negative=[factor("interest", "Website visits: 1 visits", -3.0)],
        ),
    },
)
NOW = datetime(2025, 4, 2, 12, 0, tzinfo=UTC)


def test_write_back_properties_are_strings_and_stage_only_when_changed() -> None:
    record = {"lifecyclestage": "marketingqualifiedlead", "hs_lead_status": ""}
    out = hubspot_properties(RESULT, record, HubSpotProperties(), "4", NOW)
    assert out == {
        "leadscore_probability": "0.3123",
        "leadscore_score": "31.2",
        "leadscore_fit": "71.3",
        "leadscore_interest": "45.0",
        "leadscore_fit_grade": "A",
        "leadscore_interest_grade": "B",
        "leadscore_model_version": "4",
        "leadscore_scored_at": "2025-04-02T12:00:00.000Z",
        "leadscore_reasons": "Fit A: + Seniority: VP; + Company size: 300 employees | "
        "Interest B: − Website visits: 1 visits",
        "lifecyclestage": "salesqualifiedlead",
        "hs_lead_status": "NEW",
    }
    assert RESULT.decision is not None
    unchanged = replace(RESULT, decision=replace(RESULT.decision, changed=False))
    out = hubspot_properties(unchanged, record, HubSpotProperties(reasons="", score=""), "4", NOW)
    assert "lifecyclestage" not in out and "hs_lead_status" not in out
    assert "leadscore_reasons" not in out and "leadscore_score" not in out
    kept_status = {"lifecyclestage": "lead", "hs_lead_status": "NEW"}
    out = hubspot_properties(RESULT, kept_status, HubSpotProperties(), "4", NOW)
    assert out["lifecyclestage"] == "salesqualifiedlead" and "hs_lead_status" not in out
    scores_only = LeadScore(probability=0.5, fit=50.0, interest=50.0)
    out = hubspot_properties(scores_only, {}, HubSpotProperties(), None, NOW)
    assert "leadscore_fit_grade" not in out and "leadscore_model_version" not in out


def test_reasons_text_is_short() -> None:
    many = replace(
        RESULT,
        reasons={
            g: GroupReasons(
                50.0, 50.0, [factor(g, "x" * 300, 1.0)] * 5, [factor(g, "y" * 300, -1.0)] * 5
            )
            for g in GROUPS
        },
    )
    text = format_reasons(many)
    assert len(text) == REASONS_MAX_CHARS
    assert text.endswith("…")
    assert format_reasons(LeadScore(probability=0.1, fit=1.0, interest=1.0)) == ""


# -- time-true helpers ---------------------------------------------------------------------------


def test_numbers_no_float_holds_in_inline_events_are_refused() -> None:
    with pytest.raises(CoercionError) as caught:
        check_numbers({"events": [{"timestamp": 1.0}, {"event_value": 10**400}]})
    assert caught.value.column == "events[1].event_value"
    assert caught.value.value == "an integer of about 401 digits"
    check_numbers({"events": "not a list"})  # the scorer names that one
    check_numbers({"events": [None, {"timestamp": 1782864000000}]})


def test_as_of_reads_iso_and_epoch_ms_and_names_itself() -> None:
    assert read_as_of("2026-07-01T00:00:00Z") == AsOf(1_782_864_000_000_000_000)
    assert read_as_of(1782864000000) == read_as_of("2026-07-01T02:00:00+02:00")
    assert read_as_of(None).implicit
    for bad in ("soon", 10**400, float("inf")):
        with pytest.raises(ClientError) as caught:
            read_as_of(bad)
        assert caught.value.status == 400
        assert caught.value.detail[0]["loc"] == ["as_of"]
        assert caught.value.message.startswith("as_of: cannot read ")
    assert moment(AsOf(1_782_864_000_123_456_789)) == datetime(
        2026, 7, 1, 0, 0, 0, 123456, tzinfo=UTC
    )


def test_a_future_time_names_lead_property_and_as_of() -> None:
    as_of = 1_782_864_000_000_000_000
    error = FutureTimestampError("hs_email_last_open_date", "2026-07-02T00:00:00Z", as_of, 3)
    answer = coercion_error(error, 3, "leads", "createdate")
    assert answer.message == (
        "leads[3].hs_email_last_open_date: '2026-07-02T00:00:00Z' is after as_of "
        "2026-07-01T00:00:00Z: a value from after the moment of scoring is never a feature"
    )
    assert answer.detail[0]["type"] == "future_timestamp"
    created = coercion_error(
        FutureTimestampError("createdate", 1, as_of, 0), 0, "leads", "createdate"
    )
    assert "before it was created" in created.message
    renamed = coercion_error(
        FutureTimestampError("createdate", 1, as_of, 0),
        0,
        "leads",
        "createdate",
        {"createdate": "CreatedDate"},
    )
    assert renamed.detail[0]["loc"] == ["leads", 0, "CreatedDate"]


def test_messages_show_values_and_keys_short_and_on_one_line() -> None:
    error = CoercionError("events[0].timestamp", "x" * 100, "a timestamp")
    assert coercion_error(error, 0, "leads").message == (
        f"leads[0].events[0].timestamp: cannot read '{'x' * 57}…' as a timestamp"
    )
    assert shown_key("numemployees") == "numemployees"
    assert shown_key("a\nb") == "'a\\nb'"
    assert "\n" not in one_line("400 POST /score: a\nb") and "\r" not in one_line("a\rb")
