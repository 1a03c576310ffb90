"""Fault drills on real `govlake run` processes over the generated sample's dossiers.

- Runs killed (SIGKILL) one after another, while they write bronze, then silver, then gold, each leaving the
  next one its half-written files, then two runs started together on that lake, leave the tables one
  uninterrupted run leaves: the run lock makes the second wait, and it then finds nothing new.
- The Prefect server stopped while `govlake serve` runs a flow: the run's process ends by itself, the lake
  stays consistent, and once the server is back (same database) a later run completes.

Each drill ends with the lake compared with one clean reference lake (the same deliveries through the same
stages in this process, built once for the module) and `verify_lake` passing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import unquote

import pytest
from pyspark.testing import assertDataFrameEqual

from jobs import ledger, pipeline
from jobs.lake import Lake, TableRef, bronze, gold, silver
from jobs.marts import DOSSIERS_BY_COMMUNE_MONTH
from jobs.pii import PiiKey
from jobs.run_lock import lock_holder
from jobs.runs import DatasetOutcome
from jobs.sample import generate_sample
from jobs.verify import verify_lake
from tests.test_ops_serve import stop_group, wait_for_deployments

pytestmark = pytest.mark.e2e
PII_KEY_HEX = "5a" * 32
# dossiers alone feed a gold mart (fct_dossiers_by_commune_month): the cheapest run that writes every layer.
DATASET = "dossiers"
MART = gold(DOSSIERS_BY_COMMUNE_MONTH)
RUN_DEPENDENT = ("_merged_at", "_ingest_run_id")  # when and by which run a row was written
GOVLAKE = str(Path(sys.executable).with_name("govlake"))
KILL_DEADLINE_S = 240
RUN_TIMEOUT_S = 600
# A served run whose API went away ends by itself: Prefect's runner gives up on the API after three failed
# polls (each call retried five times with backoff: 3-4 minutes in all) and stops the run; a run that
# finishes first ends when its final state report gives up (1-2 minutes).
SERVED_RUN_EXIT_BOUND_S = 900


def make_lake(root: Path) -> Lake:
    lake = Lake(str(root.resolve()))
    lake.ensure_layout()
    generate_sample(
        Path(lake.landing), root / "_sample" / "manifest.json", days=3, start=dt.date(2025, 6, 29),
        dossiers_per_day=25, enterprises=20, seed=11, defect_rate=0.05,
    )  # fmt: skip
    return lake


@pytest.fixture(scope="module")
def clean_lake(spark, tmp_path_factory) -> Lake:
    """The sample's dossiers through ingest, validate-and-merge and gold once, uninterrupted, in this process."""
    clean = make_lake(tmp_path_factory.mktemp("clean-lake"))
    key = PiiKey(bytes.fromhex(PII_KEY_HEX), source="test")
    outcome = DatasetOutcome(DATASET)
    pipeline.ingest(spark, clean, DATASET, "clean-run", outcome)
    pipeline.process(spark, clean, DATASET, "clean-run", key, outcome)
    pipeline.build_marts(spark, clean)
    return clean


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


@dataclass(frozen=True)
class Stage:
    """A write the drill interrupts: data files under `table` that no commit names."""

    name: str
    table: TableRef

    def uncommitted(self, lake: Lake) -> set[str]:
        table_dir = Path(lake.table_path(self.table))
        if not table_dir.is_dir():
            return set()
        written = {
            str(p.relative_to(table_dir)) for p in table_dir.rglob("*.parquet") if "_delta_log" not in p.parts
        }
        return written - committed_files(table_dir / "_delta_log")


# In the order a run reaches them: no earlier kill has written to a later stage's table.
STAGES = [
    # The run's one bronze commit of every new file (the table's first write).
    Stage("bronze-append", bronze(DATASET)),
    # The run's one MERGE into silver of every pending date (creating the table writes no data file).
    Stage("silver-merge", silver(DATASET)),
    # The mart's build from silver (its first write: a full build).
    Stage("gold-build", MART),
]


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


def log_tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:]


def table(spark, lake: Lake, ref: TableRef):
    return spark.read.format("delta").load(lake.table_path(ref))


def assert_bronze_complete(spark, lake: Lake) -> None:
    """Every delivered record in bronze once, every delivered file in the ledger once."""
    manifest = json.loads((Path(lake.root) / "_sample" / "manifest.json").read_text(encoding="utf-8"))
    delivered = {f["path"]: f["records"] for f in manifest["files"] if f["dataset"] == DATASET}
    in_bronze = table(spark, lake, bronze(DATASET)).groupBy("_source_file").count().collect()
    assert {r["_source_file"]: r["count"] for r in in_bronze} == delivered
    in_ledger = Counter(e.relative_path for e in ledger.read_entries(spark, lake, DATASET))
    assert in_ledger == Counter(list(delivered)), (
        "a delivered file is missing from the ledger or listed twice"
    )


def assert_silver_equals_clean(spark, lake: Lake, clean: Lake) -> None:
    assertDataFrameEqual(
        table(spark, lake, silver(DATASET)).drop(*RUN_DEPENDENT),
        table(spark, clean, silver(DATASET)).drop(*RUN_DEPENDENT),
    )
    stored = table(spark, lake, silver(DATASET))
    assert stored.count() == stored.select("dossier_code").distinct().count()


def assert_lake_equals_clean(spark, lake: Lake, clean: Lake) -> None:
    """Bronze complete, the same silver and gold rows as the clean lake, and `govlake verify` passing."""
    assert_bronze_complete(spark, lake)
    assert_silver_equals_clean(spark, lake, clean)
    assertDataFrameEqual(table(spark, lake, MART), table(spark, clean, MART))
    report = verify_lake(spark, lake)
    assert report.violations == [], report.violations


def test_runs_killed_during_each_write_in_turn_then_two_runs_at_once_equal_a_clean_run(
    spark, tmp_path, prefect_harness, clean_lake
):
    lake = make_lake(tmp_path / "lake")
    killed_log = tmp_path / "killed.log"
    with open(killed_log, "ab") as log:
        for stage in STAGES:
            left_before = stage.uncommitted(lake)  # what an earlier killed run left does not count
            run = govlake_run(lake, log)
            deadline = time.monotonic() + KILL_DEADLINE_S
            while (
                run.poll() is None
                and time.monotonic() < deadline
                and not stage.uncommitted(lake) - left_before
            ):
                time.sleep(0.05)
            run.send_signal(signal.SIGKILL)
            assert run.wait() == -signal.SIGKILL, (
                f"the run ended before {stage.name} could be interrupted: {log_tail(killed_log)}"
            )
            # The killed run got past the earlier stages (the previous run's kill included): those layers are
            # as a clean run leaves them.
            if stage.table != bronze(DATASET):
                assert_bronze_complete(spark, lake)
            if stage.table == MART:
                assert_silver_equals_clean(spark, lake, clean_lake)

    # Killed with data files on disk that no commit named a moment before: readers and the next runs must ignore
    # them (the commit may still have landed in that moment; the tables must be right either way). The two
    # runs overlap: one waits for the other's lock, naming the holder, then finds nothing new.
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    with open(logs[0], "ab") as first_log, open(logs[1], "ab") as second_log:
        runs = [govlake_run(lake, first_log), govlake_run(lake, second_log)]
        codes = [run.wait(timeout=2 * RUN_TIMEOUT_S) for run in runs]
    assert codes == [0, 0], "\n\n".join(log_tail(p) for p in logs)
    waited = [p for p in logs if "waiting for run " in p.read_text(errors="replace")]
    assert len(waited) == 1, "\n\n".join(log_tail(p) for p in logs)
    assert " (pid " in waited[0].read_text(errors="replace")
    assert_lake_equals_clean(spark, lake, clean_lake)


def process_running(pid: int) -> bool:
    """The process exists and has not exited (an exited child its parent has not reaped yet is a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(condition, timeout_s: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"{what} not within {timeout_s:.0f}s:\n{log_tail(log)}"
        time.sleep(0.5)


# The longest drill: two Prefect server starts, `govlake serve`, an interrupted served run (the wait for
# Prefect to give up on the API is shortened by fewer client retries) and a complete one.
def test_the_prefect_server_stopped_during_a_served_run_then_back_a_later_run_completes(
    spark, tmp_path, clean_lake
):
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.deployments import free_port, start_local_server

    lake = make_lake(tmp_path / "lake")
    server_env = {
        "PREFECT_HOME": str(tmp_path / "prefect-home"),  # the database kept across the restart
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",  # only the runs the test asks for
    }
    port = free_port()
    server_log, serve_log = tmp_path / "server.log", tmp_path / "serve.log"
    server = start_local_server(port=port, log_file=server_log, env=server_env)
    serve = None
    try:
        with serve_log.open("wb") as log:
            serve = subprocess.Popen(
                [GOVLAKE, "serve"],
                env={
                    **os.environ, **server_env,
                    "PREFECT_API_URL": server.api_url,
                    "PREFECT_RUNNER_POLL_FREQUENCY": "1",
                    # Prefect gives up on an unreachable API after one retry, not five: the same path, sooner.
                    "PREFECT_CLIENT_MAX_RETRIES": "1",
                    "GOVLAKE_LAKE_ROOT": lake.root,
                    "GOVLAKE_PII_KEY": PII_KEY_HEX,
                    "GOVLAKE_SPARK_MASTER": "local[2]",
                    "GOVLAKE_DRIVER_MEMORY": "1g",
                    "GOVLAKE_SHUFFLE_PARTITIONS": "2",
                },
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deployment = f"govlake-daily/dataset-{DATASET}"
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            wait_for_deployments([deployment], serve, serve_log)
            interrupted = run_deployment(deployment, timeout=0, as_subflow=False)

        # In progress: the flow run's process holds the lake's run lock and has committed bronze.
        bronze_log = Path(lake.table_path(bronze(DATASET))) / "_delta_log"
        wait_until(lambda: any(bronze_log.glob("*.json")), RUN_TIMEOUT_S, "bronze committed", serve_log)
        run_pid = int(lock_holder(lake)["pid"])
        server.stop()

        started = time.monotonic()
        wait_until(lambda: not process_running(run_pid), SERVED_RUN_EXIT_BOUND_S, "the run's exit", serve_log)
        print(f"the served run ended {time.monotonic() - started:.0f}s after the server stopped")
        assert serve.poll() is None, f"govlake serve ended with the server:\n{log_tail(serve_log)}"
        # Nothing half-written: every table at a commit, bronze and the ledger in step.
        assert verify_lake(spark, lake).violations == []

        server = start_local_server(port=port, log_file=server_log, env=server_env)
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            with get_client(sync_client=True) as client:
                print("the interrupted flow run is", client.read_flow_run(interrupted.id).state)
            later = run_deployment(deployment, timeout=RUN_TIMEOUT_S, poll_interval=2, as_subflow=False)
        assert later.state is not None and later.state.is_completed(), f"{later.state}\n{log_tail(serve_log)}"
    finally:
        if serve is not None:
            stop_group(serve)
        server.stop()
    assert_lake_equals_clean(spark, lake, clean_lake)
