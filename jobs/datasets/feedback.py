"""Citizen feedback and petitions (phản ánh, kiến nghị — PAKN) from the 1022 hotline and portal.

One XLSX workbook per day, exported from the hotline's office system: an instructions sheet first, then the
list under a merged title, dates as Excel date cells (some lost their date format and show serial numbers,
which the reader reads as the dates they are). A feedback may name a dossier and a commune, in whatever
spelling the operator typed; `clean` resolves the commune to its GSO codes before and after the 2025 reform.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.admin_units import resolve_communes
from jobs.contracts import Contract, Field

SHEET_TIMESTAMP = (
    "yyyy-MM-dd HH:mm:ss",
    "yyyy-MM-dd",
    "dd/MM/yyyy HH:mm:ss",
    "dd/MM/yyyy HH:mm",
    "dd/MM/yyyy",
)
ANSWERED_STATUSES = ("Đã trả lời", "Đã đóng")

CONTRACT = Contract(
    dataset="feedback",
    agency="tt-1022",
    title="Phản ánh, kiến nghị / Citizen feedback",
    file_patterns=("*.xlsx",),
    business_key=("feedback_id",),
    version_column="updated_at",
    description="One row per feedback; the latest update (Ngày cập nhật) wins.",
    fields=(
        Field("feedback_id", ("Mã PAKN", "MaPAKN", "Mã phản ánh", "Số phiếu"), required=True),
        Field(
            "received_at",
            ("Ngày tiếp nhận", "NgayTiepNhan", "Thời gian tiếp nhận"),
            type="timestamp",
            formats=SHEET_TIMESTAMP,
            required=True,
        ),
        Field("channel", ("Kênh tiếp nhận", "KenhTiepNhan", "Nguồn")),
        Field("reporter_name", ("Họ tên người phản ánh", "Người phản ánh", "HoTen"), pii="name"),
        Field("reporter_phone", ("Số điện thoại", "SĐT", "Điện thoại", "SoDienThoai"), pii="phone"),
        Field("category", ("Lĩnh vực", "LinhVuc")),
        Field("content", ("Nội dung", "Nội dung phản ánh", "NoiDung"), keep_in_silver=False),
        Field("dossier_code", ("Mã hồ sơ liên quan", "Mã hồ sơ", "MaHoSo")),
        Field(
            "commune_name",
            ("Xã/Phường", "Phường/Xã", "Xã, phường", "Địa bàn", "XaPhuong"),
            description="The commune as typed: any spelling, resolved by `clean`",
        ),
        Field("district_name", ("Quận/Huyện", "Huyện/Thành phố", "QuanHuyen")),
        Field(
            "due_at", ("Hạn xử lý", "HanXuLy", "Hạn giải quyết"), type="timestamp", formats=SHEET_TIMESTAMP
        ),
        Field("answered_at", ("Ngày trả lời", "NgayTraLoi"), type="timestamp", formats=SHEET_TIMESTAMP),
        Field("status", ("Trạng thái", "Tình trạng", "TrangThai")),
        Field("satisfaction", ("Mức độ hài lòng", "Đánh giá", "MucDoHaiLong"), type="int"),
        Field(
            "updated_at",
            ("Ngày cập nhật", "NgayCapNhat"),
            type="timestamp",
            formats=SHEET_TIMESTAMP,
            required=True,
        ),
    ),
)


def clean(df: DataFrame) -> DataFrame:
    answered = F.col("status").isin(*ANSWERED_STATUSES)
    return df.transform(resolve_communes("commune_name", "district_name")).withColumns(
        {
            "is_answered": answered,
            "answered_on_time": answered & (F.col("answered_at") <= F.col("due_at")),
        }
    )
