"""Authentication for the scoring and model endpoints; health and docs stay open.

When `LEADSCORE_API_TOKEN` is set, every request outside `OPEN_PATHS` needs
`Authorization: Bearer <token>`. When `LEADSCORE_HUBSPOT_CLIENT_SECRET` is set,
`/hubspot/score` also takes a request HubSpot signed (`X-HubSpot-Signature-v3`, checked
as HubSpot documents it). Comparisons take the same time whatever was sent
(`hmac.compare_digest`); no token, secret or signature is ever logged. `FailureLimiter`
answers 429 to a client after too many failed authentications in a minute.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import math
import re
from collections import OrderedDict

from pydantic import SecretStr

# Probes, Prometheus and the API description: no secrets there, and probes cannot send tokens.
OPEN_PATHS: frozenset[str] = frozenset(
    {"/livez", "/healthz", "/readyz", "/metrics", "/docs.json", "/schema.json", "/"}
)
OPEN_PREFIXES: tuple[str, ...] = ("/static_content/", "/assets/")


def is_open(path: str) -> bool:
    """Whether a path is served without a token."""
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def bearer_token(authorization: bytes | None) -> bytes | None:
    """The token of an `Authorization: Bearer <token>` header value (scheme case-insensitive)."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(b" ")
    if scheme.lower() != b"bearer":
        return None
    token = token.strip()
    return token or None


def token_matches(sent: bytes | None, expected: SecretStr) -> bool:
    """Constant-time comparison of the sent token with the configured one."""
    wanted = expected.get_secret_value().encode("utf-8")
    return sent is not None and hmac.compare_digest(sent, wanted)


# -- HubSpot request signatures (v3) ---------------------------------------------------------
# https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation
SIGNATURE_HEADER = b"x-hubspot-signature-v3"
TIMESTAMP_HEADER = b"x-hubspot-request-timestamp"
SIGNATURE_MAX_AGE_MS = 5 * 60 * 1000
# The URL-encoded characters HubSpot decodes in the URI before signing it.
HUBSPOT_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
_ENCODED = re.compile("|".join(HUBSPOT_DECODED), re.IGNORECASE)


def signed_uri(base_url: str, raw_path: bytes, query: bytes) -> str:
    """The URI HubSpot signs: scheme, host and path as HubSpot called them, the query string
    as sent, with the characters HubSpot lists decoded (`%3A` → `:`, …)."""
    uri = base_url.rstrip("/") + raw_path.decode("latin-1")
    if query:
        uri += "?" + query.decode("latin-1")
    return _ENCODED.sub(lambda m: HUBSPOT_DECODED[m.group(0).upper()], uri)


def hubspot_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> bytes:
    """base64(HMAC-SHA256(client secret, method + URI + body + timestamp)), as HubSpot signs."""
    message = method.encode() + uri.encode("utf-8") + body + timestamp.encode("ascii")
    return base64.b64encode(hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest())


def signature_problem(
    secret: SecretStr,
    method: str,
    uri: str,
    body: bytes,
    signature: bytes | None,
    timestamp: bytes | None,
    now_ms: int,
) -> str | None:
    """Why a v3-signed request is refused (None: it is HubSpot's). A timestamp more than five
    minutes away from now, in either direction, is refused: a replay or a wrong clock."""
    if not signature or not timestamp:
        return "missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp"
    stamp = timestamp.decode("latin-1").strip()
    if not stamp.isdigit() or len(stamp) > 15:
        return "X-HubSpot-Request-Timestamp is not epoch milliseconds"
    if abs(now_ms - int(stamp)) > SIGNATURE_MAX_AGE_MS:
        return "X-HubSpot-Request-Timestamp is more than 5 minutes from now"
    expected = hubspot_signature(secret.get_secret_value(), method, uri, body, stamp)
    if not hmac.compare_digest(signature.strip(), expected):
        return "X-HubSpot-Signature-v3 does not match"
    return None


# -- failed authentications per client -----------------------------------------------------
class FailureLimiter:
    """At most `limit` failed authentications per client in a window of `window` seconds.

    A client is its peer address as uvicorn reports it (`scope["client"]`; an IPv6 address by
    its /64 network, which one host usually holds whole). A blocked client gets 429 for
    whatever it sends until its window ends, a right token included: otherwise the status
    would tell a guesser when it guessed right. The table holds at most `max_clients`
    clients (the oldest window is forgotten first), so memory stays bounded however many
    addresses fail."""

    def __init__(self, limit: int, window: float = 60.0, max_clients: int = 10_000) -> None:
        self.limit = limit
        self.window = window
        self.max_clients = max_clients
        # client → (start of its window, failures in it); insertion order = window start.
        self.failures: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def retry_after(self, client: str, now: float) -> int:
        """Seconds until the client may try again (0: not blocked)."""
        entry = self.failures.get(client)
        if entry is None:
            return 0
        start, count = entry
        if now - start >= self.window:
            del self.failures[client]
            return 0
        return math.ceil(start + self.window - now) if count >= self.limit else 0

    def fail(self, client: str, now: float) -> None:
        """Count one failed authentication of the client."""
        entry = self.failures.get(client)
        if entry is None or now - entry[0] >= self.window:
            self.failures.pop(client, None)
            self.failures[client] = (now, 1)
            while len(self.failures) > self.max_clients:
                self.failures.popitem(last=False)
        else:
            self.failures[client] = (entry[0], entry[1] + 1)


def client_key(scope: dict[str, object]) -> str:
    """The client a request counts against: its address (an IPv6 one by its /64)."""
    client = scope.get("client")
    host = client[0] if isinstance(client, list | tuple) and client else None
    if not isinstance(host, str) or not host:
        return "unknown"
    if ":" in host:
        try:
            return str(ipaddress.ip_network(f"{host}/64", strict=False))
        except ValueError:
            return host
    return host
