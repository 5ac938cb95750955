"""Request and response models of the HTTP API (they are also the OpenAPI schemas at /docs.json).

The response's `LeadResult` is the API's view of `models.contract.LeadScore` (built by
`serving.scoring.lead_result`): the same fields under the API's public names, with the
grades and rules of `models.policy`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    WithJsonSchema,
)

from models.actions import ACTION_MEANINGS, ActionType
from models.policy import Grade, Rule

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

# `lang`: the language of the reasons, the recommendation's detail and the next action's
# detail (codes, ids and numbers as numbers are the same in every language).
LangInput = Annotated[
    StrictStr | None,
    Field(
        description=(
            "language of reasons and details: `en` or `de` (a language with a message "
            "catalogue); default: the service's LEADSCORE_LANG, else `en`"
        ),
        examples=["de"],
    ),
]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class GroupScore(_Out):
    """A fit or interest score: the calibrated conversion rate judged on that group alone."""

    score: float = Field(ge=0, le=100, description="0–100")
    grade: Grade | None = Field(None, description="A (best) to D; cut-offs chosen at training time")


class NextAction(_Out):
    """What the lead's status asks for next, by when, and why (the model's `actions` rules)."""

    type: ActionType = Field(
        description="; ".join(f"`{kind}`: {text}" for kind, text in ACTION_MEANINGS.items())
    )
    due: str | None = Field(
        json_schema_extra={"format": "date-time", "example": "2026-07-01T04:00:00Z"},
        description="when it is due, ISO 8601 UTC, counted from `as_of` (e.g. an SQL's first "
        "contact within the service level); null for `nurture` and `none`",
    )
    detail: str = Field(description="the reason in one line, for a rep")


class Recommendation(_Out):
    """What the lifecycle stage and lead status should be, which rule decided, and the
    next action the status leads to."""

    lifecyclestage: str = Field(description="HubSpot internal value, e.g. `salesqualifiedlead`")
    hs_lead_status: str | None = Field(description="`NEW` for a new SQL; never overwritten")
    changed: bool = Field(description="whether stage or status differ from the input")
    rule: str = Field(description=f"the rule that fired: {', '.join(get_args(Rule))}")
    detail: str | None = Field(None, description="the rule in words, for a rep")
    next_action: NextAction | None = Field(
        None, description="the next action and its due time (always set by a leadscore model)"
    )


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

    id: str = Field(
        min_length=1, description="HubSpot object id (`id`, `vid` or `hs_object_id`), as text"
    )
    properties: dict[str, str] = Field(
        description="score properties, and `lifecyclestage` / `hs_lead_status` only when "
        "the recommendation changes them; every value a string"
    )


class HubSpotBatchUpdate(_Out):
    """The body of one `POST /crm/v3/objects/contacts/batch/update` call."""

    inputs: list[HubSpotUpdate] = Field(
        min_length=1, max_length=100, description="at most 100 updates: HubSpot's limit per call"
    )


class HubSpotObjectId(_Out):
    id: str = Field(min_length=1, description="the contact's id, as text")


class HubSpotAssociationType(_Out):
    associationCategory: Literal["HUBSPOT_DEFINED"]  # HubSpot's names
    associationTypeId: int = Field(
        ge=1, description="task → contact 204, deal → contact 3 (HubSpot's defaults; settings)"
    )


class HubSpotAssociation(_Out):
    """One association of a new object with an existing record (the contact)."""

    to: HubSpotObjectId
    types: list[HubSpotAssociationType] = Field(min_length=1)


class HubSpotCreate(_Out):
    """The body of `POST /crm/v3/objects/tasks` (a task: `hs_timestamp` = due,
    `hs_task_subject`, `hs_task_body`, `hs_task_status`, `hs_task_priority`,
    `hs_task_type`, `hubspot_owner_id` when the contact has an owner) or of
    `POST /crm/v3/objects/deals` (a deal: `dealname`, `pipeline`, `dealstage`,
    `hubspot_owner_id`), associated with the contact. Every property value a string."""

    properties: dict[str, str]
    associations: list[HubSpotAssociation] = Field(min_length=1)


class HubSpotActions(_Out):
    """Create bodies for the contacts whose next action needs one, in input order: a task
    for `contact`, `retry_contact` and `recheck`, a deal for `create_deal`. `{"inputs":
    tasks[i:i+100]}` is also the body of `POST /crm/v3/objects/tasks/batch/create` (and
    likewise for deals)."""

    tasks: list[HubSpotCreate] = Field(description="Tasks API create bodies")
    deals: list[HubSpotCreate] = Field(description="Deals API create bodies")


class HubSpotResponse(_Out):
    """Updates in input order, and the same updates as batch-update bodies of at most 100
    (`POST /crm/v3/objects/contacts/batch/update`, one call per item of `batches`); with
    `?actions=true` also the task and deal create bodies of the contacts' next actions."""

    results: list[HubSpotUpdate] = Field(description="one per object, in the order sent")
    batches: list[HubSpotBatchUpdate] = Field(
        description="`results` split into batch-update bodies of at most 100 inputs"
    )
    model: ModelRef
    scored_at: datetime
    as_of: datetime = Field(description=_AS_OF)
    actions: HubSpotActions | None = Field(
        None, description="with `?actions=true`: task and deal create bodies; else null"
    )


# -- HubSpot request shapes (documentation: serving.adapters.hubspot_records reads them) ----

_HUBSPOT_ID: dict[str, Any] = {
    "oneOf": [
        {"type": "string", "minLength": 1, "maxLength": 256},
        {"type": "integer", "minimum": 0, "maximum": 9223372036854775807},
    ],
    "description": "the object id: a non-empty string or an integer (never a boolean or null)",
}
_HUBSPOT_VALUE: dict[str, Any] = {
    "oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}],
    "nullable": True,
}
_HUBSPOT_OBJECT: dict[str, Any] = {
    "type": "object",
    "title": "HubSpotObject",
    "description": "A CRM v3 object (`GET /crm/v3/objects/contacts/{id}`): every value a string "
    "as HubSpot sends it (numbers, booleans and null are read too).",
    "properties": {
        "id": _HUBSPOT_ID,
        "properties": {"type": "object", "additionalProperties": _HUBSPOT_VALUE},
    },
    "required": ["id", "properties"],
}
_LEGACY_CONTACT: dict[str, Any] = {
    "type": "object",
    "title": "LegacyContact",
    "description": "The older workflow-webhook body: `vid` and `properties.NAME.value`.",
    "properties": {
        "vid": _HUBSPOT_ID,
        "properties": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {"value": _HUBSPOT_VALUE},
            },
        },
    },
    "required": ["vid"],
}
_HUBSPOT_LIST: dict[str, Any] = {
    "type": "array",
    "items": _HUBSPOT_OBJECT,
    "description": "objects with distinct ids (an empty list: nothing to score)",
}
_HUBSPOT_BATCH: dict[str, Any] = {
    "type": "object",
    "title": "HubSpotBatch",
    "description": "A v3 batch-read or search answer (`POST /crm/v3/objects/contacts/batch/read`"
    ", `…/search`); `results` may be empty (a search without hits).",
    "properties": {"results": _HUBSPOT_LIST},
    "required": ["results"],
}
# `oneOf`, not pydantic's `anyOf`: BentoML keeps only the first branch of an `anyOf`.
# The body is read by `hubspot_records` (strict ids, JSON paths in its errors), not pydantic.
HubSpotPayload = Annotated[
    Any,
    WithJsonSchema(
        {
            "oneOf": [_HUBSPOT_OBJECT, _HUBSPOT_LIST, _HUBSPOT_BATCH, _LEGACY_CONTACT],
            "description": "One HubSpot CRM v3 object, a list of them, a v3 batch-read or "
            "search answer (`results`), or a legacy workflow-webhook contact (`vid`, "
            "`properties.NAME.value`). Ids are strict and distinct.",
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


class ReloadResult(_Out):
    """What `POST /admin/reload` did: the version served before and now, on every worker."""

    changed: bool = Field(description="whether the alias named another version")
    previous: ModelRef
    model: ModelRef
    alias: str | None = Field(description="the alias the version was resolved from")


class ErrorItem(_Out):
    """One problem: where (`loc`, a JSON path as a list) and what."""

    model_config = ConfigDict(frozen=True, extra="allow")

    loc: list[str | int] = Field(description='where: e.g. ["leads", 3, "numemployees"]')
    msg: str = Field(description="what is wrong there, in words")
    type: str = Field(description="a short machine-readable kind, e.g. `missing`, `id_type`")
    expected: str | None = Field(None, description="what a value there should be")


class ErrorResponse(_Out):
    """Every error the service answers (4xx and 5xx) has this body."""

    error: str = Field(description="the problem in one line, naming the field by its JSON path")
    detail: list[ErrorItem] = Field(
        default_factory=list, description="one item per problem (empty when there is no field)"
    )
