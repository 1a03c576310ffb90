"""SCD type 2 silver tables: every state of a key's tracked columns as a window valid_from..valid_to.

A window opens at the version (updated_at) of the record that brought a new state of the tracked columns
and closes where the key's next window opens; the last one is open (valid_to null) and current. Columns the
contract does not track are carried from the record that opened the window.

A batch re-derives the windows of the keys it touches, on the executors: the stored windows of those keys
and the batch's records are put in version order with window functions, and only the rows that differ from
what is stored are merged. So

- a record whose tracked values equal the state before it opens nothing (an unchanged snapshot, a resend);
- a late record (older than the current window) that brings a new state is slotted in where it belongs:
  the window before it now ends at its version, and it ends where the next stored window starts;
- stored windows are never deleted or rewritten, only closed or shortened (valid_to, is_current); so a
  late record whose state equals the window after it still opens its own window, next to an equal one;
- for one key and version the stored window wins over a record arriving again; within a batch the later
  file, then the later record, wins (as in latest-wins silver).
"""

from __future__ import annotations

import datetime as dt

from delta.tables import DeltaTable
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.contracts import Contract
from jobs.lake import Lake, silver
from jobs.merge import (
    MergeOutcome,
    SilverSchemaError,
    check_batch_columns,
    conform_to_table,
    ensure_silver_table,
    ensure_unchanged_since,
    key_condition,
    retry_on_conflict,
    table_version,
)

VALID_FROM, VALID_TO, IS_CURRENT = "valid_from", "valid_to", "is_current"
WINDOW_COLUMNS = (VALID_FROM, VALID_TO, IS_CURRENT)
_STORED = "_window_stored"
_STORED_VALID_TO = "_window_stored_valid_to"
_STORED_IS_CURRENT = "_window_stored_is_current"
_HELPERS = (_STORED, _STORED_VALID_TO, _STORED_IS_CURRENT)


def with_open_windows(batch: DataFrame, version: str) -> DataFrame:
    """Batch records in the SCD2 shape, each as if it opened a window at its own version."""
    return batch.withColumns(
        {
            VALID_FROM: F.col(version),
            VALID_TO: F.lit(None).cast(T.TimestampType()),
            IS_CURRENT: F.lit(True),
        }
    )


def tracked_state(contract: Contract) -> Column:
    """The values whose change opens a window (struct equality treats two nulls as equal)."""
    return F.struct(*[F.col(f"`{c}`") for c in contract.tracked_columns])


def rederive_windows(stored: DataFrame, batch: DataFrame, contract: Contract) -> DataFrame:
    """All windows of the keys in `batch`, from their stored windows and the batch's records.

    `stored` is the silver table, `batch` the new records in the same columns (see with_open_windows).
    Returns one row per window with valid_from/valid_to/is_current recomputed, plus the stored row's
    valid_to and is_current (null for a window the batch opens) so window_changes can keep what differs.
    """
    key, version = list(contract.business_key), contract.version_column
    history = stored.join(batch.select(*key).distinct(), key, "left_semi")
    candidates = history.withColumns(
        {_STORED: F.lit(True), _STORED_VALID_TO: F.col(VALID_TO), _STORED_IS_CURRENT: F.col(IS_CURRENT)}
    ).unionByName(
        batch.withColumns(
            {
                _STORED: F.lit(False),
                _STORED_VALID_TO: F.lit(None).cast(T.TimestampType()),
                _STORED_IS_CURRENT: F.lit(None).cast(T.BooleanType()),
            }
        )
    )
    one_per_version = Window.partitionBy(*key, version).orderBy(
        F.col(_STORED).desc(), F.col("_source_file").desc_nulls_last(), F.col("_source_row").desc_nulls_last()
    )
    in_version_order = Window.partitionBy(*key).orderBy(version)
    state = tracked_state(contract)
    previous_state = F.lag(state).over(in_version_order)
    opens_window = F.col(_STORED) | previous_state.isNull() | ~state.eqNullSafe(previous_state)
    windows = (
        candidates.withColumn("_rank", F.row_number().over(one_per_version))
        .where("_rank = 1")
        .withColumn("_opens", opens_window)
        .where("_opens")
        .drop("_rank", "_opens")
    )
    next_start = F.lead(version).over(in_version_order)
    return windows.withColumns(
        {VALID_FROM: F.col(version), VALID_TO: next_start, IS_CURRENT: next_start.isNull()}
    )


def window_changes(windows: DataFrame) -> DataFrame:
    """Windows to write: those a batch opened, and stored ones whose end moved (closed or shortened)."""
    stored = F.col(_STORED)
    moved = ~F.col(VALID_TO).eqNullSafe(F.col(_STORED_VALID_TO)) | ~F.col(IS_CURRENT).eqNullSafe(
        F.col(_STORED_IS_CURRENT)
    )
    return windows.where(~stored | moved)


def as_of(history: DataFrame, moment: Column) -> DataFrame:
    """The rows of an SCD2 table whose window contains `moment` (a timestamp column or literal)."""
    return history.where(
        (F.col(VALID_FROM) <= moment) & (F.col(VALID_TO).isNull() | (F.col(VALID_TO) > moment))
    )


def upsert_scd2(spark: SparkSession, path: str, batch: DataFrame, contract: Contract) -> MergeOutcome:
    """Merge a batch into an SCD2 silver table; `inserted` counts windows opened, `updated` windows closed.

    The MERGE matches on (key, valid_from): a stored window's start never changes, so the only updates
    are to valid_to and is_current, and each new window is an insert. Nothing is merged, and no version
    written, when the batch brings no new state.
    """
    check_batch_columns(batch, contract)
    if DeltaTable.isDeltaTable(spark, path):
        stored_columns = spark.read.format("delta").load(path).columns
        missing = [c for c in WINDOW_COLUMNS if c not in stored_columns]
        if missing:
            raise SilverSchemaError(
                f"silver.{contract.dataset} at {path} has no {', '.join(missing)}: it was written as a "
                "latest-wins table; rebuild it from bronze to keep SCD2 history"
            )
    records = with_open_windows(batch, contract.version_column)
    ensure_silver_table(spark, path, records.schema, contract)

    def merge() -> MergeOutcome:
        table = DeltaTable.forPath(spark, path)
        read_version = table_version(table)
        stored = spark.read.format("delta").option("versionAsOf", read_version).load(path)
        conformed = conform_to_table(records, stored.schema, contract)
        changes = window_changes(rederive_windows(stored, conformed, contract)).persist(
            StorageLevel.MEMORY_AND_DISK
        )
        try:
            if changes.isEmpty():
                return MergeOutcome(read_version, 0, 0, read_version)
            condition = " AND ".join(
                [*key_condition(contract.business_key), f"target.{VALID_FROM} = source.{VALID_FROM}"]
            )
            ensure_unchanged_since(table, read_version)
            metrics = (
                table.alias("target")
                .merge(changes.drop(*_HELPERS).alias("source"), condition)
                .whenMatchedUpdate(
                    set={
                        VALID_TO: f"source.{VALID_TO}",
                        IS_CURRENT: f"source.{IS_CURRENT}",
                        "_merged_at": "current_timestamp()",
                    }
                )
                .whenNotMatchedInsert(values={c: f"source.`{c}`" for c in stored.columns})
                .execute()
                .first()
            )
            return MergeOutcome.from_metrics(table, metrics, read_version)
        finally:
            changes.unpersist()

    return retry_on_conflict(merge)


def registry_as_of(spark: SparkSession, lake: Lake, date: dt.date | dt.datetime) -> DataFrame:
    """The enterprise registry as it stood at the end of `date` (Vietnam time), or at a given instant.

    One row per enterprise that existed then, with the state it had; dissolved ones are kept (is_dissolved).
    """
    history = spark.read.format("delta").load(lake.table_path(silver("enterprises")))
    if isinstance(date, dt.datetime):
        instant = date.strftime("%Y-%m-%d %H:%M:%S.%f")
    else:
        instant = f"{date.isoformat()} 23:59:59.999999"
    # A string cast reads the instant in the session time zone (Vietnam), as silver's timestamps were.
    return as_of(history, F.lit(instant).cast(T.TimestampType())).drop(IS_CURRENT)
