"""`govlake quarantine …`: what the quality rules hold back, and replaying it after a fix."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

# Not imported from flows.cli: that module imports this one while it is being built.
console = Console()
LakeOption = Annotated[
    str | None, typer.Option("--lake", help="Lake root (default: $GOVLAKE_LAKE_ROOT or ./lake)")
]
quarantine_app = typer.Typer(help="Rows held in quarantine: counts by rule, and replay after a fix.")


def register(app: typer.Typer) -> None:
    app.add_typer(quarantine_app, name="quarantine")


def _known_dataset(name: str, out: Console) -> str:
    from jobs.datasets import get_dataset

    try:
        return get_dataset(name).name
    except KeyError as error:
        out.print(f"[red]{escape(str(error.args[0]))}[/red]")
        raise typer.Exit(2) from None


@quarantine_app.command("list")
def list_held(
    dataset: Annotated[str | None, typer.Option("--dataset", "-d", help="Only this dataset")] = None,
    lake: LakeOption = None,
    samples: Annotated[
        int, typer.Option(help="Also show this many of the newest held rows (identifiers masked)")
    ] = 0,
) -> None:
    """Quarantined rows by run, dataset, rule and severity, newest run first."""
    from flows import runtime
    from jobs.replay import masked_samples, quarantine_counts

    name = _known_dataset(dataset, console) if dataset else None
    rt = runtime.get_runtime(lake)
    by_rule, totals = quarantine_counts(rt.spark, rt.lake, name)
    if not totals:
        console.print("nothing in quarantine" + (f" for {name}" if name else ""))
        return
    table = Table("run", "dataset", "rule", "severity", "rows", title="quarantined rows by rule")
    for count in by_rule:
        table.add_row(count.run_id, count.dataset, count.rule_id, count.severity, str(count.rows))
    console.print(table)
    held = Table("run", "dataset", "rows held", title="quarantined rows (a row may fail several rules)")
    for total in totals:
        held.add_row(total.run_id, total.dataset, str(total.rows))
    console.print(held)
    for dataset_name in sorted({t.dataset for t in totals}) if samples > 0 else []:
        console.print(f"\nnewest held rows of {dataset_name} (payloads as stored: identifiers masked)")
        for row in masked_samples(rt.spark, rt.lake, dataset_name, samples):
            rules = ", ".join(row["rule_ids"] or [])  # type: ignore[arg-type]
            console.print(
                f"- run {row['quarantined_run_id']}, record {escape(str(row['record_key']))}: {rules}",
                soft_wrap=True,
            )
            console.print(f"  {escape(str(row['payload']))}", soft_wrap=True)


@quarantine_app.command("replay")
def replay(
    dataset: Annotated[str, typer.Argument(help="Dataset whose quarantined rows to validate again")],
    lake: LakeOption = None,
) -> None:
    """Validate a dataset's quarantined rows again (after a rule or reference fix) and release the ones
    that pass: merged into silver, removed from quarantine. The others stay, with updated reasons."""
    from flows import runtime
    from jobs.replay import replay_quarantine
    from jobs.runs import new_run_id

    name = _known_dataset(dataset, console)
    rt = runtime.get_runtime(lake)
    run_id = new_run_id()
    outcome = replay_quarantine(rt.spark, rt.lake, name, run_id, rt.pii_key)
    console.print(
        f"replay {run_id} of {name}: {outcome.rechecked} rechecked, {outcome.released} released "
        f"(silver +{outcome.inserted} new, {outcome.updated} updated), {outcome.still_failing} still failing",
        soft_wrap=True,
    )
    if outcome.not_in_bronze:
        console.print(
            f"[yellow]{outcome.not_in_bronze} quarantined rows have no delivered record in bronze "
            "and were left as they are[/yellow]"
        )
    for broken in outcome.broken_invariants:
        console.print(f"[red]silver invariant broken: {escape(broken)}; the rows stay in quarantine[/red]")
    if outcome.broken_invariants or not outcome.conserved:
        console.print("[red]rechecked ≠ released + still failing; see the log[/red]")
        raise typer.Exit(1)
