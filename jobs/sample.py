"""Deterministic sample deliveries for the landing zone, with injected defects and a ground-truth manifest.

Writes what the agencies would drop into `landing/` over a few days:

- the one-stop portal (`cong-dvc/dossiers`): one JSON-lines file per day in the DongBoHoSoMC field names, all
  values strings; later days carry updated versions of earlier dossiers and a few late versions;
- the business registry (`so-khdt/enterprises`): a monthly XLSX snapshot on the first day, then one CSV of
  changes (UTF-8 with BOM) per day; each head office's address names its commune;
- the payment gateway (`paygov/payments`): one CSV per day (UTF-8 without BOM) of the fees paid online for
  that day's dossiers, by their applicants, whose phone the gateway writes in another form and whose name it
  writes in capitals, often without diacritics;
- the 1022 hotline (`tt-1022/feedback`): one XLSX per day (an instructions sheet first, a merged title, date
  cells, some of them bare Excel serial numbers) from the same people; a feedback may name the reporter's
  own dossier and names a commune in any spelling (from 1 July 2025 sometimes by its new unit); later days
  answer earlier feedback;
- the monitoring stations (`so-tnmt/air_quality`): per day one CSV of the automatic stations in Windows-1258
  and one of the industrial-park stations in UTF-16, 24 hourly rows per station;
- the health centres (`so-yte/health_visits`): per day one CSV per group of districts, in TCVN3, VNI-Windows
  and UTF-8 with BOM, with corrected reports of the previous day;
- the IOC and the traffic police (`ioc/traffic_incidents`): camera events as JSON lines and police reports
  as one JSON array per day.

Every file's true encoding is in the manifest (`files[].encoding`).

A fraction `defect_rate` of the records carries exactly one injected defect; the manifest (written outside
the landing zone) names each by file, 1-based record index, business key, defect and the rule id that must
catch it, and lists the late versions. It never holds a personal name, ID number, phone or e-mail.

A late version is one the portal's sync failed to push in time: an intermediate version of a dossier (between
two versions already delivered) that arrives in a later file than the newer one. It is older by NgayCapNhat
than what the platform already holds, so it must not win, and it is never an exact copy of a delivered line,
so (MaHoSo, NgayCapNhat) stays unique across all files except for the injected `duplicate` defects.

Everything derives from `seed`: the same arguments rewrite byte-identical files (XLSX included), so a platform
that keys files on their sha256 ingests nothing new. Each dossier's static fields come from a generator seeded
by its (day, sequence), so an update re-creates them instead of keeping every record in memory; only open
dossiers (as small state objects), the changed enterprises and a bounded person pool are held.

All data is synthetic. Times are Vietnam local time (UTC+7) written without an offset, as agencies send them.
The agency e-ID codes inside MaHoSo follow the `<unit>.<level 3>.<level 2>.H12` shape but are illustrative.
"""

from __future__ import annotations

import calendar
import codecs
import csv
import functools
import heapq
import io
import itertools
import json
import os
import random
import shutil
import tempfile
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.writer.excel import ExcelWriter

from jobs.admin_units import new_units, primary_new_units, shown_as_windows_1252, split_type
from jobs.identifiers import tax_code_check_digit
from jobs.legacy_encoding import encode_tcvn3, encode_vni, encode_windows_1258
from jobs.reference_data import AdminUnit, Procedure, pre2025_units, procedures

DOSSIERS = "dossiers"
ENTERPRISES = "enterprises"
PAYMENTS = "payments"
FEEDBACK = "feedback"
AIR_QUALITY = "air_quality"
HEALTH_VISITS = "health_visits"
TRAFFIC_INCIDENTS = "traffic_incidents"
DOSSIER_AGENCY = "cong-dvc"
ENTERPRISE_AGENCY = "so-khdt"
PAYMENT_AGENCY = "paygov"
FEEDBACK_AGENCY = "tt-1022"
AIR_QUALITY_AGENCY = "so-tnmt"
HEALTH_AGENCY = "so-yte"
TRAFFIC_AGENCY = "ioc"

DOSSIER_COLUMNS = (
    "MaHoSo", "MaTTHC", "TenTTHC", "MaLinhVuc", "TenLinhVuc", "KenhThucHien", "MucDo", "ChuHoSo",
    "LoaiDinhDanh", "SoGiayToChuHoSo", "LoaiDoiTuong", "Email", "SoDienThoai", "TrichYeuHoSo", "MaXa",
    "DonViXuLy", "NgayNopHoSo", "NgayTiepNhan", "NgayHenTra", "NgayKetThucXuLy", "NgayTra", "TrangThaiHoSo",
    "DuocThanhToanTrucTuyen", "HoSoCoThanhPhanSoHoa", "DanhSachHoSoBoSung", "NgayCapNhat",
)  # fmt: skip
ENTERPRISE_COLUMNS = (
    "Mã số doanh nghiệp", "Tên doanh nghiệp", "Loại hình", "Ngành nghề chính", "Địa chỉ trụ sở", "Mã xã",
    "Người đại diện theo pháp luật", "Số giấy tờ người đại diện", "Ngày thành lập", "Tình trạng",
    "Ngày cập nhật",
)  # fmt: skip
ENTERPRISE_SHEET = "DanhSach"
ENTERPRISE_TITLE = "DANH SÁCH DOANH NGHIỆP ĐANG HOẠT ĐỘNG TRÊN ĐỊA BÀN TỈNH BÌNH DƯƠNG"

DOSSIER_DEFECT_RULES = {
    "bad_date": "dossiers.received_at.valid_timestamp",
    "invalid_citizen_id": "dossiers.applicant_id.format",
    "unknown_commune": "dossiers.commune_code.known",
    "missing_procedure_code": "dossiers.procedure_code.not_null",
    "missing_dossier_code": "dossiers.dossier_code.not_null",
    "due_before_received": "dossiers.due_at.not_before_received",
    "invalid_phone": "dossiers.applicant_phone.format",
    "duplicate": "dossiers.dossier_code.unique_in_batch",
}
ENTERPRISE_DEFECT_RULES = {
    "invalid_tax_code": "enterprises.tax_code.check_digit",
    "bad_date": "enterprises.founded_on.valid_date",
    "unknown_commune": "enterprises.commune_code.known",
    "missing_name": "enterprises.name.not_null",
    "invalid_citizen_id": "enterprises.representative_id.format",
    "duplicate": "enterprises.tax_code.unique_in_batch",
}
PAYMENT_DEFECT_RULES = {
    "missing_transaction_id": "payments.transaction_id.not_null",
    "bad_amount": "payments.amount_vnd.format",
    "zero_amount": "payments.amount_vnd.positive",
    "bad_date": "payments.paid_at.valid_timestamp",
    "unknown_status": "payments.status.in_set",
    "bad_dossier_code": "payments.dossier_code.format",
    "invalid_phone": "payments.payer_phone.format",
    "duplicate": "payments.transaction_id.unique_in_batch",
}
FEEDBACK_DEFECT_RULES = {
    "missing_feedback_id": "feedback.feedback_id.not_null",
    "bad_date": "feedback.received_at.valid_timestamp",
    "answered_before_received": "feedback.answered_at.not_before_received",
    "satisfaction_out_of_range": "feedback.satisfaction.in_range",
    "bad_dossier_code": "feedback.dossier_code.format",
    "unknown_commune": "feedback.commune.resolved",
    "ambiguous_commune": "feedback.commune.resolved",
    "invalid_phone": "feedback.reporter_phone.format",
    "duplicate": "feedback.feedback_id.unique_in_batch",
}
AIR_QUALITY_DEFECT_RULES = {
    "missing_station_code": "air_quality.station_code.not_null",
    "bad_timestamp": "air_quality.measured_at.valid_timestamp",
    "negative_pm25": "air_quality.pm25.valid_value",
    "implausible_pm25": "air_quality.pm25.range",
    "aqi_out_of_range": "air_quality.aqi.range",
    "unknown_commune": "air_quality.commune.resolved",
    "duplicate": "air_quality.measured_at.unique_in_batch",
}
HEALTH_DEFECT_RULES = {
    "missing_facility_code": "health_visits.facility_code.not_null",
    "bad_date": "health_visits.visit_date.valid_date",
    "unknown_service": "health_visits.service_code.in_set",
    "non_numeric_visits": "health_visits.visits.valid_count",
    "insured_above_visits": "health_visits.insured_visits.not_above_visits",
    "unknown_commune": "health_visits.commune.resolved",
    "duplicate": "health_visits.facility_code.unique_in_batch",
}
TRAFFIC_DEFECT_RULES = {
    "missing_incident_id": "traffic_incidents.incident_id.not_null",
    "bad_timestamp": "traffic_incidents.occurred_at.valid_timestamp",
    "unknown_type": "traffic_incidents.incident_type.in_set",
    "negative_injuries": "traffic_incidents.injuries.range",
    "unknown_commune": "traffic_incidents.commune.resolved",
    "duplicate": "traffic_incidents.incident_id.unique_in_batch",
}
DEFECT_RULES = {
    DOSSIERS: DOSSIER_DEFECT_RULES,
    ENTERPRISES: ENTERPRISE_DEFECT_RULES,
    PAYMENTS: PAYMENT_DEFECT_RULES,
    FEEDBACK: FEEDBACK_DEFECT_RULES,
    AIR_QUALITY: AIR_QUALITY_DEFECT_RULES,
    HEALTH_VISITS: HEALTH_DEFECT_RULES,
    TRAFFIC_INCIDENTS: TRAFFIC_DEFECT_RULES,
}

DOSSIER_TIMESTAMP = "%Y%m%d%H%M%S"
ENTERPRISE_DATE = "%d/%m/%Y"
ENTERPRISE_TIMESTAMP = "%d/%m/%Y %H:%M:%S"
# The e-ID code of province 74 in the MaHoSo prefix (illustrative, see the module docstring).
PROVINCE_UNIT_SUFFIX = "H12"
# XLSX parts carry no real time: a fixed one keeps reruns byte-identical.
FIXED_DOCUMENT_TIME = datetime(2025, 1, 1, 0, 0, 0)
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)

OPEN_STATUSES = ("2", "4", "5", "6", "9")
UPDATE_SHARE = 0.30
MAX_DEFECT_RATE = 0.5
MAX_PERSON_POOL = 5000
MIN_PERSON_POOL = 40
MAX_DAILY_SEQUENCE = 99_999
OFFICE_OPENS = time(7, 30)
RECEPTION_CLOSES = time(16, 45)
OFFICE_CLOSES = time(17, 30)
DUE_TIME = time(17, 0)


def default_manifest_path(lake_root: Path) -> Path:
    """Where `govlake sample` keeps the ground truth: beside the lake's layers, outside `landing/`."""
    return Path(lake_root) / "_sample" / "manifest.json"


@dataclass(frozen=True)
class SampleFile:
    dataset: str
    path: str  # relative to the landing root, '/'-separated
    records: int
    encoding: str  # as the readers name it: utf-8, utf-8-sig, utf-16, windows-1258, tcvn3, vni-windows, xlsx


@dataclass(frozen=True)
class SampleSummary:
    landing_root: Path
    manifest_path: Path
    files: tuple[SampleFile, ...]
    records: dict[str, int]  # dataset -> data records written
    defects: dict[str, int]  # dataset -> records carrying an injected defect
    late_records: int  # dossier versions delivered after a newer version of the same dossier


# ---------------------------------------------------------------------------------------------------------
# Names, numbers and addresses
# ---------------------------------------------------------------------------------------------------------

FAMILY_NAMES = (
    ("Nguyễn", 36), ("Trần", 11), ("Lê", 9), ("Phạm", 7), ("Huỳnh", 5), ("Võ", 5), ("Phan", 4), ("Hoàng", 3),
    ("Vũ", 2), ("Đặng", 2), ("Bùi", 2), ("Đỗ", 2), ("Ngô", 2), ("Hồ", 2), ("Dương", 1), ("Lý", 1),
    ("Trương", 2), ("Đinh", 1), ("Lâm", 1), ("Mai", 1),
)  # fmt: skip
MALE_MIDDLE_NAMES = ("Văn", "Văn", "Minh", "Hoàng", "Quốc", "Thanh", "Đức", "Hữu", "Công", "Tấn", "Ngọc")
FEMALE_MIDDLE_NAMES = ("Thị", "Thị", "Ngọc", "Thu", "Thanh", "Kim", "Mỹ", "Bảo", "Thùy", "Hồng", "Phương")
MALE_GIVEN_NAMES = (
    "Hùng", "Dũng", "Tuấn", "Nam", "Phúc", "Khoa", "Long", "Tài", "Thành", "Hiếu", "Trung", "Hải", "Sơn",
    "Lộc", "Tâm", "Bình", "Khang", "Huy", "Quang", "Vinh", "Đạt", "Nhân", "Trí", "Phong",
)  # fmt: skip
FEMALE_GIVEN_NAMES = (
    "Lan", "Hương", "Trang", "Mai", "Linh", "Ngọc", "Thảo", "Hạnh", "Yến", "Nhung", "Vy", "Hằng", "Phương",
    "Thủy", "Dung", "Tuyết", "Anh", "Nhi", "Hoa", "Trinh", "Loan", "Diễm", "Uyên", "My",
)  # fmt: skip
# Birth-registration province of CCCD holders living in Bình Dương: mostly 074, many migrants.
OTHER_BIRTH_PROVINCES = (
    "079", "075", "077", "070", "072", "080", "001", "034", "036", "038", "040", "042", "051", "052", "083",
    "084", "087", "089", "094", "096",
)  # fmt: skip
MOBILE_PREFIXES = (
    "032", "033", "034", "035", "036", "037", "038", "039", "086", "096", "097", "098", "081", "082", "083",
    "084", "085", "088", "091", "094", "070", "076", "077", "078", "079", "089", "090", "093", "052", "056",
    "058", "092", "059", "099",
)  # fmt: skip
EMAIL_DOMAINS = (("gmail.com", 80), ("yahoo.com", 8), ("outlook.com", 6), ("hotmail.com", 6))
STREETS = (
    "Đại lộ Bình Dương", "đường Yersin", "đường Cách Mạng Tháng Tám", "đường Phạm Ngọc Thạch",
    "đường Lê Hồng Phong", "đường Nguyễn Văn Tiết", "đường Huỳnh Văn Lũy", "đường Mỹ Phước - Tân Vạn",
    "đường ĐT 741", "đường ĐT 742", "đường ĐT 743", "đường ĐT 744", "đường ĐT 746", "đường ĐT 747",
    "Quốc lộ 13", "Quốc lộ 1K", "đường Nguyễn An Ninh", "đường Trần Hưng Đạo", "đường Hùng Vương",
    "đường Nguyễn Thị Minh Khai", "đường Lê Thị Trung", "đường Thích Quảng Đức",
)  # fmt: skip

ENTERPRISE_TYPES = (
    ("Công ty TNHH một thành viên", "CÔNG TY TNHH MỘT THÀNH VIÊN", 40),
    ("Công ty TNHH hai thành viên trở lên", "CÔNG TY TNHH", 22),
    ("Công ty cổ phần", "CÔNG TY CỔ PHẦN", 20),
    ("Doanh nghiệp tư nhân", "DOANH NGHIỆP TƯ NHÂN", 10),
)
BRANCH_TYPE = "Chi nhánh"
BRANCH_SHARE = 0.08
# VSIC 2018 four-digit codes common in the province, with the trade word used in company names.
INDUSTRIES = (
    ("1410", "MAY MẶC", 10), ("1520", "GIÀY DA", 5), ("1629", "CHẾ BIẾN GỖ", 6), ("2220", "NHỰA", 5),
    ("2591", "CƠ KHÍ", 6), ("3100", "NỘI THẤT", 6), ("4100", "XÂY DỰNG", 8), ("4520", "DỊCH VỤ Ô TÔ", 3),
    ("4663", "VẬT LIỆU XÂY DỰNG", 5), ("4711", "THƯƠNG MẠI", 12), ("4933", "VẬN TẢI", 7),
    ("5210", "KHO VẬN", 5), ("5610", "ẨM THỰC", 5), ("6201", "CÔNG NGHỆ PHẦN MỀM", 3),
    ("6810", "BẤT ĐỘNG SẢN", 6),
)  # fmt: skip
BRAND_WORDS = (
    "MINH PHÁT", "AN KHANG", "THÀNH ĐẠT", "PHÚ CƯỜNG", "HƯNG THỊNH", "TÂN HIỆP", "ĐẠI LỢI", "VIỆT NHẬT",
    "BÌNH AN", "HOÀNG GIA", "KIM NGÂN", "NAM VIỆT", "PHƯƠNG ĐÔNG", "TRƯỜNG SƠN", "LONG HẢI", "SONG ANH",
    "THIÊN PHÚC", "VẠN XUÂN", "ĐỒNG TIẾN", "HẢI ĐĂNG", "SAO MAI", "NHẬT QUANG", "TÍN NGHĨA", "PHÚ THỊNH",
)  # fmt: skip
ACTIVE, SUSPENDED, DISSOLVED = "Đang hoạt động", "Tạm ngừng kinh doanh", "Đã giải thể"
TAX_PREFIX_BINH_DUONG = "37"
TAX_PREFIX_HCMC = "03"  # head offices first registered in Hồ Chí Minh City, and parents of branches

# Relative frequency of procedures in the one-stop centres; a procedure not listed weighs 1.
PROCEDURE_WEIGHTS = {
    "2.000815": 22, "2.000884": 6, "1.001193": 10, "1.000894": 4, "1.000656": 2, "1.004873": 6,
    "2.000635": 4, "1.004222": 6, "1.004194": 8, "1.002755": 2, "1.001612": 3, "1.009994": 3, "1.004227": 2,
    "1.003010": 3, "2.000488": 4, "1.002804": 2,
}  # fmt: skip
PROVINCE_AGENCIES = {  # field code -> (handling department, its e-ID level-2 code)
    "LLTP": ("Sở Tư pháp tỉnh Bình Dương", "17"),
    "DKDN": ("Sở Kế hoạch và Đầu tư tỉnh Bình Dương", "12"),
    "GPLX": ("Sở Giao thông vận tải tỉnh Bình Dương", "15"),
}
DEFAULT_PROVINCE_AGENCY = ("Văn phòng UBND tỉnh Bình Dương", "01")
RESIDENCE_FIELD = "CUTRU"  # residence registration is handled by the commune police
BUSINESS_FIELD = "DKDN"

# Status transitions of an open dossier when a later day brings an update: (next status, weight).
NEXT_STATUS = {
    "2": (("4", 60), ("9", 30), ("5", 10)),
    "4": (("9", 45), ("10", 33), ("5", 12), ("7", 5), ("6", 5)),
    "5": (("4", 70), ("7", 20), ("9", 10)),
    "6": (("4", 50), ("9", 50)),
    "9": (("10", 100),),
}
UNKNOWN_COMMUNE_CODES = ("99999", "00000", "25700", "26068")
# Share of dossiers whose components the one-stop desk digitised, by channel (online ones arrive as files).
DIGITISED_SHARE = {"1": 0.62, "2": 0.93, "3": 0.45}
SUPPLEMENT_REQUESTS = (
    "Bổ sung bản sao giấy tờ tùy thân còn thời hạn",
    "Bổ sung tờ khai có đủ chữ ký",
    "Bổ sung giấy tờ chứng minh nơi cư trú",
    "Bổ sung bản vẽ, sơ đồ theo mẫu",
)
SUPPLEMENT_STATUS = "5"  # Yêu cầu bổ sung giấy tờ: the clock stops until the applicant answers


def _rng(*parts: object) -> random.Random:
    # String seeds are hashed with SHA-512 by `random`, so streams are stable across runs and platforms.
    return random.Random(":".join(str(part) for part in parts))


def _weighted(rng: random.Random, options: Sequence[tuple[str, int]]) -> str:
    return rng.choices([value for value, _ in options], weights=[weight for _, weight in options])[0]


def _ascii_fold(text: str) -> str:
    text = text.replace("đ", "d").replace("Đ", "D")
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))


def _at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock)


def _seconds_between(start: time, end: time) -> int:
    return (end.hour - start.hour) * 3600 + (end.minute - start.minute) * 60 + (end.second - start.second)


def _add_working_days(received: date, days: int) -> date:
    """Due date: `days` working days after receipt; a weekend receipt starts counting on Monday."""
    current = received
    while current.weekday() >= 5:
        current += timedelta(days=1)
    added = 0
    while added < days:
        current += timedelta(days=1)
        if current.weekday() < 5:
            added += 1
    return current


def _spread(rng: random.Random, day: date, count: int) -> list[datetime]:
    """`count` sorted moments of office hours on `day`."""
    window = _seconds_between(OFFICE_OPENS, OFFICE_CLOSES)
    return sorted(_at(day, OFFICE_OPENS) + timedelta(seconds=rng.randrange(window)) for _ in range(count))


def _tax_code(prefix: str, sequence: int) -> str:
    """A well-formed 10-digit tax code near `sequence`, skipping prefixes that can never be issued."""
    for candidate in range(sequence, sequence + 11):
        first_nine = f"{prefix}{candidate % 10_000_000:07d}"
        check = tax_code_check_digit(first_nine)
        if check is not None and first_nine[2:] != "0000000":
            return f"{first_nine}{check}"
    raise AssertionError("one of 11 consecutive sequences always has a check digit")


@dataclass(frozen=True)
class _Person:
    full_name: str
    id_type: str  # LoaiDinhDanh: "1" CCCD (12 digits), "2" CMND (9 digits)
    id_number: str
    mobile: str  # national form, 0 + 9 digits
    email: str
    home: AdminUnit


def _person(rng: random.Random, units: Sequence[AdminUnit], taken_ids: set[str]) -> _Person:
    female = rng.random() < 0.5
    family = _weighted(rng, FAMILY_NAMES)
    middle = rng.choice(FEMALE_MIDDLE_NAMES if female else MALE_MIDDLE_NAMES)
    given = rng.choice(
        [name for name in (FEMALE_GIVEN_NAMES if female else MALE_GIVEN_NAMES) if name != middle]
    )
    birth_year = rng.randint(1955, 2006)
    while True:
        if birth_year < 1986 and rng.random() < 0.12:
            id_type, number = "2", rng.choice(("28", "27")) + f"{rng.randrange(10**7):07d}"
        else:
            province = "074" if rng.random() < 0.7 else rng.choice(OTHER_BIRTH_PROVINCES)
            century_gender = (birth_year // 100 - 19) * 2 + int(female)
            id_type = "1"
            number = f"{province}{century_gender}{birth_year % 100:02d}{rng.randrange(10**6):06d}"
        if number not in taken_ids:
            taken_ids.add(number)
            break
    mobile = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**7):07d}"
    email = ""
    if rng.random() < 0.65:
        family_ascii, given_ascii = _ascii_fold(family).lower(), _ascii_fold(given).lower()
        local = rng.choice(
            (
                f"{given_ascii}{family_ascii}{birth_year % 100:02d}",
                f"{given_ascii}.{family_ascii}",
                f"{family_ascii}{_ascii_fold(middle).lower()}{given_ascii}{rng.randint(1, 999)}",
            )
        )
        email = f"{local}@{_weighted(rng, EMAIL_DOMAINS)}"
    return _Person(f"{family} {middle} {given}", id_type, number, mobile, email, rng.choice(units))


class _PersonPool:
    """A bounded set of residents: the same people file dossiers and represent enterprises."""

    def __init__(self, seed: int, size: int, units: Sequence[AdminUnit]) -> None:
        rng = _rng(seed, "people")
        taken: set[str] = set()
        self.people = tuple(_person(rng, units, taken) for _ in range(size))

    def pick(self, rng: random.Random) -> _Person:
        # Skewed so that some people come back several times, as regular applicants do.
        return self.people[int(len(self.people) * rng.random() ** 1.6)]


def _phone_as_written(rng: random.Random, mobile: str) -> str:
    local = mobile[1:]
    forms = (
        (mobile, 55),
        (f"+84 {local[:3]} {local[3:6]} {local[6:]}", 15),
        (f"{mobile[:4]}.{mobile[4:7]}.{mobile[7:]}", 15),
        (f"{mobile[:4]} {mobile[4:7]} {mobile[7:]}", 10),
        (f"84{local}", 5),
    )
    return _weighted(rng, forms)


def _invalid_phone(rng: random.Random) -> str:
    return rng.choice(
        (
            f"09{rng.randrange(10**6):06d}",  # 8 digits
            # an 11-digit number from before the 2018 switch to 10 digits
            f"0{rng.choice(('123', '124', '126', '163', '168'))}{rng.randrange(10**7):07d}",
            f"0274 3{rng.randrange(10**6):06d}",  # a Bình Dương landline, not a mobile
        )
    )


def _invalid_citizen_id(rng: random.Random, number: str) -> tuple[str, str]:
    """(LoaiDinhDanh, number) with one typical mistake in a person's real CCCD or CMND number."""
    if len(number) == 9:
        position = rng.randrange(2, 9)
        return "2", number[:position] + rng.choice("OIl") + number[position + 1 :]
    variant = rng.choice(("letter", "eleven_digits", "province_000", "future_birth_year"))
    if variant == "letter":
        position = rng.randrange(6, 12)
        return "1", number[:position] + rng.choice("OIl") + number[position + 1 :]
    if variant == "eleven_digits":
        return "1", number[:11]
    if variant == "province_000":
        return "1", "000" + number[3:]
    century_gender = 2 + int(number[3]) % 2  # 2000s, same gender
    return "1", f"{number[:3]}{century_gender}{rng.randint(40, 99)}{number[6:]}"


def _impossible_date(rng: random.Random, year: int) -> tuple[int, int, int]:
    """(year, month, day) that no calendar has."""
    options = [(2, 30), (2, 31), (4, 31), (6, 31), (9, 31), (11, 31), (13, rng.randint(1, 28))]
    if not calendar.isleap(year):
        options.append((2, 29))
    month, day = rng.choice(options)
    return year, month, day


def _street_address(rng: random.Random, unit: AdminUnit) -> str:
    house = rng.choice(
        (
            f"Số {rng.randint(1, 450)}",
            f"Số {rng.randint(1, 200)}/{rng.randint(1, 60)}",
            f"Lô {rng.choice('ABCDEFGH')}{rng.randint(1, 30)}",
        )
    )
    quarter = f"khu phố {rng.randint(1, 12)}" if unit.commune_type == "Phường" else f"ấp {rng.randint(1, 9)}"
    return f"{house}, {rng.choice(STREETS)}, {quarter}, {unit.commune_name}, {unit.district_name}"


# ---------------------------------------------------------------------------------------------------------
# Files and manifest
# ---------------------------------------------------------------------------------------------------------


class _Manifest:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.files: list[SampleFile] = []
        self.defects: list[dict[str, object]] = []
        self.late_records: list[dict[str, object]] = []

    def add_defect(self, dataset: str, file: str, record_index: int, key: str, defect: str) -> None:
        rules = DEFECT_RULES[dataset]
        self.defects.append(
            {
                "dataset": dataset,
                "file": file,
                "record_index": record_index,
                "key": key,
                "defect": defect,
                "rule_id": rules[defect],
            }
        )

    def add_late_record(self, dataset: str, file: str, record_index: int, key: str) -> None:
        self.late_records.append({"dataset": dataset, "file": file, "record_index": record_index, "key": key})

    def as_json(self) -> str:
        document = {
            "seed": self.seed,
            "files": [
                {"dataset": f.dataset, "path": f.path, "records": f.records, "encoding": f.encoding}
                for f in self.files
            ],
            "defects": self.defects,
            "late_records": self.late_records,
        }
        return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


class _DefectPlanner:
    """Spreads defects so the running share stays at `rate`, kinds taken in turn so every kind shows up."""

    def __init__(self, rate: float, kinds: Sequence[str], rng: random.Random) -> None:
        self.rate = rate
        self.kinds = tuple(kinds)
        self.next_kind = rng.randrange(len(self.kinds))
        self.records = 0
        self.defects = 0

    def plan(self, rng: random.Random, eligible: int, expected_records: int) -> dict[int, str]:
        """Defect by position (0-based, among the `eligible` records of the next file)."""
        target = int((self.records + expected_records) * self.rate + 0.5)
        count = max(0, min(eligible, target - self.defects))
        plan: dict[int, str] = {}
        for position in sorted(rng.sample(range(eligible), count)):
            plan[position] = self.kinds[self.next_kind % len(self.kinds)]
            self.next_kind += 1
        return plan

    def file_written(self, records: int, defects: int) -> None:
        self.records += records
        self.defects += defects


@dataclass
class _Line:
    """One data record as it goes into a file, with what the manifest must say about it."""

    record: dict[str, Any]
    key: str
    defect: str | None = None
    late: bool = False


def _replace_atomically(target: Path, write: Callable[[IO[bytes]], object]) -> None:
    # A reader polling the landing folder never sees half a file: write beside it, then rename. The hidden
    # name matches no reader's pattern, and open() (unlike mkstemp) leaves the usual umask permissions.
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        with temporary.open("wb") as stream:
            write(stream)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


class _FileRecorder:
    """Writes lines to one landing file and records counts, defects and late records in the manifest."""

    def __init__(self, manifest: _Manifest, dataset: str, landing_root: Path, relative: str) -> None:
        self.manifest = manifest
        self.dataset = dataset
        self.relative = relative
        self.path = landing_root / relative
        self.records = 0
        self.defects = 0

    def note(self, line: _Line) -> None:
        self.records += 1
        if line.defect is not None:
            self.defects += 1
            self.manifest.add_defect(self.dataset, self.relative, self.records, line.key, line.defect)
        if line.late:
            self.manifest.add_late_record(self.dataset, self.relative, self.records, line.key)

    def finish(self, encoding: str) -> None:
        self.manifest.files.append(SampleFile(self.dataset, self.relative, self.records, encoding))


def _write_jsonl(recorder: _FileRecorder, lines: Iterable[_Line]) -> None:
    def write(stream: IO[bytes]) -> None:
        for line in lines:
            recorder.note(line)
            stream.write(json.dumps(line.record, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
            stream.write(b"\n")

    _replace_atomically(recorder.path, write)
    recorder.finish("utf-8")


def _write_json_array(recorder: _FileRecorder, lines: Iterable[_Line]) -> None:
    """One JSON array of records, pretty-printed as an API export would be."""

    def write(stream: IO[bytes]) -> None:
        stream.write(b"[")
        for position, line in enumerate(lines):
            recorder.note(line)
            stream.write(b",\n  " if position else b"\n  ")
            stream.write(json.dumps(line.record, ensure_ascii=False).encode("utf-8"))
        stream.write(b"\n]\n")

    _replace_atomically(recorder.path, write)
    recorder.finish("utf-8")


# The file encodings agencies deliver CSV in: the text encoder and the byte-order mark written first.
CSV_ENCODERS: dict[str, tuple[Callable[[str], bytes], bytes]] = {
    "utf-8": (lambda text: text.encode("utf-8"), b""),
    "utf-8-sig": (lambda text: text.encode("utf-8"), codecs.BOM_UTF8),
    "utf-16": (lambda text: text.encode("utf-16-le"), codecs.BOM_UTF16_LE),
    "windows-1258": (encode_windows_1258, b""),
    "tcvn3": (encode_tcvn3, b""),
    "vni-windows": (encode_vni, b""),
}


def _write_csv(
    recorder: _FileRecorder, columns: Sequence[str], lines: Iterable[_Line], encoding: str
) -> None:
    """A CSV (standard quoting, CRLF line ends) in one of CSV_ENCODERS, written row by row."""
    encode, byte_order_mark = CSV_ENCODERS[encoding]

    def write(stream: IO[bytes]) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer)

        def flush() -> None:
            stream.write(encode(buffer.getvalue()))
            buffer.seek(0)
            buffer.truncate()

        stream.write(byte_order_mark)
        writer.writerow(columns)
        flush()
        for line in lines:
            recorder.note(line)
            writer.writerow([line.record[column] for column in columns])
            flush()

    _replace_atomically(recorder.path, write)
    recorder.finish(encoding)


def _write_csv_with_bom(recorder: _FileRecorder, columns: Sequence[str], lines: Iterable[_Line]) -> None:
    _write_csv(recorder, columns, lines, "utf-8-sig")


@dataclass(frozen=True)
class _SheetLayout:
    """How an office exports a list: the data sheet's name, a merged title above the header, and sheets
    before it (name -> rows of text) that readers must skip."""

    sheet: str
    title: str
    columns: tuple[str, ...]
    creator: str
    front_sheets: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...] = ()


def _write_snapshot_xlsx(recorder: _FileRecorder, lines: Iterable[_Line]) -> None:
    layout = _SheetLayout(
        ENTERPRISE_SHEET, ENTERPRISE_TITLE, ENTERPRISE_COLUMNS, "Sở Kế hoạch và Đầu tư tỉnh Bình Dương"
    )
    # Every cell is text, as the registry exports it: codes keep their leading zeros, dates their form.
    _write_xlsx(recorder, layout, lines)


def _write_xlsx(recorder: _FileRecorder, layout: _SheetLayout, lines: Iterable[_Line]) -> None:
    """A workbook whose data sheet has the title, a blank row, the header, then one row per record (cell
    values as in the record: text, numbers, dates)."""
    workbook = Workbook(write_only=True)
    workbook.properties.creator = layout.creator
    workbook.properties.created = FIXED_DOCUMENT_TIME
    workbook.properties.modified = FIXED_DOCUMENT_TIME
    for name, rows in layout.front_sheets:
        front = workbook.create_sheet(name)
        for row in rows:
            front.append(list(row))
    sheet = workbook.create_sheet(layout.sheet)
    sheet.merged_cells.add(f"A1:{chr(ord('A') + len(layout.columns) - 1)}1")
    sheet.append([layout.title])
    sheet.append([])
    sheet.append(list(layout.columns))
    for line in lines:
        recorder.note(line)
        sheet.append([line.record[column] for column in layout.columns])

    with tempfile.TemporaryDirectory() as scratch:
        unpacked = Path(scratch) / "openpyxl.xlsx"
        # ExcelWriter instead of Workbook.save: save() stamps the current time into docProps/core.xml.
        ExcelWriter(workbook, zipfile.ZipFile(unpacked, "w", zipfile.ZIP_DEFLATED, allowZip64=True)).save()

        def repack(stream: IO[bytes]) -> None:
            # zipfile stamps every entry with the wall clock; copy the entries under a fixed date instead.
            with (
                zipfile.ZipFile(unpacked) as source,
                zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as packed,
            ):
                for entry in source.infolist():
                    fixed = zipfile.ZipInfo(entry.filename, date_time=ZIP_EPOCH)
                    fixed.compress_type = zipfile.ZIP_DEFLATED
                    fixed.external_attr = 0o600 << 16
                    large = entry.file_size >= zipfile.ZIP64_LIMIT
                    with source.open(entry) as reader, packed.open(fixed, "w", force_zip64=large) as writer:
                        shutil.copyfileobj(reader, writer)

        _replace_atomically(recorder.path, repack)
    recorder.finish("xlsx")


# ---------------------------------------------------------------------------------------------------------
# Dossiers
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Agency:
    name: str
    code: str


@dataclass(frozen=True)
class _DossierCore:
    """What a dossier keeps from receipt to result: re-created from its (day, sequence) for every version."""

    procedure: Procedure
    applicant: _Person
    commune_code: str
    agency: _Agency
    channel: str
    subject_type: str
    phone: str
    payment: str
    submitted_at: datetime
    received_at: datetime
    due_at: datetime
    digitised: str = "0"


# One supplementation request: when the agency asked, and when the applicant answered (None: still open).
_Supplement = tuple[datetime, datetime | None]


@dataclass(frozen=True)
class _Version:
    status: str
    updated_at: datetime
    finished_at: datetime | None = None
    returned_at: datetime | None = None
    supplements: tuple[_Supplement, ...] = ()


@dataclass(frozen=True)
class _NewDossier:
    """A dossier received today without defect: what payments and feedback of the same day refer to."""

    code: str
    core: _DossierCore


# Called after each day's dossier file with the day's index, date and new clean dossiers.
DayHook = Callable[[int, date, list[_NewDossier]], None]


@dataclass(slots=True)
class _OpenDossier:
    day_index: int
    sequence: int
    code: str
    current: _Version
    previous: _Version | None = None


def _timestamp(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime(DOSSIER_TIMESTAMP)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


class _DossierSampler:
    def __init__(
        self,
        *,
        seed: int,
        start: date,
        days: int,
        per_day: int,
        people: _PersonPool,
        units: Sequence[AdminUnit],
        catalogue: Sequence[Procedure],
        planner: _DefectPlanner,
        on_day: DayHook | None = None,
    ) -> None:
        self.seed = seed
        self.start = start
        self.days = days
        self.on_day = on_day
        self.per_day = per_day
        self.people = people
        self.units = tuple(units)
        self.catalogue = tuple(catalogue)
        self.weights = [PROCEDURE_WEIGHTS.get(p.procedure_code, 1) for p in self.catalogue]
        self.planner = planner
        self.late_per_day = max(3, per_day // 50)
        self._unit_codes = self._commune_unit_codes(self.units)

    @staticmethod
    def _commune_unit_codes(units: Sequence[AdminUnit]) -> dict[str, tuple[str, str]]:
        """commune code -> (level-3 code within its district, level-2 code of its district)."""
        codes: dict[str, tuple[str, str]] = {}
        per_district: dict[str, int] = {}
        for unit in sorted(units, key=lambda u: u.commune_code):
            per_district[unit.district_code] = per_district.get(unit.district_code, 0) + 1
            codes[unit.commune_code] = (f"{per_district[unit.district_code]:02d}", unit.district_code[-2:])
        return codes

    def _agency(self, procedure: Procedure, unit: AdminUnit) -> _Agency:
        level3, level2 = self._unit_codes[unit.commune_code]
        if procedure.level == "commune":
            if procedure.field_code == RESIDENCE_FIELD:
                return _Agency(
                    f"Công an {unit.commune_name}", f"001.{level3}.{level2}.{PROVINCE_UNIT_SUFFIX}"
                )
            return _Agency(f"UBND {unit.commune_name}", f"000.{level3}.{level2}.{PROVINCE_UNIT_SUFFIX}")
        if procedure.level == "district":
            return _Agency(f"UBND {unit.district_name}", f"000.00.{level2}.{PROVINCE_UNIT_SUFFIX}")
        name, level2 = PROVINCE_AGENCIES.get(procedure.field_code, DEFAULT_PROVINCE_AGENCY)
        return _Agency(name, f"000.00.{level2}.{PROVINCE_UNIT_SUFFIX}")

    def _core(self, day_index: int, sequence: int) -> tuple[_DossierCore, random.Random]:
        """The dossier's static fields, and its generator positioned for first-version draws."""
        rng = _rng(self.seed, "dossier", day_index, sequence)
        day = self.start + timedelta(days=day_index)
        procedure = rng.choices(self.catalogue, weights=self.weights)[0]
        applicant = self.people.pick(rng)
        unit = applicant.home if rng.random() < 0.85 else rng.choice(self.units)
        channel_roll = rng.random()
        online_share = {4: 0.48, 3: 0.38}.get(procedure.online_level, 0.0)
        channel = "2" if channel_roll < online_share else "3" if channel_roll > 0.96 else "1"
        subject_roll = rng.random()
        if procedure.field_code == BUSINESS_FIELD:
            subject_type = "2"
        else:
            subject_type = "1" if subject_roll < 0.95 else "4" if subject_roll < 0.98 else "3"
        # Receipt times grow with the sequence, so a day's new dossiers come out in time order.
        window = _seconds_between(OFFICE_OPENS, RECEPTION_CLOSES)
        offset = int(window * (sequence - 1 + rng.random()) / self.per_day)
        received_at = _at(day, OFFICE_OPENS) + timedelta(seconds=offset)
        if channel == "2":
            submitted_at = received_at - timedelta(minutes=rng.randint(5, 36 * 60))
        elif channel == "3":
            submitted_at = received_at - timedelta(days=rng.randint(1, 3), minutes=rng.randint(0, 300))
        else:
            submitted_at = received_at - timedelta(minutes=rng.randint(0, 25))
        submitted_at = submitted_at.replace(microsecond=0)
        due_at = _at(_add_working_days(day, procedure.processing_days), DUE_TIME)
        paid_online = channel == "2" and rng.random() < 0.85
        payment = "0" if procedure.fee_vnd == 0 else "1" if paid_online else "3"
        # A stream of its own, so the draws above (and every earlier sample) stay as they were.
        digitised_roll = _rng(self.seed, "dossier-digitised", day_index, sequence).random()
        core = _DossierCore(
            procedure=procedure,
            applicant=applicant,
            commune_code=unit.commune_code,
            agency=self._agency(procedure, unit),
            channel=channel,
            subject_type=subject_type,
            phone=_phone_as_written(rng, applicant.mobile),
            payment=payment,
            submitted_at=submitted_at,
            received_at=received_at,
            due_at=due_at,
            digitised="1" if digitised_roll < DIGITISED_SHARE[channel] else "0",
        )
        return core, rng

    @staticmethod
    def _first_version(rng: random.Random, core: _DossierCore) -> _Version:
        received = core.received_at
        roll = rng.random()
        if core.procedure.processing_days == 0 and roll < 0.7:  # certified copies are done while you wait
            finished = received + timedelta(minutes=rng.randint(10, 90))
            returned = finished + timedelta(minutes=rng.randint(1, 20))
            return _Version("10", returned, finished, returned)
        if roll < 0.03:
            finished = received + timedelta(minutes=rng.randint(30, 150))
            return _Version("9", finished, finished)
        if roll < 0.09:
            return _Version("2", received)
        if roll < 0.13:
            asked = received + timedelta(minutes=rng.randint(5, 60))
            return _Version(SUPPLEMENT_STATUS, asked, supplements=((asked, None),))
        if roll < 0.145:
            return _Version("7", received + timedelta(minutes=rng.randint(5, 90)))
        return _Version("4", received)

    @staticmethod
    def _supplements_after(previous: _Version, status: str, at: datetime) -> tuple[_Supplement, ...]:
        """The requests once the dossier moves to `status` at `at`: an answer closes the open request (a
        withdrawal leaves it unanswered); a new request opens one."""
        supplements = previous.supplements
        if previous.status == SUPPLEMENT_STATUS and status not in (SUPPLEMENT_STATUS, "7"):
            asked, _ = supplements[-1]
            supplements = (*supplements[:-1], (asked, at))
        if status == SUPPLEMENT_STATUS and previous.status != SUPPLEMENT_STATUS:
            supplements = (*supplements, (at, None))
        return supplements

    @classmethod
    def _next_version(cls, rng: random.Random, previous: _Version, at: datetime) -> _Version:
        status = _weighted(rng, NEXT_STATUS[previous.status])
        supplements = cls._supplements_after(previous, status, at)
        if status == "9":
            return _Version("9", at, at, supplements=supplements)
        if status == "10":
            finished = previous.finished_at or max(
                previous.updated_at, at - timedelta(minutes=rng.randint(15, 240))
            )
            return _Version("10", at, finished, at, supplements=supplements)
        return _Version(status, at, supplements=supplements)

    @staticmethod
    def _render(core: _DossierCore, code: str, version: _Version) -> dict[str, Any]:
        procedure, applicant = core.procedure, core.applicant
        return {
            "MaHoSo": code,
            "MaTTHC": procedure.procedure_code,
            "TenTTHC": procedure.procedure_name,
            "MaLinhVuc": procedure.field_code,
            "TenLinhVuc": procedure.field_name,
            "KenhThucHien": core.channel,
            "MucDo": str(procedure.online_level),
            "ChuHoSo": applicant.full_name,
            "LoaiDinhDanh": applicant.id_type,
            "SoGiayToChuHoSo": applicant.id_number,
            "LoaiDoiTuong": core.subject_type,
            "Email": applicant.email,
            "SoDienThoai": core.phone,
            "TrichYeuHoSo": f"Đề nghị {_lower_first(procedure.procedure_name)}",
            "MaXa": core.commune_code,
            "DonViXuLy": core.agency.name,
            "NgayNopHoSo": _timestamp(core.submitted_at),
            "NgayTiepNhan": _timestamp(core.received_at),
            "NgayHenTra": _timestamp(core.due_at),
            "NgayKetThucXuLy": _timestamp(version.finished_at),
            "NgayTra": _timestamp(version.returned_at),
            "TrangThaiHoSo": version.status,
            "DuocThanhToanTrucTuyen": core.payment,
            "HoSoCoThanhPhanSoHoa": core.digitised,
            "DanhSachHoSoBoSung": [
                {
                    "HoSoBoSungId": f"{code}-BS{number}",
                    "NoiDungBoSung": SUPPLEMENT_REQUESTS[(number + len(procedure.procedure_code)) % 4],
                    "NgayBoSung": _timestamp(asked),
                    "NgayTiepNhanBoSung": _timestamp(answered),
                }
                for number, (asked, answered) in enumerate(version.supplements, start=1)
            ],
            "NgayCapNhat": _timestamp(version.updated_at),
        }

    @staticmethod
    def _inject(rng: random.Random, core: _DossierCore, record: dict[str, str], defect: str) -> None:
        received = core.received_at
        if defect == "bad_date":
            year, month, day = _impossible_date(rng, received.year)
            record["NgayTiepNhan"] = f"{year:04d}{month:02d}{day:02d}{received:%H%M%S}"
        elif defect == "invalid_citizen_id":
            record["LoaiDinhDanh"], record["SoGiayToChuHoSo"] = _invalid_citizen_id(
                rng, core.applicant.id_number
            )
        elif defect == "unknown_commune":
            record["MaXa"] = rng.choice(UNKNOWN_COMMUNE_CODES)
        elif defect == "missing_procedure_code":
            record["MaTTHC"] = ""
        elif defect == "missing_dossier_code":
            record["MaHoSo"] = ""
        elif defect == "due_before_received":
            due = _at(received.date() - timedelta(days=rng.randint(1, 5)), DUE_TIME)
            record["NgayHenTra"] = _timestamp(due)
        elif defect == "invalid_phone":
            record["SoDienThoai"] = _invalid_phone(rng)
        elif defect != "duplicate":
            raise ValueError(f"unknown dossier defect {defect!r}")

    def _new_dossier_events(
        self,
        day_index: int,
        defects: dict[int, str],
        created_open: list[_OpenDossier],
        created_clean: list[_NewDossier],
    ) -> Iterator[tuple[datetime, list[_Line]]]:
        counters: dict[str, int] = {}  # MaHoSo numbers run per handling unit and day
        for sequence in range(1, self.per_day + 1):
            core, rng = self._core(day_index, sequence)
            number = counters[core.agency.code] = counters.get(core.agency.code, 0) + 1
            if number > MAX_DAILY_SEQUENCE:
                raise ValueError(f"more than {MAX_DAILY_SEQUENCE} dossiers a day for {core.agency.name}")
            code = f"{core.agency.code}-{core.received_at:%y%m%d}-{number:05d}"
            version = self._first_version(rng, core)
            record = self._render(core, code, version)
            defect = defects.get(sequence - 1)
            if defect is None:
                if version.status in OPEN_STATUSES:
                    created_open.append(_OpenDossier(day_index, sequence, code, version))
                created_clean.append(_NewDossier(code, core))
                yield core.received_at, [_Line(record, code)]
            elif defect == "duplicate":
                yield core.received_at, [_Line(record, code), _Line(dict(record), code, defect)]
            else:
                self._inject(rng, core, record, defect)
                yield core.received_at, [_Line(record, record["MaHoSo"], defect)]

    def _update_events(self, updates: list[_OpenDossier]) -> Iterator[tuple[datetime, list[_Line]]]:
        for dossier in updates:
            core, _ = self._core(dossier.day_index, dossier.sequence)
            record = self._render(core, dossier.code, dossier.current)
            yield dossier.current.updated_at, [_Line(record, dossier.code)]

    def _late_events(
        self, late: list[tuple[_OpenDossier, _Version]], delivered: list[datetime]
    ) -> Iterator[tuple[datetime, list[_Line]]]:
        for (dossier, old_version), delivered_at in zip(late, delivered, strict=True):
            core, _ = self._core(dossier.day_index, dossier.sequence)
            record = self._render(core, dossier.code, old_version)
            yield delivered_at, [_Line(record, dossier.code, late=True)]

    @staticmethod
    def _intermediate_version(rng: random.Random, before: _Version, after: _Version) -> _Version:
        """A version strictly between two delivered ones, consistent with both."""
        if (
            after.status == "10"
            and after.finished_at
            and before.updated_at < after.finished_at < after.updated_at
        ):
            # finished, not yet handed over
            return _Version("9", after.finished_at, after.finished_at, supplements=after.supplements)
        gap = int((after.updated_at - before.updated_at).total_seconds())
        at = before.updated_at + timedelta(seconds=rng.randint(gap // 5, gap * 4 // 5))
        if before.status == "9":
            return _Version("9", at, before.finished_at, supplements=before.supplements)
        if before.status == SUPPLEMENT_STATUS:
            return _Version(SUPPLEMENT_STATUS, at, supplements=before.supplements)  # still waiting
        return _Version("4", at, supplements=before.supplements)  # moved on to another processing step

    def write(self, landing_root: Path, manifest: _Manifest) -> None:
        open_dossiers: list[_OpenDossier] = []
        late_candidates: list[tuple[_OpenDossier, _Version]] = []
        for day_index in range(self.days):
            day = self.start + timedelta(days=day_index)
            day_rng = _rng(self.seed, "dossier-day", day_index)

            # Updates of earlier dossiers; a few updated ones (reservoir sample) get an intermediate version
            # that tomorrow's file delivers late.
            updates: list[_OpenDossier] = []
            updated_ids: set[int] = set()
            reservoir: list[_OpenDossier] = []
            for dossier in open_dossiers:
                if day_rng.random() >= UPDATE_SHARE:
                    continue
                updates.append(dossier)
                updated_ids.add(id(dossier))
                if len(reservoir) < self.late_per_day:
                    reservoir.append(dossier)
                else:
                    slot = day_rng.randrange(len(updates))
                    if slot < self.late_per_day:
                        reservoir[slot] = dossier
            for dossier, at in zip(updates, _spread(day_rng, day, len(updates)), strict=True):
                dossier.previous = dossier.current
                dossier.current = self._next_version(day_rng, dossier.current, at)
            tomorrow_late = [
                (d, self._intermediate_version(day_rng, d.previous, d.current))
                for d in reservoir
                if d.previous
            ]
            # A late version must be the only version of its dossier in today's file.
            late = [(d, v) for d, v in late_candidates if id(d) not in updated_ids]
            late_delivered = _spread(day_rng, day, len(late))

            expected_records = self.per_day + len(updates) + len(late)
            defects = self.planner.plan(day_rng, self.per_day, expected_records)
            created_open: list[_OpenDossier] = []
            created_clean: list[_NewDossier] = []
            relative = f"{DOSSIER_AGENCY}/{DOSSIERS}/{day.isoformat()}/hoso_{day:%Y%m%d}.jsonl"
            recorder = _FileRecorder(manifest, DOSSIERS, landing_root, relative)
            events = heapq.merge(
                self._new_dossier_events(day_index, defects, created_open, created_clean),
                self._update_events(updates),
                self._late_events(late, late_delivered),
                key=lambda event: event[0],
            )
            _write_jsonl(recorder, (line for _, lines in events for line in lines))
            self.planner.file_written(recorder.records, recorder.defects)
            if self.on_day is not None:
                self.on_day(day_index, day, created_clean)

            open_dossiers = [d for d in open_dossiers if d.current.status in OPEN_STATUSES] + created_open
            late_candidates = tomorrow_late


# ---------------------------------------------------------------------------------------------------------
# Enterprises
# ---------------------------------------------------------------------------------------------------------


class _EnterpriseSampler:
    def __init__(
        self,
        *,
        seed: int,
        start: date,
        days: int,
        count: int,
        people: _PersonPool,
        units: Sequence[AdminUnit],
        planner: _DefectPlanner,
    ) -> None:
        self.seed = seed
        self.start = start
        self.days = days
        self.count = count
        self.people = people
        self.units = tuple(units)
        self.planner = planner
        self.sequence_start = _rng(seed, "tax-sequence").randrange(100_000, 2_000_000)
        # Only changed, new or defective enterprises are held; the others are re-created from their index.
        self.changed: dict[int, dict[str, str]] = {}
        self.defective: set[int] = set()
        self.total = count

    def _identity(self, rng: random.Random, index: int) -> tuple[str, str, str]:
        """(tax code, Loại hình, name prefix) of enterprise `index`."""
        sequence = self.sequence_start + index * 13  # disjoint 13-wide blocks keep the codes unique
        if rng.random() < BRANCH_SHARE:
            parent = _tax_code(TAX_PREFIX_HCMC, sequence)
            return f"{parent}-{rng.randint(1, 3):03d}", BRANCH_TYPE, "CHI NHÁNH CÔNG TY TNHH"
        prefix = TAX_PREFIX_HCMC if rng.random() < 0.06 else TAX_PREFIX_BINH_DUONG
        kind, name_prefix = rng.choices(
            [(kind, name) for kind, name, _ in ENTERPRISE_TYPES], weights=[w for *_, w in ENTERPRISE_TYPES]
        )[0]
        return _tax_code(prefix, sequence), kind, name_prefix

    def _row(
        self, rng: random.Random, index: int, founded: date, updated_at: datetime, status: str
    ) -> dict[str, str]:
        tax_code, kind, name_prefix = self._identity(rng, index)
        industry, trade, _ = rng.choices(INDUSTRIES, weights=[w for *_, w in INDUSTRIES])[0]
        brand = rng.choice(BRAND_WORDS)
        if kind == BRANCH_TYPE:
            name = f"{name_prefix} {trade} {brand} TẠI BÌNH DƯƠNG"
        else:
            name = f"{name_prefix} {trade} {brand}"
        unit = rng.choice(self.units)
        representative = self.people.pick(rng)
        return {
            "Mã số doanh nghiệp": tax_code,
            "Tên doanh nghiệp": name,
            "Loại hình": kind,
            "Ngành nghề chính": industry,
            "Địa chỉ trụ sở": _street_address(rng, unit),
            "Mã xã": unit.commune_code,
            "Người đại diện theo pháp luật": representative.full_name,
            "Số giấy tờ người đại diện": representative.id_number,
            "Ngày thành lập": founded.strftime(ENTERPRISE_DATE),
            "Tình trạng": status,
            "Ngày cập nhật": updated_at.strftime(ENTERPRISE_TIMESTAMP),
        }

    def _snapshot_row(self, index: int) -> dict[str, str]:
        """Enterprise `index` as the monthly snapshot shows it (also its state before any change)."""
        rng = _rng(self.seed, "enterprise", index)
        first_day = date(1995, 1, 1).toordinal()
        founded = date.fromordinal(rng.randint(first_day, self.start.toordinal() - 30))
        last_change_day = date.fromordinal(rng.randint(founded.toordinal(), self.start.toordinal() - 1))
        updated_at = _at(last_change_day, time(8)) + timedelta(seconds=rng.randrange(9 * 3600))
        status = _weighted(rng, ((ACTIVE, 88), (SUSPENDED, 8), (DISSOLVED, 4)))
        return self._row(rng, index, founded, updated_at, status)

    def _current(self, index: int) -> dict[str, str]:
        return self.changed.get(index) or self._snapshot_row(index)

    def _changed_row(self, rng: random.Random, current: dict[str, str], at: datetime) -> dict[str, str]:
        row = dict(current)
        change = _weighted(rng, (("address", 35), ("status", 25), ("name", 15), ("representative", 25)))
        if change == "address":
            unit = rng.choice(self.units)
            row["Địa chỉ trụ sở"] = _street_address(rng, unit)
            row["Mã xã"] = unit.commune_code
        elif change == "status":
            back = SUSPENDED if row["Tình trạng"] == ACTIVE else ACTIVE
            row["Tình trạng"] = _weighted(rng, ((back, 75), (DISSOLVED, 25)))
        elif change == "name":
            words = row["Tên doanh nghiệp"].split(" ")
            new_brand = rng.choice([b for b in BRAND_WORDS if b not in row["Tên doanh nghiệp"]])
            kept = " ".join(words[:-2]) if row["Loại hình"] != BRANCH_TYPE else " ".join(words[:-5])
            suffix = " TẠI BÌNH DƯƠNG" if row["Loại hình"] == BRANCH_TYPE else ""
            row["Tên doanh nghiệp"] = f"{kept} {new_brand}{suffix}"
        else:
            representative = self.people.pick(rng)
            row["Người đại diện theo pháp luật"] = representative.full_name
            row["Số giấy tờ người đại diện"] = representative.id_number
        row["Ngày cập nhật"] = at.strftime(ENTERPRISE_TIMESTAMP)
        return row

    def _new_row(self, rng: random.Random, index: int, at: datetime) -> dict[str, str]:
        return self._row(rng, index, at.date(), at, ACTIVE)

    def _inject(self, rng: random.Random, row: dict[str, str], defect: str) -> None:
        if defect == "invalid_tax_code":
            head, _, branch = row["Mã số doanh nghiệp"].partition("-")
            wrong = (int(head[9]) + rng.randint(1, 9)) % 10
            row["Mã số doanh nghiệp"] = head[:9] + str(wrong) + (f"-{branch}" if branch else "")
        elif defect == "bad_date":
            founded = datetime.strptime(row["Ngày thành lập"], ENTERPRISE_DATE)
            year, month, day = _impossible_date(rng, founded.year)
            row["Ngày thành lập"] = f"{day:02d}/{month:02d}/{year:04d}"
        elif defect == "unknown_commune":
            row["Mã xã"] = rng.choice(UNKNOWN_COMMUNE_CODES)
        elif defect == "missing_name":
            row["Tên doanh nghiệp"] = ""
        elif defect == "invalid_citizen_id":
            row["Số giấy tờ người đại diện"] = _invalid_citizen_id(rng, row["Số giấy tờ người đại diện"])[1]
        elif defect != "duplicate":
            raise ValueError(f"unknown enterprise defect {defect!r}")

    def _lines(
        self, rng: random.Random, rows: Iterable[tuple[int, dict[str, str]]], defects: dict[int, str]
    ) -> Iterator[_Line]:
        for position, (index, row) in enumerate(rows):
            defect = defects.get(position)
            if defect is None:
                yield _Line(row, row["Mã số doanh nghiệp"])
                continue
            self.defective.add(index)  # keep defects independent: no later change of this enterprise
            if defect == "duplicate":
                yield _Line(row, row["Mã số doanh nghiệp"])
                yield _Line(dict(row), row["Mã số doanh nghiệp"], defect)
            else:
                broken = dict(row)
                self._inject(rng, broken, defect)
                yield _Line(broken, broken["Mã số doanh nghiệp"], defect)

    def _changes(self, rng: random.Random, day: date) -> list[tuple[int, dict[str, str]]]:
        wanted_changes = max(1, round(self.count * 0.05))
        wanted_new = max(1, round(self.count * 0.015))
        chosen: dict[int, None] = {}  # ordered, for a deterministic file
        for _ in range(wanted_changes * 20):
            if len(chosen) == wanted_changes:
                break
            index = rng.randrange(self.total)
            if index in chosen or index in self.defective or self._current(index)["Tình trạng"] == DISSOLVED:
                continue
            chosen[index] = None
        times = _spread(rng, day, len(chosen) + wanted_new)
        rows: list[tuple[datetime, int, dict[str, str]]] = []
        for index, at in zip(chosen, times[: len(chosen)], strict=True):
            rows.append((at, index, self._changed_row(rng, self._current(index), at)))
        for at in times[len(chosen) :]:
            index = self.total
            self.total += 1
            rows.append((at, index, self._new_row(_rng(self.seed, "enterprise", index), index, at)))
        rows.sort(key=lambda item: (item[0], item[1]))
        for _, index, row in rows:
            self.changed[index] = row
        return [(index, row) for _, index, row in rows]

    def write(self, landing_root: Path, manifest: _Manifest) -> None:
        folder = f"{ENTERPRISE_AGENCY}/{ENTERPRISES}"
        rng = _rng(self.seed, "enterprise-snapshot")
        defects = self.planner.plan(rng, self.count, self.count)
        relative = f"{folder}/{self.start.isoformat()}/dangky_doanhnghiep_{self.start:%Y%m}.xlsx"
        recorder = _FileRecorder(manifest, ENTERPRISES, landing_root, relative)
        snapshot = ((index, self._snapshot_row(index)) for index in range(self.count))
        _write_snapshot_xlsx(recorder, self._lines(rng, snapshot, defects))
        self.planner.file_written(recorder.records, recorder.defects)

        for day_index in range(1, self.days):
            day = self.start + timedelta(days=day_index)
            rng = _rng(self.seed, "enterprise-day", day_index)
            rows = self._changes(rng, day)
            defects = self.planner.plan(rng, len(rows), len(rows))
            relative = f"{folder}/{day.isoformat()}/thaydoi_{day:%Y%m%d}.csv"
            recorder = _FileRecorder(manifest, ENTERPRISES, landing_root, relative)
            _write_csv_with_bom(recorder, ENTERPRISE_COLUMNS, self._lines(rng, rows, defects))
            self.planner.file_written(recorder.records, recorder.defects)


# ---------------------------------------------------------------------------------------------------------
# Places as people write them
# ---------------------------------------------------------------------------------------------------------

COMMUNE_ABBREVIATIONS = {"Phường": "P.", "Xã": "X.", "Thị trấn": "TT."}
DISTRICT_ABBREVIATIONS = {"Thành phố": "TP.", "Huyện": "H.", "Thị xã": "TX."}
# Places outside the province (Hồ Chí Minh City before the reform) that no Bình Dương unit matches.
FOREIGN_PLACES = (
    ("Phường Bến Thành", "Quận 1"),
    ("Phường Linh Trung", "TP. Thủ Đức"),
    ("Xã Tân Thông Hội", "H. Củ Chi"),
)


def _district_words(district_name: str) -> tuple[str, str]:
    for word in DISTRICT_ABBREVIATIONS:
        if district_name.startswith(word + " "):
            return word, district_name[len(word) + 1 :]
    return "", district_name


def _initials(text: str) -> str:
    return "".join(word[0] for word in _ascii_fold(text).split())


def _commune_as_written(rng: random.Random, unit: AdminUnit) -> tuple[str, str]:
    """(commune, district) as an operator types them. Every form names the unit type or the district, so
    the four names shared by two districts stay unambiguous."""
    kind, base = split_type(unit.commune_name)
    district_kind, district_base = _district_words(unit.district_name)
    abbreviated_district = f"{DISTRICT_ABBREVIATIONS.get(district_kind, '')} {district_base}".strip()
    forms = (
        ((unit.commune_name, unit.district_name), 25),
        ((f"{COMMUNE_ABBREVIATIONS[kind]} {base}", abbreviated_district), 20),
        ((_ascii_fold(unit.commune_name), ""), 12),
        ((f"{unit.commune_name.lower()}, {DISTRICT_ABBREVIATIONS.get(district_kind, '').lower()} "
          f"{_initials(district_base).lower()}", ""), 10),
        ((base, district_base), 15),
        ((unit.commune_name.upper(), unit.district_name.upper()), 8),
        # Typed in a TCVN3 font in an old document and pasted into the sheet.
        ((shown_as_windows_1252(encode_tcvn3(unit.commune_name)), ""), 10),
    )  # fmt: skip
    choice = rng.choices([form for form, _ in forms], weights=[weight for _, weight in forms])[0]
    return choice


@functools.cache
def _names_of_two_districts() -> tuple[str, ...]:
    """Commune names (without the unit type) that communes of two districts share: "Tân Định"…"""
    names = Counter(split_type(unit.commune_name)[1] for unit in pre2025_units())
    return tuple(sorted(name for name, count in names.items() if count > 1))


def _new_unit_as_written(rng: random.Random, code_2025: str) -> str:
    name = new_units()[code_2025].new_commune_name
    kind, base = split_type(name)
    return rng.choice((name, f"{COMMUNE_ABBREVIATIONS[kind]} {base}", _ascii_fold(name)))


def _location_as_written(rng: random.Random, place: str, unit: AdminUnit) -> str:
    """A spot (a crossroads, a road) followed by its commune and district."""
    kind, base = split_type(unit.commune_name)
    district_kind, district_base = _district_words(unit.district_name)
    forms = (
        f"{place}, {COMMUNE_ABBREVIATIONS[kind]} {base}, {DISTRICT_ABBREVIATIONS.get(district_kind, '')} "
        f"{district_base}",
        f"{place} - {unit.commune_name} - {unit.district_name}",
        f"{_ascii_fold(place)}, {_ascii_fold(unit.commune_name)}, {_ascii_fold(unit.district_name)}",
    )
    return rng.choice(forms)


def _impossible_moment(rng: random.Random, moment: datetime, pattern: str) -> str:
    """`moment` written with `pattern` but on a day no calendar has (31 June, 30 February…)."""
    year, month, day = _impossible_date(rng, moment.year)
    text = pattern.replace("%Y", f"{year:04d}").replace("%m", f"{month:02d}").replace("%d", f"{day:02d}")
    return moment.strftime(text)


def _key_of(*columns: str) -> Callable[[dict[str, Any]], str]:
    """The business key of a record as the manifest and quarantine write it: its columns joined by '|'."""
    return lambda record: "|".join(str(record[column] or "") for column in columns)


def _lines_with_defects(
    rows: Sequence[dict[str, Any]],
    defects: dict[int, str],
    key: Callable[[dict[str, Any]], str],
    inject: Callable[[dict[str, Any], str], None],
) -> Iterator[_Line]:
    """Records in order; a planned defect is injected into a copy (a duplicate repeats the record)."""
    for position, row in enumerate(rows):
        defect = defects.get(position)
        if defect is None:
            yield _Line(row, key(row))
        elif defect == "duplicate":
            yield _Line(row, key(row))
            yield _Line(dict(row), key(row), defect)
        else:
            broken = dict(row)
            inject(broken, defect)
            yield _Line(broken, key(broken), defect)


# ---------------------------------------------------------------------------------------------------------
# Payments
# ---------------------------------------------------------------------------------------------------------

PAYMENT_COLUMNS = (
    "MaGiaoDich", "MaHoSo", "MaTTHC", "NoiDungThanhToan", "SoTien", "HoTenNguoiNop", "SoDienThoai",
    "NganHang", "KenhThanhToan", "TrangThai", "ThoiGianThanhToan", "ThoiGianCapNhat",
)  # fmt: skip
PAYMENT_TIMESTAMP = "%d/%m/%Y %H:%M:%S"
PAYMENT_SUCCEEDED, PAYMENT_FAILED = "Thành công", "Thất bại"
BANKS = (("VCB", 22), ("BIDV", 18), ("CTG", 15), ("AGR", 15), ("TCB", 10), ("MB", 10), ("ACB", 5), ("VPB", 5))
PAYMENT_CHANNELS = (("QR", 45), ("Internet Banking", 30), ("Ví điện tử", 15), ("Thẻ ATM", 10))
FAILED_ATTEMPT_SHARE = 0.06


def _amount_as_written(rng: random.Random, amount: int) -> str:
    grouped = f"{amount:,}".replace(",", ".")
    return _weighted(rng, ((grouped, 60), (str(amount), 30), (f"{grouped} đ", 10)))


def _other_phone_form(rng: random.Random, mobile: str, taken: str) -> str:
    """The same mobile number written differently from `taken` (the form on the dossier)."""
    local = mobile[1:]
    forms = [
        mobile,
        f"+84{local}",
        f"+84 {local[:3]} {local[3:6]} {local[6:]}",
        f"{mobile[:4]}.{mobile[4:7]}.{mobile[7:]}",
        f"84{local}",
    ]
    return rng.choice([form for form in forms if form != taken])


def _name_as_banks_write(rng: random.Random, name: str) -> str:
    return _ascii_fold(name).upper() if rng.random() < 0.7 else name.upper()


class _PaymentSampler:
    """Online fee payments of each day's dossiers, by their applicants; a few after a failed attempt."""

    def __init__(self, seed: int, planner: _DefectPlanner) -> None:
        self.seed = seed
        self.planner = planner

    def _row(
        self, rng: random.Random, day: date, sequence: int, dossier: _NewDossier, status: str, at: datetime
    ) -> dict[str, Any]:
        core = dossier.core
        return {
            "MaGiaoDich": f"PG{day:%y%m%d}{sequence:06d}",
            "MaHoSo": dossier.code,
            "MaTTHC": core.procedure.procedure_code,
            "NoiDungThanhToan": f"Thanh toan le phi ho so {dossier.code}",
            "SoTien": _amount_as_written(rng, core.procedure.fee_vnd),
            "HoTenNguoiNop": _name_as_banks_write(rng, core.applicant.full_name),
            "SoDienThoai": _other_phone_form(rng, core.applicant.mobile, core.phone),
            "NganHang": _weighted(rng, BANKS),
            "KenhThanhToan": _weighted(rng, PAYMENT_CHANNELS),
            "TrangThai": status,
            "ThoiGianThanhToan": at.strftime(PAYMENT_TIMESTAMP),
            "ThoiGianCapNhat": (at + timedelta(seconds=rng.randint(5, 300))).strftime(PAYMENT_TIMESTAMP),
        }

    @staticmethod
    def _inject(rng: random.Random, row: dict[str, Any], defect: str) -> None:
        if defect == "missing_transaction_id":
            row["MaGiaoDich"] = ""
        elif defect == "bad_amount":
            amount = int(str(row["SoTien"]).replace(".", "").replace(" đ", ""))
            row["SoTien"] = rng.choice(
                (f"{amount:,}".replace(",", ".") + ",00", f"{amount // 100}.{amount % 100:02d}.0")
            )
        elif defect == "zero_amount":
            row["SoTien"] = "0"
        elif defect == "bad_date":
            paid = datetime.strptime(row["ThoiGianThanhToan"], PAYMENT_TIMESTAMP)
            row["ThoiGianThanhToan"] = _impossible_moment(rng, paid, PAYMENT_TIMESTAMP)
        elif defect == "unknown_status":
            row["TrangThai"] = "Chờ đối soát"
        elif defect == "bad_dossier_code":
            row["MaHoSo"] = row["MaHoSo"][:-1]
        elif defect == "invalid_phone":
            row["SoDienThoai"] = _invalid_phone(rng)
        elif defect != "duplicate":
            raise ValueError(f"unknown payment defect {defect!r}")

    def write_day(
        self, landing_root: Path, manifest: _Manifest, day_index: int, day: date, dossiers: list[_NewDossier]
    ) -> None:
        rng = _rng(self.seed, "payments-day", day_index)
        attempts: list[tuple[datetime, _NewDossier, str]] = []
        for dossier in dossiers:
            if dossier.core.payment != "1":  # only fees paid online go through the gateway
                continue
            at = dossier.core.submitted_at + timedelta(minutes=rng.randint(1, 25), seconds=rng.randrange(60))
            if rng.random() < FAILED_ATTEMPT_SHARE:
                attempts.append((at, dossier, PAYMENT_FAILED))
                at += timedelta(minutes=rng.randint(2, 15))
            attempts.append((at, dossier, PAYMENT_SUCCEEDED))
        attempts.sort(key=lambda attempt: (attempt[0], attempt[1].code))
        rows = [
            self._row(rng, day, sequence, dossier, status, at)
            for sequence, (at, dossier, status) in enumerate(attempts, start=1)
        ]
        defects = self.planner.plan(rng, len(rows), len(rows))
        relative = f"{PAYMENT_AGENCY}/{PAYMENTS}/{day.isoformat()}/giaodich_{day:%Y%m%d}.csv"
        recorder = _FileRecorder(manifest, PAYMENTS, landing_root, relative)
        lines = _lines_with_defects(
            rows, defects, _key_of("MaGiaoDich"), functools.partial(self._inject, rng)
        )
        _write_csv(recorder, PAYMENT_COLUMNS, lines, "utf-8")
        self.planner.file_written(recorder.records, recorder.defects)


# ---------------------------------------------------------------------------------------------------------
# Feedback (PAKN)
# ---------------------------------------------------------------------------------------------------------

FEEDBACK_COLUMNS = (
    "Mã PAKN", "Ngày tiếp nhận", "Kênh tiếp nhận", "Họ tên người phản ánh", "Số điện thoại", "Lĩnh vực",
    "Nội dung", "Mã hồ sơ liên quan", "Xã/Phường", "Quận/Huyện", "Hạn xử lý", "Ngày trả lời", "Trạng thái",
    "Mức độ hài lòng", "Ngày cập nhật",
)  # fmt: skip
FEEDBACK_LAYOUT = _SheetLayout(
    sheet="PAKN",
    title="DANH SÁCH PHẢN ÁNH, KIẾN NGHỊ TIẾP NHẬN QUA TỔNG ĐÀI 1022",
    columns=FEEDBACK_COLUMNS,
    creator="Trung tâm Điều hành thông minh tỉnh Bình Dương",
    front_sheets=(
        (
            "HuongDan",
            (
                ("HƯỚNG DẪN SỬ DỤNG BIỂU MẪU",),
                ("Sheet PAKN: mỗi dòng là một phản ánh, kiến nghị; cột Mức độ hài lòng từ 1 đến 5.",),
                ("Ngày tiếp nhận ghi theo giờ Việt Nam.",),
            ),
        ),
    ),
)
FEEDBACK_CHANNELS = (
    ("Tổng đài 1022", 45), ("Cổng thông tin 1022", 20), ("Ứng dụng Bình Dương Số", 20), ("Zalo", 10),
    ("Thư điện tử", 5),
)  # fmt: skip
FEEDBACK_TOPICS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Môi trường",
        (
            "Phản ánh rác thải tồn đọng nhiều ngày trên tuyến đường",
            "Phản ánh mùi hôi từ cơ sở sản xuất vào ban đêm",
            "Phản ánh khói bụi từ công trình xây dựng",
        ),
    ),
    (
        "Giao thông",
        (
            "Đề nghị sửa chữa mặt đường hư hỏng, nhiều ổ gà",
            "Phản ánh đèn tín hiệu giao thông không hoạt động",
            "Đề nghị bố trí lực lượng điều tiết giao thông giờ cao điểm",
        ),
    ),
    ("Trật tự đô thị", ("Phản ánh lấn chiếm vỉa hè để kinh doanh", "Phản ánh tiếng ồn karaoke sau 22 giờ")),
    ("Đất đai", ("Đề nghị hướng dẫn thủ tục cấp giấy chứng nhận quyền sử dụng đất",)),
    ("Điện, nước", ("Phản ánh mất nước sinh hoạt kéo dài", "Phản ánh đèn chiếu sáng công cộng bị hỏng")),
    ("Y tế", ("Phản ánh thời gian chờ khám bệnh kéo dài",)),
)
DOSSIER_TOPIC: tuple[str, tuple[str, ...]] = (
    "Hành chính công",
    (
        "Đề nghị cho biết tiến độ giải quyết hồ sơ",
        "Phản ánh hồ sơ trễ hẹn",
        "Đề nghị hướng dẫn bổ sung giấy tờ cho hồ sơ",
    ),
)
FEEDBACK_RECEIVED, FEEDBACK_IN_PROGRESS = "Đã tiếp nhận", "Đang xử lý"
FEEDBACK_ANSWERED, FEEDBACK_CLOSED = "Đã trả lời", "Đã đóng"
FEEDBACK_PROCESSING_DAYS = 10
FEEDBACK_ABOUT_A_DOSSIER = 0.35
FEEDBACK_WITHOUT_PLACE = 0.15
FEEDBACK_NEW_UNITS_SHARE = 0.4  # from 1 July 2025, operators often write the new unit
FEEDBACK_SERIAL_DATE_SHARE = 0.1  # cells that lost their date format
REFORM_DATE = date(2025, 7, 1)
SATISFACTION = (("5", 35), ("4", 35), ("3", 15), ("2", 10), ("1", 5))
EXCEL_EPOCH = datetime(1899, 12, 30)


def _excel_serial(moment: datetime) -> float:
    return (moment - EXCEL_EPOCH).total_seconds() / 86400


class _FeedbackSampler:
    """Feedback of each day from the person pool: some about the reporter's own dossier of the day; earlier
    open feedback answered on later days."""

    def __init__(
        self,
        *,
        seed: int,
        per_day: int,
        people: _PersonPool,
        units: Sequence[AdminUnit],
        planner: _DefectPlanner,
    ) -> None:
        self.seed = seed
        self.per_day = per_day
        self.people = people
        self.units = tuple(units)
        self.units_by_code = {unit.commune_code: unit for unit in units}
        self.primary = primary_new_units()
        self.planner = planner
        self.open_rows: list[dict[str, Any]] = []

    def _place(self, rng: random.Random, unit: AdminUnit, received: datetime) -> tuple[str, str]:
        if rng.random() < FEEDBACK_WITHOUT_PLACE:
            return "", ""
        if received.date() >= REFORM_DATE and rng.random() < FEEDBACK_NEW_UNITS_SHARE:
            return _new_unit_as_written(rng, self.primary[unit.commune_code]), ""
        return _commune_as_written(rng, unit)

    def _row(
        self, rng: random.Random, day: date, sequence: int, received: datetime, dossier: _NewDossier | None
    ) -> dict[str, Any]:
        if dossier is not None:
            person, unit = dossier.core.applicant, self.units_by_code[dossier.core.commune_code]
            category, texts = DOSSIER_TOPIC
            phone = dossier.core.phone
        else:
            person = self.people.pick(rng)
            unit = person.home if rng.random() < 0.8 else rng.choice(self.units)
            category, texts = rng.choice(FEEDBACK_TOPICS)
            phone = _phone_as_written(rng, person.mobile)
        commune, district = self._place(rng, unit, received)
        status = _weighted(
            rng, ((FEEDBACK_RECEIVED, 45), (FEEDBACK_IN_PROGRESS, 25), (FEEDBACK_ANSWERED, 30))
        )
        answered = satisfaction = None
        updated = received + timedelta(minutes=rng.randint(1, 20))
        if status == FEEDBACK_ANSWERED:
            answered = received + timedelta(minutes=rng.randint(20, 180))
            updated = answered + timedelta(minutes=rng.randint(1, 30))
            satisfaction = int(_weighted(rng, SATISFACTION)) if rng.random() < 0.7 else None
        received_cell: Any = received
        if rng.random() < FEEDBACK_SERIAL_DATE_SHARE:
            received_cell = _excel_serial(received)
        return {
            "Mã PAKN": f"PAKN-{day:%y%m%d}-{sequence:04d}",
            "Ngày tiếp nhận": received_cell,
            "Kênh tiếp nhận": _weighted(rng, FEEDBACK_CHANNELS),
            "Họ tên người phản ánh": person.full_name,
            "Số điện thoại": phone,
            "Lĩnh vực": category,
            "Nội dung": rng.choice(texts),
            "Mã hồ sơ liên quan": dossier.code if dossier else None,
            "Xã/Phường": commune or None,
            "Quận/Huyện": district or None,
            "Hạn xử lý": _add_working_days(received.date(), FEEDBACK_PROCESSING_DAYS),
            "Ngày trả lời": answered,
            "Trạng thái": status,
            "Mức độ hài lòng": satisfaction,
            "Ngày cập nhật": updated,
            "_received": received,  # kept for later answers; not a column of the sheet
        }

    @staticmethod
    def _answer(rng: random.Random, row: dict[str, Any], at: datetime) -> dict[str, Any]:
        answered = dict(row)
        answered["Trạng thái"] = _weighted(rng, ((FEEDBACK_ANSWERED, 80), (FEEDBACK_CLOSED, 20)))
        answered["Ngày trả lời"] = at
        answered["Mức độ hài lòng"] = int(_weighted(rng, SATISFACTION)) if rng.random() < 0.7 else None
        answered["Ngày cập nhật"] = at + timedelta(minutes=rng.randint(1, 30))
        return answered

    @staticmethod
    def _inject(rng: random.Random, row: dict[str, Any], defect: str, *, dossiers: list[_NewDossier]) -> None:
        received: datetime = row["_received"]
        if defect == "missing_feedback_id":
            row["Mã PAKN"] = None
        elif defect == "bad_date":
            row["Ngày tiếp nhận"] = _impossible_moment(rng, received, "%d/%m/%Y %H:%M")
        elif defect == "answered_before_received":
            row["Trạng thái"] = FEEDBACK_ANSWERED
            row["Ngày trả lời"] = received - timedelta(days=rng.randint(1, 3), minutes=rng.randint(0, 600))
        elif defect == "satisfaction_out_of_range":
            row["Trạng thái"] = FEEDBACK_ANSWERED
            row["Ngày trả lời"] = received + timedelta(minutes=30)
            row["Ngày cập nhật"] = received + timedelta(minutes=45)
            row["Mức độ hài lòng"] = rng.choice((6, 0, 10, "tốt"))
        elif defect == "bad_dossier_code":
            code = dossiers[rng.randrange(len(dossiers))].code if dossiers else "000.00.01.H12-250101-00001"
            row["Mã hồ sơ liên quan"] = code.rsplit("-", 1)[0]
        elif defect == "unknown_commune":
            row["Xã/Phường"], row["Quận/Huyện"] = rng.choice(FOREIGN_PLACES)
        elif defect == "ambiguous_commune":
            row["Xã/Phường"], row["Quận/Huyện"] = rng.choice(_names_of_two_districts()), None
        elif defect == "invalid_phone":
            row["Số điện thoại"] = _invalid_phone(rng)
        elif defect != "duplicate":
            raise ValueError(f"unknown feedback defect {defect!r}")

    def write_day(
        self, landing_root: Path, manifest: _Manifest, day_index: int, day: date, dossiers: list[_NewDossier]
    ) -> None:
        rng = _rng(self.seed, "feedback-day", day_index)
        paid = [d for d in dossiers if d.core.payment == "1"]
        rows: list[dict[str, Any]] = []
        for sequence, received in enumerate(_spread(rng, day, self.per_day), start=1):
            dossier = None
            if sequence == 1 and paid:  # someone who filed and paid today also calls the hotline
                dossier = rng.choice(paid)
            elif dossiers and rng.random() < FEEDBACK_ABOUT_A_DOSSIER:
                dossier = rng.choice(dossiers)
            rows.append(self._row(rng, day, sequence, received, dossier))
        # Yesterday's open feedback answered today come first in the file, then today's.
        answers = [
            self._answer(rng, row, _at(day, OFFICE_OPENS) + timedelta(minutes=rng.randrange(480)))
            for row in self.open_rows
            if rng.random() < 0.4
        ]
        defects = self.planner.plan(rng, len(rows), len(rows) + len(answers))
        self.open_rows = [
            row for position, row in enumerate(rows)
            if position not in defects and row["Trạng thái"] in (FEEDBACK_RECEIVED, FEEDBACK_IN_PROGRESS)
        ]  # fmt: skip
        relative = f"{FEEDBACK_AGENCY}/{FEEDBACK}/{day.isoformat()}/pakn_{day:%Y%m%d}.xlsx"
        recorder = _FileRecorder(manifest, FEEDBACK, landing_root, relative)
        today = _lines_with_defects(
            rows, defects, _key_of("Mã PAKN"), functools.partial(self._inject, rng, dossiers=dossiers)
        )
        _write_xlsx(
            recorder,
            FEEDBACK_LAYOUT,
            itertools.chain((_Line(a, _key_of("Mã PAKN")(a)) for a in answers), today),
        )
        self.planner.file_written(recorder.records, recorder.defects)


# ---------------------------------------------------------------------------------------------------------
# Air quality
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Station:
    code: str
    name: str
    location: str
    network: str  # "auto" (automatic stations) or "kcn" (industrial parks)
    base_pm25: float


STATIONS = (
    _Station("TDM01", "Trạm quan trắc Phú Hòa", "P. Phú Hòa, TP. Thủ Dầu Một", "auto", 28.0),
    _Station(
        "TDM02", "Trạm quan trắc Chánh Nghĩa", "Phường Chánh Nghĩa - Thành phố Thủ Dầu Một", "auto", 26.0
    ),
    _Station("DA01", "Trạm quan trắc Dĩ An", "Phuong Di An, TP Di An", "auto", 34.0),
    _Station("TA01", "Trạm KCN Việt Hương", "KCN Việt Hương - P. Thuận Giao, TP Thuận An", "auto", 38.0),
    _Station("BC01", "Trạm quan trắc Mỹ Phước", "P.Mỹ Phước, TX.Bến Cát", "auto", 30.0),
    _Station("KCN01", "Trạm KCN Nam Tân Uyên", "phường khánh bình, tp tân uyên", "kcn", 36.0),
    _Station("KCN02", "Trạm KCN Bàu Bàng", "TT. Lai Uyên, H. Bàu Bàng", "kcn", 24.0),
    _Station("KCN03", "Trạm quan trắc Dầu Tiếng", "Thị trấn Dầu Tiếng (Dầu Tiếng)", "kcn", 18.0),
)


@dataclass(frozen=True)
class _AirNetwork:
    """How one station network exports its hourly data."""

    file_stem: str
    encoding: str
    columns: tuple[str, str, str, str, str, str, str]  # code, name, location, hour, PM2.5, PM10, AQI
    time_format: str
    decimal_comma: bool


AIR_NETWORKS = {
    "auto": _AirNetwork(
        "quantrac_tudong",
        "windows-1258",
        ("MaTram", "TenTram", "DiaDiem", "ThoiGian", "PM2.5", "PM10", "AQI"),
        "%Y-%m-%d %H:%M",
        False,
    ),
    "kcn": _AirNetwork(
        "quantrac_kcn",
        "utf-16",
        ("Mã trạm", "Tên trạm", "Vị trí", "Thời điểm", "Bụi PM2.5", "Bụi PM10", "VN_AQI"),
        "%d/%m/%Y %H:%M",
        True,
    ),
}
# VN_AQI for PM2.5 (Quyết định 1459/QĐ-TCMT): concentration breakpoints and the index at each.
PM25_BREAKPOINTS = ((0, 0), (25, 50), (50, 100), (80, 150), (150, 200), (250, 300), (350, 400), (500, 500))
MISSING_MEASUREMENT_SHARE = 0.03


def vn_aqi_pm25(concentration: float) -> int:
    for (low_c, low_i), (high_c, high_i) in itertools.pairwise(PM25_BREAKPOINTS):
        if concentration <= high_c:
            return round(low_i + (high_i - low_i) * (concentration - low_c) / (high_c - low_c))
    return 500


class _AirQualitySampler:
    def __init__(self, seed: int, planner: _DefectPlanner) -> None:
        self.seed = seed
        self.planner = planner

    @staticmethod
    def _number(value: float, comma: bool) -> str:
        text = f"{value:.1f}"
        return text.replace(".", ",") if comma else text

    def _rows(self, rng: random.Random, day: date, network: str) -> list[dict[str, Any]]:
        layout = AIR_NETWORKS[network]
        pattern, comma = layout.time_format, layout.decimal_comma
        code, name, location, moment, pm25, pm10, aqi = layout.columns
        rows = []
        for hour in range(24):
            # Traffic peaks in the morning and evening, and a stable night layer, raise fine dust.
            daily = 1.0 + 0.35 * (hour in (6, 7, 8, 17, 18, 19)) + 0.2 * (hour in (0, 1, 2, 3, 4, 22, 23))
            for station in (s for s in STATIONS if s.network == network):
                measured = datetime.combine(day, time(hour))
                row = {code: station.code, name: station.name, location: station.location,
                       moment: measured.strftime(pattern)}  # fmt: skip
                if rng.random() < MISSING_MEASUREMENT_SHARE:
                    row |= {pm25: "NA", pm10: "NA", aqi: ""}
                else:
                    fine = max(2.0, station.base_pm25 * daily * rng.uniform(0.7, 1.3))
                    row |= {
                        pm25: self._number(fine, comma),
                        pm10: self._number(fine * rng.uniform(1.4, 1.9), comma),
                        aqi: str(vn_aqi_pm25(round(fine, 1))),
                    }
                rows.append(row)
        return rows

    @staticmethod
    def _inject(rng: random.Random, row: dict[str, Any], defect: str, *, network: str) -> None:
        layout = AIR_NETWORKS[network]
        pattern, comma = layout.time_format, layout.decimal_comma
        code, _, location, moment, pm25, _, aqi = layout.columns
        if defect == "missing_station_code":
            row[code] = ""
        elif defect == "bad_timestamp":
            row[moment] = _impossible_moment(rng, datetime.strptime(row[moment], pattern), pattern)
        elif defect == "negative_pm25":
            row[pm25] = "-12,4" if comma else "-12.4"
        elif defect == "implausible_pm25":
            row[pm25] = rng.choice(("1500", "9999"))
        elif defect == "aqi_out_of_range":
            row[aqi] = str(rng.randint(501, 999))
        elif defect == "unknown_commune":
            commune, district = rng.choice(FOREIGN_PLACES)
            row[location] = f"{commune}, {district}"
        elif defect != "duplicate":
            raise ValueError(f"unknown air quality defect {defect!r}")

    def write_day(self, landing_root: Path, manifest: _Manifest, day_index: int, day: date) -> None:
        for network, layout in AIR_NETWORKS.items():
            rng = _rng(self.seed, "air-day", day_index, network)
            rows = self._rows(rng, day, network)
            defects = self.planner.plan(rng, len(rows), len(rows))
            name = f"{layout.file_stem}_{day:%Y%m%d}.csv"
            relative = f"{AIR_QUALITY_AGENCY}/{AIR_QUALITY}/{day.isoformat()}/{name}"
            recorder = _FileRecorder(manifest, AIR_QUALITY, landing_root, relative)
            inject = functools.partial(self._inject, rng, network=network)
            key = _key_of(layout.columns[0], layout.columns[3])  # station, hour
            lines = _lines_with_defects(rows, defects, key, inject)
            _write_csv(recorder, layout.columns, lines, layout.encoding)
            self.planner.file_written(recorder.records, recorder.defects)


# ---------------------------------------------------------------------------------------------------------
# Health visits
# ---------------------------------------------------------------------------------------------------------

HEALTH_COLUMNS = (
    "Mã CSKCB", "Tên cơ sở", "Xã/Phường", "Huyện/TP", "Ngày", "Mã dịch vụ", "Tên dịch vụ", "Số lượt",
    "Số lượt BHYT", "Ngày báo cáo",
)  # fmt: skip
# Each district health centre's software: (file stem, districts it reports for, file encoding).
HEALTH_GROUPS = (
    ("ttyt_dautieng_baubang", ("720", "719"), "tcvn3"),
    ("ttyt_phugiao_bactanuyen", ("722", "726"), "vni-windows"),
    ("ttyt_thudaumot", ("718",), "utf-8-sig"),
)
HEALTH_SERVICES = {
    "KB": "Khám bệnh ngoại trú", "CC": "Cấp cứu", "NT": "Điều trị nội trú", "TC": "Tiêm chủng",
    "XN": "Xét nghiệm",
}  # fmt: skip
# Daily visits by facility kind and service: (low, high).
STATION_VISITS = {"KB": (5, 60), "TC": (10, 80), "XN": (5, 40)}
CENTRE_VISITS = {"KB": (80, 300), "CC": (5, 30), "NT": (5, 25), "XN": (30, 150)}
HEALTH_DATE = "%d/%m/%Y"
HEALTH_KEY = _key_of("Mã CSKCB", "Ngày", "Mã dịch vụ")
HEALTH_TIMESTAMP = "%d/%m/%Y %H:%M:%S"
CORRECTIONS_PER_FILE = 2


@dataclass(frozen=True)
class _Facility:
    code: str
    name: str
    unit: AdminUnit
    visits: dict[str, tuple[int, int]]


def _facilities(districts: Sequence[str], units: Sequence[AdminUnit], per_district: int) -> list[_Facility]:
    facilities = []
    for district in districts:
        local = sorted((u for u in units if u.district_code == district), key=lambda u: u.commune_code)
        seat = local[0]
        facilities.append(
            _Facility(f"74{district}", f"Trung tâm Y tế {seat.district_name}", seat, CENTRE_VISITS)
        )
        for unit in local[:per_district]:
            facilities.append(
                _Facility(
                    f"74{unit.commune_code[-3:]}", f"Trạm Y tế {unit.commune_name}", unit, STATION_VISITS
                )
            )
    return facilities


class _HealthSampler:
    def __init__(
        self, *, seed: int, units: Sequence[AdminUnit], per_district: int, planner: _DefectPlanner
    ) -> None:
        self.seed = seed
        self.planner = planner
        self.groups = [
            (stem, encoding, _facilities(districts, units, per_district))
            for stem, districts, encoding in HEALTH_GROUPS
        ]
        self.yesterday: dict[str, list[dict[str, Any]]] = {}

    @staticmethod
    def _place(rng: random.Random, unit: AdminUnit) -> tuple[str, str]:
        kind, base = split_type(unit.commune_name)
        district_kind, district_base = _district_words(unit.district_name)
        return rng.choice(
            (
                (unit.commune_name, unit.district_name),
                (
                    f"{COMMUNE_ABBREVIATIONS[kind]} {base}",
                    f"{DISTRICT_ABBREVIATIONS.get(district_kind, '')} {district_base}".strip(),
                ),
                (unit.commune_name, district_base),
            )
        )

    def _rows(self, rng: random.Random, day: date, facilities: list[_Facility]) -> list[dict[str, Any]]:
        rows = []
        for facility in facilities:
            commune, district = self._place(rng, facility.unit)
            for service, (low, high) in facility.visits.items():
                if service == "TC" and rng.random() < 0.6:  # vaccination days, not every day
                    continue
                visits = rng.randint(low, high)
                reported = _at(day, time(17)) + timedelta(minutes=rng.randrange(90))
                rows.append(
                    {
                        "Mã CSKCB": facility.code, "Tên cơ sở": facility.name, "Xã/Phường": commune,
                        "Huyện/TP": district, "Ngày": day.strftime(HEALTH_DATE), "Mã dịch vụ": service,
                        "Tên dịch vụ": HEALTH_SERVICES[service], "Số lượt": str(visits),
                        "Số lượt BHYT": str(round(visits * rng.uniform(0.6, 0.95))),
                        "Ngày báo cáo": reported.strftime(HEALTH_TIMESTAMP),
                    }
                )  # fmt: skip
        return rows

    @staticmethod
    def _corrected(rng: random.Random, row: dict[str, Any], day: date) -> dict[str, Any]:
        """Yesterday's report of one facility and service, corrected this morning."""
        corrected = dict(row)
        visits = int(row["Số lượt"]) + rng.randint(1, 9)
        corrected["Số lượt"] = str(visits)
        corrected["Số lượt BHYT"] = str(min(visits, int(row["Số lượt BHYT"]) + rng.randint(0, 5)))
        corrected["Ngày báo cáo"] = (_at(day, time(8)) + timedelta(minutes=rng.randrange(120))).strftime(
            HEALTH_TIMESTAMP
        )
        return corrected

    @staticmethod
    def _inject(rng: random.Random, row: dict[str, Any], defect: str) -> None:
        if defect == "missing_facility_code":
            row["Mã CSKCB"] = ""
        elif defect == "bad_date":
            visited = datetime.strptime(row["Ngày"], HEALTH_DATE)
            row["Ngày"] = _impossible_moment(rng, visited, HEALTH_DATE)
        elif defect == "unknown_service":
            row["Mã dịch vụ"], row["Tên dịch vụ"] = "XQ", "Chụp X-quang"
        elif defect == "non_numeric_visits":
            row["Số lượt"] = row["Số lượt"][:-1] + "O"  # a letter O typed for a zero
        elif defect == "insured_above_visits":
            row["Số lượt BHYT"] = str(int(row["Số lượt"]) + rng.randint(1, 10))
        elif defect == "unknown_commune":
            row["Xã/Phường"], row["Huyện/TP"] = rng.choice(FOREIGN_PLACES)
        elif defect != "duplicate":
            raise ValueError(f"unknown health visits defect {defect!r}")

    def write_day(self, landing_root: Path, manifest: _Manifest, day_index: int, day: date) -> None:
        for stem, encoding, facilities in self.groups:
            rng = _rng(self.seed, "health-day", day_index, stem)
            earlier = self.yesterday.get(stem, [])
            corrections = [
                self._corrected(rng, row, day)
                for row in rng.sample(earlier, min(CORRECTIONS_PER_FILE, len(earlier)))
            ]
            rows = self._rows(rng, day, facilities)
            defects = self.planner.plan(rng, len(rows), len(rows) + len(corrections))
            self.yesterday[stem] = [row for position, row in enumerate(rows) if position not in defects]
            relative = f"{HEALTH_AGENCY}/{HEALTH_VISITS}/{day.isoformat()}/{stem}_{day:%Y%m%d}.csv"
            recorder = _FileRecorder(manifest, HEALTH_VISITS, landing_root, relative)
            lines = itertools.chain(
                (_Line(row, HEALTH_KEY(row)) for row in corrections),
                _lines_with_defects(rows, defects, HEALTH_KEY, functools.partial(self._inject, rng)),
            )
            _write_csv(recorder, HEALTH_COLUMNS, lines, encoding)
            self.planner.file_written(recorder.records, recorder.defects)


# ---------------------------------------------------------------------------------------------------------
# Traffic incidents
# ---------------------------------------------------------------------------------------------------------

CAMERA_TYPES = (("un_tac", 40), ("vi_pham", 35), ("va_cham", 15), ("ngap_nuoc", 10))
POLICE_TYPES = (("Va chạm giao thông", 70), ("Tai nạn giao thông", 30))
TRAFFIC_SPOTS = (
    "Ngã tư Sở Sao", "Vòng xoay An Phú", "Ngã ba Tân Vạn", "Quốc lộ 13", "Đại lộ Bình Dương", "ĐT 743",
    "Ngã tư Chợ Đình", "Cầu Ông Cộ", "Ngã tư Miếu Ông Cù", "ĐT 741", "Đường Mỹ Phước Tân Vạn",
)  # fmt: skip
CAMERA_SHARE = 2 / 3
ISO_LOCAL = "%Y-%m-%dT%H:%M:%S+07:00"
POLICE_TIMESTAMP = "%d/%m/%Y %H:%M"


def _plate(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"61{rng.choice('ACDH')}-{rng.randint(100, 999)}.{rng.randint(10, 99)}"
    return f"61{rng.choice('BEFGK')}{rng.randint(1, 9)}-{rng.randint(100, 999)}.{rng.randint(10, 99)}"


class _TrafficSampler:
    def __init__(
        self, *, seed: int, per_day: int, units: Sequence[AdminUnit], planner: _DefectPlanner
    ) -> None:
        self.seed = seed
        self.per_day = per_day
        self.units = tuple(units)
        self.planner = planner

    def _camera_rows(self, rng: random.Random, day: date, count: int) -> list[dict[str, Any]]:
        rows = []
        for sequence, at in enumerate(_spread(rng, day, count), start=1):
            kind = _weighted(rng, CAMERA_TYPES)
            unit = rng.choice(self.units)
            collision = kind == "va_cham"
            rows.append(
                {
                    "incidentId": f"CAM-{day:%Y%m%d}-{sequence:04d}",
                    "occurredAt": at.strftime(ISO_LOCAL),
                    "type": kind,
                    "location": _location_as_written(rng, rng.choice(TRAFFIC_SPOTS), unit),
                    "cameraId": f"CAM-{unit.district_code}-{rng.randint(1, 40):03d}",
                    "plate": _plate(rng) if kind in ("vi_pham", "va_cham") else "",
                    "vehicles": rng.randint(1, 3) if collision else (1 if kind == "vi_pham" else 0),
                    "injuries": rng.choice((0, 0, 1)) if collision else 0,
                    "fatalities": 0,
                    "reportedAt": (at + timedelta(seconds=rng.randint(5, 60))).strftime(ISO_LOCAL),
                }
            )
        return rows

    def _police_rows(self, rng: random.Random, day: date, count: int) -> list[dict[str, Any]]:
        rows = []
        for sequence, at in enumerate(_spread(rng, day, count), start=1):
            unit = rng.choice(self.units)
            injuries = rng.choice((0, 1, 1, 2, 3))
            rows.append(
                {
                    "MaSuCo": f"CSGT-{day:%Y%m%d}-{sequence:03d}",
                    "ThoiGian": at.strftime(POLICE_TIMESTAMP),
                    "LoaiSuCo": _weighted(rng, POLICE_TYPES),
                    "DiaDiem": _location_as_written(rng, rng.choice(TRAFFIC_SPOTS), unit),
                    "BienSo": _plate(rng),
                    "SoXe": rng.randint(1, 3),
                    "SoNguoiBiThuong": injuries,
                    "SoNguoiTuVong": 1 if injuries and rng.random() < 0.05 else 0,
                    "ThoiGianLap": (at + timedelta(minutes=rng.randint(30, 180))).strftime(POLICE_TIMESTAMP),
                }
            )
        return rows

    @staticmethod
    def _inject(rng: random.Random, row: dict[str, Any], defect: str) -> None:
        camera = "incidentId" in row
        key, moment, kind, place, injuries = (
            ("incidentId", "occurredAt", "type", "location", "injuries")
            if camera
            else ("MaSuCo", "ThoiGian", "LoaiSuCo", "DiaDiem", "SoNguoiBiThuong")
        )
        pattern = ISO_LOCAL if camera else POLICE_TIMESTAMP
        if defect == "missing_incident_id":
            row[key] = ""
        elif defect == "bad_timestamp":
            row[moment] = _impossible_moment(rng, datetime.strptime(row[moment], pattern), pattern)
        elif defect == "unknown_type":
            row[kind] = "chay_xe" if camera else "Cháy xe"
        elif defect == "negative_injuries":
            row[injuries] = -1
        elif defect == "unknown_commune":
            commune, district = rng.choice(FOREIGN_PLACES)
            row[place] = f"{rng.choice(TRAFFIC_SPOTS)}, {commune}, {district}"
        elif defect != "duplicate":
            raise ValueError(f"unknown traffic defect {defect!r}")

    def write_day(self, landing_root: Path, manifest: _Manifest, day_index: int, day: date) -> None:
        cameras = max(1, round(self.per_day * CAMERA_SHARE))
        folder = f"{TRAFFIC_AGENCY}/{TRAFFIC_INCIDENTS}/{day.isoformat()}"
        for source, count in (("camera", cameras), ("police", max(1, self.per_day - cameras))):
            rng = _rng(self.seed, "traffic-day", day_index, source)
            if source == "camera":
                rows, key = self._camera_rows(rng, day, count), "incidentId"
                relative, write = f"{folder}/camera_{day:%Y%m%d}.jsonl", _write_jsonl
            else:
                rows, key = self._police_rows(rng, day, count), "MaSuCo"
                relative, write = f"{folder}/bienban_{day:%Y%m%d}.json", _write_json_array
            defects = self.planner.plan(rng, len(rows), len(rows))
            recorder = _FileRecorder(manifest, TRAFFIC_INCIDENTS, landing_root, relative)
            write(
                recorder,
                _lines_with_defects(rows, defects, _key_of(key), functools.partial(self._inject, rng)),
            )
            self.planner.file_written(recorder.records, recorder.defects)


# ---------------------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------------------


# Random streams of the defect planners (the first two named before the other datasets existed).
DEFECT_STREAMS = {DOSSIERS: "dossier-defects", ENTERPRISES: "enterprise-defects"}


def _check_arguments(
    days: int, dossiers_per_day: int, enterprises: int, defect_rate: float, per_day: dict[str, int]
) -> None:
    problems = [f"{name}={value}: at least 1" for name, value in per_day.items() if value < 1]
    if days < 1:
        problems.append(f"days={days}: at least 1")
    if not 1 <= dossiers_per_day <= MAX_DAILY_SEQUENCE:
        problems.append(f"dossiers_per_day={dossiers_per_day}: from 1 to {MAX_DAILY_SEQUENCE}")
    if enterprises < 1:
        problems.append(f"enterprises={enterprises}: at least 1")
    if not 0.0 <= defect_rate <= MAX_DEFECT_RATE:
        problems.append(f"defect_rate={defect_rate}: from 0 to {MAX_DEFECT_RATE}")
    if problems:
        raise ValueError("cannot generate the sample: " + "; ".join(problems))


def generate_sample(
    landing_root: Path,
    manifest_path: Path,
    *,
    days: int = 3,
    start: date = date(2025, 6, 29),
    dossiers_per_day: int = 200,
    enterprises: int = 120,
    seed: int = 74,
    defect_rate: float = 0.03,
    feedback_per_day: int = 40,
    incidents_per_day: int = 24,
    health_facilities_per_district: int = 4,
) -> SampleSummary:
    """Write `days` days of deliveries under `landing_root` and the ground truth to `manifest_path`.

    Payments follow the dossiers (about a fifth of them are paid online); air quality is 8 stations x 24
    hours a day; health visits are a few facilities per district (`health_facilities_per_district`).
    """
    per_day = {
        "feedback_per_day": feedback_per_day,
        "incidents_per_day": incidents_per_day,
        "health_facilities_per_district": health_facilities_per_district,
    }
    _check_arguments(days, dossiers_per_day, enterprises, defect_rate, per_day)
    landing_root, manifest_path = Path(landing_root), Path(manifest_path)
    if manifest_path.resolve().is_relative_to(landing_root.resolve()):
        raise ValueError(f"manifest {manifest_path} must lie outside the landing zone {landing_root}")

    units = pre2025_units()
    total_records = days * dossiers_per_day + enterprises
    pool_size = min(MAX_PERSON_POOL, max(MIN_PERSON_POOL, total_records // 3))
    people = _PersonPool(seed, pool_size, units)
    manifest = _Manifest(seed)

    planners = {
        dataset: _DefectPlanner(
            defect_rate, tuple(rules), _rng(seed, DEFECT_STREAMS.get(dataset, f"{dataset}-defects"))
        )
        for dataset, rules in DEFECT_RULES.items()
    }
    dossier_planner = planners[DOSSIERS]
    payments = _PaymentSampler(seed, planners[PAYMENTS])
    feedback = _FeedbackSampler(
        seed=seed, per_day=feedback_per_day, people=people, units=units, planner=planners[FEEDBACK]
    )

    def same_day_deliveries(day_index: int, day: date, new_dossiers: list[_NewDossier]) -> None:
        payments.write_day(landing_root, manifest, day_index, day, new_dossiers)
        feedback.write_day(landing_root, manifest, day_index, day, new_dossiers)

    _DossierSampler(
        seed=seed,
        start=start,
        days=days,
        per_day=dossiers_per_day,
        people=people,
        units=units,
        catalogue=procedures(),
        planner=dossier_planner,
        on_day=same_day_deliveries,
    ).write(landing_root, manifest)

    enterprise_planner = planners[ENTERPRISES]
    _EnterpriseSampler(
        seed=seed,
        start=start,
        days=days,
        count=enterprises,
        people=people,
        units=units,
        planner=enterprise_planner,
    ).write(landing_root, manifest)

    air = _AirQualitySampler(seed, planners[AIR_QUALITY])
    health = _HealthSampler(
        seed=seed, units=units, per_district=health_facilities_per_district, planner=planners[HEALTH_VISITS]
    )
    traffic = _TrafficSampler(
        seed=seed, per_day=incidents_per_day, units=units, planner=planners[TRAFFIC_INCIDENTS]
    )
    for day_index in range(days):
        day = start + timedelta(days=day_index)
        air.write_day(landing_root, manifest, day_index, day)
        health.write_day(landing_root, manifest, day_index, day)
        traffic.write_day(landing_root, manifest, day_index, day)

    manifest_text = manifest.as_json().encode("utf-8")
    _replace_atomically(manifest_path, lambda stream: stream.write(manifest_text))
    return SampleSummary(
        landing_root=landing_root,
        manifest_path=manifest_path,
        files=tuple(manifest.files),
        records={dataset: planner.records for dataset, planner in planners.items()},
        defects={dataset: planner.defects for dataset, planner in planners.items()},
        late_records=len(manifest.late_records),
    )
