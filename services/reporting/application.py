"""Application layer of reporting: a generic runner over the registered domains' report sections.

Reporting measures the district against the plan's targets (data/targets/<year>.json) for every
domain that declares a report section (`shared.domains.with_part("report")`; the section
interface is `shared.report_kit.Section`). It names no domain: a domain registered later, even
only by a test (PLATFORM_EXTRA_DOMAINS), is reported without any edit here.

`Reporting` is what the service process holds: how to get a read-model connection, the reference
data, the default year and the sections. `report(year)` reads every section from ONE read-only
REPEATABLE READ transaction and returns the JSON-ready dict, one key per domain;
`metrics(year)` renders the same sections as Prometheus families, plus this process's own
`reporting_*` gauges; `audit(...)` pages the projection's generic audit trail. A section
whose relations are missing reports itself as not initialised
(zeros, nulls) without blanking the others. No Nameko, no eventsourcing, no cipher key.
"""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from services.reporting import measures
from services.reporting.audit import audit_page
from services.reporting.connections import DatabaseMissing
from shared import domains, referencedata
from shared.errors import InvalidInput
from shared.referencedata import ReferenceData
from shared.report_kit import (DEFAULT_SCHEMA, NOT_INITIALISED, Context, Families, Section,
                               Targets, declared_twice, missing_relations, read_sections, utc_now)

log = logging.getLogger(__name__)

DEFAULT_YEAR = 2007
TOP_LEVEL = ("service", "year", "generated_at", "targets", "reference", "domains")

# This process's own gauges (name -> (help, label names)); each section declares its own METRICS.
METRICS: dict[str, tuple] = {
    "reporting_read_model_up": ("1 if the read model database answered this scrape, else 0", ()),
    "reporting_read_model_initialised": (
        "1 if the projection has created the read model of every report section, else 0 (the "
        "numbers of a section not initialised are then zero)", ()),
    "reporting_targets_found": ("1 if a targets file exists for the report year, else 0", ()),
    "reporting_target": (
        "The report year's target of each key of its targets file (data/targets/<year>.json), "
        "with the comparison that meets it; dashboards draw targets from it", ("key", "op")),
    "reporting_target_due_timestamp_seconds": (
        "When each target of the report year falls due (its `due` in the targets file, else the "
        "year's end), Unix seconds; after it a target not met is an alert", ("key",)),
    "reporting_target_value": (
        "Every measure of the report against a target of the targets file, by target key, scope "
        "(where in the report), area (empty: the whole district) and report year", ("key", "scope", "area", "year")),
    "reporting_target_met": (
        "1 if the measure meets its target, 0 if not (no sample while unknown)", ("key", "scope", "area", "year")),
}


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


def load_district(directory: Path | None = None) -> dict:
    """The district itself (code, names) from data/areas.json."""
    path = Path(directory or referencedata.DATA_DIR) / "areas.json"
    return json.loads(path.read_text(encoding="utf-8")).get("district", {})


def registered_sections() -> dict[str, Section]:
    """{domain name: its report module} of every registered domain that declares one."""
    return {domain.name: domain.load("report") for domain in domains.with_part("report")}


class Reporting:
    """`connect()` returns a context manager yielding a psycopg connection that is not in a
    transaction (a `PooledConnections`, or `psycopg.connect`). `sections` defaults to every
    registered domain's report section."""

    def __init__(self, connect: Callable[[], AbstractContextManager], schema: str = DEFAULT_SCHEMA,
                 year: int = DEFAULT_YEAR, reference_dir: Path | None = None,
                 sections: Mapping[str, Section] | None = None,
                 now: Callable[[], datetime] = utc_now):
        self.connect = connect
        self.schema = schema
        self.year = year
        self.reference_dir = reference_dir
        self.reference = ReferenceData.load(reference_dir)
        self.district = load_district(reference_dir)
        self.sections = registered_sections() if sections is None else dict(sections)
        self.now = now
        clashes = declared_twice(self.sections, METRICS)
        if clashes:
            raise RuntimeError(f"metric names declared by two report sections: {clashes}")
        taken = set(TOP_LEVEL) & set(self.sections)
        if taken:
            raise RuntimeError(f"report sections named like a key of the report: {sorted(taken)}")

    def context(self, year=None) -> Context:
        year = parse_year(year, self.year)
        return Context(year=year, reference=self.reference,
                       targets=Targets.load(year, self.reference_dir), schema=self.schema,
                       district=self.district, now=self.now())

    def read(self, ctx: Context) -> tuple[dict[str, dict], dict[str, list[str]]]:
        """(every section's dict, its missing relations), from one snapshot. Database errors
        propagate; a database not created yet leaves every section not initialised."""
        try:
            with self.connect() as conn:
                return read_sections(conn, ctx, self.sections)
        except DatabaseMissing as error:
            missing = [f"database {error.dbname}"]
            return ({name: section.build(None, ctx, missing) for name, section in self.sections.items()},
                    dict.fromkeys(self.sections, missing))

    def report(self, year=None) -> dict:
        """The whole report for a year (default: the configured year): one key per domain.
        Raises InvalidInput for a bad year; database errors propagate (the interface maps them
        to 503)."""
        ctx = self.context(year)
        built, _missing = self.read(ctx)
        return {"service": "reporting", "year": ctx.year,
                "generated_at": ctx.now.isoformat(timespec="seconds"),
                "targets": ctx.targets.describe(), "reference": {"version": ctx.reference.version},
                "domains": list(self.sections), **built}

    def audit(self, **filters) -> dict:
        """One page of the audit trail (services/reporting/audit.py), the filters checked by the
        declaration first (services/reporting/commands.py). A database not created yet is an
        empty, not initialised trail; other database errors propagate."""
        try:
            with self.connect() as conn:
                return audit_page(conn, self.schema, **filters)
        except DatabaseMissing as error:
            return {"order": "newest first", "events": [], "next": None, "initialised": False,
                    "note": f"database {error.dbname}: {NOT_INITIALISED}"}

    def metrics(self, year=None) -> list[Metric]:
        """Every section's metric families and this process's gauges. Never raises for the
        database: if it cannot be read, `reporting_read_model_up 0` and what each section shows
        without its data."""
        ctx = self.context(year)
        own = Families(METRICS)
        try:
            built, missing = self.read(ctx)
        except Exception as error:  # noqa: BLE001 — a scrape must still answer
            log.warning("reporting: the read model could not be read: %r", error)
            own.add("reporting_read_model_up", {}, 0)
            return [*self._families(dict.fromkeys(self.sections), ctx), *own.collect()]
        own.add("reporting_read_model_up", {}, 1)
        own.add("reporting_read_model_initialised", {}, int(not any(missing.values())))
        own.add("reporting_targets_found", {}, int(ctx.targets.found))
        for key, target in sorted(ctx.targets.entries.items()):
            own.add("reporting_target", {"key": key, "op": target.get("op", ">=")}, target["value"])
            own.add("reporting_target_due_timestamp_seconds", {"key": key},
                    measures.due(target, ctx.year).timestamp())
        for measure in measures.measures(built, ctx.reference.areas):
            labels = {"key": measure.key, "scope": measure.scope, "area": measure.area, "year": ctx.year}
            own.add("reporting_target_value", labels, measure.value)
            own.add("reporting_target_met", labels, None if measure.met is None else int(measure.met))
        return [*own.collect(), *self._families(built, ctx)]

    def _families(self, built: Mapping[str, dict | None], ctx: Context) -> list[Metric]:
        return [family for name, section in self.sections.items()
                for family in section.families(built[name], ctx)]

    def health(self) -> dict:
        """Whether each section's relations exist; raises if the database cannot be reached."""
        try:
            with self.connect() as conn, conn.transaction():
                missing = {name: missing_relations(conn, self.schema, section.RELATIONS)
                           for name, section in self.sections.items()}
        except DatabaseMissing as error:
            missing = dict.fromkeys(self.sections, [f"database {error.dbname}"])
        every = list(dict.fromkeys(m for found in missing.values() for m in found))
        return {"initialised": not every, "missing": every,
                "note": None if not every else NOT_INITIALISED,
                "domains": {name: {"initialised": not found, "missing": found}
                            for name, found in missing.items()}}


class ReportCollector(Collector):
    """A prometheus_client custom collector: `Reporting.metrics(year())` on every scrape."""

    def __init__(self, reporting: Reporting, year: Callable[[], int]):
        self.reporting = reporting
        self.year = year

    def describe(self) -> list:
        return []  # registering must not query the database

    def collect(self) -> Iterator[Metric]:
        yield from self.reporting.metrics(self.year())


def render(*registries: CollectorRegistry) -> bytes:
    """The text exposition of several registries, concatenated (their names must not clash)."""
    return b"".join(generate_latest(r) for r in registries)
