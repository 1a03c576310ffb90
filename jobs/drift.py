"""Schema drift at the reader/bronze boundary: a delivered file's columns judged against its contract.

- An added column is fine: bronze keeps it (its schema evolves), the run summary lists it, silver ignores it.
- A missing required column rejects the file (jobs.readers.check_required_columns).
- A business key that is absent while unknown columns arrived was most likely renamed, and a contract
  column delivered as a JSON object or array cannot be a value of the field's type: both reject the file
  with SchemaDriftError, before any of its records is written. The message names the file, the column and
  the type the contract expects.

Readers call `check_delivered_columns` once they know the delivered headers, their canonical names and,
for JSON, the inferred Spark types (before anything is cast to string).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import types as T

from jobs.contracts import Contract, ContractError
from jobs.readers import FileRejected

NESTED_TYPES = (T.StructType, T.ArrayType, T.MapType)
JSON_KINDS = {T.StructType: "a JSON object", T.ArrayType: "a JSON array", T.MapType: "a JSON object"}


class SchemaDriftError(FileRejected, ContractError):
    """A delivered file's columns are incompatible with the contract; nothing of the file is taken in."""


@dataclass(frozen=True)
class Drift:
    column: str
    expected: str
    found: str

    def describe(self) -> str:
        return f"column {self.column!r}: expected {self.expected}, found {self.found}"


def expected_type(contract: Contract, column: str) -> str:
    spec = contract.field(column)
    headers = ", ".join(repr(a) for a in spec.aliases[:2])
    return f"{spec.type} (one text or number value per record; headers {headers})"


def renamed_keys(names: Sequence[str], extra_headers: Sequence[str], contract: Contract) -> list[Drift]:
    """Business-key columns the file lacks, when it brings columns the contract does not know."""
    missing = [k for k in contract.business_key if k not in names]
    if not missing or not extra_headers:
        return []
    found = "no such column; unknown columns " + ", ".join(repr(h) for h in extra_headers)
    return [Drift(k, expected_type(contract, k), found) for k in missing]


def incompatible_types(
    delivered_types: Sequence[T.DataType], names: Sequence[str], contract: Contract
) -> list[Drift]:
    """Contract columns delivered with a nested type (JSON object or array) instead of a single value."""
    known = set(contract.field_names)
    drifts = []
    for name, data_type in zip(names, delivered_types, strict=True):
        if name in known and isinstance(data_type, NESTED_TYPES):
            kind = JSON_KINDS[type(data_type)]
            drifts.append(Drift(name, expected_type(contract, name), f"{kind} ({data_type.simpleString()})"))
    return drifts


def check_delivered_columns(
    relative_path: str,
    contract: Contract,
    names: Sequence[str],
    extra_headers: Sequence[str] = (),
    delivered_types: Sequence[T.DataType] | None = None,
) -> None:
    """Raise SchemaDriftError for a renamed business key or a nested value where the contract wants one.

    `names` are the canonical column names in header order, `extra_headers` the delivered headers the
    contract does not know, `delivered_types` the Spark types inferred for those columns (JSON only).
    """
    drifts = renamed_keys(names, extra_headers, contract)
    if delivered_types is not None:
        drifts += incompatible_types(delivered_types, names, contract)
    if drifts:
        problems = "; ".join(d.describe() for d in drifts)
        raise SchemaDriftError(f"{relative_path}: schema drift, file not taken in: {problems}")
