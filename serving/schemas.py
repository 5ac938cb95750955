"""Request and response models of the HTTP API (they are also the OpenAPI schemas at /docs.json)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    TypeAdapter,
    WithJsonSchema,
)

# One lead: CRM properties by internal name. Values may be strings (as HubSpot sends
# them), numbers, booleans or null; they are read per the model's dataset spec, so
# unknown properties are ignored and a missing or empty one is a missing value. The one
# key that is not a property, `events`, carries the lead's own activity (see below).
_SCALAR_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}],
    "nullable": True,
}
# The default spec's keys; `GET /model` (`events`) names the served model's.
_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Event",
    "description": "One activity of the lead: when, what and (optionally) on what.",
    "properties": {
        "timestamp": {
            "anyOf": [{"type": "string", "format": "date-time"}, {"type": "number"}],
            "description": "ISO 8601 or epoch milliseconds; at or before `as_of`",
        },
        "event_type": {
            "type": "string",
            "description": "visit, page_view, email_open, email_click, form_submission",
        },
        "event_value": {
            "type": "string",
            "nullable": True,
            "description": "the page's URL or the form's name",
        },
    },
    "required": ["timestamp", "event_type"],
}
Lead = Annotated[
    dict[str, Any],
    WithJsonSchema(
        {
            "type": "object",
            "title": "Lead",
            "description": (
                "CRM properties of one lead by internal name (e.g. HubSpot's `numemployees`, "
                "`jobtitle`, `hs_analytics_num_visits`, `hs_analytics_last_visit_timestamp`). "
                "Values as strings, numbers, booleans or null; empty string or null = missing; "
                "timestamps as ISO 8601 or epoch milliseconds, none after `as_of`. The "
                "properties the model reads are listed by `GET /model` (`features[].column`); "
                "others are ignored. `lifecyclestage` and `hs_lead_status` are the current "
                "stage and status the recommendation starts from. Optional `events`: the "
                "lead's activity, each `{timestamp, event_type, event_value}` (keys and kinds: "
                "`GET /model` → `events`); when sent, the activity properties (visits, last "
                "visit, email opens, forms, …) are rebuilt from the events before `as_of` "
                "and the lead's own values of them are ignored."
            ),
            "properties": {
                "events": {
                    "type": "array",
                    "items": _EVENT_SCHEMA,
                    "description": "the lead's events, any order (may be empty)",
                }
            },
            "additionalProperties": _SCALAR_SCHEMA,
            "example": {
                "hs_object_id": "51",
                "createdate": "2025-03-14T09:14:11.123Z",
                "jobtitle": "Head of Marketing",
                "numemployees": "100-500",
                "country": "Germany",
                "hs_analytics_num_visits": "14",
                "hs_analytics_last_visit_timestamp": "2025-04-01T16:45:12.000Z",
                "recent_conversion_event_name": "Webinar: Lead Scoring",
                "lifecyclestage": "lead",
                "events": [
                    {
                        "timestamp": "2025-04-01T16:45:12.000Z",
                        "event_type": "visit",
                        "event_value": "/pricing",
                    },
                    {
                        "timestamp": "2025-04-01T16:46:03.000Z",
                        "event_type": "page_view",
                        "event_value": "/pricing",
                    },
                ],
            },
        }
    ),
]
# `as_of`: the moment features are computed for. `oneOf`, not pydantic's `anyOf`: BentoML
# keeps only the first branch of an `anyOf`.
AsOfInput = Annotated[
    str | StrictInt | StrictFloat | None,  # strict: `true` is no moment
    WithJsonSchema(
        {
            "oneOf": [{"type": "string", "format": "date-time"}, {"type": "number"}],
            "nullable": True,
            "description": (
                "the moment to score as of: ISO 8601 (`2026-07-01T00:00:00Z`; no zone = UTC) "
                "or epoch milliseconds; default: the time the request arrives. Days-since "
                "features count to it, and no timestamp or event of a lead may be after it"
            ),
            "example": "2026-07-01T00:00:00Z",
        }
    ),
]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class GroupScore(_Out):
    """A fit or interest score: the calibrated conversion rate judged on that group alone."""

    score: float = Field(ge=0, le=100, description="0–100")
    grade: Literal["A", "B", "C", "D"] | None = Field(
        None, description="A (best) to D; cut-offs chosen at training time"
    )


class Recommendation(_Out):
    """What the lifecycle stage and lead status should be, and which rule decided."""

    lifecyclestage: str = Field(description="HubSpot internal value, e.g. `salesqualifiedlead`")
    hs_lead_status: str | None = Field(description="`NEW` for a new SQL; never overwritten")
    changed: bool = Field(description="whether stage or status differ from the input")
    rule: str = Field(
        description="the rule that fired: excluded, requirement_failed, "
        "hand_raise, score_sql, score_mql, below_thresholds, "
        "already_at_or_past_stage"
    )
    detail: str | None = Field(None, description="the rule in words, for a rep")


class Factor(_Out):
    """One reason: a feature that moved the score, with the value that moved it."""

    feature: str
    label: str = Field(description="readable name of the feature")
    value: str | float | None = Field(description="the lead's value (null: missing)")
    effect: float = Field(description="change of the score, in probability points")
    text: str = Field(description="the reason in words")


class GroupReasons(_Out):
    positive: list[Factor] = Field(description="what raised the score, strongest first")
    negative: list[Factor] = Field(description="what lowered it, strongest first")


class Reasons(_Out):
    fit: GroupReasons
    interest: GroupReasons


class LeadResult(_Out):
    """Scores, grades, recommendation and (with `explain`) reasons for one lead."""

    id: str | None = Field(description="the lead's id property (e.g. `hs_object_id`), if sent")
    probability: float = Field(ge=0, le=1, description="calibrated probability to convert")
    score: float = Field(ge=0, le=100, description="the probability on 0–100")
    fit: GroupScore
    interest: GroupScore
    recommendation: Recommendation | None = Field(
        None, description="null only while the model has no decision layer"
    )
    reasons: Reasons | None = Field(None, description="with `explain: true`")


class ModelRef(_Out):
    name: str = Field(description="registered model name, or the model URI")
    version: str | None = Field(description="registry version that produced the scores")


_AS_OF = (
    "the moment the features were computed for (UTC): the request's `as_of`, else the time "
    "the request arrived"
)


class ScoreResponse(_Out):
    results: list[LeadResult] = Field(description="one per lead, in the order sent")
    model: ModelRef
    scored_at: datetime
    as_of: datetime = Field(description=_AS_OF)


class HubSpotUpdate(_Out):
    """One contact update: the body of `PATCH /crm/v3/objects/contacts/{id}` plus its id."""

    id: str | None = Field(description="HubSpot object id (`id`, `vid` or `hs_object_id`)")
    properties: dict[str, str] = Field(
        description="score properties, and `lifecyclestage` / `hs_lead_status` only when "
        "the recommendation changes them; every value a string"
    )


class HubSpotResponse(_Out):
    """Updates in input order; `{"inputs": results}` is a batch-update body
    (`POST /crm/v3/objects/contacts/batch/update`)."""

    results: list[HubSpotUpdate]
    model: ModelRef
    scored_at: datetime
    as_of: datetime = Field(description=_AS_OF)


# -- HubSpot request shapes (documentation only: the adapter reads them leniently) -----------


class HubSpotObject(BaseModel):
    """A CRM v3 object (`GET /crm/v3/objects/contacts/{id}`): every value a string."""

    model_config = ConfigDict(extra="allow")

    id: str | int | None = None
    properties: dict[str, str | int | float | bool | None]


class HubSpotBatch(BaseModel):
    """A v3 batch read answer (`POST /crm/v3/objects/contacts/batch/read`)."""

    model_config = ConfigDict(extra="allow")

    results: list[HubSpotObject]


class LegacyPropertyValue(BaseModel):
    model_config = ConfigDict(extra="allow")

    value: str | None = None


class LegacyContact(BaseModel):
    """The older workflow-webhook body: `vid` and `properties.NAME.value`."""

    model_config = ConfigDict(extra="allow")

    vid: int | str
    properties: dict[str, LegacyPropertyValue] = Field(default_factory=dict)


def inline_schema(tp: Any) -> dict[str, Any]:
    """A JSON schema with every `$ref` replaced by its definition (BentoML's OpenAPI
    generator resolves only one level of references in a request body)."""
    schema = TypeAdapter(tp).json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)  # type: ignore[no-any-return]


_PAYLOAD = HubSpotObject | list[HubSpotObject] | HubSpotBatch | LegacyContact
# `oneOf`, not pydantic's `anyOf`: BentoML keeps only the first branch of an `anyOf`.
HubSpotPayload = Annotated[
    _PAYLOAD,
    WithJsonSchema(
        {
            "oneOf": inline_schema(_PAYLOAD)["anyOf"],
            "description": "One HubSpot CRM v3 object, a list of them, a v3 batch-read answer "
            "(`results`), or a legacy workflow-webhook contact (`vid`, "
            "`properties.NAME.value`).",
        }
    ),
]


class FeatureInfo(_Out):
    name: str
    column: str = Field(description="the CRM property it is read from")
    group: Literal["fit", "interest", "context"]
    type: str
    label: str


class EventKindInfo(_Out):
    type: str = Field(description="the event's type (`event_type`) that makes it this kind")
    value_contains: list[str] | None = Field(
        None, description="… and any of these texts in its value (case-insensitive)"
    )
    label: str | None = None


class RollupInfo(_Out):
    how: Literal["count", "count_distinct", "first", "last", "first_value", "last_value"] = Field(
        description="events counted, distinct values, time or value of the first/last"
    )
    kind: str = Field(description="of which event kind")


class EventsInfo(_Out):
    """What the model reads from events a lead sends inline (`{"events": [...]}`)."""

    key: str = Field(description="the lead's key that holds its events")
    time: str = Field(description="an event's key for its timestamp (ISO 8601 or epoch ms)")
    type: str = Field(description="an event's key for its type")
    value: str | None = Field(description="an event's key for its value (URL, form name)")
    kinds: dict[str, EventKindInfo]
    properties: dict[str, RollupInfo] = Field(
        description="CRM properties rebuilt from the events before `as_of` when a lead sends "
        "them (its own values of these are then ignored)"
    )
    windows: list[int] = Field(description="days of the window features (counts per window)")
    required: bool = Field(
        description="whether every lead must send `events` (the model has window features "
        "no CRM property holds); otherwise a lead without them is read from its properties"
    )


class ModelInfo(_Out):
    """What is being served: registry entry, training date, test metrics, thresholds, features."""

    name: str
    version: str | None
    alias: str | None
    uri: str = Field(description="the URI the service was started with")
    run_id: str | None
    trained_at: str | None
    loaded_at: datetime
    spec: str = Field(description="dataset spec name")
    id_column: str
    features: list[FeatureInfo]
    test_metrics: dict[str, float]
    thresholds: dict[str, Any] | None = Field(
        None, description="grade cut-offs and MQL/SQL thresholds fitted at training time"
    )
    decision_layer: bool = Field(description="whether recommendations and reasons are served")
    max_batch_size: int
    time_column: str | None = Field(
        None, description="the lead's creation time: a lead is never scored as of before it"
    )
    events: EventsInfo | None = Field(
        None, description="what leads may send inline as `events`; null: the model reads none"
    )


class ErrorItem(_Out):
    loc: list[str | int] = Field(description='where: e.g. ["leads", 3, "numemployees"]')
    msg: str
    type: str
    expected: str | None = None


class ErrorResponse(_Out):
    error: str
    detail: list[ErrorItem] = Field(default_factory=list)
