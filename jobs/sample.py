"""Deterministic sample deliveries for the landing zone, with injected defects and a ground-truth manifest.

Writes what two agencies would drop into `landing/` over a few days:

- the one-stop portal (`cong-dvc/dossiers`): one JSON-lines file per day in the DongBoHoSoMC field names, all
  values strings; later days carry updated versions of earlier dossiers and a few late versions;
- the business registry (`so-khdt/enterprises`): a monthly XLSX snapshot on the first day, then one CSV of
  changes (UTF-8 with BOM) per day.

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
import csv
import heapq
import io
import json
import os
import random
import shutil
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import IO

from openpyxl import Workbook
from openpyxl.writer.excel import ExcelWriter

from jobs.identifiers import tax_code_check_digit
from jobs.reference_data import AdminUnit, Procedure, pre2025_units, procedures

DOSSIERS = "dossiers"
ENTERPRISES = "enterprises"
DOSSIER_AGENCY = "cong-dvc"
ENTERPRISE_AGENCY = "so-khdt"

DOSSIER_COLUMNS = (
    "MaHoSo", "MaTTHC", "TenTTHC", "MaLinhVuc", "TenLinhVuc", "KenhThucHien", "MucDo", "ChuHoSo",
    "LoaiDinhDanh", "SoGiayToChuHoSo", "LoaiDoiTuong", "Email", "SoDienThoai", "TrichYeuHoSo", "MaXa",
    "DonViXuLy", "NgayNopHoSo", "NgayTiepNhan", "NgayHenTra", "NgayKetThucXuLy", "NgayTra", "TrangThaiHoSo",
    "DuocThanhToanTrucTuyen", "NgayCapNhat",
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
        rules = DOSSIER_DEFECT_RULES if dataset == DOSSIERS else ENTERPRISE_DEFECT_RULES
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
            "files": [{"dataset": f.dataset, "path": f.path, "records": f.records} for f in self.files],
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

    record: dict[str, str]
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

    def finish(self) -> None:
        self.manifest.files.append(SampleFile(self.dataset, self.relative, self.records))


def _write_jsonl(recorder: _FileRecorder, lines: Iterable[_Line]) -> None:
    def write(stream: IO[bytes]) -> None:
        for line in lines:
            recorder.note(line)
            stream.write(json.dumps(line.record, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
            stream.write(b"\n")

    _replace_atomically(recorder.path, write)
    recorder.finish()


def _write_csv_with_bom(recorder: _FileRecorder, columns: Sequence[str], lines: Iterable[_Line]) -> None:
    def write(stream: IO[bytes]) -> None:
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        writer = csv.writer(text)  # standard quoting, CRLF line ends
        writer.writerow(columns)
        for line in lines:
            recorder.note(line)
            writer.writerow([line.record[column] for column in columns])
        text.flush()
        text.detach()  # the caller owns and closes the byte stream

    _replace_atomically(recorder.path, write)
    recorder.finish()


def _write_snapshot_xlsx(recorder: _FileRecorder, lines: Iterable[_Line]) -> None:
    workbook = Workbook(write_only=True)
    workbook.properties.creator = "Sở Kế hoạch và Đầu tư tỉnh Bình Dương"
    workbook.properties.created = FIXED_DOCUMENT_TIME
    workbook.properties.modified = FIXED_DOCUMENT_TIME
    sheet = workbook.create_sheet(ENTERPRISE_SHEET)
    sheet.merged_cells.add(f"A1:{chr(ord('A') + len(ENTERPRISE_COLUMNS) - 1)}1")
    sheet.append([ENTERPRISE_TITLE])
    sheet.append([])
    sheet.append(list(ENTERPRISE_COLUMNS))
    for line in lines:
        recorder.note(line)
        # Every cell is text, as the registry exports it: codes keep their leading zeros, dates their form.
        sheet.append([line.record[column] for column in ENTERPRISE_COLUMNS])

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
    recorder.finish()


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


@dataclass(frozen=True)
class _Version:
    status: str
    updated_at: datetime
    finished_at: datetime | None = None
    returned_at: datetime | None = None


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
    ) -> None:
        self.seed = seed
        self.start = start
        self.days = days
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
            return _Version("5", received + timedelta(minutes=rng.randint(5, 60)))
        if roll < 0.145:
            return _Version("7", received + timedelta(minutes=rng.randint(5, 90)))
        return _Version("4", received)

    @staticmethod
    def _next_version(rng: random.Random, previous: _Version, at: datetime) -> _Version:
        status = _weighted(rng, NEXT_STATUS[previous.status])
        if status == "9":
            return _Version("9", at, at)
        if status == "10":
            finished = previous.finished_at or max(
                previous.updated_at, at - timedelta(minutes=rng.randint(15, 240))
            )
            return _Version("10", at, finished, at)
        return _Version(status, at)

    @staticmethod
    def _render(core: _DossierCore, code: str, version: _Version) -> dict[str, str]:
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
        self, day_index: int, defects: dict[int, str], created_open: list[_OpenDossier]
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
            return _Version("9", after.finished_at, after.finished_at)  # finished, not yet handed over
        gap = int((after.updated_at - before.updated_at).total_seconds())
        at = before.updated_at + timedelta(seconds=rng.randint(gap // 5, gap * 4 // 5))
        if before.status == "9":
            return _Version("9", at, before.finished_at)
        return _Version("4", at)  # moved on to another processing step

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
            relative = f"{DOSSIER_AGENCY}/{DOSSIERS}/{day.isoformat()}/hoso_{day:%Y%m%d}.jsonl"
            recorder = _FileRecorder(manifest, DOSSIERS, landing_root, relative)
            events = heapq.merge(
                self._new_dossier_events(day_index, defects, created_open),
                self._update_events(updates),
                self._late_events(late, late_delivered),
                key=lambda event: event[0],
            )
            _write_jsonl(recorder, (line for _, lines in events for line in lines))
            self.planner.file_written(recorder.records, recorder.defects)

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
# Entry point
# ---------------------------------------------------------------------------------------------------------


def _check_arguments(days: int, dossiers_per_day: int, enterprises: int, defect_rate: float) -> None:
    problems = []
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
) -> SampleSummary:
    """Write `days` days of deliveries under `landing_root` and the ground truth to `manifest_path`."""
    _check_arguments(days, dossiers_per_day, enterprises, defect_rate)
    landing_root, manifest_path = Path(landing_root), Path(manifest_path)
    if manifest_path.resolve().is_relative_to(landing_root.resolve()):
        raise ValueError(f"manifest {manifest_path} must lie outside the landing zone {landing_root}")

    units = pre2025_units()
    total_records = days * dossiers_per_day + enterprises
    pool_size = min(MAX_PERSON_POOL, max(MIN_PERSON_POOL, total_records // 3))
    people = _PersonPool(seed, pool_size, units)
    manifest = _Manifest(seed)

    dossier_planner = _DefectPlanner(defect_rate, tuple(DOSSIER_DEFECT_RULES), _rng(seed, "dossier-defects"))
    _DossierSampler(
        seed=seed,
        start=start,
        days=days,
        per_day=dossiers_per_day,
        people=people,
        units=units,
        catalogue=procedures(),
        planner=dossier_planner,
    ).write(landing_root, manifest)

    enterprise_planner = _DefectPlanner(
        defect_rate, tuple(ENTERPRISE_DEFECT_RULES), _rng(seed, "enterprise-defects")
    )
    _EnterpriseSampler(
        seed=seed,
        start=start,
        days=days,
        count=enterprises,
        people=people,
        units=units,
        planner=enterprise_planner,
    ).write(landing_root, manifest)

    manifest_text = manifest.as_json().encode("utf-8")
    _replace_atomically(manifest_path, lambda stream: stream.write(manifest_text))
    return SampleSummary(
        landing_root=landing_root,
        manifest_path=manifest_path,
        files=tuple(manifest.files),
        records={DOSSIERS: dossier_planner.records, ENTERPRISES: enterprise_planner.records},
        defects={DOSSIERS: dossier_planner.defects, ENTERPRISES: enterprise_planner.defects},
        late_records=len(manifest.late_records),
    )
