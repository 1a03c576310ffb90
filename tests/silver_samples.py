"""Small silver rows of the seven datasets, in each dataset's full silver shape, for mart tests.

Rows are written with the contract's field names and typed values; `frame` runs the dataset's own `clean`
(derived flags, commune resolution) and keeps the silver columns, as a run does after validation. So marts
read the columns they would read in a run, whichever mart it is. `frames(spark, ...)` gives in-memory silver
DataFrames (no lake); `merge(spark, lake, dataset, *rows)` merges rows into a temporary lake's silver table
with the dataset's contract (change data feed on, as in a run).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.datasets import get_dataset
from jobs.lake import Lake, silver
from jobs.merge import MergeOutcome, merge_into_silver
from jobs.quality import RAW
from jobs.standardise import silver_columns

SPARK_TYPES = {
    "string": T.StringType(),
    "int": T.IntegerType(),
    "double": T.DoubleType(),
    "timestamp": T.TimestampType(),
    "date": T.DateType(),
    "boolean": T.BooleanType(),
}


class Place(NamedTuple):
    text: str  # as a row delivers it
    commune_code: str | None
    commune_code_2025: str


# Thủ Dầu Một: Phú Cường (25747) counts under the 2025 unit 25747; Hiệp Thành (25741) was split and its
# remainder went to 25750 (Phú Lợi); Phú Thọ (25753) counts under 25747. Chánh Hiệp is only a 2025 unit.
PHU_CUONG = Place("25747", "25747", "25747")
HIEP_THANH = Place("25741", "25741", "25750")
PHU_THO = Place("25753", "25753", "25747")
ONLY_2025 = Place("Phường Chánh Hiệp", None, "25771")


def at(month: int, day: int, hour: int = 9, year: int = 2025) -> dt.datetime:
    return dt.datetime(year, month, day, hour, 0)


def first(month: int, year: int = 2025) -> dt.date:
    return dt.date(year, month, 1)


def dossier(code, place, received, updated, due=None, finished=None, status=None, channel=1, paid_online=0,
            file="f", row=1) -> dict[str, Any]:  # fmt: skip
    return {
        "dossier_code": code, "procedure_code": "1.000001", "commune_code": place.text, "channel": channel,
        "received_at": received, "due_at": due or received + dt.timedelta(days=10), "finished_at": finished,
        "status": status if status is not None else (10 if finished else 2), "paid_online": paid_online,
        "updated_at": updated, "_source_file": file, "_source_row": row,
    }  # fmt: skip


def payment(txn, dossier_code, amount, paid, ok=True, file="f", row=1) -> dict[str, Any]:
    return {
        "transaction_id": txn, "dossier_code": dossier_code, "amount_vnd": f"{amount:,}".replace(",", "."),
        "status": "Thành công" if ok else "Thất bại", "paid_at": paid,
        "updated_at": paid + dt.timedelta(minutes=1), "_source_file": file, "_source_row": row,
    }  # fmt: skip


def feedback(fid, place, received, answered=None, due=None, rating=None, file="f", row=1) -> dict[str, Any]:
    return {
        "feedback_id": fid, "received_at": received, "commune_name": place.text,
        "due_at": due or received + dt.timedelta(days=5), "answered_at": answered,
        "status": "Đã trả lời" if answered else "Đang xử lý", "satisfaction": rating,
        "updated_at": answered or received, "_source_file": file, "_source_row": row,
    }  # fmt: skip


def enterprise(tax, place, status, updated, founded, file="f", row=1) -> dict[str, Any]:
    return {
        "tax_code": tax, "name": f"Công ty {tax}", "commune_code": place.text, "status": status,
        "founded_on": founded, "industry_code": "4711", "updated_at": updated, "_source_file": file,
        "_source_row": row,
    }  # fmt: skip


def air(station, place, measured, pm25, pm10=None, file="f", row=1) -> dict[str, Any]:
    return {
        "station_code": station, "location": place.text, "measured_at": measured,
        "pm25": None if pm25 is None else str(pm25), "pm10": None if pm10 is None else str(pm10),
        "_source_file": file, "_source_row": row,
    }  # fmt: skip


def visits(
    facility, place, day: dt.date, service, count, insured, reported, file="f", row=1
) -> dict[str, Any]:
    return {
        "facility_code": facility, "commune_name": place.text, "visit_date": day, "service_code": service,
        "visits": count, "insured_visits": insured, "reported_at": reported, "_source_file": file,
        "_source_row": row,
    }  # fmt: skip


def incident(iid, place, occurred, injuries=0, fatalities=0, file="f", row=1) -> dict[str, Any]:
    return {
        "incident_id": iid, "occurred_at": occurred, "incident_type": "va_cham", "location": place.text,
        "injuries": injuries, "fatalities": fatalities, "reported_at": occurred, "_source_file": file,
        "_source_row": row,
    }  # fmt: skip


def frame(spark: SparkSession, dataset_name: str, rows: list[dict[str, Any]]) -> DataFrame:
    """Rows in the dataset's silver shape: typed contract columns, `clean`'s derived ones, lineage."""
    dataset = get_dataset(dataset_name)
    fields = dataset.contract.fields
    schema = T.StructType(
        [T.StructField(f.silver_name, SPARK_TYPES[f.type]) for f in fields]
        + [T.StructField("_source_file", T.StringType()), T.StructField("_source_row", T.LongType())]
    )
    data = [
        (
            *(None if f.pii else row.get(f.name) for f in fields),
            row.get("_source_file"),
            row.get("_source_row"),
        )
        for row in rows
    ]
    raw = F.struct(*[F.lit(None).cast("string").alias(f.name) for f in fields])
    cleaned = spark.createDataFrame(data, schema).withColumn(RAW, raw).transform(dataset.clean)
    return cleaned.select(
        *silver_columns(dataset, cleaned.columns),
        F.array().cast("array<string>").alias("_dq_warnings"),
        F.current_timestamp().alias("_merged_at"),
    )


def with_windows(spark: SparkSession, rows: list[dict[str, Any]]) -> DataFrame:
    """Enterprise records as SCD2 windows, as silver holds them."""
    from jobs.scd2 import rederive_windows, with_open_windows

    contract = get_dataset("enterprises").contract
    records = with_open_windows(frame(spark, "enterprises", rows), contract.version_column)
    return rederive_windows(records.limit(0), records, contract).drop(
        "_window_stored", "_window_stored_valid_to", "_window_stored_is_current"
    )


def frames(spark: SparkSession, **rows: list[dict[str, Any]]) -> dict[str, DataFrame]:
    """In-memory silver frames for the seven datasets; datasets not given are empty."""
    datasets = ("dossiers", "payments", "feedback", "enterprises", "air_quality", "health_visits",
                "traffic_incidents")  # fmt: skip
    built = {
        d: with_windows(spark, rows.get(d, [])) if d == "enterprises" else frame(spark, d, rows.get(d, []))
        for d in datasets
    }
    # Materialised once: a mart reads each frame several times, and `clean`'s plan is large.
    return {d: df.localCheckpoint() for d, df in built.items()}


def merge(spark: SparkSession, lake: Lake, dataset: str, *rows: dict[str, Any]) -> MergeOutcome:
    contract = get_dataset(dataset).contract
    return merge_into_silver(
        spark, lake.table_path(silver(dataset)), frame(spark, dataset, list(rows)), contract
    )
