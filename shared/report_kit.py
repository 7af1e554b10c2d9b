"""What every domain's report section is built from, written once; and the one section interface.

A domain adds a report section by writing `services/<domain>/report.py` (a module that has what
`Section` below names) and declaring it in its `DOMAIN = Domain(..., report="services.<domain>.report")`;
the reporting process (services/reporting) runs every registered section, by the domain's name,
without naming any of them (docs/reporting.md, "Adding a section").

The shared pieces: `money()`, `ratio()`, `number()`, the entries `count()`, `amount()`, `level()`
and `Targets.measure()` (value/target/op/met, compared exactly), `Families` (gauge families from a
METRICS declaration, labels checked on every sample), and reading: `read_sections()` runs every
section's queries in ONE read-only REPEATABLE READ transaction (one snapshot for all sections);
a section whose relations are missing is built from no rows (zeros and nulls) without touching
the others.

No Nameko and no eventsourcing here (prometheus_client and psycopg only): the reporting process
holds no cipher key and imports no domain's aggregates.
"""
from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from psycopg import sql
from psycopg.rows import dict_row

from shared import referencedata
from shared.referencedata import ReferenceData

DEFAULT_SCHEMA = "read_model"  # services.projection.readmodel.SCHEMA (not imported: no eventsourcing)
ZERO = Decimal("0.00")
NOT_INITIALISED = "read model not initialised; start the projection"
OPS: dict[str, Callable] = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt,
                            "==": operator.eq}

# name -> (help, label names) of gauges, or (help, label names, "info") of an info metric
# (exposed as `<name>_info`, always 1).
Metrics = Mapping[str, tuple]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


# --- figures -----------------------------------------------------------------------------------------

def money(value) -> str:
    """Yuan as a string with two decimals (fen), as everywhere on the platform."""
    return str(Decimal(value).quantize(Decimal("0.01")))


def ratio(numerator: int, denominator: int) -> Fraction | None:
    """An exact ratio; None (JSON null, no Prometheus sample) when the denominator is zero."""
    return Fraction(numerator, denominator) if denominator else None


def number(value: Fraction | None) -> float | None:
    return None if value is None else float(value)


def count(value: int, unit: str, **extra) -> dict:
    return {"value": int(value), "unit": unit, "target": None, "op": None, "met": None, **extra}


def amount(value: Decimal, **extra) -> dict:
    return {"value": money(value), "unit": "yuan", "target": None, "op": None, "met": None, **extra}


def level(value: Fraction | None, unit: str = "ratio", **extra) -> dict:
    """A ratio (or rate) with no target."""
    return {"value": number(value), "unit": unit, "target": None, "op": None, "met": None, **extra}


def flag(met: bool | None) -> int | None:
    """A `met` verdict as a 0/1 sample (None: no sample)."""
    return None if met is None else int(met)


class Targets:
    """The year's targets file (data/targets/<year>.json); a missing file means no targets
    (every `target` and `met` is then null)."""

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

    def matching(self, pattern: str) -> set[str]:
        """The `{x}` of every key of the file matching a pattern such as `a_{x}_ratio`."""
        prefix, _, suffix = pattern.partition("{")
        suffix = suffix.partition("}")[2]
        return {key[len(prefix):len(key) - len(suffix)] for key in self.entries
                if key.startswith(prefix) and key.endswith(suffix)
                and len(key) > len(prefix) + len(suffix)}

    def measure(self, key: str, value: Fraction | None, unit: str = "ratio", **extra) -> dict:
        """A value against the target `key`: value, target, op, met (None when unknown); met is
        compared exactly (rationals), so 540 out of 45,000 meets 1.2 %."""
        target = self.entries.get(key)
        met = None
        if target is not None and value is not None:
            met = bool(OPS[target.get("op", ">=")](value, Fraction(str(target["value"]))))
        return {"value": number(value), "unit": unit,
                "target": None if target is None else float(target["value"]),
                "op": None if target is None else target.get("op", ">="),
                "target_key": key, "met": met, **extra}


# --- Prometheus ----------------------------------------------------------------------------------------

def is_info(declaration: tuple) -> bool:
    return len(declaration) > 2 and declaration[2] == "info"


def exposed_labels(metrics: Metrics) -> dict[str, tuple[str, ...]]:
    """Exposed name -> label names of a METRICS declaration (an info metric is `<name>_info`)."""
    return {(f"{name}_info" if is_info(d) else name): tuple(d[1]) for name, d in metrics.items()}


class Families:
    """The metric families of one METRICS declaration, filled sample by sample and returned in
    the order of the declaration. Every sample's labels must be the declared ones, in order."""

    def __init__(self, metrics: Metrics):
        self.metrics = metrics
        self.found: dict[str, Metric] = {}

    def _family(self, name: str, labels: dict) -> Metric:
        declaration = self.metrics[name]
        if name not in self.found:
            kind = InfoMetricFamily if is_info(declaration) else GaugeMetricFamily
            self.found[name] = kind(name, declaration[0], labels=list(declaration[1]))
        return self.found[name]

    def _check(self, name: str, labels: dict, info: bool) -> None:
        declaration = self.metrics[name]
        if tuple(labels) != tuple(declaration[1]):
            raise RuntimeError(f"{name}: labels {tuple(labels)} are not the declared {tuple(declaration[1])}")
        if is_info(declaration) is not info:
            raise RuntimeError(f"{name}: declared as {'an info' if is_info(declaration) else 'a gauge'}")

    def add(self, name: str, labels: dict, value) -> None:
        """One gauge sample; a value of None is no sample."""
        self._check(name, labels, info=False)
        if value is not None:
            self._family(name, labels).add_metric([str(v) for v in labels.values()], float(value))

    def fill(self, sources: Mapping[str, str], entries: dict, **labels) -> None:
        """Samples read from a section's entries by path: metric name -> "key" (the entry's
        value), "key.field", or "key.met" (the verdict as 0/1). Each metric takes the labels it
        declares out of `labels`."""
        for name, path in sources.items():
            key, _, part = path.partition(".")
            value = entries[key][part or "value"]
            self.add(name, {k: labels[k] for k in self.metrics[name][1]},
                     flag(value) if part == "met" else value)

    def info(self, name: str, labels: dict) -> None:
        """The sample of an info metric (always 1)."""
        self._check(name, labels, info=True)
        self._family(name, labels).add_metric([str(v) for v in labels.values()], {})

    def collect(self) -> list[Metric]:
        return [self.found[name] for name in self.metrics if name in self.found]


# --- the section interface ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Context:
    """What every section of one report is computed with."""
    year: int
    reference: ReferenceData                 # data/areas.json (areas, populations), standards
    targets: Targets                         # the year's targets file
    schema: str = DEFAULT_SCHEMA             # the read model's schema
    district: dict = field(default_factory=dict)   # data/areas.json "district": code, names
    now: datetime = field(default_factory=utc_now)  # when the report is made (deadlines passed)


class Section(Protocol):
    """A domain's report section: its `report` module (services/<domain>/report.py) has these.

    - RELATIONS: the read-model tables and views it reads; if any is missing, the section is not
      initialised: `read` is not called and `build` gets no data (it reports zeros and nulls).
    - TARGETS: the keys of the targets file it evaluates (a `{x}` stands for a family of keys).
    - METRICS: name -> (help, label names) of every metric it exposes (no two sections share one).
    - read(curs, ctx): its queries, on a dict-row cursor inside the report's one read-only
      REPEATABLE READ transaction (`fetch` fills `{s}` with the schema) -> its data.
    - build(data, ctx, missing): the JSON-ready section; `data` is None when `missing` is not
      empty (relations, or the database, not created yet).
    - families(section, ctx): the section dict as metric families; `section` is None when the
      database could not be reached (return what must still be exposed, usually nothing).
    """
    RELATIONS: tuple[str, ...]
    TARGETS: tuple[str, ...]
    METRICS: Metrics

    def read(self, curs, ctx: Context) -> Any: ...

    def build(self, data: Any, ctx: Context, missing: list[str]) -> dict: ...

    def families(self, section: dict | None, ctx: Context) -> list[Metric]: ...


# --- reading the read model ------------------------------------------------------------------------

def missing_relations(conn, schema: str, relations) -> list[str]:
    """The relations that do not exist (yet) in `schema`, in the order given."""
    relations = list(relations)
    with conn.cursor() as curs:
        rows = curs.execute(
            "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = ANY(%s)",
            (schema, relations)).fetchall()
    found = {row[0] for row in rows}
    return [name for name in relations if name not in found]


@contextmanager
def snapshot_cursor(conn) -> Iterator:
    """A dict-row cursor inside ONE read-only REPEATABLE READ transaction: every query through
    it sees the same snapshot, even while the projection applies a batch. The connection must
    not be in a transaction."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        with conn.cursor(row_factory=dict_row) as curs:
            yield curs


def fetch(curs, schema: str, statement: str, params: dict | None = None) -> list[dict]:
    """A statement's rows, with `{s}` filled in with the read model's schema."""
    curs.execute(sql.SQL(statement).format(s=sql.Identifier(schema)), params or {})
    return curs.fetchall()


def read_sections(conn, ctx: Context,
                  sections: Mapping[str, Section]) -> tuple[dict[str, dict], dict[str, list[str]]]:
    """Every section built from ONE snapshot: ({name: section dict}, {name: missing relations}).
    A section with missing relations is built from no data; the others are read as usual."""
    built, missing = {}, {}
    with snapshot_cursor(conn) as curs:
        for name, section in sections.items():
            missing[name] = missing_relations(conn, ctx.schema, section.RELATIONS)
            data = None if missing[name] else section.read(curs, ctx)
            built[name] = section.build(data, ctx, missing[name])
    return built, missing


def read_section(conn, ctx: Context, section: Section) -> dict:
    """One section alone, from a snapshot of its own (a domain's tests)."""
    return read_sections(conn, ctx, {"section": section})[0]["section"]


def declared_twice(sections: Mapping[str, Section], own: Metrics = {}) -> dict[str, list[str]]:
    """Exposed metric names declared by more than one section (or by a section and `own`)."""
    owners: dict[str, list[str]] = {}
    for name, metrics in [("reporting", own), *((n, s.METRICS) for n, s in sections.items())]:
        for metric in exposed_labels(metrics):
            owners.setdefault(metric, []).append(name)
    return {metric: names for metric, names in owners.items() if len(names) > 1}
