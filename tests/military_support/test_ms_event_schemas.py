"""The published contract of military_support: every event type has a JSON Schema, every event
the service stores validates against it as a CloudEvent, and no identity number leaves in clear.

Drives the real application (in-memory persistence, AES cipher on) through the story of
ms_support.drive_story plus a reassessment and the evidence file's submission, so that every
event type is produced, then publishes the notification log the way the relay does."""
from __future__ import annotations

from pathlib import Path

import pytest

from services.military_support import domain
from tests.contract_support import (
    check_guide_lists, check_no_identity_in_clear, check_publishes_every_type,
    check_schema_describes, check_schema_files, check_sequence, check_tampered,
    domain_event_types, first, invalid_events, publish_log, set_data)
from tests.military_support.ms_support import SERVICE, drive_story, memory_app

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "military_support.md"


@pytest.fixture(scope="module")
def app_and_ids():
    app = memory_app()
    ids = drive_story(app)
    app.reassess_grade(ids["g8"], 7, "2007-10-01")
    app.form_pair("xinzha", "新闸中学", "某部三营", "2007-11-20")
    app.submit_evidence_file(2007, "2007-12-10")
    return app, ids


@pytest.fixture(scope="module")
def story(app_and_ids) -> list[dict]:
    return publish_log(app_and_ids[0], SERVICE)


def numbers(app, ids) -> list[str]:
    found = [app.get_beneficiary(ids[k], reveal_identity=True)["id_number"]
             for k in ("g1", "g5", "g6", "g8", "martyr", "demob", "war_vet", "family")]
    return found + [app.get_worker(ids[k], reveal_identity=True)["id_number"] for k in ("w1", "w2")]


def test_a_schema_file_for_every_domain_event_and_no_other():
    assert len(check_schema_files(SERVICE, domain)) == 24


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


def test_the_submitted_file_counts_the_year(story):
    counts = next(e["data"]["counts"] for e in story if e["type"] == "EvidenceFileSubmitted")
    assert counts["activities"] == 9 and counts["activities_by_channel"]["window"] == 2
    assert counts["sessions_by_audience"] == {"cadres": 1, "public": 1, "students": 2}
    assert counts["co_building_pairs"] == 3


TAMPERED = [
    ("BeneficiaryRegistered", set_data("id_number", "320404195003040011"), "data.id_number", "pattern"),
    ("BeneficiaryRegistered", set_data("category", "veteran"), "data.category", "enum"),
    ("BeneficiaryRegistered", set_data("grade", 11), "data.grade", "maximum"),
    ("BeneficiaryBenefitPaid", set_data("amount", 550.0), "data.amount", "type"),
    ("BeneficiaryBenefitPaid", set_data("month", "2007-13"), "data.month", "pattern"),
    ("SupportActivityRecorded", set_data("participants", 0), "data.participants", "minimum"),
    ("WorkerReceived", set_data("from_unit", ""), "data.from_unit", "minLength"),
    ("EvidenceFileOpened", set_data("aggregate_version", 2), "data.aggregate_version", "const"),
]


@pytest.mark.parametrize("event_type,change,path,keyword", TAMPERED,
                         ids=[f"{t[0]}-{t[2]}-{t[3]}" for t in TAMPERED])
def test_tampered_data_fails(story, event_type, change, path, keyword):
    check_tampered(first(story, event_type), event_type, change, path, keyword)
