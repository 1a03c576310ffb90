"""Operations commands: `govlake verify`, `serve`, `backfill`, `maintain`, `history` and `rollback`."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

console = Console(width=None if sys.stdout.isatty() else 160)
LakeOption = Annotated[
    str | None, typer.Option("--lake", help="Lake root (default: $GOVLAKE_LAKE_ROOT or ./lake)")
]


def _check_settings(lake: str | None) -> None:
    from jobs.config import ConfigError, Settings

    try:
        Settings.from_env(lake_root=lake)
    except ConfigError as error:
        console.print(f"[red]configuration error:[/red] {error}")
        raise typer.Exit(2) from None


def print_maintenance(report: dict[str, Any]) -> None:
    table = Table(title=f"maintenance {report['run_id']} — {report['status']}")
    for column in ("table", "version", "files", "small files", "size (bytes)", "z-order", "files deleted"):
        table.add_column(column, justify="left" if column in ("table", "z-order") else "right")
    for t in report["tables"]:
        if "after" not in t:
            table.add_row(t["table"], "–", "–", "–", "–", "–", "failed")
            continue
        b, a = t["before"], t["after"]
        table.add_row(
            t["table"], f"{b['version']} → {a['version']}", f"{b['files']} → {a['files']}",
            f"{b['small_files']} → {a['small_files']}", f"{b['size_bytes']} → {a['size_bytes']}",
            ",".join(t["optimize"]["zorder_by"]) or "-", str(t["vacuum"]["files_deleted"]),
        )  # fmt: skip
    console.print(table)
    console.print(f"VACUUM retention {report['retention_hours']} h; report: {report.get('report_path')}")
    for problem in report["problems"]:
        console.print(f"[red]✗[/red] {problem}")


def register(app: typer.Typer) -> None:
    @app.command()
    def verify(
        lake: LakeOption = None,
        dataset: Annotated[
            list[str] | None, typer.Option("--dataset", "-d", help="Only these datasets' tables")
        ] = None,
    ) -> None:
        """Check the lake's invariants: conservation against the ledgers, lineage, silver keys and SCD2
        windows, gold source versions. Exit code 1 when any is violated."""
        from flows.runtime import get_runtime
        from jobs.datasets import get_dataset
        from jobs.verify import verify_lake

        _check_settings(lake)
        try:
            names = [get_dataset(name).name for name in dataset or []]
        except KeyError as error:
            console.print(f"[red]{error.args[0]}[/red]")
            raise typer.Exit(2) from None
        rt = get_runtime(lake)
        report = verify_lake(rt.spark, rt.lake, names or None)
        for line in report.checked:
            console.print(f"checked {line}", soft_wrap=True, markup=False)
        if report.ok:
            console.print("no violations")
            return
        table = Table("table", "check", "detail", title=f"{len(report.violations)} violations")
        for v in report.violations:
            table.add_row(v.table, v.check, v.detail)
        console.print(table)
        raise typer.Exit(1)

    @app.command()
    def serve(
        start_server: Annotated[
            bool, typer.Option("--start-server", help="Start a local Prefect server on 127.0.0.1 first")
        ] = False,
        limit: Annotated[int, typer.Option(help="Flow runs at a time (1: never two writers at once)")] = 1,
    ) -> None:
        """Register the scheduled deployments with a Prefect server and run them until stopped (Ctrl-C)."""
        from flows.deployments import serve as serve_deployments

        _check_settings(None)
        try:
            serve_deployments(start_server=start_server, limit=limit)
        except (RuntimeError, TimeoutError) as error:
            console.print(f"[red]cannot serve:[/red] {error}")
            raise typer.Exit(2) from None

    @app.command()
    def backfill(
        from_date: Annotated[str, typer.Option("--from", help="First delivery date (yyyy-mm-dd)")],
        to_date: Annotated[str, typer.Option("--to", help="Last delivery date (yyyy-mm-dd)")],
        dataset: Annotated[
            list[str] | None, typer.Option("--dataset", "-d", help="Only these datasets")
        ] = None,
        lake: LakeOption = None,
    ) -> None:
        """Process the landing folders of a date range, oldest first; a rerun resumes at the failed date."""
        from jobs.backfill import date_range
        from jobs.datasets import get_dataset

        _check_settings(lake)
        try:
            date_range(from_date, to_date)
            for name in dataset or []:
                get_dataset(name)
        except (ValueError, KeyError) as error:
            console.print(f"[red]{error.args[0] if error.args else error}[/red]")
            raise typer.Exit(2) from None
        from flows.backfill import backfill_flow

        result = backfill_flow(start=from_date, end=to_date, datasets=dataset, lake_root=lake)
        table = Table(title=f"backfill {from_date} → {to_date}: {result['status']}")
        for column in ("date", "status", "run", "problems"):
            table.add_column(column)
        for entry in result["dates"]:
            table.add_row(entry["date"], entry["status"], entry["run_id"] or "", "\n".join(entry["problems"]))
        console.print(table)
        if result["status"] != "succeeded":
            console.print("[red]backfill stopped at a failed date; fix it, then run the same command[/red]")
            raise typer.Exit(1)

    @app.command()
    def maintain(
        lake: LakeOption = None,
        retention_hours: Annotated[
            int | None,
            typer.Option(
                min=0, help="VACUUM keeps the files of this many hours of history (default: config, 168)"
            ),
        ] = None,
        allow_time_travel_loss: Annotated[
            bool,
            typer.Option(
                "--i-understand-time-travel-loss",
                help="Allow a retention below Delta's 168-hour safety default",
            ),
        ] = False,
        table: Annotated[
            list[str] | None, typer.Option("--table", "-t", help="Only these tables (e.g. silver.dossiers)")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the full JSON report")] = False,
    ) -> None:
        """OPTIMIZE (Z-ordered where configured) and VACUUM the lake's tables; table health before/after."""
        from jobs.config import Settings
        from jobs.maintenance import RetentionTooShort, check_retention

        _check_settings(lake)
        hours = (
            Settings.from_env(lake_root=lake).vacuum_retention_hours
            if retention_hours is None
            else retention_hours
        )
        try:
            check_retention(hours, allow_time_travel_loss)
        except RetentionTooShort as error:
            console.print(f"[red]refused:[/red] {error}")
            raise typer.Exit(2) from None
        from flows.maintenance import maintenance_flow

        report = maintenance_flow(
            lake_root=lake, retention_hours=hours, allow_time_travel_loss=allow_time_travel_loss, tables=table
        )
        if as_json:
            console.print_json(json.dumps(report, ensure_ascii=False))
        print_maintenance(report)
        if report["status"] != "succeeded":
            raise typer.Exit(1)

    @app.command()
    def history(
        table_name: Annotated[str, typer.Argument(metavar="TABLE", help="e.g. silver.dossiers")],
        lake: LakeOption = None,
        limit: Annotated[int | None, typer.Option(help="Only the newest N versions")] = None,
    ) -> None:
        """A table's versions, each with the govlake run, maintenance or rollback that wrote it."""
        from flows.runtime import get_runtime
        from jobs.history import resolve_table, table_history
        from jobs.lake import table_exists

        _check_settings(lake)
        try:
            ref = resolve_table(table_name)
        except ValueError as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(2) from None
        rt = get_runtime(lake)
        if not table_exists(rt.spark, rt.lake, ref):
            console.print(f"[red]{table_name} does not exist yet at {rt.lake.table_path(ref)}[/red]")
            raise typer.Exit(2)
        out = Table(title=f"{table_name} history")
        for column in ("version", "committed (Vietnam)", "operation", "rows", "written by", "found by"):
            out.add_column(column, justify="right" if column == "version" else "left")
        for v in table_history(rt.spark, rt.lake, ref, limit):
            out.add_row(str(v.version), v.committed_at, v.operation, v.rows, v.written_by, v.found_by)
        console.print(out)

    @app.command()
    def rollback(
        table_name: Annotated[str, typer.Argument(metavar="TABLE", help="e.g. silver.dossiers")],
        to_version: Annotated[int, typer.Option("--to-version", help="The version to restore")],
        reason: Annotated[str, typer.Option("--reason", help="Why: kept in _ops/rollbacks.jsonl")],
        cascade: Annotated[
            bool, typer.Option("--cascade", help="Also rebuild the gold marts that depend on the table")
        ] = False,
        lake: LakeOption = None,
    ) -> None:
        """Restore a table to an earlier version (Delta RESTORE), recording who, why and when."""
        from flows.runtime import get_runtime
        from jobs import pipeline
        from jobs.history import RollbackRefused
        from jobs.history import rollback as rollback_table

        _check_settings(lake)
        rt = get_runtime(lake)
        try:
            record = rollback_table(
                rt.spark, rt.lake, table_name, to_version, reason, cascade,
                # In full: after a RESTORE, gold is recomputed from the restored silver as a whole.
                rebuild_marts=lambda: pipeline.build_marts(rt.spark, rt.lake, full=True),
            )  # fmt: skip
        except (RollbackRefused, ValueError) as error:
            console.print(f"[red]refused:[/red] {error}")
            raise typer.Exit(2) from None
        except RuntimeError as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(1) from None
        console.print(
            f"{table_name} restored from v{record['from_version']} to v{to_version} "
            f"(now v{record['new_version']}) by {record['user']}: {record['reason']}"
        )
        for gold_table, version in record["rebuilt"].items():
            console.print(f"rebuilt {gold_table} (now v{version})")
