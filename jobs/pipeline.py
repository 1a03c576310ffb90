"""The daily job's fixed stages for one dataset: ingest → standardise → validate → write, then gold.

Functions take a SparkSession and names, and return plain outcome objects the flow turns into a summary.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import ledger, marts
from jobs.bronze import read_batch, write_file_to_bronze, write_files_to_bronze
from jobs.datasets import DATASETS, Dataset, get_dataset
from jobs.invariants import check_silver
from jobs.lake import (
    RULE_RESULTS,
    Lake,
    TableRef,
    bronze,
    current_version,
    gold,
    quarantine,
    silver,
    table_exists,
)
from jobs.merge import MergeOutcome, merge_into_silver, retry_on_conflict
from jobs.pii import PiiKey
from jobs.quality import (
    DELIVERY_DATE,
    FAILED_RULES,
    PassCounts,
    Rule,
    RuleResult,
    Suite,
    blocking_failures,
    dataset_rule_results,
    has_any,
    load_suite,
    parseable_rule,
    quarantine_rule_ids,
    rule_results,
    validate_in_one_pass,
    warn_rule_ids,
)
from jobs.quarantine import quarantine_rows, write_quarantine
from jobs.readers import Delivery, FileRejected, RawBatch, discover_deliveries, read_delivery
from jobs.runs import DatasetOutcome, FileOutcome
from jobs.standardise import silver_columns, standardise

log = logging.getLogger(__name__)
DQ_WARNINGS = "_dq_warnings"


@contextmanager
def timed(outcome: DatasetOutcome, stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - start
        outcome.stage_seconds[stage] = round(outcome.stage_seconds.get(stage, 0.0) + elapsed, 3)


def ingest(spark: SparkSession, lake: Lake, dataset_name: str, run_id: str, outcome: DatasetOutcome) -> None:
    """Landing → bronze for every file not ingested before (by content hash); bad files are rejected."""
    contract = get_dataset(dataset_name).contract
    seen = {e.file_sha256: e for e in ledger.read_entries(spark, lake, dataset_name)}
    seen_rejected_paths = {e.relative_path for e in seen.values() if e.status == ledger.REJECTED}
    entries: list[ledger.LedgerEntry] = []
    readable: list[tuple[Delivery, RawBatch, FileOutcome]] = []  # read, written together below
    taken_this_run: dict[str, str] = {}  # sha256 -> the file that brought it, for copies under other names
    for delivery in discover_deliveries(lake.landing, contract):
        earlier = seen.get(delivery.sha256) if delivery.sha256 else None
        if earlier is None and delivery.sha256 in taken_this_run:
            first = taken_this_run[delivery.sha256]
            reason = f"same content as {first}, ingested by this run"
            outcome.files.append(FileOutcome(delivery.relative_path, "skipped", reason=reason))
            continue
        if earlier is not None and earlier.status != ledger.REJECTED:
            reason = (
                "already ingested"
                if earlier.relative_path == delivery.relative_path
                else f"same content as {earlier.relative_path}, already ingested"
            )
            outcome.files.append(FileOutcome(delivery.relative_path, "skipped", reason=reason))
            continue
        if earlier is not None or (delivery.problem and delivery.relative_path in seen_rejected_paths):
            outcome.files.append(
                FileOutcome(delivery.relative_path, "skipped", reason="rejected in an earlier run")
            )
            continue
        if delivery.problem:
            _reject(outcome, entries, delivery, run_id, delivery.problem)
            continue
        try:
            raw = read_delivery(spark, delivery, contract)
        except FileRejected as error:
            _reject(outcome, entries, delivery, run_id, str(error))
            continue
        except Exception as error:
            if not _vanished(delivery, error):
                raise
            _report_vanished(outcome, delivery)
            continue
        taken_this_run[delivery.sha256] = delivery.relative_path
        outcome.files.append(FileOutcome(delivery.relative_path, "ingested", encoding=raw.encoding))
        readable.append((delivery, raw, outcome.files[-1]))
    try:
        written = _write_to_bronze(spark, lake, dataset_name, readable, run_id, outcome)
    finally:
        for _, raw, _ in readable:
            raw.release()  # the staged decoded copies were needed until the write
    for delivery, raw, file_outcome in readable:
        if delivery.sha256 not in written:
            continue
        file_outcome.rows_read = file_outcome.rows_in_bronze = written[delivery.sha256]
        file_outcome.extra_columns = raw.extra_columns
        if raw.extra_columns:
            log.info(
                "[%s] %s brings new columns: %s", dataset_name, delivery.relative_path, raw.extra_columns
            )
        entries.append(
            _ledger_entry(
                delivery, run_id, ledger.INGESTED, rows=file_outcome.rows_read, encoding=raw.encoding,
                extra=raw.extra_columns,
            )
        )  # fmt: skip
        log.info("[%s] ingested %s: %d records", dataset_name, delivery.relative_path, file_outcome.rows_read)
    ledger.record(spark, lake, entries)
    if any(f.status == "ingested" for f in outcome.files):
        ref = bronze(dataset_name)
        outcome.table_versions[ref.qualified_name] = current_version(spark, lake.table_path(ref))


NO_SPACE = "No space left on device"


class LakeStorageFull(OSError):
    """The lake's disk filled up during a write; Delta committed nothing, so a rerun after freeing space
    continues where this one stopped."""


def _write_to_bronze(
    spark: SparkSession,
    lake: Lake,
    dataset_name: str,
    readable: list[tuple[Delivery, RawBatch, FileOutcome]],
    run_id: str,
    outcome: DatasetOutcome,
) -> dict[str, int]:
    """Rows written per sha256: all files in one commit; if that fails, file by file, so a file that
    vanished since it was read is reported alone and the others go in."""
    try:
        return write_files_to_bronze(spark, lake, dataset_name, [(d, raw) for d, raw, _ in readable], run_id)
    except Exception as error:
        if NO_SPACE in str(error):
            raise LakeStorageFull(
                f"the lake's storage is full (No space left on device) while writing bronze.{dataset_name}: "
                "nothing was committed; free space on the lake's disk and run again"
            ) from None
        if not any(_vanished(d, error) for d, _, _ in readable):
            raise
    written = {}
    for delivery, raw, file_outcome in readable:
        try:
            written[delivery.sha256] = write_file_to_bronze(spark, lake, delivery, raw, run_id)
        except Exception as error:
            if not _vanished(delivery, error):
                raise
            _report_vanished(outcome, delivery, file_outcome)
    return written


def _reject(
    outcome: DatasetOutcome, entries: list[ledger.LedgerEntry], delivery: Delivery, run_id: str, reason: str
) -> None:
    log.warning("[%s] rejected %s: %s", delivery.dataset, delivery.relative_path, reason)
    outcome.files.append(FileOutcome(delivery.relative_path, "rejected", reason=reason))
    entries.append(_ledger_entry(delivery, run_id, ledger.REJECTED, reason=reason))


VANISHED = "file vanished from landing after it was found and before it was read; not ingested"


def _report_vanished(
    outcome: DatasetOutcome, delivery: Delivery, file_outcome: FileOutcome | None = None
) -> None:
    """Not recorded in the ledger: the same file delivered again is taken in by a later run."""
    log.warning("[%s] %s: %s", delivery.dataset, delivery.relative_path, VANISHED)
    if file_outcome is None:
        outcome.files.append(FileOutcome(delivery.relative_path, "rejected", reason=VANISHED))
    else:
        file_outcome.status, file_outcome.reason, file_outcome.encoding = "rejected", VANISHED, None


def _vanished(delivery: Delivery, error: Exception) -> bool:
    """A read failed because the landing file is gone (moved or deleted while the run was reading)."""
    if os.path.lexists(delivery.path):
        return False
    text = f"{type(error).__name__}: {error}"
    return isinstance(error, FileNotFoundError) or any(
        sign in text for sign in ("PATH_NOT_FOUND", "FileNotFoundException", "does not exist")
    )


def _ledger_entry(
    delivery: Delivery,
    run_id: str,
    status: str,
    reason: str | None = None,
    rows: int | None = None,
    encoding: str | None = None,
    extra: list[str] | None = None,
) -> ledger.LedgerEntry:
    return ledger.LedgerEntry(
        dataset=delivery.dataset,
        file_sha256=delivery.sha256,
        relative_path=delivery.relative_path,
        delivery_date=delivery.delivery_date,
        size_bytes=delivery.size_bytes,
        encoding=encoding,
        rows_read=rows,
        status=status,
        reason=reason,
        ingest_run_id=run_id,
        extra_columns=list(extra or []),
    )


def process(
    spark: SparkSession, lake: Lake, dataset_name: str, run_id: str, key: PiiKey, outcome: DatasetOutcome
) -> None:
    """Validate and merge every pending delivery date of a dataset: one validation pass and one merge for all
    of them (see process_batch), each date judged as its own batch.

    A date's batch that a `fail` rule blocks stays in bronze, and later dates wait behind it so silver
    never skips over held data.
    """
    pending: dict[str, list[str]] = {}
    for entry in ledger.read_entries(spark, lake, dataset_name):
        if entry.status == ledger.INGESTED:
            pending.setdefault(entry.delivery_date, []).append(entry.file_sha256)
    outcome.batch_files = sum(len(hashes) for hashes in pending.values())
    if not pending:
        outcome.status = "nothing-new"
        return
    results_by_date: dict[str, list[RuleResult]] = {}
    merged_dates: list[str] = []
    try:
        merged_dates = process_batch(
            spark, lake, dataset_name, pending, run_id, key, outcome, results_by_date
        )
    finally:
        # One commit each, not one per date. A run killed before them leaves its dates pending: the next run
        # merges them again, which writes nothing new, and records them then.
        write_rule_results(spark, lake, run_id, dataset_name, results_by_date)
        merged = [sha for date in merged_dates for sha in pending[date]]
        ledger.mark_processed(spark, lake, dataset_name, merged, run_id)
    log.info(
        "[%s] %d rows: %d valid (%d with warnings), %d quarantined; silver +%d new, %d updated",
        dataset_name, outcome.bronze_rows, outcome.valid, outcome.warned, outcome.quarantined,
        outcome.inserted, outcome.updated,
    )  # fmt: skip


# Rules whose pass rate is an administrative-unit match rate (rule id suffix → unit level in the report).
UNIT_MATCH_RULES = {".commune.resolved": "commune", ".commune_code.known": "commune"}


def add_match_rates(outcome: DatasetOutcome, results: Sequence[RuleResult]) -> None:
    """Places delivered and resolved to a unit, from the rule counts the one validation pass already made."""
    for result in results:
        level = next((lv for suffix, lv in UNIT_MATCH_RULES.items() if result.rule_id.endswith(suffix)), None)
        if level is None:
            continue
        counts = outcome.match_rates.setdefault(level, {"matched": 0, "total": 0})
        counts["matched"] += result.evaluated - result.failed
        counts["total"] += result.evaluated


def process_batch(
    spark: SparkSession,
    lake: Lake,
    dataset_name: str,
    pending: dict[str, list[str]],
    run_id: str,
    key: PiiKey,
    outcome: DatasetOutcome,
    results_by_date: dict[str, list[RuleResult]],
) -> list[str]:
    """Bronze files of the pending dates → standardised → validated in one pass → quarantine + silver MERGE.

    Each date is judged as its own batch (rule counts, row-count rules, uniqueness, the `fail` gate), oldest
    first; the dates before the first blocked one go on together, and the result in silver is the same as
    merging them date by date. Fills `results_by_date` and `outcome`; returns the dates merged.
    """
    dataset = get_dataset(dataset_name)
    suite = load_suite(dataset_name)
    rules = [parseable_rule(dataset_name), *suite.row_rules]
    quarantine_ids, warn_ids = quarantine_rule_ids(rules), warn_rule_ids(rules)
    hashes = [sha for date in sorted(pending) for sha in pending[date]]

    batch = standardise(read_batch(spark, lake, dataset_name, hashes), dataset, key)
    with timed(outcome, "standardise+validate"):
        validated, counts = validate_in_one_pass(batch, rules)
    try:
        admitted = judge_dates(dataset_name, suite, rules, sorted(pending), counts, outcome, results_by_date)
        if not admitted:
            return []
        validated_admitted = validated.where(F.col(DELIVERY_DATE).isin(*admitted))
        ref = quarantine(dataset_name)
        # The pass counted the quarantined rows: with none, the MERGE (about 10 Spark jobs and a commit) is
        # skipped once the table exists.
        if sum(counts.of(d).get("_quarantined", 0) for d in admitted) or not table_exists(spark, lake, ref):
            with timed(outcome, "quarantine"):
                failed = validated_admitted.where(has_any(quarantine_ids))
                write_quarantine(spark, lake, quarantine_rows(failed, dataset, rules, run_id), dataset_name)
                outcome.table_versions[ref.qualified_name] = current_version(spark, lake.table_path(ref))
        silver_path = lake.table_path(silver(dataset_name))
        valid = silver_rows(validated_admitted.where(~has_any(quarantine_ids)), dataset, warn_ids)
        with timed(outcome, "merge"):
            merges = merge_dates(spark, silver_path, valid, dataset, admitted)
        outcome.inserted += sum(m.inserted for m in merges)
        outcome.updated += sum(m.updated for m in merges)
        outcome.table_versions[silver(dataset_name).qualified_name] = merges[-1].table_version
        versions_before = [m.read_version for m in merges if m.committed and m.read_version is not None]
        if not versions_before:
            return admitted  # nothing written: the invariants hold as they did
        with timed(outcome, "invariants"):
            checks = check_silver(spark, silver_path, dataset.contract, versions_before[0])
        results_by_date[admitted[-1]] += checks
        outcome.rule_results += rule_result_records(dataset_name, admitted[-1], checks)
        broken = [check for check in checks if check.failed]
        for check in broken:
            outcome.rule_failures[check.rule_id] = outcome.rule_failures.get(check.rule_id, 0) + check.failed
        if broken:
            outcome.blocked_reasons = [
                f"{check.rule_id}: {check.failed} of {check.evaluated} keys — {check.message_en} "
                f"(silver version {merges[-1].table_version}; version {versions_before[0]} is the one before)"
                for check in broken
            ]
            outcome.status = "blocked"
        return admitted
    finally:
        validated.unpersist()


def judge_dates(
    dataset_name: str,
    suite: Suite,
    rules: list[Rule],
    dates: list[str],
    counts: PassCounts,
    outcome: DatasetOutcome,
    results_by_date: dict[str, list[RuleResult]],
) -> list[str]:
    """Each date's rule results, oldest first, into `outcome`; returns the dates before the first one a
    `fail` rule blocks (that date and the later ones stay in bronze, and are judged again next run)."""
    for position, delivery_date in enumerate(dates):
        date_counts = counts.of(delivery_date)
        results = rule_results(rules, date_counts) + dataset_rule_results(
            suite.dataset_rules, date_counts["rows"]
        )
        results_by_date[delivery_date] = results
        outcome.rule_results += rule_result_records(dataset_name, delivery_date, results)
        outcome.bronze_rows += date_counts["rows"]
        outcome.quarantined += date_counts.get("_quarantined", 0)
        outcome.valid = outcome.bronze_rows - outcome.quarantined
        outcome.warned += date_counts.get("_warned", 0)
        for result in results:
            if result.failed:
                outcome.rule_failures[result.rule_id] = (
                    outcome.rule_failures.get(result.rule_id, 0) + result.failed
                )
        add_match_rates(outcome, results)
        outcome.blocked_reasons = blocking_failures(results, list(suite.rules))
        if outcome.blocked_reasons:
            outcome.status = "blocked"
            log.error(
                "[%s] batch %s held in bronze: %s", dataset_name, delivery_date, outcome.blocked_reasons
            )
            return dates[:position]
    return dates


def merge_dates(
    spark: SparkSession, silver_path: str, valid: DataFrame, dataset: Dataset, dates: list[str]
) -> list[MergeOutcome]:
    """The dates' valid rows into silver. Latest-wins silver takes them in one MERGE (the newest version of
    a key wins, and for equal versions the earliest date, as when merged date by date). SCD2 history
    depends on the order records arrive in (a stored window is never rewritten), so it merges date by date.
    """
    if dataset.contract.history != "scd2":
        return [merge_into_silver(spark, silver_path, valid, dataset.contract)]
    return [
        merge_into_silver(spark, silver_path, valid.where(F.col(DELIVERY_DATE) == date), dataset.contract)
        for date in dates
    ]


def silver_rows(valid: DataFrame, dataset: Dataset, warn_ids: list[str]) -> DataFrame:
    """Project validated rows to the silver shape; warnings travel with the row."""
    warnings = (
        F.filter(F.col(FAILED_RULES), lambda rule_id: rule_id.isin(*warn_ids)) if warn_ids else F.array()
    )
    return valid.select(
        *silver_columns(dataset, valid.columns),
        warnings.cast("array<string>").alias(DQ_WARNINGS),
        F.current_timestamp().alias("_merged_at"),
    )


def rule_result_records(dataset: str, batch_date: str, results: list[RuleResult]) -> list[dict[str, Any]]:
    rules = {r.rule_id: r for r in (parseable_rule(dataset), *load_suite(dataset).rules)}
    records = []
    for result in results:
        rule = rules.get(result.rule_id)
        records.append(
            {
                "batch_date": batch_date,
                "rule_id": result.rule_id,
                "severity": result.severity,
                "column": rule.column if rule else None,
                "evaluated": result.evaluated,
                "failed": result.failed,
                "pass_rate": round(result.pass_rate, 6),
                "message_vi": rule.message_vi if rule else "",
                "message_en": rule.message_en if rule else result.message_en,
            }
        )
    return records


def write_rule_results(
    spark: SparkSession, lake: Lake, run_id: str, dataset: str, results_by_date: dict[str, list[RuleResult]]
) -> None:
    columns = {r.rule_id: r.column for r in load_suite(dataset).rules}
    rows = [
        (run_id, dataset, batch_date, r.rule_id, r.severity, columns.get(r.rule_id), r.evaluated, r.failed,
         r.pass_rate)
        for batch_date, results in results_by_date.items()
        for r in results
    ]  # fmt: skip
    if not rows:
        return
    frame = spark.createDataFrame(
        rows,
        "run_id string, dataset string, batch_date string, rule_id string, severity string, column string, "
        "evaluated long, failed long, pass_rate double",
    ).withColumn("recorded_at", F.current_timestamp())
    retry_on_conflict(
        lambda: (
            frame.write.format("delta")
            .mode("append")
            .partitionBy("dataset")
            .save(lake.table_path(RULE_RESULTS))
        )
    )


def build_marts(spark: SparkSession, lake: Lake, full: bool = False) -> dict[str, int]:
    """Bring every gold mart (`jobs.mart_registry.MARTS`) up to date with silver, from its change feed
    (`full` rebuilds them). A mart whose silver sources do not all exist yet is skipped.

    Returns the table version of each mart, by qualified name.
    """
    versions = {}
    for spec in buildable_marts(spark, lake):
        target = gold(spec.name)
        refreshed = marts.refresh_mart(spark, lake, spec, full=full)
        log.info(
            "[gold] %s: %s (%d months, %d rows written) from %s%s",
            target.qualified_name, refreshed.mode, len(refreshed.months), refreshed.rows_written,
            dict(refreshed.source_versions), f"; {refreshed.reason}" if refreshed.reason else "",
        )  # fmt: skip
        versions[target.qualified_name] = refreshed.table_version
    return versions


def buildable_marts(spark: SparkSession, lake: Lake) -> list[marts.MartSpec]:
    """The registered marts whose silver sources all exist (the others wait, and say so in the log)."""
    from jobs.mart_registry import MARTS

    ready = []
    for spec in MARTS:
        missing = [ds for ds in spec.sources if not table_exists(spark, lake, silver(ds))]
        if missing:
            log.info("[gold] gold.%s skipped: no silver %s yet", spec.name, ", ".join(missing))
        else:
            ready.append(spec)
    return ready


def all_table_refs() -> list[TableRef]:
    from jobs.lake import INGESTED_FILES
    from jobs.mart_registry import MARTS
    from jobs.reference_tables import REFERENCE_TABLES

    refs = [INGESTED_FILES, RULE_RESULTS, *(gold(spec.name) for spec in MARTS), *REFERENCE_TABLES]
    for name in DATASETS:
        refs += [bronze(name), silver(name), quarantine(name)]
    return refs
