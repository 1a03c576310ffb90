"""The project's reference files agree with the collected public sources in ../shared/reference."""

from __future__ import annotations

import csv
import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from jobs.reference_data import (
    CROSSWALK_FILE,
    PRE2025_UNITS_FILE,
    PROCEDURES_FILE,
    crosswalk,
    pre2025_units,
    procedures,
    reference_csv_path,
    value_set,
)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def is_nfc(text: str) -> bool:
    return unicodedata.is_normalized("NFC", text)


def test_pre2025_units_match_the_gso_catalogue(shared_reference: Path) -> None:
    source = {row["commune_code"]: row for row in read_csv(shared_reference / "admin_units_74_pre2025.csv")}
    units = pre2025_units()

    assert len(units) == 91
    assert [unit.commune_code for unit in units] == sorted(source)
    for unit in units:
        expected = source[unit.commune_code]
        assert is_nfc(unit.commune_name) and is_nfc(unit.district_name)
        assert (unit.commune_name, unit.commune_type) == (expected["commune_name"], expected["commune_type"])
        assert (unit.district_code, unit.district_name, unit.district_type) == (
            expected["district_code"],
            expected["district_name"],
            expected["district_type"],
        )
        assert (unit.province_code, unit.province_name) == ("74", "Tỉnh Bình Dương")


def test_pre2025_unit_counts_match_the_official_totals() -> None:
    units = pre2025_units()
    assert Counter(unit.commune_type for unit in units) == {"Phường": 47, "Xã": 39, "Thị trấn": 5}
    districts = {(unit.district_code, unit.district_type) for unit in units}
    assert Counter(kind for _, kind in districts) == {"Thành phố": 5, "Huyện": 4}


def test_crosswalk_has_every_pair_of_the_resolution(shared_reference: Path) -> None:
    source = read_csv(shared_reference / "admin_units_2025_crosswalk.csv")
    new_unit_types = {
        row["new_commune_code"]: row["new_commune_type"]
        for row in read_csv(shared_reference / "admin_units_2025_new_units_from_74.csv")
    }
    pairs = crosswalk()

    assert len(pairs) == 107
    assert {
        (p.old_commune_code, p.new_commune_code, p.new_commune_name, p.new_province_code) for p in pairs
    } == {
        (row["old_commune_code"], row["new_commune_code"], row["new_commune_name"], row["new_province_code"])
        for row in source
    }
    assert len({(p.old_commune_code, p.new_commune_code) for p in pairs}) == 107
    for pair in pairs:
        assert is_nfc(pair.new_commune_name)
        assert pair.new_commune_type == new_unit_types[pair.new_commune_code]
        assert pair.new_commune_name.startswith(pair.new_commune_type + " ")


def test_crosswalk_covers_all_old_units_with_36_new_ones_and_16_splits() -> None:
    pairs = crosswalk()
    parts_per_old_unit = Counter(pair.old_commune_code for pair in pairs)
    new_units = {pair.new_commune_code: pair.new_commune_type for pair in pairs}

    assert set(parts_per_old_unit) == {unit.commune_code for unit in pre2025_units()}
    assert sorted(Counter(parts_per_old_unit.values()).items()) == [(1, 75), (2, 16)]
    assert len(new_units) == 36
    assert Counter(new_units.values()) == {"Phường": 24, "Xã": 12}
    assert {pair.new_province_code for pair in pairs} == {"79"}
    # Hiệp Thành is split between Thủ Dầu Một and Phú Lợi; Thới Hòa is carried over unchanged.
    assert {p.new_commune_name for p in pairs if p.old_commune_code == "25741"} == {
        "Phường Thủ Dầu Một",
        "Phường Phú Lợi",
    }
    assert [(p.new_commune_code, p.new_commune_name) for p in pairs if p.old_commune_code == "25846"] == [
        ("25846", "Phường Thới Hòa")
    ]


def test_procedures_are_well_formed() -> None:
    catalogue = procedures()
    codes = [procedure.procedure_code for procedure in catalogue]

    assert 20 <= len(catalogue) <= 40
    assert len(set(codes)) == len(codes)
    assert "1.001193" in codes  # Đăng ký khai sinh
    for procedure in catalogue:
        assert re.fullmatch(r"\d\.\d{6}", procedure.procedure_code), procedure
        assert procedure.procedure_name and is_nfc(procedure.procedure_name)
        assert re.fullmatch(r"[A-Z]+", procedure.field_code) and is_nfc(procedure.field_name)
        assert procedure.level in {"commune", "district", "province"}
        assert 0 <= procedure.processing_days <= 60
        assert procedure.online_level in {2, 3, 4}
        assert procedure.fee_vnd >= 0
    assert {procedure.level for procedure in catalogue} == {"commune", "district", "province"}


@pytest.mark.parametrize(
    ("name", "header"),
    [
        (
            PRE2025_UNITS_FILE,
            "commune_code,commune_name,commune_type,district_code,district_name,district_type,"
            "province_code,province_name",
        ),
        (
            CROSSWALK_FILE,
            "old_commune_code,new_commune_code,new_commune_name,new_commune_type,new_province_code",
        ),
        (
            PROCEDURES_FILE,
            "procedure_code,procedure_name,field_code,field_name,level,processing_days,online_level,fee_vnd",
        ),
    ],
)
def test_reference_csv_path_points_at_the_project_schema(name: str, header: str) -> None:
    raw = Path(reference_csv_path(name)).read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8")
    assert is_nfc(text)
    assert text.splitlines()[0] == header


def test_unknown_reference_file_is_refused() -> None:
    with pytest.raises(FileNotFoundError, match="unknown reference file"):
        reference_csv_path("admin_units_99.csv")


def test_loaders_hand_out_independent_lists() -> None:
    units = pre2025_units()
    units.clear()
    assert len(pre2025_units()) == 91
    assert pre2025_units()[0] is pre2025_units()[0]  # read once, cached


def test_value_set_names_a_column_of_a_reference_file() -> None:
    communes = value_set("admin_units_74_pre2025.commune_code")
    assert communes == [unit.commune_code for unit in pre2025_units()]
    assert value_set("admin_units_2025_crosswalk.new_province_code") == ["79"]
    assert len(value_set("admin_units_2025_crosswalk.new_commune_code")) == 36


@pytest.mark.parametrize(
    "reference", ["admin_units_74_pre2025", "admin_units_74_pre2025.no_such_column", "nowhere.commune_code"]
)
def test_value_set_refuses_unknown_references(reference: str) -> None:
    with pytest.raises(ValueError, match="value set"):
        value_set(reference)


def test_reference_tables_hold_the_units_and_every_crosswalk_pair(
    spark, tmp_path: Path, shared_reference: Path
):
    from jobs.lake import Lake, current_version
    from jobs.reference_tables import (
        REF_ADMIN_UNITS_CROSSWALK_2025,
        REF_ADMIN_UNITS_PRE2025,
        write_reference_tables,
    )

    lake = Lake(str(tmp_path))
    versions = write_reference_tables(spark, lake)
    assert set(versions) == {"silver.ref_admin_units_pre2025", "silver.ref_admin_units_crosswalk_2025"}

    units = spark.read.format("delta").load(lake.table_path(REF_ADMIN_UNITS_PRE2025)).collect()
    pairs = spark.read.format("delta").load(lake.table_path(REF_ADMIN_UNITS_CROSSWALK_2025)).collect()
    source_units = {
        row["commune_code"]: row for row in read_csv(shared_reference / "admin_units_74_pre2025.csv")
    }
    source_pairs = read_csv(shared_reference / "admin_units_2025_crosswalk.csv")
    assert {u["commune_code"]: (u["commune_name"], u["district_code"]) for u in units} == {
        code: (row["commune_name"], row["district_code"]) for code, row in source_units.items()
    }
    assert {(p["old_commune_code"], p["new_commune_code"], p["new_commune_name"]) for p in pairs} == {
        (row["old_commune_code"], row["new_commune_code"], row["new_commune_name"]) for row in source_pairs
    }
    assert len(pairs) == 107
    # One primary pair per old commune, the one the units table counts it under.
    primary = Counter(p["old_commune_code"] for p in pairs if p["is_primary"])
    assert set(primary.values()) == {1} and len(primary) == 91
    primary_unit = {p["old_commune_code"]: p["new_commune_code"] for p in pairs if p["is_primary"]}
    assert {u["commune_code"]: u["commune_code_2025"] for u in units} == primary_unit
    assert sum(u["is_split"] for u in units) == 16
    assert {p["primary_reason"] for p in pairs if p["is_primary"] and p["old_commune_code"] == "25741"} == {
        "NQ 1685: Hiệp Thành: part to Thủ Dầu Một (cl. 87), remainder to Phú Lợi (cl. 88)"
    }

    # Unchanged reference: no new table version.
    assert write_reference_tables(spark, lake) == versions
    assert (
        current_version(spark, lake.table_path(REF_ADMIN_UNITS_PRE2025))
        == versions["silver.ref_admin_units_pre2025"]
    )
