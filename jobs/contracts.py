"""Dataset contracts: the schema, keys, grain and personal-data columns each agency delivery must honour."""

from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql import Column
from pyspark.sql import functions as F

PII_KINDS = ("citizen_id", "phone", "email", "name")
FIELD_TYPES = ("string", "int", "double", "timestamp", "date", "boolean")
# How silver keeps a dataset: "latest" holds one row per key (the newest version wins); "scd2" keeps every
# state of the tracked columns as a window valid_from..valid_to with one current row per key.
HISTORY_MODES = ("latest", "scd2")


class ContractError(ValueError):
    """A delivery does not honour its dataset's contract; the message names file, column and expectation."""


@dataclass(frozen=True)
class Field:
    """One column of a dataset: its canonical name, the headers agencies use for it, and how to type it."""

    name: str
    aliases: tuple[str, ...] = ()
    type: str = "string"
    formats: tuple[str, ...] = ()  # Spark datetime patterns tried in order, for timestamp/date fields
    required: bool = False  # the column must be present in every delivered file
    pii: str | None = None  # kind of personal data: replaced by a pseudonym past bronze
    keep_in_silver: bool = True  # False drops free text that may hide personal data
    description: str = ""

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"field {self.name}: unknown type {self.type!r}; expected one of {FIELD_TYPES}")
        if self.pii is not None and self.pii not in PII_KINDS:
            raise ValueError(f"field {self.name}: unknown PII kind {self.pii!r}; expected one of {PII_KINDS}")

    @property
    def silver_name(self) -> str:
        return f"{self.name}_pseudonym" if self.pii else self.name


@dataclass(frozen=True)
class SoftEnd:
    """How a source says a record reached its end (withdrawn, dissolved).

    Silver keeps such a record with `flag_column` true; no merge ever deletes a silver row, so the history
    before the end stays queryable.
    """

    flag_column: str
    status_column: str
    status_values: tuple[str | int, ...]
    meaning: str = ""

    def flag(self) -> Column:
        """True when the record's status is one that ends it (null status: unknown, so null)."""
        return F.col(self.status_column).isin(*self.status_values)


@dataclass(frozen=True)
class Contract:
    dataset: str
    agency: str
    title: str
    file_patterns: tuple[str, ...]
    fields: tuple[Field, ...]
    business_key: tuple[str, ...]
    version_column: str
    description: str = ""
    silver_partition_by: tuple[str, ...] = field(default=())
    history: str = "latest"
    tracked_columns: tuple[str, ...] = ()  # silver column names whose change opens a new SCD2 window
    soft_end: SoftEnd | None = None

    def __post_init__(self) -> None:
        names = [f.name for f in self.fields]
        missing = [c for c in (*self.business_key, self.version_column) if c not in names]
        if missing:
            raise ValueError(f"contract {self.dataset}: key/version columns {missing} are not fields")
        if self.history not in HISTORY_MODES:
            raise ValueError(f"contract {self.dataset}: history {self.history!r} not in {HISTORY_MODES}")
        silver_names = {f.silver_name for f in self.fields}
        if self.history == "scd2" and not self.tracked_columns:
            raise ValueError(f"contract {self.dataset}: history 'scd2' needs tracked_columns")
        untracked = [c for c in self.tracked_columns if c not in silver_names]
        if untracked:
            raise ValueError(f"contract {self.dataset}: tracked columns {untracked} are not silver fields")
        if self.soft_end is not None and self.soft_end.status_column not in names:
            status = self.soft_end.status_column
            raise ValueError(f"contract {self.dataset}: soft end status column {status!r} is not a field")

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.dataset} has no field {name!r}")

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def required_fields(self) -> list[Field]:
        return [f for f in self.fields if f.required]

    @property
    def pii_fields(self) -> list[Field]:
        return [f for f in self.fields if f.pii]
