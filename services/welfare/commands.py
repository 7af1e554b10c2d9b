"""Social welfare: every command and query, declared once (see shared/commands.py).

The Nameko service `welfare` is generated from `COMMANDS`; the HTTP gateway builds its routes and
OpenAPI document from it. Arguments keep the order and defaults callers use today.

Roles (the department's vocabulary; the gateway maps tokens to these):
- `welfare.officer`: elderly-care institutions, admissions, care workers, persons under special
  support, home-care orders.
- `welfare.enterprises`: welfare enterprises (registration, disabled employees, staff, wages,
  restructuring).
- `welfare.finance`: tax rebates to welfare enterprises.
- `welfare.reader`: queries (institutions, admissions, workers, persons, orders, enterprises, rules).

Bounds, and why:
- names of people at most 50 characters, of institutions and enterprises 100; courses, medical
  providers, restructuring forms 100; reasons 500.
- an institution has 1 to 10,000 beds (a bed number is within that too); an enterprise reports
  0 to 100,000 other staff; a month's wage list has at most 1,000 lines.
- a home-care order costs at most 100,000 yuan; a wage or its social insurance at most 1,000,000
  a month; a rebate at most 100,000,000. Amounts to the fen, never negative.
- months 1949-01..2100-12, dates 1900-01-01..2100-12-31 (birth dates from 1880).
"""
from __future__ import annotations

from datetime import date

from services.welfare.domain import (
    CATEGORIES, CENTRALIZED, DISPERSED, INSTITUTION_KINDS, OWNERSHIPS, PAYMENTS)
from shared.commands import (
    AREA, PERSON_NAME, QUERY, REASON, Amount, Arg, Bool, Choice, Command, Date, IdNumber,
    Integer, ListOf, Month, Optional, Record, Text, Uuid, roles)

ROLES = OFFICER, ENTERPRISES, FINANCE, READER = roles("welfare", "officer", "enterprises",
                                                      "finance", "reader")

ORG_NAME = Text(100, 1)
BIRTH_DATE = Date(earliest=date(1880, 1, 1))
BEDS = Integer(1, 10_000)
STAFF = Integer(0, 100_000)
WAGE_LINE = Record(
    Arg("id_number", IdNumber()),
    Arg("wage", Amount(ceiling=1_000_000), doc="yuan for the month"),
    Arg("social_insurance", Amount(ceiling=1_000_000), default="0", doc="yuan for the month"),
)
REVEAL = Arg("reveal_identity", Bool(), default=False)

COMMANDS = (
    # --- elderly-care institutions and admissions -------------------------------------------------
    Command("register_institution", (
        Arg("area", AREA), Arg("name", ORG_NAME), Arg("kind", Choice(INSTITUTION_KINDS)),
        Arg("beds", BEDS), Arg("registered_on", Date())),
        role=OFFICER, area="area", doc="Register an elderly-care institution; returns its id."),
    Command("change_beds", (
        Arg("institution_id", Uuid()), Arg("beds", BEDS), Arg("changed_on", Date()),
        Arg("reason", REASON)),
        role=OFFICER, area="institution_id", area_via="institution",
        doc="Change an institution's number of beds."),
    Command("get_institution", (Arg("institution_id", Uuid()),), role=READER, kind=QUERY,
            area="institution_id", area_via="institution", doc="An institution and its beds."),
    Command("admit", (
        Arg("institution_id", Uuid()), Arg("id_number", IdNumber()), Arg("name", PERSON_NAME),
        Arg("birth_date", BIRTH_DATE), Arg("admitted_on", Date()),
        Arg("bed", Optional(BEDS), default=None)),
        role=OFFICER, area="institution_id", area_via="institution",
        doc="Admit a resident to a free bed; returns the admission id."),
    Command("discharge", (
        Arg("admission_id", Uuid()), Arg("discharged_on", Date()), Arg("reason", REASON)),
        role=OFFICER, area="admission_id", area_via="admission", doc="Discharge a resident."),
    Command("get_admission", (Arg("admission_id", Uuid()), REVEAL), role=READER, kind=QUERY,
            area="admission_id", area_via="admission", doc="An admission."),

    # --- care workers -------------------------------------------------------------------------------
    Command("register_care_worker", (
        Arg("institution_id", Uuid()), Arg("id_number", IdNumber()), Arg("name", PERSON_NAME),
        Arg("registered_on", Date())),
        role=OFFICER, area="institution_id", area_via="institution",
        doc="Register a care worker of an institution; returns the worker id."),
    Command("record_training", (
        Arg("worker_id", Uuid()), Arg("course", Text(100, 1)), Arg("completed_on", Date()),
        Arg("passed", Bool())),
        role=OFFICER, area="worker_id", area_via="care_worker", doc="Record a training course."),
    Command("get_care_worker", (Arg("worker_id", Uuid()), REVEAL), role=READER, kind=QUERY,
            area="worker_id", area_via="care_worker", doc="A care worker and their trainings."),

    # --- persons under special support ----------------------------------------------------------------
    Command("register_supported_person", (
        Arg("category", Choice(tuple(CATEGORIES))), Arg("area", AREA), Arg("id_number", IdNumber()),
        Arg("name", PERSON_NAME), Arg("birth_date", BIRTH_DATE), Arg("registered_on", Date())),
        role=OFFICER, area="area",
        doc="Register a three-no or five-guarantee person; returns the person id."),
    Command("arrange_support", (
        Arg("person_id", Uuid()), Arg("mode", Choice((CENTRALIZED, DISPERSED))),
        Arg("arranged_on", Date()), Arg("admission_id", Optional(Uuid()), default=None)),
        role=OFFICER, area="person_id", area_via="supported_person",
        doc="Centralized (naming the admission) or dispersed support."),
    Command("arrange_medical_care", (
        Arg("person_id", Uuid()), Arg("provider", Text(100, 1)), Arg("arranged_on", Date())),
        role=OFFICER, area="person_id", area_via="supported_person",
        doc="Medical care for a person supported at home."),
    Command("get_supported_person", (Arg("person_id", Uuid()), REVEAL), role=READER, kind=QUERY,
            area="person_id", area_via="supported_person", doc="A person under special support."),

    # --- home-care service orders ---------------------------------------------------------------------
    Command("place_order", (
        Arg("area", AREA), Arg("client", PERSON_NAME),
        Arg("service", Text(40, 1, pattern=r"[a-z][a-z0-9_]*"), doc="a home-care service of the reference data"),
        Arg("payment", Choice(PAYMENTS)), Arg("price", Amount(ceiling=100_000), doc="yuan"),
        Arg("placed_on", Date()), Arg("volunteer", Text(50), default="")),
        role=OFFICER, area="area", doc="Place a home-care order; returns its id."),
    Command("deliver_order", (Arg("order_id", Uuid()), Arg("delivered_on", Date())),
            role=OFFICER, area="order_id", area_via="order", doc="Record an order delivered."),
    Command("cancel_order", (Arg("order_id", Uuid()), Arg("cancelled_on", Date()), Arg("reason", REASON)),
            role=OFFICER, area="order_id", area_via="order", doc="Cancel an order."),
    Command("get_order", (Arg("order_id", Uuid()),), role=READER, kind=QUERY,
            area="order_id", area_via="order", doc="A home-care order."),

    # --- welfare enterprises ------------------------------------------------------------------------------
    Command("register_enterprise", (
        Arg("area", AREA), Arg("name", ORG_NAME), Arg("ownership", Choice(OWNERSHIPS)),
        Arg("other_staff", STAFF), Arg("registered_on", Date())),
        role=ENTERPRISES, area="area", doc="Register a welfare enterprise; returns its id."),
    Command("hire_disabled_employee", (
        Arg("enterprise_id", Uuid()), Arg("id_number", IdNumber()), Arg("name", PERSON_NAME),
        Arg("hired_on", Date())),
        role=ENTERPRISES, area="enterprise_id", area_via="enterprise",
        doc="A disabled employee hired."),
    Command("disabled_employee_left", (
        Arg("enterprise_id", Uuid()), Arg("id_number", IdNumber()), Arg("left_on", Date()),
        Arg("reason", REASON)),
        role=ENTERPRISES, area="enterprise_id", area_via="enterprise",
        doc="A disabled employee left."),
    Command("report_staff", (Arg("enterprise_id", Uuid()), Arg("other_staff", STAFF), Arg("as_of", Date())),
            role=ENTERPRISES, area="enterprise_id", area_via="enterprise",
            doc="The enterprise's other (not disabled) staff as of a day."),
    Command("record_wages", (
        Arg("enterprise_id", Uuid()), Arg("month", Month()),
        Arg("wages", ListOf(WAGE_LINE, max_items=1_000))),
        role=ENTERPRISES, area="enterprise_id", area_via="enterprise",
        doc="A month's wages and social insurance of the disabled employees."),
    Command("restructure", (Arg("enterprise_id", Uuid()), Arg("completed_on", Date()), Arg("form", Text(100, 1))),
            role=ENTERPRISES, area="enterprise_id", area_via="enterprise",
            doc="The enterprise's restructuring (改制) completed."),
    Command("grant_rebate", (
        Arg("enterprise_id", Uuid()), Arg("period", Month()),
        Arg("amount", Amount(ceiling=100_000_000)), Arg("granted_on", Date())),
        role=FINANCE, area="enterprise_id", area_via="enterprise",
        doc="A month's tax rebate to a compliant enterprise."),
    Command("get_enterprise", (Arg("enterprise_id", Uuid()), REVEAL), role=READER, kind=QUERY,
            area="enterprise_id", area_via="enterprise", doc="A welfare enterprise."),
    Command("rules", (), role=READER, kind=QUERY, method="rules_in_force",
            doc="The welfare rules in force (reference data)."),
)
