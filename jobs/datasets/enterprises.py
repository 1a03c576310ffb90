"""Enterprise registry (đăng ký doanh nghiệp): monthly XLSX snapshots and daily CSV changes."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.contracts import Contract, Field

DISSOLVED_STATUS = "Đã giải thể"

CONTRACT = Contract(
    dataset="enterprises",
    agency="so-khdt",
    title="Đăng ký doanh nghiệp / Enterprise registry",
    file_patterns=("*.xlsx", "*.csv"),
    business_key=("tax_code",),
    version_column="updated_at",
    description="One row per enterprise (tax code); the latest registry update wins.",
    fields=(
        Field("tax_code", ("Mã số doanh nghiệp", "MST", "Mã số thuế", "MaSoDoanhNghiep"), required=True),
        Field("name", ("Tên doanh nghiệp", "TenDoanhNghiep"), required=True),
        Field("legal_form", ("Loại hình", "Loại hình doanh nghiệp")),
        Field("industry_code", ("Ngành nghề chính", "Mã ngành", "VSIC")),
        Field("address", ("Địa chỉ trụ sở", "Địa chỉ")),
        Field("commune_code", ("Mã xã", "MaXa"), required=True),
        Field("representative_name", ("Người đại diện theo pháp luật", "Người đại diện"), pii="name"),
        Field("representative_id", ("Số giấy tờ người đại diện", "CCCD người đại diện"), pii="citizen_id"),
        Field("founded_on", ("Ngày thành lập",), type="date", formats=("dd/MM/yyyy", "yyyy-MM-dd")),
        Field("status", ("Tình trạng", "Trạng thái")),
        Field(
            "updated_at",
            ("Ngày cập nhật",),
            type="timestamp",
            formats=("dd/MM/yyyy HH:mm:ss", "dd/MM/yyyy", "yyyy-MM-dd HH:mm:ss"),
            required=True,
        ),
    ),
)


def clean(df: DataFrame) -> DataFrame:
    return df.withColumns(
        {
            "tax_code": F.regexp_replace(F.col("tax_code"), r"\s", ""),
            "commune_code": F.lpad(F.regexp_replace(F.col("commune_code"), r"\s", ""), 5, "0"),
            "is_dissolved": F.col("status") == F.lit(DISSOLVED_STATUS),
        }
    )
