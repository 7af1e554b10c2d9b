"""Read models of the disaster relief events: tables, views and one handler per type.

Each handler gets `db` (whose `exec` fills `{s}` with the read-model schema), the event's `data`
and the whole CloudEvent (for its time). Handlers use only event data, never the clock, so a
rebuild from the event store gives the same rows. Identity numbers arrive masked (the contract
masks every `id_number`). Every table and view is prefixed `dr_`.
"""
from __future__ import annotations

import json

SOURCE = "disaster_relief"

TABLES = {
    "dr_incidents": """
        incident_id uuid PRIMARY KEY, incident_type text NOT NULL, areas jsonb NOT NULL,
        occurred_at timestamptz NOT NULL, occurred_on date NOT NULL, year int NOT NULL,
        status text NOT NULL,
        level text, responsible jsonb NOT NULL, last_stage text,
        deaths int NOT NULL DEFAULT 0, missing int NOT NULL DEFAULT 0,
        relocated int NOT NULL DEFAULT 0, houses_damaged int NOT NULL DEFAULT 0,
        direct_loss numeric(16,2) NOT NULL DEFAULT 0, closed_on date,
        registered_at timestamptz NOT NULL, updated_at timestamptz NOT NULL""",
    "dr_incident_areas": """
        incident_id uuid NOT NULL, area text NOT NULL, PRIMARY KEY (incident_id, area)""",
    "dr_deadlines": """
        incident_id uuid NOT NULL, stage text NOT NULL, deadline timestamptz NOT NULL,
        PRIMARY KEY (incident_id, stage)""",
    "dr_reports": """
        incident_id uuid NOT NULL, version int NOT NULL, stage text NOT NULL,
        reported_at timestamptz NOT NULL, deadline timestamptz, late boolean NOT NULL,
        deaths int NOT NULL, missing int NOT NULL, relocated int NOT NULL,
        houses_damaged int NOT NULL, direct_loss numeric(16,2) NOT NULL, level text,
        PRIMARY KEY (incident_id, version)""",
    "dr_roster": """
        incident_id uuid NOT NULL, household_id text NOT NULL, id_number text NOT NULL,
        name text NOT NULL, area text NOT NULL, members int NOT NULL, needs jsonb NOT NULL,
        listed_on date NOT NULL, PRIMARY KEY (incident_id, household_id)""",
    "dr_cards": """
        card_id uuid PRIMARY KEY, incident_id uuid NOT NULL, household_id text NOT NULL,
        area text NOT NULL, issued_on date NOT NULL, archived boolean NOT NULL DEFAULT false""",
    "dr_aid": """
        card_id uuid NOT NULL, version int NOT NULL, incident_id uuid NOT NULL,
        household_id text NOT NULL, area text NOT NULL, kind text NOT NULL, item text NOT NULL,
        quantity int, unit text NOT NULL, amount numeric(12,2), given_on date NOT NULL,
        PRIMARY KEY (card_id, version)""",
    "dr_reserves": """
        area text PRIMARY KEY, reserve_id uuid NOT NULL, floor numeric(12,2) NOT NULL,
        balance numeric(12,2) NOT NULL, below_floor boolean NOT NULL,
        updated_at timestamptz NOT NULL""",
    "dr_reserve_movements": """
        reserve_id uuid NOT NULL, version int NOT NULL, area text NOT NULL, kind text NOT NULL,
        amount numeric(12,2) NOT NULL, on_date date NOT NULL, source text, incident_id uuid,
        household_id text, recipient text, balance numeric(12,2) NOT NULL,
        below_floor boolean NOT NULL, PRIMARY KEY (reserve_id, version)""",
}

VIEWS = {
    # Every reserve now, with what went in and out of it.
    "dr_reserve_status": """
        SELECT r.area, r.balance, r.floor, r.below_floor,
               coalesce(sum(m.amount) FILTER (WHERE m.kind = 'deposit'), 0) AS deposited,
               coalesce(sum(m.amount) FILTER (WHERE m.kind = 'disbursement'), 0) AS disbursed
        FROM {schema}.dr_reserves r
        LEFT JOIN {schema}.dr_reserve_movements m ON m.area = r.area
        GROUP BY r.area, r.balance, r.floor, r.below_floor""",
    # Reports per incident year, stage and timeliness (on_time, late, no_deadline).
    "dr_report_timeliness": """
        SELECT i.year, r.stage,
               CASE WHEN r.deadline IS NULL THEN 'no_deadline'
                    WHEN r.late THEN 'late' ELSE 'on_time' END AS timeliness,
               count(*) AS reports
        FROM {schema}.dr_reports r JOIN {schema}.dr_incidents i ON i.incident_id = r.incident_id
        GROUP BY 1, 2, 3""",
    "dr_late_reports": """
        SELECT r.incident_id, i.incident_type, i.year, r.stage, r.reported_at, r.deadline,
               r.reported_at - r.deadline AS late_by
        FROM {schema}.dr_reports r JOIN {schema}.dr_incidents i ON i.incident_id = r.incident_id
        WHERE r.late""",
    # Aid per incident and area: cash paid, and households that received anything.
    "dr_aid_by_incident": """
        SELECT a.incident_id, a.area,
               coalesce(sum(a.amount) FILTER (WHERE a.kind = 'cash'), 0) AS cash,
               count(DISTINCT a.household_id) AS households_aided
        FROM {schema}.dr_aid a GROUP BY a.incident_id, a.area""",
    "dr_roster_by_area": """
        SELECT i.year, ro.area, count(*) AS households, sum(ro.members) AS persons
        FROM {schema}.dr_roster ro JOIN {schema}.dr_incidents i ON i.incident_id = ro.incident_id
        GROUP BY i.year, ro.area""",
}

FIGURES = ("deaths", "missing", "relocated", "houses_damaged", "direct_loss")


def incident_registered(db, data, event):
    # The event's time carries the district's UTC offset: its date and year are local ones.
    db.exec("""INSERT INTO {s}.dr_incidents (incident_id, incident_type, areas, occurred_at,
               occurred_on, year, status, responsible, registered_at, updated_at)
               VALUES (%(id)s, %(type)s, %(areas)s, %(at)s, %(on)s, %(year)s, 'open', %(resp)s,
                       %(time)s, %(time)s)
               ON CONFLICT (incident_id) DO NOTHING""",
            {"id": data["aggregate_id"], "type": data["incident_type"], "areas": json.dumps(data["areas"]),
             "at": data["occurred_at"], "on": data["occurred_at"][:10], "year": int(data["occurred_at"][:4]),
             "resp": json.dumps(data["responsible"]), "time": event["time"]})
    for area in data["areas"]:
        db.exec("""INSERT INTO {s}.dr_incident_areas VALUES (%(id)s, %(area)s) ON CONFLICT DO NOTHING""",
                {"id": data["aggregate_id"], "area": area})
    for stage, deadline in data["deadlines"].items():
        db.exec("""INSERT INTO {s}.dr_deadlines VALUES (%(id)s, %(stage)s, %(deadline)s)
                   ON CONFLICT DO NOTHING""", {"id": data["aggregate_id"], "stage": stage, "deadline": deadline})


def incident_reported(db, data, event):
    params = {"id": data["aggregate_id"], "v": data["aggregate_version"], "stage": data["stage"],
              "at": data["reported_at"], "deadline": data["deadline"], "late": data["late"],
              "time": event["time"], **{name: data["figures"][name] for name in FIGURES}}
    db.exec("""INSERT INTO {s}.dr_reports
               SELECT %(id)s, %(v)s, %(stage)s, %(at)s, %(deadline)s, %(late)s, %(deaths)s,
                      %(missing)s, %(relocated)s, %(houses_damaged)s, %(direct_loss)s, level
               FROM {s}.dr_incidents WHERE incident_id = %(id)s ON CONFLICT DO NOTHING""", params)
    db.exec("""UPDATE {s}.dr_incidents SET last_stage = %(stage)s, deaths = %(deaths)s,
               missing = %(missing)s, relocated = %(relocated)s, houses_damaged = %(houses_damaged)s,
               direct_loss = %(direct_loss)s, updated_at = %(time)s WHERE incident_id = %(id)s""", params)


def level_changed(db, data, event):
    """The level applies to the report just recorded (same write, next version) and onwards."""
    params = {"id": data["aggregate_id"], "level": data["level"], "v": data["aggregate_version"] - 1,
              "resp": json.dumps(data["responsible"]), "time": event["time"]}
    db.exec("""UPDATE {s}.dr_incidents SET level = %(level)s, responsible = %(resp)s,
               updated_at = %(time)s WHERE incident_id = %(id)s""", params)
    db.exec("""UPDATE {s}.dr_reports SET level = %(level)s
               WHERE incident_id = %(id)s AND version = %(v)s""", params)


def household_listed(db, data, event):
    db.exec("""INSERT INTO {s}.dr_roster VALUES (%(id)s, %(hh)s, %(number)s, %(name)s, %(area)s,
               %(members)s, %(needs)s, %(on)s) ON CONFLICT DO NOTHING""",
            {"id": data["aggregate_id"], "hh": data["household_id"], "number": data["id_number"],
             "name": data["name"], "area": data["area"], "members": data["members"],
             "needs": json.dumps(data["needs"]), "on": data["listed_on"]})


def incident_closed(db, data, event):
    db.exec("""UPDATE {s}.dr_incidents SET status = 'closed', closed_on = %(on)s, updated_at = %(time)s
               WHERE incident_id = %(id)s""",
            {"id": data["aggregate_id"], "on": data["closed_on"], "time": event["time"]})


def card_issued(db, data, event):
    db.exec("""INSERT INTO {s}.dr_cards VALUES (%(id)s, %(incident)s, %(hh)s, %(area)s, %(on)s, false)
               ON CONFLICT DO NOTHING""",
            {"id": data["aggregate_id"], "incident": data["incident_id"], "hh": data["household_id"],
             "area": data["area"], "on": data["issued_on"]})


def add_aid(db, data, kind, item, quantity, unit, amount):
    db.exec("""INSERT INTO {s}.dr_aid
               SELECT card_id, %(v)s, incident_id, household_id, area, %(kind)s, %(item)s,
                      %(quantity)s, %(unit)s, %(amount)s, %(on)s
               FROM {s}.dr_cards WHERE card_id = %(id)s ON CONFLICT DO NOTHING""",
            {"id": data["aggregate_id"], "v": data["aggregate_version"], "kind": kind, "item": item,
             "quantity": quantity, "unit": unit, "amount": amount, "on": data["given_on"]})


def cash_received(db, data, event):
    add_aid(db, data, "cash", "cash", None, "yuan", data["amount"])


def items_received(db, data, event):
    add_aid(db, data, "in_kind", data["item"], data["quantity"], data["unit"], None)


def card_archived(db, data, event):
    db.exec("UPDATE {s}.dr_cards SET archived = true WHERE card_id = %(id)s", {"id": data["aggregate_id"]})


def reserve_opened(db, data, event):
    db.exec("""INSERT INTO {s}.dr_reserves VALUES (%(area)s, %(id)s, %(floor)s, 0, true, %(time)s)
               ON CONFLICT (area) DO NOTHING""",
            {"area": data["area"], "id": data["aggregate_id"], "floor": data["floor"], "time": event["time"]})


def reserve_moved(kind: str, date_field: str):
    def handler(db, data, event):
        params = {"id": data["aggregate_id"], "v": data["aggregate_version"], "kind": kind,
                  "amount": data["amount"], "on": data[date_field], "source": data.get("source"),
                  "incident": data.get("incident_id"), "hh": data.get("household_id"),
                  "recipient": data.get("recipient"), "balance": data["balance"],
                  "below": data["below_floor"], "floor": data["floor"], "time": event["time"]}
        db.exec("""INSERT INTO {s}.dr_reserve_movements
                   SELECT reserve_id, %(v)s, area, %(kind)s, %(amount)s, %(on)s, %(source)s,
                          %(incident)s, %(hh)s, %(recipient)s, %(balance)s, %(below)s
                   FROM {s}.dr_reserves WHERE reserve_id = %(id)s ON CONFLICT DO NOTHING""", params)
        db.exec("""UPDATE {s}.dr_reserves SET balance = %(balance)s, floor = %(floor)s,
                   below_floor = %(below)s, updated_at = %(time)s WHERE reserve_id = %(id)s""", params)
    return handler


HANDLERS = {
    "IncidentRegistered": incident_registered,
    "IncidentReported": incident_reported,
    "IncidentLevelChanged": level_changed,
    "IncidentHouseholdListed": household_listed,
    "IncidentClosed": incident_closed,
    "ReliefCardIssued": card_issued,
    "ReliefCardCashReceived": cash_received,
    "ReliefCardItemsReceived": items_received,
    "ReliefCardArchived": card_archived,
    "ReserveOpened": reserve_opened,
    "ReserveDeposited": reserve_moved("deposit", "deposited_on"),
    "ReserveDisbursed": reserve_moved("disbursement", "disbursed_on"),
}
