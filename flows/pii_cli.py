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
