"""One SparkSession for the whole suite (local[2], UI off, few shuffle partitions, Delta on)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import flows  # noqa: F401  (sets the process environment defaults before Prefect is imported)
from jobs.config import Settings  # noqa: E402
from jobs.session import build_spark  # noqa: E402

SHARED_REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"


@pytest.fixture(scope="session")
def test_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings.from_env(
        spark_master="local[2]",
        shuffle_partitions=2,
        driver_memory="2g",
        lake_root=str(tmp_path_factory.mktemp("session-lake")),
    )


@pytest.fixture(scope="session")
def spark(test_settings: Settings):
    session = build_spark(test_settings, app_name="govlake-tests")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def shared_reference() -> Path:
    if not SHARED_REFERENCE.is_dir():
        pytest.fail(
            f"reference data not found at {SHARED_REFERENCE}: ../shared must sit beside the repository"
        )
    return SHARED_REFERENCE


@pytest.fixture(scope="session")
def prefect_harness():
    """A temporary Prefect API for flow tests (Prefect's own test harness, no server to manage)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


# Headless Chromium (Debian's chromium and chromium-driver) for the tests that open run reports.
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
)


def _require_browser() -> None:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package (pip install -e '.[dev]')")
    if missing:
        message = (
            f"headless Chromium is needed for the report's browser test but {', '.join(missing)} is missing: "
            "run `make browser` (apt-get install chromium chromium-driver)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    # Console messages and every network event the page causes, read back after the page has loaded.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()
