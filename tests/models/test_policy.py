"""The decision layer's rules, as properties over any stage and any scores."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.coerce import CoercionError
from features.spec import DEFAULT_MISSING_VALUES
from models.policy import (
    KEPT,
    MQL,
    SQL,
    STAGES,
    Condition,
    HandRaise,
    Policy,
    Requirements,
    Thresholds,
    grade,
    normalise_stage,
)

MISSING = frozenset(DEFAULT_MISSING_VALUES)
ORDER = {s: i for i, s in enumerate(STAGES)}

THRESHOLDS = Thresholds(
    fit_grade_cuts=[60, 40, 20],
    interest_grade_cuts=[70, 45, 25],
    sql_probability=0.5,
    sql_min_fit=40,
    mql_probability=0.2,
    mql_min_fit=20,
    mql_min_interest=25,
)
CATALOGUE = Requirements(
    requirements=[
        Condition(name="served country", column="country", **{"in": ["Germany", "United States"]}),
        Condition(name="5+ employees", column="numemployees", min=5, allow_missing=True),
    ],
    exclusions=[
        Condition(name="competitor", column="hs_email_domain", **{"in": ["rival.example"]})
    ],
    hand_raise=[HandRaise(column="demo_requested")],
)
POLICY = Policy(thresholds=THRESHOLDS, requirements=CATALOGUE)

stages = st.sampled_from([*STAGES, "other", "", "LEAD", "Marketing Qualified Lead", "SQL"])
statuses = st.sampled_from(["", "NEW", "OPEN", "IN_PROGRESS", "UNQUALIFIED", "BAD_TIMING"])
leads = st.fixed_dictionaries(
    {
        "lifecyclestage": stages,
        "hs_lead_status": statuses,
        "country": st.sampled_from(["Germany", "United States", "india", "", "GERMANY"]),
        "numemployees": st.sampled_from(["", "1-5", "25-50", "1000+", "3"]),
        "hs_email_domain": st.sampled_from(["", "rival.example", "example-corp.com", "gmail.com"]),
        "demo_requested": st.sampled_from(["", "true", "false"]),
        "probability": st.floats(0, 1),
        "fit": st.floats(0, 100),
        "interest": st.floats(0, 100),
    }
)


def decide(batch: list[dict[str, Any]]) -> dict[str, Any]:
    columns = {c: [lead[c] for lead in batch] for c in CATALOGUE.columns}
    scores = {k: np.array([lead[k] for lead in batch]) for k in ("probability", "fit", "interest")}
    return POLICY.decide(columns, scores, MISSING)


@settings(max_examples=300, deadline=None)
@given(st.lists(leads, min_size=1, max_size=20))
def test_never_moves_a_contact_backwards(batch: list[dict[str, Any]]) -> None:
    decided = decide(batch)
    for lead, stage in zip(batch, decided["lifecyclestage"], strict=True):
        current = normalise_stage(lead["lifecyclestage"], "lifecyclestage", MISSING)
        if current in KEPT:
            assert stage == current
        elif stage != "other":
            assert ORDER[stage] >= ORDER[current]


@settings(max_examples=300, deadline=None)
@given(st.lists(leads, min_size=1, max_size=20))
def test_mql_needs_fit_and_interest(batch: list[dict[str, Any]]) -> None:
    decided = decide(batch)
    for i, lead in enumerate(batch):
        if decided["rule"][i] == "score_mql":
            assert lead["fit"] >= THRESHOLDS.mql_min_fit
            assert lead["interest"] >= THRESHOLDS.mql_min_interest
        if lead["fit"] < THRESHOLDS.mql_min_fit:
            assert decided["rule"][i] not in ("score_mql", "score_sql")


@settings(max_examples=300, deadline=None)
@given(st.lists(leads, min_size=1, max_size=20))
def test_a_requirement_failure_is_never_mql_or_sql(batch: list[dict[str, Any]]) -> None:
    decided = decide(batch)
    for i, lead in enumerate(batch):
        fails = lead["country"].lower() not in ("germany", "united states") or lead[
            "numemployees"
        ] in ("1-5", "3")
        current = normalise_stage(lead["lifecyclestage"], "lifecyclestage", MISSING)
        if fails and current not in KEPT and lead["hs_email_domain"] != "rival.example":
            assert decided["rule"][i] == "requirement_failed"
            assert decided["lifecyclestage"][i] == current
            assert decided["changed"][i] is np.False_ or not decided["changed"][i]


@settings(max_examples=300, deadline=None)
@given(st.lists(leads, min_size=1, max_size=20))
def test_a_qualifying_hand_raise_becomes_sql_with_status_new(batch: list[dict[str, Any]]) -> None:
    decided = decide(batch)
    for i, lead in enumerate(batch):
        current = normalise_stage(lead["lifecyclestage"], "lifecyclestage", MISSING)
        qualifies = (
            lead["country"].lower() in ("germany", "united states")
            and lead["numemployees"] not in ("1-5", "3")
            and lead["hs_email_domain"] != "rival.example"
        )
        if lead["demo_requested"] == "true" and qualifies and ORDER.get(current, 99) < ORDER[SQL]:
            assert decided["lifecyclestage"][i] == SQL
            assert decided["rule"][i] == "hand_raise"
            expected = lead["hs_lead_status"] or "NEW"
            assert decided["hs_lead_status"][i] == expected
            assert decided["changed"][i]


@settings(max_examples=200, deadline=None)
@given(st.lists(leads, min_size=1, max_size=20))
def test_an_existing_lead_status_is_never_overwritten(batch: list[dict[str, Any]]) -> None:
    decided = decide(batch)
    for i, lead in enumerate(batch):
        if lead["hs_lead_status"]:
            assert decided["hs_lead_status"][i] == lead["hs_lead_status"]


def one(**overrides: Any) -> dict[str, Any]:
    lead = {
        "lifecyclestage": "lead",
        "hs_lead_status": "",
        "country": "Germany",
        "numemployees": "100-500",
        "hs_email_domain": "example-corp.com",
        "demo_requested": "false",
        "probability": 0.1,
        "fit": 50.0,
        "interest": 50.0,
    }
    return {**lead, **overrides}


@pytest.mark.parametrize(
    ("lead", "stage", "rule", "status"),
    [
        (one(probability=0.6), SQL, "score_sql", "NEW"),
        (one(probability=0.6, fit=30), MQL, "score_mql", None),
        (one(probability=0.3), MQL, "score_mql", None),
        (one(probability=0.3, fit=10, interest=99), "lead", "below_thresholds", None),
        (one(probability=0.3, fit=99, interest=10), "lead", "below_thresholds", None),
        (one(probability=0.05), "lead", "below_thresholds", None),
        (one(probability=0.9, country="India"), "lead", "requirement_failed", None),
        (one(probability=0.9, country=""), "lead", "requirement_failed", None),
        (one(probability=0.9, numemployees=""), SQL, "score_sql", "NEW"),
        (one(probability=0.9, hs_email_domain="rival.example"), "other", "excluded", None),
        (one(demo_requested="true"), SQL, "hand_raise", "NEW"),
        (one(demo_requested="true", country="India"), "lead", "requirement_failed", None),
        (
            one(probability=0.9, lifecyclestage="customer"),
            "customer",
            "already_at_or_past_stage",
            None,
        ),
        (
            one(probability=0.3, lifecyclestage="salesqualifiedlead", hs_lead_status="OPEN"),
            SQL,
            "already_at_or_past_stage",
            "OPEN",
        ),
        (one(probability=0.9, lifecyclestage="other"), "other", "already_at_or_past_stage", None),
        (one(probability=0.9, hs_lead_status="BAD_TIMING"), SQL, "score_sql", "BAD_TIMING"),
        (one(probability=0.3, lifecyclestage="Subscriber"), MQL, "score_mql", None),
    ],
)
def test_rules(lead: dict[str, Any], stage: str, rule: str, status: str | None) -> None:
    decided = decide([lead])
    assert decided["lifecyclestage"][0] == stage
    assert decided["rule"][0] == rule
    assert decided["hs_lead_status"][0] == status


def test_the_rule_that_stopped_a_lead_is_named() -> None:
    decided = decide([one(probability=0.9, country="India")])
    assert "served country" in decided["detail"][0]


def test_an_unknown_stage_is_an_error_naming_it() -> None:
    with pytest.raises(CoercionError, match=r"lifecyclestage.*'prospect'"):
        decide([one(lifecyclestage="prospect")])


@pytest.mark.parametrize("value", ["LEAD", " lead ", "Lead", "lead"])
def test_stages_are_case_insensitive(value: str) -> None:
    assert normalise_stage(value, "lifecyclestage", MISSING) == "lead"


def test_grades_follow_descending_cuts() -> None:
    assert grade(np.array([90, 60, 59.9, 40, 20, 0]), [60, 40, 20]).tolist() == [
        "A",
        "A",
        "B",
        "B",
        "C",
        "D",
    ]


@pytest.mark.parametrize("bad", [{}, {"in": ["x"], "min": 3}])
def test_a_condition_needs_exactly_one_test(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="test"):
        Condition(name="x", column="c", **bad)


@settings(max_examples=40, deadline=None)
@given(st.lists(leads, min_size=65, max_size=150))
def test_a_large_batch_decides_each_lead_as_alone(batch: list[dict[str, Any]]) -> None:
    # more than 64 values take the factorised path (`read_each`), as a DataFrame's do
    columns = {c: np.array([lead[c] for lead in batch], dtype=object) for c in CATALOGUE.columns}
    scores = {k: np.array([lead[k] for lead in batch]) for k in ("probability", "fit", "interest")}
    together = POLICY.decide(columns, scores, MISSING)
    for i in range(0, len(batch), 7):
        alone = decide([batch[i]])
        for key, values in together.items():
            assert values[i] == alone[key][0], (key, batch[i])


# -- a CRM's own stages (a Salesforce Lead `Status`), numbers as the export writes them ------

SALESFORCE_STAGES = {
    "Open - Not Contacted": "lead",
    "Working - Contacted": "salesqualifiedlead",
    "Closed - Converted": "opportunity",
    "Closed - Not Converted": "other",
}
SALESFORCE = Policy(
    thresholds=THRESHOLDS,
    requirements=Requirements(
        requirements=[Condition(name="10+ employees", column="NumberOfEmployees", min=10)],
        stage_column="Status",
        status_column="hs_lead_status",
        stages=SALESFORCE_STAGES,
    ),
)


def decide_salesforce(
    statuses: list[str], employees: list[str], probability: float, policy: Policy = SALESFORCE
) -> dict[str, Any]:
    n = len(statuses)
    scores = {
        "probability": np.full(n, probability),
        "fit": np.full(n, 80.0),
        "interest": np.full(n, 80.0),
    }
    return policy.decide({"Status": statuses, "NumberOfEmployees": employees}, scores, MISSING)


def test_a_crm_status_is_mapped_to_a_lifecycle_stage() -> None:
    statuses = [
        "Open - Not Contacted",
        " open - not contacted ",
        "Working - Contacted",
        "Closed - Converted",
        "Closed - Not Converted",
        "",
        "customer",  # HubSpot's own values still read
    ]
    decided = decide_salesforce(statuses, ["13,000"] * len(statuses), probability=0.9)
    assert decided["lifecyclestage"].tolist() == [
        SQL,
        SQL,
        SQL,
        "opportunity",
        "other",
        SQL,
        "customer",
    ]
    assert decided["rule"].tolist() == [
        "score_sql",
        "score_sql",
        "already_at_or_past_stage",  # "Working - Contacted" is already an SQL
        "already_at_or_past_stage",
        "already_at_or_past_stage",
        "score_sql",
        "already_at_or_past_stage",
    ]
    assert decided["changed"].tolist() == [True, True, False, False, False, True, False]


def test_an_unmapped_crm_status_names_the_mapping() -> None:
    with pytest.raises(CoercionError) as caught:
        decide_salesforce(["Nurturing"], ["50"], probability=0.9)
    message = str(caught.value)
    assert message.startswith("column 'Status': cannot read 'Nurturing' as a lifecycle stage")
    assert "decision.catalogue.stages ('open - not contacted'," in message
    with pytest.raises(CoercionError, match=r"map the CRM's own values in decision\.catalogue"):
        normalise_stage("Nurturing", "Status", MISSING)


@pytest.mark.parametrize(
    ("stages", "says"),
    [
        ({"Open": "prospect"}, "'Open' maps to 'prospect', which is not a lifecycle stage"),
        ({" ": "lead"}, "must not be empty"),
        ({"Open": "lead", "OPEN ": "lead"}, "listed twice"),
    ],
)
def test_a_stage_mapping_must_name_lifecycle_stages(stages: dict[str, str], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        Requirements(stage_column="Status", stages=stages)


def test_stage_mapping_accepts_hubspot_labels() -> None:
    catalogue = Requirements(stages={"Working": "Sales Qualified Lead", "Nurture": "MQL"})
    assert catalogue.stage_map == {"working": SQL, "nurture": MQL}


def test_requirements_read_numbers_as_the_export_writes_them() -> None:
    """10+ employees: "13,000" passes by default; a German export's "1.500" is 1500 with
    the spec's number format (kept in the policy), and "9,5" is 9.5."""
    from features.coerce import NumberFormat

    decided = decide_salesforce(["", ""], ["13,000", "9"], probability=0.9)
    assert decided["rule"].tolist() == ["score_sql", "requirement_failed"]
    german = SALESFORCE.model_copy(update={"numbers": NumberFormat(",", ".")})
    decided = decide_salesforce(["", ""], ["1.500", "9,5"], probability=0.9, policy=german)
    assert decided["rule"].tolist() == ["score_sql", "requirement_failed"]
    # the format travels with the policy (the scorer bundle's JSON)
    again = Policy.model_validate(german.model_dump(mode="json", by_alias=True))
    assert again.numbers == NumberFormat(",", ".")
    assert (
        Policy.model_validate(
            {
                k: v
                for k, v in POLICY.model_dump(mode="json", by_alias=True).items()
                if k != "numbers"
            }
        ).numbers
        == NumberFormat()
    )
