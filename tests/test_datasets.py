"""Dataset contracts, cleaning and suites: each registered dataset is complete and consistent, its cleaning
does what its agency's data needs, and on generated deliveries every injected defect is caught by exactly
its rule and nothing else is flagged."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T
from test_identifiers import _generated_tax_codes

from jobs.admin_units import RESOLVED_MATCHES
from jobs.datasets import DATASETS, get_dataset
from jobs.identifiers import tax_code_problem
from jobs.pii import PiiKey
from jobs.quality import EXPECTATIONS_DIR, RAW, load_suite, parseable_rule, with_failed_rules
from jobs.readers import SOURCE_ROW, discover_deliveries, read_delivery
from jobs.standardise import PROVENANCE_COLUMNS, standardise

KEY = PiiKey(b"d" * 32, source="test")
NEW_DATASETS = ("payments", "feedback", "air_quality", "health_visits", "traffic_incidents")
PLACE_DATASETS = ("feedback", "air_quality", "health_visits", "traffic_incidents")


def bronze(spark, dataset: str, records: list[dict[str, str | None]]):
    """Bronze-shaped rows (all strings, provenance) of the given records, keyed by canonical names."""
    names = get_dataset(dataset).contract.field_names
    schema = T.StructType([T.StructField(n, T.StringType()) for n in names])
    frame = spark.createDataFrame([tuple(r.get(n) for n in names) for r in records], schema)
    return frame.select(
        "*",
        F.lit(None).cast("string").alias("_corrupt_record"),
        *[F.lit("f.csv").alias(c) for c in PROVENANCE_COLUMNS if c != "_source_row"],
        F.monotonically_increasing_id().alias("_source_row"),
    )


def validated(spark, dataset: str, records: list[dict[str, str | None]]) -> list:
    rules = [parseable_rule(dataset), *load_suite(dataset).row_rules]
    conformed = standardise(bronze(spark, dataset, records), get_dataset(dataset), KEY)
    return sorted(with_failed_rules(conformed, rules).collect(), key=lambda r: r["_source_row"])


# ---------------------------------------------------------------------------------------------------------
# Registry and suites
# ---------------------------------------------------------------------------------------------------------


def test_every_dataset_is_registered_with_a_suite() -> None:
    assert set(DATASETS) == {"dossiers", "enterprises", *NEW_DATASETS}
    assert {path.stem for path in EXPECTATIONS_DIR.glob("*.json")} >= set(DATASETS)


@pytest.mark.parametrize("dataset", NEW_DATASETS)
def test_suite_rules_follow_the_conventions_and_name_real_columns(spark, dataset: str) -> None:
    suite = load_suite(dataset)
    conformed = standardise(bronze(spark, dataset, []), get_dataset(dataset), KEY)
    columns = set(conformed.columns) | set(get_dataset(dataset).contract.field_names)
    for rule in suite.rules:
        assert re.fullmatch(rf"{dataset}\.[a-z0-9_]+\.[a-z_]+", rule.rule_id), rule.rule_id
        assert rule.message_vi and rule.message_en and rule.severity in ("warn", "quarantine", "fail")
        named = [rule.kwargs.get(k) for k in ("column", "column_A", "column_B")] + list(
            rule.kwargs.get("column_list") or []
        )
        assert all(name in columns for name in named if name), (rule.rule_id, named)
    assert f"{dataset}.batch.row_count" in {r.rule_id for r in suite.dataset_rules}
    contract = get_dataset(dataset).contract
    assert set(contract.business_key) <= set(contract.field_names)
    assert set(contract.silver_partition_by) <= set(conformed.columns)
    if dataset in PLACE_DATASETS:
        resolved = suite.rule(f"{dataset}.commune.resolved")
        assert resolved.severity == "quarantine" and resolved.kwargs["column"] == "commune_match"
        assert resolved.kwargs["value_set"] == list(RESOLVED_MATCHES)
        assert {"commune_code", "commune_code_2025", "commune_match"} <= set(conformed.columns)


def test_personal_data_columns() -> None:
    pii = {name: {(f.name, f.pii) for f in DATASETS[name].contract.pii_fields} for name in NEW_DATASETS}
    assert pii == {
        "payments": {("payer_name", "name"), ("payer_phone", "phone")},
        "feedback": {("reporter_name", "name"), ("reporter_phone", "phone")},
        "air_quality": set(),
        "health_visits": set(),
        "traffic_incidents": set(),
    }
    assert not DATASETS["feedback"].contract.field("content").keep_in_silver


# ---------------------------------------------------------------------------------------------------------
# Cleaning
# ---------------------------------------------------------------------------------------------------------

PAYMENT = {
    "transaction_id": "PG250629000001", "dossier_code": "000.01.18.H12-250629-00001", "status": "Thành công",
    "paid_at": "29/06/2025 08:00:00", "updated_at": "29/06/2025 08:01:00", "payer_phone": "0912345678",
}  # fmt: skip


@pytest.mark.parametrize(
    ("written", "amount", "rules"),
    [
        ("1.234.500", 1234500, []),
        ("1,234,500", 1234500, []),
        ("1 234 500", 1234500, []),
        ("135000", 135000, []),
        ("150.000 đ", 150000, []),
        ("135.000,00", None, ["payments.amount_vnd.format"]),
        ("12.34", None, ["payments.amount_vnd.format"]),
        ("0", 0, ["payments.amount_vnd.positive"]),
    ],
)
def test_payment_amounts_in_vietnamese_notation(spark, written, amount, rules) -> None:
    (row,) = validated(spark, "payments", [{**PAYMENT, "amount_vnd": written}])
    assert (row["amount_vnd"], row["_failed_rules"]) == (amount, rules)


def test_a_payer_and_the_applicant_share_pseudonyms(spark) -> None:
    """The gateway writes the applicant's name in capitals without diacritics and the phone in another form:
    the pseudonyms still join the dossier's applicant."""
    dossier = {"dossier_code": "A-1", "applicant_name": "Nguyễn Thị Thùy", "applicant_phone": "0912.345.678"}
    payment = {
        **PAYMENT,
        "amount_vnd": "20.000",
        "payer_name": "NGUYEN THI THUY",
        "payer_phone": "+84 912 345 678",
    }
    (paid,) = validated(spark, "payments", [payment])
    (filed,) = validated(spark, "dossiers", [dossier])
    assert paid["payer_name_pseudonym"] == filed["applicant_name_pseudonym"] is not None
    assert paid["payer_phone_pseudonym"] == filed["applicant_phone_pseudonym"] is not None


def test_air_measurements_with_decimal_commas_and_missing_marks(spark) -> None:
    base = {
        "station_code": "S1",
        "measured_at": "2025-06-29 07:00",
        "location": "P. Phú Hòa, TP. Thủ Dầu Một",
    }
    records = [
        {**base, "pm25": "12,5", "pm10": "20.25", "aqi": "52"},
        {**base, "station_code": "S2", "pm25": "NA", "pm10": "-", "aqi": ""},
        {**base, "station_code": "S3", "pm25": "-3", "pm10": "1", "aqi": "10"},
        {**base, "station_code": "S4", "pm25": "1200", "pm10": "1", "aqi": "501"},
    ]
    rows = validated(spark, "air_quality", records)
    assert [(r["pm25"], r["pm10"], r["aqi_level"], r["_failed_rules"]) for r in rows] == [
        (12.5, 20.25, "Trung bình", []),
        (None, None, None, []),
        (None, 1.0, "Tốt", ["air_quality.pm25.valid_value"]),
        (1200.0, 1.0, None, ["air_quality.pm25.range", "air_quality.aqi.range"]),
    ]
    assert {(r["commune_code"], r["commune_code_2025"], r["commune_match"]) for r in rows} == {
        ("25750", "25750", "name")
    }
    assert str(rows[0]["measured_month"]) == "2025-06-01"


def test_traffic_types_plates_and_masked_quarantine_text(spark) -> None:
    base = {"occurred_at": "29/06/2025 07:45", "reported_at": "2025-06-29T08:00:00+07:00",
            "location": "Ngã tư Sở Sao, P. Tân Định, TP. Bến Cát"}  # fmt: skip
    records = [
        {**base, "incident_id": "1", "incident_type": "Va chạm giao thông", "plate_number": "61a-123.45"},
        {**base, "incident_id": "2", "incident_type": "ket xe", "plate_number": ""},
        {
            **base,
            "incident_id": "3",
            "incident_type": "collision",
            "occurred_at": "2025-06-29T07:45:00+07:00",
        },
        {**base, "incident_id": "4", "incident_type": "Cháy xe", "plate_number": "61B1-234.56"},
    ]
    rows = validated(spark, "traffic_incidents", records)
    assert [(r["incident_type"], r["plate_number"], r["_failed_rules"]) for r in rows] == [
        ("va_cham", "61A12345", []),
        ("un_tac", None, []),
        ("va_cham", None, []),
        ("Cháy xe", "61B123456", ["traffic_incidents.incident_type.in_set"]),
    ]
    # What quarantine would show of the delivered plate.
    assert [r[RAW]["plate_number"] for r in rows] == ["61A-***45", None, None, "61B-***56"]
    assert {r["commune_code"] for r in rows} == {"25852"}  # Phường Tân Định of Bến Cát, not Xã Tân Định


def test_feedback_commune_spellings_and_answers_on_time(spark) -> None:
    base = {"received_at": "2025-06-29 08:00:00", "updated_at": "2025-06-29 09:00:00",
            "due_at": "2025-07-11", "status": "Đã trả lời"}  # fmt: skip
    records = [
        {**base, "feedback_id": "1", "commune_name": "Tân Định", "district_name": "H. Bắc Tân Uyên",
         "answered_at": "2025-06-29 08:30:00", "satisfaction": "5"},
        {**base, "feedback_id": "2", "commune_name": "Tân Định", "answered_at": "2025-07-20 08:30:00"},
        {**base, "feedback_id": "3", "commune_name": "Phường Bình Dương", "satisfaction": "6"},
        {**base, "feedback_id": "4", "commune_name": None, "status": "Đang xử lý"},
    ]  # fmt: skip
    rows = validated(spark, "feedback", records)
    assert [
        (
            r["commune_code"],
            r["commune_code_2025"],
            r["commune_match"],
            r["answered_on_time"],
            r["_failed_rules"],
        )
        for r in rows
    ] == [
        ("25894", "25906", "name", True, []),
        (None, None, "ambiguous", False, ["feedback.commune.resolved"]),
        (None, "25760", "name", None, ["feedback.satisfaction.in_range"]),
        (None, None, None, False, []),
    ]


def test_health_counts(spark) -> None:
    base = {"facility_code": "74741", "visit_date": "29/06/2025", "reported_at": "29/06/2025 17:00:00",
            "commune_name": "Phường Hiệp Thành", "district_name": "TP. Thủ Dầu Một"}  # fmt: skip
    records = [
        {**base, "service_code": "kb", "visits": "40", "insured_visits": "30"},
        {**base, "service_code": "CC", "visits": "1O", "insured_visits": "3"},
        {**base, "service_code": "NT", "visits": "4", "insured_visits": "9"},
    ]
    rows = validated(spark, "health_visits", records)
    assert [(r["service_code"], r["uninsured_visits"], r["_failed_rules"]) for r in rows] == [
        ("KB", 10, []),
        ("CC", None, ["health_visits.visits.valid_count"]),
        ("NT", -5, ["health_visits.insured_visits.not_above_visits"]),
    ]
    # Hiệp Thành was split: it counts under the unit that received its remainder (Phú Lợi).
    assert {(r["commune_code"], r["commune_code_2025"]) for r in rows} == {("25741", "25750")}


def test_tax_code_check_digits_through_the_enterprise_suite(spark) -> None:
    codes = _generated_tax_codes(random.Random(105))
    base = {"name": "Công ty A", "commune_code": "25747", "updated_at": "29/06/2025 08:00:00"}
    rows = validated(spark, "enterprises", [{**base, "tax_code": code} for code in codes])
    flagged = {r[RAW]["tax_code"]: "enterprises.tax_code.check_digit" in r["_failed_rules"] for r in rows}
    expected = {code: bool(code.strip()) and tax_code_problem(code) is not None for code in codes}
    assert flagged == expected
    assert set(expected.values()) == {True, False}


# ---------------------------------------------------------------------------------------------------------
# Generated deliveries: the ground truth
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def heavy_sample(tmp_path_factory) -> tuple[Path, dict]:
    from jobs.sample import generate_sample

    root = tmp_path_factory.mktemp("datasets-sample")
    generate_sample(
        root / "landing", root / "_sample" / "manifest.json", days=2, dossiers_per_day=100, enterprises=20,
        feedback_per_day=24, incidents_per_day=18, health_facilities_per_district=2, seed=19, defect_rate=0.2,
    )  # fmt: skip
    return root, json.loads((root / "_sample" / "manifest.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("dataset", NEW_DATASETS)
def test_every_injected_defect_is_caught_by_exactly_its_rule_and_nothing_else_fails(
    spark, heavy_sample, dataset: str
) -> None:
    root, manifest = heavy_sample
    expected = {
        (d["file"], d["record_index"]): [d["rule_id"]] for d in manifest["defects"] if d["dataset"] == dataset
    }
    assert len({rule for rules in expected.values() for rule in rules}) >= 5
    contract = get_dataset(dataset).contract
    rules = [parseable_rule(dataset), *load_suite(dataset).row_rules]
    flagged = {}
    for delivery in discover_deliveries(str(root / "landing"), contract):
        with read_delivery(spark, delivery, contract) as raw:
            rows = raw.frame.withColumns(
                {
                    "_source_file": F.lit(delivery.relative_path),
                    "_delivery_date": F.lit(delivery.delivery_date),
                }
            )
            checked = with_failed_rules(standardise(rows, get_dataset(dataset), KEY), rules)
            for r in checked.where(F.size("_failed_rules") > 0).collect():
                flagged[(r["_source_file"], r[SOURCE_ROW])] = list(r["_failed_rules"])
    assert flagged == expected
