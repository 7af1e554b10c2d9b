"""Integration tests of shared/lease.py on the real PostgreSQL: one holder per name and database,
a second one waits as a standby, and takes over when the holder's process is SIGKILLed (its
session ends, PostgreSQL releases the lock) or releases it."""
from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid

import psycopg
import pytest

from shared import lease
from shared.errors import InvalidInput
from tests.e2e.platform import ROOT, stop_group

HOLDER = """
import logging, sys, time
from shared import lease
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
with lease.hold(sys.argv[1], poll=0.1):
    print("held", flush=True)
    time.sleep(600)
"""


def name() -> str:
    return f"test-{uuid.uuid4()}"


def test_the_key_depends_on_the_name_and_the_database():
    assert lease.key("delivery", "a") == lease.key("delivery", "a")
    assert lease.key("delivery", "a") != lease.key("delivery", "b")
    assert lease.key("delivery", "a") != lease.key("relay", "a")
    assert -2**63 <= lease.key("delivery", "a") < 2**63
    with pytest.raises(InvalidInput) as caught:
        lease.key("", "a")
    assert caught.value.code == "input.too_long"


def test_a_second_holder_waits_until_the_first_releases(database):
    first, second = lease.Lease(name(), poll=0.05), None
    assert first.acquire(wait=False)
    try:
        second = lease.Lease(first.name, poll=0.05)
        assert not second.acquire(wait=False)
        assert not second.acquire(timeout=0.3)             # waited, still held by the first
        took = threading.Event()
        threading.Thread(target=lambda: second.acquire() and took.set(), daemon=True).start()
        assert not took.wait(0.5)
        first.release()
        assert took.wait(5), "the standby did not take the released lease"
        assert second.held and not first.acquire(wait=False)
    finally:
        first.release()
        if second is not None:
            second.release()


def test_a_waiting_standby_stops_when_told(database):
    holder = lease.Lease(name())
    assert holder.acquire(wait=False)
    try:
        stop = threading.Event()
        threading.Timer(0.3, stop.set).start()
        started = time.monotonic()
        with lease.hold(holder.name, stop=stop, poll=0.05) as standby:
            assert not standby.held
        assert time.monotonic() - started < 3
    finally:
        holder.release()


def test_another_database_is_another_lease(database):
    other = f"{database.pg_dbname}_lease"
    with psycopg.connect(database.pg_conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{other}"')
    try:
        here, there = lease.Lease("same-name"), lease.Lease("same-name", database.pg_conninfo(other))
        assert here.acquire(wait=False) and there.acquire(wait=False)
        here.release()
        there.release()
    finally:
        with psycopg.connect(database.pg_conninfo("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{other}" WITH (FORCE)')


def _holder(lease_name: str, log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", HOLDER, lease_name], cwd=ROOT, env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True)


def _lines(process: subprocess.Popen) -> "queue.Queue[str]":
    found: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [found.put(line.strip()) for line in process.stdout], daemon=True).start()
    return found


def _next(lines: "queue.Queue[str]", timeout: float) -> str:
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        return ""


def test_the_standby_process_takes_over_when_the_holder_is_sigkilled(database, tmp_path):
    lease_name = name()
    with open(tmp_path / "holders.log", "w") as log:
        first = _holder(lease_name, log)
        second = None
        try:
            first_says = _lines(first)
            assert _next(first_says, 30).endswith("held by this process (pid %d)" % first.pid)
            assert _next(first_says, 5) == "held"
            second = _holder(lease_name, log)
            second_says = _lines(second)
            assert _next(second_says, 30).startswith("standby: waiting for the lease")
            assert _next(second_says, 1.5) == "", "the standby took a lease that is held"
            os.killpg(first.pid, signal.SIGKILL)           # no release: only the session's end
            first.wait(10)
            assert _next(second_says, 30).endswith("held by this process (pid %d)" % second.pid)
            assert _next(second_says, 5) == "held"
        finally:
            stop_group(first, signal.SIGKILL)
            if second is not None:
                stop_group(second, signal.SIGKILL)


def test_a_holder_whose_connection_ends_is_told(database):
    lost = threading.Event()
    holder = lease.Lease(name(), check=0.1, on_lost=lost.set)
    assert holder.acquire(wait=False)
    try:
        pid = holder._connection.info.backend_pid
        with psycopg.connect(database.pg_conninfo(), autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert lost.wait(5), "on_lost was not called"
        successor = lease.Lease(holder.name)
        assert successor.acquire(wait=False), "the ended session still holds the lock"
        successor.release()
    finally:
        holder.release()
