"""Traffic incidents: IOC camera events (JSON lines, API field names) and traffic police reports (a JSON
array, Vietnamese field names), one row per incident.

Plate numbers identify vehicles, not people: silver keeps them in one normal form (upper case, no
separators) for matching; quarantine shows them masked, as it does identifiers. Incident types come as the
camera system's codes or the police's words and are brought to one code.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.admin_units import place_key, resolve_communes
from jobs.contracts import Contract, Field
from jobs.quality import RAW

# Code -> the words (as place keys: lower case, no diacritics) the two sources use for it; the code itself
# ("va_cham") has the key "va cham".
INCIDENT_TYPES = {
    "va_cham": ("va cham", "va cham giao thong", "tai nan giao thong", "collision"),
    "un_tac": ("un tac", "un tac giao thong", "ket xe", "congestion"),
    "ngap_nuoc": ("ngap nuoc", "ngap", "flooding"),
    "vi_pham": ("vi pham", "vi pham giao thong", "violation"),
}
ISO_WITH_OFFSET = "yyyy-MM-dd'T'HH:mm:ssXXX"

CONTRACT = Contract(
    dataset="traffic_incidents",
    agency="ioc",
    title="Sự cố giao thông / Traffic incidents",
    file_patterns=("*.json", "*.jsonl"),
    business_key=("incident_id",),
    version_column="reported_at",
    description="One row per incident; the latest report wins.",
    fields=(
        Field("incident_id", ("MaSuCo", "incidentId", "Mã sự cố"), required=True),
        Field(
            "occurred_at",
            ("ThoiGian", "occurredAt", "Thời gian xảy ra"),
            type="timestamp",
            formats=(ISO_WITH_OFFSET, "dd/MM/yyyy HH:mm", "yyyy-MM-dd HH:mm:ss"),
            required=True,
        ),
        Field("incident_type", ("LoaiSuCo", "type", "Loại sự cố"), required=True),
        Field("location", ("DiaDiem", "location", "Địa điểm")),
        Field("camera_id", ("cameraId", "MaCamera")),
        Field(
            "plate_number", ("BienSo", "plate", "Biển số"), description="Vehicle plate, masked in quarantine"
        ),
        Field("vehicles", ("SoXe", "vehicles", "Số phương tiện"), type="int"),
        Field("injuries", ("SoNguoiBiThuong", "injuries", "Số người bị thương"), type="int"),
        Field("fatalities", ("SoNguoiTuVong", "fatalities", "Số người tử vong"), type="int"),
        Field(
            "reported_at",
            ("ThoiGianLap", "reportedAt", "Thời gian báo cáo"),
            type="timestamp",
            formats=(ISO_WITH_OFFSET, "dd/MM/yyyy HH:mm", "yyyy-MM-dd HH:mm:ss"),
            required=True,
        ),
    ),
)


def incident_type_code(text: Column) -> Column:
    """The incident type as one code; text that names no known type is kept (the type rule reports it)."""
    words = {word: code for code, spellings in INCIDENT_TYPES.items() for word in spellings}
    lookup = F.create_map(*[F.lit(x) for item in sorted(words.items()) for x in item])
    return F.coalesce(lookup[place_key(text)], text)


def normal_plate(text: Column) -> Column:
    """'61a-123.45' -> '61A12345'."""
    compact = F.upper(F.regexp_replace(text, "[^0-9A-Za-z]", ""))
    return F.when(compact != "", compact)


def masked_plate(text: Column) -> Column:
    """What quarantine shows of a plate: the province prefix and the last two characters ('61A-***45')."""
    compact = normal_plate(text)
    return F.when(
        compact.isNotNull(),
        F.concat(F.substring(compact, 1, 3), F.lit("-***"), F.substring(compact, -2, 2)),
    )


def clean(df: DataFrame) -> DataFrame:
    return (
        df.transform(resolve_communes("location"))
        .withColumns(
            {
                "incident_type": incident_type_code(F.col("incident_type")),
                "plate_number": normal_plate(F.col("plate_number")),
            }
        )
        # The delivered text travels to quarantine in `_raw`: mask the plate there.
        .withColumn(RAW, F.col(RAW).withField("plate_number", masked_plate(F.col(f"{RAW}.plate_number"))))
    )
