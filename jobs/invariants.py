"""Post-merge invariants of silver tables, reported like rule results (severity `fail`).

After each merge the keys it wrote (from the change data feed between the version the merge read and the
version it wrote) are checked in the table as written, against the table as it was (time travel):

latest-wins tables, one row per key:
    silver.<dataset>.key_unique          no business key on more than one row
    silver.<dataset>.no_older_version    no stored row replaced by an older version
    silver.<dataset>.no_deleted_rows     no key stored before is gone (an end of life is a flag, not a delete)
SCD2 tables:
    silver.<dataset>.key_unique               no key with more than one current row
    silver.<dataset>.one_current_row          every key has exactly one current row
    silver.<dataset>.windows_not_overlapping  each window ends where the next starts; the last is open
    silver.<dataset>.no_older_version         every window stored before is still there, unchanged
                                              but for its end (valid_to, is_current)

`evaluated` counts the keys checked, `failed` the keys breaking the invariant. Each table's invariants are
one aggregation job. What Delta can enforce on write (keys and versions not null, window bounds) is a CHECK
constraint on the table as well (jobs.merge.silver_constraints).
"""

from __future__ import annotations

from dataclasses import dataclass

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jobs.contracts import Contract
from jobs.datasets import DATASETS
from jobs.merge import table_version
from jobs.quality import RuleResult
from jobs.scd2 import IS_CURRENT, VALID_FROM, VALID_TO, tracked_state

SEVERITY = "fail"


@dataclass(frozen=True)
class Invariant:
    name: str
    message_en: str
    message_vi: str


LATEST_INVARIANTS = (
    Invariant(
        "key_unique",
        "a business key is on more than one silver row",
        "khóa nghiệp vụ xuất hiện trên nhiều hơn một dòng ở tầng silver",
    ),
    Invariant(
        "no_older_version",
        "a stored row was replaced by an older version of the record",
        "dòng đã lưu bị thay bằng một phiên bản cũ hơn của bản ghi",
    ),
    Invariant(
        "no_deleted_rows",
        "a key stored before the merge is no longer in silver",
        "khóa đã lưu trước lần hợp nhất không còn trong tầng silver",
    ),
)
SCD2_INVARIANTS = (
    Invariant(
        "key_unique",
        "a business key has more than one current row",
        "khóa nghiệp vụ có nhiều hơn một dòng hiện hành",
    ),
    Invariant(
        "one_current_row",
        "a business key does not have exactly one current row",
        "khóa nghiệp vụ không có đúng một dòng hiện hành",
    ),
    Invariant(
        "windows_not_overlapping",
        "a key's validity windows overlap or leave a gap (each must end where the next starts)",
        "các khoảng hiệu lực của một khóa chồng lấn hoặc bị hở "
        "(mỗi khoảng phải kết thúc khi khoảng sau bắt đầu)",
    ),
    Invariant(
        "no_older_version",
        "a stored window was removed or rewritten (history may only be closed, never replaced)",
        "một khoảng hiệu lực đã lưu bị xóa hoặc ghi đè (lịch sử chỉ được đóng lại, không được thay thế)",
    ),
)


def invariants_for(contract: Contract) -> tuple[Invariant, ...]:
    return SCD2_INVARIANTS if contract.history == "scd2" else LATEST_INVARIANTS


def rule_id(contract: Contract, invariant: Invariant) -> str:
    return f"silver.{contract.dataset}.{invariant.name}"


def describe(invariant_rule_id: str) -> Invariant | None:
    """The invariant behind a rule id such as `silver.dossiers.key_unique` (messages in both languages)."""
    zone, dataset, name = (invariant_rule_id.split(".") + ["", ""])[:3]
    if zone != "silver" or dataset not in DATASETS:
        return None
    return next((i for i in invariants_for(DATASETS[dataset].contract) if i.name == name), None)


def latest_violations(now: DataFrame, before: DataFrame, contract: Contract) -> DataFrame:
    """One row: `keys` checked and, per invariant of a latest-wins table, the number of keys breaking it."""
    key, version = list(contract.business_key), contract.version_column
    rows = now.select(*key, F.col(version).alias("_version"), F.lit(True).alias("_now")).unionByName(
        before.select(*key, F.col(version).alias("_version"), F.lit(False).alias("_now"))
    )
    per_key = rows.groupBy(*key).agg(
        F.count_if(F.col("_now")).alias("now_rows"),
        F.count_if(~F.col("_now")).alias("before_rows"),
        F.min(F.when(F.col("_now"), F.col("_version"))).alias("now_oldest"),
        F.max(F.when(~F.col("_now"), F.col("_version"))).alias("before_newest"),
    )
    was_stored = F.col("before_rows") > 0
    return per_key.agg(
        F.count(F.lit(1)).alias("keys"),
        F.count_if(F.col("now_rows") > 1).alias("key_unique"),
        F.count_if(was_stored & (F.col("now_oldest") < F.col("before_newest"))).alias("no_older_version"),
        F.count_if(was_stored & (F.col("now_rows") == 0)).alias("no_deleted_rows"),
    )


def scd2_violations(now: DataFrame, before: DataFrame, contract: Contract) -> DataFrame:
    """One row: `keys` checked and, per invariant of an SCD2 table, the number of keys breaking it."""
    key, version = list(contract.business_key), contract.version_column
    next_start = F.lead(VALID_FROM).over(Window.partitionBy(*key).orderBy(VALID_FROM))
    windows = now.select(
        *key,
        VALID_FROM,
        IS_CURRENT,
        F.col(version).alias("_version"),
        tracked_state(contract).alias("_state"),
        (~F.col(VALID_TO).eqNullSafe(next_start)).alias("_bad_end"),
    )
    per_key_now = windows.groupBy(*key).agg(
        F.count_if(F.col(IS_CURRENT)).alias("current_rows"),
        F.max("_bad_end").alias("bad_windows"),
    )
    stored = before.select(
        *key,
        VALID_FROM,
        F.col(version).alias("_stored_version"),
        tracked_state(contract).alias("_stored_state"),
    )
    rewritten = (
        stored.join(windows.drop(IS_CURRENT, "_bad_end"), [*key, VALID_FROM], "left")
        .withColumn(
            "_rewritten",
            F.col("_version").isNull()
            | ~F.col("_version").eqNullSafe(F.col("_stored_version"))
            | ~F.col("_state").eqNullSafe(F.col("_stored_state")),
        )
        .groupBy(*key)
        .agg(F.max("_rewritten").alias("rewritten"))
    )
    per_key = per_key_now.join(rewritten, key, "full_outer")
    current_rows = F.coalesce(F.col("current_rows"), F.lit(0))
    return per_key.agg(
        F.count(F.lit(1)).alias("keys"),
        F.count_if(current_rows > 1).alias("key_unique"),
        F.count_if(current_rows != 1).alias("one_current_row"),
        F.count_if(F.coalesce(F.col("bad_windows"), F.lit(False))).alias("windows_not_overlapping"),
        F.count_if(F.coalesce(F.col("rewritten"), F.lit(False))).alias("no_older_version"),
    )


def check_silver(
    spark: SparkSession,
    path: str,
    contract: Contract,
    before_version: int,
    after_version: int | None = None,
    changed_keys_only: bool = True,
) -> list[RuleResult]:
    """Evaluate the table's invariants between two versions (after: the latest).

    With `changed_keys_only` the keys in the change data feed of the versions in between are checked (what
    a merge can have broken); without it every key is (an audit of the whole table).
    """
    after = after_version if after_version is not None else table_version(DeltaTable.forPath(spark, path))
    if changed_keys_only and after <= before_version:
        return [  # nothing written in between: nothing to check
            RuleResult(rule_id(contract, i), SEVERITY, 0, 0, i.message_en) for i in invariants_for(contract)
        ]
    now = spark.read.format("delta").option("versionAsOf", after).load(path)
    before = spark.read.format("delta").option("versionAsOf", before_version).load(path)
    key = list(contract.business_key)
    if changed_keys_only:
        changed_keys = (
            spark.read.format("delta")
            .option("readChangeFeed", "true")
            .option("startingVersion", before_version + 1)
            .option("endingVersion", after)
            .load(path)
            .select(*key)
            .distinct()
        )
        now = now.join(F.broadcast(changed_keys), key, "left_semi")
        before = before.join(F.broadcast(changed_keys), key, "left_semi")
    violations = scd2_violations if contract.history == "scd2" else latest_violations
    counts = violations(now, before, contract).first()
    evaluated = int(counts["keys"]) if counts else 0
    return [
        RuleResult(
            rule_id(contract, invariant),
            SEVERITY,
            evaluated,
            int(counts[invariant.name] or 0) if counts else 0,
            invariant.message_en,
        )
        for invariant in invariants_for(contract)
    ]
