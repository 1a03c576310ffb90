"""Readers: every record read with its file-order number; unusable files rejected with a reason."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from openpyxl import Workbook

from jobs.datasets import dossiers, enterprises
from jobs.readers import (
    CORRUPT_RECORD,
    SOURCE_ROW,
    FileRejected,
    discover_deliveries,
    read_delivery,
)

ENTERPRISE_HEADERS = [
    "Mã số doanh nghiệp", "Tên doanh nghiệp", "Loại hình", "Ngành nghề chính", "Địa chỉ trụ sở", "Mã xã",
    "Người đại diện theo pháp luật", "Số giấy tờ người đại diện", "Ngày thành lập", "Tình trạng", "Ngày cập nhật",
]  # fmt: skip


def deliver(landing: Path, contract, name: str, content: bytes, day: str = "2025-06-29") -> Path:
    folder = landing / contract.agency / contract.dataset / day
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    return path


def only_delivery(landing: Path, contract):
    (found,) = discover_deliveries(str(landing), contract)
    return found


def dossier_line(code: str, **extra: str) -> str:
    record = {"MaHoSo": code, "MaTTHC": "1.001193", "MaXa": "25747", "NgayTiepNhan": "20250629080000",
              "TrangThaiHoSo": "4", "NgayCapNhat": "20250629080000", **extra}  # fmt: skip
    return json.dumps(record, ensure_ascii=False)


def test_json_lines_keep_a_broken_line_as_a_corrupt_record_with_its_number(spark, tmp_path):
    lines = [dossier_line("A-1"), '{"MaHoSo": "A-2", "MaTTHC": ', dossier_line("A-3", GhiChu="mới")]
    deliver(tmp_path, dossiers.CONTRACT, "hoso.jsonl", "\n".join(lines).encode())
    raw = read_delivery(spark, only_delivery(tmp_path, dossiers.CONTRACT), dossiers.CONTRACT)
    rows = {r[SOURCE_ROW]: r for r in raw.frame.collect()}
    assert sorted(rows) == [1, 2, 3]
    assert rows[1]["dossier_code"] == "A-1" and rows[1][CORRUPT_RECORD] is None
    assert rows[2][CORRUPT_RECORD].startswith('{"MaHoSo": "A-2"')
    assert rows[3]["ghi_chu"] == "mới"
    assert raw.extra_columns == ["GhiChu"]


def test_record_numbers_follow_file_order_across_partitions(spark, tmp_path):
    lines = [dossier_line(f"A-{i}") for i in range(1, 3001)]
    deliver(tmp_path, dossiers.CONTRACT, "hoso.jsonl", "\n".join(lines).encode())
    spark.conf.set("spark.sql.files.maxPartitionBytes", "65536")
    try:
        raw = read_delivery(spark, only_delivery(tmp_path, dossiers.CONTRACT), dossiers.CONTRACT)
        assert raw.frame.rdd.getNumPartitions() > 1
        numbered = {r["dossier_code"]: r[SOURCE_ROW] for r in raw.frame.collect()}
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    assert numbered == {f"A-{i}": i for i in range(1, 3001)}


def test_csv_with_bom_and_vietnamese_headers_maps_to_canonical_names(spark, tmp_path):
    body = (
        ",".join(ENTERPRISE_HEADERS)
        + "\n"
        + (
            '0100109106,"Công ty TNHH A, B",Công ty TNHH,4711,"12 Đường 30/4, Phú Cường",25747,Nguyễn Văn A,'
            "074095001234,01/02/2019,Đang hoạt động,29/06/2025 08:00:00\n"
        )
    )
    deliver(tmp_path, enterprises.CONTRACT, "thaydoi.csv", body.encode("utf-8-sig"))
    raw = read_delivery(spark, only_delivery(tmp_path, enterprises.CONTRACT), enterprises.CONTRACT)
    (row,) = raw.frame.collect()
    assert row["tax_code"] == "0100109106" and row["name"] == "Công ty TNHH A, B" and row[SOURCE_ROW] == 1
    assert row["address"] == "12 Đường 30/4, Phú Cường"


def test_xlsx_header_below_title_rows_is_found(spark, tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["DANH SÁCH DOANH NGHIỆP"])
    sheet.merge_cells("A1:K1")
    sheet.append([])
    sheet.append(ENTERPRISE_HEADERS)
    sheet.append(["0100109106", "Công ty A", "Công ty cổ phần", 4711, "Phú Cường", 25747, "Lê B", "074095001234",
                  "01/02/2019", "Đang hoạt động", "29/06/2025 08:00:00"])  # fmt: skip
    path = deliver(tmp_path, enterprises.CONTRACT, "snapshot.xlsx", b"")
    book.save(path)
    raw = read_delivery(spark, only_delivery(tmp_path, enterprises.CONTRACT), enterprises.CONTRACT)
    (row,) = raw.frame.collect()
    assert (row["tax_code"], row["industry_code"], row["commune_code"], row[SOURCE_ROW]) == (
        "0100109106", "4711", "25747", 1
    )  # fmt: skip


def test_missing_required_column_rejects_the_file_naming_the_column(spark, tmp_path):
    deliver(tmp_path, dossiers.CONTRACT, "hoso.jsonl", json.dumps({"MaHoSo": "A-1"}).encode())
    with pytest.raises(FileRejected, match="procedure_code .*MaTTHC"):
        read_delivery(spark, only_delivery(tmp_path, dossiers.CONTRACT), dossiers.CONTRACT)


def test_duplicated_headers_reject_the_file(spark, tmp_path):
    header = "Mã số doanh nghiệp,MST,Tên doanh nghiệp,Mã xã,Ngày cập nhật\n1,2,3,4,5\n"
    deliver(tmp_path, enterprises.CONTRACT, "dup.csv", header.encode())
    with pytest.raises(FileRejected, match="repeat .*tax_code"):
        read_delivery(spark, only_delivery(tmp_path, enterprises.CONTRACT), enterprises.CONTRACT)


def test_empty_file_wrong_type_and_outside_symlink_are_reported_not_read(tmp_path):
    landing = tmp_path / "landing"
    deliver(landing, dossiers.CONTRACT, "empty.jsonl", b"")
    deliver(landing, dossiers.CONTRACT, "notes.docx", b"x")
    secret = tmp_path / "secret.jsonl"
    secret.write_text(dossier_line("A-1"))
    os.symlink(
        secret, landing / dossiers.CONTRACT.agency / dossiers.CONTRACT.dataset / "2025-06-29" / "link.jsonl"
    )
    problems = {Path(d.path).name: d.problem for d in discover_deliveries(str(landing), dossiers.CONTRACT)}
    assert problems["empty.jsonl"] == "file is empty (0 bytes)"
    assert "not accepted" in problems["notes.docx"]
    assert "outside landing" in problems["link.jsonl"]
