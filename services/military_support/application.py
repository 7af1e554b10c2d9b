"""Application layer of military support: commands and queries in primitives.

Takes strings, ints, booleans and lists; returns dicts of primitives. Looks up reference data
(areas in data/areas.json, the rules in services/military_support/reference/), loads aggregates,
calls the domain, saves every changed aggregate in one atomic write. The clock is injected
(`today`). It never talks to the message bus: the outbox relay publishes what this layer stores.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from uuid import UUID

from eventsourcing.utils import get_topic

from services.military_support.domain import (
    Beneficiary, BenefitRoll, CoBuildingPair, EducationSession, EvidenceFile,
    PairRegistry, SupportActivity, Worker, check_disability)
from services.military_support.rules import MilitaryRules
from shared import identity
from shared import checks
from shared.checks import check_count, check_text, normalise_person
from shared.errors import Conflict, InvalidInput
from shared.eventstore import PlatformApplication, retry_on_conflict
from shared.money import month, yuan
from shared.referencedata import ReferenceData



class MilitarySupport(PlatformApplication):
    name = "military_support"
    # A beneficiary gains an event a month in the monthly runs: a snapshot every few keeps a
    # run's read of each short (docs/performance.md).
    snapshotting_intervals = {BenefitRoll: 50, Beneficiary: 4, EvidenceFile: 50, PairRegistry: 50,
                              Worker: 50}

    def __init__(self, env=None, *, reference: ReferenceData | None = None,
                 rules: MilitaryRules | None = None, today: Callable[[], date] = date.today):
        super().__init__(env)
        self.reference = reference or ReferenceData.load()
        self.rules = rules or MilitaryRules.load()
        self.today = today

    # --- beneficiaries --------------------------------------------------------------------------------

    @retry_on_conflict
    def register_beneficiary(self, category: str, area: str, id_number: str, name: str,
                             birth_date: str, registered_on: str, grade: int | None = None,
                             cause: str | None = None) -> str:
        """Register a beneficiary (a disabled serviceman with grade and cause); returns its id."""
        self.reference.check_area(area)
        day = self._day(registered_on, "registered_on")
        check_disability(category, grade, cause, self._rated())
        person = normalise_person(id_number, name, birth_date)
        key = self._person_key(person["id_number"])
        if self._exists(Beneficiary.create_id(key)):
            raise Conflict("id_number", "person is already registered as a beneficiary",
                           code="military.already_beneficiary")
        beneficiary = Beneficiary(person_key=key, category=category, area=area, grade=grade,
                                  cause=cause, registered_on=day, **person)
        roll = self._roll()
        roll.add(beneficiary.id, area)
        self.save(beneficiary, roll)
        return str(beneficiary.id)

    @retry_on_conflict
    def reassess_grade(self, beneficiary_id: str, grade: int, reassessed_on: str) -> dict:
        beneficiary = self._get(Beneficiary, beneficiary_id, "beneficiary_id")
        day = self._day(reassessed_on, "reassessed_on")
        beneficiary.reassess(grade, day, self._rated())
        self.save(beneficiary)
        return self._beneficiary_view(beneficiary, identity.mask)

    @retry_on_conflict
    def end_benefits(self, beneficiary_id: str, ended_on: str, reason: str) -> dict:
        """The benefits end (death, moved away ...): off the roll, no later month is paid."""
        beneficiary = self._get(Beneficiary, beneficiary_id, "beneficiary_id")
        beneficiary.end(self._day(ended_on, "ended_on"), check_text(reason, "reason", "reason"))
        roll = self._roll()
        roll.remove(beneficiary.id)
        self.save(beneficiary, roll)
        return self._beneficiary_view(beneficiary, identity.mask)

    def get_beneficiary(self, beneficiary_id: str, reveal_identity: bool = False) -> dict:
        return self._beneficiary_view(self._get(Beneficiary, beneficiary_id, "beneficiary_id"),
                                      self._shown(reveal_identity))

    def benefit_standard(self, category: str, month_: str, grade: int | None = None,
                         cause: str | None = None) -> dict:
        """The monthly benefit of a category (and grade, cause) in force in a month."""
        standard = self.rules.standard_in(month(month_))
        check_disability(category, grade, cause, standard.rated())
        return {"category": category, "grade": grade, "cause": cause, "month": month_,
                "monthly": str(standard.monthly(category, grade, cause)),
                "effective_from": standard.effective_from}

    # --- periodic benefits: the monthly run ------------------------------------------------------------

    def run_benefits(self, month_: str, on_progress: Callable[[int, int], None] | None = None) -> dict:
        """Pay every active beneficiary the standard in force for the month. Running a month
        again (or two runs racing) pays nobody twice."""
        target = self._month_not_future(month_, "month")
        standard = self.rules.standard_in(target)
        ids = list(self._roll().active)

        def pay(beneficiary: Beneficiary):
            return beneficiary.pay_month(target, standard.monthly(beneficiary.category, beneficiary.grade,
                                                                  beneficiary.cause), standard.effective_from)
        paid = self._each_in_batches(ids, pay, on_progress)
        return {"month": target, "standard_from": standard.effective_from, "active": len(ids),
                "paid": len(paid), "already_paid": len(ids) - len(paid),
                "total": str(sum(paid, Decimal("0.00")))}

    # --- medical coverage --------------------------------------------------------------------------------

    @retry_on_conflict
    def enroll_insurance(self, beneficiary_id: str, scheme: str, enrolled_on: str) -> dict:
        beneficiary = self._get(Beneficiary, beneficiary_id, "beneficiary_id")
        beneficiary.enroll_insurance(self.rules.check_scheme(scheme), self._day(enrolled_on, "enrolled_on"))
        self.save(beneficiary)
        return self._beneficiary_view(beneficiary, identity.mask)

    @retry_on_conflict
    def join_assistance(self, beneficiary_id: str, joined_on: str) -> dict:
        beneficiary = self._get(Beneficiary, beneficiary_id, "beneficiary_id")
        beneficiary.join_assistance(self._day(joined_on, "joined_on"), self.rules.assistance_categories,
                                    self.rules.insured_grades)
        self.save(beneficiary)
        return self._beneficiary_view(beneficiary, identity.mask)

    @retry_on_conflict
    def claim_assistance(self, beneficiary_id: str, claimed_on: str, expenses) -> dict:
        """A medical-assistance claim: the share of the expenses the terms in force reimburse,
        up to what is left of the year's cap."""
        beneficiary = self._get(Beneficiary, beneficiary_id, "beneficiary_id")
        day = self._day(claimed_on, "claimed_on")
        terms = self.rules.assistance_on(day)
        paid = beneficiary.claim_assistance(day, yuan(expenses, "expenses"), terms["ratio"],
                                            terms["yearly_cap"])
        self.save(beneficiary)
        return {"beneficiary_id": str(beneficiary.id), "claimed_on": day, "paid": str(paid),
                "paid_in_year": str(beneficiary.paid_in_year(day[:4])),
                "yearly_cap": str(terms["yearly_cap"])}

    # --- workers without military status ------------------------------------------------------------------

    @retry_on_conflict
    def receive_worker(self, area: str, id_number: str, name: str, birth_date: str, from_unit: str,
                       received_on: str) -> str:
        self.reference.check_area(area)
        person = normalise_person(id_number, name, birth_date)
        key = self._person_key(person["id_number"])
        if self._exists(Worker.create_id(key)):
            raise Conflict("id_number", "worker was already received", code="military.already_received")
        worker = Worker(person_key=key, area=area, from_unit=check_text(from_unit, "from_unit", "army unit"),
                        received_on=self._day(received_on, "received_on"), **person)
        self.save(worker)
        return str(worker.id)

    @retry_on_conflict
    def place_worker(self, worker_id: str, employer: str, placed_on: str) -> dict:
        worker = self._get(Worker, worker_id, "worker_id")
        worker.place(check_text(employer, "employer", "employer's name"), self._day(placed_on, "placed_on"))
        self.save(worker)
        return self._worker_view(worker, identity.mask)

    @retry_on_conflict
    def pay_worker_benefit(self, worker_id: str, month_: str, kind: str, amount) -> dict:
        worker = self._get(Worker, worker_id, "worker_id")
        target = self._month_not_future(month_, "month")
        cap, until_placed = self.rules.worker_benefit(kind, target)
        worker.pay_benefit(target, kind, yuan(amount, "amount"), cap, until_placed)
        self.save(worker)
        return self._worker_view(worker, identity.mask)

    def get_worker(self, worker_id: str, reveal_identity: bool = False) -> dict:
        return self._worker_view(self._get(Worker, worker_id, "worker_id"), self._shown(reveal_identity))

    # --- double support ---------------------------------------------------------------------------------------

    @retry_on_conflict
    def record_activity(self, channel: str, area: str, title: str, unit: str, held_on: str,
                        participants: int) -> str:
        """An army-support activity through one of the eight channels; filed in the evidence
        file of its year while that file is open."""
        self.rules.check_channel(channel)
        self.reference.check_area(area)
        activity = SupportActivity(channel=channel, area=area, title=check_text(title, "title", "title"),
                                   unit=check_text(unit, "unit", "army unit"),
                                   held_on=self._day(held_on, "held_on"),
                                   participants=check_count(participants, "participants", 1))
        file = self._evidence_file(int(activity.held_on[:4]))
        filed = file.file_activity(activity.id, channel)
        self.save(activity, *([file] if filed else []))
        return str(activity.id)

    def get_activity(self, activity_id: str) -> dict:
        a = self._get(SupportActivity, activity_id, "activity_id")
        return {"activity_id": str(a.id), "channel": a.channel, "area": a.area, "title": a.title,
                "unit": a.unit, "held_on": a.held_on, "participants": a.participants}

    @retry_on_conflict
    def hold_education_session(self, venue: str, audience: str, area: str, topic: str, held_on: str,
                               attendees: int) -> str:
        self.rules.check_venue(venue)
        self.rules.check_audience(audience)
        self.reference.check_area(area)
        session = EducationSession(venue=venue, audience=audience, area=area,
                                   topic=check_text(topic, "topic", "topic"),
                                   held_on=self._day(held_on, "held_on"),
                                   attendees=check_count(attendees, "attendees", 1))
        file = self._evidence_file(int(session.held_on[:4]))
        filed = file.file_session(session.id, venue, audience)
        self.save(session, *([file] if filed else []))
        return str(session.id)

    def get_session(self, session_id: str) -> dict:
        s = self._get(EducationSession, session_id, "session_id")
        return {"session_id": str(s.id), "venue": s.venue, "audience": s.audience, "area": s.area,
                "topic": s.topic, "held_on": s.held_on, "attendees": s.attendees}

    @retry_on_conflict
    def form_pair(self, area: str, civilian: str, unit: str, formed_on: str) -> str:
        """A civil-military co-building pair (a community, school or enterprise and a unit)."""
        self.reference.check_area(area)
        civilian = check_text(civilian, "civilian", "civilian party")
        unit = check_text(unit, "unit", "army unit")
        pair_id = CoBuildingPair.create_id(civilian, unit)
        existing = self._find(pair_id)
        if existing is not None:
            raise Conflict("civilian", f"{civilian} and {unit} are already paired (since "
                                       f"{existing.formed_on})", code="military.pair_exists")
        pair = CoBuildingPair(area=area, civilian=civilian, unit=unit,
                              formed_on=self._day(formed_on, "formed_on"))
        registry = self._pairs()
        registry.add(pair.id, area)
        self.save(pair, registry)
        return str(pair.id)

    @retry_on_conflict
    def dissolve_pair(self, pair_id: str, dissolved_on: str, reason: str) -> dict:
        pair = self._get(CoBuildingPair, pair_id, "pair_id")
        pair.dissolve(self._day(dissolved_on, "dissolved_on"), check_text(reason, "reason", "reason"))
        registry = self._pairs()
        registry.remove(pair.id)
        self.save(pair, registry)
        return self.get_pair(pair_id)

    def get_pair(self, pair_id: str) -> dict:
        p = self._get(CoBuildingPair, pair_id, "pair_id")
        return {"pair_id": str(p.id), "area": p.area, "civilian": p.civilian, "unit": p.unit,
                "formed_on": p.formed_on, "dissolved_on": p.dissolved_on}

    @retry_on_conflict
    def submit_evidence_file(self, year: int, submitted_on: str) -> dict:
        """Submit the year's evidence file of the model-district application: refused unless it
        shows what the requirements in force ask for (every channel, sessions, pairs)."""
        day = self._day(submitted_on, "submitted_on")
        file = self._evidence_file(self._year(year))
        counts = file.submit(day, list(self.rules.channels), len(self._pairs().active),
                             self.rules.requirements_on(f"{file.year}-12-31"))
        self.save(file)
        return dict(self._file_view(file), counts=counts)

    def get_evidence_file(self, year: int) -> dict:
        return self._file_view(self._evidence_file(self._year(year)))

    def statistics(self) -> dict:
        """Counts from the event store (no read model): registrations, the roll, workers
        received, pairs in force (the demo asks it how many runs it made)."""
        def registered(event_class) -> int:
            return len(self.recorder.select_notifications(start=1, limit=10_000_000,
                                                          topics=[get_topic(event_class)]))
        return {"beneficiaries_registered": registered(Beneficiary.Registered),
                "on_roll": len(self._roll().active), "workers_received": registered(Worker.Received),
                "pairs_in_force": len(self._pairs().active)}

    def rules_in_force(self) -> dict:
        today = self.today().isoformat()
        standard = self.rules.standard_on(today, "today")
        return dict(self.rules.describe(), today=today, standard_today=standard.effective_from)

    # --- helpers ---------------------------------------------------------------------------------------------

    def _rated(self) -> dict[str, tuple[int, ...]]:
        """The grades rated for each cause by the standards in force today (a registration of
        a beneficiary rated years ago is entered under today's table)."""
        return self.rules.standard_on(self.today().isoformat(), "today").rated()

    def _person_key(self, id_number: str) -> UUID:
        return identity.pseudonym(id_number, self.pseudonym_key)

    def _roll(self) -> BenefitRoll:
        return self._find(BenefitRoll.ID) or BenefitRoll()

    def _pairs(self) -> PairRegistry:
        return self._find(PairRegistry.ID) or PairRegistry()

    def _evidence_file(self, year: int) -> EvidenceFile:
        return self._find(EvidenceFile.create_id(year)) or EvidenceFile(year=year, title=self.rules.model_title)

    def _year(self, year) -> int:
        if isinstance(year, bool) or not isinstance(year, int) or not 1949 <= year <= 2100:
            raise InvalidInput("year", "must be a year between 1949 and 2100", code="input.year_out_of_range")
        return year

    def _day(self, value, field: str) -> str:
        return checks.past_day(value, field, self.today())

    def _month_not_future(self, value, field: str) -> str:
        return checks.past_month(value, field, self.today())

    _shown = staticmethod(checks.shown)

    # --- views -------------------------------------------------------------------------------------------------

    @staticmethod
    def _beneficiary_view(b: Beneficiary, shown) -> dict:
        return {"beneficiary_id": str(b.id), "category": b.category, "area": b.area,
                "id_number": shown(b.id_number), "name": b.name, "grade": b.grade, "cause": b.cause,
                "registered_on": b.registered_on, "status": b.status, "ended_on": b.ended_on,
                "payments": dict(b.payments), "insurance": dict(b.insurance) if b.insurance else None,
                "assistance_joined_on": b.assistance_joined_on, "claims": [dict(c) for c in b.claims],
                "version": b.version}

    @staticmethod
    def _worker_view(w: Worker, shown) -> dict:
        return {"worker_id": str(w.id), "area": w.area, "id_number": shown(w.id_number), "name": w.name,
                "from_unit": w.from_unit, "received_on": w.received_on,
                "placed": dict(w.placed) if w.placed else None, "benefits": dict(w.benefits),
                "version": w.version}

    def _file_view(self, f: EvidenceFile) -> dict:
        return {"year": f.year, "title": f.title, "submitted": dict(f.submitted) if f.submitted else None,
                "counts": f.counts(len(self._pairs().active)),
                "channels_without_activity": [c for c in self.rules.channels if not f.activities.get(c)]}

