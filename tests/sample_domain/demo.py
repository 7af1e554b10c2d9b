"""The test domain's demo scenario, on the demo kit: volunteers register and log their hours."""
from __future__ import annotations

import random
import sys
from dataclasses import dataclass

from shared.demo_kit import Kit, Ref, Step, Tally

TITLE = "volunteer service (a test domain)"
AREAS = ("beigang", "xilin", "yonghong")
VOLUNTEERS = 30     # at full size
YEAR = 2007


@dataclass(frozen=True)
class Plan:
    run: int
    lanes: tuple[tuple[Step, ...], ...]

    @property
    def hours(self) -> int:
        return sum(s.args[1] for lane in self.lanes for s in lane if s.method == "log_hours")


@dataclass
class Outcome:
    tally: Tally

    @property
    def ok(self) -> bool:
        return self.tally.ok


def plan(seed: int, size: float = 1.0, run: int = 1, reference=None) -> Plan:
    """One lane per volunteer: registered, then three days of hours."""
    rng = random.Random(f"{seed}:{run}")
    lanes = []
    for n in range(max(3, round(VOLUNTEERS * size))):
        key = f"volunteer-{run}-{n}"
        lanes.append((Step(key, "register_volunteer", (AREAS[n % 3], rng.choice(("cooking", "care"))),
                           saves=key),
                      *(Step(key, "log_hours", (Ref(key), rng.randint(1, 8), f"{YEAR}-0{m}-15"))
                        for m in (3, 6, 9))))
    return Plan(run, tuple(lanes))


def runs_done(kit: Kit) -> int:
    return -(-kit.call("count_volunteers") // VOLUNTEERS) if kit.call("count_volunteers") else 0


def run(plan: Plan, kit: Kit) -> Outcome:
    with kit.bar("volunteers", sum(len(lane) for lane in plan.lanes)) as bar:
        kit.lanes([list(lane) for lane in plan.lanes], {}, bar)
    kit.tally.print(kit.out)
    return Outcome(kit.tally)


def report_ready(section: dict | None, plan: Plan, outcome: Outcome) -> bool:
    return bool(section) and section["district"]["hours"]["value"] >= plan.hours


def print_report(section: dict | None, plan: Plan, outcome: Outcome, out=sys.stdout) -> None:
    district = (section or {}).get("district", {})
    print(f"\nvolunteers in the report: {district.get('volunteers', {}).get('value')}, "
          f"hours {district.get('hours', {}).get('value')}", file=out)
