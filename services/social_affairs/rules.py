"""Reference data of social affairs, read from services/social_affairs/reference/: the legal ages of
marriage and the divorce cooling-off period (marriage.json), the migration plan of the memorial
halls and the halls' management standard (funeral.json). The district changes these files, never
code. Every list is effective-dated: an entry applies from its `effective_from` until the next.

Used by the application layer, which hands the domain the value objects built here. A file that
breaks its own rules fails at load time, naming the file and the entry.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from services.social_affairs.domain import CoolingOff, LegalAge, MigrationPlan, Standard
from shared.errors import Conflict

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"  # package data


class RulesError(ValueError):
    """A reference file of social affairs is malformed; the message names the file and the entry."""


def _read(directory: Path, name: str) -> dict:
    path = directory / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RulesError(f"{path}: {error}") from None


def _day(value, where: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except (TypeError, ValueError):
        raise RulesError(f"{where}: must be a date YYYY-MM-DD") from None


def _whole(value, where: str, minimum: int = 0, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise RulesError(f"{where}: must be a whole number >= {minimum}")
    return value


def _dated(entries, where: str) -> list[dict]:
    if not isinstance(entries, list) or not entries:
        raise RulesError(f"{where}: must list at least one entry with effective_from")
    checked = [dict(e, effective_from=_day(e.get("effective_from"), f"{where}[{i}].effective_from"))
               for i, e in enumerate(entries)]
    days = [e["effective_from"] for e in checked]
    if len(set(days)) != len(days):
        raise RulesError(f"{where}: two entries take effect on the same day")
    return sorted(checked, key=lambda e: e["effective_from"])


def _in_force(entries: tuple, day: str, what: str, field: str):
    found = [e for e in entries if e.effective_from <= day]
    if not found:
        raise Conflict(field, f"no {what} in force on {day} (services/social_affairs/reference/)",
                       code="affairs.no_rule_in_force")
    return found[-1]


@dataclass(frozen=True)
class AffairsRules:
    legal_ages: tuple[LegalAge, ...]
    cooling_off: tuple[CoolingOff, ...]
    standards: tuple[Standard, ...]
    migration: MigrationPlan
    versions: dict

    @classmethod
    def load(cls, directory: Path | None = None) -> "AffairsRules":
        folder = Path(directory or REFERENCE_DIR)
        marriage, funeral = _read(folder, "marriage.json"), _read(folder, "funeral.json")
        ages = tuple(LegalAge(_whole(e.get("men"), f"marriage.json: legal_age[{i}].men", 1),
                              _whole(e.get("women"), f"marriage.json: legal_age[{i}].women", 1),
                              e["effective_from"])
                     for i, e in enumerate(_dated(marriage.get("legal_age"), "marriage.json: legal_age")))
        cooling = tuple(CoolingOff(_whole(e.get("days"), f"marriage.json: divorce_cooling_off[{i}].days"),
                                   _whole(e.get("window_days"), f"marriage.json: divorce_cooling_off[{i}].window_days",
                                          1, allow_none=True),
                                   e["effective_from"])
                        for i, e in enumerate(_dated(marriage.get("divorce_cooling_off"),
                                                     "marriage.json: divorce_cooling_off")))
        standards = []
        for i, e in enumerate(_dated(funeral.get("management_standard"), "funeral.json: management_standard")):
            items = e.get("items")
            if not isinstance(items, dict) or not items:
                raise RulesError(f"funeral.json: management_standard[{i}].items must name at least one item")
            standards.append(Standard(str(e.get("version") or e["effective_from"]), e["effective_from"], dict(items)))
        plan = funeral.get("migration") or {}
        where = "funeral.json: migration"
        sources = plan.get("sources")
        if not isinstance(sources, list) or not sources or not isinstance(plan.get("destination"), str) \
                or plan["destination"] in sources:
            raise RulesError(f"{where}: sources (hall codes) and a destination hall not among them")
        migration = MigrationPlan(tuple(sources), plan["destination"],
                                  _day(plan.get("preparation_deadline"), f"{where}.preparation_deadline"),
                                  _day(plan.get("moves_from"), f"{where}.moves_from"),
                                  _day(plan.get("moves_until"), f"{where}.moves_until"))
        if migration.moves_until < migration.moves_from:
            raise RulesError(f"{where}: moves_until is before moves_from")
        return cls(ages, cooling, tuple(standards), migration,
                   {"marriage": marriage.get("version", ""), "funeral": funeral.get("version", "")})

    def legal_age_on(self, day: str) -> LegalAge:
        return _in_force(self.legal_ages, day, "legal age of marriage", "registered_on")

    def cooling_off_for(self, filed_on: str) -> CoolingOff:
        return _in_force(self.cooling_off, filed_on, "divorce cooling-off rule", "filed_on")

    def standard_on(self, day: str) -> Standard:
        return _in_force(self.standards, day, "management standard of memorial halls", "inspected_on")

    def describe(self, today: str) -> dict:
        plan = self.migration
        return {"versions": dict(self.versions),
                "legal_age": [{"effective_from": a.effective_from, "men": a.men, "women": a.women}
                              for a in self.legal_ages],
                "divorce_cooling_off": [{"effective_from": c.effective_from, "days": c.days,
                                         "window_days": c.window_days} for c in self.cooling_off],
                "management_standard": [{"effective_from": s.effective_from, "version": s.version,
                                         "items": dict(s.items)} for s in self.standards],
                "migration": {"sources": list(plan.sources), "destination": plan.destination,
                              "preparation_deadline": plan.preparation_deadline,
                              "moves_from": plan.moves_from, "moves_until": plan.moves_until},
                "in_force": {"on": today, "legal_age": _asdict(self.legal_age_on(today)),
                             "divorce_cooling_off": _asdict(self.cooling_off_for(today)),
                             "management_standard": self.standard_on(today).version}}


def _asdict(value) -> dict:
    return dict(value.__dict__)
