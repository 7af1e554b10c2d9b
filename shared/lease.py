"""Infrastructure: a lease that lets only one process of a kind run per platform — a PostgreSQL
session-level advisory lock held on a connection of its own.

    with lease.hold("subscriptions-delivery"):      # a second process waits here (standby)
        run()

The key is derived from the name and the database (a 64-bit hash), so two platforms on one
PostgreSQL server never share a lease and a name means the same lock in every process. The lock
belongs to the holder's database session: when the holder dies — even by SIGKILL — its
connection closes, PostgreSQL ends the session and releases the lock, and a standby polling with
`pg_try_advisory_lock` takes over within `poll` seconds. A standby logs "standby: waiting for the
lease" once, and whatever stops it (the `stop` event, its signal handler) ends the wait.

The holder checks its connection every `check` seconds (`SELECT 1`, and TCP keepalives on the
socket): a lost connection means PostgreSQL may already have given the lease to another process,
so `on_lost` is called — by default it logs and sends this process SIGTERM, the graceful stop the
platform's processes all handle (their supervisor starts them again, as holder or standby).

Used by the delivery process (services/subscriptions/delivery.py); nothing in it is specific to
it, so any single-instance process (a relay's standby) can take a lease of its own name.
"""
from __future__ import annotations

import hashlib
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg

from shared.config import settings
from shared.errors import InvalidInput

log = logging.getLogger(__name__)

MAX_NAME = 200
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3,
             "connect_timeout": 10}


def key(name: str, database: str) -> int:
    """The advisory lock's key: a signed 64-bit integer from the name and the database."""
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME:
        raise InvalidInput("name", f"must be 1..{MAX_NAME} characters", code="input.too_long")
    digest = hashlib.sha256(f"{database}\x00{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _bounded(value: float, low: float, high: float) -> float:
    return min(max(float(value), low), high)


def _terminate(name: str) -> None:
    log.error("lease %s lost (its database connection ended): stopping, so that only one holder runs", name)
    os.kill(os.getpid(), signal.SIGTERM)


class Lease:
    """One named lease. `acquire()` takes it (waiting as a standby unless wait=False),
    `release()` gives it back; a context manager too."""

    def __init__(self, name: str, conninfo: str | None = None, *, poll: float = 1.0, check: float = 5.0,
                 on_lost: Callable[[], None] | None = None):
        cfg = settings()
        self.name = name
        self.conninfo = conninfo or cfg.pg_conninfo()
        database = psycopg.conninfo.conninfo_to_dict(self.conninfo).get("dbname") or cfg.pg_dbname
        self.key = key(name, database)
        self.poll = _bounded(poll, 0.05, 60.0)
        self.check = _bounded(check, 0.1, 300.0)
        self.on_lost = on_lost or (lambda: _terminate(name))
        self._connection: psycopg.Connection | None = None
        self._lock = threading.Lock()          # one statement at a time on the lease connection
        self._released = threading.Event()
        self._watch: threading.Thread | None = None

    @property
    def held(self) -> bool:
        return self._connection is not None

    def acquire(self, wait: bool = True, stop: threading.Event | None = None,
                timeout: float | None = None) -> bool:
        """Take the lease; True once held. With wait, poll until it is free (or `stop` is set or
        `timeout` seconds passed: False); without, answer at once."""
        if self.held:
            return True
        stop = stop or threading.Event()
        deadline = None if timeout is None else _bounded(timeout, 0.0, 86400.0)
        waited, told = 0.0, False
        while not stop.is_set():
            if self._try():
                self._start_watch()
                log.info("lease %s: held by this process (pid %d)", self.name, os.getpid())
                return True
            if not wait or (deadline is not None and waited >= deadline):
                return False
            if not told:
                log.info("standby: waiting for the lease %s (another process holds it)", self.name)
                told = True
            stop.wait(self.poll)
            waited += self.poll
        return False

    def _try(self) -> bool:
        try:
            connection = psycopg.connect(self.conninfo, autocommit=True,
                                         application_name=f"lease:{self.name}"[:63], **KEEPALIVE)
        except psycopg.OperationalError as error:
            log.warning("lease %s: cannot reach PostgreSQL (%s); trying again", self.name, error)
            return False
        try:
            got = connection.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()[0]
        except psycopg.Error:
            connection.close()
            return False
        if not got:
            connection.close()     # a standby holds no session open in between tries
            return False
        self._connection = connection
        self._released.clear()
        return True

    def _start_watch(self) -> None:
        self._watch = threading.Thread(target=self._watching, name=f"lease-{self.name}", daemon=True)
        self._watch.start()

    def _watching(self) -> None:
        while not self._released.wait(self.check):
            if not self.alive():
                if not self._released.is_set():
                    self.on_lost()
                return

    def alive(self) -> bool:
        """Whether the lease's connection still answers (so the lock is still ours)."""
        with self._lock:
            connection = self._connection
            if connection is None:
                return False
            try:
                connection.execute("SELECT 1")
                return True
            except psycopg.Error:
                return False

    def release(self) -> None:
        self._released.set()
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
        except psycopg.Error:
            pass               # the session is gone: so is the lock
        finally:
            connection.close()
        log.info("lease %s: released", self.name)

    def __enter__(self) -> "Lease":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


@contextmanager
def hold(name: str, *, conninfo: str | None = None, stop: threading.Event | None = None,
         poll: float = 1.0, check: float = 5.0, on_lost: Callable[[], None] | None = None) -> Iterator[Lease]:
    """Hold the lease `name` for the block, waiting as a standby until it is free. When `stop` is
    set while waiting, the block runs with `lease.held` False: check it."""
    lease = Lease(name, conninfo, poll=poll, check=check, on_lost=on_lost)
    lease.acquire(wait=True, stop=stop)
    try:
        yield lease
    finally:
        lease.release()
