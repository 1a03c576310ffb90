"""Lake layout and the one registry of table locations: no path strings scattered through jobs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession

# Zone directory → catalog database it is registered under (SQL names cannot start with '_').
ZONES = {
    "bronze": "bronze",
    "silver": "silver",
    "gold": "gold",
    "quarantine": "quarantine",
    "_quality": "quality",
    "_ops": "ops",
}
# Zones that hold raw identifiers: created owner-only.
RAW_ZONES = ("landing", "bronze", "_private")


@dataclass(frozen=True)
class TableRef:
    zone: str
    name: str

    @property
    def qualified_name(self) -> str:
        return f"{ZONES[self.zone]}.{self.name}"


def bronze(dataset: str) -> TableRef:
    return TableRef("bronze", dataset)


def silver(dataset: str) -> TableRef:
    return TableRef("silver", dataset)


def quarantine(dataset: str) -> TableRef:
    return TableRef("quarantine", dataset)


def gold(mart: str) -> TableRef:
    return TableRef("gold", mart)


INGESTED_FILES = TableRef("_ops", "ingested_files")
RULE_RESULTS = TableRef("_quality", "rule_results")


@dataclass(frozen=True)
class Lake:
    """Locations under one lake root (a local path or any Hadoop-compatible URI)."""

    root: str

    def table_path(self, ref: TableRef) -> str:
        return f"{self.root}/{ref.zone}/{ref.name}"

    @property
    def landing(self) -> str:
        return f"{self.root}/landing"

    @property
    def runs_dir(self) -> str:
        return f"{self.root}/_ops/runs"

    @property
    def reports_dir(self) -> str:
        return f"{self.root}/_reports"

    @property
    def quality_dir(self) -> str:
        return f"{self.root}/_quality"

    @property
    def private_dir(self) -> str:
        return f"{self.root}/_private"

    @property
    def is_local(self) -> bool:
        return "://" not in self.root

    def ensure_layout(self) -> None:
        """Create the zone directories of a local lake; raw zones are owner-only."""
        if not self.is_local:
            return  # object stores have no directories to create
        for zone in (*RAW_ZONES, *ZONES, "_reports", "_ops/runs"):
            path = Path(self.root, zone)
            path.mkdir(parents=True, exist_ok=True)
            if zone in RAW_ZONES:
                os.chmod(path, 0o700)


def table_exists(spark: SparkSession, lake: Lake, ref: TableRef) -> bool:
    from delta.tables import DeltaTable

    return bool(DeltaTable.isDeltaTable(spark, lake.table_path(ref)))


def register_tables(spark: SparkSession, lake: Lake, refs: list[TableRef]) -> list[str]:
    """Register existing Delta tables in the session catalog so `SELECT * FROM silver.dossiers` works.

    A session may have registered another lake's tables before (one process serving several lakes): such
    names are pointed at this lake, or dropped when this lake has no such table. Dropping a registration
    never deletes data: the tables are external (they have a LOCATION).
    """
    registered = []
    for database in sorted(set(ZONES.values())):
        spark.sql(f"CREATE DATABASE IF NOT EXISTS {database}")
    for ref in refs:
        location = lake.table_path(ref)
        registered_at = _registered_location(spark, ref.qualified_name)
        if registered_at is not None and _same_location(registered_at, location):
            registered.append(ref.qualified_name)
            continue
        if registered_at is not None:
            spark.sql(f"DROP TABLE {ref.qualified_name}")
        if not table_exists(spark, lake, ref):
            continue
        quoted = location.replace("'", "\\'")
        spark.sql(f"CREATE TABLE {ref.qualified_name} USING DELTA LOCATION '{quoted}'")
        registered.append(ref.qualified_name)
    return registered


def _registered_location(spark: SparkSession, qualified_name: str) -> str | None:
    if not spark.catalog.tableExists(qualified_name):
        return None
    for row in spark.sql(f"DESCRIBE TABLE EXTENDED {qualified_name}").collect():
        if row["col_name"] == "Location":
            return str(row["data_type"])
    return None


def _same_location(a: str, b: str) -> bool:
    def normalised(location: str) -> str:
        return location.removeprefix("file://").removeprefix("file:").rstrip("/")

    return normalised(a) == normalised(b)


def current_version(spark: SparkSession, path: str) -> int:
    """The latest committed version of a Delta table."""
    from delta.tables import DeltaTable

    from jobs.merge import table_version

    return table_version(DeltaTable.forPath(spark, path))
