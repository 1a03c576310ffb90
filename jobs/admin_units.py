"""Administrative units: commune names and codes as agencies write them → GSO commune codes, before and after
the 2025 reform.

Agencies name a place in many ways: "25747", "025747", "Phường Phú Cường", "P. Phú Cường", "Phuong Phu Cuong",
"phường phú cường, tp tdm", "Phú Cường (Thủ Dầu Một)", a name typed in a legacy font ("Ph­êng Phó C­êng",
"Phöôøng Phuù Cöôøng") or UTF-8 read as Windows-1252 ("PhÆ°á»ng"). `resolve_communes` turns any of them
into three columns:

- `commune_code`: the pre-2025 GSO commune code (province 74, 91 units), null when the place was named only
  by a post-2025 unit;
- `commune_code_2025`: the post-2025 unit (province 79) the place belongs to, for counting (see below);
- `commune_match`: how the place was resolved: `code`, `name`, or why not: `ambiguous` (a name shared by
  communes of several districts, with no district or unit type to tell them apart), `unmatched`; null when
  no place was delivered. Suites check it with the rule `<dataset>.commune.resolved`.

How a name is matched. The text is split into parts at commas, semicolons, pipes, brackets and spaced dashes;
the commune is the last part that starts with a commune type ("phường", "p.", "xã", "x.", "thị trấn", "tt."),
else the first part, and the part after it may name the district ("TP. Thủ Dầu Một", "tp tdm", "H. Dầu
Tiếng", "Bến Cát"). Each part is reduced to a key (`place_key`): lower case, diacritics and tone marks
removed (also the combining marks of Windows-1258 text, so no Unicode normalisation is needed), punctuation
and spaces collapsed. The key without its type prefix is looked up in a small table built from the reference
(one row per key, broadcast-joined: no Python runs per row). A key can name several candidates: four names
exist in two districts each (Tân Định, An Bình, Tân Hiệp, Tân Bình: a Phường in one, a Xã or Thị trấn in the
other) and many pre-2025 names live on as post-2025 units. Candidates are narrowed by the district, then by
the unit type; a pre-2025 commune wins over a post-2025 unit of the same name, and a type that does not fit
any candidate is ignored when only one commune of that name exists in the district (types changed over the
years: "Xã An Điền" became a Phường in 2024). Legacy-font spellings are matched through keys precomputed from
the reference names encoded in TCVN3 and VNI-Windows and read as Windows-1252.

Codes. A value of digits only (optionally with a trailing ".0", as spreadsheets export numbers) is a
pre-2025 commune code; leading zeros are ignored ("025747" = "25747"). New (2025) codes re-use predecessors'
codes, so a code is never read as a 2025 code: datasets deliver pre-2025 codes.

Split communes and counting. Sixteen old communes were split between two new units (Nghị quyết
1685/NQ-UBTVQH15). Each old commune has exactly one `primary` new unit, and rows carry that one in
`commune_code_2025`, so a count by new unit counts every row once. The criterion is the resolution's own
wording: one new unit receives "một phần" (a part) of the old commune, the other "phần còn lại" (the
remainder, the continuing body of the old commune); the primary unit is the one that receives the remainder
(`REMAINDER_RECIPIENTS`, with the clause numbers). The full mapping (both parts) stays available in the
reference table `silver.ref_admin_units_crosswalk_2025` with its `is_primary` flag (`jobs.reference_tables`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.legacy_encoding import encode_tcvn3, encode_vni
from jobs.reference_data import CrosswalkPair, crosswalk, pre2025_units
from jobs.text import (
    COMBINING_MARKS_CLASS,
    DIACRITIC_TABLE,
    ZERO_WIDTH_CLASS,
    normalise_tone_placement_text,
    remove_diacritics,
)

COMMUNE_CODE = "commune_code"
COMMUNE_CODE_2025 = "commune_code_2025"
COMMUNE_MATCH = "commune_match"
MATCH_BY_CODE, MATCH_BY_NAME, MATCH_AMBIGUOUS, MATCH_UNMATCHED = "code", "name", "ambiguous", "unmatched"
RESOLVED_MATCHES = (MATCH_BY_CODE, MATCH_BY_NAME)
PRE2025, POST2025 = "pre2025", "2025"

# Nghị quyết 1685/NQ-UBTVQH15, Điều 1: for each split old commune, the new unit that receives "phần còn
# lại" (the remainder) of it, and the clauses giving "một phần" (a part) / the remainder.
REMAINDER_RECIPIENTS: dict[str, tuple[str, str]] = {
    "25741": ("25750", "Hiệp Thành: part to Thủ Dầu Một (cl. 87), remainder to Phú Lợi (cl. 88)"),
    "25768": ("25768", "Hiệp An: part to Chánh Hiệp (cl. 89), remainder to Phú An (cl. 92)"),
    "25774": ("25771", "Chánh Mỹ: part to Thủ Dầu Một (cl. 87), remainder to Chánh Hiệp (cl. 89)"),
    "25783": ("25780", "Minh Thạnh: part to Long Hòa (cl. 144), remainder to Minh Thạnh (cl. 147)"),
    "25786": ("25780", "Minh Tân: part to Long Hòa (cl. 144), remainder to Minh Thạnh (cl. 147)"),
    "25798": ("25777", "Định Hiệp: part to Thanh An (cl. 145), remainder to Dầu Tiếng (cl. 146)"),
    "25801": ("25807", "An Lập: part to Tây Nam (cl. 93), remainder to Thanh An (cl. 145)"),
    "25810": ("25807", "Thanh Tuyền: part to Tây Nam (cl. 93), remainder to Thanh An (cl. 145)"),
    "25813": ("25813", "Mỹ Phước: part to Long Nguyên (cl. 94), remainder to Bến Cát (cl. 95)"),
    "25822": ("25822", "Lai Uyên: part to Trừ Văn Thố (cl. 142), remainder to Bàu Bàng (cl. 143)"),
    "25876": ("25882", "Tam Lập: part to Phú Giáo (cl. 138), remainder to Phước Hòa (cl. 139)"),
    "25918": ("25909", "Tân Mỹ: part to Tân Uyên (cl. 99), remainder to Thường Tân (cl. 136)"),
    "25939": ("25891", "Thái Hòa: part to Tân Đông Hiệp (cl. 81), remainder to Tân Khánh (cl. 101)"),
    "25948": ("25945", "Tân Đông Hiệp: part to Dĩ An (cl. 80), remainder to Tân Đông Hiệp (cl. 81)"),
    "25969": ("25969", "Bình Chuẩn: part to An Phú (cl. 82), remainder to Thuận Giao (cl. 86)"),
    "25990": ("25966", "Vĩnh Phú: part to Bình Hòa (cl. 83), remainder to Lái Thiêu (cl. 84)"),
}

# Commune and district types: the official word, and the abbreviations agencies use (as keys: lower case,
# no diacritics, punctuation turned into spaces, so "P." is "p" and "T.T." is "t t").
COMMUNE_TYPE_WORDS = {
    "phuong": ("phuong", "p", "f"),
    "xa": ("xa", "x"),
    "thi tran": ("thi tran", "tt", "t t", "ttr"),
}
DISTRICT_TYPE_WORDS = ("thanh pho", "tp", "t p", "thi xa", "tx", "t x", "huyen", "h", "quan", "q")

# Characters that separate words in a key: ASCII punctuation and controls, Unicode spaces and general
# punctuation (dashes, quotes, ellipsis). Written as \uXXXX ranges so Python's `re` and Java's regex read
# the same class. Every other character is kept: in text typed in a legacy font and read as Windows-1252,
# "¹", "·", "ª" or a soft hyphen are letters ("Th¹nh" is "Thạnh", "X·" is "Xã", "C­êng" is "Cường").
KEY_SEPARATOR_CLASS = (
    r"[\u0000-\u002f\u003a-\u0040\u005b-\u0060\u007b-\u007f\u0085\u00a0\u1680\u2000-\u205f\u3000]"
)
KEY_SEPARATOR_RUN = KEY_SEPARATOR_CLASS + "+"
# Where a place text splits into commune / district / province parts.
PART_SEPARATORS = r"[,;|()\[\]]|\s[-\u2013\u2014]\s"
_COMMUNE_PREFIX_WORDS = sorted(
    (word for words in COMMUNE_TYPE_WORDS.values() for word in words), key=len, reverse=True
)
COMMUNE_PREFIX = "^(" + "|".join(_COMMUNE_PREFIX_WORDS) + ") "
DISTRICT_PREFIX = "^(" + "|".join(sorted(DISTRICT_TYPE_WORDS, key=len, reverse=True)) + ") "
# A commune code: digits only, leading zeros ignored, an export's ".0" tolerated.
CODE_PATTERN = r"^0*([0-9]{1,5})(?:[.]0+)?$"

_ZERO_WIDTH = re.compile(ZERO_WIDTH_CLASS)
_COMBINING_MARKS = re.compile(COMBINING_MARKS_CLASS)
_KEY_SEPARATOR_RUN = re.compile(KEY_SEPARATOR_RUN)
_DIACRITIC_TRANSLATION = str.maketrans(DIACRITIC_TABLE)
_DISTRICT_PREFIX = re.compile(DISTRICT_PREFIX)

CANDIDATE_TYPE = T.StructType(
    [
        T.StructField("commune_code", T.StringType()),
        T.StructField("commune_code_2025", T.StringType()),
        T.StructField("commune_type", T.StringType()),
        T.StructField("district_code", T.StringType()),
        T.StructField("scheme", T.StringType()),
    ]
)
LOOKUP_SCHEMA = T.StructType(
    [T.StructField("_au_key", T.StringType()), T.StructField("_au_candidates", T.ArrayType(CANDIDATE_TYPE))]
)


# ---------------------------------------------------------------------------------------------------------
# Keys: the same result in Python (reference side) and Spark (data side)
# ---------------------------------------------------------------------------------------------------------


def place_key_text(text: str | None) -> str | None:
    """Key of a place name: "Phường  Định Hoà" and "phuong dinh hoa" -> "phuong dinh hoa"; None if empty."""
    if text is None:
        return None
    key = _ZERO_WIDTH.sub("", text).lower().translate(_DIACRITIC_TRANSLATION)
    key = _KEY_SEPARATOR_RUN.sub(" ", _COMBINING_MARKS.sub("", key)).strip(" ")
    return key or None


def place_key(col: Column) -> Column:
    """`place_key_text` as a Spark column, with built-in functions only; "" when nothing is left."""
    key = remove_diacritics(F.lower(F.regexp_replace(col, ZERO_WIDTH_CLASS, "")))
    key = F.regexp_replace(F.regexp_replace(key, COMBINING_MARKS_CLASS, ""), KEY_SEPARATOR_RUN, " ")
    return F.trim(key)


def shown_as_windows_1252(data: bytes) -> str:
    """What a program reading `data` as Windows-1252 shows (the five undefined bytes as Latin-1)."""
    return "".join(bytes([b]).decode("cp1252", errors="replace").replace("\ufffd", chr(b)) for b in data)


def misread_spellings(name: str) -> set[str]:
    """The mojibake a name turns into when typed in a legacy font (TCVN3, VNI-Windows) or saved as UTF-8,
    then read as Windows-1252: "Phú Cường" -> "Phó C\u00adêng", "Phuù Cöôøng", "PhÃº CÆ°á»\x9dng"."""
    spellings: set[str] = set()
    for form in {name, name.upper()}:
        spellings.add(shown_as_windows_1252(encode_tcvn3(form, errors="replace")))
        spellings.add(shown_as_windows_1252(encode_vni(form, errors="replace")))
        spellings.add(shown_as_windows_1252(form.encode("utf-8")))
    return spellings


# ---------------------------------------------------------------------------------------------------------
# The reference as candidates
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    commune_code: str | None  # pre-2025 code; None for a unit named only in the 2025 scheme
    commune_code_2025: str
    commune_type: str  # key of the type word: "phuong", "xa", "thi tran"
    district_code: str | None
    scheme: str  # PRE2025 or POST2025


def split_type(name: str) -> tuple[str, str]:
    """("Phường", "Phú Cường") from "Phường Phú Cường"; the type is one of the official words."""
    for word in ("Thị trấn", "Phường", "Xã"):
        if name.startswith(word + " "):
            return word, name[len(word) + 1 :]
    raise ValueError(f"{name!r} does not start with a commune type")


def district_base_name(name: str) -> str:
    """ "Thủ Dầu Một" from "Thành phố Thủ Dầu Một" or "Huyện Dầu Tiếng"."""
    for word in ("Thành phố", "Thị xã", "Huyện", "Quận"):
        if name.startswith(word + " "):
            return name[len(word) + 1 :]
    return name


@functools.cache
def primary_new_units() -> dict[str, str]:
    """Old commune code -> the one new (2025) code it counts under: its only successor, or for a split
    commune the unit that received its remainder (`REMAINDER_RECIPIENTS`)."""
    successors: dict[str, list[str]] = {}
    for pair in crosswalk():
        successors.setdefault(pair.old_commune_code, []).append(pair.new_commune_code)
    primary: dict[str, str] = {}
    for old, new_codes in successors.items():
        if len(new_codes) == 1:
            primary[old] = new_codes[0]
            continue
        if old not in REMAINDER_RECIPIENTS:
            raise ValueError(f"commune {old} is split between {new_codes} but has no remainder recipient")
        recipient = REMAINDER_RECIPIENTS[old][0]
        if recipient not in new_codes:
            raise ValueError(f"remainder recipient {recipient} of {old} is not one of its successors")
        primary[old] = recipient
    unused = sorted(set(REMAINDER_RECIPIENTS) - {old for old, codes in successors.items() if len(codes) > 1})
    if unused:
        raise ValueError(f"remainder recipients listed for communes that are not split: {unused}")
    return primary


def new_units() -> dict[str, CrosswalkPair]:
    """New (2025) code -> one crosswalk pair naming it."""
    return {pair.new_commune_code: pair for pair in crosswalk()}


def _name_spellings(name: str) -> set[str]:
    forms = {name, normalise_tone_placement_text(name)}
    return forms | {misread for form in forms for misread in misread_spellings(form)}


def _commune_keys(name: str) -> set[str]:
    """Keys under which a commune name is found: with and without its type word, also misread."""
    _, base = split_type(name)
    keys = {place_key_text(spelling) for form in (name, base) for spelling in _name_spellings(form)}
    return {key for key in keys if key}


@functools.cache
def lookup_entries() -> tuple[tuple[str, tuple[Candidate, ...]], ...]:
    """(key, candidates) for every code and name spelling of the pre-2025 communes and the 2025 units."""
    primary = primary_new_units()
    by_key: dict[str, dict[Candidate, None]] = {}

    def add(keys: Iterable[str], candidate: Candidate) -> None:
        for key in keys:
            by_key.setdefault(key, {})[candidate] = None

    for unit in pre2025_units():
        candidate = Candidate(
            unit.commune_code,
            primary[unit.commune_code],
            place_key_text(unit.commune_type) or "",
            unit.district_code,
            PRE2025,
        )
        add([unit.commune_code], candidate)
        add(_commune_keys(unit.commune_name), candidate)
    for code, pair in sorted(new_units().items()):
        candidate = Candidate(None, code, place_key_text(pair.new_commune_type) or "", None, POST2025)
        add(_commune_keys(pair.new_commune_name), candidate)
    return tuple((key, tuple(candidates)) for key, candidates in sorted(by_key.items()))


def _initials(name: str) -> str:
    return "".join(word[0] for word in (place_key_text(name) or "").split(" "))


@functools.cache
def district_keys() -> dict[str, str]:
    """District key (type word removed) -> district code: "thu dau mot", "tdm", misread spellings…"""
    districts = {unit.district_code: unit.district_name for unit in pre2025_units()}
    keys: dict[str, set[str]] = {}
    for code, name in districts.items():
        base = district_base_name(name)
        spellings = _name_spellings(base) | {_initials(base)}
        for spelling in spellings:
            key = place_key_text(spelling)
            if key:
                keys.setdefault(_DISTRICT_PREFIX.sub("", key), set()).add(code)
    # A key two districts share would decide nothing: leave it out.
    return {key: next(iter(codes)) for key, codes in sorted(keys.items()) if len(codes) == 1}


# ---------------------------------------------------------------------------------------------------------
# Spark
# ---------------------------------------------------------------------------------------------------------


def _literal_map(mapping: dict[str, str]) -> Column:
    return F.expr(_map_sql(tuple(sorted(mapping.items()))))


@functools.cache
def _map_sql(items: tuple[tuple[str, str], ...]) -> str:
    # One SQL literal, parsed by Spark in one call: building it from F.lit columns costs a driver round trip
    # per entry, seconds per batch.
    return "map(" + ", ".join(f"{_sql_string(k)}, {_sql_string(v)}" for k, v in items) + ")"


def _sql_string(value: str | None) -> str:
    if value is None:
        return "CAST(NULL AS STRING)"
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def lookup_frame(spark: SparkSession) -> DataFrame:
    """The reference as a small in-memory DataFrame (a local relation: broadcast without reading files)."""
    rows = [
        (
            key,
            [
                (c.commune_code, c.commune_code_2025, c.commune_type, c.district_code, c.scheme)
                for c in candidates
            ],
        )
        for key, candidates in lookup_entries()
    ]
    return spark.createDataFrame(rows, LOOKUP_SCHEMA)


def _first_part_key(text: Column) -> Column:
    parts = F.filter(F.transform(F.split(text, PART_SEPARATORS), place_key), lambda key: key != "")
    return F.get(parts, 0)


def _district_code(district_key: Column) -> Column:
    base = F.trim(F.regexp_replace(district_key, DISTRICT_PREFIX, ""))
    return _literal_map(district_keys())[base]


def _code_candidates() -> Column:
    """Commune code -> its candidates, as a literal map (91 entries: no join needed for codes)."""
    return F.expr(_code_candidates_sql())


@functools.cache
def _code_candidates_sql() -> str:
    def candidate(c: object) -> str:
        fields = ", ".join(f"'{f.name}', {_sql_string(getattr(c, f.name))}" for f in CANDIDATE_TYPE)
        return f"named_struct({fields})"

    entries = [(key, candidates) for key, candidates in lookup_entries() if key.isdigit()]
    return (
        "map("
        + ", ".join(
            f"{_sql_string(key)}, array({', '.join(candidate(c) for c in candidates)})"
            for key, candidates in entries
        )
        + ")"
    )


def resolve_communes(
    place: str, district: str | None = None, codes_only: bool = False
) -> Callable[[DataFrame], DataFrame]:
    """Transform: resolve the place named in column `place` (optionally scoped by column `district`).

    Adds or replaces `commune_code`, `commune_code_2025` and `commune_match` (see the module docstring).
    When the frame already has a `commune_code` column and the place cannot be resolved, that column keeps
    its value, so a rule on the delivered code still sees what was delivered. `codes_only` is for columns
    that hold commune codes by contract (MaXa): a name there is not resolved, and no join is needed.
    """

    def transform(df: DataFrame) -> DataFrame:
        text = F.col(place).cast("string")
        parts = F.filter(F.transform(F.split(text, PART_SEPARATORS), place_key), lambda key: key != "")
        count = F.size(parts)
        # The commune is the last part that starts with a commune type, else the first part.
        typed = F.filter(
            F.sequence(F.lit(0), F.greatest(count - 1, F.lit(0))),
            lambda i: F.coalesce(F.get(parts, i), F.lit("")).rlike(COMMUNE_PREFIX),
        )
        position = F.coalesce(F.element_at(typed, -1), F.lit(0))
        commune_key = F.get(parts, position)
        inline_district = F.get(parts, position + 1)
        district_key = (
            F.coalesce(_first_part_key(F.col(district).cast("string")), inline_district)
            if district
            else inline_district
        )
        prefix_word = F.regexp_extract(commune_key, COMMUNE_PREFIX, 1)
        type_of_prefix = {word: kind for kind, words in COMMUNE_TYPE_WORDS.items() for word in words}
        code_digits = F.regexp_extract(F.trim(text), CODE_PATTERN, 1)
        with_keys = df.withColumns(
            {
                "_au_key": F.when(code_digits != "", F.lpad(code_digits, 5, "0")).otherwise(
                    F.trim(F.regexp_replace(commune_key, COMMUNE_PREFIX, ""))
                ),
                "_au_by_code": code_digits != "",
                "_au_type": F.when(prefix_word != "", _literal_map(type_of_prefix)[prefix_word]),
                "_au_district": _district_code(district_key),
                "_au_blank": text.isNull() | (F.trim(text) == ""),
            }
        )
        if codes_only:
            by_code = F.when(F.col("_au_by_code"), _code_candidates()[F.col("_au_key")])
            joined = with_keys.withColumn("_au_candidates", by_code)
        else:
            joined = with_keys.join(F.broadcast(lookup_frame(df.sparkSession)), on="_au_key", how="left")
        return joined.transform(_choose).drop(
            "_au_key", "_au_by_code", "_au_type", "_au_district", "_au_blank", "_au_candidates"
        )

    return transform


def _choose(df: DataFrame) -> DataFrame:
    """Pick the one candidate the district and type leave, and say how (or why not)."""
    district, kind = F.col("_au_district"), F.col("_au_type")
    candidates = F.coalesce(F.col("_au_candidates"), F.array().cast(T.ArrayType(CANDIDATE_TYPE)))
    in_district = F.filter(
        candidates,
        lambda c: district.isNull() | (c["scheme"] == POST2025) | (c["district_code"] == district),
    )

    def of(scheme: str, typed: bool) -> Column:
        return F.filter(
            in_district,
            lambda c: (c["scheme"] == scheme) & (kind.isNull() | ~F.lit(typed) | (c["commune_type"] == kind)),
        )

    old_typed, new_typed, old_any = of(PRE2025, True), of(POST2025, True), of(PRE2025, False)
    chosen = (
        F.when(F.size(old_typed) == 1, F.get(old_typed, 0))
        .when((F.size(old_typed) == 0) & (F.size(new_typed) == 1), F.get(new_typed, 0))
        .when((F.size(old_typed) == 0) & (F.size(new_typed) == 0) & (F.size(old_any) == 1), F.get(old_any, 0))
    )
    match = (
        F.when(F.col("_au_blank"), F.lit(None).cast("string"))
        .when(chosen.isNotNull() & F.col("_au_by_code"), F.lit(MATCH_BY_CODE))
        .when(chosen.isNotNull(), F.lit(MATCH_BY_NAME))
        .when(F.size(in_district) > 1, F.lit(MATCH_AMBIGUOUS))
        .otherwise(F.lit(MATCH_UNMATCHED))
    )
    delivered_code = F.col(COMMUNE_CODE) if COMMUNE_CODE in df.columns else F.lit(None).cast("string")
    return df.withColumns(
        {
            COMMUNE_CODE: F.when(chosen.isNotNull(), chosen["commune_code"]).otherwise(delivered_code),
            COMMUNE_CODE_2025: chosen["commune_code_2025"],
            COMMUNE_MATCH: match,
        }
    )
