"""The quality engine: each rule type flags what it should and nothing else, in one pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from jobs.quality import (
    FAILED_RULES,
    Rule,
    SuiteError,
    blocking_failures,
    load_suite,
    rule_count_columns,
    rule_results,
    validate_in_one_pass,
    with_failed_rules,
)


def rule(rule_id: str, kind: str, severity: str = "quarantine", meta: dict | None = None, **kwargs) -> Rule:
    return Rule(rule_id, "t", kind, kwargs, severity, "vi", "en", meta or {})


@pytest.fixture
def rows(spark):
    # `_raw` holds the text as delivered; top-level columns hold typed values.
    data = [
        # id, raw code, raw date, raw cccd, typed status, due, received, key
        (1, "A1", "20250629083000", "074095001234", 4, "2025-07-05", "2025-06-29", "k1"),
        (2, "", "20250231083000", "07409500123X", 11, "2025-06-01", "2025-06-29", "k2"),
        (3, None, "", "000095001234", None, None, "2025-06-29", "k2"),
        (4, "A4", "2025-06-29", "123456789", 9, "2025-06-29", "2025-06-29", "k1"),
    ]
    frame = spark.createDataFrame(
        data,
        "id int, code string, day string, cccd string, status int, due string, received string, key string",
    )
    return frame.select(
        "id",
        F.struct("code", "day", "cccd").alias("_raw"),
        "status",
        F.to_date("due").alias("due"),
        F.to_date("received").alias("received"),
        "key",
        F.lit("f.jsonl").alias("_source_file"),
        F.col("id").cast("long").alias("_source_row"),
        F.lit("2025-06-30").alias("_delivery_date"),
    )


def failed_by_id(df, rules) -> dict[int, list[str]]:
    return {r["id"]: sorted(r[FAILED_RULES]) for r in with_failed_rules(df, rules).collect()}


def test_not_null_reads_delivered_text_and_treats_blank_as_missing(rows):
    assert failed_by_id(rows, [rule("nn", "expect_column_values_to_not_be_null", column="code")]) == {
        1: [],
        2: ["nn"],
        3: ["nn"],
        4: [],
    }


def test_strftime_format_rejects_impossible_dates_and_other_layouts(rows):
    r = rule(
        "ts", "expect_column_values_to_match_strftime_format", column="day", strftime_format="%Y%m%d%H%M%S"
    )
    assert failed_by_id(rows, [r]) == {1: [], 2: ["ts"], 3: [], 4: ["ts"]}


def test_accepted_formats_widen_a_strftime_rule(rows):
    r = rule(
        "ts", "expect_column_values_to_match_strftime_format", meta={"accepted_formats": ["%Y%m%d%H%M%S", "%Y-%m-%d"]},
        column="day", strftime_format="%Y%m%d%H%M%S",
    )  # fmt: skip
    assert failed_by_id(rows, [r]) == {1: [], 2: ["ts"], 3: [], 4: []}


def test_citizen_id_rule(rows):
    r = rule("id", "expect_column_values_to_be_valid_vn_citizen_id", column="cccd")
    assert failed_by_id(rows, [r]) == {1: [], 2: ["id"], 3: ["id"], 4: []}


def test_in_set_between_and_pair_rules_judge_typed_values_and_ignore_nulls(rows):
    rules = [
        rule("set", "expect_column_values_to_be_in_set", column="status", value_set=list(range(1, 11))),
        rule("range", "expect_column_values_to_be_between", column="status", min_value=1, max_value=9),
        rule("pair", "expect_column_pair_values_a_to_be_greater_than_b", column_A="due", column_B="received",
             or_equal=True),
    ]  # fmt: skip
    assert failed_by_id(rows, rules) == {1: [], 2: ["pair", "range", "set"], 3: [], 4: []}


def test_reference_value_set_comes_from_the_reference_data(rows, spark):
    df = spark.createDataFrame([("25747",), ("99999",)], "commune string")
    r = rule(
        "known", "expect_column_values_to_be_in_set", meta={"value_set_reference": "admin_units_74_pre2025.commune_code"},
        column="commune", value_set=[],
    )  # fmt: skip
    flagged = [row["commune"] for row in with_failed_rules(df, [r]).collect() if row[FAILED_RULES]]
    assert flagged == ["99999"]


def test_plausible_dates_bound_dates_by_1900_and_the_batch_delivery_date_not_the_clock(spark):
    data = [
        # id, a time (session time zone, as the standardiser parses it), a date, delivery date (landing folder)
        (1, "2025-06-29 08:00:00", "2025-06-29", "2025-06-29"),
        (2, "2025-06-30 23:59:59", "2025-06-30", "2025-06-29"),  # the day after delivery: tolerated
        (3, "2025-07-01 00:00:00", "2025-07-01", "2025-06-29"),  # two days after: in the future
        (4, "1899-12-31 23:59:59", "1899-12-31", "2025-06-29"),
        (5, "1900-01-01 00:00:00", "1900-01-01", "2025-06-29"),
        (6, None, None, "2025-06-29"),  # not delivered, or not parseable: the format rule's business
        (7, "2099-01-01 09:00:00", "2099-01-01", "2099-01-01"),  # the clock plays no part
        (8, "2099-01-01 09:00:00", "1850-01-01", None),  # no delivery date: only 1900 bounds
    ]
    frame = spark.createDataFrame(data, "id int, at string, on string, _delivery_date string").select(
        "id", F.to_timestamp("at").alias("at"), F.to_date("on").alias("on"), "_delivery_date"
    )
    bounds = {"min_value": "1900-01-01", "max_days_after_delivery": 1}
    rules = [
        rule("at", "expect_column_values_to_be_plausible_dates", column="at", **bounds),
        rule("on", "expect_column_values_to_be_plausible_dates", column="on", **bounds),
    ]
    assert failed_by_id(frame, rules) == {
        1: [], 2: [], 3: ["at", "on"], 4: ["at", "on"], 5: [], 6: [], 7: [], 8: ["on"],
    }  # fmt: skip


def test_plausible_dates_needs_its_bounds(tmp_path: Path):
    (tmp_path / "dates.json").write_text(
        json.dumps(
            {
                "expectations": [
                    {
                        "type": "expect_column_values_to_be_plausible_dates",
                        "kwargs": {"column": "a", "min_value": "1900-01-01"},
                        "meta": {"rule_id": "dates.a.plausible_date", "severity": "quarantine"},
                    }
                ]
            }
        )  # fmt: skip
    )
    with pytest.raises(SuiteError, match=r"dates.json, expectation 1 .*max_days_after_delivery"):
        load_suite("dates", tmp_path)


def test_every_delivered_date_except_due_dates_has_a_plausibility_rule():
    from jobs.datasets import DATASETS, get_dataset

    for dataset in DATASETS:
        judged = {
            r.column for r in load_suite(dataset).rules
            if r.expectation_type == "expect_column_values_to_be_plausible_dates"
        }  # fmt: skip
        dated = {
            f.name for f in get_dataset(dataset).contract.fields
            if f.type in ("date", "timestamp") and f.name != "due_at"  # a due date lies ahead by nature
        }  # fmt: skip
        assert judged == dated, dataset


def test_uniqueness_flags_only_later_copies_in_file_order(rows):
    r = rule("dup", "expect_compound_columns_to_be_unique", "warn", column_list=["key"])
    assert failed_by_id(rows, [r]) == {1: [], 2: [], 3: ["dup"], 4: ["dup"]}


def test_uniqueness_is_judged_within_each_delivery_date(rows):
    r = rule("dup", "expect_compound_columns_to_be_unique", "warn", column_list=["key"])
    # Row 4 (k1) delivered a day later is a resend or correction, not a duplicate; row 3 (k2) still is.
    two_dates = rows.withColumn(
        "_delivery_date", F.when(F.col("id") == 4, "2025-07-01").otherwise("2025-06-30")
    )
    assert failed_by_id(two_dates, [r]) == {1: [], 2: [], 3: ["dup"], 4: []}


def test_one_pass_counts_each_delivery_date_apart(rows):
    rules = [
        rule("nn", "expect_column_values_to_not_be_null", column="code"),
        rule("set", "expect_column_values_to_be_in_set", "warn", column="status", value_set=[4, 9]),
    ]
    two_dates = rows.withColumn(
        "_delivery_date", F.when(F.col("id") <= 2, "2025-06-30").otherwise("2025-07-01")
    )
    validated, counts = validate_in_one_pass(two_dates, rules)
    try:
        assert counts.of("2025-06-30") == {"rows": 2, "nn": 1, "set": 1, "_quarantined": 1, "_warned": 0}
        assert counts.of("2025-07-01") == {"rows": 2, "nn": 1, "set": 0, "_quarantined": 1, "_warned": 0}
        assert counts.of("2025-07-02") == {"rows": 0}
        assert counts.total == {"rows": 4, "nn": 2, "set": 1, "_quarantined": 2, "_warned": 0}
        assert validated.count() == 4
    finally:
        validated.unpersist()


def test_counts_come_from_the_same_pass_as_the_flags(rows):
    rules = [
        rule("nn", "expect_column_values_to_not_be_null", column="code"),
        rule("set", "expect_column_values_to_be_in_set", column="status", value_set=[4, 9]),
    ]
    counts = with_failed_rules(rows, rules).agg(*rule_count_columns(rules)).first().asDict()
    assert counts == {"rows": 4, "nn": 2, "set": 1}
    results = {r.rule_id: (r.evaluated, r.failed) for r in rule_results(rules, counts)}
    assert results == {"nn": (4, 2), "set": (4, 1)}


def test_fail_severity_blocks_below_mostly_only():
    strict = rule("strict", "expect_column_values_to_not_be_null", "fail", column="x")
    lenient = rule("lenient", "expect_column_values_to_not_be_null", "fail", column="y", mostly=0.5)
    from jobs.quality import RuleResult

    results = [RuleResult("strict", "fail", 10, 1), RuleResult("lenient", "fail", 10, 4)]
    reasons = blocking_failures(results, [strict, lenient])
    assert len(reasons) == 1 and reasons[0].startswith("strict: 1 of 10 failed")


def test_shipped_suites_load_and_every_rule_has_messages_in_both_languages():
    for dataset in ("dossiers", "enterprises"):
        suite = load_suite(dataset)
        assert suite.rules
        for r in suite.rules:
            assert r.rule_id.startswith(f"{dataset}.") and r.message_vi and r.message_en


def test_suite_errors_name_the_file_and_expectation(tmp_path: Path):
    (tmp_path / "bad.json").write_text(
        json.dumps(
            {
                "expectations": [
                    {
                        "type": "expect_column_values_to_not_be_null",
                        "kwargs": {"column": "a"},
                        "meta": {"rule_id": "bad.a", "severity": "severe"},
                    }
                ]
            }
        )  # fmt: skip
    )
    with pytest.raises(SuiteError, match=r"bad.json, expectation 1 .*severity 'severe'"):
        load_suite("bad", tmp_path)
