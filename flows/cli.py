"""The `govlake` command line."""

from __future__ import annotations

import datetime as dt
import importlib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="govlake: agency datasets → Delta Lake, cleaned, validated and merged.", no_args_is_help=True
)
# Wide enough for the summary table when output goes to a log file rather than a terminal.
console = Console(width=None if sys.stdout.isatty() else 160)
LakeOption = Annotated[
    str | None, typer.Option("--lake", help="Lake root (default: $GOVLAKE_LAKE_ROOT or ./lake)")
]


def _settings(lake: str | None):  # type: ignore[no-untyped-def]
    from jobs.config import ConfigError, Settings

    try:
        return Settings.from_env(lake_root=lake)
    except ConfigError as error:
        console.print(f"[red]configuration error:[/red] {error}")
        raise typer.Exit(2) from None


@app.command()
def sample(
    lake: LakeOption = None,
    days: Annotated[int, typer.Option(help="Delivery days to generate")] = 3,
    start: Annotated[str, typer.Option(help="First delivery date (yyyy-mm-dd)")] = "2025-06-29",
    dossiers_per_day: Annotated[int, typer.Option(help="New dossiers per day")] = 200,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files")] = 74,
    defect_rate: Annotated[float, typer.Option(help="Share of records given one known defect")] = 0.03,
) -> None:
    """Write realistic agency deliveries into landing/, with a ground-truth manifest of injected defects."""
    from jobs.lake import Lake
    from jobs.sample import default_manifest_path, generate_sample

    settings = _settings(lake)
    lake_obj = Lake(settings.lake_uri)
    lake_obj.ensure_layout()
    result = generate_sample(
        Path(lake_obj.landing),
        default_manifest_path(Path(lake_obj.root)),
        days=days,
        start=dt.date.fromisoformat(start),
        dossiers_per_day=dossiers_per_day,
        seed=seed,
        defect_rate=defect_rate,
    )
    console.print(f"sample written to {lake_obj.landing}: {result}")


def print_summary(summary: dict[str, Any]) -> None:
    table = Table(title=f"run {summary['run_id']} — {summary['status']} in {summary['duration_s']}s")
    for column in ("dataset", "status", "files", "rows read", "bronze", "valid", "quarantined", "inserted",
                   "updated", "conserved"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("dataset", "status") else "right")
    for d in summary["datasets"]:
        files = d["files"]
        ingested = sum(f["status"] == "ingested" for f in files)
        table.add_row(
            d["dataset"], d["status"], f"{ingested}/{len(files)}", str(d["rows_read"]), str(d["bronze_rows"]),
            str(d["valid"]), str(d["quarantined"]), str(d["inserted"]), str(d["updated"]),
            "yes" if d["conserved"] else "[red]NO[/red]",
        )  # fmt: skip
    console.print(table)
    for problem in summary["problems"]:
        console.print(f"[red]✗[/red] {problem}")


@app.command()
def run(
    lake: LakeOption = None,
    dataset: Annotated[list[str] | None, typer.Option("--dataset", "-d", help="Only these datasets")] = None,
) -> None:
    """Run the daily flow: landing → bronze → silver/quarantine → gold, then print the run summary."""
    _settings(lake)
    from flows.daily import daily_flow
    from jobs.run_lock import RunLockTimeout

    try:
        summary = daily_flow(datasets=dataset, lake_root=lake)
    except RunLockTimeout as error:
        console.print(f"[red]not run:[/red] {error}")
        raise typer.Exit(1) from None
    print_summary(summary)
    if summary["status"] != "succeeded":
        console.print("[red]run finished with problems (see above); exit code 1[/red]")
        raise typer.Exit(1)


# A text cell starting with one of these is a formula to a spreadsheet (OWASP "CSV injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def inert_for_spreadsheets(frame: Any) -> Any:
    """A copy of a pandas frame whose text cells a spreadsheet cannot run: a cell starting with a formula
    trigger gets a leading apostrophe, as OWASP's CSV-injection guidance says. Numbers stay numbers."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object:
            safe[column] = safe[column].map(
                lambda v: f"'{v}" if isinstance(v, str) and v.startswith(FORMULA_TRIGGERS) else v
            )
    return safe


def _write_frame(frame: Any, out: Path) -> None:
    if out.suffix == ".parquet":
        frame.to_parquet(out, index=False)
    else:
        inert_for_spreadsheets(frame).to_csv(out, index=False)
    console.print(f"wrote {out}")


def _print_rows(columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    table = Table(*columns)
    for row in rows:
        table.add_row(*["" if v is None else str(v) for v in row])
    console.print(table)


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="SQL over the registered tables, e.g. SELECT * FROM gold.x")],
    lake: LakeOption = None,
    limit: Annotated[int, typer.Option(help="Rows to print")] = 50,
    out: Annotated[
        Path | None, typer.Option(help="Write all rows to this .csv or .parquet file instead")
    ] = None,
    engine: Annotated[
        str, typer.Option(help="spark (all zones) or duckdb (silver, gold, quality; no JVM: answers in ~1 s)")
    ] = "spark",
) -> None:
    """Run SQL against the lake's tables (bronze, silver, gold, quarantine, quality, ops)."""
    if engine == "duckdb":
        _sql_with_duckdb(query, lake, limit, out)
        return
    if engine != "spark":
        console.print(f"[red]unknown engine {engine!r}: use spark or duckdb[/red]")
        raise typer.Exit(2)
    from flows.runtime import get_runtime

    rt = get_runtime(lake)
    rt.register_tables()
    try:
        result = rt.spark.sql(query)
    except Exception as error:
        console.print(f"[red]query failed:[/red] {str(error).splitlines()[0]}")
        raise typer.Exit(2) from None
    if out is not None:
        _write_frame(result.toPandas(), out)
        return
    _print_rows(result.columns, [tuple(r) for r in result.limit(limit).collect()])


def _sql_with_duckdb(query: str, lake: str | None, limit: int, out: Path | None) -> None:
    import os

    from jobs.arrow_access import duckdb_connection
    from jobs.lake import Lake

    exit_code = 0
    try:
        relation = duckdb_connection(Lake(_settings(lake).lake_uri)).sql(query)
        if out is not None:
            _write_frame(relation.df(), out)
        else:
            _print_rows(list(relation.columns), relation.limit(limit).fetchall())
    except Exception as error:
        console.print(f"[red]query failed:[/red] {str(error).splitlines()[0]}")
        exit_code = 2
    # delta-rs with pyarrow 26 can abort while the interpreter tears down after a correct answer; the
    # answer is printed, so leave without the teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_code)


@app.command()
def tables(
    lake: LakeOption = None,
    describe: Annotated[
        bool, typer.Option("--describe", help="Print the data dictionary: every column and its definition")
    ] = False,
) -> None:
    """List the lake's tables with row counts and current versions (`--describe`: the data dictionary)."""
    if describe:
        _describe_tables()
        return
    from flows.runtime import get_runtime
    from jobs.lake import current_version

    rt = get_runtime(lake)
    table = Table("table", "rows", "version", "location")
    for name in rt.register_tables():
        location = rt.spark.sql(f"DESCRIBE DETAIL {name}").first()["location"]  # type: ignore[index]
        version = current_version(rt.spark, location)
        table.add_row(name, str(rt.spark.table(name).count()), str(version), location)
    console.print(table)


def _describe_tables() -> None:
    """Gold marts (from their specs) and silver tables (from their contracts); no Spark needed."""
    from jobs.dictionary import gold_entries, silver_entries

    for entry in [*gold_entries(), *silver_entries()]:
        table = Table("column", "definition", title=entry.name, caption=entry.description)
        for column, definition in entry.columns:
            table.add_row(column, definition)
        console.print(table)


@app.command()
def marts(
    lake: LakeOption = None,
    full: Annotated[
        bool, typer.Option("--full", help="Rebuild every mart from silver instead of from its change feed")
    ] = False,
) -> None:
    """Bring the gold marts up to date with silver (incrementally; `--full` rebuilds them)."""
    from flows.runtime import get_runtime
    from jobs import pipeline

    rt = get_runtime(lake)
    versions = pipeline.build_marts(rt.spark, rt.lake, full=full)
    if not versions:
        console.print("no mart built: their silver sources do not exist yet (run `govlake run` first)")
    for name, version in versions.items():
        console.print(f"{name}: version {version}")


@app.command()
def config(lake: LakeOption = None) -> None:
    """Print the effective configuration (secrets masked)."""
    for key, value in _settings(lake).as_display_dict().items():
        console.print(f"{key:20} {value}")


# Each area's commands live in their own module, exposing `register(app: typer.Typer) -> None`.
COMMAND_MODULES: tuple[str, ...] = ("flows.pii_cli", "flows.report_cli", "flows.quality_cli", "flows.ops_cli")
for _module_name in COMMAND_MODULES:
    importlib.import_module(_module_name).register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
