"""Integration tier: the social assistance application on the real PostgreSQL."""
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from shared.errors import Conflict
from tests.support import member, postgres_app


@pytest.fixture
def app(fresh_schemas):
    application = postgres_app()
    yield application
    application.close()


def test_identity_numbers_and_names_are_encrypted_at_rest(app, database):
    person = member("李秀英")
    app.register_household("beigang", "urban", [person])
    with psycopg.connect(database.pg_conninfo()) as conn:
        rows = conn.execute("SELECT topic, state FROM social_assistance.social_assistance_events").fetchall()
    assert rows, "events were stored"
    raw = b"".join(bytes(state) for _topic, state in rows)
    assert person["id_number"].encode() not in raw
    assert "李秀英".encode() not in raw
    assert app.get_household(app.register_household("beigang", "urban", [member()]))["members"][0]["id_number"].count("*") == 8


def test_two_concurrent_approvals_one_wins_the_other_gets_a_conflict(app):
    hh = app.register_household("beigang", "urban", [member(income="0")])
    case = app.apply(hh, "officer-li")
    app.verify(case, "officer-li", "0")
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(lambda officer: _try(app.approve, case, officer, "2007-01"),
                                 ["officer-wang", "officer-zhao"]))
    assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "dict"]
    approvals = [e for e in app.repository.get(__import__("uuid").UUID(case)).allowances]
    assert len(approvals) == 1


def active_cases(app, count: int, area: str = "beigang", scheme: str = "urban") -> list[str]:
    """`count` cases approved from 2007-01, each of a household of its own."""
    cases = []
    for _ in range(count):
        cases.append(app.apply(app.register_household(area, scheme, [member(income="0")]), "officer-li"))
        app.verify(cases[-1], "officer-li", "0")
        app.approve(cases[-1], "officer-wang", "2007-01")
    return cases


def test_concurrent_payment_runs_of_one_month_pay_each_case_once(app):
    active_cases(app, 5, "xilin", "rural")
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: app.run_payments("2007-01"), range(3)))
    assert sum(r["paid"] for r in results) == 5
    with psycopg.connect(f"dbname={app.env.get('POSTGRES_DBNAME')} host=127.0.0.1 user=postgres") as conn:
        paid = conn.execute("SELECT count(*) FROM social_assistance.social_assistance_events WHERE topic LIKE %s",
                            ("%Case.Paid",)).fetchone()[0]
    assert paid == 5


def _try(function, *args):
    try:
        return function(*args)
    except Conflict as error:
        return error


def test_many_aggregates_read_at_once_equal_each_read_alone(app):
    from uuid import UUID, uuid4

    from services.social_assistance.domain import Caseload
    from shared.errors import NotFound
    cases = active_cases(app, 3)
    app.run_payments("2007-01")
    ids = [*cases, str(Caseload.ID)]     # cases, and the caseload, which has snapshots
    assert app.snapshots is not None
    app.take_snapshot(Caseload.ID)
    app.run_payments("2007-02")          # events after the snapshot as well
    many = app._get_many(ids)
    alone = [app.repository.get(UUID(i)) for i in ids]
    assert [vars(a) for a in many] == [vars(a) for a in alone]
    assert [a.version for a in many] == [a.version for a in alone]
    with pytest.raises(NotFound) as refused:
        app._get_many([cases[0], str(uuid4())])
    assert refused.value.code == "store.not_found"


def test_a_payment_run_reports_its_progress(app):
    active_cases(app, 3)
    seen = []
    result = app.run_payments("2007-01", on_progress=lambda done, total: seen.append((done, total)))
    assert result["paid"] == 3 and seen[-1] == (3, 3)


def test_a_run_over_several_batches_pays_each_case_once_with_runs_racing(app, monkeypatch):
    """Batches of two; three runs racing."""
    import shared.eventstore
    monkeypatch.setattr(shared.eventstore, "BATCH", 2)
    active_cases(app, 5)
    seen = []
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: app.run_payments("2007-01", on_progress=lambda *p: seen.append(p)),
                                range(3)))
    assert sum(r["paid"] for r in results) == 5
    assert {r["active_cases"] for r in results} == {5} and (2, 5) in seen and (5, 5) in seen
    assert app.run_payments("2007-01")["paid"] == 0


def test_the_snapshots_a_run_takes_equal_the_replay_of_the_events(app):
    """A case takes a snapshot every few of its events (monthly runs add one a month): the state
    loaded from the latest snapshot and the events after it is the state of all its events."""
    from functools import reduce
    from uuid import UUID

    from services.social_assistance.domain import Case
    cases = [UUID(c) for c in active_cases(app, 3)]
    for month_ in range(1, 8):
        app.run_payments(f"2007-{month_:02d}")
    interval = app.snapshotting_intervals[Case]
    loaded = app._get_many(cases)
    assert all(case.version > interval for case in loaded)
    for case in loaded:
        snapshots = list(app.snapshots.get(case.id))
        assert snapshots and (snapshots[-1].originator_version + case.id.int) % interval == 0
        replayed = reduce(lambda aggregate, event: event.mutate(aggregate), app.events.get(case.id), None)
        assert vars(case) == vars(replayed) and len(case.payments) == 7
