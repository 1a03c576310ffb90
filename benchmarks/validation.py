"""Validation cost side by side, in one run on one machine: govlake's one pass, GE alone, and the floor.

(a) govlake: `standardise` → `validate_in_one_pass` (every rule of the dossier suite in one pass; the flagged
    rows persisted, as the quarantine write and the silver merge reuse them) → the quarantine/valid split
    counted from those rows → Data Docs built from the per-rule counts (`jobs.data_docs`).
(b) Great Expectations alone, the usual way: an ephemeral context, a Spark data source, a dataframe asset with
    a whole-dataframe batch definition, and a ValidationDefinition running the suite's expectations over the
    standardised DataFrame (typed columns plus the delivered text as `raw_<column>`, persisted first; that
    time is included). Default result format (SUMMARY). The suite's engine-only types have no GE
    implementation and run as the closest GE-native regex expectation (`ENGINE_ONLY_AS_REGEX`).
(c) The floor: one aggregation computing the same per-rule counts with the same predicates as (a), nothing
    kept, no array of failed rule ids, no Data Docs.

Input: dossiers as the portal delivers them. `jobs.sample.generate_sample` writes a few days of realistic
records with its defect mix (bad dates, invalid IDs and phones, unknown communes, missing codes, due dates
before receipt, duplicates); Spark replicates them to the wanted size with distinct dossier codes per copy
and writes bronze-shaped Parquet once per size (not timed). Each variant then reads that Parquet.

    nice python benchmarks/validation.py --rows 1000000 5000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from host import host_facts
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

import flows  # noqa: F401  (process environment defaults: no telemetry, loopback Spark)
from jobs.config import Settings
from jobs.data_docs import build_data_docs
from jobs.datasets import get_dataset
from jobs.pii import PiiKey
from jobs.pipeline import rule_result_records
from jobs.quality import (
    RAW,
    Rule,
    dataset_rule_results,
    failure_predicate,
    has_any,
    load_suite,
    parseable_rule,
    quarantine_rule_ids,
    rule_results,
    validate_in_one_pass,
    warn_rule_ids,
)
from jobs.readers import canonical_column_names, json_field_as_text
from jobs.reference_data import value_set
from jobs.sample import generate_sample
from jobs.session import build_spark
from jobs.standardise import standardise

DATASET = "dossiers"
BATCH_DATE = "2025-06-29"
TEMPLATE_DAYS, TEMPLATE_DOSSIERS_PER_DAY, TEMPLATE_DEFECT_RATE = 3, 3000, 0.03
WARM_UP_ROWS = 20_000
REPO = Path(__file__).resolve().parents[1]
DEFAULT_WORKDIR = REPO / ".cache" / "bench-validation"

# Engine-only expectation types → the closest GE-native check: the shape of the value, without the
# engine's province, century and birth-year checks (IDs) or prefix list (mobiles). Separators allowed as
# the engine allows them.
ENGINE_ONLY_AS_REGEX = {
    "expect_column_values_to_be_valid_vn_citizen_id": r"^[ .\-]*(([0-9][ .\-]*){9}|([0-9][ .\-]*){12})$",
    "expect_column_values_to_be_valid_vn_mobile": r"^(\+?84|0)[ .\-()]*[35789]([ .\-()]*[0-9]){8}$",
    "expect_column_values_to_be_valid_vn_tax_code": r"^[0-9]{10}(-[0-9]{3})?$",
}


@dataclass
class Measured:
    seconds: float
    counts: dict[str, int]
    notes: dict[str, Any] = field(default_factory=dict)
    cpu_seconds: float = 0.0


def process_tree_cpu_seconds() -> float:
    """CPU time of this process and all its descendants (the JVM, Spark's Python workers), reaped ones
    included. On a shared machine wall time depends on the other processes; CPU time much less."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents, used = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        parents[int(entry.name)] = int(fields[1])
        used[int(entry.name)] = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    tree, frontier = {os.getpid()}, [os.getpid()]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier and pid not in tree]
        tree.update(children)
        frontier = children
    return sum(used.get(pid, 0) for pid in tree) / ticks


# ---------------------------------------------------------------------------------------------------------
# Input
# ---------------------------------------------------------------------------------------------------------


def template_landing(workdir: Path, seed: int) -> Path:
    landing = workdir / f"templates-seed{seed}" / "landing"
    if not (landing / "cong-dvc" / DATASET).is_dir():
        generate_sample(
            landing,
            workdir / f"templates-seed{seed}" / "manifest.json",
            days=TEMPLATE_DAYS,
            dossiers_per_day=TEMPLATE_DOSSIERS_PER_DAY,
            seed=seed,
            defect_rate=TEMPLATE_DEFECT_RATE,
        )
    return landing


def bronze_input(spark: SparkSession, workdir: Path, rows: int, seed: int) -> str:
    """Bronze-shaped Parquet of `rows` dossiers (strings + provenance), written once per size and seed."""
    path = workdir / f"bronze-{DATASET}-{rows}-seed{seed}.parquet"
    if (path / "_SUCCESS").exists():
        return str(path)
    landing = template_landing(workdir, seed)
    contract = get_dataset(DATASET).contract
    delivered = spark.read.option("primitivesAsString", "true").json(
        str(landing / contract.agency / DATASET / "*" / "*.jsonl")
    )
    names, _ = canonical_column_names(delivered.columns, contract)
    templates = delivered.select(
        *[json_field_as_text(delivered, h).alias(n) for h, n in zip(delivered.columns, names, strict=True)]
    ).withColumn("_template", F.row_number().over(_file_order()) - 1)
    template_count = templates.count()
    copies = spark.range(math.ceil(rows / template_count)).withColumnRenamed("id", "_copy")
    code = F.col("dossier_code")
    replicated = (
        templates.crossJoin(copies)
        .where(F.col("_copy") * template_count + F.col("_template") < rows)
        .withColumns(
            {
                # Distinct dossiers per copy; a missing code (an injected defect) stays missing.
                "dossier_code": F.when(
                    F.trim(code) != "", F.concat(code, F.lit("-"), F.col("_copy"))
                ).otherwise(code),
                "_corrupt_record": F.lit(None).cast("string"),
                "_source_file": F.format_string("landing/cong-dvc/dossiers/bench/part-%05d.jsonl", "_copy"),
                "_source_row": F.col("_template") + 1,
                "_source_encoding": F.lit("utf-8"),
                "_delivery_date": F.lit(BATCH_DATE),
                "_ingest_run_id": F.lit("benchmark"),
                "_ingested_at": F.current_timestamp(),
            }
        )
        .withColumn("_source_sha256", F.sha2("_source_file", 256))
        .drop("_template", "_copy")
    )
    # Several files, so that both cores read from the start.
    replicated.repartition(8).write.mode("overwrite").parquet(str(path))
    return str(path)


def _file_order():  # type: ignore[no-untyped-def]
    from pyspark.sql import Window

    return Window.orderBy(F.monotonically_increasing_id())


# ---------------------------------------------------------------------------------------------------------
# The three variants
# ---------------------------------------------------------------------------------------------------------


def suite_rules() -> tuple[list[Rule], list[Rule]]:
    suite = load_suite(DATASET)
    return [parseable_rule(DATASET), *suite.row_rules], suite.dataset_rules


def govlake_validation(spark: SparkSession, bronze_path: str, key: PiiKey, docs_root: str) -> Measured:
    rules, dataset_rules = suite_rules()
    quarantine_ids = quarantine_rule_ids(rules)
    started = time.perf_counter()
    batch = standardise(spark.read.parquet(bronze_path), get_dataset(DATASET), key)
    validated, pass_counts = validate_in_one_pass(batch, rules)
    try:
        observed = pass_counts.total
        to_quarantine = validated.where(has_any(quarantine_ids)).count()
        to_silver = validated.where(~has_any(quarantine_ids)).count()
        results = rule_results(rules, observed) + dataset_rule_results(dataset_rules, observed["rows"])
        build_data_docs(docs_root, f"{dt.datetime.now():%Y%m%dT%H%M%S}-bench", {DATASET: _records(results)})
    finally:
        validated.unpersist()
    seconds = time.perf_counter() - started
    counts = {r.rule_id: int(observed[r.rule_id] or 0) for r in rules}
    counts |= {"rows": int(observed["rows"]), "_quarantined": to_quarantine, "_valid": to_silver}
    return Measured(seconds, counts)


def _records(results: list[Any]) -> list[dict[str, Any]]:
    return rule_result_records(DATASET, BATCH_DATE, results)


def standardise_alone(spark: SparkSession, bronze_path: str, key: PiiKey) -> Measured:
    """Not a variant: every standardised column computed and dropped, to show what (a) spends before rules."""
    started = time.perf_counter()
    batch = standardise(spark.read.parquet(bronze_path), get_dataset(DATASET), key)
    batch.write.format("noop").mode("overwrite").save()
    return Measured(time.perf_counter() - started, {})


def floor_aggregation(spark: SparkSession, bronze_path: str, key: PiiKey) -> Measured:
    rules, _ = suite_rules()
    quarantine_ids, warn_ids = set(quarantine_rule_ids(rules)), set(warn_rule_ids(rules))

    def any_of(ids: set[str]) -> Column:
        flags = [F.col(f"`{r.rule_id}`") for r in rules if r.rule_id in ids]
        return F.greatest(*flags) if len(flags) > 1 else flags[0]

    started = time.perf_counter()
    batch = standardise(spark.read.parquet(bronze_path), get_dataset(DATASET), key)
    flags = batch.select(*[failure_predicate(r).alias(r.rule_id) for r in rules])
    row = flags.agg(
        F.count(F.lit(1)).alias("rows"),
        *[F.sum(F.col(f"`{r.rule_id}`").cast("long")).alias(r.rule_id) for r in rules],
        F.sum(any_of(quarantine_ids).cast("long")).alias("_quarantined"),
    ).first()
    seconds = time.perf_counter() - started
    assert row is not None
    counts = {name: int(row[name] or 0) for name in row.asDict()}
    counts["_valid"] = counts["rows"] - counts["_quarantined"]
    return Measured(seconds, counts, {"warn_rules": sorted(warn_ids)})


def _blank_to_null(text: Column) -> Column:
    trimmed = F.trim(text)
    return F.when(trimmed != "", trimmed)


def ge_frame(batch: DataFrame, rules: list[Rule]) -> DataFrame:
    """What a GE user validates: the standardised batch as it would be written, and next to it, flat (GE
    addresses columns, not struct fields), the delivered text the text-judged rules read, blanks as null."""
    from jobs.quality import SOURCE_TEXT_TYPES

    text_columns = sorted({r.kwargs["column"] for r in rules if r.expectation_type in SOURCE_TEXT_TYPES})
    return batch.select(
        *[c for c in batch.columns if c != RAW],
        *[_blank_to_null(F.col(f"{RAW}.`{c}`")).alias(f"raw_{c}") for c in text_columns],
    )


def ge_expectations(rules: list[Rule], table_rules: list[Rule]) -> tuple[list[Any], dict[str, str]]:
    """GE-native expectations for the suite, each with the rule id in its meta; notes on substitutions."""
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    from jobs.quality import SOURCE_TEXT_TYPES

    expectations, substituted = [], {}
    for rule in [*rules, *table_rules]:
        kind, kwargs = rule.expectation_type, dict(rule.kwargs)
        if kind == "record_is_parseable":
            kind, kwargs = "expect_column_values_to_be_null", {"column": "_corrupt_record"}
        elif kind in ENGINE_ONLY_AS_REGEX:
            substituted[rule.rule_id] = f"{kind} → expect_column_values_to_match_regex"
            kind, kwargs = "expect_column_values_to_match_regex", {"regex": ENGINE_ONLY_AS_REGEX[kind]}
            kwargs["column"] = f"raw_{rule.kwargs['column']}"
        elif kind in SOURCE_TEXT_TYPES:
            kwargs["column"] = f"raw_{kwargs['column']}"
        if kind == "expect_column_values_to_be_in_set" and rule.meta.get("value_set_reference"):
            kwargs["value_set"] = value_set(rule.meta["value_set_reference"])
        if kind == "expect_column_pair_values_a_to_be_greater_than_b":
            kwargs["ignore_row_if"] = "either_value_is_missing"  # the engine passes rows missing a date
        if kind == "expect_compound_columns_to_be_unique":
            kwargs["ignore_row_if"] = "any_value_is_missing"
        config = ExpectationConfiguration(type=kind, kwargs=kwargs, meta={"rule_id": rule.rule_id})
        expectations.append(config.to_domain_obj())
    return expectations, substituted


def ge_alone(spark: SparkSession, bronze_path: str, key: PiiKey) -> Measured:
    import great_expectations as gx

    rules, table_rules = suite_rules()
    started = time.perf_counter()
    batch = standardise(spark.read.parquet(bronze_path), get_dataset(DATASET), key)
    frame = ge_frame(batch, rules).persist()
    frame.count()
    try:
        context = gx.get_context(mode="ephemeral")
        source = context.data_sources.add_spark(name="bench")
        asset = source.add_dataframe_asset(name=DATASET)
        batch_definition = asset.add_batch_definition_whole_dataframe("whole")
        expectations, substituted = ge_expectations(rules, table_rules)
        suite = context.suites.add(gx.ExpectationSuite(name=f"{DATASET}-ge", expectations=expectations))
        validation = context.validation_definitions.add(
            gx.ValidationDefinition(data=batch_definition, suite=suite, name=f"{DATASET}-bench")
        )
        result = validation.run(batch_parameters={"dataframe": frame})
    finally:
        frame.unpersist()
    seconds = time.perf_counter() - started
    counts: dict[str, int] = {}
    for expectation_result in result.results:
        rule_id = expectation_result.expectation_config.meta["rule_id"]
        if expectation_result.exception_info.get("raised_exception"):
            raise RuntimeError(f"GE failed on {rule_id}: {expectation_result.exception_info}")
        outcome = expectation_result.result
        counts[rule_id] = int(outcome.get("unexpected_count", 0) or 0)
        if "element_count" in outcome:
            counts["rows"] = int(outcome["element_count"])
    return Measured(seconds, counts, {"substituted": substituted})


# ---------------------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    import great_expectations as gx
    import pyspark

    return {**host_facts(), "pyspark": pyspark.__version__, "great_expectations": gx.__version__}


def variants(
    spark: SparkSession, bronze_path: str, key: PiiKey, docs_root: str, with_ge: bool
) -> dict[str, Callable[[], Measured]]:
    """In the order they run: (a) after (c), so the input is as warm for (a) as for (c)."""
    runs: dict[str, Callable[[], Measured]] = {
        "standardise": lambda: standardise_alone(spark, bronze_path, key),
        "floor": lambda: floor_aggregation(spark, bronze_path, key),
        "govlake": lambda: govlake_validation(spark, bronze_path, key, docs_root),
    }
    if with_ge:
        runs["ge"] = lambda: ge_alone(spark, bronze_path, key)
    return runs


def compare(measured: dict[str, Measured]) -> dict[str, Any]:
    govlake, floor, ge = measured["govlake"].counts, measured["floor"].counts, measured["ge"].counts
    rule_ids = [k for k in floor if not k.startswith("_") and k != "rows"]
    mismatched_floor = {
        k: (govlake[k], floor[k]) for k in [*rule_ids, "rows", "_quarantined"] if govlake[k] != floor[k]
    }
    differs_in_ge = {k: {"govlake": govlake[k], "ge": ge.get(k)} for k in rule_ids if ge.get(k) != govlake[k]}
    return {"govlake_vs_floor_mismatches": mismatched_floor, "ge_counts_that_differ": differs_in_ge}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--seed", type=int, default=74)
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--driver-memory", default="8g")
    parser.add_argument("--skip-ge-above", type=int, default=None, help="run (b) only up to this many rows")
    arguments = parser.parse_args(argv)
    workdir: Path = arguments.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    settings = Settings.from_env(
        lake_root=str(workdir / "lake"), driver_memory=arguments.driver_memory, shuffle_partitions=4
    )
    spark = build_spark(settings, app_name="govlake-bench-validation")
    key = PiiKey(secrets.token_bytes(32), source="benchmark")  # thrown away: nothing is kept
    report: dict[str, Any] = {"machine": machine(), "spark_master": settings.spark_master, "sizes": []}
    print(json.dumps(report["machine"]), flush=True)

    warm = bronze_input(spark, workdir, WARM_UP_ROWS, arguments.seed)
    for run in variants(spark, warm, key, str(workdir / "docs-warm-up"), with_ge=True).values():
        run()  # JIT, class loading, GE's first context: not part of any timing

    for rows in arguments.rows:
        bronze_path = bronze_input(spark, workdir, rows, arguments.seed)
        with_ge = arguments.skip_ge_above is None or rows <= arguments.skip_ge_above
        runs = variants(spark, bronze_path, key, str(workdir / "docs"), with_ge)
        measured = {}
        load = {}  # other processes on the machine skew timings: the 1-minute load when each variant ended
        for name, run in runs.items():
            cpu_before = process_tree_cpu_seconds()
            measured[name] = run()
            measured[name].cpu_seconds = process_tree_cpu_seconds() - cpu_before
            load[name] = round(os.getloadavg()[0], 1)
            print(
                f"{rows:>9} rows  {name:11} {measured[name].seconds:8.1f} s wall "
                f"{measured[name].cpu_seconds:8.1f} s CPU  load {load[name]}",
                flush=True,
            )
        entry: dict[str, Any] = {
            "rows": rows,
            "load_average_1min": load,
            "seconds": {name: round(m.seconds, 2) for name, m in measured.items()},
            "cpu_seconds": {name: round(m.cpu_seconds, 1) for name, m in measured.items()},
            "govlake_over_floor": round(measured["govlake"].seconds / measured["floor"].seconds, 2),
            "govlake_over_floor_cpu": round(
                measured["govlake"].cpu_seconds / measured["floor"].cpu_seconds, 2
            ),
            "rows_per_second_govlake": round(rows / measured["govlake"].seconds),
            "counts": {name: m.counts for name, m in measured.items()},
        }
        if "ge" in measured:
            entry["ge_over_govlake"] = round(measured["ge"].seconds / measured["govlake"].seconds, 2)
            entry["ge_over_govlake_cpu"] = round(
                measured["ge"].cpu_seconds / measured["govlake"].cpu_seconds, 2
            )
            entry["ge_substitutions"] = measured["ge"].notes["substituted"]
            entry |= compare(measured)
        report["sizes"].append(entry)
        print(json.dumps({k: v for k, v in entry.items() if k != "counts"}, ensure_ascii=False), flush=True)

    out = workdir / f"results-{dt.datetime.now():%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    print(f"results: {out}")
    print(markdown_table(report))
    spark.stop()
    return 0


def markdown_table(report: dict[str, Any]) -> str:
    """Wall time, and CPU time of the whole process tree, per variant; `—` where (b) was not run."""

    def number(value: float | None, digits: int = 1) -> str:
        return "—" if value is None else f"{value:,.{digits}f}"

    lines = [
        "| rows | measure | (a) govlake | (b) GE alone | (c) floor | (a)/(c) | (b)/(a) | standardise alone |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for entry in report["sizes"]:
        for measure, times, suffix in (
            ("wall s", entry["seconds"], ""),
            ("CPU s", entry["cpu_seconds"], "_cpu"),
        ):
            lines.append(
                f"| {entry['rows']:,} | {measure} | {number(times['govlake'])} | {number(times.get('ge'))} | "
                f"{number(times['floor'])} | {number(entry['govlake_over_floor' + suffix], 2)} | "
                f"{number(entry.get('ge_over_govlake' + suffix), 2)} | {number(times['standardise'])} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
