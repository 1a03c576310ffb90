"""The sample generator: layout, determinism, ground truth of injected defects, realism of the records.

Record checks here are written independently of the generator, from the format rules: a defect listed in the
manifest must be the one and only problem these checks find in that record, and every other record must pass.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import time
import unicodedata
import zipfile
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest

from jobs.identifiers import citizen_id_problem, normalise_mobile, tax_code_problem
from jobs.reference_data import pre2025_units, procedures
from jobs.sample import SampleSummary, default_manifest_path, generate_sample

DOSSIER_KEYS = [
    "MaHoSo", "MaTTHC", "TenTTHC", "MaLinhVuc", "TenLinhVuc", "KenhThucHien", "MucDo", "ChuHoSo",
    "LoaiDinhDanh", "SoGiayToChuHoSo", "LoaiDoiTuong", "Email", "SoDienThoai", "TrichYeuHoSo", "MaXa",
    "DonViXuLy", "NgayNopHoSo", "NgayTiepNhan", "NgayHenTra", "NgayKetThucXuLy", "NgayTra", "TrangThaiHoSo",
    "DuocThanhToanTrucTuyen", "NgayCapNhat",
]  # fmt: skip
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
}
UNITS = {unit.commune_code: unit for unit in pre2025_units()}
PROCEDURES = {procedure.procedure_code: procedure for procedure in procedures()}
MA_HO_SO = re.compile(r"\d{3}\.\d{2}\.\d{2}\.H\d{2}-(\d{6})-\d{5}")
SMALL = {"days": 3, "dossiers_per_day": 120, "enterprises": 60, "seed": 7, "defect_rate": 0.05}


# ------------------------------------------------------------------------------------------------------------
# Reading what was generated
# ------------------------------------------------------------------------------------------------------------


def read_records(landing_root: Path, relative: str) -> list[dict[str, str]]:
    path = landing_root / relative
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    if path.suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as stream:
            return list(csv.DictReader(stream))
    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        rows = list(workbook["DanhSach"].iter_rows(min_row=3, values_only=True))
    finally:
        workbook.close()
    header = list(rows[0])
    return [
        {column: "" if value is None else value for column, value in zip(header, row, strict=True)}
        for row in rows[1:]
    ]


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
    records = {path: read_records(landing_root, path) for path in datasets}
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


def dossier_problems(record: dict[str, str]) -> set[str]:
    problems: set[str] = set()
    if list(record) != DOSSIER_KEYS or not all(isinstance(value, str) for value in record.values()):
        problems.add("structure")
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


def problems_of(dataset: str, record: dict[str, str]) -> set[str]:
    return dossier_problems(record) if dataset == "dossiers" else enterprise_problems(record)


def key_of(dataset: str, record: dict[str, str]) -> str:
    return record["MaHoSo"] if dataset == "dossiers" else record["Mã số doanh nghiệp"]


# ------------------------------------------------------------------------------------------------------------
# Layout and determinism
# ------------------------------------------------------------------------------------------------------------


def test_files_land_where_the_readers_expect_them(small: Generated) -> None:
    assert sorted(small.datasets) == [
        "cong-dvc/dossiers/2025-06-29/hoso_20250629.jsonl",
        "cong-dvc/dossiers/2025-06-30/hoso_20250630.jsonl",
        "cong-dvc/dossiers/2025-07-01/hoso_20250701.jsonl",
        "so-khdt/enterprises/2025-06-29/dangky_doanhnghiep_202506.xlsx",
        "so-khdt/enterprises/2025-06-30/thaydoi_20250630.csv",
        "so-khdt/enterprises/2025-07-01/thaydoi_20250701.csv",
    ]
    on_disk = sorted(
        str(p.relative_to(small.landing_root)) for p in small.landing_root.rglob("*") if p.is_file()
    )
    assert on_disk == sorted(small.datasets)
    assert small.manifest_path == default_manifest_path(small.landing_root.parent / "lake")
    assert set(small.manifest) == {"seed", "files", "defects", "late_records"}
    assert small.manifest["seed"] == SMALL["seed"]
    for entry in small.manifest["files"]:
        assert entry["records"] == len(small.records[entry["path"]])
    assert [(f.dataset, f.path, f.records) for f in small.summary.files] == [
        (e["dataset"], e["path"], e["records"]) for e in small.manifest["files"]
    ]
    for dataset in ("dossiers", "enterprises"):
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
    (snapshot,) = [p for p in small.datasets if p.endswith(".xlsx")]
    with zipfile.ZipFile(small.landing_root / snapshot) as archive:
        assert {entry.date_time for entry in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = archive.read("docProps/core.xml").decode("utf-8")
    assert re.findall(r"<dcterms:(?:created|modified)[^>]*>([^<]+)<", core) == ["2025-01-01T00:00:00Z"] * 2


def test_xlsx_snapshot_has_title_blank_row_and_header(small: Generated) -> None:
    (snapshot,) = [p for p in small.datasets if p.endswith(".xlsx")]
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
    for dataset in ("dossiers", "enterprises"):
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
    personal: set[str] = set()
    for relative, records in small.records.items():
        for record in records:
            if small.datasets[relative] == "dossiers":
                personal |= {
                    record["ChuHoSo"],
                    record["SoGiayToChuHoSo"],
                    record["SoDienThoai"],
                    record["Email"],
                }
                personal.add(normalise_mobile(record["SoDienThoai"]) or "")
            else:
                personal |= {record["Người đại diện theo pháp luật"], record["Số giấy tờ người đại diện"]}
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
        assert all(unicodedata.is_normalized("NFC", value) for record in records for value in record.values())


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
