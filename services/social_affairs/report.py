"""The social affairs (社会事务) report section: migration progress per hall, halls to the management
standard, grave mounds per area, the marriage qualification rate and divorce registrations, read
from the projection's `saf_` tables and views (readmodel.py), measured against the year's targets.

One report section (shared/report_kit.py `Section`): `read` runs QUERIES inside the report's one
snapshot, `build` makes the JSON section (`report["social_affairs"]`) with the reference data
(areas; the migration plan of services/social_affairs/reference/funeral.json), `families` renders
that same dict as Prometheus metrics. No Nameko, no eventsourcing. Definitions and metric names:
docs/social_affairs.md.

- migration preparation ratio = halls of the plan whose preparation was completed by the
  deadline / halls of the plan (target 100 % in 2007);
- migration progress of a hall = urns moved out by the plan / (moved out + urns still there);
- halls to standard = halls inspected in the year with no open finding now / halls inspected
  in the year;
- new, rebuilt grave mounds = found in the year; unresolved = found in the year or before and
  not resolved now (targets 0);
- marriage qualification rate = registrations of the year not found unlawful / registrations of
  the year (a later finding counts against the year of the registration; target 100 %);
- divorce registrations = divorces registered in the year.
Ratios whose denominator is zero are None (JSON null; no Prometheus sample).
"""
from __future__ import annotations

import json
from collections import defaultdict
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

from prometheus_client.core import Metric

from services.social_affairs import DOMAIN
from services.social_affairs import readmodel as projection
from shared.report_kit import Context, Families, Targets, count, fetch, flag, level, ratio

RELATIONS = tuple([*projection.TABLES, *projection.VIEWS])
PREPARATION_TARGET = "social_affairs_migration_preparation_ratio"
STANDARD_TARGET = "social_affairs_halls_to_standard_ratio"
NEW_TARGET = "social_affairs_new_grave_mounds"
REBUILT_TARGET = "social_affairs_rebuilt_grave_mounds"
UNRESOLVED_TARGET = "social_affairs_unresolved_grave_mounds"
QUALIFICATION_TARGET = "social_affairs_marriage_qualification_ratio"
TARGETS = (PREPARATION_TARGET, STANDARD_TARGET, NEW_TARGET, REBUILT_TARGET, UNRESOLVED_TARGET,
           QUALIFICATION_TARGET)
MOUND_KINDS = ("new", "rebuilt", "unresolved")


@lru_cache(maxsize=4)
def load_plan(directory: Path | None = None) -> dict:
    """The migration plan (reference/funeral.json): sources, destination, deadline."""
    path = Path(directory or DOMAIN.reference_dir) / "funeral.json"
    return json.loads(path.read_text(encoding="utf-8"))["migration"]


# --- reading the read model --------------------------------------------------------------------------

QUERIES = {
    "halls": """SELECT code, name, area, kind, niches, urns, migrated_out, migrated_in,
                       prepared_on::text AS prepared_on, preparation_on_time, open_findings,
                       last_inspected_on::text AS last_inspected_on, last_passed
                FROM {s}.saf_hall_occupancy ORDER BY code""",
    "inspections": """SELECT h.code, count(*) AS inspections, count(*) FILTER (WHERE i.passed) AS passed
                      FROM {s}.saf_hall_inspections i JOIN {s}.saf_halls h USING (hall_id)
                      WHERE extract(year FROM i.inspected_on) = %(year)s GROUP BY h.code""",
    "mounds": "SELECT area, year, new, rebuilt, unresolved, resolved FROM {s}.saf_area_mounds",
    "mound_inspections": """SELECT area, count(*) AS inspections FROM {s}.saf_mound_inspections
                            WHERE extract(year FROM inspected_on) = %(year)s GROUP BY area""",
    "marriages": """SELECT area, registrations, found_unlawful, qualified
                    FROM {s}.saf_marriage_qualification WHERE year = %(year)s""",
    "refusals": """SELECT area, rule, count(*) AS refusals FROM {s}.saf_marriage_refusals
                   WHERE extract(year FROM applied_on) = %(year)s GROUP BY area, rule""",
    "divorces": """SELECT area, registered, after_cooling_off FROM {s}.saf_divorce_registrations
                   WHERE year = %(year)s""",
    "divorce_applications": """SELECT area, count(*) AS filed,
                                      count(*) FILTER (WHERE withdrawn_on IS NOT NULL) AS withdrawn
                               FROM {s}.saf_divorces WHERE extract(year FROM filed_on) = %(year)s
                               GROUP BY area""",
}


def read(curs, ctx: Context) -> dict:
    """Every query's rows, on the report's snapshot cursor."""
    return {name: fetch(curs, ctx.schema, query, {"year": ctx.year}) for name, query in QUERIES.items()}


# --- the section ------------------------------------------------------------------------------------------

def _area_counts() -> dict:
    return {"new": 0, "rebuilt": 0, "unresolved": 0, "resolved": 0, "mound_inspections": 0,
            "registrations": 0, "found_unlawful": 0, "qualified": 0, "refusals": {},
            "divorces_registered": 0, "divorces_after_cooling_off": 0, "divorce_applications": 0,
            "divorce_applications_withdrawn": 0}


def _area_metrics(c: dict, targets: Targets) -> dict:
    return {
        "new_grave_mounds": targets.measure(NEW_TARGET, Fraction(c["new"]), "mounds"),
        "rebuilt_grave_mounds": targets.measure(REBUILT_TARGET, Fraction(c["rebuilt"]), "mounds"),
        "unresolved_grave_mounds": targets.measure(UNRESOLVED_TARGET, Fraction(c["unresolved"]), "mounds"),
        "grave_mounds_resolved": count(c["resolved"], "mounds"),
        "grave_mound_inspections": count(c["mound_inspections"], "inspections"),
        "marriage_registrations": count(c["registrations"], "registrations"),
        "marriages_found_unlawful": count(c["found_unlawful"], "registrations"),
        "marriage_qualification_ratio": targets.measure(
            QUALIFICATION_TARGET, ratio(c["qualified"], c["registrations"]),
            qualified=c["qualified"], registrations=c["registrations"]),
        "marriage_refusals": count(sum(c["refusals"].values()), "applications",
                                   by_rule=dict(sorted(c["refusals"].items()))),
        "divorce_registrations": count(c["divorces_registered"], "registrations",
                                       after_cooling_off=c["divorces_after_cooling_off"]),
        "divorce_applications": count(c["divorce_applications"], "applications",
                                      withdrawn=c["divorce_applications_withdrawn"]),
    }


def build(rows: dict | None, ctx: Context, missing: list[str]) -> dict:
    """The JSON section from the query rows (None: read model not initialised, all zeros)."""
    rows = rows or {name: [] for name in QUERIES}
    plan, targets = load_plan(), ctx.targets
    halls = _halls(rows, plan, ctx.year)
    codes = sorted(set(ctx.reference.areas) | {r["area"] for name in ("mounds", "marriages", "refusals",
                                                                      "divorces", "divorce_applications",
                                                                      "mound_inspections")
                                               for r in rows[name]})
    areas = {code: _area_counts() for code in codes}
    for row in rows["mounds"]:
        area = areas[row["area"]]
        if row["year"] == ctx.year:
            area["new"] += int(row["new"])
            area["rebuilt"] += int(row["rebuilt"])
        if row["year"] <= ctx.year:
            area["unresolved"] += int(row["unresolved"])
        if row["year"] == ctx.year:
            area["resolved"] += int(row["resolved"])
    for row in rows["mound_inspections"]:
        areas[row["area"]]["mound_inspections"] = int(row["inspections"])
    for row in rows["marriages"]:
        areas[row["area"]].update(registrations=int(row["registrations"]),
                                  found_unlawful=int(row["found_unlawful"]), qualified=int(row["qualified"]))
    for row in rows["refusals"]:
        areas[row["area"]]["refusals"][row["rule"]] = int(row["refusals"])
    for row in rows["divorces"]:
        areas[row["area"]].update(divorces_registered=int(row["registered"]),
                                  divorces_after_cooling_off=int(row["after_cooling_off"]))
    for row in rows["divorce_applications"]:
        areas[row["area"]].update(divorce_applications=int(row["filed"]),
                                  divorce_applications_withdrawn=int(row["withdrawn"]))
    district = _area_counts()
    for counts in areas.values():
        for key, value in counts.items():
            if key == "refusals":
                for rule, n in value.items():
                    district["refusals"][rule] = district["refusals"].get(rule, 0) + n
            else:
                district[key] += value
    metrics = _area_metrics(district, targets)
    metrics.update(_hall_metrics(halls, plan, targets))
    return {"section": "social_affairs", "year": ctx.year,
            "read_model": {"initialised": not missing, "missing": list(missing)},
            "targets": {key: targets.entries.get(key) for key in TARGETS},
            "migration_plan": {"sources": list(plan["sources"]), "destination": plan["destination"],
                               "preparation_deadline": plan["preparation_deadline"],
                               "moves_from": plan["moves_from"], "moves_until": plan["moves_until"]},
            "district": {"metrics": metrics},
            "halls": halls,
            "areas": {code: {"code": code, "name": (ctx.reference.areas.get(code) or {}).get("name"),
                             "in_reference_data": code in ctx.reference.areas,
                             "metrics": _area_metrics(counts, targets)} for code, counts in areas.items()}}


def _halls(rows: dict, plan: dict, year: int) -> dict:
    inspected = {r["code"]: r for r in rows["inspections"]}
    halls = {}
    for row in rows["halls"]:
        code = row["code"]
        role = "source" if code in plan["sources"] else "destination" if code == plan["destination"] else None
        moved, left = int(row["migrated_out"]), int(row["urns"])
        halls[code] = {
            "name": row["name"], "area": row["area"], "kind": row["kind"], "registered": True,
            "niches": int(row["niches"]), "urns": left, "migration_role": role,
            "migrated_out": moved, "migrated_in": int(row["migrated_in"]),
            "migration_progress_ratio": (level(ratio(moved, moved + left) if moved + left else Fraction(1),
                                               moved=moved, left=left) if role == "source" else None),
            "prepared_on": row["prepared_on"], "prepared_on_time": bool(row["preparation_on_time"]),
            "inspections_in_year": int((inspected.get(code) or {}).get("inspections", 0)),
            "inspections_passed_in_year": int((inspected.get(code) or {}).get("passed", 0)),
            "open_findings": int(row["open_findings"]), "last_inspected_on": row["last_inspected_on"],
            "to_standard": None if row["last_inspected_on"] is None else int(row["open_findings"]) == 0}
    for code in plan["sources"]:       # a hall of the plan not registered yet: nothing prepared
        halls.setdefault(code, {"name": None, "area": None, "kind": None, "registered": False, "niches": 0,
                                "urns": 0, "migration_role": "source", "migrated_out": 0, "migrated_in": 0,
                                "migration_progress_ratio": level(None), "prepared_on": None,
                                "prepared_on_time": False, "inspections_in_year": 0,
                                "inspections_passed_in_year": 0, "open_findings": 0,
                                "last_inspected_on": None, "to_standard": None})
    return dict(sorted(halls.items()))


def _hall_metrics(halls: dict, plan: dict, targets: Targets) -> dict:
    sources = [halls[code] for code in plan["sources"]]
    prepared = sum(1 for h in sources if h["prepared_on_time"])
    moved = sum(h["migrated_out"] for h in sources)
    left = sum(h["urns"] for h in sources)
    inspected = [h for h in halls.values() if h["inspections_in_year"]]
    to_standard = sum(1 for h in inspected if h["open_findings"] == 0)
    return {
        "migration_preparation_ratio": targets.measure(PREPARATION_TARGET, ratio(prepared, len(sources)),
                                                       prepared_on_time=prepared, halls=len(sources)),
        "migration_progress_ratio": level(ratio(moved, moved + left), moved=moved, left=left),
        "urns_migrated": count(moved, "urns"),
        "urns_to_migrate": count(left, "urns"),
        "halls_to_standard_ratio": targets.measure(STANDARD_TARGET, ratio(to_standard, len(inspected)),
                                                   to_standard=to_standard, inspected=len(inspected)),
        "hall_open_findings": count(sum(h["open_findings"] for h in halls.values()), "findings"),
    }


# --- Prometheus -------------------------------------------------------------------------------------------

_AY = ("area", "year")
# name -> (help, label names); docs/social_affairs.md lists the same names.
METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "social_affairs_read_model_initialised": (
        "1 if the projection has created the social affairs read model (saf_ tables), else 0", ()),
    "social_affairs_hall_niches": ("Niches of the memorial hall or cemetery", ("hall", "area")),
    "social_affairs_hall_urns": ("Urns in the hall now", ("hall", "area")),
    "social_affairs_migration_urns_moved": (
        "Urns moved out of the plan's hall into its destination by the migration", ("hall",)),
    "social_affairs_migration_progress_ratio": (
        "Urns moved out by the migration / (moved out + urns still in the hall), per hall of the plan",
        ("hall",)),
    "social_affairs_migration_prepared": (
        "1 if the plan's hall completed its preparation by the deadline, else 0", ("hall",)),
    "social_affairs_migration_preparation_ratio": (
        "Halls of the migration plan prepared by the deadline / halls of the plan", ()),
    "social_affairs_migration_preparation_target_met": (
        "1 if the migration preparation ratio meets the year's target, else 0", ()),
    "social_affairs_district_migration_progress_ratio": (
        "Urns moved by the migration / urns the plan moves (moved + left), every hall of the plan", ()),
    "social_affairs_hall_inspections": (
        "Inspections of the hall against the management standard in the year", ("hall", "area", "year")),
    "social_affairs_hall_open_findings": (
        "Findings of the hall's last inspection not corrected yet", ("hall", "area")),
    "social_affairs_halls_to_standard_ratio": (
        "Halls inspected in the year with no open finding / halls inspected in the year", ("year",)),
    "social_affairs_halls_to_standard_target_met": (
        "1 if the halls-to-standard ratio meets the year's target, else 0", ("year",)),
    "social_affairs_grave_mounds": (
        "Grave mounds: new and rebuilt ones found in the year, unresolved ones now (found by the year's end)",
        ("area", "kind", "year")),
    "social_affairs_district_grave_mounds": (
        "District-wide grave mounds: new, rebuilt (found in the year), unresolved", ("kind", "year")),
    "social_affairs_grave_mounds_target_met": (
        "1 if the district's mounds of the kind meet the year's target (none), else 0", ("kind", "year")),
    "social_affairs_grave_mounds_resolved": ("Grave mounds found in the year and resolved", _AY),
    "social_affairs_marriage_registrations": ("Marriages registered in the year", _AY),
    "social_affairs_marriages_found_unlawful": (
        "Marriages registered in the year later found unlawful", _AY),
    "social_affairs_marriage_qualification_ratio": (
        "Registrations of the year not found unlawful / registrations of the year", _AY),
    "social_affairs_district_marriage_qualification_ratio": (
        "District-wide marriage qualification rate of the year", ("year",)),
    "social_affairs_marriage_qualification_target_met": (
        "1 if the district's qualification rate meets the year's target, else 0", ("year",)),
    "social_affairs_marriage_refusals": (
        "Marriage applications refused in the year, by the rule broken", ("rule", "year")),
    "social_affairs_divorce_registrations": ("Divorces by agreement registered in the year", _AY),
    "social_affairs_divorce_applications": (
        "Divorce applications filed in the year, and of them withdrawn", ("area", "status", "year")),
}

AREA_SAMPLES = {
    "social_affairs_grave_mounds_resolved": "grave_mounds_resolved",
    "social_affairs_marriage_registrations": "marriage_registrations",
    "social_affairs_marriages_found_unlawful": "marriages_found_unlawful",
    "social_affairs_marriage_qualification_ratio": "marriage_qualification_ratio",
    "social_affairs_divorce_registrations": "divorce_registrations",
}


def families(section: dict | None, ctx: Context) -> list[Metric]:
    """The section as Prometheus gauge families (none when the database could not be read)."""
    if section is None:
        return []
    out = Families(METRICS)
    add = out.add
    year = str(section["year"])
    district = section["district"]["metrics"]
    add("social_affairs_read_model_initialised", {}, int(section["read_model"]["initialised"]))
    for code, hall in section["halls"].items():
        if hall["registered"]:
            where = {"hall": code, "area": hall["area"]}
            add("social_affairs_hall_niches", where, hall["niches"])
            add("social_affairs_hall_urns", where, hall["urns"])
            add("social_affairs_hall_inspections", dict(where, year=year), hall["inspections_in_year"])
            add("social_affairs_hall_open_findings", where, hall["open_findings"])
        if hall["migration_role"] == "source":
            add("social_affairs_migration_urns_moved", {"hall": code}, hall["migrated_out"])
            add("social_affairs_migration_progress_ratio", {"hall": code}, hall["migration_progress_ratio"]["value"])
            add("social_affairs_migration_prepared", {"hall": code}, int(hall["prepared_on_time"]))
    add("social_affairs_migration_preparation_ratio", {}, district["migration_preparation_ratio"]["value"])
    add("social_affairs_migration_preparation_target_met", {}, flag(district["migration_preparation_ratio"]["met"]))
    add("social_affairs_district_migration_progress_ratio", {}, district["migration_progress_ratio"]["value"])
    add("social_affairs_halls_to_standard_ratio", {"year": year}, district["halls_to_standard_ratio"]["value"])
    add("social_affairs_halls_to_standard_target_met", {"year": year}, flag(district["halls_to_standard_ratio"]["met"]))
    refusals: dict[str, int] = defaultdict(int)
    for code, area in section["areas"].items():
        m = area["metrics"]
        for kind in MOUND_KINDS:
            add("social_affairs_grave_mounds", {"area": code, "kind": kind, "year": year},
                m[f"{kind}_grave_mounds"]["value"])
        out.fill(AREA_SAMPLES, m, area=code, year=year)
        add("social_affairs_divorce_applications", {"area": code, "status": "filed", "year": year},
            m["divorce_applications"]["value"])
        add("social_affairs_divorce_applications", {"area": code, "status": "withdrawn", "year": year},
            m["divorce_applications"]["withdrawn"])
        for rule, n in m["marriage_refusals"]["by_rule"].items():
            refusals[rule] += n
    for kind in MOUND_KINDS:
        measured = district[f"{kind}_grave_mounds"]
        add("social_affairs_district_grave_mounds", {"kind": kind, "year": year}, measured["value"])
        add("social_affairs_grave_mounds_target_met", {"kind": kind, "year": year}, flag(measured["met"]))
    qualification = district["marriage_qualification_ratio"]
    add("social_affairs_district_marriage_qualification_ratio", {"year": year}, qualification["value"])
    add("social_affairs_marriage_qualification_target_met", {"year": year}, flag(qualification["met"]))
    for rule, n in sorted(refusals.items()):
        add("social_affairs_marriage_refusals", {"rule": rule, "year": year}, n)
    return out.collect()
