"""Fee payments (lệ phí) from the payment gateway: one CSV per day, one row per transaction.

A payment belongs to a dossier (MaHoSo) and is made by its applicant, whose name the gateway writes as the
bank does (capitals, often without diacritics) and whose phone number comes in another written form than on
the dossier: both are pseudonymised from their normal form, so they still join the dossier's applicant.
Amounts are whole đồng written the Vietnamese way, with dots between thousands ("1.234.500").
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.contracts import Contract, Field

GATEWAY_TIMESTAMP = ("dd/MM/yyyy HH:mm:ss", "yyyy-MM-dd HH:mm:ss")
SUCCEEDED = "Thành công"
# "1.234.500", "1,234,500", "1 234 500", "1234500", optionally followed by the currency.
AMOUNT_PATTERN = r"^([0-9]+|[0-9]{1,3}([., ][0-9]{3})+)( ?(đ|d|VND|VNĐ|vnd|vnđ))?$"

CONTRACT = Contract(
    dataset="payments",
    agency="paygov",
    title="Thanh toán phí, lệ phí / Fee payments",
    file_patterns=("*.csv",),
    business_key=("transaction_id",),
    version_column="updated_at",
    description="One row per gateway transaction; the latest status (ThoiGianCapNhat) wins.",
    fields=(
        Field(
            "transaction_id",
            ("MaGiaoDich", "Mã giao dịch", "Transaction ID", "Mã GD"),
            required=True,
            description="Mã giao dịch của cổng thanh toán",
        ),
        Field("dossier_code", ("MaHoSo", "Mã hồ sơ", "Mã HS"), description="MaHoSo of the paid dossier"),
        Field("procedure_code", ("MaTTHC", "Mã thủ tục")),
        Field("description", ("NoiDungThanhToan", "Nội dung thanh toán", "Nội dung"), keep_in_silver=False),
        Field(
            "amount_vnd",
            ("SoTien", "Số tiền", "Amount"),
            required=True,
            description="Amount in đồng; delivered as text with thousands separators, typed by `clean`",
        ),
        Field("payer_name", ("HoTenNguoiNop", "Họ tên người nộp", "Người nộp tiền"), pii="name"),
        Field("payer_phone", ("SoDienThoai", "Số điện thoại", "SĐT người nộp"), pii="phone"),
        Field("bank_code", ("NganHang", "Ngân hàng", "Mã ngân hàng")),
        Field("payment_channel", ("KenhThanhToan", "Kênh thanh toán", "Hình thức thanh toán")),
        Field("status", ("TrangThai", "Trạng thái", "Trạng thái giao dịch"), required=True),
        Field(
            "paid_at",
            ("ThoiGianThanhToan", "Thời gian thanh toán"),
            type="timestamp",
            formats=GATEWAY_TIMESTAMP,
            required=True,
        ),
        Field(
            "updated_at",
            ("ThoiGianCapNhat", "Thời gian cập nhật"),
            type="timestamp",
            formats=GATEWAY_TIMESTAMP,
            required=True,
        ),
    ),
)


def vnd_amount(text: Column) -> Column:
    """Whole đồng from "1.234.500", "1,234,500 đ" or "1234500"; null when the text is not such an amount.

    The đồng has no subunit in use, so a dot or comma between groups of three digits separates thousands.
    """
    trimmed = F.trim(text)
    digits = F.regexp_replace(F.regexp_extract(trimmed, AMOUNT_PATTERN, 1), "[., ]", "")
    return F.when(trimmed.rlike(AMOUNT_PATTERN), digits.cast("long"))


def clean(df: DataFrame) -> DataFrame:
    return df.withColumns(
        {
            "amount_vnd": vnd_amount(F.col("amount_vnd")),
            "is_successful": F.col("status") == F.lit(SUCCEEDED),
        }
    )
