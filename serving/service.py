"""The BentoML scoring service: `bentoml serve serving.service:LeadScoring` (or `leadscore serve`).

Endpoints
- `POST /score`: `{"leads": [{CRM properties, "events": [...]}, …], "explain": false,
  "as_of": "2026-07-01T00:00:00Z"}` → scores, grades, recommendation and (explain)
  reasons per lead, in input order, and the moment they were computed for.
- `POST /hubspot/score[?as_of=…][&actions=true]`: a HubSpot v3 object, a list of them, a
  batch-read answer or a legacy workflow-webhook contact → per contact the properties to
  PATCH back; with `actions=true` also the Tasks / Deals API create bodies of the
  contacts' next actions (serving/hubspot_actions.py).
- `POST /salesforce/score`: Salesforce Lead objects (mapped to HubSpot property names).
- `GET /model`: what is served (registry version, alias, training date, metrics,
  thresholds, features, inline events). `/livez`, `/readyz`, `/metrics`, OpenAPI at
  `/docs.json` (as the service answers: `serving.openapi`), a local docs page at `/`.
- `POST /admin/reload` (token required): every worker moves to the version the alias names
  now.

Time-true: features are computed as of one moment per request, `as_of` (default: when the
request arrived). A lead's timestamp, inline event or creation time after it is a 400
naming the lead and the property, never a silent negative "days since".

One version per server: `pin_model` resolves the model URI once in the server's main
process (BentoML's deployment hook, before workers start) and every worker loads that
version in `__init__` (`/readyz` answers only after that), also after a crash; only
`/admin/reload` moves them all. No model, an unreachable registry or a bad setting ends the
server with one line and exit code 2 (no restart loop). Up to 16 leads
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
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

import anyio
import bentoml
from fastapi import Depends, FastAPI
from pydantic import Field, RootModel, StrictBool
from starlette.responses import JSONResponse

from features.coerce import CoercionError
from features.errors import LeadscoreError
from features.events import INLINE_EVENTS
from features.spec import DatasetSpec
from features.timestamps import AsOf, FutureTimestampError, iso
from models.contract import LeadScore, Scorer
from models.i18n import check_language
from serving.adapters import (
    SALESFORCE_LEAD_FIELDS,
    PayloadError,
    batch_update_bodies,
    check_number,
    check_numbers,
    hubspot_properties,
    hubspot_records,
    salesforce_record,
)
from serving.hubspot_actions import action_bodies
from serving.loader import (
    ModelState,
    SettingsError,
    load_model,
    load_pinned,
    pin_served_model,
    read_settings,
    record_worker_start,
    record_worker_stop,
    resolve_model,
    state_path,
)
from serving.logs import install_client_error_filter, redacted
from serving.metrics import TrafficMetrics
from serving.middleware import RequestGuard
from serving.monitoring import log_scores
from serving.openapi import ApiFront, openapi_document
from serving.resolve import LoadedModel, ModelNotFoundError
from serving.schemas import (
    AsOfInput,
    ErrorResponse,
    EventKindInfo,
    EventsInfo,
    FeatureInfo,
    HubSpotActions,
    HubSpotBatchUpdate,
    HubSpotPayload,
    HubSpotResponse,
    HubSpotUpdate,
    LangInput,
    Lead,
    ModelInfo,
    ModelRef,
    ReloadResult,
    RollupInfo,
    ScoreResponse,
)
from serving.scoring import has_decision_layer, inline_events, lead_id, lead_result, score_leads

log = logging.getLogger("serving.requests")
T = TypeVar("T")

# Below this much work (leads, explanations counted 4×) a request is scored on the event
# loop: a thread hop costs more than scoring a lead (~0.4 ms). Above it, a worker thread.
INLINE_WORK = 16
# Events sent inline that weigh as much as one lead (rebuilding a lead's properties from
# 50 events costs about what scoring it does).
EVENTS_PER_LEAD = 50
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SALESFORCE_NAMES = {prop: field for field, prop in SALESFORCE_LEAD_FIELDS.items()}
API_ROUTES = ("/score", "/hubspot/score", "/salesforce/score", "/model", "/admin/reload")


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
        # The log names where and what kind (`leads.0.numemployees coercion_error`), never the
        # value the message quotes (personal data: an e-mail address in the wrong field).
        where = "; ".join(
            f"{'.'.join(str(p) for p in d.get('loc', ()))} {d.get('type', '')}" for d in self.detail
        )
        log.warning("%d %s %s: %s", self.status, method, path, where or redacted(self.message))
        return JSONResponse({"error": self.message, "detail": self.detail}, status_code=self.status)


def coercion_error(
    error: CoercionError,
    index: int,
    root: str,
    time_column: str | None = None,
    names: Mapping[str, str] | None = None,
) -> ClientError:
    """A 400 naming the lead, the property and what was expected (value shown short).

    A time after `as_of` (`FutureTimestampError`) says so, and for the lead's creation
    time (`time_column`) that a lead is not scored before it exists. `names`: the
    client's name of a property read under another (Salesforce's `CreatedDate`)."""
    value = shown(error.value)
    column = shown_key((names or {}).get(error.column, error.column))
    kind = "coercion_error"
    if isinstance(error, FutureTimestampError):
        kind = "future_timestamp"
        why = (
            "a lead is not scored as of a moment before it was created"
            if error.column == time_column
            else "a value from after the moment of scoring is never a feature"
        )
        text = f"{value!r} is after as_of {iso(error.as_of)}: {why}"
    elif error.value is None:
        kind = "missing"
        text = f"no value: expected {error.expected}"
    else:
        text = f"cannot read {value!r} as {error.expected}"
    return ClientError(
        400,
        f"{root}[{index}].{column}: {text}",
        [{"loc": [root, index, column], "msg": text, "type": kind, "expected": error.expected}],
    )


def payload_error(error: PayloadError) -> ClientError:
    """A 400 for a body of the wrong shape, naming the JSON path."""
    return ClientError(400, str(error), [{"loc": error.loc, "msg": error.msg, "type": error.kind}])


def as_of_error(error: CoercionError) -> ClientError:
    """A 400 for an unreadable top-level `as_of` (loc `["as_of"]`)."""
    text = f"cannot read {shown(error.value)!r} as {error.expected}"
    return ClientError(
        400,
        f"as_of: {text}",
        [{"loc": ["as_of"], "msg": text, "type": "coercion_error", "expected": error.expected}],
    )


def shown(value: Any) -> Any:
    """A value as an error message may quote it: scalars only, text cut to 60 characters."""
    if not (isinstance(value, str | int | float | bool) or value is None):
        return type(value).__name__
    if isinstance(value, str) and len(value) > 60:
        return value[:57] + "…"
    return value


def shown_key(name: str) -> str:
    """A property name as a message may show it bare (a client's key may hold anything)."""
    return name if name.isprintable() and len(name) <= 60 else repr(shown(name))


def one_line(text: str) -> str:
    """Text for a log line: no line breaks or other control characters of the client's."""
    return text if text.isprintable() else repr(text)[1:-1]


def read_as_of(value: Any) -> AsOf:
    """The request's `as_of`: None (not sent) means now, with the clock-skew allowance."""
    if value is None:
        return AsOf.now()
    try:
        check_number("as_of", value)
        return AsOf.of(value, "as_of")
    except CoercionError as error:
        raise as_of_error(error) from None


FLAG_VALUES = {"true": True, "1": True, "false": False, "0": False}


def read_flag(value: str | None, name: str) -> bool:
    """A query parameter that is true or false (`true`, `false`, `1`, `0`, any case;
    absent: false); else a 400 naming it, as for a body's boolean."""
    if value is None:
        return False
    flag = FLAG_VALUES.get(value.strip().lower())
    if flag is None:
        text = "expected true or false"
        raise ClientError(
            400, f"{name}: {text}", [{"loc": [name], "msg": text, "type": "bool_type"}]
        )
    return flag


def moment(as_of: AsOf) -> datetime:
    """The moment (ns) as a datetime in UTC, to the microsecond."""
    return _EPOCH + timedelta(microseconds=int(as_of.ns) // 1000)


class HubSpotRequest(RootModel[HubSpotPayload]):
    """The HubSpot body as sent (one object, a list, a batch-read or search answer or a legacy
    contact): read by `hubspot_records`, which names the JSON path of what it refuses."""


class SalesforceLead(RootModel[dict[str, Any]]):
    """A Salesforce Lead as the REST API returns it (`Id`, `Title`, `NumberOfEmployees`, …)."""


model_app = FastAPI(title="leadscore model", docs_url=None, redoc_url=None, openapi_url=None)


@bentoml.service(
    name="leadscore",
    workers=1,
    traffic={"timeout": 60},
    tracing={"excluded_urls": list(API_ROUTES)},
    # BentoML labels its metrics by raw path (unbounded): serving.metrics counts instead.
    metrics={"enabled": False},
)
@bentoml.asgi_app(model_app, path="/")
class LeadScoring:
    """leadscore: lead scores, lifecycle recommendations and reasons for CRM workflows."""

    def __init__(self) -> None:
        install_client_error_filter()
        if logging.getLogger("serving").level == logging.NOTSET:
            # BentoML's server logging shows WARNING and up for loggers other than its own.
            logging.getLogger("serving").setLevel(logging.INFO)
        try:
            self.settings = read_settings()
        except SettingsError as error:
            log.critical("leadscore service cannot start: %s", error)
            raise
        # Under `bentoml serve` the version was pinned for the whole server (`pin_model`);
        # in-process (tests, `to_asgi()`) this instance resolves the URI itself.
        self.state_file = state_path()
        self.state_stamp = stamp(self.state_file)
        self.worker = str(bentoml.server_context.worker_index or 0)
        try:
            if self.state_file is not None:
                self.model: LoadedModel = load_pinned(ModelState.read(self.state_file))
            else:
                self.model = load_model(self.settings)
        except ModelNotFoundError as error:
            log.critical("leadscore service cannot start: %s", error)
            self.stop_server()
            raise
        self.use(self.model)
        self.limiter = anyio.CapacityLimiter(1)
        self.reload_lock = anyio.Lock()
        self.note_start()

    def use(self, model: LoadedModel) -> None:
        """Serve `model` from now on (at start, and on a reload)."""
        self.model = model
        self.scorer: Scorer = model.scorer
        self.spec = self.scorer.spec
        self.missing = frozenset(self.spec.missing_tokens)

    def note_start(self) -> None:
        """Log this worker's start with its version, and a restart after a crash as an error
        (circus restarts a dead worker without a word)."""
        pid = os.getpid()
        before = (
            record_worker_start(self.state_file, self.worker, pid)
            if self.state_file is not None
            else None
        )
        if before is not None:
            log.error(
                "worker %s restarted: its previous process (pid %d) ended without shutting "
                "down (a crash or a kill); now pid %d, serving %s version %s as before",
                self.worker,
                before,
                pid,
                self.model.name,
                self.model.version,
            )
        log.info(
            "worker %s started (pid %d): serving %s version %s (alias %s; decision layer: %s)",
            self.worker,
            pid,
            self.model.name,
            self.model.version,
            self.model.alias or "none",
            "yes" if has_decision_layer(self.scorer) else "no",
        )

    def stop_server(self) -> None:
        """A worker that cannot load the pinned model stops the whole server (circus would
        otherwise restart it forever): SIGTERM to the arbiter that pinned it."""
        if self.state_file is None:
            return
        try:
            arbiter = ModelState.read(self.state_file).arbiter_pid
        except (OSError, ValueError, TypeError):
            return
        if arbiter == os.getppid():
            os.kill(arbiter, signal.SIGTERM)

    @bentoml.on_deployment
    def pin_model() -> None:
        """Once per server, in the main process before any worker starts: resolve the model
        URI (an alias) to one version that every worker serves; no model, a registry that
        does not answer or a bad setting ends `bentoml serve` with one line and exit code 2."""
        try:
            pin_served_model()
        except (ModelNotFoundError, SettingsError) as error:
            # One line (BentoML's server logging shows it), no traceback, exit code 2.
            log.critical("leadscore service cannot start: %s", error)
            raise SystemExit(2) from None

    @bentoml.on_shutdown
    def note_stop(self) -> None:
        if self.state_file is not None:
            record_worker_stop(self.state_file, self.worker, os.getpid())

    async def follow(self) -> None:
        """Serve the server's current version: a reload by any worker rewrites the state
        file, and each worker notices here (one `stat` per request) and loads it too."""
        if self.state_file is None or stamp(self.state_file) == self.state_stamp:
            return
        async with self.reload_lock:
            current = stamp(self.state_file)
            if current == self.state_stamp:
                return
            state = ModelState.read(self.state_file)
            if state.load_uri != self.model.load_uri:
                model = await anyio.to_thread.run_sync(load_pinned, state)
                self.use(model)
                log.info(
                    "worker %s now serves %s version %s (reloaded by another worker)",
                    self.worker,
                    model.name,
                    model.version,
                )
            self.state_stamp = current

    async def reload(self) -> ReloadResult:
        """Resolve the configured URI again and serve its version on every worker."""
        async with self.reload_lock:
            before = self.model
            found = await anyio.to_thread.run_sync(resolve_model, self.settings)
            changed = found.load_uri != before.load_uri
            if changed:
                state = ModelState.of(found, self.arbiter_pid())
                self.use(await anyio.to_thread.run_sync(load_pinned, state))
                if self.state_file is not None:
                    state.write(self.state_file)
                    self.state_stamp = stamp(self.state_file)
                log.warning(
                    "reloaded: %s now serves version %s (was %s) on every worker",
                    found.uri,
                    found.version,
                    before.version,
                )
            return ReloadResult(
                changed=changed,
                previous=ModelRef(name=before.name, version=before.version),
                model=self.model_ref,
                alias=self.model.alias,
            )

    def arbiter_pid(self) -> int:
        if self.state_file is None:
            return os.getpid()
        return ModelState.read(self.state_file).arbiter_pid

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
                    "properties, optionally with its `events`"
                ),
            ),
        ],
        explain: Annotated[
            StrictBool, Field(description="add the reasons for fit and interest")
        ] = False,
        as_of: AsOfInput = None,
        lang: LangInput = None,
    ) -> ScoreResponse:
        """Score leads as of a moment (`as_of`, default now): probability, fit and interest
        with grades, the recommended lifecycle stage and lead status with the rule that
        decided, and with `explain` the reasons."""
        await self.follow()
        try:
            when = read_as_of(as_of)
            words = self.read_lang(lang)
            self.check_size(len(leads))
            ids = [self.lead_id(lead, i, "leads") for i, lead in enumerate(leads)]
            outs = await self.run(
                self.scored,
                leads,
                explain,
                "leads",
                when,
                None,
                words,
                weight=self.weight(leads, explain),
            )
        except ClientError as error:
            return error.response("POST", "/score")  # type: ignore[return-value]
        self.log_scores(ids, outs, when)
        return ScoreResponse(
            results=[lead_result(i, o) for i, o in zip(ids, outs, strict=True)],
            model=self.model_ref,
            scored_at=datetime.now(UTC),
            as_of=moment(when),
        )

    @bentoml.api(route="/hubspot/score", input_spec=HubSpotRequest)
    async def hubspot_score(self, root: HubSpotPayload, ctx: bentoml.Context) -> HubSpotResponse:
        """Score HubSpot contacts as a workflow webhook or the CRM v3 API sends them.

        Returns, per contact, `{"id", "properties"}` ready for
        `PATCH /crm/v3/objects/contacts/{id}`: the score properties (names set by
        `LEADSCORE_HUBSPOT__*`), and `lifecyclestage` / `hs_lead_status` only when the
        recommendation changes them. Scored as of the request's time, or of the query
        parameter `?as_of=` (ISO 8601 or epoch milliseconds). With `?actions=true`, also
        `actions`: per contact whose next action needs one, the body of
        `POST /crm/v3/objects/tasks` (contact, retry, re-check: due = `hs_timestamp`) or
        `POST /crm/v3/objects/deals` (OPEN_DEAL), associated with the contact."""
        await self.follow()
        try:
            query = ctx.request.query_params
            when = read_as_of(query.get("as_of"))
            with_actions = read_flag(query.get("actions"), "actions")
            words = self.read_lang(query.get("lang"))
            try:
                objects = hubspot_records(root)
            except PayloadError as error:
                raise payload_error(error) from None
            if objects:
                self.check_size(len(objects))
            records = [record for _, record in objects]
            explain = bool(self.settings.hubspot.reasons) and has_decision_layer(self.scorer)
            outs = await self.run(
                self.scored,
                records,
                explain,
                "objects",
                when,
                None,
                words,
                weight=self.weight(records, explain),
            )
        except ClientError as error:
            # With a context parameter BentoML answers with the context's status.
            ctx.response.status_code = error.status
            return error.response("POST", "/hubspot/score")  # type: ignore[return-value]
        self.log_scores([object_id for object_id, _ in objects], outs, when)
        now = datetime.now(UTC)
        names, version = self.settings.hubspot, self.model.version
        results = [
            HubSpotUpdate(
                id=object_id,
                properties=hubspot_properties(out, record, names, version, now, words),
            )
            for (object_id, record), out in zip(objects, outs, strict=True)
        ]
        actions = None
        if with_actions:
            bodies = action_bodies(objects, outs, self.settings.hubspot_actions, words)
            actions = HubSpotActions.model_validate(bodies)
        return HubSpotResponse(
            results=results,
            batches=[HubSpotBatchUpdate(inputs=chunk) for chunk in batch_update_bodies(results)],
            model=self.model_ref,
            scored_at=now,
            as_of=moment(when),
            actions=actions,
        )

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
        explain: Annotated[
            StrictBool, Field(description="add the reasons for fit and interest")
        ] = False,
        as_of: AsOfInput = None,
        lang: LangInput = None,
    ) -> ScoreResponse:
        """Score Salesforce Leads with a model trained on the HubSpot spec (field mapping:
        Title→jobtitle, NumberOfEmployees→numemployees, Industry, AnnualRevenue, Country,
        Email→domain, LeadSource→hs_analytics_source, CreatedDate→createdate), as of
        `as_of` (default now). Ids are the Salesforce `Id`."""
        await self.follow()
        try:
            when = read_as_of(as_of)
            words = self.read_lang(lang)
            self.check_size(len(leads))
            records = [salesforce_record(lead.root) for lead in leads]
            ids = [self.lead_id(record, i, "leads") for i, record in enumerate(records)]
            outs = await self.run(
                self.scored,
                records,
                explain,
                "leads",
                when,
                SALESFORCE_NAMES,
                words,
                weight=self.weight(records, explain),
            )
        except ClientError as error:
            return error.response("POST", "/salesforce/score")  # type: ignore[return-value]
        self.log_scores(ids, outs, when)
        return ScoreResponse(
            results=[lead_result(i, o) for i, o in zip(ids, outs, strict=True)],
            model=self.model_ref,
            scored_at=datetime.now(UTC),
            as_of=moment(when),
        )

    # -- helpers -----------------------------------------------------------------------------
    def log_scores(self, ids: Sequence[str | None], outs: Sequence[LeadScore], when: AsOf) -> None:
        """The scoring log for `leadscore monitor` (LEADSCORE_SCORING_LOG; off by default)."""
        if self.settings.scoring_log:
            log_scores(ids, outs, self.spec.id, self.model.version, moment(when).isoformat())

    def read_lang(self, value: Any) -> str:
        """The request's `lang` (None: not sent, the service's LEADSCORE_LANG); a language
        without a message catalogue is a 400 naming the field."""
        if value is None:
            return self.settings.lang
        try:
            return check_language(value)
        except LeadscoreError as error:
            raise ClientError(
                400, str(error), [{"loc": ["lang"], "msg": str(error), "type": "value_error"}]
            ) from None

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

    @staticmethod
    def weight(records: Sequence[Mapping[str, Any]], explain: bool) -> int:
        """The request's work in leads: explanations count 4×, inline events per 50."""
        return len(records) * (4 if explain else 1) + inline_events(records) // EVENTS_PER_LEAD

    def scored(
        self,
        records: Sequence[Mapping[str, Any]],
        explain: bool,
        root: str,
        as_of: AsOf,
        names: Mapping[str, str] | None = None,
        lang: str = "en",
    ) -> list[LeadScore]:
        """Score records as of the moment, worded in `lang`; a client error is a
        `ClientError` naming the lead and the property (by the client's name for it:
        `names`, else as read)."""
        for index, record in enumerate(records):
            try:
                check_numbers(record)
            except CoercionError as error:
                raise coercion_error(error, index, root, names=names) from None
        try:
            return score_leads(
                self.scorer, records, explain, self.settings.reasons_per_group, as_of, lang
            )
        except CoercionError as error:
            raise coercion_error(
                error, locate(records, error), root, self.spec.time.column, names
            ) from None
        except LeadscoreError as error:
            raise ClientError(400, str(error)) from None

    async def run(self, func: Callable[..., T], *args: Any, weight: int) -> T:
        if weight <= INLINE_WORK:
            return func(*args)
        return await anyio.to_thread.run_sync(func, *args, limiter=self.limiter)


def stamp(path: Any) -> tuple[int, int, int] | None:
    """What changes when the state file is replaced: inode, size and modification time."""
    if path is None:
        return None
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)


def locate(records: Sequence[Mapping[str, Any]], error: CoercionError) -> int:
    """Index of the lead whose value failed: the one the error names (`record`: an inline
    event; `row`: a time after as_of), else the first record holding the value."""
    for attribute in ("record", "row"):
        index = getattr(error, attribute, None)
        if isinstance(index, int) and 0 <= index < len(records):
            return index
    for index, record in enumerate(records):
        value = record.get(error.column)
        if value is error.value or value == error.value:
            return index
    return 0


LeadScoring.add_asgi_middleware(TrafficMetrics, routes=API_ROUTES)  # type: ignore[attr-defined]
LeadScoring.add_asgi_middleware(RequestGuard)  # type: ignore[attr-defined]  # a bentoml.Service
LeadScoring.add_asgi_middleware(  # type: ignore[attr-defined]
    ApiFront,
    document=lambda: openapi_document(LeadScoring.openapi_spec.asdict()),  # type: ignore[attr-defined]
)


@model_app.get("/model", response_model=ModelInfo, tags=["Service APIs"])
async def model_info(service: LeadScoring = Depends(bentoml.get_current_service)) -> ModelInfo:
    """The served model: registry name, version and alias, training date, test metrics,
    thresholds, the features it reads and what it reads from a lead's inline events."""
    await service.follow()
    scorer, model = service.scorer, service.model
    meta: dict[str, Any] = scorer.metadata
    spec = scorer.spec
    thresholds = meta.get("thresholds")
    if thresholds is None and scorer.policy is not None:
        thresholds = scorer.policy.model_dump(mode="json")
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
        time_column=spec.time.column if spec.time.kind == "datetime" else None,
        events=events_info(spec),
    )


@model_app.post(
    "/admin/reload",
    response_model=ReloadResult,
    tags=["Service APIs"],
    responses={
        403: {"model": ErrorResponse, "description": "no LEADSCORE_API_TOKEN is configured"},
        503: {
            "model": ErrorResponse,
            "description": "the registry has no model at the URI or did not answer: the "
            "version served before is kept",
        },
    },
)
async def reload_model(
    service: LeadScoring = Depends(bentoml.get_current_service),
) -> ReloadResult | JSONResponse:
    """Move every worker to the version the model URI's alias (e.g. `champion`) names now.

    The server serves one version, resolved when it starts, until this is called (a worker
    restarted after a crash keeps that version too). Needs the bearer token: refused (403)
    on a server without `LEADSCORE_API_TOKEN`. The answer names the version before and now.
    """
    if not service.settings.auth_enabled:
        return ClientError(
            403,
            "reloading the model needs LEADSCORE_API_TOKEN to be set: restart the server to "
            "serve a new version",
        ).response("POST", "/admin/reload")
    try:
        return await service.reload()
    except ModelNotFoundError as error:
        failed = ClientError(503, f"reload failed, still serving the version before: {error}")
        return failed.response("POST", "/admin/reload")


def events_info(spec: DatasetSpec) -> EventsInfo | None:
    """What the spec reads from a lead's inline events (None: no `events` section)."""
    events = spec.events
    if events is None:
        return None
    return EventsInfo(
        key=INLINE_EVENTS,
        time=events.time,
        type=events.type,
        value=events.value,
        kinds={
            name: EventKindInfo(**kind.model_dump(include={"type", "value_contains", "label"}))
            for name, kind in events.kinds.items()
        },
        properties={
            column: RollupInfo(how=rollup.how, kind=rollup.kind)
            for column, rollup in events.properties.items()
        },
        windows=sorted(events.windows),
        required=bool(spec.needs_events),
    )


__all__ = ["ClientError", "LeadScoring", "ModelNotFoundError"]
