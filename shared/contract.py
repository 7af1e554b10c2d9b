"""Interface layer: stored domain events as the platform's public contract, CloudEvents 1.0.

Every stored event becomes one structured-mode CloudEvent:
  id        stable per stored event (same id on every re-publish, so duplicates are detectable)
  source    urn:zhonglou-civil-affairs:<service>
  type      aggregate + event name, e.g. CaseApproved (also the AMQP routing key, as in Nameko)
  subject   the aggregate id
  sequence  the notification id in the service's event store, zero-padded to 20 digits so that
            sequences sort as strings exactly as they sort as numbers (the CloudEvents sequence
            extension requires string order); it stays readable as a number: `int(sequence)` is
            the position the feed (`?after=`, `/events/position`) and subscriptions use
  prevsequence the id of the event published just before this one, when known: ids of
            rolled-back transactions are never used, so a consumer seeing sequence jump past
            its position checks prevsequence before fetching a "missing" range
  dataschema urn of the JSON Schema of this type and contract version (services/<domain>/schemas/...)
  actor, actorclient, actorroles, requestid, traceparent
            who acted and through which request (the event's `audit`, shared/audit.py), as
            extension attributes, never in `data`: `traceparent` is the W3C trace context of the
            request (the CloudEvents distributed-tracing extension); the others are for the
            platform's own consumers (the audit read model) — docs/events.md says what travels
            where. An event stored without an audit has none of them.
Personal data never leaves in clear: identity numbers are masked; birth dates, phone numbers
and contact names dropped.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from uuid import NAMESPACE_URL, UUID, uuid5

from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.formats.json import _JSONEncoderWithDatetime as _SDKEncoder  # its datetimes
from cloudevents.core.v1.event import SPECVERSION_V1_0 as SPECVERSION, CloudEvent

from shared import identity

CONTENT_TYPE = JSONFormat.CONTENT_TYPE  # application/cloudevents+json
SEQUENCE_DIGITS = 20
MASKED_FIELDS = {"id_number": identity.mask}
# Contact details are never published: a phone number, and the name of a person who contacted the
# bureau (a complainant's `contact_name`); they stay in the (encrypted) event store only.
DROPPED_FIELDS = {"birth_date", "phone", "contact_name"}
ENVELOPE_FIELDS = {"originator_id", "originator_version", "timestamp", "originator_topic", "audit"}
# audit key -> extension attribute (CloudEvents: lower-case letters and digits, at most 20)
AUDIT_EXTENSIONS = {"actor": "actor", "client": "actorclient", "roles": "actorroles",
                    "request_id": "requestid", "traceparent": "traceparent"}
_format = JSONFormat()
_SDK_JSON = _SDKEncoder()   # the SDK's JSON writer's encoder (json.dumps would make one per event)


def source_of(service: str) -> str:
    return f"urn:zhonglou-civil-affairs:{service}"


def service_of(source: str) -> str:
    return source.rsplit(":", 1)[-1]


def type_of(domain_event) -> str:
    """Aggregate name + event name: Case.Approved -> CaseApproved."""
    return type(domain_event).__qualname__.replace(".", "")


def schema_urn(service: str, event_type: str, version: int) -> str:
    return f"urn:zhonglou-civil-affairs:schema:{service}:{event_type}:v{version}"


def schema_dir(service: str) -> Path:
    """The folder of a registered domain's event schemas (package data of its folder)."""
    from shared import domains
    return domains.get(service).schema_dir


def schema_path(service: str, event_type: str, version: int = 1) -> Path:
    return schema_dir(service) / f"{event_type}.v{version}.json"


def public(value):
    """Event attributes as JSON-ready primitives, with personal data masked or dropped."""
    if isinstance(value, dict):
        return {k: MASKED_FIELDS[k](v) if k in MASKED_FIELDS else public(v)
                for k, v in value.items() if k not in DROPPED_FIELDS}
    if isinstance(value, (list, tuple)):
        return [public(v) for v in value]
    if isinstance(value, (UUID, Decimal)):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def sequence_text(notification_id: int) -> str:
    return str(notification_id).zfill(SEQUENCE_DIGITS)


def to_cloudevents(app, notifications, previous: int | None = None) -> list[CloudEvent]:
    """Stored notifications as CloudEvents, each chained to the one before it."""
    events = []
    for notification in notifications:
        events.append(to_cloudevent(app.name, notification.id, app.mapper.to_domain_event(notification),
                                    previous))
        previous = notification.id
    return events


def to_cloudevent(service: str, notification_id: int, domain_event,
                  previous: int | None = None) -> CloudEvent:
    return CloudEvent(*_envelope(service, notification_id, domain_event, previous))


@dataclass(frozen=True)
class Outgoing:
    """A CloudEvent ready to publish: `body` is byte for byte what `encode(to_cloudevent(...))`
    writes; `id`, `type` and `sequence` are what the AMQP message carries beside it."""
    body: bytes
    id: str
    type: str
    sequence: str


def to_outgoing(app, notifications, previous: int | None = None) -> list[Outgoing]:
    """What `to_cloudevents` makes, encoded, without building and validating the SDK's
    CloudEvent per event (a third of the relay's CPU per event, docs/performance.md). The
    envelope is the same function's; the SDK's JSON writer appends `specversion` and `data` to
    the attributes in this order (tests/contract/test_outgoing.py keeps the bytes equal)."""
    out = []
    for notification in notifications:
        attributes, data = _envelope(app.name, notification.id, app.mapper.to_domain_event(notification),
                                     previous)
        body = _SDK_JSON.encode({**attributes, "specversion": SPECVERSION, "data": data})
        out.append(Outgoing(body.encode("utf-8"), attributes["id"], attributes["type"], attributes["sequence"]))
        previous = notification.id
    return out


def _envelope(service: str, notification_id: int, domain_event, previous: int | None) -> tuple[dict, dict]:
    """(attributes, data) of the CloudEvent of a stored event."""
    event_type = type_of(domain_event)
    version = getattr(type(domain_event), "contract_version", 1)
    aggregate_id = str(domain_event.originator_id)
    data = {"aggregate_id": aggregate_id,
            "aggregate_version": domain_event.originator_version,
            **public({k: v for k, v in domain_event.__dict__.items() if k not in ENVELOPE_FIELDS})}
    extensions = audit_extensions(getattr(domain_event, "audit", None))
    if previous is not None:
        extensions["prevsequence"] = sequence_text(previous)
    return {
        **extensions,
        "id": str(uuid5(NAMESPACE_URL, f"{service}:{aggregate_id}:{domain_event.originator_version}")),
        "source": source_of(service),
        "type": event_type,
        "subject": aggregate_id,
        "time": domain_event.timestamp,
        "datacontenttype": "application/json",
        "dataschema": schema_urn(service, event_type, version),
        "sequence": sequence_text(notification_id),
    }, data


def audit_extensions(audit: dict | None) -> dict:
    """The event's audit as CloudEvent extension attributes (strings; roles comma-separated)."""
    extensions = {}
    for key, name in AUDIT_EXTENSIONS.items():
        value = (audit or {}).get(key)
        if isinstance(value, (list, tuple)):
            value = ",".join(value)
        if value:
            extensions[name] = str(value)
    return extensions


def encode(event: CloudEvent) -> bytes:
    return _format.write(event)


def decode(body: bytes | str) -> CloudEvent:
    """Parse a structured CloudEvent; raises ValueError (or a CloudEvents validation error)."""
    return _format.read(None, body)


def parse(body: bytes | str) -> dict:
    """A structured CloudEvent checked by the SDK, as the plain dict of its JSON. Equal to
    `as_dict(decode(body))` for what the relay writes, without encoding it again to get there."""
    decode(body)
    return json.loads(body)


def as_dict(event: CloudEvent) -> dict:
    return json.loads(encode(event))


def sequence_of(event: CloudEvent) -> int:
    return int(event.get_extension("sequence"))
