"""Bronze: every delivered record as strings with its provenance; nothing dropped."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from jobs.lake import Lake, bronze, table_exists
from jobs.merge import retry_on_conflict
from jobs.readers import Delivery, RawBatch


def with_provenance(raw: RawBatch, delivery: Delivery, run_id: str) -> DataFrame:
    return raw.frame.withColumns(
        {
            "_source_file": F.lit(delivery.relative_path),
            "_source_sha256": F.lit(delivery.sha256),
            "_source_encoding": F.lit(raw.encoding),
            "_delivery_date": F.lit(delivery.delivery_date),
            "_ingest_run_id": F.lit(run_id),
            "_ingested_at": F.current_timestamp(),
        }
    )


def write_file_to_bronze(
    spark: SparkSession, lake: Lake, delivery: Delivery, raw: RawBatch, run_id: str
) -> int:
    """Store one file's records and return how many were written.

    The write replaces any rows an interrupted earlier attempt left for the same file (same sha256), so a
    retry never double-counts. A new source column evolves the bronze schema.
    """
    path = lake.table_path(bronze(delivery.dataset))
    observation = Observation(f"bronze-{delivery.sha256[:12]}")
    rows = with_provenance(raw, delivery, run_id).observe(observation, F.count(F.lit(1)).alias("rows"))

    def write() -> None:
        writer = rows.write.format("delta").option("mergeSchema", "true")
        if not table_exists(spark, lake, bronze(delivery.dataset)):
            writer.mode("append").partitionBy("_delivery_date").save(path)
        else:
            writer.mode("overwrite").option("replaceWhere", f"_source_sha256 = '{delivery.sha256}'").save(
                path
            )

    retry_on_conflict(write)
    return int(observation.get["rows"])


def write_files_to_bronze(
    spark: SparkSession, lake: Lake, dataset: str, files: Sequence[tuple[Delivery, RawBatch]], run_id: str
) -> dict[str, int]:
    """Store several files' records in one commit; returns rows written per file sha256.

    A Delta commit costs more than reading a small delivery, so a run's files go in together. Like
    `write_file_to_bronze`, the write replaces rows an interrupted attempt left for the same files. If it
    fails, nothing is committed and the caller can write the files one by one to find the one at fault.
    """
    if not files:
        return {}
    observations = {d.sha256: Observation(f"bronze-{d.sha256[:12]}") for d, _ in files}
    frames = [
        with_provenance(raw, d, run_id).observe(observations[d.sha256], F.count(F.lit(1)).alias("rows"))
        for d, raw in files
    ]
    rows = functools.reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), frames)
    path = lake.table_path(bronze(dataset))
    hashes = ", ".join(f"'{d.sha256}'" for d, _ in files)

    def write() -> None:
        writer = rows.write.format("delta").option("mergeSchema", "true")
        if not table_exists(spark, lake, bronze(dataset)):
            writer.mode("append").partitionBy("_delivery_date").save(path)
        else:
            writer.mode("overwrite").option("replaceWhere", f"_source_sha256 IN ({hashes})").save(path)

    retry_on_conflict(write)
    return {sha: int(observation.get["rows"]) for sha, observation in observations.items()}


def read_batch(spark: SparkSession, lake: Lake, dataset: str, hashes: list[str]) -> DataFrame:
    """Bronze rows of the given files: the batch a run standardises and validates."""
    return (
        spark.read.format("delta")
        .load(lake.table_path(bronze(dataset)))
        .where(F.col("_source_sha256").isin(*hashes))
    )
