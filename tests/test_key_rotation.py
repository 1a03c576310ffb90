"""Key rotation: every pseudonym changes, the structure they encode (who filed what) does not."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from jobs.lake import Lake, silver
from jobs.pii import default_key_path
from jobs.sample import generate_sample

pytestmark = pytest.mark.e2e


def dossier_rows(spark, lake: Lake) -> list:
    return spark.read.format("delta").load(lake.table_path(silver("dossiers"))).collect()


def applicant_groups(spark, lake: Lake) -> tuple[dict[str, str], set[frozenset[str]]]:
    """Pseudonym per dossier, and the dossiers grouped by applicant (the part analysts rely on)."""
    rows = dossier_rows(spark, lake)
    by_dossier = {r["dossier_code"]: r["applicant_id_pseudonym"] for r in rows}
    groups: dict[str, set[str]] = {}
    for code, pseudonym in by_dossier.items():
        groups.setdefault(pseudonym, set()).add(code)
    return by_dossier, {frozenset(g) for g in groups.values()}


def test_rotation_changes_every_pseudonym_and_keeps_the_joins(spark, tmp_path, prefect_harness, monkeypatch):
    monkeypatch.delenv("GOVLAKE_PII_KEY", raising=False)
    monkeypatch.delenv("GOVLAKE_PII_KEY_FILE", raising=False)
    lake = Lake(str(tmp_path.resolve()))
    lake.ensure_layout()
    generate_sample(
        Path(lake.landing), tmp_path / "_sample" / "manifest.json", days=1, start=dt.date(2025, 6, 29),
        dossiers_per_day=40, enterprises=20, seed=11, defect_rate=0.0,
    )  # fmt: skip
    runner = CliRunner()
    # The two datasets that share identities are enough: rotation treats every silver table the same way.
    first = runner.invoke(app, ["run", "--lake", lake.root, "-d", "dossiers", "-d", "payments"])
    assert first.exit_code == 0, first.output
    old_key_text = default_key_path(lake.root).read_text()
    before, groups_before = applicant_groups(spark, lake)

    refused = runner.invoke(app, ["rotate-key", "--lake", lake.root])
    assert refused.exit_code == 2 and "--yes" in refused.output

    rotated = runner.invoke(app, ["rotate-key", "--yes", "--lake", lake.root])
    assert rotated.exit_code == 0, rotated.output
    key_path = default_key_path(lake.root)
    assert key_path.read_text() != old_key_text
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    # The old key is gone: no copy or backup of it is left beside the new one.
    assert [p.name for p in key_path.parent.iterdir() if p.is_file()] == [key_path.name]
    assert old_key_text.strip() not in rotated.output

    after, groups_after = applicant_groups(spark, lake)
    assert after.keys() == before.keys()
    assert all(after[code] != before[code] for code in before if before[code] is not None)
    assert groups_after == groups_before
    # Payments still join their dossier's applicant under the new key.
    paid = spark.read.format("delta").load(lake.table_path(silver("payments"))).collect()
    payer_by_dossier = {r["dossier_code"]: r["payer_phone_pseudonym"] for r in paid}
    phones = {r["dossier_code"]: r["applicant_phone_pseudonym"] for r in dossier_rows(spark, lake)}
    joined = [code for code in payer_by_dossier if code in phones and phones[code] is not None]
    assert joined and all(payer_by_dossier[code] == phones[code] for code in joined)
