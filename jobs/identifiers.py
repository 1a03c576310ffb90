"""Vietnamese identifiers: citizen ID (CCCD/CMND), enterprise tax code (MST), mobile numbers.

Rules and sources: ../shared/reference/FORMAT_RULES.md (Thông tư 59/2021/TT-BCA, Thông tư 105/2020/TT-BTC).
Plain-Python functions here are the reference implementation; the Spark column functions mirror them with
built-in functions only (no Python UDFs) and produce the same values and the same messages.

Conventions of the column functions: a `*_problem_col` is null when the value is valid *or missing*
(null, empty or blank) — whether a value is required is a separate completeness rule — and otherwise the
reason as text, identical to the Python function's. Digits are ASCII digits only.
"""

from __future__ import annotations

import datetime as dt
import re

from pyspark.sql import Column
from pyspark.sql import functions as F

# Weights of N1..N9 in the tax-code check digit (Thông tư 105/2020/TT-BTC).
TAX_CODE_WEIGHTS = (31, 29, 23, 19, 17, 13, 7, 5, 3)
# Written with [0-9], not \d: Python's \d also matches other scripts' digits, Java's does not.
MOBILE_PATTERN_TEXT = r"^(?:\+84|84|0)(3[2-9]|5[25689]|7[06-9]|8[1-9]|9[0-9])[0-9]{7}$"
MOBILE_PATTERN = re.compile(MOBILE_PATTERN_TEXT)

# Blank characters people and spreadsheets leave in identifiers: the characters Python's `\s` matches
# (incl. NBSP and the Unicode spaces), spelled out because Java's `\s` is ASCII-only.
BLANK_CLASS = (
    "[ \\t\\n\\r\\f\\x0b\\x1c-\\x1f\\x85\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
)
# Citizen IDs are also written grouped with dots or dashes ("074.123.456.789").
CITIZEN_ID_SEPARATORS = BLANK_CLASS[:-1] + ".\\-]"
MOBILE_SEPARATORS = BLANK_CLASS[:-1] + ".\\-()]"

TAX_CODE_SHAPE_PROBLEM = "tax code must be 10 digits (or 10 digits, '-', 3 digits for a branch)"
TAX_CODE_BRANCH_PROBLEM = "branch suffix must be 3 digits from 001 to 999"
TAX_CODE_SEQUENCE_PROBLEM = "sequence digits N3-N9 must not all be zero"
TAX_CODE_PREFIX_PROBLEM = "prefix can never be issued (weighted sum divisible by 11)"
CITIZEN_ID_CHARACTERS_PROBLEM = "ID number must contain digits only"
CITIZEN_ID_LENGTH_PROBLEM = "ID number must have 12 digits (CCCD) or 9 digits (CMND)"
MOBILE_PROBLEM = "not a Vietnamese mobile number (0, 84 or +84 followed by a mobile prefix and 7 more digits)"

_BLANKS = re.compile(BLANK_CLASS)
_CITIZEN_ID_SEPARATORS = re.compile(CITIZEN_ID_SEPARATORS)
_MOBILE_SEPARATORS = re.compile(MOBILE_SEPARATORS)
_DIGITS = re.compile("[0-9]+")


def _java_regex(pattern: str) -> str:
    """`pattern` for Spark: UNIX_LINES so that, as in Python's fullmatch, `$` ignores Unicode line ends."""
    return "(?d)" + pattern


def _is_digits(text: str) -> bool:
    return _DIGITS.fullmatch(text) is not None


# ---------------------------------------------------------------------------------------------------------
# Plain Python (reference implementation)
# ---------------------------------------------------------------------------------------------------------


def tax_code_check_digit(first_nine: str) -> int | None:
    """N10 for the digits N1..N9, or None when the prefix can never be issued (S mod 11 == 0)."""
    if len(first_nine) != 9 or not _is_digits(first_nine):
        raise ValueError(f"expected 9 digits, got {first_nine!r}")
    remainder = sum(int(d) * w for d, w in zip(first_nine, TAX_CODE_WEIGHTS, strict=True)) % 11
    return None if remainder == 0 else 10 - remainder


def tax_code_problem(code: str) -> str | None:
    """None for a well-formed tax code (10 digits, or 10 + '-' + 3 for a branch), else the reason."""
    compact = _BLANKS.sub("", code)
    head, separator, branch = compact.partition("-")
    if not _is_digits(head) or len(head) != 10:
        return TAX_CODE_SHAPE_PROBLEM
    if separator and (len(branch) != 3 or not _is_digits(branch) or branch == "000"):
        return TAX_CODE_BRANCH_PROBLEM
    if head[2:9] == "0000000":
        return TAX_CODE_SEQUENCE_PROBLEM
    expected = tax_code_check_digit(head[:9])
    if expected is None:
        return TAX_CODE_PREFIX_PROBLEM
    if int(head[9]) != expected:
        return f"check digit is {head[9]}, expected {expected}"
    return None


def normalise_tax_code(code: str) -> str | None:
    """' 0100109106 - 001 ' -> '0100109106-001'; None when the code is not well formed."""
    if tax_code_problem(code) is not None:
        return None
    return _BLANKS.sub("", code)


def citizen_id_problem(number: str, today_year: int | None = None) -> str | None:
    """None for a plausible CCCD (12 digits) or CMND (9 digits), else the reason. No check digit exists.

    `today_year` bounds the birth year encoded in a CCCD; it defaults to the current year.
    """
    compact = _CITIZEN_ID_SEPARATORS.sub("", number)
    if not _is_digits(compact):
        return CITIZEN_ID_CHARACTERS_PROBLEM
    if len(compact) == 9:
        return None
    if len(compact) != 12:
        return CITIZEN_ID_LENGTH_PROBLEM
    province = int(compact[:3])
    if not 1 <= province <= 96:
        return f"birth-registration province code {compact[:3]} is outside 001-096"
    century = int(compact[3]) // 2  # 0,1 -> 1900s; 2,3 -> 2000s; ...
    birth_year = 1900 + 100 * century + int(compact[4:6])
    if birth_year > (today_year if today_year is not None else dt.date.today().year):
        return f"birth year {birth_year} from digits 4-6 is in the future"
    return None


def normalise_mobile(text: str) -> str | None:
    """'+84 912 345 678', '0912.345.678' -> '0912345678'; None when it is not a Vietnamese mobile number."""
    compact = _MOBILE_SEPARATORS.sub("", text)
    if not MOBILE_PATTERN.fullmatch(compact):
        return None
    return "0" + compact[-9:]


def mobile_problem(text: str) -> str | None:
    """None for a Vietnamese mobile number in any accepted spelling, else the reason."""
    return None if normalise_mobile(text) is not None else MOBILE_PROBLEM


# ---------------------------------------------------------------------------------------------------------
# Spark columns (built-in functions only, so they run in the JVM without Python workers)
# ---------------------------------------------------------------------------------------------------------


def _is_missing(col: Column) -> Column:
    return col.isNull() | (F.regexp_replace(col, BLANK_CLASS, "") == "")


def _digit(text: Column, position: int) -> Column:
    """The digit at 1-based `position` as an int (callers have checked the text is digits)."""
    return F.substring(text, position, 1).cast("int")


def _tax_code_compact(col: Column) -> Column:
    return F.regexp_replace(col, BLANK_CLASS, "")


def tax_code_problem_col(col: Column) -> Column:
    """Reason the tax code is malformed (same text as `tax_code_problem`); null when valid or missing."""
    compact = _tax_code_compact(col)
    has_separator = compact.contains("-")
    head = F.substring_index(compact, "-", 1)
    branch = F.regexp_extract(compact, "(?s)^[^-]*-(.*)$", 1)
    weighted_sum = sum(
        (_digit(head, position) * weight for position, weight in enumerate(TAX_CODE_WEIGHTS, start=1)),
        start=F.lit(0),
    )
    remainder = weighted_sum % 11
    expected = F.lit(10) - remainder
    return (
        F.when(_is_missing(col), F.lit(None).cast("string"))
        .when(~head.rlike(_java_regex("^[0-9]{10}$")), F.lit(TAX_CODE_SHAPE_PROBLEM))
        .when(
            has_separator & (~branch.rlike(_java_regex("^[0-9]{3}$")) | (branch == "000")),
            F.lit(TAX_CODE_BRANCH_PROBLEM),
        )
        .when(F.substring(head, 3, 7) == "0000000", F.lit(TAX_CODE_SEQUENCE_PROBLEM))
        .when(remainder == 0, F.lit(TAX_CODE_PREFIX_PROBLEM))
        .when(
            _digit(head, 10) != expected,
            F.concat(
                F.lit("check digit is "),
                F.substring(head, 10, 1),
                F.lit(", expected "),
                expected.cast("string"),
            ),
        )
    )


def tax_code_normalised(col: Column) -> Column:
    """The compact tax code ('NNNNNNNNNN' or 'NNNNNNNNNN-NNN') when well formed, else null."""
    return F.when(~_is_missing(col) & tax_code_problem_col(col).isNull(), _tax_code_compact(col))


def citizen_id_digits(col: Column) -> Column:
    """The ID number without the blanks, dots and dashes people group it with."""
    return F.regexp_replace(col, CITIZEN_ID_SEPARATORS, "")


def citizen_id_problem_col(col: Column, today_year: int | None = None) -> Column:
    """Reason the ID number is implausible (same text as `citizen_id_problem`); null when valid or missing.

    `today_year` defaults to the current year when the plan is built, exactly like the Python function.
    """
    year_limit = today_year if today_year is not None else dt.date.today().year
    digits = citizen_id_digits(col)
    province = F.substring(digits, 1, 3)
    birth_year = (
        F.lit(1900) + F.lit(100) * F.floor(_digit(digits, 4) / 2) + F.substring(digits, 5, 2).cast("int")
    )
    return (
        F.when(_is_missing(col), F.lit(None).cast("string"))
        .when(~digits.rlike(_java_regex("^[0-9]+$")), F.lit(CITIZEN_ID_CHARACTERS_PROBLEM))
        .when(F.length(digits) == 9, F.lit(None).cast("string"))
        .when(F.length(digits) != 12, F.lit(CITIZEN_ID_LENGTH_PROBLEM))
        .when(
            ~province.cast("int").between(1, 96),
            F.concat(F.lit("birth-registration province code "), province, F.lit(" is outside 001-096")),
        )
        .when(
            birth_year > year_limit,
            F.concat(
                F.lit("birth year "), birth_year.cast("string"), F.lit(" from digits 4-6 is in the future")
            ),
        )
    )


def citizen_id_kind(col: Column, today_year: int | None = None) -> Column:
    """'CCCD' for a plausible 12-digit number, 'CMND' for a 9-digit one, null when invalid or missing."""
    digits = citizen_id_digits(col)
    plausible = ~_is_missing(col) & citizen_id_problem_col(col, today_year).isNull()
    return F.when(plausible & (F.length(digits) == 12), F.lit("CCCD")).when(
        plausible & (F.length(digits) == 9), F.lit("CMND")
    )


def mobile_normalised(col: Column) -> Column:
    """'0' + 9 digits for a Vietnamese mobile number in any accepted spelling, else null."""
    compact = F.regexp_replace(col, MOBILE_SEPARATORS, "")
    return F.when(
        compact.rlike(_java_regex(MOBILE_PATTERN_TEXT)), F.concat(F.lit("0"), F.substring(compact, -9, 9))
    )


def mobile_problem_col(col: Column) -> Column:
    """Reason the value is not a mobile number (same text as `mobile_problem`); null when valid or missing."""
    return F.when(~_is_missing(col) & mobile_normalised(col).isNull(), F.lit(MOBILE_PROBLEM))
