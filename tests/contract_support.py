"""Test support for the published-contract tests of each service (tests/unit/test_event_schemas.py,
tests/disaster_relief/test_dr_event_schemas.py, tests/welfare/test_welfare_event_schemas.py).

Plain functions taking the service name, its domain module or the events its story published:
the `check_*` functions assert, the others return what a test asserts on.
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

from shared import contract, schemas
from shared.schemas import SchemaViolation

UUIDS = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CLEAR_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


# --- the domain and its schemas ---------------------------------------------------------------

def domain_event_types(domain_module) -> dict[str, type]:
    """Every event class the aggregates of a domain module can emit, by published type: each
    Aggregate.Event subclass defined on an aggregate, less the base `Event` and the default
    `Created` class eventsourcing defines but never triggers when __init__ names its own."""
    found = {}
    for _, cls in inspect.getmembers(domain_module, inspect.isclass):
        if not issubclass(cls, Aggregate) or cls.__module__ != domain_module.__name__:
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


def check_schema_files(service: str, domain_module) -> set[str]:
    """A schema file for every domain event and no other; returns the declared event types."""
    declared = set(domain_event_types(domain_module))
    files = set(schemas.known_types(service))
    assert declared - files == set(), f"events without a schema in services/{service}/schemas"
    assert files - declared == set(), "schemas of events the domain does not define"
    return declared


def check_schema_describes(service: str, event_type: str, event_class: type) -> None:
    """The v1 schema of an event type describes exactly the fields its event publishes."""
    schema = schemas.load(service, event_type, 1)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == contract.schema_urn(service, event_type, 1)
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


def check_guide_lists(service: str, guide: Path) -> None:
    """The guide has a row and a schema link for every event type of the service."""
    text = guide.read_text(encoding="utf-8")
    for event_type in schemas.known_types(service):
        assert f"| `{event_type}` |" in text, f"docs/{guide.name} does not describe {event_type}"
        assert f"(../services/{service}/schemas/{event_type}.v1.json)" in text, event_type


# --- the published events -----------------------------------------------------------------------

def publish_log(app, service: str) -> list[dict]:
    """The app's whole notification log as CloudEvent dicts, the way the relay publishes it."""
    return [contract.as_dict(contract.to_cloudevent(service, notification.id,
                                                    app.mapper.to_domain_event(notification)))
            for notification in app.recorder.select_notifications(start=1, limit=10000)]


def first(events: list[dict], event_type: str) -> dict:
    """A copy of the first published event of a type, free to tamper with."""
    return copy.deepcopy(next(e for e in events if e["type"] == event_type))


def check_publishes_every_type(service: str, events: list[dict]) -> None:
    assert {event["type"] for event in events} == set(schemas.known_types(service))


def invalid_events(events: list[dict]) -> list[str]:
    """One line per published event its schema rejects."""
    failures = []
    for event in events:
        try:
            schemas.validate(event)
        except SchemaViolation as violation:
            failures.append(f"{event['sequence']} {violation} {violation.errors}")
    return failures


def check_sequence(events: list[dict]) -> None:
    """Sequences follow the notification log, and every event has its own id."""
    sequences = [int(e["sequence"]) for e in events]
    assert sequences == list(range(1, len(sequences) + 1))
    assert len({e["id"] for e in events}) == len(sequences)


def check_no_identity_in_clear(events: list[dict], numbers: list[str]) -> None:
    """No identity number, none of the story's numbers, none of their birth dates and no
    `birth_date` field in any published event."""
    for event in events:
        text = UUIDS.sub("<uuid>", json.dumps(event, ensure_ascii=False))
        assert not CLEAR_ID.search(text), f"{event['type']} publishes an identity number"
        assert not any(number in text for number in numbers), event["type"]
        assert not any(number[6:14] in text for number in numbers), (
            f"{event['type']} publishes a birth date (digits of an identity number)")
        assert "birth_date" not in {path.rsplit(".", 1)[-1] for path, _ in walk(event["data"])}


# --- tampering ----------------------------------------------------------------------------------

def set_data(field, value):
    """A change for a TAMPERED table: set one field of the event's data."""
    def change(event):
        event["data"][field] = value
    return change


def check_tampered(event: dict, event_type: str, change, path: str, keyword: str) -> None:
    """The event is valid; once changed, it fails naming its type, the path and the rule."""
    schemas.validate(event)
    change(event)
    with pytest.raises(SchemaViolation) as caught:
        schemas.validate(event)
    assert isinstance(caught.value, ValueError)
    assert caught.value.event_type == event_type
    assert (caught.value.path, caught.value.rule.split(":")[0]) == (path, keyword)
    assert str(caught.value).startswith(f"{event_type}: {path}: {keyword}")
