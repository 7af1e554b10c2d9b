"""Unit tier: the demo's conduct supervision year (services/conduct_supervision/demo.py), run
against the real application on in-memory persistence in place of the RPC proxy (same method
names and arguments), so every planned command is checked by the domain without RabbitMQ; and a
second run on the same application builds on the first."""
import io
from contextlib import contextmanager
from types import SimpleNamespace

import pytest

from services.conduct_supervision.demo import APPOINTED_PER_RUN, SUPERVISORS, drive, plan, runs_done
from shared.demo_kit import Kit
from tests.conduct_supervision.cs_support import memory_app

SIZE = 0.2
REFUSED = {"InvalidInput": 3, "Conflict": 3}


@pytest.fixture(scope="module")
def app():
    return memory_app()


def factory(app):
    @contextmanager
    def same():
        yield SimpleNamespace(conduct_supervision=app)
    return same


@pytest.fixture(scope="module")
def first(app):
    return drive(factory(app), progress=False, out=io.StringIO(), size=SIZE, concurrency=4)


def test_the_plan_is_pure_and_a_second_run_meets_other_people():
    one, two = plan(2007, SIZE, 1), plan(2007, SIZE, 2)
    assert plan(2007, SIZE, 1).steps == one.steps and one.steps != two.steps

    def numbers(p):
        return {s.args[2] for s in p.steps if s.method == "appoint_supervisor"}
    assert len(numbers(one)) == APPOINTED_PER_RUN + 1 and not numbers(one) & numbers(two)


def test_every_planned_command_is_accepted_and_every_bad_one_refused(first):
    assert first.unexpected == []
    assert first.refused == REFUSED


def test_the_year_meets_the_targets(app, first):
    planned = first.summary["planned"]
    stats = app.statistics()
    assert stats["supervisors_appointed"] == APPOINTED_PER_RUN
    assert stats["officers_serving"] == planned["officers"] == 7
    assert app.contacts()["officers_without_community"] == []
    assert all(c["officer_id"] for c in app.contacts()["communities"])
    assert stats["complaints_received"] == planned["complaints"]
    rewards = app.rewards(2007)
    assert rewards["assessed"] == planned["assessments"] == 7
    assert "cs-officer-01" in [r["officer_id"] for r in rewards["rewarded"]]
    assert "cs-officer-03" not in [r["officer_id"] for r in rewards["rewarded"]]     # the breach


def test_a_second_run_builds_on_the_first(app, first):
    kit = Kit("conduct_supervision", factory(app), progress=False, out=io.StringIO())
    assert runs_done(kit) == 1
    again = drive(factory(app), progress=False, out=io.StringIO(), size=SIZE, run_number=2, concurrency=4)
    assert again.unexpected == [] and again.refused == REFUSED
    # officers (7), their communities (14), window assessments (16), the year's assessments (7)
    assert again.summary["already_done"] == 7 + 14 + 16 + 7
    assert runs_done(kit) == 2
    assert app.statistics()["supervisors_appointed"] == 2 * APPOINTED_PER_RUN
    assert app.rewards(2007)["assessed"] == 7
    assert SUPERVISORS == 12
    kit.close()
