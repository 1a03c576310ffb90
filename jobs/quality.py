"""The quality engine: expectation suites compiled to Spark predicates, all evaluated in one pass.

`expectations/<dataset>.json` is a Great Expectations suite. Each expectation's `meta` carries the rule id,
its severity (warn | quarantine | fail) and messages in Vietnamese and English. Row-level expectations
become one Column each that is true when a row FAILS; `with_failed_rules` gathers the ids of every failed
rule into one array column, and `rule_count_columns` gives the per-rule counts, computed per delivery date by
the same scan that caches the flagged rows, so the data is scanned once whatever the number of rules.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs import identifiers, reference_data
from jobs.datetimes import timestamp_problem

SEVERITIES = ("warn", "quarantine", "fail")
FAILED_RULES = "_failed_rules"
RAW = "_raw"
PARSEABLE_RULE_SUFFIX = "record.parseable"
EXPECTATIONS_DIR = Path(__file__).resolve().parents[1] / "expectations"

# Expectations that judge the text as delivered (read from the `_raw` struct); the others judge typed values.
SOURCE_TEXT_TYPES = {
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_match_regex",
    "expect_column_values_to_match_strftime_format",
    "expect_column_values_to_be_valid_vn_citizen_id",
    "expect_column_values_to_be_valid_vn_tax_code",
    "expect_column_values_to_be_valid_vn_mobile",
}
TYPED_VALUE_TYPES = {
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_be_between",
    "expect_column_pair_values_a_to_be_greater_than_b",
    "expect_compound_columns_to_be_unique",
    "expect_column_values_to_be_unique",
    "expect_column_values_to_be_plausible_dates",
}
DATASET_LEVEL_TYPES = {"expect_table_row_count_to_be_between"}
# The batch's delivery date (landing folder), on every bronze row: what "in the future" is judged against, so
# a batch validated again later gets the same verdicts.
DELIVERY_DATE = "_delivery_date"
STRFTIME_TO_SPARK = {"%Y": "yyyy", "%m": "MM", "%d": "dd", "%H": "HH", "%M": "mm", "%S": "ss", "%y": "yy"}


class SuiteError(ValueError):
    """An expectation suite cannot be used; the message names the suite file and the expectation."""


@dataclass(frozen=True)
class Rule:
    rule_id: str
    dataset: str
    expectation_type: str
    kwargs: dict[str, Any]
    severity: str
    message_vi: str
    message_en: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def is_row_level(self) -> bool:
        return self.expectation_type not in DATASET_LEVEL_TYPES

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column")


@dataclass(frozen=True)
class Suite:
    dataset: str
    path: Path
    rules: tuple[Rule, ...]
    document: dict[str, Any]

    @property
    def row_rules(self) -> list[Rule]:
        return [r for r in self.rules if r.is_row_level]

    @property
    def dataset_rules(self) -> list[Rule]:
        return [r for r in self.rules if not r.is_row_level]

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.rule_id == rule_id:
                return r
        raise KeyError(rule_id)


def load_suite(dataset: str, directory: Path = EXPECTATIONS_DIR) -> Suite:
    path = directory / f"{dataset}.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SuiteError(f"no expectation suite for {dataset}: expected {path}") from None
    except json.JSONDecodeError as error:
        raise SuiteError(f"{path}: not valid JSON ({error})") from None
    rules = []
    for position, expectation in enumerate(document.get("expectations", []), start=1):
        meta = expectation.get("meta") or {}
        where = f"{path.name}, expectation {position} ({expectation.get('type')})"
        rule_id = meta.get("rule_id")
        if not rule_id:
            raise SuiteError(f"{where}: meta.rule_id is missing")
        severity = meta.get("severity")
        if severity not in SEVERITIES:
            raise SuiteError(f"{where}: meta.severity {severity!r} must be one of {', '.join(SEVERITIES)}")
        kind = expectation.get("type")
        if kind not in SOURCE_TEXT_TYPES | TYPED_VALUE_TYPES | DATASET_LEVEL_TYPES:
            raise SuiteError(f"{where}: expectation type {kind!r} is not supported by the engine")
        kwargs = dict(expectation.get("kwargs") or {})
        if kind == "expect_column_values_to_be_plausible_dates":
            _check_plausible_dates_kwargs(kwargs, where)
        rules.append(
            Rule(
                rule_id=rule_id,
                dataset=dataset,
                expectation_type=kind,
                kwargs=kwargs,
                severity=severity,
                message_vi=meta.get("message_vi", ""),
                message_en=meta.get("message_en", ""),
                meta=meta,
            )
        )
    ids = [r.rule_id for r in rules]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise SuiteError(f"{path.name}: rule ids repeat: {', '.join(repeated)}")
    return Suite(dataset, path, tuple(rules), document)


def _check_plausible_dates_kwargs(kwargs: dict[str, Any], where: str) -> None:
    """The rule needs its column, an ISO `min_value` and a whole `max_days_after_delivery` of 0 or more."""
    try:
        dt.date.fromisoformat(str(kwargs["min_value"]))
        days = kwargs["max_days_after_delivery"]
        if not isinstance(days, int) or isinstance(days, bool) or days < 0 or not kwargs.get("column"):
            raise ValueError
    except (KeyError, ValueError):
        raise SuiteError(
            f"{where}: needs kwargs column, min_value (yyyy-mm-dd) and max_days_after_delivery (days, >= 0)"
        ) from None


def parseable_rule(dataset: str) -> Rule:
    """Built-in rule for records the reader could not parse (they carry `_corrupt_record`)."""
    return Rule(
        rule_id=f"{dataset}.{PARSEABLE_RULE_SUFFIX}",
        dataset=dataset,
        expectation_type="record_is_parseable",
        kwargs={},
        severity="quarantine",
        message_vi="Bản ghi không đọc được (sai cú pháp)",
        message_en="The record could not be parsed",
    )


def _source_text(column: str) -> Column:
    return F.trim(F.col(f"{RAW}.`{column}`"))


def _is_blank(text: Column) -> Column:
    return text.isNull() | (text == "")


def _spark_pattern(strftime_format: str) -> str:
    pattern = strftime_format
    for directive, spark_pattern in STRFTIME_TO_SPARK.items():
        pattern = pattern.replace(directive, spark_pattern)
    return pattern


def _value_set(rule: Rule) -> list[Any]:
    reference = rule.meta.get("value_set_reference")
    if reference:
        return reference_data.value_set(reference)
    return list(rule.kwargs.get("value_set") or [])


def _later_copies(columns: Sequence[str]) -> Column:
    """True on the 2nd, 3rd… occurrence of a key in its delivery date's batch, in file order: the first copy
    stays valid (a key delivered again on a later date is a correction, not a duplicate)."""
    order = Window.partitionBy(*columns, DELIVERY_DATE).orderBy("_source_file", "_source_row")
    all_present = F.lit(True)
    for c in columns:
        all_present = all_present & F.col(c).isNotNull()
    return all_present & (F.row_number().over(order) > 1)


def _implausible_date(value: Column, kw: dict[str, Any]) -> Column:
    """A date (or the day of a time) before `min_value`, or more than `max_days_after_delivery` days after
    the row's delivery date. A value that did not parse is null here: its format rule reports it."""
    day = F.to_date(value)
    too_early = day < F.lit(dt.date.fromisoformat(str(kw["min_value"])))
    delivered = F.try_to_date(F.col(DELIVERY_DATE), "yyyy-MM-dd")
    return value.isNotNull() & (too_early | (day > F.date_add(delivered, int(kw["max_days_after_delivery"]))))


def failure_predicate(rule: Rule) -> Column:
    """A Column that is true when a row fails the rule (null-safe: never null)."""
    kind, kw = rule.expectation_type, rule.kwargs
    if kind == "record_is_parseable":
        predicate = F.col("_corrupt_record").isNotNull()
    elif kind == "expect_column_values_to_not_be_null":
        predicate = _is_blank(_source_text(kw["column"]))
    elif kind == "expect_column_values_to_match_regex":
        text = _source_text(kw["column"])
        predicate = ~_is_blank(text) & ~text.rlike(kw["regex"])
    elif kind == "expect_column_values_to_match_strftime_format":
        text = _source_text(kw["column"])
        formats = rule.meta.get("accepted_formats") or [kw["strftime_format"]]
        predicate = timestamp_problem(text, [_spark_pattern(f) for f in formats]).isNotNull()
    elif kind == "expect_column_values_to_be_valid_vn_citizen_id":
        predicate = identifiers.citizen_id_problem_col(_source_text(kw["column"])).isNotNull()
    elif kind == "expect_column_values_to_be_valid_vn_tax_code":
        predicate = identifiers.tax_code_problem_col(_source_text(kw["column"])).isNotNull()
    elif kind == "expect_column_values_to_be_valid_vn_mobile":
        predicate = identifiers.mobile_problem_col(_source_text(kw["column"])).isNotNull()
    elif kind == "expect_column_values_to_be_in_set":
        value = F.col(kw["column"])
        predicate = value.isNotNull() & ~value.isin(*_value_set(rule))
    elif kind == "expect_column_values_to_be_between":
        value = F.col(kw["column"])
        too_low = value < F.lit(kw["min_value"]) if kw.get("min_value") is not None else F.lit(False)
        too_high = value > F.lit(kw["max_value"]) if kw.get("max_value") is not None else F.lit(False)
        predicate = value.isNotNull() & (too_low | too_high)
    elif kind == "expect_column_pair_values_a_to_be_greater_than_b":
        a, b = F.col(kw["column_A"]), F.col(kw["column_B"])
        holds = a >= b if kw.get("or_equal") else a > b
        predicate = a.isNotNull() & b.isNotNull() & ~holds
    elif kind == "expect_column_values_to_be_plausible_dates":
        predicate = _implausible_date(F.col(kw["column"]), kw)
    elif kind == "expect_compound_columns_to_be_unique":
        predicate = _later_copies(kw["column_list"])
    elif kind == "expect_column_values_to_be_unique":
        predicate = _later_copies([kw["column"]])
    else:
        raise SuiteError(f"{rule.rule_id}: {kind} is not a row-level expectation")
    return F.coalesce(predicate, F.lit(False))


def with_failed_rules(df: DataFrame, rules: Sequence[Rule]) -> DataFrame:
    """Add `_failed_rules`: the ids of every rule the row fails, evaluated together in one projection."""
    flags = [F.when(failure_predicate(rule), F.lit(rule.rule_id)) for rule in rules]
    return df.withColumn(FAILED_RULES, F.filter(F.array(*flags), lambda rule_id: rule_id.isNotNull()))


def has_any(rule_ids: Sequence[str]) -> Column:
    """True when the row failed at least one of the given rules."""
    if not rule_ids:
        return F.lit(False)
    return F.arrays_overlap(F.col(FAILED_RULES), F.array(*[F.lit(r) for r in rule_ids]))


def rule_count_columns(rules: Sequence[Rule]) -> list[Column]:
    """Aggregates of the validation pass: rows and, per rule, the rows failing it."""
    counts = [F.count(F.lit(1)).alias("rows")]
    for rule in rules:
        failed = F.array_contains(F.col(FAILED_RULES), rule.rule_id).cast("long")
        counts.append(F.sum(failed).alias(rule.rule_id))
    return counts


def messages_for(rule_ids_col: Column, rules: Sequence[Rule], language: str) -> Column:
    """Map an array of rule ids to their messages in one language, for quarantine rows."""
    lookup = F.create_map(
        *[
            x
            for r in rules
            for x in (F.lit(r.rule_id), F.lit(r.message_vi if language == "vi" else r.message_en))
        ]
    )
    return F.transform(rule_ids_col, lambda rule_id: F.coalesce(lookup[rule_id], rule_id))


@dataclass(frozen=True)
class RuleResult:
    rule_id: str
    severity: str
    evaluated: int
    failed: int
    message_en: str = ""

    @property
    def pass_rate(self) -> float:
        return 1.0 if self.evaluated == 0 else (self.evaluated - self.failed) / self.evaluated


def rule_results(rules: Sequence[Rule], observed: dict[str, Any]) -> list[RuleResult]:
    rows = int(observed.get("rows") or 0)
    return [
        RuleResult(r.rule_id, r.severity, rows, int(observed.get(r.rule_id) or 0), r.message_en)
        for r in rules
    ]


def dataset_rule_results(rules: Sequence[Rule], row_count: int) -> list[RuleResult]:
    """Dataset-level expectations, checked once per batch from counts the pass already produced."""
    results = []
    for rule in rules:
        if rule.expectation_type == "expect_table_row_count_to_be_between":
            low, high = rule.kwargs.get("min_value"), rule.kwargs.get("max_value")
            failed = (low is not None and row_count < low) or (high is not None and row_count > high)
            results.append(RuleResult(rule.rule_id, rule.severity, 1, int(failed), rule.message_en))
    return results


def blocking_failures(results: Sequence[RuleResult], rules: Sequence[Rule]) -> list[str]:
    """Reasons the batch must not be merged: `fail` rules whose pass rate is under their `mostly`."""
    by_id = {r.rule_id: r for r in rules}
    reasons = []
    for result in results:
        rule = by_id.get(result.rule_id)
        if rule is None or rule.severity != "fail" or result.failed == 0:
            continue
        mostly = float(rule.kwargs.get("mostly", 1.0))
        if result.pass_rate < mostly:
            reasons.append(
                f"{rule.rule_id}: {result.failed} of {result.evaluated} failed "
                f"(pass rate {result.pass_rate:.1%} < required {mostly:.0%}) — {rule.message_en}"
            )
    return reasons


def quarantine_rule_ids(rules: Sequence[Rule]) -> list[str]:
    return [r.rule_id for r in rules if r.severity in ("quarantine", "fail")]


def warn_rule_ids(rules: Sequence[Rule]) -> list[str]:
    return [r.rule_id for r in rules if r.severity == "warn"]


@dataclass(frozen=True)
class PassCounts:
    """What the validation pass counted, per delivery date: `rows`, one count per rule, `_quarantined` and
    `_warned`."""

    by_date: dict[str, dict[str, int]]

    def of(self, delivery_date: str) -> dict[str, int]:
        return self.by_date.get(delivery_date, {"rows": 0})

    @property
    def total(self) -> dict[str, int]:
        summed: dict[str, int] = {}
        for counts in self.by_date.values():
            for name, value in counts.items():
                summed[name] = summed.get(name, 0) + value
        return summed or {"rows": 0}


def validate_in_one_pass(df: DataFrame, rules: Sequence[Rule]) -> tuple[DataFrame, PassCounts]:
    """Flag every row with its failed rules and count per rule and delivery date, in one materialisation.

    Returns the flagged rows, persisted so the quarantine write and the merge reuse them, and the counts.
    The counting aggregation is the first action on the persisted rows, so the scan that fills the cache
    also counts: however many rules and dates, one pass. The caller unpersists.
    """
    quarantining, warning = has_any(quarantine_rule_ids(rules)), has_any(warn_rule_ids(rules))
    validated = with_failed_rules(df, rules).persist(StorageLevel.MEMORY_AND_DISK)
    per_date = validated.groupBy(DELIVERY_DATE).agg(
        *rule_count_columns(rules),
        F.sum(quarantining.cast("long")).alias("_quarantined"),
        F.sum((warning & ~quarantining).cast("long")).alias("_warned"),
    )
    by_date = {
        str(row[DELIVERY_DATE]): {name: int(value or 0) for name, value in row.asDict().items()
                                  if name != DELIVERY_DATE}
        for row in per_date.collect()
    }  # fmt: skip
    return validated, PassCounts(by_date)
