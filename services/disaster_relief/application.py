"""Application layer of disaster relief: commands and queries in primitives.

Takes strings, ints, lists and dicts; returns dicts of primitives. Looks up reference data (areas,
and the rules in services/disaster_relief/reference/), loads aggregates, calls the domain, saves every changed
aggregate in one atomic write. The clock is injected (`now`), never read by the domain. It never
talks to the message bus: the outbox relay publishes what this layer stores.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timezone
from decimal import Decimal
from uuid import UUID, uuid4

from services.disaster_relief.domain import (
    Incident, IncidentRegistry, ReliefCard, Reserve, check_count, check_figures, check_officer,
    check_stage, check_text, parse_time, stamp)
from services.disaster_relief.rules import ReliefRules
from shared import identity
from shared.errors import InvalidInput, NotFound
from shared.eventstore import PlatformApplication, retry_on_conflict
from shared.money import parse_date, yuan
from shared.referencedata import ReferenceData


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class DisasterRelief(PlatformApplication):
    name = "disaster_relief"
    snapshotting_intervals = {Incident: 50, IncidentRegistry: 50, Reserve: 50, ReliefCard: 50}

    def __init__(self, env=None, *, reference: ReferenceData | None = None,
                 rules: ReliefRules | None = None, now: Callable[[], datetime] = utc_now):
        super().__init__(env)
        self.reference = reference or ReferenceData.load()
        self.rules = rules or ReliefRules.load(self.reference)
        self.now = now

    # --- incidents -----------------------------------------------------------------------------------

    @retry_on_conflict
    def register_incident(self, incident_type: str, areas: list, occurred_at: str, officer: str,
                          description: str = "") -> str:
        self.rules.check_incident_type(incident_type)
        if not isinstance(areas, list) or not areas:
            raise InvalidInput("areas", "must list at least one affected area", code="relief.no_areas")
        for index, area in enumerate(areas):
            self.reference.check_area(area, f"areas[{index}]")
        if not isinstance(description, str):
            raise InvalidInput("description", "must be text", code="input.not_text")
        occurred = self._past(occurred_at, "occurred_at")
        incident = Incident(incident_type=incident_type, areas=list(areas),
                            occurred_at=stamp(occurred), description=description.strip(),
                            officer=check_officer(officer),
                            deadlines=self.rules.deadlines.for_occurrence(occurred),
                            responsible=self.rules.grading.responsible(None, list(dict.fromkeys(areas))))
        registry = self._registry()
        registry.add(incident.id, incident_type, list(areas), incident.occurred_at)
        self.save(incident, registry)
        return str(incident.id)

    @retry_on_conflict
    def report(self, incident_id: str, stage: str, figures: dict, reported_at: str,
               officer: str) -> dict:
        """An initial, follow-up or final report; returns the incident with the report made."""
        incident = self._incident(incident_id)
        check_stage(stage)
        checked = check_figures(figures)
        moment = self._past(reported_at, "reported_at")
        incident.report(stage, checked, moment, check_officer(officer), self.rules.grading)
        self.save(incident)
        return dict(self._incident_view(incident), report=_report_view(incident.reports[-1]))

    @retry_on_conflict
    def close_incident(self, incident_id: str, officer: str, closed_on: str | None = None) -> dict:
        """Close and archive: the incident and every relief card of its roster, in one write."""
        incident = self._incident(incident_id)
        day = self._day(closed_on, "closed_on")
        incident.close(day, check_officer(officer))
        cards = [self.repository.get(ReliefCard.create_id(incident.id, household_id))
                 for household_id in incident.roster]
        for card in cards:
            card.archive(day.isoformat())
        self.save(incident, *cards)
        return self._incident_view(incident)

    def get_incident(self, incident_id: str) -> dict:
        return self._incident_view(self._incident(incident_id))

    def list_incidents(self, year: int | None = None) -> list[dict]:
        return [self._incident_view(incident, summary=True) for incident in self._incidents(year)]

    def late_reports(self, year: int | None = None) -> list[dict]:
        """Reports made after their deadline, in the order they were made."""
        rows = []
        for incident in self._incidents(year):
            for report in incident.reports:
                if report["late"]:
                    late_by = (datetime.fromisoformat(report["reported_at"])
                               - datetime.fromisoformat(report["deadline"]))
                    rows.append({"incident_id": str(incident.id),
                                 "incident_type": incident.incident_type, "areas": list(incident.areas),
                                 "occurred_at": incident.occurred_at, **_report_view(report),
                                 "late_by_minutes": int(late_by.total_seconds() // 60)})
        return sorted(rows, key=lambda row: row["reported_at"])

    def overdue_reports(self, year: int | None = None) -> list[dict]:
        """Deadlines passed (by the clock) without their report: visible before anyone reports."""
        now = self.now()
        rows = []
        for incident in self._incidents(year):
            made = {report["stage"] for report in incident.reports}
            for stage, deadline in incident.deadlines.items():
                if stage not in made and incident.status == "open" and datetime.fromisoformat(deadline) < now:
                    rows.append({"incident_id": str(incident.id), "incident_type": incident.incident_type,
                                 "areas": list(incident.areas), "stage": stage, "deadline": deadline})
        return sorted(rows, key=lambda row: row["deadline"])

    # --- the relief roster and relief cards ------------------------------------------------------------

    @retry_on_conflict
    def add_to_roster(self, incident_id: str, household_id: str, id_number: str, name: str,
                      area: str, members: int, needs: list, officer: str,
                      listed_on: str | None = None) -> dict:
        """Put an affected household on the incident's relief roster and issue its relief card."""
        incident = self._incident(incident_id)
        household = check_text(household_id, "household_id", "the household's id")
        number = identity.validate(id_number, "id_number")
        head = check_text(name, "name", "the household head's name")
        self.reference.check_area(area)
        size = check_count(members, "members", minimum=1)
        wanted = self.rules.check_needs(needs)
        day = self._day(listed_on, "listed_on")
        incident.list_household(household, number, head, area, size, wanted, day, check_officer(officer))
        card = ReliefCard(incident_id=incident.id, household_id=household, area=area,
                          head_name=head, issued_on=day.isoformat())
        self.save(incident, card)
        return self._card_view(card)

    def get_roster(self, incident_id: str, *, reveal_identity: bool = False) -> list[dict]:
        incident = self._incident(incident_id)
        shown = (lambda number: number) if reveal_identity else identity.mask
        return [{"household_id": household_id, **dict(entry, id_number=shown(entry["id_number"]))}
                for household_id, entry in incident.roster.items()]

    def get_card(self, incident_id: str, household_id: str) -> dict:
        return self._card_view(self._card(self._incident(incident_id), household_id))

    @retry_on_conflict
    def record_aid(self, incident_id: str, household_id: str, item: str, quantity: int,
                   officer: str, given_on: str | None = None) -> dict:
        """In-kind aid (rice, quilts ...) given to a household on the roster, on its card."""
        incident = self._incident(incident_id)
        incident.require_open()
        card = self._card(incident, household_id)
        unit = self.rules.unit_of(item)
        card.receive_items(item, quantity, unit, self._day(given_on, "given_on"), check_officer(officer))
        self.save(card)
        return self._card_view(card)

    @retry_on_conflict
    def disburse(self, incident_id: str, household_id: str, recipient: str, amount,
                 officer: str, disbursed_on: str | None = None) -> dict:
        """Earmarked cash relief: out of the household's area reserve, onto its relief card."""
        incident = self._incident(incident_id)
        incident.require_open()
        card = self._card(incident, household_id)
        who = check_text(recipient, "recipient", "the recipient's name")
        money = yuan(amount, "amount")
        day = self._day(disbursed_on, "disbursed_on")
        officer = check_officer(officer)
        reserve = self._reserve(card.area)
        disbursement_id = uuid4()
        reserve.disburse(disbursement_id, incident.id, card.household_id, who, money, day, officer,
                         self.rules.floor)
        card.receive_cash(money, who, day, officer, disbursement_id)
        self.save(reserve, card)
        return {"disbursement_id": str(disbursement_id), "incident_id": str(incident.id),
                "household_id": card.household_id, "recipient": who, "amount": str(money),
                "disbursed_on": day.isoformat(), "reserve": self._reserve_view(reserve)}

    # --- relief reserves ---------------------------------------------------------------------------------

    @retry_on_conflict
    def deposit(self, area: str, amount, source: str, officer: str,
                deposited_on: str | None = None) -> dict:
        self.reference.check_area(area)
        reserve = self._reserve(area)
        reserve.deposit(yuan(amount, "amount"), check_text(source, "source", "where the money comes from"),
                        self._day(deposited_on, "deposited_on"), check_officer(officer), self.rules.floor)
        self.save(reserve)
        return self._reserve_view(reserve)

    def get_reserve(self, area: str) -> dict:
        self.reference.check_area(area)
        return self._reserve_view(self._reserve(area))

    def reserves(self) -> list[dict]:
        return [self._reserve_view(self._reserve(area)) for area in self.reference.area_codes()]

    # --- helpers -------------------------------------------------------------------------------------------

    def _past(self, value, field: str) -> datetime:
        moment = parse_time(value, field, self.rules.deadlines.offset)
        if moment > self.now():
            raise InvalidInput(field, f"must not be in the future (now is {stamp(self._local_now())})",
                               code="input.future_time")
        return moment

    def _day(self, value, field: str) -> date:
        today = self._local_now().date()
        if value is None:
            return today
        day = parse_date(value, field)
        if day > today:
            raise InvalidInput(field, f"must not be a future date (today is {today.isoformat()})",
                               code="input.future_date")
        return day

    def _local_now(self) -> datetime:
        return self.now().astimezone(self.rules.deadlines.offset)


    def _incident(self, incident_id) -> Incident:
        return self._get(Incident, incident_id, "incident_id")

    def _card(self, incident: Incident, household_id) -> ReliefCard:
        if not isinstance(household_id, str) or household_id.strip() not in incident.roster:
            raise NotFound("household_id", "household is not on this incident's relief roster",
                           code="relief.not_on_roster")
        return self.repository.get(ReliefCard.create_id(incident.id, household_id.strip()))

    def _reserve(self, area: str) -> Reserve:
        reserve_id = Reserve.create_id(area)
        return self._find(reserve_id) or Reserve(area=area, floor=self.rules.floor)

    def _registry(self) -> IncidentRegistry:
        return self._find(IncidentRegistry.ID) or IncidentRegistry()

    def _incidents(self, year) -> list[Incident]:
        if year is not None and (isinstance(year, bool) or not isinstance(year, int)
                                 or not 1949 <= year <= 2100):
            raise InvalidInput("year", "must be a year between 1949 and 2100", code="input.year_out_of_range")
        entries = self._registry().incidents.items()
        chosen = [UUID(i) for i, e in entries if year is None or e["occurred_at"].startswith(f"{year}-")]
        incidents = [self.repository.get(incident_id) for incident_id in chosen]
        return sorted(incidents, key=lambda incident: incident.occurred_at)

    def _incident_view(self, incident: Incident, summary: bool = False) -> dict:
        view = {"incident_id": str(incident.id), "incident_type": incident.incident_type,
                "areas": list(incident.areas), "occurred_at": incident.occurred_at,
                "description": incident.description, "status": incident.status,
                "level": incident.level, "responsible": [dict(r) for r in incident.responsible],
                "deadlines": dict(incident.deadlines),
                "figures": _figures(incident.figures) if incident.figures else None,
                "stages_reported": [r["stage"] for r in incident.reports],
                "late_reports": sum(1 for r in incident.reports if r["late"]),
                "roster_households": len(incident.roster), "closed_on": incident.closed_on,
                "version": incident.version}
        if not summary:
            view["reports"] = [_report_view(r) for r in incident.reports]
        return view

    def _card_view(self, card: ReliefCard) -> dict:
        return {"card_id": str(card.id), "incident_id": str(card.incident_id),
                "household_id": card.household_id, "area": card.area, "head_name": card.head_name,
                "issued_on": card.issued_on, "cash_received": str(card.cash),
                "items_received": dict(card.items), "entries": [dict(e) for e in card.entries],
                "archived": card.archived, "version": card.version}

    def _reserve_view(self, reserve: Reserve) -> dict:
        return {"area": reserve.area, "balance": str(reserve.balance), "floor": str(reserve.floor),
                "below_floor": reserve.below_floor, "deposited": str(reserve.deposited),
                "disbursed": str(reserve.disbursed),
                "version": reserve.version if reserve.id in self.repository else 0}


def _figures(figures: dict) -> dict:
    return {name: (str(value) if isinstance(value, Decimal) else value) for name, value in figures.items()}


def _report_view(report: dict) -> dict:
    return {"stage": report["stage"], "reported_at": report["reported_at"],
            "deadline": report["deadline"], "late": report["late"],
            "figures": _figures(report["figures"])}
