"""Gold marts: cross-sector tables analysts query. Each measure's definition sits next to its code.

`fct_dossiers_by_commune_month` is kept up to date incrementally from silver's change data feed: the
(commune, month) pairs that changed dossiers counted in, before and after the change, are recomputed from
silver and merged into gold. The silver version the mart reflects is a property of the gold table
(SOURCE_VERSION_PROPERTY), so each build reads only the changes since the last one. A full rebuild gives
the same table and is used when the mart is new, the property is missing or the change feed cannot cover
the range (see `refresh_dossiers_by_commune_month`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from delta.tables import DeltaTable
from pyspark import StorageLevel
from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.merge import retry_on_conflict, table_properties, table_version

log = logging.getLogger(__name__)

DOSSIERS_BY_COMMUNE_MONTH = "fct_dossiers_by_commune_month"
SOURCE_VERSION_PROPERTY = "govlake.source.silver.dossiers.version"
MART_KEY = ("commune_code", "month")
COUNTS = ("received", "received_online", "finished", "finished_on_time")
SHARES = ("online_share", "on_time_share")

MEASURES = {
    "received": "dossiers whose received_at (NgayTiepNhan) falls in the month",
    "received_online": "of those, dossiers submitted online (KenhThucHien = 2)",
    "finished": "dossiers finished (status 9 or 10) whose finished_at falls in the month",
    "finished_on_time": "of those, finished no later than due_at (NgayHenTra)",
    "online_share": "received_online / received (null when nothing was received)",
    "on_time_share": "finished_on_time / finished (null when nothing finished)",
}


def received_month() -> Column:
    return F.trunc("received_at", "month")


def finished_month() -> Column:
    return F.trunc("finished_at", "month")


def is_counted_finished() -> Column:
    return F.col("is_finished") & F.col("finished_at").isNotNull()


def received_counts(dossiers: DataFrame) -> DataFrame:
    return (
        dossiers.where(F.col("received_at").isNotNull())
        .groupBy("commune_code", received_month().alias("month"))
        .agg(
            F.count(F.lit(1)).alias("received"),
            F.sum(F.col("is_online").cast("long")).alias("received_online"),
        )
    )


def finished_counts(dossiers: DataFrame) -> DataFrame:
    return (
        dossiers.where(is_counted_finished())
        .groupBy("commune_code", finished_month().alias("month"))
        .agg(
            F.count(F.lit(1)).alias("finished"),
            F.sum(F.coalesce(F.col("finished_on_time"), F.lit(False)).cast("long")).alias("finished_on_time"),
        )
    )


def with_shares(received: DataFrame, finished: DataFrame) -> DataFrame:
    """Received and finished counts side by side per commune and month, with the two shares."""
    return (
        received.join(finished, list(MART_KEY), "full_outer")
        .fillna(0, subset=list(COUNTS))
        .withColumns(
            {
                "online_share": F.when(F.col("received") > 0, F.col("received_online") / F.col("received")),
                "on_time_share": F.when(F.col("finished") > 0, F.col("finished_on_time") / F.col("finished")),
            }
        )
        .select(*MART_KEY, *COUNTS, *SHARES)
    )


def dossiers_by_commune_month(dossiers: DataFrame) -> DataFrame:
    """One row per pre-2025 commune and calendar month (Vietnam time) with dossier throughput measures."""
    return with_shares(received_counts(dossiers), finished_counts(dossiers))


def touched_pairs(changed_dossiers: DataFrame) -> DataFrame:
    """The (commune, month) pairs whose measures changed dossier rows can move.

    Given pre- and post-images, a dossier that moved (another month, commune or status) touches both the
    pairs it left and those it joined.
    """
    received = changed_dossiers.where(F.col("received_at").isNotNull()).select(
        "commune_code", received_month().alias("month")
    )
    finished = changed_dossiers.where(is_counted_finished()).select(
        "commune_code", finished_month().alias("month")
    )
    return received.unionByName(finished).distinct()


def mart_rows_for(received_side: DataFrame, finished_side: DataFrame, pairs: DataFrame) -> DataFrame:
    """The mart's rows for `pairs` (a pair with no dossier left has no row).

    `received_side` must hold every dossier received in the pairs' months and `finished_side` every one
    finished in them (both may hold more): each pair's counts are then complete.
    """
    key = list(MART_KEY)
    return with_shares(
        received_counts(received_side).join(pairs, key, "left_semi"),
        finished_counts(finished_side).join(pairs, key, "left_semi"),
    )


def mart_changes(recomputed: DataFrame, pairs: DataFrame, gold: DataFrame) -> DataFrame:
    """Rows that change gold: `_present` false deletes a pair; true inserts it or updates its measures."""
    key, measures = list(MART_KEY), [*COUNTS, *SHARES]
    now = pairs.join(recomputed.withColumn("_present", F.lit(True)), key, "left").fillna(
        False, subset=["_present"]
    )
    stored = gold.select(
        *key, F.lit(True).alias("_stored"), *[F.col(m).alias(f"_stored_{m}") for m in measures]
    )
    same = F.lit(True)
    for m in measures:
        same = same & F.col(m).eqNullSafe(F.col(f"_stored_{m}"))
    compared = now.join(stored, key, "left")
    in_gold = F.col("_stored").isNotNull()
    return compared.where((F.col("_present") & (~in_gold | ~same)) | (~F.col("_present") & in_gold)).select(
        *key, *measures, "_present"
    )


@dataclass(frozen=True)
class MartRefresh:
    table_version: int
    source_version: int
    mode: str  # full | incremental | unchanged
    inserted: int = 0
    updated: int = 0
    deleted: int = 0


def refresh_dossiers_by_commune_month(
    spark: SparkSession, silver_path: str, gold_path: str, full: bool = False
) -> MartRefresh:
    """Bring gold up to the latest silver version: incrementally from the change feed, or in full."""

    def refresh() -> MartRefresh:
        silver_version = table_version(DeltaTable.forPath(spark, silver_path))
        built_from = _source_version(spark, gold_path)
        reason = _why_full(spark, silver_path, built_from, silver_version, full)
        if reason is None and built_from == silver_version:
            return MartRefresh(
                table_version(DeltaTable.forPath(spark, gold_path)), silver_version, "unchanged"
            )
        if reason is None and built_from is not None:
            try:
                return _incremental(spark, silver_path, gold_path, built_from, silver_version)
            except AnalysisException as error:  # e.g. change files removed by VACUUM
                reason = f"change feed unreadable ({str(error).splitlines()[0]})"
        log.info("gold %s: full rebuild from silver version %d: %s", gold_path, silver_version, reason)
        return _rebuild(spark, silver_path, gold_path, silver_version)

    return retry_on_conflict(refresh)


def _why_full(
    spark: SparkSession, silver_path: str, built_from: int | None, silver_version: int, full: bool
) -> str | None:
    if full:
        return "asked for"
    if built_from is None:
        return "gold has no record of the silver version it reflects"
    if built_from > silver_version:
        return f"gold reflects silver version {built_from}, newer than silver's {silver_version}"
    if built_from == silver_version:
        return None
    silver = DeltaTable.forPath(spark, silver_path)
    if table_properties(silver).get("delta.enableChangeDataFeed") != "true":
        return "silver has no change data feed"
    kept = silver.history().agg(F.min("version").alias("oldest")).first()
    oldest = kept["oldest"] if kept else None
    if oldest is None or oldest > built_from + 1:
        return f"silver history from version {built_from + 1} is no longer kept"
    return None


def _incremental(
    spark: SparkSession, silver_path: str, gold_path: str, built_from: int, silver_version: int
) -> MartRefresh:
    changed = (
        spark.read.format("delta")
        .option("readChangeFeed", "true")
        .option("startingVersion", built_from + 1)
        .option("endingVersion", silver_version)
        .load(silver_path)
    )
    pairs = touched_pairs(changed).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        months = [row["month"] for row in pairs.select("month").distinct().collect()]  # a few dates
        if not months:
            return _record_source_version(spark, gold_path, silver_version, "incremental")
        dossiers = spark.read.format("delta").option("versionAsOf", silver_version).load(silver_path)
        received_side = dossiers.where(_received_in(dossiers.columns, months))
        finished_side = dossiers.where(finished_month().isin(*months))
        recomputed = mart_rows_for(received_side, finished_side, pairs)
        gold = spark.read.format("delta").load(gold_path)
        changes = mart_changes(recomputed, pairs, gold).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            if changes.isEmpty():
                return _record_source_version(spark, gold_path, silver_version, "incremental")
            on = " AND ".join(f"gold.`{k}` = change.`{k}`" for k in MART_KEY)
            measures: dict[str, str | Column] = {m: f"change.`{m}`" for m in (*COUNTS, *SHARES)}
            metrics = (
                DeltaTable.forPath(spark, gold_path)
                .alias("gold")
                .merge(changes.alias("change"), on)
                .whenMatchedDelete(condition="NOT change._present")
                .whenMatchedUpdate(set=measures)
                .whenNotMatchedInsert(
                    condition="change._present",
                    values={**{k: f"change.`{k}`" for k in MART_KEY}, **measures},
                )
                .execute()
                .first()
            )
        finally:
            changes.unpersist()
    finally:
        pairs.unpersist()
    refreshed = _record_source_version(spark, gold_path, silver_version, "incremental")
    return MartRefresh(
        refreshed.table_version,
        silver_version,
        "incremental",
        inserted=int(metrics["num_inserted_rows"]) if metrics else 0,
        updated=int(metrics["num_updated_rows"]) if metrics else 0,
        deleted=int(metrics["num_deleted_rows"]) if metrics else 0,
    )


def _rebuild(spark: SparkSession, silver_path: str, gold_path: str, silver_version: int) -> MartRefresh:
    dossiers = spark.read.format("delta").option("versionAsOf", silver_version).load(silver_path)
    (
        dossiers_by_commune_month(dossiers)
        .write.format("delta")
        .mode("overwrite")
        .option("overwriteSchema", "true")
        .save(gold_path)
    )
    return _record_source_version(spark, gold_path, silver_version, "full")


def _record_source_version(
    spark: SparkSession, gold_path: str, silver_version: int, mode: str
) -> MartRefresh:
    # A separate commit after the data: if a run stops in between, the next build recomputes the same pairs
    # from silver (absolute values, not increments), so gold ends up the same.
    table = gold_path.replace("`", "``")
    spark.sql(
        f"ALTER TABLE delta.`{table}` SET TBLPROPERTIES ('{SOURCE_VERSION_PROPERTY}' = '{silver_version}')"
    )
    return MartRefresh(table_version(DeltaTable.forPath(spark, gold_path)), silver_version, mode)


def _source_version(spark: SparkSession, gold_path: str) -> int | None:
    if not DeltaTable.isDeltaTable(spark, gold_path):
        return None
    value = table_properties(DeltaTable.forPath(spark, gold_path)).get(SOURCE_VERSION_PROPERTY)
    return int(value) if value is not None else None


def _received_in(columns: Sequence[str], months: Sequence[dt.date]) -> Column:
    """Dossiers received in `months`; on silver's partition column when it has one, so files are skipped."""
    if "received_month" in columns:
        return F.col("received_month").isin(*months)
    return received_month().isin(*months)
