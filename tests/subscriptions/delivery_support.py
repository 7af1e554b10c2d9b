"""Test helpers for the delivery engine: real HTTP receivers and a real feed on loopback, and an
in-memory stand-in of the subscription store (the engine's `SubscriptionStore` interface).

The stand-ins here are for tests only; the real store is the subscriptions application.
"""
from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from services.subscriptions import webhooks

LOOPBACK = webhooks.ipaddress.ip_network("127.0.0.0/8")


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


class Receiver:
    """A webhook receiver on 127.0.0.1. `answer(n, event)` -> (status, headers) for the n-th POST
    (1-based, counting every attempt; `event` is the list of events of a batched request);
    `consent` decides the OPTIONS handshake. Every POST is recorded (also those answered with an
    error) with its headers, body, events and arrival time."""

    def __init__(self, answer=None, consent=True, rate="*", port=0, delay=0.0, options_delay=0.0,
                 hang_up=False):
        self.answer = answer or (lambda n, event: (200, {}))
        self.consent, self.rate, self.delay, self.options_delay = consent, rate, delay, options_delay
        self.hang_up = hang_up  # close each connection after answering, without saying so
        self.posts: list[dict] = []
        self.options: list[dict] = []
        self._lock = threading.Lock()
        self._port = port
        self.server = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver

            def log_message(self, *args):
                pass

            def do_OPTIONS(self):
                receiver.options.append(dict(self.headers))
                time.sleep(receiver.options_delay)
                self.send_response(200)
                if receiver.consent:
                    self.send_header("WebHook-Allowed-Origin", self.headers.get("WebHook-Request-Origin", ""))
                    self.send_header("WebHook-Allowed-Rate", str(receiver.rate))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.delay:
                    time.sleep(receiver.delay)
                parsed = json.loads(body)
                # batched mode: a JSON array of events; `event` is then the list, `events` always one
                post = {"headers": dict(self.headers), "body": body, "at": time.time(), "event": parsed,
                        "events": parsed if isinstance(parsed, list) else [parsed]}
                with receiver._lock:
                    receiver.posts.append(post)
                    n = len(receiver.posts)
                status, headers = receiver.answer(n, post["event"])
                post["status"] = status
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()
                self.close_connection = receiver.hang_up

        self.server = _Server(("127.0.0.1", self._port), Handler)
        self._port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def delivered(self) -> list[dict]:
        """The events of the POSTs answered 2xx (each of a batch), in arrival order."""
        with self._lock:
            return [e for p in self.posts if 200 <= p.get("status", 0) < 300 for e in p["events"]]


class FeedServer:
    """A domain application's feed (shared.feed.page) served like a domain service's /events."""

    def __init__(self, app):
        from shared import feed
        self.app = app
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                with lock:
                    page = feed.page(app, query.get("after", ["0"])[0], query.get("limit", ["500"])[0])
                body = json.dumps(page, ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.lock = lock
        self.server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stored(self) -> list[dict]:
        from shared import feed
        with self.lock:
            return feed.page(self.app, 0, 1000)["events"]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class MemoryStore:
    """Stand-in of the subscriptions application behind the engine's SubscriptionStore."""

    def __init__(self, *subscriptions: dict):
        self._lock = threading.Lock()
        self.subscriptions = {s["id"]: dict(s) for s in subscriptions}
        self.acks: list[tuple[str, int]] = []
        self.dead: list[tuple[str, dict, str]] = []
        self.suspensions: list[tuple[str, str]] = []
        self.deliveries: list[tuple[str, dict]] = []
        self.redriven_calls: list[tuple[str, list[int]]] = []
        self.redriven_deliveries: list[dict] = []

    def _in(self, state):
        with self._lock:
            return [dict(s) for s in self.subscriptions.values() if s["state"] == state]

    def active(self):
        return self._in("active")

    def pending(self):
        return self._in("created")

    def sink_validated(self, sid, allowed_rate):
        with self._lock:
            self.subscriptions[sid].update(state="active", allowed_rate=allowed_rate)

    def acknowledge(self, sid, previous, position, deliveries):
        with self._lock:
            self.deliveries.extend((sid, d) for d in deliveries)
            if self.subscriptions[sid]["position"] != previous:
                return False  # moved meanwhile (a replay)
            self.subscriptions[sid]["position"] = position
            self.acks.append((sid, position))
            return True

    def replay(self, sid, after):
        with self._lock:
            self.subscriptions[sid]["position"] = after

    def suspend(self, sid, reason):
        with self._lock:
            self.subscriptions[sid]["state"] = "suspended"
            self.suspensions.append((sid, reason))

    def resume(self, sid):
        with self._lock:
            self.subscriptions[sid]["state"] = "active"

    def dead_letter(self, sid, event, reason):
        with self._lock:
            self.dead.append((sid, event, reason))

    def redrive(self, sid, sequences):
        """An operator asks for these dead letters again (what app.redrive will do)."""
        with self._lock:
            self.subscriptions[sid]["redrive"] = list(self.subscriptions[sid].get("redrive") or []) + list(sequences)

    def redriven(self, sid, sequences, deliveries=()):
        """The engine re-drove these: gone from the dead letters and from `redrive`."""
        with self._lock:
            self.redriven_calls.append((sid, list(sequences)))
            self.redriven_deliveries.extend(deliveries)
            self.dead = [d for d in self.dead if not (d[0] == sid and int(d[1]["sequence"]) in sequences)]
            self.subscriptions[sid]["redrive"] = [
                s for s in self.subscriptions[sid].get("redrive") or [] if s not in sequences]

    def state(self, sid):
        with self._lock:
            return self.subscriptions[sid]["state"]


def subscription(sid: str, sink: str, **overrides) -> dict:
    values = {"id": sid, "source": "social_assistance", "types": [], "filters": [], "sink": sink,
              "protocol": "HTTP", "legal_basis": "service_delivery", "position": 0,
              "secrets": [webhooks.new_secret()], "state": "active", "allowed_rate": None}
    return {**values, **overrides}


def match_all(filters, event) -> bool:
    """Stand-in of filters.matches for the `exact` dialect only (helper A owns the real one)."""
    for f in filters:
        for attribute, value in f.get("exact", {}).items():
            if event.get(attribute) != value:
                return False
    return True


def wait_until(predicate, timeout: float = 15.0, every: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return predicate()


@contextlib.contextmanager
def engine_running(store, source, settings, networks=(LOOPBACK,), amqp_uri=None, matches=match_all):
    """The delivery engine on `store`, reading `source`'s feed (loopback sinks allowed unless
    `networks` says otherwise; `matches=None`: the real filters), stopped at the end."""
    from services.subscriptions.delivery import Engine, FeedReader
    engine = Engine(store, lambda name: FeedReader(source.url), settings, matches, networks,
                    amqp_uri=amqp_uri).start()
    try:
        yield engine
    finally:
        engine.stop()
