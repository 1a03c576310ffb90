"""Table history with the govlake run behind each version, and rollback (Delta RESTORE) with an audit trail.

Which run wrote which version comes from the lake's own ledgers, not from Delta's commit user metadata.
`spark.databricks.delta.commitInfo.userMetadata` is a session setting, and one session is shared by every
task thread of a run (datasets merge concurrently) and by anything else in the process: a value set around
one thread's write would label another thread's commit. The ledgers cannot mislabel:
- the run ledger `_ops/runs/<run_id>.json` lists the version each run left every table at
  (`datasets[].table_versions`, `marts.versions`);
- maintenance reports `_ops/maintenance/<run_id>.json` give each table's version before and after;
- `_ops/rollbacks.jsonl` gives the version each rollback wrote.
A version no ledger lists (a run that wrote several versions of a table lists only its last one) is put down
to the run whose start–finish window holds the commit time, and shown as found by time.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.lake import Lake, TableRef, current_version, table_exists
from jobs.runs import VIETNAM, list_run_ids, read_summary

# Operations that rewrite files without changing any row: a gold mart built after them saw the same data.
NO_DATA_CHANGE = frozenset({"OPTIMIZE", "VACUUM START", "VACUUM END"})
# Zones a rollback may touch. Bronze is append-only and the ingested-file ledger points into it; the
# operational tables are the record of what happened, so neither is ever rewound.
ROLLBACK_ZONES = ("silver", "gold", "quarantine")
ROLLBACKS_FILE = "rollbacks.jsonl"
# Table property in which a gold mart records the version of a source table it reflects (see jobs.marts).
SOURCE_VERSION_PROPERTY = re.compile(r"^govlake\.source\.(?P<table>\w+\.\w+)\.version$")


class RollbackRefused(ValueError):
    """The rollback would leave the lake inconsistent or is not allowed; nothing was changed."""


@dataclass
class VersionInfo:
    version: int
    committed_at: str
    operation: str
    rows: str
    written_by: str
    found_by: str  # run ledger | maintenance report | rollback log | time window | -


@dataclass
class _Writer:
    kind: str  # run | maintenance
    label: str
    started: float
    finished: float
    versions: dict[str, set[int]]


def resolve_table(name: str) -> TableRef:
    from jobs.pipeline import all_table_refs

    refs = {ref.qualified_name: ref for ref in all_table_refs()}
    if name not in refs:
        raise ValueError(f"unknown table {name!r}; known: {', '.join(sorted(refs))}")
    return refs[name]


def _epoch(iso: str | None) -> float | None:
    return dt.datetime.fromisoformat(iso).timestamp() if iso else None


def _versions_in_summary(summary: dict[str, Any]) -> dict[str, set[int]]:
    versions: dict[str, set[int]] = {}
    listed = [d.get("table_versions", {}) for d in summary.get("datasets", [])]
    listed.append(summary.get("marts", {}).get("versions", {}) or {})
    for table_versions in listed:
        for table, version in table_versions.items():
            versions.setdefault(table, set()).add(int(version))
    return versions


def _writers(lake: Lake) -> list[_Writer]:
    from jobs.maintenance import read_reports

    writers = []
    for run_id in list_run_ids(lake.runs_dir):
        try:
            summary = read_summary(lake.runs_dir, run_id)
        except (OSError, json.JSONDecodeError):
            continue  # a summary being written right now
        started = _epoch(summary.get("started_at"))
        finished = _epoch(summary.get("finished_at")) or started
        if started is None or finished is None:
            continue
        # Times are kept to the second: widen the window so a commit in the last second still falls in it.
        writers.append(_Writer("run", f"run {run_id}", started, finished + 1, _versions_in_summary(summary)))
    for report in read_reports(lake):
        started = _epoch(report.get("started_at"))
        finished = _epoch(report.get("finished_at")) or started
        if started is None or finished is None:
            continue
        versions: dict[str, set[int]] = {}
        for table in report.get("tables", []):
            if "before" in table and "after" in table:
                span = range(table["before"]["version"] + 1, table["after"]["version"] + 1)
                versions[table["table"]] = set(span)
        label = f"maintenance {report['run_id']}"
        writers.append(_Writer("maintenance", label, started, finished + 1, versions))
    return writers


def read_rollbacks(lake: Lake) -> list[dict[str, Any]]:
    path = Path(lake.root, "_ops", ROLLBACKS_FILE)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _rows_changed(metrics: dict[str, str] | None) -> str:
    """The row counts Delta logged for the commit, in a short form: +inserted ~updated -deleted."""
    metrics = metrics or {}
    parts = []
    for key, sign in (
        ("numTargetRowsInserted", "+"),
        ("numTargetRowsUpdated", "~"),
        ("numTargetRowsDeleted", "-"),
    ):
        if int(metrics.get(key, 0) or 0):
            parts.append(f"{sign}{metrics[key]}")
    if not parts and "numOutputRows" in metrics:
        parts.append(f"{metrics['numOutputRows']} rows")
    if not parts and "numRemovedFiles" in metrics:
        parts.append(f"{metrics.get('numRemovedFiles')} files → {metrics.get('numAddedFiles', '?')}")
    return " ".join(parts) or "-"


def table_history(
    spark: SparkSession, lake: Lake, ref: TableRef, limit: int | None = None
) -> list[VersionInfo]:
    """Versions newest first, each with the govlake run, maintenance or rollback that wrote it."""
    rows = (
        DeltaTable.forPath(spark, lake.table_path(ref))
        .history(limit)
        .select(
            "version",
            F.col("timestamp").cast("double").alias("epoch"),
            "operation",
            "operationMetrics",
        )
        .orderBy(F.col("version").desc())
        .collect()
    )
    table = ref.qualified_name
    writers = _writers(lake)
    rollbacks = {r["new_version"]: r for r in read_rollbacks(lake) if r["table"] == table}
    found = []
    for row in rows:
        version, epoch = int(row["version"]), float(row["epoch"])
        committed = dt.datetime.fromtimestamp(epoch, VIETNAM).isoformat(timespec="seconds")
        written_by, found_by = "-", "-"
        listed = [w for w in writers if version in w.versions.get(table, set())]
        # A run lists the exact version it wrote; a maintenance report only the span it worked in.
        listed_runs = [w for w in listed if w.kind == "run"]
        timed = [w for w in writers if w.started <= epoch <= w.finished]
        if version in rollbacks:
            rollback = rollbacks[version]
            written_by = f"rollback by {rollback['user']} to v{rollback['to_version']}: {rollback['reason']}"
            found_by = "rollback log"
        elif listed_runs:
            written_by, found_by = ", ".join(w.label for w in listed_runs), "run ledger"
        elif listed:
            written_by, found_by = ", ".join(w.label for w in listed), "maintenance report"
        elif timed:
            written_by, found_by = ", ".join(w.label for w in timed), "time window"
        rows_changed = _rows_changed(row["operationMetrics"])
        found.append(VersionInfo(version, committed, row["operation"], rows_changed, written_by, found_by))
    return found


def _data_versions(spark: SparkSession, path: str) -> list[tuple[int, float]]:
    """(version, commit epoch) of the commits that changed rows, oldest first."""
    rows = (
        DeltaTable.forPath(spark, path)
        .history()
        .where(~F.col("operation").isin(*NO_DATA_CHANGE))
        .select("version", F.col("timestamp").cast("double").alias("epoch"))
        .orderBy("version")
        .collect()
    )
    return [(int(r["version"]), float(r["epoch"])) for r in rows]


def gold_built_from(spark: SparkSession, lake: Lake, silver_ref: TableRef) -> dict[str, int]:
    """For each existing gold table that reads `silver_ref`: the version of it the gold table reflects.

    A mart records the version of each silver table it reflects as the table property
    `govlake.source.<zone>.<table>.version` (jobs.marts): that is exact. A gold table recording none is taken
    to depend on every silver table, at the latest version that changed rows before gold's last write, so a
    rollback never leaves a mart showing rows silver no longer has.
    """
    from jobs.pipeline import all_table_refs

    silver_versions: list[tuple[int, float]] | None = None
    built_from = {}
    for ref in all_table_refs():
        if ref.zone != "gold" or not table_exists(spark, lake, ref):
            continue
        gold_path = lake.table_path(ref)
        detail = DeltaTable.forPath(spark, gold_path).detail().first()
        properties = (detail["properties"] if detail else None) or {}
        recorded = {
            match["table"]: int(value)
            for key, value in properties.items()
            if (match := SOURCE_VERSION_PROPERTY.match(key))
        }
        if recorded:
            if silver_ref.qualified_name in recorded:
                built_from[ref.qualified_name] = recorded[silver_ref.qualified_name]
            continue
        gold_versions = _data_versions(spark, gold_path)
        if not gold_versions:
            continue
        if silver_versions is None:
            silver_versions = _data_versions(spark, lake.table_path(silver_ref))
        before = [version for version, epoch in silver_versions if epoch <= gold_versions[-1][1]]
        if before:
            built_from[ref.qualified_name] = before[-1]
    return built_from


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no USER variable (some containers)
        return f"uid {os.getuid()}"


def rollback(
    spark: SparkSession,
    lake: Lake,
    table: str,
    to_version: int,
    reason: str,
    cascade: bool = False,
    rebuild_marts: Callable[[], dict[str, int]] | None = None,
    user: str | None = None,
) -> dict[str, Any]:
    """RESTORE `table` to `to_version` and log who, why and when in `_ops/rollbacks.jsonl`.

    A silver table is not rolled back past the version a gold mart was built from unless `cascade` is
    set; then `rebuild_marts` rebuilds gold from the restored silver right after the restore.
    """
    ref = resolve_table(table)
    if ref.zone not in ROLLBACK_ZONES:
        raise RollbackRefused(
            f"{table}: only {', '.join(ROLLBACK_ZONES)} tables can be rolled back (bronze is append-only and "
            "referenced by the ingested-file ledger; operational tables record what happened)"
        )
    if not reason.strip():
        raise RollbackRefused("a rollback needs a reason (--reason)")
    path = lake.table_path(ref)
    if not table_exists(spark, lake, ref):
        raise RollbackRefused(f"{table} does not exist at {path}")
    current = current_version(spark, path)
    if not 0 <= to_version < current:
        raise RollbackRefused(f"{table} is at version {current}: choose a version from 0 to {current - 1}")
    dependents: dict[str, int] = {}
    if ref.zone == "silver":
        built_from = gold_built_from(spark, lake, ref)
        dependents = {gold: version for gold, version in built_from.items() if version > to_version}
        if dependents and not cascade:
            built = ", ".join(f"{gold} (built from {table} v{v})" for gold, v in sorted(dependents.items()))
            raise RollbackRefused(
                f"{table}: gold depends on versions after {to_version}: {built}. Rolling back alone would "
                "leave gold showing rows silver no longer has; pass --cascade to rebuild the gold marts "
                "after the restore"
            )
    try:
        metrics = DeltaTable.forPath(spark, path).restoreToVersion(to_version).first()
    except Exception as error:
        raise RollbackRefused(
            f"{table}: could not restore version {to_version} (its files may have been removed by VACUUM "
            f"after the retention window): {str(error).splitlines()[0]}"
        ) from None
    record: dict[str, Any] = {
        "rolled_back_at": dt.datetime.now(VIETNAM).isoformat(timespec="seconds"),
        "user": user or os_user(),
        "table": table,
        "from_version": current,
        "to_version": to_version,
        "new_version": current_version(spark, path),
        "reason": reason.strip(),
        "cascade": cascade,
        "restore_metrics": metrics.asDict() if metrics else {},
        "gold_depended_on": dependents,
        "rebuilt": {},
        "rebuild_error": None,
    }
    try:
        if cascade and rebuild_marts is not None:
            record["rebuilt"] = rebuild_marts()
    except Exception as error:
        record["rebuild_error"] = f"{type(error).__name__}: {str(error).splitlines()[0]}"
    _append_rollback(lake, record)
    if record["rebuild_error"]:
        raise RuntimeError(
            f"{table} restored to version {to_version} (now v{record['new_version']}), but rebuilding gold "
            f"failed: {record['rebuild_error']}; run `govlake run` to rebuild it"
        )
    return record


def _append_rollback(lake: Lake, record: dict[str, Any]) -> None:
    path = Path(lake.root, "_ops", ROLLBACKS_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")


def history_as_dicts(history: list[VersionInfo]) -> list[dict[str, Any]]:
    return [asdict(v) for v in history]
