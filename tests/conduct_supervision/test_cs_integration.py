"""Integration tier: conduct supervision on the real PostgreSQL (and, for the relay, RabbitMQ).

- identity numbers, phones and complainants' names are encrypted at rest;
- racing contact assignments of one community give it one officer;
- the projection source module, applied through `ReadModel`, gives the expected rows, the same
  whether applied in small batches, twice, or in one go (rebuild equality);
- the relay publishes every stored event as a valid CloudEvent on `conduct_supervision.events`.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from psycopg import sql

from services.conduct_supervision import readmodel as cs_projection
from services.projection.readmodel import ReadModel
from shared import schemas
from shared.errors import Conflict
from tests.conduct_supervision.cs_support import (
    SERVICE, appoint, complaint, drive_story, officer, person, postgres_app, published, read_model)
from tests.support import check_relay_publishes_the_store, drop_schemas

pytestmark = pytest.mark.integration
READ_MODELS = ("read_model_cs", "read_model_cs_rebuilt")


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
    return {name: model.table_rows(name) for name in [*cs_projection.TABLES, *cs_projection.VIEWS]
            if name != "cs_overdue_complaints"}


def query(model: ReadModel, statement: str) -> list[tuple]:
    with model.datastore.transaction(commit=False) as curs:
        curs.execute(sql.SQL(statement).format(s=sql.Identifier(model.datastore.schema)))
        return [tuple(row.values()) for row in curs.fetchall()]


def test_personal_data_is_encrypted_at_rest(app, database):
    who = person("孙志强")
    sid = appoint(app, who=who, phone="13955550000")
    cid = complaint(app)
    with psycopg.connect(database.pg_conninfo()) as conn:
        stored = conn.execute("SELECT state FROM conduct_supervision.conduct_supervision_events").fetchall()
    raw = b"".join(bytes(state) for (state,) in stored)
    for clear in (who["id_number"], "孙志强", "13955550000", "13812345678", "王小红"):
        assert clear.encode() not in raw
    assert app.get_supervisor(sid)["phone"] == "*******0000"
    assert app.get_complaint(cid)["contact_name"] == "王**"


def test_racing_assignments_give_a_community_one_officer(app):
    ids = [officer(app, f"officer-{n}", f"干部{n}") for n in range(6)]

    def assign(officer_id):
        try:
            app.assign_community(officer_id, "xilin_xilin", "2007-02-01")
            return officer_id
        except Conflict as refused:
            assert refused.code == "conduct.community_already_assigned"
            return None
    with ThreadPoolExecutor(4) as pool:
        winners = [w for w in pool.map(assign, ids) if w]
    assert len(winners) == 1
    assert [c["officer_id"] for c in app.contacts()["communities"] if c["community"] == "xilin_xilin"] == winners


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

    assert sorted(query(live, "SELECT area, community, renewals, dismissed_on IS NOT NULL FROM {s}.cs_supervisors")) == [
        ("beigang", "beigang_beigang", 0, False), ("beigang", "beigang_shuanggui", 0, True),
        ("nandajie", "nandajie_wenhuagong", 1, False), ("xilin", "xilin_yangjia", 0, False)]
    assert sorted(query(live, "SELECT community, officer_id FROM {s}.cs_assignments")) == [
        ("beigang_beigang", "officer-li"), ("beigang_shuanggui", "officer-li"), ("xilin_xilin", "officer-wang")]
    assert query(live, "SELECT officer_id FROM {s}.cs_officers_without_community ORDER BY 1") == [("officer-zhao",)]
    assert query(live, "SELECT officer_id, year, overall FROM {s}.cs_rewards") == [("officer-li", 2007, "excellent")]
    assert sorted(query(live, "SELECT status, rounds, escalated FROM {s}.cs_complaints")) == [
        ("answered", 0, False), ("closed", 0, False), ("open", 0, False), ("open", 1, True)]
    assert len(query(live, "SELECT * FROM {s}.cs_overdue_complaints")) == 2       # today is after 2007
    assert query(live, "SELECT opinion_no, opinion FROM {s}.cs_opinions_pending") == [(2, "希望延长窗口办公时间")]
    assert query(live, "SELECT officer_id, prohibition, measure FROM {s}.cs_breaches") == [
        ("officer-wang", "p3_delay", "talk")]
    masked = [r[0] for r in query(live, "SELECT id_number FROM {s}.cs_supervisors")]
    assert len(masked) == 4 and all("*" * 8 in number for number in masked)
    assert ids["visit"]
    live.datastore.close()
    rebuilt.datastore.close()


def test_the_relay_publishes_every_stored_event_as_a_valid_cloudevent(app, amqp_uri):
    check_relay_publishes_the_store(app, amqp_uri, "conduct_supervision", drive_story)
