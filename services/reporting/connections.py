"""Infrastructure layer of reporting: connections to the read model's database.

`PooledConnections` is the `connect()` of `Reporting` (application.py) in the service process;
the SQL itself is in each domain's report section, run through shared/report_kit.py. No Nameko.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout


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
