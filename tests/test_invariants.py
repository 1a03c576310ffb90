"""Post-merge invariants: pass after correct merges, catch a duplicate key, a row replaced by an older
version and a deleted key, and come out in the same shape as the validation rule results."""

from __future__ import annotations

import datetime as dt

import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from jobs.contracts import Contract, Field
from jobs.invariants import check_silver, describe
from jobs.merge import table_version, upsert_latest
from jobs.pipeline import rule_result_records

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


def merge(spark, path, *rows):
    return upsert_latest(spark, path, spark.createDataFrame(list(rows), SCHEMA), CONTRACT)


def failures(results) -> dict[str, int]:
    return {r.rule_id: r.failed for r in results}


def test_correct_merges_pass_every_invariant_on_the_keys_they_wrote(spark, table_path):
    merge(spark, table_path, ("A", "x", ts(1), "f1", 1), ("B", "x", ts(1), "f1", 2))
    second = merge(spark, table_path, ("B", "y", ts(2), "f2", 1), ("C", "y", ts(2), "f2", 2))
    results = check_silver(spark, table_path, CONTRACT, second.read_version)
    assert failures(results) == {
        "silver.things.key_unique": 0,
        "silver.things.no_older_version": 0,
        "silver.things.no_deleted_rows": 0,
    }
    assert {r.evaluated for r in results} == {2}  # B and C, not A
    assert {r.severity for r in results} == {"fail"}
    audit = check_silver(spark, table_path, CONTRACT, second.read_version, changed_keys_only=False)
    assert {r.evaluated for r in audit} == {3}


def test_a_duplicate_key_is_caught(spark, table_path):
    first = merge(spark, table_path, ("A", "x", ts(1), "f1", 1))
    spark.createDataFrame([("A", "copy", ts(2), "bad", 1)], SCHEMA).write.format("delta").mode("append").save(
        table_path
    )
    assert (
        failures(check_silver(spark, table_path, CONTRACT, first.table_version))["silver.things.key_unique"]
        == 1
    )


def test_a_row_replaced_by_an_older_version_is_caught(spark, table_path):
    first = merge(spark, table_path, ("A", "new", ts(5), "f1", 1), ("B", "x", ts(5), "f1", 2))
    DeltaTable.forPath(spark, table_path).update(
        "code = 'A'", {"status": F.lit("old"), "updated_at": F.lit(ts(1))}
    )
    found = failures(check_silver(spark, table_path, CONTRACT, first.table_version))
    assert found["silver.things.no_older_version"] == 1 and found["silver.things.key_unique"] == 0


def test_a_deleted_key_is_caught(spark, table_path):
    first = merge(spark, table_path, ("A", "x", ts(1), "f1", 1), ("B", "x", ts(1), "f1", 2))
    DeltaTable.forPath(spark, table_path).delete("code = 'B'")
    found = failures(check_silver(spark, table_path, CONTRACT, first.table_version))
    assert found["silver.things.no_deleted_rows"] == 1


def test_nothing_written_in_between_means_nothing_checked(spark, table_path):
    merge(spark, table_path, ("A", "x", ts(1), "f1", 1))
    results = check_silver(spark, table_path, CONTRACT, table_version(DeltaTable.forPath(spark, table_path)))
    assert {(r.evaluated, r.failed) for r in results} == {(0, 0)}


def test_invariant_results_have_the_rule_result_record_shape(spark, table_path):
    merge(spark, table_path, ("A", "x", ts(1), "f1", 1))
    records = rule_result_records("dossiers", "2025-06-01", check_silver(spark, table_path, CONTRACT, 0))
    assert [r["rule_id"] for r in records] == [
        "silver.things.key_unique", "silver.things.no_older_version", "silver.things.no_deleted_rows"
    ]  # fmt: skip
    assert set(records[0]) == {
        "batch_date", "rule_id", "severity", "column", "evaluated", "failed", "pass_rate", "message_vi",
        "message_en",
    }  # fmt: skip
    assert (records[0]["severity"], records[0]["evaluated"], records[0]["pass_rate"]) == ("fail", 1, 1.0)


def test_invariants_are_described_in_both_languages_per_dataset_history():
    assert describe("silver.dossiers.key_unique").message_en.startswith("a business key is on more than one")
    assert describe("silver.enterprises.key_unique").message_en.endswith("more than one current row")
    assert describe("silver.enterprises.one_current_row").message_vi
    assert describe("dossiers.status.in_set") is None
