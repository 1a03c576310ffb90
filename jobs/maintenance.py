"""Table maintenance: OPTIMIZE (Z-ordered where analysts filter), VACUUM within a time-travel window, health.

Small daily MERGEs leave many small files; OPTIMIZE rewrites them into fewer, larger ones (clustered by the
configured Z-order columns so filters on commune and date skip most files). VACUUM then deletes files no
version inside the retention window still needs. Both are logged as new table versions; neither changes
any row. A health snapshot of every table is taken before and after, and the whole report is kept as JSON in
`_ops/maintenance/<run_id>.json`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.config import DELTA_SAFE_RETENTION_HOURS
from jobs.lake import Lake, TableRef, current_version, table_exists
from jobs.merge import retry_on_conflict
from jobs.runs import VIETNAM

# Files below this size are "small": each costs a task and a footer read out of proportion to its rows.
SMALL_FILE_BYTES = 32 * 1024 * 1024
RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"
# VACUUM lists the table's folders with this many tasks; Spark's default (10000) is sized for huge clusters
# and makes VACUUM of a small table take minutes on a small machine.
LISTING_PARALLELISM = "spark.sql.sources.parallelPartitionDiscovery.parallelism"


class RetentionTooShort(ValueError):
    """VACUUM was asked to keep less history than Delta's safety default without saying it is intended."""


def check_retention(retention_hours: int, allow_time_travel_loss: bool) -> None:
    if retention_hours < 0:
        raise RetentionTooShort(f"VACUUM retention must be 0 hours or more, not {retention_hours}")
    if retention_hours < DELTA_SAFE_RETENTION_HOURS and not allow_time_travel_loss:
        raise RetentionTooShort(
            f"VACUUM retention {retention_hours} h is below Delta's safety default of "
            f"{DELTA_SAFE_RETENTION_HOURS} h: versions older than {retention_hours} h could no longer be "
            "read or restored, and a reader or writer still on an older snapshot could fail. Pass "
            "--i-understand-time-travel-loss to do it anyway."
        )


@dataclass
class TableHealth:
    table: str
    version: int
    files: int
    size_bytes: int
    small_files: int
    small_file_bytes: int
    largest_file_bytes: int
    oldest_version_in_history: int
    versions_in_history: int
    partition_columns: list[str] = field(default_factory=list)


def file_sizes(spark: SparkSession, files: Sequence[str]) -> list[int]:
    """Each file's size from its file system (local, HDFS or S3): one status call per file, no data read."""
    jvm = spark.sparkContext._jvm
    if jvm is None:
        raise RuntimeError("file sizes need a classic SparkSession with a JVM gateway")
    hadoop_conf = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[attr-defined]
    sizes = []
    for name in files:
        file_path = jvm.org.apache.hadoop.fs.Path(name)
        sizes.append(int(file_path.getFileSystem(hadoop_conf).getFileStatus(file_path).getLen()))
    return sizes


def table_health(spark: SparkSession, lake: Lake, ref: TableRef) -> TableHealth:
    """File counts and sizes of the current version, and the history it keeps."""
    path = lake.table_path(ref)
    table = DeltaTable.forPath(spark, path)
    detail = table.detail().first()
    # The current version's files come from Delta's log (inputFiles); their sizes from the file system.
    sizes = file_sizes(spark, spark.read.format("delta").load(path).inputFiles())
    versions = [int(row["version"]) for row in table.history().select("version").collect()]
    small = [s for s in sizes if s < SMALL_FILE_BYTES]
    return TableHealth(
        table=ref.qualified_name,
        version=max(versions, default=0),
        files=len(sizes),
        size_bytes=sum(sizes),
        small_files=len(small),
        small_file_bytes=sum(small),
        largest_file_bytes=max(sizes, default=0),
        oldest_version_in_history=min(versions, default=0),
        versions_in_history=len(versions),
        partition_columns=list(detail["partitionColumns"]) if detail else [],
    )


@contextmanager
def _session_settings(spark: SparkSession, settings: Mapping[str, str]) -> Iterator[None]:
    """Set session settings for one operation only, then put the previous values back."""
    previous: dict[str, str | None] = {key: spark.conf.get(key, None) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, old in previous.items():
            if old is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, old)


def optimize(spark: SparkSession, path: str, zorder_columns: Sequence[str]) -> dict[str, Any]:
    """Compact small files, Z-ordering by the given columns when there are any; returns Delta's metrics."""

    def run() -> Any:
        builder = DeltaTable.forPath(spark, path).optimize()
        result = builder.executeZOrderBy(*zorder_columns) if zorder_columns else builder.executeCompaction()
        return result.first()

    row = retry_on_conflict(run)  # a daily MERGE committing meanwhile is an ordinary conflict
    metrics = row["metrics"] if row else None
    return {
        "zorder_by": list(zorder_columns),
        "files_added": int(metrics["numFilesAdded"]) if metrics else 0,
        "files_removed": int(metrics["numFilesRemoved"]) if metrics else 0,
    }


def vacuum(spark: SparkSession, path: str, retention_hours: int) -> dict[str, Any]:
    """Delete files no version within `retention_hours` needs; the count comes from Delta's VACUUM log."""
    table = DeltaTable.forPath(spark, path)
    before = current_version(spark, path)
    settings = {LISTING_PARALLELISM: str(max(2, spark.sparkContext.defaultParallelism))}
    if retention_hours < DELTA_SAFE_RETENTION_HOURS:
        # Delta refuses a short retention while its check is on; check_retention has been passed.
        settings[RETENTION_CHECK] = "false"
    with _session_settings(spark, settings):
        table.vacuum(float(retention_hours))
    ended = (
        table.history()
        .where((F.col("version") > before) & (F.col("operation") == "VACUUM END"))
        .select(F.col("operationMetrics")["numDeletedFiles"].alias("deleted"))
        .first()
    )
    return {
        "retention_hours": retention_hours,
        # None when Delta's VACUUM logging is switched off for this file system.
        "files_deleted": int(ended["deleted"]) if ended and ended["deleted"] is not None else None,
    }


def missing_columns(spark: SparkSession, path: str, columns: Sequence[str]) -> list[str]:
    present = set(DeltaTable.forPath(spark, path).toDF().columns)
    return [c for c in columns if c not in present]


def maintain_table(
    spark: SparkSession,
    lake: Lake,
    ref: TableRef,
    zorder_columns: Sequence[str],
    retention_hours: int,
    allow_time_travel_loss: bool = False,
) -> dict[str, Any]:
    """OPTIMIZE then VACUUM one table, with health before and after; a problem is reported, not raised."""
    check_retention(retention_hours, allow_time_travel_loss)
    path = lake.table_path(ref)
    entry: dict[str, Any] = {"table": ref.qualified_name, "problems": []}
    entry["before"] = asdict(table_health(spark, lake, ref))
    missing = missing_columns(spark, path, zorder_columns)
    if missing:
        # A renamed column must not silently turn Z-ordering off: compact only, and say so.
        entry["problems"].append(
            f"{ref.qualified_name}: Z-order column(s) {', '.join(missing)} not in the table; compacted only"
        )
        zorder_columns = []
    partitions = set(entry["before"]["partition_columns"])
    if partitions & set(zorder_columns):
        entry["problems"].append(
            f"{ref.qualified_name}: Z-order column(s) {', '.join(sorted(partitions & set(zorder_columns)))} "
            "are partition columns (already clustered); left out"
        )
        zorder_columns = [c for c in zorder_columns if c not in partitions]
    entry["optimize"] = optimize(spark, path, zorder_columns)
    entry["vacuum"] = vacuum(spark, path, retention_hours)
    entry["after"] = asdict(table_health(spark, lake, ref))
    return entry


def maintenance_dir(lake: Lake) -> Path:
    return Path(lake.root, "_ops", "maintenance")


def new_report(
    run_id: str, lake: Lake, retention_hours: int, zorder: Mapping[str, Sequence[str]]
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "lake_root": lake.root,
        "started_at": dt.datetime.now(VIETNAM).isoformat(timespec="seconds"),
        "finished_at": None,
        "retention_hours": retention_hours,
        "zorder": {table: list(columns) for table, columns in zorder.items()},
        "tables": [],
        "problems": [],
        "status": "running",
    }


def finish_report(report: dict[str, Any]) -> None:
    report["finished_at"] = dt.datetime.now(VIETNAM).isoformat(timespec="seconds")
    report["problems"] = [p for t in report["tables"] for p in t.get("problems", [])] + report["problems"]
    report["status"] = "failed" if report["problems"] else "succeeded"


def write_report(lake: Lake, report: dict[str, Any]) -> Path:
    path = maintenance_dir(lake) / f"{report['run_id']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.replace(path)
    return path


def existing_tables(spark: SparkSession, lake: Lake, refs: Sequence[TableRef]) -> list[TableRef]:
    return [ref for ref in refs if table_exists(spark, lake, ref)]


def read_reports(lake: Lake) -> list[dict[str, Any]]:
    """Every maintenance report of the lake, oldest first."""
    folder = maintenance_dir(lake)
    if not folder.is_dir():
        return []
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]
