"""The published contract of disaster_relief: every event type has a JSON Schema, every event the
service stores validates against it as a CloudEvent, and no identity number leaves in clear.

Drives the real application (in-memory persistence, AES cipher on) through a story that produces
every event type, then publishes the notification log the way the relay does.
"""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

from services.disaster_relief import domain
from shared import schemas
from shared.schemas import SchemaViolation
from tests.contract_support import (
    check_guide_lists, check_no_identity_in_clear, check_publishes_every_type,
    check_schema_describes, check_schema_files, check_sequence, check_tampered,
    domain_event_types, first, invalid_events, publish_log, set_data)
from tests.disaster_relief.dr_support import figures, memory_app
from tests.support import id_number

SERVICE = "disaster_relief"
GUIDE = Path(__file__).resolve().parents[2] / "docs" / "disaster_relief.md"
HEADS = [id_number("19580312"), id_number("19660705"), id_number("19791120")]


@pytest.fixture(scope="module")
def story() -> list[dict]:
    """A July flood in Xinzha and Xilin, start to archive."""
    app = memory_app()
    app.deposit("xinzha", "21000.00", "区财政 1708 科目", "officer-wang", "2007-01-15")
    app.deposit("xilin", "30000.00", "区财政 1708 科目", "officer-wang", "2007-01-15")
    flood = app.register_incident("flood", ["xinzha", "xilin"], "2007-07-06T03:30", "officer-li", "暴雨")
    app.report(flood, "initial", figures(relocated=250, direct_loss="800000.00"), "2007-07-06T06:10", "officer-li")
    app.report(flood, "follow_up", figures(deaths=1, relocated=3200, houses_damaged=400,
                                           direct_loss="5200000.00"), "2007-07-07T09:00", "officer-li")
    app.add_to_roster(flood, "XZ-0001", HEADS[0], "张建国", "xinzha", 3, ["food", "shelter"], "officer-zhou", "2007-07-07")
    app.add_to_roster(flood, "XL-0001", HEADS[1], "王秀兰", "xilin", 2, ["clothing"], "officer-zhou", "2007-07-07")
    app.record_aid(flood, "XZ-0001", "rice", 25, "officer-zhou", "2007-07-07")
    app.disburse(flood, "XZ-0001", "张建国", "1500.00", "officer-wang", "2007-07-08")   # below the floor
    app.disburse(flood, "XL-0001", "王秀兰", "800.00", "officer-wang", "2007-07-08")
    app.report(flood, "final", figures(deaths=1, relocated=2800, houses_damaged=380,
                                       direct_loss="4300000.00"), "2007-07-12T10:00", "officer-li")
    app.close_incident(flood, "officer-li", "2007-09-28")
    hail = app.register_incident("hail", ["beigang"], "2007-05-14T16:20", "officer-li")
    app.add_to_roster(hail, "BG-0001", HEADS[2], "陈明", "beigang", 4, ["house_repair"], "officer-zhou", "2007-05-15")
    return publish_log(app, SERVICE)


# --- schemas against the domain ----------------------------------------------------------------

def test_a_schema_file_for_every_domain_event_and_no_other():
    assert len(check_schema_files(SERVICE, domain)) == 14


@pytest.mark.parametrize("event_type", sorted(domain_event_types(domain)))
def test_schema_describes_exactly_the_published_fields(event_type):
    check_schema_describes(SERVICE, event_type, domain_event_types(domain)[event_type])


def test_the_service_guide_lists_every_event_type():
    check_guide_lists(SERVICE, GUIDE)


# --- the story's events against the schemas ------------------------------------------------------

def test_the_story_publishes_every_event_type(story):
    check_publishes_every_type(SERVICE, story)


def test_every_published_event_is_valid(story):
    assert invalid_events(story) == []


def test_the_story_shows_late_reports_levels_and_the_floor(story):
    reports = [e["data"] for e in story if e["type"] == "IncidentReported"]
    assert [(r["stage"], r["late"]) for r in reports] == [
        ("initial", True), ("follow_up", False), ("final", True)]
    assert reports[1]["deadline"] is None
    levels = [(e["data"]["previous_level"], e["data"]["level"], e["data"]["direction"])
              for e in story if e["type"] == "IncidentLevelChanged"]
    assert levels == [(None, "IV", "raised"), ("IV", "II", "raised"), ("II", "III", "lowered")]
    disbursed = [(e["data"]["balance"], e["data"]["below_floor"]) for e in story if e["type"] == "ReserveDisbursed"]
    assert disbursed == [("19500.00", True), ("29200.00", False)]


def test_sequence_follows_the_notification_log(story):
    check_sequence(story)


# --- personal data ---------------------------------------------------------------------------------

def test_no_identity_number_or_birth_date_in_clear(story):
    check_no_identity_in_clear(story, HEADS)
    listed = [e["data"]["id_number"] for e in story if e["type"] == "IncidentHouseholdListed"]
    assert listed == [n[:6] + "*" * 8 + n[-4:] for n in HEADS]


# --- tampered events fail, naming the type and the path ------------------------------------------

def _set_figure(name, value):
    def change(event):
        event["data"]["figures"][name] = value
    return change


TAMPERED = [
    ("IncidentHouseholdListed", set_data("id_number", HEADS[0]), "data.id_number", "pattern"),
    ("IncidentHouseholdListed", set_data("members", 0), "data.members", "minimum"),
    ("IncidentReported", _set_figure("deaths", -1), "data.figures.deaths", "minimum"),
    ("IncidentReported", _set_figure("direct_loss", "-1.00"), "data.figures.direct_loss", "pattern"),
    ("IncidentReported", set_data("stage", "interim"), "data.stage", "enum"),
    ("IncidentReported", set_data("reported_at", "2007-07-06 06:10"), "data.reported_at", "pattern"),
    ("IncidentRegistered", set_data("areas", []), "data.areas", "minItems"),
    ("IncidentRegistered", set_data("deadlines", {"interim": "2007-07-06T05:30:00+08:00"}), "data.deadlines", "enum"),
    ("IncidentLevelChanged", set_data("level", "V2"), "data.level", "pattern"),
    ("ReserveDisbursed", set_data("balance", "-5.00"), "data.balance", "pattern"),
    ("ReserveDisbursed", set_data("amount", 1500.0), "data.amount", "type"),
    ("ReserveDisbursed", set_data("incident_id", "flood"), "data.incident_id", "format"),
    ("ReliefCardItemsReceived", set_data("quantity", 0), "data.quantity", "minimum"),
    ("ReserveOpened", set_data("aggregate_version", 2), "data.aggregate_version", "const"),
]


@pytest.mark.parametrize("event_type,change,path,keyword", TAMPERED,
                         ids=[f"{t[0]}-{t[2]}-{t[3]}" for t in TAMPERED])
def test_tampered_data_fails(story, event_type, change, path, keyword):
    check_tampered(first(story, event_type), event_type, change, path, keyword)


def test_a_follow_up_without_a_deadline_cannot_be_late(story):
    event = next(copy.deepcopy(e) for e in story
                 if e["type"] == "IncidentReported" and e["data"]["deadline"] is None)
    event["data"]["late"] = True
    with pytest.raises(SchemaViolation) as caught:
        schemas.validate(event)
    assert caught.value.path == "data.late"
