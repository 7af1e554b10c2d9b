"""Application layer of reporting: the audit query over `read_model.audit_trail` (the projection
writes it, services/projection/audit.py).

`audit_page(conn, schema, **filters)` reads one page from a read-only REPEATABLE READ snapshot:
the events matching every filter given (aggregate id, actor, request id, a time range `since`
inclusive to `until` exclusive), **newest first** (by time, then source, then sequence, so the
order is total), at most `limit`, after the cursor `after`. The cursor is opaque to callers:
base64url of the last row's ordering key, `[microseconds since 1970, source, sequence]`, so the
next page starts exactly after it (keyset pagination: no offset, no row given twice or missed
while the projection adds newer events). Arguments arrive checked by the declaration
(services/reporting/commands.py); this module checks what the declaration cannot (the cursor's
content, `since` before `until`) and raises InvalidInput with a stable code. No Nameko.
"""
from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timedelta, timezone

from psycopg import sql

from shared.errors import InvalidInput
from shared.report_kit import NOT_INITIALISED, missing_relations, snapshot_cursor

TABLE = "audit_trail"
ORDER = "newest first"
DISTRICT_OFFSET = timezone(timedelta(hours=8))  # a time written without an offset is local
BAD_CURSOR = "report.audit_bad_cursor"
RANGE_REVERSED = "report.audit_range_reversed"
MAX_SOURCE = 64
MAX_KEY_US = 10 ** 17  # microseconds: far beyond year 2100, far below bigint

SELECT = """SELECT source, sequence, event_id, aggregate_id, aggregate_version, type, time,
                   actor, actor_client, actor_roles, request_id, traceparent, reason,
                   (extract(epoch FROM at) * 1000000)::bigint AS at_us
            FROM {schema}.audit_trail"""
KEYSET = """(at, source, sequence) < (timestamptz '1970-01-01 00:00:00+00'
                                      + %(after_us)s * interval '1 microsecond',
                                      %(after_source)s, %(after_sequence)s)"""


def encode_cursor(at_us: int, source: str, sequence: int) -> str:
    text = json.dumps([at_us, source, sequence], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str, int]:
    """The ordering key a cursor holds; InvalidInput (report.audit_bad_cursor) for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at_us, source, sequence = json.loads(raw)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        at_us = source = sequence = None
    if not (_whole(at_us) and 0 <= at_us < MAX_KEY_US and isinstance(source, str)
            and 0 < len(source) <= MAX_SOURCE and _whole(sequence) and 0 <= sequence < 2 ** 63):
        raise InvalidInput("after", "is not a cursor of the audit trail (give the `next` of a page)",
                           code="report.audit_bad_cursor")
    return at_us, source, sequence


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_moment(field: str, value: str | None) -> datetime | None:
    """A checked ISO 8601 text (the declaration's DateTime) as an aware datetime."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=DISTRICT_OFFSET)


def _where(aggregate, actor, request, since, until, after) -> tuple[list[str], dict]:
    clauses, params = [], {}
    for column, value in (("aggregate_id", aggregate), ("actor", actor), ("request_id", request)):
        if value is not None:
            clauses.append(f"{column} = %({column})s")
            params[column] = value
    if since is not None:
        clauses.append("at >= %(since)s")
        params["since"] = since
    if until is not None:
        clauses.append("at < %(until)s")
        params["until"] = until
    if after is not None:
        params["after_us"], params["after_source"], params["after_sequence"] = decode_cursor(after)
        clauses.append(KEYSET)
    return clauses, params


def _event(row: dict) -> dict:
    return {"source": row["source"], "sequence": row["sequence"], "event_id": row["event_id"],
            "aggregate_id": row["aggregate_id"], "aggregate_version": row["aggregate_version"],
            "type": row["type"], "time": row["time"].isoformat() if row["time"] else None,
            "actor": row["actor"], "actor_client": row["actor_client"],
            "actor_roles": row["actor_roles"], "request_id": row["request_id"],
            "traceparent": row["traceparent"], "reason": row["reason"]}


def audit_page(conn, schema: str, *, aggregate=None, actor=None, request=None, since=None,
               until=None, limit: int = 100, after=None) -> dict:
    """One page of the audit trail: {"order", "events", "next", "initialised", "note"}; `next`
    is None on the last page. The connection must not be in a transaction."""
    start, end = parse_moment("since", since), parse_moment("until", until)
    if start is not None and end is not None and start >= end:
        raise InvalidInput("until", "must be after since", code="report.audit_range_reversed")
    clauses, params = _where(aggregate, actor, request, start, end, after)
    with snapshot_cursor(conn) as curs:
        if missing_relations(conn, schema, [TABLE]):
            return {"order": ORDER, "events": [], "next": None, "initialised": False,
                    "note": NOT_INITIALISED}
        text = (SELECT + (" WHERE " + " AND ".join(clauses) if clauses else "")
                + " ORDER BY at DESC, source DESC, sequence DESC LIMIT %(limit)s")
        # Only the schema is an identifier; every value is a bound parameter.
        query = sql.SQL(text.replace("{schema}", "{}")).format(sql.Identifier(schema))
        rows = curs.execute(query, {**params, "limit": limit + 1}).fetchall()
    page, more = rows[:limit], len(rows) > limit
    last = page[-1] if page else None
    return {"order": ORDER, "events": [_event(row) for row in page],
            "next": encode_cursor(last["at_us"], last["source"], last["sequence"]) if more else None,
            "initialised": True, "note": None}
