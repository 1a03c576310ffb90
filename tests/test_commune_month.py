"""gold.commune_month: each measure family on a few hand-built silver rows, then on the sample lake against an
independent recomputation in plain Python over delta-rs (no Spark), split communes counted once."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter, defaultdict
from pathlib import Path
from statistics import mean
from zoneinfo import ZoneInfo

import pytest
from silver_samples import (
    HIEP_THANH,
    ONLY_2025,
    PHU_CUONG,
    PHU_THO,
    air,
    at,
    dossier,
    enterprise,
    feedback,
    first,
    frames,
    incident,
    payment,
    visits,
)

from jobs.arrow_access import analyst_tables, arrow_dataset, duckdb_connection
from jobs.commune_month import COMMUNE_MONTH, KEY, MEASURES, PM25_24H_LIMIT_UGM3, commune_month
from jobs.lake import gold, silver
from jobs.mart_registry import MARTS

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
ACTIVE, DISSOLVED = "Đang hoạt động", "Đã giải thể"


def key(place, month: dt.date) -> tuple:
    district = "718" if place.commune_code else None  # the three communes used are in Thành phố Thủ Dầu Một
    return (place.commune_code, district, place.commune_code_2025, month)


@pytest.fixture(scope="module")
def hand_built(spark) -> dict[tuple, dict]:
    """One Spark run over every measure family's rows (May–July 2025, Thủ Dầu Một)."""
    inputs = frames(
        spark,
        dossiers=[
            dossier("D1", PHU_CUONG, at(5, 10), at(5, 15), due=at(5, 20), finished=at(5, 15)),
            # Online with an online fee payment; finished late in June: in process and overdue at end of May.
            dossier(
                "D2",
                PHU_CUONG,
                at(5, 20),
                at(6, 5),
                due=at(5, 25),
                finished=at(6, 5),
                channel=2,
                paid_online=1,
            ),
            # A fee paid another way; never finished: in process (and overdue) through the horizon (July).
            dossier("D3", HIEP_THANH, at(6, 3), at(6, 3), due=at(6, 13), paid_online=3),
            dossier("D4", PHU_CUONG, at(6, 10), at(6, 12), status=7),  # withdrawn: never in process
        ],  # fmt: skip
        payments=[
            payment("P1", "D2", 400_000, at(5, 20)),
            payment("P2", "D2", 400_000, at(5, 20, 8), ok=False),
            payment("P3", "D3", 50_000, at(6, 3)),
            payment("P4", "D-UNKNOWN", 70_000, at(6, 3)),  # no dossier in silver: no place
        ],
        feedback=[
            feedback("F1", PHU_THO, at(6, 1), answered=at(6, 2), rating=5),
            feedback("F2", PHU_THO, at(6, 2), answered=at(6, 20), rating=2),  # late
            feedback("F3", ONLY_2025, at(7, 1)),
        ],
        enterprises=[
            enterprise("E1", PHU_CUONG, ACTIVE, at(5, 1), dt.date(2025, 5, 1)),
            enterprise("E1", PHU_CUONG, DISSOLVED, at(6, 15), dt.date(2025, 5, 1), row=2),
            enterprise("E2", HIEP_THANH, ACTIVE, at(5, 2), dt.date(2020, 3, 4)),
        ],
        air_quality=[
            # 00:00 on 1 June in Vietnam is still 31 May in UTC: counted in June.
            air("S1", PHU_CUONG, at(6, 1, 0), 60.0, 20.0),
            air("S1", PHU_CUONG, at(6, 1, 1), 70.0),
            air("S1", PHU_CUONG, at(6, 2, 0), 10.0),
        ],
        health_visits=[
            visits("H1", HIEP_THANH, dt.date(2025, 6, 3), "KB", 10, 7, at(6, 4)),
            visits("H1", HIEP_THANH, dt.date(2025, 6, 4), "CC", 5, None, at(6, 5)),
        ],
        traffic_incidents=[
            incident("T1", PHU_THO, at(7, 1), injuries=2, fatalities=1),
            incident("T2", PHU_THO, at(7, 2)),
        ],
    )
    rows = commune_month(inputs).collect()
    return {tuple(r[c] for c in KEY): r.asDict() for r in rows}


def nonzero(row: dict) -> dict:
    return {m: v for m, v in row.items() if m in MEASURES and v not in (0, None)}


def test_one_row_per_place_and_month_with_any_measure(hand_built):
    assert set(hand_built) == {
        key(PHU_CUONG, first(5)), key(PHU_CUONG, first(6)),
        key(HIEP_THANH, first(5)), key(HIEP_THANH, first(6)), key(HIEP_THANH, first(7)),
        key(HIEP_THANH, dt.date(2020, 3, 1)),
        key(PHU_THO, first(6)), key(PHU_THO, first(7)), key(ONLY_2025, first(7)),
    }  # fmt: skip


def test_dossier_payment_and_stock_measures(hand_built):
    may, june = hand_built[key(PHU_CUONG, first(5))], hand_built[key(PHU_CUONG, first(6))]
    assert nonzero(may) == {
        "dossiers_received": 2, "dossiers_received_online": 1, "online_share": 0.5,
        "dossiers_finished": 1, "dossiers_finished_on_time": 1,
        "dossiers_in_process": 1, "dossiers_overdue": 1,  # D2, past due on 25 May
        "dossiers_with_fee": 1, "dossiers_paid_online": 1, "online_payment_share": 1.0,
        "fee_payments": 1, "fee_revenue_vnd": 400_000,
        "enterprises_new": 1, "enterprises_active": 1,
    }  # fmt: skip
    assert {m: june[m] for m in ("dossiers_received", "dossiers_finished", "dossiers_finished_on_time",
                                 "dossiers_overdue", "dossiers_in_process", "enterprises_dissolved",
                                 "enterprises_active")} == {
        "dossiers_received": 1, "dossiers_finished": 1, "dossiers_finished_on_time": 0,
        "dossiers_overdue": 1, "dossiers_in_process": 0, "enterprises_dissolved": 1, "enterprises_active": 0,
    }  # fmt: skip
    hiep_june, hiep_july = hand_built[key(HIEP_THANH, first(6))], hand_built[key(HIEP_THANH, first(7))]
    assert (hiep_june["dossiers_with_fee"], hiep_june["dossiers_paid_online"]) == (1, 0)
    assert hiep_june["online_payment_share"] == 0.0
    assert (hiep_june["fee_payments"], hiep_june["fee_revenue_vnd"]) == (1, 50_000)
    assert nonzero(hiep_july) == {"dossiers_in_process": 1, "dossiers_overdue": 1, "enterprises_active": 1}
    assert nonzero(hand_built[key(HIEP_THANH, dt.date(2020, 3, 1))]) == {"enterprises_new": 1}
    assert nonzero(hand_built[key(HIEP_THANH, first(5))]) == {"enterprises_active": 1}
    # The unplaced payment and the failed one are nowhere.
    assert sum(r["fee_revenue_vnd"] for r in hand_built.values()) == 450_000


def test_feedback_air_health_and_traffic_measures(hand_built):
    assert nonzero(hand_built[key(PHU_THO, first(6))]) == {
        "feedback_received": 2, "feedback_answered": 2, "feedback_answered_on_time": 1,
        "feedback_on_time_share": 0.5, "satisfaction_ratings": 2, "satisfaction_mean": 3.5,
        "satisfied_share": 0.5,
    }  # fmt: skip
    assert nonzero(hand_built[key(ONLY_2025, first(7))]) == {"feedback_received": 1}
    june = hand_built[key(PHU_CUONG, first(6))]
    assert june["air_quality_hours"] == 3 and june["pm25_days_over_limit"] == 1
    assert june["pm25_mean"] == pytest.approx(140 / 3) and june["pm10_mean"] == 20.0
    hiep = hand_built[key(HIEP_THANH, first(6))]
    assert (hiep["health_visits"], hiep["health_visits_insured"]) == (15, 7)
    assert nonzero(hand_built[key(PHU_THO, first(7))]) == {
        "traffic_incidents": 2,
        "traffic_injuries": 2,
        "traffic_fatalities": 1,
    }


def test_every_measure_and_column_has_a_definition(spark, hand_built):
    columns = next(iter(hand_built.values())).keys()
    assert list(columns) == [*KEY, *MEASURES]
    spec = next(s for s in MARTS if s.name == COMMUNE_MONTH)
    assert set(spec.columns) == set(KEY) and all(spec.measures.values())


# --- on the sample lake: an independent recomputation in plain Python over delta-rs --------------------------


def rows_of(lake, dataset: str) -> list[dict]:
    return arrow_dataset(lake, silver(dataset)).to_table().to_pylist()


def local(moment):
    """A silver timestamp (UTC instant from delta-rs) as Vietnam wall time; dates stay dates."""
    if isinstance(moment, dt.datetime):
        return moment.astimezone(VIETNAM).replace(tzinfo=None)
    return moment


def month(moment) -> dt.date | None:
    moment = local(moment)
    return None if moment is None else dt.date(moment.year, moment.month, 1)


def month_end(first_day: dt.date) -> dt.datetime:
    return dt.datetime(first_day.year + first_day.month // 12, first_day.month % 12 + 1, 1)


def recompute(lake) -> dict[tuple, dict]:
    """Every commune_month measure from the silver tables, row by row, following the definitions."""
    counts: dict[tuple, Counter] = defaultdict(Counter)
    values: dict[tuple, dict[str, list]] = defaultdict(lambda: defaultdict(list))

    def place(row):
        return (row["commune_code"], row["commune_code_2025"])

    def placed(row):
        return row["commune_code"] is not None or row["commune_code_2025"] is not None

    data = {d: rows_of(lake, d) for d in ("dossiers", "payments", "feedback", "enterprises", "air_quality",
                                           "health_visits", "traffic_incidents")}  # fmt: skip
    event_times = {
        "dossiers": ("received_at", "finished_at"), "payments": ("paid_at",),
        "feedback": ("received_at", "answered_at"), "enterprises": ("valid_from",),
        "air_quality": ("measured_at",), "health_visits": ("visit_date",), "traffic_incidents": ("occurred_at",),
    }  # fmt: skip
    event_months = [
        month(r[c]) for d, cs in event_times.items() for r in data[d] for c in cs if r[c] is not None
    ]
    horizon = max(event_months)  # stocks are counted through the latest month anything happened in
    all_months = []
    m = min(event_months)
    while m <= horizon:
        all_months.append(m)
        m = month_end(m).date()

    for r in filter(placed, data["dossiers"]):
        received, finished, due = local(r["received_at"]), local(r["finished_at"]), local(r["due_at"])
        c = counts[place(r) + (month(r["received_at"]),)]
        c["dossiers_received"] += 1
        c["dossiers_received_online"] += bool(r["is_online"])
        c["dossiers_with_fee"] += r["paid_online"] is not None and r["paid_online"] != 0
        c["dossiers_paid_online"] += r["paid_online"] == 1
        if r["is_finished"] and finished is not None:
            f = counts[place(r) + (month(r["finished_at"]),)]
            f["dossiers_finished"] += 1
            f["dossiers_finished_on_time"] += due is not None and finished <= due
            f["dossiers_overdue"] += due is not None and finished > due
        if r["is_withdrawn"] or (r["is_finished"] and finished is None):
            continue
        for m in all_months:
            end = month_end(m)
            if received < end and (not r["is_finished"] or finished >= end):
                counts[place(r) + (m,)]["dossiers_in_process"] += 1
                counts[place(r) + (m,)]["dossiers_overdue"] += due is not None and due < end
    dossier_places = {r["dossier_code"]: place(r) for r in data["dossiers"] if placed(r)}
    for r in data["payments"]:
        if r["is_successful"] and r["paid_at"] is not None and r["dossier_code"] in dossier_places:
            c = counts[dossier_places[r["dossier_code"]] + (month(r["paid_at"]),)]
            c["fee_payments"] += 1
            c["fee_revenue_vnd"] += r["amount_vnd"] or 0
    for r in filter(placed, data["feedback"]):
        counts[place(r) + (month(r["received_at"]),)]["feedback_received"] += 1
        if r["is_answered"] and r["answered_at"] is not None:
            k = place(r) + (month(r["answered_at"]),)
            counts[k]["feedback_answered"] += 1
            counts[k]["feedback_answered_on_time"] += (
                r["due_at"] is not None and r["answered_at"] <= r["due_at"]
            )
            if r["satisfaction"] is not None:
                counts[k]["satisfaction_ratings"] += 1
                values[k]["satisfaction"].append(r["satisfaction"])
    windows = defaultdict(list)
    for r in data["enterprises"]:
        windows[r["tax_code"]].append(r)
    for history in windows.values():
        history.sort(key=lambda w: w["valid_from"])
        if history[0]["founded_on"] is not None and placed(history[0]):
            counts[place(history[0]) + (month(history[0]["founded_on"]),)]["enterprises_new"] += 1
        for before, window in zip([None, *history], history, strict=False):
            if window["is_dissolved"] and not (before and before["is_dissolved"]) and placed(window):
                counts[place(window) + (month(window["valid_from"]),)]["enterprises_dissolved"] += 1
        for m in all_months:
            end = month_end(m)
            for w in history:
                start, stop = local(w["valid_from"]), local(w["valid_to"])
                if (
                    start < end
                    and (stop is None or stop >= end)
                    and w["status"] == "Đang hoạt động"
                    and placed(w)
                ):
                    counts[place(w) + (m,)]["enterprises_active"] += 1
    station_days: dict[tuple, list] = defaultdict(list)
    for r in filter(placed, data["air_quality"]):
        if r["pm25"] is None and r["pm10"] is None:
            continue
        k = place(r) + (month(r["measured_at"]),)
        counts[k]["air_quality_hours"] += 1
        for pollutant in ("pm25", "pm10"):
            if r[pollutant] is not None:
                values[k][pollutant].append(r[pollutant])
        if r["pm25"] is not None:
            station_days[(k, r["station_code"], local(r["measured_at"]).date())].append(r["pm25"])
    days_over = defaultdict(set)
    for (k, _, day), hourly in station_days.items():
        if mean(hourly) > PM25_24H_LIMIT_UGM3:
            days_over[k].add(day)
    for k, days in days_over.items():
        counts[k]["pm25_days_over_limit"] = len(days)
    for r in filter(placed, data["health_visits"]):
        c = counts[place(r) + (month(r["visit_date"]),)]
        c["health_visits"] += r["visits"] or 0
        c["health_visits_insured"] += r["insured_visits"] or 0
    for r in filter(placed, data["traffic_incidents"]):
        c = counts[place(r) + (month(r["occurred_at"]),)]
        c["traffic_incidents"] += 1
        c["traffic_injuries"] += r["injuries"] or 0
        c["traffic_fatalities"] += r["fatalities"] or 0

    expected = {}
    for k, c in counts.items():
        if not any(c.values()):
            continue
        row = {m: c[m] for m in MEASURES if not m.endswith(("_share", "_mean"))}
        ratings, v = values[k]["satisfaction"], values[k]
        row |= {
            "online_share": c["dossiers_received_online"] / c["dossiers_received"]
            if c["dossiers_received"]
            else None,
            "online_payment_share": (
                c["dossiers_paid_online"] / c["dossiers_with_fee"] if c["dossiers_with_fee"] else None
            ),
            "feedback_on_time_share": (
                c["feedback_answered_on_time"] / c["feedback_answered"] if c["feedback_answered"] else None
            ),
            "satisfaction_mean": mean(ratings) if ratings else None,
            "satisfied_share": sum(x >= 4 for x in ratings) / len(ratings) if ratings else None,
            "pm25_mean": mean(v["pm25"]) if v["pm25"] else None,
            "pm10_mean": mean(v["pm10"]) if v["pm10"] else None,
        }
        expected[k] = row
    return expected


def close(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= 1e-9 * max(1.0, abs(a))


def test_sample_lake_commune_month_equals_an_independent_recomputation(sample_run):
    lake = sample_run["lake"]
    stored = arrow_dataset(lake, gold(COMMUNE_MONTH)).to_table().to_pylist()
    actual = {(r["commune_code"], r["commune_code_2025"], r["month"]): r for r in stored}
    assert len(actual) == len(stored), "one row per place and month"
    expected = recompute(lake)
    assert set(actual) == set(expected)
    mismatches = [
        (k, m, actual[k][m], want)
        for k, row in expected.items()
        for m, want in row.items()
        if not close(actual[k][m], want)
    ]
    assert mismatches == []
    # Every measure is exercised by the sample (no station-day over the PM2.5 limit in it: the hand-built
    # rows above cover that one).
    assert [m for m in MEASURES if not any(r[m] for r in stored)] == ["pm25_days_over_limit"]


def test_province_totals_by_2025_unit_count_split_communes_once(sample_run, shared_reference):
    """Sums over commune_code_2025 equal sums over the silver rows, with the published crosswalk's split
    communes (several new units for one old commune) among them."""
    lake = sample_run["lake"]
    with (shared_reference / "admin_units_2025_crosswalk.csv").open(encoding="utf-8") as handle:
        pairs = list(csv.DictReader(handle))
    old_column = next(c for c in pairs[0] if "old" in c.lower() and "code" in c.lower())
    successors = Counter(p[old_column] for p in pairs)
    split = {code for code, n in successors.items() if n > 1}
    assert len(split) == 16
    connection = duckdb_connection(lake)
    by_unit = dict(
        connection.execute(
            "SELECT commune_code_2025, sum(health_visits) FROM gold.commune_month GROUP BY ALL"
        ).fetchall()
    )
    silver_health = rows_of(lake, "health_visits")
    placed_visits = sum(r["visits"] or 0 for r in silver_health if r["commune_code_2025"] is not None)
    assert sum(by_unit.values()) == placed_visits
    gold_rows = arrow_dataset(lake, gold(COMMUNE_MONTH)).to_table().to_pylist()
    in_split = [r for r in gold_rows if r["commune_code"] in split]
    assert in_split, "the sample has rows in split communes"
    total = connection.execute(
        "SELECT sum(dossiers_received), sum(feedback_received), sum(traffic_incidents) FROM gold.commune_month"
    ).fetchone()
    silver_totals = (
        sum(1 for r in rows_of(lake, "dossiers") if r["commune_code"] or r["commune_code_2025"]),
        sum(1 for r in rows_of(lake, "feedback") if r["commune_code"] or r["commune_code_2025"]),
        sum(1 for r in rows_of(lake, "traffic_incidents") if r["commune_code"] or r["commune_code_2025"]),
    )
    assert total == silver_totals
    # Each old commune maps to exactly one 2025 unit in gold, the crosswalk's primary one among its successors.
    units_of = defaultdict(set)
    for r in gold_rows:
        if r["commune_code"] is not None:
            units_of[r["commune_code"]].add(r["commune_code_2025"])
    new_column = next(c for c in pairs[0] if "new" in c.lower() and "code" in c.lower())
    allowed = defaultdict(set)
    for p in pairs:
        allowed[p[old_column]].add(p[new_column])
    assert all(len(units) == 1 and units <= allowed[code] for code, units in units_of.items())


def test_every_gold_table_reads_through_delta_rs_and_duckdb(sample_run):
    lake = sample_run["lake"]
    gold_tables = [ref for ref in analyst_tables(lake) if ref.zone == "gold"]
    assert {ref.name for ref in gold_tables} >= {spec.name for spec in MARTS}
    connection = duckdb_connection(lake)
    for ref in gold_tables:
        arrow_rows = arrow_dataset(lake, ref).count_rows()
        (duck_rows,) = connection.execute(f'SELECT count(*) FROM gold."{ref.name}"').fetchone()
        assert arrow_rows == duck_rows > 0, ref.name
    assert Path(lake.table_path(gold(COMMUNE_MONTH)), "_delta_log").is_dir()


# --- the data dictionary -------------------------------------------------------------------------------------


def test_data_dictionary_file_is_up_to_date_with_the_code():
    from jobs.dictionary import DICTIONARY_PATH, render_markdown

    assert DICTIONARY_PATH.read_text(encoding="utf-8") == render_markdown(), (
        f"{DICTIONARY_PATH} differs from the mart specs and contracts: run `python -m jobs.dictionary`"
    )


def test_tables_describe_prints_every_gold_column_and_its_definition():
    from typer.testing import CliRunner

    from flows.cli import app

    result = CliRunner().invoke(app, ["tables", "--describe"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    for spec in MARTS:
        assert f"gold.{spec.name}" in result.output and spec.description[:40] in result.output
        for column, definition in {**spec.columns, **spec.measures}.items():
            assert column in result.output and definition[:30] in result.output, (spec.name, column)
    assert "silver.enterprises" in result.output
