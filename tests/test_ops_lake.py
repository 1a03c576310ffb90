"""Operating a lake: backfill (resumable, idempotent), history and rollback, then maintenance.

The three share one lake, built by the backfill, because every daily run costs tens of seconds: the
rollback works on the silver versions the backfill's runs wrote, and maintenance then compacts what the
runs and the rollback left. Each stage is a module fixture that records what its tests check.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
from pyspark.testing import assertDataFrameEqual
from typer.testing import CliRunner

from flows.cli import app
from jobs.lake import Lake, bronze, current_version, gold, silver
from jobs.marts import DOSSIERS_BY_COMMUNE_MONTH
from jobs.runs import read_summary
from jobs.sample import generate_sample

pytestmark = pytest.mark.e2e
DATES = ("2025-06-29", "2025-06-30", "2025-07-01")
# The two datasets the sample's ground truth covers in full; fewer datasets, shorter runs.
DATASETS = ("dossiers", "enterprises")
ONLY = [option for name in DATASETS for option in ("--dataset", name)]
BROKEN = "so-khdt/enterprises/2025-06-30/thaydoi_20250630.csv"
SILVER = silver("dossiers")
GOLD = gold(DOSSIERS_BY_COMMUNE_MONTH)


def govlake(*args: str):
    return CliRunner().invoke(app, list(args))


def delta(spark, lake: Lake, ref, version: int | None = None):
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(lake.table_path(ref))


def table_cells(output: str, first_cell: str) -> list[str]:
    """The cells of the rich table row whose first cell is `first_cell`."""
    for line in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃]", line)[1:-1]]
        if cells and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r} in:\n{output}")


def bronze_rows_per_file(spark, lake: Lake) -> Counter:
    counts: Counter = Counter()
    for dataset in DATASETS:
        for row in delta(spark, lake, bronze(dataset)).groupBy("_source_file").count().collect():
            counts[row["_source_file"]] += row["count"]
    return counts


# ------------------------------------------------------------------------------------------------------------
# Backfill
# ------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def backfilled(spark, tmp_path_factory, prefect_harness):
    from flows.backfill import backfill_flow

    root = tmp_path_factory.mktemp("ops-lake")
    lake = Lake(str(root.resolve()))
    lake.ensure_layout()
    manifest_path = root / "_sample" / "manifest.json"
    generate_sample(
        Path(lake.landing), manifest_path, days=3, start=dt.date(2025, 6, 29), dossiers_per_day=10,
        enterprises=8, seed=3, defect_rate=0.0,
    )  # fmt: skip
    # The agency's 30 June change file arrives broken: that date fails and the backfill stops there.
    broken = Path(lake.landing, BROKEN)
    good_copy = root / "good-delivery.csv"
    shutil.copy2(broken, good_copy)
    broken.write_text("this is not the registry's change file\n1;2;3\n", encoding="utf-8")

    first = backfill_flow(start=DATES[0], end=DATES[-1], datasets=list(DATASETS), lake_root=str(root))
    after_first = bronze_rows_per_file(spark, lake)
    state_after_first = json.loads(Path(root, "_ops", "backfill", "state.json").read_text(encoding="utf-8"))

    # The agency delivers the file again; the same command resumes at the failed date.
    shutil.copy2(good_copy, broken)
    second = govlake("backfill", "--from", DATES[0], "--to", DATES[-1], *ONLY, "--lake", str(root))
    silver_rows = {
        ref.qualified_name: delta(spark, lake, ref).count() for ref in (SILVER, silver("enterprises"))
    }
    bronze_after_second = bronze_rows_per_file(spark, lake)
    third = govlake("backfill", "--from", DATES[0], "--to", DATES[-1], *ONLY, "--lake", str(root))
    return {
        "lake": lake,
        "manifest": json.loads(manifest_path.read_text(encoding="utf-8")),
        "first": first,
        "after_first": after_first,
        "state_after_first": state_after_first,
        "second": second,
        "bronze_after_second": bronze_after_second,
        "silver_rows_after_second": silver_rows,
        "third": third,
    }


def test_first_backfill_stops_at_the_failed_date_and_names_the_file(backfilled):
    first = backfilled["first"]
    assert first["status"] == "failed"
    statuses = {d["date"]: d["status"] for d in first["dates"]}
    assert statuses == {DATES[0]: "completed", DATES[1]: "failed", DATES[2]: "not reached"}
    problems = next(d for d in first["dates"] if d["date"] == DATES[1])["problems"]
    assert len(problems) == 1 and problems[0].startswith(f"enterprises: file rejected: {BROKEN}")


def test_nothing_after_the_failed_date_was_ingested(backfilled):
    ingested_dates = {path.split("/")[2] for path in backfilled["after_first"]}
    assert ingested_dates == {DATES[0], DATES[1]}
    assert BROKEN not in backfilled["after_first"]


def test_completion_is_recorded_per_date_and_dataset(backfilled):
    completed = backfilled["state_after_first"]["completed"]
    assert set(completed) == {DATES[0], DATES[1]}
    assert set(completed[DATES[0]]) == {"dossiers", "enterprises"}
    assert set(completed[DATES[1]]) == {"dossiers"}  # enterprises of 30 June must be done again


def test_rerun_redoes_only_the_failed_date_and_the_rest(backfilled):
    second = backfilled["second"]
    assert second.exit_code == 0, second.output
    assert table_cells(second.output, DATES[0])[1] == "skipped (completed before)"
    assert table_cells(second.output, DATES[1])[1] == "completed"
    assert table_cells(second.output, DATES[2])[1] == "completed"
    # Every delivered record is in bronze exactly once: nothing lost, nothing counted twice.
    expected = Counter(
        {f["path"]: f["records"] for f in backfilled["manifest"]["files"] if f["dataset"] in DATASETS}
    )
    assert backfilled["bronze_after_second"] == expected
    lake = backfilled["lake"]
    state = json.loads(Path(lake.root, "_ops", "backfill", "state.json").read_text(encoding="utf-8"))
    assert {d: set(v) for d, v in state["completed"].items()} == {d: set(DATASETS) for d in DATES}
    # 30 June: dossiers were completed by the first backfill's run, enterprises by the second's.
    first_run = next(d for d in backfilled["first"]["dates"] if d["date"] == DATES[1])["run_id"]
    assert state["completed"][DATES[1]]["dossiers"]["run_id"] == first_run
    assert state["completed"][DATES[1]]["enterprises"]["run_id"] == table_cells(second.output, DATES[1])[2]


def test_a_completed_backfill_run_again_does_nothing(backfilled):
    third = backfilled["third"]
    assert third.exit_code == 0, third.output
    for date in DATES:
        assert table_cells(third.output, date)[1:3] == ["skipped (completed before)", ""]


def test_landing_views_are_removed_and_landing_is_untouched(backfilled):
    lake = backfilled["lake"]
    assert not list(Path(lake.root).glob(".landing-view-*"))
    files = sorted(str(p.relative_to(lake.landing)) for p in Path(lake.landing).rglob("*") if p.is_file())
    assert files == sorted(f["path"] for f in backfilled["manifest"]["files"])


def test_bad_dates_are_refused_before_anything_runs(tmp_path):
    result = govlake("backfill", "--from", "2025-07-02", "--to", "2025-07-01", "--lake", str(tmp_path))
    assert result.exit_code == 2
    assert "--to 2025-07-01 is before --from 2025-07-02" in result.output
    result = govlake("backfill", "--from", "2025-13-01", "--to", "2025-07-01", "--lake", str(tmp_path))
    assert result.exit_code == 2 and "'2025-13-01' is not a delivery date (yyyy-mm-dd)" in result.output


# ------------------------------------------------------------------------------------------------------------
# History and rollback
# ------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rolled_back(backfilled, spark):
    from jobs.history import table_history

    lake = backfilled["lake"]
    first_day_run = backfilled["first"]["dates"][0]["run_id"]
    first_day = read_summary(lake.runs_dir, first_day_run)
    silver_first_day = next(d for d in first_day["datasets"] if d["dataset"] == "dossiers")["table_versions"][
        SILVER.qualified_name
    ]
    gold_first_day = first_day["marts"]["versions"][GOLD.qualified_name]
    history_before = table_history(spark, lake, SILVER)
    version_before = current_version(spark, lake.table_path(SILVER))
    reason = "30 June merge used a wrong procedure catalogue"
    refused = govlake(
        "rollback", SILVER.qualified_name, "--to-version", str(silver_first_day), "--reason", reason,
        "--lake", lake.root,
    )  # fmt: skip
    version_after_refusal = current_version(spark, lake.table_path(SILVER))
    cascaded = govlake(
        "rollback", SILVER.qualified_name, "--to-version", str(silver_first_day), "--reason", reason,
        "--cascade", "--lake", lake.root,
    )  # fmt: skip
    return {
        "lake": lake,
        "first_day_run": first_day_run,
        "silver_first_day": silver_first_day,
        "gold_first_day": gold_first_day,
        "history_before": history_before,
        "version_before": version_before,
        "refused": refused,
        "version_after_refusal": version_after_refusal,
        "cascaded": cascaded,
        "reason": reason,
        "history_after": table_history(spark, lake, SILVER),
        "history_cli": govlake("history", SILVER.qualified_name, "--lake", lake.root),
    }


def test_history_names_the_run_that_wrote_each_version(rolled_back, backfilled):
    history = {v.version: v for v in rolled_back["history_before"]}
    run_of_date = {d["date"]: d["run_id"] for d in backfilled["first"]["dates"] if d["run_id"]}
    run_of_date[DATES[2]] = table_cells(backfilled["second"].output, DATES[2])[2]
    assert history[rolled_back["silver_first_day"]].written_by == f"run {run_of_date[DATES[0]]}"
    assert history[rolled_back["silver_first_day"]].found_by == "run ledger"
    assert history[rolled_back["version_before"]].written_by == f"run {run_of_date[DATES[2]]}"
    # Every version of silver was written by one of the backfill's runs, found in the ledger or by time.
    assert {v.written_by for v in history.values()} <= {f"run {r}" for r in run_of_date.values()}
    assert all(v.found_by in ("run ledger", "time window") for v in history.values())


def test_rollback_past_what_gold_was_built_from_is_refused_without_cascade(rolled_back):
    refused = rolled_back["refused"]
    assert refused.exit_code == 2, refused.output
    message = " ".join(refused.output.split())
    assert f"gold depends on versions after {rolled_back['silver_first_day']}" in message
    assert (
        f"{GOLD.qualified_name} (built from {SILVER.qualified_name} v" in message and "--cascade" in message
    )
    assert rolled_back["version_after_refusal"] == rolled_back["version_before"]


def test_cascade_restores_silver_and_rebuilds_gold_from_it(rolled_back, spark):
    assert rolled_back["cascaded"].exit_code == 0, rolled_back["cascaded"].output
    lake = rolled_back["lake"]
    assertDataFrameEqual(
        delta(spark, lake, SILVER), delta(spark, lake, SILVER, rolled_back["silver_first_day"])
    )
    assertDataFrameEqual(delta(spark, lake, GOLD), delta(spark, lake, GOLD, rolled_back["gold_first_day"]))


def test_rollback_is_recorded_with_who_why_and_when(rolled_back):
    import getpass

    lines = Path(rolled_back["lake"].root, "_ops", "rollbacks.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1  # the refused attempt changed nothing and recorded nothing
    record = json.loads(lines[0])
    assert record["user"] == getpass.getuser()
    assert record["reason"] == rolled_back["reason"]
    assert record["table"] == SILVER.qualified_name and record["cascade"] is True
    assert record["from_version"] == rolled_back["version_before"]
    assert record["to_version"] == rolled_back["silver_first_day"]
    assert record["new_version"] == rolled_back["version_before"] + 1
    assert set(record["rebuilt"]) == {GOLD.qualified_name}
    assert dt.datetime.fromisoformat(record["rolled_back_at"]).tzinfo is not None
    newest = rolled_back["history_after"][0]
    assert newest.version == record["new_version"] and newest.operation == "RESTORE"
    assert newest.written_by.startswith(f"rollback by {record['user']} to v{record['to_version']}: ")
    assert table_cells(rolled_back["history_cli"].output, str(record["new_version"]))[2] == "RESTORE"


def test_bronze_is_never_rolled_back(rolled_back):
    result = govlake(
        "rollback",
        "bronze.dossiers",
        "--to-version",
        "0",
        "--reason",
        "x",
        "--lake",
        rolled_back["lake"].root,
    )
    assert result.exit_code == 2 and "bronze is append-only" in " ".join(result.output.split())


# ------------------------------------------------------------------------------------------------------------
# Maintenance
# ------------------------------------------------------------------------------------------------------------


def maintenance_reports(lake: Lake) -> list[Path]:
    return sorted(Path(lake.root, "_ops", "maintenance").glob("*.json"))


# Every table would be maintained by default; three keep the test short: the Z-ordered one and two
# operational tables that take many small appends.
MAINTAINED = (SILVER.qualified_name, "ops.ingested_files", "quality.rule_results")


@pytest.fixture(scope="module")
def maintained(rolled_back, spark):
    lake = rolled_back["lake"]
    silver_rows = delta(spark, lake, SILVER).collect()
    full = govlake("maintain", *[a for t in MAINTAINED for a in ("--table", t)], "--lake", lake.root)
    reports = maintenance_reports(lake)
    too_short = govlake("maintain", "--retention-hours", "24", "--lake", lake.root)
    reports_after_refusal = maintenance_reports(lake)
    zero = govlake(
        "maintain", "--retention-hours", "0", "--i-understand-time-travel-loss", "--table", SILVER.qualified_name,
        "--lake", lake.root,
    )  # fmt: skip
    restore_vacuumed = govlake(
        "rollback", SILVER.qualified_name, "--to-version", str(rolled_back["silver_first_day"]), "--reason",
        "try", "--cascade", "--lake", lake.root,
    )  # fmt: skip
    return {
        "lake": lake,
        "silver_rows": silver_rows,
        "full": full,
        "report": json.loads(reports[-1].read_text(encoding="utf-8")) if reports else None,
        "reports": reports,
        "too_short": too_short,
        "reports_after_refusal": reports_after_refusal,
        "zero": zero,
        "zero_report": json.loads(maintenance_reports(lake)[-1].read_text(encoding="utf-8")),
        "restore_vacuumed": restore_vacuumed,
    }


def test_by_default_every_existing_table_is_maintained(maintained, spark):
    from jobs.maintenance import existing_tables
    from jobs.pipeline import all_table_refs

    lake = maintained["lake"]
    found = {ref.qualified_name for ref in existing_tables(spark, lake, all_table_refs())}
    on_disk = {r.qualified_name for r in all_table_refs() if Path(lake.table_path(r), "_delta_log").is_dir()}
    assert found == on_disk
    expected = {f"{zone}.{d}" for zone in ("bronze", "silver", "quarantine") for d in DATASETS}
    assert expected | {GOLD.qualified_name, *MAINTAINED} <= found


def test_maintenance_compacts_small_files_and_z_orders_silver_dossiers(maintained, spark):
    from delta.tables import DeltaTable

    assert maintained["full"].exit_code == 0, maintained["full"].output
    report = maintained["report"]
    assert report["status"] == "succeeded" and report["retention_hours"] == 168
    tables = {t["table"]: t for t in report["tables"]}
    assert set(tables) == set(MAINTAINED)
    for entry in tables.values():
        assert entry["after"]["files"] <= entry["before"]["files"]
        assert entry["after"]["small_files"] == entry["after"]["files"]  # tiny tables: every file is small
        assert entry["after"]["version"] > entry["before"]["version"]
        assert entry["vacuum"]["files_deleted"] == 0  # every file is younger than a week
    ledger = tables["ops.ingested_files"]
    assert ledger["after"]["files"] < ledger["before"]["files"]
    assert tables[SILVER.qualified_name]["optimize"]["zorder_by"] == ["commune_code", "received_at"]
    optimize = (
        DeltaTable.forPath(spark, maintained["lake"].table_path(SILVER))
        .history()
        .where("operation = 'OPTIMIZE'")
        .first()
    )
    assert json.loads(optimize["operationParameters"]["zOrderBy"]) == ["commune_code", "received_at"]
    # OPTIMIZE changes no row.
    assertDataFrameEqual(delta(spark, maintained["lake"], SILVER), maintained["silver_rows"])
    # The report printed is the report kept.
    assert report["run_id"] in maintained["full"].output
    assert maintained["reports"][-1].name == f"{report['run_id']}.json"


def test_maintenance_versions_show_in_history(maintained, spark):
    from jobs.history import table_history

    report = maintained["report"]
    optimize_version = next(t for t in report["tables"] if t["table"] == SILVER.qualified_name)["after"][
        "version"
    ]
    optimized = [
        v for v in table_history(spark, maintained["lake"], SILVER)
        if v.operation == "OPTIMIZE" and v.version <= optimize_version
    ]  # fmt: skip
    assert [(v.written_by, v.found_by) for v in optimized] == [
        (f"maintenance {report['run_id']}", "maintenance report")
    ]


def test_retention_below_a_week_is_refused_without_the_explicit_flag(maintained):
    refused = maintained["too_short"]
    assert refused.exit_code == 2
    assert "--i-understand-time-travel-loss" in " ".join(refused.output.split())
    assert maintained["reports_after_refusal"] == maintained["reports"]  # nothing ran


def test_explicit_short_retention_deletes_old_files_and_ends_time_travel(maintained):
    assert maintained["zero"].exit_code == 0, maintained["zero"].output
    (entry,) = maintained["zero_report"]["tables"]
    assert entry["table"] == SILVER.qualified_name
    assert entry["vacuum"]["retention_hours"] == 0 and entry["vacuum"]["files_deleted"] > 0
    restore = maintained["restore_vacuumed"]
    assert restore.exit_code == 2
    assert "removed by VACUUM" in " ".join(restore.output.split())
