"""The one exception type for mistakes a user can make (bad file, column, key, value)."""

from pydantic import ValidationError


class LeadscoreError(ValueError):
    """A user-facing error whose message names the file, column or key and what was expected."""


def describe_validation_error(error: ValidationError, what: str) -> str:
    """One line per problem, each led by the dotted key it concerns (e.g. `fit.2.type`)."""
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"  {key}: {item['msg'].removeprefix('Value error, ')}")
    return f"invalid {what}:\n" + "\n".join(lines)


def first_line(error: BaseException) -> str:
    """The first line of an error's message (its type's name when it has none), for a
    one-line user error that wraps a library's."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
