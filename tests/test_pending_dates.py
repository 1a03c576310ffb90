"""Several pending delivery dates go through one validation pass and one MERGE, each judged as its own batch,
and silver, quarantine and the rule results end as if the dates had been processed one run at a time."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from pyspark.testing import assertDataFrameEqual
from test_replay import dossier

from jobs import ledger, pipeline, quality
from jobs.lake import RULE_RESULTS, Lake, quarantine, silver
from jobs.pii import PiiKey
from jobs.runs import DatasetOutcome

KEY = PiiKey(b"k" * 32, source="test")
BAD_ID = "dossiers.applicant_id.format"
COPIES = "dossiers.dossier_code.unique_in_batch"


def version(code: str, updated: str, status: str = "2", applicant_id: str = "074095001234") -> dict[str, str]:
    return {**dossier(code, "25747", applicant_id), "NgayCapNhat": updated, "TrangThaiHoSo": status}


DELIVERIES = {
    "2025-06-29": [
        version("H-1", "20250629090000"),
        version("H-2", "20250629090000"),
        version("H-3", "20250629090000", applicant_id="07409500123X"),  # quarantined
    ],
    "2025-06-30": [
        version("H-1", "20250630100000", status="4"),  # a newer version: updates H-1
        version("H-2", "20250629090000", status="5"),  # the same version again: the stored one stays
        version("H-4", "20250630080000"),
        version("H-4", "20250630080000", status="3"),  # a copy in the same batch: warned, later copy wins
    ],
    "2025-07-01": [
        version("H-1", "20250629080000", status="1"),  # older than stored: ignored
        version("H-4", "20250630080000", status="6"),  # a copy a day later is not a duplicate in its batch
        version("H-5", "20250701080000", applicant_id="07409500123Y"),  # quarantined
    ],
}
VOLATILE = ["_merged_at", "_ingested_at", "_ingest_run_id", "quarantined_at", "quarantined_run_id", "run_id",
            "recorded_at"]  # fmt: skip


def deliver(lake: Lake, date: str) -> None:
    folder = Path(lake.landing, "cong-dvc", "dossiers", date)
    folder.mkdir(parents=True)
    lines = [json.dumps(record, ensure_ascii=False) for record in DELIVERIES[date]]
    (folder / f"dossiers_{date.replace('-', '')}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def new_lake(root: Path) -> Lake:
    lake = Lake(str(root.resolve()))
    lake.ensure_layout()
    return lake


def run(spark, lake: Lake, run_id: str) -> DatasetOutcome:
    outcome = DatasetOutcome("dossiers")
    pipeline.ingest(spark, lake, "dossiers", run_id, outcome)
    pipeline.process(spark, lake, "dossiers", run_id, KEY, outcome)
    return outcome


def table(spark, lake: Lake, ref):
    frame = spark.read.format("delta").load(lake.table_path(ref))
    return frame.drop(*[c for c in VOLATILE if c in frame.columns])


def merges(spark, lake: Lake) -> int:
    history = spark.sql(f"DESCRIBE HISTORY delta.`{lake.table_path(silver('dossiers'))}`")
    return history.where("operation = 'MERGE'").count()


def assert_same_tables(spark, lake: Lake, reference: Lake) -> None:
    for ref in (silver("dossiers"), quarantine("dossiers")):
        assertDataFrameEqual(table(spark, lake, ref), table(spark, reference, ref))
    # The post-merge invariants are checked once per merge, so they are left out of this comparison.
    rules = "rule_id NOT LIKE 'silver.%'"
    assertDataFrameEqual(
        table(spark, lake, RULE_RESULTS).where(rules), table(spark, reference, RULE_RESULTS).where(rules)
    )


@pytest.fixture(scope="module")
def one_at_a_time(spark, tmp_path_factory) -> Lake:
    """The reference: each date delivered and run on its own, oldest first."""
    lake = new_lake(tmp_path_factory.mktemp("one-at-a-time"))
    for n, date in enumerate(sorted(DELIVERIES)):
        deliver(lake, date)
        assert run(spark, lake, f"run-{n}").status == "ok"
    return lake


def with_severity(rule_ids: set[str], severity: str) -> quality.Suite:
    shipped = quality.load_suite("dossiers")
    rules = (dataclasses.replace(r, severity=severity) if r.rule_id in rule_ids else r for r in shipped.rules)
    return dataclasses.replace(shipped, rules=tuple(rules))


def pending_statuses(spark, lake: Lake) -> dict[str, str]:
    return {e.delivery_date: e.status for e in ledger.read_entries(spark, lake, "dossiers")}


def test_dates_in_one_run_end_as_dates_one_run_at_a_time(spark, tmp_path, one_at_a_time):
    together = new_lake(tmp_path / "together")
    for date in DELIVERIES:
        deliver(together, date)

    outcome = run(spark, together, "run-0")

    assert outcome.status == "ok"
    assert (outcome.bronze_rows, outcome.valid, outcome.quarantined, outcome.warned) == (10, 8, 2, 1)
    assert (outcome.inserted, outcome.updated) == (3, 0)  # H-1, H-2, H-4 in their final state, at once
    # One MERGE here; one per date that changed silver there (the last date changes nothing).
    assert merges(spark, together) == 1 and merges(spark, one_at_a_time) == 2
    assert_same_tables(spark, together, one_at_a_time)
    stored = {r["dossier_code"]: r["status"] for r in table(spark, together, silver("dossiers")).collect()}
    assert stored == {"H-1": 4, "H-2": 2, "H-4": 3}
    by_date = {(r["batch_date"], r["rule_id"]): r["failed"] for r in outcome.rule_results}
    assert [by_date[(d, BAD_ID)] for d in sorted(DELIVERIES)] == [1, 0, 1]
    assert [by_date[(d, COPIES)] for d in sorted(DELIVERIES)] == [0, 1, 0]


def test_a_blocked_date_holds_itself_and_later_dates_while_earlier_ones_merge(
    spark, tmp_path, monkeypatch, one_at_a_time
):
    lake = new_lake(tmp_path / "lake")
    for date in DELIVERIES:
        deliver(lake, date)
    # A bad ID fails its batch: the first date blocks, so nothing merges and later dates are not judged.
    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "load_suite", lambda dataset: with_severity({BAD_ID}, "fail"))
        first_blocked = run(spark, lake, "run-1")
    assert first_blocked.status == "blocked"
    assert first_blocked.blocked_reasons[0].startswith(f"{BAD_ID}: 1 of 3 failed")
    assert {r["batch_date"] for r in first_blocked.rule_results} == {"2025-06-29"}
    assert set(pending_statuses(spark, lake).values()) == {ledger.INGESTED}
    assert not (Path(lake.table_path(silver("dossiers"))) / "_delta_log").exists()

    # A copy in a batch fails it: the second date blocks; the first merges alone.
    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "load_suite", lambda dataset: with_severity({COPIES}, "fail"))
        second_blocked = run(spark, lake, "run-2")
    assert second_blocked.status == "blocked"
    assert second_blocked.blocked_reasons[0].startswith(f"{COPIES}: 1 of 4 failed")
    assert {r["batch_date"] for r in second_blocked.rule_results} == {"2025-06-29", "2025-06-30"}
    # The blocked date's rows are counted as judged (one flagged by the failing rule), though not written.
    assert (second_blocked.bronze_rows, second_blocked.quarantined, second_blocked.inserted) == (7, 2, 2)
    assert pending_statuses(spark, lake) == {
        "2025-06-29": ledger.PROCESSED, "2025-06-30": ledger.INGESTED, "2025-07-01": ledger.INGESTED
    }  # fmt: skip
    stored = {r["dossier_code"]: r["status"] for r in table(spark, lake, silver("dossiers")).collect()}
    assert stored == {"H-1": 2, "H-2": 2}
    held = table(spark, lake, quarantine("dossiers")).collect()
    assert [(r["record_key"], r["_delivery_date"]) for r in held] == [("H-3", "2025-06-29")]

    # The shipped suite again: the next run takes the two held dates and ends as the reference.
    relaxed = run(spark, lake, "run-3")
    assert relaxed.status == "ok" and relaxed.bronze_rows == 7
    for ref in (silver("dossiers"), quarantine("dossiers")):  # rule results: the blocked runs' are extra
        assertDataFrameEqual(table(spark, lake, ref), table(spark, one_at_a_time, ref))
