"""Silver dossiers: merging one day's delivery versus rebuilding the table, on a synthetic table.

    .venv/bin/python benchmarks/merge_incremental.py --rows 2000000 --out benchmarks/results

Builds a silver dossiers table of `--rows` rows (the real silver columns; receipts spread over `--months`
months) in the layout the dossiers contract and `jobs.merge.ensure_silver_table` give it, then times, each
from that same table version (restored in between):

- rebuild: the newest version per key over the stored rows and the day's batch, written as a new table;
- recent day: `jobs.merge.upsert_latest` of a batch in which `--changed-share` of the table's rows come
  back with a newer version, all received in the last two months (where open dossiers are), plus
  `--new-rows` new dossiers and as many unchanged resends as changed rows; then the post-merge invariants
  (`jobs.invariants.check_silver`) and the same batch merged again (must write nothing);
- day with old corrections: the same, but `--old-share` of the changed rows are dossiers from any month;
- the latter with deletion vectors on (silver tables have them off, see jobs.merge.SILVER_DELETION_VECTORS).

Figures go to stdout as a Markdown table and, with `--out`, to a JSON file named after the date and size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.config import Settings
from jobs.datasets import get_dataset
from jobs.invariants import check_silver
from jobs.merge import (
    SILVER_DELETION_VECTORS,
    ensure_silver_table,
    latest_per_key,
    table_version,
    upsert_latest,
)
from jobs.session import build_spark

FIRST_RECEIPT = dt.datetime(2023, 7, 1, 7, 30)
SECONDS_PER_MONTH = 30.4 * 24 * 3600


def pseudonym(seed: Column, salt: str, present_share: float = 1.0) -> Column:
    """A 64-hex value shaped like silver's HMAC pseudonyms; null for the share of dossiers without one."""
    value = F.sha2(F.concat_ws("|", F.lit(salt), seed.cast("string")), 256)
    return F.when(F.abs(F.xxhash64(seed, F.lit(salt))) % 1000 < present_share * 1000, value)


def silver_dossiers(ids: DataFrame, months: int, rows: int, version_day: int) -> DataFrame:
    """Dossiers in the silver shape for the ids in `ids` (column `id`), received in id order over `months`."""
    span_s = months * SECONDS_PER_MONTH
    received = F.timestamp_seconds(
        F.lit(FIRST_RECEIPT.timestamp()) + (F.col("id") * F.lit(span_s / rows)).cast("long")
    )
    status = (F.abs(F.xxhash64("id", F.lit(version_day))) % 10 + 1).cast("int")
    finished = status.isin(9, 10)
    due = received + F.expr("INTERVAL 10 DAYS")
    finished_at = F.when(finished, received + F.expr("INTERVAL 8 DAYS"))
    commune = F.format_string("%05d", (F.col("id") % 91 * 7 + 25747).cast("int"))
    channel = (F.col("id") % 3 + 1).cast("int")
    code = F.format_string(
        "000.00.%02d.H12-%s-%08d", F.col("id") % 91, F.date_format(received, "yyMMdd"), "id"
    )
    updated = received + F.make_interval(days=F.lit(version_day))
    return ids.select(
        code.alias("dossier_code"),
        F.format_string("1.%06d", F.col("id") % 400).alias("procedure_code"),
        F.format_string("Thủ tục hành chính số %d", F.col("id") % 400).alias("procedure_name"),
        F.format_string("LV%02d", F.col("id") % 30).alias("field_code"),
        F.format_string("Lĩnh vực %d", F.col("id") % 30).alias("field_name"),
        channel.alias("channel"),
        F.lit(4).alias("online_level"),
        pseudonym(F.col("id") % 2_000_000, "name").alias("applicant_name_pseudonym"),
        F.lit(1).alias("applicant_id_type"),
        pseudonym(F.col("id") % 2_000_000, "id").alias("applicant_id_pseudonym"),
        F.lit(1).alias("applicant_type"),
        pseudonym(F.col("id") % 2_000_000, "email", 0.4).alias("applicant_email_pseudonym"),
        pseudonym(F.col("id") % 2_000_000, "phone", 0.9).alias("applicant_phone_pseudonym"),
        commune.alias("commune_code"),
        F.format_string("UBND xã %d", F.col("id") % 91).alias("handling_agency"),
        received.alias("submitted_at"),
        received.alias("received_at"),
        due.alias("due_at"),
        finished_at.alias("finished_at"),
        finished_at.alias("returned_at"),
        status.alias("status"),
        F.lit(0).alias("paid_online"),
        updated.alias("updated_at"),
        (channel == 2).alias("is_online"),
        finished.alias("is_finished"),
        (status == 7).alias("is_withdrawn"),
        F.trunc(received, "month").alias("received_month"),
        (finished & (finished_at <= due)).alias("finished_on_time"),
        F.format_string("cong-dvc/dossiers/%s/hoso.jsonl", F.date_format(updated, "yyyy-MM-dd")).alias(
            "_source_file"
        ),
        F.format_string("%064x", F.col("id") % 97).alias("_source_sha256"),
        F.col("id").alias("_source_row"),
        F.date_format(updated, "yyyy-MM-dd").alias("_delivery_date"),
        F.lit("bench").alias("_ingest_run_id"),
        F.array().cast("array<string>").alias("_dq_warnings"),
        F.current_timestamp().alias("_merged_at"),
    )


def day_batch(
    spark: SparkSession, rows: int, months: int, changed: int, new: int, old_share: float
) -> DataFrame:
    """Changed versions of `changed` stored dossiers, `new` new ones, and `changed` unchanged resends."""
    recent_from = int(rows * (1 - 2 / months))
    recent = int(changed * (1 - old_share))
    stride = max(1, (rows - recent_from) // max(recent, 1))
    changed_ids = (
        spark.range(recent)
        .select((F.lit(recent_from) + F.col("id") * stride).alias("id"))
        .unionByName(
            spark.range(changed - recent).select(
                (F.col("id") * (rows // max(changed - recent, 1)) + 1).alias("id")
            )
        )
    )
    updates = silver_dossiers(changed_ids.distinct(), months, rows, version_day=20)
    new_rows = silver_dossiers(spark.range(rows, rows + new), months, rows, version_day=0)
    resent_ids = spark.range(changed).select((F.col("id") * (rows // changed) + 3).alias("id"))
    resent = silver_dossiers(resent_ids, months, rows, version_day=0)
    return updates.unionByName(new_rows).unionByName(resent)


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    return round(time.perf_counter() - start, 1), result


def build_table(spark: SparkSession, path: str, rows: int, months: int) -> float:
    """The stored table, written in one go in the platform's silver layout; returns the seconds it took."""
    shutil.rmtree(path, ignore_errors=True)
    stored = silver_dossiers(spark.range(rows), months, rows, version_day=0)
    ensure_silver_table(spark, path, stored.schema, get_dataset("dossiers").contract)
    seconds, _ = timed(lambda: stored.write.format("delta").mode("append").save(path))
    return seconds


def fingerprint(spark: SparkSession, path: str) -> tuple[int, int]:
    """Row count and an order-independent sum of (key, version) hashes: equal tables, equal fingerprints."""
    row = (
        spark.read.format("delta")
        .load(path)
        .agg(F.count(F.lit(1)), F.sum(F.xxhash64("dossier_code", "updated_at").cast("decimal(38,0)")))
        .first()
    )
    return int(row[0]), int(row[1])


def merge_metrics(spark: SparkSession, path: str) -> dict[str, str]:
    last = DeltaTable.forPath(spark, path).history(1).first()
    keep = (
        "numSourceRows", "numTargetRowsUpdated", "numTargetRowsInserted", "numTargetRowsCopied",
        "numTargetFilesRemoved", "numTargetFilesAdded", "numTargetDeletionVectorsAdded", "scanTimeMs",
        "rewriteTimeMs",
    )  # fmt: skip
    return {k: last["operationMetrics"].get(k) for k in keep} if last["operation"] == "MERGE" else {}


def incremental(spark: SparkSession, path: str, batch: DataFrame, loaded: int, dvs: bool) -> dict[str, Any]:
    """Merge the batch into the table as loaded (version `loaded`), check it, merge the batch again."""
    contract = get_dataset("dossiers").contract
    table = DeltaTable.forPath(spark, path)
    if table_version(table) != loaded:
        table.restoreToVersion(loaded)
    enabled = str(dvs).lower()
    spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ('delta.enableDeletionVectors' = '{enabled}')")
    start = table_version(table)
    merge_s, outcome = timed(lambda: upsert_latest(spark, path, batch, contract))
    metrics = merge_metrics(spark, path)
    check_s, checks = timed(lambda: check_silver(spark, path, contract, start))
    again_s, again = timed(lambda: upsert_latest(spark, path, batch, contract))
    return {
        "incremental_merge_s": merge_s,
        "inserted": outcome.inserted,
        "updated": outcome.updated,
        "merge_metrics": metrics,
        "invariants_s": check_s,
        "invariant_failures": sum(c.failed for c in checks),
        "same_batch_again_s": again_s,
        "same_batch_again_committed": again.committed,
    }


def rebuild(spark: SparkSession, path: str, batch: DataFrame, before: int) -> float:
    contract = get_dataset("dossiers").contract
    rebuilt = f"{path}_rebuilt"
    shutil.rmtree(rebuilt, ignore_errors=True)
    stored = spark.read.format("delta").option("versionAsOf", before).load(path)
    newest = latest_per_key(stored.unionByName(batch), contract.business_key, contract.version_column)
    ensure_silver_table(spark, rebuilt, newest.schema, contract)
    seconds, _ = timed(lambda: newest.write.format("delta").mode("overwrite").save(rebuilt))
    return seconds


def machine() -> dict[str, str]:
    def run(*command: str) -> str:
        return subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()

    return {
        "nproc": run("nproc"),
        "free_g": run("free", "-g"),
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(),
        "cpu": next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            "unknown",
        ),  # fmt: skip
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--changed-share", type=float, default=0.01)
    parser.add_argument("--old-share", type=float, default=0.05)
    parser.add_argument("--new-rows", type=int, default=7_000)
    parser.add_argument("--work-dir", default="/tmp/govlake-bench")
    parser.add_argument("--driver-memory", default="6g")
    parser.add_argument("--shuffle-partitions", type=int, default=8)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    settings = Settings.from_env(
        spark_master="local[*]", driver_memory=args.driver_memory, shuffle_partitions=args.shuffle_partitions,
        lake_root=args.work_dir,
    )  # fmt: skip
    spark = build_spark(settings, app_name="govlake-bench-merge")
    changed = int(args.rows * args.changed_share)
    path = f"{args.work_dir}/silver_dossiers"
    results: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "machine": machine(),
        "rows": args.rows,
        "months": args.months,
        "changed_rows": changed,
        "new_rows": args.new_rows,
        "resent_unchanged_rows": changed,
        "layout": {
            "partitioned_by": list(get_dataset("dossiers").contract.silver_partition_by),
            "deletion_vectors": SILVER_DELETION_VECTORS,
        },
    }
    results["initial_load_s"] = build_table(spark, path, args.rows, args.months)
    loaded = table_version(DeltaTable.forPath(spark, path))
    results["files"] = DeltaTable.forPath(spark, path).detail().first()["numFiles"]
    recent = day_batch(spark, args.rows, args.months, changed, args.new_rows, old_share=0.0).cache()
    with_old = day_batch(spark, args.rows, args.months, changed, args.new_rows, args.old_share).cache()
    results["batch_rows"] = with_old.count()
    recent.count()

    results["rebuild_s"] = rebuild(spark, path, with_old, loaded)
    print(json.dumps({"rebuild_s": results["rebuild_s"]}), flush=True)
    scenarios = []
    for name, batch, dvs in (
        ("recent day", recent, SILVER_DELETION_VECTORS),
        (f"day with {args.old_share:.0%} old corrections", with_old, SILVER_DELETION_VECTORS),
        (f"day with {args.old_share:.0%} old corrections, deletion vectors on", with_old, True),
    ):
        run = {"scenario": name, "deletion_vectors": dvs, **incremental(spark, path, batch, loaded, dvs)}
        run["incremental_share_of_rebuild"] = round(run["incremental_merge_s"] / results["rebuild_s"], 3)
        scenarios.append(run)
        print(json.dumps(run, ensure_ascii=False), flush=True)
    results["scenarios"] = scenarios
    results["same_content_as_rebuild"] = fingerprint(spark, f"{path}_rebuilt") == fingerprint(spark, path)

    results["machine"]["load_average_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(markdown(results))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        target = args.out / f"merge_incremental-{results['date']}-{args.rows}.json"
        target.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
        print(f"wrote {target}")
    spark.stop()


def markdown(results: dict[str, Any]) -> str:
    lines = [
        f"{results['rows']:,} stored rows in {results['files']} files "
        f"(initial load {results['initial_load_s']} s); "
        f"batch {results['batch_rows']:,} rows ({results['changed_rows']:,} changed, {results['new_rows']:,} "
        f"new, {results['resent_unchanged_rows']:,} unchanged resends); rebuild {results['rebuild_s']} s",
        "",
        "| scenario | incremental merge s | merge / rebuild | files rewritten | invariants s "
        "| same batch again s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for run in results["scenarios"]:
        lines.append(
            f"| {run['scenario']} | {run['incremental_merge_s']} | {run['incremental_share_of_rebuild']} | "
            f"{run['merge_metrics'].get('numTargetFilesRemoved')} | {run['invariants_s']} | "
            f"{run['same_batch_again_s']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
