"""One run at a time on a lake: the daily flow holds an exclusive lock on `<lake>/_ops/run.lock` for its
whole duration, so two runs started together never both take the same landing file in.

The lock is `fcntl.flock` on a local file: the kernel releases it when the holding process ends, however it
ends (SIGKILL included), so a crashed run never leaves a stale lock behind. The file records who holds it
(run id, pid, host, since when) for the log line of a run that waits. A run that cannot get the lock within
its timeout fails with `RunLockTimeout` and touches nothing.

A lake root on remote storage (`s3a://`, `hdfs://`) has no such lock: there runs are serialised by serving
the deployments with `govlake serve --limit 1` (the default) and starting no `govlake run` beside it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jobs.lake import Lake

log = logging.getLogger(__name__)

LOCK_FILE = "_ops/run.lock"
POLL_SECONDS = 1.0
WAIT_LOG_EVERY_SECONDS = 60.0


class RunLockTimeout(TimeoutError):
    """Another run held the lake's run lock for longer than this run was allowed to wait."""


def lock_path(lake: Lake) -> Path:
    return Path(lake.root) / LOCK_FILE


def lock_holder(lake: Lake) -> dict[str, Any]:
    """Who holds (or last held) the lock, as the holder wrote it; empty when unknown."""
    try:
        return dict(json.loads(lock_path(lake).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


def _describe(holder: dict[str, Any]) -> str:
    if not holder:
        return "another run (holder not recorded yet)"
    return (
        f"run {holder.get('run_id')} (pid {holder.get('pid')} on {holder.get('host')}, "
        f"since {holder.get('since')})"
    )


@contextmanager
def run_lock(
    lake: Lake, run_id: str, timeout_seconds: float, logger: logging.Logger | logging.LoggerAdapter = log
) -> Iterator[None]:
    """Hold the lake's run lock while the block runs; wait up to `timeout_seconds` for another holder."""
    if not lake.is_local:
        yield
        return
    path = lock_path(lake)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Opened without truncating: the current holder's record must stay readable until we hold the lock.
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(lake, descriptor, run_id, timeout_seconds, logger)
        holder = {
            "run_id": run_id,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, json.dumps(holder).encode("utf-8"), 0)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _acquire(
    lake: Lake,
    descriptor: int,
    run_id: str,
    timeout_seconds: float,
    logger: logging.Logger | logging.LoggerAdapter,
) -> None:
    started = time.monotonic()
    next_wait_log = started
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass
        else:
            if next_wait_log > started:  # it had to wait: say when it got the lock
                logger.info("run %s has the lake's run lock after %.0fs", run_id, time.monotonic() - started)
            return
        waited = time.monotonic() - started
        holder = _describe(lock_holder(lake))
        if waited >= timeout_seconds:
            raise RunLockTimeout(
                f"run {run_id} gave up after waiting {waited:.0f}s for {holder} to finish on {lake.root}; "
                f"nothing was written. Run again when it has finished, or raise run_lock_timeout_seconds "
                f"(GOVLAKE_RUN_LOCK_TIMEOUT_SECONDS)"
            )
        if time.monotonic() >= next_wait_log:
            logger.info(
                "run %s waiting for %s to finish on %s (lock %s; gives up after %.0fs)",
                run_id, holder, lake.root, lock_path(lake), timeout_seconds,
            )  # fmt: skip
            next_wait_log = time.monotonic() + WAIT_LOG_EVERY_SECONDS
        time.sleep(min(POLL_SECONDS, max(timeout_seconds - waited, 0.0)))
