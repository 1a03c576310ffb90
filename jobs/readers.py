"""Readers: landing files as agencies deliver them → DataFrames of strings with record numbers.

Every reader returns one column per source header (renamed to the contract's canonical names where an
alias matches), all values as strings, plus `_source_row` (1-based record number in file order),
`_corrupt_record` (the raw text of a record that could not be parsed, else null) and `_repairs` (the
columns whose value looks like mis-decoded Vietnamese, with the encoding that repairs it; see below).

Formats: CSV, JSON lines, JSON arrays (`[{…}, {…}]`), XLSX.

Damaged files. A CSV's delimiter (`,`, `;` or tab) is the one that yields the most known headers; a line
with more or fewer fields than the header keeps its text in `_corrupt_record`; a quote never closed rejects
the file. JSON nested deeper than MAX_JSON_DEPTH is rejected before Spark infers its schema. A record with
a NUL byte, an undecodable byte or an Excel error value is marked in `_corrupt_record` (quarantined as
unparseable). A file named .xlsx is judged by its content (`_workbook_content`): an encrypted workbook is
rejected with what to do, CSV text is read as CSV where the dataset accepts CSV.

Encodings (CSV). The encoding of each file is detected from its first bytes (`detect_file_encoding`) and
recorded as `RawBatch.encoding` (provenance column `_source_encoding`): UTF-8 with or without BOM and UTF-16
are read by Spark itself. Spark 4 refuses other charsets unless `spark.sql.legacy.javaCharsets` is set, and
has no decoder at all for the Vietnamese font encodings, so TCVN3 (ABC), VNI-Windows and Windows-1258 files
are decoded by the platform (`jobs.legacy_encoding`, Python's cp1258 codec) in chunks into a UTF-8 staging
copy under `<lake>/_private/staging/<dataset>/` (owner-only) that Spark then reads. Windows-1258 writes tones
as combining marks: the text is decoded exactly, and standardisation brings it to NFC. The staging copy must
outlive the lazy read until bronze is written: `RawBatch.release()` (or `with read_delivery(...) as raw:`)
deletes it afterwards. XLSX rows are streamed from openpyxl's read-only mode into such a staging file too,
so no file is ever held whole in driver memory.

Mis-decoded values (mojibake) in otherwise good files, such as a name typed in a TCVN3 font and pasted into a
UTF-8 export ("Thñ DÇu Mét"), stay in bronze as delivered. `with_repairs` lists them in `_repairs`
(column, encoding), and standardisation takes the repaired text through `repaired_text(column)`.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import fnmatch
import functools
import hashlib
import json
import os
import re
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.contracts import Contract
from jobs.legacy_encoding import decode_tcvn3, decode_vni, detect_encoding, repair_mojibake
from jobs.text import match_key_text

CORRUPT_RECORD = "_corrupt_record"
SOURCE_ROW = "_source_row"
REPAIRS = "_repairs"
REPAIRS_TYPE = T.ArrayType(
    T.StructType([T.StructField("column", T.StringType()), T.StructField("encoding", T.StringType())])
)
HEADER_SEARCH_ROWS = 20  # spreadsheets put titles above the header; look this far down for it
DELIVERY_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Bytes looked at to detect a file's encoding; cut back to a line end so no character is split.
ENCODING_SAMPLE_BYTES = 256 * 1024
# Bytes decoded at a time into a staging copy (whole lines only, so no letter or word is split).
STAGING_CHUNK_BYTES = 1 << 20
LONG_LINE_CHUNKS = 16
STAGING_DIRECTORY = Path("_private", "staging")
# Charsets Spark 4 reads without the legacy-charsets switch, by detected encoding.
SPARK_CHARSETS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8",
    "utf-16": "UTF-16",
    "utf-16-le": "UTF-16LE",
    "utf-16-be": "UTF-16BE",
}
STAGED_ENCODINGS = ("tcvn3", "vni-windows", "windows-1258")
CSV_DELIMITERS = (",", ";", "\t")  # comma first: it wins a tie
MAX_JSON_DEPTH = 32
OLE_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")
EXCEL_ERROR_VALUES = frozenset(
    ("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA", "#SPILL!", "#CALC!")
)
# The staged copy's key for a row's Excel error values (Spark's JSON reader owns `_corrupt_record`).
EXCEL_ERRORS = "_excel_errors"
DAMAGED_TEXT = r"[\x00\x{FFFD}]"  # Java regex: NUL, or the replacement character of an undecodable byte
JSON_DIAGNOSIS_BYTES = 64 << 20
# A text can be mojibake only if it holds characters Windows-1252 shows for bytes 0x80-0xFF.
MOJIBAKE_CANDIDATE = (
    "[\u0080-\u00ff\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013-\u2122]"
)


class FileRejected(Exception):
    """A delivered file cannot be taken in; it stays in landing and the run reports the reason."""


@dataclass(frozen=True)
class Delivery:
    """One file found in landing/<agency>/<dataset>/<yyyy-mm-dd>/."""

    dataset: str
    agency: str
    delivery_date: str
    path: str
    relative_path: str
    size_bytes: int
    sha256: str
    problem: str | None = None
    landing_root: str = ""


@dataclass
class RawBatch:
    """One delivered file as a lazy DataFrame of strings, with how it was decoded.

    `staging_path` is the decoded copy Spark reads for files it cannot decode itself; it must exist until
    the frame has been written, then `release()` removes it (the batch is also a context manager).
    """

    frame: DataFrame
    encoding: str
    extra_columns: list[str] = field(default_factory=list)
    staging_path: str | None = None

    def release(self) -> None:
        if self.staging_path:
            Path(self.staging_path).unlink(missing_ok=True)
            self.staging_path = None

    def __enter__(self) -> RawBatch:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def file_sha256(path: str, chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def discover_deliveries(landing_root: str, contract: Contract) -> list[Delivery]:
    """Files delivered for a dataset, in delivery-date then name order; unusable ones carry a problem."""
    dataset_dir = Path(landing_root, contract.agency, contract.dataset)
    if not dataset_dir.is_dir():
        return []
    landing_real = Path(landing_root).resolve()
    found: list[Delivery] = []
    for date_dir in sorted(p for p in dataset_dir.iterdir() if p.is_dir()):
        for path in sorted(date_dir.iterdir()):
            if path.name.startswith(".") or path.is_dir():
                continue
            relative = str(path.relative_to(landing_root))
            problem = None
            if not DELIVERY_DATE.match(date_dir.name):
                problem = f"folder {date_dir.name!r} is not a delivery date (yyyy-mm-dd)"
            elif path.is_symlink() and not path.resolve().is_relative_to(landing_real):
                problem = "symbolic link pointing outside landing: refused"
            elif not any(fnmatch.fnmatch(path.name.lower(), pattern) for pattern in contract.file_patterns):
                accepted = ", ".join(contract.file_patterns)
                problem = f"file type not accepted for {contract.dataset}; expected {accepted}"
            try:
                size = path.stat().st_size
                digest = file_sha256(str(path)) if problem is None else ""
            except OSError as error:  # removed or unreadable while the run looked at it
                size, digest, problem = 0, "", f"cannot read file: {error.strerror}"
            if problem is None and size == 0:
                problem = "file is empty (0 bytes)"
            found.append(
                Delivery(
                    contract.dataset,
                    contract.agency,
                    date_dir.name,
                    str(path),
                    relative,
                    size,
                    digest,
                    problem,
                    str(landing_root),
                )
            )
    return found


def canonical_column_names(headers: list[str], contract: Contract) -> tuple[list[str], list[str]]:
    """Map delivered headers to canonical names. Returns (names in header order, headers not in contract)."""
    by_key: dict[str, str] = {}
    for f in contract.fields:
        for alias in (f.name, *f.aliases):
            if alias_key := match_key_text(alias):
                by_key[alias_key] = f.name
    names, extras = [], []
    for header in headers:
        key = match_key_text(header or "")
        if key in by_key:
            names.append(by_key[key])
        else:
            spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", header or "")  # GhiChu -> Ghi Chu
            extra = re.sub(r"[^0-9a-z]+", "_", match_key_text(spaced) or "").strip("_") or "unnamed"
            names.append(extra)
            extras.append(header)
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise FileRejected(f"header names repeat after alias matching: {', '.join(duplicated)}")
    return names, extras


def check_required_columns(names: list[str], contract: Contract, delivery: Delivery) -> None:
    missing = [f.name for f in contract.required_fields if f.name not in names]
    if missing:
        expected = ", ".join(f"{m} (e.g. header {contract.field(m).aliases[0]!r})" for m in missing)
        raise FileRejected(f"{delivery.relative_path}: required column(s) missing: {expected}")


def with_record_numbers(df: DataFrame) -> DataFrame:
    """Add `_source_row`, the 1-based record number in file order, without a Python round trip.

    Record order is partition order; monotonically_increasing_id restarts its low bits per partition, so
    per-partition counts (one small job, skipped for single-partition files) give each partition's offset.
    """
    indexed = df.withColumns({"_partition": F.spark_partition_id(), "_mono": F.monotonically_increasing_id()})
    if df.rdd.getNumPartitions() <= 1:
        return indexed.withColumn(SOURCE_ROW, F.col("_mono") + 1).drop("_partition", "_mono")
    counts = sorted((r["_partition"], r["count"]) for r in indexed.groupBy("_partition").count().collect())
    offsets, running = [], 0
    for partition, count in counts:
        offsets += [F.lit(partition), F.lit(running)]
        running += count
    offset = F.create_map(*offsets)[F.col("_partition")]
    local_index = F.col("_mono") - F.shiftleft(F.col("_partition").cast("long"), 33)
    return indexed.withColumn(SOURCE_ROW, offset + local_index + 1).drop("_partition", "_mono")


# ---------------------------------------------------------------------------------------------------------
# Encodings and the staging copy
# ---------------------------------------------------------------------------------------------------------


def _bomless_utf16(sample: bytes) -> str | None:
    """'utf-16-le' / 'utf-16-be' for UTF-16 text without a byte-order mark: mostly-ASCII text then has a zero
    byte in every other position."""
    window = sample[:4096]
    pairs = len(window) // 2
    if pairs < 8:
        return None
    high_zero = sum(window[i] == 0 for i in range(1, 2 * pairs, 2))
    low_zero = sum(window[i] == 0 for i in range(0, 2 * pairs, 2))
    if high_zero >= 0.4 * pairs and low_zero == 0:
        return "utf-16-le"
    if low_zero >= 0.4 * pairs and high_zero == 0:
        return "utf-16-be"
    return None


def detect_file_encoding(path: str, sample_bytes: int = ENCODING_SAMPLE_BYTES) -> str:
    """The encoding of a delivered text file, from its first `sample_bytes` (see `detect_encoding`)."""
    with open(path, "rb") as handle:
        sample = handle.read(sample_bytes)
        truncated = bool(handle.read(1))
    if sample.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return detect_encoding(sample)
    utf16 = _bomless_utf16(sample)
    if utf16:
        return utf16
    if truncated and b"\n" in sample:
        sample = sample[: sample.rindex(b"\n") + 1]  # a multi-byte character may be cut at the end
    return detect_encoding(sample)


def _line_chunks(handle: IO[bytes], chunk_bytes: int) -> Iterator[bytes]:
    """The file in pieces of about `chunk_bytes` that end at a line end (the last piece may not).

    A line longer than `LONG_LINE_CHUNKS` chunks is cut after a comma instead, so memory stays bounded; no
    legacy letter contains a comma byte, so no letter is split.
    """
    carry = b""
    while block := handle.read(chunk_bytes):
        block = carry + block
        end = block.rfind(b"\n")
        if end < 0 and len(block) >= LONG_LINE_CHUNKS * chunk_bytes:
            end = block.rfind(b",")
        if end < 0:
            carry = block
            continue
        carry = block[end + 1 :]
        yield block[: end + 1]
    if carry:
        yield carry


def _decoder(encoding: str) -> Callable[[bytes], str]:
    if encoding == "tcvn3":
        return decode_tcvn3
    if encoding == "vni-windows":
        return decode_vni
    if encoding == "windows-1258":
        return lambda chunk: chunk.decode("cp1258", errors="replace")
    if encoding in ("utf-8", "utf-8-sig"):  # staged only to even out mixed line endings
        return lambda chunk: chunk.decode("utf-8", errors="replace")
    raise ValueError(f"no staging decoder for {encoding!r}")


def default_staging_root(delivery: Delivery) -> Path:
    """`<lake>/_private/staging`, the lake being the parent of the landing root."""
    landing = delivery.landing_root or delivery.path[: -len(delivery.relative_path)].rstrip("/")
    return Path(landing).parent / STAGING_DIRECTORY


def _owner_only_directory(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


@contextlib.contextmanager
def _staging_file(staging_root: Path, delivery: Delivery, suffix: str) -> Iterator[tuple[Path, IO[bytes]]]:
    """A new owner-only file for this delivery's decoded copy; removed again if writing fails."""
    folder = _owner_only_directory(Path(staging_root) / delivery.dataset)
    name = delivery.sha256 or hashlib.sha256(delivery.relative_path.encode("utf-8")).hexdigest()
    path = folder / f"{name}{suffix}"
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            yield path, stream
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def stage_decoded_copy(
    delivery: Delivery, encoding: str, staging_root: Path, one_line_end: bool = False
) -> Path:
    """Decode a text file chunk by chunk into a UTF-8 staging copy; returns its path.

    `one_line_end` turns every '\\r\\n' and lone '\\r' into '\\n' (for files that mix them).
    """
    decode = _decoder(encoding)
    with (
        _staging_file(staging_root, delivery, ".csv") as (path, stream),
        open(delivery.path, "rb") as source,
    ):
        for chunk in _line_chunks(source, STAGING_CHUNK_BYTES):
            text = decode(chunk)
            if one_line_end:
                text = text.replace("\r\n", "\n").replace("\r", "\n")
            stream.write(text.encode("utf-8"))
    return path


# ---------------------------------------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------------------------------------


def _starts_a_json_array(path: str) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(4096).lstrip(codecs.BOM_UTF8).lstrip()
    return head.startswith(b"[")


_JSON_STRUCTURE = re.compile(rb'[][{}"\\]')


def json_nesting_depth(path: str, limit: int, chunk_bytes: int = STAGING_CHUNK_BYTES) -> int:
    """How deep objects and arrays nest in a JSON (lines) file, counted up to `limit` + 1 (then it stops).

    Spark's schema inference slows down steeply with depth (300 levels take minutes), so it is measured
    first, outside strings, in one streamed pass.
    """
    depth = deepest = base = 0
    in_string, escaped_at = False, -1
    with open(path, "rb") as handle:
        while block := handle.read(chunk_bytes):
            for match in _JSON_STRUCTURE.finditer(block):
                char, at = match.group(), base + match.start()
                if at == escaped_at:  # the character after a backslash inside a string
                    continue
                if in_string:
                    if char == b"\\":
                        escaped_at = at + 1
                    elif char == b'"':
                        in_string = False
                elif char == b'"':
                    in_string = True
                elif char in b"[{":
                    depth += 1
                    deepest = max(deepest, depth)
                    if deepest > limit:
                        return deepest
                elif char in b"]}":
                    depth = max(depth - 1, 0)
            base += len(block)
    return deepest


def _json_syntax_problem(path: str) -> str:
    """Where a JSON array file stops being JSON (it is parsed whole, so a file this small is fine)."""
    if os.path.getsize(path) > JSON_DIAGNOSIS_BYTES:
        return "not valid JSON"
    try:
        json.loads(Path(path).read_bytes().decode("utf-8", errors="replace").lstrip("\ufeff"))
    except json.JSONDecodeError as error:
        return f"not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}"
    return "no JSON object in it"


def json_field_as_text(frame: DataFrame, header: str) -> Column:
    """A parsed JSON field as bronze keeps it: text; a nested value (a list of supplementation requests)
    as its JSON, which a plain cast would print without its keys."""
    nested = isinstance(frame.schema[header].dataType, T.ArrayType | T.StructType | T.MapType)
    return F.to_json(F.col(f"`{header}`")) if nested else F.col(f"`{header}`").cast("string")


def read_json(spark: SparkSession, delivery: Delivery, contract: Contract) -> RawBatch:
    """JSON lines, or one JSON array of records (parsed as a whole, records in file order)."""
    depth = json_nesting_depth(delivery.path, MAX_JSON_DEPTH)
    if depth > MAX_JSON_DEPTH:
        raise FileRejected(
            f"{delivery.relative_path}: JSON nested more than {MAX_JSON_DEPTH} levels deep; records must be "
            "flat objects (a nested value may hold a few levels)"
        )
    reader = (
        spark.read.option("primitivesAsString", "true")
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT_RECORD)
        .option("encoding", "UTF-8")
    )
    if _starts_a_json_array(delivery.path):
        reader = reader.option("multiLine", "true")
    df = reader.json(delivery.path)
    source_headers = [c for c in df.columns if c != CORRUPT_RECORD]
    if not source_headers:
        problem = (
            _json_syntax_problem(delivery.path)
            if _starts_a_json_array(delivery.path)
            else "no line is a JSON object"
        )
        raise FileRejected(f"{delivery.relative_path}: no JSON record could be parsed ({problem})")
    names, extras = canonical_column_names(source_headers, contract)
    check_required_columns(names, contract, delivery)

    renamed = df.select(
        *[json_field_as_text(df, h).alias(n) for h, n in zip(source_headers, names, strict=True)],
        (F.col(CORRUPT_RECORD) if CORRUPT_RECORD in df.columns else F.lit(None).cast("string")).alias(
            CORRUPT_RECORD
        ),
    )
    return RawBatch(with_record_numbers(renamed), "utf-8", extras)


def _line_ending_kinds(path: str, chunk_bytes: int = STAGING_CHUNK_BYTES) -> set[str]:
    """Which line endings a text file uses: '\\r\\n', '\\n' and/or a lone '\\r'."""
    kinds: set[str] = set()
    with open(path, "rb") as handle:
        previous = b""
        while block := handle.read(chunk_bytes):
            block = previous[-1:] + block  # a CR LF pair may straddle two blocks
            crlf = block.count(b"\r\n")
            if crlf:
                kinds.add("\r\n")
            if block.count(b"\n") > crlf:
                kinds.add("\n")
            if block.count(b"\r") > crlf and not block.endswith(b"\r"):
                kinds.add("\r")
            previous = block
    if previous.endswith(b"\r"):
        kinds.add("\r")
    return kinds


def _unclosed_quote_line(text_lines: Iterable[str], delimiter: str) -> int | None:
    """The line where a quoted value opens that the file never closes, else None.

    Only called when the file holds an odd number of quote characters, which any such value implies.
    """
    reader = csv.reader(text_lines, delimiter=delimiter, strict=True)
    started = 1
    try:
        for _ in reader:
            started = reader.line_num + 1
    except csv.Error as error:
        if "unexpected end of data" in str(error):
            return started
    return None


def _text_lines(path: str, encoding: str) -> Generator[str]:
    python_codec = "utf-8" if encoding in ("utf-8", "utf-8-sig") else encoding
    with open(path, encoding=python_codec, errors="replace", newline="") as handle:
        yield from handle


def _csv_header(path: str, encoding: str, contract: Contract) -> tuple[list[str], str]:
    """The header cells and the delimiter (',', ';' or tab: the one that yields the most known headers)."""
    with contextlib.closing(_text_lines(path, encoding)) as lines:
        first = next(lines, "").lstrip("\ufeff").rstrip("\r\n")
    known = {match_key_text(a) for f in contract.fields for a in (f.name, *f.aliases)}
    best: tuple[int, list[str], str] = (-1, [], ",")
    for delimiter in CSV_DELIMITERS:
        cells = next(csv.reader([first], delimiter=delimiter), [])
        score = sum(match_key_text(c) in known for c in cells if c)
        if score > best[0]:
            best = (score, cells, delimiter)
    cells = [c.strip() or f"column {i}" for i, c in enumerate(best[1], start=1)]
    return cells, best[2]


def _count_quotes(path: str, chunk_bytes: int = STAGING_CHUNK_BYTES) -> int:
    quotes = 0
    with open(path, "rb") as handle:
        while block := handle.read(chunk_bytes):
            quotes += block.count(b'"')
    return quotes


def read_csv(spark: SparkSession, delivery: Delivery, contract: Contract, staging_root: Path) -> RawBatch:
    """A CSV file in any supported encoding; legacy ones, and files mixing line endings, through a decoded
    staging copy (Spark takes the first line's ending for the whole file and would merge the others).

    Each line is read against the header's width: a line with fewer or more fields than the header keeps
    its text in `_corrupt_record` (quarantined as unparseable), no value is padded or cut silently.
    """
    encoding = detect_file_encoding(delivery.path)
    mixed_endings = len(_line_ending_kinds(delivery.path)) > 1 and encoding not in (
        "utf-16",
        "utf-16-le",
        "utf-16-be",
    )
    staged = None
    if encoding in STAGED_ENCODINGS or mixed_endings:
        staged = stage_decoded_copy(delivery, encoding, staging_root, one_line_end=mixed_endings)
    source, charset = (str(staged), "UTF-8") if staged else (delivery.path, SPARK_CHARSETS[encoding])
    try:
        headers, delimiter = _csv_header(source, "utf-8" if staged else encoding, contract)
        names, extras = canonical_column_names(headers, contract)
        check_required_columns(names, contract, delivery)
        if _count_quotes(source) % 2 and (
            line := _unclosed_quote_line(_text_lines(source, "utf-8" if staged else encoding), delimiter)
        ):
            raise FileRejected(
                f"{delivery.relative_path}: a quoted value opened on line {line} is never closed, so every "
                "line after it would be read as one value; close the quote (or double quotes inside values) "
                "and deliver the file again"
            )
        schema = T.StructType(
            [T.StructField(n, T.StringType()) for n in names]
            + [T.StructField(CORRUPT_RECORD, T.StringType())]
        )
        df = (
            spark.read.schema(schema)
            .option("header", "true")
            .option("enforceSchema", "true")  # the header was read above; names are positional
            .option("sep", delimiter)
            .option("multiLine", "true")
            .option("escape", '"')
            .option("encoding", charset)
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", CORRUPT_RECORD)
            .csv(source)
        )
    except BaseException:
        if staged:
            staged.unlink(missing_ok=True)
        raise
    return RawBatch(with_record_numbers(df), encoding, extras, str(staged) if staged else None)


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return (
            value.strftime("%Y-%m-%d %H:%M:%S") if value.time() != dt.time() else value.strftime("%Y-%m-%d")
        )
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


# Excel's serial day numbers it can show as dates: 1 = 1900-01-01 … 2958465 = 9999-12-31.
_EXCEL_SERIALS = (1, 2_958_465)


def _date_cell_text(value: object) -> str | None:
    """A date or date-time cell: Excel stores them as serial day numbers, and a cell whose date format was
    lost shows the bare number (45837.34375). It is the same instant: read it as the date it stands for."""
    from openpyxl.utils.datetime import from_excel

    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if is_number and _EXCEL_SERIALS[0] <= value <= _EXCEL_SERIALS[1]:  # type: ignore[operator]
        moment = from_excel(value)
        if isinstance(moment, dt.datetime) and moment.microsecond:
            moment = (moment + dt.timedelta(microseconds=500_000)).replace(microsecond=0)
        return _cell_text(moment)
    return _cell_text(value)


def _sheet_header(rows: Iterator[tuple[Any, ...]], known: set[str | None]) -> list[str] | None:
    for _ in range(HEADER_SEARCH_ROWS):
        row = next(rows, None)
        if row is None:
            return None
        cells = [_cell_text(v) or "" for v in row]
        if sum(match_key_text(c) in known for c in cells if c) >= 2:
            return cells
    return None


def _stage_sheet_rows(
    rows: Iterable[tuple[Any, ...]], names: list[str], converters: list[Callable[[object], str | None]],
    stream: IO[bytes],
) -> None:  # fmt: skip
    """Write the non-empty rows below the header as JSON lines with their record number."""
    width, number = len(names), 0
    for row in rows:
        cells = list(row)[:width]
        values = [convert(v) for convert, v in zip(converters, cells, strict=False)]
        if not any(v is not None for v in values):
            continue
        number += 1
        record: dict[str, object] = dict(
            zip(names, [*values, *([None] * (width - len(values)))], strict=True)
        )
        record[SOURCE_ROW] = number
        errors = [f"{v} in {n}" for n, v in zip(names, cells, strict=False) if v in EXCEL_ERROR_VALUES]
        if errors:  # a formula that failed in Excel: the value it stands for is unknown
            record[EXCEL_ERRORS] = f"Excel error value: {', '.join(errors)}"
        stream.write(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")


def read_xlsx(spark: SparkSession, delivery: Delivery, contract: Contract, staging_root: Path) -> RawBatch:
    """First sheet whose header row matches the contract; title rows above the header are skipped.

    Rows are streamed (openpyxl read-only, cached formula values) into a JSON-lines staging copy.
    """
    import zipfile

    from openpyxl import load_workbook

    try:
        workbook = load_workbook(delivery.path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise FileRejected(f"{delivery.relative_path}: not a readable XLSX workbook ({error})") from None
    try:
        known = {match_key_text(a) for f in contract.fields for a in (f.name, *f.aliases)}
        for sheet in workbook.worksheets:
            rows = sheet.iter_rows(values_only=True)
            header = _sheet_header(rows, known)
            if header is None:
                continue
            width = max(i for i, h in enumerate(header) if h) + 1
            names, extras = canonical_column_names(header[:width], contract)
            check_required_columns(names, contract, delivery)
            dated = {f.name for f in contract.fields if f.type in ("date", "timestamp")}
            converters: list[Callable[[object], str | None]] = [
                _date_cell_text if name in dated else _cell_text for name in names
            ]
            with _staging_file(staging_root, delivery, ".jsonl") as (staged, stream):
                _stage_sheet_rows(rows, names, converters, stream)
            schema = T.StructType(
                [T.StructField(n, T.StringType()) for n in names]
                + [T.StructField(SOURCE_ROW, T.LongType()), T.StructField(EXCEL_ERRORS, T.StringType())]
            )
            frame = (
                spark.read.schema(schema)
                .option("mode", "FAILFAST")
                .json(str(staged))
                .select(
                    *[F.col(f"`{n}`") for n in names], F.col(EXCEL_ERRORS).alias(CORRUPT_RECORD), SOURCE_ROW
                )
            )
            return RawBatch(frame, "xlsx", extras, str(staged))
    finally:
        workbook.close()
    raise FileRejected(
        f"{delivery.relative_path}: no sheet has a header row with the {contract.dataset} columns "
        f"in its first {HEADER_SEARCH_ROWS} rows"
    )


def read_delivery(
    spark: SparkSession, delivery: Delivery, contract: Contract, staging_root: str | Path | None = None
) -> RawBatch:
    """Read one delivered file (records as strings, numbered, repairs listed); see the module docstring.

    `staging_root` defaults to `<lake>/_private/staging`. Call `release()` on the result once it is written.
    """
    suffix = os.path.splitext(delivery.path)[1].lower()
    staging = Path(staging_root) if staging_root else default_staging_root(delivery)
    if suffix == ".xlsx":
        suffix = _workbook_content(delivery, contract)
    if suffix in (".jsonl", ".json", ".ndjson"):
        raw = read_json(spark, delivery, contract)
    elif suffix == ".csv":
        raw = read_csv(spark, delivery, contract, staging)
    elif suffix == ".xlsx":
        raw = read_xlsx(spark, delivery, contract, staging)
    else:
        raise FileRejected(f"{delivery.relative_path}: no reader for {suffix!r} files")
    source_columns = [c for c in raw.frame.columns if c not in (CORRUPT_RECORD, SOURCE_ROW)]
    raw.frame = with_repairs(with_damaged_text_marked(raw.frame, source_columns), source_columns)
    return raw


def _workbook_content(delivery: Delivery, contract: Contract) -> str:
    """What a file named .xlsx really holds, as the suffix of the reader to use; FileRejected if none fits.

    A workbook is a zip. Excel writes a password-protected one as an OLE compound file holding an
    `EncryptedPackage` stream (an old .xls is an OLE file too); text is a CSV export renamed .xlsx.
    """
    with open(delivery.path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(b"PK\x03\x04"):
        return ".xlsx"
    if head == OLE_MAGIC:
        if _holds_utf16_name(delivery.path, "EncryptedPackage"):
            raise FileRejected(
                f"{delivery.relative_path}: the workbook is password-protected (encrypted); remove the "
                "password in Excel (File > Info > Protect Workbook) and deliver it again"
            )
        raise FileRejected(
            f"{delivery.relative_path}: an old Excel 97-2003 (.xls) workbook named .xlsx; save it as .xlsx"
        )
    if b"\x00" not in head and any(fnmatch.fnmatch("x.csv", p) for p in contract.file_patterns):
        return ".csv"  # a CSV export renamed .xlsx: read as the CSV it is (its encoding is detected)
    accepted = ", ".join(contract.file_patterns)
    raise FileRejected(
        f"{delivery.relative_path}: named .xlsx but it is not an Excel workbook (no zip container); "
        f"{contract.dataset} accepts {accepted}"
    )


def _holds_utf16_name(path: str, name: str, chunk_bytes: int = STAGING_CHUNK_BYTES) -> bool:
    needle, tail = name.encode("utf-16-le"), b""
    with open(path, "rb") as handle:
        while block := handle.read(chunk_bytes):
            if needle in tail + block:
                return True
            tail = block[-len(needle) :]
    return False


def with_damaged_text_marked(df: DataFrame, columns: list[str]) -> DataFrame:
    """Records holding a NUL byte or a byte invalid in the file's encoding (decoded as U+FFFD) keep it in
    bronze but are marked unparseable (`_corrupt_record` names the columns), so they go to quarantine
    instead of reaching silver as damaged text."""
    if not columns:
        return df
    damaged = F.concat_ws(", ", *[F.when(F.col(f"`{c}`").rlike(DAMAGED_TEXT), F.lit(c)) for c in columns])
    return df.withColumn(
        CORRUPT_RECORD,
        F.coalesce(
            F.col(CORRUPT_RECORD),
            F.when(damaged != "", F.concat(F.lit("NUL or invalid bytes in: "), damaged)),
        ),
    )


# ---------------------------------------------------------------------------------------------------------
# Mojibake repair
# ---------------------------------------------------------------------------------------------------------


def repairs_of(frame: pd.DataFrame) -> pd.Series:
    """Per row, [{column, encoding}] for the values `repair_mojibake` would change (plain pandas)."""
    found: list[list[dict[str, str]]] = [[] for _ in range(len(frame))]
    for column in frame.columns:
        values = frame[column]
        candidates = values.str.contains(MOJIBAKE_CANDIDATE, regex=True, na=False)
        for position in candidates.to_numpy().nonzero()[0]:
            _, encoding = repair_mojibake(values.iat[position])
            if encoding is not None:
                found[position].append({"column": column, "encoding": encoding})
    return pd.Series(found, index=frame.index)


@functools.cache
def _repairs_udf():  # type: ignore[no-untyped-def]
    return F.pandas_udf(repairs_of, REPAIRS_TYPE)  # type: ignore[call-overload]


def with_repairs(df: DataFrame, columns: list[str]) -> DataFrame:
    """Add `_repairs`: the columns (of `columns`) whose value is mojibake, with the encoding that repairs it.

    The values themselves stay as delivered. One vectorised pass over the row's text columns.
    """
    if not columns:
        return df.withColumn(REPAIRS, F.array().cast(REPAIRS_TYPE))
    text = F.struct(*[F.col(f"`{c}`").cast("string").alias(c) for c in columns])
    return df.withColumn(REPAIRS, _repairs_udf()(text))


def repaired_text(column: str) -> Column:
    """The value of `column` with its mojibake repaired where `_repairs` lists it, else as delivered."""
    return repaired_texts([column])[column]


def repaired_texts(columns: list[str]) -> Column:
    """A struct of `columns` with mojibake repaired where the row's `_repairs` lists the column.

    For standardisation: needs the `_repairs` column of bronze rows. One vectorised pass for all columns;
    rows without repairs pass through untouched.
    """
    delivered = F.struct(*[F.col(f"`{c}`").cast("string").alias(c) for c in columns])
    listed = F.size(F.col(REPAIRS)) > 0
    # Only rows listing a repair carry their text to the Python worker; the rest go as nulls.
    repaired = _repaired_texts_udf(tuple(columns))(F.when(listed, delivered), F.col(REPAIRS))
    return F.when(listed, repaired).otherwise(delivered)


@functools.cache
def _repaired_texts_udf(columns: tuple[str, ...]):  # type: ignore[no-untyped-def]
    def repaired(values: pd.DataFrame, repairs: pd.Series) -> pd.DataFrame:
        out = values.copy()
        listed = repairs.map(lambda found: found is not None and len(found) > 0).to_numpy()
        for position in listed.nonzero()[0]:
            for repair in repairs.iat[position]:
                if repair["column"] not in out.columns:
                    continue
                at = (position, out.columns.get_loc(repair["column"]))
                if isinstance(out.iat[at], str):
                    out.iat[at] = repair_mojibake(out.iat[at])[0]
        return out

    schema = T.StructType([T.StructField(c, T.StringType()) for c in columns])
    return F.pandas_udf(repaired, schema)  # type: ignore[call-overload]
