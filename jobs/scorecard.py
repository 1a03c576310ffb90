"""`gold.public_service_scorecard`: the national evaluation measures for serving citizens and businesses.

Bộ chỉ số chỉ đạo, điều hành và đánh giá chất lượng phục vụ người dân, doanh nghiệp (Decision 766/QĐ-TTg of
23 June 2022, as the national public service portal computes it), the part that dossier, payment and
feedback records can support: processing progress (tiến độ giải quyết), fully-online share (dịch vụ công
trực tuyến toàn trình), online-payment share (thanh toán trực tuyến), digitised-dossier share (số hóa hồ
sơ) and satisfaction (mức độ hài lòng), each as counts, a rate and points on the group's published scale.
`docs/scorecard.md` states every rule, its source and what cannot be computed.

Grain: one row per period (`month`, `quarter`, `year`; column `month` is the period's first month), level
(`agency` = DonViXuLy, `commune` = post-2025 unit, `province` = post-2025 province) and unit. Every
dossier counts in exactly one unit per level, so a province's counts are the sums of its communes' and of
its agencies'.

Two kinds of count:

- events, counted in the month their own time falls in: dossiers received (reception shares), finished
  (progress), gateway payments (paid month), ratings (answer month); a quarter or a year sums its months;
- the stock of dossiers in process, judged at the period end: the first instant after the period, or, for
  the period holding the newest dossier record in silver (the as-of time, the newest NgayCapNhat), that
  record's time. Nothing depends on the wall clock: the as-of time is silver content. A quarter or a year
  takes the stock of its last month up to the as-of month. Stocks are counted for every month from receipt
  through the as-of month, so the spec `carries_forward`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.admin_units import new_units
from jobs.marts import MONTH, MartSpec, month_of

PUBLIC_SERVICE_SCORECARD = "public_service_scorecard"
SOURCES = ("dossiers", "payments", "feedback")
PERIODS = ("month", "quarter", "year")
PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12}
LEVELS = ("agency", "commune", "province")
UNKNOWN_UNIT = "(không xác định)"
# Post-2025 provinces of the reference's new units (new_province_name of admin_units_2025_new_units_from_74).
PROVINCE_NAMES = {"79": "Thành phố Hồ Chí Minh"}
PERIOD, LEVEL, UNIT, UNIT_NAME, JUDGED_AT = "period", "level", "unit", "unit_name", "judged_at"
KEY = (PERIOD, MONTH, LEVEL, UNIT)
SECONDS_PER_DAY = 86_400

# TrangThaiHoSo codes (FORMAT_RULES §1).
REGISTERED_ONLY = 1  # Mới đăng ký: not received yet, outside every measure
FINISHED = (9, 10)  # Đã xử lý xong, Đã trả kết quả
# Không được tiếp nhận, Công dân rút hồ sơ, Dừng xử lý: the dossier ends without a result; it leaves the
# progress measure from its last update (when it ended) and stays in the reception shares.
ENDED_WITHOUT_RESULT = (3, 7, 8)
FULL_ONLINE_LEVEL = 4  # MucDo 4: toàn trình
FEE_PAID_ONLINE, FEE_NOT_PAID_ONLINE = 1, 3  # DuocThanhToanTrucTuyen; 0 = no fee
DISSATISFIED_RATINGS = (1, 2)  # ratings run 1 (very dissatisfied) to 5 (very satisfied)
MAX_SUPPLEMENT_REQUESTS_ON_TIME = 1  # a second supplementation request makes the dossier overdue

# Maximum points of each group (docs/scorecard.md cites where each comes from).
PROGRESS_POINTS = 20.0
FULLY_ONLINE_POINTS = 12.0
ONLINE_PAYMENT_POINTS = 10.0
DIGITISED_POINTS = 22.0
SATISFACTION_POINTS = 18.0

COLUMNS = {
    PERIOD: "month, quarter or year",
    MONTH: "first day of the period's first month (Vietnam time)",
    LEVEL: "agency (DonViXuLy), commune (post-2025 unit) or province (post-2025 province)",
    UNIT: f"the agency's name, the commune_code_2025 or the province code; {UNKNOWN_UNIT} when not known",
    UNIT_NAME: "the agency's name, or the commune's / province's name from the reference data",
}
# Events: additive over months. Stocks: judged at the period end (see the module docstring).
EVENT_COUNTS = {
    "received": "dossiers received (NgayTiepNhan) in the period, except status 1 (registered, not received)",
    "received_full_online_procedure": "of those, of a procedure offered fully online (MucDo 4)",
    "received_fully_online": "of those, submitted online (KenhThucHien 2): toàn trình",
    "received_with_fee": "dossiers received in the period that carry a fee (DuocThanhToanTrucTuyen 1 or 3)",
    "received_paid_online": "of those, paid online (DuocThanhToanTrucTuyen 1)",
    "received_digitised": "dossiers received in the period with digitised components (HoSoCoThanhPhanSoHoa)",
    "gateway_payments": "successful payment-gateway transactions of the unit's dossiers paid in the period",
    "finished_early": "dossiers finished in the period on a day before their effective due day",
    "finished_on_time": "dossiers finished in the period on their effective due day",
    "finished_late": "dossiers finished in the period after their effective due day, or after 2+ requests",
    "ratings": "ratings 1-5 of feedback about the unit's dossiers, answered in the period",
    "ratings_dissatisfied": "of those, ratings 1 or 2 (dissatisfied)",
}
STOCK_COUNTS = {
    "in_process_within_deadline": "dossiers in process at the period end, not past their effective due time",
    "in_process_overdue": (
        "dossiers in process at the period end past their effective due time, or with 2+ requests"
    ),
}
RATES = {
    "progress_rate": (
        "(finished_early + finished_on_time + in_process_within_deadline) / progress_due: tiến độ giải quyết"
    ),
    "fully_online_rate": "received_fully_online / received_full_online_procedure",
    "online_payment_rate": "received_paid_online / received_with_fee",
    "digitised_rate": "received_digitised / received",
    "satisfaction_rate": "(ratings - ratings_dissatisfied) / ratings",
}
POINTS = {
    "progress_points": (PROGRESS_POINTS, "progress_rate"),
    "fully_online_points": (FULLY_ONLINE_POINTS, "fully_online_rate"),
    "online_payment_points": (ONLINE_PAYMENT_POINTS, "online_payment_rate"),
    "digitised_points": (DIGITISED_POINTS, "digitised_rate"),
    "satisfaction_points": (SATISFACTION_POINTS, "satisfaction_rate"),
}
MEASURES = {
    **EVENT_COUNTS,
    **STOCK_COUNTS,
    "progress_due": "finished_early + finished_on_time + finished_late + in process at the period end",
    **RATES,
    **{name: f"{scale:g} x {rate} (null when the rate is)" for name, (scale, rate) in POINTS.items()},
    "points_total": "sum of the points that are not null",
    "points_possible": "sum of the maximum points of the measures that are not null",
    JUDGED_AT: "when in-process dossiers were judged: the period end, or the as-of time if earlier",
}
COUNTS = (*EVENT_COUNTS, *STOCK_COUNTS)


# --- dossier rules -----------------------------------------------------------------------------------------


def _plus_seconds(moment: Column, seconds: Column) -> Column:
    return F.timestamp_seconds(F.unix_seconds(moment) + F.round(seconds).cast("long"))


def _seconds_between(later: Column, earlier: Column) -> Column:
    return F.unix_seconds(later) - F.unix_seconds(earlier)


def judged_dossiers(dossiers: DataFrame) -> DataFrame:
    """Dossiers in the scorecard with the times the rules need.

    - `done_at`: when a finished dossier finished (NgayKetThucXuLy, else NgayTra, else its last update);
    - `ended_at`: when a dossier ended without a result (its last update);
    - `due_effective`: NgayHenTra plus the days spent waiting for the applicant (answered requests): time
      in supplementation does not count against the agency;
    - `too_many_requests`: more than one supplementation request, overdue whatever the dates.
    """
    status = F.col("status")
    finished = status.isin(*FINISHED)
    paused = F.coalesce(F.col("supplement_paused_days"), F.lit(0.0)) * SECONDS_PER_DAY
    return dossiers.where(
        F.col("received_at").isNotNull() & status.isNotNull() & (status != REGISTERED_ONLY)
    ).select(
        "dossier_code",
        F.coalesce(F.col("handling_agency"), F.lit(UNKNOWN_UNIT)).alias("agency"),
        F.coalesce(F.col("commune_code_2025"), F.lit(UNKNOWN_UNIT)).alias("commune"),
        "received_at",
        "channel",
        "online_level",
        "paid_online",
        "has_digitised_components",
        F.when(finished, F.coalesce("finished_at", "returned_at", "updated_at")).alias("done_at"),
        F.when(status.isin(*ENDED_WITHOUT_RESULT), F.col("updated_at")).alias("ended_at"),
        F.when(F.col("due_at").isNotNull(), _plus_seconds(F.col("due_at"), paused)).alias("due_effective"),
        "supplement_pending_since",
        (F.coalesce(F.col("supplement_requests"), F.lit(0)) > MAX_SUPPLEMENT_REQUESTS_ON_TIME).alias(
            "too_many_requests"
        ),
    )


def finish_class(done_at: Column, due_effective: Column, pending_since: Column, too_many: Column) -> Column:
    """early | on_time | late for a finished dossier, by calendar day in Vietnam time (as the portal does).

    A request still open when the dossier finished also stopped the clock until the finish.
    """
    waited = F.when(
        pending_since.isNotNull() & (pending_since < done_at), _seconds_between(done_at, pending_since)
    ).otherwise(F.lit(0))
    due_day = F.to_date(_plus_seconds(due_effective, waited))
    done_day = F.to_date(done_at)
    return (
        F.when(too_many, F.lit("late"))
        .when(due_effective.isNull(), F.lit("on_time"))  # no deadline set: never late
        .when(done_day < due_day, F.lit("early"))
        .when(done_day == due_day, F.lit("on_time"))
        .otherwise(F.lit("late"))
    )


def overdue_at(judged_at: Column, due_effective: Column, pending_since: Column, too_many: Column) -> Column:
    """Whether a dossier in process at `judged_at` is past its deadline then.

    Waiting for the applicant at `judged_at` (a request open since before it) stops the clock at the request:
    the dossier is judged at the time of the request.
    """
    waiting = pending_since.isNotNull() & (pending_since <= judged_at)
    clock = F.when(waiting, pending_since).otherwise(judged_at)
    return too_many | (due_effective.isNotNull() & (clock > due_effective))


# --- facts: one row per counted thing, with its month and unit ---------------------------------------------


def _flag(condition: Column) -> Column:
    return F.when(condition, F.lit(1)).otherwise(F.lit(0)).cast("long")


def _in_months(column: Column, months: list[dt.date] | None) -> Column:
    return F.lit(True) if months is None else column.isin(*months)


def as_of(dossiers: DataFrame) -> DataFrame:
    """One row, column `as_of`: the newest dossier record time (NgayCapNhat) in silver."""
    return dossiers.agg(F.max("updated_at").alias("as_of"))


def reception_facts(judged: DataFrame, months: list[dt.date] | None) -> DataFrame:
    full_online_procedure = F.col("online_level") == FULL_ONLINE_LEVEL
    with_fee = F.col("paid_online").isin(FEE_PAID_ONLINE, FEE_NOT_PAID_ONLINE)
    return (
        judged.withColumn(MONTH, month_of("received_at"))
        .where(_in_months(F.col(MONTH), months))
        .select(
            MONTH,
            "agency",
            "commune",
            F.lit(1).cast("long").alias("received"),
            _flag(full_online_procedure).alias("received_full_online_procedure"),
            _flag(full_online_procedure & (F.col("channel") == 2)).alias("received_fully_online"),
            _flag(with_fee).alias("received_with_fee"),
            _flag(F.col("paid_online") == FEE_PAID_ONLINE).alias("received_paid_online"),
            _flag(F.col("has_digitised_components") == 1).alias("received_digitised"),
        )
    )


def finish_facts(judged: DataFrame, months: list[dt.date] | None) -> DataFrame:
    verdict = finish_class(
        F.col("done_at"),
        F.col("due_effective"),
        F.col("supplement_pending_since"),
        F.col("too_many_requests"),
    )
    return (
        judged.where(F.col("done_at").isNotNull())
        .withColumn(MONTH, month_of("done_at"))
        .where(_in_months(F.col(MONTH), months))
        .withColumn("verdict", verdict)
        .select(
            MONTH,
            "agency",
            "commune",
            _flag(F.col("verdict") == "early").alias("finished_early"),
            _flag(F.col("verdict") == "on_time").alias("finished_on_time"),
            _flag(F.col("verdict") == "late").alias("finished_late"),
        )
    )


def month_end(month: Column) -> Column:
    """The first instant after the month that starts at `month` (a date)."""
    return F.add_months(month, 1).cast("timestamp")


def judgement_time(month: Column, as_of_time: Column) -> Column:
    """When in-process dossiers are judged for the month: its end, or the as-of time if earlier."""
    return F.least(month_end(month), as_of_time)


def stock_facts(judged: DataFrame, months: list[dt.date] | None, as_of_row: DataFrame) -> DataFrame:
    """Each dossier at the end of each month from its receipt through the as-of month, where in process."""
    start = month_of("received_at")
    month_ends = (
        judged.crossJoin(F.broadcast(as_of_row))
        .where(F.col("received_at") <= F.col("as_of"))
        .withColumn(MONTH, F.explode(F.sequence(start, month_of("as_of"), F.expr("INTERVAL 1 MONTH"))))
        .where(_in_months(F.col(MONTH), months))
        .withColumn(JUDGED_AT, judgement_time(F.col(MONTH), F.col("as_of")))
    )

    def by_then(moment: Column) -> Column:
        return moment.isNotNull() & (moment < month_end(F.col(MONTH))) & (moment <= F.col("as_of"))

    in_process = by_then(F.col("received_at")) & ~by_then(F.col("done_at")) & ~by_then(F.col("ended_at"))
    overdue = overdue_at(
        F.col(JUDGED_AT),
        F.col("due_effective"),
        F.col("supplement_pending_since"),
        F.col("too_many_requests"),
    )
    return month_ends.where(in_process).select(
        MONTH,
        "agency",
        "commune",
        _flag(~overdue).alias("in_process_within_deadline"),
        _flag(overdue).alias("in_process_overdue"),
    )


def payment_facts(payments: DataFrame, judged: DataFrame, months: list[dt.date] | None) -> DataFrame:
    """Successful gateway transactions, in the month paid, at the unit of their dossier."""
    units = judged.select("dossier_code", "agency", "commune")
    return (
        payments.where(F.coalesce(F.col("is_successful"), F.lit(False)) & F.col("paid_at").isNotNull())
        .withColumn(MONTH, month_of("paid_at"))
        .where(_in_months(F.col(MONTH), months))
        .join(units, "dossier_code")
        .select(MONTH, "agency", "commune", F.lit(1).cast("long").alias("gateway_payments"))
    )


def rating_month() -> Column:
    """A rating counts in the month the feedback was answered (the month it arrived when not answered)."""
    return month_of(F.coalesce(F.col("answered_at"), F.col("received_at")))


def rating_facts(feedback: DataFrame, judged: DataFrame, months: list[dt.date] | None) -> DataFrame:
    """Ratings 1-5 of feedback that names a dossier silver holds, at that dossier's unit.

    Feedback about no dossier (or one silver does not hold) rates no unit's service: not counted.
    """
    units = judged.select("dossier_code", "agency", "commune")
    return (
        feedback.where(F.col("satisfaction").between(1, 5) & F.col("dossier_code").isNotNull())
        .withColumn(MONTH, rating_month())
        .where(F.col(MONTH).isNotNull() & _in_months(F.col(MONTH), months))
        .join(units, "dossier_code")
        .select(
            MONTH,
            "agency",
            "commune",
            F.lit(1).cast("long").alias("ratings"),
            _flag(F.col("satisfaction").isin(*DISSATISFIED_RATINGS)).alias("ratings_dissatisfied"),
        )
    )


# --- roll-ups ------------------------------------------------------------------------------------------


def _literal_map(mapping: Mapping[str, str]) -> Column:
    return F.create_map(*[F.lit(x) for pair in sorted(mapping.items()) for x in pair])


def unit_names() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(commune code -> name, commune code -> province code, province code -> name), post-2025 units."""
    communes = {code: pair.new_commune_name for code, pair in new_units().items()}
    provinces = {code: pair.new_province_code for code, pair in new_units().items()}
    return communes, provinces, PROVINCE_NAMES


def monthly_counts(facts: DataFrame) -> DataFrame:
    """Facts (month, agency, commune, counts…) summed per month at the three levels, each dossier once."""
    communes, provinces, province_names = unit_names()
    province = F.coalesce(_literal_map(provinces)[F.col("commune")], F.lit(UNKNOWN_UNIT))
    commune_name = F.coalesce(_literal_map(communes)[F.col("commune")], F.col("commune"))
    units = F.array(
        F.struct(F.lit("agency").alias(LEVEL), F.col("agency").alias(UNIT), F.col("agency").alias(UNIT_NAME)),
        F.struct(F.lit("commune").alias(LEVEL), F.col("commune").alias(UNIT), commune_name.alias(UNIT_NAME)),
        F.struct(
            F.lit("province").alias(LEVEL),
            province.alias(UNIT),
            F.coalesce(_literal_map(province_names)[province], province).alias(UNIT_NAME),
        ),
    )
    # One pass: each fact row goes to its unit at every level.
    return (
        facts.fillna(0, subset=list(COUNTS))
        .select(MONTH, F.explode(units).alias("_unit"), *COUNTS)
        .select(MONTH, "_unit.*", *COUNTS)
        .groupBy(MONTH, LEVEL, UNIT, UNIT_NAME)
        .agg(*[F.sum(c).cast("long").alias(c) for c in COUNTS])
    )


def period_start(month: Column, period: str) -> Column:
    return month if period == "month" else F.trunc(month, period)


def period_length() -> Column:
    """Months in the row's period."""
    return F.create_map(*[F.lit(x) for item in PERIOD_MONTHS.items() for x in item])[F.col(PERIOD)]


def period_counts(monthly: DataFrame, as_of_row: DataFrame) -> DataFrame:
    """Counts of every month, quarter and year from the month rows: events summed; stocks of the period's
    last month up to the as-of month (the month the period is judged in)."""
    periods = F.array(
        *[
            F.struct(F.lit(period).alias(PERIOD), period_start(F.col(MONTH), period).alias("_start"))
            for period in PERIODS
        ]
    )
    rows = (
        monthly.crossJoin(F.broadcast(as_of_row))
        .withColumn("_period", F.explode(periods))
        .select("*", "_period.*")
    )
    stock_month = F.least(F.add_months(F.col("_start"), period_length() - 1), month_of("as_of"))
    return (
        rows.withColumn("_stock_month", stock_month)
        .groupBy(PERIOD, "_start", LEVEL, UNIT, UNIT_NAME)
        .agg(
            *[F.sum(c).cast("long").alias(c) for c in EVENT_COUNTS],
            *[
                F.sum(F.when(F.col(MONTH) == F.col("_stock_month"), F.col(c)).otherwise(0))
                .cast("long")
                .alias(c)
                for c in STOCK_COUNTS
            ],
        )
        .withColumnRenamed("_start", MONTH)
    )


def with_rates_and_points(counts: DataFrame, as_of_row: DataFrame) -> DataFrame:
    """Rates (null when their denominator is 0), points = scale x rate, and the judgement time."""

    def share(numerator: Column, denominator: Column) -> Column:
        return F.when(denominator > 0, numerator / denominator)

    c = F.col
    progress_due = (
        c("finished_early")
        + c("finished_on_time")
        + c("finished_late")
        + c("in_process_within_deadline")
        + c("in_process_overdue")
    )
    rated = counts.withColumn("progress_due", progress_due).withColumns(
        {
            "progress_rate": share(
                c("finished_early") + c("finished_on_time") + c("in_process_within_deadline"),
                c("progress_due"),
            ),
            "fully_online_rate": share(c("received_fully_online"), c("received_full_online_procedure")),
            "online_payment_rate": share(c("received_paid_online"), c("received_with_fee")),
            "digitised_rate": share(c("received_digitised"), c("received")),
            "satisfaction_rate": share(c("ratings") - c("ratings_dissatisfied"), c("ratings")),
        }
    )
    pointed = rated.withColumns({name: F.lit(scale) * c(rate) for name, (scale, rate) in POINTS.items()})
    total = sum((F.coalesce(c(name), F.lit(0.0)) for name in POINTS), F.lit(0.0))
    possible = sum(
        (F.when(c(rate).isNotNull(), F.lit(scale)).otherwise(F.lit(0.0)) for scale, rate in POINTS.values()),
        F.lit(0.0),
    )
    return (
        pointed.withColumns({"points_total": total, "points_possible": possible})
        .crossJoin(F.broadcast(as_of_row))
        .withColumn(JUDGED_AT, F.least(F.add_months(c(MONTH), period_length()).cast("timestamp"), c("as_of")))
        .select(PERIOD, MONTH, LEVEL, UNIT, UNIT_NAME, *MEASURES)
    )


# --- the mart ------------------------------------------------------------------------------------------


def periods_of(months: list[dt.date]) -> dict[str, list[dt.date]]:
    """The first months of the months, quarters and years that contain `months`."""
    quarters = {dt.date(m.year, 3 * ((m.month - 1) // 3) + 1, 1) for m in months}
    years = {dt.date(m.year, 1, 1) for m in months}
    return {"month": sorted(set(months)), "quarter": sorted(quarters), "year": sorted(years)}


def months_of_periods(months: list[dt.date]) -> list[dt.date]:
    """Every month of every year that holds one of `months` (what the quarter and year rows are made of)."""
    return [dt.date(year, month, 1) for year in sorted({m.year for m in months}) for month in range(1, 13)]


def scorecard(frames: Mapping[str, DataFrame], months: list[dt.date] | None = None) -> DataFrame:
    """The scorecard rows of every period (month, its quarter, its year) holding `months` (None: all)."""
    dossiers, payments, feedback = (frames[name] for name in SOURCES)
    needed = None if months is None else months_of_periods(months)
    judged = judged_dossiers(dossiers)
    as_of_row = as_of(dossiers)
    facts = (
        reception_facts(judged, needed)
        .unionByName(finish_facts(judged, needed), allowMissingColumns=True)
        .unionByName(stock_facts(judged, needed, as_of_row), allowMissingColumns=True)
        .unionByName(payment_facts(payments, judged, needed), allowMissingColumns=True)
        .unionByName(rating_facts(feedback, judged, needed), allowMissingColumns=True)
    )
    counts = period_counts(monthly_counts(facts), as_of_row)
    if months is not None:
        wanted = F.lit(False)
        for period, starts in periods_of(months).items():
            wanted = wanted | ((F.col(PERIOD) == period) & F.col(MONTH).isin(*starts))
        counts = counts.where(wanted)
    return with_rates_and_points(counts, as_of_row)


def replace_where(months: list[dt.date]) -> str:
    """Exactly the rows `scorecard(frames, months)` recomputes: the months, their quarters and years."""
    if not months:
        return "FALSE"
    clauses = []
    for period, starts in periods_of(months).items():
        dates = ", ".join(f"DATE'{m.isoformat()}'" for m in starts)
        clauses.append(f"(`{PERIOD}` = '{period}' AND `{MONTH}` IN ({dates}))")
    return " OR ".join(clauses)


def touched_months(dataset: str, changes: DataFrame) -> DataFrame:
    """Months whose rows changed silver rows (pre- and post-images) can move, by the times they count at."""
    times = {
        "dossiers": ("received_at", "finished_at", "returned_at", "updated_at"),
        "payments": ("paid_at",),
        "feedback": ("answered_at", "received_at"),
    }[dataset]
    parts = [changes.select(month_of(t).alias(MONTH)) for t in times if t in changes.columns]
    union = parts[0]
    for part in parts[1:]:
        union = union.unionByName(part)
    return union.where(F.col(MONTH).isNotNull()).distinct()


def related_months(dataset: str, changes: DataFrame, frames: Mapping[str, DataFrame]) -> DataFrame:
    """Months a dossier change moves through other rows.

    - the payments and ratings of a changed dossier, which count at its unit in their own months;
    - the month of the previous as-of time (the newest record among unchanged dossiers): when the as-of
      time moves on, that month is judged at its end instead.
    """
    empty = changes.sparkSession.createDataFrame([], f"{MONTH} date")
    if dataset != "dossiers":
        return empty
    codes = changes.select("dossier_code").where(F.col("dossier_code").isNotNull()).distinct()
    paid = (
        frames["payments"].join(codes, "dossier_code", "left_semi").select(month_of("paid_at").alias(MONTH))
    )
    rated = frames["feedback"].join(codes, "dossier_code", "left_semi").select(rating_month().alias(MONTH))
    unchanged = frames["dossiers"].join(codes, "dossier_code", "left_anti")
    previous_as_of = unchanged.agg(month_of(F.max("updated_at")).alias(MONTH))
    return paid.unionByName(rated).unionByName(previous_as_of).where(F.col(MONTH).isNotNull()).distinct()


PUBLIC_SERVICE_SCORECARD_MART = MartSpec(
    name=PUBLIC_SERVICE_SCORECARD,
    sources=SOURCES,
    touched_months=touched_months,
    build=scorecard,
    replace_where=replace_where,
    description=(
        "Decision 766/QĐ-TTg service measures per handling agency, post-2025 commune and province, by month, "
        "quarter and year: progress, fully-online, online payment, digitised, satisfaction (rates, points)."
    ),
    measures=MEASURES,
    carries_forward=True,
    related_months=related_months,
    columns=COLUMNS,
)
SCORECARD = PUBLIC_SERVICE_SCORECARD_MART
