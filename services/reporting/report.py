"""Application layer of reporting: the district dibao dashboard, computed on each request.

`build_report()` turns one read-model `Snapshot` plus the reference data (areas, populations) and
the year's targets file into one JSON-ready dict; the Prometheus collector (`metrics.py`) and the
HTTP/RPC interface render that same dict, so the two can never disagree. `Reporting` is the
application object the service holds: it owns how to get a connection, the reference data and the
default year. No Nameko here.

Definitions (the plan's targets, see docs/reporting.md):
- coverage ratio of a scheme = persons in active cases of that scheme / the area's population of
  that registration (urban scheme / urban_population, rural / rural_population); per area only
  where that population > 0; district-wide = sum of persons / sum of populations.
- year-end extra-month completion for year Y = active cases with a `year_end_extra` payment keyed
  'Y-YE' / active cases.
- marginal relief completion for year Y = registered marginal households paid Y's relief /
  registered marginal households.
Ratios whose denominator is zero are None (JSON null; no Prometheus sample).
"""
from __future__ import annotations

import json
import operator
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from services.reporting.queries import (ZERO, AreaCounts, DatabaseMissing, PaymentRow, Snapshot,
                                        missing_relations, read_snapshot)
from shared import referencedata
from shared.errors import InvalidInput
from shared.referencedata import ReferenceData

DEFAULT_SCHEMA = "read_model"  # services.projection.readmodel.SCHEMA (not imported: no eventsourcing here)
DEFAULT_YEAR = 2007
NOT_INITIALISED = "read model not initialised; start the projection"

# Keys of the targets file (data/targets/<year>.json) this report evaluates.
COVERAGE_TARGET = "dibao_coverage_{scheme}_ratio"
YEAR_END_TARGET = "dibao_year_end_extra_month_ratio"
RELIEF_TARGET = "marginal_year_end_relief_ratio"

OPS: dict[str, Callable] = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt,
                            "==": operator.eq}


# --- small helpers -------------------------------------------------------------------------------

def parse_year(value, default: int) -> int:
    """A report year from a query string, an RPC argument or the environment."""
    if value is None or value == "":
        return default
    try:
        year = int(str(value).strip())
    except ValueError:
        raise InvalidInput("year", "must be a four-digit year, e.g. 2007",
                           code="report.year_not_number") from None
    if not 1949 <= year <= 2999:
        raise InvalidInput("year", "must be a four-digit year between 1949 and 2999",
                           code="report.year_out_of_range")
    return year


def default_year(environ=None) -> int:
    env = os.environ if environ is None else environ
    return parse_year(env.get("REPORT_YEAR"), DEFAULT_YEAR)


def money(value: Decimal) -> str:
    """Yuan as a string with two decimals (fen), as everywhere on the platform."""
    return str(Decimal(value).quantize(Decimal("0.01")))


def ratio(numerator: int, denominator: int) -> Fraction | None:
    return Fraction(numerator, denominator) if denominator else None


def scheme_population(area: dict, scheme: str) -> int:
    """The population a scheme's coverage is measured against: `<scheme>_population`."""
    return int(area.get(f"{scheme}_population", 0) or 0)


class Targets:
    """The year's targets file; a missing file means no targets (met flags are null)."""

    def __init__(self, year: int, document: dict | None):
        self.year = year
        self.document = document or {}
        self.entries: dict[str, dict] = self.document.get("targets", {})

    @classmethod
    def load(cls, year: int, directory: Path | None = None) -> "Targets":
        try:
            return cls(year, referencedata.load_targets(year, directory))
        except FileNotFoundError:
            return cls(year, None)

    @property
    def found(self) -> bool:
        return bool(self.document)

    def describe(self) -> dict:
        return {"year": self.year, "found": self.found, "version": self.document.get("version"),
                "source": self.document.get("source"),
                "note": None if self.found else f"no targets file data/targets/{self.year}.json"}

    def measure(self, key: str, value: Fraction | None, **extra) -> dict:
        """A ratio against the target `key`: value, target, op, met (None when unknown)."""
        target = self.entries.get(key)
        met = None
        if target is not None and value is not None:
            met = bool(OPS[target.get("op", ">=")](value, Fraction(str(target["value"]))))
        return {"value": None if value is None else float(value), "unit": "ratio",
                "target": None if target is None else float(target["value"]),
                "op": None if target is None else target.get("op", ">="),
                "target_key": key, "met": met, **extra}


def count(value: int, unit: str, **extra) -> dict:
    return {"value": int(value), "unit": unit, "target": None, "op": None, "met": None, **extra}


def amount(value: Decimal, **extra) -> dict:
    return {"value": money(value), "unit": "yuan", "target": None, "op": None, "met": None, **extra}


# --- the report -----------------------------------------------------------------------------------

def schemes_of(snapshot: Snapshot, reference: ReferenceData, targets: Targets) -> list[str]:
    """Every scheme that has a population in the reference data (`<scheme>_population`), a
    coverage target (`dibao_coverage_<scheme>_ratio`) or active cases: never a list in code."""
    prefix, suffix = COVERAGE_TARGET.split("{scheme}")
    named = {k[len(prefix):-len(suffix)] for k in targets.entries
             if k.startswith(prefix) and k.endswith(suffix)}
    populated = {k[:-len("_population")] for area in reference.areas.values() for k in area
                 if k.endswith("_population")}
    seen = {s for counts in snapshot.areas.values() for s in counts.persons_by_scheme}
    return sorted(named | populated | seen)


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


def build_report(snapshot: Snapshot, reference: ReferenceData, targets: Targets,
                 district: dict | None = None, schema: str = DEFAULT_SCHEMA,
                 now: datetime | None = None) -> dict:
    schemes = schemes_of(snapshot, reference, targets)
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
            "metrics": area_metrics(counts, populations, payments, schemes, targets),
        }
        _add(district_counts, counts)
        for s in schemes:
            district_population[s] += populations[s]
    district = district or {}
    return {
        "service": "reporting",
        "year": snapshot.year,
        "generated_at": (now or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
        "read_model": {"schema": schema, "initialised": snapshot.initialised,
                       "missing": snapshot.missing},
        "note": None if snapshot.initialised else NOT_INITIALISED,
        "targets": targets.describe(),
        "reference": {"version": reference.version},
        "schemes": schemes,
        "district": {"code": district.get("code"), "name": district.get("name"),
                     "name_en": district.get("name_en"),
                     "metrics": area_metrics(district_counts, district_population,
                                             _merge_payments(snapshot.payments), schemes, targets)},
        "areas": areas,
    }


def _add(total: AreaCounts, counts: AreaCounts) -> None:
    for name in ("active_cases", "pending_cases", "suspended_cases", "monthly_allowance",
                 "year_end_paid_cases", "marginal_registered", "marginal_relieved",
                 "relief_households", "relief_amount", "donations", "donations_amount"):
        setattr(total, name, getattr(total, name) + getattr(counts, name))
    for scheme, persons in counts.persons_by_scheme.items():
        total.persons_by_scheme[scheme] = total.persons_by_scheme.get(scheme, 0) + persons


def load_district(directory: Path | None = None) -> dict:
    path = Path(directory or referencedata.DATA_DIR) / "areas.json"
    return json.loads(path.read_text(encoding="utf-8")).get("district", {})


# --- the application object -------------------------------------------------------------------------

class Reporting:
    """What the service holds: a way to get a read-model connection, reference data, the year.

    `connect()` returns a context manager yielding a psycopg connection that is not in a
    transaction (a `psycopg_pool.ConnectionPool.connection`, or `psycopg.connect`)."""

    def __init__(self, connect: Callable[[], AbstractContextManager], schema: str = DEFAULT_SCHEMA,
                 year: int = DEFAULT_YEAR, reference_dir: Path | None = None):
        self.connect = connect
        self.schema = schema
        self.year = year
        self.reference_dir = reference_dir
        self.reference = ReferenceData.load(reference_dir)
        self.district = load_district(reference_dir)

    def snapshot(self, year: int) -> Snapshot:
        try:
            with self.connect() as conn:
                return read_snapshot(conn, self.schema, year)
        except DatabaseMissing as missing:
            return Snapshot(year=year, initialised=False, missing=[f"database {missing.dbname}"])

    def report(self, year=None) -> dict:
        """The whole dashboard for a year (default: the configured year). Raises InvalidInput
        for a bad year; database errors propagate (the interface maps them to 503)."""
        year = parse_year(year, self.year)
        return build_report(self.snapshot(year), self.reference,
                            Targets.load(year, self.reference_dir), self.district, self.schema)

    def health(self) -> dict:
        """Reachability of the read model; raises if the database cannot be reached."""
        try:
            with self.connect() as conn, conn.transaction():
                missing = missing_relations(conn, self.schema)
        except DatabaseMissing as error:
            missing = [f"database {error.dbname}"]
        return {"initialised": not missing, "missing": missing,
                "note": None if not missing else NOT_INITIALISED}
