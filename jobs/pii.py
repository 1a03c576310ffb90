"""Personal data: the pseudonymisation key, keyed pseudonyms, masks for quarantine payloads (DESIGN.md §7).

Silver replaces citizen ID numbers, phone numbers, e-mails and names with an HMAC-SHA256 pseudonym of their
normalised form, so one person gets one pseudonym across agencies (analysts can count and join) while the
identity cannot be read back without the key. Quarantine payloads keep the record readable for a quality
officer but show identifiers masked (last digits, initials, e-mail domain).

The key: `GOVLAKE_PII_KEY` (64 hex characters) → the key file named by `GOVLAKE_PII_KEY_FILE` →
`<lake>/_private/pii.key`, created on first run with owner-only permissions. Losing or replacing it breaks
every join on pseudonyms with data written before, so the platform never silently makes a second one.

Caution: HMAC runs on Spark built-ins, so the key-derived pads are literals of the query plan. Anything that
prints a plan or a column holding a pseudonym expression (`explain()`, `repr(column)`, the Spark UI's SQL tab,
an event log, some analysis errors) shows them, and they give the key back by a XOR. Keep the Spark UI and
event logs off or restricted to the platform's operators, never log plans of pseudonymising queries, and
set `spark.sql.redaction.string.regex` to `(?i)[0-9a-f]{128}`, which blanks the pads in explain output.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import stat
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from jobs.contracts import PII_KINDS
from jobs.identifiers import citizen_id_digits, mobile_normalised
from jobs.quality import RAW
from jobs.text import match_key

logger = logging.getLogger(__name__)

KEY_BYTES = 32
KEY_HEX_CHARACTERS = 2 * KEY_BYTES
KEY_DIRECTORY = "_private"
KEY_FILE_NAME = "pii.key"
HMAC_BLOCK_BYTES = 64  # SHA-256 block size: the key is zero-padded to it (RFC 2104)

# A key file another process has just created may be empty for an instant (created, not yet written).
_KEY_FILE_READ_ATTEMPTS = 20
_KEY_FILE_RETRY_SECONDS = 0.05

# The umask is per process: threads creating the key at once must not restore each other's saved value.
_umask_lock = threading.Lock()

# Blanks around e-mails and names, spelled out because Java's \s misses NBSP and other Unicode spaces.
_EDGE_BLANKS = r"^[\s\u00a0\u2007\u202f\u3000]+|[\s\u00a0\u2007\u202f\u3000]+$"
_BLANK_RUN = r"[\s\u00a0\u2007\u202f\u3000]+"


class PiiKeyError(ValueError):
    """The pseudonymisation key is missing, malformed or unusable. Messages never contain key material."""


class PiiKey:
    """The secret behind pseudonyms. Printing, logging, formatting or pickling it never shows the secret.

    `key_id` (first 8 hex characters of the key's SHA-256) identifies the key in lineage and logs; the raw
    bytes are returned only by `reveal_secret_bytes()`.
    """

    __slots__ = ("_secret", "key_id", "source")
    _secret: bytes
    key_id: str
    source: str

    def __init__(self, secret: bytes, source: str) -> None:
        if len(secret) != KEY_BYTES:
            raise PiiKeyError(f"a PII key must be {KEY_BYTES} bytes, got {len(secret)} (from {source})")
        object.__setattr__(self, "_secret", bytes(secret))
        object.__setattr__(self, "key_id", hashlib.sha256(secret).hexdigest()[:8])
        object.__setattr__(self, "source", source)

    def reveal_secret_bytes(self) -> bytes:
        """The raw key. Only HMAC computation should ever call this."""
        return self._secret

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("a PiiKey cannot be changed")

    def __repr__(self) -> str:
        return f"PiiKey(key_id={self.key_id!r}, source={self.source!r})"

    __str__ = __repr__

    def __format__(self, format_spec: str) -> str:
        return format(repr(self), format_spec)

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        # Pickles end up in files and caches (Prefect results, Spark closures).
        raise TypeError(
            "a PiiKey cannot be pickled; pass the key by GOVLAKE_PII_KEY or GOVLAKE_PII_KEY_FILE instead"
        )

    def __copy__(self) -> PiiKey:
        return self  # immutable

    def __deepcopy__(self, memo: dict[int, object]) -> PiiKey:
        return self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PiiKey):
            return NotImplemented
        return hmac.compare_digest(self._secret, other._secret)

    def __hash__(self) -> int:
        return hash(self.key_id)


def parse_key_hex(text: str, origin: str) -> bytes:
    """32 key bytes from 64 hex characters; the error says what is wrong without echoing the value."""
    compact = text.strip()
    if len(compact) != KEY_HEX_CHARACTERS:
        raise PiiKeyError(
            f"{origin}: a PII key must be {KEY_HEX_CHARACTERS} hexadecimal characters (32 bytes), "
            f"found {len(compact)} characters"
        )
    try:
        return bytes.fromhex(compact)
    except ValueError:
        raise PiiKeyError(
            f"{origin}: a PII key must contain only hexadecimal characters 0-9 and a-f"
        ) from None


def default_key_path(lake_uri: str) -> Path:
    """`<lake>/_private/pii.key`; only a lake on the local filesystem can hold a file with owner-only mode."""
    if "://" in lake_uri and not lake_uri.startswith("file://"):
        raise PiiKeyError(
            f"the lake root {lake_uri} is not a local path, so no key file can be created in it: set "
            "GOVLAKE_PII_KEY or point GOVLAKE_PII_KEY_FILE at a key file on this machine"
        )
    return Path(lake_uri.removeprefix("file://")) / KEY_DIRECTORY / KEY_FILE_NAME


def load_or_create_key(lake_uri: str, key_hex: str | None = None, key_file: str | None = None) -> PiiKey:
    """The pseudonymisation key: `key_hex` (from GOVLAKE_PII_KEY), else `key_file`, else the lake's key file.

    Only the lake's default key file is created when missing. A configured key file that does not exist is an
    error: a fresh key there would silently give every person a new pseudonym.
    """
    if key_hex:
        return PiiKey(parse_key_hex(key_hex, "GOVLAKE_PII_KEY"), source="GOVLAKE_PII_KEY")
    if key_file:
        path = Path(key_file.removeprefix("file://")).expanduser()
        if not path.is_file():
            raise PiiKeyError(
                f"GOVLAKE_PII_KEY_FILE names {path}, which does not exist; restore that file (pseudonyms made"
                " with a new key would not match existing ones) or unset it to use <lake>/_private/pii.key"
            )
        return _read_key_file(path)
    path = default_key_path(lake_uri)
    if path.exists():
        return _read_key_file(path)
    return _create_key_file(path)


def _read_key_file(path: Path) -> PiiKey:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        logger.warning(
            "PII key file %s can be read by other users (mode %03o); restrict it with: chmod 600 %s",
            path,
            mode,
            path,
        )
    content = ""
    for _ in range(_KEY_FILE_READ_ATTEMPTS):
        content = path.read_text(encoding="ascii", errors="replace").strip()
        if content:
            break
        time.sleep(_KEY_FILE_RETRY_SECONDS)
    return PiiKey(parse_key_hex(content, f"PII key file {path}"), source=f"key file {path}")


def _create_key_file(path: Path) -> PiiKey:
    """Write a new random key to `path` (0600 in a 0700 directory), never readable by others, even briefly."""
    # The lake root itself keeps ordinary permissions: it is created before the restrictive umask applies.
    path.parent.parent.mkdir(parents=True, exist_ok=True)
    with _umask_lock:
        created = _write_new_key_file(path)
    if created is None:
        # Another process or thread of the same first run won the race: use its key, not a second one.
        return _read_key_file(path)
    logger.warning(
        "Created a new PII pseudonymisation key (key_id %s) at %s; back it up, pseudonyms depend on it",
        created.key_id,
        path,
    )
    return created


def _write_new_key_file(path: Path) -> PiiKey | None:
    """The new key, or None when the file already exists (O_EXCL: an existing key is never overwritten)."""
    secret = secrets.token_bytes(KEY_BYTES)
    # Explicit modes already exclude group and others; the umask also covers anything created on the way.
    # It is process-wide, so it is restored right after (a few milliseconds, under `_umask_lock`).
    previous_umask = os.umask(0o077)
    try:
        path.parent.mkdir(mode=0o700, exist_ok=True)
        if stat.S_IMODE(path.parent.stat().st_mode) & 0o077:
            os.chmod(path.parent, 0o700)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            descriptor = os.open(path, flags, 0o600)
        except FileExistsError:
            return None
        try:
            os.fchmod(descriptor, 0o600)
            os.write(descriptor, (secret.hex() + "\n").encode("ascii"))
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    finally:
        os.umask(previous_umask)
    return PiiKey(secret, source=f"key file {path}")


def _hmac_pads_hex(key: PiiKey) -> tuple[str, str]:
    block = key.reveal_secret_bytes().ljust(HMAC_BLOCK_BYTES, b"\x00")
    inner_pad = bytes(byte ^ 0x36 for byte in block)
    outer_pad = bytes(byte ^ 0x5C for byte in block)
    return inner_pad.hex(), outer_pad.hex()


def _as_column(col: Column | str) -> Column:
    return F.col(col) if isinstance(col, str) else col


def _check_kind(kind: str) -> None:
    if kind not in PII_KINDS:
        raise ValueError(f"unknown PII kind {kind!r}; expected one of {PII_KINDS}")


def pseudonym(col: Column | str, key: PiiKey) -> Column:
    """HMAC-SHA256 (hex) of the value's UTF-8 bytes, on Spark built-ins (no Python on executors). Null → null.

    HMAC(K, m) = H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m)), the pads computed here from the key.
    """
    inner_pad_hex, outer_pad_hex = _hmac_pads_hex(key)
    message = F.encode(_as_column(col).cast("string"), "UTF-8")
    inner_hash_hex = F.sha2(F.concat(F.unhex(F.lit(inner_pad_hex)), message), 256)
    return F.sha2(F.concat(F.unhex(F.lit(outer_pad_hex)), F.unhex(inner_hash_hex)), 256)


def _digits_only(col: Column) -> Column:
    return F.regexp_replace(col.cast("string"), "[^0-9]", "")


def pii_normal_form(kind: str, col: Column | str) -> Column:
    """The form that is hashed: one spelling per person and kind; null when nothing identifying is left.

    citizen_id: the number without separators (a 9-digit CMND and the 12-digit CCCD of the same person stay
    different: no public mapping links them). phone: '0' + 9 digits for a mobile number in any spelling, else
    the digits alone. email: trimmed, lower-cased. name: the accent-free, tone-placement-unified match key.
    Empty results are null so that blank or junk values never share one pseudonym.
    """
    _check_kind(kind)
    value = _as_column(col)
    if kind == "citizen_id":
        normal = citizen_id_digits(value)
    elif kind == "phone":
        normal = F.coalesce(mobile_normalised(value), _digits_only(value))
    elif kind == "email":
        normal = F.lower(F.regexp_replace(value, _EDGE_BLANKS, ""))
    else:
        normal = match_key(value)
    return F.when(normal != "", normal)


def pseudonymise_pii(kind: str, col: Column | str, key: PiiKey) -> Column:
    """64-hex pseudonym of the normalised identifier (see `pii_normal_form`); null for null or blank."""
    return pseudonym(pii_normal_form(kind, col), key)


def _stars(count: Column) -> Column:
    return F.lpad(F.lit(""), count, "*")


def mask_identifier(kind: str, col: Column | str) -> Column:
    """What a quality officer may see of an identifier: enough to ask the agency to fix it, not the identity.

    citizen_id: '*' for all but the last 3 digits, at most 12 characters ('*********789', '******789').
    phone: '*******' + last 3 digits. email: first character + '***@' + domain ('n***@gmail.com').
    name: initials ('N. V. A.'). The last digits are shown only when at least 6 digits are present (fewer
    digits are not an identifier anyway, and 3 of them would reveal most of the value). Null stays null.
    """
    _check_kind(kind)
    value = _as_column(col).cast("string")
    return F.when(value.isNotNull(), _masked_value(kind, value))


def _masked_value(kind: str, value: Column) -> Column:
    if kind in ("citizen_id", "phone"):
        digits = _digits_only(value)
        digit_count = F.length(digits)
        shown = F.when(digit_count >= 6, F.substring(digits, -3, 3)).otherwise(F.lit(""))
        if kind == "citizen_id":
            return F.lpad(shown, F.least(digit_count, F.lit(12)), "*")
        return F.when(digit_count == 0, F.lit("")).otherwise(F.concat(_stars(F.lit(7)), shown))
    if kind == "email":
        trimmed = F.regexp_replace(value, _EDGE_BLANKS, "")
        first = F.substring(trimmed, 1, 1)
        domain = F.substring_index(trimmed, "@", -1)
        return (
            F.when(trimmed == "", F.lit(""))
            .when(trimmed.contains("@"), F.concat(first, F.lit("***@"), domain))
            .otherwise(F.concat(first, F.lit("***")))
        )
    words = F.split(F.regexp_replace(value, _EDGE_BLANKS, ""), _BLANK_RUN)
    # First letter or digit of each word; words of punctuation only give nothing.
    initials = F.transform(words, lambda word: F.upper(F.regexp_extract(word, r"([\p{L}\p{N}])", 1)))
    kept = F.filter(initials, lambda initial: initial != "")
    return F.array_join(F.transform(kept, lambda initial: F.concat(initial, F.lit("."))), " ")


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _source_record(df: DataFrame, record_column: str | None) -> tuple[str | None, list[str]]:
    """(struct column or None for top level, names of the source columns)."""
    if record_column is None and RAW in df.columns:
        record_column = RAW
    if record_column is None:
        return None, list(df.columns)
    if record_column not in df.columns or not isinstance(df.schema[record_column].dataType, StructType):
        raise ValueError(f"record column {record_column!r} is not a struct column of {df.columns}")
    record_type = df.schema[record_column].dataType
    assert isinstance(record_type, StructType)
    return record_column, record_type.fieldNames()


def mask_json_payload(
    df: DataFrame,
    pii_columns: Mapping[str, str],
    columns: Sequence[str] | None = None,
    record_column: str | None = None,
) -> Column:
    """The quarantine payload: JSON of every source column, the PII ones (name → kind) masked.

    The source columns are the fields of `record_column` when given; else, for standardised rows, the
    fields of their `_raw` struct of delivered strings; else the DataFrame's columns. `columns` limits the
    payload to some of them. Nulls are kept as JSON nulls, so the officer sees every delivered column.
    Pure expression: nothing is read or computed here.
    """
    for kind in pii_columns.values():
        _check_kind(kind)
    struct_name, available = _source_record(df, record_column)
    missing = [name for name in [*pii_columns, *(columns or [])] if name not in available]
    if missing:
        raise ValueError(f"columns {missing} are not among the source columns {available}")
    selected = list(columns) if columns is not None else available
    prefix = f"{_quoted(struct_name)}." if struct_name else ""
    fields = []
    for name in selected:
        source = F.col(prefix + _quoted(name))
        value = mask_identifier(pii_columns[name], source) if name in pii_columns else source
        fields.append(value.alias(name))
    return F.to_json(F.struct(*fields), {"ignoreNullFields": "false"})
