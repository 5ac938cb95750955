"""The rolling-origin backtest: a new scorer per month, trained on the leads before that
month (as `leadscore train` would), tested on the month.

Each fold also fits the logistic regression on the rows that fold's model learned from,
and measures the model calibrated on every labelled row and on the recent window only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss

from features.errors import LeadscoreError
from features.spec import DatasetSpec
from features.timestamps import AsOf
from training.comparison import logistic_probability
from training.config import TrainConfig
from training.data import PreparedData
from training.metrics import auc_or_none, expected_calibration_error
from training.result import Backtest, BacktestFold, Spread
from training.selection import subset, time_text
from training.train import train_scorer

log = logging.getLogger(__name__)


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
) -> Backtest:
    """For each of the last `months` complete calendar months m: train a new scorer on the
    leads created before m (as `leadscore train` would, with `config`), test it on m's leads.

    Each fold also fits the logistic regression on the rows that fold's model learned
    from. `on_fold(month, i, n)` is called as fold i of n begins (progress). Returns the
    folds and the mean, std, min and max of each metric.
    """
    check_backtest(spec, months)
    keys = month_keys(data.times)
    tested, _ = backtest_months(data, months)
    folds: list[BacktestFold] = []
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
        p_lr = logistic_probability(
            scorer, x_history[learned], history_data.y[learned], x_test, config.seed
        )
        two = y.min() != y.max()
        # The same model calibrated on every labelled row and on the recent window only
        # (recency.calibrate_on): both ECEs, whichever the config chose.
        other = result.other_calibrators.get("full")
        chosen = result.report["models"]["full"].get("calibrated_on", "all")  # auto resolved
        by_choice = {chosen: p}
        if other is not None:
            by_choice["recent" if chosen == "all" else "all"] = other.predict(margin)
        fold = {
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
        folds.append(BacktestFold.model_validate(fold))
        log.info("backtest %s: AUC %s on %d leads", month, folds[-1].roc_auc, len(y))
    summary = {}
    for metric in BACKTEST_METRICS:
        measured = [getattr(f, metric) for f in folds if metric in f.model_fields_set]
        values = np.array([v for v in measured if v is not None], dtype=np.float64)
        summary[metric] = Spread(
            mean=float(values.mean()) if len(values) else None,
            std=float(values.std(ddof=1)) if len(values) > 1 else (0.0 if len(values) else None),
            min=float(values.min()) if len(values) else None,
            max=float(values.max()) if len(values) else None,
        )
    return Backtest(folds=folds, summary=summary)


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
