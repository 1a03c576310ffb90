"""gold.public_service_scorecard: every rule on hand-built dossiers, and the sample lake recomputed apart."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pyspark.sql import DataFrame, SparkSession

from jobs.datasets.dossiers import with_supplement_requests
from jobs.marts import forward_closure
from jobs.scorecard import (
    EVENT_COUNTS,
    POINTS,
    STOCK_COUNTS,
    UNKNOWN_UNIT,
    periods_of,
    related_months,
    replace_where,
    scorecard,
    touched_months,
)

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def T(*parts: int) -> dt.datetime:  # noqa: N802  (reads like the datetime it builds)
    """A Vietnam wall-clock time, as agencies write them (PySpark takes aware datetimes as instants)."""
    return dt.datetime(*parts, tzinfo=VIETNAM)


def vietnam(moment: dt.datetime) -> dt.datetime:
    """A collected timestamp (naive, in this process's zone) as an aware Vietnam time."""
    return moment.astimezone(VIETNAM)


JUNE, JULY = dt.date(2025, 6, 1), dt.date(2025, 7, 1)
AS_OF = T(2025, 7, 10, 12, 0)  # the newest NgayCapNhat below
AGENCY_A, AGENCY_B = "UBND Phường Thủ Dầu Một", "UBND Phường Phú Lợi"
COMMUNE_A, COMMUNE_B = "25747", "25750"  # post-2025 units of province 79

DOSSIER_SCHEMA = (
    "dossier_code string, handling_agency string, commune_code_2025 string, status int, channel int, "
    "online_level int, paid_online int, has_digitised_components int, received_at timestamp, "
    "due_at timestamp, finished_at timestamp, returned_at timestamp, updated_at timestamp, "
    "supplement_requests int, supplement_paused_days double, supplement_pending_since timestamp"
)


def dossier(
    code: str,
    received: dt.datetime,
    due: dt.datetime,
    *,
    status: int = 4,
    finished: dt.datetime | None = None,
    updated: dt.datetime | None = None,
    agency: str = AGENCY_A,
    commune: str = COMMUNE_A,
    channel: int = 1,
    level: int = 3,
    fee: int = 0,
    digitised: int = 0,
    requests: int = 0,
    paused_days: float = 0.0,
    pending: dt.datetime | None = None,
) -> tuple[Any, ...]:
    last = updated or finished or received
    return (
        code, agency, commune, status, channel, level, fee, digitised, received, due, finished, None, last,
        requests, paused_days, pending,
    )  # fmt: skip


# Every rule, one dossier each (agency A, commune A unless said otherwise); judged in June and July 2025.
DOSSIERS = [
    # finished the day before its due day: early; fully online (MucDo 4 + online), fee paid online, digitised
    dossier("EARLY", T(2025, 6, 2, 9), T(2025, 6, 10, 17), status=10, finished=T(2025, 6, 5, 10),
            channel=2, level=4, fee=1, digitised=1),
    # finished on the due day, after the due hour: on time (the portal compares days); fee not paid online
    dossier("ON-TIME", T(2025, 6, 3, 9), T(2025, 6, 12, 17), status=9, finished=T(2025, 6, 12, 18),
            channel=2, level=4, fee=3, digitised=1),
    # finished two days late; MucDo 4 but submitted in person: not fully online
    dossier("LATE", T(2025, 6, 4, 9), T(2025, 6, 11, 17), status=10, finished=T(2025, 6, 13, 9),
            level=4, fee=1, digitised=1),
    # late by the calendar, but 5 days waited for the applicant: due 15/06, so finished early
    dossier("PAUSED", T(2025, 6, 5, 9), T(2025, 6, 10, 17), status=10, finished=T(2025, 6, 14, 10),
            requests=1, paused_days=5.0, digitised=1),
    # finished well before its due day, but after two supplementation requests: late
    dossier("TWO-REQUESTS", T(2025, 6, 6, 9), T(2025, 6, 30, 17), status=10, finished=T(2025, 6, 9, 9),
            requests=2, paused_days=1.0, digitised=1),
    # in process, due after both judgement times: within deadline in June and July
    dossier("OPEN-IN-TIME", T(2025, 6, 20, 9), T(2025, 7, 20, 17), level=4, digitised=1),
    # in process, due 25/06: overdue at the end of June and at the as-of time
    dossier("OPEN-OVERDUE", T(2025, 6, 15, 9), T(2025, 6, 25, 17), channel=2),
    # withdrawn on 02/07: in process (within deadline) at the end of June, out of progress from July
    dossier("WITHDRAWN", T(2025, 6, 10, 9), T(2025, 7, 5, 17), status=7, updated=T(2025, 7, 2, 9)),
    # waiting for the applicant since 20/06, before its due time 25/06: the clock stopped, within deadline
    dossier("WAITING", T(2025, 6, 18, 9), T(2025, 6, 25, 17), status=5, requests=1,
            pending=T(2025, 6, 20, 9), updated=T(2025, 6, 20, 9)),
    # agency B / commune B, July: finished early, fully online, paid online, digitised; holds the as-of time
    dossier("B-JULY", T(2025, 7, 1, 9), T(2025, 7, 8, 17), status=10, finished=T(2025, 7, 3, 9),
            updated=AS_OF, agency=AGENCY_B, commune=COMMUNE_B, channel=2, level=4, fee=1, digitised=1),
    # registered online, never received (status 1): outside every measure
    dossier("REGISTERED", T(2025, 6, 7, 9), T(2025, 6, 20, 17), status=1, channel=2, level=4),
]  # fmt: skip
PAYMENTS = [
    ("EARLY", True, T(2025, 6, 2, 9, 30)),
    ("LATE", False, T(2025, 6, 4, 9, 30)),  # failed: not counted
    ("B-JULY", True, T(2025, 7, 1, 9, 5)),
    ("NO-SUCH-DOSSIER", True, T(2025, 6, 8, 9)),  # no unit: not counted
]
FEEDBACK = [
    ("EARLY", 5, T(2025, 6, 19, 8), T(2025, 6, 20, 10)),
    ("OPEN-IN-TIME", 4, T(2025, 6, 24, 8), T(2025, 6, 25, 10)),
    ("LATE", 2, T(2025, 7, 2, 8), T(2025, 7, 3, 10)),  # dissatisfied, answered in July
    ("EARLY", None, T(2025, 6, 21, 8), None),  # not rated
    (None, 1, T(2025, 6, 22, 8), T(2025, 6, 22, 9)),  # about no dossier: rates no unit
]


@pytest.fixture(scope="module")
def frames(spark: SparkSession) -> dict[str, DataFrame]:
    return {
        "dossiers": spark.createDataFrame(DOSSIERS, DOSSIER_SCHEMA),
        "payments": spark.createDataFrame(
            PAYMENTS, "dossier_code string, is_successful boolean, paid_at timestamp"
        ),
        "feedback": spark.createDataFrame(
            FEEDBACK, "dossier_code string, satisfaction int, received_at timestamp, answered_at timestamp"
        ),
    }


@pytest.fixture(scope="module")
def rows(frames: dict[str, DataFrame]) -> dict[tuple[str, dt.date, str, str], dict[str, Any]]:
    """Every scorecard row by (period, month, level, unit), computed once for the module."""
    return {(r["period"], r["month"], r["level"], r["unit"]): r.asDict() for r in scorecard(frames).collect()}


def test_progress_rules_on_time_early_late_paused_two_requests_open_withdrawn_waiting(rows) -> None:
    june = rows[("month", JUNE, "agency", AGENCY_A)]
    # EARLY, PAUSED early; ON-TIME on time; LATE, TWO-REQUESTS late
    assert (june["finished_early"], june["finished_on_time"], june["finished_late"]) == (2, 1, 2)
    # OPEN-IN-TIME, WITHDRAWN (not yet withdrawn), WAITING within; OPEN-OVERDUE overdue; judged 1 July 00:00
    assert (june["in_process_within_deadline"], june["in_process_overdue"]) == (3, 1)
    assert vietnam(june["judged_at"]) == T(2025, 7, 1)
    assert june["progress_due"] == 9
    assert june["progress_rate"] == pytest.approx(6 / 9)

    july = rows[("month", JULY, "agency", AGENCY_A)]
    # judged at the as-of time: WITHDRAWN has left; WAITING still within; nothing finished
    assert vietnam(july["judged_at"]) == AS_OF
    assert (july["finished_early"], july["finished_on_time"], july["finished_late"]) == (0, 0, 0)
    assert (july["in_process_within_deadline"], july["in_process_overdue"]) == (2, 1)
    assert july["progress_rate"] == pytest.approx(2 / 3)
    assert rows[("month", JULY, "agency", AGENCY_B)]["progress_rate"] == 1.0


def test_reception_shares_payments_and_satisfaction(rows) -> None:
    june = rows[("month", JUNE, "agency", AGENCY_A)]
    assert june["received"] == 9  # REGISTERED (status 1) is not received
    # MucDo 4: EARLY, ON-TIME, LATE, OPEN-IN-TIME; of those submitted online: EARLY, ON-TIME
    assert (june["received_full_online_procedure"], june["received_fully_online"]) == (4, 2)
    assert june["fully_online_rate"] == 0.5
    # fee: EARLY (paid online), ON-TIME (3: not online), LATE (paid online)
    assert (june["received_with_fee"], june["received_paid_online"]) == (3, 2)
    assert june["online_payment_rate"] == pytest.approx(2 / 3)
    assert june["received_digitised"] == 6 and june["digitised_rate"] == pytest.approx(6 / 9)
    assert june["gateway_payments"] == 1  # the failed attempt and the unknown dossier do not count
    assert (june["ratings"], june["ratings_dissatisfied"], june["satisfaction_rate"]) == (2, 0, 1.0)
    july = rows[("month", JULY, "agency", AGENCY_A)]
    assert (july["ratings"], july["ratings_dissatisfied"], july["satisfaction_rate"]) == (1, 1, 0.0)
    assert july["received"] == 0 and july["fully_online_rate"] is None  # nothing received: no rate


def test_points_are_the_scale_times_the_rate(rows) -> None:
    for row in rows.values():
        total, possible = 0.0, 0.0
        for name, (scale, rate) in POINTS.items():
            if row[rate] is None:
                assert row[name] is None
            else:
                assert row[name] == pytest.approx(scale * row[rate])
                total, possible = total + row[name], possible + scale
        assert row["points_total"] == pytest.approx(total) and row["points_possible"] == possible
    june = rows[("month", JUNE, "agency", AGENCY_A)]
    assert june["progress_points"] == pytest.approx(20 * 6 / 9)
    assert june["digitised_points"] == pytest.approx(22 * 6 / 9)


def test_province_and_commune_roll_ups_count_each_dossier_once(rows) -> None:
    assert {k[3] for k in rows if k[2] == "province"} == {"79"}
    assert rows[("month", JUNE, "province", "79")]["unit_name"] == "Thành phố Hồ Chí Minh"
    assert rows[("month", JUNE, "commune", COMMUNE_A)]["unit_name"] == "Phường Thủ Dầu Một"
    counts = [*EVENT_COUNTS, *STOCK_COUNTS]
    for period, month, level, unit in rows:
        if level != "province":
            continue
        for by in ("agency", "commune"):
            parts = [r for (p, m, lv, _), r in rows.items() if (p, m, lv) == (period, month, by)]
            for count in counts:
                assert rows[(period, month, level, unit)][count] == sum(r[count] for r in parts), (by, count)
    july = rows[("month", JULY, "province", "79")]
    assert (july["finished_early"], july["in_process_within_deadline"], july["in_process_overdue"]) == (
        1,
        2,
        1,
    )
    assert july["progress_rate"] == pytest.approx(3 / 4)


def test_quarter_and_year_rows_equal_their_months_recomputed(rows) -> None:
    as_of_month = JULY
    for (period, start, level, unit), row in rows.items():
        if period == "month":
            continue
        length = 3 if period == "quarter" else 12
        months = [dt.date(start.year, start.month + i, 1) for i in range(length)]
        monthly = [rows.get(("month", m, level, unit)) for m in months]
        for count in EVENT_COUNTS:
            assert row[count] == sum(m[count] for m in monthly if m), (period, start, level, unit, count)
        stock_month = min(months[-1], as_of_month)
        stock_row = rows.get(("month", stock_month, level, unit))
        for count in STOCK_COUNTS:
            assert row[count] == (stock_row[count] if stock_row else 0), (period, start, level, unit, count)
    year = rows[("year", dt.date(2025, 1, 1), "agency", AGENCY_A)]
    assert year["progress_rate"] == pytest.approx((2 + 1 + 2) / (5 + 3))  # June's finishes + July's stock
    assert vietnam(year["judged_at"]) == AS_OF
    assert vietnam(rows[("quarter", dt.date(2025, 4, 1), "agency", AGENCY_A)]["judged_at"]) == T(2025, 7, 1)


def test_build_of_some_months_gives_exactly_the_rows_replace_where_selects(spark, frames, rows) -> None:
    some = scorecard(frames, [JULY]).collect()
    keys = {(r["period"], r["month"], r["level"], r["unit"]) for r in some}
    assert keys == {
        k for k in rows if (k[0], k[1]) in {("month", JULY), ("quarter", JULY), ("year", dt.date(2025, 1, 1))}
    }
    assert all(r.asDict() == rows[(r["period"], r["month"], r["level"], r["unit"])] for r in some)
    everything = spark.createDataFrame([(k[0], k[1]) for k in rows], "period string, month date")
    selected = everything.where(replace_where([JULY])).distinct().collect()
    assert {(r["period"], r["month"]) for r in selected} == {
        (p, m) for p, ms in periods_of([JULY]).items() for m in ms
    }


def test_rebuilding_the_months_a_change_touches_equals_a_full_build(spark, frames, rows) -> None:
    """What the mart builder does: rebuild the touched months (plus related ones, carried forward) and keep
    the other rows. A dossier received in August moves the as-of time out of July, so July is judged at its
    end again: OPEN-IN-TIME (due 20/07) becomes overdue there, though no July row of silver changed."""
    arrival = dossier("NEW-AUGUST", T(2025, 8, 4, 9), T(2025, 8, 20, 17), agency=AGENCY_B, commune=COMMUNE_B)
    after = {
        **frames,
        "dossiers": frames["dossiers"].unionByName(spark.createDataFrame([arrival], DOSSIER_SCHEMA)),
    }
    changes = spark.createDataFrame([arrival], DOSSIER_SCHEMA)
    touched = touched_months("dossiers", changes).unionByName(related_months("dossiers", changes, after))
    months = forward_closure(sorted({r["month"] for r in touched.collect()}), max(k[1] for k in rows))
    assert months == [JULY, dt.date(2025, 8, 1)]
    schema = scorecard(frames).schema
    before = spark.createDataFrame([tuple(r.values()) for r in rows.values()], schema)
    incremental = before.where(f"NOT ({replace_where(months)})").unionByName(scorecard(after, months))
    full = {(r["period"], r["month"], r["level"], r["unit"]): r.asDict() for r in scorecard(after).collect()}
    assert {
        (r["period"], r["month"], r["level"], r["unit"]): r.asDict() for r in incremental.collect()
    } == full
    july = full[("month", JULY, "agency", AGENCY_A)]
    assert (july["in_process_within_deadline"], july["in_process_overdue"]) == (1, 2)
    assert vietnam(july["judged_at"]) == T(2025, 8, 1)


def test_supplement_requests_from_the_list_or_the_flat_columns(spark) -> None:
    listed = (
        '[{"HoSoBoSungId":"1","NgayBoSung":"20250602080000","NgayTiepNhanBoSung":"20250604080000"},'
        '{"HoSoBoSungId":"2","NgayBoSung":"20250606120000","NgayTiepNhanBoSung":""}]'
    )
    rows = [
        ("list", listed, 9, 9.0, None),  # the list wins over flat columns
        ("empty", "[]", None, None, None),
        ("not-json", "[{oops", None, None, None),
        ("answer-before-request", listed.replace("20250604080000", "20250601080000"), None, None, None),
        ("flat", None, 3, 4.5, T(2025, 6, 9, 8)),
        ("nothing", None, None, None, None),
    ]
    schema = (
        "case string, supplement_list string, supplement_requests int, supplement_paused_days double, "
        "supplement_pending_since timestamp"
    )
    got = {
        r["case"]: r
        for r in spark.createDataFrame(rows, schema).transform(with_supplement_requests).collect()
    }

    def columns(case: str) -> tuple[Any, ...]:
        r = got[case]
        return (
            r["supplement_list_valid"],
            r["supplement_requests"],
            r["supplement_paused_days"],
            r["supplement_pending_since"],
        )

    assert columns("list")[:3] == (True, 2, 2.0) and vietnam(columns("list")[3]) == T(2025, 6, 6, 12)
    assert columns("empty") == (True, 0, 0.0, None)
    assert columns("not-json")[:2] == (False, None)
    assert columns("answer-before-request")[0] is False
    assert columns("flat")[:3] == (None, 3, 4.5) and vietnam(columns("flat")[3]) == T(2025, 6, 9, 8)
    assert columns("nothing") == (None, 0, 0.0, None)


# ------------------------------------------------------------------------------------------------------------
# The sample lake, recomputed by another path: plain Python over the silver tables read without Spark
# ------------------------------------------------------------------------------------------------------------


def _local(moment: Any) -> dt.datetime | None:
    """An instant from Arrow (UTC) as a naive Vietnam wall-clock time."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(VIETNAM).replace(tzinfo=None)


def _month(moment: dt.datetime) -> dt.date:
    return dt.date(moment.year, moment.month, 1)


def _next_month(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _recompute(
    dossiers: list[dict], payments: list[dict], feedback: list[dict]
) -> dict[tuple, dict[str, int]]:
    """Month-level counts by (month, level, unit) from the written rules, one dossier at a time."""
    counts: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    with_new = {"79"}  # every post-2025 unit of the reference data is in province 79
    units: dict[str, list[tuple[str, str]]] = {}
    kept = [d for d in dossiers if d["received_at"] is not None and d["status"] not in (None, 1)]
    as_of = max(_local(d["updated_at"]) for d in dossiers)
    for d in kept:
        commune = d["commune_code_2025"] or UNKNOWN_UNIT
        province = "79" if commune in _communes_2025() else UNKNOWN_UNIT
        assert province in with_new | {UNKNOWN_UNIT}
        units[d["dossier_code"]] = [
            ("agency", d["handling_agency"] or UNKNOWN_UNIT),
            ("commune", commune),
            ("province", province),
        ]

    def add(month: dt.date, code: str, measure: str) -> None:
        for level, unit in units[code]:
            counts[(month, level, unit)][measure] += 1

    for d in kept:
        code, received = d["dossier_code"], _local(d["received_at"])
        month = _month(received)
        add(month, code, "received")
        if d["online_level"] == 4:
            add(month, code, "received_full_online_procedure")
            if d["channel"] == 2:
                add(month, code, "received_fully_online")
        if d["paid_online"] in (1, 3):
            add(month, code, "received_with_fee")
        if d["paid_online"] == 1:
            add(month, code, "received_paid_online")
        if d["has_digitised_components"] == 1:
            add(month, code, "received_digitised")
        due = _local(d["due_at"])
        effective_due = due + dt.timedelta(days=d["supplement_paused_days"] or 0.0) if due else None
        too_many = (d["supplement_requests"] or 0) > 1
        pending = _local(d["supplement_pending_since"])
        done = None
        if d["status"] in (9, 10):
            done = _local(d["finished_at"]) or _local(d["returned_at"]) or _local(d["updated_at"])
            clock_due = effective_due
            if clock_due and pending and pending < done:
                clock_due += done - pending
            if too_many:
                verdict = "finished_late"
            elif clock_due is None or done.date() == clock_due.date():
                verdict = "finished_on_time"
            else:
                verdict = "finished_early" if done.date() < clock_due.date() else "finished_late"
            add(_month(done), code, verdict)
        ended = _local(d["updated_at"]) if d["status"] in (3, 7, 8) else None
        month_end = month
        while month_end <= _month(as_of):
            end = dt.datetime.combine(_next_month(month_end), dt.time())
            judged = min(end, as_of)

            def by(moment: dt.datetime | None, end: dt.datetime = end) -> bool:
                return moment is not None and moment < end and moment <= as_of

            if by(received) and not by(done) and not by(ended):
                clock = pending if pending and pending <= judged else judged
                overdue = too_many or (effective_due is not None and clock > effective_due)
                add(month_end, code, "in_process_overdue" if overdue else "in_process_within_deadline")
            month_end = _next_month(month_end)
    for p in payments:
        if p["is_successful"] and p["paid_at"] and p["dossier_code"] in units:
            add(_month(_local(p["paid_at"])), p["dossier_code"], "gateway_payments")
    for f in feedback:
        if f["satisfaction"] in (1, 2, 3, 4, 5) and f["dossier_code"] in units:
            when = _local(f["answered_at"]) or _local(f["received_at"])
            add(_month(when), f["dossier_code"], "ratings")
            if f["satisfaction"] in (1, 2):
                add(_month(when), f["dossier_code"], "ratings_dissatisfied")
    return counts


def _communes_2025() -> set[str]:
    from jobs.reference_data import crosswalk

    return {pair.new_commune_code for pair in crosswalk()}


def test_sample_lake_scorecard_equals_an_independent_recomputation(sample_run) -> None:
    from jobs.arrow_access import arrow_dataset
    from jobs.lake import gold, silver

    lake = sample_run["lake"]
    try:
        table = arrow_dataset(lake, gold("public_service_scorecard")).to_table().to_pylist()
    except Exception as error:  # noqa: BLE001  (delta-rs raises its own error types)
        pytest.fail(f"gold.public_service_scorecard is not in the sample lake: {error}")
    silver_rows = {
        name: arrow_dataset(lake, silver(name)).to_table().to_pylist()
        for name in ("dossiers", "payments", "feedback")
    }
    expected = _recompute(silver_rows["dossiers"], silver_rows["payments"], silver_rows["feedback"])
    measures = [*EVENT_COUNTS, *STOCK_COUNTS]
    got = {
        (r["month"], r["level"], r["unit"]): {m: r[m] for m in measures}
        for r in table
        if r["period"] == "month"
    }
    want = {key: {m: values.get(m, 0) for m in measures} for key, values in expected.items()}
    assert got == want
    assert len(got) > 20 and any(v["in_process_overdue"] for v in got.values())
    for r in table:
        if r["progress_due"]:
            done = r["finished_early"] + r["finished_on_time"] + r["in_process_within_deadline"]
            assert r["progress_rate"] == pytest.approx(done / r["progress_due"])
    # Vietnam-time months of the sample: June and July 2025, one quarter each, one year
    assert {(r["period"], r["month"]) for r in table} == {
        ("month", JUNE), ("month", JULY), ("quarter", dt.date(2025, 4, 1)), ("quarter", JULY), ("year", dt.date(2025, 1, 1))
    }  # fmt: skip
