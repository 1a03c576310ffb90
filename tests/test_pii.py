"""Pseudonymisation key handling, keyed pseudonyms, and masks for quarantine payloads."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import logging
import os
import pickle
import stat
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from jobs import pii
from jobs.pii import (
    PiiKey,
    PiiKeyError,
    load_or_create_key,
    mask_identifier,
    mask_json_payload,
    pseudonym,
    pseudonymise_pii,
)

SECRET = bytes.fromhex("8f3a5c2e9b71d04e6a2f18c7b35e09d4a1c6f2e83b7d5a904c1e6f27b8a3d5c1")
OTHER_SECRET = bytes(range(32))
PSEUDONYM_OF_SOMEONE = hashlib.sha256(b"someone").hexdigest()


def expected_hmac(secret: bytes, text: str) -> str:
    return hmac.new(secret, text.encode("utf-8"), hashlib.sha256).hexdigest()


@pytest.fixture
def key() -> PiiKey:
    return PiiKey(SECRET, source="test")


# ------------------------------------------------------------------------------------------------------------
# The key object
# ------------------------------------------------------------------------------------------------------------


def test_key_never_shows_its_secret_when_printed_formatted_or_logged(key, caplog, capsys):
    secret_hex = SECRET.hex()
    caplog.set_level(logging.DEBUG)
    logging.getLogger("govlake.test").info("using %s / %r", key, key)
    print(key, repr(key), f"{key}", f"{key!r}", f"{key:>40}", [key], {"k": key})
    print("%s %r" % (key, key))  # noqa: UP031 - old-style formatting is still common in logging code

    shown = caplog.text + capsys.readouterr().out
    assert key.key_id in shown
    assert secret_hex not in shown.lower()
    assert SECRET.hex().upper() not in shown
    assert str(SECRET) not in shown


def test_key_id_is_a_short_hash_and_the_secret_needs_an_explicit_call(key):
    assert key.key_id == hashlib.sha256(SECRET).hexdigest()[:8]
    assert key.reveal_secret_bytes() == SECRET
    assert not hasattr(key, "__dict__")  # vars(key) cannot dump the secret
    with pytest.raises(AttributeError):
        key.key_id = "00000000"


def test_key_refuses_pickling_and_copies_are_the_same_key(key):
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(key, protocol=protocol)
    assert copy.copy(key) is key
    assert copy.deepcopy({"key": key})["key"] is key
    assert key == PiiKey(SECRET, source="elsewhere")
    assert key != PiiKey(OTHER_SECRET, source="test")


@pytest.mark.parametrize(
    "bad_value, reason",
    [
        ("abc123", "64 hexadecimal characters"),
        ("zz" + "0" * 62, "only hexadecimal characters"),
        ("0" * 66, "64 hexadecimal characters"),
    ],
)
def test_malformed_hex_key_is_rejected_without_echoing_it(tmp_path, bad_value, reason):
    with pytest.raises(PiiKeyError, match=reason) as raised:
        load_or_create_key(str(tmp_path), key_hex=bad_value, key_file=None)
    assert bad_value not in str(raised.value)
    # No chained exception either: a traceback must not reveal more than the message.
    assert raised.value.__cause__ is None
    assert raised.value.__context__ is None or raised.value.__suppress_context__


# ------------------------------------------------------------------------------------------------------------
# Loading and creating the key
# ------------------------------------------------------------------------------------------------------------


def test_explicit_hex_key_wins_over_any_key_file(tmp_path):
    key_file = tmp_path / "elsewhere.key"
    key_file.write_text(OTHER_SECRET.hex())
    key = load_or_create_key(
        str(tmp_path / "lake"), key_hex=f"  {SECRET.hex().upper()}\n", key_file=str(key_file)
    )
    assert key.reveal_secret_bytes() == SECRET
    assert key.source == "GOVLAKE_PII_KEY"
    assert not (tmp_path / "lake").exists()


def test_configured_key_file_is_used_and_must_exist(tmp_path):
    key_file = tmp_path / "secrets" / "govlake.key"
    key_file.parent.mkdir()
    key_file.write_text(SECRET.hex() + "\n")
    key_file.chmod(0o600)
    assert load_or_create_key(str(tmp_path / "lake"), None, str(key_file)).reveal_secret_bytes() == SECRET

    with pytest.raises(PiiKeyError, match="does not exist"):
        load_or_create_key(str(tmp_path / "lake"), None, str(tmp_path / "missing.key"))
    assert not (tmp_path / "missing.key").exists()
    assert not (tmp_path / "lake").exists()


def test_first_run_creates_an_owner_only_key_file_and_logs_only_where(tmp_path, caplog, capsys):
    lake = tmp_path / "lake"
    caplog.set_level(logging.DEBUG, logger="jobs.pii")
    previous_umask = os.umask(0o000)  # even a permissive umask must not make the key readable by others
    try:
        key = load_or_create_key(str(lake), key_hex=None, key_file=None)
        umask_after = os.umask(0o000)
    finally:
        os.umask(previous_umask)

    key_path = lake / "_private" / "pii.key"
    assert umask_after == 0o000  # the caller's umask is restored
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(lake.stat().st_mode) == 0o777  # the lake root itself keeps the caller's permissions
    secret_hex = key.reveal_secret_bytes().hex()
    assert key_path.read_text().strip() == secret_hex
    assert len(set(key.reveal_secret_bytes())) > 8  # random, not a constant

    records = [r for r in caplog.records if r.name == "jobs.pii"]
    assert len(records) == 1
    assert str(key_path) in records[0].getMessage() and key.key_id in records[0].getMessage()
    shown = caplog.text + "".join(capsys.readouterr())
    assert secret_hex not in shown.lower()

    # Later runs read the same key, silently.
    caplog.clear()
    again = load_or_create_key(str(lake), None, None)
    assert again == key
    assert not [r for r in caplog.records if r.name == "jobs.pii"]


def test_concurrent_first_runs_agree_on_one_key(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="jobs.pii")
    umask_before = os.umask(0o022)
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            keys = list(pool.map(lambda _: load_or_create_key(str(tmp_path), None, None), range(16)))
        umask_after = os.umask(umask_before)
    finally:
        os.umask(umask_before)
    assert umask_after == 0o022
    assert all(key == keys[0] for key in keys)
    assert len([r for r in caplog.records if "Created" in r.getMessage()]) == 1


def test_lake_given_as_file_uri_uses_the_same_key_file(tmp_path):
    created = load_or_create_key(str(tmp_path), None, None)
    assert load_or_create_key(f"file://{tmp_path}", None, None) == created


def test_existing_private_dir_is_tightened_and_loose_key_file_is_reported(tmp_path, caplog):
    private = tmp_path / "_private"
    private.mkdir(mode=0o755)
    private.chmod(0o755)
    load_or_create_key(str(tmp_path), None, None)
    assert stat.S_IMODE(private.stat().st_mode) == 0o700

    (private / "pii.key").chmod(0o644)
    caplog.set_level(logging.WARNING, logger="jobs.pii")
    key = load_or_create_key(str(tmp_path), None, None)
    assert "chmod 600" in caplog.text
    assert key.reveal_secret_bytes().hex() not in caplog.text


def test_corrupt_key_file_fails_without_echoing_its_content(tmp_path):
    key_path = tmp_path / "_private" / "pii.key"
    key_path.parent.mkdir(mode=0o700)
    key_path.write_text("not-a-key-" + "7" * 30)
    with pytest.raises(PiiKeyError, match="64 hexadecimal") as raised:
        load_or_create_key(str(tmp_path), None, None)
    assert "7777" not in str(raised.value)


def test_remote_lake_needs_a_configured_key():
    with pytest.raises(PiiKeyError, match="GOVLAKE_PII_KEY"):
        load_or_create_key("s3a://govlake/lake", None, None)
    assert load_or_create_key("s3a://govlake/lake", SECRET.hex(), None).reveal_secret_bytes() == SECRET


# ------------------------------------------------------------------------------------------------------------
# Pseudonyms
# ------------------------------------------------------------------------------------------------------------


def test_pseudonym_is_hmac_sha256_of_the_utf8_value(spark, key):
    values = [
        "0912345678",
        "a@b.vn",
        unicodedata.normalize("NFC", "Nguyễn Thị Thuỷ"),
        unicodedata.normalize("NFC", "Phường Định Hoà, Thủ Dầu Một"),
        "",
        None,
    ]
    df = spark.createDataFrame([(v,) for v in values], "value string")
    rows = df.select(
        "value",
        pseudonym(F.col("value"), key).alias("first"),
        pseudonym("value", key).alias("again"),
        pseudonym(F.col("value"), PiiKey(OTHER_SECRET, "other")).alias("other_key"),
    ).collect()

    for row in rows:
        if row.value is None:
            assert row.first is None and row.other_key is None
            continue
        assert row.first == expected_hmac(SECRET, row.value)
        assert row.again == row.first
        assert row.other_key == expected_hmac(OTHER_SECRET, row.value) != row.first


def test_pseudonym_runs_on_spark_built_ins_only(spark, key):
    query = spark.createDataFrame([("x",)], "value string").select(pseudonym("value", key))
    plan = query._jdf.queryExecution().executedPlan().toString()
    assert "Python" not in plan and "ArrowEval" not in plan


def test_normalised_spellings_share_a_pseudonym_and_different_people_do_not(spark, key):
    rows = [
        ("phone", "0912 345 678"),
        ("phone", "+84912345678"),
        ("phone", "84-912.345.678"),
        ("phone", "(+84) 912 345 678"),
        ("phone", "0912345679"),
        ("phone", "ext. 12-34"),
        ("citizen_id", "074 123 456 789"),
        ("citizen_id", "074123456789"),
        ("citizen_id", "074.123.456.789"),
        ("citizen_id", "280123456"),  # the same person's old 9-digit CMND: not linked
        ("email", "  Nguyen.An@Gmail.COM "),
        ("email", "nguyen.an@gmail.com"),
        ("email", "nguyen.an@gmail.vn"),
        ("name", "Nguyễn Thị Hoà"),
        ("name", "NGUYỄN THỊ HÒA"),
        ("name", "nguyen thi hoa"),
        ("name", "Nguyễn Thị Hoa Mai"),
        ("phone", "   "),
        ("name", " - "),
        ("email", None),
    ]
    df = spark.createDataFrame(rows, "kind string, value string")
    pseudonym_columns = F.coalesce(
        *[
            F.when(F.col("kind") == kind, pseudonymise_pii(kind, F.col("value"), key))
            for kind in pii.PII_KINDS
        ]
    )
    got = [row.p for row in df.select(pseudonym_columns.alias("p")).collect()]

    assert got[0] == got[1] == got[2] == got[3] == expected_hmac(SECRET, "0912345678")
    assert got[4] != got[0]
    assert got[5] == expected_hmac(SECRET, "1234")  # not a mobile number: hashed from its digits
    assert got[6] == got[7] == got[8] == expected_hmac(SECRET, "074123456789")
    assert got[9] == expected_hmac(SECRET, "280123456") != got[6]
    assert got[10] == got[11] == expected_hmac(SECRET, "nguyen.an@gmail.com")
    assert got[12] != got[10]
    assert got[13] == got[14] == got[15] != got[16]
    assert got[17] is None and got[18] is None and got[19] is None  # blanks never share a pseudonym
    assert all(p is None or (len(p) == 64 and set(p) <= set("0123456789abcdef")) for p in got)


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown PII kind 'passport'"):
        pseudonymise_pii("passport", F.col("x"), PiiKey(SECRET, "test"))
    with pytest.raises(ValueError, match="unknown PII kind"):
        mask_identifier("address", F.col("x"))


# ------------------------------------------------------------------------------------------------------------
# Masks and quarantine payloads
# ------------------------------------------------------------------------------------------------------------


def test_masks_show_only_what_is_needed_to_correct_a_record(spark):
    cases = [
        ("citizen_id", "074123456789", "*********789"),
        ("citizen_id", "074 123 456 789", "*********789"),
        ("citizen_id", "280123456", "******456"),
        ("citizen_id", "0741234567891234", "*********234"),  # too long: length capped at 12
        ("citizen_id", "1234", "****"),  # too short to be an ID: nothing shown
        ("citizen_id", None, None),
        ("phone", "0912 345 678", "*******678"),
        ("phone", "+84912345678", "*******678"),
        ("phone", "12", "*******"),
        ("phone", "không có", ""),
        ("phone", None, None),
        ("email", " nguyen.an@gmail.com ", "n***@gmail.com"),
        ("email", "an.gmail.com", "a***"),
        ("email", None, None),
        ("name", "Nguyễn Văn An", "N. V. A."),
        ("name", "  đặng   thị\u00a0ánh  ", "Đ. T. Á."),
        ("name", "Lê (Bé) - Hai", "L. B. H."),
        ("name", None, None),
    ]
    df = spark.createDataFrame([(kind, value) for kind, value, _ in cases], "kind string, value string")
    masked = F.coalesce(
        *[F.when(F.col("kind") == kind, mask_identifier(kind, "value")) for kind in pii.PII_KINDS]
    )
    got = [row.m for row in df.select(masked.alias("m")).collect()]
    assert got == [expected for _, _, expected in cases]


def test_quarantine_payload_keeps_every_column_with_identifiers_masked(spark):
    df = spark.createDataFrame(
        [("HS-001", "Nguyễn Văn An", "074123456789", "0912345678", "an@gmail.com", None, "Cấp phép")],
        "MaHoSo string, ChuHoSo string, SoGiayTo string, SoDienThoai string, Email string, "
        "NgayTra string, `TenTTHC.ghi chu` string",
    )
    kinds = {"ChuHoSo": "name", "SoGiayTo": "citizen_id", "SoDienThoai": "phone", "Email": "email"}
    payload_text = df.select(mask_json_payload(df, kinds).alias("payload")).first().payload
    payload = json.loads(payload_text)

    assert payload == {
        "MaHoSo": "HS-001",
        "ChuHoSo": "N. V. A.",
        "SoGiayTo": "*********789",
        "SoDienThoai": "*******678",
        "Email": "a***@gmail.com",
        "NgayTra": None,
        "TenTTHC.ghi chu": "Cấp phép",
    }
    for raw in ("Nguyễn", "074123456789", "0912345678", "an@gmail.com"):
        assert raw not in payload_text


def test_quarantine_payload_of_standardised_rows_comes_from_the_delivered_strings(spark):
    standardised = spark.createDataFrame(
        [(("HS-9", "0912345678", None), PSEUDONYM_OF_SOMEONE, ("x",))],
        "_raw struct<MaHoSo:string,SoDienThoai:string,Email:string>, phone_pseudonym string, "
        "other struct<a:string>",
    )
    payload = standardised.select(mask_json_payload(standardised, {"SoDienThoai": "phone"}).alias("j"))
    assert json.loads(payload.first().j) == {"MaHoSo": "HS-9", "SoDienThoai": "*******678", "Email": None}

    # A dataset without personal data gets the same record shape.
    assert json.loads(standardised.select(mask_json_payload(standardised, {})).first()[0])["MaHoSo"] == "HS-9"
    only_code = standardised.select(mask_json_payload(standardised, {"SoDienThoai": "phone"}, ["MaHoSo"]))
    assert json.loads(only_code.first()[0]) == {"MaHoSo": "HS-9"}
    other = standardised.select(mask_json_payload(standardised, {}, record_column="other"))
    assert json.loads(other.first()[0]) == {"a": "x"}


def test_quarantine_payload_rejects_columns_it_cannot_find(spark):
    df = spark.createDataFrame([("a",)], "MaHoSo string")
    with pytest.raises(ValueError, match="SoDienThoai"):
        mask_json_payload(df, {"SoDienThoai": "phone"})
    with pytest.raises(ValueError, match="Email"):
        mask_json_payload(df, {}, columns=["MaHoSo", "Email"])
    with pytest.raises(ValueError, match="not a struct column"):
        mask_json_payload(df, {}, record_column="MaHoSo")


def test_key_file_path_default(tmp_path: Path):
    assert pii.default_key_path(str(tmp_path)) == tmp_path / "_private" / "pii.key"
    assert pii.default_key_path(f"file://{tmp_path}") == tmp_path / "_private" / "pii.key"
