"""The service's scoring log, for `leadscore monitor`: BentoML's own monitoring facility.

With `LEADSCORE_SCORING_LOG=true` every scored lead is written through
`bentoml.monitor("leadscore_scores")`: with BentoML's default monitoring settings one JSON
object a line in `monitoring/leadscore_scores/data/data.<worker>.log` under the server's
working directory (rotated daily), or to an OTLP collector when BentoML's `monitoring`
configuration says so. A line holds the lead's CRM id, the moment it was scored as of,
the probability, fit and interest, the recommended stage and the model version: no
property values (personal data stays in the CRM). `leadscore monitor --scores
monitoring/leadscore_scores` reads those files as it reads `leadscore score`'s output.
"""

from __future__ import annotations

from collections.abc import Sequence

from models.contract import LeadScore

MONITOR_NAME = "leadscore_scores"


def log_scores(
    ids: Sequence[str | None],
    outs: Sequence[LeadScore],
    id_column: str,
    version: str | None,
    as_of: str,
) -> None:
    """One monitoring record per scored lead (ids, scores, decision; never properties)."""
    import bentoml

    for lead, out in zip(ids, outs, strict=True):
        stage = out.decision.stage if out.decision is not None else None
        with bentoml.monitor(MONITOR_NAME) as mon:
            mon.log(lead, name=id_column, role="feature", data_type="categorical")
            mon.log(as_of, name="as_of", role="feature", data_type="categorical")
            for score in ("probability", "fit", "interest"):
                mon.log(
                    float(getattr(out, score)), name=score, role="prediction", data_type="numerical"
                )
            mon.log(
                stage,
                name="recommended_stage",
                role="prediction",
                data_type="categorical",
            )
            mon.log(version, name="model_version", role="feature", data_type="categorical")
