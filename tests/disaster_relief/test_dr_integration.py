"""Integration tier: disaster relief on the real PostgreSQL (and, for the relay, RabbitMQ).

- identity numbers and names are encrypted at rest;
- concurrent disbursements against one reserve never overdraw it;
- a disbursement racing the incident's closure never lands on an archived card;
- the projection source module, applied through `ReadModel`, gives the expected rows, the same
  rows whether applied in small batches, twice, or in one go (rebuild equality);
- the relay publishes every stored event as a valid CloudEvent on `disaster_relief.events`.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from uuid import UUID

import psycopg
import pytest
from psycopg import sql

from services.disaster_relief import readmodel as dr_projection
from services.projection.readmodel import ReadModel
from shared import schemas
from shared.config import settings
from shared.errors import Conflict
from tests.disaster_relief.dr_support import drive_story, postgres_app, published, read_model, stored_types
from tests.support import check_relay_publishes_the_store, drop_schemas, id_number

pytestmark = pytest.mark.integration
READ_MODELS = ("read_model_dr", "read_model_dr_rebuilt")


@pytest.fixture
def fresh(database):
    """Drop the service's schema and this test's read-model schemas: each test starts empty."""
    drop_schemas(database, "disaster_relief", *READ_MODELS)
    return database


@pytest.fixture
def app(fresh):
    application = postgres_app()
    yield application
    application.close()


def rows(model: ReadModel) -> dict:
    return {name: model.table_rows(name) for name in [*dr_projection.TABLES, *dr_projection.VIEWS]}


def query(model: ReadModel, statement: str) -> list[tuple]:
    with model.datastore.transaction(commit=False) as curs:
        curs.execute(sql.SQL(statement).format(s=sql.Identifier(model.datastore.schema)))
        return [tuple(row.values()) for row in curs.fetchall()]


# --- at rest ------------------------------------------------------------------------------------------

def test_identity_numbers_and_names_are_encrypted_at_rest(app, database):
    incident = app.register_incident("flood", ["xinzha"], "2007-07-06T03:30", "officer-li")
    number = id_number("19580312")
    app.add_to_roster(incident, "XZ-0001", number, "张建国", "xinzha", 3, ["food"], "officer-zhou", "2007-07-07")
    with psycopg.connect(database.pg_conninfo()) as conn:
        stored = conn.execute("SELECT state FROM disaster_relief.disaster_relief_events").fetchall()
    raw = b"".join(bytes(state) for (state,) in stored)
    assert len(stored) == 5
    assert number.encode() not in raw and "张建国".encode() not in raw and b"XZ-0001" not in raw
    assert app.get_roster(incident)[0]["id_number"] == number[:6] + "*" * 8 + number[-4:]
    assert app.get_roster(incident, reveal_identity=True)[0]["id_number"] == number


# --- concurrency ----------------------------------------------------------------------------------------

def attempt(call, *args):
    try:
        return call(*args)
    except Conflict as error:
        return error


def test_concurrent_disbursements_never_overdraw_one_reserve(app):
    incident = app.register_incident("flood", ["xinzha"], "2007-07-06T03:30", "officer-li")
    app.deposit("xinzha", "1000.00", "镇财政", "officer-wang", "2007-01-15")
    households = [f"XZ-{n:04d}" for n in range(10)]
    for n, household in enumerate(households):
        app.add_to_roster(incident, household, id_number("19700101", seq=100 + n), f"户主{n}", "xinzha",
                          2, ["food"], "officer-zhou", "2007-07-07")

    def pay(household):
        return attempt(app.disburse, incident, household, "户主", "150.00", "officer-wang", "2007-07-08")
    with ThreadPoolExecutor(10) as pool:
        outcomes = list(pool.map(pay, households))
    paid = [o for o in outcomes if isinstance(o, dict)]
    refused = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(paid) + len(refused) == 10
    assert 1 <= len(paid) <= 6                     # 6 × 150 = 900 fit into 1,000; 7 would not
    assert all(r.field in ("amount", "version") for r in refused)
    reserve = app.get_reserve("xinzha")
    assert Decimal(reserve["balance"]) == Decimal("1000.00") - 150 * len(paid) >= 0
    cards = sum(Decimal(app.get_card(incident, h)["cash_received"]) for h in households)
    assert cards == Decimal(reserve["disbursed"]) == 150 * len(paid)
    assert stored_types(app).count("ReserveDisbursed") == len(paid)
    # Every balance the reserve ever recorded is non-negative.
    balances = [Decimal(e["data"]["balance"]) for e in published(app) if e["type"] == "ReserveDisbursed"]
    assert min(balances) >= 0


def test_a_disbursement_racing_the_closure_never_lands_on_an_archived_card(app):
    incident = app.register_incident("flood", ["xinzha"], "2007-07-06T03:30", "officer-li")
    app.report(incident, "initial", {"deaths": 0, "missing": 0, "relocated": 10, "houses_damaged": 1,
                                     "direct_loss": "1000.00"}, "2007-07-06T05:00", "officer-li")
    app.report(incident, "final", {"deaths": 0, "missing": 0, "relocated": 10, "houses_damaged": 1,
                                   "direct_loss": "1000.00"}, "2007-07-09T09:00", "officer-li")
    app.deposit("xinzha", "30000.00", "镇财政", "officer-wang", "2007-01-15")
    app.add_to_roster(incident, "XZ-0001", id_number("19700101"), "张三", "xinzha", 2, ["food"],
                      "officer-zhou", "2007-07-07")
    start = threading.Barrier(2)

    def close():
        start.wait()
        return attempt(app.close_incident, incident, "officer-li", "2007-09-30")

    def pay():
        start.wait()
        return attempt(app.disburse, incident, "XZ-0001", "张三", "100.00", "officer-wang", "2007-09-30")
    with ThreadPoolExecutor(2) as pool:
        closing, paying = pool.submit(close), pool.submit(pay)
        closed, paid = closing.result(), paying.result()
    assert isinstance(closed, dict) and closed["status"] == "closed"
    card = app.repository.get(UUID(app.get_card(incident, "XZ-0001")["card_id"]))
    kinds = [type(e).__name__ for e in app.repository.event_store.get(card.id)]
    assert kinds[-1] == "Archived"                # nothing after the archive
    if isinstance(paid, dict):                    # it won the race: recorded before the archive
        assert kinds == ["Issued", "CashReceived", "Archived"]
        assert app.get_reserve("xinzha")["balance"] == "29900.00"
    else:
        assert paid.code in ("relief.incident_closed", "relief.card_archived")
        assert app.get_reserve("xinzha")["balance"] == "30000.00"


# --- the read model ------------------------------------------------------------------------------------

def test_the_projection_module_gives_the_expected_rows_and_equals_a_rebuild(app, fresh):
    ids = drive_story(app)
    events = published(app)
    for event in events:
        schemas.validate(event)
    live = read_model(fresh, READ_MODELS[0])
    for begin in range(0, len(events), 7):              # small batches, as the consumer takes them
        live.apply_batch("disaster_relief", events[begin:begin + 7])
    assert live.position("disaster_relief") == len(events)
    assert live.apply_batch("disaster_relief", events) == 0      # a redelivery changes nothing
    rebuilt = read_model(fresh, READ_MODELS[1])
    rebuilt.apply_batch("disaster_relief", events)
    assert rows(rebuilt) == rows(live)

    flood, hail = ids["flood"], ids["hail"]
    incidents = {str(r[0]): r[1:] for r in query(live, """
        SELECT incident_id, incident_type, status, level, last_stage, relocated, direct_loss,
               occurred_on::text, year FROM {s}.dr_incidents""")}
    assert incidents == {
        hail: ("hail", "closed", None, "final", 0, Decimal("210000.00"), "2007-05-14", 2007),
        flood: ("flood", "open", "III", "final", 2800, Decimal("4300000.00"), "2007-07-06", 2007)}
    assert query(live, """SELECT stage, late, level FROM {s}.dr_reports
                          WHERE incident_id = '""" + flood + "' ORDER BY version") == [
        ("initial", True, "IV"), ("follow_up", False, "II"), ("final", False, "III")]
    assert sorted(query(live, "SELECT year, stage, timeliness, reports FROM {s}.dr_report_timeliness")) == [
        (2007, "final", "on_time", 2), (2007, "follow_up", "no_deadline", 1),
        (2007, "initial", "late", 1), (2007, "initial", "on_time", 1)]
    assert sorted(query(live, "SELECT * FROM {s}.dr_reserve_status")) == [
        ("beigang", Decimal("19500.00"), Decimal("20000.00"), True, Decimal("20000.00"), Decimal("500.00")),
        ("xilin", Decimal("29200.00"), Decimal("20000.00"), False, Decimal("30000.00"), Decimal("800.00")),
        ("xinzha", Decimal("19200.00"), Decimal("20000.00"), True, Decimal("21000.00"), Decimal("1800.00"))]
    assert sorted(query(live, "SELECT area, households, persons FROM {s}.dr_roster_by_area")) == [
        ("beigang", 1, 1 * 4), ("xilin", 1, 5), ("xinzha", 2, 5)]
    assert sorted((str(r[0]), r[1], r[2], r[3]) for r in query(live, "SELECT * FROM {s}.dr_aid_by_incident")) == sorted([
        (hail, "beigang", Decimal("500.00"), 1), (flood, "xilin", Decimal("800.00"), 1),
        (flood, "xinzha", Decimal("1800.00"), 2)])
    masked = [r[0] for r in query(live, "SELECT id_number FROM {s}.dr_roster ORDER BY household_id")]
    assert all("*" * 8 in number for number in masked) and len(masked) == 4
    assert query(live, "SELECT count(*) FROM {s}.dr_cards WHERE archived") == [(1,)]
    live.datastore.close()
    rebuilt.datastore.close()


# --- the relay -------------------------------------------------------------------------------------------

def test_the_relay_publishes_every_stored_event_as_a_valid_cloudevent(app, amqp_uri):
    check_relay_publishes_the_store(app, amqp_uri, "disaster_relief", drive_story, batch_size=20)


def test_long_lived_aggregates_reload_from_their_snapshots(app):
    """A roster of 60 households and a reserve with 60 movements pass the snapshot intervals
    (every 50 events): a new application process reads them back the same."""
    incident = app.register_incident("flood", ["xinzha"], "2007-07-06T03:30", "officer-li")
    app.deposit("xinzha", "60000.00", "镇财政", "officer-wang", "2007-01-15")
    for n in range(60):
        app.add_to_roster(incident, f"XZ-{n:04d}", id_number("19700101", seq=300 + n), f"户主{n}",
                          "xinzha", 1 + n % 4, ["food"], "officer-zhou", "2007-07-07")
        app.disburse(incident, f"XZ-{n:04d}", f"户主{n}", "100.00", "officer-wang", "2007-07-08")
    assert app.snapshots is not None
    with psycopg.connect(settings().pg_conninfo()) as conn:
        snapshots = conn.execute("SELECT count(*) FROM disaster_relief.disaster_relief_snapshots").fetchone()[0]
    assert snapshots >= 2
    again = postgres_app()
    try:
        assert again.get_incident(incident) == app.get_incident(incident)
        assert again.get_roster(incident, reveal_identity=True) == app.get_roster(incident, reveal_identity=True)
        assert again.get_reserve("xinzha") == app.get_reserve("xinzha") == {
            "area": "xinzha", "balance": "54000.00", "floor": "20000.00", "below_floor": False,
            "deposited": "60000.00", "disbursed": "6000.00", "version": 62}
    finally:
        again.close()
