"""Next actions (issue 16): every lead status → its action and due time, the stage rules
(forward only), the `actions:` settings, and both scoring paths answering alike."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.errors import LeadscoreError
from features.spec import DEFAULT_MISSING_VALUES
from features.timestamps import AsOf, iso, read_as_of
from features.yaml_files import validate_mapping
from models.actions import (
    ACTION_TYPES,
    DEFAULT_STATUSES,
    Actions,
    UnknownStatusError,
    iso_duration,
    parse_duration,
)
from models.contract import ACTION_COLUMNS, NextAction
from models.policy import KEPT, SQL, STAGES, Policy, Requirements
from models.scorer import LeadScorer
from tests.conftest import DEMO_AS_OF
from tests.models.test_policy import THRESHOLDS
from training.config import TrainConfig
from training.thresholds import DecisionConfig, fit_policy

GOLDEN = Path(__file__).resolve().parent / "golden"
AS_OF = AsOf.of(DEMO_AS_OF)  # 2026-07-01T00:00:00Z
MISSING = frozenset(DEFAULT_MISSING_VALUES)
HOUR = 3600 * 10**9
DAY = 24 * HOUR
ACTIONS = Actions()


def one(stage: str, status: str | None, rule: str = "below_thresholds", **kw: Any) -> NextAction:
    """The next action of one lead as of DEMO_AS_OF."""
    out = (kw.pop("actions", None) or ACTIONS).next_actions(
        [stage], [status], [rule], kw.pop("as_of", AS_OF), **kw
    )
    return NextAction(
        out["next_action"][0], out["next_action_due"][0], out["next_action_detail"][0]
    )


def after(ns: int) -> str:
    return iso(read_as_of(DEMO_AS_OF) + ns)


# -- every status of the source material, at the stage that owns it ----------------------------


@pytest.mark.parametrize(
    ("status", "action", "due"),
    [
        ("NEW", "contact", after(4 * HOUR)),  # first contact within the service level
        ("OPEN", "contact", after(4 * HOUR)),  # HubSpot's: not contacted yet, as NEW
        ("ATTEMPTED_TO_CONTACT", "retry_contact", after(2 * DAY)),  # two days later
        ("IN_PROGRESS", "none", None),  # a conversation is under way
        ("CONNECTED", "none", None),  # HubSpot's: reached, as IN_PROGRESS
        ("OPEN_DEAL", "create_deal", DEMO_AS_OF),  # a deal is created automatically, at once
        ("BAD_TIMING", "recheck", after(90 * DAY)),  # back to nurturing, a later re-check
        ("UNQUALIFIED", "none", None),  # out of the sales queue
    ],
)
def test_each_lead_status_leads_to_its_action_and_due_time(
    status: str, action: str, due: str | None
) -> None:
    got = one(SQL, status)
    assert (got.type, got.due) == (action, due)
    assert got.detail.startswith(f"{status}: ")
    assert due is None or "at once" in got.detail or "4 h" in got.detail or " d" in got.detail


def test_the_defaults_cover_hubspots_eight_statuses() -> None:
    assert set(DEFAULT_STATUSES) == {
        "NEW",
        "OPEN",
        "IN_PROGRESS",
        "OPEN_DEAL",
        "UNQUALIFIED",
        "ATTEMPTED_TO_CONTACT",
        "CONNECTED",
        "BAD_TIMING",
    }
    rows = {row.status: row for row in ACTIONS.describe()}
    assert rows.keys() == DEFAULT_STATUSES.keys()
    assert rows["ATTEMPTED_TO_CONTACT"].due == timedelta(days=2)
    assert rows["UNQUALIFIED"].due is None
    assert rows["OPEN_DEAL"].meaning == "a deal is created automatically"


@pytest.mark.parametrize(
    ("stage", "action"),
    [
        ("subscriber", "nurture"),
        ("lead", "nurture"),
        ("marketingqualifiedlead", "nurture"),
        (SQL, "contact"),
        ("opportunity", "none"),
        ("customer", "none"),
        ("evangelist", "none"),
        ("other", "none"),
    ],
)
def test_without_a_status_the_stage_decides(stage: str, action: str) -> None:
    got = one(stage, None)
    assert got.type == action
    assert (got.due is None) == (action != "contact")
    if action == "contact":
        assert got.due == after(4 * HOUR)


@pytest.mark.parametrize("stage", ["opportunity", "customer", "evangelist"])
@pytest.mark.parametrize("status", ["NEW", "OPEN", "ATTEMPTED_TO_CONTACT", "OPEN_DEAL"])
def test_forward_only_no_contact_retry_or_new_deal_past_sql(stage: str, status: str) -> None:
    got = one(stage, status, "already_at_or_past_stage")
    assert (got.type, got.due) == ("none", None)
    assert "past SQL" in got.detail and "forward only" in got.detail


def test_a_re_check_is_kept_past_sql_but_never_for_other() -> None:
    assert one("customer", "BAD_TIMING").type == "recheck"
    assert one("other", "BAD_TIMING").type == "none"
    assert one("other", "NEW", "excluded").detail.startswith("stage other")


def test_a_lead_that_fails_a_requirement_is_not_handed_to_sales() -> None:
    why = "fails requirement 'served country'"
    for status in ("NEW", "ATTEMPTED_TO_CONTACT", "OPEN_DEAL"):
        got = one("lead", status, "requirement_failed", rule_detail=[why])
        assert (got.type, got.due) == ("none", None)
        assert got.detail.startswith(why)
    assert one("lead", None, "requirement_failed", rule_detail=[why]).type == "nurture"
    assert one("lead", "BAD_TIMING", "requirement_failed", rule_detail=[why]).type == "recheck"


@settings(max_examples=200, deadline=None)
@given(
    stage=st.sampled_from([*STAGES, "other"]),
    status=st.sampled_from([None, *DEFAULT_STATUSES]),
    rule=st.sampled_from(["below_thresholds", "requirement_failed", "score_sql"]),
)
def test_an_action_never_moves_a_contact_backwards(
    stage: str, status: str | None, rule: str
) -> None:
    got = one(stage, status, rule)
    assert got.type in ACTION_TYPES
    if stage in KEPT:
        assert got.type in ("recheck", "none")
    if stage == "other" or (rule == "requirement_failed"):
        assert got.type not in ("contact", "retry_contact", "create_deal")
    assert (got.due is None) == (got.type in ("nurture", "none"))
    if got.due is not None:
        assert got.due >= DEMO_AS_OF  # never before the moment of scoring


# -- statuses as CRMs write them, and the unknown ones ------------------------------------------


@pytest.mark.parametrize(
    "written", ["attempted_to_contact", "Attempted to contact", " ATTEMPTED-TO-CONTACT "]
)
def test_a_status_is_read_ignoring_case_spaces_and_hyphens(written: str) -> None:
    assert one(SQL, written).type == "retry_contact"


def test_an_unknown_status_names_the_value_the_column_the_row_and_the_allowed_ones() -> None:
    with pytest.raises(UnknownStatusError) as caught:
        ACTIONS.next_actions(
            [SQL, SQL, SQL], ["NEW", None, "RECYCLED"], ["score_sql"] * 3, AS_OF, "hs_lead_status"
        )
    error = caught.value
    assert (error.column, error.value, error.row) == ("hs_lead_status", "RECYCLED", 2)
    assert "'RECYCLED'" in str(error)
    for status in DEFAULT_STATUSES:
        assert status in error.expected
    assert "actions.statuses" in error.expected


def test_a_status_of_ones_own_is_added_under_actions_statuses() -> None:
    actions = Actions.model_validate({"statuses": {"Recycled": "nurture", "new": "none"}})
    assert one("lead", "RECYCLED", actions=actions).type == "nurture"
    assert one(SQL, "NEW", actions=actions).type == "none"  # a default overridden
    assert one(SQL, "OPEN", actions=actions).type == "contact"  # the others kept
    with pytest.raises(ValueError, match="one status"):
        Actions.model_validate({"statuses": {"Recycled": "nurture", "RECYCLED": "none"}})
    with pytest.raises(ValueError, match="contact"):
        Actions.model_validate({"statuses": {"NEW": "call"}})


# -- durations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT4H", timedelta(hours=4)),
        ("4h", timedelta(hours=4)),
        ("P2D", timedelta(days=2)),
        ("2d", timedelta(days=2)),
        ("P1DT12H", timedelta(days=1, hours=12)),
        ("PT30M", timedelta(minutes=30)),
        ("30m", timedelta(minutes=30)),
        ("45min", timedelta(minutes=45)),
        ("90s", timedelta(seconds=90)),
        ("P2W", timedelta(weeks=2)),
        ("1w", timedelta(weeks=1)),
        ("pt0s", timedelta(0)),
        (" 1.5h ", timedelta(hours=1.5)),
    ],
)
def test_durations_read_iso_8601_and_short_forms(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    assert parse_duration(iso_duration(expected)) == expected  # what a bundle saves reads back


@pytest.mark.parametrize("text", ["4", 4, "P1M", "P1Y", "-2d", "2 days", "P", "PT", "h", "", None])
def test_anything_else_is_no_duration(text: Any) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(text)


def test_an_actions_period_that_is_no_duration_is_one_line_naming_the_key() -> None:
    with pytest.raises(LeadscoreError) as caught:
        validate_mapping(TrainConfig, {"actions": {"retry_after": "two days"}}, "training config x")
    (line,) = [item for item in str(caught.value).splitlines() if "actions" in item]
    assert line.strip().startswith("actions.retry_after: expected a duration")
    assert "'two days'" in line


def test_configured_periods_set_the_due_times() -> None:
    actions = Actions.model_validate(
        {"contact_within": "1h", "retry_after": "P3D", "recheck_after": "30d", "deal_within": "2h"}
    )
    assert one(SQL, "NEW", actions=actions).due == after(HOUR)
    assert one(SQL, "ATTEMPTED_TO_CONTACT", actions=actions).due == after(3 * DAY)
    assert one(SQL, "BAD_TIMING", actions=actions).due == after(30 * DAY)
    assert one(SQL, "OPEN_DEAL", actions=actions).due == after(2 * HOUR)


# -- the moment of scoring ----------------------------------------------------------------------


def test_due_times_count_from_each_rows_moment_in_utc() -> None:
    moments = AsOf(
        np.array([read_as_of("2026-01-01T00:00:00Z"), read_as_of("2026-03-01T23:00:00+02:00")])
    )
    out = ACTIONS.next_actions([SQL, SQL], ["NEW", "ATTEMPTED_TO_CONTACT"], ["x", "x"], moments)
    assert list(out["next_action_due"]) == ["2026-01-01T04:00:00Z", "2026-03-03T21:00:00Z"]


def test_a_moment_with_milliseconds_keeps_them() -> None:
    got = one(SQL, "NEW", as_of=AsOf.of("2026-07-01T00:00:00.250Z"))
    assert got.due == "2026-07-01T04:00:00.250Z"


# -- the policy carries the rules ---------------------------------------------------------------


def test_decide_adds_the_next_action_of_the_recommended_stage_and_status() -> None:
    policy = Policy(thresholds=THRESHOLDS)
    columns = {"lifecyclestage": ["lead", "lead", "customer"], "hs_lead_status": ["", "", "NEW"]}
    scores = {
        "probability": np.array([0.9, 0.01, 0.9]),
        "fit": np.array([90.0, 5.0, 90.0]),
        "interest": np.array([90.0, 5.0, 90.0]),
    }
    plain = policy.decide(columns, scores, MISSING)
    assert "next_action" not in plain
    decided = policy.decide(columns, scores, MISSING, as_of=AS_OF)
    # a lead the scores make an SQL gets NEW, and NEW is a first contact within 4 h
    assert list(decided["hs_lead_status"]) == ["NEW", None, "NEW"]
    assert list(decided["next_action"]) == ["contact", "nurture", "none"]
    assert list(decided["next_action_due"]) == [after(4 * HOUR), None, None]
    assert {c.key for c in ACTION_COLUMNS} <= decided.keys()


def test_a_bundle_saved_before_actions_loads_with_the_defaults() -> None:
    saved = json.loads((GOLDEN / "bundle" / "bundle.json").read_text(encoding="utf-8"))["policy"]
    saved.pop("actions", None)
    assert Policy.model_validate(saved).actions == Actions()


def test_the_rules_round_trip_through_the_bundles_json() -> None:
    actions = Actions.model_validate({"contact_within": "90m", "statuses": {"RECYCLED": "nurture"}})
    policy = Policy(thresholds=THRESHOLDS, actions=actions)
    dumped = policy.model_dump(mode="json", by_alias=True)
    assert dumped["actions"]["contact_within"] == "PT1H30M"
    assert Policy.model_validate(json.loads(json.dumps(dumped))) == policy


def test_training_reads_actions_from_the_top_level_of_the_config() -> None:
    config = TrainConfig.model_validate({"actions": {"retry_after": "1d"}})
    assert config.decision.actions.retry_after == timedelta(days=1)
    assert config.flat()["actions.retry_after"] == "P1D"
    assert not any(key.startswith("decision.actions") for key in config.flat())
    with pytest.raises(ValueError, match="top level"):
        TrainConfig.model_validate({"decision": {"actions": {"retry_after": "1d"}}})
    rng = np.random.default_rng(0)
    scores = {
        "probability": rng.random(400),
        "fit": 100 * rng.random(400),
        "interest": 100 * rng.random(400),
    }
    y = (rng.random(400) < scores["probability"]).astype(float)
    policy = fit_policy(scores, y, {}, MISSING, config.decision, weeks=10)
    assert policy.actions == config.actions
    assert fit_policy(scores, y, {}, MISSING, DecisionConfig(), weeks=10).actions == Actions()


# -- both scoring paths, on the committed bundle ------------------------------------------------


@pytest.fixture(scope="module")
def golden() -> tuple[LeadScorer, pd.DataFrame]:
    scorer = LeadScorer.load(GOLDEN / "bundle")
    leads = pd.read_csv(GOLDEN / "leads.csv", dtype=str, keep_default_na=False, na_values=[""])
    return scorer, leads


def test_the_batch_and_records_paths_give_the_same_next_actions(
    golden: tuple[LeadScorer, pd.DataFrame],
) -> None:
    scorer, leads = golden
    frame = scorer.score(leads, as_of=AS_OF)
    records = [{k: v for k, v in r.items() if isinstance(v, str)} for r in leads.to_dict("records")]
    results = scorer.results(records, as_of=AS_OF)
    got = [(r.decision.next_action.type, r.decision.next_action.due) for r in results]  # type: ignore[union-attr]
    want = list(
        zip(
            frame["next_action"],
            frame["next_action_due"].where(frame["next_action_due"].notna(), None),
            strict=True,
        )
    )
    assert got == want
    assert set(frame["next_action"]) >= {
        "contact",
        "retry_contact",
        "create_deal",
        "nurture",
        "none",
    }
    contact = frame[frame["next_action"] == "contact"]
    assert (contact["next_action_due"] == "2026-07-01T04:00:00Z").all()


def test_without_a_moment_the_due_time_counts_from_now(
    golden: tuple[LeadScorer, pd.DataFrame],
) -> None:
    scorer, leads = golden
    sql = leads[
        leads["hs_lead_status"].eq("ATTEMPTED_TO_CONTACT") & leads["lifecyclestage"].eq(SQL)
    ]
    assert len(sql)
    before = AsOf.now().ns
    (result,) = scorer.results(sql.head(1).to_dict("records"))
    scored = scorer.score(sql.head(1))
    later = AsOf.now().ns
    for due in (result.decision.next_action.due, scored["next_action_due"].iloc[0]):  # type: ignore[union-attr]
        assert iso(before + 2 * DAY)[:16] <= due[:16] <= iso(later + 2 * DAY)[:16]


def test_an_unknown_status_in_a_file_names_the_lead(
    golden: tuple[LeadScorer, pd.DataFrame],
) -> None:
    scorer, leads = golden
    bad = leads.head(5).copy()
    bad.loc[bad.index[3], "hs_lead_status"] = "RECYCLED"
    with pytest.raises(LeadscoreError) as caught:
        scorer.score(bad, as_of=AS_OF)
    message = str(caught.value)
    assert message.startswith(f"lead {bad['hs_object_id'].iloc[3]!r}: hs_lead_status is 'RECYCLED'")
    assert "ATTEMPTED_TO_CONTACT" in message and "\n" not in message
    with pytest.raises(UnknownStatusError) as on_records:
        scorer.results(bad.to_dict("records"), as_of=AS_OF)
    assert on_records.value.row == 3


def test_a_requirement_catalogue_of_another_crm_names_its_status_column() -> None:
    policy = Policy(thresholds=THRESHOLDS, requirements=Requirements(status_column="LeadStatus"))
    scores = {k: np.array([0.1]) for k in ("probability", "fit", "interest")}
    with pytest.raises(UnknownStatusError) as caught:
        policy.decide({"LeadStatus": ["Recycled"]}, scores, MISSING, as_of=AS_OF)
    assert caught.value.column == "LeadStatus"


@pytest.mark.parametrize("rows", [3, 64, 65, 3000])  # one by one, and numpy's formatting
def test_due_times_are_written_as_iso_writes_any_moment(rows: int) -> None:
    rng = np.random.default_rng(rows)
    moments = rng.integers(0, 2**62, rows)
    moments[::3] = moments[::3] // 10**9 * 10**9  # whole seconds
    moments[1::3] = moments[1::3] // 10**6 * 10**6  # milliseconds
    statuses = rng.choice(np.array([None, *DEFAULT_STATUSES], dtype=object), rows)
    out = ACTIONS.next_actions([SQL] * rows, statuses, ["x"] * rows, AsOf(moments))
    for moment, action, due in zip(
        moments, out["next_action"], out["next_action_due"], strict=True
    ):
        period = ACTIONS.period(action)
        assert due == (
            None if period is None else iso(int(moment) + int(period.total_seconds()) * 10**9)
        )


def test_a_due_time_past_2262_is_still_written() -> None:
    late = AsOf(np.full(100, np.iinfo(np.int64).max - 10**9))
    out = ACTIONS.next_actions([SQL] * 100, ["BAD_TIMING"] * 100, ["x"] * 100, late)
    assert set(out["next_action_due"]) == {"2262-07-10T23:47:15.854Z"}
