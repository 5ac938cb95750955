"""Reasons: the top factors behind each lead's fit and interest scores, one renderer, two outputs.

An `Explainer` is built with the bundle (it holds a `Phraser` per feature) and renders
the same factors two ways: per lead as contract data (`factors`: `GroupReasons` of
`Factor`s, for the API and the records path), and per batch as one line of text per lead
and group (`lines`: "sentence (+effect); …", Arrow strings, for DataFrames) — the line
is built per distinct value of a feature instead of per lead, so a million leads cost
little more than their TreeSHAP values. Effects come from `models.attribution`, words
from `models.phrasing`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.build import FeatureEncoder
from features.errors import LeadscoreError
from features.spec import DatasetSpec
from models.attribution import effects_from_contributions, margin_of, top_effects
from models.contract import GROUPS, Factor, Group, GroupReasons
from models.i18n import ENGLISH, Language
from models.phrasing import Phraser, sentence
from models.submodel import SubModel

Tops = tuple[np.ndarray, np.ndarray, np.ndarray]


class Explainer:
    """Renders the fit and interest factors of a bundle's leads (see the module docstring)."""

    def __init__(
        self, spec: DatasetSpec, encoder: FeatureEncoder, models: Mapping[str, SubModel]
    ) -> None:
        self.features = {f.name: f for f in spec.features}
        self.encoder = encoder
        self.width = len(encoder.feature_names_)
        self.models = {group: models[group] for group in GROUPS}
        self.phrasers = self._phrasers(ENGLISH)
        self._languages = {ENGLISH.code: self.phrasers}

    def _phrasers(self, lang: Language) -> dict[str, list[Phraser]]:
        return {
            group: [
                Phraser(self.encoder, self.features[name], lang)
                for name in self.models[group].features
            ]
            for group in GROUPS
        }

    def phrasers_in(self, lang: Language) -> dict[str, list[Phraser]]:
        """The phrasers of each group writing in `lang` (built once per language)."""
        found = self._languages.get(lang.code)
        if found is None:
            found = self._languages[lang.code] = self._phrasers(lang)
        return found

    def effects(
        self, group: str, matrix: np.ndarray, margin: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every feature's effect on the `group` score ("fit" or "interest"), in score points.

        Columns follow the sub-model's `features`. Returns (effects, baseline, score), each
        row with Σ effects == score − baseline; score equals the scorer's own score.
        `margin`: the sub-model's margin of these rows when already computed.
        """
        model = self._submodel(group)[1]
        matrix = self._check_matrix(matrix)
        if len(matrix) == 0:
            width = len(model.features)
            return np.empty((0, width)), np.empty(0), np.empty(0)
        if margin is None:
            margin = model.margin(matrix)
        return effects_from_contributions(model.calibrator, model.contributions(matrix), margin)

    def factors(
        self,
        matrix: np.ndarray,
        raw: Sequence[Mapping[Any, Any]] | None = None,
        k: int = 3,
        *,
        min_effect: float = 0.0,
        margins: Mapping[str, np.ndarray] | None = None,
        lang: Language = ENGLISH,
    ) -> list[dict[Group, GroupReasons]]:
        """Top-k positive and negative factors of the fit and the interest score, per lead.

        `matrix`: rows encoded by the bundle's encoder; `raw`: the same leads' raw records
        (dicts or a DataFrame; or None) so phrases can quote the lead's own text. Positive
        factors by decreasing effect, negative ones by increasing effect (largest |effect|
        first); effects in score points (0–100 scale). `min_effect` (score points) leaves
        out factors too small to matter to a rep; by default only effects that are 0 (to
        rounding) are left out. `margins`: the sub-models' margins of these rows when
        already computed (`LeadScorer.margins`).
        """
        matrix = self._check_matrix(matrix)
        check_limits(k, min_effect)
        if raw is not None and hasattr(raw, "columns") and hasattr(raw, "to_dict"):
            raw = raw.to_dict("records")  # a DataFrame: its rows, not its columns
        if raw is not None and len(raw) != len(matrix):
            raise LeadscoreError(
                f"raw has {len(raw)} record(s) but the matrix has {len(matrix)} row(s); "
                "pass the raw records of the same leads, in the same order"
            )
        out: list[dict[Group, GroupReasons]] = [{} for _ in range(len(matrix))]
        if not len(matrix):
            return out
        rows = matrix.tolist()
        in_lang = self.phrasers_in(lang)
        for group in GROUPS:
            margin = margins.get(group) if margins else None
            effect, baseline, score = self.effects(group, matrix, margin)
            phrasers = in_lang[group]
            words: dict[Any, tuple[Any, str]] = {}  # one batch's phrases, reused
            scores, baselines = score.tolist(), baseline.tolist()
            up, up_effect, up_count = (a.tolist() for a in top_effects(effect, k, min_effect, 1.0))
            down, down_effect, down_count = (
                a.tolist() for a in top_effects(effect, k, min_effect, -1.0)
            )

            for i in range(len(rows)):
                record = raw[i] if raw is not None else None
                row = rows[i]
                out[i][group] = GroupReasons(
                    scores[i],
                    baselines[i],
                    [
                        _factor(group, phrasers[j], e, row, record, words, lang.code)
                        for j, e in zip(up[i][: up_count[i]], up_effect[i], strict=False)
                    ],
                    [
                        _factor(group, phrasers[j], e, row, record, words, lang.code)
                        for j, e in zip(down[i][: down_count[i]], down_effect[i], strict=False)
                    ],
                )
        return out

    def lines(
        self,
        matrix: np.ndarray,
        raw: Any = None,
        k: int = 3,
        *,
        min_effect: float = 0.0,
        contributions: Mapping[str, np.ndarray] | None = None,
        groups: Sequence[str] = GROUPS,
        lang: Language = ENGLISH,
    ) -> dict[str, pd.api.extensions.ExtensionArray]:
        """Each lead's top-k fit and interest factors as one line of text, for batch outputs.

        The factors of `factors`, written "sentence (+effect)", positive ones first, joined
        by "; ". `raw`: the same leads' raw values (a DataFrame, or a mapping column →
        values; only the features' source columns are read) so phrases can quote the
        lead's own text. `contributions`: each group's TreeSHAP values of these rows when
        already computed. Returns ``{"fit": texts, "interest": texts}`` (or the `groups`
        asked for), pandas string arrays backed by the Arrow strings they were built as
        ("" for a lead without reasons).
        """
        matrix = self._check_matrix(matrix)
        check_limits(k, min_effect)
        out: dict[str, pd.api.extensions.ExtensionArray] = {}
        n = len(matrix)
        in_lang = self.phrasers_in(lang)
        for name in groups:
            group, model = self._submodel(name)
            if n == 0:
                out[group] = _pandas_strings(pa.array([], pa.string()))
                continue
            contrib = (contributions or {}).get(group)
            if contrib is None:
                contrib = model.contributions(matrix)
            effect = effects_from_contributions(model.calibrator, contrib, margin_of(contrib))[0]
            tops = {
                direction: top_effects(effect, k, min_effect, sign)
                for direction, sign in (("raises", 1.0), ("lowers", -1.0))
            }
            ids, table = _batch_phrases(in_lang[group], matrix, raw, tops.values())
            phrases = pa.array(table, pa.string())
            # Strings are put together by Arrow, in C: per (direction, rank) a column of
            # "; sentence (" pieces and one of "+effect)" (null where the lead has no such
            # factor), joined in one call. A lead's first factor has no "; " before it: the
            # pieces table holds each sentence twice, with the separator and (after it)
            # without.
            first_lowers = tops["raises"][2] == 0  # a lead whose first factor lowers the score
            columns: list[pa.Array] = []
            for direction, (order, top_effect, count) in tops.items():
                ending = sentence("", direction, group, lang) + " ("
                pieces = pa.concat_arrays(
                    [
                        pc.binary_join_element_wise("; ", phrases, ending, ""),
                        pc.binary_join_element_wise(phrases, ending, ""),
                    ]
                )
                for rank in range(order.shape[1]):
                    absent = count <= rank
                    if absent.all():
                        break
                    at = ids[np.arange(n), order[:, rank]]
                    if rank == 0:
                        at += len(table) * (first_lowers if direction == "lowers" else 1)
                    codes, numbers = _one_decimal(top_effect[:, rank], lang)
                    columns.append(pc.take(pieces, pa.array(at, mask=absent)))
                    columns.append(pc.take(numbers, pa.array(codes, mask=absent)))
            # null_handling="skip" drops whole rows in pyarrow 25: nulls become "" instead.
            text = (
                pc.binary_join_element_wise(
                    *columns, "", null_handling="replace", null_replacement=""
                )
                if columns
                else pa.array([""] * n, pa.string())  # no lead has a reason (k = 0, flat scores)
            )
            out[group] = _pandas_strings(text)
        return out

    def _submodel(self, group: str) -> tuple[Group, SubModel]:
        """The group's name as a `Group`, and its sub-model."""
        for known in GROUPS:
            if group == known:
                return known, self.models[known]
        raise LeadscoreError(f"reasons exist for the groups {GROUPS}, not {group!r}")

    def _check_matrix(self, matrix: np.ndarray) -> np.ndarray:
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != self.width:
            raise LeadscoreError(
                f"expected an encoded matrix of shape (leads, {self.width}) from scorer.encoder, "
                f"got shape {matrix.shape}"
            )
        return matrix


def _factor(
    group: Group,
    phraser: Phraser,
    effect: float,
    row: list[float],
    record: Mapping[Any, Any] | None,
    words: dict[Any, tuple[Any, str]],
    lang: str,
) -> Factor:
    value, phrase = phraser.phrase_of(row[phraser.column], record, words)
    return Factor(group, phraser.name, phraser.source, phraser.label, value, effect, phrase, lang)


def check_limits(k: Any, min_effect: Any) -> None:
    """`k` (reasons per direction) and `min_effect` (score points) as a caller gave them."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
        raise LeadscoreError(f"k (reasons per direction) must be a whole number ≥ 0, got {k!r}")
    if not (isinstance(min_effect, int | float) and min_effect >= 0):
        raise LeadscoreError(f"min_effect must be a number of score points ≥ 0, got {min_effect!r}")


def _batch_phrases(
    phrasers: Sequence[Phraser], matrix: np.ndarray, raw: Any, tops: Iterable[Tops]
) -> tuple[np.ndarray, list[str]]:
    """The phrase of each (lead, feature) some top list names, as ids into a table.

    Returns (ids n × features, 0 where not named; the phrases).
    """
    n = len(matrix)
    named = np.zeros((n, len(phrasers)), dtype=bool)
    for order, _, count in tops:
        for rank in range(order.shape[1]):
            rows = np.flatnonzero(count > rank)
            named[rows, order[rows, rank]] = True
    ids = np.zeros(named.shape, dtype=np.intp)
    table: list[str] = []
    for j, phraser in enumerate(phrasers):
        rows = np.flatnonzero(named[:, j])
        if not len(rows):
            continue
        values = None if phraser.timed else _raw_column(raw, phraser.source, n)
        inverse, phrases = phraser.phrases(matrix[rows, phraser.column], values, rows)
        ids[rows, j] = len(table) + inverse
        table.extend(phrases)
    return ids, table


def _pandas_strings(text: pa.Array) -> pd.api.extensions.ExtensionArray:
    """Arrow strings as pandas' string array, without copying them into Python objects."""
    return text.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get).array


def _one_decimal(values: np.ndarray, lang: Language = ENGLISH) -> tuple[np.ndarray, pa.Array]:
    """f"{v:+.1f})" of each value (in `lang`'s digits), as codes into a table of the
    distinct texts."""
    rounded = np.round(values, 1)
    # Where v·10 sits on a half, numpy's rounding of v·10 may differ from Python's
    # rounding of v itself: those few are formatted from v.
    tenths = np.abs(values) * 10.0
    exact = np.abs(tenths - np.floor(tenths) - 0.5) < 1e-6
    rounded[exact] = values[exact]
    # by bit pattern: -0.0 and 0.0 are equal numbers but read "-0.0" and "+0.0"
    codes, uniques = pd.factorize(rounded.view(np.int64))
    texts = [
        lang.number(f"{v:+.1f})")
        for v in np.asarray(uniques, dtype=np.int64).view(np.float64).tolist()
    ]
    return codes, pa.array(texts, pa.string())


def _raw_column(raw: Any, column: str, rows: int) -> pd.Series | np.ndarray | None:
    """A raw column (taken by position), or None when the leads' raw values lack it."""
    if raw is None:
        return None
    if hasattr(raw, "columns"):
        values = raw[column] if column in raw.columns else None
    else:
        values = raw.get(column)
    if values is None:
        return None
    if len(values) != rows:
        raise LeadscoreError(
            f"raw column {column!r} has {len(values)} value(s) but the matrix has {rows} "
            "row(s); pass the raw values of the same leads, in the same order"
        )
    if isinstance(values, pd.Series):
        return values.reset_index(drop=True)
    array = np.empty(len(values), dtype=object)
    array[:] = list(values)
    return array
