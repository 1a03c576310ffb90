"""Public-service dossiers (hồ sơ TTHC) from the one-stop portal, in the national portal's sync format."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.admin_units import resolve_communes
from jobs.contracts import Contract, Field, SoftEnd

PORTAL_TIMESTAMP = ("yyyyMMddHHmmss",)
ONLINE_CHANNEL = 2
FINISHED_STATUSES = (9, 10)  # Đã xử lý xong, Đã trả kết quả
WITHDRAWN_STATUS = 7
# Withdrawal by the citizen (Công dân rút hồ sơ) ends a dossier; silver keeps it, flagged.
WITHDRAWAL = SoftEnd(
    flag_column="is_withdrawn",
    status_column="status",
    status_values=(WITHDRAWN_STATUS,),
    meaning="withdrawn by the applicant (TrangThaiHoSo 7)",
)

CONTRACT = Contract(
    dataset="dossiers",
    agency="cong-dvc",
    title="Hồ sơ thủ tục hành chính / Public-service dossiers",
    file_patterns=("*.jsonl", "*.json", "*.csv"),
    business_key=("dossier_code",),
    version_column="updated_at",
    description="One row per dossier; the latest status (NgayCapNhat) wins.",
    history="latest",
    soft_end=WITHDRAWAL,
    # Daily batches touch recent receipt months; the merge reads and rewrites only the months it changes.
    silver_partition_by=("received_month",),
    fields=(
        Field("dossier_code", ("MaHoSo", "Mã hồ sơ"), required=True, description="Mã hồ sơ"),
        Field("procedure_code", ("MaTTHC", "Mã thủ tục"), required=True),
        Field("procedure_name", ("TenTTHC", "Tên thủ tục")),
        Field("field_code", ("MaLinhVuc", "Mã lĩnh vực")),
        Field("field_name", ("TenLinhVuc", "Tên lĩnh vực")),
        Field(
            "channel",
            ("KenhThucHien", "Kênh thực hiện"),
            type="int",
            description="1 in person, 2 online, 3 postal",
        ),
        Field("online_level", ("MucDo", "Mức độ"), type="int"),
        Field("applicant_name", ("ChuHoSo", "Chủ hồ sơ"), pii="name"),
        Field("applicant_id_type", ("LoaiDinhDanh", "Loại định danh"), type="int"),
        Field("applicant_id", ("SoGiayToChuHoSo", "Số giấy tờ chủ hồ sơ", "SoDinhDanh"), pii="citizen_id"),
        Field("applicant_type", ("LoaiDoiTuong", "Loại đối tượng"), type="int"),
        Field("applicant_email", ("Email", "Thư điện tử"), pii="email"),
        Field("applicant_phone", ("SoDienThoai", "Số điện thoại"), pii="phone"),
        Field("summary", ("TrichYeuHoSo", "Trích yếu"), keep_in_silver=False),
        Field("commune_code", ("MaXa", "Mã xã", "MaDonViHanhChinh"), required=True),
        Field("handling_agency", ("DonViXuLy", "Đơn vị xử lý")),
        Field("submitted_at", ("NgayNopHoSo", "Ngày nộp"), type="timestamp", formats=PORTAL_TIMESTAMP),
        Field(
            "received_at", ("NgayTiepNhan", "Ngày tiếp nhận"), "timestamp", PORTAL_TIMESTAMP, required=True
        ),
        Field("due_at", ("NgayHenTra", "Ngày hẹn trả"), type="timestamp", formats=PORTAL_TIMESTAMP),
        Field("finished_at", ("NgayKetThucXuLy", "Ngày kết thúc xử lý"), "timestamp", PORTAL_TIMESTAMP),
        Field("returned_at", ("NgayTra", "Ngày trả"), type="timestamp", formats=PORTAL_TIMESTAMP),
        Field("status", ("TrangThaiHoSo", "Trạng thái"), type="int", required=True),
        Field("paid_online", ("DuocThanhToanTrucTuyen", "Thanh toán trực tuyến"), type="int"),
        Field("updated_at", ("NgayCapNhat", "Ngày cập nhật"), "timestamp", PORTAL_TIMESTAMP, required=True),
    ),
)


def is_finished(status: Column) -> Column:
    return status.isin(*FINISHED_STATUSES)


def clean(df: DataFrame) -> DataFrame:
    """Dataset-specific cleaning on top of the contract's typing: derived flags analysts need."""
    return df.withColumns(
        {
            "commune_code": F.lpad(F.regexp_replace(F.col("commune_code"), r"\s", ""), 5, "0"),
            "is_online": F.col("channel") == F.lit(ONLINE_CHANNEL),
            "is_finished": is_finished(F.col("status")),
            "is_withdrawn": WITHDRAWAL.flag(),
            "received_month": F.trunc("received_at", "month"),
            "finished_on_time": is_finished(F.col("status")) & (F.col("finished_at") <= F.col("due_at")),
        }
    ).transform(resolve_communes("commune_code", codes_only=True))
