"""The lake's table registry in the session catalog."""

from __future__ import annotations

from jobs.lake import Lake, TableRef, register_tables

REF = TableRef("silver", "registry_probe")


def write_probe(spark, root, rows: int) -> Lake:
    lake = Lake(str(root))
    lake.ensure_layout()
    spark.range(rows).write.format("delta").save(lake.table_path(REF))
    return lake


def test_a_second_lake_in_the_same_session_gets_its_own_tables(spark, tmp_path):
    first = write_probe(spark, tmp_path / "first", 3)
    second = write_probe(spark, tmp_path / "second", 5)
    empty = Lake(str(tmp_path / "empty"))

    assert register_tables(spark, first, [REF]) == [REF.qualified_name]
    assert spark.table(REF.qualified_name).count() == 3
    assert register_tables(spark, second, [REF]) == [REF.qualified_name]
    assert spark.table(REF.qualified_name).count() == 5
    assert register_tables(spark, empty, [REF]) == []
    assert not spark.catalog.tableExists(REF.qualified_name)
    # Re-pointing a name never touches the data it pointed at.
    assert spark.read.format("delta").load(first.table_path(REF)).count() == 3
