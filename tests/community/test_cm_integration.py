"""Integration tier: community building on the real PostgreSQL (and, for the relay, RabbitMQ).

- identity numbers and names are encrypted at rest;
- designations racing each other never exceed the limit per street and year;
- the projection source module, applied through `ReadModel`, gives the expected rows, the same
  whether applied in small batches, twice, or in one go (rebuild equality);
- the relay publishes every stored event as a valid CloudEvent on `community.events`.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from psycopg import sql

from services.community import readmodel as cm_projection
from services.projection.readmodel import ReadModel
from shared import schemas
from shared.errors import Conflict
from tests.community.cm_support import SERVICE, drive_story, hire, person, postgres_app, published, read_model
from tests.support import check_relay_publishes_the_store, drop_schemas

pytestmark = pytest.mark.integration
READ_MODELS = ("read_model_cm", "read_model_cm_rebuilt")


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
    return {name: model.table_rows(name) for name in [*cm_projection.TABLES, *cm_projection.VIEWS]}


def query(model: ReadModel, statement: str) -> list[tuple]:
    with model.datastore.transaction(commit=False) as curs:
        curs.execute(sql.SQL(statement).format(s=sql.Identifier(model.datastore.schema)))
        return [tuple(row.values()) for row in curs.fetchall()]


def test_identity_numbers_and_names_are_encrypted_at_rest(app, database):
    who = person("欧阳晓峰")
    wid = hire(app, who=who)
    with psycopg.connect(database.pg_conninfo()) as conn:
        stored = conn.execute("SELECT state FROM community.community_events").fetchall()
    raw = b"".join(bytes(state) for (state,) in stored)
    assert who["id_number"].encode() not in raw and "欧阳晓峰".encode() not in raw
    assert app.get_worker(wid)["id_number"] == who["id_number"][:6] + "*" * 8 + who["id_number"][-4:]


def test_racing_designations_never_exceed_the_limit(app):
    ids = [app.register_community("wuxing", f"第{n}社区", "2005-01-01") for n in range(6)]

    def designate(cid):
        try:
            app.designate_community(cid, "brand", "2007-06-01", "品牌社区")
            return "ok"
        except Conflict as refused:
            return refused.code
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(designate, ids))
    assert outcomes.count("ok") == 2
    assert set(outcomes) - {"ok"} <= {"community.designation_limit_reached", "store.concurrent_change"}
    assert sum(1 for cid in ids if app.get_community(cid)["designations"]) == 2


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

    assert sorted(query(live, "SELECT area, level, communities FROM {s}.cm_star_communities")) == [
        ("beigang", 3, 1), ("beigang", 5, 1), ("wuxing", 5, 1), ("xilin", 4, 1)]
    assert query(live, "SELECT level, previous_level, changed_on::text FROM {s}.cm_star_history WHERE community_id = '"
                 + ids["communities"]["qinye"] + "' ORDER BY version") == [(3, None, "2007-02-01"), (None, 3, "2007-09-01")]
    assert sorted(query(live, "SELECT area, designation, count(*) FROM {s}.cm_designations GROUP BY 1, 2")) == [
        ("beigang", "brand", 2), ("beigang", "digital", 1), ("xilin", "digital", 1)]
    assert sorted(query(live, "SELECT area, kinds FROM {s}.cm_meeting_kinds WHERE year = 2007")) == [
        ("beigang", 3), ("beigang", 4), ("xilin", 4)]
    assert sorted(query(live, "SELECT kind, form, identified, completed FROM {s}.cm_organisations_by_kind "
                              "WHERE area = 'beigang'")) == [
        ("private_non_enterprise", "registration", 1, 1), ("social_group", "registration", 2, 2)]
    assert sorted(query(live, "SELECT result FROM {s}.cm_organisation_inspections")) == [("basically_passed",), ("passed",)]
    assert sorted(query(live, "SELECT name, model_level FROM {s}.cm_villages")) == [
        ("卜弋村", None), ("新闸村", "provincial"), ("新龙村", "municipal"), ("陈渡村", None)]
    assert query(live, "SELECT count(*) FILTER (WHERE in_window) AS counted, count(*) AS held FROM {s}.cm_elections") == [(3, 4)]
    assert sorted(query(live, "SELECT area, kind, facilities, to_standard FROM {s}.cm_facilities_to_standard")) == [
        ("beigang", "committee_office", 2, 2), ("beigang", "service_centre", 1, 1), ("wuxing", "service_centre", 1, 1),
        ("xilin", "committee_office", 1, 0), ("xinzha", "service_centre", 1, 0)]
    assert sorted(query(live, "SELECT named_code, status FROM {s}.cm_projects")) == [
        ("beigang_centre", "completed"), ("chenduxinyuan", "completed"), ("xilin_centre", "started")]
    assert query(live, "SELECT first_trained_on::text FROM {s}.cm_workers WHERE worker_id = '"
                 + ids["workers"]["feb"] + "'") == [("2007-07-05",)]
    masked = [r[0] for r in query(live, "SELECT id_number FROM {s}.cm_workers")]
    assert len(masked) == 5 and all("*" * 8 in number for number in masked)
    live.datastore.close()
    rebuilt.datastore.close()


def test_the_relay_publishes_every_stored_event_as_a_valid_cloudevent(app, amqp_uri):
    check_relay_publishes_the_store(app, amqp_uri, "community", drive_story)
