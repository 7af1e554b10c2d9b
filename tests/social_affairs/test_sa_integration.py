"""Integration tier: the social affairs application on the real PostgreSQL (encrypted at rest,
concurrent commands), its projection source module applied through the projection's ReadModel,
and the report section over the rows it writes (the same as a rebuild's)."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from services.social_affairs import report as section
from shared import feed
from shared.errors import Conflict
from shared.referencedata import ReferenceData
from shared.report_kit import Context, Targets, read_section
from tests.social_affairs.sa_support import (READ_MODEL, couple, drive_story, marry, party, place,
                                             postgres_app, read_model, targets)
from tests.support import drop_schemas

REBUILT = "saf_read_model_rebuilt"


@pytest.fixture
def app(database):
    drop_schemas(database, "social_affairs", READ_MODEL, REBUILT)
    application = postgres_app()
    yield application
    application.close()


def test_identity_numbers_and_names_are_encrypted_at_rest(app, database):
    parties = couple()
    parties[0]["name"], parties[1]["name"] = "欧阳建国", "司马秀英"
    marry(app, parties)
    hall = app.register_hall("xilin_hall", "西林骨灰纪念堂", "xilin", "memorial_hall", 5, "1998-01-01")
    place(app, hall)
    with psycopg.connect(database.pg_conninfo()) as conn:
        rows = conn.execute("SELECT state FROM social_affairs.social_affairs_events").fetchall()
    raw = b"".join(bytes(state) for (state,) in rows)
    assert len(rows) >= 6
    for secret in [p["id_number"] for p in parties] + ["欧阳建国", "司马秀英"]:
        assert secret.encode() not in raw


def test_two_concurrent_marriages_of_one_person_one_wins(app):
    groom = party("1980-01-01", "M")
    start = threading.Barrier(2)

    def attempt(bride):
        start.wait()
        try:
            return marry(app, [groom, bride])
        except Conflict as error:
            return error
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(attempt, [party("1982-01-01", "F"), party("1983-01-01", "F")]))
    losers = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(losers) == 1 and losers[0].code == "affairs.already_married"


def test_two_concurrent_urns_for_the_last_niche_one_wins(app):
    hall = app.register_hall("tiny_hall", "小堂", "xinzha", "memorial_hall", 1, "2000-01-01")
    start = threading.Barrier(2)

    def attempt(_):
        start.wait()
        try:
            return place(app, hall)
        except Conflict as error:
            return error
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(attempt, range(2)))
    assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "str"]
    assert app.get_hall(hall)["occupied"] == 1


def project(app, model) -> None:
    while page := feed.page(app, model.position("social_affairs"), 1000)["events"]:
        model.apply_batch("social_affairs", page)


def report(database, schema: str, year: int = 2007) -> dict:
    with psycopg.connect(database.pg_conninfo()) as conn:
        ctx = Context(year, ReferenceData.load(), Targets(year, targets()), schema=schema)
        return read_section(conn, ctx, section)


def test_the_story_projected_and_reported(app, database):
    story = drive_story(app)
    model = read_model(database, READ_MODEL)
    try:
        project(app, model)
        project(app, model)                       # applying again changes nothing
    finally:
        model.datastore.close()
    got = report(database, READ_MODEL)
    assert got["read_model"]["initialised"] is True
    halls = got["halls"]
    assert (halls["yonghong_hall"]["urns"], halls["yonghong_hall"]["migrated_out"]) == (1, 2)
    assert halls["yonghong_hall"]["migration_progress_ratio"]["value"] == pytest.approx(2 / 3)
    assert (halls["yonghong_hall"]["prepared_on_time"], halls["xilin_hall"]["prepared_on_time"]) == (True, False)
    assert halls["beigang_cemetery"]["urns"] == 2 and halls["beigang_cemetery"]["migrated_in"] == 2
    assert (halls["xinzha_hall"]["to_standard"], halls["beigang_hall"]["to_standard"]) == (True, False)
    district = got["district"]["metrics"]
    assert (district["migration_preparation_ratio"]["value"], district["migration_preparation_ratio"]["met"]) == (0.5, False)
    assert district["halls_to_standard_ratio"]["value"] == 0.5
    assert district["new_grave_mounds"]["value"] == 2 and district["new_grave_mounds"]["met"] is False
    assert district["rebuilt_grave_mounds"]["value"] == 1
    assert district["unresolved_grave_mounds"]["value"] == 1
    xinzha = got["areas"]["xinzha"]["metrics"]
    assert (xinzha["unresolved_grave_mounds"]["value"], xinzha["grave_mound_inspections"]["value"]) == (1, 2)
    assert got["areas"]["xilin"]["metrics"]["new_grave_mounds"]["met"] is True
    beigang = got["areas"]["beigang"]["metrics"]["marriage_qualification_ratio"]
    assert (beigang["qualified"], beigang["registrations"], beigang["met"]) == (2, 3, False)
    assert district["marriage_qualification_ratio"]["value"] == 0.75
    assert district["marriage_refusals"]["by_rule"] == {"affairs.below_legal_age": 1}
    divorces_2021 = report(database, READ_MODEL, 2021)["district"]["metrics"]
    assert divorces_2021["divorce_registrations"]["value"] == 1
    assert divorces_2021["divorce_registrations"]["after_cooling_off"] == 1
    assert divorces_2021["divorce_applications"]["value"] == 2
    assert divorces_2021["divorce_applications"]["withdrawn"] == 1
    assert report(database, READ_MODEL, 2015)["district"]["metrics"]["divorce_registrations"]["value"] == 1
    with psycopg.connect(database.pg_conninfo()) as conn:
        numbers = conn.execute(f"SELECT id_number FROM {READ_MODEL}.saf_marriage_parties").fetchall()
        unresolved = conn.execute(f"SELECT mound_id::text FROM {READ_MODEL}.saf_unresolved_mounds").fetchall()
    assert numbers and all(n.count("*") == 8 for (n,) in numbers)
    assert unresolved == [(story["unresolved"],)]

    rebuilt = read_model(database, REBUILT)      # a rebuild from the store gives the same report
    try:
        project(app, rebuilt)
    finally:
        rebuilt.datastore.close()
    again = report(database, REBUILT)
    assert again["district"] == got["district"] and again["halls"] == got["halls"]
