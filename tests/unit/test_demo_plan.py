"""Unit tier: the demo's plan of the year (services/social_assistance/demo.py), a pure function of the seed.

No RabbitMQ, no PostgreSQL, no services: only what the runner would send."""
from collections import Counter
from decimal import Decimal

import pytest

from services.social_assistance.demo import (DONATION_MONTH, MERGE, MONTHS, RAISE, YEAR, Standards,
                                             build_plan, load_reference, month_str, plan as plan_of)
from shared import identity
from shared.errors import InvalidInput


@pytest.fixture(scope="module")
def plan():
    return build_plan(seed=2007, households=3000)


@pytest.fixture(scope="module")
def small():
    return build_plan(seed=7, households=300)


@pytest.fixture(scope="module")
def reference():
    return load_reference()


def test_the_same_seed_gives_the_same_plan_and_another_seed_another(plan, small):
    assert build_plan(seed=2007, households=3000) == plan
    assert build_plan(seed=7, households=300) == small
    assert build_plan(seed=8, households=300) != small


def test_the_plan_has_exactly_the_households_asked_for(plan, small):
    assert len(plan.households) == 3000 and len(small.households) == 300
    assert len({h.key for h in plan.households}) == 3000


def test_every_month_has_applications_a_payment_run_and_the_years_events(plan, small):
    for p in (plan, small):
        months = p.months()
        assert [m.month for m in months] == list(MONTHS)
        for month in months:
            assert any(h.kind == "dibao" for h in month.applications), month.label
        assert [m.month for m in months if m.merge] == [MERGE["month"]]
        assert [m.month for m in months if m.raise_standards] == [RAISE["issued"]]
        assert [m.month for m in months if m.year_end] == [12]
        assert [m.month for m in months if m.donations] == [DONATION_MONTH]
    assert 150 <= len(plan.donations) <= 250


def test_the_full_year_lands_coverage_just_above_the_targets(plan, reference):
    areas = reference[0]
    assert plan.coverage_scale == 1.0
    assert plan.populations == {"urban": sum(a["urban_population"] for a in areas),
                                "rural": sum(a["rural_population"] for a in areas)}
    coverage = plan.projected_coverage
    assert 0.0125 <= coverage["urban"] <= 0.0140, coverage      # target >= 1.2%, aimed at 1.3%
    assert 0.0205 <= coverage["rural"] <= 0.0225, coverage      # target >= 2.0%, aimed at 2.1%


def test_the_projection_counts_active_cases_by_year_end_scheme(plan):
    persons = Counter()
    for h in plan.by_kind("dibao"):
        if plan.projected_status[h.key] == "active":
            merged = h.area == MERGE["area"] and h.registration == "rural"
            persons["urban" if merged else h.registration] += h.size
    assert dict(persons) == plan.projected_persons


def test_a_small_run_scales_the_goal_down_and_keeps_its_shape(small):
    assert 0 < small.coverage_scale < 1
    kinds = Counter(h.kind for h in small.households)
    assert kinds["dibao"] > 0 and kinds["rejected"] > 0 and kinds["marginal"] >= 12
    ratio = small.projected_coverage["urban"] / 0.013
    assert abs(ratio - small.coverage_scale) < 0.1


def test_about_five_percent_of_applications_are_rejected(plan):
    kinds = Counter(h.kind for h in plan.households)
    share = kinds["rejected"] / (kinds["rejected"] + kinds["dibao"])
    assert 0.04 <= share <= 0.06
    assert kinds["marginal"] >= 0.04 * 3000


def test_every_identity_number_is_valid_unique_and_matches_the_member(plan, small):
    for p in (plan, small):
        numbers = [m.id_number for h in p.households for m in h.members]
        assert len(numbers) == len(set(numbers))
        for h in p.households:
            assert 1 <= h.size <= 5
            for m in h.members:
                assert identity.validate(m.id_number) == m.id_number
                assert m.id_number[6:14] == m.birth_date.replace("-", "")
                assert "1930-01-01" <= m.birth_date <= "2005-12-31"
                assert int(m.id_number[16]) % 2 == (1 if m.sex == "M" else 0)
                assert m.id_number[:6] in ("320404", "320402", "320411", "320405", "320412")
                assert set(m.rpc()) == {"id_number", "name", "birth_date", "monthly_income"}


def test_household_income_is_the_sum_of_its_members_and_money_is_decimal_strings(plan):
    for h in plan.households:
        assert Decimal(h.income) == sum(Decimal(m.monthly_income) for m in h.members)
        assert Decimal(h.income) >= 0 and Decimal(h.assets) >= 0
    for d in plan.donations:
        assert Decimal(d.amount) > 0 and d.received_on.startswith(f"{YEAR}-05-")


def test_incomes_put_each_household_on_the_right_side_of_the_line(plan, reference):
    _areas, entries, band = reference
    standards = Standards(entries)
    for h in plan.households:
        per_capita = Decimal(h.income) / h.size
        if h.kind == "dibao":
            assert per_capita < standards.at(h.area, h.registration, h.month)
        elif h.kind == "rejected":
            assert per_capita > standards.at(h.area, h.registration, h.month) * band
        else:   # in the marginal band before and after the raise
            assert standards.at(h.area, h.registration, 12) <= per_capita
            assert per_capita <= standards.at(h.area, h.registration, 1) * band


def test_maker_checker_the_approver_is_never_the_verifier(plan):
    assert all(h.verifier != h.approver for h in plan.households)


def test_xilin_rural_households_apply_before_the_merge_and_are_reviewed_after_it(plan):
    xilin_rural = {h.key: h for h in plan.households
                   if h.area == MERGE["area"] and h.registration == "rural" and h.kind == "dibao"}
    assert xilin_rural
    assert all(h.month <= MERGE["month"] for h in xilin_rural.values())
    assert all(r.month > MERGE["month"] for r in plan.reviews if r.key in xilin_rural)


def test_reviews_follow_the_application_and_chain_sensibly(plan):
    assert {r.action for r in plan.reviews} >= {"raise", "lower", "suspend", "terminate"}
    by_key = {}
    for r in plan.reviews:
        h = plan.household(r.key)
        assert h.kind == "dibao" and MONTHS[0] <= r.month <= 12 and r.month > h.month
        by_key.setdefault(r.key, []).append(r)
    for chain in by_key.values():
        actions = [r.action for r in sorted(chain, key=lambda r: r.month)]
        assert actions in ([a] for a in ("raise", "lower", "recheck", "suspend", "terminate")) \
            or actions in (["suspend", "reinstate"], ["suspend", "end"]), actions
    for r in plan.marginal_reviews:
        assert plan.household(r.key).kind == "marginal" and r.month > plan.household(r.key).month


def test_bad_commands_cover_each_error_type_and_refer_to_planned_households(plan, small):
    for p in (plan, small):
        errors = Counter(b.expect_error for b in p.bad_commands)
        assert errors["InvalidInput"] >= 3 and errors["Conflict"] >= 2 and errors["NotFound"] >= 1
        kinds = {b.kind for b in p.bad_commands}
        assert {"approve_by_verifier", "run_payments", "register_household"} <= kinds
        for b in p.bad_commands:
            if b.kind in ("approve_by_verifier", "person_in_open_case", "review_negative_income"):
                h = p.household(b.args[0])
                assert h.kind == "dibao"
                assert not any(r.key == h.key for r in p.reviews)
            if b.kind == "approve_by_verifier":
                assert p.household(b.args[0]).month == b.month
        future = [b.args[0] for b in p.bad_commands if b.kind == "run_payments"]
        assert future and all(m > month_str(12) for m in future)


def test_the_check_digit_bad_command_really_is_invalid(plan):
    bad = next(b for b in plan.bad_commands if "check digit" in b.description)
    with pytest.raises(InvalidInput) as refused:
        identity.validate(bad.args[2][0]["id_number"])
    assert refused.value.code == "identity.check_digit"


def test_too_few_households_are_refused():
    with pytest.raises(ValueError):
        build_plan(seed=1, households=50)


def test_the_run_number_keys_the_people_and_sizes_scale_the_households():
    from shared.demo_kit import run_of
    first, second = plan_of(7, 0.03, 1), plan_of(7, 0.03, 2)
    assert plan_of(7, 0.03, 2) == second and len(first.households) == 100 == len(second.households)
    numbers = [{m.id_number for h in p.households for m in h.members} for p in (first, second)]
    assert not numbers[0] & numbers[1]
    assert {run_of(n) for n in numbers[0]} == {1} and {run_of(n) for n in numbers[1]} == {2}
    assert len(plan_of(7, 0.1, 1).households) == 300
