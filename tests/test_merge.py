"""Silver upserts: newest version wins within a batch and against the table; re-running changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.testing import assertDataFrameEqual

from jobs.contracts import Contract, Field
from jobs.merge import latest_per_key, upsert_latest

CONTRACT = Contract(
    dataset="things",
    agency="a",
    title="things",
    file_patterns=("*.csv",),
    fields=(Field("code"), Field("status"), Field("updated_at", type="timestamp")),
    business_key=("code",),
    version_column="updated_at",
)
SCHEMA = "code string, status string, updated_at timestamp, _source_file string, _source_row long"


def ts(day: int) -> dt.datetime:
    return dt.datetime(2025, 6, day, 8, 0)


@pytest.fixture
def table_path(tmp_path):
    return str(tmp_path / "silver" / "things")


def batch(spark, rows):
    return spark.createDataFrame(rows, SCHEMA)


def current(spark, path):
    return spark.read.format("delta").load(path).select("code", "status").orderBy("code")


def test_duplicates_in_a_batch_collapse_to_the_newest_version_then_the_later_record(spark):
    rows = batch(
        spark,
        [
            ("A", "old", ts(1), "f1", 1), ("A", "new", ts(2), "f1", 2), ("A", "older", ts(1), "f2", 1),
            ("B", "first-copy", ts(3), "f1", 3), ("B", "second-copy", ts(3), "f1", 4),
        ],
    )  # fmt: skip
    result = latest_per_key(rows, ["code"], "updated_at").select("code", "status")
    assertDataFrameEqual(
        result, spark.createDataFrame([("A", "new"), ("B", "second-copy")], "code string, status string")
    )


def test_insert_update_and_late_record_with_merge_metrics(spark, table_path):
    first = upsert_latest(spark, table_path, batch(spark, [("A", "received", ts(2), "f1", 1)]), CONTRACT)
    assert (first.inserted, first.updated) == (1, 0)

    newer = upsert_latest(
        spark,
        table_path,
        batch(spark, [("A", "finished", ts(5), "f2", 1), ("B", "new", ts(5), "f2", 2)]),
        CONTRACT,
    )
    assert (newer.inserted, newer.updated) == (1, 1)

    late = upsert_latest(spark, table_path, batch(spark, [("A", "stale", ts(3), "f3", 1)]), CONTRACT)
    assert (late.inserted, late.updated) == (0, 0)
    assertDataFrameEqual(
        current(spark, table_path),
        spark.createDataFrame([("A", "finished"), ("B", "new")], "code string, status string"),
    )


def test_resending_the_same_batch_changes_no_row(spark, table_path):
    rows = batch(spark, [("A", "received", ts(2), "f1", 1)])
    upsert_latest(spark, table_path, rows, CONTRACT)
    again = upsert_latest(spark, table_path, rows, CONTRACT)
    assert (again.inserted, again.updated) == (0, 0)
    assert current(spark, table_path).count() == 1


def test_silver_tables_have_change_data_feed_on(spark, table_path):
    upsert_latest(spark, table_path, batch(spark, [("A", "x", ts(2), "f1", 1)]), CONTRACT)
    properties = spark.sql(f"DESCRIBE DETAIL delta.`{table_path}`").first()["properties"]
    assert properties.get("delta.enableChangeDataFeed") == "true"
