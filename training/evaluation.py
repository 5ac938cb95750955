"""Honest evaluation of a trained scorer: on leads it never saw, against simple baselines.

Pure steps on in-memory data (the command in `training.evaluate_cli` loads, saves and
logs). The result is one JSON-able dict that the report renderer draws:

- the newest slice of the data (or a date range) scored by the model: metrics,
  reliability (ECE), gains and lift by decile, ROC and precision-recall curves, the
  threshold table, stability per month and slices by lead source and country;
- side by side on the same leads: the base rate, a logistic regression and a
  points-rule score, all fitted (the points rule only mapped to a probability) on the
  leads created before the evaluated ones, never on them;
- optionally a rolling-origin backtest: a new scorer per month, trained on the leads
  before that month, tested on the month.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from features.coerce import is_missing, to_category
from features.errors import LeadscoreError
from features.spec import DatasetSpec, FeatureType
from features.timestamps import AsOf
from models.scorer import LeadScorer
from training.config import SplitConfig, TrainConfig
from training.data import PreparedData, split_by_time
from training.evaluate import (
    classification_metrics,
    expected_calibration_error,
    logistic_baseline,
    reliability_curve,
    top_decile_lift,
)
from training.points import PointsBaseline, PointsRules, default_points_path, load_points
from training.thresholds import threshold_report
from training.train import span_weeks, train_scorer

if TYPE_CHECKING:
    from training.train import TrainResult

log = logging.getLogger(__name__)

BASE_RATE, LOGISTIC, POINTS, MODEL = "base rate", "logistic regression", "points rule", "leadscore"
COMPARISON = (BASE_RATE, LOGISTIC, POINTS, MODEL)
METRICS = ("roc_auc", "pr_auc", "brier", "ece", "top_decile_lift")
CURVE_POINTS = 200
SLICE_VALUES = 8
MISSING_VALUE = "(missing)"
DAY_NS = 86_400 * 10**9


# --- which leads -------------------------------------------------------------------------


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


# --- metrics helpers ---------------------------------------------------------------------


def gains_by_decile(y: np.ndarray, score: np.ndarray, points: int = 10) -> dict[str, list[float]]:
    """Best score first: share of leads → share of conversions captured, lift, and the
    conversion rate of that top share. Tied scores share the places at a cut (a constant
    score is the diagonal whatever the row order), as in `top_decile_lift`."""
    y = np.asarray(y, dtype=np.float64)
    score = np.asarray(score, dtype=np.float64)
    n, positives = len(y), max(float(y.sum()), 1e-12)
    ordered = np.sort(score)[::-1]
    shares = [round((k + 1) / points, 10) for k in range(points)]
    captured, lift, rate = [], [], []
    for share in shares:
        n_top = min(n, max(1, int(np.floor(share * n + 1e-9))))
        cut = ordered[n_top - 1]
        above = score > cut
        tied = score == cut
        caught = y[above].sum() + (n_top - above.sum()) * y[tied].mean()
        captured.append(float(caught / positives))
        rate.append(float(caught / n_top))
        lift.append(float(caught / n_top / (positives / n)))
    return {"share": shares, "captured": captured, "lift": lift, "conversion_rate": rate}


def _thin(*arrays: np.ndarray, limit: int = CURVE_POINTS) -> list[list[float]]:
    """At most `limit` evenly spaced points of a curve, first and last kept."""
    n = len(arrays[0])
    keep = np.unique(np.linspace(0, n - 1, min(n, limit)).round().astype(int))
    return [np.asarray(a, dtype=np.float64)[keep].tolist() for a in arrays]


def curves(y: np.ndarray, score: np.ndarray) -> dict[str, dict[str, list[float]]]:
    """ROC and precision-recall curves, each thinned to ≤ 200 points."""
    fpr, tpr, _ = roc_curve(y, score)
    precision, recall, _ = precision_recall_curve(y, score)
    fpr_l, tpr_l = _thin(fpr, tpr)
    recall_l, precision_l = _thin(recall, precision)
    return {
        "roc": {"fpr": fpr_l, "tpr": tpr_l},
        "pr": {"recall": recall_l, "precision": precision_l},
    }


def reliability(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict[str, Any]:
    predicted, observed, count = reliability_curve(y, p, bins)
    return {
        "predicted": predicted.tolist(),
        "observed": observed.tolist(),
        "count": count.tolist(),
        "ece": expected_calibration_error(y, p, bins),
    }


def auc_or_none(y: np.ndarray, score: np.ndarray) -> float | None:
    """ROC AUC, or None when the rows hold a single class (no AUC exists)."""
    y = np.asarray(y)
    if len(y) == 0 or y.min() == y.max():
        return None
    return float(roc_auc_score(y, score))


def ranking_metrics(
    y: np.ndarray, rank: np.ndarray, p: np.ndarray | None, bins: int = 10
) -> dict[str, float | None]:
    """Ranking metrics from `rank`; Brier and ECE from the probability `p` (None: unknown)."""
    return {
        "roc_auc": float(roc_auc_score(y, rank)),
        "pr_auc": float(average_precision_score(y, rank)),
        "brier": float(brier_score_loss(y, p)) if p is not None else None,
        "ece": expected_calibration_error(y, p, bins) if p is not None else None,
        "top_decile_lift": top_decile_lift(y, rank),
    }


def stability(
    y: np.ndarray, p: np.ndarray, times: np.ndarray, spec: DatasetSpec
) -> list[dict[str, Any]] | None:
    """Rows, base rate and ROC AUC per calendar month (UTC); None for an ordinal time."""
    if spec.time.kind != "datetime":
        return None
    months = pd.to_datetime(times.astype("int64"), utc=True).strftime("%Y-%m").to_numpy()
    out = []
    for month in sorted(set(months)):
        mask = months == month
        out.append(
            {
                "month": str(month),
                "rows": int(mask.sum()),
                "base_rate": float(y[mask].mean()),
                "roc_auc": auc_or_none(y[mask], p[mask]),
            }
        )
    return out


def slice_values(values: pd.Series, missing: frozenset[str]) -> np.ndarray:
    """Raw values as slice labels: the text, or "(missing)"."""

    def label(value: Any) -> str:
        if is_missing(value, missing):
            return MISSING_VALUE
        return to_category(value, str(values.name), missing) or MISSING_VALUE

    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    labels = np.array([label(v) for v in uniques] + [MISSING_VALUE], dtype=object)
    return labels[codes]  # code -1 picks the appended "(missing)"


def slice_metrics(
    y: np.ndarray,
    p: np.ndarray,
    base_rate: float,
    frame: pd.DataFrame,
    columns: Sequence[str],
    missing: frozenset[str],
    top: int = SLICE_VALUES,
) -> dict[str, list[dict[str, Any]]]:
    """The model by value of each column (its `top` most common values).

    A slice is flagged when the model's Brier score there is worse than predicting the
    slice's own base rate for every lead of it (`brier_base_rate`): with drift the
    overall base rate (`base_rate`, the comparison table's constant, older leads) is stale
    and would hide a model that is worse than knowing the slice's rate. Its Brier score is
    kept as `brier_overall_base_rate`.
    """
    y = np.asarray(y, dtype=np.float64)
    out: dict[str, list[dict[str, Any]]] = {}
    for column in columns:
        if column not in frame.columns:
            continue
        labels = slice_values(frame[column], missing)
        counts = pd.Series(labels).value_counts()
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]
        entries = []
        for value, _ in ranked:
            mask = labels == value
            brier = float(np.mean((y[mask] - p[mask]) ** 2))
            own_rate = float(y[mask].mean())
            brier_base = float(np.mean((y[mask] - own_rate) ** 2))
            entries.append(
                {
                    "value": str(value),
                    "rows": int(mask.sum()),
                    "base_rate": own_rate,
                    "roc_auc": auc_or_none(y[mask], p[mask]),
                    "brier": brier,
                    "brier_base_rate": brier_base,
                    "brier_overall_base_rate": float(np.mean((y[mask] - base_rate) ** 2)),
                    "worse_than_base_rate": bool(brier > brier_base),
                }
            )
        out[column] = entries
    return out


def default_slice_columns(spec: DatasetSpec) -> list[str]:
    """Lead source and country when the spec has them (by column name), else the first
    two categorical features."""
    categorical = [
        f.source for f in spec.features if f.type is FeatureType.categorical and f.derive is None
    ]
    named = [c for c in categorical if "source" in c.lower()] + [
        c for c in categorical if "country" in c.lower()
    ]
    return list(dict.fromkeys(named)) or categorical[:2]


def jsonable(value: Any) -> Any:
    """Plain Python for JSON: numpy scalars and arrays unwrapped, NaN and ±inf as None."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [jsonable(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    return value


# --- the evaluation ----------------------------------------------------------------------


def _logistic(
    scorer: LeadScorer, x_fit: np.ndarray, y_fit: np.ndarray, x: np.ndarray, seed: int = 0
) -> np.ndarray:
    """A logistic regression on the scorer's encoded features (all of them), as in training."""
    categorical = [
        j for j, f in enumerate(scorer.spec.features) if f.type is FeatureType.categorical
    ]
    numeric = [j for j in range(x.shape[1]) if j not in categorical]
    model = logistic_baseline(categorical, numeric, seed).fit(x_fit, y_fit)
    return np.asarray(model.predict_proba(x)[:, 1], dtype=np.float64)


def _usable(data: PreparedData | None) -> bool:
    return data is not None and len(data.y) > 0 and data.y.min() != data.y.max()


def evaluate_scorer(
    scorer: LeadScorer,
    evaluated: PreparedData,
    spec: DatasetSpec,
    *,
    baselines: PreparedData | None,
    points: PointsRules | None,
    slice_columns: Sequence[str],
    bins: int = 10,
    later_start: str | None = None,
) -> dict[str, Any]:
    """Score the evaluated leads and compare the model with the baselines on them.

    `baselines` are the leads created before the evaluated ones: the logistic
    regression learns there, the points rule's points are mapped to a probability
    there, and the base rate is theirs. `later_start`: a `--from` known to give the
    baselines leads of both classes (`later_from`), suggested when they lack one.
    Returns the report's metric sections.
    """
    y = evaluated.y
    if y.min() == y.max():
        raise LeadscoreError(
            f"the evaluated leads have a single class ({int(y.sum())} "
            f"positive(s) in {len(y)} lead(s)); choose a wider range"
        )
    notes: list[str] = []
    frame = evaluated.frame
    x = scorer.encode(frame, AsOf(evaluated.moments))
    scores = scorer.score_matrix(x)
    as_probability = {
        "probability": scores["probability"],
        "fit": scores["fit"] / 100.0,
        "interest": scores["interest"] / 100.0,
    }
    metrics = {k: classification_metrics(y, p, bins) for k, p in as_probability.items()}
    calibration = {k: reliability(y, p, bins) for k, p in as_probability.items()}

    # The baselines, on the same leads. rank: what orders leads; p: a probability or None.
    usable = _usable(baselines)
    n_before = len(baselines.y) if baselines is not None else 0
    if n_before:
        assert baselines is not None
        base_rate = float(baselines.y.mean())
        notes.append(
            f"the base rate ({base_rate:.1%}) is the conversion rate of the "
            f"{n_before:,} {baselines.unit} created before the evaluated ones"
        )
    elif "base_rate" in scorer.metadata:
        base_rate = float(scorer.metadata["base_rate"])
        notes.append(
            f"no lead before the evaluated ones: the base rate ({base_rate:.1%}) is "
            "the model's training base rate"
        )
    else:
        base_rate = float(y.mean())
        notes.append(
            "no lead before the evaluated ones and no training base rate: the base "
            "rate is the evaluated leads' own (in-sample, flatters the baseline)"
        )
    ranked: dict[str, tuple[np.ndarray, np.ndarray | None] | None] = {
        BASE_RATE: (np.full(len(y), base_rate), np.full(len(y), base_rate))
    }
    if usable:
        assert baselines is not None
        x_before = scorer.encode(baselines.frame, AsOf(baselines.moments))
        p_lr = _logistic(scorer, x_before, baselines.y, x)
        ranked[LOGISTIC] = (p_lr, p_lr)
        fitted = "the logistic regression (on the model's encoded features)" + (
            " and the points rule's probability map are" if points is not None else " is"
        )
        notes.append(
            f"{fitted} fitted on the {n_before:,} {baselines.unit} created before the "
            "evaluated ones, never on the evaluated leads"
        )
    else:
        ranked[LOGISTIC] = None
        notes.append(
            "no logistic regression: the leads before the evaluated ones are "
            f"{n_before} with a single class or none"
            + (
                f"; start the range later (--from {later_start} leaves leads of both "
                "classes before it)"
                if later_start
                else ""
            )
        )
    if points is not None:
        points.check(frame, f"points rules ({points.name})")
        baseline = PointsBaseline(points, spec.missing_tokens)
        raw_points = baseline.points(frame, evaluated.moments)
        p_points = None
        if usable:
            assert baselines is not None
            p_points = baseline.fit(baselines.frame, baselines.y, baselines.moments).probability(
                raw_points
            )
        ranked[POINTS] = (raw_points, p_points)
        notes.append(
            f"points rule ({points.name}, {len(points.rules)} rules): ROC AUC, PR AUC,"
            " lift, gains and curves rank leads by their points; Brier and ECE use "
            "the points mapped to a probability by isotonic regression on the earlier "
            "leads" + ("" if usable else " (not available: no earlier leads)")
        )
    else:
        ranked[POINTS] = None
        notes.append(
            "no points rule: `leadscore evaluate --points FILE` (a YAML of points per "
            "property value) compares the model with one"
        )
    ranked[MODEL] = (scores["probability"], scores["probability"])

    comparison = []
    gains: dict[str, Any] = {}
    curve_data: dict[str, Any] = {}
    for name in COMPARISON:
        entry = ranked[name]
        if entry is None:
            comparison.append({"name": name, **dict.fromkeys(METRICS)})
            continue
        rank, p = entry
        comparison.append({"name": name, **ranking_metrics(y, rank, p, bins)})
        gains[name] = gains_by_decile(y, rank)
        curve_data[name] = curves(y, rank)

    thresholds = None
    if scorer.policy is not None:
        thresholds = threshold_report_for(
            scorer, frame, scores, y, span_weeks(evaluated.times, spec, evaluated.groups)
        )
    else:
        notes.append("the model has no decision policy: no threshold table")
    months = stability(y, scores["probability"], evaluated.times, spec)
    if months is None:
        notes.append(
            f"stability over time needs a datetime time column; {spec.time.column!r} is ordinal"
        )
    slices = slice_metrics(
        y, scores["probability"], base_rate, frame, slice_columns, spec.missing_tokens
    )
    flagged = [
        f"{c} = {e['value']}"
        for c, entries in slices.items()
        for e in entries
        if e["worse_than_base_rate"]
    ]
    if flagged:
        notes.append(
            "the model's Brier score is worse than the base rate's on: " + "; ".join(flagged)
        )
    return {
        "metrics": metrics,
        "reliability": calibration,
        "gains": gains,
        "curves": curve_data,
        "comparison": comparison,
        "thresholds": thresholds,
        "stability": months,
        "slices": slices,
        "notes": notes,
    }


def default_points_rule(columns: Collection[str]) -> PointsRules | None:
    """The repository's points rule (`configs/points-hubspot.yaml`) when the data has
    every column it reads, else None."""
    path = default_points_path()
    if not path.is_file():
        return None
    rules = load_points(path)
    return rules if all(c in columns for c in rules.columns) else None


def report_of_test_slice(
    result: TrainResult,
    data: PreparedData,
    spec: DatasetSpec,
    *,
    model: Mapping[str, Any],
    data_file: str,
) -> dict[str, Any]:
    """The evaluation report of a training's own test slice, as `leadscore evaluate`
    writes it for the model on the same file (without a backtest).

    `data` is what the model was trained on (`result.split` indexes it): the baselines
    learn from every lead before the test slice, the model's train and validation rows.
    """
    test = result.split.test
    n = len(data.y)
    selection = Selection(
        test,
        np.sort(np.concatenate([result.split.train, result.split.validation])),
        f"the training's test slice: the newest {len(test):,} of {n:,} {data.unit}",
        default=True,
    )
    evaluated = subset(data, selection.rows)
    notes = [
        "the model never saw these leads: they are its own test slice, held out "
        "from training, tree-count choice and calibration"
    ]
    points = default_points_rule(data.frame.columns)
    if points is not None:
        notes.append(f"points rule: the default {default_points_path().name}")
    if data.dropped_unknown:
        notes.append(
            f"{data.dropped_unknown:,} {data.unit} left out: their label window is "
            "still open (outcome not known yet)"
        )
    sections = evaluate_scorer(
        result.scorer,
        evaluated,
        spec,
        baselines=subset(data, selection.before),
        points=points,
        slice_columns=default_slice_columns(result.scorer.spec),
    )
    return jsonable(
        {
            "model": dict(model),
            "data": data_summary(evaluated, spec, data_file, selection, data),
            **{k: v for k, v in sections.items() if k != "notes"},
            "time": {
                "examples": result.report.get("examples", {"point_in_time": False}),
                "snapshot_leaks": result.report.get("snapshot_leaks", []),
                "decay": result.report.get("decay"),
            },
            "drift": result.report.get("drift"),
            "backtest": None,
            "notes": notes + sections["notes"],
        }
    )


def threshold_report_for(
    scorer: LeadScorer,
    frame: pd.DataFrame,
    scores: Mapping[str, np.ndarray],
    y: np.ndarray,
    weeks: float | None,
) -> dict[str, Any]:
    """What the model's own thresholds do on these leads (each evaluated as a new lead)."""
    assert scorer.policy is not None
    return threshold_report(
        scorer.policy, scores, y, scorer.policy_columns(frame), scorer.spec.missing_tokens, weeks
    )


def data_summary(
    evaluated: PreparedData,
    spec: DatasetSpec,
    file: str,
    selection: Selection,
    data: PreparedData | None = None,
) -> dict[str, Any]:
    """The evaluated rows, and what the file allows (for the report's suggestions):
    `time_kind` (a backtest and stability by month need "datetime"), `backtest_months`
    (the most `--backtest` takes on the whole prepared file `data`; 0: none, None:
    unknown) and `events` (whether the spec reads an event log, so `--events` works)."""
    return {
        "file": file,
        "rows": len(evaluated.y),
        "unit": evaluated.unit,
        "time_from": time_text(evaluated.times[0], spec),
        "time_to": time_text(evaluated.times[-1], spec),
        "base_rate": float(evaluated.y.mean()),
        "selection": selection.description,
        "time_kind": spec.time.kind,
        "backtest_months": max_backtest_months(data, spec) if data is not None else None,
        "events": spec.events is not None,
    }


def training_overlap_notes(
    data: PreparedData,
    spec: DatasetSpec,
    selection: Selection,
    sha256: str,
    trained: Mapping[str, str] | None,
    metadata: Mapping[str, Any],
) -> list[str]:
    """Whether the model could have trained on the evaluated leads, as far as is known.

    `trained` is the training run's data fingerprint and split (MLflow params
    `data.sha256`, `data.rows`, `data.time_to`, `split.test`), or None when unknown.
    """
    evaluated_from = time_text(data.times[selection.rows[0]], spec)
    if not trained or "data.time_to" not in trained:
        when = metadata.get("trained_at")
        return [
            (
                "the model's training data is unknown (no MLflow run with its data "
                "fingerprint)"
                + (f"; it was trained at {when}" if when else "")
                + ": make sure it did not learn from these leads, or the numbers flatter it"
            )
        ]
    same_file = trained.get("data.sha256") == sha256 and str(trained.get("data.rows")) == str(
        len(data.y)
    )
    if same_file and "split.test" in trained:
        shares = SplitConfig(
            validation=float(trained.get("split.validation", 0.15)),
            test=float(trained["split.test"]),
        )
        split = split_by_time(len(data.y), shares, data.groups)
        learned = np.concatenate([split.train, split.validation])
        seen = int(np.isin(selection.rows, learned).sum())
        if seen == 0:
            return [
                "the model was trained on this file and never saw these leads: they are "
                f"in its test slice (the newest {len(split.test):,} {data.unit})"
            ]
        return [
            f"{seen:,} of the {len(selection.rows):,} evaluated leads were in the model's "
            "training rows (same file): the numbers flatter the model; evaluate "
            + (
                f"its test slice (the training's test share, {shares.test:.0%}: no --config, "
                "or one with that split.test) or later leads"
                if selection.default
                else "its test slice (no --from/--to) or later leads"
            )
        ]
    time_to = str(trained["data.time_to"])
    newest_training = time_to
    if spec.time.kind == "datetime" and evaluated_from > newest_training:
        return [
            f"every evaluated lead was created after the newest lead of the model's "
            f"training data ({time_to})"
        ]
    if spec.time.kind == "ordinal" and float(evaluated_from) > float(newest_training):
        return [f"every evaluated lead comes after the model's training data (up to {time_to})"]
    return [
        f"the evaluated leads (from {evaluated_from}) overlap the model's training data "
        f"({trained.get('data.time_from', '?')} to {time_to}, another file): the model may "
        "have trained on some of them, so the numbers can flatter it"
    ]


# --- rolling-origin backtest -------------------------------------------------------------


def month_keys(times: np.ndarray) -> np.ndarray:
    return np.asarray(pd.to_datetime(times.astype("int64"), utc=True).strftime("%Y-%m"))


def complete_months(data: PreparedData) -> tuple[list[str], str | None]:
    """The complete calendar months (UTC) of a datetime time column, oldest first, and a
    note when the newest month is left out because the data stops before it ends."""
    months = data.times.astype("int64").view("datetime64[ns]").astype("datetime64[M]")
    calendar = [str(m) for m in np.unique(months)]  # "YYYY-MM", as `month_keys` writes them
    note = None
    newest = pd.Timestamp(int(data.times[-1]), tz="UTC")
    if len(calendar) > 1 and newest.day < newest.days_in_month - 2:
        note = (
            f"backtest: the newest month ({calendar[-1]}) is partial (leads up to "
            f"{newest.date()}) and is not a fold"
        )
        calendar = calendar[:-1]
    return calendar, note


def max_backtest_months(data: PreparedData, spec: DatasetSpec) -> int:
    """The most months `--backtest` takes on this data (one complete month to train on
    before the first test month); 0 when none, as for an ordinal time column."""
    if spec.time.kind != "datetime" or len(data.times) == 0:
        return 0
    return max(len(complete_months(data)[0]) - 1, 0)


def check_backtest(spec: DatasetSpec, months: int) -> None:
    """A backtest tests on calendar months: it needs a datetime time column."""
    if spec.time.kind != "datetime":
        raise LeadscoreError(
            f"--backtest needs a datetime time column: the spec's time column "
            f"{spec.time.column!r} is ordinal, so there are no months to test on"
        )
    if months < 1:
        raise LeadscoreError(f"--backtest must be a number of months (1 or more), not {months}")


def backtest_months(data: PreparedData, months: int) -> tuple[list[str], str | None]:
    """The last `months` complete calendar months (UTC) to test on, and a note when the
    newest month is left out because the data stops before it ends."""
    calendar, note = complete_months(data)
    if len(calendar) < months + 1:
        most = len(calendar) - 1
        raise LeadscoreError(
            f"--backtest {months} needs at least {months + 1} complete months of leads (one to "
            f"train on before the first test month); the data has {len(calendar)}"
            + (f" (--backtest {most} at most)" if most >= 1 else "")
        )
    return calendar[-months:], note


def backtest(
    data: PreparedData,
    spec: DatasetSpec,
    config: TrainConfig,
    months: int,
    bins: int = 10,
    on_fold: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """For each of the last `months` complete calendar months m: train a new scorer on the
    leads created before m (as `leadscore train` would, with `config`), test it on m's leads.

    Each fold also fits the logistic regression on the rows that fold's model learned
    from. `on_fold(month, i, n)` is called as fold i of n begins (progress). Returns the
    folds and the mean, std, min and max of each metric.
    """
    check_backtest(spec, months)
    keys = month_keys(data.times)
    tested, _ = backtest_months(data, months)
    folds = []
    for number, month in enumerate(tested, start=1):
        if on_fold is not None:
            on_fold(str(month), number, len(tested))
        test = np.flatnonzero(keys == month)
        history = np.arange(test[0])  # rows are sorted by time: everything before the month
        if data.groups is not None:  # no lead on both sides: its earlier examples go
            history = history[~np.isin(data.groups[history], data.groups[test])]
        history_data = subset(data, history)
        try:
            result = train_scorer(history_data, spec, config)
        except LeadscoreError as error:
            raise LeadscoreError(
                f"backtest fold {month} (trained on {len(history):,} leads before it): {error}"
            ) from None
        scorer = result.scorer
        y = data.y[test]
        test_frame = data.frame.iloc[test].reset_index(drop=True)
        x_test = scorer.encode(test_frame, AsOf(data.moments[test]))
        full = scorer.models["full"]
        margin = full.margin(x_test)
        p = full.calibrator.predict(margin)  # = full.probability(x_test)
        learned = (
            np.concatenate([result.split.train, result.split.validation])
            if config.refit
            else result.split.train
        )
        x_history = scorer.encode(history_data.frame, AsOf(history_data.moments))
        p_lr = _logistic(scorer, x_history[learned], history_data.y[learned], x_test, config.seed)
        two = y.min() != y.max()
        # The same model calibrated on every labelled row and on the recent window only
        # (recency.calibrate_on): both ECEs, whichever the config chose.
        other = result.other_calibrators.get("full")
        chosen = result.report["models"]["full"].get("calibrated_on", "all")  # auto resolved
        by_choice = {chosen: p}
        if other is not None:
            by_choice["recent" if chosen == "all" else "all"] = other.predict(margin)
        folds.append(
            {
                "train_until": time_text(data.times[history[-1]], spec),
                "test_month": str(month),
                "train_rows": len(learned),
                "rows": len(y),
                "positives": int(y.sum()),
                "roc_auc": auc_or_none(y, p),
                "pr_auc": float(average_precision_score(y, p)) if two else None,
                "brier": float(brier_score_loss(y, p)),
                "ece": expected_calibration_error(y, p, bins),
                "logistic_roc_auc": auc_or_none(y, p_lr),
                **{
                    f"ece_calibrated_on_{choice}": expected_calibration_error(y, q, bins)
                    for choice, q in by_choice.items()
                },
            }
        )
        log.info("backtest %s: AUC %s on %d leads", month, folds[-1]["roc_auc"], len(y))
    summary = {}
    for metric in BACKTEST_METRICS:
        values = np.array([f[metric] for f in folds if f.get(metric) is not None], dtype=np.float64)
        summary[metric] = {
            "mean": float(values.mean()) if len(values) else None,
            "std": float(values.std(ddof=1)) if len(values) > 1 else (0.0 if len(values) else None),
            "min": float(values.min()) if len(values) else None,
            "max": float(values.max()) if len(values) else None,
        }
    return {"folds": folds, "summary": summary}


# What each backtest fold measures (and the summary gives mean, std, min, max of): the last
# two are the same model calibrated on every labelled row and on the recent window only.
BACKTEST_METRICS = (
    "roc_auc",
    "pr_auc",
    "brier",
    "ece",
    "logistic_roc_auc",
    "ece_calibrated_on_all",
    "ece_calibrated_on_recent",
)


def backtest_note(config: TrainConfig, months: int) -> str:
    held = (
        f"its newest {config.split.test:.0%} held out as its own test slice, the "
        f"{config.split.validation:.0%} before them choosing the tree count"
        + (", then refit on both" if config.refit else " and calibrating")
    )
    return (
        f"backtest: for each of the last {months} complete months, a new scorer trained as "
        f"`leadscore train` trains on the leads created before that month ({held}), "
        "tested on the month's leads; the logistic regression learns from the same rows "
        "as that month's scorer"
    )
