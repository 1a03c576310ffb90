"""Readers: landing files as agencies deliver them → DataFrames of strings with record numbers.

Every reader returns one column per source header (renamed to the contract's canonical names where an
alias matches), all values as strings, plus `_source_row` (1-based record number in file order) and
`_corrupt_record` (the raw text of a record that could not be parsed, else null).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.contracts import Contract
from jobs.text import match_key_text

CORRUPT_RECORD = "_corrupt_record"
SOURCE_ROW = "_source_row"
HEADER_SEARCH_ROWS = 20  # spreadsheets put titles above the header; look this far down for it
DELIVERY_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


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


@dataclass
class RawBatch:
    frame: DataFrame
    encoding: str
    extra_columns: list[str] = field(default_factory=list)


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
                )
            )
    return found


def canonical_column_names(headers: list[str], contract: Contract) -> tuple[list[str], list[str]]:
    """Map delivered headers to canonical names. Returns (names in header order, headers not in contract)."""
    by_key: dict[str, str] = {}
    for f in contract.fields:
        for alias in (f.name, *f.aliases):
            by_key[match_key_text(alias)] = f.name
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


def read_json_lines(spark: SparkSession, delivery: Delivery, contract: Contract) -> RawBatch:
    df = (
        spark.read.option("primitivesAsString", "true")
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT_RECORD)
        .option("encoding", "UTF-8")
        .json(delivery.path)
    )
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


def read_csv(
    spark: SparkSession, delivery: Delivery, contract: Contract, encoding: str = "UTF-8"
) -> RawBatch:
    df = (
        spark.read.option("header", "true")
        .option("multiLine", "true")
        .option("escape", '"')
        .option("encoding", encoding)
        .option("mode", "PERMISSIVE")
        .option("enforceSchema", "false")
        .csv(delivery.path)
    )
    headers = [h.lstrip("\ufeff") for h in df.columns]
    names, extras = canonical_column_names(headers, contract)
    check_required_columns(names, contract, delivery)
    renamed = df.toDF(*names).withColumn(CORRUPT_RECORD, F.lit(None).cast("string"))
    return RawBatch(with_record_numbers(renamed), encoding.lower(), extras)


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


def read_xlsx(spark: SparkSession, delivery: Delivery, contract: Contract) -> RawBatch:
    """First sheet whose header row matches the contract; title rows above the header are skipped."""
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
            header: list[str] | None = None
            for _ in range(HEADER_SEARCH_ROWS):
                row = next(rows, None)
                if row is None:
                    break
                cells = [_cell_text(v) or "" for v in row]
                if sum(match_key_text(c) in known for c in cells if c) >= 2:
                    header = cells
                    break
            if header is None:
                continue
            width = max(i for i, h in enumerate(header) if h) + 1
            names, extras = canonical_column_names(header[:width], contract)
            check_required_columns(names, contract, delivery)
            records = []
            for row in rows:
                values = [_cell_text(v) for v in list(row)[:width]]
                if any(v is not None for v in values):
                    records.append([*values, *([None] * (width - len(values))), None, len(records) + 1])
            schema = T.StructType(
                [T.StructField(n, T.StringType()) for n in names]
                + [T.StructField(CORRUPT_RECORD, T.StringType()), T.StructField(SOURCE_ROW, T.LongType())]
            )
            return RawBatch(spark.createDataFrame(records, schema), "xlsx", extras)
    finally:
        workbook.close()
    raise FileRejected(
        f"{delivery.relative_path}: no sheet has a header row with the {contract.dataset} columns "
        f"in its first {HEADER_SEARCH_ROWS} rows"
    )


def read_delivery(spark: SparkSession, delivery: Delivery, contract: Contract) -> RawBatch:
    suffix = os.path.splitext(delivery.path)[1].lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        return read_json_lines(spark, delivery, contract)
    if suffix == ".csv":
        return read_csv(spark, delivery, contract)
    if suffix == ".xlsx":
        return read_xlsx(spark, delivery, contract)
    raise FileRejected(f"{delivery.relative_path}: no reader for {suffix!r} files")
