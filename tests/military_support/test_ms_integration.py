"""Integration tier: military support on the real PostgreSQL (and, for the relay, RabbitMQ).

- identity numbers and names are encrypted at rest;
- monthly runs racing each other pay every beneficiary once;
- the projection source module, applied through `ReadModel`, gives the expected rows, the same
  whether applied in small batches, twice, or in one go (rebuild equality);
- the relay publishes every stored event as a valid CloudEvent on `military_support.events`.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import psycopg
import pytest
from psycopg import sql

from services.military_support import readmodel as ms_projection
from services.projection.readmodel import ReadModel
from shared import schemas
from tests.military_support.ms_support import (
    SERVICE, drive_story, person, postgres_app, published, read_model, register)
from tests.support import check_relay_publishes_the_store, drop_schemas

pytestmark = pytest.mark.integration
READ_MODELS = ("read_model_ms", "read_model_ms_rebuilt")


@pytest.fixture
def fresh(database):
    drop_schemas(database, SERVICE, *READ_MODELS)
    return database


@pytest.fixture
def app(fresh):
    application = postgres_app()
    yield application
    application.close()


def rows(model: ReadModel) -> dict:
    return {name: model.table_rows(name) for name in [*ms_projection.TABLES, *ms_projection.VIEWS]}


def query(model: ReadModel, statement: str) -> list[tuple]:
    with model.datastore.transaction(commit=False) as curs:
        curs.execute(sql.SQL(statement).format(s=sql.Identifier(model.datastore.schema)))
        return [tuple(row.values()) for row in curs.fetchall()]


def test_identity_numbers_and_names_are_encrypted_at_rest(app, database):
    who = person("孙志强")
    bid = register(app, "war_veteran", who=who)
    with psycopg.connect(database.pg_conninfo()) as conn:
        stored = conn.execute("SELECT state FROM military_support.military_support_events").fetchall()
    raw = b"".join(bytes(state) for (state,) in stored)
    assert who["id_number"].encode() not in raw and "孙志强".encode() not in raw
    assert app.get_beneficiary(bid)["id_number"] == who["id_number"][:6] + "*" * 8 + who["id_number"][-4:]


def test_racing_monthly_runs_pay_every_beneficiary_once(app):
    ids = [register(app, "demobilised_veteran", area="xilin") for _ in range(30)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: app.run_benefits("2007-03"), range(4)))
    assert sum(r["paid"] for r in results) == 30
    assert sum(Decimal(r["total"]) for r in results) == Decimal("9600.00")
    assert all(app.get_beneficiary(b)["payments"] == {"2007-03": "320.00"} for b in ids)
    assert app.run_benefits("2007-03")["paid"] == 0


def test_the_projection_gives_the_expected_rows_and_equals_a_rebuild(app, fresh):
    ids = drive_story(app)
    events = published(app)
    for event in events:
        schemas.validate(event)
    live = read_model(fresh, READ_MODELS[0])
    for begin in range(0, len(events), 7):
        live.apply_batch(SERVICE, events[begin:begin + 7])
    assert live.position(SERVICE) == len(events)
    assert live.apply_batch(SERVICE, events) == 0
    rebuilt = read_model(fresh, READ_MODELS[1])
    rebuilt.apply_batch(SERVICE, events)
    assert rows(rebuilt) == rows(live)

    assert sorted(query(live, "SELECT area, category, grade, beneficiaries FROM {s}.ms_beneficiaries_by_category")) == [
        ("beigang", "disabled_serviceman", 1, 1), ("beigang", "disabled_serviceman", 5, 1),
        ("beigang", "disabled_serviceman", 6, 1), ("beigang", "disabled_serviceman", 8, 1),
        ("beigang", "martyr_family", 0, 1), ("xilin", "demobilised_veteran", 0, 1),
        ("xilin", "died_on_duty_family", 0, 1)]
    assert query(live, "SELECT area, grade_1_6, insured FROM {s}.ms_medical_coverage") == [("beigang", 3, 2)]
    assert [r[4] for r in query(live, "SELECT * FROM {s}.ms_uninsured_grade_1_6")] == [6]
    assert sorted(query(live, "SELECT area, sum(amount), count(*) FROM {s}.ms_benefit_payments GROUP BY area")) == [
        ("beigang", Decimal("56750.00"), 60), ("xilin", Decimal("6624.00"), 19)]
    assert query(live, """SELECT month FROM {s}.ms_benefit_payments WHERE beneficiary_id = '"""
                 + ids["family"] + "' ORDER BY month") == [("2007-09",), ("2007-10",), ("2007-11",), ("2007-12",)]
    assert query(live, "SELECT claimed_on::text, expenses, paid FROM {s}.ms_assistance_claims") == [
        ("2007-07-20", Decimal("1000.00"), Decimal("600.00"))]
    assert sorted(query(live, "SELECT * FROM {s}.ms_resettlement")) == [("beigang", 1, 1), ("xinzha", 1, 0)]
    assert query(live, "SELECT sum(amount) FROM {s}.ms_worker_benefits") == [(Decimal("1400.00"),)]
    by_channel = dict((r[0], r[1]) for r in query(
        live, "SELECT channel, activities FROM {s}.ms_activities_by_channel WHERE year = 2007"))
    assert len(by_channel) == 8 and by_channel["window"] == 2
    assert query(live, "SELECT year, activities, education_sessions, submitted_on FROM {s}.ms_evidence_files") == [
        (2007, 9, 4, None)]
    assert query(live, "SELECT count(*) FROM {s}.ms_pairs WHERE dissolved_on IS NULL") == [(2,)]
    masked = [r[0] for r in query(live, "SELECT id_number FROM {s}.ms_beneficiaries")]
    assert len(masked) == 8 and all("*" * 8 in number for number in masked)
    live.datastore.close()
    rebuilt.datastore.close()


def test_the_relay_publishes_every_stored_event_as_a_valid_cloudevent(app, amqp_uri):
    check_relay_publishes_the_store(app, amqp_uri, "military_support", drive_story)
