"""Application layer of the subscription service: the eventsourcing application `Subscriptions`,
primitives in and out, its own event store (schema `subscriptions`, encrypted like every store).

Administrators' commands (over RPC from the gateway, services/subscriptions/commands.py): create,
get, list, update, delete, rotate_secret, suspend, resume, replay. The delivery process's
(services/subscriptions/delivery.py): `delivery(id)` (the subscription with its secrets, never
served over RPC), `validate_sink`, `activate`, `suspend`, `acknowledge`.

A webhook secret is generated here at creation and rotation and answered exactly once, under
`secret`; every other answer is `Subscription.view()` (no secret). An AMQP subscription's
credentials come from the `provisioner` given (helper D's amqp_sink), shown once under
`credentials` (called once the subscription is saved, with its view; when it raises, the
subscription is deleted again). `deprovisioner(view)` is called after a deletion of an AMQP one.
Every change is saved with the directory in one atomic write.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

from services.subscriptions.domain import STATES, Directory, Subscription, new_secret
from shared.errors import InvalidInput
from shared.eventstore import PlatformApplication, retry_on_conflict


def registered_sources() -> tuple[str, ...]:
    from shared import domains
    return tuple(domains.names())


class Subscriptions(PlatformApplication):
    name = "subscriptions"
    snapshotting_intervals = {Directory: 100, Subscription: 200}

    def __init__(self, env=None, *, sources: Iterable[str] | None = None,
                 provisioner: Callable[[dict], dict] | None = None,
                 deprovisioner: Callable[[dict], None] | None = None,
                 redriver: Callable[[dict, int], int] | None = None,
                 secrets: Callable[[], str] = new_secret):
        super().__init__(env)
        self.sources = tuple(registered_sources() if sources is None else sources)
        self.provisioner, self.deprovisioner = provisioner, deprovisioner
        self.redriver = redriver        # (view, limit) -> how many AMQP dead letters moved back
        self.new_secret = secrets

    # --- administrators ------------------------------------------------------------------------

    @retry_on_conflict
    def create(self, subscriber, purpose, legal_basis, source, sink, protocol="HTTP", types=None,
               filters=None, protocolsettings=None, config=None, after=0) -> dict:
        secret = self.new_secret() if protocol == "HTTP" else None
        subscription = Subscription.create(
            subscriber=subscriber, purpose=purpose, legal_basis=legal_basis, source=source,
            sources=self.sources, sink=sink, protocol=protocol, types=types, filters=filters,
            protocolsettings=protocolsettings, config=config, after=after, secret=secret)
        directory = self._directory()
        directory.add(subscription.id)
        self.save(subscription, directory)
        answer = subscription.view()
        if subscription.protocol == "AMQP" and self.provisioner is not None:
            answer["credentials"] = self._provision(subscription, answer)     # shown this once
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
    def replay(self, subscription_id, after) -> dict:
        """Deliver again every event after `after` (a sequence number), then continue live."""
        return self._change(subscription_id, lambda s: s.rewind(after))

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
