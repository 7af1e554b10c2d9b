"""Unit tier: social welfare as short stories, on in-memory persistence (AES cipher on).

Every rule of the service is tried; a refused command raises a typed error naming the field and
the rule, and stores nothing."""
from __future__ import annotations

from datetime import date

import pytest

from shared.errors import Conflict, InvalidInput, NotFound
from tests.welfare.welfare_support import admit, enterprise_with, memory_welfare, person, worker


def refused(app, error_type, field, code, command, *args):
    """Run a command that must be refused: the typed error names field and rule code; nothing stored."""
    head = app.recorder.max_notification_id()
    with pytest.raises(error_type) as caught:
        command(*args)
    assert (caught.value.field, caught.value.code) == (field, code), caught.value
    assert app.recorder.max_notification_id() == head
    return caught.value


@pytest.fixture
def home(app):
    """北港敬老院: a public institution of Beigang with three beds."""
    return app.register_institution("beigang", "北港敬老院", "public", 3, "2006-06-01")


# --- elderly-care institutions, admissions and discharges -------------------------------------

def test_an_institution_admits_residents_to_its_lowest_free_bed_and_discharges_them(app, home):
    first = admit(app, home)
    second = admit(app, home)
    assert [app.get_admission(a)["bed"] for a in (first, second)] == [1, 2]
    app.discharge(first, "2007-05-01", "returned home")
    assert app.get_institution(home)["occupied"] == 1
    assert app.get_admission(admit(app, home))["bed"] == 1


def test_a_bed_holds_one_resident_at_a_time(app, home):
    admit(app, home, bed=2)
    refused(app, Conflict, "bed", "welfare.bed_occupied", admit, app, home, person(), "2007-03-01", 2)
    refused(app, InvalidInput, "bed", "welfare.bed_out_of_range", admit, app, home, person(), "2007-03-01", 4)


def test_an_admission_to_a_full_institution_is_refused(app, home):
    for _ in range(3):
        admit(app, home)
    error = refused(app, Conflict, "institution_id", "welfare.institution_full", admit, app, home, person())
    assert "3 beds" in error.rule


def test_one_person_lives_in_at_most_one_institution_at_a_time(app, home):
    other = app.register_institution("xilin", "西林颐养院", "private", 10, "2005-01-01")
    elder = person("陈桂兰", "1928-11-02")
    first = admit(app, home, elder)
    refused(app, Conflict, "id_number", "welfare.already_in_institution", admit, app, other, elder)
    app.discharge(first, "2007-06-01", "moved to Xilin")
    assert app.get_admission(admit(app, other, elder, on="2007-06-01"))["area"] == "xilin"


def test_a_resident_is_discharged_once_and_not_before_the_admission(app, home):
    stay = admit(app, home, on="2007-02-01")
    refused(app, InvalidInput, "discharged_on", "welfare.date_too_early",
            app.discharge, stay, "2007-01-31", "error")
    app.discharge(stay, "2007-02-10", "deceased")
    refused(app, Conflict, "admission_id", "welfare.already_discharged",
            app.discharge, stay, "2007-02-11", "x")


def test_an_institution_cannot_lose_an_occupied_bed(app, home):
    admit(app, home, bed=3)
    refused(app, Conflict, "beds", "welfare.beds_below_occupied",
            app.change_beds, home, 2, "2007-04-01", "repairs")
    assert app.change_beds(home, 40, "2007-04-01", "new wing opened")["free_beds"] == 39


@pytest.mark.parametrize("args, field, code", [
    (("atlantis", "某院", "public", 10, "2007-01-01"), "area", "input.unknown_area"),
    (("beigang", "  ", "public", 10, "2007-01-01"), "name", "input.empty_text"),
    (("beigang", "某院", "charity", 10, "2007-01-01"), "kind", "input.not_a_choice"),
    (("beigang", "某院", "public", 0, "2007-01-01"), "beds", "input.whole_number_below_minimum"),
    (("beigang", "某院", "public", "10", "2007-01-01"), "beds", "input.whole_number_below_minimum"),
    (("beigang", "某院", "public", 10, "2008-01-01"), "registered_on", "input.future_date"),
    (("beigang", "某院", "public", 10, "2007-02-30"), "registered_on", "input.not_date"),
])
def test_bad_institutions_are_refused(app, args, field, code):
    refused(app, InvalidInput, field, code, app.register_institution, *args)


@pytest.mark.parametrize("change, field, code", [
    (lambda p: dict(p, id_number="320404193005060010"), "id_number", "identity.check_digit"),
    (lambda p: dict(p, birth_date="1931-05-06"), "birth_date", "identity.birth_date_mismatch"),
    (lambda p: dict(p, name=""), "name", "input.empty_text"),
])
def test_a_resident_with_bad_identity_data_is_refused(app, home, change, field, code):
    refused(app, InvalidInput, field, code, admit, app, home, change(person()))


def test_unknown_institutions_and_admissions_are_not_found(app):
    refused(app, NotFound, "institution_id", "store.not_found", admit, app,
            "8d4f9c3e-0000-4000-8000-000000000000", person())
    refused(app, InvalidInput, "admission_id", "input.not_uuid", app.get_admission, "not-an-id")


# --- care workers and their training --------------------------------------------------------------

def test_a_care_worker_counts_as_trained_after_passing_a_course(app, home):
    li = worker()
    worker_id = app.register_care_worker(home, li["id_number"], li["name"], "2006-09-01")
    assert app.get_care_worker(worker_id)["trained"] is False
    assert app.record_training(worker_id, "养老护理员初级", "2007-04-20", False)["trained"] is False
    view = app.record_training(worker_id, "养老护理员初级", "2007-06-15", True)
    assert view["trained"] is True and len(view["trainings"]) == 2
    assert view["id_number"].count("*") == 8


def test_a_care_worker_is_registered_once_and_a_passed_course_recorded_once(app, home):
    li = worker()
    worker_id = app.register_care_worker(home, li["id_number"], li["name"], "2006-09-01")
    refused(app, Conflict, "id_number", "welfare.already_care_worker", app.register_care_worker,
            home, li["id_number"], li["name"], "2007-01-01")
    app.record_training(worker_id, "养老护理员初级", "2007-06-15", True)
    refused(app, Conflict, "course", "welfare.training_already_recorded", app.record_training,
            worker_id, "养老护理员初级", "2007-07-15", True)
    refused(app, InvalidInput, "passed", "input.not_boolean", app.record_training,
            worker_id, "急救", "2007-07-15", "yes")
    refused(app, InvalidInput, "completed_on", "input.future_date", app.record_training,
            worker_id, "急救", "2008-07-15", True)


# --- persons under special support ---------------------------------------------------------------------

def register(app, category="three_no", area="beigang", who=None) -> tuple[str, dict]:
    who = who or person("孙秀珍", "1935-02-14")
    return app.register_supported_person(category, area, who["id_number"], who["name"],
                                         who["birth_date"], "2007-01-10"), who


def test_a_three_no_person_supported_in_an_institution_until_discharged(app, home):
    person_id, who = register(app)
    assert app.get_supported_person(person_id)["flags"] == ["no support arrangement"]
    stay = admit(app, home, who, on="2007-02-01")
    view = app.arrange_support(person_id, "centralized", "2007-02-01", stay)
    assert (view["mode"], view["admission_id"], view["flags"]) == ("centralized", stay, [])
    app.discharge(stay, "2007-08-01", "returned home")
    assert app.get_supported_person(person_id)["mode"] is None


def test_a_dispersed_three_no_person_without_medical_care_is_flagged(app):
    person_id, _ = register(app)
    view = app.arrange_support(person_id, "dispersed", "2007-03-01")
    assert view["flags"] == ["dispersed three-no person without a medical-care arrangement"]
    view = app.arrange_medical_care(person_id, "北港社区卫生服务中心", "2007-03-05")
    assert view["flags"] == [] and view["medical_care"]["provider"] == "北港社区卫生服务中心"


def test_a_dispersed_five_guarantee_person_is_not_flagged_for_medical_care(app):
    person_id, _ = register(app, "five_guarantee", "xinzha")
    assert app.arrange_support(person_id, "dispersed", "2007-03-01")["flags"] == []


def test_centralized_support_names_an_open_admission_of_the_same_person(app, home):
    person_id, who = register(app)
    refused(app, InvalidInput, "admission_id", "welfare.centralized_needs_admission",
            app.arrange_support, person_id, "centralized", "2007-02-01")
    someone_else = admit(app, home)
    refused(app, Conflict, "admission_id", "welfare.admission_of_other_person",
            app.arrange_support, person_id, "centralized", "2007-02-01", someone_else)
    stay = admit(app, home, who)
    app.discharge(stay, "2007-03-01", "moved")
    refused(app, Conflict, "admission_id", "welfare.admission_ended",
            app.arrange_support, person_id, "centralized", "2007-03-02", stay)


def test_a_person_living_in_an_institution_is_not_supported_at_home(app, home):
    person_id, who = register(app)
    admit(app, home, who)
    refused(app, Conflict, "mode", "welfare.lives_in_institution",
            app.arrange_support, person_id, "dispersed", "2007-03-01")


def test_medical_care_is_arranged_for_persons_supported_at_home(app, home):
    person_id, who = register(app)
    refused(app, Conflict, "person_id", "welfare.medical_care_needs_dispersed", app.arrange_medical_care,
            person_id, "医院", "2007-03-01")
    app.arrange_support(person_id, "dispersed", "2007-03-01")
    refused(app, Conflict, "mode", "welfare.already_dispersed",
            app.arrange_support, person_id, "dispersed", "2007-04-01")


def test_special_support_registration_rules(app):
    _, who = register(app)
    refused(app, Conflict, "id_number", "welfare.already_special_support",
            register, app, "three_no", "beigang", who)
    refused(app, InvalidInput, "area", "welfare.area_without_population",
            register, app, "five_guarantee", "nandajie", person())
    refused(app, InvalidInput, "category", "input.not_a_choice",
            register, app, "orphan", "beigang", person())


# --- home-care service orders -----------------------------------------------------------------------------

def order(app, payment="low_cost", price="10.00", volunteer="", service="housekeeping"):
    return app.place_order("wuxing", "周老太", service, payment, price, "2007-05-02", volunteer)


def test_home_care_orders_are_placed_then_delivered_or_cancelled(app):
    paid = order(app, "paid", "30.00")
    free = order(app, "free", "0", "青年志愿者小刘", "companionship")
    assert app.deliver_order(paid, "2007-05-03")["status"] == "delivered"
    assert app.cancel_order(free, "2007-05-03", "elder in hospital")["status"] == "cancelled"
    refused(app, Conflict, "order_id", "welfare.order_not_placed", app.deliver_order, paid, "2007-05-04")
    refused(app, Conflict, "order_id", "welfare.order_not_placed", app.deliver_order, free, "2007-05-04")
    low = order(app)
    refused(app, InvalidInput, "delivered_on", "welfare.date_too_early",
            app.deliver_order, low, "2007-05-01")


@pytest.mark.parametrize("payment, price, volunteer, service, field, code", [
    ("paid", "0", "", "housekeeping", "price", "welfare.paid_price_not_positive"),
    ("paid", "20.00", "小王", "housekeeping", "volunteer", "welfare.paid_with_volunteer"),
    ("low_cost", "0", "", "housekeeping", "price", "welfare.low_cost_price_out_of_range"),
    ("low_cost", "15.01", "", "housekeeping", "price", "welfare.low_cost_price_out_of_range"),
    ("low_cost", "10.01", "", "companionship", "price", "welfare.low_cost_price_out_of_range"),
    ("free", "5.00", "小王", "housekeeping", "price", "welfare.free_price_not_zero"),
    ("free", "0", "", "housekeeping", "volunteer", "welfare.free_needs_volunteer"),
    ("free", "0", "小王", "gardening", "service", "welfare.unknown_home_care_service"),
    ("barter", "0", "小王", "housekeeping", "payment", "input.not_a_choice"),
    ("paid", 12.5, "", "housekeeping", "price", "money.float_refused"),
])
def test_home_care_price_rules(app, payment, price, volunteer, service, field, code):
    refused(app, InvalidInput, field, code, order, app, payment, price, volunteer, service)


def test_a_low_cost_order_may_cost_its_cap(app):
    assert app.get_order(order(app, "low_cost", "15.00"))["price"] == "15.00"


# --- welfare enterprises ------------------------------------------------------------------------------------

def test_an_enterprise_is_flagged_until_it_meets_the_legal_share_of_disabled_staff(app):
    enterprise = app.register_enterprise("xilin", "西林福利厂", "collective", 30, "1990-03-01")
    assert app.get_enterprise(enterprise)["flagged"] is True          # no disabled employees yet
    enterprise, _ = enterprise_with(app, disabled=10, other_staff=30)  # 10 of 40 = 25%
    view = app.get_enterprise(enterprise)
    assert (view["disabled_employees"], view["staff"], view["flagged"]) == (10, 40, False)
    assert view["eligible_for_rebate"] is True


def test_below_ten_disabled_employees_or_below_a_quarter_of_staff_is_flagged(app):
    nine, _ = enterprise_with(app, disabled=9, other_staff=0)
    assert app.get_enterprise(nine)["flagged"] is True                 # 100%, but 9 persons
    share, _ = enterprise_with(app, disabled=10, other_staff=31)      # 10 of 41 < 25%
    assert app.get_enterprise(share)["flagged"] is True


def test_a_flagged_enterprise_loses_its_rebate_eligibility(app):
    enterprise, staff = enterprise_with(app, disabled=10, other_staff=20)
    assert app.grant_rebate(enterprise, "2007-03", "12000.00", "2007-04-10")["rebates"] == {
        "2007-03": "12000.00"}
    view = app.disabled_employee_left(enterprise, staff[0]["id_number"], "2007-04-30", "retired")
    assert view["flagged"] is True and view["eligible_for_rebate"] is False
    refused(app, Conflict, "enterprise_id", "welfare.rebate_not_compliant",
            app.grant_rebate, enterprise, "2007-04", "12000.00", "2007-05-10")
    app.hire_disabled_employee(enterprise, worker()["id_number"], "新职工", "2007-05-15")
    assert app.grant_rebate(enterprise, "2007-05", "11000.00", "2007-06-10")["flagged"] is False


def test_more_staff_reported_can_push_an_enterprise_below_the_share(app):
    enterprise, _ = enterprise_with(app, disabled=12, other_staff=20)
    assert app.report_staff(enterprise, 40, "2007-07-01")["flagged"] is True   # 12 of 52


def test_rebate_rules(app):
    enterprise, _ = enterprise_with(app, disabled=10, other_staff=10)
    app.grant_rebate(enterprise, "2007-03", "5000.00", "2007-04-10")
    refused(app, Conflict, "period", "welfare.rebate_already_granted", app.grant_rebate,
            enterprise, "2007-03", "5000.00", "2007-04-11")
    refused(app, InvalidInput, "amount", "welfare.rebate_not_positive", app.grant_rebate,
            enterprise, "2007-04", "0", "2007-05-11")
    refused(app, InvalidInput, "granted_on", "welfare.date_too_early", app.grant_rebate,
            enterprise, "2007-06", "10.00", "2007-05-11")


def test_a_disabled_person_counts_for_one_welfare_enterprise_at_a_time(app):
    first, staff = enterprise_with(app, disabled=10, other_staff=10)
    second, _ = enterprise_with(app, disabled=10, other_staff=10)
    moving = staff[0]
    refused(app, Conflict, "id_number", "welfare.one_enterprise_at_a_time", app.hire_disabled_employee,
            second, moving["id_number"], moving["name"], "2007-03-01")
    app.disabled_employee_left(first, moving["id_number"], "2007-03-31", "moved")
    assert app.hire_disabled_employee(second, moving["id_number"], moving["name"],
                                      "2007-04-01")["disabled_employees"] == 11
    refused(app, Conflict, "id_number", "welfare.not_employed_here",
            app.disabled_employee_left, first, moving["id_number"], "2007-04-30", "again")


def test_wages_of_disabled_employees_are_at_least_the_minimum_wage_of_the_month(app):
    enterprise, staff = enterprise_with(app, disabled=10, other_staff=10)
    wages = [{"id_number": e["id_number"], "wage": "800.00", "social_insurance": "120.00"}
             for e in staff]
    assert app.record_wages(enterprise, "2007-09", wages)["wage_months"] == ["2007-09"]
    # the minimum wage rises to 850 from October (data/welfare/enterprise_rules.json)
    error = refused(app, InvalidInput, "wages[0].wage", "welfare.below_minimum_wage",
                    app.record_wages, enterprise, "2007-10", wages)
    assert "850.00" in error.rule
    refused(app, Conflict, "month", "welfare.wages_already_recorded",
            app.record_wages, enterprise, "2007-09", wages)
    refused(app, Conflict, "wages[0].id_number", "welfare.not_employed_in_month",
            app.record_wages, enterprise, "2007-08", [dict(wages[0], id_number=worker()["id_number"])])
    refused(app, InvalidInput, "wages[1].id_number", "welfare.duplicate_wage_employee",
            app.record_wages, enterprise, "2007-08", [wages[0], wages[0]])
    refused(app, InvalidInput, "month", "input.future_month", app.record_wages, enterprise, "2008-01", wages)


def test_an_employee_who_left_is_still_paid_for_the_month_of_leaving(app):
    enterprise, staff = enterprise_with(app, disabled=11, other_staff=10)
    app.disabled_employee_left(enterprise, staff[0]["id_number"], "2007-05-15", "moved")
    line = {"id_number": staff[0]["id_number"], "wage": "760.00", "social_insurance": "0"}
    assert app.record_wages(enterprise, "2007-05", [line])["wage_months"] == ["2007-05"]
    refused(app, Conflict, "wages[0].id_number", "welfare.not_employed_in_month",
            app.record_wages, enterprise, "2007-06", [line])


def test_restructuring_against_the_mid_2007_deadline(app):
    on_time, _ = enterprise_with(app, disabled=10, other_staff=10)
    late, _ = enterprise_with(app, disabled=10, other_staff=10, ownership="state")
    done = app.restructure(on_time, "2007-06-30", "股份合作制")["restructured"]
    assert (done["on_time"], done["deadline"]) == (True, "2007-06-30")
    assert app.restructure(late, "2007-07-01", "有限责任公司")["restructured"]["on_time"] is False
    refused(app, Conflict, "enterprise_id", "welfare.already_restructured",
            app.restructure, on_time, "2007-07-02", "again")


def test_a_private_welfare_enterprise_has_nothing_to_restructure(app):
    private = app.register_enterprise("wuxing", "五星民营福利厂", "private", 5, "2007-07-01")
    assert app.get_enterprise(private)["restructuring_required"] is False
    refused(app, Conflict, "enterprise_id", "welfare.no_restructuring_required", app.restructure,
            private, "2007-08-01", "有限责任公司")


@pytest.mark.parametrize("args, field, code", [
    (("atlantis", "厂", "collective", 5, "2007-01-01"), "area", "input.unknown_area"),
    (("xilin", "厂", "township", 5, "2007-01-01"), "ownership", "input.not_a_choice"),
    (("xilin", "厂", "collective", -1, "2007-01-01"), "other_staff", "input.whole_number_below_minimum"),
])
def test_bad_enterprises_are_refused(app, args, field, code):
    refused(app, InvalidInput, field, code, app.register_enterprise, *args)


def test_no_clock_in_the_domain_today_is_injected():
    early = memory_welfare(today=date(2007, 3, 1))
    refused(early, InvalidInput, "registered_on", "input.future_date",
            early.register_institution, "beigang", "院", "public", 5, "2007-03-02")
