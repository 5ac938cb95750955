"""Records in, results out: the one place serving calls the scorer.

`score_leads` asks the bundle's no-pandas path (`Scorer.results`) for one
`models.contract.LeadScore` per lead: scores always; grades, recommendation and (with
`explain`) reasons when the bundle has a decision layer. `lead_result` is the API's view
of one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from features.coerce import CoercionError, to_category
from features.events import INLINE_EVENTS
from features.timestamps import AsOf
from models.contract import GroupReasons, LeadScore, Scorer
from serving.schemas import LeadResult


def has_decision_layer(scorer: Scorer) -> bool:
    """Whether the scorer can grade, recommend and explain (a bundle trained with a policy)."""
    return scorer.policy is not None


def score_leads(
    scorer: Scorer,
    records: Sequence[Mapping[str, Any]],
    explain: bool = False,
    k: int = 3,
    as_of: AsOf | None = None,
    lang: str = "en",
) -> list[LeadScore]:
    """One result per record, in order: probability (0–1), fit and interest (0–100), and with
    the decision layer the grades, the recommendation and (explain) the reasons, worded in
    `lang`.

    Features are computed as of `as_of` (default: now); a lead's inline `events` rebuild
    its activity properties. Raises `CoercionError` (naming the property and the expected
    type; `FutureTimestampError` for a time after `as_of`) for a value the spec cannot read.
    """
    explain = explain and has_decision_layer(scorer)
    return scorer.results(records, explain=explain, k=k, as_of=as_of, lang=lang)


def inline_events(records: Sequence[Mapping[str, Any]]) -> int:
    """How many events the leads send inline (work to weigh, see `LeadScoring.run`)."""
    return sum(len(sent) for r in records if isinstance(sent := r.get(INLINE_EVENTS), list))


def lead_id(record: Mapping[str, Any], id_column: str, missing: frozenset[str]) -> str | None:
    """The lead's id property (the spec's id column, else `id`) as text."""
    value = record.get(id_column)
    column = id_column
    if value is None and "id" in record:
        value, column = record["id"], "id"
    try:
        return to_category(value, column, missing)
    except CoercionError:
        raise CoercionError(column, value, "an id (a string or a number)") from None


def lead_result(lead: str | None, out: LeadScore) -> LeadResult:
    """The API's view of one scored lead."""
    data: dict[str, Any] = {
        "id": lead,
        "probability": out.probability,
        "score": 100.0 * out.probability,
        "fit": {"score": out.fit, "grade": out.fit_grade},
        "interest": {"score": out.interest, "grade": out.interest_grade},
        "recommendation": None if out.decision is None else out.decision.record(),
        "reasons": None
        if out.reasons is None
        else {group: _group_reasons(reasons) for group, reasons in out.reasons.items()},
    }
    try:
        return LeadResult.model_validate(data)
    except ValidationError as error:
        # Not the client's fault: never let it surface as a 400.
        raise RuntimeError(f"scorer output does not match the response schema: {error}") from None


def _group_reasons(reasons: GroupReasons) -> dict[str, Any]:
    return {
        sign: [
            {
                "feature": f.feature,
                "label": f.label,
                "value": f.value,
                "effect": f.effect,
                "text": f.text,
            }
            for f in factors
        ]
        for sign, factors in (("positive", reasons.positive), ("negative", reasons.negative))
    }
