"""Fault suite: a stored event the read model cannot apply (an institution with 10**30 beds:
"integer out of range"). It is written into the welfare event store through the domain, as a
service without input bounds did, so the relay publishes it like any other event. The projection
must not freeze: it skips and records it, dead-letters it as apply-failed, counts it, and every
source's read model reaches its head with nothing lost and nothing applied twice."""
from __future__ import annotations


import psycopg

from services.welfare.application import Welfare
from services.welfare.domain import Institution
from shared.config import settings
from tests.fault.conftest import PROJECTION, Traffic, assert_converged
from tests.fault.test_process_faults import projection_cli, purge_dead_letters

BEDS = 10**30


def store_unappliable_institution() -> str:
    """An InstitutionRegistered with BEDS beds in the welfare event store. The event is made valid
    and its beds changed afterwards, so this still works once the domain bounds its input."""
    app = Welfare()
    try:
        institution = Institution(area="xilin", name="巨型敬老院", kind="public", beds=20,
                                  registered_on="2007-01-15")
        [registered] = institution.collect_events()
        object.__setattr__(registered, "beds", BEDS)
        app.save(registered)
        return str(institution.id)
    finally:
        app.close()


def read_model(query: str, *params):
    with psycopg.connect(settings().pg_conninfo(), autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def test_an_unappliable_event_is_skipped_dead_lettered_and_every_source_reaches_its_head(platform, amqp_uri):
    platform.wait_until(lambda: "dead letters" in projection_cli(platform, "dead-letters"),
                        what="the dead-letter queue to exist")
    purge_dead_letters(amqp_uri)
    with Traffic(amqp_uri) as traffic:
        traffic.wait_for(30)
        poison = store_unappliable_institution()   # in the middle of a stream on every source
        traffic.wait_for(60, timeout=120)
    assert_converged(platform)   # every source at its head; live == a replay that skips it too

    [(sequence, type_, reason, detail)] = read_model(
        "SELECT sequence, type, reason, detail FROM read_model.skipped_events")
    assert (type_, reason) == ("InstitutionRegistered", "apply-failed") and "out of range" in detail
    assert read_model("SELECT 1 FROM read_model.wf_institutions WHERE institution_id = %s", poison) == []
    stored = platform.get("WELFARE_PORT", f"/events?after={sequence - 1}&limit=1")["events"][0]
    assert stored["data"]["aggregate_id"] == poison and stored["data"]["beds"] == BEDS
    # Every other institution of the welfare event store is in the read model, once.
    registered = [e["data"]["aggregate_id"] for e in welfare_events(platform)
                  if e["type"] == "InstitutionRegistered"]
    rows = [str(row[0]) for row in read_model("SELECT institution_id FROM read_model.wf_institutions")]
    assert sorted(rows) == sorted(set(registered) - {poison}) and len(rows) == len(registered) - 1

    metrics = platform.get(PROJECTION, "/metrics")
    assert 'projection_dead_letters_total{reason="apply-failed"} 1.0' in metrics
    assert 'projection_skipped_events_total{source="welfare"} 1.0' in metrics
    # The other sources' counters are exposed at 0 from the start (shared.consumer.initialise_counters).
    assert 'projection_skipped_events_total{source="social_assistance"} 0.0' in metrics
    listed = projection_cli(platform, "dead-letters")
    assert "1 dead letters" in listed and "apply-failed: InstitutionRegistered:" in listed
    assert f"welfare sequence {sequence} (InstitutionRegistered)" in listed and "out of range" in listed
    status = projection_cli(platform, "status")
    assert f"skipped: welfare sequence {sequence} InstitutionRegistered (apply-failed" in status

    # Re-queued without a fix it is tried again, fails again, and comes straight back.
    assert "re-queued 1" in projection_cli(platform, "dead-letters", "requeue")
    platform.wait_until(lambda: 'projection_dead_letters_total{reason="apply-failed"} 2.0'
                        in platform.get(PROJECTION, "/metrics"), what="the re-queued poison to be dead-lettered again")
    assert "1 dead letters" in projection_cli(platform, "dead-letters")
    assert len(read_model("SELECT 1 FROM read_model.skipped_events")) == 1

    # A rebuild meets it again: it does not abort, keeps it skipped, and converges.
    with Traffic(amqp_uri) as traffic:
        traffic.wait_for(20)
        assert "welfare: rebuilt up to sequence" in projection_cli(platform, "rebuild")
        traffic.wait_for(20)
    assert_converged(platform)
    assert [row[0] for row in read_model("SELECT sequence FROM read_model.skipped_events")] == [sequence]


def welfare_events(platform) -> list[dict]:
    events, after = [], 0
    while page := platform.get("WELFARE_PORT", f"/events?after={after}&limit=500")["events"]:
        events.extend(page)
        after = int(page[-1]["sequence"])
    return events
