"""Unit tier: disaster relief as short stories, on in-memory persistence with a fixed clock.

Thresholds, deadlines and the floor are those of data/disaster_relief/ (2007): level IV from 1
death or missing, 200 relocated, 50 houses or 500,000 yuan; III from 3 / 1,000 / 300 / 3 million;
II from 5 / 3,000 / 1,000 / 10 million; I from 10 / 10,000 / 3,000 / 50 million; levels I–II are
the district's, III–IV the town's or street's. Initial report within 2 hours, final within 3
working days. Reserve floor 20,000 yuan.
"""
from datetime import date
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from shared.errors import Conflict, InvalidInput, NotFound
from tests.disaster_relief.dr_support import figures, memory_app, stored_types
from tests.support import id_number

FRIDAY_NIGHT = "2007-07-06T03:30"        # the July flood: a Friday, before dawn


@pytest.fixture
def app():
    return memory_app()


def flood(app, areas=("xinzha", "xilin"), at=FRIDAY_NIGHT) -> str:
    return app.register_incident("flood", list(areas), at, "officer-li", "连续暴雨，河水漫堤")


def reported(app, incident, stage="initial", at="2007-07-06T05:00", **figs) -> dict:
    return app.report(incident, stage, figures(**figs), at, "officer-li")


def finalised(app, incident) -> str:
    reported(app, incident, relocated=300)
    reported(app, incident, "final", "2007-07-09T16:00", relocated=320)
    return incident


def listed(app, incident, household="XZ-0001", area="xinzha", number=None, **extra) -> dict:
    return app.add_to_roster(incident, household, number or id_number("19600101"), "张建国", area,
                             extra.get("members", 3), extra.get("needs", ["food", "shelter"]),
                             "officer-zhou", extra.get("listed_on", "2007-07-07"))


def refused(app, error, call, *args, **kwargs):
    """The command is refused with `error`, and nothing is stored."""
    head = app.recorder.max_notification_id()
    with pytest.raises(error) as caught:
        call(*args, **kwargs)
    assert app.recorder.max_notification_id() == head
    return caught.value


# --- incidents, deadlines and response levels ---------------------------------------------------------

def test_a_flood_is_registered_with_its_deadlines_and_the_town_and_street_responsible(app):
    view = app.get_incident(flood(app))
    assert view["occurred_at"] == "2007-07-06T03:30:00+08:00"
    # 2 hours after occurrence; 3 working days after a Friday: Monday, Tuesday, Wednesday.
    assert view["deadlines"] == {"initial": "2007-07-06T05:30:00+08:00",
                                 "final": "2007-07-11T23:59:59+08:00"}
    assert view["level"] is None and view["status"] == "open"
    assert view["responsible"] == [{"tier": "town", "area": "xinzha"},
                                   {"tier": "street", "area": "xilin"}]


def test_working_days_skip_saturday_and_sunday(app):
    saturday = app.register_incident("hail", ["beigang"], "2007-05-12T15:00", "officer-li")
    thursday = app.register_incident("fire", ["wuxing"], "2007-05-17T23:10", "officer-li")
    assert app.get_incident(saturday)["deadlines"]["final"] == "2007-05-16T23:59:59+08:00"
    assert app.get_incident(thursday)["deadlines"]["final"] == "2007-05-22T23:59:59+08:00"
    # The initial deadline crosses midnight by the clock, not by working days.
    assert app.get_incident(thursday)["deadlines"]["initial"] == "2007-05-18T01:10:00+08:00"


def test_times_with_an_offset_are_kept_as_local_time(app):
    incident = app.register_incident("typhoon", ["wuxing"], "2007-08-18T20:00:00Z", "officer-li")
    assert app.get_incident(incident)["occurred_at"] == "2007-08-19T04:00:00+08:00"


def test_reports_raise_and_lower_the_level_and_move_the_responsibility(app):
    incident = flood(app)
    first = reported(app, incident, relocated=250, direct_loss="800000.00")
    assert first["level"] == "IV"
    second = reported(app, incident, "follow_up", "2007-07-06T18:00", relocated=3500,
                      houses_damaged=420, direct_loss="6000000.00")
    assert second["level"] == "II"
    assert second["responsible"] == [{"tier": "district", "area": "320404"}]
    third = reported(app, incident, "follow_up", "2007-07-07T18:00", deaths=1, missing=2,
                     relocated=2600, houses_damaged=380, direct_loss="4200000.00")
    assert third["level"] == "III"       # relocated people went home: lowered
    assert third["responsible"] == [{"tier": "town", "area": "xinzha"},
                                    {"tier": "street", "area": "xilin"}]
    final = reported(app, incident, "final", "2007-07-10T09:00", deaths=1, missing=2,
                     relocated=2600, houses_damaged=380, direct_loss="4300000.00")
    assert final["level"] == "III" and final["stages_reported"] == [
        "initial", "follow_up", "follow_up", "final"]
    changes = [t for t in stored_types(app) if t == "IncidentLevelChanged"]
    assert len(changes) == 3             # none → IV, IV → II, II → III; the final kept III


def test_deaths_and_missing_count_together_and_any_one_figure_sets_the_level(app):
    incident = flood(app)
    assert reported(app, incident, deaths=2, missing=1)["level"] == "III"
    assert reported(app, incident, "follow_up", "2007-07-06T08:00",
                    direct_loss="50000000.00")["level"] == "I"


def test_figures_below_every_threshold_leave_no_level(app):
    incident = app.register_incident("hail", ["xinzha"], "2007-05-14T16:20", "officer-li")
    view = app.report(incident, "initial", figures(houses_damaged=12, direct_loss="180000.00"),
                      "2007-05-14T17:50", "officer-li")
    assert view["level"] is None
    assert view["responsible"] == [{"tier": "town", "area": "xinzha"}]
    assert "IncidentLevelChanged" not in stored_types(app)


def test_late_reports_are_marked_with_their_deadline_and_listed(app):
    incident = flood(app)
    initial = reported(app, incident, at="2007-07-06T06:10", relocated=250)["report"]
    assert initial == {"stage": "initial", "reported_at": "2007-07-06T06:10:00+08:00",
                       "deadline": "2007-07-06T05:30:00+08:00", "late": True,
                       "figures": figures(relocated=250, direct_loss="0.00")}
    follow_up = reported(app, incident, "follow_up", "2007-07-08T10:00", relocated=260)["report"]
    assert (follow_up["deadline"], follow_up["late"]) == (None, False)
    final = reported(app, incident, "final", "2007-07-11T23:59:59", relocated=260)
    assert final["report"]["late"] is False                     # the last second of the deadline
    on_time = app.register_incident("hail", ["beigang"], "2007-05-14T16:20", "officer-li")
    reported(app, on_time, at="2007-05-14T18:20")                 # exactly on the deadline
    late = app.late_reports()
    assert [(row["incident_id"], row["stage"], row["late_by_minutes"]) for row in late] == [
        (incident, "initial", 40)]
    assert app.get_incident(incident)["late_reports"] == 1
    assert app.late_reports(2006) == []


def test_the_final_report_is_late_after_the_third_working_day(app):
    incident = flood(app)
    reported(app, incident, at="2007-07-06T05:00", relocated=250)
    final = reported(app, incident, "final", "2007-07-12T00:00:30", relocated=250)
    assert final["report"]["late"] is True
    assert final["report"]["deadline"] == "2007-07-11T23:59:59+08:00"


def test_reports_not_yet_made_after_their_deadline_are_overdue(app):
    incident = flood(app)
    assert [(r["incident_id"], r["stage"]) for r in app.overdue_reports()] == [
        (incident, "initial"), (incident, "final")]
    finalised(app, incident)
    assert app.overdue_reports() == []


# --- the rules of staged reports -----------------------------------------------------------------------

def test_no_follow_up_or_final_before_the_initial_report(app):
    incident = flood(app)
    for stage in ("follow_up", "final"):
        error = refused(app, Conflict, reported, app, incident, stage)
        assert (error.field, error.code) == ("stage", "relief.initial_report_missing")


def test_only_one_initial_report(app):
    incident = flood(app)
    reported(app, incident)
    error = refused(app, Conflict, reported, app, incident, "initial", "2007-07-06T06:00")
    assert (error.field, error.code) == ("stage", "relief.initial_report_repeated")


def test_nothing_after_the_final_report(app):
    incident = finalised(app, flood(app))
    for stage in ("follow_up", "final", "initial"):
        error = refused(app, Conflict, reported, app, incident, stage, "2007-07-10T09:00")
        assert (error.field, error.code) == ("stage", "relief.report_after_final")


@pytest.mark.parametrize("field, figs, code", [
    ("figures.deaths", figures(deaths=-1), "input.below_minimum"),
    ("figures.relocated", figures(relocated=-5), "input.below_minimum"),
    ("figures.houses_damaged", figures(houses_damaged="12"), "input.not_whole_number"),
    ("figures.missing", figures(missing=1.5), "input.not_whole_number"),
    ("figures.direct_loss", figures(direct_loss="-100.00"), "money.negative"),
    ("figures.direct_loss", figures(direct_loss=1000.5), "money.float_refused"),
    ("figures.direct_loss", {k: v for k, v in figures().items() if k != "direct_loss"}, "relief.missing_figure"),
    ("figures.injured", dict(figures(), injured=3), "relief.unknown_figure"),
    ("figures", [0, 0, 0], "relief.figures_not_object"),
])
def test_figures_are_never_negative_and_must_be_complete(app, field, figs, code):
    incident = flood(app)
    error = refused(app, InvalidInput, app.report, incident, "initial", figs, "2007-07-06T05:00", "officer-li")
    assert (error.field, error.code) == (field, code)


def test_a_report_is_never_before_the_occurrence_nor_the_previous_report_nor_in_the_future(app):
    incident = flood(app)
    error = refused(app, InvalidInput, reported, app, incident, at="2007-07-06T03:00")
    assert (error.field, error.code) == ("reported_at", "relief.report_before_occurrence")
    reported(app, incident, at="2007-07-06T05:00")
    error = refused(app, InvalidInput, reported, app, incident, "follow_up", "2007-07-06T04:59")
    assert (error.field, error.code) == ("reported_at", "relief.report_before_previous")
    error = refused(app, InvalidInput, reported, app, incident, "follow_up", "2008-01-01T08:00")
    assert (error.field, error.code) == ("reported_at", "input.future_time")
    error = refused(app, InvalidInput, reported, app, incident, "follow_up", "yesterday")
    assert (error.field, error.code) == ("reported_at", "input.not_datetime")


@pytest.mark.parametrize("args, field", [
    (("tsunami", ["xinzha"], FRIDAY_NIGHT), "incident_type"),
    (("flood", ["atlantis"], FRIDAY_NIGHT), "areas[0]"),
    (("flood", [], FRIDAY_NIGHT), "areas"),
    (("flood", ["xinzha", "xinzha"], FRIDAY_NIGHT), "areas"),
    (("flood", ["xinzha"], "2008-07-06T03:30"), "occurred_at"),
    (("flood", ["xinzha"], "2007-07-06"), "occurred_at"),
])
def test_bad_incidents_are_refused(app, args, field):
    assert refused(app, InvalidInput, app.register_incident, *args, "officer-li").field == field


def test_a_bad_stage_or_an_unknown_incident_is_refused(app):
    incident = flood(app)
    assert refused(app, InvalidInput, reported, app, incident, "interim").field == "stage"
    assert refused(app, NotFound, reported, app, "4b7c3f0e-0000-4000-8000-000000000000").field == "incident_id"
    assert refused(app, InvalidInput, reported, app, "flood-1").field == "incident_id"


# --- relief reserves -------------------------------------------------------------------------------------

def test_deposits_build_the_reserve_up_to_the_floor(app):
    first = app.deposit("xinzha", "15000.00", "区财政 1708 科目", "officer-wang", "2007-01-15")
    assert (first["balance"], first["floor"], first["below_floor"]) == ("15000.00", "20000.00", True)
    second = app.deposit("xinzha", "10000", "镇财政", "officer-wang", "2007-02-01")
    assert (second["balance"], second["below_floor"], second["deposited"]) == ("25000.00", False, "25000.00")
    assert stored_types(app) == ["ReserveOpened", "ReserveDeposited", "ReserveDeposited"]


def test_every_town_and_street_has_a_reserve_even_before_its_first_deposit(app):
    app.deposit("beigang", "20000.00", "区财政 1708 科目", "officer-wang", "2007-01-15")
    reserves = {r["area"]: r for r in app.reserves()}
    assert len(reserves) == 7
    assert (reserves["beigang"]["balance"], reserves["beigang"]["below_floor"]) == ("20000.00", False)
    assert (reserves["xilin"]["balance"], reserves["xilin"]["below_floor"], reserves["xilin"]["version"]) == (
        "0.00", True, 0)


@pytest.mark.parametrize("amount, field", [("0", "amount"), ("-5.00", "amount"), ("1.005", "amount")])
def test_a_deposit_must_be_a_positive_amount_to_the_fen(app, amount, field):
    assert refused(app, InvalidInput, app.deposit, "xinzha", amount, "镇财政", "officer-wang").field == field


def test_a_deposit_names_its_source_a_known_area_and_no_future_day(app):
    assert refused(app, InvalidInput, app.deposit, "xinzha", "100", " ", "officer-wang").field == "source"
    assert refused(app, InvalidInput, app.deposit, "atlantis", "100", "镇财政", "officer-wang").field == "area"
    assert refused(app, InvalidInput, app.deposit, "xinzha", "100", "镇财政", "officer-wang",
                   "2008-01-02").field == "deposited_on"


# --- the relief roster and relief cards -----------------------------------------------------------------

def test_a_household_on_the_roster_gets_one_relief_card_and_its_number_is_masked(app):
    incident = flood(app)
    number = id_number("19581203")
    card = listed(app, incident, number=number)
    assert (card["household_id"], card["area"], card["head_name"], card["archived"]) == (
        "XZ-0001", "xinzha", "张建国", False)
    roster = app.get_roster(incident)
    assert roster == [{"household_id": "XZ-0001", "id_number": number[:6] + "*" * 8 + number[-4:],
                       "name": "张建国", "area": "xinzha", "members": 3,
                       "needs": ["food", "shelter"], "listed_on": "2007-07-07"}]
    assert app.get_roster(incident, reveal_identity=True)[0]["id_number"] == number
    assert app.get_incident(incident)["roster_households"] == 1
    assert stored_types(app)[-2:] == ["IncidentHouseholdListed", "ReliefCardIssued"]


def test_one_card_per_household_per_incident(app):
    incident, other = flood(app), flood(app, at="2007-08-01T10:00")
    number = id_number("19700505")
    listed(app, incident, number=number)
    error = refused(app, Conflict, listed, app, incident, number=id_number("19700506"))
    assert (error.field, error.code) == ("household_id", "relief.household_on_roster")
    error = refused(app, Conflict, listed, app, incident, household="XZ-0002", number=number)
    assert (error.field, error.code) == ("id_number", "relief.person_on_roster")
    # The same household struck again by another incident gets that incident's card.
    assert listed(app, other, number=number, listed_on="2007-08-02")["card_id"] != app.get_card(incident, "XZ-0001")["card_id"]


@pytest.mark.parametrize("change, error_type, field", [
    ({"area": "wuxing"}, InvalidInput, "area"),
    ({"area": "atlantis"}, InvalidInput, "area"),
    ({"number": "320404196001010017"}, InvalidInput, "id_number"),
    ({"members": 0}, InvalidInput, "members"),
    ({"needs": []}, InvalidInput, "needs"),
    ({"needs": ["food", "yachts"]}, InvalidInput, "needs[1]"),
    ({"needs": ["food", "food"]}, InvalidInput, "needs"),
    ({"listed_on": "2007-07-05"}, InvalidInput, "listed_on"),
    ({"household": "  "}, InvalidInput, "household_id"),
])
def test_bad_roster_entries_are_refused(app, change, error_type, field):
    incident = flood(app)
    assert refused(app, error_type, listed, app, incident, **change).field == field


def test_the_card_records_every_aid_item_cash_and_in_kind(app):
    incident = flood(app)
    app.deposit("xinzha", "30000.00", "区财政 1708 科目", "officer-wang", "2007-01-15")
    listed(app, incident)
    app.record_aid(incident, "XZ-0001", "rice", 25, "officer-zhou", "2007-07-07")
    app.record_aid(incident, "XZ-0001", "quilt", 2, "officer-zhou", "2007-07-07")
    app.record_aid(incident, "XZ-0001", "rice", 25, "officer-zhou", "2007-07-20")
    paid = app.disburse(incident, "XZ-0001", "张建国", "800.00", "officer-wang", "2007-07-08")
    card = app.get_card(incident, "XZ-0001")
    assert card["items_received"] == {"rice": 50, "quilt": 2}
    assert card["cash_received"] == "800.00"
    assert [e["kind"] for e in card["entries"]] == ["in_kind", "in_kind", "in_kind", "cash"]
    assert card["entries"][-1]["disbursement_id"] == paid["disbursement_id"]
    assert card["entries"][0] == {"kind": "in_kind", "item": "rice", "quantity": 25, "unit": "kg",
                                  "given_on": "2007-07-07"}


def test_aid_items_come_from_the_catalogue_in_whole_units(app):
    incident = flood(app)
    listed(app, incident)
    assert refused(app, InvalidInput, app.record_aid, incident, "XZ-0001", "caviar", 1, "officer-zhou").field == "item"
    assert refused(app, InvalidInput, app.record_aid, incident, "XZ-0001", "rice", 0, "officer-zhou").field == "quantity"
    assert refused(app, NotFound, app.record_aid, incident, "XZ-0099", "rice", 5, "officer-zhou").field == "household_id"
    assert refused(app, InvalidInput, app.record_aid, incident, "XZ-0001", "rice", 5, "officer-zhou",
                   "2007-07-06").field == "given_on"      # before the card was issued


# --- earmarked disbursements -----------------------------------------------------------------------------

def test_a_disbursement_names_its_incident_and_household_and_comes_out_of_the_households_area(app):
    incident = flood(app)
    app.deposit("xilin", "22000.00", "区财政 1708 科目", "officer-wang", "2007-01-15")
    listed(app, incident, household="XL-0007", area="xilin")
    paid = app.disburse(incident, "XL-0007", "王秀兰", "1500.00", "officer-wang", "2007-07-09")
    assert (paid["incident_id"], paid["household_id"], paid["recipient"], paid["amount"]) == (
        incident, "XL-0007", "王秀兰", "1500.00")
    assert paid["reserve"]["area"] == "xilin" and paid["reserve"]["balance"] == "20500.00"
    assert stored_types(app)[-2:] == ["ReserveDisbursed", "ReliefCardCashReceived"]


def test_a_disbursement_may_go_below_the_floor_and_the_reserve_then_says_so(app):
    incident = flood(app)
    app.deposit("xinzha", "21000.00", "区财政 1708 科目", "officer-wang", "2007-01-15")
    listed(app, incident)
    paid = app.disburse(incident, "XZ-0001", "张建国", "2000.00", "officer-wang", "2007-07-08")
    assert (paid["reserve"]["balance"], paid["reserve"]["below_floor"]) == ("19000.00", True)
    assert app.get_reserve("xinzha")["below_floor"] is True
    replenished = app.deposit("xinzha", "1000.00", "区财政 1708 科目", "officer-wang", "2007-07-20")
    assert (replenished["balance"], replenished["below_floor"]) == ("20000.00", False)


def test_the_balance_never_goes_negative(app):
    incident = flood(app)
    app.deposit("xinzha", "1000.00", "镇财政", "officer-wang", "2007-01-15")
    listed(app, incident)
    app.disburse(incident, "XZ-0001", "张建国", "600.00", "officer-wang", "2007-07-08")
    error = refused(app, Conflict, app.disburse, incident, "XZ-0001", "张建国", "400.01", "officer-wang", "2007-07-08")
    assert (error.field, error.code) == ("amount", "relief.reserve_overdraw") and "400.00" in error.rule
    assert app.get_reserve("xinzha")["balance"] == "400.00"
    assert app.get_card(incident, "XZ-0001")["cash_received"] == "600.00"
    app.disburse(incident, "XZ-0001", "张建国", "400.00", "officer-wang", "2007-07-08")
    assert app.get_reserve("xinzha")["balance"] == "0.00"


def test_no_disbursement_from_a_reserve_never_deposited_into(app):
    incident = flood(app)
    listed(app, incident, household="XL-0001", area="xilin")
    error = refused(app, Conflict, app.disburse, incident, "XL-0001", "李四", "10.00", "officer-wang")
    assert (error.field, error.code) == ("amount", "relief.reserve_overdraw")


@pytest.mark.parametrize("args, error_type, field", [
    (("XZ-0099", "张建国", "100.00"), NotFound, "household_id"),
    (("XZ-0001", "", "100.00"), InvalidInput, "recipient"),
    (("XZ-0001", "张建国", "0.00"), InvalidInput, "amount"),
    (("XZ-0001", "张建国", "-100.00"), InvalidInput, "amount"),
    (("XZ-0001", "张建国", 100.0), InvalidInput, "amount"),
])
def test_bad_disbursements_are_refused(app, args, error_type, field):
    incident = flood(app)
    app.deposit("xinzha", "30000.00", "镇财政", "officer-wang", "2007-01-15")
    listed(app, incident)
    assert refused(app, error_type, app.disburse, incident, *args, "officer-wang").field == field


def test_a_disbursement_is_not_dated_in_the_future_nor_before_the_card(app):
    incident = flood(app)
    app.deposit("xinzha", "30000.00", "镇财政", "officer-wang", "2007-01-15")
    listed(app, incident)
    for day in ("2008-01-01", "2007-07-06"):
        error = refused(app, InvalidInput, app.disburse, incident, "XZ-0001", "张建国", "10.00", "officer-wang", day)
        assert error.field == "disbursed_on"


# --- closing archives the incident -------------------------------------------------------------------------

def test_an_incident_is_closed_only_after_its_final_report(app):
    incident = flood(app)
    reported(app, incident)
    error = refused(app, Conflict, app.close_incident, incident, "officer-li", "2007-07-20")
    assert (error.field, error.code) == ("incident_id", "relief.final_report_missing")
    reported(app, incident, "final", "2007-07-10T09:00")
    error = refused(app, InvalidInput, app.close_incident, incident, "officer-li", "2007-07-09")
    assert (error.field, error.code) == ("closed_on", "relief.closed_before_final_report")


def test_closing_archives_the_incident_and_its_cards(app):
    incident = finalised(app, flood(app))
    app.deposit("xinzha", "30000.00", "镇财政", "officer-wang", "2007-01-15")
    listed(app, incident)
    listed(app, incident, household="XZ-0002", number=id_number("19800808"))
    closed = app.close_incident(incident, "officer-li", "2007-09-30")
    assert (closed["status"], closed["closed_on"]) == ("closed", "2007-09-30")
    assert app.get_card(incident, "XZ-0001")["archived"] is True
    assert stored_types(app)[-3:] == ["IncidentClosed", "ReliefCardArchived", "ReliefCardArchived"]

    def closed_refusal(call, *args):
        error = refused(app, Conflict, call, *args)
        assert error.field in ("incident_id", "stage") and error.code == "relief.incident_closed", error
    closed_refusal(reported, app, incident, "follow_up", "2007-10-01T09:00")
    closed_refusal(listed, app, incident, "XZ-0003", "xinzha", id_number("19900909"))
    closed_refusal(app.record_aid, incident, "XZ-0001", "rice", 10, "officer-zhou", "2007-10-01")
    closed_refusal(app.disburse, incident, "XZ-0001", "张建国", "100.00", "officer-wang", "2007-10-01")
    closed_refusal(app.close_incident, incident, "officer-li", "2007-10-01")
    assert app.get_reserve("xinzha")["balance"] == "30000.00"


def test_an_archived_card_refuses_aid_even_if_the_incident_was_read_before_it_closed(app):
    """The card itself carries the archive, so a disbursement racing the closure loses."""
    incident = finalised(app, flood(app))
    app.deposit("xinzha", "30000.00", "镇财政", "officer-wang", "2007-01-15")
    listed(app, incident)
    stale = app.repository.get(UUID(incident))      # read while still open
    app.close_incident(incident, "officer-li", "2007-09-30")
    card = app._card(stale, "XZ-0001")
    with pytest.raises(Conflict) as caught:
        card.receive_cash(Decimal("10.00"), "张建国", date(2007, 10, 1), "officer-wang", uuid4())
    assert (caught.value.field, caught.value.code) == ("incident_id", "relief.card_archived")
