"""Infrastructure layer of reporting: plain SQL over the projection's read model.

Reads only: the tables and views in schema `read_model` that the projection keeps. Every query of
one report runs in ONE read-only REPEATABLE READ transaction, so the numbers of a report agree with
each other even while the projection is applying a batch. No Nameko here.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

# The relations this service reads; if any is missing the projection has not created the read
# model yet, and the report is all zeros.
RELATIONS = ("cases", "area_totals", "payments", "payments_by_month", "marginal_households",
             "marginal_relief", "donations")

ZERO = Decimal("0.00")


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
    """The read model's numbers for one report year, as of one transaction."""
    year: int
    initialised: bool
    missing: list[str] = field(default_factory=list)
    areas: dict[str, AreaCounts] = field(default_factory=lambda: defaultdict(AreaCounts))
    payments: list[PaymentRow] = field(default_factory=list)

    def area(self, code: str) -> AreaCounts:
        return self.areas[code]


class DatabaseMissing(Exception):
    """The read model's database does not exist yet: the projection creates it on start."""

    def __init__(self, dbname: str):
        self.dbname = dbname
        super().__init__(f"database {dbname} does not exist")


class PooledConnections:
    """`connect()` for `Reporting`: a connection from a small pool. A database that does not
    exist yet is told apart from one that cannot be reached (DatabaseMissing vs PoolTimeout) by
    asking the server's maintenance database, and without waiting for the pool's timeout when
    the pool has no idle connection."""

    def __init__(self, pool: ConnectionPool, dbname: str, maintenance_conninfo: str,
                 timeout: float = 5.0):
        self.pool = pool
        self.dbname = dbname
        self.maintenance_conninfo = maintenance_conninfo
        self.timeout = timeout

    @contextmanager
    def __call__(self) -> Iterator[psycopg.Connection]:
        # No idle connection: a missing database would make getconn wait the whole timeout, so
        # ask first (one short connection; the pool is tiny and scrapes are rare).
        if self.pool.get_stats().get("pool_available", 0) == 0 and self._exists() is False:
            raise DatabaseMissing(self.dbname)
        try:
            conn = self.pool.getconn(timeout=self.timeout)
        except PoolTimeout:
            if self._exists() is False:
                raise DatabaseMissing(self.dbname) from None
            raise
        try:
            yield conn
        finally:
            self.pool.putconn(conn)

    def _exists(self) -> bool | None:
        """Whether the database exists; None if the server cannot be asked."""
        try:
            with psycopg.connect(self.maintenance_conninfo, connect_timeout=2, autocommit=True) as conn:
                return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                    (self.dbname,)).fetchone() is not None
        except psycopg.Error:
            return None


def missing_relations(conn, schema: str, relations=None) -> list[str]:
    """The relations (default: this module's RELATIONS) that do not exist (yet) in `schema`."""
    relations = list(RELATIONS if relations is None else relations)
    rows = conn.execute(
        "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = ANY(%s)",
        (schema, relations)).fetchall()
    found = {row[0] for row in rows}
    return [name for name in relations if name not in found]


@contextmanager
def snapshot_cursor(conn, schema: str, relations) -> Iterator[tuple[psycopg.Cursor | None, list[str]]]:
    """(a dict-row cursor, []) inside ONE read-only REPEATABLE READ transaction, or (None,
    missing relations) when the projection has not created them yet. The connection must not
    be in a transaction. Every report section reads through this."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        missing = missing_relations(conn, schema, relations)
        if missing:
            yield None, missing
            return
        with conn.cursor(row_factory=dict_row) as curs:
            yield curs, []


def fetch(curs, schema: str, statement: str, params: dict | None = None) -> list[dict]:
    """A statement's rows, with `{s}` filled in with the read model's schema."""
    curs.execute(sql.SQL(statement).format(s=sql.Identifier(schema)), params or {})
    return curs.fetchall()


def read_snapshot(conn, schema: str, year: int) -> Snapshot:
    """Run the report's queries on an open connection (which must not be in a transaction)."""
    with snapshot_cursor(conn, schema, RELATIONS) as (curs, missing):
        snapshot = Snapshot(year=year, initialised=not missing, missing=missing)
        if curs is not None:
            _read(curs, schema, snapshot)
        return snapshot


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
            SELECT area, count(*) AS donations, coalesce(sum(amount), 0) AS amount
            FROM {s}.donations WHERE year = %(year)s GROUP BY area""", {"year": year}):
        counts = snap.area(row["area"])
        counts.donations = int(row["donations"])
        counts.donations_amount = Decimal(row["amount"])
