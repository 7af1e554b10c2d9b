"""Interface layer: a service's notification log served as pages of CloudEvents.

The same conversion the relay uses, so a consumer that fills a gap (or rebuilds) from the feed
sees byte-for-byte the events it would have received from the bus.
"""
from __future__ import annotations

from prometheus_client import Gauge

from shared import contract
from shared.errors import InvalidInput

MAX_LIMIT = 1000
MAX_DIGITS = 20  # a notification id fits in 20 digits (the CloudEvents sequence's width)
HEAD = Gauge("event_store_head", "Highest notification id in the service's event store", ["service"])


def page(app, after, limit) -> dict:
    after, limit = _integer("after", after), _integer("limit", limit)
    if after < 0:
        raise InvalidInput("after", "must be zero or a positive notification id", code="feed.after_negative")
    if not 0 <= limit <= MAX_LIMIT:
        raise InvalidInput("limit", f"must be between 0 and {MAX_LIMIT}", code="feed.limit_out_of_range")
    notifications = app.recorder.select_notifications(start=after + 1, limit=limit) if limit else []
    events = [contract.as_dict(e) for e in contract.to_cloudevents(app, notifications)]
    return {"source": contract.source_of(app.name), "after": after,
            "head": app.recorder.max_notification_id() or 0, "events": events}


def update_head_gauge(app) -> None:
    HEAD.labels(app.name).set(app.recorder.max_notification_id() or 0)


def _integer(name: str, value) -> int:
    """A query argument as an integer, or a typed error naming that argument."""
    text = str(value).strip()
    if not text.lstrip("-").isdigit() or len(text) > MAX_DIGITS:
        raise InvalidInput(name, "must be an integer", code="feed.not_integer")
    return int(text)
