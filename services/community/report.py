"""The community-building (社区建设) report section, read from the projection's `cm_` tables and
views (readmodel.py).

One report section (shared/report_kit.py `Section`): `read` runs the queries inside the report's
one snapshot, `build` makes the JSON section (`report["community"]`), `families` renders that
same dict as Prometheus metric families. No Nameko, no eventsourcing (the named projects are read
from services/community/reference/facilities.json as plain JSON). Definitions and metric names:
docs/community.md.

- new N-star communities = communities rated N stars at the end of the year (or now, within
  it) that were not rated N or higher at its start: a community raised from 4 to 5 counts for
  five-star; one revoked (or lowered) by the end of the year counts for nothing;
- brand / digital communities per street = communities designated in the year, per area (the
  target applies to streets; the town is reported without one);
- organisation registration ratio = organisations identified by the end of the year that are
  registered or filed by then / those identified;
- organisation inspection ratio = registered organisations due in the year (registered before
  it) inspected in the year / those due;
- model village ratio = villages with municipal (or provincial) model status awarded by the end
  of the year / villages registered by then;
- village election ratio = villages with an election held within the year's window / villages;
- service centres to standard = areas (town and streets of data/areas.json) with a service
  centre of at least the standard floor area in force when recorded / areas (due: the target's
  `due`, 2008-12-31);
- committee offices to standard = offices of at least the standard floor area / offices;
- named projects completed = named projects of the year (reference/facilities.json) completed by
  the target's `due` / named projects of the year;
- new workers trained = workers hired in the year by the target's `due` (2007-06-30) trained
  by then / those hired;
- four meetings ratio = communities (registered by the end of the year) that held all four
  kinds of meeting in the year / communities.
Ratios whose denominator is zero are None (JSON null; no Prometheus sample). Targets come from
the year's targets file; a missing key gives `target`/`met` null.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from pathlib import Path

from prometheus_client.core import Metric

from shared.report_kit import Context, Families, Targets, count, fetch, flag, level, ratio

FACILITIES = Path(__file__).resolve().parent / "reference" / "facilities.json"
LEVELS = (5, 4, 3)
LEVEL_WORDS = {5: "five", 4: "four", 3: "three"}
DESIGNATIONS = ("brand", "digital")
RESULTS = ("passed", "basically_passed", "failed")
CHANNELS = ("open_recruitment", "secondment", "graduate")
STAR_TARGET = "community_new_{level}_star_communities"
DESIGNATION_TARGET = "community_{designation}_communities_per_street"
REGISTRATION_TARGET = "community_organisation_registration_ratio"
INSPECTION_TARGET = "community_organisation_inspection_ratio"
MODEL_TARGET = "community_model_village_ratio"
ELECTION_TARGET = "community_village_election_ratio"
CENTRES_TARGET = "community_service_centres_to_standard_ratio"
OFFICES_TARGET = "community_committee_offices_to_standard_ratio"
PROJECTS_TARGET = "community_named_projects_completed_ratio"
TRAINING_TARGET = "community_new_workers_trained_ratio"
MEETINGS_TARGET = "community_four_meetings_ratio"
TARGETS = (*(STAR_TARGET.format(level=LEVEL_WORDS[n]) for n in LEVELS),
           *(DESIGNATION_TARGET.format(designation=d) for d in DESIGNATIONS),
           REGISTRATION_TARGET, INSPECTION_TARGET, MODEL_TARGET, ELECTION_TARGET, CENTRES_TARGET,
           OFFICES_TARGET, PROJECTS_TARGET, TRAINING_TARGET, MEETINGS_TARGET)
RELATIONS = ("cm_communities", "cm_star_history", "cm_designations", "cm_meetings", "cm_organisations",
             "cm_organisation_inspections", "cm_villages", "cm_elections", "cm_facilities", "cm_projects",
             "cm_workers", "cm_star_communities", "cm_meeting_kinds")


def named_projects(year: int) -> list[dict]:
    document = json.loads(FACILITIES.read_text(encoding="utf-8"))
    return [p for p in document.get("named_projects", []) if p.get("year") == year]


def due(targets: Targets, key: str, default: str) -> str:
    return str((targets.entries.get(key) or {}).get("due") or default)


@dataclass
class AreaCounts:
    communities: int = 0
    rated: dict = field(default_factory=dict)         # level -> communities rated now
    new_stars: dict = field(default_factory=dict)     # level -> new in the year
    designated: dict = field(default_factory=dict)    # designation -> in the year
    four_meetings: int = 0
    identified: int = 0
    completed: int = 0
    due_inspection: int = 0
    inspected: int = 0
    results: dict = field(default_factory=dict)       # result -> inspections in the year
    villages: int = 0
    model: int = 0
    elected: int = 0
    centre_m2: int | None = None                      # the largest service centre
    centre_to_standard: bool = False
    offices: int = 0
    offices_to_standard: int = 0
    hired: dict = field(default_factory=dict)         # channel -> hired in the year
    hired_by_due: int = 0
    trained_by_due: int = 0


@dataclass
class Snapshot:
    year: int
    areas: dict = field(default_factory=dict)
    projects: dict = field(default_factory=dict)      # named code -> status, completed_on


def read(curs, ctx: Context) -> Snapshot:
    schema, year = ctx.schema, ctx.year
    snap = Snapshot(year=year)
    first, last = f"{year}-01-01", f"{year}-12-31"
    p = {"first": first, "last": last, "year": year,
         "training_due": due(ctx.targets, TRAINING_TARGET, f"{year}-06-30")}

    def area(code: str) -> AreaCounts:
        return snap.areas.setdefault(code, AreaCounts())

    for row in fetch(curs, schema, "SELECT area, count(*) AS n FROM {s}.cm_communities "
                                   "WHERE registered_on <= %(last)s GROUP BY area", p):
        area(row["area"]).communities = int(row["n"])
    for row in fetch(curs, schema, "SELECT * FROM {s}.cm_star_communities"):
        area(row["area"]).rated[int(row["level"])] = int(row["communities"])
    for row in fetch(curs, schema, """
            WITH ends AS (SELECT DISTINCT ON (community_id) community_id, area, level FROM {s}.cm_star_history
                          WHERE changed_on <= %(last)s ORDER BY community_id, version DESC),
                 starts AS (SELECT DISTINCT ON (community_id) community_id, level FROM {s}.cm_star_history
                            WHERE changed_on < %(first)s ORDER BY community_id, version DESC)
            SELECT e.area, e.level, count(*) AS n FROM ends e LEFT JOIN starts s USING (community_id)
            WHERE e.level IS NOT NULL AND (s.level IS NULL OR s.level < e.level)
            GROUP BY e.area, e.level""", p):
        area(row["area"]).new_stars[int(row["level"])] = int(row["n"])
    for row in fetch(curs, schema, """SELECT area, designation, count(*) AS n FROM {s}.cm_designations
                                      WHERE designated_on BETWEEN %(first)s AND %(last)s
                                      GROUP BY area, designation""", p):
        area(row["area"]).designated[row["designation"]] = int(row["n"])
    for row in fetch(curs, schema, """SELECT k.area, count(*) AS n FROM {s}.cm_meeting_kinds k
                                      JOIN {s}.cm_communities c USING (community_id)
                                      WHERE k.year = %(year)s AND k.kinds >= 4 AND c.registered_on <= %(last)s
                                      GROUP BY k.area""", p):
        area(row["area"]).four_meetings = int(row["n"])
    for row in fetch(curs, schema, """SELECT area, count(*) AS identified,
                                             count(*) FILTER (WHERE completed_on <= %(last)s) AS completed,
                                             count(*) FILTER (WHERE form = 'registration'
                                                              AND completed_on < %(first)s) AS due
                                      FROM {s}.cm_organisations WHERE identified_on <= %(last)s
                                      GROUP BY area""", p):
        c = area(row["area"])
        c.identified, c.completed, c.due_inspection = int(row["identified"]), int(row["completed"]), int(row["due"])
    for row in fetch(curs, schema, """SELECT i.area, i.result, count(*) AS n,
                                             count(*) FILTER (WHERE o.completed_on < %(first)s) AS due
                                      FROM {s}.cm_organisation_inspections i
                                      JOIN {s}.cm_organisations o USING (organisation_id)
                                      WHERE i.year = %(year)s GROUP BY i.area, i.result""", p):
        c = area(row["area"])
        c.results[row["result"]] = int(row["n"])
        c.inspected += int(row["due"])
    for row in fetch(curs, schema, """SELECT v.area, count(*) AS villages,
                                             count(*) FILTER (WHERE model_awarded_on <= %(last)s) AS model,
                                             count(*) FILTER (WHERE EXISTS (
                                                 SELECT 1 FROM {s}.cm_elections e WHERE e.village_id = v.village_id
                                                 AND e.in_window AND e.held_on BETWEEN %(first)s AND %(last)s)) AS elected
                                      FROM {s}.cm_villages v WHERE registered_on <= %(last)s GROUP BY v.area""", p):
        c = area(row["area"])
        c.villages, c.model, c.elected = int(row["villages"]), int(row["model"]), int(row["elected"])
    for row in fetch(curs, schema, """SELECT area, max(floor_area_m2) AS m2,
                                             bool_or(floor_area_m2 >= standard_m2) AS ok
                                      FROM {s}.cm_facilities WHERE kind = 'service_centre' GROUP BY area"""):
        c = area(row["area"])
        c.centre_m2, c.centre_to_standard = int(row["m2"]), bool(row["ok"])
    for row in fetch(curs, schema, """SELECT area, count(*) AS n, count(*) FILTER (WHERE floor_area_m2 >= standard_m2) AS ok
                                      FROM {s}.cm_facilities WHERE kind = 'committee_office' GROUP BY area"""):
        area(row["area"]).offices, area(row["area"]).offices_to_standard = int(row["n"]), int(row["ok"])
    for row in fetch(curs, schema, """SELECT area, channel, count(*) AS n FROM {s}.cm_workers
                                      WHERE hired_on BETWEEN %(first)s AND %(last)s GROUP BY area, channel""", p):
        area(row["area"]).hired[row["channel"]] = int(row["n"])
    for row in fetch(curs, schema, """SELECT area, count(*) AS hired,
                                             count(*) FILTER (WHERE EXISTS (
                                                 SELECT 1 FROM {s}.cm_trainings t WHERE t.worker_id = w.worker_id
                                                 AND t.trained_on <= %(training_due)s)) AS trained
                                      FROM {s}.cm_workers w
                                      WHERE hired_on BETWEEN %(first)s AND %(training_due)s GROUP BY area""", p):
        area(row["area"]).hired_by_due, area(row["area"]).trained_by_due = int(row["hired"]), int(row["trained"])
    for row in fetch(curs, schema, """SELECT named_code, status, completed_on FROM {s}.cm_projects
                                      WHERE named_code IS NOT NULL"""):
        snap.projects[row["named_code"]] = {"status": row["status"], "completed_on": row["completed_on"]}
    return snap


# --- the section ------------------------------------------------------------------------------------

def _sum(areas, name: str) -> int:
    return sum(getattr(a, name) for a in areas)


def _merge(areas, name: str) -> dict:
    total: dict = {}
    for a in areas:
        for k, n in getattr(a, name).items():
            total[k] = total.get(k, 0) + n
    return total


def area_metrics(c: AreaCounts, kind: str | None, targets: Targets, dues: dict) -> dict:
    street = kind == "street"
    metrics = {
        "communities": count(c.communities, "communities"),
        "star_communities": count(sum(c.rated.values()), "communities",
                                  by_level={str(n): c.rated.get(n, 0) for n in LEVELS}),
        "new_star_communities": count(sum(c.new_stars.values()), "communities",
                                      by_level={str(n): c.new_stars.get(n, 0) for n in LEVELS}),
    }
    for designation in DESIGNATIONS:
        key = DESIGNATION_TARGET.format(designation=designation)
        n = c.designated.get(designation, 0)
        metrics[f"{designation}_communities"] = (targets.measure(key, Fraction(n), "communities", applies=True)
                                                 if street else count(n, "communities", applies=False))
    metrics.update({
        "four_meetings_ratio": targets.measure(MEETINGS_TARGET, ratio(c.four_meetings, c.communities),
                                               held_all_four=c.four_meetings, communities=c.communities),
        "organisation_registration_ratio": targets.measure(
            REGISTRATION_TARGET, ratio(c.completed, c.identified), completed=c.completed, identified=c.identified),
        "organisation_inspection_ratio": targets.measure(
            INSPECTION_TARGET, ratio(c.inspected, c.due_inspection), inspected=c.inspected, due=c.due_inspection,
            by_result={r: c.results.get(r, 0) for r in RESULTS}),
        "model_village_ratio": targets.measure(MODEL_TARGET, ratio(c.model, c.villages), model=c.model,
                                               villages=c.villages),
        "village_election_ratio": targets.measure(ELECTION_TARGET, ratio(c.elected, c.villages),
                                                  elected=c.elected, villages=c.villages),
        "service_centre_to_standard": targets.measure(
            CENTRES_TARGET, Fraction(int(c.centre_to_standard)), floor_area_m2=c.centre_m2, due=dues["centres"]),
        "committee_offices_to_standard_ratio": targets.measure(
            OFFICES_TARGET, ratio(c.offices_to_standard, c.offices), to_standard=c.offices_to_standard,
            offices=c.offices),
        "new_workers_trained_ratio": targets.measure(
            TRAINING_TARGET, ratio(c.trained_by_due, c.hired_by_due), trained=c.trained_by_due,
            hired=c.hired_by_due, due=dues["training"]),
        "workers_hired": count(sum(c.hired.values()), "persons", by_channel={ch: c.hired.get(ch, 0) for ch in CHANNELS}),
    })
    return metrics


def build(snapshot: Snapshot | None, ctx: Context, missing: list[str]) -> dict:
    snapshot = snapshot or Snapshot(year=ctx.year)
    targets, year = ctx.targets, ctx.year
    dues = {"centres": due(targets, CENTRES_TARGET, f"{year}-12-31"),
            "training": due(targets, TRAINING_TARGET, f"{year}-06-30"),
            "projects": due(targets, PROJECTS_TARGET, f"{year}-12-31")}
    areas, counted, kinds = {}, [], {}
    for code in sorted(set(ctx.reference.areas) | set(snapshot.areas)):
        ref = ctx.reference.areas.get(code) or {}
        c = snapshot.areas.get(code) or AreaCounts()
        kinds[code] = ref.get("kind")
        areas[code] = {"code": code, "name": ref.get("name"), "name_en": ref.get("name_en"), "kind": ref.get("kind"),
                       "in_reference_data": bool(ref), "metrics": area_metrics(c, ref.get("kind"), targets, dues)}
        counted.append(c)
    total = AreaCounts(**{name: _sum(counted, name) for name in (
        "communities", "four_meetings", "identified", "completed", "due_inspection", "inspected", "villages",
        "model", "elected", "offices", "offices_to_standard", "hired_by_due", "trained_by_due")})
    for name in ("rated", "new_stars", "designated", "results", "hired"):
        setattr(total, name, _merge(counted, name))
    metrics = area_metrics(total, None, targets, dues)
    for n in LEVELS:
        metrics[f"new_{LEVEL_WORDS[n]}_star_communities"] = targets.measure(
            STAR_TARGET.format(level=LEVEL_WORDS[n]), Fraction(total.new_stars.get(n, 0)), "communities")
    streets = [code for code, kind in kinds.items() if kind == "street"]
    for designation in DESIGNATIONS:
        met = [code for code in streets if areas[code]["metrics"][f"{designation}_communities"]["met"]]
        metrics[f"streets_with_{designation}_communities"] = level(
            ratio(len(met), len(streets)), streets=len(streets), with_one=len(met),
            target_key=DESIGNATION_TARGET.format(designation=designation))
    served = [code for code in ctx.reference.areas]
    centres = [code for code in served if snapshot.areas.get(code) and snapshot.areas[code].centre_to_standard]
    metrics["service_centres_to_standard_ratio"] = targets.measure(
        CENTRES_TARGET, ratio(len(centres), len(served)), to_standard=len(centres), areas=len(served),
        due=dues["centres"], overdue=ctx.now.date() > date.fromisoformat(dues["centres"]) and len(centres) < len(served))
    del metrics["service_centre_to_standard"]
    named = named_projects(year)
    completed = [p["code"] for p in named if (snapshot.projects.get(p["code"]) or {}).get("status") == "completed"
                 and snapshot.projects[p["code"]]["completed_on"].isoformat() <= dues["projects"]]
    metrics["named_projects_completed_ratio"] = targets.measure(
        PROJECTS_TARGET, ratio(len(completed), len(named)), completed=len(completed), named=len(named),
        due=dues["projects"])
    projects = []
    for p in named:
        found = snapshot.projects.get(p["code"]) or {}
        projects.append({"code": p["code"], "area": p["area"], "kind": p["kind"], "name": p["name"],
                         "status": found.get("status", "not_planned"),
                         "completed_on": found["completed_on"].isoformat() if found.get("completed_on") else None})
    return {"section": "community", "year": year,
            "read_model": {"initialised": not missing, "missing": list(missing)},
            "targets": {key: targets.entries.get(key) for key in TARGETS},
            "district": {"metrics": metrics}, "named_projects": projects, "areas": areas}


# --- Prometheus -----------------------------------------------------------------------------------------

_A, _AY, _Y = ("area",), ("area", "year"), ("year",)
# name -> (help, label names); docs/community.md lists the same names.
METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "community_read_model_initialised": (
        "1 if the projection has created the community read model (cm_ tables), else 0", ()),
    "community_communities": ("Communities registered by the end of the year", _AY),
    "community_star_communities": ("Communities rated now, by star level", ("area", "level")),
    "community_new_star_communities": (
        "Communities newly rated at a star level in the year (net of revocations)", ("area", "level", "year")),
    "community_district_new_star_communities": (
        "District-wide communities newly rated at a star level in the year", ("level", "year")),
    "community_district_new_star_target_met": (
        "1 if the new communities at a star level meet the target, else 0", ("level", "year")),
    "community_designated_communities": (
        "Communities designated in the year (brand, digital)", ("area", "designation", "year")),
    "community_designation_target_met": (
        "1 if a street's designations of the year meet the target, else 0", ("area", "designation", "year")),
    "community_district_streets_with_designation_ratio": (
        "Streets with a designation of the kind in the year / streets", ("designation", "year")),
    "community_four_meetings_ratio": ("Communities that held all four meetings in the year / communities", _AY),
    "community_district_four_meetings_ratio": ("District-wide four-meetings ratio", _Y),
    "community_district_four_meetings_target_met": ("1 if the four-meetings ratio meets the target, else 0", _Y),
    "community_organisation_registration_ratio": ("Civil organisations registered or filed / identified", _AY),
    "community_district_organisation_registration_ratio": ("District-wide registration and filing ratio", _Y),
    "community_district_organisation_registration_target_met": (
        "1 if the registration and filing ratio meets the target, else 0", _Y),
    "community_organisation_inspection_ratio": (
        "Registered organisations due inspected in the year / due", _AY),
    "community_district_organisation_inspection_ratio": ("District-wide annual-inspection ratio", _Y),
    "community_district_organisation_inspection_target_met": (
        "1 if the annual-inspection ratio meets the target, else 0", _Y),
    "community_organisation_inspections": ("Annual inspections of the year by result", ("area", "result", "year")),
    "community_model_village_ratio": ("Villages of municipal model level or above / villages", _AY),
    "community_district_model_village_ratio": ("District-wide model-village ratio", _Y),
    "community_district_model_village_target_met": ("1 if the model-village ratio meets the target, else 0", _Y),
    "community_village_election_ratio": ("Villages with an election in the year's window / villages", _AY),
    "community_district_village_election_ratio": ("District-wide village election ratio", _Y),
    "community_district_village_election_target_met": ("1 if the election ratio meets the target, else 0", _Y),
    "community_service_centre_floor_area_m2": ("Floor area of the area's largest community service centre, m²", _A),
    "community_service_centre_to_standard": ("1 if the area has a service centre of the standard floor area, else 0", _A),
    "community_district_service_centres_to_standard_ratio": ("Areas with a service centre to standard / areas", ()),
    "community_district_service_centres_target_met": ("1 if the service-centre ratio meets the target, else 0", ()),
    "community_committee_offices_to_standard_ratio": ("Committee offices of the standard floor area / offices", _A),
    "community_district_committee_offices_to_standard_ratio": ("District-wide committee offices to standard", ()),
    "community_district_committee_offices_target_met": ("1 if the committee-office ratio meets the target, else 0", ()),
    "community_named_projects": ("The plan's named projects of the year by status", ("status", "year")),
    "community_district_named_projects_completed_ratio": ("Named projects completed by the due date / named", _Y),
    "community_district_named_projects_target_met": ("1 if the named projects completed meet the target, else 0", _Y),
    "community_workers_hired": ("Community workers hired in the year by channel", ("area", "channel", "year")),
    "community_new_workers_trained_ratio": ("Workers hired by the due date trained by it / hired", _AY),
    "community_district_new_workers_trained_ratio": ("District-wide new workers trained ratio", _Y),
    "community_district_new_workers_trained_target_met": ("1 if the new workers trained meet the target, else 0", _Y),
}

_RATIOS = {  # district metric key -> (area metric name, district metric name, target-met metric name, yearly)
    "four_meetings_ratio": ("community_four_meetings_ratio", "community_district_four_meetings_ratio",
                            "community_district_four_meetings_target_met", True),
    "organisation_registration_ratio": ("community_organisation_registration_ratio",
                                        "community_district_organisation_registration_ratio",
                                        "community_district_organisation_registration_target_met", True),
    "organisation_inspection_ratio": ("community_organisation_inspection_ratio",
                                      "community_district_organisation_inspection_ratio",
                                      "community_district_organisation_inspection_target_met", True),
    "model_village_ratio": ("community_model_village_ratio", "community_district_model_village_ratio",
                            "community_district_model_village_target_met", True),
    "village_election_ratio": ("community_village_election_ratio", "community_district_village_election_ratio",
                               "community_district_village_election_target_met", True),
    "committee_offices_to_standard_ratio": ("community_committee_offices_to_standard_ratio",
                                            "community_district_committee_offices_to_standard_ratio",
                                            "community_district_committee_offices_target_met", False),
    "new_workers_trained_ratio": ("community_new_workers_trained_ratio",
                                  "community_district_new_workers_trained_ratio",
                                  "community_district_new_workers_trained_target_met", True),
}


def families(section: dict | None, ctx: Context) -> list[Metric]:
    if section is None:
        return []
    out = Families(METRICS)
    add, year = out.add, str(section["year"])
    add("community_read_model_initialised", {}, 1 if section["read_model"]["initialised"] else 0)
    d = section["district"]["metrics"]
    for code, area in section["areas"].items():
        m = area["metrics"]
        add("community_communities", {"area": code, "year": year}, m["communities"]["value"])
        for n, rated in m["star_communities"]["by_level"].items():
            add("community_star_communities", {"area": code, "level": n}, rated)
        for n, new in m["new_star_communities"]["by_level"].items():
            add("community_new_star_communities", {"area": code, "level": n, "year": year}, new)
        for designation in DESIGNATIONS:
            entry = m[f"{designation}_communities"]
            labels = {"area": code, "designation": designation, "year": year}
            add("community_designated_communities", labels, entry["value"])
            if entry["applies"]:
                add("community_designation_target_met", labels, flag(entry["met"]))
        for key, (own, _, _, yearly) in _RATIOS.items():
            add(own, {"area": code, "year": year} if yearly else {"area": code}, m[key]["value"])
        for result, n in m["organisation_inspection_ratio"]["by_result"].items():
            add("community_organisation_inspections", {"area": code, "result": result, "year": year}, n)
        centre = m["service_centre_to_standard"]
        add("community_service_centre_floor_area_m2", {"area": code}, centre["floor_area_m2"])
        add("community_service_centre_to_standard", {"area": code}, centre["value"])
        for channel, n in m["workers_hired"]["by_channel"].items():
            add("community_workers_hired", {"area": code, "channel": channel, "year": year}, n)
    for n in LEVELS:
        entry = d[f"new_{LEVEL_WORDS[n]}_star_communities"]
        add("community_district_new_star_communities", {"level": str(n), "year": year}, entry["value"])
        add("community_district_new_star_target_met", {"level": str(n), "year": year}, flag(entry["met"]))
    for designation in DESIGNATIONS:
        add("community_district_streets_with_designation_ratio", {"designation": designation, "year": year},
            d[f"streets_with_{designation}_communities"]["value"])
    for key, (_, district, met, yearly) in _RATIOS.items():
        labels = {"year": year} if yearly else {}
        add(district, labels, d[key]["value"])
        add(met, labels, flag(d[key]["met"]))
    add("community_district_service_centres_to_standard_ratio", {}, d["service_centres_to_standard_ratio"]["value"])
    add("community_district_service_centres_target_met", {}, flag(d["service_centres_to_standard_ratio"]["met"]))
    statuses: dict[str, int] = {s: 0 for s in ("not_planned", "planned", "started", "completed")}
    for project in section["named_projects"]:
        statuses[project["status"]] = statuses.get(project["status"], 0) + 1
    for status, n in statuses.items():
        add("community_named_projects", {"status": status, "year": year}, n)
    add("community_district_named_projects_completed_ratio", {"year": year}, d["named_projects_completed_ratio"]["value"])
    add("community_district_named_projects_target_met", {"year": year}, flag(d["named_projects_completed_ratio"]["met"]))
    return out.collect()
