"""Conduct supervision: every command and query, declared once (see shared/commands.py).

The Nameko service `conduct_supervision` is generated from `COMMANDS`; the HTTP gateway builds
its routes and OpenAPI document from it.

Roles (the bureau's vocabulary; the gateway maps tokens to these):
- `conduct_supervision.supervision`: the conduct-building office (行风建设办公室): supervisors'
  appointments, renewals and dismissals; officers' registration, contact communities; public
  reviews; window efficiency assessments; complaints received, answered and responded to.
- `conduct_supervision.officer`: an officer's own work: visits to the assigned communities and
  the follow-up of the opinions heard; answers to complaints.
- `conduct_supervision.personnel`: breaches of the eight prohibitions and their handling, the
  year-end assessment (德能勤绩), officers leaving.
- `conduct_supervision.reader`: queries.

Bounds, and why: names of people 50 characters, departments 100, an officer id 80 (the gateway's
actor); phone numbers 20; comments, summaries, answers, opinions, follow-ups, measures and
descriptions 1,000 (a resident's letter is summarised, not pasted); at most 20 opinions in a
visit; scores 0-100 (the reference data's scale may be narrower); dates 1900-01-01..2100-12-31.
"""
from __future__ import annotations

from services.conduct_supervision.domain import COMPLAINT_KINDS, OUTCOMES, REVIEWER_KINDS, SUBJECT_KINDS
from shared.commands import (
    AREA, PERSON_NAME, QUERY, REASON, Arg, Bool, Choice, Command, Date, IdNumber, Integer, ListOf,
    Optional, Text, Uuid, Year, roles)

ROLES = SUPERVISION, OFFICER, PERSONNEL, READER = roles(
    "conduct_supervision", "supervision", "officer", "personnel", "reader")

CODE = Text(40, 1, pattern=r"[a-z][a-z0-9_]*")      # a code of the reference data
OFFICER_ID = Text(80, 1, pattern=r"[A-Za-z0-9][A-Za-z0-9._@-]*")
PHONE = Text(20, 1)
LONG = Text(1000, 1, multiline=True)
DEPARTMENT = Text(100, 1)
SCORE = Integer(0, 100)
PERIOD = Text(7, 7, pattern=r"\d{4}-(Q[1-4]|H[12])")
REVEAL = Arg("reveal_identity", Bool(), default=False)
SUPERVISOR = Arg("supervisor_id", Uuid())
OFFICER_ARG = Arg("officer_id", OFFICER_ID)
COMPLAINT = Arg("complaint_id", Uuid())

COMMANDS = (
    # --- supervisors ----------------------------------------------------------------------------------
    Command("appoint_supervisor", (
        Arg("area", AREA), Arg("community", CODE, doc="a community or village of the area"),
        Arg("id_number", IdNumber()), Arg("name", PERSON_NAME), Arg("phone", PHONE),
        Arg("appointed_on", Date()), Arg("term_end", Date(), doc="last day of the term")),
        role=SUPERVISION, area="area", doc="Appoint a conduct supervisor (行风监督员); returns the id."),
    Command("renew_supervisor", (SUPERVISOR, Arg("renewed_on", Date()), Arg("term_end", Date())),
            role=SUPERVISION, area="supervisor_id", area_via="supervisor",
            doc="A new term for a supervisor (from the day after the current term ends)."),
    Command("dismiss_supervisor", (SUPERVISOR, Arg("dismissed_on", Date()), Arg("reason", REASON)),
            role=SUPERVISION, area="supervisor_id", area_via="supervisor",
            doc="A supervisor dismissed before the term ends."),
    Command("get_supervisor", (SUPERVISOR, REVEAL), role=READER, kind=QUERY, area="supervisor_id",
            area_via="supervisor", reveals=("id_number", "phone"),
            doc="A supervisor, the terms and the status today (identity number and phone masked)."),

    # --- officers and contact communities ----------------------------------------------------------------
    Command("register_officer", (
        OFFICER_ARG, Arg("name", PERSON_NAME), Arg("department", DEPARTMENT), Arg("joined_on", Date())),
        role=SUPERVISION, doc="Register an officer of the bureau by officer id; returns the id."),
    Command("officer_leaves", (OFFICER_ARG, Arg("left_on", Date()), Arg("reason", REASON)),
            role=PERSONNEL, doc="The officer leaves; their communities are released."),
    Command("assign_community", (OFFICER_ARG, Arg("community", CODE), Arg("assigned_on", Date())),
            role=SUPERVISION, doc="The officer becomes the contact of a community or village."),
    Command("release_community", (Arg("community", CODE), Arg("released_on", Date())),
            role=SUPERVISION, doc="A community's contact officer released."),
    Command("get_officer", (OFFICER_ARG,), role=READER, kind=QUERY,
            doc="An officer, the communities, breaches and assessments."),
    Command("contacts", (), role=READER, kind=QUERY,
            doc="Every community with its contact officer, and the officers without a community."),

    # --- visits --------------------------------------------------------------------------------------------
    Command("record_visit", (
        OFFICER_ARG, Arg("community", CODE), Arg("visited_on", Date()),
        Arg("opinions", ListOf(LONG, 20), doc="the opinions and suggestions heard")),
        role=OFFICER, doc="A visit by the officer assigned to the community; returns its id."),
    Command("follow_up_opinion", (
        Arg("visit_id", Uuid()), Arg("opinion_no", Integer(1, 20)), Arg("follow_up", LONG),
        Arg("followed_up_on", Date())),
        role=OFFICER, area="visit_id", area_via="visit", doc="The follow-up of an opinion heard."),
    Command("get_visit", (Arg("visit_id", Uuid()),), role=READER, kind=QUERY, area="visit_id",
            area_via="visit", doc="A visit, its opinions and their follow-up."),

    # --- public reviews ----------------------------------------------------------------------------------------
    Command("record_review", (
        Arg("subject_kind", Choice(SUBJECT_KINDS)), Arg("subject", OFFICER_ID, doc="a window code or an officer id"),
        Arg("reviewer_kind", Choice(REVIEWER_KINDS)),
        Arg("reviewer", Optional(OFFICER_ID), doc="a supervisor id or an officer id; none for a resident"),
        Arg("score", SCORE), Arg("comment", LONG), Arg("reviewed_on", Date())),
        role=SUPERVISION, doc="A public review (民主评议) of a window or an officer; returns its id."),
    Command("get_review", (Arg("review_id", Uuid()),), role=READER, kind=QUERY, doc="A public review."),

    # --- complaints --------------------------------------------------------------------------------------------
    Command("receive_complaint", (
        Arg("kind", Choice(COMPLAINT_KINDS)), Arg("area", AREA), Arg("subject_kind", Choice(SUBJECT_KINDS)),
        Arg("subject", OFFICER_ID), Arg("contact_name", PERSON_NAME), Arg("phone", PHONE),
        Arg("summary", LONG), Arg("received_on", Date())),
        role=SUPERVISION, area="area", doc="A complaint or suggestion received (deadline by the handling rule in force); returns its id."),
    Command("answer_complaint", (COMPLAINT, Arg("answer", LONG), Arg("answered_on", Date()), OFFICER_ARG),
            role=OFFICER, area="complaint_id", area_via="complaint", doc="The answer to a complaint."),
    Command("respond_to_answer", (
        COMPLAINT, Arg("accepted", Bool()), Arg("responded_on", Date()),
        Arg("outcome", Optional(Choice(OUTCOMES)), default=None, doc="when not accepted: reopened or escalated")),
        role=SUPERVISION, area="complaint_id", area_via="complaint",
        doc="The complainant's acceptance of the answer, or not (reopened or escalated)."),
    Command("get_complaint", (COMPLAINT, REVEAL), role=READER, kind=QUERY, area="complaint_id",
            area_via="complaint", reveals=("contact_name", "phone"),
            doc="A complaint, its deadline and answers (the complainant's name and phone masked)."),

    # --- window efficiency ---------------------------------------------------------------------------------------
    Command("assess_window", (
        Arg("window", CODE), Arg("period", PERIOD, doc="a quarter 2007-Q1 or a half-year 2007-H1"),
        Arg("method", CODE), Arg("score", SCORE), Arg("assessed_on", Date()),
        Arg("measures", Optional(LONG), default=None, doc="rectification measures (required below the threshold)")),
        role=SUPERVISION, doc="A window's efficiency assessment for a period; returns its id."),
    Command("get_window_assessment", (Arg("window", CODE), Arg("period", PERIOD)), role=READER, kind=QUERY,
            doc="A window's efficiency assessment of a period."),

    # --- the eight prohibitions and the year-end assessment -----------------------------------------------------
    Command("record_breach", (
        OFFICER_ARG, Arg("prohibition", CODE, doc="one of the eight prohibitions"), Arg("occurred_on", Date()),
        Arg("description", LONG)),
        role=PERSONNEL, doc="A breach of the eight prohibitions (八不准); returns its number."),
    Command("handle_breach", (
        OFFICER_ARG, Arg("breach_no", Integer(1, 1000)), Arg("measure", CODE), Arg("handled_on", Date()),
        Arg("note", LONG)),
        role=PERSONNEL, doc="How a breach was handled."),
    Command("assess_officer", (
        OFFICER_ARG, Arg("year", Year()), Arg("integrity", CODE), Arg("ability", CODE), Arg("diligence", CODE),
        Arg("results", CODE), Arg("assessed_on", Date())),
        role=PERSONNEL, doc="The year-end assessment (德能勤绩); returns the overall grade and the reward."),
    Command("rewards", (Arg("year", Year()),), role=READER, kind=QUERY,
            doc="The year's rewards list (评先评优) from the year-end assessments."),
    Command("statistics", (), role=READER, kind=QUERY,
            doc="Supervisors appointed, officers serving, complaints, reviews, visits (event store counts)."),
    Command("rules", (), role=READER, kind=QUERY, method="rules_in_force",
            doc="The conduct-supervision rules in force (reference data)."),
)
