"""Reference data shipped with the project: Bình Dương's pre-2025 units, the 2025 crosswalk, procedures.

Plain Python (no Spark) so the sample generator, the tests and the CLI can use it without a session; Spark
jobs read the same CSVs through `reference_csv_path`.

- `admin_units_74_pre2025.csv`: the 91 commune-level units of province 74 (Tỉnh Bình Dương) valid until
  30/06/2025, from the GSO administrative-unit catalogue (danhmuchanhchinh.gso.gov.vn). Names are kept as
  the catalogue spells them after NFC, including the old tone placement "oà" in six names (e.g. "Phường
  Định Hoà") where Nghị quyết 1685 writes "òa": NFC does not unify the two, a matcher must.
- `admin_units_2025_crosswalk.csv`: one row per (old commune, new commune) pair from Nghị quyết
  1685/NQ-UBTVQH15 (16/06/2025, effective 01/07/2025) with the new codes of GSO letter 1027/CTK-CSCL: 107
  pairs, 36 new units, all in province 79 (Thành phố Hồ Chí Minh); 16 old communes are split between two.
  A new unit re-uses one predecessor's 5-digit code, so the same code can name different units before and
  after the reform (25747 is Phường Phú Cường before, Phường Thủ Dầu Một after): always say which scheme.
- `procedures.csv`: common administrative procedures handled in the province, with DVCQG procedure codes,
  processing time in working days, online service level (MucDo 2/3/4) and the usual fee in VND.
  Codes 1.001193, 1.000894, 1.000656, 1.000689, 1.004873, 2.000635, 1.004884, 2.000815, 2.000884, 1.004222,
  1.004194, 1.002755, 1.003197, 1.001776, 1.001699, 1.001612, 2.000720, 1.001570 and 1.001266 match the
  national procedure database as cited by public sources; the others (1.009994, 1.004227, 1.003010, 2.000488,
  2.001610, 2.001199, 1.002804) are illustrative and not verified. Field codes, processing days and fees
  are typical values, not a legal catalogue; `level` is where the dossier is handled (commune, district,
  province).
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Callable
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import TypeVar

REFERENCE_PACKAGE = "jobs.reference"
PRE2025_UNITS_FILE = "admin_units_74_pre2025.csv"
CROSSWALK_FILE = "admin_units_2025_crosswalk.csv"
PROCEDURES_FILE = "procedures.csv"
REFERENCE_FILES = (PRE2025_UNITS_FILE, CROSSWALK_FILE, PROCEDURES_FILE)
PROCEDURE_LEVELS = ("commune", "district", "province")


@dataclass(frozen=True)
class AdminUnit:
    """A commune-level unit of province 74 as it stood until 30/06/2025, with its district."""

    commune_code: str
    commune_name: str
    commune_type: str
    district_code: str
    district_name: str
    district_type: str
    province_code: str
    province_name: str


@dataclass(frozen=True)
class CrosswalkPair:
    """One part of an old commune that went to one new (post-01/07/2025) unit."""

    old_commune_code: str
    new_commune_code: str
    new_commune_name: str
    new_commune_type: str
    new_province_code: str


@dataclass(frozen=True)
class Procedure:
    """An administrative procedure (thủ tục hành chính) as dossiers refer to it."""

    procedure_code: str
    procedure_name: str
    field_code: str
    field_name: str
    level: str
    processing_days: int
    online_level: int
    fee_vnd: int


class ReferenceDataError(ValueError):
    """A shipped reference file does not have the expected columns or values."""


def reference_csv_path(name: str) -> str:
    """Filesystem path of a shipped reference CSV, e.g. for `spark.read.csv`."""
    if name not in REFERENCE_FILES:
        raise FileNotFoundError(
            f"unknown reference file {name!r}; expected one of {', '.join(REFERENCE_FILES)}"
        )
    path = Path(str(resources.files(REFERENCE_PACKAGE).joinpath(name)))
    if not path.is_file():
        raise FileNotFoundError(f"reference file {name} is not installed at {path}")
    return str(path)


Row = TypeVar("Row")


def _dict_reader(name: str) -> csv.DictReader[str]:
    text = resources.files(REFERENCE_PACKAGE).joinpath(name).read_text(encoding="utf-8")
    return csv.DictReader(text.splitlines())


def _read_rows(
    name: str, columns: tuple[str, ...], build: Callable[[dict[str, str]], Row]
) -> tuple[Row, ...]:
    reader = _dict_reader(name)
    if tuple(reader.fieldnames or ()) != columns:
        raise ReferenceDataError(
            f"{name}: columns {reader.fieldnames} differ from the expected {list(columns)}"
        )
    return tuple(build(row) for row in reader)


def _columns(row_type: type) -> tuple[str, ...]:
    return tuple(field.name for field in fields(row_type))


@functools.cache
def _pre2025_units() -> tuple[AdminUnit, ...]:
    return _read_rows(PRE2025_UNITS_FILE, _columns(AdminUnit), lambda row: AdminUnit(**row))


@functools.cache
def _crosswalk() -> tuple[CrosswalkPair, ...]:
    return _read_rows(CROSSWALK_FILE, _columns(CrosswalkPair), lambda row: CrosswalkPair(**row))


def _procedure_from_row(row: dict[str, str]) -> Procedure:
    if row["level"] not in PROCEDURE_LEVELS:
        raise ReferenceDataError(f"{PROCEDURES_FILE}: level {row['level']!r} of {row['procedure_code']}")
    return Procedure(
        procedure_code=row["procedure_code"],
        procedure_name=row["procedure_name"],
        field_code=row["field_code"],
        field_name=row["field_name"],
        level=row["level"],
        processing_days=int(row["processing_days"]),
        online_level=int(row["online_level"]),
        fee_vnd=int(row["fee_vnd"]),
    )


@functools.cache
def _procedures() -> tuple[Procedure, ...]:
    return _read_rows(PROCEDURES_FILE, _columns(Procedure), _procedure_from_row)


@functools.cache
def _value_set(reference: str) -> tuple[str, ...]:
    stem, _, column = reference.partition(".")
    name = f"{stem}.csv"
    if name not in REFERENCE_FILES or not column:
        files = ", ".join(REFERENCE_FILES)
        raise ReferenceDataError(
            f"value set {reference!r}: expected '<file>.<column>', the file among {files}"
        )
    reader = _dict_reader(name)
    if column not in (reader.fieldnames or ()):
        raise ReferenceDataError(f"value set {reference!r}: {name} has no column {column!r}")
    return tuple(dict.fromkeys(row[column] for row in reader))


# The loaders cache an immutable tuple and hand out a fresh list, so a caller that sorts or appends
# cannot change what the next caller sees.
def pre2025_units() -> list[AdminUnit]:
    """The 91 commune-level units of Tỉnh Bình Dương (code 74) before 01/07/2025, in code order."""
    return list(_pre2025_units())


def crosswalk() -> list[CrosswalkPair]:
    """The 107 (old commune, new commune) pairs of the 2025 reform, ordered by old then new code."""
    return list(_crosswalk())


def procedures() -> list[Procedure]:
    """The procedures dossiers in the samples refer to."""
    return list(_procedures())


def value_set(reference: str) -> list[str]:
    """Distinct values, in file order, of one column named '<file stem>.<column>'.

    Expectation suites name their allowed values this way (`meta.value_set_reference`, e.g.
    "admin_units_74_pre2025.commune_code") instead of copying the list into the suite.
    """
    return list(_value_set(reference))
