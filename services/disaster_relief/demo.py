"""The demo's disaster relief year: Zhonglou district's 2007 of incidents, reports, rosters,
relief cards and reserves, driven through the `disaster_relief` RPC interface only.

    python -m deploy.demo --domains disaster_relief      # after `make run`

The year, in order of time:
- January: every town and street deposits its natural-disaster relief reserve (20,000–32,000
  yuan; the plan's floor is 20,000).
- May: hail in Beigang and Yonghong (Tuesday 22 May): reported on time, raised to level IV by a
  follow-up, final on time; a few households on the roster; rice and cash; closed in June.
- July: the flood in Xinzha and Xilin (Friday 6 July, 03:30): the initial report is LATE (roads
  under water), follow-ups raise it to level II (the district leads), the final report is LATE
  too; the largest roster, quilts, rice and cash. Xilin is replenished in August; Xinzha is not,
  and ends the year BELOW the floor (the floor is a target to replenish, not a barrier to relief).
- August: typhoon remnants over Wuxing, Nandajie and Hehuachi (Sunday 19 August): the initial
  estimate (level III) is lowered to IV by a follow-up; the final report comes a day late.
- The flood is closed in September, the typhoon in October.
- Deliberately bad commands the service must refuse, each with the typed error expected: a
  follow-up before the initial report, negative figures, a report before the occurrence, a
  disbursement larger than the reserve, a disbursement and a roster entry on a closed incident,
  the same household twice on one roster.

`plan(seed, size, run)` is a pure function of the seed, the run number and the reference data
(which households, their identity numbers, needs, aid and amounts; the year is small, so the
size does not change it); `run(plan, kit)` executes it in order through the kit
(shared/demo_kit.py) and prints a summary. A second run on one database adds a second set of
incidents and deposits, with new people (drawn from the run's space); `runs_done` counts the
earlier runs by their hail incidents.
"""
from __future__ import annotations

import functools
import json
import random
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from shared.demo_kit import OK, Kit, People, Ref, Step, Tally, refused

TITLE = "disaster relief (救灾应急)"
YEAR = 2007
FLOOR = Decimal("20000.00")       # only to plan amounts; the service reads its own data file
OFFICERS = {"report": "officer-qian", "roster": "officer-zhou", "money": "officer-wang",
            "close": "officer-qian"}
SOURCE = "区财政 1708 科目 (救灾支出)"
BELOW_FLOOR_AREA = "xinzha"       # the one reserve left below the floor at year end


@dataclass
class Incident:
    key: str
    incident_type: str
    areas: tuple[str, ...]
    occurred_at: str
    description: str
    reports: tuple[tuple[str, str, dict], ...]     # (stage, reported_at, figures)
    households: dict[str, int]                      # area -> households on the roster
    items: tuple[tuple[str, int, int], ...]         # (item, min, max) given to every household
    cash: tuple[int, ...]                           # possible cash amounts per household
    closed_on: str | None


def figures(deaths=0, missing=0, relocated=0, houses=0, loss="0.00") -> dict:
    return {"deaths": deaths, "missing": missing, "relocated": relocated,
            "houses_damaged": houses, "direct_loss": loss}


INCIDENTS = (
    Incident("hail", "hail", ("beigang", "yonghong"), "2007-05-22T15:40", "强对流天气，局地冰雹、大风",
             (("initial", "2007-05-22T16:50", figures(houses=35, loss="420000.00")),
              ("follow_up", "2007-05-23T10:00", figures(houses=58, loss="610000.00")),
              ("final", "2007-05-25T16:00", figures(houses=61, loss="655000.00"))),
             {"beigang": 4, "yonghong": 3}, (("rice", 10, 20), ("tarpaulin", 1, 2)), (300, 500, 800),
             "2007-06-15"),
    Incident("flood", "flood", ("xinzha", "xilin"), "2007-07-06T03:30", "连续强降雨，河水漫堤，农田村庄受淹",
             (("initial", "2007-07-06T06:05", figures(relocated=420, houses=40, loss="900000.00")),
              ("follow_up", "2007-07-06T18:00", figures(missing=1, relocated=3400, houses=520, loss="7800000.00")),
              ("follow_up", "2007-07-07T12:00", figures(deaths=1, relocated=3250, houses=600, loss="8400000.00")),
              ("final", "2007-07-12T10:00", figures(deaths=1, relocated=3100, houses=620, loss="8600000.00"))),
             {"xinzha": 18, "xilin": 10}, (("rice", 15, 25), ("quilt", 1, 3), ("drinking_water", 12, 24)),
             (400, 600, 800, 1000, 1200), "2007-09-28"),
    Incident("typhoon", "typhoon", ("wuxing", "nandajie", "hehuachi"), "2007-08-19T14:00",
             "台风外围影响，大风暴雨，部分危旧房屋受损",
             (("initial", "2007-08-19T15:30", figures(relocated=1200, houses=90, loss="1600000.00")),
              ("follow_up", "2007-08-20T11:00", figures(relocated=450, houses=95, loss="1750000.00")),
              ("final", "2007-08-23T09:30", figures(relocated=430, houses=97, loss="1820000.00"))),
             {"wuxing": 4, "nandajie": 3, "hehuachi": 3}, (("rice", 10, 15), ("cotton_clothes", 1, 3)),
             (300, 500, 600), "2007-10-31"),
)
NEEDS = ("food", "drinking_water", "shelter", "clothing", "medical", "house_repair", "living_allowance")
PREFIX = {"nandajie": "NDJ", "hehuachi": "HHC", "wuxing": "WX", "yonghong": "YH", "beigang": "BG",
          "xilin": "XL", "xinzha": "XZ"}


# --- the plan ---------------------------------------------------------------------------------------

def load_areas(directory: Path | None = None) -> list[str]:
    from shared.referencedata import DATA_DIR
    path = Path(directory or DATA_DIR) / "areas.json"
    return [a["code"] for a in json.loads(path.read_text(encoding="utf-8"))["areas"]]


def day(text: str, plus: int = 0) -> str:
    return (date.fromisoformat(text[:10]) + timedelta(days=plus)).isoformat()


def _head(people: People) -> tuple[str, str]:
    """A household head: identity number and name."""
    person = people.person(1935, 1984)
    return person.id_number, person.name


@dataclass
class _Plan:
    rng: random.Random
    areas: list[str]
    steps: list[Step] = field(default_factory=list)
    balance: dict[str, Decimal] = field(default_factory=dict)
    households: dict[str, list] = field(default_factory=dict)   # incident key -> (id, name, area)

    people: People | None = None

    def add(self, label, method, *args, keep=None, expect=OK):
        self.steps.append(Step(label, method, tuple(args), expect=expect, saves=keep))


def build_plan(rng: random.Random, areas: list[str] | None = None, run: int = 1) -> list[Step]:
    """Every command of the year, in order of time (a pure function of `rng`, the areas and the
    run number, which keys the people drawn)."""
    people = People(rng, run)
    plan = _Plan(rng, areas or load_areas(), people=people)
    for area in plan.areas:
        amount = Decimal(rng.randrange(200, 321) * 100).quantize(Decimal("0.01"))
        plan.balance[area] = amount
        plan.add(f"reserve {area}", "deposit", area, str(amount), SOURCE, OFFICERS["money"], f"{YEAR}-01-15")
    for incident in INCIDENTS:
        _incident(plan, incident, people)
    _closures(plan)
    return plan.steps


def _incident(plan: _Plan, incident: Incident, people: People) -> None:
    key = incident.key
    plan.add(f"{key}: registered", "register_incident", incident.incident_type, list(incident.areas),
             incident.occurred_at, OFFICERS["report"], incident.description, keep=key)
    if key == "typhoon":
        plan.add("typhoon: follow-up before the initial report", "report", Ref(key), "follow_up",
                 figures(relocated=100), day(incident.occurred_at) + "T15:00", OFFICERS["report"],
                 expect=refused("Conflict"))
    if key == "flood":
        plan.add("flood: negative figures", "report", Ref(key), "initial", figures(relocated=-3),
                 "2007-07-06T05:00", OFFICERS["report"], expect=refused("InvalidInput"))
        plan.add("flood: report before the occurrence", "report", Ref(key), "initial", figures(relocated=5),
                 "2007-07-06T02:00", OFFICERS["report"], expect=refused("InvalidInput"))
    (stage, reported_at, figs), *later = incident.reports
    plan.add(f"{key}: {stage} report", "report", Ref(key), stage, figs, reported_at, OFFICERS["report"])
    households = _roster(plan, incident, people)
    for stage, reported_at, figs in later:
        plan.add(f"{key}: {stage} report", "report", Ref(key), stage, figs, reported_at, OFFICERS["report"])
    _aid(plan, incident, households)


def _roster(plan: _Plan, incident: Incident, people: People) -> list[tuple[str, str, str]]:
    rng, listed_on = plan.rng, day(incident.occurred_at, 1)
    households = []
    for area, count in incident.households.items():
        for n in range(1, count + 1):
            household_id = f"{PREFIX.get(area, area[:3].upper())}-{YEAR}-{incident.key[:2].upper()}{n:03d}"
            number, name = _head(people)
            needs = sorted(rng.sample(NEEDS, rng.randint(1, 3)), key=NEEDS.index)
            plan.add(f"{incident.key}: roster {household_id}", "add_to_roster", Ref(incident.key),
                     household_id, number, name, area, rng.randint(1, 5), needs, OFFICERS["roster"], listed_on)
            households.append((household_id, name, area))
    plan.households[incident.key] = households
    first_id, first_name, first_area = households[0]
    if incident.key == "flood":
        plan.add("flood: the same household twice on the roster", "add_to_roster", Ref("flood"), first_id,
                 _head(people)[0], first_name, first_area, 2, ["food"], OFFICERS["roster"], listed_on,
                 expect=refused("Conflict"))
    return households


def _aid(plan: _Plan, incident: Incident, households: list[tuple[str, str, str]]) -> None:
    rng = plan.rng
    given_on = day(incident.occurred_at, 2)
    for household_id, _name, _area in households:
        for item, low, high in incident.items:
            plan.add(f"{incident.key}: {item} for {household_id}", "record_aid", Ref(incident.key),
                     household_id, item, rng.randint(low, high), OFFICERS["roster"], given_on)
    paid_on = day(incident.occurred_at, 9)
    for household_id, name, area in households:
        if rng.random() < 0.15:
            continue      # in-kind aid was enough
        amount = Decimal(rng.choice(incident.cash))
        if amount > plan.balance[area]:
            continue      # the plan never overdraws a reserve (the typhoon's bad command does)
        _pay(plan, incident.key, household_id, name, area, amount, paid_on)
    if BELOW_FLOOR_AREA in incident.areas and plan.balance[BELOW_FLOOR_AREA] >= FLOOR:
        # A second living allowance to the first household there takes the reserve below the floor.
        household_id, name, area = next(h for h in households if h[2] == BELOW_FLOOR_AREA)
        amount = plan.balance[area] - FLOOR + Decimal(plan.rng.randrange(5, 30) * 100)
        _pay(plan, incident.key, household_id, name, area, amount, day(incident.occurred_at, 12))
    if incident.key == "typhoon":
        household_id, name, area = households[-1]
        plan.add("typhoon: a disbursement larger than the reserve", "disburse", Ref("typhoon"), household_id,
                 name, "999999.00", OFFICERS["money"], paid_on, expect=refused("Conflict"))
    _replenish(plan, incident, day(incident.occurred_at, 40))


def _pay(plan: _Plan, key: str, household_id: str, name: str, area: str, amount: Decimal, on: str) -> None:
    plan.balance[area] -= amount
    plan.add(f"{key}: cash for {household_id}", "disburse", Ref(key), household_id, name,
             str(amount.quantize(Decimal("0.01"))), OFFICERS["money"], on)


def _replenish(plan: _Plan, incident: Incident, on: str) -> None:
    """Bring every struck area except one back to the floor; that one stays below it."""
    for area in incident.areas:
        if area != BELOW_FLOOR_AREA and plan.balance[area] < FLOOR:
            top_up = (FLOOR - plan.balance[area]) + Decimal(plan.rng.randrange(10, 50) * 100)
            plan.balance[area] += top_up
            plan.add(f"replenish {area}", "deposit", area, str(top_up.quantize(Decimal("0.01"))), "区财政追加救灾资金",
                     OFFICERS["money"], on)


def _closures(plan: _Plan) -> None:
    closed = {i.key: i for i in INCIDENTS if i.closed_on}
    for key, incident in sorted(closed.items(), key=lambda kv: kv[1].closed_on):
        plan.add(f"{key}: closed", "close_incident", Ref(key), OFFICERS["close"], incident.closed_on)
    household_id, name, area = plan.households["hail"][0]
    plan.add("hail: a disbursement after closing", "disburse", Ref("hail"), household_id, name,
             "100.00", OFFICERS["money"], "2007-11-01", expect=refused("Conflict"))
    number, newcomer = _head(plan.people)
    plan.add("hail: a roster entry after closing", "add_to_roster", Ref("hail"), f"{household_id}-NEW", number,
             newcomer, area, 2, ["food"], OFFICERS["roster"], "2007-11-01", expect=refused("Conflict"))


# --- the scenario's interface (shared/demo_kit.py) ----------------------------------------------

@dataclass(frozen=True)
class Plan:
    seed: int
    run: int
    steps: tuple[Step, ...]


def plan(seed: int, size: float = 1.0, run: int = 1, reference: list[str] | None = None) -> Plan:
    """The year of run `run` (the plan is small: `size` does not change it)."""
    return Plan(seed, run, tuple(build_plan(random.Random(seed), reference, run)))


def runs_done(kit: Kit) -> int:
    """Earlier demo runs on this database: the hail incidents of the year."""
    hail = next(i for i in INCIDENTS if i.key == "hail")
    return sum(1 for i in kit.call("list_incidents", YEAR)
               if i["incident_type"] == hail.incident_type and i["occurred_at"][:16] == hail.occurred_at)


@dataclass
class Outcome:
    tally: Tally
    done: int = 0
    ids: dict[str, str] = field(default_factory=dict)
    incidents: list[dict] = field(default_factory=list)
    reserves: list[dict] = field(default_factory=list)
    late_reports: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.tally.ok

    @property
    def unexpected(self) -> list[str]:
        return list(self.tally.problems)

    @property
    def refused(self):
        return self.tally.refused


def run(plan: Plan, kit: Kit) -> Outcome:
    """Drive the year in order of time through `kit` (service `disaster_relief`)."""
    outcome = Outcome(kit.tally)
    with kit.bar(f"disaster relief {YEAR}", len(plan.steps)) as bar:
        for step in plan.steps:
            kit.step(step, outcome.ids)
            outcome.done += 1
            bar.update(1)
    ids = set(outcome.ids.values())
    outcome.incidents = [i for i in kit.call("list_incidents", YEAR) if i["incident_id"] in ids]
    outcome.reserves = kit.call("reserves")
    outcome.late_reports = [r for r in kit.call("late_reports", YEAR) if r["incident_id"] in ids]
    summary(outcome, kit.out)
    return outcome


def drive(rpc_factory, rng: random.Random, progress: bool = True, out=sys.stdout, run_number: int = 1) -> Outcome:
    """The year planned with `rng`, driven through `rpc_factory()` proxies (e.g.
    `functools.partial(shared.rpc.cluster, amqp_uri)`): for callers that hold a generator."""
    kit = Kit("disaster_relief", rpc_factory, concurrency=1, progress=progress, out=out)
    try:
        return run(Plan(0, run_number, tuple(build_plan(rng, run=run_number))), kit)
    finally:
        kit.close()


def summary(outcome: Outcome, out=sys.stdout) -> None:
    p = functools.partial(print, file=out)
    p(f"\n== Zhonglou district disaster relief, {YEAR}: {outcome.done} commands ==")
    p(f"{'incident':10} {'occurred':17} {'areas':28} {'level':5} {'status':7} {'late':>4} {'roster':>6}")
    for i in outcome.incidents:
        p(f"{i['incident_type']:10} {i['occurred_at'][:16]:17} {','.join(i['areas']):28} "
          f"{i['level'] or '-':5} {i['status']:7} {i['late_reports']:>4} {i['roster_households']:>6}")
    p("\nlate reports: " + (", ".join(f"{r['incident_type']} {r['stage']} ({r['late_by_minutes']} min late)"
                                        for r in outcome.late_reports) or "none"))
    p(f"\n{'reserve':10} {'balance':>10} {'floor':>10}  below floor")
    for r in outcome.reserves:
        p(f"{r['area']:10} {r['balance']:>10} {r['floor']:>10}  {'YES: replenish' if r['below_floor'] else 'no'}")
    p("")
    outcome.tally.print(out)


def report_ready(section: dict | None, plan: Plan, outcome: Outcome) -> bool:
    return bool(section) and len(section.get("incidents", [])) >= len(INCIDENTS)


def print_report(section: dict | None, plan: Plan, outcome: Outcome, out=sys.stdout) -> None:
    p = functools.partial(print, file=out)
    if not section:
        p("\ndisaster relief: no section in the report")
        return
    incidents = section.get("incidents", [])
    late = (section.get("reports") or {}).get("late")
    p(f"\ndisaster relief in the report: {len(incidents)} incidents of {YEAR} "
      f"({sum(1 for i in incidents if i.get('status') == 'closed')} closed), late reports {late}, "
      f"reserves below the floor {section.get('reserves_below_floor')}")
