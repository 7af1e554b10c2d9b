"""Unit tier: the audit trail's row of a CloudEvent (services/projection/audit.py), the audit
query's cursor (services/reporting/audit.py) and the declaration's bounds of `reporting.audit`."""
from __future__ import annotations

import base64

import pytest

from services.projection import audit
from services.reporting import audit as query
from services.reporting.commands import COMMANDS
from shared.commands import by_name
from shared.errors import InvalidInput

CASE = "6f1c2a3e-0000-4000-8000-000000000001"
TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def cloudevent(**extensions) -> dict:
    return {"id": "e-1", "source": "urn:zhonglou-civil-affairs:social_assistance", "type": "CaseRejected",
            "subject": CASE, "time": "2007-03-01T09:00:00+08:00", "sequence": "00000000000000000042",
            "data": {"aggregate_id": CASE, "aggregate_version": 3, "reason": "income above the line"},
            **extensions}


def test_a_row_with_every_audit_extension():
    row = audit.row("social_assistance", cloudevent(actor="officer-wang", actorclient="gateway",
                                                    actorroles="social_assistance.approver, auditor",
                                                    requestid="req-7", traceparent=TRACE))
    assert row == {"source": "social_assistance", "sequence": 42, "event_id": "e-1",
                   "aggregate_id": CASE, "aggregate_version": 3, "type": "CaseRejected",
                   "time": "2007-03-01T09:00:00+08:00", "actor": "officer-wang",
                   "actor_client": "gateway", "actor_roles": ["social_assistance.approver", "auditor"],
                   "request_id": "req-7", "traceparent": TRACE, "reason": "income above the line"}


def test_an_event_stored_before_audit_has_null_actor_and_request():
    event = cloudevent()
    del event["data"]["reason"]
    row = audit.row("social_assistance", event)
    assert row["actor"] is row["actor_client"] is row["actor_roles"] is None
    assert row["request_id"] is row["traceparent"] is row["reason"] is None
    assert row["aggregate_id"] == CASE and row["sequence"] == 42


def test_odd_envelopes_still_give_a_row():
    event = {"id": "x", "type": "Bump", "sequence": "7", "data": {"aggregate_id": "agg", "aggregate_version": True}}
    row = audit.row("welfare", event)
    assert row["aggregate_id"] == "agg" and row["aggregate_version"] is None and row["time"] is None
    assert audit.row("welfare", {**event, "actorroles": "", "actor": ""})["actor_roles"] is None
    assert audit.row("welfare", {**event, "data": None})["reason"] is None
    assert len(audit.row("welfare", {**event, "data": {"reason": "x" * 5000}})["reason"]) == audit.MAX_TEXT


def test_the_cursor_round_trips_and_anything_else_is_refused_with_a_code():
    cursor = query.encode_cursor(1_170_000_000_000_000, "welfare", 12)
    assert query.decode_cursor(cursor) == (1_170_000_000_000_000, "welfare", 12)
    forged = [base64.urlsafe_b64encode(text.encode()).decode().rstrip("=") for text in (
        "[1,2]", '["t","welfare",1]', '[1,"welfare",-1]', '[1,"",1]', '[true,"welfare",1]',
        '[1,"welfare",1.5]', '{"a":1}', "not json")] + ["%%%", "A"]
    for bad in forged:
        with pytest.raises(InvalidInput) as refused:
            query.decode_cursor(bad)
        assert refused.value.code == query.BAD_CURSOR and refused.value.field == "after"


def test_a_time_without_offset_is_the_districts():
    assert query.parse_moment("since", "2007-03-01T09:00").isoformat() == "2007-03-01T09:00:00+08:00"
    assert query.parse_moment("since", "2007-03-01T09:00Z").utcoffset().total_seconds() == 0


AUDIT = by_name(COMMANDS)["audit"]


@pytest.mark.parametrize("kwargs, field, code", [
    ({"limit": 0}, "limit", "input.below_minimum"), ({"limit": 501}, "limit", "input.above_ceiling"),
    ({"limit": "10"}, "limit", "input.not_a_whole_number"), ({"aggregate": "x"}, "aggregate", "input.not_a_uuid"),
    ({"actor": ""}, "actor", "input.too_short"), ({"actor": "a\nb"}, "actor", "input.control_character"),
    ({"request": "a b"}, "request", "input.bad_format"), ({"since": "2007-13-01T00:00"}, "since", "input.not_a_datetime"),
    ({"until": "1800-01-01T00:00"}, "until", "input.date_out_of_range"),
    ({"after": "x" * 201}, "after", "input.too_long"), ({"area": "beigang"}, "area", "input.unknown_field"),
])
def test_every_argument_of_the_audit_query_is_bounded(kwargs, field, code):
    with pytest.raises(InvalidInput) as refused:
        AUDIT.bind(kwargs=kwargs)
    assert (refused.value.field, refused.value.code) == (field, code)


def test_every_reporting_declaration_is_bounded_and_has_an_explicit_path():
    for command in COMMANDS:
        assert command.unbounded() == [] and command.path and command.kind == "query"
    assert AUDIT.bind() == {"aggregate": None, "actor": None, "request": None, "since": None,
                            "until": None, "limit": 100, "after": None}
