"""Unit tier: the community-building application and domain on in-memory persistence (AES
cipher on): each rule accepted and refused, with its typed error, field and code, and nothing
stored on refusal."""
from __future__ import annotations

import pytest

from shared.errors import Conflict, InvalidInput, NotFound
from tests.community.cm_support import FOUR, hire, memory_app, person


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


def community(app, area="beigang", name="北港社区", on="2005-01-01") -> str:
    return app.register_community(area, name, on)


# --- communities and star ratings ----------------------------------------------------------------

def test_a_community_is_registered_once_per_area_and_name(app):
    cid = community(app)
    assert app.get_community(cid)["star"] is None
    assert community(app, "xilin")                       # the same name in another area
    refused(app, Conflict, "name", "community.community_exists", community, app)
    refused(app, InvalidInput, "area", "input.unknown_area", community, app, "nowhere")
    refused(app, InvalidInput, "name", "input.empty_text", community, app, "beigang", "  ")
    refused(app, InvalidInput, "registered_on", "input.future_date", community, app, "beigang", "新社区", "2008-01-01")


def test_star_ratings_are_awarded_raised_and_revoked_with_the_history_kept(app):
    cid = community(app)
    app.award_star(cid, 4, "2006-06-01")
    view = app.award_star(cid, 5, "2007-05-01")
    assert view["star"] == 5
    view = app.revoke_star(cid, "2007-11-01", "跟踪考核不达标")
    assert view["star"] is None
    assert view["star_history"] == [{"level": 4, "on": "2006-06-01"}, {"level": 5, "on": "2007-05-01"},
                                    {"level": None, "on": "2007-11-01"}]
    assert app.award_star(cid, 3, "2007-12-01")["star"] == 3


def test_star_rules(app):
    cid = community(app)
    refused(app, InvalidInput, "level", "community.unknown_star_level", app.award_star, cid, 2, "2007-01-01")
    refused(app, InvalidInput, "level", "community.unknown_star_level", app.award_star, cid, True, "2007-01-01")
    refused(app, Conflict, "community_id", "community.no_star_rating", app.revoke_star, cid, "2007-01-01", "不达标")
    app.award_star(cid, 4, "2007-03-01")
    refused(app, Conflict, "level", "community.star_unchanged", app.award_star, cid, 4, "2007-04-01")
    refused(app, InvalidInput, "awarded_on", "community.date_too_early", app.award_star, cid, 5, "2007-02-01")
    refused(app, InvalidInput, "revoked_on", "community.date_too_early", app.revoke_star, cid, "2007-02-28", "不达标")
    refused(app, InvalidInput, "reason", "input.empty_text", app.revoke_star, cid, "2007-04-01", "")
    refused(app, NotFound, "community_id", "store.not_found", app.award_star,
            "00000000-0000-4000-8000-000000000000", 4, "2007-01-01")


def test_designations_and_the_limit_per_street_and_year(app):
    one, two, three = (community(app, "beigang", n) for n in ("甲社区", "乙社区", "丙社区"))
    assert app.designate_community(one, "brand", "2007-06-01", "服务型社区")["designations"] == {"brand": "2007-06-01"}
    app.designate_community(two, "brand", "2007-06-02", "学习型社区")
    refused(app, Conflict, "designation", "community.designation_limit_reached",
            app.designate_community, three, "brand", "2007-06-03", "生态型社区")
    app.designate_community(three, "digital", "2007-06-03", "数字型社区")     # another designation
    other = community(app, "xilin", "丁社区")
    app.designate_community(other, "brand", "2007-06-03", "自治型社区")       # another street
    refused(app, Conflict, "designation", "community.already_designated",
            app.designate_community, one, "brand", "2007-07-01", "服务型社区")
    refused(app, InvalidInput, "designation", "community.unknown_designation",
            app.designate_community, one, "famous", "2007-07-01", "名社区")
    refused(app, InvalidInput, "designated_on", "community.date_too_early",
            app.designate_community, one, "digital", "2004-07-01", "数字型社区")
    refused(app, InvalidInput, "title", "input.empty_text", app.designate_community, one, "digital", "2007-07-01", " ")


def test_a_new_year_opens_a_new_quota():
    app = memory_app(today=__import__("datetime").date(2008, 12, 31))
    ids = [community(app, "beigang", n) for n in ("甲社区", "乙社区", "丙社区")]
    app.designate_community(ids[0], "brand", "2007-06-01", "服务型社区")
    app.designate_community(ids[1], "brand", "2007-06-02", "学习型社区")
    assert app.designate_community(ids[2], "brand", "2008-03-01", "生态型社区")["designations"]["brand"] == "2008-03-01"


def test_the_four_meetings(app):
    cid = community(app)
    for kind in FOUR:
        app.hold_meeting(cid, kind, "2007-05-10", "小区停车", 30)
    assert sorted(m["kind"] for m in app.get_community(cid)["meetings"]) == sorted(FOUR)
    refused(app, Conflict, "held_on", "community.meeting_already_recorded",
            app.hold_meeting, cid, "hearing", "2007-05-10", "小区停车", 30)
    refused(app, InvalidInput, "kind", "community.unknown_meeting_kind",
            app.hold_meeting, cid, "party", "2007-05-11", "联欢", 30)
    refused(app, InvalidInput, "attendees", "community.meeting_without_attendees",
            app.hold_meeting, cid, "hearing", "2007-05-11", "小区停车", 0)
    refused(app, InvalidInput, "topic", "input.empty_text", app.hold_meeting, cid, "hearing", "2007-05-11", "", 3)
    refused(app, InvalidInput, "held_on", "community.date_too_early",
            app.hold_meeting, cid, "hearing", "2004-05-11", "小区停车", 3)
    refused(app, InvalidInput, "held_on", "input.future_date",
            app.hold_meeting, cid, "hearing", "2008-05-11", "小区停车", 3)


# --- civil organisations --------------------------------------------------------------------------

def test_an_organisation_is_registered_or_filed_as_its_kind_requires(app):
    group = app.identify_organisation("beigang", "北港老年协会", "social_group", "2005-03-01")
    assert app.get_organisation(group)["form"] == "registration"
    view = app.register_organisation(group, "2005-04-01", "苏常社证字第001号")
    assert (view["completed_on"], view["certificate"]) == ("2005-04-01", "苏常社证字第001号")
    dance = app.identify_organisation("xilin", "西林舞蹈队", "community_group", "2007-02-01")
    assert app.file_organisation(dance, "2007-03-01")["completed_on"] == "2007-03-01"
    refused(app, Conflict, "organisation_id", "community.form_not_for_kind", app.file_organisation, group, "2007-03-01")
    refused(app, Conflict, "organisation_id", "community.already_registered",
            app.register_organisation, group, "2007-04-01", "苏常社证字第009号")
    other = app.identify_organisation("xilin", "西林书画社", "community_group", "2007-02-01")
    refused(app, Conflict, "organisation_id", "community.form_not_for_kind",
            app.register_organisation, other, "2007-04-01", "苏常社证字第010号")
    refused(app, Conflict, "name", "community.organisation_exists",
            app.identify_organisation, "beigang", "北港老年协会", "social_group", "2007-01-01")
    refused(app, InvalidInput, "kind", "community.unknown_organisation_kind",
            app.identify_organisation, "beigang", "某公司", "company", "2007-01-01")
    refused(app, InvalidInput, "filed_on", "community.date_too_early", app.file_organisation, other, "2007-01-01")
    refused(app, InvalidInput, "certificate", "input.empty_text",
            app.register_organisation, app.identify_organisation("beigang", "新协会", "social_group", "2007-01-01"),
            "2007-02-01", "")


def test_annual_inspection_of_registered_organisations(app):
    group = app.identify_organisation("beigang", "北港老年协会", "social_group", "2005-03-01")
    new = app.identify_organisation("beigang", "北港志愿者协会", "social_group", "2007-01-10")
    refused(app, Conflict, "organisation_id", "community.not_registered",
            app.inspect_organisation, group, "2007-05-10", "passed")
    app.register_organisation(group, "2005-04-01", "苏常社证字第001号")
    app.register_organisation(new, "2007-02-10", "苏常社证字第004号")
    view = app.inspect_organisation(group, "2007-05-10", "basically_passed")
    assert view["inspections"] == {"2007": {"result": "basically_passed", "inspected_on": "2007-05-10"}}
    refused(app, Conflict, "inspected_on", "community.already_inspected",
            app.inspect_organisation, group, "2007-06-10", "passed")
    refused(app, Conflict, "inspected_on", "community.inspection_not_due",
            app.inspect_organisation, new, "2007-05-10", "passed")
    refused(app, InvalidInput, "result", "community.unknown_inspection_result",
            app.inspect_organisation, group, "2006-05-10", "excellent")
    filed = app.identify_organisation("xilin", "西林舞蹈队", "community_group", "2006-02-01")
    app.file_organisation(filed, "2006-03-01")
    refused(app, Conflict, "organisation_id", "community.inspection_not_for_filed",
            app.inspect_organisation, filed, "2007-05-10", "passed")


# --- villages -------------------------------------------------------------------------------------

def test_openness_model_status_and_its_rules(app):
    vid = app.register_village("xilin", "新龙村", "2006-01-01")
    refused(app, Conflict, "village_id", "community.model_needs_standard_inspection",
            app.award_model_village, vid, "municipal", "2007-06-01", "常州市民政局")
    app.inspect_openness(vid, "2007-03-01", "needs_rectification", "财务公开不及时")
    refused(app, Conflict, "village_id", "community.model_needs_standard_inspection",
            app.award_model_village, vid, "municipal", "2007-06-01", "常州市民政局")
    app.inspect_openness(vid, "2007-05-01", "up_to_standard", "整改到位")
    refused(app, Conflict, "village_id", "community.model_needs_standard_inspection",   # before it
            app.award_model_village, vid, "municipal", "2007-04-01", "常州市民政局")
    assert app.award_model_village(vid, "municipal", "2007-06-01", "常州市民政局")["model"] == {
        "level": "municipal", "awarded_on": "2007-06-01"}
    refused(app, Conflict, "level", "community.already_model",
            app.award_model_village, vid, "municipal", "2007-07-01", "常州市民政局")
    assert app.award_model_village(vid, "provincial", "2007-08-01", "江苏省民政厅")["model"]["level"] == "provincial"
    refused(app, Conflict, "level", "community.already_model",
            app.award_model_village, vid, "municipal", "2007-09-01", "常州市民政局")
    refused(app, InvalidInput, "level", "community.unknown_model_level",
            app.award_model_village, vid, "national", "2007-09-01", "民政部")
    refused(app, InvalidInput, "result", "community.unknown_openness_result",
            app.inspect_openness, vid, "2007-09-01", "fine", "好")
    refused(app, InvalidInput, "inspected_on", "community.date_too_early",
            app.inspect_openness, vid, "2007-04-01", "up_to_standard", "补查")
    refused(app, InvalidInput, "findings", "input.empty_text", app.inspect_openness, vid, "2007-09-01", "up_to_standard", "")
    refused(app, Conflict, "name", "community.village_exists", app.register_village, "xilin", "新龙村", "2006-01-01")


def test_elections_count_only_in_the_second_half_of_2007(app):
    early, late = (app.register_village("xilin", n, "2006-01-01") for n in ("卜弋村", "新龙村"))
    assert app.record_election(early, "2007-06-30")["counts_for_target"] is False     # recorded
    assert app.record_election(early, "2007-07-01")["counts_for_target"] is True
    assert app.record_election(late, "2007-12-31")["counts_for_target"] is True
    assert [e["in_window"] for e in app.get_village(early)["elections"]] == [False, True]
    refused(app, Conflict, "held_on", "community.election_already_held", app.record_election, early, "2007-09-01")
    refused(app, Conflict, "held_on", "community.election_already_held", app.record_election, early, "2007-06-30")
    refused(app, InvalidInput, "held_on", "input.future_date", app.record_election, late, "2008-01-02")
    assert memory_app(__import__("datetime").date(2008, 12, 31)).rules.election_window("2008-03-01") is None


# --- facilities and projects ----------------------------------------------------------------------------

def test_facilities_with_their_floor_areas_against_the_standard(app):
    centre = app.record_facility("wuxing", "service_centre", "五星街道社区服务中心", 1800, "2007-01-05")
    view = app.get_facility(centre)
    assert (view["standard_m2"], view["meets_standard"]) == (2000, False)
    assert app.change_floor_area(centre, 2100, "2007-06-01", "扩建")["meets_standard"] is True
    office = app.record_facility("wuxing", "committee_office", "五星社区", 300, "2007-01-05")
    assert app.get_facility(office)["meets_standard"] is True
    refused(app, Conflict, "floor_area_m2", "community.floor_area_unchanged",
            app.change_floor_area, centre, 2100, "2007-07-01", "复核")
    refused(app, InvalidInput, "changed_on", "community.date_too_early",
            app.change_floor_area, centre, 2200, "2007-05-01", "复核")
    for bad in (0, -5, 50_001, 2000.5):
        refused(app, InvalidInput, "floor_area_m2", "community.floor_area_out_of_range",
                app.record_facility, "wuxing", "committee_office", "某社区", bad, "2007-01-05")
    refused(app, InvalidInput, "kind", "community.unknown_facility_kind",
            app.record_facility, "wuxing", "gym", "健身房", 300, "2007-01-05")
    refused(app, Conflict, "name", "community.facility_exists",
            app.record_facility, "wuxing", "committee_office", "五星社区", 320, "2007-01-05")
    refused(app, Conflict, "recorded_on", "community.no_standard_in_force",
            app.record_facility, "wuxing", "committee_office", "旧社区", 320, "2006-01-05")


def test_a_named_project_planned_started_and_completed_records_its_facility(app):
    pid = app.plan_project("beigang", "service_centre", "北港街道社区服务中心", 2200, "2007-01-10", "2007-12-31")
    assert app.get_project(pid)["named_code"] == "beigang_centre"
    other = app.plan_project("beigang", "committee_office", "某新小区", 300, "2007-01-10", "2007-12-31")
    assert app.get_project(other)["named_code"] is None
    refused(app, Conflict, "project_id", "community.project_not_started", app.complete_project, pid, "2007-05-01", 2300)
    refused(app, InvalidInput, "started_on", "community.date_too_early", app.start_project, pid, "2007-01-01")
    assert app.start_project(pid, "2007-02-01")["status"] == "started"
    refused(app, Conflict, "project_id", "community.project_already_started", app.start_project, pid, "2007-03-01")
    refused(app, InvalidInput, "completed_on", "community.date_too_early", app.complete_project, pid, "2007-01-20", 2300)
    refused(app, InvalidInput, "floor_area_m2", "community.floor_area_out_of_range",
            app.complete_project, pid, "2007-10-01", 0)
    done = app.complete_project(pid, "2007-10-01", 2300)
    assert done["status"] == "completed"
    facility = app.get_facility(done["facility_id"])
    assert (facility["floor_area_m2"], facility["meets_standard"], facility["kind"]) == (2300, True, "service_centre")
    refused(app, Conflict, "project_id", "community.project_completed", app.complete_project, pid, "2007-11-01", 2300)
    refused(app, Conflict, "name", "community.project_exists", app.plan_project, "beigang", "service_centre",
            "北港街道社区服务中心", 2200, "2007-01-10", "2007-12-31")
    refused(app, Conflict, "due", "community.due_before_planned", app.plan_project, "xilin", "service_centre",
            "西林街道社区服务中心", 2200, "2007-03-10", "2007-01-31")


def test_completing_a_project_on_a_recorded_facility_changes_its_floor_area(app):
    fid = app.record_facility("beigang", "committee_office", "陈渡新苑", 120, "2007-01-05")
    pid = app.plan_project("beigang", "committee_office", "陈渡新苑", 320, "2007-01-10", "2007-12-31")
    app.start_project(pid, "2007-02-01")
    assert app.complete_project(pid, "2007-09-01", 320)["facility_id"] == fid
    assert app.get_facility(fid)["floor_area_m2"] == 320


# --- community professional workers ---------------------------------------------------------------------

def test_workers_are_hired_through_three_channels_masked_unless_revealed(app):
    who = person()
    wid = hire(app, who=who)
    view = app.get_worker(wid)
    assert view["id_number"] == who["id_number"][:6] + "*" * 8 + who["id_number"][-4:]
    assert view["name"] == who["name"][0] + "*" * (len(who["name"]) - 1)
    revealed = app.get_worker(wid, reveal_identity=True)
    assert (revealed["id_number"], revealed["name"]) == (who["id_number"], who["name"])
    for channel in ("secondment", "graduate"):
        assert app.get_worker(hire(app, channel=channel))["channel"] == channel
    refused(app, Conflict, "id_number", "community.already_hired", hire, app, "xilin", "graduate", "2007-02-01", who)
    refused(app, InvalidInput, "channel", "community.unknown_channel", hire, app, "beigang", "friends")
    bad = dict(person(), id_number=who["id_number"][:17] + ("0" if who["id_number"][17] != "0" else "1"))
    refused(app, InvalidInput, "id_number", "identity.check_digit", hire, app, "beigang", "graduate", "2007-02-01", bad)
    other = person()
    refused(app, InvalidInput, "birth_date", "identity.birth_date_mismatch", app.hire_worker, "beigang", "北港社区",
            other["id_number"], other["name"], "1970-01-01", "graduate", "2007-02-01")
    refused(app, InvalidInput, "community", "input.empty_text", hire, app, "beigang", "graduate", "2007-02-01",
            person(), " ")


def test_training_rules(app):
    wid = hire(app, on="2007-02-01")
    assert app.train_worker(wid, "2007-03-10", "新上岗培训")["trainings"] == [
        {"trained_on": "2007-03-10", "course": "新上岗培训"}]
    refused(app, Conflict, "trained_on", "community.training_already_recorded",
            app.train_worker, wid, "2007-03-10", "新上岗培训")
    refused(app, InvalidInput, "trained_on", "community.training_before_hire", app.train_worker, wid, "2007-01-10", "岗前")
    refused(app, InvalidInput, "course", "input.empty_text", app.train_worker, wid, "2007-04-10", "")
    assert len(app.train_worker(wid, "2007-04-10", "社区工作实务")["trainings"]) == 2


def test_statistics_and_rules_in_force(app):
    community(app)
    hire(app)
    stats = app.statistics()
    assert (stats["communities_registered"], stats["workers_hired"]) == (1, 1)
    rules = app.rules_in_force()
    assert rules["star_levels"] == [3, 4, 5] and rules["channels"] == ["open_recruitment", "secondment", "graduate"]
    assert len(rules["named_projects"]) == 9
