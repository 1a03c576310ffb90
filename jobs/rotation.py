"""Pseudonymisation key rotation: a new key, and silver rebuilt from bronze with it.

Pseudonyms are one-way, so they cannot be translated from the old key to the new one; bronze keeps the
delivered values, so silver is derived again instead. The steps are ordered so that a crash at any point
leaves a lake the next `govlake run` makes consistent:
1. reopen every processed file in the ledger and delete the tables derived from bronze that hold or
   depend on pseudonyms (silver, gold; their history too, since old versions keep old pseudonyms);
2. retire the old key file and create a new one;
3. the caller runs the daily flow, which processes every reopened batch in date order with the new key.
A crash before step 2 only means the rebuild uses the old key; after it, the rebuild uses the new one.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession

from jobs import ledger
from jobs.config import Settings
from jobs.lake import Lake
from jobs.pii import default_key_path, load_or_create_key

REBUILT_ZONES = ("silver", "gold")


class RotationRefused(RuntimeError):
    """Rotation cannot be done by the platform for this configuration; the message says what to do."""


@dataclass(frozen=True)
class RotationOutcome:
    old_key_id: str
    new_key_id: str
    deleted_tables: list[str]


def rotate_key(spark: SparkSession, lake: Lake, settings: Settings) -> RotationOutcome:
    if settings.pii_key_hex or settings.pii_key_file:
        raise RotationRefused(
            "the key is supplied from outside the lake (GOVLAKE_PII_KEY or GOVLAKE_PII_KEY_FILE): replace it "
            "there, then run `govlake rotate-key --external-key-replaced` to rebuild silver with it"
        )
    if not lake.is_local:
        raise RotationRefused("key rotation needs the key file in a local lake; set GOVLAKE_PII_KEY instead")
    key_path = default_key_path(lake.root)
    old_key = load_or_create_key(lake.root)
    deleted = reopen_and_delete_derived(spark, lake)
    key_path.rename(key_path.with_name(f"{key_path.name}.retired-{old_key.key_id}"))
    new_key = load_or_create_key(lake.root)
    # The retired key is removed once a new one exists: keeping it would let old pseudonyms be linked.
    key_path.with_name(f"{key_path.name}.retired-{old_key.key_id}").unlink()
    return RotationOutcome(old_key.key_id, new_key.key_id, deleted)


def reopen_and_delete_derived(spark: SparkSession, lake: Lake) -> list[str]:
    """Step 1: the ledger reopens every batch; silver and gold tables (and their history) are deleted."""
    ledger.reopen_processed(spark, lake)
    deleted = []
    for zone in REBUILT_ZONES:
        zone_dir = Path(lake.root, zone)
        for table_dir in sorted(p for p in zone_dir.glob("*") if (p / "_delta_log").is_dir()):
            shutil.rmtree(table_dir)
            deleted.append(f"{zone}.{table_dir.name}")
    spark.catalog.clearCache()
    # Delta caches table state by path; the paths are about to hold new tables.
    spark._jvm.org.apache.spark.sql.delta.DeltaLog.clearCache()  # type: ignore[union-attr]
    return deleted
