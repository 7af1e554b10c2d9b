"""Fault suite: RabbitMQ and PostgreSQL restart under a steady stream of commands. Each scenario
brings the server back before it ends, pass or fail, so the rest of the suite (and CI) finds it
running."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time

import psycopg

from tests.fault.conftest import Traffic, assert_converged


def rabbitmqctl(*args: str) -> None:
    subprocess.run([shutil.which("rabbitmqctl"), *args], check=True, capture_output=True, timeout=120)


def test_rabbitmq_restart_mid_stream(platform, amqp_uri):
    with Traffic(amqp_uri) as traffic:
        traffic.wait_for(40)
        try:
            rabbitmqctl("stop_app")
            time.sleep(3)
        finally:
            rabbitmqctl("start_app")
            rabbitmqctl("await_startup")
        traffic.wait_for(40, timeout=180)  # every process reconnected by itself
    assert_converged(platform)


def postgres_cluster() -> tuple[str, str]:
    version = os.path.basename(sorted(glob.glob("/etc/postgresql/*"))[-1])
    return version, "main"


def pg_ctlcluster(action: str) -> None:
    version, name = postgres_cluster()
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, name, action],
                   check=True, capture_output=True, timeout=120)


def wait_for_postgres(timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_postgresql_restart_mid_stream(platform, amqp_uri):
    with Traffic(amqp_uri) as traffic:
        traffic.wait_for(40)
        try:
            pg_ctlcluster("restart")
        finally:
            if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"]).returncode != 0:
                pg_ctlcluster("start")
            wait_for_postgres()
        traffic.wait_for(40, timeout=180)  # commands fail cleanly during the restart, then flow
    assert_converged(platform)
