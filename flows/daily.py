"""The daily flow: every dataset from landing to silver, then gold, then the run summary."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.runtime import get_runtime
from jobs import pipeline
from jobs.backfill import landing_for_dates
from jobs.config import Settings
from jobs.data_docs import build_data_docs
from jobs.datasets import DATASETS, get_dataset
from jobs.lake import Lake
from jobs.merge import is_write_conflict
from jobs.pii_scan import default_scan_roots, files_changed_since, scan_for_pii
from jobs.reference_tables import write_reference_tables
from jobs.report import build_report
from jobs.run_lock import run_lock
from jobs.runs import VIETNAM, DatasetOutcome, FileOutcome, RunSummary, new_run_id


def transient_fault(task: Any, task_run: Any, state: Any) -> bool:
    """Retry only what a second attempt can fix: Delta write conflicts and I/O hiccups."""
    try:
        state.result()
    except Exception as error:  # the task's own exception, re-raised by Prefect
        return is_write_conflict(error) or isinstance(error, (TimeoutError, ConnectionError))
    return False


TASK_OPTIONS: dict[str, Any] = {
    "retries": 3,
    "retry_delay_seconds": [2, 10, 30],
    "retry_condition_fn": transient_fault,
    "cache_policy": NO_CACHE,
}


# Runs whose Prefect API stopped answering: their later artifacts are not attempted (each attempt waits
# through the client's retries, about a minute).
_api_unreachable: set[str] = set()


def publish_artifact(run_id: str, publish: Callable[[], object]) -> None:
    """Artifacts show what the run summary and the tables already hold: a Prefect API that cannot be
    reached is logged and does not fail the run's data work."""
    if run_id in _api_unreachable:
        return
    try:
        publish()
    except httpx.TransportError as error:
        _api_unreachable.add(run_id)
        get_run_logger().warning(
            "run %s: the Prefect API cannot be reached (%s: %s); its artifacts are not published, the run "
            "summary under _ops/runs records its outcome",
            run_id, type(error).__name__, error,
        )  # fmt: skip


ROW_COUNTS = ("bronze_rows", "valid", "quarantined", "warned", "inserted", "updated")


def artifact_key(stage: str, dataset: str) -> str:
    """Prefect keys take lower-case letters, digits and dashes; a key per stage and dataset keeps history."""
    return f"{stage}-{dataset}".replace("_", "-")


def ingested_file_rows(outcome: DatasetOutcome) -> list[dict[str, Any]]:
    """One artifact row per file the ingest looked at (a row saying so when landing had nothing new)."""
    files = outcome.files or [FileOutcome("", "nothing new")]
    return [
        {"file": f.relative_path, "status": f.status, "rows read": f.rows_read,
         "rows in bronze": f.rows_in_bronze, "encoding": f.encoding or "", "reason": f.reason or ""}
        for f in files
    ]  # fmt: skip


@task(name="ingest", task_run_name="ingest-{dataset}", **TASK_OPTIONS)
def ingest_task(
    dataset: str, run_id: str, lake_root: str | None, delivery_dates: list[str] | None = None
) -> DatasetOutcome:
    rt = get_runtime(lake_root)
    outcome = DatasetOutcome(dataset)
    contracts = [get_dataset(dataset).contract]
    with (
        pipeline.timed(outcome, "ingest"),
        landing_for_dates(rt.lake, contracts, delivery_dates, f"{run_id}-{dataset}") as lake,
    ):
        pipeline.ingest(rt.spark, lake, dataset, run_id, outcome)
    publish_artifact(
        run_id,
        lambda: create_table_artifact(
            ingested_file_rows(outcome),
            key=artifact_key("ingest", dataset),
            description=f"{dataset}: files taken from landing into bronze by run {run_id}",
        ),
    )
    return outcome


@task(name="validate-and-merge", task_run_name="validate-merge-{outcome.dataset}", **TASK_OPTIONS)
def process_task(outcome: DatasetOutcome, run_id: str, lake_root: str | None) -> DatasetOutcome:
    rt = get_runtime(lake_root)
    pipeline.process(rt.spark, rt.lake, outcome.dataset, run_id, rt.pii_key, outcome)
    publish_artifact(
        run_id,
        lambda: create_table_artifact(
            [{name: getattr(outcome, name) for name in ROW_COUNTS} | {"status": outcome.status}],
            key=artifact_key("validate-merge", outcome.dataset),
            description=f"{outcome.dataset}: rows validated and merged by run {run_id}",
        ),
    )
    return outcome


@task(name="reference-tables", **TASK_OPTIONS)
def reference_task(lake_root: str | None) -> dict[str, int]:
    rt = get_runtime(lake_root)
    return write_reference_tables(rt.spark, rt.lake)


@task(name="build-gold", **TASK_OPTIONS)
def gold_task(lake_root: str | None) -> dict[str, int]:
    rt = get_runtime(lake_root)
    return pipeline.build_marts(rt.spark, rt.lake)


def _artifact_markdown(summary: RunSummary) -> str:
    lines = [
        f"### govlake run {summary.run_id}: {summary.status}",
        "",
        "| dataset | status | rows read | bronze | valid | quarantined | inserted | updated | conserved |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for d in summary.datasets:
        lines.append(
            f"| {d.dataset} | {d.status} | {d.rows_read} | {d.bronze_rows} | {d.valid} | {d.quarantined} "
            f"| {d.inserted} | {d.updated} | {'yes' if d.conserved else 'NO'} |"
        )
    lines += ["", *[f"- {p}" for p in summary.problems]]
    return "\n".join(lines)


@flow(name="govlake-daily", log_prints=True)
def daily_flow(
    datasets: list[str] | None = None, lake_root: str | None = None, delivery_dates: list[str] | None = None
) -> dict[str, Any]:
    """Landing → bronze → silver/quarantine for each dataset (concurrently), then gold and the summary.

    `delivery_dates` limits ingestion to those landing date folders (backfill); by default every folder.
    A second run on the same lake waits for the first to finish (`jobs.run_lock`).
    """
    run_id = new_run_id()
    settings = Settings.from_env(lake_root=lake_root)
    with run_lock(Lake(settings.lake_uri), run_id, settings.run_lock_timeout_seconds, get_run_logger()):
        return _daily_run(run_id, datasets, lake_root, delivery_dates)


def _daily_run(
    run_id: str, datasets: list[str] | None, lake_root: str | None, delivery_dates: list[str] | None
) -> dict[str, Any]:
    run_started_epoch = time.time()
    logger = get_run_logger()
    logging.getLogger("jobs").setLevel(logging.INFO)  # stage progress from jobs/ shows in the flow's log
    rt = get_runtime(lake_root)
    summary = RunSummary(run_id, dt.datetime.now(VIETNAM).isoformat(timespec="seconds"), rt.lake.root)
    names = datasets or list(DATASETS)
    logger.info("run %s over %s: %s", run_id, rt.lake.root, ", ".join(names))
    if delivery_dates is not None:
        logger.info("run %s limited to delivery dates %s", run_id, ", ".join(delivery_dates))

    started = time.perf_counter()
    futures = [
        # Prefect resolves a future passed as an argument to its result before the task runs.
        process_task.submit(
            ingest_task.submit(name, run_id, lake_root, delivery_dates),  # type: ignore[call-overload]
            run_id,
            lake_root,
        )
        for name in names
    ]
    for name, future in zip(names, futures, strict=True):
        try:
            summary.datasets.append(future.result())
        except Exception as error:  # one dataset's permanent fault must not stop the others
            logger.error("[%s] failed: %s", name, error)
            summary.datasets.append(
                DatasetOutcome(name, status="failed", error=f"{type(error).__name__}: {error}")
            )
    summary.stage_seconds["datasets"] = round(time.perf_counter() - started, 3)

    try:
        summary.marts["reference_versions"] = reference_task(lake_root)
    except Exception as error:
        summary.marts["error"] = f"reference tables: {type(error).__name__}: {error}"
    if any(d.inserted or d.updated for d in summary.datasets) or not _gold_complete(lake_root):
        started = time.perf_counter()
        try:
            summary.marts["versions"] = gold_task(lake_root)
        except Exception as error:
            summary.marts["error"] = f"{type(error).__name__}: {error}"
        summary.stage_seconds["gold"] = round(time.perf_counter() - started, 3)
    else:
        summary.marts["skipped"] = "silver unchanged"

    started = time.perf_counter()

    if rt.lake.is_local:
        roots = default_scan_roots(Path(rt.lake.root))
        summary.pii_findings = [str(f) for f in scan_for_pii(files_changed_since(roots, run_started_epoch))]
        summary.stage_seconds["pii_scan"] = round(time.perf_counter() - started, 3)
    rt.register_tables()
    summary.finish()
    path = summary.write(rt.lake.runs_dir)
    results_by_dataset = {d.dataset: d.rule_results for d in summary.datasets if d.rule_results}
    if rt.lake.is_local and results_by_dataset:
        try:
            logger.info("data docs at %s", build_data_docs(rt.lake.root, run_id, results_by_dataset))
        except Exception as error:  # counts are in the ledger and quality table already: only logged
            logger.error("data docs not built: %s: %s", type(error).__name__, error)
    description = f"summary {path}; report not built (remote lake: run `govlake report` on a local copy)"
    try:
        if rt.lake.is_local:
            report_path = build_report(rt.lake.root, run_id)
            logger.info("run report at %s", report_path)
            description = f"summary {path}; report {report_path}"
    except Exception as error:  # the run's data and ledger are already written: a report fault is only logged
        logger.error("run report not built: %s: %s", type(error).__name__, error)
        description = f"summary {path}; report not built ({type(error).__name__})"
    publish_artifact(
        run_id,
        lambda: create_markdown_artifact(
            _artifact_markdown(summary), key="govlake-run-summary", description=description
        ),
    )
    logger.info("run %s %s in %.1fs; summary at %s", run_id, summary.status, summary.duration_s or 0, path)
    return summary.to_dict()


def _gold_complete(lake_root: str | None) -> bool:
    """Every mart whose silver sources exist has its table and the silver versions it was built from (a
    mart added since the last run, or a build stopped before recording its versions, is built)."""
    from jobs.lake import gold
    from jobs.marts import recorded_versions
    from jobs.pipeline import buildable_marts

    rt = get_runtime(lake_root)
    for spec in buildable_marts(rt.spark, rt.lake):
        recorded = recorded_versions(rt.spark, rt.lake.table_path(gold(spec.name)), spec.sources)
        if recorded is None or recorded.keys() != set(spec.sources):
            return False
    return True
