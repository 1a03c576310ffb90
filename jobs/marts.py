"""Gold marts and the one mechanism that keeps them up to date incrementally from silver's change data feed.

A mart is a `MartSpec`: the silver datasets it reads, how a change to one of them maps to the calendar
months whose gold rows it can move (`touched_months`), how to build the rows of given months
(`build`), and the predicate selecting exactly those rows in gold (`replace_where`). `refresh_mart`

- records, as gold table properties `govlake.source.silver.<dataset>.version`, the silver version of each
  source the mart reflects;
- on a refresh reads each source's change feed from the recorded version + 1 to the current one, unions the
  months the changes touch, rebuilds those months from silver and overwrites them in gold with
  `replaceWhere` (one commit), then records the new versions (a second commit). A run stopped in between
  leaves the old versions recorded: the next build recomputes the same months from silver (absolute
  values, not increments), so gold converges;
- writes nothing when no source changed, and rebuilds in full when the mart is new, a source version is not
  recorded, a source has no change feed or its history from the recorded version is no longer kept, or
  when asked (`full=True`). An incremental build gives the same table as a full rebuild.

The marts themselves are listed in `jobs.mart_registry.MARTS`. This module also holds
`fct_dossiers_by_commune_month`, the dossier throughput mart; `jobs.commune_month` holds the cross-sector one.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from delta.tables import DeltaTable
from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.lake import Lake, gold, silver
from jobs.merge import retry_on_conflict, table_properties, table_version

log = logging.getLogger(__name__)

MONTH = "month"


def source_version_property(dataset: str) -> str:
    """The gold table property holding the version of `silver.<dataset>` the mart reflects."""
    return f"govlake.source.silver.{dataset}.version"


@dataclass(frozen=True)
class MartSpec:
    """A gold mart the generic builder (`refresh_mart`) keeps up to date; see the module docstring."""

    name: str  # gold table name, e.g. "commune_month"
    sources: tuple[str, ...]  # silver dataset names it reads
    # (dataset, change-feed rows of that silver table: pre- and post-images) -> DataFrame with one DateType
    # column "month": the first day of each month whose gold rows those changes can move.
    touched_months: Callable[[str, DataFrame], DataFrame]
    # (silver DataFrames at the versions being built, by dataset; months to recompute, or None = all)
    # -> the gold rows of exactly those months (all rows when None).
    build: Callable[[Mapping[str, DataFrame], list[dt.date] | None], DataFrame]
    # months -> SQL predicate selecting exactly the gold rows `build` recomputes for them.
    replace_where: Callable[[list[dt.date]], str]
    description: str  # one line for `govlake tables --describe`
    measures: Mapping[str, str]  # column -> definition (the data dictionary)
    partition_by: tuple[str, ...] = ()
    # Measures that carry forward in time (stocks at month end: dossiers in process, active enterprises):
    # a change in month m can move every later month, so the builder recomputes every month from the
    # earliest touched one through the latest touched one or gold's latest month, whichever is later.
    carries_forward: bool = False
    # Months moved through another source: (dataset, change rows, silver DataFrames at the versions being
    # built) -> DataFrame with one DateType column "month". E.g. a dossier moving to another commune moves
    # the fee revenue of its payments, in the months they were paid.
    related_months: Callable[[str, DataFrame, Mapping[str, DataFrame]], DataFrame] | None = None
    columns: Mapping[str, str] = field(default_factory=dict)  # key columns -> definition


@dataclass(frozen=True)
class MartRefresh:
    table_version: int
    source_versions: Mapping[str, int]  # silver dataset -> version the mart now reflects
    mode: str  # full | incremental | unchanged
    months: tuple[dt.date, ...] = ()  # months rewritten by an incremental build
    rows_written: int = 0
    reason: str = ""  # why a build was full


def months_predicate(months: Sequence[dt.date], column: str = MONTH) -> str:
    """`month IN (DATE'…', …)`: the replaceWhere predicate of month-grained marts."""
    if not months:
        return "FALSE"
    dates = ", ".join(f"DATE'{m.isoformat()}'" for m in sorted(set(months)))
    return f"`{column}` IN ({dates})"


def month_of(column: str | Column) -> Column:
    """First day of the calendar month of a timestamp or date (timestamps read in Vietnam time)."""
    return F.trunc(F.col(column) if isinstance(column, str) else column, "month")


def months_between_inclusive(first: dt.date, last: dt.date) -> list[dt.date]:
    months, current = [], dt.date(first.year, first.month, 1)
    while current <= last:
        months.append(current)
        current = dt.date(current.year + current.month // 12, current.month % 12 + 1, 1)
    return months


def forward_closure(touched: Sequence[dt.date], gold_latest: dt.date | None) -> list[dt.date]:
    """Every month a change in `touched` can move when measures carry forward.

    From the earliest touched month through the later of the latest touched month and gold's latest month
    (stocks run through the mart's last month, which may move back). When the changes reach past gold's
    latest month, the months between are new for every open stock, so they start right after it.
    """
    first, last = min(touched), max(touched)
    if gold_latest is not None:
        if last > gold_latest:
            first = min(first, months_between_inclusive(gold_latest, last)[1])
        last = max(last, gold_latest)
    return months_between_inclusive(first, last)


def refresh_mart(spark: SparkSession, lake: Lake, spec: MartSpec, full: bool = False) -> MartRefresh:
    """Bring a gold mart up to the current versions of its silver sources (incrementally, or in full)."""
    gold_path = lake.table_path(gold(spec.name))

    def refresh() -> MartRefresh:
        current = {ds: _version(spark, lake.table_path(silver(ds))) for ds in spec.sources}
        recorded = recorded_versions(spark, gold_path, spec.sources)
        reason = _why_full(spark, lake, spec, recorded, current, full)
        if reason is None and recorded == current:
            return MartRefresh(_version(spark, gold_path), current, "unchanged")
        if reason is None:
            try:
                return _incremental(spark, lake, spec, recorded, current)  # type: ignore[arg-type]
            except AnalysisException as error:  # e.g. change files removed by VACUUM
                reason = f"change feed unreadable ({str(error).splitlines()[0]})"
        log.info("gold.%s: full rebuild: %s", spec.name, reason)
        return _rebuild(spark, lake, spec, current, str(reason))

    return retry_on_conflict(refresh)


def _why_full(
    spark: SparkSession,
    lake: Lake,
    spec: MartSpec,
    recorded: dict[str, int] | None,
    current: dict[str, int],
    full: bool,
) -> str | None:
    if full:
        return "asked for"
    if recorded is None:
        return "gold table does not exist yet"
    for dataset in spec.sources:
        built_from, now = recorded.get(dataset), current[dataset]
        if built_from is None:
            return f"gold has no record of the silver.{dataset} version it reflects"
        if built_from > now:
            return f"gold reflects silver.{dataset} version {built_from}, newer than silver's {now}"
        if built_from == now:
            continue
        table = DeltaTable.forPath(spark, lake.table_path(silver(dataset)))
        if table_properties(table).get("delta.enableChangeDataFeed") != "true":
            return f"silver.{dataset} has no change data feed"
        kept = table.history().agg(F.min("version").alias("oldest")).first()
        oldest = kept["oldest"] if kept else None
        if oldest is None or oldest > built_from + 1:
            return f"silver.{dataset} history from version {built_from + 1} is no longer kept"
    return None


def silver_frames(spark: SparkSession, lake: Lake, versions: Mapping[str, int]) -> dict[str, DataFrame]:
    """Each source silver table as of the given version."""
    return {
        dataset: spark.read.format("delta")
        .option("versionAsOf", version)
        .load(lake.table_path(silver(dataset)))
        for dataset, version in versions.items()
    }


def _incremental(
    spark: SparkSession, lake: Lake, spec: MartSpec, recorded: dict[str, int], current: dict[str, int]
) -> MartRefresh:
    gold_path = lake.table_path(gold(spec.name))
    frames = silver_frames(spark, lake, current)
    touched: DataFrame | None = None
    for dataset in spec.sources:
        if recorded[dataset] == current[dataset]:
            continue
        changes = (
            spark.read.format("delta")
            .option("readChangeFeed", "true")
            .option("startingVersion", recorded[dataset] + 1)
            .option("endingVersion", current[dataset])
            .load(lake.table_path(silver(dataset)))
        )
        parts = [spec.touched_months(dataset, changes).select(F.col(MONTH).cast("date").alias(MONTH))]
        if spec.related_months is not None:
            related = spec.related_months(dataset, changes, frames)
            parts.append(related.select(F.col(MONTH).cast("date").alias(MONTH)))
        for part in parts:
            touched = part if touched is None else touched.unionByName(part)
    months = (
        sorted({r[MONTH] for r in touched.where(F.col(MONTH).isNotNull()).distinct().collect()})
        if touched is not None
        else []
    )  # a few dates
    if months and spec.carries_forward:
        months = forward_closure(months, _latest_month(spark, gold_path))
    rows_written = 0
    if months:
        (
            spec.build(frames, months)
            .write.format("delta")
            .mode("overwrite")
            .option("replaceWhere", spec.replace_where(months))
            .save(gold_path)
        )
        rows_written = _rows_written(spark, gold_path)
    version = _record_source_versions(spark, gold_path, current)
    return MartRefresh(version, current, "incremental", tuple(months), rows_written)


def _rebuild(
    spark: SparkSession, lake: Lake, spec: MartSpec, current: dict[str, int], reason: str
) -> MartRefresh:
    gold_path = lake.table_path(gold(spec.name))
    writer = (
        spec.build(silver_frames(spark, lake, current), None)
        .write.format("delta")
        .mode("overwrite")
        .option("overwriteSchema", "true")
    )
    if spec.partition_by:
        writer = writer.partitionBy(*spec.partition_by)
    writer.save(gold_path)
    rows_written = _rows_written(spark, gold_path)
    version = _record_source_versions(spark, gold_path, current)
    return MartRefresh(version, current, "full", (), rows_written, reason)


def _record_source_versions(spark: SparkSession, gold_path: str, versions: Mapping[str, int]) -> int:
    # A commit after the data's: a build stopped before it is repeated from the old versions and converges.
    table = gold_path.replace("`", "``")
    assignments = ", ".join(f"'{source_version_property(ds)}' = '{v}'" for ds, v in sorted(versions.items()))
    spark.sql(f"ALTER TABLE delta.`{table}` SET TBLPROPERTIES ({assignments})")
    return _version(spark, gold_path)


def recorded_versions(spark: SparkSession, gold_path: str, sources: Sequence[str]) -> dict[str, int] | None:
    """Source versions recorded on the gold table (None when the table does not exist)."""
    if not DeltaTable.isDeltaTable(spark, gold_path):
        return None
    properties = table_properties(DeltaTable.forPath(spark, gold_path))
    return {
        ds: int(properties[source_version_property(ds)])
        for ds in sources
        if source_version_property(ds) in properties
    }


def _rows_written(spark: SparkSession, gold_path: str) -> int:
    last = DeltaTable.forPath(spark, gold_path).history(1).select("operationMetrics").first()
    metrics = (last["operationMetrics"] if last else None) or {}
    return int(metrics.get("numOutputRows", 0))


def _latest_month(spark: SparkSession, gold_path: str) -> dt.date | None:
    latest = spark.read.format("delta").load(gold_path).agg(F.max(MONTH).alias("latest")).first()
    return latest["latest"] if latest else None


def _version(spark: SparkSession, path: str) -> int:
    return table_version(DeltaTable.forPath(spark, path))


def source_versions_recorded(spark: SparkSession, gold_path: str) -> dict[str, int]:
    """Every `govlake.source.silver.<dataset>.version` property of a gold table, by dataset."""
    properties = table_properties(DeltaTable.forPath(spark, gold_path))
    prefix, suffix = "govlake.source.silver.", ".version"
    return {
        key[len(prefix) : -len(suffix)]: int(value)
        for key, value in properties.items()
        if key.startswith(prefix) and key.endswith(suffix)
    }


# ---------------------------------------------------------------------------------------------------------
# gold.fct_dossiers_by_commune_month: dossier throughput per pre-2025 commune and calendar month.

DOSSIERS_BY_COMMUNE_MONTH = "fct_dossiers_by_commune_month"
SOURCE_VERSION_PROPERTY = source_version_property("dossiers")
MART_KEY = ("commune_code", MONTH)
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
    return month_of("received_at")


def finished_month() -> Column:
    return month_of("finished_at")


def is_counted_finished() -> Column:
    return F.col("is_finished") & F.col("finished_at").isNotNull()


def received_counts(dossiers: DataFrame) -> DataFrame:
    return (
        dossiers.where(F.col("received_at").isNotNull())
        .groupBy("commune_code", received_month().alias(MONTH))
        .agg(
            F.count(F.lit(1)).alias("received"),
            F.sum(F.col("is_online").cast("long")).alias("received_online"),
        )
    )


def finished_counts(dossiers: DataFrame) -> DataFrame:
    return (
        dossiers.where(is_counted_finished())
        .groupBy("commune_code", finished_month().alias(MONTH))
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


def dossiers_by_commune_month(dossiers: DataFrame, months: Sequence[dt.date] | None = None) -> DataFrame:
    """One row per pre-2025 commune and calendar month (Vietnam time) with dossier throughput measures.

    With `months`, only those months' rows; receipts are then read from silver's `received_month`
    partitions when it has them, so other months' files are skipped.
    """
    if months is None:
        return with_shares(received_counts(dossiers), finished_counts(dossiers))
    by_receipt = F.col("received_month") if "received_month" in dossiers.columns else received_month()
    return with_shares(
        received_counts(dossiers.where(by_receipt.isin(*months))),
        finished_counts(dossiers.where(finished_month().isin(*months))),
    )


def dossier_months_touched(dataset: str, changed_dossiers: DataFrame) -> DataFrame:
    """Months whose throughput changed dossier rows can move: both images' receipt and finish months.

    Given pre- and post-images, a dossier that moved (another month, commune or status) touches both the
    months it left and those it joined.
    """
    received = changed_dossiers.where(F.col("received_at").isNotNull()).select(received_month().alias(MONTH))
    finished = changed_dossiers.where(is_counted_finished()).select(finished_month().alias(MONTH))
    return received.unionByName(finished).distinct()


def _build_dossiers_by_commune_month(
    frames: Mapping[str, DataFrame], months: list[dt.date] | None
) -> DataFrame:
    return dossiers_by_commune_month(frames["dossiers"], months)


DOSSIERS_BY_COMMUNE_MONTH_MART = MartSpec(
    name=DOSSIERS_BY_COMMUNE_MONTH,
    sources=("dossiers",),
    touched_months=dossier_months_touched,
    build=_build_dossiers_by_commune_month,
    replace_where=months_predicate,
    description="Dossier throughput (received, finished, on time) per pre-2025 commune and calendar month.",
    measures=MEASURES,
    columns={
        "commune_code": "pre-2025 GSO commune code of the dossier (MaXa)",
        MONTH: "first day of the calendar month, Vietnam time",
    },
)
