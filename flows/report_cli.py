"""`govlake report`: regenerate a run's HTML report from the stored run ledger (no Spark needed).

No `from __future__ import annotations` here: Typer reads the command's annotations, which name
`LakeOption` from inside `register`, so they must be evaluated where they are written.
"""

import os
import sys
import webbrowser
from typing import Annotated

import typer


def has_display() -> bool:
    """A desktop to open a browser on: macOS and Windows always; elsewhere an X11 or Wayland session."""
    return sys.platform in ("darwin", "win32") or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


def register(app: typer.Typer) -> None:
    from flows.cli import LakeOption, _settings, console

    @app.command()
    def report(
        run_id: Annotated[
            str | None, typer.Argument(help="Run id (a file stem in _ops/runs/); default: the latest run")
        ] = None,
        lake: LakeOption = None,
        open_report: Annotated[
            bool, typer.Option("--open", help="Open the report in the default browser when a display exists")
        ] = False,
    ) -> None:
        """Write _reports/<run_id>.html (and latest.html for the newest run) from the run ledger."""
        from jobs.report import build_report

        settings = _settings(lake)
        try:
            path = build_report(settings.lake_uri, run_id)
        except (FileNotFoundError, ValueError) as error:
            console.print(f"[red]no report:[/red] {error}")
            raise typer.Exit(2) from None
        # Plain print: a long path must stay on one line for scripts and terminals to pick up.
        print(path)
        if open_report:
            if has_display():
                webbrowser.open(path.resolve().as_uri())
            else:
                console.print("no display to open a browser on; open the file above on a workstation")
