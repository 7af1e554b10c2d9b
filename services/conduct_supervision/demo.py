"""The demo's conduct supervision year: a simulated 2007 of the bureau's conduct building (行风建设),
driven through the `conduct_supervision` service's RPC interface only.

    python -m deploy.demo --domains conduct_supervision              # after `make run`

Two halves (the scenario interface of shared/demo_kit.py):
- `plan(seed, size, run)` is a pure function of the seed, the size (a scale of the visits,
  reviews and complaints), the run number (which keys the supervisors drawn, so a second run on
  one database meets new people) and the reference data: the bureau's OFFICERS registered in
  January, each the contact of the communities of one area; SUPERVISORS supervisors appointed
  from February to June (one dismissed in September) and one appointed in 2006 whose term
  expires in February and is renewed in March; visits every other month with the opinions heard
  and followed up; reviews of every window by residents and supervisors and of officers by
  officers; complaints and suggestions, every one answered within its deadline (one escalated
  and answered again); each window assessed every quarter; a breach of the eight prohibitions
  handled; every officer assessed in December (德能勤绩). A second run on the same database finds
  the officers, their communities, the window assessments and the year's assessments done
  already ("already done"); and a few deliberately bad commands.
- `run(plan, kit)` executes the plan month by month: registrations and appointments (phase 0),
  the month's work in parallel lanes (phase 1), then the bad commands one after another (phase 2).
"""
from __future__ import annotations

import json
import random
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from shared.demo_kit import (OK, Expect, Kit, Outcome, People, Ref, Step, Tally, command_summary, print_targets,
                             refused)

TITLE = "conduct supervision (行风建设)"
YEAR = 2007
REFERENCE = Path(__file__).resolve().parent / "reference"
SUPERVISORS = 12                 # appointed in the year per run, whatever the size: `runs_done` counts them
APPOINTED_PER_RUN = SUPERVISORS + 1            # and the one appointed in 2006
DEPARTMENTS = ("社会救助科", "优抚安置科", "社会事务科", "基层政权科", "办公室", "社会福利科", "救灾科")
OFFICER_NAMES = ("李明", "王芳", "张伟", "刘洋", "陈静", "杨勇", "赵磊")
VISITS_PER_COMMUNITY = 6
REVIEWS_PER_WINDOW = 10
COMPLAINTS = 24
OPINIONS = ("希望简化低保申请材料", "窗口办公时间短", "政策宣传不到位", "办事指南不清楚", "希望上门服务",
            "养老服务需求大", "优抚政策咨询多")
GRADES = ("excellent", "competent")


def day(month: int, dom: int) -> str:
    return date(YEAR, month, dom).isoformat()


def step(month: int, phase: int, lane: str, method: str, args: tuple, saves: str | None = None,
         expect: Expect = OK, label: str = "") -> Step:
    return Step(label or method, method, args, expect=expect, saves=saves, month=month, phase=phase, lane=lane)


def once(error: str, field: str) -> Expect:
    """Accepted on the first run; a later run finds it done."""
    return Expect(done=(error, field))


@dataclass
class Plan:
    run: int = 1
    scale: float = 1.0
    steps: list[Step] = field(default_factory=list)
    officers: int = 0
    supervisors: int = 0           # first appointed in the year (this run)
    visits: int = 0
    reviews: Counter = field(default_factory=Counter)   # subject kind -> reviews
    complaints: int = 0
    assessments: int = 0
    rewarded: int = 0

    def add(self, *steps: Step) -> None:
        self.steps.extend(steps)

    def month(self, m: int) -> list[Step]:
        return [s for s in self.steps if s.month == m]

    def __len__(self) -> int:
        return len(self.steps)


def load_reference(directory: Path | None = None):
    from shared.referencedata import DATA_DIR
    areas = json.loads((Path(directory or DATA_DIR) / "areas.json").read_text(encoding="utf-8"))["areas"]
    communities = json.loads((REFERENCE / "communities.json").read_text(encoding="utf-8"))["communities"]
    windows = json.loads((REFERENCE / "windows.json").read_text(encoding="utf-8"))["windows"]
    return areas, communities, windows


class Builder:
    def __init__(self, rng: random.Random, reference, scale: float, run: int):
        self.rng, self.scale, self.run = rng, scale, run
        self.areas, self.communities, self.windows = reference
        self.people = People(rng, run)
        self.plan = Plan(run=run, scale=scale)
        self.counter = 0
        self.officers: list[dict] = []

    def key(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.run}-{self.counter:04d}"

    def n(self, full: int) -> int:
        return max(1, round(full * self.scale))

    def build(self) -> Plan:
        self.roster()
        supervisors = self.supervisors()
        self.visits()
        self.reviews(supervisors)
        self.complaints()
        self.efficiency()
        self.assessments()
        self.bad_commands(supervisors)
        return self.plan

    # officers and their communities (the same bureau every run) ---------------------------------------
    def roster(self) -> None:
        for index, area in enumerate(self.areas):
            officer_id = f"cs-officer-{index + 1:02d}"
            communities = [c["code"] for c in self.communities.get(area["code"], [])]
            self.officers.append({"id": officer_id, "area": area["code"], "communities": communities})
            self.plan.add(step(1, 0, officer_id, "register_officer",
                               (officer_id, OFFICER_NAMES[index % len(OFFICER_NAMES)],
                                DEPARTMENTS[index % len(DEPARTMENTS)], f"200{index % 6}-03-01"),
                               expect=once("Conflict", "officer_id"), label="officer registered"))
            for community in communities:
                self.plan.add(step(1, 1, officer_id, "assign_community", (officer_id, community, day(1, 10)),
                                   expect=once("Conflict", "community"), label="contact community"))
            self.plan.officers += 1

    # supervisors (new people every run) -------------------------------------------------------------
    def supervisors(self) -> list[dict]:
        rng, found = self.rng, []
        codes = [(area, c["code"]) for area, entries in sorted(self.communities.items()) for c in entries]
        for index in range(SUPERVISORS):
            area, community = codes[index % len(codes)]
            who = self.people.person(1945, 1980)
            month = 2 + index % 5
            key = self.key("S")
            self.plan.add(step(month, 0, key, "appoint_supervisor",
                               (area, community, who.id_number, who.name, f"1390519{rng.randint(1000, 9999)}",
                                day(month, rng.randint(1, 20)), "2008-12-31"), saves=key,
                               label="supervisor appointed"))
            found.append({"key": key, "month": month})
            self.plan.supervisors += 1
        dismissed = found[-1]
        self.plan.add(step(9, 1, dismissed["key"], "dismiss_supervisor", (Ref(dismissed["key"]), day(9, 5), "迁出本社区")))
        area, community = codes[-1]
        who = self.people.person(1945, 1980)
        key = self.key("S")
        self.plan.add(step(1, 0, key, "appoint_supervisor",
                           (area, community, who.id_number, who.name, "13905190000", "2006-03-01", "2007-02-28"),
                           saves=key, label="supervisor appointed in 2006"))
        self.plan.add(step(3, 1, key, "renew_supervisor", (Ref(key), day(3, 10), "2008-12-31")))
        return found[:-1]

    # visits -----------------------------------------------------------------------------------------
    def visits(self) -> None:
        rng = self.rng
        for officer in self.officers:
            for community in officer["communities"]:
                for index in range(self.n(VISITS_PER_COMMUNITY)):
                    month = 2 + (index * 2) % 10
                    heard = rng.sample(OPINIONS, rng.randint(0, 3))
                    key = self.key("V")
                    lane = f"V-{community}"
                    self.plan.add(step(month, 1, lane, "record_visit",
                                       (officer["id"], community, day(month, 12), heard), saves=key))
                    for number in range(1, len(heard) + 1):
                        self.plan.add(step(month, 1, lane, "follow_up_opinion",
                                           (Ref(key), number, "已转相关科室办理", day(month, 25))))
                    self.plan.visits += 1

    # public reviews ---------------------------------------------------------------------------------
    def reviews(self, supervisors: list[dict]) -> None:
        rng = self.rng
        for window in self.windows:
            for index in range(self.n(REVIEWS_PER_WINDOW)):
                month = rng.randint(2, 11)
                self.plan.add(step(month, 1, f"R-{window}", "record_review",
                                   ("window", window, "resident", None, rng.randint(60, 100), "群众评议",
                                    day(month, rng.randint(1, 28)))))
                self.plan.reviews["window"] += 1
            s = supervisors[len(self.plan.reviews) % len(supervisors)] if supervisors else None
            if s:
                month = min(12, s["month"] + 2)
                self.plan.add(step(month, 1, f"R-{window}", "record_review",
                                   ("window", window, "supervisor", Ref(s["key"]), rng.randint(70, 95), "监督员评议",
                                    day(month, 25))))
                self.plan.reviews["window"] += 1
        for index, officer in enumerate(self.officers):
            peer = self.officers[(index + 1) % len(self.officers)]
            self.plan.add(step(11, 1, f"R-{officer['id']}", "record_review",
                               ("officer", officer["id"], "officer", peer["id"], rng.randint(75, 98), "同事评议", day(11, 15))))
            self.plan.reviews["officer"] += 1

    # complaints --------------------------------------------------------------------------------------
    def complaints(self) -> None:
        rng, windows = self.rng, list(self.windows)
        for index in range(self.n(COMPLAINTS)):
            month, received = rng.randint(1, 11), rng.randint(1, 15)
            officer = self.officers[index % len(self.officers)]
            subject = ("window", windows[index % len(windows)]) if index % 3 else ("officer", officer["id"])
            key, who = self.key("C"), self.people.person(1950, 1990)
            kind = "suggestion" if index % 4 == 3 else "complaint"
            lane = key
            self.plan.add(step(month, 1, lane, "receive_complaint",
                               (kind, officer["area"], *subject, who.name, f"13{rng.randint(100000000, 999999999)}",
                                "办事等候时间长" if kind == "complaint" else "建议增设便民服务点", day(month, received)),
                               saves=key))
            self.plan.add(step(month, 1, lane, "answer_complaint",
                               (Ref(key), "已核实并整改", day(month, received + 3), officer["id"])))
            if index == 0:         # not accepted: escalated, answered again, accepted
                self.plan.add(step(month, 1, lane, "respond_to_answer", (Ref(key), False, day(month, received + 5), "escalated")))
                self.plan.add(step(month, 1, lane, "answer_complaint",
                                   (Ref(key), "局领导约谈并答复", day(month, received + 7), self.officers[0]["id"])))
                self.plan.add(step(month, 1, lane, "respond_to_answer", (Ref(key), True, day(month, received + 9))))
            else:
                self.plan.add(step(month, 1, lane, "respond_to_answer", (Ref(key), True, day(month, received + 5))))
            self.plan.complaints += 1

    # window efficiency --------------------------------------------------------------------------------
    def efficiency(self) -> None:
        rng = self.rng
        for window, entry in self.windows.items():
            for quarter, (month, dom) in enumerate(((4, 5), (7, 5), (10, 5), (12, 31)), 1):
                score = rng.randint(70, 98)
                self.plan.add(step(month, 1, f"E-{window}", "assess_window",
                                   (window, f"{YEAR}-Q{quarter}", entry["methods"][quarter % len(entry["methods"])],
                                    score, day(month, dom), "增设导办员, 公开办事流程" if score < 80 else None),
                                   expect=once("Conflict", "period")))

    # breaches and the year-end assessment --------------------------------------------------------------
    def assessments(self) -> None:
        rng = self.rng
        breach = self.officers[2 % len(self.officers)]
        self.plan.add(step(4, 1, f"B-{breach['id']}", "record_breach",
                           (breach["id"], "p3_delay", day(4, 3), "对群众办事推诿")))
        self.plan.add(step(4, 1, f"B-{breach['id']}", "handle_breach",
                           (breach["id"], self.run, "talk", day(4, 12), "诫勉谈话")))
        for index, officer in enumerate(self.officers):
            if officer is breach:
                grades = ("competent", "excellent", "competent", "competent")
            elif index == 0:
                grades = ("excellent",) * 4
            else:
                grades = tuple(rng.choice(GRADES) for _ in range(3)) + ("competent",)
            self.plan.add(step(12, 1, f"A-{officer['id']}", "assess_officer",
                               (officer["id"], YEAR, *grades, day(12, 20)), expect=once("Conflict", "year")))
            self.plan.assessments += 1

    # bad commands ----------------------------------------------------------------------------------------
    def bad_commands(self, supervisors: list[dict]) -> None:
        first, second = self.officers[0], self.officers[1]
        breach = self.officers[2 % len(self.officers)]
        stranger = self.people.person(1950, 1960)
        area, communities = first["area"], first["communities"]
        bad = [
            (5, "record_review", ("officer", first["id"], "officer", first["id"], 100, "自评", day(5, 2)),
             "Conflict", "an officer reviewing themselves"),
            (5, "record_visit", (second["id"], communities[0], day(5, 3), ["意见"]),
             "Conflict", "a visit by an officer not assigned to the community"),
            (6, "record_breach", (first["id"], "p9_smoking", day(6, 1), "吸烟"),
             "InvalidInput", "a breach of a prohibition the bureau does not name"),
            (6, "appoint_supervisor", (area, communities[0], stranger.id_number, stranger.name, "13905191234",
                                       day(6, 1), "2010-06-02"),
             "InvalidInput", "a supervisor's term longer than the rule allows"),
            (7, "receive_complaint", ("complaint", area, "window", "pet_window", stranger.name, "13905191234",
                                      "x", day(7, 1)),
             "InvalidInput", "a complaint about a window the bureau does not have"),
            (12, "assess_officer", (breach["id"], YEAR, "excellent", "excellent", "excellent", "excellent", day(12, 10)),
             "Conflict", "an officer with a breach in the year graded excellent"),
        ]
        for month, method, args, expect, label in bad:
            self.plan.add(step(month, 2, f"bad-{label}", method, args, expect=refused(expect), label=label))


MIN_SCALE = 0.05


def build_plan(rng: random.Random, directory: Path | None = None, scale: float = 1.0, run: int = 1) -> Plan:
    return Builder(rng, load_reference(directory), max(MIN_SCALE, scale), run).build()


# --- the scenario's interface (shared/demo_kit.py) --------------------------------------------------

def plan(seed: int, size: float = 1.0, run: int = 1, reference: Path | None = None) -> Plan:
    return build_plan(random.Random(f"{seed}:conduct_supervision"), reference, size, run)


def runs_done(kit: Kit) -> int:
    """Earlier demo runs on this database: each appointed APPOINTED_PER_RUN supervisors."""
    appointed = kit.call("statistics")["supervisors_appointed"]
    return -(-appointed // APPOINTED_PER_RUN)


def run(plan: Plan, kit: Kit) -> "Outcome":
    kit.months(plan, lambda month: f"conduct_supervision {YEAR}-{month:02d}")
    outcome = Outcome(summarise(plan, kit.tally), kit.tally)
    print_summary(outcome.summary, kit.out)
    kit.tally.print(kit.out)
    return outcome


def drive(rpc_factory: Callable, rng_seed: int = 2007, progress: bool = True, out=sys.stdout,
          concurrency: int = 8, run_number: int = 1, size: float = 1.0) -> "Outcome":
    """The year planned from `rng_seed`, driven through `rpc_factory()` proxies."""
    kit = Kit("conduct_supervision", rpc_factory, concurrency=concurrency, progress=progress, out=out)
    try:
        return run(plan(rng_seed, size, run_number), kit)
    finally:
        kit.close()


def summarise(plan: Plan, tally: Tally) -> dict:
    return {**command_summary(tally),
            "planned": {"officers": plan.officers, "supervisors": plan.supervisors, "visits": plan.visits,
                        "reviews": dict(plan.reviews), "complaints": plan.complaints,
                        "assessments": plan.assessments}}


def print_summary(summary: dict, out=sys.stdout) -> None:
    planned = summary["planned"]
    p = lambda *a: print(*a, file=out)  # noqa: E731
    p(f"\n== Zhonglou district conduct supervision, {YEAR}: {summary['commands']} commands accepted ==")
    p(f"officers: {planned['officers']}, each the contact of an area's communities; supervisors newly "
      f"appointed: {planned['supervisors']}")
    p(f"visits: {planned['visits']}; reviews: {planned['reviews']}; complaints and suggestions, all answered: "
      f"{planned['complaints']}; year-end assessments: {planned['assessments']}")
    for bad in summary["bad_commands"]:
        mark = "ok" if bad["got"] == bad["expected"] else "!!"
        p(f"  {mark} refused command: {bad['label']}: expected {bad['expected']}, got {bad['got']}")


def report_ready(section: dict | None, plan: Plan, outcome: Outcome) -> bool:
    metrics = (section or {}).get("district", {}).get("metrics", {})
    return (metrics.get("supervisors_recruited") or {}).get("value", 0) >= plan.supervisors * plan.run


def print_report(section: dict | None, plan: Plan, outcome: Outcome, out=sys.stdout) -> None:
    print_targets("conduct supervision targets", section,
                  {"supervisors_recruited": f"{plan.supervisors} a run", "complaints_answered_ratio": "all answered",
                   "officers_assigned_ratio": "every officer", "officers_assessed_ratio": "every officer"}, out)
