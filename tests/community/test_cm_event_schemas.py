"""The published contract of community: every event type has a JSON Schema, every event the
service stores validates against it as a CloudEvent, and no identity number leaves in clear.

Drives the real application (in-memory persistence, AES cipher on) through the story of
cm_support.drive_story, so that every event type is produced, then publishes the notification
log the way the relay does."""
from __future__ import annotations

from pathlib import Path

import pytest

from services.community import domain
from tests.community.cm_support import SERVICE, drive_story, memory_app
from tests.contract_support import (
    check_guide_lists, check_no_identity_in_clear, check_publishes_every_type,
    check_schema_describes, check_schema_files, check_sequence, check_tampered,
    domain_event_types, first, invalid_events, publish_log, set_data)

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "community.md"


@pytest.fixture(scope="module")
def app_and_ids():
    app = memory_app()
    return app, drive_story(app)


@pytest.fixture(scope="module")
def story(app_and_ids) -> list[dict]:
    return publish_log(app_and_ids[0], SERVICE)


def numbers(app, ids) -> list[str]:
    return [app.get_worker(w, reveal_identity=True)["id_number"] for w in ids["workers"].values()]


def test_a_schema_file_for_every_domain_event_and_no_other():
    assert len(check_schema_files(SERVICE, domain)) == 22


@pytest.mark.parametrize("event_type", sorted(domain_event_types(domain)))
def test_schema_describes_exactly_the_published_fields(event_type):
    check_schema_describes(SERVICE, event_type, domain_event_types(domain)[event_type])


def test_the_service_guide_lists_every_event_type():
    check_guide_lists(SERVICE, GUIDE)


def test_the_story_publishes_every_event_type(story):
    check_publishes_every_type(SERVICE, story)


def test_every_published_event_is_valid(story):
    assert invalid_events(story) == []


def test_sequence_follows_the_notification_log(story):
    check_sequence(story)


def test_no_identity_number_or_birth_date_in_clear(story, app_and_ids):
    check_no_identity_in_clear(story, numbers(*app_and_ids))


def test_an_election_outside_the_window_is_published_as_not_counting(story):
    elections = {e["data"]["held_on"]: e["data"]["in_window"] for e in story if e["type"] == "VillageElectionHeld"}
    assert elections == {"2007-08-15": True, "2007-05-20": False, "2007-09-09": True, "2007-10-10": True}


TAMPERED = [
    ("CommunityWorkerHired", set_data("id_number", "320404198203040011"), "data.id_number", "pattern"),
    ("CommunityWorkerHired", set_data("channel", "friends"), "data.channel", "enum"),
    ("CommunityStarAwarded", set_data("level", 6), "data.level", "enum"),
    ("CommunityMeetingHeld", set_data("attendees", 0), "data.attendees", "minimum"),
    ("FacilityRecorded", set_data("floor_area_m2", 2000.5), "data.floor_area_m2", "type"),
    ("VillageElectionHeld", set_data("held_on", "2007-13-01"), "data.held_on", "format"),
    ("CivilOrganisationInspected", set_data("result", "excellent"), "data.result", "enum"),
    ("CommunityRegistered", set_data("aggregate_version", 2), "data.aggregate_version", "const"),
]


@pytest.mark.parametrize("event_type,change,path,keyword", TAMPERED,
                         ids=[f"{t[0]}-{t[2]}-{t[3]}" for t in TAMPERED])
def test_tampered_data_fails(story, event_type, change, path, keyword):
    check_tampered(first(story, event_type), event_type, change, path, keyword)
