"""Leak scanner: planted identifiers are found where they are; the platform's own values are not reported."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs.identifiers import tax_code_problem
from jobs.pii_scan import (
    Finding,
    default_scan_roots,
    find_identifiers,
    is_tax_code_field,
    main,
    scan_for_pii,
)

PSEUDONYM = hashlib.sha256(b"pseudonym of someone").hexdigest()
FILE_SHA256 = hashlib.sha256(b"landing/dossiers/2025-06-29/hs.csv").hexdigest()
# A run id whose last group is 12 digits shaped like a CCCD: UUIDs must still not be reported.
RUN_ID = "3f2b8c1e-0a4d-4e6f-9b7a-074123456789"
TIMESTAMP = "20250629083000"
COMMUNE_CODE = "25741"
# Valid enterprise tax codes; the first two are also shaped exactly like mobile numbers.
TAX_CODE_LIKE_MOBILE = "0323456784"
OTHER_TAX_CODE_LIKE_MOBILE = "0901234564"
TAX_CODE = "3700123450"

RAW_VALUES = ("0912345678", "0912 345 678", "074123456789", "280123456", "an.nguyen@gmail.com")


def test_reference_tax_codes_are_valid():
    assert all(
        tax_code_problem(code) is None
        for code in (TAX_CODE_LIKE_MOBILE, OTHER_TAX_CODE_LIKE_MOBILE, TAX_CODE)
    )


def locations(findings: list[Finding], file: Path) -> set[tuple[str, str, str]]:
    return {(f.location, f.kind, f.excerpt) for f in findings if f.file == file}


def assert_no_raw_value(findings: list[Finding]) -> None:
    printed = "\n".join(str(f) for f in findings) + "\n".join(repr(f) for f in findings)
    for raw in RAW_VALUES:
        assert raw not in printed


DOSSIER_SCHEMA = (
    "dossier_code string, applicant_pseudonym string, source_sha256 string, ingest_run_id string, "
    "received_at string, commune_code string, tax_code string, mst string, fee long, note string"
)


def dossier_row(code: str, note: str | None) -> tuple:
    return (code, PSEUDONYM, FILE_SHA256, RUN_ID, TIMESTAMP, COMMUNE_CODE, TAX_CODE_LIKE_MOBILE,
            OTHER_TAX_CODE_LIKE_MOBILE, 150000000, note)  # fmt: skip


def write_delta(spark, rows: list[tuple], path: Path, **options: str) -> Path:
    """Write (or append to) a Delta table in one data file and return that file."""
    files_before = set(path.glob("part-*.parquet"))
    writer = spark.createDataFrame(rows, DOSSIER_SCHEMA).coalesce(1).write.format("delta").options(**options)
    writer.mode("append").save(str(path))
    (data_file,) = set(path.glob("part-*.parquet")) - files_before
    return data_file


def test_finds_identifiers_in_delta_data_files_and_in_the_delta_log_statistics(spark, tmp_path):
    table = tmp_path / "lake" / "silver" / "dossiers"
    rows = [
        dossier_row("HS-1", "Hồ sơ đầy đủ, ngày 0.912345678"),
        dossier_row("HS-2", "Gọi lại 0912 345 678"),
        dossier_row("HS-3", "CCCD 074123456789 sai ngày sinh"),
        dossier_row("HS-4", "email an.nguyen@gmail.com"),
    ]
    # A checkpoint after every commit: checkpoints repeat the statistics, as JSON text and as columns.
    data_file = write_delta(spark, rows, table, **{"delta.checkpointInterval": "1"})
    write_delta(spark, [dossier_row("HS-5", "Hồ sơ bổ sung")], table)
    findings = scan_for_pii([tmp_path / "lake"])

    assert locations(findings, data_file) == {
        ("column note, row 1", "mobile", "*******678"),
        ("column note, row 2", "cccd", "*********789"),
        ("column note, row 3", "email", "a***@gmail.com"),
    }
    # Delta keeps min/max of each column per file: the smallest and largest notes are leaks too.
    log = table / "_delta_log"
    commit_findings = locations(findings, log / "00000000000000000000.json")
    assert {(kind, location.split(", ", 1)[1]) for location, kind, _ in commit_findings} == {
        ("cccd", "$.add.stats > $.minValues.note"),
        ("email", "$.add.stats > $.maxValues.note"),
    }
    assert all(location.startswith("line ") for location, _, _ in commit_findings)
    checksum_findings = locations(findings, log / "00000000000000000000.crc")
    assert ("line 1, $.allFiles[0].stats > $.minValues.note", "cccd", "*********789") in checksum_findings
    checkpoint_paths = {
        (kind, location.split(", ", 2)[2])
        for location, kind, _ in locations(findings, log / "00000000000000000001.checkpoint.parquet")
    }
    assert {
        ("cccd", "$.stats > $.minValues.note"),
        ("cccd", "$.stats_parsed.minValues.note"),
    } <= checkpoint_paths
    # Nothing else: not the tax codes shaped like mobile numbers, the fee, the pseudonym, hash or run id.
    assert all("note" in f.location for f in findings)
    assert_no_raw_value(findings)


def test_a_delta_table_of_pseudonyms_hashes_ids_and_codes_is_clean(spark, tmp_path):
    table = tmp_path / "gold" / "fct_dossiers"
    write_delta(
        spark, [dossier_row("HS-1", f"run {RUN_ID} at {TIMESTAMP}"), dossier_row("HS-2", None)], table
    )
    assert scan_for_pii([tmp_path]) == []


def test_parquet_is_read_in_batches_with_global_row_numbers_and_nested_fields(tmp_path):
    rows = 5
    table = pa.table(
        {
            "payload": [json.dumps({"MaHoSo": f"HS-{i}", "MST": TAX_CODE_LIKE_MOBILE}) for i in range(4)]
            + [json.dumps({"MaHoSo": "HS-4", "SoDienThoai": "0912345678", "MST": TAX_CODE_LIKE_MOBILE})],
            "contacts": [
                [],
                [{"kind": "phone", "value": "*******678"}],
                [],
                [{"kind": "email", "value": "a@b.vn"}],
                [],
            ],
            "attributes": pa.array(
                [[], [], [("ghi_chu", "CMND 280123456")], [], [("run", RUN_ID)]],
                type=pa.map_(pa.string(), pa.string()),
            ),
            "seconds": list(range(rows)),
        }
    )
    path = tmp_path / "quarantine" / "dossiers" / "part-00000.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(table, path, row_group_size=2)
    assert pq.ParquetFile(path).num_row_groups == 3

    findings = scan_for_pii([tmp_path / "quarantine"])
    assert locations(findings, path) == {
        ("column payload, row 4, $.SoDienThoai", "mobile", "*******678"),
        ("column contacts, row 3, $[0].value", "email", "a***@b.vn"),
        ("column attributes, row 2, $.ghi_chu", "cmnd", "******456"),
    }


def test_finds_identifiers_in_json_html_log_and_csv_files(tmp_path):
    report = tmp_path / "_quality" / "validation.json"
    report.parent.mkdir()
    report.write_text(
        json.dumps(
            {
                "run_id": RUN_ID,
                "results": [{"rule": "mobile_format", "unexpected": ["0912345678", PSEUDONYM]}],
            },
            indent=2,
        )
    )
    ledger = tmp_path / "_ops" / "runs.jsonl"
    ledger.parent.mkdir()
    ledger.write_text(
        json.dumps({"run_id": RUN_ID, "finished": TIMESTAMP})
        + "\n"
        + json.dumps(
            {"run_id": RUN_ID, "detail": {"Email": "an.nguyen@gmail.com", "MST": TAX_CODE_LIKE_MOBILE}}
        )
        + "\n"
    )
    page = tmp_path / "_reports" / "run.html"
    page.parent.mkdir()
    page.write_text(
        "<html><body>\n"
        f"<p>Run {RUN_ID} · {TIMESTAMP} · xã {COMMUNE_CODE} · {PSEUDONYM}</p>\n"
        "<td>SĐT: 0912&nbsp;345&nbsp;678</td>\n"
        "</body></html>\n"
    )
    log = tmp_path / "logs" / "flow.log"
    log.parent.mkdir()
    log.write_text(
        f"2025-06-29 08:30:00 INFO run {RUN_ID} read file sha256={FILE_SHA256}\n"
        "2025-06-29 08:30:01 WARNING rejected row: CMND=280123456\n"
    )
    table = tmp_path / "_reports" / "summary.csv"
    table.write_text(f"dossier_code,tax_code,note\nHS-1,{TAX_CODE_LIKE_MOBILE},gọi 0912345678\n")

    findings = scan_for_pii(default_scan_roots(tmp_path))

    assert locations(findings, report) == {("$.results[0].unexpected[0]", "mobile", "*******678")}
    assert locations(findings, ledger) == {("line 2, $.detail.Email", "email", "a***@gmail.com")}
    assert locations(findings, page) == {("line 3", "mobile", "*******678")}
    assert locations(findings, log) == {("line 2", "cmnd", "******456")}
    assert locations(findings, table) == {("line 2, column note", "mobile", "*******678")}
    assert len(findings) == 5
    assert_no_raw_value(findings)


def test_files_with_only_platform_values_are_clean(tmp_path):
    (tmp_path / "_reports").mkdir()
    (tmp_path / "_reports" / "run.html").write_text(
        f"<p>{RUN_ID} {PSEUDONYM} {FILE_SHA256} {TIMESTAMP} {COMMUNE_CODE} MST {TAX_CODE}</p>\n"
        "<p>pass rate 0.912345678; 2025-06-29T08:30:00.123+07:00; 1751167800000</p>\n"
    )
    (tmp_path / "_reports" / "summary.csv").write_text(
        f"commune_code,MaSoThue,run_id\n{COMMUNE_CODE},{TAX_CODE_LIKE_MOBILE},{RUN_ID}\n"
    )
    (tmp_path / "_ops").mkdir()
    (tmp_path / "_ops" / "run.json").write_text(
        json.dumps(
            {
                "run_id": RUN_ID,
                "started": TIMESTAMP,
                "rows_read": 123456789,  # numbers are counts and sizes, not identifiers
                "files": [{"sha256": FILE_SHA256, "tax_code": TAX_CODE_LIKE_MOBILE, "commune": COMMUNE_CODE}],
                "enterprise": {"mst": OTHER_TAX_CODE_LIKE_MOBILE, "person": PSEUDONYM},
            }
        )
    )
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "flow.log").write_text(f"{TIMESTAMP} run {RUN_ID} merged {PSEUDONYM}\n")
    assert scan_for_pii(default_scan_roots(tmp_path)) == []


def test_tax_code_fields_skip_only_the_mobile_pattern(tmp_path):
    ledger = tmp_path / "enterprises.json"
    ledger.write_text(
        json.dumps(
            [
                {"tax_code": TAX_CODE_LIKE_MOBILE, "note": TAX_CODE_LIKE_MOBILE},
                # From July 2025 an individual's tax code is the personal ID number: still a leak.
                {"MaSoThue": "074123456789"},
            ]
        )
    )
    assert locations(scan_for_pii([ledger]), ledger) == {
        ("line 1, $[0].note", "mobile", "*******784"),
        ("line 1, $[1].MaSoThue", "cccd", "*********789"),
    }


@pytest.mark.parametrize(
    "name, is_tax_code",
    [
        ("tax_code", True),
        ("MST", True),
        ("mst_chi_nhanh", True),
        ("MaSoThue", True),
        ("ma_so_doanh_nghiep", True),
        ("EnterpriseTaxCode", True),
        ("timestamp", False),
        ("SoDienThoai", False),
        ("most_recent", False),
    ],
)
def test_tax_code_field_names(name, is_tax_code):
    assert is_tax_code_field(name) is is_tax_code


@pytest.mark.parametrize(
    "text",
    [
        PSEUDONYM,
        FILE_SHA256.upper(),
        "ab" + "074123456789" + "cd",  # 12 digits inside a hex string
        "1074123456789",  # 12 digits inside a longer digit run
        TIMESTAMP,
        "202506290830",
        RUN_ID,
        COMMUNE_CODE,
        TAX_CODE,
        "0.912345678",
        "0.0912345678",
        "1751167800000",
        "2025-06-29 08:30:00",
        "*******678",
        "n***@gmail.com",
        "100074123456789",
    ],
)
def test_platform_values_are_not_identifiers(text):
    assert find_identifiers(text) == []


@pytest.mark.parametrize(
    "text, kind",
    [
        ("074123456789", "cccd"),
        ("CCCD:001203012345.", "cccd"),
        ("280123456", "cmnd"),
        ("0912345678", "mobile"),
        ("+84 912 345 678", "mobile"),
        ("(+84) 912.345.678", "mobile"),
        ("84-912-345-678", "mobile"),
        ("SĐT:0386123456;", "mobile"),
        ("a.b+c@sub.mail.gov.vn", "email"),
        ("0912345678@gmail.com", "email"),  # one finding, not a mobile number as well
    ],
)
def test_identifiers_are_recognised_and_masked(text, kind):
    ((found_kind, excerpt),) = find_identifiers(text)
    assert found_kind == kind
    assert "***" in excerpt and excerpt not in text


def test_unreadable_skipped_and_named_files(tmp_path):
    zone = tmp_path / "gold" / "fct_contacts"
    (zone / "_delta_log").mkdir(parents=True)
    (zone / "part-0.parquet").write_bytes(b"not parquet 0912345678")
    # Hadoop checksums are binary; _last_checkpoint only points at a version: neither holds values.
    (zone / ".part-0.parquet.crc").write_text("074123456789")
    (zone / "_delta_log" / "_last_checkpoint").write_text('{"version": 10, "size": 912345678}')
    (zone / "phone=0912345678").mkdir()

    findings = scan_for_pii([tmp_path / "gold", tmp_path / "missing"])
    assert {(f.file, f.location, f.kind) for f in findings} == {
        (zone / "part-0.parquet", "whole file", "unreadable"),
        (zone / "phone=0912345678", "directory name", "mobile"),
    }
    assert_no_raw_value(findings)
    assert "phone=*******678" in str(next(f for f in findings if f.kind == "mobile"))


def test_default_roots_are_the_zones_after_pseudonymisation(tmp_path):
    zones = ["silver", "gold", "quarantine", "_quality", "_reports", "_ops"]
    assert default_scan_roots(tmp_path) == [tmp_path / zone for zone in zones]
    (tmp_path / "logs").mkdir()
    assert default_scan_roots(tmp_path) == [tmp_path / zone for zone in [*zones, "logs"]]


def test_command_line_prints_masked_findings_and_fails_on_a_leak(tmp_path, capsys):
    (tmp_path / "clean.log").write_text(f"run {RUN_ID}\n")
    assert main([str(tmp_path / "clean.log")]) == 0
    (tmp_path / "leak.log").write_text("call 0912 345 678\n")
    assert main([str(tmp_path)]) == 1
    printed = capsys.readouterr().out
    assert "leak.log: line 1: mobile *******678" in printed
    assert "0912 345 678" not in printed
