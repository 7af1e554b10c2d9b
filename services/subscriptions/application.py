"""Application layer of the subscription service: the eventsourcing application `Subscriptions`,
primitives in and out, its own event store (schema `subscriptions`, encrypted like every store).

Administrators' commands (over RPC from the gateway, services/subscriptions/commands.py): create,
get, list, update, delete, rotate_secret, suspend, resume, replay, redrive. The delivery process's
(services/subscriptions/delivery.py): `delivery(id)` (the subscription with its secrets, never
served over RPC), `validate_sink`, `activate`, `suspend`, `acknowledge`, `dead_letter`, `redriven`.

Creation and replay start `after` a sequence or `since` a time: a time is resolved to a position
by the injected `position_at(source, at) -> int` (default: the source's GET /events/position at
<SOURCE>_URL, shared.feed.position_at, bounded timeout; a source that does not answer is
`ServiceUnavailable`, nothing changed), and the event records both what was asked and the position.
Dead letters are re-driven by an operator: an HTTP subscription's in the domain (the delivery
process delivers `redrive` and reports `redriven`), an AMQP one's by the injected
`redriver(view, limit) -> int` (amqp_sink.redrive behind it), which answers how many it moved.

A webhook secret is generated here at creation and rotation and answered exactly once, under
`secret`; every other answer is `Subscription.view()` (no secret). An AMQP subscription's
credentials come from the `provisioner` given (helper D's amqp_sink), shown once under
`credentials` (called once the subscription is saved, with its view; when it raises, the
subscription is deleted again). A provisioned AMQP subscription is validated and activated at
once (its sink was made by us: no handshake); without a provisioner it stays `created`. `deprovisioner(view)` is called after a deletion of an AMQP one.
Every change is saved with the directory in one atomic write.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from services.subscriptions.domain import (DEAD_LETTERS_KEPT, STATES, Directory, Subscription, check_position,
                                           check_source, check_start, new_secret)
from shared import feed
from shared.errors import Conflict, DomainError, InvalidInput, ServiceUnavailable
from shared.eventstore import PlatformApplication, retry_on_conflict

log = logging.getLogger(__name__)


def registered_sources() -> tuple[str, ...]:
    from shared import domains
    return tuple(domains.names())


class Subscriptions(PlatformApplication):
    name = "subscriptions"
    # Subscriptions: every acknowledgement is an event carrying up to 1,000 delivery records, so a
    # snapshot every 20 keeps a rebuild short (the Nameko service does not cache aggregates).
    snapshotting_intervals = {Directory: 100, Subscription: 20}

    def __init__(self, env=None, *, sources: Iterable[str] | None = None,
                 provisioner: Callable[[dict], dict] | None = None,
                 deprovisioner: Callable[[dict], None] | None = None,
                 secrets: Callable[[], str] = new_secret,
                 position_at: Callable[[str, str], int] | None = None,
                 redriver: Callable[[dict, int], int] | None = None):
        super().__init__(env)
        self.sources = tuple(registered_sources() if sources is None else sources)
        self.provisioner, self.deprovisioner = provisioner, deprovisioner
        self.new_secret = secrets
        self.position_at = position_at or feed.position_at
        self.redriver = redriver        # (view, limit) -> how many AMQP dead letters moved back

    # --- administrators ------------------------------------------------------------------------

    @retry_on_conflict
    def create(self, subscriber, purpose, legal_basis, source, sink, protocol="HTTP", types=None,
               filters=None, protocolsettings=None, config=None, after=None, since=None) -> dict:
        after, since = self._start(check_source(source, self.sources), after, since)
        secret = self.new_secret() if protocol == "HTTP" else None
        subscription = Subscription.create(
            subscriber=subscriber, purpose=purpose, legal_basis=legal_basis, source=source,
            sources=self.sources, sink=sink, protocol=protocol, types=types, filters=filters,
            protocolsettings=protocolsettings, config=config, after=after, secret=secret, since=since)
        directory = self._directory()
        directory.add(subscription.id)
        self.save(subscription, directory)
        answer = subscription.view()
        if subscription.protocol == "AMQP" and self.provisioner is not None:
            credentials = self._provision(subscription, answer)     # shown this once
            answer = {**self._ready(subscription, answer), "credentials": credentials}
        if secret is not None:
            answer["secret"] = secret       # shown this once
        return answer

    def _provision(self, subscription: Subscription, view: dict) -> dict:
        """The AMQP sink's credentials; when it cannot be made, the subscription is deleted
        (nothing half-made stays) and the error goes to the caller."""
        try:
            return self.provisioner(view)
        except Exception:
            subscription.delete()
            directory = self._directory()
            directory.remove(subscription.id)
            self.save(subscription, directory)
            raise

    def _ready(self, subscription: Subscription, view: dict) -> dict:
        """An AMQP sink made by us needs no handshake: validated and active in one save. If that
        save fails the subscription stays `created` (its credentials are given all the same) and
        the delivery process validates it there (delivery.Engine, pending AMQP subscriptions)."""
        try:
            subscription.validate_sink()
            subscription.activate()
            self.save(subscription)
        except Exception:  # noqa: BLE001 - the sink exists; only its state lags
            log.exception("subscription %s: provisioned, but not activated", subscription.id)
            return view
        return subscription.view()

    def get(self, subscription_id) -> dict:
        return self._subscription(subscription_id).view()

    def list(self, state=None) -> list[dict]:
        if state is not None and state not in STATES:
            raise InvalidInput("state", "must be one of " + ", ".join(STATES), code="subscription.unknown_state")
        views = [self._subscription(i).view() for i in self._directory().ids]
        return [v for v in views if state is None or v["state"] == state]

    @retry_on_conflict
    def update(self, subscription_id, sink=None, types=None, filters=None, protocolsettings=None,
               config=None, purpose=None, legal_basis=None) -> dict:
        subscription = self._subscription(subscription_id)
        if subscription.update(sources=self.sources, sink=sink, types=types, filters=filters,
                               protocolsettings=protocolsettings, config=config, purpose=purpose,
                               legal_basis=legal_basis):
            self.save(subscription)
        return subscription.view()

    @retry_on_conflict
    def delete(self, subscription_id) -> dict:
        subscription = self._subscription(subscription_id)
        subscription.delete()
        directory = self._directory()
        directory.remove(subscription.id)
        self.save(subscription, directory)
        if subscription.protocol == "AMQP" and self.deprovisioner is not None:
            self.deprovisioner(subscription.view())
        return subscription.view()

    @retry_on_conflict
    def rotate_secret(self, subscription_id, keep_previous=True) -> dict:
        subscription = self._subscription(subscription_id)
        secret = self.new_secret()
        subscription.rotate_secret(secret, keep_previous)
        self.save(subscription)
        return {**subscription.view(), "secret": secret}    # shown this once

    @retry_on_conflict
    def suspend(self, subscription_id, reason) -> dict:
        return self._change(subscription_id, lambda s: s.suspend(reason))

    @retry_on_conflict
    def resume(self, subscription_id) -> dict:
        return self._change(subscription_id, Subscription.resume)

    @retry_on_conflict
    def replay(self, subscription_id, after=None, since=None) -> dict:
        """Deliver again every event after `after` (a sequence number) or stored from `since` (a
        time) on, then continue live."""
        subscription = self._subscription(subscription_id)
        subscription.rewind(*self._start(subscription.source, after, since, required=True))
        self.save(subscription)
        return subscription.view()

    def _start(self, source, after, since, required=False) -> tuple[int, str | None]:
        """(position, since): `after` as it is, or `since` resolved by the source's feed."""
        after, since = check_start(after, since, required)
        if since is None:
            return after, None
        return check_position("since", self.position_at(source, since)), since

    def redrive(self, subscription_id, sequences=None, limit=DEAD_LETTERS_KEPT) -> dict:
        """Deliver dead letters again: an HTTP subscription's given `sequences` (None: all), at
        most `limit`, by the delivery process; an AMQP one's, oldest first, back into its queue
        now. The answer is the subscription with `redriven`: how many this asked for or moved."""
        subscription = self._subscription(subscription_id)
        if subscription.protocol == "AMQP":
            return self._redrive_queue(subscription, sequences, limit)
        return self._request_redrive(subscription_id, sequences, limit)

    @retry_on_conflict
    def _request_redrive(self, subscription_id, sequences, limit) -> dict:
        subscription = self._subscription(subscription_id)
        chosen = subscription.request_redrive(sequences, limit)
        self.save(subscription)
        return {**subscription.view(), "redriven": len(chosen)}

    def _redrive_queue(self, subscription: Subscription, sequences, limit) -> dict:
        limit = subscription.check_queue_redrive(sequences, limit)
        if self.redriver is None:
            raise ServiceUnavailable("subscription_id", "this subscription service has no AMQP re-driver: run it "
                              "with its composition root (services/subscriptions/service.py build())",
                              code="subscription.no_redriver")
        try:
            moved = self.redriver(subscription.view(), limit)
        except DomainError:
            raise
        except Exception as error:      # the broker: what was confirmed moved stays moved
            log.warning("re-driving %s failed", subscription.id, exc_info=True)
            raise ServiceUnavailable("subscription_id", f"the broker did not finish the re-drive ({type(error).__name__}); "
                              "what it confirmed is back in the queue, the rest is still dead-lettered: "
                              "try again", code="subscription.redrive_failed") from None
        if not moved:
            raise Conflict("sequences", "the subscription's dead-letter queue is empty",
                           code="subscription.nothing_to_redrive")
        return {**self._record_queue_redrive(subscription.id, moved), "redriven": moved}

    @retry_on_conflict
    def _record_queue_redrive(self, subscription_id, moved: int) -> dict:
        """Only the record is retried on a concurrent change: the broker's move is not repeated."""
        return self._change(subscription_id, lambda s: s.queue_redriven(moved))

    # --- the delivery process ------------------------------------------------------------------

    def delivery(self, subscription_id) -> dict:
        """The view with the valid secrets (newest first): for signing, never for an answer."""
        subscription = self._subscription(subscription_id)
        return {**subscription.view(), "secrets": list(subscription.secrets)}

    @retry_on_conflict
    def validate_sink(self, subscription_id, allowed_rate=None) -> dict:
        return self._change(subscription_id, lambda s: s.validate_sink(allowed_rate))

    @retry_on_conflict
    def activate(self, subscription_id) -> dict:
        return self._change(subscription_id, Subscription.activate)

    @retry_on_conflict
    def acknowledge(self, subscription_id, position, previous=None, deliveries=()) -> bool:
        """Compare-and-set: False when `previous` is no longer the subscription's position."""
        subscription = self._subscription(subscription_id)
        moved = subscription.acknowledge(position, previous, deliveries)
        if moved:
            self.save(subscription)
        return moved

    @retry_on_conflict
    def dead_letter(self, subscription_id, event: dict, reason: str) -> dict:
        return self._change(subscription_id, lambda s: s.dead_letter(
            str(event.get("id", ""))[:100] or "?", int(event.get("sequence") or 0),
            str(event.get("type", ""))[:100] or "?", str(reason)[:500] or "?"))

    @retry_on_conflict
    def redriven(self, subscription_id, sequences, deliveries=()) -> dict:
        """The delivery process delivered these re-driven HTTP dead letters again: they leave
        `redrive`, and what they disclosed is recorded. Sequences not waiting there change
        nothing (a second report is harmless)."""
        subscription = self._subscription(subscription_id)
        if subscription.redriven(sequences, deliveries):
            self.save(subscription)
        return subscription.view()

    # --- helpers -------------------------------------------------------------------------------

    def _change(self, subscription_id, change) -> dict:
        subscription = self._subscription(subscription_id)
        change(subscription)
        self.save(subscription)
        return subscription.view()

    def _subscription(self, subscription_id) -> Subscription:
        return self._get(Subscription, subscription_id, "subscription_id")

    def _directory(self) -> Directory:
        return self._find(Directory.ID) or Directory()
