"""Serving settings, read from the environment (prefix `LEADSCORE_`) when the service starts.

- `LEADSCORE_MODEL_URI` (default `models:/lead-scorer@champion`): the MLflow model to serve.
- `LEADSCORE_MLFLOW_TRACKING_URI`, else `MLFLOW_TRACKING_URI`, else `sqlite:///$PWD/mlflow.db`:
  where the registry is.
- `LEADSCORE_API_TOKEN` (default unset: no auth): the Bearer token every scoring and model
  endpoint then requires.
- `LEADSCORE_MAX_BATCH_SIZE` (1000): most leads in one request (more: 413).
- `LEADSCORE_MAX_BODY_BYTES` (16 MiB): largest request body (more: 413).
- `LEADSCORE_REASONS_PER_GROUP` (3): reasons for and against, per score, with `explain`.
- `LEADSCORE_SCORING_LOG` (false): write every scored lead's id, scores, recommended stage
  and model version through BentoML's monitoring (serving/monitoring.py), for
  `leadscore monitor`.
- `LEADSCORE_HUBSPOT_CLIENT_SECRET` (unset): the HubSpot app's client secret; with it,
  `/hubspot/score` also accepts requests signed by HubSpot (`X-HubSpot-Signature-v3`).
- `LEADSCORE_PUBLIC_BASE_URL` (unset: the request's own scheme and Host): the URL HubSpot
  calls, e.g. `https://leadscore.example.com`, when a proxy stands in front (the signature
  covers the full URI).
- `LEADSCORE_AUTH_FAILURES_PER_MINUTE` (20): failed authentications one client may make
  in a minute; more: 429 with `Retry-After` until the minute is over.
- `LEADSCORE_HUBSPOT__<FIELD>` (`leadscore_<field>`): HubSpot property names written back
  (`LEADSCORE_HUBSPOT__REASONS=` empty: not written).
- `LEADSCORE_HUBSPOT_ACTIONS__<FIELD>`: what `/hubspot/score?actions=true` puts into the
  Deals and Tasks API bodies: `DEAL_PIPELINE` (`default`) and `DEAL_STAGE`
  (`appointmentscheduled`, the first stage of HubSpot's default pipeline) by internal id,
  `TASK_CONTACT_ASSOCIATION` (204) and `DEAL_CONTACT_ASSOCIATION` (3): HubSpot's default
  association type ids, task → contact and deal → contact.

Nothing here is read at import time: `ServingSettings()` reads the environment when called.
"""

from __future__ import annotations

import re

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from features.errors import LeadscoreError
from models.i18n import check_language
from models.mlflow_store import DEFAULT_MODEL_URI, local_store_uri

HUBSPOT_PROPERTY_NAME = re.compile(r"[a-z][a-z0-9_]{0,99}")
# A pipeline's or deal stage's internal id: `default`, `appointmentscheduled`, or the
# number HubSpot gives a custom one.
HUBSPOT_INTERNAL_ID = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
# Properties the HubSpot answer writes besides the configured ones.
WRITTEN_BACK = ("lifecyclestage", "hs_lead_status")


class HubSpotProperties(BaseModel):
    """Names of the HubSpot contact properties the service fills in (empty string: leave out).

    Create them in the portal first (Settings → Properties): numbers for the scores,
    single-line text for grades, reasons and version, date-time for `scored_at`.
    """

    model_config = ConfigDict(extra="forbid")

    probability: str = "leadscore_probability"
    score: str = "leadscore_score"
    fit: str = "leadscore_fit"
    fit_grade: str = "leadscore_fit_grade"
    interest: str = "leadscore_interest"
    interest_grade: str = "leadscore_interest_grade"
    reasons: str = "leadscore_reasons"
    model_version: str = "leadscore_model_version"
    scored_at: str = "leadscore_scored_at"

    @field_validator("*")
    @classmethod
    def _hubspot_name(cls, value: str, info: ValidationInfo) -> str:
        # HubSpot's internal property names: a lower-case letter, then lower-case letters,
        # digits and underscores, at most 100 characters (serving/README.md cites it).
        if value and not HUBSPOT_PROPERTY_NAME.fullmatch(value):
            raise ValueError(
                f"LEADSCORE_HUBSPOT__{(info.field_name or '').upper()}={value!r} is not a "
                "HubSpot property name: lower-case letters, digits and underscores, starting "
                "with a letter, at most 100 characters (empty: leave it out)"
            )
        return value

    @model_validator(mode="after")
    def _one_output_per_name(self) -> HubSpotProperties:
        # Two outputs on one name would silently overwrite each other's value.
        owners: dict[str, list[str]] = {name: ["(the recommendation)"] for name in WRITTEN_BACK}
        for field_name, value in self:
            if value:
                owners.setdefault(value, []).append(f"LEADSCORE_HUBSPOT__{field_name.upper()}")
        clashes = {name: who for name, who in owners.items() if len(who) > 1}
        if clashes:
            name, who = next(iter(clashes.items()))
            raise ValueError(
                f"HubSpot property {name!r} is set for {' and '.join(who)}: each output "
                "needs a property of its own"
            )
        return self


class HubSpotActionSettings(BaseModel):
    """What the task and deal create bodies of `/hubspot/score?actions=true` hold besides
    the contact's own values: the deal's pipeline and stage (internal ids) and the
    association type ids (HubSpot-defined: task → contact 204, deal → contact 3)."""

    model_config = ConfigDict(extra="forbid")

    deal_pipeline: str = "default"
    deal_stage: str = "appointmentscheduled"
    task_contact_association: int = Field(204, ge=1)
    deal_contact_association: int = Field(3, ge=1)

    @field_validator("deal_pipeline", "deal_stage")
    @classmethod
    def _internal_id(cls, value: str, info: ValidationInfo) -> str:
        if not HUBSPOT_INTERNAL_ID.fullmatch(value):
            raise ValueError(
                f"LEADSCORE_HUBSPOT_ACTIONS__{(info.field_name or '').upper()}={value!r} is not "
                "a HubSpot internal id: letters, digits, `_`, `-`, `.` or `:`, 1 to 100 "
                "characters (e.g. `default`, `appointmentscheduled`, or a number)"
            )
        return value


class ServingSettings(BaseSettings):
    """Everything the service reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="LEADSCORE_",
        env_nested_delimiter="__",
        extra="ignore",
        protected_namespaces=(),
        populate_by_name=True,
    )

    model_uri: str = Field(DEFAULT_MODEL_URI, min_length=1)
    mlflow_tracking_uri: str | None = Field(
        None,
        validation_alias=AliasChoices(
            "LEADSCORE_MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_URI", "mlflow_tracking_uri"
        ),
    )
    api_token: SecretStr | None = None
    max_batch_size: int = Field(1000, ge=1, le=100_000)
    max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    reasons_per_group: int = Field(3, ge=1, le=20)
    # LEADSCORE_LANG: the language of reasons and details when a request names none
    lang: str = Field("en", description="en or de (a language with a message catalogue)")
    scoring_log: bool = False
    hubspot_client_secret: SecretStr | None = None
    public_base_url: str | None = Field(None, pattern=r"^https?://[^/?#\s]+(/[^?#\s]*)?$")
    auth_failures_per_minute: int = Field(20, ge=1, le=100_000)
    hubspot: HubSpotProperties = Field(default_factory=HubSpotProperties)
    hubspot_actions: HubSpotActionSettings = Field(default_factory=HubSpotActionSettings)

    @field_validator("api_token", "hubspot_client_secret", "public_base_url", mode="before")
    @classmethod
    def _empty_token_is_none(cls, value: object) -> object:
        # `LEADSCORE_API_TOKEN=` (set but empty) must not mean "the empty token".
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return value

    @field_validator("mlflow_tracking_uri", mode="before")
    @classmethod
    def _empty_uri_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("lang", mode="before")
    @classmethod
    def _known_language(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return "en"
        try:
            return check_language(value)
        except LeadscoreError as error:
            raise ValueError(str(error).removeprefix("lang: ")) from None

    def tracking_uri(self) -> str:
        """The tracking URI in force: the setting, else a SQLite file in the working directory.

        The same default as `leadscore train` (`models.mlflow_store`): `leadscore train` and
        `leadscore serve` run in one folder share a registry.
        """
        return self.mlflow_tracking_uri or local_store_uri()

    @property
    def auth_enabled(self) -> bool:
        return self.api_token is not None
