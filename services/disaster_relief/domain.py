"""Domain layer of disaster relief (救灾应急): incidents with their rapid reports (灾情信息快速报告),
relief rosters (救助花名册) and relief cards (灾民救助卡), and the relief reserve of each town and street.

Plain eventsourcing aggregates; no service framework, no I/O, no clock. Every command validates
before it records, so a broken rule raises a typed error and records nothing. The rules that
change (response-level thresholds, who is responsible at each level, reporting deadlines, the
reserve floor) arrive as the value objects `Grading` and `Deadlines`, built by the application
from the data files under services/disaster_relief/reference/.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from shared.audit import AuditedAggregate
from shared.errors import Conflict, InvalidInput
from shared.money import yuan

NAMESPACE = uuid5(NAMESPACE_URL, "urn:zhonglou-civil-affairs:disaster_relief")
INITIAL, FOLLOW_UP, FINAL = "initial", "follow_up", "final"
STAGES = (INITIAL, FOLLOW_UP, FINAL)
OPEN, CLOSED = "open", "closed"
COUNTS = ("deaths", "missing", "relocated", "houses_damaged")
FIGURES = (*COUNTS, "direct_loss")
MEASURES = (*FIGURES, "deaths_and_missing")   # what a response-level threshold may name
ZERO = Decimal("0.00")


# --- checks on plain input ------------------------------------------------------------------------

def check_text(value, field_name: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field_name, f"must give {what} (non-empty text)", code="input.empty_text")
    return value.strip()


def check_officer(value) -> str:
    return check_text(value, "officer", "the officer's name")


def check_stage(value) -> str:
    if value not in STAGES:
        raise InvalidInput("stage", "must be 'initial', 'follow_up' or 'final'", code="input.not_a_choice")
    return value


def check_count(value, field_name: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field_name, "must be a whole number", code="input.not_whole_number")
    if value < minimum:
        raise InvalidInput(field_name, "must not be negative" if minimum == 0 else f"must be at least {minimum}",
                           code="input.below_minimum")
    return value


def check_figures(figures) -> dict:
    """Impact figures as recorded: whole numbers of people and houses, the loss in yuan."""
    if not isinstance(figures, dict):
        raise InvalidInput("figures", f"must be an object with {', '.join(FIGURES)}",
                           code="relief.figures_not_object")
    unknown = sorted(set(figures) - set(FIGURES))
    if unknown:
        raise InvalidInput(f"figures.{unknown[0]}", f"is not a figure; the figures are {', '.join(FIGURES)}",
                           code="relief.unknown_figure")
    for name in FIGURES:
        if name not in figures:
            raise InvalidInput(f"figures.{name}", "is required", code="relief.missing_figure")
    checked = {name: check_count(figures[name], f"figures.{name}") for name in COUNTS}
    checked["direct_loss"] = yuan(figures["direct_loss"], "figures.direct_loss")
    return checked


def parse_time(value, field_name: str, offset: timezone) -> datetime:
    """A date and time (ISO 8601); one without a UTC offset is local time (`offset`)."""
    rule = "must be a date and time written YYYY-MM-DDTHH:MM[:SS][+08:00]"
    if not isinstance(value, str) or len(value) < 16:
        raise InvalidInput(field_name, rule, code="input.not_datetime")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(field_name, rule, code="input.not_datetime") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=offset)
    return moment.astimezone(offset)


def stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


# --- the rules, as value objects --------------------------------------------------------------------

def measures(figures: dict) -> dict[str, Decimal]:
    values = {name: Decimal(figures[name]) for name in FIGURES}
    values["deaths_and_missing"] = values["deaths"] + values["missing"]
    return values


@dataclass(frozen=True)
class Grading:
    """Response levels (I most severe first), each with thresholds on the impact figures and the
    tier responsible for it: 'district', or 'area' (the town government or street office of each
    affected area). An incident takes the most severe level any figure reaches (≥ threshold);
    below every level it has none and `below_levels` is responsible."""
    levels: tuple[dict, ...]
    below_levels: str
    district: str
    area_kinds: dict = field(default_factory=dict)   # area code -> 'town' | 'street'

    def level_of(self, figures: dict) -> str | None:
        values = measures(figures)
        for entry in self.levels:
            if any(values[name] >= Decimal(str(limit)) for name, limit in entry["thresholds"].items()):
                return entry["level"]
        return None

    def rank(self, level: str | None) -> int:
        """0 for the most severe level; levels below every threshold rank last."""
        names = [entry["level"] for entry in self.levels]
        return names.index(level) if level in names else len(names)

    def responsible(self, level: str | None, areas: list[str]) -> list[dict]:
        tier = next((e["responsibility"] for e in self.levels if e["level"] == level), self.below_levels)
        if tier == "district":
            return [{"tier": "district", "area": self.district}]
        return [{"tier": self.area_kinds[area], "area": area} for area in areas]


@dataclass(frozen=True)
class Deadlines:
    """Reporting deadlines per stage, counted from the time of occurrence: `within_hours`, or
    `within_working_days` (ending 23:59:59 local time on the last of them; only the weekdays in
    `working_weekdays` count, 0 = Monday). A stage without a rule has no deadline."""
    offset: timezone
    stages: dict
    working_weekdays: frozenset = frozenset(range(5))

    def for_occurrence(self, occurred: datetime) -> dict[str, str]:
        due = {}
        for stage, rule in self.stages.items():
            if "within_hours" in rule:
                due[stage] = stamp(occurred + timedelta(hours=rule["within_hours"]))
            elif "within_working_days" in rule:
                day = self.add_working_days(occurred.date(), rule["within_working_days"])
                due[stage] = stamp(datetime.combine(day, time(23, 59, 59), occurred.tzinfo))
        return due

    def add_working_days(self, day: date, count: int) -> date:
        while count > 0:
            day += timedelta(days=1)
            if day.weekday() in self.working_weekdays:
                count -= 1
        return day


# --- incidents ----------------------------------------------------------------------------------------

class Incident(AuditedAggregate):
    """A disaster: its staged reports set and move its response level; its relief roster lists
    the affected households; closing it archives it (nothing more can be recorded on it)."""

    @event("Registered")
    def __init__(self, incident_type: str, areas: list[str], occurred_at: str, description: str,
                 officer: str, deadlines: dict, responsible: list[dict]):
        if not areas:
            raise InvalidInput("areas", "must name at least one affected area", code="relief.no_areas")
        if len(set(areas)) != len(areas):
            raise InvalidInput("areas", "must not name an area twice", code="relief.duplicate_area")
        self.incident_type = incident_type
        self.areas = list(areas)
        self.occurred_at = occurred_at
        self.description = description
        self.deadlines = dict(deadlines)
        self.responsible = list(responsible)
        self.level: str | None = None
        self.reports: list[dict] = []
        self.roster: dict[str, dict] = {}   # household id -> roster entry
        self.status = OPEN
        self.closed_on: str | None = None

    # --- questions -------------------------------------------------------------------------------

    @property
    def occurred(self) -> datetime:
        return datetime.fromisoformat(self.occurred_at)

    @property
    def has_final(self) -> bool:
        return any(r["stage"] == FINAL for r in self.reports)

    @property
    def figures(self) -> dict | None:
        return self.reports[-1]["figures"] if self.reports else None

    def require_open(self, field_name: str = "incident_id") -> None:
        if self.status != OPEN:
            raise Conflict(field_name, f"incident is closed (archived on {self.closed_on}): "
                                       "nothing more can be recorded on it", code="relief.incident_closed")

    # --- staged reports --------------------------------------------------------------------------

    def report(self, stage: str, figures: dict, reported_at: datetime, officer: str,
               grading: Grading) -> None:
        """Record a report; its figures set the response level (raised or lowered)."""
        check_stage(stage)
        self.require_open()
        self._check_sequence(stage)
        if reported_at < self.occurred:
            raise InvalidInput("reported_at", f"must not be before the time of occurrence ({self.occurred_at})",
                               code="relief.report_before_occurrence")
        if self.reports and reported_at < datetime.fromisoformat(self.reports[-1]["reported_at"]):
            raise InvalidInput("reported_at", "must not be before the previous report "
                                              f"({self.reports[-1]['reported_at']})",
                               code="relief.report_before_previous")
        deadline = self.deadlines.get(stage)
        late = deadline is not None and reported_at > datetime.fromisoformat(deadline)
        self._reported(stage, figures, stamp(reported_at), deadline, late, officer)
        level = grading.level_of(figures)
        if level != self.level:
            direction = "raised" if grading.rank(level) < grading.rank(self.level) else "lowered"
            self._level_changed(self.level, level, direction, grading.responsible(level, self.areas), stage)

    def _check_sequence(self, stage: str) -> None:
        if self.has_final:
            raise Conflict("stage", "the final report has been made: no report can follow it",
                           code="relief.report_after_final")
        if stage == INITIAL and self.reports:
            raise Conflict("stage", "the initial report has already been made",
                           code="relief.initial_report_repeated")
        if stage != INITIAL and not self.reports:
            raise Conflict("stage", f"a {stage} report needs the initial report first",
                           code="relief.initial_report_missing")

    @event("Reported")
    def _reported(self, stage: str, figures: dict, reported_at: str, deadline: str | None,
                  late: bool, officer: str) -> None:
        self.reports.append({"stage": stage, "figures": dict(figures), "reported_at": reported_at,
                             "deadline": deadline, "late": late})

    @event("LevelChanged")
    def _level_changed(self, previous_level: str | None, level: str | None, direction: str,
                       responsible: list[dict], stage: str) -> None:
        self.level = level
        self.responsible = list(responsible)

    # --- the relief roster ---------------------------------------------------------------------------

    def list_household(self, household_id: str, id_number: str, name: str, area: str,
                       members: int, needs: list[str], listed_on: date, officer: str) -> None:
        self.require_open()
        if area not in self.areas:
            raise InvalidInput("area", f"must be an affected area of the incident ({', '.join(self.areas)})",
                               code="relief.area_not_affected")
        if household_id in self.roster:
            raise Conflict("household_id", "household is already on this incident's relief roster",
                           code="relief.household_on_roster")
        if any(entry["id_number"] == id_number for entry in self.roster.values()):
            raise Conflict("id_number", "this person already heads a household on this incident's roster",
                           code="relief.person_on_roster")
        if listed_on < self.occurred.date():
            raise InvalidInput("listed_on", f"must not be before the incident ({self.occurred_at[:10]})",
                               code="relief.listed_before_incident")
        self._household_listed(household_id, id_number, name, area, members, list(needs),
                               listed_on.isoformat(), officer)

    @event("HouseholdListed")
    def _household_listed(self, household_id: str, id_number: str, name: str, area: str,
                          members: int, needs: list[str], listed_on: str, officer: str) -> None:
        self.roster[household_id] = {"id_number": id_number, "name": name, "area": area,
                                     "members": members, "needs": list(needs), "listed_on": listed_on}

    # --- closing ----------------------------------------------------------------------------------------

    def close(self, closed_on: date, officer: str) -> None:
        self.require_open()
        if not self.has_final:
            raise Conflict("incident_id", "needs its final report before it can be closed",
                           code="relief.final_report_missing")
        final_day = self.reports[-1]["reported_at"][:10]
        if closed_on.isoformat() < final_day:
            raise InvalidInput("closed_on", f"must not be before the final report ({final_day})",
                               code="relief.closed_before_final_report")
        self._closed(closed_on.isoformat(), officer)

    @event("Closed")
    def _closed(self, closed_on: str, officer: str) -> None:
        self.status = CLOSED
        self.closed_on = closed_on


class IncidentRegistry(AuditedAggregate):
    """Every incident of the district, for lists and the late-report query."""

    ID = uuid5(NAMESPACE, "incidents")

    @staticmethod
    def create_id() -> UUID:
        return IncidentRegistry.ID

    @event("Started")
    def __init__(self) -> None:
        self.incidents: dict[str, dict] = {}

    @event("Listed")
    def add(self, incident_id: UUID, incident_type: str, areas: list[str], occurred_at: str) -> None:
        self.incidents[str(incident_id)] = {"incident_type": incident_type, "areas": list(areas),
                                            "occurred_at": occurred_at}


# --- relief cards -------------------------------------------------------------------------------------

class ReliefCard(AuditedAggregate):
    """The relief card (灾民救助卡) of one household for one incident: every aid item it received."""

    @staticmethod
    def create_id(incident_id: UUID, household_id: str) -> UUID:
        return uuid5(NAMESPACE, f"card:{incident_id}:{household_id}")

    @event("Issued")
    def __init__(self, incident_id: UUID, household_id: str, area: str, head_name: str,
                 issued_on: str):
        self.incident_id = incident_id
        self.household_id = household_id
        self.area = area
        self.head_name = head_name
        self.issued_on = issued_on
        self.cash = ZERO
        self.items: dict[str, int] = {}
        self.entries: list[dict] = []
        self.archived = False

    def _check(self, given_on: date, field_name: str) -> None:
        if self.archived:
            raise Conflict("incident_id", "incident is closed: its relief cards are archived",
                           code="relief.card_archived")
        if given_on.isoformat() < self.issued_on:
            raise InvalidInput(field_name, f"must not be before the card was issued ({self.issued_on})",
                               code="relief.before_card_issued")

    def receive_cash(self, amount: Decimal, recipient: str, given_on: date, officer: str,
                     disbursement_id: UUID) -> None:
        self._check(given_on, "disbursed_on")
        self._cash_received(amount, recipient, given_on.isoformat(), officer, disbursement_id)

    @event("CashReceived")
    def _cash_received(self, amount: Decimal, recipient: str, given_on: str, officer: str,
                       disbursement_id: UUID) -> None:
        self.cash += amount
        self.entries.append({"kind": "cash", "amount": str(amount), "recipient": recipient,
                             "given_on": given_on, "disbursement_id": str(disbursement_id)})

    def receive_items(self, item: str, quantity: int, unit: str, given_on: date, officer: str) -> None:
        self._check(given_on, "given_on")
        check_count(quantity, "quantity", minimum=1)
        self._items_received(item, quantity, unit, given_on.isoformat(), officer)

    @event("ItemsReceived")
    def _items_received(self, item: str, quantity: int, unit: str, given_on: str, officer: str) -> None:
        self.items[item] = self.items.get(item, 0) + quantity
        self.entries.append({"kind": "in_kind", "item": item, "quantity": quantity, "unit": unit,
                             "given_on": given_on})

    @event("Archived")
    def archive(self, closed_on: str) -> None:
        self.archived = True


# --- relief reserves ------------------------------------------------------------------------------------

class Reserve(AuditedAggregate):
    """The natural-disaster relief reserve of one town or street. The balance never goes below
    zero; below the floor (the plan's minimum) a disbursement is still allowed — relief comes
    first — and the reserve reports `below_floor` until deposits bring it back."""

    @staticmethod
    def create_id(area: str) -> UUID:
        return uuid5(NAMESPACE, f"reserve:{area}")

    @event("Opened")
    def __init__(self, area: str, floor: Decimal):
        self.area = area
        self.floor = floor
        self.balance = ZERO
        self.deposited = ZERO
        self.disbursed = ZERO

    @property
    def below_floor(self) -> bool:
        return self.balance < self.floor

    def deposit(self, amount: Decimal, source: str, deposited_on: date, officer: str,
                floor: Decimal) -> None:
        if amount <= 0:
            raise InvalidInput("amount", "a deposit must be positive", code="relief.deposit_not_positive")
        balance = self.balance + amount
        self._deposited(amount, source, deposited_on.isoformat(), officer, floor, balance, balance < floor)

    @event("Deposited")
    def _deposited(self, amount: Decimal, source: str, deposited_on: str, officer: str,
                   floor: Decimal, balance: Decimal, below_floor: bool) -> None:
        self.deposited += amount
        self.floor = floor
        self.balance = balance

    def disburse(self, disbursement_id: UUID, incident_id: UUID, household_id: str,
                 recipient: str, amount: Decimal, disbursed_on: date, officer: str,
                 floor: Decimal) -> None:
        """Pay relief out of the reserve: never more than the balance; below the floor is allowed."""
        if amount <= 0:
            raise InvalidInput("amount", "a disbursement must be positive",
                               code="relief.disbursement_not_positive")
        if amount > self.balance:
            raise Conflict("amount", f"would overdraw the {self.area} relief reserve "
                                     f"(balance {self.balance} yuan); deposit first",
                           code="relief.reserve_overdraw")
        balance = self.balance - amount
        self._disbursed(disbursement_id, incident_id, household_id, recipient, amount,
                        disbursed_on.isoformat(), officer, floor, balance, balance < floor)

    @event("Disbursed")
    def _disbursed(self, disbursement_id: UUID, incident_id: UUID, household_id: str,
                   recipient: str, amount: Decimal, disbursed_on: str, officer: str,
                   floor: Decimal, balance: Decimal, below_floor: bool) -> None:
        self.disbursed += amount
        self.floor = floor
        self.balance = balance


__all__ = ["Incident", "IncidentRegistry", "ReliefCard", "Reserve", "Grading", "Deadlines",
           "check_figures", "parse_time", "STAGES", "MEASURES"]
