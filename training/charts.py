"""Charts of the evaluation, drawn with matplotlib (no display needed).

One drawing per chart, for both places that show them: the PNGs logged with every
training run (`training.tracking`) and the images embedded in the HTML report
(`training.report`). Each function takes the result's typed parts and returns a
matplotlib Figure; `save_png` writes one to a file, `png_base64` embeds one.
"""

from __future__ import annotations

import base64
import io
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from training.result import MODEL, BacktestFold, Curves, Gains, Month, Reliability, Thresholds

BLUE = "#1c7ed6"


def reliability_chart(series: Mapping[str, Reliability]) -> Figure:
    """Predicted probability against the observed rate per bin, one panel per score; dot
    size is the number of leads in the bin, the title gives the ECE."""
    fig = Figure(figsize=(4.0 * len(series) + 0.5, 4.4))
    axes = fig.subplots(1, len(series), squeeze=False)[0]
    for ax, (name, entry) in zip(axes, series.items(), strict=True):
        predicted = _array(entry.predicted)
        observed = _array(entry.observed, len(predicted))
        counts = _array(entry.count, len(predicted))
        finite = np.r_[predicted, observed]
        finite = finite[np.isfinite(finite)]
        top = float(finite.max()) * 1.08 + 0.02 if len(finite) else 1.0
        top = min(top, 1.0) if top <= 1.05 else top
        weights = np.nan_to_num(counts, nan=1.0)
        sizes = 20 + 280 * weights / weights.max() if weights.max() > 0 else 40
        ax.plot([0, top], [0, top], linestyle="--", color="grey", linewidth=1)
        ax.plot(predicted, observed, color=BLUE, linewidth=1.2)
        ax.scatter(predicted, observed, s=sizes, color=BLUE, alpha=0.7, zorder=3)
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        ax.set_aspect("equal")
        ece = _finite(entry.ece)
        ax.set_title(_plain(f"{name}: ECE {ece:.3f}" if ece is not None else name))
        ax.set_xlabel("predicted probability")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("observed conversion rate")
    return fig


def gains_chart(series: Mapping[str, Gains]) -> Figure:
    """Cumulative gains (left) and lift (right) when leads are worked best score first."""
    fig = Figure(figsize=(11, 4.4))
    gain_ax, lift_ax = fig.subplots(1, 2)
    gain_ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
    lift_ax.axhline(1.0, linestyle="--", color="grey", label="random")
    for name, entry in series.items():
        share = _array(entry.share)
        gain_ax.plot(
            np.r_[0.0, share],
            np.r_[0.0, _array(entry.captured, len(share))],
            marker=".",
            label=_plain(name),
        )
        lift_ax.plot(
            share, _array(entry.lift, len(share)), marker="o", markersize=4, label=_plain(name)
        )
    gain_ax.set(
        xlabel="share of leads worked (best scores first)",
        ylabel="share of conversions captured",
        title="Cumulative gains",
        xlim=(0, 1),
        ylim=(0, 1.02),
    )
    lift_ax.set(
        xlabel="share of leads worked (best scores first)",
        ylabel="conversion rate / base rate",
        title="Lift (cumulative)",
        xlim=(0, 1.02),
    )
    _legends(gain_ax, lift_ax)
    return fig


def curves_chart(
    series: Mapping[str, Curves], labels: Mapping[str, tuple[str, str]], base_rate: float | None
) -> Figure:
    """ROC (left) and precision-recall (right) curves; `labels`: name → (ROC, PR) legend."""
    fig = Figure(figsize=(11, 4.6))
    roc_ax, pr_ax = fig.subplots(1, 2)
    roc_ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
    if base_rate is not None:
        pr_ax.axhline(base_rate, linestyle="--", color="grey", label="base rate")
    for name, entry in series.items():
        roc_label, pr_label = labels.get(name, (name, name))
        if entry.roc.fpr:
            fpr = _array(entry.roc.fpr)
            roc_ax.plot(fpr, _array(entry.roc.tpr, len(fpr)), label=_plain(roc_label))
        if entry.pr.recall:
            recall = _array(entry.pr.recall)
            pr_ax.plot(
                recall,
                _array(entry.pr.precision, len(recall)),
                label=_plain(pr_label),
                drawstyle="steps-post",
            )
    roc_ax.set(
        xlabel="false positive rate",
        ylabel="true positive rate (recall)",
        title="ROC",
        xlim=(0, 1),
        ylim=(0, 1.01),
    )
    pr_ax.set(
        xlabel="recall", ylabel="precision", title="Precision-recall", xlim=(0, 1), ylim=(0, 1.01)
    )
    _legends(roc_ax, pr_ax)
    return fig


def stability_chart(months: Sequence[Month]) -> Figure:
    """ROC AUC (top) and base rate with the number of leads (bottom) per month."""
    labels = [_plain(m.month or "?") for m in months]
    x = np.arange(len(months))
    auc = _array([m.roc_auc for m in months])
    rate = _array([m.base_rate for m in months])
    fig = Figure(figsize=(max(7.0, 0.7 * len(months) + 3), 5.2))
    auc_ax, rate_ax = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    auc_ax.plot(x, auc, marker="o", color=BLUE)
    finite = auc[np.isfinite(auc)]
    low = min(0.5, float(finite.min()) - 0.02) if len(finite) else 0.5
    auc_ax.set(ylabel="ROC AUC", ylim=(max(0.0, low), 1.0), title="ROC AUC and base rate per month")
    auc_ax.axhline(0.5, linestyle="--", color="grey", linewidth=1)
    auc_ax.grid(alpha=0.3)
    bars = rate_ax.bar(x, np.nan_to_num(rate), color="#adb5bd")
    for bar, month in zip(bars, months, strict=True):
        rate_ax.annotate(
            "–" if month.rows is None else f"{month.rows:,}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=7,
            color="#495057",
        )
    top = float(np.nanmax(rate)) if np.isfinite(rate).any() else 0.0
    rate_ax.set(ylabel="base rate", ylim=(0, max(top * 1.3, 0.01)))
    rate_ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    rate_ax.set_xticks(
        x,
        labels,
        rotation=45 if len(months) > 8 else 0,
        ha="right" if len(months) > 8 else "center",
    )
    return fig


def backtest_chart(folds: Sequence[BacktestFold]) -> Figure:
    """ROC AUC per backtest fold, of the model and of the logistic regression."""
    x = np.arange(len(folds))
    model = _array([f.roc_auc for f in folds])
    logistic = _array([f.logistic_roc_auc for f in folds])
    fig = Figure(figsize=(max(7.0, 0.7 * len(folds) + 3), 3.8))
    ax = fig.subplots()
    ax.plot(x, model, marker="o", label=MODEL)
    ax.plot(x, logistic, marker="s", linestyle=":", label="logistic regression")
    ax.set_xticks(
        x, [_plain(f.test_month or "?") for f in folds], rotation=45 if len(folds) > 8 else 0
    )
    values = np.r_[model, logistic]
    values = values[np.isfinite(values)]
    if len(values):  # a ±0.05 margin: enough to read, not so tight that noise looks like drift
        ax.set_ylim(max(0.0, float(values.min()) - 0.05), min(1.0, float(values.max()) + 0.05))
    ax.set(
        xlabel="test month (trained on the months before)",
        ylabel="ROC AUC",
        title="Rolling-origin backtest",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def threshold_chart(thresholds: Thresholds) -> Figure:
    """Conversion rate and share of leads per recommended stage, against the base rate."""
    shown = [
        (name, stage)
        for name in ("SQL", "MQL", "lead", "other")
        if (stage := thresholds.stages.get(name)) is not None and stage.leads
    ]
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    colours = ["#2b8a3e", "#5c940d", "#adb5bd", "#868e96"][: len(shown)]
    bars = ax.bar(
        [name for name, _ in shown],
        [np.nan if s.conversion_rate is None else s.conversion_rate for _, s in shown],
        color=colours,
    )
    if thresholds.base_rate is not None:
        ax.axhline(
            thresholds.base_rate,
            linestyle="--",
            color="grey",
            label=f"base rate {thresholds.base_rate:.1%}",
        )
    for bar, (_, stage) in zip(bars, shown, strict=True):
        ax.annotate(
            f"{stage.share or 0:.1%} of leads\nrecall {stage.recall or 0:.0%}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_ylabel("conversion rate")
    ax.set_title("Recommended stage on the test slice (every lead taken as a new lead)")
    ax.legend(fontsize=8)
    return fig


def shap_summary(contributions: np.ndarray, values: np.ndarray, names: list[str]) -> Figure:
    """SHAP beeswarm of the full model from exact TreeSHAP values (LightGBM `pred_contrib`)."""
    import matplotlib.pyplot as plt  # shap draws on pyplot's current figure
    import shap  # heavy import (numba); only training needs it

    plt.figure()  # a fresh current figure for shap to draw on
    with warnings.catch_warnings():
        # categorical columns are all-NaN on purpose (uncoloured); shap warns about it
        warnings.simplefilter("ignore", RuntimeWarning)
        shap.summary_plot(
            contributions, values, feature_names=names, show=False, max_display=len(names)
        )
    fig = plt.gcf()
    fig.suptitle("What drives the full model (SHAP, log-odds)")
    plt.close(fig)  # pyplot forgets it; the figure itself is still drawn and saved
    return fig


def save_png(fig: Figure, path: Path, dpi: int = 110) -> Path:
    """Write the chart as a PNG file (folders made as needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    return path


def png_base64(fig: Figure, dpi: int = 100) -> str:
    """The chart as base64 PNG text, for a `data:` URL."""
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=dpi)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _legends(*axes: Axes) -> None:
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)


def _plain(text: str) -> str:
    """Text for matplotlib: a `$` pair in a name would start mathtext (and may fail)."""
    return text.replace("$", r"\$")


def _finite(value: float | None) -> float | None:
    return value if value is not None and np.isfinite(value) else None


def _array(values: Iterable[float | int | None], length: int | None = None) -> np.ndarray:
    """Numbers as floats (None → NaN), padded or cut to `length` so that pairs line up."""
    out = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    if length is None:
        return out
    return np.r_[out, np.full(max(0, length - len(out)), np.nan)][:length]
