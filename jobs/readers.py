"""Readers: landing files as agencies deliver them → DataFrames of strings with record numbers.

Every reader returns one column per source header (renamed to the contract's canonical names where an
alias matches), all values as strings, plus `_source_row` (1-based record number in file order),
`_corrupt_record` (the raw text of a record that could not be parsed, else null) and `_repairs` (the
columns whose value looks like mis-decoded Vietnamese, with the encoding that repairs it; see below).

Formats: CSV, JSON lines, JSON arrays (`[{…}, {…}]`), XLSX.

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
import datetime as dt
import fnmatch
import functools
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
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


def stage_decoded_copy(delivery: Delivery, encoding: str, staging_root: Path) -> Path:
    """Decode a legacy-encoded text file chunk by chunk into a UTF-8 staging copy; returns its path."""
    decode = _decoder(encoding)
    with (
        _staging_file(staging_root, delivery, ".csv") as (path, stream),
        open(delivery.path, "rb") as source,
    ):
        for chunk in _line_chunks(source, STAGING_CHUNK_BYTES):
            stream.write(decode(chunk).encode("utf-8"))
    return path


# ---------------------------------------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------------------------------------


def _starts_a_json_array(path: str) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(4096).lstrip(codecs.BOM_UTF8).lstrip()
    return head.startswith(b"[")


def read_json(spark: SparkSession, delivery: Delivery, contract: Contract) -> RawBatch:
    """JSON lines, or one JSON array of records (parsed as a whole, records in file order)."""
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
        raise FileRejected(f"{delivery.relative_path}: no JSON record could be parsed")
    names, extras = canonical_column_names(source_headers, contract)
    check_required_columns(names, contract, delivery)
    renamed = df.select(
        *[F.col(f"`{h}`").cast("string").alias(n) for h, n in zip(source_headers, names, strict=True)],
        (F.col(CORRUPT_RECORD) if CORRUPT_RECORD in df.columns else F.lit(None).cast("string")).alias(
            CORRUPT_RECORD
        ),
    )
    return RawBatch(with_record_numbers(renamed), "utf-8", extras)


def read_csv(spark: SparkSession, delivery: Delivery, contract: Contract, staging_root: Path) -> RawBatch:
    """A CSV file in any supported encoding; legacy ones through a decoded staging copy."""
    encoding = detect_file_encoding(delivery.path)
    staged = None
    if encoding in STAGED_ENCODINGS:
        staged = stage_decoded_copy(delivery, encoding, staging_root)
    source, charset = (str(staged), "UTF-8") if staged else (delivery.path, SPARK_CHARSETS[encoding])
    try:
        df = (
            spark.read.option("header", "true")
            .option("multiLine", "true")
            .option("escape", '"')
            .option("encoding", charset)
            .option("mode", "PERMISSIVE")
            .option("enforceSchema", "false")
            .csv(source)
        )
        headers = [h.lstrip("\ufeff") for h in df.columns]
        names, extras = canonical_column_names(headers, contract)
        check_required_columns(names, contract, delivery)
    except BaseException:
        if staged:
            staged.unlink(missing_ok=True)
        raise
    renamed = df.toDF(*names).withColumn(CORRUPT_RECORD, F.lit(None).cast("string"))
    return RawBatch(with_record_numbers(renamed), encoding, extras, str(staged) if staged else None)


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
        values = [convert(v) for convert, v in zip(converters, list(row)[:width], strict=False)]
        if not any(v is not None for v in values):
            continue
        number += 1
        record: dict[str, object] = dict(
            zip(names, [*values, *([None] * (width - len(values)))], strict=True)
        )
        record[SOURCE_ROW] = number
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
                [T.StructField(n, T.StringType()) for n in names] + [T.StructField(SOURCE_ROW, T.LongType())]
            )
            frame = (
                spark.read.schema(schema)
                .option("mode", "FAILFAST")
                .json(str(staged))
                .withColumn(CORRUPT_RECORD, F.lit(None).cast("string"))
                .select(*[F.col(f"`{n}`") for n in names], CORRUPT_RECORD, SOURCE_ROW)
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
    if suffix in (".jsonl", ".json", ".ndjson"):
        raw = read_json(spark, delivery, contract)
    elif suffix == ".csv":
        raw = read_csv(spark, delivery, contract, staging)
    elif suffix == ".xlsx":
        raw = read_xlsx(spark, delivery, contract, staging)
    else:
        raise FileRejected(f"{delivery.relative_path}: no reader for {suffix!r} files")
    source_columns = [c for c in raw.frame.columns if c not in (CORRUPT_RECORD, SOURCE_ROW)]
    raw.frame = with_repairs(raw.frame, source_columns)
    return raw


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
    return _repaired_texts_udf(tuple(columns))(
        F.struct(*[F.col(f"`{c}`").cast("string").alias(c) for c in columns]), F.col(REPAIRS)
    )


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
