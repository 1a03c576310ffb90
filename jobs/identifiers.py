"""Vietnamese identifiers: citizen ID (CCCD/CMND), enterprise tax code (MST), mobile numbers.

Rules and sources: ../shared/reference/FORMAT_RULES.md (Thông tư 59/2021/TT-BCA, Thông tư 105/2020/TT-BTC).
Plain-Python functions here are the reference implementation; Spark column versions mirror them.
"""

from __future__ import annotations

import re

# Weights of N1..N9 in the tax-code check digit (Thông tư 105/2020/TT-BTC).
TAX_CODE_WEIGHTS = (31, 29, 23, 19, 17, 13, 7, 5, 3)
MOBILE_PATTERN = re.compile(r"^(?:\+84|84|0)(3[2-9]|5[25689]|7[06-9]|8[1-9]|9\d)\d{7}$")


def tax_code_check_digit(first_nine: str) -> int | None:
    """N10 for the digits N1..N9, or None when the prefix can never be issued (S mod 11 == 0)."""
    if len(first_nine) != 9 or not first_nine.isdigit():
        raise ValueError(f"expected 9 digits, got {first_nine!r}")
    remainder = sum(int(d) * w for d, w in zip(first_nine, TAX_CODE_WEIGHTS, strict=True)) % 11
    return None if remainder == 0 else 10 - remainder


def tax_code_problem(code: str) -> str | None:
    """None for a well-formed tax code (10 digits, or 10 + '-' + 3 for a branch), else the reason."""
    compact = code.strip().replace(" ", "")
    head, _, branch = compact.partition("-")
    if not head.isdigit() or len(head) != 10:
        return "tax code must be 10 digits (or 10 digits, '-', 3 digits for a branch)"
    if branch and (len(branch) != 3 or not branch.isdigit() or branch == "000"):
        return "branch suffix must be 3 digits from 001 to 999"
    if head[2:9] == "0000000":
        return "sequence digits N3-N9 must not all be zero"
    expected = tax_code_check_digit(head[:9])
    if expected is None:
        return "prefix can never be issued (weighted sum divisible by 11)"
    if int(head[9]) != expected:
        return f"check digit is {head[9]}, expected {expected}"
    return None


def citizen_id_problem(number: str, today_year: int = 2026) -> str | None:
    """None for a plausible CCCD (12 digits) or CMND (9 digits), else the reason. No check digit exists."""
    compact = re.sub(r"[\s.\-]", "", number)
    if not compact.isdigit():
        return "ID number must contain digits only"
    if len(compact) == 9:
        return None
    if len(compact) != 12:
        return "ID number must have 12 digits (CCCD) or 9 digits (CMND)"
    province = int(compact[:3])
    if not 1 <= province <= 96:
        return f"birth-registration province code {compact[:3]} is outside 001-096"
    century = int(compact[3]) // 2  # 0,1 -> 1900s; 2,3 -> 2000s; ...
    birth_year = 1900 + 100 * century + int(compact[4:6])
    if birth_year > today_year:
        return f"birth year {birth_year} from digits 4-6 is in the future"
    return None


def normalise_mobile(text: str) -> str | None:
    """'+84 912 345 678', '0912.345.678' -> '0912345678'; None when it is not a Vietnamese mobile number."""
    compact = re.sub(r"[\s.\-()]", "", text)
    if not MOBILE_PATTERN.match(compact):
        return None
    return "0" + compact[-9:]
