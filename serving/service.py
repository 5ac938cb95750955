"""The BentoML scoring service: `bentoml serve serving.service:LeadScoring` (or `leadscore serve`).

Endpoints
- `POST /score`: `{"leads": [{CRM properties}, …], "explain": false}` → scores, grades,
  recommendation and (explain) reasons per lead, in input order.
- `POST /hubspot/score`: a HubSpot v3 object, a list of them, a batch-read answer or a
  legacy workflow-webhook contact → per contact the properties to PATCH back.
- `POST /salesforce/score`: Salesforce Lead objects (mapped to HubSpot property names).
- `GET /model`: what is served (registry version, alias, training date, metrics,
  thresholds, features). `/livez`, `/readyz`, `/metrics`, OpenAPI at `/docs.json`.

The model is loaded once in `__init__` (`/readyz` answers only after that); the
service refuses to start, naming the URI, when there is no model there. Up to 16 leads
(4 with reasons) are scored on the event loop through the bundle's no-pandas path;
larger batches go to a worker thread so that probes stay responsive.

Speed (serving/README.md has the measurements): requests are scored on the event loop
(`async` APIs; BentoML runs a sync API in a thread behind a one-slot limiter), and
OpenTelemetry is kept out of the API routes (`tracing.excluded_urls`; it samples nothing
by default but still costs ~1 ms a request). Metrics and the access log stay on: each
costs well under 0.1 ms. Override with `BENTOML_CONFIG_OPTIONS`, e.g.
`BENTOML_CONFIG_OPTIONS='services.leadscore.workers=2'`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import anyio
import bentoml
from fastapi import Depends, FastAPI
from pydantic import Field, RootModel, model_validator
from starlette.responses import JSONResponse

from features.coerce import CoercionError
from features.errors import LeadscoreError
from serving.adapters import check_numbers, hubspot_properties, hubspot_records, salesforce_record
from serving.loader import LoadedModel, ModelNotFoundError, load_model
from serving.logs import install_client_error_filter
from serving.middleware import RequestGuard
from serving.schemas import (
    FeatureInfo,
    HubSpotPayload,
    HubSpotResponse,
    HubSpotUpdate,
    Lead,
    ModelInfo,
    ModelRef,
    ScoreResponse,
)
from serving.scoring import has_decision_layer, lead_id, lead_result, score_leads
from serving.settings import ServingSettings

log = logging.getLogger("serving.requests")
T = TypeVar("T")

# Below this much work (leads, explanations counted 4×) a request is scored on the event
# loop: a thread hop costs more than scoring a lead (~0.4 ms). Above it, a worker thread.
INLINE_WORK = 16
API_ROUTES = ("/score", "/hubspot/score", "/salesforce/score", "/model")


class ClientError(Exception):
    """A request the client got wrong: answered with `status` and a JSON body naming why."""

    def __init__(
        self, status: int, message: str, detail: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail or []

    def response(self, method: str, path: str) -> JSONResponse:
        log.warning("%d %s %s: %s", self.status, method, path, self.message)
        return JSONResponse({"error": self.message, "detail": self.detail}, status_code=self.status)


def coercion_error(error: CoercionError, index: int, root: str) -> ClientError:
    """A 400 naming the lead, the property and the expected type (value shown short)."""
    value = (
        error.value
        if isinstance(error.value, str | int | float | bool) or error.value is None
        else type(error.value).__name__
    )
    if isinstance(value, str) and len(value) > 60:
        value = value[:57] + "…"
    message = f"{root}[{index}].{error.column}: cannot read {value!r} as {error.expected}"
    return ClientError(
        400,
        message,
        [
            {
                "loc": [root, index, error.column],
                "msg": f"cannot read {value!r} as {error.expected}",
                "type": "coercion_error",
                "expected": error.expected,
            }
        ],
    )


class HubSpotRequest(RootModel[HubSpotPayload]):
    """The HubSpot body as sent: one object, a list, a batch-read answer or a legacy contact."""

    @model_validator(mode="before")
    @classmethod
    def _known_shape(cls, data: Any) -> Any:
        # One clear message instead of one error per union branch for a body of another kind.
        if isinstance(data, list) or (
            isinstance(data, dict) and {"properties", "results", "vid"} & data.keys()
        ):
            return data
        raise ValueError(
            'expected a HubSpot object {"id", "properties"}, a list of them, a '
            'batch-read answer {"results": [...]} or a legacy webhook contact '
            '{"vid", "properties"}'
        )


class SalesforceLead(RootModel[dict[str, Any]]):
    """A Salesforce Lead as the REST API returns it (`Id`, `Title`, `NumberOfEmployees`, …)."""


model_app = FastAPI(title="leadscore model", docs_url=None, redoc_url=None, openapi_url=None)


@bentoml.service(
    name="leadscore",
    workers=1,
    traffic={"timeout": 60},
    tracing={"excluded_urls": list(API_ROUTES)},
)
@bentoml.asgi_app(model_app, path="/")
class LeadScoring:
    """leadscore: lead scores, lifecycle recommendations and reasons for CRM workflows."""

    def __init__(self) -> None:
        install_client_error_filter()
        if logging.getLogger("serving").level == logging.NOTSET:
            # BentoML's server logging shows WARNING and up for loggers other than its own.
            logging.getLogger("serving").setLevel(logging.INFO)
        self.settings = ServingSettings()
        try:
            self.model: LoadedModel = load_model(self.settings)
        except ModelNotFoundError as error:
            log.critical("leadscore service cannot start: %s", error)
            raise
        self.scorer = self.model.scorer
        self.spec = self.scorer.spec
        self.missing = frozenset(self.spec.missing_tokens)
        self.limiter = anyio.CapacityLimiter(1)
        log.info(
            "serving %s version %s (decision layer: %s)",
            self.model.name,
            self.model.version,
            "yes" if has_decision_layer(self.scorer) else "no",
        )

    def __is_ready__(self) -> bool:
        return self.scorer is not None

    @property
    def model_ref(self) -> ModelRef:
        return ModelRef(name=self.model.name, version=self.model.version)

    # -- endpoints ---------------------------------------------------------------------------
    @bentoml.api(route="/score")
    async def score(
        self,
        leads: Annotated[
            list[Lead],
            Field(
                min_length=1,
                description=(
                    "1 to LEADSCORE_MAX_BATCH_SIZE (default 1,000) leads, each a mapping of CRM "
                    "properties"
                ),
            ),
        ],
        explain: Annotated[bool, Field(description="add the reasons for fit and interest")] = False,
    ) -> ScoreResponse:
        """Score leads: probability, fit and interest with grades, the recommended lifecycle
        stage and lead status with the rule that decided, and with `explain` the reasons."""
        try:
            self.check_size(len(leads))
            ids = [self.lead_id(lead, i, "leads") for i, lead in enumerate(leads)]
            outs = await self.run(
                self.scored, leads, explain, "leads", weight=len(leads) * (4 if explain else 1)
            )
        except ClientError as error:
            return error.response("POST", "/score")  # type: ignore[return-value]
        return ScoreResponse(
            results=[lead_result(i, o) for i, o in zip(ids, outs, strict=True)],
            model=self.model_ref,
            scored_at=datetime.now(UTC),
        )

    @bentoml.api(route="/hubspot/score", input_spec=HubSpotRequest)
    async def hubspot_score(self, root: HubSpotPayload) -> HubSpotResponse:
        """Score HubSpot contacts as a workflow webhook or the CRM v3 API sends them.

        Returns, per contact, `{"id", "properties"}` ready for
        `PATCH /crm/v3/objects/contacts/{id}`: the score properties (names set by
        `LEADSCORE_HUBSPOT__*`), and `lifecyclestage` / `hs_lead_status` only when the
        recommendation changes them."""
        try:
            objects = hubspot_records(root)
            self.check_size(len(objects))
            records = [record for _, record in objects]
            explain = bool(self.settings.hubspot.reasons) and has_decision_layer(self.scorer)
            outs = await self.run(
                self.scored,
                records,
                explain,
                "objects",
                weight=len(records) * (4 if explain else 1),
            )
        except ClientError as error:
            return error.response("POST", "/hubspot/score")  # type: ignore[return-value]
        now = datetime.now(UTC)
        names, version = self.settings.hubspot, self.model.version
        results = [
            HubSpotUpdate(
                id=object_id, properties=hubspot_properties(out, record, names, version, now)
            )
            for (object_id, record), out in zip(objects, outs, strict=True)
        ]
        return HubSpotResponse(results=results, model=self.model_ref, scored_at=now)

    @bentoml.api(route="/salesforce/score")
    async def salesforce_score(
        self,
        leads: Annotated[
            list[SalesforceLead],
            Field(
                min_length=1,
                description=(
                    "Salesforce Lead objects; fields mapped to HubSpot properties as documented in "
                    "serving/adapters.py (SALESFORCE_LEAD_FIELDS)"
                ),
            ),
        ],
        explain: bool = False,
    ) -> ScoreResponse:
        """Score Salesforce Leads with a model trained on the HubSpot spec (field mapping:
        Title→jobtitle, NumberOfEmployees→numemployees, Industry, AnnualRevenue, Country,
        Email→domain, LeadSource→hs_analytics_source). Ids are the Salesforce `Id`."""
        try:
            self.check_size(len(leads))
            records = [salesforce_record(lead.root) for lead in leads]
            ids = [self.lead_id(record, i, "leads") for i, record in enumerate(records)]
            outs = await self.run(
                self.scored, records, explain, "leads", weight=len(records) * (4 if explain else 1)
            )
        except ClientError as error:
            return error.response("POST", "/salesforce/score")  # type: ignore[return-value]
        return ScoreResponse(
            results=[lead_result(i, o) for i, o in zip(ids, outs, strict=True)],
            model=self.model_ref,
            scored_at=datetime.now(UTC),
        )

    # -- helpers -----------------------------------------------------------------------------
    def check_size(self, count: int) -> None:
        limit = self.settings.max_batch_size
        if count > limit:
            raise ClientError(
                413,
                f"{count:,} leads in one request is over the limit of "
                f"{limit:,} (LEADSCORE_MAX_BATCH_SIZE): split the batch",
            )
        if count == 0:
            raise ClientError(400, "no leads to score: send at least one")

    def lead_id(self, record: Mapping[str, Any], index: int, root: str) -> str | None:
        try:
            return lead_id(record, self.spec.id, self.missing)
        except CoercionError as error:
            raise coercion_error(error, index, root) from None

    def scored(
        self, records: Sequence[Mapping[str, Any]], explain: bool, root: str
    ) -> list[dict[str, Any]]:
        for index, record in enumerate(records):
            try:
                check_numbers(record)
            except CoercionError as error:
                raise coercion_error(error, index, root) from None
        try:
            return score_leads(self.scorer, records, explain, self.settings.reasons_per_group)
        except CoercionError as error:
            raise coercion_error(error, locate(records, error), root) from None
        except LeadscoreError as error:
            raise ClientError(400, str(error)) from None

    async def run(self, func: Callable[..., T], *args: Any, weight: int) -> T:
        if weight <= INLINE_WORK:
            return func(*args)
        return await anyio.to_thread.run_sync(func, *args, limiter=self.limiter)


def locate(records: Sequence[Mapping[str, Any]], error: CoercionError) -> int:
    """Index of the first record holding the value that failed (the scorer reads in batches)."""
    for index, record in enumerate(records):
        value = record.get(error.column)
        if value is error.value or value == error.value:
            return index
    return 0


LeadScoring.add_asgi_middleware(RequestGuard)  # type: ignore[attr-defined]  # a bentoml.Service


@model_app.get("/model", response_model=ModelInfo, tags=["Service APIs"])
async def model_info(service: LeadScoring = Depends(bentoml.get_current_service)) -> ModelInfo:
    """The served model: registry name, version and alias, training date, test metrics,
    thresholds and the features it reads."""
    scorer, model = service.scorer, service.model
    meta: dict[str, Any] = scorer.metadata
    spec = scorer.spec
    thresholds = meta.get("thresholds")
    policy = getattr(scorer, "policy", None)
    if thresholds is None and policy is not None and hasattr(policy, "model_dump"):
        thresholds = policy.model_dump(mode="json")
    return ModelInfo(
        name=model.name,
        version=model.version,
        alias=model.alias,
        uri=model.uri,
        run_id=model.run_id,
        trained_at=meta.get("trained_at"),
        loaded_at=model.loaded_at,
        spec=spec.name,
        id_column=spec.id,
        features=[
            FeatureInfo(
                name=f.name,
                column=f.source,
                group=spec.group_of(f.name).value,
                type=f.type.value,
                label=f.readable,
            )
            for f in spec.features
        ],
        test_metrics={
            k: float(v)
            for k, v in (meta.get("test_metrics") or {}).items()
            if isinstance(v, int | float)
        },
        thresholds=thresholds,
        decision_layer=has_decision_layer(scorer),
        max_batch_size=service.settings.max_batch_size,
    )


__all__ = ["ClientError", "LeadScoring", "ModelNotFoundError"]
