"""Unit tier: the demo's disaster relief year (services/disaster_relief/demo.py), run against the
real application on in-memory persistence in place of the RPC proxy (same method names and
arguments), so every planned command is checked by the domain without RabbitMQ."""
import io
import random
from contextlib import contextmanager
from decimal import Decimal
from types import SimpleNamespace

import pytest

from services.disaster_relief.demo import build_plan, drive as run, plan
from tests.disaster_relief.dr_support import memory_app


@contextmanager
def in_process():
    yield SimpleNamespace(disaster_relief=memory_app())


@pytest.fixture(scope="module")
def outcome():
    return run(in_process, random.Random(2007), progress=False, out=io.StringIO())


def test_the_same_seed_gives_the_same_plan():
    assert build_plan(random.Random(7)) == build_plan(random.Random(7))
    assert build_plan(random.Random(7)) != build_plan(random.Random(8))


def test_every_planned_command_is_accepted_and_every_bad_one_refused_as_expected(outcome):
    assert outcome.unexpected == []
    assert outcome.refused == {"Conflict": 5, "InvalidInput": 2}


def test_the_year_has_three_closed_incidents_with_their_levels(outcome):
    incidents = {i["incident_type"]: i for i in outcome.incidents}
    assert {k: (i["level"], i["status"]) for k, i in incidents.items()} == {
        "hail": ("IV", "closed"), "flood": ("II", "closed"), "typhoon": ("IV", "closed")}
    assert incidents["flood"]["areas"] == ["xinzha", "xilin"]
    assert incidents["flood"]["roster_households"] == 28


def test_some_reports_are_late(outcome):
    late = sorted((r["incident_type"], r["stage"]) for r in outcome.late_reports)
    assert late == [("flood", "final"), ("flood", "initial"), ("typhoon", "final")]


def test_one_reserve_ends_below_the_floor_and_the_others_at_or_above_it(outcome):
    below = {r["area"] for r in outcome.reserves if r["below_floor"]}
    assert below == {"xinzha"}
    assert all(Decimal(r["deposited"]) >= Decimal("20000.00") for r in outcome.reserves)
    assert all(Decimal(r["balance"]) >= 0 for r in outcome.reserves)


@pytest.mark.parametrize("seed", [1, 2, 3, 42])
def test_other_seeds_run_clean_too(seed):
    result = run(in_process, random.Random(seed), progress=False, out=io.StringIO())
    assert result.unexpected == []
    assert {r["area"] for r in result.reserves if r["below_floor"]} == {"xinzha"}


def test_the_plan_is_pure_and_a_second_run_meets_other_people():
    from shared.demo_kit import run_of
    first, second = plan(2007, 1.0, 1), plan(2007, 1.0, 2)
    assert plan(2007, 1.0, 1) == first and first != second

    def numbers(p):
        return {s.args[2] for s in p.steps if s.method == "add_to_roster"}
    assert numbers(first) and not numbers(first) & numbers(second)
    assert {run_of(n) for n in numbers(first)} == {1} and {run_of(n) for n in numbers(second)} == {2}


def test_a_second_run_on_the_same_application_is_clean_too():
    app = memory_app()

    @contextmanager
    def same():
        yield SimpleNamespace(disaster_relief=app)
    assert run(same, random.Random(2007), progress=False, out=io.StringIO()).unexpected == []
    again = run(same, random.Random(2007), progress=False, out=io.StringIO(), run_number=2)
    assert again.unexpected == [] and again.refused == {"Conflict": 5, "InvalidInput": 2}
    assert len(app.list_incidents(2007)) == 6
