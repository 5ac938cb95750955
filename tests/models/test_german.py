"""German for German teams (`models.i18n` and its catalogue): reasons, decisions and next
actions in German, the same factors and numbers as in English, and a catalogue that
holds every message the code, the templates and the built-in specs use."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from features import coerce
from features.errors import LeadscoreError
from features.spec import FeatureSpec, builtin_spec_path, builtin_specs, parse_spec
from features.timestamps import AsOf
from models.contract import GROUPS
from models.i18n import ENGLISH, N_, available, catalogue_path, check_language, language
from models.phrasing import CATEGORY_WORDS, Phraser, phrase, spec_messages
from models.scorer import MIN_EFFECT, LeadScorer
from tests.conftest import DEMO_AS_OF, REPO
from tests.training.conftest import config, demo, leads, prepared, scorer, spec

__all__ = ["config", "demo", "leads", "prepared", "scorer", "spec"]

AS_OF = AsOf.of(DEMO_AS_OF)
DE = language("de")
GERMAN_DIGITS = str.maketrans({",": ".", ".": ","})  # written here, not taken from Babel


@pytest.fixture(scope="module")
def records(leads: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in leads.head(300).to_dict("records")]


# --- the catalogue --------------------------------------------------------------------------


def code_messages() -> set[str | tuple[str, str]]:
    """Every message the packages and the templates use, as `make messages` extracts them."""
    method_map = [
        ("features/**.py", "python"),
        ("models/**.py", "python"),
        ("training/**.py", "python"),
        ("serving/**.py", "python"),
        ("cli/**.py", "python"),
        ("training/templates/**.j2", "jinja2"),
    ]
    keywords = {"N_": None, "gettext": None, "ngettext": (1, 2), "_": None}
    found: set[str | tuple[str, str]] = set()
    for _, _, message, _, _ in extract_from_dir(str(REPO), method_map, keywords=keywords):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def test_every_message_of_the_code_templates_and_built_in_specs_is_in_german() -> None:
    messages = code_messages()
    for name in builtin_specs():
        data = yaml.safe_load(builtin_spec_path(name).read_text(encoding="utf-8"))
        for message in spec_messages(parse_spec(data, name)):
            messages.add(message[0] if len(message) == 1 else (message[0], message[1]))
    assert len(messages) > 250  # not vacuous: the extraction found the code's messages
    assert {"raises fit", "Website visits", "Has not requested a demo", "Sign-off"} <= messages
    assert ("visit", "visits") in messages
    missing = sorted(
        str(m) for m in messages if (DE.known(m) if isinstance(m, str) else DE.known(*m)) is None
    )
    assert missing == [], f"{len(missing)} messages without German: {missing[:10]}"


def test_the_catalogue_keeps_every_placeholder_and_has_no_fuzzy_entry() -> None:
    with catalogue_path("de").open("rb") as po:
        catalog = read_po(po, locale="de")
    problems = [(message.id, errors) for message, errors in catalog.check()]
    assert problems == []
    assert not [m.id for m in catalog if m.id and m.fuzzy]
    # Babel's check compares placeholders of python-format messages: make sure it looked
    formatted = [m for m in catalog if m.id and "%(" in str(m.id)]
    assert len(formatted) > 30 and all(m.python_format for m in formatted)


def test_category_words_cover_every_derivation_bucket() -> None:
    buckets = {bucket for bucket, _ in coerce._SENIORITY_RULES}
    buckets |= {bucket for bucket, _ in coerce._EVENT_NAME_RULES}
    buckets |= {"individual contributor", "other form", "free mail", "business"}
    assert buckets <= set(CATEGORY_WORDS)


def test_a_language_without_a_catalogue_is_named_with_those_there_are() -> None:
    assert available() == ("en", "de")
    assert check_language(" DE ") == "de"
    for bad in ("fr", "", "deutsch", None, 3):
        with pytest.raises(LeadscoreError) as caught:
            check_language(bad, "--lang")
        assert str(caught.value).startswith("--lang: no message catalogue for language")
        assert "expected one of en, de" in str(caught.value)
    with pytest.raises(LeadscoreError, match="'fr'"):
        language("fr")


def test_numbers_take_the_languages_separators() -> None:
    assert DE.number("1,234,567.5") == "1.234.567,5"
    assert DE.number("+3.2)") == "+3,2)"
    assert ENGLISH.number("1,234.5") == "1,234.5"
    assert N_("raises fit") == "raises fit"


# --- reasons ------------------------------------------------------------------------------------


def phraser(scorer: LeadScorer, name: str, lang: Any = DE) -> Phraser:
    feature = next(f for f in scorer.spec.features if f.name == name)
    return Phraser(scorer.encoder, feature, lang)


def test_german_phrases_of_numbers_units_yes_no_missing_and_rare_values(
    scorer: LeadScorer,
) -> None:
    visits = phraser(scorer, "hs_analytics_num_visits")
    words: dict[Any, Any] = {}
    one = visits.phrase_of(1.0, None, words)[1]
    many = visits.phrase_of(1234.0, None, words)[1]
    assert one.startswith("Website-Besuche: 1 Besuch") and "Besuche" not in one.split(":")[1]
    assert many.startswith("Website-Besuche: 1.234 Besuche, mehr als beim typischen Lead (")
    assert visits.phrase_of(float("nan"), None, words)[1] == "Website-Besuche unbekannt"
    revenue = phraser(scorer, "annualrevenue").phrase_of(2_169_000.5, None, {})[1]
    assert revenue.startswith("Jahresumsatz: 2.169.000,5 USD")
    size = phraser(scorer, "numemployees")
    assert size.phrase_of(300.0, {"numemployees": "100-500"}, {})[1].startswith(
        "Unternehmensgröße: 100-500 Mitarbeiter"
    )
    asked = FeatureSpec(name="demo_requested", type="boolean", label="Requested a demo")
    assert phrase(asked, "no", "present", lang=DE) == "Hat keine Demo angefragt"
    assert phrase(asked, "yes", "present", lang=DE) == "Hat eine Demo angefragt"
    assert phrase(asked, None, "missing", lang=DE) == "Hat eine Demo angefragt: unbekannt"
    # a team's own yes/no label without a German negation: "… : nein", never English
    own = FeatureSpec(name="x", type="boolean", label="Booked a meeting")
    assert phrase(own, "no", "present", lang=DE) == "Booked a meeting: nein"
    assert phrase(own, "no", "present") == "Has not booked a meeting"
    country = phraser(scorer, "country")
    code = float(len(scorer.encoder.categories_["country"]))  # past every known category
    rare = country.phrase_of(code, {"country": "Atlantis"}, {})[1]
    assert rare == "Land 'Atlantis' ist selten oder dem Modell neu"


def german_line(group: Any) -> str:
    """A batch line written from the contract's factors, German digits in the effects."""
    return "; ".join(
        f"{f.text} ({f'{f.effect:+.1f}'.translate(GERMAN_DIGITS)})"
        for f in [*group.positive, *group.negative]
    )


def test_german_batch_lines_are_the_german_factors(
    scorer: LeadScorer, records: list[dict[str, Any]]
) -> None:
    frame = pd.DataFrame(records)
    matrix = scorer.encode(frame, as_of=AS_OF)
    factors = scorer.explainer.factors(matrix, frame, 3, min_effect=MIN_EFFECT, lang=DE)
    lines = scorer.explainer.lines(matrix, frame, 3, min_effect=MIN_EFFECT, lang=DE)
    for group in GROUPS:
        assert lines[group].tolist() == [german_line(lead[group]) for lead in factors]
    text = " ".join(lines["fit"].tolist() + lines["interest"].tolist())
    assert "erhöht den Fit" in text and "senkt das Interesse" in text
    assert not re.search(r"raises|lowers|unknown|typical", text)
    assert re.search(r"\(\+\d+,\d\)", text)  # effects with a decimal comma


def test_german_and_english_name_the_same_factors_with_the_same_effects(
    scorer: LeadScorer, records: list[dict[str, Any]]
) -> None:
    english = scorer.results(records, explain=True, as_of=AS_OF)
    german = scorer.results(records, explain=True, as_of=AS_OF, lang="de")
    differ = 0
    for en, de in zip(english, german, strict=True):
        assert (en.probability, en.fit, en.interest) == (de.probability, de.fit, de.interest)
        assert (en.fit_grade, en.interest_grade) == (de.fit_grade, de.interest_grade)
        assert en.decision is not None and de.decision is not None
        for field in ("stage", "lead_status", "changed", "rule"):
            assert getattr(en.decision, field) == getattr(de.decision, field)
        assert en.decision.next_action is not None and de.decision.next_action is not None
        assert en.decision.next_action.type == de.decision.next_action.type
        assert en.decision.next_action.due == de.decision.next_action.due
        assert en.reasons is not None and de.reasons is not None
        for group in GROUPS:
            for side in ("positive", "negative"):
                ours = getattr(en.reasons[group], side)
                theirs = getattr(de.reasons[group], side)
                assert [(f.feature, f.effect, f.value) for f in ours] == [
                    (f.feature, f.effect, f.value) for f in theirs
                ]
                assert all(f.lang == "de" for f in theirs)
                differ += sum(a.text != b.text for a, b in zip(ours, theirs, strict=True))
        assert en.decision.detail != de.decision.detail or en.decision.detail == ""
    assert differ > 0


def test_decisions_and_next_actions_read_in_german(
    scorer: LeadScorer, records: list[dict[str, Any]]
) -> None:
    frame = pd.DataFrame(records)
    german = scorer.score(frame, as_of=AS_OF, lang="de")
    english = scorer.score(frame, as_of=AS_OF)
    columns = [c for c in english.columns if c != "rule_detail"]
    pd.testing.assert_frame_equal(german[columns], english[columns])  # codes, scores, dues
    actions = {
        r.decision.next_action.detail for r in scorer.results(records, as_of=AS_OF, lang="de")
    }  # type: ignore[union-attr]
    details = set(german["rule_detail"]) | actions
    assert "Scores unter den Schwellen für MQL und SQL" in details
    assert "Phase Lead, kein Vertriebsstatus: das Marketing betreut den Lead weiter" in details
    assert not any(
        phrase in text
        for text in details
        for phrase in ("scores below", "no sales status", "probability ≥", "is never changed")
    )
    thresholds = [t for t in german["rule_detail"] if t.startswith("Wahrscheinlichkeit ≥ ")]
    assert all(re.search(r"≥ 0,\d{3}", t) for t in thresholds)


def test_a_lead_status_leads_to_its_german_next_action(scorer: LeadScorer) -> None:
    record = {"lifecyclestage": "salesqualifiedlead", "hs_lead_status": "ATTEMPTED_TO_CONTACT"}
    decision = scorer.results([record], as_of=AS_OF, lang="de")[0].decision
    assert decision is not None and decision.next_action is not None
    assert decision.next_action.type == "retry_contact"
    assert decision.next_action.detail == (
        "ATTEMPTED_TO_CONTACT: Kontakt versucht, noch nicht erreicht; erneuter Versuch in 2 Tg."
    )


def test_an_unknown_language_is_refused_before_scoring(
    scorer: LeadScorer, records: list[dict[str, Any]]
) -> None:
    with pytest.raises(LeadscoreError, match="no message catalogue for language 'fr'"):
        scorer.results(records[:1], as_of=AS_OF, lang="fr")
    with pytest.raises(LeadscoreError, match="'xx'"):
        scorer.score(pd.DataFrame(records[:1]), as_of=AS_OF, lang="xx")


def test_english_is_the_default_and_unchanged(
    scorer: LeadScorer, records: list[dict[str, Any]]
) -> None:
    frame = pd.DataFrame(records)
    matrix = scorer.encode(frame, as_of=AS_OF)
    default = scorer.explainer.lines(matrix, frame, 3, min_effect=MIN_EFFECT)
    english = scorer.explainer.lines(matrix, frame, 3, min_effect=MIN_EFFECT, lang=ENGLISH)
    for group in GROUPS:
        assert default[group].tolist() == english[group].tolist()
    assert any(" — raises fit" in t for t in default["fit"].tolist())
    assert np.all(scorer.explainer.phrasers_in(ENGLISH)["fit"][0].lang is ENGLISH)


def test_the_catalogue_file_is_where_the_package_data_says() -> None:
    path = catalogue_path("de")
    expected = Path("models/locale/de/LC_MESSAGES/leadscore.po")
    assert path.is_file() and path.relative_to(REPO) == expected
