"""Social assistance (dibao): every command and query, declared once (see shared/commands.py).

The Nameko service `social_assistance` is generated from `COMMANDS`; the HTTP gateway builds its
routes and OpenAPI document from it. Arguments keep the order and defaults callers use today.

Roles (the department's vocabulary; the gateway maps tokens to these):
- `social_assistance.officer`: case work at the street office / town: households, applications,
  verification, reviews, terminations, marginal households, donations received.
- `social_assistance.approver`: the checker of maker-checker: approves or rejects cases, sets and
  raises standards, merges a town's rural dibao into the urban scheme.
- `social_assistance.finance`: payment runs (monthly, year-end extra, marginal relief).
- `social_assistance.reader`: queries (households, cases, standards, donation totals).

Bounds, and why:
- names (people, officers) at most 50 characters; donors 100; addresses 200; reasons 500.
- a household lists 1 to 20 members.
- a monthly standard at most 1,000,000 yuan, a raise at most 100,000; a household's monthly
  income at most 10,000,000; assets at most 100,000,000; marginal relief per household at most
  100,000; a donation at most 100,000,000. Every amount to the fen, never negative.
- years 1949-2100, months 1949-01..2100-12, dates 1900-01-01..2100-12-31 (birth dates from 1880).
"""
from __future__ import annotations

from datetime import date

from services.social_assistance.domain import REGISTRATIONS
from shared.commands import (
    AREA, OFFICER_NAME, PERSON_NAME, QUERY, REASON, Amount, Arg, Bool, Choice, Command, Date,
    IdNumber, ListOf, Month, Optional, Record, Text, Uuid, Year, roles)

ROLES = OFFICER, APPROVER, FINANCE, READER = roles("social_assistance", "officer", "approver",
                                                   "finance", "reader")

AREA_OR_DISTRICT = Text(40, 1, pattern=r"\*|[a-z][a-z0-9_]*")   # "*": every area of the district
REGISTRATION = Choice(REGISTRATIONS)
NAME = PERSON_NAME
INCOME = Amount(ceiling=10_000_000)
MEMBER = Record(
    Arg("id_number", IdNumber(), doc="resident identity number (GB 11643-1999)"),
    Arg("name", NAME),
    Arg("birth_date", Date(earliest=date(1880, 1, 1)), doc="must match the identity number"),
    Arg("monthly_income", INCOME, default="0", doc="yuan a month"),
)

COMMANDS = (
    # --- households and cases ------------------------------------------------------------------
    Command("register_household", (
        Arg("area", AREA), Arg("registration", REGISTRATION),
        Arg("members", ListOf(MEMBER, max_items=20, min_items=1)),
        Arg("address", Text(200), default="")),
        role=OFFICER, area="area", doc="Register a household and its members; returns its id."),
    Command("get_household", (
        Arg("household_id", Uuid()), Arg("reveal_identity", Bool(), default=False)),
        role=READER, kind=QUERY, area="household_id", area_via="household",
        doc="A household, identity numbers masked unless revealed."),
    Command("apply", (Arg("household_id", Uuid()), Arg("officer", OFFICER_NAME)),
            role=OFFICER, area="household_id", area_via="household",
            doc="Open a dibao application for a household; returns the case id."),
    Command("verify", (
        Arg("case_id", Uuid()), Arg("officer", OFFICER_NAME),
        Arg("household_monthly_income", INCOME),
        Arg("assets", Amount(ceiling=100_000_000), default="0")),
        role=OFFICER, area="case_id", area_via="case",
        doc="Record the verified income and assets of an applied case."),
    Command("approve", (
        Arg("case_id", Uuid()), Arg("officer", OFFICER_NAME),
        Arg("effective_month", Optional(Month()), default=None)),
        role=APPROVER, area="case_id", area_via="case",
        doc="Approve a verified case (by another officer than the verifier) from a month."),
    Command("reject", (Arg("case_id", Uuid()), Arg("officer", OFFICER_NAME), Arg("reason", REASON)),
            role=APPROVER, area="case_id", area_via="case", doc="Reject a case, with the reason."),
    Command("review", (
        Arg("case_id", Uuid()), Arg("officer", OFFICER_NAME),
        Arg("household_monthly_income", INCOME),
        Arg("effective_month", Optional(Month()), default=None)),
        role=OFFICER, area="case_id", area_via="case",
        doc="Review an active or suspended case's income; re-computes the allowance."),
    Command("terminate", (
        Arg("case_id", Uuid()), Arg("officer", OFFICER_NAME), Arg("reason", REASON),
        Arg("effective_month", Optional(Month()), default=None)),
        role=OFFICER, area="case_id", area_via="case", doc="Terminate a case from a month."),
    Command("get_case", (Arg("case_id", Uuid()),), role=READER, kind=QUERY,
            area="case_id", area_via="case", doc="A case with its allowances and payments."),

    # --- standards and payments ----------------------------------------------------------------
    Command("set_standard", (
        Arg("area", AREA_OR_DISTRICT), Arg("registration", REGISTRATION),
        Arg("amount", Amount(ceiling=1_000_000), doc="yuan per person a month"),
        Arg("effective_month", Month()), Arg("reason", Text(500, multiline=True), default="")),
        role=APPROVER, area="area", doc="Set an area's (or every area's, '*') standard from a month."),
    Command("raise_standards", (
        Arg("urban_delta", Amount(ceiling=100_000)), Arg("rural_delta", Amount(ceiling=100_000)),
        Arg("effective_month", Month())),
        role=APPROVER, doc="Raise every area's standards from a month; re-computes active cases."),
    Command("standard", (Arg("area", AREA), Arg("registration", REGISTRATION), Arg("month", Month())),
            role=READER, kind=QUERY, area="area", doc="The standard in force in an area in a month."),
    Command("run_payments", (Arg("month", Month()),), role=FINANCE,
            doc="Pay every active case for a month (a re-run pays nobody twice)."),
    Command("pay_year_end_extra", (Arg("year", Year()),), role=FINANCE,
            doc="Pay the year-end extra month to every active case."),

    # --- marginal households, charity, Xilin merge ----------------------------------------------
    Command("register_marginal", (Arg("household_id", Uuid()), Arg("officer", OFFICER_NAME)),
            role=OFFICER, area="household_id", area_via="household",
            doc="Register a household as marginal (income within the band above the standard)."),
    Command("review_marginal", (
        Arg("household_id", Uuid()), Arg("officer", OFFICER_NAME),
        Arg("household_monthly_income", INCOME)),
        role=OFFICER, area="household_id", area_via="household",
        doc="Review a marginal household's income; returns the outcome."),
    Command("pay_marginal_relief", (
        Arg("year", Year()), Arg("amount_per_household", Amount(ceiling=100_000))),
        role=FINANCE, doc="Pay a year's relief to every marginal household."),
    Command("record_donation", (
        Arg("year", Year()), Arg("donor", Text(100, 1)), Arg("amount", Amount(ceiling=100_000_000)),
        Arg("area", AREA), Arg("received_on", Date())),
        role=OFFICER, area="area", doc="Record a donation to the year's drive; returns the totals."),
    Command("donation_totals", (Arg("year", Year()),), role=READER, kind=QUERY,
            doc="The year's donation drive: count, total and by area."),
    Command("merge_rural_into_urban", (Arg("area", AREA), Arg("effective_month", Month())),
            role=APPROVER, area="area",
            doc="Move an area's rural cases into the urban scheme from a month."),
)
