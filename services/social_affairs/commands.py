"""Social affairs: every command and query, declared once (see shared/commands.py).

The Nameko service `social_affairs` is generated from `COMMANDS`; the HTTP gateway builds its
routes and OpenAPI document from it.

Roles (the department's vocabulary; the gateway maps tokens to these):
- `social_affairs.funeral`: funeral reform — memorial halls, urns and their moves, the migration
  plan's preparation, hall inspections and their corrections, grave-mound inspections and their
  resolution.
- `social_affairs.registrar`: marriage and divorce registration, and later findings that a
  registration was unlawful.
- `social_affairs.reader`: queries (halls, occupants, migration progress, mounds, marriages, rules).

Area scope: a hall's, a mound's and a marriage's area never changes; an urn's `area` is the area
it was first placed in (it never changes either, while its hall does): a move is scoped by the
destination hall's area.

Bounds, and why:
- names of people and officers at most 50 characters; hall names 100; hall codes 40 (a code of
  the reference data's form); places 200; notes 500.
- a hall has 1 to 100,000 niches; an inspection assesses at most 50 items; a mound inspection lists
  at most 500 places; a marriage has exactly two parties.
- dates 1900-01-01..2100-12-31 (and never in the future: the application's rule).
"""
from __future__ import annotations

from services.social_affairs.domain import HALL_KINDS, MOUND_KINDS, RESOLUTIONS, UNLAWFUL_GROUNDS
from shared.commands import (
    AREA, OFFICER_NAME, PERSON_NAME, QUERY, REASON, Arg, Bool, Choice, Command, Date, IdNumber,
    Integer, ListOf, Optional, Record, Text, Uuid, roles)

ROLES = FUNERAL, REGISTRAR, READER = roles("social_affairs", "funeral", "registrar", "reader")

CODE = Text(40, 1, pattern=r"[a-z][a-z0-9_]*")
NICHES = Integer(1, 100_000)
NOTE = Text(500, multiline=True)
REVEAL = Arg("reveal_identity", Bool(), default=False)
FINDING = Record(
    Arg("item", CODE, doc="an item of the management standard in force"),
    Arg("met", Bool()),
    Arg("note", NOTE, default="", doc="what is wrong (required when not met)"),
)
MOUND_FINDING = Record(
    Arg("place", Text(200, 1), doc="where the mound is (village, group, field)"),
    Arg("kind", Choice(MOUND_KINDS)),
    Arg("rebuilt_of", Optional(Uuid()), default=None, doc="a rebuilt mound: the earlier, resolved one"),
)
PARTY = Record(
    Arg("id_number", IdNumber()), Arg("name", PERSON_NAME),
    Arg("present", Bool(), doc="the party is present in person"),
    Arg("declared_unmarried", Bool(), doc="the party declares having no spouse (also elsewhere)"),
)

COMMANDS = (
    # --- memorial halls, urns and the migration plan ---------------------------------------------
    Command("register_hall", (
        Arg("code", CODE), Arg("name", Text(100, 1)), Arg("area", AREA), Arg("kind", Choice(HALL_KINDS)),
        Arg("niches", NICHES), Arg("registered_on", Date())),
        role=FUNERAL, area="area", doc="Register a memorial hall or cemetery; returns its id."),
    Command("get_hall", (Arg("hall_id", Uuid()),), role=READER, kind=QUERY,
            area="hall_id", area_via="hall", doc="A hall: niches, migration, inspections."),
    Command("migration_progress", (), role=READER, kind=QUERY, lists=True,
            doc="Each hall of the migration plan: preparation, urns left, urns moved."),
    Command("place_urn", (
        Arg("hall_id", Uuid()), Arg("id_number", IdNumber()), Arg("name", PERSON_NAME),
        Arg("died_on", Date()), Arg("placed_on", Date()), Arg("officer", OFFICER_NAME),
        Arg("niche", Optional(NICHES), default=None)),
        role=FUNERAL, area="hall_id", area_via="hall",
        doc="Place an urn in a niche; returns the occupant id."),
    Command("move_urn", (
        Arg("occupant_id", Uuid()), Arg("to_hall_id", Uuid()), Arg("moved_on", Date()),
        Arg("officer", OFFICER_NAME), Arg("niche", Optional(NICHES), default=None)),
        role=FUNERAL, area="to_hall_id", area_via="hall",
        doc="Move an urn to another hall (a migration move when the plan says so)."),
    Command("get_occupant", (Arg("occupant_id", Uuid()), REVEAL), role=READER, kind=QUERY,
            area="occupant_id", area_via="occupant", doc="An urn's occupant and its history."),
    Command("complete_preparation", (
        Arg("hall_id", Uuid()), Arg("completed_on", Date()), Arg("officer", OFFICER_NAME)),
        role=FUNERAL, area="hall_id", area_via="hall",
        doc="A hall of the migration plan has finished its preparation."),
    Command("inspect_hall", (
        Arg("hall_id", Uuid()), Arg("inspected_on", Date()), Arg("officer", OFFICER_NAME),
        Arg("findings", ListOf(FINDING, max_items=50, min_items=1))),
        role=FUNERAL, area="hall_id", area_via="hall",
        doc="An inspection against the management standard in force."),
    Command("correct_finding", (
        Arg("hall_id", Uuid()), Arg("item", CODE), Arg("corrected_on", Date()), Arg("officer", OFFICER_NAME),
        Arg("note", REASON)),
        role=FUNERAL, area="hall_id", area_via="hall", doc="An open finding corrected."),

    # --- grave mounds ------------------------------------------------------------------------------
    Command("inspect_mounds", (
        Arg("area", AREA), Arg("inspected_on", Date()), Arg("officer", OFFICER_NAME),
        Arg("findings", ListOf(MOUND_FINDING, max_items=500))),
        role=FUNERAL, area="area",
        doc="A grave-mound inspection of an area: the new and rebuilt mounds found."),
    Command("resolve_mound", (
        Arg("mound_id", Uuid()), Arg("resolution", Choice(RESOLUTIONS)), Arg("resolved_on", Date()),
        Arg("officer", OFFICER_NAME), Arg("cemetery", Text(100), default="")),
        role=FUNERAL, area="mound_id", area_via="mound",
        doc="A mound removed, or its remains moved into a cemetery."),
    Command("get_mound", (Arg("mound_id", Uuid()),), role=READER, kind=QUERY,
            area="mound_id", area_via="mound", doc="A grave mound and its resolution."),

    # --- marriage and divorce registration ------------------------------------------------------------
    Command("register_marriage", (
        Arg("area", AREA), Arg("parties", ListOf(PARTY, max_items=2, min_items=2)),
        Arg("declared_not_prohibited_kin", Bool()), Arg("registered_on", Date()),
        Arg("officer", OFFICER_NAME)),
        role=REGISTRAR, area="area",
        doc="Register a marriage; returns its id. A refusal for a legal condition is recorded."),
    Command("get_marriage", (Arg("marriage_id", Uuid()), REVEAL), role=READER, kind=QUERY,
            area="marriage_id", area_via="marriage", doc="A marriage and its divorce."),
    Command("record_unlawful", (
        Arg("marriage_id", Uuid()), Arg("ground", Choice(UNLAWFUL_GROUNDS)), Arg("found_on", Date()),
        Arg("officer", OFFICER_NAME), Arg("note", REASON)),
        role=REGISTRAR, area="marriage_id", area_via="marriage",
        doc="A later finding that the registration was unlawful."),
    Command("file_divorce", (
        Arg("marriage_id", Uuid()), Arg("filed_on", Date()), Arg("both_present", Bool()),
        Arg("agreement", Bool()), Arg("officer", OFFICER_NAME)),
        role=REGISTRAR, area="marriage_id", area_via="marriage",
        doc="A divorce by agreement applied for (the cooling-off period starts)."),
    Command("withdraw_divorce", (
        Arg("marriage_id", Uuid()), Arg("withdrawn_on", Date()), Arg("officer", OFFICER_NAME)),
        role=REGISTRAR, area="marriage_id", area_via="marriage",
        doc="A divorce application withdrawn within its cooling-off period."),
    Command("register_divorce", (
        Arg("marriage_id", Uuid()), Arg("registered_on", Date()), Arg("both_present", Bool()),
        Arg("officer", OFFICER_NAME)),
        role=REGISTRAR, area="marriage_id", area_via="marriage",
        doc="The divorce registered after the cooling-off period."),
    Command("rules", (), role=READER, kind=QUERY, method="rules_in_force",
            doc="The social affairs rules (reference data) and those in force today."),
)
