"""The hostile corpus (tests/hostile): every case's file in one landing tree per dataset, one ingest and
one validate-and-merge per dataset, then each case's exact outcome read from the run's file outcomes, the
ingested-file ledger, bronze, quarantine and silver."""

from __future__ import annotations

import codecs
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import functions as F
from typer.testing import CliRunner

from flows.cli import app
from jobs import ledger, pipeline
from jobs.datasets import get_dataset
from jobs.lake import Lake, bronze, quarantine, silver, table_exists
from jobs.legacy_encoding import detect_encoding, encode_tcvn3, encode_vni
from jobs.pii import PiiKey
from jobs.readers import _unclosed_quote_line, json_nesting_depth
from jobs.runs import DatasetOutcome
from tests.hostile import DELIVERY_DATE, Case, Ingested, Record, Rejected, Skipped
from tests.hostile.cases import (
    CASES,
    FILES,
    FORMULA_TEXT,
    LATE_CONTENT,
    LATE_FILE,
    LINK_FILE,
    LONG_SUMMARY,
    OUTSIDE_CONTENT,
    PROCESSED,
    VANISHING_FILE,
)

PII_KEY = PiiKey(bytes.fromhex("5a" * 32), source="test")


@dataclass
class CorpusRun:
    lake: Lake
    outcomes: dict[tuple[str, int], DatasetOutcome]  # (dataset, run) -> outcome of that ingest
    ledger: dict[str, ledger.LedgerEntry]  # relative path -> the file's latest ledger entry
    bronze_rows: dict[str, int]  # sha256 -> rows in bronze
    quarantined: dict[tuple[str, int], set[str]]  # (sha256, record number) -> failed rule ids
    silver_keys: dict[str, set[str]]  # dataset -> business keys in silver

    def relative(self, case: Case) -> str:
        contract = get_dataset(case.dataset).contract
        return f"{contract.agency}/{case.dataset}/{DELIVERY_DATE}/{case.file}"

    def file_outcome(self, case: Case) -> Any:
        outcome = self.outcomes[(case.dataset, case.run)]
        found = [f for f in outcome.files if f.relative_path == self.relative(case)]
        assert len(found) == 1, (
            f"run {case.run} of {case.dataset} saw {self.relative(case)} {len(found)} times"
        )
        return found[0]


def _vanishing_before_read(real_read):  # type: ignore[no-untyped-def]
    """The fault: the file is deleted after discovery listed it, just before it is read."""

    def read(spark, delivery, contract, *args):  # type: ignore[no-untyped-def]
        if delivery.path.endswith(VANISHING_FILE):
            os.remove(delivery.path)
        return real_read(spark, delivery, contract, *args)

    return read


@pytest.fixture(scope="module")
def corpus(spark, tmp_path_factory) -> CorpusRun:
    root = tmp_path_factory.mktemp("hostile-lake")
    lake = Lake(str(root.resolve()))
    lake.ensure_layout()
    folders = {}
    for dataset, files in FILES.items():
        contract = get_dataset(dataset).contract
        folder = Path(lake.landing, contract.agency, dataset, DELIVERY_DATE)
        folder.mkdir(parents=True)
        for name, content in files.items():
            (folder / name).write_bytes(content)
        folders[dataset] = folder
    outside = root / "outside_landing.jsonl"
    outside.write_bytes(OUTSIDE_CONTENT)
    os.symlink(outside, folders["dossiers"] / LINK_FILE)

    outcomes = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "read_delivery", _vanishing_before_read(pipeline.read_delivery))
        for dataset in FILES:
            outcomes[(dataset, 1)] = DatasetOutcome(dataset)
            pipeline.ingest(spark, lake, dataset, "hostile-run-1", outcomes[(dataset, 1)])
    # The copy that was empty has finished; the vanished file is delivered again. A second ingest.
    (folders["dossiers"] / LATE_FILE).write_bytes(LATE_CONTENT)
    (folders["dossiers"] / VANISHING_FILE).write_bytes(FILES["dossiers"][VANISHING_FILE])
    outcomes[("dossiers", 2)] = DatasetOutcome("dossiers")
    pipeline.ingest(spark, lake, "dossiers", "hostile-run-2", outcomes[("dossiers", 2)])
    for dataset in PROCESSED:
        pipeline.process(spark, lake, dataset, "hostile-run-2", PII_KEY, outcomes[(dataset, 1)])

    entries = {
        e.relative_path: e for e in sorted(ledger.read_entries(spark, lake), key=lambda e: e.ingested_at)
    }
    bronze_rows, quarantined, silver_keys = {}, {}, {}
    for dataset in FILES:
        if table_exists(spark, lake, bronze(dataset)):
            counts = (
                spark.read.format("delta").load(lake.table_path(bronze(dataset))).groupBy("_source_sha256")
            )
            bronze_rows |= {r["_source_sha256"]: r["count"] for r in counts.count().collect()}
    for dataset in PROCESSED:
        held = spark.read.format("delta").load(lake.table_path(quarantine(dataset)))
        for r in held.select("_source_sha256", "_source_row", "rule_ids").collect():
            quarantined[(r["_source_sha256"], r["_source_row"])] = set(r["rule_ids"])
        key = get_dataset(dataset).contract.business_key[0]
        stored = spark.read.format("delta").load(lake.table_path(silver(dataset))).select(key)
        silver_keys[dataset] = {r[key] for r in stored.collect()}
    return CorpusRun(lake, outcomes, entries, bronze_rows, quarantined, silver_keys)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_case(corpus: CorpusRun, case: Case) -> None:
    expect = case.expect
    if isinstance(expect, Record):
        entry = corpus.ledger[corpus.relative(case)]
        held = corpus.quarantined.get((entry.file_sha256, expect.row), set())
        assert held == set(expect.rules), f"record {expect.row}: quarantined with {sorted(held)}"
        if expect.key is not None:
            assert expect.key in corpus.silver_keys[case.dataset]
        return
    outcome = corpus.file_outcome(case)
    if isinstance(expect, Rejected):
        assert outcome.status == "rejected" and expect.reason in (outcome.reason or ""), outcome
    elif isinstance(expect, Skipped):
        assert outcome.status == "skipped" and expect.reason in (outcome.reason or ""), outcome
    elif isinstance(expect, Ingested):
        assert outcome.status == "ingested", outcome
        entry = corpus.ledger[corpus.relative(case)]
        assert (outcome.rows_read, entry.rows_read, corpus.bronze_rows.get(entry.file_sha256, 0)) == (
            expect.rows, expect.rows, expect.rows
        )  # fmt: skip
        if expect.encoding:
            assert outcome.encoding == entry.encoding == expect.encoding
        assert tuple(outcome.extra_columns) == expect.extra_columns


def test_rejections_are_in_the_ledger_with_path_and_reason_except_a_vanished_file(corpus: CorpusRun):
    for case in CASES:
        if not isinstance(case.expect, Rejected) or case.run != 1:
            continue
        entry = corpus.ledger.get(corpus.relative(case))
        if case.file == VANISHING_FILE:
            assert entry is not None and entry.status != ledger.REJECTED  # taken in when delivered again
        elif case.file == LATE_FILE:
            assert entry is not None and entry.status != ledger.REJECTED
        else:
            assert entry is not None and entry.status == ledger.REJECTED, case.id
            assert case.expect.reason in (entry.reason or ""), case.id


def test_every_row_read_is_in_bronze_and_every_batch_row_is_valid_or_quarantined(corpus: CorpusRun):
    for (dataset, run), outcome in corpus.outcomes.items():
        for f in outcome.files:
            if f.status == "ingested":
                sha = corpus.ledger[f.relative_path].file_sha256
                assert f.rows_read == f.rows_in_bronze == corpus.bronze_rows.get(sha, 0), f
        if run == 1 and dataset in PROCESSED:
            assert outcome.status == "ok", outcome.blocked_reasons
            assert outcome.bronze_rows == outcome.valid + outcome.quarantined and outcome.conserved
            assert outcome.bronze_rows == sum(
                corpus.bronze_rows.get(e.file_sha256, 0)
                for e in corpus.ledger.values()
                if e.dataset == dataset and e.status == ledger.PROCESSED
            )


def test_the_second_run_ingests_nothing_twice(corpus: CorpusRun):
    first, second = corpus.outcomes[("dossiers", 1)], corpus.outcomes[("dossiers", 2)]
    ingested_before = {f.relative_path for f in first.files if f.status == "ingested"}
    again = {f.relative_path: f for f in second.files}
    assert all(again[path].status == "skipped" for path in ingested_before)
    assert {p for p, f in again.items() if f.status == "ingested"} == {
        f"cong-dvc/dossiers/{DELIVERY_DATE}/{LATE_FILE}",
        f"cong-dvc/dossiers/{DELIVERY_DATE}/{VANISHING_FILE}",
    }
    # Rejected files are not reported again as new problems.
    assert not any(f.status == "rejected" for f in second.files)


def test_a_50000_character_value_is_stored_whole(corpus: CorpusRun, spark):
    rows = spark.read.format("delta").load(corpus.lake.table_path(bronze("dossiers")))
    (stored,) = rows.where(F.col("dossier_code") == "RW-LONG").select("summary").collect()
    assert stored["summary"] == LONG_SUMMARY and len(LONG_SUMMARY) == 50_000


def test_legacy_text_renamed_xlsx_is_decoded(corpus: CorpusRun, spark):
    rows = spark.read.format("delta").load(corpus.lake.table_path(bronze("enterprises"))).collect()
    assert [(r["tax_code"], r["name"], r["_source_encoding"]) for r in rows] == [
        ("0100109106", "Công ty TNHH Thủ Dầu Một", "tcvn3")
    ]


def test_formula_text_is_inert_in_csv_exports(corpus: CorpusRun, tmp_path):
    out = tmp_path / "export.csv"
    query = "SELECT dossier_code, procedure_name FROM silver.dossiers WHERE dossier_code = 'RW-FORMULA'"
    result = CliRunner().invoke(app, ["sql", query, "--lake", corpus.lake.root, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").splitlines() == [
        "dossier_code,procedure_name",
        '''RW-FORMULA,"'=HYPERLINK(""http://example.invalid/x"",""Bấm vào đây"")"''',
    ]
    assert FORMULA_TEXT.startswith("=")


# Reader-level decoding: no Spark needed.
VIETNAMESE = "Nguyễn Văn Bình, phường Phú Cường, thành phố Thủ Dầu Một, tỉnh Bình Dương\n" * 4


@pytest.mark.parametrize(
    ("case", "data", "encoding"),
    [
        ("utf8-few-invalid-bytes", VIETNAMESE.encode()[:40] + b"\xff" + VIETNAMESE.encode()[40:], "utf-8"),
        ("tcvn3", encode_tcvn3(VIETNAMESE), "tcvn3"),
        ("vni-windows", encode_vni(VIETNAMESE), "vni-windows"),
        ("utf8-bom", codecs.BOM_UTF8 + VIETNAMESE.encode(), "utf-8-sig"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 30 else "",
)
def test_encoding_detection(case: str, data: bytes, encoding: str) -> None:
    assert detect_encoding(data) == encoding


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('a,b\n1,"x\n2,y\n', 2),
        ('a,b\n1,x"y\n2,"z""w"\n', None),  # a quote inside a bare value, and an escaped one: fine
        ('a,b\n1,"multi\nline"\n2,"open\n', 4),
    ],
    ids=["opened-never-closed", "stray-and-escaped-quotes", "after-a-multiline-value"],
)
def test_unclosed_quote_line(text: str, line: int | None) -> None:
    assert _unclosed_quote_line(text.splitlines(keepends=True), ",") == line


def test_json_nesting_depth_ignores_brackets_inside_strings(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"a": "[[[{{{\\"", "b": [[1]]}\n')
    assert json_nesting_depth(str(path), 32) == 3
