"""Gold from silver's change data feed: after every batch the incremental build equals a full rebuild,
including dossiers that move between months and communes, and a build with nothing new writes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from delta.tables import DeltaTable
from pyspark.testing import assertDataFrameEqual

from jobs.contracts import Contract, Field
from jobs.lake import Lake, gold, silver
from jobs.marts import (
    DOSSIERS_BY_COMMUNE_MONTH,
    SOURCE_VERSION_PROPERTY,
    dossiers_by_commune_month,
    refresh_dossiers_by_commune_month,
    touched_pairs,
)
from jobs.merge import table_version, upsert_latest
from jobs.pipeline import build_marts

CONTRACT = Contract(
    dataset="dossiers",
    agency="a",
    title="dossiers",
    file_patterns=("*.jsonl",),
    fields=(
        Field("dossier_code"),
        Field("commune_code"),
        Field("received_at", type="timestamp"),
        Field("finished_at", type="timestamp"),
        Field("updated_at", type="timestamp"),
    ),
    business_key=("dossier_code",),
    version_column="updated_at",
    silver_partition_by=("received_month",),
)
SCHEMA = (
    "dossier_code string, commune_code string, received_at timestamp, finished_at timestamp, "
    "due_at timestamp, status int, is_online boolean, is_finished boolean, finished_on_time boolean, "
    "received_month date, updated_at timestamp, _source_file string, _source_row long"
)


def at(month: int, day: int) -> dt.datetime:
    return dt.datetime(2025, month, day, 9, 0)


def dossier(code, commune, received, version, finished=None, online=False, file="f", row=1):
    status = 10 if finished else 2
    due = received + dt.timedelta(days=10)
    on_time = finished <= due if finished else False
    month = dt.date(received.year, received.month, 1)
    return (
        code, commune, received, finished, due, status, online, finished is not None, on_time, month,
        version, file, row,
    )  # fmt: skip


@pytest.fixture
def lake(tmp_path):
    return Lake(str(tmp_path))


def paths(lake):
    return lake.table_path(silver("dossiers")), lake.table_path(gold(DOSSIERS_BY_COMMUNE_MONTH))


def merge(spark, lake, *rows):
    return upsert_latest(spark, paths(lake)[0], spark.createDataFrame(list(rows), SCHEMA), CONTRACT)


def assert_gold_equals_a_full_rebuild(spark, lake):
    silver_path, gold_path = paths(lake)
    expected = dossiers_by_commune_month(spark.read.format("delta").load(silver_path))
    assertDataFrameEqual(spark.read.format("delta").load(gold_path), expected)
    recorded = DeltaTable.forPath(spark, gold_path).detail().first()["properties"][SOURCE_VERSION_PROPERTY]
    assert int(recorded) == table_version(DeltaTable.forPath(spark, silver_path))


def refresh(spark, lake, full=False):
    return refresh_dossiers_by_commune_month(spark, *paths(lake), full=full)


def test_incremental_builds_equal_full_rebuilds_over_a_sequence_of_batches(spark, lake):
    merge(
        spark, lake,
        dossier("D1", "25747", at(5, 10), at(5, 10)),
        dossier("D2", "25747", at(5, 20), at(5, 25), finished=at(5, 25)),
        dossier("D3", "25750", at(6, 1), at(6, 1), online=True),
    )  # fmt: skip
    first = refresh(spark, lake)
    assert first.mode == "full"  # no gold yet
    assert_gold_equals_a_full_rebuild(spark, lake)

    # D1 finishes in June (late), D3 is corrected to another commune, D4 is new.
    merge(
        spark, lake,
        dossier("D1", "25747", at(5, 10), at(6, 3), finished=at(6, 3), file="g"),
        dossier("D3", "25753", at(6, 1), at(6, 4), online=True, file="g", row=2),
        dossier("D4", "25750", at(6, 4), at(6, 4), file="g", row=3),
    )  # fmt: skip
    second = refresh(spark, lake)
    assert second.mode == "incremental"
    # (25747, June) and (25753, June) appear, (25750, June) changes; (25747, May) is recomputed, the same.
    assert (second.inserted, second.updated, second.deleted) == (2, 1, 0)
    assert_gold_equals_a_full_rebuild(spark, lake)

    # D2's receipt date is corrected into April: its row moves partition; D3 goes back, emptying 25753.
    merge(
        spark, lake,
        dossier("D2", "25747", at(4, 28), at(6, 5), finished=at(5, 25), file="h"),
        dossier("D3", "25750", at(6, 1), at(6, 5), online=True, file="h", row=2),
    )  # fmt: skip
    third = refresh(spark, lake)
    assert third.mode == "incremental"
    # (25753, June) is gone, (25747, April) new; (25747, May) and (25750, June) change.
    assert (third.inserted, third.updated, third.deleted) == (1, 2, 1)
    assert_gold_equals_a_full_rebuild(spark, lake)

    full = refresh(spark, lake, full=True)
    assert full.mode == "full"
    assert_gold_equals_a_full_rebuild(spark, lake)


def test_a_build_with_nothing_new_in_silver_writes_no_gold_version(spark, lake):
    merge(spark, lake, dossier("D1", "25747", at(5, 10), at(5, 10)))
    built = refresh(spark, lake)
    again = refresh(spark, lake)
    assert again.mode == "unchanged" and again.table_version == built.table_version

    resend = merge(spark, lake, dossier("D1", "25747", at(5, 10), at(5, 10)))
    assert not resend.committed
    assert refresh(spark, lake).table_version == built.table_version


def test_a_build_stopped_before_recording_the_silver_version_converges(spark, lake):
    merge(spark, lake, dossier("D1", "25747", at(5, 10), at(5, 10)))
    refresh(spark, lake)
    merge(spark, lake, dossier("D1", "25747", at(5, 10), at(5, 12), finished=at(5, 12), file="g"))
    refresh(spark, lake)
    # As if the property commit of the last build had not happened: the changes are read again.
    gold_path = paths(lake)[1]
    spark.sql(f"ALTER TABLE delta.`{gold_path}` SET TBLPROPERTIES ('{SOURCE_VERSION_PROPERTY}' = '0')")
    repeated = refresh(spark, lake)
    assert repeated.mode == "incremental" and (repeated.inserted, repeated.updated, repeated.deleted) == (
        0,
        0,
        0,
    )
    assert_gold_equals_a_full_rebuild(spark, lake)


def test_touched_pairs_take_both_images_of_a_moved_dossier(spark):
    before = dossier("D1", "25747", at(5, 10), at(5, 10))
    after = dossier("D1", "25750", at(6, 2), at(6, 3), finished=at(7, 1))
    pairs = touched_pairs(spark.createDataFrame([before, after], SCHEMA))
    assert sorted((r["commune_code"], r["month"].month) for r in pairs.collect()) == [
        ("25747", 5), ("25750", 6), ("25750", 7)
    ]  # fmt: skip


def test_build_marts_keeps_gold_in_step_and_can_rebuild_in_full(spark, lake):
    merge(spark, lake, dossier("D1", "25747", at(5, 10), at(5, 10)))
    assert build_marts(spark, lake) == {
        "gold.fct_dossiers_by_commune_month": table_version(DeltaTable.forPath(spark, paths(lake)[1]))
    }
    merge(spark, lake, dossier("D2", "25747", at(5, 11), at(5, 11), file="g"))
    build_marts(spark, lake)
    assert_gold_equals_a_full_rebuild(spark, lake)
    operations = [r["operation"] for r in DeltaTable.forPath(spark, paths(lake)[1]).history().collect()]
    assert "MERGE" in operations
    build_marts(spark, lake, full=True)
    assert_gold_equals_a_full_rebuild(spark, lake)
