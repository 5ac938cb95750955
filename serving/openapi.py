"""The API as it really is: the OpenAPI document at `/docs.json`, the docs page at `/`, and
error bodies in one shape.

BentoML's generated document is a good start but disagrees with the service: its error
schema (`detail` a string) is not what is sent, it declares no security scheme and no
401/413/415/429, and pydantic's `anyOf [..., {"type": "null"}]` is OpenAPI 3.1 in a 3.0
document. `openapi_document` fixes those on a copy, once per worker. BentoML's own
validation errors (`"5 validation error for HubSpotRequestIODescriptor"`, a list under
`detail`, and for other 4xx a list as the whole body) are rewritten by `ApiFront` into
`{"error": "leads[0].numemployees: …", "detail": [{"loc", "msg", "type"}]}`.

The docs page BentoML serves at `/` loads a third-party tag manager; ours loads only the
Swagger UI files BentoML ships (served from this server) and calls nothing else.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

from serving.adapters import json_path
from serving.schemas import ErrorResponse

log = logging.getLogger("serving.requests")

Scope = dict[str, Any]
Message = dict[str, Any]

TITLE = "leadscore"
DESCRIPTION = (
    "Lead scores for CRM workflows: a calibrated probability to convert, fit and interest "
    "scores with grades, the recommended lifecycle stage and lead status with the rule that "
    "decided, and the reasons a sales rep can read.\n\n"
    "Every endpoint except the health probes, `/metrics` and this documentation needs "
    "`Authorization: Bearer <token>` when the server has `LEADSCORE_API_TOKEN` set. Every "
    'error is `{"error": "<what, naming the field by its JSON path>", "detail": '
    '[{"loc", "msg", "type"}]}`.'
)
ERROR_STATUSES: dict[int, str] = {
    400: "The request is wrong: `error` names the field by its JSON path.",
    401: "No or a wrong bearer token (when `LEADSCORE_API_TOKEN` is set).",
    413: "Body or lead count over the limit (`LEADSCORE_MAX_BODY_BYTES`, "
    "`LEADSCORE_MAX_BATCH_SIZE`).",
    415: "The body is not JSON (`Content-Type: application/json`).",
    429: "Too many failed authentications from this client: retry later.",
    500: "A server error (logged with its traceback).",
}
# The HubSpot endpoint also accepts HubSpot's own request signature (v3) instead of a token.
HUBSPOT_PATH = "/hubspot/score"
# Its query parameters (the body is HubSpot's own shape: options cannot go there).
HUBSPOT_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": "as_of",
        "in": "query",
        "required": False,
        "description": "the moment to score as of: ISO 8601 or epoch milliseconds; default: "
        "the time the request arrives",
        "schema": {"type": "string", "example": "2026-07-01T00:00:00Z"},
    },
    {
        "name": "actions",
        "in": "query",
        "required": False,
        "description": "true: also answer `actions`, the Tasks and Deals API create bodies of "
        "the contacts' next actions (a task for contact, retry_contact and recheck, a deal "
        "for create_deal), associated with each contact",
        "schema": {"type": "boolean", "default": False},
    },
    {
        "name": "lang",
        "in": "query",
        "required": False,
        "description": "language of the reasons property and of the task subjects and "
        "bodies: en or de; default: the service's LEADSCORE_LANG, else en",
        "schema": {"type": "string", "example": "de"},
    },
]
API_OPERATIONS = ("/score", "/hubspot/score", "/salesforce/score")
# BentoML's message for a pydantic error: "5 validation error for HubSpotRequestIODescriptor".
BENTOML_VALIDATION = re.compile(r"\d+ validation errors? for ")
PYDANTIC_WORDS: dict[str, str] = {
    "missing": "required",
    "bool_type": "expected true or false",
    "list_type": "expected a list",
    "dict_type": "expected an object",
    "string_type": "expected a string",
    "int_type": "expected an integer",
    "too_short": "expected at least one item",
    "model_type": "expected an object",
    "model_attributes_type": "expected an object",
}


def openapi_document(spec: dict[str, Any]) -> dict[str, Any]:
    """BentoML's OpenAPI document (`Service.openapi_spec.asdict()`) made true to the service."""
    doc = as_openapi_30(copy.deepcopy(spec))
    doc["info"] = {"title": TITLE, "description": DESCRIPTION, "version": package_version()}
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name in ("InvalidArgument", "NotFound", "InternalServerError"):
        schemas.pop(name, None)
    error_schema = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(as_openapi_30(error_schema.pop("$defs", {})))
    schemas["ErrorResponse"] = as_openapi_30(error_schema)
    doc["components"]["securitySchemes"] = {
        "bearerAuth": {
            "type": "http",
            "scheme": "bearer",
            "description": "the value of LEADSCORE_API_TOKEN (required only when it is set)",
        },
        "hubspotSignature": {
            "type": "apiKey",
            "in": "header",
            "name": "X-HubSpot-Signature-v3",
            "description": "HubSpot's v3 request signature, accepted on /hubspot/score instead "
            "of a token when LEADSCORE_HUBSPOT_CLIENT_SECRET is set",
        },
        "hubspotTimestamp": {
            "type": "apiKey",
            "in": "header",
            "name": "X-HubSpot-Request-Timestamp",
            "description": "the signed request's time (epoch milliseconds, at most 5 minutes old)",
        },
    }
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            if (operation.get("tags") or [None])[0] == "Infrastructure":
                continue
            operation["security"] = [{"bearerAuth": []}] + (
                [{"hubspotSignature": [], "hubspotTimestamp": []}] if path == HUBSPOT_PATH else []
            )
            if path == HUBSPOT_PATH and method == "post":
                known = {p.get("name") for p in operation.get("parameters", [])}
                operation["parameters"] = [
                    *operation.get("parameters", []),
                    *(p for p in HUBSPOT_PARAMETERS if p["name"] not in known),
                ]
            responses = {str(k): v for k, v in operation["responses"].items()}
            operation["responses"] = responses
            for unused in ("404", "422"):
                responses.pop(unused, None)
            statuses = (
                ERROR_STATUSES
                if method == "post"
                else {k: v for k, v in ERROR_STATUSES.items() if k in (401, 429, 500)}
            )
            for code, text in statuses.items():
                responses[str(code)] = error_response(text)
    schemas.pop("TaskStatusResponse", None)  # BentoML's task queue: not used here
    renamed = {name: plain_name(name) for name in schemas if plain_name(name) != name}
    for old, new in renamed.items():
        schemas[new] = schemas.pop(old)
        schemas[new]["title"] = new
    retitle(doc.get("paths", {}))
    doc = rename_refs(doc, renamed)
    restore_nullable(doc)
    return doc  # type: ignore[no-any-return]


def restore_nullable(doc: dict[str, Any]) -> None:
    """An answer's optional fields as the component schema has them: BentoML keeps only
    the first branch of an `anyOf` in the inline schema of an API's answer, so
    `HubSpotResponse.actions` (null unless asked for) would read as never null."""
    schemas = doc.get("components", {}).get("schemas", {})
    for item in doc.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for response in operation.get("responses", {}).values():
                content = response.get("content", {}) if isinstance(response, dict) else {}
                for media in content.values():
                    inline = media.get("schema", {})
                    component = schemas.get(inline.get("title"), {})
                    fields = component.get("properties", {})
                    for name, field in inline.get("properties", {}).items():
                        if fields.get(name, {}).get("nullable") and not field.get("nullable"):
                            inline["properties"][name] = copy.deepcopy(fields[name])


def plain_name(name: str) -> str:
    """BentoML's internal schema names in the project's words: `score__Input` → `ScoreRequest`,
    `HubSpotResponseIODescriptor` → `HubSpotResponse`."""
    if name.endswith("__Input"):
        return "".join(part.title() for part in name.removesuffix("__Input").split("_")) + (
            "Request"
        )
    if name == "HubSpotRequestIODescriptor":
        return "HubSpotRequest"
    return name.removesuffix("IODescriptor")


def rename_refs(node: Any, renamed: dict[str, str]) -> Any:
    prefix = "#/components/schemas/"
    if isinstance(node, dict):
        out = {key: rename_refs(value, renamed) for key, value in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith(prefix):
            out["$ref"] = prefix + renamed.get(ref.removeprefix(prefix), ref.removeprefix(prefix))
        return out
    if isinstance(node, list):
        return [rename_refs(item, renamed) for item in node]
    return node


def error_response(text: str) -> dict[str, Any]:
    return {
        "description": text,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }


def retitle(node: Any) -> None:
    """Inline request/response schemas titled after BentoML's internal classes get plain names."""
    if isinstance(node, dict):
        title = node.get("title")
        if isinstance(title, str) and title.endswith("IODescriptor"):
            node["title"] = title.removesuffix("IODescriptor")
        elif title in ("Input", "Output") or (isinstance(title, str) and "__" in title):
            node.pop("title")
        for value in node.values():
            retitle(value)
    elif isinstance(node, list):
        for value in node:
            retitle(value)


def as_openapi_30(node: Any) -> Any:
    """JSON Schema 2020 (pydantic) → OpenAPI 3.0: `{"anyOf": [X, {"type": "null"}]}` becomes
    X with `nullable: true`; a lone `{"type": "null"}` branch elsewhere is dropped."""
    if isinstance(node, list):
        return [as_openapi_30(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: as_openapi_30(value) for key, value in node.items()}
    for key in ("anyOf", "oneOf"):
        branches = out.get(key)
        if not isinstance(branches, list):
            continue
        kept = [b for b in branches if not (isinstance(b, dict) and b.get("type") == "null")]
        if len(kept) == len(branches):
            continue
        out["nullable"] = True
        if len(kept) == 1 and isinstance(kept[0], dict):
            del out[key]
            if "$ref" in kept[0]:
                out["allOf"] = kept
            else:
                out = {**kept[0], **out}
        else:
            out[key] = kept
    return out


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("leadscore")
    except PackageNotFoundError:
        return "0"


def docs_page() -> bytes:
    """The docs page: Swagger UI from this server's own files, the project's own words."""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{TITLE}: lead scoring API</title>
<meta name="description" content="Lead scores, lifecycle recommendations and reasons for CRM
workflows (HubSpot, Salesforce).">
<meta name="referrer" content="no-referrer">
<link rel="stylesheet" href="./static_content/swagger-ui.css">
<link rel="icon" type="image/png" href="./static_content/favicon-light-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="./static_content/swagger-ui-bundle.js"></script>
<script>
window.onload = function () {{
  window.ui = SwaggerUIBundle({{
    url: "./docs.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  }});
}};
</script>
</body>
</html>
""".encode()


# -- error bodies ----------------------------------------------------------------------------


def error_body(status: int, raw: bytes) -> bytes | None:
    """BentoML's error body rewritten into `ErrorResponse` (None: it already is one)."""
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        detail = data.get("detail", [])
        if isinstance(detail, list) and all(
            isinstance(item, dict) and {"loc", "msg", "type"} <= item.keys() for item in detail
        ):
            if not BENTOML_VALIDATION.match(data["error"]):
                if "detail" in data:
                    return None
                return json.dumps({"error": data["error"], "detail": []}).encode()
            return json.dumps(from_validation(detail)).encode()
        if isinstance(detail, str):
            return json.dumps({"error": f"{data['error']}: {detail}", "detail": []}).encode()
    if isinstance(data, list) and data and isinstance(data[0], dict) and "error" in data[0]:
        return json.dumps({"error": str(data[0]["error"]), "detail": []}).encode()
    return json.dumps({"error": f"request failed with status {status}", "detail": []}).encode()


def from_validation(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """pydantic's errors (as BentoML sends them) in the service's words, by JSON path."""
    detail = []
    for item in items:
        loc = [part for part in item["loc"] if isinstance(part, str | int)]
        kind = str(item["type"])
        msg = PYDANTIC_WORDS.get(kind) or str(item["msg"]).removeprefix("Value error, ")
        if kind == "json_invalid":
            loc, msg = [], f"not valid JSON ({str(item['msg']).removeprefix('Invalid JSON: ')})"
        detail.append({"loc": loc, "msg": msg, "type": kind})
    shown = [f"{json_path(d['loc'])}: {d['msg']}" for d in detail[:5]]
    if len(detail) > 5:
        shown.append(f"… and {len(detail) - 5} more")
    return {"error": "; ".join(shown) or "invalid request", "detail": detail}


class ApiFront:
    """Pure ASGI middleware: the docs page and the true OpenAPI document, and every error an
    API route answers in the `ErrorResponse` shape. Successful answers pass untouched."""

    def __init__(self, app: Any, document: Callable[[], dict[str, Any]] | None = None) -> None:
        self.app = app
        self.document = document
        self._docs: bytes | None = None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        if method in ("GET", "HEAD") and path == "/":
            await respond(send, 200, docs_page(), b"text/html; charset=utf-8", method)
            return
        if method in ("GET", "HEAD") and path == "/docs.json" and self.document is not None:
            if self._docs is None:
                self._docs = json.dumps(self.document()).encode()
            await respond(send, 200, self._docs, b"application/json", method)
            return
        if method != "POST":
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, ErrorSend(send))


class ErrorSend:
    """A `send` that holds back an error response's body and rewrites it when needed."""

    def __init__(self, send: Any) -> None:
        self.send = send
        self.start: Message | None = None
        self.body = bytearray()

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            if message["status"] >= 400:
                self.start = message
                return
        elif message["type"] == "http.response.body" and self.start is not None:
            self.body += message.get("body", b"")
            if message.get("more_body", False):
                return
            start, self.start = self.start, None
            body = error_body(start["status"], bytes(self.body)) or bytes(self.body)
            headers = [
                (k, v)
                for k, v in start.get("headers", [])
                if k.lower() not in (b"content-length", b"content-type")
            ]
            headers += [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode("ascii")),
            ]
            await self.send({**start, "headers": headers})
            await self.send({"type": "http.response.body", "body": body})
            return
        await self.send(message)


async def respond(send: Any, status: int, body: bytes, media_type: bytes, method: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", media_type),
                (b"content-length", str(len(body)).encode("ascii")),
                (b"cache-control", b"no-cache"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
