"""Quarantine tables: rows that failed a rule, with reasons and provenance, identifiers masked."""

from __future__ import annotations

from collections.abc import Sequence

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.datasets import Dataset
from jobs.lake import Lake, quarantine
from jobs.merge import retry_on_conflict
from jobs.pii import mask_json_payload
from jobs.quality import FAILED_RULES, RAW, Rule, messages_for

SEVERITY_RANK = {"warn": 1, "quarantine": 2, "fail": 3}


def quarantine_rows(failed: DataFrame, dataset: Dataset, rules: Sequence[Rule], run_id: str) -> DataFrame:
    """The quarantine shape: masked original record as JSON, failed rule ids and messages, provenance."""
    severity_of = F.create_map(
        *[x for r in rules for x in (F.lit(r.rule_id), F.lit(SEVERITY_RANK[r.severity]))]
    )
    rank_names = F.create_map(
        *[x for name, rank in SEVERITY_RANK.items() for x in (F.lit(rank), F.lit(name))]
    )
    worst = F.array_max(F.transform(F.col(FAILED_RULES), lambda rule_id: severity_of[rule_id]))
    pii_kinds = {spec.name: str(spec.pii) for spec in dataset.contract.pii_fields}
    key = F.concat_ws("|", *[F.col(f"{RAW}.`{k}`") for k in dataset.contract.business_key])
    return failed.select(
        F.lit(dataset.name).alias("dataset"),
        key.alias("record_key"),
        F.col(FAILED_RULES).alias("rule_ids"),
        rank_names[worst].alias("severity"),
        messages_for(F.col(FAILED_RULES), rules, "vi").alias("messages_vi"),
        messages_for(F.col(FAILED_RULES), rules, "en").alias("messages_en"),
        mask_json_payload(failed, pii_kinds).alias("payload"),
        "_source_file",
        "_source_sha256",
        "_source_row",
        "_delivery_date",
        "_ingest_run_id",
        F.lit(run_id).alias("quarantined_run_id"),
        F.current_timestamp().alias("quarantined_at"),
    )


def write_quarantine(spark: SparkSession, lake: Lake, rows: DataFrame, dataset: str) -> None:
    """Insert rows not already quarantined (same file and record): a re-run never duplicates them."""
    path = lake.table_path(quarantine(dataset))
    DeltaTable.createIfNotExists(spark).location(path).addColumns(rows.schema).execute()

    def merge() -> None:
        (
            DeltaTable.forPath(spark, path)
            .alias("q")
            .merge(rows.alias("n"), "q._source_sha256 = n._source_sha256 AND q._source_row = n._source_row")
            .whenNotMatchedInsertAll()
            .execute()
        )

    retry_on_conflict(merge)
