"""End to end: the real `bentoml serve serving.service:LeadScoring` on a free loopback port,
exercised over HTTP (scoring, HubSpot payloads, model info, auth), then stopped by its pid."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

from features.generate import Demo
from features.timestamps import AsOf
from tests.serving.servers import TOKEN, Server, running_server
from tests.serving.support import AS_OF, Registry, crm_fixture, events_by_lead


@pytest.fixture(scope="module")
def server(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(
        registry.tracking_uri,
        tmp_path_factory.mktemp("server"),
        {"LEADSCORE_SCORING_LOG": "true"},
    ) as started:
        yield started


def test_score_over_http_equals_the_batch_scorer(
    server: Server, registry: Registry, small_leads: pd.DataFrame
) -> None:
    rows = small_leads.iloc[100:120]
    with server.client() as client:
        response = client.post(
            "/score", json={"leads": rows.to_dict("records"), "explain": True, "as_of": AS_OF}
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == {"name": "lead-scorer", "version": registry.version}
    expected = registry.result.scorer.score(rows, as_of=AsOf.of(AS_OF))
    for result, (_, row) in zip(body["results"], expected.iterrows(), strict=True):
        assert result["id"] == row["hs_object_id"]
        assert result["probability"] == pytest.approx(row["probability"], abs=1e-12)
        assert result["fit"]["score"] == pytest.approx(row["fit"], abs=1e-10)
        assert result["interest"]["score"] == pytest.approx(row["interest"], abs=1e-10)
        assert result["recommendation"]["lifecyclestage"] == row["recommended_stage"]
        assert result["reasons"]["fit"]["positive"] or result["reasons"]["fit"]["negative"]


def test_inline_events_as_of_a_moment_over_http(
    server: Server, registry: Registry, small_leads: pd.DataFrame, small_demo: Demo
) -> None:
    as_of = "2026-03-01T00:00:00Z"
    sent = events_by_lead(small_demo.events, before=as_of)
    created = pd.to_datetime(small_leads["createdate"], utc=True)
    rows = small_leads[created < pd.Timestamp(as_of)].head(3).to_dict("records")
    leads = [{**row, "events": sent.get(row["hs_object_id"], [])} for row in rows]
    assert any(lead["events"] for lead in leads)
    with server.client() as client:
        response = client.post("/score", json={"leads": leads, "as_of": as_of})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["as_of"] == as_of
    expected = registry.result.scorer.recommend_records(leads, as_of=AsOf.of(as_of))
    for result, out in zip(body["results"], expected, strict=True):
        assert result["probability"] == pytest.approx(out["probability"], abs=1e-12)
        assert result["interest"]["score"] == pytest.approx(out["interest"], abs=1e-10)


@pytest.mark.parametrize(
    "name",
    [
        "hubspot_contact_v3.json",
        "hubspot_contacts_batch_read.json",
        "hubspot_workflow_webhook_legacy.json",
    ],
)
def test_hubspot_payloads_over_http(server: Server, name: str) -> None:
    payload: Any = crm_fixture(name)
    with server.client() as client:
        response = client.post("/hubspot/score", json=payload)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert results and all(r["id"] for r in results)
    for result in results:
        properties = result["properties"]
        assert 0 <= float(properties["leadscore_probability"]) <= 1
        assert properties["leadscore_fit_grade"] in {"A", "B", "C", "D"}
        assert all(isinstance(v, str) for v in properties.values())


def test_model_info_over_http(server: Server, registry: Registry) -> None:
    with server.client() as client:
        info = client.get("/model").json()
    assert (info["name"], info["version"], info["alias"]) == (
        "lead-scorer",
        registry.version,
        "champion",
    )
    assert info["decision_layer"] is True


def test_auth_over_http(server: Server) -> None:
    body = {"leads": [{"jobtitle": "CEO"}]}
    with server.client(token=None) as anonymous:
        assert anonymous.post("/score", json=body).status_code == 401
        assert anonymous.get("/model").status_code == 401
        assert anonymous.post("/hubspot/score", json={"properties": {}}).status_code == 401
        assert anonymous.get("/livez").status_code == 200
        assert anonymous.get("/readyz").status_code == 200
        assert anonymous.get("/docs.json").status_code == 200
    with server.client(token="wrong-token") as wrong:
        response = wrong.post("/score", json=body)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
    with server.client() as client:
        assert client.post("/score", json=body).status_code == 200


def test_bad_input_over_http_is_a_400_and_one_warning_line(server: Server) -> None:
    with server.client() as client:
        response = client.post("/score", json={"leads": [{"numemployees": "lots"}]})
        assert response.status_code == 400
        assert "numemployees" in response.json()["error"]
        empty = client.post("/score", json={"leads": []})
        assert empty.status_code == 400
        garbage = client.post(
            "/score", content=b"\xff{", headers={"content-type": "application/json"}
        )
        assert garbage.status_code == 400
    time.sleep(0.5)
    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log
    assert "[ERROR]" not in log
    assert "[WARNING]" in log and "numemployees" in log
    assert TOKEN not in log and "wrong-token" not in log


def test_the_scoring_log_is_bentoml_monitoring_data_without_properties(
    server: Server, small_leads: pd.DataFrame
) -> None:
    """With LEADSCORE_SCORING_LOG, each scored lead is one JSON line of BentoML's monitoring
    data (ids, scores, stage, version; no property values) that `leadscore monitor` reads."""
    from cli.monitor import read_scores

    leads = small_leads.head(3).to_dict(orient="records")
    body = {"leads": leads, "as_of": AS_OF}
    with server.client() as client:
        assert client.post("/score", json=body).status_code == 200
    folder = server.log.parent / "monitoring" / "leadscore_scores"
    deadline = time.monotonic() + 10
    while not list(folder.rglob("data.*.log")) and time.monotonic() < deadline:
        time.sleep(0.2)
    logged = read_scores(folder, "hs_object_id")
    sent = {str(lead["hs_object_id"]) for lead in leads}
    assert sent <= set(logged["hs_object_id"])
    # (other tests of this module scored the same leads as of other moments)
    ours = logged[
        logged["hs_object_id"].isin(sent) & logged["as_of"].str.startswith("2026-07-01T00:00:00")
    ]
    assert len(ours) >= len(sent)
    row = ours.iloc[0]
    assert 0 <= row["probability"] <= 1 and str(row["model_version"]) == "1"
    text = "".join(p.read_text() for p in folder.rglob("data.*.log"))
    assert str(leads[0]["jobtitle"]) not in text and "numemployees" not in text
