"""Golden answers over HTTP: the committed scorer (tests/models/golden) registered, served by
the real BentoML server, and the 200 golden leads sent to `/score`: every number, decision
and reason equals the records path's committed answers (tests/models/test_golden.py has
the batch, records and pyfunc paths)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.models.test_golden import AS_OF, GOLDEN, leads, lines, records_of, same
from tests.serving.servers import Server, running_server

__all__ = ["leads"]  # the module fixture, imported to be found here


@pytest.fixture(scope="module")
def golden_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    import mlflow
    from mlflow.tracking import MlflowClient

    from models.pyfunc import log_scorer
    from models.scorer import LeadScorer
    from training.tracking import configure

    folder = tmp_path_factory.mktemp("golden-registry")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        configure(uri)
        with mlflow.start_run():
            log_scorer(
                LeadScorer.load(GOLDEN / "bundle"),
                GOLDEN / "bundle",
                None,
                registered_model_name="lead-scorer",
            )
        MlflowClient(uri, uri).set_registered_model_alias("lead-scorer", "champion", "1")
    with running_server(uri, folder) as server:
        yield server


# What the API keeps of a factor (serving/schemas.py `Factor`): today one of the three
# vocabularies issue 15 will make one contract.
FACTOR_KEYS = ("feature", "label", "value", "effect", "text")


def http_view(record: dict[str, Any]) -> dict[str, Any]:
    """A committed records-path answer as `/score` says it (the API's names and fields)."""
    return {
        "probability": record["probability"],
        "fit": {"score": record["fit"], "grade": record["fit_grade"]},
        "interest": {"score": record["interest"], "grade": record["interest_grade"]},
        "recommendation": record["recommendation"],
        "reasons": {
            group: {
                side: [{key: factor[key] for key in FACTOR_KEYS} for factor in factors]
                for side, factors in record["reasons"][group].items()
                if side in ("positive", "negative")
            }
            for group in ("fit", "interest")
        },
    }


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_the_service_gives_the_golden_answers(golden_server: Server, leads: Any) -> None:
    body = {"leads": records_of(leads), "explain": True, "as_of": AS_OF}
    with golden_server.client() as client:
        response = client.post("/score", json=body)
    assert response.status_code == 200, response.text[:500]
    results = response.json()["results"]
    want = lines("records.jsonl")
    assert len(results) == len(want) == 200
    for i, (got, expected) in enumerate(zip(results, want, strict=True)):
        assert got["id"] == leads["hs_object_id"].iloc[i]
        view = {key: got[key] for key in ("probability", "fit", "interest")}
        view["recommendation"] = got["recommendation"]
        view["reasons"] = got["reasons"]
        same(view, http_view(expected), f"lead {got['id']} over HTTP")


def test_the_golden_fixtures_are_where_the_models_tests_keep_them() -> None:
    assert (GOLDEN / "bundle" / "bundle.json").is_file()
    assert Path(GOLDEN / "records.jsonl").stat().st_size > 0
