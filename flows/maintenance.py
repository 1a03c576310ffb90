"""The maintenance flow: OPTIMIZE (Z-ordered where configured) and VACUUM each table, with a health report."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.daily import transient_fault
from flows.runtime import get_runtime
from jobs import maintenance
from jobs.runs import new_run_id


@task(
    name="maintain-table",
    task_run_name="maintain-{table}",
    retries=2,
    retry_delay_seconds=[10, 30],
    retry_condition_fn=transient_fault,
    cache_policy=NO_CACHE,
)
def maintain_table_task(
    table: str, lake_root: str | None, retention_hours: int, allow_time_travel_loss: bool
) -> dict[str, Any]:
    from jobs.pipeline import all_table_refs

    rt = get_runtime(lake_root)
    ref = next(r for r in all_table_refs() if r.qualified_name == table)
    zorder = rt.settings.zorder_columns.get(table, ())
    return maintenance.maintain_table(rt.spark, rt.lake, ref, zorder, retention_hours, allow_time_travel_loss)


def _artifact_markdown(report: dict[str, Any]) -> str:
    lines = [
        f"### govlake maintenance {report['run_id']}: {report['status']}",
        "",
        "| table | version | files before → after | small files before → after | files deleted |",
        "|---|---:|---:|---:|---:|",
    ]
    for t in report["tables"]:
        if "after" not in t:
            lines.append(f"| {t['table']} | – | – | – | – |")
            continue
        b, a = t["before"], t["after"]
        lines.append(
            f"| {t['table']} | {b['version']} → {a['version']} | {b['files']} → {a['files']} "
            f"| {b['small_files']} → {a['small_files']} | {t['vacuum']['files_deleted']} |"
        )
    lines += ["", *[f"- {p}" for p in report["problems"]]]
    return "\n".join(lines)


@flow(name="govlake-maintenance", log_prints=True)
def maintenance_flow(
    lake_root: str | None = None,
    retention_hours: int | None = None,
    allow_time_travel_loss: bool = False,
    tables: list[str] | None = None,
) -> dict[str, Any]:
    """OPTIMIZE and VACUUM each existing table (or only `tables`), one after the other; report in `_ops/`."""
    from jobs.pipeline import all_table_refs

    logger = get_run_logger()
    rt = get_runtime(lake_root)
    hours = rt.settings.vacuum_retention_hours if retention_hours is None else retention_hours
    maintenance.check_retention(hours, allow_time_travel_loss)  # refuse before touching any table
    known = {ref.qualified_name: ref for ref in all_table_refs()}
    unknown = sorted(set(tables or []) - set(known))
    if unknown:
        raise ValueError(f"unknown table(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    chosen = [known[name] for name in tables] if tables else list(known.values())
    report = maintenance.new_report(new_run_id(), rt.lake, hours, rt.settings.zorder_columns)
    # One at a time: each OPTIMIZE already uses every core, and tables then finish in a predictable order.
    for ref in maintenance.existing_tables(rt.spark, rt.lake, chosen):
        try:
            entry = maintain_table_task(ref.qualified_name, lake_root, hours, allow_time_travel_loss)
        except Exception as error:  # one table's fault must not leave the others unmaintained
            reason = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
            logger.error("[%s] maintenance failed: %s", ref.qualified_name, reason)
            entry = {"table": ref.qualified_name, "problems": [f"{ref.qualified_name}: failed: {reason}"]}
        report["tables"].append(entry)
    maintenance.finish_report(report)
    path = maintenance.write_report(rt.lake, report)
    report["report_path"] = str(path)
    create_markdown_artifact(_artifact_markdown(report), key="govlake-maintenance", description=str(path))
    logger.info("maintenance %s %s; report at %s", report["run_id"], report["status"], path)
    return report
