"""Unit tier: the demo's social affairs story (services/social_affairs/demo.py), run against the
real application on in-memory persistence in place of the RPC proxy (same method names and
arguments), so every planned command is checked by the domain without RabbitMQ; twice on one
application, as a second `python -m deploy.demo` on one database."""
import io
import random
from contextlib import contextmanager
from types import SimpleNamespace

import pytest

from services.social_affairs.demo import MIGRATED_PER_RUN, build_plan, drive, plan, runs_done
from shared.demo_kit import Kit, run_of
from tests.social_affairs.sa_support import memory_app

EXPECTED_REFUSALS = {"InvalidInput": 6, "Conflict": 4}


def runner(app):
    @contextmanager
    def same():
        yield SimpleNamespace(social_affairs=app)
    return same


@pytest.fixture(scope="module")
def story():
    app = memory_app()
    return app, drive(runner(app), random.Random(2007), progress=False, out=io.StringIO(), scale=0.1)


def test_the_same_seed_gives_the_same_plan():
    assert build_plan(random.Random(7)) == build_plan(random.Random(7))
    assert build_plan(random.Random(7)) != build_plan(random.Random(8))


def test_every_planned_command_is_accepted_and_every_bad_one_refused_as_expected(story):
    _app, outcome = story
    assert outcome.unexpected == []
    assert outcome.refused == EXPECTED_REFUSALS


def test_the_migration_is_prepared_on_time_and_done(story):
    _app, outcome = story
    halls = {h["code"]: h for h in outcome.migration}
    assert all(halls[c]["preparation"]["on_time"] for c in MIGRATED_PER_RUN)
    assert all(halls[c]["progress"] == 1.0 and halls[c]["urns"] == 0 for c in MIGRATED_PER_RUN)
    assert halls["beigang_cemetery"]["moved_in"] == sum(MIGRATED_PER_RUN.values())


def test_the_refusals_of_legal_conditions_are_recorded(story):
    app, _outcome = story
    from tests.social_affairs.sa_support import published
    rules = sorted(e["data"]["rule"] for e in published(app) if e["type"] == "MarriageApplicationRefused")
    assert rules == ["affairs.already_married", "affairs.below_legal_age", "affairs.party_not_present",
                     "affairs.prohibited_kinship_not_declared"]


def test_a_second_run_builds_on_the_first():
    app = memory_app()
    first = drive(runner(app), random.Random(2007), progress=False, out=io.StringIO(), scale=0.05)
    kit = Kit("social_affairs", runner(app), concurrency=1, progress=False, out=io.StringIO())
    assert runs_done(kit) == 1
    again = drive(runner(app), random.Random(2007), progress=False, out=io.StringIO(), run_number=2, scale=0.05)
    assert first.unexpected == [] and again.unexpected == []
    assert again.tally.total("already done") == 7          # 5 halls, 2 preparations
    assert runs_done(kit) == 2
    kit.close()


def test_the_plan_is_pure_and_a_second_run_meets_other_people():
    first, second = plan(2007, 0.1, 1), plan(2007, 0.1, 2)
    assert plan(2007, 0.1, 1) == first and first != second

    def numbers(p):
        return {party["id_number"] for s in p.steps if s.method == "register_marriage" for party in s.args[1]}
    assert numbers(first) and not numbers(first) & numbers(second)
    assert {run_of(n) for n in numbers(first)} == {1} and {run_of(n) for n in numbers(second)} == {2}


@pytest.mark.parametrize("seed", [1, 2, 42])
def test_other_seeds_run_clean_too(seed):
    result = drive(runner(memory_app()), random.Random(seed), progress=False, out=io.StringIO(), scale=0.05)
    assert result.unexpected == [] and result.refused == EXPECTED_REFUSALS
