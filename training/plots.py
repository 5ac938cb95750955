"""Charts logged with every training run: reliability, gains/lift, SHAP summary."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: no display on servers or in CI

import matplotlib.pyplot as plt
import numpy as np

from training.evaluate import cumulative_gains, expected_calibration_error, reliability_curve


def reliability_diagram(
    y: np.ndarray, scores: dict[str, np.ndarray], path: Path, bins: int = 10
) -> Path:
    """Predicted vs observed conversion rate per probability bin, one line per model."""
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    for name, p in scores.items():
        predicted, observed, _ = reliability_curve(y, p, bins)
        ece = expected_calibration_error(y, p, bins)
        ax.plot(predicted, observed, marker="o", label=f"{name} (ECE {ece:.3f})")
    ax.set_xlabel("predicted probability to convert")
    ax.set_ylabel("observed conversion rate")
    ax.set_title("Reliability on the test slice")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


def gains_chart(y: np.ndarray, scores: dict[str, np.ndarray], path: Path) -> Path:
    """Cumulative gains (left) and lift (right) when leads are worked best score first."""
    fig, (gain_ax, lift_ax) = plt.subplots(1, 2, figsize=(11, 4.5))
    gain_ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
    lift_ax.axhline(1.0, linestyle="--", color="grey", label="random")
    for name, p in scores.items():
        shares, captured = cumulative_gains(y, p)
        gain_ax.plot(np.r_[0, shares], np.r_[0, captured], label=name)
        lift_ax.plot(shares, captured / shares, marker=".", label=name)
    gain_ax.set_xlabel("share of leads worked (best scores first)")
    gain_ax.set_ylabel("share of conversions captured")
    gain_ax.set_title("Cumulative gains (test slice)")
    lift_ax.set_xlabel("share of leads worked (best scores first)")
    lift_ax.set_ylabel("lift over random")
    lift_ax.set_title("Lift (test slice)")
    for ax in (gain_ax, lift_ax):
        ax.legend(fontsize=8)
    return _save(fig, path)


def shap_summary(
    contributions: np.ndarray, values: np.ndarray, names: list[str], path: Path
) -> Path:
    """SHAP beeswarm of the full model from exact TreeSHAP values (LightGBM `pred_contrib`)."""
    import shap  # heavy import (numba); only training needs it

    with warnings.catch_warnings():
        # categorical columns are all-NaN on purpose (uncoloured); shap warns about it
        warnings.simplefilter("ignore", RuntimeWarning)
        shap.summary_plot(
            contributions, values, feature_names=names, show=False, max_display=len(names)
        )
    fig = plt.gcf()
    fig.suptitle("What drives the full model (SHAP, log-odds)")
    return _save(fig, path)


def threshold_chart(report: dict, path: Path) -> Path:
    """Conversion rate and share of leads per recommended stage, against the base rate."""
    stages = [s for s in ("SQL", "MQL", "lead", "other") if report["stages"][s]["leads"]]
    rates = [report["stages"][s]["conversion_rate"] for s in stages]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    bars = ax.bar(stages, rates, color=["#2b8a3e", "#5c940d", "#adb5bd", "#868e96"][: len(stages)])
    ax.axhline(
        report["base_rate"],
        linestyle="--",
        color="grey",
        label=f"base rate {report['base_rate']:.1%}",
    )
    for bar, stage in zip(bars, stages, strict=True):
        entry = report["stages"][stage]
        ax.annotate(
            f"{entry['share']:.1%} of leads\nrecall {entry['recall']:.0%}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_ylabel("conversion rate")
    ax.set_title("Recommended stage on the test slice (every lead taken as a new lead)")
    ax.legend(fontsize=8)
    return _save(fig, path)


def _save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
