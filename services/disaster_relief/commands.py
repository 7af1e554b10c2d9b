"""Disaster relief: every command and query, declared once (see shared/commands.py).

The Nameko service `disaster_relief` is generated from `COMMANDS`; the HTTP gateway builds its
routes and OpenAPI document from it. Arguments keep the order and defaults callers use today.

Roles (the department's vocabulary; the gateway maps tokens to these):
- `disaster_relief.officer`: registers incidents, makes their reports, keeps the relief roster,
  records in-kind aid, closes incidents.
- `disaster_relief.finance`: the money: deposits into area reserves, cash disbursements.
- `disaster_relief.reader`: queries (incidents, late and overdue reports, rosters, cards, reserves).

Bounds, and why:
- names (officers, household heads, recipients) at most 50 characters; a household id 64; the
  source of a deposit 100; an incident's description 2,000.
- an incident affects 1 to 20 areas (the district has 7); a household lists 1 to 20 needs and
  has 1 to 50 members; in-kind aid is 1 to 1,000,000 units.
- report figures: deaths and missing at most 1,000,000, relocated people and damaged houses at
  most 10,000,000, the direct loss at most 1,000,000,000,000 yuan.
- a deposit at most 100,000,000 yuan, a disbursement to a household at most 1,000,000. Amounts
  to the fen, never negative.
- years 1949-2100, dates and times 1900..2100.
"""
from __future__ import annotations

from shared.commands import (
    AREA, OFFICER_NAME, QUERY, Amount, Arg, Bool, Choice, Command, Date, DateTime, IdNumber,
    Integer, ListOf, Optional, Record, Text, Uuid, Year, roles)
from services.disaster_relief.domain import STAGES

ROLES = OFFICER, FINANCE, READER = roles("disaster_relief", "officer", "finance", "reader")

KEY = Text(40, 1, pattern=r"[a-z][a-z0-9_]*")       # a name in the reference data (incident type, need, item)
HOUSEHOLD_ID = Text(64, 1)                           # the household's id where it is registered
PEOPLE = Integer(0, 1_000_000)
FIGURES = Record(
    Arg("deaths", PEOPLE), Arg("missing", PEOPLE),
    Arg("relocated", Integer(0, 10_000_000)), Arg("houses_damaged", Integer(0, 10_000_000)),
    Arg("direct_loss", Amount(ceiling=1_000_000_000_000), doc="yuan"),
)
OPTIONAL_DAY = Optional(Date())

COMMANDS = (
    # --- incidents and their reports -------------------------------------------------------------
    Command("register_incident", (
        Arg("incident_type", KEY), Arg("areas", ListOf(AREA, max_items=20, min_items=1)),
        Arg("occurred_at", DateTime()), Arg("officer", OFFICER_NAME),
        Arg("description", Text(2000, multiline=True), default="")),
        role=OFFICER, area="areas", doc="Register an incident; returns its id."),
    Command("report", (
        Arg("incident_id", Uuid()), Arg("stage", Choice(STAGES)), Arg("figures", FIGURES),
        Arg("reported_at", DateTime()), Arg("officer", OFFICER_NAME)),
        role=OFFICER, area="incident_id", area_via="incident",
        doc="An initial, follow-up or final report; returns the incident."),
    Command("close_incident", (
        Arg("incident_id", Uuid()), Arg("officer", OFFICER_NAME),
        Arg("closed_on", OPTIONAL_DAY, default=None)),
        role=OFFICER, area="incident_id", area_via="incident",
        doc="Close an incident and archive its relief cards."),
    Command("get_incident", (Arg("incident_id", Uuid()),), role=READER, kind=QUERY,
            area="incident_id", area_via="incident", doc="An incident with its reports."),
    Command("list_incidents", (Arg("year", Optional(Year()), default=None),), role=READER,
            kind=QUERY, lists=True, doc="Every incident (of a year), in order of occurrence."),
    Command("late_reports", (Arg("year", Optional(Year()), default=None),), role=READER,
            kind=QUERY, lists=True, doc="Reports made after their deadline."),
    Command("overdue_reports", (Arg("year", Optional(Year()), default=None),), role=READER,
            kind=QUERY, lists=True, doc="Deadlines passed without their report."),

    # --- relief roster and relief cards ----------------------------------------------------------
    Command("add_to_roster", (
        Arg("incident_id", Uuid()), Arg("household_id", HOUSEHOLD_ID), Arg("id_number", IdNumber()),
        Arg("name", Text(50, 1)), Arg("area", AREA), Arg("members", Integer(1, 50)),
        Arg("needs", ListOf(KEY, max_items=20, min_items=1)), Arg("officer", OFFICER_NAME),
        Arg("listed_on", OPTIONAL_DAY, default=None)),
        role=OFFICER, area="area",
        doc="Put an affected household on the relief roster; returns its relief card."),
    Command("get_roster", (Arg("incident_id", Uuid()), Arg("reveal_identity", Bool(), default=False)),
            role=READER, kind=QUERY, area="incident_id", area_via="incident",
            doc="The incident's relief roster, identity numbers masked unless revealed."),
    Command("get_card", (Arg("incident_id", Uuid()), Arg("household_id", HOUSEHOLD_ID)),
            role=READER, kind=QUERY, area="incident_id", area_via="incident",
            doc="A household's relief card."),
    Command("record_aid", (
        Arg("incident_id", Uuid()), Arg("household_id", HOUSEHOLD_ID), Arg("item", KEY),
        Arg("quantity", Integer(1, 1_000_000)), Arg("officer", OFFICER_NAME),
        Arg("given_on", OPTIONAL_DAY, default=None)),
        role=OFFICER, area="incident_id", area_via="incident",
        doc="In-kind aid given to a household on the roster."),
    Command("disburse", (
        Arg("incident_id", Uuid()), Arg("household_id", HOUSEHOLD_ID), Arg("recipient", Text(50, 1)),
        Arg("amount", Amount(ceiling=1_000_000)), Arg("officer", OFFICER_NAME),
        Arg("disbursed_on", OPTIONAL_DAY, default=None)),
        role=FINANCE, area="incident_id", area_via="incident",
        doc="Cash relief out of the household's area reserve, onto its card."),

    # --- relief reserves -------------------------------------------------------------------------
    Command("deposit", (
        Arg("area", AREA), Arg("amount", Amount(ceiling=100_000_000)), Arg("source", Text(100, 1)),
        Arg("officer", OFFICER_NAME), Arg("deposited_on", OPTIONAL_DAY, default=None)),
        role=FINANCE, area="area", doc="Deposit into an area's relief reserve."),
    Command("get_reserve", (Arg("area", AREA),), role=READER, kind=QUERY, area="area",
            doc="An area's relief reserve."),
    Command("reserves", (), role=READER, kind=QUERY, lists=True,
            doc="Every area's relief reserve."),
)
