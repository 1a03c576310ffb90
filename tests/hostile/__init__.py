"""Hostile deliveries: each case a file (or a record in one) an agency could send, with its exact outcome.

Files are built by code (`tests.hostile.files`), the cases listed in `tests.hostile.cases`. One landing tree
per dataset holds every case's file, so one ingest and one validate-merge per dataset judge them all.
"""

from __future__ import annotations

from dataclasses import dataclass

DELIVERY_DATE = "2025-06-29"


@dataclass(frozen=True)
class Rejected:
    """The file is refused; the run's reason for it must contain `reason`."""

    reason: str


@dataclass(frozen=True)
class Skipped:
    """The file is seen but not taken in (already ingested content); the reason must contain `reason`."""

    reason: str


@dataclass(frozen=True)
class Ingested:
    """Every record of the file lands in bronze: `rows` of them, read in `encoding` when given."""

    rows: int
    encoding: str | None = None
    extra_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Record:
    """Record number `row` of an ingested file: quarantined with exactly `rules`, or valid (no rules) and
    in silver under its business key `key`."""

    row: int
    rules: frozenset[str] = frozenset()
    key: str | None = None


@dataclass(frozen=True)
class Case:
    id: str
    dataset: str
    file: str
    expect: Rejected | Skipped | Ingested | Record
    why: str = ""
    run: int = 1  # the ingest run whose outcome decides (the corpus runs dossiers' ingest twice)
