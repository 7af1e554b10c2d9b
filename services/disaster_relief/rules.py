"""Reference data of disaster relief, read from services/disaster_relief/reference/ (and data/areas.json):
response-level thresholds and responsibility, reporting deadlines, the reserve floor, and the
catalogue of incident types, needs and aid items. The district changes these files, never code.

Used by the application layer, which hands the domain the value objects built here. A file that
breaks its own rules fails at load time, naming the file and the entry.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path

from services.disaster_relief.domain import MEASURES, STAGES, Deadlines, Grading
from shared import referencedata
from shared.errors import InvalidInput
from shared.referencedata import ReferenceData

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"  # package data

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")
LEVEL = re.compile(r"^[IVX]+$")   # the published contract: Roman numerals
TIERS = ("district", "area")


class RulesError(ValueError):
    """A data file of disaster relief is malformed; the message names the file and the entry."""


def _read(directory: Path, name: str) -> dict:
    path = directory / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RulesError(f"{path}: {error}") from None


def _decimal(value, where: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise RulesError(f"{where}: {value!r} is not a number") from None
    if not number.is_finite() or number < 0:
        raise RulesError(f"{where}: must be a number >= 0")
    return number


def grading(document: dict, reference: ReferenceData, district: str) -> Grading:
    where = "services/disaster_relief/reference/response_levels.json"
    levels = []
    for index, entry in enumerate(document.get("levels", [])):
        at = f"{where}: levels[{index}]"
        if not LEVEL.match(str(entry.get("level", ""))):
            raise RulesError(f"{at}: level must be a Roman numeral (I, II, III, IV ...)")
        if entry.get("responsibility") not in TIERS:
            raise RulesError(f"{at}: responsibility must be one of {', '.join(TIERS)}")
        thresholds = entry.get("thresholds") or {}
        if not thresholds or set(thresholds) - set(MEASURES):
            raise RulesError(f"{at}: thresholds must name some of {', '.join(MEASURES)}")
        for name, limit in thresholds.items():
            _decimal(limit, f"{at}.thresholds.{name}")
        levels.append({"level": str(entry["level"]), "responsibility": entry["responsibility"],
                       "thresholds": {k: str(v) for k, v in thresholds.items()}})
    if not levels or len({e["level"] for e in levels}) != len(levels):
        raise RulesError(f"{where}: levels must list each level once, the most severe first")
    below = (document.get("below_levels") or {}).get("responsibility", "area")
    if below not in TIERS:
        raise RulesError(f"{where}: below_levels.responsibility must be one of {', '.join(TIERS)}")
    kinds = {code: area.get("kind", "street") for code, area in reference.areas.items()}
    return Grading(tuple(levels), below, district, kinds)


def deadlines(document: dict) -> Deadlines:
    where = "services/disaster_relief/reference/deadlines.json"
    match = OFFSET.match(document.get("utc_offset", "+08:00"))
    if not match:
        raise RulesError(f"{where}: utc_offset must be written +HH:MM")
    sign = 1 if match.group(1) == "+" else -1
    offset = timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))
    days = document.get("working_days", WEEKDAYS[:5])
    if not days or set(days) - set(WEEKDAYS):
        raise RulesError(f"{where}: working_days must name days of the week ({', '.join(WEEKDAYS)})")
    stages = {}
    for stage, rule in (document.get("stages") or {}).items():
        if stage not in STAGES:
            raise RulesError(f"{where}: stages.{stage} is not a stage ({', '.join(STAGES)})")
        rule = rule or {}
        if len(rule) > 1 or set(rule) - {"within_hours", "within_working_days"}:
            raise RulesError(f"{where}: stages.{stage} takes one of within_hours, within_working_days")
        for key, value in rule.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise RulesError(f"{where}: stages.{stage}.{key} must be a number >= 0")
        stages[stage] = dict(rule)
    return Deadlines(offset, stages, frozenset(WEEKDAYS.index(d) for d in days))


@dataclass(frozen=True)
class ReliefRules:
    grading: Grading
    deadlines: Deadlines
    floor: Decimal
    incident_types: dict
    needs: dict
    aid_items: dict
    versions: dict

    @classmethod
    def load(cls, reference: ReferenceData | None = None, directory: Path | None = None) -> "ReliefRules":
        folder = Path(directory or REFERENCE_DIR)
        reference = reference or ReferenceData.load()
        levels, due = _read(folder, "response_levels.json"), _read(folder, "deadlines.json")
        reserve, catalogue = _read(folder, "reserve.json"), _read(folder, "catalogue.json")
        district = _read(Path(referencedata.DATA_DIR), "areas.json").get("district", {}).get("code", "district")
        return cls(grading=grading(levels, reference, district), deadlines=deadlines(due),
                   floor=_decimal(reserve.get("floor_yuan"), "reserve.json: floor_yuan")
                   .quantize(Decimal("0.01")),
                   incident_types=catalogue.get("incident_types", {}),
                   needs=catalogue.get("needs", {}), aid_items=catalogue.get("aid_items", {}),
                   versions={"response_levels": levels.get("version", ""),
                             "deadlines": due.get("version", ""),
                             "reserve": reserve.get("version", ""),
                             "catalogue": catalogue.get("version", "")})

    # --- checks of input against the catalogue ------------------------------------------------------

    def check_incident_type(self, value) -> str:
        if value not in self.incident_types:
            raise InvalidInput("incident_type", f"unknown incident type; known: {', '.join(sorted(self.incident_types))}",
                               code="relief.unknown_incident_type")
        return value

    def check_needs(self, needs) -> list[str]:
        if not isinstance(needs, list) or not needs:
            raise InvalidInput("needs", "must list at least one need", code="relief.no_needs")
        for index, need in enumerate(needs):
            if need not in self.needs:
                raise InvalidInput(f"needs[{index}]", f"unknown need; known: {', '.join(sorted(self.needs))}",
                                   code="relief.unknown_need")
        if len(set(needs)) != len(needs):
            raise InvalidInput("needs", "must not list a need twice", code="relief.duplicate_need")
        return list(needs)

    def unit_of(self, item) -> str:
        if item not in self.aid_items:
            raise InvalidInput("item", f"unknown aid item; known: {', '.join(sorted(self.aid_items))}",
                               code="relief.unknown_aid_item")
        return self.aid_items[item]["unit"]
