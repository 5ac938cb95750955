"""Reasons for sales reps (`models.reasons`, on `models.attribution`): additive, consistent with
the scores, readable, behaving sensibly, the same per lead and as batch lines."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from features.build import OTHER, FeatureEncoder
from features.errors import LeadscoreError
from features.generate import generate_demo
from features.spec import DatasetSpec, FeatureType, resolve_spec
from features.timestamps import AsOf
from models.attribution import effects_from_contributions
from models.calibration import Calibrator
from models.phrasing import (
    lead_value,
)
from models.scorer import MIN_EFFECT, LeadScorer
from models.submodel import SUBMODELS, SubModel
from tests.conftest import DEMO_AS_OF, X_EDUCATION, demo_examples, needs_x_education
from training.config import TrainConfig
from training.train import train_scorer

AS_OF = AsOf.of(DEMO_AS_OF)

FACTOR_KEYS = {"feature", "column", "label", "value", "effect", "text"}
# What a rep must never read: encoder markers and Python/pandas spellings of "missing".
FORBIDDEN = re.compile(r"\bnan\b|\bNone\b|\(other\)|\bNaN\b|<NA>|\bnull\b", re.IGNORECASE)
ODD_LEADS: list[dict[str, Any]] = [
    {},
    {
        "industry": "Underwater Basket Weaving",
        "country": "Atlantis",
        "numemployees": "100-500",
        "hs_analytics_source": "CARRIER_PIGEON",
        "pricing_page_views": "4",
        "demo_requested": "false",
        "webinar_attended": "TRUE",
        "jobtitle": "Head of Sales",
    },
    {
        "numemployees": "1000+",
        "annualrevenue": "nan",
        "country": "  Germany ",
        "hs_analytics_num_visits": "14",
        "jobtitle": "Select",
        "hs_email_domain": "j@gmail.com",
    },
]


def explain(
    scorer: LeadScorer, matrix: np.ndarray, raw: Any = None, k: int = 3, **options: Any
) -> list[dict[str, dict[str, Any]]]:
    """The explainer's factors of encoded leads, as the records path writes them."""
    return [
        {group: reasons.record() for group, reasons in lead.items()}
        for lead in scorer.explainer.factors(matrix, raw, k, **options)
    ]


def explain_records(
    scorer: LeadScorer,
    records: list[dict[str, Any]],
    k: int = 3,
    *,
    min_effect: float = 0.0,
    as_of: AsOf | None = None,
) -> list[dict[str, dict[str, Any]]]:
    """`explain` of raw leads, encoded as of `as_of`."""
    if not records:
        return []
    rows, matrix = scorer.encode_records(records, as_of)
    return explain(scorer, matrix, rows, k, min_effect=min_effect)


def effects(
    scorer: LeadScorer, group: str, matrix: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return scorer.explainer.effects(group, matrix)


def reason_texts(
    scorer: LeadScorer, matrix: np.ndarray, raw: Any = None, k: int = 3, **options: Any
) -> Any:
    return scorer.explainer.lines(matrix, raw, k, **options)


# --- a small trained HubSpot model, and the same boosters with other calibrators -------------


@pytest.fixture(scope="module")
def prepared(hubspot_spec: DatasetSpec) -> Any:
    # 10,000 leads: enough for the model to use the rarer signals (pricing views, a
    # missing company size) that the directional and wording tests look at
    return demo_examples(generate_demo(10_000, seed=3), hubspot_spec)


@pytest.fixture(scope="module")
def scorer(prepared: Any, hubspot_spec: DatasetSpec) -> LeadScorer:
    config = TrainConfig.model_validate(
        {
            "booster": {
                "max_rounds": 60,
                "early_stopping_rounds": 10,
                "learning_rate": 0.1,
                "num_leaves": 15,
            },
            "calibration_folds": 3,
        }
    )
    return train_scorer(prepared, hubspot_spec, config).scorer


def _recalibrated(scorer: LeadScorer, make: Callable[[SubModel], Calibrator]) -> LeadScorer:
    models = {
        name: SubModel(name, m.features, list(m.indices), m.booster, make(m))
        for name, m in scorer.models.items()
    }
    return LeadScorer(scorer.spec, scorer.encoder, models, scorer.metadata)


@pytest.fixture(scope="module")
def variants(scorer: LeadScorer, prepared: Any) -> dict[str, LeadScorer]:
    """The trained scorer, and its boosters under each kind of calibrator.

    Training picks isotonic or sigmoid by Brier score; both must explain correctly, and
    so must a (never shipped) decreasing sigmoid.
    """
    x = scorer.encoder.transform(prepared.frame, AsOf(prepared.as_of))

    def refit(method: str) -> Callable[[SubModel], Calibrator]:
        return lambda m: Calibrator(method).fit(m.margin(x), prepared.y)  # type: ignore[arg-type]

    return {
        "trained": scorer,
        "isotonic": _recalibrated(scorer, refit("isotonic")),
        "sigmoid": _recalibrated(scorer, refit("sigmoid")),
        "decreasing": _recalibrated(
            scorer, lambda m: Calibrator.from_dict({"method": "sigmoid", "x": [-0.8], "y": [-1.0]})
        ),
    }


@pytest.fixture(scope="module")
def records(small_leads: pd.DataFrame) -> list[dict[str, Any]]:
    return [*small_leads.head(400).to_dict("records"), *ODD_LEADS]


def _factors(explained: list[dict[str, dict[str, Any]]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for lead in explained:
        for group, reasons in lead.items():
            for factor in [*reasons["positive"], *reasons["negative"]]:
                yield group, factor


# --- numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["trained", "isotonic", "sigmoid", "decreasing"])
@pytest.mark.parametrize("group", ["fit", "interest"])
def test_contributions_and_effects_add_up(
    variants: dict[str, LeadScorer], records: list[dict[str, Any]], variant: str, group: str
) -> None:
    scorer = variants[variant]
    model = scorer.models[group]
    matrix = scorer.encoder.transform_records(records, AS_OF)
    contrib = model.contributions(matrix)
    assert contrib.shape == (len(records), len(model.features) + 1)
    np.testing.assert_allclose(contrib.sum(axis=1), model.margin(matrix), rtol=0, atol=1e-9)
    raw = model.booster.predict(model.columns(matrix), pred_contrib=True)
    np.testing.assert_allclose(contrib, raw, rtol=0, atol=1e-12)

    effect, baseline, score = effects(scorer, group, matrix)
    assert effect.shape == (len(records), len(model.features))
    np.testing.assert_allclose(effect.sum(axis=1), score - baseline, rtol=0, atol=1e-9)
    np.testing.assert_allclose(baseline, 100 * model.calibrator.predict(contrib[:, -1]))
    assert np.ptp(baseline) == 0  # one baseline for every lead
    assert np.abs(effect).max() > 1.0  # not trivially additive: features do move the score
    if variant != "decreasing":
        # an increasing calibrator keeps the sign of every TreeSHAP value
        assert (effect * contrib[:, :-1] >= 0).all()


def test_a_decreasing_sigmoid_gives_effects_the_sign_of_their_pull_on_the_score(
    variants: dict[str, LeadScorer], records: list[dict[str, Any]]
) -> None:
    scorer = variants["decreasing"]
    model = scorer.models["interest"]
    matrix = scorer.encoder.transform_records(records, AS_OF)
    phi = model.contributions(matrix)[:, :-1]
    effect, baseline, score = effects(scorer, "interest", matrix)
    assert (effect * phi <= 0).all()
    assert ((effect > 0) == (phi < 0)).any()
    for lead in explain(scorer, matrix, records):
        for factor in lead["interest"]["positive"]:
            assert factor["text"].endswith(" — raises interest")
    # a lead whose interest is above the baseline has more positive than negative effect
    up = score > baseline
    assert (effect[up].clip(min=0).sum(axis=1) > -effect[up].clip(max=0).sum(axis=1)).all()


@pytest.mark.parametrize(
    "calibrator",
    [
        {"method": "isotonic", "x": [-1.0, 1.0], "y": [0.2, 0.6]},
        {"method": "sigmoid", "x": [1.3], "y": [-0.5]},
    ],
)
def test_margin_equal_to_the_bias_uses_the_local_slope(calibrator: dict[str, Any]) -> None:
    model = SimpleNamespace(calibrator=Calibrator.from_dict(calibrator))
    bias = 0.1
    contrib = np.array(
        [
            [0.5, -0.5, 0.0, bias],  # Σφ == 0: m == b
            [0.3, 0.2, -0.1, bias],
        ]
    )
    margin = bias + contrib[:, :-1].sum(axis=1)
    effect, baseline, score = effects_from_contributions(model.calibrator, contrib, margin)
    np.testing.assert_allclose(effect.sum(axis=1), score - baseline, atol=1e-12)
    p = model.calibrator.predict(np.array([bias]))[0]
    slope = 0.2 if calibrator["method"] == "isotonic" else 1.3 * p * (1 - p)
    np.testing.assert_allclose(effect[0], 100 * slope * contrib[0, :-1], rtol=1e-6)
    assert effect[0, 0] > 0 > effect[0, 1] and effect[0, 2] == 0
    assert (effect[1] * contrib[1, :-1] > 0).all()


def test_a_flat_isotonic_step_leaves_no_reasons() -> None:
    """Where the calibrator is flat, the score is the baseline and nothing moved it."""
    model = SimpleNamespace(
        calibrator=Calibrator.from_dict(
            {"method": "isotonic", "x": [-1.0, 1.0, 2.0], "y": [0.2, 0.2, 0.5]}
        )
    )
    contrib = np.array(
        [
            [0.5, -0.2, 0.1],  # m = 0.4, b = 0.1: same flat step
            [0.5, 1.0, 0.1],
        ]
    )  # m = 1.6: on the ramp
    margin = contrib.sum(axis=1)
    effect, baseline, score = effects_from_contributions(model.calibrator, contrib, margin)
    assert (effect[0] == 0).all() and score[0] == baseline[0] == pytest.approx(20.0)
    np.testing.assert_allclose(effect[1].sum(), score[1] - baseline[1])
    assert (effect[1] > 0).all()


def test_scores_equal_the_scorers_scores(scorer: LeadScorer, records: list[dict[str, Any]]) -> None:
    explained = explain_records(scorer, records, as_of=AS_OF)
    scored = scorer.score_records(records, as_of=AS_OF)
    for group in ("fit", "interest"):
        np.testing.assert_allclose(
            [e[group]["score"] for e in explained], [s[group] for s in scored], rtol=0, atol=1e-12
        )
        assert all(0 <= e[group]["baseline"] <= 100 for e in explained)


@pytest.mark.parametrize(
    ("variant", "k"), [("trained", 1), ("trained", 3), ("isotonic", 5), ("decreasing", 3)]
)
def test_factors_are_the_top_k_by_size_with_the_right_sign(
    variants: dict[str, LeadScorer], records: list[dict[str, Any]], variant: str, k: int
) -> None:
    scorer = variants[variant]
    matrix = scorer.encoder.transform_records(records, AS_OF)
    explained = explain(scorer, matrix, records, k=k)
    assert len(explained) == len(records)
    specs = {f.name: f for f in scorer.spec.features}
    listed = 0
    for group in ("fit", "interest"):
        position = {name: j for j, name in enumerate(scorer.models[group].features)}
        effect, baseline, score = effects(scorer, group, matrix)
        for i, lead in enumerate(explained):
            reasons = lead[group]
            assert set(reasons) == {"score", "baseline", "positive", "negative"}
            assert abs(reasons["score"] - score[i]) <= 1e-12
            assert abs(reasons["baseline"] - baseline[i]) <= 1e-12
            for key, sign in (("positive", 1), ("negative", -1)):
                factors = reasons[key]
                listed += len(factors)
                got = [f["effect"] for f in factors]
                assert len(got) <= k
                assert all(sign * e > 0 for e in got)
                assert got == sorted(got, key=abs, reverse=True)
                expected = sorted((sign * e for e in effect[i] if sign * e > 1e-9), reverse=True)
                np.testing.assert_allclose(
                    [sign * e for e in got], expected[:k], rtol=0, atol=1e-12
                )
                direction = "raises" if sign > 0 else "lowers"
                for f in factors:
                    assert set(f) == FACTOR_KEYS
                    assert f["effect"] == effect[i, position[f["feature"]]]
                    spec = specs[f["feature"]]
                    assert f["column"] == spec.source and f["label"] == spec.readable
                    assert f["text"].endswith(f" — {direction} {group}")
    assert listed > len(records) * k  # most leads have reasons both ways


def test_k_zero_lists_nothing_and_bad_arguments_are_named(
    scorer: LeadScorer, records: list[dict[str, Any]]
) -> None:
    matrix = scorer.encoder.transform_records(records[:5], AS_OF)
    for lead in explain(scorer, matrix, k=0):
        assert all(not g["positive"] and not g["negative"] for g in lead.values())
    assert explain(scorer, matrix[:0]) == []
    assert explain_records(scorer, [], as_of=AS_OF) == []
    with pytest.raises(LeadscoreError, match="k"):
        explain(scorer, matrix, k=-1)
    with pytest.raises(LeadscoreError, match="raw has 2 record"):
        explain(scorer, matrix, records[:2])
    with pytest.raises(LeadscoreError, match=r"shape \(leads, 19\)"):
        explain(scorer, matrix[:, :5])
    with pytest.raises(LeadscoreError, match="'full'"):
        effects(scorer, "full", matrix)


def test_min_effect_leaves_out_small_factors(
    scorer: LeadScorer, records: list[dict[str, Any]]
) -> None:
    every = explain_records(scorer, records[:200], k=20, as_of=AS_OF)
    large = explain_records(scorer, records[:200], k=20, min_effect=0.5, as_of=AS_OF)
    small = [f for _, f in _factors(every) if abs(f["effect"]) < 0.5]
    assert small  # some factors are tiny, so the filter is tested
    assert all(abs(f["effect"]) >= 0.5 for _, f in _factors(large))
    kept = [(g, f["feature"]) for g, f in _factors(every) if abs(f["effect"]) >= 0.5]
    assert [(g, f["feature"]) for g, f in _factors(large)] == kept
    with pytest.raises(LeadscoreError, match="min_effect"):
        explain_records(scorer, records[:2], min_effect=-1.0, as_of=AS_OF)


# --- words ----------------------------------------------------------------------------------


def test_texts_never_show_nan_none_or_the_other_marker(
    scorer: LeadScorer, records: list[dict[str, Any]]
) -> None:
    texts = [f["text"] for _, f in _factors(explain_records(scorer, records, k=20, as_of=AS_OF))]
    texts += [
        f["text"]
        for _, f in _factors(explain(scorer, scorer.encoder.transform_records(records, AS_OF)))
    ]  # without raw records
    assert len(texts) > 2000
    bad = [t for t in texts if FORBIDDEN.search(t)]
    assert not bad, bad[:5]


def test_missing_values_read_unknown(scorer: LeadScorer) -> None:
    explained = explain_records(scorer, [{}], k=20, as_of=AS_OF)[0]
    factors = [f for g in explained.values() for f in [*g["positive"], *g["negative"]]]
    assert factors
    for f in factors:
        assert f["value"] is None
        assert re.fullmatch(
            rf"{re.escape(f['label'])}:? unknown — (raises|lowers) "
            r"(fit|interest)",
            f["text"],
        ), f["text"]
    assert any(f["text"].startswith("Company size unknown — ") for f in factors)


def test_an_unseen_category_is_quoted_from_the_raw_record(scorer: LeadScorer) -> None:
    lead = {
        "country": "  Atlantis ",
        "industry": "Underwater Basket Weaving",
        "numemployees": "100-500",
        "jobtitle": "Head of Sales",
    }
    fit = explain_records(scorer, [lead], k=20, as_of=AS_OF)[0]["fit"]
    factors = {f["feature"]: f for f in [*fit["positive"], *fit["negative"]]}
    country = factors["country"]
    assert country["value"] == "Atlantis"
    assert re.fullmatch(
        r"Country 'Atlantis' is rare or new to the model — (raises|lowers) fit", country["text"]
    )
    assert factors["numemployees"]["value"] == "100-500"
    # a number says what the typical training lead has (the bundle's median: "25-50")
    typical = scorer.encoder.reference_["numemployees"]
    assert typical == "25-50"
    assert factors["numemployees"]["text"].startswith(
        "Company size: 100-500 employees, more than the typical lead's 25-50 — "
    )
    assert factors["seniority"]["value"] == "director or head"
    assert factors["seniority"]["text"].startswith("Seniority: director or head — ")

    # without the raw record the encoder's marker is the value, never the text
    matrix = scorer.encoder.transform_records([lead], AS_OF)
    fit = explain(scorer, matrix, k=20)[0]["fit"]
    country = next(f for f in [*fit["positive"], *fit["negative"]] if f["feature"] == "country")
    assert country["value"] == OTHER
    assert country["text"].startswith("Country: a value rare or new to the model — ")
    numemployees = next(
        f for f in [*fit["positive"], *fit["negative"]] if f["feature"] == "numemployees"
    )
    assert numemployees["value"] == 300 and "300 employees" in numemployees["text"]


def test_raw_records_may_be_a_frame(scorer: LeadScorer, small_leads: pd.DataFrame) -> None:
    frame = small_leads.head(80)
    matrix = scorer.encode(frame, as_of=AS_OF)
    assert explain(scorer, matrix, frame) == explain(scorer, matrix, frame.to_dict("records"))


def test_a_raw_record_that_does_not_match_the_matrix_is_not_quoted(scorer: LeadScorer) -> None:
    matrix = scorer.encoder.transform_records(
        [{"country": "Atlantis", "numemployees": "1-5"}], AS_OF
    )
    fit = explain(scorer, matrix, [{"country": "Germany", "numemployees": "100-500"}], k=20)
    by_name = {f["feature"]: f for f in [*fit[0]["fit"]["positive"], *fit[0]["fit"]["negative"]]}
    assert by_name["country"]["value"] == OTHER
    assert by_name["numemployees"]["value"] == 3


def test_enum_like_crm_values_are_written_for_people(
    scorer: LeadScorer, records: list[dict[str, Any]]
) -> None:
    sources = {
        f["value"]: f["text"]
        for _, f in _factors(explain_records(scorer, records, k=20, as_of=AS_OF))
        if f["feature"] == "hs_analytics_source" and "rare or new" not in f["text"]
    }
    assert "ORGANIC_SEARCH" in sources
    # the most common source in training: said to be the typical lead's
    assert scorer.encoder.reference_["hs_analytics_source"] == "ORGANIC_SEARCH"
    assert sources["ORGANIC_SEARCH"].startswith(
        "Original source: Organic search, like the typical lead — "
    )
    assert not any("_" in t for t in sources.values())


# --- behaviour ------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["trained", "isotonic", "sigmoid"])
def test_more_page_views_never_lower_their_own_effect(
    variants: dict[str, LeadScorer], small_leads: pd.DataFrame, variant: str
) -> None:
    """hs_analytics_num_page_views is monotone increasing in the HubSpot spec.

    What is guaranteed: its TreeSHAP value never falls (LightGBM's monotone constraint
    bounds every leaf under a split), so its reason never turns from "raises" to
    "lowers". Its effect in score points is that value times the calibrated secant
    slope, which also moves with the lead's other features: with a sigmoid it never fell
    on this data; an isotonic calibrator's flat steps can shrink it (down to 0, when the
    lead lands on the baseline's step), never flip it.
    """
    scorer = variants[variant]
    model = scorer.models["interest"]
    j = model.features.index("hs_analytics_num_page_views")
    rows = small_leads.head(200).to_dict("records")
    previous: tuple[np.ndarray, np.ndarray] | None = None
    for views in ("0", "1", "3", "8", "30", "400"):
        matrix = scorer.encoder.transform_records(
            [{**r, "hs_analytics_num_page_views": views} for r in rows], AS_OF
        )
        phi = model.contributions(matrix)[:, j]
        effect = effects(scorer, "interest", matrix)[0][:, j]
        if previous is not None:
            before_phi, before_effect = previous
            assert (phi >= before_phi - 1e-12).all()
            assert not ((before_effect > 1e-9) & (effect < -1e-9)).any()
            if variant == "sigmoid":
                assert (effect >= before_effect - 1e-9).all()
        else:
            first = phi
        previous = (phi, effect)
    assert previous is not None
    # not vacuous: the model does use the views (400 of them count for more than none)
    assert (previous[0] > first + 1e-6).mean() > 0.5
    # past every split threshold the views can only raise interest
    assert (previous[0] >= -1e-12).all() and (previous[1] >= -1e-9).all()


def test_the_lead_id_never_changes_the_reasons(
    scorer: LeadScorer, records: list[dict[str, Any]]
) -> None:
    before = explain_records(scorer, records[:100], as_of=AS_OF)
    renamed = [{**r, "hs_object_id": f"other-{i}"} for i, r in enumerate(records[:100])]
    assert explain_records(scorer, renamed, as_of=AS_OF) == before
    assert (
        explain_records(
            scorer,
            [{k: v for k, v in r.items() if k != "hs_object_id"} for r in records[:100]],
            as_of=AS_OF,
        )
        == before
    )


def test_a_batch_explains_each_lead_as_alone(
    scorer: LeadScorer, records: list[dict[str, Any]]
) -> None:
    batch = explain_records(
        scorer, records[:120], as_of=AS_OF
    )  # > 64 rows: the multi-threaded path
    for i in (0, 7, 119):
        assert explain_records(scorer, [records[i]], as_of=AS_OF) == [batch[i]]


# --- batch reason lines (`reason_texts`, what `leadscore score --reasons` writes) -------------


def _line(group: dict[str, Any]) -> str:
    return "; ".join(
        f"{f['text']} ({f['effect']:+.1f})" for f in [*group["positive"], *group["negative"]]
    )


@pytest.mark.parametrize("k, min_effect", [(3, 0.05), (1, 0.0), (20, 0.0), (0, 0.0)])
def test_reason_lines_are_the_explained_factors(
    scorer: LeadScorer, records: list[dict[str, Any]], k: int, min_effect: float
) -> None:
    frame = pd.DataFrame(records).fillna("")
    frame = frame.set_index(pd.RangeIndex(1000, 1000 + len(frame)))  # not 0..n: by position
    matrix = scorer.encode(frame, as_of=AS_OF)
    explained = explain(scorer, matrix, frame, k, min_effect=min_effect)
    lines = reason_texts(scorer, matrix, frame, k, min_effect=min_effect)
    for group in ("fit", "interest"):
        expected = [_line(lead[group]) for lead in explained]
        assert lines[group].tolist() == expected
    if k:  # not vacuous: rare categories and ranges are quoted, leads have reasons (a
        # lead on a flat isotonic step has none: see test_a_flat_isotonic_step_leaves_no_reasons)
        if k == 20:
            assert any("'Atlantis'" in t for t in lines["fit"])
            assert any("100-500 employees" in t for t in lines["fit"])
        assert all(np.mean([t != "" for t in lines[g].tolist()]) > 0.9 for g in lines)
    else:
        assert not any(lines["fit"]) and not any(lines["interest"])


def test_reason_lines_take_raw_values_as_columns_or_none(
    scorer: LeadScorer, records: list[dict[str, Any]]
) -> None:
    frame = pd.DataFrame(records).fillna("")
    matrix = scorer.encode(frame, as_of=AS_OF)
    as_columns = {c: frame[c].tolist() for c in frame.columns}
    assert (
        reason_texts(scorer, matrix, as_columns)["fit"].tolist()
        == reason_texts(scorer, matrix, frame)["fit"].tolist()
    )
    without_raw = reason_texts(scorer, matrix)["fit"].tolist()
    assert without_raw == [_line(lead["fit"]) for lead in explain(scorer, matrix)]
    assert reason_texts(scorer, matrix[:0])["fit"].tolist() == []
    with pytest.raises(LeadscoreError, match=r"'country'.*3 value"):
        reason_texts(scorer, matrix, {"country": ["Germany"] * 3})
    with pytest.raises(LeadscoreError, match="k"):
        reason_texts(scorer, matrix, k=-1)


# Number texts a CRM may send: plain numbers (never quoted), ranges (quoted), missing.
# Arabic-Indic digits, "1_000" and a no-break space are numbers to float() though no
# plain decimal text.
NUMBER_TEXTS = [
    "12", " 12 ", "1e3", "+.5", "5.", "-0", "100-500", "1000+", " 5 - 25 ", "", "nan",
    "١٢", "1_000", "12\u00a0", "0.004", "1",
]  # fmt: skip


@pytest.mark.parametrize("dtype", ["str", object])
def test_reason_lines_read_number_texts_as_explain_does(
    scorer: LeadScorer, records: list[dict[str, Any]], dtype: Any
) -> None:
    frame = pd.DataFrame(records[: 2 * len(NUMBER_TEXTS)]).fillna("")
    texts = NUMBER_TEXTS * 2
    for column in ("numemployees", "hs_analytics_num_visits", "pricing_page_views"):
        frame[column] = texts
        texts = texts[1:] + texts[:1]
    frame = frame.astype(dtype)
    matrix = scorer.encode(frame, as_of=AS_OF)
    lines = reason_texts(scorer, matrix, frame, 20)
    explained = explain(scorer, matrix, frame, 20)
    for group in ("fit", "interest"):
        assert lines[group].tolist() == [_line(lead[group]) for lead in explained]
    assert any("100-500 employees" in t for t in lines["fit"])


def test_scoring_with_reasons_keeps_the_scores(
    scorer: LeadScorer, small_leads: pd.DataFrame
) -> None:
    frame = small_leads.head(300)
    plain = scorer.score(frame, as_of=AS_OF)
    with_reasons = scorer.score(frame, reasons=True, as_of=AS_OF)
    # fit and interest come from the TreeSHAP values' sum there: the same to rounding
    for column in ("probability", "fit", "interest"):
        np.testing.assert_allclose(with_reasons[column], plain[column], rtol=0, atol=1e-9)
    explained = explain(scorer, scorer.encode(frame, as_of=AS_OF), frame, 3, min_effect=MIN_EFFECT)
    assert with_reasons["interest_reasons"].tolist() == [
        _line(lead["interest"]) for lead in explained
    ]


# --- a small X Education model: the whole path on another spec ------------------------------


@pytest.fixture(scope="module")
def xed_spec() -> DatasetSpec:
    return resolve_spec("x-education")


def _feature(spec: DatasetSpec, name: str) -> Any:
    return next(f for f in spec.features if f.name == name)


def _xed_frame(rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Leads shaped like X Education's Leads.csv (text values, "Select" placeholders)."""
    rng = np.random.default_rng(seed)

    def pick(values: list[Any], p: list[float] | None = None) -> np.ndarray:
        return rng.choice(np.array(values, dtype=object), size=rows, p=p)

    yes_no = ["Yes", "No"]
    frame = pd.DataFrame(
        {
            "Prospect ID": [f"p-{i}" for i in range(rows)],
            "Lead Number": np.arange(rows) + 600_000,
            "Country": pick(["India", "India", "India", "United States", "Singapore", ""]),
            "City": pick(["Mumbai", "Select", "Thane & Outskirts", "Other Cities", ""]),
            "Specialization": pick(["Select", "Finance Management", "Marketing Management", ""]),
            "What is your current occupation": pick(
                ["Unemployed", "Working Professional", "Student", ""]
            ),
            "What matters most to you in choosing a course": pick(["Better Career Prospects", ""]),
            "TotalVisits": np.where(rng.random(rows) < 0.05, np.nan, rng.poisson(3, rows)),
            "Total Time Spent on Website": rng.integers(0, 2200, rows),
            "Page Views Per Visit": np.round(rng.gamma(2.0, 1.2, rows), 2),
            "Last Activity": pick(
                ["Email Opened", "SMS Sent", "Olark Chat Conversation", "Page Visited on Website"]
            ),
            "Lead Origin": pick(["Landing Page Submission", "API", "Lead Add Form"]),
            "Lead Source": pick(["Google", "Direct Traffic", "Olark Chat", "Reference"]),
            "How did you hear about X Education": pick(
                ["Select", "Online Search", "Word Of Mouth", ""]
            ),
            "A free copy of Mastering The Interview": pick(yes_no),
            "Do Not Email": pick(yes_no, [0.1, 0.9]),
            "Do Not Call": pick(yes_no, [0.02, 0.98]),
            "Search": pick(yes_no, [0.05, 0.95]),
            "Through Recommendations": pick(yes_no, [0.05, 0.95]),
        }
    )
    logit = (
        frame["Total Time Spent on Website"] / 500.0
        - 2.5
        + 1.5 * (frame["What is your current occupation"] == "Working Professional")
        + 1.0 * (frame["Last Activity"] == "SMS Sent")
        - 1.0 * (frame["Do Not Email"] == "Yes")
    )
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit.to_numpy(dtype=float)))).astype(int)
    return frame.astype(object).where(frame.notna(), ""), y


def _small_scorer(spec: DatasetSpec, frame: pd.DataFrame, y: np.ndarray) -> LeadScorer:
    """A LeadScorer trained directly (few small trees, sigmoid): fast, for explanations."""
    encoder = FeatureEncoder(spec).fit(frame)
    x = encoder.transform(frame)
    names = [f.name for f in spec.features]
    groups = {"full": spec.features, "fit": spec.fit, "interest": spec.interest}
    models = {}
    for name in SUBMODELS:
        features = groups[name]
        indices = [names.index(f.name) for f in features]
        categorical = [i for i, f in enumerate(features) if f.type is FeatureType.categorical]
        data = lgb.Dataset(x[:, indices], y, categorical_feature=categorical)
        booster = lgb.train(
            {
                "objective": "binary",
                "num_leaves": 7,
                "learning_rate": 0.1,
                "min_data_per_group": 20,
                "verbosity": -1,
                "num_threads": 1,
                "deterministic": True,
                "seed": 1,
            },
            data,
            num_boost_round=40,
        )
        margin = booster.predict(x[:, indices], raw_score=True)
        models[name] = SubModel(
            name, [f.name for f in features], indices, booster, Calibrator("sigmoid").fit(margin, y)
        )
    return LeadScorer(spec, encoder, models)


@pytest.fixture(scope="module")
def xed_scorer(xed_spec: DatasetSpec) -> LeadScorer:
    return _small_scorer(xed_spec, *_xed_frame(2000, seed=5))


def test_x_education_reasons_add_up_and_read_well(xed_scorer: LeadScorer) -> None:
    frame, _ = _xed_frame(300, seed=6)
    leads = [
        *frame.to_dict("records"),
        {"Country": "Atlantis", "Do Not Email": "No", "TotalVisits": "", "Last Activity": "Select"},
    ]
    matrix = xed_scorer.encoder.transform_records(leads)
    for group in ("fit", "interest"):
        effect, baseline, score = effects(xed_scorer, group, matrix)
        np.testing.assert_allclose(effect.sum(axis=1), score - baseline, atol=1e-9)
    explained = explain(xed_scorer, matrix, leads, k=20)
    texts = [f["text"] for _, f in _factors(explained)]
    assert not [t for t in texts if FORBIDDEN.search(t)]
    assert any(
        re.match(r"Time on website: [0-9,]+ seconds, (fewer|more) than the typical lead's", t)
        for t in texts
    )
    odd = explained[-1]
    odd_factors = {f["feature"]: f for g in odd.values() for f in [*g["positive"], *g["negative"]]}
    assert odd_factors["Country"]["text"].startswith("Country 'Atlantis' is rare or new")
    assert odd_factors["Total Time Spent on Website"]["text"].startswith("Time on website unknown")
    assert xed_scorer.encoder.reference_["Do Not Email"] is False  # most leads say no
    assert odd_factors["Do Not Email"]["text"].startswith(
        "Has not opted out of email, like most leads — "
    )
    assert odd_factors["Do Not Email"]["value"] == "no"


@pytest.mark.realdata
@needs_x_education
def test_real_x_education_leads_read_cleanly(xed_scorer: LeadScorer) -> None:
    """The small model is synthetic, but the values are the real export's, typos included."""
    frame = pd.read_csv(X_EDUCATION, nrows=2000)
    explained = explain(xed_scorer, xed_scorer.encode(frame), frame.to_dict("records"), k=20)
    texts = [f["text"] for _, f in _factors(explained)]
    assert len(texts) > 5000
    assert not [t for t in texts if FORBIDDEN.search(t)]
    assert not [t for t in texts if "Select" in t]  # a placeholder is a missing value


def test_lead_value_quotes_ranges_only_when_they_read_as_the_encoded_number(
    scorer: LeadScorer,
) -> None:
    encoder = scorer.encoder
    size = _feature(scorer.spec, "numemployees")
    assert lead_value(encoder, size, 300.0, "100-500") == ("100-500", "present")
    assert lead_value(encoder, size, 300.0, "300") == (300, "present")
    assert lead_value(encoder, size, 300.0, "1-5") == (300, "present")
    assert lead_value(encoder, size, 300.0) == (300, "present")
    assert lead_value(encoder, size, float("nan"), "") == (None, "missing")
    visits = _feature(scorer.spec, "days_since_last_visit")
    # days since a timestamp: tenths below ten days, whole days above, never the raw text
    assert lead_value(encoder, visits, 23.7, "2026-06-07T10:00:00Z") == (24, "present")
    assert lead_value(encoder, visits, 3.84, "2026-06-27T04:00:00Z") == (3.8, "present")
    assert lead_value(encoder, visits, 0.0) == (0, "present")


def test_factors_are_data_and_the_sentence_is_the_last_step(
    scorer: LeadScorer, records: list[dict[str, Any]]
) -> None:
    matrix = scorer.encoder.transform_records(records[:60], AS_OF)
    seen = 0
    for lead in scorer.explainer.factors(matrix, records[:60]):
        for group, reasons in lead.items():
            for direction, factors in (("raises", reasons.positive), ("lowers", reasons.negative)):
                for f in factors:
                    seen += 1
                    assert (f.group, f.direction) == (group, direction)
                    assert " — " not in f.phrase
                    assert f.text == f"{f.phrase} — {direction} {group}"
                    assert f.record()["text"] == f.text
    assert seen > 60
