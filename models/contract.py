"""The scoring contract: what scoring a lead answers, in one vocabulary, and the `Scorer` protocol.

A `LeadScore` holds the probability, fit and interest with their grades, the decision
with the rule that made it, and (when explained) the factors of each score as data:
feature, column, label, the lead's value, the effect in score points and its direction,
and the bare phrase a rep reads ("Seniority: VP"). Everything else is derived from it:

- the records path (`LeadScorer.results`, the service's hot path) builds `LeadScore`
  objects; `LeadScore.record()` is the JSON-able dict `recommend_records` returns;
- the batch path (`LeadScorer.score`, column-wise: no object per lead) names and types
  its columns by `SCORE_COLUMNS`, `GRADE_COLUMNS`, `DECISION_COLUMNS` and
  `REASON_COLUMNS`, which the pyfunc's output signature reads too;
- the API schema (serving/schemas.py) and the HubSpot write-back read `LeadScore`.

`DECISION_COLUMNS` is the one place that ties each field of the decision to the key
`Policy.decide` (and the API) calls it and to its batch column: `Decision.stage` is
`lifecyclestage` there and `recommended_stage` in a scored file. `ACTION_COLUMNS` does the
same for the decision's `NextAction` (`models/actions.py`): its type is the batch column
`next_action`, its due time (ISO 8601, UTC) `next_action_due`.

The classes are plain slotted dataclasses, not frozen ones: a frozen dataclass takes
five times as long to build, and the records path builds one `Factor` per reason.
Treat them as values all the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from features.spec import DatasetSpec
from features.timestamps import AsOf
from models.actions import ActionType
from models.i18n import SOURCE, language
from models.phrasing import sentence
from models.policy import Grade, Policy, Rule

Group = Literal["fit", "interest"]
GROUPS: tuple[Group, ...] = ("fit", "interest")
Direction = Literal["raises", "lowers"]
Value = str | int | float | None


def direction_of(effect: float) -> Direction:
    """Which way a factor moved its score: a positive effect raises it."""
    return "raises" if effect > 0 else "lowers"


@dataclass(slots=True)
class Factor:
    """One feature that moved a score, and the lead's value that moved it."""

    group: Group
    feature: str
    column: str  # the raw column the feature is read from
    label: str
    value: Value  # the lead's value as a rep reads it (None: missing)
    effect: float  # score points (0–100 scale); positive raises the score
    phrase: str  # the feature and value in words, without the direction
    lang: str = SOURCE  # the language of `phrase` and `text`

    @property
    def direction(self) -> Direction:
        return direction_of(self.effect)

    @property
    def text(self) -> str:
        """The factor as a sentence: "Seniority: VP — raises fit"."""
        return sentence(self.phrase, self.direction, self.group, language(self.lang))

    def record(self) -> dict[str, Any]:
        effect = self.effect
        return {
            "feature": self.feature,
            "column": self.column,
            "label": self.label,
            "value": self.value,
            "effect": effect,
            "text": sentence(
                self.phrase,
                "raises" if effect > 0 else "lowers",
                self.group,
                language(self.lang),
            ),
        }


@dataclass(slots=True)
class GroupReasons:
    """Why a fit or interest score is what it is: baseline + Σ effects = score."""

    score: float
    baseline: float
    positive: list[Factor]  # largest effect first
    negative: list[Factor]  # largest |effect| first

    def record(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "baseline": self.baseline,
            "positive": [f.record() for f in self.positive],
            "negative": [f.record() for f in self.negative],
        }


@dataclass(slots=True)
class Column:
    """A column of the batch output (`LeadScorer.score`, the pyfunc's signature): its name,
    its type (an MLflow `DataType` name) and whether every row has a value; a decision's
    column also names the `Decision` (or `LeadScore`) field it holds and that field's key
    in `Policy.decide`'s result and in the API."""

    name: str
    dtype: str = "string"
    required: bool = True
    field: str = ""
    key: str = ""


SCORE_COLUMNS: tuple[Column, ...] = tuple(
    Column(name, "double") for name in ("probability", "fit", "interest")
)
GRADE_COLUMNS: tuple[Column, ...] = tuple(
    Column(f"{g}_grade", field=f"{g}_grade", key=f"{g}_grade") for g in GROUPS
)
DECISION_COLUMNS: tuple[Column, ...] = (
    Column("recommended_stage", field="stage", key="lifecyclestage"),
    Column("lead_status", required=False, field="lead_status", key="hs_lead_status"),
    Column("changed", "boolean", field="changed", key="changed"),
    Column("rule", field="rule", key="rule"),
    Column("rule_detail", field="detail", key="detail"),
)
# The decision's next action: `Policy.decide`'s keys (given `as_of`) and the batch columns.
ACTION_COLUMNS: tuple[Column, ...] = (
    Column("next_action", field="type", key="next_action"),
    Column("next_action_due", required=False, field="due", key="next_action_due"),
)
ACTION_DETAIL_KEY = "next_action_detail"
REASON_COLUMNS: dict[str, Column] = {g: Column(f"{g}_reasons", required=False) for g in GROUPS}


def batch_columns(id_column: str | None, policy: bool, reasons: bool) -> list[Column]:
    """The batch output's columns in their order: the id (None: without one), the scores,
    with a policy the grades, decision and next action, the reasons when asked."""
    columns = [Column(id_column, required=False)] if id_column is not None else []
    columns += SCORE_COLUMNS
    if policy:
        columns += [*GRADE_COLUMNS, *DECISION_COLUMNS, *ACTION_COLUMNS]
    if reasons:
        columns += REASON_COLUMNS.values()
    return columns


def _value(column: Column, value: Any) -> Any:
    """A value of `Policy.decide`'s arrays as the contract holds it."""
    if column.dtype == "boolean":
        return bool(value)
    return str(value) if column.required else value


@dataclass(slots=True)
class NextAction:
    """What the lead's status asks for next (`models.actions`), by when, and why."""

    type: ActionType
    due: str | None  # ISO 8601 UTC ("2026-07-01T04:00:00Z"); None: no due time
    detail: str

    def record(self) -> dict[str, Any]:
        return {"type": self.type, "due": self.due, "detail": self.detail}


@dataclass(slots=True)
class Decision:
    """The recommended lifecycle stage and lead status, the rule that decided, and the
    next action (None only from a decision made without a moment of scoring)."""

    stage: str
    lead_status: str | None
    changed: bool
    rule: Rule
    detail: str
    next_action: NextAction | None = None

    @classmethod
    def of(cls, decided: Mapping[str, Sequence[Any]], i: int) -> Decision:
        """Lead `i` of `Policy.decide`'s arrays."""
        decision = cls(**{c.field: _value(c, decided[c.key][i]) for c in DECISION_COLUMNS})
        if ACTION_DETAIL_KEY in decided:
            decision.next_action = NextAction(
                **{c.field: _value(c, decided[c.key][i]) for c in ACTION_COLUMNS},
                detail=str(decided[ACTION_DETAIL_KEY][i]),
            )
        return decision

    def record(self) -> dict[str, Any]:
        """By the API's names (`Policy.decide`'s keys); `next_action` as {type, due, detail}."""
        out = {c.key: getattr(self, c.field) for c in DECISION_COLUMNS}
        out["next_action"] = None if self.next_action is None else self.next_action.record()
        return out


@dataclass(slots=True)
class LeadScore:
    """What scoring one lead answers.

    probability 0–1; fit and interest 0–100. Grades and decision are None for a model
    without a decision policy; reasons are None unless asked for.
    """

    probability: float
    fit: float
    interest: float
    fit_grade: Grade | None = None
    interest_grade: Grade | None = None
    decision: Decision | None = None
    reasons: Mapping[Group, GroupReasons] | None = None

    def grade(self, group: Group) -> Grade | None:
        return self.fit_grade if group == "fit" else self.interest_grade

    def score(self, group: Group) -> float:
        return self.fit if group == "fit" else self.interest

    def record(self) -> dict[str, Any]:
        """The lead as JSON-able data (what `LeadScorer.recommend_records` returns): the
        scores; with a decision the grades and `recommendation`; with reasons `reasons`."""
        out: dict[str, Any] = {
            "probability": self.probability,
            "fit": self.fit,
            "interest": self.interest,
        }
        if self.decision is not None:
            out["fit_grade"] = self.fit_grade
            out["interest_grade"] = self.interest_grade
            out["recommendation"] = self.decision.record()
        if self.reasons is not None:
            out["reasons"] = {group: r.record() for group, r in self.reasons.items()}
        return out


class Scorer(Protocol):
    """What serving calls on a scorer bundle (`models.scorer.LeadScorer` is one)."""

    spec: DatasetSpec
    metadata: dict[str, Any]
    policy: Policy | None

    def results(
        self,
        records: Sequence[Mapping[str, Any]],
        explain: bool = False,
        k: int = 3,
        as_of: AsOf | None = None,
        lang: str = SOURCE,
    ) -> list[LeadScore]: ...
