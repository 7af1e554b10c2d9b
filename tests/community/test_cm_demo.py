"""Unit tier: the demo's community-building year (services/community/demo.py), run against the
real application on in-memory persistence in place of the RPC proxy (same method names and
arguments), so every planned command is checked by the domain without RabbitMQ; and a second
run on the same application builds on the first."""
import io
from contextlib import contextmanager
from types import SimpleNamespace

import pytest

from services.community.demo import WORKERS, drive, plan, runs_done
from shared.demo_kit import Kit, run_of
from tests.community.cm_support import memory_app

SIZE = 0.2
REFUSED = {"InvalidInput": 4, "Conflict": 4}


@pytest.fixture(scope="module")
def app():
    return memory_app()


def factory(app):
    @contextmanager
    def same():
        yield SimpleNamespace(community=app)
    return same


@pytest.fixture(scope="module")
def first(app):
    return drive(factory(app), progress=False, out=io.StringIO(), size=SIZE, concurrency=4)


def test_the_plan_is_pure_and_a_second_run_meets_other_people():
    one, two = plan(2007, SIZE, 1), plan(2007, SIZE, 2)
    assert plan(2007, SIZE, 1).steps == one.steps and one.steps != two.steps

    def numbers(p):
        return {s.args[2] for s in p.steps if s.method == "hire_worker"}
    assert len(numbers(one)) == WORKERS and not numbers(one) & numbers(two)
    assert {run_of(n) for n in numbers(one)} == {1}


def test_every_planned_command_is_accepted_and_every_bad_one_refused(first):
    assert first.unexpected == []
    assert first.refused == REFUSED
    assert first.summary["already_done"] == 0


def test_the_year_meets_the_star_designation_and_worker_targets(app, first):
    planned = first.summary["planned"]
    assert planned["new_stars"] == {"3": 5, "4": 3, "5": 1}
    stats = app.statistics()
    assert stats["workers_hired"] == WORKERS
    assert stats["communities_registered"] == planned["communities"]
    assert stats["projects_planned"] == planned["named_projects"] == 9
    assert stats["villages_registered"] == planned["villages"] == 20


def test_a_second_run_builds_on_the_first(app, first):
    kit = Kit("community", factory(app), progress=False, out=io.StringIO())
    assert runs_done(kit) == 1
    again = drive(factory(app), progress=False, out=io.StringIO(), size=SIZE, run_number=2, concurrency=4)
    assert again.unexpected == [] and again.refused == REFUSED
    assert again.summary["already_done"] == 2 + 2 * 6      # a centre, a project, two brands in each street
    assert runs_done(kit) == 2
    kit.close()
