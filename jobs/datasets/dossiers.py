"""Public-service dossiers (hồ sơ TTHC) from the one-stop portal, in the national portal's sync format.

Supplementation requests (yêu cầu bổ sung hồ sơ). The portal's JSON nests them as `DanhSachHoSoBoSung`, a list
of requests, each with `NgayBoSung` (when the agency asked the applicant for more documents) and
`NgayTiepNhanBoSung` (when the supplement came back: the clock runs again), both `yyyyMMddHHmmss`. A CSV
cannot nest, so a CSV delivery carries three flat columns instead: `SoLanYeuCauBoSung` (number of requests),
`SoNgayChoBoSung` (days spent waiting for the applicant, requests answered) and `NgayYeuCauBoSungDangCho`
(when the request still unanswered was made). `clean` turns either form into the same three silver columns;
the list wins when both are delivered. No list and no flat columns means no request. The list itself stays
out of silver: its free text may name the officials involved.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.admin_units import resolve_communes
from jobs.contracts import Contract, Field, SoftEnd
from jobs.datetimes import parse_timestamp

PORTAL_TIMESTAMP = ("yyyyMMddHHmmss",)
ONLINE_CHANNEL = 2
FULL_ONLINE_LEVEL = 4  # MucDo 4: dịch vụ công trực tuyến toàn trình
SECONDS_PER_DAY = 86_400
# The fields of one supplementation request the platform reads; others in the list are ignored.
SUPPLEMENT_REQUEST = T.ArrayType(
    T.StructType(
        [
            T.StructField("HoSoBoSungId", T.StringType()),
            T.StructField("NgayBoSung", T.StringType()),
            T.StructField("NgayTiepNhanBoSung", T.StringType()),
            T.StructField("TrangThaiBoSung", T.StringType()),
        ]
    )
)
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
        Field(
            "has_digitised_components",
            ("HoSoCoThanhPhanSoHoa", "Hồ sơ có thành phần số hóa"),
            type="int",
            description="1 when the dossier's components were digitised (số hóa), else 0",
        ),
        Field(
            "supplement_list",
            ("DanhSachHoSoBoSung", "Danh sách hồ sơ bổ sung"),
            keep_in_silver=False,
            description="JSON list of supplementation requests as delivered (see module docstring)",
        ),
        Field(
            "supplement_requests",
            ("SoLanYeuCauBoSung", "Số lần yêu cầu bổ sung"),
            type="int",
            description="number of supplementation requests (from the list, or the flat CSV column)",
        ),
        Field(
            "supplement_paused_days",
            ("SoNgayChoBoSung", "Số ngày chờ bổ sung"),
            type="double",
            description="days waiting for the applicant, over requests already answered",
        ),
        Field(
            "supplement_pending_since",
            ("NgayYeuCauBoSungDangCho", "Ngày yêu cầu bổ sung đang chờ"),
            "timestamp",
            PORTAL_TIMESTAMP,
            description="when the request still unanswered was made; null when none is open",
        ),
        Field("updated_at", ("NgayCapNhat", "Ngày cập nhật"), "timestamp", PORTAL_TIMESTAMP, required=True),
    ),
)


def is_finished(status: Column) -> Column:
    return status.isin(*FINISHED_STATUSES)


def supplement_requests_from_list(list_text: Column) -> dict[str, Column]:
    """From the delivered `DanhSachHoSoBoSung` text: requests, paused days, pending start, and validity.

    Valid: a JSON list whose every request has a request time, whose answer time (when present) is not
    before it, with at most one request unanswered. `valid` is null when no list was delivered.
    """
    requests = F.transform(
        F.from_json(list_text, SUPPLEMENT_REQUEST),
        lambda r: F.struct(
            parse_timestamp(r["NgayBoSung"], PORTAL_TIMESTAMP).alias("requested_at"),
            parse_timestamp(r["NgayTiepNhanBoSung"], PORTAL_TIMESTAMP).alias("answered_at"),
            (F.trim(F.coalesce(r["NgayTiepNhanBoSung"], F.lit(""))) == "").alias("open"),
        ),
    )
    well_formed = F.forall(
        requests,
        lambda r: (
            r["requested_at"].isNotNull()
            & (r["open"] | (r["answered_at"].isNotNull() & (r["answered_at"] >= r["requested_at"])))
        ),
    )
    open_requests = F.filter(requests, lambda r: r["open"])
    answered = F.filter(requests, lambda r: ~r["open"])
    waited = F.aggregate(
        answered,
        F.lit(0.0),
        lambda total, r: (
            total + (F.unix_seconds(r["answered_at"]) - F.unix_seconds(r["requested_at"])) / SECONDS_PER_DAY
        ),
    )
    delivered = F.trim(F.coalesce(list_text, F.lit(""))) != ""
    valid = requests.isNotNull() & F.coalesce(well_formed, F.lit(False)) & (F.size(open_requests) <= 1)
    return {
        "requests": F.when(valid, F.size(requests)),
        "paused_days": F.when(valid, waited),
        "pending_since": F.when(valid, F.array_max(F.transform(open_requests, lambda r: r["requested_at"]))),
        "valid": F.when(delivered, valid),
    }


def with_supplement_requests(df: DataFrame) -> DataFrame:
    """The three supplement columns from the list when it was delivered, else from the flat columns."""
    from_list = supplement_requests_from_list(F.col("supplement_list"))
    listed = F.col("supplement_list_valid").isNotNull()
    return df.withColumn("supplement_list_valid", from_list["valid"]).withColumns(
        {
            "supplement_requests": F.when(listed, from_list["requests"]).otherwise(
                F.coalesce(F.col("supplement_requests"), F.lit(0))
            ),
            "supplement_paused_days": F.when(listed, from_list["paused_days"]).otherwise(
                F.coalesce(F.col("supplement_paused_days"), F.lit(0.0))
            ),
            "supplement_pending_since": F.when(listed, from_list["pending_since"]).otherwise(
                F.col("supplement_pending_since")
            ),
        }
    )


def clean(df: DataFrame) -> DataFrame:
    """Dataset-specific cleaning on top of the contract's typing: derived flags analysts need."""
    return (
        df.transform(with_supplement_requests)
        .withColumns(
            {
                "commune_code": F.lpad(F.regexp_replace(F.col("commune_code"), r"\s", ""), 5, "0"),
                "is_online": F.col("channel") == F.lit(ONLINE_CHANNEL),
                "is_fully_online": (F.col("channel") == F.lit(ONLINE_CHANNEL))
                & (F.col("online_level") == F.lit(FULL_ONLINE_LEVEL)),
                "is_digitised": F.col("has_digitised_components") == F.lit(1),
                "is_finished": is_finished(F.col("status")),
                "is_withdrawn": WITHDRAWAL.flag(),
                "received_month": F.trunc("received_at", "month"),
                "finished_on_time": is_finished(F.col("status")) & (F.col("finished_at") <= F.col("due_at")),
            }
        )
        .transform(resolve_communes("commune_code", codes_only=True))
    )
