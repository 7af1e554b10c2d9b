"""The published contract of social_affairs: every event type has a JSON Schema, every event the
service stores validates against it as a CloudEvent, and no identity number leaves in clear.

Drives the real application (in-memory persistence, AES cipher on) through a story that produces
every event type, then publishes the notification log the way the relay does.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from services.social_affairs import domain
from tests.contract_support import (
    check_guide_lists, check_no_identity_in_clear, check_publishes_every_type, check_schema_describes,
    check_schema_files, check_sequence, check_tampered, domain_event_types, first, invalid_events,
    publish_log, set_data)
from tests.social_affairs.sa_support import all_met, couple, marry, memory_app, number, party, place, plan_halls

SERVICE = "social_affairs"
GUIDE = Path(__file__).resolve().parents[2] / "docs" / "social_affairs.md"


@pytest.fixture(scope="module")
def story() -> tuple[list[dict], list[str]]:
    """Halls, an urn migrated, an inspection corrected, a mound rebuilt and moved into a
    cemetery, a refused application, a marriage found unlawful, a divorce withdrawn and one
    registered."""
    app = memory_app()
    halls = plan_halls(app)
    deceased = number("1920-01-01", "M")
    urn = app.place_urn(halls["yonghong"], deceased, "孙老先生", "2003-02-01", "2003-02-05", "officer-li")
    app.complete_preparation(halls["yonghong"], "2007-12-10", "officer-li")
    app.move_urn(urn, halls["beigang"], "2008-04-01", "officer-li")
    findings = all_met(app)
    findings[0] = {"item": "rules_displayed", "met": False, "note": "制度未上墙"}
    app.inspect_hall(halls["xilin"], "2007-05-01", "officer-sun", findings)
    app.correct_finding(halls["xilin"], "rules_displayed", "2007-05-08", "officer-sun", "已上墙")
    mound = app.inspect_mounds("xinzha", "2007-03-01", "officer-zhao", [{"place": "新闸村三组", "kind": "new"}])["mounds"][0]
    app.resolve_mound(mound, "removed", "2007-03-05", "officer-zhao")
    again = app.inspect_mounds("xinzha", "2007-06-01", "officer-zhao",
                               [{"place": "新闸村三组", "kind": "rebuilt", "rebuilt_of": mound}])["mounds"][0]
    app.resolve_mound(again, "moved_to_cemetery", "2007-06-03", "officer-zhao", "北港陵园")
    parties = couple()
    marriage = marry(app, parties)
    young = [party("1990-01-01", "M"), party("1980-01-01", "F")]
    with pytest.raises(Exception):
        marry(app, young)
    void = marry(app, couple())
    app.record_unlawful(void, "concealed_marriage", "2008-01-10", "officer-wu", "一方隐瞒已婚")
    app.file_divorce(marriage, "2021-03-01", True, True, "officer-wu")
    app.withdraw_divorce(marriage, "2021-03-10", "officer-wu")
    app.file_divorce(marriage, "2021-05-01", True, True, "officer-wu")
    app.register_divorce(marriage, "2021-06-01", True, "officer-wu")
    numbers = [deceased] + [p["id_number"] for p in parties + young]
    return publish_log(app, SERVICE), numbers


def test_a_schema_file_for_every_domain_event_and_no_other():
    assert len(check_schema_files(SERVICE, domain)) == 20


@pytest.mark.parametrize("event_type", sorted(domain_event_types(domain)))
def test_schema_describes_exactly_the_published_fields(event_type):
    check_schema_describes(SERVICE, event_type, domain_event_types(domain)[event_type])


def test_the_service_guide_lists_every_event_type():
    check_guide_lists(SERVICE, GUIDE)


def test_the_story_publishes_every_event_type(story):
    check_publishes_every_type(SERVICE, story[0])


def test_every_published_event_is_valid(story):
    assert invalid_events(story[0]) == []


def test_sequence_follows_the_notification_log(story):
    check_sequence(story[0])


def test_no_identity_number_or_birth_date_in_clear(story):
    events, numbers = story
    check_no_identity_in_clear(events, numbers)
    refused = first(events, "MarriageApplicationRefused")["data"]
    assert refused["rule"] == "affairs.below_legal_age" and refused["field"] == "parties[0].id_number"


TAMPERED = [
    ("MarriageRegistered", lambda e: e["data"]["parties"][0].update(id_number="320404198003040011"),
     "data.parties[0].id_number", "pattern"),
    ("MarriageRegistered", lambda e: e["data"]["parties"].pop(), "data.parties", "minItems"),
    ("MarriageApplicationRefused", set_data("rule", "below_legal_age"), "data.rule", "pattern"),
    ("MarriageDivorceFiled", set_data("cooling_off_days", -1), "data.cooling_off_days", "minimum"),
    ("MoundFound", set_data("kind", "old"), "data.kind", "enum"),
    ("MoundResolved", set_data("resolution", "burned"), "data.resolution", "enum"),
    ("OccupantPlaced", set_data("niche", 0), "data.niche", "minimum"),
    ("HallInspected", lambda e: e["data"]["findings"][0].update(met="no"), "data.findings[0].met", "type"),
    ("HallRegistered", set_data("aggregate_version", 2), "data.aggregate_version", "const"),
    ("OccupantMoved", set_data("to_hall_id", "beigang"), "data.to_hall_id", "format"),
]


@pytest.mark.parametrize("event_type,change,path,keyword", TAMPERED,
                         ids=[f"{t[0]}-{t[2]}-{t[3]}" for t in TAMPERED])
def test_tampered_data_fails(story, event_type, change, path, keyword):
    check_tampered(first(story[0], event_type), event_type, change, path, keyword)
