"""`govlake serve` against a real Prefect server: deployments with Vietnam-time schedules, and one run done."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings

from flows.deployments import start_local_server

pytestmark = pytest.mark.e2e
GOVLAKE = Path(sys.executable).with_name("govlake")
VIETNAM = "Asia/Ho_Chi_Minh"


def wait_for_deployments(
    names: list[str], serve: subprocess.Popen, log: Path, timeout_s: float = 120
) -> dict:
    deadline = time.monotonic() + timeout_s
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            assert serve.poll() is None, f"govlake serve exited:\n{log.read_text(errors='replace')}"
            found = {}
            for name in names:
                try:
                    found[name] = client.read_deployment_by_name(name)
                except Exception:  # not registered yet
                    break
            if len(found) == len(names):
                return found
            time.sleep(1)
    raise AssertionError(f"deployments not registered in {timeout_s}s:\n{log.read_text(errors='replace')}")


def stop_group(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def test_serve_registers_the_schedules_and_runs_a_deployment(tmp_path):
    lake = tmp_path / "lake"
    base_env = {
        "PREFECT_HOME": str(tmp_path / "prefect-home"),  # its own sqlite database
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",  # no UI build: a faster start
        # No cron run may start during the test: the run checked is the one the test asks for.
        "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
    }
    server = start_local_server(log_file=tmp_path / "server.log", env=base_env)
    serve_log = tmp_path / "serve.log"
    serve = None
    try:
        serve_env = {
            **os.environ,
            **base_env,
            "PREFECT_API_URL": server.api_url,
            "PREFECT_RUNNER_POLL_FREQUENCY": "1",
            "GOVLAKE_LAKE_ROOT": str(lake),
            "GOVLAKE_SPARK_MASTER": "local[2]",
            "GOVLAKE_DRIVER_MEMORY": "1g",
            "GOVLAKE_SHUFFLE_PARTITIONS": "2",
        }
        with serve_log.open("wb") as log:
            serve = subprocess.Popen(
                [str(GOVLAKE), "serve"],
                env=serve_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            deployments = wait_for_deployments(
                [
                    "govlake-daily/daily",
                    "govlake-daily/dataset-dossiers",
                    "govlake-daily/dataset-enterprises",
                    "govlake-backfill/backfill",
                    "govlake-maintenance/weekly",
                ],
                serve,
                serve_log,
            )
            daily = deployments["govlake-daily/daily"]
            assert [(s.schedule.cron, s.schedule.timezone) for s in daily.schedules] == [
                ("30 1 * * *", VIETNAM)
            ]
            assert daily.entrypoint == "flows.daily.daily_flow"
            weekly = deployments["govlake-maintenance/weekly"]
            assert [(s.schedule.cron, s.schedule.timezone) for s in weekly.schedules] == [
                ("0 3 * * 0", VIETNAM)
            ]
            dossiers = deployments["govlake-daily/dataset-dossiers"]
            assert dossiers.parameters == {"datasets": ["dossiers"]} and not dossiers.schedules
            assert not deployments["govlake-backfill/backfill"].schedules

            # Maintenance of an empty lake: a cheap run that still goes server → served process → flow run.
            flow_run = run_deployment(
                "govlake-maintenance/weekly", timeout=300, poll_interval=1, as_subflow=False
            )
            assert flow_run.state is not None and flow_run.state.is_completed(), (
                f"{flow_run.state}\n{serve_log.read_text(errors='replace')[-4000:]}"
            )
        (report_path,) = (lake / "_ops" / "maintenance").glob("*.json")
        report = json.loads(report_path.read_text(encoding="utf-8"))
        assert report["status"] == "succeeded" and report["tables"] == []
        assert report["lake_root"] == str(lake.resolve())
        assert "serving govlake deployments on " + server.api_url in serve_log.read_text(errors="replace")
    finally:
        if serve is not None:
            stop_group(serve)
        server.stop()
    assert server.process.poll() is not None and serve.poll() is not None
