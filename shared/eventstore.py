"""Infrastructure: how every service keeps its state as events in PostgreSQL.

One schema per service, AES-encrypted and compressed event bodies (identity numbers are never
stored in clear), optimistic concurrency with a bounded retry that ends in a typed Conflict.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import os
import random
import time

from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, StoredEvent
from psycopg.sql import SQL, Identifier

from shared.config import settings
from shared.db import ensure_database, ensure_schema
from shared.errors import Conflict, InvalidInput, NotFound

log = logging.getLogger(__name__)
ATTEMPTS = 10


class PlatformApplication(Application):
    """An eventsourcing Application on the platform's PostgreSQL, in a schema of its own."""

    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        # `cryptography` (OpenSSL) rather than pycryptodome: same AES-GCM byte layout, ~20x cheaper
        # per message (docs/performance.md); stores written with either stay readable.
        "CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher",
        "COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor",
        "CREATE_TABLE": "y",
        # Two kept open per process, more only under load (overflow connections close when
        # returned): the whole platform of `make run` must fit a fresh PostgreSQL's 100
        # connections (tests/fault/test_scale_faults.py measures it).
        "POSTGRES_POOL_SIZE": "2",
        "POSTGRES_MAX_OVERFLOW": "10",
        # No pre-ping: it cost a round trip per checkout (~10 % of commands/s, docs/performance.md,
        # S3). After a PostgreSQL restart the first use of a stale pooled connection fails and
        # eventsourcing's recorder retries it (OperationalError, 10 attempts): the fault suite's
        # PostgreSQL restart covers it.
        "POSTGRES_PRE_PING": "n",
    }

    def __init__(self, env=None):
        given = {**os.environ, **(env or {})}
        cfg = settings(given)
        merged = {**cfg.eventsourcing_env(), "POSTGRES_SCHEMA": self.name, **(env or {})}
        if given.get("PERSISTENCE_MODULE", self.env["PERSISTENCE_MODULE"]) == "eventsourcing.postgres":
            ensure_database(cfg)
            ensure_schema(cfg, self.name)
        super().__init__(merged)
        key = self.env.get("CIPHER_KEY", "").encode()
        self.pseudonym_key = hmac.new(key, b"pseudonym", hashlib.sha256).digest()

    def _get(self, cls, aggregate_id, field: str):
        """The aggregate of this type with this id, or a typed error naming the field."""
        try:
            key = UUID(str(aggregate_id))
        except ValueError:
            raise InvalidInput(field, "must be a UUID", code="input.not_uuid") from None
        aggregate = self._find(key)
        if not isinstance(aggregate, cls):  # None when there is none
            raise NotFound(field, f"no {cls.__name__.lower()} with this id", code="store.not_found")
        return aggregate

    def _find(self, aggregate_id: UUID):
        """The aggregate, or None: one read (`id in repository` and then `get` would be two)."""
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def _get_many(self, aggregate_ids) -> list:
        """The aggregates of these ids, in that order, read with two queries (the latest
        snapshots, then every event after them) where `repository.get` makes two per aggregate:
        the round trips were most of a payment run's time (docs/performance.md). The result is
        what `repository.get` returns for each id; an id with no events is a NotFound."""
        ids = [UUID(str(i)) for i in aggregate_ids]
        if not hasattr(self.events.recorder, "datastore"):     # the unit tests' in-memory store
            return [self._get(object, i, "id") for i in ids]
        snapshots = {s.originator_id: s for s in self._latest_snapshots(ids)}
        after = [snapshots[i].originator_version if i in snapshots else 0 for i in ids]
        recorder = self.events.recorder
        query = SQL("SELECT e.originator_id, e.originator_version, e.topic, e.state "
                    "FROM {schema}.{table} e JOIN unnest(%s::uuid[], %s::bigint[]) AS w(id, after) "
                    "ON e.originator_id = w.id AND e.originator_version > w.after "
                    "ORDER BY e.originator_id, e.originator_version").format(
            schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
        aggregates = {i: self.mapper.to_domain_event(s).mutate(None) for i, s in snapshots.items()}
        for stored in self._stored(recorder, query, (ids, after)):
            event = self.mapper.to_domain_event(stored)
            aggregates[event.originator_id] = event.mutate(aggregates.get(event.originator_id))
        missing = [str(i) for i in ids if i not in aggregates]
        if missing:
            raise NotFound("id", f"no record with the id {missing[0]}", code="store.not_found")
        return [aggregates[i] for i in ids]

    def _latest_snapshots(self, ids: list[UUID]) -> list[StoredEvent]:
        if self.snapshots is None:
            return []
        recorder = self.snapshots.recorder
        query = SQL("SELECT DISTINCT ON (originator_id) originator_id, originator_version, topic, state "
                    "FROM {schema}.{table} WHERE originator_id = ANY(%s::uuid[]) "
                    "ORDER BY originator_id, originator_version DESC").format(
            schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
        return self._stored(recorder, query, (ids,))

    @staticmethod
    def _stored(recorder, query, params) -> list[StoredEvent]:
        with recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(query, params)
            return [StoredEvent(originator_id=row["originator_id"], originator_version=row["originator_version"],
                                topic=row["topic"], state=bytes(row["state"])) for row in cursor.fetchall()]

    def _exists(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self.repository


def retry_on_conflict(method):
    """Re-run a command when a concurrent command saved the same aggregate first. The re-run
    sees the winner's events, so the domain decides (e.g. 'case is already active'); after
    several lost races the caller gets a Conflict, and nothing of the loser is stored."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return method(*args, **kwargs)
            except IntegrityError:
                log.info("concurrent change in %s, attempt %d", method.__name__, attempt)
                # Racers that retry in lockstep collide again: wait a random few milliseconds.
                time.sleep(random.uniform(0, 0.005 * attempt))
        raise Conflict("version", "the record was changed concurrently several times; try again",
                       code="store.concurrent_change")
    return wrapper
