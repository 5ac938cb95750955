"""CLI fixtures: the training package's small session data and scorer, for commands that score."""

from tests.training.conftest import config, demo, leads, prepared, scorer, spec

__all__ = ["config", "demo", "leads", "prepared", "scorer", "spec"]
