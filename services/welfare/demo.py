"""The demo's social welfare year: a simulated 2007 of Zhonglou district's welfare work, driven
through the `welfare` service's RPC interface only.

    python -m deploy.demo --domains welfare              # after `make run`

Two halves, kept apart (the scenario interface of shared/demo_kit.py):
- `plan(seed, size, run)` is a pure function of the seed, the size (a scale of the beds, the
  persons under special support and the home-care orders), the run number (which keys the
  people drawn, so a second run on one database meets new people) and the reference data
  (data/areas.json, services/welfare/reference/*.json): elderly-care institutions and beds per area near the
  target of 17 per 1,000 aged 60+ (two areas a little below), residents carried over from 2006,
  admissions and discharges; care workers, about 85% trained by the city's April and September
  courses; three-no (urban) and five-guarantee (rural) persons, all with an arrangement, the
  centralized ones living in their area's public institution, dispersed three-no persons given
  medical care (one left without, so the flag shows); home-care orders every month; welfare
  enterprises restructured (改制) between February and June, one falling below the legal share of
  disabled staff in August (flagged: its later rebate is refused), two private ones founded in the
  second half; monthly wages and rebates; and a few deliberately bad commands.
- `run(plan, kit)` executes the plan month by month: within a month the steps of one lane (one
  institution, one enterprise, one worker, one person, one order) run in order, lanes in
  parallel (`Kit.lanes`), then the month's bad commands one after another.
"""
from __future__ import annotations

import json
import random
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from shared.demo_kit import OK, Kit, Outcome, People, Ref, Step, Tally, print_targets, refused

TITLE = "social welfare (社会福利)"
YEAR = 2007
# The scenario (the 2007 target, >= 17 beds per 1,000 aged 60+, is in data/targets/2007.json):
ABOVE = (17.3, 19.0)            # beds per 1,000 aged 60+ of most areas
BELOW = (15.4, 16.7)            # ... of the areas a little below the target
AREAS_BELOW = 2
CARRIED_OCCUPANCY = 0.70        # beds occupied on 1 January
NEW_ADMISSIONS = 0.12           # of beds, admitted during the year
DISCHARGES = 0.06               # of beds, discharged during the year
BEDS_PER_WORKER = 10
TRAINING = {"april": 0.73, "fail_then_pass": 0.07, "september": 0.06, "fail": 0.05}  # rest: none
CENTRALIZED_SHARE = 0.4
# persons under special support: one per this many residents of the category's registration
SUPPORTED_PER_POPULATION = (("three_no", "urban", 10000), ("five_guarantee", "rural", 1500))
ORDERS_PER_MONTH = 40
MIN_BEDS = 30                   # per area, at the smallest sizes
SERVICES = {"housekeeping": 40, "medical_care": 25, "rehabilitation": 15, "companionship": 20}
PAYMENTS = {"paid": 35, "low_cost": 45, "free": 20}
OLD_ENTERPRISES = 9
TRADES = ("纸箱厂", "印刷厂", "塑料制品厂", "五金厂", "服装厂", "电子元件厂", "包装材料厂",
          "橡胶制品厂", "针织厂", "铸件厂", "化工助剂厂")
FORMS = ("股份合作制", "有限责任公司", "民营独资")
COURSE = "养老护理员职业技能培训(初级)"
CLINICS = "社区卫生服务中心"


def day(month: int, dom: int, year: int = YEAR) -> str:
    return date(year, month, dom).isoformat()


def month_str(month: int) -> str:
    return f"{YEAR}-{month:02d}"


# --- the plan: data ------------------------------------------------------------------------------

def step(month: int, phase: int, lane: str, method: str, args: tuple, saves: str | None = None,
         expect: str | None = None, label: str = "") -> Step:
    """A step of the year: phase 0 registrations, 1 the month's work, 2 bad commands."""
    return Step(label, method, args, expect=refused(expect) if expect else OK, saves=saves,
                month=month, phase=phase, lane=lane)


@dataclass
class Plan:
    run: int = 1
    scale: float = 1.0
    steps: list[Step] = field(default_factory=list)
    beds: dict[str, int] = field(default_factory=dict)             # area -> beds at year end
    aged: dict[str, int] = field(default_factory=dict)             # area -> population 60+
    residents: dict[str, int] = field(default_factory=dict)        # area -> residents at year end
    workers: int = 0
    trained: int = 0
    supported: Counter = field(default_factory=Counter)            # category -> persons
    arranged: Counter = field(default_factory=Counter)             # category -> with arrangement
    without_medical_care: int = 0
    orders: Counter = field(default_factory=Counter)               # status -> orders
    enterprises: int = 0
    restructured_on_time: int = 0
    must_restructure: int = 0
    flagged: list[str] = field(default_factory=list)               # enterprise names at year end
    rebates_yuan: Decimal = Decimal("0.00")

    def add(self, *steps: Step) -> None:
        self.steps.extend(steps)

    def beds_per_1000(self, area: str) -> float:
        return self.beds[area] * 1000 / self.aged[area]

    def month(self, m: int) -> list[Step]:
        return [s for s in self.steps if s.month == m]


# --- the plan: reference data and people ------------------------------------------------------------

def load_reference(directory: Path | None = None):
    from services.welfare.rules import WelfareRules
    from shared.referencedata import DATA_DIR
    directory = Path(directory or DATA_DIR)
    areas = json.loads((directory / "areas.json").read_text(encoding="utf-8"))["areas"]
    return areas, WelfareRules.load()


def short_name(area: dict) -> str:
    """北港街道 -> 北港, 新闸镇 -> 新闸."""
    return area["name"].replace("街道", "").replace("镇", "")


def random_day(rng: random.Random, start: str, end: str) -> str:
    first, last = date.fromisoformat(start).toordinal(), date.fromisoformat(end).toordinal()
    return date.fromordinal(rng.randint(first, max(first, last))).isoformat()


def split(rng: random.Random, total: int, parts: int) -> list[int]:
    """`total` beds over `parts` institutions, the first (public) one the largest."""
    weights = [rng.uniform(1.0, 2.0) for _ in range(parts)]
    weights[0] += 1.5
    shares = [int(total * w / sum(weights)) for w in weights]
    shares[0] += total - sum(shares)
    return shares


# --- the plan: building it ----------------------------------------------------------------------------

class Builder:
    def __init__(self, rng: random.Random, areas: list[dict], rules, scale: float = 1.0, run: int = 1):
        self.rng, self.areas, self.rules, self.scale = rng, areas, rules, scale
        self.people = People(rng, run)
        self.plan = Plan(run=run, scale=scale)
        self.institutions: dict[str, list[dict]] = defaultdict(list)   # area -> institutions
        self.admissions = 0

    def person(self, born_from: int, born_to: int) -> dict:
        return self.people.person(born_from, born_to).identity()

    def all_institutions(self) -> list[dict]:
        return [i for institutions in self.institutions.values() for i in institutions]

    def build(self) -> Plan:
        self.elderly_care()
        self.special_support()          # centralized persons take their beds first
        self.residents()
        self.care_workers()
        self.home_care()
        self.enterprises()
        self.bad_commands()
        return self.plan

    # elderly care -------------------------------------------------------------------------------
    def elderly_care(self) -> None:
        rng, plan = self.rng, self.plan
        below = set(rng.sample([a["code"] for a in self.areas], AREAS_BELOW))
        for area in self.areas:
            code, aged = area["code"], int(area["population_60_plus"])
            per_1000 = rng.uniform(*(BELOW if code in below else ABOVE))
            plan.aged[code] = aged
            plan.beds[code] = max(MIN_BEDS, round(aged * per_1000 / 1000 * self.scale))
            parts = 2 if plan.beds[code] < 170 else 3
            for index, beds in enumerate(split(rng, plan.beds[code], parts)):
                self.institution(area, index, beds)
        self.opening_and_expansion()
        full = min((i for i in self.all_institutions() if i["kind"] == "private" and i["opens"] == 1),
                   key=lambda i: i["beds"])
        full["full"] = True

    def residents(self) -> None:
        for institutions in self.institutions.values():
            for institution in institutions:
                self.carried_residents(institution)
        self.admissions_and_discharges()

    def institution(self, area: dict, index: int, beds: int) -> None:
        public = index == 0
        name = short_name(area) + (
            "敬老院" if public else ("颐养院", "老年公寓", "康乐园")[index % 3])
        registered = random_day(self.rng, "1985-01-01" if public else "2000-01-01",
                                "1998-12-31" if public else "2006-06-30")
        key = f"I-{area['code']}-{index}"
        self.institutions[area["code"]].append(
            {"key": key, "area": area["code"], "name": name, "kind": "public" if public else "private",
             "beds": beds, "registered": registered, "opens": 1, "residents": [], "full": False,
             "initial_beds": beds})

    def opening_and_expansion(self) -> None:
        """One private institution opens in May; one public institution adds a wing in September."""
        rng = self.rng
        opening = rng.choice([i for i in self.all_institutions() if i["kind"] == "private"])
        opening.update(opens=5, registered=day(5, rng.randint(8, 20)))
        expanding = rng.choice([inst[0] for inst in self.institutions.values()])
        expanding["initial_beds"] = expanding["beds"] - 10
        for institution in self.all_institutions():
            self.plan.add(step(institution["opens"], 0, institution["key"], "register_institution",
                               (institution["area"], institution["name"], institution["kind"],
                                institution["initial_beds"], institution["registered"]),
                               saves=institution["key"], label=institution["name"]))
        self.plan.add(step(9, 1, expanding["key"], "change_beds",
                           (Ref(expanding["key"]), expanding["beds"], day(9, 3), "新护理楼启用")))

    def carried_residents(self, institution: dict) -> None:
        if institution["opens"] != 1:
            return
        share = 1.0 if institution["full"] else CARRIED_OCCUPANCY
        for _ in range(round(institution["initial_beds"] * share) - len(institution["residents"])):
            self.admit(institution, 1, random_day(self.rng, max(institution["registered"], "2000-01-01"),
                                                  "2006-12-31"))

    def admit(self, institution: dict, month: int, admitted_on: str, who: dict | None = None) -> str:
        who = who or self.person(1915, 1946)
        self.admissions += 1
        key = f"A-{self.admissions:05d}"
        self.plan.add(step(month, 1, institution["key"], "admit",
                           (Ref(institution["key"]), who["id_number"], who["name"], who["birth_date"],
                            admitted_on), saves=key, label=f"admission to {institution['name']}"))
        institution["residents"].append({"key": key, "person": who, "admitted": admitted_on})
        return key

    def admissions_and_discharges(self) -> None:
        rng = self.rng
        open_ = [i for i in self.all_institutions() if not i["full"]]
        total = sum(i["beds"] for i in open_)
        for _ in range(round(total * NEW_ADMISSIONS)):
            institution = rng.choices(open_, [i["beds"] for i in open_])[0]
            month = rng.randint(max(institution["opens"], 1), 12)
            if len(institution["residents"]) >= institution["beds"] * 0.95 or (
                    month < 9 and len(institution["residents"]) >= institution["initial_beds"] * 0.95):
                continue
            self.admit(institution, month, day(month, rng.randint(1, 28)))
        for _ in range(round(total * DISCHARGES)):
            institution = rng.choice(open_)
            candidates = [r for r in institution["residents"] if "discharged" not in r
                          and not r.get("supported") and r["admitted"] < day(11, 1)]
            if not candidates:
                continue
            resident = rng.choice(candidates)
            start = max(date.fromisoformat(resident["admitted"]) + timedelta(days=1), date(YEAR, 1, 2))
            on = random_day(rng, start.isoformat(), day(12, 28))
            resident["discharged"] = on
            reason = rng.choice(("返家居住", "转院治疗", "去世", "随子女迁居"))
            self.plan.add(step(int(on[5:7]), 1, institution["key"], "discharge",
                               (Ref(resident["key"]), on, reason),
                               label=f"discharge from {institution['name']}"))
        for code, institutions in self.institutions.items():
            self.plan.residents[code] = sum(1 for i in institutions for r in i["residents"]
                                            if "discharged" not in r)

    # special support ------------------------------------------------------------------------------
    def special_support(self) -> None:
        rng, plan = self.rng, self.plan
        flagged_left = False
        for area in self.areas:
            for category, registration, per in SUPPORTED_PER_POPULATION:
                population = int(area.get(f"{registration}_population", 0))
                if not population:
                    continue
                for index in range(max(2, round(population / per * rng.uniform(0.8, 1.2) * self.scale))):
                    new = index % 7 == 6                      # some registered during the year
                    month = rng.randint(2, 10) if new else 1
                    centralized = rng.random() < CENTRALIZED_SHARE
                    needs_care = category == "three_no" and not centralized
                    leave_flag = needs_care and not flagged_left
                    flagged_left = flagged_left or leave_flag
                    self.supported(area, category, month, centralized, needs_care and not leave_flag)
                    plan.supported[category] += 1
                    plan.arranged[category] += 1
                    plan.without_medical_care += int(leave_flag)
        self.moved_home()

    def supported(self, area: dict, category: str, month: int, centralized: bool, medical: bool) -> None:
        rng = self.rng
        who = self.person(1918, 1950)
        key = f"P-{sum(self.plan.supported.values()) + 1:04d}"
        if month == 1:                                # carried over: registered before 2007
            registered, arranged = random_day(rng, "2001-01-01", "2006-12-31"), day(1, 10)
        else:
            registered, arranged = day(month, rng.randint(1, 10)), day(month, rng.randint(11, 20))
        register = ("register_supported_person", (category, area["code"], who["id_number"], who["name"],
                                                  who["birth_date"], registered))
        if centralized:
            institution = self.institutions[area["code"]][0]
            admission = self.admit(institution, month, registered if month == 1 else arranged, who)
            institution["residents"][-1]["supported"] = key
            lane = institution["key"]
            self.plan.add(step(month, 1, lane, *register, saves=key, label="supported person"),
                          step(month, 1, lane, "arrange_support",
                               (Ref(key), "centralized", arranged, Ref(admission))))
            institution.setdefault("supported", []).append((key, admission))
            return
        self.plan.add(step(month, 1, key, *register, saves=key, label="supported person"),
                      step(month, 1, key, "arrange_support", (Ref(key), "dispersed", arranged)))
        if medical:
            care_month = min(12, month + rng.randint(0, 2))
            self.plan.add(step(care_month, 1, key, "arrange_medical_care",
                               (Ref(key), short_name(area) + CLINICS,
                                max(arranged, day(care_month, 21)))))

    def moved_home(self) -> None:
        """One centralized person goes home in July: the arrangement ends with the discharge and
        the officer arranges dispersed support the same day (with medical care if three-no)."""
        for institutions in self.institutions.values():
            institution = institutions[0]
            for key, admission in institution.get("supported", []):
                resident = next(r for r in institution["residents"] if r["key"] == admission)
                if resident["admitted"] < day(6, 1):
                    resident["discharged"] = day(7, 2)
                    lane = institution["key"]
                    self.plan.add(step(7, 1, lane, "discharge", (Ref(admission), day(7, 2), "返家居住")),
                                  step(7, 1, lane, "arrange_support", (Ref(key), "dispersed", day(7, 2))),
                                  step(7, 1, lane, "arrange_medical_care",
                                       (Ref(key), "社区卫生服务中心", day(7, 3))))
                    return

    # care workers -------------------------------------------------------------------------------------
    def care_workers(self) -> None:
        rng, plan = self.rng, self.plan
        for institution in self.all_institutions():
            for _ in range(max(2, -(-institution["beds"] // BEDS_PER_WORKER))):
                who = self.person(1955, 1985)
                key = f"W-{plan.workers + 1:04d}"
                month = institution["opens"]
                registered = institution["registered"] if month > 1 else random_day(
                    rng, max(institution["registered"], "2003-01-01"), "2006-12-31")
                plan.add(step(month, 1, key, "register_care_worker",
                              (Ref(institution["key"]), who["id_number"], who["name"], registered),
                              saves=key))
                plan.workers += 1
                plan.trained += self.training(key, month, rng.random())

    def training(self, key: str, opens: int, draw: float) -> int:
        courses = []
        cumulative = 0.0
        outcome = "none"
        for name, share in TRAINING.items():
            cumulative += share
            if draw < cumulative:
                outcome = name
                break
        if opens > 4:                               # the institution opened after April's course
            outcome = {"april": "september", "fail_then_pass": "september"}.get(outcome, outcome)
        if outcome in ("april", "fail_then_pass") or (outcome == "fail" and opens <= 4):
            courses.append((4, day(4, 20), outcome == "april"))
        if outcome == "fail" and opens > 4:
            courses.append((9, day(9, 20), False))
        if outcome in ("fail_then_pass", "september"):
            courses.append((9, day(9, 20), True))
        for month, on, passed in courses:
            self.plan.add(step(month, 1, key, "record_training", (Ref(key), COURSE, on, passed)))
        return int(any(passed for *_, passed in courses))

    # home care ------------------------------------------------------------------------------------------
    def home_care(self) -> None:
        rng, plan = self.rng, self.plan
        codes = [a["code"] for a in self.areas]
        weights = [a["population_60_plus"] for a in self.areas]
        for month in range(1, 13):
            for _ in range(max(3, round(ORDERS_PER_MONTH * rng.uniform(0.8, 1.2) * self.scale))):
                key = f"O-{sum(plan.orders.values()) + 1:05d}"
                service = rng.choices(list(SERVICES), list(SERVICES.values()))[0]
                payment = rng.choices(list(PAYMENTS), list(PAYMENTS.values()))[0]
                cap = self.rules.low_cost_cap(service)
                price = {"paid": str(rng.randrange(20, 85, 5)),
                         "low_cost": str(min(cap, Decimal(rng.randint(2, int(cap))))),
                         "free": "0"}[payment]
                volunteer = "志愿者" + self.people.name() if payment == "free" else ""
                placed = day(month, rng.randint(1, 28))
                plan.add(step(month, 1, key, "place_order",
                              (rng.choices(codes, weights)[0], self.people.name() + "老人", service,
                               payment, price, placed, volunteer), saves=key))
                status = self.close_order(key, placed, rng.random())
                plan.orders[status] += 1

    def close_order(self, key: str, placed: str, draw: float) -> str:
        """Delivered (or cancelled) a few days later, in the next month if need be; orders
        placed in the last days of December are still open at year end."""
        closed = date.fromisoformat(placed) + timedelta(days=self.rng.randint(0, 4))
        if closed.year > YEAR:
            return "placed"
        if draw < 0.05:
            self.plan.add(step(closed.month, 1, key, "cancel_order", (Ref(key), closed.isoformat(), "老人住院")))
            return "cancelled"
        self.plan.add(step(closed.month, 1, key, "deliver_order", (Ref(key), closed.isoformat())))
        return "delivered"

    # welfare enterprises ---------------------------------------------------------------------------------
    def enterprises(self) -> None:
        rng, plan = self.rng, self.plan
        rule = self.rules.disabled_staff[-1]
        areas = [a["code"] for a in self.areas]
        companies = []
        for index in range(OLD_ENTERPRISES):
            ownership = "state" if index % 3 == 2 else "collective"
            disabled, share = rng.randint(13, 30), rng.uniform(0.32, 0.55)
            companies.append(self.enterprise(index, rng.choice(areas), ownership, disabled,
                                             round(disabled / share) - disabled, 1,
                                             random_day(rng, "1985-01-01", "2000-12-31")))
        for index, month in enumerate((7, 9), start=OLD_ENTERPRISES):
            disabled = rng.randint(10, 14)
            companies.append(self.enterprise(index, rng.choice(areas), "private", disabled,
                                             round(disabled / 0.4) - disabled, month,
                                             day(month, rng.randint(2, 12))))
        old = companies[:OLD_ENTERPRISES]
        falling = rng.choice(old)
        self.move_employee(*rng.sample([c for c in old if c is not falling], 2))
        for company in old:
            self.staff_report(company, rule)
        self.fall_below_share(falling, rule)
        for company in companies:
            self.restructuring(company)
            self.wages_and_rebates(company, rule)
        plan.enterprises = len(companies)
        plan.flagged = [c["name"] for c in companies if not self.compliant(c, 12, rule)]
        self.companies = companies

    def enterprise(self, index: int, area: str, ownership: str, disabled: int, other: int,
                   month: int, registered: str) -> dict:
        key = f"E-{index + 1:02d}"
        name = f"常州市钟楼{self.rng.choice(('福利', '民政福利', '康复福利'))}{TRADES[index % len(TRADES)]}"
        company = {"key": key, "name": name, "area": area, "ownership": ownership, "other": other,
                   "other_from_july": other, "opens": month, "registered": registered, "employees": []}
        self.plan.add(step(month, 0, key, "register_enterprise", (area, name, ownership, other, registered),
                           saves=key, label=name))
        for _ in range(disabled):
            who = self.person(1950, 1987)
            hired = random_day(self.rng, registered, "2006-12-31") if month == 1 else registered
            self.plan.add(step(month, 1, key, "hire_disabled_employee",
                               (Ref(key), who["id_number"], who["name"], hired)))
            company["employees"].append({"person": who, "from": month, "left": None})
        return company

    @staticmethod
    def paid_in(company: dict, month: int) -> list[dict]:
        """Disabled employees employed at some time in the month (their wages are recorded)."""
        return [e for e in company["employees"]
                if e["from"] <= month and (e["left"] is None or e["left"] >= month)]

    @staticmethod
    def counted_after(company: dict, month: int) -> list[dict]:
        """Disabled employees still employed at the end of the month."""
        return [e for e in company["employees"]
                if e["from"] <= month and (e["left"] is None or e["left"] > month)]

    def compliant(self, company: dict, month: int, rule) -> bool:
        disabled = len(self.counted_after(company, month))
        other = company["other_from_july"] if month >= 7 else company["other"]
        return disabled >= rule.min_persons and Decimal(disabled) >= rule.min_share * (disabled + other)

    def move_employee(self, source: dict, target: dict) -> None:
        """An employee leaves one enterprise in May and joins another in June."""
        employee = source["employees"][-1]
        employee["left"] = 5
        self.plan.add(step(5, 1, source["key"], "disabled_employee_left",
                           (Ref(source["key"]), employee["person"]["id_number"], day(5, 15), "调往他厂")),
                      step(6, 1, target["key"], "hire_disabled_employee",
                           (Ref(target["key"]), employee["person"]["id_number"], employee["person"]["name"],
                            day(6, 1))))
        target["employees"].append({"person": employee["person"], "from": 6, "left": None})

    def staff_report(self, company: dict, rule) -> None:
        """The mid-year staff report: a few more or fewer other staff, within the rule."""
        disabled = len(self.counted_after(company, 7))
        most = int(Decimal(disabled) / (rule.min_share + Decimal("0.02"))) - disabled
        company["other_from_july"] = max(0, min(most, company["other"] + self.rng.randint(-2, 3)))
        self.plan.add(step(7, 1, company["key"], "report_staff",
                           (Ref(company["key"]), company["other_from_july"], day(7, 1))))

    def fall_below_share(self, company: dict, rule) -> None:
        """In August, disabled employees retire until the enterprise is below the rule."""
        current = self.counted_after(company, 8)
        for employee in current:
            if not self.compliant(company, 8, rule):
                break
            employee["left"] = 8
            self.plan.add(step(8, 1, company["key"], "disabled_employee_left",
                               (Ref(company["key"]), employee["person"]["id_number"], day(8, 15), "退休")))
        company["falls"] = 8

    def restructuring(self, company: dict) -> None:
        if not self.rules.must_restructure(company["ownership"]):
            return
        self.plan.must_restructure += 1
        on = day(self.rng.randint(2, 6), self.rng.randint(1, 28))
        self.plan.restructured_on_time += int(on <= self.rules.restructuring_deadline)
        self.plan.add(step(int(on[5:7]), 1, company["key"], "restructure",
                           (Ref(company["key"]), on, self.rng.choice(FORMS))))

    def wages_and_rebates(self, company: dict, rule) -> None:
        """Each month: the disabled employees' wages (at least the minimum wage of the month),
        then the month's tax rebate if the enterprise meets the rule."""
        rng = self.rng
        for month in range(company["opens"], 13):
            minimum = self.rules.minimum_wage_in(month_str(month))
            lines = [{"id_number": e["person"]["id_number"],
                      "wage": str(minimum + rng.randrange(0, 260, 10)),
                      "social_insurance": str((minimum * Decimal("0.2")).quantize(Decimal(1)))}
                     for e in self.paid_in(company, month)]
            self.plan.add(step(month, 1, company["key"], "record_wages",
                               (Ref(company["key"]), month_str(month), lines)))
            if self.compliant(company, month, rule):
                amount = (Decimal(len(lines)) * Decimal(rng.randint(1800, 2900))).quantize(
                    Decimal("1"), ROUND_HALF_UP)
                self.plan.rebates_yuan += amount
                self.plan.add(step(month, 1, company["key"], "grant_rebate",
                                   (Ref(company["key"]), month_str(month), str(amount), day(month, 25))))

    # bad commands ----------------------------------------------------------------------------------------
    def bad_commands(self) -> None:
        """Commands the service must refuse, each with the typed error expected."""
        full = next(i for i in self.all_institutions() if i["full"])
        resident = full["residents"][0]["person"]
        other = next(i for i in self.all_institutions() if not i["full"] and i["opens"] == 1)
        intruder = self.person(1920, 1940)
        living_in = next(key for i in self.all_institutions() for key, admission in i.get("supported", [])
                         if any(r["key"] == admission and r["admitted"] < day(1, 2) and "discharged" not in r
                                for r in i["residents"]))
        urban_only = next(a["code"] for a in self.areas if not a.get("rural_population"))
        falling = next(c for c in self.companies if c.get("falls"))
        steady = next(c for c in self.companies if not c.get("falls") and c["opens"] == 1)
        valid = self.person(1960, 1970)["id_number"]
        bad_number = valid[:17] + ("0" if valid[17] != "0" else "1")      # a wrong check digit
        area = self.areas[0]["code"]
        underpaid = {"id_number": self.paid_in(steady, 11)[0]["person"]["id_number"],
                     "wage": str(self.rules.minimum_wage_in(month_str(11)) - 50), "social_insurance": "0"}
        cap = self.rules.low_cost_cap("housekeeping")
        bad = [
            (3, 2, "admit", (Ref(full["key"]), intruder["id_number"], intruder["name"],
                             intruder["birth_date"], day(3, 5)),
             "Conflict", "admission to a full institution"),
            (3, 2, "admit", (Ref(other["key"]), resident["id_number"], resident["name"],
                             resident["birth_date"], day(3, 6)),
             "Conflict", "a resident admitted to a second institution"),
            (4, 2, "place_order", (area, "某老人", "housekeeping", "low_cost", str(cap + 1), day(4, 3)),
             "InvalidInput", "a low-cost order above the cap"),
            (4, 2, "place_order", (area, "某老人", "companionship", "free", "5.00", day(4, 3), "志愿者"),
             "InvalidInput", "a free order with a price"),
            (5, 2, "arrange_support", (Ref(living_in), "dispersed", day(5, 2)),
             "Conflict", "dispersed support for a person living in an institution"),
            (5, 2, "register_supported_person", ("five_guarantee", urban_only, intruder["id_number"],
                                                 intruder["name"], intruder["birth_date"], day(5, 2)),
             "InvalidInput", "a five-guarantee person in an area without rural population"),
            (6, 2, "register_care_worker", (Ref(other["key"]), bad_number, "某人", day(6, 1)),
             "InvalidInput", "a care worker with a bad identity number"),
            (9, 2, "grant_rebate", (Ref(falling["key"]), month_str(9), "20000.00", day(9, 25)),
             "Conflict", "a tax rebate for the flagged enterprise"),
            # before the month's wages are recorded, so the wage (not the month) is what is refused
            (11, 0, "record_wages", (Ref(steady["key"]), month_str(11), [underpaid]),
             "InvalidInput", "a wage below the minimum wage"),
        ]
        for month, phase, method, args, expect, label in bad:
            self.plan.add(step(month, phase, f"bad-{label}", method, args, expect=expect, label=label))


MIN_SCALE = 0.08     # below it the year loses its shape (a full private home, a centralized person)


def build_plan(rng: random.Random, directory: Path | None = None, scale: float = 1.0, run: int = 1) -> Plan:
    """The year, a pure function of the generator's state, the scale, the run number and the
    reference data."""
    areas, rules = load_reference(directory)
    return Builder(rng, areas, rules, max(MIN_SCALE, scale), run).build()


# --- the scenario's interface (shared/demo_kit.py) --------------------------------------------------

def plan(seed: int, size: float = 1.0, run: int = 1, reference: Path | None = None) -> Plan:
    return build_plan(random.Random(seed), reference, size, run)


def run(plan: Plan, kit: Kit) -> Outcome:
    """Drive the year through `kit` (service `welfare`), print the summary to `kit.out`.
    Raises Unreachable if the bus or the service does not answer."""
    kit.months(plan, lambda month: f"welfare {month_str(month)}")
    outcome = Outcome(summarise(plan, kit.tally), kit.tally)
    print_summary(outcome.summary, kit.out)
    kit.tally.print(kit.out)
    return outcome


def drive(rpc_factory: Callable, rng: random.Random, progress: bool = True, out=sys.stdout,
          concurrency: int = 8, run_number: int = 1) -> Outcome:
    """The year planned with `rng`, driven through `rpc_factory()` proxies (e.g.
    `functools.partial(shared.rpc.cluster, amqp_uri, timeout=60)`)."""
    kit = Kit("welfare", rpc_factory, concurrency=concurrency, progress=progress, out=out)
    try:
        return run(build_plan(rng, run=run_number), kit)
    finally:
        kit.close()


def summarise(plan: Plan, tally: Tally) -> dict:
    accepted = {method: c["ok"] for method, c in tally.counts.items() if c["ok"]}
    skipped = [p for p in tally.problems if " skipped, " in p]
    return {
        "accepted": accepted, "commands": sum(accepted.values()),
        "bad_commands": [{"label": label, "expected": expected, "got": got}
                         for label, expected, got in tally.refusals],
        "unexpected": [p for p in tally.problems if p not in skipped and " failed: " not in p],
        "faults": [p for p in tally.problems if " failed: " in p],
        "skipped": skipped, "version_retries": tally.version_retries,
        "planned": {
            "beds_per_1000_aged_60_plus": {a: round(plan.beds_per_1000(a), 2) for a in sorted(plan.beds)},
            "areas_below_target": areas_below_target(plan),
            "beds": sum(plan.beds.values()), "residents": sum(plan.residents.values()),
            "care_workers": plan.workers, "trained": plan.trained,
            "training_ratio": round(plan.trained / plan.workers, 3),
            "special_support": dict(plan.supported), "arranged": dict(plan.arranged),
            "three_no_dispersed_without_medical_care": plan.without_medical_care,
            "home_care_orders": dict(plan.orders), "enterprises": plan.enterprises,
            "restructured_on_time": plan.restructured_on_time, "must_restructure": plan.must_restructure,
            "flagged_enterprises": plan.flagged, "rebates_yuan": str(plan.rebates_yuan)},
        "problems": not tally.ok,
    }


def areas_below_target(plan: Plan) -> list[str] | None:
    """Areas planned below the year's beds target (data/targets/2007.json), or None without one."""
    from shared.referencedata import load_targets
    try:
        target = load_targets(YEAR)["targets"].get("elderly_care_beds_per_1000_aged_60_plus")
    except FileNotFoundError:
        target = None
    if target is None:
        return None
    limit = Decimal(str(target["value"]))
    return sorted(a for a in plan.beds if plan.beds[a] * 1000 < limit * plan.aged[a])


def print_summary(summary: dict, out=sys.stdout) -> None:
    p = lambda *a: print(*a, file=out)  # noqa: E731
    planned = summary["planned"]
    p(f"\n== Zhonglou district social welfare, {YEAR}: {summary['commands']} commands accepted ==")
    p("beds per 1,000 aged 60+: " + ", ".join(
        f"{a} {v}" for a, v in planned["beds_per_1000_aged_60_plus"].items())
      + ("" if planned["areas_below_target"] is None
         else f"; below the target: {', '.join(planned['areas_below_target'])}"))
    p(f"beds {planned['beds']}, residents at year end {planned['residents']}; care workers "
      f"{planned['care_workers']}, trained {planned['trained']} ({planned['training_ratio']:.0%})")
    p(f"special support: {planned['special_support']}, all arranged; dispersed three-no persons "
      f"without medical care (flagged): {planned['three_no_dispersed_without_medical_care']}")
    p(f"home-care orders: {planned['home_care_orders']}")
    p(f"welfare enterprises: {planned['enterprises']}, restructured by the deadline "
      f"{planned['restructured_on_time']}/{planned['must_restructure']}; flagged: "
      f"{', '.join(planned['flagged_enterprises']) or 'none'}; rebates {planned['rebates_yuan']} yuan")
    for bad in summary["bad_commands"]:
        mark = "ok" if bad["got"] == bad["expected"] else "!!"
        p(f"  {mark} refused command: {bad['label']}: expected {bad['expected']}, got {bad['got']}")


def report_ready(section: dict | None, plan: Plan, outcome: Outcome) -> bool:
    metrics = (section or {}).get("district", {}).get("metrics", {})
    return (metrics.get("beds") or {}).get("value", 0) >= sum(plan.beds.values())


def print_report(section: dict | None, plan: Plan, outcome: Outcome, out=sys.stdout) -> None:
    planned = {"beds_per_1000_aged_60_plus": "/".join(
        f"{v:g}" for v in outcome.summary["planned"]["beds_per_1000_aged_60_plus"].values()) + " by area",
        "training_ratio": f"{outcome.summary['planned']['training_ratio']:.1%} this run"}
    print_targets("social welfare targets", section, planned, out)
