"""The dataset spec: how to read one CRM export (id, label, time, fit and interest features).

A spec is a small YAML file validated with pydantic. Any mistake in it becomes a
`LeadscoreError` that names the offending key, e.g. ``fit.2.type``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from features.errors import LeadscoreError
from features.yaml_files import read_yaml, validate_mapping

# Values that mean "no value" in every export, on top of a spec's own list.
DEFAULT_MISSING_VALUES: tuple[str, ...] = ("", "nan", "NaN", "NA", "N/A", "null", "NULL", "None")


class FeatureType(StrEnum):
    numeric = "numeric"
    categorical = "categorical"
    boolean = "boolean"


class Derivation(StrEnum):
    """Named transformations of a raw column into a feature (see `features.coerce`)."""

    seniority = "seniority"
    email_domain_type = "email_domain_type"


class Group(StrEnum):
    fit = "fit"
    interest = "interest"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeatureSpec(_Strict):
    """One model input: the raw column it comes from, its type and how to phrase it."""

    name: str = Field(min_length=1)
    column: str | None = Field(default=None, description="raw column; defaults to `name`")
    type: FeatureType
    label: str | None = Field(default=None, description="readable label for explanations")
    unit: str | None = None
    derive: Derivation | None = None
    monotone: Literal["increasing", "decreasing"] | None = None

    @property
    def source(self) -> str:
        return self.column or self.name

    @property
    def readable(self) -> str:
        return self.label or self.name

    @model_validator(mode="after")
    def _check(self) -> FeatureSpec:
        if self.derive is not None and self.type is not FeatureType.categorical:
            raise ValueError(f"a derived feature ({self.derive.value}) must have type categorical")
        if self.monotone is not None and self.type is FeatureType.categorical:
            raise ValueError("monotone applies to numeric or boolean features only")
        return self


class TimeSpec(_Strict):
    """The column that orders leads in time; `ordinal` accepts a sequence number."""

    column: str = Field(min_length=1)
    kind: Literal["datetime", "ordinal"] = "datetime"


class LabelSpec(_Strict):
    """Either a 0/1 column, or a stage-date column reached within N days of the time column."""

    column: str | None = None
    from_date: str | None = None
    within_days: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_source(self) -> LabelSpec:
        if (self.column is None) == (self.from_date is None):
            raise ValueError("give exactly one of `column` (a 0/1 column) or `from_date`")
        if self.from_date is not None and self.within_days is None:
            raise ValueError("`from_date` needs `within_days`")
        if self.column is not None and self.within_days is not None:
            raise ValueError("`within_days` only applies to `from_date`")
        return self

    @property
    def columns(self) -> list[str]:
        return [c for c in (self.column, self.from_date) if c is not None]


class DatasetSpec(_Strict):
    """Everything the pipeline needs to know about one CRM export."""

    name: str = Field(min_length=1)
    description: str = ""
    id: str = Field(min_length=1)
    time: TimeSpec
    label: LabelSpec
    missing_values: list[str] = Field(default_factory=list)
    leaky_columns: list[str] = Field(default_factory=list)
    fit: list[FeatureSpec] = Field(min_length=1)
    interest: list[FeatureSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_columns(self) -> DatasetSpec:
        names: set[str] = set()
        for feature in self.features:
            if feature.name in names:
                raise ValueError(f"feature name {feature.name!r} is used twice")
            names.add(feature.name)
        reserved = {self.id, self.time.column, *self.label.columns}
        leaky = set(self.leaky_columns)
        for group, features in (("fit", self.fit), ("interest", self.interest)):
            for feature in features:
                if feature.source in leaky:
                    raise ValueError(
                        f"{group} feature {feature.name!r} uses column {feature.source!r}, "
                        "which the spec lists in leaky_columns; remove it from the features"
                    )
                if feature.source in reserved:
                    raise ValueError(
                        f"{group} feature {feature.name!r} uses column {feature.source!r}, "
                        "which is the id, time or label column"
                    )
        return self

    @property
    def features(self) -> list[FeatureSpec]:
        return [*self.fit, *self.interest]

    def group_of(self, name: str) -> Group:
        return Group.fit if any(f.name == name for f in self.fit) else Group.interest

    @property
    def missing_tokens(self) -> frozenset[str]:
        return frozenset([*DEFAULT_MISSING_VALUES, *self.missing_values])

    @property
    def feature_columns(self) -> list[str]:
        """Raw columns the features read, in order, without repeats."""
        return list(dict.fromkeys(f.source for f in self.features))

    @property
    def required_columns(self) -> list[str]:
        """Raw columns a training file must have."""
        return list(
            dict.fromkeys([self.id, self.time.column, *self.label.columns, *self.feature_columns])
        )


def parse_spec(data: Any, source: str = "<spec>") -> DatasetSpec:
    """Validate a mapping as a `DatasetSpec`; errors name the key."""
    return validate_mapping(DatasetSpec, data, f"dataset spec {source}")


def load_spec(path: str | Path) -> DatasetSpec:
    """Read and validate a spec YAML file."""
    return parse_spec(read_yaml(path, "spec file"), str(path))


def builtin_spec_path(name: str) -> Path:
    """Path of a spec shipped with the package (`hubspot`, `x-education`)."""
    path = Path(__file__).resolve().parent / "specs" / f"{name}.yaml"
    if not path.is_file():
        raise LeadscoreError(f"no built-in spec named {name!r}")
    return path


def resolve_spec(name_or_path: str | Path) -> DatasetSpec:
    """Load a spec from a file path, or by the name of a built-in spec."""
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"} or path.exists():
        return load_spec(path)
    return load_spec(builtin_spec_path(str(name_or_path)))
