"""The request guard's parts, in process: counting a batch while it arrives, the failed-auth
limiter, HubSpot's v3 signature, log escaping and the bounded metrics labels."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
from typing import Any

import pytest
from pydantic import SecretStr

from serving.auth import (
    FailureLimiter,
    client_key,
    hubspot_signature,
    signature_problem,
    signed_uri,
)
from serving.batchcount import OTHER_ARRAY_LIMIT, BatchCounter
from serving.logs import EscapeFilter, describe_errors, redacted
from serving.metrics import OTHER, route_label
from serving.middleware import RequestGuard
from serving.settings import ServingSettings
from tests.serving.support import asgi_channel

LEADS = frozenset({"leads"})


def over(body: bytes, limit: int = 1000, keys: frozenset[str] = LEADS, chunk: int = 65536) -> bool:
    counter = BatchCounter(limit, keys)
    return any(counter.feed(body[i : i + chunk]) for i in range(0, len(body), chunk))


def score_body(n: int) -> bytes:
    # Leads whose strings hold brackets, quotes and backslashes, and nested arrays.
    lead = {"a": 'b,c]}"\\', "n": [1, {"x": '\\"]'}], "events": [{"t": "[{"}]}
    return json.dumps({"as_of": "2026-07-01", "leads": [lead] * n, "explain": True}).encode()


@pytest.mark.parametrize("chunk", [1, 3, 7, 65536])
@pytest.mark.parametrize(("n", "refused"), [(1, False), (999, False), (1000, False), (1001, True)])
def test_batch_counter_refuses_just_over_the_limit(chunk: int, n: int, refused: bool) -> None:
    assert over(score_body(n), chunk=chunk) is refused


def test_batch_counter_finds_every_batch_shape_and_bypass() -> None:
    results = frozenset({"results"})
    objects = [{"id": str(i), "properties": {}} for i in range(1001)]
    assert over(json.dumps(objects).encode(), keys=results)  # a HubSpot list
    assert not over(json.dumps(objects[:1000]).encode(), keys=results)
    assert over(json.dumps({"results": objects}).encode(), keys=results)  # batch-read answer
    many = b",".join([b"{}"] * 1001)
    assert over(b'{"le\\u0061ds": [' + many + b"]}", chunk=5)  # an escaped key is the same key
    assert over(b'{"leads": [{}], "leads": [' + many + b"]}")  # a repeated key: JSON keeps the last
    assert not over(b'{"other": [' + many + b"]}")  # not the batch: the other arrays' limit
    other = b",".join([b"1"] * (OTHER_ARRAY_LIMIT + 1))
    assert over(b'{"leads": [{}], "junk": [' + other + b"]}")
    assert not over(b'{"leads": ]' + many)  # malformed: left to BentoML's 400
    assert not over(b'"' + many + b'"')  # one string
    assert not over(b'{"leads": [{"k": "' + many + b'"}]}')  # commas inside a string


def test_batch_counter_is_fast_and_stops_early() -> None:
    attack = b"[" + b",".join(b'{"id":"%07d","properties":{}}' % i for i in range(450_000)) + b"]"
    counter = BatchCounter(1000, frozenset({"results"}))
    begin = time.perf_counter()
    fed = 0
    for i in range(0, len(attack), 65536):
        fed += 1
        if counter.feed(attack[i : i + 65536]):
            break
    assert fed == 1 and time.perf_counter() - begin < 0.05
    legit = score_body(1000)
    begin = time.perf_counter()
    assert not over(legit)
    assert time.perf_counter() - begin < 0.1


def test_failure_limiter_blocks_for_the_rest_of_the_minute_and_stays_bounded() -> None:
    limiter = FailureLimiter(limit=3, window=60.0, max_clients=100)
    for _ in range(3):
        assert limiter.retry_after("a", 10.0) == 0
        limiter.fail("a", 10.0)
    assert limiter.retry_after("a", 10.5) == 60
    assert limiter.retry_after("a", 69.2) == 1
    assert limiter.retry_after("b", 10.5) == 0  # another client is not affected
    assert limiter.retry_after("a", 70.0) == 0  # the window is over
    for i in range(10_000):
        limiter.fail(f"10.0.{i // 256}.{i % 256}", 100.0)
    assert len(limiter.failures) == 100


def test_client_key_groups_ipv6_by_64() -> None:
    assert client_key({"client": ("203.0.113.7", 5000)}) == "203.0.113.7"
    assert client_key({"client": ("2001:db8::1", 1)}) == client_key({"client": ("2001:db8::2", 1)})
    assert client_key({"client": ("2001:db8::1", 1)}) == "2001:db8::/64"
    assert client_key({}) == "unknown"


def reference_signature(secret: str, method: str, uri: str, body: str, timestamp: str) -> str:
    """HubSpot's v3 recipe, written out as its documentation states it."""
    source = f"{method}{uri}{body}{timestamp}".encode()
    return base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest()).decode()


def test_hubspot_v3_signature() -> None:
    secret, body, stamp = "client-secret-1234", '{"properties":{}}', "1764633600000"
    uri = "https://leadscore.example.com/hubspot/score?as_of=2026-07-01T00:00:00Z"
    expected = reference_signature(secret, "POST", uri, body, stamp)
    assert hubspot_signature(secret, "POST", uri, body.encode(), stamp).decode() == expected
    # HubSpot decodes the characters it lists before signing, %3A among them
    assert (
        signed_uri(
            "https://leadscore.example.com/",
            b"/hubspot/score",
            b"as_of=2026-07-01T00%3A00%3A00Z&x=%2f%20",
        )
        == "https://leadscore.example.com/hubspot/score?as_of=2026-07-01T00:00:00Z&x=/%20"
    )
    now = 1764633600000
    ok = signature_problem(
        SecretStr(secret), "POST", uri, body.encode(), expected.encode(), stamp.encode(), now
    )
    assert ok is None
    cases = {
        "does not match": (expected[:-2] + "AA", stamp, now),
        "more than 5 minutes": (expected, stamp, now + 5 * 60 * 1000 + 1),
        "not epoch milliseconds": (expected, "yesterday", now),
        "missing": ("", stamp, now),
    }
    for why, (signature, timestamp, at) in cases.items():
        problem = signature_problem(
            SecretStr(secret),
            "POST",
            uri,
            body.encode(),
            signature.encode(),
            timestamp.encode(),
            at,
        )
        assert problem is not None and why in problem


def test_escape_filter_keeps_every_record_on_one_line() -> None:
    record = logging.LogRecord(
        "bentoml.access",
        logging.INFO,
        __file__,
        1,
        "%s (%s) %.3fms",
        ("127.0.0.1:1", "path=/model\n2026-12-02 [ERROR] FORGED\x1b[31m", 1.0),
        None,
    )
    assert EscapeFilter().filter(record)
    message = record.getMessage()
    assert "\n" not in message and "\x1b" not in message
    assert "path=/model\\n2026-12-02 [ERROR] FORGED\\x1b[31m" in message
    assert redacted("leads[0].numemployees: cannot read 'jane@example.com' as a number") == (
        "leads[0].numemployees: cannot read '…' as a number"
    )


def test_validation_errors_are_logged_by_place_and_kind_only() -> None:
    from pydantic import TypeAdapter, ValidationError

    with pytest.raises(ValidationError) as caught:
        TypeAdapter(dict[str, int]).validate_python({"bad\nkey": "jane@example.com"})
    text = describe_errors(caught.value)
    assert text == "bad\\nkey: int_parsing"


def test_metrics_label_by_route_else_other() -> None:
    class Route:
        path = "/items/{id}"

    known = frozenset({"/score"})
    assert route_label({"path": "/items/7", "route": Route()}, known) == "/items/{id}"
    assert route_label({"path": "/score"}, known) == "/score"
    assert route_label({"path": "/y4711"}, known) == OTHER


# -- the guard, in process --------------------------------------------------------------------


def guard(
    settings: ServingSettings,
    path: str = "/score",
    headers: dict[str, str] | None = None,
    body: bytes = b"{}",
    client: str = "203.0.113.1",
    guard_: RequestGuard | None = None,
    query: bytes = b"",
    chunk: int = 65536,
) -> tuple[int, dict[str, str], dict[str, Any] | None, bool]:
    """One POST through the guard: status, response headers, JSON body, whether the app ran."""
    ran: list[bool] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        ran.append(True)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    receive, send, sent = asgi_channel(body, chunk)

    scope = {
        "type": "http",
        "method": "POST",
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "client": (client, 40000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        + [(b"host", b"leadscore.example.com"), (b"content-type", b"application/json")],
    }
    asyncio.run((guard_ or RequestGuard(app, settings))(scope, receive, send))
    head = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    status = sent[0]["status"]
    return status, head, json.loads(sent[1]["body"]) if status != 200 else None, bool(ran)


def test_guard_refuses_a_large_batch_before_the_app_sees_it() -> None:
    settings = ServingSettings(max_batch_size=10)
    status, _, body, ran = guard(settings, body=json.dumps({"leads": [{}] * 11}).encode())
    assert (status, ran) == (413, False)
    assert body is not None and "more than 10 leads" in body["error"]
    assert guard(settings, body=json.dumps({"leads": [{}] * 10}).encode())[0] == 200
    attack = b"[" + b",".join([b'{"id":"0000001","properties":{}}'] * 450_000) + b"]"  # 15 MB
    begin = time.perf_counter()
    assert guard(ServingSettings(), "/hubspot/score", body=attack)[:1] == (413,)
    assert time.perf_counter() - begin < 0.5


def test_guard_limits_failed_authentications_per_client(caplog: pytest.LogCaptureFixture) -> None:
    settings = ServingSettings(api_token="right-token", auth_failures_per_minute=3)
    clock = [1000.0]
    shared = RequestGuard(None, settings, clock=lambda: clock[0])

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    shared.app = app
    wrong = {"Authorization": "Bearer wrong-token"}
    right = {"Authorization": "Bearer right-token"}
    statuses = [guard(settings, headers=wrong, guard_=shared)[0] for _ in range(3)]
    assert statuses == [401, 401, 401]
    status, head, body, ran = guard(settings, headers=right, guard_=shared)
    assert (status, ran) == (429, False) and head["retry-after"] == "60"
    assert body is not None and "too many failed authentications" in body["error"]
    assert guard(settings, headers=right, guard_=shared, client="203.0.113.2")[0] == 200
    clock[0] += 60
    assert guard(settings, headers=right, guard_=shared)[0] == 200
    assert "wrong-token" not in caplog.text and "right-token" not in caplog.text


def sign(secret: str, uri: str, body: bytes, stamp: str) -> dict[str, str]:
    return {
        "X-HubSpot-Signature-v3": reference_signature(secret, "POST", uri, body.decode(), stamp),
        "X-HubSpot-Request-Timestamp": stamp,
    }


def test_guard_takes_a_hubspot_signature_instead_of_the_token() -> None:
    secret = "hubspot-client-secret"
    body = b'{"id": "1", "properties": {"jobtitle": "CEO"}}'
    now = str(int(time.time() * 1000))
    uri = "https://leadscore.example.com/hubspot/score?as_of=2026-07-01T00:00:00Z"
    query = b"as_of=2026-07-01T00%3A00%3A00Z"
    for settings in (
        ServingSettings(api_token="token", hubspot_client_secret=secret),
        ServingSettings(hubspot_client_secret=secret),  # no token: HubSpot alone
    ):
        signed = sign(secret, uri, body, now)
        assert guard(settings, "/hubspot/score", signed, body, query=query)[::3] == (200, True)
        tampered = body.replace(b"CEO", b"CFO")
        assert guard(settings, "/hubspot/score", signed, tampered, query=query)[0] == 401
        stale = str(int(now) - 6 * 60 * 1000)
        assert (
            guard(settings, "/hubspot/score", sign(secret, uri, body, stale), body, query=query)[0]
            == 401
        )
        assert guard(settings, "/hubspot/score", {}, body)[0] == 401  # neither credential
        # a signature opens /hubspot/score only
        assert guard(settings, "/score", signed, body, query=query)[0] == (
            401 if settings.api_token else 200
        )
    # behind a proxy: the URL HubSpot called is a setting
    proxied = ServingSettings(
        hubspot_client_secret=secret, public_base_url="https://crm-hooks.example.org/leadscore"
    )
    public = "https://crm-hooks.example.org/leadscore/hubspot/score"
    assert guard(proxied, "/hubspot/score", sign(secret, public, body, now), body)[0] == 200
    assert guard(proxied, "/hubspot/score", sign(secret, uri, body, now), body)[0] == 401
