"""Backfill bookkeeping: date ranges, a landing view limited to some delivery dates, per-date completion.

Landing is read-only to the platform, and `pipeline.ingest` discovers files under `lake.landing`. A run
limited to some delivery dates is given a *view* of landing: a folder holding, per dataset, symbolic links to
just those date folders. Paths relative to the view equal paths relative to landing, so provenance and the
ingested-file ledger are exactly those of an ordinary run. The view is an owner-only folder beside landing
(it leads to raw files; readers find the lake as landing's parent, so it must sit at the lake root) and is
removed when the run ends.

Completion is recorded per delivery date and dataset in `_ops/backfill/state.json`, so a backfill that
stopped on a failed date resumes there: completed dates are skipped, the failed one is done again.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobs.contracts import Contract
from jobs.lake import Lake
from jobs.runs import VIETNAM

LANDING_VIEW_PREFIX = ".landing-view-"
# Dataset outcomes after which a date needs no second pass (see dataset_completed).
DONE_STATUSES = ("ok", "nothing-new")


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise ValueError(f"{text!r} is not a delivery date (yyyy-mm-dd)") from None


def date_range(start: str, end: str) -> list[str]:
    """Every date from start to end inclusive, oldest first, as landing folder names."""
    first, last = parse_date(start), parse_date(end)
    if last < first:
        raise ValueError(f"--to {end} is before --from {start}")
    return [(first + dt.timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


@dataclass(frozen=True)
class LandingView(Lake):
    """The same lake, except that its landing is a view holding only some delivery-date folders."""

    view_root: str = ""

    @property
    def landing(self) -> str:
        return self.view_root


def delivered_dates(lake: Lake, contract: Contract, dates: Sequence[str]) -> list[str]:
    """Those of `dates` for which landing has a folder for this dataset."""
    return [d for d in dates if Path(lake.landing, contract.agency, contract.dataset, d).is_dir()]


@contextmanager
def landing_for_dates(
    lake: Lake, contracts: Sequence[Contract], dates: Sequence[str] | None, view_name: str
) -> Iterator[Lake]:
    """Yield `lake` itself when `dates` is None, else a LandingView limited to those delivery dates."""
    if dates is None:
        yield lake
        return
    for date in dates:
        parse_date(date)
    if not lake.is_local:
        raise ValueError(
            "a run limited to delivery dates needs a local lake root (its landing view is made of symbolic "
            f"links); {lake.root} is remote: run the daily flow without delivery dates instead"
        )
    view = Path(lake.root, f"{LANDING_VIEW_PREFIX}{view_name}")
    shutil.rmtree(view, ignore_errors=True)  # left over from a run that was killed
    try:
        view.mkdir(mode=0o700)
        for contract in contracts:
            for date in delivered_dates(lake, contract, dates):
                link = view / contract.agency / contract.dataset / date
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(Path(lake.landing, contract.agency, contract.dataset, date).resolve())
        yield LandingView(lake.root, str(view))
    finally:
        shutil.rmtree(view, ignore_errors=True)  # removes the links, never what they point to


def dataset_completed(outcome: dict[str, Any]) -> bool:
    """A dataset's date is done when it was merged (or had nothing new) and no file of it was rejected."""
    return outcome["status"] in DONE_STATUSES and not any(f["status"] == "rejected" for f in outcome["files"])


@dataclass
class BackfillState:
    """Which (delivery date, dataset) pairs a backfill has completed, with the run that did each."""

    path: Path
    completed: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)

    @classmethod
    def load(cls, lake: Lake) -> BackfillState:
        path = Path(lake.root, "_ops", "backfill", "state.json")
        if not path.is_file():
            return cls(path)
        return cls(path, json.loads(path.read_text(encoding="utf-8"))["completed"])

    def is_complete(self, date: str, dataset: str) -> bool:
        return dataset in self.completed.get(date, {})

    def mark_complete(self, date: str, datasets: Sequence[str], run_id: str) -> None:
        now = dt.datetime.now(VIETNAM).isoformat(timespec="seconds")
        for dataset in datasets:
            self.completed.setdefault(date, {})[dataset] = {"run_id": run_id, "completed_at": now}
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(
            json.dumps({"completed": self.completed}, ensure_ascii=False, indent=2, sort_keys=True),
            encoding="utf-8",
        )
        tmp.replace(self.path)  # a crash never leaves a half-written state
