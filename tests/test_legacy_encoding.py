"""TCVN3 and VNI-Windows: every letter of the reference table, round trips, detection, mojibake repair."""

from __future__ import annotations

import csv
import inspect
import unicodedata
from pathlib import Path

import pytest

import jobs.legacy_encoding as legacy_encoding
from jobs.legacy_encoding import (
    VIETNAMESE_LETTERS,
    decode_tcvn3,
    decode_text,
    decode_vni,
    detect_encoding,
    encode_tcvn3,
    encode_vni,
    encode_windows_1258,
    repair_mojibake,
    vietnamese_plausibility,
)

TABLE_FILE = "legacy_vn_encoding_map_tcvn3_vniwin.csv"
SOURCES_EXAMPLE = "Thủ Dầu Một, Bình Dương, Đồng Nai"


def _has_tone(letter: str) -> bool:
    return any(mark in "\u0300\u0301\u0303\u0309\u0323" for mark in unicodedata.normalize("NFD", letter))


def _tcvn3_round_trip(text: str) -> str:
    """What TCVN3 can hold of a mixed-case text: toned capitals share the lowercase byte."""
    return "".join(letter.lower() if letter.isupper() and _has_tone(letter) else letter for letter in text)


@pytest.fixture(scope="module")
def letter_table(shared_reference: Path) -> list[dict[str, str]]:
    with (shared_reference / TABLE_FILE).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def reference_names(shared_reference: Path) -> list[str]:
    names: set[str] = set()
    for path in sorted(shared_reference.glob("admin_units_*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                names.update(value for column, value in row.items() if column.endswith("_name"))
    return sorted(names)


def test_the_tables_are_written_in_code_not_read_from_the_reference_file() -> None:
    assert TABLE_FILE.split(".")[0] not in inspect.getsource(legacy_encoding)


def test_every_letter_of_the_reference_table(letter_table: list[dict[str, str]]) -> None:
    assert len(letter_table) == 134
    assert set(VIETNAMESE_LETTERS) == {row["unicode_char"] for row in letter_table}
    for row in letter_table:
        letter = row["unicode_char"]
        tcvn3 = bytes.fromhex(row["tcvn3_byte_hex"])
        vni = bytes.fromhex(row["vniwin_bytes_hex"])
        assert encode_tcvn3(letter) == tcvn3, letter
        assert decode_tcvn3(tcvn3) == _tcvn3_round_trip(letter), letter
        assert encode_vni(letter) == vni, letter
        assert decode_vni(vni) == letter, letter
        assert vni.decode("cp1252") == row["vniwin_as_cp1252"], letter


def test_every_letter_in_words_of_both_cases(letter_table: list[dict[str, str]]) -> None:
    # Each letter between ASCII letters, so greedy VNI decoding meets every pair in context.
    text = " ".join(f"x{row['unicode_char']}ng" for row in letter_table)
    assert decode_vni(encode_vni(text)) == text
    assert decode_tcvn3(encode_tcvn3(text)) == _tcvn3_round_trip(text)
    upper = text.upper()
    assert decode_tcvn3(encode_tcvn3(upper)) == upper  # capitals restored in all-capital words


def test_round_trip_examples_of_sources_md() -> None:
    assert encode_tcvn3(SOURCES_EXAMPLE).decode("cp1252") == "Thñ DÇu Mét, B×nh D\u00ad¬ng, §ång Nai"
    assert encode_vni(SOURCES_EXAMPLE).decode("cp1252") == "Thuû Daàu Moät, Bình Döông, Ñoàng Nai"
    assert decode_tcvn3("Thñ DÇu Mét, B×nh D\u00ad¬ng, §ång Nai".encode("cp1252")) == SOURCES_EXAMPLE
    assert decode_vni("Thuû Daàu Moät, Bình Döông, Ñoàng Nai".encode("cp1252")) == SOURCES_EXAMPLE


def test_reference_names_round_trip(reference_names: list[str]) -> None:
    assert len(reference_names) > 100
    for name in reference_names:
        assert decode_vni(encode_vni(name)) == name
        assert decode_tcvn3(encode_tcvn3(name)) == _tcvn3_round_trip(name)


def test_tcvn3_capitals_restored_only_in_capital_words() -> None:
    assert decode_tcvn3(encode_tcvn3("THÀNH PHỐ THỦ DẦU MỘT - Hà Nội")) == "THÀNH PHỐ THỦ DẦU MỘT - Hà Nội"
    assert decode_tcvn3(encode_tcvn3("Ấp Ông Đồ")) == "ấp Ông Đồ"  # a lone toned capital is read as lowercase
    assert decode_tcvn3(encode_tcvn3("THÀNH"), restore_capitals=False) == "THàNH"


def test_unmapped_bytes_decode_as_windows_punctuation() -> None:
    assert decode_tcvn3(b"\x93B\xd7nh\x94 \x96 74") == "“Bình” – 74"
    assert decode_vni(b"\x93B\xecnh\x94") == "“Bình”"
    assert encode_tcvn3("“Bình” – 74") == b"\x93B\xd7nh\x94 \x96 74"


def test_characters_a_legacy_font_cannot_hold() -> None:
    with pytest.raises(UnicodeEncodeError):
        encode_tcvn3("Bình Dương 平陽")
    with pytest.raises(UnicodeEncodeError):
        encode_vni("ñ")  # its cp1252 byte is VNI's đ
    assert encode_vni("Dương 平", errors="replace") == encode_vni("Dương ?")


@pytest.mark.parametrize(
    ("mojibake", "repaired", "encoding"),
    [
        ("B×nh D\u00ad¬ng", "Bình Dương", "tcvn3"),
        ("Thñ DÇu Mét", "Thủ Dầu Một", "tcvn3"),
        ("THµNH PHè THñ DÇU MéT", "THÀNH PHỐ THỦ DẦU MỘT", "tcvn3"),
        ("Bình Döông", "Bình Dương", "vni-windows"),
        ("Thuû Daàu Moät", "Thủ Dầu Một", "vni-windows"),
        ("Xaõ An Bình", "Xã An Bình", "vni-windows"),
        ("BÃ¬nh DÆ°Æ¡ng", "Bình Dương", "utf-8"),
    ],
)
def test_repair_mojibake(mojibake: str, repaired: str, encoding: str) -> None:
    assert repair_mojibake(mojibake) == (repaired, encoding)


@pytest.mark.parametrize(
    "text", ["Bình Dương", "Bình", "Tân Bình", "Bình Hòa", "Café Müller", "MST 0100109106", ""]
)
def test_repair_mojibake_leaves_good_text_alone(text: str) -> None:
    assert repair_mojibake(text) == (text, None)


def test_repair_mojibake_on_every_reference_name(reference_names: list[str]) -> None:
    for name in reference_names:
        assert repair_mojibake(name) == (name, None)
        assert repair_mojibake(encode_vni(name).decode("cp1252")) == (name, "vni-windows")
        if not name.isascii():
            assert repair_mojibake(encode_tcvn3(name).decode("cp1252")) == (_tcvn3_round_trip(name), "tcvn3")


def test_plausibility_prefers_real_syllables() -> None:
    assert vietnamese_plausibility("Nguyễn Thị Thuỷ, Quỳnh, Khuyến, người") == 6
    assert vietnamese_plausibility("Thñ DÇu Mét") < 0
    assert vietnamese_plausibility("Bỡnh Taõn") == -2  # ơ before nh, tone on the glide of ao


def test_detect_encoding_of_whole_files(reference_names: list[str]) -> None:
    text = "ma,ten\n" + "\n".join(f"{index},{name}" for index, name in enumerate(reference_names)) + "\n"
    encoded = {
        "utf-8-sig": text.encode("utf-8-sig"),
        "utf-8": text.encode("utf-8"),
        "utf-16": text.encode("utf-16"),
        "tcvn3": encode_tcvn3(text),
        "vni-windows": encode_vni(text),
        "windows-1258": encode_windows_1258(text),
    }
    for encoding, data in encoded.items():
        assert detect_encoding(data) == encoding
        expected = _tcvn3_round_trip(text) if encoding == "tcvn3" else text
        assert decode_text(data) == expected
    assert detect_encoding(b"ma,ten\n1,Binh Duong\n") == "utf-8"


def test_detect_encoding_of_single_names(reference_names: list[str]) -> None:
    for name in reference_names:
        for encoding, encode in (("tcvn3", encode_tcvn3), ("vni-windows", encode_vni)):
            data = encode(name)
            if not data.isascii():
                assert detect_encoding(data) == encoding, name
        if not name.isascii():
            assert detect_encoding(encode_windows_1258(name)) == "windows-1258", name


def test_decode_text_rejects_unknown_encodings() -> None:
    with pytest.raises(ValueError, match="unsupported encoding 'viscii'"):
        decode_text(b"abc", "viscii")
