"""Unit tier: the dibao domain and application as short stories, on in-memory persistence."""
from decimal import Decimal

import pytest

from services.social_assistance.domain import allowance
from shared.errors import Conflict, InvalidInput, NotFound
from tests.support import id_number, member, memory_app


@pytest.fixture
def app():
    return memory_app()


def household(app, area="beigang", registration="urban", incomes=("0", "100")):
    members = [member(f"成员{i}", income=inc) for i, inc in enumerate(incomes)]
    return app.register_household(area, registration, members, "北港路1号")


def active_case(app, hh, income="100", month="2007-01"):
    case = app.apply(hh, "officer-li")
    app.verify(case, "officer-li", income)
    app.approve(case, "officer-wang", month)
    return case


def test_allowance_is_the_gap_to_the_standard_times_household_size():
    assert allowance(Decimal("300"), Decimal("50"), 2) == Decimal("500.00")
    assert allowance(Decimal("300"), Decimal("350"), 2) == Decimal("0.00")
    assert allowance(Decimal("300"), Decimal("133.33"), 3) == Decimal("500.01")


def test_a_household_applies_is_verified_and_approved_by_another_officer(app):
    case = active_case(app, household(app), income="100")
    view = app.get_case(case)
    # urban standard 300, per-capita 50, two persons: (300 - 50) * 2
    assert view["status"] == "active" and view["allowance"] == "500.00"


def test_the_verifier_cannot_approve(app):
    case = app.apply(household(app), "officer-li")
    app.verify(case, "officer-li", "100")
    with pytest.raises(Conflict) as refused:
        app.approve(case, "officer-li", "2007-01")
    assert (refused.value.field, refused.value.code) == ("officer", "dibao.maker_checker")
    assert app.get_case(case)["status"] == "verified"


def test_one_open_case_per_household_and_one_per_person(app):
    hh = household(app)
    app.apply(hh, "officer-li")
    with pytest.raises(Conflict) as refused:
        app.apply(hh, "officer-li")
    assert (refused.value.field, refused.value.code) == ("household_id", "dibao.household_case_open")
    shared_person = app.get_household(hh, reveal_identity=True)["members"][0]
    other = app.register_household("beigang", "urban", [shared_person])
    with pytest.raises(Conflict) as refused:
        app.apply(other, "officer-li")
    assert (refused.value.field, refused.value.code) == ("members[0].id_number", "dibao.person_in_open_case")
    assert app.get_household(other)["open_case_id"] is None


def test_a_rejected_case_frees_the_household_to_apply_again(app):
    hh = household(app)
    case = app.apply(hh, "officer-li")
    app.reject(case, "officer-wang", "income above the standard")
    assert app.apply(hh, "officer-li")


@pytest.mark.parametrize("field, members, code", [
    ("members[0].id_number", [member(number="320404196001010017")], "identity.check_digit"),
    ("members[0].monthly_income", [member(income="-1")], "money.negative"),
    ("members[0].birth_date", [member(born="1970-01-01", number=id_number("19600101"))],
     "identity.birth_date_mismatch"),
    ("members", [], "dibao.no_members"),
])
def test_bad_household_input_names_field_and_rule_and_stores_nothing(app, field, members, code):
    head = app.recorder.max_notification_id()
    with pytest.raises(InvalidInput) as refused:
        app.register_household("beigang", "urban", members)
    assert (refused.value.field, refused.value.code) == (field, code)
    assert app.recorder.max_notification_id() == head


def test_unknown_area_and_unknown_case_are_refused(app):
    with pytest.raises(InvalidInput) as refused:
        app.register_household("atlantis", "urban", [member()])
    assert (refused.value.field, refused.value.code) == ("area", "input.unknown_area")
    with pytest.raises(NotFound) as missing:
        app.get_case("8d4f9c3e-0000-4000-8000-000000000000")
    assert (missing.value.field, missing.value.code) == ("case_id", "store.not_found")


def test_negative_income_at_verification_is_refused(app):
    case = app.apply(household(app), "officer-li")
    with pytest.raises(InvalidInput) as refused:
        app.verify(case, "officer-li", "-5")
    assert refused.value.field == "household_monthly_income"


def test_monthly_payment_run_pays_each_active_case_once(app):
    active_case(app, household(app))
    active_case(app, household(app, incomes=("0",)), income="0")
    first = app.run_payments("2007-01")
    again = app.run_payments("2007-01")
    assert (first["paid"], first["total"]) == (2, "800.00")  # 500 + 300
    assert (again["paid"], again["already_paid"], again["total"]) == (0, 2, "0.00")


def test_a_payment_run_for_a_future_month_is_refused(app):
    with pytest.raises(InvalidInput) as refused:
        app.run_payments("2008-01")
    assert (refused.value.field, refused.value.code) == ("month", "input.future_month")


def test_the_2007_raise_recomputes_active_cases_and_back_pays_paid_months(app):
    case = active_case(app, household(app))
    app.run_payments("2007-01")
    result = app.raise_standards("20", "30", "2007-01")
    assert result["cases_recomputed"] == 1
    assert app.standard("beigang", "urban", "2007-06") == "320.00"
    assert app.standard("xilin", "rural", "2007-06") == "230.00"
    february = app.run_payments("2007-02")
    # (320 - 50) * 2 = 540 for February, plus 40 back pay for January
    assert february["total"] == "580.00"
    assert app.get_case(case)["payments"] == {"2007-01": "540.00", "2007-02": "540.00"}


def test_review_raises_lowers_suspends_and_ends_the_allowance(app):
    case = active_case(app, household(app), income="100")
    assert app.review(case, "officer-zhao", "300")["outcome"] == "lowered"   # (300-150)*2
    assert app.review(case, "officer-zhao", "0")["outcome"] == "raised"
    assert app.review(case, "officer-zhao", "700")["outcome"] == "suspended"
    assert app.run_payments("2007-03")["paid"] == 0
    assert app.review(case, "officer-zhao", "100")["outcome"] == "reinstated"
    assert app.review(case, "officer-zhao", "700")["outcome"] == "suspended"
    ended = app.review(case, "officer-zhao", "800")
    assert ended["outcome"] == "terminated" and ended["status"] == "terminated"


def test_year_end_extra_month_is_the_full_standard_once(app):
    active_case(app, household(app))
    result = app.pay_year_end_extra(2007)
    assert result["paid"] == 1 and result["total"] == "600.00"  # 300 * 2 persons
    assert app.pay_year_end_extra(2007)["paid"] == 0


def test_marginal_households_are_registered_reviewed_and_relieved_once(app):
    hh = household(app, incomes=("350", "350"))  # per-capita 350: above 300, within 1.5x
    app.register_marginal(hh, "officer-li")
    with pytest.raises(Conflict):
        app.register_marginal(hh, "officer-li")
    assert app.review_marginal(hh, "officer-li", "700") == "still_marginal"
    assert app.pay_marginal_relief(2007, "200")["paid"] == 1
    assert app.pay_marginal_relief(2007, "200")["paid"] == 0
    poor = household(app, incomes=("0",))
    with pytest.raises(Conflict) as refused:
        app.register_marginal(poor, "officer-li")
    assert (refused.value.field, refused.value.code) == ("per_capita_income", "dibao.below_standard")


def test_one_day_donations_are_totalled_by_area(app):
    app.record_donation(2007, "钟楼区民政局职工", "1200.50", "beigang", "2007-05-08")
    totals = app.record_donation(2007, "某企业", "5000", "xilin", "2007-05-09")
    assert totals == {"year": 2007, "count": 2, "total": "6200.50",
                      "by_area": {"beigang": "1200.50", "xilin": "5000.00"}}
    with pytest.raises(InvalidInput):
        app.record_donation(2007, "someone", "0", "xilin", "2007-05-09")


def test_xilin_rural_cases_merge_into_the_urban_scheme_keeping_history(app):
    rural = active_case(app, household(app, area="xilin", registration="rural", incomes=("0",)), income="0")
    urban = active_case(app, household(app, area="xilin", registration="urban", incomes=("0",)), income="0")
    before = app.get_case(rural)
    assert before["allowance"] == "200.00"
    result = app.merge_rural_into_urban("xilin", "2007-06")
    after = app.get_case(rural)
    assert result["cases_merged"] == 1
    assert after["case_id"] == rural and after["scheme"] == "urban" and after["allowance"] == "300.00"
    assert after["allowances"][0] == ["2007-01", "200.00"]  # history kept
    assert app.get_case(urban)["version"] == 3  # untouched


def test_after_the_merge_new_xilin_rural_applications_join_the_urban_scheme(app):
    app.merge_rural_into_urban("xilin", "2007-06")
    case = app.apply(household(app, area="xilin", registration="rural", incomes=("0",)), "officer-li")
    assert app.get_case(case)["scheme"] == "urban"
    with pytest.raises(Conflict) as refused:
        app.merge_rural_into_urban("xilin", "2007-07")
    assert (refused.value.field, refused.value.code) == ("area", "dibao.rural_already_merged")


def test_termination_takes_its_effective_month(app):
    case = active_case(app, household(app))
    ended = app.terminate(case, "officer-zhao", "moved out of the district", "2007-05")
    assert ended["allowances"][-1] == ["2007-05", "0.00"]
