"""Integration tier: the application on the real PostgreSQL (schema `subscriptions`, encrypted):
concurrent creations all land in the directory (the lost races are retried), and no secret is
stored in clear."""
from __future__ import annotations

import threading

import psycopg
import pytest

from services.subscriptions.application import Subscriptions
from tests.support import drop_schemas

pytestmark = pytest.mark.integration
BODY = dict(subscriber="City Public Security Bureau", purpose="case work",
            legal_basis="law_enforcement", source="welfare", sink="https://police.example/hooks")


@pytest.fixture
def app(database):
    drop_schemas(database, "subscriptions")
    application = Subscriptions()
    yield application
    application.close()


def test_concurrent_creations_all_listed(app):
    made, errors = [], []

    def create():
        try:
            made.append(app.create(**BODY)["id"])
        except Exception as error:  # noqa: BLE001 (collected and shown below)
            errors.append(error)
    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and len(made) == 8
    assert sorted(s["id"] for s in app.list()) == sorted(made)


def test_no_secret_in_clear_in_the_store(app, database):
    secret = app.create(**BODY)["secret"]
    with psycopg.connect(database.pg_conninfo()) as conn:
        rows = conn.execute("SELECT state FROM subscriptions.subscriptions_events").fetchall()
    assert rows and all(secret.encode() not in bytes(row[0]) for row in rows)
    assert all(b"police.example" not in bytes(row[0]) for row in rows)   # bodies are encrypted
