"""Replay of quarantined rows after a reference fix: released rows reach silver and leave quarantine."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F
from typer.testing import CliRunner

from jobs import pipeline, reference_data
from jobs.lake import Lake, bronze, quarantine, silver
from jobs.pii import PiiKey, pseudonymise_pii
from jobs.quality import EXPECTATIONS_DIR
from jobs.replay import quarantine_counts, replay_quarantine
from jobs.runs import DatasetOutcome

KEY = PiiKey(b"k" * 32, source="test")
NEW_COMMUNE = "99999"  # a commune code the shipped catalogue lacks (as if the catalogue were late)
UNKNOWN_COMMUNE = "dossiers.commune_code.known"
BAD_ID = "dossiers.applicant_id.format"
MISSING_PROCEDURE = "dossiers.procedure_code.not_null"


def dossier(code: str, commune: str, applicant_id: str, procedure: str = "1.001193") -> dict[str, str]:
    return {
        "MaHoSo": code, "MaTTHC": procedure, "TenTTHC": "Đăng ký khai sinh", "KenhThucHien": "2",
        "ChuHoSo": "Nguyễn Văn An", "SoGiayToChuHoSo": applicant_id, "SoDienThoai": "0912345678",
        "Email": "an@example.vn", "MaXa": commune, "NgayNopHoSo": "20250629080000",
        "NgayTiepNhan": "20250629080000", "NgayHenTra": "20250705170000", "TrangThaiHoSo": "4",
        "NgayCapNhat": "20250629090000",
    }  # fmt: skip


DELIVERED = [
    dossier("H-1", "25747", "074095001234"),  # valid
    dossier("H-2", NEW_COMMUNE, "074095001235"),  # only the unknown commune: released by the fix
    dossier("H-3", NEW_COMMUNE, "07409500123X"),  # unknown commune and a bad ID: the ID still fails
    dossier("H-4", "25750", "074095001236", procedure=""),  # no procedure code: the fix does not help
]


@pytest.fixture(scope="module")
def processed_template(spark, tmp_path_factory) -> Path:
    """A lake whose dossier delivery went through ingest and validation once (1 valid, 3 quarantined)."""
    root = tmp_path_factory.mktemp("replay-template")
    lake = Lake(str(root.resolve()))
    lake.ensure_layout()
    folder = Path(lake.landing, "cong-dvc", "dossiers", "2025-06-29")
    folder.mkdir(parents=True)
    lines = [json.dumps(record, ensure_ascii=False) for record in DELIVERED]
    (folder / "dossiers_20250629.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    outcome = DatasetOutcome("dossiers")
    pipeline.ingest(spark, lake, "dossiers", "run-1", outcome)
    pipeline.process(spark, lake, "dossiers", "run-1", KEY, outcome)
    assert (outcome.bronze_rows, outcome.valid, outcome.quarantined) == (4, 1, 3)
    return root


@pytest.fixture
def processed_lake(processed_template, tmp_path) -> Lake:
    """A copy of the template per test (Delta tables name their files relative to the table)."""
    root = tmp_path / "lake"
    shutil.copytree(processed_template, root)
    return Lake(str(root.resolve()))


def table(spark, lake: Lake, ref):
    return spark.read.format("delta").load(lake.table_path(ref))


def held_reasons(spark, lake: Lake) -> dict[str, list[str]]:
    return {
        r["record_key"]: sorted(r["rule_ids"]) for r in table(spark, lake, quarantine("dossiers")).collect()
    }


def fixed_catalogue(monkeypatch) -> None:
    shipped = reference_data.value_set

    def with_new_commune(reference: str) -> list[str]:
        values = shipped(reference)
        return [*values, NEW_COMMUNE] if reference == "admin_units_74_pre2025.commune_code" else values

    monkeypatch.setattr(reference_data, "value_set", with_new_commune)


def test_replay_after_a_reference_fix_releases_what_now_passes(spark, processed_lake, monkeypatch):
    lake = processed_lake
    assert held_reasons(spark, lake) == {
        "H-2": [UNKNOWN_COMMUNE],
        "H-3": [BAD_ID, UNKNOWN_COMMUNE],
        "H-4": [MISSING_PROCEDURE],
    }
    fixed_catalogue(monkeypatch)

    outcome = replay_quarantine(spark, lake, "dossiers", "replay-1", KEY)

    assert (outcome.rechecked, outcome.released, outcome.still_failing) == (3, 1, 2)
    assert (outcome.inserted, outcome.updated, outcome.not_in_bronze) == (1, 0, 0)
    assert outcome.conserved
    in_silver = table(spark, lake, silver("dossiers"))
    assert sorted(r["dossier_code"] for r in in_silver.collect()) == ["H-1", "H-2"]
    released = in_silver.where("dossier_code = 'H-2'").first()
    assert released["commune_code"] == NEW_COMMUNE and released["_source_row"] == 2
    assert released["applicant_id_pseudonym"] and "applicant_id" not in in_silver.columns
    # H-3 is still held, now for its ID only, with the messages to match; H-4 is untouched.
    assert held_reasons(spark, lake) == {"H-3": [BAD_ID], "H-4": [MISSING_PROCEDURE]}
    h3 = table(spark, lake, quarantine("dossiers")).where("record_key = 'H-3'").first()
    assert h3["severity"] == "quarantine" and len(h3["messages_en"]) == 1 and "CCCD" in h3["messages_en"][0]
    assert "07409500123X" not in h3["payload"] and h3["quarantined_run_id"] == "run-1"
    # Counts add up: every bronze row is in silver or in quarantine, exactly once.
    assert table(spark, lake, bronze("dossiers")).count() == in_silver.count() + 2


def test_a_second_replay_changes_nothing(spark, processed_lake, monkeypatch):
    lake = processed_lake
    fixed_catalogue(monkeypatch)
    replay_quarantine(spark, lake, "dossiers", "replay-1", KEY)
    versions = {
        ref: DeltaTable.forPath(spark, lake.table_path(ref)).history(1).first()["version"]
        for ref in (silver("dossiers"), quarantine("dossiers"))
    }

    again = replay_quarantine(spark, lake, "dossiers", "replay-2", KEY)

    assert (again.rechecked, again.released, again.still_failing) == (2, 0, 2)
    assert held_reasons(spark, lake) == {"H-3": [BAD_ID], "H-4": [MISSING_PROCEDURE]}
    assert (
        versions[silver("dossiers")]
        == DeltaTable.forPath(spark, lake.table_path(silver("dossiers"))).history(1).first()["version"]
    )
    assert table(spark, lake, silver("dossiers")).count() == 2


def test_a_rule_fix_from_another_suite_directory(spark, processed_lake, tmp_path):
    """A corrected suite (here: the procedure code made a warning) releases the rows it no longer holds."""
    suite = json.loads((EXPECTATIONS_DIR / "dossiers.json").read_text(encoding="utf-8"))
    for expectation in suite["expectations"]:
        if expectation["meta"]["rule_id"] == MISSING_PROCEDURE:
            expectation["meta"]["severity"] = "warn"
    corrected = tmp_path / "corrected-suites"
    corrected.mkdir()
    (corrected / "dossiers.json").write_text(json.dumps(suite, ensure_ascii=False), encoding="utf-8")

    outcome = replay_quarantine(spark, processed_lake, "dossiers", "replay-1", KEY, suites_dir=corrected)

    assert (outcome.rechecked, outcome.released, outcome.still_failing) == (3, 1, 2)
    h4 = table(spark, processed_lake, silver("dossiers")).where("dossier_code = 'H-4'").first()
    assert h4["_dq_warnings"] == [MISSING_PROCEDURE]


def test_counts_by_rule_and_the_cli(spark, processed_lake, test_settings, monkeypatch):
    by_rule, totals = quarantine_counts(spark, processed_lake, "dossiers")
    assert {(c.run_id, c.rule_id, c.severity, c.rows) for c in by_rule} == {
        ("run-1", UNKNOWN_COMMUNE, "quarantine", 2),
        ("run-1", BAD_ID, "quarantine", 1),
        ("run-1", MISSING_PROCEDURE, "quarantine", 1),
    }
    assert [(t.run_id, t.dataset, t.rows) for t in totals] == [("run-1", "dossiers", 3)]

    from flows import runtime
    from flows.cli import app

    # The runtime the commands get: this session, this lake, and the key the lake was written with.
    settings = dataclasses.replace(test_settings, pii_key_hex=KEY.reveal_secret_bytes().hex())
    monkeypatch.setattr(
        runtime, "get_runtime", lambda lake_root=None: runtime.Runtime(settings, spark, processed_lake)
    )
    cli = CliRunner()
    listed = cli.invoke(app, ["quarantine", "list", "--samples", "3"])
    assert listed.exit_code == 0, listed.output
    assert UNKNOWN_COMMUNE in listed.output and "07409500123X" not in listed.output
    assert "*********235" in listed.output  # H-2's applicant ID as its masked payload shows it

    unfixed = cli.invoke(app, ["quarantine", "replay", "dossiers"])
    assert unfixed.exit_code == 0, unfixed.output
    assert "3 rechecked, 0 released" in unfixed.output and "3 still failing" in unfixed.output
    fixed_catalogue(monkeypatch)
    replayed = cli.invoke(app, ["quarantine", "replay", "dossiers"])
    assert replayed.exit_code == 0, replayed.output
    assert "3 rechecked, 1 released (silver +1 new, 0 updated), 2 still failing" in replayed.output
    released = table(spark, processed_lake, silver("dossiers")).where("dossier_code = 'H-2'").first()
    expected = spark.range(1).select(pseudonymise_pii("citizen_id", F.lit("074095001235"), KEY).alias("p"))
    assert released["applicant_id_pseudonym"] == expected.first()["p"]

    unknown = cli.invoke(app, ["quarantine", "replay", "no_such_dataset"])
    assert unknown.exit_code == 2 and "unknown dataset" in unknown.output
