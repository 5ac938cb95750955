"""One resolver for the CLI and the service: every form of model reference, and errors
that name the reference."""

from __future__ import annotations

from pathlib import Path

import pytest

from serving.resolve import (
    ModelNotFoundError,
    bundle_folder,
    load_model,
    parse_registry_uri,
    resolve,
)
from tests.serving.support import Registry


@pytest.mark.parametrize(
    ("uri", "parsed"),
    [
        ("models:/lead-scorer@champion", ("lead-scorer", None, "champion")),
        ("models:/lead-scorer/3", ("lead-scorer", "3", None)),
        ("models:/lead-scorer/latest", ("lead-scorer", "latest", None)),
        ("models:/lead-scorer", ("lead-scorer", None, None)),
        ("runs:/abc/model", None),
        ("/some/folder", None),
    ],
)
def test_registry_references_are_parsed(uri: str, parsed: object) -> None:
    assert parse_registry_uri(uri) == parsed


@pytest.mark.parametrize(
    "suffix", ["@champion", "/{version}", "/latest", ""], ids=["alias", "version", "latest", "bare"]
)
def test_every_registry_form_loads_the_registered_version(registry: Registry, suffix: str) -> None:
    reference = "models:/lead-scorer" + suffix.format(version=registry.version)
    scorer, version = load_model(reference, registry.tracking_uri)
    assert version == registry.version
    assert scorer.spec.name == registry.result.scorer.spec.name
    found = resolve(reference, registry.tracking_uri)
    assert found.load_uri == f"models:/lead-scorer/{registry.version}"
    assert found.alias == ("champion" if suffix == "@champion" else None)


def test_a_bundle_folder_loads_without_the_registry(registry: Registry, tmp_path: Path) -> None:
    folder = registry.result.scorer.save(tmp_path / "bundle")
    assert bundle_folder(str(folder)) == folder
    scorer, version = load_model(str(folder), "sqlite:////nowhere/mlflow.db")
    assert version == ""
    assert scorer.spec.name == registry.result.scorer.spec.name


@pytest.mark.parametrize(
    ("reference", "reason"),
    [
        ("models:/no-such-model@champion", "no-such-model"),
        ("models:/lead-scorer/99", "lead-scorer"),
        ("models:/never-registered", "never-registered"),
    ],
)
def test_an_unknown_model_names_the_reference_and_what_to_do(
    registry: Registry, reference: str, reason: str
) -> None:
    with pytest.raises(ModelNotFoundError) as caught:
        load_model(reference, registry.tracking_uri)
    message = str(caught.value)
    assert message.startswith(f"no model at {reference} (MLflow tracking URI ")
    assert reason in message
    assert "leadscore train" in message


def test_a_registry_reference_without_a_database_creates_none(tmp_path: Path) -> None:
    database = tmp_path / "mlflow.db"
    with pytest.raises(ModelNotFoundError, match="there is no MLflow database at"):
        load_model("models:/lead-scorer@champion", f"sqlite:///{database}")
    assert not database.exists()
