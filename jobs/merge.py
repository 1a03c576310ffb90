"""Silver merges: MERGE by business key where the record's own version decides, never arrival order.

The contract's `history` says how silver keeps a dataset: "latest" holds the newest version of each key
(`upsert_latest`, here); "scd2" keeps every state as a validity window (`jobs.scd2.upsert_scd2`).
`merge_into_silver` picks the right one. Every silver merge

- writes no table version when the batch changes nothing: a Delta MERGE whose source matches rows commits
  (and rewrites the matched files) even when no row changes, so the batch is first reduced to the rows that
  would change, and an empty remainder skips the MERGE;
- never deletes a silver row: a withdrawal or dissolution is a status kept with a flag (`contract.soft_end`);
- retries the whole read-merge when another writer committed first (optimistic concurrency).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from delta.tables import DeltaTable
from pyspark import StorageLevel
from pyspark.sql import DataFrame, Row, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.contracts import Contract, ContractError
from jobs.quality import DELIVERY_DATE

Result = TypeVar("Result")
CONFLICT_EXCEPTIONS = (
    "ConcurrentAppendException",
    "ConcurrentDeleteReadException",
    "ConcurrentDeleteDeleteException",
    "ConcurrentTransactionException",
    "ConcurrentWriteException",
    "MetadataChangedException",
    "ProtocolChangedException",
    "DELTA_CONCURRENT",
)
STORED_PREFIX = "_stored_"  # columns the change filter carries from the stored row, dropped before writing
# Up to this many batch rows, the batch's keys are broadcast to find their stored versions (a day's delivery);
# beyond it (a backfill) both sides are shuffled.
BROADCAST_KEYS_MAX = 1_000_000
# Off: delta-rs (how analysts read tables without Spark) cannot read deletion vectors. So a MERGE rewrites
# every file holding an updated row (benchmarks/README.md has what that costs).
SILVER_DELETION_VECTORS = False


@dataclass(frozen=True)
class MergeOutcome:
    table_version: int
    inserted: int
    updated: int
    read_version: int | None = None  # the version the merge compared the batch with (None: table was new)

    @property
    def changed(self) -> bool:
        return self.inserted + self.updated > 0

    @property
    def committed(self) -> bool:
        """Whether this merge wrote a table version (a batch that changes nothing writes none)."""
        return self.read_version is None or self.table_version != self.read_version

    @classmethod
    def from_metrics(cls, table: DeltaTable, metrics: Row | None, read_version: int) -> MergeOutcome:
        """What a MERGE just committed, from the metrics row `execute()` returned."""
        return cls(
            table_version=table_version(table),
            inserted=int(metrics["num_inserted_rows"]) if metrics else 0,
            updated=int(metrics["num_updated_rows"]) if metrics else 0,
            read_version=read_version,
        )


class SilverSchemaError(ContractError):
    """A batch cannot go into its silver table: a key is missing or a column has an incompatible type."""


class TableMovedOn(RuntimeError):
    """Another writer committed between a merge's read of the table and its MERGE: redo the read-merge."""


def is_write_conflict(error: BaseException) -> bool:
    if isinstance(error, TableMovedOn):
        return True
    text = f"{type(error).__name__}: {error}"
    return any(marker in text for marker in CONFLICT_EXCEPTIONS)


def ensure_unchanged_since(table: DeltaTable, read_version: int) -> None:
    """The changes were worked out from `read_version`; Delta only checks conflicts from the MERGE's own
    read on, so a commit in between must send the merge round again."""
    latest = table_version(table)
    if latest != read_version:
        raise TableMovedOn(f"table moved from version {read_version} to {latest} during the merge")


def retry_on_conflict(action: Callable[[], Result], attempts: int = 5, first_delay_s: float = 0.5) -> Result:
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
    """One row per key: the newest version; ties go to the earliest delivery date (a stored version is never
    overwritten by an equal one delivered later, so several dates merged at once end as if merged in turn),
    then to the later file, then to the later record in it."""
    delivered_first = [F.col(DELIVERY_DATE).asc_nulls_last()] if DELIVERY_DATE in df.columns else []
    newest_first = Window.partitionBy(*key).orderBy(
        F.col(version).desc_nulls_last(),
        *delivered_first,
        F.col("_source_file").desc(),
        F.col("_source_row").desc(),
    )
    return df.withColumn("_rank", F.row_number().over(newest_first)).where("_rank = 1").drop("_rank")


def rows_that_change_silver(
    source: DataFrame,
    stored: DataFrame,
    key: Sequence[str],
    version: str,
    partition_columns: Sequence[str],
    broadcast_keys: bool = False,
) -> DataFrame:
    """Source rows whose key is not stored yet or whose version is newer than the stored one.

    Each row carries `_stored_row` (true when the key is stored) and the stored row's partition values as
    `_stored_<column>`, so the MERGE can be told which partitions hold the rows it will update, even when an
    update moves a row to another partition. With `broadcast_keys` the table is first narrowed to the
    source's keys by a broadcast semi-join, so its key column is scanned but never shuffled.
    """
    stored_side = stored.select(
        *key,
        F.lit(True).alias(f"{STORED_PREFIX}row"),
        F.col(version).alias(f"{STORED_PREFIX}version"),
        *[F.col(p).alias(f"{STORED_PREFIX}{p}") for p in partition_columns],
    )
    if broadcast_keys:
        stored_side = stored_side.join(F.broadcast(source.select(*key)), list(key), "left_semi")
    is_new = F.col(f"{STORED_PREFIX}row").isNull()
    return (
        source.join(stored_side, list(key), "left")
        .where(is_new | (F.col(version) > F.col(f"{STORED_PREFIX}version")))
        .drop(f"{STORED_PREFIX}version")
    )


def without_stored_columns(df: DataFrame) -> DataFrame:
    return df.drop(*[c for c in df.columns if c.startswith(STORED_PREFIX)])


def conform_to_table(batch: DataFrame, table_schema: T.StructType, contract: Contract) -> DataFrame:
    """The batch in the silver table's column order and names.

    Columns silver does not have (a source column added upstream) are left out; a nullable silver column the
    batch lacks is null. A missing key or version column, or a column whose type differs from silver's,
    raises SilverSchemaError naming the column and both types: MERGE would otherwise cast the values.
    """
    batch_types = {f.name: f.dataType for f in batch.schema.fields}
    required = {*contract.business_key, contract.version_column}
    problems = []
    columns = []
    for target in table_schema.fields:
        found = batch_types.get(target.name)
        if found is None:
            if target.name in required or not target.nullable:
                problems.append(f"column {target.name!r} ({target.dataType.simpleString()}) is missing")
            columns.append(F.lit(None).cast(target.dataType).alias(target.name))
        elif found != target.dataType:
            problems.append(
                f"column {target.name!r} is {found.simpleString()}; silver expects "
                f"{target.dataType.simpleString()}"
            )
        else:
            columns.append(F.col(f"`{target.name}`"))
    if problems:
        raise SilverSchemaError(f"silver.{contract.dataset}: " + "; ".join(problems))
    return batch.select(*columns)


def silver_constraints(contract: Contract) -> dict[str, str]:
    """Delta CHECK constraints every write to the dataset's silver table must satisfy."""
    constraints = {
        f"{column}_not_null": f"`{column}` IS NOT NULL"
        for column in (*contract.business_key, contract.version_column)
    }
    if contract.history == "scd2":
        constraints |= {
            "valid_from_not_null": "valid_from IS NOT NULL",
            "valid_window_not_empty": "valid_to IS NULL OR valid_to > valid_from",
            "current_row_is_open": "is_current = (valid_to IS NULL)",
        }
    return constraints


def ensure_silver_table(spark: SparkSession, path: str, schema: T.StructType, contract: Contract) -> None:
    """Create the silver table if missing (change data feed on, deletion vectors, partitions, constraints).

    Safe to call before every merge and from concurrent writers: what exists is left as it is and a missing
    constraint (say, a run stopped between creating the table and constraining it) is added.
    """

    def create_and_constrain() -> None:
        if not DeltaTable.isDeltaTable(spark, path):
            builder = (
                DeltaTable.createIfNotExists(spark)
                .location(path)
                .addColumns(schema)
                .property("delta.enableChangeDataFeed", "true")  # gold builds read silver incrementally
                .property("delta.enableDeletionVectors", str(SILVER_DELETION_VECTORS).lower())
                .comment(f"{contract.title}. Business key: {', '.join(contract.business_key)}")
            )
            partitions = [c for c in contract.silver_partition_by if c in schema.names]
            if partitions:
                builder = builder.partitionedBy(*partitions)
            builder.execute()
        properties = table_properties(DeltaTable.forPath(spark, path))
        table = f"delta.`{_quoted_path(path)}`"
        for name, expression in silver_constraints(contract).items():
            if f"delta.constraints.{name}" not in properties:
                spark.sql(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({expression})")

    retry_on_conflict(create_and_constrain)


def _jvm(table: DeltaTable) -> Any:
    return table._spark._jvm  # type: ignore[attr-defined,union-attr]


def table_snapshot(table: DeltaTable) -> Any:
    """The table's latest snapshot (the JVM object), read from its log on the driver.

    `history(1)` and `detail()` run a Spark job each (about half a second here) and a merge asks several
    times; the snapshot answers version, properties and partitioning without one.
    """
    none = _jvm(table).scala.Option.empty()
    # DeltaLog.update(stalenessAcceptable, checkIfUpdatedSinceTs, catalogTableOpt): Scala defaults are not
    # visible through py4j, so all three are given.
    return table._jdt.deltaLog().update(False, none, none)  # type: ignore[attr-defined]


def _as_python(table: DeltaTable, scala_collection: Any) -> Any:
    return _jvm(table).scala.jdk.javaapi.CollectionConverters.asJava(scala_collection)


def table_version(table: DeltaTable) -> int:
    return int(table_snapshot(table).version())


def table_properties(table: DeltaTable) -> dict[str, str]:
    """The table's properties (`TBLPROPERTIES`, including its CHECK constraints as `delta.constraints.*`)."""
    return dict(_as_python(table, table_snapshot(table).metadata().configuration()))


def partition_columns(table: DeltaTable) -> list[str]:
    return list(_as_python(table, table_snapshot(table).metadata().partitionColumns()))


def sql_literal(value: Any) -> str:
    """A Spark SQL literal for a partition value the driver read back from a small aggregate."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP'{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE'{value.isoformat()}'"
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def partition_filter(alias: str, values_by_column: Mapping[str, Iterable[Any]]) -> list[str]:
    """`alias.p IN (...)` per partition column: the MERGE reads and rewrites only those partitions."""
    conditions = []
    for column, values in values_by_column.items():
        distinct = sorted({v for v in values if v is not None}, key=str)
        has_null = any(v is None for v in values)
        parts = [f"{alias}.`{column}` IN ({', '.join(sql_literal(v) for v in distinct)})"] if distinct else []
        if has_null:
            parts.append(f"{alias}.`{column}` IS NULL")
        conditions.append("(" + " OR ".join(parts or ["FALSE"]) + ")")
    return conditions


def key_condition(key: Sequence[str], target: str = "target", source: str = "source") -> list[str]:
    return [f"{target}.`{k}` = {source}.`{k}`" for k in key]


def upsert_latest(spark: SparkSession, path: str, batch: DataFrame, contract: Contract) -> MergeOutcome:
    """MERGE the newest version of each key; an older or equal version never overwrites the stored one.

    Only rows that change silver reach the MERGE (one join with the stored key, version and partition
    columns); when none remain no version is written. On a partitioned table the MERGE condition names the
    partitions that hold the keys being updated and those the rows go to, so it reads only those. Reading
    the partitions new rows go to as well makes a concurrent writer's insert of the same key there a
    conflict (and a retry), never a duplicate.
    """
    if contract.history != "latest":
        raise ContractError(
            f"silver.{contract.dataset} keeps {contract.history} history: merge with merge_into_silver"
        )
    check_batch_columns(batch, contract)
    key, version = contract.business_key, contract.version_column
    ensure_silver_table(spark, path, batch.schema, contract)
    source = latest_per_key(batch, key, version).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        source_rows = source.count()
        if source_rows == 0:
            version_now = table_version(DeltaTable.forPath(spark, path))
            return MergeOutcome(version_now, 0, 0, version_now)
        broadcast_keys = source_rows <= BROADCAST_KEYS_MAX
        return retry_on_conflict(lambda: _merge_changed_rows(spark, path, source, contract, broadcast_keys))
    finally:
        source.unpersist()


def _merge_changed_rows(
    spark: SparkSession, path: str, source: DataFrame, contract: Contract, broadcast_keys: bool
) -> MergeOutcome:
    """One attempt of the read-merge: rows that change silver, then the MERGE (see upsert_latest)."""
    key, version = contract.business_key, contract.version_column
    table = DeltaTable.forPath(spark, path)
    read_version = table_version(table)
    stored = spark.read.format("delta").option("versionAsOf", read_version).load(path)
    partitions = partition_columns(table)
    conformed = conform_to_table(source, stored.schema, contract)
    changes = rows_that_change_silver(
        conformed, stored, key, version, partitions, broadcast_keys=broadcast_keys
    ).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        # One small job: how many rows change, and the partitions they come from and go to.
        summary = changes.agg(F.count(F.lit(1)).alias("rows"), *_partition_values(partitions)).first()
        if summary is None or summary["rows"] == 0:
            return MergeOutcome(read_version, 0, 0, read_version)
        touched = {p: [*summary[f"_to_{p}"], *summary[f"_from_{p}"], *([None] * summary[f"_null_{p}"])]
                   for p in partitions}  # fmt: skip
        condition = " AND ".join([*key_condition(key), *partition_filter("target", touched)])
        ensure_unchanged_since(table, read_version)
        metrics = (
            table.alias("target")
            .merge(without_stored_columns(changes).alias("source"), condition)
            .whenMatchedUpdateAll(condition=f"source.`{version}` > target.`{version}`")
            .whenNotMatchedInsertAll()
            .execute()
            .first()
        )
        return MergeOutcome.from_metrics(table, metrics, read_version)
    finally:
        changes.unpersist()


def merge_into_silver(spark: SparkSession, path: str, batch: DataFrame, contract: Contract) -> MergeOutcome:
    """The silver merge the contract's history asks for: latest-wins upsert or SCD type 2 windows."""
    if contract.history == "scd2":
        from jobs.scd2 import upsert_scd2  # jobs.scd2 builds on this module's helpers

        return upsert_scd2(spark, path, batch, contract)
    return upsert_latest(spark, path, batch, contract)


def _partition_values(partitions: Sequence[str]) -> list[Any]:
    stored_row = F.col(f"{STORED_PREFIX}row").isNotNull()
    aggregates = []
    for p in partitions:
        stored_value = F.col(f"{STORED_PREFIX}{p}")
        is_null = F.col(p).isNull() | (stored_row & stored_value.isNull())
        aggregates += [
            F.collect_set(p).alias(f"_to_{p}"),
            F.collect_set(stored_value).alias(f"_from_{p}"),
            F.max(is_null).cast("int").alias(f"_null_{p}"),
        ]
    return aggregates


def check_batch_columns(batch: DataFrame, contract: Contract) -> None:
    """The batch has the key and version columns, and the flag its contract's soft end derives."""
    needed = [*contract.business_key, contract.version_column]
    missing = [c for c in needed if c not in batch.columns]
    if missing:
        listed = ", ".join(map(repr, missing))
        raise SilverSchemaError(f"silver.{contract.dataset}: the batch lacks key/version column(s) {listed}")
    if contract.soft_end is not None and contract.soft_end.flag_column not in batch.columns:
        raise SilverSchemaError(
            f"silver.{contract.dataset}: the batch lacks {contract.soft_end.flag_column!r}, the flag that "
            f"marks records {contract.soft_end.meaning or 'that ended'}; the dataset's clean() must derive it"
        )


def _quoted_path(path: str) -> str:
    return path.replace("`", "``")
