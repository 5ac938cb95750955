"""The Jinja2 environment the HTML reports render with.

Autoescaping is on for every template, so a value from the data (a slice value, a
column name, a note) can never become markup. The filters write numbers as the reports
show them: a missing or non-finite number is a dash. The pages load nothing from
elsewhere; `CSP` (in every page's head) forbids scripts and outside resources.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from models.i18n import Language

# Scripts and every outside resource are refused: the reports need neither, and a
# value that slipped past escaping still could not run.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
MISSING = "–"


def finite(value: Any) -> float | None:
    """A finite float, or None for null, NaN, infinities and anything not a number."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def num(value: Any, digits: int = 3) -> str:
    number = finite(value)
    return MISSING if number is None else f"{number:.{digits}f}"


def pct(value: Any, digits: int = 1) -> str:
    number = finite(value)
    return MISSING if number is None else f"{100 * number:.{digits}f} %"


def whole(value: Any) -> str:
    number = finite(value)
    return MISSING if number is None else f"{round(number):,}"


def text(value: Any) -> str:
    """A category value as shown: its text, or "(missing)"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "(missing)"
    return str(value)


@cache
def environment() -> Environment:
    """The templates of `training/templates`, autoescaped, with the number filters."""
    env = Environment(
        loader=PackageLoader("training", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=num, pct=pct, whole=whole, text=text)
    env.globals.update(csp=Markup(CSP), missing=MISSING)  # a constant of ours, not data
    return env


def render(template: str, **context: Any) -> str:
    """The named template rendered with `context`."""
    return environment().get_template(template).render(**context)


def translator(lang: Language) -> Callable[..., Markup]:
    """A template's `_`: the message in `lang`, escaped, with its `%(name)s` placeholders
    filled by values that are escaped unless they are markup already (a macro's output)."""

    def _(message: str, **values: Any) -> Markup:
        text = escape(lang.gettext(message))
        return text % values if values else text

    return _
