"""Interface layer: a service's notification log served as pages of CloudEvents.

The same conversion the relay uses, so a consumer that fills a gap (or rebuilds) from the feed
sees byte-for-byte the events it would have received from the bus.

`position(app, at)` (GET /events/position?at=...) turns a time into a position: the highest
notification id whose event's `time` is before `at`, found by a binary search over the ids that
decodes O(log n) events (their times are inside the encrypted state). `position_at(source, at)`
is its client, for a subscription replayed from a time.

Why a binary search is right, and how far off it can be: eventsourcing's PostgreSQL recorder
takes an EXCLUSIVE lock on the events table in every inserting transaction and holds it to the
commit (`PostgresApplicationRecorder._lock_table`), so notification ids are in commit order. An
event's `time`, though, is taken when the aggregate's method ran, before the transaction began.
So the times follow the ids except that an event may carry a time earlier than events committed
before it by at most D = the longest time from a command creating its events to its commit
(mostly waiting for that table lock; plus the clock difference when replicas of a service run on
different hosts). Within one transaction the times interleave too (a command that changes two
aggregates stores each one's events together: microseconds apart, committed at one instant).
Where the times are in id order the answer is exact. Otherwise an event with a time in [at, at + D)
may lie at or below the position (a replay from `at` would miss it: ask for a time D earlier),
and one with a time before `at` above it (delivered again: harmless at least once).
"""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime

from prometheus_client import Gauge

from shared import contract
from shared.errors import InvalidInput, ServiceUnavailable

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


def position(app, at) -> dict:
    """{"source", "at", "position"}: the highest notification id whose event's time is before
    `at` (an RFC 3339 date-time with its offset); 0 when none is, the head when all are."""
    moment = parse_time(at)
    low, high = 0, app.recorder.max_notification_id() or 0
    # Invariant: the answer is in [low, high]; `low` is 0 or an id whose event is before `at`.
    while low < high:
        middle = (low + high + 1) // 2
        [notification] = app.recorder.select_notifications(start=middle, limit=1)  # the first id >= middle
        if app.mapper.to_domain_event(notification).timestamp < moment:
            low = notification.id
        else:
            high = middle - 1       # ids from middle up to this one are missing or not before
    return {"source": contract.source_of(app.name), "at": moment.isoformat(), "position": low}


MAX_TIME_TEXT = 40


def parse_time(value) -> datetime:
    """An RFC 3339 date-time with its offset (`Z` or `+08:00`) as an aware datetime. A space
    where the offset's `+` belongs is read as `+` (an unencoded `+` in a query string)."""
    text = str(value or "").strip()
    if len(text) > 6 and text[-6] == " ":
        text = text[:-6] + "+" + text[-5:]
    try:
        moment = datetime.fromisoformat(text) if 16 <= len(text) <= MAX_TIME_TEXT else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or "T" not in text.upper():
        raise InvalidInput("at", "must be an RFC 3339 date-time with its offset, e.g. "
                           "2007-03-01T08:00:00+08:00", code="feed.bad_time")
    return moment


def position_at(source: str, at: str, *, environ=None, timeout: float = 5.0) -> int:
    """The position of `at` in `source`'s feed, asked of the source at <SOURCE>_URL
    (GET /events/position), within `timeout` seconds. A source not configured or not answering
    is `ServiceUnavailable` (retry later, or fix the setting); a time it refuses is `InvalidInput`."""
    from shared.config import ConfigurationError, service_url
    try:
        base = service_url(source, environ)
    except ConfigurationError as error:
        raise ServiceUnavailable("since", f"cannot ask {source} for the position of a time: {error}; "
                          "or give `after` (a sequence) instead", code="feed.source_not_configured") from None
    url = f"{base}/events/position?" + urllib.parse.urlencode({"at": at})
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            answer = json.loads(response.read(10_000))
    except urllib.error.HTTPError as error:
        if error.code == 400:
            raise InvalidInput("since", f"{source} refused the time: {_rule(error)}", code="feed.bad_time") from None
        raise _unreachable(source, base, f"it answered HTTP {error.code}") from None
    except (OSError, ValueError) as error:   # no connection, timeout, not JSON
        raise _unreachable(source, base, type(error).__name__) from None
    found = answer.get("position") if isinstance(answer, dict) else None
    if isinstance(found, bool) or not isinstance(found, int) or not 0 <= found < 10 ** MAX_DIGITS:
        raise _unreachable(source, base, "its answer has no position")
    return found


def _unreachable(source: str, base: str, why: str) -> ServiceUnavailable:
    return ServiceUnavailable("since", f"{source}'s feed at {base} did not tell the position of the time ({why}); "
                       f"nothing was changed: retry in a moment, check that {source} runs and "
                       f"{source.upper()}_URL points at it, or give `after` (a sequence) instead",
                       code="feed.source_unreachable")


def _rule(error) -> str:
    try:
        return str(json.loads(error.read(10_000)).get("rule"))[:200]
    except (OSError, ValueError, AttributeError):
        return "bad time"


def update_head_gauge(app) -> None:
    HEAD.labels(app.name).set(app.recorder.max_notification_id() or 0)


def _integer(name: str, value) -> int:
    """A query argument as an integer, or a typed error naming that argument."""
    text = str(value).strip()
    if not text.lstrip("-").isdigit() or len(text) > MAX_DIGITS:
        raise InvalidInput(name, "must be an integer", code="feed.not_integer")
    return int(text)
