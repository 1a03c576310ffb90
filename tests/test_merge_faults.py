"""A `govlake run` killed (SIGKILL) while it writes silver, then run again, leaves the same tables as a
run that was never interrupted: same silver rows, no duplicate key, every delivered record in bronze once."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO
from urllib.parse import unquote

import pytest
from pyspark.testing import assertDataFrameEqual

from jobs import pipeline
from jobs.lake import Lake, bronze, gold, silver
from jobs.marts import DOSSIERS_BY_COMMUNE_MONTH
from jobs.pii import PiiKey
from jobs.runs import DatasetOutcome
from jobs.sample import generate_sample
from jobs.verify import verify_lake

pytestmark = pytest.mark.e2e
PII_KEY_HEX = "5a" * 32
DATASET = "dossiers"
RUN_DEPENDENT = ("_merged_at", "_ingest_run_id")  # when and by which run a row was written
GOVLAKE = str(Path(sys.executable).with_name("govlake"))
KILL_DEADLINE_S = 240


def make_lake(root: Path) -> Lake:
    lake = Lake(str(root.resolve()))
    lake.ensure_layout()
    generate_sample(
        Path(lake.landing), root / "_sample" / "manifest.json", days=3, start=dt.date(2025, 6, 29),
        dossiers_per_day=25, enterprises=20, seed=11, defect_rate=0.05,
    )  # fmt: skip
    return lake


def committed_files(log_dir: Path) -> set[str]:
    """Data and change files the table's commits name (paths relative to the table, decoded)."""
    files = set()
    for commit in log_dir.glob("*.json"):
        for line in commit.read_text(encoding="utf-8").splitlines():
            action = json.loads(line)
            for kind in ("add", "cdc"):
                if kind in action:
                    files.add(unquote(action[kind]["path"]))
    return files


def merge_in_flight(table_dir: Path) -> bool:
    """A MERGE has committed before and the next one has written data files it has not committed yet."""
    log_dir = table_dir / "_delta_log"
    commits = sorted(log_dir.glob("*.json")) if log_dir.is_dir() else []
    if not any('"operation":"MERGE"' in c.read_text(encoding="utf-8") for c in commits):
        return False
    written = {
        str(p.relative_to(table_dir)) for p in table_dir.rglob("*.parquet") if "_delta_log" not in p.parts
    }
    return bool(written - committed_files(log_dir))


def govlake_run(lake: Lake, log: IO[bytes]) -> subprocess.Popen:
    from prefect.settings import PREFECT_API_URL

    env = {
        **os.environ,
        "GOVLAKE_PII_KEY": PII_KEY_HEX,
        "GOVLAKE_SHUFFLE_PARTITIONS": "2",
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),  # the suite's API: no temporary server per run
    }
    return subprocess.Popen(
        [GOVLAKE, "run", "--lake", lake.root, "--dataset", DATASET], env=env, stdout=log, stderr=log
    )


def silver_rows(spark, lake: Lake):
    return spark.read.format("delta").load(lake.table_path(silver(DATASET))).drop(*RUN_DEPENDENT)


def test_a_run_killed_during_the_silver_merge_and_rerun_equals_a_clean_run(spark, tmp_path, prefect_harness):
    killed = make_lake(tmp_path / "killed")
    log_path = tmp_path / "runs.log"
    table_dir = Path(killed.table_path(silver(DATASET)))
    with open(log_path, "ab") as log:
        run = govlake_run(killed, log)
        deadline = time.monotonic() + KILL_DEADLINE_S
        while run.poll() is None and time.monotonic() < deadline and not merge_in_flight(table_dir):
            time.sleep(0.05)
        run.send_signal(signal.SIGKILL)
        assert run.wait() == -signal.SIGKILL, f"the run ended before a merge could be interrupted: {log_path}"
        rerun = govlake_run(killed, log)
        assert rerun.wait(timeout=600) == 0, log_path.read_text(errors="replace")[-3000:]

    # The same deliveries through the same stages, uninterrupted, in this process.
    clean = make_lake(tmp_path / "clean")
    key = PiiKey(bytes.fromhex(PII_KEY_HEX), source="test")
    outcome = DatasetOutcome(DATASET)
    pipeline.ingest(spark, clean, DATASET, "clean-run", outcome)
    pipeline.process(spark, clean, DATASET, "clean-run", key, outcome)
    pipeline.build_marts(spark, clean)

    assertDataFrameEqual(silver_rows(spark, killed), silver_rows(spark, clean))
    stored = silver_rows(spark, killed)
    assert stored.count() == stored.select("dossier_code").distinct().count()
    manifest = json.loads((tmp_path / "killed" / "_sample" / "manifest.json").read_text(encoding="utf-8"))
    delivered = {f["path"]: f["records"] for f in manifest["files"] if f["dataset"] == DATASET}
    in_bronze = (
        spark.read.format("delta").load(killed.table_path(bronze(DATASET))).groupBy("_source_file").count()
    )
    assert {r["_source_file"]: r["count"] for r in in_bronze.collect()} == delivered
    mart = gold(DOSSIERS_BY_COMMUNE_MONTH)
    assertDataFrameEqual(
        spark.read.format("delta").load(killed.table_path(mart)),
        spark.read.format("delta").load(clean.table_path(mart)),
    )
    # The whole lake left by the killed run and its rerun passes `govlake verify`.
    report = verify_lake(spark, killed)
    assert report.violations == [], report.violations
