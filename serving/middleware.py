"""An ASGI guard in front of the API: token, media type and body size, before any parsing.

It answers 401 (no or wrong token), 415 (a body that is not JSON: BentoML would
otherwise try form, multipart or pickle decoders on it) and 413 (a body over
`LEADSCORE_MAX_BODY_BYTES`, refused before it is read whole), each with a JSON body
and one WARNING log line. Everything else passes through untouched.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from serving.auth import bearer_token, is_open, token_matches
from serving.settings import ServingSettings

log = logging.getLogger("serving.requests")

Scope = dict[str, Any]
Message = dict[str, Any]


class RequestGuard:
    """Pure ASGI middleware (no Starlette request objects: it runs on every request)."""

    def __init__(self, app: Any, settings: ServingSettings | None = None) -> None:
        self.app = app
        # Read when the ASGI app is built (in the server worker), never at import.
        self.settings = settings or ServingSettings()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or is_open(scope["path"]) or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        token = self.settings.api_token
        if token is not None and not token_matches(
            bearer_token(headers.get(b"authorization")), token
        ):
            why = "missing" if b"authorization" not in headers else "invalid"
            await reject(
                scope,
                send,
                401,
                f"{why} bearer token: send 'Authorization: Bearer "
                "<token>' (the value of LEADSCORE_API_TOKEN)",
                extra_headers=[(b"www-authenticate", b'Bearer realm="leadscore"')],
            )
            return
        if scope["method"] not in ("POST", "PUT", "PATCH"):
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
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            if len(body) > limit:
                await reject(
                    scope,
                    send,
                    413,
                    f"request body is over the limit of {limit:,} bytes (LEADSCORE_MAX_BODY_BYTES)",
                )
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, replay(bytes(body), receive), send)


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
    log.warning("%d %s %s: %s", status, scope["method"], scope["path"], message)
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
