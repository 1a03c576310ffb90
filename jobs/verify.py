"""`govlake verify`: the lake's invariants checked as a whole, after the fact.

What each run checks for its own batch is audited here over everything stored:

- conservation: every file the ingested-file ledger took in has exactly its `rows_read` rows in bronze;
  every run summary in `_ops/runs/` has rows read = rows in bronze per file and bronze = valid +
  quarantined per dataset;
- lineage: every bronze row comes from a file (path and sha256) the ledger lists as taken in, and every
  quarantined row points at a bronze row (file sha256 and record number);
- silver: business keys unique, and for SCD2 tables exactly one current row per key with windows that
  neither overlap nor leave gaps (the same aggregations as the post-merge invariants, `jobs.invariants`,
  over the whole table);
- gold: the silver version each mart records having read (`govlake.source.silver.<dataset>.version`) is
  not newer than silver's latest version.

Each table costs one aggregation job (bronze: rows per file; quarantine: rows without a bronze row;
silver: the invariants), so the checks stay cheap on a large lake. Violations name the table, the check
and counts or file paths, never a record's values.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from jobs import ledger
from jobs.datasets import DATASETS
from jobs.invariants import latest_violations, scd2_violations
from jobs.lake import Lake, TableRef, bronze, quarantine, silver, table_exists
from jobs.marts import source_version_property
from jobs.merge import table_properties, table_version

TAKEN_IN = (ledger.INGESTED, ledger.PROCESSED)


@dataclass(frozen=True)
class Violation:
    table: str
    check: str
    detail: str


@dataclass
class VerifyReport:
    checked: list[str] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


# ---------------------------------------------------------------------------------------------------------
# Pure checks: counts in, violations out
# ---------------------------------------------------------------------------------------------------------


def bronze_against_ledger(
    table: str, rows_per_file: dict[tuple[str, str], int], entries: Sequence[ledger.LedgerEntry]
) -> list[Violation]:
    """Bronze rows per (file, sha256) against the ledger's files taken in and their `rows_read`."""
    taken = {e.file_sha256: e for e in entries if e.status in TAKEN_IN}
    violations = []
    for (path, sha), rows in sorted(rows_per_file.items()):
        entry = taken.get(sha)
        if entry is None:
            violations.append(
                Violation(
                    table,
                    "bronze.traceable",
                    f"{rows} rows from {path} (sha256 {sha[:12]}…), a file the ingested-file ledger does not "
                    "list as taken in",
                )  # fmt: skip
            )
        elif (entry.rows_read or 0) != rows:
            violations.append(
                Violation(
                    table,
                    "bronze.conservation",
                    f"{path}: the ledger says {entry.rows_read} rows were read, bronze holds {rows}",
                )  # fmt: skip
            )
    in_bronze = {sha for _, sha in rows_per_file}
    for sha, entry in sorted(taken.items()):
        if (entry.rows_read or 0) > 0 and sha not in in_bronze:
            violations.append(
                Violation(
                    table,
                    "bronze.conservation",
                    f"{entry.relative_path}: ledger: {entry.rows_read} rows read, bronze has none",
                )  # fmt: skip
            )
    return violations


def run_summary_conservation(run_id: str, summary: dict[str, Any]) -> list[Violation]:
    """A run's own counts: rows read = rows in bronze per file, bronze = valid + quarantined per dataset."""
    violations = []
    for outcome in summary.get("datasets", []):
        table = f"run {run_id}: {outcome.get('dataset')}"
        for f in outcome.get("files", []):
            if f.get("status") == "ingested" and f.get("rows_read") != f.get("rows_in_bronze"):
                violations.append(
                    Violation(
                        table,
                        "run.conservation",
                        f"{f.get('relative_path')}: {f.get('rows_read')} rows read, "
                        f"{f.get('rows_in_bronze')} in bronze",
                    )  # fmt: skip
                )
        if outcome.get("status") in ("ok", "blocked"):
            bronze_rows, valid, held = (outcome.get(k, 0) for k in ("bronze_rows", "valid", "quarantined"))
            if bronze_rows != valid + held:
                violations.append(
                    Violation(
                        table,
                        "run.conservation",
                        f"{bronze_rows} bronze rows in the batch, {valid} valid + {held} quarantined",
                    )  # fmt: skip
                )
    return violations


def invariant_violations(
    table: str, counts: dict[str, int], invariant_names: Iterable[str]
) -> list[Violation]:
    """Silver invariants from one aggregation row (`keys` and one count per invariant)."""
    return [
        Violation(table, f"silver.{name}", f"{counts[name]} of {counts['keys']} keys break it")
        for name in invariant_names
        if counts.get(name)
    ]


def gold_source_versions(
    table: str, recorded: dict[str, int], silver_versions: dict[str, int | None]
) -> list[Violation]:
    """A mart cannot have read a silver version that does not exist (yet), nor a table that does not."""
    violations = []
    for dataset, version in sorted(recorded.items()):
        current = silver_versions.get(dataset)
        if current is None:
            violations.append(
                Violation(table, "gold.source_version", f"records silver.{dataset} v{version}; no such table")
            )
        elif version > current:
            violations.append(
                Violation(
                    table,
                    "gold.source_version",
                    f"records silver.{dataset} v{version}, newer than silver's latest v{current}",
                )  # fmt: skip
            )
    return violations


def recorded_source_versions(properties: dict[str, str]) -> dict[str, int]:
    """The `govlake.source.silver.<dataset>.version` properties of a gold table, by dataset.

    The property name is taken from `jobs.marts.source_version_property`, so a renamed property is followed.
    """
    prefix, _, suffix = source_version_property("\0").partition("\0")
    return {
        key[len(prefix) : len(key) - len(suffix)]: int(value)
        for key, value in properties.items()
        if key.startswith(prefix) and key.endswith(suffix) and value.strip().lstrip("-").isdigit()
    }


# ---------------------------------------------------------------------------------------------------------
# The lake: one aggregation per table
# ---------------------------------------------------------------------------------------------------------


def _load(spark: SparkSession, lake: Lake, ref: TableRef) -> DataFrame:
    return spark.read.format("delta").load(lake.table_path(ref))


def _version(spark: SparkSession, lake: Lake, ref: TableRef) -> int:
    return table_version(DeltaTable.forPath(spark, lake.table_path(ref)))


def _bronze_rows_per_file(frame: DataFrame) -> dict[tuple[str, str], int]:
    counts = frame.groupBy("_source_file", "_source_sha256").count().collect()
    return {(r["_source_file"], r["_source_sha256"]): int(r["count"]) for r in counts}


def _quarantine_without_bronze(held: DataFrame, rows: DataFrame | None) -> int:
    provenance = held.select("_source_sha256", "_source_row")
    if rows is None:
        return int(provenance.count())
    stored = rows.select("_source_sha256", "_source_row")
    return int(provenance.join(stored, ["_source_sha256", "_source_row"], "left_anti").count())


def _silver_counts(frame: DataFrame, dataset: str) -> tuple[dict[str, int], list[str]]:
    contract = DATASETS[dataset].contract
    check = scd2_violations if contract.history == "scd2" else latest_violations
    # Compared with itself: nothing was replaced or deleted, what is left is the table's own soundness.
    row = check(frame, frame, contract).first()
    counts = {k: int(v or 0) for k, v in (row.asDict() if row else {}).items()}
    if contract.history == "scd2":
        names = ["key_unique", "one_current_row", "windows_not_overlapping"]
    else:
        names = ["key_unique"]
    return counts, names


def read_run_summaries(runs_dir: str) -> dict[str, dict[str, Any]]:
    summaries = {}
    for path in sorted(Path(runs_dir).glob("*.json")):
        try:
            summaries[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            summaries[path.stem] = {"_unreadable": str(error)}
    return summaries


def verify_lake(spark: SparkSession, lake: Lake, datasets: Sequence[str] | None = None) -> VerifyReport:
    """Every check above over the lake's tables and ledgers; see the module docstring."""
    report = VerifyReport()
    entries = ledger.read_entries(spark, lake)
    report.checked.append(f"ingested-file ledger: {len(entries)} entries")

    summaries = read_run_summaries(lake.runs_dir) if lake.is_local else {}
    for run_id, summary in summaries.items():
        if "_unreadable" in summary:
            report.violations.append(Violation(f"run {run_id}", "run.readable", summary["_unreadable"]))
            continue
        report.violations += run_summary_conservation(run_id, summary)
    report.checked.append(f"run summaries: {len(summaries)} checked for conservation")

    silver_versions: dict[str, int | None] = {}
    for dataset in datasets or list(DATASETS):
        rows = None
        ref = bronze(dataset)
        if table_exists(spark, lake, ref):
            rows = _load(spark, lake, ref)
            per_file = _bronze_rows_per_file(rows)
            report.violations += bronze_against_ledger(
                ref.qualified_name, per_file, [e for e in entries if e.dataset == dataset]
            )
            report.checked.append(
                f"{ref.qualified_name}: {sum(per_file.values())} rows of {len(per_file)} files traced to the "
                "ledger"
            )
        held_ref = quarantine(dataset)
        if table_exists(spark, lake, held_ref):
            orphans = _quarantine_without_bronze(_load(spark, lake, held_ref), rows)
            if orphans:
                report.violations.append(
                    Violation(
                        held_ref.qualified_name,
                        "quarantine.traceable",
                        f"{orphans} quarantined rows point at no bronze row (file sha256, record number)",
                    )  # fmt: skip
                )
            report.checked.append(f"{held_ref.qualified_name}: every row traced to a bronze row")
        silver_ref = silver(dataset)
        silver_versions[dataset] = None
        if table_exists(spark, lake, silver_ref):
            silver_versions[dataset] = _version(spark, lake, silver_ref)
            counts, names = _silver_counts(_load(spark, lake, silver_ref), dataset)
            report.violations += invariant_violations(silver_ref.qualified_name, counts, names)
            report.checked.append(
                f"{silver_ref.qualified_name}: {counts.get('keys', 0)} keys, {', '.join(names)}"
            )

    for dataset in DATASETS:  # marts may read datasets not asked for: know every silver version
        if dataset not in silver_versions and table_exists(spark, lake, silver(dataset)):
            silver_versions[dataset] = table_version(
                DeltaTable.forPath(spark, lake.table_path(silver(dataset)))
            )
    for ref in _gold_tables(spark, lake):
        properties = table_properties(DeltaTable.forPath(spark, lake.table_path(ref)))
        recorded = recorded_source_versions(properties)
        report.violations += gold_source_versions(ref.qualified_name, recorded, silver_versions)
        sources = ", ".join(f"{ds} v{v}" for ds, v in sorted(recorded.items())) or "none recorded"
        report.checked.append(f"{ref.qualified_name}: source silver versions ({sources})")
    return report


def _gold_tables(spark: SparkSession, lake: Lake) -> list[TableRef]:
    """Gold tables found in the lake (marts are registered elsewhere and change; the lake is the truth)."""
    if not lake.is_local:
        from jobs.mart_registry import MARTS

        candidates = [TableRef("gold", spec.name) for spec in MARTS]
    else:
        folder = Path(lake.root, "gold")
        names = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
        candidates = [TableRef("gold", name) for name in names]
    return [ref for ref in candidates if table_exists(spark, lake, ref)]
