"""Bronze rows → conformed, typed rows: text cleaned, dates parsed, identities pseudonymised.

The delivered strings stay available in the `_raw` struct until the valid/quarantine split, so rules can
judge the text as delivered and quarantine can show what arrived (with identifiers masked).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.contracts import Field
from jobs.datasets import Dataset
from jobs.datetimes import parse_date, parse_timestamp
from jobs.pii import PiiKey, pseudonymise_pii
from jobs.quality import RAW
from jobs.readers import REPAIRS, REPAIRS_TYPE, repaired_texts
from jobs.text import clean_whitespace, nfc

PROVENANCE_COLUMNS = (
    "_source_file",
    "_source_sha256",
    "_source_row",
    "_source_encoding",
    "_delivery_date",
    "_ingest_run_id",
    "_ingested_at",
)
REPAIRED = "_repaired"
TRUE_WORDS = ("1", "true", "yes", "y", "có", "co", "x")


def typed_value(text: Column, spec: Field) -> Column:
    """The delivered string as the contract's type; unparseable values become null (rules report them)."""
    trimmed = F.trim(text)
    if spec.type == "int":
        return F.when(trimmed.rlike(r"^[+-]?\d+$"), trimmed.cast("long")).cast("int")
    if spec.type == "double":
        return F.when(trimmed.rlike(r"^[+-]?\d+([.]\d+)?$"), trimmed.cast("double"))
    if spec.type == "timestamp":
        return parse_timestamp(trimmed, spec.formats)
    if spec.type == "date":
        return parse_date(trimmed, spec.formats)
    if spec.type == "boolean":
        return F.when(trimmed == "", None).otherwise(F.lower(trimmed).isin(*TRUE_WORDS))
    cleaned = clean_whitespace(nfc(text))
    return F.when(cleaned != "", cleaned)


def standardise(bronze_rows: DataFrame, dataset: Dataset, key: PiiKey) -> DataFrame:
    """Typed contract columns (PII as `<name>_pseudonym`), `_raw` source strings, provenance, clean-ups."""
    contract = dataset.contract
    present = set(bronze_rows.columns)
    source_columns = [
        c for c in bronze_rows.columns if c not in (*PROVENANCE_COLUMNS, "_corrupt_record", REPAIRS)
    ]

    text_fields = [spec.name for spec in contract.fields if spec.type == "string" and spec.name in present]
    repairing = REPAIRS in present and bool(text_fields)
    if repairing:
        bronze_rows = bronze_rows.withColumn(REPAIRED, repaired_texts(text_fields))

    def delivered(name: str) -> Column:
        return F.col(f"`{name}`") if name in present else F.lit(None).cast("string")

    def to_conform(name: str) -> Column:
        """The delivered text, its mojibake repaired (`_raw` keeps it as delivered)."""
        if repairing and name in text_fields:
            return F.col(REPAIRED)[name]
        return delivered(name)

    conformed = [
        (
            pseudonymise_pii(spec.pii, to_conform(spec.name), key)
            if spec.pii
            else typed_value(to_conform(spec.name), spec)
        ).alias(spec.silver_name)
        for spec in contract.fields
    ]
    raw = F.struct(*[delivered(c).alias(c) for c in dict.fromkeys([*contract.field_names, *source_columns])])
    provenance = [delivered(c).alias(c) for c in PROVENANCE_COLUMNS]
    # Which delivered values were mojibake, and the encoding that repaired them (kept as lineage).
    repairs = F.col(REPAIRS) if REPAIRS in present else F.array().cast(REPAIRS_TYPE)
    corrupt = delivered("_corrupt_record").alias("_corrupt_record")
    return bronze_rows.select(
        *conformed, raw.alias(RAW), corrupt, *provenance, repairs.alias(REPAIRS)
    ).transform(dataset.clean)


def silver_columns(dataset: Dataset, conformed_columns: list[str]) -> list[str]:
    """What silver keeps: contract and derived columns (PII only as pseudonyms) and row lineage."""
    dropped = {spec.silver_name for spec in dataset.contract.fields if not spec.keep_in_silver}
    internal = {RAW, "_corrupt_record", "_failed_rules", "_ingested_at", "_source_encoding"}
    return [c for c in conformed_columns if c not in dropped and c not in internal]
