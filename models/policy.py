"""The decision layer: grades, thresholds, the requirements catalogue, lifecycle recommendations.

Everything a decision depends on is fitted or read at training time and travels
inside the scorer bundle; nothing is passed at serve time. The rules (DESIGN.md):

- forward only: a contact is never moved to an earlier stage, and `opportunity`,
  `customer`, `evangelist` and `other` are kept as they are;
- the requirements catalogue runs before the scores: an excluded contact becomes
  `other`, one that fails a requirement is never recommended for MQL or SQL;
- a hand-raise (demo request, contact-sales form) from a qualifying lead is an SQL;
- by score, an SQL needs a high probability and fit; an MQL needs fit AND interest;
- a new SQL gets lead status `NEW`; an existing lead status is never overwritten;
- the recommended stage and status lead to a next action with a due time
  (`models.actions`: the policy's `actions`, computed when `decide` is given `as_of`).

A CRM whose stages are not HubSpot's (a Salesforce Lead `Status`) maps its own values
to them in the catalogue's `stages`.

Decisions are vectorised over a batch (numpy), so one lead and a million take the
same code path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, get_args

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from features.build import read_each
from features.coerce import (
    DEFAULT_NUMBERS,
    CoercionError,
    NumberFormat,
    email_domain_type,
    event_name,
    is_missing,
    to_boolean,
    to_category,
    to_number,
)
from features.timestamps import AsOf
from models.actions import Actions, stage_name
from models.i18n import ENGLISH, N_, Language

STAGES: tuple[str, ...] = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
)
OTHER = "other"
MQL, SQL = "marketingqualifiedlead", "salesqualifiedlead"
# Stages the model never changes: sales owns them, or the contact is no prospect.
KEPT = frozenset({"opportunity", "customer", "evangelist", OTHER})
_ORDER = {stage: i for i, stage in enumerate(STAGES)}
# Labels as HubSpot shows them, and common abbreviations, read case-insensitively.
_STAGE_ALIASES = {
    **{s: s for s in (*STAGES, OTHER)},
    "marketing qualified lead": MQL,
    "mql": MQL,
    "sales qualified lead": SQL,
    "sql": SQL,
}
Grade = Literal["A", "B", "C", "D"]
GRADES: tuple[Grade, ...] = get_args(Grade)

Rule = Literal[
    "excluded",
    "requirement_failed",
    "hand_raise",
    "score_sql",
    "score_mql",
    "below_thresholds",
    "already_at_or_past_stage",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(_Strict):
    """One rule of the requirements catalogue, on one raw column.

    Exactly one test: `in` / `not_in` (case-insensitive values, or email domains for
    an email column), `min` / `max` (numbers; HubSpot ranges read as their midpoint),
    `business_email` (not a free-mail domain) or `present`. A missing value fails a
    requirement unless `allow_missing`, and never matches an exclusion.
    """

    name: str = Field(min_length=1, description="shown to the rep when the rule decides")
    column: str = Field(min_length=1)
    in_: list[str] | None = Field(default=None, alias="in")
    not_in: list[str] | None = None
    min: float | None = None
    max: float | None = None
    business_email: bool | None = None
    present: bool | None = None
    allow_missing: bool = False

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        tests = [
            t
            for t in ("in_", "not_in", "min", "max", "business_email", "present")
            if getattr(self, t) is not None
        ]
        if not tests and not (self.min is not None and self.max is not None):
            raise ValueError("give a test: in, not_in, min, max, business_email or present")
        if len(tests) > 1 and set(tests) != {"min", "max"}:
            raise ValueError(f"one test per rule (found {', '.join(tests)}); use two rules")
        return self

    def holds(
        self,
        values: Sequence[Any],
        missing: frozenset[str],
        numbers: NumberFormat = DEFAULT_NUMBERS,
    ) -> np.ndarray:
        """Whether each raw value passes (requirement) / matches (exclusion); `numbers`:
        how the export writes numbers (for `min` / `max`)."""
        return read_each(values, lambda v: self._holds_one(v, missing, numbers)).astype(bool)

    def _holds_one(self, value: Any, missing: frozenset[str], numbers: NumberFormat) -> bool:
        if is_missing(value, missing):
            return False
        if self.present:
            return True
        if self.business_email:
            return email_domain_type(value, self.column, missing) == "business"
        if self.min is not None or self.max is not None:
            number = to_number(value, self.column, missing, numbers)
            return (self.min is None or number >= self.min) and (
                self.max is None or number <= self.max
            )
        text = (to_category(value, self.column, missing) or "").lower()
        domain = text.rsplit("@", 1)[-1]
        listed = {v.lower() for v in (self.in_ or self.not_in or [])}
        found = text in listed or domain in listed
        return found if self.in_ is not None else not found


class HandRaise(_Strict):
    """A column whose value means the lead asked for sales: true, one of `values`, or a
    form (conversion event) name of one of `event_kinds` (`demo request`, `contact sales`:
    read as the spec's `event_name` derivation reads it, so "Request a demo" and
    "Produktdemo anfragen" both count)."""

    column: str = Field(min_length=1)
    values: list[str] | None = None
    event_kinds: list[str] | None = None

    @model_validator(mode="after")
    def _one_way(self) -> HandRaise:
        if self.values is not None and self.event_kinds is not None:
            raise ValueError("give values or event_kinds, not both")
        return self

    def raised(self, values: Sequence[Any], missing: frozenset[str]) -> np.ndarray:
        wanted = {v.lower() for v in self.values} if self.values else None
        kinds = {k.lower() for k in self.event_kinds} if self.event_kinds else None

        def raised(value: Any) -> bool:
            if is_missing(value, missing):
                return False
            if kinds is not None:
                return (event_name(value, self.column, missing) or "") in kinds
            if wanted is not None:
                return (to_category(value, self.column, missing) or "").lower() in wanted
            try:
                return to_boolean(value, self.column, missing) == 1.0
            except CoercionError:
                return False

        return read_each(values, raised).astype(bool)


class Requirements(_Strict):
    """The requirements catalogue: hard rules evaluated before the scores.

    `stages` maps the CRM's own values of `stage_column` to lifecycle stages, e.g. a
    Salesforce Lead `Status`: ``{"Open - Not Contacted": lead, "Closed - Converted":
    opportunity}`` (read case-insensitively; HubSpot's own values need no entry).
    """

    requirements: list[Condition] = Field(default_factory=list)
    exclusions: list[Condition] = Field(default_factory=list)
    hand_raise: list[HandRaise] = Field(default_factory=list)
    stage_column: str = "lifecyclestage"
    status_column: str = "hs_lead_status"
    stages: dict[str, str] = Field(
        default_factory=dict, description="the CRM's value of stage_column → lifecycle stage"
    )

    @model_validator(mode="after")
    def _known_stages(self) -> Requirements:
        for value, stage in self.stages.items():
            if not value.strip():
                raise ValueError("stages: a CRM value to map must not be empty")
            if _hubspot_stage(stage) is None:
                raise ValueError(
                    f"stages: {value!r} maps to {stage!r}, which is not a lifecycle stage "
                    f"({', '.join((*STAGES, OTHER))})"
                )
        keys = [_stage_key(value) for value in self.stages]
        if len(set(keys)) != len(keys):
            raise ValueError("stages: a CRM value is listed twice (values are read ignoring case)")
        return self

    @property
    def stage_map(self) -> dict[str, str]:
        """`stages` by normalised CRM value (see `normalise_stage`)."""
        return {_stage_key(k): str(_hubspot_stage(v)) for k, v in self.stages.items()}

    @property
    def columns(self) -> list[str]:
        """Raw columns the decision reads besides the model's features."""
        return list(
            dict.fromkeys(
                [
                    self.stage_column,
                    self.status_column,
                    *(c.column for c in self.requirements),
                    *(c.column for c in self.exclusions),
                    *(h.column for h in self.hand_raise),
                ]
            )
        )


class Thresholds(_Strict):
    """Cut-offs fitted on the validation slice (scores on 0–100, probability on 0–1)."""

    fit_grade_cuts: list[float] = Field(min_length=3, max_length=3)
    interest_grade_cuts: list[float] = Field(min_length=3, max_length=3)
    sql_probability: float
    sql_min_fit: float
    mql_probability: float
    mql_min_fit: float
    mql_min_interest: float


class Policy(_Strict):
    """Thresholds + requirements catalogue + next-action rules: everything a
    recommendation needs. A bundle saved before `actions` existed loads with the
    default rules."""

    thresholds: Thresholds
    requirements: Requirements = Field(default_factory=Requirements)
    notes: list[str] = Field(default_factory=list, description="what fitting had to give up")
    numbers: NumberFormat = Field(
        default=DEFAULT_NUMBERS, description="how the export writes numbers (the spec's csv)"
    )
    actions: Actions = Field(
        default_factory=Actions, description="lead status → next action, and when it is due"
    )

    def decide(
        self,
        columns: Mapping[str, Sequence[Any]],
        scores: Mapping[str, np.ndarray],
        missing: frozenset[str],
        fresh: bool = False,
        as_of: AsOf | None = None,
        lang: Language = ENGLISH,
    ) -> dict[str, Any]:
        """Recommendations for a batch (details and next actions worded in `lang`).

        `columns` maps each raw column in `requirements.columns` to the batch's values
        (an absent column means missing values); `scores` holds probability (0–1),
        fit and interest (0–100). With `fresh`, every lead is treated as a new
        `lead` without status (used to evaluate thresholds on history).
        Returns arrays: fit_grade, interest_grade, lifecyclestage, hs_lead_status,
        changed, rule, detail; with `as_of` (the moment of scoring) also next_action,
        next_action_due and next_action_detail (`Actions.next_actions`: a lead status
        not in `actions.statuses` raises `UnknownStatusError`).
        """
        t = self.thresholds
        req = self.requirements
        n = len(scores["probability"])
        blank: list[Any] = [None] * n

        def column(name: str) -> Sequence[Any]:
            values = columns.get(name)
            return blank if values is None else values

        if fresh:
            current = np.full(n, "lead", dtype=object)
            status: np.ndarray = np.full(n, None, dtype=object)
        else:
            stage_map = req.stage_map
            current = read_each(
                column(req.stage_column),
                lambda v: normalise_stage(v, req.stage_column, missing, stage_map),
            )
            status = read_each(
                column(req.status_column),
                lambda v: None if is_missing(v, missing) else str(v).strip(),
            )

        probability = np.asarray(scores["probability"], dtype=np.float64)
        fit = np.asarray(scores["fit"], dtype=np.float64)
        interest = np.asarray(scores["interest"], dtype=np.float64)

        target = np.full(n, None, dtype=object)
        rule = np.full(n, "below_thresholds", dtype=object)
        below = lang.gettext(N_("scores below the MQL and SQL thresholds"))
        detail = np.full(n, below, dtype=object)
        number = lang.number

        def named(stage: str) -> str:  # English details name a stage by its code
            return stage if lang.is_source else stage_name(stage, lang)

        decided = np.zeros(n, dtype=bool)

        def settle(mask: np.ndarray, stage: str | None, why: str, text: str | np.ndarray) -> None:
            mask = mask & ~decided
            target[mask] = stage
            rule[mask] = why
            detail[mask] = text if isinstance(text, str) else text[mask]
            decided[mask] = True

        kept = np.isin(current, list(KEPT))
        kept_detail = np.empty(n, dtype=object)
        kept_detail[kept] = [
            lang.format(N_("stage %(stage)s is never changed by scoring"), stage=repr(named(c)))
            for c in current[kept]
        ]
        settle(kept, None, "already_at_or_past_stage", kept_detail)
        for condition in req.exclusions:
            settle(
                condition.holds(column(condition.column), missing, self.numbers),
                OTHER,
                "excluded",
                lang.format(N_("excluded by %(name)s"), name=repr(condition.name)),
            )
        for condition in req.requirements:
            passes = condition.holds(column(condition.column), missing, self.numbers)
            if condition.allow_missing:
                passes |= read_each(
                    column(condition.column), lambda v: is_missing(v, missing)
                ).astype(bool)
            settle(
                ~passes,
                None,
                "requirement_failed",
                lang.format(N_("fails requirement %(name)s"), name=repr(condition.name)),
            )
        raised = np.zeros(n, dtype=bool)
        for hand in req.hand_raise:
            raised |= hand.raised(column(hand.column), missing)
        settle(raised, SQL, "hand_raise", lang.gettext(N_("asked for sales (hand-raise)")))
        settle(
            (probability >= t.sql_probability) & (fit >= t.sql_min_fit),
            SQL,
            "score_sql",
            lang.format(
                N_("probability ≥ %(probability)s and fit ≥ %(fit)s"),
                probability=number(f"{t.sql_probability:.3f}"),
                fit=number(f"{t.sql_min_fit:.1f}"),
            ),
        )
        settle(
            (probability >= t.mql_probability)
            & (fit >= t.mql_min_fit)
            & (interest >= t.mql_min_interest),
            MQL,
            "score_mql",
            lang.format(
                N_("probability ≥ %(probability)s, fit ≥ %(fit)s and interest ≥ %(interest)s"),
                probability=number(f"{t.mql_probability:.3f}"),
                fit=number(f"{t.mql_min_fit:.1f}"),
                interest=number(f"{t.mql_min_interest:.1f}"),
            ),
        )

        targeted = target != None  # noqa: E711 (elementwise on an object array)
        forward = targeted & (target == OTHER)
        forward[targeted] |= _rank(target[targeted]) > _rank(current[targeted])
        recommended = current.copy()
        recommended[forward] = target[forward]
        behind = targeted & ~forward
        rule[behind] = "already_at_or_past_stage"
        detail[behind] = [
            lang.format(
                N_("already %(stage)s (would be %(target)s)"), stage=named(c), target=named(t)
            )
            for c, t in zip(current[behind], target[behind], strict=True)
        ]
        new_sql = (recommended == SQL) & (current != SQL)
        new_status = status.copy()
        new_status[new_sql & (status == None)] = "NEW"  # noqa: E711
        changed = (recommended != current) | (new_status != status)
        out: dict[str, Any] = {
            "fit_grade": grade(fit, t.fit_grade_cuts),
            "interest_grade": grade(interest, t.interest_grade_cuts),
            "lifecyclestage": recommended,
            "hs_lead_status": new_status,
            "changed": changed,
            "rule": rule,
            "detail": detail,
        }
        if as_of is not None:
            out.update(
                self.actions.next_actions(
                    recommended, new_status, rule, as_of, req.status_column, detail, lang
                )
            )
        return out


def _rank(stages: np.ndarray) -> np.ndarray:
    """Position of each stage in the lifecycle (`other` ranks as -1: never a target here)."""
    return np.fromiter((_ORDER.get(s, -1) for s in stages), dtype=np.intp, count=len(stages))


def _stage_key(value: Any) -> str:
    return " ".join(str(value).strip().lower().split())


def _hubspot_stage(value: Any) -> str | None:
    """A HubSpot lifecycle stage by its internal value or label, case-insensitively."""
    key = _stage_key(str(value).replace("_", " "))
    return _STAGE_ALIASES.get(key) or _STAGE_ALIASES.get(key.replace(" ", ""))


def normalise_stage(
    value: Any, column: str, missing: frozenset[str], stages: Mapping[str, str] | None = None
) -> str:
    """A lifecycle stage: the CRM's own value mapped by `stages` (normalised keys, see
    `Requirements.stage_map`), else a HubSpot stage, case-insensitively; missing means
    `lead`."""
    if is_missing(value, missing):
        return "lead"
    stage = (stages or {}).get(_stage_key(value)) or _hubspot_stage(value)
    if stage is None:
        expected = f"a HubSpot lifecycle stage ({', '.join((*STAGES, OTHER))})"
        if stages:
            expected = (
                f"a lifecycle stage: one of decision.catalogue.stages "
                f"({', '.join(map(repr, stages))}) or {expected.removeprefix('a ')}"
            )
        else:
            expected += "; map the CRM's own values in decision.catalogue.stages"
        raise CoercionError(column, value, expected)
    return stage


def grade(scores: np.ndarray, cuts: Sequence[float]) -> np.ndarray:
    """A (best) to D from descending cut-offs [A≥, B≥, C≥]."""
    index = np.full(len(scores), 3)
    for g in (2, 1, 0):
        index[np.asarray(scores) >= cuts[g]] = g
    return np.asarray(GRADES, dtype=object)[index]
