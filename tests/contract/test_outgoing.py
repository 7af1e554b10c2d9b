"""Contract tier: what the relay publishes (`contract.to_outgoing`, encoded without building the
SDK's CloudEvent) is byte for byte what the CloudEvents SDK writes for the same stored events,
with the audit extensions and the chain of sequences, and carries the same id, type and sequence.
Every domain's relay integration test (tests/support.py `check_relay_publishes_the_store`)
checks the same over the broker for every event type of its domain."""
from __future__ import annotations

from shared import contract
from tests.support import drive_year, memory_app


def test_the_relay_s_encoding_is_the_sdk_s_byte_for_byte():
    from shared import audit
    app = memory_app()
    with audit.acting({"actor": "officer-li", "roles": ["social_assistance.officer"], "request_id": "req-1"}):
        drive_year(app, households=2)
    stored = app.recorder.select_notifications(start=1, limit=1000)
    sdk = contract.to_cloudevents(app, stored, previous=7)
    out = contract.to_outgoing(app, stored, previous=7)
    assert [o.body for o in out] == [contract.encode(e) for e in sdk]
    assert [(o.id, o.type, o.sequence) for o in out] == [
        (e.get_id(), e.get_type(), e.get_extension("sequence")) for e in sdk]
    assert any(e.get_extension("actor") == "officer-li" for e in sdk)   # the extensions were there
    assert contract.decode(out[0].body).get_extension("prevsequence") == contract.sequence_text(7)
