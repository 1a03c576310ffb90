"""Builders of hostile files: bytes for text formats, workbooks written with openpyxl and patched."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import datetime

from openpyxl import Workbook

from jobs.legacy_encoding import encode_tcvn3

# ---------------------------------------------------------------------------------------------------------
# dossiers: JSON lines in the portal's sync format
# ---------------------------------------------------------------------------------------------------------


def dossier(code: str, **fields: object) -> dict[str, object]:
    record: dict[str, object] = {
        "MaHoSo": code, "MaTTHC": "1.001193", "TenTTHC": "Cấp giấy phép xây dựng", "MaXa": "25747",
        "NgayTiepNhan": "20250629080000", "TrangThaiHoSo": "4", "KenhThucHien": "2",
        "NgayCapNhat": "20250629090000",
    }  # fmt: skip
    record.update(fields)
    return {k: v for k, v in record.items() if v is not None}


def json_lines(*records: dict[str, object] | str) -> bytes:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    return ("\n".join(lines) + "\n").encode("utf-8")


def deeply_nested(code: str, depth: int) -> bytes:
    value = "1"
    for _ in range(depth):
        value = '{"muc": ' + value + "}"
    return json_lines(json.dumps(dossier(code), ensure_ascii=False)[:-1] + f', "PhuLuc": {value}}}')


def with_invalid_utf8(text: str, after: str) -> bytes:
    """UTF-8 text with two bytes that are not UTF-8 (0xFF 0xFE) right after the first `after`."""
    data = text.encode("utf-8")
    at = data.index(after.encode("utf-8")) + len(after.encode("utf-8"))
    return data[:at] + b"\xff\xfe" + data[at:]


# ---------------------------------------------------------------------------------------------------------
# payments: CSV from the gateway
# ---------------------------------------------------------------------------------------------------------

PAYMENT_HEADER = ("MaGiaoDich", "MaHoSo", "SoTien", "HoTenNguoiNop", "SoDienThoai", "TrangThai",
                  "ThoiGianThanhToan", "ThoiGianCapNhat")  # fmt: skip


def payment(transaction: str, amount: str = "150.000", payer: str = "NGUYEN VAN AN") -> tuple[str, ...]:
    return (transaction, "", amount, payer, "0912345678", "Thành công", "29/06/2025 08:00:00",
            "29/06/2025 08:05:00")  # fmt: skip


def payments_csv(*rows: tuple[str, ...], sep: str = ",", newline: str = "\n") -> bytes:
    lines = [sep.join(PAYMENT_HEADER), *(sep.join(r) for r in rows)]
    return (newline.join(lines) + newline).encode("utf-8")


# ---------------------------------------------------------------------------------------------------------
# feedback: XLSX workbooks from the hotline
# ---------------------------------------------------------------------------------------------------------

FEEDBACK_HEADER = ("Mã PAKN", "Ngày tiếp nhận", "Họ tên người phản ánh", "Số điện thoại", "Lĩnh vực",
                   "Xã/Phường", "Quận/Huyện", "Trạng thái", "Mức độ hài lòng", "Ngày cập nhật")  # fmt: skip
# Numbers the workbook is written with, then swapped for formula cells (openpyxl writes no cached values).
FORMULA_MARK, NA_MARK, REF_MARK = 7_770_001, 7_770_002, 7_770_003


def feedback_row(feedback_id: str, satisfaction: object = 4, category: object = "Đất đai") -> list[object]:
    moment = datetime(2025, 6, 29, 8, 30)
    return [feedback_id, moment, "Trần Thị Bình", "0912345678", category, "Phường Hiệp Thành",
            "Thành phố Thủ Dầu Một", "Đã tiếp nhận", satisfaction, moment]  # fmt: skip


def workbook_bytes(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(list(FEEDBACK_HEADER))
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def with_formula_cells(workbook: bytes) -> bytes:
    """Swap the marker numbers for what Excel saves: a formula with its cached value, or an error value."""
    cells = {
        FORMULA_MARK: ("", "<f>2+3</f><v>5</v>"),
        NA_MARK: (' t="e"', "<f>VLOOKUP(A3,Z:Z,2,0)</f><v>#N/A</v>"),
        REF_MARK: (' t="e"', "<f>#REF!+1</f><v>#REF!</v>"),
    }
    source, out = zipfile.ZipFile(io.BytesIO(workbook)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.startswith("xl/worksheets/"):
                text = data.decode("utf-8")
                for mark, (kind, body) in cells.items():
                    text = re.sub(
                        rf'(<c r="[A-Z]+[0-9]+")(?: t="n")?><v>{mark}</v>', rf"\1{kind}>{body}", text
                    )
                data = text.encode("utf-8")
            target.writestr(item, data)
    return out.getvalue()


def encrypted_workbook(workbook: bytes, password: str = "1022") -> bytes:
    """The workbook as Excel saves it with a password: an OLE compound file holding EncryptionInfo and
    the AES-encrypted package (ECMA-376 agile encryption, written by msoffcrypto-tool)."""
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(workbook)).encrypt(password, out)
    return out.getvalue()


def zip_that_is_not_a_workbook() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("baocao.txt", "Đây là một tệp nén, không phải sổ tính")
    return out.getvalue()


# ---------------------------------------------------------------------------------------------------------
# enterprises and health visits: legacy-encoded CSV
# ---------------------------------------------------------------------------------------------------------

ENTERPRISE_HEADER = "Mã số doanh nghiệp,Tên doanh nghiệp,Mã xã,Tình trạng,Ngày cập nhật"
ENTERPRISE_NAME = "Công ty TNHH Thủ Dầu Một"


def enterprises_tcvn3() -> bytes:
    text = f"{ENTERPRISE_HEADER}\r\n0100109106,{ENTERPRISE_NAME},25747,Đang hoạt động,29/06/2025 08:00:00\r\n"
    return encode_tcvn3(text)


def health_visits_tcvn3() -> bytes:
    text = (
        "Mã CSKCB,Tên cơ sở,Xã/Phường,Huyện/TP,Ngày,Mã dịch vụ,Số lượt,Ngày báo cáo\r\n"
        "74001,Trạm y tế phường Phú Cường,Phường Phú Cường,Thủ Dầu Một,29/06/2025,KB,12,29/06/2025 17:00:00\r\n"
    )
    return encode_tcvn3(text)
