"""`govlake scan-pii`: look for raw identifiers where none may be."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("scan-pii")
    def scan_pii(
        paths: Annotated[
            list[Path] | None, typer.Argument(help="Files or folders (default: the lake's non-raw zones)")
        ] = None,
        lake: Annotated[str | None, typer.Option("--lake", help="Lake root")] = None,
    ) -> None:
        """Report every value that looks like a CCCD, CMND, phone number or e-mail outside the raw zones."""
        from jobs.config import Settings
        from jobs.pii_scan import default_scan_roots, scan_for_pii

        roots = paths or default_scan_roots(Path(Settings.from_env(lake_root=lake).lake_uri))
        findings = scan_for_pii(roots)
        for finding in findings:
            typer.echo(str(finding))
        scanned = ", ".join(str(r) for r in roots)
        if findings:
            typer.echo(f"{len(findings)} possible raw identifier(s) found under {scanned}", err=True)
            raise typer.Exit(1)
        typer.echo(f"no raw identifier found under {scanned}")

    @app.command("rotate-key")
    def rotate_key_command(
        lake: Annotated[str | None, typer.Option("--lake", help="Lake root")] = None,
        yes: Annotated[
            bool, typer.Option("--yes", help="Confirm: silver and gold are rebuilt from bronze")
        ] = False,
        external_key_replaced: Annotated[
            bool, typer.Option(help="The key comes from GOVLAKE_PII_KEY(_FILE) and was replaced there")
        ] = False,
    ) -> None:
        """Rotate the pseudonymisation key: new key, silver and gold rebuilt from bronze with it."""
        from flows.daily import daily_flow
        from flows.runtime import get_runtime
        from jobs.rotation import RotationRefused, reopen_and_delete_derived, rotate_key

        if not yes:
            typer.echo("rotation deletes silver and gold (with their history) and rebuilds them: add --yes")
            raise typer.Exit(2)
        rt = get_runtime(lake)
        try:
            if external_key_replaced:
                deleted = reopen_and_delete_derived(rt.spark, rt.lake)
                typer.echo(f"rebuilding {len(deleted)} tables with the replaced external key")
            else:
                outcome = rotate_key(rt.spark, rt.lake, rt.settings)
                typer.echo(f"key {outcome.old_key_id} retired, new key {outcome.new_key_id}; rebuilding")
        except RotationRefused as refusal:
            typer.echo(f"rotation refused: {refusal}", err=True)
            raise typer.Exit(2) from None
        rt.forget_pii_key()
        summary = daily_flow(lake_root=lake)
        typer.echo(f"rebuild run {summary['run_id']}: {summary['status']}")
        if summary["status"] != "succeeded":
            raise typer.Exit(1)
