"""Reasons a sales rep can read: the factors behind each lead's fit and interest scores.

The factors come from exact TreeSHAP (LightGBM's `pred_contrib`): per lead, one value φ_i
per feature in raw-margin units plus the bias b (the expected margin), with
b + Σφ_i = the booster's margin m. Reps read scores on the 0–100 probability scale, so
each φ_i is turned into score points by spreading the calibrated difference over the
features in proportion to their share of the margin:

    effect_i = φ_i · (cal(m) − cal(b)) / (m − b) · 100

Hence Σ effect_i = score − baseline exactly, where baseline = 100 · cal(b) is the score of
a lead whose every feature sits at its expected contribution. An increasing calibrator
(isotonic, or a sigmoid with a positive slope — what training produces) keeps the sign
of every φ_i. When m == b the secant is undefined and the calibrator's local slope at b
is used instead. A sigmoid with a negative slope (a booster ranking backwards, which
training would not ship) gets the same signed ratio: effects then carry the sign of
their pull on the *score*, opposite to φ_i, so "raises fit" always means the score is
higher because of it. With a flat stretch of an isotonic calibrator (cal(m) == cal(b)
while m != b) every effect is 0 and the lead has no reasons: its score is the baseline.

Sentences are built from the dataset spec (label, unit, type), so any spec works:
"Company size: 100-500 employees — raises fit", "Industry unknown — lowers fit",
"Country 'Atlantis' is rare or new to the model — lowers fit",
"Has not requested a demo — lowers interest".
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal
from weakref import WeakKeyDictionary

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.build import OTHER, FeatureEncoder, reader_for
from features.coerce import to_number
from features.errors import LeadscoreError
from features.spec import Derivation, FeatureSpec, FeatureType
from features.timestamps import AsOf
from models.scorer import LeadScorer, SubModel

GROUPS: tuple[str, ...] = ("fit", "interest")

State = Literal["present", "missing", "other"]

# Effects smaller than this many score points are rounding noise, never reasons.
_ZERO_EFFECT = 1e-9
# Σφ and the booster's margin − bias agree to ~1e-15; below this the secant is meaningless.
_ZERO_MARGIN = 1e-12
_MAX_QUOTE = 40


class _NoRaw:
    """Marks that no raw record was given (distinct from a raw value of None)."""

    def __repr__(self) -> str:
        return "NO_RAW"


NO_RAW: Any = _NoRaw()


# --- numbers: TreeSHAP → score points ---------------------------------------------------------


def contributions(model: SubModel, matrix: np.ndarray) -> np.ndarray:
    """TreeSHAP values of one sub-model (n × (features + 1), bias last), one call per batch."""
    return model.contributions(matrix)


def local_slope(calibrator: Any, at: np.ndarray) -> np.ndarray:
    """d cal / d margin at `at` by a central difference (works for isotonic and sigmoid)."""
    at = np.asarray(at, dtype=np.float64)
    step = 1e-6 * np.maximum(1.0, np.abs(at))
    up = calibrator.predict(at + step)
    down = calibrator.predict(at - step)
    return np.asarray((up - down) / (2.0 * step), dtype=np.float64)


def effects_from_contributions(
    model: SubModel, contrib: np.ndarray, margin: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Effects in score points from TreeSHAP values and the booster's margin.

    Returns (effects n × features, baseline n, score n), score = 100 · cal(margin) as the
    scorer computes it, and every row satisfies Σ effects == score − baseline.
    """
    phi = contrib[:, :-1]
    bias = contrib[:, -1]
    calibrate = model.calibrator.predict
    score = 100.0 * np.asarray(calibrate(margin), dtype=np.float64)
    baseline = 100.0 * np.asarray(calibrate(bias), dtype=np.float64)
    delta = phi.sum(axis=1)
    # Dividing by Σφ (not margin − bias) makes the effects add up to the score exactly.
    level = _ZERO_MARGIN * (1.0 + np.abs(bias) + np.abs(phi).sum(axis=1))
    flat = np.abs(delta) <= level
    ratio = np.empty(len(phi), dtype=np.float64)
    ratio[~flat] = (score - baseline)[~flat] / delta[~flat]
    if flat.any():
        ratio[flat] = 100.0 * local_slope(model.calibrator, bias[flat])
    return phi * ratio[:, None], baseline, score


def margin_of(contrib: np.ndarray) -> np.ndarray:
    """The booster's margin from its TreeSHAP values: bias + Σφ (predict's to ~1e-15)."""
    return np.asarray(contrib.sum(axis=1), dtype=np.float64)


def effects(
    scorer: LeadScorer, group: str, matrix: np.ndarray, margin: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every feature's effect on the `group` score ("fit" or "interest"), in score points.

    Columns follow `scorer.models[group].features`. Returns (effects, baseline, score),
    each row with Σ effects == score − baseline; score equals the scorer's own score.
    `margin`: the sub-model's margin of these rows when already computed.
    """
    model = _submodel(scorer, group)
    matrix = _check_matrix(scorer, matrix)
    if len(matrix) == 0:
        width = len(model.features)
        return np.empty((0, width)), np.empty(0), np.empty(0)
    if margin is None:
        margin = model.margin(matrix)
    return effects_from_contributions(model, contributions(model, matrix), margin)


# --- words: a lead's value → a sentence -------------------------------------------------------


def format_number(value: float) -> str:
    """1234567 → "1,234,567"; 23.70 → "23.7"; 0.004 → "0.004"; never "nan"."""
    if not math.isfinite(value):
        raise ValueError(f"cannot format {value!r} for a reason")
    if float(value).is_integer():
        return f"{int(value):,}"
    if abs(value) >= 0.01:
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{value:.2g}"


def _with_unit(number: str, unit: str | None, singular: bool) -> str:
    if not unit:
        return number
    if singular and unit.islower() and unit.endswith("s") and not unit.endswith("ss"):
        unit = unit[:-1]
    return f"{number} {unit}"


_ENUM = re.compile(r"^[A-Z0-9]+(?:_[A-Z0-9]+)*$")


def is_enum_like(categories: Sequence[str]) -> bool:
    """Categories that are CRM internal values (`ORGANIC_SEARCH`, `OFFLINE`): shown prettified."""
    return (
        bool(categories)
        and all(_ENUM.match(c) for c in categories)
        and any("_" in c for c in categories)
    )


def prettify_enum(value: str) -> str:
    """`ORGANIC_SEARCH` → "Organic search"; words of one or two letters stay upper case (AI)."""
    words = value.split("_")
    out = [w if len(w) <= 2 else w.lower() for w in words]
    out[0] = out[0][:1].upper() + out[0][1:]
    return " ".join(out)


def _quote(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > _MAX_QUOTE:
        text = text[: _MAX_QUOTE - 1].rstrip() + "…"
    return f"'{text}'"


def _words(text: str) -> list[str]:
    return text.split()


# Past tenses whose participle differs, and ones whose participle is the same word.
_IRREGULAR_PARTICIPLE = dict(
    pair.split(":")
    for pair in _words(
        "saw:seen came:come went:gone took:taken gave:given wrote:written spoke:spoken "
        "chose:chosen began:begun did:done became:become ran:run knew:known forgot:forgotten "
        "heard:heard made:made bought:bought sent:sent left:left found:found met:met "
        "spent:spent brought:brought told:told won:won got:got read:read held:held kept:kept"
    )
)
# -ed words that usually open an adjective phrase, not a past-tense action.
_ADJECTIVAL = frozenset(
    _words(
        "interested based located related involved experienced employed unemployed retired "
        "married skilled certified limited advanced dedicated detailed preferred closed "
        "qualified verified"
    )
)
# A verb is taken as a verb when what follows it is one of these (or nothing).
_VERB_FOLLOWERS = frozenset(
    _words(
        "a an the to for in on at out up via with from about through by into over back off "
        "down our your their us it them this that any some more one all"
    )
)
_AUXILIARY = {
    "is": "Is not",
    "was": "Was not",
    "are": "Are not",
    "were": "Were not",
    "can": "Cannot",
    "has": "Does not have",
    "have": "Does not have",
}


def negate(label: str) -> str | None:
    """The negation of a yes/no label, or None when no safe one is known.

    "Requested a demo" → "Has not requested a demo"; "Saw a search ad" → "Has not seen a
    search ad"; "Is a customer" → "Is not a customer". The present perfect needs only the
    participle, which for regular verbs is the label's own word: no guessing of stems.
    """
    words = label.split()
    if not words:
        return None
    first, rest = words[0].lower(), words[1:]
    tail = " ".join(rest)
    if first in _AUXILIARY and rest:
        return f"{_AUXILIARY[first]} {tail}"
    if rest and rest[0].lower() not in _VERB_FOLLOWERS:
        return None
    if first in _IRREGULAR_PARTICIPLE:
        participle = _IRREGULAR_PARTICIPLE[first]
    elif (
        first.isalpha()
        and len(first) > 3
        and first.endswith("ed")
        and not first.endswith("eed")
        and first not in _ADJECTIVAL
    ):
        participle = first
    else:
        return None
    return f"Has not {participle} {tail}".rstrip()


def phrase(feature: FeatureSpec, value: Any, state: State, enum_like: bool = False) -> str:
    """What a rep reads about one feature of a lead, without the direction.

    `value` and `state` as `lead_value` returns them. Numeric: "Company size: 300
    employees"; boolean: the label, or its negation when false; categorical: "Industry:
    Retail"; missing: "Industry unknown"; rare/unseen: "Country 'Atlantis' is rare or new
    to the model".
    """
    label = feature.readable
    kind = feature.type
    if state == "missing":
        return f"{label}: unknown" if kind is FeatureType.boolean else f"{label} unknown"
    if state == "other":
        if value is None or value == OTHER:
            return f"{label}: a value rare or new to the model"
        return f"{label} {_quote(str(value))} is rare or new to the model"
    if kind is FeatureType.boolean:
        negation = negate(label)
        if value == "yes":
            return label if negation is not None else f"{label}: yes"
        return negation if negation is not None else f"{label}: no"
    if kind is FeatureType.numeric:
        if isinstance(value, str):  # the lead's own text, e.g. "100-500" or "1000+"
            return f"{label}: {_with_unit(value, feature.unit, singular=False)}"
        return number_phrase(feature, float(value))
    text = prettify_enum(str(value)) if enum_like and _ENUM.match(str(value)) else str(value)
    return f"{label}: {text}"


def number_phrase(feature: FeatureSpec, number: float) -> str:
    """`phrase` of a numeric feature's present value: "Company size: 300 employees"."""
    return number_phrases(feature, [number])[0]


def number_phrases(feature: FeatureSpec, numbers: Sequence[float]) -> list[str]:
    """`number_phrase` of many values (whole numbers, the usual case, formatted inline)."""
    label, unit = feature.readable, f" {feature.unit}" if feature.unit else ""
    one = f"{label}: {_with_unit('1', feature.unit, singular=True)}"
    return [
        one
        if x == 1.0
        else f"{label}: {int(x):,}{unit}"
        if x.is_integer()
        else f"{label}: {format_number(x)}{unit}"
        for x in map(float, numbers)
    ]


def sentence(
    feature: FeatureSpec,
    value: Any,
    state: State,
    group: str,
    effect: float,
    enum_like: bool = False,
) -> str:
    """`phrase` plus the direction: "… — raises fit" / "… — lowers interest"."""
    direction = "raises" if effect > 0 else "lowers"
    return f"{phrase(feature, value, state, enum_like)} — {direction} {group}"


def lead_value(
    encoder: FeatureEncoder, feature: FeatureSpec, encoded: float, raw: Any = NO_RAW
) -> tuple[Any, State]:
    """The lead's value of one feature for display, and whether it is present/missing/other.

    From the encoded number, quoting the raw record where it says more: a range such as
    "100-500" employees, or the actual text of a rare or unseen category. A raw value that
    does not read as the encoded one (a mismatched record) is ignored.
    """
    if math.isnan(encoded):
        return None, "missing"
    kind = feature.type
    if kind is FeatureType.boolean:
        return ("yes" if encoded >= 0.5 else "no"), "present"
    if kind is FeatureType.numeric:
        if feature.derive is Derivation.days_since:
            shown = float(shown_days(np.array([encoded]))[0])
            return (int(shown) if shown.is_integer() else shown), "present"
        if feature.derive is None and _quotable(raw) and _reads_as(raw, encoded, feature, encoder):
            return " ".join(raw.split()), "present"
        return (
            int(encoded) if encoded.is_integer() and abs(encoded) < 2**53 else float(encoded)
        ), "present"
    category = encoder.decode(feature.name, encoded)
    if category != OTHER:
        return category, "present"
    if raw is not NO_RAW:
        text: str | None
        try:
            text = reader_for(feature)(raw, feature.source, encoder.spec.missing_tokens)
        except LeadscoreError:
            text = None
        if text is not None and text not in encoder.categories_[feature.name]:
            return text, "other"
    return OTHER, "other"


def shown_days(days: np.ndarray) -> np.ndarray:
    """Days as a rep reads them: tenths below ten days ("3.8 days"), whole days above
    ("24 days"). Reasons of many leads then share their sentences."""
    return np.where(days < 10, np.round(days, 1), np.round(days))


def _quotable(raw: Any) -> bool:
    """Whether `lead_value` may show this raw value of a number as text ("100-500")."""
    if not isinstance(raw, str):
        return False
    try:
        float(" ".join(raw.split()))
    except ValueError:
        return True
    return False


def _reads_as(raw: str, encoded: float, feature: FeatureSpec, encoder: FeatureEncoder) -> bool:
    try:
        return to_number(raw, feature.source, encoder.spec.missing_tokens) == encoded
    except LeadscoreError:
        return False


# --- the reasons ----------------------------------------------------------------------------


def explain(
    scorer: LeadScorer,
    matrix: np.ndarray,
    raw: Sequence[Mapping[Any, Any]] | None = None,
    k: int = 3,
    *,
    min_effect: float = 0.0,
    margins: Mapping[str, np.ndarray] | None = None,
) -> list[dict[str, dict[str, Any]]]:
    """Top-k positive and negative factors of the fit and the interest score, per lead.

    `matrix`: rows encoded by `scorer.encoder`; `raw`: the same leads' raw records (dicts
    or a DataFrame; or None) so reasons can quote the lead's own text. Per lead: ``{"fit": group,
    "interest": group}``, group = ``{"score", "baseline", "positive", "negative"}``, each
    factor ``{"feature", "column", "label", "value", "effect", "text"}`` with `effect` in
    score points (0–100 scale); positive factors by decreasing effect, negative ones by
    increasing effect (largest |effect| first). One `pred_contrib` call per sub-model.
    `min_effect` (score points) leaves out factors too small to matter to a rep; by
    default only effects that are 0 (to rounding) are left out. `margins`: the
    sub-models' margins of these rows when already computed (`LeadScorer.margins`).
    """
    matrix = _check_matrix(scorer, matrix)
    _check_limits(k, min_effect)
    if raw is not None and hasattr(raw, "columns") and hasattr(raw, "to_dict"):
        raw = raw.to_dict("records")  # a DataFrame: its rows, not its columns
    if raw is not None and len(raw) != len(matrix):
        raise LeadscoreError(
            f"raw has {len(raw)} record(s) but the matrix has {len(matrix)} row(s); "
            "pass the raw records of the same leads, in the same order"
        )
    out: list[dict[str, dict[str, Any]]] = [{} for _ in range(len(matrix))]
    if not len(matrix):
        return out
    rows = matrix.tolist()
    for group in GROUPS:
        margin = margins.get(group) if margins else None
        effect, baseline, score = effects(scorer, group, matrix, margin)
        phrasers = _phrasers(scorer, group)
        words: dict[Any, tuple[Any, str]] = {}  # one batch's sentences, reused
        scores, baselines = score.tolist(), baseline.tolist()
        up, up_effect, up_count = (a.tolist() for a in _top(effect, k, min_effect, 1.0))
        down, down_effect, down_count = (a.tolist() for a in _top(effect, k, min_effect, -1.0))
        for i in range(len(rows)):
            record = raw[i] if raw is not None else None
            row = rows[i]
            out[i][group] = {
                "score": scores[i],
                "baseline": baselines[i],
                "positive": [
                    phrasers[j].factor(row, record, e, words)
                    for j, e in zip(up[i][: up_count[i]], up_effect[i], strict=False)
                ],
                "negative": [
                    phrasers[j].factor(row, record, e, words)
                    for j, e in zip(down[i][: down_count[i]], down_effect[i], strict=False)
                ],
            }
    return out


def explain_records(
    scorer: LeadScorer,
    records: Sequence[Mapping[Any, Any]],
    k: int = 3,
    *,
    min_effect: float = 0.0,
    as_of: AsOf | None = None,
) -> list[dict[str, dict[str, Any]]]:
    """`explain` for leads given as raw dicts (absent keys are missing), no pandas;
    features as of `as_of` (default: now)."""
    if not records:
        return []
    rows, matrix = scorer.encode_records(records, as_of)
    return explain(scorer, matrix, rows, k, min_effect=min_effect)


def reason_texts(
    scorer: LeadScorer,
    matrix: np.ndarray,
    raw: Any = None,
    k: int = 3,
    *,
    min_effect: float = 0.0,
    contributions: Mapping[str, np.ndarray] | None = None,
    groups: Sequence[str] = GROUPS,
) -> dict[str, pd.api.extensions.ExtensionArray]:
    """Each lead's top-k fit and interest factors as one line of text, for batch outputs.

    The factors and sentences of `explain`, written "sentence (+effect)", positive ones
    first, joined by "; " — but built per distinct value of a feature instead of per lead,
    so a million leads cost little more than their TreeSHAP values. `raw`: the same leads'
    raw values (a DataFrame, or a mapping column → values; only the features' source
    columns are read) so sentences can quote the lead's own text. `contributions`: each
    group's TreeSHAP values of these rows when already computed. Returns
    ``{"fit": texts, "interest": texts}`` (or the `groups` asked for), pandas string arrays
    backed by the Arrow strings they were built as ("" for a lead without reasons).
    """
    matrix = _check_matrix(scorer, matrix)
    _check_limits(k, min_effect)
    out: dict[str, pd.api.extensions.ExtensionArray] = {}
    n = len(matrix)
    for group in groups:
        model = _submodel(scorer, group)
        if n == 0:
            out[group] = _pandas_strings(pa.array([], pa.string()))
            continue
        contrib = (contributions or {}).get(group)
        if contrib is None:
            contrib = model.contributions(matrix)
        effect = effects_from_contributions(model, contrib, margin_of(contrib))[0]
        tops = {
            direction: _top(effect, k, min_effect, sign)
            for direction, sign in (("raises", 1.0), ("lowers", -1.0))
        }
        ids, table = _batch_phrases(scorer, group, matrix, raw, tops.values())
        phrases = pa.array(table, pa.string())
        # Strings are put together by Arrow, in C: per (direction, rank) a column of
        # "; sentence (" pieces and one of "+effect)" (null where the lead has no such
        # factor), joined in one call. A lead's first factor has no "; " before it: the
        # pieces table holds each sentence twice, with the separator and (after it) without.
        first_lowers = tops["raises"][2] == 0  # a lead whose first factor lowers the score
        columns: list[pa.Array] = []
        for direction, (order, top_effect, count) in tops.items():
            ending = f" — {direction} {group} ("
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
                codes, numbers = _one_decimal(top_effect[:, rank])
                columns.append(pc.take(pieces, pa.array(at, mask=absent)))
                columns.append(pc.take(numbers, pa.array(codes, mask=absent)))
        # null_handling="skip" drops whole rows in pyarrow 25: nulls become "" instead.
        text = (
            pc.binary_join_element_wise(*columns, "", null_handling="replace", null_replacement="")
            if columns
            else pa.array([""] * n, pa.string())  # no lead has a reason (k = 0, flat scores)
        )
        out[group] = _pandas_strings(text)
    return out


def _pandas_strings(text: pa.Array) -> pd.api.extensions.ExtensionArray:
    """Arrow strings as pandas' string array, without copying them into Python objects."""
    return text.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get).array


def _one_decimal(values: np.ndarray) -> tuple[np.ndarray, pa.Array]:
    """f"{v:+.1f})" of each value, as codes into a table of the distinct texts."""
    rounded = np.round(values, 1)
    # Where v·10 sits on a half, numpy's rounding of v·10 may differ from Python's
    # rounding of v itself: those few are formatted from v.
    tenths = np.abs(values) * 10.0
    exact = np.abs(tenths - np.floor(tenths) - 0.5) < 1e-6
    rounded[exact] = values[exact]
    # by bit pattern: -0.0 and 0.0 are equal numbers but read "-0.0" and "+0.0"
    codes, uniques = pd.factorize(rounded.view(np.int64))
    texts = [f"{v:+.1f})" for v in np.asarray(uniques, dtype=np.int64).view(np.float64).tolist()]
    return codes, pa.array(texts, pa.string())


def _batch_phrases(
    scorer: LeadScorer,
    group: str,
    matrix: np.ndarray,
    raw: Any,
    tops: Any,
) -> tuple[np.ndarray, list[str]]:
    """The `phrase` of each (lead, feature) some top list names, as ids into a table.

    Returns (ids n × features, 0 where not named; the phrases). A phrase depends on the
    encoded value and, for numbers and rare or unseen categories, on the raw text: it is
    built once per distinct (encoded, raw) pair.
    """
    phrasers = _phrasers(scorer, group)
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
        encoded = matrix[rows, phraser.column]
        timed = phraser.feature.derive is Derivation.days_since
        if timed:  # a timestamp's raw text is never quoted: the days are what a rep reads
            encoded = shown_days(encoded)
        numeric = phraser.feature.type is FeatureType.numeric and (
            phraser.feature.derive is None or timed
        )
        values = None if timed else _raw_column(raw, phraser.source, n)
        quoted = ~(np.isnan(encoded) | (encoded < phraser.coded)) & (values is not None)
        if numeric and values is not None and quoted.any():
            quoted[quoted] = ~_plain_numbers(values.take(rows[quoted]))
        key = pd.factorize(encoded, use_na_sentinel=False)[0].astype(np.int64)
        raw_codes, uniques = np.zeros(len(rows), dtype=np.int64), []
        if values is not None and quoted.any():
            codes, found = pd.factorize(values.take(rows[quoted]), use_na_sentinel=False)
            uniques = found.tolist()
            if numeric:  # a plain number reads as its encoded value: no need to quote it
                plain = np.fromiter(
                    (not _quotable(u) for u in uniques), dtype=bool, count=len(uniques)
                )
                codes = np.where(plain[codes], -1, codes)
            raw_codes[quoted] = codes
            key[quoted] += (codes.astype(np.int64) + 1) * len(rows)
        inverse = pd.factorize(key)[0]
        # codes count up in order of first appearance: a distinct key first occurs where
        # the running maximum of the codes grows
        grows = np.maximum.accumulate(inverse)
        first = np.flatnonzero(np.r_[True, grows[1:] > grows[:-1]])
        firsts, feature = encoded[first], phraser.feature
        # a number read as such (no text to quote) is phrased in one batch
        as_number = ~np.isnan(firsts) & ~(quoted[first] & (raw_codes[first] >= 0)) & numeric
        phrases = np.empty(len(first), dtype=object)
        phrases[as_number] = number_phrases(feature, firsts[as_number].tolist())
        for i in np.flatnonzero(~as_number).tolist():
            at = first[i]
            raw_value = uniques[raw_codes[at]] if quoted[at] else NO_RAW
            value, state = lead_value(phraser.encoder, feature, float(encoded[at]), raw_value)
            phrases[i] = phrase(feature, value, state, phraser.enum_like)
        ids[rows, j] = len(table) + inverse
        table.extend(phrases.tolist())
    return ids, table


# Text that Python's float() reads, so a number's raw value is never quoted.
_SPACE = r"[ \t\n\r\f\v]*"
_PLAIN_NUMBER = rf"{_SPACE}[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?{_SPACE}"


def _plain_numbers(values: pd.Series | np.ndarray) -> np.ndarray:
    """Which raw values of a number are surely plain numbers (not text worth quoting).

    Vectorised for text and numeric columns; False (unknown: `_quotable` decides) for the
    rest and for text that is not a plain decimal number.
    """
    if isinstance(values, pd.Series):
        if isinstance(values.dtype, pd.StringDtype):
            matched = pc.match_substring_regex(pa.array(values), f"^{_PLAIN_NUMBER}$")
            return np.asarray(matched.fill_null(False), dtype=bool)
        if pd.api.types.is_numeric_dtype(values.dtype):
            return np.ones(len(values), dtype=bool)
    return np.zeros(len(values), dtype=bool)


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


class _Phraser:
    """Builds the factors of one feature of a scorer (what does not depend on the lead)."""

    def __init__(self, scorer: LeadScorer, name: str, group: str) -> None:
        self.encoder = scorer.encoder
        self.feature = next(f for f in scorer.spec.features if f.name == name)
        self.name, self.source, self.label = name, self.feature.source, self.feature.readable
        self.column = self.encoder.feature_names_.index(name)
        self.group = group
        kind = self.feature.type
        self.enum_like = kind is FeatureType.categorical and is_enum_like(
            self.encoder.categories_[name]
        )
        # Codes below `coded` say all there is (a yes/no, a known category); at or above
        # it (rare/unseen categories, every number) the raw text may be worth quoting.
        if kind is FeatureType.categorical:
            self.coded = float(len(self.encoder.categories_[name]))
        else:
            self.coded = math.inf if kind is FeatureType.boolean else -math.inf

    def factor(
        self,
        row: list[float],
        record: Mapping[Any, Any] | None,
        effect: float,
        words: dict[tuple[Any, ...], tuple[Any, str]],
    ) -> dict[str, Any]:
        feature = self.feature
        encoded = row[self.column]
        if encoded != encoded:  # NaN: missing, whatever the raw record says
            key: Any = (self.column, None, effect > 0)
            raw: Any = NO_RAW
        elif encoded < self.coded:
            key = (self.column, encoded, effect > 0)
            raw = NO_RAW
        else:
            raw = NO_RAW if record is None else record.get(self.source)
            key = (self.column, encoded, effect > 0, type(raw), raw)
        try:
            cached = words.get(key)
        except TypeError:  # an unhashable raw value: no reuse
            key, cached = None, None
        if cached is None:
            value, state = lead_value(self.encoder, feature, encoded, raw)
            cached = (value, sentence(feature, value, state, self.group, effect, self.enum_like))
            if key is not None:
                words[key] = cached
        value, text = cached
        return {
            "feature": self.name,
            "column": self.source,
            "label": self.label,
            "value": value,
            "effect": effect,
            "text": text,
        }


_PHRASERS: WeakKeyDictionary[LeadScorer, dict[str, tuple[Any, list[_Phraser]]]] = (
    WeakKeyDictionary()
)


def _phrasers(scorer: LeadScorer, group: str) -> list[_Phraser]:
    """The phrasers of a group's features, built once per scorer (and rebuilt if it changes)."""
    model = scorer.models[group]
    features = tuple(model.features)
    known = _PHRASERS.setdefault(scorer, {})
    entry = known.get(group)
    if entry is None or not (
        entry[0][0] is scorer.spec and entry[0][1] is scorer.encoder and entry[0][2] == features
    ):
        entry = (
            (scorer.spec, scorer.encoder, features),
            [_Phraser(scorer, name, group) for name in features],
        )
        known[group] = entry
    return entry[1]


def _top(
    effect: np.ndarray, k: int, min_effect: float, sign: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Up to k effects of one sign per row, largest |effect| first, as three arrays:
    feature indices (n × k), effects (n × k), and how many of them qualify per row (the
    rest are padding).

    Effects within rounding noise of 0 (or below `min_effect`) are no reason either way.
    Ties keep feature order.
    """
    n, width = effect.shape
    take = min(k, width)
    floor = max(_ZERO_EFFECT, min_effect)
    signed = sign * effect
    keyed = np.where(signed > floor, signed, -np.inf)
    order = np.argsort(-keyed, axis=1, kind="stable")[:, :take]
    rows = np.arange(n)[:, None]
    count = np.isfinite(keyed[rows, order]).sum(axis=1)
    return order, effect[rows, order], count


def _check_limits(k: Any, min_effect: Any) -> None:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
        raise LeadscoreError(f"k (reasons per direction) must be a whole number ≥ 0, got {k!r}")
    if not (isinstance(min_effect, int | float) and min_effect >= 0):
        raise LeadscoreError(f"min_effect must be a number of score points ≥ 0, got {min_effect!r}")


def _submodel(scorer: LeadScorer, group: str) -> SubModel:
    if group not in GROUPS:
        raise LeadscoreError(f"reasons exist for the groups {GROUPS}, not {group!r}")
    return scorer.models[group]


def _check_matrix(scorer: LeadScorer, matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float64)
    width = len(scorer.encoder.feature_names_)
    if matrix.ndim != 2 or matrix.shape[1] != width:
        raise LeadscoreError(
            f"expected an encoded matrix of shape (leads, {width}) from scorer.encoder, "
            f"got shape {matrix.shape}"
        )
    return matrix
