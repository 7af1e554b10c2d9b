"""Application layer: the delivery process — `python -m services.subscriptions.delivery`.

For every active subscription, HTTP or AMQP, one worker thread runs the same loop for replay and
live: read a page of the source's feed after the subscription's position (`GET <SOURCE>_URL/events`,
up to 1000 events), keep the events its `types` and `filters` select, scope each one (scope.py),
deliver them in `sequence` order, and acknowledge the position reached. A webhook (webhooks.HttpSink)
gets one signed request per event (structured mode) or, when its `protocolsettings.batchsize` N is
above 1, one signed request per run of at most N wanted events of a page (batched mode), retried
as a unit with the same rules as one event; an AMQP subscription's queue (amqp_delivery.AmqpSink,
on the delivery process's own broker connection from `AMQP_URI`) gets the page's events as one
batch with publisher confirms, tried once. A batch that fails through its attempts goes one event
at a time, each with its own retry budget, so only the events that really fail become dead
letters. A worker waits only for its own sink, so a slow or dead subscriber never delays another.

Failures: a failed attempt (5xx, other non-2xx, a redirect, a timeout, no connection; for AMQP a
publish the broker returned, nacked or did not confirm) is retried after an exponential back-off
with full jitter; after `max_attempts` the event goes to the subscription's dead letters and the
worker moves on; after `suspend_after` consecutive failed attempts the subscription is suspended
(and the position of the last delivered event kept, so a resume continues with the event that
failed). 429 waits `Retry-After` (not counted as a failure of the sink); 410 suspends at once.
Delivery is at least once: positions are acknowledged at most every `ack_interval` seconds and
when a worker stops, so after a crash the events after the last acknowledged position are
delivered again — receivers de-duplicate on each event's `id` or (`source`, `sequence`) — a single event's
`webhook-id` is its id; a batch's is `batch_<first id>_<last id>` (AMQP: `message_id`).

Re-drive: the dead letters an operator asked for again (`redrive`, sequences) are delivered first
when a worker starts (the supervisor restarts a worker when `redrive` asks for more), each fetched
from the feed, through the same filters, scope, sink and retry rules, then reported (`redriven`).

Before an HTTP subscription's first delivery (state "created", also after its sink changed or a
resume) the supervisor runs the validation handshake (webhooks.handshake) and, on consent, reports
it to the store (`sink_validated`), which activates it; without consent nothing is delivered. An
AMQP subscription needs no handshake (its queue was made at creation): one found in "created" is
validated at once.

The engine reaches the subscription store only through `SubscriptionStore` (the application of
services/subscriptions/application.py, adapted by `ApplicationStore`).
"""
from __future__ import annotations

import logging
import os
import random
import signal
import threading
import time
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from typing import Callable, Protocol

import httpx
from prometheus_client import Counter, Gauge

from services.subscriptions import amqp_delivery, webhooks
from services.subscriptions import scope as scopes
from services.subscriptions.sinks import DELIVERED, GONE, THROTTLED, Outcome, Sink
from shared.config import ConfigurationError

log = logging.getLogger(__name__)

DELIVERED_TOTAL = Counter("subscription_deliveries_total", "Events delivered", ["subscription"])
FAILED_TOTAL = Counter("subscription_delivery_failures_total", "Failed delivery attempts",
                       ["subscription", "reason"])
DEAD_TOTAL = Counter("subscription_dead_letters_total", "Events given up after the retry budget",
                     ["subscription"])
LAG_EVENTS = Gauge("subscription_lag_events", "Source head minus the subscription's position", ["subscription"])
LAG_SECONDS = Gauge("subscription_lag_seconds", "Age of the oldest event not yet delivered", ["subscription"])
STATE = Gauge("subscription_state", "1 for the subscription's current state", ["subscription", "state"])
SUSPENDED_ALERT = Gauge("subscription_suspended", "1 when the delivery engine suspended the subscription",
                        ["subscription"])
HANDSHAKES = Counter("subscription_handshakes_total", "Validation handshakes", ["subscription", "outcome"])
MAX_UNACKNOWLEDGED = 1000  # deliveries recorded per acknowledgement at most
STATES = ("created", "validated", "active", "suspended", "deleted")
CACHED_SUBSCRIPTIONS = 10_000  # aggregates the delivery process keeps in memory (LRU)


class SubscriptionStore(Protocol):
    """What the engine needs of the subscriptions application. A subscription is a dict of
    primitives: id, source, types, filters, sink, protocol, legal_basis, position (int), secrets
    (list of whsec_ strings), state, allowed_rate (requests/minute from the handshake, or None) and
    redrive (sequences of dead letters an operator asked to deliver again, oldest first; absent = []).
    `acknowledge` moves the position from `previous` to `position` only if it still is `previous`
    (compare and set) and answers whether it did: False means an operator moved it meanwhile (a
    replay), and the worker restarts from the store's position. Either way it records what was
    disclosed since the last acknowledgement: one {"id", "type", "subject", "sequence", "scope",
    "at"} per event delivered (at most MAX_UNACKNOWLEDGED), so the store keeps who received whose
    data, when, under which basis. `redriven` reports re-driven sequences done with (delivered,
    dead-lettered anew, or gone from the feed): the store removes them from the dead letters and
    from `redrive`."""

    def active(self) -> list[dict]: ...            # state "active"
    def pending(self) -> list[dict]: ...           # state "created": waiting for the handshake
    def sink_validated(self, subscription_id: str, allowed_rate: int | None) -> None: ...
    def acknowledge(self, subscription_id: str, previous: int, position: int,
                    deliveries: list[dict]) -> bool: ...
    def suspend(self, subscription_id: str, reason: str) -> None: ...
    def dead_letter(self, subscription_id: str, event: dict, reason: str) -> None: ...
    def redriven(self, subscription_id: str, sequences: list[int], deliveries: list[dict]) -> None: ...


@dataclass(frozen=True)
class Settings:
    poll_interval: float = 0.25     # seconds between feed reads when caught up
    page_limit: int = 1000          # events per feed read (the feed's most); one AMQP batch
    max_attempts: int = 8           # per event, then a dead letter
    backoff_base: float = 0.5       # seconds; attempt n waits uniform(0, min(cap, base * 2**(n-1)))
    backoff_cap: float = 30.0
    suspend_after: int = 20         # consecutive failed attempts
    ack_interval: float = 1.0       # seconds between acknowledgements while delivering
    refresh_interval: float = 1.0   # seconds between reads of the store
    handshake_interval: float = 30.0  # seconds before a refused handshake is tried again
    origin: str = "zhonglou-civil-affairs"  # WebHook-Request-Origin

    @classmethod
    def from_env(cls, environ=None) -> "Settings":
        env = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            text = env.get(f"SUBSCRIPTIONS_{f.name.upper()}")
            if text is not None:
                values[f.name] = _bounded(f.name, f.type, text)
        return cls(**values)


LIMITS = {"poll_interval": (0.01, 60), "page_limit": (1, 1000), "max_attempts": (1, 100),
          "backoff_base": (0.001, 60), "backoff_cap": (0.01, 3600), "suspend_after": (1, 10_000),
          "ack_interval": (0, 3600), "refresh_interval": (0.01, 3600), "handshake_interval": (0.01, 86400)}


def _bounded(name: str, kind, text: str):
    if name == "origin":
        if not 1 <= len(text) <= 200:
            raise ConfigurationError("SUBSCRIPTIONS_ORIGIN must be 1 to 200 characters")
        return text
    low, high = LIMITS[name]
    try:
        value = (int if kind in (int, "int") else float)(text)
    except ValueError as error:
        raise ConfigurationError(f"SUBSCRIPTIONS_{name.upper()} must be a number") from error
    if not low <= value <= high:
        raise ConfigurationError(f"SUBSCRIPTIONS_{name.upper()} must be between {low} and {high}")
    return value


def backoff(attempt: int, settings: Settings, rand: Callable[[float, float], float] = random.uniform) -> float:
    """Full jitter: uniform(0, min(cap, base * 2 ** (attempt - 1)))."""
    return rand(0.0, min(settings.backoff_cap, settings.backoff_base * 2 ** min(attempt - 1, 30)))


class FeedReader:
    """A source's feed: GET <url>/events?after=N&limit=M (bounded timeouts, no redirects)."""

    def __init__(self, url: str, client: httpx.Client | None = None):
        self.url = url.rstrip("/")
        self.client = client or httpx.Client(timeout=webhooks.TIMEOUT, follow_redirects=False, trust_env=False)

    def page(self, after: int, limit: int) -> dict:
        response = self.client.get(f"{self.url}/events", params={"after": after, "limit": limit})
        response.raise_for_status()
        return response.json()


def feed_from_env(source: str, environ=None) -> FeedReader:
    from shared.config import service_url  # raises ConfigurationError when <SOURCE>_URL is unset
    return FeedReader(service_url(source, environ))


def wanted(subscription: dict, event: dict, matches) -> bool:
    types = subscription.get("types") or []
    if types and event.get("type") not in types:
        return False
    return matches(subscription.get("filters") or [], event)


def _filters_matches():
    from services.subscriptions.filters import matches  # helper A's module
    return matches


def disclosure(event: dict, scope: str) -> dict:
    """What the delivery record keeps of one delivered event: which record, not its content."""
    return {"id": event.get("id"), "type": event.get("type"), "subject": event.get("subject"),
            "sequence": event.get("sequence"), "scope": scope,
            "at": datetime.now(timezone.utc).isoformat()}


def stored_at(event: dict) -> float | None:
    """When the event was stored (its `time`), as Unix seconds; None if it has none."""
    try:
        return datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00")).timestamp()
    except (KeyError, ValueError):
        return None


def batching(subscription: dict, settings: Settings) -> tuple[int, int]:
    """(wanted events per batch, attempts of a batch before one at a time). AMQP: the page, one
    attempt (the broker either confirms or not; then each event has its own budget). HTTP:
    `protocolsettings.batchsize` (1 = structured mode, one request per event), with the whole
    retry budget, as a single event has."""
    if subscription.get("protocol") == "AMQP":
        return settings.page_limit, 1
    size = (subscription.get("protocolsettings") or {}).get("batchsize") or 1
    return min(max(int(size), 1), webhooks.MAX_BATCH), settings.max_attempts


def runs(events: list[dict], size: int, chosen: Callable[[dict], bool]):
    """The page cut into consecutive runs that each hold at most `size` chosen events (a run ends
    at its size-th chosen event; the last run may hold none)."""
    run, count = [], 0
    for event in events:
        run.append(event)
        count += chosen(event)
        if count >= size:
            yield run
            run, count = [], 0
    if run:
        yield run


class Worker(threading.Thread):
    """Delivers one subscription's events in order; stops on `stop()`, on 410 or on suspension."""

    def __init__(self, subscription: dict, store: SubscriptionStore, feed: FeedReader, settings: Settings,
                 matches=None, sink: Sink | None = None):
        super().__init__(name=f"subscription-{subscription['id']}", daemon=True)
        self.subscription = subscription
        self.id = subscription["id"]
        self.store, self.feed, self.settings = store, feed, settings
        self.matches = matches or _filters_matches()
        self.scope = subscription.get("scope") or scopes.scope_of(subscription.get("legal_basis", ""))
        self.sink = sink or webhooks.HttpSink(subscription["sink"], subscription["secrets"])
        self.batch_size, self.batch_attempts = batching(subscription, settings)
        # webhooks are paced to the requests per minute the receiver allowed (a batch is one
        # request); the broker takes what it is given
        amqp = subscription.get("protocol") == "AMQP"
        self.pacer = webhooks.Pacer(None if amqp else subscription.get("allowed_rate"))
        self.position = int(subscription.get("position") or 0)
        self.acknowledged = self.position
        self.deliveries: list[dict] = []
        self.acks = 0          # acknowledgements done, and one in flight: for the supervisor
        self.acking = False
        self.redrives = 0      # re-drives reported to the store, and one in flight: likewise
        self.redriving = False
        self.moved = False     # the store's position was moved under this worker (a replay)
        self.suspended: str | None = None
        self.consecutive_failures = 0
        self._stopping = threading.Event()
        self._last_ack = time.monotonic()
        self.head, self.pending_since = self.position, None
        # the labelled children once, not per event (a replay delivers thousands a second)
        self._delivered, self._lag = DELIVERED_TOTAL.labels(self.id), LAG_EVENTS.labels(self.id)
        LAG_SECONDS.labels(self.id).set_function(self.lag_seconds)
        # at 0 from the start, for rate() and alerts (connection: a failure every kind of sink can have)
        DEAD_TOTAL.labels(self.id)
        FAILED_TOTAL.labels(self.id, "connection")

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        try:
            while not self._stopping.is_set() and self.suspended is None and not self.moved:
                self._round()
        except Exception:  # noqa: BLE001 - a worker must never die silently
            log.exception("subscription %s: worker failed; it is restarted by the supervisor", self.id)
        finally:
            self._acknowledge()
            self.sink.close()

    def _round(self) -> None:
        try:
            if self.subscription.get("redrive"):
                self._redrive()  # an operator's re-drive goes before the next page
                return
            page = self.feed.page(self.position, self.settings.page_limit)
        except (httpx.HTTPError, ValueError) as error:
            log.warning("subscription %s: feed unavailable (%s)", self.id, type(error).__name__)
            self._stopping.wait(self.settings.poll_interval * 4)
            return
        events = page.get("events") or []
        self.head = int(page.get("head") or 0)
        self._lag.set(max(0, self.head - self.position))
        if self.batch_size > 1:
            self._deliver_batches(events)
        else:
            self._deliver_one_by_one(events)
        if not events:
            self.pending_since = None
            self._lag.set(max(0, self.head - self.position))
            self._acknowledge()
            self._stopping.wait(self.settings.poll_interval)

    def _passed(self, event: dict) -> None:
        """The position may pass `event` (delivered, filtered out or dead-lettered)."""
        self.position = int(event["sequence"])
        self._lag.set(max(0, self.head - self.position))
        if (time.monotonic() - self._last_ack >= self.settings.ack_interval
                or len(self.deliveries) >= MAX_UNACKNOWLEDGED):
            self._acknowledge()

    def _deliver_one_by_one(self, events: list[dict]) -> bool:
        """Each event with its own retry budget; False when stopped or suspended on one."""
        for event in events:
            self.pending_since = stored_at(event)
            if self._stopping.is_set() or not self._handle(event):
                return False
            self._passed(event)
        return True

    def _deliver_batches(self, events: list[dict]) -> None:
        """The page in runs holding at most `batch_size` wanted events, each run's wanted events
        as one batch with the retry rules (`batch_attempts`); a run whose batch failed through
        them goes one event at a time, so a poison event is dead-lettered alone."""
        for run in runs(events, self.batch_size, lambda e: wanted(self.subscription, e, self.matches)):
            if self._stopping.is_set() or self.suspended is not None:
                return
            delivered = self._deliver_batch(run)
            if delivered is None:
                return
            if delivered:
                self._passed(run[-1])
            elif not self._deliver_one_by_one(run):
                return

    def _deliver_batch(self, run: list[dict]) -> bool | None:
        """The run's wanted events as one batch: True when delivered (or none is wanted), False
        when it failed through its attempts (the caller then goes one at a time), None when
        stopped or suspended (410, consecutive failures)."""
        chosen = [(e, scopes.scoped(e, self.scope)) for e in run if wanted(self.subscription, e, self.matches)]
        if not chosen:
            return True
        self.pending_since = stored_at(chosen[0][0])
        bodies = [body for _, body in chosen]
        outcome = self._attempts(lambda: self.sink.deliver_many(bodies), len(bodies), self.batch_attempts)
        if outcome is None:
            return None
        if outcome.delivered:
            self.deliveries.extend(disclosure(event, self.scope) for event, _ in chosen)
            return True
        log.warning("subscription %s: a batch of %d failed (%s); one at a time", self.id, len(chosen),
                    outcome.detail)
        self._stopping.wait(backoff(1, self.settings))
        return False

    def _handle(self, event: dict) -> bool:
        """True when the position may pass `event` (delivered, filtered out or dead-lettered)."""
        if not wanted(self.subscription, event, self.matches):
            return True
        body = scopes.scoped(event, self.scope)
        outcome = self._attempts(lambda: self.sink.deliver(body))
        if outcome is None:
            return False
        if outcome.delivered:
            self.deliveries.append(disclosure(event, self.scope))
        else:
            self._dead_letter(body, outcome)
        return True

    def _attempts(self, send: Callable[[], Outcome], count: int = 1, budget: int | None = None) -> Outcome | None:
        """One request (an event, or a batch of `count`) with the retry rules: the DELIVERED
        outcome, the last failed one once the retry budget (`budget` attempts, default
        `max_attempts`) is spent (the caller dead-letters it or, for a batch, goes one at a
        time), or None (stopping or suspended)."""
        budget = budget or self.settings.max_attempts
        attempt = 0
        while not self._stopping.is_set():
            self.pacer.wait(self._stopping)
            outcome = send()
            if outcome.kind == DELIVERED:
                self._delivered.inc(count)
                self.consecutive_failures = 0
                return outcome
            if outcome.kind == GONE:
                self._suspend("the sink answered 410 Gone")
                return None
            FAILED_TOTAL.labels(self.id, outcome.reason).inc()
            if outcome.kind == THROTTLED:
                self._stopping.wait(outcome.retry_after if outcome.retry_after is not None
                                    else backoff(attempt + 1, self.settings))
                continue
            attempt += 1
            self.consecutive_failures += 1
            if self.consecutive_failures >= self.settings.suspend_after:
                self._suspend(f"{self.consecutive_failures} consecutive failed deliveries; last: {outcome.detail}")
                return None
            if attempt >= budget:
                return outcome
            self._stopping.wait(backoff(attempt, self.settings))
        return None

    # --- an operator's re-drive of dead letters -----------------------------------------------

    def _redrive(self) -> None:
        """Deliver the dead letters an operator asked for again (their sequences, oldest first),
        each fetched from the feed, through the same filters, scope, sink and retry rules; then
        report the ones done to the store, which removes them from the dead letters and from
        `redrive`. One that fails again through the whole budget is dead-lettered anew (after
        the report, so it stays listed). Stopped or suspended midway: the rest stays asked."""
        asked = [int(s) for s in self.subscription.get("redrive") or []]
        done, failed, disclosed = [], [], []
        self.redriving = True
        try:
            for sequence in asked:
                if self._stopping.is_set() or self.suspended is not None:
                    break
                outcome = self._redrive_one(sequence, failed, disclosed)
                if outcome is None:
                    break
                done.append(sequence)
        finally:
            self._report_redriven(asked, done, failed, disclosed)

    def _redrive_one(self, sequence: int, failed: list, disclosed: list) -> bool | None:
        """True when `sequence` is done with (delivered, dead again, gone, no longer selected);
        None when stopped or suspended on it. Raises when the feed does not answer."""
        event = self._event_at(sequence)
        if event is None:
            log.warning("subscription %s: re-drive of %d: the feed has no such event; dropped", self.id, sequence)
            return True
        if not wanted(self.subscription, event, self.matches):
            log.warning("subscription %s: re-drive of %d: its filters no longer select it; dropped",
                        self.id, sequence)
            return True
        body = scopes.scoped(event, self.scope)
        outcome = self._attempts(lambda: self.sink.deliver(body))
        if outcome is None:
            return None
        if outcome.delivered:
            disclosed.append(disclosure(event, self.scope))
            log.info("subscription %s: dead letter %d re-driven", self.id, sequence)
        else:
            failed.append((body, outcome))
        return True

    def _event_at(self, sequence: int) -> dict | None:
        page = self.feed.page(max(0, sequence - 1), 1)
        events = page.get("events") or []
        if events and int(events[0].get("sequence") or -1) == sequence:
            return events[0]
        return None

    def _report_redriven(self, asked: list[int], done: list[int], failed: list, disclosed: list) -> None:
        try:
            if done:
                self.store.redriven(self.id, done, disclosed[:MAX_UNACKNOWLEDGED])
                self.subscription = {**self.subscription, "redrive": [s for s in asked if s not in done]}
            for body, outcome in failed:
                self._dead_letter(body, outcome)
        finally:
            self.redrives += 1
            self.redriving = False

    # --- outcomes ------------------------------------------------------------------------------

    def _dead_letter(self, event: dict, outcome: Outcome) -> None:
        reason = f"{self.settings.max_attempts} attempts failed; last: {outcome.detail}"[:500]
        self.store.dead_letter(self.id, event, reason)
        DEAD_TOTAL.labels(self.id).inc()
        log.warning("subscription %s: event %s dead-lettered (%s)", self.id, event.get("sequence"), reason)

    def _suspend(self, reason: str) -> None:
        self.suspended = reason
        self._acknowledge()
        self.store.suspend(self.id, reason)
        SUSPENDED_ALERT.labels(self.id).set(1)
        set_state(self.id, "suspended")
        log.warning("subscription %s suspended: %s", self.id, reason)

    def _acknowledge(self) -> None:
        if self.position > self.acknowledged and not self.moved:
            self.acking = True
            # at most MAX_UNACKNOWLEDGED records per acknowledgement; the rest go with the next
            records, rest = self.deliveries[:MAX_UNACKNOWLEDGED], self.deliveries[MAX_UNACKNOWLEDGED:]
            try:
                moved = not self.store.acknowledge(self.id, self.acknowledged, self.position, records)
                self.acknowledged, self.deliveries, self.moved = self.position, rest, moved
                if moved:
                    log.info("subscription %s: its position was moved (a replay); restarting", self.id)
            except Exception:  # noqa: BLE001 - retried at the next acknowledgement
                log.exception("subscription %s: acknowledging %s failed", self.id, self.position)
            finally:
                self.acks += 1
                self.acking = False
        self._last_ack = time.monotonic()

    def lag_seconds(self) -> float:
        """Age of the event being delivered (the oldest not yet delivered); 0 when caught up.
        Computed when Prometheus scrapes, so a worker stuck on one event shows its lag growing."""
        since = self.pending_since
        return 0.0 if since is None else max(0.0, time.time() - since)


def set_state(subscription_id: str, state: str) -> None:
    for s in STATES:
        STATE.labels(subscription_id, s).set(1 if s == state else 0)


class Engine:
    """Keeps one worker per active subscription (HTTP or AMQP); handshakes the pending HTTP ones
    and validates the pending AMQP ones (their queue is ours: no handshake)."""

    def __init__(self, store: SubscriptionStore, feed_for: Callable[[str], FeedReader] = feed_from_env,
                 settings: Settings | None = None, matches=None, networks: tuple | None = None,
                 amqp_uri: str | None = None):
        self.store, self.feed_for = store, feed_for
        self.settings = settings or Settings()
        self.matches = matches
        self.networks = webhooks.allowed_networks() if networks is None else networks
        self.amqp_uri = amqp_uri or amqp_delivery.amqp_uri()  # the delivery process's own broker user
        self.workers: dict[str, Worker] = {}
        self._handshake_at: dict[str, float] = {}
        self._handshaking: set[str] = set()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "Engine":
        self._thread = threading.Thread(target=self.run, name="subscriptions-supervisor", daemon=True)
        self._thread.start()
        return self

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - the store may be away for a moment
                log.exception("subscriptions: refresh failed")
            self._wake.wait(self.settings.refresh_interval)
            self._wake.clear()

    def wake(self) -> None:
        """Refresh now, not at the next interval (a subscription just activated starts at once)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for worker in list(self.workers.values()):
            worker.stop()
        for worker in list(self.workers.values()):
            worker.join(timeout)
        self.workers.clear()

    def refresh(self) -> None:
        self._handshakes(self.store.pending())
        counts = {sid: (w.acks, w.redrives) for sid, w in self.workers.items()}
        active = {s["id"]: s for s in self.store.active() if s.get("protocol", "HTTP") in PROTOCOLS}
        for sid in list(self.workers):
            worker = self.workers[sid]
            if (sid not in active or not worker.is_alive() or _changed(worker.subscription, active[sid])
                    or _moved(worker, active[sid], counts[sid][0])
                    or _redrive_asked(worker, active[sid], counts[sid][1])):
                worker.stop()
                worker.join(10)
                del self.workers[sid]
        for sid, subscription in active.items():
            if sid not in self.workers and not self._stopping.is_set():
                self._start_worker(subscription)

    def _start_worker(self, subscription: dict) -> None:
        try:
            sink = self._sink(subscription)
        except Exception as error:  # noqa: BLE001 - InvalidInput: the allow-list changed since
            self.store.suspend(subscription["id"], f"sink refused: {error}"[:500])
            set_state(subscription["id"], "suspended")
            return
        worker = Worker(subscription, self.store, self.feed_for(subscription["source"]), self.settings,
                        self.matches, sink)
        self.workers[subscription["id"]] = worker
        set_state(subscription["id"], "active")
        SUSPENDED_ALERT.labels(subscription["id"]).set(0)
        worker.start()

    def _sink(self, subscription: dict) -> Sink:
        """The worker's sink. The allow-list of networks is for webhooks only: an AMQP
        subscription's queue is on the platform's own broker."""
        if subscription.get("protocol") == "AMQP":
            return amqp_delivery.AmqpSink(subscription["id"], self.amqp_uri)
        webhooks.check_sink(subscription["sink"], self.networks)
        return webhooks.HttpSink(subscription["sink"], subscription["secrets"])

    def _handshakes(self, pending: list[dict]) -> None:
        now = time.monotonic()
        for subscription in pending:
            sid = subscription["id"]
            set_state(sid, "created")
            if self._handshake_at.get(sid, 0) > now or sid in self._handshaking:
                continue
            self._handshake_at[sid] = now + self.settings.handshake_interval
            if subscription.get("protocol") == "AMQP":
                self._validate_queue(sid)
                continue
            self._handshaking.add(sid)
            threading.Thread(target=self._handshake, args=(subscription,), name=f"handshake-{sid}",
                             daemon=True).start()  # a receiver slow to answer delays no other

    def _validate_queue(self, sid: str) -> None:
        """An AMQP subscription back in `created` (resumed, or its activation at creation did not
        get saved): no handshake, its sink is the queue made at creation."""
        try:
            self.store.sink_validated(sid, None)
        except Exception:  # noqa: BLE001 - tried again after the handshake interval
            log.exception("subscription %s: validating its queue failed", sid)

    def _handshake(self, subscription: dict) -> None:
        try:
            self._ask(subscription)
        finally:
            self._handshaking.discard(subscription["id"])

    def _ask(self, subscription: dict) -> None:
        sid = subscription["id"]
        try:
            webhooks.check_sink(subscription["sink"], self.networks)
            with webhooks.new_client() as client:
                consent = webhooks.handshake(client, subscription["sink"], self.settings.origin)
        except Exception as error:  # noqa: BLE001 - HandshakeRefused, InvalidInput (allow-list), ...
            HANDSHAKES.labels(sid, "refused").inc()
            log.warning("subscription %s: handshake refused (%s)", sid, error)
            return
        if self._stopping.is_set():
            return
        HANDSHAKES.labels(sid, "granted").inc()
        self.store.sink_validated(sid, consent.rate)
        self.wake()


PROTOCOLS = ("HTTP", "AMQP")
DELIVERY_FIELDS = ("sink", "secrets", "types", "filters", "legal_basis", "scope", "allowed_rate", "source",
                   "protocol", "protocolsettings")


def _changed(old: dict, new: dict) -> bool:
    return any(old.get(k) != new.get(k) for k in DELIVERY_FIELDS)


def _redrive_asked(worker: Worker, current: dict, redrives_before: int) -> bool:
    """The store asks for a re-drive the worker has not taken (it takes them when it starts),
    judged only when the worker did not report one while the store was read."""
    if worker.redriving or worker.redrives != redrives_before:
        return False
    return list(current.get("redrive") or []) != list(worker.subscription.get("redrive") or [])


def _moved(worker: Worker, current: dict, acks_before: int) -> bool:
    """The store's position is not the one the worker acknowledged (a replay moved it), judged
    only when no acknowledgement ran while the store was read."""
    if worker.acking or worker.acks != acks_before:
        return False
    return int(current.get("position") or 0) != worker.acknowledged


# --- the process --------------------------------------------------------------------------------

class ApplicationStore:
    """The subscriptions application (services/subscriptions/application.py) as the engine's
    SubscriptionStore: the allowed rate is kept in SinkValidated, acknowledgements are a
    compare-and-set that records what was disclosed, dead letters are kept on the subscription."""

    def __init__(self, app):
        self.app = app

    def active(self) -> list[dict]:
        return [self.app.delivery(v["id"]) for v in self.app.list("active") if v["protocol"] in PROTOCOLS]

    def pending(self) -> list[dict]:
        return [v for v in self.app.list("created") if v["protocol"] in PROTOCOLS]

    def sink_validated(self, subscription_id: str, allowed_rate: int | None) -> None:
        self.app.validate_sink(subscription_id, allowed_rate)
        self.app.activate(subscription_id)

    def acknowledge(self, subscription_id: str, previous: int, position: int, deliveries: list[dict]) -> bool:
        return self.app.acknowledge(subscription_id, position, previous, deliveries)

    def suspend(self, subscription_id: str, reason: str) -> None:
        self.app.suspend(subscription_id, reason)

    def dead_letter(self, subscription_id: str, event: dict, reason: str) -> None:
        self.app.dead_letter(subscription_id, event, reason)

    def redriven(self, subscription_id: str, sequences: list[int], deliveries: list[dict]) -> None:
        self.app.redriven(subscription_id, sequences, deliveries)


def main() -> None:
    from prometheus_client import start_http_server

    from services.subscriptions.application import Subscriptions
    from shared import lease
    from shared.logs import configure_logging
    configure_logging()
    start_http_server(int(os.environ.get("METRICS_PORT", "9110")))
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    # One delivery process per platform: a second one waits here as a standby (shared/lease.py).
    with lease.hold("subscriptions-delivery", stop=stopped) as held:
        if not held.held:
            return
        # Cached aggregates, fast-forwarded from the store on every read: the engine reads every
        # active subscription each second and each acknowledgement reads its subscription, and
        # rebuilding them from their events was a third of the process's time (make bench).
        app = Subscriptions(env={"AGGREGATE_CACHE_MAXSIZE": str(CACHED_SUBSCRIPTIONS)})
        engine = Engine(ApplicationStore(app), settings=Settings.from_env())
        engine.start()
        log.info("subscriptions delivery: running")
        stopped.wait()
        engine.stop()


if __name__ == "__main__":
    main()
