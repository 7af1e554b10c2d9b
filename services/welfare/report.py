"""The social welfare (社会福利) report section, read from the projection's `wf_` tables and views
(readmodel.py).

One report section (shared/report_kit.py `Section`): `read` runs the queries inside the report's
one snapshot, `build` makes the JSON section (`report["welfare"]`), `families` renders that same
dict as Prometheus metric families. No Nameko, no eventsourcing. Definitions and metric names:
docs/welfare.md.

- elderly-care beds per 1,000 aged 60+ = beds of the area's institutions × 1000 / the area's
  `population_60_plus` (data/areas.json); per area only where that population > 0;
- occupancy = residents (admissions not yet discharged) / beds;
- training rate = care workers with a passed course / care workers;
- support rate = persons under special support with an arrangement / persons registered, per
  category (three_no, five_guarantee);
- restructured ratio = enterprises that must restructure and did by the deadline / enterprises
  that must restructure.
Ratios whose denominator is zero are None (JSON null; no Prometheus sample). Targets (keys in
TARGETS) come from the year's targets file; a missing key gives `target`/`met` null.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from prometheus_client.core import Metric

from shared.report_kit import (ZERO, Context, Families, Targets, amount, count, fetch, flag, level,
                               money, ratio)

CATEGORIES = ("five_guarantee", "three_no")     # always reported, even with no person yet
MODES = ("centralized", "dispersed")
BEDS_TARGET = "elderly_care_beds_per_1000_aged_60_plus"
TRAINING_TARGET = "elderly_care_worker_training_ratio"
SUPPORT_TARGET = "special_support_ratio"
RESTRUCTURED_TARGET = "welfare_enterprises_restructured_ratio"
TARGETS = (BEDS_TARGET, TRAINING_TARGET, SUPPORT_TARGET, RESTRUCTURED_TARGET)
RELATIONS = ("wf_institutions", "wf_admissions", "wf_care_workers", "wf_trainings",
             "wf_supported_persons", "wf_home_care_orders", "wf_enterprises",
             "wf_enterprise_employees", "wf_enterprise_wages", "wf_enterprise_rebates",
             "wf_area_elderly_care", "wf_area_care_workers", "wf_area_special_support",
             "wf_area_enterprises")


# --- what the read model holds ------------------------------------------------------------------

@dataclass
class Support:
    persons: int = 0
    arranged: int = 0
    by_mode: dict[str, int] = field(default_factory=dict)
    without_medical_care: int = 0


@dataclass
class AreaWelfare:
    """One area's numbers (every field defaults to zero)."""
    institutions: dict[str, int] = field(default_factory=dict)     # kind -> count
    beds: int = 0
    residents: int = 0
    admissions: int = 0          # admitted in the report year
    discharges: int = 0          # discharged in the report year
    workers: int = 0
    trained: int = 0
    support: dict[str, Support] = field(default_factory=lambda: defaultdict(Support))
    orders: list[dict] = field(default_factory=list)   # service, payment, status, orders, amount
    enterprises: int = 0
    flagged: int = 0
    restructuring_required: int = 0
    restructured: int = 0
    restructured_on_time: int = 0
    disabled_employees: int = 0
    staff: int = 0
    wages: Decimal = ZERO
    social_insurance: Decimal = ZERO
    rebates: int = 0
    rebates_amount: Decimal = ZERO


@dataclass
class Snapshot:
    year: int
    areas: dict[str, AreaWelfare] = field(default_factory=lambda: defaultdict(AreaWelfare))


def read(curs, ctx: Context) -> Snapshot:
    """The section's queries, on the report's snapshot cursor."""
    snapshot = Snapshot(year=ctx.year)
    _read(curs, ctx.schema, snapshot)
    return snapshot


def _read(curs, schema: str, snap: Snapshot) -> None:
    year = {"first": f"{snap.year}-01-01", "last": f"{snap.year}-12-31", "prefix": f"{snap.year}-%"}
    for row in fetch(curs, schema, """SELECT area, public_institutions, private_institutions,
                                       beds, occupied FROM {s}.wf_area_elderly_care"""):
        area = snap.areas[row["area"]]
        area.institutions = {"public": int(row["public_institutions"]),
                             "private": int(row["private_institutions"])}
        area.beds, area.residents = int(row["beds"]), int(row["occupied"])
    for row in fetch(curs, schema, """
            SELECT area, count(*) FILTER (WHERE admitted_on BETWEEN %(first)s AND %(last)s) AS admitted,
                   count(*) FILTER (WHERE discharged_on BETWEEN %(first)s AND %(last)s) AS discharged
            FROM {s}.wf_admissions GROUP BY area""", year):
        snap.areas[row["area"]].admissions = int(row["admitted"])
        snap.areas[row["area"]].discharges = int(row["discharged"])
    for row in fetch(curs, schema, "SELECT area, workers, trained FROM {s}.wf_area_care_workers"):
        area = snap.areas[row["area"]]
        area.workers, area.trained = int(row["workers"]), int(row["trained"])
    for row in fetch(curs, schema, "SELECT * FROM {s}.wf_area_special_support"):
        support = snap.areas[row["area"]].support[row["category"]]
        support.persons, support.arranged = int(row["persons"]), int(row["arranged"])
        support.by_mode = {mode: int(row[mode]) for mode in MODES}
        support.without_medical_care = int(row["flagged_without_medical_care"])
    _read_orders(curs, schema, snap, year)
    _read_enterprises(curs, schema, snap, year)


def _read_orders(curs, schema: str, snap: Snapshot, year: dict) -> None:
    for row in fetch(curs, schema, """
            SELECT area, service, payment, status, count(*) AS orders,
                   coalesce(sum(price), 0) AS amount
            FROM {s}.wf_home_care_orders WHERE placed_on BETWEEN %(first)s AND %(last)s
            GROUP BY area, service, payment, status ORDER BY area, service, payment, status""", year):
        snap.areas[row["area"]].orders.append(
            {"service": row["service"], "payment": row["payment"], "status": row["status"],
             "orders": int(row["orders"]), "amount": Decimal(row["amount"])})


def _read_enterprises(curs, schema: str, snap: Snapshot, year: dict) -> None:
    for row in fetch(curs, schema, "SELECT * FROM {s}.wf_area_enterprises"):
        area = snap.areas[row["area"]]
        for name in ("enterprises", "flagged", "restructuring_required", "restructured",
                     "restructured_on_time", "disabled_employees", "staff"):
            setattr(area, name, int(row[name]))
    for row in fetch(curs, schema, """
            SELECT e.area, coalesce(sum(w.wage), 0) AS wages,
                   coalesce(sum(w.social_insurance), 0) AS insurance
            FROM {s}.wf_enterprise_wages w JOIN {s}.wf_enterprises e USING (enterprise_id)
            WHERE w.month LIKE %(prefix)s GROUP BY e.area""", year):
        snap.areas[row["area"]].wages = Decimal(row["wages"])
        snap.areas[row["area"]].social_insurance = Decimal(row["insurance"])
    for row in fetch(curs, schema, """
            SELECT area, count(*) AS rebates, coalesce(sum(amount), 0) AS amount
            FROM {s}.wf_enterprise_rebates WHERE period LIKE %(prefix)s GROUP BY area""", year):
        snap.areas[row["area"]].rebates = int(row["rebates"])
        snap.areas[row["area"]].rebates_amount = Decimal(row["amount"])


# --- the section ------------------------------------------------------------------------------------

def area_metrics(counts: AreaWelfare, aged: int, targets: Targets) -> dict:
    categories = sorted(set(CATEGORIES) | set(counts.support))
    support = {c: counts.support.get(c) or Support() for c in categories}
    return {
        "institutions": count(sum(counts.institutions.values()), "institutions",
                              by_kind={k: counts.institutions.get(k, 0) for k in ("private", "public")}),
        "beds": count(counts.beds, "beds"),
        "residents": count(counts.residents, "persons"),
        "population_60_plus": count(aged, "persons"),
        "beds_per_1000_aged_60_plus": targets.measure(
            BEDS_TARGET, ratio(counts.beds * 1000, aged), "beds per 1,000 aged 60+",
            beds=counts.beds, population_60_plus=aged),
        "occupancy_ratio": level(ratio(counts.residents, counts.beds),
                                       residents=counts.residents, beds=counts.beds),
        "admissions": count(counts.admissions, "admissions"),
        "discharges": count(counts.discharges, "discharges"),
        "care_workers": count(counts.workers, "persons"),
        "care_workers_trained": count(counts.trained, "persons"),
        "training_ratio": targets.measure(TRAINING_TARGET, ratio(counts.trained, counts.workers),
                                  trained=counts.trained, workers=counts.workers),
        "special_support": {c: targets.measure(SUPPORT_TARGET, ratio(s.arranged, s.persons),
                                       persons=s.persons, arranged=s.arranged,
                                       by_mode={m: s.by_mode.get(m, 0) for m in MODES},
                                       dispersed_without_medical_care=s.without_medical_care)
                            for c, s in support.items()},
        "three_no_dispersed_without_medical_care": count(
            support["three_no"].without_medical_care, "persons"),
        "home_care_orders": count(sum(o["orders"] for o in counts.orders), "orders",
                                  by_kind=[{"service": o["service"], "payment": o["payment"],
                                            "status": o["status"], "orders": o["orders"],
                                            "amount_yuan": money(o["amount"])} for o in counts.orders]),
        "enterprises": count(counts.enterprises, "enterprises"),
        "enterprises_flagged": count(counts.flagged, "enterprises"),
        "enterprises_restructured_ratio": targets.measure(
            RESTRUCTURED_TARGET, ratio(counts.restructured_on_time, counts.restructuring_required),
            restructured_on_time=counts.restructured_on_time, restructured=counts.restructured,
            restructuring_required=counts.restructuring_required),
        "disabled_employees": count(counts.disabled_employees, "persons"),
        "enterprise_staff": count(counts.staff, "persons"),
        "wages_yuan": amount(counts.wages),
        "social_insurance_yuan": amount(counts.social_insurance),
        "tax_rebates_yuan": amount(counts.rebates_amount, rebates=counts.rebates),
    }


def _add(total: AreaWelfare, counts: AreaWelfare) -> None:
    for name in ("beds", "residents", "admissions", "discharges", "workers", "trained",
                 "enterprises", "flagged", "restructuring_required", "restructured",
                 "restructured_on_time", "disabled_employees", "staff", "wages",
                 "social_insurance", "rebates", "rebates_amount"):
        setattr(total, name, getattr(total, name) + getattr(counts, name))
    for kind, n in counts.institutions.items():
        total.institutions[kind] = total.institutions.get(kind, 0) + n
    for category, s in counts.support.items():
        t = total.support[category]
        t.persons, t.arranged = t.persons + s.persons, t.arranged + s.arranged
        t.without_medical_care += s.without_medical_care
        t.by_mode = {m: t.by_mode.get(m, 0) + s.by_mode.get(m, 0) for m in MODES}
    merged: dict[tuple, dict] = {(o["service"], o["payment"], o["status"]): dict(o) for o in total.orders}
    for o in counts.orders:
        key = (o["service"], o["payment"], o["status"])
        if key in merged:
            merged[key]["orders"] += o["orders"]
            merged[key]["amount"] += o["amount"]
        else:
            merged[key] = dict(o)
    total.orders = [merged[k] for k in sorted(merged)]


def build(snapshot: Snapshot | None, ctx: Context, missing: list[str]) -> dict:
    """The JSON section (None: read model not initialised, all zeros). Areas and their
    `population_60_plus` come from the reference data, targets from the year's targets file."""
    snapshot = snapshot or Snapshot(year=ctx.year)
    reference, targets = ctx.reference, ctx.targets
    codes = sorted(set(reference.areas) | set(snapshot.areas))
    district, district_aged, areas = AreaWelfare(), 0, {}
    for code in codes:
        ref = reference.areas.get(code) or {}
        counts = snapshot.areas.get(code) or AreaWelfare()
        aged = int(ref.get("population_60_plus", 0) or 0)
        areas[code] = {"code": code, "name": ref.get("name"), "name_en": ref.get("name_en"),
                       "kind": ref.get("kind"), "in_reference_data": bool(ref),
                       "metrics": area_metrics(counts, aged, targets)}
        _add(district, counts)
        district_aged += aged
    return {"section": "welfare", "year": ctx.year,
            "read_model": {"initialised": not missing, "missing": list(missing)},
            "targets": {key: targets.entries.get(key) for key in TARGETS},
            "district": {"metrics": area_metrics(district, district_aged, targets)},
            "areas": areas}


# --- Prometheus -----------------------------------------------------------------------------------------

_A, _AY = ("area",), ("area", "year")
# name -> (help, label names); docs/welfare.md lists the same names.
METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "welfare_read_model_initialised": (
        "1 if the projection has created the welfare read model (wf_ tables), else 0",
        ()),
    "welfare_elderly_care_institutions": (
        "Elderly-care institutions registered, by kind (public/private)",
        ("area", "kind")),
    "welfare_elderly_care_beds": ("Beds of the area's elderly-care institutions", _A),
    "welfare_elderly_care_residents": ("Residents now (admitted, not discharged): occupied beds", _A),
    "welfare_population_aged_60_plus": ("Residents aged 60+ (reference data population_60_plus)", _A),
    "welfare_elderly_care_beds_per_1000_aged_60_plus": (
        "Elderly-care beds per 1,000 residents aged 60+",
        _A),
    "welfare_elderly_care_beds_per_1000_aged_60_plus_target": (
        "The year's target for beds per 1,000 aged 60+",
        ()),
    "welfare_elderly_care_beds_target_met": (
        "1 if the area's beds per 1,000 aged 60+ meet the target, else 0",
        _A),
    "welfare_district_elderly_care_beds_per_1000_aged_60_plus": (
        "District-wide beds per 1,000 residents aged 60+",
        ()),
    "welfare_district_elderly_care_beds_target_met": (
        "1 if the district's beds per 1,000 aged 60+ meet the target, else 0",
        ()),
    "welfare_elderly_care_occupancy_ratio": ("Residents / beds", _A),
    "welfare_district_elderly_care_occupancy_ratio": ("District-wide residents / beds", ()),
    "welfare_elderly_care_admissions": ("Admissions to elderly-care institutions in the year", _AY),
    "welfare_elderly_care_discharges": ("Discharges from elderly-care institutions in the year", _AY),
    "welfare_care_workers": ("Elderly-care workers registered", _A),
    "welfare_care_workers_trained": ("Elderly-care workers who passed a training course", _A),
    "welfare_care_worker_training_ratio": ("Trained care workers / care workers", _A),
    "welfare_care_worker_training_target_ratio": (
        "The year's target for the care-worker training rate",
        ()),
    "welfare_care_worker_training_target_met": (
        "1 if the area's training rate meets the target, else 0",
        _A),
    "welfare_district_care_worker_training_ratio": (
        "District-wide trained care workers / care workers",
        ()),
    "welfare_district_care_worker_training_target_met": (
        "1 if the district's training rate meets the target, else 0",
        ()),
    "welfare_special_support_persons": (
        "Persons under special support registered (three_no, five_guarantee)",
        ("area", "category")),
    "welfare_special_support_arranged_persons": (
        "Persons under special support by arrangement (centralized, dispersed)",
        ("area", "category", "mode")),
    "welfare_special_support_ratio": (
        "Persons with a support arrangement / persons registered",
        ("area", "category")),
    "welfare_special_support_target_ratio": ("The year's target for the support rate", ()),
    "welfare_special_support_target_met": (
        "1 if the area's support rate of the category meets the target, else 0",
        ("area", "category")),
    "welfare_district_special_support_ratio": (
        "District-wide support rate of the category",
        ("category",)),
    "welfare_district_special_support_target_met": (
        "1 if the district's support rate of the category meets the target, else 0",
        ("category",)),
    "welfare_three_no_dispersed_without_medical_care": (
        "Flagged: dispersed urban three-no persons without a medical-care arrangement",
        _A),
    "welfare_home_care_orders": (
        "Home-care orders placed in the year, by service, payment and status",
        ("area", "service", "payment", "status", "year")),
    "welfare_home_care_charges_yuan": (
        "Prices of the home-care orders delivered in the year, yuan",
        ("area", "service", "payment", "year")),
    "welfare_enterprises": ("Welfare enterprises registered", _A),
    "welfare_enterprises_flagged": (
        "Welfare enterprises flagged below the legal share of disabled employees (no tax rebate)",
        _A),
    "welfare_enterprises_restructuring_required": (
        "Welfare enterprises that must restructure (state, collective)",
        _A),
    "welfare_enterprises_restructured": ("Welfare enterprises restructured (at any date)", _A),
    "welfare_enterprises_restructured_on_time": (
        "Welfare enterprises restructured by the deadline",
        _A),
    "welfare_enterprises_restructured_ratio": (
        "Enterprises restructured by the deadline / enterprises that must restructure",
        _A),
    "welfare_enterprises_restructured_target_ratio": (
        "The year's target for restructured enterprises",
        ()),
    "welfare_enterprises_restructured_target_met": (
        "1 if the area's restructured ratio meets the target, else 0",
        _A),
    "welfare_district_enterprises_restructured_ratio": ("District-wide restructured ratio", ()),
    "welfare_district_enterprises_restructured_target_met": (
        "1 if the district's restructured ratio meets the target, else 0",
        ()),
    "welfare_enterprise_disabled_employees": ("Disabled employees of welfare enterprises now", _A),
    "welfare_enterprise_staff": ("All staff of welfare enterprises now (disabled and others)", _A),
    "welfare_enterprise_wages_yuan": (
        "Wages paid to disabled employees for months of the year, yuan",
        _AY),
    "welfare_enterprise_social_insurance_yuan": (
        "Social insurance paid for disabled employees for months of the year, yuan",
        _AY),
    "welfare_enterprise_tax_rebates_yuan": ("Tax rebates granted for months of the year, yuan", _AY),
    "welfare_enterprise_tax_rebates": ("Tax rebates granted for months of the year", _AY),
}


def families(section: dict | None, ctx: Context) -> list[Metric]:
    """The section dict as metric families (gauges), in the order of METRICS; none when the
    database could not be read."""
    if section is None:
        return []
    out = Families(METRICS)
    add = out.add
    year = str(section["year"])
    add("welfare_read_model_initialised", {}, 1 if section["read_model"]["initialised"] else 0)
    _targets(add, section["district"]["metrics"])
    for code, area in section["areas"].items():
        _area(out, code, year, area["metrics"])
    _district(add, section["district"]["metrics"])
    return out.collect()


def _targets(add, m: dict) -> None:
    add("welfare_elderly_care_beds_per_1000_aged_60_plus_target", {},
        m["beds_per_1000_aged_60_plus"]["target"])
    add("welfare_care_worker_training_target_ratio", {}, m["training_ratio"]["target"])
    add("welfare_special_support_target_ratio", {}, m["special_support"]["three_no"]["target"])
    add("welfare_enterprises_restructured_target_ratio", {}, m["enterprises_restructured_ratio"]["target"])


# metric -> where its value is in an area's metrics (Families.fill)
AREA_SAMPLES = {
    "welfare_elderly_care_beds": "beds", "welfare_elderly_care_residents": "residents",
    "welfare_population_aged_60_plus": "population_60_plus",
    "welfare_elderly_care_beds_per_1000_aged_60_plus": "beds_per_1000_aged_60_plus",
    "welfare_elderly_care_beds_target_met": "beds_per_1000_aged_60_plus.met",
    "welfare_elderly_care_occupancy_ratio": "occupancy_ratio",
    "welfare_elderly_care_admissions": "admissions", "welfare_elderly_care_discharges": "discharges",
    "welfare_care_workers": "care_workers", "welfare_care_workers_trained": "care_workers_trained",
    "welfare_care_worker_training_ratio": "training_ratio",
    "welfare_care_worker_training_target_met": "training_ratio.met",
    "welfare_three_no_dispersed_without_medical_care": "three_no_dispersed_without_medical_care",
    "welfare_enterprises": "enterprises", "welfare_enterprises_flagged": "enterprises_flagged",
    "welfare_enterprises_restructuring_required": "enterprises_restructured_ratio.restructuring_required",
    "welfare_enterprises_restructured": "enterprises_restructured_ratio.restructured",
    "welfare_enterprises_restructured_on_time": "enterprises_restructured_ratio.restructured_on_time",
    "welfare_enterprises_restructured_ratio": "enterprises_restructured_ratio",
    "welfare_enterprises_restructured_target_met": "enterprises_restructured_ratio.met",
    "welfare_enterprise_disabled_employees": "disabled_employees",
    "welfare_enterprise_staff": "enterprise_staff", "welfare_enterprise_wages_yuan": "wages_yuan",
    "welfare_enterprise_social_insurance_yuan": "social_insurance_yuan",
    "welfare_enterprise_tax_rebates_yuan": "tax_rebates_yuan",
    "welfare_enterprise_tax_rebates": "tax_rebates_yuan.rebates",
}


def _area(out: Families, code: str, year: str, m: dict) -> None:
    for kind, n in m["institutions"]["by_kind"].items():
        out.add("welfare_elderly_care_institutions", {"area": code, "kind": kind}, n)
    out.fill(AREA_SAMPLES, m, area=code, year=year)
    for category, s in m["special_support"].items():
        ac = {"area": code, "category": category}
        out.add("welfare_special_support_persons", ac, s["persons"])
        for mode, n in s["by_mode"].items():
            out.add("welfare_special_support_arranged_persons", dict(ac, mode=mode), n)
        out.add("welfare_special_support_ratio", ac, s["value"])
        out.add("welfare_special_support_target_met", ac, flag(s["met"]))
    charges: dict[tuple, Decimal] = defaultdict(Decimal)
    for o in m["home_care_orders"]["by_kind"]:
        out.add("welfare_home_care_orders", {"area": code, "service": o["service"], "payment": o["payment"],
                                             "status": o["status"], "year": year}, o["orders"])
        if o["status"] == "delivered":
            charges[(o["service"], o["payment"])] += Decimal(o["amount_yuan"])
    for (service, payment), total in sorted(charges.items()):
        out.add("welfare_home_care_charges_yuan", {"area": code, "service": service, "payment": payment,
                                                   "year": year}, total)


def _district(add, m: dict) -> None:
    beds = m["beds_per_1000_aged_60_plus"]
    add("welfare_district_elderly_care_beds_per_1000_aged_60_plus", {}, beds["value"])
    add("welfare_district_elderly_care_beds_target_met", {}, flag(beds["met"]))
    add("welfare_district_elderly_care_occupancy_ratio", {}, m["occupancy_ratio"]["value"])
    add("welfare_district_care_worker_training_ratio", {}, m["training_ratio"]["value"])
    add("welfare_district_care_worker_training_target_met", {}, flag(m["training_ratio"]["met"]))
    for category, s in m["special_support"].items():
        add("welfare_district_special_support_ratio", {"category": category}, s["value"])
        add("welfare_district_special_support_target_met", {"category": category}, flag(s["met"]))
    restructured = m["enterprises_restructured_ratio"]
    add("welfare_district_enterprises_restructured_ratio", {}, restructured["value"])
    add("welfare_district_enterprises_restructured_target_met", {}, flag(restructured["met"]))
