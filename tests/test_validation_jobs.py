"""Validation cost is structural: the same few Spark jobs for the whole suite as for two rules."""

from __future__ import annotations

import itertools

from pyspark.sql import functions as F

from jobs.datasets import get_dataset
from jobs.pii import PiiKey
from jobs.quality import load_suite, parseable_rule, validate_in_one_pass
from jobs.standardise import PROVENANCE_COLUMNS, standardise

_groups = itertools.count()


def bronze_dossiers(spark):
    rows = [
        (
            "A-1",
            "1.001193",
            "25747",
            "20250629080000",
            "20250705170000",
            "4",
            "20250629080000",
            "074095001234",
        ),
        ("A-2", "", "99999", "20250231080000", "20250705170000", "4", "20250629080000", "07409500123X"),
        ("A-2", "", "99999", "20250231080000", "20250705170000", "4", "20250629080000", "07409500123X"),
    ]
    columns = ["dossier_code", "procedure_code", "commune_code", "received_at", "due_at", "status", "updated_at",
               "applicant_id"]  # fmt: skip
    df = spark.createDataFrame(rows, columns)
    return df.select(
        "*",
        F.lit(None).cast("string").alias("_corrupt_record"),
        *[F.lit("x").alias(c) for c in PROVENANCE_COLUMNS if c != "_source_row"],
        F.monotonically_increasing_id().alias("_source_row"),
    )


def jobs_run_by(spark, action) -> tuple[int, object]:
    group = f"validation-{next(_groups)}"
    spark.sparkContext.setJobGroup(group, "count the jobs of one validation")
    try:
        result = action()
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
    return len(spark.sparkContext.statusTracker().getJobIdsForGroup(group)), result


def test_the_full_suite_takes_as_many_jobs_as_one_rule(spark):
    batch = standardise(bronze_dossiers(spark), get_dataset("dossiers"), PiiKey(b"k" * 32, source="test"))
    full = [parseable_rule("dossiers"), *load_suite("dossiers").row_rules]
    # Uniqueness needs one shuffle (a window); every other rule is a projection in the same stage.
    two = [full[0], load_suite("dossiers").rule("dossiers.dossier_code.unique_in_batch")]

    jobs_full, (validated, pass_counts) = jobs_run_by(spark, lambda: validate_in_one_pass(batch, full))
    jobs_two, (small, _) = jobs_run_by(spark, lambda: validate_in_one_pass(batch, two))
    try:
        assert len(full) > 20
        assert jobs_full == jobs_two <= 4
        counts = pass_counts.total
        assert counts["rows"] == 3 and counts["_quarantined"] == 2
        assert counts["dossiers.commune_code.known"] == 2
        assert counts["dossiers.dossier_code.unique_in_batch"] == 1
        # Reusing the persisted rows (quarantine split, merge source) does not recompute the batch.
        plan = validated.where("size(_failed_rules) > 0")._jdf.queryExecution().executedPlan().toString()
        assert "InMemoryTableScan" in plan.splitlines()[2]
    finally:
        validated.unpersist()
        small.unpersist()
