"""Infrastructure layer: AMQP sinks of subscriptions, made through the RabbitMQ management HTTP API.

An AMQP subscription gets, in the platform's vhost:

    subscriptions.deliveries          direct exchange, one per platform: the delivery process
                                      publishes each subscription's filtered, scoped CloudEvents
                                      here with routing key = the subscription id
    subscription.<id>                 durable quorum queue bound to it with key <id>; at most
                                      `delivery_limit` redeliveries, then dead-lettered
    subscriptions.dead-letters        direct exchange, one per platform (the dead-letter exchange)
    subscription.<id>.dead            durable quorum queue bound to it with key <id>: the
                                      subscription's dead letters, for an operator to look at
                                      and re-drive (the subscriber cannot read it)
    user <vhost>.subscriber.<id>      a RabbitMQ user of its own, with a generated password that
                                      is returned once: configure nothing, write nothing, read
                                      only `^subscription\\.<id>$`

`dead_letter_count` and `redrive` are the operator's: how many dead letters wait, and moving them
back into the subscription's queue. `deprovision` removes the user (closing its connections) and both queues; the two exchanges
stay (they are the platform's). Dead-lettering is at-least-once (quorum queues with
`x-dead-letter-strategy: at-least-once`, which needs `x-overflow: reject-publish`).

`deliver(connection, subscription_id, events)` publishes CloudEvents (dicts, as the feed and
`scope.scoped` give them) in structured mode (`application/cloudevents+json`), persistent,
`mandatory`, with publisher confirms, `message_id` = the CloudEvent id (what a consumer
de-duplicates on), and returns once the broker confirmed every one.

The management API's address is `RABBITMQ_MANAGEMENT_URL` (default http://127.0.0.1:15672), the
administrator's name and password `RABBITMQ_MANAGEMENT_USER` / `RABBITMQ_MANAGEMENT_PASSWORD`
(default guest/guest, which RabbitMQ accepts on loopback only). The management plugin is off by
default: `rabbitmq-plugins enable rabbitmq_management` (`make tools` does it where it can).
Standard library only (urllib); the AMQP connection is py-amqp's, as the rest of the platform.
"""
from __future__ import annotations

import base64
import json
import os
import re
import secrets
import socket
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import amqp

from shared.broker_users import HASHING, checked, password_hash
from shared.errors import Conflict, InvalidInput, NotFound

DELIVERIES_EXCHANGE = "subscriptions.deliveries"
DEAD_LETTER_EXCHANGE = "subscriptions.dead-letters"
CONTENT_TYPE = "application/cloudevents+json"
DEFAULT_URL = "http://127.0.0.1:15672"
DEFAULT_DELIVERY_LIMIT = 10
MAX_DELIVERY_LIMIT = 100
MAX_EVENTS = 10_000            # one deliver() call: bounded
MAX_EVENT_BYTES = 1_000_000    # one CloudEvent, encoded
HTTP_TIMEOUT = 10.0
SUBSCRIPTION_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
NOTHING = "^$"
# The delivery process's broker user (for shared/broker_users.py's table): publish to the
# deliveries exchange, nothing else (the exchanges and queues are made through the management API).
DELIVERY_PERMISSIONS = {"configure": NOTHING, "write": r"^subscriptions\.deliveries$", "read": NOTHING}


class ManagementUnavailable(RuntimeError):
    """The management API does not answer (plugin off, wrong URL) or refuses the administrator."""


class DeliveryRefused(RuntimeError):
    """The broker nacked or returned (unroutable: no queue) a published event, or never confirmed."""


@dataclass(frozen=True)
class Credentials:
    """What the subscriber is told once, at creation: never stored in plain anywhere."""
    username: str
    password: str
    vhost: str
    queue: str

    def as_dict(self) -> dict:
        return asdict(self)

    def uri(self, broker: str = "amqp://127.0.0.1:5672") -> str:
        """The subscriber's AMQP URI on `broker` (scheme, host and port; amqps for TLS)."""
        return _uri_of(broker.rstrip("/") + "/" + quote(self.vhost, safe=""), self.username, self.password)


def _uri_of(amqp_uri: str, user: str, password: str) -> str:
    parts = urlsplit(amqp_uri)
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.hostname or '127.0.0.1'}" + (
        f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme or "amqp", netloc, parts.path, "", ""))


# --- names ----------------------------------------------------------------------------------------

def checked_id(subscription_id: str) -> str:
    """A server-made subscription id (a lower-case UUID): safe in queue names and regexes."""
    if not isinstance(subscription_id, str) or not SUBSCRIPTION_ID.match(subscription_id):
        raise InvalidInput("subscription_id", "must be a lower-case UUID (the id the service made)",
                           code="subscription.id_format")
    return subscription_id


def queue_name(subscription_id: str) -> str:
    return f"subscription.{checked_id(subscription_id)}"


def dead_letter_queue(subscription_id: str) -> str:
    return f"{queue_name(subscription_id)}.dead"


def subscriber_user(vhost: str, subscription_id: str) -> str:
    """`<vhost>.subscriber.<id>`: per vhost like every broker user (shared/broker_users.py), so the
    test sessions' clean-up of `<vhost>.` users takes these too."""
    return f"{checked('vhost', vhost)}.subscriber.{checked_id(subscription_id)}"


def read_permission(subscription_id: str) -> str:
    """Exactly `^subscription\\.<id>$` (the id is a checked UUID: no regex characters but '-')."""
    return f"^subscription\\.{checked_id(subscription_id)}$"


def checked_limit(delivery_limit: int) -> int:
    if isinstance(delivery_limit, bool) or not isinstance(delivery_limit, int) \
            or not 1 <= delivery_limit <= MAX_DELIVERY_LIMIT:
        raise InvalidInput("delivery_limit", f"must be a whole number 1..{MAX_DELIVERY_LIMIT}",
                           code="subscription.delivery_limit")
    return delivery_limit


# --- the management API ---------------------------------------------------------------------------

class Management:
    """A small client of the RabbitMQ management HTTP API (JSON over HTTP, basic auth)."""

    def __init__(self, url: str | None = None, user: str | None = None, password: str | None = None,
                 timeout: float = HTTP_TIMEOUT):
        env = os.environ
        self.url = (url or env.get("RABBITMQ_MANAGEMENT_URL") or DEFAULT_URL).rstrip("/")
        self.user = user or env.get("RABBITMQ_MANAGEMENT_USER") or "guest"
        self.password = password or env.get("RABBITMQ_MANAGEMENT_PASSWORD") or "guest"
        self.timeout = min(max(timeout, 0.1), 60.0)

    def request(self, method: str, path: str, body: dict | None = None, *, missing_ok: bool = False):
        """One call; the decoded JSON answer (None when empty). 404 is NotFound unless missing_ok."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode(),
            "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                text = answer.read()
        except urllib.error.HTTPError as error:
            return self._failed(error, method, path, missing_ok)
        except (urllib.error.URLError, OSError) as error:
            raise ManagementUnavailable(f"RabbitMQ management API at {self.url} does not answer ({error}); "
                                        "is the plugin on? rabbitmq-plugins enable rabbitmq_management") from error
        return json.loads(text) if text.strip() else None

    def _failed(self, error: urllib.error.HTTPError, method: str, path: str, missing_ok: bool):
        detail = error.read()[:500].decode(errors="replace")
        if error.code == 404 and missing_ok:
            return None
        if error.code == 404:
            raise NotFound("broker", f"{method} {path}: not found on the broker", code="subscription.broker_not_found")
        if error.code in (401, 403):
            raise ManagementUnavailable(f"RabbitMQ management API refused {self.user!r} ({error.code}): "
                                        "RABBITMQ_MANAGEMENT_USER must be an administrator")
        if error.code in (400, 409):
            raise Conflict("broker", f"{method} {path}: the broker refused: {detail}",
                           code="subscription.broker_refused")
        raise ManagementUnavailable(f"RabbitMQ management API: {method} {path} answered {error.code}: {detail}")

    def ready(self) -> bool:
        try:
            self.request("GET", "/api/overview")
            return True
        except (ManagementUnavailable, NotFound):   # NotFound: something else answers there
            return False

    def wait_ready(self, seconds: float = 60.0) -> None:
        deadline = time.monotonic() + min(seconds, 600.0)
        while not self.ready():
            if time.monotonic() > deadline:
                raise ManagementUnavailable(f"RabbitMQ management API at {self.url} did not answer "
                                            f"within {seconds:.0f} s")
            time.sleep(0.5)

    # -- resources (vhost and names are path segments: quoted, "/" included)
    @staticmethod
    def _path(*segments: str) -> str:
        return "/api/" + "/".join(quote(s, safe="") for s in segments)

    def put_exchange(self, vhost: str, name: str, kind: str = "direct") -> None:
        self.request("PUT", self._path("exchanges", vhost, name),
                     {"type": kind, "durable": True, "auto_delete": False, "internal": False, "arguments": {}})

    def put_queue(self, vhost: str, name: str, arguments: dict) -> None:
        self.request("PUT", self._path("queues", vhost, name),
                     {"durable": True, "auto_delete": False, "arguments": arguments})

    def bind(self, vhost: str, exchange: str, queue: str, routing_key: str) -> None:
        self.request("POST", self._path("bindings", vhost, "e", exchange, "q", queue),
                     {"routing_key": routing_key, "arguments": {}})

    def put_user(self, name: str, password: str) -> None:
        """Only the salted hash travels (shared.broker_users.password_hash); no tags: no management
        access, no policy maker."""
        self.request("PUT", self._path("users", name),
                     {"password_hash": password_hash(password), "hashing_algorithm": HASHING, "tags": ""})

    def put_permissions(self, vhost: str, user: str, configure: str, write: str, read: str) -> None:
        self.request("PUT", self._path("permissions", vhost, user),
                     {"configure": configure, "write": write, "read": read})

    def get_permissions(self, vhost: str, user: str) -> dict | None:
        return self.request("GET", self._path("permissions", vhost, user), missing_ok=True)

    def get_user(self, name: str) -> dict | None:
        return self.request("GET", self._path("users", name), missing_ok=True)

    def get_queue(self, vhost: str, name: str) -> dict | None:
        return self.request("GET", self._path("queues", vhost, name), missing_ok=True)

    def delete(self, *segments: str) -> None:
        self.request("DELETE", self._path(*segments), missing_ok=True)

    def close_connections_of(self, vhost: str, user: str) -> None:
        for connection in self.request("GET", self._path("vhosts", vhost, "connections")) or []:
            if connection.get("user") == user:
                self.delete("connections", connection["name"])


# --- provision, deprovision ----------------------------------------------------------------------

def queue_arguments(subscription_id: str, delivery_limit: int) -> dict:
    return {"x-queue-type": "quorum", "x-delivery-limit": checked_limit(delivery_limit),
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE, "x-dead-letter-routing-key": subscription_id,
            "x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}


def declare_topology(api: Management, vhost: str, subscription_id: str, delivery_limit: int) -> None:
    """Both exchanges, both queues, both bindings (idempotent: the same arguments again are fine;
    different ones are a Conflict from the broker)."""
    for exchange in (DELIVERIES_EXCHANGE, DEAD_LETTER_EXCHANGE):
        api.put_exchange(vhost, exchange)
    api.put_queue(vhost, dead_letter_queue(subscription_id), {"x-queue-type": "quorum"})
    api.put_queue(vhost, queue_name(subscription_id), queue_arguments(subscription_id, delivery_limit))
    api.bind(vhost, DEAD_LETTER_EXCHANGE, dead_letter_queue(subscription_id), subscription_id)
    api.bind(vhost, DELIVERIES_EXCHANGE, queue_name(subscription_id), subscription_id)


def provision(subscription_id: str, vhost: str, *, delivery_limit: int = DEFAULT_DELIVERY_LIMIT,
              api: Management | None = None) -> Credentials:
    """The subscription's queues and its user; a new password each call (a second call is a
    credential reset: the old password stops working). The password is in the result only."""
    checked_id(subscription_id)
    checked("vhost", vhost)
    checked_limit(delivery_limit)
    api = api or Management()
    declare_topology(api, vhost, subscription_id, delivery_limit)
    user, password = subscriber_user(vhost, subscription_id), secrets.token_urlsafe(24)
    api.put_user(user, password)
    api.put_permissions(vhost, user, configure=NOTHING, write=NOTHING, read=read_permission(subscription_id))
    return Credentials(user, password, vhost, queue_name(subscription_id))


def deprovision(subscription_id: str, vhost: str, *, api: Management | None = None) -> None:
    """Remove the user first (its connections closed: nothing reads on), then both queues, with
    whatever they hold. Idempotent: what is already gone is fine."""
    api = api or Management()
    user = subscriber_user(vhost, subscription_id)
    api.delete("users", user)
    api.close_connections_of(vhost, user)
    api.delete("queues", vhost, queue_name(subscription_id))
    api.delete("queues", vhost, dead_letter_queue(subscription_id))


# --- delivery -------------------------------------------------------------------------------------

def encode(event: dict) -> bytes:
    """Structured mode: the whole CloudEvent as one JSON object."""
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not event["id"]:
        raise InvalidInput("events", "each event must be a CloudEvent dict with an id", code="subscription.event")
    body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
    if len(body) > MAX_EVENT_BYTES:
        raise InvalidInput("events", f"an event must be at most {MAX_EVENT_BYTES} bytes encoded",
                           code="subscription.event_size")
    return body


def message(event: dict) -> amqp.Message:
    headers = {"ce-sequence": event["sequence"]} if isinstance(event.get("sequence"), str) else {}
    return amqp.Message(encode(event), content_type=CONTENT_TYPE, delivery_mode=2, message_id=event["id"],
                        application_headers=headers)


class _Confirms:
    """A channel in confirm mode: counts acks, remembers nacks and returns."""

    def __init__(self, channel):
        self.channel, self.acked, self.problem = channel, 0, None
        channel.confirm_select()
        channel.events["basic_ack"].add(self._ack)
        channel.events["basic_nack"].add(lambda tag, multiple: self._fail("nacked by the broker"))
        channel.events["basic_return"].add(lambda *args: self._fail("unroutable: the subscription has no queue"))

    def _ack(self, tag: int, multiple: bool) -> None:
        self.acked = max(self.acked, tag)

    def _fail(self, why: str) -> None:
        self.problem = self.problem or why

    def wait(self, tag: int, connection, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.acked < tag and self.problem is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeliveryRefused(f"broker did not confirm {tag - self.acked} events in {timeout:.0f} s")
            try:
                connection.drain_events(timeout=min(remaining, 1.0))
            except socket.timeout:
                continue
        if self.problem:
            raise DeliveryRefused(self.problem)


def deliver(connection: amqp.Connection, subscription_id: str, events: list[dict], *,
            timeout: float = 30.0) -> int:
    """Publish the events, in order, to the subscription's queue; returns how many the broker
    confirmed (all, or DeliveryRefused). `connection` is an open py-amqp connection (not in
    `confirm_publish` mode) of a user that may write to `subscriptions.deliveries`."""
    checked_id(subscription_id)
    if not isinstance(events, list) or len(events) > MAX_EVENTS:
        raise InvalidInput("events", f"must be a list of at most {MAX_EVENTS} events", code="subscription.events")
    messages = [message(event) for event in events]   # all checked before the first is sent
    if not messages:
        return 0
    channel = connection.channel()
    try:
        confirms = _Confirms(channel)
        for item in messages:
            channel.basic_publish(item, exchange=DELIVERIES_EXCHANGE, routing_key=subscription_id, mandatory=True)
        confirms.wait(len(messages), connection, min(max(timeout, 0.1), 300.0))
    finally:
        _close(channel)
    return len(messages)


# --- dead letters ---------------------------------------------------------------------------------

MAX_REDRIVE = 10_000


def dead_letter_count(subscription_id: str, vhost: str, *, api: Management | None = None) -> int:
    """How many messages wait in the subscription's dead-letter queue (the broker's count)."""
    found = (api or Management()).get_queue(checked("vhost", vhost), dead_letter_queue(subscription_id))
    if found is None:
        raise NotFound("subscription_id", "has no AMQP sink on this broker", code="subscription.no_amqp_sink")
    return int(found.get("messages", 0))


def redrive(connection: amqp.Connection, subscription_id: str, *, limit: int = 1000,
            timeout: float = 30.0) -> int:
    """An operator's re-drive: move up to `limit` dead letters, oldest first, back into the
    subscription's queue (through the deliveries exchange, confirmed before each is removed from
    the dead-letter queue: a crash in between duplicates, never loses). Returns how many moved."""
    checked_id(subscription_id)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_REDRIVE:
        raise InvalidInput("limit", f"must be a whole number 1..{MAX_REDRIVE}", code="subscription.redrive_limit")
    channel = connection.channel()
    try:
        confirms, moved = _Confirms(channel), 0
        while moved < limit and (dead := channel.basic_get(dead_letter_queue(subscription_id))) is not None:
            channel.basic_publish(_revived(dead), exchange=DELIVERIES_EXCHANGE, routing_key=subscription_id,
                                  mandatory=True)
            moved += 1
            confirms.wait(moved, connection, min(max(timeout, 0.1), 300.0))
            channel.basic_ack(dead.delivery_tag)
    finally:
        _close(channel)
    return moved


def _revived(dead: amqp.Message) -> amqp.Message:
    """The same CloudEvent and id; the broker's dead-lettering headers (x-death, x-delivery-count,
    x-first-death-*) dropped, so the delivery limit counts afresh."""
    headers = {k: v for k, v in (dead.properties.get("application_headers") or {}).items() if not k.startswith("x-")}
    return amqp.Message(dead.body, content_type=dead.properties.get("content_type", CONTENT_TYPE), delivery_mode=2,
                        message_id=dead.properties.get("message_id"), application_headers=headers)


def _close(channel) -> None:
    try:
        channel.close()
    except Exception:  # the broker already closed it (a refusal): nothing to release
        pass
