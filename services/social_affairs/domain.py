"""Domain layer of social affairs (社会事务): funeral reform (memorial halls, their niches and
occupants, the migration of the Yonghong and Xilin halls into Beigang cemetery, inspections
against the management standard), grave mounds found and resolved, and marriage and divorce
registration.

Plain eventsourcing aggregates; no service framework, no I/O, no clock. A public command method
checks every rule and then calls a private past-tense `@event` method that only changes state,
so a broken rule raises a typed error and records nothing. The rules that change over time (the
legal ages of marriage, the divorce cooling-off period, the management standard, the migration
plan) arrive as value objects built by the application from services/social_affairs/reference/.
Dates are ISO strings 'YYYY-MM-DD' (they compare as dates).

One exception to "nothing is recorded": a marriage application that breaks a legal condition of
marriage is refused, and the refusal is recorded (`MarriageApplication.Refused`, with the rule it
broke), as the officer must document it; `marriage_refusal()` says which rule, and the caller
still gets the typed error.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from shared.audit import AuditedAggregate
from shared.errors import Conflict, DomainError, InvalidInput

NAMESPACE = uuid5(NAMESPACE_URL, "urn:zhonglou-civil-affairs:social_affairs")
HALL_KINDS = ("memorial_hall", "cemetery")
MOUND_KINDS = ("new", "rebuilt")
RESOLUTIONS = ("removed", "moved_to_cemetery")
UNLAWFUL_GROUNDS = ("concealed_marriage", "below_legal_age", "prohibited_kinship", "false_identity",
                    "not_present")
MAN, WOMAN = "M", "F"


def check_not_before(day: str, earliest: str, field: str, what: str) -> None:
    if day < earliest:
        raise InvalidInput(field, f"must not be before {what} ({earliest})", code="affairs.date_too_early")


def add_days(day: str, days: int) -> str:
    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()


# --- rules that change over time, as value objects ------------------------------------------------

@dataclass(frozen=True)
class MigrationPlan:
    """The halls whose occupants all move into `destination`; preparation by `preparation_deadline`,
    the moves from `moves_from` to `moves_until` (hall codes, ISO dates)."""
    sources: tuple[str, ...]
    destination: str
    preparation_deadline: str
    moves_from: str
    moves_until: str


@dataclass(frozen=True)
class Standard:
    """The management standard of memorial halls in force: its version and items (code -> text)."""
    version: str
    effective_from: str
    items: dict


@dataclass(frozen=True)
class LegalAge:
    """The legal age of marriage in force (years, by sex)."""
    men: int
    women: int
    effective_from: str

    def of(self, sex: str) -> int:
        return self.men if sex == MAN else self.women


@dataclass(frozen=True)
class CoolingOff:
    """The divorce cooling-off period for applications filed on a day: registration from `days`
    after the filing, and (when `window_days`) within that many days after it ended, else the
    application lapses (is deemed withdrawn). `days` 0: registration the day of filing."""
    days: int
    window_days: int | None
    effective_from: str

    def register_from(self, filed_on: str) -> str:
        return add_days(filed_on, self.days)

    def register_by(self, filed_on: str) -> str | None:
        if self.window_days is None:
            return None
        return add_days(self.register_from(filed_on), self.window_days)


# --- memorial halls -----------------------------------------------------------------------------------

class Hall(AuditedAggregate):
    """A memorial hall (骨灰纪念堂) or cemetery with numbered niches; a niche holds one urn.
    Keyed by its code (reference data names halls by code, e.g. the migration plan)."""

    @staticmethod
    def create_id(code: str) -> UUID:
        return uuid5(NAMESPACE, f"hall:{code}")

    @event("Registered")
    def __init__(self, code: str, name: str, area: str, kind: str, niches: int, registered_on: str):
        self.code = code
        self.name = name
        self.area = area
        self.kind = kind
        self.niches = niches
        self.registered_on = registered_on
        self.occupied: dict[str, str] = {}        # niche number (as text) -> occupant id
        self.migrated_out = 0
        self.migrated_in = 0
        self.preparation: dict | None = None
        self.inspections: list[dict] = []
        self.open_findings: dict[str, dict] = {}  # item -> {inspected_on, note}

    @staticmethod
    def register(code: str, name: str, area: str, kind: str, niches: int, registered_on: str) -> "Hall":
        if kind not in HALL_KINDS:
            raise InvalidInput("kind", f"must be one of: {', '.join(HALL_KINDS)}", code="affairs.unknown_hall_kind")
        if isinstance(niches, bool) or not isinstance(niches, int) or niches < 1:
            raise InvalidInput("niches", "must be a whole number of at least 1", code="affairs.niches_below_one")
        return Hall(code=code, name=name, area=area, kind=kind, niches=niches, registered_on=registered_on)

    @property
    def free_niches(self) -> int:
        return self.niches - len(self.occupied)

    @property
    def to_standard(self) -> bool | None:
        """None until inspected; then whether no finding is open."""
        return None if not self.inspections else not self.open_findings

    # --- niches --------------------------------------------------------------------------------------

    def choose_niche(self, niche: int | None = None) -> int:
        """The niche an urn gets: the one asked for if free, else the lowest free one."""
        if self.free_niches <= 0:
            raise Conflict("hall_id", f"hall is full: all {self.niches} niches hold an urn",
                           code="affairs.hall_full")
        if niche is None:
            return next(n for n in range(1, self.niches + 1) if str(n) not in self.occupied)
        if isinstance(niche, bool) or not isinstance(niche, int) or not 1 <= niche <= self.niches:
            raise InvalidInput("niche", f"must be a niche number from 1 to {self.niches}",
                               code="affairs.niche_out_of_range")
        if str(niche) in self.occupied:
            raise Conflict("niche", "niche already holds an urn (one urn per niche)",
                           code="affairs.niche_occupied")
        return niche

    def receive(self, occupant_id: UUID, niche: int, received_on: str, from_hall: UUID | None,
                migration: bool) -> None:
        if self.choose_niche(niche) != niche:   # pragma: no cover - choose_niche raised already
            raise Conflict("niche", "niche already holds an urn", code="affairs.niche_occupied")
        check_not_before(received_on, self.registered_on, "placed_on" if from_hall is None else "moved_on",
                         "the hall's registration")
        self._urn_received(occupant_id, niche, received_on, from_hall, migration)

    @event("UrnReceived")
    def _urn_received(self, occupant_id: UUID, niche: int, received_on: str, from_hall: UUID | None,
                      migration: bool) -> None:
        self.occupied[str(niche)] = str(occupant_id)
        if migration:
            self.migrated_in += 1

    def release(self, occupant_id: UUID, released_on: str, to_hall: UUID, migration: bool) -> None:
        niches = [int(n) for n, o in self.occupied.items() if o == str(occupant_id)]
        if not niches:
            raise Conflict("occupant_id", "the urn is not in this hall", code="affairs.urn_not_in_hall")
        self._urn_released(occupant_id, niches[0], released_on, to_hall, migration)

    @event("UrnReleased")
    def _urn_released(self, occupant_id: UUID, niche: int, released_on: str, to_hall: UUID,
                      migration: bool) -> None:
        del self.occupied[str(niche)]
        if migration:
            self.migrated_out += 1

    # --- the migration plan -------------------------------------------------------------------------

    def complete_preparation(self, completed_on: str, officer: str, plan: MigrationPlan) -> None:
        if self.code not in plan.sources:
            raise Conflict("hall_id", "hall is not one the migration plan moves "
                                      f"({', '.join(plan.sources)})", code="affairs.not_in_migration_plan")
        if self.preparation is not None:
            raise Conflict("hall_id", f"preparation was completed on {self.preparation['completed_on']}",
                           code="affairs.preparation_already_completed")
        check_not_before(completed_on, self.registered_on, "completed_on", "the hall's registration")
        self._preparation_completed(completed_on, officer, plan.preparation_deadline,
                                    completed_on <= plan.preparation_deadline)

    @event("PreparationCompleted")
    def _preparation_completed(self, completed_on: str, officer: str, deadline: str, on_time: bool) -> None:
        self.preparation = {"completed_on": completed_on, "officer": officer, "deadline": deadline,
                            "on_time": on_time}

    # --- inspections against the management standard ------------------------------------------------

    def inspect(self, inspected_on: str, officer: str, findings: list[dict], standard: Standard) -> None:
        """Every item of the standard in force assessed once: met, or not met with a note."""
        seen: set[str] = set()
        for index, finding in enumerate(findings):
            item = finding["item"]
            if item not in standard.items:
                raise InvalidInput(f"findings[{index}].item", "is not an item of the management standard "
                                   f"{standard.version}: {', '.join(standard.items)}",
                                   code="affairs.unknown_standard_item")
            if item in seen:
                raise InvalidInput(f"findings[{index}].item", "is assessed twice",
                                   code="affairs.standard_item_repeated")
            seen.add(item)
            if not finding["met"] and not finding.get("note"):
                raise InvalidInput(f"findings[{index}].note", "an item not met needs a note of what is wrong",
                                   code="affairs.finding_needs_note")
        missing = [item for item in standard.items if item not in seen]
        if missing:
            raise InvalidInput("findings", f"must assess every item of the standard; missing: {', '.join(missing)}",
                               code="affairs.standard_item_missing")
        check_not_before(inspected_on, self.registered_on, "inspected_on", "the hall's registration")
        if self.inspections and inspected_on < self.inspections[-1]["inspected_on"]:
            raise InvalidInput("inspected_on", "must not be before the last inspection "
                               f"({self.inspections[-1]['inspected_on']})", code="affairs.date_too_early")
        rows = [{"item": f["item"], "met": f["met"], "note": f.get("note") or ""} for f in findings]
        self._inspected(inspected_on, officer, standard.version, rows, all(f["met"] for f in rows))

    @event("Inspected")
    def _inspected(self, inspected_on: str, officer: str, standard_version: str, findings: list[dict],
                   passed: bool) -> None:
        self.inspections.append({"inspected_on": inspected_on, "officer": officer,
                                 "standard_version": standard_version, "passed": passed,
                                 "findings": [dict(f) for f in findings]})
        self.open_findings = {f["item"]: {"inspected_on": inspected_on, "note": f["note"]}
                              for f in findings if not f["met"]}

    def correct(self, item: str, corrected_on: str, officer: str, note: str) -> None:
        finding = self.open_findings.get(item)
        if finding is None:
            raise Conflict("item", "no open finding of this item (the last inspection found it met, "
                                   "or it was corrected)", code="affairs.no_open_finding")
        check_not_before(corrected_on, finding["inspected_on"], "corrected_on", "the inspection")
        self._finding_corrected(item, finding["inspected_on"], corrected_on, officer, note)

    @event("FindingCorrected")
    def _finding_corrected(self, item: str, inspected_on: str, corrected_on: str, officer: str,
                           note: str) -> None:
        del self.open_findings[item]


class Occupant(AuditedAggregate):
    """The urn of one deceased person, keyed by a pseudonym of the identity number (one urn per
    person), with every hall and niche it has been in. `area` is where it was first placed and
    never changes; the current hall is `hall_id`."""

    @staticmethod
    def create_id(person_key: UUID) -> UUID:
        return uuid5(NAMESPACE, f"occupant:{person_key}")

    @event("Placed")
    def __init__(self, person_key: UUID, hall_id: UUID, area: str, niche: int, id_number: str,
                 name: str, died_on: str, placed_on: str, officer: str):
        self.hall_id = hall_id
        self.area = area
        self.niche = niche
        self.id_number = id_number
        self.name = name
        self.died_on = died_on
        self.placed_on = placed_on
        self.history: list[dict] = [{"hall_id": str(hall_id), "niche": niche, "from": placed_on,
                                     "until": None, "migration": False}]

    @staticmethod
    def check_dates(born: str, died_on: str, placed_on: str) -> None:
        check_not_before(died_on, born, "died_on", "the birth date in the identity number")
        check_not_before(placed_on, died_on, "placed_on", "the day of death")

    def check_move(self, to_hall: Hall, moved_on: str) -> None:
        if to_hall.id == self.hall_id:
            raise Conflict("to_hall_id", "the urn is already in this hall", code="affairs.same_hall")
        check_not_before(moved_on, self.history[-1]["from"], "moved_on", "the urn's last placement")

    def move(self, to_hall: Hall, niche: int, moved_on: str, officer: str, migration: bool) -> None:
        self.check_move(to_hall, moved_on)
        self._moved(self.hall_id, self.niche, to_hall.id, niche, moved_on, officer, migration)

    @event("Moved")
    def _moved(self, from_hall_id: UUID, from_niche: int, to_hall_id: UUID, to_niche: int, moved_on: str,
               officer: str, migration: bool) -> None:
        self.history[-1]["until"] = moved_on
        self.history.append({"hall_id": str(to_hall_id), "niche": to_niche, "from": moved_on,
                             "until": None, "migration": migration})
        self.hall_id = to_hall_id
        self.niche = to_niche


def is_migration(from_hall: Hall, to_hall: Hall, plan: MigrationPlan) -> bool:
    return from_hall.code in plan.sources and to_hall.code == plan.destination


def check_migration_move(from_hall: Hall, moved_on: str, plan: MigrationPlan) -> None:
    """A move of the plan (a source hall into the destination): after the source hall's
    preparation was completed, within the plan's period of moves."""
    if from_hall.preparation is None:
        raise Conflict("occupant_id", f"the {from_hall.name} hall has not completed its preparation "
                                      "for the migration", code="affairs.migration_not_prepared")
    if not plan.moves_from <= moved_on <= plan.moves_until:
        raise InvalidInput("moved_on", f"migration moves are made from {plan.moves_from} to {plan.moves_until}",
                           code="affairs.outside_migration_period")


# --- grave mounds -------------------------------------------------------------------------------------

class MoundInspection(AuditedAggregate):
    """One inspection of an area for grave mounds (坟头): the places where new or rebuilt mounds
    were found (each becomes a `Mound` violation to resolve). A clean inspection finds none."""

    @event("Recorded")
    def __init__(self, area: str, inspected_on: str, officer: str, mounds: list[dict]):
        self.area = area
        self.inspected_on = inspected_on
        self.officer = officer
        self.mounds = [dict(m) for m in mounds]      # {place, kind, rebuilt_of}: Mound `index` of each


class Mound(AuditedAggregate):
    """A grave mound found in violation (new, or rebuilt where one was resolved before), until it
    is resolved: removed, or the remains moved into a cemetery."""

    @staticmethod
    def create_id(inspection_id: UUID, index: int) -> UUID:
        return uuid5(NAMESPACE, f"mound:{inspection_id}:{index}")

    @event("Found")
    def __init__(self, inspection_id: UUID, index: int, area: str, place: str, kind: str, found_on: str,
                 officer: str, rebuilt_of: UUID | None):
        self.inspection_id = inspection_id
        self.area = area
        self.place = place
        self.kind = kind
        self.found_on = found_on
        self.rebuilt_of = rebuilt_of
        self.resolution: dict | None = None

    @staticmethod
    def check_finding(index: int, kind: str, area: str, earlier: "Mound | None",
                      rebuilt_of_given: bool) -> None:
        field = f"findings[{index}]"
        if kind not in MOUND_KINDS:
            raise InvalidInput(f"{field}.kind", f"must be one of: {', '.join(MOUND_KINDS)}",
                               code="affairs.unknown_mound_kind")
        if kind == "new" and rebuilt_of_given:
            raise InvalidInput(f"{field}.rebuilt_of", "a new mound names no earlier mound",
                               code="affairs.new_mound_names_earlier")
        if kind == "rebuilt":
            if earlier is None:
                raise InvalidInput(f"{field}.rebuilt_of", "a rebuilt mound names the earlier mound "
                                   "resolved at that place", code="affairs.rebuilt_needs_earlier")
            if earlier.area != area:
                raise InvalidInput(f"{field}.rebuilt_of", "the earlier mound is in another area",
                                   code="affairs.rebuilt_of_other_area")
            if earlier.resolution is None:
                raise Conflict(f"{field}.rebuilt_of", "the earlier mound is not resolved yet: it is "
                               "still there, not rebuilt", code="affairs.rebuilt_of_unresolved")

    def resolve(self, resolution: str, resolved_on: str, officer: str, cemetery: str) -> None:
        if self.resolution is not None:
            raise Conflict("mound_id", f"mound was resolved on {self.resolution['resolved_on']}",
                           code="affairs.mound_already_resolved")
        if resolution not in RESOLUTIONS:
            raise InvalidInput("resolution", f"must be one of: {', '.join(RESOLUTIONS)}",
                               code="affairs.unknown_resolution")
        if resolution == "moved_to_cemetery" and not cemetery:
            raise InvalidInput("cemetery", "remains moved into a cemetery name the cemetery",
                               code="affairs.cemetery_required")
        if resolution == "removed" and cemetery:
            raise InvalidInput("cemetery", "a removed mound names no cemetery",
                               code="affairs.cemetery_not_applicable")
        check_not_before(resolved_on, self.found_on, "resolved_on", "the day it was found")
        self._resolved(resolution, resolved_on, officer, cemetery)

    @event("Resolved")
    def _resolved(self, resolution: str, resolved_on: str, officer: str, cemetery: str) -> None:
        self.resolution = {"resolution": resolution, "resolved_on": resolved_on, "officer": officer,
                           "cemetery": cemetery}


# --- marriage registration -------------------------------------------------------------------------------

def sex_of(id_number: str) -> str:
    """GB 11643-1999: the sequence code's last digit is odd for men, even for women."""
    return MAN if int(id_number[16]) % 2 else WOMAN


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def marriage_refusal(parties: list[dict], kin_declared: bool, already_married: list[bool],
                     legal_age: LegalAge) -> DomainError | None:
    """The first legal condition of marriage the application breaks, as the typed error to
    raise (None: it meets them all). `parties`: [{sex, age, present, declared_unmarried}] in
    the order given; `already_married`: the registry's own record of each."""
    for index, party in enumerate(parties):
        if not party["present"]:
            return InvalidInput(f"parties[{index}].present", "both parties register in person",
                                code="affairs.party_not_present")
    if {p["sex"] for p in parties} != {MAN, WOMAN}:
        return InvalidInput("parties", "a marriage is registered by a man and a woman",
                            code="affairs.parties_not_man_and_woman")
    for index, party in enumerate(parties):
        minimum = legal_age.of(party["sex"])
        if party["age"] < minimum:
            return InvalidInput(f"parties[{index}].id_number",
                                f"is {party['age']} years old on the day: the legal age is {minimum} for "
                                f"{'men' if party['sex'] == MAN else 'women'} (in force from {legal_age.effective_from})",
                                code="affairs.below_legal_age")
    for index, married in enumerate(already_married):
        if married:
            return Conflict(f"parties[{index}].id_number", "is married according to this registry's records",
                            code="affairs.already_married")
    for index, party in enumerate(parties):
        if not party["declared_unmarried"]:
            return InvalidInput(f"parties[{index}].declared_unmarried",
                                "each party declares having no spouse (marriages registered elsewhere)",
                                code="affairs.unmarried_not_declared")
    if not kin_declared:
        return InvalidInput("declared_not_prohibited_kin", "the parties declare they are neither lineal "
                            "relatives nor collateral relatives within three generations",
                            code="affairs.prohibited_kinship_not_declared")
    return None


class MaritalStatus(AuditedAggregate):
    """Whether this registry records a person as married, keyed by a pseudonym of the identity
    number: a person is in at most one current marriage."""

    @staticmethod
    def create_id(person_key: UUID) -> UUID:
        return uuid5(NAMESPACE, f"marital-status:{person_key}")

    @event("Created")
    def __init__(self, person_key: UUID):
        self.marriage_id: UUID | None = None

    @property
    def married(self) -> bool:
        return self.marriage_id is not None

    def marry(self, marriage_id: UUID) -> None:
        if self.married:
            raise Conflict("id_number", "is married according to this registry's records",
                           code="affairs.already_married")
        self._married(marriage_id)

    @event("Married")
    def _married(self, marriage_id: UUID) -> None:
        self.marriage_id = marriage_id

    def end(self, marriage_id: UUID, reason: str) -> None:
        if self.marriage_id == marriage_id:
            self._ended(marriage_id, reason)

    @event("Ended")
    def _ended(self, marriage_id: UUID, reason: str) -> None:
        self.marriage_id = None


class MarriageApplication(AuditedAggregate):
    """A marriage application the officer refused, with the rule it broke."""

    @event("Refused")
    def __init__(self, area: str, parties: list[dict], applied_on: str, officer: str, rule: str,
                 field: str, reason: str):
        self.area = area
        self.parties = [dict(p) for p in parties]
        self.applied_on = applied_on
        self.rule = rule
        self.field = field
        self.reason = reason


class Marriage(AuditedAggregate):
    """A registered marriage: later found unlawful (void), or dissolved by a divorce by agreement
    registered after the cooling-off period in force when it was filed."""

    @event("Registered")
    def __init__(self, area: str, parties: list[dict], registered_on: str, officer: str,
                 legal_age: dict):
        self.area = area
        self.parties = [dict(p) for p in parties]   # {person_key, id_number, name, sex, age}
        self.registered_on = registered_on
        self.unlawful: dict | None = None
        self.divorce: dict | None = None           # the application filed, then registered
        self.dissolved_on: str | None = None

    @property
    def status(self) -> str:
        if self.unlawful is not None:
            return "void"
        return "dissolved" if self.dissolved_on else "married"

    def person_keys(self) -> list[UUID]:
        return [UUID(str(p["person_key"])) for p in self.parties]

    def find_unlawful(self, ground: str, found_on: str, officer: str, note: str) -> None:
        if self.unlawful is not None:
            raise Conflict("marriage_id", f"the marriage was found unlawful on {self.unlawful['found_on']}",
                           code="affairs.already_found_unlawful")
        if ground not in UNLAWFUL_GROUNDS:
            raise InvalidInput("ground", f"must be one of: {', '.join(UNLAWFUL_GROUNDS)}",
                               code="affairs.unknown_unlawful_ground")
        check_not_before(found_on, self.registered_on, "found_on", "the registration")
        self._found_unlawful(ground, found_on, officer, note)

    @event("FoundUnlawful")
    def _found_unlawful(self, ground: str, found_on: str, officer: str, note: str) -> None:
        self.unlawful = {"ground": ground, "found_on": found_on, "note": note}

    # --- divorce by agreement ----------------------------------------------------------------------------

    def _require_current(self) -> None:
        if self.unlawful is not None:
            raise Conflict("marriage_id", "the marriage was found unlawful (void): there is nothing to dissolve",
                           code="affairs.marriage_void")
        if self.dissolved_on is not None:
            raise Conflict("marriage_id", f"the marriage was dissolved on {self.dissolved_on}",
                           code="affairs.marriage_dissolved")

    def pending_divorce(self, day: str) -> dict | None:
        """The divorce application still open on `day` (not withdrawn, not lapsed)."""
        divorce = self.divorce
        if divorce is None or divorce.get("withdrawn_on") or divorce.get("registered_on"):
            return None
        if divorce["register_by"] is not None and day > divorce["register_by"]:
            return None
        return divorce

    def file_divorce(self, filed_on: str, both_present: bool, agreement: bool, officer: str,
                     cooling_off: CoolingOff) -> None:
        self._require_current()
        if self.pending_divorce(filed_on) is not None:
            raise Conflict("marriage_id", f"a divorce application filed on {self.divorce['filed_on']} is pending",
                           code="affairs.divorce_already_pending")
        if not both_present:
            raise InvalidInput("both_present", "both parties apply for a divorce in person",
                               code="affairs.party_not_present")
        if not agreement:
            raise InvalidInput("agreement", "a divorce by registration needs the parties' written agreement "
                               "(on the children, property and debts); otherwise it goes to court",
                               code="affairs.no_divorce_agreement")
        check_not_before(filed_on, self.registered_on, "filed_on", "the marriage's registration")
        self._divorce_filed(filed_on, officer, cooling_off.days, cooling_off.effective_from,
                            cooling_off.register_from(filed_on), cooling_off.register_by(filed_on))

    @event("DivorceFiled")
    def _divorce_filed(self, filed_on: str, officer: str, cooling_off_days: int, rule_effective_from: str,
                       register_from: str, register_by: str | None) -> None:
        self.divorce = {"filed_on": filed_on, "cooling_off_days": cooling_off_days,
                        "register_from": register_from, "register_by": register_by,
                        "withdrawn_on": None, "registered_on": None}

    def _require_pending(self, day: str, field: str) -> dict:
        self._require_current()
        divorce = self.pending_divorce(day)
        if divorce is None:
            if self.divorce and self.divorce.get("withdrawn_on"):
                raise Conflict("marriage_id", f"the divorce application was withdrawn on {self.divorce['withdrawn_on']}",
                               code="affairs.divorce_withdrawn")
            if self.divorce:
                raise Conflict("marriage_id", "the divorce application lapsed: no registration by "
                               f"{self.divorce['register_by']} (deemed withdrawn)", code="affairs.divorce_lapsed")
            raise Conflict("marriage_id", "no divorce application is pending", code="affairs.no_divorce_pending")
        check_not_before(day, divorce["filed_on"], field, "the divorce application")
        return divorce

    def withdraw_divorce(self, withdrawn_on: str, officer: str) -> None:
        divorce = self._require_pending(withdrawn_on, "withdrawn_on")
        if withdrawn_on >= divorce["register_from"]:
            raise Conflict("withdrawn_on", "an application is withdrawn within its cooling-off period "
                           f"(until {divorce['register_from']}); after it, not registering lets it lapse",
                           code="affairs.cooling_off_over")
        self._divorce_withdrawn(withdrawn_on, officer)

    @event("DivorceWithdrawn")
    def _divorce_withdrawn(self, withdrawn_on: str, officer: str) -> None:
        self.divorce["withdrawn_on"] = withdrawn_on

    def register_divorce(self, registered_on: str, officer: str, both_present: bool) -> None:
        divorce = self._require_pending(registered_on, "registered_on")
        if registered_on < divorce["register_from"]:
            raise Conflict("registered_on", f"the cooling-off period of {divorce['cooling_off_days']} days "
                           f"runs until {divorce['register_from']}", code="affairs.cooling_off_not_over")
        if not both_present:
            raise InvalidInput("both_present", "both parties register the divorce in person",
                               code="affairs.party_not_present")
        self._dissolved(registered_on, officer, divorce["filed_on"], divorce["cooling_off_days"])

    @event("Dissolved")
    def _dissolved(self, registered_on: str, officer: str, filed_on: str, cooling_off_days: int) -> None:
        self.divorce["registered_on"] = registered_on
        self.dissolved_on = registered_on


__all__ = ["Hall", "Occupant", "MoundInspection", "Mound", "MaritalStatus", "MarriageApplication",
           "Marriage", "MigrationPlan", "Standard", "LegalAge", "CoolingOff", "marriage_refusal",
           "sex_of", "age_on", "is_migration", "check_migration_move"]
