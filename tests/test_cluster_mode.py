"""`govlake run` against a Spark standalone cluster gives the same silver and gold as a local run.

The master and one worker are started from the installed pyspark's own launcher (`bin/spark-class`), bound to
127.0.0.1 on free ports, and stopped (with any executor they started) whatever the outcome.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pyspark
import pytest
from pyspark.testing import assertDataFrameEqual

from flows.deployments import free_port
from jobs.lake import Lake, gold, quarantine, silver
from jobs.marts import DOSSIERS_BY_COMMUNE_MONTH
from jobs.sample import generate_sample

pytestmark = pytest.mark.e2e
SPARK_HOME = Path(pyspark.__file__).resolve().parent
GOVLAKE = Path(sys.executable).with_name("govlake")
DATASETS = ("dossiers", "enterprises")
COMPARED = (
    [silver(d) for d in DATASETS] + [quarantine(d) for d in DATASETS] + [gold(DOSSIERS_BY_COMMUNE_MONTH)]
)
# Columns that say when or in which run a row was written: they differ between any two runs.
RUN_COLUMNS = ("_merged_at", "quarantined_at")


def comparable(frame):
    return frame.drop(*[c for c in frame.columns if c in RUN_COLUMNS or c.endswith("run_id")])


def write_sample(root: Path) -> Lake:
    lake = Lake(str(root.resolve()))
    lake.ensure_layout()
    generate_sample(
        Path(lake.landing), root / "_sample" / "manifest.json", days=1, start=dt.date(2025, 6, 29),
        dossiers_per_day=12, enterprises=6, seed=21, defect_rate=0.15,
    )  # fmt: skip
    return lake


def master_state(master_ui: int) -> dict:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{master_ui}/json/", timeout=2) as response:
            return json.load(response)
    except OSError:
        return {}


def processes_under(folder: Path) -> list[int]:
    """Processes whose working directory or command line is inside `folder` (executors the worker started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cwd.startswith(str(folder)) or str(folder) in command:
            found.append(int(entry.name))
    return found


def stop_group(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture
def standalone_cluster(tmp_path: Path) -> Iterator[tuple[str, int]]:
    cluster_dir = tmp_path / "spark-cluster"
    (cluster_dir / "work").mkdir(parents=True)
    properties = cluster_dir / "spark-defaults.conf"
    properties.write_text("spark.master.rest.enabled false\nspark.ui.showConsoleProgress false\n")
    env = {
        **os.environ,
        "SPARK_HOME": str(SPARK_HOME),
        "SPARK_LOCAL_IP": "127.0.0.1",  # RPC and web UIs on loopback only
        "SPARK_LOG_DIR": str(cluster_dir / "logs"),
        "SPARK_WORKER_DIR": str(cluster_dir / "work"),
    }
    master_port, master_ui, worker_ui = free_port(), free_port(), free_port()
    master_url = f"spark://127.0.0.1:{master_port}"
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    started: list[subprocess.Popen] = []
    try:
        with (cluster_dir / "master.log").open("wb") as log:
            started.append(
                subprocess.Popen(
                    [
                        spark_class,
                        "org.apache.spark.deploy.master.Master",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(master_port),
                        "--webui-port",
                        str(master_ui),
                        "--properties-file",
                        str(properties),
                    ],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )  # fmt: skip
            )
        with (cluster_dir / "worker.log").open("wb") as log:
            started.append(
                subprocess.Popen(
                    [
                        spark_class,
                        "org.apache.spark.deploy.worker.Worker",
                        master_url,
                        "--host",
                        "127.0.0.1",
                        "--webui-port",
                        str(worker_ui),
                        "--cores",
                        "2",
                        "--memory",
                        "2g",
                        "--work-dir",
                        str(cluster_dir / "work"),
                        "--properties-file",
                        str(properties),
                    ],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )  # fmt: skip
            )
        deadline = time.monotonic() + 120
        while master_state(master_ui).get("aliveworkers", 0) < 1:
            for process in started:
                assert process.poll() is None, (cluster_dir / "master.log").read_text(errors="replace")
            assert time.monotonic() < deadline, "the worker did not register with the master in 120 s"
            time.sleep(1)
        yield master_url, master_ui
    finally:
        for process in reversed(started):
            stop_group(process)
        for pid in processes_under(cluster_dir):  # an executor that outlived its worker
            os.kill(pid, signal.SIGKILL)


def test_a_cluster_run_writes_the_same_tables_as_a_local_run(
    spark, tmp_path, standalone_cluster, prefect_harness
):
    from prefect.settings import PREFECT_API_URL

    from flows.daily import daily_flow

    local = write_sample(tmp_path / "local-lake")
    local_summary = daily_flow(datasets=list(DATASETS), lake_root=local.root)
    assert local_summary["status"] == "succeeded", local_summary["problems"]

    on_cluster = write_sample(tmp_path / "cluster-lake")
    env = {
        **os.environ,
        "GOVLAKE_SPARK_MASTER": standalone_cluster[0],
        "GOVLAKE_SHUFFLE_PARTITIONS": "2",
        # The same key, so pseudonyms match those of the local run.
        "GOVLAKE_PII_KEY_FILE": str(Path(local.private_dir, "pii.key")),
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),  # the suite's API: no second temporary server
    }
    command = [str(GOVLAKE), "run", "--lake", on_cluster.root, *[a for d in DATASETS for a in ("-d", d)]]
    run = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        output, _ = run.communicate(timeout=600)
    finally:
        stop_group(run)
    text = output.decode(errors="replace")
    assert run.returncode == 0, text[-6000:]
    (summary_path,) = Path(on_cluster.runs_dir).glob("*.json")
    cluster_summary = json.loads(summary_path.read_text(encoding="utf-8"))
    assert cluster_summary["status"] == "succeeded"
    # The run really was the cluster's: the master lists it as a finished application.
    finished = master_state(standalone_cluster[1]).get("completedapps", [])
    assert [app["name"] for app in finished] == ["govlake"]

    for ref in COMPARED:
        expected = comparable(spark.read.format("delta").load(local.table_path(ref)))
        actual = comparable(spark.read.format("delta").load(on_cluster.table_path(ref)))
        if ref.zone != "quarantine":  # how many rows the sample's defects send to quarantine may be none
            assert actual.count() > 0, ref.qualified_name
        assertDataFrameEqual(actual, expected)
    for name in ("rows_read", "bronze_rows", "valid", "quarantined", "inserted", "updated"):
        assert [d[name] for d in cluster_summary["datasets"]] == [d[name] for d in local_summary["datasets"]]
