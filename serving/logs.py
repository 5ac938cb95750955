"""One WARNING line, no traceback, for a request the client got wrong.

BentoML logs every request that fails validation with `logger.error(..., exc_info=True)`:
a full traceback at ERROR for what is the client's mistake, which buries real errors
under bad input. `ClientErrorFilter` rewrites exactly those records (a pydantic
`ValidationError`, or a BentoML error with a 4xx status) into one WARNING line naming
the fields; server errors keep their traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

# Where BentoML 1.4's `log_exception` writes (bentoml._internal.server.http_app).
BENTOML_ERROR_LOGGER = "bentoml._internal.server.http_app"
MAX_LISTED = 5


def describe_errors(error: ValidationError) -> str:
    """`leads.0.numemployees: Input should be …; …` without echoing the input values."""
    items = error.errors(include_input=False, include_url=False, include_context=False)
    parts = [
        f"{'.'.join(str(p) for p in item['loc']) or 'body'}: {item['msg']}"
        for item in items[:MAX_LISTED]
    ]
    if len(items) > MAX_LISTED:
        parts.append(f"… and {len(items) - MAX_LISTED} more")
    return "; ".join(parts)


def client_status(exc: BaseException | None) -> int | None:
    """The 4xx status BentoML answers for this exception, or None for a server error."""
    if isinstance(exc, ValidationError):
        return 400
    code = getattr(getattr(exc, "error_code", None), "value", None)
    if isinstance(code, int) and 400 <= code < 500:
        return code
    return None


class ClientErrorFilter(logging.Filter):
    """Turn BentoML's ERROR-with-traceback for a client error into one WARNING line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        status = client_status(exc)
        if status is None:
            return True
        args: Any = record.args if isinstance(record.args, tuple) else ()
        path, method = (*args, "?", "?")[:2]
        what = describe_errors(exc) if isinstance(exc, ValidationError) else str(exc)
        record.msg = "%d %s %s: invalid request: %s"
        record.args = (status, method, path, what)
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info, record.exc_text = None, None
        return True


def install_client_error_filter() -> None:
    """Attach the filter to BentoML's request-error logger (idempotent)."""
    logger = logging.getLogger(BENTOML_ERROR_LOGGER)
    if not any(isinstance(f, ClientErrorFilter) for f in logger.filters):
        logger.addFilter(ClientErrorFilter())
