"""Data Docs from the engine's own rule results: GE pages that work offline and never show an identifier."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from jobs.data_docs import DataDocsError, build_data_docs, validation_results
from jobs.datasets import get_dataset
from jobs.pii import PiiKey
from jobs.pipeline import rule_result_records
from jobs.quality import (
    RuleResult,
    dataset_rule_results,
    load_suite,
    parseable_rule,
    rule_results,
    validate_in_one_pass,
)
from jobs.standardise import PROVENANCE_COLUMNS, standardise

RUN_ID = "20250701T080000-a1b2c3"
BATCH_DATE = "2025-06-29"
# Personal values as delivered: none of them may reach a page, a stored result or a stylesheet.
APPLICANTS = [
    # dossier, commune, applicant id, phone, e-mail, name
    ("A-1", "25747", "074095001234", "0912345678", "an.nguyen@gmail.com", "Nguyễn Văn An"),
    ("A-2", "25747", "0740950012345", "0123456", "binh.tran@yahoo.com", "Trần Thị Bình"),
    ("A-3", "99999", "079188004321", "+84 987 654 321", "cuong.le@outlook.com", "Lê Quốc Cường"),
    ("A-4", "25750", "07409500", "0903 111 222", "dung.pham@gmail.com", "Phạm Minh Dũng"),
]
RAW_VALUES = [value for row in APPLICANTS for value in row[2:]] + ["84987654321", "0903111222"]
CDN_HOSTS = (
    "cdn.jsdelivr.net",
    "unpkg.com",
    "cdnjs.cloudflare.com",
    "bootstrapcdn.com",
    "code.jquery.com",
    "amazonaws.com",
)
LOADING_TAG = re.compile(r"<(?:script|link|img)\b[^>]*>", re.IGNORECASE)
LOADED_URL = re.compile(r"""\b(?:src|href)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


def bronze_dossiers(spark):
    rows = [
        (code, "1.001193", commune, "20250629080000", "20250705170000", "4", "20250629090000", applicant_id,
         phone, email, name)
        for code, commune, applicant_id, phone, email, name in APPLICANTS
    ]  # fmt: skip
    columns = ["dossier_code", "procedure_code", "commune_code", "received_at", "due_at", "status", "updated_at",
               "applicant_id", "applicant_phone", "applicant_email", "applicant_name"]  # fmt: skip
    return spark.createDataFrame(rows, columns).select(
        "*",
        F.lit(None).cast("string").alias("_corrupt_record"),
        *[F.lit("x").alias(c) for c in PROVENANCE_COLUMNS if c != "_source_row"],
        F.monotonically_increasing_id().alias("_source_row"),
    )


@pytest.fixture(scope="module")
def validated_records(spark):
    """Per-rule records exactly as a run puts them in its summary: a real one-pass validation, then the
    post-merge silver invariants (counts of keys)."""
    suite = load_suite("dossiers")
    rules = [parseable_rule("dossiers"), *suite.row_rules]
    batch = standardise(bronze_dossiers(spark), get_dataset("dossiers"), PiiKey(b"k" * 32, source="test"))
    validated, pass_counts = validate_in_one_pass(batch, rules)
    try:
        counts = pass_counts.total
        results = rule_results(rules, counts) + dataset_rule_results(suite.dataset_rules, counts["rows"])
    finally:
        validated.unpersist()
    invariants = [
        RuleResult("silver.dossiers.key_unique", "fail", 3, 0, "a business key is on more than one row")
    ]
    return rule_result_records("dossiers", BATCH_DATE, results + invariants)


@pytest.fixture(scope="module")
def site(validated_records, tmp_path_factory) -> Path:
    lake = tmp_path_factory.mktemp("docs-lake")
    index = build_data_docs(str(lake), RUN_ID, {"dossiers": validated_records})
    assert index == lake / "_quality" / "data_docs" / "index.html"
    return index.parent


def page_text(path: Path) -> str:
    markup = path.read_text(encoding="utf-8")
    markup = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.DOTALL | re.IGNORECASE)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", markup)))


def rule_section(text: str, rule_id: str, all_rule_ids: list[str]) -> str:
    """The page text from a rule's row to the next rule's row."""
    start = text.index(rule_id)
    ends = [text.find(other, start + len(rule_id)) for other in all_rule_ids if other != rule_id]
    return text[start : min([e for e in ends if e > 0], default=len(text))]


def test_the_validation_found_what_the_rows_hold(validated_records):
    failed = {r["rule_id"]: r["failed"] for r in validated_records}
    row_rules = [r for r in validated_records if r["rule_id"].startswith("dossiers.")]
    assert {r["evaluated"] for r in row_rules if r["rule_id"] != "dossiers.batch.row_count"} == {4}
    assert failed["dossiers.applicant_id.format"] == 2
    assert failed["dossiers.commune_code.known"] == 1
    assert failed["dossiers.applicant_phone.format"] == 1


def test_index_and_dataset_page_show_every_rule_with_its_counts(site, validated_records):
    pages = list(site.glob(f"validations/dossiers/{RUN_ID}/*/{BATCH_DATE}.html"))
    assert len(pages) == 1
    index = (site / "index.html").read_text(encoding="utf-8")
    assert pages[0].relative_to(site).as_posix() in index
    text = page_text(pages[0])
    rule_ids = [r["rule_id"] for r in validated_records]
    for record in validated_records:
        section = rule_section(text, record["rule_id"], rule_ids)
        assert f"[{record['severity']}]" in section
        if record["rule_id"] == "dossiers.batch.row_count":
            assert "4" in section  # the observed row count
        elif record["failed"]:
            assert f"{record['failed']} unexpected values found" in section
            assert f"of {record['evaluated']} total rows" in section
        else:
            assert "unexpected values found" not in section
    assert "Unsuccessful Expectations 3" in text


def test_no_page_loads_anything_from_the_internet_and_every_local_asset_exists(site):
    documents = [p for p in site.rglob("*") if p.suffix in (".html", ".css") and "vendor" not in p.parts]
    assert len([p for p in documents if p.suffix == ".html"]) >= 2
    for document in documents:
        markup = document.read_text(encoding="utf-8")
        for host in CDN_HOSTS:
            assert host not in markup, f"{document} still names {host}"
        for url in re.findall(r"""url\(\s*["']?([^"')]+)""", markup):
            assert not url.startswith(("http://", "https://", "//")), f"{document}: {url}"
        for tag in LOADING_TAG.findall(markup):
            for url in LOADED_URL.findall(tag):
                assert not url.startswith(("http://", "https://", "//")), f"{document}: {tag}"
                assert (document.parent / url.split("?")[0]).resolve().is_file(), f"{document}: {url} missing"
    assert (site / "static/vendor/@fortawesome/fontawesome-free@6.6.0/webfonts/fa-solid-900.woff2").is_file()


def test_no_identifier_reaches_pages_or_stored_results(site):
    quality_dir = site.parent
    stored = [p for p in quality_dir.rglob("*") if p.is_file() and "vendor" not in p.parts]
    assert any(p.suffix == ".json" and "validations" in p.parts for p in stored)
    for path in stored:
        if path.suffix not in (".html", ".json", ".css", ".yml", ".js"):
            continue
        content = path.read_text(encoding="utf-8", errors="replace")
        for value in RAW_VALUES:
            assert value not in content, f"{path} shows a delivered value"
        assert "unexpected_list" not in content and "unexpected_index" not in content


def test_results_carry_counts_only_and_follow_mostly():
    records = [
        {"batch_date": BATCH_DATE, "rule_id": "dossiers.applicant_id.format", "evaluated": 200, "failed": 3},
        {"batch_date": BATCH_DATE, "rule_id": "dossiers.batch.row_count", "evaluated": 1, "failed": 0},
        {
            "batch_date": BATCH_DATE,
            "rule_id": "silver.dossiers.no_older_version",
            "evaluated": 150,
            "failed": 2,
        },
        {"batch_date": "2025-06-30", "rule_id": "dossiers.status.in_set", "evaluated": 50, "failed": 0},
    ]
    by_batch = validation_results("dossiers", RUN_ID, records)
    assert sorted(by_batch) == [BATCH_DATE, "2025-06-30"]
    first = by_batch[BATCH_DATE]
    id_result, count_result, invariant_result = first.results
    assert id_result.result == {
        "element_count": 200,
        "unexpected_count": 3,
        "unexpected_percent": 1.5,
        "unexpected_percent_total": 1.5,
        "unexpected_percent_nonmissing": 1.5,
    }
    assert id_result.success is False and id_result.expectation_config.meta["rule_id"].endswith("format")
    assert count_result.result["observed_value"] == 200 and count_result.success is True
    # Invariants count keys: they do not change the batch's row count, and they render as GE expectations.
    assert (
        invariant_result.result["element_count"] == 150 and invariant_result.result["unexpected_count"] == 2
    )
    assert invariant_result.expectation_config.to_domain_obj().invariant == "no_older_version"
    assert first.success is False and first.statistics["unsuccessful_expectations"] == 2
    assert by_batch["2025-06-30"].success is True
    assert first.meta["run_id"].run_name == RUN_ID


def test_a_rule_missing_from_the_suite_is_named():
    records = [{"batch_date": BATCH_DATE, "rule_id": "dossiers.gone", "evaluated": 1, "failed": 0}]
    with pytest.raises(DataDocsError, match="dossiers.gone"):
        validation_results("dossiers", RUN_ID, records)


def test_missing_front_end_assets_name_the_make_target(tmp_path):
    with pytest.raises(DataDocsError, match="make datadocs-assets"):
        build_data_docs(str(tmp_path / "lake"), RUN_ID, {}, assets=tmp_path / "no-assets")
    assert not (tmp_path / "lake" / "_quality" / "data_docs").exists()
