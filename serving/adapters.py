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

from features.coerce import CoercionError, is_missing
from features.events import INLINE_EVENTS
from serving.schemas import HubSpotBatch, HubSpotObject, LegacyContact
from serving.settings import HubSpotProperties

# Past this many characters HubSpot's single-line text is unwieldy in a record's sidebar.
REASONS_MAX_CHARS = 500
REASONS_PER_SIGN = 2
_DIRECTION = re.compile(r"\s+[—-]\s+(raises|lowers)\s+\w+\s*$")

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


def hubspot_records(payload: Any) -> list[tuple[str | None, dict[str, Any]]]:
    """(object id, flat properties) for each object of a validated HubSpot payload."""
    if isinstance(payload, HubSpotBatch):
        objects: Sequence[Any] = payload.results
    elif isinstance(payload, list):
        objects = payload
    else:
        objects = [payload]
    out: list[tuple[str | None, dict[str, Any]]] = []
    for item in objects:
        if isinstance(item, LegacyContact):
            record: dict[str, Any] = {name: prop.value for name, prop in item.properties.items()}
            object_id: Any = item.vid
        elif isinstance(item, HubSpotObject):
            record = dict(item.properties)
            object_id = item.id if item.id is not None else (item.model_extra or {}).get("vid")
        else:  # pragma: no cover - the request schema admits nothing else
            raise TypeError(f"not a HubSpot object: {type(item).__name__}")
        if object_id is None or object_id == "":
            object_id = record.get("hs_object_id")
        out.append((None if is_missing(object_id, ("",)) else str(object_id), record))
    return out


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


def format_reasons(result: Mapping[str, Any]) -> str:
    """Reasons as one short line for a CRM text property: `Fit B: + …; − … | Interest A: …`."""
    reasons = result.get("reasons")
    if not reasons:
        return ""
    parts = []
    for group, title in (("fit", "Fit"), ("interest", "Interest")):
        factors = reasons.get(group) or {}
        grade = result.get(f"{group}_grade")
        items = [f"+ {_bare(f['text'])}" for f in factors.get("positive", [])[:REASONS_PER_SIGN]]
        items += [f"− {_bare(f['text'])}" for f in factors.get("negative", [])[:REASONS_PER_SIGN]]
        head = f"{title} {grade}" if grade else title
        parts.append(f"{head}: {'; '.join(items) if items else 'no strong factor'}")
    text = " | ".join(parts)
    return text if len(text) <= REASONS_MAX_CHARS else text[: REASONS_MAX_CHARS - 1] + "…"


def _bare(text: str) -> str:
    """`Seniority: VP — raises fit` → `Seniority: VP` (the sign already says which way)."""
    return _DIRECTION.sub("", text)


def hubspot_properties(
    result: Mapping[str, Any],
    record: Mapping[str, Any],
    names: HubSpotProperties,
    model_version: str | None,
    scored_at: datetime,
) -> dict[str, str]:
    """The properties to PATCH back: scores always, stage and status only when they change.

    Every value is a string, as HubSpot's API expects; a property whose configured
    name is empty is left out.
    """
    values: dict[str, str | None] = {
        names.probability: f"{result['probability']:.4f}",
        names.score: f"{100.0 * result['probability']:.1f}",
        names.fit: f"{result['fit']:.1f}",
        names.interest: f"{result['interest']:.1f}",
        names.fit_grade: result.get("fit_grade"),
        names.interest_grade: result.get("interest_grade"),
        names.reasons: format_reasons(result) or None,
        names.model_version: model_version,
        names.scored_at: scored_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    out = {name: value for name, value in values.items() if name and value is not None}
    recommendation = result.get("recommendation")
    if recommendation and recommendation.get("changed"):
        stage = recommendation.get("lifecyclestage")
        if stage and stage != _text(record.get("lifecyclestage")).lower():
            out["lifecyclestage"] = stage
        status = recommendation.get("hs_lead_status")
        if status and status != _text(record.get("hs_lead_status")):
            out["hs_lead_status"] = status
    return out


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()
