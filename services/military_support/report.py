"""The military support (双拥 and 优抚安置) report section, read from the projection's `ms_` tables
and views (readmodel.py).

One report section (shared/report_kit.py `Section`): `read` runs the queries inside the report's
one snapshot, `build` makes the JSON section (`report["military_support"]`), `families` renders
that same dict as Prometheus metric families. No Nameko, no eventsourcing (the eight channels are
read from services/military_support/reference/double_support.json as plain JSON). Definitions
and metric names: docs/military_support.md.

- beneficiaries: active beneficiaries now, by category and (disabled servicemen) by grade;
- grade 1-6 medical coverage = active disabled servicemen of grades 1-6 enrolled in a
  medical-insurance scheme / active disabled servicemen of grades 1-6;
- benefits paid = benefit payments for months of the report year, by category;
- resettlement completion = workers without military status placed / received;
- channels with an activity = the plan's eight channels with at least one army-support activity
  held in the report year;
- the evidence file of the year: what it filed, whether it was submitted.
Ratios whose denominator is zero are None (JSON null; no Prometheus sample). Targets (keys in
TARGETS) come from the year's targets file; a missing key gives `target`/`met` null.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from prometheus_client.core import Metric

from shared.report_kit import ZERO, Context, Families, Targets, amount, count, fetch, flag, money, ratio

REFERENCE = Path(__file__).resolve().parent / "reference" / "double_support.json"
CATEGORIES = ("disabled_serviceman", "martyr_family", "died_on_duty_family", "died_of_illness_family",
              "demobilised_veteran", "war_veteran", "other")
GRADES = tuple(range(1, 11))
COVERAGE_TARGET = "military_support_grade_1_6_medical_insurance_ratio"
RESETTLEMENT_TARGET = "military_support_resettlement_ratio"
CHANNELS_TARGET = "military_support_channels_with_activity"
EVIDENCE_TARGET = "military_support_evidence_file_submitted"
TARGETS = (COVERAGE_TARGET, RESETTLEMENT_TARGET, CHANNELS_TARGET, EVIDENCE_TARGET)
RELATIONS = ("ms_beneficiaries", "ms_benefit_payments", "ms_assistance_claims", "ms_workers",
             "ms_worker_benefits", "ms_activities", "ms_education_sessions", "ms_pairs",
             "ms_evidence_files", "ms_beneficiaries_by_category", "ms_medical_coverage",
             "ms_resettlement", "ms_activities_by_channel")


def channels() -> tuple[str, ...]:
    """The plan's eight channels, in the plan's order (reference data)."""
    return tuple(json.loads(REFERENCE.read_text(encoding="utf-8"))["channels"])


# --- what the read model holds ------------------------------------------------------------------

@dataclass
class AreaCounts:
    """One area's numbers (every field defaults to zero)."""
    beneficiaries: dict[str, int] = field(default_factory=dict)       # category -> active
    grades: dict[int, int] = field(default_factory=dict)              # grade -> active disabled
    grade_1_6: int = 0
    insured: int = 0
    benefits: dict[str, Decimal] = field(default_factory=dict)        # category -> paid in year
    payments: int = 0
    claims: int = 0
    claims_paid: Decimal = ZERO
    received: int = 0
    placed: int = 0
    worker_benefits: Decimal = ZERO
    activities: dict[str, dict] = field(default_factory=dict)         # channel -> activities, participants
    sessions: list[dict] = field(default_factory=list)                # venue, audience, sessions, attendees
    pairs: int = 0


@dataclass
class Snapshot:
    year: int
    areas: dict[str, AreaCounts] = field(default_factory=lambda: defaultdict(AreaCounts))
    evidence: dict | None = None


def read(curs, ctx: Context) -> Snapshot:
    snap, schema = Snapshot(year=ctx.year), ctx.schema
    year = {"year": ctx.year, "prefix": f"{ctx.year}-%", "first": f"{ctx.year}-01-01",
            "last": f"{ctx.year}-12-31"}
    for row in fetch(curs, schema, "SELECT * FROM {s}.ms_beneficiaries_by_category"):
        area = snap.areas[row["area"]]
        area.beneficiaries[row["category"]] = area.beneficiaries.get(row["category"], 0) + int(row["beneficiaries"])
        if row["category"] == "disabled_serviceman":
            area.grades[int(row["grade"])] = int(row["beneficiaries"])
    for row in fetch(curs, schema, "SELECT * FROM {s}.ms_medical_coverage"):
        snap.areas[row["area"]].grade_1_6, snap.areas[row["area"]].insured = int(row["grade_1_6"]), int(row["insured"])
    for row in fetch(curs, schema, """SELECT area, category, count(*) AS payments, sum(amount) AS paid
                                      FROM {s}.ms_benefit_payments WHERE month LIKE %(prefix)s
                                      GROUP BY area, category""", year):
        area = snap.areas[row["area"]]
        area.benefits[row["category"]] = Decimal(row["paid"])
        area.payments += int(row["payments"])
    for row in fetch(curs, schema, """SELECT area, count(*) AS claims, sum(paid) AS paid
                                      FROM {s}.ms_assistance_claims
                                      WHERE claimed_on BETWEEN %(first)s AND %(last)s GROUP BY area""", year):
        snap.areas[row["area"]].claims, snap.areas[row["area"]].claims_paid = int(row["claims"]), Decimal(row["paid"])
    for row in fetch(curs, schema, "SELECT * FROM {s}.ms_resettlement"):
        snap.areas[row["area"]].received, snap.areas[row["area"]].placed = int(row["received"]), int(row["placed"])
    for row in fetch(curs, schema, """SELECT area, sum(amount) AS paid FROM {s}.ms_worker_benefits
                                      WHERE month LIKE %(prefix)s GROUP BY area""", year):
        snap.areas[row["area"]].worker_benefits = Decimal(row["paid"])
    for row in fetch(curs, schema, """SELECT * FROM {s}.ms_activities_by_channel WHERE year = %(year)s""", year):
        snap.areas[row["area"]].activities[row["channel"]] = {
            "activities": int(row["activities"]), "participants": int(row["participants"])}
    for row in fetch(curs, schema, """SELECT area, venue, audience, count(*) AS sessions,
                                             sum(attendees) AS attendees FROM {s}.ms_education_sessions
                                      WHERE held_on BETWEEN %(first)s AND %(last)s
                                      GROUP BY area, venue, audience ORDER BY area, venue, audience""", year):
        snap.areas[row["area"]].sessions.append({"venue": row["venue"], "audience": row["audience"],
                                                 "sessions": int(row["sessions"]),
                                                 "attendees": int(row["attendees"])})
    for row in fetch(curs, schema, """SELECT area, count(*) AS pairs FROM {s}.ms_pairs
                                      WHERE dissolved_on IS NULL GROUP BY area"""):
        snap.areas[row["area"]].pairs = int(row["pairs"])
    files = fetch(curs, schema, "SELECT * FROM {s}.ms_evidence_files WHERE year = %(year)s", year)
    snap.evidence = files[0] if files else None
    return snap


# --- the section ------------------------------------------------------------------------------------

def area_metrics(c: AreaCounts, targets: Targets) -> dict:
    sessions = sum(s["sessions"] for s in c.sessions)
    return {
        "beneficiaries": count(sum(c.beneficiaries.values()), "persons",
                               by_category={k: c.beneficiaries.get(k, 0) for k in CATEGORIES}),
        "disabled_servicemen_by_grade": count(sum(c.grades.values()), "persons",
                                              by_grade={str(g): c.grades.get(g, 0) for g in GRADES}),
        "grade_1_6_medical_coverage": targets.measure(COVERAGE_TARGET, ratio(c.insured, c.grade_1_6),
                                                      insured=c.insured, grade_1_6=c.grade_1_6),
        "benefits_paid_yuan": amount(sum(c.benefits.values(), ZERO), payments=c.payments,
                                     by_category={k: money(c.benefits.get(k, ZERO)) for k in CATEGORIES}),
        "assistance_claims_paid_yuan": amount(c.claims_paid, claims=c.claims),
        "workers_received": count(c.received, "persons"),
        "workers_placed": count(c.placed, "persons"),
        "resettlement_ratio": targets.measure(RESETTLEMENT_TARGET, ratio(c.placed, c.received),
                                              placed=c.placed, received=c.received),
        "worker_benefits_yuan": amount(c.worker_benefits),
        "activities": count(sum(a["activities"] for a in c.activities.values()), "activities",
                            participants=sum(a["participants"] for a in c.activities.values()),
                            by_channel={ch: a["activities"] for ch, a in sorted(c.activities.items())}),
        "education_sessions": count(sessions, "sessions",
                                    attendees=sum(s["attendees"] for s in c.sessions),
                                    by_kind=[dict(s) for s in c.sessions]),
        "co_building_pairs": count(c.pairs, "pairs"),
    }


def _add(total: AreaCounts, c: AreaCounts) -> None:
    for name in ("grade_1_6", "insured", "payments", "claims", "claims_paid", "received", "placed",
                 "worker_benefits", "pairs"):
        setattr(total, name, getattr(total, name) + getattr(c, name))
    for k, n in c.beneficiaries.items():
        total.beneficiaries[k] = total.beneficiaries.get(k, 0) + n
    for g, n in c.grades.items():
        total.grades[g] = total.grades.get(g, 0) + n
    for k, paid in c.benefits.items():
        total.benefits[k] = total.benefits.get(k, ZERO) + paid
    for ch, a in c.activities.items():
        t = total.activities.setdefault(ch, {"activities": 0, "participants": 0})
        t["activities"] += a["activities"]
        t["participants"] += a["participants"]
    merged = {(s["venue"], s["audience"]): dict(s) for s in total.sessions}
    for s in c.sessions:
        key = (s["venue"], s["audience"])
        if key in merged:
            merged[key]["sessions"] += s["sessions"]
            merged[key]["attendees"] += s["attendees"]
        else:
            merged[key] = dict(s)
    total.sessions = [merged[k] for k in sorted(merged)]


def build(snapshot: Snapshot | None, ctx: Context, missing: list[str]) -> dict:
    snapshot = snapshot or Snapshot(year=ctx.year)
    targets, plan_channels = ctx.targets, channels()
    district, areas = AreaCounts(), {}
    for code in sorted(set(ctx.reference.areas) | set(snapshot.areas)):
        ref = ctx.reference.areas.get(code) or {}
        counts = snapshot.areas.get(code) or AreaCounts()
        areas[code] = {"code": code, "name": ref.get("name"), "name_en": ref.get("name_en"),
                       "in_reference_data": bool(ref), "metrics": area_metrics(counts, targets)}
        _add(district, counts)
    metrics = area_metrics(district, targets)
    by_channel = {ch: dict(district.activities.get(ch) or {"activities": 0, "participants": 0})
                  for ch in (*plan_channels, *sorted(set(district.activities) - set(plan_channels)))}
    covered = sum(1 for ch in plan_channels if by_channel[ch]["activities"] > 0)
    metrics["channels_with_activity"] = targets.measure(
        CHANNELS_TARGET, Fraction(covered), "channels", channels=len(plan_channels),
        without_activity=[ch for ch in plan_channels if not by_channel[ch]["activities"]])
    evidence = snapshot.evidence
    metrics["evidence_file_submitted"] = targets.measure(
        EVIDENCE_TARGET, Fraction(int(bool(evidence and evidence["submitted_on"]))), "files",
        submitted_on=(evidence["submitted_on"].isoformat() if evidence and evidence["submitted_on"] else None))
    return {"section": "military_support", "year": ctx.year,
            "read_model": {"initialised": not missing, "missing": list(missing)},
            "targets": {key: targets.entries.get(key) for key in TARGETS},
            "district": {"metrics": metrics},
            "activities_by_channel": by_channel,
            "evidence_file": None if evidence is None else {
                "title": evidence["title"], "activities": int(evidence["activities"]),
                "education_sessions": int(evidence["education_sessions"]),
                "submitted_on": evidence["submitted_on"].isoformat() if evidence["submitted_on"] else None,
                "submitted_counts": None if evidence["submitted_on"] is None else {
                    "activities": evidence["submitted_activities"],
                    "education_sessions": evidence["submitted_sessions"],
                    "co_building_pairs": evidence["submitted_pairs"]}},
            "areas": areas}


# --- Prometheus -----------------------------------------------------------------------------------------

_A, _AY = ("area",), ("area", "year")
# name -> (help, label names); docs/military_support.md lists the same names.
METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "military_support_read_model_initialised": (
        "1 if the projection has created the military support read model (ms_ tables), else 0", ()),
    "military_support_beneficiaries": ("Active beneficiaries (优抚对象) by category", ("area", "category")),
    "military_support_disabled_servicemen": ("Active disabled servicemen by disability grade", ("area", "grade")),
    "military_support_grade_1_6_disabled_servicemen": ("Active disabled servicemen of grades 1-6", _A),
    "military_support_grade_1_6_insured": (
        "Active disabled servicemen of grades 1-6 enrolled in medical insurance", _A),
    "military_support_grade_1_6_medical_coverage_ratio": ("Grades 1-6 insured / grades 1-6", _A),
    "military_support_grade_1_6_medical_coverage_target_ratio": (
        "The year's target for the grade 1-6 medical coverage", ()),
    "military_support_district_grade_1_6_medical_coverage_ratio": (
        "District-wide grade 1-6 medical coverage", ()),
    "military_support_district_grade_1_6_medical_coverage_target_met": (
        "1 if the district's grade 1-6 medical coverage meets the target, else 0", ()),
    "military_support_benefits_paid_yuan": (
        "Periodic benefits paid for months of the year, yuan, by category", ("area", "category", "year")),
    "military_support_assistance_claims_paid_yuan": (
        "Medical-assistance claims reimbursed in the year, yuan", _AY),
    "military_support_workers_received": ("Workers without military status received", _A),
    "military_support_workers_placed": ("Workers without military status placed", _A),
    "military_support_district_resettlement_ratio": ("District-wide workers placed / received", ()),
    "military_support_district_resettlement_target_met": (
        "1 if the district's resettlement completion meets the target, else 0", ()),
    "military_support_worker_benefits_yuan": (
        "Benefits paid to workers without military status for months of the year, yuan", _AY),
    "military_support_activities": (
        "Army-support activities held in the year, by channel", ("area", "channel", "year")),
    "military_support_district_channels_with_activity": (
        "The plan's eight channels with an army-support activity in the year", ("year",)),
    "military_support_district_channels_target_met": (
        "1 if the channels with an activity meet the target, else 0", ("year",)),
    "military_support_education_sessions": (
        "National-defence education sessions held in the year", ("area", "venue", "audience", "year")),
    "military_support_co_building_pairs": ("Civil-military co-building pairs in force", _A),
    "military_support_evidence_file_submitted": (
        "1 if the year's evidence file of the model-district application was submitted, else 0", ("year",)),
}


def families(section: dict | None, ctx: Context) -> list[Metric]:
    if section is None:
        return []
    out = Families(METRICS)
    add, year = out.add, str(section["year"])
    add("military_support_read_model_initialised", {}, 1 if section["read_model"]["initialised"] else 0)
    d = section["district"]["metrics"]
    add("military_support_grade_1_6_medical_coverage_target_ratio", {}, d["grade_1_6_medical_coverage"]["target"])
    for code, area in section["areas"].items():
        m = area["metrics"]
        for category, n in m["beneficiaries"]["by_category"].items():
            add("military_support_beneficiaries", {"area": code, "category": category}, n)
        for grade, n in m["disabled_servicemen_by_grade"]["by_grade"].items():
            add("military_support_disabled_servicemen", {"area": code, "grade": grade}, n)
        out.fill({"military_support_grade_1_6_disabled_servicemen": "grade_1_6_medical_coverage.grade_1_6",
                  "military_support_grade_1_6_insured": "grade_1_6_medical_coverage.insured",
                  "military_support_grade_1_6_medical_coverage_ratio": "grade_1_6_medical_coverage",
                  "military_support_assistance_claims_paid_yuan": "assistance_claims_paid_yuan",
                  "military_support_workers_received": "workers_received",
                  "military_support_workers_placed": "workers_placed",
                  "military_support_worker_benefits_yuan": "worker_benefits_yuan",
                  "military_support_co_building_pairs": "co_building_pairs"}, m, area=code, year=year)
        for category, paid in m["benefits_paid_yuan"]["by_category"].items():
            add("military_support_benefits_paid_yuan", {"area": code, "category": category, "year": year}, paid)
        for s in m["education_sessions"]["by_kind"]:
            add("military_support_education_sessions", {"area": code, "venue": s["venue"],
                                                        "audience": s["audience"], "year": year}, s["sessions"])
    _activities(out, section, year)
    add("military_support_district_grade_1_6_medical_coverage_ratio", {}, d["grade_1_6_medical_coverage"]["value"])
    add("military_support_district_grade_1_6_medical_coverage_target_met", {},
        flag(d["grade_1_6_medical_coverage"]["met"]))
    add("military_support_district_resettlement_ratio", {}, d["resettlement_ratio"]["value"])
    add("military_support_district_resettlement_target_met", {}, flag(d["resettlement_ratio"]["met"]))
    add("military_support_district_channels_with_activity", {"year": year}, d["channels_with_activity"]["value"])
    add("military_support_district_channels_target_met", {"year": year}, flag(d["channels_with_activity"]["met"]))
    add("military_support_evidence_file_submitted", {"year": year}, d["evidence_file_submitted"]["value"])
    return out.collect()


def _activities(out: Families, section: dict, year: str) -> None:
    for code, area in section["areas"].items():
        for channel, n in area["metrics"]["activities"]["by_channel"].items():
            out.add("military_support_activities", {"area": code, "channel": channel, "year": year}, n)
