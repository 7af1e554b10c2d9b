"""Fixtures of the reporting tests: a throwaway PostgreSQL database holding the projection's read
model (services.projection.readmodel), fed CloudEvent dicts the way the projection feeds it."""
from __future__ import annotations

import uuid
import warnings
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from psycopg import sql

from services.projection.readmodel import ReadModel
from shared.config import settings
from tests.support import check_with_promtool

# nameko's import of eventlet warns with a message that starts with a newline, which the filter in
# shared.nameko_support (".*eventlet.*") does not match.
EVENTLET_WARNING = r"(?s).*Eventlet is deprecated"
warnings.filterwarnings("ignore", message=EVENTLET_WARNING)


def pytest_configure(config):
    config.addinivalue_line("filterwarnings", f"ignore:{EVENTLET_WARNING}")

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
def reporting_db():
    """A fresh database per test module (the scenario is module-scoped), dropped afterwards."""
    name = f"civil_affairs_test_reporting_{uuid.uuid4().hex[:10]}"
    cfg = settings({"CIPHER_KEY": "x", "POSTGRES_DBNAME": name})
    models: list[ReadModel] = []
    yield cfg, models
    for model in models:
        model.datastore.close()
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def read_model(reporting_db):
    cfg, models = reporting_db
    model = ReadModel.connect(cfg)
    models.append(model)
    return model


@pytest.fixture(scope="module")
def conninfo(reporting_db):
    return reporting_db[0].pg_conninfo()


@pytest.fixture(scope="module")
def feed(read_model):
    return Feed(read_model)


@pytest.fixture(scope="module")
def scenario(feed):
    """The events of the reporting tests (2007, data/areas.json, data/targets/2007.json).
    beigang: urban cases of sizes 2, 3, 1 active; a rural case of 4 active; an urban case of 2
      applied (pending); an urban case of 5 approved, paid January, then terminated.
    xilin: a rural case of 3 active, merged into the urban scheme; a rural case of 2 verified
      (pending); a rural case of 2 suspended at review.
    xinzha: a rural case of 4 active.
    Payments: 2006-12 (another year); 2007-01 for the five approved beigang cases and the xilin
    one; 2007-02 with 10.00 back pay; the year-end extra month (2007-YE) for three beigang cases.
    Marginal households: three in beigang, two paid 2007 relief, one of those then leaves the band;
    the third was paid 2006 relief. Donations: 150.50 (beigang) and 1000.00 (xinzha) in 2007,
    30.00 (xinzha) in 2006.
    """
    a = feed.case("beigang", "urban", 2, allowance="100.00")
    b = feed.case("beigang", "urban", 3, allowance="150.00")
    c = feed.case("beigang", "urban", 1, allowance="50.00")
    d = feed.case("beigang", "rural", 4, allowance="120.00")
    feed.case("beigang", "urban", 2, status="applied")
    f = feed.case("beigang", "urban", 5, allowance="200.00")
    g = feed.case("xilin", "rural", 3, allowance="90.00")
    feed.case("xilin", "rural", 2, status="verified")
    i = feed.case("xilin", "rural", 2, allowance="80.00")
    feed.case("xinzha", "rural", 4, allowance="130.00")
    feed.paid(a, "2006-12", "100.00")  # another year: not in the 2007 report
    for case, amount in ((a, "100.00"), (b, "150.00"), (c, "50.00"), (d, "120.00"), (f, "200.00")):
        feed.paid(case, "2007-01", amount)
    feed.paid(g, "2007-01", "90.00")    # paid while still rural in xilin
    feed.event("CaseTerminated", f, officer="head", reason="moved away", month="2007-02")
    feed.event("CaseReviewed", i, outcome="suspended", per_capita_income="400.00",
               allowance="0.00", household_income="800.00", officer="clerk", month="2007-02")
    feed.event("CaseSchemeMerged", g, from_scheme="rural", to_scheme="urban", month="2007-04",
               standard="260.00", allowance="95.00")
    feed.event("CaseAllowanceRecomputed", a, allowance="110.00", month="2007-02", reason="raise")
    feed.paid(a, "2007-02", "110.00", back_pay={"2007-01": "10.00"})
    for case, amount in ((a, "600.00"), (b, "900.00"), (d, "800.00")):
        feed.paid(case, "2007-YE", amount, kind="year_end_extra")
    m1, m2, m3 = feed.marginal("beigang"), feed.marginal("beigang"), feed.marginal("beigang")
    feed.event("MarginalHouseholdReliefPaid", m2, year=2006, amount="150.00")
    feed.event("MarginalHouseholdReliefPaid", m1, year=2007, amount="200.00")
    feed.event("MarginalHouseholdReliefPaid", m3, year=2007, amount="200.00")
    feed.event("MarginalHouseholdReviewed", m3, outcome="left_band", per_capita_income="900.00")
    schedule = uuid.uuid4()       # the standards: 300/200 from January, raised by 20/30 from February
    for registration, amount in (("urban", "300.00"), ("rural", "200.00")):
        feed.event("StandardScheduleSet", schedule, area="*", registration=registration, amount=amount,
                   effective_month="2007-01")
    feed.event("StandardScheduleRaised", schedule, deltas={"urban": "20.00", "rural": "30.00"},
               effective_month="2007-02", amounts=[{"area": "*", "registration": "urban", "amount": "320.00"},
                                                   {"area": "*", "registration": "rural", "amount": "230.00"}])
    feed.donation("beigang", "100.00", "2007-04-01")
    feed.donation("beigang", "50.50", "2007-04-01")
    feed.donation("xinzha", "1000.00", "2007-04-02")
    feed.donation("xinzha", "30.00", "2006-04-02")
    assert feed.flush() == feed.sequence
    return feed




@pytest.fixture
def promtool_check():
    return check_with_promtool


