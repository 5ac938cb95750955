"""The scorer bundle: everything a prediction needs, in one object that saves to one folder.

A `LeadScorer` holds the dataset spec, the fitted `FeatureEncoder`, three LightGBM
boosters (fit features only, interest features only, all features), a calibrator
for each, and metadata (training date, metrics, data fingerprint). It scores raw
CRM rows — strings, missing values and unseen categories included — into a
calibrated `probability` (0–1) and `fit` / `interest` scores (0–100: the
calibrated conversion probability of leads like this one, judged on that feature
group alone).

Saved as plain files (JSON + LightGBM's text format), never pickled, so a bundle
can be read by any later version of this code and inspected by hand.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.build import FeatureEncoder, check_columns, read_categories
from features.errors import LeadscoreError
from features.events import EventLog, records_as_of, with_event_columns
from features.spec import DatasetSpec, parse_spec
from features.timestamps import (
    AsOf,
    FutureTimestampError,
    iso,
    read_timestamps,
    to_timestamp,
)
from models.calibration import Calibrator
from models.policy import Policy

BUNDLE_FORMAT = 1
SUBMODELS = ("full", "fit", "interest")
# Reasons smaller than this (score points) are noise to a sales rep: not listed.
MIN_EFFECT = 0.05
# `score` output column → key of `Policy.decide`'s result.
_DECISION_COLUMNS = {
    "fit_grade": "fit_grade",
    "interest_grade": "interest_grade",
    "recommended_stage": "lifecyclestage",
    "lead_status": "hs_lead_status",
    "changed": "changed",
    "rule": "rule",
    "rule_detail": "detail",
}
# Below this many rows pandas' per-column overhead costs more than the record path.
_SMALL_BATCH = 64
# Below this many rows LightGBM's OpenMP threads cost more than they save; on a busy
# 2-core machine 100 leads took 36 ms with all threads and 4 ms with one.
_SINGLE_THREAD_ROWS = 10_000
# From this many rows TreeSHAP runs once per distinct branch pattern (`SubModel.contributions`).
_PATTERN_ROWS = 1_000
# LightGBM sends a value within this distance of 0 down a split's missing side when
# the split treats zeros as missing (its kZeroThreshold).
_ZERO = 1e-35


def _threads(rows: int) -> int:
    """LightGBM threads for predicting `rows` rows: one for a few, else all cores (0)."""
    return 1 if rows <= _SINGLE_THREAD_ROWS else 0


class SubModel:
    """One booster on a subset of the encoded columns, plus its calibrator."""

    def __init__(
        self,
        name: str,
        features: list[str],
        indices: list[int],
        booster: lgb.Booster,
        calibrator: Calibrator,
    ) -> None:
        self.name = name
        self.features = features
        self.indices = np.asarray(indices, dtype=np.intp)
        self.booster = booster
        self.calibrator = calibrator
        self._splits: dict[int, np.ndarray | None] | None = None

    def columns(self, matrix: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(matrix[:, self.indices])

    def margin(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(
            self.booster.predict(
                self.columns(matrix), raw_score=True, num_threads=_threads(len(matrix))
            ),
            dtype=np.float64,
        )

    def probability(self, matrix: np.ndarray) -> np.ndarray:
        return self.calibrator.predict(self.margin(matrix))

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """Exact TreeSHAP values in raw-margin units; the last column is the baseline.

        Two leads that go the same way at every split of every tree have the same
        values, so for many rows TreeSHAP runs once per distinct branch pattern and the
        values are copied to the leads that share it (a CRM's empty and repeated values
        make patterns fewer than leads).
        """
        columns = self.columns(matrix)
        if len(columns) < _PATTERN_ROWS:
            return self._contributions(columns)
        shared, pattern = self._branch_patterns(columns)
        if len(shared) > 0.95 * len(columns):  # too few shared to pay for the copy
            return self._contributions(columns)
        return self._contributions(columns[shared])[pattern]

    def _contributions(self, columns: np.ndarray) -> np.ndarray:
        return np.asarray(
            self.booster.predict(columns, pred_contrib=True, num_threads=_threads(len(columns))),
            dtype=np.float64,
        )

    def _branch_patterns(self, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(one row of each distinct branch pattern, each row's pattern number).

        A value's side of a numeric split depends only on where it falls among the
        thresholds, whether it is missing and whether it is zero (LightGBM's missing
        rules); a categorical split reads the value itself.
        """
        code = np.zeros(len(columns), dtype=np.int64)
        size = 1  # patterns `code` can hold so far
        for column, thresholds in self._split_points().items():
            values = columns[:, column]
            if thresholds is None:
                key, uniques = pd.factorize(values, use_na_sentinel=False)
                width = len(uniques)
            else:
                key = 2 * np.searchsorted(thresholds, values) + (np.abs(values) <= _ZERO)
                key[np.isnan(values)] = 2 * len(thresholds) + 2
                width = 2 * len(thresholds) + 3
            if size * width >= 2**62:  # renumber the patterns so far: at most one per row
                code, found = pd.factorize(code)
                size = len(found)
            code = code * width + key
            size *= width
        pattern, found = pd.factorize(code)
        shared = np.empty(len(found), dtype=np.intp)
        shared[pattern] = np.arange(len(columns))  # any row of a pattern stands for it
        return shared, pattern

    def _split_points(self) -> dict[int, np.ndarray | None]:
        """Per column the booster splits on: its sorted numeric thresholds, or None for a
        categorical column. Read once from the booster's trees."""
        if self._splits is not None:
            return self._splits
        numeric: dict[int, set[float]] = {}
        categorical: set[int] = set()
        nodes = [tree["tree_structure"] for tree in self.booster.dump_model()["tree_info"]]
        while nodes:
            node = nodes.pop()
            if "split_feature" not in node:
                continue
            if node["decision_type"] == "==":
                categorical.add(node["split_feature"])
            else:
                numeric.setdefault(node["split_feature"], set()).add(float(node["threshold"]))
            nodes += [node["left_child"], node["right_child"]]
        splits: dict[int, np.ndarray | None] = {c: None for c in categorical}
        for column, thresholds in numeric.items():
            if column not in categorical:
                splits[column] = np.array(sorted(thresholds))
        self._splits = splits
        return splits


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

    # -- scoring -----------------------------------------------------------------------------
    def encode(self, frame: pd.DataFrame, as_of: AsOf | None = None) -> np.ndarray:
        """Encode raw rows as of a moment (default: now); a handful of rows skip pandas'
        per-column overhead (~30 ms)."""
        as_of = as_of or AsOf.now()
        try:
            if len(frame) <= _SMALL_BATCH:
                return self.encoder.transform_records(_records(frame), as_of)
            return self.encoder.transform(frame, as_of)
        except FutureTimestampError as error:
            raise LeadscoreError(self._future(error, frame)) from None

    def _future(self, error: FutureTimestampError, frame: pd.DataFrame) -> str:
        lead = frame[self.spec.id].iloc[error.row] if self.spec.id in frame.columns else None
        who = f"lead {lead!r}" if lead is not None else f"row {error.row + 1}"
        return (
            f"{who}: {error.column} is {error.value!r}, after the moment of scoring "
            f"(as_of {iso(error.as_of)}); a value from the future is never a feature. "
            "Score as of a later moment (--as-of), or check the export"
        )

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
        self._check_created(frame, as_of)
        return frame

    def _check_created(self, frame: pd.DataFrame, as_of: AsOf) -> None:
        column = self.spec.time.column
        if self.spec.time.kind != "datetime" or column not in frame.columns:
            return
        missing = self.spec.missing_tokens
        if len(frame) <= _SMALL_BATCH:  # one value at a time is ~2 ms cheaper than pandas
            read = [to_timestamp(v, column, missing) for v in frame[column].tolist()]
            nat = np.iinfo(np.int64).min
            created = np.array([nat if r is None else r for r in read], dtype=np.int64).view(
                "datetime64[ns]"
            )
        else:
            created = read_timestamps(frame[column], column, missing)
        moments = as_of.rows(len(frame))
        late = ~np.isnat(created) & (created.astype(np.int64) > moments + as_of.slack)
        if late.any():
            row = int(np.argmax(late))
            lead = frame[self.spec.id].iloc[row] if self.spec.id in frame.columns else row + 1
            raise LeadscoreError(
                f"lead {lead!r}: {column} {iso(created[row])} is after the moment of scoring "
                f"(as_of {iso(moments[row])}); a lead cannot be scored before it exists"
            )

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
    ) -> pd.DataFrame:
        """Score a DataFrame of raw CRM rows; keeps the id column when the frame has it.

        With `decide` (and a policy in the bundle) adds grades and the lifecycle
        recommendation; with `reasons`, the top-k fit and interest factors as text.
        Features are computed as of `as_of` (default: now), from `events` when given.
        """
        return self._score_encoded(*self._encode_checked(frame, as_of, events), decide, reasons, k)

    def score_chunks(
        self,
        chunks: Iterable[pd.DataFrame],
        decide: bool = True,
        reasons: bool = False,
        k: int = 3,
        as_of: AsOf | None = None,
        events: EventLog | None = None,
    ) -> Iterator[pd.DataFrame]:
        """`score` of each chunk of a stream, in order (what `leadscore score` writes).

        The next chunk is taken from `chunks` (read from its file) and encoded in a
        thread while this one is scored: Python work done while LightGBM holds the cores.
        """
        source = iter(chunks)
        moment = as_of or AsOf.now()

        def upcoming() -> tuple[pd.DataFrame, np.ndarray] | None:
            chunk = next(source, None)
            return None if chunk is None else self._encode_checked(chunk, moment, events)

        with ThreadPoolExecutor(max_workers=1) as ahead:
            following = ahead.submit(upcoming)
            while (item := following.result()) is not None:
                following = ahead.submit(upcoming)
                yield self._score_encoded(*item, decide, reasons, k)

    def _encode_checked(
        self, frame: pd.DataFrame, as_of: AsOf | None, events: EventLog | None
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """The rows as of the moment (see `as_of_frame`) and their encoding."""
        as_of = as_of or AsOf.now()
        check_columns(frame, self.spec.contact_columns(events is not None), "data")
        frame = self.as_of_frame(frame, as_of, events)
        return frame, self.encode(frame, as_of)

    def _score_encoded(
        self, frame: pd.DataFrame, matrix: np.ndarray, decide: bool, reasons: bool, k: int
    ) -> pd.DataFrame:
        """`score` of raw rows already encoded (`matrix` = `self.encode(frame)`)."""
        if reasons:
            margins, texts = self._margins_and_reasons(frame, matrix, k)
        else:
            margins = self.margins(matrix)
        scores = self.score_matrix(matrix, margins)
        columns: dict[str, Any] = {}
        if self.spec.id in frame.columns:
            columns[self.spec.id] = read_categories(frame[self.spec.id], self.spec.id, ())
        columns.update(scores)
        if decide and self.policy is not None:
            decided = self.decide(self.policy_columns(frame), scores)
            for name, key in _DECISION_COLUMNS.items():
                columns[name] = decided[key]
        if reasons:
            columns.update({f"{group}_reasons": text for group, text in texts.items()})
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
        self, frame: pd.DataFrame, matrix: np.ndarray, k: int
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The sub-models' margins and the fit and interest reason lines of encoded rows.

        TreeSHAP values add up to the margin: fit and interest get no second pass. Each
        group's lines (Python, one core) are written in a thread while LightGBM computes
        what comes next (all cores, without the GIL): the interest TreeSHAP values, then
        the full model.
        """
        from models.explain import margin_of, reason_texts

        def lines(group: str, contributions: np.ndarray) -> dict[str, Any]:
            return reason_texts(
                self,
                matrix,
                frame,
                k,
                min_effect=MIN_EFFECT,
                contributions={group: contributions},
                groups=(group,),
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
        self, columns: Mapping[str, Sequence[Any]], scores: Mapping[str, np.ndarray]
    ) -> dict[str, Any]:
        """Grades and lifecycle recommendations for already-scored leads."""
        if self.policy is None:
            raise LeadscoreError("this model has no decision policy (trained before thresholds)")
        return self.policy.decide(columns, scores, self.spec.missing_tokens)

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
        self._check_created_records(rows, as_of)
        return rows, self.encoder.transform_records(rows, as_of)

    def _check_created_records(self, records: Sequence[Mapping[str, Any]], as_of: AsOf) -> None:
        """A lead created after the moment: `FutureTimestampError` naming its position."""
        column = self.spec.time.column
        if self.spec.time.kind != "datetime":
            return
        missing = self.spec.missing_tokens
        for row, record in enumerate(records):
            created = to_timestamp(record.get(column), column, missing)
            if created is not None and created > as_of.at(row) + as_of.slack:
                raise FutureTimestampError(column, record.get(column), as_of.at(row), row)

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

    def recommend_records(
        self,
        records: Sequence[Mapping[str, Any]],
        explain: bool = False,
        k: int = 3,
        as_of: AsOf | None = None,
    ) -> list[dict[str, Any]]:
        """Scores, grades, recommendation and (with `explain`) reasons for a few leads.

        The service's hot path: no pandas. Absent keys are missing values.
        """
        if not records:
            return []
        records, matrix = self.encode_records(records, as_of)
        margins = self.margins(matrix)
        scores = self.score_matrix(matrix, margins)
        catalogue = self.policy.requirements if self.policy else None
        columns = {c: [r.get(c) for r in records] for c in catalogue.columns} if catalogue else {}
        decided = self.decide(columns, scores)
        explained = None
        if explain:
            from models.explain import explain as explain_leads

            explained = explain_leads(
                self, matrix, records, k, min_effect=MIN_EFFECT, margins=margins
            )
        out = []
        for i in range(len(records)):
            result: dict[str, Any] = {
                "probability": float(scores["probability"][i]),
                "fit": float(scores["fit"][i]),
                "interest": float(scores["interest"][i]),
                "fit_grade": str(decided["fit_grade"][i]),
                "interest_grade": str(decided["interest_grade"][i]),
                "recommendation": {
                    "lifecyclestage": str(decided["lifecyclestage"][i]),
                    "hs_lead_status": decided["hs_lead_status"][i],
                    "changed": bool(decided["changed"][i]),
                    "rule": str(decided["rule"][i]),
                    "detail": str(decided["detail"][i]),
                },
            }
            if explained is not None:
                result["reasons"] = explained[i]
            out.append(result)
        return out

    # -- persistence -------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the bundle to a new folder: bundle.json and one booster file per sub-model."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=False)
        for name, model in self.models.items():
            model.booster.save_model(str(path / f"{name}.lgb.txt"))
        manifest = {
            "format": BUNDLE_FORMAT,
            "spec": self.spec.model_dump(mode="json"),
            "encoder": self.encoder.to_dict(),
            "models": {
                name: {
                    "features": m.features,
                    "indices": m.indices.tolist(),
                    "calibrator": m.calibrator.to_dict(),
                    "booster": f"{name}.lgb.txt",
                }
                for name, m in self.models.items()
            },
            "metadata": self.metadata,
            "policy": self.policy.model_dump(mode="json", by_alias=True) if self.policy else None,
        }
        (path / "bundle.json").write_text(
            json.dumps(manifest, indent=2, default=_jsonable), encoding="utf-8"
        )
        return path

    @classmethod
    def load(cls, path: str | Path) -> LeadScorer:
        path = Path(path)
        manifest_path = path / "bundle.json"
        if not manifest_path.is_file():
            raise LeadscoreError(f"not a leadscore bundle (no bundle.json): {path}")
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("format") != BUNDLE_FORMAT:
            raise LeadscoreError(
                f"bundle {path} has format {manifest.get('format')!r}, this code reads "
                f"format {BUNDLE_FORMAT}"
            )
        spec = parse_spec(manifest["spec"], f"{manifest_path}:spec")
        encoder = FeatureEncoder.from_dict(spec, manifest["encoder"])
        models = {
            name: SubModel(
                name,
                entry["features"],
                entry["indices"],
                lgb.Booster(model_file=str(path / entry["booster"])),
                Calibrator.from_dict(entry["calibrator"]),
            )
            for name, entry in manifest["models"].items()
        }
        policy = Policy.model_validate(manifest["policy"]) if manifest.get("policy") else None
        return cls(spec, encoder, models, manifest.get("metadata", {}), policy)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
