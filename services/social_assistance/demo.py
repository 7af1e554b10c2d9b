"""The demo: a simulated 2007 of Zhonglou district's dibao, driven through the running services.

    make demo                                   # after `make run` in another shell
    python -m deploy.demo --domains social_assistance --size 0.1 --seed 7

Two halves, kept apart (the scenario interface of shared/demo_kit.py):
- `plan(seed, size, run)` / `build_plan()` is a pure function of the seed, the household count
  (3000 at full size, at least 100), the run number (which keys the identity numbers, so a
  second run on one database registers new people) and the reference data
  (data/areas.json, data/standards.json): which households exist, who they are, their incomes,
  in which month they apply or register, which cases are reviewed and how, the donation drive,
  and a few deliberately bad commands. It does no I/O beyond what its caller hands it.
- `run(plan, kit)` executes a plan month by month through the `social_assistance` RPC
  interface only (never importing the application), prints progress and a summary;
  `print_report` the reporting service's coverage against the plan's. Once-a-year commands a
  second run repeats: the Xilin merge is expected refused as already done (Conflict on 'area'),
  the raise is skipped when the service's July standard already has it; payment runs, the
  year-end month and marginal relief pay only whom they have not paid. `runs_done` counts the
  earlier runs by the donation drive (DONATIONS a run).

How the year is sized. The plan aims at persons covered at year end of COVERAGE_GOAL (1.3% of
the urban, 2.1% of the rural population of data/areas.json), a little above the 2007 targets
(1.2% / 2.0%). Coverage is measured by scheme (persons in active urban-scheme cases / urban
population, rural likewise), so Xilin's rural cases, merged into the urban scheme in June, count
as urban at year end: the plan gives Xilin's rural households their share (2.1% of Xilin's rural
population, all applying before the merge), takes that many persons off the urban-registered
goal, and spreads the district's rural goal over the areas whose rural scheme remains. Cases
that the year's reviews suspend or terminate are replaced, so the projected coverage holds.
About 5% of applications are rejected (income too high); the rest of `--households` are
marginal households (低保边缘). When `--households` is too small for the coverage goal, every
area's goal is scaled down by the same factor and the demo says so.
"""
from __future__ import annotations

import json
import math
import random
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import cached_property
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from shared.demo_kit import (GIVEN, OK, SURNAMES, Expect, Kit, People, Person, ServiceBroken,  # noqa: F401
                             Unreachable, district_metrics, refused, table)

TITLE = "social assistance (低保)"

# --- the scenario ------------------------------------------------------------------------------

YEAR = 2007
MONTHS = tuple(range(1, 13))
COVERAGE_GOAL = {"urban": Decimal("0.013"), "rural": Decimal("0.021")}
REJECTED_SHARE = Decimal("0.05")        # of applications
MIN_MARGINAL_SHARE = Decimal("0.04")    # of households; the coverage goal is scaled to leave these
JANUARY_SHARE = 0.40                    # the caseload carried over from 2006, entered in January
REVIEW_SHARE = 0.20                     # dibao households reviewed once later in the year
MARGINAL_REVIEW_SHARE = 0.40
RAISE = {"urban": "20", "rural": "30", "issued": 6, "effective": 7}   # the 2007 raise, in June
MERGE = {"area": "xilin", "month": 6}   # Xilin's rural dibao into the urban scheme, first half
DONATION_MONTH, DONATIONS, DONATION_DAY = 5, 200, date(YEAR, 5, 18)
MARGINAL_RELIEF = "300"                 # yuan per marginal household, December
FUTURE_MONTH = "2099-12"                # refused: payment runs for a month after today
HOUSEHOLD_SIZES = {1: 28, 2: 30, 3: 24, 4: 12, 5: 6}      # weights
ADDRESS_CODES = {"320404": 70, "320402": 10, "320411": 8, "320405": 6, "320412": 6}
OFFICERS = ("officer-zhang", "officer-li", "officer-wang", "officer-zhao", "officer-chen",
            "officer-liu", "officer-sun", "officer-zhou")
ROADS = ("南大街", "延陵西路", "西横街", "广化街", "劳动西路", "怀德南路", "星港路", "新闸路",
         "北港路", "西林路", "永红路", "五星路", "荷花池路", "勤业路", "清潭路")
DONOR_ORGS = ("区机关干部", "社区居委会", "小学教职工", "医院职工", "纺织厂职工", "商贸公司",
              "建筑公司", "村民委员会", "中学教职工", "个体工商户协会")
DEFAULT_SEED = 2007
FULL_HOUSEHOLDS, MIN_HOUSEHOLDS = 3000, 100


def month_str(m: int) -> str:
    return f"{YEAR}-{m:02d}"


# --- the plan: data ----------------------------------------------------------------------------

@dataclass(frozen=True)
class HouseholdPlan:
    key: str
    kind: str                # 'dibao' (approved) | 'rejected' | 'marginal'
    month: int               # when it applies (dibao, rejected) or is registered (marginal)
    area: str
    registration: str        # 'urban' | 'rural'
    address: str
    members: tuple[Person, ...]
    income: str              # household monthly income, yuan (= the members' incomes)
    assets: str
    verifier: str
    approver: str            # the deciding officer, never the verifier

    @property
    def size(self) -> int:
        return len(self.members)

    def scheme_in(self, m: int) -> str:
        """The case's scheme during month m's reviews (the merge runs after them in its month)."""
        if self.area == MERGE["area"] and self.registration == "rural" and m > MERGE["month"]:
            return "urban"
        return self.registration

    @property
    def scheme_at_year_end(self) -> str:
        return self.scheme_in(13)


@dataclass(frozen=True)
class Review:
    """Dynamic management of one dibao case: a re-verified income, or an outright termination."""
    key: str
    month: int
    action: str              # raise | lower | recheck | suspend | reinstate | end | terminate
    income: str | None       # None for 'terminate'
    officer: str
    expect_outcome: str      # the service's review outcome, or 'terminated'
    expect_status: str       # the case status after this step


@dataclass(frozen=True)
class MarginalReview:
    key: str
    month: int
    income: str
    officer: str
    expect_outcome: str      # still_marginal | left_band | below_line


@dataclass(frozen=True)
class Donation:
    donor: str
    amount: str
    area: str
    received_on: str


@dataclass(frozen=True)
class BadCommand:
    """A command the services must refuse, with the typed error expected."""
    month: int
    kind: str
    expect_error: str        # InvalidInput | Conflict | NotFound
    description: str
    args: tuple = ()


@dataclass(frozen=True)
class MonthPlan:
    month: int
    applications: tuple[HouseholdPlan, ...]   # dibao and rejected, in key order
    marginal: tuple[HouseholdPlan, ...]
    reviews: tuple[Review, ...]
    marginal_reviews: tuple[MarginalReview, ...]
    donations: tuple[Donation, ...]
    bad_commands: tuple[BadCommand, ...]
    merge: bool
    raise_standards: bool
    year_end: bool

    @property
    def label(self) -> str:
        return month_str(self.month)


@dataclass(frozen=True)
class Plan:
    seed: int
    households_requested: int
    coverage_scale: float
    households: tuple[HouseholdPlan, ...]
    reviews: tuple[Review, ...]
    marginal_reviews: tuple[MarginalReview, ...]
    donations: tuple[Donation, ...]
    bad_commands: tuple[BadCommand, ...]
    populations: dict = field(default_factory=dict)          # scheme -> persons
    projected_persons: dict = field(default_factory=dict)    # scheme -> persons in active cases
    projected_status: dict = field(default_factory=dict)     # household key -> status at year end
    run: int = 1

    def household(self, key: str) -> HouseholdPlan:
        return self._index[key]

    @cached_property
    def _index(self) -> dict:
        return {h.key: h for h in self.households}

    def by_kind(self, kind: str) -> list[HouseholdPlan]:
        return [h for h in self.households if h.kind == kind]

    @property
    def projected_coverage(self) -> dict:
        return {s: self.projected_persons.get(s, 0) / self.populations[s]
                for s in self.populations if self.populations[s]}

    @property
    def projected_marginal(self) -> int:
        removed = {r.key for r in self.marginal_reviews if r.expect_outcome != "still_marginal"}
        return sum(1 for h in self.by_kind("marginal") if h.key not in removed)

    def month(self, m: int) -> MonthPlan:
        return MonthPlan(
            month=m,
            applications=tuple(h for h in self.households if h.month == m and h.kind != "marginal"),
            marginal=tuple(h for h in self.households if h.month == m and h.kind == "marginal"),
            reviews=tuple(r for r in self.reviews if r.month == m),
            marginal_reviews=tuple(r for r in self.marginal_reviews if r.month == m),
            donations=self.donations if m == DONATION_MONTH else (),
            bad_commands=tuple(b for b in self.bad_commands if b.month == m),
            merge=m == MERGE["month"], raise_standards=m == RAISE["issued"], year_end=m == 12)

    def months(self) -> list[MonthPlan]:
        return [self.month(m) for m in MONTHS]


# --- the plan: reference data and standards ------------------------------------------------------

def load_reference(directory: Path | None = None) -> tuple[list[dict], list[dict], Decimal]:
    """Areas, standards in force and the marginal band ratio, from the district's data files."""
    from shared.referencedata import DATA_DIR
    directory = Path(directory or DATA_DIR)
    areas = json.loads((directory / "areas.json").read_text(encoding="utf-8"))["areas"]
    standards = json.loads((directory / "standards.json").read_text(encoding="utf-8"))
    return areas, standards["standards"], Decimal(str(standards.get("marginal_band_ratio", "1.5")))


class Standards:
    """The standard in force per area, registration and month of 2007: the reference entries
    plus the 2007 raise (mirrors what the service records; used only to choose incomes)."""

    def __init__(self, entries: list[dict]):
        self.entries = entries

    def base(self, area: str, registration: str, m: int) -> Decimal:
        best = None
        for entry in self.entries:
            if entry["registration"] != registration or entry["effective_month"] > month_str(m):
                continue
            if entry["area"] not in (area, "*"):
                continue
            rank = (entry["effective_month"], entry["area"] == area)
            if best is None or rank >= best[0]:
                best = (rank, Decimal(entry["amount"]))
        if best is None:
            raise ValueError(f"no {registration} standard for {area} in {month_str(m)}")
        return best[1]

    def at(self, area: str, registration: str, m: int) -> Decimal:
        raised = Decimal(RAISE[registration]) if m >= RAISE["effective"] else Decimal(0)
        return self.base(area, registration, m) + raised


# --- the plan: building it -----------------------------------------------------------------------

def _split_income(rng: random.Random, total: int, size: int) -> list[int]:
    """A household's income over its earners (the first one or two members)."""
    earners = min(size, rng.choice((1, 2)))
    if earners == 1 or total == 0:
        return [total] + [0] * (size - 1)
    first = rng.randint(0, total)
    return [first, total - first] + [0] * (size - 2)


def _yuan(value) -> int:
    return int(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP))


class _Builder:
    def __init__(self, seed: int, households: int, scale: float, areas: list[dict],
                 standards: Standards, band: Decimal, run: int = 1):
        self.rng = random.Random(seed)
        self.seed, self.requested, self.scale = seed, households, scale
        self.areas, self.standards, self.band = areas, standards, band
        self.people = People(self.rng, run, ADDRESS_CODES)
        self.households: list[HouseholdPlan] = []
        self.reviews: list[Review] = []
        self.marginal_reviews: list[MarginalReview] = []

    # households --------------------------------------------------------------------------
    def _officers(self) -> tuple[str, str]:
        verifier, approver = self.rng.sample(OFFICERS, 2)
        return verifier, approver

    def _size(self) -> int:
        return self.rng.choices(list(HOUSEHOLD_SIZES), list(HOUSEHOLD_SIZES.values()))[0]

    def _household(self, kind: str, m: int, area: dict, registration: str, size: int,
                   income: int) -> HouseholdPlan:
        rng = self.rng
        incomes = _split_income(rng, income, size)
        members = [self.people.person(1930, 1980, incomes[0])]
        members += [self.people.person(1930, 2005, inc) for inc in incomes[1:]]
        verifier, approver = self._officers()
        road = rng.choice(ROADS)
        household = HouseholdPlan(
            key=f"H{len(self.households) + 1:05d}", kind=kind, month=m, area=area["code"],
            registration=registration, address=f"{area['name']}{road}{rng.randint(1, 300)}号",
            members=tuple(members), income=str(income),
            assets=str(rng.choice((0, 0, 0, 500, 1000, 2000, 5000))),
            verifier=verifier, approver=approver)
        self.households.append(household)
        return household

    def _month(self, last: int = 12) -> int:
        return 1 if self.rng.random() < JANUARY_SHARE else self.rng.randint(2, last)

    def _dibao(self, area: dict, registration: str, m: int) -> HouseholdPlan:
        size = self._size()
        standard = self.standards.at(area["code"], registration, m)
        share = 0 if self.rng.random() < 0.2 else self.rng.uniform(0.05, 0.8)
        income = int(standard * size * Decimal(str(share)))       # per capita well below the line
        return self._household("dibao", m, area, registration, size, income)

    def cells(self) -> list[tuple[dict, str, int]]:
        """(area, registration, persons goal) for every area and registration with people."""
        urban_total = sum(a["urban_population"] for a in self.areas)
        rural_total = sum(a["rural_population"] for a in self.areas)
        merged = [a for a in self.areas if a["code"] == MERGE["area"]]
        merged_rural = sum(a["rural_population"] for a in merged)
        merged_goal = COVERAGE_GOAL["rural"] * merged_rural
        urban_goal = COVERAGE_GOAL["urban"] * urban_total - merged_goal
        rural_goal = COVERAGE_GOAL["rural"] * rural_total
        scale = Decimal(str(self.scale))
        cells = []
        for area in self.areas:
            if area["urban_population"]:
                cells.append((area, "urban", urban_goal * area["urban_population"] / urban_total))
            if area["rural_population"]:
                if area["code"] == MERGE["area"]:
                    cells.append((area, "rural", merged_goal))
                else:
                    cells.append((area, "rural", rural_goal * area["rural_population"]
                                  / (rural_total - merged_rural)))
        return [(a, r, _yuan(goal * scale)) for a, r, goal in cells]

    def dibao_households(self) -> None:
        self.cell_goals = self.cells()
        for area, registration, goal in self.cell_goals:
            persons = 0
            last = MERGE["month"] if area["code"] == MERGE["area"] and registration == "rural" else 12
            while persons < goal:
                persons += self._dibao(area, registration, self._month(last)).size

    # reviews -------------------------------------------------------------------------------
    def _income_for(self, standard: Decimal, size: int, low: float, high: float) -> int:
        return int(standard * size * Decimal(str(self.rng.uniform(low, high))))

    def dibao_reviews(self) -> None:
        rng = self.rng
        for h in [h for h in self.households if h.kind == "dibao"]:
            first = h.month + 1
            if h.area == MERGE["area"] and h.registration == "rural":
                first = max(first, MERGE["month"] + 1)   # reviewed in the urban scheme
            if first > 12 or rng.random() >= REVIEW_SHARE:
                continue
            m = rng.randint(first, 12)
            standard = self.standards.at(h.area, h.scheme_in(m), m)
            officer = rng.choice(OFFICERS)
            old = int(h.income)
            action = rng.choices(("raise", "lower", "recheck", "suspend", "terminate"),
                                 (30, 30, 10, 20, 10))[0]
            if action == "raise" and old < h.size:
                action = "lower"
            if action == "lower":
                new = old + int((standard * h.size - old) * Decimal(str(rng.uniform(0.3, 0.7))))
                if new <= old or Decimal(new) / h.size >= standard - 1:
                    action = "recheck"
                else:
                    self.reviews.append(Review(h.key, m, "lower", str(new), officer, "lowered", "active"))
            if action == "raise":
                new = int(old * rng.uniform(0.2, 0.7))
                self.reviews.append(Review(h.key, m, "raise", str(new), officer, "raised", "active"))
            elif action == "recheck":
                self.reviews.append(Review(h.key, m, "recheck", h.income, officer, "unchanged", "active"))
            elif action == "terminate":
                self.reviews.append(Review(h.key, m, "terminate", None, officer, "terminated",
                                           "terminated"))
            elif action == "suspend":
                new = self._income_for(standard, h.size, 1.1, 1.6) + 1
                self.reviews.append(Review(h.key, m, "suspend", str(new), officer, "suspended",
                                           "suspended"))
                if m < 12 and rng.random() < 0.7:
                    m2 = rng.randint(m + 1, min(12, m + 3))
                    standard2 = self.standards.at(h.area, h.scheme_in(m2), m2)
                    if rng.random() < 0.5:
                        again = self._income_for(standard2, h.size, 0.2, 0.7)
                        self.reviews.append(Review(h.key, m2, "reinstate", str(again), officer,
                                                   "reinstated", "active"))
                    else:
                        again = self._income_for(standard2, h.size, 1.1, 1.6) + 1
                        self.reviews.append(Review(h.key, m2, "end", str(again), officer,
                                                   "terminated", "terminated"))

    def final_status(self) -> dict[str, str]:
        status = {h.key: ("active" if h.kind == "dibao" else "rejected" if h.kind == "rejected"
                          else "marginal") for h in self.households}
        for review in sorted(self.reviews, key=lambda r: r.month):
            status[review.key] = review.expect_status
        return status

    def replace_attrition(self) -> None:
        """Cases the reviews close or suspend are replaced by more applicants in the same area."""
        status = self.final_status()
        persons: Counter = Counter()
        for h in self.households:
            if h.kind == "dibao" and status[h.key] == "active":
                persons[(h.area, h.registration)] += h.size
        for area, registration, goal in self.cell_goals:
            last = MERGE["month"] if area["code"] == MERGE["area"] and registration == "rural" else 12
            while persons[(area["code"], registration)] < goal:
                persons[(area["code"], registration)] += self._dibao(area, registration,
                                                                     self._month(last)).size

    # rejected and marginal households ------------------------------------------------------
    def _weighted_cell(self) -> tuple[dict, str]:
        cells = [(a, r) for a in self.areas for r in ("urban", "rural") if a[f"{r}_population"]]
        weights = [a[f"{r}_population"] for a, r in cells]
        return self.rng.choices(cells, weights)[0]

    def rejected(self, count: int) -> None:
        for _ in range(count):
            area, registration = self._weighted_cell()
            m = self.rng.randint(1, 12)
            size = self._size()
            standard = self.standards.at(area["code"], registration, m)
            self._household("rejected", m, area, registration, size,
                            self._income_for(standard, size, 1.6, 3.0) + 1)

    def marginal(self, count: int) -> None:
        """Per-capita income inside the marginal band both before and after the raise (the
        service checks the band against the standard in force on the day it is called)."""
        rng = self.rng
        for _ in range(count):
            area, registration = self._weighted_cell()
            m = rng.randint(1, 12)
            size = self._size()
            before = self.standards.at(area["code"], registration, 1)
            after = self.standards.at(area["code"], registration, 12)
            low, high = after * Decimal("1.02"), before * self.band * Decimal("0.98")
            per_capita = low + (high - low) * Decimal(str(rng.random()))
            household = self._household("marginal", m, area, registration, size,
                                        int(per_capita * size))
            if m < 12 and rng.random() < MARGINAL_REVIEW_SHARE:
                m2 = rng.randint(m + 1, min(12, m + 5))
                outcome = rng.choices(("still_marginal", "left_band", "below_line"), (80, 10, 10))[0]
                if outcome == "still_marginal":
                    per_capita = low + (high - low) * Decimal(str(rng.random()))
                elif outcome == "left_band":
                    per_capita = after * self.band * Decimal(str(rng.uniform(1.1, 1.5)))
                else:
                    per_capita = before * Decimal(str(rng.uniform(0.3, 0.9)))
                self.marginal_reviews.append(MarginalReview(
                    household.key, m2, str(int(per_capita * size)), rng.choice(OFFICERS), outcome))

    # spread, donations, bad commands ---------------------------------------------------------
    def every_month_has_applications(self) -> None:
        """Move a January application (not Xilin rural) into any month that has none."""
        for m in MONTHS:
            if any(h.month == m and h.kind == "dibao" for h in self.households):
                continue
            reviewed = {r.key for r in self.reviews}
            for i, h in enumerate(self.households):
                if (h.kind == "dibao" and h.month == 1 and h.key not in reviewed
                        and not (h.area == MERGE["area"] and h.registration == "rural")
                        and sum(1 for x in self.households if x.month == 1 and x.kind == "dibao") > 1):
                    self.households[i] = replace(h, month=m)   # income stays below the line
                    break

    def donations(self) -> list[Donation]:
        rng = self.rng
        weights = [a["urban_population"] + a["rural_population"] for a in self.areas]
        result = []
        for _ in range(DONATIONS):
            area = rng.choices(self.areas, weights)[0]
            if rng.random() < 0.3:
                donor = area["name"] + rng.choice(DONOR_ORGS)
                amount = rng.randint(10, 300) * 100
            else:
                donor = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
                amount = rng.choice((50, 100, 100, 200, 200, 300, 500, 1000, 2000))
            day = DONATION_DAY if rng.random() < 0.8 else DONATION_DAY + timedelta(days=rng.randint(1, 10))
            result.append(Donation(donor, str(amount), area["code"], day.isoformat()))
        return result

    def bad_commands(self) -> list[BadCommand]:
        """Deliberately wrong commands; each must be refused with the expected typed error."""
        rng = self.rng
        area = self.areas[0]
        reviewed = {r.key for r in self.reviews}
        quiet = [h for h in self.households if h.kind == "dibao" and h.key not in reviewed]
        bad = []

        def member() -> dict:
            return self.people.person(1940, 1990, 0).rpc()

        def wrong_check_digit(m: dict) -> dict:
            digits = "0123456789X".replace(m["id_number"][-1], "")
            return dict(m, id_number=m["id_number"][:17] + rng.choice(digits))

        bad.append(BadCommand(1, "register_household", "InvalidInput",
                              "identity number with a wrong check digit",
                              (area["code"], "urban", [wrong_check_digit(member())])))
        for m in (2, 5, 9):
            candidates = [h for h in quiet if h.month == m]
            if candidates:
                bad.append(BadCommand(m, "approve_by_verifier", "Conflict",
                                      "approval by the officer who verified the case",
                                      (rng.choice(candidates).key,)))
        bad.append(BadCommand(3, "run_payments", "InvalidInput",
                              "payment run for a future month", (FUTURE_MONTH,)))
        bad.append(BadCommand(4, "register_household", "InvalidInput", "unknown area",
                              ("tianning", "urban", [member()])))
        bad.append(BadCommand(5, "record_donation", "InvalidInput", "donation of 0 yuan",
                              (YEAR, "匿名", "0", area["code"], DONATION_DAY.isoformat())))
        bad.append(BadCommand(6, "get_case", "NotFound", "a case id that does not exist",
                              (str(uuid.UUID(int=rng.getrandbits(128), version=4)),)))
        earlier = [h for h in quiet if h.month < 7]
        if earlier:
            bad.append(BadCommand(7, "person_in_open_case", "Conflict",
                                  "a person already in an open case applies in another household",
                                  (rng.choice(earlier).key,)))
        short = member()
        bad.append(BadCommand(8, "register_household", "InvalidInput",
                              "identity number of 17 characters",
                              (area["code"], "urban", [dict(short, id_number=short["id_number"][:17])])))
        bad.append(BadCommand(10, "run_payments", "InvalidInput",
                              "payment run for a future month", (FUTURE_MONTH,)))
        earlier = [h for h in quiet if h.month < 11]
        if earlier:
            bad.append(BadCommand(11, "review_negative_income", "InvalidInput",
                                  "review with a negative household income",
                                  (rng.choice(earlier).key, "-100")))
        bad.append(BadCommand(12, "pay_marginal_relief", "InvalidInput",
                              "marginal relief not given to the fen", (YEAR, "12.345")))
        return sorted(bad, key=lambda b: b.month)


def _plan_once(seed: int, households: int, scale: float, areas, standards: Standards,
               band: Decimal, run: int = 1) -> Plan:
    b = _Builder(seed, households, scale, areas, standards, band, run)
    b.dibao_households()
    b.dibao_reviews()
    b.replace_attrition()
    dibao = len(b.households)
    rejected = _yuan(Decimal(dibao) * REJECTED_SHARE / (1 - REJECTED_SHARE))
    b.rejected(rejected)
    b.marginal(max(0, households - dibao - rejected))
    b.every_month_has_applications()
    donations = b.donations()
    bad = b.bad_commands()
    status = b.final_status()
    persons: Counter = Counter()
    for h in b.households:
        if h.kind == "dibao" and status[h.key] == "active":
            persons[h.scheme_at_year_end] += h.size
    populations = {s: sum(a[f"{s}_population"] for a in areas) for s in ("urban", "rural")}
    return Plan(seed=seed, households_requested=households, coverage_scale=scale,
                households=tuple(b.households), reviews=tuple(sorted(b.reviews, key=lambda r: (r.month, r.key))),
                marginal_reviews=tuple(sorted(b.marginal_reviews, key=lambda r: (r.month, r.key))),
                donations=tuple(donations), bad_commands=tuple(bad), populations=populations,
                projected_persons=dict(persons), projected_status=status, run=run)


def households_needed(seed: int = DEFAULT_SEED) -> int:
    """The smallest --households that reaches the full coverage goal for this seed (about)."""
    areas, standards, band = load_reference()
    full = _plan_once(seed, 0, 1.0, areas, Standards(standards), band)
    applications = sum(1 for h in full.households if h.kind != "marginal")
    return int(applications / (1 - float(MIN_MARGINAL_SHARE))) + 1


def build_plan(seed: int = DEFAULT_SEED, households: int = 3000, *, areas: list[dict] | None = None,
               standards: list[dict] | None = None, band: Decimal | None = None, run: int = 1) -> Plan:
    """The whole year, decided up front; the same arguments always give the same plan."""
    if households < MIN_HOUSEHOLDS:
        raise ValueError(f"the demo needs at least {MIN_HOUSEHOLDS} households")
    if areas is None or standards is None or band is None:
        ref_areas, ref_standards, ref_band = load_reference()
        areas = ref_areas if areas is None else areas
        standards = ref_standards if standards is None else standards
        band = ref_band if band is None else band
    schedule = Standards(standards)
    scale = 1.0
    for _ in range(40):
        plan = _plan_once(seed, households, scale, areas, schedule, band, run)
        applications = sum(1 for h in plan.households if h.kind != "marginal")
        room = households - _yuan(Decimal(households) * MIN_MARGINAL_SHARE)
        if applications <= room:
            return plan
        scale = round(scale * min(0.99, room / applications), 6)
    raise ValueError(f"cannot fit the year into {households} households")


# --- the scenario's interface (shared/demo_kit.py) -------------------------------------------------

def households_for(size: float) -> int:
    return max(MIN_HOUSEHOLDS, round(FULL_HOUSEHOLDS * size))


def plan(seed: int, size: float = 1.0, run: int = 1, reference: tuple | None = None) -> Plan:
    """The year of run `run`: `size` scales the households (3000 at 1.0, at least 100);
    `reference` is load_reference()'s (areas, standards, band), read from the data files if None."""
    areas, standards, band = reference or load_reference()
    return build_plan(seed, households_for(size), areas=areas, standards=standards, band=band, run=run)


def runs_done(kit: Kit) -> int:
    """Earlier demo runs on this database: every run records DONATIONS donations to the drive
    (an interrupted run that recorded some counts as one)."""
    return math.ceil(kit.call("donation_totals", YEAR).get("count", 0) / DONATIONS)


def run(plan: Plan, kit: Kit) -> "Runner":
    """Drive the year through `kit` (service `social_assistance`); print the summary."""
    runner = Runner(plan, kit)
    found = runner.preflight()
    if found["donations"].get("count"):
        print(f"dibao: the event store already holds a {YEAR} donation drive ({found['donations']['count']} "
              f"donations): run {plan.run} builds on the earlier runs", file=kit.out)
    runner.run()
    summary(runner, kit.out)
    return runner


# --- the runner ----------------------------------------------------------------------------------

class Runner:
    """Executes a plan through `social_assistance` RPC, through the kit's calls and tally."""

    def __init__(self, plan: Plan, kit: Kit):
        self.plan, self.kit = plan, kit
        self.lock = kit.lock
        # what happened
        self.household_ids: dict[str, str] = {}
        self.case_ids: dict[str, str] = {}
        self.status: dict[str, str] = {}
        self.marginal_status: dict[str, str] = {}
        self.outcomes: Counter = Counter()
        self.outcome_mismatches: list[str] = []
        self.payments: dict[str, dict] = {}
        self.bulk_results: dict[str, dict] = {}
        self.donation_totals: dict = {}
        self.extra_households = 0
        self.already_raised = False
        self.started = time.monotonic()

    @property
    def ok(self) -> bool:
        return self.kit.tally.ok

    def planned(self, label: str, method: str, *args, bulk: bool = False, expect: Expect = OK):
        return self.kit.do(label, method, *args, bulk=bulk, expect=expect)

    def expect_refusal(self, bad: BadCommand, method: str, *args) -> None:
        self.kit.do(f"{month_str(bad.month)} {bad.description}", method, *args,
                    expect=refused(bad.expect_error))

    # preflight -----------------------------------------------------------------------------
    def preflight(self) -> dict:
        """Is the service there, and working?"""
        area = self.plan.households[0].area
        try:
            standard = self.kit.call("standard", area, "urban", month_str(1))
            totals = self.kit.call("donation_totals", YEAR)
        except Unreachable:
            raise
        except Exception as error:  # noqa: BLE001  (reachable, but not working)
            raise ServiceBroken(f"social_assistance answered the first call with "
                                f"{type(error).__name__}: {error}") from None
        return {"standard": standard, "donations": totals}

    def raised_already(self) -> bool:
        """Has an earlier run raised the standards? (The service's July standard says.)"""
        area = self.plan.households[0].area
        entries = load_reference()[1]
        raised = Standards(entries).at(area, "urban", RAISE["effective"])
        return Decimal(self.kit.call("standard", area, "urban", month_str(RAISE["effective"]))) >= raised

    # the year ------------------------------------------------------------------------------
    def run(self) -> None:
        for month in self.plan.months():
            self.run_month(month)

    def run_month(self, month: MonthPlan) -> None:
        probes = {b.args[0]: b for b in month.bad_commands if b.kind == "approve_by_verifier"}
        # (units of progress, function, arguments); the donations go to one drive, one aggregate,
        # so they are entered one after another in one task (in parallel they only collide).
        tasks = ([(len(month.donations), self.donations, (month.donations,))] if month.donations else [])
        tasks += ([(1, self.application, (h, probes.get(h.key))) for h in month.applications]
                  + [(1, self.marginal, (h,)) for h in month.marginal]
                  + [(1, self.review, (r,)) for r in month.reviews]
                  + [(1, self.review_marginal, (r,)) for r in month.marginal_reviews])
        others = [b for b in month.bad_commands if b.kind != "approve_by_verifier"]
        bulk_steps = 1 + (2 if month.merge or month.raise_standards else 0) + (2 if month.year_end else 0)
        total = sum(task[0] for task in tasks) + len(others) + bulk_steps
        with self.kit.bar(month.label, total) as bar:
            bar.set_postfix_str("applications, reviews" + (", donations" if month.donations else ""))
            self.kit.parallel(tasks, bar)
            bar.set_postfix_str("refused commands")
            for bad in others:
                self.bad_command(bad, month)
                bar.update(1)
            if month.merge:
                bar.set_postfix_str(f"merging {MERGE['area']} rural into urban")
                # once a year: a later run finds it done (refused on 'area', as expected)
                expect = OK if self.plan.run == 1 else Expect(done=("Conflict", "area"))
                self.bulk_results["merge"] = self.planned(
                    "merge", "merge_rural_into_urban", MERGE["area"], month.label, bulk=True,
                    expect=expect) or {}
                bar.update(1)
            if month.raise_standards:
                bar.set_postfix_str("raising the standards")
                if self.raised_already():          # once a year: ask the service first
                    self.already_raised = True
                    self.kit.tally.add("raise_standards", "already done")
                else:
                    self.bulk_results["raise"] = self.planned(
                        "raise", "raise_standards", RAISE["urban"], RAISE["rural"],
                        month_str(RAISE["effective"]), bulk=True) or {}
                bar.update(1)
            bar.set_postfix_str("payment run")
            self.payments[month.label] = self.planned(
                "payments", "run_payments", month.label, bulk=True) or {}
            bar.update(1)
            if month.year_end:
                bar.set_postfix_str("year-end extra month")
                self.bulk_results["year_end"] = self.planned(
                    "year end", "pay_year_end_extra", YEAR, bulk=True) or {}
                bar.update(1)
                bar.set_postfix_str("marginal relief")
                self.bulk_results["relief"] = self.planned(
                    "relief", "pay_marginal_relief", YEAR, MARGINAL_RELIEF, bulk=True) or {}
                bar.update(1)
            bar.set_postfix_str("done")

    # one household's application: register, apply, verify, decide --------------------------
    def application(self, h: HouseholdPlan, probe: BadCommand | None = None) -> None:
        label = f"{h.key} ({h.area} {h.registration})"
        household_id = self.planned(label, "register_household", h.area, h.registration,
                                    [m.rpc() for m in h.members], h.address)
        if household_id is None:
            return
        self.household_ids[h.key] = household_id
        case_id = self.planned(label, "apply", household_id, h.verifier)
        if case_id is None:
            return
        self.case_ids[h.key] = case_id
        self.status[h.key] = "applied"
        if self.planned(label, "verify", case_id, h.verifier, h.income, h.assets) is None:
            return
        self.status[h.key] = "verified"
        if probe is not None:
            self.expect_refusal(probe, "approve", case_id, h.verifier, month_str(h.month))
        if h.kind == "rejected":
            view = self.planned(label, "reject", case_id, h.approver,
                                "per-capita income above the local standard")
        else:
            view = self.planned(label, "approve", case_id, h.approver, month_str(h.month))
        if view:
            self.status[h.key] = view["status"]

    def marginal(self, h: HouseholdPlan) -> None:
        label = f"{h.key} (marginal, {h.area})"
        household_id = self.planned(label, "register_household", h.area, h.registration,
                                    [m.rpc() for m in h.members], h.address)
        if household_id is None:
            return
        self.household_ids[h.key] = household_id
        if self.planned(label, "register_marginal", household_id, h.verifier) is not None:
            self.marginal_status[h.key] = "registered"

    def review(self, r: Review) -> None:
        case_id = self.case_ids.get(r.key)
        if case_id is None or self.status.get(r.key) in (None, "applied", "verified", "rejected"):
            with self.lock:
                self.outcomes["skipped (no case)"] += 1
            return
        label = f"{r.key} review {month_str(r.month)}"
        if r.action == "terminate":
            view = self.planned(label, "terminate", case_id, r.officer, "moved out of the district")
            outcome = view and "terminated"
        else:
            view = self.planned(label, "review", case_id, r.officer, r.income, month_str(r.month))
            outcome = view and view["outcome"]
        if not view:
            return
        self.status[r.key] = view["status"]
        with self.lock:
            self.outcomes[outcome] += 1
            if outcome != r.expect_outcome:
                self.outcome_mismatches.append(f"{label}: {r.action} gave {outcome}, "
                                               f"planned {r.expect_outcome}")

    def review_marginal(self, r: MarginalReview) -> None:
        household_id = self.household_ids.get(r.key)
        if household_id is None or self.marginal_status.get(r.key) != "registered":
            with self.lock:
                self.outcomes["marginal skipped"] += 1
            return
        label = f"{r.key} marginal review {month_str(r.month)}"
        outcome = self.planned(label, "review_marginal", household_id, r.officer, r.income)
        if outcome is None:
            return
        if outcome != "still_marginal":
            self.marginal_status[r.key] = "removed"
        with self.lock:
            self.outcomes[f"marginal {outcome}"] += 1
            if outcome != r.expect_outcome:
                self.outcome_mismatches.append(f"{label}: gave {outcome}, planned {r.expect_outcome}")

    def donations(self, donations: tuple[Donation, ...]) -> None:
        for d in donations:
            totals = self.planned(f"donation {d.donor}", "record_donation", YEAR, d.donor, d.amount,
                                  d.area, d.received_on)
            if totals:
                self.donation_totals = totals

    def bad_command(self, bad: BadCommand, month: MonthPlan) -> None:
        if bad.kind == "person_in_open_case":
            h = self.plan.household(bad.args[0])
            if self.status.get(h.key) not in ("active", "suspended"):
                self.kit.skip(bad.kind)   # no open case to reuse a member of
                return
            label = f"refused-command household (reuses a member of {h.key})"
            household_id = self.planned(label, "register_household", h.area, h.registration,
                                        [h.members[0].rpc()], h.address)
            if household_id is None:
                return
            self.extra_households += 1
            self.expect_refusal(bad, "apply", household_id, OFFICERS[0])
        elif bad.kind == "review_negative_income":
            case_id = self.case_ids.get(bad.args[0])
            if case_id is None:
                self.kit.skip(bad.kind)   # no case to review
                return
            self.expect_refusal(bad, "review", case_id, OFFICERS[0], bad.args[1], month.label)
        else:
            self.expect_refusal(bad, bad.kind, *bad.args)


# --- the summary ---------------------------------------------------------------------------------

def summary(runner: Runner, out=sys.stdout) -> None:
    plan, tally = runner.plan, runner.kit.tally
    p = lambda *a: print(*a, file=out)  # noqa: E731
    p("")
    p(f"== Zhonglou district dibao, {YEAR}: demo summary (seed {plan.seed}, run {plan.run}, "
      f"{time.monotonic() - runner.started:.0f} s) ==")
    kinds = Counter(h.kind for h in plan.households)
    registered = Counter(plan.household(k).kind for k in runner.household_ids)
    p("")
    table(["households", "planned", "registered"],
          [["dibao applicants (approved)", kinds["dibao"], registered["dibao"]],
           ["applicants rejected (income too high)", kinds["rejected"], registered["rejected"]],
           ["marginal households (低保边缘)", kinds["marginal"], registered["marginal"]],
           ["registered for a refused command", "", runner.extra_households],
           ["total", len(plan.households), len(runner.household_ids) + runner.extra_households]], out)
    statuses = Counter(runner.status.values())
    planned_status = Counter(s for k, s in plan.projected_status.items()
                             if plan.household(k).kind != "marginal")
    p("")
    table(["cases", "planned", "now"],
          [[s, planned_status[s], statuses[s]] for s in ("active", "suspended", "terminated", "rejected")]
          + [["still pending (applied/verified)", 0, statuses["applied"] + statuses["verified"]]], out)
    p("")
    rows, total = [], Decimal("0.00")
    for label, result in list(runner.payments.items()) + [
            (f"{YEAR} year-end extra month", runner.bulk_results.get("year_end") or {})]:
        amount = Decimal(result.get("total", "0"))
        total += amount
        rows.append([label, result.get("active_cases", "-"), result.get("paid", "-"), f"{amount:,.2f}"])
    rows.append(["total dibao paid (this run)", "", "", f"{total:,.2f}"])
    relief = runner.bulk_results.get("relief") or {}
    rows.append([f"marginal relief ({MARGINAL_RELIEF} yuan)", relief.get("marginal_households", "-"),
                 relief.get("paid", "-"), f"{Decimal(relief.get('total', '0')):,.2f}"])
    table(["payments", "active cases", "paid", "yuan"], rows, out)
    merge, raised = runner.bulk_results.get("merge") or {}, runner.bulk_results.get("raise") or {}
    p("")
    p(f"standards raised +{RAISE['urban']} urban / +{RAISE['rural']} rural from "
      f"{month_str(RAISE['effective'])}: " + ("already done by an earlier run" if runner.already_raised
                                              else f"{raised.get('cases_recomputed', '-')} active cases re-computed"))
    p(f"{MERGE['area']} rural dibao merged into the urban scheme from {month_str(MERGE['month'])}: "
      + (f"{merge['cases_merged']} cases" if merge else "already done by an earlier run" if plan.run > 1 else "-"))
    d = runner.donation_totals
    p(f"one-day donation drive: {d.get('count', 0)} donations, {Decimal(d.get('total', '0')):,.2f} yuan")
    p("review outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(runner.outcomes.items())))
    if runner.outcome_mismatches:
        p(f"  {len(runner.outcome_mismatches)} outcomes differ from the plan, e.g.:")
        for line in runner.outcome_mismatches[:5]:
            p(f"    {line}")
    expected = Counter(e for _, e, _ in tally.refusals)
    p("")
    table(["refused commands", "sent", "refused as expected"],
          [[kind, expected[kind], sum(1 for _, e, g in tally.refusals if e == kind and g == kind)]
           for kind in ("InvalidInput", "Conflict", "NotFound")], out)
    p("")
    tally.print(out)


def persons_active(runner: Runner) -> dict:
    persons: Counter = Counter()
    for key, status in runner.status.items():
        if status == "active":
            h = runner.plan.household(key)
            persons[h.scheme_at_year_end] += h.size
    return dict(persons)


# --- the report ----------------------------------------------------------------------------------

def coverage(section: dict | None) -> dict:
    """Persons covered / population by scheme, from the dibao section of /report."""
    return district_metrics(section).get("coverage_ratio") or {}


def report_ready(section: dict | None, plan: Plan, outcome: Runner) -> bool:
    found = coverage(section)
    return all(found.get(s, {}).get("persons", 0) >= n for s, n in persons_active(outcome).items())


def print_report(section: dict | None, plan: Plan, outcome: Runner, out=sys.stdout) -> None:
    found = coverage(section)
    rows = []
    for scheme in ("urban", "rural"):
        c = found.get(scheme, {})
        value, target = c.get("value"), c.get("target")
        met = {True: "met", False: "NOT met", None: "-"}[c.get("met")]
        rows.append([scheme, c.get("persons", "-"), c.get("population", "-"),
                     "-" if value is None else f"{value:.2%}",
                     "-" if target is None else f"{c.get('op', '>=')} {target:.1%}", met,
                     f"{plan.projected_coverage.get(scheme, 0):.2%}"])
    print("", file=out)
    if section and section.get("note"):
        print(f"reporting: {section['note']}", file=out)
    table(["district coverage", "persons", "population", "coverage", "target", "",
           f"planned (run {plan.run})"], rows, out)
