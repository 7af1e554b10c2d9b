"""The published contract of welfare: every event type has a JSON Schema, every event the
service stores validates against it as a CloudEvent, and no identity number leaves in clear.

Drives the real application (in-memory persistence, AES cipher on) through a story that
produces every event type, then publishes the notification log the way the relay does.
"""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

from services.welfare import domain
from shared import contract
from tests.contract_support import (
    check_guide_lists, check_no_identity_in_clear, check_publishes_every_type,
    check_schema_describes, check_schema_files, check_sequence, check_tampered,
    domain_event_types, first, invalid_events, publish_log, set_data)
from tests.welfare.welfare_support import memory_welfare, person

SERVICE = "welfare"
GUIDE = Path(__file__).resolve().parents[2] / "docs" / "welfare.md"
ISSUED: list[str] = []


def someone(name: str, born: str) -> dict:
    found = person(name, born)
    ISSUED.append(found["id_number"])
    return found


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

    return publish_log(app, SERVICE)


# --- schemas against the domain -------------------------------------------------------------------

def test_a_schema_file_for_every_domain_event_and_no_other():
    assert len(check_schema_files(SERVICE, domain)) == 30


@pytest.mark.parametrize("event_type", sorted(domain_event_types(domain)))
def test_schema_describes_exactly_the_published_fields(event_type):
    check_schema_describes(SERVICE, event_type, domain_event_types(domain)[event_type])


def test_the_welfare_guide_lists_every_event_type():
    check_guide_lists(SERVICE, GUIDE)


# --- the story's events against the schemas ----------------------------------------------------------

def test_the_story_publishes_every_event_type(story):
    check_publishes_every_type(SERVICE, story)


def test_every_published_event_is_valid(story):
    assert invalid_events(story) == []


def test_sequence_follows_the_notification_log(story):
    check_sequence(story)


def test_no_identity_number_or_birth_date_in_clear(story):
    assert len(ISSUED) == 12
    check_no_identity_in_clear(story, ISSUED)
    admitted = first(story, "AdmissionRecorded")["data"]["id_number"]
    assert admitted == ISSUED[0][:6] + "*" * 8 + ISSUED[0][-4:]


def test_the_flag_and_the_rule_travel_with_the_event(story):
    flags = [(e["type"], e["data"]["disabled_employees"], e["data"]["staff"])
             for e in story if e["type"] in ("WelfareEnterpriseFlagged", "WelfareEnterpriseQualified")]
    assert flags == [("WelfareEnterpriseFlagged", 0, 20), ("WelfareEnterpriseQualified", 10, 30),
                     ("WelfareEnterpriseFlagged", 9, 34)]
    assert first(story, "WelfareEnterpriseFlagged")["data"]["min_share"] == "0.25"


# --- tampered events fail, naming the type and the path --------------------------------------------

TAMPERED = [
    ("AdmissionRecorded", set_data("id_number", "320404192708150013"), "data.id_number", "pattern"),
    ("AdmissionRecorded", set_data("birth_date", "1927-08-15"), "data", "additionalProperties"),
    ("InstitutionRegistered", set_data("kind", "charity"), "data.kind", "enum"),
    ("InstitutionRegistered", set_data("beds", 0), "data.beds", "minimum"),
    ("HomeCareOrderPlaced", set_data("price", 10.0), "data.price", "type"),
    ("HomeCareOrderPlaced", set_data("volunteer", ""), "data.volunteer", "minLength"),
    ("SupportedPersonArranged", set_data("admission_id", None), "data.admission_id", "type"),
    ("WelfareEnterpriseRebateGranted", set_data("period", "2007-13"), "data.period", "pattern"),
    ("WelfareEnterpriseRestructured", set_data("deadline", "2007-06-31"), "data.deadline", "format"),
    ("CareWorkerTrainingRecorded", set_data("passed", "yes"), "data.passed", "type"),
]


@pytest.mark.parametrize("event_type,change,path,keyword", TAMPERED,
                         ids=[f"{t[0]}-{t[2]}-{t[3]}" for t in TAMPERED])
def test_tampered_data_fails(story, event_type, change, path, keyword):
    # the first HomeCareOrderPlaced is the low-cost one; the volunteer case uses the free one
    candidates = [copy.deepcopy(e) for e in story if e["type"] == event_type]
    event = candidates[-1] if path == "data.volunteer" else candidates[0]
    check_tampered(event, event_type, change, path, keyword)
