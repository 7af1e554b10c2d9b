"""Unit tier: the demo kit (shared/demo_kit.py): people keyed by run number, outcome counting
against expected outcomes, the size, and reading the report of one key per domain."""
from __future__ import annotations

import io
import random
from contextlib import contextmanager
from types import SimpleNamespace

import pytest

from services.social_assistance import demo as dibao
from shared import identity
from shared.demo_kit import (MAX_RUNS, Expect, Kit, People, Step, parse_size, print_targets, refused,
                             run_of)
from shared.errors import Conflict


def numbers(run: int, count: int = 3000, seed: int = 1) -> set[str]:
    people = People(random.Random(seed), run, {"320404": 3, "320402": 1})
    return {people.person(1930, 2005).id_number for _ in range(count)}


def test_people_are_valid_unique_and_keyed_by_the_run_number():
    spaces = {run: numbers(run) for run in (1, 2, 10, 11, 37, MAX_RUNS)}
    for run, found in spaces.items():
        assert len(found) == 3000
        assert {run_of(n) for n in found} == {run}
        for number in list(found)[:200]:
            assert identity.validate(number) == number
    runs = list(spaces)
    for i, a in enumerate(runs):
        for b in runs[i + 1:]:
            assert not spaces[a] & spaces[b], (a, b)
    with pytest.raises(ValueError):
        People(random.Random(1), MAX_RUNS + 1)


def test_the_same_seed_and_run_draw_the_same_people():
    assert numbers(3, 100, seed=5) == numbers(3, 100, seed=5) != numbers(3, 100, seed=6)


def test_plans_are_pure_and_runs_give_disjoint_people():
    first = dibao.plan(11, 0.03, 1)
    assert dibao.plan(11, 0.03, 1) == first
    second = dibao.plan(11, 0.03, 2)
    people = [{m.id_number for h in p.households for m in h.members} for p in (first, second)]
    assert not people[0] & people[1]


def test_sizes():
    assert parse_size("small") < parse_size("medium") < parse_size("full") == 1.0
    assert parse_size("0.25") == 0.25
    for bad in ("0", "2", "huge"):
        with pytest.raises(ValueError):
            parse_size(bad)


class Service:
    def __init__(self):
        self.merged = False

    def merge(self):
        if self.merged:
            raise Conflict("area", "already merged")
        self.merged = True
        return {"cases_merged": 1}

    def bad(self):
        raise Conflict("officer", "maker-checker")


def test_the_tally_counts_ok_expected_refusals_already_done_and_unexpected():
    service = Service()

    @contextmanager
    def factory(*_):
        yield SimpleNamespace(svc=service)
    kit = Kit("svc", factory, progress=False, out=io.StringIO())
    done = Expect(done=("Conflict", "area"))
    assert kit.do("merge", "merge", expect=done) == {"cases_merged": 1}
    assert kit.do("merge again", "merge", expect=done) is None
    kit.step(Step("maker-checker", "bad", expect=refused("Conflict", "officer")), {})
    assert kit.tally.ok
    kit.do("merge a third time", "merge")                       # not planned: unexpected
    kit.do("wrong field", "bad", expect=refused("Conflict", "area"))
    kit.close()
    counts = kit.tally.counts
    assert counts["merge"] == {"ok": 1, "already done": 1, "unexpected": 1}
    assert counts["bad"] == {"refused as expected": 1, "unexpected": 1}
    assert not kit.tally.ok and len(kit.tally.problems) == 2
    out = io.StringIO()
    kit.tally.print(out)
    assert "already done" in out.getvalue()


def fabricated_report(persons_urban: int) -> dict:
    coverage = {"urban": {"persons": persons_urban, "population": 500000, "value": persons_urban / 500000,
                          "target": 0.012, "op": ">=", "met": persons_urban / 500000 >= 0.012},
                "rural": {"persons": 40, "population": 100000, "value": 0.0004, "target": 0.02, "op": ">=",
                          "met": False}}
    return {"social_assistance": {"district": {"metrics": {"coverage_ratio": coverage}}, "areas": {},
                                  "schemes": {}, "read_model": {"initialised": True}},
            "disaster_relief": {"incidents": [{"status": "closed"}] * 3, "reports": {"late": 3},
                                "reserves_below_floor": 1},
            "welfare": {"district": {"metrics": {"training_ratio": {
                "value": 0.9, "unit": "ratio", "target": 0.8, "op": ">=", "met": True}}}}}


def test_the_report_of_one_key_per_domain_is_read_per_domain():
    from services.disaster_relief import demo as dr
    plan = dibao.plan(2007, 0.03, 1)
    runner = SimpleNamespace(plan=plan, status={h.key: "active" for h in plan.by_kind("dibao")})
    report = fabricated_report(10)
    assert dibao.coverage(report["social_assistance"])["urban"]["persons"] == 10
    assert not dibao.report_ready(report["social_assistance"], plan, runner)
    assert dibao.report_ready(fabricated_report(10**5)["social_assistance"] | {
        "district": {"metrics": {"coverage_ratio": {"urban": {"persons": 10**5}, "rural": {"persons": 10**5}}}}},
        plan, runner)
    out = io.StringIO()
    dibao.print_report(report["social_assistance"], plan, runner, out)
    assert "urban" in out.getvalue() and "0.00%" in out.getvalue()
    dr_plan = dr.plan(2007)
    assert dr.report_ready(report["disaster_relief"], dr_plan, None)
    dr.print_report(report["disaster_relief"], dr_plan, None, out)
    assert "3 incidents" in out.getvalue()
    print_targets("welfare", report["welfare"], {"training_ratio": "x"}, out)
    assert "90.00%" in out.getvalue() and "met" in out.getvalue()


def test_the_runner_iterates_the_registry():
    from deploy import demo
    from shared import domains
    args = demo.parse_args(["--size", "small"])
    assert [d.name for d in args.selected] == [d.name for d in domains.with_part("demo")]
    assert {"social_assistance", "disaster_relief", "welfare"} <= {d.name for d in args.selected}
    for d in args.selected:
        scenario = d.load("demo")
        assert callable(scenario.plan) and callable(scenario.run)
