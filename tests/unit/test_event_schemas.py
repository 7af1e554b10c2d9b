"""The published contract of social_assistance: every event type has a JSON Schema, every event
the service stores validates against it as a CloudEvent, and no identity number leaves in clear.

Drives the real application (in-memory persistence, AES cipher on) through a story that
produces every event type, then publishes the notification log the way the relay does.
"""
from __future__ import annotations

from datetime import date

from pathlib import Path

import pytest
from cloudevents.core.exceptions import CloudEventValidationError
from eventsourcing.cryptography import AESCipher
from stdnum.cn import ric

from services.social_assistance import domain
from services.social_assistance.application import SocialAssistance
from shared import contract, schemas
from shared.schemas import SchemaViolation
from tests.contract_support import (
    check_guide_lists, check_no_identity_in_clear, check_publishes_every_type,
    check_schema_describes, check_schema_files, check_sequence, check_tampered,
    domain_event_types, first, invalid_events, publish_log, set_data)

SERVICE = "social_assistance"
TODAY = date(2007, 12, 31)
ZHONGLOU = "320404"   # 钟楼区 (created 1983; people born earlier hold it too)


# --- helpers ---------------------------------------------------------------------------------

def id_number(born: date, serial: int, address_code: str = ZHONGLOU) -> str:
    """A valid GB 11643-1999 number; the check digit is computed by python-stdnum (its
    calc_check_digit expects a placeholder in the check digit's position)."""
    body = f"{address_code}{born:%Y%m%d}{serial:03d}"
    return body + ric.calc_check_digit(body + "0")


_serial = iter(range(1, 1000))
ISSUED: list[str] = []


def person(name: str, born: str, income: str) -> dict:
    number = id_number(date.fromisoformat(born), next(_serial))
    ISSUED.append(number)
    return {"id_number": number, "name": name, "birth_date": born, "monthly_income": income}


# --- the story -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def app():
    return SocialAssistance({"PERSISTENCE_MODULE": "eventsourcing.popo",
                             "CIPHER_KEY": AESCipher.create_key(32)},
                            today=lambda: TODAY)


@pytest.fixture(scope="module")
def story(app) -> dict:
    outcomes = {}
    assert app.load_reference_standards() == 2           # Started, Set x2 (300 urban, 200 rural)

    def household(area, registration, *members, address="钟楼区某路1号"):
        return app.register_household(area, registration, list(members), address=address)

    def approved_case(household_id, month):
        case_id = app.apply(household_id, officer="王芳")
        verified = app.verify(case_id, officer="王芳", household_monthly_income=income[household_id])
        assert verified["status"] == "verified"
        assert app.approve(case_id, officer="李强", effective_month=month)["status"] == "active"
        return case_id

    # A: rural household in Xilin, 3 people, 150 a month -> (200 - 50) x 3 = 450.
    a = household("xilin", "rural", person("张建国", "1950-03-04", "0.00"),
                  person("张伟", "1984-06-01", "150.00"), person("张小红", "2001-09-30", "0.00"))
    # B: urban household in Nandajie, 2 people, 200 a month -> (300 - 100) x 2 = 400.
    b = household("nandajie", "urban", person("陈秀英", "1945-11-11", "200.00"),
                  person("陈明", "1990-02-28", "0.00"))
    # C: urban, income above the line: rejected.
    c = household("wuxing", "urban", person("刘洋", "1986-07-07", "500.00"))
    # D: urban in Yonghong, 2 people, 100 a month -> 500; terminated at the end of the year.
    d = household("yonghong", "urban", person("赵磊", "1983-01-15", "100.00"),
                  person("赵丽", "1985-05-05", "0.00"))
    income = {a: "150.00", b: "200.00", c: "500.00", d: "100.00"}

    case_a = approved_case(a, "2007-01")
    case_b = approved_case(b, "2007-01")
    case_d = approved_case(d, "2007-01")
    case_c = app.apply(c, officer="王芳")
    app.verify(case_c, officer="王芳", household_monthly_income="500.00")
    assert app.reject(case_c, officer="李强", reason="人均收入高于低保标准")["status"] == "rejected"

    for month in ("2007-01", "2007-02"):
        app.run_payments(month)
    review = lambda income_, month: app.review(case_b, "周敏", income_, month)["outcome"]
    outcomes["b"] = [review("100.00", "2007-03"),   # pci 50 -> 500: raised
                     review("300.00", "2007-04"),   # pci 150 -> 300: lowered
                     review("300.00", "2007-05")]   # unchanged
    for month in ("2007-03", "2007-04", "2007-05"):
        app.run_payments(month)
    outcomes["b"].append(review("700.00", "2007-06"))  # pci 350 > 300: suspended
    app.run_payments("2007-06")

    # Standards +20 urban / +30 rural from May, after May and June were paid: recomputation,
    # then back pay for May and June with July's payment.
    raised = app.raise_standards("20.00", "30.00", "2007-05")
    assert raised["cases_recomputed"] == 2            # A and D; B is suspended
    july = app.run_payments("2007-07")
    assert july["paid"] == 2

    outcomes["b"] += [review("200.00", "2007-07"),   # pci 100 < 320 -> 440: reinstated
                      review("700.00", "2007-08"),   # suspended again
                      review("800.00", "2007-09")]   # suspended twice: terminated

    # Marginal households: standard 320 (urban, from May), band up to 1.5 x 320 = 480.
    e = household("hehuachi", "urban", person("孙丽华", "1955-08-08", "700.00"),
                  person("孙杰", "1988-12-12", "0.00"))       # pci 350
    f = household("beigang", "urban", person("周红梅", "1960-04-04", "400.00"))  # pci 400
    app.register_marginal(e, officer="吴静")
    app.register_marginal(f, officer="吴静")
    outcomes["marginal"] = [app.review_marginal(f, "吴静", "420.00"),    # still_marginal
                            app.review_marginal(e, "吴静", "1200.00")]   # pci 600: left_band
    relief = app.pay_marginal_relief(2007, "300.00")
    assert relief["paid"] == 1

    app.record_donation(2007, "常州钟楼某商贸有限公司", "5000.00", "nandajie", "2007-09-01")
    app.record_donation(2007, "王五", "200.00", "xilin", "2007-09-01")

    # Xilin: rural dibao merged into the urban scheme from December.
    app.set_standard("xilin", "urban", "330.00", "2007-12", reason="西林街道城乡低保并轨")
    assert app.merge_rural_into_urban("xilin", "2007-12")["cases_merged"] == 1
    assert app.get_case(case_a)["scheme"] == "urban"

    for month in ("2007-08", "2007-09", "2007-10", "2007-11", "2007-12"):
        app.run_payments(month)
    assert app.pay_year_end_extra(2007)["paid"] == 2
    assert app.terminate(case_d, officer="李强", reason="迁出本区")["status"] == "terminated"

    return {"published": publish_log(app, SERVICE), "outcomes": outcomes,
            "cases": {"a": case_a, "b": case_b, "c": case_c, "d": case_d}}


# --- schemas against the domain ----------------------------------------------------------------

def test_a_schema_file_for_every_domain_event_and_no_other():
    check_schema_files(SERVICE, domain)


@pytest.mark.parametrize("event_type", sorted(domain_event_types(domain)))
def test_schema_describes_exactly_the_published_fields(event_type):
    check_schema_describes(SERVICE, event_type, domain_event_types(domain)[event_type])


def test_the_integration_guide_lists_every_event_type():
    check_guide_lists(SERVICE, Path(__file__).resolve().parents[2] / "docs" / "events.md")


# --- the story's events against the schemas ------------------------------------------------------

def test_the_story_publishes_every_event_type(story):
    check_publishes_every_type(SERVICE, story["published"])


def test_every_published_event_is_valid(story):
    assert invalid_events(story["published"]) == []


def test_the_story_reaches_every_outcome(story):
    assert story["outcomes"]["b"] == ["raised", "lowered", "unchanged", "suspended",
                                      "reinstated", "suspended", "terminated"]
    assert story["outcomes"]["marginal"] == ["still_marginal", "left_band"]
    paid = [e["data"] for e in story["published"] if e["type"] == "CasePaid"]
    assert {p["kind"] for p in paid} == {"monthly", "year_end_extra"}
    back_pay = [p["back_pay"] for p in paid if p["back_pay"]]
    assert back_pay == [{"2007-05": "90.00", "2007-06": "90.00"},    # A: 450 -> 540
                        {"2007-05": "40.00", "2007-06": "40.00"}]    # D: 500 -> 540
    year_end = sorted(p["amount"] for p in paid if p["kind"] == "year_end_extra")
    assert year_end == ["640.00", "990.00"]     # D: 320 x 2; A merged into urban: 330 x 3
    merged = first(story["published"], "CaseSchemeMerged")["data"]
    assert (merged["from_scheme"], merged["to_scheme"], merged["allowance"]) == (
        "rural", "urban", "840.00")


def test_sequence_follows_the_notification_log(story):
    check_sequence(story["published"])


def test_validate_accepts_a_cloudevent_its_dict_and_its_json(app, story):
    notification = app.recorder.select_notifications(start=1, limit=1)[0]
    event = contract.to_cloudevent(SERVICE, notification.id, app.mapper.to_domain_event(notification))
    assert schemas.validate(event)["type"] == event.get_type()
    assert schemas.validate(contract.encode(event))["sequence"] == "0" * 19 + "1"
    assert schemas.is_valid(contract.as_dict(event))


def test_parse_reads_every_published_event_as_the_sdk_does(app, story):
    """The consumer's one-pass `parse` gives the same dict as decoding with the SDK and
    re-encoding, for every event of the story as the relay writes it."""
    previous = None
    for notification in app.recorder.select_notifications(start=1, limit=10_000):
        body = contract.encode(contract.to_cloudevent(SERVICE, notification.id,
                                                      app.mapper.to_domain_event(notification), previous))
        assert contract.parse(body) == contract.as_dict(contract.decode(body))
        previous = notification.id
    with pytest.raises(CloudEventValidationError):
        contract.parse(b'{"data": {}}')  # not a CloudEvent: the SDK's check still runs


# --- personal data ---------------------------------------------------------------------------------

def test_no_identity_number_or_birth_date_in_clear(story):
    assert len(ISSUED) == 11
    check_no_identity_in_clear(story["published"], ISSUED)
    registered = [e["data"] for e in story["published"] if e["type"] == "HouseholdRegistered"]
    masked = [m["id_number"] for r in registered for m in r["members"]]
    assert masked == [n[:6] + "*" * 8 + n[-4:] for n in ISSUED]


# --- tampered events fail, naming the type and the path ------------------------------------------

def _unmask(event):
    event["data"]["members"][0]["id_number"] = ISSUED[0]


def _drop(field):
    def change(event):
        del event["data"][field]
    return change


TAMPERED_DATA = [
    ("HouseholdRegistered", _unmask, "data.members[0].id_number", "pattern"),
    ("HouseholdRegistered", lambda e: e["data"]["members"][0].__setitem__("birth_date", "1950-03-04"),
     "data.members[0]", "additionalProperties"),
    ("HouseholdRegistered", set_data("registration", "township"), "data.registration", "enum"),
    ("CaseApproved", set_data("allowance", 450.0), "data.allowance", "type"),
    ("CaseApproved", set_data("allowance", "450"), "data.allowance", "pattern"),
    ("CaseApproved", set_data("month", "2007-13"), "data.month", "pattern"),
    ("CaseApproved", _drop("standard"), "data", "required"),
    ("CaseApproved", set_data("approved_by_mayor", True), "data", "additionalProperties"),
    ("CaseApplied", set_data("household_id", "not-a-uuid"), "data.household_id", "format"),
    ("CaseApplied", set_data("applied_on", "2007-02-30"), "data.applied_on", "format"),
    ("CaseApplied", set_data("size", "3"), "data.size", "type"),
    ("CaseReviewed", set_data("outcome", "suspended"), "data.allowance", "const"),
    ("CasePaid", set_data("month", "2007-YE"), "data.month", "pattern"),
    ("CaseApplied", set_data("aggregate_version", 2), "data.aggregate_version", "const"),
]


@pytest.mark.parametrize("event_type,change,path,keyword", TAMPERED_DATA,
                         ids=[f"{t[0]}-{t[2]}-{t[3]}" for t in TAMPERED_DATA])
def test_tampered_data_fails(story, event_type, change, path, keyword):
    # the first CaseReviewed is B's "raised"
    check_tampered(first(story["published"], event_type), event_type, change, path, keyword)


def _envelope(name, value):
    def change(event):
        if value is None:
            del event[name]
        else:
            event[name] = value
    return change


TAMPERED_ENVELOPE = [
    ("specversion", _envelope("specversion", "0.3")),
    ("id", _envelope("id", None)),
    ("source", _envelope("source", "https://example.org/dibao")),
    ("subject", _envelope("subject", "00000000-0000-0000-0000-000000000000")),
    ("time", _envelope("time", "yesterday")),
    ("datacontenttype", _envelope("datacontenttype", "text/plain")),
    ("dataschema", _envelope("dataschema", contract.schema_urn(SERVICE, "CaseRejected", 1))),
    ("dataschema", _envelope("type", "CaseRejected")),
    ("dataschema", _envelope("dataschema", None)),
    ("sequence", _envelope("sequence", "17")),
    ("sequence", _envelope("sequence", 17)),
    ("data", _envelope("data", None)),
]


@pytest.mark.parametrize("path,change", TAMPERED_ENVELOPE,
                         ids=[f"{p}-{i}" for i, (p, _) in enumerate(TAMPERED_ENVELOPE)])
def test_tampered_envelope_fails(story, path, change):
    event = first(story["published"], "CaseApproved")
    change(event)
    with pytest.raises(SchemaViolation) as caught:
        schemas.validate(event)
    assert caught.value.path == path


def test_an_event_type_without_a_schema_fails(story):
    event = first(story["published"], "CaseApproved")
    event["type"] = "CaseAppealed"
    event["dataschema"] = contract.schema_urn(SERVICE, "CaseAppealed", 1)
    with pytest.raises(schemas.UnknownSchema) as caught:
        schemas.validate(event)
    assert caught.value.event_type == "CaseAppealed"
    event["type"], event["dataschema"] = "CaseApproved", contract.schema_urn(SERVICE, "CaseApproved", 2)
    with pytest.raises(SchemaViolation, match="no schema v2"):
        schemas.validate(event)
