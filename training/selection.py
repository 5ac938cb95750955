"""Which leads an evaluation scores, and which earlier leads its baselines learn from.

The newest share of the leads (training's test slice), a `--from` / `--to` date range,
or on a newer export the leads after the model's training data. Point-in-time examples
(several per lead) never put one lead on both sides of the cut.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.errors import LeadscoreError
from features.spec import DatasetSpec
from training.config import SplitConfig
from training.data import PreparedData, split_by_time

DAY_NS = 86_400 * 10**9


@dataclass(frozen=True)
class Selection:
    """Positions (in the time-sorted prepared data) of the evaluated leads and of the
    leads created before them (where the baselines learn)."""

    rows: np.ndarray
    before: np.ndarray
    description: str
    default: bool


def subset(data: PreparedData, positions: np.ndarray) -> PreparedData:
    """The prepared rows at `positions` (still sorted by time)."""
    return data.rows(positions)


def time_bound(text: str, spec: DatasetSpec, option: str, end: bool = False) -> float:
    """A `--from` / `--to` value as a time key (ns since epoch, or the ordinal itself).

    A `--to` date without a time of day includes that whole day; a `--to` ordinal
    includes itself (the range ends before the returned key).
    """
    if spec.time.kind == "ordinal":
        try:
            value = float(text)
            return float(np.nextafter(value, np.inf)) if end else value
        except ValueError:
            raise LeadscoreError(
                f"{option}: {text!r} is not a number (the spec's time column "
                f"{spec.time.column!r} is ordinal)"
            ) from None
    try:
        stamp = pd.Timestamp(text.strip())
    except ValueError:
        raise LeadscoreError(
            f"{option}: {text!r} is not a date (expected e.g. 2026-01-31 or 2026-01-31T12:00:00Z)"
        ) from None
    if stamp is pd.NaT:
        raise LeadscoreError(f"{option}: {text!r} is not a date")
    stamp = stamp.tz_localize("UTC") if stamp.tz is None else stamp.tz_convert("UTC")
    date_only = ":" not in text and "T" not in text.upper()
    return float(stamp.value + (DAY_NS if end and date_only else 0))


def time_text(value: float, spec: DatasetSpec) -> str:
    """A time key as the user writes it: a date, or the ordinal (every digit of it, so
    that `--from` / `--to` read it back as the same number)."""
    if spec.time.kind == "datetime":
        return str(pd.Timestamp(int(value), tz="UTC").date())
    return f"{value:.15g}"


def select_rows(
    data: PreparedData,
    spec: DatasetSpec,
    date_from: str | None = None,
    date_to: str | None = None,
    test_share: float = 0.15,
    validation_share: float = 0.15,
) -> Selection:
    """The newest `test_share` of the leads (as training's test slice), or a date range.

    Point-in-time examples (several per lead) are selected as training splits them: a
    lead is evaluated only when its first example is in the range, and the baselines
    learn from the examples training learned from (`split_by_time` with the shares)."""
    n = len(data.y)
    if date_from is None and date_to is None:
        n_test = round(n * test_share)
        if n_test == 0:
            raise LeadscoreError(f"the newest {test_share:.0%} of {n} leads is no lead at all")
        start = n - n_test
        rows, before = np.arange(start, n), np.arange(start)
        if data.groups is not None:
            split = split_by_time(
                n, SplitConfig(validation=validation_share, test=test_share), data.groups
            )
            rows, before = split.test, np.sort(np.concatenate([split.train, split.validation]))
        return Selection(
            rows,
            before,
            f"the newest {len(rows):,} {data.unit} ({test_share:.0%} of {n:,}, the share "
            "of training's test slice)",
            default=True,
        )
    low = time_bound(date_from, spec, "--from") if date_from else -np.inf
    high = time_bound(date_to, spec, "--to", end=True) if date_to else np.inf
    if high <= low:
        raise LeadscoreError(f"--to ({date_to}) is before --from ({date_from})")
    rows = np.flatnonzero((data.times >= low) & (data.times < high))
    if len(rows) == 0:
        raise LeadscoreError(
            f"no leads between {date_from or 'the first lead'} and {date_to or 'the last lead'}"
            f": the data holds leads from {time_text(data.times[0], spec)} to "
            f"{time_text(data.times[-1], spec)} (leads whose label window is still open "
            "are left out)"
        )
    before = np.flatnonzero(data.times < data.times[rows[0]])
    if data.groups is not None:  # no lead on both sides of the cut
        first = pd.Series(np.arange(n)).groupby(data.groups).transform("min").to_numpy()
        rows = rows[first[rows] >= rows[0]]
        before = before[~np.isin(data.groups[before], data.groups[rows])]
    if date_from and date_to:
        what = f"from {date_from} to {date_to}"
    else:
        what = f"from {date_from} on" if date_from else f"up to {date_to}"
    return Selection(
        rows, before, f"the {len(rows):,} {data.unit} {what} (--from/--to)", default=False
    )


def default_selection(
    data: PreparedData,
    spec: DatasetSpec,
    test_share: float,
    trained: Mapping[str, str] | None,
    sha256: str,
) -> Selection:
    """What to evaluate when the user names no range.

    The model's own file: its test slice (the newest `test_share`). Another file (a
    newer export): the leads created after the model's training data ends, when there
    are some of both classes; otherwise the newest share, and the notes say it may overlap.
    """
    validation = float((trained or {}).get("split.validation", 0.15))
    newest = select_rows(data, spec, test_share=test_share, validation_share=validation)
    if not trained or "data.time_to" not in trained or trained.get("data.sha256") == sha256:
        return newest
    end = str(trained["data.time_to"])
    try:
        after = (
            data.times > float(end)
            if spec.time.kind == "ordinal"
            else data.times >= time_bound(end, spec, "data.time_to", end=True)
        )
    except LeadscoreError:
        return newest
    rows = np.flatnonzero(after)
    if len(rows) == 0 or data.y[rows].min() == data.y[rows].max():
        return newest
    return Selection(
        rows,
        np.arange(rows[0]),
        f"the {len(rows):,} leads created after the model's training data (which ends {end})",
        default=False,
    )


def later_from(
    data: PreparedData, spec: DatasetSpec, selection: Selection, date_to: str | None
) -> str | None:
    """A `--from` that leaves leads of both classes before the range (where the logistic
    regression and the points rule's map learn) while the range keeps both classes, when
    the leads before `selection` lack one; None when they do not, or no start does.

    The earliest such start is found on the time-sorted labels, then checked by selecting
    it as the command would (point-in-time examples drop leads on both sides of the cut).
    """
    if _two_classes(data.y[selection.before]) or len(selection.rows) == 0:
        return None
    seen = data.y[: selection.rows[0]].astype(bool)
    within = data.y[selection.rows].astype(bool)
    # the first evaluated row after which earlier rows hold both classes
    has_pos = seen.any() | (np.cumsum(within) > 0)
    has_neg = (~seen).any() | (np.cumsum(~within) > 0)
    both = np.flatnonzero(has_pos & has_neg)
    if len(both) == 0:
        return None
    last_before = data.times[selection.rows[both[0]]]
    if spec.time.kind == "datetime":
        day = pd.Timestamp(int(last_before), tz="UTC").normalize() + pd.Timedelta(days=1)
        text = str(day.date())
    else:
        later = data.times[data.times > last_before]
        if len(later) == 0:
            return None
        text = time_text(later[0], spec)
    try:
        candidate = select_rows(data, spec, text, date_to)
    except LeadscoreError:
        return None
    if not (_two_classes(data.y[candidate.before]) and _two_classes(data.y[candidate.rows])):
        return None
    return text


def _two_classes(y: np.ndarray) -> bool:
    return len(y) > 0 and y.min() != y.max()
