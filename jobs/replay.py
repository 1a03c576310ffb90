"""Quarantine review: what is held and why, and replay of held rows after a rule or reference fix.

Replay validates the held rows again from their delivered values. Those are in bronze, not in quarantine:
the quarantine payload is masked and cannot be validated. A held row is found in bronze by its provenance
(`_source_sha256`, `_source_row`), goes through the same `standardise` and `validate_in_one_pass` as the
daily run, and then:

- rows that now pass every `quarantine` and `fail` rule are merged into silver as the daily run merges
  them (`merge_into_silver`: `upsert_latest`, or SCD2 windows where the contract keeps history, so a version
  older than the one silver holds still never wins), silver's invariants are checked on the keys written,
  and the rows are deleted from quarantine;
- rows that still fail stay, with their rule ids, severity and messages brought up to date.

Silver is written before quarantine: a replay interrupted between the two leaves a row in both places,
and the next replay settles it (the MERGE into silver changes nothing the second time). Rows are never lost.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.bronze import read_batch
from jobs.datasets import DATASETS, Dataset, get_dataset
from jobs.invariants import check_silver
from jobs.lake import Lake, quarantine, silver, table_exists
from jobs.merge import merge_into_silver, retry_on_conflict
from jobs.pii import PiiKey
from jobs.pipeline import silver_rows
from jobs.quality import (
    Rule,
    has_any,
    load_suite,
    parseable_rule,
    quarantine_rule_ids,
    validate_in_one_pass,
    warn_rule_ids,
)
from jobs.quarantine import SEVERITY_RANK, quarantine_rows
from jobs.standardise import standardise

log = logging.getLogger(__name__)
ROW_IDENTITY = ("_source_sha256", "_source_row")
RELEASED = "_released"
# What a replay may change on a row that stays in quarantine; payload and provenance are as delivered.
REASON_COLUMNS = ("rule_ids", "severity", "messages_vi", "messages_en")


@dataclass(frozen=True)
class ReplayOutcome:
    rechecked: int  # held rows found in bronze and validated again
    released: int  # now pass: merged into silver and removed from quarantine
    still_failing: int  # stay in quarantine, reasons updated
    not_in_bronze: int = 0  # held rows whose delivered record is no longer in bronze (left as they are)
    inserted: int = 0  # silver rows the released ones added
    updated: int = 0  # silver rows the released ones replaced (they were newer than what silver held)
    # Silver invariants the merge broke: then nothing leaves quarantine until someone has looked.
    broken_invariants: tuple[str, ...] = ()

    @property
    def conserved(self) -> bool:
        return self.rechecked == self.released + self.still_failing


def _rules(dataset: str, suites_dir: Path | None) -> list[Rule]:
    suite = load_suite(dataset) if suites_dir is None else load_suite(dataset, suites_dir)
    return [parseable_rule(dataset), *suite.row_rules]


def _fails_any(rule_ids_column: Column, rule_ids: Sequence[str]) -> Column:
    return F.arrays_overlap(rule_ids_column, F.array(*[F.lit(r) for r in rule_ids]))


def replay_quarantine(
    spark: SparkSession,
    lake: Lake,
    dataset: str,
    run_id: str,
    key: PiiKey,
    *,
    suites_dir: Path | None = None,
) -> ReplayOutcome:
    """Validate a dataset's quarantined rows again; merge those that pass, update the reasons of the rest.

    `suites_dir` replaces `expectations/` (a corrected suite not yet in place); reference data is read as
    the daily run reads it.
    """
    spec = get_dataset(dataset)
    held_path = lake.table_path(quarantine(dataset))
    if not table_exists(spark, lake, quarantine(dataset)):
        return ReplayOutcome(0, 0, 0)
    rules = _rules(dataset, suites_dir)
    quarantine_ids, warn_ids = quarantine_rule_ids(rules), warn_rule_ids(rules)

    held = spark.read.format("delta").load(held_path).select(*ROW_IDENTITY)
    held_count = held.count()
    files = [row["_source_sha256"] for row in held.select("_source_sha256").distinct().collect()]
    if not files:
        return ReplayOutcome(0, 0, 0)

    # Whole delivered files are validated, not only the held rows: in-batch rules (uniqueness) then see
    # the same neighbours as when the rows were first quarantined.
    batch = standardise(read_batch(spark, lake, dataset, files), spec, key)
    validated, _ = validate_in_one_pass(batch, rules)
    try:
        rechecked = validated.join(held, list(ROW_IDENTITY), "left_semi")
        failing = has_any(quarantine_ids)
        counts = {
            bool(row["failing"]): int(row["count"])
            for row in rechecked.groupBy(failing.alias("failing")).count().collect()
        }
        still_failing, released = counts.get(True, 0), counts.get(False, 0)
        outcome = ReplayOutcome(
            rechecked=released + still_failing,
            released=released,
            still_failing=still_failing,
            not_in_bronze=held_count - released - still_failing,
        )
        if outcome.rechecked == 0:
            return outcome
        if released:
            silver_path = lake.table_path(silver(dataset))
            merged = merge_into_silver(
                spark, silver_path, silver_rows(rechecked.where(~failing), spec, warn_ids), spec.contract
            )
            outcome = replace(outcome, inserted=merged.inserted, updated=merged.updated)
            if merged.committed and merged.read_version is not None:
                checks = check_silver(spark, silver_path, spec.contract, merged.read_version)
                broken = tuple(f"{c.rule_id}: {c.failed} of {c.evaluated} keys" for c in checks if c.failed)
                if broken:
                    # Silver is as the merge left it (time travel undoes it); the rows stay held until
                    # someone has looked, exactly as a blocked daily batch stays in bronze.
                    log.error("[%s] replay %s broke silver invariants: %s", dataset, run_id, broken)
                    return replace(outcome, broken_invariants=broken)
        _settle_quarantine(spark, held_path, rechecked, spec, rules, run_id)
        log.info(
            "[%s] replay %s: %d rechecked, %d released (silver +%d new, %d updated), %d still failing",
            dataset, run_id, outcome.rechecked, outcome.released, outcome.inserted, outcome.updated,
            outcome.still_failing,
        )  # fmt: skip
        return outcome
    finally:
        validated.unpersist()


def _settle_quarantine(
    spark: SparkSession, path: str, rechecked: DataFrame, spec: Dataset, rules: list[Rule], run_id: str
) -> None:
    """One MERGE on the row identity: delete the released rows, refresh the reasons of the others."""
    quarantine_ids = quarantine_rule_ids(rules)
    reasons = quarantine_rows(rechecked, spec, rules, run_id)
    source = reasons.select(
        *ROW_IDENTITY, *REASON_COLUMNS, (~_fails_any(F.col("rule_ids"), quarantine_ids)).alias(RELEASED)
    )
    unchanged = " AND ".join(f"held.{c} <=> fresh.{c}" for c in REASON_COLUMNS)

    def merge() -> None:
        (
            DeltaTable.forPath(spark, path)
            .alias("held")
            .merge(
                source.alias("fresh"),
                " AND ".join(f"held.{c} = fresh.{c}" for c in ROW_IDENTITY),
            )
            .whenMatchedDelete(condition=f"fresh.{RELEASED}")
            .whenMatchedUpdate(
                condition=f"NOT fresh.{RELEASED} AND NOT ({unchanged})",
                set={c: f"fresh.{c}" for c in REASON_COLUMNS},
            )
            .execute()
        )

    retry_on_conflict(merge)


# ---------------------------------------------------------------------------------------------------------
# What is held
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeldCount:
    """Quarantined rows of one run and dataset failing one rule (a row failing two rules counts in both)."""

    run_id: str
    dataset: str
    rule_id: str
    severity: str
    rows: int


@dataclass(frozen=True)
class HeldTotal:
    run_id: str
    dataset: str
    rows: int


def quarantine_counts(
    spark: SparkSession, lake: Lake, dataset: str | None = None
) -> tuple[list[HeldCount], list[HeldTotal]]:
    """Counts by run, dataset, rule and the rule's severity, newest run first; never a payload value."""
    names = [get_dataset(dataset).name] if dataset else sorted(DATASETS)
    by_rule: list[HeldCount] = []
    totals: list[HeldTotal] = []
    for name in names:
        if not table_exists(spark, lake, quarantine(name)):
            continue
        severity = {r.rule_id: r.severity for r in _rules(name, None)}
        held = spark.read.format("delta").load(lake.table_path(quarantine(name)))
        per_rule = (
            held.select("quarantined_run_id", "severity", F.explode("rule_ids").alias("rule_id"))
            .groupBy("quarantined_run_id", "rule_id")
            .agg(F.count(F.lit(1)).alias("rows"), F.collect_set("severity").alias("row_severities"))
            .collect()
        )
        by_rule += [
            HeldCount(
                r["quarantined_run_id"],
                name,
                r["rule_id"],
                # A rule no longer in the suite: the worst severity of the rows it held.
                severity.get(r["rule_id"])
                or max(r["row_severities"], key=lambda s: SEVERITY_RANK.get(s, 0), default="?"),
                int(r["rows"]),
            )
            for r in per_rule
        ]
        totals += [
            HeldTotal(r["quarantined_run_id"], name, int(r["count"]))
            for r in held.groupBy("quarantined_run_id").count().collect()
        ]
    # Stable sorts: newest run first (run ids start with their time), then dataset, then most rows.
    by_rule.sort(key=lambda c: (c.dataset, -c.rows, c.rule_id))
    by_rule.sort(key=lambda c: c.run_id, reverse=True)
    totals.sort(key=lambda t: t.dataset)
    totals.sort(key=lambda t: t.run_id, reverse=True)
    return by_rule, totals


def masked_samples(spark: SparkSession, lake: Lake, dataset: str, limit: int) -> list[dict[str, object]]:
    """The newest held rows as stored: record key, rule ids and the masked payload (identifiers masked)."""
    if limit <= 0 or not table_exists(spark, lake, quarantine(dataset)):
        return []
    rows = (
        spark.read.format("delta")
        .load(lake.table_path(quarantine(dataset)))
        .orderBy(F.col("quarantined_at").desc(), F.col("_source_file"), F.col("_source_row"))
        .select("quarantined_run_id", "record_key", "rule_ids", "payload", "_source_file", "_source_row")
        .limit(limit)
        .collect()
    )
    return [row.asDict() for row in rows]
