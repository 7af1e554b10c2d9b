"""The consumer retries a batch its read model could not apply, and says why in the log."""
import logging

import psycopg

from prometheus_client import REGISTRY

from shared.consumer import EventConsumer


def store_errors() -> float:
    return REGISTRY.get_sample_value("projection_errors_total", {"kind": "store"}) or 0.0


def test_a_batch_the_store_refused_is_retried_and_the_failure_logged(caplog):
    calls = []

    def apply_batch(source, events, fetch_missing=None):
        calls.append(len(events))
        if len(calls) == 1:
            raise psycopg.OperationalError("server closed the connection")
        return len(events)

    consumer = EventConsumer("amqp://unused", "q", {}, apply_batch, lambda source: 0)
    consumer.stopping.wait = lambda seconds: False  # no back-off sleep in a unit test
    before = store_errors()
    with caplog.at_level(logging.ERROR, logger="consumer"):
        consumer._apply_with_retry("social_assistance", [{"sequence": "7"}])
    assert calls == [1, 1]
    assert store_errors() == before + 1
    assert "OperationalError: server closed the connection" in caplog.text
    assert "PostgreSQL at POSTGRES_HOST" in caplog.text
