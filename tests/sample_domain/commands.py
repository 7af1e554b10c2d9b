"""The test domain's commands and queries, declared once (see shared/commands.py)."""
from __future__ import annotations

from shared.commands import AREA, QUERY, Arg, Command, Date, Integer, Text, Uuid, roles

ROLES = OFFICER, READER = roles("volunteering", "officer", "reader")

COMMANDS = (
    Command("register_volunteer", (Arg("area", AREA), Arg("skill", Text(60, 1))),
            role=OFFICER, area="area", doc="Register a volunteer in an area; returns the id."),
    Command("log_hours", (Arg("volunteer_id", Uuid()), Arg("hours", Integer(1, 24)),
                          Arg("day", Date())),
            role=OFFICER, area="volunteer_id", area_via="volunteer",
            doc="Hours a volunteer gave on a day; returns the volunteer's total."),
    Command("get_volunteer", (Arg("volunteer_id", Uuid()),), role=READER, kind=QUERY,
            area="volunteer_id", area_via="volunteer", doc="One volunteer."),
    Command("count_volunteers", (), role=READER, kind=QUERY, doc="Volunteers registered so far."),
)
