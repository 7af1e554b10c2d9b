"""Unit tier: every event carries who acted and through which request (shared/audit.py), events
stored before the field existed still load, and a disclosure needs its reason."""
from __future__ import annotations

import json

import pytest

from services.social_assistance.application import SocialAssistance
from shared import audit, contract, schemas
from shared.errors import InvalidInput
from tests.support import member

OFFICER_LI = {"actor": "officer-li", "roles": ["social_assistance.officer"], "client": "web",
              "request_id": "req-1", "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}


def app():
    application = SocialAssistance(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    application.load_reference_standards()
    return application


def test_each_event_a_command_triggers_carries_its_audit():
    dibao = app()
    with audit.acting(OFFICER_LI):
        household = dibao.register_household("beigang", "urban", [member()])
        case = dibao.apply(household, "officer-li")
    events = [*dibao.repository.event_store.get(household), *dibao.repository.event_store.get(case)]
    assert events and all(event.audit == OFFICER_LI for event in events)
    assert audit.current() is None     # the block ended: nothing leaks into the next command


def test_outside_a_command_an_event_has_no_audit_and_old_events_load():
    dibao = app()
    household = dibao.register_household("beigang", "urban", [member()])
    (event,) = dibao.repository.event_store.get(household)
    assert event.audit is None
    old = object.__new__(type(event))          # the same event as stored before `audit` existed
    old.__dict__.update({k: v for k, v in event.__dict__.items() if k != "audit"})
    before = dibao.mapper.to_stored_event(old)
    loaded = dibao.mapper.to_domain_event(before)
    assert loaded.audit is None and "audit" not in loaded.__dict__


def test_the_audit_travels_as_extension_attributes_never_in_data():
    dibao = app()
    with audit.acting(OFFICER_LI):
        household = dibao.register_household("beigang", "urban", [member()])
    (event,) = dibao.repository.event_store.get(household)
    published = contract.as_dict(contract.to_cloudevent("social_assistance", 1, event))
    assert published["actor"] == "officer-li" and published["actorclient"] == "web"
    assert published["actorroles"] == "social_assistance.officer"
    assert published["requestid"] == "req-1" and published["traceparent"] == OFFICER_LI["traceparent"]
    assert "audit" not in published["data"] and "officer-li" not in json.dumps(published["data"])
    schemas.validate(published)
    published["traceparent"] = "00-zz-bad-01"
    with pytest.raises(schemas.SchemaViolation, match="traceparent"):
        schemas.validate(published)


def test_context_data_becomes_the_audit():
    context = audit.to_context("officer-li", ["a", "b"], None, "req-9", None, "why")
    assert context == {"actor": "officer-li", "actor_roles": "a,b", "request_id": "req-9", "reason": "why"}
    assert audit.from_context(context) == {"actor": "officer-li", "roles": ["a", "b"], "client": None,
                                           "request_id": "req-9", "traceparent": None}
    assert audit.from_context({}) is None
    assert audit.from_context({}, "svc.call.1")["request_id"] == "svc.call.1"


def test_a_disclosure_needs_a_reason_and_matches_the_platform_schema():
    for reason in ("", "   ", None):
        with pytest.raises(InvalidInput) as refused:
            audit.Disclosure.record("household", "h-1", ["id_number"], reason)
        assert refused.value.code == "audit.reveal_reason_required"
    with audit.acting(OFFICER_LI):
        disclosure = audit.Disclosure.record("household", "h-1", ["id_number"], " appeal ")
    (event,) = disclosure.collect_events()
    assert event.audit == OFFICER_LI and disclosure.reason == "appeal"
    for service in ("social_assistance", "disaster_relief", "welfare"):
        published = contract.as_dict(contract.to_cloudevent(service, 1, event))
        assert published["type"] == "DisclosureRecorded"
        schemas.validate(published)
    assert schemas.platform_types() == {"DisclosureRecorded"}
