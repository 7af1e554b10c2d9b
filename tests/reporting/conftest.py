"""Fixtures of the reporting tests: a throwaway PostgreSQL database holding the projection's read
model (services.projection.readmodel), fed CloudEvent dicts the way the projection feeds it."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from psycopg import sql

from services.projection.readmodel import ReadModel
from shared.config import settings

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


class Feed:
    """Builds CloudEvent dicts with increasing 20-digit sequences and applies them."""

    def __init__(self, model: ReadModel, source: str = "social_assistance"):
        self.model = model
        self.source = source
        self.sequence = 0
        self.clock = datetime(2007, 1, 5, 9, 0, tzinfo=timezone.utc)
        self.pending: list[dict] = []

    def event(self, type_: str, aggregate_id, **data) -> None:
        self.sequence += 1
        self.clock += timedelta(minutes=1)
        self.pending.append({
            "id": str(uuid.uuid4()), "source": f"urn:zhonglou-civil-affairs:{self.source}",
            "specversion": "1.0", "type": type_, "subject": str(aggregate_id),
            "time": self.clock.isoformat(), "sequence": str(self.sequence).zfill(20),
            "data": {"aggregate_id": str(aggregate_id), "aggregate_version": self.sequence, **data}})

    def flush(self) -> int:
        events, self.pending = self.pending, []
        return self.model.apply_batch(self.source, events)

    # --- the dibao lifecycle, as the social assistance service emits it --------------------------
    def case(self, area: str, scheme: str, size: int, status: str = "active",
             allowance: str = "100.00") -> uuid.UUID:
        case_id = uuid.uuid4()
        self.event("CaseApplied", case_id, household_id=str(uuid.uuid4()), area=area,
                   scheme=scheme, size=size, applied_on="2007-01-04", officer="clerk")
        if status == "applied":
            return case_id
        self.event("CaseVerified", case_id, per_capita_income="100.00", officer="clerk")
        if status == "verified":
            return case_id
        self.event("CaseApproved", case_id, allowance=allowance, month="2007-01", officer="head")
        return case_id

    def paid(self, case_id, month: str, amount: str, kind: str = "monthly", back_pay=None) -> None:
        self.event("CasePaid", case_id, month=month, kind=kind, amount=amount, back_pay=back_pay or {})

    def marginal(self, area: str) -> uuid.UUID:
        record_id = uuid.uuid4()
        self.event("MarginalHouseholdRegistered", record_id, household_id=str(uuid.uuid4()),
                   area=area, per_capita_income="420.00", officer="clerk")
        return record_id

    def donation(self, area: str, amount: str, received_on: str) -> None:
        drive = uuid.uuid5(uuid.NAMESPACE_URL, f"drive:{received_on[:4]}")
        self.event("DonationDriveReceived", drive, donor="someone", area=area, amount=amount,
                   received_on=received_on)


@pytest.fixture(scope="module")
def database():
    """A fresh database per test module, dropped afterwards."""
    name = f"civil_affairs_test_reporting_{uuid.uuid4().hex[:10]}"
    cfg = settings({"CIPHER_KEY": "x", "POSTGRES_DBNAME": name})
    models: list[ReadModel] = []
    yield cfg, models
    for model in models:
        model.datastore.close()
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def read_model(database):
    cfg, models = database
    model = ReadModel.connect(cfg)
    models.append(model)
    return model


@pytest.fixture(scope="module")
def conninfo(database):
    return database[0].pg_conninfo()
