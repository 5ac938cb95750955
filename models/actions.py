"""Next actions: what the recommended lead status asks sales (or marketing) to do, and by when.

Lead status drives work. For every scored lead the decision carries a `next_action`: its
type (`ActionType`), its due time (counted from the moment of scoring, `as_of`) and a
one-line reason. The rules, HubSpot's default statuses and what each one leads to:

| status | meaning | next action | due after scoring |
|---|---|---|---|
| `NEW` | new in the sales queue, not contacted yet | `contact` | `contact_within` PT4H |
| `OPEN` | HubSpot's; not contacted yet: as `NEW` | `contact` | `contact_within` PT4H |
| `ATTEMPTED_TO_CONTACT` | tried, not reached yet | `retry_contact` | `retry_after` P2D |
| `CONNECTED` | HubSpot's; reached: as `IN_PROGRESS` | `none` | – |
| `IN_PROGRESS` | a conversation is under way (the rep's) | `none` | – |
| `OPEN_DEAL` | a deal is created automatically | `create_deal` | `deal_within` PT0S |
| `BAD_TIMING` | back to nurturing, a later re-check | `recheck` | `recheck_after` P90D |
| `UNQUALIFIED` | out of the sales queue | `none` | – |

Without a lead status the stage decides: an SQL is contacted (`contact`), a lead owned by
marketing (subscriber, lead, MQL) is nurtured (`nurture`, no due time), and a contact at
a stage scoring never changes (opportunity, customer, evangelist) gets `none`.

Forward only: an action never moves a contact backwards. Past SQL (opportunity, customer,
evangelist) only `recheck` and `none` are kept (no first contact, retry, new deal or
nurture for a customer); `other` (competitors, partners, employees) always gets `none`;
a lead that fails a requirement of the catalogue gets no sales action (`contact`,
`retry_contact`, `create_deal` become `none`).

The periods and the status → action mapping are the training config's `actions:` (the
defaults above), saved in the bundle's policy. Durations read as ISO 8601 (`PT4H`,
`P2D`, `P1DT12H`, `P2W`) or short forms (`4h`, `2d`, `30m`, `90s`, `1w`); months and
years have no fixed length and are refused. A status not in the mapping is an error
naming the value and the allowed ones (`UnknownStatusError`).

`next_actions` works on a whole batch (the arrays of `Policy.decide`) with one lookup per
distinct (stage, status, rule) combination, so one lead and a million take the same path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, get_args

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
)

from features.coerce import CoercionError
from features.timestamps import AsOf
from models.i18n import ENGLISH, N_, Language

ActionType = Literal["contact", "retry_contact", "create_deal", "nurture", "recheck", "none"]
ACTION_TYPES: tuple[ActionType, ...] = get_args(ActionType)
# Actions that hand the lead to sales: never for a lead that fails a requirement.
SALES_ACTIONS: frozenset[str] = frozenset({"contact", "retry_contact", "create_deal"})
# Actions kept for a contact past SQL (opportunity, customer, evangelist): forward only.
PAST_SQL_ACTIONS: frozenset[str] = frozenset({"recheck", "none"})
MARKETING_STAGES: frozenset[str] = frozenset({"subscriber", "lead", "marketingqualifiedlead"})
SQL_STAGE = "salesqualifiedlead"
PAST_SQL_STAGES: frozenset[str] = frozenset({"opportunity", "customer", "evangelist"})
OTHER_STAGE = "other"
# The stages as HubSpot names them (the German catalogue has HubSpot's German names).
STAGE_NAMES: dict[str, str] = {
    "subscriber": N_("Subscriber"),
    "lead": N_("Lead"),
    "marketingqualifiedlead": N_("Marketing Qualified Lead"),
    "salesqualifiedlead": N_("Sales Qualified Lead"),
    "opportunity": N_("Opportunity"),
    "customer": N_("Customer"),
    "evangelist": N_("Evangelist"),
    OTHER_STAGE: N_("Other"),
}


def stage_name(stage: str, lang: Language = ENGLISH) -> str:
    """A stage's name for people in `lang` ("Sales Qualified Lead"; a stage of no
    catalogue as it is)."""
    name = STAGE_NAMES.get(stage)
    return stage if name is None else lang.gettext(name)


# The setting that holds each action's period (how long after scoring it is due).
PERIOD_FIELDS: dict[str, str] = {
    "contact": "contact_within",
    "retry_contact": "retry_after",
    "create_deal": "deal_within",
    "recheck": "recheck_after",
}

# HubSpot's default lead statuses → the next action each one leads to.
DEFAULT_STATUSES: dict[str, ActionType] = {
    "NEW": "contact",
    "OPEN": "contact",
    "ATTEMPTED_TO_CONTACT": "retry_contact",
    "CONNECTED": "none",
    "IN_PROGRESS": "none",
    "OPEN_DEAL": "create_deal",
    "BAD_TIMING": "recheck",
    "UNQUALIFIED": "none",
}
# What each default status means (the source's words; OPEN and CONNECTED are HubSpot's).
STATUS_MEANINGS: dict[str, str] = {
    "NEW": N_("new in the sales queue, not contacted yet"),
    "OPEN": N_("open, not contacted yet (as NEW)"),
    "ATTEMPTED_TO_CONTACT": N_("tried, not reached yet"),
    "CONNECTED": N_("the rep reached the lead; the rep owns the next step"),
    "IN_PROGRESS": N_("a conversation is under way; the rep owns the next step"),
    "OPEN_DEAL": N_("a deal is created automatically"),
    "BAD_TIMING": N_("back to nurturing, and a later re-check"),
    "UNQUALIFIED": N_("out of the sales queue"),
}
# What each action asks for, in words (the alignment sheet and the README use these).
ACTION_MEANINGS: dict[ActionType, str] = {
    "contact": N_("contact the lead (first contact, within the service level)"),
    "retry_contact": N_("try to reach the lead again"),
    "create_deal": N_("create the deal, associated with the contact"),
    "nurture": N_("marketing nurtures the lead (no sales task, no due time)"),
    "recheck": N_("back to nurturing; sales re-checks the lead later"),
    "none": N_("no action from scoring"),
}
# How a reason names an action that is not taken: "no first contact (forward only)".
_NOT_TAKEN: dict[str, str] = {
    "contact": N_("first contact"),
    "retry_contact": N_("new contact attempt"),
    "create_deal": N_("new deal"),
    "nurture": N_("nurturing"),
    "recheck": N_("re-check"),
    "none": N_("action"),
}
# How a reason names an action that has a due time: "contact within 4 h", "try again in 2 d",
# and one due at once: "contact at once".
_DUE_WORDS: dict[str, str] = {
    "contact": N_("contact within %(period)s"),
    "retry_contact": N_("try again in %(period)s"),
    "create_deal": N_("create the deal within %(period)s"),
    "recheck": N_("re-check in %(period)s"),
}
_DUE_AT_ONCE: dict[str, str] = {
    "contact": N_("contact at once"),
    "retry_contact": N_("try again at once"),
    "create_deal": N_("create the deal at once"),
    "recheck": N_("re-check at once"),
}
# A duration's units as a reason writes them ("1 d 12 h").
_UNITS = {"d": N_("d"), "h": N_("h"), "min": N_("min"), "s": N_("s")}

_NS_PER_SECOND = 1_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LAST_NS = np.iinfo(np.int64).max
_FEW = 64  # rows formatted one by one (see `_due_text`)
_ISO = re.compile(
    r"^P(?!$)(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
_SHORT = re.compile(r"^(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>w|d|h|m|min|s)$")
_SHORT_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "min": "minutes"}
DURATION_EXPECTED = (
    "a duration: ISO 8601 such as PT4H, P2D or P1DT12H, or a short form such as 4h, 2d, "
    "30m, 90s, 1w (months and years have no fixed length: use days)"
)


def parse_duration(value: Any) -> timedelta:
    """A duration from ISO 8601 (`PT4H`, `P2D`, `P1DT12H`, `P2W`) or a short form (`4h`,
    `2d`, `30m`, `90s`, `1w`); anything else (a bare number, `P1M`, `-2d`) is a
    `ValueError` saying what is expected."""
    if isinstance(value, timedelta) and value >= timedelta(0):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected {DURATION_EXPECTED}, got {value!r}")
    text = value.strip()
    iso = _ISO.fullmatch(text.upper())
    if iso:
        parts = {k: float(v) for k, v in iso.groupdict().items() if v is not None}
        return timedelta(**parts)
    short = _SHORT.fullmatch(text.lower())
    if short:
        unit = _SHORT_UNITS.get(short["unit"], "seconds")
        return timedelta(**{unit: float(short["number"])})
    raise ValueError(f"expected {DURATION_EXPECTED}, got {value!r}")


def iso_duration(value: timedelta) -> str:
    """A duration as ISO 8601 in days, hours, minutes and seconds: `P2D`, `PT4H`, `PT0S`."""
    seconds = value.total_seconds()
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, rest = divmod(rest, 60)
    day_part = f"{int(days)}D" if days else ""
    time_part = "".join(
        f"{number}{unit}"
        for number, unit in (
            (f"{int(hours)}" if hours else "", "H"),
            (f"{int(minutes)}" if minutes else "", "M"),
            (f"{rest:g}" if rest else "", "S"),
        )
        if number
    )
    if not day_part and not time_part:
        return "PT0S"
    return f"P{day_part}" + (f"T{time_part}" if time_part else "")


def words(value: timedelta, lang: Language = ENGLISH) -> str:
    """A duration as a rep reads it: `4 h`, `2 d`, `1 d 12 h`, `30 min`, `at once`."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return lang.gettext(N_("at once"))
    parts = []
    for size, unit in ((86_400, "d"), (3_600, "h"), (60, "min"), (1, "s")):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {lang.gettext(_UNITS[unit])}")
    return " ".join(parts)


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(iso_duration, return_type=str),
    WithJsonSchema({"type": "string", "description": DURATION_EXPECTED}),
]


def status_key(value: Any) -> str:
    """A lead status as the mapping keys it: upper case, spaces and hyphens as `_`
    (`"Attempted to contact"` and `ATTEMPTED_TO_CONTACT` are one status)."""
    return "_".join(re.split(r"[\s\-_]+", str(value).strip().upper()))


class UnknownStatusError(CoercionError):
    """A lead status that is not in the mapping (`Actions.statuses`). `row`: the lead's
    position in its batch, so the caller can name it."""

    def __init__(self, column: str, value: Any, allowed: Sequence[str], row: int) -> None:
        self.row = row
        super().__init__(
            column,
            value,
            f"a lead status, one of {', '.join(allowed)} (add others under actions.statuses "
            "in the training config)",
        )


@dataclass(frozen=True, slots=True)
class StatusAction:
    """One row of `Actions.describe`: a lead status, the action it leads to and when."""

    status: str
    action: ActionType
    due: timedelta | None  # after the moment of scoring; None: no due time
    meaning: str


class Actions(BaseModel):
    """The next-action rules (the training config's `actions:`), saved in the policy.

    Durations count from the moment of scoring. `statuses` adds to or overrides HubSpot's
    default mapping (`DEFAULT_STATUSES`); keys are read ignoring case, spaces and hyphens.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    contact_within: Duration = Field(
        timedelta(hours=4), description="service level: first contact of an SQL (NEW, OPEN)"
    )
    retry_after: Duration = Field(
        timedelta(days=2), description="ATTEMPTED_TO_CONTACT: try again this long after"
    )
    deal_within: Duration = Field(
        timedelta(0), description="OPEN_DEAL: the deal is created within this (0: at once)"
    )
    recheck_after: Duration = Field(
        timedelta(days=90), description="BAD_TIMING: back to nurturing, re-checked after this"
    )
    statuses: dict[str, ActionType] = Field(
        default_factory=lambda: dict(DEFAULT_STATUSES),
        description="lead status → next action, on top of HubSpot's defaults",
    )

    @field_validator("statuses", mode="before")
    @classmethod
    def _on_top_of_defaults(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value  # pydantic names the type error
        merged: dict[str, Any] = dict(DEFAULT_STATUSES)
        given: dict[str, str] = {}
        for status, action in value.items():
            key = status_key(status)
            if not key:
                raise ValueError("a lead status must not be empty")
            if key in given and given[key] != str(status):
                raise ValueError(
                    f"{given[key]!r} and {status!r} are one status (read ignoring case, "
                    "spaces and hyphens): list it once"
                )
            given[key] = str(status)
            merged[key] = action
        return merged

    def period(self, action: str) -> timedelta | None:
        """How long after scoring an action is due (None: it has no due time)."""
        field = PERIOD_FIELDS.get(action)
        return None if field is None else getattr(self, field)

    def describe(self) -> list[StatusAction]:
        """Each lead status with its next action, due time and meaning (in mapping order)."""
        return [
            StatusAction(
                status,
                action,
                self.period(action),
                STATUS_MEANINGS.get(status, f"{ACTION_MEANINGS[action]} (configured)"),
            )
            for status, action in self.statuses.items()
        ]

    def next_actions(
        self,
        stage: Sequence[Any] | np.ndarray,
        status: Sequence[Any] | np.ndarray,
        rule: Sequence[Any] | np.ndarray,
        as_of: AsOf,
        status_column: str = "hs_lead_status",
        rule_detail: Sequence[Any] | np.ndarray | None = None,
        lang: Language = ENGLISH,
    ) -> dict[str, np.ndarray]:
        """The next action of each lead of a batch: `Policy.decide`'s recommended stage,
        lead status (None: none) and rule (with its `rule_detail`), and the moment(s) of
        scoring. Returns object arrays `next_action`, `next_action_due` (ISO 8601 UTC
        text, None without a due time) and `next_action_detail` (in `lang`).

        A status not in `statuses` raises `UnknownStatusError` naming `status_column`.
        """
        n = len(stage)
        details = [None] * n if rule_detail is None else rule_detail
        table: dict[tuple[Any, Any, Any, Any], tuple[ActionType, int, str]] = {}
        kinds = np.empty(n, dtype=object)
        offsets = np.empty(n, dtype=np.int64)
        texts = np.empty(n, dtype=object)
        for i, (s, st, r, d) in enumerate(zip(stage, status, rule, details, strict=True)):
            key = (s, st, r, d if r == "requirement_failed" else None)
            found = table.get(key)
            if found is None:
                found = table[key] = self._one(*key, status_column, i, lang)
            kinds[i], offsets[i], texts[i] = found
        return {
            "next_action": kinds,
            "next_action_due": _due_text(as_of.rows(n), offsets),
            "next_action_detail": texts,
        }

    def _one(
        self,
        stage: Any,
        status: Any,
        rule: Any,
        rule_detail: Any,
        column: str,
        row: int,
        lang: Language = ENGLISH,
    ) -> tuple[ActionType, int, str]:
        """(action, ns after scoring or -1 for no due time, reason) of one combination."""
        action: ActionType
        say, text = lang.format, lang.gettext
        if stage == OTHER_STAGE:
            never = N_("stage other (competitor, partner, employee): never a prospect")
            return "none", -1, text(never)
        # English names a stage by its code, other languages by its name
        shown = stage if lang.is_source else stage_name(stage, lang)
        if status is None:
            if stage == SQL_STAGE:
                action, reason = "contact", text(N_("an SQL without a lead status"))
            elif stage in MARKETING_STAGES:
                action = "nurture"
                nurtured = N_("stage %(stage)s, no sales status: marketing nurtures it")
                reason = say(nurtured, stage=shown)
            else:
                action = "none"
                reason = say(N_("stage %(stage)s is never changed by scoring"), stage=shown)
        else:
            key = status_key(status)
            mapped = self.statuses.get(key)
            if mapped is None:
                raise UnknownStatusError(column, status, list(self.statuses), row)
            meaning = STATUS_MEANINGS.get(key, ACTION_MEANINGS[mapped])
            action, reason = mapped, f"{status}: {text(meaning)}"
        if stage in PAST_SQL_STAGES and action not in PAST_SQL_ACTIONS:
            return (
                "none",
                -1,
                say(
                    N_("stage %(stage)s is past SQL: no %(action)s (forward only)"),
                    stage=shown,
                    action=text(_NOT_TAKEN[action]),
                ),
            )
        if rule == "requirement_failed" and action in SALES_ACTIONS:
            why = rule_detail or text(N_("fails a requirement"))
            return (
                "none",
                -1,
                say(
                    N_("%(why)s: not handed to sales (no %(action)s)"),
                    why=why,
                    action=text(_NOT_TAKEN[action]),
                ),
            )
        period = self.period(action)
        if period is None:
            return action, -1, reason
        if int(period.total_seconds()) == 0:  # as `words` says "at once"
            when = text(_DUE_AT_ONCE[action])
        else:
            when = say(_DUE_WORDS[action], period=words(period, lang))
        return action, _ns(period), f"{reason}; {when}"


def _ns(period: timedelta) -> int:
    """A timedelta as whole nanoseconds (exact for the microseconds it holds)."""
    return (period.days * 86_400 + period.seconds) * _NS_PER_SECOND + period.microseconds * 1000


def _due_text(moments: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Moment + offset as ISO 8601 UTC text, as `features.timestamps.iso` writes it
    (`2026-07-01T04:00:00Z`, milliseconds only when there are some); None where the offset
    is negative (no due time). A few rows (the service's) are formatted one by one: numpy's
    formatting costs more than scoring a lead."""
    out = np.empty(len(offsets), dtype=object)
    if len(offsets) <= _FEW:
        out[:] = [
            None if o < 0 else _iso(m + o)
            for m, o in zip(moments.tolist(), offsets.tolist(), strict=True)
        ]
        return out
    due = offsets >= 0
    if not due.any():
        return out
    # past datetime64[ns]'s last day (2262) only in Python's arithmetic
    wraps = due & (moments > _LAST_NS - np.maximum(offsets, 0))
    fits = due & ~wraps
    stamps = moments[fits] + offsets[fits]
    text = np.datetime_as_string(stamps.astype("datetime64[ns]"), unit="s", timezone="UTC")
    text = text.astype(object)
    fraction = stamps % _NS_PER_SECOND >= 1000  # microseconds: written with milliseconds
    if fraction.any():
        text[fraction] = np.datetime_as_string(
            stamps[fraction].astype("datetime64[ns]"), unit="ms", timezone="UTC"
        ).astype(object)
    out[fits] = text
    if wraps.any():
        out[wraps] = [
            _iso(int(m) + int(o)) for m, o in zip(moments[wraps], offsets[wraps], strict=True)
        ]
    return out


def _iso(ns: int) -> str:
    """ns since the epoch (any size) → ISO 8601 UTC text, as `features.timestamps.iso`."""
    moment = _EPOCH + timedelta(microseconds=ns // 1000)
    text = moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")
