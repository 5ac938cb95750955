"""Turning one raw CRM value into a typed feature value.

CRMs send anything: HubSpot sends every value as a string (numbers, booleans,
`numemployees` as a range such as ``100-500``), exports mix types, forms use
placeholders such as ``Select``. These scalar functions are the single
definition of how a value is read; the batch path applies them to the unique
values of a column so both paths agree by construction.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import cache
from typing import Any

from features.errors import LeadscoreError

# "3.0": an integral number written as text (read as the category "3").
INTEGRAL_TEXT = r"-?\d+\.0+"
_INTEGRAL_TEXT = re.compile(f"^{INTEGRAL_TEXT}$")
_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0", "on"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0", "off"})
# Characters an export groups thousands with: comma, dot, space, apostrophe (Swiss),
# no-break and narrow no-break space (French).
THOUSANDS_SEPARATORS = (",", ".", " ", "'", "\u00a0", "\u202f")


@dataclass(frozen=True)
class NumberFormat:
    """How an export writes numbers: its decimal mark and thousands separator.

    The default reads ``1234.5``, ``1,234.5`` and ``13,000``, but ``1,5`` not at all: a
    comma is read as a thousands separator only between groups of three digits, so a
    value that could be a decimal comma never silently becomes a number. With a decimal
    comma (a German export, `csv: {decimal: ","}` in the spec) ``1.234,56`` and ``0,5``
    are read, and a decimal point is refused (``1.5`` could mean either).
    """

    decimal: str = "."
    thousands: str = ","

    def __post_init__(self) -> None:
        if self.decimal not in (".", ","):
            raise ValueError(f"decimal mark must be '.' or ',', not {self.decimal!r}")
        if self.thousands not in THOUSANDS_SEPARATORS:
            raise ValueError(
                f"thousands separator must be one of {THOUSANDS_SEPARATORS}, not {self.thousands!r}"
            )
        if self.thousands == self.decimal:
            raise ValueError(f"decimal mark and thousands separator are both {self.decimal!r}")

    @property
    def grouped(self) -> str:
        """Regex (Python and RE2 alike) of a number with thousands groups (no sign)."""
        return f"[0-9]{{1,3}}(?:[{self.thousands}][0-9]{{3}})+(?:[{self.decimal}][0-9]+)?"

    @property
    def plain(self) -> str:
        """Regex of a number without groups (no sign), the decimal mark as the export writes it."""
        return f"[0-9]+(?:[{self.decimal}][0-9]+)?"

    def describe(self) -> str:
        return f"decimal {self.decimal!r}, thousands {self.thousands!r}"


DEFAULT_NUMBERS = NumberFormat()


@cache
def _patterns(numbers: NumberFormat) -> tuple[re.Pattern[str], ...]:
    """(a signed number written the export's way, a `low-high` range, `at least+`)."""
    number = f"(?:{numbers.grouped}|{numbers.plain})"
    part = f"([0-9](?:[0-9.,]|[{numbers.thousands}])*?)"
    return (
        re.compile(f"^[+-]?{number}$"),
        re.compile(rf"^\s*{part}\s*-\s*{part}\s*$"),
        re.compile(rf"^\s*{part}\s*\+\s*$"),
    )


def read_number_text(text: str, numbers: NumberFormat = DEFAULT_NUMBERS) -> float | None:
    """A single number written as text (stripped), or None: Python's float syntax with a
    decimal point, and with either mark, groups of thousands (see `NumberFormat`)."""
    if numbers.decimal == ".":
        try:
            return float(text)
        except ValueError:
            pass
    if _patterns(numbers)[0].match(text):
        return float(text.replace(numbers.thousands, "").replace(numbers.decimal, "."))
    return None


class CoercionError(LeadscoreError):
    """A value that cannot be read as its feature's type."""

    def __init__(self, column: str, value: Any, expected: str) -> None:
        self.column = column
        self.value = value
        self.expected = expected
        super().__init__(f"column {column!r}: cannot read {value!r} as {expected}")


def is_missing(value: Any, missing: Collection[str]) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str):
        return value.strip() in missing
    # pandas' NaT compares unequal to itself; pandas' NA refuses to be a bool at all
    try:
        return bool(value != value)
    except TypeError:
        return True


def to_number(
    value: Any, column: str, missing: Collection[str], numbers: NumberFormat = DEFAULT_NUMBERS
) -> float:
    """Read a number; accepts numeric strings (thousands groups and the decimal mark as
    `numbers` says), ranges (`100-500` → midpoint) and `1000+`."""
    if is_missing(value, missing):
        return math.nan
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:
            raise CoercionError(column, value, "a finite number") from None
    else:
        text = str(value).strip()
        read = read_number_text(text, numbers)
        if read is None:
            _, between, at_least = _patterns(numbers)
            if match := between.match(text):
                low, high = (read_number_text(part, numbers) for part in match.groups())
                if low is not None and high is not None:
                    return (low + high) / 2.0
            elif (match := at_least.match(text)) and (
                low := read_number_text(match.group(1), numbers)
            ) is not None:
                return low
            raise CoercionError(column, value, _expected_number(text, numbers))
        number = read
    if math.isinf(number):
        raise CoercionError(column, value, "a finite number")
    return number


def _expected_number(text: str, numbers: NumberFormat) -> str:
    """What `to_number` expected, with a hint when the text is a number in the other
    convention (a decimal comma in a default spec, a decimal point in a German one)."""
    other = NumberFormat(",", ".") if numbers.decimal == "." else DEFAULT_NUMBERS
    if read_number_text(text, other) is None:
        return "a number" if numbers == DEFAULT_NUMBERS else f"a number ({numbers.describe()})"
    if numbers.decimal == ".":
        return (
            "a number (a comma is read only between thousands: if it is a decimal comma "
            'here, set `csv: {decimal: ","}` in the spec)'
        )
    return f"a number ({numbers.describe()}, as the spec's csv section says)"


def number_reader(
    numbers: NumberFormat = DEFAULT_NUMBERS, missing_numbers: Collection[float] = ()
) -> Callable[[Any, str, Collection[str]], float]:
    """`to_number` for one feature: the export's number format, and numbers that mean
    "no value" (a sentinel such as 999) however they come: 999, 999.0 or "999"."""
    if numbers == DEFAULT_NUMBERS and not missing_numbers:
        return to_number
    sentinels = frozenset(missing_numbers)

    def read(value: Any, column: str, missing: Collection[str]) -> float:
        number = to_number(value, column, missing, numbers)
        return math.nan if number in sentinels else number

    return read


def sentinel_numbers(markers: Collection[str], numbers: NumberFormat) -> frozenset[float]:
    """The markers that read as single numbers (`"999"` → 999.0), as numbers."""
    found = (read_number_text(m.strip(), numbers) for m in markers)
    return frozenset(n for n in found if n is not None and not math.isnan(n))


def to_boolean(value: Any, column: str, missing: Collection[str]) -> float:
    """Read a yes/no value as 1.0 / 0.0 (NaN when missing)."""
    if is_missing(value, missing):
        return math.nan
    if isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    if text in missing:  # a number sent as a number (-1) matches its marker ("-1")
        return math.nan
    text = text.lower()
    if text in _TRUE:
        return 1.0
    if text in _FALSE:
        return 0.0
    raise CoercionError(column, value, "a boolean (true/false, yes/no, 1/0)")


def to_category(value: Any, column: str, missing: Collection[str]) -> str | None:
    """Read a category as trimmed text; integral numbers are written without `.0`."""
    if is_missing(value, missing):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        raise CoercionError(column, value, "a single category value")
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    else:
        text = str(value).strip()
        # "3.0" from one source and 3.0 from another must be the same category
        if _INTEGRAL_TEXT.match(text):
            text = text.split(".", 1)[0]
    # a number sent as a number (999) matches its marker ("999"), as its text would
    return None if not isinstance(value, str) and text in missing else text


# --- derivations ----------------------------------------------------------------------------

FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.de",
        "yahoo.fr",
        "outlook.com",
        "hotmail.com",
        "hotmail.co.uk",
        "live.com",
        "msn.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "gmx.de",
        "gmx.net",
        "gmx.com",
        "web.de",
        "t-online.de",
        "mail.com",
        "protonmail.com",
        "proton.me",
        "yandex.com",
        "yandex.ru",
        "mail.ru",
        "qq.com",
        "163.com",
        "rediffmail.com",
        "zoho.com",
        "orange.fr",
        "free.fr",
        "libero.it",
    }
)


def email_domain_type(value: Any, column: str, missing: Collection[str]) -> str | None:
    """`free mail` or `business`, from an email address or a bare domain."""
    text = to_category(value, column, missing)
    if text is None:
        return None
    domain = text.rsplit("@", 1)[-1].lower()
    if "." not in domain:
        return None
    return "free mail" if domain in FREE_MAIL_DOMAINS else "business"


# Ordered: the first pattern that matches a lower-cased title decides.
_SENIORITY_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("individual contributor", re.compile(r"\bassistant\b")),
    ("VP", re.compile(r"\b(vp|vice president|svp|evp)\b")),
    (
        "C-level or owner",
        re.compile(
            r"\b(ceo|cto|cfo|cmo|coo|cro|cio|chief|founder|co-founder|(?<!product )owner|"
            r"president|managing director|geschäftsführer|managing partner)\b"
        ),
    ),
    ("director or head", re.compile(r"\b(director|head|leiter|leiterin)\b")),
    ("manager", re.compile(r"\b(manager|lead|supervisor|teamlead)\b")),
    ("student or intern", re.compile(r"\b(student|intern|trainee|werkstudent|praktikant)\b")),
)


def _first_rule(
    value: Any,
    column: str,
    missing: Collection[str],
    rules: tuple[tuple[str, re.Pattern[str]], ...],
    otherwise: str,
) -> str | None:
    """The bucket of the first rule whose pattern is in the lower-cased text, else
    `otherwise`; None when the value is missing."""
    text = to_category(value, column, missing)
    if text is None:
        return None
    lowered = text.lower()
    return next((bucket for bucket, pattern in rules if pattern.search(lowered)), otherwise)


def seniority(value: Any, column: str, missing: Collection[str]) -> str | None:
    """A job title bucketed into a seniority level; unmatched titles are individual contributors."""
    return _first_rule(value, column, missing, _SENIORITY_RULES, "individual contributor")


# Ordered: the first kind whose words appear in a lower-cased conversion event (form) name
# decides. English and German, as HubSpot portals name their forms. What a form *is*
# (a demo request, a webinar, a newsletter, a trial, a download) decides before the words
# of contact-sales forms, which are also topics: "Whitepaper: Vertrieb und Marketing"
# (sales and marketing) is a download, as "Whitepaper: Marketing-Sales Alignment" is.
_EVENT_NAME_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("demo request", re.compile(r"\b(demos?|demonstration|vorführung|produktdemo)\b")),
    ("webinar or event", re.compile(r"\b(webinar|event|workshop|seminar|konferenz|messe)")),
    ("newsletter or blog", re.compile(r"\b(newsletter|subscribe|abonn|blog)")),
    ("free trial", re.compile(r"\b(trial|testversion|test version|sign ?up|registrierung)")),
    (
        "content download",
        re.compile(
            r"\b(e-?book|whitepaper|white paper|guide|leitfaden|report|studie|checklist|"
            r"checkliste|template|vorlage|download|case study|fallstudie)"
        ),
    ),
    (
        "contact sales",
        re.compile(
            r"\b(contact|kontakt|talk to (sales|us)|sales (inquiry|enquiry|request)|vertrieb|"
            r"quote|angebot|pricing request|consultation|beratung|call ?back|rückruf|"
            r"book a (call|meeting)|termin)"
        ),
    ),
)


def event_name(value: Any, column: str, missing: Collection[str]) -> str | None:
    """A conversion event (form) name read as its kind: demo request, contact sales,
    webinar or event, newsletter or blog, free trial, content download, or other form."""
    return _first_rule(value, column, missing, _EVENT_NAME_RULES, "other form")


DERIVATIONS: dict[str, Callable[[Any, str, Collection[str]], str | None]] = {
    "seniority": seniority,
    "email_domain_type": email_domain_type,
    "event_name": event_name,
}
