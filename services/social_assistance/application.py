"""Application layer of social assistance: commands and queries in primitives.

Takes strings, ints and dicts; returns dicts of primitives. Looks up reference data, loads
aggregates, calls the domain, saves every changed aggregate in one atomic write. It never talks
to the message bus: the outbox relay publishes what this layer stores.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from uuid import UUID

from services.social_assistance.domain import (
    RURAL, URBAN, Case, Caseload, DonationDrive, Enrolment, Household, MarginalHousehold,
    StandardSchedule, check_officer, check_registration, normalise_member, per_capita)
from shared import identity
from shared.errors import Conflict, InvalidInput
from shared.eventstore import PlatformApplication, retry_on_conflict
from shared.money import month, month_of, parse_date, yuan
from shared.referencedata import ReferenceData

class SocialAssistance(PlatformApplication):
    name = "social_assistance"
    # A case gains an event a month in the payment runs: a snapshot every few keeps a run's read
    # of each short (docs/performance.md).
    snapshotting_intervals = {Caseload: 50, StandardSchedule: 20, DonationDrive: 100, Case: 4}

    def __init__(self, env=None, *, reference: ReferenceData | None = None,
                 today: Callable[[], date] = date.today):
        super().__init__(env)
        self.reference = reference or ReferenceData.load()
        self.today = today

    # --- households ------------------------------------------------------------------------

    @retry_on_conflict
    def register_household(self, area: str, registration: str, members: list,
                           address: str = "") -> str:
        self.reference.check_area(area)
        check_registration(registration)
        if not isinstance(members, list) or not members:
            raise InvalidInput("members", "must list at least one person", code="dibao.no_members")
        household = Household(area=area, registration=registration, address=address or "",
                              members=[normalise_member(m, i) for i, m in enumerate(members)])
        self.save(household)
        return str(household.id)

    def get_household(self, household_id: str, *, reveal_identity: bool = False) -> dict:
        household = self._get(Household, household_id, "household_id")
        shown = (lambda number: number) if reveal_identity else identity.mask
        return {"household_id": str(household.id), "area": household.area,
                "registration": household.registration, "address": household.address,
                "members": [dict(m, id_number=shown(m["id_number"])) for m in household.members],
                "open_case_id": str(household.open_case_id) if household.open_case_id else None}

    # --- case lifecycle ---------------------------------------------------------------------

    @retry_on_conflict
    def apply(self, household_id: str, officer: str) -> str:
        officer = check_officer(officer)
        household = self._get(Household, household_id, "household_id")
        scheme = self._schedule().scheme_for(household.area, household.registration)
        case = Case(household_id=household.id, area=household.area, scheme=scheme, size=household.size,
                    applied_on=self.today().isoformat(), officer=officer)
        household.open_case(case.id)
        enrolments = [self._enrolment(m["id_number"]) for m in household.members]
        for index, enrolment in enumerate(enrolments):
            enrolment.enrol(case.id, f"members[{index}].id_number")
        self.save(case, household, *enrolments)
        return str(case.id)

    @retry_on_conflict
    def verify(self, case_id: str, officer: str, household_monthly_income,
               assets="0") -> dict:
        case = self._case(case_id)
        income = yuan(household_monthly_income, "household_monthly_income")
        case.verify(officer=check_officer(officer), household_income=income,
                    assets=yuan(assets, "assets"), per_capita_income=per_capita(income, case.size))
        self.save(case)
        return self._case_view(case)

    @retry_on_conflict
    def approve(self, case_id: str, officer: str, effective_month: str | None = None) -> dict:
        case = self._case(case_id)
        start = self._month_not_future(effective_month or month_of(self.today()), "effective_month")
        case.approve(check_officer(officer), start, self._standard(case.area, case.scheme, start))
        caseload = self._caseload()
        caseload.activate(case.id, case.area)
        self.save(case, caseload)
        return self._case_view(case)

    @retry_on_conflict
    def reject(self, case_id: str, officer: str, reason: str) -> dict:
        case = self._case(case_id)
        case.reject(officer=check_officer(officer), reason=reason)
        self.save(case, *self._release(case))
        return self._case_view(case)

    @retry_on_conflict
    def review(self, case_id: str, officer: str, household_monthly_income,
               effective_month: str | None = None) -> dict:
        case = self._case(case_id)
        start = self._month_not_future(effective_month or month_of(self.today()), "effective_month")
        income = yuan(household_monthly_income, "household_monthly_income")
        was_active = case.status == "active"
        outcome = case.review(check_officer(officer), income, start,
                              self._standard(case.area, case.scheme, start))
        self.save(case, *self._caseload_change(case, was_active))
        return dict(self._case_view(case), outcome=outcome)

    @retry_on_conflict
    def terminate(self, case_id: str, officer: str, reason: str,
                  effective_month: str | None = None) -> dict:
        case = self._case(case_id)
        was_active = case.status == "active"
        end = self._month_not_future(effective_month or month_of(self.today()), "effective_month")
        case.terminate(officer=check_officer(officer), reason=reason, month=end)
        self.save(case, *self._caseload_change(case, was_active))
        return self._case_view(case)

    def get_case(self, case_id: str) -> dict:
        return self._case_view(self._case(case_id))

    # --- standards ---------------------------------------------------------------------------

    @retry_on_conflict
    def set_standard(self, area: str, registration: str, amount, effective_month: str,
                     reason: str = "") -> dict:
        if area != "*":
            self.reference.check_area(area)
        schedule = self._schedule()
        schedule.set_standard(area=area, registration=check_registration(registration),
                              amount=yuan(amount, "amount"),
                              effective_month=month(effective_month, "effective_month"),
                              reason=reason)
        self.save(schedule)
        return {"area": area, "registration": registration, "amount": str(amount),
                "effective_month": effective_month}

    def raise_standards(self, urban_delta, rural_delta, effective_month: str,
                        on_progress: Callable[[int, int], None] | None = None) -> dict:
        """Raise every area's standards from a month, then re-compute every active case from
        that month ("natural growth"). Returns the new standards and cases re-computed."""
        start = month(effective_month, "effective_month")
        deltas = {URBAN: yuan(urban_delta, "urban_delta"), RURAL: yuan(rural_delta, "rural_delta")}
        schedule = self._schedule()
        amounts = schedule.raise_standards(self.reference.area_codes(), deltas, start)
        self.save(schedule)
        changed = self._recompute_all(start, f"standards raised from {start}", on_progress)
        return {"effective_month": start, "standards": amounts, "cases_recomputed": changed}

    def standard(self, area: str, registration: str, month_: str) -> str:
        return str(self._standard(area, check_registration(registration), month(month_)))

    # --- payments ------------------------------------------------------------------------------

    def run_payments(self, month_: str,
                     on_progress: Callable[[int, int], None] | None = None) -> dict:
        """Pay every active case for a month. Running a month again pays nobody twice."""
        target = self._month_not_future(month(month_), "month")
        return self._pay_each(lambda case: case.pay_month(target), on_progress,
                              month=target)

    def pay_year_end_extra(self, year: int,
                           on_progress: Callable[[int, int], None] | None = None) -> dict:
        december = self._month_not_future(f"{self._year(year):04d}-12", "year")

        schedule = self._schedule()     # read once: per case it was most of the run's time

        def pay(case: Case):
            return case.pay_year_end_extra(year, self._standard(case.area, case.scheme, december, schedule))
        return self._pay_each(pay, on_progress, year=year)

    def _pay_each(self, pay: Callable[[Case], Decimal | None], on_progress, **label) -> dict:
        case_ids = list(self._caseload().active)
        amounts = self._each_in_batches(case_ids, pay, on_progress)
        return dict(label, active_cases=len(case_ids), paid=len(amounts),
                    already_paid=len(case_ids) - len(amounts),
                    total=str(sum(amounts, Decimal("0.00"))))

    # --- marginal households ---------------------------------------------------------------------

    @retry_on_conflict
    def register_marginal(self, household_id: str, officer: str) -> str:
        household = self._get(Household, household_id, "household_id")
        standard, band = self._marginal_terms(household)
        record_id = MarginalHousehold.create_id(household.id)
        if record_id in self._caseload().marginal or self._exists(record_id):
            raise Conflict("household_id", "household is already registered as marginal",
                           code="dibao.already_marginal")
        record = MarginalHousehold(household_id=household.id, area=household.area,
                                   officer=check_officer(officer),
                                   per_capita_income=per_capita(household.monthly_income, household.size),
                                   standard=standard, band_ratio=band)
        caseload = self._caseload()
        caseload.add_marginal(record.id, record.area)
        self.save(record, caseload)
        return str(record.id)

    @retry_on_conflict
    def review_marginal(self, household_id: str, officer: str, household_monthly_income) -> str:
        household = self._get(Household, household_id, "household_id")
        record = self._get(MarginalHousehold, str(MarginalHousehold.create_id(household.id)),
                           "household_id")
        standard, band = self._marginal_terms(household)
        income = yuan(household_monthly_income, "household_monthly_income")
        outcome = record.review(check_officer(officer), per_capita(income, household.size),
                                standard, band)
        changes = [record]
        if record.status == "removed":
            caseload = self._caseload()
            caseload.remove_marginal(record.id)
            changes.append(caseload)
        self.save(*changes)
        return outcome

    def pay_marginal_relief(self, year: int, amount_per_household,
                            on_progress: Callable[[int, int], None] | None = None) -> dict:
        amount = yuan(amount_per_household, "amount_per_household")
        self._month_not_future(f"{self._year(year):04d}-12", "year")
        ids = list(self._caseload().marginal)
        paid = self._each_in_batches(ids, lambda record: record.pay_relief(year, amount), on_progress)
        return {"year": year, "marginal_households": len(ids), "paid": len(paid),
                "already_paid": len(ids) - len(paid), "total": str(sum(paid, Decimal("0.00")))}

    # --- charity -------------------------------------------------------------------------------------

    @retry_on_conflict
    def record_donation(self, year: int, donor: str, amount, area: str,
                        received_on: str) -> dict:
        self.reference.check_area(area)
        day = parse_date(received_on, "received_on")
        drive_id = DonationDrive.create_id(self._year(year))
        drive = self._find(drive_id) or DonationDrive(year=year)
        drive.record(donor=(donor or "").strip(), amount=yuan(amount, "amount"), area=area,
                     received_on=day.isoformat())
        self.save(drive)
        return self.donation_totals(year)

    def donation_totals(self, year: int) -> dict:
        drive_id = DonationDrive.create_id(self._year(year))
        drive = self._find(drive_id)
        if drive is None:
            return {"year": year, "count": 0, "total": "0.00", "by_area": {}}
        return {"year": year, "count": drive.count, "total": str(drive.total),
                "by_area": dict(drive.by_area)}

    # --- Xilin: rural dibao merged into the urban scheme ------------------------------------------

    def merge_rural_into_urban(self, area: str, effective_month: str,
                               on_progress: Callable[[int, int], None] | None = None) -> dict:
        """Move an area's active rural cases into the urban scheme from a month. Each case keeps
        its id and history; the merge is one more event on it. (Pending applications keep the
        scheme they applied under; the officer approves them as such.)"""
        self.reference.check_area(area)
        start = month(effective_month, "effective_month")
        standard = self._standard(area, URBAN, start)
        schedule = self._schedule()
        schedule.merge_rural(area, start)  # new applications from here on join the urban scheme
        self.save(schedule)
        case_ids = [cid for cid, a in self._caseload().active.items() if a == area]

        def merge(case: Case):
            return case.merge_scheme(URBAN, start, standard) if case.scheme == RURAL else None
        merged = self._each_in_batches(case_ids, merge, on_progress)
        return {"area": area, "effective_month": start, "cases_merged": len(merged)}

    # --- helpers -------------------------------------------------------------------------------------

    def _recompute_all(self, start: str, reason: str, on_progress) -> int:
        schedule = self._schedule()

        def recompute(case: Case):
            return case.recompute(start, self._standard(case.area, case.scheme, start, schedule), reason)
        return len(self._each_in_batches(list(self._caseload().active), recompute, on_progress))

    def _case(self, case_id: str) -> Case:
        return self._get(Case, case_id, "case_id")


    def _enrolment(self, id_number: str) -> Enrolment:
        key = identity.pseudonym(id_number, self.pseudonym_key)
        return self._find(key) or Enrolment(person_key=key)

    def _release(self, case: Case) -> list:
        household = self.repository.get(case.household_id)
        household.close_case(case.id)
        enrolments = [self._enrolment(m["id_number"]) for m in household.members]
        for enrolment in enrolments:
            enrolment.release(case.id)
        return [household, *enrolments]

    def _caseload_change(self, case: Case, was_active: bool) -> list:
        """Keep the caseload and the person/household locks in step with the case's status."""
        changes = []
        if was_active != (case.status == "active"):
            caseload = self._caseload()
            if case.status == "active":
                caseload.activate(case.id, case.area)
            else:
                caseload.deactivate(case.id)
            changes.append(caseload)
        if not case.is_open:
            changes.extend(self._release(case))
        return changes

    def _caseload(self) -> Caseload:
        return self._find(Caseload.ID) or Caseload()

    def _schedule(self) -> StandardSchedule:
        return self._find(StandardSchedule.ID) or StandardSchedule()

    def _standard(self, area: str, registration: str, month_: str,
                  schedule: StandardSchedule | None = None) -> Decimal:
        amount = (schedule or self._schedule()).amount_at(area, registration, month_)
        if amount is None:
            raise Conflict("effective_month", f"no {registration} dibao standard in force for {area} in {month_}",
                           code="dibao.no_standard_in_force")
        return amount

    def _marginal_terms(self, household: Household) -> tuple[Decimal, Decimal]:
        current = month_of(self.today())
        return (self._standard(household.area, household.registration, current),
                self.reference.marginal_band_ratio)

    def _month_not_future(self, value: str, field: str) -> str:
        month(value, field)
        if value > month_of(self.today()):
            raise InvalidInput(field, f"must not be a future month (today is {self.today().isoformat()})",
                               code="input.future_month")
        return value

    @staticmethod
    def _year(year) -> int:
        if isinstance(year, bool) or not isinstance(year, int) or not 1949 <= year <= 2100:
            raise InvalidInput("year", "must be a year between 1949 and 2100", code="input.year_out_of_range")
        return year

    def _case_view(self, case: Case) -> dict:
        return {"case_id": str(case.id), "household_id": str(case.household_id),
                "area": case.area, "scheme": case.scheme, "size": case.size,
                "status": case.status, "verifier": case.verifier,
                "per_capita_income": str(case.per_capita_income) if case.per_capita_income is not None else None,
                "allowance": str(case.allowance_now), "allowances": [list(a) for a in case.allowances],
                "payments": dict(case.payments), "version": case.version}

    def load_reference_standards(self) -> int:
        """Record the standards in the reference data file that the schedule lacks."""
        schedule = self._schedule()
        known = {(e["area"], e["registration"], e["effective_month"]) for e in schedule.entries}
        added = 0
        for entry in self.reference.standards:
            if (entry["area"], entry["registration"], entry["effective_month"]) not in known:
                schedule.set_standard(area=entry["area"], registration=entry["registration"],
                                      amount=yuan(entry["amount"]),
                                      effective_month=entry["effective_month"],
                                      reason="reference data")
                added += 1
        if added:
            self.save(schedule)
        return added
