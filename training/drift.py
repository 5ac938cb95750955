"""Has the world moved? Base rates over time and adversarial validation, at training time.

CRM data drifts: campaigns, seasons, new channels, a changed MQL definition. Before a
model is trusted, training says what moved:

- **Base rate per slice and per month.** The share of positives in train, validation and
  test, and per calendar month of the moment of scoring. Train vs validation and train vs
  test are compared with a two-proportion z-test, the months with a chi-square test of
  homogeneity; a difference beyond sampling noise (p below `drift.alpha`) is a warning. For
  point-in-time examples, whose examples of one lead share an outcome, the tests count
  leads, not examples (the honest sample size).
- **Adversarial validation.** A small LightGBM model learns to tell the oldest third of the
  train slice from its newest third; its out-of-fold ROC AUC says how different they look
  (0.5: not at all), and its strongest features say what changed.
- **Time proxies.** A feature that alone tells old from new (single-feature AUC at or above
  `drift.time_proxy_auc`) mostly tracks the calendar: what it teaches the model is *when* a
  lead arrived, which does not carry over to next month's leads. `drift.time_proxies: warn`
  names them; `drop` leaves them out of the model.
"""

from __future__ import annotations

import math
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold, StratifiedKFold

from features.spec import DatasetSpec, FeatureType

# The adversarial model sees at most this many rows (a sample keeps it to a second or two).
ADVERSARIAL_ROWS = 20_000
ADVERSARIAL_FOLDS = 3
# Months with fewer examples than this are listed but left out of the test.
MIN_MONTH_ROWS = 30
TOP_FEATURES = 5


def proportion_test(positives_a: float, n_a: float, positives_b: float, n_b: float) -> float:
    """Two-sided p-value of a pooled two-proportion z-test (1.0 when it cannot be run)."""
    if n_a <= 0 or n_b <= 0:
        return 1.0
    pooled = (positives_a + positives_b) / (n_a + n_b)
    variance = pooled * (1.0 - pooled) * (1.0 / n_a + 1.0 / n_b)
    if variance <= 0:
        return 1.0
    z = (positives_a / n_a - positives_b / n_b) / math.sqrt(variance)
    return float(2.0 * stats.norm.sf(abs(z)))


def effective_size(rows: np.ndarray, groups: np.ndarray | None) -> float:
    """How many independent units the rows hold: rows, or the distinct leads among them."""
    if groups is None:
        return float(len(rows))
    return float(len(np.unique(groups[rows]))) if len(rows) else 0.0


def slice_rates(
    y: np.ndarray, slices: dict[str, np.ndarray], groups: np.ndarray | None, alpha: float
) -> dict[str, Any]:
    """Base rate per slice, and each later slice tested against train."""
    rates: dict[str, Any] = {}
    for name, rows in slices.items():
        n = effective_size(rows, groups)
        rate = float(y[rows].mean()) if len(rows) else float("nan")
        rates[name] = {"rows": len(rows), "units": int(n), "rate": rate}
    train = rates["train"]
    for name in ("validation", "test"):
        other = rates[name]
        p = proportion_test(
            train["rate"] * train["units"],
            train["units"],
            other["rate"] * other["units"],
            other["units"],
        )
        other["p_value_vs_train"] = p
        other["shifted"] = bool(p < alpha)
        other["ratio_to_train"] = (
            other["rate"] / train["rate"] if train["rate"] > 0 else float("nan")
        )
    return rates


def monthly_rates(
    y: np.ndarray, moments: np.ndarray, groups: np.ndarray | None, alpha: float
) -> dict[str, Any]:
    """Base rate per calendar month of the moment (UTC), with a chi-square test across the
    months that have at least `MIN_MONTH_ROWS` examples."""
    months = pd.to_datetime(moments.astype("datetime64[ns]")).to_period("M").astype(str)
    frame = pd.DataFrame({"month": np.asarray(months), "y": y})
    if groups is not None:
        frame["lead"] = groups
    table = []
    observed = []
    for month, rows in frame.groupby("month", sort=True):
        n = len(rows)
        units = rows["lead"].nunique() if groups is not None else n
        rate = float(rows["y"].mean())
        table.append({"month": str(month), "rows": n, "units": int(units), "rate": rate})
        if n >= MIN_MONTH_ROWS:
            positives = rate * units
            observed.append([positives, units - positives])
    result: dict[str, Any] = {"months": table, "test": "chi-square test of homogeneity"}
    counts = np.asarray(observed, dtype=np.float64)
    if len(counts) >= 2 and (counts.sum(axis=0) > 0).all():
        statistic, p, dof, _ = stats.chi2_contingency(counts, correction=False)
        result.update(
            {
                "chi2": float(statistic),
                "dof": int(dof),
                "p_value": float(p),
                "shifted": bool(p < alpha),
            }
        )
    else:
        result.update({"p_value": None, "shifted": False})
    return result


def adversarial_validation(
    x: np.ndarray,
    moments: np.ndarray,
    spec: DatasetSpec,
    groups: np.ndarray | None,
    seed: int,
    threads: int = 1,
) -> dict[str, Any]:
    """Tell the oldest third of the rows (by moment) from the newest third.

    Returns the out-of-fold ROC AUC, the features the model leans on most (by gain), and
    every feature's own old-vs-new AUC. Rows should be the train slice only: which columns
    drift is decided without looking at the slices the model is judged on."""
    from training.metrics import single_column_auc

    order = np.argsort(moments, kind="stable")
    third = len(order) // 3
    names = [f.name for f in spec.features]
    if third < 20:
        return {"auc": None, "rows": len(order), "top_features": [], "single_feature_auc": {}}
    rows = np.concatenate([order[:third], order[-third:]])
    label = np.concatenate([np.zeros(third), np.ones(third)])
    rng = np.random.default_rng(seed)
    if len(rows) > ADVERSARIAL_ROWS:
        keep = np.sort(rng.choice(len(rows), ADVERSARIAL_ROWS, replace=False))
        rows, label = rows[keep], label[keep]
    matrix = x[rows]
    categorical = [j for j, f in enumerate(spec.features) if f.type is FeatureType.categorical]
    params = {
        "objective": "binary",
        "learning_rate": 0.1,
        "num_leaves": 15,
        "min_child_samples": 20,
        "verbose": -1,
        "seed": seed,
        # row-wise histograms + deterministic: the same model whatever the thread count
        "num_threads": threads,
        "deterministic": True,
        "force_row_wise": True,
    }
    folds: Any
    if groups is not None:
        folds = GroupKFold(n_splits=ADVERSARIAL_FOLDS).split(matrix, label, groups[rows])
    else:
        folds = StratifiedKFold(ADVERSARIAL_FOLDS, shuffle=True, random_state=seed).split(
            matrix, label
        )
    predicted = np.zeros(len(label))
    for fit_rows, held_out in folds:
        booster = lgb.train(
            params,
            lgb.Dataset(
                matrix[fit_rows],
                label[fit_rows],
                feature_name=names,
                categorical_feature=categorical,
                free_raw_data=False,
            ),
            num_boost_round=60,
        )
        predicted[held_out] = booster.predict(matrix[held_out])
    auc = float(roc_auc_score(label, predicted))
    booster = lgb.train(
        params,
        lgb.Dataset(matrix, label, feature_name=names, categorical_feature=categorical),
        num_boost_round=60,
    )
    gain = booster.feature_importance(importance_type="gain")
    total = float(gain.sum()) or 1.0
    top = [
        {"feature": names[j], "share_of_gain": float(gain[j] / total)}
        for j in np.argsort(-gain)[:TOP_FEATURES]
        if gain[j] > 0
    ]
    singles = {
        f.name: single_column_auc(matrix[:, j], label, f.type is FeatureType.categorical)
        for j, f in enumerate(spec.features)
    }
    return {"auc": auc, "rows": len(label), "top_features": top, "single_feature_auc": singles}


def drift_report(
    x: np.ndarray,
    y: np.ndarray,
    moments: np.ndarray,
    slices: dict[str, np.ndarray],
    spec: DatasetSpec,
    groups: np.ndarray | None,
    config: Any,
    seed: int,
    monthly: bool = True,
    threads: int = 1,
) -> dict[str, Any]:
    """Everything training says about drift (a JSON-able dict; `warnings` in plain words).

    `config`: the training config's `drift` section (`alpha`, `time_proxy_auc`,
    `time_proxies`). `monthly`: whether moments are dates (an ordinal export has none).
    `threads`: LightGBM's threads for the adversarial model (0: all cores)."""
    rates = slice_rates(y, slices, groups, config.alpha)
    months = monthly_rates(y, moments, groups, config.alpha) if monthly else None
    train = slices["train"]
    adversarial = adversarial_validation(
        x[train], moments[train], spec, None if groups is None else groups[train], seed, threads
    )
    columns = {f.name: f.source for f in spec.features}
    proxies = [
        {"feature": name, "column": columns[name], "auc": auc}
        for name, auc in sorted(
            adversarial["single_feature_auc"].items(), key=lambda item: -item[1]
        )
        if auc >= config.time_proxy_auc
    ]
    unit = "leads" if groups is not None else "rows"
    warnings: list[str] = []
    for name in ("validation", "test"):
        other = rates[name]
        if other["shifted"]:
            warnings.append(
                f"the base rate moved: {other['rate']:.1%} in the {name} slice vs "
                f"{rates['train']['rate']:.1%} in train ({other['ratio_to_train']:.2f}×; "
                f"two-proportion z-test on {unit}, p = {other['p_value_vs_train']:.1g}): "
                "probabilities calibrated on older leads may be off for new ones"
            )
    if months is not None and months["shifted"]:
        rates_by_month = [m["rate"] for m in months["months"] if m["rows"] >= MIN_MONTH_ROWS]
        warnings.append(
            f"the base rate differs between months beyond sampling noise (from "
            f"{min(rates_by_month):.1%} to {max(rates_by_month):.1%}; chi-square test on "
            f"{unit}, p = {months['p_value']:.1g})"
        )
    if proxies:
        named = ", ".join(f"{p['feature']!r} (AUC {p['auc']:.2f})" for p in proxies)
        action = (
            "left out of the model (drift.time_proxies: drop)"
            if config.time_proxies == "drop"
            else "kept (drift.time_proxies: warn; set it to drop to leave them out)"
        )
        warnings.append(
            f"time proxies: {named} alone tell the oldest third of the train slice from its "
            f"newest third at or above AUC {config.time_proxy_auc:g}; they track the "
            f"calendar more than the lead; {action}"
        )
    return {
        "base_rate": rates,
        "monthly": months,
        "adversarial": {k: v for k, v in adversarial.items() if k != "single_feature_auc"},
        "single_feature_auc": adversarial["single_feature_auc"],
        "time_proxies": proxies,
        "time_proxy_action": config.time_proxies,
        "warnings": warnings,
    }


def without_features(spec: DatasetSpec, names: set[str]) -> DatasetSpec:
    """The spec without the named features (each group keeps at least one)."""
    from features.errors import LeadscoreError

    update: dict[str, Any] = {}
    for group in ("fit", "interest", "context"):
        kept = [f for f in getattr(spec, group) if f.name not in names]
        if group != "context" and not kept:
            raise LeadscoreError(
                f"drift.time_proxies: drop would leave the {group} model without features "
                f"(all of {', '.join(sorted(names))} are time proxies); use warn, or add "
                "features to the spec"
            )
        update[group] = kept
    return spec.model_copy(update=update)
