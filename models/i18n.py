"""Languages: the words leadscore writes for people, from gettext message catalogues.

English is the source language: every message is written in English where it is used
(Python code marks it with `N_` or passes it to `Language.gettext`; the alignment
sheet's template calls `_`) and looked up in the language's catalogue,
`models/locale/<lang>/LC_MESSAGES/leadscore.po`. The catalogues are read at run time with
Babel (no compiled `.mo` files in the repository); a message a catalogue lacks stays
English. `make messages` extracts the messages of the code and the templates into
`models/locale/leadscore.pot` and merges them into every catalogue.

The labels and units of the built-in dataset specs are messages too (the spec's English
label is the message id), so a German rep reads "Website-Besuche: 7 Besuche"; a label
of a team's own spec without a translation stays as the spec writes it.

Numbers are written with the language's separators (Babel's locale data: 1.234,5 in
German). The language is chosen per call: `--lang` / `LEADSCORE_LANG` in the CLI, the
request field `lang` in the service; English is the default everywhere.
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass, field
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

from features.errors import LeadscoreError

DOMAIN = "leadscore"
LOCALE_DIR = Path(__file__).with_name("locale")
SOURCE = "en"
# The environment variable that sets the default language of the CLI and the service.
LANG_ENV = "LEADSCORE_LANG"


def N_(message: str) -> str:
    """Marks a message for extraction where it is defined; translated where it is used."""
    return message


@dataclass(frozen=True, eq=False)
class Language:
    """One language's messages and number separators."""

    code: str
    translations: gettext.NullTranslations = field(repr=False)
    # English separators → this language's: None for English (nothing to swap)
    _digits: dict[int, str] | None = field(default=None, repr=False)

    @property
    def is_source(self) -> bool:
        return self.code == SOURCE

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)

    def format(self, message: str, **values: Any) -> str:
        """The translated message with its `%(name)s` placeholders filled."""
        return self.gettext(message) % values

    def known(self, message: str, plural: str | None = None) -> str | None:
        """The translation of `message` (of a plural message: its singular), or None when
        the catalogue has none (English: the message itself)."""
        if self.is_source:
            return message
        if plural is not None:
            found = _has(self.translations, (message, 0))
            return self.ngettext(message, plural, 1) if found else None
        translated = self.gettext(message)
        return translated if translated != message or _has(self.translations, message) else None

    def number(self, text: str) -> str:
        """A number written in English ("1,234.5") with this language's separators."""
        return text if self._digits is None else text.translate(self._digits)


def _has(translations: gettext.NullTranslations, message: str | tuple[str, int]) -> bool:
    catalog = getattr(translations, "_catalog", None)
    return isinstance(catalog, dict) and message in catalog


def catalogue_path(code: str) -> Path:
    return LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"


def available() -> tuple[str, ...]:
    """The languages leadscore writes: English and every language with a catalogue."""
    found = sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return (SOURCE, *(code for code in found if code != SOURCE))


def check_language(code: Any, field_name: str = "lang") -> str:
    """`code` (stripped, lower case) when leadscore writes that language; else a
    LeadscoreError naming the field and the languages there are."""
    text = str(code).strip().lower() if isinstance(code, str) else code
    languages = available()
    if not isinstance(text, str) or text not in languages:
        raise LeadscoreError(
            f"{field_name}: no message catalogue for language {code!r}; "
            f"expected one of {', '.join(languages)}"
        )
    return text


@cache
def language(code: str = SOURCE) -> Language:
    """The language `code` (checked: a LeadscoreError when there is no catalogue)."""
    code = check_language(code)
    if code == SOURCE:
        return Language(SOURCE, gettext.NullTranslations())
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.numbers import get_decimal_symbol, get_group_symbol

    with catalogue_path(code).open("rb") as po:
        catalog = read_po(po, locale=code, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out, as gettext's msgfmt does
    compiled.seek(0)
    digits = str.maketrans({",": get_group_symbol(code), ".": get_decimal_symbol(code)})
    return Language(code, gettext.GNUTranslations(compiled), digits)


ENGLISH = language(SOURCE)
