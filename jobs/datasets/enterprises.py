"""Enterprise registry (đăng ký doanh nghiệp): monthly XLSX snapshots and daily CSV changes."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.admin_units import resolve_communes
from jobs.contracts import Contract, Field, SoftEnd

DISSOLVED_STATUS = "Đã giải thể"
# Dissolution ends an enterprise's life in the registry; its SCD2 history stays, the last window flagged.
DISSOLUTION = SoftEnd(
    flag_column="is_dissolved",
    status_column="status",
    status_values=(DISSOLVED_STATUS,),
    meaning="dissolved (Tình trạng: Đã giải thể)",
)

CONTRACT = Contract(
    dataset="enterprises",
    agency="so-khdt",
    title="Đăng ký doanh nghiệp / Enterprise registry",
    file_patterns=("*.xlsx", "*.csv"),
    business_key=("tax_code",),
    version_column="updated_at",
    description="Every state of an enterprise (tax code) as a validity window; one current row per key.",
    history="scd2",
    tracked_columns=(
        "name",
        "address",
        "commune_code",
        "industry_code",
        "status",
        "representative_name_pseudonym",
        "representative_id_pseudonym",
    ),
    soft_end=DISSOLUTION,
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
            "is_dissolved": DISSOLUTION.flag(),
        }
    ).transform(resolve_communes("commune_code", codes_only=True))
