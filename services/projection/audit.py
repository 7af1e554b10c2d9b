"""Infrastructure layer of the projection service: the audit trail, `read_model.audit_trail`.

One row per event of every source, whatever its type and whether any domain handles it: who
acted (the CloudEvent extensions `actor`, `actorclient`, `actorroles`), through which request
(`requestid`, `traceparent`), on which aggregate (`subject`) at which version, when (`time`) and
why (`data.reason`, when the event carries one). It is generic: it reads only the envelope, never
a domain's data beyond `reason`, so a domain registered later is audited without an edit here.

The row is written by `ReadModel._apply` in the same transaction (and savepoint) as the domain
handler of the event, under the same tracking position: exactly once, and a rebuild replays it.
An event stored before audit existed has none of the extensions: its actor and request are NULL.
An event the domain tables cannot take (a poison event, skipped and dead-lettered) is absent here
until it applies (read_model.skipped_events lists it meanwhile).

`at` is the ordering key of the audit query (services/reporting/audit.py): the event's time, or
1970-01-01 for an event without one (the CloudEvents `time` is optional; the relay always sets
it), so that keyset pagination never meets a NULL. No eventsourcing, no Nameko.
"""
from __future__ import annotations

TABLE = "audit_trail"

COLUMNS = """
    source text NOT NULL, sequence bigint NOT NULL, event_id text, aggregate_id text,
    aggregate_version bigint, type text NOT NULL, time timestamptz,
    at timestamptz NOT NULL GENERATED ALWAYS AS
        (coalesce(time, timestamptz '1970-01-01 00:00:00+00')) STORED,
    actor text, actor_client text, actor_roles text[], request_id text, traceparent text,
    reason text, PRIMARY KEY (source, sequence)"""

# The audit query filters by one of these and orders by (at, source, sequence), newest first.
INDEXES = {
    "audit_trail_at": "(at, source, sequence)",
    "audit_trail_aggregate": "(aggregate_id, at, source, sequence)",
    "audit_trail_actor": "(actor, at, source, sequence)",
    "audit_trail_request": "(request_id, at, source, sequence)",
}

INSERT = """INSERT INTO {s}.audit_trail (source, sequence, event_id, aggregate_id,
                aggregate_version, type, time, actor, actor_client, actor_roles, request_id,
                traceparent, reason)
            VALUES (%(source)s, %(sequence)s, %(event_id)s, %(aggregate_id)s,
                    %(aggregate_version)s, %(type)s, %(time)s, %(actor)s, %(actor_client)s,
                    %(actor_roles)s, %(request_id)s, %(traceparent)s, %(reason)s)
            ON CONFLICT (source, sequence) DO NOTHING"""

MAX_TEXT = 2000  # characters kept of a free-text field (a reason is at most 500 when declared)


def _text(value) -> str | None:
    """An extension or field as text, or None when absent or empty."""
    if value is None or value == "":
        return None
    return str(value)[:MAX_TEXT]


def _roles(value) -> list[str] | None:
    """`actorroles` is comma-separated on the wire (CloudEvents extensions are strings)."""
    if value is None or value == "":
        return None
    if isinstance(value, (list, tuple)):
        return [str(role) for role in value]
    return [role.strip() for role in str(value).split(",") if role.strip()]


def _version(value) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def row(source: str, event: dict) -> dict:
    """The audit row of one CloudEvent dict (as the projection receives it)."""
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    return {"source": source, "sequence": int(event["sequence"]), "event_id": _text(event.get("id")),
            "aggregate_id": _text(event.get("subject") or data.get("aggregate_id")),
            "aggregate_version": _version(data.get("aggregate_version")),
            "type": str(event.get("type", "")), "time": _text(event.get("time")),
            "actor": _text(event.get("actor")), "actor_client": _text(event.get("actorclient")),
            "actor_roles": _roles(event.get("actorroles")),
            "request_id": _text(event.get("requestid")),
            "traceparent": _text(event.get("traceparent")), "reason": _text(data.get("reason"))}


def record(db, source: str, event: dict) -> None:
    """Write the event's audit row (`db` is the projection's `Statements`)."""
    db.exec(INSERT, row(source, event))
