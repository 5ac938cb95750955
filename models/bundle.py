"""Bundle persistence: a scorer's parts as one folder of plain files, and back.

bundle.json (spec, encoder, each sub-model's features and calibrator, metadata, policy)
and one LightGBM text file per sub-model; never pickled, so a bundle can be read by any
later version of this code and inspected by hand.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb

from features.build import FeatureEncoder
from features.errors import LeadscoreError
from features.jsonable import jsonable
from features.spec import DatasetSpec, parse_spec
from models.calibration import Calibrator
from models.policy import Policy
from models.submodel import SubModel

BUNDLE_FORMAT = 1


@dataclass
class BundleParts:
    """What a bundle folder holds (the arguments of a `LeadScorer`)."""

    spec: DatasetSpec
    encoder: FeatureEncoder
    models: dict[str, SubModel]
    metadata: dict[str, Any]
    policy: Policy | None


def write_bundle(
    path: str | Path,
    spec: DatasetSpec,
    encoder: FeatureEncoder,
    models: Mapping[str, SubModel],
    metadata: Mapping[str, Any],
    policy: Policy | None,
) -> Path:
    """Write a bundle to a new folder: bundle.json and one booster file per sub-model."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=False)
    for name, model in models.items():
        model.booster.save_model(str(path / f"{name}.lgb.txt"))
    manifest = {
        "format": BUNDLE_FORMAT,
        "spec": spec.model_dump(mode="json"),
        "encoder": encoder.to_dict(),
        "models": {
            name: {
                "features": m.features,
                "indices": m.indices.tolist(),
                "calibrator": m.calibrator.to_dict(),
                "booster": f"{name}.lgb.txt",
            }
            for name, m in models.items()
        },
        "metadata": dict(metadata),
        "policy": policy.model_dump(mode="json", by_alias=True) if policy else None,
    }
    (path / "bundle.json").write_text(
        json.dumps(manifest, indent=2, default=jsonable), encoding="utf-8"
    )
    return path


def read_bundle(path: str | Path) -> BundleParts:
    """The parts of the bundle in folder `path`; `LeadscoreError` for a folder that is
    none, or of another format."""
    path = Path(path)
    manifest_path = path / "bundle.json"
    if not manifest_path.is_file():
        raise LeadscoreError(f"not a leadscore bundle (no bundle.json): {path}")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest.get("format") != BUNDLE_FORMAT:
        raise LeadscoreError(
            f"bundle {path} has format {manifest.get('format')!r}, this code reads "
            f"format {BUNDLE_FORMAT}"
        )
    spec = parse_spec(manifest["spec"], f"{manifest_path}:spec")
    encoder = FeatureEncoder.from_dict(spec, manifest["encoder"])
    models = {
        name: SubModel(
            name,
            entry["features"],
            entry["indices"],
            lgb.Booster(model_file=str(path / entry["booster"])),
            Calibrator.from_dict(entry["calibrator"]),
        )
        for name, entry in manifest["models"].items()
    }
    policy = Policy.model_validate(manifest["policy"]) if manifest.get("policy") else None
    return BundleParts(spec, encoder, models, manifest.get("metadata", {}), policy)
