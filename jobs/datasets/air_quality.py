"""Air quality from the environment monitoring stations: one row per station and hour (no personal data).

Two networks deliver each day: the automatic stations (a Windows export in Windows-1258) and the industrial
park stations (UTF-16 with Vietnamese headers and decimal commas). Missing measurements are written "NA"
or "-". The station's location names its commune in free text, resolved by `clean`.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.admin_units import resolve_communes
from jobs.contracts import Contract, Field

STATION_TIMESTAMP = ("yyyy-MM-dd HH:mm", "yyyy-MM-dd HH:mm:ss", "dd/MM/yyyy HH:mm")
# A measurement as stations write it: a decimal with a point or comma, or a missing-value mark.
MEASUREMENT_PATTERN = r"^([0-9]+([.,][0-9]+)?|NA|N/A|-)$"
MISSING_MARKS = ("", "NA", "N/A", "-")
# VN_AQI bands (Quyết định 1459/QĐ-TCMT): upper bound of the index -> level.
AQI_LEVELS = (
    (50, "Tốt"),
    (100, "Trung bình"),
    (150, "Kém"),
    (200, "Xấu"),
    (300, "Rất xấu"),
    (500, "Nguy hại"),
)

CONTRACT = Contract(
    dataset="air_quality",
    agency="so-tnmt",
    title="Quan trắc không khí / Air quality",
    file_patterns=("*.csv",),
    business_key=("station_code", "measured_at"),
    version_column="measured_at",
    description="One row per station and hour; an hour delivered again does not replace the first value.",
    silver_partition_by=("measured_month",),
    fields=(
        Field("station_code", ("MaTram", "Mã trạm"), required=True),
        Field("station_name", ("TenTram", "Tên trạm")),
        Field("location", ("DiaDiem", "Địa điểm", "Vị trí"), description="Where the station is, free text"),
        Field(
            "measured_at",
            ("ThoiGian", "Thời gian", "Thời điểm"),
            type="timestamp",
            formats=STATION_TIMESTAMP,
            required=True,
            description="Start of the hour, Vietnam time",
        ),
        Field("pm25", ("PM2.5", "PM2_5", "PM25", "Bụi PM2.5"), description="µg/m³, typed by `clean`"),
        Field("pm10", ("PM10", "Bụi PM10"), description="µg/m³, typed by `clean`"),
        Field("aqi", ("AQI", "VN_AQI", "Chỉ số AQI"), type="int"),
    ),
)


def measurement(text: Column) -> Column:
    """A measurement as a double: decimal point or comma; null for missing-value marks and other text."""
    trimmed = F.trim(text)
    return F.when(
        trimmed.rlike(MEASUREMENT_PATTERN) & ~trimmed.isin(*MISSING_MARKS),
        F.regexp_replace(trimmed, ",", ".").cast("double"),
    )


def aqi_level(aqi: Column) -> Column:
    level = F.when(aqi < 0, F.lit(None))
    for upper, name in AQI_LEVELS:
        level = level.when(aqi <= upper, F.lit(name))
    return level


def clean(df: DataFrame) -> DataFrame:
    return df.transform(resolve_communes("location")).withColumns(
        {
            "pm25": measurement(F.col("pm25")),
            "pm10": measurement(F.col("pm10")),
            "aqi_level": aqi_level(F.col("aqi")),
            "measured_month": F.trunc("measured_at", "month"),
        }
    )
