"""Infrastructure layer of the projection service: the read models in PostgreSQL schema
`read_model`, kept by an eventsourcing `PostgresTrackingRecorder`.

The tables, views and handlers of each registered domain live in its folder
(`services/<domain>/readmodel.py`: SOURCE, TABLES, VIEWS, HANDLERS; see shared/domains.py);
this class runs them, and refuses two domains that declare the same table or view.
Each batch of events updates the tables and the tracking position of its source in ONE
transaction, and the position is read (and row-locked) inside that transaction, so an event at
or below it is skipped: applying a batch twice changes nothing. A rebuild locks the tables,
wipes them and replays from the sources, in one transaction too.
Besides the domains' relations, every event also writes one row of the generic audit trail
(`read_model.audit_trail`, services/projection/audit.py) in the same transaction.

Poison events. An event the tables cannot take (a value out of a column's range, a handler's
KeyError on its data: `shared.consumer.is_permanent`) would fail its batch forever, and the event
store is immutable. `apply_batch(..., on_skip=callback)` therefore applies event by event, each
in a savepoint: a permanently failing event is rolled back to its savepoint, recorded in
`read_model.skipped_events` (source, sequence, type, reason, detail, at) and passed (the tracking
position moves beyond it), the others are applied in order and exactly once, and `on_skip(event,
error)` is called after the commit (the consumer dead-letters it). A skipped event that comes
back (a dead letter re-queued after a fix) is tried again even though it is below the position;
if it applies now its record goes. A rebuild applies each page in a savepoint and, when one
fails permanently, that page event by event: it never aborts on a poison event, it keeps it
recorded as skipped (and drops the records of events that apply now, after a fix), so a rebuild
gives the live model's result. `skipped_events` survives rebuilds; `skipped()` lists it.
"""
from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable
from types import ModuleType

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg import sql

from services.projection import audit
from shared import domains
from shared.config import ConfigurationError, Settings
from shared.consumer import describe, is_permanent

SCHEMA = "read_model"
TRACKING_TABLE = "notification_tracking"
SKIPPED_TABLE = "skipped_events"  # poison events passed over; kept across rebuilds
SKIPPED_COLUMNS = """
    source text NOT NULL, sequence bigint NOT NULL, type text NOT NULL, event_id text,
    reason text NOT NULL, detail text, at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, sequence)"""
log = logging.getLogger("readmodel")


def registered_sources() -> tuple[ModuleType, ...]:
    """The read-model modules of the registered domains."""
    return tuple(domain.load("readmodel") for domain in domains.registered())


def relations(sources: Iterable[ModuleType]) -> tuple[dict[str, str], dict[str, str]]:
    """(tables, views) of the sources; a name declared twice is refused, naming both."""
    tables: dict[str, str] = {}
    views: dict[str, str] = {}
    owner: dict[str, str] = {TRACKING_TABLE: "the projection", SKIPPED_TABLE: "the projection",
                             audit.TABLE: "the projection"}
    for source in sources:
        for kind, declared, into in (("table", source.TABLES, tables),
                                     ("view", getattr(source, "VIEWS", {}), views)):
            for name, text in declared.items():
                if name in owner:
                    raise ConfigurationError(
                        f"the read model {kind} {name!r} of {source.SOURCE} is already declared "
                        f"by {owner[name]}: rename it (prefix it with the domain's initials)")
                owner[name] = source.SOURCE
                into[name] = text
    return tables, views


@functools.lru_cache(maxsize=1024)
def _compose(statement: str, schema: str) -> str:
    return sql.SQL(statement).format(s=sql.Identifier(schema)).as_string()


class Statements:
    """What a handler writes with: `exec` fills `{s}` with the read model's schema. Handlers
    only write, so a batch runs in pipeline mode: statements go out without waiting for each
    result (an error still surfaces before the commit and rolls the batch back)."""

    def __init__(self, curs, schema: str):
        self.curs = curs
        self.schema = schema

    def exec(self, statement: str, params: dict) -> None:
        # Composed once per text (then psycopg prepares it): not once per event.
        self.curs.execute(_compose(statement, self.schema), params)


class ReadModel(PostgresTrackingRecorder):
    def __init__(self, datastore: PostgresDatastore, sources: Iterable[ModuleType] | None = None):
        super().__init__(datastore, tracking_table_name=TRACKING_TABLE)
        sources = registered_sources() if sources is None else tuple(sources)
        self.sources = {source.SOURCE: source for source in sources}
        tables, self.views = relations(sources)
        # The audit trail is a table like the domains' (created, wiped and replayed by a rebuild).
        self.tables = {audit.TABLE: audit.COLUMNS, **tables}
        schema = sql.Identifier(datastore.schema)
        for name, columns in self.tables.items():
            self.sql_create_statements.append(sql.SQL("CREATE TABLE IF NOT EXISTS {}.{} (" + columns + ")")
                                              .format(schema, sql.Identifier(name)))
        for index, columns in audit.INDEXES.items():
            self.sql_create_statements.append(sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {}.{} " + columns)
                                              .format(sql.Identifier(index), schema,
                                                      sql.Identifier(audit.TABLE)))
        for name, query in self.views.items():
            self.sql_create_statements.append(
                sql.SQL("CREATE OR REPLACE VIEW {}.{} AS " + query.replace("{schema}", "{s}"))
                .format(schema, sql.Identifier(name), s=schema))
        self.sql_create_statements.append(self._create_skipped_table(schema))

    @classmethod
    def connect(cls, settings: Settings, schema: str = SCHEMA,
                sources: Iterable[ModuleType] | None = None, pool_size: int = 2) -> "ReadModel":
        from shared.db import ensure_database, ensure_schema
        ensure_database(settings)
        ensure_schema(settings, schema)
        datastore = PostgresDatastore(dbname=settings.pg_dbname, host=settings.pg_host,
                                      port=settings.pg_port, user=settings.pg_user,
                                      password=settings.pg_password, schema=schema,
                                      pre_ping=True, pool_size=max(1, min(pool_size, 64)))
        model = cls(datastore, sources)
        model.create_table()
        return model

    # --- applying events -------------------------------------------------------------------

    def apply_batch(self, source: str, events: list[dict],
                    fetch_missing: Callable[[int, int], list[dict]] | None = None,
                    on_skip: Callable[[dict, BaseException], None] | None = None) -> int:
        """Apply a source's events (CloudEvent dicts, in sequence order) exactly once.
        Missing sequence numbers are first fetched with `fetch_missing(after, before)`; an
        event's `prevsequence` (the relay's previous notification id) tells a real gap from
        ids that rolled-back transactions never used. Returns the number of events applied
        (duplicates and skipped events are not counted).

        Without `on_skip` the batch runs in pipeline mode and any failure rolls it all back.
        With it, each event runs in a savepoint; one failing permanently is recorded as skipped
        and passed, and `on_skip(event, error)` is called for it once the batch committed."""
        skips: list[tuple[dict, BaseException]] = []
        with self.datastore.transaction(commit=True) as curs:
            position = self._locked_position(curs, source)
            again = self._skipped_sequences(curs, source, [int(e["sequence"]) for e in events
                                                           if int(e["sequence"]) <= position])
            if on_skip is None:
                with curs.connection.pipeline():
                    applied = self._apply_after(curs, source, position, events, fetch_missing, again,
                                                self._apply)
            else:
                def apply_one(db, source_, event):
                    return self._apply_or_skip(curs, db, source_, event, skips)
                applied = self._apply_after(curs, source, position, events, fetch_missing, again,
                                            apply_one)
        for event, error in skips:
            on_skip(event, error)
        return applied

    def _apply_after(self, curs, source: str, position: int, events: list[dict],
                     fetch_missing: Callable[[int, int], list[dict]] | None,
                     again: set[int] = frozenset(), apply_one=None) -> int:
        apply_one = apply_one or self._apply
        db = Statements(curs, self.datastore.schema)
        start = position
        applied = 0
        for event in events:
            sequence = int(event["sequence"])
            if sequence <= position:
                if sequence in again:  # a skipped event re-queued: try it again, late
                    again = again - {sequence}
                    done = apply_one(db, source, event)
                    if done:
                        self._forget_skipped(curs, source, [sequence])
                    applied += done
                continue  # already applied: a redelivery or a republish
            previous = int(event.get("prevsequence", sequence - 1))
            if fetch_missing and previous > position:
                for missing in fetch_missing(position, sequence):
                    applied += apply_one(db, source, missing)
            applied += apply_one(db, source, event)
            position = sequence
        if position > start:
            self._insert_tracking(curs, Tracking(source, position))
        return applied

    def _apply_or_skip(self, curs, db: Statements, source: str, event: dict,
                       skips: list[tuple[dict, BaseException]]) -> int:
        """Apply one event in a savepoint; if it fails permanently, roll it back and record it
        as skipped (returns 0). A transient failure is raised: the whole batch is retried."""
        try:
            with curs.connection.transaction():  # nested in the batch's: a SAVEPOINT
                return self._apply(db, source, event)
        except Exception as error:
            if not is_permanent(error):
                raise
            self._record_skipped(curs, source, event, "apply-failed", describe(error))
            skips.append((event, error))
            log.warning("read model: skipped %s event %s (%s): %s", source, event["sequence"],
                        event.get("type"), describe(error))
            return 0

    # --- skipped (poison) events ------------------------------------------------------------

    def _create_skipped_table(self, schema: sql.Identifier) -> sql.Composed:
        return sql.SQL("CREATE TABLE IF NOT EXISTS {}.{} (" + SKIPPED_COLUMNS + ")").format(
            schema, sql.Identifier(SKIPPED_TABLE))

    def _skipped_table(self) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.datastore.schema), sql.Identifier(SKIPPED_TABLE))

    def _skipped_sequences(self, curs, source: str, sequences: list[int]) -> set[int]:
        if not sequences:
            return set()
        curs.execute(sql.SQL("SELECT sequence FROM {} WHERE source = %s AND sequence = ANY(%s)")
                     .format(self._skipped_table()), (source, sequences))
        return {row["sequence"] for row in curs.fetchall()}

    def _record_skipped(self, curs, source: str, event: dict, reason: str, detail: str) -> None:
        curs.execute(sql.SQL("""INSERT INTO {} (source, sequence, type, event_id, reason, detail)
                                VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (source, sequence)
                                DO UPDATE SET reason = EXCLUDED.reason, detail = EXCLUDED.detail""")
                     .format(self._skipped_table()),
                     (source, int(event["sequence"]), str(event.get("type", "")), event.get("id"),
                      reason, detail))

    def _forget_skipped(self, curs, source: str, sequences: list[int]) -> None:
        curs.execute(sql.SQL("DELETE FROM {} WHERE source = %s AND sequence = ANY(%s)")
                     .format(self._skipped_table()), (source, sequences))

    def skipped(self, source: str | None = None) -> list[dict]:
        """The events passed over because they could not be applied, oldest first."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(sql.SQL("SELECT source, sequence, type, event_id, reason, detail, at FROM {} "
                                 "WHERE %(source)s::text IS NULL OR source = %(source)s "
                                 "ORDER BY source, sequence").format(self._skipped_table()),
                         {"source": source})
            return [dict(row) for row in curs.fetchall()]

    def _locked_position(self, curs, source: str) -> int:
        curs.execute(sql.SQL("SELECT notification_id FROM {}.{} WHERE application_name = %s FOR UPDATE")
                     .format(sql.Identifier(self.datastore.schema), sql.Identifier(TRACKING_TABLE)),
                     (source,))
        row = curs.fetchone()
        return row["notification_id"] if row else 0

    def _apply(self, db: Statements, source: str, event: dict) -> int:
        handler = self.sources[source].HANDLERS.get(event["type"])
        if handler is not None:
            handler(db, event["data"], event)
        audit.record(db, source, event)  # every event, handled or not, in the same savepoint
        return 1

    def position(self, source: str) -> int:
        return self.max_tracking_id(source) or 0

    # --- rebuild -----------------------------------------------------------------------------

    def rebuild(self, sources: Iterable[str], read_pages: Callable[[str], Iterable[list[dict]]],
                on_progress: Callable[[int], None] | None = None) -> dict[str, int]:
        """Wipe every table and replay each source from its first event, in one transaction:
        the live consumer waits on the table locks and then carries on from the new position.
        Should PostgreSQL still pick it as a deadlock victim against a reader holding one table
        while wanting another, nothing was changed yet: it starts again, a few times."""
        sources = list(sources)
        for attempt in range(1, REBUILD_ATTEMPTS + 1):
            try:
                return self._rebuild(sources, read_pages, on_progress)
            except Exception as error:
                if attempt == REBUILD_ATTEMPTS or not _lost_a_lock_race(error):
                    raise
                time.sleep(0.2 * attempt)
        raise AssertionError("unreachable")

    def _rebuild(self, sources, read_pages, on_progress) -> dict[str, int]:
        schema = sql.Identifier(self.datastore.schema)
        # The tracking table first: a live batch locks its tracking row before any other table,
        # so it either already holds it (the rebuild waits, holding nothing) or waits for it.
        names = [TRACKING_TABLE, SKIPPED_TABLE, *self.tables]
        positions = {}
        with self.datastore.transaction(commit=True) as curs:
            db = Statements(curs, self.datastore.schema)
            curs.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
                sql.SQL(", ").join(sql.SQL("{}.{}").format(schema, sql.Identifier(n)) for n in names)))
            for name in self.tables:
                curs.execute(sql.SQL("DELETE FROM {}.{}").format(schema, sql.Identifier(name)))
            curs.execute(sql.SQL("DELETE FROM {}.{} WHERE application_name <> %s")
                         .format(schema, sql.Identifier(TRACKING_TABLE)), (self.table_migration_identifier,))
            total = 0
            for source in sources:
                position = 0
                skips: list[tuple[dict, BaseException]] = []
                for page in read_pages(source):
                    self._replay_page(curs, db, source, page, skips)
                    if page:
                        position = int(page[-1]["sequence"])
                    total += len(page)
                    if on_progress:
                        on_progress(total)
                # Events skipped before that apply now (the cause was fixed) are skipped no more.
                curs.execute(sql.SQL("DELETE FROM {} WHERE source = %s AND sequence <= %s "
                                     "AND NOT (sequence = ANY(%s))").format(self._skipped_table()),
                             (source, position, [int(event["sequence"]) for event, _ in skips]))
                if position:
                    self._insert_tracking(curs, Tracking(source, position))
                positions[source] = position
        return positions

    def _replay_page(self, curs, db: Statements, source: str, page: list[dict],
                     skips: list[tuple[dict, BaseException]]) -> None:
        """One page of a rebuild in a savepoint; if it fails permanently, event by event."""
        try:
            with curs.connection.transaction():
                for event in page:
                    self._apply(db, source, event)
        except Exception as error:
            if not is_permanent(error):
                raise
            for event in page:
                self._apply_or_skip(curs, db, source, event, skips)

    def table_rows(self, name: str) -> list[tuple]:
        """Every row of a table or view, sorted: how rebuild equality is checked."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(sql.SQL("SELECT * FROM {}.{}").format(
                sql.Identifier(self.datastore.schema), sql.Identifier(name)))
            return sorted(tuple(row.values()) for row in curs.fetchall())


REBUILD_ATTEMPTS = 5


def _lost_a_lock_race(error: BaseException) -> bool:
    """A deadlock victim or a lock timeout, possibly wrapped by eventsourcing."""
    from psycopg import errors as pg
    while error is not None:
        if isinstance(error, (pg.DeadlockDetected, pg.LockNotAvailable)):
            return True
        error = error.__cause__ or error.__context__
    return False
