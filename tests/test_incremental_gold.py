"""Gold from silver's change data feed, through the one generic builder (`jobs.marts.refresh_mart`): for every
mart in the registry, after every batch the incremental build equals a full rebuild (rows that move between
months and places, stocks that carry forward, a horizon that jumps months, a payment that moves with its
dossier); a build with nothing new writes nothing; a build stopped before recording versions converges."""

from __future__ import annotations

import datetime as dt

import pytest
from delta.tables import DeltaTable
from pyspark.testing import assertDataFrameEqual
from silver_samples import (
    HIEP_THANH,
    ONLY_2025,
    PHU_CUONG,
    PHU_THO,
    air,
    at,
    dossier,
    enterprise,
    feedback,
    first,
    incident,
    merge,
    payment,
    visits,
)

from jobs.lake import Lake, gold
from jobs.mart_registry import MARTS
from jobs.marts import (
    DOSSIERS_BY_COMMUNE_MONTH,
    MartSpec,
    dossier_months_touched,
    forward_closure,
    months_predicate,
    refresh_mart,
    silver_frames,
    source_version_property,
    source_versions_recorded,
)
from jobs.merge import table_version
from jobs.pipeline import all_table_refs, build_marts

ACTIVE, DISSOLVED = "Đang hoạt động", "Đã giải thể"


def current_versions(spark, lake: Lake, spec: MartSpec) -> dict[str, int]:
    return {ds: table_version(DeltaTable.forPath(spark, f"{lake.root}/silver/{ds}")) for ds in spec.sources}


def gold_version(spark, lake: Lake, spec: MartSpec) -> int:
    return table_version(DeltaTable.forPath(spark, lake.table_path(gold(spec.name))))


def assert_gold_equals_a_full_rebuild(spark, lake: Lake, marts: tuple[MartSpec, ...] = MARTS) -> None:
    for spec in marts:
        versions = current_versions(spark, lake, spec)
        expected = spec.build(silver_frames(spark, lake, versions), None)
        stored = spark.read.format("delta").load(lake.table_path(gold(spec.name)))
        assertDataFrameEqual(stored, expected, checkRowOrder=False)
        assert source_versions_recorded(spark, lake.table_path(gold(spec.name))) == versions, spec.name


def refresh_all(spark, lake: Lake, full: bool = False) -> dict[str, object]:
    return {spec.name: refresh_mart(spark, lake, spec, full=full) for spec in MARTS}


@pytest.fixture(scope="module")
def batches(spark, tmp_path_factory) -> dict[str, object]:
    """Three batches over every source, each followed by a refresh of every mart and a full-rebuild check."""
    lake = Lake(str(tmp_path_factory.mktemp("incremental-gold")))
    merge(spark, lake, "dossiers",
          dossier("D1", PHU_CUONG, at(5, 10), at(5, 10)),
          dossier("D2", PHU_CUONG, at(5, 20), at(5, 25), finished=at(5, 25), paid_online=1),
          dossier("D3", HIEP_THANH, at(6, 1), at(6, 1), channel=2))  # fmt: skip
    # D2's fee was paid before its receipt month.
    merge(
        spark,
        lake,
        "payments",
        payment("P0", "D2", 120_000, at(4, 28)),
        payment("P1", "D2", 80_000, at(5, 21)),
    )
    merge(spark, lake, "feedback", feedback("F1", PHU_THO, at(6, 1)), feedback("F2", ONLY_2025, at(6, 2)))
    merge(spark, lake, "enterprises",
          enterprise("E1", PHU_CUONG, ACTIVE, at(5, 1), dt.date(2024, 12, 2)),
          enterprise("E2", HIEP_THANH, ACTIVE, at(5, 3), dt.date(2025, 5, 2)))  # fmt: skip
    merge(
        spark,
        lake,
        "air_quality",
        air("S1", PHU_CUONG, at(6, 1, 0), 64.0),
        air("S1", PHU_CUONG, at(6, 1, 1), 40.0),
    )
    merge(spark, lake, "health_visits", visits("H1", HIEP_THANH, dt.date(2025, 6, 2), "KB", 9, 4, at(6, 3)))
    merge(spark, lake, "traffic_incidents", incident("T1", PHU_THO, at(7, 1), injuries=1))
    first_refresh = refresh_all(spark, lake)
    after_first = {spec.name: current_versions(spark, lake, spec) for spec in MARTS}

    # D1 finishes in June, late; D3 moves to another commune; D4 is new with a payment; E1 is dissolved; an
    # air measurement in September moves the horizon past an empty August (D3's stock must fill it).
    merge(spark, lake, "dossiers",
          dossier("D1", PHU_CUONG, at(5, 10), at(6, 3), due=at(5, 20), finished=at(6, 3), file="g"),
          dossier("D3", PHU_THO, at(6, 1), at(6, 4), channel=2, file="g", row=2),
          dossier("D4", HIEP_THANH, at(6, 4), at(6, 4), paid_online=1, file="g", row=3))  # fmt: skip
    merge(spark, lake, "payments", payment("P2", "D4", 30_000, at(6, 4), file="g"))
    merge(
        spark,
        lake,
        "enterprises",
        enterprise("E1", PHU_CUONG, DISSOLVED, at(6, 20), dt.date(2024, 12, 2), file="g"),
    )
    merge(spark, lake, "air_quality", air("S1", PHU_CUONG, at(9, 1, 5), 12.0, file="g"))
    second_refresh = refresh_all(spark, lake)
    assert_gold_equals_a_full_rebuild(spark, lake)
    after_second = {spec.name: current_versions(spark, lake, spec) for spec in MARTS}

    # D2 moves commune (its April payment moves with it, though no payment changed); D3 goes back; F1 is
    # answered with a rating.
    merge(spark, lake, "dossiers",
          dossier("D2", PHU_THO, at(5, 20), at(6, 5), finished=at(5, 25), paid_online=1, file="h"),
          dossier("D3", HIEP_THANH, at(6, 1), at(6, 6), channel=2, file="h", row=2))  # fmt: skip
    merge(spark, lake, "feedback", feedback("F1", PHU_THO, at(6, 1), answered=at(6, 3), rating=4, file="h"))
    third_refresh = refresh_all(spark, lake)
    assert_gold_equals_a_full_rebuild(spark, lake)
    return {
        "lake": lake,
        "refreshes": [first_refresh, second_refresh, third_refresh],
        "after_first": after_first,
        "after_second": after_second,
    }


def test_incremental_builds_equal_full_rebuilds_for_every_mart_over_a_sequence_of_batches(spark, batches):
    first_refresh, second_refresh, third_refresh = batches["refreshes"]
    assert {r.mode for r in first_refresh.values()} == {"full"}  # no gold yet
    assert {r.mode for r in (*second_refresh.values(), *third_refresh.values())} == {"incremental"}
    commune_month = second_refresh["commune_month"]
    # Stocks carry forward: every month from the earliest touched one (D1's receipt, E1's first window) through
    # the new horizon, September, the empty August included. E1's founding month (December 2024) is not
    # touched: its first window did not change.
    assert commune_month.months == tuple(first(m) for m in range(5, 10))
    # The April payment moved with its dossier although no payment changed.
    assert first(4) in third_refresh["commune_month"].months
    assert third_refresh[DOSSIERS_BY_COMMUNE_MONTH].months == (first(5), first(6))
    rows = {
        (r["commune_code"], r["month"]): r
        for r in spark.read.format("delta").load(batches["lake"].table_path(gold("commune_month"))).collect()
    }
    assert rows[(PHU_THO.commune_code, first(4))]["fee_revenue_vnd"] == 120_000
    assert (PHU_CUONG.commune_code, first(4)) not in rows
    assert (
        rows[(HIEP_THANH.commune_code, first(8))]["dossiers_in_process"] == 2
    )  # D3 and D4 through the horizon
    assert rows[(PHU_CUONG.commune_code, first(6))]["enterprises_dissolved"] == 1
    full = refresh_all(spark, batches["lake"], full=True)
    assert {r.mode for r in full.values()} == {"full"}
    assert_gold_equals_a_full_rebuild(spark, batches["lake"])


def test_a_build_with_nothing_new_in_silver_writes_no_gold_version(spark, batches):
    lake = batches["lake"]
    before = {spec.name: gold_version(spark, lake, spec) for spec in MARTS}
    again = refresh_all(spark, lake)
    assert {r.mode for r in again.values()} == {"unchanged"}
    assert {name: r.table_version for name, r in again.items()} == before
    resend = merge(spark, lake, "traffic_incidents", incident("T1", PHU_THO, at(7, 1), injuries=1))
    assert not resend.committed
    assert build_marts(spark, lake) == {f"gold.{name}": version for name, version in before.items()}


def test_a_build_stopped_before_recording_the_silver_versions_converges(spark, batches):
    lake = batches["lake"]
    for spec in MARTS:
        # As if the last build had written its rows but stopped before recording the versions.
        recorded = batches["after_second"][spec.name]
        assignments = ", ".join(f"'{source_version_property(ds)}' = '{v}'" for ds, v in recorded.items())
        spark.sql(f"ALTER TABLE delta.`{lake.table_path(gold(spec.name))}` SET TBLPROPERTIES ({assignments})")
    repeated = refresh_all(spark, lake)
    assert {r.mode for r in repeated.values()} == {"incremental"}
    assert_gold_equals_a_full_rebuild(spark, lake)


def test_a_mart_without_recorded_versions_is_rebuilt_in_full(spark, batches):
    lake = batches["lake"]
    spec = next(s for s in MARTS if s.name == DOSSIERS_BY_COMMUNE_MONTH)
    path = lake.table_path(gold(spec.name))
    spark.sql(f"ALTER TABLE delta.`{path}` UNSET TBLPROPERTIES ('{source_version_property('dossiers')}')")
    rebuilt = refresh_mart(spark, lake, spec)
    assert rebuilt.mode == "full" and "no record" in rebuilt.reason
    assert_gold_equals_a_full_rebuild(spark, lake, (spec,))


def test_one_command_rebuilds_every_mart_in_full_with_the_same_rows(spark, batches):
    from typer.testing import CliRunner

    from flows.cli import app

    lake = batches["lake"]
    before = {
        spec.name: spark.read.format("delta").load(lake.table_path(gold(spec.name))).collect()
        for spec in MARTS
    }
    result = CliRunner().invoke(app, ["marts", "--full", "--lake", lake.root])
    assert result.exit_code == 0, result.output
    for spec in MARTS:
        assert f"gold.{spec.name}: version" in result.output
        rebuilt = spark.read.format("delta").load(lake.table_path(gold(spec.name)))
        assertDataFrameEqual(rebuilt, spark.createDataFrame(before[spec.name], rebuilt.schema))


def test_build_marts_skips_a_mart_whose_sources_do_not_exist_yet(spark, tmp_path):
    lake = Lake(str(tmp_path))
    merge(spark, lake, "dossiers", dossier("D1", PHU_CUONG, at(5, 10), at(5, 10)))
    built = build_marts(spark, lake)
    assert set(built) == {f"gold.{DOSSIERS_BY_COMMUNE_MONTH}"}  # commune_month waits for its other sources
    assert {f"gold.{spec.name}" for spec in MARTS} <= {ref.qualified_name for ref in all_table_refs()}


def test_touched_months_take_both_images_of_a_moved_dossier(spark):
    from silver_samples import frame

    before = dossier("D1", PHU_CUONG, at(5, 10), at(5, 10))
    after = dossier("D1", PHU_THO, at(6, 2), at(6, 3), finished=at(7, 1))
    months = dossier_months_touched("dossiers", frame(spark, "dossiers", [before, after]))
    assert sorted(r["month"] for r in months.collect()) == [first(5), first(6), first(7)]


def test_forward_closure_and_month_predicate():
    assert forward_closure([first(6), first(5)], None) == [first(5), first(6)]
    # Past gold's latest month (July): the months between are new for every open stock.
    assert forward_closure([first(9)], first(7)) == [first(8), first(9)]
    # Gold's later months are recomputed (the horizon may move back).
    assert forward_closure([first(5)], first(7)) == [first(5), first(6), first(7)]
    assert (
        months_predicate([first(6), first(5), first(6)]) == "`month` IN (DATE'2025-05-01', DATE'2025-06-01')"
    )
