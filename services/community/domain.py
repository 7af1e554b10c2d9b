"""Domain layer of community building (社区建设): communities with their star ratings (awarded and
revoked, the history kept), brand and digital-management designations (at most so many per
street and year), the "four meetings" (四会) each community holds; civil organisations (民间组织)
identified, registered or filed, and inspected every year; villages with their village-affairs
openness inspections, municipal model status and committee elections; community service
centres and residents' committee offices with their floor areas and the named 2007 projects;
and community professional workers (社区专职工作者), hired through three channels and trained.

Plain eventsourcing aggregates; no service framework, no I/O, no clock. A public command method
validates and then calls a private past-tense `@event` method that only changes state, so a
broken rule raises a typed error and records nothing. Reference data (levels, kinds, results,
the standards in force, the election window) is looked up by the application layer (rules.py)
and passed in as values. Dates are ISO strings 'YYYY-MM-DD'.
"""
from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from shared.audit import AuditedAggregate
from shared.checks import check_text, normalise_person
from shared.errors import Conflict, InvalidInput

NAMESPACE = uuid5(NAMESPACE_URL, "urn:zhonglou-civil-affairs:community")
STAR_LEVELS = (3, 4, 5)
DESIGNATIONS = ("brand", "digital")                     # 品牌社区, 信息化(数字化)管理示范社区
MEETING_KINDS = ("consultation", "coordination", "hearing", "review")   # the four meetings (四会)
FORMS = ("registration", "filing")                      # 登记 / 备案
INSPECTION_RESULTS = ("passed", "basically_passed", "failed")            # 合格 / 基本合格 / 不合格
OPENNESS_RESULTS = ("up_to_standard", "needs_rectification")
MODEL_LEVELS = ("municipal", "provincial")              # 市级 / 省级 模范村 (provincial is higher)
FACILITY_KINDS = ("service_centre", "committee_office")  # 社区服务中心 / 居委会办公活动用房
PLANNED, STARTED, COMPLETED = "planned", "started", "completed"
CHANNELS = ("open_recruitment", "secondment", "graduate")  # 社会招聘 / 区街机关下派 / 大专院校引进


def check_not_before(day: str, earliest: str, field: str, what: str) -> None:
    if day < earliest:
        raise InvalidInput(field, f"must not be before {what} ({earliest})",
                           code="community.date_too_early")


def check_floor_area(value, maximum: int, field: str = "floor_area_m2") -> int:
    """A floor area in whole square metres, more than 0 and at most `maximum` (reference data)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= maximum:
        raise InvalidInput(field, f"must be a whole number of square metres, more than 0 and at most "
                                  f"{maximum} (services/community/reference/facilities.json)",
                           code="community.floor_area_out_of_range")
    return value


def _key(*parts: str) -> str:
    return "|".join(p.strip() for p in parts)


# --- communities --------------------------------------------------------------------------------

class Community(AuditedAggregate):
    """A community (社区, a residents' committee's area): its star rating with every award and
    revocation kept (dynamic management, 动态管理), its designations, the four meetings held.
    One per area and name."""

    @staticmethod
    def create_id(area: str, name: str) -> UUID:
        return uuid5(NAMESPACE, f"community:{_key(area, name)}")

    @event("Registered")
    def __init__(self, area: str, name: str, registered_on: str):
        self.area = area
        self.name = name
        self.registered_on = registered_on
        self.star: int | None = None
        self.stars: list[dict] = []            # every award and revocation, in order
        self.designations: dict[str, str] = {}  # designation -> designated_on
        self.meetings: list[dict] = []

    @property
    def last_rated_on(self) -> str:
        return self.stars[-1]["on"] if self.stars else self.registered_on

    def award_star(self, level, awarded_on: str, levels=STAR_LEVELS) -> None:
        if isinstance(level, bool) or level not in levels:
            raise InvalidInput("level", "must be one of the star levels: " + ", ".join(map(str, levels)),
                               code="community.unknown_star_level")
        if level == self.star:
            raise Conflict("level", f"the community is already rated {level} stars",
                           code="community.star_unchanged")
        check_not_before(awarded_on, self.last_rated_on, "awarded_on", "the last rating change")
        self._star_awarded(level, self.star, awarded_on)

    @event("StarAwarded")
    def _star_awarded(self, level: int, previous_level: int | None, awarded_on: str) -> None:
        self.star = level
        self.stars.append({"level": level, "on": awarded_on})

    def revoke_star(self, revoked_on: str, reason: str) -> None:
        if self.star is None:
            raise Conflict("community_id", "the community holds no star rating",
                           code="community.no_star_rating")
        check_text(reason, "reason", "reason the rating is revoked")
        check_not_before(revoked_on, self.last_rated_on, "revoked_on", "the last rating change")
        self._star_revoked(self.star, revoked_on, reason.strip())

    @event("StarRevoked")
    def _star_revoked(self, previous_level: int, revoked_on: str, reason: str) -> None:
        self.star = None
        self.stars.append({"level": None, "on": revoked_on})

    def designate(self, designation: str, designated_on: str, title: str) -> None:
        if designation in self.designations:
            raise Conflict("designation", f"the community was designated {designation} on "
                                          f"{self.designations[designation]}",
                           code="community.already_designated")
        check_text(title, "title", "title of the designation")
        check_not_before(designated_on, self.registered_on, "designated_on", "the registration")
        self._designated(designation, designated_on, title.strip())

    @event("Designated")
    def _designated(self, designation: str, designated_on: str, title: str) -> None:
        self.designations[designation] = designated_on

    def hold_meeting(self, kind: str, held_on: str, topic: str, attendees: int) -> None:
        check_text(topic, "topic", "topic of the meeting")
        if isinstance(attendees, bool) or not isinstance(attendees, int) or attendees < 1:
            raise InvalidInput("attendees", "a meeting has at least one attendee",
                               code="community.meeting_without_attendees")
        check_not_before(held_on, self.registered_on, "held_on", "the registration")
        if any(m["kind"] == kind and m["held_on"] == held_on for m in self.meetings):
            raise Conflict("held_on", f"a {kind} meeting on {held_on} is already recorded",
                           code="community.meeting_already_recorded")
        self._meeting_held(kind, held_on, topic.strip(), attendees)

    @event("MeetingHeld")
    def _meeting_held(self, kind: str, held_on: str, topic: str, attendees: int) -> None:
        self.meetings.append({"kind": kind, "held_on": held_on, "topic": topic, "attendees": attendees})

    def kinds_held(self, year: str) -> list[str]:
        return sorted({m["kind"] for m in self.meetings if m["held_on"][:4] == year})


class DesignationQuota(AuditedAggregate):
    """The communities of one area designated brand (or digital) in one year: the plan asks for
    1-2 per street, so a designation beyond the limit in force is refused here, in one
    aggregate, so that two racing designations cannot both pass."""

    @staticmethod
    def create_id(area: str, designation: str, year: int) -> UUID:
        return uuid5(NAMESPACE, f"designations:{area}|{designation}|{year}")

    @event("Opened")
    def __init__(self, area: str, designation: str, year: int):
        self.area = area
        self.designation = designation
        self.year = year
        self.communities: list[str] = []

    def fill(self, community_id: UUID, limit: int) -> None:
        if len(self.communities) >= limit:
            raise Conflict("designation", f"{self.area} already has {len(self.communities)} {self.designation} "
                                          f"communities designated in {self.year}; the plan asks for at most "
                                          f"{limit} per street (services/community/reference/communities.json)",
                           code="community.designation_limit_reached")
        self._filled(community_id)

    @event("Filled")
    def _filled(self, community_id: UUID) -> None:
        self.communities.append(str(community_id))


# --- civil organisations ----------------------------------------------------------------------------

class CivilOrganisation(AuditedAggregate):
    """A civil organisation (民间组织): identified in the area, then registered (登记: social groups,
    private non-enterprise units, rural professional associations) or filed (备案: community-level
    groups), as its kind requires; registered ones are inspected once a year (年检)."""

    @staticmethod
    def create_id(area: str, name: str) -> UUID:
        return uuid5(NAMESPACE, f"organisation:{_key(area, name)}")

    @event("Identified")
    def __init__(self, area: str, name: str, kind: str, form: str, identified_on: str):
        self.area = area
        self.name = name
        self.kind = kind
        self.form = form                      # what the kind requires: registration or filing
        self.identified_on = identified_on
        self.done_on: str | None = None       # registered or filed
        self.certificate: str | None = None
        self.inspections: dict[str, dict] = {}  # year -> result, inspected_on

    def _complete(self, form: str, on: str, field: str) -> None:
        if form != self.form:
            raise Conflict("organisation_id", f"a {self.kind} is completed by {self.form}, not {form}",
                           code="community.form_not_for_kind")
        if self.done_on is not None:
            raise Conflict("organisation_id", f"the organisation's {self.form} was completed on "
                                              f"{self.done_on}", code="community.already_registered")
        check_not_before(on, self.identified_on, field, "the identification")

    def register(self, registered_on: str, certificate: str) -> None:
        self._complete("registration", registered_on, "registered_on")
        check_text(certificate, "certificate", "registration certificate number")
        self._registered(registered_on, certificate.strip())

    @event("Registered")
    def _registered(self, registered_on: str, certificate: str) -> None:
        self.done_on = registered_on
        self.certificate = certificate

    def file(self, filed_on: str) -> None:
        self._complete("filing", filed_on, "filed_on")
        self._filed(filed_on)

    @event("Filed")
    def _filed(self, filed_on: str) -> None:
        self.done_on = filed_on

    def inspect(self, inspected_on: str, result: str) -> None:
        if self.form != "registration":
            raise Conflict("organisation_id", "filed community groups are not inspected every year",
                           code="community.inspection_not_for_filed")
        if self.done_on is None:
            raise Conflict("organisation_id", "the organisation is not registered yet",
                           code="community.not_registered")
        year = inspected_on[:4]
        if self.done_on[:4] >= year:
            raise Conflict("inspected_on", f"an organisation registered in {self.done_on[:4]} is first "
                                           f"inspected the year after", code="community.inspection_not_due")
        if year in self.inspections:
            raise Conflict("inspected_on", f"the {year} inspection was recorded on "
                                           f"{self.inspections[year]['inspected_on']}",
                           code="community.already_inspected")
        self._inspected(int(year), inspected_on, result)

    @event("Inspected")
    def _inspected(self, year: int, inspected_on: str, result: str) -> None:
        self.inspections[str(year)] = {"result": result, "inspected_on": inspected_on}


# --- villages -------------------------------------------------------------------------------------------

class Village(AuditedAggregate):
    """A village (村): village-affairs openness inspections (村务公开), model status awarded by the
    municipality or the province (模范村), village committee elections (村委会换届选举)."""

    @staticmethod
    def create_id(area: str, name: str) -> UUID:
        return uuid5(NAMESPACE, f"village:{_key(area, name)}")

    @event("Registered")
    def __init__(self, area: str, name: str, registered_on: str):
        self.area = area
        self.name = name
        self.registered_on = registered_on
        self.inspections: list[dict] = []
        self.model: dict | None = None        # level, awarded_on
        self.elections: list[dict] = []

    def inspect_openness(self, inspected_on: str, result: str, findings: str) -> None:
        check_text(findings, "findings", "findings of the inspection")
        if self.inspections and inspected_on < self.inspections[-1]["inspected_on"]:
            raise InvalidInput("inspected_on", "must not be before the last inspection "
                                               f"({self.inspections[-1]['inspected_on']})",
                               code="community.date_too_early")
        self._openness_inspected(inspected_on, result, findings.strip())

    @event("OpennessInspected")
    def _openness_inspected(self, inspected_on: str, result: str, findings: str) -> None:
        self.inspections.append({"inspected_on": inspected_on, "result": result})

    def award_model(self, level: str, awarded_on: str, awarded_by: str) -> None:
        """Model status needs the last openness inspection, on or before the award, up to standard."""
        if self.model is not None and MODEL_LEVELS.index(self.model["level"]) >= MODEL_LEVELS.index(level):
            raise Conflict("level", f"the village is a {self.model['level']} model village since "
                                    f"{self.model['awarded_on']}", code="community.already_model")
        before = [i for i in self.inspections if i["inspected_on"] <= awarded_on]
        if not before or before[-1]["result"] != "up_to_standard":
            raise Conflict("village_id", "model status needs the village's last openness inspection "
                                         "up to standard", code="community.model_needs_standard_inspection")
        check_text(awarded_by, "awarded_by", "awarding authority")
        self._model_awarded(level, awarded_on, awarded_by.strip())

    @event("ModelAwarded")
    def _model_awarded(self, level: str, awarded_on: str, awarded_by: str) -> None:
        self.model = {"level": level, "awarded_on": awarded_on}

    def record_election(self, held_on: str, window: tuple[str, str] | None) -> bool:
        """Recorded whatever the date; counts for the target (`in_window`) only within the
        election window in force (reference/villages.json). One election per window."""
        in_window = bool(window and window[0] <= held_on <= window[1])
        if in_window and any(e["in_window"] and window[0] <= e["held_on"] <= window[1]
                             for e in self.elections):
            raise Conflict("held_on", f"the village's committee election of {window[0]}..{window[1]} "
                                      "is already recorded", code="community.election_already_held")
        if any(e["held_on"] == held_on for e in self.elections):
            raise Conflict("held_on", f"an election on {held_on} is already recorded",
                           code="community.election_already_held")
        self._election_held(held_on, in_window, window[0] if window else None,
                            window[1] if window else None)
        return in_window

    @event("ElectionHeld")
    def _election_held(self, held_on: str, in_window: bool, window_from: str | None,
                       window_to: str | None) -> None:
        self.elections.append({"held_on": held_on, "in_window": in_window})


# --- facilities ---------------------------------------------------------------------------------------------

class Facility(AuditedAggregate):
    """A community service centre (社区服务中心, one per town or street) or a residents' committee
    office (居委会办公活动用房), with its floor area and the standard in force when recorded."""

    @staticmethod
    def create_id(area: str, kind: str, name: str) -> UUID:
        return uuid5(NAMESPACE, f"facility:{area}|{kind}|{name.strip()}")

    @event("Recorded")
    def __init__(self, area: str, kind: str, name: str, floor_area_m2: int, standard_m2: int,
                 recorded_on: str):
        self.area = area
        self.kind = kind
        self.name = name
        self.floor_area_m2 = floor_area_m2
        self.standard_m2 = standard_m2
        self.recorded_on = recorded_on
        self.changed_on: str | None = None

    def change_floor_area(self, floor_area_m2: int, standard_m2: int, changed_on: str, reason: str) -> None:
        if floor_area_m2 == self.floor_area_m2:
            raise Conflict("floor_area_m2", f"the floor area is already {floor_area_m2} m²",
                           code="community.floor_area_unchanged")
        check_text(reason, "reason", "reason of the change (extension, exchange ...)")
        check_not_before(changed_on, self.changed_on or self.recorded_on, "changed_on", "the last record")
        self._floor_area_changed(floor_area_m2, self.floor_area_m2, standard_m2, changed_on, reason.strip())

    @event("FloorAreaChanged")
    def _floor_area_changed(self, floor_area_m2: int, previous_m2: int, standard_m2: int,
                            changed_on: str, reason: str) -> None:
        self.floor_area_m2 = floor_area_m2
        self.standard_m2 = standard_m2
        self.changed_on = changed_on


class FacilityProject(AuditedAggregate):
    """A facility building project (重点工程): planned, started, completed (建成并投入使用). A project
    named in the plan carries the code of the named project (reference/facilities.json)."""

    @staticmethod
    def create_id(area: str, kind: str, name: str) -> UUID:
        return uuid5(NAMESPACE, f"project:{area}|{kind}|{name.strip()}")

    @event("Planned")
    def __init__(self, area: str, kind: str, name: str, planned_floor_area_m2: int, planned_on: str,
                 due: str, named_code: str | None):
        self.area = area
        self.kind = kind
        self.name = name
        self.planned_floor_area_m2 = planned_floor_area_m2
        self.planned_on = planned_on
        self.due = due
        self.named_code = named_code
        self.status = PLANNED
        self.started_on: str | None = None
        self.completed_on: str | None = None

    def start(self, started_on: str) -> None:
        if self.status != PLANNED:
            raise Conflict("project_id", f"the project was started on {self.started_on}",
                           code="community.project_already_started")
        check_not_before(started_on, self.planned_on, "started_on", "the planning")
        self._started(started_on)

    @event("Started")
    def _started(self, started_on: str) -> None:
        self.status = STARTED
        self.started_on = started_on

    def complete(self, completed_on: str, floor_area_m2: int) -> None:
        if self.status == COMPLETED:
            raise Conflict("project_id", f"the project was completed on {self.completed_on}",
                           code="community.project_completed")
        if self.status != STARTED:
            raise Conflict("project_id", "the project has not started", code="community.project_not_started")
        check_not_before(completed_on, self.started_on, "completed_on", "the start")
        self._completed(completed_on, floor_area_m2, completed_on <= self.due)

    @event("Completed")
    def _completed(self, completed_on: str, floor_area_m2: int, on_time: bool) -> None:
        self.status = COMPLETED
        self.completed_on = completed_on


# --- community professional workers ----------------------------------------------------------------------

class CommunityWorker(AuditedAggregate):
    """A community professional worker (社区专职工作者), hired through one of the three channels
    (三结合) for a community, and the trainings attended. Keyed by a pseudonym of the identity
    number: one person is hired once."""

    @staticmethod
    def create_id(person_key: UUID) -> UUID:
        return uuid5(NAMESPACE, f"worker:{person_key}")

    @event("Hired")
    def __init__(self, person_key: UUID, area: str, community: str, id_number: str, name: str,
                 birth_date: str, channel: str, hired_on: str):
        self.area = area
        self.community = community
        self.id_number = id_number
        self.name = name
        self.birth_date = birth_date
        self.channel = channel
        self.hired_on = hired_on
        self.trainings: list[dict] = []

    def train(self, trained_on: str, course: str) -> None:
        check_text(course, "course", "training course")
        if trained_on < self.hired_on:
            raise InvalidInput("trained_on", f"must not be before the hire ({self.hired_on})",
                               code="community.training_before_hire")
        if any(t["trained_on"] == trained_on and t["course"] == course.strip() for t in self.trainings):
            raise Conflict("trained_on", f"the training {course.strip()} of {trained_on} is already recorded",
                           code="community.training_already_recorded")
        self._trained(trained_on, course.strip())

    @event("Trained")
    def _trained(self, trained_on: str, course: str) -> None:
        self.trainings.append({"trained_on": trained_on, "course": course})


__all__ = ["Community", "DesignationQuota", "CivilOrganisation", "Village", "Facility",
           "FacilityProject", "CommunityWorker", "normalise_person", "check_floor_area"]
