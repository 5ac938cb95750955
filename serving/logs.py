"""Log hygiene: one line per record whatever the client sent, and one WARNING line, no
traceback, for a request the client got wrong.

`EscapeFilter` escapes control characters (line breaks, ANSI escapes, …) in every string a
record carries, on the loggers that write client-supplied text: BentoML's access log prints
the decoded path (`GET /model%0A…` would start a new, forged line), and request errors name
the client's property names. Values are never logged, only names and the kind of problem.

BentoML logs every request that fails validation with `logger.error(..., exc_info=True)`:
a full traceback at ERROR for what is the client's mistake, which buries real errors
under bad input. `ClientErrorFilter` rewrites exactly those records (a pydantic
`ValidationError`, or a BentoML error with a 4xx status) into one WARNING line naming
the fields; server errors keep their traceback.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from pydantic import ValidationError

# Where BentoML 1.4's `log_exception` writes (bentoml._internal.server.http_app).
BENTOML_ERROR_LOGGER = "bentoml._internal.server.http_app"
# Loggers that write client-supplied text (a logger's filters see only its own records, not
# its children's, so each one is named): BentoML's access log, its request errors, ours.
CLIENT_TEXT_LOGGERS = (
    "bentoml.access",
    BENTOML_ERROR_LOGGER,
    "bentoml.serve",
    "serving.requests",
)
MAX_LISTED = 5


def escape(text: str) -> str:
    """Text for one log line: control characters (and the line separators of Unicode) as
    escapes such as `\\n`, `\\x1b`; printable text, accents included, unchanged."""
    return text if text.isprintable() else repr(text)[1:-1]


QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def redacted(message: str) -> str:
    """A message for the log without what it quotes (`cannot read 'x@y.com' as a number` →
    `cannot read '…' as a number`): messages quote values with `!r`."""
    return escape(QUOTED.sub("'…'", message))


class EscapeFilter(logging.Filter):
    """Escape control characters in a record's message and string arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and not record.msg.isprintable():
            record.msg = escape(record.msg)
        args = record.args
        if isinstance(args, tuple) and args:
            record.args = tuple(escape(a) if isinstance(a, str) else a for a in args)
        elif isinstance(args, dict) and args:
            record.args = {k: escape(v) if isinstance(v, str) else v for k, v in args.items()}
        return True


def describe_errors(error: ValidationError) -> str:
    """`leads.0.numemployees: int_parsing; …`: where and what kind, never the input values
    (pydantic's messages may quote them: "Input should be 'a' or 'b'" is fine, but a custom
    validator's message is not known to be)."""
    items = error.errors(include_input=False, include_url=False, include_context=False)
    parts = [
        f"{escape('.'.join(str(p) for p in item['loc'])) or 'body'}: {item['type']}"
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
        what = describe_errors(exc) if isinstance(exc, ValidationError) else type(exc).__name__
        record.msg = "%d %s %s: invalid request: %s"
        record.args = (status, method, path, what)
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info, record.exc_text = None, None
        return True


def install_client_error_filter() -> None:
    """Attach the filters (idempotent): `ClientErrorFilter` to BentoML's request-error logger,
    then `EscapeFilter` to every logger that writes client-supplied text."""
    logger = logging.getLogger(BENTOML_ERROR_LOGGER)
    if not any(isinstance(f, ClientErrorFilter) for f in logger.filters):
        logger.addFilter(ClientErrorFilter())
    for name in CLIENT_TEXT_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, EscapeFilter) for f in logger.filters):
            logger.addFilter(EscapeFilter())
