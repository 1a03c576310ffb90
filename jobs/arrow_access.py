"""Reading the lake without Spark: delta-rs exposes each Delta table as an Arrow dataset, DuckDB queries it.

Only the analyst zones are exposed (silver, gold, quality): bronze and landing hold raw identifiers.
DuckDB's own extensions download at run time, so nothing here uses them; the Arrow datasets are
registered as views instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from jobs.lake import ZONES, Lake, TableRef

if TYPE_CHECKING:
    import duckdb
    import pyarrow.dataset as pads

ANALYST_ZONES = ("silver", "gold", "_quality")


def analyst_tables(lake: Lake) -> list[TableRef]:
    """Delta tables present in the analyst zones of a local lake."""
    refs = []
    for zone in ANALYST_ZONES:
        zone_dir = Path(lake.root, zone)
        if zone_dir.is_dir():
            refs += [
                TableRef(zone, p.name) for p in sorted(zone_dir.iterdir()) if (p / "_delta_log").is_dir()
            ]
    return refs


def arrow_dataset(lake: Lake, ref: TableRef) -> pads.Dataset:
    from deltalake import DeltaTable

    return DeltaTable(lake.table_path(ref)).to_pyarrow_dataset()


def duckdb_connection(lake: Lake) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with one view per analyst table, named like the Spark catalog (`gold.x`)."""
    import duckdb

    connection = duckdb.connect()
    for schema in {ZONES[zone] for zone in ANALYST_ZONES}:
        connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    for ref in analyst_tables(lake):
        arrow_name = f"{ZONES[ref.zone]}__{ref.name}"
        connection.register(arrow_name, arrow_dataset(lake, ref))
        connection.execute(f'CREATE VIEW "{ZONES[ref.zone]}"."{ref.name}" AS SELECT * FROM "{arrow_name}"')
    return connection
