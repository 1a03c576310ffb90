"""`gold.commune_month`: one row per place and calendar month (Vietnam time) across the seven datasets.

A place is a commune on both unit systems: `commune_code` (pre-2025, null when a row only named a 2025
unit), its `district_code` (pre-2025, from the reference data) and `commune_code_2025`, the one primary
post-2025 unit every silver row carries (`jobs.admin_units`). Summing a measure over `commune_code_2025`
therefore counts every silver row once, split communes included. Silver rows without a place (none
delivered, or payments whose dossier silver does not hold) are not in the mart.

Two kinds of measure:

- events of the month (dossiers received, payments, feedback, visits, incidents, air measurements, …),
  counted in the month their own time falls in;
- stocks at month end (dossiers still in process, active enterprises), counted for every month from the
  stock's start through the latest month any source of the mart has an event in (the mart's horizon). A
  change in one month can move every later month, so the spec `carries_forward`.

A row exists when any measure is non-zero for its place and month. Each measure's definition is in
`MEASURES` (the data dictionary) and next to its code below.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.marts import MONTH, MartSpec, month_of, months_predicate
from jobs.reference_data import pre2025_units

COMMUNE_MONTH = "commune_month"
SOURCES = (
    "dossiers", "payments", "feedback", "enterprises", "air_quality", "health_visits", "traffic_incidents"
)  # fmt: skip
PLACE = ("commune_code", "commune_code_2025")
KEY = ("commune_code", "district_code", "commune_code_2025", MONTH)

# QCVN 05:2023/BTNMT (national technical regulation on air quality, issued with Thông tư 01/2023/TT-BTNMT,
# in force since 12/09/2023), Table 1: PM2.5, 24-hour average, 50 µg/m³.
PM25_24H_LIMIT_UGM3 = 50.0
ACTIVE_ENTERPRISE_STATUS = "Đang hoạt động"
SATISFIED_RATING = 4  # ratings run 1 (very dissatisfied) to 5 (very satisfied)
NO_FEE = 0  # DuocThanhToanTrucTuyen: 0 no fee; 1 paid online; other codes: a fee paid another way

COLUMNS = {
    "commune_code": "pre-2025 GSO commune code (province 74); null when the rows named only a 2025 unit",
    "district_code": "pre-2025 GSO district code of commune_code (reference data); null with it",
    "commune_code_2025": "post-2025 commune-level unit (primary successor of a split commune): sum over it",
    MONTH: "first day of the calendar month, Vietnam time",
}
MEASURES = {
    "dossiers_received": "dossiers whose received_at (NgayTiepNhan) falls in the month",
    "dossiers_received_online": "of those, submitted online (KenhThucHien = 2)",
    "online_share": "dossiers_received_online / dossiers_received (null when none received)",
    "dossiers_finished": "dossiers finished (status 9 or 10) whose finished_at falls in the month",
    "dossiers_finished_on_time": "of those, finished no later than due_at (NgayHenTra)",
    "dossiers_overdue": (
        "dossiers finished in the month after due_at, plus dossiers in process at month end whose due_at "
        "had passed by then"
    ),
    "dossiers_in_process": (
        "dossiers received by month end, neither finished by then nor withdrawn (status 7); a finished "
        "dossier without finished_at is never counted; counted through the mart's horizon"
    ),
    "dossiers_with_fee": (
        "dossiers received in the month with a fee (DuocThanhToanTrucTuyen present and not 0)"
    ),
    "dossiers_paid_online": "of those, paid online (DuocThanhToanTrucTuyen = 1)",
    "online_payment_share": "dossiers_paid_online / dossiers_with_fee (null when none had a fee)",
    "fee_payments": "successful payments (TrangThai 'Thành công') whose paid_at falls in the month, at the "
    "place of their dossier (payments whose dossier is not in silver are left out)",
    "fee_revenue_vnd": "sum of amount_vnd of those payments, in đồng",
    "feedback_received": "feedback (PAKN) whose received_at falls in the month",
    "feedback_answered": (
        "feedback answered (status 'Đã trả lời' or 'Đã đóng') whose answered_at falls in the month"
    ),
    "feedback_answered_on_time": "of those, answered no later than due_at (Hạn xử lý)",
    "feedback_on_time_share": "feedback_answered_on_time / feedback_answered (null when none answered)",
    "satisfaction_ratings": "feedback answered in the month that carries a rating (1–5)",
    "satisfaction_mean": "mean of those ratings (null when none)",
    "satisfied_share": f"share of those ratings of {SATISFIED_RATING} or 5 (null when none)",
    "enterprises_new": (
        "enterprises whose founded_on falls in the month, at the commune of their first window"
    ),
    "enterprises_dissolved": (
        "enterprises whose registry status became 'Đã giải thể' in the month (valid_from of the first "
        "dissolved window after a window that was not), at that window's commune"
    ),
    "enterprises_active": (
        "enterprises whose SCD2 window current at month end has status 'Đang hoạt động'; counted through "
        "the mart's horizon"
    ),
    "air_quality_hours": "station-hours measured in the month at stations located in the place",
    "pm25_mean": "mean of the hourly PM2.5 values of the month (µg/m³)",
    "pm10_mean": "mean of the hourly PM10 values of the month (µg/m³)",
    "pm25_days_over_limit": (
        "days on which a station's 24-hour mean PM2.5 (mean of the hours measured that day) exceeded "
        f"{PM25_24H_LIMIT_UGM3:g} µg/m³, the QCVN 05:2023/BTNMT 24-hour limit"
    ),
    "health_visits": "visits (Số lượt) reported for visit_date in the month",
    "health_visits_insured": "of those, covered by health insurance (Số lượt BHYT)",
    "traffic_incidents": "traffic incidents whose occurred_at falls in the month",
    "traffic_injuries": "people injured in those incidents",
    "traffic_fatalities": "people killed in those incidents",
}
COUNTS = tuple(m for m in MEASURES if not m.endswith(("_share", "_mean")))  # additive over places
MEANS = ("satisfaction_mean", "pm25_mean", "pm10_mean")
SHARES = {
    "online_share": ("dossiers_received_online", "dossiers_received"),
    "online_payment_share": ("dossiers_paid_online", "dossiers_with_fee"),
    "feedback_on_time_share": ("feedback_answered_on_time", "feedback_answered"),
}


# --- event and horizon months: what a change touches and how far stocks run ---------------------------------

EVENT_MONTHS: dict[str, tuple[str, ...]] = {
    "dossiers": ("received_at", "finished_at"),
    "payments": ("paid_at",),
    "feedback": ("received_at", "answered_at"),
    # Founding months count only through an enterprise's first window: see `months_moved_through_other_rows`.
    "enterprises": ("valid_from",),
    "air_quality": ("measured_at",),
    "health_visits": ("visit_date",),
    "traffic_incidents": ("occurred_at",),
}


def event_months(dataset: str, rows: DataFrame) -> DataFrame:
    """The months of every time a measure counts `rows` by (any status): what changes to them touch."""
    parts = [rows.select(month_of(c).alias(MONTH)) for c in EVENT_MONTHS[dataset]]
    union = parts[0]
    for part in parts[1:]:
        union = union.unionByName(part)
    return union.where(F.col(MONTH).isNotNull()).distinct()


def first_windows(enterprises: DataFrame) -> DataFrame:
    """Each enterprise's first SCD2 window: where and when the registry first recorded it."""
    by_version = Window.partitionBy("tax_code").orderBy("valid_from")
    return enterprises.withColumn("_window_number", F.row_number().over(by_version)).where(
        F.col("_window_number") == 1
    )


def months_moved_through_other_rows(
    dataset: str, changes: DataFrame, frames: Mapping[str, DataFrame]
) -> DataFrame:
    """Months whose rows a change moves beyond the changed rows' own months.

    - A changed dossier (another place, or newly known) moves its payments, in the months they were paid.
    - An enterprise whose first window is new (a new enterprise, or a late record before its first window)
      moves its founding count; windows are never rewritten but for their end, so only then. All its
      windows' founding months are taken, the former first window's among them.
    """
    if dataset == "dossiers":
        codes = changes.select("dossier_code").distinct()
        paid = frames["payments"].join(codes, "dossier_code", "left_semi")
        return paid.select(month_of("paid_at").alias(MONTH)).distinct()
    if dataset == "enterprises":
        inserted = changes.where(F.col("_change_type") == "insert").select("tax_code", "valid_from")
        new_first = first_windows(frames["enterprises"]).join(
            inserted, ["tax_code", "valid_from"], "left_semi"
        )
        windows = frames["enterprises"].join(new_first.select("tax_code"), "tax_code", "left_semi")
        return windows.select(month_of("founded_on").alias(MONTH)).where(F.col(MONTH).isNotNull()).distinct()
    return changes.sparkSession.createDataFrame([], f"{MONTH} date")


def horizon(frames: Mapping[str, DataFrame]) -> DataFrame:
    """One row, column `horizon`: the latest event month over every source (stocks are counted through it)."""
    months = first_windows(frames["enterprises"]).select(month_of("founded_on").alias(MONTH))
    for dataset in SOURCES:
        months = months.unionByName(event_months(dataset, frames[dataset]))
    return months.agg(F.max(MONTH).alias("horizon"))


# --- measure families ---------------------------------------------------------------------------------------


def _placed(rows: DataFrame) -> DataFrame:
    return rows.where(F.col("commune_code").isNotNull() | F.col("commune_code_2025").isNotNull())


def _in_months(column: Column, months: list[dt.date] | None) -> Column:
    return F.lit(True) if months is None else column.isin(*months)


def _count_if(condition: Column) -> Column:
    return F.sum(F.when(condition, 1).otherwise(0)).cast("long")


def _month_end(month: Column) -> Column:
    """The first instant after the month: `t < month end` means t happened by the end of the month."""
    return F.add_months(month, 1).cast("timestamp")


def dossier_events(dossiers: DataFrame, months: list[dt.date] | None) -> DataFrame:
    placed = _placed(dossiers)
    received = (
        placed.where(F.col("received_at").isNotNull())
        .withColumn(MONTH, month_of("received_at"))
        .where(_in_months(F.col(MONTH), months))
        .groupBy(*PLACE, MONTH)
        .agg(
            F.count(F.lit(1)).alias("dossiers_received"),
            _count_if(F.col("is_online")).alias("dossiers_received_online"),
            # A fee: the portal's payment code is present and not "no fee"; paid online: code 1.
            _count_if(F.col("paid_online").isNotNull() & (F.col("paid_online") != NO_FEE)).alias(
                "dossiers_with_fee"
            ),
            _count_if(F.col("paid_online") == 1).alias("dossiers_paid_online"),
        )
    )
    finished = (
        placed.where(F.coalesce(F.col("is_finished"), F.lit(False)) & F.col("finished_at").isNotNull())
        .withColumn(MONTH, month_of("finished_at"))
        .where(_in_months(F.col(MONTH), months))
        .groupBy(*PLACE, MONTH)
        .agg(
            F.count(F.lit(1)).alias("dossiers_finished"),
            _count_if(F.col("finished_at") <= F.col("due_at")).alias("dossiers_finished_on_time"),
            # Overdue, first part: finished in the month after its due time.
            _count_if(F.col("finished_at") > F.col("due_at")).alias("dossiers_overdue"),
        )
    )
    return received.unionByName(finished, allowMissingColumns=True)


def dossiers_in_process(dossiers: DataFrame, months: list[dt.date] | None, last: DataFrame) -> DataFrame:
    """Dossiers in process at each month end, and those of them already past due (overdue, second part)."""
    finished = F.coalesce(F.col("is_finished"), F.lit(False))
    open_dossiers = _placed(dossiers).where(
        F.col("received_at").isNotNull()
        & ~F.coalesce(F.col("is_withdrawn"), F.lit(False))
        # A finished dossier without a finish time cannot be placed in time: never counted in process.
        & (~finished | F.col("finished_at").isNotNull())
    )
    # Month ends from receipt to the finish month (or the horizon), then kept where still open at the end.
    start = month_of("received_at")
    until = F.when(finished, F.least(month_of("finished_at"), F.col("horizon"))).otherwise(F.col("horizon"))
    month_ends = (
        open_dossiers.crossJoin(F.broadcast(last))
        .where(month_of("received_at") <= F.col("horizon"))
        .withColumn(MONTH, F.explode(F.sequence(start, F.greatest(start, until), F.expr("INTERVAL 1 MONTH"))))
        .where(_in_months(F.col(MONTH), months))
    )
    end = _month_end(F.col(MONTH))
    in_process = (F.col("received_at") < end) & (~finished | (F.col("finished_at") >= end))
    return (
        month_ends.where(in_process)
        .groupBy(*PLACE, MONTH)
        .agg(
            F.count(F.lit(1)).alias("dossiers_in_process"),
            _count_if(F.col("due_at") < end).alias("dossiers_overdue"),
        )
    )


def payment_events(payments: DataFrame, dossiers: DataFrame, months: list[dt.date] | None) -> DataFrame:
    """Successful payments by the month paid, at the place of their dossier."""
    places = _placed(dossiers).select("dossier_code", *PLACE)
    return (
        payments.where(F.coalesce(F.col("is_successful"), F.lit(False)) & F.col("paid_at").isNotNull())
        .withColumn(MONTH, month_of("paid_at"))
        .where(_in_months(F.col(MONTH), months))
        .join(places, "dossier_code")
        .groupBy(*PLACE, MONTH)
        .agg(
            F.count(F.lit(1)).alias("fee_payments"),
            F.sum(F.coalesce(F.col("amount_vnd"), F.lit(0))).cast("long").alias("fee_revenue_vnd"),
        )
    )


def feedback_events(feedback: DataFrame, months: list[dt.date] | None) -> DataFrame:
    placed = _placed(feedback)
    received = (
        placed.where(F.col("received_at").isNotNull())
        .withColumn(MONTH, month_of("received_at"))
        .where(_in_months(F.col(MONTH), months))
        .groupBy(*PLACE, MONTH)
        .agg(F.count(F.lit(1)).alias("feedback_received"))
    )
    rating = F.col("satisfaction")
    answered = (
        placed.where(F.coalesce(F.col("is_answered"), F.lit(False)) & F.col("answered_at").isNotNull())
        .withColumn(MONTH, month_of("answered_at"))
        .where(_in_months(F.col(MONTH), months))
        .groupBy(*PLACE, MONTH)
        .agg(
            F.count(F.lit(1)).alias("feedback_answered"),
            _count_if(F.col("answered_at") <= F.col("due_at")).alias("feedback_answered_on_time"),
            F.count(rating).alias("satisfaction_ratings"),
            F.avg(rating).alias("satisfaction_mean"),
            # Share satisfied: ratings of 4 or 5 over the ratings given (null when none).
            (F.count(F.when(rating >= SATISFIED_RATING, 1)) / F.count(rating)).alias("satisfied_share"),
        )
    )
    return received.unionByName(answered, allowMissingColumns=True)


def enterprise_events(enterprises: DataFrame, months: list[dt.date] | None) -> DataFrame:
    by_version = Window.partitionBy("tax_code").orderBy("valid_from")
    windows = enterprises.withColumn(
        "_was_dissolved", F.lag(F.coalesce(F.col("is_dissolved"), F.lit(False))).over(by_version)
    )
    # New: founded in the month, placed where the enterprise was first registered (its first window).
    new = (
        _placed(first_windows(enterprises).where(F.col("founded_on").isNotNull()))
        .withColumn(MONTH, month_of("founded_on"))
        .where(_in_months(F.col(MONTH), months))
        .groupBy(*PLACE, MONTH)
        .agg(F.count(F.lit(1)).alias("enterprises_new"))
    )
    # Dissolved: the window in which the registry first shows the enterprise dissolved.
    dissolved = (
        _placed(
            windows.where(
                F.coalesce(F.col("is_dissolved"), F.lit(False))
                & ~F.coalesce(F.col("_was_dissolved"), F.lit(False))
            )
        )
        .withColumn(MONTH, month_of("valid_from"))
        .where(_in_months(F.col(MONTH), months))
        .groupBy(*PLACE, MONTH)
        .agg(F.count(F.lit(1)).alias("enterprises_dissolved"))
    )
    return new.unionByName(dissolved, allowMissingColumns=True)


def enterprises_active(enterprises: DataFrame, months: list[dt.date] | None, last: DataFrame) -> DataFrame:
    """Enterprises whose window current at each month end has an active status (SCD2 as-of month end)."""
    active = _placed(enterprises).where(F.col("status") == ACTIVE_ENTERPRISE_STATUS)
    start = month_of("valid_from")
    until = F.when(F.col("valid_to").isNotNull(), F.least(month_of("valid_to"), F.col("horizon"))).otherwise(
        F.col("horizon")
    )
    month_ends = (
        active.crossJoin(F.broadcast(last))
        .where(month_of("valid_from") <= F.col("horizon"))
        .withColumn(MONTH, F.explode(F.sequence(start, F.greatest(start, until), F.expr("INTERVAL 1 MONTH"))))
        .where(_in_months(F.col(MONTH), months))
    )
    end = _month_end(F.col(MONTH))
    current_at_end = (F.col("valid_from") < end) & (F.col("valid_to").isNull() | (F.col("valid_to") >= end))
    return (
        month_ends.where(current_at_end)
        .groupBy(*PLACE, MONTH)
        .agg(F.countDistinct("tax_code").alias("enterprises_active"))
    )


def air_quality_measures(air: DataFrame, months: list[dt.date] | None) -> DataFrame:
    measured = (
        _placed(air)
        .where(F.col("pm25").isNotNull() | F.col("pm10").isNotNull())
        .withColumn(MONTH, month_of("measured_at"))
        .where(_in_months(F.col(MONTH), months))
    )
    monthly = measured.groupBy(*PLACE, MONTH).agg(
        F.count(F.lit(1)).alias("air_quality_hours"),
        F.avg("pm25").alias("pm25_mean"),
        F.avg("pm10").alias("pm10_mean"),
    )
    # Days over the limit: a station's 24-hour mean of the day's measured hours above 50 µg/m³.
    station_days = (
        measured.where(F.col("pm25").isNotNull())
        .groupBy(*PLACE, MONTH, "station_code", F.to_date("measured_at").alias("_day"))
        .agg(F.avg("pm25").alias("_pm25_24h"))
        .where(F.col("_pm25_24h") > PM25_24H_LIMIT_UGM3)
        .groupBy(*PLACE, MONTH)
        .agg(F.countDistinct("_day").alias("pm25_days_over_limit"))
    )
    return monthly.unionByName(station_days, allowMissingColumns=True)


def health_measures(visits: DataFrame, months: list[dt.date] | None) -> DataFrame:
    return (
        _placed(visits)
        .withColumn(MONTH, month_of("visit_date"))
        .where(F.col(MONTH).isNotNull() & _in_months(F.col(MONTH), months))
        .groupBy(*PLACE, MONTH)
        .agg(
            F.sum(F.coalesce(F.col("visits"), F.lit(0))).cast("long").alias("health_visits"),
            F.sum(F.coalesce(F.col("insured_visits"), F.lit(0))).cast("long").alias("health_visits_insured"),
        )
    )


def traffic_measures(incidents: DataFrame, months: list[dt.date] | None) -> DataFrame:
    return (
        _placed(incidents)
        .withColumn(MONTH, month_of("occurred_at"))
        .where(F.col(MONTH).isNotNull() & _in_months(F.col(MONTH), months))
        .groupBy(*PLACE, MONTH)
        .agg(
            F.count(F.lit(1)).alias("traffic_incidents"),
            F.sum(F.coalesce(F.col("injuries"), F.lit(0))).cast("long").alias("traffic_injuries"),
            F.sum(F.coalesce(F.col("fatalities"), F.lit(0))).cast("long").alias("traffic_fatalities"),
        )
    )


# --- the mart -----------------------------------------------------------------------------------------------


def districts(frames: Mapping[str, DataFrame]) -> DataFrame:
    """commune_code -> district_code of the pre-2025 reference (91 rows, shipped with the code)."""
    spark = frames["dossiers"].sparkSession
    rows = [(unit.commune_code, unit.district_code) for unit in pre2025_units()]
    return spark.createDataFrame(rows, "commune_code string, district_code string")


def commune_month(frames: Mapping[str, DataFrame], months: list[dt.date] | None = None) -> DataFrame:
    """The rows of `gold.commune_month` for `months` (every month when None) from the silver sources."""
    last = horizon(frames)
    families = [
        dossier_events(frames["dossiers"], months),
        dossiers_in_process(frames["dossiers"], months, last),
        payment_events(frames["payments"], frames["dossiers"], months),
        feedback_events(frames["feedback"], months),
        enterprise_events(frames["enterprises"], months),
        enterprises_active(frames["enterprises"], months, last),
        air_quality_measures(frames["air_quality"], months),
        health_measures(frames["health_visits"], months),
        traffic_measures(frames["traffic_incidents"], months),
    ]
    rows = families[0]
    for family in families[1:]:
        rows = rows.unionByName(family, allowMissingColumns=True)
    # Each family has one row per place and month: sums add the counts, max picks the one mean present.
    combined = rows.groupBy(*PLACE, MONTH).agg(
        *[F.coalesce(F.sum(m), F.lit(0)).cast("long").alias(m) for m in COUNTS],
        *[F.max(m).alias(m) for m in MEANS],
        F.max("satisfied_share").alias("satisfied_share"),
    )
    shares = {
        share: F.when(F.col(whole) > 0, F.col(part) / F.col(whole)) for share, (part, whole) in SHARES.items()
    }
    any_measure = F.lit(False)
    for m in COUNTS:
        any_measure = any_measure | (F.col(m) != 0)
    return (
        combined.withColumns(shares)
        .where(any_measure)
        .join(F.broadcast(districts(frames)), "commune_code", "left")
        .select(*KEY, *MEASURES)
    )


def _touched(dataset: str, changes: DataFrame) -> DataFrame:
    return event_months(dataset, changes)


COMMUNE_MONTH_MART = MartSpec(
    name=COMMUNE_MONTH,
    sources=SOURCES,
    touched_months=_touched,
    build=commune_month,
    replace_where=months_predicate,
    description=(
        "Cross-sector measures per place (pre-2025 commune and district, post-2025 unit) and calendar month: "
        "dossiers, fees, feedback, enterprises, air quality, health visits, traffic incidents."
    ),
    measures=MEASURES,
    carries_forward=True,
    related_months=months_moved_through_other_rows,
    columns=COLUMNS,
)
