"""Read models of the social affairs events: tables, views and one handler per type.

Each handler gets `db` (whose `exec` fills `{s}` with the read-model schema), the event's `data`
and the whole CloudEvent. Handlers use only event data, never the clock, so a rebuild from the
event store gives the same rows. Identity numbers arrive masked. Every table and view is prefixed
`saf_` (social affairs; `sa` would read as social assistance). The index aggregate MaritalStatus
needs no rows (the marriages say who is married), nor do HallUrnReceived/Released beyond the
hall's migration counters (the occupants say where each urn is).

The read models the plan asks for: migration progress per hall (`saf_hall_occupancy`),
unresolved mounds per area (`saf_area_mounds`), the marriage qualification rate
(`saf_marriage_qualification`) and divorce registrations (`saf_divorce_registrations`).
"""
from __future__ import annotations

SOURCE = "social_affairs"

TABLES = {
    "saf_halls": """
        hall_id uuid PRIMARY KEY, code text NOT NULL, name text NOT NULL, area text NOT NULL,
        kind text NOT NULL, niches int NOT NULL, registered_on date NOT NULL,
        migrated_out int NOT NULL DEFAULT 0, migrated_in int NOT NULL DEFAULT 0,
        prepared_on date, preparation_deadline date, preparation_on_time boolean,
        open_findings int NOT NULL DEFAULT 0, last_inspected_on date, last_passed boolean""",
    "saf_occupants": """
        occupant_id uuid PRIMARY KEY, area text NOT NULL, hall_id uuid NOT NULL, niche int NOT NULL,
        name text NOT NULL, id_number text NOT NULL, died_on date NOT NULL, placed_on date NOT NULL""",
    "saf_moves": """
        occupant_id uuid NOT NULL, version int NOT NULL, from_hall_id uuid NOT NULL,
        to_hall_id uuid NOT NULL, moved_on date NOT NULL, migration boolean NOT NULL,
        PRIMARY KEY (occupant_id, version)""",
    "saf_hall_inspections": """
        hall_id uuid NOT NULL, version int NOT NULL, inspected_on date NOT NULL,
        standard_version text NOT NULL, passed boolean NOT NULL, items int NOT NULL,
        items_not_met int NOT NULL, PRIMARY KEY (hall_id, version)""",
    "saf_hall_findings": """
        hall_id uuid NOT NULL, inspected_on date NOT NULL, item text NOT NULL, note text NOT NULL,
        corrected_on date, PRIMARY KEY (hall_id, inspected_on, item)""",
    "saf_mound_inspections": """
        inspection_id uuid PRIMARY KEY, area text NOT NULL, inspected_on date NOT NULL,
        mounds int NOT NULL""",
    "saf_mounds": """
        mound_id uuid PRIMARY KEY, inspection_id uuid NOT NULL, area text NOT NULL, place text NOT NULL,
        kind text NOT NULL, found_on date NOT NULL, rebuilt_of uuid, resolution text,
        resolved_on date, cemetery text""",
    "saf_marriages": """
        marriage_id uuid PRIMARY KEY, area text NOT NULL, registered_on date NOT NULL,
        status text NOT NULL, unlawful_ground text, found_unlawful_on date, dissolved_on date""",
    "saf_marriage_parties": """
        marriage_id uuid NOT NULL, position int NOT NULL, name text NOT NULL, id_number text NOT NULL,
        sex text NOT NULL, age int NOT NULL, PRIMARY KEY (marriage_id, position)""",
    "saf_divorces": """
        marriage_id uuid NOT NULL, version int NOT NULL, area text NOT NULL, filed_on date NOT NULL,
        cooling_off_days int NOT NULL, register_from date NOT NULL, register_by date,
        withdrawn_on date, registered_on date, PRIMARY KEY (marriage_id, version)""",
    "saf_marriage_refusals": """
        application_id uuid PRIMARY KEY, area text NOT NULL, applied_on date NOT NULL,
        rule text NOT NULL, field text NOT NULL""",
}

VIEWS = {
    # Migration progress per hall: urns there now, moved out and in by the plan, preparation.
    "saf_hall_occupancy": """
        SELECT h.hall_id, h.code, h.name, h.area, h.kind, h.niches,
               coalesce(o.urns, 0) AS urns, h.migrated_out, h.migrated_in,
               h.prepared_on, h.preparation_deadline, h.preparation_on_time,
               CASE WHEN h.migrated_out + coalesce(o.urns, 0) > 0
                    THEN h.migrated_out::numeric / (h.migrated_out + coalesce(o.urns, 0)) END
                   AS migration_progress,
               h.open_findings, h.last_inspected_on, h.last_passed
        FROM {schema}.saf_halls h
        LEFT JOIN (SELECT hall_id, count(*) AS urns FROM {schema}.saf_occupants GROUP BY hall_id) o
               USING (hall_id)""",
    # Grave mounds per area: found (by kind and year) and unresolved now.
    "saf_area_mounds": """
        SELECT area, extract(year FROM found_on)::int AS year,
               count(*) FILTER (WHERE kind = 'new') AS new,
               count(*) FILTER (WHERE kind = 'rebuilt') AS rebuilt,
               count(*) FILTER (WHERE resolved_on IS NULL) AS unresolved,
               count(*) FILTER (WHERE resolved_on IS NOT NULL) AS resolved
        FROM {schema}.saf_mounds GROUP BY area, extract(year FROM found_on)""",
    "saf_unresolved_mounds": """
        SELECT mound_id, area, place, kind, found_on, rebuilt_of
        FROM {schema}.saf_mounds WHERE resolved_on IS NULL""",
    # Marriage registrations per area and year, and those later found unlawful.
    "saf_marriage_qualification": """
        SELECT area, extract(year FROM registered_on)::int AS year, count(*) AS registrations,
               count(*) FILTER (WHERE found_unlawful_on IS NOT NULL) AS found_unlawful,
               count(*) FILTER (WHERE found_unlawful_on IS NULL) AS qualified
        FROM {schema}.saf_marriages GROUP BY area, extract(year FROM registered_on)""",
    # Divorce registrations per area and year (of the registration), by the cooling-off applied.
    "saf_divorce_registrations": """
        SELECT area, extract(year FROM registered_on)::int AS year, count(*) AS registered,
               count(*) FILTER (WHERE cooling_off_days > 0) AS after_cooling_off
        FROM {schema}.saf_divorces WHERE registered_on IS NOT NULL
        GROUP BY area, extract(year FROM registered_on)""",
}


# --- halls -----------------------------------------------------------------------------------------

def hall_registered(db, data, event):
    db.exec("""INSERT INTO {s}.saf_halls (hall_id, code, name, area, kind, niches, registered_on)
               VALUES (%(id)s, %(code)s, %(name)s, %(area)s, %(kind)s, %(niches)s, %(on)s)
               ON CONFLICT (hall_id) DO NOTHING""",
            {"id": data["aggregate_id"], "code": data["code"], "name": data["name"], "area": data["area"],
             "kind": data["kind"], "niches": data["niches"], "on": data["registered_on"]})


def migration_counted(column: str):
    def handler(db, data, event):
        if data["migration"]:
            db.exec(f"UPDATE {{s}}.saf_halls SET {column} = {column} + 1 WHERE hall_id = %(id)s",
                    {"id": data["aggregate_id"]})
    return handler


def preparation_completed(db, data, event):
    db.exec("""UPDATE {s}.saf_halls SET prepared_on = %(on)s, preparation_deadline = %(deadline)s,
               preparation_on_time = %(on_time)s WHERE hall_id = %(id)s""",
            {"on": data["completed_on"], "deadline": data["deadline"], "on_time": data["on_time"],
             "id": data["aggregate_id"]})


def hall_inspected(db, data, event):
    findings = data["findings"]
    not_met = [f for f in findings if not f["met"]]
    params = {"id": data["aggregate_id"], "v": data["aggregate_version"], "on": data["inspected_on"],
              "standard": data["standard_version"], "passed": data["passed"], "items": len(findings),
              "not_met": len(not_met)}
    db.exec("""INSERT INTO {s}.saf_hall_inspections VALUES (%(id)s, %(v)s, %(on)s, %(standard)s,
               %(passed)s, %(items)s, %(not_met)s) ON CONFLICT DO NOTHING""", params)
    db.exec("""UPDATE {s}.saf_halls SET open_findings = %(not_met)s, last_inspected_on = %(on)s,
               last_passed = %(passed)s WHERE hall_id = %(id)s""", params)
    for finding in not_met:
        db.exec("""INSERT INTO {s}.saf_hall_findings VALUES (%(id)s, %(on)s, %(item)s, %(note)s, NULL)
                   ON CONFLICT DO NOTHING""",
                {"id": data["aggregate_id"], "on": data["inspected_on"], "item": finding["item"],
                 "note": finding["note"]})


def finding_corrected(db, data, event):
    params = {"id": data["aggregate_id"], "on": data["inspected_on"], "item": data["item"],
              "corrected": data["corrected_on"]}
    db.exec("""UPDATE {s}.saf_hall_findings SET corrected_on = %(corrected)s
               WHERE hall_id = %(id)s AND inspected_on = %(on)s AND item = %(item)s""", params)
    db.exec("""UPDATE {s}.saf_halls SET open_findings = greatest(open_findings - 1, 0)
               WHERE hall_id = %(id)s""", params)


# --- urns ---------------------------------------------------------------------------------------------

def occupant_placed(db, data, event):
    db.exec("""INSERT INTO {s}.saf_occupants VALUES (%(id)s, %(area)s, %(hall)s, %(niche)s, %(name)s,
               %(number)s, %(died)s, %(placed)s) ON CONFLICT (occupant_id) DO NOTHING""",
            {"id": data["aggregate_id"], "area": data["area"], "hall": data["hall_id"], "niche": data["niche"],
             "name": data["name"], "number": data["id_number"], "died": data["died_on"],
             "placed": data["placed_on"]})


def occupant_moved(db, data, event):
    params = {"id": data["aggregate_id"], "v": data["aggregate_version"], "from": data["from_hall_id"],
              "to": data["to_hall_id"], "niche": data["to_niche"], "on": data["moved_on"],
              "migration": data["migration"]}
    db.exec("""INSERT INTO {s}.saf_moves VALUES (%(id)s, %(v)s, %(from)s, %(to)s, %(on)s, %(migration)s)
               ON CONFLICT DO NOTHING""", params)
    db.exec("UPDATE {s}.saf_occupants SET hall_id = %(to)s, niche = %(niche)s WHERE occupant_id = %(id)s",
            params)


# --- grave mounds -----------------------------------------------------------------------------------------

def mound_inspection_recorded(db, data, event):
    db.exec("""INSERT INTO {s}.saf_mound_inspections VALUES (%(id)s, %(area)s, %(on)s, %(mounds)s)
               ON CONFLICT DO NOTHING""",
            {"id": data["aggregate_id"], "area": data["area"], "on": data["inspected_on"],
             "mounds": len(data["mounds"])})


def mound_found(db, data, event):
    db.exec("""INSERT INTO {s}.saf_mounds (mound_id, inspection_id, area, place, kind, found_on, rebuilt_of)
               VALUES (%(id)s, %(inspection)s, %(area)s, %(place)s, %(kind)s, %(on)s, %(rebuilt_of)s)
               ON CONFLICT DO NOTHING""",
            {"id": data["aggregate_id"], "inspection": data["inspection_id"], "area": data["area"],
             "place": data["place"], "kind": data["kind"], "on": data["found_on"],
             "rebuilt_of": data["rebuilt_of"]})


def mound_resolved(db, data, event):
    db.exec("""UPDATE {s}.saf_mounds SET resolution = %(resolution)s, resolved_on = %(on)s,
               cemetery = %(cemetery)s WHERE mound_id = %(id)s""",
            {"resolution": data["resolution"], "on": data["resolved_on"], "cemetery": data["cemetery"],
             "id": data["aggregate_id"]})


# --- marriage and divorce -----------------------------------------------------------------------------------

def marriage_registered(db, data, event):
    db.exec("""INSERT INTO {s}.saf_marriages (marriage_id, area, registered_on, status)
               VALUES (%(id)s, %(area)s, %(on)s, 'married') ON CONFLICT DO NOTHING""",
            {"id": data["aggregate_id"], "area": data["area"], "on": data["registered_on"]})
    for position, party in enumerate(data["parties"]):
        db.exec("""INSERT INTO {s}.saf_marriage_parties VALUES (%(id)s, %(position)s, %(name)s, %(number)s,
                   %(sex)s, %(age)s) ON CONFLICT DO NOTHING""",
                {"id": data["aggregate_id"], "position": position, "name": party["name"],
                 "number": party["id_number"], "sex": party["sex"], "age": party["age"]})


def marriage_found_unlawful(db, data, event):
    db.exec("""UPDATE {s}.saf_marriages SET status = 'void', unlawful_ground = %(ground)s,
               found_unlawful_on = %(on)s WHERE marriage_id = %(id)s""",
            {"ground": data["ground"], "on": data["found_on"], "id": data["aggregate_id"]})


def divorce_filed(db, data, event):
    db.exec("""INSERT INTO {s}.saf_divorces
               SELECT marriage_id, %(v)s, area, %(on)s, %(days)s, %(from)s, %(by)s, NULL, NULL
               FROM {s}.saf_marriages WHERE marriage_id = %(id)s ON CONFLICT DO NOTHING""",
            {"id": data["aggregate_id"], "v": data["aggregate_version"], "on": data["filed_on"],
             "days": data["cooling_off_days"], "from": data["register_from"], "by": data["register_by"]})


_LATEST = """marriage_id = %(id)s AND version = (SELECT max(version) FROM {s}.saf_divorces
                                                WHERE marriage_id = %(id)s)"""


def divorce_withdrawn(db, data, event):
    db.exec("UPDATE {s}.saf_divorces SET withdrawn_on = %(on)s WHERE " + _LATEST,
            {"on": data["withdrawn_on"], "id": data["aggregate_id"]})


def marriage_dissolved(db, data, event):
    params = {"on": data["registered_on"], "id": data["aggregate_id"]}
    db.exec("UPDATE {s}.saf_divorces SET registered_on = %(on)s WHERE " + _LATEST, params)
    db.exec("""UPDATE {s}.saf_marriages SET status = 'dissolved', dissolved_on = %(on)s
               WHERE marriage_id = %(id)s""", params)


def application_refused(db, data, event):
    db.exec("""INSERT INTO {s}.saf_marriage_refusals VALUES (%(id)s, %(area)s, %(on)s, %(rule)s, %(field)s)
               ON CONFLICT DO NOTHING""",
            {"id": data["aggregate_id"], "area": data["area"], "on": data["applied_on"], "rule": data["rule"],
             "field": data["field"]})


def nothing(db, data, event):
    """An index aggregate's event: no rows (the marriages say who is married)."""


HANDLERS = {
    "HallRegistered": hall_registered,
    "HallUrnReceived": migration_counted("migrated_in"),
    "HallUrnReleased": migration_counted("migrated_out"),
    "HallPreparationCompleted": preparation_completed,
    "HallInspected": hall_inspected,
    "HallFindingCorrected": finding_corrected,
    "OccupantPlaced": occupant_placed,
    "OccupantMoved": occupant_moved,
    "MoundInspectionRecorded": mound_inspection_recorded,
    "MoundFound": mound_found,
    "MoundResolved": mound_resolved,
    "MarriageRegistered": marriage_registered,
    "MarriageFoundUnlawful": marriage_found_unlawful,
    "MarriageDivorceFiled": divorce_filed,
    "MarriageDivorceWithdrawn": divorce_withdrawn,
    "MarriageDissolved": marriage_dissolved,
    "MarriageApplicationRefused": application_refused,
    "MaritalStatusCreated": nothing,
    "MaritalStatusMarried": nothing,
    "MaritalStatusEnded": nothing,
}
