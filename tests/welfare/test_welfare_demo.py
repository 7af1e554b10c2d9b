"""Unit tier: the demo's welfare year (services/welfare/demo.py): the plan, a pure function of the
seed, and the whole plan driven through the real application on in-memory persistence (the
runner's proxy calls the application's methods instead of RPC)."""
from __future__ import annotations

import io
import random
from collections import Counter
from contextlib import contextmanager
from datetime import date

import pytest

from services.welfare.demo import build_plan, drive as run, plan as plan_of
from shared.demo_kit import Ref, run_of
from tests.welfare.welfare_support import memory_welfare


@pytest.fixture(scope="module")
def plan():
    return build_plan(random.Random(2007))


def test_the_same_seed_gives_the_same_plan_and_another_seed_another(plan):
    assert build_plan(random.Random(2007)) == plan
    assert build_plan(random.Random(8)).steps != plan.steps


def test_beds_are_near_17_per_1000_aged_60_plus_and_two_areas_below(plan):
    per_1000 = {area: plan.beds_per_1000(area) for area in plan.beds}
    assert len(per_1000) == 7 and all(15.0 <= v <= 19.5 for v in per_1000.values()), per_1000
    assert sum(1 for v in per_1000.values() if v < 17) == 2
    assert 0.65 <= sum(plan.residents.values()) / sum(plan.beds.values()) <= 0.85


def test_workers_are_trained_to_about_85_percent_and_every_supported_person_is_arranged(plan):
    assert 0.80 <= plan.trained / plan.workers <= 0.92
    assert plan.arranged == plan.supported and set(plan.supported) == {"three_no", "five_guarantee"}
    assert plan.without_medical_care == 1


def test_enterprises_restructure_by_june_and_one_falls_below_the_share(plan):
    assert plan.restructured_on_time == plan.must_restructure == 9
    restructured = [s for s in plan.steps if s.method == "restructure"]
    assert all(s.args[1] <= "2007-06-30" for s in restructured)
    assert len(plan.flagged) == 1


def test_every_reference_is_to_an_id_an_earlier_step_saves(plan):
    position = {}
    for index, step in enumerate(plan.steps):
        if step.saves:
            position[step.saves] = (step.month, step.phase, step.lane, index)
    for index, step in enumerate(plan.steps):
        for ref in (a for a in step.args if isinstance(a, Ref)):
            month, phase, lane, at = position[ref.key]
            assert (month, phase) < (step.month, step.phase) or (
                (month, phase, lane) == (step.month, step.phase, step.lane) and at < index), (step, ref)


def test_the_bad_commands_expect_typed_errors(plan):
    bad = [s for s in plan.steps if s.expect.error]
    assert Counter(s.expect.error for s in bad) == {"Conflict": 4, "InvalidInput": 5}


class Proxy:
    """Stands in for a Nameko cluster proxy: `proxy.welfare.<method>(...)` calls the app."""

    def __init__(self, app):
        self.app = app
        self.welfare = self

    def __getattr__(self, name):
        return getattr(self.app, {"rules": "rules_in_force"}.get(name, name))


def test_the_whole_year_runs_through_the_application(plan):
    app = memory_welfare(today=date(2008, 1, 31))

    @contextmanager
    def factory():
        yield Proxy(app)
    outcome = run(factory, random.Random(2007), progress=False, out=io.StringIO(), concurrency=4)
    summary = outcome.summary
    assert outcome.ok
    assert summary["unexpected"] == [] and summary["faults"] == [] and summary["skipped"] == []
    assert all(b["got"] == b["expected"] for b in summary["bad_commands"]), summary["bad_commands"]
    assert summary["problems"] is False
    assert summary["commands"] == sum(1 for s in plan.steps if not s.expect.error)
    events = Counter(type(app.mapper.to_domain_event(n)).__qualname__
                     for n in app.recorder.select_notifications(start=1, limit=100_000))
    assert events["WelfareEnterprise.Flagged"] >= 12          # every enterprise at registration + one
    assert events["SupportedPerson.ArrangementEnded"] == 1
    assert events["Institution.BedsChanged"] == 1


def identity_numbers(p) -> set[str]:
    return {a for s in p.steps for a in s.args if isinstance(a, str) and len(a) == 18 and a[:6] == "320404"}


def test_a_second_run_plans_other_people_and_a_small_size_a_smaller_year(plan):
    second = plan_of(2007, 1.0, 2)
    assert plan_of(2007, 1.0, 2) == second
    assert identity_numbers(plan) and not identity_numbers(plan) & identity_numbers(second)
    assert {run_of(n) for n in identity_numbers(second)} == {2}
    small = plan_of(2007, 0.03, 1)
    assert len(small.steps) < len(plan.steps) / 3 and sum(small.beds.values()) < sum(plan.beds.values()) / 5


@pytest.mark.parametrize("seed", [2007, 3])
def test_two_small_runs_on_one_application_are_clean(seed):
    app = memory_welfare(today=date(2008, 1, 31))

    @contextmanager
    def factory():
        yield Proxy(app)
    from shared.demo_kit import Kit
    from services.welfare.demo import run as run_plan
    for number in (1, 2):
        kit = Kit("welfare", factory, concurrency=4, progress=False, out=io.StringIO())
        outcome = run_plan(plan_of(seed, 0.03, number), kit)
        kit.close()
        assert outcome.ok, outcome.summary
