"""The published contract of conduct_supervision: every event type has a JSON Schema, every event
the service stores validates against it as a CloudEvent, and no identity number, phone number or
complainant's name leaves in clear.

Drives the real application (in-memory persistence, AES cipher on) through the story of
cs_support.drive_story, so that every event type is produced, then publishes the notification
log the way the relay does."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.conduct_supervision import domain
from tests.conduct_supervision.cs_support import SERVICE, drive_story, memory_app
from tests.contract_support import (
    check_guide_lists, check_no_identity_in_clear, check_publishes_every_type,
    check_schema_describes, check_schema_files, check_sequence, check_tampered,
    domain_event_types, first, invalid_events, publish_log, set_data)

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "conduct_supervision.md"


@pytest.fixture(scope="module")
def app_and_ids():
    app = memory_app()
    return app, drive_story(app)


@pytest.fixture(scope="module")
def story(app_and_ids) -> list[dict]:
    return publish_log(app_and_ids[0], SERVICE)


def test_a_schema_file_for_every_domain_event_and_no_other():
    assert len(check_schema_files(SERVICE, domain)) == 20


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


def test_no_identity_number_phone_or_complainant_name_in_clear(story, app_and_ids):
    app, ids = app_and_ids
    numbers = [app.get_supervisor(ids[k], reveal_identity=True)["id_number"] for k in ("s1", "s2", "s3", "s_old")]
    check_no_identity_in_clear(story, numbers)
    text = json.dumps(story, ensure_ascii=False)
    assert "13812345678" not in text and "0519-86601234" not in text and "王小红" not in text
    assert app.get_complaint(ids["c1"], reveal_identity=True)["contact_name"] == "王小红"


TAMPERED = [
    ("SupervisorAppointed", set_data("id_number", "320404195603040011"), "data.id_number", "pattern"),
    ("SupervisorAppointed", set_data("phone", "13812345678"), "data", "additionalProperties"),
    ("ComplaintReceived", set_data("kind", "praise"), "data.kind", "enum"),
    ("ComplaintReceived", set_data("contact_name", "王小红"), "data", "additionalProperties"),
    ("ReviewRecorded", set_data("score", 101), "data.score", "maximum"),
    ("ReviewRecorded", set_data("reviewer_kind", "journalist"), "data.reviewer_kind", "enum"),
    ("EfficiencyAssessmentRecorded", set_data("period", "2007-Q5"), "data.period", "pattern"),
    ("OfficerAssessed", set_data("rewarded", "yes"), "data.rewarded", "type"),
    ("RosterStarted", set_data("aggregate_version", 2), "data.aggregate_version", "const"),
]


@pytest.mark.parametrize("event_type,change,path,keyword", TAMPERED,
                         ids=[f"{t[0]}-{t[2]}-{t[3]}" for t in TAMPERED])
def test_tampered_data_fails(story, event_type, change, path, keyword):
    check_tampered(first(story, event_type), event_type, change, path, keyword)
