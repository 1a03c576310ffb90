"""A permanent fault in one dataset fails that branch only: the other is written, the summary says what failed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from pyspark.sql import types as T

from jobs.lake import Lake, bronze, gold, silver
from jobs.marts import DOSSIERS_BY_COMMUNE_MONTH
from jobs.sample import generate_sample

pytestmark = pytest.mark.e2e

# A silver.enterprises someone created by hand with the wrong key and version types: no retry can fix it.
FOREIGN_SILVER_SCHEMA = T.StructType(
    [
        T.StructField("tax_code", T.LongType()),
        T.StructField("updated_at", T.StringType()),
        T.StructField("valid_from", T.TimestampType()),
        T.StructField("valid_to", T.TimestampType()),
        T.StructField("is_current", T.BooleanType()),
    ]
)


@pytest.fixture(scope="module")
def faulty_run(spark, tmp_path_factory, prefect_harness):
    from flows.daily import daily_flow

    root = tmp_path_factory.mktemp("isolation-lake")
    lake = Lake(str(root.resolve()))
    lake.ensure_layout()
    generate_sample(
        Path(lake.landing), root / "_sample" / "manifest.json", days=1, start=dt.date(2025, 6, 29),
        dossiers_per_day=8, enterprises=5, seed=11, defect_rate=0.0,
    )  # fmt: skip
    spark.createDataFrame([], FOREIGN_SILVER_SCHEMA).write.format("delta").save(
        lake.table_path(silver("enterprises"))
    )
    state = daily_flow(datasets=["dossiers", "enterprises"], lake_root=str(root), return_state=True)
    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
        )
    return {
        "lake": lake,
        "summary": state.result(),
        "task_runs": {t.name: t for t in task_runs},
    }


def test_the_summary_names_exactly_the_failed_dataset_and_why(faulty_run):
    summary = faulty_run["summary"]
    assert summary["status"] == "failed"
    (problem,) = summary["problems"]
    assert problem.startswith(
        "enterprises: failed: SilverSchemaError: silver.enterprises: column 'tax_code' is string; "
        "silver expects bigint"
    ), problem
    statuses = {d["dataset"]: d["status"] for d in summary["datasets"]}
    assert statuses == {"dossiers": "ok", "enterprises": "failed"}
    assert "error" not in summary["marts"]


def test_the_other_dataset_and_gold_are_written(faulty_run, spark):
    lake, summary = faulty_run["lake"], faulty_run["summary"]
    dossiers = next(d for d in summary["datasets"] if d["dataset"] == "dossiers")
    assert dossiers["inserted"] > 0 and dossiers["conserved"]
    assert (
        spark.read.format("delta").load(lake.table_path(silver("dossiers"))).count() == dossiers["inserted"]
    )
    assert DeltaTable.isDeltaTable(spark, lake.table_path(gold(DOSSIERS_BY_COMMUNE_MONTH)))
    # The failing dataset's files are safe in bronze, and its silver table got no row.
    assert spark.read.format("delta").load(lake.table_path(bronze("enterprises"))).count() == 5
    assert spark.read.format("delta").load(lake.table_path(silver("enterprises"))).count() == 0


def test_a_permanent_fault_is_not_retried(faulty_run):
    runs = faulty_run["task_runs"]
    failed = runs["validate-merge-enterprises"]
    assert failed.state.is_failed() and failed.run_count == 1  # retries are for conflicts and I/O hiccups
    assert runs["validate-merge-dossiers"].state.is_completed()
    assert runs["ingest-enterprises"].state.is_completed()
