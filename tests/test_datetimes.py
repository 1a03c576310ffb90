"""Parsing agency dates: strict formats, first format wins, Vietnam local time, Excel serials, reasons."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from jobs.datetimes import (
    date_problem,
    excel_serial_to_date,
    parse_date,
    parse_timestamp,
    timestamp_problem,
)

DVCQG = "yyyyMMddHHmmss"


def _local_text(col: Column) -> Column:
    """A timestamp as wall-clock text in the session time zone, Asia/Ho_Chi_Minh."""
    return F.date_format(col, "yyyy-MM-dd HH:mm:ss")


def test_spark_rejects_impossible_dates_with_ansi_off(spark) -> None:
    # The behaviour parse_timestamp relies on: no rolling 31 February over to 3 March.
    assert spark.conf.get("spark.sql.ansi.enabled") == "false"
    row = spark.sql(
        "SELECT try_to_timestamp('20250231000000', 'yyyyMMddHHmmss') AS feb31,"
        " try_to_timestamp('20250303000000', 'yyyyMMddHHmmss') IS NOT NULL AS mar3,"
        " try_to_date('2025-13-01', 'yyyy-MM-dd') AS month13"
    ).first()
    assert row is not None
    assert (row["feb31"], row["mar3"], row["month13"]) == (None, True, None)


def test_parse_timestamp_is_strict(spark) -> None:
    values = [
        ("valid", "20250105083000"),
        ("padded", " 20250105083000\u00a0"),
        ("feb31", "20250231083000"),
        ("feb29_not_leap", "20250229083000"),
        ("month13", "20251301083000"),
        ("hour24", "20250105240000"),
        ("hour25", "20250105250000"),
        ("minute60", "20250105086000"),
        ("short", "202501050830"),
        ("trailing", "20250105083000Z"),
        ("year0000", "00000105083000"),
        ("empty", ""),
        ("null", None),
    ]
    df = spark.createDataFrame(values, "case string, value string")
    result = df.select("case", _local_text(parse_timestamp(F.col("value"), [DVCQG])).alias("local"))
    expected = [(case, "2025-01-05 08:30:00" if case in ("valid", "padded") else None) for case, _ in values]
    assertDataFrameEqual(result, spark.createDataFrame(expected, "case string, local string"))


def test_first_format_that_parses_wins(spark) -> None:
    formats = ["dd/MM/yyyy HH:mm:ss", "d/M/yyyy", "MM/dd/yyyy", "yyyy-MM-dd'T'HH:mm:ssXXX"]
    df = spark.createDataFrame(
        [("a", "05/01/2025 08:30:00"), ("b", "5/1/2025"), ("c", "05/13/2025"), ("d", "2025-01-05T01:30:00Z")],
        "row_id string, value string",
    )
    result = df.select("row_id", _local_text(parse_timestamp(F.col("value"), formats)).alias("local"))
    expected = spark.createDataFrame(
        [
            ("a", "2025-01-05 08:30:00"),
            ("b", "2025-01-05 00:00:00"),  # d/M/yyyy wins before MM/dd/yyyy is tried
            ("c", "2025-05-13 00:00:00"),  # month 13 does not exist, so only MM/dd/yyyy parses
            ("d", "2025-01-05 08:30:00"),  # a written offset is honoured
        ],
        "row_id string, local string",
    )
    assertDataFrameEqual(result, expected)


def test_values_are_vietnam_time_whatever_the_session_time_zone(spark) -> None:
    df = spark.createDataFrame([("20250105083000",), ("19700101000000",)], "value string")
    instants = parse_timestamp(F.col("value"), [DVCQG])
    expected = [(1736040600,), (-8 * 3600,)]  # 08:30 at UTC+7; Saigon kept UTC+8 until 1975
    session_zone = spark.conf.get("spark.sql.session.timeZone")
    try:
        for zone in ("Asia/Ho_Chi_Minh", "UTC", "America/New_York"):
            spark.conf.set("spark.sql.session.timeZone", zone)
            assert [tuple(row) for row in df.select(F.unix_timestamp(instants)).collect()] == expected, zone
    finally:
        spark.conf.set("spark.sql.session.timeZone", session_zone)


def test_parse_date(spark) -> None:
    df = spark.createDataFrame(
        [("a", "31/12/2024"), ("b", "2024-02-29"), ("c", "31/04/2025"), ("d", "0000-01-01"), ("e", None)],
        "row_id string, value string",
    )
    result = df.select("row_id", parse_date(F.col("value"), ["dd/MM/yyyy", "yyyy-MM-dd"]).alias("day"))
    expected = spark.createDataFrame(
        [("a", dt.date(2024, 12, 31)), ("b", dt.date(2024, 2, 29)), ("c", None), ("d", None), ("e", None)],
        "row_id string, day date",
    )
    assertDataFrameEqual(result, expected)


def test_timestamp_and_date_problems(spark) -> None:
    df = spark.createDataFrame(
        [("a", "20250231083000"), ("b", "20250105083000"), ("c", "  "), ("d", None), ("e", "5/1/2025")],
        "row_id string, value string",
    )
    result = df.select(
        "row_id",
        timestamp_problem(F.col("value"), [DVCQG]).alias("one_format"),
        timestamp_problem(F.col("value"), [DVCQG, "dd/MM/yyyy"]).alias("two_formats"),
        date_problem(F.col("value"), ["d/M/yyyy"]).alias("date"),
    )
    not_dvcqg = "is not a valid date-time in format yyyyMMddHHmmss"
    neither = "is not a valid date-time in any of the formats yyyyMMddHHmmss, dd/MM/yyyy"
    expected = spark.createDataFrame(
        [
            (
                "a",
                f"'20250231083000' {not_dvcqg}",
                f"'20250231083000' {neither}",
                "'20250231083000' is not a valid date in format d/M/yyyy",
            ),
            ("b", None, None, "'20250105083000' is not a valid date in format d/M/yyyy"),
            ("c", None, None, None),
            ("d", None, None, None),
            ("e", f"'5/1/2025' {not_dvcqg}", f"'5/1/2025' {neither}", None),
        ],
        "row_id string, one_format string, two_formats string, date string",
    )
    assertDataFrameEqual(result, expected)


def test_excel_serial_to_date(spark) -> None:
    serials = [
        ("1", dt.date(1900, 1, 1)),
        ("59", dt.date(1900, 2, 28)),
        ("60", None),  # Excel's 29 February 1900, a day that never was
        ("61", dt.date(1900, 3, 1)),
        ("25569", dt.date(1970, 1, 1)),
        ("45658", dt.date(2025, 1, 1)),
        ("45658.99", dt.date(2025, 1, 1)),
        (" 45658 ", dt.date(2025, 1, 1)),
        ("2958465", dt.date(9999, 12, 31)),
        ("2958466", None),
        ("0", None),
        ("-1", None),
        ("NaN", None),
        ("ngày 1", None),
        (None, None),
    ]
    df = spark.createDataFrame([(serial,) for serial, _ in serials], "serial string")
    result = df.select("serial", excel_serial_to_date(F.col("serial")).alias("day"))
    assertDataFrameEqual(result, spark.createDataFrame(serials, "serial string, day date"))
    numeric = spark.createDataFrame([(45658.5,), (61.0,)], "serial double")
    assert [row[0] for row in numeric.select(excel_serial_to_date(F.col("serial"))).collect()] == [
        dt.date(2025, 1, 1),
        dt.date(1900, 3, 1),
    ]


def test_formats_must_be_a_list_of_patterns() -> None:
    with pytest.raises(TypeError, match="sequence of patterns"):
        parse_timestamp(F.col("value"), DVCQG)
    with pytest.raises(ValueError, match="one or more"):
        parse_date(F.col("value"), [])
