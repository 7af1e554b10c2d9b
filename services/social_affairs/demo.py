"""The demo's social affairs year: Zhonglou district's funeral reform and marriage registration of
2007 (with the 2008 migration and later divorces), driven through the `social_affairs` RPC
interface only.

    python -m deploy.demo --domains social_affairs        # after `make run`

The story, in order:
- the memorial halls: Yonghong and Xilin (to move), Beigang cemetery (their destination), the
  Xinzha and Beigang halls (kept to standard); urns placed in them since 2000.
- the migration plan: Yonghong and Xilin finish their preparation before the end of 2007; every
  urn of theirs moves into Beigang cemetery during 2008, keeping its history.
- the halls are inspected against the management standard in 2007: Xinzha passes, Beigang's
  records are found incomplete and corrected.
- grave-mound inspections each quarter: a few new mounds and one rebuilt in Xinzha and Xilin, all
  resolved (removed, or the remains moved into Beigang cemetery).
- marriages registered through 2007 in every area; one is found unlawful in 2008 (a concealed
  existing marriage); a few divorce in 2015 (no cooling-off) and in 2021 (30 days), one
  application withdrawn.
- deliberately bad commands, each with the typed error expected: an under-age bride, a groom
  already married, a party not present, kinship not declared (these refusals are recorded), a bad
  identity number, a migration move before 2008, an inspection that skips an item, a mound resolved
  twice, a divorce registered inside its cooling-off period.

`plan(seed, size, run)` is a pure function of the seed, the size (it scales the urns kept where
they are and the marriages), the run number (which keys the people drawn) and the reference data;
a second run on one database meets the halls and the preparations already done ("already done")
and adds a new set of urns, mounds and marriages. `runs_done` counts earlier runs by the urns the
migration moved into Beigang cemetery (a fixed number per run).
"""
from __future__ import annotations

import functools
import json
import random
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from shared.demo_kit import OK, Expect, Kit, People, Person, Ref, Step, Tally, print_targets, refused

TITLE = "social affairs (社会事务)"
YEAR = 2007
OFFICERS = {"funeral": "officer-sun", "mounds": "officer-zhao", "registrar": "officer-wu"}
HALLS = (   # code, name, area, kind, niches, registered_on
    ("yonghong_hall", "永红骨灰纪念堂", "yonghong", "memorial_hall", 600, "1996-04-01"),
    ("xilin_hall", "西林骨灰纪念堂", "xilin", "memorial_hall", 500, "1998-09-01"),
    ("beigang_cemetery", "北港陵园", "beigang", "cemetery", 20000, "2001-03-01"),
    ("xinzha_hall", "新闸骨灰纪念堂", "xinzha", "memorial_hall", 3000, "1999-05-01"),
    ("beigang_hall", "北港骨灰纪念堂", "beigang", "memorial_hall", 3000, "1997-10-01"),
)
MIGRATED_PER_RUN = {"yonghong_hall": 5, "xilin_hall": 3}     # fixed: runs_done counts them
KEPT = {"xinzha_hall": 20, "beigang_hall": 20}               # scaled by the size
PREPARED_ON = {"yonghong_hall": "2007-11-28", "xilin_hall": "2007-12-26"}
MARRIAGES = 80                                               # scaled by the size
DIVORCES_2015, DIVORCES_2021 = 2, 2
MOUNDS = (  # quarter day, area, [(place, kind)], resolution day, resolution
    ("2007-03-12", "xinzha", [("新闸村三组北坡", "new"), ("新闸村五组", "new")], "2007-03-20", "removed"),
    ("2007-03-13", "xilin", [("西林村二组", "new")], "2007-03-25", "moved_to_cemetery"),
    ("2007-06-11", "xinzha", [("新闸村三组北坡", "rebuilt")], "2007-06-18", "moved_to_cemetery"),
    ("2007-09-10", "yonghong", [], None, None),
    ("2007-12-10", "beigang", [], None, None),
)


def load_standard(directory: Path | None = None) -> list[str]:
    """The items of the management standard in force in 2007 (reference/funeral.json)."""
    folder = Path(directory) if directory else Path(__file__).resolve().parent / "reference"
    standards = json.loads((folder / "funeral.json").read_text(encoding="utf-8"))["management_standard"]
    in_force = [s for s in sorted(standards, key=lambda s: s["effective_from"]) if s["effective_from"] <= f"{YEAR}-06-01"]
    return list(in_force[-1]["items"])


def hall_id(code: str) -> str:
    """A hall's id is derived from its code (the domain's rule), so a later run finds it."""
    from services.social_affairs.domain import Hall
    return str(Hall.create_id(code))


def day_in(rng: random.Random, first: str, last: str) -> str:
    start, end = date.fromisoformat(first).toordinal(), date.fromisoformat(last).toordinal()
    return date.fromordinal(rng.randint(start, end)).isoformat()


def plus(day: str, days: int) -> str:
    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()


def of_sex(people: People, sex: str, born_from: int, born_to: int) -> Person:
    while True:
        person = people.person(born_from, born_to)
        if person.sex == sex:
            return person


def party(person: Person, present: bool = True, unmarried: bool = True) -> dict:
    return {"id_number": person.id_number, "name": person.name, "present": present,
            "declared_unmarried": unmarried}


@dataclass
class _Plan:
    rng: random.Random
    people: People
    run: int
    steps: list[Step] = field(default_factory=list)
    counts: dict = field(default_factory=dict)

    def add(self, label, method, *args, keep=None, expect: Expect = OK):
        self.steps.append(Step(label, method, tuple(args), expect=expect, saves=keep))


def build_plan(rng: random.Random, scale: float = 1.0, run: int = 1, reference: Path | None = None) -> list[Step]:
    """Every command, in the story's order (a pure function of `rng`, the scale, the run number
    and the reference data)."""
    plan = _Plan(rng, People(rng, run), run)
    _halls(plan, scale)
    _inspections(plan, load_standard(reference))
    _mounds(plan)
    _marriages(plan, scale)
    return plan.steps


def _halls(plan: _Plan, scale: float) -> None:
    done = Expect(done=("Conflict", "code"))
    for code, name, area, kind, niches, registered_on in HALLS:
        plan.add(f"hall {code}", "register_hall", code, name, area, kind, niches, registered_on, expect=done)
    urns: dict[str, list[str]] = {}
    for code, number in {**MIGRATED_PER_RUN, **{c: max(1, round(n * scale)) for c, n in KEPT.items()}}.items():
        for n in range(number):
            person = plan.people.person(1905, 1945)
            died = day_in(plan.rng, "2000-01-01", "2006-12-20")
            key = f"urn:{code}:{n}"
            plan.add(f"urn in {code}", "place_urn", hall_id(code), person.id_number, person.name, died,
                     plus(died, plan.rng.randint(3, 10)), OFFICERS["funeral"], keep=key)
            urns.setdefault(code, []).append(key)
    first = urns["yonghong_hall"][0]
    if plan.run == 1:      # later runs: the preparation was done by the first
        plan.add("a migration move before the preparation", "move_urn", Ref(first), hall_id("beigang_cemetery"),
                 "2008-01-05", OFFICERS["funeral"], expect=refused("Conflict", "occupant_id"))
    for code, on in PREPARED_ON.items():
        plan.add(f"{code}: preparation completed", "complete_preparation", hall_id(code), on, OFFICERS["funeral"],
                 expect=Expect(done=("Conflict", "hall_id")))
    plan.add("a migration move in 2007", "move_urn", Ref(first), hall_id("beigang_cemetery"), "2007-12-28",
             OFFICERS["funeral"], expect=refused("InvalidInput", "moved_on"))
    for code in MIGRATED_PER_RUN:
        for key in urns[code]:
            plan.add(f"{code}: urn moved into Beigang cemetery", "move_urn", Ref(key), hall_id("beigang_cemetery"),
                     day_in(plan.rng, "2008-02-01", "2008-11-30"), OFFICERS["funeral"])
    plan.counts["urns_kept"] = {c: len(urns[c]) for c in KEPT}


def _inspections(plan: _Plan, items: list[str]) -> None:
    officer = OFFICERS["funeral"]
    met = [{"item": item, "met": True, "note": ""} for item in items]
    plan.add("xinzha_hall inspected", "inspect_hall", hall_id("xinzha_hall"), "2007-05-15", officer, met)
    findings = [dict(f) for f in met]
    findings[1] = {"item": items[1], "met": False, "note": "骨灰存放登记台账不全"}
    plan.add("beigang_hall inspected", "inspect_hall", hall_id("beigang_hall"), "2007-06-12", officer, findings)
    plan.add("an inspection that skips an item", "inspect_hall", hall_id("beigang_hall"), "2007-06-13", officer,
             met[:-1], expect=refused("InvalidInput", "findings"))
    plan.add("beigang_hall: finding corrected", "correct_finding", hall_id("beigang_hall"), items[1], "2007-06-30",
             officer, "台账已补齐并逐格核对")
    for code in MIGRATED_PER_RUN:
        plan.add(f"{code} inspected", "inspect_hall", hall_id(code), "2007-09-20", officer, met)


def _mounds(plan: _Plan) -> None:
    officer = OFFICERS["mounds"]
    earlier = None
    for index, (on, area, found, resolve_on, resolution) in enumerate(MOUNDS):
        findings = [{"place": place, "kind": kind, "rebuilt_of": Ref(earlier) if kind == "rebuilt" else None}
                    for place, kind in found]
        key = f"mounds:{index}"
        plan.add(f"mound inspection {area} {on}", "inspect_mounds", area, on, officer, findings, keep=key)
        for n, (_place, kind) in enumerate(found):
            mound = f"mound:{index}:{n}"
            plan.add(f"mound {area} {kind}", "resolve_mound", Ref(mound), resolution, resolve_on, officer,
                     "北港陵园" if resolution == "moved_to_cemetery" else "")
            if index == 0 and n == 0:
                earlier = mound
                plan.add("a mound resolved twice", "resolve_mound", Ref(mound), "removed", plus(resolve_on, 1),
                         officer, expect=refused("Conflict", "mound_id"))
    plan.counts["mounds"] = {kind: sum(1 for m in MOUNDS for _p, k in m[2] if k == kind) for kind in ("new", "rebuilt")}


def _marriages(plan: _Plan, scale: float) -> None:
    rng, officer = plan.rng, OFFICERS["registrar"]
    areas = ("nandajie", "hehuachi", "wuxing", "yonghong", "beigang", "xilin", "xinzha")
    count = max(DIVORCES_2015 + DIVORCES_2021 + 2, round(MARRIAGES * scale))
    grooms = []
    for n in range(count):
        man, woman = of_sex(plan.people, "M", 1965, 1984), of_sex(plan.people, "F", 1967, 1986)
        grooms.append(man)
        plan.add(f"marriage {n}", "register_marriage", areas[n % len(areas)], [party(man), party(woman)], True,
                 day_in(rng, f"{YEAR}-01-04", f"{YEAR}-12-28"), officer, keep=f"marriage:{n}")
    bad = [
        ("an under-age bride", [party(of_sex(plan.people, "M", 1975, 1980)), party(of_sex(plan.people, "F", 1989, 1990))],
         True, "InvalidInput"),
        ("a groom already married", [party(grooms[0]), party(of_sex(plan.people, "F", 1975, 1980))], True, "Conflict"),
        ("a bride not present", [party(of_sex(plan.people, "M", 1975, 1980)),
                                 party(of_sex(plan.people, "F", 1975, 1980), present=False)], True, "InvalidInput"),
        ("kinship not declared", [party(of_sex(plan.people, "M", 1975, 1980)),
                                  party(of_sex(plan.people, "F", 1975, 1980))], False, "InvalidInput"),
    ]
    for label, parties, kin, error in bad:
        plan.add(label, "register_marriage", "beigang", parties, kin, f"{YEAR}-12-28", officer,
                 expect=refused(error))
    broken = party(of_sex(plan.people, "M", 1975, 1980))
    broken["id_number"] = broken["id_number"][:-1] + ("0" if broken["id_number"][-1] != "0" else "1")
    plan.add("a bad identity number", "register_marriage", "beigang",
             [broken, party(of_sex(plan.people, "F", 1975, 1980))], True, f"{YEAR}-12-28", officer,
             expect=refused("InvalidInput", "parties[0].id_number"))
    plan.add("a concealed existing marriage found", "record_unlawful", Ref(f"marriage:{count - 1}"),
             "concealed_marriage", "2008-02-20", officer, "女方在外省已有登记婚姻，隐瞒未报")
    for n in range(DIVORCES_2015):
        plan.add("divorce filed 2015", "file_divorce", Ref(f"marriage:{n}"), "2015-04-0" + str(n + 1), True, True, officer)
        plan.add("divorce registered 2015", "register_divorce", Ref(f"marriage:{n}"), "2015-04-0" + str(n + 1), True,
                 officer)
    for n in range(DIVORCES_2015, DIVORCES_2015 + DIVORCES_2021):
        marriage = Ref(f"marriage:{n}")
        plan.add("divorce filed 2021", "file_divorce", marriage, "2021-03-01", True, True, officer)
        if n == DIVORCES_2015:
            plan.add("a divorce registered inside the cooling-off", "register_divorce", marriage, "2021-03-15", True,
                     officer, expect=refused("Conflict", "registered_on"))
        plan.add("divorce registered 2021", "register_divorce", marriage, "2021-04-06", True, officer)
    withdrawn = Ref(f"marriage:{DIVORCES_2015 + DIVORCES_2021}")
    plan.add("divorce filed and then withdrawn", "file_divorce", withdrawn, "2021-06-01", True, True, officer)
    plan.add("divorce withdrawn", "withdraw_divorce", withdrawn, "2021-06-10", officer)
    plan.counts["marriages"] = count


# --- the scenario's interface (shared/demo_kit.py) ----------------------------------------------

@dataclass(frozen=True)
class Plan:
    seed: int
    run: int
    steps: tuple[Step, ...]
    marriages: int = 0


def plan(seed: int, size: float = 1.0, run: int = 1, reference: Path | None = None) -> Plan:
    steps = tuple(build_plan(random.Random(seed), size, run, reference))
    return Plan(seed, run, steps, sum(1 for s in steps if s.method == "register_marriage" and s.expect == OK))


def runs_done(kit: Kit) -> int:
    """Earlier demo runs on this database: urns the migration moved into Beigang cemetery."""
    from shared.errors import NotFound
    try:
        moved = kit.call("get_hall", hall_id("beigang_cemetery"))["migrated_in"]
    except NotFound:
        return 0
    return moved // sum(MIGRATED_PER_RUN.values())


@dataclass
class Outcome:
    tally: Tally
    done: int = 0
    ids: dict[str, str] = field(default_factory=dict)
    migration: list[dict] = field(default_factory=list)

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
    """Drive the story in order through `kit` (service `social_affairs`)."""
    outcome = Outcome(kit.tally)
    with kit.bar(f"social affairs {YEAR}", len(plan.steps)) as bar:
        for step in plan.steps:
            result = kit.step(_with_findings_resolved(step, outcome.ids), outcome.ids)
            if step.method == "inspect_mounds" and isinstance(result, dict) and step.saves:
                for n, mound in enumerate(result["mounds"]):       # each mound found, by position
                    outcome.ids[f"mound:{step.saves.split(':')[1]}:{n}"] = mound
            outcome.done += 1
            bar.update(1)
    outcome.migration = kit.call("migration_progress")
    summary(outcome, kit.out)
    return outcome


def _with_findings_resolved(step: Step, ids: dict) -> Step:
    """A mound inspection's findings name earlier mounds (`rebuilt_of`) inside dicts, which the
    kit's `resolve` does not enter: filled in here (a missing one stays a Ref: the kit skips)."""
    if step.method != "inspect_mounds":
        return step
    area, on, officer, findings = step.args
    filled = []
    for finding in findings:
        earlier = finding.get("rebuilt_of")
        if isinstance(earlier, Ref):
            if earlier.key not in ids:
                return step
            finding = dict(finding, rebuilt_of=ids[earlier.key])
        filled.append(finding)
    return Step(step.label, step.method, (area, on, officer, filled), step.expect, step.saves, step.month,
                step.phase, step.lane)


def drive(rpc_factory, rng: random.Random, progress: bool = True, out=sys.stdout, run_number: int = 1,
          scale: float = 1.0) -> Outcome:
    """The story planned with `rng`, driven through `rpc_factory()` proxies (e.g.
    `functools.partial(shared.rpc.cluster, amqp_uri)`)."""
    kit = Kit("social_affairs", rpc_factory, concurrency=1, progress=progress, out=out)
    try:
        return run(Plan(0, run_number, tuple(build_plan(rng, scale, run_number))), kit)
    finally:
        kit.close()


def summary(outcome: Outcome, out=sys.stdout) -> None:
    p = functools.partial(print, file=out)
    p(f"\n== Zhonglou district social affairs, {YEAR}: {outcome.done} commands ==")
    p(f"{'hall':18} {'role':12} {'prepared':10} {'on time':7} {'urns':>5} {'moved':>5} {'progress':>8}")
    for h in outcome.migration:
        prep = h["preparation"] or {}
        progress = "-" if h["progress"] is None else f"{h['progress']:.0%}"
        p(f"{h['code']:18} {h['role']:12} {prep.get('completed_on') or '-':10} "
          f"{'yes' if prep.get('on_time') else '-':7} {h['urns']:>5} {h['moved_out'] or h['moved_in']:>5} {progress:>8}")
    p("")
    outcome.tally.print(out)


def report_ready(section: dict | None, plan: Plan, outcome: Outcome) -> bool:
    metrics = (section or {}).get("district", {}).get("metrics", {})
    return (metrics.get("marriage_registrations") or {}).get("value", 0) >= plan.marriages


def print_report(section: dict | None, plan: Plan, outcome: Outcome, out=sys.stdout) -> None:
    print_targets("social affairs targets", section, {"marriage_qualification_ratio": "one found unlawful"}, out)
