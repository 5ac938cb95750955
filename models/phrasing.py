"""Phrasing: a lead's value of a feature in words a sales rep reads.

Phrases are built from the dataset spec (label, unit, type), so any spec works:
"Company size: 100-500 employees", "Industry unknown", "Country 'Atlantis' is rare or
new to the model", "Has not requested a demo" (numbers, units, enum prettifying,
negation). Where the bundle keeps the typical training lead's value (the encoder's
`reference_`, the values TreeSHAP's effects are measured against), a phrase says how
the lead's value compares (`Comparison`): "Website visits: 1 visit, fewer than the
typical lead's 3", "Company size: 25-50 employees, like the typical lead", "Has not
requested a demo, like most leads". A `Phraser` holds what does not depend on the lead
for one feature and phrases one lead's value (`phrase_of`) or the distinct values of a
column of many (`phrases`). The direction comes last, as a separate step: `sentence`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.build import OTHER, FeatureEncoder, Typical, reader_for
from features.coerce import NumberFormat, read_number_text, to_number
from features.errors import LeadscoreError
from features.spec import Derivation, FeatureSpec, FeatureType
from models.i18n import ENGLISH, N_, Language

State = Literal["present", "missing", "other"]

_MAX_QUOTE = 40


class _NoRaw:
    """Marks that no raw record was given (distinct from a raw value of None)."""

    def __repr__(self) -> str:
        return "NO_RAW"


NO_RAW: Any = _NoRaw()


# What a phrase adds when the lead's value is the typical training lead's.
LIKE_TYPICAL = N_(", like the typical lead")
LIKE_MOST = N_(", like most leads")  # a yes/no: the answer most leads give
# ... and when it is not: fewer (a plural unit) or less, or more, than the typical value
BELOW_COUNT = N_(", fewer than the typical lead's %(typical)s")
BELOW_AMOUNT = N_(", less than the typical lead's %(typical)s")
ABOVE = N_(", more than the typical lead's %(typical)s")
UNKNOWN = N_("%(label)s unknown")
UNKNOWN_ANSWER = N_("%(label)s: unknown")  # a yes/no
RARE = N_("%(label)s: a value rare or new to the model")
RARE_VALUE = N_("%(label)s %(value)s is rare or new to the model")
YES = N_("%(label)s: yes")
NO = N_("%(label)s: no")
# Category values a rep reads that are leadscore's own words (the buckets of the
# `seniority`, `email_domain_type` and `event_name` derivations of `features.coerce`) or
# HubSpot's internal values of "Original source" as prettified: messages, so they read
# in the rep's language. Any other category is the CRM's own text, shown as it is.
CATEGORY_WORDS = (
    N_("individual contributor"),
    N_("VP"),
    N_("C-level or owner"),
    N_("director or head"),
    N_("manager"),
    N_("student or intern"),
    N_("free mail"),
    N_("business"),
    N_("demo request"),
    N_("webinar or event"),
    N_("newsletter or blog"),
    N_("free trial"),
    N_("content download"),
    N_("contact sales"),
    N_("other form"),
    N_("Organic search"),
    N_("Paid search"),
    N_("Direct traffic"),
    N_("Social media"),
    N_("Referrals"),
    N_("Email marketing"),
    N_("Offline"),
    N_("Paid social"),
    N_("Other campaigns"),
)
# A factor's direction and group as the sentence ends: "… — raises fit".
DIRECTIONS = {
    ("raises", "fit"): N_("raises fit"),
    ("lowers", "fit"): N_("lowers fit"),
    ("raises", "interest"): N_("raises interest"),
    ("lowers", "interest"): N_("lowers interest"),
}


def sentence(phrase: str, direction: str, group: str, lang: Language = ENGLISH) -> str:
    """The last step: a phrase with its direction, "Seniority: VP — raises fit"."""
    if lang.is_source:
        return f"{phrase} — {direction} {group}"
    return f"{phrase} — {lang.gettext(DIRECTIONS[direction, group])}"


def format_number(value: float) -> str:
    """1234567 → "1,234,567"; 23.70 → "23.7"; 0.004 → "0.004"; never "nan"."""
    if not math.isfinite(value):
        raise ValueError(f"cannot format {value!r} for a reason")
    if float(value).is_integer():
        return f"{int(value):,}"
    if abs(value) >= 0.01:
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{value:.2g}"


def _with_unit(number: str, unit: str | None, singular: bool, lang: Language = ENGLISH) -> str:
    if not unit:
        return number
    return f"{number} {unit_word(unit, singular, lang)}"


def counted(unit: str) -> bool:
    """Whether a unit names things counted, in the plural ("visits", not "USD", "class")."""
    return unit.islower() and unit.endswith("s") and not unit.endswith("ss")


def unit_word(unit: str, singular: bool, lang: Language = ENGLISH) -> str:
    """A spec's unit (written in the plural, "visits") for one or for many, in `lang`: the
    catalogue has it as a plural message (singular "visit", plural "visits")."""
    one = unit[:-1] if counted(unit) else unit
    if lang.is_source:
        return one if singular else unit
    return lang.ngettext(one, unit, 1 if singular else 2)


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


def phrase(
    feature: FeatureSpec,
    value: Any,
    state: State,
    enum_like: bool = False,
    lang: Language = ENGLISH,
) -> str:
    """What a rep reads about one feature of a lead, without the direction.

    `value` and `state` as `lead_value` returns them. Numeric: "Company size: 300
    employees"; boolean: the label, or its negation when false; categorical: "Industry:
    Retail"; missing: "Industry unknown"; rare/unseen: "Country 'Atlantis' is rare or new
    to the model".
    """
    english = feature.readable
    label = lang.gettext(english)
    kind = feature.type
    if state == "missing":
        return lang.format(UNKNOWN_ANSWER if kind is FeatureType.boolean else UNKNOWN, label=label)
    if state == "other":
        if value is None or value == OTHER:
            return lang.format(RARE, label=label)
        return lang.format(RARE_VALUE, label=label, value=_quote(str(value)))
    if kind is FeatureType.boolean:
        negation = negate(english)
        if value == "yes":
            return label if negation is not None else lang.format(YES, label=label)
        said = None if negation is None else lang.known(negation)
        return said if said is not None else lang.format(NO, label=label)
    if kind is FeatureType.numeric:
        if isinstance(value, str):  # the lead's own text, e.g. "100-500" or "1000+"
            return f"{label}: {_with_unit(value, feature.unit, False, lang)}"
        return number_phrase(feature, float(value), lang)
    text = prettify_enum(str(value)) if enum_like and _ENUM.match(str(value)) else str(value)
    return f"{label}: {lang.gettext(text)}"


def number_phrase(feature: FeatureSpec, number: float, lang: Language = ENGLISH) -> str:
    """`phrase` of a numeric feature's present value: "Company size: 300 employees"."""
    return number_phrases(feature, [number], lang)[0]


def number_phrases(
    feature: FeatureSpec, numbers: Sequence[float], lang: Language = ENGLISH
) -> list[str]:
    """`number_phrase` of many values (whole numbers, the usual case, formatted inline)."""
    label = lang.gettext(feature.readable)
    unit = f" {unit_word(feature.unit, False, lang)}" if feature.unit else ""
    one = f"{label}: {_with_unit('1', feature.unit, True, lang)}"
    if not lang.is_source:
        number = lang.number
        return [
            one if x == 1.0 else f"{label}: {number(format_number(x))}{unit}"
            for x in map(float, numbers)
        ]
    return [
        one
        if x == 1.0
        else f"{label}: {int(x):,}{unit}"
        if x.is_integer()
        else f"{label}: {format_number(x)}{unit}"
        for x in map(float, numbers)
    ]


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


def fewer_word(feature: FeatureSpec) -> str:
    """The word for a smaller number: "fewer" for things counted in a plural unit (visits,
    employees, days), else "less" (USD, a rate without a unit)."""
    return "fewer" if counted(feature.unit or "") else "less"


class Comparison:
    """How one lead's value of a feature compares with the typical training lead's, in
    words appended to its phrase: ", fewer than the typical lead's 3", ", like the typical
    lead", ", like most leads" (a yes/no), or "" where a comparison would not help (a
    missing value; a category or a yes/no other than the usual one; no typical value).

    Numbers compare as a rep reads them (days rounded as shown, other numbers as
    formatted), so "3.8 days" is never "fewer than the typical lead's 3.8".
    """

    def __init__(
        self,
        encoder: FeatureEncoder,
        feature: FeatureSpec,
        typical: Typical,
        lang: Language = ENGLISH,
    ) -> None:
        kind = feature.type
        self.kind, self.timed = kind, feature.derive is Derivation.days_since
        self.like_typical, self.like_most = lang.gettext(LIKE_TYPICAL), lang.gettext(LIKE_MOST)
        self.code = math.nan  # the typical value as encoded (NaN: no comparison)
        self.text = ""  # the typical number as shown
        self.low = self.high = math.nan  # the numbers a typical range ("25-50") spans
        if typical is None:
            return
        if kind is FeatureType.categorical:
            categories = encoder.categories_[feature.name]
            if typical in categories:
                self.code = float(categories.index(str(typical)))
        elif kind is FeatureType.boolean:
            self.code = 1.0 if typical else 0.0
        else:
            if isinstance(typical, str):  # the text it was read from, "25-50"
                read = reader_for(feature, encoder.spec.numbers)
                number = float(read(typical, feature.source, ()))
                self.text = typical
                # a lead's 40 employees are like the typical 25-50, not more
                self.low, self.high = _bounds(typical, encoder.spec.numbers, number)
            else:
                number = float(typical)
                if self.timed:
                    number = float(shown_days(np.array([number]))[0])
                self.text = format_number(number)
            self.code = number
            fewer = fewer_word(feature)
            # "fewer than the typical lead's 2" (pages: said by the lead's own value), but
            # "less than the typical lead's 2,169,000 USD": an amount keeps its unit
            shown = lang.number(self.text)
            if fewer == "less" and feature.unit:
                shown += f" {unit_word(feature.unit, False, lang)}"
            below = BELOW_COUNT if fewer == "fewer" else BELOW_AMOUNT
            self.below = lang.format(below, typical=shown)
            self.above = lang.format(ABOVE, typical=shown)

    def __call__(self, encoded: float) -> str:
        """The words for one lead's encoded value (days as encoded, not yet rounded)."""
        typical = self.code
        if typical != typical or encoded != encoded:
            return ""
        if self.kind is FeatureType.categorical:
            return self.like_typical if encoded == typical else ""
        if self.kind is FeatureType.boolean:
            return self.like_most if (encoded >= 0.5) == (typical >= 0.5) else ""
        if self.timed:
            encoded = float(shown_days(np.array([encoded]))[0])
        return self.of_number(encoded)

    def of_number(self, number: float) -> str:
        """The words for a number as shown (days already rounded)."""
        typical = self.code
        if self.low <= number <= self.high:  # never, without a typical range
            return self.like_typical
        # numbers further apart than 0.01 never read alike (`format_number`)
        if number == typical or (
            abs(number - typical) <= 0.01 and format_number(number) == format_number(typical)
        ):
            return self.like_typical
        if self.low == self.low:
            return self.below if number < self.low else self.above
        return self.below if number < typical else self.above

    def __bool__(self) -> bool:
        return self.code == self.code


_RANGE = re.compile(r"^(.+?)\s*-\s*(.+)$")


def _bounds(text: str, numbers: NumberFormat, number: float) -> tuple[float, float]:
    """The numbers a range written as text spans: "25-50" → (25, 50), "1000+" → (1000, ∞);
    (NaN, NaN) for the text of a single number."""
    if text.endswith("+"):
        low = read_number_text(text[:-1].strip(), numbers)
        return (low, math.inf) if low == number else (math.nan, math.nan)
    if match := _RANGE.match(text):
        low, high = (read_number_text(part.strip(), numbers) for part in match.groups())
        if low is not None and high is not None and (low + high) / 2.0 == number:
            return low, high
    return math.nan, math.nan


def typical_phrase(
    encoder: FeatureEncoder, feature: FeatureSpec, lang: Language = ENGLISH
) -> str | None:
    """The typical training lead's value of a feature, phrased as a lead's would be
    ("Website visits: 7 visits", "Company size: 25-50 employees", "Has not requested a
    demo", "Industry: Software"), or None when the bundle keeps none for it.

    For describing the model's features in general (e.g. an alignment sheet), not a lead.
    """
    typical = getattr(encoder, "reference_", {}).get(feature.name)
    if typical is None:
        return None
    if feature.type is FeatureType.boolean:
        return phrase(feature, "yes" if typical else "no", "present", lang=lang)
    if feature.type is FeatureType.categorical:
        enum_like = is_enum_like(encoder.categories_[feature.name])
        return phrase(feature, typical, "present", enum_like, lang)
    if isinstance(typical, str):
        return phrase(feature, typical, "present", lang=lang)
    number = float(typical)
    if feature.derive is Derivation.days_since:
        number = float(shown_days(np.array([number]))[0])
    return number_phrase(feature, number, lang)


class Phraser:
    """Phrases one feature of a bundle (what does not depend on the lead is kept here)."""

    def __init__(
        self, encoder: FeatureEncoder, feature: FeatureSpec, lang: Language = ENGLISH
    ) -> None:
        self.encoder = encoder
        self.feature = feature
        self.lang = lang
        self.name, self.source, self.label = feature.name, feature.source, feature.readable
        self.column = encoder.feature_names_.index(feature.name)
        kind = feature.type
        self.enum_like = kind is FeatureType.categorical and is_enum_like(
            encoder.categories_[feature.name]
        )
        # Codes below `coded` say all there is (a yes/no, a known category); at or above
        # it (rare/unseen categories, every number) the raw text may be worth quoting.
        if kind is FeatureType.categorical:
            self.coded = float(len(encoder.categories_[feature.name]))
        else:
            self.coded = math.inf if kind is FeatureType.boolean else -math.inf
        # a timestamp's raw text is never quoted: the days are what a rep reads
        self.timed = feature.derive is Derivation.days_since
        # the typical training lead's value (None for a bundle saved before it was kept)
        typical = getattr(encoder, "reference_", {}).get(feature.name)
        self.compare = Comparison(encoder, feature, typical, lang)

    def phrase_of(
        self,
        encoded: float,
        record: Mapping[Any, Any] | None,
        words: dict[tuple[Any, ...], tuple[Any, str]],
    ) -> tuple[Any, str]:
        """(the lead's value, its phrase) from its encoded number and its raw record (None:
        not given); `words` keeps a batch's phrases for reuse."""
        if encoded != encoded:  # NaN: missing, whatever the raw record says
            key: Any = (self.column, None)
            raw: Any = NO_RAW
        elif encoded < self.coded:
            key = (self.column, encoded)
            raw = NO_RAW
        else:
            raw = NO_RAW if record is None else record.get(self.source)
            key = (self.column, encoded, type(raw), raw)
        try:
            cached = words.get(key)
        except TypeError:  # an unhashable raw value: no reuse
            key, cached = None, None
        if cached is None:
            value, state = lead_value(self.encoder, self.feature, encoded, raw)
            text = phrase(self.feature, value, state, self.enum_like, self.lang)
            if self.compare and state == "present":  # days: as `lead_value` rounded them
                text += (
                    self.compare.of_number(float(value)) if self.timed else self.compare(encoded)
                )
            cached = (value, text)
            if key is not None:
                words[key] = cached
        return cached

    def phrases(
        self, encoded: np.ndarray, values: pd.Series | np.ndarray | None, rows: np.ndarray
    ) -> tuple[np.ndarray, list[str]]:
        """The phrases of many leads' values, each distinct one built once.

        `encoded`: the leads' encoded values (rows `rows` of the matrix); `values`: the raw
        column of every lead of the matrix (None: not given; never read for a timestamp's
        days). Returns (each lead's number
        into the phrases, the phrases). A phrase depends on the encoded value and, for
        numbers and rare or unseen categories, on the raw text.
        """
        feature, timed = self.feature, self.timed
        if timed:
            encoded = shown_days(encoded)
            values = None
        numeric = feature.type is FeatureType.numeric and (feature.derive is None or timed)
        quoted = ~(np.isnan(encoded) | (encoded < self.coded)) & (values is not None)
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
        firsts = encoded[first]
        # a number read as such (no text to quote) is phrased in one batch
        as_number = ~np.isnan(firsts) & ~(quoted[first] & (raw_codes[first] >= 0)) & numeric
        out = np.empty(len(first), dtype=object)
        compare = self.compare
        numbers = firsts[as_number].tolist()
        texts = number_phrases(feature, numbers, self.lang)
        if compare:  # days are already rounded as shown
            texts = [t + compare.of_number(x) for t, x in zip(texts, numbers, strict=True)]
        out[as_number] = texts
        for i in np.flatnonzero(~as_number).tolist():
            at = first[i]
            raw_value = uniques[raw_codes[at]] if quoted[at] else NO_RAW
            value, state = lead_value(self.encoder, feature, float(encoded[at]), raw_value)
            text = phrase(feature, value, state, self.enum_like, self.lang)
            if compare and state == "present":
                text += compare.of_number(float(encoded[at])) if numeric else compare(encoded[at])
            out[i] = text
        return inverse, out.tolist()


def spec_messages(spec: Any) -> list[tuple[str, ...]]:
    """The messages of a dataset spec: each feature's label (and a yes/no label's
    negation, "Has not requested a demo"), and its unit as a plural message (singular,
    plural), e.g. ("visit", "visits")."""
    found: dict[tuple[str, ...], None] = {}
    for feature in spec.features:
        found[(feature.readable,)] = None
        negation = negate(feature.readable) if feature.type == "boolean" else None
        if negation is not None:
            found[(negation,)] = None
        unit = feature.unit
        if unit:
            found[(unit[:-1] if counted(unit) else unit, unit)] = None
    return list(found)


def extract_spec(
    fileobj: Any, keywords: Any, comment_tags: Any, options: Any
) -> list[tuple[int, str, Any, list[str]]]:
    """A Babel extractor (babel.cfg) for the built-in dataset specs: their labels and
    units, with the features the event log adds (`spec_messages`)."""
    import yaml

    from features.spec import parse_spec

    spec = parse_spec(yaml.safe_load(fileobj.read()), getattr(fileobj, "name", "<spec>"))
    return [
        (
            1,
            "gettext" if len(message) == 1 else "ngettext",
            message[0] if len(message) == 1 else message,
            [],
        )
        for message in spec_messages(spec)
    ]
