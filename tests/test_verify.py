"""`govlake verify`: a lake built by the daily flow passes; each kind of damage done by hand is found."""

from __future__ import annotations

import datetime as dt
import errno
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from jobs import ledger, pipeline
from jobs.lake import Lake, TableRef, bronze, quarantine, silver
from jobs.marts import source_version_property
from jobs.pipeline import LakeStorageFull
from jobs.runs import DatasetOutcome
from jobs.verify import (
    Violation,
    bronze_against_ledger,
    gold_source_versions,
    recorded_source_versions,
    run_summary_conservation,
    verify_lake,
)

SHA_A, SHA_B, SHA_UNKNOWN = "a" * 64, "b" * 64, "c" * 64
DAY = dt.datetime(2025, 6, 29, 8, 0)
ENTERPRISE_TRACKED = ("name", "address", "commune_code", "industry_code", "status",
                      "representative_name_pseudonym", "representative_id_pseudonym")  # fmt: skip


def entry(dataset: str, sha: str, path: str, rows: int, status: str = ledger.PROCESSED) -> ledger.LedgerEntry:
    return ledger.LedgerEntry(dataset, sha, path, "2025-06-29", 100, "utf-8", rows, status, None, "run-1")


# ---- the pure checks ---------------------------------------------------------------------------------


def test_bronze_rows_are_held_against_the_ledger():
    entries = [entry("payments", SHA_A, "p/a.csv", 2), entry("payments", SHA_B, "p/b.csv", 4)]
    found = bronze_against_ledger(
        "bronze.payments", {("p/a.csv", SHA_A): 2, ("p/c.csv", SHA_UNKNOWN): 1}, entries
    )
    assert [(v.check, v.detail.split(":")[0]) for v in found] == [
        ("bronze.traceable", "1 rows from p/c.csv (sha256 cccccccccccc…), a file the ingested-file ledger does not list as taken in"),
        ("bronze.conservation", "p/b.csv"),
    ]  # fmt: skip


def test_a_rejected_file_in_the_ledger_does_not_vouch_for_bronze_rows():
    entries = [entry("payments", SHA_A, "p/a.csv", 0, status=ledger.REJECTED)]
    (found,) = bronze_against_ledger("bronze.payments", {("p/a.csv", SHA_A): 3}, entries)
    assert found.check == "bronze.traceable"


def test_run_summary_conservation():
    summary = {"datasets": [
        {"dataset": "dossiers", "status": "ok", "bronze_rows": 5, "valid": 3, "quarantined": 1,
         "files": [{"relative_path": "x.jsonl", "status": "ingested", "rows_read": 5, "rows_in_bronze": 4}]},
        {"dataset": "payments", "status": "failed", "bronze_rows": 0, "valid": 0, "quarantined": 0, "files": []},
    ]}  # fmt: skip
    found = run_summary_conservation("r1", summary)
    assert [v.detail for v in found] == [
        "x.jsonl: 5 rows read, 4 in bronze",
        "5 bronze rows in the batch, 3 valid + 1 quarantined",
    ]


def test_gold_source_versions_and_their_property_names():
    properties = {
        source_version_property("dossiers"): "7",
        source_version_property("payments"): "2",
        "x": "1",
    }
    assert recorded_source_versions(properties) == {"dossiers": 7, "payments": 2}
    found = gold_source_versions("gold.m", {"dossiers": 7, "payments": 2}, {"dossiers": 6, "payments": 2})
    assert found == [
        Violation(
            "gold.m", "gold.source_version", "records silver.dossiers v7, newer than silver's latest v6"
        )
    ]


# ---- a lake: the flow's passes, a hand-broken one fails with each kind named ----------------------------


def test_a_lake_written_by_the_daily_flow_has_no_violations(sample_run, spark):
    lake: Lake = sample_run["lake"]
    report = verify_lake(spark, lake)
    assert report.violations == []
    assert any(line.startswith("silver.enterprises: ") for line in report.checked)
    result = CliRunner().invoke(app, ["verify", "--lake", lake.root])
    assert result.exit_code == 0, result.output
    assert "no violations" in result.output and "checked bronze.dossiers: " in result.output


@pytest.fixture(scope="module")
def broken_lake(spark, tmp_path_factory) -> Lake:
    root = tmp_path_factory.mktemp("broken-lake")
    lake = Lake(str(root.resolve()))
    lake.ensure_layout()

    def save(ref: TableRef, rows: list[tuple], schema: str) -> None:
        spark.createDataFrame(rows, schema).write.format("delta").save(lake.table_path(ref))

    ledger.record(
        spark, lake, [entry("payments", SHA_A, "p/a.csv", 2), entry("dossiers", SHA_B, "d/b.jsonl", 3)]
    )
    provenance = "_source_file string, _source_sha256 string, _source_row long"
    # A payments row from a file no ledger entry vouches for.
    save(
        bronze("payments"),
        [("p/a.csv", SHA_A, 1), ("p/a.csv", SHA_A, 2), ("p/x.csv", SHA_UNKNOWN, 1)],
        provenance,
    )
    # A dossiers file the ledger read 3 rows of, with 2 in bronze.
    save(bronze("dossiers"), [("d/b.jsonl", SHA_B, 1), ("d/b.jsonl", SHA_B, 2)], provenance)
    save(quarantine("payments"), [("p/a.csv", SHA_A, 2), ("p/a.csv", SHA_A, 9)], provenance)
    # A duplicate key appended to silver.
    save(
        silver("dossiers"),
        [("D-1", DAY), ("D-2", DAY), ("D-1", DAY)],
        "dossier_code string, updated_at timestamp",
    )
    # SCD2 windows that overlap: the first ends in March, the next starts in February.
    tracked = ", ".join(f"{c} string" for c in ENTERPRISE_TRACKED)
    jan, feb, mar = (dt.datetime(2025, m, 1) for m in (1, 2, 3))
    save(
        silver("enterprises"),
        [("0100109106", jan, jan, mar, False, *["x"] * 7), ("0100109106", feb, feb, None, True, *["y"] * 7)],
        f"tax_code string, updated_at timestamp, valid_from timestamp, valid_to timestamp, is_current boolean, "
        f"{tracked}",
    )
    # A mart that says it read a silver version that does not exist yet.
    mart = TableRef("gold", "fct_test_mart")
    save(mart, [(1,)], "n long")
    path = lake.table_path(mart)
    spark.sql(
        f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ('{source_version_property('dossiers')}' = '99')"
    )
    runs = Path(lake.runs_dir)
    runs.mkdir(parents=True, exist_ok=True)
    summary = {"datasets": [{"dataset": "dossiers", "status": "ok", "bronze_rows": 3, "valid": 1, "quarantined": 1,
                             "files": []}]}  # fmt: skip
    (runs / "20250629T080000-abcdef.json").write_text(json.dumps(summary), encoding="utf-8")
    return lake


def test_each_kind_of_damage_is_found(broken_lake, spark):
    report = verify_lake(spark, broken_lake)
    assert sorted((v.table, v.check) for v in report.violations) == [
        ("bronze.dossiers", "bronze.conservation"),
        ("bronze.payments", "bronze.traceable"),
        ("gold.fct_test_mart", "gold.source_version"),
        ("quarantine.payments", "quarantine.traceable"),
        ("run 20250629T080000-abcdef: dossiers", "run.conservation"),
        ("silver.dossiers", "silver.key_unique"),
        ("silver.enterprises", "silver.windows_not_overlapping"),
    ]
    details = {v.check: v.detail for v in report.violations}
    assert details["silver.key_unique"] == "1 of 2 keys break it"
    assert details["quarantine.traceable"].startswith("1 quarantined rows point at no bronze row")
    assert details["bronze.conservation"] == "d/b.jsonl: the ledger says 3 rows were read, bronze holds 2"


def test_the_command_lists_violations_and_exits_1(broken_lake):
    result = CliRunner().invoke(app, ["verify", "--lake", broken_lake.root, "--dataset", "dossiers"])
    assert result.exit_code == 1, result.output
    assert "silver.key_unique" in result.output and "bronze.conservation" in result.output
    assert "bronze.traceable" not in result.output  # payments not asked for
    assert "no violations" not in result.output


# ---- fault drill: the lake's disk fills up during an ingest ---------------------------------------------

PAYMENTS_HEADER = "MaGiaoDich,SoTien,TrangThai,ThoiGianThanhToan,ThoiGianCapNhat\n"


def deliver_payments(lake: Lake, name: str, transaction: str) -> None:
    folder = Path(lake.landing, "paygov", "payments", "2025-06-29")
    folder.mkdir(parents=True, exist_ok=True)
    row = f"{transaction},150.000,Thành công,29/06/2025 08:00:00,29/06/2025 08:05:00\n"
    (folder / name).write_text(PAYMENTS_HEADER + row, encoding="utf-8")


def fill_disk(path: Path) -> None:
    with open(path, "wb") as filler:
        try:
            while True:
                filler.write(b"\0" * (1 << 20))
                filler.flush()
        except OSError as error:
            assert error.errno == errno.ENOSPC


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A 32 MB tmpfs (needs root and a kernel that lets this container mount one)."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.strip()}): disk-full drill not run")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=False)


def test_a_full_disk_stops_the_ingest_with_a_clear_error_and_corrupts_nothing(spark, small_disk):
    lake = Lake(str(small_disk / "lake"))
    lake.ensure_layout()
    deliver_payments(lake, "ngay_1.csv", "GD-1")
    pipeline.ingest(spark, lake, "payments", "before-full", DatasetOutcome("payments"))
    deliver_payments(lake, "ngay_2.csv", "GD-2")
    filler = small_disk / "filler.bin"
    fill_disk(filler)

    with pytest.raises(LakeStorageFull, match="storage is full .*nothing was committed; free space"):
        pipeline.ingest(spark, lake, "payments", "while-full", DatasetOutcome("payments"))
    filler.unlink()
    stored = spark.read.format("delta").load(lake.table_path(bronze("payments")))
    assert [r["transaction_id"] for r in stored.collect()] == ["GD-1"]
    assert verify_lake(spark, lake, ["payments"]).violations == []

    again = DatasetOutcome("payments")
    pipeline.ingest(spark, lake, "payments", "after-freeing", again)
    assert [(f.relative_path.rsplit("/", 1)[1], f.status) for f in again.files] == [
        ("ngay_1.csv", "skipped"), ("ngay_2.csv", "ingested")
    ]  # fmt: skip
    assert verify_lake(spark, lake, ["payments"]).violations == []
