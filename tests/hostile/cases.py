"""The hostile corpus: every delivered file by dataset, and each case's exact expected outcome."""

from __future__ import annotations

from tests.hostile import Case, Ingested, Record, Rejected, Skipped
from tests.hostile.files import (
    FORMULA_MARK,
    NA_MARK,
    REF_MARK,
    deeply_nested,
    dossier,
    encrypted_workbook,
    enterprises_tcvn3,
    feedback_row,
    health_visits_tcvn3,
    json_lines,
    payment,
    payments_csv,
    with_formula_cells,
    with_invalid_utf8,
    workbook_bytes,
    zip_that_is_not_a_workbook,
)

FORMULA_TEXT = '=HYPERLINK("http://example.invalid/x","Bấm vào đây")'
LONG_SUMMARY = ("Xin cấp phép xây dựng nhà ở riêng lẻ. " * 1400)[:50_000]
VIETNAMESE_NAME = "bản gốc ngày 29..06 (hồ sơ).jsonl"
COPY_NAME = "sao_chep_cua_ban_goc.jsonl"  # sorts after the original: the copy is the one skipped
# Files the fixture treats specially: created empty and filled before a second ingest; removed between
# discovery and read; a symbolic link to a file outside landing.
LATE_FILE, VANISHING_FILE, LINK_FILE = "dang_chep.jsonl", "bi_xoa.jsonl", "lien_ket.jsonl"
# Record-level cases share one file per dataset (a bronze commit per file is the cost to keep low).
DOSSIER_RECORDS = "tung_ban_ghi.jsonl"
PAYMENT_RECORDS = "tung_giao_dich.csv"

DOSSIER_FILES: dict[str, bytes] = {
    "rong.jsonl": b"",
    "dau_phay_thua.json": b'[{"MaHoSo": "TC-1", "MaTTHC": "1"},\n {"MaHoSo": "TC-2", "MaTTHC": "2"},\n]\n',
    "long_sau.jsonl": deeply_nested("DN-1", 40),
    "thieu_cot.jsonl": json_lines({"MaHoSo": "MC-1", "MaXa": "25747", "NgayCapNhat": "20250629090000"}),
    DOSSIER_RECORDS: with_invalid_utf8(
        json_lines(
            dossier("RW-OK", GhiChu="giao tận nhà", PhuLuc={"yeu_cau": [{"lan": 1, "noi_dung": "bổ sung"}]}),
            dossier("RW-CCCD", SoGiayToChuHoSo="07409500123A"),
            dossier("RW-FUTURE", NgayTiepNhan="20990101080000", NgayCapNhat="20990101090000"),
            dossier("RW-1899", NgayTiepNhan="18991231080000"),
            dossier("RW-FORMULA", TenTTHC=FORMULA_TEXT, ChuHoSo=FORMULA_TEXT),
            dossier("RW-NUL", TenTTHC="Cấp giấy\x00phép"),
            '{"MaHoSo": "RW-BROKEN", "MaTTHC": "1.001193", "NgayTiepNhan": ',
            dossier("RW-LONG", TrichYeuHoSo=LONG_SUMMARY),
            dossier("RW-BADBYTES", ChuHoSo="Lê Thị Hường"),
            dossier("RW-NAME", ChuHoSo="Nguyễn Văn Bình"),
        ).decode(),
        after="Lê Th",
    ),
    VIETNAMESE_NAME: json_lines(dossier("VN-1"), dossier("VN-2")),
    COPY_NAME: json_lines(dossier("VN-1"), dossier("VN-2")),
    LATE_FILE: b"",
    VANISHING_FILE: json_lines(dossier("VA-1")),
}
LATE_CONTENT = json_lines(dossier("LT-1"))
OUTSIDE_CONTENT = json_lines(dossier("OUT-1"))


def _line(*values: str) -> bytes:
    return ",".join(values).encode("utf-8") + b"\n"


PAYMENT_FILES: dict[str, bytes] = {
    "chi_dong_tieu_de.csv": payments_csv(),
    "dong_cuoi_bi_cat.csv": payments_csv(payment("TR-1"), payment("TR-2")) + b"TR-3,,150.000,TRAN",
    "ngoac_kep_mo.csv": payments_csv(payment("UQ-1"), payment("UQ-2", payer='"NGUYEN, VAN'), payment("UQ-3")),
    "cham_phay.csv": payments_csv(payment("SC-1"), payment("SC-2"), sep=";"),
    "tab.csv": payments_csv(payment("TB-1"), payment("TB-2"), sep="\t"),
    "xuong_dong_tron.csv": payments_csv(payment("ML-1")).replace(b"\n", b"\r\n")
    + _line(*payment("ML-2"))
    + _line(*payment("ML-3"))[:-1]
    + b"\r",
    "byte_nul_cuoi_tep.csv": payments_csv(payment("NP-1")) + b"\x00" * 16,
    PAYMENT_RECORDS: with_invalid_utf8(
        (
            payments_csv(payment("BM-1"))
            + b"\xef\xbb\xbf"
            + _line(*payment("BM-2"))
            + _line(*payment("DC-1", amount='"1.234,5"'))
            + _line(*payment("DC-2", amount="1.234.500"))
            + _line(*payment("XF-2"), "thừa")
            + _line(*payment("NU-2", payer="LE\x00VAN"))
            + _line(*payment("IV-2", payer="Lê Thị Hường"))
            + _line(*payment("IV-1", payer="Nguyễn Văn Bình"))
        ).decode(),
        after="Lê Th",
    ),
    "trung_tieu_de.csv": b"MaGiaoDich,MaGiaoDich,SoTien,TrangThai,ThoiGianThanhToan,ThoiGianCapNhat\n"
    b"DH-1,DH-2,150.000,Thanh cong,29/06/2025 08:00:00,29/06/2025 08:05:00\n",
}

_FEEDBACK_BOOK = workbook_bytes(
    [feedback_row("PA-1", FORMULA_MARK), feedback_row("PA-2", NA_MARK), feedback_row("PA-3", 4, REF_MARK)]
)
FEEDBACK_FILES: dict[str, bytes] = {
    "that_ra_la_csv.xlsx": "Mã PAKN,Ngày tiếp nhận,Ngày cập nhật\nPA-9,2025-06-29,2025-06-29\n".encode(),
    "zip_hong.xlsx": zip_that_is_not_a_workbook(),
    "cong_thuc_loi.xlsx": with_formula_cells(_FEEDBACK_BOOK),
    "co_mat_khau.xlsx": encrypted_workbook(workbook_bytes([feedback_row("PW-1")])),
}

ENTERPRISE_FILES: dict[str, bytes] = {
    "tcvn3_doi_ten.xlsx": enterprises_tcvn3(),
    "trung_ten_cot.csv": b"M\xc3\xa3 s\xe1\xbb\x91 doanh nghi\xe1\xbb\x87p,MST,T\xc3\xaan doanh nghi\xe1\xbb\x87p,"
    b"M\xc3\xa3 x\xc3\xa3,Ng\xc3\xa0y c\xe1\xba\xadp nh\xe1\xba\xadt\n1,2,3,4,5\n",
}
HEALTH_FILES: dict[str, bytes] = {"baocao_tcvn3.txt": health_visits_tcvn3()}

FILES = {
    "dossiers": DOSSIER_FILES,
    "payments": PAYMENT_FILES,
    "feedback": FEEDBACK_FILES,
    "enterprises": ENTERPRISE_FILES,
    "health_visits": HEALTH_FILES,
}
# Datasets taken through validate-and-merge too (the others' cases are decided at ingest).
PROCESSED = ("dossiers", "payments", "feedback")

D, P, FB = "dossiers", "payments", "feedback"
NOT_PARSEABLE = "dossiers.record.parseable"


def _rules(*ids: str) -> frozenset[str]:
    return frozenset(ids)


DOSSIER_NOT_NULL = (
    "dossiers.dossier_code.not_null", "dossiers.procedure_code.not_null", "dossiers.received_at.not_null",
    "dossiers.updated_at.not_null", "dossiers.commune_code.not_null", "dossiers.status.not_null",
)  # fmt: skip

CASES: list[Case] = [
    # --- dossiers: JSON ---------------------------------------------------------------------------------
    Case("empty-file", D, "rong.jsonl", Rejected("file is empty (0 bytes)")),
    Case(
        "json-trailing-comma",
        D,
        "dau_phay_thua.json",
        Rejected("no JSON record could be parsed (not valid JSON: "),
        "a JSON array with a comma before ']' is not JSON: the whole file is refused, with where",
    ),
    Case("json-deeply-nested", D, "long_sau.jsonl", Rejected("JSON nested more than 32 levels deep")),
    Case(
        "missing-required-columns",
        D,
        "thieu_cot.jsonl",
        Rejected("required column(s) missing: procedure_code (e.g. header 'MaTTHC'), received_at"),
    ),
    Case(
        "extra-and-nested-columns",
        D,
        DOSSIER_RECORDS,
        Ingested(10, "utf-8", ("GhiChu", "PhuLuc")),
        "extra columns are kept (a nested value as JSON text); every line is a bronze row",
    ),
    Case("valid-record-with-extra-columns", D, DOSSIER_RECORDS, Record(1, key="RW-OK")),
    Case("cccd-with-a-letter", D, DOSSIER_RECORDS, Record(2, _rules("dossiers.applicant_id.format"))),
    Case(
        "date-in-the-future",
        D,
        DOSSIER_RECORDS,
        Record(3, _rules("dossiers.received_at.plausible_date", "dossiers.updated_at.plausible_date")),
        "2099 is after the delivery date (2025-06-29) plus a day: judged against the delivery, not the clock",
    ),
    Case(
        "date-before-1900",
        D,
        DOSSIER_RECORDS,
        Record(4, _rules("dossiers.received_at.plausible_date")),
        "a date before 1900 is no date an agency's system recorded",
    ),
    Case(
        "formula-injection-text",
        D,
        DOSSIER_RECORDS,
        Record(5, key="RW-FORMULA"),
        "stored as text; CSV exports make it inert (test_formula_text_is_inert_in_csv_exports)",
    ),
    Case("nul-byte-in-a-value", D, DOSSIER_RECORDS, Record(6, _rules(NOT_PARSEABLE))),
    Case("jsonl-broken-line", D, DOSSIER_RECORDS, Record(7, _rules(NOT_PARSEABLE, *DOSSIER_NOT_NULL))),
    Case("field-of-50000-characters", D, DOSSIER_RECORDS, Record(8, key="RW-LONG")),
    Case(
        "utf8-line-with-invalid-bytes",
        D,
        DOSSIER_RECORDS,
        Record(9, _rules(NOT_PARSEABLE, *DOSSIER_NOT_NULL)),
        "Spark's JSON parser refuses the whole line: held as unparseable, its text kept in bronze",
    ),
    Case("utf8-intact-line-kept", D, DOSSIER_RECORDS, Record(10, key="RW-NAME")),
    Case("file-name-spaces-vietnamese-dots", D, VIETNAMESE_NAME, Ingested(2)),
    Case(
        "same-content-under-another-name",
        D,
        COPY_NAME,
        Skipped(f"same content as cong-dvc/dossiers/2025-06-29/{VIETNAMESE_NAME}, ingested by this run"),
    ),
    Case(
        "symlink-outside-landing", D, LINK_FILE, Rejected("symbolic link pointing outside landing: refused")
    ),
    Case(
        "zero-byte-file-while-being-copied",
        D,
        LATE_FILE,
        Rejected("file is empty (0 bytes)"),
        "a file still being copied into landing is empty when the run looks",
    ),
    Case("zero-byte-file-complete-next-run", D, LATE_FILE, Ingested(1), "the next run takes it in", run=2),
    Case(
        "file-removed-between-discovery-and-read",
        D,
        VANISHING_FILE,
        Rejected("file vanished from landing after it was found and before it was read"),
    ),
    Case(
        "removed-file-delivered-again",
        D,
        VANISHING_FILE,
        Ingested(1),
        "a vanished file is not marked in the ledger: delivered again, the next run takes it in",
        run=2,
    ),
    # --- payments: CSV ----------------------------------------------------------------------------------
    Case("header-only", P, "chi_dong_tieu_de.csv", Ingested(0, "utf-8")),
    Case("truncated-last-line", P, "dong_cuoi_bi_cat.csv", Ingested(3)),
    Case(
        "truncated-last-line-record",
        P,
        "dong_cuoi_bi_cat.csv",
        Record(
            3,
            _rules(
                "payments.record.parseable",
                "payments.paid_at.not_null",
                "payments.updated_at.not_null",
            ),
        ),
    ),  # fmt: skip
    Case(
        "unterminated-quote",
        P,
        "ngoac_kep_mo.csv",
        Rejected("a quoted value opened on line 3 is never closed"),
    ),
    Case("semicolon-delimiter", P, "cham_phay.csv", Record(2, key="SC-2")),
    Case("tab-delimiter", P, "tab.csv", Record(2, key="TB-2")),
    Case("mixed-line-endings", P, "xuong_dong_tron.csv", Ingested(3)),
    Case("mixed-line-endings-last-record", P, "xuong_dong_tron.csv", Record(3, key="ML-3")),
    Case(
        "nul-padding-after-last-line",
        P,
        "byte_nul_cuoi_tep.csv",
        Record(
            2,
            _rules(
                "payments.record.parseable",
                "payments.amount_vnd.not_null",
                "payments.paid_at.not_null",
                "payments.updated_at.not_null",
            ),
        ),
    ),  # fmt: skip
    Case("csv-utf8-with-invalid-bytes", P, PAYMENT_RECORDS, Ingested(8, "utf-8")),
    Case("bom-in-the-middle", P, PAYMENT_RECORDS, Record(2, key="BM-2")),
    Case("vietnamese-decimal-1.234,5", P, PAYMENT_RECORDS, Record(3, _rules("payments.amount_vnd.format"))),
    Case("vietnamese-thousands-1.234.500", P, PAYMENT_RECORDS, Record(4, key="DC-2")),
    Case("line-with-an-extra-field", P, PAYMENT_RECORDS, Record(5, _rules("payments.record.parseable"))),
    Case("nul-byte-in-a-name", P, PAYMENT_RECORDS, Record(6, _rules("payments.record.parseable"))),
    Case("csv-invalid-bytes-record", P, PAYMENT_RECORDS, Record(7, _rules("payments.record.parseable"))),
    Case("csv-intact-vietnamese-record", P, PAYMENT_RECORDS, Record(8, key="IV-1")),
    Case(
        "duplicated-header-names",
        P,
        "trung_tieu_de.csv",
        Rejected("header names repeat after alias matching: transaction_id"),
    ),
    # --- feedback: XLSX ---------------------------------------------------------------------------------
    Case(
        "xlsx-that-is-really-csv",
        FB,
        "that_ra_la_csv.xlsx",
        Rejected("named .xlsx but it is not an Excel workbook (no zip container); feedback accepts *.xlsx"),
    ),
    Case("corrupt-xlsx-zip", FB, "zip_hong.xlsx", Rejected("not a readable XLSX workbook")),
    Case("xlsx-formulas-and-error-cells", FB, "cong_thuc_loi.xlsx", Ingested(3, "xlsx")),
    Case("xlsx-formula-cached-value", FB, "cong_thuc_loi.xlsx", Record(1, key="PA-1")),
    Case(
        "xlsx-error-cell-na",
        FB,
        "cong_thuc_loi.xlsx",
        Record(
            2,
            _rules(
                "feedback.record.parseable",
                "feedback.satisfaction.in_range",
            ),
        ),
    ),  # fmt: skip
    Case("xlsx-error-cell-ref", FB, "cong_thuc_loi.xlsx", Record(3, _rules("feedback.record.parseable"))),
    Case(
        "password-protected-xlsx",
        FB,
        "co_mat_khau.xlsx",
        Rejected("the workbook is password-protected (encrypted)"),
    ),
    # --- enterprises and health visits: legacy encodings ------------------------------------------------
    Case(
        "tcvn3-csv-named-xlsx",
        "enterprises",
        "tcvn3_doi_ten.xlsx",
        Ingested(1, "tcvn3"),
        "a CSV export renamed .xlsx is read as the CSV it is, its legacy encoding detected",
    ),
    Case(
        "header-names-repeating-through-aliases",
        "enterprises",
        "trung_ten_cot.csv",
        Rejected("header names repeat after alias matching: tax_code"),
    ),
    Case(
        "tcvn3-file-with-wrong-extension",
        "health_visits",
        "baocao_tcvn3.txt",
        Rejected("file type not accepted for health_visits; expected *.csv"),
    ),
]
