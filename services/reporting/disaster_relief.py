"""Reporting of disaster relief: the relief reserves against the plan's floor, report timeliness,
relief rosters and aid, read from the projection's `dr_` tables (services/projection/disaster_relief.py).

Self-contained: `DisasterReliefSection(connect)` gives the JSON section (`report(year)`) and a
prometheus_client collector (`collector(year)`) rendering that same dict, so the two never
disagree. `section(conn, year, ...)` is the one function underneath: one read-only REPEATABLE
READ transaction on a psycopg connection (not in a transaction), the reference data (areas) and
the floor of services/disaster_relief/reference/reserve.json. No Nameko here; the clock is only used to tell
which deadlines have passed without their report (`overdue`), and it is injectable.

Conventions as for dibao (docs/reporting.md): every metric is a gauge; money in yuan (`_yuan`);
ratios 0..1 (`_ratio`); per-area metrics carry `area`; what is measured for a year carries `year`
(the incident's year of occurrence; deposits and disbursements by their date); reserve balances
are state now and carry no year. A ratio without a denominator has no sample (JSON null).
"""
from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from services.disaster_relief import readmodel as projection
from services.reporting.queries import fetch, snapshot_cursor
from shared import referencedata
from shared.referencedata import ReferenceData

log = logging.getLogger(__name__)

DEFAULT_SCHEMA = "read_model"
RELATIONS = tuple([*projection.TABLES, *projection.VIEWS])
STAGES_WITH_DEADLINES = ("initial", "final")
TIMELINESS = ("on_time", "late", "no_deadline")
ZERO = Decimal("0.00")

# name -> (help, label names); docs/disaster_relief.md lists the same names.
METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "disaster_relief_read_model_initialised": (
        "1 if the projection has created the disaster relief read model, else 0 (all figures are then zero)", ()),
    "disaster_relief_reserve_floor_yuan": (
        "The floor every town and street's relief reserve should hold (services/disaster_relief/reference/reserve.json)", ()),
    "disaster_relief_reserve_balance_yuan": ("Relief reserve balance of the town or street now, yuan", ("area",)),
    "disaster_relief_reserve_below_floor": ("1 if the area's reserve balance is below the floor now, else 0", ("area",)),
    "disaster_relief_reserves_below_floor": ("Towns and streets whose reserve is below the floor now", ()),
    "disaster_relief_reserve_deposits_yuan": ("Deposits into the area's reserve dated in the year, yuan", ("area", "year")),
    "disaster_relief_reserve_disbursements_yuan": (
        "Disbursements out of the area's reserve dated in the year, yuan", ("area", "year")),
    "disaster_relief_incidents": (
        "Incidents that occurred in the year, by type, response level now (none below every level) and status",
        ("incident_type", "level", "status", "year")),
    "disaster_relief_reports": (
        "Reports on incidents of the year by stage and timeliness (on_time, late, no_deadline)",
        ("stage", "timeliness", "year")),
    "disaster_relief_reports_on_time_ratio": (
        "Reports of the stage made by their deadline / reports of the stage that have a deadline",
        ("stage", "year")),
    "disaster_relief_all_reports_on_time_ratio": (
        "Reports made by their deadline / reports that have a deadline, every stage", ("year",)),
    "disaster_relief_reports_overdue": (
        "Open incidents of the year whose deadline for the stage has passed without that report",
        ("stage", "year")),
    "disaster_relief_roster_households": (
        "Households on the relief rosters of the year's incidents, by the area they live in", ("area", "year")),
    "disaster_relief_roster_persons": (
        "People in the households on the relief rosters of the year's incidents", ("area", "year")),
    "disaster_relief_aided_households": (
        "Roster households of the year's incidents that received any aid (cash or in kind)", ("area", "year")),
    "disaster_relief_aid_yuan": (
        "Cash relief disbursed for the year's incidents to households of the area, yuan", ("area", "year")),
    "disaster_relief_incident_aid_yuan": (
        "Cash relief disbursed for one incident, yuan", ("incident", "incident_type", "occurred_on", "year")),
    "disaster_relief_in_kind_aid_quantity": (
        "In-kind aid given for the year's incidents to households of the area, in the item's unit",
        ("area", "item", "unit", "year")),
}


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def money(value) -> str:
    return str(Decimal(value).quantize(Decimal("0.01")))


def load_floor(directory: Path | None = None) -> Decimal:
    from services.disaster_relief.rules import REFERENCE_DIR
    path = Path(directory or REFERENCE_DIR) / "reserve.json"
    return Decimal(str(json.loads(path.read_text(encoding="utf-8"))["floor_yuan"])).quantize(Decimal("0.01"))


# --- reading the read model --------------------------------------------------------------------------

QUERIES = {
    "reserves": "SELECT area, balance, floor, below_floor FROM {s}.dr_reserve_status",
    "movements": """SELECT area, kind, sum(amount) AS amount FROM {s}.dr_reserve_movements
                    WHERE on_date >= make_date(%(year)s, 1, 1) AND on_date < make_date(%(year)s + 1, 1, 1)
                    GROUP BY area, kind""",
    "incidents": """SELECT i.incident_id::text AS incident_id, i.incident_type, i.areas,
                           to_char(i.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS occurred_at,
                           i.occurred_on::text AS occurred_on,
                           i.status, i.level, i.last_stage, i.deaths, i.missing, i.relocated,
                           i.houses_damaged, i.direct_loss, i.closed_on::text AS closed_on,
                           (SELECT count(*) FROM {s}.dr_roster r WHERE r.incident_id = i.incident_id) AS roster,
                           (SELECT count(*) FROM {s}.dr_reports r WHERE r.incident_id = i.incident_id AND r.late) AS late
                    FROM {s}.dr_incidents i WHERE i.year = %(year)s ORDER BY i.occurred_at""",
    "timeliness": "SELECT stage, timeliness, reports FROM {s}.dr_report_timeliness WHERE year = %(year)s",
    "overdue": """SELECT d.stage, count(*) AS incidents FROM {s}.dr_deadlines d
                  JOIN {s}.dr_incidents i ON i.incident_id = d.incident_id
                  WHERE i.year = %(year)s AND i.status = 'open' AND d.deadline < %(now)s
                    AND NOT EXISTS (SELECT 1 FROM {s}.dr_reports r
                                    WHERE r.incident_id = d.incident_id AND r.stage = d.stage)
                  GROUP BY d.stage""",
    "roster": "SELECT area, households, persons FROM {s}.dr_roster_by_area WHERE year = %(year)s",
    "aid": """SELECT a.incident_id::text AS incident_id, a.area, a.cash, a.households_aided
              FROM {s}.dr_aid_by_incident a JOIN {s}.dr_incidents i ON i.incident_id = a.incident_id
              WHERE i.year = %(year)s""",
    "aided": """SELECT a.area, count(DISTINCT (a.incident_id, a.household_id)) AS households
                FROM {s}.dr_aid a JOIN {s}.dr_incidents i ON i.incident_id = a.incident_id
                WHERE i.year = %(year)s GROUP BY a.area""",
    "in_kind": """SELECT a.area, a.item, a.unit, sum(a.quantity) AS quantity
                  FROM {s}.dr_aid a JOIN {s}.dr_incidents i ON i.incident_id = a.incident_id
                  WHERE i.year = %(year)s AND a.kind = 'in_kind' GROUP BY a.area, a.item, a.unit""",
}


def read(conn, schema: str, year: int, now: datetime) -> tuple[dict | None, list[str]]:
    """(every query's rows, missing relations), from one read-only snapshot; no rows when the
    read model is not initialised."""
    with snapshot_cursor(conn, schema, RELATIONS) as (curs, missing):
        if curs is None:
            return None, missing
        return {name: fetch(curs, schema, query, {"year": year, "now": now})
                for name, query in QUERIES.items()}, []


# --- the section ------------------------------------------------------------------------------------------

def ratio(numerator: int, denominator: int) -> float | None:
    return float(Fraction(numerator, denominator)) if denominator else None


def build(rows: dict | None, year: int, reference: ReferenceData, floor: Decimal,
          missing: list[str] | None = None) -> dict:
    """The JSON section from the query rows (None: read model not initialised, all zeros)."""
    rows = rows or {name: [] for name in QUERIES}
    codes = sorted(set(reference.areas) | {r["area"] for r in rows["reserves"]})
    reserves = {code: {"balance_yuan": "0.00", "floor_yuan": money(floor), "below_floor": floor > 0,
                       "opened": False, "deposits_in_year_yuan": "0.00",
                       "disbursements_in_year_yuan": "0.00"} for code in codes}
    for row in rows["reserves"]:
        reserves[row["area"]].update(balance_yuan=money(row["balance"]), floor_yuan=money(row["floor"]),
                                     below_floor=bool(row["below_floor"]), opened=True)
    for row in rows["movements"]:
        key = "deposits_in_year_yuan" if row["kind"] == "deposit" else "disbursements_in_year_yuan"
        reserves[row["area"]][key] = money(row["amount"])
    return {"year": year, "initialised": not missing, "missing": missing or [],
            "floor_yuan": money(floor),
            "reserves": reserves,
            "reserves_below_floor": sum(1 for r in reserves.values() if r["below_floor"]),
            "reports": _reports(rows),
            "incidents": _incidents(rows),
            "areas": _areas(rows, codes)}


def _reports(rows: dict) -> dict:
    stages = {stage: {**dict.fromkeys(TIMELINESS, 0), "overdue": 0}
              for stage in ("initial", "follow_up", "final")}
    for row in rows["timeliness"]:
        stages.setdefault(row["stage"], {**dict.fromkeys(TIMELINESS, 0), "overdue": 0})
        stages[row["stage"]][row["timeliness"]] = int(row["reports"])
    for row in rows["overdue"]:
        stages[row["stage"]]["overdue"] = int(row["incidents"])
    for counts in stages.values():
        counts["on_time_ratio"] = ratio(counts["on_time"], counts["on_time"] + counts["late"])
    on_time = sum(s["on_time"] for s in stages.values())
    late = sum(s["late"] for s in stages.values())
    return {"by_stage": stages, "on_time": on_time, "late": late,
            "on_time_ratio": ratio(on_time, on_time + late)}


def _incidents(rows: dict) -> list[dict]:
    aid = defaultdict(lambda: {"cash": ZERO, "households": 0})
    for row in rows["aid"]:
        aid[row["incident_id"]]["cash"] += Decimal(row["cash"])
        aid[row["incident_id"]]["households"] += int(row["households_aided"])
    return [{"incident_id": row["incident_id"], "incident_type": row["incident_type"],
             "areas": list(row["areas"]), "occurred_at": row["occurred_at"],
             "occurred_on": row["occurred_on"], "status": row["status"],
             "level": row["level"], "last_stage": row["last_stage"],
             "figures": {"deaths": row["deaths"], "missing": row["missing"], "relocated": row["relocated"],
                         "houses_damaged": row["houses_damaged"], "direct_loss": money(row["direct_loss"])},
             "late_reports": int(row["late"]), "roster_households": int(row["roster"]),
             "aid_yuan": money(aid[row["incident_id"]]["cash"]),
             "aided_households": aid[row["incident_id"]]["households"], "closed_on": row["closed_on"]}
            for row in rows["incidents"]]


def _areas(rows: dict, codes: list[str]) -> dict:
    areas = {code: {"roster_households": 0, "roster_persons": 0, "aided_households": 0,
                    "aid_yuan": ZERO, "in_kind": {}} for code in codes}

    def area(code):
        return areas.setdefault(code, {"roster_households": 0, "roster_persons": 0,
                                       "aided_households": 0, "aid_yuan": ZERO, "in_kind": {}})
    for row in rows["roster"]:
        area(row["area"]).update(roster_households=int(row["households"]), roster_persons=int(row["persons"]))
    for row in rows["aided"]:
        area(row["area"])["aided_households"] = int(row["households"])
    for row in rows["aid"]:
        area(row["area"])["aid_yuan"] += Decimal(row["cash"])
    for row in rows["in_kind"]:
        area(row["area"])["in_kind"][row["item"]] = {"quantity": int(row["quantity"]), "unit": row["unit"]}
    for entry in areas.values():
        entry["aid_yuan"] = money(entry["aid_yuan"])
    return dict(sorted(areas.items()))


def families(report: dict) -> list[Metric]:
    """The section as Prometheus gauge families."""
    found: dict[str, GaugeMetricFamily] = {}

    def add(name: str, labels: dict, value) -> None:
        if value is None:
            return
        documentation, names = METRICS[name]
        if tuple(labels) != names:
            raise RuntimeError(f"{name}: labels {tuple(labels)} are not the declared {names}")
        if name not in found:
            found[name] = GaugeMetricFamily(name, documentation, labels=list(names))
        found[name].add_metric([str(v) for v in labels.values()], float(value))

    year = str(report["year"])
    add("disaster_relief_read_model_initialised", {}, int(report["initialised"]))
    add("disaster_relief_reserve_floor_yuan", {}, report["floor_yuan"])
    add("disaster_relief_reserves_below_floor", {}, report["reserves_below_floor"])
    for code, reserve in report["reserves"].items():
        add("disaster_relief_reserve_balance_yuan", {"area": code}, reserve["balance_yuan"])
        add("disaster_relief_reserve_below_floor", {"area": code}, int(reserve["below_floor"]))
        add("disaster_relief_reserve_deposits_yuan", {"area": code, "year": year}, reserve["deposits_in_year_yuan"])
        add("disaster_relief_reserve_disbursements_yuan", {"area": code, "year": year},
            reserve["disbursements_in_year_yuan"])
    counted: dict[tuple, int] = defaultdict(int)
    for incident in report["incidents"]:
        counted[(incident["incident_type"], incident["level"] or "none", incident["status"])] += 1
        add("disaster_relief_incident_aid_yuan",
            {"incident": incident["incident_id"], "incident_type": incident["incident_type"],
             "occurred_on": incident["occurred_on"], "year": year}, incident["aid_yuan"])
    for (kind, level, status), number in sorted(counted.items()):
        add("disaster_relief_incidents", {"incident_type": kind, "level": level, "status": status, "year": year},
            number)
    for stage, counts in report["reports"]["by_stage"].items():
        for timeliness in TIMELINESS:
            add("disaster_relief_reports", {"stage": stage, "timeliness": timeliness, "year": year},
                counts[timeliness])
        add("disaster_relief_reports_on_time_ratio", {"stage": stage, "year": year}, counts["on_time_ratio"])
        add("disaster_relief_reports_overdue", {"stage": stage, "year": year}, counts["overdue"])
    add("disaster_relief_all_reports_on_time_ratio", {"year": year}, report["reports"]["on_time_ratio"])
    for code, area in report["areas"].items():
        labels = {"area": code, "year": year}
        add("disaster_relief_roster_households", labels, area["roster_households"])
        add("disaster_relief_roster_persons", labels, area["roster_persons"])
        add("disaster_relief_aided_households", labels, area["aided_households"])
        add("disaster_relief_aid_yuan", labels, area["aid_yuan"])
        for item, given in sorted(area["in_kind"].items()):
            add("disaster_relief_in_kind_aid_quantity",
                {"area": code, "item": item, "unit": given["unit"], "year": year}, given["quantity"])
    return list(found.values())


def section(conn, year: int, schema: str = DEFAULT_SCHEMA, reference: ReferenceData | None = None,
            floor: Decimal | None = None, now: datetime | None = None) -> tuple[dict, list[Metric]]:
    """The disaster relief section for a year: (JSON-ready dict, Prometheus metric families)."""
    reference = reference or ReferenceData.load()
    floor = load_floor() if floor is None else floor
    rows, missing = read(conn, schema, year, now or utc_now())
    report = build(rows, year, reference, floor, missing)
    return report, families(report)


# --- what the reporting service holds ----------------------------------------------------------------------

class DisasterReliefSection:
    """`connect()` returns a context manager yielding a psycopg connection not in a transaction
    (the reporting service's `Reporting.connect`)."""

    def __init__(self, connect: Callable[[], AbstractContextManager], schema: str = DEFAULT_SCHEMA,
                 reference_dir: Path | None = None, now: Callable[[], datetime] = utc_now):
        self.connect = connect
        self.schema = schema
        self.reference = ReferenceData.load(reference_dir)
        self.floor = load_floor(reference_dir)
        self.now = now

    def read(self, year: int) -> tuple[dict, list[Metric]]:
        from services.reporting.queries import DatabaseMissing
        try:
            with self.connect() as conn:
                return section(conn, year, self.schema, self.reference, self.floor, self.now())
        except DatabaseMissing as missing:
            report = build(None, year, self.reference, self.floor, missing=[f"database {missing.dbname}"])
            return report, families(report)

    def report(self, year: int) -> dict:
        return self.read(year)[0]

    def collector(self, year: Callable[[], int]) -> Collector:
        return _Collector(self, year)


class _Collector(Collector):
    def __init__(self, section_: DisasterReliefSection, year: Callable[[], int]):
        self.section = section_
        self.year = year

    def describe(self) -> list:
        return []  # registering must not query the database

    def collect(self) -> Iterator[Metric]:
        try:
            _report, found = self.section.read(self.year())
        except Exception as error:  # noqa: BLE001 — a scrape must still answer (reporting_read_model_up says why)
            log.warning("reporting: the disaster relief read model could not be read: %r", error)
            return
        yield from found
