"""Infrastructure layer of the projection service: the read models in PostgreSQL schema
`read_model`, kept by an eventsourcing `PostgresTrackingRecorder`.

Each batch of events updates the tables and the tracking position of its source in ONE
transaction, and the position is read (and row-locked) inside that transaction, so an event at
or below it is skipped: applying a batch twice changes nothing. A rebuild locks the tables,
wipes them and replays from the source, in one transaction too.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg import sql

from shared.config import Settings

SCHEMA = "read_model"
TRACKING_TABLE = "notification_tracking"

TABLES = {
    "households": """
        household_id uuid PRIMARY KEY, area text NOT NULL, registration text NOT NULL,
        size int NOT NULL, members jsonb NOT NULL, registered_at timestamptz NOT NULL""",
    "cases": """
        case_id uuid PRIMARY KEY, household_id uuid NOT NULL, area text NOT NULL,
        scheme text NOT NULL, size int NOT NULL, status text NOT NULL,
        per_capita_income numeric(12,2), allowance numeric(12,2) NOT NULL DEFAULT 0,
        applied_on date NOT NULL, updated_at timestamptz NOT NULL""",
    "payments": """
        case_id uuid NOT NULL, month text NOT NULL, kind text NOT NULL, area text NOT NULL,
        scheme text NOT NULL, amount numeric(12,2) NOT NULL, back_pay numeric(12,2) NOT NULL,
        paid_at timestamptz NOT NULL, PRIMARY KEY (case_id, month)""",
    "marginal_households": """
        record_id uuid PRIMARY KEY, household_id uuid NOT NULL, area text NOT NULL,
        status text NOT NULL, per_capita_income numeric(12,2) NOT NULL""",
    "marginal_relief": """
        record_id uuid NOT NULL, year int NOT NULL, area text NOT NULL,
        amount numeric(12,2) NOT NULL, PRIMARY KEY (record_id, year)""",
    "donations": """
        drive_id uuid NOT NULL, version int NOT NULL, year int NOT NULL, area text NOT NULL,
        amount numeric(12,2) NOT NULL, received_on date NOT NULL, PRIMARY KEY (drive_id, version)""",
    "standards": """
        area text NOT NULL, registration text NOT NULL, effective_month text NOT NULL,
        amount numeric(12,2) NOT NULL, PRIMARY KEY (area, registration, effective_month)""",
}

VIEWS = {
    # Per-area totals of what is in force now.
    "area_totals": """
        SELECT area,
               count(*) FILTER (WHERE status = 'active') AS active_cases,
               coalesce(sum(size) FILTER (WHERE status = 'active'), 0) AS persons_covered,
               coalesce(sum(size) FILTER (WHERE status = 'active' AND scheme = 'urban'), 0) AS urban_persons_covered,
               coalesce(sum(size) FILTER (WHERE status = 'active' AND scheme = 'rural'), 0) AS rural_persons_covered,
               coalesce(sum(allowance) FILTER (WHERE status = 'active'), 0) AS monthly_allowance,
               count(*) FILTER (WHERE status IN ('applied', 'verified')) AS pending_cases,
               count(*) FILTER (WHERE status = 'suspended') AS suspended_cases
        FROM {schema}.cases GROUP BY area""",
    "payments_by_month": """
        SELECT area, month, kind, count(*) AS payments, sum(amount) AS amount,
               sum(back_pay) AS back_pay
        FROM {schema}.payments GROUP BY area, month, kind""",
}

STATUS_OF_OUTCOME = {"suspended": "suspended", "terminated": "terminated"}


class ReadModel(PostgresTrackingRecorder):
    def __init__(self, datastore: PostgresDatastore):
        super().__init__(datastore, tracking_table_name=TRACKING_TABLE)
        schema = sql.Identifier(datastore.schema)
        for name, columns in TABLES.items():
            self.sql_create_statements.append(sql.SQL("CREATE TABLE IF NOT EXISTS {}.{} (" + columns + ")")
                                              .format(schema, sql.Identifier(name)))
        for name, query in VIEWS.items():
            self.sql_create_statements.append(
                sql.SQL("CREATE OR REPLACE VIEW {}.{} AS " + query.replace("{schema}", "{s}"))
                .format(schema, sql.Identifier(name), s=schema))
        self.handlers: dict[str, Callable] = {
            "HouseholdRegistered": self._household_registered,
            "CaseApplied": self._case_applied,
            "CaseVerified": self._case_verified,
            "CaseApproved": self._case_approved,
            "CaseRejected": self._status("rejected"),
            "CaseReviewed": self._case_reviewed,
            "CaseTerminated": self._case_terminated,
            "CaseAllowanceRecomputed": self._allowance_recomputed,
            "CaseSchemeMerged": self._scheme_merged,
            "CasePaid": self._case_paid,
            "MarginalHouseholdRegistered": self._marginal_registered,
            "MarginalHouseholdReviewed": self._marginal_reviewed,
            "MarginalHouseholdReliefPaid": self._relief_paid,
            "DonationDriveReceived": self._donation_received,
            "StandardScheduleSet": self._standard_set,
            "StandardScheduleRaised": self._standards_raised,
        }

    @classmethod
    def connect(cls, settings: Settings, schema: str = SCHEMA) -> "ReadModel":
        from shared.db import ensure_database, ensure_schema
        ensure_database(settings)
        ensure_schema(settings, schema)
        datastore = PostgresDatastore(dbname=settings.pg_dbname, host=settings.pg_host,
                                      port=settings.pg_port, user=settings.pg_user,
                                      password=settings.pg_password, schema=schema,
                                      pre_ping=True, pool_size=2)
        model = cls(datastore)
        model.create_table()
        return model

    # --- applying events -------------------------------------------------------------------

    def apply_batch(self, source: str, events: list[dict],
                    fetch_missing: Callable[[int, int], list[dict]] | None = None) -> int:
        """Apply a source's events (CloudEvent dicts, in sequence order) exactly once.
        Missing sequence numbers are first fetched with `fetch_missing(after, before)`.
        Returns the number of events applied (duplicates are not counted)."""
        with self.datastore.transaction(commit=True) as curs:
            position = self._locked_position(curs, source)
            applied = 0
            for event in events:
                sequence = int(event["sequence"])
                if sequence <= position:
                    continue  # already applied: a redelivery or a republish
                if fetch_missing and sequence > position + 1:
                    for missing in fetch_missing(position, sequence):
                        applied += self._apply(curs, missing)
                applied += self._apply(curs, event)
                position = sequence
            if applied or events:
                self._insert_tracking_if_moved(curs, source, position)
            return applied

    def _locked_position(self, curs, source: str) -> int:
        curs.execute(sql.SQL("SELECT notification_id FROM {}.{} WHERE application_name = %s FOR UPDATE")
                     .format(sql.Identifier(self.datastore.schema), sql.Identifier(TRACKING_TABLE)),
                     (source,))
        row = curs.fetchone()
        return row["notification_id"] if row else 0

    def _insert_tracking_if_moved(self, curs, source: str, position: int) -> None:
        if position > self._locked_position(curs, source):
            self._insert_tracking(curs, Tracking(source, position))

    def _apply(self, curs, event: dict) -> int:
        handler = self.handlers.get(event["type"])
        if handler is not None:
            handler(curs, event["data"], event)
        return 1

    def position(self, source: str) -> int:
        return self.max_tracking_id(source) or 0

    # --- rebuild -----------------------------------------------------------------------------

    def rebuild(self, sources: Iterable[str], read_pages: Callable[[str], Iterable[list[dict]]],
                on_progress: Callable[[int], None] | None = None) -> dict[str, int]:
        """Wipe every table and replay each source from its first event, in one transaction:
        the live consumer waits on the table locks and then carries on from the new position."""
        schema = sql.Identifier(self.datastore.schema)
        names = [*TABLES, TRACKING_TABLE]
        positions = {}
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
                sql.SQL(", ").join(sql.SQL("{}.{}").format(schema, sql.Identifier(n)) for n in names)))
            for name in TABLES:
                curs.execute(sql.SQL("DELETE FROM {}.{}").format(schema, sql.Identifier(name)))
            curs.execute(sql.SQL("DELETE FROM {}.{} WHERE application_name <> %s")
                         .format(schema, sql.Identifier(TRACKING_TABLE)), (self.table_migration_identifier,))
            total = 0
            for source in sources:
                position = 0
                for page in read_pages(source):
                    for event in page:
                        self._apply(curs, event)
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

    # --- handlers: one per event type, plain SQL --------------------------------------------

    def _exec(self, curs, statement: str, params: dict) -> None:
        curs.execute(sql.SQL(statement).format(s=sql.Identifier(self.datastore.schema)), params)

    def _household_registered(self, curs, data, event):
        import json
        self._exec(curs, """INSERT INTO {s}.households VALUES (%(id)s, %(area)s, %(reg)s, %(size)s,
                   %(members)s, %(at)s) ON CONFLICT (household_id) DO NOTHING""",
                   {"id": data["aggregate_id"], "area": data["area"], "reg": data["registration"],
                    "size": len(data["members"]), "members": json.dumps(data["members"], ensure_ascii=False),
                    "at": event["time"]})

    def _case_applied(self, curs, data, event):
        self._exec(curs, """INSERT INTO {s}.cases (case_id, household_id, area, scheme, size, status,
                   applied_on, updated_at) VALUES (%(id)s, %(hh)s, %(area)s, %(scheme)s, %(size)s,
                   'applied', %(on)s, %(at)s) ON CONFLICT (case_id) DO NOTHING""",
                   {"id": data["aggregate_id"], "hh": data["household_id"], "area": data["area"],
                    "scheme": data["scheme"], "size": data["size"], "on": data["applied_on"],
                    "at": event["time"]})

    def _update_case(self, curs, event, **columns):
        assignments = ", ".join(f"{name} = %({name})s" for name in columns)
        self._exec(curs, f"UPDATE {{s}}.cases SET {assignments}, updated_at = %(at)s WHERE case_id = %(id)s",
                   {**columns, "at": event["time"], "id": event["data"]["aggregate_id"]})

    def _case_verified(self, curs, data, event):
        self._update_case(curs, event, status="verified", per_capita_income=data["per_capita_income"])

    def _case_approved(self, curs, data, event):
        self._update_case(curs, event, status="active", allowance=data["allowance"])

    def _status(self, status: str):
        def handler(curs, data, event):
            self._update_case(curs, event, status=status)
        return handler

    def _case_reviewed(self, curs, data, event):
        self._update_case(curs, event, status=STATUS_OF_OUTCOME.get(data["outcome"], "active"),
                          per_capita_income=data["per_capita_income"], allowance=data["allowance"])

    def _case_terminated(self, curs, data, event):
        self._update_case(curs, event, status="terminated", allowance="0.00")

    def _allowance_recomputed(self, curs, data, event):
        self._update_case(curs, event, allowance=data["allowance"])

    def _scheme_merged(self, curs, data, event):
        self._exec(curs, """UPDATE {s}.cases SET scheme = %(to)s, updated_at = %(at)s,
                   allowance = CASE WHEN status = 'active' THEN %(allowance)s ELSE allowance END
                   WHERE case_id = %(id)s""",
                   {"to": data["to_scheme"], "allowance": data["allowance"], "at": event["time"],
                    "id": data["aggregate_id"]})

    def _case_paid(self, curs, data, event):
        back_pay = sum((Decimal(v) for v in data["back_pay"].values()), Decimal("0.00"))
        self._exec(curs, """INSERT INTO {s}.payments
                   SELECT case_id, %(month)s, %(kind)s, area, scheme, %(amount)s, %(back)s, %(at)s
                   FROM {s}.cases WHERE case_id = %(id)s
                   ON CONFLICT (case_id, month) DO NOTHING""",
                   {"id": data["aggregate_id"], "month": data["month"], "kind": data["kind"],
                    "amount": data["amount"], "back": back_pay, "at": event["time"]})

    def _marginal_registered(self, curs, data, event):
        self._exec(curs, """INSERT INTO {s}.marginal_households VALUES (%(id)s, %(hh)s, %(area)s,
                   'registered', %(pci)s) ON CONFLICT (record_id) DO NOTHING""",
                   {"id": data["aggregate_id"], "hh": data["household_id"], "area": data["area"],
                    "pci": data["per_capita_income"]})

    def _marginal_reviewed(self, curs, data, event):
        self._exec(curs, """UPDATE {s}.marginal_households SET status = %(status)s,
                   per_capita_income = %(pci)s WHERE record_id = %(id)s""",
                   {"status": "registered" if data["outcome"] == "still_marginal" else "removed",
                    "pci": data["per_capita_income"], "id": data["aggregate_id"]})

    def _relief_paid(self, curs, data, event):
        self._exec(curs, """INSERT INTO {s}.marginal_relief
                   SELECT record_id, %(year)s, area, %(amount)s FROM {s}.marginal_households
                   WHERE record_id = %(id)s ON CONFLICT DO NOTHING""",
                   {"id": data["aggregate_id"], "year": data["year"], "amount": data["amount"]})

    def _donation_received(self, curs, data, event):
        year = int(data["received_on"][:4])
        self._exec(curs, """INSERT INTO {s}.donations VALUES (%(id)s, %(v)s, %(year)s, %(area)s,
                   %(amount)s, %(on)s) ON CONFLICT DO NOTHING""",
                   {"id": data["aggregate_id"], "v": data["aggregate_version"], "year": year,
                    "area": data["area"], "amount": data["amount"], "on": data["received_on"]})

    def _standard_set(self, curs, data, event):
        self._upsert_standard(curs, data["area"], data["registration"], data["effective_month"],
                              data["amount"])

    def _standards_raised(self, curs, data, event):
        for entry in data["amounts"]:
            self._upsert_standard(curs, entry["area"], entry["registration"],
                                  data["effective_month"], entry["amount"])

    def _upsert_standard(self, curs, area, registration, month, amount):
        self._exec(curs, """INSERT INTO {s}.standards VALUES (%(a)s, %(r)s, %(m)s, %(amt)s)
                   ON CONFLICT (area, registration, effective_month) DO UPDATE SET amount = EXCLUDED.amount""",
                   {"a": area, "r": registration, "m": month, "amt": amount})
