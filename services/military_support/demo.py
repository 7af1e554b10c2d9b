"""The demo's military support year: a simulated 2007 of Zhonglou district's 双拥 and 优抚安置 work,
driven through the `military_support` service's RPC interface only.

    python -m deploy.demo --domains military_support              # after `make run`

Two halves (the scenario interface of shared/demo_kit.py):
- `plan(seed, size, run)` is a pure function of the seed, the size (a scale of the beneficiaries,
  activities and sessions), the run number (which keys the people drawn, so a second run on one
  database meets new people) and the reference data: beneficiaries of every category in every
  area carried over from earlier years, a few registered during the year; every disabled
  serviceman of grades 1-6 enrolled in medical insurance (one only in November), the other key
  beneficiaries in the assistance scheme with claims; the twelve monthly runs (January run twice:
  the second pays nobody); a reassessment in April, a death in June; WORKERS workers without
  military status received and all placed, their allowances paid until the placement; activities
  through all eight channels, education sessions at every venue, co-building pairs; the evidence
  file submitted in December (a second run finds it submitted: "already done"); and a few
  deliberately bad commands.
- `run(plan, kit)` executes the plan month by month: registrations (phase 0), the month's work in
  parallel lanes (phase 1), then the month's run and bad commands one after another (phase 2).
"""
from __future__ import annotations

import json
import random
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from shared.demo_kit import (OK, Expect, Kit, Outcome, People, Ref, Step, Tally, command_summary, print_targets,
                             refused)

TITLE = "military support (双拥 and 优抚安置)"
YEAR = 2007
REFERENCE = Path(__file__).resolve().parent / "reference"
# Beneficiaries per area at full size, by category.
PER_AREA = {"disabled_serviceman": 12, "martyr_family": 3, "died_on_duty_family": 2,
            "died_of_illness_family": 2, "demobilised_veteran": 8, "war_veteran": 6, "other": 2}
ASSISTANCE = ("martyr_family", "died_on_duty_family", "died_of_illness_family", "war_veteran")
WORKERS = 4                      # per run, whatever the size: `runs_done` counts them
ACTIVITIES_PER_CHANNEL = 5
SESSIONS = {("party_school", "cadres"): 4, ("school", "students"): 10, ("media", "public"): 4,
            ("activity", "public"): 4, ("seminar", "cadres"): 2}
UNITS = ("某部三营", "某部通信连", "武警常州支队三中队", "某部仓库", "某部医院")
EMPLOYERS = ("钟楼区环卫处", "钟楼区社区服务中心", "钟楼区市政养护所", "钟楼区老干部活动中心")


def day(month: int, dom: int) -> str:
    return date(YEAR, month, dom).isoformat()


def step(month: int, phase: int, lane: str, method: str, args: tuple, saves: str | None = None,
         expect: Expect = OK, label: str = "") -> Step:
    return Step(label or method, method, args, expect=expect, saves=saves, month=month, phase=phase,
                lane=lane)


@dataclass
class Plan:
    run: int = 1
    scale: float = 1.0
    steps: list[Step] = field(default_factory=list)
    beneficiaries: Counter = field(default_factory=Counter)        # category -> registered this run
    grade_1_6: int = 0
    benefits_yuan: Decimal = Decimal("0.00")                      # this run's payments
    workers: int = 0
    activities: Counter = field(default_factory=Counter)           # channel -> activities
    sessions: int = 0
    pairs: int = 0

    def add(self, *steps: Step) -> None:
        self.steps.extend(steps)

    def month(self, m: int) -> list[Step]:
        return [s for s in self.steps if s.month == m]

    def __len__(self) -> int:
        return len(self.steps)


def load_reference(directory: Path | None = None):
    from shared.referencedata import DATA_DIR
    areas = json.loads((Path(directory or DATA_DIR) / "areas.json").read_text(encoding="utf-8"))["areas"]
    benefits = json.loads((REFERENCE / "benefits.json").read_text(encoding="utf-8"))["standards"]
    double = json.loads((REFERENCE / "double_support.json").read_text(encoding="utf-8"))
    return areas, benefits, double


def monthly(standards: list[dict], month: int, category: str, grade, cause) -> Decimal:
    """The standard in force in a month of the year (the plan's own reading of benefits.json)."""
    row = [s for s in standards if s["effective_from"] <= day(month, 1)][-1]
    value = row[category][cause][str(grade)] if category == "disabled_serviceman" else row[category]
    return Decimal(value)


class Builder:
    def __init__(self, rng: random.Random, reference, scale: float, run: int):
        self.rng, self.scale, self.run = rng, scale, run
        self.areas, self.standards, self.double = reference
        self.people = People(rng, run)
        self.plan = Plan(run=run, scale=scale)
        self.counter = 0
        self.ended: set[str] = set()

    def key(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.run}-{self.counter:04d}"

    def build(self) -> Plan:
        members = self.beneficiaries()
        self.medical(members)
        self.changes(members)
        self.runs(members)
        self.workers()
        self.double_support()
        self.bad_commands(members)
        return self.plan

    # beneficiaries ------------------------------------------------------------------------------
    def beneficiaries(self) -> list[dict]:
        rng, members = self.rng, []
        for area in self.areas:
            for category, n in PER_AREA.items():
                scaled = max(1, round(n * self.scale))
                for index in range(scaled):
                    who = self.people.person(1925, 1975).identity()
                    grade = cause = None
                    if category == "disabled_serviceman":
                        cause = rng.choice(("war", "duty", "duty", "illness"))
                        grade = rng.randint(1, 6 if cause == "illness" else 10)
                    new = index == 0 and scaled > 1 and category in ("demobilised_veteran", "died_on_duty_family")
                    month = rng.randint(2, 10) if new else 1
                    registered = day(month, rng.randint(1, 20)) if new else \
                        date(rng.randint(1990, 2006), rng.randint(1, 12), rng.randint(1, 28)).isoformat()
                    key = self.key("B")
                    self.plan.add(step(month, 0, key, "register_beneficiary",
                                       (category, area["code"], who["id_number"], who["name"],
                                        who["birth_date"], registered, grade, cause),
                                       saves=key, label=f"{category} of {area['code']}"))
                    members.append({"key": key, "category": category, "grade": grade, "cause": cause,
                                    "area": area["code"], "from": month, "who": who,
                                    "registered": registered})
                    self.plan.beneficiaries[category] += 1
        return members

    def medical(self, members: list[dict]) -> None:
        rng = self.rng
        insured = [m for m in members if m["grade"] is not None and m["grade"] <= 6]
        self.plan.grade_1_6 = len(insured)
        late = insured[-1] if insured else None
        for m in insured:
            month = 11 if m is late else max(m["from"], rng.randint(1, 3))
            scheme = "disabled_servicemen" if m["grade"] <= 4 else rng.choice(("urban_employee", "urban_resident"))
            self.plan.add(step(month, 1, m["key"], "enroll_insurance",
                               (Ref(m["key"]), scheme, day(month, rng.randint(21, 28)))))
        for m in members:
            if m["category"] in ASSISTANCE or (m["grade"] or 0) >= 7:
                join = max(m["from"], 2)
                self.plan.add(step(join, 1, m["key"], "join_assistance", (Ref(m["key"]), day(join, 21))))
                if rng.random() < 0.5:
                    claim = rng.randint(join + 1, 12) if join < 12 else 12
                    self.plan.add(step(claim, 1, m["key"], "claim_assistance",
                                       (Ref(m["key"]), day(claim, 25), f"{rng.randint(3, 60) * 100}.00")))

    def changes(self, members: list[dict]) -> None:
        disabled = [m for m in members if m["grade"] is not None and 2 <= m["grade"] <= 6
                    and m["from"] == 1]
        if disabled:
            m = disabled[0]
            m["regraded"] = (4, m["grade"] - 1)
            self.plan.add(step(4, 1, m["key"], "reassess_grade", (Ref(m["key"]), m["grade"] - 1, day(4, 10))))
        veterans = [m for m in members if m["category"] == "war_veteran" and m["from"] == 1]
        if veterans:
            m = veterans[-1]
            m["ended"] = 6
            self.plan.add(step(6, 1, m["key"], "end_benefits", (Ref(m["key"]), day(6, 12), "去世")))

    def runs(self, members: list[dict]) -> None:
        for month in range(1, 13):
            self.plan.add(step(month, 2, "run", "run_benefits", (f"{YEAR}-{month:02d}",),
                               label=f"benefits of {YEAR}-{month:02d}"))
            if month == 1:
                self.plan.add(step(1, 2, "run", "run_benefits", (f"{YEAR}-01",), label="January again"))
            for m in members:
                if m["from"] > month or m.get("ended", 13) <= month:
                    continue
                grade = m["grade"]
                if "regraded" in m and month >= m["regraded"][0]:
                    grade = m["regraded"][1]
                self.plan.benefits_yuan += monthly(self.standards, month, m["category"], grade, m["cause"])

    # workers without military status ----------------------------------------------------------------
    def workers(self) -> None:
        rng = self.rng
        for index in range(WORKERS):
            who = self.people.person(1958, 1975).identity()
            key = self.key("W")
            received, placed = rng.randint(2, 6), None
            placed = received + rng.randint(2, 4)
            area = self.areas[index % len(self.areas)]["code"]
            self.plan.add(step(received, 0, key, "receive_worker",
                               (area, who["id_number"], who["name"], who["birth_date"],
                                rng.choice(UNITS), day(received, 3)), saves=key, label="worker received"))
            for month in range(received, 13):
                if month <= placed:
                    self.plan.add(step(month, 1, key, "pay_worker_benefit",
                                       (Ref(key), f"{YEAR}-{month:02d}", "living_allowance", "800.00")))
                self.plan.add(step(month, 1, key, "pay_worker_benefit",
                                   (Ref(key), f"{YEAR}-{month:02d}", "social_insurance", "450.00")))
            self.plan.add(step(placed, 1, key, "place_worker",
                               (Ref(key), rng.choice(EMPLOYERS), day(placed, 15))))
            self.plan.workers += 1

    # double support ---------------------------------------------------------------------------------
    def double_support(self) -> None:
        rng, codes = self.rng, [a["code"] for a in self.areas]
        suffix = "" if self.run == 1 else f"(第{self.run}轮)"
        for channel, entry in self.double["channels"].items():
            for _ in range(max(1, round(ACTIVITIES_PER_CHANNEL * self.scale))):
                month = rng.randint(1, 11)
                self.plan.add(step(month, 1, f"A-{channel}", "record_activity",
                                   (channel, rng.choice(codes), entry["name"] + "活动", rng.choice(UNITS),
                                    day(month, rng.randint(1, 28)), rng.randint(10, 200))))
                self.plan.activities[channel] += 1
        for (venue, audience), n in SESSIONS.items():
            for _ in range(max(1, round(n * self.scale))):
                month = rng.randint(1, 11)
                self.plan.add(step(month, 1, f"S-{venue}", "hold_education_session",
                                   (venue, audience, rng.choice(codes), "国防教育", day(month, rng.randint(1, 28)),
                                    rng.randint(30, 2000 if venue == "media" else 400))))
                self.plan.sessions += 1
        for index, area in enumerate(self.areas):
            civilian = area["name"] + ("社区" if index % 2 else "中学") + suffix
            self.plan.add(step(rng.randint(1, 6), 1, f"P-{area['code']}", "form_pair",
                               (area["code"], civilian, UNITS[index % len(UNITS)], day(3, 1))))
            self.plan.pairs += 1
        self.plan.add(step(12, 2, "file", "submit_evidence_file", (YEAR, day(12, 15)),
                           expect=Expect(done=("Conflict", "year")), label="evidence file"))

    # bad commands ---------------------------------------------------------------------------------------
    def bad_commands(self, members: list[dict]) -> None:
        first = members[0]
        insured = next(m for m in members if m["grade"] is not None and m["grade"] <= 6)
        stranger = self.people.person(1950, 1960).identity()
        plain = next(m for m in members if m["category"] == "demobilised_veteran" and m["from"] == 1)
        bad = [
            (3, "register_beneficiary", ("disabled_serviceman", first["area"], stranger["id_number"],
                                         stranger["name"], stranger["birth_date"], day(3, 1), 8, "illness"),
             "InvalidInput", "an illness-caused disability of grade 8 (rated 1-6 only)"),
            (3, "register_beneficiary", ("martyr_family", first["area"], first["who"]["id_number"],
                                         first["who"]["name"], first["who"]["birth_date"], day(3, 1)),
             "Conflict", "a person registered twice"),
            (5, "join_assistance", (Ref(insured["key"]), day(5, 2)),
             "Conflict", "a grade 1-6 disabled serviceman in the assistance scheme"),
            (5, "claim_assistance", (Ref(plain["key"]), day(5, 2), "500.00"),
             "Conflict", "a claim by a beneficiary outside the assistance scheme"),
            (6, "record_activity", ("sports", first["area"], "运动会", UNITS[0], day(6, 1), 50),
             "InvalidInput", "an activity through a channel the plan does not name"),
            (7, "hold_education_session", ("park", "public", first["area"], "国防", day(7, 1), 50),
             "InvalidInput", "an education session at an unknown venue"),
        ]
        for month, method, args, expect, label in bad:
            self.plan.add(step(month, 2, f"bad-{label}", method, args, expect=refused(expect), label=label))


MIN_SCALE = 0.05


def build_plan(rng: random.Random, directory: Path | None = None, scale: float = 1.0, run: int = 1) -> Plan:
    return Builder(rng, load_reference(directory), max(MIN_SCALE, scale), run).build()


# --- the scenario's interface (shared/demo_kit.py) --------------------------------------------------

def plan(seed: int, size: float = 1.0, run: int = 1, reference: Path | None = None) -> Plan:
    return build_plan(random.Random(f"{seed}:military_support"), reference, size, run)


def runs_done(kit: Kit) -> int:
    """Earlier demo runs on this database: each received WORKERS workers."""
    received = kit.call("statistics")["workers_received"]
    return -(-received // WORKERS)


def run(plan: Plan, kit: Kit) -> "Outcome":
    kit.months(plan, lambda month: f"military_support {YEAR}-{month:02d}")
    outcome = Outcome(summarise(plan, kit.tally), kit.tally)
    print_summary(outcome.summary, kit.out)
    kit.tally.print(kit.out)
    return outcome


def drive(rpc_factory: Callable, rng_seed: int = 2007, progress: bool = True, out=sys.stdout,
          concurrency: int = 8, run_number: int = 1, size: float = 1.0) -> "Outcome":
    """The year planned from `rng_seed`, driven through `rpc_factory()` proxies."""
    kit = Kit("military_support", rpc_factory, concurrency=concurrency, progress=progress, out=out)
    try:
        return run(plan(rng_seed, size, run_number), kit)
    finally:
        kit.close()


def summarise(plan: Plan, tally: Tally) -> dict:
    return {**command_summary(tally),
            "planned": {"beneficiaries": dict(plan.beneficiaries), "grade_1_6": plan.grade_1_6,
                        "benefits_yuan": str(plan.benefits_yuan), "workers": plan.workers,
                        "activities": dict(plan.activities), "sessions": plan.sessions,
                        "pairs": plan.pairs}}


def print_summary(summary: dict, out=sys.stdout) -> None:
    planned = summary["planned"]
    p = lambda *a: print(*a, file=out)  # noqa: E731
    p(f"\n== Zhonglou district military support, {YEAR}: {summary['commands']} commands accepted ==")
    p(f"beneficiaries registered: {planned['beneficiaries']}; grade 1-6 disabled servicemen "
      f"{planned['grade_1_6']}, all enrolled in medical insurance by November")
    p(f"benefits paid by the monthly runs: {planned['benefits_yuan']} yuan; workers without military "
      f"status received and placed: {planned['workers']}")
    p(f"army-support activities by channel: {planned['activities']}; education sessions "
      f"{planned['sessions']}; co-building pairs {planned['pairs']}")
    for bad in summary["bad_commands"]:
        mark = "ok" if bad["got"] == bad["expected"] else "!!"
        p(f"  {mark} refused command: {bad['label']}: expected {bad['expected']}, got {bad['got']}")


def report_ready(section: dict | None, plan: Plan, outcome: Outcome) -> bool:
    metrics = (section or {}).get("district", {}).get("metrics", {})
    return (metrics.get("workers_received") or {}).get("value", 0) >= plan.workers * plan.run


def print_report(section: dict | None, plan: Plan, outcome: Outcome, out=sys.stdout) -> None:
    print_targets("military support targets", section,
                  {"channels_with_activity": "8 planned", "resettlement_ratio": "all placed"}, out)
