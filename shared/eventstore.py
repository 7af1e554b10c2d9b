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
import weakref
from collections.abc import Callable

from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError, StoredEvent
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier

from shared.config import settings
from shared.db import ensure_database, ensure_schema
from shared.errors import Conflict, InvalidInput, NotFound

log = logging.getLogger(__name__)
ATTEMPTS = 10
BATCH = 100     # aggregates per atomic write in a run over many (payment runs, recomputations)


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


class PlatformApplication(Application):
    """An eventsourcing Application on the platform's PostgreSQL, in a schema of its own."""

    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        # `cryptography` (OpenSSL) rather than pycryptodome: same AES-GCM byte layout, ~20x cheaper
        # per message (docs/performance.md); stores written with either stay readable.
        "CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher",
        # zlib set up for small events: ~10x cheaper per event than zlib's defaults, the same
        # stream format (shared/compression.py).
        "COMPRESSOR_TOPIC": "shared.compression:SmallWindowZlib",
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
        """The aggregate, or None: one round trip (`id in repository` and then `get` would be
        two reads, and `repository.get` makes two: the latest snapshot, then the events)."""
        key = UUID(str(aggregate_id))
        return self._load([key]).get(key)

    def _get_many(self, aggregate_ids) -> list:
        """The aggregates of these ids, in that order, from one query where `repository.get`
        makes two per aggregate: the round trips were most of a payment run's time
        (docs/performance.md). An id with no events is a NotFound."""
        ids = [UUID(str(i)) for i in aggregate_ids]
        found = self._load(ids)
        missing = [str(i) for i in ids if i not in found]
        if missing:
            raise NotFound("id", f"no record with the id {missing[0]}", code="store.not_found")
        return [found[i] for i in ids]

    def _load(self, ids: list[UUID]) -> dict:
        """{id: aggregate} of those ids that have events: what `repository.get` returns for each
        (the latest snapshot, then every event after it), read in one round trip."""
        if not hasattr(self.events.recorder, "datastore"):     # the unit tests' in-memory store
            found = {}
            for aggregate_id in ids:
                try:
                    found[aggregate_id] = self.repository.get(aggregate_id)
                except AggregateNotFoundError:
                    pass
            return found
        found: dict = {}
        for snapshot, stored in _select(self.events.recorder.datastore, self._load_query, ids):
            event = self.mapper.to_domain_event(stored)
            found[stored.originator_id] = event.mutate(None if snapshot else found.get(stored.originator_id))
        return found

    @functools.cached_property
    def _load_query(self):
        """The rows (is_snapshot, originator_id, originator_version, topic, state) of `ids`:
        each id's latest snapshot first, then its events after it, by version. Each id is looked
        up through the primary key (LATERAL): with `originator_id = ANY(ids)` a PostgreSQL whose
        tables were never analysed (autovacuum off, as on this machine) scanned the whole events
        table for every batch, 61 ms per 100 cases over 220,000 events (docs/performance.md).
        OFFSET 0 keeps each LATERAL a lookup: flattened into a join, it was planned as that scan."""
        events = self.events.recorder
        schema = Identifier(events.datastore.schema)
        ids = "WITH i AS (SELECT DISTINCT id FROM unnest(%(ids)s::uuid[]) AS t(id)) "
        if self.snapshots is None:
            return SQL(ids + "SELECT false AS snapshot, e.originator_id, e.originator_version, e.topic, e.state FROM i "
                       "CROSS JOIN LATERAL (SELECT * FROM {schema}.{events} WHERE originator_id = i.id OFFSET 0) e "
                       "ORDER BY e.originator_id, e.originator_version").format(
                schema=schema, events=Identifier(events.events_table_name))
        return SQL(
            ids + ", s AS (SELECT l.* FROM i CROSS JOIN LATERAL (SELECT originator_id, originator_version, topic, state "
            "FROM {schema}.{snapshots} WHERE originator_id = i.id ORDER BY originator_version DESC LIMIT 1) l) "
            "SELECT true AS snapshot, originator_id, originator_version, topic, state FROM s "
            "UNION ALL SELECT false, e.originator_id, e.originator_version, e.topic, e.state "
            "FROM i LEFT JOIN s ON s.originator_id = i.id CROSS JOIN LATERAL (SELECT * FROM {schema}.{events} "
            "WHERE originator_id = i.id AND originator_version > COALESCE(s.originator_version, 0) OFFSET 0) e "
            "ORDER BY originator_id, snapshot DESC, originator_version").format(
            schema=schema, events=Identifier(events.events_table_name),
            snapshots=Identifier(self.snapshots.recorder.events_table_name))

    def _each_in_batches(self, ids: list[str], change: Callable, on_progress=None) -> list:
        """Apply `change` to each aggregate of `ids`, saving BATCH of them per atomic write, and
        return what it returned for those it changed. A change returns None when it has nothing
        to do (the month is already paid): that is what makes a re-run, or a run racing another,
        change nobody twice. (Reading the next batch in a thread while the current one is stored
        made runs 60 % slower: the decoding competes for the GIL, docs/performance.md.)"""
        results = []
        for begin in range(0, len(ids), BATCH):
            results.extend(self._change_batch(ids[begin:begin + BATCH], change))
            if on_progress:
                on_progress(min(begin + BATCH, len(ids)), len(ids))
        return results

    @retry_on_conflict
    def _change_batch(self, ids: list[str], change: Callable) -> list:
        changed, results = [], []
        for aggregate in self._get_many(ids):
            result = change(aggregate)
            if result is not None:
                changed.append(aggregate)
                results.append(result)
        if changed:
            self.save(*changed)
        return results

    def _take_snapshots(self, processing_event) -> None:
        """Snapshots of the aggregates just saved whose new events reached their type's interval
        (every so many versions), taken from the aggregates in hand (at the version just stored) and
        written in one insert. eventsourcing's own reads each one back (two queries) and writes
        each snapshot alone: a payment run would have tripled its round trips. A snapshot is a
        cache of what the events say: one that fails to be written is logged, and the load reads
        the events instead."""
        if not (self.snapshots and self.snapshotting_intervals):
            return
        due = {}
        for event in processing_event.events:
            aggregate = processing_event.aggregates.get(event.originator_id)
            interval = self.snapshotting_intervals.get(type(aggregate))
            # Offset by the id, so that records created together (a month's approvals) do not
            # all take theirs in the same run.
            if interval and (event.originator_version + aggregate.id.int) % interval == 0:
                due[aggregate.id] = aggregate
        if not due:
            return
        try:
            self.snapshots.put([getattr(type(aggregate), "Snapshot", self.snapshot_class).take(aggregate)
                                for aggregate in due.values()])
        except (InterfaceError, OperationalError, IntegrityError) as error:
            log.warning("%d snapshots not written (%s); their aggregates load from their events", len(due), error)

    def _exists(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self.repository


_JIT_OFF: weakref.WeakSet = weakref.WeakSet()      # connections whose session has jit off


@retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)   # as eventsourcing's reads
def _select(datastore, query, ids: list[UUID]) -> list[tuple[bool, StoredEvent]]:
    with datastore.get_connection() as conn, conn.cursor() as cursor:
        if len(ids) > 1 and conn not in _JIT_OFF:
            # Without statistics (autovacuum off) a batch's estimated cost passes jit_above_cost
            # and PostgreSQL compiled the query for ~17 ms of a 3 ms lookup. Off for this pooled
            # connection's session: the platform's queries are short lookups.
            cursor.execute("SET jit = off")
            _JIT_OFF.add(conn)
        cursor.execute(query, {"ids": ids})
        return [(row["snapshot"], StoredEvent(originator_id=row["originator_id"],
                                              originator_version=row["originator_version"],
                                              topic=row["topic"], state=bytes(row["state"])))
                for row in cursor.fetchall()]
