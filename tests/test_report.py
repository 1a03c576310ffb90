"""The run report: formatting, the figures taken from the ledger, escaping, files written, size and speed."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from jobs import report
from jobs.pii_scan import scan_for_pii
from jobs.report import (
    SIZE_LIMIT_BYTES,
    TREND_RUNS,
    Trend,
    build_report,
    dataset_flows,
    failed_rules,
    format_date,
    format_datetime,
    format_decimal,
    format_duration,
    format_int,
    format_percent,
    match_rates,
    pass_rate_trend,
    quarantine_by_agency,
    render_report,
    stage_chart_svg,
    table_versions,
    trend_chart_svg,
)

START = dt.datetime(2026, 1, 5, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=7)))


def rule(batch: str, rule_id: str, severity: str, evaluated: int, failed: int, column: str | None = None,
         vi: str = "", en: str = "") -> dict[str, Any]:  # fmt: skip
    return {
        "batch_date": batch, "rule_id": rule_id, "severity": severity, "column": column,
        "evaluated": evaluated, "failed": failed,
        "pass_rate": round(1 - failed / evaluated, 6) if evaluated else 1.0,
        "message_vi": vi or f"Lỗi {rule_id}", "message_en": en or f"Failure {rule_id}",
    }  # fmt: skip


def dataset_outcome(name: str, files: list[tuple[str, str, int]], valid: int, quarantined: int,
                    results: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:  # fmt: skip
    """An outcome shaped like RunSummary.to_dict's: files as (path, status, rows)."""
    file_dicts = [
        {"relative_path": path, "status": status, "rows_read": rows if status == "ingested" else 0,
         "rows_in_bronze": rows if status == "ingested" else 0,
         "encoding": "utf-8" if status == "ingested" else None,
         "reason": "không đọc được: tệp hỏng" if status == "rejected" else None, "extra_columns": []}
        for path, status, rows in files
    ]  # fmt: skip
    failures: dict[str, int] = {}
    for result in results:
        failures[result["rule_id"]] = failures.get(result["rule_id"], 0) + result["failed"]
    outcome = {
        "dataset": name, "status": "ok", "files": file_dicts, "batch_files": len(files),
        "bronze_rows": valid + quarantined, "valid": valid, "quarantined": quarantined, "warned": 2,
        "inserted": valid - 5, "updated": 5, "rule_failures": {k: v for k, v in failures.items() if v},
        "rule_results": results, "blocked_reasons": [], "error": None,
        "stage_seconds": {"ingest": 12.5, "standardise+validate": 4.25, "quarantine": 3.0, "merge": 7.75},
        "table_versions": {f"bronze.{name}": 3, f"silver.{name}": 3, f"quarantine.{name}": 2},
        "rows_read": sum(f["rows_read"] for f in file_dicts), "conserved": True,
    }  # fmt: skip
    outcome.update(extra)
    return outcome


def synthetic_run(index: int, quarantined: int = 4) -> dict[str, Any]:
    """A run like the daily flow's over the two datasets: three dated batches, a few failing rules."""
    started = START + dt.timedelta(days=index)
    run_id = f"{started:%Y%m%dT%H%M%S}-{index:06x}"
    days = [(started - dt.timedelta(days=3 - k)).strftime("%Y-%m-%d") for k in range(3)]
    dossier_rules = [
        rule(day, rid, severity, rows, failed, column)
        for day, rows in zip(days, (50, 63, 74), strict=True)
        for rid, severity, failed, column in (
            ("dossiers.dossier_code.not_null", "quarantine", 1 if day == days[0] else 0, "dossier_code"),
            ("dossiers.commune_code.known", "quarantine", quarantined // 2 if day == days[1] else 0,
             "commune_code"),
            ("dossiers.applicant_phone.format", "warn", 1, "applicant_phone"),
            ("dossiers.batch.row_count", "fail", 0, None),
        )
    ]  # fmt: skip
    dossiers = dataset_outcome(
        "dossiers",
        [(f"cong-dvc/dossiers/{day}/hoso_{day.replace('-', '')}.jsonl", "ingested", rows)
         for day, rows in zip(days, (50, 63, 74), strict=True)],
        valid=187 - quarantined, quarantined=quarantined, results=dossier_rules,
    )  # fmt: skip
    enterprise_rules = [
        rule(days[0], "enterprises.tax_code.check_digit", "quarantine", 121, 2, "tax_code"),
        rule(days[0], "enterprises.tax_code.unique_in_batch", "warn", 121, 1),
    ]
    enterprises = dataset_outcome(
        "enterprises",
        [(f"so-khdt/enterprises/{days[0]}/dangky.xlsx", "ingested", 121),
         (f"so-khdt/enterprises/{days[1]}/thaydoi.csv", "rejected", 0)],
        valid=119, quarantined=2, results=enterprise_rules,
    )  # fmt: skip
    finished = started + dt.timedelta(seconds=249.86)
    return {
        "run_id": run_id, "started_at": started.isoformat(timespec="seconds"), "lake_root": "/lake",
        "status": "failed", "finished_at": finished.isoformat(timespec="seconds"), "duration_s": 249.86,
        "datasets": [dossiers, enterprises],
        "marts": {"versions": {"gold.fct_dossiers_by_commune_month": index}},
        "stage_seconds": {"datasets": 239.5, "gold": 8.05, "pii_scan": 1.2},
        "problems": [f"enterprises: file rejected: so-khdt/enterprises/{days[1]}/thaydoi.csv: tệp hỏng"],
        "pii_findings": [],
    }  # fmt: skip


def write_ledgers(lake: Path, runs: list[dict[str, Any]]) -> None:
    runs_dir = lake / "_ops" / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    for run in runs:
        (runs_dir / f"{run['run_id']}.json").write_text(json.dumps(run, ensure_ascii=False), encoding="utf-8")


def visible_text(page: str) -> str:
    return re.sub(r"<[^>]+>", " ", page)


# ---------------------------------------------------------------------------------------------- formatting


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, "0"), (999, "999"), (1000, "1.000"), (1234567, "1.234.567"), (-45000, "-45.000"), (None, "—")],
)
def test_integers_use_dots_between_thousands(value: int | None, expected: str) -> None:
    assert format_int(value) == expected


def test_decimals_use_a_comma() -> None:
    assert format_decimal(1234.5) == "1.234,5"
    assert format_decimal(0.25, 2) == "0,25"


@pytest.mark.parametrize(
    ("ratio", "digits", "expected"),
    [(0.125, 1, "12,5%"), (1.0, 1, "100,0%"), (0.0, 1, "0,0%"), (0.98765, 2, "98,77%"),
     (0.99995, 1, ">99,9%"), (0.0004, 1, "<0,1%"), (None, 1, "—")],
)  # fmt: skip
def test_percentages_never_round_to_a_false_100_or_0(ratio: float | None, digits: int, expected: str) -> None:
    assert format_percent(ratio, digits) == expected


def test_dates_are_day_month_year_in_vietnam_time() -> None:
    assert format_date("2025-06-29") == "29/06/2025"
    assert format_datetime("2026-11-29T16:33:13+07:00") == "29/11/2026 16:33:13"
    assert format_datetime("2026-11-29T20:00:00+00:00") == "30/11/2026 03:00:00"
    assert format_date("not a date") == "not a date"


def test_durations_in_both_languages() -> None:
    assert format_duration(12.34) == ("12,3 giây", "12,3 s")
    assert format_duration(249.86) == ("4 phút 10 giây", "4 min 10 s")
    assert format_duration(3 * 3600 + 125) == ("3 giờ 2 phút", "3 h 2 min")


# ----------------------------------------------------------------------------------------------- figures


def test_flows_check_conservation_per_file_and_per_batch() -> None:
    run = synthetic_run(0)
    dossiers, enterprises = dataset_flows(run)
    assert (dossiers.rows_read, dossiers.rows_in_bronze, dossiers.bronze_rows) == (187, 187, 187)
    assert dossiers.valid + dossiers.quarantined == 187 and dossiers.conserved
    assert (enterprises.files_total, enterprises.files_ingested, enterprises.files_rejected) == (2, 1, 1)

    run["datasets"][0]["files"][1]["rows_in_bronze"] = 62  # a row lost between the file and bronze
    run["datasets"][1]["valid"] = 118  # a row lost between bronze and silver/quarantine
    dossiers, enterprises = dataset_flows(run)
    assert not dossiers.read_equals_bronze and not dossiers.conserved
    assert dossiers.batch_balances
    assert not enterprises.batch_balances and not enterprises.conserved


def test_failed_rules_are_summed_over_batches_and_ranked_by_rows() -> None:
    ranked = failed_rules(synthetic_run(0, quarantined=10))
    assert [(r.rule_id, r.failed) for r in ranked] == [
        ("dossiers.commune_code.known", 5),
        ("dossiers.applicant_phone.format", 3),
        ("enterprises.tax_code.check_digit", 2),
        ("dossiers.dossier_code.not_null", 1),
        ("enterprises.tax_code.unique_in_batch", 1),
    ]
    phone = ranked[1]
    assert phone.evaluated == 187 and phone.severity == "warn" and len(phone.batch_dates) == 3
    assert phone.pass_rate == pytest.approx(184 / 187)


def test_ties_put_the_harsher_severity_first() -> None:
    run = synthetic_run(0)
    run["datasets"][0]["rule_results"] = [
        rule("2026-01-01", "dossiers.a", "warn", 10, 2),
        rule("2026-01-01", "dossiers.b", "fail", 10, 2),
        rule("2026-01-01", "dossiers.c", "quarantine", 10, 2),
    ]
    run["datasets"][0]["rule_failures"] = {"dossiers.a": 2, "dossiers.b": 2, "dossiers.c": 2}
    run["datasets"][1].update(rule_results=[], rule_failures={})
    assert [r.severity for r in failed_rules(run)] == ["fail", "quarantine", "warn"]


def test_ledgers_without_rule_results_still_list_failing_rules() -> None:
    run = synthetic_run(0)
    for outcome in run["datasets"]:
        del outcome["rule_results"]
    ranked = failed_rules(run)
    assert {r.rule_id: r.failed for r in ranked} == {
        "dossiers.dossier_code.not_null": 1, "dossiers.commune_code.known": 2,
        "dossiers.applicant_phone.format": 3, "enterprises.tax_code.check_digit": 2,
        "enterprises.tax_code.unique_in_batch": 1,
    }  # fmt: skip
    assert {r.severity for r in ranked} == {"?"}
    assert "dossiers.commune_code.known" in render_report(run, [run])


def test_quarantine_is_grouped_by_the_contract_agency() -> None:
    run = synthetic_run(0, quarantined=6)
    run["datasets"].append(dataset_outcome("parking_fines", [("x/y/2026-01-01/a.csv", "ingested", 10)], 9, 1,
                                           [rule("2026-01-01", "parking_fines.plate.format", "quarantine", 10, 1)]))  # fmt: skip
    groups = {g.agency: g for g in quarantine_by_agency(run)}
    assert set(groups) == {"cong-dvc", "so-khdt", "parking_fines"}  # unknown dataset stands for its agency
    assert groups["cong-dvc"].quarantined == 6
    # Only quarantine rules are reasons: the warn rule on phones moved no row to quarantine.
    assert [r.rule_id for r in groups["cong-dvc"].reasons] == [
        "dossiers.commune_code.known",
        "dossiers.dossier_code.not_null",
    ]
    assert [g.agency for g in quarantine_by_agency(run)][0] == "cong-dvc"  # most rows first


def test_match_rates_are_optional() -> None:
    run = synthetic_run(0)
    assert match_rates(run) == []
    assert 'id="match"' not in render_report(run, [run])

    run["datasets"][0]["match_rates"] = {"commune_pre2025": {"matched": 180, "total": 187},
                                         "commune_2025": {"matched": 0, "total": 0}}  # fmt: skip
    rates = match_rates(run)
    assert [(r.unit, r.rate) for r in rates] == [("commune_pre2025", 180 / 187), ("commune_2025", None)]
    page = render_report(run, [run])
    assert 'id="match"' in page and "96,3%" in page


def test_table_versions_include_every_layer_and_the_marts() -> None:
    versions = dict(table_versions(synthetic_run(7)))
    assert versions["silver.dossiers"] == 3 and versions["quarantine.enterprises"] == 2
    assert versions["gold.fct_dossiers_by_commune_month"] == 7


def test_trend_leaves_gaps_for_runs_that_validated_nothing() -> None:
    runs = [synthetic_run(i) for i in range(3)]
    runs[1]["datasets"][1].update(status="nothing-new", bronze_rows=0, valid=0, quarantined=0)
    del runs[0]["datasets"][1]  # a run that did not take the dataset at all
    trend = pass_rate_trend(runs)
    assert trend.series["dossiers"] == pytest.approx((183 / 187,) * 3)
    assert trend.series["enterprises"][:2] == (None, None)
    assert trend.series["enterprises"][2] == pytest.approx(119 / 121)
    assert trend.dates == ("05/01/2026", "06/01/2026", "07/01/2026")


# ------------------------------------------------------------------------------------------------ charts


def test_trend_chart_draws_one_line_per_dataset_and_breaks_at_gaps() -> None:
    trend = Trend(("a", "b", "c", "d"), ("01/01/2026",) * 4,
                  {"dossiers": (0.99, None, 0.97, 0.98), "enterprises": (1.0, 1.0, 1.0, 1.0)})  # fmt: skip
    svg = trend_chart_svg(trend)
    assert svg.count("<polyline") == 2  # dossiers' first point stands alone; enterprises is one line
    assert svg.count("<circle") == 7
    assert "dossiers — 01/01/2026 — c: 97,00%" in svg
    assert trend_chart_svg(Trend(("a",), ("01/01/2026",), {"dossiers": (None,)})) == ""


def test_stage_chart_has_a_bar_per_stage_and_row() -> None:
    rows = [(("dossiers", "dossiers"), {"ingest": 10.0, "merge": 5.0}), (("Toàn lượt", "Whole run"),
            {"datasets": 15.0, "gold": 2.0})]  # fmt: skip
    svg = stage_chart_svg(rows)
    assert svg.count("<rect") == 4
    assert 'class="axis vi"' in svg and "Whole run" in svg
    assert "Nạp vào bronze / Ingest to bronze: 10,0 s" in svg


# ------------------------------------------------------------------------------------------ whole page


def test_all_text_from_the_ledger_is_escaped() -> None:
    run = synthetic_run(0)
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    run["datasets"][0]["rule_results"][0].update(message_vi=hostile, message_en=hostile, failed=9)
    run["datasets"][0]["dataset"] = f"dossiers{hostile}"
    run["datasets"][1]["files"][1]["relative_path"] = f"so-khdt/{hostile}.csv"
    run["problems"] = [hostile]
    page = render_report(run, [run])
    assert "<img" not in page and "<script>alert" not in page
    assert page.count("<script>") == 1  # the language toggle, nothing else
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_identifiers_in_free_text_are_masked() -> None:
    run = synthetic_run(0)
    run["datasets"][1]["files"][1]["reason"] = "cannot cast '079203001234' to int near 0912345678"
    run["problems"] = ["dossiers: failed: bad value a.b@example.vn"]
    page = render_report(run, [run])
    for raw in ("079203001234", "0912345678", "a.b@example.vn"):
        assert raw not in page
    assert "*********234" in page and "*******678" in page


def test_page_is_self_contained_and_bilingual() -> None:
    run = synthetic_run(0)
    page = render_report(run, [run])
    assert not re.search(r"https?://", page)
    assert not re.search(r"""(src|href)=["'](?!#|data:|\.\./_quality/)""", page)
    assert "default-src 'none'" in page
    assert '<html lang="vi" class="lang-vi">' in page
    text = visible_text(page)
    assert "Quy tắc không đạt" in text and "Rules that failed" in text
    assert "Lỗi dossiers.commune_code.known" in text and "Failure dossiers.commune_code.known" in text
    assert "05/01/2026 01:30:00" in text and "4 phút 10 giây" in text


def test_data_docs_link_only_when_the_site_exists(tmp_path: Path) -> None:
    write_ledgers(tmp_path, [synthetic_run(0)])
    assert "_quality/data_docs" not in build_report(str(tmp_path)).read_text(encoding="utf-8")

    site = tmp_path / "_quality" / "data_docs" / "index.html"
    site.parent.mkdir(parents=True)
    site.write_text("<html></html>", encoding="utf-8")
    path = build_report(str(tmp_path))
    assert 'href="../_quality/data_docs/index.html"' in path.read_text(encoding="utf-8")
    assert (path.parent / "../_quality/data_docs/index.html").resolve() == site.resolve()


def test_build_writes_the_run_and_latest_and_latest_never_goes_back(tmp_path: Path) -> None:
    runs = [synthetic_run(i) for i in range(3)]
    write_ledgers(tmp_path, runs)
    reports = tmp_path / "_reports"

    newest = build_report(str(tmp_path))
    assert newest == reports / f"{runs[-1]['run_id']}.html"
    assert (reports / "latest.html").read_bytes() == newest.read_bytes()

    older = build_report(str(tmp_path), runs[0]["run_id"])
    assert older.is_file() and runs[0]["run_id"] in older.read_text(encoding="utf-8")
    assert (reports / "latest.html").read_bytes() == newest.read_bytes()
    assert sorted(p.name for p in reports.iterdir()) == sorted([*(f"{r['run_id']}.html" for r in runs[::2]),
                                                                "latest.html"])  # fmt: skip


def test_build_refuses_unknown_runs_and_paths(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no run ledger"):
        build_report(str(tmp_path))
    write_ledgers(tmp_path, [synthetic_run(0)])
    with pytest.raises(FileNotFoundError):
        build_report(str(tmp_path), "20990101T000000-000000")
    with pytest.raises(ValueError, match="not a run id"):
        build_report(str(tmp_path), "../../etc/passwd")
    with pytest.raises(ValueError, match="remote"):
        build_report("s3a://bucket/lake")


def test_an_unreadable_earlier_ledger_leaves_a_gap(tmp_path: Path) -> None:
    runs = [synthetic_run(i) for i in range(3)]
    write_ledgers(tmp_path, runs)
    (tmp_path / "_ops" / "runs" / f"{runs[1]['run_id']}.json").write_text("{not json", encoding="utf-8")
    page = build_report(str(tmp_path)).read_text(encoding="utf-8")
    assert runs[0]["run_id"] in page and runs[1]["run_id"] not in page


def test_500_runs_of_history_render_fast_and_small(tmp_path: Path) -> None:
    runs = [synthetic_run(i, quarantined=(i * 7) % 13) for i in range(500)]
    # The newest run is a heavy one: a backfill with many batches and many rejected files.
    heavy = runs[-1]
    heavy["datasets"][1]["files"] += [
        {"relative_path": f"so-khdt/enterprises/2025-{m:02d}-{d:02d}/thaydoi.csv", "status": "rejected",
         "rows_read": 0, "rows_in_bronze": 0, "encoding": None, "reason": "bảng mã không nhận ra",
         "extra_columns": []}
        for m in range(1, 13) for d in range(1, 29)
    ]  # fmt: skip
    heavy["problems"] += [f"enterprises: file rejected: {n}" for n in range(336)]
    heavy["datasets"][0]["rule_results"] = [
        rule(f"2025-{m:02d}-{d:02d}", f"dossiers.rule_{k}", "quarantine", 100, k % 3)
        for m in range(1, 13) for d in range(1, 29) for k in range(20)
    ]  # fmt: skip
    write_ledgers(tmp_path, runs)
    report.dataset_info("dossiers")  # contracts imported once per process, not per report

    started = time.perf_counter()
    path = build_report(str(tmp_path))
    elapsed = time.perf_counter() - started

    size = path.stat().st_size
    print(f"500 runs: report built in {elapsed * 1000:.0f} ms, {size / 1000:.1f} kB")
    assert elapsed < 1.0
    assert size < SIZE_LIMIT_BYTES
    page = path.read_text(encoding="utf-8")
    trend_runs = set(re.findall(r"<td><code>(\d{8}T\d{6}-[0-9a-f]{6})</code></td>", page))
    assert trend_runs == {r["run_id"] for r in runs[-TREND_RUNS:]}
    assert "… và 137 mục khác" in page  # 337 rejected files and problems: 200 listed, the rest counted
    assert "dossiers.rule_19" in page
    assert '336 lô</span><span class="en">336 batches</span>: 01/01/2025 – 28/12/2025' in page


def test_report_holds_no_raw_identifier_by_the_leak_scanner(tmp_path: Path) -> None:
    runs = [synthetic_run(i, quarantined=i) for i in range(5)]
    runs[-1]["datasets"][0]["match_rates"] = {"commune": {"matched": 123456789, "total": 987654321}}
    write_ledgers(tmp_path, runs)
    build_report(str(tmp_path))
    assert scan_for_pii([tmp_path / "_reports"]) == []


# ------------------------------------------------------------------------------------------- command line


def test_cli_writes_the_report_and_prints_its_path(tmp_path: Path) -> None:
    from flows.cli import app

    runs = [synthetic_run(i) for i in range(2)]
    write_ledgers(tmp_path, runs)
    runner = CliRunner()
    result = runner.invoke(app, ["report", runs[0]["run_id"], "--lake", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(f"{runs[0]['run_id']}.html")
    assert (tmp_path / "_reports" / f"{runs[0]['run_id']}.html").is_file()

    result = runner.invoke(app, ["report", "--lake", str(tmp_path), "--open"], env={"DISPLAY": ""})
    assert result.exit_code == 0, result.output
    assert "no display" in result.output and (tmp_path / "_reports" / "latest.html").is_file()

    result = runner.invoke(app, ["report", "20990101T000000-000000", "--lake", str(tmp_path)])
    assert result.exit_code == 2 and "no run ledger" in result.output


def test_building_a_report_starts_no_jvm(tmp_path: Path) -> None:
    write_ledgers(tmp_path, [synthetic_run(0)])
    script = (
        "import sys, pyspark\n"
        "from jobs.report import build_report\n"
        f"print(build_report({str(tmp_path)!r}))\n"
        "assert pyspark.SparkContext._gateway is None and pyspark.SparkContext._jvm is None\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(".html") and "_reports" in done.stdout
