"""Vietnamese text: NFC, whitespace, tone placement, match keys; Spark columns agree with the Python twins."""

from __future__ import annotations

import csv
import unicodedata
from pathlib import Path

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from jobs.text import (
    clean_whitespace,
    clean_whitespace_text,
    match_key,
    match_key_text,
    nfc,
    nfc_text,
    normalise_tone_placement,
    normalise_tone_placement_text,
    remove_diacritics,
    remove_diacritics_text,
)


def _reference_names(folder: Path) -> list[str]:
    names: set[str] = set()
    for path in sorted(folder.glob("admin_units_*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                names.update(value for column, value in row.items() if column.endswith("_name"))
    return sorted(names)


# --- Python ------------------------------------------------------------------------------------------


def test_nfc_composes_decomposed_letters() -> None:
    decomposed = unicodedata.normalize("NFD", "Thủ Dầu Một")
    assert decomposed != "Thủ Dầu Một"
    assert nfc_text(decomposed) == "Thủ Dầu Một"
    assert nfc_text("Hoà") == "Hoà"  # NFC keeps the tone where it was typed


def test_clean_whitespace_text() -> None:
    assert clean_whitespace_text("\u200b Bình\u00a0\u00a0Dương \t\n") == "Bình Dương"
    assert clean_whitespace_text("Thủ\u200bDầu\u202fMột") == "ThủDầu Một"
    assert clean_whitespace_text(" \ufeff ") == ""


@pytest.mark.parametrize(
    ("typed", "normalised"),
    [
        ("Hoà", "Hòa"),
        ("HOÀ BÌNH", "HÒA BÌNH"),
        ("Hoạ", "Họa"),
        ("khoẻ", "khỏe"),
        ("Thuỷ", "Thủy"),
        ("Thuý", "Thúy"),
        ("Qúy", "Quý"),
        ("qúa", "quá"),
        ("Quý", "Quý"),  # the y of "quy" carries the tone
        ("Hoàng", "Hoàng"),  # a final consonant: both styles put the tone on the a
        ("Huỳnh", "Huỳnh"),
        ("ngoài", "ngoài"),
        ("thuở", "thuở"),
        (unicodedata.normalize("NFD", "Phường Định Hoà"), "Phường Định Hòa"),
    ],
)
def test_tone_placement(typed: str, normalised: str) -> None:
    assert normalise_tone_placement_text(typed) == normalised
    assert normalise_tone_placement_text(normalised) == normalised


def test_remove_diacritics_text() -> None:
    assert remove_diacritics_text("Đồng Hòa, Bình Dương") == "Dong Hoa, Binh Duong"
    assert remove_diacritics_text("ĂÂÊÔƠƯăâêôơưđ") == "AAEOOUaaeooud"


@pytest.mark.parametrize(
    "spellings",
    [
        (
            "Phường Định Hoà",
            "phường định hòa",
            "PHƯỜNG  ĐỊNH-HÒA",
            unicodedata.normalize("NFD", "Phường Định Hòa"),
        ),
        ("Thuỷ", "Thủy", "THỦY"),
        ("Qúy", "Quý", "quý"),
        ("Nguyễn Văn A.", "nguyễn\u00a0văn  a", "Nguyễn\u200b Văn (A)"),
    ],
)
def test_match_key_makes_spellings_equal(spellings: tuple[str, ...]) -> None:
    assert len({match_key_text(spelling) for spelling in spellings}) == 1
    assert len({match_key_text(spelling, keep_diacritics=True) for spelling in spellings}) == 1


def test_match_key_values() -> None:
    assert match_key_text("  PHƯỜNG ĐỊNH-HÒA (cũ). ") == "phuong dinh hoa cu"
    assert match_key_text("Xã Long Hoà", keep_diacritics=True) == "xã long hòa"
    assert match_key_text("Tân") == match_key_text("Tấn")
    assert match_key_text("Tân", keep_diacritics=True) != match_key_text("Tấn", keep_diacritics=True)
    assert match_key_text(" - . ") is None
    assert match_key_text(None) is None


def test_old_style_reference_names_match_new_style(shared_reference: Path) -> None:
    names = _reference_names(shared_reference)
    old_style = [name for name in names if "oà" in name]
    assert len(old_style) == 6  # as SOURCES.md lists them
    for name in old_style:
        new_style = name.replace("oà", "òa")
        assert match_key_text(name, keep_diacritics=True) == match_key_text(new_style, keep_diacritics=True)
        assert normalise_tone_placement_text(name) == new_style
    # Distinct units keep distinct keys, with and without diacritics.
    assert len({match_key_text(name) for name in names}) == len(
        {normalise_tone_placement_text(n) for n in names}
    )


# --- Spark agrees with Python ------------------------------------------------------------------------


def _corpus(names: list[str]) -> list[str]:
    corpus = []
    for name in names:
        corpus += [
            name,
            unicodedata.normalize("NFD", name).upper(),
            name.replace(" ", "\u00a0 ").replace("ư", "ư\u200b") + " \t",
            name.replace("òa", "oà").replace("ủy", "uỷ") + ", (cũ)",
        ]
    return corpus + ["Qúy", "Thuỷ", "Khoẻ_mạnh", "  ", "", "Ｂình", "Đắk-Lắk/Krông", "x\u0301y", "İstanbul"]


def test_spark_text_functions_agree_with_python(spark, shared_reference: Path) -> None:
    corpus = _corpus(_reference_names(shared_reference))
    df = spark.createDataFrame([(text,) for text in corpus], "text string")
    text = F.col("text")
    rows = df.select(
        "text",
        nfc(text).alias("nfc"),
        clean_whitespace(text).alias("clean"),
        normalise_tone_placement(text).alias("tone"),
        remove_diacritics(nfc(text)).alias("plain"),
        match_key(text).alias("key"),
        match_key(text, keep_diacritics=True).alias("key_with_diacritics"),
    ).collect()
    assert len(rows) == len(corpus) > 400
    mismatches = []
    for row in rows:
        value = row["text"]
        expected = {
            "nfc": nfc_text(value),
            "clean": clean_whitespace_text(value),
            "tone": normalise_tone_placement_text(value),
            "plain": remove_diacritics_text(nfc_text(value)),
            "key": match_key_text(value),
            "key_with_diacritics": match_key_text(value, keep_diacritics=True),
        }
        actual = {column: row[column] for column in expected}
        if actual != expected:
            mismatches.append((value, actual, expected))
    assert mismatches == []


def test_spark_text_functions_keep_nulls_and_match_old_and_new_names(spark) -> None:
    df = spark.createDataFrame(
        [("old", "Xã Long Hoà"), ("new", "Xã Long Hòa"), ("shouted", "XÃ  LONG HOÀ "), ("missing", None)],
        "source string, name string",
    )
    result = df.select(
        "source",
        nfc(F.col("name")).alias("nfc"),
        match_key(F.col("name")).alias("key"),
        match_key(F.col("name"), keep_diacritics=True).alias("key_with_diacritics"),
    )
    expected = spark.createDataFrame(
        [
            ("old", "Xã Long Hoà", "xa long hoa", "xã long hòa"),
            ("new", "Xã Long Hòa", "xa long hoa", "xã long hòa"),
            ("shouted", "XÃ  LONG HOÀ ", "xa long hoa", "xã long hòa"),
            ("missing", None, None, None),
        ],
        "source string, nfc string, key string, key_with_diacritics string",
    )
    assertDataFrameEqual(result, expected)
