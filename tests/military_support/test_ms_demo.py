"""Unit tier: the demo's military support year (services/military_support/demo.py), run against
the real application on in-memory persistence in place of the RPC proxy (same method names and
arguments), so every planned command is checked by the domain without RabbitMQ; and a second
run on the same application builds on the first."""
import io
from contextlib import contextmanager
from decimal import Decimal
from types import SimpleNamespace

import pytest

from services.military_support.demo import WORKERS, drive, plan, runs_done
from shared.demo_kit import Kit, run_of
from tests.military_support.ms_support import memory_app, published

SIZE = 0.2


@pytest.fixture(scope="module")
def app():
    return memory_app()


def factory(app):
    @contextmanager
    def same():
        yield SimpleNamespace(military_support=app)
    return same


@pytest.fixture(scope="module")
def first(app):
    return drive(factory(app), progress=False, out=io.StringIO(), size=SIZE, concurrency=4)


def test_the_plan_is_pure_and_a_second_run_meets_other_people():
    one, two = plan(2007, SIZE, 1), plan(2007, SIZE, 2)
    assert plan(2007, SIZE, 1).steps == one.steps and one.steps != two.steps

    def numbers(p):
        return {s.args[2] for s in p.steps if s.method == "register_beneficiary"}
    assert numbers(one) and not numbers(one) & numbers(two) - {None}
    assert {run_of(n) for n in numbers(one)} == {1}


def test_every_planned_command_is_accepted_and_every_bad_one_refused(first):
    assert first.unexpected == []
    assert first.refused == {"InvalidInput": 3, "Conflict": 3}


def test_the_year_meets_coverage_channels_and_resettlement(app, first):
    planned = first.summary["planned"]
    stats = app.statistics()
    assert stats["workers_received"] == WORKERS
    assert stats["beneficiaries_registered"] == sum(planned["beneficiaries"].values())
    assert stats["on_roll"] == stats["beneficiaries_registered"] - 1          # one death in June
    evidence = app.get_evidence_file(2007)
    assert evidence["submitted"]["submitted_on"] == "2007-12-15"
    assert evidence["channels_without_activity"] == []
    assert evidence["counts"]["activities"] == sum(planned["activities"].values())


def test_the_runs_pay_what_the_plan_expects(app, first):
    total = Decimal("0.00")
    for month in range(1, 13):
        total += Decimal(app.run_benefits(f"2007-{month:02d}")["total"])   # all paid already
    assert total == 0
    paid = sum((Decimal(e["data"]["amount"]) for e in published(app)
                if e["type"] == "BeneficiaryBenefitPaid"), Decimal("0.00"))
    assert paid == Decimal(first.summary["planned"]["benefits_yuan"]) > 0


def test_a_second_run_builds_on_the_first(app, first):
    kit = Kit("military_support", factory(app), progress=False, out=io.StringIO())
    assert runs_done(kit) == 1
    again = drive(factory(app), progress=False, out=io.StringIO(), size=SIZE, run_number=2, concurrency=4)
    assert again.unexpected == [] and again.refused == {"InvalidInput": 3, "Conflict": 3}
    assert again.summary["already_done"] == 1                        # the evidence file
    assert runs_done(kit) == 2
    kit.close()
