"""Legacy Vietnamese font encodings (TCVN3/ABC, VNI-Windows): decode, encode, detect, repair mojibake.

Old government spreadsheets were typed in fonts that put Vietnamese letters on the code points of
Western letters: ".VnTime" (TCVN3, one byte per letter) and "VNI-Times" (VNI-Windows, a base letter and a
second byte for the diacritic/tone). Opened without the font, or read as cp1252, they show mojibake such as
"B×nh D­¬ng" (TCVN3) or "Bình Döông" (VNI). Python has no codec for either, so the tables are here.

The tables restate public facts (the Unikey converter tables, TCVN 5712:1993 VN3, the VNI-Windows font
layout) as one row per vowel: its bytes for no tone, then grave (huyền), hook (hỏi), tilde (ngã), acute
(sắc) and dot below (nặng). The Unicode letter of each cell is composed from the vowel and the tone.

TCVN3 has no toned capitals: "Á" is written with the byte of "á" (headings used the capital-only ".VnTimeH"
fonts), so decoding yields lowercase for those letters. `decode_tcvn3` restores the capitals inside words
that are otherwise written in capitals ("THµNH" -> "THÀNH").

Bytes a table does not use decode as cp1252 (both fonts kept Windows punctuation such as “ ” – there).
"""

from __future__ import annotations

import codecs
import contextlib
import re
import unicodedata
from collections.abc import Callable

# Combining tone marks in table order: none, grave, hook above, tilde, acute, dot below.
TONE_ORDER = ("", "\u0300", "\u0309", "\u0303", "\u0301", "\u0323")

# TCVN3 (ABC): lowercase vowel -> bytes for (no tone, grave, hook, tilde, acute, dot below).
TCVN3_VOWEL_BYTES: dict[str, tuple[int, int, int, int, int, int]] = {
    "a": (0x61, 0xB5, 0xB6, 0xB7, 0xB8, 0xB9),
    "ă": (0xA8, 0xBB, 0xBC, 0xBD, 0xBE, 0xC6),
    "â": (0xA9, 0xC7, 0xC8, 0xC9, 0xCA, 0xCB),
    "e": (0x65, 0xCC, 0xCE, 0xCF, 0xD0, 0xD1),
    "ê": (0xAA, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6),
    "i": (0x69, 0xD7, 0xD8, 0xDC, 0xDD, 0xDE),
    "o": (0x6F, 0xDF, 0xE1, 0xE2, 0xE3, 0xE4),
    "ô": (0xAB, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9),
    "ơ": (0xAC, 0xEA, 0xEB, 0xEC, 0xED, 0xEE),
    "u": (0x75, 0xEF, 0xF1, 0xF2, 0xF3, 0xF4),
    "ư": (0xAD, 0xF5, 0xF6, 0xF7, 0xF8, 0xF9),
    "y": (0x79, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE),
}
# The only capitals TCVN3 has beyond ASCII, and đ.
TCVN3_OTHER_BYTES = {"Ă": 0xA1, "Â": 0xA2, "Ê": 0xA3, "Ô": 0xA4, "Ơ": 0xA5, "Ư": 0xA6, "Đ": 0xA7, "đ": 0xAE}

# VNI-Windows: the second byte that adds a tone to a plain vowel (a, e, o, u, y, ơ, ư), lower/upper case.
VNI_TONE_BYTES = {"lower": (0xF8, 0xFB, 0xF5, 0xF9, 0xEF), "upper": (0xD8, 0xDB, 0xD5, 0xD9, 0xCF)}
# Second bytes that carry circumflex (â ê ô) or breve (ă) together with the tone, incl. "no tone" first.
VNI_CIRCUMFLEX_BYTES = {
    "lower": (0xE2, 0xE0, 0xE5, 0xE3, 0xE1, 0xE4),
    "upper": (0xC2, 0xC0, 0xC5, 0xC3, 0xC1, 0xC4),
}
VNI_BREVE_BYTES = {
    "lower": (0xEA, 0xE8, 0xFA, 0xFC, 0xE9, 0xEB),
    "upper": (0xCA, 0xC8, 0xDA, 0xDC, 0xC9, 0xCB),
}
# Letters VNI writes as one byte: toned i, ỵ, and the horned/stroked bases ơ, ư, đ.
VNI_TONED_I_BYTES = {"lower": (0xEC, 0xE6, 0xF3, 0xED, 0xF2), "upper": (0xCC, 0xC6, 0xD3, 0xCD, 0xD2)}
VNI_SINGLE_BYTES = {"ỵ": 0xEE, "Ỵ": 0xCE, "ơ": 0xF4, "Ơ": 0xD4, "ư": 0xF6, "Ư": 0xD6, "đ": 0xF1, "Đ": 0xD1}

ENCODING_NAMES = ("utf-8-sig", "utf-8", "utf-16", "tcvn3", "vni-windows", "windows-1258")
_LEGACY_CANDIDATES = ("tcvn3", "vni-windows", "windows-1258")  # ties resolve in this order


def _compose(vowel: str, tone_index: int) -> str:
    return unicodedata.normalize("NFC", vowel + TONE_ORDER[tone_index])


def _build_tcvn3_encoding() -> dict[str, int]:
    table: dict[str, int] = {}
    for vowel, cells in TCVN3_VOWEL_BYTES.items():
        for tone_index, byte in enumerate(cells):
            letter = _compose(vowel, tone_index)
            table[letter] = byte
            # A toned capital shares its lowercase byte; an untoned one is ASCII or in TCVN3_OTHER_BYTES.
            if tone_index > 0:
                table[letter.upper()] = byte
    table.update(TCVN3_OTHER_BYTES)
    return table


def _vni_sequence(vowel: str, tone_index: int, case: str) -> bytes:
    """VNI bytes of `vowel` (lowercase Vietnamese vowel) with a tone, in lower or upper case."""
    base = vowel.upper() if case == "upper" else vowel
    ascii_base = unicodedata.normalize("NFD", base)[0].encode("ascii")
    if vowel in "âêô":
        return ascii_base + bytes([VNI_CIRCUMFLEX_BYTES[case][tone_index]])
    if vowel == "ă":
        return ascii_base + bytes([VNI_BREVE_BYTES[case][tone_index]])
    if vowel == "i" and tone_index > 0:
        return bytes([VNI_TONED_I_BYTES[case][tone_index - 1]])
    if vowel == "y" and tone_index == 5:
        return bytes([VNI_SINGLE_BYTES[_compose(base, 5)]])
    head = bytes([VNI_SINGLE_BYTES[base]]) if vowel in "ơư" else ascii_base
    return head if tone_index == 0 else head + bytes([VNI_TONE_BYTES[case][tone_index - 1]])


def _build_vni_encoding() -> dict[str, bytes]:
    table: dict[str, bytes] = {}
    for vowel in TCVN3_VOWEL_BYTES:  # the same twelve vowels
        for tone_index in range(len(TONE_ORDER)):
            letter = _compose(vowel, tone_index)
            table[letter] = _vni_sequence(vowel, tone_index, "lower")
            table[letter.upper()] = _vni_sequence(vowel, tone_index, "upper")
    table["đ"], table["Đ"] = bytes([VNI_SINGLE_BYTES["đ"]]), bytes([VNI_SINGLE_BYTES["Đ"]])
    return {letter: sequence for letter, sequence in table.items() if not letter.isascii()}


# Letter -> bytes, for the 134 Vietnamese letters outside ASCII.
TCVN3_ENCODING: dict[str, bytes] = {
    letter: bytes([byte]) for letter, byte in _build_tcvn3_encoding().items() if not letter.isascii()
}
VNI_ENCODING: dict[str, bytes] = _build_vni_encoding()
VIETNAMESE_LETTERS = tuple(VNI_ENCODING)


def _cp1252_char(byte: int) -> str:
    """The cp1252 character of a byte; the five bytes cp1252 leaves undefined map as in latin-1."""
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        return chr(byte)


# TCVN3 decoding: byte -> letter, preferring the lowercase letter where a toned capital shares its byte;
# every other byte is ASCII or cp1252.
_TCVN3_LETTER_BY_BYTE = {
    encoded[0]: letter
    for letter, encoded in sorted(TCVN3_ENCODING.items(), key=lambda item: item[0].islower())
}
_TCVN3_DECODING = [
    _TCVN3_LETTER_BY_BYTE.get(byte, chr(byte) if byte < 0x80 else _cp1252_char(byte)) for byte in range(256)
]
_TCVN3_TRANSLATION = {byte: text for byte, text in enumerate(_TCVN3_DECODING) if chr(byte) != text}
_TCVN3_AMBIGUOUS_LOWERCASE = frozenset(
    letter
    for letter in TCVN3_ENCODING
    if letter.islower() and TCVN3_ENCODING[letter] == TCVN3_ENCODING.get(letter.upper())
)

_VNI_PAIRS: dict[str, str] = {
    sequence.decode("latin-1"): letter for letter, sequence in VNI_ENCODING.items() if len(sequence) == 2
}
_VNI_SINGLES: dict[str, str] = {
    sequence.decode("latin-1"): letter for letter, sequence in VNI_ENCODING.items() if len(sequence) == 1
}
_VNI_RESERVED_BYTES = {byte for sequence in VNI_ENCODING.values() for byte in sequence if byte >= 0x80}
_TCVN3_RESERVED_BYTES = {encoded[0] for encoded in TCVN3_ENCODING.values()}
# Greedy: at each position a two-byte letter first, else a one-byte letter, else any other non-ASCII byte.
_VNI_TOKEN = re.compile("|".join(re.escape(pair) for pair in sorted(_VNI_PAIRS)) + "|[\u0080-\u00ff]")


def _restore_tcvn3_capitals(text: str) -> str:
    """Uppercase the toned letters of words otherwise in capitals: TCVN3 gives them only in lowercase."""

    def fix(word_match: re.Match[str]) -> str:
        word = word_match.group()
        capitals = sum(1 for letter in word if letter.isupper())
        lowercase_known = any(
            letter.islower() and letter not in _TCVN3_AMBIGUOUS_LOWERCASE for letter in word
        )
        return word.upper() if capitals >= 2 and not lowercase_known else word

    return re.sub(r"[^\W\d_]{2,}", fix, text)


def decode_tcvn3(data: bytes, restore_capitals: bool = True) -> str:
    """TCVN3 (ABC, ".VnTime") bytes -> Unicode NFC text."""
    text = data.decode("latin-1").translate(_TCVN3_TRANSLATION)
    return _restore_tcvn3_capitals(text) if restore_capitals else text


def decode_vni(data: bytes) -> str:
    """VNI-Windows bytes -> Unicode NFC text, greedily: two-byte letters first, then one-byte ones."""

    def letter(token_match: re.Match[str]) -> str:
        token = token_match.group()
        if token in _VNI_PAIRS:
            return _VNI_PAIRS[token]
        if token in _VNI_SINGLES:
            return _VNI_SINGLES[token]
        return _cp1252_char(ord(token))

    return _VNI_TOKEN.sub(letter, data.decode("latin-1"))


def _encode_with(
    table: dict[str, bytes], reserved_bytes: set[int], encoding: str, text: str, errors: str
) -> bytes:
    encoded = bytearray()
    normalised = unicodedata.normalize("NFC", text)
    for position, character in enumerate(normalised):
        if character.isascii():
            encoded += character.encode("ascii")
        elif character in table:
            encoded += table[character]
        else:
            # Punctuation such as “ ” – sits on its cp1252 byte when the font does not use that byte.
            try:
                fallback = character.encode("cp1252")
            except UnicodeEncodeError:
                fallback = b""
            if fallback and fallback[0] not in reserved_bytes:
                encoded += fallback
            elif errors == "replace":
                encoded += b"?"
            else:
                raise UnicodeEncodeError(
                    encoding, normalised, position, position + 1, "no byte for this character"
                )
    return bytes(encoded)


def encode_tcvn3(text: str, errors: str = "strict") -> bytes:
    """Unicode text -> TCVN3 bytes (toned capitals become their lowercase byte, as the fonts require).

    `errors="replace"` writes '?' for a character TCVN3 cannot hold instead of raising UnicodeEncodeError.
    """
    return _encode_with(TCVN3_ENCODING, _TCVN3_RESERVED_BYTES, "tcvn3", text, errors)


def encode_vni(text: str, errors: str = "strict") -> bytes:
    """Unicode text -> VNI-Windows bytes; `errors` as for `encode_tcvn3`."""
    return _encode_with(VNI_ENCODING, _VNI_RESERVED_BYTES, "vni-windows", text, errors)


def encode_windows_1258(text: str, errors: str = "strict") -> bytes:
    """Unicode text -> Windows-1258 bytes; that code page writes a tone as a separate combining byte."""
    encoded = bytearray()
    for character in unicodedata.normalize("NFC", text):
        try:
            encoded += character.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        decomposed = unicodedata.normalize("NFD", character)
        tones = "".join(mark for mark in decomposed if mark in TONE_ORDER[1:])
        letter = unicodedata.normalize("NFC", "".join(mark for mark in decomposed if mark not in tones))
        encoded += (letter + tones).encode("cp1258", errors=errors)
    return bytes(encoded)


# ---------------------------------------------------------------------------------------------------------
# How Vietnamese a text looks: the basis of encoding detection and mojibake repair
# ---------------------------------------------------------------------------------------------------------

_INITIALS = ("ngh", "ng", "nh", "ch", "gh", "gi", "kh", "ph", "th", "tr", "qu", *"bcdđghklmnprstvx", "")
_FINALS = ("ch", "ng", "nh", *"cmnptk", "")
# Vowel nuclei without tones, grouped by where the tone goes. Both placements of oa/oe/uy are in use.
_TONE_ON_FIRST = (
    "ai",
    "ao",
    "au",
    "ay",
    "âu",
    "ây",
    "eo",
    "êu",
    "ia",
    "iu",
    "oi",
    "ôi",
    "ơi",
    "ui",
    "ưi",
    "ưu",
    "ưa",
    "ua",
)
_TONE_ON_EITHER = ("oa", "oe", "uy", "oo")
_TONE_ON_SECOND = ("iê", "yê", "uô", "ươ", "uâ", "uê", "oă", "uơ")
_TONE_ON_MIDDLE = ("iêu", "yêu", "uôi", "ươi", "ươu", "uây", "oai", "oay", "oao", "oeo", "uya", "uyu")
# Nucleus -> positions in it that may carry the tone.
_NUCLEUS_TONE_POSITIONS: dict[str, frozenset[int]] = {
    **dict.fromkeys("aăâeêioôơuưy", frozenset({0})),
    **dict.fromkeys(_TONE_ON_FIRST, frozenset({0})),
    **dict.fromkeys(_TONE_ON_EITHER, frozenset({0, 1})),
    **dict.fromkeys(_TONE_ON_SECOND + _TONE_ON_MIDDLE, frozenset({1})),
    "uyê": frozenset({2}),
}
# Nuclei that end in a glide take no final consonant; the closed ones always need one.
_OPEN_ONLY = frozenset(_TONE_ON_FIRST + _TONE_ON_MIDDLE)
_CLOSED_ONLY = frozenset(("ă", "â", "iê", "yê", "uô", "ươ", "uâ", "uyê", "oă"))
# The nuclei the finals nh/ch and ng/c may follow ("anh", "ếch", "quỳnh"; "ương", "việc", "xoong").
_BEFORE_NH_CH = frozenset(("a", "ê", "i", "y", "oa", "uê", "uy"))
_BEFORE_NG_C = frozenset(
    ("a", "ă", "â", "e", "o", "ô", "u", "ư", "oa", "oă", "oo", "uâ", "uô", "ươ", "iê", "yê")
)
# Syllables closed by a stop take only the acute or the dot-below tone.
_STOP_FINALS = frozenset({"c", "ch", "p", "t", "k"})
_STOP_TONES = frozenset({"", "\u0301", "\u0323"})
_TONE_MARKS = frozenset(TONE_ORDER[1:])
_WORD = re.compile(r"[^\s0-9!-/:-@\[-`{-~]+")


def _final_fits(nucleus: str, final: str) -> bool:
    if not final:
        return nucleus not in _CLOSED_ONLY
    if nucleus in _OPEN_ONLY:
        return False
    if final in ("nh", "ch"):
        return nucleus in _BEFORE_NH_CH
    if final in ("ng", "c"):
        return nucleus in _BEFORE_NG_C
    return True


def _is_vietnamese_syllable(word: str) -> bool:
    """True when `word` is spelled like one Vietnamese syllable: initial, vowel nucleus with its tone in a
    usual place, final consonant that fits the nucleus."""
    letters: list[str] = []
    tone, tone_at = "", -1
    for position, character in enumerate(unicodedata.normalize("NFC", word.lower())):
        decomposed = unicodedata.normalize("NFD", character)
        tones = [mark for mark in decomposed if mark in _TONE_MARKS]
        if len(tones) > 1 or (tones and tone):
            return False
        if tones:
            tone, tone_at = tones[0], position
        letters.append(unicodedata.normalize("NFC", "".join(m for m in decomposed if m not in _TONE_MARKS)))
    toneless = "".join(letters)
    if len(toneless) != len(letters):  # a mark that composed with nothing
        return False
    for initial in _INITIALS:
        if not toneless.startswith(initial):
            continue
        for final in _FINALS:
            if not toneless.endswith(final) or len(initial) + len(final) >= len(toneless):
                continue
            nucleus = toneless[len(initial) : len(toneless) - len(final)]
            positions = _NUCLEUS_TONE_POSITIONS.get(nucleus)
            if positions is None or not _final_fits(nucleus, final):
                continue
            if final in _STOP_FINALS and tone not in _STOP_TONES:
                continue
            if tone and tone_at - len(initial) not in positions:
                continue
            return True
    return False


def vietnamese_plausibility(text: str) -> int:
    """Words with non-ASCII letters that are Vietnamese syllables, minus those that are not.

    ASCII-only words are ignored: they read the same in every candidate decoding.
    """
    score = 0
    for raw_word in _WORD.findall(unicodedata.normalize("NFC", text)):
        word = raw_word.strip("".join(c for c in raw_word if unicodedata.category(c).startswith("P")))
        if word and not word.isascii():
            score += 1 if _is_vietnamese_syllable(word) else -1
    return score


def _decoder(encoding: str) -> Callable[[bytes], str]:
    if encoding == "tcvn3":
        return decode_tcvn3
    if encoding == "vni-windows":
        return decode_vni
    return lambda data: unicodedata.normalize("NFC", data.decode(encoding, errors="replace"))


# UTF-8 text damaged by a few stray bytes: at least this many well-formed multi-byte letters per bad byte.
UTF8_LETTERS_PER_BAD_BYTE = 10
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def _mostly_utf8(data: bytes) -> bool:
    """UTF-8 with a few invalid bytes (a damaged export), not a legacy encoding: legacy Vietnamese text
    practically never forms well-formed UTF-8 sequences, damaged UTF-8 is full of them."""
    letters = len(_UTF8_MULTIBYTE.findall(data))
    bad = data.decode("utf-8", errors="replace").count("\ufffd") - data.count("\ufffd".encode())
    return letters >= UTF8_LETTERS_PER_BAD_BYTE * max(bad, 1)


def detect_encoding(data: bytes, sample_bytes: int = 256 * 1024) -> str:
    """The encoding of a delivered file, one of ENCODING_NAMES.

    1. A byte-order mark decides: UTF-8 BOM -> 'utf-8-sig', UTF-16 LE/BE BOM -> 'utf-16'.
    2. Bytes that decode as UTF-8 are UTF-8 (pure ASCII included). Legacy Vietnamese text is practically
       never valid UTF-8: its letter bytes (0xA1-0xFE) are not followed by UTF-8 continuation bytes. Text
       with many well-formed UTF-8 letters and a few invalid bytes is damaged UTF-8 (`_mostly_utf8`): the
       reader then marks the records holding the bad bytes instead of mis-decoding the whole file.
    3. Otherwise the lines with non-ASCII bytes (up to `sample_bytes`) are decoded as TCVN3, VNI-Windows and
       Windows-1258, and the candidate whose words look most like Vietnamese syllables wins
       (`vietnamese_plausibility`); ties go to TCVN3, then VNI-Windows, then Windows-1258.
    BOM-less UTF-16 is not recognised.
    """
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    if _mostly_utf8(data):
        return "utf-8"
    sample = bytearray()
    for line in data.splitlines():
        if not line.isascii():
            sample += line + b"\n"
            if len(sample) >= sample_bytes:
                break
    scores = {name: vietnamese_plausibility(_decoder(name)(bytes(sample))) for name in _LEGACY_CANDIDATES}
    return max(_LEGACY_CANDIDATES, key=lambda name: scores[name])  # max keeps the first of equal scores


def decode_text(data: bytes, encoding: str | None = None) -> str:
    """Bytes -> NFC text in `encoding` (one of ENCODING_NAMES), detected when not given."""
    encoding = encoding or detect_encoding(data)
    if encoding not in ENCODING_NAMES:
        raise ValueError(f"unsupported encoding {encoding!r}: expected one of {', '.join(ENCODING_NAMES)}")
    if encoding in ("tcvn3", "vni-windows"):
        return _decoder(encoding)(data)
    return unicodedata.normalize("NFC", data.decode(encoding))


def _as_single_bytes(text: str) -> bytes | None:
    """The bytes `text` came from if it was read as cp1252 (or latin-1); None if it cannot have been."""
    encoded = bytearray()
    for character in text:
        try:
            encoded += character.encode("cp1252")
        except UnicodeEncodeError:
            if ord(character) > 0xFF:
                return None
            encoded.append(ord(character))
    return bytes(encoded)


def repair_mojibake(text: str) -> tuple[str, str | None]:
    """Repair legacy-encoded text that was read as cp1252/latin-1; also UTF-8 read as cp1252.

    "Thñ DÇu Mét" -> ("Thủ Dầu Một", "tcvn3"); "Bình Döông" -> ("Bình Dương", "vni-windows");
    "BÃ¬nh DÆ°Æ¡ng" -> ("Bình Dương", "utf-8"). Text that is already good Vietnamese, or that no candidate
    makes more Vietnamese-looking, comes back unchanged with None. A text with any character beyond the
    cp1252/latin-1 repertoire (e.g. "ư", "Đ") was not produced that way and is returned unchanged.
    """
    if text.isascii():
        return text, None
    raw = _as_single_bytes(text)
    if raw is None:
        return text, None
    best_text, best_encoding, best_score = text, None, max(vietnamese_plausibility(text), 0)
    candidates: list[tuple[str, str]] = [("tcvn3", decode_tcvn3(raw)), ("vni-windows", decode_vni(raw))]
    with contextlib.suppress(UnicodeDecodeError):
        candidates.append(("utf-8", unicodedata.normalize("NFC", raw.decode("utf-8"))))
    for encoding, candidate in candidates:
        score = vietnamese_plausibility(candidate)
        if score > best_score:
            best_text, best_encoding, best_score = candidate, encoding, score
    return best_text, best_encoding
