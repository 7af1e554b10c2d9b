"""Unit tier: the military support application and domain on in-memory persistence (AES cipher
on): each rule accepted and refused, with its typed error, field and code, and nothing stored on
refusal."""
from __future__ import annotations

from decimal import Decimal

import pytest

from shared.errors import Conflict, InvalidInput, NotFound
from tests.military_support.ms_support import CHANNELS, memory_app, person, register


def head(app) -> int:
    return app.recorder.max_notification_id() or 0


def refused(app, error, field, code, call, *args):
    """The call is refused with this error, field and code, and stores nothing."""
    before = head(app)
    with pytest.raises(error) as caught:
        call(*args)
    assert (caught.value.field, caught.value.code) == (field, code), caught.value
    assert head(app) == before
    return caught.value


# --- beneficiaries ----------------------------------------------------------------------------------

def test_a_disabled_serviceman_is_registered_with_grade_and_cause(app):
    who = person()
    bid = app.register_beneficiary("disabled_serviceman", "beigang", who["id_number"], who["name"],
                                   who["birth_date"], "2006-05-01", 3, "war")
    view = app.get_beneficiary(bid)
    assert (view["category"], view["grade"], view["cause"], view["status"]) == (
        "disabled_serviceman", 3, "war", "active")
    assert view["id_number"] == who["id_number"][:6] + "*" * 8 + who["id_number"][-4:]
    assert app.get_beneficiary(bid, reveal_identity=True)["id_number"] == who["id_number"]


@pytest.mark.parametrize("category,grade,cause,field,code", [
    ("disabled_serviceman", None, "war", "grade", "military.grade_required"),
    ("disabled_serviceman", 3, None, "cause", "military.cause_required"),
    ("disabled_serviceman", 11, "war", "grade", "input.not_a_choice"),
    ("disabled_serviceman", 3, "accident", "cause", "input.not_a_choice"),
    ("disabled_serviceman", 7, "illness", "grade", "military.grade_not_rated_for_cause"),
    ("martyr_family", 3, None, "grade", "military.grade_only_for_disabled"),
    ("war_veteran", None, "war", "cause", "military.grade_only_for_disabled"),
    ("veteran", None, None, "category", "input.not_a_choice"),
])
def test_category_grade_and_cause_rules(app, category, grade, cause, field, code):
    who = person()
    refused(app, InvalidInput, field, code, app.register_beneficiary, category, "beigang",
            who["id_number"], who["name"], who["birth_date"], "2006-05-01", grade, cause)


def test_illness_grades_1_to_6_are_rated(app):
    assert app.get_beneficiary(register(app, grade=6, cause="illness"))["grade"] == 6


def test_a_person_is_registered_once_and_identity_rules_hold(app):
    who = person()
    register(app, "martyr_family", who=who)
    refused(app, Conflict, "id_number", "military.already_beneficiary", register, app, "war_veteran",
            "xilin", None, None, who)
    bad = dict(who, id_number=who["id_number"][:17] + ("0" if who["id_number"][17] != "0" else "1"))
    refused(app, InvalidInput, "id_number", "identity.check_digit", register, app, "war_veteran",
            "xilin", None, None, bad)
    other = person()
    refused(app, InvalidInput, "birth_date", "identity.birth_date_mismatch",
            app.register_beneficiary, "war_veteran", "xilin", other["id_number"], "某人", "1951-01-01",
            "2006-01-01")
    refused(app, InvalidInput, "area", "input.unknown_area", register, app, "war_veteran", "nowhere")
    refused(app, InvalidInput, "registered_on", "input.future_date", register, app, "war_veteran",
            "xilin", None, None, person(), "2008-01-01")


def test_reassessment_changes_the_grade_paid_from_then_on(app):
    bid = register(app, grade=5, cause="duty")
    app.run_benefits("2007-01")
    assert app.reassess_grade(bid, 4, "2007-01-20")["grade"] == 4
    app.run_benefits("2007-02")
    assert app.get_beneficiary(bid)["payments"] == {"2007-01": "950.00", "2007-02": "1180.00"}
    refused(app, Conflict, "grade", "military.grade_unchanged", app.reassess_grade, bid, 4, "2007-02-01")
    refused(app, InvalidInput, "grade", "input.not_a_choice", app.reassess_grade, bid, 0, "2007-02-01")
    refused(app, InvalidInput, "reassessed_on", "military.date_too_early", app.reassess_grade, bid, 3,
            "2006-01-01")
    martyr = register(app, "martyr_family")
    refused(app, Conflict, "beneficiary_id", "military.not_disabled", app.reassess_grade, martyr, 3,
            "2007-02-01")
    ill = register(app, grade=6, cause="illness")
    refused(app, InvalidInput, "grade", "military.grade_not_rated_for_cause", app.reassess_grade, ill,
            7, "2007-02-01")


def test_ending_benefits_takes_the_beneficiary_off_the_roll(app):
    bid = register(app, "demobilised_veteran")
    refused(app, InvalidInput, "reason", "input.empty_text", app.end_benefits, bid, "2007-03-15", " ")
    refused(app, InvalidInput, "ended_on", "military.date_too_early", app.end_benefits, bid,
            "2006-01-01", "去世")
    assert app.end_benefits(bid, "2007-03-15", "去世")["status"] == "ended"
    refused(app, Conflict, "beneficiary_id", "military.beneficiary_ended", app.end_benefits, bid,
            "2007-04-01", "again")
    assert app.run_benefits("2007-04")["active"] == 0
    refused(app, Conflict, "beneficiary_id", "military.beneficiary_ended", app.enroll_insurance, bid,
            "urban_employee", "2007-05-01")


def test_unknown_records_are_not_found(app):
    refused(app, NotFound, "beneficiary_id", "store.not_found", app.get_beneficiary,
            "00000000-0000-4000-8000-000000000000")
    refused(app, InvalidInput, "worker_id", "input.not_uuid", app.get_worker, "nope")


# --- monthly runs -----------------------------------------------------------------------------------

def test_a_monthly_run_pays_each_standard_once_and_a_rerun_pays_nobody(app):
    g1 = register(app, grade=1, cause="war")
    martyr = register(app, "martyr_family")
    later = register(app, "war_veteran", on="2007-02-10")
    first = app.run_benefits("2007-01")
    assert first == {"month": "2007-01", "standard_from": "2006-10-01", "active": 3, "paid": 2,
                     "already_paid": 1, "total": "2500.00"}
    again = app.run_benefits("2007-01")
    assert (again["paid"], again["already_paid"], again["total"]) == (0, 3, "0.00")
    assert app.run_benefits("2007-02")["total"] == "2700.00"     # the veteran from February
    august = app.run_benefits("2007-08")                          # the raise of 2007-08-01
    assert (august["standard_from"], august["total"]) == ("2007-08-01", "2970.00")
    assert app.get_beneficiary(g1)["payments"] == {"2007-01": "2000.00", "2007-02": "2000.00",
                                                   "2007-08": "2200.00"}
    assert app.get_beneficiary(martyr)["payments"]["2007-08"] == "550.00"
    assert app.get_beneficiary(later)["payments"] == {"2007-02": "200.00", "2007-08": "220.00"}


def test_a_run_refuses_a_future_month_or_one_without_standards(app):
    register(app, "martyr_family")
    refused(app, InvalidInput, "month", "input.future_month", app.run_benefits, "2008-01")
    refused(app, InvalidInput, "month", "input.not_month", app.run_benefits, "2007-13")
    refused(app, Conflict, "month", "military.no_standard_in_force", app.run_benefits, "2006-09")


def test_the_standard_in_force_is_a_query(app):
    assert app.benefit_standard("disabled_serviceman", "2007-07", 2, "duty")["monthly"] == "1700.00"
    assert app.benefit_standard("disabled_serviceman", "2007-08", 2, "duty")["monthly"] == "1870.00"
    assert app.benefit_standard("martyr_family", "2007-08")["effective_from"] == "2007-08-01"


# --- medical coverage -------------------------------------------------------------------------------

def test_insurance_enrolment(app):
    bid = register(app, grade=2, cause="war")
    refused(app, InvalidInput, "scheme", "military.unknown_scheme", app.enroll_insurance, bid,
            "private", "2007-02-01")
    view = app.enroll_insurance(bid, "disabled_servicemen", "2007-02-01")
    assert view["insurance"] == {"scheme": "disabled_servicemen", "enrolled_on": "2007-02-01"}
    refused(app, Conflict, "beneficiary_id", "military.already_insured", app.enroll_insurance, bid,
            "urban_employee", "2007-03-01")


def test_the_assistance_scheme_is_for_the_other_key_beneficiaries(app):
    insured = register(app, grade=6, cause="duty")
    refused(app, Conflict, "beneficiary_id", "military.assistance_not_for_insured_grades",
            app.join_assistance, insured, "2007-01-10")
    other = register(app, "other")
    refused(app, Conflict, "beneficiary_id", "military.assistance_category_not_eligible",
            app.join_assistance, other, "2007-01-10")
    g7 = register(app, grade=7, cause="duty")
    refused(app, InvalidInput, "joined_on", "military.date_too_early", app.join_assistance, g7,
            "2006-01-01")
    assert app.join_assistance(g7, "2007-01-10")["assistance_joined_on"] == "2007-01-10"
    refused(app, Conflict, "beneficiary_id", "military.already_in_assistance", app.join_assistance,
            g7, "2007-02-10")
    assert app.join_assistance(register(app, "martyr_family"), "2007-01-10")["assistance_joined_on"]


def test_claims_reimburse_by_the_terms_in_force_up_to_the_yearly_cap(app):
    bid = register(app, "war_veteran")
    refused(app, Conflict, "beneficiary_id", "military.not_in_assistance", app.claim_assistance, bid,
            "2007-02-01", "100.00")
    app.join_assistance(bid, "2007-01-10")
    refused(app, InvalidInput, "claimed_on", "military.date_too_early", app.claim_assistance, bid,
            "2007-01-01", "100.00")
    refused(app, InvalidInput, "expenses", "military.expenses_not_positive", app.claim_assistance,
            bid, "2007-02-01", "0")
    refused(app, InvalidInput, "expenses", "money.negative", app.claim_assistance, bid, "2007-02-01", "-5")
    assert app.claim_assistance(bid, "2007-02-01", "2000.00")["paid"] == "1000.00"      # 50 %
    assert app.claim_assistance(bid, "2007-03-01", "5000.00")["paid"] == "2000.00"      # cap 3,000
    refused(app, Conflict, "claimed_on", "military.assistance_cap_reached", app.claim_assistance,
            bid, "2007-04-01", "100.00")
    july = app.claim_assistance(bid, "2007-07-02", "10000.00")                         # 60 %, cap 5,000
    assert (july["paid"], july["paid_in_year"], july["yearly_cap"]) == ("2000.00", "5000.00", "5000.00")


# --- workers without military status --------------------------------------------------------------

def test_workers_received_placed_and_paid(app):
    who = person("赵国庆", "1960-01-01")
    wid = app.receive_worker("beigang", who["id_number"], who["name"], who["birth_date"], "某部队医院",
                             "2007-02-01")
    refused(app, Conflict, "id_number", "military.already_received", app.receive_worker, "beigang",
            who["id_number"], who["name"], who["birth_date"], "某部队医院", "2007-02-01")
    refused(app, InvalidInput, "month", "military.before_reception", app.pay_worker_benefit, wid,
            "2007-01", "living_allowance", "800.00")
    refused(app, InvalidInput, "amount", "military.worker_benefit_out_of_range",
            app.pay_worker_benefit, wid, "2007-02", "living_allowance", "800.01")
    refused(app, InvalidInput, "kind", "military.unknown_worker_benefit", app.pay_worker_benefit, wid,
            "2007-02", "bonus", "100.00")
    app.pay_worker_benefit(wid, "2007-02", "living_allowance", "800.00")
    refused(app, Conflict, "month", "military.worker_benefit_already_paid", app.pay_worker_benefit,
            wid, "2007-02", "living_allowance", "800.00")
    refused(app, InvalidInput, "placed_on", "military.date_too_early", app.place_worker, wid,
            "环卫处", "2007-01-15")
    assert app.place_worker(wid, "钟楼区环卫处", "2007-05-01")["placed"] == {
        "employer": "钟楼区环卫处", "placed_on": "2007-05-01"}
    refused(app, Conflict, "worker_id", "military.already_placed", app.place_worker, wid, "别处",
            "2007-06-01")
    app.pay_worker_benefit(wid, "2007-05", "living_allowance", "800.00")        # the month placed
    refused(app, Conflict, "kind", "military.allowance_after_placement", app.pay_worker_benefit, wid,
            "2007-06", "living_allowance", "800.00")
    assert app.pay_worker_benefit(wid, "2007-07", "housing_subsidy", "500.00")["benefits"] == {
        "2007-02:living_allowance": "800.00", "2007-05:living_allowance": "800.00",
        "2007-07:housing_subsidy": "500.00"}


# --- double support ---------------------------------------------------------------------------------

def test_activities_sessions_and_pairs_are_filed_and_the_file_submitted_when_complete(app):
    refused(app, InvalidInput, "channel", "military.unknown_channel", app.record_activity, "sports",
            "beigang", "t", "u", "2007-04-01", 10)
    refused(app, InvalidInput, "participants", "input.whole_number_below_minimum",
            app.record_activity, "window", "beigang", "t", "u", "2007-04-01", 0)
    refused(app, InvalidInput, "venue", "military.unknown_venue", app.hold_education_session, "park",
            "public", "beigang", "t", "2007-04-01", 10)
    refused(app, InvalidInput, "audience", "military.unknown_audience", app.hold_education_session,
            "school", "tourists", "beigang", "t", "2007-04-01", 10)
    for channel in CHANNELS[:-1]:
        app.record_activity(channel, "beigang", "拥军", "某部", "2007-04-01", 20)
    for n in range(4):
        app.hold_education_session("school", "students", "xilin", "国防课", f"2007-0{n + 4}-02", 100)
    pairs = [app.form_pair("beigang", f"社区{n}", "某部", "2007-03-01") for n in range(3)]
    refused(app, Conflict, "civilian", "military.pair_exists", app.form_pair, "beigang", "社区0", "某部",
            "2007-04-01")
    refused(app, Conflict, "year", "military.evidence_channel_missing", app.submit_evidence_file, 2007,
            "2007-12-01")
    app.record_activity("information", "wuxing", "双拥信息平台上线", "某部", "2007-06-01", 5)
    app.dissolve_pair(pairs[0], "2007-10-01", "部队移防")
    refused(app, Conflict, "pair_id", "military.pair_dissolved", app.dissolve_pair, pairs[0],
            "2007-10-02", "again")
    refused(app, Conflict, "year", "military.evidence_incomplete", app.submit_evidence_file, 2007,
            "2007-12-01")
    app.form_pair("xilin", "西林中学", "某部", "2007-11-01")
    refused(app, InvalidInput, "submitted_on", "military.evidence_outside_year",
            app.submit_evidence_file, 2007, "2006-12-01")
    submitted = app.submit_evidence_file(2007, "2007-12-01")
    assert submitted["counts"] == {
        "activities_by_channel": {c: 1 for c in sorted(CHANNELS)}, "sessions_by_venue": {"school": 4},
        "sessions_by_audience": {"students": 4}, "activities": 8, "education_sessions": 4,
        "co_building_pairs": 3}
    refused(app, Conflict, "year", "military.evidence_already_submitted", app.submit_evidence_file,
            2007, "2007-12-02")
    app.record_activity("window", "beigang", "年终慰问", "某部", "2007-12-20", 30)   # after: not filed
    assert app.get_evidence_file(2007)["counts"]["activities"] == 8
    assert app.get_evidence_file(2007)["submitted"]["submitted_on"] == "2007-12-01"


def test_the_rules_in_force_are_a_query(app):
    rules = app.rules_in_force()
    assert rules["standard_today"] == "2007-08-01" and len(rules["channels"]) == 8
    assert rules["insured_grades"] == [1, 6]


def test_personal_data_is_encrypted_in_the_store():
    app = memory_app()
    who = person("孙志强")
    register(app, "war_veteran", who=who)
    raw = b"".join(bytes(n.state) for n in app.recorder.select_notifications(start=1, limit=100))
    assert who["id_number"].encode() not in raw and "孙志强".encode() not in raw
    assert Decimal(app.benefit_standard("war_veteran", "2007-01")["monthly"]) == 200
