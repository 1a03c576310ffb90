"""Configuration: defaults < govlake.toml < GOVLAKE_* variables < command options; validated; secrets masked."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from jobs.config import DEFAULT_ZORDER, ConfigError, Settings, load_settings

KEY = "0123456789abcdef" * 4
SECRET_LOOKING = "s3cr3t-Value-that-must-not-leak"


def write_toml(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_when_nothing_is_configured(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings({})
    assert (settings.lake_root, settings.spark_master, settings.shuffle_partitions) == ("lake", "local[*]", 4)
    assert settings.vacuum_retention_hours == 168 and settings.zorder == DEFAULT_ZORDER
    assert settings.config_file is None and settings.sources == ()
    assert settings.lake_uri == str(tmp_path / "lake")


def test_file_then_environment_then_command_option(tmp_path):
    config = write_toml(
        tmp_path / "ops.toml",
        'lake_root = "/data/from-file"\nshuffle_partitions = 3\nspark_master = "spark://10.0.0.5:7077"\n'
        '[zorder]\n"silver.enterprises" = ["commune_code"]\n',
    )
    settings = load_settings(
        {"GOVLAKE_CONFIG": str(config), "GOVLAKE_SHUFFLE_PARTITIONS": "6", "GOVLAKE_LAKE_ROOT": "/data/env"},
        {"lake_root": "/data/option"},
    )
    assert settings.lake_root == "/data/option" and settings.source_of("lake_root") == "option"
    assert (
        settings.shuffle_partitions == 6
        and settings.source_of("shuffle_partitions") == "env GOVLAKE_SHUFFLE_PARTITIONS"
    )
    assert settings.spark_master == "spark://10.0.0.5:7077"
    assert settings.source_of("spark_master") == f"file {config}"
    assert settings.zorder_columns == {"silver.enterprises": ("commune_code",)}
    assert settings.source_of("driver_memory") == "default"


def test_govlake_toml_in_the_working_directory_is_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_toml(tmp_path / "govlake.toml", "vacuum_retention_hours = 336\n")
    settings = load_settings({})
    assert settings.vacuum_retention_hours == 336
    assert settings.config_file == str(tmp_path / "govlake.toml")


def test_zorder_from_the_environment(tmp_path):
    settings = load_settings(
        {"GOVLAKE_CONFIG": str(write_toml(tmp_path / "c.toml", "")),
         "GOVLAKE_ZORDER": "silver.dossiers=commune_code,received_at; gold.fct_x=month"}
    )  # fmt: skip
    assert settings.zorder_columns == {
        "gold.fct_x": ("month",),
        "silver.dossiers": ("commune_code", "received_at"),
    }


def test_every_bad_value_is_reported_with_where_it_came_from(tmp_path):
    config = write_toml(
        tmp_path / "bad.toml",
        'lake_rot = "/data"\nspark_master = "mesos://old"\nshuffle_partitions = 0\n'
        '[zorder]\n"dossiers" = ["commune_code"]\n',
    )
    with pytest.raises(ConfigError) as raised:
        load_settings({"GOVLAKE_CONFIG": str(config), "GOVLAKE_DRIVER_MEMORY": "lots"})
    message = str(raised.value)
    assert message.startswith("5 configuration problem(s):")
    assert f"{config}: unknown key 'lake_rot'; did you mean 'lake_root'?" in message
    assert (
        f"{config}: spark_master = 'mesos://old': expected local[N], spark://host:port, yarn or k8s://…"
        in message
    )
    assert f"{config}: shuffle_partitions = 0: expected a whole number above 0" in message
    assert "'dossiers' is not a table name such as 'silver.dossiers'" in message
    assert "GOVLAKE_DRIVER_MEMORY='lots': expected a size such as '4g' or '512m'" in message


def test_a_named_config_file_must_exist_and_be_toml(tmp_path):
    with pytest.raises(ConfigError, match="GOVLAKE_CONFIG=.*missing.toml': no such file"):
        load_settings({"GOVLAKE_CONFIG": str(tmp_path / "missing.toml")})
    broken = write_toml(tmp_path / "broken.toml", "lake_root = [unclosed\n")
    with pytest.raises(ConfigError, match=f"{broken}: not valid TOML"):
        load_settings({"GOVLAKE_CONFIG": str(broken)})


def test_secrets_are_never_echoed(tmp_path):
    config = write_toml(tmp_path / "c.toml", f's3_secret_key = "{SECRET_LOOKING}"\n')
    with pytest.raises(ConfigError) as raised:
        load_settings({"GOVLAKE_CONFIG": str(config), "GOVLAKE_PII_KEY": SECRET_LOOKING})
    message = str(raised.value)
    assert SECRET_LOOKING not in message
    assert "GOVLAKE_PII_KEY=(hidden): expected 64 hexadecimal characters" in message
    assert "s3_access_key and s3_secret_key must be set together" in message

    settings = load_settings(
        {"GOVLAKE_CONFIG": str(config), "GOVLAKE_PII_KEY": KEY, "GOVLAKE_S3_ACCESS_KEY": "AKIAEXAMPLE"}
    )
    shown = settings.as_display_dict()
    assert shown["pii_key"] == "set (hidden)  (env GOVLAKE_PII_KEY)"
    assert shown["s3_secret_key"] == f"set (hidden)  (file {config})"
    assert shown["s3_access_key"] == "set (hidden)  (env GOVLAKE_S3_ACCESS_KEY)"
    assert not any(secret in " ".join(shown.values()) for secret in (KEY, SECRET_LOOKING, "AKIAEXAMPLE"))
    assert KEY not in repr(settings) and SECRET_LOOKING not in repr(settings)


def test_an_unknown_govlake_variable_is_noted_not_fatal(tmp_path):
    settings = load_settings(
        {"GOVLAKE_CONFIG": str(write_toml(tmp_path / "c.toml", "")), "GOVLAKE_LAKEROOT": "/x"}
    )
    assert settings.notes == ("GOVLAKE_LAKEROOT is not a govlake setting; did you mean 'GOVLAKE_LAKE_ROOT'?",)
    assert settings.lake_root == "lake"


def test_settings_made_in_code_are_validated_too():
    with pytest.raises(ConfigError, match="shuffle_partitions: expected a whole number above 0"):
        Settings(shuffle_partitions=0)
    with pytest.raises(ConfigError, match="driver_host"):
        Settings(driver_host="not a host name")


def test_config_command_prints_values_sources_and_masks_secrets(tmp_path):
    config = write_toml(tmp_path / "govlake.toml", 'spark_master = "spark://127.0.0.1:7077"\n')
    env = {"GOVLAKE_CONFIG": str(config), "GOVLAKE_PII_KEY": KEY, "GOVLAKE_SHUFFLE_PARTITIONS": "8"}
    result = CliRunner().invoke(app, ["config", "--lake", str(tmp_path / "lake")], env=env)
    assert result.exit_code == 0, result.output
    lines = {
        line.split()[0]: " ".join(line.split()[1:]) for line in result.output.splitlines() if line.strip()
    }
    assert lines["config_file"] == str(config)
    assert lines["spark_master"] == f"spark://127.0.0.1:7077 (file {config})"
    assert lines["shuffle_partitions"] == "8 (env GOVLAKE_SHUFFLE_PARTITIONS)"
    assert lines["lake_root"] == f"{tmp_path / 'lake'} (option)"
    assert lines["pii_key"] == "set (hidden) (env GOVLAKE_PII_KEY)"
    assert KEY not in result.output


def test_config_command_exits_2_naming_each_bad_value(tmp_path):
    env = {"GOVLAKE_CONFIG": str(write_toml(tmp_path / "c.toml", "")), "GOVLAKE_SHUFFLE_PARTITIONS": "two",
           "GOVLAKE_VACUUM_RETENTION_HOURS": "-1"}  # fmt: skip
    result = CliRunner().invoke(app, ["config"], env=env)
    assert result.exit_code == 2
    output = " ".join(result.output.split())
    assert "GOVLAKE_SHUFFLE_PARTITIONS='two': expected a whole number" in output
    assert "GOVLAKE_VACUUM_RETENTION_HOURS='-1': expected a whole number above 0" in output
