"""The conduct supervision (行风建设) report section, read from the projection's `cs_` tables and
views (readmodel.py).

One report section (shared/report_kit.py `Section`): `read` runs the queries inside the report's
one snapshot, `build` makes the JSON section (`report["conduct_supervision"]`), `families` renders
that same dict as Prometheus metric families. No Nameko, no eventsourcing. Definitions and metric
names: docs/conduct_supervision.md.

- supervisors recruited = supervisors first appointed in the report year (renewals do not count),
  by area; active = in a term on the year's last day (or today, if earlier), not dismissed;
- complaints answered = complaints and suggestions received in the year that are answered (the
  answer awaiting the complainant's response, or accepted) / received in the year, by area; a
  reopened or escalated complaint is unanswered until answered again;
- overdue = received in the year, open and past the deadline on the report's day (a count and a list);
- officers serving = registered on or before the year's end (or today) and not left by then;
  assigned = serving officers contact of at least one community now; assessed = serving officers
  with the year's assessment (德能勤绩); the rewards list follows from the assessments;
- visits, opinions heard and not followed up; reviews and their mean score; window efficiency
  scores of the year's periods; breaches of the eight prohibitions in the year.
Ratios whose denominator is zero are None (JSON null; no Prometheus sample). Targets (keys in
TARGETS) come from the year's targets file (a target may carry `due`, a deadline other than the
year end); a missing key gives `target`/`met` null.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction

from prometheus_client.core import Metric

from shared.report_kit import Context, Families, Targets, count, fetch, flag, level, ratio

RECRUITED_TARGET = "conduct_supervision_supervisors_recruited"
ANSWERED_TARGET = "conduct_supervision_complaints_answered_ratio"
ASSIGNED_TARGET = "conduct_supervision_officers_assigned_ratio"
ASSESSED_TARGET = "conduct_supervision_officers_assessed_ratio"
TARGETS = (RECRUITED_TARGET, ANSWERED_TARGET, ASSIGNED_TARGET, ASSESSED_TARGET)
KINDS = ("complaint", "suggestion")
RELATIONS = ("cs_supervisors", "cs_officers", "cs_assignments", "cs_visits", "cs_visit_opinions",
             "cs_reviews", "cs_complaints", "cs_efficiency", "cs_breaches", "cs_assessments",
             "cs_rewards", "cs_opinions_pending")


@dataclass
class AreaCounts:
    recruited: int = 0
    active: int = 0
    received: dict[str, int] = field(default_factory=dict)     # kind -> received in the year
    answered: int = 0
    overdue: int = 0
    escalated: int = 0
    visits: int = 0
    opinions: int = 0
    pending: int = 0


@dataclass
class Snapshot:
    year: int
    on: str
    areas: dict[str, AreaCounts] = field(default_factory=lambda: defaultdict(AreaCounts))
    overdue: list[dict] = field(default_factory=list)
    serving: int = 0
    assigned: int = 0
    assessed: int = 0
    without_community: list[str] = field(default_factory=list)
    not_assessed: list[str] = field(default_factory=list)
    rewarded: list[dict] = field(default_factory=list)
    grades: dict[str, int] = field(default_factory=dict)
    reviews: list[dict] = field(default_factory=list)
    efficiency: list[dict] = field(default_factory=list)
    breaches: dict[str, dict] = field(default_factory=dict)


def report_day(ctx: Context) -> str:
    """The day the year's figures stand on: its last day, or the report's day if earlier."""
    return min(date(ctx.year, 12, 31), ctx.now.date()).isoformat()


def read(curs, ctx: Context) -> Snapshot:
    snap, schema = Snapshot(year=ctx.year, on=report_day(ctx)), ctx.schema
    p = {"year": ctx.year, "first": f"{ctx.year}-01-01", "last": f"{ctx.year}-12-31", "on": snap.on,
         "today": ctx.now.date().isoformat(), "prefix": f"{ctx.year}-%"}
    for row in fetch(curs, schema, """SELECT area,
            count(*) FILTER (WHERE appointed_on BETWEEN %(first)s AND %(last)s) AS recruited,
            count(*) FILTER (WHERE term_start <= %(on)s AND term_end >= %(on)s
                             AND (dismissed_on IS NULL OR dismissed_on > %(on)s)) AS active
            FROM {s}.cs_supervisors GROUP BY area""", p):
        snap.areas[row["area"]].recruited, snap.areas[row["area"]].active = int(row["recruited"]), int(row["active"])
    for row in fetch(curs, schema, """SELECT area, kind, count(*) AS received,
            count(*) FILTER (WHERE status <> 'open') AS answered,
            count(*) FILTER (WHERE status = 'open' AND deadline < %(today)s) AS overdue,
            count(*) FILTER (WHERE escalated) AS escalated
            FROM {s}.cs_complaints WHERE received_on BETWEEN %(first)s AND %(last)s GROUP BY area, kind""", p):
        area = snap.areas[row["area"]]
        area.received[row["kind"]] = int(row["received"])
        area.answered += int(row["answered"])
        area.overdue += int(row["overdue"])
        area.escalated += int(row["escalated"])
    snap.overdue = [{"complaint_id": str(r["complaint_id"]), "kind": r["kind"], "area": r["area"],
                     "subject_kind": r["subject_kind"], "subject": r["subject"],
                     "received_on": r["received_on"].isoformat(), "deadline": r["deadline"].isoformat(),
                     "days_overdue": (ctx.now.date() - r["deadline"]).days, "rounds": int(r["rounds"])}
                    for r in fetch(curs, schema, """SELECT * FROM {s}.cs_complaints
                        WHERE received_on BETWEEN %(first)s AND %(last)s AND status = 'open'
                        AND deadline < %(today)s ORDER BY deadline, complaint_id""", p)]
    for row in fetch(curs, schema, """SELECT area, count(*) AS visits, sum(opinions) AS opinions
            FROM {s}.cs_visits WHERE visited_on BETWEEN %(first)s AND %(last)s GROUP BY area""", p):
        snap.areas[row["area"]].visits, snap.areas[row["area"]].opinions = int(row["visits"]), int(row["opinions"])
    for row in fetch(curs, schema, """SELECT area, count(*) AS pending FROM {s}.cs_opinions_pending
            WHERE visited_on BETWEEN %(first)s AND %(last)s GROUP BY area""", p):
        snap.areas[row["area"]].pending = int(row["pending"])
    officers = fetch(curs, schema, """SELECT o.officer_id,
            EXISTS (SELECT 1 FROM {s}.cs_assignments a WHERE a.officer_id = o.officer_id) AS assigned,
            (SELECT overall FROM {s}.cs_assessments x WHERE x.officer_id = o.officer_id AND x.year = %(year)s) AS overall
            FROM {s}.cs_officers o WHERE o.joined_on <= %(on)s AND (o.left_on IS NULL OR o.left_on > %(on)s)
            ORDER BY o.officer_id""", p)
    snap.serving = len(officers)
    snap.assigned = sum(1 for o in officers if o["assigned"])
    snap.assessed = sum(1 for o in officers if o["overall"])
    snap.without_community = [o["officer_id"] for o in officers if not o["assigned"]]
    snap.not_assessed = [o["officer_id"] for o in officers if not o["overall"]]
    for o in officers:
        if o["overall"]:
            snap.grades[o["overall"]] = snap.grades.get(o["overall"], 0) + 1
    snap.rewarded = [{"officer_id": r["officer_id"], "name": r["name"], "department": r["department"],
                      "overall": r["overall"]}
                     for r in fetch(curs, schema, "SELECT * FROM {s}.cs_rewards WHERE year = %(year)s "
                                                  "ORDER BY officer_id", p)]
    snap.reviews = [{"subject_kind": r["subject_kind"], "reviewer_kind": r["reviewer_kind"],
                     "reviews": int(r["reviews"]), "score_sum": int(r["score_sum"])}
                    for r in fetch(curs, schema, """SELECT subject_kind, reviewer_kind, count(*) AS reviews,
                        sum(score) AS score_sum FROM {s}.cs_reviews WHERE reviewed_on BETWEEN %(first)s AND %(last)s
                        GROUP BY subject_kind, reviewer_kind ORDER BY subject_kind, reviewer_kind""", p)]
    snap.efficiency = [{"window": r["window_code"], "area": r["area"], "period": r["period"], "method": r["method"],
                        "score": int(r["score"]), "rectification": bool(r["rectification"])}
                       for r in fetch(curs, schema, """SELECT * FROM {s}.cs_efficiency WHERE period LIKE %(prefix)s
                           ORDER BY window_code, period""", p)]
    for row in fetch(curs, schema, """SELECT prohibition, count(*) AS breaches, count(handled_on) AS handled
            FROM {s}.cs_breaches WHERE occurred_on BETWEEN %(first)s AND %(last)s GROUP BY prohibition""", p):
        snap.breaches[row["prohibition"]] = {"breaches": int(row["breaches"]), "handled": int(row["handled"])}
    return snap


# --- the section ----------------------------------------------------------------------------------

def _measure(targets: Targets, key: str, value, unit: str = "ratio", **extra) -> dict:
    entry = targets.measure(key, value, unit, **extra)
    entry["due"] = (targets.entries.get(key) or {}).get("due")
    return entry


def area_metrics(c: AreaCounts, targets: Targets) -> dict:
    received = sum(c.received.values())
    return {
        "supervisors_recruited": count(c.recruited, "persons"),
        "supervisors_active": count(c.active, "persons"),
        "complaints_received": count(received, "complaints", by_kind={k: c.received.get(k, 0) for k in KINDS}),
        "complaints_answered_ratio": _measure(targets, ANSWERED_TARGET, ratio(c.answered, received),
                                              answered=c.answered, received=received),
        "complaints_overdue": count(c.overdue, "complaints"),
        "complaints_escalated": count(c.escalated, "complaints"),
        "visits": count(c.visits, "visits", opinions=c.opinions),
        "opinions_pending": count(c.pending, "opinions"),
    }


def _add(total: AreaCounts, c: AreaCounts) -> None:
    for name in ("recruited", "active", "answered", "overdue", "escalated", "visits", "opinions", "pending"):
        setattr(total, name, getattr(total, name) + getattr(c, name))
    for kind, n in c.received.items():
        total.received[kind] = total.received.get(kind, 0) + n


def build(snapshot: Snapshot | None, ctx: Context, missing: list[str]) -> dict:
    snapshot = snapshot or Snapshot(year=ctx.year, on=report_day(ctx))
    targets = ctx.targets
    district, areas = AreaCounts(), {}
    for code in sorted(set(ctx.reference.areas) | set(snapshot.areas)):
        ref = ctx.reference.areas.get(code) or {}
        counts = snapshot.areas.get(code) or AreaCounts()
        areas[code] = {"code": code, "name": ref.get("name"), "name_en": ref.get("name_en"),
                       "in_reference_data": bool(ref), "metrics": area_metrics(counts, targets)}
        _add(district, counts)
    metrics = area_metrics(district, targets)
    metrics["supervisors_recruited"] = _measure(targets, RECRUITED_TARGET, Fraction(district.recruited), "persons")
    metrics["officers_serving"] = count(snapshot.serving, "officers")
    metrics["officers_assigned_ratio"] = _measure(
        targets, ASSIGNED_TARGET, ratio(snapshot.assigned, snapshot.serving), assigned=snapshot.assigned,
        serving=snapshot.serving, without_community=list(snapshot.without_community))
    metrics["officers_assessed_ratio"] = _measure(
        targets, ASSESSED_TARGET, ratio(snapshot.assessed, snapshot.serving), assessed=snapshot.assessed,
        serving=snapshot.serving, not_assessed=list(snapshot.not_assessed), by_grade=dict(sorted(snapshot.grades.items())))
    metrics["officers_rewarded"] = count(len(snapshot.rewarded), "officers")
    reviews = sum(r["reviews"] for r in snapshot.reviews)
    metrics["reviews"] = count(reviews, "reviews")
    metrics["breaches"] = count(sum(b["breaches"] for b in snapshot.breaches.values()), "breaches",
                                handled=sum(b["handled"] for b in snapshot.breaches.values()))
    by_subject: dict[str, dict] = {}
    for r in snapshot.reviews:
        entry = by_subject.setdefault(r["subject_kind"], {"reviews": 0, "score_sum": 0, "by_reviewer": {}})
        entry["reviews"] += r["reviews"]
        entry["score_sum"] += r["score_sum"]
        entry["by_reviewer"][r["reviewer_kind"]] = r["reviews"]
    return {"section": "conduct_supervision", "year": ctx.year, "as_of": snapshot.on,
            "read_model": {"initialised": not missing, "missing": list(missing)},
            "targets": {key: targets.entries.get(key) for key in TARGETS},
            "district": {"metrics": metrics},
            "overdue_complaints": [dict(o) for o in snapshot.overdue],
            "rewards": [dict(r) for r in snapshot.rewarded],
            "reviews_by_subject": {kind: dict(level(ratio(e["score_sum"], e["reviews"]), "score"),
                                              reviews=e["reviews"], by_reviewer=e["by_reviewer"])
                                   for kind, e in sorted(by_subject.items())},
            "window_efficiency": [dict(e) for e in snapshot.efficiency],
            "breaches_by_prohibition": {k: dict(v) for k, v in sorted(snapshot.breaches.items())},
            "areas": areas}


# --- Prometheus -----------------------------------------------------------------------------------

_AY, _Y = ("area", "year"), ("year",)
# name -> (help, label names); docs/conduct_supervision.md lists the same names.
METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "conduct_supervision_read_model_initialised": (
        "1 if the projection has created the conduct supervision read model (cs_ tables), else 0", ()),
    "conduct_supervision_supervisors_recruited": ("Conduct supervisors first appointed in the year", _AY),
    "conduct_supervision_supervisors_active": ("Conduct supervisors in a term on the year's last day", _AY),
    "conduct_supervision_district_supervisors_recruited": (
        "District-wide conduct supervisors first appointed in the year", _Y),
    "conduct_supervision_district_supervisors_recruited_target_met": (
        "1 if the supervisors recruited meet the target, else 0", _Y),
    "conduct_supervision_complaints_received": (
        "Complaints and suggestions received in the year, by kind", ("area", "kind", "year")),
    "conduct_supervision_complaints_answered": ("Complaints and suggestions of the year answered", _AY),
    "conduct_supervision_complaints_answered_ratio": ("Complaints of the year answered / received", _AY),
    "conduct_supervision_district_complaints_answered_ratio": (
        "District-wide complaints of the year answered / received", _Y),
    "conduct_supervision_district_complaints_answered_target_met": (
        "1 if every complaint of the year is answered (the target), else 0", _Y),
    "conduct_supervision_complaints_overdue": (
        "Complaints of the year open and past their deadline on the report's day", _AY),
    "conduct_supervision_officers_serving": ("Officers serving at the year's end", _Y),
    "conduct_supervision_officers_assigned": ("Serving officers assigned a community or village", _Y),
    "conduct_supervision_district_officers_assigned_ratio": ("Serving officers assigned / serving", _Y),
    "conduct_supervision_district_officers_assigned_target_met": (
        "1 if every serving officer is assigned a community (the target), else 0", _Y),
    "conduct_supervision_officers_assessed": ("Serving officers given the year-end assessment", _Y),
    "conduct_supervision_district_officers_assessed_ratio": ("Serving officers assessed / serving", _Y),
    "conduct_supervision_district_officers_assessed_target_met": (
        "1 if every serving officer is given the year-end assessment (the target), else 0", _Y),
    "conduct_supervision_officers_rewarded": ("Officers on the year's rewards list", _Y),
    "conduct_supervision_visits": ("Officers' visits to communities in the year", _AY),
    "conduct_supervision_opinions_pending": ("Opinions heard on the year's visits not followed up", _AY),
    "conduct_supervision_reviews": ("Public reviews in the year", ("subject_kind", "reviewer_kind", "year")),
    "conduct_supervision_review_score_mean": ("Mean score of the year's public reviews", ("subject_kind", "year")),
    "conduct_supervision_window_efficiency_score": (
        "Efficiency score of a window for a period of the year", ("window", "period")),
    "conduct_supervision_breaches": ("Breaches of the eight prohibitions in the year", ("prohibition", "year")),
    "conduct_supervision_breaches_unhandled": ("Breaches of the year not yet handled", _Y),
}


def families(section: dict | None, ctx: Context) -> list[Metric]:
    if section is None:
        return []
    out = Families(METRICS)
    add, year = out.add, str(section["year"])
    add("conduct_supervision_read_model_initialised", {}, 1 if section["read_model"]["initialised"] else 0)
    for code, area in section["areas"].items():
        m = area["metrics"]
        out.fill({"conduct_supervision_supervisors_recruited": "supervisors_recruited",
                  "conduct_supervision_supervisors_active": "supervisors_active",
                  "conduct_supervision_complaints_answered": "complaints_answered_ratio.answered",
                  "conduct_supervision_complaints_answered_ratio": "complaints_answered_ratio",
                  "conduct_supervision_complaints_overdue": "complaints_overdue",
                  "conduct_supervision_visits": "visits",
                  "conduct_supervision_opinions_pending": "opinions_pending"}, m, area=code, year=year)
        for kind, n in m["complaints_received"]["by_kind"].items():
            add("conduct_supervision_complaints_received", {"area": code, "kind": kind, "year": year}, n)
    d = section["district"]["metrics"]
    y = {"year": year}
    add("conduct_supervision_district_supervisors_recruited", y, d["supervisors_recruited"]["value"])
    add("conduct_supervision_district_supervisors_recruited_target_met", y, flag(d["supervisors_recruited"]["met"]))
    add("conduct_supervision_district_complaints_answered_ratio", y, d["complaints_answered_ratio"]["value"])
    add("conduct_supervision_district_complaints_answered_target_met", y, flag(d["complaints_answered_ratio"]["met"]))
    add("conduct_supervision_officers_serving", y, d["officers_serving"]["value"])
    add("conduct_supervision_officers_assigned", y, d["officers_assigned_ratio"]["assigned"])
    add("conduct_supervision_district_officers_assigned_ratio", y, d["officers_assigned_ratio"]["value"])
    add("conduct_supervision_district_officers_assigned_target_met", y, flag(d["officers_assigned_ratio"]["met"]))
    add("conduct_supervision_officers_assessed", y, d["officers_assessed_ratio"]["assessed"])
    add("conduct_supervision_district_officers_assessed_ratio", y, d["officers_assessed_ratio"]["value"])
    add("conduct_supervision_district_officers_assessed_target_met", y, flag(d["officers_assessed_ratio"]["met"]))
    add("conduct_supervision_officers_rewarded", y, d["officers_rewarded"]["value"])
    for subject_kind, entry in section["reviews_by_subject"].items():
        for reviewer_kind, n in entry["by_reviewer"].items():
            add("conduct_supervision_reviews", {"subject_kind": subject_kind, "reviewer_kind": reviewer_kind,
                                                "year": year}, n)
        add("conduct_supervision_review_score_mean", {"subject_kind": subject_kind, "year": year}, entry["value"])
    for e in section["window_efficiency"]:
        add("conduct_supervision_window_efficiency_score", {"window": e["window"], "period": e["period"]}, e["score"])
    for prohibition, b in section["breaches_by_prohibition"].items():
        add("conduct_supervision_breaches", {"prohibition": prohibition, "year": year}, b["breaches"])
    add("conduct_supervision_breaches_unhandled", y, d["breaches"]["value"] - d["breaches"]["handled"])
    return out.collect()

