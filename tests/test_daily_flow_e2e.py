"""End to end: a generated sample through every layer, run twice, checked against its ground truth."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from conftest import table_versions
from test_report_browser import requested_urls, vi_int
from typer.testing import CliRunner

from flows.cli import app
from jobs.lake import INGESTED_FILES, Lake, bronze, gold, quarantine, silver
from jobs.marts import DOSSIERS_BY_COMMUNE_MONTH
from jobs.quality import load_suite

pytestmark = pytest.mark.e2e
DATASETS = (
    "dossiers",
    "enterprises",
    "payments",
    "feedback",
    "air_quality",
    "health_visits",
    "traffic_incidents",
)


def delta(spark, lake: Lake, ref):
    return spark.read.format("delta").load(lake.table_path(ref))


def test_first_run_succeeds_and_every_table_is_a_delta_table(sample_run, spark):
    assert sample_run["first"]["status"] == "succeeded", sample_run["first"]["problems"]
    lake = sample_run["lake"]
    for name in table_versions(spark, lake):
        assert name  # table_versions opened each one as a Delta table
    assert Path(lake.runs_dir, f"{sample_run['first']['run_id']}.json").is_file()
    assert Path(lake.reports_dir, f"{sample_run['first']['run_id']}.html").is_file()
    assert Path(lake.reports_dir, "latest.html").is_file()


def test_rows_read_equal_bronze_per_file_and_bronze_equals_valid_plus_quarantined(sample_run, spark):
    lake, manifest = sample_run["lake"], sample_run["manifest"]
    records_per_file = {f["path"]: f["records"] for f in manifest["files"]}
    for outcome in sample_run["first"]["datasets"]:
        assert outcome["conserved"]
        in_bronze = {
            r["_source_file"]: r["count"]
            for r in delta(spark, lake, bronze(outcome["dataset"])).groupBy("_source_file").count().collect()
        }
        for file in outcome["files"]:
            assert file["status"] == "ingested"
            assert (
                file["rows_read"]
                == in_bronze[file["relative_path"]]
                == records_per_file[file["relative_path"]]
            )
        assert outcome["bronze_rows"] == outcome["valid"] + outcome["quarantined"] == sum(in_bronze.values())
        assert delta(spark, lake, quarantine(outcome["dataset"])).count() == outcome["quarantined"]


def test_every_injected_defect_is_caught_by_exactly_its_rule(sample_run, spark):
    lake, manifest = sample_run["lake"], sample_run["manifest"]
    for dataset in DATASETS:
        severity = {r.rule_id: r.severity for r in load_suite(dataset).rules}
        defects = [d for d in manifest["defects"] if d["dataset"] == dataset]
        assert defects, f"the sample injected no {dataset} defects"
        quarantined = {
            (r["_source_file"], r["_source_row"]): sorted(r["rule_ids"])
            for r in delta(spark, lake, quarantine(dataset)).collect()
        }
        warned = {
            (r["_source_file"], r["_source_row"]): sorted(r["_dq_warnings"])
            for r in delta(spark, lake, silver(dataset)).where("size(_dq_warnings) > 0").collect()
        }
        for defect in defects:
            where = (defect["file"], defect["record_index"])
            found = quarantined if severity[defect["rule_id"]] != "warn" else warned
            assert found.get(where) == [defect["rule_id"]], f"{defect['defect']} at {where}"
        # Precision: no rule fired on a record the manifest does not list.
        outcome = next(d for d in sample_run["first"]["datasets"] if d["dataset"] == dataset)
        assert outcome["rule_failures"] == dict(Counter(d["rule_id"] for d in defects))


def test_administrative_unit_match_rates_count_every_place_that_did_not_resolve(sample_run):
    defects = Counter(d["rule_id"] for d in sample_run["manifest"]["defects"])
    for outcome in sample_run["first"]["datasets"]:
        dataset = outcome["dataset"]
        match_rules = {f"{dataset}.commune.resolved", f"{dataset}.commune_code.known"}
        if not match_rules & {r.rule_id for r in load_suite(dataset).rules}:
            assert outcome["match_rates"] == {}, dataset  # payments name no place
            continue
        commune = outcome["match_rates"]["commune"]
        unmatched = sum(defects[rule_id] for rule_id in match_rules)
        assert commune["total"] - commune["matched"] == unmatched, dataset
        assert commune["total"] >= commune["matched"] > 0, dataset


def test_second_run_ingests_nothing_and_writes_no_table_version(sample_run, spark):
    second = sample_run["second"]
    assert second["status"] == "succeeded", second["problems"]
    for outcome in second["datasets"]:
        assert outcome["status"] == "nothing-new"
        assert {f["status"] for f in outcome["files"]} == {"skipped"}
    assert sample_run["versions_after_second"] == sample_run["versions_after_first"]


def test_gold_equals_an_independent_recomputation_from_the_delivered_files(sample_run, spark):
    lake, manifest = sample_run["lake"], sample_run["manifest"]
    severity = {r.rule_id: r.severity for r in load_suite("dossiers").rules}
    quarantined = {
        (d["file"], d["record_index"]) for d in manifest["defects"]
        if d["dataset"] == "dossiers" and severity[d["rule_id"]] != "warn"
    }  # fmt: skip
    latest: dict[str, tuple] = {}
    for file in sorted(f["path"] for f in manifest["files"] if f["dataset"] == "dossiers"):
        lines = Path(lake.landing, file).read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if (file, number) in quarantined:
                continue
            record = json.loads(line)
            version = (record["NgayCapNhat"], file, number)
            if record["MaHoSo"] not in latest or version > latest[record["MaHoSo"]][0]:
                latest[record["MaHoSo"]] = (version, record)
    expected: Counter = Counter()
    for _, record in latest.values():
        commune = record["MaXa"]
        received_month = f"{record['NgayTiepNhan'][:4]}-{record['NgayTiepNhan'][4:6]}-01"
        expected[(commune, received_month, "received")] += 1
        expected[(commune, received_month, "received_online")] += record["KenhThucHien"] == "2"
        if record["TrangThaiHoSo"] in ("9", "10") and record["NgayKetThucXuLy"]:
            finished_month = f"{record['NgayKetThucXuLy'][:4]}-{record['NgayKetThucXuLy'][4:6]}-01"
            expected[(commune, finished_month, "finished")] += 1
            on_time = bool(record["NgayHenTra"]) and record["NgayKetThucXuLy"] <= record["NgayHenTra"]
            expected[(commune, finished_month, "finished_on_time")] += on_time
    actual: Counter = Counter()
    for row in delta(spark, lake, gold(DOSSIERS_BY_COMMUNE_MONTH)).collect():
        for measure in ("received", "received_online", "finished", "finished_on_time"):
            actual[(row["commune_code"], row["month"].isoformat(), measure)] += row[measure]
    assert +actual == +expected


def test_no_raw_identifier_outside_bronze_and_bronze_still_has_them(sample_run):
    from jobs.pii_scan import default_scan_roots, scan_for_pii

    lake_root = Path(sample_run["lake"].root)
    assert sample_run["first"]["pii_findings"] == []
    assert scan_for_pii(default_scan_roots(lake_root)) == []
    # The scanner is not blind: the raw zone it skips does hold identifiers.
    assert scan_for_pii([lake_root / "bronze"])


def test_one_citizen_is_followed_across_dossiers_payments_and_feedback_by_pseudonym(sample_run, spark):
    from pyspark.sql import functions as F

    lake = sample_run["lake"]

    def silver_table(dataset: str, phone: str, alias: str):
        """Rows whose phone passed its format rule (a `warn`: a mistyped phone stays, under its own pseudonym)."""
        rows = spark.read.format("delta").load(lake.table_path(silver(dataset)))
        mistyped = F.array_contains("_dq_warnings", f"{dataset}.{phone}.format")
        return rows.where(~mistyped).select("dossier_code", F.col(f"{phone}_pseudonym").alias(alias))

    dossiers = silver_table("dossiers", "applicant_phone", "applicant")
    payments = silver_table("payments", "payer_phone", "payer")
    feedback = silver_table("feedback", "reporter_phone", "reporter")
    # The gateway writes the applicant's phone in another form than the portal (+84… against 0…) and the hotline
    # in yet another: each payment and each feedback about a dossier carries its applicant's pseudonym.
    paid = dossiers.join(payments, "dossier_code").where("applicant IS NOT NULL AND payer IS NOT NULL")
    about = dossiers.join(feedback, "dossier_code").where("applicant IS NOT NULL AND reporter IS NOT NULL")
    assert paid.count() > 0 and about.count() > 0
    assert paid.where("applicant <> payer").count() == 0
    assert about.where("applicant <> reporter").count() == 0

    # One citizen, by pseudonym alone: their dossiers, the fees they paid and the feedback they sent.
    everywhere = (
        dossiers.select(F.col("applicant").alias("person"))
        .intersect(payments.select("payer"))
        .intersect(feedback.select("reporter"))
    )
    person = everywhere.orderBy("person").first()["person"]
    assert len(person) == 64 and int(person, 16) >= 0  # a hex HMAC-SHA256, not a phone number
    own_dossiers = {r.dossier_code for r in dossiers.where(F.col("applicant") == person).collect()}
    paid_for = {r.dossier_code for r in payments.where(F.col("payer") == person).collect()}
    wrote_about = {r.dossier_code for r in feedback.where(F.col("reporter") == person).collect()} - {None}
    in_silver = {r.dossier_code for r in dossiers.collect()}  # a dossier with a defect waits in quarantine
    assert own_dossiers and paid_for and (paid_for & in_silver) <= own_dossiers
    assert (wrote_about & in_silver) <= own_dossiers


def test_raw_zones_are_owner_only(sample_run):
    import stat

    for zone in ("landing", "bronze", "_private"):
        mode = stat.S_IMODE(Path(sample_run["lake"].root, zone).stat().st_mode)
        assert mode == 0o700, f"{zone} is {oct(mode)}"


def test_unreadable_files_are_rejected_with_path_and_reason_and_the_run_exits_1(sample_run, spark):
    result = sample_run["third_cli"]
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    assert "so-khdt/enterprises/2025-07-02/dangky_doanhnghiep_202507.xlsx" in output
    assert "not a readable XLSX workbook" in output
    assert "required column(s) missing: procedure_code" in output
    lake = sample_run["lake"]
    latest = max(Path(lake.runs_dir).glob("*.json"))
    summary = json.loads(latest.read_text(encoding="utf-8"))
    assert summary["status"] == "failed" and len(summary["problems"]) == 2
    # Files stay in landing; no data table changed, only the ingested-file ledger recorded the rejections.
    assert Path(lake.landing, "so-khdt/enterprises/2025-07-02/dangky_doanhnghiep_202507.xlsx").is_file()
    changed = {
        name for name, version in table_versions(spark, lake).items()
        if version != sample_run["versions_after_second"][name]
    }  # fmt: skip
    assert changed == {INGESTED_FILES.qualified_name}


def test_the_runs_own_report_opens_offline_in_headless_chromium(sample_run, browser):
    from selenium.webdriver.common.by import By

    run = sample_run["first"]
    page_url = Path(sample_run["lake"].reports_dir, f"{run['run_id']}.html").resolve().as_uri()
    browser.get(page_url)

    def shown(metric: str) -> str:
        return browser.find_element(By.CSS_SELECTOR, f'[data-metric="{metric}"]').text.strip()

    assert shown("run_id") == run["run_id"]
    for outcome in run["datasets"]:
        for key in ("rows_read", "bronze_rows", "valid", "quarantined", "inserted", "updated"):
            assert shown(f"{outcome['dataset']}.{key}") == vi_int(outcome[key]), (outcome["dataset"], key)
        for rule_id, failed in outcome["rule_failures"].items():
            assert shown(f"{rule_id}.failed") == vi_int(failed)
    assert shown("total.rows_read") == vi_int(sum(d["rows_read"] for d in run["datasets"]))
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []
    assert set(requested_urls(browser)) == {page_url}


def test_prefect_shows_each_datasets_row_counts_as_task_run_artifacts(sample_run):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.daily import ROW_COUNTS, artifact_key

    run_id = sample_run["first"]["run_id"]
    with get_client(sync_client=True) as client:
        for outcome in sample_run["first"]["datasets"]:
            for stage in ("ingest", "validate-merge"):
                key = artifact_key(stage, outcome["dataset"])
                versions = client.read_artifacts(
                    artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
                )
                # The key keeps one version per run (of any lake); the first run's names its run id.
                (first,) = [a for a in versions if (a.description or "").endswith(f"by run {run_id}")]
                assert first.task_run_id is not None, key
                rows = json.loads(first.data)
                if stage == "ingest":
                    assert [r["rows read"] for r in rows] == [f["rows_read"] for f in outcome["files"]]
                else:
                    assert rows == [
                        {name: outcome[name] for name in ROW_COUNTS} | {"status": outcome["status"]}
                    ]


def test_sql_command_queries_registered_tables(sample_run):
    result = CliRunner().invoke(
        app, ["sql", "SELECT count(*) AS n FROM silver.dossiers", "--lake", sample_run["lake"].root]
    )
    assert result.exit_code == 0, result.output
    silver_count = sum(d["inserted"] for d in sample_run["first"]["datasets"] if d["dataset"] == "dossiers")
    assert str(silver_count) in result.output


def test_analyst_tables_read_without_spark_through_delta_rs_and_duckdb(sample_run, spark, tmp_path):
    import csv
    import subprocess
    import sys

    lake = sample_run["lake"]
    names = [f"silver.{d}" for d in DATASETS] + [f"gold.{DOSSIERS_BY_COMMUNE_MONTH}", "quality.rule_results"]
    query = " UNION ALL ".join(f"SELECT '{n}' AS name, count(*) AS n FROM {n}" for n in names)
    out = tmp_path / "counts.csv"
    # A subprocess: delta-rs is exercised the way `govlake sql --engine duckdb` runs it, JVM-free.
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "sql", "--engine", "duckdb", "--lake", lake.root, "--out", str(out), query],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    with out.open(encoding="utf-8") as handle:
        duck_counts = {row["name"]: int(row["n"]) for row in csv.DictReader(handle)}
    spark_counts = {}
    for name in names:
        zone = "_quality" if name.startswith("quality.") else name.split(".")[0]
        spark_counts[name] = (
            spark.read.format("delta").load(f"{lake.root}/{zone}/{name.split('.')[1]}").count()
        )
    assert duck_counts == spark_counts
