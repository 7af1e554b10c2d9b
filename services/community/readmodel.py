"""Read models of the community-building events: tables, views and one handler per type.

Each handler gets `db` (whose `exec` fills `{s}` with the read-model schema), the event's `data`
and the whole CloudEvent. Handlers use only event data, never the clock, so a rebuild from the
event store gives the same rows. Identity numbers arrive masked; birth dates never arrive.
Every table and view is prefixed `cm_`. The designation quotas (DesignationQuota) need no rows
of their own: the designations are the communities' `Designated` events.
"""
from __future__ import annotations

SOURCE = "community"

TABLES = {
    "cm_communities": """
        community_id uuid PRIMARY KEY, area text NOT NULL, name text NOT NULL,
        registered_on date NOT NULL, star int""",
    # Every award and revocation (level NULL: revoked), in the community's order of versions.
    "cm_star_history": """
        community_id uuid NOT NULL, version int NOT NULL, area text NOT NULL, level int,
        previous_level int, changed_on date NOT NULL, PRIMARY KEY (community_id, version)""",
    "cm_designations": """
        community_id uuid NOT NULL, designation text NOT NULL, area text NOT NULL,
        designated_on date NOT NULL, title text NOT NULL, PRIMARY KEY (community_id, designation)""",
    "cm_meetings": """
        community_id uuid NOT NULL, version int NOT NULL, area text NOT NULL, kind text NOT NULL,
        held_on date NOT NULL, topic text NOT NULL, attendees int NOT NULL,
        PRIMARY KEY (community_id, version)""",
    "cm_organisations": """
        organisation_id uuid PRIMARY KEY, area text NOT NULL, name text NOT NULL, kind text NOT NULL,
        form text NOT NULL, identified_on date NOT NULL, completed_on date, certificate text""",
    "cm_organisation_inspections": """
        organisation_id uuid NOT NULL, year int NOT NULL, area text NOT NULL, result text NOT NULL,
        inspected_on date NOT NULL, PRIMARY KEY (organisation_id, year)""",
    "cm_villages": """
        village_id uuid PRIMARY KEY, area text NOT NULL, name text NOT NULL, registered_on date NOT NULL,
        model_level text, model_awarded_on date""",
    "cm_openness_inspections": """
        village_id uuid NOT NULL, version int NOT NULL, area text NOT NULL, inspected_on date NOT NULL,
        result text NOT NULL, PRIMARY KEY (village_id, version)""",
    "cm_elections": """
        village_id uuid NOT NULL, version int NOT NULL, area text NOT NULL, held_on date NOT NULL,
        in_window boolean NOT NULL, PRIMARY KEY (village_id, version)""",
    "cm_facilities": """
        facility_id uuid PRIMARY KEY, area text NOT NULL, kind text NOT NULL, name text NOT NULL,
        floor_area_m2 int NOT NULL, standard_m2 int NOT NULL, recorded_on date NOT NULL, changed_on date""",
    "cm_projects": """
        project_id uuid PRIMARY KEY, area text NOT NULL, kind text NOT NULL, name text NOT NULL,
        planned_floor_area_m2 int NOT NULL, planned_on date NOT NULL, due date NOT NULL, named_code text,
        status text NOT NULL, started_on date, completed_on date, floor_area_m2 int, on_time boolean""",
    "cm_workers": """
        worker_id uuid PRIMARY KEY, area text NOT NULL, community text NOT NULL, name text NOT NULL,
        id_number text NOT NULL, channel text NOT NULL, hired_on date NOT NULL, first_trained_on date""",
    "cm_trainings": """
        worker_id uuid NOT NULL, version int NOT NULL, area text NOT NULL, trained_on date NOT NULL,
        course text NOT NULL, PRIMARY KEY (worker_id, version)""",
}

VIEWS = {
    # Communities rated now, by area and level.
    "cm_star_communities": """
        SELECT area, star AS level, count(*) AS communities FROM {schema}.cm_communities
        WHERE star IS NOT NULL GROUP BY area, star""",
    # The kinds of the four meetings each community held, by year.
    "cm_meeting_kinds": """
        SELECT community_id, area, extract(year FROM held_on)::int AS year,
               count(DISTINCT kind) AS kinds, count(*) AS meetings
        FROM {schema}.cm_meetings GROUP BY community_id, area, 3""",
    # Registered organisations, by area, kind and whether registration or filing is completed.
    "cm_organisations_by_kind": """
        SELECT area, kind, form, count(*) AS identified, count(completed_on) AS completed
        FROM {schema}.cm_organisations GROUP BY area, kind, form""",
    # Facilities and whether each meets the standard in force when it was recorded.
    "cm_facilities_to_standard": """
        SELECT area, kind, count(*) AS facilities,
               count(*) FILTER (WHERE floor_area_m2 >= standard_m2) AS to_standard,
               sum(floor_area_m2) AS floor_area_m2
        FROM {schema}.cm_facilities GROUP BY area, kind""",
}


# --- communities ----------------------------------------------------------------------------------------

def community_registered(db, data, event):
    db.exec("""INSERT INTO {s}.cm_communities (community_id, area, name, registered_on)
               VALUES (%(id)s, %(area)s, %(name)s, %(on)s) ON CONFLICT (community_id) DO NOTHING""",
            {"id": data["aggregate_id"], "area": data["area"], "name": data["name"], "on": data["registered_on"]})


def _star(db, data, level, on):
    db.exec("""INSERT INTO {s}.cm_star_history
               SELECT community_id, %(v)s, area, %(level)s, %(previous)s, %(on)s FROM {s}.cm_communities
               WHERE community_id = %(id)s ON CONFLICT DO NOTHING""",
            {"id": data["aggregate_id"], "v": data["aggregate_version"], "level": level,
             "previous": data["previous_level"], "on": on})
    db.exec("UPDATE {s}.cm_communities SET star = %(level)s WHERE community_id = %(id)s",
            {"level": level, "id": data["aggregate_id"]})


def star_awarded(db, data, event):
    _star(db, data, data["level"], data["awarded_on"])


def star_revoked(db, data, event):
    _star(db, data, None, data["revoked_on"])


def designated(db, data, event):
    db.exec("""INSERT INTO {s}.cm_designations
               SELECT community_id, %(designation)s, area, %(on)s, %(title)s FROM {s}.cm_communities
               WHERE community_id = %(id)s ON CONFLICT DO NOTHING""",
            {"id": data["aggregate_id"], "designation": data["designation"], "on": data["designated_on"],
             "title": data["title"]})


def meeting_held(db, data, event):
    db.exec("""INSERT INTO {s}.cm_meetings
               SELECT community_id, %(v)s, area, %(kind)s, %(on)s, %(topic)s, %(attendees)s
               FROM {s}.cm_communities WHERE community_id = %(id)s ON CONFLICT DO NOTHING""",
            {"id": data["aggregate_id"], "v": data["aggregate_version"], "kind": data["kind"],
             "on": data["held_on"], "topic": data["topic"], "attendees": data["attendees"]})


# --- civil organisations ---------------------------------------------------------------------------------

def organisation_identified(db, data, event):
    db.exec("""INSERT INTO {s}.cm_organisations (organisation_id, area, name, kind, form, identified_on)
               VALUES (%(id)s, %(area)s, %(name)s, %(kind)s, %(form)s, %(on)s)
               ON CONFLICT (organisation_id) DO NOTHING""",
            {"id": data["aggregate_id"], "area": data["area"], "name": data["name"], "kind": data["kind"],
             "form": data["form"], "on": data["identified_on"]})


def organisation_registered(db, data, event):
    db.exec("""UPDATE {s}.cm_organisations SET completed_on = %(on)s, certificate = %(certificate)s
               WHERE organisation_id = %(id)s""",
            {"on": data["registered_on"], "certificate": data["certificate"], "id": data["aggregate_id"]})


def organisation_filed(db, data, event):
    db.exec("UPDATE {s}.cm_organisations SET completed_on = %(on)s WHERE organisation_id = %(id)s",
            {"on": data["filed_on"], "id": data["aggregate_id"]})


def organisation_inspected(db, data, event):
    db.exec("""INSERT INTO {s}.cm_organisation_inspections
               SELECT organisation_id, %(year)s, area, %(result)s, %(on)s FROM {s}.cm_organisations
               WHERE organisation_id = %(id)s ON CONFLICT DO NOTHING""",
            {"id": data["aggregate_id"], "year": data["year"], "result": data["result"],
             "on": data["inspected_on"]})


# --- villages ------------------------------------------------------------------------------------------------

def village_registered(db, data, event):
    db.exec("""INSERT INTO {s}.cm_villages (village_id, area, name, registered_on)
               VALUES (%(id)s, %(area)s, %(name)s, %(on)s) ON CONFLICT (village_id) DO NOTHING""",
            {"id": data["aggregate_id"], "area": data["area"], "name": data["name"], "on": data["registered_on"]})


def openness_inspected(db, data, event):
    db.exec("""INSERT INTO {s}.cm_openness_inspections
               SELECT village_id, %(v)s, area, %(on)s, %(result)s FROM {s}.cm_villages
               WHERE village_id = %(id)s ON CONFLICT DO NOTHING""",
            {"id": data["aggregate_id"], "v": data["aggregate_version"], "on": data["inspected_on"],
             "result": data["result"]})


def model_awarded(db, data, event):
    db.exec("""UPDATE {s}.cm_villages SET model_level = %(level)s, model_awarded_on = %(on)s
               WHERE village_id = %(id)s""",
            {"level": data["level"], "on": data["awarded_on"], "id": data["aggregate_id"]})


def election_held(db, data, event):
    db.exec("""INSERT INTO {s}.cm_elections
               SELECT village_id, %(v)s, area, %(on)s, %(in_window)s FROM {s}.cm_villages
               WHERE village_id = %(id)s ON CONFLICT DO NOTHING""",
            {"id": data["aggregate_id"], "v": data["aggregate_version"], "on": data["held_on"],
             "in_window": data["in_window"]})


# --- facilities and projects ---------------------------------------------------------------------------------

def facility_recorded(db, data, event):
    db.exec("""INSERT INTO {s}.cm_facilities (facility_id, area, kind, name, floor_area_m2, standard_m2, recorded_on)
               VALUES (%(id)s, %(area)s, %(kind)s, %(name)s, %(m2)s, %(standard)s, %(on)s)
               ON CONFLICT (facility_id) DO NOTHING""",
            {"id": data["aggregate_id"], "area": data["area"], "kind": data["kind"], "name": data["name"],
             "m2": data["floor_area_m2"], "standard": data["standard_m2"], "on": data["recorded_on"]})


def floor_area_changed(db, data, event):
    db.exec("""UPDATE {s}.cm_facilities SET floor_area_m2 = %(m2)s, standard_m2 = %(standard)s,
               changed_on = %(on)s WHERE facility_id = %(id)s""",
            {"m2": data["floor_area_m2"], "standard": data["standard_m2"], "on": data["changed_on"],
             "id": data["aggregate_id"]})


def project_planned(db, data, event):
    db.exec("""INSERT INTO {s}.cm_projects (project_id, area, kind, name, planned_floor_area_m2, planned_on,
               due, named_code, status) VALUES (%(id)s, %(area)s, %(kind)s, %(name)s, %(m2)s, %(on)s,
               %(due)s, %(code)s, 'planned') ON CONFLICT (project_id) DO NOTHING""",
            {"id": data["aggregate_id"], "area": data["area"], "kind": data["kind"], "name": data["name"],
             "m2": data["planned_floor_area_m2"], "on": data["planned_on"], "due": data["due"],
             "code": data["named_code"]})


def project_started(db, data, event):
    db.exec("UPDATE {s}.cm_projects SET status = 'started', started_on = %(on)s WHERE project_id = %(id)s",
            {"on": data["started_on"], "id": data["aggregate_id"]})


def project_completed(db, data, event):
    db.exec("""UPDATE {s}.cm_projects SET status = 'completed', completed_on = %(on)s, floor_area_m2 = %(m2)s,
               on_time = %(on_time)s WHERE project_id = %(id)s""",
            {"on": data["completed_on"], "m2": data["floor_area_m2"], "on_time": data["on_time"],
             "id": data["aggregate_id"]})


# --- community professional workers ----------------------------------------------------------------------

def worker_hired(db, data, event):
    db.exec("""INSERT INTO {s}.cm_workers (worker_id, area, community, name, id_number, channel, hired_on)
               VALUES (%(id)s, %(area)s, %(community)s, %(name)s, %(number)s, %(channel)s, %(on)s)
               ON CONFLICT (worker_id) DO NOTHING""",
            {"id": data["aggregate_id"], "area": data["area"], "community": data["community"],
             "name": data["name"], "number": data["id_number"], "channel": data["channel"],
             "on": data["hired_on"]})


def worker_trained(db, data, event):
    db.exec("""INSERT INTO {s}.cm_trainings
               SELECT worker_id, %(v)s, area, %(on)s, %(course)s FROM {s}.cm_workers
               WHERE worker_id = %(id)s ON CONFLICT DO NOTHING""",
            {"id": data["aggregate_id"], "v": data["aggregate_version"], "on": data["trained_on"],
             "course": data["course"]})
    db.exec("""UPDATE {s}.cm_workers SET first_trained_on = LEAST(coalesce(first_trained_on, %(on)s), %(on)s)
               WHERE worker_id = %(id)s""", {"on": data["trained_on"], "id": data["aggregate_id"]})


HANDLERS = {
    "CommunityRegistered": community_registered,
    "CommunityStarAwarded": star_awarded,
    "CommunityStarRevoked": star_revoked,
    "CommunityDesignated": designated,
    "CommunityMeetingHeld": meeting_held,
    "CivilOrganisationIdentified": organisation_identified,
    "CivilOrganisationRegistered": organisation_registered,
    "CivilOrganisationFiled": organisation_filed,
    "CivilOrganisationInspected": organisation_inspected,
    "VillageRegistered": village_registered,
    "VillageOpennessInspected": openness_inspected,
    "VillageModelAwarded": model_awarded,
    "VillageElectionHeld": election_held,
    "FacilityRecorded": facility_recorded,
    "FacilityFloorAreaChanged": floor_area_changed,
    "FacilityProjectPlanned": project_planned,
    "FacilityProjectStarted": project_started,
    "FacilityProjectCompleted": project_completed,
    "CommunityWorkerHired": worker_hired,
    "CommunityWorkerTrained": worker_trained,
}
