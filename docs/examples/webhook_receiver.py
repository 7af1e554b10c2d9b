#!/usr/bin/env python3
"""Example webhook receiver for a subscription with protocol HTTP (docs/asyncapi.yaml,
channel `subscriptionWebhook`). Standard library plus `standardwebhooks` (pip install
standardwebhooks==1.1.0); copy it and replace `handle()` with your own processing.

    python webhook_receiver.py --port 8080 --secret whsec_... [--secret whsec_<next>] \
        --allowed-origin events.zhonglou-civil-affairs.example --rate 600

What it does, as the bureau's platform expects of a sink:
- answers the CloudEvents webhook validation handshake: `OPTIONS` with `WebHook-Request-Origin`
  gets `WebHook-Allowed-Origin` and `WebHook-Allowed-Rate` when that origin is allowed (and a
  403 without them when it is not, which the platform reads as no consent);
- verifies every `POST` with the Standard Webhooks signature (`webhook-id`, `webhook-timestamp`
  within 5 minutes, `webhook-signature`) against each configured secret (two while the secret is
  rotated) and answers 401 to anything that does not verify;
- accepts structured-mode CloudEvents (`application/cloudevents+json`, one event) and batched
  mode (`application/cloudevents-batch+json`, a JSON array of events in `sequence` order, sent
  when the subscription's `protocolsettings.batchsize` is above 1), at most 8 MiB; anything else
  is answered 415;
- de-duplicates on each event's `id` (stable across retries, re-drives and a batch's fall-back
  to single deliveries): a repeat is acknowledged (2xx) but not handled again. A batch's
  `webhook-id` is `batch_<first event id>_<last event id>`, a single event's its `id`;
- prints one JSON line per event handled, and a first line `{"listening": port}`.
Answer 2xx only once the event (every event of a batch) is safely processed: the platform then
moves on; any other answer to a batch makes the platform send the whole batch again. A
production receiver keeps the seen ids (or, better, the highest `sequence` per `source`) in its
own database, in the same transaction as its own change, not in memory as here.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

CONTENT_TYPE = "application/cloudevents+json"              # structured mode: one event
BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"   # batched mode: a JSON array of events
MAX_BODY = 8 << 20          # bytes (a batch of 1000 events)
MAX_BATCH = 1000            # events in one batch
MAX_SEEN = 100_000          # event ids remembered for de-duplication


class Seen:
    """A bounded set of the event ids already handled (oldest forgotten first)."""

    def __init__(self, capacity: int = MAX_SEEN):
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def add(self, event_id: str) -> bool:
        """True if the id is new (and now remembered), False for a repeat."""
        with self._lock:
            if event_id in self._ids:
                return False
            self._ids[event_id] = None
            while len(self._ids) > self._capacity:
                self._ids.popitem(last=False)
            return True


def handle(event: dict, webhook_id: str) -> None:
    """Your processing goes here. The example prints the event's position and type."""
    print(json.dumps({"webhook_id": webhook_id, "id": event.get("id"), "source": event.get("source"),
                      "type": event.get("type"), "sequence": event.get("sequence"),
                      "data": event.get("data")}, ensure_ascii=False), flush=True)


class Receiver(BaseHTTPRequestHandler):
    server_version = "example-webhook-receiver/1"
    verifiers: list[Webhook] = []
    allowed_origins: frozenset[str] = frozenset()
    rate: str = "*"
    seen = Seen()

    def log_message(self, format, *args):  # keep stdout for events; access log to stderr
        sys.stderr.write("%s %s\n" % (self.address_string(), format % args))

    def _answer(self, status: int, headers: dict | None = None, body: dict | None = None) -> None:
        payload = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if payload:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_OPTIONS(self):
        origin = self.headers.get("WebHook-Request-Origin")
        if not origin:
            return self._answer(400, body={"error": "WebHook-Request-Origin missing"})
        if "*" not in self.allowed_origins and origin not in self.allowed_origins:
            return self._answer(403, body={"error": f"origin {origin} not allowed"})
        self._answer(200, {"Allow": "POST, OPTIONS", "WebHook-Allowed-Origin": origin,
                           "WebHook-Allowed-Rate": self.rate})

    def do_POST(self):
        length = self.headers.get("Content-Length", "")
        if not length.isdigit() or int(length) > MAX_BODY:
            return self._answer(413, body={"error": f"a body of at most {MAX_BODY} bytes is expected"})
        body = self.rfile.read(int(length))
        if not self._verified(body):
            return self._answer(401, body={"error": "signature not verified"})
        mode = self.headers.get("Content-Type", "").split(";")[0].strip()
        if mode not in (CONTENT_TYPE, BATCH_CONTENT_TYPE):
            return self._answer(415, body={"error": f"{CONTENT_TYPE} (structured mode) or "
                                                    f"{BATCH_CONTENT_TYPE} (batched mode) expected"})
        events = parsed(body, batched=mode == BATCH_CONTENT_TYPE)
        if events is None:
            return self._answer(400, body={"error": "not a CloudEvent (or, batched, an array of them)"})
        webhook_id = self.headers["webhook-id"]
        for event in events:  # in sequence order
            if self.seen.add(str(event.get("id"))):
                handle(event, webhook_id)
        self._answer(204)

    def _verified(self, body: bytes) -> bool:
        headers = {k.lower(): v for k, v in self.headers.items()}
        for verifier in self.verifiers:
            try:
                verifier.verify(body, headers, json_parse=False)
                return True
            except (WebhookVerificationError, ValueError, TypeError):
                continue  # a malformed signature list raises ValueError in the library
        return False


def parsed(body: bytes, batched: bool) -> list[dict] | None:
    """The events of a body: one object (structured mode) or an array of 1 to MAX_BATCH objects
    (batched mode), each with an `id`; None when it is not that."""
    try:
        value = json.loads(body)
    except ValueError:
        return None
    events = value if batched else [value]
    if not isinstance(events, list) or not 1 <= len(events) <= MAX_BATCH:
        return None
    if not all(isinstance(e, dict) and isinstance(e.get("id"), str) for e in events):
        return None
    return events


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Example receiver of the bureau's webhooks")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--secret", action="append", default=[],
                        help="whsec_<base64> (repeat for the next secret during a rotation); "
                             "default: WEBHOOK_SECRETS, comma-separated")
    parser.add_argument("--allowed-origin", action="append", default=[],
                        help="the platform origin to consent to (repeatable, * for any)")
    parser.add_argument("--rate", default="*", help="WebHook-Allowed-Rate: deliveries per minute or *")
    args = parser.parse_args(argv)
    args.secret = args.secret or [s for s in os.environ.get("WEBHOOK_SECRETS", "").split(",") if s]
    if not args.secret:
        parser.error("at least one --secret (or WEBHOOK_SECRETS) is required")
    if not (args.rate == "*" or (args.rate.isdigit() and 0 < int(args.rate) <= 1_000_000)):
        parser.error("--rate must be * or a positive number of deliveries per minute")
    if not 0 <= args.port <= 65535:
        parser.error("--port must be 0..65535")
    return args


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    Receiver.verifiers = [Webhook(secret) for secret in args.secret]
    Receiver.allowed_origins = frozenset(args.allowed_origin or ["*"])
    Receiver.rate = args.rate
    server = ThreadingHTTPServer((args.host, args.port), Receiver)
    print(json.dumps({"listening": server.server_address[1]}), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
