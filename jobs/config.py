"""Effective configuration in one place: defaults < config file < `GOVLAKE_*` environment < command options.

The config file is TOML: the file named by `GOVLAKE_CONFIG`, else `./govlake.toml` when it exists. Keys are
the setting names below (`lake_root = "/data/lake"`, and a `[zorder]` table). Every value is validated on
start; all problems are reported together, each naming where the bad value came from. Secrets are never
echoed, not even in error messages.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG_FILE_ENV = "GOVLAKE_CONFIG"
DEFAULT_CONFIG_FILE = "govlake.toml"
ENV_PREFIX = "GOVLAKE_"
# Variables other modules read themselves; listed so they are not reported as unknown settings.
OTHER_KNOWN_ENV = frozenset({CONFIG_FILE_ENV, "GOVLAKE_DATADOCS_ASSETS"})

# Delta's own default for `delta.deletedFileRetentionDuration`: VACUUM below it can break time travel and
# readers still on an older snapshot.
DELTA_SAFE_RETENTION_HOURS = 168
# Columns analysts filter on, so OPTIMIZE clusters files by them (data skipping on commune and date).
ZOrder = tuple[tuple[str, tuple[str, ...]], ...]
DEFAULT_ZORDER: ZOrder = (("silver.dossiers", ("commune_code", "received_at")),)

MEMORY = re.compile(r"^\d+[kmgt]$", re.IGNORECASE)
HOST = re.compile(r"^[A-Za-z0-9.:\-]+$")
MAVEN_COORDINATE = re.compile(r"^[\w.\-]+:[\w.\-]+:[\w.\-]+$")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TABLE_NAME = re.compile(r"^(bronze|silver|gold|quarantine|quality|ops)\.[A-Za-z_][A-Za-z0-9_]*$")
HEX_KEY = re.compile(r"^[0-9a-fA-F]{64}$")


class ConfigError(ValueError):
    """One or more configuration values are invalid; the message names each value, its origin and the fix."""


class _Invalid(ValueError):
    """A single value is invalid; the text says what is expected."""


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid("expected a non-empty text")
    return value.strip()


def _positive_int(value: object) -> int:
    if isinstance(value, bool):
        raise _Invalid("expected a whole number above 0")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise _Invalid("expected a whole number") from None
    if number <= 0:
        raise _Invalid("expected a whole number above 0")
    return number


def _spark_master(value: object) -> str:
    text = _text(value)
    if not text.startswith(("local", "spark://", "yarn", "k8s://")):
        raise _Invalid("expected local[N], spark://host:port, yarn or k8s://…")
    return text


def _memory(value: object) -> str:
    text = _text(value)
    if not MEMORY.match(text):
        raise _Invalid("expected a size such as '4g' or '512m'")
    return text


def _host(value: object) -> str:
    text = _text(value)
    if not HOST.match(text):
        raise _Invalid("expected a host name or IP address the Spark workers can reach")
    return text


def _url(value: object) -> str:
    text = _text(value)
    if not text.startswith(("http://", "https://")):
        raise _Invalid("expected an http:// or https:// address")
    return text.rstrip("/")


def _pii_key(value: object) -> str:
    text = _text(value)
    if not HEX_KEY.match(text):
        raise _Invalid(f"expected 64 hexadecimal characters (found {len(text)} characters; value not shown)")
    return text


def _secret(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid("expected a non-empty text (value not shown)")
    return value.strip()


def _list(value: object) -> list[str]:
    """A TOML array of strings, or comma-separated text from the environment."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise _Invalid("expected a list of texts")


def _packages(value: object) -> tuple[str, ...]:
    coordinates = _list(value)
    bad = [c for c in coordinates if not MAVEN_COORDINATE.match(c)]
    if bad:
        raise _Invalid(f"expected Maven coordinates group:artifact:version, not {', '.join(map(repr, bad))}")
    return tuple(coordinates)


def _zorder(value: object) -> ZOrder:
    """`{"silver.dossiers": ["commune_code", "received_at"]}` in TOML, or from the environment
    `silver.dossiers=commune_code,received_at;silver.enterprises=commune_code`."""
    if isinstance(value, str):
        mapping: dict[str, object] = {}
        for item in (part.strip() for part in value.split(";")):
            if not item:
                continue
            table, sep, columns = item.partition("=")
            if not sep:
                raise _Invalid(f"expected table=col1,col2 items separated by ';', not {item!r}")
            mapping[table.strip()] = columns
        value = mapping
    if not isinstance(value, dict):
        raise _Invalid("expected a table of table name → list of columns")
    parsed = []
    for table, columns in value.items():
        if not TABLE_NAME.match(str(table)):
            raise _Invalid(f"{table!r} is not a table name such as 'silver.dossiers'")
        names = _list(columns)
        bad = [c for c in names if not IDENTIFIER.match(c)]
        if not names or bad:
            raise _Invalid(f"{table}: expected one or more column names, not {columns!r}")
        parsed.append((str(table), tuple(names)))
    return tuple(sorted(parsed))


@dataclass(frozen=True)
class Option:
    """One setting: its key in the config file (and Settings field), its variable and how to read it."""

    key: str
    env: str
    parse: Callable[[object], Any]
    secret: bool = False
    attribute: str = ""

    @property
    def field_name(self) -> str:
        return self.attribute or self.key


# Meanings and defaults are listed in the README's configuration table.
OPTIONS: tuple[Option, ...] = (
    Option("lake_root", "GOVLAKE_LAKE_ROOT", _text),
    Option("spark_master", "GOVLAKE_SPARK_MASTER", _spark_master),
    Option("driver_memory", "GOVLAKE_DRIVER_MEMORY", _memory),
    Option("driver_host", "GOVLAKE_DRIVER_HOST", _host),
    Option("shuffle_partitions", "GOVLAKE_SHUFFLE_PARTITIONS", _positive_int),
    Option("spark_packages", "GOVLAKE_SPARK_PACKAGES", _packages),
    Option("s3_endpoint", "GOVLAKE_S3_ENDPOINT", _url),
    Option("s3_access_key", "GOVLAKE_S3_ACCESS_KEY", _secret, secret=True),
    Option("s3_secret_key", "GOVLAKE_S3_SECRET_KEY", _secret, secret=True),
    Option("pii_key", "GOVLAKE_PII_KEY", _pii_key, secret=True, attribute="pii_key_hex"),
    Option("pii_key_file", "GOVLAKE_PII_KEY_FILE", _text),
    Option("vacuum_retention_hours", "GOVLAKE_VACUUM_RETENTION_HOURS", _positive_int),
    Option("zorder", "GOVLAKE_ZORDER", _zorder),
    Option("run_lock_timeout_seconds", "GOVLAKE_RUN_LOCK_TIMEOUT_SECONDS", _positive_int),
)
OPTIONS_BY_FIELD = {option.field_name: option for option in OPTIONS}


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know about its environment, validated on construction."""

    lake_root: str = "lake"
    spark_master: str = "local[*]"
    driver_memory: str = "4g"
    driver_host: str | None = None
    shuffle_partitions: int = 4
    spark_packages: tuple[str, ...] = ()
    s3_endpoint: str | None = None
    s3_access_key: str | None = field(default=None, repr=False)
    s3_secret_key: str | None = field(default=None, repr=False)
    pii_key_hex: str | None = field(default=None, repr=False)
    pii_key_file: str | None = None
    vacuum_retention_hours: int = DELTA_SAFE_RETENTION_HOURS
    zorder: ZOrder = DEFAULT_ZORDER
    # How long a run waits for the run already working on the same lake before it gives up: a nightly run
    # takes well under an hour on one machine.
    run_lock_timeout_seconds: int = 3600
    # Where each value came from, the file read and notes on unknown variables: shown by `govlake config`,
    # not part of equality (the process's runtime is cached per settings).
    sources: tuple[tuple[str, str], ...] = field(default=(), compare=False, repr=False)
    config_file: str | None = field(default=None, compare=False, repr=False)
    notes: tuple[str, ...] = field(default=(), compare=False, repr=False)

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Defaults, then the config file, then `GOVLAKE_*` variables, then `overrides` (command options)."""
        return load_settings(os.environ, overrides)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check values set directly in code the same way as values read from the file or environment."""
        problems = []
        for option in OPTIONS:
            value = getattr(self, option.field_name)
            if value is None:
                continue
            try:
                option.parse(dict(value) if option.key == "zorder" else _as_raw(value))
            except _Invalid as error:
                problems.append(f"{option.key}: {error}")
        if problems:
            raise ConfigError("; ".join(problems))

    @property
    def is_local_lake(self) -> bool:
        return "://" not in self.lake_root or self.lake_root.startswith("file://")

    @property
    def lake_uri(self) -> str:
        """The lake root as Spark sees it: local paths made absolute so executors and catalog agree."""
        if self.is_local_lake:
            return str(Path(self.lake_root.removeprefix("file://")).resolve())
        return self.lake_root.rstrip("/")

    @property
    def zorder_columns(self) -> dict[str, tuple[str, ...]]:
        return dict(self.zorder)

    def source_of(self, key: str) -> str:
        return dict(self.sources).get(key, "default")

    def display_value(self, option: Option) -> str:
        value = getattr(self, option.field_name)
        if option.secret:
            return "set (hidden)" if value else "not set"
        if value is None or value == ():
            return {"pii_key_file": "<lake>/_private/pii.key"}.get(option.key, "not set")
        if option.key == "lake_root":
            return self.lake_uri
        if option.key == "zorder":
            return "; ".join(f"{table}={','.join(columns)}" for table, columns in value)
        if isinstance(value, tuple):
            return ",".join(value)
        return str(value)

    def as_display_dict(self) -> dict[str, str]:
        """Each setting's value (secrets masked) and where it came from: default, file, env or option."""
        no_file = f"none (no {CONFIG_FILE_ENV}, no ./{DEFAULT_CONFIG_FILE})"
        shown = {"config_file": self.config_file or no_file}
        for option in OPTIONS:
            shown[option.key] = f"{self.display_value(option)}  ({self.source_of(option.key)})"
        for number, note in enumerate(self.notes, start=1):
            shown[f"note {number}"] = note
        return shown


def _as_raw(value: object) -> object:
    return ",".join(value) if isinstance(value, tuple) else value


def config_file_path(environ: Mapping[str, str], cwd: Path | None = None) -> Path | None:
    """The file named by GOVLAKE_CONFIG (which must exist), else ./govlake.toml when present."""
    named = environ.get(CONFIG_FILE_ENV, "").strip()
    if named:
        return Path(named).expanduser()
    default = (cwd or Path.cwd()) / DEFAULT_CONFIG_FILE
    return default if default.is_file() else None


def _read_config_file(path: Path, problems: list[str]) -> dict[str, Any]:
    if not path.is_file():
        problems.append(f"{CONFIG_FILE_ENV}={str(path)!r}: no such file")
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        problems.append(f"{path}: not valid TOML ({error})")
        return {}


def _did_you_mean(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def load_settings(environ: Mapping[str, str], overrides: Mapping[str, object] | None = None) -> Settings:
    """Build validated settings from the environment mapping, the config file it names and `overrides`."""
    problems: list[str] = []
    notes: list[str] = []
    values: dict[str, object] = {}
    sources: dict[str, str] = {}

    path = config_file_path(environ)
    file_values = _read_config_file(path, problems) if path else {}
    known_keys = [option.key for option in OPTIONS]
    for key, raw in file_values.items():
        option = next((o for o in OPTIONS if o.key == key), None)
        if option is None:
            problems.append(f"{path}: unknown key {key!r}{_did_you_mean(key, known_keys)}")
            continue
        try:
            values[option.field_name] = option.parse(raw)
            sources[option.key] = f"file {path}"
        except _Invalid as error:
            shown = "(hidden)" if option.secret else repr(raw)
            problems.append(f"{path}: {key} = {shown}: {error}")

    known_env = [option.env for option in OPTIONS]
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name in OTHER_KNOWN_ENV:
            continue
        option = next((o for o in OPTIONS if o.env == name), None)
        if option is None:
            # Not fatal: other tools may share the prefix; shown by `govlake config`.
            notes.append(f"{name} is not a govlake setting{_did_you_mean(name, known_env)}")
            continue
        raw = environ[name]
        if not raw.strip():
            continue  # an empty variable means "not set", as in the shell
        try:
            values[option.field_name] = option.parse(raw)
            sources[option.key] = f"env {name}"
        except _Invalid as error:
            shown = "(hidden)" if option.secret else repr(raw)
            problems.append(f"{name}={shown}: {error}")

    for name, value in (overrides or {}).items():
        if value is None:
            continue
        option = OPTIONS_BY_FIELD.get(name)
        if option is None:
            raise TypeError(f"Settings has no setting {name!r}")
        try:
            values[name] = option.parse(dict(value) if isinstance(value, dict) else _as_raw(value))
            sources[option.key] = "option"
        except _Invalid as error:
            problems.append(f"{option.key} (command option) = {value!r}: {error}")

    if bool(values.get("s3_access_key")) != bool(values.get("s3_secret_key")):
        problems.append("s3_access_key and s3_secret_key must be set together (or neither)")
    if problems:
        raise ConfigError(
            f"{len(problems)} configuration problem(s):\n" + "\n".join(f"  - {p}" for p in problems)
        )
    return Settings(
        **values,  # type: ignore[arg-type]
        sources=tuple(sorted(sources.items())),
        config_file=str(path) if path else None,
        notes=tuple(notes),
    )
