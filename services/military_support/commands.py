"""Military support: every command and query, declared once (see shared/commands.py).

The Nameko service `military_support` is generated from `COMMANDS`; the HTTP gateway builds its
routes and OpenAPI document from it.

Roles (the department's vocabulary; the gateway maps tokens to these):
- `military_support.officer`: beneficiaries (registration, grade reassessment, end of benefits),
  medical insurance and the assistance scheme's membership, workers without military status
  (reception, placement).
- `military_support.finance`: the monthly benefit runs, medical-assistance claims, workers' benefits.
- `military_support.double_support`: army-support activities, national-defence education
  sessions, co-building pairs, the model-district evidence file.
- `military_support.reader`: queries.

Bounds, and why: names of people at most 50 characters, of units, employers, civilian parties,
titles and topics 100; reasons 500; participants and attendees 1 to 1,000,000 (a media campaign
reaches many); a claim's expenses at most 1,000,000 yuan, a worker's monthly benefit at most
100,000 (the caps of the reference data are far below). Dates 1900-01-01..2100-12-31 (birth dates
from 1880), months 1949-01..2100-12.
"""
from __future__ import annotations

from datetime import date

from services.military_support.domain import CATEGORIES, CAUSES, GRADES
from shared.commands import (
    AREA, PERSON_NAME, QUERY, REASON, Amount, Arg, Bool, Choice, Command, Date, IdNumber, Integer,
    Month, Optional, Text, Uuid, Year, roles)

ROLES = OFFICER, FINANCE, DOUBLE_SUPPORT, READER = roles(
    "military_support", "officer", "finance", "double_support", "reader")

ORG = Text(100, 1)
BIRTH_DATE = Date(earliest=date(1880, 1, 1))
CODE = Text(40, 1, pattern=r"[a-z][a-z0-9_]*")   # a code of the reference data
PEOPLE = Integer(1, 1_000_000)
REVEAL = Arg("reveal_identity", Bool(), default=False)
BENEFICIARY = Arg("beneficiary_id", Uuid())
WORKER = Arg("worker_id", Uuid())

COMMANDS = (
    # --- beneficiaries ------------------------------------------------------------------------------
    Command("register_beneficiary", (
        Arg("category", Choice(CATEGORIES)), Arg("area", AREA), Arg("id_number", IdNumber()),
        Arg("name", PERSON_NAME), Arg("birth_date", BIRTH_DATE), Arg("registered_on", Date()),
        Arg("grade", Optional(Choice(GRADES)), default=None, doc="disabled servicemen: 1-10"),
        Arg("cause", Optional(Choice(CAUSES)), default=None, doc="disabled servicemen: war, duty, illness")),
        role=OFFICER, area="area", doc="Register a beneficiary (优抚对象); returns its id."),
    Command("reassess_grade", (BENEFICIARY, Arg("grade", Choice(GRADES)), Arg("reassessed_on", Date())),
            role=OFFICER, area="beneficiary_id", area_via="beneficiary",
            doc="A disabled serviceman's grade reassessed; later months are paid at the new grade."),
    Command("end_benefits", (BENEFICIARY, Arg("ended_on", Date()), Arg("reason", REASON)),
            role=OFFICER, area="beneficiary_id", area_via="beneficiary",
            doc="The beneficiary's benefits end (off the roll of the monthly runs)."),
    Command("get_beneficiary", (BENEFICIARY, REVEAL), role=READER, kind=QUERY,
            area="beneficiary_id", area_via="beneficiary", doc="A beneficiary and what was paid."),
    Command("benefit_standard", (
        Arg("category", Choice(CATEGORIES)), Arg("month", Month()),
        Arg("grade", Optional(Choice(GRADES)), default=None),
        Arg("cause", Optional(Choice(CAUSES)), default=None)),
        role=READER, kind=QUERY, doc="The monthly benefit in force in a month (reference data)."),
    Command("run_benefits", (Arg("month", Month()),), role=FINANCE,
            doc="Pay every active beneficiary for a month; a re-run pays nobody twice."),

    # --- medical coverage --------------------------------------------------------------------------
    Command("enroll_insurance", (BENEFICIARY, Arg("scheme", CODE), Arg("enrolled_on", Date())),
            role=OFFICER, area="beneficiary_id", area_via="beneficiary",
            doc="The beneficiary enrolled in a medical-insurance scheme."),
    Command("join_assistance", (BENEFICIARY, Arg("joined_on", Date())),
            role=OFFICER, area="beneficiary_id", area_via="beneficiary",
            doc="A key beneficiary (not of the insured grades) joins the medical-assistance scheme."),
    Command("claim_assistance", (
        BENEFICIARY, Arg("claimed_on", Date()), Arg("expenses", Amount(ceiling=1_000_000), doc="yuan")),
        role=FINANCE, area="beneficiary_id", area_via="beneficiary",
        doc="A medical-assistance claim, reimbursed by the terms in force up to the yearly cap."),

    # --- workers without military status ----------------------------------------------------------
    Command("receive_worker", (
        Arg("area", AREA), Arg("id_number", IdNumber()), Arg("name", PERSON_NAME),
        Arg("birth_date", BIRTH_DATE), Arg("from_unit", ORG), Arg("received_on", Date())),
        role=OFFICER, area="area", doc="A worker without military status received; returns the id."),
    Command("place_worker", (WORKER, Arg("employer", ORG), Arg("placed_on", Date())),
            role=OFFICER, area="worker_id", area_via="worker", doc="The worker placed with an employer."),
    Command("pay_worker_benefit", (
        WORKER, Arg("month", Month()), Arg("kind", CODE), Arg("amount", Amount(ceiling=100_000), doc="yuan")),
        role=FINANCE, area="worker_id", area_via="worker", doc="A month's benefit of a worker."),
    Command("get_worker", (WORKER, REVEAL), role=READER, kind=QUERY, area="worker_id",
            area_via="worker", doc="A worker without military status."),

    # --- double support -------------------------------------------------------------------------------
    Command("record_activity", (
        Arg("channel", CODE, doc="one of the plan's eight channels"), Arg("area", AREA),
        Arg("title", ORG), Arg("unit", ORG), Arg("held_on", Date()), Arg("participants", PEOPLE)),
        role=DOUBLE_SUPPORT, area="area", doc="An army-support activity; returns its id."),
    Command("get_activity", (Arg("activity_id", Uuid()),), role=READER, kind=QUERY,
            area="activity_id", area_via="activity", doc="An army-support activity."),
    Command("hold_education_session", (
        Arg("venue", CODE), Arg("audience", CODE), Arg("area", AREA), Arg("topic", ORG),
        Arg("held_on", Date()), Arg("attendees", PEOPLE)),
        role=DOUBLE_SUPPORT, area="area", doc="A national-defence education session; returns its id."),
    Command("get_session", (Arg("session_id", Uuid()),), role=READER, kind=QUERY,
            area="session_id", area_via="session", doc="An education session."),
    Command("form_pair", (Arg("area", AREA), Arg("civilian", ORG), Arg("unit", ORG), Arg("formed_on", Date())),
            role=DOUBLE_SUPPORT, area="area", doc="A civil-military co-building pair; returns its id."),
    Command("dissolve_pair", (Arg("pair_id", Uuid()), Arg("dissolved_on", Date()), Arg("reason", REASON)),
            role=DOUBLE_SUPPORT, area="pair_id", area_via="pair", doc="A co-building pair ends."),
    Command("get_pair", (Arg("pair_id", Uuid()),), role=READER, kind=QUERY, area="pair_id",
            area_via="pair", doc="A co-building pair."),
    Command("submit_evidence_file", (Arg("year", Year()), Arg("submitted_on", Date())),
            role=DOUBLE_SUPPORT,
            doc="Submit the year's evidence file of the provincial model-district application."),
    Command("get_evidence_file", (Arg("year", Year()),), role=READER, kind=QUERY,
            doc="The year's evidence file and what it counts."),
    Command("statistics", (), role=READER, kind=QUERY,
            doc="Registrations, the roll, workers received and pairs in force (event store counts)."),
    Command("rules", (), role=READER, kind=QUERY, method="rules_in_force",
            doc="The military-support rules in force (reference data)."),
)
