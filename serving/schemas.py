"""Request and response models of the HTTP API (they are also the OpenAPI schemas at /docs.json)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, WithJsonSchema

# One lead: CRM properties by internal name. Values may be strings (as HubSpot sends
# them), numbers, booleans or null; they are read per the model's dataset spec, so
# unknown properties are ignored and a missing or empty one is a missing value.
_SCALAR_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}],
    "nullable": True,
}
Lead = Annotated[
    dict[str, Any],
    WithJsonSchema(
        {
            "type": "object",
            "title": "Lead",
            "description": (
                "CRM properties of one lead by internal name (e.g. HubSpot's `numemployees`, "
                "`jobtitle`, `hs_analytics_num_visits`). Values as strings, numbers, booleans or "
                "null; empty string or null = missing. The properties the model reads are listed "
                "by `GET /model` (`features[].column`); others are ignored. `lifecyclestage` and "
                "`hs_lead_status` are the current stage and status the recommendation starts from."
            ),
            "additionalProperties": _SCALAR_SCHEMA,
            "example": {
                "hs_object_id": "51",
                "jobtitle": "Head of Marketing",
                "numemployees": "100-500",
                "country": "Germany",
                "hs_analytics_num_visits": "14",
                "lifecyclestage": "lead",
            },
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


class ScoreResponse(_Out):
    results: list[LeadResult] = Field(description="one per lead, in the order sent")
    model: ModelRef
    scored_at: datetime


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
    group: Literal["fit", "interest"]
    type: str
    label: str


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


class ErrorItem(_Out):
    loc: list[str | int] = Field(description='where: e.g. ["leads", 3, "numemployees"]')
    msg: str
    type: str
    expected: str | None = None


class ErrorResponse(_Out):
    error: str
    detail: list[ErrorItem] = Field(default_factory=list)
