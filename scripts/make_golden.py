"""Write the golden scoring fixtures in tests/models/golden/ (run deliberately, not by tests).

    .venv/bin/python scripts/make_golden.py

A small scorer trained on generated point-in-time examples (saved as a bundle: JSON and
LightGBM text), 200 other generated leads as a HubSpot export would send them, and what
the scorer answers for them as of 2026-07-01 on the batch path (DataFrame columns) and
the records path (the service's dicts), reasons included. tests/models/test_golden.py
checks that every path still gives exactly these answers: a refactor of the scoring code
must not change a number, a decision or a reason. Rewrite them only when a change of
behaviour is intended, and say so in the commit.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from features.generate import generate_demo  # noqa: E402
from features.spec import resolve_spec  # noqa: E402
from features.timestamps import AsOf  # noqa: E402
from tests.conftest import as_crm_text, demo_examples  # noqa: E402
from tests.models.test_golden import frame_rows  # noqa: E402
from training.config import TrainConfig  # noqa: E402
from training.train import train_scorer  # noqa: E402

GOLDEN = ROOT / "tests" / "models" / "golden"
AS_OF = "2026-07-01T00:00:00Z"
CONFIG = {
    "booster": {"max_rounds": 60, "early_stopping_rounds": 15, "num_leaves": 7},
    "calibration_folds": 3,
    "decision": {
        "catalogue": {
            "requirements": [
                {
                    "name": "company of 5+ employees",
                    "column": "numemployees",
                    "min": 5,
                    "allow_missing": True,
                }
            ],
            "hand_raise": [
                {
                    "column": "recent_conversion_event_name",
                    "event_kinds": ["demo request", "contact sales"],
                }
            ],
        }
    },
}


def main() -> None:
    spec = resolve_spec("hubspot")
    examples = demo_examples(generate_demo(3000, seed=11), spec)
    scorer = train_scorer(examples, spec, TrainConfig.model_validate(CONFIG)).scorer
    shutil.rmtree(GOLDEN / "bundle", ignore_errors=True)
    scorer.save(GOLDEN / "bundle")
    leads = as_crm_text(generate_demo(200, seed=12).contacts)
    leads = leads[[c for c in leads.columns if not c.startswith("_")]]
    leads.to_csv(GOLDEN / "leads.csv", index=False)
    as_of = AsOf.of(AS_OF)
    batch = scorer.score(leads, reasons=True, k=3, as_of=as_of)
    write_lines(GOLDEN / "batch.jsonl", frame_rows(batch))
    records = [
        {k: v for k, v in row.items() if v == v and v is not None}
        for row in leads.to_dict(orient="records")
    ]
    answers = scorer.recommend_records(records, explain=True, k=3, as_of=as_of)
    write_lines(GOLDEN / "records.jsonl", answers)
    print(f"wrote {GOLDEN}: bundle, {len(leads)} leads, batch.jsonl, records.jsonl")


def write_lines(path: Path, rows: list[dict[str, object]]) -> None:
    """One JSON object a line (a diff shows which lead changed)."""
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


if __name__ == "__main__":
    main()
