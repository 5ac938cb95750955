"""Bearer-token auth for the scoring and model endpoints; health and docs stay open.

When `LEADSCORE_API_TOKEN` is set, every request outside `OPEN_PATHS` needs
`Authorization: Bearer <token>`. The comparison takes the same time whatever the
token sent (`hmac.compare_digest`), and neither token is ever logged.
"""

from __future__ import annotations

import hmac

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
