"""The scorer bundle: everything a prediction needs, in one object that saves to one folder.

A `LeadScorer` holds the dataset spec, the fitted `FeatureEncoder`, three LightGBM
boosters (fit features only, interest features only, all features), a calibrator
for each, and metadata (training date, metrics, data fingerprint). It scores raw
CRM rows — strings, missing values and unseen categories included — into a
calibrated `probability` (0–1) and `fit` / `interest` scores (0–100: the
calibrated conversion probability of leads like this one, judged on that feature
group alone), and with its policy and explainer into decisions and reasons: a
DataFrame column-wise (`score`, `score_chunks`), a few leads as dicts into
`models.contract.LeadScore`s (`results`, the service's no-pandas path).

Saved as plain files by `models.bundle`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.build import FeatureEncoder, check_columns, read_categories
from features.errors import LeadscoreError
from features.events import EventLog, records_as_of, with_event_columns
from features.spec import DatasetSpec
from features.timestamps import AsOf, FutureTimestampError
from models.actions import UnknownStatusError
from models.asof import SMALL_BATCH, check_created, check_created_records, future_message
from models.attribution import margin_of
from models.bundle import read_bundle, write_bundle
from models.contract import (
    ACTION_COLUMNS,
    DECISION_COLUMNS,
    GRADE_COLUMNS,
    REASON_COLUMNS,
    Decision,
    GroupReasons,
    LeadScore,
)
from models.i18n import ENGLISH, SOURCE, Language, language
from models.policy import Policy
from models.reasons import Explainer
from models.submodel import SUBMODELS, SubModel

# Reasons smaller than this (score points) are noise to a sales rep: not listed.
MIN_EFFECT = 0.05


class LeadScorer:
    """Scores raw CRM rows into probability, fit and interest."""

    def __init__(
        self,
        spec: DatasetSpec,
        encoder: FeatureEncoder,
        models: Mapping[str, SubModel],
        metadata: dict[str, Any] | None = None,
        policy: Policy | None = None,
    ) -> None:
        missing = [name for name in SUBMODELS if name not in models]
        if missing:
            raise ValueError(f"a scorer needs the sub-models {SUBMODELS}, missing {missing}")
        self.spec = spec
        self.encoder = encoder
        self.models = dict(models)
        self.metadata = dict(metadata or {})
        self.policy = policy
        self.explainer = Explainer(spec, encoder, self.models)

    # -- scoring -----------------------------------------------------------------------------
    def encode(self, frame: pd.DataFrame, as_of: AsOf | None = None) -> np.ndarray:
        """Encode raw rows as of a moment (default: now); a handful of rows skip pandas'
        per-column overhead (~30 ms)."""
        as_of = as_of or AsOf.now()
        try:
            if len(frame) <= SMALL_BATCH:
                return self.encoder.transform_records(_records(frame), as_of)
            return self.encoder.transform(frame, as_of)
        except FutureTimestampError as error:
            raise LeadscoreError(future_message(self.spec, error, frame)) from None

    def as_of_frame(
        self, frame: pd.DataFrame, as_of: AsOf, events: EventLog | None = None
    ) -> pd.DataFrame:
        """The raw rows as they stood at `as_of`: with an event log, the spec's `events`
        columns rebuilt from the events before it (an event after it is an error);
        without one, the rows as given. A lead created after `as_of` is an error."""
        spec = self.spec
        if events is not None:
            if spec.events is None:
                raise LeadscoreError(
                    f"this model's spec ({spec.name}) has no events section: it scores "
                    "from the contacts' own properties, not from an event log"
                )
            frame = with_event_columns(frame, spec, events, as_of)
        elif spec.needs_events:
            raise LeadscoreError(
                f"this model reads window features from an event log (spec {spec.name}, "
                "events.windows): give the leads' events (--events FILE)"
            )
        check_created(self.spec, frame, as_of)
        return frame

    def margins(self, matrix: np.ndarray) -> dict[str, np.ndarray]:
        """Each sub-model's raw margin (log-odds before calibration) for encoded rows."""
        return {name: model.margin(matrix) for name, model in self.models.items()}

    def score_matrix(
        self, matrix: np.ndarray, margins: Mapping[str, np.ndarray] | None = None
    ) -> dict[str, np.ndarray]:
        """Scores of already-encoded rows: probability 0–1, fit and interest 0–100.

        `margins`: the sub-models' margins of these rows when already computed.
        """
        margins = margins or self.margins(matrix)
        calibrated = {
            name: model.calibrator.predict(margins[name]) for name, model in self.models.items()
        }
        return {
            "probability": calibrated["full"],
            "fit": 100.0 * calibrated["fit"],
            "interest": 100.0 * calibrated["interest"],
        }

    def score(
        self,
        frame: pd.DataFrame,
        decide: bool = True,
        reasons: bool = False,
        k: int = 3,
        as_of: AsOf | None = None,
        events: EventLog | None = None,
        lang: str = SOURCE,
    ) -> pd.DataFrame:
        """Score a DataFrame of raw CRM rows; keeps the id column when the frame has it.

        With `decide` (and a policy in the bundle) adds grades, the lifecycle
        recommendation and the next action (due from the same `as_of`); with `reasons`,
        the top-k fit and interest factors as text. Features are computed as of `as_of`
        (default: now), from `events` when given. Reasons, decision details and next
        actions are worded in `lang` (`models.i18n`; English by default).
        """
        as_of = as_of or AsOf.now()
        words = language(lang)
        return self._score_encoded(
            *self._encode_checked(frame, as_of, events), decide, reasons, k, as_of, words
        )

    def score_chunks(
        self,
        chunks: Iterable[pd.DataFrame],
        decide: bool = True,
        reasons: bool = False,
        k: int = 3,
        as_of: AsOf | None = None,
        events: EventLog | None = None,
        lang: str = SOURCE,
    ) -> Iterator[pd.DataFrame]:
        """`score` of each chunk of a stream, in order (what `leadscore score` writes).

        The next chunk is taken from `chunks` (read from its file) and encoded in a
        thread while this one is scored: Python work done while LightGBM holds the cores.
        """
        source = iter(chunks)
        moment = as_of or AsOf.now()
        words = language(lang)

        def upcoming() -> tuple[pd.DataFrame, np.ndarray] | None:
            chunk = next(source, None)
            return None if chunk is None else self._encode_checked(chunk, moment, events)

        with ThreadPoolExecutor(max_workers=1) as ahead:
            following = ahead.submit(upcoming)
            while (item := following.result()) is not None:
                following = ahead.submit(upcoming)
                yield self._score_encoded(*item, decide, reasons, k, moment, words)

    def _encode_checked(
        self, frame: pd.DataFrame, as_of: AsOf | None, events: EventLog | None
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """The rows as of the moment (see `as_of_frame`) and their encoding."""
        as_of = as_of or AsOf.now()
        check_columns(frame, self.spec.contact_columns(events is not None), "data")
        frame = self.as_of_frame(frame, as_of, events)
        return frame, self.encode(frame, as_of)

    def _score_encoded(
        self,
        frame: pd.DataFrame,
        matrix: np.ndarray,
        decide: bool,
        reasons: bool,
        k: int,
        as_of: AsOf,
        lang: Language = ENGLISH,
    ) -> pd.DataFrame:
        """`score` of raw rows already encoded as of `as_of` (`matrix` =
        `self.encode(frame, as_of)`); next actions are due from the same moment."""
        if reasons:
            margins, texts = self._margins_and_reasons(frame, matrix, k, lang)
        else:
            margins = self.margins(matrix)
        scores = self.score_matrix(matrix, margins)
        columns: dict[str, Any] = {}
        if self.spec.id in frame.columns:
            columns[self.spec.id] = read_categories(frame[self.spec.id], self.spec.id, ())
        columns.update(scores)
        if decide and self.policy is not None:
            ids = columns.get(self.spec.id)
            decided = self.decide(self.policy_columns(frame), scores, as_of, ids, lang)
            for column in (*GRADE_COLUMNS, *DECISION_COLUMNS, *ACTION_COLUMNS):
                columns[column.name] = decided[column.key]
        if reasons:
            columns.update({REASON_COLUMNS[group].name: text for group, text in texts.items()})
        # Text columns stay object arrays: converting them to pandas' string type costs
        # more than scoring them (every consumer reads either).
        return pd.DataFrame(
            {
                name: pd.Series(
                    values,
                    index=frame.index,
                    dtype=object if getattr(values, "dtype", None) == np.dtype(object) else None,
                )
                for name, values in columns.items()
            },
            index=frame.index,
        )

    def _margins_and_reasons(
        self, frame: pd.DataFrame, matrix: np.ndarray, k: int, lang: Language = ENGLISH
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The sub-models' margins and the fit and interest reason lines of encoded rows.

        TreeSHAP values add up to the margin: fit and interest get no second pass. Each
        group's lines (Python, one core) are written in a thread while LightGBM computes
        what comes next (all cores, without the GIL): the interest TreeSHAP values, then
        the full model.
        """

        def lines(group: str, contributions: np.ndarray) -> dict[str, Any]:
            return self.explainer.lines(
                matrix,
                frame,
                k,
                min_effect=MIN_EFFECT,
                contributions={group: contributions},
                groups=(group,),
                lang=lang,
            )

        fit = self.models["fit"].contributions(matrix)
        with ThreadPoolExecutor(max_workers=1) as pool:
            fit_lines = pool.submit(lines, "fit", fit)
            interest = self.models["interest"].contributions(matrix)
            interest_lines = pool.submit(lines, "interest", interest)
            full = self.models["full"].margin(matrix)
            texts = {**fit_lines.result(), **interest_lines.result()}
        margins = {"full": full, "fit": margin_of(fit), "interest": margin_of(interest)}
        return margins, texts

    @property
    def input_columns(self) -> list[str]:
        """The raw columns `score` reads: features, the id, the time column (a lead is not
        scored before it was created), the decision's catalogue."""
        columns = [*self.spec.feature_columns, self.spec.id, self.spec.time.column]
        if self.policy is not None:
            columns += self.policy.requirements.columns
        return list(dict.fromkeys(columns))

    def policy_columns(self, frame: pd.DataFrame) -> dict[str, Any]:
        """The raw columns the decision reads (Series); catalogue columns must be in the frame."""
        assert self.policy is not None
        catalogue = self.policy.requirements
        needed = [
            c
            for c in catalogue.columns
            if c not in (catalogue.stage_column, catalogue.status_column)
        ]
        check_columns(frame, needed, "data (for the requirements catalogue)")
        return {c: frame[c] for c in catalogue.columns if c in frame.columns}

    def decide(
        self,
        columns: Mapping[str, Sequence[Any]],
        scores: Mapping[str, np.ndarray],
        as_of: AsOf | None = None,
        ids: Sequence[Any] | None = None,
        lang: Language = ENGLISH,
    ) -> dict[str, Any]:
        """Grades, lifecycle recommendations and next actions (due from `as_of`, default
        now) for already-scored leads. A lead status the policy does not know raises
        `UnknownStatusError` (its `row`: the lead's position), or with the leads' `ids`
        a `LeadscoreError` naming the lead."""
        if self.policy is None:
            raise LeadscoreError("this model has no decision policy (trained before thresholds)")
        try:
            return self.policy.decide(
                columns, scores, self.spec.missing_tokens, as_of=as_of or AsOf.now(), lang=lang
            )
        except UnknownStatusError as error:
            if ids is None:
                raise
            raise LeadscoreError(
                f"lead {ids[error.row]!r}: {error.column} is {error.value!r}; expected "
                f"{error.expected}"
            ) from None

    def records_as_of(
        self, records: Sequence[Mapping[str, Any]], as_of: AsOf
    ) -> list[Mapping[str, Any]]:
        """`as_of_frame` for records: a lead that sends its events inline
        (`{"events": [...]}`) has the spec's event columns rebuilt from them."""
        return records_as_of(records, self.spec, as_of)

    def encode_records(
        self, records: Sequence[Mapping[str, Any]], as_of: AsOf | None = None
    ) -> tuple[list[Mapping[str, Any]], np.ndarray]:
        """Records as of the moment (default: now) and their encoding; no pandas.

        A timestamp after the moment raises `FutureTimestampError` (a `CoercionError`
        whose `row` is the lead's position)."""
        as_of = as_of or AsOf.now()
        rows = self.records_as_of(records, as_of)
        check_created_records(self.spec, rows, as_of)
        return rows, self.encoder.transform_records(rows, as_of)

    def score_records(
        self, records: Sequence[Mapping[str, Any]], as_of: AsOf | None = None
    ) -> list[dict[str, Any]]:
        """Score a few leads given as dicts (no pandas on this path); absent keys are missing."""
        if not records:
            return []
        scores = self.score_matrix(self.encode_records(records, as_of)[1])
        return [
            {name: float(values[i]) for name, values in scores.items()} for i in range(len(records))
        ]

    def results(
        self,
        records: Sequence[Mapping[str, Any]],
        explain: bool = False,
        k: int = 3,
        as_of: AsOf | None = None,
        lang: str = SOURCE,
    ) -> list[LeadScore]:
        """Scores and, with a policy, grades and recommendation, and (with `explain`) the
        reasons of a few leads given as dicts, as contract objects.

        The service's hot path: no pandas. Absent keys are missing values. Reasons and
        the decision's words are in `lang`.
        """
        if not records:
            return []
        words = language(lang)
        as_of = as_of or AsOf.now()
        records, matrix = self.encode_records(records, as_of)
        margins = self.margins(matrix)
        scores = self.score_matrix(matrix, margins)
        decided: dict[str, Any] | None = None
        if self.policy is not None:
            catalogue = self.policy.requirements
            decided = self.decide(
                {c: [r.get(c) for r in records] for c in catalogue.columns},
                scores,
                as_of,
                lang=words,
            )
        reasons: list[dict[Any, GroupReasons]] | None = None
        if explain:
            reasons = self.explainer.factors(
                matrix, records, k, min_effect=MIN_EFFECT, margins=margins, lang=words
            )
        probability, fit, interest = (
            scores[s].tolist() for s in ("probability", "fit", "interest")
        )
        return [
            LeadScore(
                probability[i],
                fit[i],
                interest[i],
                None if decided is None else decided["fit_grade"][i],
                None if decided is None else decided["interest_grade"][i],
                None if decided is None else Decision.of(decided, i),
                None if reasons is None else reasons[i],
            )
            for i in range(len(records))
        ]

    def recommend_records(
        self,
        records: Sequence[Mapping[str, Any]],
        explain: bool = False,
        k: int = 3,
        as_of: AsOf | None = None,
        lang: str = SOURCE,
    ) -> list[dict[str, Any]]:
        """`results` as JSON-able dicts (`LeadScore.record`); the bundle needs a policy."""
        if not records:
            return []
        if self.policy is None:
            raise LeadscoreError("this model has no decision policy (trained before thresholds)")
        return [result.record() for result in self.results(records, explain, k, as_of, lang)]

    # -- persistence -------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the bundle to a new folder (`models.bundle`)."""
        return write_bundle(path, self.spec, self.encoder, self.models, self.metadata, self.policy)

    @classmethod
    def load(cls, path: str | Path) -> LeadScorer:
        """The bundle saved in folder `path`."""
        parts = read_bundle(path)
        return cls(parts.spec, parts.encoder, parts.models, parts.metadata, parts.policy)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]
