"""Silver upserts: MERGE by business key where the record's own version decides, never arrival order."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jobs.contracts import Contract

T = TypeVar("T")
CONFLICT_EXCEPTIONS = (
    "ConcurrentAppendException",
    "ConcurrentDeleteReadException",
    "ConcurrentDeleteDeleteException",
    "ConcurrentTransactionException",
    "MetadataChangedException",
    "ProtocolChangedException",
    "DELTA_CONCURRENT",
)


@dataclass(frozen=True)
class MergeOutcome:
    table_version: int
    inserted: int
    updated: int

    @property
    def changed(self) -> bool:
        return self.inserted + self.updated > 0


def is_write_conflict(error: BaseException) -> bool:
    text = f"{type(error).__name__}: {error}"
    return any(marker in text for marker in CONFLICT_EXCEPTIONS)


def retry_on_conflict(action: Callable[[], T], attempts: int = 5, first_delay_s: float = 0.5) -> T:
    """Run a whole read-modify-write again when another writer committed first (optimistic concurrency)."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as error:
            if attempt == attempts or not is_write_conflict(error):
                raise
            time.sleep(first_delay_s * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def latest_per_key(df: DataFrame, key: Sequence[str], version: str) -> DataFrame:
    """One row per key: the newest version; ties go to the later file, then the later record in it."""
    newest_first = Window.partitionBy(*key).orderBy(
        F.col(version).desc_nulls_last(), F.col("_source_file").desc(), F.col("_source_row").desc()
    )
    return df.withColumn("_rank", F.row_number().over(newest_first)).where("_rank = 1").drop("_rank")


def create_silver_table(spark: SparkSession, path: str, schema_source: DataFrame, contract: Contract) -> None:
    """Empty Delta table with the silver schema, change data feed on (gold builds read it incrementally)."""
    builder = (
        DeltaTable.createIfNotExists(spark)
        .location(path)
        .addColumns(schema_source.schema)
        .property("delta.enableChangeDataFeed", "true")
        .comment(f"{contract.title}. Business key: {', '.join(contract.business_key)}")
    )
    if contract.silver_partition_by:
        builder = builder.partitionedBy(*contract.silver_partition_by)
    builder.execute()


def upsert_latest(spark: SparkSession, path: str, batch: DataFrame, contract: Contract) -> MergeOutcome:
    """MERGE the newest version of each key; an older or equal version never overwrites the stored one."""
    source = latest_per_key(batch, contract.business_key, contract.version_column)
    create_silver_table(spark, path, source, contract)
    on = " AND ".join(f"target.`{k}` = source.`{k}`" for k in contract.business_key)
    newer = f"source.`{contract.version_column}` > target.`{contract.version_column}`"

    def merge() -> MergeOutcome:
        target = DeltaTable.forPath(spark, path)
        metrics = (
            target.alias("target")
            .merge(source.alias("source"), on)
            .whenMatchedUpdateAll(condition=newer)
            .whenNotMatchedInsertAll()
            .execute()
            .first()
        )
        version = target.history(1).select("version").first()
        return MergeOutcome(
            table_version=int(version["version"]) if version else 0,
            inserted=int(metrics["num_inserted_rows"]) if metrics else 0,
            updated=int(metrics["num_updated_rows"]) if metrics else 0,
        )

    return retry_on_conflict(merge)
