"""The lake's run lock (`jobs.run_lock`): a second holder waits, names the first, gives up after its timeout,
and a holder killed with SIGKILL leaves no stale lock."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobs.lake import Lake
from jobs.run_lock import RunLockTimeout, lock_holder, lock_path, run_lock


def local_lake(root: Path) -> Lake:
    lake = Lake(str(root.resolve()))
    lake.ensure_layout()
    return lake


def test_a_second_run_waits_names_the_holder_and_gives_up_after_its_timeout(tmp_path, caplog):
    lake = local_lake(tmp_path)
    caplog.set_level(logging.INFO, logger="jobs.run_lock")
    with run_lock(lake, "run-first", timeout_seconds=5):
        assert lock_holder(lake)["run_id"] == "run-first"
        started = time.monotonic()
        with (
            pytest.raises(RunLockTimeout, match=r"gave up after waiting \d+s for run run-first \(pid \d+"),
            run_lock(lake, "run-second", timeout_seconds=1.5),
        ):
            pytest.fail("the second run got the lock while the first held it")
        assert 1.5 <= time.monotonic() - started < 10
    assert "run run-second waiting for run run-first (pid " in caplog.text
    # Released by the first run: the next one gets it at once.
    with run_lock(lake, "run-third", timeout_seconds=1):
        assert lock_holder(lake)["run_id"] == "run-third"


def test_a_holder_killed_with_sigkill_leaves_no_stale_lock(tmp_path):
    lake = local_lake(tmp_path)
    hold = (
        "import sys, time\n"
        "from jobs.lake import Lake\n"
        "from jobs.run_lock import run_lock\n"
        "with run_lock(Lake(sys.argv[1]), 'run-killed', timeout_seconds=5):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(600)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", hold, lake.root], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        with (
            pytest.raises(RunLockTimeout, match="run run-killed"),
            run_lock(lake, "run-blocked", timeout_seconds=1),
        ):
            pytest.fail("the lock was free while its holder lived")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    with run_lock(lake, "run-after", timeout_seconds=5):
        assert lock_holder(lake)["run_id"] == "run-after"
    assert lock_path(lake).is_file()


def test_a_remote_lake_root_is_not_locked_here():
    # Two holders at once: serialised by `govlake serve --limit 1` instead (README).
    remote = Lake("s3a://bucket/lake")
    with run_lock(remote, "run-a", timeout_seconds=1), run_lock(remote, "run-b", timeout_seconds=1):
        assert lock_holder(remote) == {}
