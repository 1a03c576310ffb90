"""Vietnamese text: Unicode NFC, whitespace clean-up, tone-mark placement and keys for matching names.

Every Spark column function has a plain-Python twin (`*_text`) that gives the same result; readers and
tests use the Python ones, transforms the column ones. Only NFC and tone placement need Python on the
executors (Spark has no Unicode normalisation built in): they run as vectorised, Arrow-backed pandas UDFs;
everything else uses Spark built-ins.

Tone placement: Vietnamese writes the tone of the endings oa, oe, uy in two ways, "Hòa"/"Hoà",
"Khỏe"/"Khoẻ", "Thủy"/"Thuỷ", and NFC keeps both (they are different letters). The GSO catalogue mixes
them, so names are brought to one placement here: the tone on the first vowel ("Hòa", "Thủy"), as the
2025 official lists write them. "Qúy" (tone on the u of qu, a typing slip) becomes "Quý".
"""

from __future__ import annotations

import functools
import re
import unicodedata

import pandas as pd
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

# The five Vietnamese tone marks as combining characters: grave, acute, tilde, hook above, dot below.
TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"
# Marks that change the vowel itself: circumflex, breve, horn.
VOWEL_MARKS = "\u0302\u0306\u031b"

# Invisible characters that only split words or tokens apart: zero-width space/joiners, word joiner, BOM.
ZERO_WIDTH_CLASS = "[\u200b\u200c\u200d\u2060\ufeff]"
# Whitespace spelled out (not `\s`, which is Unicode-wide in Python but ASCII-only in Java), incl. NBSP.
SPACE_RUN = "[\t\n\x0b\f\r \x85\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+"
# Combining diacritics left over when NFC finds no precomposed letter (e.g. an accent typed on a consonant).
COMBINING_MARKS_CLASS = "[\u0300-\u036f]"
# Anything that is not a letter or digit separates words in a key (Java needs (?U) for Unicode \w).
PYTHON_SEPARATOR_RUN = r"[\W_]+"
JAVA_SEPARATOR_RUN = r"(?U)[\W_]+"

_ZERO_WIDTH = re.compile(ZERO_WIDTH_CLASS)
_SPACE_RUN = re.compile(SPACE_RUN)
_COMBINING_MARKS = re.compile(COMBINING_MARKS_CLASS)
_SEPARATOR_RUN = re.compile(PYTHON_SEPARATOR_RUN)

# Patterns over NFD text. A letter is [^\W\d_]; a syllable ends where no letter or mark follows.
_TONE = f"[{TONE_MARKS}]"
_SYLLABLE_END = f"(?![^\\W\\d_]|[{TONE_MARKS}{VOWEL_MARKS}])"
# "qúy" -> "quý": the u of qu is part of the consonant; the tone belongs on the next vowel (after its marks).
_TONE_ON_QU = re.compile(f"([qQ][uU])({_TONE})([aeiouyAEIOUY][{VOWEL_MARKS}]*)")
# "hoà" -> "hòa", "khoẻ" -> "khỏe", "thuỷ" -> "thủy", only when oa/oe/uy ends the syllable ("hoàng" keeps
# its tone on the a in both styles) and uy is not the y of "quy".
_TONE_ON_SECOND_OF_OA_OE = re.compile(f"([oO])([aAeE])({_TONE}){_SYLLABLE_END}")
_TONE_ON_SECOND_OF_UY = re.compile(f"(?<![qQ])([uU])([yY])({_TONE}){_SYLLABLE_END}")


def _build_diacritic_table() -> dict[str, str]:
    """Latin letters with diacritics -> base letter, for every letter Unicode decomposes that way; đ -> d."""
    table = {"đ": "d", "Đ": "D"}
    for start, end in ((0x00C0, 0x024F), (0x1E00, 0x1EFF)):
        for code_point in range(start, end + 1):
            letter = chr(code_point)
            decomposed = unicodedata.normalize("NFD", letter)
            base, marks = decomposed[0], decomposed[1:]
            if marks and base.isascii() and base.isalpha() and all(unicodedata.combining(m) for m in marks):
                table[letter] = base
    return table


DIACRITIC_TABLE = _build_diacritic_table()
_DIACRITIC_FROM = "".join(DIACRITIC_TABLE)
_DIACRITIC_TO = "".join(DIACRITIC_TABLE.values())
_DIACRITIC_TRANSLATION = str.maketrans(DIACRITIC_TABLE)


# ---------------------------------------------------------------------------------------------------------
# Plain Python
# ---------------------------------------------------------------------------------------------------------


def nfc_text(text: str) -> str:
    """Unicode NFC: a letter typed as base + combining marks becomes the one precomposed character."""
    if unicodedata.is_normalized("NFC", text):
        return text
    return unicodedata.normalize("NFC", text)


def clean_whitespace_text(text: str) -> str:
    """Zero-width characters removed, every run of whitespace (incl. NBSP) one space, ends trimmed."""
    return _SPACE_RUN.sub(" ", _ZERO_WIDTH.sub("", text)).strip(" ")


def normalise_tone_placement_text(text: str) -> str:
    """NFC text with one tone placement for oa/oe/uy ("Hoà" -> "Hòa", "Thuỷ" -> "Thủy", "Qúy" -> "Quý")."""
    decomposed = unicodedata.normalize("NFD", text)
    decomposed = _TONE_ON_QU.sub(r"\1\3\2", decomposed)
    decomposed = _TONE_ON_SECOND_OF_OA_OE.sub(r"\1\3\2", decomposed)
    decomposed = _TONE_ON_SECOND_OF_UY.sub(r"\1\3\2", decomposed)
    return unicodedata.normalize("NFC", decomposed)


def remove_diacritics_text(text: str) -> str:
    """Diacritics removed from precomposed (NFC) Latin letters, đ -> d: "Đồng Hòa" -> "Dong Hoa"."""
    return text.translate(_DIACRITIC_TRANSLATION)


def match_key_text(text: str | None, keep_diacritics: bool = False) -> str | None:
    """Key under which two spellings of a name compare equal; None when nothing letter-like is left.

    "Phường  Định Hoà", "phường định hòa", "PHƯỜNG ĐỊNH-HÒA" -> "phuong dinh hoa". With `keep_diacritics`
    the key keeps the Vietnamese letters ("phường định hòa"), so "Tân" and "Tấn" stay apart.
    """
    if text is None:
        return None
    visible = _ZERO_WIDTH.sub("", text)
    if keep_diacritics:
        key = normalise_tone_placement_text(visible).lower()
    else:
        # Without diacritics the tone placement no longer matters, and NFC alone is cheaper.
        key = remove_diacritics_text(nfc_text(visible).lower())
    key = _COMBINING_MARKS.sub("", key)
    key = _SEPARATOR_RUN.sub(" ", key).strip(" ")
    return key or None


# ---------------------------------------------------------------------------------------------------------
# Spark columns
# ---------------------------------------------------------------------------------------------------------


def _map_strings(function):  # type: ignore[no-untyped-def]
    """A pandas UDF applying a str -> str function to each non-null value of an Arrow batch."""

    def apply(values: pd.Series) -> pd.Series:
        return values.map(function, na_action="ignore")

    return F.pandas_udf(apply, StringType())  # type: ignore[call-overload]


@functools.cache
def _nfc_udf():  # type: ignore[no-untyped-def]
    return _map_strings(nfc_text)


@functools.cache
def _tone_placement_udf():  # type: ignore[no-untyped-def]
    return _map_strings(normalise_tone_placement_text)


def nfc(col: Column) -> Column:
    """Unicode NFC of a string column (vectorised pandas UDF)."""
    return _nfc_udf()(col)


def normalise_tone_placement(col: Column) -> Column:
    """NFC with one tone placement for oa/oe/uy, as `normalise_tone_placement_text` (pandas UDF)."""
    return _tone_placement_udf()(col)


def clean_whitespace(col: Column) -> Column:
    """Zero-width characters removed, whitespace runs (incl. NBSP) to one space, trimmed."""
    spaced = F.regexp_replace(F.regexp_replace(col, ZERO_WIDTH_CLASS, ""), SPACE_RUN, " ")
    return F.trim(spaced)


def remove_diacritics(col: Column) -> Column:
    """Diacritics removed from precomposed Latin letters, đ -> d (apply to NFC text)."""
    return F.translate(col, _DIACRITIC_FROM, _DIACRITIC_TO)


def match_key(col: Column, keep_diacritics: bool = False) -> Column:
    """Key for matching names, as `match_key_text`; null when nothing letter-like is left."""
    text = F.regexp_replace(col, ZERO_WIDTH_CLASS, "")
    text = F.lower(normalise_tone_placement(text) if keep_diacritics else nfc(text))
    if not keep_diacritics:
        text = remove_diacritics(text)
    text = F.regexp_replace(text, COMBINING_MARKS_CLASS, "")
    key = F.trim(F.regexp_replace(text, JAVA_SEPARATOR_RUN, " "))
    return F.when(key != "", key)
