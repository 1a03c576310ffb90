"""Encodings and formats: every supported encoding detected, recorded and decoded; legacy files through an
owner-only staging copy; mojibake listed for repair; JSON arrays; spreadsheets streamed."""

from __future__ import annotations

import codecs
import json
import re
import stat
import unicodedata
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook
from pyspark.sql import functions as F

from jobs.datasets import air_quality, feedback, traffic_incidents
from jobs.legacy_encoding import decode_vni, encode_tcvn3, encode_vni, encode_windows_1258
from jobs.readers import (
    REPAIRS,
    SOURCE_ROW,
    FileRejected,
    detect_file_encoding,
    discover_deliveries,
    read_delivery,
    repaired_text,
    stage_decoded_copy,
)

# Values a TCVN3 font can hold exactly (its only toned capitals are lowercase bytes).
STATIONS = [
    ("TDM01", "Trạm quan trắc Phú Hòa", "P. Phú Hòa, TP. Thủ Dầu Một", "2025-06-29 07:00", "31.5"),
    ("DA01", "Trạm Dĩ An", "Phường Dĩ An, Thành phố Dĩ An", "2025-06-29 07:00", "NA"),
    ("BC01", "Trạm Mỹ Phước, cổng số 2", "Phường Mỹ Phước - Thành phố Bến Cát", "2025-06-29 08:00", "28,4"),
]
HEADER = ("MaTram", "TenTram", "DiaDiem", "ThoiGian", "PM2.5")
ENCODERS = {
    "utf-8": lambda text: text.encode("utf-8"),
    "utf-8-sig": lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
    "utf-16": lambda text: text.encode("utf-16"),
    "utf-16-le": lambda text: text.encode("utf-16-le"),  # no byte-order mark
    "windows-1258": encode_windows_1258,
    "tcvn3": encode_tcvn3,
    "vni-windows": encode_vni,
}
STAGED = {"windows-1258", "tcvn3", "vni-windows"}


def csv_text(rows) -> str:
    lines = [",".join(HEADER)]
    for row in rows:
        lines.append(",".join(f'"{value}"' if "," in value else value for value in row))
    return "\r\n".join(lines) + "\r\n"


def deliver(lake: Path, contract, name: str, content: bytes, day: str = "2025-06-29") -> Path:
    folder = lake / "landing" / contract.agency / contract.dataset / day
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(content)
    return folder / name


def only_delivery(lake: Path, contract):
    (found,) = discover_deliveries(str(lake / "landing"), contract)
    return found


@pytest.mark.parametrize("encoding", list(ENCODERS))
def test_each_encoding_is_detected_recorded_and_decoded(spark, tmp_path, encoding) -> None:
    deliver(tmp_path, air_quality.CONTRACT, "quantrac.csv", ENCODERS[encoding](csv_text(STATIONS)))
    raw = read_delivery(spark, only_delivery(tmp_path, air_quality.CONTRACT), air_quality.CONTRACT)
    try:
        assert raw.encoding == encoding
        rows = sorted(raw.frame.collect(), key=lambda r: r[SOURCE_ROW])
        got = [
            tuple(
                unicodedata.normalize("NFC", r[c])
                for c in ("station_code", "station_name", "location", "measured_at", "pm25")
            )
            for r in rows
        ]
        assert got == STATIONS
        assert [r[SOURCE_ROW] for r in rows] == [1, 2, 3]
        assert all(r[REPAIRS] == [] for r in rows)
        if encoding in STAGED:
            staged = Path(raw.staging_path)
            assert staged.parent == tmp_path / "_private" / "staging" / "air_quality"
            assert stat.S_IMODE(staged.stat().st_mode) == 0o600
            assert stat.S_IMODE(staged.parent.stat().st_mode) == 0o700
            assert staged.read_bytes().decode("utf-8")  # the copy Spark reads is UTF-8
        else:
            assert raw.staging_path is None
    finally:
        raw.release()
    assert raw.staging_path is None
    assert not list((tmp_path / "_private").rglob("*.csv"))


def test_windows_1258_is_decoded_as_java_would(spark, tmp_path) -> None:
    """Spark 4 refuses windows-1258 unless legacy charsets are allowed; with them, Java's decoder gives the
    same text as the staging copy made with Python's codec, combining tone marks included."""
    text = csv_text(STATIONS)
    path = deliver(tmp_path, air_quality.CONTRACT, "quantrac.csv", encode_windows_1258(text))
    raw = read_delivery(spark, only_delivery(tmp_path, air_quality.CONTRACT), air_quality.CONTRACT)
    try:
        staged = sorted((r["station_name"], r["location"]) for r in raw.frame.collect())
    finally:
        raw.release()
    assert any(unicodedata.combining(ch) for name, _ in staged for ch in name)  # decomposed, as delivered
    spark.conf.set("spark.sql.legacy.javaCharsets", "true")
    try:
        by_java = spark.read.option("header", "true").option("encoding", "windows-1258").csv(str(path))
        java = sorted((r["TenTram"], r["DiaDiem"]) for r in by_java.collect())
        every_byte = bytes(b for b in range(256) if bytes([b]).decode("cp1258", errors="replace") != "\ufffd")
        (tmp_path / "bytes.bin").write_bytes(every_byte)
        decoded = (
            spark.read.format("binaryFile")
            .load(str(tmp_path / "bytes.bin"))
            .select(F.decode("content", "windows-1258").alias("text"))
            .first()["text"]
        )
    finally:
        spark.conf.unset("spark.sql.legacy.javaCharsets")
    assert java == staged
    assert decoded == every_byte.decode("cp1258")


def test_staging_decodes_in_chunks_without_splitting_a_letter(tmp_path, monkeypatch) -> None:
    import jobs.readers as readers

    text = csv_text(STATIONS * 20).rstrip("\r\n") + "\r\nKCN9,Trạm cuối,Xã Thường Tân,2025-06-29 09:00,12"
    path = deliver(tmp_path, air_quality.CONTRACT, "quantrac.csv", encode_vni(text))
    monkeypatch.setattr(readers, "STAGING_CHUNK_BYTES", 7)  # much shorter than a line
    delivery = only_delivery(tmp_path, air_quality.CONTRACT)
    staged = stage_decoded_copy(delivery, "vni-windows", tmp_path / "staging")
    assert staged.read_bytes().decode("utf-8") == decode_vni(path.read_bytes()) == text
    # A line far longer than a chunk (no line end for kilobytes) is cut after a comma, never inside a letter.
    long_line = ",".join(["Phường Phú Cường", "Xã Thường Tân"] * 200)
    path.write_bytes(encode_vni(long_line))
    staged = stage_decoded_copy(
        only_delivery(tmp_path, air_quality.CONTRACT), "vni-windows", tmp_path / "staging"
    )
    assert staged.read_bytes().decode("utf-8") == long_line


def test_detection_sample_ends_at_a_line_end(tmp_path) -> None:
    line = "TDM01,Trạm quan trắc Phú Hòa,Phường Phú Hòa,2025-06-29 07:00,31.5\n".encode()
    path = tmp_path / "big.csv"
    path.write_bytes(line * 50)
    cut_inside_a_letter = line.index("ạ".encode()) + 1 + len(line) * 3
    assert detect_file_encoding(str(path), sample_bytes=cut_inside_a_letter) == "utf-8"
    path.write_bytes(encode_tcvn3(line.decode() * 50))
    assert detect_file_encoding(str(path), sample_bytes=len(line) * 2 + 5) == "tcvn3"


def test_mojibake_stays_as_delivered_and_is_listed_for_repair(spark, tmp_path) -> None:
    tcvn3 = encode_tcvn3("Phường Định Hòa").decode("cp1252")
    vni = encode_vni("Trạm Bình Dương").decode("cp1252")
    utf8_as_cp1252 = "Thị trấn Dầu Tiếng".encode().decode("cp1252", errors="replace")
    rows = [
        ("S1", vni, tcvn3, "2025-06-29 07:00", "1"),
        ("S2", "Trạm đúng", "Phường Phú Cường", "2025-06-29 07:00", "2"),
        ("S3", "Café", utf8_as_cp1252.replace("\ufffd", ""), "2025-06-29 07:00", "3"),
    ]
    deliver(tmp_path, air_quality.CONTRACT, "quantrac.csv", csv_text(rows).encode("utf-8"))
    raw = read_delivery(spark, only_delivery(tmp_path, air_quality.CONTRACT), air_quality.CONTRACT)
    result = {
        r["station_code"]: r
        for r in raw.frame.select(
            "*",
            repaired_text("location").alias("location_fixed"),
            repaired_text("station_name").alias("name_fixed"),
        ).collect()
    }
    assert raw.encoding == "utf-8"
    assert (result["S1"]["location"], result["S1"]["station_name"]) == (tcvn3, vni)  # bronze keeps the bytes
    assert sorted((r["column"], r["encoding"]) for r in result["S1"][REPAIRS]) == [
        ("location", "tcvn3"),
        ("station_name", "vni-windows"),
    ]
    assert (result["S1"]["location_fixed"], result["S1"]["name_fixed"]) == (
        "Phường Định Hòa",
        "Trạm Bình Dương",
    )
    assert result["S2"][REPAIRS] == [] and result["S2"]["location_fixed"] == "Phường Phú Cường"
    assert result["S3"]["name_fixed"] == "Café"  # real Latin text is not "repaired"
    assert [(r["column"], r["encoding"]) for r in result["S3"][REPAIRS]] == [("location", "utf-8")]

    # Standardisation conforms the repaired text; `_raw` keeps what arrived and `_repairs` says what changed.
    from jobs.datasets import get_dataset
    from jobs.pii import PiiKey
    from jobs.standardise import standardise

    dataset = get_dataset("air_quality")
    conformed = {
        r["station_code"]: r
        for r in standardise(raw.frame, dataset, PiiKey(b"k" * 32, source="test")).collect()
    }
    assert (conformed["S1"]["location"], conformed["S1"]["station_name"]) == (
        "Phường Định Hòa",
        "Trạm Bình Dương",
    )
    assert conformed["S1"]["_raw"]["location"] == tcvn3
    assert len(conformed["S1"][REPAIRS]) == 2
    assert conformed["S2"]["location"] == "Phường Phú Cường" and conformed["S2"][REPAIRS] == []
    assert conformed["S3"]["station_name"] == "Café"


def test_json_array_and_json_lines_are_read_in_order(spark, tmp_path) -> None:
    records = [
        {"MaSuCo": f"CSGT-{i}", "ThoiGian": "29/06/2025 07:45", "LoaiSuCo": "Va chạm", "ThoiGianLap": "29/06/2025 08:00",
         "SoXe": i, "GhiChu": "mới"}
        for i in range(1, 4)
    ]  # fmt: skip
    text = "[\n" + ",\n".join("  " + json.dumps(r, ensure_ascii=False) for r in records) + "\n]\n"
    deliver(tmp_path, traffic_incidents.CONTRACT, "bienban.json", text.encode("utf-8"))
    raw = read_delivery(
        spark, only_delivery(tmp_path, traffic_incidents.CONTRACT), traffic_incidents.CONTRACT
    )
    rows = sorted(raw.frame.collect(), key=lambda r: r[SOURCE_ROW])
    assert [(r["incident_id"], r["vehicles"], r[SOURCE_ROW]) for r in rows] == [
        ("CSGT-1", "1", 1),
        ("CSGT-2", "2", 2),
        ("CSGT-3", "3", 3),
    ]
    assert raw.extra_columns == ["GhiChu"] and raw.encoding == "utf-8"


def test_a_broken_json_array_rejects_the_file(spark, tmp_path) -> None:
    deliver(tmp_path, traffic_incidents.CONTRACT, "bienban.json", b'[{"MaSuCo": "A-1", "ThoiGian": ')
    with pytest.raises(FileRejected, match="no JSON record could be parsed"):
        read_delivery(spark, only_delivery(tmp_path, traffic_incidents.CONTRACT), traffic_incidents.CONTRACT)


FEEDBACK_HEADER = [
    "Mã PAKN",
    "Ngày tiếp nhận",
    "Họ tên người phản ánh",
    "Xã/Phường",
    "Mức độ hài lòng",
    "Ngày cập nhật",
]


def with_cached_formula_values(path: Path, cached: dict[str, str]) -> None:
    """Give formula cells the cached value a spreadsheet program would have stored (openpyxl stores none)."""
    with zipfile.ZipFile(path) as source:
        entries = {name: source.read(name) for name in source.namelist()}
    for name, data in entries.items():
        if name.startswith("xl/worksheets/"):
            text = data.decode("utf-8")
            for formula, value in cached.items():
                text = re.sub(
                    f"<f>{re.escape(formula)}</f><v\\s*/?>(</v>)?", f"<f>{formula}</f><v>{value}</v>", text
                )
            entries[name] = text.encode("utf-8")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in entries.items():
            target.writestr(name, data)


def test_xlsx_sheet_title_rows_serial_dates_and_cached_formulas(spark, tmp_path) -> None:
    import datetime as dt

    book = Workbook()
    guide = book.active
    guide.title = "HuongDan"
    guide.append(["Hướng dẫn: cột Mã PAKN là mã phản ánh"])
    data = book.create_sheet("PAKN")
    data.append(["DANH SÁCH PHẢN ÁNH"])
    data.merge_cells("A1:F1")
    data.append([])
    data.append(FEEDBACK_HEADER)
    data.append(
        [
            "PAKN-1",
            dt.datetime(2025, 6, 29, 8, 15, 37),
            "Lê Văn A",
            "P. Phú Cường",
            "=2+3",
            dt.datetime(2025, 6, 29, 9, 0),
        ]
    )
    data.append([None] * 6)  # an empty row is not a record
    data.append(["PAKN-2", 45837.34375, "Trần B", "Xã Minh Hòa", 4, "29/06/2025 10:00"])
    path = deliver(tmp_path, feedback.CONTRACT, "pakn.xlsx", b"")
    book.save(path)
    with_cached_formula_values(path, {"2+3": "5"})
    with read_delivery(spark, only_delivery(tmp_path, feedback.CONTRACT), feedback.CONTRACT) as raw:
        assert raw.encoding == "xlsx" and Path(raw.staging_path).is_file()
        rows = sorted(raw.frame.collect(), key=lambda r: r[SOURCE_ROW])
        staged = Path(raw.staging_path)
    assert not staged.exists()
    assert [
        (r["feedback_id"], r["received_at"], r["satisfaction"], r["updated_at"], r[SOURCE_ROW]) for r in rows
    ] == [
        ("PAKN-1", "2025-06-29 08:15:37", "5", "2025-06-29 09:00:00", 1),
        ("PAKN-2", "2025-06-29 08:15:00", "4", "29/06/2025 10:00", 2),
    ]


def test_every_sample_file_is_read_with_its_true_encoding(spark, tmp_path) -> None:
    from jobs.datasets import DATASETS
    from jobs.sample import generate_sample

    manifest_path = tmp_path / "_sample" / "manifest.json"
    generate_sample(
        tmp_path / "landing", manifest_path, days=1, dossiers_per_day=20, enterprises=10, feedback_per_day=8,
        incidents_per_day=6, health_facilities_per_district=1, seed=5,
    )  # fmt: skip
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    truth = {f["path"]: (f["encoding"], f["records"]) for f in manifest["files"]}
    assert {encoding for encoding, _ in truth.values()} >= {
        "utf-8", "utf-8-sig", "utf-16", "windows-1258", "tcvn3", "vni-windows", "xlsx",
    }  # fmt: skip
    read = {}
    for dataset in DATASETS.values():
        for delivery in discover_deliveries(str(tmp_path / "landing"), dataset.contract):
            with read_delivery(spark, delivery, dataset.contract) as raw:
                read[delivery.relative_path] = (raw.encoding, raw.frame.count())
    assert read == truth
