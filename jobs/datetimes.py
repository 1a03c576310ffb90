"""Dates and date-times as agencies write them: parse with a list of formats, Excel serials, reasons.

Format letters are Spark's datetime patterns (https://spark.apache.org/docs/latest/sql-ref-datetime-pattern.html),
e.g. "yyyyMMddHHmmss" (the DVCQG sync format), "dd/MM/yyyy HH:mm:ss", "d/M/yyyy".

Parsing is strict (Spark's CORRECTED parser, the default in Spark 4): an impossible date or time such as
31 February, month 13 or hour 24/25 gives null, never a rolled-over date; the whole value must match the
format, so "2025-01-05" does not match "yyyy-MM-dd HH:mm:ss" and "5/1/2025" does not match "dd/MM/yyyy"
(use "d/M/yyyy", which accepts one or two digits). "yy" reads 00-99 as 2000-2099, also for birth dates.

Date-times without an offset are local Vietnam time. The zone is attached to each value before parsing, so
the resulting instant does not depend on the session time zone (the session factory sets
Asia/Ho_Chi_Minh as well, which is how the instants are shown).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pyspark.sql import Column
from pyspark.sql import functions as F

VIETNAM_TIME_ZONE = "Asia/Ho_Chi_Minh"

# Edge blanks (ASCII whitespace and NBSP) that spreadsheets leave around dates.
_EDGE_BLANKS = "^[\\s\\u00a0]+|[\\s\\u00a0]+$"
# Pattern letters that read a zone or an offset; quoted text ('T') is not a field.
_ZONE_FIELD_LETTERS = frozenset("VzOXxZ")
_QUOTED = re.compile("'[^']*'")
# The instants Python's datetime can hold (0001-01-01 to 9999-12-31, UTC): a year-0000 value would parse
# in Spark but break every collect and toPandas downstream.
_EARLIEST_MICROS = -62_135_596_800 * 1_000_000
_LATEST_MICROS = 253_402_300_799_999_999
# Excel's 1900 date system: serial 1 = 1900-01-01, serial 60 = the non-existent 1900-02-29 (kept by Excel
# for Lotus 1-2-3 compatibility), serial 61 = 1900-03-01; 25569 = 1970-01-01; 2958465 = 9999-12-31.
_EXCEL_FAKE_LEAP_DAY = 60
_EXCEL_UNIX_EPOCH = 25_569
_EXCEL_LAST_SERIAL = 2_958_465


def _checked_formats(formats: Sequence[str]) -> list[str]:
    if isinstance(formats, str):
        raise TypeError("formats must be a sequence of patterns, e.g. ['yyyyMMddHHmmss'], not one string")
    checked = list(formats)
    if not checked or not all(isinstance(pattern, str) and pattern.strip() for pattern in checked):
        raise ValueError(f"expected one or more non-empty datetime patterns, got {formats!r}")
    return checked


def _has_zone_field(pattern: str) -> bool:
    return bool(_ZONE_FIELD_LETTERS & set(_QUOTED.sub("", pattern)))


def _trimmed(col: Column) -> Column:
    return F.regexp_replace(col, _EDGE_BLANKS, "")


def _is_missing(col: Column) -> Column:
    return col.isNull() | (_trimmed(col) == "")


def _parse_one_timestamp(text: Column, pattern: str, time_zone: str) -> Column:
    if _has_zone_field(pattern):
        parsed = F.try_to_timestamp(text, F.lit(pattern))
    else:
        # "|<zone id>" plus the VV field makes the wall-clock time local to `time_zone`, incl. its history.
        parsed = F.try_to_timestamp(F.concat(text, F.lit(f"|{time_zone}")), F.lit(f"{pattern}'|'VV"))
    return F.when(F.unix_micros(parsed).between(_EARLIEST_MICROS, _LATEST_MICROS), parsed)


def parse_timestamp(col: Column, formats: Sequence[str], time_zone: str = VIETNAM_TIME_ZONE) -> Column:
    """Timestamp from the first of `formats` that parses the trimmed value; null when none does.

    Values are wall-clock times in `time_zone` unless the pattern reads an offset or zone itself.
    """
    text = _trimmed(col)
    return F.coalesce(
        *(_parse_one_timestamp(text, pattern, time_zone) for pattern in _checked_formats(formats))
    )


def parse_date(col: Column, formats: Sequence[str]) -> Column:
    """Date from the first of `formats` that parses the trimmed value; null when none does."""
    text = _trimmed(col)
    candidates = []
    for pattern in _checked_formats(formats):
        parsed = F.try_to_date(text, pattern)
        candidates.append(F.when(F.year(parsed) >= 1, parsed))
    return F.coalesce(*candidates)


def _format_phrase(formats: Sequence[str]) -> str:
    checked = _checked_formats(formats)
    return f"format {checked[0]}" if len(checked) == 1 else f"any of the formats {', '.join(checked)}"


def timestamp_problem(col: Column, formats: Sequence[str], time_zone: str = VIETNAM_TIME_ZONE) -> Column:
    """Null when the value is missing or parses; else e.g.
    "'20250231083000' is not a valid date-time in format yyyyMMddHHmmss"."""
    message = f"' is not a valid date-time in {_format_phrase(formats)}"
    return F.when(
        ~_is_missing(col) & parse_timestamp(col, formats, time_zone).isNull(),
        F.concat(F.lit("'"), col, F.lit(message)),
    )


def date_problem(col: Column, formats: Sequence[str]) -> Column:
    """Null when the value is missing or parses as a date; else "'31/02/2025' is not a valid date in …"."""
    message = f"' is not a valid date in {_format_phrase(formats)}"
    return F.when(
        ~_is_missing(col) & parse_date(col, formats).isNull(), F.concat(F.lit("'"), col, F.lit(message))
    )


def excel_serial_to_date(col: Column) -> Column:
    """Date of an Excel serial day number (1900 date system), numeric or numeric text; the time fraction
    is dropped. Null for serials Excel cannot show as a date (< 1, > 9999-12-31) and for 60, Excel's
    fictitious 29 February 1900."""
    day = F.floor(col.try_cast("double"))
    return (
        F.when(
            (day > _EXCEL_FAKE_LEAP_DAY) & (day <= _EXCEL_LAST_SERIAL),
            F.date_from_unix_date((day - _EXCEL_UNIX_EPOCH).cast("int")),
        )
        # Before the fictitious leap day the serials are one day further from 1970.
        .when(
            (day >= 1) & (day < _EXCEL_FAKE_LEAP_DAY),
            F.date_from_unix_date((day - _EXCEL_UNIX_EPOCH + 1).cast("int")),
        )
    )
