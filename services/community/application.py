"""Application layer of community building: commands and queries in primitives.

Takes strings, ints and booleans; returns dicts of primitives. Looks up reference data (areas in
data/areas.json, the rules in services/community/reference/), loads aggregates, calls the
domain, saves every changed aggregate in one atomic write. The clock is injected (`today`). It
never talks to the message bus: the outbox relay publishes what this layer stores.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date

from eventsourcing.utils import get_topic

from services.community.domain import (
    CivilOrganisation, Community, CommunityWorker, DesignationQuota, Facility, FacilityProject,
    Village, check_floor_area)
from services.community.rules import CommunityRules
from shared import checks, identity
from shared.checks import check_text, normalise_person
from shared.errors import Conflict
from shared.eventstore import PlatformApplication, retry_on_conflict
from shared.money import parse_date
from shared.referencedata import ReferenceData


def mask_name(name: str) -> str:
    """A person's name as answered unrevealed: the first character (the surname) and stars."""
    return name[:1] + "*" * max(len(name) - 1, 1)


class CommunityBuilding(PlatformApplication):
    name = "community"
    snapshotting_intervals = {Community: 50, Village: 50, CivilOrganisation: 50}

    def __init__(self, env=None, *, reference: ReferenceData | None = None,
                 rules: CommunityRules | None = None, today: Callable[[], date] = date.today):
        super().__init__(env)
        self.reference = reference or ReferenceData.load()
        self.rules = rules or CommunityRules.load()
        self.today = today

    # --- communities ---------------------------------------------------------------------------------

    @retry_on_conflict
    def register_community(self, area: str, name: str, registered_on: str) -> str:
        self.reference.check_area(area)
        name = check_text(name, "name", "community's name")
        if self._exists(Community.create_id(area, name)):
            raise Conflict("name", f"{name} is already registered in {area}", code="community.community_exists")
        community = Community(area=area, name=name, registered_on=self._day(registered_on, "registered_on"))
        self.save(community)
        return str(community.id)

    @retry_on_conflict
    def award_star(self, community_id: str, level: int, awarded_on: str) -> dict:
        """A star rating awarded (3, 4 or 5), or changed: the earlier rating stays in the history."""
        community = self._get(Community, community_id, "community_id")
        community.award_star(level, self._day(awarded_on, "awarded_on"), tuple(self.rules.star_levels))
        self.save(community)
        return self._community_view(community)

    @retry_on_conflict
    def revoke_star(self, community_id: str, revoked_on: str, reason: str) -> dict:
        community = self._get(Community, community_id, "community_id")
        community.revoke_star(self._day(revoked_on, "revoked_on"), check_text(reason, "reason", "reason"))
        self.save(community)
        return self._community_view(community)

    @retry_on_conflict
    def designate_community(self, community_id: str, designation: str, designated_on: str, title: str) -> dict:
        """A brand or digital-management demonstration community; refused beyond the limit of
        designations per area and year in force (the plan: 1-2 per street)."""
        community = self._get(Community, community_id, "community_id")
        self.rules.check_designation(designation)
        day = self._day(designated_on, "designated_on")
        community.designate(designation, day, check_text(title, "title", "title"))
        quota_id = DesignationQuota.create_id(community.area, designation, int(day[:4]))
        quota = self._find(quota_id) or DesignationQuota(area=community.area, designation=designation,
                                                         year=int(day[:4]))
        quota.fill(community.id, self.rules.designation_limit(designation, day))
        self.save(community, quota)
        return self._community_view(community)

    @retry_on_conflict
    def hold_meeting(self, community_id: str, kind: str, held_on: str, topic: str, attendees: int) -> dict:
        """One of the four meetings (四会) held and recorded."""
        community = self._get(Community, community_id, "community_id")
        community.hold_meeting(self.rules.check_meeting(kind), self._day(held_on, "held_on"), topic, attendees)
        self.save(community)
        return self._community_view(community)

    def get_community(self, community_id: str) -> dict:
        return self._community_view(self._get(Community, community_id, "community_id"))

    # --- civil organisations ------------------------------------------------------------------------------

    @retry_on_conflict
    def identify_organisation(self, area: str, name: str, kind: str, identified_on: str) -> str:
        """A civil organisation found in the area, to be registered or filed as its kind requires."""
        self.reference.check_area(area)
        name = check_text(name, "name", "organisation's name")
        form = self.rules.kinds[self.rules.check_kind(kind)]["form"]
        if self._exists(CivilOrganisation.create_id(area, name)):
            raise Conflict("name", f"{name} is already known in {area}", code="community.organisation_exists")
        organisation = CivilOrganisation(area=area, name=name, kind=kind, form=form,
                                         identified_on=self._day(identified_on, "identified_on"))
        self.save(organisation)
        return str(organisation.id)

    @retry_on_conflict
    def register_organisation(self, organisation_id: str, registered_on: str, certificate: str) -> dict:
        organisation = self._get(CivilOrganisation, organisation_id, "organisation_id")
        organisation.register(self._day(registered_on, "registered_on"), certificate)
        self.save(organisation)
        return self._organisation_view(organisation)

    @retry_on_conflict
    def file_organisation(self, organisation_id: str, filed_on: str) -> dict:
        organisation = self._get(CivilOrganisation, organisation_id, "organisation_id")
        organisation.file(self._day(filed_on, "filed_on"))
        self.save(organisation)
        return self._organisation_view(organisation)

    @retry_on_conflict
    def inspect_organisation(self, organisation_id: str, inspected_on: str, result: str) -> dict:
        """The annual inspection (年检) of a registered organisation: once a year, from the year
        after its registration."""
        organisation = self._get(CivilOrganisation, organisation_id, "organisation_id")
        organisation.inspect(self._day(inspected_on, "inspected_on"), self.rules.check_inspection_result(result))
        self.save(organisation)
        return self._organisation_view(organisation)

    def get_organisation(self, organisation_id: str) -> dict:
        return self._organisation_view(self._get(CivilOrganisation, organisation_id, "organisation_id"))

    # --- villages --------------------------------------------------------------------------------------------

    @retry_on_conflict
    def register_village(self, area: str, name: str, registered_on: str) -> str:
        self.reference.check_area(area)
        name = check_text(name, "name", "village's name")
        if self._exists(Village.create_id(area, name)):
            raise Conflict("name", f"{name} is already registered in {area}", code="community.village_exists")
        village = Village(area=area, name=name, registered_on=self._day(registered_on, "registered_on"))
        self.save(village)
        return str(village.id)

    @retry_on_conflict
    def inspect_openness(self, village_id: str, inspected_on: str, result: str, findings: str) -> dict:
        village = self._get(Village, village_id, "village_id")
        village.inspect_openness(self._day(inspected_on, "inspected_on"),
                                 self.rules.check_openness_result(result), findings)
        self.save(village)
        return self._village_view(village)

    @retry_on_conflict
    def award_model_village(self, village_id: str, level: str, awarded_on: str, awarded_by: str) -> dict:
        village = self._get(Village, village_id, "village_id")
        village.award_model(self.rules.check_model_level(level), self._day(awarded_on, "awarded_on"), awarded_by)
        self.save(village)
        return self._village_view(village)

    @retry_on_conflict
    def record_election(self, village_id: str, held_on: str) -> dict:
        """A village committee election held; it counts for the year's target only within the
        election window in force (reference/villages.json); a future date is refused."""
        village = self._get(Village, village_id, "village_id")
        day = self._day(held_on, "held_on")
        in_window = village.record_election(day, self.rules.election_window(day))
        self.save(village)
        return dict(self._village_view(village), counts_for_target=in_window)

    def get_village(self, village_id: str) -> dict:
        return self._village_view(self._get(Village, village_id, "village_id"))

    # --- facilities and projects ---------------------------------------------------------------------------

    @retry_on_conflict
    def record_facility(self, area: str, kind: str, name: str, floor_area_m2: int, recorded_on: str) -> str:
        """A service centre or committee office in use, with its floor area."""
        self.reference.check_area(area)
        self.rules.check_facility_kind(kind)
        name = check_text(name, "name", "facility's name")
        area_m2 = check_floor_area(floor_area_m2, self.rules.max_floor_area_m2)
        day = self._day(recorded_on, "recorded_on")
        if self._exists(Facility.create_id(area, kind, name)):
            raise Conflict("name", f"the {kind} {name} is already recorded in {area}",
                           code="community.facility_exists")
        facility = Facility(area=area, kind=kind, name=name, floor_area_m2=area_m2,
                            standard_m2=self.rules.standard_m2(kind, day, "recorded_on"), recorded_on=day)
        self.save(facility)
        return str(facility.id)

    @retry_on_conflict
    def change_floor_area(self, facility_id: str, floor_area_m2: int, changed_on: str, reason: str) -> dict:
        facility = self._get(Facility, facility_id, "facility_id")
        area_m2 = check_floor_area(floor_area_m2, self.rules.max_floor_area_m2)
        day = self._day(changed_on, "changed_on")
        facility.change_floor_area(area_m2, self.rules.standard_m2(facility.kind, day, "changed_on"), day, reason)
        self.save(facility)
        return self._facility_view(facility)

    def get_facility(self, facility_id: str) -> dict:
        return self._facility_view(self._get(Facility, facility_id, "facility_id"))

    @retry_on_conflict
    def plan_project(self, area: str, kind: str, name: str, planned_floor_area_m2: int, planned_on: str,
                     due: str) -> str:
        """A facility project; one the plan names (reference/facilities.json) carries its code."""
        self.reference.check_area(area)
        self.rules.check_facility_kind(kind)
        name = check_text(name, "name", "project's name")
        area_m2 = check_floor_area(planned_floor_area_m2, self.rules.max_floor_area_m2, "planned_floor_area_m2")
        day = self._day(planned_on, "planned_on")
        due_day = parse_date(due, "due").isoformat()
        if due_day < day:
            raise Conflict("due", "the project is due after it is planned", code="community.due_before_planned")
        if self._exists(FacilityProject.create_id(area, kind, name)):
            raise Conflict("name", f"the project {name} is already planned in {area}",
                           code="community.project_exists")
        project = FacilityProject(area=area, kind=kind, name=name, planned_floor_area_m2=area_m2,
                                  planned_on=day, due=due_day,
                                  named_code=self.rules.named_code(area, kind, name))
        self.save(project)
        return str(project.id)

    @retry_on_conflict
    def start_project(self, project_id: str, started_on: str) -> dict:
        project = self._get(FacilityProject, project_id, "project_id")
        project.start(self._day(started_on, "started_on"))
        self.save(project)
        return self._project_view(project)

    @retry_on_conflict
    def complete_project(self, project_id: str, completed_on: str, floor_area_m2: int) -> dict:
        """The project built and in use: its facility is recorded (or its floor area changed)
        in the same write."""
        project = self._get(FacilityProject, project_id, "project_id")
        area_m2 = check_floor_area(floor_area_m2, self.rules.max_floor_area_m2)
        day = self._day(completed_on, "completed_on")
        project.complete(day, area_m2)
        standard = self.rules.standard_m2(project.kind, day, "completed_on")
        facility = self._find(Facility.create_id(project.area, project.kind, project.name))
        if facility is None:
            facility = Facility(area=project.area, kind=project.kind, name=project.name,
                                floor_area_m2=area_m2, standard_m2=standard, recorded_on=day)
        elif facility.floor_area_m2 != area_m2:
            facility.change_floor_area(area_m2, standard, day, f"project {project.name} completed")
        self.save(project, facility)
        return dict(self._project_view(project), facility_id=str(facility.id))

    def get_project(self, project_id: str) -> dict:
        return self._project_view(self._get(FacilityProject, project_id, "project_id"))

    # --- community professional workers -----------------------------------------------------------------------

    @retry_on_conflict
    def hire_worker(self, area: str, community: str, id_number: str, name: str, birth_date: str,
                    channel: str, hired_on: str) -> str:
        self.reference.check_area(area)
        community = check_text(community, "community", "community's name")
        self.rules.check_channel(channel)
        person = normalise_person(id_number, name, birth_date)
        key = identity.pseudonym(person["id_number"], self.pseudonym_key)
        if self._exists(CommunityWorker.create_id(key)):
            raise Conflict("id_number", "the person is already hired as a community worker",
                           code="community.already_hired")
        worker = CommunityWorker(person_key=key, area=area, community=community, channel=channel,
                                 hired_on=self._day(hired_on, "hired_on"), **person)
        self.save(worker)
        return str(worker.id)

    @retry_on_conflict
    def train_worker(self, worker_id: str, trained_on: str, course: str) -> dict:
        worker = self._get(CommunityWorker, worker_id, "worker_id")
        worker.train(self._day(trained_on, "trained_on"), course)
        self.save(worker)
        return self._worker_view(worker, identity.mask)

    def get_worker(self, worker_id: str, reveal_identity: bool = False) -> dict:
        """A worker: identity number and name masked unless revealed (with a reason, recorded)."""
        view = self._worker_view(self._get(CommunityWorker, worker_id, "worker_id"), checks.shown(reveal_identity))
        return view if reveal_identity else dict(view, name=mask_name(view["name"]))

    # --- figures ------------------------------------------------------------------------------------------------

    def statistics(self) -> dict:
        """Counts from the event store (no read model); the demo asks it how many runs it made."""
        def stored(event_class) -> int:
            return len(self.recorder.select_notifications(start=1, limit=10_000_000,
                                                          topics=[get_topic(event_class)]))
        return {"communities_registered": stored(Community.Registered),
                "organisations_identified": stored(CivilOrganisation.Identified),
                "villages_registered": stored(Village.Registered),
                "facilities_recorded": stored(Facility.Recorded),
                "projects_planned": stored(FacilityProject.Planned),
                "workers_hired": stored(CommunityWorker.Hired)}

    def rules_in_force(self) -> dict:
        return dict(self.rules.describe(), today=self.today().isoformat())

    # --- helpers -----------------------------------------------------------------------------------------------

    def _day(self, value, field: str) -> str:
        return checks.past_day(value, field, self.today())

    @staticmethod
    def _community_view(c: Community) -> dict:
        return {"community_id": str(c.id), "area": c.area, "name": c.name, "registered_on": c.registered_on,
                "star": c.star, "star_history": [dict(s) for s in c.stars],
                "designations": dict(c.designations), "meetings": [dict(m) for m in c.meetings],
                "version": c.version}

    @staticmethod
    def _organisation_view(o: CivilOrganisation) -> dict:
        return {"organisation_id": str(o.id), "area": o.area, "name": o.name, "kind": o.kind, "form": o.form,
                "identified_on": o.identified_on, "completed_on": o.done_on, "certificate": o.certificate,
                "inspections": {y: dict(i) for y, i in sorted(o.inspections.items())}, "version": o.version}

    @staticmethod
    def _village_view(v: Village) -> dict:
        return {"village_id": str(v.id), "area": v.area, "name": v.name, "registered_on": v.registered_on,
                "inspections": [dict(i) for i in v.inspections],
                "model": dict(v.model) if v.model else None, "elections": [dict(e) for e in v.elections],
                "version": v.version}

    @staticmethod
    def _facility_view(f: Facility) -> dict:
        return {"facility_id": str(f.id), "area": f.area, "kind": f.kind, "name": f.name,
                "floor_area_m2": f.floor_area_m2, "standard_m2": f.standard_m2,
                "meets_standard": f.floor_area_m2 >= f.standard_m2, "recorded_on": f.recorded_on,
                "changed_on": f.changed_on, "version": f.version}

    @staticmethod
    def _project_view(p: FacilityProject) -> dict:
        return {"project_id": str(p.id), "area": p.area, "kind": p.kind, "name": p.name,
                "planned_floor_area_m2": p.planned_floor_area_m2, "planned_on": p.planned_on, "due": p.due,
                "named_code": p.named_code, "status": p.status, "started_on": p.started_on,
                "completed_on": p.completed_on, "version": p.version}

    @staticmethod
    def _worker_view(w: CommunityWorker, shown) -> dict:
        return {"worker_id": str(w.id), "area": w.area, "community": w.community,
                "id_number": shown(w.id_number), "name": w.name, "channel": w.channel,
                "hired_on": w.hired_on, "trainings": [dict(t) for t in w.trainings], "version": w.version}

