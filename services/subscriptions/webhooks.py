"""Infrastructure layer: HTTP webhook sinks — CloudEvents over HTTP, signed per Standard Webhooks.

- Body: the CloudEvents HTTP binding in structured mode, `Content-Type: application/cloudevents+json`,
  one event per request; or, when the subscription asks for it (`protocolsettings.batchsize` > 1),
  batched mode, `Content-Type: application/cloudevents-batch+json`, a JSON array of structured
  events in `sequence` order (`HttpSink.deliver_many`).
- Signature (https://www.standardwebhooks.com): `webhook-id` = the CloudEvent `id` (stable across
  retries and re-drives; for a batch `batch_<first event id>_<last event id>`, stable across the
  retries of that batch), `webhook-timestamp` = Unix seconds of this attempt, `webhook-signature` =
  `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` over the whole body, one per valid secret,
  space-separated, so a receiver that still holds the old secret during a rotation verifies too.
- Handshake (CloudEvents HTTP webhook spec, section 4): an OPTIONS request with
  `WebHook-Request-Origin`; consent only when the answer is 2xx AND carries `WebHook-Allowed-Origin`
  (our origin or `*`) AND `WebHook-Allowed-Rate` (requests per minute, or `*`).
- Delivery is paced to the allowed rate (requests, so a batch counts once); 429 + `Retry-After` is honoured; 410 means "stop".
- Sink URLs are checked against an allow-list: addresses must be global unless a network in
  `SUBSCRIPTIONS_ALLOW_NETWORKS` (comma-separated CIDRs, e.g. `127.0.0.0/8`) allows them; redirects
  are never followed (a 3xx is a failed attempt); every timeout is bounded.
"""
from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import http.client
import ipaddress
import json
import os
import secrets as _random
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass

import httpx

from services.subscriptions.sinks import DELIVERED, GONE, RETRY, THROTTLED, Outcome
from shared.errors import InvalidInput

CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
BATCH_CONTENT_TYPE = "application/cloudevents-batch+json; charset=utf-8"
MAX_BATCH = 1000           # events per batched request (protocolsettings.batchsize at most)
SECRET_PREFIX = "whsec_"
MAX_SECRETS = 2
MAX_URL = 2000
MAX_NETWORKS = 50
MAX_RETRY_AFTER = 3600.0   # seconds; a longer Retry-After is capped
MAX_RATE = 600_000         # requests per minute (10,000/s): above it, no pacing at all
ALLOW_ENV = "SUBSCRIPTIONS_ALLOW_NETWORKS"
TIMEOUT = httpx.Timeout(connect=2.0, read=5.0, write=5.0, pool=2.0)
MAX_ANSWER = 65536         # bytes of a receiver's answer read; a longer one closes the connection


# --- secrets and signatures ---------------------------------------------------------------

def new_secret() -> str:
    """A fresh webhook secret, `whsec_` + base64 of 32 random bytes (shown once to the subscriber)."""
    return SECRET_PREFIX + base64.b64encode(_random.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise InvalidInput("secret", "must start with whsec_", code="subscription.secret_format")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
    except ValueError as error:
        raise InvalidInput("secret", "must be whsec_ and base64", code="subscription.secret_format") from error
    if not 16 <= len(key) <= 64:
        raise InvalidInput("secret", "must hold 16 to 64 bytes", code="subscription.secret_format")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,...` signature per valid secret (at most two: the current and the previous)."""
    if not 1 <= len(secrets) <= MAX_SECRETS:
        raise InvalidInput("secrets", f"must hold 1 to {MAX_SECRETS} secrets", code="subscription.secret_count")
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets)


def headers(event: dict, secrets: list[str], body: bytes, now: float | None = None) -> dict[str, str]:
    return signed(str(event["id"]), CONTENT_TYPE, secrets, body, now)


def signed(msg_id: str, content_type: str, secrets: list[str], body: bytes,
           now: float | None = None) -> dict[str, str]:
    """The request's headers: its content type and the Standard Webhooks signature of `body`,
    timestamped now (every attempt anew)."""
    timestamp = int(time.time() if now is None else now)
    return {"content-type": content_type, "webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(secrets, msg_id, timestamp, body)}


def batch_id(events: list[dict]) -> str:
    """A batch's `webhook-id`: from its first and last event id, so a retry of the same batch
    carries the same one (and it never equals a single event's id)."""
    return f"batch_{events[0]['id']}_{events[-1]['id']}"


def body_of(event) -> bytes:
    """An event (structured mode) or a list of them (batched mode) as compact JSON."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


# --- the allow-list ------------------------------------------------------------------------

def allowed_networks(environ=None) -> tuple:
    """The networks `SUBSCRIPTIONS_ALLOW_NETWORKS` adds to the global internet (none by default)."""
    text = (os.environ if environ is None else environ).get(ALLOW_ENV, "")
    items = [t.strip() for t in text.split(",") if t.strip()]
    if len(items) > MAX_NETWORKS:
        raise InvalidInput(ALLOW_ENV, f"at most {MAX_NETWORKS} networks", code="subscription.networks_too_many")
    try:
        return tuple(ipaddress.ip_network(t, strict=False) for t in items)
    except ValueError as error:
        raise InvalidInput(ALLOW_ENV, "must be comma-separated CIDR networks",
                           code="subscription.network_invalid") from error


def check_sink(url: str, networks: tuple | None = None, resolve=socket.getaddrinfo) -> list[str]:
    """Refuses a sink URL that is not http(s) or whose host resolves to an address outside the
    global internet and the allowed networks; returns the addresses it resolved to."""
    parts = _parts(url)
    networks = allowed_networks() if networks is None else networks
    try:
        infos = resolve(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
                        type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise InvalidInput("sink", "the host does not resolve", code="subscription.sink_unresolvable") from error
    addresses = sorted({info[4][0] for info in infos})
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if not (address.is_global or any(address in n for n in networks)):
            raise InvalidInput("sink", f"{text} is not a public address and not in {ALLOW_ENV}",
                               code="subscription.sink_not_allowed")
    return addresses


def _parts(url: str):
    if not isinstance(url, str) or not 1 <= len(url) <= MAX_URL:
        raise InvalidInput("sink", f"must be a URL of 1 to {MAX_URL} characters", code="subscription.sink_length")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise InvalidInput("sink", "an HTTP sink must be http:// or https://", code="subscription.sink_scheme")
    if not parts.hostname or parts.username or parts.password:
        raise InvalidInput("sink", "must name a host and carry no credentials", code="subscription.sink_host")
    return parts


# --- the validation handshake -----------------------------------------------------------------

class HandshakeRefused(Exception):
    """The sink did not consent to deliveries (or could not be asked)."""


@dataclass(frozen=True)
class Consent:
    rate: int | None   # requests per minute the receiver allows; None = no limit ("*")


def handshake(client: httpx.Client, url: str, origin: str) -> Consent:
    try:
        response = client.options(url, headers={"WebHook-Request-Origin": origin,
                                                "WebHook-Request-Rate": "120"})
    except httpx.HTTPError as error:
        raise HandshakeRefused(f"no answer to OPTIONS: {type(error).__name__}") from error
    allowed_origin = response.headers.get("webhook-allowed-origin")
    allowed_rate = response.headers.get("webhook-allowed-rate")
    if not response.is_success:
        raise HandshakeRefused(f"OPTIONS answered {response.status_code}")
    if allowed_origin not in (origin, "*"):
        raise HandshakeRefused("no WebHook-Allowed-Origin for our origin")
    if allowed_rate is None:
        raise HandshakeRefused("no WebHook-Allowed-Rate")
    return Consent(parse_rate(allowed_rate))


def parse_rate(text: str) -> int | None:
    text = text.strip()
    if text == "*":
        return None
    if not text.isdigit() or not 0 < int(text):
        raise HandshakeRefused(f"WebHook-Allowed-Rate {text[:20]!r} is not a positive integer or *")
    return None if int(text) > MAX_RATE else int(text)


# --- delivery ------------------------------------------------------------------------------------

class Pacer:
    """At most `rate` requests per minute (evenly spaced); None = unpaced."""

    def __init__(self, rate: int | None):
        self.interval = 60.0 / rate if rate else 0.0
        self._next = 0.0

    def wait(self, stop: threading.Event) -> None:
        if self.interval:
            delay = self._next - time.monotonic()
            if delay > 0:
                stop.wait(delay)
            self._next = max(self._next, time.monotonic()) + self.interval


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), capped; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return min(max(0.0, when - (time.time() if now is None else now)), MAX_RETRY_AFTER)


def new_client() -> httpx.Client:
    """For the handshake: bounded timeouts, no redirects, no proxies from the environment;
    TCP_NODELAY, because headers and body are written separately and Nagle's algorithm would
    hold the body back until the receiver's delayed ACK (milliseconds per request)."""
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=2)
    transport = httpx.HTTPTransport(limits=limits, socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    return httpx.Client(timeout=TIMEOUT, follow_redirects=False, trust_env=False, transport=transport)


class HttpSink:
    """One subscription's webhook: signs and POSTs one CloudEvent per request (`deliver`), or a
    batch of them in one request (`deliver_many`, batched mode), on a kept-alive connection (the
    standard library's http.client: about three times the requests per second of httpx on this
    path, which matters for replay; it never follows redirects)."""

    def __init__(self, url: str, secrets: list[str], connect_timeout: float = 2.0, read_timeout: float = 5.0):
        self.parts = _parts(url)
        self.path = (self.parts.path or "/") + (f"?{self.parts.query}" if self.parts.query else "")
        self.secrets = list(secrets)
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self.connection: http.client.HTTPConnection | None = None

    def deliver(self, event: dict) -> Outcome:
        return self._send(str(event["id"]), CONTENT_TYPE, body_of(event))

    def deliver_many(self, events: list[dict]) -> Outcome:
        """One request in batched mode: a JSON array of the events, in the order given."""
        if not 1 <= len(events) <= MAX_BATCH:
            raise InvalidInput("events", f"a batch holds 1 to {MAX_BATCH} events", code="subscription.bad_batchsize")
        return self._send(batch_id(events), BATCH_CONTENT_TYPE, body_of(list(events)))

    def _send(self, msg_id: str, content_type: str, body: bytes) -> Outcome:
        reused = self.connection is not None
        try:
            try:
                response, drained = self._post(msg_id, content_type, body)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                if not reused:
                    raise
                self.close()  # the receiver closed a kept-alive connection: once more on a new one
                response, drained = self._post(msg_id, content_type, body)
        except TimeoutError as error:
            self.close()
            return Outcome(RETRY, "timeout", type(error).__name__)
        except (OSError, http.client.HTTPException) as error:
            self.close()
            return Outcome(RETRY, "connection", f"{type(error).__name__}: {error}"[:300])
        if not drained or response.will_close:
            self.close()
        return classify(response.status, response.getheader)

    def _post(self, msg_id: str, content_type: str, body: bytes):
        connection = self.connection or self._connect()
        connection.request("POST", self.path, body=body, headers=signed(msg_id, content_type, self.secrets, body))
        response = connection.getresponse()
        return response, len(response.read(MAX_ANSWER + 1)) <= MAX_ANSWER

    def _connect(self) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self.parts.scheme == "https" else http.client.HTTPConnection
        connection = kind(self.parts.hostname, self.parts.port, timeout=self.connect_timeout)
        connection.connect()
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.sock.settimeout(self.read_timeout)
        self.connection = connection
        return connection

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def classify(status: int, header) -> Outcome:
    """An answer's status (and its Retry-After, through `header(name)`) as an Outcome."""
    if 200 <= status < 300:
        return Outcome(DELIVERED)
    if status == 410:
        return Outcome(GONE, "gone", "the sink answered 410 Gone")
    if status == 429:
        return Outcome(THROTTLED, "throttled", "429 Too Many Requests", retry_after(header("retry-after")))
    reason = "redirect" if 300 <= status < 400 else "server_error" if status >= 500 else "client_error"
    return Outcome(RETRY, reason, f"the sink answered {status}")
