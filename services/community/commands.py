"""Community building: every command and query, declared once (see shared/commands.py).

The Nameko service `community` is generated from `COMMANDS`; the HTTP gateway builds its routes
and OpenAPI document from it.

Roles (the department's vocabulary; the gateway maps tokens to these):
- `community.officer`: communities (registration, star ratings, designations, the four
  meetings) and community professional workers (hire, training);
- `community.organisations`: civil organisations (identification, registration or filing,
  annual inspection);
- `community.villages`: villages (openness inspections, model status, committee elections);
- `community.facilities`: service centres, committee offices and their projects;
- `community.reader`: queries.

Bounds, and why: names of people at most 50 characters; of communities, villages,
organisations, facilities, titles, topics, courses and authorities 100; certificates 40;
reasons and findings 500; attendees 1 to 100,000 (a community's residents); floor areas 1 to
100,000 m² (the reference data's own ceiling is lower); star levels 3-5. Dates
1900-01-01..2100-12-31 (birth dates from 1900).
"""
from __future__ import annotations

from shared.commands import (
    AREA, PERSON_NAME, QUERY, REASON, Arg, Bool, Choice, Command, Date, IdNumber, Integer, Text,
    Uuid, roles)

ROLES = OFFICER, ORGANISATIONS, VILLAGES, FACILITIES, READER = roles(
    "community", "officer", "organisations", "villages", "facilities", "reader")

NAME = Text(100, 1)
CODE = Text(40, 1, pattern=r"[a-z][a-z0-9_]*")   # a code of the reference data
FLOOR = Integer(1, 100_000)
REVEAL = Arg("reveal_identity", Bool(), default=False)
COMMUNITY = Arg("community_id", Uuid())
ORGANISATION = Arg("organisation_id", Uuid())
VILLAGE = Arg("village_id", Uuid())
FACILITY = Arg("facility_id", Uuid())
PROJECT = Arg("project_id", Uuid())
WORKER = Arg("worker_id", Uuid())


def _on(name: str, via: str, role: str, doc: str, *args, kind: str = "command", **extra) -> Command:
    """A command (or query) on one record, whose area the gateway finds through get_<via>."""
    first = {"community": COMMUNITY, "organisation": ORGANISATION, "village": VILLAGE,
             "facility": FACILITY, "project": PROJECT, "worker": WORKER}[via]
    return Command(name, (first, *args), role=role, kind=kind, area=first.name, area_via=via, doc=doc,
                   **extra)


COMMANDS = (
    # --- communities -------------------------------------------------------------------------------
    Command("register_community", (Arg("area", AREA), Arg("name", NAME), Arg("registered_on", Date())),
            role=OFFICER, area="area", doc="Register a community (社区); returns its id."),
    _on("award_star", "community", OFFICER, "A star rating (3-5) awarded or changed; the history is kept.",
        Arg("level", Choice((3, 4, 5))), Arg("awarded_on", Date())),
    _on("revoke_star", "community", OFFICER, "The community's star rating revoked (dynamic management).",
        Arg("revoked_on", Date()), Arg("reason", REASON)),
    _on("designate_community", "community", OFFICER,
        "A brand or digital-management demonstration designation; at most the limit per area and year.",
        Arg("designation", CODE, doc="brand, digital"), Arg("designated_on", Date()), Arg("title", NAME)),
    _on("hold_meeting", "community", OFFICER, "One of the four meetings (四会) held and recorded.",
        Arg("kind", CODE, doc="consultation, coordination, hearing, review"), Arg("held_on", Date()),
        Arg("topic", NAME), Arg("attendees", Integer(1, 100_000))),
    _on("get_community", "community", READER, "A community: rating and its history, designations, meetings.",
        kind=QUERY),

    # --- civil organisations ----------------------------------------------------------------------
    Command("identify_organisation", (Arg("area", AREA), Arg("name", NAME), Arg("kind", CODE),
                                      Arg("identified_on", Date())),
            role=ORGANISATIONS, area="area",
            doc="A civil organisation (民间组织) found, to be registered or filed; returns its id."),
    _on("register_organisation", "organisation", ORGANISATIONS, "The organisation registered (登记).",
        Arg("registered_on", Date()), Arg("certificate", Text(40, 1))),
    _on("file_organisation", "organisation", ORGANISATIONS, "The community-level group filed (备案).",
        Arg("filed_on", Date())),
    _on("inspect_organisation", "organisation", ORGANISATIONS,
        "The annual inspection (年检) of a registered organisation and its result.",
        Arg("inspected_on", Date()), Arg("result", CODE, doc="passed, basically_passed, failed")),
    _on("get_organisation", "organisation", READER, "A civil organisation.", kind=QUERY),

    # --- villages ------------------------------------------------------------------------------------
    Command("register_village", (Arg("area", AREA), Arg("name", NAME), Arg("registered_on", Date())),
            role=VILLAGES, area="area", doc="Register a village (村); returns its id."),
    _on("inspect_openness", "village", VILLAGES, "A village-affairs openness inspection (村务公开) and its result.",
        Arg("inspected_on", Date()), Arg("result", CODE, doc="up_to_standard, needs_rectification"),
        Arg("findings", REASON)),
    _on("award_model_village", "village", VILLAGES, "Model-village status awarded (municipal or provincial).",
        Arg("level", CODE, doc="municipal, provincial"), Arg("awarded_on", Date()), Arg("awarded_by", NAME)),
    _on("record_election", "village", VILLAGES,
        "A village committee election held; counts for the target only within the year's window.",
        Arg("held_on", Date())),
    _on("get_village", "village", READER, "A village.", kind=QUERY),

    # --- facilities ---------------------------------------------------------------------------------
    Command("record_facility", (Arg("area", AREA), Arg("kind", CODE, doc="service_centre, committee_office"),
                                Arg("name", NAME), Arg("floor_area_m2", FLOOR), Arg("recorded_on", Date())),
            role=FACILITIES, area="area", doc="A service centre or committee office in use; returns its id."),
    _on("change_floor_area", "facility", FACILITIES, "The facility's floor area changed (extension, exchange).",
        Arg("floor_area_m2", FLOOR), Arg("changed_on", Date()), Arg("reason", REASON)),
    _on("get_facility", "facility", READER, "A facility and whether it meets the standard.", kind=QUERY),
    Command("plan_project", (Arg("area", AREA), Arg("kind", CODE), Arg("name", NAME),
                             Arg("planned_floor_area_m2", FLOOR), Arg("planned_on", Date()), Arg("due", Date())),
            role=FACILITIES, area="area", doc="A facility project planned; returns its id."),
    _on("start_project", "project", FACILITIES, "The project started.", Arg("started_on", Date())),
    _on("complete_project", "project", FACILITIES, "The project completed; its facility recorded.",
        Arg("completed_on", Date()), Arg("floor_area_m2", FLOOR)),
    _on("get_project", "project", READER, "A facility project.", kind=QUERY),

    # --- community professional workers -------------------------------------------------------------
    Command("hire_worker", (Arg("area", AREA), Arg("community", NAME), Arg("id_number", IdNumber()),
                            Arg("name", PERSON_NAME), Arg("birth_date", Date()),
                            Arg("channel", CODE, doc="open_recruitment, secondment, graduate"),
                            Arg("hired_on", Date())),
            role=OFFICER, area="area", doc="A community professional worker hired; returns the id."),
    _on("train_worker", "worker", OFFICER, "A training the worker attended.",
        Arg("trained_on", Date()), Arg("course", NAME)),
    _on("get_worker", "worker", READER, "A community professional worker.", REVEAL, kind=QUERY,
        reveals=("id_number", "name")),       # a reveal shows both: the disclosure records both

    Command("statistics", (), role=READER, kind=QUERY,
            doc="Communities, organisations, villages, facilities, projects and workers (event store counts)."),
    Command("rules", (), role=READER, kind=QUERY, method="rules_in_force",
            doc="The community-building rules in force (reference data)."),
)
