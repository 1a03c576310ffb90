"""Silver upserts: newest version wins within a batch and against the table; re-running writes nothing;
an end of life is a flag; partitions are pruned; drifted schemas fail before anything is written."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from jobs.contracts import Contract, Field, SoftEnd
from jobs.datasets import get_dataset
from jobs.drift import SchemaDriftError, check_delivered_columns
from jobs.merge import SilverSchemaError, latest_per_key, upsert_latest
from jobs.readers import FileRejected, canonical_column_names

WITHDRAWN = "withdrawn"
CONTRACT = Contract(
    dataset="things",
    agency="a",
    title="things",
    file_patterns=("*.csv",),
    fields=(Field("code"), Field("status"), Field("updated_at", type="timestamp")),
    business_key=("code",),
    version_column="updated_at",
    soft_end=SoftEnd("is_withdrawn", "status", (WITHDRAWN,)),
)
SCHEMA = (
    "code string, status string, updated_at timestamp, is_withdrawn boolean, _source_file string, "
    "_source_row long"
)
# A partitioned variant: rows live in the month they were received; an update may move them.
MONTHLY = Contract(
    dataset="monthly",
    agency="a",
    title="monthly",
    file_patterns=("*.csv",),
    fields=(
        Field("code"),
        Field("status"),
        Field("updated_at", type="timestamp"),
        Field("month", type="date"),
    ),
    business_key=("code",),
    version_column="updated_at",
    silver_partition_by=("month",),
)
MONTHLY_SCHEMA = (
    "code string, status string, updated_at timestamp, month date, _source_file string, _source_row long"
)


def ts(day: int) -> dt.datetime:
    return dt.datetime(2025, 6, day, 8, 0)


def month(number: int) -> dt.date:
    return dt.date(2025, number, 1)


@pytest.fixture
def table_path(tmp_path):
    return str(tmp_path / "silver" / "things")


def batch(spark, rows):
    return spark.createDataFrame([(c, s, u, s == WITHDRAWN, f, r) for c, s, u, f, r in rows], SCHEMA)


def current(spark, path):
    return spark.read.format("delta").load(path).select("code", "status").orderBy("code")


def rows(spark, pairs):
    return spark.createDataFrame(pairs, "code string, status string")


def history(spark, path):
    return DeltaTable.forPath(spark, path).history()


def last_merge_metrics(spark, path) -> dict[str, str]:
    return (
        history(spark, path)
        .where("operation = 'MERGE'")
        .orderBy(F.desc("version"))
        .first()["operationMetrics"]
    )


def test_duplicates_in_a_batch_collapse_to_the_newest_version_then_the_later_record(spark):
    duplicated = batch(
        spark,
        [
            ("A", "old", ts(1), "f1", 1), ("A", "new", ts(2), "f1", 2), ("A", "older", ts(1), "f2", 1),
            ("B", "first-copy", ts(3), "f1", 3), ("B", "second-copy", ts(3), "f1", 4),
        ],
    )  # fmt: skip
    result = latest_per_key(duplicated, ["code"], "updated_at").select("code", "status")
    assertDataFrameEqual(result, rows(spark, [("A", "new"), ("B", "second-copy")]))


def test_insert_newer_correction_and_late_record_with_merge_metrics(spark, table_path):
    first = upsert_latest(spark, table_path, batch(spark, [("A", "received", ts(2), "f1", 1)]), CONTRACT)
    assert (first.inserted, first.updated, first.committed) == (1, 0, True)

    newer = upsert_latest(
        spark,
        table_path,
        batch(spark, [("A", "finished", ts(5), "f2", 1), ("B", "new", ts(5), "f2", 2)]),
        CONTRACT,
    )
    assert (newer.inserted, newer.updated) == (1, 1)
    assert last_merge_metrics(spark, table_path)["numSourceRows"] == "2"

    late = upsert_latest(spark, table_path, batch(spark, [("A", "stale", ts(3), "f3", 1)]), CONTRACT)
    assert (late.inserted, late.updated, late.committed) == (0, 0, False)
    assert late.table_version == newer.table_version
    assertDataFrameEqual(current(spark, table_path), rows(spark, [("A", "finished"), ("B", "new")]))


def test_only_rows_that_change_reach_the_merge(spark, table_path):
    upsert_latest(
        spark, table_path, batch(spark, [("A", "x", ts(2), "f1", 1), ("B", "y", ts(2), "f1", 2)]), CONTRACT
    )
    mixed = batch(
        spark,
        [("A", "x", ts(2), "f2", 1), ("B", "stale", ts(1), "f2", 2), ("C", "new", ts(3), "f2", 3)],
    )
    outcome = upsert_latest(spark, table_path, mixed, CONTRACT)
    assert (outcome.inserted, outcome.updated) == (1, 0)
    metrics = last_merge_metrics(spark, table_path)
    assert (metrics["numSourceRows"], metrics["numTargetRowsCopied"]) == ("1", "0")


def test_resending_a_batch_writes_no_table_version(spark, table_path):
    resent = batch(spark, [("A", "received", ts(2), "f1", 1), ("B", "received", ts(2), "f1", 2)])
    upsert_latest(spark, table_path, resent, CONTRACT)
    versions_before = history(spark, table_path).count()
    again = upsert_latest(spark, table_path, resent, CONTRACT)
    assert (again.inserted, again.updated, again.committed) == (0, 0, False)
    assert history(spark, table_path).count() == versions_before
    assert current(spark, table_path).count() == 2


def test_rerunning_after_a_run_died_between_batches_gives_the_same_content(spark, tmp_path):
    day1 = batch(spark, [("A", "received", ts(1), "d1", 1), ("B", "received", ts(1), "d1", 2)])
    day2 = batch(spark, [("A", "finished", ts(2), "d2", 1), ("C", "received", ts(2), "d2", 2)])
    clean, resumed = str(tmp_path / "clean"), str(tmp_path / "resumed")
    for day in (day1, day2):
        upsert_latest(spark, clean, day, CONTRACT)
    upsert_latest(spark, resumed, day1, CONTRACT)  # the run stopped here, before recording day 1 as done
    for day in (day1, day2):  # the rerun takes both days again
        upsert_latest(spark, resumed, day, CONTRACT)
    assertDataFrameEqual(current(spark, resumed), current(spark, clean))


def test_a_withdrawal_is_a_flag_never_a_delete(spark, table_path):
    upsert_latest(spark, table_path, batch(spark, [("A", "received", ts(1), "f1", 1)]), CONTRACT)
    withdrawn = upsert_latest(spark, table_path, batch(spark, [("A", WITHDRAWN, ts(4), "f2", 1)]), CONTRACT)
    assert (withdrawn.inserted, withdrawn.updated) == (0, 1)
    metrics = last_merge_metrics(spark, table_path)
    assert metrics["numTargetRowsDeleted"] == "0"
    stored = spark.read.format("delta").load(table_path).collect()
    assert [(r["code"], r["status"], r["is_withdrawn"]) for r in stored] == [("A", WITHDRAWN, True)]


def test_a_batch_without_the_end_of_life_flag_is_refused(spark, table_path):
    unflagged = batch(spark, [("A", "received", ts(1), "f1", 1)]).drop("is_withdrawn")
    with pytest.raises(SilverSchemaError, match="is_withdrawn"):
        upsert_latest(spark, table_path, unflagged, CONTRACT)


def test_dossiers_contract_flags_status_7_as_withdrawn(spark):
    dataset = get_dataset("dossiers")
    statuses = spark.createDataFrame([(7,), (9,), (None,)], "status int")
    flags = [
        r["is_withdrawn"]
        for r in statuses.select(dataset.contract.soft_end.flag().alias("is_withdrawn")).collect()
    ]
    assert flags == [True, False, None]


def test_merge_reads_only_the_partitions_it_changes_and_moves_rows_between_them(spark, tmp_path):
    path = str(tmp_path / "monthly")

    def monthly(data):
        return spark.createDataFrame(data, MONTHLY_SCHEMA)

    upsert_latest(
        spark,
        path,
        monthly([("A", "x", ts(1), month(4), "f1", 1), ("B", "x", ts(1), month(5), "f1", 2),
                 ("C", "x", ts(1), month(6), "f1", 3)]),
        MONTHLY,
    )  # fmt: skip
    assert DeltaTable.forPath(spark, path).detail().first()["partitionColumns"] == ["month"]

    # A correction moves A from April to June; D is new in June. May is neither read nor rewritten.
    moved = upsert_latest(
        spark,
        path,
        monthly([("A", "fixed", ts(2), month(6), "f2", 1), ("D", "y", ts(2), month(6), "f2", 2)]),
        MONTHLY,
    )
    assert (moved.inserted, moved.updated) == (1, 1)
    last = history(spark, path).where("operation = 'MERGE'").orderBy(F.desc("version")).first()
    predicate = last["operationParameters"]["predicate"]
    assert "2025-04-01" in predicate and "2025-06-01" in predicate and "2025-05-01" not in predicate
    stored = spark.read.format("delta").load(path)
    assertDataFrameEqual(
        stored.select("code", "month"),
        spark.createDataFrame(
            [("A", month(6)), ("B", month(5)), ("C", month(6)), ("D", month(6))], "code string, month date"
        ),
    )


def test_an_added_source_column_is_ignored_by_silver(spark, table_path):
    upsert_latest(spark, table_path, batch(spark, [("A", "x", ts(1), "f1", 1)]), CONTRACT)
    columns_before = spark.read.format("delta").load(table_path).columns
    with_extra = batch(spark, [("A", "y", ts(2), "f2", 1), ("B", "x", ts(2), "f2", 2)]).withColumn(
        "ghi_chu", F.lit("a note the agency added")
    )
    outcome = upsert_latest(spark, table_path, with_extra, CONTRACT)
    assert (outcome.inserted, outcome.updated) == (1, 1)
    assert spark.read.format("delta").load(table_path).columns == columns_before
    assertDataFrameEqual(current(spark, table_path), rows(spark, [("A", "y"), ("B", "x")]))


def test_a_missing_optional_column_becomes_null_and_a_missing_key_fails_untouched(spark, table_path):
    upsert_latest(spark, table_path, batch(spark, [("A", "x", ts(1), "f1", 1)]), CONTRACT)
    versions_before = history(spark, table_path).count()

    without_status = batch(spark, [("B", "y", ts(2), "f2", 1)]).drop("status")
    upsert_latest(spark, table_path, without_status, CONTRACT)
    assertDataFrameEqual(current(spark, table_path), rows(spark, [("A", "x"), ("B", None)]))

    without_key = batch(spark, [("C", "y", ts(2), "f3", 1)]).drop("code").withColumn("ma", F.lit("C"))
    with pytest.raises(SilverSchemaError, match="lacks key/version column.*'code'"):
        upsert_latest(spark, table_path, without_key, CONTRACT)
    assert history(spark, table_path).count() == versions_before + 1  # only the merge of B


def test_an_incompatible_type_fails_the_batch_naming_column_and_types(spark, table_path):
    upsert_latest(spark, table_path, batch(spark, [("A", "x", ts(1), "f1", 1)]), CONTRACT)
    versions_before = history(spark, table_path).count()
    retyped = batch(spark, [("B", "y", ts(2), "f2", 1)]).withColumn("updated_at", F.lit("2025-06-02"))
    with pytest.raises(SilverSchemaError, match=r"'updated_at' is string; silver expects timestamp"):
        upsert_latest(spark, table_path, retyped, CONTRACT)
    assert history(spark, table_path).count() == versions_before


def test_a_json_object_or_array_where_a_value_is_expected_rejects_the_file(spark, tmp_path):
    contract = get_dataset("dossiers").contract
    delivered = tmp_path / "hoso.jsonl"
    records = [
        {"MaHoSo": "H1", "MaTTHC": "1.0", "MaXa": {"ma": "25747"}, "NgayTiepNhan": "20250601080000",
         "TrangThaiHoSo": "2", "NgayCapNhat": "20250601080000", "TrichYeuHoSo": ["a", "b"]},
    ]  # fmt: skip
    delivered.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    # Read as jobs.readers.read_json_lines does, up to the cast to strings.
    frame = spark.read.option("primitivesAsString", "true").json(str(delivered))
    headers = frame.columns
    names, extras = canonical_column_names(headers, contract)
    with pytest.raises(SchemaDriftError) as raised:
        check_delivered_columns(
            "cong-dvc/dossiers/2025-06-01/hoso.jsonl",
            contract,
            names,
            extras,
            [frame.schema[h].dataType for h in headers],
        )
    message = str(raised.value)
    assert message.startswith("cong-dvc/dossiers/2025-06-01/hoso.jsonl: schema drift")
    assert "column 'commune_code': expected string" in message and "a JSON object" in message
    assert "column 'summary': expected string" in message and "a JSON array" in message
    assert isinstance(raised.value, FileRejected)  # the ingest stage rejects the file, nothing is written


def test_a_renamed_key_rejects_the_file_naming_the_new_header(spark):
    contract = get_dataset("dossiers").contract
    headers = ["MaHoSoMoi", "MaTTHC", "MaXa", "NgayTiepNhan", "TrangThaiHoSo", "NgayCapNhat"]
    names, extras = canonical_column_names(headers, contract)
    with pytest.raises(SchemaDriftError, match=r"column 'dossier_code': expected string .*'MaHoSoMoi'"):
        check_delivered_columns("cong-dvc/dossiers/2025-06-01/hoso.csv", contract, names, extras)
    # An added column next to a present key is no drift.
    check_delivered_columns("x.csv", contract, [*names, "dossier_code"], extras)


def test_two_writers_merging_into_one_table_lose_and_duplicate_nothing(spark, table_path):
    upsert_latest(spark, table_path, batch(spark, [("S", "seed", ts(1), "f0", 1)]), CONTRACT)
    first = batch(
        spark, [(f"A{i}", "first", ts(2), "f1", i) for i in range(20)] + [("S", "first", ts(3), "f1", 99)]
    )
    second = batch(
        spark, [(f"B{i}", "second", ts(2), "f2", i) for i in range(20)] + [("S", "second", ts(4), "f2", 99)]
    )
    outcomes, errors = {}, []
    start = threading.Barrier(2)

    def write(name, rows_):
        try:
            start.wait()
            outcomes[name] = upsert_latest(spark, table_path, rows_, CONTRACT)
        except Exception as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=write, args=a) for a in (("first", first), ("second", second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    stored = spark.read.format("delta").load(table_path)
    assert stored.count() == 41 and stored.select("code").distinct().count() == 41
    assert stored.where("code = 'S'").first()["status"] == "second"  # newest version, whoever committed last
    assert sum(o.inserted for o in outcomes.values()) == 40
    assert history(spark, table_path).where("operation = 'MERGE'").count() == 3


def test_silver_tables_have_change_data_feed_constraints_and_no_deletion_vectors(spark, table_path):
    upsert_latest(spark, table_path, batch(spark, [("A", "x", ts(2), "f1", 1)]), CONTRACT)
    properties = DeltaTable.forPath(spark, table_path).detail().first()["properties"]
    assert properties.get("delta.enableChangeDataFeed") == "true"
    # delta-rs, which reads tables for analysts without Spark, cannot read deletion vectors.
    assert properties.get("delta.enableDeletionVectors") == "false"
    assert properties.get("delta.constraints.code_not_null") == "`code` IS NOT NULL"
    null_key = batch(spark, [(None, "x", ts(3), "f9", 1)])
    with pytest.raises(Exception, match="code_not_null"):
        null_key.write.format("delta").mode("append").save(table_path)
