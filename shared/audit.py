"""Domain layer, shared by every domain: who acted, and through which request, as fields of the
events themselves.

eventsourcing stores no metadata beside an event, so every aggregate of the platform derives from
`AuditedAggregate`, whose events carry one more field, `audit`:

    {"actor": "officer-li" | "system:demo", "roles": [...], "client": "<client id>" | None,
     "request_id": "...", "traceparent": "00-<trace id>-<span id>-01" | None}

The application layer never passes it: the interface layer (the Nameko service, from the caller's
context data) sets it for the duration of one command with `acting(...)`, and every event that
command triggers takes it from there. Events stored before this field existed load with
`audit = None` (the dataclass default), so no upcast is needed.

`Disclosure` records that personal data was shown unmasked: who saw which record's identity
numbers, when, and why. It is stored in the store of the domain that showed it, so the disclosure
travels the same path (relay, bus, audit read model) as every change.
"""
from __future__ import annotations

import contextvars
from contextlib import contextmanager
from dataclasses import field
from typing import Any

from eventsourcing.domain import Aggregate, event

_CURRENT: contextvars.ContextVar[dict | None] = contextvars.ContextVar("audit", default=None)

# The keys of the caller's context data (Nameko sends them as `nameko.<key>` message headers).
CONTEXT_KEYS = ACTOR, ROLES, CLIENT, REQUEST_ID, TRACEPARENT, REASON = (
    "actor", "actor_roles", "actor_client", "request_id", "traceparent", "reason")


REVEAL = "reveal_identity"   # the query argument that shows identity numbers unmasked
MAX_REASON = 500


def check_reason(reason, field: str = "reason") -> str:
    """A reveal's reason: required text of at most MAX_REASON characters (the gateway checks it
    before any call, the service for every caller, the Disclosure when it is recorded)."""
    from shared.errors import InvalidInput
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput(field, "revealing identity numbers needs a reason (why they are shown); "
                           "it is recorded", code="audit.reveal_reason_required")
    if len(reason) > MAX_REASON:
        raise InvalidInput(field, f"must be at most {MAX_REASON} characters", code="input.too_long")
    return reason.strip()


def current() -> dict | None:
    """The audit of the command being handled, or None outside one."""
    return _CURRENT.get()


@contextmanager
def acting(audit: dict | None):
    """Every event triggered inside this block carries `audit`."""
    token = _CURRENT.set(audit)
    try:
        yield audit
    finally:
        _CURRENT.reset(token)


def from_context(data: dict, fallback_request_id: str | None = None) -> dict | None:
    """The audit of a call from its context data (None when the caller gave neither an actor
    nor a request id). Roles travel as one comma-separated header value."""
    actor, request_id = data.get(ACTOR), data.get(REQUEST_ID) or fallback_request_id
    if not actor and not request_id:
        return None
    roles = data.get(ROLES) or ""
    return {"actor": str(actor)[:200] if actor else None,
            "roles": [r for r in str(roles).split(",") if r][:20],
            "client": str(data[CLIENT])[:200] if data.get(CLIENT) else None,
            "request_id": str(request_id)[:200] if request_id else None,
            "traceparent": str(data[TRACEPARENT])[:55] if data.get(TRACEPARENT) else None}


def to_context(actor: str, roles=(), client: str | None = None, request_id: str | None = None,
               traceparent: str | None = None, reason: str | None = None) -> dict:
    """Context data for an RPC call (values None are left out: they are not sent)."""
    values = {ACTOR: actor, ROLES: ",".join(roles) or None, CLIENT: client,
              REQUEST_ID: request_id, TRACEPARENT: traceparent, REASON: reason}
    return {key: value for key, value in values.items() if value is not None}


class AuditedAggregate(Aggregate):
    """An aggregate whose every event carries the `audit` of the command that triggered it."""

    class Event(Aggregate.Event):
        audit: Any = field(default=None, kw_only=True)

    class Created(Event, Aggregate.Created):
        pass

    def trigger_event(self, event_class, **kwargs) -> None:
        kwargs.setdefault("audit", current())
        super().trigger_event(event_class, **kwargs)

    @classmethod
    def _create(cls, event_class, *, id=None, **kwargs):  # noqa: A002 (eventsourcing's name)
        kwargs.setdefault("audit", current())
        return super()._create(event_class, id=id, **kwargs)


class Disclosure(AuditedAggregate):
    """Personal data shown unmasked: the record, which fields, and why (the actor is in `audit`)."""

    @classmethod
    def record(cls, record_type: str, record_id: str, fields, reason) -> "Disclosure":
        return cls(record_type, str(record_id), list(fields), check_reason(reason))

    @event("Recorded")
    def __init__(self, record_type: str, record_id: str, fields: list, reason: str):
        self.record_type = record_type
        self.record_id = record_id
        self.fields = list(fields)
        self.reason = reason
