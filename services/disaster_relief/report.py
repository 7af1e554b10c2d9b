"""The disaster relief (救灾应急) report section: the relief reserves against the plan's floor,
report timeliness, relief rosters and aid, read from the projection's `dr_` tables (readmodel.py).

One report section (shared/report_kit.py `Section`): `read` runs QUERIES inside the report's one
snapshot, `build` makes the JSON section (`report["disaster_relief"]`) with the reference data
(areas) and the floor of services/disaster_relief/reference/reserve.json, `families` renders that
same dict as Prometheus metrics. No Nameko, no eventsourcing; the report's clock (`ctx.now`) is
only used to tell which deadlines have passed without their report (`overdue`).

Conventions as for dibao (docs/reporting.md): every metric is a gauge; money in yuan (`_yuan`);
ratios 0..1 (`_ratio`); per-area metrics carry `area`; what is measured for a year carries `year`
(the incident's year of occurrence; deposits and disbursements by their date); reserve balances
are state now and carry no year. A ratio without a denominator has no sample (JSON null).
"""
from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from prometheus_client.core import Metric

from services.disaster_relief import DOMAIN
from services.disaster_relief import readmodel as projection
from shared.report_kit import ZERO, Context, Families, fetch, money, number, ratio

RELATIONS = tuple([*projection.TABLES, *projection.VIEWS])
TARGETS: tuple[str, ...] = ()          # the floor is the domain's own reference data, not a target
STAGES_WITH_DEADLINES = ("initial", "final")
TIMELINESS = ("on_time", "late", "no_deadline")

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



@lru_cache(maxsize=4)
def load_floor(directory: Path | None = None) -> Decimal:
    """The floor every town and street's reserve should hold (reference/reserve.json)."""
    path = Path(directory or DOMAIN.reference_dir) / "reserve.json"
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



def read(curs, ctx: Context) -> dict:
    """Every query's rows, on the report's snapshot cursor."""
    return {name: fetch(curs, ctx.schema, query, {"year": ctx.year, "now": ctx.now})
            for name, query in QUERIES.items()}


# --- the section ------------------------------------------------------------------------------------------

def build(rows: dict | None, ctx: Context, missing: list[str]) -> dict:
    """The JSON section from the query rows (None: read model not initialised, all zeros)."""
    floor = load_floor()
    rows = rows or {name: [] for name in QUERIES}
    codes = sorted(set(ctx.reference.areas) | {r["area"] for r in rows["reserves"]})
    reserves = {code: {"balance_yuan": "0.00", "floor_yuan": money(floor), "below_floor": floor > 0,
                       "opened": False, "deposits_in_year_yuan": "0.00",
                       "disbursements_in_year_yuan": "0.00"} for code in codes}
    for row in rows["reserves"]:
        reserves[row["area"]].update(balance_yuan=money(row["balance"]), floor_yuan=money(row["floor"]),
                                     below_floor=bool(row["below_floor"]), opened=True)
    for row in rows["movements"]:
        key = "deposits_in_year_yuan" if row["kind"] == "deposit" else "disbursements_in_year_yuan"
        reserves[row["area"]][key] = money(row["amount"])
    return {"year": ctx.year, "initialised": not missing, "missing": list(missing),
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
        counts["on_time_ratio"] = number(ratio(counts["on_time"], counts["on_time"] + counts["late"]))
    on_time = sum(s["on_time"] for s in stages.values())
    late = sum(s["late"] for s in stages.values())
    return {"by_stage": stages, "on_time": on_time, "late": late,
            "on_time_ratio": number(ratio(on_time, on_time + late))}


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


def families(section: dict | None, ctx: Context) -> list[Metric]:
    """The section as Prometheus gauge families (none when the database could not be read)."""
    if section is None:
        return []
    out = Families(METRICS)
    add = out.add
    year = str(section["year"])
    add("disaster_relief_read_model_initialised", {}, int(section["initialised"]))
    add("disaster_relief_reserve_floor_yuan", {}, section["floor_yuan"])
    add("disaster_relief_reserves_below_floor", {}, section["reserves_below_floor"])
    for code, reserve in section["reserves"].items():
        add("disaster_relief_reserve_balance_yuan", {"area": code}, reserve["balance_yuan"])
        add("disaster_relief_reserve_below_floor", {"area": code}, int(reserve["below_floor"]))
        add("disaster_relief_reserve_deposits_yuan", {"area": code, "year": year}, reserve["deposits_in_year_yuan"])
        add("disaster_relief_reserve_disbursements_yuan", {"area": code, "year": year},
            reserve["disbursements_in_year_yuan"])
    counted: dict[tuple, int] = defaultdict(int)
    for incident in section["incidents"]:
        counted[(incident["incident_type"], incident["level"] or "none", incident["status"])] += 1
        add("disaster_relief_incident_aid_yuan",
            {"incident": incident["incident_id"], "incident_type": incident["incident_type"],
             "occurred_on": incident["occurred_on"], "year": year}, incident["aid_yuan"])
    for (kind, level, status), number in sorted(counted.items()):
        add("disaster_relief_incidents", {"incident_type": kind, "level": level, "status": status, "year": year},
            number)
    for stage, counts in section["reports"]["by_stage"].items():
        for timeliness in TIMELINESS:
            add("disaster_relief_reports", {"stage": stage, "timeliness": timeliness, "year": year},
                counts[timeliness])
        add("disaster_relief_reports_on_time_ratio", {"stage": stage, "year": year}, counts["on_time_ratio"])
        add("disaster_relief_reports_overdue", {"stage": stage, "year": year}, counts["overdue"])
    add("disaster_relief_all_reports_on_time_ratio", {"year": year}, section["reports"]["on_time_ratio"])
    for code, area in section["areas"].items():
        labels = {"area": code, "year": year}
        add("disaster_relief_roster_households", labels, area["roster_households"])
        add("disaster_relief_roster_persons", labels, area["roster_persons"])
        add("disaster_relief_aided_households", labels, area["aided_households"])
        add("disaster_relief_aid_yuan", labels, area["aid_yuan"])
        for item, given in sorted(area["in_kind"].items()):
            add("disaster_relief_in_kind_aid_quantity",
                {"area": code, "item": item, "unit": given["unit"], "year": year}, given["quantity"])
    return out.collect()
