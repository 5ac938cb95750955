"""Dataset specs, input coercion and feature building, shared by training and serving."""

from features.errors import LeadscoreError

__all__ = ["LeadscoreError"]
