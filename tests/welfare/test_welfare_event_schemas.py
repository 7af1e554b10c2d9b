"""The published contract of welfare: every event type has a JSON Schema, every event the
service stores validates against it as a CloudEvent, and no identity number leaves in clear.

Drives the real application (in-memory persistence, AES cipher on) through a story that
produces every event type, then publishes the notification log the way the relay does.
"""
from __future__ import annotations

import copy
import inspect
import json
import re

import pytest
from eventsourcing import domain as es_domain
from eventsourcing.domain import Aggregate
from jsonschema import Draft202012Validator

from services.welfare import domain
from shared import contract, schemas
from shared.schemas import SchemaViolation
from tests.welfare.welfare_support import memory_welfare, person

SERVICE = "welfare"
UUIDS = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CLEAR_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
GUIDE = contract.SCHEMA_DIR.parent / "welfare.md"
ISSUED: list[str] = []


def someone(name: str, born: str) -> dict:
    found = person(name, born)
    ISSUED.append(found["id_number"])
    return found


def domain_event_types() -> dict[str, type]:
    """Every event class the aggregates of domain.py can emit, by published type (as in
    tests/unit/test_event_schemas.py)."""
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


# --- the story ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def story() -> list[dict]:
    app = memory_welfare()
    home = app.register_institution("yonghong", "永红街道敬老院", "public", 2, "2003-04-01")
    app.change_beds(home, 30, "2007-03-01", "新楼启用")
    zhang = someone("张桂英", "1927-08-15")
    stay = app.admit(home, zhang["id_number"], zhang["name"], zhang["birth_date"], "2007-03-02")
    supported = app.register_supported_person("three_no", "yonghong", zhang["id_number"],
                                              zhang["name"], zhang["birth_date"], "2007-01-05")
    app.arrange_support(supported, "centralized", "2007-03-02", stay)
    app.discharge(stay, "2007-09-01", "随亲属居住")          # ends the centralized arrangement
    app.arrange_support(supported, "dispersed", "2007-09-01")
    app.arrange_medical_care(supported, "永红社区卫生服务中心", "2007-09-03")

    carer = someone("李娟", "1966-02-03")
    worker = app.register_care_worker(home, carer["id_number"], carer["name"], "2005-05-01")
    app.record_training(worker, "养老护理员初级", "2007-05-20", True)

    orders = [app.place_order("wuxing", "周老太", "housekeeping", "low_cost", "10.00", "2007-04-01"),
              app.place_order("wuxing", "吴老伯", "companionship", "free", "0", "2007-04-01", "志愿者小刘")]
    app.deliver_order(orders[0], "2007-04-02")
    app.cancel_order(orders[1], "2007-04-02", "老人住院")

    factory = app.register_enterprise("xilin", "西林福利印刷厂", "collective", 20, "1991-06-01")
    staff = [someone(f"职工{i}", "1970-01-01") for i in range(10)]
    for employee in staff:
        app.hire_disabled_employee(factory, employee["id_number"], employee["name"], "2007-01-08")
    app.record_wages(factory, "2007-02", [{"id_number": e["id_number"], "wage": "780.00",
                                          "social_insurance": "150.00"} for e in staff])
    app.restructure(factory, "2007-05-31", "股份合作制")
    app.grant_rebate(factory, "2007-03", "15000.00", "2007-04-10")
    app.report_staff(factory, 25, "2007-08-01")                # 10 of 35: still 28.6%
    app.disabled_employee_left(factory, staff[0]["id_number"], "2007-08-31", "退休")  # 9: flagged

    published = []
    for notification in app.recorder.select_notifications(start=1, limit=10000):
        event = app.mapper.to_domain_event(notification)
        published.append(contract.as_dict(contract.to_cloudevent(SERVICE, notification.id, event)))
    return published


def first(story, event_type: str) -> dict:
    return copy.deepcopy(next(e for e in story if e["type"] == event_type))


# --- schemas against the domain -------------------------------------------------------------------

def test_a_schema_file_for_every_domain_event_and_no_other():
    declared = set(domain_event_types())
    files = set(schemas.known_types(SERVICE))
    assert declared - files == set(), "events without a schema in docs/schemas/welfare"
    assert files - declared == set(), "schemas of events the domain does not define"
    assert len(declared) == 30


@pytest.mark.parametrize("event_type", sorted(domain_event_types()))
def test_schema_describes_exactly_the_published_fields(event_type):
    event_class = domain_event_types()[event_type]
    schema = schemas.load(SERVICE, event_type, 1)
    Draft202012Validator.check_schema(schema)
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


def test_the_welfare_guide_lists_every_event_type():
    guide = GUIDE.read_text(encoding="utf-8")
    for event_type in schemas.known_types(SERVICE):
        assert f"| `{event_type}` |" in guide, f"docs/welfare.md does not describe {event_type}"
        assert f"(schemas/{SERVICE}/{event_type}.v1.json)" in guide, event_type


# --- the story's events against the schemas ----------------------------------------------------------

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


def test_sequence_follows_the_notification_log(story):
    assert [int(e["sequence"]) for e in story] == list(range(1, len(story) + 1))


def test_no_identity_number_or_birth_date_in_clear(story):
    assert len(ISSUED) == 12
    for event in story:
        text = UUIDS.sub("<uuid>", json.dumps(event, ensure_ascii=False))
        assert not CLEAR_ID.search(text), f"{event['type']} publishes an identity number"
        assert not any(number in text for number in ISSUED), event["type"]
        assert not any(number[6:14] in text for number in ISSUED), (
            f"{event['type']} publishes a birth date (digits of an identity number)")
        assert "birth_date" not in {path.rsplit(".", 1)[-1] for path, _ in walk(event["data"])}
    admitted = first(story, "AdmissionRecorded")["data"]["id_number"]
    assert admitted == ISSUED[0][:6] + "*" * 8 + ISSUED[0][-4:]


def test_the_flag_and_the_rule_travel_with_the_event(story):
    flags = [(e["type"], e["data"]["disabled_employees"], e["data"]["staff"])
             for e in story if e["type"] in ("WelfareEnterpriseFlagged", "WelfareEnterpriseQualified")]
    assert flags == [("WelfareEnterpriseFlagged", 0, 20), ("WelfareEnterpriseQualified", 10, 30),
                     ("WelfareEnterpriseFlagged", 9, 34)]
    assert first(story, "WelfareEnterpriseFlagged")["data"]["min_share"] == "0.25"


# --- tampered events fail, naming the type and the path --------------------------------------------

def _set(field, value):
    def change(event):
        event["data"][field] = value
    return change


TAMPERED = [
    ("AdmissionRecorded", _set("id_number", "320404192708150013"), "data.id_number", "pattern"),
    ("AdmissionRecorded", _set("birth_date", "1927-08-15"), "data", "additionalProperties"),
    ("InstitutionRegistered", _set("kind", "charity"), "data.kind", "enum"),
    ("InstitutionRegistered", _set("beds", 0), "data.beds", "minimum"),
    ("HomeCareOrderPlaced", _set("price", 10.0), "data.price", "type"),
    ("HomeCareOrderPlaced", _set("volunteer", ""), "data.volunteer", "minLength"),
    ("SupportedPersonArranged", _set("admission_id", None), "data.admission_id", "type"),
    ("WelfareEnterpriseRebateGranted", _set("period", "2007-13"), "data.period", "pattern"),
    ("WelfareEnterpriseRestructured", _set("deadline", "2007-06-31"), "data.deadline", "format"),
    ("CareWorkerTrainingRecorded", _set("passed", "yes"), "data.passed", "type"),
]


@pytest.mark.parametrize("event_type,change,path,keyword", TAMPERED,
                         ids=[f"{t[0]}-{t[2]}-{t[3]}" for t in TAMPERED])
def test_tampered_data_fails(story, event_type, change, path, keyword):
    # the first HomeCareOrderPlaced is the low-cost one; the volunteer case uses the free one
    candidates = [copy.deepcopy(e) for e in story if e["type"] == event_type]
    event = candidates[-1] if path == "data.volunteer" else candidates[0]
    schemas.validate(event)
    change(event)
    with pytest.raises(SchemaViolation) as caught:
        schemas.validate(event)
    assert caught.value.event_type == event_type
    assert (caught.value.path, caught.value.rule.split(":")[0]) == (path, keyword)
