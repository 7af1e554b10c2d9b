"""Test set-up shared by every tier.

Integration and end-to-end tests run on this machine's real PostgreSQL and RabbitMQ, isolated in
a database and a RabbitMQ virtual host created for the session and removed afterwards, so they
never touch a running `make run` platform.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import uuid
import warnings

import pytest

warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")

RUN_ID = uuid.uuid4().hex[:8]
TEST_DB = f"civil_affairs_test_{RUN_ID}"
TEST_VHOST = f"civil_affairs_test_{RUN_ID}"


def _key() -> str:
    from eventsourcing.cryptography import AESCipher
    return AESCipher.create_key(32)


# Every process the tests start inherits these: the session's own database, vhost and key.
os.environ.setdefault("CIPHER_KEY", _key())
os.environ["POSTGRES_DBNAME"] = TEST_DB
os.environ.setdefault("POSTGRES_HOST", "127.0.0.1")
os.environ.setdefault("POSTGRES_USER", "postgres")


def _vhost_uri(vhost: str) -> str:
    return f"amqp://guest:guest@127.0.0.1:5672/{vhost}"


@pytest.fixture(scope="session")
def amqp_uri():
    """A RabbitMQ vhost of the session's own (rabbitmqctl is on this machine; CI runs as root).
    The URI is guest's (full rights on the vhost: what tests use to call and inspect). The
    platform's broker users (shared/broker_users.py, `<vhost>.<process>`) are created for the
    vhost too, their passwords in os.environ (AMQP_PASSWORD_<PROCESS>, BROKER_USERS_VHOST), so
    the e2e platform (tests/e2e/platform.py) runs each process as its own user, like `make run`;
    they are deleted at the end."""
    from shared import broker_users
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        pytest.fail("rabbitmqctl not found: the integration tests need the local RabbitMQ "
                    "(Debian package rabbitmq-server); start it with `rabbitmq-server -detached`")
    subprocess.run([ctl, "add_vhost", TEST_VHOST], check=True, capture_output=True)
    subprocess.run([ctl, "set_permissions", "-p", TEST_VHOST, "guest", ".*", ".*", ".*"],
                   check=True, capture_output=True)
    passwords = {g.process: broker_users.new_password() for g in broker_users.table()}
    for process, password in passwords.items():
        os.environ[broker_users.password_variable(process)] = password
    uri = _vhost_uri(TEST_VHOST)
    os.environ["AMQP_URI"] = uri
    try:
        broker_users.apply(TEST_VHOST, passwords, ctl=ctl)
        os.environ["BROKER_USERS_VHOST"] = TEST_VHOST
        yield uri
    finally:
        broker_users.delete(TEST_VHOST, ctl=ctl)
        subprocess.run([ctl, "delete_vhost", TEST_VHOST], capture_output=True)


@pytest.fixture(scope="session")
def database():
    """The session's PostgreSQL database; dropped at the end."""
    import psycopg

    from shared.config import settings
    from shared.db import ensure_database
    cfg = settings()
    ensure_database(cfg)
    yield cfg
    with psycopg.connect(cfg.pg_conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEST_DB}" WITH (FORCE)')


@pytest.fixture
def fresh_schemas(database):
    """Drop every registered domain's event store, the read model and the subscriptions' store,
    so each test starts from an empty store (a subscription left by an earlier test would have
    the platform's delivery process polling feeds that are gone)."""
    from shared import domains
    from tests.support import drop_schemas
    drop_schemas(database, *domains.names(), "read_model", "subscriptions")
    return database
