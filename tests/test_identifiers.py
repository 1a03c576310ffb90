"""Citizen IDs, tax codes and mobile numbers: the Python rules, and the Spark columns agreeing with them."""

from __future__ import annotations

import random
import re

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from jobs.identifiers import (
    CITIZEN_ID_CHARACTERS_PROBLEM,
    CITIZEN_ID_LENGTH_PROBLEM,
    MOBILE_PROBLEM,
    TAX_CODE_BRANCH_PROBLEM,
    TAX_CODE_PREFIX_PROBLEM,
    TAX_CODE_SEQUENCE_PROBLEM,
    TAX_CODE_SHAPE_PROBLEM,
    citizen_id_digits,
    citizen_id_kind,
    citizen_id_problem,
    citizen_id_problem_col,
    mobile_normalised,
    mobile_problem,
    mobile_problem_col,
    normalise_mobile,
    normalise_tax_code,
    tax_code_check_digit,
    tax_code_normalised,
    tax_code_problem,
    tax_code_problem_col,
)

REFERENCE_YEAR = 2026
MOBILE_PREFIXES = [f"3{d}" for d in "23456789"] + ["52", "55", "56", "58", "59", "70", "76", "77", "78", "79"]
MOBILE_PREFIXES += [f"8{d}" for d in "123456789"] + [f"9{d}" for d in "0123456789"]


# --- Python reference rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code", ["0100109106", "0300588569", "0101248141", "0100112437", "0100233488", "0100047516"]
)
def test_check_digit_of_published_tax_codes(code: str) -> None:
    assert tax_code_check_digit(code[:9]) == int(code[9])
    assert tax_code_problem(code) is None


def test_check_digit_rejects_prefixes_that_are_never_issued_and_bad_input() -> None:
    never_issued = "100000008"  # 31·1 + 3·8 = 55 = 5·11
    assert tax_code_check_digit(never_issued) is None
    assert tax_code_problem(never_issued + "0") == TAX_CODE_PREFIX_PROBLEM
    with pytest.raises(ValueError, match="expected 9 digits"):
        tax_code_check_digit("01001091")
    with pytest.raises(ValueError, match="expected 9 digits"):
        tax_code_check_digit("０１００１０９１０")  # full-width digits are not digits of a tax code


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        (" 0100109106-001 ", None),
        ("0100 109 106", None),
        ("0100109107", "check digit is 7, expected 6"),
        ("010010910", TAX_CODE_SHAPE_PROBLEM),
        ("01001091A6", TAX_CODE_SHAPE_PROBLEM),
        ("0100109106-000", TAX_CODE_BRANCH_PROBLEM),
        ("0100109106-01", TAX_CODE_BRANCH_PROBLEM),
        ("0100109106-", TAX_CODE_BRANCH_PROBLEM),
        ("0100000000", TAX_CODE_SEQUENCE_PROBLEM),
    ],
)
def test_tax_code_problem(code: str, problem: str | None) -> None:
    assert tax_code_problem(code) == problem


def test_normalise_tax_code() -> None:
    assert normalise_tax_code(" 0100109106 - 001 ") == "0100109106-001"
    assert normalise_tax_code("0100109107") is None


@pytest.mark.parametrize(
    ("number", "problem"),
    [
        ("074 095 012 345", None),
        ("074.205.012.345", None),  # female, born 2005
        ("123456789", None),  # CMND
        ("07409501234", CITIZEN_ID_LENGTH_PROBLEM),
        ("07409501234X", CITIZEN_ID_CHARACTERS_PROBLEM),
        ("", CITIZEN_ID_CHARACTERS_PROBLEM),
        ("097095012345", "birth-registration province code 097 is outside 001-096"),
        ("000095012345", "birth-registration province code 000 is outside 001-096"),
        ("074326012345", None),  # born this year
        ("074227012345", "birth year 2027 from digits 4-6 is in the future"),
        ("074499012345", "birth year 2199 from digits 4-6 is in the future"),
    ],
)
def test_citizen_id_problem(number: str, problem: str | None) -> None:
    assert citizen_id_problem(number, today_year=REFERENCE_YEAR) == problem


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("+84 912 345 678", "0912345678"),
        ("84912345678", "0912345678"),
        ("0912.345.678", "0912345678"),
        ("(+84) 32-123-4567", "0321234567"),
        ("0212345678", None),  # 02x is a landline prefix
        ("091234567", None),
        ("01662345678", None),  # 11-digit number from before 2018
    ],
)
def test_normalise_mobile(text: str, normalised: str | None) -> None:
    assert normalise_mobile(text) == normalised
    assert mobile_problem(text) == (None if normalised else MOBILE_PROBLEM)


# --- generated values for the agreement tests ----------------------------------------------------------


def _generated_tax_codes(rng: random.Random) -> list[str]:
    codes: list[str] = []
    while len(codes) < 300:
        first_nine = f"{rng.randrange(10**9):09d}"
        expected = tax_code_check_digit(first_nine)
        if expected is None:
            codes.append(first_nine + str(rng.randrange(10)))  # never issued
            continue
        valid = first_nine + str(expected)
        wrong_digit = rng.choice([d for d in "0123456789" if d != str(expected)])
        invalid = first_nine + wrong_digit
        branch = f"{rng.randrange(1, 1000):03d}"
        codes += [
            valid,
            invalid,
            f"{valid}-{branch}",
            f" {valid[:4]} {valid[4:]} - {branch} ",
            f"{invalid}-{branch}",
            f"{valid}-000",
            f"{valid}-{branch}0",
            valid[:9],
            valid + "\u00a0",
            valid[:5] + "O" + valid[6:],
        ]
    return codes + ["0100000000", "0100000000-001", "-", "0100109106-", "0100109106--001", "\t0100109106\n"]


def _generated_citizen_ids(rng: random.Random) -> list[str]:
    numbers: list[str] = []
    for _ in range(30):
        for century_digit in range(10):
            province = rng.choice([rng.randrange(1, 97), rng.randrange(1, 97), 0, rng.randrange(97, 1000)])
            number = f"{province:03d}{century_digit}{rng.randrange(100):02d}{rng.randrange(10**6):06d}"
            numbers.append(number)
        numbers.append(f"{number[:3]}.{number[3:6]}.{number[6:9]}.{number[9:]}")
        numbers.append(f"{number[:4]} {number[4:8]} {number[8:]}")
        numbers.append(f"{number[:6]}-{number[6:]}")
        numbers.append(f"{number[:6]}\u2009{number[6:]}\x1c")  # thin space, file separator
        numbers.append(f"{rng.randrange(10**9):09d}")
        numbers.append(f"{rng.randrange(10**10):010d}")
        numbers.append(number[:11] + "x")
    boundary_years = [
        f"074{century_digit}{year}123456" for century_digit in "0123" for year in ("25", "26", "27")
    ]
    return numbers + boundary_years + ["...", "074-095", "074 095 012 345 6"]


def _generated_phones(rng: random.Random) -> list[str]:
    phones: list[str] = []
    for _ in range(60):
        subscriber = f"{rng.randrange(10**7):07d}"
        prefix = rng.choice(MOBILE_PREFIXES)
        national = f"0{prefix}{subscriber}"
        phones += [
            national,
            f"+84{prefix}{subscriber}",
            f"84{prefix}{subscriber}",
            f"+84 {prefix} {subscriber[:3]} {subscriber[3:]}",
            f"{national[:4]}.{national[4:7]}.{national[7:]}",
            f"(+84) {prefix}-{subscriber}",
            f"0{prefix}\u2003{subscriber}\u3000",
            f"0{rng.choice(['20', '24', '28', '10', '60', '80', '31'])}{subscriber}",  # not a mobile prefix
            national[:-1],
            national + "9",
            f"+85{prefix}{subscriber}",
        ]
    return phones + ["+84", "0", "0912 345 67８"]


@pytest.fixture(scope="module")
def rng() -> random.Random:
    return random.Random(74)


def test_tax_code_columns_agree_with_python(spark, rng: random.Random) -> None:
    codes = _generated_tax_codes(rng)
    df = spark.createDataFrame([(code,) for code in codes], "code string")
    rows = df.select(
        "code", tax_code_problem_col(F.col("code")), tax_code_normalised(F.col("code"))
    ).collect()
    assert len(rows) == len(codes) > 200
    mismatches = [
        (code, problem, normalised)
        for code, problem, normalised in rows
        if (problem, normalised) != (tax_code_problem(code), normalise_tax_code(code))
    ]
    assert mismatches == []
    kinds = {tax_code_problem(code) is None for code in codes}
    assert kinds == {True, False}


def test_citizen_id_columns_agree_with_python(spark, rng: random.Random) -> None:
    numbers = _generated_citizen_ids(rng)
    df = spark.createDataFrame([(number,) for number in numbers], "number string")
    number = F.col("number")
    rows = df.select(
        "number",
        citizen_id_problem_col(number, today_year=REFERENCE_YEAR),
        citizen_id_kind(number, today_year=REFERENCE_YEAR),
        citizen_id_digits(number),
    ).collect()
    assert len(rows) > 200
    mismatches = []
    for value, problem, kind, digits in rows:
        expected_problem = citizen_id_problem(value, today_year=REFERENCE_YEAR)
        expected_digits = re.sub(r"[\s.\-]", "", value)
        expected_kind = None if expected_problem else {12: "CCCD", 9: "CMND"}[len(expected_digits)]
        if (problem, kind, digits) != (expected_problem, expected_kind, expected_digits):
            mismatches.append((value, problem, kind, digits))
    assert mismatches == []
    problems = {citizen_id_problem(value, today_year=REFERENCE_YEAR) or "valid" for value in numbers}
    assert {"valid", CITIZEN_ID_LENGTH_PROBLEM, CITIZEN_ID_CHARACTERS_PROBLEM} <= problems
    assert any(p.startswith("birth year") for p in problems) and any(
        p.startswith("birth-reg") for p in problems
    )


def test_mobile_columns_agree_with_python(spark, rng: random.Random) -> None:
    phones = _generated_phones(rng)
    df = spark.createDataFrame([(phone,) for phone in phones], "phone string")
    rows = df.select("phone", mobile_normalised(F.col("phone")), mobile_problem_col(F.col("phone"))).collect()
    assert len(rows) > 200
    mismatches = [
        (phone, normalised, problem)
        for phone, normalised, problem in rows
        if (normalised, problem) != (normalise_mobile(phone), mobile_problem(phone))
    ]
    assert mismatches == []
    assert sum(normalise_mobile(phone) is not None for phone in phones) >= 300


def test_missing_values_have_no_problem_and_no_value(spark) -> None:
    df = spark.createDataFrame([(None,), ("",), ("   ",)], "value string")
    value = F.col("value")
    result = df.select(
        tax_code_problem_col(value).alias("tax_problem"),
        tax_code_normalised(value).alias("tax_code"),
        citizen_id_problem_col(value).alias("id_problem"),
        citizen_id_kind(value).alias("id_kind"),
        mobile_problem_col(value).alias("mobile_problem"),
        mobile_normalised(value).alias("mobile"),
    )
    assertDataFrameEqual(result, [(None,) * 6] * 3)


def test_citizen_id_table_example(spark) -> None:
    df = spark.createDataFrame(
        [
            ("a", "074 095 012 345"),
            ("b", "123-456-789"),
            ("c", "074227012345"),
            ("d", "7409501234"),
            ("e", "079326000001"),
        ],
        "row_id string, id_number string",
    )
    result = df.select(
        "row_id",
        citizen_id_kind(F.col("id_number"), today_year=REFERENCE_YEAR).alias("kind"),
        citizen_id_problem_col(F.col("id_number"), today_year=REFERENCE_YEAR).alias("problem"),
    )
    expected = spark.createDataFrame(
        [
            ("a", "CCCD", None),
            ("b", "CMND", None),
            ("c", None, "birth year 2027 from digits 4-6 is in the future"),
            ("d", None, CITIZEN_ID_LENGTH_PROBLEM),
            ("e", "CCCD", None),
        ],
        "row_id string, kind string, problem string",
    )
    assertDataFrameEqual(result, expected)
