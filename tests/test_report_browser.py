"""The run report in a real browser: headless Chromium opens the file offline, as a quality officer would.

Checks that the page loads with no console error and no network request of any kind, that the numbers it
shows are the ledger's, that the language toggle works, and saves screenshots (Vietnamese and English) under
test-output/report-browser/ for a person to look at.

Needs Debian's `chromium` and `chromium-driver` (`make browser` installs them). Without them the test fails
when CI is set and is skipped elsewhere.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

from jobs.report import build_report

BROWSER_PAGES = ("chrome://", "chrome-untrusted://", "devtools://")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-output" / "report-browser"
VN = dt.timezone(dt.timedelta(hours=7))


def vi_int(value: int) -> str:
    """Written independently of jobs.report so a formatting bug cannot agree with itself."""
    return f"{value:,}".replace(",", ".")


def vi_percent(ratio: float) -> str:
    return f"{ratio * 100:.2f}".replace(".", ",") + "%"


# ------------------------------------------------------------------------------------ the ledger history
# Shaped like the ledger `govlake run` writes (RunSummary.to_dict), with numbers of a realistic day: the
# one-stop portal's daily dossiers and the enterprise registry's changes, a rejected file, a held batch.

DOSSIER_RULES = (
    ("dossiers.commune_code.known", "quarantine", "commune_code",
     "Mã xã không thuộc danh mục đơn vị hành chính tỉnh Bình Dương (trước 01/07/2025)",
     "Commune code is not a Bình Dương commune in the GSO catalogue (before 1 July 2025)"),
    ("dossiers.received_at.valid_timestamp", "quarantine", "received_at",
     "Ngày tiếp nhận (NgayTiepNhan) không phải ngày giờ hợp lệ dạng yyyyMMddHHmmss",
     "NgayTiepNhan is not a valid date-time in the form yyyyMMddHHmmss"),
    ("dossiers.applicant_phone.format", "warn", "applicant_phone", "Số điện thoại di động không hợp lệ",
     "Applicant phone is not a valid Vietnamese mobile number"),
    ("dossiers.batch.row_count", "fail", None, "Lô dữ liệu không có bản ghi nào", "The batch has no records"),
)  # fmt: skip
ENTERPRISE_RULES = (
    ("enterprises.tax_code.check_digit", "quarantine", "tax_code",
     "Mã số doanh nghiệp sai cấu trúc hoặc sai chữ số kiểm tra (Thông tư 105/2020/TT-BTC)",
     "Tax code is malformed or its check digit is wrong (Circular 105/2020/TT-BTC)"),
    ("enterprises.tax_code.unique_in_batch", "warn", None,
     "Doanh nghiệp bị gửi trùng (cùng mã số và ngày cập nhật) trong một lô",
     "Duplicate record in the batch (same tax code and update time); the first copy is kept"),
)  # fmt: skip


def outcome(name: str, agency_dir: str, day: dt.date, rows: int, failures: dict[str, int],
            rules: tuple[tuple[Any, ...], ...], rejected: bool = False) -> dict[str, Any]:  # fmt: skip
    batch = day.isoformat()
    quarantined = sum(
        n for rule_id, n in failures.items() if rule_id.endswith(("known", "timestamp", "digit"))
    )
    files = [{"relative_path": f"{agency_dir}/{name}/{batch}/{name}_{day:%Y%m%d}.csv", "status": "ingested",
              "rows_read": rows, "rows_in_bronze": rows, "encoding": "utf-8", "reason": None,
              "extra_columns": []}]  # fmt: skip
    if rejected:
        files.append({"relative_path": f"{agency_dir}/{name}/{batch}/{name}_{day:%Y%m%d}_bosung.xlsx",
                      "status": "rejected", "rows_read": 0, "rows_in_bronze": 0, "encoding": None,
                      "reason": "not a readable XLSX workbook (File is not a zip file)",
                      "extra_columns": []})  # fmt: skip
    results = [
        {"batch_date": batch, "rule_id": rule_id, "severity": severity, "column": column, "evaluated": rows,
         "failed": failures.get(rule_id, 0), "pass_rate": round(1 - failures.get(rule_id, 0) / rows, 6),
         "message_vi": vi, "message_en": en}
        for rule_id, severity, column, vi, en in rules
    ]  # fmt: skip
    return {
        "dataset": name, "status": "ok", "files": files, "batch_files": 1, "bronze_rows": rows,
        "valid": rows - quarantined, "quarantined": quarantined, "warned": 2,
        "inserted": rows - quarantined - 9, "updated": 9,
        "rule_failures": {k: v for k, v in failures.items() if v}, "rule_results": results,
        "blocked_reasons": [], "error": None,
        "stage_seconds": {"ingest": 41.2, "standardise+validate": 9.8, "quarantine": 13.1, "merge": 22.4},
        "table_versions": {f"bronze.{name}": 4, f"silver.{name}": 4, f"quarantine.{name}": 3},
        "rows_read": rows, "conserved": True,
    }  # fmt: skip


def history(days: int = 12) -> list[dict[str, Any]]:
    runs = []
    for index in range(days):
        day = dt.date(2025, 6, 20) + dt.timedelta(days=index)
        started = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(1, 30), VN)
        rows = 1800 + 37 * index
        dossiers = outcome("dossiers", "cong-dvc", day, rows,
                           {"dossiers.commune_code.known": 11 + index % 5,
                            "dossiers.received_at.valid_timestamp": 3 + index % 3,
                            "dossiers.applicant_phone.format": 19}, DOSSIER_RULES)  # fmt: skip
        enterprises = outcome("enterprises", "so-khdt", day, 1240 + index,
                              {"enterprises.tax_code.check_digit": 2 + index % 4,
                               "enterprises.tax_code.unique_in_batch": 1}, ENTERPRISE_RULES,
                              rejected=index == days - 1)  # fmt: skip
        if index == 4:  # a day with nothing new from the registry: a gap in its trend
            enterprises.update(status="nothing-new", files=[], bronze_rows=0, valid=0, quarantined=0, warned=0,
                               inserted=0, updated=0, rule_failures={}, rule_results=[], table_versions={},
                               rows_read=0)  # fmt: skip
        problems = [f"enterprises: file rejected: {f['relative_path']}: {f['reason']}"
                    for f in enterprises["files"] if f["status"] == "rejected"]  # fmt: skip
        duration = 212.4 + index
        runs.append({
            "run_id": f"{started:%Y%m%dT%H%M%S}-{index:06x}", "started_at": started.isoformat(),
            "lake_root": "/srv/govlake/lake", "status": "failed" if problems else "succeeded",
            "finished_at": (started + dt.timedelta(seconds=duration)).isoformat(timespec="seconds"),
            "duration_s": duration, "datasets": [dossiers, enterprises],
            "marts": {"versions": {"gold.fct_dossiers_by_commune_month": index}},
            "stage_seconds": {"datasets": 190.3, "gold": 9.6, "pii_scan": 2.1},
            "problems": problems, "pii_findings": [],
        })  # fmt: skip
    runs[-1]["datasets"][0]["match_rates"] = {"commune_pre2025": {"matched": 2189, "total": 2207},
                                              "commune_2025": {"matched": 2207, "total": 2207}}  # fmt: skip
    return runs


# ------------------------------------------------------------------------------------------ the browser


def requested_urls(driver: Any) -> list[str]:
    """Every URL fetched by a document other than the browser's own pages (its new-tab page loads
    chrome:// resources on start-up in the same log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message["params"]
        if message["method"] == "Network.requestWillBeSent":
            if not params.get("documentURL", "").startswith(BROWSER_PAGES):
                urls.append(params["request"]["url"])
        elif message["method"] == "Network.webSocketCreated":
            urls.append(params["url"])
    return urls


def full_page_screenshot(driver: Any, path: Path) -> None:
    """The whole page, not just the window: Chromium renders beyond the viewport for the capture."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))


def test_report_in_headless_chromium(tmp_path: Path, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    lake = tmp_path / "lake"
    runs = history()
    (lake / "_ops" / "runs").mkdir(parents=True)
    for run in runs:
        (lake / "_ops" / "runs" / f"{run['run_id']}.json").write_text(
            json.dumps(run, ensure_ascii=False, indent=2), encoding="utf-8"
        )
    docs = lake / "_quality" / "data_docs" / "index.html"
    docs.parent.mkdir(parents=True)
    docs.write_text("<!DOCTYPE html><title>Data Docs</title>", encoding="utf-8")
    report = build_report(str(lake))
    page_url = report.resolve().as_uri()
    run = runs[-1]

    browser.get(page_url)
    find = browser.find_element

    def shown(metric: str) -> str:
        return find(By.CSS_SELECTOR, f'[data-metric="{metric}"]').text.strip()

    # Numbers on the page are the ledger's, written the Vietnamese way.
    assert shown("run_id") == run["run_id"]
    for outcome in run["datasets"]:
        for key in ("rows_read", "bronze_rows", "valid", "quarantined", "inserted", "updated"):
            assert shown(f"{outcome['dataset']}.{key}") == vi_int(outcome[key]), (outcome["dataset"], key)
        assert "✓" in shown(f"{outcome['dataset']}.check_batch")
        for rule_id, failed in outcome["rule_failures"].items():
            assert shown(f"{rule_id}.failed") == vi_int(failed)
    assert shown("total.rows_read") == vi_int(sum(d["rows_read"] for d in run["datasets"]))
    assert shown("total.rejected_files") == "1"
    dossiers = run["datasets"][0]
    assert shown("match.dossiers.commune_pre2025") == "99,2%"
    assert shown("agency.cong-dvc.quarantined") == vi_int(dossiers["quarantined"])
    assert shown("version.silver.dossiers") == "4"
    batch = dossiers["files"][0]["rows_read"]
    assert f"{vi_int(batch)} = {vi_int(dossiers['valid'])} + {vi_int(dossiers['quarantined'])}" in shown(
        "dossiers.check_batch"
    )
    assert vi_percent(dossiers["valid"] / dossiers["bronze_rows"]) in find(By.ID, "trend").get_attribute(
        "textContent"
    )
    # Failed rules ranked by rows: the phone warning (19 rows) first, with its Vietnamese message.
    first_rule = find(By.CSS_SELECTOR, "#rules tbody tr")
    assert first_rule.get_attribute("data-rule") == "dossiers.applicant_phone.format"
    assert "Số điện thoại di động không hợp lệ" in first_rule.text
    docs_link = find(By.CSS_SELECTOR, "#rules a")
    assert docs_link.get_attribute("href") == docs.resolve().as_uri()
    assert len(find(By.ID, "trend").find_elements(By.CSS_SELECTOR, "svg polyline")) >= 2

    title = find(By.ID, "page-title")
    assert title.text == "Báo cáo lượt chạy govlake"
    full_page_screenshot(browser, SCREENSHOTS / "report-vi.png")

    find(By.ID, "lang-toggle").click()
    assert title.text == "govlake run report"
    assert browser.execute_script("return document.documentElement.lang") == "en"
    assert "Applicant phone is not a valid Vietnamese mobile number" in first_rule.text
    assert "Số điện thoại" not in first_rule.text
    full_page_screenshot(browser, SCREENSHOTS / "report-en.png")

    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []
    assert set(requested_urls(browser)) == {page_url}
