"""The ingested-file ledger (`_ops/ingested_files`): which delivered file went where, by content hash.

Small operational metadata, so reading it to the driver is fine (it never holds data values).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.lake import INGESTED_FILES, Lake, table_exists
from jobs.merge import retry_on_conflict

INGESTED, PROCESSED, REJECTED = "ingested", "processed", "rejected"

LEDGER_SCHEMA = T.StructType(
    [
        T.StructField("dataset", T.StringType(), False),
        T.StructField("file_sha256", T.StringType()),
        T.StructField("relative_path", T.StringType(), False),
        T.StructField("delivery_date", T.StringType()),
        T.StructField("size_bytes", T.LongType()),
        T.StructField("encoding", T.StringType()),
        T.StructField("rows_read", T.LongType()),
        T.StructField("extra_columns", T.ArrayType(T.StringType())),
        T.StructField("status", T.StringType(), False),
        T.StructField("reason", T.StringType()),
        T.StructField("ingest_run_id", T.StringType(), False),
        T.StructField("ingested_at", T.TimestampType()),
        T.StructField("processed_run_id", T.StringType()),
        T.StructField("processed_at", T.TimestampType()),
    ]
)


@dataclass
class LedgerEntry:
    dataset: str
    file_sha256: str
    relative_path: str
    delivery_date: str
    size_bytes: int
    encoding: str | None
    rows_read: int | None
    status: str
    reason: str | None
    ingest_run_id: str
    extra_columns: list[str] = field(default_factory=list)
    ingested_at: dt.datetime = field(default_factory=dt.datetime.now)
    processed_run_id: str | None = None
    processed_at: dt.datetime | None = None


def read_entries(spark: SparkSession, lake: Lake, dataset: str | None = None) -> list[LedgerEntry]:
    if not table_exists(spark, lake, INGESTED_FILES):
        return []
    df = spark.read.format("delta").load(lake.table_path(INGESTED_FILES))
    if dataset:
        df = df.where(F.col("dataset") == dataset)
    return [LedgerEntry(**row.asDict()) for row in df.collect()]


def record(spark: SparkSession, lake: Lake, entries: Sequence[LedgerEntry]) -> None:
    if not entries:
        return
    rows = [asdict(e) for e in entries]
    frame = spark.createDataFrame(rows, LEDGER_SCHEMA)  # type: ignore[arg-type]
    retry_on_conflict(
        lambda: (
            frame.write.format("delta")
            .mode("append")
            .partitionBy("dataset")
            .save(lake.table_path(INGESTED_FILES))
        )
    )


def mark_processed(spark: SparkSession, lake: Lake, dataset: str, hashes: Sequence[str], run_id: str) -> None:
    if not hashes:
        return
    condition = (
        (F.col("dataset") == dataset) & F.col("file_sha256").isin(*hashes) & (F.col("status") == INGESTED)
    )
    retry_on_conflict(
        lambda: DeltaTable.forPath(spark, lake.table_path(INGESTED_FILES)).update(
            condition,
            {
                "status": F.lit(PROCESSED),
                "processed_run_id": F.lit(run_id),
                "processed_at": F.current_timestamp(),
            },
        )
    )


def ledger_exists(spark: SparkSession, lake: Lake) -> bool:
    return table_exists(spark, lake, INGESTED_FILES)


def reopen_processed(spark: SparkSession, lake: Lake) -> None:
    """Mark every processed file as ingested again, so the next run rebuilds silver from bronze."""
    if not ledger_exists(spark, lake):
        return
    retry_on_conflict(
        lambda: DeltaTable.forPath(spark, lake.table_path(INGESTED_FILES)).update(
            F.col("status") == PROCESSED,
            {"status": F.lit(INGESTED), "processed_run_id": F.lit(None), "processed_at": F.lit(None)},
        )
    )
