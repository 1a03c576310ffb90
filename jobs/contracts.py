"""Dataset contracts: the schema, keys, grain and personal-data columns each agency delivery must honour."""

from __future__ import annotations

from dataclasses import dataclass, field

PII_KINDS = ("citizen_id", "phone", "email", "name")
FIELD_TYPES = ("string", "int", "double", "timestamp", "date", "boolean")


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

    def __post_init__(self) -> None:
        names = [f.name for f in self.fields]
        missing = [c for c in (*self.business_key, self.version_column) if c not in names]
        if missing:
            raise ValueError(f"contract {self.dataset}: key/version columns {missing} are not fields")

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
