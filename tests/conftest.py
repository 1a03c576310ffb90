"""One SparkSession for the whole suite (local[2], UI off, few shuffle partitions, Delta on)."""

from __future__ import annotations

from pathlib import Path

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
