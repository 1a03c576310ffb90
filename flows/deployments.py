"""Deployments served by `govlake serve`: the daily schedule, one per dataset, backfill and maintenance.

Schedules need a Prefect server: the one `PREFECT_API_URL` points at, or a local one started here. The
served process runs each flow run in a child process on this machine; `limit=1` (the default) runs them
one at a time, because two runs ingesting the same landing files at once could both take a file in (on a
local lake root the run lock, `jobs.run_lock`, also serialises them; on a remote one only this limit does).
When the Prefect API stops answering long enough for Prefect's runner to give up, serving resumes once it
answers again.
"""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron
from prefect.types.entrypoint import EntrypointType

from jobs.datasets import DATASETS

TIMEZONE = "Asia/Ho_Chi_Minh"
# 01:30 Vietnam time: agencies' nightly exports have landed, analysts find fresh gold in the morning.
DAILY_CRON = "30 1 * * *"
# Sunday 03:00: after the daily run, in the quietest hours of the week.
MAINTENANCE_CRON = "0 3 * * 0"
SERVER_START_TIMEOUT_S = 120.0


def build_deployments() -> list[RunnerDeployment]:
    """The deployments `govlake serve` registers, with schedules in Vietnam time."""
    from flows.backfill import backfill_flow
    from flows.daily import daily_flow
    from flows.maintenance import maintenance_flow

    # By module path, not file path, so a served run finds the flow whatever directory serve started in.
    by_module = EntrypointType.MODULE_PATH
    deployments = [
        daily_flow.to_deployment(
            name="daily",
            schedules=[Cron(DAILY_CRON, timezone=TIMEZONE)],
            description="Every dataset from landing to gold, nightly.",
            tags=["govlake", "daily"],
            entrypoint_type=by_module,
        )
    ]
    for name in DATASETS:
        deployments.append(
            daily_flow.to_deployment(
                name=f"dataset-{name}",
                parameters={"datasets": [name]},
                description=f"The daily flow for {name} alone (run on demand, e.g. after a redelivery).",
                tags=["govlake", "dataset", name],
                entrypoint_type=by_module,
            )
        )
    deployments += [
        backfill_flow.to_deployment(
            name="backfill",
            description="The daily flow per delivery date from `start` to `end`; resumes after a failure.",
            tags=["govlake", "backfill"],
            entrypoint_type=by_module,
        ),
        maintenance_flow.to_deployment(
            name="weekly",
            schedules=[Cron(MAINTENANCE_CRON, timezone=TIMEZONE)],
            description="OPTIMIZE (Z-ordered) and VACUUM every table, with a table-health report.",
            tags=["govlake", "maintenance"],
            entrypoint_type=by_module,
        ),
    ]
    # to_deployment is sync-compatible: called from synchronous code it returns the deployment itself.
    return cast(list[RunnerDeployment], deployments)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def wait_for_health(
    api_url: str,
    process: subprocess.Popen | None,  # type: ignore[type-arg]
    timeout_s: float,
) -> None:
    """Poll `<api>/health` until the server answers; fail early if its process has exited."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the Prefect server exited with code {process.returncode} while starting")
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"no Prefect server answered at {api_url} within {timeout_s:.0f}s")


@dataclass
class LocalServer:
    api_url: str
    ui_url: str
    process: subprocess.Popen  # type: ignore[type-arg]

    def stop(self) -> None:
        """Stop the server and everything it started (its own process group)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def start_local_server(
    port: int | None = None, log_file: Path | None = None, env: dict[str, str] | None = None
) -> LocalServer:
    """`prefect server start` on 127.0.0.1 (loopback only) in its own process group; waits until healthy."""
    port = port or free_port()
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    output = log_file.open("ab") if log_file else subprocess.DEVNULL
    process = subprocess.Popen(
        command,
        env={**os.environ, **(env or {})},
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = LocalServer(f"http://127.0.0.1:{port}/api", f"http://127.0.0.1:{port}", process)
    try:
        wait_for_health(server.api_url, process, SERVER_START_TIMEOUT_S)
    except BaseException:
        server.stop()
        raise
    return server


@contextmanager
def prefect_api(api_url: str) -> Iterator[None]:
    """Point this process (and the flow runs it starts) at `api_url`."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    previous = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = api_url
    try:
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            yield
    finally:
        if previous is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = previous


def serve(start_server: bool = False, limit: int = 1, server_log: Path | None = None) -> None:
    """Register the deployments with the Prefect server and run their flow runs until interrupted."""
    from prefect import serve as prefect_serve
    from prefect.settings import PREFECT_API_URL

    server: LocalServer | None = None
    if start_server:
        server = start_local_server(log_file=server_log)
        print(f"Prefect server started; UI at {server.ui_url}", flush=True)
        api_url = server.api_url
    else:
        api_url = os.environ.get("PREFECT_API_URL") or PREFECT_API_URL.value()
        if not api_url:
            raise RuntimeError(
                "schedules need a Prefect server: set PREFECT_API_URL (e.g. http://127.0.0.1:4200/api after "
                "`prefect server start`) or pass --start-server"
            )
        wait_for_health(api_url, None, 30)
    # A service manager stops us with SIGTERM: leave through `finally` so a server we started stops too.
    previous_handler = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with prefect_api(api_url):
            ui_url = api_url.removesuffix("/api")
            while True:
                print(f"serving govlake deployments on {api_url} (UI: {ui_url})", flush=True)
                try:
                    prefect_serve(*build_deployments(), limit=limit)
                    break
                except Exception as error:
                    # Prefect's runner stops after three polls failed (each retried for about a minute):
                    # a server restarted or down for maintenance must not end the service.
                    if _answers(api_url):
                        raise
                    print(
                        f"the Prefect API at {api_url} stopped answering ({type(error).__name__}); "
                        "serving again once it is back",
                        flush=True,
                    )
                    wait_for_health(api_url, None, math.inf)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
        if server is not None:
            server.stop()


def _answers(api_url: str) -> bool:
    try:
        wait_for_health(api_url, None, 5)
    except TimeoutError:
        return False
    return True


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
