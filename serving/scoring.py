"""Records in, results out: the one place serving calls the scorer.

`score_leads` is the adapter to the decision layer: with `LeadScorer.recommend_records`
(grades, lifecycle recommendation and reasons) it uses that, otherwise it serves the
scores of `LeadScorer.score_records` alone. Both are the bundle's no-pandas path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from features.coerce import CoercionError, to_category
from features.events import INLINE_EVENTS
from features.timestamps import AsOf
from serving.schemas import LeadResult


def has_decision_layer(scorer: Any) -> bool:
    """Whether the scorer can grade, recommend and explain (a bundle trained with a policy)."""
    return (
        callable(getattr(scorer, "recommend_records", None))
        and getattr(scorer, "policy", True) is not None
    )


def score_leads(
    scorer: Any,
    records: Sequence[Mapping[str, Any]],
    explain: bool = False,
    k: int = 3,
    as_of: AsOf | None = None,
) -> list[dict[str, Any]]:
    """One dict per record, in order: probability (0–1), fit and interest (0–100), and with
    the decision layer fit_grade, interest_grade, recommendation and (explain) reasons.

    Features are computed as of `as_of` (default: now); a lead's inline `events` rebuild
    its activity properties. Raises `CoercionError` (naming the property and the expected
    type; `FutureTimestampError` for a time after `as_of`) for a value the spec cannot read.
    """
    if has_decision_layer(scorer):
        return list(scorer.recommend_records(records, explain=explain, k=k, as_of=as_of))
    return list(scorer.score_records(records, as_of=as_of))


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


def lead_result(lead: str | None, out: Mapping[str, Any]) -> LeadResult:
    """The API's view of one scored lead."""
    probability = float(out["probability"])
    data: dict[str, Any] = {
        "id": lead,
        "probability": probability,
        "score": 100.0 * probability,
        "fit": {"score": out["fit"], "grade": out.get("fit_grade")},
        "interest": {"score": out["interest"], "grade": out.get("interest_grade")},
        "recommendation": out.get("recommendation"),
        "reasons": out.get("reasons"),
    }
    try:
        return LeadResult.model_validate(data)
    except ValidationError as error:
        # Not the client's fault: never let it surface as a 400.
        raise RuntimeError(f"scorer output does not match the response schema: {error}") from None
