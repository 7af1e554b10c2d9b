"""Infrastructure layer of the projection service: the read models in PostgreSQL schema
`read_model`, kept by an eventsourcing `PostgresTrackingRecorder`.

The tables, views and handlers of each registered domain live in its folder
(`services/<domain>/readmodel.py`: SOURCE, TABLES, VIEWS, HANDLERS; see shared/domains.py);
this class runs them, and refuses two domains that declare the same table or view.
Each batch of events updates the tables and the tracking position of its source in ONE
transaction, and the position is read (and row-locked) inside that transaction, so an event at
or below it is skipped: applying a batch twice changes nothing. A rebuild locks the tables,
wipes them and replays from the sources, in one transaction too.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from types import ModuleType

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg import sql

from shared import domains
from shared.config import ConfigurationError, Settings

SCHEMA = "read_model"
TRACKING_TABLE = "notification_tracking"


def registered_sources() -> tuple[ModuleType, ...]:
    """The read-model modules of the registered domains."""
    return tuple(domain.load("readmodel") for domain in domains.registered())


def relations(sources: Iterable[ModuleType]) -> tuple[dict[str, str], dict[str, str]]:
    """(tables, views) of the sources; a name declared twice is refused, naming both."""
    tables: dict[str, str] = {}
    views: dict[str, str] = {}
    owner: dict[str, str] = {TRACKING_TABLE: "the projection"}
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
        self.tables, self.views = relations(sources)
        schema = sql.Identifier(datastore.schema)
        for name, columns in self.tables.items():
            self.sql_create_statements.append(sql.SQL("CREATE TABLE IF NOT EXISTS {}.{} (" + columns + ")")
                                              .format(schema, sql.Identifier(name)))
        for name, query in self.views.items():
            self.sql_create_statements.append(
                sql.SQL("CREATE OR REPLACE VIEW {}.{} AS " + query.replace("{schema}", "{s}"))
                .format(schema, sql.Identifier(name), s=schema))

    @classmethod
    def connect(cls, settings: Settings, schema: str = SCHEMA,
                sources: Iterable[ModuleType] | None = None) -> "ReadModel":
        from shared.db import ensure_database, ensure_schema
        ensure_database(settings)
        ensure_schema(settings, schema)
        datastore = PostgresDatastore(dbname=settings.pg_dbname, host=settings.pg_host,
                                      port=settings.pg_port, user=settings.pg_user,
                                      password=settings.pg_password, schema=schema,
                                      pre_ping=True, pool_size=2)
        model = cls(datastore, sources)
        model.create_table()
        return model

    # --- applying events -------------------------------------------------------------------

    def apply_batch(self, source: str, events: list[dict],
                    fetch_missing: Callable[[int, int], list[dict]] | None = None) -> int:
        """Apply a source's events (CloudEvent dicts, in sequence order) exactly once.
        Missing sequence numbers are first fetched with `fetch_missing(after, before)`; an
        event's `prevsequence` (the relay's previous notification id) tells a real gap from
        ids that rolled-back transactions never used. Returns the number of events applied
        (duplicates are not counted)."""
        with self.datastore.transaction(commit=True) as curs:
            position = self._locked_position(curs, source)
            with curs.connection.pipeline():
                return self._apply_after(curs, source, position, events, fetch_missing)

    def _apply_after(self, curs, source: str, position: int, events: list[dict],
                     fetch_missing: Callable[[int, int], list[dict]] | None) -> int:
        db = Statements(curs, self.datastore.schema)
        start = position
        applied = 0
        for event in events:
            sequence = int(event["sequence"])
            if sequence <= position:
                continue  # already applied: a redelivery or a republish
            previous = int(event.get("prevsequence", sequence - 1))
            if fetch_missing and previous > position:
                for missing in fetch_missing(position, sequence):
                    applied += self._apply(db, source, missing)
            applied += self._apply(db, source, event)
            position = sequence
        if position > start:
            self._insert_tracking(curs, Tracking(source, position))
        return applied

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
        return 1

    def position(self, source: str) -> int:
        return self.max_tracking_id(source) or 0

    # --- rebuild -----------------------------------------------------------------------------

    def rebuild(self, sources: Iterable[str], read_pages: Callable[[str], Iterable[list[dict]]],
                on_progress: Callable[[int], None] | None = None) -> dict[str, int]:
        """Wipe every table and replay each source from its first event, in one transaction:
        the live consumer waits on the table locks and then carries on from the new position."""
        schema = sql.Identifier(self.datastore.schema)
        names = [*self.tables, TRACKING_TABLE]
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
                for page in read_pages(source):
                    for event in page:
                        self._apply(db, source, event)
                        position = int(event["sequence"])
                    total += len(page)
                    if on_progress:
                        on_progress(total)
                if position:
                    self._insert_tracking(curs, Tracking(source, position))
                positions[source] = position
        return positions

    def table_rows(self, name: str) -> list[tuple]:
        """Every row of a table or view, sorted: how rebuild equality is checked."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(sql.SQL("SELECT * FROM {}.{}").format(
                sql.Identifier(self.datastore.schema), sql.Identifier(name)))
            return sorted(tuple(row.values()) for row in curs.fetchall())
