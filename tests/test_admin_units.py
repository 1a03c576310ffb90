"""Commune resolution: every commune from many spellings, every crosswalk pair, ambiguity, no Python per row.

Spellings and expected codes are derived here from ../shared/reference, independently of the resolver's own
reference copy and tables.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from jobs.admin_units import (
    COMMUNE_CODE,
    COMMUNE_CODE_2025,
    COMMUNE_MATCH,
    REMAINDER_RECIPIENTS,
    lookup_entries,
    place_key,
    place_key_text,
    primary_new_units,
    resolve_communes,
)
from jobs.legacy_encoding import encode_tcvn3, encode_vni

TYPE_ABBREVIATIONS = {"Phường": "P.", "Xã": "X.", "Thị trấn": "TT."}
DISTRICT_ABBREVIATIONS = {"Thành phố": "TP.", "Huyện": "H."}


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def fold(text: str) -> str:
    import unicodedata

    text = text.replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def as_windows_1252(data: bytes) -> str:
    return "".join(bytes([b]).decode("cp1252", errors="replace").replace("\ufffd", chr(b)) for b in data)


def split_type(name: str) -> tuple[str, str]:
    for word in TYPE_ABBREVIATIONS:
        if name.startswith(word + " "):
            return word, name[len(word) + 1 :]
    raise AssertionError(name)


def district_parts(name: str) -> tuple[str, str]:
    for word in DISTRICT_ABBREVIATIONS:
        if name.startswith(word + " "):
            return word, name[len(word) + 1 :]
    raise AssertionError(name)


@pytest.fixture(scope="module")
def communes(shared_reference: Path) -> list[dict[str, str]]:
    return read_csv(shared_reference / "admin_units_74_pre2025.csv")


@pytest.fixture(scope="module")
def pairs(shared_reference: Path) -> list[dict[str, str]]:
    return read_csv(shared_reference / "admin_units_2025_crosswalk.csv")


def spellings_of(row: dict[str, str]) -> dict[str, str]:
    """Spelling kind -> the commune as an agency might write it."""
    name, district = row["commune_name"], row["district_name"]
    kind, base = split_type(name)
    district_kind, district_base = district_parts(district)
    initials = "".join(word[0] for word in fold(district_base).split())
    return {
        "official": name,
        "no_diacritics": fold(name),
        "abbreviated": f"{TYPE_ABBREVIATIONS[kind]} {base}",
        "abbreviated_tight": f"{TYPE_ABBREVIATIONS[kind]}{base}",
        "lower_case": name.lower(),
        "upper_case": name.upper(),
        "tcvn3": as_windows_1252(encode_tcvn3(name)),
        "vni": as_windows_1252(encode_vni(name)),
        "utf8_as_cp1252": as_windows_1252(name.encode("utf-8")),
        "with_district": f"{name.lower()}, {DISTRICT_ABBREVIATIONS[district_kind].lower()} {initials}",
        "bare_with_district": f"{fold(base)} ({district_base})",
        "spaced_dash_district": f"{kind} {base} - {district}",
        "code": row["commune_code"],
        "code_leading_zero": "0" + row["commune_code"],
        "code_as_number": row["commune_code"] + ".0",
    }


def resolve(spark, values: list[tuple[str, str | None]]) -> dict[str, tuple]:
    df = spark.createDataFrame(values, "place string, district string")
    rows = df.transform(resolve_communes("place", "district")).collect()
    return {r["place"]: (r[COMMUNE_CODE], r[COMMUNE_CODE_2025], r[COMMUNE_MATCH]) for r in rows}


def resolve_with_districts(spark, values: list[tuple[str, str]]) -> dict[tuple[str, str], tuple]:
    df = spark.createDataFrame(values, "place string, district string")
    rows = df.transform(resolve_communes("place", "district")).collect()
    return {(r["place"], r["district"]): (r[COMMUNE_CODE], r[COMMUNE_MATCH]) for r in rows}


def test_every_commune_resolves_from_every_spelling(spark, communes, pairs) -> None:
    successors = defaultdict(set)
    for pair in pairs:
        successors[pair["old_commune_code"]].add(pair["new_commune_code"])
    cases = [
        (row["commune_code"], kind, text) for row in communes for kind, text in spellings_of(row).items()
    ]
    resolved = resolve(spark, [(text, None) for _, _, text in cases])
    failures = []
    for code, kind, text in cases:
        got_code, got_2025, match = resolved[text]
        expected_match = "code" if kind.startswith("code") else "name"
        if (got_code, match) != (code, expected_match) or got_2025 not in successors[code]:
            failures.append((code, kind, text, resolved[text]))
    assert failures == []
    assert len(communes) == 91 and len(cases) >= 91 * 5


def test_duplicate_names_need_a_district_or_a_type(spark, communes) -> None:
    by_base = defaultdict(list)
    for row in communes:
        by_base[fold(split_type(row["commune_name"])[1]).lower()].append(row)
    duplicates = {base: rows for base, rows in by_base.items() if len(rows) > 1}
    assert sorted(duplicates) == ["an binh", "tan binh", "tan dinh", "tan hiep"]
    bare_names, scoped, in_column = [], {}, {}
    for rows in duplicates.values():
        bare = split_type(rows[0]["commune_name"])[1]
        bare_names.append(bare)
        for row in rows:
            scoped[f"{bare}, {district_parts(row['district_name'])[1]}"] = row["commune_code"]
            in_column[(bare.upper() + " ", row["district_name"])] = row["commune_code"]
        # The unit type alone tells the two apart as well.
        for row in rows:
            scoped[row["commune_name"].lower()] = row["commune_code"]
    resolved = resolve(spark, [(text, None) for text in [*bare_names, *scoped]])
    assert {text: resolved[text] for text in bare_names} == dict.fromkeys(
        bare_names, (None, None, "ambiguous")
    )
    assert {text: resolved[text][::2] for text in scoped} == {
        text: (code, "name") for text, code in scoped.items()
    }
    by_column = resolve_with_districts(spark, list(in_column))
    assert by_column == {key: (code, "name") for key, code in in_column.items()}


def test_all_crosswalk_pairs_are_honoured_and_each_old_commune_counts_once(pairs) -> None:
    primary = primary_new_units()
    successors = defaultdict(set)
    for pair in pairs:
        successors[pair["old_commune_code"]].add(pair["new_commune_code"])
    assert len(pairs) == 107 and len(successors) == 91
    assert set(primary) == set(successors)
    for old, new_codes in successors.items():
        assert primary[old] in new_codes
    split = {old for old, new_codes in successors.items() if len(new_codes) == 2}
    assert split == set(REMAINDER_RECIPIENTS) and len(split) == 16
    # Counting by primary unit: every old commune once, and each of the 36 new units reached.
    assert sum(Counter(primary.values()).values()) == 91
    assert set(primary.values()) == {pair["new_commune_code"] for pair in pairs}
    assert len(set(primary.values())) == 36


def test_every_old_commune_resolves_to_its_primary_unit(spark, communes) -> None:
    resolved = resolve(spark, [(row["commune_code"], None) for row in communes])
    primary = primary_new_units()
    assert {code: value[1] for code, value in resolved.items()} == primary


def test_post_2025_unit_names_resolve_to_the_new_scheme_only(spark) -> None:
    resolved = resolve(
        spark,
        [
            ("Phường Bình Dương", None),
            ("xa dau tieng", None),
            ("Phường Phú Lợi", None),
            ("P. Thủ Dầu Một", None),
        ],
    )
    assert resolved["Phường Bình Dương"] == (None, "25760", "name")
    # Xã Dầu Tiếng is a 2025 unit; the old Thị trấn Dầu Tiếng only shares its name.
    assert resolved["xa dau tieng"] == (None, "25777", "name")
    # A name in both schemes is read as the pre-2025 commune, which counts under the new unit of its name.
    assert resolved["Phường Phú Lợi"] == ("25744", "25750", "name")
    assert resolved["P. Thủ Dầu Một"] == (None, "25747", "name")


def test_a_former_unit_type_still_resolves_a_unique_name(spark, communes) -> None:
    # An Điền and An Tây were communes (Xã) until 2024, in what was then Thị xã Bến Cát.
    codes = {row["commune_name"]: row["commune_code"] for row in communes}
    resolved = resolve(spark, [("Xã An Điền, Thị xã Bến Cát", None), ("xa an tay", None)])
    assert resolved["Xã An Điền, Thị xã Bến Cát"][::2] == (codes["Phường An Điền"], "name")
    assert resolved["xa an tay"][::2] == (codes["Phường An Tây"], "name")


def test_unknown_places_and_blanks(spark) -> None:
    resolved = resolve(
        spark,
        [
            ("Phường Bến Nghé", None),
            ("99999", None),
            ("00000", None),
            ("TP. Thủ Dầu Một", None),
            ("  ", None),
        ],
    )
    assert resolved["Phường Bến Nghé"] == (None, None, "unmatched")
    assert resolved["99999"] == (None, None, "unmatched")
    assert resolved["00000"] == (None, None, "unmatched")
    assert resolved["TP. Thủ Dầu Một"] == (None, None, "unmatched")  # a district is not a commune
    assert resolved["  "] == (None, None, None)
    # A commune whose district contradicts the name is not guessed.
    assert (
        resolve(spark, [("Phường Phú Cường, Huyện Dầu Tiếng", None)])["Phường Phú Cường, Huyện Dầu Tiếng"][2]
        == "unmatched"
    )


@pytest.mark.parametrize("codes_only", [False, True])
def test_an_unresolved_delivered_code_is_kept_for_the_code_rule(spark, codes_only) -> None:
    df = spark.createDataFrame(
        [("99999",), ("25747",), (" 25747 ",), ("025990",), ("25741.0",), ("Phường Phú Cường",), (None,)],
        "commune_code string",
    )
    rows = df.transform(resolve_communes("commune_code", codes_only=codes_only)).collect()
    assert [(r[COMMUNE_CODE], r[COMMUNE_CODE_2025], r[COMMUNE_MATCH]) for r in rows] == [
        ("99999", None, "unmatched"),
        ("25747", "25747", "code"),
        ("25747", "25747", "code"),
        ("25990", "25966", "code"),
        ("25741", "25750", "code"),
        # A code column holding a name: resolved only when names are looked up.
        ("25747", "25747", "name") if not codes_only else ("Phường Phú Cường", None, "unmatched"),
        (None, None, None),
    ]


def test_code_columns_resolve_without_a_join(spark) -> None:
    df = spark.createDataFrame([("25747",)], "commune_code string")
    resolved = df.transform(resolve_communes("commune_code", codes_only=True))
    plan = resolved._jdf.queryExecution().executedPlan().toString()
    assert "Join" not in plan and "Exchange" not in plan and "EvalPython" not in plan


def test_spark_keys_equal_python_keys(spark, communes) -> None:
    texts = [text for row in communes for text in spellings_of(row).values()]
    texts += ["Phường\u00a0Định  Hoà", "Thủ\u200bDầu Một", "Ho\u0300a Lợi", "¹·ª­", "T.T. Dầu Tiếng"]
    rows = spark.createDataFrame([(t,) for t in texts], "text string").select(
        "text", place_key(F.col("text")).alias("key")
    )
    mismatches = [
        (r["text"], r["key"]) for r in rows.collect() if r["key"] != (place_key_text(r["text"]) or "")
    ]
    assert mismatches == []
    # Decomposed tone marks (as Windows-1258 text has) give the composed text's key.
    assert place_key_text("Ho\u0300a") == place_key_text("Hòa") == "hoa"


def test_only_the_duplicate_names_share_a_key(communes) -> None:
    by_base = defaultdict(set)
    for row in communes:
        by_base[fold(split_type(row["commune_name"])[1]).lower()].add(row["commune_code"])
    duplicate_pairs = {frozenset(codes) for codes in by_base.values() if len(codes) > 1}
    shared = {
        frozenset(c.commune_code for c in candidates if c.scheme == "pre2025")
        for _, candidates in lookup_entries()
    }
    assert {codes for codes in shared if len(codes) > 1} == duplicate_pairs
    assert len(duplicate_pairs) == 4


def test_resolution_runs_without_python_and_broadcasts_the_lookup(spark) -> None:
    df = spark.createDataFrame([("P. Phú Cường",)], "place string").transform(resolve_communes("place"))
    plan = df._jdf.queryExecution().executedPlan().toString()
    assert "BroadcastHashJoin" in plan or "BroadcastExchange" in plan
    assert "EvalPython" not in plan and "PythonUDF" not in plan
