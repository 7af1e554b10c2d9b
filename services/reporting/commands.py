"""Domain-layer declarations of the reporting service's RPC queries (shared/commands.py), so that
the gateway builds their routes (`services/gateway/routes.py`) like the domains'.

Reporting is not a registered domain (no event store, no aggregate): `SERVICE` is its Nameko
service's name. Both are queries of the whole district with explicit paths (the gateway's path
rule would give `/reporting/report`):

- `report(year)` → `GET /reports/district?year=`: the district report (docs/reporting.md);
  aggregates only, no person's record. Role `reporting.reader`.
- `audit(...)` → `GET /audit`: who changed what, when, why, through which request (the audit
  trail the projection keeps, services/projection/audit.py). Newest first; keyset pages (`after`
  is the `next` of the page before). Role `reporting.auditor`.
"""
from __future__ import annotations

from shared.commands import QUERY, Arg, Command, DateTime, Integer, Optional, Text, Uuid, Year

SERVICE = "reporting"
READER, AUDITOR = "reporting.reader", "reporting.auditor"

MAX_LIMIT = 500
ACTOR = Text(128, 1)                                    # a token's sub, or system:<name>
REQUEST_ID = Text(128, 1, pattern=r"[A-Za-z0-9._:\-]+")  # the gateway's X-Request-ID rule
CURSOR = Text(200, 1, pattern=r"[A-Za-z0-9_\-]+")        # base64url, as `next` gave it

COMMANDS = (
    Command("report", (Arg("year", Optional(Year()), default=None,
                           doc="the report year (default: the service's REPORT_YEAR)"),),
            role=READER, kind=QUERY, path="/reports/district",
            doc="The district report for a year: every domain's figures against the targets."),
    Command("audit", (
        Arg("aggregate", Optional(Uuid()), default=None, doc="only events of this aggregate (record) id"),
        Arg("actor", Optional(ACTOR), default=None, doc="only events by this actor (token subject)"),
        Arg("request", Optional(REQUEST_ID), default=None, doc="only events stored by this request id"),
        Arg("since", Optional(DateTime()), default=None,
            doc="events at or after this time (ISO 8601; without an offset: +08:00)"),
        Arg("until", Optional(DateTime()), default=None,
            doc="events before this time (ISO 8601; without an offset: +08:00)"),
        Arg("limit", Integer(1, MAX_LIMIT), default=100, doc="events per page"),
        Arg("after", Optional(CURSOR), default=None, doc="the `next` cursor of the page before")),
        role=AUDITOR, kind=QUERY, path="/audit",
        doc="The audit trail, newest first: who changed what, when, why, through which request."),
)
