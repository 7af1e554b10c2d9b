"""Integration tier, on the real PostgreSQL: CloudEvents with and without the audit extensions go
through the projection's read model (`ReadModel.apply_batch`, as the consumer applies them) into
`read_model.audit_trail`, exactly once and rebuilt by a rebuild; the reporting application's
audit query answers by aggregate, actor, request and time range, newest first, in keyset pages;
out-of-bounds arguments are refused with codes (through the declaration, as the RPC does)."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from services.projection.readmodel import ReadModel
from services.reporting.application import Reporting
from services.reporting.commands import COMMANDS
from shared import contract
from shared.commands import by_name
from shared.config import settings
from shared.errors import InvalidInput

CASE_A, CASE_B = str(uuid.UUID(int=0xA)), str(uuid.UUID(int=0xB))
INSTITUTION = str(uuid.UUID(int=0xC))
START = datetime(2007, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=8)))
AUDIT = by_name(COMMANDS)["audit"]


def cloudevent(source, sequence, type_, subject, minute, audit=None, **data):
    event = {"id": f"{source}-{sequence}", "source": contract.source_of(source), "specversion": "1.0",
             "type": type_, "subject": subject, "time": (START + timedelta(minutes=minute)).isoformat(),
             "sequence": contract.sequence_text(sequence),
             "data": {"aggregate_id": subject, "aggregate_version": sequence, **data}}
    if audit:
        actor, roles, request = audit
        event.update(actor=actor, actorroles=roles, actorclient="gateway", requestid=request,
                     traceparent=f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01")
    return event


# Social assistance: two cases; an old event without audit; a rejection with a reason.
SOCIAL = [
    cloudevent("social_assistance", 1, "StandardScheduleStarted", str(uuid.UUID(int=1)), 0),   # before audit
    cloudevent("social_assistance", 2, "CaseApplied", CASE_A, 10, ("officer-li", "social_assistance.officer", "r-1"),
               household_id=str(uuid.UUID(int=2)), area="beigang", scheme="urban", size=2,
               applied_on="2007-03-01", officer="officer-li"),
    cloudevent("social_assistance", 3, "CaseApplied", CASE_B, 20, ("officer-li", "social_assistance.officer", "r-2"),
               household_id=str(uuid.UUID(int=3)), area="xilin", scheme="rural", size=3,
               applied_on="2007-03-01", officer="officer-li"),
    cloudevent("social_assistance", 4, "CaseRejected", CASE_A, 40,
               ("officer-wang", "social_assistance.approver", "r-3"), officer="officer-wang",
               reason="income above the line"),
]
# Welfare: an institution registered by another officer, in the same minutes.
WELFARE = [
    cloudevent("welfare", 1, "InstitutionRegistered", INSTITUTION, 20, ("officer-zhao", "welfare.officer", "r-4"),
               area="xilin", name="西林敬老院", kind="public", beds=10, registered_on="2007-03-01"),
    cloudevent("welfare", 2, "InstitutionBedsChanged", INSTITUTION, 30, ("officer-zhao", "welfare.officer", "r-4"),
               beds=12, changed_on="2007-03-01"),
]


@pytest.fixture
def model(fresh_schemas):
    model = ReadModel.connect(settings())
    yield model
    model.datastore.close()


@pytest.fixture
def reporting(model):
    conninfo = settings().pg_conninfo()
    return Reporting(lambda: psycopg.connect(conninfo), year=2007)


@pytest.fixture
def applied(model):
    assert model.apply_batch("social_assistance", SOCIAL) == 4
    assert model.apply_batch("welfare", WELFARE) == 2
    return model


def audit(reporting, **kwargs) -> dict:
    """As the service's RPC does: the declaration checks, then the application answers."""
    return reporting.audit(**AUDIT.bind(kwargs=kwargs))


def keys(page) -> list[tuple[str, int]]:
    return [(event["source"], event["sequence"]) for event in page["events"]]


def test_every_event_of_every_source_has_one_row_newest_first(applied, reporting):
    page = audit(reporting)
    assert page["order"] == "newest first" and page["initialised"] and page["next"] is None
    # by time; at 09:20 welfare before social_assistance (source descending breaks the tie)
    assert keys(page) == [("social_assistance", 4), ("welfare", 2), ("welfare", 1),
                          ("social_assistance", 3), ("social_assistance", 2), ("social_assistance", 1)]
    rejected = page["events"][0]
    assert rejected["actor"] == "officer-wang" and rejected["actor_roles"] == ["social_assistance.approver"]
    assert rejected["actor_client"] == "gateway" and rejected["request_id"] == "r-3"
    assert rejected["reason"] == "income above the line" and rejected["aggregate_id"] == CASE_A
    assert rejected["traceparent"] == SOCIAL[3]["traceparent"] and rejected["event_id"] == "social_assistance-4"
    assert rejected["aggregate_version"] == 4 and rejected["type"] == "CaseRejected"
    assert datetime.fromisoformat(rejected["time"]) == START + timedelta(minutes=40)
    old = page["events"][-1]
    assert old["actor"] is None and old["request_id"] is None and old["actor_roles"] is None


def test_applying_a_batch_again_changes_nothing_and_a_rebuild_gives_the_same_trail(applied, reporting):
    before = audit(reporting)
    assert applied.apply_batch("social_assistance", SOCIAL) == 0       # redelivered: exactly once
    assert audit(reporting) == before
    pages = {"social_assistance": [SOCIAL], "welfare": [WELFARE]}
    rows = applied.table_rows("audit_trail")
    assert applied.rebuild(["social_assistance", "welfare"], lambda source: iter(pages[source])) == \
        {"social_assistance": 4, "welfare": 2}
    assert applied.table_rows("audit_trail") == rows and len(rows) == 6


def test_filters_by_aggregate_actor_request_and_time(applied, reporting):
    assert keys(audit(reporting, aggregate=CASE_A)) == [("social_assistance", 4), ("social_assistance", 2)]
    assert keys(audit(reporting, actor="officer-zhao")) == [("welfare", 2), ("welfare", 1)]
    assert keys(audit(reporting, request="r-4")) == [("welfare", 2), ("welfare", 1)]
    assert keys(audit(reporting, actor="officer-li", aggregate=CASE_B)) == [("social_assistance", 3)]
    assert audit(reporting, actor="nobody")["events"] == []
    # since inclusive, until exclusive; a time without an offset is the district's (+08:00)
    assert keys(audit(reporting, since="2007-03-01T09:20", until="2007-03-01T09:40")) == \
        [("welfare", 2), ("welfare", 1), ("social_assistance", 3)]
    assert keys(audit(reporting, since="2007-03-01T01:30:00Z")) == [("social_assistance", 4), ("welfare", 2)]
    assert keys(audit(reporting, until="2007-03-01T09:10+08:00")) == [("social_assistance", 1)]


def test_keyset_pages_give_every_row_once_even_while_newer_events_arrive(applied, reporting):
    whole = keys(audit(reporting))
    first = audit(reporting, limit=4)
    assert keys(first) == whole[:4] and first["next"]
    # a newer event lands between the pages: the next page still starts after the last row given
    applied.apply_batch("welfare", [cloudevent("welfare", 3, "InstitutionBedsChanged", INSTITUTION, 90,
                                               ("officer-zhao", "welfare.officer", "r-5"),
                                               beds=14, changed_on="2007-03-01")])
    second = audit(reporting, limit=4, after=first["next"])
    assert keys(second) == whole[4:] and second["next"] is None
    filtered = audit(reporting, actor="officer-li", limit=1)
    rest = audit(reporting, actor="officer-li", limit=1, after=filtered["next"])
    assert keys(filtered) + keys(rest) == [("social_assistance", 3), ("social_assistance", 2)]
    assert rest["next"] is None


@pytest.mark.parametrize("kwargs, field, code", [
    ({"limit": 0}, "limit", "input.below_minimum"),
    ({"limit": 10_000}, "limit", "input.above_ceiling"),
    ({"aggregate": "not-an-id"}, "aggregate", "input.not_a_uuid"),
    ({"since": "2007-03-02T00:00", "until": "2007-03-01T00:00"}, "until", "report.audit_range_reversed"),
    ({"since": "2007-03-01T00:00", "until": "2007-03-01T00:00"}, "until", "report.audit_range_reversed"),
    ({"after": "bm90LWEtY3Vyc29y"}, "after", "report.audit_bad_cursor"),
    ({"after": "a-cursor!"}, "after", "input.bad_format"),
    ({"reveal": True}, "reveal", "input.unknown_field"),
])
def test_bounds_are_refused_with_codes(applied, reporting, kwargs, field, code):
    with pytest.raises(InvalidInput) as refused:
        audit(reporting, **kwargs)
    assert (refused.value.field, refused.value.code) == (field, code)


def test_a_read_model_not_created_yet_is_an_empty_trail(fresh_schemas):
    conninfo = settings().pg_conninfo()
    page = Reporting(lambda: psycopg.connect(conninfo), year=2007).audit(**AUDIT.bind())
    assert page["events"] == [] and page["initialised"] is False and page["next"] is None
