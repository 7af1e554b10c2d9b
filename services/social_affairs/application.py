"""Application layer of social affairs: commands and queries in primitives.

Takes strings, ints, booleans, lists and dicts; returns dicts of primitives. Looks up reference
data (areas in data/areas.json, the rules in services/social_affairs/reference/), loads aggregates,
calls the domain, saves every changed aggregate in one atomic write. The clock is injected
(`today`), never read by the domain. It never talks to the message bus: the outbox relay
publishes what this layer stores.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from uuid import UUID

from services.social_affairs.domain import (
    Hall, Marriage, MarriageApplication, MaritalStatus, Mound, MoundInspection, Occupant, age_on,
    check_migration_move, is_migration, marriage_refusal, sex_of)
from services.social_affairs.rules import AffairsRules
from shared import identity
from shared import checks
from shared.commands import OFFICER_NAME, PERSON_NAME, REASON, Text
from shared.errors import Conflict, DomainError, InvalidInput
from shared.eventstore import PlatformApplication, retry_on_conflict
from shared.referencedata import ReferenceData

HALL_CODE = Text(40, 1, pattern=r"[a-z][a-z0-9_]*")
HALL_NAME = Text(100, 1)
PLACE = Text(200, 1)
NOTE = Text(500, multiline=True)


class SocialAffairs(PlatformApplication):
    name = "social_affairs"
    snapshotting_intervals = {Hall: 50, Marriage: 20}

    def __init__(self, env=None, *, reference: ReferenceData | None = None,
                 rules: AffairsRules | None = None, today: Callable[[], date] = date.today):
        super().__init__(env)
        self.reference = reference or ReferenceData.load()
        self.rules = rules or AffairsRules.load()
        self.today = today

    # --- memorial halls ------------------------------------------------------------------------------

    @retry_on_conflict
    def register_hall(self, code: str, name: str, area: str, kind: str, niches: int,
                      registered_on: str) -> str:
        code = HALL_CODE.check("code", code)
        self.reference.check_area(area)
        if self._exists(Hall.create_id(code)):
            raise Conflict("code", "a hall with this code is registered", code="affairs.hall_code_taken")
        hall = Hall.register(code, HALL_NAME.check("name", name), area, kind, niches,
                             self._day(registered_on, "registered_on"))
        self.save(hall)
        return str(hall.id)

    def get_hall(self, hall_id: str) -> dict:
        return self._hall_view(self._get(Hall, hall_id, "hall_id"))

    def migration_progress(self) -> list[dict]:
        """Each hall of the migration plan: preparation, urns still there, urns moved."""
        plan = self.rules.migration
        rows = []
        for code in (*plan.sources, plan.destination):
            hall = self._find(Hall.create_id(code))
            moved = hall.migrated_out if hall else 0
            left = len(hall.occupied) if hall else 0
            source = code in plan.sources
            rows.append({"code": code, "role": "source" if source else "destination",
                         "hall_id": str(hall.id) if hall else None, "registered": hall is not None,
                         "name": hall.name if hall else None, "area": hall.area if hall else None,
                         "preparation": dict(hall.preparation) if hall and hall.preparation else None,
                         "urns": left, "moved_out": moved, "moved_in": hall.migrated_in if hall else 0,
                         "progress": (moved / (moved + left) if source and moved + left
                                      else (1.0 if source and hall else None))})
        return rows

    @retry_on_conflict
    def place_urn(self, hall_id: str, id_number: str, name: str, died_on: str, placed_on: str,
                  officer: str, niche: int | None = None) -> str:
        """An urn placed in a niche of a hall (the lowest free one unless `niche` is named)."""
        number = identity.validate(id_number, "id_number")
        died = self._day(died_on, "died_on")
        placed = self._day(placed_on, "placed_on")
        Occupant.check_dates(identity.birth_date(number).isoformat(), died, placed)
        hall = self._get(Hall, hall_id, "hall_id")
        key = self._person_key(number)
        if self._exists(Occupant.create_id(key)):
            raise Conflict("id_number", "this person's urn is already placed (one urn per person)",
                           code="affairs.urn_already_placed")
        chosen = hall.choose_niche(niche)
        occupant = Occupant(person_key=key, hall_id=hall.id, area=hall.area, niche=chosen,
                            id_number=number, name=PERSON_NAME.check("name", name), died_on=died,
                            placed_on=placed, officer=OFFICER_NAME.check("officer", officer))
        hall.receive(occupant.id, chosen, placed, None, False)
        self.save(occupant, hall)
        return str(occupant.id)

    @retry_on_conflict
    def move_urn(self, occupant_id: str, to_hall_id: str, moved_on: str, officer: str,
                 niche: int | None = None) -> dict:
        """An urn moved to another hall, its history kept. A move of the migration plan (from a
        source hall into the destination) needs the source's preparation and the plan's period."""
        occupant = self._get(Occupant, occupant_id, "occupant_id")
        target = self._get(Hall, to_hall_id, "to_hall_id")
        day = self._day(moved_on, "moved_on")
        officer = OFFICER_NAME.check("officer", officer)
        source = self.repository.get(occupant.hall_id)
        migration = is_migration(source, target, self.rules.migration)
        if migration:
            check_migration_move(source, day, self.rules.migration)
        occupant.check_move(target, day)
        chosen = target.choose_niche(niche)
        occupant.move(target, chosen, day, officer, migration)
        source.release(occupant.id, day, target.id, migration)
        target.receive(occupant.id, chosen, day, source.id, migration)
        self.save(occupant, source, target)
        return self._occupant_view(occupant, identity.mask)

    def get_occupant(self, occupant_id: str, reveal_identity: bool = False) -> dict:
        return self._occupant_view(self._get(Occupant, occupant_id, "occupant_id"), self._shown(reveal_identity))

    @retry_on_conflict
    def complete_preparation(self, hall_id: str, completed_on: str, officer: str) -> dict:
        hall = self._get(Hall, hall_id, "hall_id")
        hall.complete_preparation(self._day(completed_on, "completed_on"),
                                  OFFICER_NAME.check("officer", officer), self.rules.migration)
        self.save(hall)
        return self._hall_view(hall)

    @retry_on_conflict
    def inspect_hall(self, hall_id: str, inspected_on: str, officer: str, findings: list) -> dict:
        """An inspection against the management standard in force: [{item, met, note}]."""
        hall = self._get(Hall, hall_id, "hall_id")
        day = self._day(inspected_on, "inspected_on")
        if not isinstance(findings, list):
            raise InvalidInput("findings", "must be a list of {item, met, note}", code="input.not_a_list")
        rows = []
        for index, finding in enumerate(findings):
            if not isinstance(finding, dict) or not isinstance(finding.get("met"), bool):
                raise InvalidInput(f"findings[{index}]", "must be {item, met (true/false), note}",
                                   code="input.not_an_object")
            rows.append({"item": finding.get("item"), "met": finding["met"],
                         "note": NOTE.check(f"findings[{index}].note", finding.get("note") or "")})
        hall.inspect(day, OFFICER_NAME.check("officer", officer), rows, self.rules.standard_on(day))
        self.save(hall)
        return self._hall_view(hall)

    @retry_on_conflict
    def correct_finding(self, hall_id: str, item: str, corrected_on: str, officer: str, note: str) -> dict:
        hall = self._get(Hall, hall_id, "hall_id")
        hall.correct(item, self._day(corrected_on, "corrected_on"), OFFICER_NAME.check("officer", officer),
                     REASON.check("note", note))
        self.save(hall)
        return self._hall_view(hall)

    # --- grave mounds ------------------------------------------------------------------------------------

    @retry_on_conflict
    def inspect_mounds(self, area: str, inspected_on: str, officer: str, findings: list) -> dict:
        """An inspection of an area: [{place, kind ('new'|'rebuilt'), rebuilt_of (the earlier
        mound's id, for a rebuilt one)}]; each becomes a mound to resolve. [] is a clean inspection."""
        self.reference.check_area(area)
        day = self._day(inspected_on, "inspected_on")
        officer = OFFICER_NAME.check("officer", officer)
        if not isinstance(findings, list):
            raise InvalidInput("findings", "must be a list of {place, kind, rebuilt_of}", code="input.not_a_list")
        places: set[str] = set()
        checked = []
        for index, finding in enumerate(findings):
            if not isinstance(finding, dict):
                raise InvalidInput(f"findings[{index}]", "must be {place, kind, rebuilt_of}",
                                   code="input.not_an_object")
            place = PLACE.check(f"findings[{index}].place", finding.get("place"))
            if place in places:
                raise InvalidInput(f"findings[{index}].place", "is listed twice in this inspection",
                                   code="affairs.place_repeated")
            places.add(place)
            given = finding.get("rebuilt_of")
            earlier = self._get(Mound, given, f"findings[{index}].rebuilt_of") if given else None
            Mound.check_finding(index, finding.get("kind"), area, earlier, bool(given))
            if earlier is not None:
                check_date = earlier.resolution["resolved_on"]
                if day < check_date:
                    raise InvalidInput("inspected_on", f"must not be before the earlier mound was resolved "
                                       f"({check_date})", code="affairs.date_too_early")
            checked.append((place, finding["kind"], earlier.id if earlier else None))
        inspection = MoundInspection(area=area, inspected_on=day, officer=officer,
                                     mounds=[{"place": place, "kind": kind,
                                              "rebuilt_of": str(rebuilt_of) if rebuilt_of else None}
                                             for place, kind, rebuilt_of in checked])
        mounds = [Mound(inspection_id=inspection.id, index=index, area=area, place=place, kind=kind,
                        found_on=day, officer=officer, rebuilt_of=rebuilt_of)
                  for index, (place, kind, rebuilt_of) in enumerate(checked)]
        self.save(inspection, *mounds)
        return {"inspection_id": str(inspection.id), "area": area, "inspected_on": day,
                "mounds": [str(m.id) for m in mounds]}

    @retry_on_conflict
    def resolve_mound(self, mound_id: str, resolution: str, resolved_on: str, officer: str,
                      cemetery: str = "") -> dict:
        mound = self._get(Mound, mound_id, "mound_id")
        if not isinstance(cemetery, str):
            raise InvalidInput("cemetery", "must be the cemetery's name as text", code="input.not_text")
        mound.resolve(resolution, self._day(resolved_on, "resolved_on"), OFFICER_NAME.check("officer", officer),
                      cemetery.strip())
        self.save(mound)
        return self._mound_view(mound)

    def get_mound(self, mound_id: str) -> dict:
        return self._mound_view(self._get(Mound, mound_id, "mound_id"))

    # --- marriage registration ------------------------------------------------------------------------------

    def register_marriage(self, area: str, parties: list, declared_not_prohibited_kin: bool,
                          registered_on: str, officer: str) -> str:
        """A marriage registered when both parties meet every legal condition. Bad input (shape,
        identity numbers, area, dates) is refused with nothing stored; an application breaking
        a legal condition is refused too, and its refusal is recorded with the rule it broke."""
        checked = self._check_application(area, parties, declared_not_prohibited_kin, registered_on, officer)
        try:
            return self._register_marriage(*checked)
        except DomainError as refusal:
            if refusal.code not in REFUSAL_CODES:
                raise
            self._record_refusal(checked, refusal)
            raise

    def _check_application(self, area, parties, kin_declared, registered_on, officer) -> tuple:
        self.reference.check_area(area)
        if not isinstance(parties, list) or len(parties) != 2:
            raise InvalidInput("parties", "must list the two parties", code="affairs.two_parties")
        day = self._day(registered_on, "registered_on")
        people = []
        for index, party in enumerate(parties):
            field = f"parties[{index}]"
            if not isinstance(party, dict):
                raise InvalidInput(field, "must be {id_number, name, present, declared_unmarried}",
                                   code="input.not_an_object")
            number = identity.validate(party.get("id_number"), f"{field}.id_number")
            for flag in ("present", "declared_unmarried"):
                if not isinstance(party.get(flag), bool):
                    raise InvalidInput(f"{field}.{flag}", "must be true or false", code="input.not_a_boolean")
            people.append({"id_number": number, "name": PERSON_NAME.check(f"{field}.name", party.get("name")),
                           "sex": sex_of(number),
                           "age": age_on(identity.birth_date(number), date.fromisoformat(day)),
                           "present": party["present"], "declared_unmarried": party["declared_unmarried"],
                           "person_key": self._person_key(number)})
        if people[0]["person_key"] == people[1]["person_key"]:
            raise InvalidInput("parties[1].id_number", "is the same person as the first party",
                               code="affairs.same_person")
        if not isinstance(kin_declared, bool):
            raise InvalidInput("declared_not_prohibited_kin", "must be true or false", code="input.not_a_boolean")
        return area, people, kin_declared, day, OFFICER_NAME.check("officer", officer)

    @retry_on_conflict
    def _register_marriage(self, area, people, kin_declared, day, officer) -> str:
        legal_age = self.rules.legal_age_on(day)
        statuses = [self._status(p["person_key"]) for p in people]
        refusal = marriage_refusal(people, kin_declared, [s.married for s in statuses], legal_age)
        if refusal is not None:
            raise refusal
        marriage = Marriage(area=area, parties=[_party(p) for p in people], registered_on=day, officer=officer,
                            legal_age={"men": legal_age.men, "women": legal_age.women,
                                       "effective_from": legal_age.effective_from})
        for status in statuses:
            status.marry(marriage.id)
        self.save(marriage, *statuses)
        return str(marriage.id)

    @retry_on_conflict
    def _record_refusal(self, checked: tuple, refusal: DomainError) -> None:
        area, people, _kin, day, officer = checked
        self.save(MarriageApplication(area=area, parties=[_party(p) for p in people], applied_on=day,
                                      officer=officer, rule=refusal.code, field=refusal.field,
                                      reason=refusal.rule))

    def get_marriage(self, marriage_id: str, reveal_identity: bool = False) -> dict:
        return self._marriage_view(self._get(Marriage, marriage_id, "marriage_id"), self._shown(reveal_identity))

    @retry_on_conflict
    def record_unlawful(self, marriage_id: str, ground: str, found_on: str, officer: str, note: str) -> dict:
        """A later finding that the registration was unlawful (e.g. a concealed existing marriage):
        the marriage is void, the parties' registry records no longer show it."""
        marriage = self._get(Marriage, marriage_id, "marriage_id")
        marriage.find_unlawful(ground, self._day(found_on, "found_on"), OFFICER_NAME.check("officer", officer),
                               REASON.check("note", note))
        statuses = [self._status(key) for key in marriage.person_keys()]
        for status in statuses:
            status.end(marriage.id, "found_unlawful")
        self.save(marriage, *statuses)
        return self._marriage_view(marriage, identity.mask)

    @retry_on_conflict
    def file_divorce(self, marriage_id: str, filed_on: str, both_present: bool, agreement: bool,
                     officer: str) -> dict:
        """A divorce by agreement applied for; the cooling-off period in force on the day of
        filing decides when it can be registered (and until when)."""
        marriage = self._get(Marriage, marriage_id, "marriage_id")
        day = self._day(filed_on, "filed_on")
        for name, value in (("both_present", both_present), ("agreement", agreement)):
            if not isinstance(value, bool):
                raise InvalidInput(name, "must be true or false", code="input.not_a_boolean")
        marriage.file_divorce(day, both_present, agreement, OFFICER_NAME.check("officer", officer),
                              self.rules.cooling_off_for(day))
        self.save(marriage)
        return self._marriage_view(marriage, identity.mask)

    @retry_on_conflict
    def withdraw_divorce(self, marriage_id: str, withdrawn_on: str, officer: str) -> dict:
        marriage = self._get(Marriage, marriage_id, "marriage_id")
        marriage.withdraw_divorce(self._day(withdrawn_on, "withdrawn_on"), OFFICER_NAME.check("officer", officer))
        self.save(marriage)
        return self._marriage_view(marriage, identity.mask)

    @retry_on_conflict
    def register_divorce(self, marriage_id: str, registered_on: str, both_present: bool, officer: str) -> dict:
        marriage = self._get(Marriage, marriage_id, "marriage_id")
        if not isinstance(both_present, bool):
            raise InvalidInput("both_present", "must be true or false", code="input.not_a_boolean")
        marriage.register_divorce(self._day(registered_on, "registered_on"), OFFICER_NAME.check("officer", officer),
                                  both_present)
        statuses = [self._status(key) for key in marriage.person_keys()]
        for status in statuses:
            status.end(marriage.id, "divorced")
        self.save(marriage, *statuses)
        return self._marriage_view(marriage, identity.mask)

    def rules_in_force(self) -> dict:
        return self.rules.describe(self.today().isoformat())

    # --- helpers ------------------------------------------------------------------------------------------

    def _person_key(self, id_number: str) -> UUID:
        return identity.pseudonym(id_number, self.pseudonym_key)

    def _status(self, key: UUID) -> MaritalStatus:
        return self._find(MaritalStatus.create_id(key)) or MaritalStatus(person_key=key)

    def _day(self, value, field: str) -> str:
        return checks.past_day(value, field, self.today())

    _shown = staticmethod(checks.shown)

    # --- views --------------------------------------------------------------------------------------------

    def _hall_view(self, hall: Hall) -> dict:
        plan = self.rules.migration
        return {"hall_id": str(hall.id), "code": hall.code, "name": hall.name, "area": hall.area,
                "kind": hall.kind, "niches": hall.niches, "occupied": len(hall.occupied),
                "free_niches": hall.free_niches, "registered_on": hall.registered_on,
                "migration_role": ("source" if hall.code in plan.sources
                                   else "destination" if hall.code == plan.destination else None),
                "preparation": dict(hall.preparation) if hall.preparation else None,
                "migrated_out": hall.migrated_out, "migrated_in": hall.migrated_in,
                "inspections": len(hall.inspections),
                "last_inspection": dict(hall.inspections[-1]) if hall.inspections else None,
                "open_findings": {item: dict(f) for item, f in hall.open_findings.items()},
                "to_standard": hall.to_standard, "version": hall.version}

    @staticmethod
    def _occupant_view(occupant: Occupant, shown) -> dict:
        return {"occupant_id": str(occupant.id), "area": occupant.area, "hall_id": str(occupant.hall_id),
                "niche": occupant.niche, "id_number": shown(occupant.id_number), "name": occupant.name,
                "died_on": occupant.died_on, "placed_on": occupant.placed_on,
                "history": [dict(h) for h in occupant.history]}

    @staticmethod
    def _mound_view(mound: Mound) -> dict:
        return {"mound_id": str(mound.id), "inspection_id": str(mound.inspection_id), "area": mound.area,
                "place": mound.place, "kind": mound.kind, "found_on": mound.found_on,
                "rebuilt_of": str(mound.rebuilt_of) if mound.rebuilt_of else None,
                "resolved": mound.resolution is not None,
                "resolution": dict(mound.resolution) if mound.resolution else None}

    @staticmethod
    def _marriage_view(marriage: Marriage, shown) -> dict:
        return {"marriage_id": str(marriage.id), "area": marriage.area, "registered_on": marriage.registered_on,
                "parties": [{"id_number": shown(p["id_number"]), "name": p["name"], "sex": p["sex"],
                             "age": p["age"]} for p in marriage.parties],
                "status": marriage.status, "unlawful": dict(marriage.unlawful) if marriage.unlawful else None,
                "divorce": dict(marriage.divorce) if marriage.divorce else None,
                "dissolved_on": marriage.dissolved_on, "version": marriage.version}


def _party(person: dict) -> dict:
    return {"person_key": person["person_key"], "id_number": person["id_number"], "name": person["name"],
            "sex": person["sex"], "age": person["age"]}


# The legal conditions of marriage: a refusal for one of these is recorded (MarriageApplicationRefused).
REFUSAL_CODES = frozenset({"affairs.party_not_present", "affairs.parties_not_man_and_woman",
                           "affairs.below_legal_age", "affairs.already_married",
                           "affairs.unmarried_not_declared", "affairs.prohibited_kinship_not_declared"})

__all__ = ["SocialAffairs", "REFUSAL_CODES"]
