"""Integration tier: the welfare application on the real PostgreSQL, its projection source module
applied through the projection's ReadModel, and the welfare report over the rows it writes."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from services.welfare import readmodel as welfare_source
from services.projection.readmodel import ReadModel
from services.welfare import report as welfare_report
from shared import feed
from shared.errors import Conflict
from shared.referencedata import ReferenceData
from shared.report_kit import Context, Targets, read_section
from tests.support import drop_schemas
from tests.support import check_with_promtool
from tests.welfare.welfare_support import (READ_MODEL, admit,
                                           drive_welfare_year, person, postgres_welfare,
                                           read_model, welfare_targets, worker)

REBUILT = "wf_read_model_rebuilt"


@pytest.fixture
def fresh_welfare(database):
    """Drop the welfare event store and the read-model schemas of these tests."""
    drop_schemas(database, "welfare", READ_MODEL, REBUILT)
    return database


@pytest.fixture
def app(fresh_welfare):
    application = postgres_welfare()
    yield application
    application.close()


# --- the event store ---------------------------------------------------------------------------

def test_identity_numbers_and_names_are_encrypted_at_rest(app, database):
    home = app.register_institution("beigang", "北港敬老院", "public", 10, "2000-01-01")
    elder, carer = person("欧阳秀英", "1931-07-21"), worker("司马丽华")
    admit(app, home, elder)
    app.register_care_worker(home, carer["id_number"], carer["name"], "2006-01-01")
    factory = app.register_enterprise("xilin", "西林福利厂", "collective", 5, "1990-01-01")
    disabled = worker("诸葛建国")
    app.hire_disabled_employee(factory, disabled["id_number"], disabled["name"], "2007-01-02")
    with psycopg.connect(database.pg_conninfo()) as conn:
        rows = conn.execute("SELECT state FROM welfare.welfare_events").fetchall()
    raw = b"".join(bytes(state) for (state,) in rows)
    assert len(rows) >= 9
    for secret in (elder["id_number"], carer["id_number"], disabled["id_number"],
                   elder["birth_date"].replace("-", "")):
        assert secret.encode() not in raw
    for name in ("欧阳秀英", "司马丽华", "诸葛建国"):
        assert name.encode() not in raw
    assert app.get_care_worker(app.register_care_worker(home, worker()["id_number"], "某", "2006-01-01"))[
        "id_number"].count("*") == 8


def test_two_concurrent_admissions_to_the_last_free_bed_one_wins(app):
    home = app.register_institution("xilin", "西林敬老院", "public", 2, "2000-01-01")
    admit(app, home)
    start = threading.Barrier(2)

    def attempt(who):
        start.wait()
        try:
            return admit(app, home, who)
        except Conflict as error:
            return error
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(attempt, [person("甲"), person("乙")]))
    winners = [o for o in outcomes if isinstance(o, str)]
    losers = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(winners) == 1 and len(losers) == 1
    assert (losers[0].field, losers[0].code) == ("institution_id", "welfare.institution_full")
    institution = app.get_institution(home)
    assert institution["occupied"] == 2 and sorted(institution["residents"]) == ["1", "2"]
    assert list(institution["residents"].values()).count(winners[0]) == 1


def test_one_person_admitted_concurrently_to_two_institutions_lives_in_one(app):
    homes = [app.register_institution("beigang", f"院{i}", "public", 5, "2000-01-01") for i in range(2)]
    elder = person("同一人")
    start = threading.Barrier(2)

    def attempt(home):
        start.wait()
        try:
            return admit(app, home, elder)
        except Conflict as error:
            return error
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(attempt, homes))
    assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "str"]
    assert sum(app.get_institution(h)["occupied"] for h in homes) == 1


# --- the projection source module, through the projection's ReadModel ---------------------------------

def published(app) -> list[dict]:
    """Every stored event as the relay and the /events feed publish it."""
    return feed.page(app, 0, 1000)["events"]


def rows(model: ReadModel) -> dict:
    return {name: model.table_rows(name) for name in [*welfare_source.TABLES, *welfare_source.VIEWS]}


@pytest.fixture
def projected(app, database):
    drive_welfare_year(app)
    events = published(app)
    model = read_model(database, READ_MODEL)
    for begin in range(0, len(events), 7):          # batches, each delivered twice
        model.apply_batch("welfare", events[begin:begin + 7])
        model.apply_batch("welfare", events[max(0, begin - 3):begin + 7])
    yield model, events
    model.datastore.close()


def test_the_projection_writes_the_expected_rows(projected):
    model, events = projected
    assert model.position("welfare") == int(events[-1]["sequence"])
    beds = {row[0]: row[1:] for row in model.table_rows("wf_area_elderly_care")}
    # area: institutions, public, private, beds, residents
    assert beds == {"beigang": (2, 1, 1, 160, 2), "xilin": (1, 1, 0, 140, 1)}
    assert {row[0]: row[1:] for row in model.table_rows("wf_area_care_workers")} == {
        "beigang": (4, 3), "xilin": (1, 1)}
    support = {(r[0], r[1]): r[2:] for r in model.table_rows("wf_area_special_support")}
    # persons, arranged, centralized, dispersed, dispersed with medical care, flagged
    assert support == {("beigang", "three_no"): (2, 2, 1, 1, 0, 1),
                       ("xilin", "five_guarantee"): (2, 1, 0, 1, 0, 0)}
    assert len(model.table_rows("wf_medical_care_flags")) == 1
    enterprises = {row[0]: row[1:] for row in model.table_rows("wf_area_enterprises")}
    # enterprises, flagged, must restructure, restructured, on time, disabled, staff
    assert enterprises == {"xilin": (1, 0, 1, 1, 1, 10, 30), "xinzha": (1, 1, 1, 1, 0, 12, 52),
                           "wuxing": (1, 1, 0, 0, 0, 0, 8)}
    statuses = sorted((r[3], r[6], str(r[4])) for r in model.table_rows("wf_home_care_orders"))
    assert statuses == [("free", "cancelled", "0.00"), ("low_cost", "delivered", "10.00"),
                        ("low_cost", "delivered", "5.00"), ("paid", "delivered", "30.00"),
                        ("paid", "placed", "25.00")]
    admissions = model.table_rows("wf_admissions")
    assert all(row[4].count("*") == 8 for row in admissions)          # masked identity numbers
    assert sorted(row[8] for row in admissions) == ["discharged", "resident", "resident", "resident"]


def test_applying_in_one_batch_gives_the_same_rows_as_batches_with_redeliveries(projected, database):
    model, events = projected
    rebuilt = read_model(database, REBUILT)
    assert rebuilt.apply_batch("welfare", events) == len(events)
    try:
        assert rows(rebuilt) == rows(model)
    finally:
        rebuilt.datastore.close()


# --- the welfare report over those rows -------------------------------------------------------------------

@pytest.fixture
def report(projected, database):
    with psycopg.connect(database.pg_conninfo()) as conn:
        return read_section(conn, context(READ_MODEL, welfare_targets()), welfare_report)


def context(schema: str, targets: dict | None) -> Context:
    return Context(2007, ReferenceData.load(), Targets(2007, targets), schema=schema)


def test_the_report_measures_the_year_against_the_targets(report):
    beigang, xilin = report["areas"]["beigang"]["metrics"], report["areas"]["xilin"]["metrics"]
    beds = beigang["beds_per_1000_aged_60_plus"]
    assert (beds["value"], beds["target"], beds["met"]) == (pytest.approx(160_000 / 9200), 17.0, True)
    assert xilin["beds_per_1000_aged_60_plus"]["met"] is False                # 140 per 8,600
    assert beigang["occupancy_ratio"]["value"] == pytest.approx(2 / 160)
    assert (beigang["training_ratio"]["value"], beigang["training_ratio"]["met"]) == (0.75, False)
    assert beigang["special_support"]["three_no"]["value"] == 1.0
    assert xilin["special_support"]["five_guarantee"]["value"] == 0.5
    assert beigang["three_no_dispersed_without_medical_care"]["value"] == 1
    assert report["areas"]["nandajie"]["metrics"]["special_support"]["three_no"]["value"] is None
    district = report["district"]["metrics"]
    assert district["training_ratio"]["value"] == 0.8 and district["training_ratio"]["met"] is True
    restructured = district["enterprises_restructured_ratio"]
    assert (restructured["value"], restructured["met"], restructured["restructured"]) == (0.5, False, 2)
    assert district["enterprises_flagged"]["value"] == 2
    assert district["disabled_employees"]["value"] == 22
    assert district["wages_yuan"]["value"] == "8000.00"
    assert district["social_insurance_yuan"]["value"] == "1000.00"
    assert (district["tax_rebates_yuan"]["value"], district["tax_rebates_yuan"]["rebates"]) == ("12000.00", 1)
    assert district["home_care_orders"]["value"] == 4                        # the 2006 order is not
    assert district["admissions"]["value"] == 4 and district["discharges"]["value"] == 1


def test_the_metric_families_pass_promtool(report):
    text = exposition(report)
    check_with_promtool(text)
    body = text.decode()
    assert 'welfare_elderly_care_beds_target_met{area="xilin"} 0.0' in body
    assert 'welfare_elderly_care_beds_per_1000_aged_60_plus_target 17.0' in body
    assert 'welfare_enterprise_tax_rebates_yuan{area="xilin",year="2007"} 12000.0' in body
    assert ('welfare_home_care_charges_yuan{area="wuxing",payment="paid",service="housekeeping",'
            'year="2007"} 30.0') in body
    assert 'welfare_district_special_support_ratio{category="five_guarantee"} 0.5' in body


def test_an_uninitialised_read_model_reports_zeros(database, fresh_welfare):
    with psycopg.connect(database.pg_conninfo()) as conn:
        empty = read_section(conn, context("no_such_schema", None), welfare_report)
    assert empty["read_model"]["initialised"] is False
    beigang = empty["areas"]["beigang"]["metrics"]
    assert (beigang["beds"]["value"], beigang["beds_per_1000_aged_60_plus"]["value"]) == (0, 0.0)
    assert beigang["beds_per_1000_aged_60_plus"]["met"] is None          # no targets given
    check_with_promtool(exposition(empty))


class Section:
    """A collector of the welfare section's families."""

    def __init__(self, found: dict):
        self.found = found

    def collect(self):
        return welfare_report.families(self.found, context(READ_MODEL, welfare_targets()))


def exposition(found: dict) -> bytes:
    from prometheus_client import CollectorRegistry, generate_latest
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Section(found))
    return generate_latest(registry)
