"""SCD type 2 silver: a change closes the current window and opens one, no change writes nothing, a late
change is slotted in between without overlap, dissolution is a flag on a window, never a delete."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from jobs.contracts import Contract, ContractError, Field, SoftEnd
from jobs.datasets import get_dataset
from jobs.invariants import check_silver
from jobs.lake import Lake, silver
from jobs.merge import SilverSchemaError, merge_into_silver, upsert_latest
from jobs.scd2 import registry_as_of, upsert_scd2

DISSOLVED = "Đã giải thể"
CONTRACT = Contract(
    dataset="firms",
    agency="a",
    title="firms",
    file_patterns=("*.csv",),
    fields=(Field("tax_code"), Field("name"), Field("status"), Field("updated_at", type="timestamp")),
    business_key=("tax_code",),
    version_column="updated_at",
    history="scd2",
    tracked_columns=("name", "status"),
    soft_end=SoftEnd("is_dissolved", "status", (DISSOLVED,)),
)
SCHEMA = (
    "tax_code string, name string, status string, updated_at timestamp, is_dissolved boolean, "
    "_source_file string, _source_row long, _merged_at timestamp"
)
WINDOWS = "tax_code string, name string, valid_from timestamp, valid_to timestamp, is_current boolean"


def day(n: int) -> dt.datetime:
    return dt.datetime(2025, 6, n, 10, 0)


def record(tax_code, name, updated, status="active", file="f1", row=1):
    return (tax_code, name, status, updated, status == DISSOLVED, file, row, dt.datetime(2025, 7, 1))


@pytest.fixture
def table_path(tmp_path):
    return str(tmp_path / "silver" / "firms")


def merge(spark, path, *records):
    return upsert_scd2(spark, path, spark.createDataFrame(list(records), SCHEMA), CONTRACT)


def windows(spark, path):
    return (
        spark.read.format("delta")
        .load(path)
        .select("tax_code", "name", "valid_from", "valid_to", "is_current")
    )


def versions(spark, path) -> int:
    return DeltaTable.forPath(spark, path).history().count()


def test_a_change_closes_the_current_window_and_opens_a_new_one(spark, table_path):
    first = merge(spark, table_path, record("A", "An Phát", day(1)), record("B", "Bình Minh", day(1), row=2))
    assert (first.inserted, first.updated) == (2, 0)

    changed = merge(spark, table_path, record("A", "An Phát Mới", day(5), file="f2"))
    assert (changed.inserted, changed.updated) == (1, 1)
    assertDataFrameEqual(
        windows(spark, table_path),
        spark.createDataFrame(
            [
                ("A", "An Phát", day(1), day(5), False),
                ("A", "An Phát Mới", day(5), None, True),
                ("B", "Bình Minh", day(1), None, True),
            ],
            WINDOWS,
        ),
    )


def test_an_unchanged_snapshot_and_a_resend_write_no_table_version(spark, table_path):
    merge(spark, table_path, record("A", "An Phát", day(1)), record("B", "Bình Minh", day(1), row=2))
    before = versions(spark, table_path)

    resend = merge(spark, table_path, record("A", "An Phát", day(1)), record("B", "Bình Minh", day(1), row=2))
    # A newer snapshot restating the same tracked values is no change either.
    snapshot = merge(
        spark,
        table_path,
        record("A", "An Phát", day(9), file="f9"),
        record("B", "Bình Minh", day(9), "active", "f9", 2),
    )
    assert (resend.inserted, resend.updated, resend.committed) == (0, 0, False)
    assert (snapshot.inserted, snapshot.updated, snapshot.committed) == (0, 0, False)
    assert versions(spark, table_path) == before


def test_a_late_change_is_slotted_in_without_overlapping_windows(spark, table_path):
    merge(spark, table_path, record("A", "v1", day(1)))
    merge(spark, table_path, record("A", "v3", day(10), file="f3"))

    late = merge(spark, table_path, record("A", "v2", day(5), file="f4"))
    # The late window is inserted, the first window shortened; the current window stays as it was.
    assert (late.inserted, late.updated) == (1, 1)
    assertDataFrameEqual(
        windows(spark, table_path),
        spark.createDataFrame(
            [
                ("A", "v1", day(1), day(5), False),
                ("A", "v2", day(5), day(10), False),
                ("A", "v3", day(10), None, True),
            ],
            WINDOWS,
        ),
    )
    checks = {r.rule_id: r for r in check_silver(spark, table_path, CONTRACT, late.read_version)}
    assert all(r.failed == 0 for r in checks.values()), checks
    assert checks["silver.firms.windows_not_overlapping"].evaluated == 1


def test_a_late_record_equal_to_the_state_before_it_changes_nothing(spark, table_path):
    merge(spark, table_path, record("A", "v1", day(1)))
    merge(spark, table_path, record("A", "v3", day(10), file="f3"))

    same_as_before = merge(spark, table_path, record("A", "v1", day(5), file="f4"))
    assert (same_as_before.inserted, same_as_before.updated, same_as_before.committed) == (0, 0, False)


def test_a_late_record_equal_to_the_next_window_opens_its_own_and_moves_no_stored_window(spark, table_path):
    merge(spark, table_path, record("A", "v1", day(1)))
    merge(spark, table_path, record("A", "v2", day(10), file="f3"))

    early_v2 = merge(spark, table_path, record("A", "v2", day(5), file="f4"))
    assert (early_v2.inserted, early_v2.updated) == (1, 1)
    assertDataFrameEqual(
        windows(spark, table_path),
        spark.createDataFrame(
            [
                ("A", "v1", day(1), day(5), False),
                ("A", "v2", day(5), day(10), False),
                ("A", "v2", day(10), None, True),
            ],
            WINDOWS,
        ),
    )


def test_a_latest_wins_table_is_not_taken_for_scd2_history(spark, table_path):
    latest = replace(CONTRACT, history="latest")
    upsert_latest(spark, table_path, spark.createDataFrame([record("A", "v1", day(1))], SCHEMA), latest)
    with pytest.raises(SilverSchemaError, match="rebuild it from bronze"):
        merge(spark, table_path, record("A", "v2", day(2)))


def test_several_changes_of_one_key_in_a_batch_become_consecutive_windows(spark, table_path):
    outcome = merge(
        spark,
        table_path,
        record("A", "v1", day(1), row=1),
        record("A", "v1", day(2), row=2),  # same state: no window
        record("A", "v2", day(3), row=3),
        record("A", "v2 copy", day(3), file="f0", row=9),  # same version, earlier file: loses
        record("A", "v3", day(4), row=4),
    )
    assert (outcome.inserted, outcome.updated) == (3, 0)
    assertDataFrameEqual(
        windows(spark, table_path),
        spark.createDataFrame(
            [
                ("A", "v1", day(1), day(3), False),
                ("A", "v2", day(3), day(4), False),
                ("A", "v3", day(4), None, True),
            ],
            WINDOWS,
        ),
    )


def test_dissolution_is_a_flagged_current_window_and_history_stays(spark, table_path):
    merge(spark, table_path, record("A", "An Phát", day(1)))
    dissolved = merge(spark, table_path, record("A", "An Phát", day(20), status=DISSOLVED, file="f2"))
    assert (dissolved.inserted, dissolved.updated) == (1, 1)
    metrics = DeltaTable.forPath(spark, table_path).history(1).first()["operationMetrics"]
    assert metrics["numTargetRowsDeleted"] == "0"
    rows = spark.read.format("delta").load(table_path).orderBy("valid_from").collect()
    assert [(r["status"], r["is_dissolved"], r["is_current"]) for r in rows] == [
        ("active", False, False),
        (DISSOLVED, True, True),
    ]


def test_registry_as_of_a_date_gives_the_state_then(spark, tmp_path):
    lake = Lake(str(tmp_path))
    path = lake.table_path(silver("enterprises"))
    merge(spark, path, record("A", "v1", day(1)), record("B", "b1", day(3), row=2))
    merge(spark, path, record("A", "v2", day(10), file="f2"))

    def names_on(date):
        return sorted((r["tax_code"], r["name"]) for r in registry_as_of(spark, lake, date).collect())

    assert names_on(dt.date(2025, 5, 31)) == []
    assert names_on(dt.date(2025, 6, 2)) == [("A", "v1")]
    assert names_on(dt.date(2025, 6, 9)) == [("A", "v1"), ("B", "b1")]
    assert names_on(dt.date(2025, 6, 10)) == [("A", "v2"), ("B", "b1")]  # end of the day of the change
    assert names_on(dt.datetime(2025, 6, 10, 9, 59)) == [("A", "v1"), ("B", "b1")]


def test_a_broken_window_is_reported_by_the_invariants(spark, table_path):
    first = merge(spark, table_path, record("A", "v1", day(1)), record("B", "b1", day(1), row=2))
    # Simulate a faulty writer: a second current row for A, bypassing the merge.
    extra = spark.createDataFrame([record("A", "rogue", day(2), file="x")], SCHEMA).withColumns(
        {"valid_from": F.lit(day(2)), "valid_to": F.lit(None).cast("timestamp"), "is_current": F.lit(True)}
    )
    extra.write.format("delta").mode("append").save(table_path)
    checks = {r.rule_id: r for r in check_silver(spark, table_path, CONTRACT, first.table_version)}
    assert checks["silver.firms.key_unique"].failed == 1
    assert checks["silver.firms.one_current_row"].failed == 1
    assert checks["silver.firms.windows_not_overlapping"].failed == 1
    assert checks["silver.firms.no_older_version"].failed == 0
    assert checks["silver.firms.key_unique"].evaluated == 1  # only the key written since


def test_the_check_constraints_refuse_an_inverted_window(spark, table_path):
    merge(spark, table_path, record("A", "v1", day(5)))
    inverted = spark.createDataFrame([record("C", "c", day(5), file="x")], SCHEMA).withColumns(
        {"valid_from": F.lit(day(5)), "valid_to": F.lit(day(1)), "is_current": F.lit(False)}
    )
    with pytest.raises(Exception, match="valid_window_not_empty"):
        inverted.write.format("delta").mode("append").save(table_path)


def test_enterprises_contract_declares_scd2_and_dissolution_as_a_soft_end(spark, table_path):
    contract = get_dataset("enterprises").contract
    assert contract.history == "scd2"
    assert "status" in contract.tracked_columns and "representative_id_pseudonym" in contract.tracked_columns
    assert contract.soft_end is not None and contract.soft_end.flag_column == "is_dissolved"
    assert DISSOLVED in contract.soft_end.status_values
    # The dossiers contract keeps the latest version; a withdrawal is a flag too.
    dossiers = get_dataset("dossiers").contract
    assert dossiers.history == "latest" and dossiers.soft_end is not None
    assert dossiers.soft_end.flag_column == "is_withdrawn" and dossiers.soft_end.status_values == (7,)


def test_merge_into_silver_follows_the_contracts_history(spark, table_path):
    merge_into_silver(spark, table_path, spark.createDataFrame([record("A", "v1", day(1))], SCHEMA), CONTRACT)
    outcome = merge_into_silver(
        spark, table_path, spark.createDataFrame([record("A", "v2", day(2), file="f2")], SCHEMA), CONTRACT
    )
    assert (outcome.inserted, outcome.updated) == (1, 1)
    assert spark.read.format("delta").load(table_path).count() == 2
    # A latest-wins upsert would overwrite the history: it refuses an SCD2 contract.
    with pytest.raises(ContractError, match="merge_into_silver"):
        upsert_latest(spark, table_path, spark.createDataFrame([record("A", "v3", day(3))], SCHEMA), CONTRACT)
