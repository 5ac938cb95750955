"""The marketing–sales alignment sheet: one printable page both teams sign.

It gathers what is otherwise spread over the training config, the threshold table and
the model's reasons: the lifecycle stages and who owns them, the MQL and SQL criteria
with the fitted thresholds, the requirements catalogue, the lead statuses with their
next actions and follow-up service levels, the expected weekly volumes and conversion
rates (the test slice of the model's training run, with its dates), the strongest fit
and interest factors, the model's version and training date, and an empty sign-off
block.

Every number on it is a value of the training run's `report.json`: its `thresholds`
section (the fitted policy, and what it does on the test slice) and its `factors`
section (`training.train.overall_factors`). The policy shown is the model's own, put
where the report keeps it, so the page states what the model decides with. Each value
is rendered in an element naming its place in report.json (`data-key`, a JSON Pointer),
so that a test can check the page against the report.

Every word a reader sees is in the template (`templates/alignment.html.j2`), none here,
so that translating the sheet is a matter of the template. Its print stylesheet lays it
out on at most two A4 pages.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from features.jsonable import jsonable
from models.actions import PERIOD_FIELDS, parse_duration
from models.i18n import language
from models.policy import GRADES, MQL, OTHER, SQL, STAGES, Policy
from training.templating import render, translator
from training.thresholds import STAGE_ROWS

log = logging.getLogger(__name__)

# The sheet among a training run's artifacts, and the report it is rendered from.
ARTIFACT = "alignment.html"
RUN_REPORT = "report.json"
# The JSON Pointer of the policy in report.json (training.train puts it there).
POLICY = ("thresholds", "policy")
# The field of the policy's `actions` that holds each action's due time
# (`models.actions.Actions.period`); an action without one has no due time.


class Fact:
    """A value of the document the sheet is rendered from, with its JSON Pointer.

    The template reaches a part by attribute or item (`fact.thresholds`, `fact["in"]`),
    which gives the part's own Fact (a missing part: a Fact of None); a list's Fact
    iterates over its items' Facts. `raw` is the value itself.
    """

    __slots__ = ("pointer", "raw")

    def __init__(self, raw: Any, pointer: str = "") -> None:
        self.raw = raw
        self.pointer = pointer

    def __getitem__(self, part: str | int) -> Fact:
        raw = self.raw
        value: Any = None
        if isinstance(raw, Mapping):
            value = raw.get(str(part))
        elif isinstance(raw, list) and isinstance(part, int) and 0 <= part < len(raw):
            value = raw[part]
        return Fact(value, f"{self.pointer}/{escape_pointer(str(part))}")

    def __iter__(self) -> Iterator[Fact]:
        raw = self.raw if isinstance(self.raw, list) else []
        return (self[i] for i in range(len(raw)))

    def entries(self) -> list[tuple[str, Fact]]:
        """A mapping's (key, Fact) pairs, in order."""
        raw = self.raw if isinstance(self.raw, Mapping) else {}
        return [(str(key), self[str(key)]) for key in raw]

    def __len__(self) -> int:
        return len(self.raw) if isinstance(self.raw, list | Mapping) else 0

    def __bool__(self) -> bool:
        return self.raw is not None and self.raw != [] and self.raw != {}

    def __repr__(self) -> str:
        return f"Fact({self.raw!r}, {self.pointer!r})"


def escape_pointer(part: str) -> str:
    """One reference token of a JSON Pointer (RFC 6901): `~` → `~0`, `/` → `~1`."""
    return part.replace("~", "~0").replace("/", "~1")


def resolve_pointer(document: Any, pointer: str) -> Any:
    """The value at a JSON Pointer (None when a part is missing)."""
    value = document
    for token in pointer.split("/")[1:] if pointer else []:
        part = token.replace("~1", "/").replace("~0", "~")
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


@dataclass(frozen=True)
class SheetModel:
    """Which model the sheet is for: registered name and version, the run that trained
    it, when, and its dataset spec (None: not known)."""

    name: str | None = None
    version: str | None = None
    run_id: str | None = None
    trained_at: str | None = None
    spec: str | None = None


def sheet_document(policy: Policy, report: Mapping[str, Any] | None) -> dict[str, Any]:
    """What the sheet shows, as report.json holds it: the run's report (None: no report,
    e.g. a bundle folder without its run) with the model's own policy in its place."""
    document: dict[str, Any] = jsonable(dict(report or {}))
    thresholds = document.get("thresholds")
    document["thresholds"] = {
        **(thresholds if isinstance(thresholds, Mapping) else {}),
        POLICY[1]: jsonable(policy.model_dump(mode="json", by_alias=True)),
    }
    return document


def stage_owners() -> list[tuple[str, str]]:
    """The lifecycle stages in order with their owner: marketing up to MQL, sales from
    SQL on; `other` is nobody's (never scored into a stage)."""
    handover = STAGES.index(SQL)
    return [(stage, "marketing" if i < handover else "sales") for i, stage in enumerate(STAGES)] + [
        (OTHER, "nobody")
    ]


def grade_of(score: float, cuts: list[float]) -> str | None:
    """The grade whose lowest score `score` is (`training.thresholds.cut_for`): D for 0,
    None when it is no grade's cut-off."""
    if score == 0.0:
        return GRADES[-1]
    for grade, cut in zip(GRADES, cuts, strict=False):
        if score == cut:
            return grade
    return None


def duration_parts(value: Any) -> list[tuple[int, str]]:
    """A duration as report.json writes it (ISO 8601, `PT36H`) in whole units, largest
    first, for the template to word: [(1, "d"), (12, "h")]; [] for zero (at once)."""
    seconds = int(parse_duration(value).total_seconds())
    parts = []
    for size, unit in ((86_400, "d"), (3_600, "h"), (60, "min"), (1, "s")):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append((count, unit))
    return parts


def status_rows(policy: Fact) -> list[tuple[str, Fact, Fact | None]]:
    """Each lead status of the policy's `actions` with the Fact of its next action and of
    that action's due time (None: no due time), in the mapping's order."""
    actions = policy["actions"]
    return [
        (
            status,
            action,
            actions[PERIOD_FIELDS[str(action.raw)]] if action.raw in PERIOD_FIELDS else None,
        )
        for status, action in actions["statuses"].entries()
    ]


def render_alignment(
    policy: Policy, report: Mapping[str, Any] | None, model: SheetModel, lang: str = "en"
) -> str:
    """The alignment sheet as one self-contained HTML page (no scripts, nothing fetched)."""
    words = language(lang)  # a language without a catalogue: a LeadscoreError naming it
    document = sheet_document(policy, report)
    root = Fact(document)
    t = policy.thresholds
    policy_fact = root["thresholds"]["policy"]
    return render(
        "alignment.html.j2",
        lang=lang,
        _=translator(words),
        n=words.number,
        model=model,
        stages=stage_owners(),
        mql=MQL,
        sql=SQL,
        other=OTHER,
        policy=policy_fact,
        statuses=status_rows(policy_fact),
        duration_parts=duration_parts,
        test=root["thresholds"]["test"],
        factors=root["factors"],
        volume_rows=STAGE_ROWS,
        grades=GRADES,
        # a probability no lead reaches: fitting found no threshold meeting the targets
        sql_by_score=t.sql_probability <= 1.0,
        mql_by_score=t.mql_probability <= 1.0,
        sql_fit_grade=grade_of(t.sql_min_fit, t.fit_grade_cuts),
        mql_fit_grade=grade_of(t.mql_min_fit, t.fit_grade_cuts),
        mql_interest_grade=grade_of(t.mql_min_interest, t.interest_grade_cuts),
    )


def write_alignment(
    policy: Policy,
    report: Mapping[str, Any] | None,
    model: SheetModel,
    out: Path,
    lang: str = "en",
) -> Path:
    """Write the sheet to `out` whole or not at all (a temporary file, then renamed)."""
    page = render_alignment(policy, report, model, lang)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    try:
        partial.write_text(page, encoding="utf-8")
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    log.info("wrote the alignment sheet to %s", out)
    return out
