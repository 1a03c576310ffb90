"""The administrative-unit reference as the platform's own Delta tables, for analysts and marts.

- `silver.ref_admin_units_pre2025`: the 91 communes of Tỉnh Bình Dương (74) valid until 30/06/2025, with
  their district, and the post-2025 unit each one counts under (`commune_code_2025`, see
  `jobs.admin_units`).
- `silver.ref_admin_units_crosswalk_2025`: every (old commune, new unit) pair of Nghị quyết
  1685/NQ-UBTVQH15 (107 pairs); `is_primary` marks the one pair per old commune used for counting, so a
  join on `is_primary` never double-counts, while the other pairs of the 16 split communes stay available.

Both are rebuilt from the reference files shipped in `jobs/reference/` and written only when their content
changed, so a daily run that calls `write_reference_tables` adds no table version on an unchanged reference.
"""

from __future__ import annotations

import functools

from pyspark.sql import DataFrame, SparkSession

from jobs.admin_units import REMAINDER_RECIPIENTS, new_units, primary_new_units
from jobs.lake import Lake, TableRef, current_version, table_exists
from jobs.merge import retry_on_conflict
from jobs.reference_data import crosswalk, pre2025_units

REF_ADMIN_UNITS_PRE2025 = TableRef("silver", "ref_admin_units_pre2025")
REF_ADMIN_UNITS_CROSSWALK_2025 = TableRef("silver", "ref_admin_units_crosswalk_2025")
REFERENCE_TABLES = (REF_ADMIN_UNITS_PRE2025, REF_ADMIN_UNITS_CROSSWALK_2025)

PRE2025_SCHEMA = (
    "commune_code string, commune_name string, commune_type string, district_code string, "
    "district_name string, district_type string, province_code string, province_name string, "
    "commune_code_2025 string, commune_name_2025 string, is_split boolean"
)
CROSSWALK_SCHEMA = (
    "old_commune_code string, old_commune_name string, old_district_code string, new_commune_code string, "
    "new_commune_name string, new_commune_type string, new_province_code string, is_primary boolean, "
    "primary_reason string"
)


def pre2025_rows() -> list[tuple]:
    primary, names = primary_new_units(), {code: pair.new_commune_name for code, pair in new_units().items()}
    return [
        (
            unit.commune_code,
            unit.commune_name,
            unit.commune_type,
            unit.district_code,
            unit.district_name,
            unit.district_type,
            unit.province_code,
            unit.province_name,
            primary[unit.commune_code],
            names[primary[unit.commune_code]],
            unit.commune_code in REMAINDER_RECIPIENTS,
        )  # fmt: skip
        for unit in pre2025_units()
    ]


def crosswalk_rows() -> list[tuple]:
    primary = primary_new_units()
    units = {unit.commune_code: unit for unit in pre2025_units()}
    rows = []
    for pair in crosswalk():
        old = units[pair.old_commune_code]
        is_primary = primary[pair.old_commune_code] == pair.new_commune_code
        if pair.old_commune_code in REMAINDER_RECIPIENTS:
            reason = "NQ 1685: " + REMAINDER_RECIPIENTS[pair.old_commune_code][1]
        else:
            reason = "only successor"
        rows.append(
            (
                pair.old_commune_code,
                old.commune_name,
                old.district_code,
                pair.new_commune_code,
                pair.new_commune_name,
                pair.new_commune_type,
                pair.new_province_code,
                is_primary,
                reason,
            )  # fmt: skip
        )
    return rows


def reference_frames(spark: SparkSession) -> dict[TableRef, DataFrame]:
    return {
        REF_ADMIN_UNITS_PRE2025: spark.createDataFrame(pre2025_rows(), PRE2025_SCHEMA),
        REF_ADMIN_UNITS_CROSSWALK_2025: spark.createDataFrame(crosswalk_rows(), CROSSWALK_SCHEMA),
    }


def _same_content(spark: SparkSession, path: str, frame: DataFrame) -> bool:
    stored = spark.read.format("delta").load(path)
    if stored.schema.simpleString() != frame.schema.simpleString():
        return False
    # A hundred rows: compared on the driver.
    return sorted(map(tuple, stored.collect())) == sorted(map(tuple, frame.collect()))


def write_reference_tables(spark: SparkSession, lake: Lake) -> dict[str, int]:
    """Write the admin-unit reference tables where missing or changed; returns each table's version."""
    versions = {}
    for ref, frame in reference_frames(spark).items():
        path = lake.table_path(ref)
        if not (table_exists(spark, lake, ref) and _same_content(spark, path, frame)):
            retry_on_conflict(functools.partial(_overwrite, frame, path))
        versions[ref.qualified_name] = current_version(spark, path)
    return versions


def _overwrite(frame: DataFrame, path: str) -> None:
    frame.coalesce(1).write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(path)
