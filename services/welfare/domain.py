"""Domain layer of social welfare (社会福利): elderly care, care workers, persons under special
support, home care and welfare enterprises.

Plain eventsourcing aggregates; no service framework, no I/O, no clock. Every `@event` method
validates before it changes state, so a broken rule raises a typed error and records nothing.
Reference data (areas, caps, minimum wages, the disabled-staff rule, the restructuring deadline)
is looked up by the application layer and passed in. Dates are ISO strings 'YYYY-MM-DD'.
"""
from __future__ import annotations

from decimal import Decimal
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from shared.audit import AuditedAggregate
from shared.checks import check_choice, check_count, check_text, normalise_person
from shared.errors import Conflict, InvalidInput

NAMESPACE = uuid5(NAMESPACE_URL, "urn:zhonglou-civil-affairs:welfare")
INSTITUTION_KINDS = ("public", "private")
# Special support: urban three-no persons (三无) and rural five-guarantee persons (五保), and the
# registration (hukou) each category belongs to.
CATEGORIES = {"three_no": "urban", "five_guarantee": "rural"}
CENTRALIZED, DISPERSED = "centralized", "dispersed"
PAYMENTS = ("paid", "low_cost", "free")
OWNERSHIPS = ("state", "collective", "private")
PLACED, DELIVERED, CANCELLED = "placed", "delivered", "cancelled"


# --- checks shared by the aggregates (text, choices, counts, persons: shared/checks.py) --------

def check_not_before(day: str, earliest: str, field: str, what: str) -> None:
    if day < earliest:
        raise InvalidInput(field, f"must not be before {what} ({earliest})", code="welfare.date_too_early")


# --- elderly-care institutions ------------------------------------------------------------------

class Institution(AuditedAggregate):
    """An elderly-care institution (养老机构) and its beds; a bed holds one resident at a time."""

    @event("Registered")
    def __init__(self, area: str, name: str, kind: str, beds: int, registered_on: str):
        check_text(name, "name", "institution's name")
        check_choice(kind, INSTITUTION_KINDS, "kind")
        check_count(beds, "beds", 1)
        self.area = area
        self.name = name
        self.kind = kind
        self.beds = beds
        self.registered_on = registered_on
        self.occupied: dict[str, str] = {}   # bed number (as text) -> admission id

    @property
    def free_beds(self) -> int:
        return self.beds - len(self.occupied)

    def choose_bed(self, bed: int | None = None) -> int:
        """The bed a new resident gets: the one asked for if free, else the lowest free bed."""
        if self.free_beds <= 0:
            raise Conflict("institution_id", f"institution is full: all {self.beds} beds are occupied",
                           code="welfare.institution_full")
        if bed is None:
            return next(b for b in range(1, self.beds + 1) if str(b) not in self.occupied)
        if isinstance(bed, bool) or not isinstance(bed, int) or not 1 <= bed <= self.beds:
            raise InvalidInput("bed", f"must be a bed number from 1 to {self.beds}",
                               code="welfare.bed_out_of_range")
        if str(bed) in self.occupied:
            raise Conflict("bed", "bed is occupied by another resident (one resident per bed)",
                           code="welfare.bed_occupied")
        return bed

    @event("BedTaken")
    def take_bed(self, admission_id: UUID, bed: int) -> None:
        if self.choose_bed(bed) != bed:
            raise Conflict("bed", "bed is occupied by another resident (one resident per bed)",
                           code="welfare.bed_occupied")
        self.occupied[str(bed)] = str(admission_id)

    def free_bed(self, admission_id: UUID) -> None:
        beds = [int(b) for b, a in self.occupied.items() if a == str(admission_id)]
        if beds:
            self._bed_freed(admission_id, beds[0])

    @event("BedFreed")
    def _bed_freed(self, admission_id: UUID, bed: int) -> None:
        del self.occupied[str(bed)]

    @event("BedsChanged")
    def change_beds(self, beds: int, changed_on: str, reason: str) -> None:
        check_count(beds, "beds", 1)
        check_text(reason, "reason", "reason")
        if beds == self.beds:
            raise Conflict("beds", f"the institution already has {beds} beds", code="welfare.beds_unchanged")
        highest = max((int(b) for b in self.occupied), default=0)
        if highest > beds:
            raise Conflict("beds", f"bed {highest} is occupied: discharge its resident first",
                           code="welfare.beds_below_occupied")
        check_not_before(changed_on, self.registered_on, "changed_on", "the registration")
        self.beds = beds


class Admission(AuditedAggregate):
    """One resident's stay in an institution: admitted to a bed, later discharged."""

    @event("Recorded")
    def __init__(self, institution_id: UUID, area: str, id_number: str, name: str,
                 birth_date: str, bed: int, admitted_on: str):
        self.institution_id = institution_id
        self.area = area
        self.id_number = id_number
        self.name = name
        self.birth_date = birth_date
        self.bed = bed
        self.admitted_on = admitted_on
        self.discharged_on: str | None = None

    @property
    def is_open(self) -> bool:
        return self.discharged_on is None

    @event("Discharged")
    def discharge(self, discharged_on: str, reason: str) -> None:
        if not self.is_open:
            raise Conflict("admission_id", f"resident was already discharged on {self.discharged_on}",
                           code="welfare.already_discharged")
        check_text(reason, "reason", "reason for the discharge")
        check_not_before(discharged_on, self.admitted_on, "discharged_on", "the admission")
        self.discharged_on = discharged_on


class Residency(AuditedAggregate):
    """Where one person lives in care, keyed by a pseudonym of the identity number, so that a
    person is a resident of at most one institution at a time."""

    @staticmethod
    def create_id(person_key: UUID) -> UUID:
        return uuid5(NAMESPACE, f"residency:{person_key}")

    @event("Created")
    def __init__(self, person_key: UUID):
        self.admission_id: UUID | None = None

    def begin(self, admission_id: UUID, institution_id: UUID) -> None:
        if self.admission_id is not None:
            raise Conflict("id_number", "person already lives in an elderly-care institution "
                                        "(one institution at a time)", code="welfare.already_in_institution")
        self._began(admission_id, institution_id)

    @event("Began")
    def _began(self, admission_id: UUID, institution_id: UUID) -> None:
        self.admission_id = admission_id

    def end(self, admission_id: UUID) -> None:
        if self.admission_id == admission_id:
            self._ended(admission_id)

    @event("Ended")
    def _ended(self, admission_id: UUID) -> None:
        self.admission_id = None


# --- care workers -------------------------------------------------------------------------------

class CareWorker(AuditedAggregate):
    """An elderly-care worker (养老护理员) of an institution and the training courses taken.
    Keyed by a pseudonym of the identity number: one person is registered once."""

    @staticmethod
    def create_id(person_key: UUID) -> UUID:
        return uuid5(NAMESPACE, f"care-worker:{person_key}")

    @event("Registered")
    def __init__(self, person_key: UUID, institution_id: UUID, area: str, id_number: str,
                 name: str, registered_on: str):
        self.institution_id = institution_id
        self.area = area
        self.id_number = id_number
        self.name = name
        self.registered_on = registered_on
        self.trainings: list[dict] = []

    @property
    def trained(self) -> bool:
        return any(t["passed"] for t in self.trainings)

    @event("TrainingRecorded")
    def record_training(self, course: str, completed_on: str, passed: bool) -> None:
        check_text(course, "course", "training course")
        if not isinstance(passed, bool):
            raise InvalidInput("passed", "must be true or false", code="input.not_boolean")
        for done in self.trainings:
            if done["course"] == course and (done["passed"] or done["completed_on"] == completed_on):
                raise Conflict("course", "this course is already recorded as passed or on this day",
                               code="welfare.training_already_recorded")
        self.trainings.append({"course": course, "completed_on": completed_on, "passed": passed})


# --- persons under special support -----------------------------------------------------------------

class SupportedPerson(AuditedAggregate):
    """An urban three-no (三无) or rural five-guarantee (五保) person and the support arrangement:
    centralized in an institution (linked to the admission) or dispersed at home. Keyed by a
    pseudonym of the identity number: one person is registered once."""

    @staticmethod
    def create_id(person_key: UUID) -> UUID:
        return uuid5(NAMESPACE, f"supported-person:{person_key}")

    @event("Registered")
    def __init__(self, person_key: UUID, category: str, area: str, id_number: str, name: str,
                 birth_date: str, registered_on: str):
        check_choice(category, tuple(CATEGORIES), "category")
        self.person_key = person_key
        self.category = category
        self.area = area
        self.id_number = id_number
        self.name = name
        self.birth_date = birth_date
        self.registered_on = registered_on
        self.mode: str | None = None
        self.admission_id: UUID | None = None
        self.arranged_on: str | None = None
        self.medical_care: dict | None = None

    @property
    def lacks_medical_care(self) -> bool:
        """The plan's concern: a dispersed urban three-no person without medical care."""
        return self.category == "three_no" and self.mode == DISPERSED and self.medical_care is None

    def flags(self) -> list[str]:
        flags = []
        if self.mode is None:
            flags.append("no support arrangement")
        if self.lacks_medical_care:
            flags.append("dispersed three-no person without a medical-care arrangement")
        return flags

    def arrange(self, mode: str, arranged_on: str, admission: Admission | None,
                admission_person_key: UUID | None, lives_in_institution: bool) -> None:
        """Centralized support names the person's own open admission; dispersed support (at
        home) is refused while the person lives in an institution."""
        check_choice(mode, (CENTRALIZED, DISPERSED), "mode")
        check_not_before(arranged_on, self.registered_on, "arranged_on", "the registration")
        if mode == CENTRALIZED:
            if admission is None:
                raise InvalidInput("admission_id",
                                   "centralized support names the admission to an institution",
                                   code="welfare.centralized_needs_admission")
            if not admission.is_open:
                raise Conflict("admission_id", "the admission has ended (resident discharged)",
                               code="welfare.admission_ended")
            if admission_person_key != self.person_key:
                raise Conflict("admission_id", "the admission is of another person",
                               code="welfare.admission_of_other_person")
            if self.mode == CENTRALIZED and self.admission_id == admission.id:
                raise Conflict("mode", "person is already supported in this institution",
                               code="welfare.already_centralized")
            self._arranged(mode, admission.id, admission.institution_id, arranged_on)
        else:
            if admission is not None:
                raise InvalidInput("admission_id", "dispersed support (at home) names no admission",
                                   code="welfare.dispersed_no_admission")
            if lives_in_institution:
                raise Conflict("mode", "person lives in an elderly-care institution: arrange "
                                       "centralized support with the admission instead",
                               code="welfare.lives_in_institution")
            if self.mode == DISPERSED:
                raise Conflict("mode", "person is already supported at home (dispersed)",
                               code="welfare.already_dispersed")
            self._arranged(mode, None, None, arranged_on)

    @event("Arranged")
    def _arranged(self, mode: str, admission_id: UUID | None, institution_id: UUID | None,
                  arranged_on: str) -> None:
        self.mode = mode
        self.admission_id = admission_id
        self.arranged_on = arranged_on

    def end_arrangement(self, admission_id: UUID, ended_on: str, reason: str) -> bool:
        """The institution discharged the person: the centralized arrangement ends with it."""
        if self.mode != CENTRALIZED or self.admission_id != admission_id:
            return False
        self._arrangement_ended(admission_id, ended_on, reason)
        return True

    @event("ArrangementEnded")
    def _arrangement_ended(self, admission_id: UUID, ended_on: str, reason: str) -> None:
        self.mode = None
        self.admission_id = None
        self.arranged_on = None

    @event("MedicalCareArranged")
    def arrange_medical_care(self, provider: str, arranged_on: str) -> None:
        check_text(provider, "provider", "medical-care provider")
        if self.mode != DISPERSED:
            raise Conflict("person_id", "medical-care arrangements are for persons supported at "
                                        "home (dispersed); arrange dispersed support first",
                           code="welfare.medical_care_needs_dispersed")
        check_not_before(arranged_on, self.arranged_on, "arranged_on", "the dispersed arrangement")
        self.medical_care = {"provider": provider, "arranged_on": arranged_on}


# --- home-care service orders ---------------------------------------------------------------------

def check_price(payment: str, price: Decimal, volunteer: str, cap: Decimal) -> None:
    """Paid orders cost more than 0 and name no volunteer; low-cost orders cost more than 0 and
    at most the cap of their service; free orders cost 0 and name the volunteer who serves."""
    if payment == "paid" and price <= 0:
        raise InvalidInput("price", "a paid order costs more than 0", code="welfare.paid_price_not_positive")
    if payment == "paid" and volunteer:
        raise InvalidInput("volunteer", "a paid order is not volunteer service: name no volunteer",
                           code="welfare.paid_with_volunteer")
    if payment == "low_cost" and not 0 < price <= cap:
        raise InvalidInput("price", f"a low-cost order costs more than 0 and at most {cap} yuan "
                                    "(the cap of its service, services/welfare/reference/home_care.json)",
                           code="welfare.low_cost_price_out_of_range")
    if payment == "free":
        if price != 0:
            raise InvalidInput("price", "a free (volunteer) order costs 0",
                               code="welfare.free_price_not_zero")
        if not volunteer:
            raise InvalidInput("volunteer", "a free order names the volunteer who serves",
                               code="welfare.free_needs_volunteer")


class HomeCareOrder(AuditedAggregate):
    """A home-care service (居家养老) for an elder: placed → delivered, or cancelled."""

    @event("Placed")
    def __init__(self, area: str, client: str, service: str, payment: str, price: Decimal,
                 volunteer: str, placed_on: str, low_cost_cap: Decimal):
        check_text(client, "client", "client's name")
        check_choice(payment, PAYMENTS, "payment")
        check_price(payment, price, volunteer, low_cost_cap)
        self.area = area
        self.client = client
        self.service = service
        self.payment = payment
        self.price = price
        self.volunteer = volunteer
        self.placed_on = placed_on
        self.status = PLACED
        self.closed_on: str | None = None

    def _require_placed(self) -> None:
        if self.status != PLACED:
            raise Conflict("order_id", f"order is {self.status}; only a placed order can change",
                           code="welfare.order_not_placed")

    @event("Delivered")
    def deliver(self, delivered_on: str) -> None:
        self._require_placed()
        check_not_before(delivered_on, self.placed_on, "delivered_on", "the order")
        self.status = DELIVERED
        self.closed_on = delivered_on

    @event("Cancelled")
    def cancel(self, cancelled_on: str, reason: str) -> None:
        self._require_placed()
        check_text(reason, "reason", "reason for the cancellation")
        check_not_before(cancelled_on, self.placed_on, "cancelled_on", "the order")
        self.status = CANCELLED
        self.closed_on = cancelled_on


# --- welfare enterprises ----------------------------------------------------------------------------

class WelfareEnterprise(AuditedAggregate):
    """A welfare enterprise (福利企业) employing disabled people: staff, wages, restructuring
    (改制) and tax rebates. Below the legal share of disabled employees it is flagged and may
    not be granted a rebate."""

    @event("Registered")
    def __init__(self, area: str, name: str, ownership: str, other_staff: int,
                 registered_on: str, restructuring_required: bool):
        check_text(name, "name", "enterprise's name")
        check_choice(ownership, OWNERSHIPS, "ownership")
        check_count(other_staff, "other_staff", 0)
        self.area = area
        self.name = name
        self.ownership = ownership
        self.other_staff = other_staff
        self.registered_on = registered_on
        self.restructuring_required = restructuring_required
        self.employees: dict[str, dict] = {}     # employee key -> id_number, name, hired_on
        self.periods: dict[str, list] = {}       # employee key -> [[hired_on, left_on|None], ...]
        self.compliant: bool | None = None       # None until first checked
        self.restructured: dict | None = None
        self.wage_months: list[str] = []
        self.rebates: dict[str, str] = {}        # period 'YYYY-MM' -> amount

    @property
    def disabled(self) -> int:
        return len(self.employees)

    @property
    def staff(self) -> int:
        return self.other_staff + self.disabled

    # --- the legal share of disabled employees ------------------------------------------------

    def meets_share(self, min_share: Decimal, min_persons: int) -> bool:
        return (self.disabled >= min_persons and self.staff > 0
                and Decimal(self.disabled) >= min_share * self.staff)

    def check_share(self, min_share: Decimal, min_persons: int) -> None:
        """Flag the enterprise when it falls below the rule; qualify it when it meets it."""
        compliant = self.meets_share(min_share, min_persons)
        if compliant == self.compliant:
            return
        change = self._qualified if compliant else self._flagged
        change(self.disabled, self.staff, min_share, min_persons)

    @event("Flagged")
    def _flagged(self, disabled_employees: int, staff: int, min_share: Decimal,
                 min_persons: int) -> None:
        self.compliant = False

    @event("Qualified")
    def _qualified(self, disabled_employees: int, staff: int, min_share: Decimal,
                   min_persons: int) -> None:
        self.compliant = True

    # --- staff --------------------------------------------------------------------------------------

    @event("DisabledEmployeeHired")
    def hire(self, employee_key: UUID, id_number: str, name: str, hired_on: str) -> None:
        if str(employee_key) in self.employees:
            raise Conflict("id_number", "person is already a disabled employee of this enterprise",
                           code="welfare.already_employed_here")
        check_not_before(hired_on, self.registered_on, "hired_on", "the enterprise's registration")
        self.employees[str(employee_key)] = {"id_number": id_number, "name": name, "hired_on": hired_on}
        self.periods.setdefault(str(employee_key), []).append([hired_on, None])

    @event("DisabledEmployeeLeft")
    def release(self, employee_key: UUID, left_on: str, reason: str) -> None:
        employee = self.employees.get(str(employee_key))
        if employee is None:
            raise Conflict("id_number", "person is not a current disabled employee of this enterprise",
                           code="welfare.not_employed_here")
        check_text(reason, "reason", "reason for leaving")
        check_not_before(left_on, employee["hired_on"], "left_on", "the hiring")
        del self.employees[str(employee_key)]
        self.periods[str(employee_key)][-1][1] = left_on

    @event("StaffReported")
    def report_staff(self, other_staff: int, as_of: str) -> None:
        check_count(other_staff, "other_staff", 0)
        check_not_before(as_of, self.registered_on, "as_of", "the enterprise's registration")
        self.other_staff = other_staff

    def employed_in(self, employee_key: UUID, month_: str) -> bool:
        first, last = f"{month_}-01", f"{month_}-31"
        return any(hired <= last and (left is None or left >= first)
                   for hired, left in self.periods.get(str(employee_key), []))

    # --- wages, restructuring, rebates ------------------------------------------------------------

    def record_wages(self, month_: str, wages: list[dict], minimum_wage: Decimal) -> None:
        """Monthly wages and benefits of disabled employees; each wage at least the minimum."""
        if month_ in self.wage_months:
            raise Conflict("month", "wages of this month are already recorded",
                           code="welfare.wages_already_recorded")
        if not wages:
            raise InvalidInput("wages", "must list at least one disabled employee's wage",
                               code="welfare.no_wages")
        seen = set()
        for index, line in enumerate(wages):
            key = line["employee_key"]
            if key in seen:
                raise InvalidInput(f"wages[{index}].id_number", "lists the same employee twice",
                                   code="welfare.duplicate_wage_employee")
            seen.add(key)
            if not self.employed_in(UUID(key), month_):
                raise Conflict(f"wages[{index}].id_number",
                               f"was not a disabled employee of this enterprise in {month_}",
                               code="welfare.not_employed_in_month")
            if Decimal(line["wage"]) < minimum_wage:
                raise InvalidInput(f"wages[{index}].wage",
                                   f"is below the monthly minimum wage ({minimum_wage} yuan in {month_})",
                                   code="welfare.below_minimum_wage")
        self._wages_recorded(month_, minimum_wage, wages)

    @event("WagesRecorded")
    def _wages_recorded(self, month: str, minimum_wage: Decimal, wages: list[dict]) -> None:
        self.wage_months.append(month)

    def restructure(self, completed_on: str, form: str, deadline: str) -> None:
        if not self.restructuring_required:
            raise Conflict("enterprise_id", f"a {self.ownership} enterprise has no restructuring (改制) to do",
                           code="welfare.no_restructuring_required")
        if self.restructured is not None:
            raise Conflict("enterprise_id",
                           f"enterprise was restructured on {self.restructured['completed_on']}",
                           code="welfare.already_restructured")
        check_text(form, "form", "form the enterprise takes")
        check_not_before(completed_on, self.registered_on, "completed_on", "the enterprise's registration")
        self._restructured(completed_on, form.strip(), deadline, completed_on <= deadline)

    @event("Restructured")
    def _restructured(self, completed_on: str, form: str, deadline: str, on_time: bool) -> None:
        self.restructured = {"completed_on": completed_on, "form": form, "deadline": deadline,
                             "on_time": on_time}

    @event("RebateGranted")
    def grant_rebate(self, period: str, amount: Decimal, granted_on: str) -> None:
        if not self.compliant:
            raise Conflict("enterprise_id", "enterprise is flagged below the legal share of disabled "
                                            "employees: not eligible for a tax rebate",
                           code="welfare.rebate_not_compliant")
        if amount <= 0:
            raise InvalidInput("amount", "a rebate is a positive amount", code="welfare.rebate_not_positive")
        if period in self.rebates:
            raise Conflict("period", "a rebate was already granted for this period",
                           code="welfare.rebate_already_granted")
        check_not_before(granted_on, f"{period}-01", "granted_on", "the period it rebates")
        self.rebates[period] = str(amount)


class Employment(AuditedAggregate):
    """Which welfare enterprise counts a disabled person, keyed by a pseudonym of the identity
    number: one person counts for at most one welfare enterprise at a time."""

    @staticmethod
    def create_id(person_key: UUID) -> UUID:
        return uuid5(NAMESPACE, f"employment:{person_key}")

    @event("Created")
    def __init__(self, person_key: UUID):
        self.enterprise_id: UUID | None = None

    def begin(self, enterprise_id: UUID) -> None:
        if self.enterprise_id is not None:
            raise Conflict("id_number", "person is already counted as a disabled employee of a "
                                        "welfare enterprise (one at a time)",
                           code="welfare.one_enterprise_at_a_time")
        self._began(enterprise_id)

    @event("Began")
    def _began(self, enterprise_id: UUID) -> None:
        self.enterprise_id = enterprise_id

    def end(self, enterprise_id: UUID) -> None:
        if self.enterprise_id == enterprise_id:
            self._ended(enterprise_id)

    @event("Ended")
    def _ended(self, enterprise_id: UUID) -> None:
        self.enterprise_id = None


__all__ = ["Institution", "Admission", "Residency", "CareWorker", "SupportedPerson",
           "HomeCareOrder", "WelfareEnterprise", "Employment", "normalise_person", "check_price"]
