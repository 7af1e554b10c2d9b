"""Read model of the test-only domain: one table, one view, one handler per event type."""
from __future__ import annotations

SOURCE = "volunteering"

TABLES = {
    "vol_volunteers": """
        volunteer_id uuid PRIMARY KEY, area text NOT NULL, skill text NOT NULL,
        hours int NOT NULL DEFAULT 0""",
}

VIEWS = {
    "vol_area_hours": """
        SELECT area, count(*) AS volunteers, coalesce(sum(hours), 0) AS hours
        FROM {schema}.vol_volunteers GROUP BY area""",
}


def registered(db, data: dict, event: dict) -> None:
    db.exec("INSERT INTO {s}.vol_volunteers (volunteer_id, area, skill) "
            "VALUES (%(id)s, %(area)s, %(skill)s) ON CONFLICT DO NOTHING",
            {"id": data["aggregate_id"], "area": data["area"], "skill": data["skill"]})


def hours_logged(db, data: dict, event: dict) -> None:
    db.exec("UPDATE {s}.vol_volunteers SET hours = hours + %(hours)s WHERE volunteer_id = %(id)s",
            {"id": data["aggregate_id"], "hours": data["hours"]})


HANDLERS = {"VolunteerRegistered": registered, "VolunteerHoursLogged": hours_logged}
