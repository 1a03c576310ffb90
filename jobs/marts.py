"""Gold marts: cross-sector tables analysts query. Each measure's definition sits next to its code."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

DOSSIERS_BY_COMMUNE_MONTH = "fct_dossiers_by_commune_month"

MEASURES = {
    "received": "dossiers whose received_at (NgayTiepNhan) falls in the month",
    "received_online": "of those, dossiers submitted online (KenhThucHien = 2)",
    "finished": "dossiers finished (status 9 or 10) whose finished_at falls in the month",
    "finished_on_time": "of those, finished no later than due_at (NgayHenTra)",
    "online_share": "received_online / received (null when nothing was received)",
    "on_time_share": "finished_on_time / finished (null when nothing finished)",
}


def dossiers_by_commune_month(dossiers: DataFrame) -> DataFrame:
    """One row per pre-2025 commune and calendar month (Vietnam time) with dossier throughput measures."""
    received = (
        dossiers.where(F.col("received_at").isNotNull())
        .groupBy("commune_code", F.trunc("received_at", "month").alias("month"))
        .agg(
            F.count(F.lit(1)).alias("received"),
            F.sum(F.col("is_online").cast("long")).alias("received_online"),
        )
    )
    finished = (
        dossiers.where(F.col("is_finished") & F.col("finished_at").isNotNull())
        .groupBy("commune_code", F.trunc("finished_at", "month").alias("month"))
        .agg(
            F.count(F.lit(1)).alias("finished"),
            F.sum(F.coalesce(F.col("finished_on_time"), F.lit(False)).cast("long")).alias("finished_on_time"),
        )
    )
    counts = ["received", "received_online", "finished", "finished_on_time"]
    return (
        received.join(finished, ["commune_code", "month"], "full_outer")
        .fillna(0, subset=counts)
        .withColumns(
            {
                "online_share": F.when(F.col("received") > 0, F.col("received_online") / F.col("received")),
                "on_time_share": F.when(F.col("finished") > 0, F.col("finished_on_time") / F.col("finished")),
            }
        )
        .select("commune_code", "month", *counts, "online_share", "on_time_share")
    )
