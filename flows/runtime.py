"""The process's runtime: settings, the one SparkSession, the lake and the pseudonymisation key.

Built on first use (never at import time) and shared by every task of the process.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

from pyspark.sql import SparkSession

from jobs.config import Settings
from jobs.lake import Lake, register_tables
from jobs.pii import PiiKey, load_or_create_key
from jobs.session import build_spark

_lock = threading.Lock()


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    spark: SparkSession
    lake: Lake

    @functools.cached_property
    def pii_key(self) -> PiiKey:
        return load_or_create_key(self.lake.root, self.settings.pii_key_hex, self.settings.pii_key_file)

    def forget_pii_key(self) -> None:
        """After a key rotation: the next use reads the new key."""
        vars(self).pop("pii_key", None)

    def register_tables(self) -> list[str]:
        from jobs.pipeline import all_table_refs

        return register_tables(self.spark, self.lake, all_table_refs())


@functools.cache
def _runtime_for(settings: Settings) -> Runtime:
    lake = Lake(settings.lake_uri)
    lake.ensure_layout()
    return Runtime(settings, build_spark(settings), lake)


def get_runtime(lake_root: str | None = None) -> Runtime:
    with _lock:  # tasks on threads must not race to build two sessions
        return _runtime_for(Settings.from_env(lake_root=lake_root))
