"""One SparkSession for the whole suite (local[2], UI off, few shuffle partitions, Delta on)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from delta.tables import DeltaTable
from typer.testing import CliRunner

import flows  # noqa: F401  (sets the process environment defaults before Prefect is imported)
from flows.cli import app  # noqa: E402
from jobs.config import Settings  # noqa: E402
from jobs.datasets import DATASETS  # noqa: E402
from jobs.lake import INGESTED_FILES, RULE_RESULTS, Lake, bronze, gold, quarantine, silver  # noqa: E402
from jobs.mart_registry import MARTS  # noqa: E402
from jobs.sample import generate_sample  # noqa: E402
from jobs.session import build_spark  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    # Prefect binds its console handler to sys.stderr when logging is first set up. Set up here, that is
    # the suite's stream; set up inside a CliRunner command, it would be that command's, closed on return.
    from prefect.logging.configuration import setup_logging

    setup_logging()


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


# The generated sample taken through the daily flow three times (all seven datasets; a rerun that must
# change nothing; a day of files that cannot be read). Shared, read-only, by every test that needs a
# populated lake: building it costs a few minutes.
@pytest.fixture(scope="session")
def sample_run(spark, tmp_path_factory, prefect_harness) -> dict[str, Any]:
    """Run results, table versions after each run, the sample's manifest and its `Lake`; do not write to it."""
    from flows.daily import daily_flow

    root = tmp_path_factory.mktemp("e2e-lake")
    lake = Lake(str(root.resolve()))
    lake.ensure_layout()
    manifest_path = root / "_sample" / "manifest.json"
    generate_sample(
        Path(lake.landing), manifest_path, days=3, start=dt.date(2025, 6, 29), dossiers_per_day=80,
        enterprises=60, seed=7, defect_rate=0.06,
    )  # fmt: skip
    first = daily_flow(lake_root=str(root))
    versions_after_first = table_versions(spark, lake)
    second = daily_flow(lake_root=str(root))
    versions_after_second = table_versions(spark, lake)
    # A third delivery day brings only files that cannot be taken in; the CLI must say so and exit 1.
    bad_day = Path(lake.landing, "so-khdt", "enterprises", "2025-07-02")
    bad_day.mkdir(parents=True)
    (bad_day / "dangky_doanhnghiep_202507.xlsx").write_bytes(b"PK\x03\x04 this is not a workbook")
    dossier_day = Path(lake.landing, "cong-dvc", "dossiers", "2025-07-02")
    dossier_day.mkdir(parents=True)
    (dossier_day / "hoso_20250702.jsonl").write_text('{"MaHoSo": "X-1", "NgayCapNhat": "20250702080000"}\n')
    third_cli = CliRunner().invoke(app, ["run", "--lake", str(root)])
    return {
        "lake": lake,
        "manifest": json.loads(manifest_path.read_text(encoding="utf-8")),
        "first": first,
        "second": second,
        "versions_after_first": versions_after_first,
        "versions_after_second": versions_after_second,
        "third_cli": third_cli,
    }


def table_versions(spark, lake: Lake) -> dict[str, int]:
    refs = [*(gold(spec.name) for spec in MARTS), INGESTED_FILES, RULE_RESULTS]
    refs += [r(d) for d in DATASETS for r in (bronze, silver, quarantine)]
    return {
        r.qualified_name: DeltaTable.forPath(spark, lake.table_path(r)).history(1).first()["version"]
        for r in refs
    }
