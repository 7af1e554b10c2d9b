"""Unit tier: the conduct supervision application and domain on in-memory persistence (AES cipher
on): each rule accepted and refused, with its typed error, field and code, and nothing stored on
refusal."""
from __future__ import annotations

import pytest

from shared.errors import Conflict, InvalidInput, NotFound
from tests.conduct_supervision.cs_support import appoint, complaint, officer, person


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


# --- supervisors ------------------------------------------------------------------------------------

def test_a_supervisor_is_appointed_for_a_term_and_masked(app):
    who = person("陈桂英")
    sid = appoint(app, who=who)
    view = app.get_supervisor(sid)
    assert (view["community"], view["term_start"], view["term_end"], view["status"]) == (
        "beigang_beigang", "2007-03-01", "2008-12-31", "active")
    assert view["id_number"] == who["id_number"][:6] + "*" * 8 + who["id_number"][-4:]
    assert view["phone"] == "*" * 9 + "1234"
    shown = app.get_supervisor(sid, reveal_identity=True)
    assert (shown["id_number"], shown["phone"]) == (who["id_number"], "0519-86601234")


def test_appointment_rules(app):
    who = person()
    appoint(app, who=who)
    refused(app, Conflict, "id_number", "conduct.already_appointed", appoint, app, "beigang", "beigang_beigang", who)
    refused(app, InvalidInput, "community", "conduct.community_not_in_area", appoint, app, "xilin", "beigang_beigang")
    refused(app, InvalidInput, "community", "conduct.unknown_community", appoint, app, "xilin", "xilin_nowhere")
    refused(app, InvalidInput, "term_end", "conduct.term_end_not_after_start", appoint, app, "beigang",
            "beigang_beigang", None, "2007-03-01", "2007-03-01")
    # 3 years before 2007-07-01, 2 from then
    assert appoint(app, on="2007-06-01", until="2010-06-01")
    refused(app, InvalidInput, "term_end", "conduct.term_too_long", appoint, app, "beigang", "beigang_beigang",
            None, "2007-07-01", "2009-07-02")
    assert appoint(app, on="2007-07-01", until="2009-07-01")
    refused(app, InvalidInput, "phone", "conduct.bad_phone", appoint, app, "beigang", "beigang_beigang", None,
            "2007-03-01", "2008-03-01", "call me")
    refused(app, InvalidInput, "appointed_on", "input.future_date", appoint, app, "beigang", "beigang_beigang",
            None, "2008-01-02", "2009-01-01")
    refused(app, InvalidInput, "area", "input.unknown_area", appoint, app, "nowhere", "beigang_beigang")


def test_an_expired_term_is_not_active_until_renewed(app):
    sid = appoint(app, on="2006-05-01", until="2007-04-30")
    assert app.get_supervisor(sid)["status"] == "expired"
    refused(app, Conflict, "reviewer", "conduct.supervisor_not_active", app.record_review, "window",
            "dibao_window", "supervisor", sid, 80, "好", "2007-06-01")
    renewed = app.renew_supervisor(sid, "2007-06-15", "2008-12-31")
    assert renewed["terms"][-1] == {"start": "2007-06-15", "end": "2008-12-31"}
    assert renewed["status"] == "active"
    refused(app, Conflict, "reviewer", "conduct.supervisor_not_active", app.record_review, "window",
            "dibao_window", "supervisor", sid, 80, "好", "2007-06-01")      # the gap
    assert app.record_review("window", "dibao_window", "supervisor", sid, 80, "好", "2007-06-20")
    refused(app, InvalidInput, "term_end", "conduct.term_too_long", app.renew_supervisor, sid,
            "2007-07-01", "2011-01-02")


def test_a_supervisor_dismissed_early_is_not_renewed(app):
    sid = appoint(app)
    refused(app, InvalidInput, "reason", "input.empty_text", app.dismiss_supervisor, sid, "2007-09-01", " ")
    refused(app, InvalidInput, "dismissed_on", "conduct.date_too_early", app.dismiss_supervisor, sid,
            "2007-01-01", "迁出")
    assert app.dismiss_supervisor(sid, "2007-09-01", "迁出")["status"] == "dismissed"
    refused(app, Conflict, "supervisor_id", "conduct.supervisor_dismissed", app.dismiss_supervisor, sid,
            "2007-09-02", "again")
    refused(app, Conflict, "supervisor_id", "conduct.supervisor_dismissed", app.renew_supervisor, sid,
            "2007-10-01", "2008-12-31")


def test_a_dismissal_after_the_term_ended_is_refused(app):
    sid = appoint(app, on="2006-05-01", until="2007-04-30")
    refused(app, Conflict, "dismissed_on", "conduct.term_already_ended", app.dismiss_supervisor, sid,
            "2007-05-02", "迟到")


# --- officers, contact communities and visits -----------------------------------------------------------

def test_officers_are_registered_by_officer_id_once(app):
    assert officer(app) == "officer-li"
    refused(app, Conflict, "officer_id", "conduct.officer_exists", officer, app)
    refused(app, InvalidInput, "officer_id", "conduct.bad_officer_id", officer, app, "李 明")
    refused(app, NotFound, "officer_id", "store.not_found", app.get_officer, "officer-nobody")


def test_a_community_has_one_contact_officer_and_visits_are_by_that_officer(app):
    officer(app)
    officer(app, "officer-wang", "王芳")
    assert app.assign_community("officer-li", "beigang_beigang", "2007-02-01")["communities"] == ["beigang_beigang"]
    refused(app, Conflict, "community", "conduct.community_already_assigned", app.assign_community,
            "officer-wang", "beigang_beigang", "2007-02-02")
    refused(app, InvalidInput, "community", "conduct.unknown_community", app.assign_community,
            "officer-wang", "nowhere", "2007-02-02")
    refused(app, Conflict, "officer_id", "conduct.visit_not_by_assigned_officer", app.record_visit,
            "officer-wang", "beigang_beigang", "2007-03-01", ["意见"])
    refused(app, Conflict, "officer_id", "conduct.visit_not_by_assigned_officer", app.record_visit,
            "officer-li", "beigang_beigang", "2007-01-15", ["before the assignment"])
    refused(app, InvalidInput, "opinions", "conduct.opinions_not_a_list", app.record_visit,
            "officer-li", "beigang_beigang", "2007-03-01", "低保材料多")
    visit = app.record_visit("officer-li", "beigang_beigang", "2007-03-01", ["低保材料多", "窗口时间短"])
    app.release_community("beigang_beigang", "2007-06-01")
    app.assign_community("officer-wang", "beigang_beigang", "2007-06-01")
    assert app.record_visit("officer-wang", "beigang_beigang", "2007-07-01", [])
    # a visit made while officer-li was the contact is still theirs to record
    assert app.record_visit("officer-li", "beigang_beigang", "2007-05-20", ["补录"])
    refused(app, Conflict, "officer_id", "conduct.visit_not_by_assigned_officer", app.record_visit,
            "officer-li", "beigang_beigang", "2007-06-10", ["after the release"])
    refused(app, Conflict, "community", "conduct.community_not_assigned", app.release_community,
            "xilin_xilin", "2007-06-01")
    followed = app.follow_up_opinion(visit, 2, "延长至17:30", "2007-04-01")
    assert followed["opinions"][1]["followed_up_on"] == "2007-04-01"
    refused(app, Conflict, "opinion_no", "conduct.already_followed_up", app.follow_up_opinion, visit, 2, "again", "2007-04-02")
    refused(app, InvalidInput, "opinion_no", "conduct.no_such_opinion", app.follow_up_opinion, visit, 3, "x", "2007-04-02")
    refused(app, InvalidInput, "followed_up_on", "conduct.date_too_early", app.follow_up_opinion, visit, 1, "x", "2007-02-01")


def test_an_officer_who_leaves_releases_their_communities(app):
    officer(app)
    app.assign_community("officer-li", "xilin_xilin", "2007-02-01")
    view = app.officer_leaves("officer-li", "2007-06-30", "调离")
    assert (view["left_on"], view["communities"]) == ("2007-06-30", [])
    assert app.contacts()["officers_without_community"] == []
    refused(app, Conflict, "assigned_on", "conduct.officer_left", app.assign_community, "officer-li",
            "xilin_xilin", "2007-07-01")
    refused(app, Conflict, "officer_id", "conduct.officer_left", app.officer_leaves, "officer-li", "2007-07-01", "again")


# --- public reviews --------------------------------------------------------------------------------

def test_reviews_by_residents_supervisors_and_officers_never_of_themselves(app):
    officer(app)
    officer(app, "officer-wang", "王芳")
    sid = appoint(app)
    rid = app.record_review("officer", "officer-li", "officer", "officer-wang", 85, "认真", "2007-06-01")
    assert app.get_review(rid)["reviewer"] == "officer-wang"
    assert app.record_review("window", "dibao_window", "resident", None, 60, "慢", "2007-06-01")
    assert app.get_review(app.record_review("window", "dibao_window", "supervisor", sid, 75, "一般",
                                            "2007-06-01"))["area"] == "nandajie"
    refused(app, Conflict, "reviewer", "conduct.self_review", app.record_review, "officer", "officer-li",
            "officer", "officer-li", 100, "我很好", "2007-06-01")
    refused(app, InvalidInput, "reviewer", "conduct.resident_review_anonymous", app.record_review, "window",
            "dibao_window", "resident", "officer-li", 60, "x", "2007-06-01")
    refused(app, InvalidInput, "reviewer", "conduct.reviewer_required", app.record_review, "window",
            "dibao_window", "officer", None, 60, "x", "2007-06-01")
    refused(app, InvalidInput, "score", "conduct.score_out_of_range", app.record_review, "window",
            "dibao_window", "resident", None, 101, "x", "2007-06-01")
    refused(app, InvalidInput, "reviewer_kind", "input.not_a_choice", app.record_review, "window",
            "dibao_window", "journalist", None, 60, "x", "2007-06-01")
    refused(app, InvalidInput, "window", "conduct.unknown_window", app.record_review, "window",
            "pet_window", "resident", None, 60, "x", "2007-06-01")
    refused(app, NotFound, "subject", "store.not_found", app.record_review, "officer", "officer-nobody",
            "resident", None, 60, "x", "2007-06-01")
    refused(app, InvalidInput, "comment", "input.empty_text", app.record_review, "window", "dibao_window",
            "resident", None, 60, "", "2007-06-01")


# --- complaints ------------------------------------------------------------------------------------------

def test_a_complaint_has_a_deadline_from_the_rule_in_force_and_is_masked(app):
    def deadline(**kwargs):
        return app.get_complaint(complaint(app, **kwargs))["deadline"]
    assert deadline(on="2007-06-30") == "2007-07-15"                         # 15 days
    assert deadline(on="2007-07-01") == "2007-07-11"                         # 10 days from 2007-07-01
    assert deadline(on="2007-07-01", kind="suggestion") == "2007-07-21"
    c = app.get_complaint(complaint(app))
    assert (c["contact_name"], c["phone"], c["overdue"]) == ("王**", "*******5678", True)
    refused(app, InvalidInput, "phone", "conduct.bad_phone", app.receive_complaint, "complaint", "beigang",
            "window", "dibao_window", "王小红", "12", "x", "2007-03-01")
    refused(app, InvalidInput, "kind", "input.not_a_choice", app.receive_complaint, "praise", "beigang",
            "window", "dibao_window", "王小红", "13812345678", "x", "2007-03-01")


def test_answered_accepted_or_reopened_or_escalated(app):
    officer(app)
    cid = complaint(app, on="2007-03-01")
    refused(app, Conflict, "complaint_id", "conduct.not_answered", app.respond_to_answer, cid, True, "2007-03-02")
    refused(app, InvalidInput, "answered_on", "conduct.date_too_early", app.answer_complaint, cid, "x",
            "2007-02-01", "officer-li")
    refused(app, NotFound, "officer_id", "store.not_found", app.answer_complaint, cid, "x", "2007-03-02", "officer-x")
    answered = app.answer_complaint(cid, "已处理", "2007-03-20", "officer-li")
    assert (answered["status"], answered["answers"][0]["late"], answered["overdue"]) == ("answered", True, False)
    refused(app, Conflict, "complaint_id", "conduct.complaint_not_open", app.answer_complaint, cid, "x",
            "2007-03-21", "officer-li")
    refused(app, InvalidInput, "outcome", "conduct.outcome_required", app.respond_to_answer, cid, False, "2007-03-22")
    refused(app, InvalidInput, "outcome", "conduct.outcome_only_when_not_accepted", app.respond_to_answer,
            cid, True, "2007-03-22", "reopened")
    refused(app, InvalidInput, "accepted", "conduct.accepted_not_boolean", app.respond_to_answer, cid, "yes",
            "2007-03-22")
    reopened = app.respond_to_answer(cid, False, "2007-03-22", "reopened")
    assert (reopened["status"], reopened["deadline"], reopened["rounds"]) == ("open", "2007-04-01", 1)
    app.answer_complaint(cid, "再次处理", "2007-03-25", "officer-li")
    escalated = app.respond_to_answer(cid, False, "2007-03-26", "escalated")
    assert (escalated["escalated"], escalated["deadline"]) == (True, "2007-04-05")
    app.answer_complaint(cid, "局领导约谈", "2007-04-01", "officer-li")
    closed = app.respond_to_answer(cid, True, "2007-04-02")
    assert (closed["status"], closed["accepted"], closed["overdue"]) == ("closed", True, False)


# --- window efficiency -----------------------------------------------------------------------------------

def test_window_efficiency_by_the_windows_methods(app):
    assert app.assess_window("dibao_window", "2007-Q1", "mystery_visit", 95, "2007-04-05")
    assert app.get_window_assessment("dibao_window", "2007-Q1")["rectification"] is False
    refused(app, Conflict, "period", "conduct.window_already_assessed", app.assess_window, "dibao_window",
            "2007-Q1", "mystery_visit", 90, "2007-04-06")
    refused(app, InvalidInput, "method", "conduct.method_not_for_window", app.assess_window, "military_window",
            "2007-Q1", "mystery_visit", 90, "2007-04-06")
    refused(app, InvalidInput, "measures", "conduct.measures_required", app.assess_window, "marriage_window",
            "2007-Q1", "file_check", 79, "2007-04-06")
    refused(app, InvalidInput, "assessed_on", "conduct.period_not_ended", app.assess_window, "marriage_window",
            "2007-H1", "file_check", 90, "2007-06-29")
    refused(app, InvalidInput, "period", "conduct.bad_period", app.assess_window, "marriage_window",
            "2007-Q5", "file_check", 90, "2007-06-29")
    refused(app, InvalidInput, "score", "conduct.score_out_of_range", app.assess_window, "marriage_window",
            "2007-Q1", "file_check", -1, "2007-04-06")
    refused(app, InvalidInput, "window", "conduct.unknown_window", app.assess_window, "pet_window",
            "2007-Q1", "file_check", 90, "2007-04-06")
    eid = app.assess_window("marriage_window", "2007-Q1", "file_check", 79, "2007-04-06", "增设导办员")
    assert eid and app.get_window_assessment("marriage_window", "2007-Q1")["rectification"] is True
    refused(app, NotFound, "period", "store.not_found", app.get_window_assessment, "marriage_window", "2007-Q2")


# --- breaches and the year-end assessment ------------------------------------------------------------------

def test_breaches_of_the_eight_prohibitions_recorded_and_handled_once(app):
    officer(app)
    assert app.record_breach("officer-li", "p1_gifts", "2007-05-01", "收受购物卡")["breach_no"] == 1
    refused(app, InvalidInput, "prohibition", "conduct.unknown_prohibition", app.record_breach, "officer-li",
            "p9_smoking", "2007-05-01", "x")
    refused(app, InvalidInput, "measure", "conduct.unknown_measure", app.handle_breach, "officer-li", 1,
            "fine", "2007-05-10", "x")
    refused(app, InvalidInput, "breach_no", "conduct.no_such_breach", app.handle_breach, "officer-li", 2,
            "talk", "2007-05-10", "x")
    refused(app, InvalidInput, "handled_on", "conduct.date_too_early", app.handle_breach, "officer-li", 1,
            "talk", "2007-04-10", "x")
    handled = app.handle_breach("officer-li", 1, "notice", "2007-05-10", "通报批评并退还")
    assert handled["breaches"][0]["handled"] == {"measure": "notice", "handled_on": "2007-05-10"}
    refused(app, Conflict, "breach_no", "conduct.breach_already_handled", app.handle_breach, "officer-li", 1,
            "talk", "2007-05-11", "x")


def test_the_year_end_assessment_and_the_rewards_list(app):
    officer(app)
    officer(app, "officer-wang", "王芳")
    officer(app, "officer-zhao", "赵强")
    top = app.assess_officer("officer-li", 2007, "excellent", "excellent", "excellent", "competent", "2007-12-20")
    assert (top["overall"], top["rewarded"]) == ("excellent", True)       # 0.3*4+0.2*4+0.2*4+0.3*3 = 3.7
    mid = app.assess_officer("officer-wang", 2007, "competent", "excellent", "excellent", "competent", "2007-12-20")
    assert (mid["overall"], mid["rewarded"]) == ("competent", False)      # 3.4
    veto = app.assess_officer("officer-zhao", 2007, "incompetent", "excellent", "excellent", "excellent", "2007-12-28")
    assert veto["overall"] == "incompetent"
    assert [r["officer_id"] for r in app.rewards(2007)["rewarded"]] == ["officer-li"]
    refused(app, Conflict, "year", "conduct.already_assessed", app.assess_officer, "officer-li", 2007,
            "excellent", "excellent", "excellent", "excellent", "2007-12-21")
    refused(app, InvalidInput, "integrity", "conduct.unknown_grade", app.assess_officer, "officer-li", 2006,
            "great", "excellent", "excellent", "excellent", "2007-01-21")


def test_an_officer_with_a_breach_in_the_year_is_never_excellent(app):
    officer(app)
    app.record_breach("officer-li", "p7_absence", "2007-03-01", "擅离职守")
    refused(app, Conflict, "integrity", "conduct.excellent_with_breach", app.assess_officer, "officer-li",
            2007, "excellent", "excellent", "excellent", "excellent", "2007-12-20")
    assert app.assess_officer("officer-li", 2007, "competent", "excellent", "excellent", "competent",
                              "2007-12-20")["overall"] == "competent"
    # a breach of an earlier year does not count against this one
    officer(app, "officer-wang", "王芳")
    app.record_breach("officer-wang", "p7_absence", "2006-03-01", "擅离职守")
    assert app.assess_officer("officer-wang", 2007, "excellent", "excellent", "excellent", "excellent",
                              "2007-12-20")["rewarded"] is True


def test_the_assessment_window_and_serving_at_year_end(app):
    officer(app)
    officer(app, "officer-new", "新人", joined_on="2007-12-01")
    refused(app, InvalidInput, "assessed_on", "conduct.assessment_outside_year", app.assess_officer,
            "officer-li", 2007, "competent", "competent", "competent", "competent", "2007-09-30")
    app.officer_leaves("officer-li", "2007-12-15", "退休")
    refused(app, Conflict, "year", "conduct.not_serving_at_year_end", app.assess_officer, "officer-li", 2007,
            "competent", "competent", "competent", "competent", "2007-12-20")
    refused(app, Conflict, "year", "conduct.not_serving_at_year_end", app.assess_officer, "officer-new", 2006,
            "competent", "competent", "competent", "competent", "2007-01-20")
    refused(app, InvalidInput, "year", "input.year_out_of_range", app.assess_officer, "officer-new", 1900,
            "competent", "competent", "competent", "competent", "2007-01-20")


def test_statistics_and_rules_in_force(app):
    appoint(app)
    officer(app)
    stats = app.statistics()
    assert (stats["supervisors_appointed"], stats["officers_serving"]) == (1, 1)
    rules = app.rules_in_force()
    assert len(rules["prohibitions"]) == 8 and rules["today"] == "2007-12-31"
