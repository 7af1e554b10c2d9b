"""Domain layer of military support (双拥 and 优抚安置): preferential-treatment beneficiaries and
their periodic benefits, medical insurance and medical assistance, workers without military
status (无军籍职工), and double-support work (army-support activities, national-defence
education, civil-military co-building) with the evidence file of the model-district application.

Plain eventsourcing aggregates; no service framework, no I/O, no clock. A public command method
validates and then calls a private past-tense `@event` method that only changes state, so a
broken rule raises a typed error and records nothing. Reference data (benefit standards, rated
grades, schemes, channels, caps, the model-district requirements) is looked up by the
application layer (rules.py) and passed in as values. Dates are ISO strings 'YYYY-MM-DD',
months 'YYYY-MM'.
"""
from __future__ import annotations

from decimal import Decimal
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from shared.audit import AuditedAggregate
from shared.checks import check_choice, check_text, normalise_person
from shared.errors import Conflict, InvalidInput
from shared.money import FEN

NAMESPACE = uuid5(NAMESPACE_URL, "urn:zhonglou-civil-affairs:military_support")
DISABLED = "disabled_serviceman"
# The categories of beneficiaries (优抚对象) the regulations name; the benefit of each is in
# services/military_support/reference/benefits.json.
CATEGORIES = (DISABLED, "martyr_family", "died_on_duty_family", "died_of_illness_family",
              "demobilised_veteran", "war_veteran", "other")
CAUSES = ("war", "duty", "illness")          # 因战, 因公, 因病
GRADES = tuple(range(1, 11))                 # disability grades 1 (most severe) .. 10
ACTIVE, ENDED = "active", "ended"
ZERO = Decimal("0.00")


# --- checks on plain input --------------------------------------------------------------------
# (text, choices, counts and persons: shared/checks.py)


def check_not_before(day: str, earliest: str, field: str, what: str) -> None:
    if day < earliest:
        raise InvalidInput(field, f"must not be before {what} ({earliest})",
                           code="military.date_too_early")


def check_disability(category: str, grade, cause, rated: dict[str, tuple[int, ...]]) -> None:
    """A disabled serviceman has a grade 1-10 and a cause whose rated grades include it (illness:
    1-6 in 2007, `rated` comes from the standards in force); no other category has either."""
    check_choice(category, CATEGORIES, "category")
    if category != DISABLED:
        if grade is not None or cause is not None:
            raise InvalidInput("grade" if grade is not None else "cause",
                               "only a disabled serviceman has a disability grade and cause",
                               code="military.grade_only_for_disabled")
        return
    if grade is None:
        raise InvalidInput("grade", "a disabled serviceman has a disability grade (1-10)",
                           code="military.grade_required")
    check_choice(grade, GRADES, "grade")
    if cause is None:
        raise InvalidInput("cause", "a disabled serviceman's disability has a cause: "
                                    + ", ".join(CAUSES), code="military.cause_required")
    check_choice(cause, CAUSES, "cause")
    if grade not in rated.get(cause, ()):
        raise InvalidInput("grade", f"grade {grade} is not rated for a disability caused by {cause} "
                                    f"(rated: {', '.join(map(str, rated.get(cause, ()))) or 'none'}; "
                                    "services/military_support/reference/benefits.json)",
                           code="military.grade_not_rated_for_cause")


# --- beneficiaries ---------------------------------------------------------------------------------

class Beneficiary(AuditedAggregate):
    """A preferential-treatment beneficiary (优抚对象): category (and, for a disabled serviceman,
    grade and cause), the monthly benefits paid, medical insurance and the medical-assistance
    scheme with its claims. Keyed by a pseudonym of the identity number: one person is
    registered once."""

    @staticmethod
    def create_id(person_key: UUID) -> UUID:
        return uuid5(NAMESPACE, f"beneficiary:{person_key}")

    @event("Registered")
    def __init__(self, person_key: UUID, category: str, area: str, id_number: str, name: str,
                 birth_date: str, grade: int | None, cause: str | None, registered_on: str):
        self.category = category
        self.area = area
        self.id_number = id_number
        self.name = name
        self.birth_date = birth_date
        self.grade = grade
        self.cause = cause
        self.registered_on = registered_on
        self.status = ACTIVE
        self.ended_on: str | None = None
        self.payments: dict[str, str] = {}         # month -> amount
        self.insurance: dict | None = None         # scheme, enrolled_on
        self.assistance_joined_on: str | None = None
        self.claims: list[dict] = []

    @property
    def insured_grade(self) -> bool:
        return self.category == DISABLED and self.grade is not None

    def require_active(self) -> None:
        if self.status != ACTIVE:
            raise Conflict("beneficiary_id", f"beneficiary's benefits ended on {self.ended_on}",
                           code="military.beneficiary_ended")

    # --- disability grade --------------------------------------------------------------------------

    def reassess(self, grade, reassessed_on: str, rated: dict[str, tuple[int, ...]]) -> None:
        self.require_active()
        if self.category != DISABLED:
            raise Conflict("beneficiary_id", "only a disabled serviceman's grade is reassessed",
                           code="military.not_disabled")
        check_disability(self.category, grade, self.cause, rated)
        if grade == self.grade:
            raise Conflict("grade", f"the disability grade is already {grade}",
                           code="military.grade_unchanged")
        check_not_before(reassessed_on, self.registered_on, "reassessed_on", "the registration")
        self._reassessed(grade, self.grade, reassessed_on)

    @event("Reassessed")
    def _reassessed(self, grade: int, previous_grade: int, reassessed_on: str) -> None:
        self.grade = grade

    def end(self, ended_on: str, reason: str) -> None:
        self.require_active()
        check_text(reason, "reason", "reason the benefits end")
        check_not_before(ended_on, self.registered_on, "ended_on", "the registration")
        self._ended(ended_on, reason.strip())

    @event("Ended")
    def _ended(self, ended_on: str, reason: str) -> None:
        self.status = ENDED
        self.ended_on = ended_on

    # --- periodic benefits ---------------------------------------------------------------------------

    def pay_month(self, month: str, amount: Decimal, standard_from: str) -> Decimal | None:
        """Pay a month's benefit at the standard given. None (nothing recorded) when the month
        was paid before, is before the registration's month, or the benefits had ended: what
        makes a run, re-run or racing another, pay nobody twice."""
        if (self.status != ACTIVE or month in self.payments or month < self.registered_on[:7]):
            return None
        if amount <= 0:
            raise Conflict("month", f"no positive benefit standard for {self.category} in {month}",
                           code="military.no_standard_for_category")
        self._benefit_paid(month, amount.quantize(FEN), self.category, self.grade, self.cause,
                           standard_from)
        return amount.quantize(FEN)

    @event("BenefitPaid")
    def _benefit_paid(self, month: str, amount: Decimal, category: str, grade: int | None,
                      cause: str | None, standard_from: str) -> None:
        self.payments[month] = str(amount)

    # --- medical coverage ----------------------------------------------------------------------------

    def enroll_insurance(self, scheme: str, enrolled_on: str) -> None:
        self.require_active()
        if self.insurance is not None:
            raise Conflict("beneficiary_id", f"already enrolled in {self.insurance['scheme']} "
                                             f"since {self.insurance['enrolled_on']}",
                           code="military.already_insured")
        self._insurance_enrolled(scheme, enrolled_on)

    @event("InsuranceEnrolled")
    def _insurance_enrolled(self, scheme: str, enrolled_on: str) -> None:
        self.insurance = {"scheme": scheme, "enrolled_on": enrolled_on}

    def join_assistance(self, joined_on: str, eligible_categories, insured_grades: tuple[int, int]) -> None:
        """The medical-assistance scheme is for the other key beneficiaries: not for disabled
        servicemen of the insured grades (their insurance covers them)."""
        self.require_active()
        if self.category not in eligible_categories:
            raise Conflict("beneficiary_id", f"{self.category} is not a key beneficiary of the "
                                             "medical-assistance scheme (reference/medical.json)",
                           code="military.assistance_category_not_eligible")
        low, high = insured_grades
        if self.category == DISABLED and low <= self.grade <= high:
            raise Conflict("beneficiary_id", f"disabled servicemen of grades {low}-{high} are covered "
                                             "by medical insurance, not by the assistance scheme",
                           code="military.assistance_not_for_insured_grades")
        if self.assistance_joined_on is not None:
            raise Conflict("beneficiary_id", f"already in the assistance scheme since "
                                             f"{self.assistance_joined_on}",
                           code="military.already_in_assistance")
        check_not_before(joined_on, self.registered_on, "joined_on", "the registration")
        self._assistance_joined(joined_on)

    @event("AssistanceJoined")
    def _assistance_joined(self, joined_on: str) -> None:
        self.assistance_joined_on = joined_on

    def paid_in_year(self, year: str) -> Decimal:
        return sum((Decimal(c["paid"]) for c in self.claims if c["claimed_on"][:4] == year), ZERO)

    def claim_assistance(self, claimed_on: str, expenses: Decimal, ratio: Decimal,
                         yearly_cap: Decimal) -> Decimal:
        """Reimburse `ratio` of the expenses, up to what is left of the yearly cap."""
        self.require_active()
        if self.assistance_joined_on is None:
            raise Conflict("beneficiary_id", "beneficiary is not in the medical-assistance scheme",
                           code="military.not_in_assistance")
        check_not_before(claimed_on, self.assistance_joined_on, "claimed_on", "joining the scheme")
        if expenses <= 0:
            raise InvalidInput("expenses", "a claim's medical expenses are more than 0",
                               code="military.expenses_not_positive")
        left = yearly_cap - self.paid_in_year(claimed_on[:4])
        if left <= 0:
            raise Conflict("claimed_on", f"the yearly cap of {yearly_cap} yuan is reached for "
                                         f"{claimed_on[:4]}", code="military.assistance_cap_reached")
        paid = min((expenses * ratio).quantize(FEN), left)
        self._claim_paid(claimed_on, expenses, ratio, yearly_cap, paid)
        return paid

    @event("AssistanceClaimPaid")
    def _claim_paid(self, claimed_on: str, expenses: Decimal, ratio: Decimal, yearly_cap: Decimal,
                    paid: Decimal) -> None:
        self.claims.append({"claimed_on": claimed_on, "expenses": str(expenses), "paid": str(paid)})


class BenefitRoll(AuditedAggregate):
    """The district's list of active beneficiaries, for the monthly runs. One aggregate, so a
    registration, an end and a run see one consistent list."""

    ID = uuid5(NAMESPACE, "benefit-roll")

    @staticmethod
    def create_id() -> UUID:
        return BenefitRoll.ID

    @event("Started")
    def __init__(self) -> None:
        self.active: dict[str, str] = {}    # beneficiary id -> area

    @event("BeneficiaryAdded")
    def add(self, beneficiary_id: UUID, area: str) -> None:
        self.active[str(beneficiary_id)] = area

    def remove(self, beneficiary_id: UUID) -> None:
        if str(beneficiary_id) in self.active:
            self._removed(beneficiary_id)

    @event("BeneficiaryRemoved")
    def _removed(self, beneficiary_id: UUID) -> None:
        del self.active[str(beneficiary_id)]


# --- workers without military status -----------------------------------------------------------------

class Worker(AuditedAggregate):
    """A worker without military status (无军籍职工) received from an army unit, placed with a
    local employer, and the benefits paid. Keyed by a pseudonym of the identity number."""

    @staticmethod
    def create_id(person_key: UUID) -> UUID:
        return uuid5(NAMESPACE, f"worker:{person_key}")

    @event("Received")
    def __init__(self, person_key: UUID, area: str, id_number: str, name: str, birth_date: str,
                 from_unit: str, received_on: str):
        self.area = area
        self.id_number = id_number
        self.name = name
        self.birth_date = birth_date
        self.from_unit = from_unit
        self.received_on = received_on
        self.placed: dict | None = None             # employer, placed_on
        self.benefits: dict[str, str] = {}          # "YYYY-MM:kind" -> amount

    def place(self, employer: str, placed_on: str) -> None:
        if self.placed is not None:
            raise Conflict("worker_id", f"worker was placed with {self.placed['employer']} on "
                                        f"{self.placed['placed_on']}", code="military.already_placed")
        check_text(employer, "employer", "employer's name")
        check_not_before(placed_on, self.received_on, "placed_on", "the reception")
        self._placed(employer.strip(), placed_on)

    @event("Placed")
    def _placed(self, employer: str, placed_on: str) -> None:
        self.placed = {"employer": employer, "placed_on": placed_on}

    def pay_benefit(self, month: str, kind: str, amount: Decimal, cap: Decimal,
                    until_placed: bool) -> None:
        if f"{month}:{kind}" in self.benefits:
            raise Conflict("month", f"the {kind} of {month} is already paid",
                           code="military.worker_benefit_already_paid")
        if month < self.received_on[:7]:
            raise InvalidInput("month", f"must not be before the month of the reception "
                                        f"({self.received_on[:7]})", code="military.before_reception")
        if until_placed and self.placed is not None and month > self.placed["placed_on"][:7]:
            raise Conflict("kind", f"{kind} is paid only until the placement "
                                   f"({self.placed['placed_on']})",
                           code="military.allowance_after_placement")
        if not 0 < amount <= cap:
            raise InvalidInput("amount", f"must be more than 0 and at most {cap} yuan (the cap of "
                                         f"{kind} in {month}, reference/workers.json)",
                               code="military.worker_benefit_out_of_range")
        self._benefit_paid(month, kind, amount, cap)

    @event("BenefitPaid")
    def _benefit_paid(self, month: str, kind: str, amount: Decimal, cap: Decimal) -> None:
        self.benefits[f"{month}:{kind}"] = str(amount)


# --- double support (双拥) -------------------------------------------------------------------------

class SupportActivity(AuditedAggregate):
    """An army-support activity (拥军活动) through one of the plan's eight channels."""

    @event("Recorded")
    def __init__(self, channel: str, area: str, title: str, unit: str, held_on: str,
                 participants: int):
        self.channel = channel
        self.area = area
        self.title = title
        self.unit = unit
        self.held_on = held_on
        self.participants = participants


class EducationSession(AuditedAggregate):
    """A national-defence education session (国防教育) at a venue, for an audience."""

    @event("Held")
    def __init__(self, venue: str, audience: str, area: str, topic: str, held_on: str,
                 attendees: int):
        self.venue = venue
        self.audience = audience
        self.area = area
        self.topic = topic
        self.held_on = held_on
        self.attendees = attendees


class CoBuildingPair(AuditedAggregate):
    """A civil-military co-building pair (军民共建): a community, school or enterprise and an
    army unit. One pair per civilian party and unit (keyed by both names)."""

    @staticmethod
    def create_id(civilian: str, unit: str) -> UUID:
        return uuid5(NAMESPACE, f"pair:{civilian.strip()}|{unit.strip()}")

    @event("Formed")
    def __init__(self, area: str, civilian: str, unit: str, formed_on: str):
        self.area = area
        self.civilian = civilian
        self.unit = unit
        self.formed_on = formed_on
        self.dissolved_on: str | None = None

    def dissolve(self, dissolved_on: str, reason: str) -> None:
        if self.dissolved_on is not None:
            raise Conflict("pair_id", f"the pair was dissolved on {self.dissolved_on}",
                           code="military.pair_dissolved")
        check_text(reason, "reason", "reason the pair ends")
        check_not_before(dissolved_on, self.formed_on, "dissolved_on", "the pairing")
        self._dissolved(dissolved_on, reason.strip())

    @event("Dissolved")
    def _dissolved(self, dissolved_on: str, reason: str) -> None:
        self.dissolved_on = dissolved_on


class PairRegistry(AuditedAggregate):
    """The co-building pairs in force, so that the evidence file counts them at submission."""

    ID = uuid5(NAMESPACE, "pair-registry")

    @staticmethod
    def create_id() -> UUID:
        return PairRegistry.ID

    @event("Started")
    def __init__(self) -> None:
        self.active: dict[str, str] = {}    # pair id -> area

    @event("PairAdded")
    def add(self, pair_id: UUID, area: str) -> None:
        self.active[str(pair_id)] = area

    def remove(self, pair_id: UUID) -> None:
        if str(pair_id) in self.active:
            self._removed(pair_id)

    @event("PairRemoved")
    def _removed(self, pair_id: UUID) -> None:
        del self.active[str(pair_id)]


class EvidenceFile(AuditedAggregate):
    """The evidence file of a year's application for the provincial double-support model
    district (省级双拥模范区): every activity and education session of the year is filed as it is
    recorded; the file is submitted once, when it shows what the requirements ask for."""

    @staticmethod
    def create_id(year: int) -> UUID:
        return uuid5(NAMESPACE, f"evidence-file:{year}")

    @event("Opened")
    def __init__(self, year: int, title: str):
        self.year = year
        self.title = title
        self.activities: dict[str, list[str]] = {}   # channel -> activity ids
        self.sessions: dict[str, list[str]] = {}     # venue -> session ids
        self.audiences: dict[str, int] = {}
        self.submitted: dict | None = None

    @property
    def open(self) -> bool:
        return self.submitted is None

    def file_activity(self, activity_id: UUID, channel: str) -> bool:
        """Filed (True) while the file is open; an activity after the submission is not."""
        if not self.open or str(activity_id) in self.activities.get(channel, []):
            return False
        self._activity_filed(activity_id, channel)
        return True

    @event("ActivityFiled")
    def _activity_filed(self, activity_id: UUID, channel: str) -> None:
        self.activities.setdefault(channel, []).append(str(activity_id))

    def file_session(self, session_id: UUID, venue: str, audience: str) -> bool:
        if not self.open or str(session_id) in self.sessions.get(venue, []):
            return False
        self._session_filed(session_id, venue, audience)
        return True

    @event("SessionFiled")
    def _session_filed(self, session_id: UUID, venue: str, audience: str) -> None:
        self.sessions.setdefault(venue, []).append(str(session_id))
        self.audiences[audience] = self.audiences.get(audience, 0) + 1

    def counts(self, pairs: int) -> dict:
        return {"activities_by_channel": {c: len(ids) for c, ids in sorted(self.activities.items())},
                "sessions_by_venue": {v: len(ids) for v, ids in sorted(self.sessions.items())},
                "sessions_by_audience": dict(sorted(self.audiences.items())),
                "activities": sum(len(ids) for ids in self.activities.values()),
                "education_sessions": sum(len(ids) for ids in self.sessions.values()),
                "co_building_pairs": pairs}

    def submit(self, submitted_on: str, channels, pairs: int, requires: dict) -> dict:
        if not self.open:
            raise Conflict("year", f"the evidence file of {self.year} was submitted on "
                                   f"{self.submitted['submitted_on']}",
                           code="military.evidence_already_submitted")
        if submitted_on[:4] != str(self.year) and submitted_on[:4] != str(self.year + 1):
            raise InvalidInput("submitted_on", f"must be in {self.year} or early {self.year + 1}",
                               code="military.evidence_outside_year")
        counts = self.counts(pairs)
        if requires.get("every_channel"):
            missing = [c for c in channels if not self.activities.get(c)]
            if missing:
                raise Conflict("year", "no activity filed through the channel(s): " + ", ".join(missing),
                               code="military.evidence_channel_missing")
        for key in ("education_sessions", "co_building_pairs"):
            if counts[key] < int(requires.get(key, 0)):
                raise Conflict("year", f"the file shows {counts[key]} {key.replace('_', ' ')}; "
                                       f"the application needs at least {requires[key]}",
                               code="military.evidence_incomplete")
        self._submitted(submitted_on, counts)
        return counts

    @event("Submitted")
    def _submitted(self, submitted_on: str, counts: dict) -> None:
        self.submitted = {"submitted_on": submitted_on, "counts": counts}


__all__ = ["Beneficiary", "BenefitRoll", "Worker", "SupportActivity", "EducationSession",
           "CoBuildingPair", "PairRegistry", "EvidenceFile", "normalise_person", "check_disability"]
