"""CRM payloads ↔ flat lead records, and scores → CRM properties to write back.

HubSpot shapes read (all values strings; empty string = missing):

- a CRM v3 object, `{"id": "51", "properties": {...}, "createdAt": ...}`, or a list of them;
- a v3 batch-read answer, `{"results": [<object>, ...], "status": ...}`;
- the older workflow-webhook contact, `{"vid": 51, "properties": {"NAME": {"value": ...}}}`.

Each becomes `(id, {property: value})`; the dataset spec then reads the values, so
unknown properties are ignored wherever they come from.

Salesforce: a Lead from the REST API (`attributes`, typed values, `null` = missing) is
mapped onto HubSpot's property names with `SALESFORCE_LEAD_FIELDS`, so a model trained
on the default HubSpot spec can score it. Fields without a HubSpot counterpart in the
spec (the interest features: visits, email opens, forms) are then missing, and the
model scores the lead on what it has.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from features.coerce import CoercionError
from features.errors import LeadscoreError
from features.events import INLINE_EVENTS
from models.contract import GROUPS, LeadScore
from models.i18n import N_, language
from serving.settings import HubSpotProperties

# Past this many characters HubSpot's single-line text is unwieldy in a record's sidebar.
# Two factors per sign and group, each with its comparison ("fewer than the typical lead's 3"):
# a median of ~410 characters on the demo; HubSpot allows 65,536 in a text property.
REASONS_MAX_CHARS = 1000
REASONS_PER_SIGN = 2
# Most inputs one HubSpot CRM v3 batch call takes (`POST /crm/v3/objects/contacts/batch/update`).
HUBSPOT_BATCH_LIMIT = 100

# Salesforce Lead field → HubSpot contact property (the default spec's column names).
SALESFORCE_LEAD_FIELDS: dict[str, str] = {
    "Id": "hs_object_id",
    "CreatedDate": "createdate",
    "Title": "jobtitle",
    "Industry": "industry",
    "NumberOfEmployees": "numemployees",
    "AnnualRevenue": "annualrevenue",
    "Country": "country",
    "Email": "hs_email_domain",  # the spec reads a domain out of an address
    "LeadSource": "hs_analytics_source",
}


class PayloadError(LeadscoreError):
    """A request body of the wrong shape, at a JSON path (`loc`) the client can find."""

    def __init__(self, loc: Sequence[str | int], msg: str, kind: str = "invalid") -> None:
        self.loc = list(loc)
        self.msg = msg
        self.kind = kind
        super().__init__(f"{json_path(self.loc)}: {msg}")


def json_path(loc: Sequence[str | int]) -> str:
    """`["results", 3, "id"]` → `results[3].id` (`body` for the whole body)."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = part if _PLAIN_NAME.fullmatch(part) else repr(part[:60])
            text += f".{name}" if text else name
    return text or "body"


_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,59}")
_SHAPES = (
    'a HubSpot object {"id", "properties"}, a list of them, a batch-read or search answer '
    '{"results": [...]} or a legacy webhook contact {"vid", "properties"}'
)


def hubspot_records(body: Any) -> list[tuple[str, dict[str, Any]]]:
    """(object id, flat properties) for each object of a HubSpot body, as sent (parsed JSON).

    Strict where a wrong guess would write to the wrong contact: an id is a non-empty
    string or an integer (never a boolean, a float or null), every object has one (`id`,
    `vid` or `properties.hs_object_id`), and no id comes twice. Raises `PayloadError`
    naming the JSON path. An empty list or `{"results": []}` (a search without hits) is
    no error: nothing to score.
    """
    if isinstance(body, list):
        items: list[tuple[list[str | int], Any]] = [([i], item) for i, item in enumerate(body)]
    elif isinstance(body, dict) and "results" in body:
        results = body["results"]
        if not isinstance(results, list):
            raise PayloadError(["results"], "expected a list of HubSpot objects", "list_type")
        items = [(["results", i], item) for i, item in enumerate(results)]
    elif isinstance(body, dict) and {"properties", "vid", "id"} & body.keys():
        items = [([], body)]
    else:
        raise PayloadError([], f"expected {_SHAPES}", "hubspot_shape")
    out: list[tuple[str, dict[str, Any]]] = []
    seen: dict[str, list[str | int]] = {}
    for loc, item in items:
        object_id, record = hubspot_object(loc, item)
        if object_id in seen:
            raise PayloadError(
                loc,
                f"duplicate id {object_id!r} (also at {json_path(seen[object_id])}): "
                "two updates of one contact would conflict",
                "duplicate_id",
            )
        seen[object_id] = loc
        out.append((object_id, record))
    return out


def hubspot_object(loc: list[str | int], item: Any) -> tuple[str, dict[str, Any]]:
    """One object's id and flat properties (v3 object or legacy webhook contact)."""
    if not isinstance(item, dict):
        raise PayloadError(loc, 'expected a HubSpot object {"id", "properties"}', "object_type")
    properties = item.get("properties", {} if "vid" in item else None)
    if not isinstance(properties, dict):
        raise PayloadError(
            [*loc, "properties"], "expected an object of property values", "object_type"
        )
    legacy = (
        "vid" in item
        and "id" not in item
        and all(isinstance(value, dict) for value in properties.values())
    )
    record: dict[str, Any] = {}
    for name, value in properties.items():
        if legacy:
            value = value.get("value")
        if value is not None and not isinstance(value, str | int | float | bool):
            where = [*loc, "properties", name, *(["value"] if legacy else [])]
            raise PayloadError(where, "expected a string, number, boolean or null", "scalar_type")
        record[name] = value
    for key in ("id", "vid"):
        if key in item:
            return strict_id([*loc, key], item[key]), record
    if "hs_object_id" in record:
        where = [*loc, "properties", "hs_object_id", *(["value"] if legacy else [])]
        return strict_id(where, record["hs_object_id"]), record
    raise PayloadError(
        loc,
        "no id: send the object's `id` (or `vid`, or the property `hs_object_id`): "
        "the update is written back to it",
        "missing_id",
    )


def strict_id(loc: list[str | int], value: Any) -> str:
    """A HubSpot object id as text: a non-empty string or a non-negative integer."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PayloadError(
            loc,
            f"expected an id (a non-empty string or an integer), got {_kind(value)}",
            "id_type",
        )
    if isinstance(value, int) and not 0 <= value < 2**63:
        raise PayloadError(loc, "expected an id (an integer from 0 to 2^63 - 1)", "id_value")
    text = str(value).strip()
    if not text or not text.isprintable() or len(text) > 256:
        raise PayloadError(
            loc,
            "expected an id (a non-empty, printable string of at most 256 characters)",
            "id_value",
        )
    return text


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    return {float: "a decimal number", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__
    )


def batch_update_bodies(updates: Sequence[Any], size: int = HUBSPOT_BATCH_LIMIT) -> list[list[Any]]:
    """Updates in chunks of at most `size`: each one `inputs` of a batch-update call."""
    return [list(updates[i : i + size]) for i in range(0, len(updates), size)]


def salesforce_record(lead: Mapping[str, Any]) -> dict[str, Any]:
    """A Salesforce Lead as HubSpot-named properties (unmapped fields dropped)."""
    return {prop: lead.get(field) for field, prop in SALESFORCE_LEAD_FIELDS.items()}


def check_numbers(record: Mapping[str, Any]) -> None:
    """Reject numbers no float can hold (JSON allows 1e999 and 400-digit integers), in the
    lead's properties and in the events it sends inline (`events[j].<key>`)."""
    for name, value in record.items():
        if name == INLINE_EVENTS and isinstance(value, list):
            for j, event in enumerate(value):
                if isinstance(event, Mapping):
                    for key, item in event.items():
                        if not fits_a_float(item):  # the name is built only for the error
                            check_number(f"{INLINE_EVENTS}[{j}].{key}", item)
        elif not fits_a_float(value):
            check_number(name, value)


def fits_a_float(value: Any) -> bool:
    """False only for a number no float can hold (anything that is no number fits)."""
    if isinstance(value, str | bool) or not isinstance(value, int | float):
        return True
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def check_number(name: str, value: Any) -> None:
    """`CoercionError` naming `name` for a number no float can hold."""
    if not fits_a_float(value):
        raise CoercionError(name, _short(value), "a finite number")


def _short(value: Any) -> Any:
    if isinstance(value, int) and value.bit_length() > 128:
        # repr() of a very long int raises (Python's 4,300-digit limit): describe it instead
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    return value


# The words of the reasons property around the factors (messages: `models.i18n`).
GROUP_HEADS = {"fit": N_("Fit"), "interest": N_("Interest")}
NO_FACTOR = N_("no strong factor")


def format_reasons(result: LeadScore, lang: str = "en") -> str:
    """Reasons as one short line for a CRM text property: `Fit B: + …; − … | Interest A: …`,
    each factor by its phrase (the sign says which way it moved the score), in `lang`
    (the result's phrases are already in it)."""
    if not result.reasons:
        return ""
    words = language(lang)
    parts = []
    for group in GROUPS:
        reasons = result.reasons.get(group)
        positive = reasons.positive[:REASONS_PER_SIGN] if reasons else []
        negative = reasons.negative[:REASONS_PER_SIGN] if reasons else []
        items = [f"+ {f.phrase}" for f in positive] + [f"− {f.phrase}" for f in negative]
        grade = result.grade(group)
        name = words.gettext(GROUP_HEADS[group])
        head = f"{name} {grade}" if grade else name
        parts.append(f"{head}: {'; '.join(items) if items else words.gettext(NO_FACTOR)}")
    text = " | ".join(parts)
    return text if len(text) <= REASONS_MAX_CHARS else text[: REASONS_MAX_CHARS - 1] + "…"


def hubspot_properties(
    result: LeadScore,
    record: Mapping[str, Any],
    names: HubSpotProperties,
    model_version: str | None,
    scored_at: datetime,
    lang: str = "en",
) -> dict[str, str]:
    """The properties to PATCH back: scores always, stage and status only when they change;
    the reasons in `lang`.

    Every value is a string, as HubSpot's API expects; a property whose configured
    name is empty is left out.
    """
    values: dict[str, str | None] = {
        names.probability: f"{result.probability:.4f}",
        names.score: f"{100.0 * result.probability:.1f}",
        names.fit: f"{result.fit:.1f}",
        names.interest: f"{result.interest:.1f}",
        names.fit_grade: result.fit_grade,
        names.interest_grade: result.interest_grade,
        names.reasons: format_reasons(result, lang) or None,
        names.model_version: model_version,
        names.scored_at: scored_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    out = {name: value for name, value in values.items() if name and value is not None}
    decision = result.decision
    if decision is not None and decision.changed:
        stage = decision.stage
        if stage and stage != _text(record.get("lifecyclestage")).lower():
            out["lifecyclestage"] = stage
        status = decision.lead_status
        if status and status != _text(record.get("hs_lead_status")):
            out["hs_lead_status"] = status
    return out


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()
