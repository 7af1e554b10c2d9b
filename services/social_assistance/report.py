"""The social assistance (低保, dibao) report section: cases, persons covered against the plan's
coverage targets, payments of the year, the year-end extra month, marginal households' relief
and the one-day donation drive, read from the projection's dibao tables (readmodel.py).

One report section (shared/report_kit.py `Section`): `read` runs the queries inside the report's
one snapshot, `build` makes the JSON section (`report["social_assistance"]`), `families` renders
that same dict as Prometheus metrics, so the two can never disagree. No Nameko, no eventsourcing.

Definitions (the plan's targets, see docs/reporting.md):
- coverage ratio of a scheme = persons in active cases of that scheme / the area's population of
  that registration (urban scheme / urban_population, rural / rural_population); per area only
  where that population > 0; district-wide = sum of persons / sum of populations.
- year-end extra-month completion for year Y = active cases with a `year_end_extra` payment keyed
  'Y-YE' / active cases.
- marginal relief completion for year Y = registered marginal households paid Y's relief /
  registered marginal households.
Ratios whose denominator is zero are None (JSON null; no Prometheus sample).

Metric conventions (docs/reporting.md): every metric is a gauge; money in yuan (`_yuan`), ratios
0..1 (`_ratio`); per-area metrics carry `area`; district-wide ratios are separate
`dibao_district_*` metrics so that `sum()` over `area` never double counts; metrics measured for a
year (year-end month, relief, donations) carry `year`; payment months carry it in `month`
('2007-01' .. '2007-12', '2007-YE'); targets are label-less (or `scheme`) and belong to the year in
`dibao_report_info{year}`.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from prometheus_client.core import Metric

from shared.report_kit import (NOT_INITIALISED, ZERO, Context, Families, Targets, amount, count,
                               fetch, flag, money, ratio)

# The relations this section reads; if any is missing the projection has not created them yet,
# and the section is all zeros.
RELATIONS = ("cases", "area_totals", "payments", "payments_by_month", "marginal_households",
             "marginal_relief", "donations", "standards")

# Keys of the targets file (data/targets/<year>.json) this section evaluates.
COVERAGE_TARGET = "dibao_coverage_{scheme}_ratio"
YEAR_END_TARGET = "dibao_year_end_extra_month_ratio"
RELIEF_TARGET = "marginal_year_end_relief_ratio"
RAISE_TARGET = "dibao_standard_raise_{scheme}_yuan"
TARGETS = (COVERAGE_TARGET, YEAR_END_TARGET, RELIEF_TARGET, RAISE_TARGET)
ALL_AREAS = "*"     # a standard row for every area (data/standards.json), unless an area has its own


# --- what the read model holds ---------------------------------------------------------------------

@dataclass
class AreaCounts:
    """What the read model holds for one area (every field defaults to zero)."""
    active_cases: int = 0
    pending_cases: int = 0
    suspended_cases: int = 0
    monthly_allowance: Decimal = ZERO
    persons_by_scheme: dict[str, int] = field(default_factory=dict)      # active cases only
    year_end_paid_cases: int = 0        # active cases paid the year-end extra month of the year
    marginal_registered: int = 0        # marginal households currently registered
    marginal_relieved: int = 0          # ... of which were paid the year's relief
    relief_households: int = 0          # every relief payment of the year (incl. since removed)
    relief_amount: Decimal = ZERO
    donations: int = 0
    donations_amount: Decimal = ZERO


@dataclass
class PaymentRow:
    area: str
    month: str       # 'YYYY-MM' for monthly payments, 'YYYY-YE' for the year-end extra month
    kind: str        # 'monthly' | 'year_end_extra'
    payments: int
    amount: Decimal
    back_pay: Decimal


@dataclass
class Snapshot:
    """The read model's numbers for one report year, as of the report's transaction."""
    year: int
    areas: dict[str, AreaCounts] = field(default_factory=lambda: defaultdict(AreaCounts))
    payments: list[PaymentRow] = field(default_factory=list)
    # (area or "*", registration) -> [(effective month, amount)], oldest first
    standards: dict[tuple[str, str], list[tuple[str, Decimal]]] = field(default_factory=lambda: defaultdict(list))

    def standard(self, area: str, registration: str, month: str) -> Decimal | None:
        """The standard in force for a month: the area's own row if it has one as recent, else
        the all-areas row."""
        best = None
        for key in (ALL_AREAS, area):        # the area's own row wins a tie on the month
            for effective, value in self.standards.get((key, registration), []):
                if effective <= month and (best is None or effective >= best[0]):
                    best = (effective, value)
        return None if best is None else best[1]

    def raised(self, area: str, registration: str) -> Decimal | None:
        """How much the standard rose in the year: in force for December minus in force at the
        start of the year (January; a raise effective in January itself replaces that month's
        row in the read model, so is not seen: raises are effective from February on)."""
        start = self.standard(area, registration, f"{self.year}-01")
        end = self.standard(area, registration, f"{self.year}-12")
        return None if start is None or end is None else end - start

    def area(self, code: str) -> AreaCounts:
        return self.areas[code]


def read(curs, ctx: Context) -> Snapshot:
    """The section's queries, on the report's snapshot cursor."""
    snap = Snapshot(year=ctx.year)
    _read(curs, ctx.schema, snap)
    return snap


def _read(curs, schema: str, snap: Snapshot) -> None:
    year = snap.year
    for row in fetch(curs, schema, """
            SELECT area, active_cases, pending_cases, suspended_cases, monthly_allowance
            FROM {s}.area_totals"""):
        counts = snap.area(row["area"])
        counts.active_cases = int(row["active_cases"])
        counts.pending_cases = int(row["pending_cases"])
        counts.suspended_cases = int(row["suspended_cases"])
        counts.monthly_allowance = Decimal(row["monthly_allowance"])

    # Persons per scheme, generic over schemes (area_totals has fixed urban/rural columns).
    for row in fetch(curs, schema, """
            SELECT area, scheme, coalesce(sum(size), 0) AS persons
            FROM {s}.cases WHERE status = 'active' GROUP BY area, scheme"""):
        snap.area(row["area"]).persons_by_scheme[row["scheme"]] = int(row["persons"])

    # Monthly totals of the year: 'YYYY-01'..'YYYY-12' and the year-end key 'YYYY-YE'.
    for row in fetch(curs, schema, """
            SELECT area, month, kind, payments, amount, back_pay
            FROM {s}.payments_by_month WHERE month LIKE %(prefix)s
            ORDER BY month, kind, area""", {"prefix": f"{year}-%"}):
        snap.payments.append(PaymentRow(row["area"], row["month"], row["kind"], int(row["payments"]),
                                         Decimal(row["amount"]), Decimal(row["back_pay"])))

    # Year-end extra month: active cases that have the year's 'YYYY-YE' payment.
    for row in fetch(curs, schema, """
            SELECT c.area, count(p.case_id) AS paid
            FROM {s}.cases c
            LEFT JOIN {s}.payments p
                   ON p.case_id = c.case_id AND p.month = %(key)s AND p.kind = 'year_end_extra'
            WHERE c.status = 'active' GROUP BY c.area""", {"key": f"{year}-YE"}):
        snap.area(row["area"]).year_end_paid_cases = int(row["paid"])

    # Marginal households registered now, and how many of them got the year's relief.
    for row in fetch(curs, schema, """
            SELECT m.area, count(*) AS registered, count(r.record_id) AS relieved
            FROM {s}.marginal_households m
            LEFT JOIN {s}.marginal_relief r ON r.record_id = m.record_id AND r.year = %(year)s
            WHERE m.status = 'registered' GROUP BY m.area""", {"year": year}):
        counts = snap.area(row["area"])
        counts.marginal_registered = int(row["registered"])
        counts.marginal_relieved = int(row["relieved"])

    # Every relief payment of the year (a household removed after being paid still counts here).
    for row in fetch(curs, schema, """
            SELECT area, count(*) AS households, coalesce(sum(amount), 0) AS amount
            FROM {s}.marginal_relief WHERE year = %(year)s GROUP BY area""", {"year": year}):
        counts = snap.area(row["area"])
        counts.relief_households = int(row["households"])
        counts.relief_amount = Decimal(row["amount"])

    for row in fetch(curs, schema, """
            SELECT area, registration, effective_month, amount FROM {s}.standards
            ORDER BY effective_month"""):
        snap.standards[(row["area"], row["registration"])].append((row["effective_month"], Decimal(row["amount"])))

    for row in fetch(curs, schema, """
            SELECT area, count(*) AS donations, coalesce(sum(amount), 0) AS amount
            FROM {s}.donations WHERE year = %(year)s GROUP BY area""", {"year": year}):
        counts = snap.area(row["area"])
        counts.donations = int(row["donations"])
        counts.donations_amount = Decimal(row["amount"])


# --- the section --------------------------------------------------------------------------------------

def scheme_population(area: dict, scheme: str) -> int:
    """The population a scheme's coverage is measured against: `<scheme>_population`."""
    return int(area.get(f"{scheme}_population", 0) or 0)


def schemes_of(snapshot: Snapshot, ctx: Context) -> list[str]:
    """Every scheme that has a population in the reference data (`<scheme>_population`), a
    coverage target (`dibao_coverage_<scheme>_ratio`) or active cases: never a list in code."""
    named = ctx.targets.matching(COVERAGE_TARGET)
    populated = {k[:-len("_population")] for area in ctx.reference.areas.values() for k in area
                 if k.endswith("_population")}
    seen = {s for counts in snapshot.areas.values() for s in counts.persons_by_scheme}
    return sorted(named | populated | seen)


def raise_measures(snapshot: Snapshot, area: str, schemes: list[str], targets: Targets) -> dict:
    """The year's raise of the standard of each scheme against its target (yuan per person per
    month); `area` "*" is the district-wide standard."""
    found = {s: snapshot.raised(area, s) for s in schemes}
    return {s: targets.measure(RAISE_TARGET.format(scheme=s), None if r is None else Fraction(r), "yuan")
            for s, r in found.items()}


def area_metrics(counts: AreaCounts, populations: dict[str, int], payments: list,
                 schemes: list[str], targets: Targets) -> dict:
    persons = {s: counts.persons_by_scheme.get(s, 0) for s in schemes}
    coverage = {s: targets.measure(COVERAGE_TARGET.format(scheme=s),
                                   ratio(persons[s], populations[s]),
                                   persons=persons[s], population=populations[s])
                for s in schemes}
    cash = sum((p.amount + p.back_pay for p in payments), ZERO)
    return {
        "active_cases": count(counts.active_cases, "cases"),
        "pending_cases": count(counts.pending_cases, "cases"),
        "suspended_cases": count(counts.suspended_cases, "cases"),
        "monthly_allowance_yuan": amount(counts.monthly_allowance),
        "persons_covered": count(sum(persons.values()), "persons", by_scheme=persons),
        "population": {s: count(populations[s], "persons") for s in schemes},
        "coverage_ratio": coverage,
        "payments_yuan": amount(cash, by_month=[
            {"month": p.month, "kind": p.kind, "payments": p.payments,
             "amount_yuan": money(p.amount), "back_pay_yuan": money(p.back_pay)}
            for p in sorted(payments, key=lambda p: (p.month, p.kind))]),
        "year_end_extra_ratio": targets.measure(
            YEAR_END_TARGET, ratio(counts.year_end_paid_cases, counts.active_cases),
            paid_cases=counts.year_end_paid_cases, active_cases=counts.active_cases),
        "marginal_households": count(counts.marginal_registered, "households"),
        "marginal_relief_ratio": targets.measure(
            RELIEF_TARGET, ratio(counts.marginal_relieved, counts.marginal_registered),
            relieved=counts.marginal_relieved, registered=counts.marginal_registered),
        "marginal_relief_yuan": amount(counts.relief_amount, households=counts.relief_households),
        "donations_yuan": amount(counts.donations_amount, donations=counts.donations),
    }


def _merge_payments(rows: list) -> list:
    """District payments: the areas' rows summed per (month, kind)."""
    merged: dict[tuple, PaymentRow] = {}
    for row in rows:
        key = (row.month, row.kind)
        if key not in merged:
            merged[key] = PaymentRow("", row.month, row.kind, 0, ZERO, ZERO)
        merged[key].payments += row.payments
        merged[key].amount += row.amount
        merged[key].back_pay += row.back_pay
    return list(merged.values())


def build(snapshot: Snapshot | None, ctx: Context, missing: list[str]) -> dict:
    """The JSON section (None: read model not initialised, all zeros)."""
    snapshot = snapshot or Snapshot(year=ctx.year)
    reference, targets = ctx.reference, ctx.targets
    schemes = schemes_of(snapshot, ctx)
    codes = sorted(set(reference.areas) | set(snapshot.areas))
    district_counts = AreaCounts()
    district_population = dict.fromkeys(schemes, 0)
    areas = {}
    for code in codes:
        ref = reference.areas.get(code)
        counts = snapshot.areas.get(code) or AreaCounts()
        populations = {s: scheme_population(ref or {}, s) for s in schemes}
        payments = [p for p in snapshot.payments if p.area == code]
        areas[code] = {
            "code": code,
            "name": (ref or {}).get("name"), "name_en": (ref or {}).get("name_en"),
            "kind": (ref or {}).get("kind"),
            "in_reference_data": ref is not None,
            "metrics": {**area_metrics(counts, populations, payments, schemes, targets),
                        "standard_raise_yuan": raise_measures(snapshot, code, schemes, targets)},
        }
        _add(district_counts, counts)
        for s in schemes:
            district_population[s] += populations[s]
    return {
        "read_model": {"schema": ctx.schema, "initialised": not missing, "missing": list(missing)},
        "note": NOT_INITIALISED if missing else None,
        "schemes": schemes,
        "district": {"code": ctx.district.get("code"), "name": ctx.district.get("name"),
                     "name_en": ctx.district.get("name_en"),
                     "metrics": {**area_metrics(district_counts, district_population,
                                                _merge_payments(snapshot.payments), schemes, targets),
                                 "standard_raise_yuan": raise_measures(snapshot, ALL_AREAS, schemes, targets)}},
        "areas": areas,
    }


def _add(total: AreaCounts, counts: AreaCounts) -> None:
    for name in ("active_cases", "pending_cases", "suspended_cases", "monthly_allowance",
                 "year_end_paid_cases", "marginal_registered", "marginal_relieved",
                 "relief_households", "relief_amount", "donations", "donations_amount"):
        setattr(total, name, getattr(total, name) + getattr(counts, name))
    for scheme, persons in counts.persons_by_scheme.items():
        total.persons_by_scheme[scheme] = total.persons_by_scheme.get(scheme, 0) + persons


# --- Prometheus ------------------------------------------------------------------------------------------

_A, _AS, _AY, _AMK = ("area",), ("area", "scheme"), ("area", "year"), ("area", "month", "kind")
# name -> (help, label names); docs/reporting.md and deploy/grafana/dibao.json use the same names.
METRICS: dict[str, tuple] = {
    "dibao_report": ("The report year, and the versions of its targets and reference data",
                     ("year", "targets_version", "reference_version"), "info"),
    "dibao_active_cases": ("Dibao cases in force (status active) now", _A),
    "dibao_pending_cases": ("Dibao applications not yet decided (applied or verified)", _A),
    "dibao_suspended_cases": ("Dibao cases suspended after a review", _A),
    "dibao_monthly_allowance_yuan": ("Sum of the monthly allowances of the active cases, yuan", _A),
    "dibao_persons_covered": ("Persons in active dibao cases, by scheme", _AS),
    "dibao_population": ("Population a scheme's coverage is measured against (reference data: "
                         "<scheme>_population of the area)", _AS),
    "dibao_coverage_ratio": ("Persons covered by the scheme / the area's population of that "
                             "registration (only areas where that population > 0)", _AS),
    "dibao_coverage_target_ratio": ("The year's target for dibao coverage of a scheme (targets file)",
                                    ("scheme",)),
    "dibao_coverage_target_met": ("1 if the area's coverage of the scheme meets the year's target, else 0",
                                  _AS),
    "dibao_district_coverage_ratio": ("District-wide dibao coverage: persons covered / population, "
                                      "summed over all areas", ("scheme",)),
    "dibao_district_coverage_target_met": ("1 if the district-wide coverage meets the year's target, "
                                           "else 0", ("scheme",)),
    "dibao_payments_yuan": ("Allowances paid for a month (kind monthly) or the year-end extra month "
                            "(kind year_end_extra, month YYYY-YE), back pay excluded, yuan", _AMK),
    "dibao_back_pay_yuan": ("Back pay for earlier months paid with a month's payment run, yuan", _AMK),
    "dibao_paid_cases": ("Cases paid for a month (kind monthly) or the year-end extra month", _AMK),
    "dibao_year_end_extra_paid_cases": ("Active cases paid the year's extra month (month key YYYY-YE)",
                                        _AY),
    "dibao_year_end_extra_ratio": ("Active cases paid the year's extra month / active cases", _AY),
    "dibao_year_end_extra_target_ratio": ("The year's target for the year-end extra-month completion",
                                          ()),
    "dibao_year_end_extra_target_met": ("1 if the area's year-end completion meets the target, else 0",
                                        _AY),
    "dibao_district_year_end_extra_ratio": ("District-wide year-end extra-month completion", ("year",)),
    "dibao_district_year_end_extra_target_met": ("1 if the district-wide year-end completion meets "
                                                 "the target, else 0", ("year",)),
    "dibao_marginal_households": ("Marginal (just above the line) households registered now", _A),
    "dibao_marginal_relieved_households": ("Registered marginal households paid the year's relief", _AY),
    "dibao_marginal_relief_ratio": ("Registered marginal households paid the year's relief / "
                                    "registered marginal households", _AY),
    "dibao_marginal_relief_target_ratio": ("The year's target for the marginal relief completion", ()),
    "dibao_marginal_relief_target_met": ("1 if the area's marginal relief completion meets the "
                                         "target, else 0", _AY),
    "dibao_district_marginal_relief_ratio": ("District-wide marginal relief completion", ("year",)),
    "dibao_district_marginal_relief_target_met": ("1 if the district-wide marginal relief completion "
                                                  "meets the target, else 0", ("year",)),
    "dibao_marginal_relief_yuan": ("Year-end relief paid to marginal households in the year, yuan", _AY),
    "dibao_standard_raise_yuan": ("How much the area's dibao standard of the scheme rose in the year "
                                  "(in force for December minus at the start of the year), yuan per "
                                  "person per month", ("area", "scheme", "year")),
    "dibao_district_standard_raise_yuan": ("How much the district-wide (all areas) standard of the "
                                           "scheme rose in the year, yuan per person per month",
                                           ("scheme", "year")),
    "dibao_standard_raise_target_met": ("1 if the area's raise of the scheme's standard is the year's "
                                        "target, else 0", ("area", "scheme", "year")),
    "charity_donations_yuan": ("One-day donation drive: donations received in the year, yuan", _AY),
    "charity_donations": ("One-day donation drive: donations received in the year", _AY),
}


def families(section: dict | None, ctx: Context) -> list[Metric]:
    """The section as metric families. Without a section (the database could not be reached)
    only `dibao_report_info` with the year, so that Grafana's year variable still resolves."""
    out = Families(METRICS)
    if section is None:
        out.info("dibao_report", {"year": str(ctx.year), "targets_version": "", "reference_version": ""})
        return out.collect()
    out.info("dibao_report", {"year": str(ctx.year),
                              "targets_version": ctx.targets.document.get("version") or "",
                              "reference_version": ctx.reference.version or ""})
    add = out.add
    year = str(ctx.year)
    schemes = section["schemes"]
    district = section["district"]["metrics"]
    for scheme in schemes:
        add("dibao_coverage_target_ratio", {"scheme": scheme}, district["coverage_ratio"][scheme]["target"])
    add("dibao_year_end_extra_target_ratio", {}, district["year_end_extra_ratio"]["target"])
    add("dibao_marginal_relief_target_ratio", {}, district["marginal_relief_ratio"]["target"])
    for code, area in section["areas"].items():
        _area(out, code, year, schemes, area["metrics"])
    for scheme in schemes:
        cov = district["coverage_ratio"][scheme]
        add("dibao_district_coverage_ratio", {"scheme": scheme}, cov["value"])
        add("dibao_district_coverage_target_met", {"scheme": scheme}, flag(cov["met"]))
    ye = district["year_end_extra_ratio"]
    add("dibao_district_year_end_extra_ratio", {"year": year}, ye["value"])
    add("dibao_district_year_end_extra_target_met", {"year": year}, flag(ye["met"]))
    relief = district["marginal_relief_ratio"]
    add("dibao_district_marginal_relief_ratio", {"year": year}, relief["value"])
    add("dibao_district_marginal_relief_target_met", {"year": year}, flag(relief["met"]))
    for scheme, measured in district["standard_raise_yuan"].items():
        add("dibao_district_standard_raise_yuan", {"scheme": scheme, "year": year}, measured["value"])
    return out.collect()


# metric -> where its value is in an area's (or the district's) metrics (Families.fill)
AREA_SAMPLES = {
    "dibao_active_cases": "active_cases", "dibao_pending_cases": "pending_cases",
    "dibao_suspended_cases": "suspended_cases", "dibao_monthly_allowance_yuan": "monthly_allowance_yuan",
    "dibao_year_end_extra_paid_cases": "year_end_extra_ratio.paid_cases",
    "dibao_year_end_extra_ratio": "year_end_extra_ratio",
    "dibao_year_end_extra_target_met": "year_end_extra_ratio.met",
    "dibao_marginal_households": "marginal_households",
    "dibao_marginal_relieved_households": "marginal_relief_ratio.relieved",
    "dibao_marginal_relief_ratio": "marginal_relief_ratio",
    "dibao_marginal_relief_target_met": "marginal_relief_ratio.met",
    "dibao_marginal_relief_yuan": "marginal_relief_yuan",
    "charity_donations_yuan": "donations_yuan", "charity_donations": "donations_yuan.donations",
}


def _area(out: Families, code: str, year: str, schemes: list[str], m: dict) -> None:
    out.fill(AREA_SAMPLES, m, area=code, year=year)
    for scheme in schemes:
        s, cov = {"area": code, "scheme": scheme}, m["coverage_ratio"][scheme]
        out.add("dibao_persons_covered", s, m["persons_covered"]["by_scheme"][scheme])
        out.add("dibao_population", s, m["population"][scheme]["value"])
        out.add("dibao_coverage_ratio", s, cov["value"])
        out.add("dibao_coverage_target_met", s, flag(cov["met"]))
        raised = m["standard_raise_yuan"][scheme]
        out.add("dibao_standard_raise_yuan", {**s, "year": year}, raised["value"])
        out.add("dibao_standard_raise_target_met", {**s, "year": year}, flag(raised["met"]))
    for row in m["payments_yuan"]["by_month"]:
        p = {"area": code, "month": row["month"], "kind": row["kind"]}
        out.add("dibao_payments_yuan", p, row["amount_yuan"])
        out.add("dibao_back_pay_yuan", p, row["back_pay_yuan"])
        out.add("dibao_paid_cases", p, row["payments"])
