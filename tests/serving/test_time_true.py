"""Time-true scoring over HTTP (issue 11): `as_of`, a lead's events sent inline, and the 400s
for a time after the moment of scoring, each naming the lead and the property."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
from starlette.testclient import TestClient

from features.events import read_event_log
from features.generate import ACTIVITY_COLUMNS, COUNT_COLUMNS, Demo
from features.spec import DatasetSpec
from features.timestamps import AsOf
from tests.serving.support import AS_OF, Registry, crm_fixture, events_by_lead

# A moment half a year after the contact's activity in hubspot_contact_v3.json.
LATER = "2025-10-01T00:00:00Z"


@pytest.fixture
def contact() -> dict[str, Any]:
    """HubSpot's v3 contact 51, properties only (every value a string)."""
    return dict(crm_fixture("hubspot_contact_v3.json")["properties"])


def post(client: TestClient, body: Any, path: str = "/score", **kwargs: Any) -> Any:
    response = client.post(path, json=body, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def days_before(moment: str, days: float) -> str:
    stamp = pd.Timestamp(moment) - pd.Timedelta(days=days)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- as_of ---------------------------------------------------------------------------------------


def test_a_recent_visit_scores_higher_than_an_old_one(
    client: TestClient, contact: dict[str, Any]
) -> None:
    """HubSpot's contact as the v3 API sends it, scored by the default model through /score."""
    recent = {**contact, "hs_analytics_last_visit_timestamp": days_before(LATER, 1)}
    old = {**contact, "hs_analytics_last_visit_timestamp": days_before(LATER, 200)}
    body = post(client, {"leads": [recent, old], "as_of": LATER})
    assert body["as_of"] == LATER
    fresh, stale = body["results"]
    assert (fresh["id"], stale["id"]) == ("51", "51")
    assert fresh["probability"] > stale["probability"]
    assert fresh["interest"]["score"] > stale["interest"]["score"]
    assert fresh["fit"]["score"] == stale["fit"]["score"]  # a visit says nothing of fit


def test_as_of_moves_the_days_since_features(
    client: TestClient, contact: dict[str, Any], registry: Registry
) -> None:
    scorer = registry.result.scorer
    column = scorer.encoder.feature_names_.index("days_since_last_visit")
    last_visit = pd.Timestamp(contact["hs_analytics_last_visit_timestamp"])
    soon = "2025-04-02T12:00:00Z"  # a day after the last visit
    by_moment = {}
    for moment in (soon, LATER):
        body = post(client, {"leads": [contact], "as_of": moment})
        assert body["as_of"] == moment
        by_moment[moment] = body["results"][0]
        as_of = AsOf.of(moment)
        days = scorer.encode_records([contact], as_of)[1][0, column]
        assert days == pytest.approx((pd.Timestamp(moment) - last_visit) / pd.Timedelta(days=1))
        (expected,) = scorer.recommend_records([contact], as_of=as_of)
        assert body["results"][0]["probability"] == expected["probability"]
    assert by_moment[soon]["probability"] != by_moment[LATER]["probability"]
    assert by_moment[soon]["interest"]["score"] > by_moment[LATER]["interest"]["score"]
    # the same moment in epoch milliseconds, as a number or as text
    epoch_ms = int(pd.Timestamp(soon).value // 1_000_000)
    for sent in (epoch_ms, str(epoch_ms), float(epoch_ms)):
        body = post(client, {"leads": [contact], "as_of": sent})
        assert body["as_of"] == soon
        assert body["results"][0]["probability"] == by_moment[soon]["probability"]


def test_without_as_of_the_features_are_as_of_now(
    client: TestClient, contact: dict[str, Any], registry: Registry
) -> None:
    before = datetime.now(UTC)
    body = post(client, {"leads": [contact]})
    after = datetime.now(UTC)
    moment = datetime.fromisoformat(body["as_of"])
    assert before <= moment <= after
    (expected,) = registry.result.scorer.recommend_records([contact], as_of=AsOf.of(body["as_of"]))
    assert body["results"][0]["probability"] == pytest.approx(expected["probability"], abs=1e-12)


def test_hubspot_and_salesforce_take_as_of(client: TestClient, contact: dict[str, Any]) -> None:
    flat = post(client, {"leads": [contact], "as_of": LATER})["results"][0]
    answer = post(
        client, {"id": "51", "properties": contact}, "/hubspot/score", params={"as_of": LATER}
    )
    assert answer["as_of"] == LATER
    assert answer["results"][0]["properties"]["leadscore_probability"] == (
        f"{flat['probability']:.4f}"
    )
    now = post(client, {"id": "51", "properties": contact}, "/hubspot/score")
    assert abs(datetime.fromisoformat(now["as_of"]) - datetime.now(UTC)).total_seconds() < 60
    lead = crm_fixture("salesforce_lead.json")
    answer = post(client, {"leads": [lead], "as_of": LATER}, "/salesforce/score")
    assert answer["as_of"] == LATER


# -- events sent inline --------------------------------------------------------------------------


@pytest.mark.parametrize("as_of", [AS_OF, "2026-01-15T00:00:00Z"])
def test_inline_events_score_like_the_batch_scorer_with_the_event_log(
    client: TestClient,
    small_demo: Demo,
    small_leads: pd.DataFrame,
    hubspot_spec: DatasetSpec,
    registry: Registry,
    as_of: str,
) -> None:
    """Skew test: a lead's events sent inline give the numbers the batch scorer gives from
    the event log (`features.events.with_event_columns`), as of the same moment."""
    assert hubspot_spec.events is not None
    sent = events_by_lead(small_demo.events, before=as_of)
    created = pd.to_datetime(small_leads["createdate"], utc=True)
    existing = small_leads[created < pd.Timestamp(as_of)]
    counts = existing["hs_object_id"].map(lambda lead: len(sent.get(lead, [])))
    order = np.argsort(-counts.to_numpy(), kind="stable")
    picked = existing.iloc[[*order[:4], *order[len(order) // 2 : len(order) // 2 + 2], order[-1]]]
    assert counts.max() >= 20, "some leads send many events"
    records = [
        {**row, "events": sent.get(row["hs_object_id"], [])} for row in picked.to_dict("records")
    ]
    body = post(client, {"leads": records, "as_of": as_of})
    assert body["as_of"] == as_of

    cut = pd.Timestamp(as_of).tz_convert(None)
    log = read_event_log(
        small_demo.events[small_demo.events["timestamp"] < cut],
        hubspot_spec.events,
        "generated events",
        hubspot_spec.missing_tokens,
    )
    expected = registry.result.scorer.score(picked, as_of=AsOf.of(as_of), events=log)
    for result, (_, row) in zip(body["results"], expected.iterrows(), strict=True):
        assert result["id"] == row["hs_object_id"]
        assert result["probability"] == pytest.approx(row["probability"], abs=1e-9)
        assert result["fit"]["score"] == pytest.approx(row["fit"], abs=1e-9)
        assert result["interest"]["score"] == pytest.approx(row["interest"], abs=1e-9)
        assert result["recommendation"]["lifecyclestage"] == row["recommended_stage"]
    if as_of != AS_OF:
        # the export's own properties hold activity from after the moment: refused
        response = client.post("/score", json={"leads": picked.to_dict("records"), "as_of": as_of})
        assert response.status_code == 400, response.text
        assert "is after as_of" in response.json()["error"]
        assert response.json()["detail"][0]["loc"][2] in hubspot_spec.timestamp_columns


def test_events_replace_the_activity_properties(
    client: TestClient, contact: dict[str, Any]
) -> None:
    """Sent events rebuild visits, last visit, forms…; an empty list means no activity."""
    visits = [
        {"timestamp": days_before(LATER, d), "event_type": "visit", "event_value": "/pricing"}
        for d in (40, 3, 1)
    ]
    rebuilt = {
        **{name: "" for name in ACTIVITY},
        "hs_analytics_num_visits": "3",
        "hs_analytics_first_visit_timestamp": visits[0]["timestamp"],
        "hs_analytics_last_visit_timestamp": visits[2]["timestamp"],
        "hs_analytics_num_page_views": "0",
        "hs_email_open": "0",
        "hs_email_click": "0",
        "num_conversion_events": "0",
        "num_unique_conversion_events": "0",
    }
    silent = {
        **{name: "" for name in ACTIVITY},
        **{name: "0" for name in COUNTS},
    }
    results = post(
        client,
        {
            "leads": [
                {**contact, "events": visits},
                {**contact, **rebuilt},
                {**contact, "events": []},
                {**contact, **silent},
                contact,
            ],
            "as_of": LATER,
        },
    )["results"]
    assert results[0]["probability"] == results[1]["probability"]
    assert results[2]["probability"] == results[3]["probability"]
    assert results[4]["probability"] not in (results[0]["probability"], results[2]["probability"])
    # a batch in which no lead sends a single event
    alone = post(client, {"leads": [{**contact, "events": []}], "as_of": LATER})["results"]
    assert alone[0]["probability"] == results[2]["probability"]


def test_a_demo_request_sent_as_an_event_is_a_hand_raise(
    client: TestClient, contact: dict[str, Any]
) -> None:
    """The decision layer reads the rebuilt properties too (the last form's name)."""
    form = {"timestamp": days_before(LATER, 2), "event_type": "form_submission"}
    asked = [{**form, "event_value": "Request a demo"}]
    read = [{**form, "event_value": "E-Book: Lead Scoring Guide"}]
    lead = {**contact, "recent_conversion_event_name": "Webinar: Lead Scoring"}
    body = {"leads": [{**lead, "events": asked}, {**lead, "events": read}], "as_of": LATER}
    raised, other = post(client, body)["results"]
    assert raised["recommendation"]["rule"] == "hand_raise"
    assert raised["recommendation"]["lifecyclestage"] == "salesqualifiedlead"
    assert other["recommendation"]["rule"] != "hand_raise"
    # the same form a second after as_of is from the future: refused, not counted
    late = [{**asked[0], "timestamp": days_before(LATER, -1 / 86400)}]
    response = client.post("/score", json={"leads": [{**lead, "events": late}], "as_of": LATER})
    assert response.status_code == 400
    assert response.json()["detail"][0]["loc"] == ["leads", 0, "events[0].timestamp"]


COUNTS = list(COUNT_COLUMNS)
ACTIVITY = list(ACTIVITY_COLUMNS)


# -- errors: 400s naming the lead and the property -----------------------------------------------

EVENT = {"timestamp": "2026-06-01T10:00:00Z", "event_type": "visit", "event_value": "/"}


@pytest.mark.parametrize(
    ("leads", "loc", "words"),
    [
        (
            [{}, {"hs_analytics_last_visit_timestamp": "2026-07-02T08:00:00Z"}],
            ["leads", 1, "hs_analytics_last_visit_timestamp"],
            "'2026-07-02T08:00:00Z' is after as_of 2026-07-01T00:00:00Z",
        ),
        (
            [{"hs_email_last_open_date": 1782900000000}],
            ["leads", 0, "hs_email_last_open_date"],
            "1782900000000 is after as_of 2026-07-01T00:00:00Z",
        ),
        (
            [
                {},
                {},
                {"events": [EVENT, EVENT, EVENT, {**EVENT, "timestamp": "2026-07-01T00:00:01Z"}]},
            ],
            ["leads", 2, "events[3].timestamp"],
            "'2026-07-01T00:00:01Z' is after as_of 2026-07-01T00:00:00Z",
        ),
        (
            [{"events": [EVENT, {"timestamp": "2026-06-01T10:00:00Z", "event_value": "/"}]}],
            ["leads", 0, "events[1].event_type"],
            "no value: expected an event type",
        ),
        (
            [{"events": [{**EVENT, "event_type": ""}]}],
            ["leads", 0, "events[0].event_type"],
            "an event type",
        ),
        (
            [{}, {"events": [{**EVENT, "timestamp": "last tuesday"}]}],
            ["leads", 1, "events[0].timestamp"],
            "cannot read 'last tuesday' as a timestamp",
        ),
        (
            [{"events": [{"event_type": "visit"}]}],
            ["leads", 0, "events[0].timestamp"],
            "no value: expected a timestamp",
        ),
        (
            [{}, {"createdate": "2026-08-01T00:00:00Z"}],
            ["leads", 1, "createdate"],
            "'2026-08-01T00:00:00Z' is after as_of 2026-07-01T00:00:00Z: a lead is not scored "
            "as of a moment before it was created",
        ),
        ([{"events": "visit"}], ["leads", 0, "events"], "a list of events"),
        ([{"events": [EVENT, "visit"]}], ["leads", 0, "events[1]"], "an event object"),
        (
            [{"events": [{**EVENT, "event_value": {"url": "/"}}]}],
            ["leads", 0, "events[0].event_value"],
            "cannot read 'dict' as a text value",
        ),
        (
            [{"events": [{**EVENT, "timestamp": 12}]}],
            ["leads", 0, "events[0].timestamp"],
            "cannot read 12 as a timestamp",
        ),
    ],
)
def test_times_after_as_of_and_bad_events_are_400s_naming_lead_and_property(
    client: TestClient, leads: list[dict[str, Any]], loc: list[Any], words: str
) -> None:
    response = client.post("/score", json={"leads": leads, "as_of": AS_OF})
    assert response.status_code == 400, response.text
    body = response.json()
    root, index, column = loc
    assert body["error"].startswith(f"{root}[{index}].{column}: ")
    assert words in body["error"]
    (item,) = body["detail"]
    assert item["loc"] == loc
    assert words.split(": ")[-1] in item["msg"]


@pytest.mark.parametrize(
    ("as_of", "shown"),
    [
        ("next tuesday", "'next tuesday'"),
        ("", "''"),
        (12345, "12345"),  # no epoch milliseconds of this century
        ("2026-13-01T00:00:00Z", "'2026-13-01T00:00:00Z'"),
    ],
)
def test_an_unreadable_as_of_is_a_400_naming_it(client: TestClient, as_of: Any, shown: str) -> None:
    response = client.post("/score", json={"leads": [{}], "as_of": as_of})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"].startswith("as_of: cannot read ")
    assert shown in body["error"] and "ISO 8601" in body["error"]
    assert body["detail"][0]["loc"] == ["as_of"]


@pytest.mark.parametrize(
    ("raw", "loc"),
    [
        (b'{"leads": [{}], "as_of": 1e999}', ["as_of"]),
        (b'{"leads": [{}], "as_of": ' + b"9" * 400 + b"}", ["as_of"]),
        (
            b'{"leads": [{"events": [{"timestamp": ' + b"9" * 400 + b', "event_type": "visit"}]}]}',
            ["leads", 0, "events[0].timestamp"],
        ),
        (
            b'{"leads": [{"events": [{"timestamp": 1e999, "event_type": "visit"}]}]}',
            ["leads", 0, "events[0].timestamp"],
        ),
        (
            b'{"leads": [{"events": [{"timestamp": "2026-01-01T00:00:00Z", "event_type": "visit", '
            b'"event_value": ' + b"9" * 400 + b"}]}]}",
            ["leads", 0, "events[0].event_value"],
        ),
    ],
)
def test_numbers_no_float_holds_in_as_of_and_events_are_400s(
    client: TestClient, raw: bytes, loc: list[Any]
) -> None:
    response = client.post("/score", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["detail"][0]["loc"] == loc


@pytest.mark.parametrize("as_of", [{"at": "now"}, True, ["2026-07-01"]])
def test_wrongly_typed_as_of_is_a_400(client: TestClient, as_of: Any) -> None:
    response = client.post("/score", json={"leads": [{}], "as_of": as_of})
    assert response.status_code == 400
    assert {item["loc"][0] for item in response.json()["detail"]} == {"as_of"}


def test_bad_as_of_on_hubspot_and_salesforce(client: TestClient, contact: dict[str, Any]) -> None:
    response = client.post(
        "/hubspot/score", params={"as_of": "soon"}, json={"id": "51", "properties": contact}
    )
    assert response.status_code == 400, response.text
    assert response.json()["detail"][0]["loc"] == ["as_of"]
    early = {"id": "51", "properties": contact}
    response = client.post("/hubspot/score", params={"as_of": "2025-01-01T00:00:00Z"}, json=early)
    assert response.status_code == 400, response.text
    assert response.json()["detail"][0]["loc"] == ["objects", 0, "createdate"]
    lead = crm_fixture("salesforce_lead.json")
    response = client.post(
        "/salesforce/score", json={"leads": [lead], "as_of": "2025-01-01T00:00:00Z"}
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["detail"][0]["loc"] == ["leads", 0, "CreatedDate"]
    assert "before it was created" in body["error"]


def test_error_lines_are_short_and_single(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A client's values and keys never forge a log line or flood it."""
    caplog.set_level(logging.INFO)
    long = "2026-06-01T10:00:00Z" + "x" * 500 + "\n[ERROR] forged"
    bodies: list[Any] = [
        {"leads": [{"events": [{**EVENT, "timestamp": long}]}], "as_of": AS_OF},
        {"leads": [{}], "as_of": "soon\n[ERROR] forged"},
    ]
    for body in bodies:
        assert client.post("/score", json=body).status_code == 400
    raw = b'{"leads": [{"bad\\n[ERROR] key": 1e999}]}'
    response = client.post("/score", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "bad\\n[ERROR] key" in response.json()["error"]
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(records) == 3, [r.getMessage() for r in records]
    for record in records:
        message = record.getMessage()
        assert "\n" not in message and record.levelno == logging.WARNING
        assert len(message) < 400
    assert "x" * 58 not in caplog.text
