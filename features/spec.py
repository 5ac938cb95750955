"""The dataset spec: how to read one CRM export (id, label, time, fit, interest and
context features, and the file's CSV dialect).

A spec is a small YAML file validated with pydantic. Any mistake in it becomes a
`LeadscoreError` that names the offending key, e.g. ``fit.2.type``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from features.coerce import THOUSANDS_SEPARATORS, NumberFormat
from features.errors import LeadscoreError
from features.yaml_files import read_yaml, validate_mapping

# Values that mean "no value" in every export, on top of a spec's own list.
DEFAULT_MISSING_VALUES: tuple[str, ...] = ("", "nan", "NaN", "NA", "N/A", "null", "NULL", "None")
# Delimiters a CSV export is read with when its spec names none (detected from its lines).
DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")


class FeatureType(StrEnum):
    numeric = "numeric"
    categorical = "categorical"
    boolean = "boolean"


class Derivation(StrEnum):
    """Named transformations of a raw column into a feature (see `features.coerce`).

    `days_since` reads a timestamp and gives the days between it and the moment of
    scoring (`as_of`): the only derivation that is numeric and depends on time.
    """

    seniority = "seniority"
    email_domain_type = "email_domain_type"
    event_name = "event_name"
    days_since = "days_since"


# Derivations that give a number; the others give a category.
NUMERIC_DERIVATIONS = frozenset({Derivation.days_since})


class Group(StrEnum):
    """A feature's group: `fit` and `interest` each have a model of their own (and a
    score); `context` features (economic indicators, the campaign month) belong to
    neither and are read by the full model only."""

    fit = "fit"
    interest = "interest"
    context = "context"


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
    missing: list[str] = Field(
        default_factory=list,
        description="values that mean `no value` in this column only (e.g. a sentinel "
        "999), on top of the spec's missing_values; a number matches however it is sent",
    )

    @property
    def source(self) -> str:
        return self.column or self.name

    @property
    def readable(self) -> str:
        return self.label or self.name

    @model_validator(mode="after")
    def _check(self) -> FeatureSpec:
        if self.derive is not None:
            wanted = (
                FeatureType.numeric
                if self.derive in NUMERIC_DERIVATIONS
                else FeatureType.categorical
            )
            if self.type is not wanted:
                raise ValueError(
                    f"a derived feature ({self.derive.value}) must have type {wanted.value}"
                )
        if self.monotone is not None and self.type is FeatureType.categorical:
            raise ValueError("monotone applies to numeric or boolean features only")
        return self


class CsvSpec(_Strict):
    """How a CSV export is written, where it is not plain comma-separated English.

    `delimiter`: detected from the first lines (comma, semicolon, tab, pipe) when absent.
    `decimal` and `thousands`: how numbers are written (features and the requirements
    catalogue read them so). Without them, ``1,234.5`` and ``13,000`` are read, and a
    comma outside thousands positions (``1,5``) is refused; `decimal: ","` reads German
    exports (``1.234,56``; thousands default to ``.``).
    """

    delimiter: str | None = Field(default=None, description="one character, e.g. ';' or '\\t'")
    decimal: Literal[".", ","] = "."
    thousands: str | None = Field(
        default=None, description="default: ',' with decimal '.', '.' with decimal ','"
    )

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str | None) -> str | None:
        if value is not None and len(value) != 1:
            raise ValueError(f"a delimiter is one character (such as {DELIMITERS}), not {value!r}")
        return value

    @field_validator("thousands")
    @classmethod
    def _separator(cls, value: str | None) -> str | None:
        if value is not None and value not in THOUSANDS_SEPARATORS:
            raise ValueError(f"thousands must be one of {THOUSANDS_SEPARATORS}, not {value!r}")
        return value

    @model_validator(mode="after")
    def _distinct(self) -> CsvSpec:
        if self.thousands == self.decimal:
            raise ValueError(f"decimal and thousands are both {self.decimal!r}")
        return self

    @property
    def numbers(self) -> NumberFormat:
        default = "," if self.decimal == "." else "."
        return NumberFormat(self.decimal, self.thousands or default)


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


class EventKind(_Strict):
    """A kind of event the model counts: a type of the log, optionally narrowed by value
    (e.g. page views whose URL contains `/pricing`)."""

    type: str = Field(min_length=1, description="the value of the log's type column")
    value_contains: list[str] | None = Field(
        default=None, description="any of these texts in the value (case-insensitive)"
    )
    label: str | None = Field(default=None, description="plural, e.g. `Page views`")
    unit: str | None = None


ROLLUPS = ("count", "count_distinct", "first", "last", "first_value", "last_value")


class Rollup(_Strict):
    """A CRM property rebuilt from the event log as of a moment: the number of events of a
    kind (`count`), of distinct values (`count_distinct`), the time of the first or last
    one (`first`, `last`) or its value (`first_value`, `last_value`)."""

    count: str | None = None
    count_distinct: str | None = None
    first: str | None = None
    last: str | None = None
    first_value: str | None = None
    last_value: str | None = None

    @model_validator(mode="after")
    def _one(self) -> Rollup:
        given = [name for name in ROLLUPS if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(ROLLUPS)} (naming an event kind)")
        return self

    @property
    def how(self) -> str:
        return next(name for name in ROLLUPS if getattr(self, name) is not None)

    @property
    def kind(self) -> str:
        return str(getattr(self, self.how))


class EventsSpec(_Strict):
    """An event log beside the contacts: one row per event (lead id, time, type, value).

    `properties` rebuilds CRM properties from the log as of each moment, so a model
    trained on point-in-time examples reads what the CRM would have shown then, and
    scores a live contact from the CRM's own current values. `windows` adds, per kind in
    `window_kinds`, the count of events in each window before the moment, the days since
    the last one, and the days since the first event of those kinds: interest features
    only an event log can give.
    """

    id: str = Field(min_length=1, description="column naming the lead (the contacts' id)")
    time: str = Field(min_length=1, description="column with the event's timestamp")
    type: str = Field(min_length=1, description="column with the event's type")
    value: str | None = Field(default=None, description="optional column (URL, form name…)")
    kinds: dict[str, EventKind] = Field(min_length=1)
    properties: dict[str, Rollup] = Field(default_factory=dict)
    windows: list[int] = Field(default_factory=list, description="days, e.g. [7, 30, 90]")
    window_kinds: list[str] | None = Field(
        default=None, description="kinds with window features (default: every kind)"
    )

    @model_validator(mode="after")
    def _check(self) -> EventsSpec:
        for name, rollup in self.properties.items():
            if rollup.kind not in self.kinds:
                raise ValueError(f"property {name!r} reads unknown event kind {rollup.kind!r}")
            if rollup.how in ("count_distinct", "first_value", "last_value") and not self.value:
                raise ValueError(f"property {name!r} ({rollup.how}) needs a `value` column")
        for name, narrowed in self.kinds.items():
            if narrowed.value_contains and not self.value:  # would never match: counts of 0
                raise ValueError(f"kind {name!r} (value_contains) needs a `value` column")
        for kind in self.window_kinds or []:
            if kind not in self.kinds:
                raise ValueError(f"window_kinds names unknown event kind {kind!r}")
        if any(w <= 0 for w in self.windows) or len(set(self.windows)) != len(self.windows):
            raise ValueError("windows must be distinct positive numbers of days")
        if self.window_kinds and not self.windows:
            raise ValueError("window_kinds needs windows (e.g. [7, 30, 90])")
        return self

    @property
    def windowed_kinds(self) -> list[str]:
        if not self.windows:
            return []
        return list(self.kinds) if self.window_kinds is None else list(self.window_kinds)

    def window_features(self) -> list[dict[str, Any]]:
        """The interest features `windows` stands for, as spec entries (see `EventsSpec`)."""
        out: list[dict[str, Any]] = []
        for name in self.windowed_kinds:
            kind = self.kinds[name]
            label = kind.label or name.replace("_", " ").capitalize()
            one = label.lower()[:-1] if label.lower().endswith("s") else label.lower()
            for days in sorted(self.windows):
                out.append(
                    {
                        "name": window_feature(name, days),
                        "type": "numeric",
                        "label": f"{label} in the last {days} days",
                        "unit": kind.unit,
                    }
                )
            out.append(
                {
                    "name": f"days_since_last_{name}",
                    "type": "numeric",
                    "label": f"Days since the last {one}",
                    "unit": "days",
                }
            )
        if out:
            out.append(
                {
                    "name": FIRST_EVENT_FEATURE,
                    "type": "numeric",
                    "label": "Days since the first activity",
                    "unit": "days",
                }
            )
        return out


FIRST_EVENT_FEATURE = "days_since_first_event"
GROUPS: tuple[str, ...] = tuple(g.value for g in Group)


def window_feature(kind: str, days: int) -> str:
    return f"{kind}_last_{days}d"


class DatasetSpec(_Strict):
    """Everything the pipeline needs to know about one CRM export."""

    name: str = Field(min_length=1)
    description: str = ""
    id: str = Field(min_length=1)
    time: TimeSpec
    label: LabelSpec
    csv: CsvSpec = Field(default_factory=CsvSpec)
    missing_values: list[str] = Field(default_factory=list)
    leaky_columns: list[str] = Field(default_factory=list)
    fit: list[FeatureSpec] = Field(min_length=1)
    interest: list[FeatureSpec] = Field(min_length=1)
    context: list[FeatureSpec] = Field(
        default_factory=list, description="features of neither group: full model only"
    )
    events: EventsSpec | None = None

    @model_validator(mode="before")
    @classmethod
    def _window_features(cls, data: Any) -> Any:
        """Add the features `events.windows` stands for to `interest` (a feature the spec
        lists itself under the same name, e.g. to set its label, is kept as written)."""
        if not isinstance(data, dict) or not isinstance(data.get("events"), dict):
            return data
        try:
            events = EventsSpec.model_validate(data["events"])
        except ValueError:
            return data  # reported, with its key, by the field's own validation
        listed = {
            f.get("name") if isinstance(f, dict) else getattr(f, "name", None)
            for group in GROUPS
            for f in data.get(group) or []
        }
        added = [f for f in events.window_features() if f["name"] not in listed]
        if not added:
            return data
        return {**data, "interest": [*(data.get("interest") or []), *added]}

    @model_validator(mode="after")
    def _check_columns(self) -> DatasetSpec:
        names: set[str] = set()
        for feature in self.features:
            if feature.name in names:
                raise ValueError(f"feature name {feature.name!r} is used twice")
            names.add(feature.name)
        reserved = {self.id, self.time.column, *self.label.columns}
        if self.events is not None:
            for name in self.events.properties:
                if name in reserved or name in set(self.leaky_columns):
                    raise ValueError(
                        f"events.properties rebuilds {name!r}, which is the id, time or label "
                        "column or listed in leaky_columns"
                    )
        leaky = set(self.leaky_columns)
        for group in GROUPS:
            for feature in getattr(self, group):
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
        """Every feature, in the order of the encoded matrix: fit, interest, context."""
        return [*self.fit, *self.interest, *self.context]

    def group_of(self, name: str) -> Group:
        for group in GROUPS:
            if any(f.name == name for f in getattr(self, group)):
                return Group(group)
        raise LeadscoreError(f"spec {self.name!r} has no feature named {name!r}")

    @property
    def missing_tokens(self) -> frozenset[str]:
        return frozenset([*DEFAULT_MISSING_VALUES, *self.missing_values])

    def missing_for(self, feature: FeatureSpec) -> frozenset[str]:
        """The values that mean "no value" in a feature's column: the spec's and its own."""
        return self.missing_tokens | frozenset(feature.missing)

    @property
    def numbers(self) -> NumberFormat:
        """How the export writes numbers (the `csv` section's decimal and thousands)."""
        return self.csv.numbers

    @property
    def feature_columns(self) -> list[str]:
        """Raw columns the features read, in order, without repeats."""
        return list(dict.fromkeys(f.source for f in self.features))

    @property
    def event_columns(self) -> list[str]:
        """Raw columns an event log gives (rebuilt properties and window features)."""
        if self.events is None:
            return []
        windowed = {f["name"] for f in self.events.window_features()}
        return [*self.events.properties, *(c for c in self.feature_columns if c in windowed)]

    @property
    def needs_events(self) -> bool:
        """Whether scoring needs the leads' events (window features come from no CRM property)."""
        return self.events is not None and bool(self.events.windows)

    def contact_columns(self, with_events: bool) -> list[str]:
        """Raw feature columns the contacts file (or record) itself must have."""
        from_log = set(self.event_columns) if with_events else set()
        return [c for c in self.feature_columns if c not in from_log]

    @property
    def timestamp_columns(self) -> list[str]:
        """Raw columns read as timestamps by features (`derive: days_since`)."""
        return list(
            dict.fromkeys(f.source for f in self.features if f.derive is Derivation.days_since)
        )

    @property
    def required_columns(self) -> list[str]:
        """Raw columns a training file must have (without an event log)."""
        return list(
            dict.fromkeys([self.id, self.time.column, *self.label.columns, *self.feature_columns])
        )


def parse_spec(data: Any, source: str = "<spec>") -> DatasetSpec:
    """Validate a mapping as a `DatasetSpec`; errors name the key."""
    return validate_mapping(DatasetSpec, data, f"dataset spec {source}")


def load_spec(path: str | Path) -> DatasetSpec:
    """Read and validate a spec YAML file."""
    return parse_spec(read_yaml(path, "spec file"), str(path))


def builtin_specs() -> list[str]:
    """Names of the specs shipped with the package (`hubspot`, `x-education`, …)."""
    return sorted(p.stem for p in (Path(__file__).resolve().parent / "specs").glob("*.yaml"))


def builtin_spec_path(name: str) -> Path:
    """Path of a spec shipped with the package (see `builtin_specs`)."""
    path = Path(__file__).resolve().parent / "specs" / f"{name}.yaml"
    if not path.is_file():
        raise LeadscoreError(
            f"no built-in spec named {name!r}; built in: {', '.join(builtin_specs())} "
            "(or give the path of a spec file)"
        )
    return path


def resolve_spec(name_or_path: str | Path) -> DatasetSpec:
    """Load a spec from a file path, or by the name of a built-in spec."""
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"} or path.exists():
        return load_spec(path)
    return load_spec(builtin_spec_path(str(name_or_path)))
