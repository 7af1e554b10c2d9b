"""The demo's community-building year: a simulated 2007 of Zhonglou district's 社区建设 work,
driven through the `community` service's RPC interface only.

    python -m deploy.demo --domains community              # after `make run`

Two halves (the scenario interface of shared/demo_kit.py):
- `plan(seed, size, run)` is a pure function of the seed, the size (a scale of the communities
  and organisations per area), the run number (which keys the people drawn and the names, so a
  second run on one database meets new people and new communities) and the reference data:
  communities in every area carried over from earlier years, star ratings (one raised from four
  to five stars, three new four-star, six new three-star of which one is revoked in October, one
  five-star kept from 2006), two brand and one digital designation per street and one in the
  town, all four meetings in every community; civil organisations of every kind, registered or
  filed, the ones due inspected in May; villages of the rural areas inspected for openness, four
  in five municipal model villages, every committee election in the second half (one village
  also voted in May, which does not count); committee offices for every community (one
  extended in October); on run 1 the service centres of the other areas and the nine named
  projects planned, started and completed (a second run finds them there: "already done");
  WORKERS community workers, trained within the first half; and a few deliberately bad commands.
- `run(plan, kit)` executes the plan month by month: registrations (phase 0), the month's work in
  parallel lanes (phase 1), then the bad commands one after another (phase 2).
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

TITLE = "community building (社区建设)"
YEAR = 2007
REFERENCE = Path(__file__).resolve().parent / "reference"
COMMUNITIES = 6                  # per area at full size (at least 3)
ORGANISATIONS = 8                # per area at full size (at least 5)
VILLAGES = 5                     # per area with a rural population, whatever the size
WORKERS = 6                      # per run, whatever the size: `runs_done` counts them
MEETINGS = ("consultation", "coordination", "hearing", "review")
CHANNELS = ("open_recruitment", "secondment", "graduate")
KINDS = ("social_group", "private_non_enterprise", "rural_association", "community_group", "social_group")
CENTRES = {"nandajie": (2100, None), "hehuachi": (1600, 2050), "wuxing": (2000, None),
           "yonghong": (1800, None), "xinzha": (2400, None)}   # area -> (m², extended to)
ALREADY = Expect(done=("Conflict", "name"))


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
    communities: int = 0
    new_stars: Counter = field(default_factory=Counter)     # level -> net new in the year
    organisations: int = 0
    villages: int = 0
    workers: int = 0
    named_projects: int = 0

    def add(self, *steps: Step) -> None:
        self.steps.extend(steps)

    def month(self, m: int) -> list[Step]:
        return [s for s in self.steps if s.month == m]

    def __len__(self) -> int:
        return len(self.steps)


def load_reference(directory: Path | None = None):
    from shared.referencedata import DATA_DIR
    areas = json.loads((Path(directory or DATA_DIR) / "areas.json").read_text(encoding="utf-8"))["areas"]
    facilities = json.loads((REFERENCE / "facilities.json").read_text(encoding="utf-8"))
    return areas, facilities


class Builder:
    def __init__(self, rng: random.Random, reference, scale: float, run: int):
        self.rng, self.scale, self.run = rng, scale, run
        self.areas, self.facilities = reference
        self.people = People(rng, run)
        self.plan = Plan(run=run, scale=scale)
        self.suffix = "" if run == 1 else f"(第{run}轮)"
        self.counter = 0

    def key(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.run}-{self.counter:04d}"

    def build(self) -> Plan:
        communities = self.communities()
        self.stars(communities)
        self.designations(communities)
        self.meetings_and_offices(communities)
        organisations = self.organisations()
        self.villages()
        self.facilities_and_projects()
        workers = self.workers()
        self.bad_commands(communities, organisations, workers)
        return self.plan

    # communities -------------------------------------------------------------------------------------
    def communities(self) -> dict[str, list[dict]]:
        rng, found = self.rng, {}
        for area in self.areas:
            found[area["code"]] = []
            for index in range(max(3, round(COMMUNITIES * self.scale))):
                key = self.key("C")
                name = f"{area['name'].removesuffix('街道').removesuffix('镇')}第{index + 1}社区{self.suffix}"
                registered = date(rng.randint(2000, 2005), rng.randint(1, 12), rng.randint(1, 28)).isoformat()
                self.plan.add(step(1, 0, key, "register_community", (area["code"], name, registered), saves=key,
                                   label=f"community of {area['code']}"))
                found[area["code"]].append({"key": key, "area": area["code"], "kind": area["kind"], "name": name})
                self.plan.communities += 1
        return found

    def stars(self, communities: dict[str, list[dict]]) -> None:
        ordered = [c for index in range(3) for cs in communities.values() for c in cs[index:index + 1]]
        award = lambda c, month, level, on: self.plan.add(  # noqa: E731
            step(month, 1, c["key"], "award_star", (Ref(c["key"]), level, on), label=f"{level} stars"))
        award(ordered[0], 1, 4, "2006-06-01")            # raised to five stars in June
        award(ordered[0], 6, 5, day(6, 18))
        self.plan.new_stars[5] += 1
        for c in ordered[1:4]:
            award(c, 4, 4, day(4, 20))
            self.plan.new_stars[4] += 1
        for c in ordered[4:10]:
            award(c, 3, 3, day(3, 15))
            self.plan.new_stars[3] += 1
        revoked = ordered[9]
        self.plan.add(step(10, 1, revoked["key"], "revoke_star", (Ref(revoked["key"]), day(10, 8), "跟踪考核不达标"),
                           label="rating revoked"))
        self.plan.new_stars[3] -= 1
        award(ordered[10], 1, 5, "2006-05-01")           # a five-star community since 2006: not new

    def designations(self, communities: dict[str, list[dict]]) -> None:
        done = Expect(done=("Conflict", "designation"))  # a later run: the street's quota is full
        for area, cs in communities.items():
            lane = f"D-{area}"
            plans = [(cs[0], "brand", "自治型社区"), (cs[1], "brand", "服务型社区"), (cs[0], "digital", "数字型社区")]
            if cs[0]["kind"] != "street":
                plans = plans[:1]
            for month, (c, designation, title) in zip((5, 7, 9), plans):
                self.plan.add(step(month, 1, lane, "designate_community",
                                   (Ref(c["key"]), designation, day(month, 12), title), expect=done))

    def meetings_and_offices(self, communities: dict[str, list[dict]]) -> None:
        rng, first = self.rng, True
        for cs in communities.values():
            for c in cs:
                for index, kind in enumerate(MEETINGS):
                    month = 2 + index * 3
                    self.plan.add(step(month, 1, c["key"], "hold_meeting",
                                       (Ref(c["key"]), kind, day(month, rng.randint(1, 28)), "社区议事",
                                        rng.randint(15, 120))))
                office = self.key("O")
                m2 = 260 if first else rng.randint(300, 450)
                self.plan.add(step(1, 1, c["key"], "record_facility",
                                   (c["area"], "committee_office", c["name"], m2, day(1, 8)), saves=office))
                if first:
                    self.plan.add(step(10, 1, c["key"], "change_floor_area", (Ref(office), 320, day(10, 15), "扩建")))
                    first = False

    # civil organisations ---------------------------------------------------------------------------------
    def organisations(self) -> list[dict]:
        rng, found = self.rng, []
        for area in self.areas:
            rural = area.get("rural_population", 0) > 0
            for index in range(max(5, round(ORGANISATIONS * self.scale))):
                kind = KINDS[index % len(KINDS)]
                if kind == "rural_association" and not rural:
                    kind = "private_non_enterprise"
                carried = index % len(KINDS) < 3                 # registered before 2007: due for inspection
                key = self.key("G")
                name = f"{area['name']}{['老年协会', '阳光幼儿园', '专业合作协会', '舞蹈队', '志愿者协会'][index % 5]}{index + 1}{self.suffix}"
                month = 1 if carried else rng.randint(1, 6)
                identified = date(rng.randint(2004, 2006), rng.randint(1, 6), 5).isoformat() if carried else day(month, 5)
                self.plan.add(step(month, 0, key, "identify_organisation", (area["code"], name, kind, identified),
                                   saves=key, label=f"organisation of {area['code']}"))
                if kind == "community_group":
                    self.plan.add(step(month + 1, 1, key, "file_organisation", (Ref(key), day(month + 1, 10))))
                else:
                    registered = identified[:5] + "07-01" if carried else day(month + 1, 10)
                    self.plan.add(step(month if carried else month + 1, 1, key, "register_organisation",
                                       (Ref(key), registered, f"苏常社证字第{self.run:02d}{self.counter:04d}号")))
                if carried:
                    result = "failed" if index == 0 and area["code"] == "xinzha" else \
                        rng.choice(("passed", "passed", "basically_passed"))
                    self.plan.add(step(5, 1, key, "inspect_organisation", (Ref(key), day(5, rng.randint(10, 28)), result)))
                found.append({"key": key, "kind": kind, "carried": carried, "month": month})
                self.plan.organisations += 1
        return found

    # villages --------------------------------------------------------------------------------------------
    def villages(self) -> None:
        rng, early = self.rng, True
        self.first_village = None
        for area in self.areas:
            if not area.get("rural_population"):
                continue
            for index in range(VILLAGES):
                key = self.key("V")
                name = f"{area['name'].removesuffix('街道').removesuffix('镇')}{index + 1}村{self.suffix}"
                self.first_village = self.first_village or key
                self.plan.add(step(1, 0, key, "register_village", (area["code"], name, "2006-01-01"), saves=key,
                                   label=f"village of {area['code']}"))
                model = index < VILLAGES - 1
                self.plan.add(step(3, 1, key, "inspect_openness",
                                   (Ref(key), day(3, rng.randint(1, 28)), "up_to_standard" if model else "needs_rectification",
                                    "公开栏规范, 财务按月公开" if model else "财务公开不及时")))
                if model:
                    provincial = index == 0 and area["code"] == "xinzha"
                    self.plan.add(step(6, 1, key, "award_model_village",
                                       (Ref(key), "provincial" if provincial else "municipal", day(6, 15),
                                        "江苏省民政厅" if provincial else "常州市民政局")))
                if early:
                    self.plan.add(step(5, 1, key, "record_election", (Ref(key), day(5, 20)), label="election in May"))
                    early = False
                month = rng.randint(7, 12)
                self.plan.add(step(month, 1, key, "record_election", (Ref(key), day(month, rng.randint(1, 28)))))
                self.plan.villages += 1

    # facilities ------------------------------------------------------------------------------------------
    def facilities_and_projects(self) -> None:
        rng = self.rng
        if self.run > 1:
            area, (m2, _) = next(iter(CENTRES.items()))
            name = next(a["name"] for a in self.areas if a["code"] == area) + "社区服务中心"
            self.plan.add(step(1, 1, "centres", "record_facility", (area, "service_centre", name, m2, day(1, 6)),
                               expect=ALREADY, label="a centre recorded again"))
            p = self.facilities["named_projects"][0]
            self.plan.add(step(1, 1, "projects", "plan_project", (p["area"], p["kind"], p["name"], 2200, day(1, 10),
                                                                  day(12, 31)),
                               expect=ALREADY, label="a named project planned again"))
            return
        names = {a["code"]: a["name"] for a in self.areas}
        for area, (m2, extended) in CENTRES.items():
            if area not in names:
                continue
            key = self.key("F")
            self.plan.add(step(1, 1, key, "record_facility", (area, "service_centre", names[area] + "社区服务中心",
                                                             m2, day(1, 6)), saves=key))
            if extended:
                self.plan.add(step(11, 1, key, "change_floor_area", (Ref(key), extended, day(11, 20), "置换扩建")))
        for p in self.facilities["named_projects"]:
            if p.get("year") != YEAR:
                continue
            key = self.key("P")
            centre = p["kind"] == "service_centre"
            planned = rng.randint(2100, 2600) if centre else rng.randint(300, 420)
            self.plan.add(step(1, 0, key, "plan_project", (p["area"], p["kind"], p["name"], planned, day(1, 10),
                                                          day(12, 31)), saves=key, label="named project"))
            start = rng.randint(2, 4)
            self.plan.add(step(start, 1, key, "start_project", (Ref(key), day(start, 28))))
            done = rng.randint(6, 11)
            self.plan.add(step(done, 1, key, "complete_project", (Ref(key), day(done, 25), planned + rng.randint(0, 80))))
            self.plan.named_projects += 1

    # workers ----------------------------------------------------------------------------------------------
    def workers(self) -> list[dict]:
        found = []
        for index in range(WORKERS):
            who = self.people.person(1975, 1986).identity()
            key = self.key("W")
            area = self.areas[index % len(self.areas)]
            hired = 9 if index == WORKERS - 1 else index % 5 + 1
            self.plan.add(step(hired, 0, key, "hire_worker",
                               (area["code"], area["name"] + "社区", who["id_number"], who["name"], who["birth_date"],
                                CHANNELS[index % 3], day(hired, 3)), saves=key, label="worker hired"))
            trained = hired + 1
            self.plan.add(step(trained, 1, key, "train_worker", (Ref(key), day(trained, 20), "新上岗社区专职工作者培训")))
            found.append({"key": key, "who": who, "hired": hired, "area": area["code"]})
            self.plan.workers += 1
        return found

    # bad commands ----------------------------------------------------------------------------------------------
    def bad_commands(self, communities: dict, organisations: list[dict], workers: list[dict]) -> None:
        street = next(cs for cs in communities.values() if cs[0]["kind"] == "street")
        group = next(o for o in organisations if o["kind"] == "community_group")
        new = next(o for o in organisations if not o["carried"] and o["kind"] == "social_group")
        first = workers[0]
        bad = [
            (3, "award_star", (Ref(street[2]["key"]), 2, day(3, 20)), "InvalidInput", "a two-star rating"),
            (10, "designate_community", (Ref(street[2]["key"]), "brand", day(10, 12), "学习型社区"),
             "Conflict", "a third brand community in a street"),
            (8, "register_organisation", (Ref(group["key"]), day(8, 1), "苏常社证字第999号"),
             "Conflict", "a community group registered instead of filed"),
            (8, "inspect_organisation", (Ref(new["key"]), day(8, 2), "passed"),
             "Conflict", "an organisation registered this year inspected"),
            (9, "record_facility", (street[0]["area"], "committee_office", "超大办公用房", 60_000, day(9, 1)),
             "InvalidInput", "a floor area beyond the reference data's ceiling"),
            (9, "hire_worker", (first["area"], "某社区", first["who"]["id_number"], first["who"]["name"],
                                first["who"]["birth_date"], "graduate", day(9, 1)),
             "Conflict", "a worker hired twice"),
            (9, "train_worker", (Ref(first["key"]), "2006-01-01", "岗前培训"), "InvalidInput", "a training before the hire"),
            (9, "record_election", (Ref(self.first_village), "2099-07-01"), "InvalidInput",
             "an election in the future"),
        ]
        for month, method, args, expect, label in bad:
            self.plan.add(step(month, 2, f"bad-{label}", method, args, expect=refused(expect), label=label))


MIN_SCALE = 0.05


def build_plan(rng: random.Random, directory: Path | None = None, scale: float = 1.0, run: int = 1) -> Plan:
    return Builder(rng, load_reference(directory), max(MIN_SCALE, scale), run).build()


# --- the scenario's interface (shared/demo_kit.py) --------------------------------------------------

def plan(seed: int, size: float = 1.0, run: int = 1, reference: Path | None = None) -> Plan:
    return build_plan(random.Random(f"{seed}:community"), reference, size, run)


def runs_done(kit: Kit) -> int:
    """Earlier demo runs on this database: each hired WORKERS workers."""
    hired = kit.call("statistics")["workers_hired"]
    return -(-hired // WORKERS)


def run(plan: Plan, kit: Kit) -> "Outcome":
    kit.months(plan, lambda month: f"community {YEAR}-{month:02d}")
    outcome = Outcome(summarise(plan, kit.tally), kit.tally)
    print_summary(outcome.summary, kit.out)
    kit.tally.print(kit.out)
    return outcome


def drive(rpc_factory: Callable, rng_seed: int = 2007, progress: bool = True, out=sys.stdout,
          concurrency: int = 8, run_number: int = 1, size: float = 1.0) -> "Outcome":
    """The year planned from `rng_seed`, driven through `rpc_factory()` proxies."""
    kit = Kit("community", rpc_factory, concurrency=concurrency, progress=progress, out=out)
    try:
        return run(plan(rng_seed, size, run_number), kit)
    finally:
        kit.close()


def summarise(plan: Plan, tally: Tally) -> dict:
    return {**command_summary(tally),
            "planned": {"communities": plan.communities, "new_stars": {str(k): v for k, v in sorted(plan.new_stars.items())},
                        "organisations": plan.organisations, "villages": plan.villages, "workers": plan.workers,
                        "named_projects": plan.named_projects}}


def print_summary(summary: dict, out=sys.stdout) -> None:
    planned = summary["planned"]
    p = lambda *a: print(*a, file=out)  # noqa: E731
    p(f"\n== Zhonglou district community building, {YEAR}: {summary['commands']} commands accepted ==")
    p(f"communities: {planned['communities']}; net new star ratings {planned['new_stars']}; civil organisations "
      f"{planned['organisations']}; villages {planned['villages']}")
    p(f"community workers hired and trained: {planned['workers']}; named projects completed: {planned['named_projects']}")
    for bad in summary["bad_commands"]:
        mark = "ok" if bad["got"] == bad["expected"] else "!!"
        p(f"  {mark} refused command: {bad['label']}: expected {bad['expected']}, got {bad['got']}")


def report_ready(section: dict | None, plan: Plan, outcome: Outcome) -> bool:
    metrics = (section or {}).get("district", {}).get("metrics", {})
    return (metrics.get("workers_hired") or {}).get("value", 0) >= plan.workers * plan.run


def print_report(section: dict | None, plan: Plan, outcome: Outcome, out=sys.stdout) -> None:
    print_targets("community building targets", section,
                  {"new_five_star_communities": "1 planned", "four_meetings_ratio": "all four everywhere"}, out)
