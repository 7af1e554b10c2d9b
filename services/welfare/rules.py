"""Application layer support of social welfare: the reference-data rules under services/welfare/reference/
that change by year, loaded once and looked up by the application (never by the domain).

`enterprise_rules.json`: the legal share of disabled employees of a welfare enterprise, the
restructuring (改制) deadline and which ownerships must restructure, the monthly minimum wage.
`home_care.json`: the home-care services and the cap on a low-cost order of each.
Entries with `effective_from` apply from that day until the next entry. Never constants in code.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from shared.errors import Conflict, InvalidInput

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"  # package data


@dataclass(frozen=True)
class ShareRule:
    """A welfare enterprise's disabled employees must be at least `min_share` of its staff and
    at least `min_persons` people."""
    min_share: Decimal
    min_persons: int
    effective_from: str


@dataclass(frozen=True)
class WelfareRules:
    disabled_staff: tuple[ShareRule, ...]
    restructuring_deadline: str
    restructuring_ownerships: tuple[str, ...]
    minimum_wage: tuple[tuple[str, Decimal], ...]     # (effective_from, monthly yuan)
    home_care_caps: dict[str, Decimal]                 # service -> low-cost cap per order
    version: str = ""

    @classmethod
    def load(cls, directory: Path | None = None) -> "WelfareRules":
        folder = Path(directory or REFERENCE_DIR)
        enterprise = json.loads((folder / "enterprise_rules.json").read_text(encoding="utf-8"))
        home_care = json.loads((folder / "home_care.json").read_text(encoding="utf-8"))
        return cls(
            disabled_staff=tuple(sorted(
                (ShareRule(Decimal(r["min_share"]), int(r["min_persons"]), r["effective_from"])
                 for r in enterprise["disabled_staff"]), key=lambda r: r.effective_from)),
            restructuring_deadline=enterprise["restructuring"]["deadline"],
            restructuring_ownerships=tuple(enterprise["restructuring"]["ownerships"]),
            minimum_wage=tuple(sorted((w["effective_from"], Decimal(w["monthly"]))
                                      for w in enterprise["minimum_wage"])),
            home_care_caps={name: Decimal(s["low_cost_cap"])
                            for name, s in home_care["services"].items()},
            version=enterprise.get("version", ""))

    def share_rule_on(self, day: date) -> ShareRule:
        rules = [r for r in self.disabled_staff if r.effective_from <= day.isoformat()]
        if not rules:
            raise Conflict("date", f"no disabled-staff rule in force on {day.isoformat()} "
                                   "(services/welfare/reference/enterprise_rules.json)",
                           code="welfare.no_share_rule_in_force")
        return rules[-1]

    def minimum_wage_in(self, month_: str) -> Decimal:
        """The monthly minimum wage in force on the first day of a month 'YYYY-MM'."""
        wages = [amount for start, amount in self.minimum_wage if start <= f"{month_}-01"]
        if not wages:
            raise Conflict("month", f"no minimum wage in force in {month_} "
                                    "(services/welfare/reference/enterprise_rules.json)",
                           code="welfare.no_minimum_wage_in_force")
        return wages[-1]

    def low_cost_cap(self, service: str) -> Decimal:
        self.check_service(service)
        return self.home_care_caps[service]

    def check_service(self, service) -> str:
        if service not in self.home_care_caps:
            raise InvalidInput("service", "must be one of the home-care services: "
                                          + ", ".join(sorted(self.home_care_caps)),
                               code="welfare.unknown_home_care_service")
        return service

    def must_restructure(self, ownership: str) -> bool:
        return ownership in self.restructuring_ownerships

    def describe(self) -> dict:
        return {"version": self.version,
                "disabled_staff": [{"effective_from": r.effective_from, "min_share": str(r.min_share),
                                    "min_persons": r.min_persons} for r in self.disabled_staff],
                "restructuring": {"deadline": self.restructuring_deadline,
                                  "ownerships": list(self.restructuring_ownerships)},
                "minimum_wage": [{"effective_from": start, "monthly": str(amount)}
                                 for start, amount in self.minimum_wage],
                "home_care": {s: {"low_cost_cap": str(c)} for s, c in sorted(self.home_care_caps.items())}}
