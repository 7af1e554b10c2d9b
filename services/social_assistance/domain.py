"""Domain layer of social assistance: the minimum living guarantee (低保, "dibao").

Plain eventsourcing aggregates; no service framework, no I/O, no clock. Every `@event` method
validates before it changes state, so a broken rule raises a typed error and records nothing.
Reference data (areas, standards in force) is looked up by the application layer and passed in.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from shared import identity
from shared.audit import AuditedAggregate
from shared.errors import Conflict, InvalidInput
from shared.money import FEN, month, parse_date, yuan

URBAN, RURAL = "urban", "rural"
REGISTRATIONS = (URBAN, RURAL)
NAMESPACE = uuid5(NAMESPACE_URL, "urn:zhonglou-civil-affairs:social_assistance")


def allowance(standard: Decimal, per_capita_income: Decimal, size: int) -> Decimal:
    """(standard − per-capita monthly income) × household size, never negative, to the fen."""
    return max(Decimal("0.00"), (standard - per_capita_income) * size).quantize(FEN)


def per_capita(household_income: Decimal, size: int) -> Decimal:
    return (household_income / size).quantize(FEN, rounding=ROUND_HALF_UP)


def check_registration(value: str, field: str = "registration") -> str:
    if value not in REGISTRATIONS:
        raise InvalidInput(field, "must be 'urban' or 'rural'", code="input.not_a_choice")
    return value


def check_officer(value, field: str = "officer") -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, "must name the officer (non-empty)", code="input.empty_text")
    return value.strip()


def check_reason(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("reason", "must give the reason as text", code="input.empty_text")
    return value


def normalise_member(member: dict, index: int) -> dict:
    """A household member as stored: compact identity number, ISO birth date, income in yuan."""
    where = f"members[{index}]"
    if not isinstance(member, dict):
        raise InvalidInput(where, "must be an object with id_number, name, birth_date, monthly_income",
                           code="dibao.member_not_object")
    number = identity.validate(member.get("id_number"), f"{where}.id_number")
    name = member.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"{where}.name", "must be a non-empty name", code="input.empty_text")
    born = parse_date(member.get("birth_date"), f"{where}.birth_date")
    if born != identity.birth_date(number):
        raise InvalidInput(f"{where}.birth_date", "must match the birth date in the identity number",
                           code="identity.birth_date_mismatch")
    income = yuan(member.get("monthly_income", "0"), f"{where}.monthly_income")
    return {"id_number": number, "name": name.strip(), "birth_date": born.isoformat(),
            "monthly_income": str(income)}


class Household(AuditedAggregate):
    """A household with its members; holds at most one open dibao case at a time."""

    @event("Registered")
    def __init__(self, area: str, registration: str, address: str, members: list[dict]):
        check_registration(registration)
        if not members:
            raise InvalidInput("members", "must list at least one person", code="dibao.no_members")
        numbers = [m["id_number"] for m in members]
        if len(set(numbers)) != len(numbers):
            raise InvalidInput("members", "must not list the same identity number twice",
                               code="dibao.duplicate_member")
        self.area = area
        self.registration = registration
        self.address = address
        self.members = members
        self.open_case_id: UUID | None = None
        self.marginal = False

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def monthly_income(self) -> Decimal:
        return sum((Decimal(m["monthly_income"]) for m in self.members), Decimal("0.00"))

    @event("CaseOpened")
    def open_case(self, case_id: UUID) -> None:
        if self.open_case_id is not None:
            raise Conflict("household_id", "household already has an open dibao case",
                           code="dibao.household_case_open")
        self.open_case_id = case_id

    @event("CaseClosed")
    def close_case(self, case_id: UUID) -> None:
        self.open_case_id = None


class Enrolment(AuditedAggregate):
    """One person's place in the caseload, keyed by a pseudonym of the identity number, so that
    one person is in at most one open case across every household."""

    @staticmethod
    def create_id(person_key: UUID) -> UUID:
        return person_key

    @event("Created")
    def __init__(self, person_key: UUID):
        self.case_id: UUID | None = None

    def enrol(self, case_id: UUID, field: str) -> None:
        if self.case_id is not None and self.case_id != case_id:
            raise Conflict(field, "person is already in an open dibao case", code="dibao.person_in_open_case")
        self._enrolled(case_id)

    @event("Enrolled")
    def _enrolled(self, case_id: UUID) -> None:
        self.case_id = case_id

    @event("Released")
    def release(self, case_id: UUID) -> None:
        if self.case_id == case_id:
            self.case_id = None


# Case lifecycle states.
APPLIED, VERIFIED, ACTIVE, SUSPENDED, REJECTED, TERMINATED = (
    "applied", "verified", "active", "suspended", "rejected", "terminated")
OPEN_STATES = (APPLIED, VERIFIED, ACTIVE, SUSPENDED)


class Case(AuditedAggregate):
    """A dibao case: apply → verify → approve/reject → active ⇄ reviewed → suspended/terminated."""

    @event("Applied")
    def __init__(self, household_id: UUID, area: str, scheme: str, size: int,
                 applied_on: str, officer: str):
        self.household_id = household_id
        self.area = area
        self.scheme = scheme
        self.size = size
        self.applied_on = applied_on
        self.status = APPLIED
        self.verifier: str | None = None
        self.per_capita_income: Decimal | None = None
        self.allowances: list[list[str]] = []  # [from_month, amount] in recording order
        self.payments: dict[str, str] = {}      # month or "YYYY-YE" -> amount paid

    # --- questions -----------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATES

    def allowance_at(self, month_: str) -> Decimal:
        """The allowance in force for a month: the latest recorded change effective by then."""
        amount = Decimal("0.00")
        for from_month, value in self.allowances:
            if from_month <= month_:
                amount = Decimal(value)
        return amount

    @property
    def allowance_now(self) -> Decimal:
        return Decimal(self.allowances[-1][1]) if self.allowances else Decimal("0.00")

    def _require(self, *states: str, field: str = "case_id") -> None:
        if self.status not in states:
            raise Conflict(field, f"case is {self.status}; this needs it to be {' or '.join(states)}",
                           code="dibao.case_state")

    # --- verification and decision --------------------------------------------------------

    @event("Verified")
    def verify(self, officer: str, household_income: Decimal, assets: Decimal,
               per_capita_income: Decimal) -> None:
        self._require(APPLIED, VERIFIED)
        self.verifier = officer
        self.per_capita_income = per_capita_income
        self.status = VERIFIED

    def approve(self, officer: str, month_: str, standard: Decimal) -> None:
        self._require(VERIFIED)
        if officer == self.verifier:
            raise Conflict("officer", "approval must be by a different officer than the verifier (maker-checker)",
                           code="dibao.maker_checker")
        amount = allowance(standard, self.per_capita_income, self.size)
        if amount == 0:
            raise Conflict("case_id", "per-capita income is not below the standard; reject instead",
                           code="dibao.income_above_standard")
        self._approved(officer, month_, standard, amount)

    @event("Approved")
    def _approved(self, officer: str, month: str, standard: Decimal, allowance: Decimal) -> None:
        self.status = ACTIVE
        self.allowances.append([month, str(allowance)])

    @event("Rejected")
    def reject(self, officer: str, reason: str) -> None:
        self._require(APPLIED, VERIFIED)
        check_reason(reason)
        self.status = REJECTED

    # --- dynamic management ------------------------------------------------------------------

    def review(self, officer: str, household_income: Decimal, month_: str,
               standard: Decimal) -> str:
        """Re-verify income. A positive allowance keeps (or makes) the case active; no
        allowance suspends an active case and ends one that is already suspended."""
        self._require(ACTIVE, SUSPENDED)
        if self.allowances and month_ < self.allowances[-1][0]:
            raise Conflict("effective_month",
                           f"must not be before the last allowance change ({self.allowances[-1][0]})",
                           code="dibao.before_last_allowance_change")
        pci = per_capita(household_income, self.size)
        amount = allowance(standard, pci, self.size)
        if amount > 0:
            before = self.allowance_now
            outcome = ("reinstated" if self.status == SUSPENDED else
                       "raised" if amount > before else "lowered" if amount < before else "unchanged")
        else:
            outcome = "terminated" if self.status == SUSPENDED else "suspended"
        self._reviewed(officer, household_income, pci, month_, standard, amount, outcome)
        return outcome

    @event("Reviewed")
    def _reviewed(self, officer: str, household_income: Decimal, per_capita_income: Decimal,
                  month: str, standard: Decimal, allowance: Decimal, outcome: str) -> None:
        self.per_capita_income = per_capita_income
        self.allowances.append([month, str(allowance)])
        self.status = {"suspended": SUSPENDED, "terminated": TERMINATED}.get(outcome, ACTIVE)

    @event("Terminated")
    def terminate(self, officer: str, reason: str, month: str) -> None:
        self._require(ACTIVE, SUSPENDED)
        check_reason(reason)
        self.status = TERMINATED
        self.allowances.append([month, "0.00"])

    def recompute(self, month_: str, standard: Decimal, reason: str) -> Decimal | None:
        """A new standard from `month_`: returns the new allowance, or None if nothing changes."""
        if self.status != ACTIVE:
            return None
        amount = allowance(standard, self.per_capita_income, self.size)
        if amount == self.allowance_at(month_) and month_ <= self.allowances[-1][0]:
            return None
        self._recomputed(month_, standard, amount, reason)
        return amount

    @event("AllowanceRecomputed")
    def _recomputed(self, month: str, standard: Decimal, allowance: Decimal, reason: str) -> None:
        self.allowances.append([month, str(allowance)])

    def merge_scheme(self, to_scheme: str, month_: str, standard: Decimal) -> str:
        self._require(ACTIVE, SUSPENDED, APPLIED, VERIFIED)
        if self.scheme == to_scheme:
            raise Conflict("scheme", f"case is already in the {to_scheme} scheme",
                           code="dibao.already_in_scheme")
        amount = allowance(standard, self.per_capita_income or Decimal(0), self.size)
        self._scheme_merged(self.scheme, to_scheme, month_, standard,
                            amount if self.status == ACTIVE else Decimal("0.00"))
        return to_scheme

    @event("SchemeMerged")
    def _scheme_merged(self, from_scheme: str, to_scheme: str, month: str, standard: Decimal,
                       allowance: Decimal) -> None:
        self.scheme = to_scheme
        if self.status == ACTIVE:
            self.allowances.append([month, str(allowance)])

    # --- payments ------------------------------------------------------------------------------

    def pay_month(self, month_: str) -> Decimal | None:
        """Pay a month's allowance plus any back pay a retroactive raise created for months
        already paid. Returns the total paid, or None if the month was paid before."""
        if self.status != ACTIVE or month_ in self.payments or self.allowance_at(month_) == 0:
            return None  # not active, already paid, or the month is before the case started
        back_pay = {m: str(self.allowance_at(m) - Decimal(paid))
                    for m, paid in self.payments.items()
                    if not m.endswith("YE") and m < month_ and self.allowance_at(m) > Decimal(paid)}
        amount = self.allowance_at(month_)
        self._paid(month_, amount, "monthly", back_pay)
        return amount + sum((Decimal(v) for v in back_pay.values()), Decimal("0.00"))

    def pay_year_end_extra(self, year: int, standard: Decimal) -> Decimal | None:
        """One extra month at the full standard for the whole household (增发一个月)."""
        key = f"{year}-YE"
        if self.status != ACTIVE or key in self.payments:
            return None
        amount = (standard * self.size).quantize(FEN)
        self._paid(key, amount, "year_end_extra", {})
        return amount

    @event("Paid")
    def _paid(self, month: str, amount: Decimal, kind: str, back_pay: dict) -> None:
        self.payments[month] = str(amount)
        for m, extra in back_pay.items():
            self.payments[m] = str(Decimal(self.payments[m]) + Decimal(extra))


class Caseload(AuditedAggregate):
    """The district's list of active cases and marginal households, for payment runs.
    One aggregate, so activation and payment runs see one consistent list."""

    ID = uuid5(NAMESPACE, "caseload")

    @staticmethod
    def create_id() -> UUID:
        return Caseload.ID

    @event("Started")
    def __init__(self) -> None:
        self.active: dict[str, str] = {}    # case id -> area
        self.marginal: dict[str, str] = {}  # marginal household record id -> area

    @event("CaseActivated")
    def activate(self, case_id: UUID, area: str) -> None:
        self.active[str(case_id)] = area

    @event("CaseDeactivated")
    def deactivate(self, case_id: UUID) -> None:
        self.active.pop(str(case_id), None)

    @event("MarginalAdded")
    def add_marginal(self, record_id: UUID, area: str) -> None:
        self.marginal[str(record_id)] = area

    @event("MarginalRemoved")
    def remove_marginal(self, record_id: UUID) -> None:
        self.marginal.pop(str(record_id), None)


class StandardSchedule(AuditedAggregate):
    """Dibao standards per area and registration, each effective from a month."""

    ID = uuid5(NAMESPACE, "standards")

    @staticmethod
    def create_id() -> UUID:
        return StandardSchedule.ID

    @event("Started")
    def __init__(self) -> None:
        self.entries: list[dict] = []
        self.merged: dict[str, str] = {}  # area -> month its rural scheme joined the urban one

    def scheme_for(self, area: str, registration: str) -> str:
        """The scheme a new application joins: rural households of a merged area join urban."""
        return URBAN if registration == RURAL and area in self.merged else registration

    @event("RuralMerged")
    def merge_rural(self, area: str, effective_month: str) -> None:
        if area in self.merged:
            raise Conflict("area", f"{area}'s rural scheme was merged from {self.merged[area]}",
                           code="dibao.rural_already_merged")
        self.merged[area] = effective_month

    def amount_at(self, area: str, registration: str, month_: str) -> Decimal | None:
        """Latest entry effective by the month; an area's own entry beats the district-wide '*'."""
        best: tuple | None = None
        for entry in self.entries:
            if entry["registration"] != registration or entry["effective_month"] > month_:
                continue
            if entry["area"] not in (area, "*"):
                continue
            rank = (entry["effective_month"], entry["area"] == area)
            if best is None or rank >= best[0]:
                best = (rank, entry["amount"])
        return Decimal(best[1]) if best else None

    @event("Set")
    def set_standard(self, area: str, registration: str, amount: Decimal,
                     effective_month: str, reason: str) -> None:
        check_registration(registration)
        if amount <= 0:
            raise InvalidInput("amount", "standard must be positive", code="dibao.standard_not_positive")
        self.entries.append({"area": area, "registration": registration,
                             "amount": str(amount), "effective_month": effective_month})

    def raise_standards(self, areas: list[str], deltas: dict[str, Decimal], month_: str) -> list[dict]:
        amounts = []
        for area in areas:
            for registration, delta in deltas.items():
                current = self.amount_at(area, registration, month_)
                if current is None:
                    raise Conflict("effective_month", f"no {registration} standard in force for {area} to raise",
                                   code="dibao.no_standard_in_force")
                amounts.append({"area": area, "registration": registration,
                                "amount": str(current + delta)})
        self._raised({k: str(v) for k, v in deltas.items()}, month_, amounts)
        return amounts

    @event("Raised")
    def _raised(self, deltas: dict, effective_month: str, amounts: list[dict]) -> None:
        for entry in amounts:
            self.entries.append(dict(entry, effective_month=effective_month))


class MarginalHousehold(AuditedAggregate):
    """A household just above the dibao line (低保边缘), reviewed and given year-end relief."""

    @staticmethod
    def create_id(household_id: UUID) -> UUID:
        return uuid5(NAMESPACE, f"marginal:{household_id}")

    @event("Registered")
    def __init__(self, household_id: UUID, area: str, officer: str,
                 per_capita_income: Decimal, standard: Decimal, band_ratio: Decimal):
        self.household_id = household_id
        self.area = area
        self._check_band(per_capita_income, standard, band_ratio)
        self.per_capita_income = per_capita_income
        self.status = "registered"
        self.relief_years: dict[str, str] = {}

    @staticmethod
    def _check_band(pci: Decimal, standard: Decimal, band_ratio: Decimal) -> None:
        if pci < standard:
            raise Conflict("per_capita_income", "is below the standard: apply for dibao instead",
                           code="dibao.below_standard")
        if pci > (standard * band_ratio).quantize(FEN):
            raise InvalidInput("per_capita_income", f"is above the marginal band ({band_ratio} × standard)",
                               code="dibao.above_marginal_band")

    def review(self, officer: str, per_capita_income: Decimal, standard: Decimal,
               band_ratio: Decimal) -> str:
        if self.status != "registered":
            raise Conflict("household_id", f"marginal record is {self.status}",
                           code="dibao.marginal_not_registered")
        if per_capita_income < standard:
            outcome = "below_line"
        elif per_capita_income > (standard * band_ratio).quantize(FEN):
            outcome = "left_band"
        else:
            outcome = "still_marginal"
        self._reviewed(officer, per_capita_income, standard, outcome)
        return outcome

    @event("Reviewed")
    def _reviewed(self, officer: str, per_capita_income: Decimal, standard: Decimal,
                  outcome: str) -> None:
        self.per_capita_income = per_capita_income
        if outcome != "still_marginal":
            self.status = "removed"

    def pay_relief(self, year: int, amount: Decimal) -> Decimal | None:
        if self.status != "registered" or str(year) in self.relief_years:
            return None
        self._relief_paid(year, amount)
        return amount

    @event("ReliefPaid")
    def _relief_paid(self, year: int, amount: Decimal) -> None:
        self.relief_years[str(year)] = str(amount)


class DonationDrive(AuditedAggregate):
    """The charity "one-day donation" drive (慈善一日捐) of a year, with running totals."""

    @staticmethod
    def create_id(year: int) -> UUID:
        return uuid5(NAMESPACE, f"donation-drive:{year}")

    @event("Opened")
    def __init__(self, year: int):
        self.year = year
        self.total = Decimal("0.00")
        self.count = 0
        self.by_area: dict[str, str] = {}

    @event("Received")
    def record(self, donor: str, amount: Decimal, area: str, received_on: str) -> None:
        if amount <= 0:
            raise InvalidInput("amount", "donation must be positive", code="dibao.donation_not_positive")
        if not donor:
            raise InvalidInput("donor", "must name the donor (person or organisation)",
                               code="input.empty_text")
        self.total += amount
        self.count += 1
        self.by_area[area] = str(Decimal(self.by_area.get(area, "0")) + amount)


__all__ = ["Household", "Enrolment", "Case", "Caseload", "StandardSchedule",
           "MarginalHousehold", "DonationDrive", "allowance", "per_capita", "month"]
