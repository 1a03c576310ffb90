"""The run report: one self-contained HTML page per run, built from the run ledger alone.

`build_report` reads `<lake>/_ops/runs/<run_id>.json` (and the runs before it, for the trend) and writes
`<lake>/_reports/<run_id>.html` plus `<lake>/_reports/latest.html`. No Spark, no JVM: a report costs
milliseconds, and regenerating one from the stored ledger gives the same page.

The page works on an air-gapped workstation: styles, the language toggle and the SVG charts are inline, and a
Content-Security-Policy forbids every network fetch. Vietnamese is the default language, English a toggle;
numbers and dates are always written the Vietnamese way (1.234.567; 12,5%; dd/MM/yyyy).

The ledger holds counts, rule ids and messages only; free text that came from exceptions (errors, rejection
reasons) is still passed through the identifier redactor before it is shown, and all text is HTML-escaped.

The rest of the module is pure functions from ledger dicts to figures, and from figures to HTML pieces.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import json
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobs.pii_scan import redact
from jobs.runs import VIETNAM, list_run_ids

log = logging.getLogger(__name__)

TREND_RUNS = 30  # runs that feed the pass-rate trend: bounds the page whatever the history length
SIZE_LIMIT_BYTES = 300_000  # README's promise for one report file; the tests hold the page to it
MAX_LISTED_ITEMS = 200  # rejected files and problems shown one by one; past this they are counted
LATEST_NAME = "latest.html"
DATA_DOCS_FROM_REPORTS = "../_quality/data_docs/index.html"  # relative to `_reports/`
_RUN_ID_SHAPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")  # a file stem, never a path

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999999")

# --------------------------------------------------------------------------------------------------------
# Words shown on the page, (Vietnamese, English).

LABELS: dict[str, tuple[str, str]] = {
    "title": ("Báo cáo lượt chạy govlake", "govlake run report"),
    "subtitle": (
        "Trung tâm Dữ liệu tỉnh Bình Dương — kiểm tra, làm sạch và hợp nhất dữ liệu các cơ quan",
        "Bình Dương provincial data center — agency data checked, cleaned and merged",
    ),
    "run_id": ("Mã lượt chạy", "Run id"),
    "status": ("Trạng thái", "Status"),
    "started": ("Bắt đầu", "Started"),
    "finished": ("Kết thúc", "Finished"),
    "duration": ("Thời lượng", "Duration"),
    "generated": ("Lập báo cáo lúc", "Report generated"),
    "rows_read": ("Dòng đã đọc", "Rows read"),
    "valid": ("Hợp lệ", "Valid"),
    "quarantined": ("Cách ly", "Quarantined"),
    "rejected_files": ("Tệp bị từ chối", "Rejected files"),
    "problems": ("Vấn đề cần xử lý", "Problems to act on"),
    "problems_note": (
        "Nguyên văn từ sổ ghi lượt chạy (tiếng Anh).",
        "As recorded in the run ledger.",
    ),
    "no_problems": ("Không có vấn đề nào.", "No problems."),
    "flow": ("Dòng dữ liệu theo bộ dữ liệu", "Rows per dataset"),
    "flow_note": (
        "Bảo toàn số dòng: với mỗi tệp, dòng đọc = dòng vào bronze; với mỗi lô, bronze = hợp lệ + cách ly.",
        "Row conservation: per file, rows read = rows in bronze; per batch, bronze = valid + quarantined.",
    ),
    "dataset": ("Bộ dữ liệu", "Dataset"),
    "agency": ("Cơ quan", "Agency"),
    "files": ("Tệp (nạp/tổng)", "Files (ingested/total)"),
    "bronze": ("Bronze (lô)", "Bronze (batch)"),
    "warned": ("Có cảnh báo", "With warnings"),
    "inserted": ("Thêm mới", "Inserted"),
    "updated": ("Cập nhật", "Updated"),
    "conservation": ("Bảo toàn số dòng", "Row conservation"),
    "check_read": ("đọc = bronze", "read = bronze"),
    "check_batch": ("bronze = hợp lệ + cách ly", "bronze = valid + quarantined"),
    "total": ("Tổng", "Total"),
    "rules": ("Quy tắc không đạt", "Rules that failed"),
    "rules_note": (
        "Xếp theo số dòng vi phạm, cộng dồn các lô của lượt chạy.",
        "Ranked by rows affected, summed over the run's batches.",
    ),
    "no_rules": ("Không có quy tắc nào bị vi phạm.", "No rule failed."),
    "rule": ("Quy tắc", "Rule"),
    "severity": ("Mức độ", "Severity"),
    "column": ("Cột", "Column"),
    "failed_rows": ("Dòng vi phạm", "Rows failing"),
    "evaluated": ("Dòng kiểm tra", "Rows checked"),
    "pass_rate": ("Tỷ lệ đạt", "Pass rate"),
    "message": ("Nội dung", "Message"),
    "batches": ("Lô", "Batches"),
    "data_docs": ("Data Docs", "Data Docs"),
    "open_data_docs": ("Xem", "Open"),
    "trend": ("Xu hướng tỷ lệ đạt", "Pass-rate trend"),
    "trend_note": (
        "Tỷ lệ dòng hợp lệ (không bị cách ly) trên dòng bronze, {n} lượt chạy gần nhất; "
        "lượt không có dữ liệu mới để trống.",
        "Valid (not quarantined) rows over bronze rows, last {n} runs; runs with nothing new are gaps.",
    ),
    "no_trend": ("Chưa có lượt chạy nào kiểm tra dữ liệu.", "No run has validated data yet."),
    "trend_table": ("Bảng số liệu", "Data table"),
    "run": ("Lượt chạy", "Run"),
    "date": ("Ngày", "Date"),
    "quarantine": ("Cách ly theo cơ quan và lý do", "Quarantine by agency and reason"),
    "quarantine_note": (
        "Một dòng có thể vi phạm nhiều quy tắc, nên tổng theo lý do có thể lớn hơn số dòng cách ly.",
        "A row can fail several rules, so the reasons can add up to more than the rows quarantined.",
    ),
    "no_quarantine": ("Không có dòng nào bị cách ly.", "No row was quarantined."),
    "reason": ("Lý do", "Reason"),
    "rows": ("Số dòng", "Rows"),
    "match": ("Khớp đơn vị hành chính", "Administrative-unit matching"),
    "match_note": (
        "Tỷ lệ mã đơn vị hành chính khớp danh mục (trước và sau sắp xếp 01/07/2025).",
        "Share of administrative-unit codes matched to the catalogue "
        "(before and after the 1 July 2025 reform).",
    ),
    "unit": ("Đơn vị", "Unit"),
    "matched": ("Khớp", "Matched"),
    "match_rate": ("Tỷ lệ khớp", "Match rate"),
    "rejected": ("Tệp bị từ chối", "Rejected files"),
    "no_rejected": ("Không có tệp nào bị từ chối.", "No file was rejected."),
    "file": ("Tệp", "File"),
    "versions": ("Phiên bản bảng đã ghi", "Table versions written"),
    "no_versions": ("Lượt chạy không ghi bảng nào.", "The run wrote no table."),
    "table": ("Bảng", "Table"),
    "version": ("Phiên bản", "Version"),
    "gold_skipped": ("Gold không dựng lại: {reason}", "Gold not rebuilt: {reason}"),
    "timings": ("Thời gian từng giai đoạn", "Stage timings"),
    "timings_note": (
        "Giây; các bộ dữ liệu chạy song song nên tổng theo bộ dữ liệu có thể vượt thời lượng lượt chạy.",
        "Seconds; datasets run concurrently, so their stages can add up to more than the run's duration.",
    ),
    "whole_run": ("Toàn lượt", "Whole run"),
    "no_timings": ("Không có số đo thời gian.", "No timings recorded."),
    "more_items": ("… và {n} mục khác", "… and {n} more"),
    "numbers_note": (
        "Số viết theo kiểu Việt Nam: 1.234.567; 12,5%; ngày dd/MM/yyyy.",
        "Numbers use the Vietnamese style: 1.234.567 is 1,234,567; 12,5% is 12.5%; dates are dd/MM/yyyy.",
    ),
    "toggle": ("English", "Tiếng Việt"),
    "seconds": ("giây", "s"),
}

RUN_STATUS = {
    "succeeded": ("Thành công", "Succeeded"),
    "failed": ("Có vấn đề", "Finished with problems"),
    "running": ("Đang chạy", "Running"),
}
DATASET_STATUS = {
    "ok": ("Hoàn tất", "Done"),
    "nothing-new": ("Không có dữ liệu mới", "Nothing new"),
    "blocked": ("Lô bị giữ ở bronze", "Batch held in bronze"),
    "failed": ("Lỗi", "Failed"),
}
SEVERITY = {
    "fail": ("Chặn lô", "Blocks the batch"),
    "quarantine": ("Cách ly dòng", "Quarantines the row"),
    "warn": ("Cảnh báo", "Warning"),
}
SEVERITY_RANK = {"fail": 0, "quarantine": 1, "warn": 2}
STAGES = {
    "ingest": ("Nạp vào bronze", "Ingest to bronze"),
    "standardise+validate": ("Chuẩn hoá + kiểm tra", "Standardise + validate"),
    "quarantine": ("Ghi cách ly", "Write quarantine"),
    "merge": ("Hợp nhất silver", "Merge into silver"),
    "datasets": ("Các bộ dữ liệu", "All datasets"),
    "gold": ("Dựng gold", "Build gold"),
    "pii_scan": ("Quét định danh thô", "Raw-identifier scan"),
}


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def bilingual(vi: str, en: str) -> str:
    """Both languages, escaped; the stylesheet shows the one the reader chose."""
    if vi == en:
        return esc(vi)
    return f'<span class="vi">{esc(vi)}</span><span class="en">{esc(en)}</span>'


def label(key: str, **values: object) -> str:
    vi, en = LABELS[key]
    return bilingual(vi.format(**values), en.format(**values))


def translated(table: Mapping[str, tuple[str, str]], key: str) -> str:
    """A known code in both languages; an unknown one shown as it is."""
    vi, en = table.get(key, (key, key))
    return bilingual(vi, en)


# --------------------------------------------------------------------------------------------------------
# Vietnamese number and date formats.


def format_int(value: float | int | None) -> str:
    """1234567 → '1.234.567'."""
    if value is None:
        return "—"
    return f"{round(value):,}".replace(",", ".")


def format_decimal(value: float | None, digits: int = 1) -> str:
    """1234.5 → '1.234,5'."""
    if value is None or math.isnan(value):
        return "—"
    text = f"{value:,.{digits}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def format_percent(ratio: float | None, digits: int = 1) -> str:
    """0.125 → '12,5%'. A rate that rounds to 100% or 0% without being it says so ('>99,9%', '<0,1%')."""
    if ratio is None or math.isnan(ratio):
        return "—"
    text = format_decimal(ratio * 100, digits)
    step = format_decimal(10.0**-digits, digits)
    if ratio < 1 and text == format_decimal(100.0, digits):
        return f">{format_decimal(100 - 10.0**-digits, digits)}%"
    if ratio > 0 and text == format_decimal(0.0, digits):
        return f"<{step}%"
    return f"{text}%"


def _moment(text: str | None) -> dt.datetime | dt.date | None:
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(VIETNAM)  # the province's clock, whatever zone the ledger was written in
    return moment


def format_date(text: str | None) -> str:
    """'2025-06-29' or an ISO date-time → '29/06/2025'."""
    moment = _moment(text)
    return moment.strftime("%d/%m/%Y") if moment else esc(text or "—")


def format_datetime(text: str | None) -> str:
    """An ISO date-time → '29/11/2026 16:33:13' (Vietnam time)."""
    moment = _moment(text)
    return moment.strftime("%d/%m/%Y %H:%M:%S") if moment else esc(text or "—")


def format_duration(seconds: float | None) -> tuple[str, str]:
    """(Vietnamese, English): 249.86 → ('4 phút 10 giây', '4 min 10 s'); under a minute keeps a decimal."""
    if seconds is None:
        return "—", "—"
    if seconds < 60:
        number = format_decimal(seconds, 1)
        return f"{number} giây", f"{number} s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} giờ {minutes} phút", f"{hours} h {minutes} min"
    return f"{minutes} phút {secs} giây", f"{minutes} min {secs} s"


def run_date(run: Mapping[str, Any]) -> str:
    """dd/MM/yyyy of a run's start, from the ledger or else from the run id's sortable prefix."""
    if _moment(run.get("started_at")):
        return format_date(run.get("started_at"))
    match = re.match(r"(\d{4})(\d{2})(\d{2})T", str(run.get("run_id", "")))
    return f"{match[3]}/{match[2]}/{match[1]}" if match else "—"


# --------------------------------------------------------------------------------------------------------
# Figures: ledger dicts → what the page shows.


@dataclass(frozen=True)
class DatasetInfo:
    agency: str
    title_vi: str
    title_en: str


@functools.cache
def dataset_info(name: str) -> DatasetInfo:
    """Agency and title from the dataset's contract; an unknown dataset stands for itself."""
    from jobs.datasets import get_dataset  # pulls in pyspark's Python modules (no JVM); only when needed

    try:
        contract = get_dataset(name).contract
    except KeyError:
        return DatasetInfo(name, name, name)
    vi, _, en = contract.title.partition(" / ")
    return DatasetInfo(contract.agency, vi or name, en or vi or name)


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


@dataclass(frozen=True)
class DatasetFlow:
    dataset: str
    status: str
    files_total: int
    files_ingested: int
    files_rejected: int
    rows_read: int
    rows_in_bronze: int  # rows the ingested files put in bronze (the per-file side of conservation)
    bronze_rows: int  # rows of the batches validated in this run
    valid: int
    quarantined: int
    warned: int
    inserted: int
    updated: int
    ledger_conserved: bool

    @property
    def read_equals_bronze(self) -> bool:
        return self.rows_read == self.rows_in_bronze

    @property
    def batch_balances(self) -> bool:
        return self.bronze_rows == self.valid + self.quarantined

    @property
    def conserved(self) -> bool:
        return self.read_equals_bronze and self.batch_balances and self.ledger_conserved


def dataset_flows(run: Mapping[str, Any]) -> list[DatasetFlow]:
    flows = []
    for outcome in run.get("datasets") or []:
        files = outcome.get("files") or []
        ingested = [f for f in files if f.get("status") == "ingested"]
        flows.append(
            DatasetFlow(
                dataset=str(outcome.get("dataset", "?")),
                status=str(outcome.get("status", "?")),
                files_total=len(files),
                files_ingested=len(ingested),
                files_rejected=sum(f.get("status") == "rejected" for f in files),
                rows_read=sum(_int(f.get("rows_read")) for f in ingested),
                rows_in_bronze=sum(_int(f.get("rows_in_bronze")) for f in ingested),
                bronze_rows=_int(outcome.get("bronze_rows")),
                valid=_int(outcome.get("valid")),
                quarantined=_int(outcome.get("quarantined")),
                warned=_int(outcome.get("warned")),
                inserted=_int(outcome.get("inserted")),
                updated=_int(outcome.get("updated")),
                ledger_conserved=outcome.get("conserved", True) is not False,
            )
        )
    return flows


@dataclass(frozen=True)
class FailedRule:
    dataset: str
    rule_id: str
    severity: str
    column: str | None
    evaluated: int
    failed: int
    message_vi: str
    message_en: str
    batch_dates: tuple[str, ...]

    @property
    def pass_rate(self) -> float | None:
        return None if self.evaluated <= 0 else (self.evaluated - self.failed) / self.evaluated


def failed_rules(run: Mapping[str, Any]) -> list[FailedRule]:
    """Rules with failing rows, summed over the run's batches, most rows first (then the harsher severity).

    Ledgers written before per-rule results existed only have `rule_failures`: those rules appear with an
    unknown severity and no message rather than not at all.
    """
    found: list[FailedRule] = []
    for outcome in run.get("datasets") or []:
        dataset = str(outcome.get("dataset", "?"))
        merged: dict[str, dict[str, Any]] = {}
        for result in outcome.get("rule_results") or []:
            rule_id = str(result.get("rule_id", "?"))
            entry = merged.setdefault(
                rule_id,
                {"severity": result.get("severity") or "?", "column": result.get("column"),
                 "evaluated": 0, "failed": 0, "vi": result.get("message_vi") or "",
                 "en": result.get("message_en") or "", "batches": []},
            )  # fmt: skip
            entry["evaluated"] += _int(result.get("evaluated"))
            entry["failed"] += _int(result.get("failed"))
            if _int(result.get("failed")) and result.get("batch_date"):
                entry["batches"].append(str(result["batch_date"]))
        for rule_id, count in (outcome.get("rule_failures") or {}).items():
            if rule_id not in merged:
                merged[rule_id] = {"severity": "?", "column": None, "evaluated": 0, "failed": _int(count),
                                   "vi": "", "en": "", "batches": []}  # fmt: skip
        for rule_id, entry in merged.items():
            if entry["failed"] > 0:
                batches = tuple(sorted(set(entry["batches"])))
                found.append(
                    FailedRule(dataset, rule_id, entry["severity"], entry["column"], entry["evaluated"],
                               entry["failed"], entry["vi"], entry["en"], batches)
                )  # fmt: skip
    return sorted(found, key=lambda r: (-r.failed, SEVERITY_RANK.get(r.severity, 3), r.dataset, r.rule_id))


@dataclass(frozen=True)
class AgencyQuarantine:
    agency: str
    datasets: tuple[str, ...]
    quarantined: int
    reasons: tuple[FailedRule, ...]  # quarantine-severity rules with failing rows, most rows first


def quarantine_by_agency(
    run: Mapping[str, Any], agency_of: Callable[[str], str] = lambda name: dataset_info(name).agency
) -> list[AgencyQuarantine]:
    totals: dict[str, int] = {}
    datasets: dict[str, list[str]] = {}
    for flow in dataset_flows(run):
        agency = agency_of(flow.dataset)
        totals[agency] = totals.get(agency, 0) + flow.quarantined
        datasets.setdefault(agency, []).append(flow.dataset)
    reasons: dict[str, list[FailedRule]] = {}
    for rule in failed_rules(run):
        if rule.severity == "quarantine":
            reasons.setdefault(agency_of(rule.dataset), []).append(rule)
    groups = [
        AgencyQuarantine(agency, tuple(datasets[agency]), totals[agency], tuple(reasons.get(agency, [])))
        for agency in totals
        if totals[agency] or reasons.get(agency)
    ]
    return sorted(groups, key=lambda g: (-g.quarantined, g.agency))


@dataclass(frozen=True)
class MatchRate:
    dataset: str
    unit: str
    matched: int
    total: int

    @property
    def rate(self) -> float | None:
        return None if self.total <= 0 else self.matched / self.total


def match_rates(run: Mapping[str, Any]) -> list[MatchRate]:
    """`match_rates` of each dataset outcome: {unit: {"matched": n, "total": m}}; absent → nothing."""
    rates = []
    for outcome in run.get("datasets") or []:
        entries = outcome.get("match_rates")
        if not isinstance(entries, Mapping):
            continue
        for unit, counts in entries.items():
            if isinstance(counts, Mapping):
                rates.append(
                    MatchRate(str(outcome.get("dataset", "?")), str(unit), _int(counts.get("matched")),
                              _int(counts.get("total")))
                )  # fmt: skip
    return rates


@dataclass(frozen=True)
class RejectedFile:
    dataset: str
    path: str
    reason: str


def rejected_files(run: Mapping[str, Any]) -> list[RejectedFile]:
    return [
        RejectedFile(str(o.get("dataset", "?")), redact(str(f.get("relative_path", ""))),
                     redact(str(f.get("reason") or "")))
        for o in run.get("datasets") or []
        for f in o.get("files") or []
        if f.get("status") == "rejected"
    ]  # fmt: skip


def table_versions(run: Mapping[str, Any]) -> list[tuple[str, int]]:
    versions: dict[str, int] = {}
    for outcome in run.get("datasets") or []:
        for table, version in (outcome.get("table_versions") or {}).items():
            versions[str(table)] = _int(version)
    marts = run.get("marts") or {}
    for table, version in (marts.get("versions") or {}).items():
        versions[str(table)] = _int(version)
    return sorted(versions.items())


def dataset_pass_rate(outcome: Mapping[str, Any]) -> float | None:
    """Valid over bronze rows for one run; None when the run validated nothing for the dataset."""
    bronze_rows = _int(outcome.get("bronze_rows"))
    return None if bronze_rows <= 0 else _int(outcome.get("valid")) / bronze_rows


@dataclass(frozen=True)
class Trend:
    run_ids: tuple[str, ...]
    dates: tuple[str, ...]  # dd/MM/yyyy per run
    series: dict[str, tuple[float | None, ...]]  # dataset → pass rate per run, None for a gap


def pass_rate_trend(history: Sequence[Mapping[str, Any]]) -> Trend:
    """Pass rate per dataset over the given runs (oldest first); datasets in order of first appearance."""
    names: list[str] = []
    for run in history:
        for outcome in run.get("datasets") or []:
            if outcome.get("dataset") not in names:
                names.append(str(outcome.get("dataset")))
    series: dict[str, list[float | None]] = {name: [] for name in names}
    for run in history:
        by_name = {str(o.get("dataset")): o for o in run.get("datasets") or []}
        for name in names:
            outcome = by_name.get(name)
            series[name].append(dataset_pass_rate(outcome) if outcome else None)
    return Trend(
        tuple(str(r.get("run_id", "?")) for r in history),
        tuple(run_date(r) for r in history),
        {name: tuple(values) for name, values in series.items()},
    )


def stage_rows(run: Mapping[str, Any]) -> list[tuple[tuple[str, str], dict[str, float]]]:
    """((label vi, label en), {stage: seconds}) per dataset, then the run's own stages."""
    rows: list[tuple[tuple[str, str], dict[str, float]]] = []
    for outcome in run.get("datasets") or []:
        stages = {str(k): float(v) for k, v in (outcome.get("stage_seconds") or {}).items() if v is not None}
        if stages:
            name = str(outcome.get("dataset", "?"))
            rows.append(((name, name), stages))
    run_stages = {str(k): float(v) for k, v in (run.get("stage_seconds") or {}).items() if v is not None}
    if run_stages:
        rows.append((LABELS["whole_run"], run_stages))
    return rows


# --------------------------------------------------------------------------------------------------------
# Charts: inline SVG strings.


def _nice_step(span: float, target_ticks: int = 5) -> float:
    raw = span / max(target_ticks, 1)
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for multiple in (1, 2, 5, 10):
        if raw <= multiple * magnitude:
            return multiple * magnitude
    return 10 * magnitude


def trend_chart_svg(trend: Trend, width: int = 760, height: int = 260) -> str:
    """Line chart of pass rates (%), one line per dataset; gaps where a run validated nothing."""
    left, right, top, bottom = 56, 16, 12, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for series in trend.series.values() for v in series if v is not None]
    if not values:
        return ""
    low = min(values)
    # Pass rates sit near 100%: zoom on the band the values use, with some room below and at least a
    # one-point window, starting on a round tick.
    lowest_pct = min(low * 100 - max(0.25, (100 - low * 100) * 0.15), 99.0)
    step = _nice_step(100 - lowest_pct, 4)
    floor_pct = max(0.0, math.floor(lowest_pct / step + 1e-9) * step)
    tick_digits = 0 if step >= 1 else 1 if step >= 0.1 else 2
    count = len(trend.run_ids)

    def x_at(index: int) -> float:
        return left + (plot_w / 2 if count == 1 else plot_w * index / (count - 1))

    def y_at(ratio: float) -> float:
        return top + plot_h * (100 - ratio * 100) / (100 - floor_pct)

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'preserveAspectRatio="xMidYMid meet">'
    ]
    tick = floor_pct
    while tick <= 100 + 1e-9:
        y = y_at(tick / 100)
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">'
            f"{format_decimal(tick, tick_digits)}%</text>"
        )
        tick += step
    label_every = max(1, math.ceil(count / 8))
    for index, date in enumerate(trend.dates):
        if index % label_every == 0 or index == count - 1:
            parts.append(
                f'<text x="{x_at(index):.1f}" y="{height - 10}" class="axis" text-anchor="middle">'
                f"{esc(date[:5])}</text>"
            )
    for colour, (name, series) in zip(_cycle(PALETTE, len(trend.series)), trend.series.items(), strict=True):
        segment: list[str] = []
        segments: list[list[str]] = []
        for index, value in enumerate(series):
            if value is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            segment.append(f"{x_at(index):.1f},{y_at(value):.1f}")
        if segment:
            segments.append(segment)
        for points in segments:
            if len(points) > 1:
                parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" '
                             f'stroke-width="2"/>')  # fmt: skip
        for index, value in enumerate(series):
            if value is not None:
                current = index == count - 1
                parts.append(
                    f'<circle cx="{x_at(index):.1f}" cy="{y_at(value):.1f}" r="{4.5 if current else 3}" '
                    f'fill="{colour}"><title>{esc(name)} — {esc(trend.dates[index])} — '
                    f"{esc(trend.run_ids[index])}: {format_percent(value, 2)}</title></circle>"
                )
    parts.append("</svg>")
    return "".join(parts)


def _cycle(colours: Sequence[str], count: int) -> list[str]:
    return [colours[i % len(colours)] for i in range(count)]


def stage_colours(rows: Sequence[tuple[tuple[str, str], Mapping[str, float]]]) -> dict[str, str]:
    order = [s for s in STAGES if any(s in stages for _, stages in rows)]
    order += sorted({s for _, stages in rows for s in stages} - set(order))
    return dict(zip(order, _cycle(PALETTE, len(order)), strict=True))


def stage_chart_svg(rows: Sequence[tuple[tuple[str, str], Mapping[str, float]]], width: int = 760) -> str:
    """Horizontal stacked bars: one per dataset (its stages) and one for the whole run."""
    if not rows:
        return ""
    colours = stage_colours(rows)
    left, right, top, bar_h, gap, axis_h = 130, 24, 8, 22, 10, 26
    height = top + len(rows) * (bar_h + gap) + axis_h
    plot_w = width - left - right
    longest = max(sum(stages.values()) for _, stages in rows) or 1.0
    step = _nice_step(longest)
    scale_max = math.ceil(longest / step) * step
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'preserveAspectRatio="xMidYMid meet">'
    ]
    tick = 0.0
    axis_y = top + len(rows) * (bar_h + gap)
    while tick <= scale_max + 1e-9:
        x = left + plot_w * tick / scale_max
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{axis_y}" class="grid"/>'
            f'<text x="{x:.1f}" y="{axis_y + 16}" class="axis" text-anchor="middle">'
            f"{format_decimal(tick, 0 if tick == int(tick) else 1)}</text>"
        )
        tick += step
    for row, ((name_vi, name_en), stages) in enumerate(rows):
        y = top + row * (bar_h + gap)
        for css, text in (("vi", name_vi), ("en", name_en)) if name_vi != name_en else (("", name_vi),):
            parts.append(
                f'<text x="{left - 8}" y="{y + bar_h / 2 + 4:.1f}" class="axis {css}" '
                f'text-anchor="end">{esc(text)}</text>'
            )
        x = float(left)
        for stage in colours:
            seconds = stages.get(stage)
            if not seconds:
                continue
            bar_w = plot_w * seconds / scale_max
            stage_vi, stage_en = STAGES.get(stage, (stage, stage))
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{max(bar_w, 0.5):.1f}" height="{bar_h}" '
                f'fill="{colours[stage]}"><title>{esc(name_vi)} — {esc(stage_vi)} / {esc(stage_en)}: '
                f"{format_decimal(seconds, 1)} s</title></rect>"
            )
            x += bar_w
        parts.append(
            f'<text x="{x + 4:.1f}" y="{y + bar_h / 2 + 4:.1f}" class="axis">'
            f"{format_decimal(sum(stages.values()), 1)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def legend(entries: Sequence[tuple[str, str]]) -> str:
    """(colour, label HTML) pairs as a row of swatches."""
    items = "".join(
        f'<li><span class="swatch" style="background:{colour}"></span>{text}</li>' for colour, text in entries
    )
    return f'<ul class="legend">{items}</ul>'


# --------------------------------------------------------------------------------------------------------
# HTML sections.


def _check(ok: bool, equation: str) -> str:
    mark = '<span class="ok">✓</span>' if ok else '<span class="bad">✗</span>'
    return f'<span class="check {"ok" if ok else "bad"}">{equation} {mark}</span>'


def _num(value: int, key: str | None = None) -> str:
    data = f' data-metric="{esc(key)}"' if key else ""
    return f'<td class="num"{data}>{format_int(value)}</td>'


def breakable_id(identifier: str) -> str:
    """Escaped, with line-break opportunities after the dots of `dataset.column.check` ids."""
    return esc(identifier).replace(".", ".<wbr>")


def _table(head: str, rows: Sequence[str]) -> str:
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    return f'<div class="scroll">{table}</div>'


def _message(rule: FailedRule) -> str:
    """The rule's message in both languages; a ledger with only one language shows it for both."""
    return bilingual(rule.message_vi or rule.message_en, rule.message_en or rule.message_vi)


def _more(count: int) -> str:
    return f'<p class="note">{label("more_items", n=format_int(count))}</p>' if count > 0 else ""


def section(anchor: str, title_key: str, body: str, note: str = "") -> str:
    note_html = f'<p class="note">{note}</p>' if note else ""
    return f'<section id="{anchor}"><h2>{label(title_key)}</h2>{note_html}{body}</section>'


def header_html(run: Mapping[str, Any], generated_at: dt.datetime) -> str:
    status = str(run.get("status", "?"))
    duration_vi, duration_en = format_duration(run.get("duration_s"))
    facts = [
        ("run_id", f'<code data-metric="run_id">{esc(run.get("run_id", "?"))}</code>'),
        ("status", f'<span class="badge {esc(status)}" data-metric="status">{translated(RUN_STATUS, status)}'
                   "</span>"),
        ("started", f'<span data-metric="started_at">{format_datetime(run.get("started_at"))}</span>'),
        ("finished", f'<span data-metric="finished_at">{format_datetime(run.get("finished_at"))}</span>'),
        ("duration", f'<span data-metric="duration">{bilingual(duration_vi, duration_en)}</span>'),
    ]  # fmt: skip
    items = "".join(f"<div><dt>{label(key)}</dt><dd>{value}</dd></div>" for key, value in facts)
    return (
        '<header><div class="titles">'
        f'<h1 id="page-title">{label("title")}</h1><p class="subtitle">{label("subtitle")}</p></div>'
        f'<button id="lang-toggle" type="button" aria-label="Ngôn ngữ / Language">{label("toggle")}</button>'
        f'</header><dl class="facts">{items}</dl>'
        f'<p class="note">{label("generated")}: {generated_at.strftime("%d/%m/%Y %H:%M:%S")} · '
        f"{label('numbers_note')}</p>"
    )


def cards_html(flows: Sequence[DatasetFlow], rejected: Sequence[RejectedFile], problems: int) -> str:
    read = sum(f.rows_read for f in flows)
    bronze_rows = sum(f.bronze_rows for f in flows)
    valid = sum(f.valid for f in flows)
    quarantined = sum(f.quarantined for f in flows)
    cards = [
        ("rows_read", format_int(read), "total.rows_read", ""),
        ("valid", format_int(valid), "total.valid",
         format_percent(valid / bronze_rows) if bronze_rows else ""),
        ("quarantined", format_int(quarantined), "total.quarantined",
         format_percent(quarantined / bronze_rows) if bronze_rows else ""),
        ("rejected_files", format_int(len(rejected)), "total.rejected_files", ""),
        ("problems", format_int(problems), "total.problems", ""),
    ]  # fmt: skip
    items = [
        f'<div class="card{" alert" if key in ("rejected_files", "problems") and value != "0" else ""}">'
        f'<div class="card-label">{label(key)}</div>'
        f'<div class="card-value" data-metric="{metric}">{value}</div><div class="card-sub">{sub}</div></div>'
        for key, value, metric, sub in cards
    ]
    return f'<div class="cards">{"".join(items)}</div>'


def problems_html(problems: Sequence[str]) -> str:
    if not problems:
        return section("problems", "problems", f'<p class="good">{label("no_problems")}</p>')
    items = "".join(f"<li>{esc(redact(str(p)))}</li>" for p in problems[:MAX_LISTED_ITEMS])
    body = f'<ul class="problems">{items}</ul>{_more(len(problems) - MAX_LISTED_ITEMS)}'
    return section("problems", "problems", body, label("problems_note"))


def flow_table_html(flows: Sequence[DatasetFlow], info: Callable[[str], DatasetInfo] = dataset_info) -> str:
    head = "".join(
        f"<th{' class=num' if key not in ('dataset', 'agency', 'status') else ''}>{label(key)}</th>"
        for key in ("dataset", "agency", "status", "files", "rows_read", "bronze", "valid", "quarantined",
                    "warned", "inserted", "updated")
    ) + (f"<th>{label('conservation')}<div class=small>{label('check_read')}<br>{label('check_batch')}</div>"
         "</th>")  # fmt: skip
    rows = []
    for f in flows:
        meta = info(f.dataset)
        key = f.dataset
        rows.append(
            f'<tr class="{"" if f.conserved else "violation"}">'
            f"<td><strong>{esc(f.dataset)}</strong>"
            f'<div class="small">{bilingual(meta.title_vi, meta.title_en)}</div></td>'
            f'<td class="nowrap">{esc(meta.agency)}</td>'
            f'<td><span class="pill {esc(f.status)}">{translated(DATASET_STATUS, f.status)}</span></td>'
            f'<td class="num">{format_int(f.files_ingested)}/{format_int(f.files_total)}</td>'
            + _num(f.rows_read, f"{key}.rows_read")
            + _num(f.bronze_rows, f"{key}.bronze_rows")
            + _num(f.valid, f"{key}.valid")
            + _num(f.quarantined, f"{key}.quarantined")
            + _num(f.warned, f"{key}.warned")
            + _num(f.inserted, f"{key}.inserted")
            + _num(f.updated, f"{key}.updated")
            + f'<td><div data-metric="{esc(key)}.check_read">'
            + _check(f.read_equals_bronze, f"{format_int(f.rows_read)} = {format_int(f.rows_in_bronze)}")
            + f'</div><div data-metric="{esc(key)}.check_batch">'
            + _check(
                f.batch_balances and f.ledger_conserved,
                f"{format_int(f.bronze_rows)} = {format_int(f.valid)} + {format_int(f.quarantined)}",
            )
            + "</div></td></tr>"
        )
    if len(flows) > 1:
        columns = ("rows_read", "bronze_rows", "valid", "quarantined", "warned", "inserted", "updated")
        sums = [sum(getattr(f, name) for f in flows) for name in columns]
        rows.append(
            f'<tr class="total"><td colspan="4">{label("total")}</td>'
            + "".join(f'<td class="num">{format_int(v)}</td>' for v in sums)
            + "<td></td></tr>"
        )
    body = _table(head, rows)
    return section("flow", "flow", body, label("flow_note"))


def batch_dates_html(dates: Sequence[str], listed: int = 3) -> str:
    """A few batch dates in full; a backfill's hundreds as their count and range."""
    if not dates:
        return "—"
    if len(dates) <= listed:
        return ", ".join(format_date(d) for d in dates)
    count = format_int(len(dates))
    span = f"{format_date(dates[0])} – {format_date(dates[-1])}"
    return f"{bilingual(f'{count} lô', f'{count} batches')}: {span}"


def rules_html(rules: Sequence[FailedRule], data_docs: bool) -> str:
    if not rules:
        return section("rules", "rules", f'<p class="good">{label("no_rules")}</p>')
    docs_head = f"<th>{label('data_docs')}</th>" if data_docs else ""
    head = (
        f"<th>#</th><th>{label('rule')}</th><th>{label('severity')}</th><th>{label('message')}</th>"
        f"<th class=num>{label('failed_rows')}</th><th class=num>{label('evaluated')}</th>"
        f"<th class=num>{label('pass_rate')}</th><th>{label('batches')}</th>{docs_head}"
    )
    rows = []
    for rank, rule in enumerate(rules, start=1):
        docs = (
            f'<td class="nowrap"><a href="{DATA_DOCS_FROM_REPORTS}">{label("open_data_docs")} ↗</a></td>'
            if data_docs
            else ""
        )
        column = ""
        if rule.column:
            column = f'<div class="small">{label("column")}: <code>{esc(rule.column)}</code></div>'
        message = _message(rule)
        rows.append(
            f'<tr data-rule="{esc(rule.rule_id)}"><td class="num">{rank}</td>'
            f'<td class="rule-cell"><code>{breakable_id(rule.rule_id)}</code>{column}</td>'
            f'<td><span class="sev {esc(rule.severity)}">{translated(SEVERITY, rule.severity)}</span></td>'
            f"<td>{message}</td>"
            f'<td class="num" data-metric="{esc(rule.rule_id)}.failed">{format_int(rule.failed)}</td>'
            f'<td class="num">{format_int(rule.evaluated) if rule.evaluated else "—"}</td>'
            f'<td class="num">{format_percent(rule.pass_rate, 2)}</td>'
            f'<td class="small">{batch_dates_html(rule.batch_dates)}</td>{docs}</tr>'
        )
    body = _table(head, rows)
    return section("rules", "rules", body, label("rules_note"))


def trend_html(trend: Trend) -> str:
    chart = trend_chart_svg(trend)
    if not chart:
        return section("trend", "trend", f'<p class="note">{label("no_trend")}</p>')
    colours = _cycle(PALETTE, len(trend.series))
    names = list(trend.series)
    table_head = f"<th>{label('run')}</th><th>{label('date')}</th>" + "".join(
        f"<th class=num>{esc(name)}</th>" for name in names
    )
    table_rows = "".join(
        f"<tr><td><code>{esc(run_id)}</code></td><td>{esc(date)}</td>"
        + "".join(f'<td class="num">{format_percent(trend.series[n][i], 2)}</td>' for n in names)
        + "</tr>"
        for i, (run_id, date) in enumerate(zip(trend.run_ids, trend.dates, strict=True))
    )
    body = (
        f"<figure>{chart}{legend(list(zip(colours, [esc(n) for n in names], strict=True)))}</figure>"
        f"<details><summary>{label('trend_table')}</summary><div class=scroll><table><thead><tr>{table_head}"
        f"</tr></thead><tbody>{table_rows}</tbody></table></div></details>"
    )
    return section("trend", "trend", body, label("trend_note", n=len(trend.run_ids)))


def quarantine_html(groups: Sequence[AgencyQuarantine]) -> str:
    if not groups:
        return section("quarantine", "quarantine", f'<p class="good">{label("no_quarantine")}</p>')
    widest = max([g.quarantined for g in groups] + [r.failed for g in groups for r in g.reasons]) or 1
    rows = []
    for group in groups:
        rows.append(
            f'<tr class="group"><td><strong>{esc(group.agency)}</strong></td>'
            f"<td>{esc(', '.join(group.datasets))}</td><td>{label('total')}</td>"
            f'<td class="num" data-metric="agency.{esc(group.agency)}.quarantined">'
            f"{format_int(group.quarantined)}</td><td>{_bar(group.quarantined, widest)}</td></tr>"
        )
        for reason in group.reasons:
            message = _message(reason)
            rows.append(
                f"<tr><td></td><td>{esc(reason.dataset)}</td><td><code>{breakable_id(reason.rule_id)}</code>"
                f'<div class="small">{message}</div></td><td class="num">{format_int(reason.failed)}</td>'
                f"<td>{_bar(reason.failed, widest)}</td></tr>"
            )
    head = (
        f"<th>{label('agency')}</th><th>{label('dataset')}</th><th>{label('reason')}</th>"
        f"<th class=num>{label('rows')}</th><th></th>"
    )
    body = _table(head, rows)
    return section("quarantine", "quarantine", body, label("quarantine_note"))


def _bar(value: int, widest: int) -> str:
    return f'<span class="bar" style="width:{max(1.0, 160 * value / widest):.0f}px"></span>'


def match_rates_html(rates: Sequence[MatchRate]) -> str:
    """Optional: only when the ledger carries match rates."""
    if not rates:
        return ""
    rows = "".join(
        f"<tr><td>{esc(r.dataset)}</td><td><code>{esc(r.unit)}</code></td>"
        f'<td class="num">{format_int(r.matched)}</td><td class="num">{format_int(r.total)}</td>'
        f'<td class="num" data-metric="match.{esc(r.dataset)}.{esc(r.unit)}">{format_percent(r.rate)}</td>'
        f'<td><span class="meter"><span style="width:{100 * (r.rate or 0):.1f}%"></span></span></td></tr>'
        for r in rates
    )
    head = (
        f"<th>{label('dataset')}</th><th>{label('unit')}</th><th class=num>{label('matched')}</th>"
        f"<th class=num>{label('total')}</th><th class=num>{label('match_rate')}</th><th></th>"
    )
    body = f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'
    return section("match", "match", body, label("match_note"))


def rejected_html(files: Sequence[RejectedFile]) -> str:
    if not files:
        return section("rejected", "rejected", f'<p class="good">{label("no_rejected")}</p>')
    rows = "".join(
        f"<tr><td>{esc(f.dataset)}</td><td><code>{esc(f.path)}</code></td><td>{esc(f.reason)}</td></tr>"
        for f in files[:MAX_LISTED_ITEMS]
    )
    head = f"<th>{label('dataset')}</th><th>{label('file')}</th><th>{label('reason')}</th>"
    body = (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'
        + _more(len(files) - MAX_LISTED_ITEMS)
    )
    return section("rejected", "rejected", body)


def versions_html(run: Mapping[str, Any]) -> str:
    versions = table_versions(run)
    marts = run.get("marts") or {}
    notes = ""
    if marts.get("skipped"):
        notes += f'<p class="note">{label("gold_skipped", reason=str(marts["skipped"]))}</p>'
    if not versions:
        return section("versions", "versions", f'<p class="note">{label("no_versions")}</p>{notes}')
    rows = "".join(
        f'<tr><td><code>{esc(table)}</code></td><td class="num" data-metric="version.{esc(table)}">'
        f"{format_int(version)}</td></tr>"
        for table, version in versions
    )
    head = f"<th>{label('table')}</th><th class=num>{label('version')}</th>"
    body = f'<table class="narrow"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{notes}'
    return section("versions", "versions", body)


def timings_html(run: Mapping[str, Any]) -> str:
    rows = stage_rows(run)
    if not rows:
        return section("timings", "timings", f'<p class="note">{label("no_timings")}</p>')
    colours = stage_colours(rows)
    entries = [(colour, translated(STAGES, stage)) for stage, colour in colours.items()]
    body = f"<figure>{stage_chart_svg(rows)}{legend(entries)}</figure>"
    return section("timings", "timings", body, label("timings_note"))


NAV = ("problems", "flow", "rules", "trend", "quarantine", "match", "rejected", "versions", "timings")


def nav_html(present: Sequence[str]) -> str:
    links = "".join(f'<a href="#{anchor}">{label(anchor)}</a>' for anchor in NAV if anchor in present)
    return f"<nav>{links}</nav>"


STYLE = """
:root{--ink:#1f2933;--muted:#52606d;--line:#d9e2ec;--bg:#f5f7fa;--ok:#1b7a3d;--bad:#b42318;--warn:#a15c00;
--accent:#0b5394}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
font:15px/1.45 system-ui,"Segoe UI",Roboto,"Noto Sans","DejaVu Sans","Liberation Sans",Arial,sans-serif}
main{max-width:1180px;margin:0 auto;padding:20px 24px 48px}
.lang-vi .en,.lang-en .vi{display:none!important}
header{display:flex;justify-content:space-between;align-items:flex-start;gap:16px}
h1{margin:0;font-size:26px;color:var(--accent)}
h2{margin:0 0 6px;font-size:19px}
.subtitle{margin:2px 0 0;color:var(--muted)}
#lang-toggle{font:inherit;padding:6px 14px;border:1px solid var(--accent);border-radius:6px;background:#fff;
color:var(--accent);cursor:pointer}
#lang-toggle:hover{background:var(--accent);color:#fff}
.facts{display:flex;flex-wrap:wrap;gap:8px 28px;margin:14px 0 4px}
.facts dt{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.03em}
.facts dd{margin:0;font-weight:600}
.note{color:var(--muted);font-size:13px;margin:4px 0 10px}
.good{color:var(--ok)}
nav{display:flex;flex-wrap:wrap;gap:6px 14px;margin:12px 0;padding:8px 0;border-top:1px solid var(--line);
border-bottom:1px solid var(--line);font-size:14px}
a{color:var(--accent)}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:14px 16px;margin:14px 0}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px;margin:12px 0}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 14px}
.card.alert{border-color:var(--bad)}
.card-label{font-size:13px;color:var(--muted)}
.card-value{font-size:26px;font-weight:700;font-variant-numeric:tabular-nums}
.card.alert .card-value{color:var(--bad)}
.card-sub{font-size:13px;color:var(--muted);min-height:1em}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:14px}
table.narrow{width:auto;min-width:320px}
th,td{padding:6px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:#eef2f7;font-weight:600;font-size:13px}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
th.num{white-space:normal}
tr.total td{font-weight:700;border-top:2px solid var(--ink)}
tr.group td{background:#f8fafc}
tr.violation td{background:#fdecea}
.small{font-size:12px;color:var(--muted)}
code{font:13px/1.3 "DejaVu Sans Mono",Menlo,Consolas,monospace;overflow-wrap:anywhere}
.nowrap{white-space:nowrap}
.rule-cell{min-width:220px}
.badge,.pill,.sev{display:inline-block;padding:1px 8px;border-radius:10px;font-size:13px;font-weight:600;
white-space:nowrap}
.badge.succeeded,.pill.ok{background:#e3f4e8;color:var(--ok)}
.badge.failed,.pill.failed,.pill.blocked{background:#fdecea;color:var(--bad)}
.badge.running,.pill.nothing-new{background:#eef2f7;color:var(--muted)}
.sev.fail{background:var(--bad);color:#fff}.sev.quarantine{background:#fdecea;color:var(--bad)}
.sev.warn{background:#fff4e0;color:var(--warn)}
.check{white-space:nowrap;font-variant-numeric:tabular-nums}
.ok{color:var(--ok);font-weight:700}.bad{color:var(--bad);font-weight:700}
.problems li{margin:2px 0;color:var(--bad)}
.bar{display:inline-block;height:10px;background:var(--bad);opacity:.7;border-radius:2px}
.meter{display:inline-block;width:160px;height:10px;background:#eef2f7;border-radius:2px}
.meter span{display:block;height:100%;background:var(--ok);border-radius:2px}
figure{margin:0}
.chart{max-width:900px;display:block}
.chart .grid{stroke:var(--line);stroke-width:1}
.chart .axis{font-size:12px;fill:var(--muted)}
.legend{list-style:none;display:flex;flex-wrap:wrap;gap:4px 16px;padding:0;margin:6px 0 0;font-size:13px}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;vertical-align:-1px}
details summary{cursor:pointer;color:var(--accent);margin-top:8px;font-size:14px}
@media print{#lang-toggle,nav{display:none}section{break-inside:avoid}}
"""

# The only script: the language toggle, remembered per browser when storage is allowed.
SCRIPT = """
(function(){var root=document.documentElement,key="govlake-report-lang";
function show(lang){root.lang=lang;root.className="lang-"+lang;try{localStorage.setItem(key,lang)}catch(e){}}
var saved=null;try{saved=localStorage.getItem(key)}catch(e){}
if(saved==="en"||saved==="vi"){show(saved)}
document.getElementById("lang-toggle").addEventListener("click",function(){
show(root.lang==="vi"?"en":"vi")});})();
"""

# Nothing may be fetched: no scripts, styles, fonts, images or connections from anywhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)


def render_report(
    run: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]],
    data_docs_available: bool = False,
    generated_at: dt.datetime | None = None,
) -> str:
    """The whole page for `run`; `history` is the runs feeding the trend, oldest first, ending with `run`."""
    generated = (generated_at or dt.datetime.now(VIETNAM)).astimezone(VIETNAM)
    flows = dataset_flows(run)
    rejected = rejected_files(run)
    problems = [str(p) for p in run.get("problems") or []]
    rates = match_rates(run)
    present = [a for a in NAV if a != "match" or rates]
    body = "".join(
        (
            header_html(run, generated),
            nav_html(present),
            cards_html(flows, rejected, len(problems)),
            problems_html(problems),
            flow_table_html(flows),
            rules_html(failed_rules(run), data_docs_available),
            trend_html(pass_rate_trend(history)),
            quarantine_html(quarantine_by_agency(run)),
            match_rates_html(rates),
            rejected_html(rejected),
            versions_html(run),
            timings_html(run),
        )
    )
    title = f"govlake — {run.get('run_id', '?')}"
    return (
        '<!DOCTYPE html><html lang="vi" class="lang-vi"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer"><link rel="icon" href="data:,">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main><script>{SCRIPT}</script></body></html>"
    )


# --------------------------------------------------------------------------------------------------------
# I/O: ledger in, report files out.


def _local_root(lake_root: str) -> Path:
    if lake_root.startswith("file://"):
        return Path(lake_root.removeprefix("file://"))
    if "://" in lake_root:
        raise ValueError(
            f"the run report is written to a local lake only; {lake_root!r} is a remote URI "
            "(copy _ops/runs/ locally and run `govlake report --lake <local copy>`)"
        )
    return Path(lake_root)


def load_history(runs_dir: Path, run_id: str, limit: int = TREND_RUNS) -> list[dict[str, Any]]:
    """The ledger of `run_id` and up to `limit - 1` runs before it, oldest first.

    Run ids sort by start time, so only the last `limit` files are opened however long the history. An
    unreadable earlier ledger leaves a gap in the trend rather than failing the report.
    """
    run_ids = list_run_ids(str(runs_dir))
    if run_id not in run_ids:
        raise FileNotFoundError(f"no run ledger {runs_dir / (run_id + '.json')}")
    position = run_ids.index(run_id)
    history = []
    for earlier in run_ids[max(0, position - limit + 1) : position + 1]:
        path = runs_dir / f"{earlier}.json"
        try:
            history.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as error:
            if earlier == run_id:
                raise
            log.warning("run report: skipped unreadable ledger %s: %s", path, error)
    return history


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)  # a browser refreshing the page never sees half a report


def build_report(lake_root: str, run_id: str | None = None) -> Path:
    """Write `_reports/<run_id>.html` (default: the latest run) and return its path.

    `_reports/latest.html` gets the same page when the run is the newest in the ledger, so regenerating
    an old run's report never makes `latest.html` go back in time.
    """
    root = _local_root(lake_root)
    runs_dir = root / "_ops" / "runs"
    run_ids = list_run_ids(str(runs_dir))
    if not run_ids:
        raise FileNotFoundError(f"no run ledger in {runs_dir}: run `govlake run` first")
    run_id = run_id or run_ids[-1]
    if not _RUN_ID_SHAPE.match(run_id):
        raise ValueError(f"not a run id: {run_id!r}")
    history = load_history(runs_dir, run_id)
    data_docs = (root / "_quality" / "data_docs" / "index.html").is_file()  # = DATA_DOCS_FROM_REPORTS
    page = render_report(history[-1], history, data_docs_available=data_docs)
    reports_dir = root / "_reports"
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / f"{run_id}.html"
    _write_atomically(path, page)
    if run_id == run_ids[-1]:
        _write_atomically(reports_dir / LATEST_NAME, page)
    size = len(page.encode("utf-8"))
    if size > SIZE_LIMIT_BYTES:
        log.warning("run report %s is %d bytes, over the %d-byte budget", path, size, SIZE_LIMIT_BYTES)
    return path
