"""Interface layer: the platform's AsyncAPI 3.0 contract, generated from the registry.

`python -m shared.asyncapi` writes docs/asyncapi.yaml (`--check` exits 1 when the committed file
differs; tests/contract/test_asyncapi.py keeps it equal and has `@asyncapi/parser` validate it).
It describes, from the platform's side (every operation is `send`):

- each registered domain's exchange `<domain>.events` (AMQP 0-9-1 topic exchange, routing key =
  event type), one message per event type: the CloudEvents 1.0 envelope (shared/contract.py) whose
  `data` is a `$ref` to the published JSON Schema file (services/<domain>/schemas/<Type>.v<N>.json,
  shared/schemas/ for the types every domain stores);
- a subscription's HTTP webhook sink (CloudEvents HTTP binding, structured mode or, asked for with
  `protocolsettings.batchsize`, batched mode; Standard Webhooks signatures) with the CloudEvents webhook validation handshake as a request/reply;
- a subscription's own AMQP queue.

No framework here: only the registry, the schema files and PyYAML.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
from pathlib import Path

import yaml

from shared import contract, domains, schemas

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "asyncapi.yaml"
CONTRACT_VERSION = "1.0.0"
SEQUENCE_DESCRIPTION = (
    "CloudEvents sequence extension: the event's position in its source's event store (the "
    f"notification id), a {contract.SEQUENCE_DIGITS}-digit zero-padded decimal string, so that "
    "sequences of one source sort as strings exactly as they sort as numbers, as the extension "
    "requires. It stays readable as an integer: `int(sequence)` is the position that "
    "`GET <service>/events?after=N`, `GET <service>/events/position` and a subscription's replay "
    "position take. Sequences always "
    "increase within a source but may skip numbers (see `prevsequence`).")
EXTENSIONS = {
    "prevsequence": ("The `sequence` of the event this source published just before this one, when "
                     "known: a jump past your position with a matching prevsequence is not a gap."),
    "actor": ("Who acted (the gateway token's subject, or `system:<name>`). Passed to a "
              "subscription only when its legal basis gives it the full data scope."),
    "actorroles": "The actor's roles, comma-separated (full data scope only).",
    "actorclient": "The OAuth client the actor's token was issued to (full data scope only).",
    "requestid": "The request that stored the event (X-Request-ID at the gateway).",
    "traceparent": "W3C trace context of that request (CloudEvents distributed tracing extension).",
}
HANDSHAKE = """Before the first delivery, and whenever the sink changes, the platform sends the
CloudEvents webhook validation handshake (CloudEvents HTTP webhook spec, section 4): an `OPTIONS`
request with `WebHook-Request-Origin` (and `WebHook-Request-Rate`). The sink consents only by
answering 2xx with `WebHook-Allowed-Origin` (that origin or `*`) and `WebHook-Allowed-Rate`
(deliveries per minute, or `*`); anything else leaves the subscription in state `created`."""
WEBHOOK = """A subscription with protocol `HTTP` receives each event as one `POST` to its sink URL:
the CloudEvents HTTP binding in structured mode (`Content-Type: application/cloudevents+json`, the
body is the whole CloudEvent), signed per the Standard Webhooks specification: `webhook-id` is the
CloudEvent `id` (stable across retries: de-duplicate on it), `webhook-timestamp` the Unix time of
this attempt, `webhook-signature` one `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` per valid
secret (two while a secret is being rotated). Answer 2xx to acknowledge; 429 with `Retry-After`
slows delivery down; 410 stops it (the subscription is suspended); anything else is retried with
exponential back-off and jitter, then dead-lettered. Deliveries are in `sequence` order per
source, at least once. The event is scoped by the subscription's legal basis: in the reduced
scope identity numbers are masked, persons' names reduced to their first character and `*`,
incomes, amounts of persons and addresses are left out of `data`, and the `actor`, `actorroles`
and `actorclient` extensions are absent; the full scope delivers the event as published (its
`data` then validates against the schema its `dataschema` names, see the `<domain>.events`
channels' messages).

Batched mode, for a subscription whose `protocolsettings.batchsize` N is above 1 (1 to 1000;
default 1, structured mode): each `POST` carries up to N events in `sequence` order as a JSON array
of structured events (`Content-Type: application/cloudevents-batch+json`), signed over the whole
body; `webhook-id` is `batch_<first event id>_<last event id>`, the same on every retry of that
batch. A batch is answered as a unit (2xx, 429, 410 and failures as above, and
`WebHook-Allowed-Rate` counts requests). After the retry budget the platform sends that batch's
events one at a time in structured mode (each with its own retries and dead letter), so
de-duplicate on each event's `id` or on (`source`, `sequence`), not on `webhook-id`."""
QUEUE = """A subscription with protocol `AMQP` gets its own durable quorum queue (bound to the source's
exchange with its types and filters, with a delivery limit and a dead-letter queue) and its own
RabbitMQ user, which may read that queue and nothing else; the queue name and the credentials
are shown once, at creation. Messages are structured-mode CloudEvents (`content_type`
`application/cloudevents+json`, `message_id` = the CloudEvent `id`, header `ce-sequence`),
scoped by the subscription's legal basis as for webhooks. Consume with manual acknowledgements;
de-duplicate on (`source`, `sequence`). docs/examples/amqp_subscriber.py is a runnable example."""


BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"   # webhooks' batched mode
MAX_BATCH = 1000                                             # events per batch (protocolsettings.batchsize)
EXAMPLE_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"   # the Standard Webhooks spec's example
EXAMPLE_EVENT = {
    "specversion": "1.0", "id": "33a0fa7f-364f-55ee-bb84-a0be4c9768d2",
    "source": contract.source_of("social_assistance"), "type": "CaseApproved",
    "subject": "739cb9a4-50bc-4d72-92a3-926d6881115b", "time": "2007-12-31T09:14:03.083064Z",
    "datacontenttype": "application/json",
    "dataschema": contract.schema_urn("social_assistance", "CaseApproved", 1),
    "sequence": contract.sequence_text(17), "prevsequence": contract.sequence_text(16),
    "requestid": "req-2007-12-31-0001",
    "data": {"aggregate_id": "739cb9a4-50bc-4d72-92a3-926d6881115b", "aggregate_version": 3,
             "officer": "李*", "month": "2007-01", "standard": "200.00"},
}
EXAMPLE_TIMESTAMP = 1199092443


def example_body(event) -> str:
    """The bytes an example is signed over: the event (or a batch's array) as compact JSON."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def example_signature(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """Standard Webhooks v1: base64 HMAC-SHA256 of `id.timestamp.body` with the decoded secret."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def webhook_example() -> dict:
    body = example_body(EXAMPLE_EVENT)
    return {
        "name": "CaseApproved, reduced scope",
        "summary": (f"Signed with the example secret {EXAMPLE_SECRET} over the payload as compact "
                    "JSON (check your verifier with it; its timestamp is long past, so a "
                    "verifier that checks the 5-minute tolerance refuses it). Reduced scope: the "
                    "officer's name reduced, the allowance (an amount) and the actor left out."),
        "headers": {"content-type": contract.CONTENT_TYPE, "webhook-id": EXAMPLE_EVENT["id"],
                    "webhook-timestamp": str(EXAMPLE_TIMESTAMP),
                    "webhook-signature": example_signature(EXAMPLE_SECRET, EXAMPLE_EVENT["id"],
                                                           EXAMPLE_TIMESTAMP, body)},
        "payload": EXAMPLE_EVENT,
    }


def _prose(text: str) -> str:
    """Source-wrapped paragraphs as one line each (the YAML dump wraps them again)."""
    return "\n\n".join(" ".join(p.split()) for p in text.split("\n\n"))


def _relative(path: Path) -> str:
    return Path(os.path.relpath(path.resolve(), OUTPUT.parent)).as_posix()


def _latest(folder: Path) -> dict[str, tuple[int, Path]]:
    """Event type -> (highest contract version, its schema file) in one schema folder."""
    found: dict[str, tuple[int, Path]] = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        match = schemas.SCHEMA_FILE.match(path.name)
        if match and int(match.group(2)) > found.get(match.group(1), (0, path))[0]:
            found[match.group(1)] = (int(match.group(2)), path)
    return found


def event_files(domain: domains.Domain) -> dict[str, tuple[int, Path]]:
    """Every event type a domain publishes: its own schema files and the platform's types."""
    return dict(sorted({**_latest(schemas.PLATFORM_DIR), **_latest(domain.schema_dir)}.items()))


def _schema_title(path: Path) -> tuple[str, str]:
    schema = yaml.safe_load(path.read_text(encoding="utf-8"))  # JSON is YAML
    return schema.get("title", path.stem), schema.get("description", "")


def envelope_schema() -> dict:
    """The CloudEvent envelope every message shares (shared/contract.py builds it)."""
    extensions = {name: {"type": "string", "description": text} for name, text in EXTENSIONS.items()}
    extensions["prevsequence"] = {"$ref": "#/components/schemas/sequence",
                                  "description": EXTENSIONS["prevsequence"]}
    return {
        "type": "object",
        "description": "A CloudEvents 1.0 event in structured mode (application/cloudevents+json).",
        "required": ["specversion", "id", "source", "type", "subject", "time", "datacontenttype",
                     "dataschema", "sequence", "data"],
        "properties": {
            "specversion": {"type": "string", "const": "1.0"},
            "id": {"type": "string", "format": "uuid",
                   "description": "Stable id of the stored event: the same on every re-delivery."},
            "source": {"type": "string", "pattern": schemas.SOURCE.pattern},
            "type": {"type": "string", "description": "Aggregate + event name; the routing key."},
            "subject": {"type": "string", "description": "The record's id (= data.aggregate_id)."},
            "time": {"type": "string", "format": "date-time", "description": "When it was stored."},
            "datacontenttype": {"type": "string", "const": schemas.DATA_CONTENT_TYPE},
            "dataschema": {"type": "string", "pattern": schemas.DATASCHEMA.pattern},
            "sequence": {"$ref": "#/components/schemas/sequence"},
            **extensions,
            "data": {"type": "object"},
        },
    }


def _event_payload(domain: str, event_type: str, version: int, path: Path) -> dict:
    return {"allOf": [
        {"$ref": "#/components/schemas/CloudEvent"},
        {"type": "object", "properties": {
            "source": {"type": "string", "const": contract.source_of(domain)},
            "type": {"type": "string", "const": event_type},
            "dataschema": {"type": "string",
                           "const": contract.schema_urn(domain, event_type, version)},
            "data": {"$ref": _relative(path)}}}]}


def _message(domain: domains.Domain, event_type: str, version: int, path: Path) -> dict:
    title, description = _schema_title(path)
    return {
        "name": event_type,
        "title": title,
        "summary": f"{event_type} (contract v{version}) of the {domain.title} domain",
        "description": description,
        "contentType": contract.CONTENT_TYPE,
        "headers": {"$ref": "#/components/schemas/AmqpHeaders"},
        "payload": _event_payload(domain.name, event_type, version, path),
        "bindings": {"amqp": {"messageType": event_type, "bindingVersion": "0.3.0"}},
    }


def _key(domain: str, event_type: str) -> str:
    return f"{domain}.{event_type}"


def _exchange_channel(domain: domains.Domain, types: list[str]) -> dict:
    return {
        "address": f"{domain.name}.events",
        "title": f"{domain.title}: published events",
        "description": (
            f"The {domain.title} domain's relay publishes every stored event, in `sequence` order, "
            f"to the durable topic exchange `{domain.name}.events` with routing key = the event "
            "type, persistent, with publisher confirms. This is the bureau's internal bus (the "
            "platform's own consumers bind here); municipal subscribers use a subscription "
            "(webhook or their own queue) instead. The same events, byte for byte, are served by "
            f"the domain's feed `GET /events?after=N&limit=M` (the replay source); "
            "`GET /events/position?at=<RFC 3339 date-time with offset>` answers "
            "`{source, at, position}`, the highest `sequence` stored before that time (0 if none), "
            "where a replay from a time starts."),
        "servers": [{"$ref": "#/servers/bus"}],
        "messages": {_key(domain.name, t): {"$ref": f"#/components/messages/{_key(domain.name, t)}"}
                     for t in types},
        "bindings": {"amqp": {"is": "routingKey", "exchange": {
            "name": f"{domain.name}.events", "type": "topic", "durable": True,
            "autoDelete": False, "vhost": "/"}, "bindingVersion": "0.3.0"}},
    }


def _publish_operation(domain: domains.Domain, types: list[str]) -> dict:
    return {
        "action": "send",
        "title": f"Publish {domain.name} events",
        "summary": f"The {domain.name} relay publishes each stored event once it is committed.",
        "channel": {"$ref": f"#/channels/{domain.name}.events"},
        "messages": [{"$ref": f"#/channels/{domain.name}.events/messages/{_key(domain.name, t)}"}
                     for t in types],
        "bindings": {"amqp": {"cc": types, "deliveryMode": 2, "mandatory": False,
                              "bindingVersion": "0.3.0"}},
    }


def _header(description: str, **schema) -> dict:
    return {"type": "string", "description": description, **schema}


def _ref(kind: str, name: str) -> dict:
    return {"$ref": f"#/components/{kind}/{name}"}


def _webhook_headers() -> dict:
    return {
        "type": "object",
        "required": ["content-type", "webhook-id", "webhook-timestamp", "webhook-signature"],
        "properties": {
            "content-type": _header("Structured mode.", const=contract.CONTENT_TYPE),
            "webhook-id": _header("The CloudEvent id; the same on every retry of this event."),
            "webhook-timestamp": _header("Unix seconds of this attempt; refuse one more than "
                                         "5 minutes away from your clock.", pattern=r"^\d+$"),
            "webhook-signature": _header(
                "Space-separated `v1,<base64>` signatures, one per valid secret: HMAC-SHA256 "
                "with the secret (`whsec_<base64>`) of `<webhook-id>.<webhook-timestamp>.<body>`.",
                pattern=r"^v1,[A-Za-z0-9+/=]+( v1,[A-Za-z0-9+/=]+)*$"),
        },
    }


def _batch_headers() -> dict:
    headers = _webhook_headers()
    return {**headers, "properties": {
        **headers["properties"],
        "content-type": _header("Batched mode.", const=BATCH_CONTENT_TYPE),
        "webhook-id": _header("`batch_<first event id>_<last event id>`; the same on every retry of "
                              "this batch.", pattern=r"^batch_[^_]+_[^_]+$")}}


def batch_example() -> dict:
    events = [EXAMPLE_EVENT]
    body = example_body(events)
    msg_id = f"batch_{EXAMPLE_EVENT['id']}_{EXAMPLE_EVENT['id']}"
    return {
        "name": "a batch of one, reduced scope",
        "summary": f"Signed with the example secret {EXAMPLE_SECRET} over the array as compact JSON.",
        "headers": {"content-type": BATCH_CONTENT_TYPE, "webhook-id": msg_id,
                    "webhook-timestamp": str(EXAMPLE_TIMESTAMP),
                    "webhook-signature": example_signature(EXAMPLE_SECRET, msg_id, EXAMPLE_TIMESTAMP, body)},
        "payload": events,
    }


def _handshake_headers() -> tuple[dict, dict]:
    """The OPTIONS request's headers and the consenting reply's."""
    request = {"type": "object", "required": ["WebHook-Request-Origin"], "properties": {
        "WebHook-Request-Origin": _header("The platform's origin (a DNS name) asking for consent."),
        "WebHook-Request-Rate": _header("Deliveries per minute the platform would like to send.",
                                        pattern=r"^\d+$")}}
    reply = {"type": "object", "required": ["WebHook-Allowed-Origin", "WebHook-Allowed-Rate"],
             "properties": {
                 "WebHook-Allowed-Origin": _header("The origin consented to, or `*`."),
                 "WebHook-Allowed-Rate": _header("Deliveries per minute allowed, or `*`.",
                                                 pattern=r"^(\d+|\*)$"),
                 "Allow": _header("Methods the sink accepts (POST).")}}
    return request, reply


def _sink_messages() -> dict:
    scoped = {"$ref": "#/components/schemas/CloudEvent",
              "description": "The event scoped by the subscription's legal basis."}
    return {
        "webhookEvent": {
            "name": "WebhookEvent", "title": "An event delivered to a webhook",
            "contentType": contract.CONTENT_TYPE, "headers": _ref("schemas", "WebhookHeaders"),
            "payload": scoped, "examples": [webhook_example()],
            "bindings": {"http": {"bindingVersion": "0.3.0"}}},
        "webhookBatch": {
            "name": "WebhookBatch", "title": "A batch of events delivered to a webhook (batched mode)",
            "contentType": BATCH_CONTENT_TYPE, "headers": _ref("schemas", "WebhookBatchHeaders"),
            "payload": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH, "items": scoped,
                        "description": "Up to `protocolsettings.batchsize` events, in `sequence` order."},
            "examples": [batch_example()], "bindings": {"http": {"bindingVersion": "0.3.0"}}},
        "validationRequest": {
            "name": "ValidationRequest", "title": "Webhook validation handshake (OPTIONS)",
            "description": _prose(HANDSHAKE), "headers": _ref("schemas", "ValidationRequestHeaders"),
            "payload": {"type": "null", "description": "An OPTIONS request has no body."}},
        "validationReply": {
            "name": "ValidationReply", "title": "The sink's consent",
            "headers": _ref("schemas", "ValidationReplyHeaders"), "payload": {"type": "null"},
            "bindings": {"http": {"statusCode": 200, "bindingVersion": "0.3.0"}}},
        "queueEvent": {
            "name": "QueueEvent", "title": "An event delivered to a subscription's queue",
            "contentType": contract.CONTENT_TYPE, "headers": _ref("schemas", "AmqpHeaders"),
            "payload": scoped, "bindings": {"amqp": {"bindingVersion": "0.3.0"}}},
    }


def sink_components() -> dict:
    """Schemas and messages of the subscription sinks (webhook, handshake, own queue)."""
    request, reply = _handshake_headers()
    return {"schemas": {"WebhookHeaders": _webhook_headers(), "WebhookBatchHeaders": _batch_headers(),
                        "ValidationRequestHeaders": request,
                        "ValidationReplyHeaders": reply},
            "messages": _sink_messages()}


def sink_channels() -> dict:
    return {
        "subscriptionWebhook": {
            "address": "{sinkPath}",
            "title": "A subscription's HTTP webhook sink",
            "description": _prose(WEBHOOK + "\n\n" + HANDSHAKE),
            "servers": [{"$ref": "#/servers/webhookSink"}],
            "parameters": {"sinkPath": {
                "description": "The path (and query) of the subscription's sink URL."}},
            "messages": {name: {"$ref": f"#/components/messages/{name}"}
                         for name in ("webhookEvent", "webhookBatch", "validationRequest", "validationReply")},
        },
        "subscriptionQueue": {
            "address": "{queue}",
            "title": "A subscription's own AMQP queue",
            "description": _prose(QUEUE),
            "servers": [{"$ref": "#/servers/bus"}],
            "parameters": {"queue": {"description": "The queue name given at the subscription's creation."}},
            "messages": {"queueEvent": {"$ref": "#/components/messages/queueEvent"}},
            "bindings": {"amqp": {"is": "queue", "queue": {
                "name": "{queue}", "durable": True, "exclusive": False, "autoDelete": False,
                "vhost": "/"}, "bindingVersion": "0.3.0"}},
        },
    }


def sink_operations() -> dict:
    webhook = "#/channels/subscriptionWebhook"
    return {
        "deliverToWebhook": {
            "action": "send", "title": "Deliver an event to a webhook",
            "channel": {"$ref": webhook},
            "messages": [{"$ref": f"{webhook}/messages/webhookEvent"},
                         {"$ref": f"{webhook}/messages/webhookBatch"}],
            "bindings": {"http": {"method": "POST", "bindingVersion": "0.3.0"}}},
        "validateWebhook": {
            "action": "send", "title": "Ask a webhook sink for consent",
            "description": _prose(HANDSHAKE), "channel": {"$ref": webhook},
            "messages": [{"$ref": f"{webhook}/messages/validationRequest"}],
            "reply": {"channel": {"$ref": webhook},
                      "messages": [{"$ref": f"{webhook}/messages/validationReply"}]},
            "bindings": {"http": {"method": "OPTIONS", "bindingVersion": "0.3.0"}}},
        "deliverToQueue": {
            "action": "send", "title": "Deliver an event to a subscription's queue",
            "channel": {"$ref": "#/channels/subscriptionQueue"},
            "messages": [{"$ref": "#/channels/subscriptionQueue/messages/queueEvent"}],
            "bindings": {"amqp": {"deliveryMode": 2, "mandatory": False, "bindingVersion": "0.3.0"}}},
    }


def servers() -> dict:
    return {
        "bus": {"host": "rabbitmq:5672", "protocol": "amqp", "protocolVersion": "0.9.1",
                "title": "The bureau's RabbitMQ",
                "description": "`rabbitmq:5672` in a cluster, 127.0.0.1:5672 under `make run`.",
                "security": [{"$ref": "#/components/securitySchemes/brokerUser"}]},
        "webhookSink": {"host": "{sinkHost}", "protocol": "https",
                        "title": "A subscriber's webhook server",
                        "description": "The host of a subscription's sink URL (http only where the "
                                       "operator's allow-list permits it).",
                        "variables": {"sinkHost": {"description": "host[:port] of the sink URL"}}},
    }


def _components(messages: dict) -> dict:
    sinks = sink_components()
    return {
        "schemas": {"sequence": {"type": "string", "pattern": rf"^\d{{{contract.SEQUENCE_DIGITS}}}$",
                                 "description": SEQUENCE_DESCRIPTION,
                                 "examples": [contract.sequence_text(17)]},
                    "CloudEvent": envelope_schema(),
                    "AmqpHeaders": {"type": "object", "properties": {
                        "ce-sequence": {"$ref": "#/components/schemas/sequence"}}},
                    **sinks["schemas"]},
        "messages": {**messages, **sinks["messages"]},
        "securitySchemes": {"brokerUser": {
            "type": "userPassword",
            "description": ("Each platform process has its own RabbitMQ user (shared/broker_users.py); "
                            "each AMQP subscription its own user, which may read its queue and "
                            "nothing else (credentials shown once, at creation).")}},
    }


def document() -> dict:
    """The whole AsyncAPI 3.0 document as a dict."""
    channels, operations, messages = {}, {}, {}
    for domain in domains.registered():
        files = event_files(domain)
        types = list(files)
        channels[f"{domain.name}.events"] = _exchange_channel(domain, types)
        operations[f"publish.{domain.name}"] = _publish_operation(domain, types)
        for event_type, (version, path) in files.items():
            messages[_key(domain.name, event_type)] = _message(domain, event_type, version, path)
    return {
        "asyncapi": "3.0.0",
        "id": "urn:zhonglou-civil-affairs:events",
        "info": {"title": "Zhonglou District Civil Affairs Bureau: events and subscriptions",
                 "version": CONTRACT_VERSION,
                 "description": ("Generated by `python -m shared.asyncapi` from services/registry.py "
                                 "and the published JSON Schemas; do not edit by hand. Written from "
                                 "the platform's side: every operation is one it sends.\n\n"
                                 "Subscriptions (source, types, filters, sink, protocol, legal "
                                 "basis) are created and managed by administrators through the "
                                 "gateway (`POST /subscriptions`, docs/gateway.openapi.json); "
                                 "docs/examples/ has a runnable subscriber for each sink.\n\n"
                                 "`sequence`: " + SEQUENCE_DESCRIPTION)},
        "defaultContentType": contract.CONTENT_TYPE,
        "servers": servers(),
        "channels": {**channels, **sink_channels()},
        "operations": {**operations, **sink_operations()},
        "components": _components(messages),
    }


def render() -> str:
    header = "# Generated by `python -m shared.asyncapi`; do not edit (tests/contract/test_asyncapi.py).\n"
    return header + yaml.safe_dump(document(), sort_keys=False, allow_unicode=True, width=100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed file differs")
    args = parser.parse_args(argv)
    if os.environ.get(domains.EXTRA_ENV):
        print(f"note: {domains.EXTRA_ENV} adds domains to the document; the committed one is "
              "the registry's alone", file=sys.stderr)
    text = render()
    if args.check:
        same = OUTPUT.is_file() and OUTPUT.read_text(encoding="utf-8") == text
        print(f"{OUTPUT}: {'up to date' if same else 'differs: run python -m shared.asyncapi'}")
        return 0 if same else 1
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
