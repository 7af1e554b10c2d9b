"""The published contract of disaster_relief: every event type has a JSON Schema, every event the
service stores validates against it as a CloudEvent, and no identity number leaves in clear.

Drives the real application (in-memory persistence, AES cipher on) through a story that produces
every event type, then publishes the notification log the way the relay does.
"""
from __future__ import annotations

import copy
import inspect
import json
import re
from pathlib import Path

import pytest
from eventsourcing import domain as es_domain
from eventsourcing.domain import Aggregate
from jsonschema import Draft202012Validator

from services.disaster_relief import domain
from shared import contract, schemas
from shared.schemas import SchemaViolation
from tests.disaster_relief.dr_support import figures, memory_app
from tests.support import id_number

SERVICE = "disaster_relief"
UUIDS = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CLEAR_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
GUIDE = Path(__file__).resolve().parents[2] / "docs" / "disaster_relief.md"
HEADS = [id_number("19580312"), id_number("19660705"), id_number("19791120")]


def domain_event_types() -> dict[str, type]:
    """Every event class the aggregates of domain.py can emit, by published type (less the base
    `Event` and the default `Created` class eventsourcing defines but never triggers)."""
    found = {}
    for _, cls in inspect.getmembers(domain, inspect.isclass):
        if not issubclass(cls, Aggregate) or cls.__module__ != domain.__name__:
            continue
        created = es_domain._created_event_classes[cls]
        assert len(created) == 1, f"{cls.__name__} has no single created event class"
        for name, value in vars(cls).items():
            if not (inspect.isclass(value) and issubclass(value, Aggregate.Event)) or name == "Event":
                continue
            if issubclass(value, es_domain.CanInitAggregate) and value not in created:
                continue
            found[value.__qualname__.replace(".", "")] = value
    return found


def published_fields(event_class: type) -> set[str]:
    names = set(getattr(event_class, "__annotations__", {}))
    return {"aggregate_id", "aggregate_version"} | (
        names - contract.ENVELOPE_FIELDS - contract.DROPPED_FIELDS)


def walk(value, path="data"):
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(item, f"{path}[{index}]")


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
    published = []
    for notification in app.recorder.select_notifications(start=1, limit=10000):
        event = app.mapper.to_domain_event(notification)
        published.append(contract.as_dict(contract.to_cloudevent(SERVICE, notification.id, event)))
    return published


def first(story, event_type: str) -> dict:
    return copy.deepcopy(next(e for e in story if e["type"] == event_type))


# --- schemas against the domain ----------------------------------------------------------------

def test_a_schema_file_for_every_domain_event_and_no_other():
    declared = set(domain_event_types())
    files = set(schemas.known_types(SERVICE))
    assert declared - files == set(), "events without a schema in docs/schemas/disaster_relief"
    assert files - declared == set(), "schemas of events the domain does not define"
    assert len(declared) == 14


@pytest.mark.parametrize("event_type", sorted(domain_event_types()))
def test_schema_describes_exactly_the_published_fields(event_type):
    event_class = domain_event_types()[event_type]
    schema = schemas.load(SERVICE, event_type, 1)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == contract.schema_urn(SERVICE, event_type, 1)
    assert schema["title"] and schema["description"]
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert set(schema["properties"]) == published_fields(event_class)
    assert set(schema["required"]) == set(schema["properties"])
    for path, node in walk(schema["properties"], "properties"):
        if isinstance(node, dict) and node.get("type") == "object" and "properties" in node:
            assert node.get("additionalProperties") is False, path
            assert set(node["required"]) == set(node["properties"]), path
    created = issubclass(event_class, es_domain.CanInitAggregate)
    assert schema["properties"]["aggregate_version"].get("const" if created else "minimum") == (
        1 if created else 2)


def test_the_service_guide_lists_every_event_type():
    guide = GUIDE.read_text(encoding="utf-8")
    for event_type in schemas.known_types(SERVICE):
        assert f"| `{event_type}` |" in guide, f"docs/disaster_relief.md does not describe {event_type}"
        assert f"(schemas/{SERVICE}/{event_type}.v1.json)" in guide, event_type


# --- the story's events against the schemas ------------------------------------------------------

def test_the_story_publishes_every_event_type(story):
    assert {event["type"] for event in story} == set(schemas.known_types(SERVICE))


def test_every_published_event_is_valid(story):
    failures = []
    for event in story:
        try:
            schemas.validate(event)
        except SchemaViolation as violation:
            failures.append(f"{event['sequence']} {violation} {violation.errors}")
    assert failures == []


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
    sequences = [int(e["sequence"]) for e in story]
    assert sequences == list(range(1, len(sequences) + 1))
    assert len({e["id"] for e in story}) == len(sequences)


# --- personal data ---------------------------------------------------------------------------------

def test_no_identity_number_or_birth_date_in_clear(story):
    for event in story:
        text = UUIDS.sub("<uuid>", json.dumps(event, ensure_ascii=False))
        assert not CLEAR_ID.search(text), f"{event['type']} publishes an identity number"
        assert not any(number in text for number in HEADS), event["type"]
        assert not any(number[6:14] in text for number in HEADS), event["type"]
    listed = [e["data"]["id_number"] for e in story if e["type"] == "IncidentHouseholdListed"]
    assert listed == [n[:6] + "*" * 8 + n[-4:] for n in HEADS]


# --- tampered events fail, naming the type and the path ------------------------------------------

def _set(field, value):
    def change(event):
        event["data"][field] = value
    return change


def _set_figure(name, value):
    def change(event):
        event["data"]["figures"][name] = value
    return change


TAMPERED = [
    ("IncidentHouseholdListed", _set("id_number", HEADS[0]), "data.id_number", "pattern"),
    ("IncidentHouseholdListed", _set("members", 0), "data.members", "minimum"),
    ("IncidentReported", _set_figure("deaths", -1), "data.figures.deaths", "minimum"),
    ("IncidentReported", _set_figure("direct_loss", "-1.00"), "data.figures.direct_loss", "pattern"),
    ("IncidentReported", _set("stage", "interim"), "data.stage", "enum"),
    ("IncidentReported", _set("reported_at", "2007-07-06 06:10"), "data.reported_at", "pattern"),
    ("IncidentRegistered", _set("areas", []), "data.areas", "minItems"),
    ("IncidentRegistered", _set("deadlines", {"interim": "2007-07-06T05:30:00+08:00"}), "data.deadlines", "enum"),
    ("IncidentLevelChanged", _set("level", "V2"), "data.level", "pattern"),
    ("ReserveDisbursed", _set("balance", "-5.00"), "data.balance", "pattern"),
    ("ReserveDisbursed", _set("amount", 1500.0), "data.amount", "type"),
    ("ReserveDisbursed", _set("incident_id", "flood"), "data.incident_id", "format"),
    ("ReliefCardItemsReceived", _set("quantity", 0), "data.quantity", "minimum"),
    ("ReserveOpened", _set("aggregate_version", 2), "data.aggregate_version", "const"),
]


@pytest.mark.parametrize("event_type,change,path,keyword", TAMPERED,
                         ids=[f"{t[0]}-{t[2]}-{t[3]}" for t in TAMPERED])
def test_tampered_data_fails(story, event_type, change, path, keyword):
    event = first(story, event_type)
    schemas.validate(event)
    change(event)
    with pytest.raises(SchemaViolation) as caught:
        schemas.validate(event)
    assert caught.value.event_type == event_type
    assert (caught.value.path, caught.value.rule.split(":")[0]) == (path, keyword)


def test_a_follow_up_without_a_deadline_cannot_be_late(story):
    event = next(copy.deepcopy(e) for e in story
                 if e["type"] == "IncidentReported" and e["data"]["deadline"] is None)
    event["data"]["late"] = True
    with pytest.raises(SchemaViolation) as caught:
        schemas.validate(event)
    assert caught.value.path == "data.late"
