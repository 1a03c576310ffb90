"""The backfill flow: the daily flow once per delivery date, oldest first, resumable after a failure."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from flows.daily import daily_flow
from jobs.backfill import BackfillState, dataset_completed, date_range, delivered_dates
from jobs.config import Settings
from jobs.datasets import DATASETS, get_dataset
from jobs.lake import Lake


@flow(name="govlake-backfill", log_prints=True)
def backfill_flow(
    start: str, end: str, datasets: list[str] | None = None, lake_root: str | None = None
) -> dict[str, Any]:
    """Run the daily flow limited to each delivery date from `start` to `end`, in date order.

    A (date, dataset) completed before is skipped; the first date that fails stops the backfill (later
    dates would wait behind its held data anyway), and the next backfill starts again from it.
    """
    logger = get_run_logger()
    names = datasets or list(DATASETS)
    for name in names:
        get_dataset(name)  # an unknown name fails here, before any date is run
    dates = date_range(start, end)
    lake = Lake(Settings.from_env(lake_root=lake_root).lake_uri)
    lake.ensure_layout()
    state = BackfillState.load(lake)
    result: dict[str, Any] = {"from": start, "to": end, "datasets": names, "dates": [], "status": "succeeded"}
    for date in dates:
        delivered = [n for n in names if delivered_dates(lake, get_dataset(n).contract, [date])]
        pending = [n for n in delivered if not state.is_complete(date, n)]
        entry: dict[str, Any] = {"date": date, "run_id": None, "datasets": pending, "problems": []}
        result["dates"].append(entry)
        if not delivered:
            # Nothing recorded: files delivered for this date later are picked up by a next backfill.
            entry["status"] = "no delivery"
            continue
        if not pending:
            entry["status"] = "skipped (completed before)"
            continue
        logger.info("backfill %s: %s", date, ", ".join(pending))
        try:
            summary = daily_flow(datasets=pending, lake_root=lake_root, delivery_dates=[date])
        except Exception as error:  # the daily flow itself failed: nothing of this date counts as done
            entry.update(status="failed", problems=[f"daily flow failed: {type(error).__name__}: {error}"])
            result["status"] = "failed"
            break
        entry["run_id"] = summary["run_id"]
        entry["problems"] = list(summary["problems"])
        completed = [d["dataset"] for d in summary["datasets"] if dataset_completed(d)]
        dataset_problems = [p for p in entry["problems"] if any(p.startswith(f"{n}:") for n in pending)]
        if len(entry["problems"]) == len(dataset_problems):
            # Only dataset problems: the datasets that did complete need no second pass. Gold or PII scan
            # problems leave the whole date to be done again.
            state.mark_complete(date, completed, summary["run_id"])
        if entry["problems"]:
            entry["status"] = "failed"
            result["status"] = "failed"
            logger.error("backfill stopped at %s: %s", date, "; ".join(entry["problems"]))
            break
        entry["status"] = "completed"
    for date in dates[len(result["dates"]) :]:
        result["dates"].append({"date": date, "status": "not reached", "run_id": None, "problems": []})
    return result
