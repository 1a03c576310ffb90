"""The sample generator: layout, determinism, ground truth of injected defects, realism of the records.

Record checks here are written independently of the generator, from the format rules: a defect listed in the
manifest must be the one and only problem these checks find in that record, and every other record must pass.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import time
import unicodedata
import zipfile
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from jobs.identifiers import citizen_id_problem, normalise_mobile, tax_code_problem
from jobs.legacy_encoding import decode_text, repair_mojibake
from jobs.reference_data import crosswalk, pre2025_units, procedures
from jobs.sample import SampleSummary, default_manifest_path, generate_sample

DOSSIER_KEYS = [
    "MaHoSo", "MaTTHC", "TenTTHC", "MaLinhVuc", "TenLinhVuc", "KenhThucHien", "MucDo", "ChuHoSo",
    "LoaiDinhDanh", "SoGiayToChuHoSo", "LoaiDoiTuong", "Email", "SoDienThoai", "TrichYeuHoSo", "MaXa",
    "DonViXuLy", "NgayNopHoSo", "NgayTiepNhan", "NgayHenTra", "NgayKetThucXuLy", "NgayTra", "TrangThaiHoSo",
    "DuocThanhToanTrucTuyen", "HoSoCoThanhPhanSoHoa", "DanhSachHoSoBoSung", "NgayCapNhat",
]  # fmt: skip
SUPPLEMENT_KEYS = ["HoSoBoSungId", "NoiDungBoSung", "NgayBoSung", "NgayTiepNhanBoSung"]
ENTERPRISE_HEADERS = [
    "Mã số doanh nghiệp", "Tên doanh nghiệp", "Loại hình", "Ngành nghề chính", "Địa chỉ trụ sở", "Mã xã",
    "Người đại diện theo pháp luật", "Số giấy tờ người đại diện", "Ngày thành lập", "Tình trạng",
    "Ngày cập nhật",
]  # fmt: skip
# The validation engine's rule ids, as agreed for each injected defect.
EXPECTED_RULES = {
    "dossiers": {
        "bad_date": "dossiers.received_at.valid_timestamp",
        "invalid_citizen_id": "dossiers.applicant_id.format",
        "unknown_commune": "dossiers.commune_code.known",
        "missing_procedure_code": "dossiers.procedure_code.not_null",
        "missing_dossier_code": "dossiers.dossier_code.not_null",
        "due_before_received": "dossiers.due_at.not_before_received",
        "invalid_phone": "dossiers.applicant_phone.format",
        "duplicate": "dossiers.dossier_code.unique_in_batch",
    },
    "enterprises": {
        "invalid_tax_code": "enterprises.tax_code.check_digit",
        "bad_date": "enterprises.founded_on.valid_date",
        "unknown_commune": "enterprises.commune_code.known",
        "missing_name": "enterprises.name.not_null",
        "invalid_citizen_id": "enterprises.representative_id.format",
        "duplicate": "enterprises.tax_code.unique_in_batch",
    },
    "payments": {
        "missing_transaction_id": "payments.transaction_id.not_null",
        "bad_amount": "payments.amount_vnd.format",
        "zero_amount": "payments.amount_vnd.positive",
        "bad_date": "payments.paid_at.valid_timestamp",
        "unknown_status": "payments.status.in_set",
        "bad_dossier_code": "payments.dossier_code.format",
        "invalid_phone": "payments.payer_phone.format",
        "duplicate": "payments.transaction_id.unique_in_batch",
    },
    "feedback": {
        "missing_feedback_id": "feedback.feedback_id.not_null",
        "bad_date": "feedback.received_at.valid_timestamp",
        "answered_before_received": "feedback.answered_at.not_before_received",
        "satisfaction_out_of_range": "feedback.satisfaction.in_range",
        "bad_dossier_code": "feedback.dossier_code.format",
        "unknown_commune": "feedback.commune.resolved",
        "ambiguous_commune": "feedback.commune.resolved",
        "invalid_phone": "feedback.reporter_phone.format",
        "duplicate": "feedback.feedback_id.unique_in_batch",
    },
    "air_quality": {
        "missing_station_code": "air_quality.station_code.not_null",
        "bad_timestamp": "air_quality.measured_at.valid_timestamp",
        "negative_pm25": "air_quality.pm25.valid_value",
        "implausible_pm25": "air_quality.pm25.range",
        "aqi_out_of_range": "air_quality.aqi.range",
        "unknown_commune": "air_quality.commune.resolved",
        "duplicate": "air_quality.measured_at.unique_in_batch",
    },
    "health_visits": {
        "missing_facility_code": "health_visits.facility_code.not_null",
        "bad_date": "health_visits.visit_date.valid_date",
        "unknown_service": "health_visits.service_code.in_set",
        "non_numeric_visits": "health_visits.visits.valid_count",
        "insured_above_visits": "health_visits.insured_visits.not_above_visits",
        "unknown_commune": "health_visits.commune.resolved",
        "duplicate": "health_visits.facility_code.unique_in_batch",
    },
    "traffic_incidents": {
        "missing_incident_id": "traffic_incidents.incident_id.not_null",
        "bad_timestamp": "traffic_incidents.occurred_at.valid_timestamp",
        "unknown_type": "traffic_incidents.incident_type.in_set",
        "negative_injuries": "traffic_incidents.injuries.range",
        "unknown_commune": "traffic_incidents.commune.resolved",
        "duplicate": "traffic_incidents.incident_id.unique_in_batch",
    },
}
DATASETS = tuple(EXPECTED_RULES)
PAYMENT_HEADERS = [
    "MaGiaoDich", "MaHoSo", "MaTTHC", "NoiDungThanhToan", "SoTien", "HoTenNguoiNop", "SoDienThoai", "NganHang",
    "KenhThanhToan", "TrangThai", "ThoiGianThanhToan", "ThoiGianCapNhat",
]  # fmt: skip
FEEDBACK_HEADERS = [
    "Mã PAKN", "Ngày tiếp nhận", "Kênh tiếp nhận", "Họ tên người phản ánh", "Số điện thoại", "Lĩnh vực", "Nội dung",
    "Mã hồ sơ liên quan", "Xã/Phường", "Quận/Huyện", "Hạn xử lý", "Ngày trả lời", "Trạng thái", "Mức độ hài lòng",
    "Ngày cập nhật",
]  # fmt: skip
AIR_HEADERS = {
    ("MaTram", "TenTram", "DiaDiem", "ThoiGian", "PM2.5", "PM10", "AQI"): "%Y-%m-%d %H:%M",
    ("Mã trạm", "Tên trạm", "Vị trí", "Thời điểm", "Bụi PM2.5", "Bụi PM10", "VN_AQI"): "%d/%m/%Y %H:%M",
}
HEALTH_HEADERS = [
    "Mã CSKCB", "Tên cơ sở", "Xã/Phường", "Huyện/TP", "Ngày", "Mã dịch vụ", "Tên dịch vụ", "Số lượt", "Số lượt BHYT",
    "Ngày báo cáo",
]  # fmt: skip
CAMERA_KEYS = ["incidentId", "occurredAt", "type", "location", "cameraId", "plate", "vehicles", "injuries",
               "fatalities", "reportedAt"]  # fmt: skip
POLICE_KEYS = ["MaSuCo", "ThoiGian", "LoaiSuCo", "DiaDiem", "BienSo", "SoXe", "SoNguoiBiThuong", "SoNguoiTuVong",
               "ThoiGianLap"]  # fmt: skip
UNITS = {unit.commune_code: unit for unit in pre2025_units()}
PROCEDURES = {procedure.procedure_code: procedure for procedure in procedures()}
MA_HO_SO = re.compile(r"\d{3}\.\d{2}\.\d{2}\.H\d{2}-(\d{6})-\d{5}")
SMALL = {"days": 3, "dossiers_per_day": 120, "enterprises": 60, "seed": 7, "defect_rate": 0.05}
EXCEL_EPOCH = datetime(1899, 12, 30)


# ------------------------------------------------------------------------------------------------------------
# Reading what was generated
# ------------------------------------------------------------------------------------------------------------


def as_text(value: object) -> str:
    """A cell or JSON value as text: dates as ISO, Excel serial day numbers as the date-time they stand for."""
    if value is None:
        return ""
    if isinstance(value, float):
        value = EXCEL_EPOCH + timedelta(seconds=round(value * 86400))
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d") if value.time() == datetime.min.time() else value.isoformat(" ")
    return value if isinstance(value, str) else str(value)


def read_records(landing_root: Path, relative: str, encoding: str) -> list[dict[str, str]]:
    path = landing_root / relative
    if path.suffix == ".jsonl":
        lines = path.read_text(encoding="utf-8").splitlines()
        # The dossier's supplementation requests stay a list of records, as the portal nests them.
        return [
            {k: v if k == "DanhSachHoSoBoSung" else as_text(v) for k, v in json.loads(line).items()}
            for line in lines
        ]
    if path.suffix == ".json":
        return [
            {k: as_text(v) for k, v in record.items()}
            for record in json.loads(path.read_text(encoding="utf-8"))
        ]
    if path.suffix == ".csv":
        return list(csv.DictReader(io.StringIO(decode_text(path.read_bytes(), encoding), newline="")))
    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        sheet = workbook["DanhSach"] if "DanhSach" in workbook.sheetnames else workbook["PAKN"]
        rows = list(sheet.iter_rows(min_row=3, values_only=True))
    finally:
        workbook.close()
    header = list(rows[0])
    return [{column: as_text(value) for column, value in zip(header, row, strict=True)} for row in rows[1:]]


@dataclass
class Generated:
    landing_root: Path
    manifest_path: Path
    summary: SampleSummary
    manifest: dict
    records: dict[str, list[dict[str, str]]]  # relative path -> records in file order
    datasets: dict[str, str]  # relative path -> dataset

    def files_of(self, dataset: str) -> list[str]:
        return [path for path, kind in self.datasets.items() if kind == dataset]

    def defects_at(self) -> dict[tuple[str, int], dict]:
        return {(entry["file"], entry["record_index"]): entry for entry in self.manifest["defects"]}


def generate(root: Path, **arguments: object) -> Generated:
    landing_root, manifest_path = root / "landing", root / "lake" / "_sample" / "manifest.json"
    summary = generate_sample(landing_root, manifest_path, **arguments)  # type: ignore[arg-type]
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    datasets = {entry["path"]: entry["dataset"] for entry in manifest["files"]}
    records = {
        entry["path"]: read_records(landing_root, entry["path"], entry["encoding"])
        for entry in manifest["files"]
    }
    return Generated(landing_root, manifest_path, summary, manifest, records, datasets)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    return generate(tmp_path_factory.mktemp("small"), **SMALL)


@pytest.fixture(scope="module")
def defect_heavy(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    return generate(
        tmp_path_factory.mktemp("heavy"),
        days=3,
        dossiers_per_day=60,
        enterprises=40,
        seed=11,
        defect_rate=0.25,
    )


# ------------------------------------------------------------------------------------------------------------
# Independent record checks: the names of what is wrong with a record
# ------------------------------------------------------------------------------------------------------------


def strict_timestamp(value: str) -> datetime | None:
    if not re.fullmatch(r"\d{14}", value):
        return None
    try:
        return datetime(*(int(value[a:b]) for a, b in ((0, 4), (4, 6), (6, 8), (8, 10), (10, 12), (12, 14))))
    except ValueError:
        return None


def strict_date(value: str) -> date | None:
    match = re.fullmatch(r"(\d{2})/(\d{2})/(\d{4})", value)
    if not match:
        return None
    try:
        return date(int(match[3]), int(match[2]), int(match[1]))
    except ValueError:
        return None


def id_problem(kind: str, number: str) -> bool:
    expected_length = {"1": 12, "2": 9}.get(kind)
    return citizen_id_problem(number) is not None or len(number) != expected_length


def supplement_problems(record: dict[str, Any]) -> set[str]:
    """The supplementation list: requests in time order, each answered before the next, the last one open
    exactly while the dossier waits for the applicant (status 5)."""
    requests = record.get("DanhSachHoSoBoSung")
    if not isinstance(requests, list) or any(list(r) != SUPPLEMENT_KEYS for r in requests):
        return {"supplement_structure"}
    problems: set[str] = set()
    previous_end = strict_timestamp(record["NgayTiepNhan"]) or datetime.min
    for position, request in enumerate(requests):
        asked, answered = strict_timestamp(request["NgayBoSung"]), request["NgayTiepNhanBoSung"]
        is_last = position == len(requests) - 1
        if asked is None or asked < previous_end or (not answered and not is_last):
            problems.add("supplement_order")
            continue
        if answered and (strict_timestamp(answered) is None or strict_timestamp(answered) < asked):
            problems.add("supplement_order")
        previous_end = strict_timestamp(answered) or asked if answered else asked
    waiting = bool(requests) and not requests[-1]["NgayTiepNhanBoSung"]
    if record["TrangThaiHoSo"] == "5" and not waiting:
        problems.add("supplement_status")
    if record["HoSoCoThanhPhanSoHoa"] not in {"0", "1"}:
        problems.add("domain:HoSoCoThanhPhanSoHoa")
    return problems


def dossier_problems(record: dict[str, str]) -> set[str]:
    problems: set[str] = set()
    texts = [value for key, value in record.items() if key != "DanhSachHoSoBoSung"]
    if list(record) != DOSSIER_KEYS or not all(isinstance(value, str) for value in texts):
        problems.add("structure")
    problems |= supplement_problems(record)
    received = strict_timestamp(record["NgayTiepNhan"])
    if received is None:
        problems.add("bad_date")
    if id_problem(record["LoaiDinhDanh"], record["SoGiayToChuHoSo"]):
        problems.add("invalid_citizen_id")
    if record["MaXa"] not in UNITS:
        problems.add("unknown_commune")
    if record["MaTTHC"] == "":
        problems.add("missing_procedure_code")
    elif (
        PROCEDURES.get(record["MaTTHC"]) is None
        or PROCEDURES[record["MaTTHC"]].procedure_name != record["TenTTHC"]
    ):
        problems.add("procedure")
    if record["MaHoSo"] == "":
        problems.add("missing_dossier_code")
    else:
        match = MA_HO_SO.fullmatch(record["MaHoSo"])
        if not match or (received is not None and match[1] != received.strftime("%y%m%d")):
            problems.add("dossier_code_form")
    if normalise_mobile(record["SoDienThoai"]) is None:
        problems.add("invalid_phone")
    if record["Email"] and not re.fullmatch(r"[a-z0-9.]+@[a-z]+\.com", record["Email"]):
        problems.add("email")
    domains = {
        "KenhThucHien": {"1", "2", "3"},
        "MucDo": {"2", "3", "4"},
        "LoaiDinhDanh": {"1", "2"},
        "LoaiDoiTuong": {"1", "2", "3", "4"},
        "TrangThaiHoSo": {str(status) for status in range(1, 11)},
        "DuocThanhToanTrucTuyen": {"0", "1", "3"},
    }
    problems |= {f"domain:{key}" for key, allowed in domains.items() if record[key] not in allowed}

    moments = {key: strict_timestamp(record[key]) for key in ("NgayNopHoSo", "NgayHenTra", "NgayCapNhat")}
    problems |= {f"timestamp:{key}" for key, moment in moments.items() if moment is None}
    status = record["TrangThaiHoSo"]
    finished, returned = record["NgayKetThucXuLy"], record["NgayTra"]
    if bool(finished) != (status in {"9", "10"}) or bool(returned) != (status == "10"):
        problems.add("status_dates")
    if received is not None and None not in moments.values():
        if moments["NgayHenTra"] < received:
            problems.add("due_before_received")
        if not moments["NgayNopHoSo"] <= received <= moments["NgayCapNhat"]:
            problems.add("dates_order")
        for later in (finished, returned):
            if later and not received <= strict_timestamp(later) <= moments["NgayCapNhat"]:
                problems.add("dates_order")
        if finished and returned and strict_timestamp(returned) < strict_timestamp(finished):
            problems.add("dates_order")
    return problems


def enterprise_problems(record: dict[str, str]) -> set[str]:
    problems: set[str] = set()
    if list(record) != ENTERPRISE_HEADERS or not all(isinstance(value, str) for value in record.values()):
        problems.add("structure")
    if tax_code_problem(record["Mã số doanh nghiệp"]) is not None:
        problems.add("invalid_tax_code")
    founded = strict_date(record["Ngày thành lập"])
    if founded is None:
        problems.add("bad_date")
    unit = UNITS.get(record["Mã xã"])
    if unit is None:
        problems.add("unknown_commune")
    elif not record["Địa chỉ trụ sở"].endswith(f", {unit.commune_name}, {unit.district_name}"):
        problems.add("address")
    if record["Tên doanh nghiệp"] == "":
        problems.add("missing_name")
    if citizen_id_problem(record["Số giấy tờ người đại diện"]) is not None:
        problems.add("invalid_citizen_id")
    if not record["Người đại diện theo pháp luật"]:
        problems.add("representative_name")
    if not re.fullmatch(r"\d{4}", record["Ngành nghề chính"]):
        problems.add("industry")
    if record["Tình trạng"] not in {"Đang hoạt động", "Tạm ngừng kinh doanh", "Đã giải thể"}:
        problems.add("status")
    try:
        updated = datetime.strptime(record["Ngày cập nhật"], "%d/%m/%Y %H:%M:%S")
    except ValueError:
        problems.add("updated_at")
    else:
        if founded is not None and founded > updated.date():
            problems.add("founded_after_update")
    return problems


def fold(text: str) -> str:
    text = text.replace("đ", "d").replace("Đ", "D")
    plain = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^0-9a-z]+", " ", plain.lower()).split())


def base_name(name: str) -> str:
    return re.sub(r"^(Phường|Xã|Thị trấn) ", "", name)


OLD_BASES = Counter(fold(base_name(unit.commune_name)) for unit in UNITS.values())
PLACE_BASES = set(OLD_BASES) | {fold(base_name(pair.new_commune_name)) for pair in crosswalk()}
DISTRICT_WORDS = {
    fold(word)
    for unit in UNITS.values()
    for district in [re.sub(r"^(Thành phố|Huyện) ", "", unit.district_name)]
    for word in (district, "".join(w[0] for w in fold(district).split()))
}


def place_problem(commune: str, district: str = "") -> str | None:
    """None when the text names a Bình Dương commune (or a post-2025 unit) unambiguously, else the defect.

    A name shared by communes of two districts needs its unit type or its district alongside."""
    if not commune:
        return None
    text = fold(repair_mojibake(commune)[0])  # names pasted from TCVN3 documents
    found = {base for base in PLACE_BASES if re.search(rf"(^| ){base}( |$)", text)}
    if not found:
        return "unknown_commune"
    if all(OLD_BASES[base] > 1 for base in found):
        scoped = re.search(r"(^| )(phuong|xa|thi tran|p|x|tt) ", text) or any(
            re.search(rf"(^| ){word}( |$)", fold(f"{commune} {district}")) for word in DISTRICT_WORDS
        )
        if not scoped:
            return "ambiguous_commune"
    return None


def strict(value: str, pattern: str) -> datetime | None:
    try:
        return datetime.strptime(value, pattern)
    except ValueError:
        return None


def payment_problems(record: dict[str, str]) -> set[str]:
    problems: set[str] = set()
    if list(record) != PAYMENT_HEADERS:
        problems.add("structure")
    if record["MaGiaoDich"] == "":
        problems.add("missing_transaction_id")
    elif not re.fullmatch(r"PG\d{12}", record["MaGiaoDich"]):
        problems.add("transaction_id_form")
    amount = re.fullmatch(r"(\d{1,3}(?:\.\d{3})*|\d+)( đ)?", record["SoTien"])
    if amount is None:
        problems.add("bad_amount")
    elif int(amount[1].replace(".", "")) == 0:
        problems.add("zero_amount")
    paid = strict(record["ThoiGianThanhToan"], "%d/%m/%Y %H:%M:%S")
    updated = strict(record["ThoiGianCapNhat"], "%d/%m/%Y %H:%M:%S")
    if paid is None:
        problems.add("bad_date")
    if updated is None or (paid is not None and updated < paid):
        problems.add("updated_at")
    if record["TrangThai"] not in {"Thành công", "Thất bại"}:
        problems.add("unknown_status")
    if not MA_HO_SO.fullmatch(record["MaHoSo"]):
        problems.add("bad_dossier_code")
    if normalise_mobile(record["SoDienThoai"]) is None:
        problems.add("invalid_phone")
    if not record["HoTenNguoiNop"] or record["HoTenNguoiNop"] != record["HoTenNguoiNop"].upper():
        problems.add("payer_name")
    return problems


SHEET_TIME = "%Y-%m-%d %H:%M:%S"


def feedback_problems(record: dict[str, str]) -> set[str]:
    problems: set[str] = set()
    if list(record) != FEEDBACK_HEADERS:
        problems.add("structure")
    if record["Mã PAKN"] == "":
        problems.add("missing_feedback_id")
    elif not re.fullmatch(r"PAKN-\d{6}-\d{4}", record["Mã PAKN"]):
        problems.add("feedback_id_form")
    received = strict(record["Ngày tiếp nhận"], SHEET_TIME)
    if received is None:
        problems.add("bad_date")
    answered_status = record["Trạng thái"] in {"Đã trả lời", "Đã đóng"}
    if record["Trạng thái"] not in {"Đã tiếp nhận", "Đang xử lý", "Đã trả lời", "Đã đóng"}:
        problems.add("status")
    answered = strict(record["Ngày trả lời"], SHEET_TIME) if record["Ngày trả lời"] else None
    if answered_status != bool(record["Ngày trả lời"]) or (record["Ngày trả lời"] and answered is None):
        problems.add("status_dates")
    if received and answered and answered < received:
        problems.add("answered_before_received")
    if record["Mức độ hài lòng"] not in {"", "1", "2", "3", "4", "5"}:
        problems.add("satisfaction_out_of_range")
    elif record["Mức độ hài lòng"] and not answered_status:
        problems.add("satisfaction_without_answer")
    code = record["Mã hồ sơ liên quan"]
    if code and not MA_HO_SO.fullmatch(code):
        problems.add("bad_dossier_code")
    place = place_problem(record["Xã/Phường"], record["Quận/Huyện"])
    if place:
        problems.add(place)
    if normalise_mobile(record["Số điện thoại"]) is None:
        problems.add("invalid_phone")
    updated = strict(record["Ngày cập nhật"], SHEET_TIME)
    due = strict(record["Hạn xử lý"], "%Y-%m-%d")
    if updated is None or due is None:
        problems.add("dates")
    elif received and (
        updated < received or due.date() <= received.date() or (answered and updated < answered)
    ):
        problems.add("dates_order")
    if not record["Họ tên người phản ánh"] or not record["Nội dung"]:
        problems.add("missing_text")
    return problems


def air_quality_problems(record: dict[str, str]) -> set[str]:
    problems: set[str] = set()
    pattern = AIR_HEADERS.get(tuple(record))
    if pattern is None:
        return {"structure"}
    code, name, location, hour, pm25, pm10, aqi = record.values()
    if code == "":
        problems.add("missing_station_code")
    elif not re.fullmatch(r"[A-Z]{2,3}\d{2}", code):
        problems.add("station_code_form")
    measured = strict(hour, pattern)
    if measured is None:
        problems.add("bad_timestamp")
    elif measured.minute:
        problems.add("not_on_the_hour")
    fine = coarse = None
    if pm25 != "NA":
        if pm25.startswith("-"):
            problems.add("negative_pm25")
        elif not re.fullmatch(r"\d+([.,]\d)?", pm25):
            problems.add("pm25_form")
        elif float(pm25.replace(",", ".")) > 1000:
            problems.add("implausible_pm25")
        else:
            fine = float(pm25.replace(",", "."))
    if pm10 != "NA":
        coarse = float(pm10.replace(",", "."))
    if (pm25 == "NA") != (pm10 == "NA"):
        problems.add("missing_marks")
    if fine is not None and coarse is not None and coarse < fine:
        problems.add("pm10_below_pm25")
    if aqi and not 0 <= int(aqi) <= 500:
        problems.add("aqi_out_of_range")
    place = place_problem(location)
    if place:
        problems.add(place)
    return problems


HEALTH_SERVICES = {"KB", "CC", "NT", "TC", "XN"}


def health_problems(record: dict[str, str]) -> set[str]:
    problems: set[str] = set()
    if list(record) != HEALTH_HEADERS:
        problems.add("structure")
    if record["Mã CSKCB"] == "":
        problems.add("missing_facility_code")
    elif not re.fullmatch(r"74\d{3}", record["Mã CSKCB"]):
        problems.add("facility_code_form")
    if strict(record["Ngày"], "%d/%m/%Y") is None:
        problems.add("bad_date")
    if record["Mã dịch vụ"] not in HEALTH_SERVICES:
        problems.add("unknown_service")
    visits, insured = record["Số lượt"], record["Số lượt BHYT"]
    if not visits.isdigit():
        problems.add("non_numeric_visits")
    if not insured.isdigit():
        problems.add("insured_form")
    elif visits.isdigit() and int(insured) > int(visits):
        problems.add("insured_above_visits")
    if strict(record["Ngày báo cáo"], "%d/%m/%Y %H:%M:%S") is None:
        problems.add("reported_at")
    place = place_problem(record["Xã/Phường"], record["Huyện/TP"])
    if place:
        problems.add(place)
    if not record["Tên cơ sở"].startswith(("Trạm Y tế", "Trung tâm Y tế")):
        problems.add("facility_name")
    return problems


def traffic_problems(record: dict[str, str]) -> set[str]:
    problems: set[str] = set()
    camera = list(record) == CAMERA_KEYS
    if not camera and list(record) != POLICE_KEYS:
        return {"structure"}
    values = list(record.values())
    key, occurred, kind, place, plate = (
        values[0],
        values[1],
        values[2],
        values[3],
        values[4 if not camera else 5],
    )
    injuries = record["injuries"] if camera else record["SoNguoiBiThuong"]
    reported = record["reportedAt"] if camera else record["ThoiGianLap"]

    def moment(text: str) -> datetime | None:
        if camera:
            try:
                return (
                    datetime.fromisoformat(text)
                    if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00", text)
                    else None
                )
            except ValueError:
                return None
        return strict(text, "%d/%m/%Y %H:%M")

    if key == "":
        problems.add("missing_incident_id")
    elif not re.fullmatch(r"CAM-\d{8}-\d{4}|CSGT-\d{8}-\d{3}", key):
        problems.add("incident_id_form")
    if moment(occurred) is None:
        problems.add("bad_timestamp")
    if moment(reported) is None:
        problems.add("reported_at")
    kinds = (
        {"un_tac", "vi_pham", "va_cham", "ngap_nuoc"}
        if camera
        else {"Va chạm giao thông", "Tai nạn giao thông"}
    )
    if kind not in kinds:
        problems.add("unknown_type")
    if int(injuries) < 0:
        problems.add("negative_injuries")
    if plate and not re.fullmatch(r"61[A-Z]\d?-\d{3}\.\d{2}", plate):
        problems.add("plate_form")
    # The location is a spot (a crossroads, a road: it may carry a place's name) then commune and district.
    separator = ", " if ", " in place else " - "
    found = place_problem(place.split(separator, 1)[-1])
    if found:
        problems.add(found)
    return problems


PROBLEM_CHECKS = {
    "dossiers": dossier_problems,
    "enterprises": enterprise_problems,
    "payments": payment_problems,
    "feedback": feedback_problems,
    "air_quality": air_quality_problems,
    "health_visits": health_problems,
    "traffic_incidents": traffic_problems,
}


def problems_of(dataset: str, record: dict[str, str]) -> set[str]:
    return PROBLEM_CHECKS[dataset](record)


def key_of(dataset: str, record: dict[str, str]) -> str:
    """The business key, as the manifest writes it (columns joined by '|')."""
    values = list(record.values())
    keys = {
        "dossiers": [record.get("MaHoSo")],
        "enterprises": [record.get("Mã số doanh nghiệp")],
        "payments": [record.get("MaGiaoDich")],
        "feedback": [record.get("Mã PAKN")],
        "air_quality": [values[0], values[3]],
        "health_visits": [record.get("Mã CSKCB"), record.get("Ngày"), record.get("Mã dịch vụ")],
        "traffic_incidents": [values[0]],
    }[dataset]
    return "|".join(keys)


# ------------------------------------------------------------------------------------------------------------
# Layout and determinism
# ------------------------------------------------------------------------------------------------------------


def test_files_land_where_the_readers_expect_them(small: Generated) -> None:
    days = [("2025-06-29", "20250629"), ("2025-06-30", "20250630"), ("2025-07-01", "20250701")]
    daily = [
        "cong-dvc/dossiers/{day}/hoso_{compact}.jsonl",
        "paygov/payments/{day}/giaodich_{compact}.csv",
        "tt-1022/feedback/{day}/pakn_{compact}.xlsx",
        "so-tnmt/air_quality/{day}/quantrac_tudong_{compact}.csv",
        "so-tnmt/air_quality/{day}/quantrac_kcn_{compact}.csv",
        "so-yte/health_visits/{day}/ttyt_dautieng_baubang_{compact}.csv",
        "so-yte/health_visits/{day}/ttyt_phugiao_bactanuyen_{compact}.csv",
        "so-yte/health_visits/{day}/ttyt_thudaumot_{compact}.csv",
        "ioc/traffic_incidents/{day}/camera_{compact}.jsonl",
        "ioc/traffic_incidents/{day}/bienban_{compact}.json",
    ]
    assert sorted(small.datasets) == sorted(
        [pattern.format(day=day, compact=compact) for day, compact in days for pattern in daily]
        + [
            "so-khdt/enterprises/2025-06-29/dangky_doanhnghiep_202506.xlsx",
            "so-khdt/enterprises/2025-06-30/thaydoi_20250630.csv",
            "so-khdt/enterprises/2025-07-01/thaydoi_20250701.csv",
        ]
    )
    on_disk = sorted(
        str(p.relative_to(small.landing_root)) for p in small.landing_root.rglob("*") if p.is_file()
    )
    assert on_disk == sorted(small.datasets)
    assert small.manifest_path == default_manifest_path(small.landing_root.parent / "lake")
    assert set(small.manifest) == {"seed", "files", "defects", "late_records"}
    assert small.manifest["seed"] == SMALL["seed"]
    for entry in small.manifest["files"]:
        assert entry["records"] == len(small.records[entry["path"]])
    assert [(f.dataset, f.path, f.records, f.encoding) for f in small.summary.files] == [
        (e["dataset"], e["path"], e["records"], e["encoding"]) for e in small.manifest["files"]
    ]
    for dataset in DATASETS:
        assert small.summary.records[dataset] == sum(len(small.records[p]) for p in small.files_of(dataset))
        assert small.summary.defects[dataset] == sum(
            e["dataset"] == dataset for e in small.manifest["defects"]
        )
    assert small.summary.late_records == len(small.manifest["late_records"])


def file_digests(*roots: Path) -> dict[str, str]:
    return {
        f"{root.name}/{path.relative_to(root)}": hashlib.sha256(path.read_bytes()).hexdigest()
        for root in roots
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_generation_is_deterministic_and_rerun_is_byte_identical(tmp_path: Path) -> None:
    arguments = {"days": 2, "dossiers_per_day": 40, "enterprises": 20, "seed": 3}
    first = generate(tmp_path / "first", **arguments)
    digests = file_digests(first.landing_root, first.manifest_path.parent)
    time.sleep(1.1)  # a clock-dependent byte (zip entry time, docProps) would now differ
    generate(tmp_path / "first", **arguments)
    assert file_digests(first.landing_root, first.manifest_path.parent) == digests
    second = generate(tmp_path / "second", **arguments)
    assert file_digests(second.landing_root, second.manifest_path.parent) == digests
    other_seed = generate(tmp_path / "other", **{**arguments, "seed": 4})
    assert file_digests(other_seed.landing_root, other_seed.manifest_path.parent) != digests


def test_xlsx_carries_no_clock_time(small: Generated) -> None:
    workbooks = [p for p in small.datasets if p.endswith(".xlsx")]
    assert len(workbooks) == 4  # the registry snapshot and a hotline list per day
    for workbook in workbooks:
        with zipfile.ZipFile(small.landing_root / workbook) as archive:
            assert {entry.date_time for entry in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
            core = archive.read("docProps/core.xml").decode("utf-8")
        assert (
            re.findall(r"<dcterms:(?:created|modified)[^>]*>([^<]+)<", core) == ["2025-01-01T00:00:00Z"] * 2
        )


def test_xlsx_snapshot_has_title_blank_row_and_header(small: Generated) -> None:
    (snapshot,) = [p for p in small.files_of("enterprises") if p.endswith(".xlsx")]
    sheet = openpyxl.load_workbook(small.landing_root / snapshot)["DanhSach"]
    assert sheet["A1"].value == "DANH SÁCH DOANH NGHIỆP ĐANG HOẠT ĐỘNG TRÊN ĐỊA BÀN TỈNH BÌNH DƯƠNG"
    assert [str(r) for r in sheet.merged_cells.ranges] == ["A1:K1"]
    assert all(cell.value is None for cell in sheet[2])
    assert [cell.value for cell in sheet[3]] == ENTERPRISE_HEADERS
    assert sheet.max_row == 3 + len(small.records[snapshot])
    # Text cells only (codes keep leading zeros, dates their dd/MM/yyyy form); an emptied name reads as None.
    assert all(
        cell.value is None or isinstance(cell.value, str)
        for row in sheet.iter_rows(min_row=4)
        for cell in row
    )


def test_change_files_are_utf8_csv_with_bom(small: Generated) -> None:
    for relative in small.files_of("enterprises"):
        if not relative.endswith(".csv"):
            continue
        raw = (small.landing_root / relative).read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")
        header = next(csv.reader([raw[3:].decode("utf-8").splitlines()[0]]))
        assert header == ENTERPRISE_HEADERS


def test_default_sample_is_fast(tmp_path: Path) -> None:
    started = time.perf_counter()
    summary = generate_sample(tmp_path / "landing", default_manifest_path(tmp_path / "lake"))
    elapsed = time.perf_counter() - started
    assert summary.records["dossiers"] >= 600
    assert elapsed < 3.0, f"3 days x 200 dossiers took {elapsed:.1f} s"


def test_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="outside the landing zone"):
        generate_sample(tmp_path / "landing", tmp_path / "landing" / "manifest.json")
    with pytest.raises(ValueError, match="days=0.*defect_rate=0.9"):
        generate_sample(tmp_path / "landing", tmp_path / "m.json", days=0, defect_rate=0.9)
    assert not (tmp_path / "landing").exists()


# ------------------------------------------------------------------------------------------------------------
# Ground truth
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sample_name", ["small", "defect_heavy"])
def test_each_listed_defect_is_the_only_problem_of_its_record(sample_name: str, request) -> None:
    sample: Generated = request.getfixturevalue(sample_name)
    assert sample.manifest["defects"]
    for entry in sample.manifest["defects"]:
        dataset, records = entry["dataset"], sample.records[entry["file"]]
        assert entry["rule_id"] == EXPECTED_RULES[dataset][entry["defect"]]
        record = records[entry["record_index"] - 1]
        assert entry["key"] == key_of(dataset, record)
        if entry["defect"] == "duplicate":
            assert entry["record_index"] >= 2 and records[entry["record_index"] - 2] == record
            assert problems_of(dataset, record) == set(), entry
        else:
            assert problems_of(dataset, record) == {entry["defect"]}, entry


@pytest.mark.parametrize("sample_name", ["small", "defect_heavy"])
def test_records_not_listed_are_clean(sample_name: str, request) -> None:
    sample: Generated = request.getfixturevalue(sample_name)
    listed = sample.defects_at()
    for relative, records in sample.records.items():
        dataset = sample.datasets[relative]
        seen_keys: Counter[str] = Counter()
        for index, record in enumerate(records, start=1):
            key = key_of(dataset, record)
            if key:
                seen_keys[key] += 1
            if (relative, index) in listed:
                continue
            assert problems_of(dataset, record) == set(), (relative, index)
            assert seen_keys[key] == 1, f"{relative}:{index} repeats a key without being listed"


def test_every_defect_kind_is_injected(defect_heavy: Generated) -> None:
    for dataset, rules in EXPECTED_RULES.items():
        kinds = Counter(e["defect"] for e in defect_heavy.manifest["defects"] if e["dataset"] == dataset)
        assert set(kinds) == set(rules)


@pytest.mark.parametrize(("sample_name", "rate"), [("small", 0.05), ("defect_heavy", 0.25)])
def test_defect_rate_is_as_requested(sample_name: str, rate: float, request) -> None:
    sample: Generated = request.getfixturevalue(sample_name)
    for dataset in DATASETS:
        records = sum(len(sample.records[p]) for p in sample.files_of(dataset))
        defects = sum(entry["dataset"] == dataset for entry in sample.manifest["defects"])
        # Whole records only, and a duplicate adds its own second copy: allow two records of slack.
        assert abs(defects - rate * records) <= 2, (dataset, defects, records)


def test_no_defects_when_rate_is_zero(tmp_path: Path) -> None:
    sample = generate(tmp_path, days=2, dossiers_per_day=50, enterprises=20, defect_rate=0.0)
    assert sample.manifest["defects"] == []
    for relative, records in sample.records.items():
        assert all(problems_of(sample.datasets[relative], record) == set() for record in records)


def test_manifest_holds_no_personal_data(small: Generated) -> None:
    text = small.manifest_path.read_text(encoding="utf-8")
    personal_columns = {
        "dossiers": ("ChuHoSo", "SoGiayToChuHoSo", "SoDienThoai", "Email"),
        "enterprises": ("Người đại diện theo pháp luật", "Số giấy tờ người đại diện"),
        "payments": ("HoTenNguoiNop", "SoDienThoai"),
        "feedback": ("Họ tên người phản ánh", "Số điện thoại"),
    }
    personal: set[str] = set()
    for relative, records in small.records.items():
        columns = personal_columns.get(small.datasets[relative], ())
        for record in records:
            personal |= {record[column] for column in columns}
            personal |= {normalise_mobile(record[column]) or "" for column in columns}
    leaked = sorted(value for value in personal if len(value) >= 6 and value in text)
    assert leaked == []


# ------------------------------------------------------------------------------------------------------------
# Versions of dossiers across days
# ------------------------------------------------------------------------------------------------------------


def deliveries(sample: Generated) -> list[tuple[str, int, dict[str, str]]]:
    return [
        (relative, index, record)
        for relative in sorted(sample.files_of("dossiers"))
        for index, record in enumerate(sample.records[relative], start=1)
    ]


def test_later_days_update_earlier_dossiers(small: Generated) -> None:
    first_seen: dict[str, tuple[str, dict[str, str]]] = {}
    updates_per_file: Counter[str] = Counter()
    late = {(e["file"], e["record_index"]) for e in small.manifest["late_records"]}
    for relative, index, record in deliveries(small):
        code = record["MaHoSo"]
        if not code:
            continue
        if code in first_seen and first_seen[code][0] != relative and (relative, index) not in late:
            original = first_seen[code][1]
            updates_per_file[relative] += 1
            assert record["NgayCapNhat"] > original["NgayCapNhat"]
            static = (
                "MaTTHC",
                "ChuHoSo",
                "SoGiayToChuHoSo",
                "SoDienThoai",
                "MaXa",
                "NgayTiepNhan",
                "NgayHenTra",
            )
            assert {k: record[k] for k in static} == {k: original[k] for k in static}
        first_seen.setdefault(code, (relative, record))
    later_files = sorted(small.files_of("dossiers"))[1:]
    for relative in later_files:
        # ~30% of the still-open dossiers come back each day: with 120 a day that is dozens, never a handful.
        assert updates_per_file[relative] >= 0.1 * SMALL["dossiers_per_day"], updates_per_file


def test_defective_records_are_never_updated_later(small: Generated) -> None:
    files = sorted(small.files_of("dossiers"))
    for entry in small.manifest["defects"]:
        if entry["dataset"] != "dossiers" or not entry["key"]:
            continue
        later = files[files.index(entry["file"]) + 1 :]
        assert all(entry["key"] not in {r["MaHoSo"] for r in small.records[f]} for f in later), entry
    changes = sorted(f for f in small.files_of("enterprises") if f.endswith(".csv"))
    snapshot_defects = [e for e in small.manifest["defects"] if e["dataset"] == "enterprises"]
    for entry in snapshot_defects:
        later = [f for f in changes if f > entry["file"].replace(".xlsx", "")]
        assert all(entry["key"] not in {r["Mã số doanh nghiệp"] for r in small.records[f]} for f in later)


def test_late_versions_are_listed_and_older_than_what_was_delivered(small: Generated) -> None:
    newest: dict[str, dict[str, str]] = {}
    found_late = []
    for relative, index, record in deliveries(small):
        code, version = record["MaHoSo"], record["NgayCapNhat"]
        if not code:
            continue
        if code in newest and version < newest[code]["NgayCapNhat"]:
            found_late.append({"dataset": "dossiers", "file": relative, "record_index": index, "key": code})
            static = ("MaTTHC", "SoGiayToChuHoSo", "MaXa", "NgayTiepNhan", "NgayHenTra")
            assert {k: record[k] for k in static} == {k: newest[code][k] for k in static}
        if code not in newest or version > newest[code]["NgayCapNhat"]:
            newest[code] = record
    assert found_late, "the sample must contain versions delivered after a newer one"
    assert small.manifest["late_records"] == found_late


@pytest.mark.parametrize(
    ("dataset", "version_column"), [("dossiers", "NgayCapNhat"), ("enterprises", "Ngày cập nhật")]
)
def test_key_and_version_are_unique_across_files_except_listed_duplicates(
    small: Generated, dataset: str, version_column: str
) -> None:
    # A run may validate several days at once: only the injected duplicates may repeat (key, version).
    listed = {(e["file"], e["record_index"]) for e in small.manifest["defects"] if e["defect"] == "duplicate"}
    seen: Counter[tuple[str, str]] = Counter(
        (key_of(dataset, record), record[version_column])
        for relative in small.files_of(dataset)
        for index, record in enumerate(small.records[relative], start=1)
        if key_of(dataset, record) and (relative, index) not in listed
    )
    assert [version for version, count in seen.items() if count > 1] == []


def test_enterprise_changes_follow_the_snapshot(small: Generated) -> None:
    (snapshot,) = [p for p in small.files_of("enterprises") if p.endswith(".xlsx")]
    known = {r["Mã số doanh nghiệp"]: r for r in small.records[snapshot]}
    changed = new = 0
    for relative in sorted(p for p in small.files_of("enterprises") if p.endswith(".csv")):
        day = datetime.strptime(relative.rsplit("_", 1)[1], "%Y%m%d.csv").date()
        for record in small.records[relative]:
            assert datetime.strptime(record["Ngày cập nhật"], "%d/%m/%Y %H:%M:%S").date() == day
            previous = known.get(record["Mã số doanh nghiệp"])
            if previous is None:
                new += 1
                assert record["Ngày thành lập"] == day.strftime("%d/%m/%Y") or enterprise_problems(record)
            else:
                changed += 1
                differing = {k for k in ENTERPRISE_HEADERS if record[k] != previous[k]} - {"Ngày cập nhật"}
                assert differing, record["Mã số doanh nghiệp"]
            known[record["Mã số doanh nghiệp"]] = record
    assert changed >= 2 and new >= 2


# ------------------------------------------------------------------------------------------------------------
# Realism
# ------------------------------------------------------------------------------------------------------------


def test_dossiers_look_like_a_one_stop_centre(small: Generated) -> None:
    listed = small.defects_at()
    clean = [
        record
        for relative, index, record in deliveries(small)
        if (relative, index) not in listed and record["MaHoSo"]
    ]
    first_day = small.records[sorted(small.files_of("dossiers"))[0]]
    statuses_first_day = Counter(record["TrangThaiHoSo"] for record in first_day)
    assert statuses_first_day.most_common(1)[0][0] == "4"

    statuses = Counter(record["TrangThaiHoSo"] for record in clean)
    assert {"4", "5", "7", "9", "10"} <= set(statuses)
    online = sum(record["KenhThucHien"] == "2" for record in clean) / len(clean)
    assert 0.3 <= online <= 0.5
    late_finishes = [r for r in clean if r["NgayKetThucXuLy"] and r["NgayKetThucXuLy"] > r["NgayHenTra"]]
    assert late_finishes
    assert {r["DonViXuLy"].split(" ")[0] for r in clean} >= {"UBND", "Công", "Sở"}


def test_dossiers_carry_supplementation_requests_and_digitised_components(small: Generated) -> None:
    latest: dict[str, dict[str, Any]] = {}
    for _, _, record in deliveries(small):
        if record["MaHoSo"] and record["NgayCapNhat"] > latest.get(record["MaHoSo"], {}).get(
            "NgayCapNhat", ""
        ):
            latest[record["MaHoSo"]] = record
    requests = Counter(len(record["DanhSachHoSoBoSung"]) for record in latest.values())
    answered = [
        r for record in latest.values() for r in record["DanhSachHoSoBoSung"] if r["NgayTiepNhanBoSung"]
    ]
    waiting = [record for record in latest.values() if record["TrangThaiHoSo"] == "5"]
    assert requests[1] > 0 and answered and waiting
    assert all(record["DanhSachHoSoBoSung"][-1]["NgayTiepNhanBoSung"] == "" for record in waiting)
    digitised = sum(record["HoSoCoThanhPhanSoHoa"] == "1" for record in latest.values()) / len(latest)
    assert 0.5 <= digitised <= 0.9


def weekdays_between(start: date, end: date) -> int:
    """Weekdays d with start < d <= end."""
    return sum((start + timedelta(days=n)).weekday() < 5 for n in range(1, (end - start).days + 1))


def test_due_date_follows_the_procedure_processing_time(small: Generated) -> None:
    listed = small.defects_at()
    for relative, index, record in deliveries(small):
        if (relative, index) in listed:
            continue
        received, due = strict_timestamp(record["NgayTiepNhan"]), strict_timestamp(record["NgayHenTra"])
        working_days = PROCEDURES[record["MaTTHC"]].processing_days
        assert due.time().isoformat() == "17:00:00"
        weekdays_after_receipt = weekdays_between(received.date(), due.date())
        # Weekends do not count; a dossier received on a weekend starts its clock on Monday.
        expected = working_days + (received.weekday() >= 5)
        assert weekdays_after_receipt == expected, record["MaHoSo"]


def test_text_is_nfc(small: Generated) -> None:
    for records in small.records.values():
        texts = [
            json.dumps(v, ensure_ascii=False) if isinstance(v, list) else v
            for r in records
            for v in r.values()
        ]
        assert all(unicodedata.is_normalized("NFC", value) for value in texts)


def test_applicants_come_from_a_realistic_person_pool(small: Generated) -> None:
    dossiers = [record for relative, _, record in deliveries(small)]
    dossiers_per_person = Counter(record["SoGiayToChuHoSo"] for record in dossiers)
    assert dossiers_per_person.most_common(1)[0][1] >= 4
    cccd = [
        r["SoGiayToChuHoSo"] for r in dossiers if r["LoaiDinhDanh"] == "1" and len(r["SoGiayToChuHoSo"]) == 12
    ]
    assert 0.5 <= sum(number.startswith("074") for number in cccd) / len(cccd) < 1
    assert any(r["LoaiDinhDanh"] == "2" for r in dossiers)
    families = Counter(record["ChuHoSo"].split(" ")[0] for record in dossiers)
    assert families.most_common(1)[0][0] == "Nguyễn"
    for written_form in (r"0\d{9}", r"\+84 \d{3} \d{3} \d{3}", r"0\d{3}\.\d{3}\.\d{3}"):
        assert any(re.fullmatch(written_form, record["SoDienThoai"]) for record in dossiers), written_form


# ------------------------------------------------------------------------------------------------------------
# Encodings and the links between datasets
# ------------------------------------------------------------------------------------------------------------


def test_files_carry_their_true_encoding(small: Generated) -> None:
    encodings = {entry["path"]: entry["encoding"] for entry in small.manifest["files"]}
    assert set(encodings.values()) == {
        "utf-8", "utf-8-sig", "utf-16", "windows-1258", "tcvn3", "vni-windows", "xlsx",
    }  # fmt: skip
    for relative, encoding in encodings.items():
        raw = (small.landing_root / relative).read_bytes()
        if relative.endswith(".xlsx"):
            assert raw.startswith(b"PK") and encoding == "xlsx"
            continue
        assert raw.startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
        assert raw.startswith(b"\xff\xfe") == (encoding == "utf-16")
        if encoding in ("tcvn3", "vni-windows", "windows-1258"):
            with pytest.raises(UnicodeDecodeError):
                raw.decode("utf-8")  # Vietnamese letters are not UTF-8 in these files
        if encoding == "tcvn3":
            assert "Xã/Phường".encode("cp1252", errors="ignore") not in raw and b"X\xb7/Ph\xad\xeang" in raw
        if encoding == "vni-windows":
            assert b"Xa\xf5/Ph\xf6\xf4\xf8ng" in raw
        if encoding == "windows-1258":
            assert (
                "Trạm".encode("cp1258", errors="ignore") not in raw and b"Tra\xf2m" in raw
            )  # a combining dot


def dossiers_by_code(sample: Generated) -> dict[str, tuple[str, dict[str, str]]]:
    """MaHoSo -> (file, record) of the dossier's first delivery."""
    first: dict[str, tuple[str, dict[str, str]]] = {}
    for relative in sorted(sample.files_of("dossiers")):
        for record in sample.records[relative]:
            if record["MaHoSo"]:
                first.setdefault(record["MaHoSo"], (relative, record))
    return first


def test_payments_belong_to_the_days_dossiers_and_their_applicants(small: Generated) -> None:
    dossiers, listed = dossiers_by_code(small), small.defects_at()
    payments = [
        (relative, record)
        for relative in small.files_of("payments")
        for index, record in enumerate(small.records[relative], start=1)
        if (relative, index) not in listed
    ]
    assert len(payments) >= 0.1 * SMALL["days"] * SMALL["dossiers_per_day"]
    for relative, payment in payments:
        where, dossier = dossiers[payment["MaHoSo"]]
        assert where.split("/")[2] == relative.split("/")[2]  # delivered the same day
        assert payment["MaTTHC"] == dossier["MaTTHC"] and dossier["DuocThanhToanTrucTuyen"] == "1"
        assert (
            int(payment["SoTien"].replace(".", "").replace(" đ", "")) == PROCEDURES[dossier["MaTTHC"]].fee_vnd
        )
        # The same person: the bank's spelling of the name, the same mobile written another way.
        assert fold(payment["HoTenNguoiNop"]) == fold(dossier["ChuHoSo"])
        assert normalise_mobile(payment["SoDienThoai"]) == normalise_mobile(dossier["SoDienThoai"])
        assert payment["SoDienThoai"] != dossier["SoDienThoai"]
        submitted = strict(dossier["NgayNopHoSo"], "%Y%m%d%H%M%S")
        assert strict(payment["ThoiGianThanhToan"], "%d/%m/%Y %H:%M:%S") > submitted
    statuses = Counter(p["TrangThai"] for _, p in payments)
    assert statuses["Thành công"] > statuses["Thất bại"] > 0


def test_feedback_comes_from_the_same_people_and_names_dossiers_and_communes(small: Generated) -> None:
    dossiers, listed = dossiers_by_code(small), small.defects_at()
    people = {
        normalise_mobile(record["SoDienThoai"]): record["ChuHoSo"]
        for relative in small.files_of("dossiers")
        for record in small.records[relative]
    }
    feedback = [
        (relative, record)
        for relative in sorted(small.files_of("feedback"))
        for index, record in enumerate(small.records[relative], start=1)
        if (relative, index) not in listed
    ]
    about_dossiers = [(r, f) for r, f in feedback if f["Mã hồ sơ liên quan"]]
    assert len(about_dossiers) >= 0.2 * len(feedback)
    for relative, record in about_dossiers:
        where, dossier = dossiers[record["Mã hồ sơ liên quan"]]
        assert where.split("/")[2] <= relative.split("/")[2]
        assert record["Họ tên người phản ánh"] == dossier["ChuHoSo"]
        assert normalise_mobile(record["Số điện thoại"]) == normalise_mobile(dossier["SoDienThoai"])
    from_the_pool = sum(
        people.get(normalise_mobile(f["Số điện thoại"])) == f["Họ tên người phản ánh"] for _, f in feedback
    )
    assert from_the_pool >= 0.5 * len(feedback)
    places = [f["Xã/Phường"] for _, f in feedback if f["Xã/Phường"]]
    assert (
        len(set(places)) >= 20
        and any(p.isascii() for p in places)
        and any(p.startswith("P. ") for p in places)
    )
    assert any(repair_mojibake(p)[1] == "tcvn3" for p in places)  # pasted from a TCVN3 document
    # From 1 July 2025 some operators write the new units.
    new_names = {pair.new_commune_name for pair in crosswalk()} - {u.commune_name for u in UNITS.values()}
    after_reform = [f["Xã/Phường"] for r, f in feedback if "2025-07-01" in r]
    assert any(place in new_names for place in after_reform)
    # Later days answer earlier feedback.
    ids_by_file = [
        {f["Mã PAKN"] for r, f in feedback if r == relative}
        for relative in sorted(small.files_of("feedback"))
    ]
    assert ids_by_file[0] & ids_by_file[1]


def test_a_citizen_has_dossiers_payments_and_feedback(small: Generated) -> None:
    def phones(dataset: str, column: str) -> set[str | None]:
        return {normalise_mobile(r[column]) for p in small.files_of(dataset) for r in small.records[p]}

    paid = phones("payments", "SoDienThoai")
    complete = phones("dossiers", "SoDienThoai") & paid & phones("feedback", "Số điện thoại") - {None}
    assert complete
    # …and one of them called about the very dossier they paid for.
    paid_dossiers = {r["MaHoSo"] for p in small.files_of("payments") for r in small.records[p]}
    assert any(
        r["Mã hồ sơ liên quan"] in paid_dossiers for p in small.files_of("feedback") for r in small.records[p]
    )


def test_feedback_workbook_layout(small: Generated) -> None:
    first = sorted(small.files_of("feedback"))[0]
    workbook = openpyxl.load_workbook(small.landing_root / first)
    assert workbook.sheetnames == ["HuongDan", "PAKN"]
    sheet = workbook["PAKN"]
    assert [str(r) for r in sheet.merged_cells.ranges] == ["A1:O1"]
    assert [cell.value for cell in sheet[3]] == FEEDBACK_HEADERS
    received = [row[1].value for row in sheet.iter_rows(min_row=4)]
    assert any(isinstance(v, datetime) for v in received)
    assert any(isinstance(v, float) for v in received)  # cells that lost their date format: serial numbers


def test_stations_report_every_hour_and_health_reports_are_corrected(small: Generated) -> None:
    listed = small.defects_at()
    for relative in small.files_of("air_quality"):
        records = [
            record
            for index, record in enumerate(small.records[relative], start=1)
            if listed.get((relative, index), {}).get("defect") != "duplicate"
        ]
        stations = {list(record.values())[0] for record in records} - {""}
        assert len(stations) in (3, 5) and len(records) == 24 * len(stations)
    reports: dict[tuple[str, str, str], list[str]] = {}
    for relative in sorted(small.files_of("health_visits")):
        for index, record in enumerate(small.records[relative], start=1):
            if (relative, index) not in listed:
                key = (record["Mã CSKCB"], record["Ngày"], record["Mã dịch vụ"])
                reports.setdefault(key, []).append(record["Ngày báo cáo"])
    corrected = [times for times in reports.values() if len(times) > 1]
    assert corrected
    for times in corrected:
        moments = [strict(t, "%d/%m/%Y %H:%M:%S") for t in times]
        assert moments == sorted(moments) and len(set(moments)) == len(moments)
