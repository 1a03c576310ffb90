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
    """Register existing Delta tables in the session catalog so `SELECT * FROM silver.dossiers` works."""
    registered = []
    for database in sorted(set(ZONES.values())):
        spark.sql(f"CREATE DATABASE IF NOT EXISTS {database}")
    for ref in refs:
        if not table_exists(spark, lake, ref):
            continue
        location = lake.table_path(ref).replace("'", "\\'")
        spark.sql(f"CREATE TABLE IF NOT EXISTS {ref.qualified_name} USING DELTA LOCATION '{location}'")
        registered.append(ref.qualified_name)
    return registered


def current_version(spark: SparkSession, path: str) -> int:
    """The latest committed version of a Delta table."""
    from delta.tables import DeltaTable

    latest = DeltaTable.forPath(spark, path).history(1).select("version").first()
    return int(latest["version"]) if latest else 0
