"""Effective configuration: `GOVLAKE_*` environment variables over built-in defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the variable and what is expected."""


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _positive_int(name: str, default: int) -> int:
    raw = _env(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a whole number") from None
    if value <= 0:
        raise ConfigError(f"{name}={raw!r}: expected a number above 0")
    return value


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know about its environment, validated on construction."""

    lake_root: str = "lake"
    spark_master: str = "local[*]"
    driver_memory: str = "4g"
    shuffle_partitions: int = 4
    pii_key_hex: str | None = field(default=None, repr=False)
    pii_key_file: str | None = None

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "lake_root": _env("GOVLAKE_LAKE_ROOT", "lake"),
            "spark_master": _env("GOVLAKE_SPARK_MASTER", "local[*]"),
            "driver_memory": _env("GOVLAKE_DRIVER_MEMORY", "4g"),
            "shuffle_partitions": _positive_int("GOVLAKE_SHUFFLE_PARTITIONS", 4),
            "pii_key_hex": os.environ.get("GOVLAKE_PII_KEY") or None,
            "pii_key_file": os.environ.get("GOVLAKE_PII_KEY_FILE") or None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        if not self.driver_memory[:-1].isdigit() or self.driver_memory[-1].lower() not in "kmgt":
            raise ConfigError(f"GOVLAKE_DRIVER_MEMORY={self.driver_memory!r}: expected e.g. '4g' or '512m'")
        if not (self.spark_master.startswith(("local", "spark://", "yarn", "k8s://"))):
            raise ConfigError(
                f"GOVLAKE_SPARK_MASTER={self.spark_master!r}: expected local[N], spark://host:port, yarn or k8s://…"
            )

    @property
    def is_local_lake(self) -> bool:
        return "://" not in self.lake_root or self.lake_root.startswith("file://")

    @property
    def lake_uri(self) -> str:
        """The lake root as Spark sees it: local paths made absolute so executors and catalog agree."""
        if self.is_local_lake:
            return str(Path(self.lake_root.removeprefix("file://")).resolve())
        return self.lake_root.rstrip("/")

    def as_display_dict(self) -> dict[str, str]:
        shown = {
            "lake_root": self.lake_uri,
            "spark_master": self.spark_master,
            "driver_memory": self.driver_memory,
            "shuffle_partitions": str(self.shuffle_partitions),
            "pii_key": "set (hidden)" if self.pii_key_hex else "from key file",
            "pii_key_file": self.pii_key_file or "<lake>/_private/pii.key",
        }
        return shown
