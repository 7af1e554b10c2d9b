"""Unit tier: social affairs as short stories, on in-memory persistence (AES cipher on).

Every rule of the service is tried both ways: accepted, and refused with a typed error naming the
field and the rule code, storing nothing (except a refused marriage application, whose refusal is
recorded with the rule it broke)."""
from __future__ import annotations

from datetime import date

import pytest

from shared.errors import Conflict, InvalidInput, NotFound
from tests.social_affairs.sa_support import (all_met, couple, marry, memory_app, number, party, place,
                                             plan_halls)


def refused(app, error_type, field, code, command, *args, stored: int = 0):
    """Run a command that must be refused: the typed error names field and rule code; `stored`
    events are recorded (0: nothing)."""
    head = app.recorder.max_notification_id() or 0
    with pytest.raises(error_type) as caught:
        command(*args)
    assert (caught.value.field, caught.value.code) == (field, code), caught.value
    assert (app.recorder.max_notification_id() or 0) == head + stored
    return caught.value


@pytest.fixture
def halls(app):
    return plan_halls(app)


# --- memorial halls and their niches -----------------------------------------------------------------

def test_a_hall_places_urns_in_its_lowest_free_niche_one_urn_per_niche(app, halls):
    first, second = place(app, halls["xilin"]), place(app, halls["xilin"])
    assert [app.get_occupant(o)["niche"] for o in (first, second)] == [1, 2]
    assert app.get_occupant(place(app, halls["xilin"], niche=7))["niche"] == 7
    refused(app, Conflict, "niche", "affairs.niche_occupied", place, app, halls["xilin"], "1930-01-01",
            "2005-01-01", "2005-01-02", 7)
    refused(app, InvalidInput, "niche", "affairs.niche_out_of_range", place, app, halls["xilin"],
            "1930-01-01", "2005-01-01", "2005-01-02", 31)
    assert app.get_hall(halls["xilin"])["occupied"] == 3


def test_a_full_hall_refuses_an_urn(app):
    small = app.register_hall("xinzha_hall", "新闸骨灰纪念堂", "xinzha", "memorial_hall", 1, "2000-01-01")
    place(app, small)
    refused(app, Conflict, "hall_id", "affairs.hall_full", place, app, small)


def test_one_urn_per_person(app, halls):
    who = number("1925-07-01", "F")
    app.place_urn(halls["xilin"], who, "钱老太", "2003-01-01", "2003-01-05", "officer-li")
    refused(app, Conflict, "id_number", "affairs.urn_already_placed", app.place_urn, halls["yonghong"],
            who, "钱老太", "2003-01-01", "2003-01-05", "officer-li")


@pytest.mark.parametrize("args, field, code", [
    (("1921-02-03", "1920-01-01", "2004-05-10"), "died_on", "affairs.date_too_early"),
    (("1921-02-03", "2004-05-06", "2004-05-01"), "placed_on", "affairs.date_too_early"),
    (("1921-02-03", "2004-05-06", "2023-01-01"), "placed_on", "input.future_date"),
    (("1921-02-03", "2004-05-06", "2004-13-01"), "placed_on", "input.not_date"),
])
def test_an_urn_with_impossible_dates_is_refused(app, halls, args, field, code):
    refused(app, InvalidInput, field, code, place, app, halls["xilin"], *args)


def test_an_urn_before_the_hall_existed_is_refused(app, halls):
    refused(app, InvalidInput, "placed_on", "affairs.date_too_early", place, app, halls["beigang"],
            "1921-02-03", "1999-01-01", "1999-01-05")


def test_a_bad_identity_number_is_refused(app, halls):
    refused(app, InvalidInput, "id_number", "identity.check_digit", app.place_urn, halls["xilin"],
            "320404192102030010", "某", "2004-05-06", "2004-05-10", "officer-li")


@pytest.mark.parametrize("args, field, code", [
    (("yonghong_hall", "重名", "yonghong", "memorial_hall", 10, "2000-01-01"), "code", "affairs.hall_code_taken"),
    (("Bad Code", "某堂", "yonghong", "memorial_hall", 10, "2000-01-01"), "code", "input.bad_format"),
    (("new_hall", "某堂", "atlantis", "memorial_hall", 10, "2000-01-01"), "area", "input.unknown_area"),
    (("new_hall", "某堂", "xinzha", "columbarium", 10, "2000-01-01"), "kind", "affairs.unknown_hall_kind"),
    (("new_hall", "某堂", "xinzha", "memorial_hall", 0, "2000-01-01"), "niches", "affairs.niches_below_one"),
    (("new_hall", "", "xinzha", "memorial_hall", 5, "2000-01-01"), "name", "input.too_short"),
])
def test_bad_halls_are_refused(app, halls, args, field, code):
    refused(app, InvalidInput if code != "affairs.hall_code_taken" else Conflict, field, code,
            app.register_hall, *args)


def test_unknown_halls_and_occupants(app):
    refused(app, NotFound, "hall_id", "store.not_found", place, app, "8d4f9c3e-0000-4000-8000-000000000000")
    refused(app, InvalidInput, "occupant_id", "input.not_uuid", app.get_occupant, "urn-1")


# --- the migration plan -------------------------------------------------------------------------------

def test_the_migration_moves_urns_in_2008_after_the_preparation_keeping_their_history(app, halls):
    urns = [place(app, halls["yonghong"]) for _ in range(3)]
    refused(app, Conflict, "occupant_id", "affairs.migration_not_prepared", app.move_urn, urns[0],
            halls["beigang"], "2008-03-01", "officer-li")
    prepared = app.complete_preparation(halls["yonghong"], "2007-12-20", "officer-li")["preparation"]
    assert prepared["on_time"] is True and prepared["deadline"] == "2007-12-31"
    refused(app, InvalidInput, "moved_on", "affairs.outside_migration_period", app.move_urn, urns[0],
            halls["beigang"], "2007-12-28", "officer-li")
    refused(app, InvalidInput, "moved_on", "affairs.outside_migration_period", app.move_urn, urns[0],
            halls["beigang"], "2009-01-02", "officer-li")
    moved = app.move_urn(urns[0], halls["beigang"], "2008-03-01", "officer-li")
    assert [h["migration"] for h in moved["history"]] == [False, True]
    assert moved["history"][0]["until"] == "2008-03-01" and moved["area"] == "yonghong"
    assert moved["hall_id"] == halls["beigang"]
    progress = {row["code"]: row for row in app.migration_progress()}
    assert (progress["yonghong_hall"]["moved_out"], progress["yonghong_hall"]["urns"]) == (1, 2)
    assert progress["yonghong_hall"]["progress"] == pytest.approx(1 / 3)
    assert progress["xilin_hall"]["preparation"] is None and progress["xilin_hall"]["progress"] == 1.0
    assert progress["beigang_cemetery"]["moved_in"] == 1


def test_a_late_preparation_is_recorded_as_late_and_only_once(app, halls):
    late = app.complete_preparation(halls["xilin"], "2008-01-15", "officer-li")["preparation"]
    assert late["on_time"] is False
    refused(app, Conflict, "hall_id", "affairs.preparation_already_completed", app.complete_preparation,
            halls["xilin"], "2008-01-16", "officer-li")
    refused(app, Conflict, "hall_id", "affairs.not_in_migration_plan", app.complete_preparation,
            halls["beigang"], "2007-06-01", "officer-li")


def test_a_move_outside_the_plan_is_allowed_and_not_counted(app, halls):
    other = app.register_hall("xinzha_hall", "新闸骨灰纪念堂", "xinzha", "memorial_hall", 10, "2000-01-01")
    urn = place(app, halls["yonghong"])
    moved = app.move_urn(urn, other, "2007-08-01", "officer-li")        # a family's own choice
    assert moved["history"][-1]["migration"] is False
    assert app.get_hall(halls["yonghong"])["migrated_out"] == 0
    refused(app, Conflict, "to_hall_id", "affairs.same_hall", app.move_urn, urn, other, "2007-08-02", "officer-li")
    refused(app, InvalidInput, "moved_on", "affairs.date_too_early", app.move_urn, urn, halls["xilin"],
            "2007-07-01", "officer-li")


def test_a_move_into_a_full_hall_is_refused(app, halls):
    full = app.register_hall("tiny_hall", "小堂", "xinzha", "memorial_hall", 1, "2000-01-01")
    place(app, full)
    urn = place(app, halls["xilin"])
    refused(app, Conflict, "hall_id", "affairs.hall_full", app.move_urn, urn, full, "2007-08-01", "officer-li")


# --- hall inspections against the management standard ------------------------------------------------

def test_an_inspection_records_findings_and_their_correction(app, halls):
    findings = all_met(app)
    findings[0] = {"item": "rules_displayed", "met": False, "note": "制度未上墙"}
    view = app.inspect_hall(halls["xilin"], "2007-05-01", "officer-sun", findings)
    assert view["to_standard"] is False and list(view["open_findings"]) == ["rules_displayed"]
    refused(app, InvalidInput, "corrected_on", "affairs.date_too_early", app.correct_finding, halls["xilin"],
            "rules_displayed", "2007-04-30", "officer-sun", "制度已上墙")
    refused(app, Conflict, "item", "affairs.no_open_finding", app.correct_finding, halls["xilin"],
            "records_kept", "2007-05-10", "officer-sun", "n/a")
    assert app.correct_finding(halls["xilin"], "rules_displayed", "2007-05-10", "officer-sun",
                               "制度已上墙")["to_standard"] is True
    assert app.get_hall(halls["beigang"])["to_standard"] is None          # never inspected


@pytest.mark.parametrize("change, field, code", [
    (lambda f: f[:-1], "findings", "affairs.standard_item_missing"),
    (lambda f: f + [f[0]], "findings[5].item", "affairs.standard_item_repeated"),
    (lambda f: f[:-1] + [{"item": "parking", "met": True, "note": ""}], "findings[4].item",
     "affairs.unknown_standard_item"),
    (lambda f: [dict(f[0], met=False)] + f[1:], "findings[0].note", "affairs.finding_needs_note"),
    (lambda f: [dict(f[0], met="no")] + f[1:], "findings[0]", "input.not_an_object"),
])
def test_an_inspection_assesses_every_item_of_the_standard_once(app, halls, change, field, code):
    refused(app, InvalidInput, field, code, app.inspect_hall, halls["xilin"], "2007-05-01", "officer-sun",
            change(all_met(app)))


def test_inspections_follow_each_other_in_time(app, halls):
    app.inspect_hall(halls["xilin"], "2007-05-01", "officer-sun", all_met(app))
    refused(app, InvalidInput, "inspected_on", "affairs.date_too_early", app.inspect_hall, halls["xilin"],
            "2007-04-01", "officer-sun", all_met(app))


def test_no_standard_in_force_before_its_effective_date(app, halls):
    refused(app, Conflict, "inspected_on", "affairs.no_rule_in_force", app.inspect_hall, halls["xilin"],
            "2006-05-01", "officer-sun", all_met(app))


# --- grave mounds ----------------------------------------------------------------------------------------

def test_mounds_are_found_resolved_and_a_rebuilt_one_names_the_earlier(app):
    found = app.inspect_mounds("xinzha", "2007-03-10", "officer-zhao",
                               [{"place": "新闸村三组北坡", "kind": "new"}, {"place": "新闸村五组", "kind": "new"}])
    first, second = found["mounds"]
    refused(app, Conflict, "findings[0].rebuilt_of", "affairs.rebuilt_of_unresolved", app.inspect_mounds,
            "xinzha", "2007-03-20", "officer-zhao", [{"place": "新闸村三组北坡", "kind": "rebuilt", "rebuilt_of": first}])
    refused(app, InvalidInput, "resolved_on", "affairs.date_too_early", app.resolve_mound, first, "removed",
            "2007-03-01", "officer-zhao")
    assert app.resolve_mound(first, "removed", "2007-03-15", "officer-zhao")["resolved"] is True
    moved = app.resolve_mound(second, "moved_to_cemetery", "2007-03-20", "officer-zhao", "北港陵园")
    assert moved["resolution"]["cemetery"] == "北港陵园"
    refused(app, Conflict, "mound_id", "affairs.mound_already_resolved", app.resolve_mound, first, "removed",
            "2007-03-16", "officer-zhao")
    rebuilt = app.inspect_mounds("xinzha", "2007-06-01", "officer-zhao",
                                 [{"place": "新闸村三组北坡", "kind": "rebuilt", "rebuilt_of": first}])
    assert app.get_mound(rebuilt["mounds"][0])["rebuilt_of"] == first
    assert app.inspect_mounds("beigang", "2007-06-02", "officer-zhao", [])["mounds"] == []    # a clean one


@pytest.mark.parametrize("findings, field, code", [
    ([{"place": "某地", "kind": "old"}], "findings[0].kind", "affairs.unknown_mound_kind"),
    ([{"place": "某地", "kind": "rebuilt"}], "findings[0].rebuilt_of", "affairs.rebuilt_needs_earlier"),
    ([{"place": "某地", "kind": "new"}, {"place": "某地", "kind": "new"}], "findings[1].place",
     "affairs.place_repeated"),
    ([{"place": "", "kind": "new"}], "findings[0].place", "input.too_short"),
    (["某地"], "findings[0]", "input.not_an_object"),
])
def test_bad_mound_findings_are_refused(app, findings, field, code):
    refused(app, InvalidInput, field, code, app.inspect_mounds, "xinzha", "2007-03-10", "officer-zhao", findings)


def test_a_new_mound_names_no_earlier_one_and_a_rebuilt_one_is_in_the_same_area(app):
    earlier = app.inspect_mounds("xilin", "2007-03-10", "officer-zhao", [{"place": "西林村", "kind": "new"}])["mounds"][0]
    app.resolve_mound(earlier, "removed", "2007-03-11", "officer-zhao")
    refused(app, InvalidInput, "findings[0].rebuilt_of", "affairs.new_mound_names_earlier", app.inspect_mounds,
            "xilin", "2007-04-01", "officer-zhao", [{"place": "西林村", "kind": "new", "rebuilt_of": earlier}])
    refused(app, InvalidInput, "findings[0].rebuilt_of", "affairs.rebuilt_of_other_area", app.inspect_mounds,
            "xinzha", "2007-04-01", "officer-zhao", [{"place": "新闸村", "kind": "rebuilt", "rebuilt_of": earlier}])
    refused(app, InvalidInput, "inspected_on", "affairs.date_too_early", app.inspect_mounds, "xilin",
            "2007-03-10", "officer-zhao", [{"place": "西林村", "kind": "rebuilt", "rebuilt_of": earlier}])


@pytest.mark.parametrize("resolution, cemetery, field, code", [
    ("burned", "", "resolution", "affairs.unknown_resolution"),
    ("moved_to_cemetery", "", "cemetery", "affairs.cemetery_required"),
    ("removed", "北港陵园", "cemetery", "affairs.cemetery_not_applicable"),
])
def test_a_resolution_is_removal_or_a_move_into_a_named_cemetery(app, resolution, cemetery, field, code):
    mound = app.inspect_mounds("xilin", "2007-03-10", "officer-zhao", [{"place": "西林村", "kind": "new"}])["mounds"][0]
    refused(app, InvalidInput, field, code, app.resolve_mound, mound, resolution, "2007-03-11", "officer-zhao",
            cemetery)


# --- marriage registration ---------------------------------------------------------------------------------

def test_a_marriage_meeting_every_condition_is_registered_with_masked_numbers(app):
    parties = couple()
    view = app.get_marriage(marry(app, parties))
    assert view["status"] == "married" and [p["sex"] for p in view["parties"]] == ["M", "F"]
    assert [p["age"] for p in view["parties"]] == [27, 24]
    assert all(p["id_number"].count("*") == 8 for p in view["parties"])
    assert app.get_marriage(view["marriage_id"], True)["parties"][0]["id_number"] == parties[0]["id_number"]


def test_the_legal_age_is_reached_on_the_day_22_for_men_20_for_women(app):
    marry(app, [party("1985-05-20", "M"), party("1987-05-20", "F")], on="2007-05-20")   # birthdays: exactly of age
    error = refused(app, InvalidInput, "parties[0].id_number", "affairs.below_legal_age", marry, app,
                    [party("1985-05-21", "M"), party("1980-01-01", "F")], "2007-05-20", stored=1)
    assert "21 years old" in error.rule and "22 for men" in error.rule
    refused(app, InvalidInput, "parties[1].id_number", "affairs.below_legal_age", marry, app,
            [party("1980-01-01", "M"), party("1987-05-21", "F")], "2007-05-20", stored=1)


def test_a_refused_application_records_the_rule_it_broke(app):
    from tests.social_affairs.sa_support import published
    refused(app, InvalidInput, "parties[1].present", "affairs.party_not_present", marry, app,
            [party("1980-01-01", "M"), party("1982-01-01", "F", present=False)], stored=1)
    event = published(app)[-1]
    assert event["type"] == "MarriageApplicationRefused"
    assert (event["data"]["rule"], event["data"]["field"]) == ("affairs.party_not_present", "parties[1].present")
    assert all(p["id_number"].count("*") == 8 for p in event["data"]["parties"])


def test_a_marriage_is_a_man_and_a_woman(app):
    refused(app, InvalidInput, "parties", "affairs.parties_not_man_and_woman", marry, app,
            [party("1980-01-01", "M"), party("1981-01-01", "M")], stored=1)


def test_neither_party_may_be_married_in_this_registry(app):
    first = couple()
    marry(app, first)
    error = refused(app, Conflict, "parties[0].id_number", "affairs.already_married", marry, app,
                    [first[0], party("1984-01-01", "F")], "2007-08-01", stored=1)
    assert "registry" in error.rule


def test_each_party_declares_having_no_spouse_elsewhere_and_no_prohibited_kinship(app):
    refused(app, InvalidInput, "parties[0].declared_unmarried", "affairs.unmarried_not_declared", marry, app,
            [party("1980-01-01", "M", unmarried=False), party("1982-01-01", "F")], stored=1)
    refused(app, InvalidInput, "declared_not_prohibited_kin", "affairs.prohibited_kinship_not_declared", marry,
            app, couple(), "2007-05-20", "beigang", False, stored=1)


@pytest.mark.parametrize("parties, field, code", [
    (lambda c: c[:1], "parties", "affairs.two_parties"),
    (lambda c: [c[0], dict(c[0])], "parties[1].id_number", "affairs.same_person"),
    (lambda c: [c[0], dict(c[1], id_number="320404198206070010")], "parties[1].id_number", "identity.check_digit"),
    (lambda c: [c[0], dict(c[1], present="yes")], "parties[1].present", "input.not_a_boolean"),
    (lambda c: [c[0], dict(c[1], name="")], "parties[1].name", "input.too_short"),
])
def test_bad_applications_are_refused_and_not_recorded(app, parties, field, code):
    refused(app, InvalidInput, field, code, marry, app, parties(couple()))


def test_a_registration_in_the_future_or_an_unknown_area_is_refused_and_not_recorded(app):
    refused(app, InvalidInput, "registered_on", "input.future_date", marry, app, couple(), "2023-01-01")
    refused(app, InvalidInput, "area", "input.unknown_area", marry, app, couple(), "2007-05-20", "atlantis")


def test_a_later_finding_makes_the_marriage_void_and_frees_the_parties(app):
    parties = couple()
    marriage = marry(app, parties)
    refused(app, InvalidInput, "ground", "affairs.unknown_unlawful_ground", app.record_unlawful, marriage,
            "boredom", "2007-09-01", "officer-wu", "x")
    refused(app, InvalidInput, "found_on", "affairs.date_too_early", app.record_unlawful, marriage,
            "concealed_marriage", "2007-01-01", "officer-wu", "x")
    view = app.record_unlawful(marriage, "concealed_marriage", "2007-09-01", "officer-wu", "男方在外地已有登记婚姻")
    assert view["status"] == "void" and view["unlawful"]["ground"] == "concealed_marriage"
    refused(app, Conflict, "marriage_id", "affairs.already_found_unlawful", app.record_unlawful, marriage,
            "false_identity", "2007-09-02", "officer-wu", "x")
    refused(app, Conflict, "marriage_id", "affairs.marriage_void", app.file_divorce, marriage, "2007-10-01",
            True, True, "officer-wu")
    assert marry(app, [parties[0], party("1983-01-01", "F")], "2007-10-01")   # the registry no longer holds him


# --- divorce by agreement, and the cooling-off period -------------------------------------------------------

def test_before_2021_a_divorce_by_agreement_is_registered_the_day_it_is_filed(app):
    marriage = marry(app)
    filed = app.file_divorce(marriage, "2015-04-01", True, True, "officer-wu")["divorce"]
    assert (filed["cooling_off_days"], filed["register_from"], filed["register_by"]) == (0, "2015-04-01", None)
    refused(app, Conflict, "withdrawn_on", "affairs.cooling_off_over", app.withdraw_divorce, marriage,
            "2015-04-01", "officer-wu")
    view = app.register_divorce(marriage, "2015-04-01", True, "officer-wu")
    assert (view["status"], view["dissolved_on"]) == ("dissolved", "2015-04-01")
    refused(app, Conflict, "marriage_id", "affairs.marriage_dissolved", app.file_divorce, marriage,
            "2015-05-01", True, True, "officer-wu")


def test_from_2021_thirty_days_of_cooling_off_then_thirty_days_to_register(app):
    marriage = marry(app)
    filed = app.file_divorce(marriage, "2021-01-01", True, True, "officer-wu")["divorce"]
    assert (filed["cooling_off_days"], filed["register_from"], filed["register_by"]) == (
        30, "2021-01-31", "2021-03-02")
    refused(app, Conflict, "marriage_id", "affairs.divorce_already_pending", app.file_divorce, marriage,
            "2021-01-05", True, True, "officer-wu")
    refused(app, Conflict, "registered_on", "affairs.cooling_off_not_over", app.register_divorce, marriage,
            "2021-01-30", True, "officer-wu")
    refused(app, InvalidInput, "both_present", "affairs.party_not_present", app.register_divorce, marriage,
            "2021-01-31", False, "officer-wu")
    assert app.register_divorce(marriage, "2021-01-31", True, "officer-wu")["status"] == "dissolved"


def test_the_rule_in_force_is_the_one_of_the_filing_day(app):
    marriage = marry(app)
    filed = app.file_divorce(marriage, "2020-12-31", True, True, "officer-wu")["divorce"]
    assert filed["cooling_off_days"] == 0
    assert app.register_divorce(marriage, "2021-01-04", True, "officer-wu")["status"] == "dissolved"


def test_a_divorce_application_is_withdrawn_within_the_cooling_off_or_lapses(app):
    marriage = marry(app)
    app.file_divorce(marriage, "2021-03-01", True, True, "officer-wu")
    assert app.withdraw_divorce(marriage, "2021-03-15", "officer-wu")["divorce"]["withdrawn_on"] == "2021-03-15"
    refused(app, Conflict, "marriage_id", "affairs.divorce_withdrawn", app.register_divorce, marriage,
            "2021-04-01", True, "officer-wu")
    app.file_divorce(marriage, "2021-05-01", True, True, "officer-wu")        # they apply again
    refused(app, Conflict, "withdrawn_on", "affairs.cooling_off_over", app.withdraw_divorce, marriage,
            "2021-06-01", "officer-wu")
    refused(app, Conflict, "marriage_id", "affairs.divorce_lapsed", app.register_divorce, marriage,
            "2021-07-01", True, "officer-wu")
    assert app.file_divorce(marriage, "2021-07-01", True, True, "officer-wu")["divorce"]["filed_on"] == "2021-07-01"


def test_a_divorce_needs_both_parties_and_their_agreement_and_an_application(app):
    marriage = marry(app)
    refused(app, Conflict, "marriage_id", "affairs.no_divorce_pending", app.register_divorce, marriage,
            "2021-04-01", True, "officer-wu")
    refused(app, InvalidInput, "both_present", "affairs.party_not_present", app.file_divorce, marriage,
            "2021-04-01", False, True, "officer-wu")
    refused(app, InvalidInput, "agreement", "affairs.no_divorce_agreement", app.file_divorce, marriage,
            "2021-04-01", True, False, "officer-wu")
    refused(app, InvalidInput, "filed_on", "affairs.date_too_early", app.file_divorce, marriage,
            "2007-01-01", True, True, "officer-wu")
    refused(app, InvalidInput, "agreement", "input.not_a_boolean", app.file_divorce, marriage,
            "2021-04-01", True, "yes", "officer-wu")


def test_a_divorced_person_may_marry_again(app):
    parties = couple()
    marriage = marry(app, parties)
    app.file_divorce(marriage, "2010-04-01", True, True, "officer-wu")
    app.register_divorce(marriage, "2010-04-01", True, "officer-wu")
    assert marry(app, [parties[0], party("1985-01-01", "F")], "2011-01-01")


def test_the_rules_in_force_come_from_the_reference_data(app):
    rules = app.rules_in_force()
    assert rules["in_force"]["legal_age"]["men"] == 22 and rules["in_force"]["legal_age"]["women"] == 20
    assert rules["in_force"]["divorce_cooling_off"]["days"] == 30
    assert memory_app(date(2007, 12, 31)).rules_in_force()["in_force"]["divorce_cooling_off"]["days"] == 0
    assert rules["migration"]["sources"] == ["yonghong_hall", "xilin_hall"]
