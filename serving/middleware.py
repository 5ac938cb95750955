"""An ASGI guard in front of the API: credentials, media type and size, before any parsing.

It answers, each time with a JSON body and one WARNING log line (control characters of
the client's escaped, no token, signature or body ever in it):
- 429 with `Retry-After` to a client that failed authentication too often in the last
  minute (`LEADSCORE_AUTH_FAILURES_PER_MINUTE`), whatever it sends;
- 401: no or wrong bearer token, or on `/hubspot/score` a missing, wrong or stale HubSpot
  signature (`X-HubSpot-Signature-v3`, when `LEADSCORE_HUBSPOT_CLIENT_SECRET` is set);
- 415: a body that is not JSON (BentoML would otherwise try form, multipart or pickle
  decoders on it);
- 413: a body over `LEADSCORE_MAX_BODY_BYTES` (refused before it is read whole), or a batch
  of more than `LEADSCORE_MAX_BATCH_SIZE` leads, counted while the body arrives
  (`serving.batchcount`), so that BentoML never parses it.
Everything else passes through untouched.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from serving.auth import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    FailureLimiter,
    bearer_token,
    client_key,
    is_open,
    signature_problem,
    signed_uri,
    token_matches,
)
from serving.batchcount import BatchCounter
from serving.logs import escape
from serving.settings import ServingSettings

log = logging.getLogger("serving.requests")

Scope = dict[str, Any]
Message = dict[str, Any]

HUBSPOT_ROUTE = "/hubspot/score"
# Where each scoring route's batch is: the top-level array, or the array under these keys.
BATCH_KEYS: dict[str, frozenset[str]] = {
    "/score": frozenset({"leads"}),
    "/salesforce/score": frozenset({"leads"}),
    HUBSPOT_ROUTE: frozenset({"results"}),
}
BEARER_CHALLENGE = (b"www-authenticate", b'Bearer realm="leadscore"')


class RequestGuard:
    """Pure ASGI middleware (no Starlette request objects: it runs on every request)."""

    def __init__(
        self,
        app: Any,
        settings: ServingSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        # Read when the ASGI app is built (in the server worker), never at import.
        self.settings = settings or ServingSettings()
        self.failures = FailureLimiter(self.settings.auth_failures_per_minute)
        self.clock = clock
        self.wall_clock = wall_clock

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or is_open(scope["path"]) or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        settings = self.settings
        client, now = client_key(scope), self.clock()
        wait = self.failures.retry_after(client, now)
        if wait:
            await reject(
                scope,
                send,
                429,
                f"too many failed authentications from this client: try again in {wait} s",
                [(b"retry-after", str(wait).encode("ascii"))],
            )
            return
        headers = dict(scope["headers"])
        token, secret = settings.api_token, settings.hubspot_client_secret
        on_hubspot = scope["path"] == HUBSPOT_ROUTE and secret is not None
        needs_auth = token is not None or on_hubspot
        bearer_ok = token is not None and token_matches(
            bearer_token(headers.get(b"authorization")), token
        )
        signed = needs_auth and not bearer_ok and on_hubspot and SIGNATURE_HEADER in headers
        if needs_auth and not bearer_ok and not signed:
            self.failures.fail(client, now)
            await reject(
                scope,
                send,
                401,
                unauthorized(headers, token is not None, on_hubspot),
                [BEARER_CHALLENGE] if token is not None else None,
            )
            return
        if scope["method"] not in ("POST", "PUT", "PATCH") and not signed:
            await self.app(scope, receive, send)
            return
        media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if media_type and media_type != b"application/json" and not media_type.endswith(b"+json"):
            await reject(
                scope,
                send,
                415,
                f"expected a JSON body (Content-Type: application/json),"
                f" got {media_type.decode('latin-1')!r}",
            )
            return
        body = await self.read_body(scope, headers, receive, send)
        if body is None:
            return
        if signed:
            assert secret is not None
            base = settings.public_base_url or (
                f"{scope.get('scheme', 'http')}://"
                f"{headers.get(b'host', b'localhost').decode('latin-1')}"
            )
            problem = signature_problem(
                secret,
                scope["method"],
                signed_uri(
                    base,
                    scope.get("raw_path") or scope["path"].encode("utf-8"),
                    scope.get("query_string", b""),
                ),
                body,
                headers.get(SIGNATURE_HEADER),
                headers.get(TIMESTAMP_HEADER),
                int(self.wall_clock() * 1000),
            )
            if problem is not None:
                self.failures.fail(client, now)
                await reject(scope, send, 401, f"HubSpot signature refused: {problem}")
                return
        await self.app(scope, replay(body, receive), send)

    async def read_body(
        self, scope: Scope, headers: dict[bytes, bytes], receive: Any, send: Any
    ) -> bytes | None:
        """The whole body, or None after answering 413 (too large, or too many leads)."""
        limit = self.settings.max_body_bytes
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await reject(
                scope,
                send,
                413,
                f"request body of {int(declared):,} bytes is over the "
                f"limit of {limit:,} bytes (LEADSCORE_MAX_BODY_BYTES)",
            )
            return None
        batch = self.settings.max_batch_size
        counter = BatchCounter(batch, BATCH_KEYS.get(scope["path"], frozenset()))
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return None
            chunk = message.get("body", b"")
            body += chunk
            more = message.get("more_body", False)
            if len(body) > limit:
                await reject(
                    scope,
                    send,
                    413,
                    f"request body is over the limit of {limit:,} bytes (LEADSCORE_MAX_BODY_BYTES)",
                )
                return None
            if counter.feed(chunk):
                # Read the rest unparsed (a client that sends its whole body before reading
                # the answer would otherwise see a reset connection, not the 413).
                read = len(body)
                del body
                while more and read <= limit:
                    message = await receive()
                    if message["type"] != "http.request":
                        return None
                    read += len(message.get("body", b""))
                    more = message.get("more_body", False)
                what = (
                    f"more than {batch:,} leads in one request is over the limit of {batch:,} "
                    "(LEADSCORE_MAX_BATCH_SIZE): split the batch"
                    if counter.current == batch
                    else f"an array of more than {counter.current:,} items in the body"
                )
                await reject(scope, send, 413, what)
                return None
            if not more:
                return bytes(body)


def unauthorized(headers: dict[bytes, bytes], token: bool, hubspot: bool) -> str:
    """Why a request without valid credentials is refused, and what would be accepted."""
    ways = []
    if token:
        why = "missing" if b"authorization" not in headers else "invalid"
        ways.append("'Authorization: Bearer <token>' (the value of LEADSCORE_API_TOKEN)")
    else:
        why = "missing"
    if hubspot:
        ways.append("a request signed by HubSpot (X-HubSpot-Signature-v3)")
    what = "bearer token" if token else "HubSpot signature"
    return f"{why} {what}: send {' or '.join(ways)}"


def replay(body: bytes, receive: Any) -> Any:
    """A `receive` that hands the app the body already read, then defers to the client."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # type: ignore[no-any-return]

    return again


async def reject(
    scope: Scope,
    send: Any,
    status: int,
    message: str,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Send a JSON error and log it as one line (never the request's headers or body)."""
    log.warning("%d %s %s: %s", status, scope["method"], escape(scope["path"]), message)
    payload = json.dumps({"error": message, "detail": []}).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode("ascii")),
                *(extra_headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
