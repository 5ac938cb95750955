"""Batch scoring of a lead file: read it in chunks, score each as of one moment, write the
scores beside the model version — all or nothing (a failed run leaves no output file).

What `leadscore score` runs; the service scores records over HTTP instead (serving.service).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from features.build import check_columns, read_categories
from features.errors import LeadscoreError
from features.events import EventLog
from features.files import ChunkWriter, data_format, read_chunks
from features.timestamps import AsOf

if TYPE_CHECKING:
    from models.scorer import LeadScorer

# Rows read first to fail early on a file that does not match the spec.
HEAD_ROWS = 1000


def check_readable(data: Path, what: str = "data file") -> None:
    """A data file that exists, has a known format and is not empty (before a model loads)."""
    data_format(data)
    if not data.is_file():
        raise LeadscoreError(f"{what} not found: {data}")
    if data.stat().st_size == 0:
        raise LeadscoreError(f"{what} {data} is empty")


def check_file(
    scorer: LeadScorer,
    data: Path,
    chunk_size: int,
    events: EventLog | None = None,
    no_id: bool = False,
) -> None:
    """Fail before scoring when the file's first rows cannot be scored: no rows, or
    without the spec's columns, the id column (unless `no_id`) or the decision's
    catalogue columns."""
    check_readable(data)
    kind = data_format(data)
    spec = scorer.spec
    head = next(
        read_chunks(data, kind, min(chunk_size, HEAD_ROWS), scorer.input_columns, spec.csv), None
    )
    if head is None or head.empty:
        raise LeadscoreError(f"data file {data} is empty (a header but no rows)")
    check_head(scorer, head, f"data file {data}", events is not None, no_id)


def check_head(
    scorer: LeadScorer, head: pd.DataFrame, what: str, events: bool = False, no_id: bool = False
) -> None:
    """The columns of the leads' first rows (`what` names them in the message): the spec's
    columns, the id column (needed with `events`; else unless `no_id`) and the decision's
    catalogue columns."""
    spec = scorer.spec
    check_columns(head, spec.contact_columns(events), what)
    if events and spec.id not in head.columns:
        raise LeadscoreError(
            f"{what} has no id column {spec.id!r}: events are matched to leads by it"
        )
    if spec.id not in head.columns and not no_id:
        raise LeadscoreError(
            f"{what} has no id column {spec.id!r}: its scores could not be joined "
            "back to the leads (pass --no-id to score it anyway, in row order)"
        )
    if scorer.policy is not None:
        scorer.policy_columns(head)  # the catalogue's columns must be there too


def score_file(
    scorer: LeadScorer,
    data: Path,
    out: Path,
    *,
    as_of: AsOf,
    version: str = "",
    chunk_size: int = 50_000,
    reasons: bool = False,
    k: int = 3,
    events: EventLog | None = None,
    progress: Callable[[int], None] | None = None,
    lang: str = "en",
) -> int:
    """Score `data` into `out` (CSV or Parquet by suffix); returns the number of leads.
    Reasons and the decision's words are in `lang`.

    Written to `out.partial` and moved into place only when every chunk is written and
    every event of `events` met its lead; otherwise nothing is left at `out`.
    """
    in_kind, out_kind = data_format(data), data_format(out)
    spec = scorer.spec
    partial = out.with_name(out.name + ".partial")
    written = 0
    seen = EventLeads(events, spec.id, spec.missing_tokens)
    with ChunkWriter(partial, out_kind) as writer:
        chunks = seen.mark(read_chunks(data, in_kind, chunk_size, scorer.input_columns, spec.csv))
        scoring = scorer.score_chunks(
            chunks, reasons=reasons, k=k, as_of=as_of, events=events, lang=lang
        )
        for scored in scoring:
            scored["model_version"] = version
            writer.write(scored)
            written += len(scored)
            if progress is not None:
                progress(len(scored))
        seen.check(data)  # before the output is in place
    partial.replace(out)
    return written


class EventLeads:
    """Which leads of an event log a scoring run met; an event of a lead the data file
    does not hold is an error (a wrong file, or ids that do not match)."""

    def __init__(self, log: EventLog | None, id_column: str, missing: frozenset[str]) -> None:
        self.log = log
        self.id_column = id_column
        self.missing = missing
        self.met = np.zeros(0 if log is None else len(log.ids), dtype=bool)

    def mark(self, chunks: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for chunk in chunks:
            if self.log is not None:
                codes = self.log.codes_of(
                    read_categories(chunk[self.id_column], self.id_column, self.missing)
                )
                self.met[codes[codes >= 0]] = True
            yield chunk

    def check(self, data: Path | str) -> None:
        if self.log is None or self.met.all():
            return
        log: Any = self.log
        unmet = ~self.met[log.lead]
        at = int(np.argmax(unmet))
        raise LeadscoreError(
            f"{log.source} row {log.row[at]}: lead {log.ids[log.lead[at]]!r} "
            f"(column {self.id_column!r}) is not in {data} ({int(unmet.sum()):,} event(s) of "
            "leads the file does not hold); nothing was written"
        )
