"""Run identity and the run ledger: one JSON summary per run in `_ops/runs/<run_id>.json`."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def new_run_id(now: dt.datetime | None = None) -> str:
    """Sortable and unique: local time of the start plus a random suffix."""
    moment = (now or dt.datetime.now(VIETNAM)).astimezone(VIETNAM)
    return f"{moment:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


@dataclass
class FileOutcome:
    relative_path: str
    status: str  # ingested | skipped | rejected
    rows_read: int = 0
    rows_in_bronze: int = 0
    encoding: str | None = None
    reason: str | None = None
    extra_columns: list[str] = field(default_factory=list)


@dataclass
class DatasetOutcome:
    dataset: str
    status: str = "ok"  # ok | nothing-new | blocked | failed
    files: list[FileOutcome] = field(default_factory=list)
    batch_files: int = 0
    bronze_rows: int = 0
    valid: int = 0
    quarantined: int = 0
    warned: int = 0
    inserted: int = 0
    updated: int = 0
    rule_failures: dict[str, int] = field(default_factory=dict)
    # One entry per rule per batch: batch_date, rule_id, severity, column, evaluated, failed, pass_rate,
    # message_vi, message_en. Counts only: never a data value.
    rule_results: list[dict[str, Any]] = field(default_factory=list)
    # Per unit level, {"matched": n, "total": m}: places the batches named that resolved to a unit.
    match_rates: dict[str, dict[str, int]] = field(default_factory=dict)
    blocked_reasons: list[str] = field(default_factory=list)
    error: str | None = None
    stage_seconds: dict[str, float] = field(default_factory=dict)
    table_versions: dict[str, int] = field(default_factory=dict)

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def conserved(self) -> bool:
        """rows read = rows in bronze per file, and bronze batch = valid + quarantined."""
        per_file = all(f.rows_read == f.rows_in_bronze for f in self.files if f.status == "ingested")
        return per_file and self.bronze_rows == self.valid + self.quarantined

    @property
    def rejected_files(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status == "rejected"]


@dataclass
class RunSummary:
    run_id: str
    started_at: str
    lake_root: str
    status: str = "running"
    finished_at: str | None = None
    duration_s: float | None = None
    datasets: list[DatasetOutcome] = field(default_factory=list)
    marts: dict[str, Any] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    # Masked descriptions of raw identifiers found in non-raw zones by the end-of-run scan.
    pii_findings: list[str] = field(default_factory=list)

    def dataset(self, name: str) -> DatasetOutcome:
        return next(d for d in self.datasets if d.dataset == name)

    def finish(self) -> None:
        finished = dt.datetime.now(VIETNAM)
        self.finished_at = finished.isoformat(timespec="seconds")
        self.duration_s = round((finished - dt.datetime.fromisoformat(self.started_at)).total_seconds(), 2)
        self.problems = []
        for outcome in self.datasets:
            for rejected in outcome.rejected_files:
                self.problems.append(
                    f"{outcome.dataset}: file rejected: {rejected.relative_path}: {rejected.reason}"
                )
            self.problems += [
                f"{outcome.dataset}: batch held in bronze: {r}" for r in outcome.blocked_reasons
            ]
            if outcome.error:
                self.problems.append(f"{outcome.dataset}: failed: {outcome.error}")
            if outcome.status in ("ok",) and not outcome.conserved:
                self.problems.append(f"{outcome.dataset}: row conservation violated")
        self.problems += [f"raw identifier outside bronze: {finding}" for finding in self.pii_findings]
        if self.marts.get("error"):
            self.problems.append(f"gold: failed: {self.marts['error']}")
        self.status = "failed" if self.problems else "succeeded"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for outcome, serialised in zip(self.datasets, data["datasets"], strict=True):
            serialised["rows_read"] = outcome.rows_read
            serialised["conserved"] = outcome.conserved
        return data

    def write(self, runs_dir: str) -> Path:
        path = Path(runs_dir, f"{self.run_id}.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
        tmp.replace(path)  # readers never see a half-written summary
        return path


def read_summary(runs_dir: str, run_id: str) -> dict[str, Any]:
    return json.loads(Path(runs_dir, f"{run_id}.json").read_text(encoding="utf-8"))


def list_run_ids(runs_dir: str) -> list[str]:
    return sorted(p.stem for p in Path(runs_dir).glob("*.json"))
