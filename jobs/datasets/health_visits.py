"""Health facility visits: counts per facility, day and service (aggregated, no personal data).

Each district health centre sends one CSV a day from its own software, so files come in TCVN3 (ABC fonts),
VNI-Windows or UTF-8. A corrected report for the same facility, day and service arrives with a later report
time (Ngày báo cáo) and replaces the earlier one.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.admin_units import resolve_communes
from jobs.contracts import Contract, Field

SERVICES = {
    "KB": "Khám bệnh ngoại trú",
    "CC": "Cấp cứu",
    "NT": "Điều trị nội trú",
    "TC": "Tiêm chủng",
    "XN": "Xét nghiệm",
}

CONTRACT = Contract(
    dataset="health_visits",
    agency="so-yte",
    title="Lượt khám chữa bệnh / Health facility visits",
    file_patterns=("*.csv",),
    business_key=("facility_code", "visit_date", "service_code"),
    version_column="reported_at",
    description="One row per facility, day and service; the latest report (Ngày báo cáo) wins.",
    silver_partition_by=("visit_month",),
    fields=(
        Field("facility_code", ("Mã CSKCB", "MaCSKCB", "Mã cơ sở"), required=True),
        Field("facility_name", ("Tên cơ sở", "TenCSKCB", "Tên CSKCB")),
        Field("commune_name", ("Xã/Phường", "Phường/Xã", "XaPhuong")),
        Field("district_name", ("Huyện/TP", "Quận/Huyện", "Huyện/Thành phố")),
        Field(
            "visit_date",
            ("Ngày", "Ngày khám", "NgayKham"),
            type="date",
            formats=("dd/MM/yyyy", "d/M/yyyy", "yyyy-MM-dd"),
            required=True,
        ),
        Field("service_code", ("Mã dịch vụ", "MaDichVu"), required=True),
        Field("service_name", ("Tên dịch vụ", "TenDichVu")),
        Field("visits", ("Số lượt", "SoLuot"), type="int", required=True),
        Field("insured_visits", ("Số lượt BHYT", "SoLuotBHYT"), type="int"),
        Field(
            "reported_at",
            ("Ngày báo cáo", "NgayBaoCao"),
            type="timestamp",
            formats=("dd/MM/yyyy HH:mm:ss", "dd/MM/yyyy HH:mm", "yyyy-MM-dd HH:mm:ss"),
            required=True,
        ),
    ),
)


def clean(df: DataFrame) -> DataFrame:
    return df.transform(resolve_communes("commune_name", "district_name")).withColumns(
        {
            "service_code": F.upper(F.col("service_code")),
            "uninsured_visits": F.col("visits") - F.coalesce(F.col("insured_visits"), F.lit(0)),
            "visit_month": F.trunc("visit_date", "month"),
        }
    )
