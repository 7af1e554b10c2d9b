"""Deployment (rendering): the platform-wide Grafana dashboards, as code, rendered into
deploy/grafana/ by `python -m deploy.render` (with the other rendered files; `--check` and
tests/deploy/test_rendered.py keep the committed JSON equal to this rendering).

- district_plan.json, "District plan": one panel per target of the targets files
  (data/targets/*.json), grouped by the line of work whose report section evaluates it, each the
  uniform measure `reporting_target_value{key}` per area where the section measures per area
  (and for the district), with the target as the panel's threshold, taken from
  `reporting_target{key}` by Grafana's "config from query results" transformation: no target is
  typed into a panel.
- event_flow.json, "Event flow": relays, projection, subscriptions, RabbitMQ (the broker's
  rabbitmq_prometheus plugin) and PostgreSQL (prometheus-postgres-exporter).
- services.json, "Services": rate, errors and duration per entrypoint and per gateway route.

The line-of-work dashboards (dibao.json, welfare.json, ...) are drawn by hand and committed as
they are; only these three are generated, since they follow the registry and the targets files.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from shared.report_kit import Targets

ROOT = Path(__file__).resolve().parent.parent
DS = {"type": "prometheus", "uid": "${datasource}"}
WIDTH = 24
RATE = "$__rate_interval"
# Metrics the dashboards read that no module of the platform declares: the broker's plugin
# (scraped at /metrics and /metrics/detailed), the PostgreSQL exporter, Prometheus's own `up`, and
# the recording rules of deploy/prometheus/alerts.yml. Checked against the real ones by
# tests/e2e/test_prometheus.py. name -> labels.
EXTERNAL = {
    "up": ("job", "instance"),
    "rabbitmq_detailed_queue_messages_ready": ("vhost", "queue"),
    "rabbitmq_detailed_queue_messages_unacked": ("vhost", "queue"),
    "rabbitmq_detailed_queue_consumers": ("vhost", "queue"),
    "rabbitmq_connections": (),
    "rabbitmq_global_messages_received_total": ("protocol",),
    "rabbitmq_global_messages_delivered_total": ("protocol",),
    "pg_up": (),
    "pg_stat_database_numbackends": ("datname",),
    "pg_stat_database_xact_commit": ("datname",),
    "pg_stat_database_deadlocks": ("datname",),
    "pg_database_size_bytes": ("datname",),
    "service:fault_ratio:rate5m": ("service",),
    "route:gateway_server_error_ratio:rate5m": ("route",),
}


@dataclass
class Board:
    """A dashboard being laid out: panels flow left to right in rows of 24 columns."""
    uid: str
    title: str
    description: str
    tags: list[str]
    variables: list[dict]
    panels: list[dict] = field(default_factory=list)
    _x: int = 0
    _y: int = 0
    _h: int = 0

    def row(self, title: str) -> None:
        self._newline()
        self.panels.append({"id": len(self.panels) + 1, "type": "row", "title": title, "collapsed": False,
                            "gridPos": {"x": 0, "y": self._y, "w": WIDTH, "h": 1}, "panels": []})
        self._y += 1

    def add(self, kind: str, title: str, description: str, targets: list[dict], *, w: int = 8,
            h: int = 8, unit: str = "none", options: dict | None = None, defaults: dict | None = None,
            overrides: list | None = None, transformations: list | None = None) -> None:
        if self._x + w > WIDTH:
            self._newline()
        panel = {"id": len(self.panels) + 1, "type": kind, "title": title, "description": description,
                 "datasource": DS, "gridPos": {"x": self._x, "y": self._y, "w": w, "h": h},
                 "targets": [dict(t, refId=chr(ord("A") + i), datasource=DS) for i, t in enumerate(targets)],
                 "fieldConfig": {"defaults": {"unit": unit, **(defaults or {})}, "overrides": overrides or []},
                 "options": options or OPTIONS[kind]}
        if transformations:
            panel["transformations"] = transformations
        self.panels.append(panel)
        self._x += w
        self._h = max(self._h, h)

    def _newline(self) -> None:
        if self._x:
            self._y += self._h
        self._x, self._h = 0, 0

    def json(self) -> dict:
        return {"uid": self.uid, "title": self.title, "description": self.description, "tags": self.tags,
                "timezone": "browser", "editable": True, "graphTooltip": 1, "schemaVersion": 39,
                "version": 1, "refresh": "1m", "time": {"from": "now-6h", "to": "now"}, "timepicker": {},
                "annotations": {"list": []}, "links": [], "templating": {"list": self.variables},
                "panels": self.panels}


OPTIONS = {
    "timeseries": {"legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull"]},
                   "tooltip": {"mode": "multi", "sort": "desc"}},
    "bargauge": {"orientation": "horizontal", "displayMode": "basic", "showUnfilled": True,
                 "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
    "stat": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
             "colorMode": "value", "graphMode": "none", "textMode": "auto", "justifyMode": "auto",
             "orientation": "auto"},
    "table": {"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"]}},
}


def series(expr: str, legend: str) -> dict:
    return {"expr": expr, "legendFormat": legend, "range": True, "instant": False}


def instant(expr: str, legend: str, **extra) -> dict:
    return {"expr": expr, "legendFormat": legend, "range": False, "instant": True, **extra}


def datasource_variable() -> dict:
    return {"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
            "hide": 0, "refresh": 1, "options": [], "regex": ""}


def query_variable(name: str, label: str, metric: str, by: str, *, multi: bool = True) -> dict:
    query = f"label_values({metric}, {by})"
    variable = {"name": name, "label": label, "type": "query", "datasource": DS, "query": query,
                "definition": query, "refresh": 2, "sort": 1 if multi else 4, "hide": 0, "multi": multi,
                "includeAll": multi, "options": []}
    if multi:
        variable.update(allValue=".*", current={"selected": True, "text": ["All"], "value": ["$__all"]})
    return variable


# --- District plan ----------------------------------------------------------------------------------

def target_keys(pattern: str, targets: dict[str, dict]) -> list[str]:
    """The keys a section's TARGETS entry stands for (`{x}` a family: Targets.matching)."""
    if "{" not in pattern:
        return [pattern] if pattern in targets else []
    return sorted(pattern.replace(pattern[pattern.index("{"):pattern.index("}") + 1], x)
                  for x in Targets(0, {"targets": targets}).matching(pattern))


def plan_targets(root: Path = ROOT) -> dict[str, dict]:
    """Every key of every targets file (the latest year's entry wins for its label and op)."""
    found: dict[str, dict] = {}
    for path in sorted((root / "data" / "targets").glob("*.json")):
        found.update(json.loads(path.read_text(encoding="utf-8"))["targets"])
    return found


def threshold_from(target: dict) -> tuple[dict, list]:
    """Field defaults and the transformation that make `reporting_target{key}` (query B) the
    panel's threshold: below it red for a floor (>=), above it red for a ceiling (<=)."""
    floor = target.get("op", ">=") in (">=", ">")
    base, over = ("red", "green") if floor else ("green", "red")
    defaults = {"min": 0, "color": {"mode": "thresholds"},
                "thresholds": {"mode": "absolute", "steps": [{"color": base, "value": None}]}}
    transformation = {"id": "configFromData", "options": {
        "configRefId": "B", "applyTo": {"id": "byFrameRefID", "options": "A"},
        "mappings": [{"fieldName": "target", "handlerKey": "threshold1",
                      "handlerArguments": {"threshold": {"color": over}}}]}}
    return defaults, [transformation]


def district_plan(sections: dict[str, tuple[str, tuple[str, ...]]], targets: dict[str, dict]) -> dict:
    """sections: domain name -> (title, its report section's TARGETS patterns)."""
    board = Board("zhonglou-district-plan", "Zhonglou civil affairs: district plan $year",
                  "Every target of the year's plan (data/targets/<year>.json), measured by the reporting "
                  "service for the district and, where the line of work measures it per area, for each "
                  "town and street; the threshold of each panel is the target itself "
                  "(reporting_target{key}). See docs/reporting.md and docs/operations.md.",
                  ["civil-affairs", "plan", "zhonglou"],
                  [datasource_variable(),
                   query_variable("year", "Year", "reporting_target_value", "year", multi=False),
                   query_variable("area", "Area", "reporting_target_value", "area")])
    board.row("The plan at a glance ($year)")
    board.add("stat", "Targets met (district)", "District-wide measures meeting their target.",
              [instant('sum(reporting_target_met{year="$year", area=""})', "met"),
               instant('count(reporting_target_met{year="$year", area=""})', "measured")], w=6, h=4)
    board.add("stat", "Measures met (district and areas)", "Every measure, per area included.",
              [instant('sum(reporting_target_met{year="$year"})', "met"),
               instant('count(reporting_target_met{year="$year"})', "measured")], w=6, h=4)
    board.add("table", "Every district-wide measure: met (1) or not (0)",
              "The verdict of each measure for the whole district; the panels below show the values.",
              [instant('reporting_target_met{year="$year", area=""}', "{{key}}", format="table")],
              w=12, h=8, transformations=[{"id": "organize", "options": {
                  "excludeByName": {"Time": True, "__name__": True, "instance": True, "job": True,
                                    "year": True, "area": True}}}])
    for name, (title, patterns) in sections.items():
        keys = [k for p in patterns for k in target_keys(p, targets)]
        if not keys:
            continue
        board.row(f"{title}")
        for key in keys:
            defaults, transformations = threshold_from(targets[key])
            value = (f'label_replace(reporting_target_value{{key="{key}", year="$year", area=~"$area|"}}, '
                     f'"area", "district", "area", "")')
            board.add("bargauge", targets[key].get("label", key)[:120],
                      f"{key} {targets[key].get('op', '>=')} the target; per area where measured per area.",
                      [instant(value, "{{area}} {{scope}}"), instant(f'reporting_target{{key="{key}"}}', "target")],
                      w=8, h=7, defaults=defaults, transformations=transformations)
    return board.json()


# --- Event flow --------------------------------------------------------------------------------------

def event_flow() -> dict:
    board = Board("zhonglou-event-flow", "Zhonglou civil affairs: event flow",
                  "From each service's event store through its relay onto the bus, into the projection "
                  "and out to the subscribers; the broker and the database under them. Alerts: "
                  "docs/operations.md.", ["civil-affairs", "event-flow", "zhonglou"],
                  [datasource_variable(),
                   query_variable("source", "Source", "relay_lag_events", "service"),
                   query_variable("subscription", "Subscription", "subscription_lag_events", "subscription")])
    src = 'service=~"$source"'
    board.row("Relays: event store to bus, one ordered publisher per source")
    board.add("timeseries", "Relay lag per source (events stored, not yet confirmed)", "relay_lag_events "
              "(the active relay and its standby report the same recorded lag).",
              [series(f"max by (service) (relay_lag_events{{{src}}})", "{{service}}")])
    board.add("timeseries", "Events published per second, per source", "Confirmed by the broker.",
              [series(f"sum by (service) (rate(relay_published_events_total{{{src}}}[{RATE}]))", "{{service}}")],
              unit="ops")
    board.add("timeseries", "Relay failures per source and kind", "The relay retries; see RelayLagGrowing.",
              [series(f"sum by (service, kind) (increase(relay_errors_total{{{src}}}[{RATE}]))",
                      "{{service}} {{kind}}")])
    board.add("stat", "Active relays per source", "relay_active: 1 where one relay holds the source's "
              "lease and publishes (its standby waits); 0 means nothing of that source is published.",
              [instant(f"sum by (service) (relay_active{{{src}}})", "{{service}}")], w=12, h=4)
    board.add("stat", "Relays answering", "Prometheus's scrape of each relay and standby (1 up, 0 down).",
              [instant('up{job=~".*relay.*"}', "{{job}}")], w=12, h=4)
    board.row("Projection: bus to read models, ordered within each source")
    on = 'source=~"$source"'
    board.add("timeseries", "Projection lag per source (events)", "The source's head minus the applied position.",
              [series(f"projection_lag_events{{{on}}}", "{{source}}")])
    board.add("timeseries", "Events applied per second, per source", "",
              [series(f"sum by (source) (rate(projection_applied_events_total{{{on}}}[{RATE}]))", "{{source}}")],
              unit="ops")
    board.add("bargauge", "Projection dead letters by reason", "python -m services.projection dead-letters.",
              [instant("sum by (reason) (projection_dead_letters_total)", "{{reason}}")])
    board.add("timeseries", "Events skipped and deferred per source", "Skipped: could not be applied; "
              "deferred: acked and caught up from the feed later.",
              [series(f"sum by (source) (projection_skipped_events_total{{{on}}})", "skipped {{source}}"),
               series(f"sum by (source) (projection_deferred_events_total{{{on}}})", "deferred {{source}}")])
    board.add("timeseries", "Projection batch apply time (p99)", "",
              [series(f"histogram_quantile(0.99, sum by (le) (rate(projection_batch_duration_seconds_bucket[{RATE}])))",
                      "p99")], unit="s")
    board.add("timeseries", "Projection failures by kind", "The consumer retries; see the projection's log.",
              [series(f"sum by (kind) (increase(projection_errors_total[{RATE}]))", "{{kind}}")])
    board.row("Subscriptions: out to the municipal systems")
    sub = 'subscription=~"$subscription"'
    board.add("timeseries", "Subscription lag (seconds): the oldest event not yet delivered", "",
              [series(f"subscription_lag_seconds{{{sub}}}", "{{subscription}}")], unit="s")
    board.add("timeseries", "Subscription lag (events)", "",
              [series(f"subscription_lag_events{{{sub}}}", "{{subscription}}")])
    board.add("timeseries", "Deliveries per second, per subscription", "",
              [series(f"sum by (subscription) (rate(subscription_deliveries_total{{{sub}}}[{RATE}]))",
                      "{{subscription}}")], unit="ops")
    board.add("timeseries", "Failed delivery attempts per subscription", "By reason (timeout, connection, "
              "server_error, client_error, throttled, ...); the delivery engine retries with back-off.",
              [series(f"sum by (subscription, reason) (increase(subscription_delivery_failures_total{{{sub}}}[{RATE}]))",
                      "{{subscription}} {{reason}}")])
    board.add("bargauge", "Dead letters per subscription", "GET /subscriptions/{id}/dead-letters.",
              [instant(f"sum by (subscription) (subscription_dead_letters_total{{{sub}}})", "{{subscription}}")])
    board.add("bargauge", "Subscriptions by state", "",
              [instant("sum by (state) (subscription_state)", "{{state}}")])
    board.row("RabbitMQ (rabbitmq_prometheus)")
    board.add("timeseries", "Queue depth: messages ready", "",
              [series("sum by (queue) (rabbitmq_detailed_queue_messages_ready)", "{{queue}}")])
    board.add("timeseries", "Messages delivered, not yet acknowledged", "",
              [series("sum by (queue) (rabbitmq_detailed_queue_messages_unacked)", "{{queue}}")])
    board.add("bargauge", "Consumers per queue", "A queue without a consumer only fills.",
              [instant("sum by (queue) (rabbitmq_detailed_queue_consumers)", "{{queue}}")])
    board.add("timeseries", "Broker messages in and out per second", "",
              [series(f"sum(rate(rabbitmq_global_messages_received_total[{RATE}]))", "received"),
               series(f"sum(rate(rabbitmq_global_messages_delivered_total[{RATE}]))", "delivered")], unit="ops")
    board.add("stat", "Connections", "", [instant("sum(rabbitmq_connections)", "connections")], w=4, h=4)
    board.row("PostgreSQL (postgres_exporter)")
    board.add("stat", "PostgreSQL up", "The exporter reaches the database.", [instant("pg_up", "up")], w=4, h=4)
    board.add("timeseries", "Connections per database", "",
              [series("sum by (datname) (pg_stat_database_numbackends)", "{{datname}}")], w=10)
    board.add("timeseries", "Commits per second per database", "",
              [series(f"sum by (datname) (rate(pg_stat_database_xact_commit[{RATE}]))", "{{datname}}")],
              w=10, unit="ops")
    board.add("timeseries", "Database size", "", [series("pg_database_size_bytes", "{{datname}}")], unit="bytes")
    board.add("timeseries", "Deadlocks per database", "",
              [series(f"sum by (datname) (increase(pg_stat_database_deadlocks[{RATE}]))", "{{datname}}")])
    return board.json()


# --- Services --------------------------------------------------------------------------------------

REFUSED = "InvalidInput|NotFound|Conflict"


def services() -> dict:
    board = Board("zhonglou-services", "Zhonglou civil affairs: services",
                  "Rate, errors and duration of every Nameko entrypoint and every gateway route. "
                  "Faults are errors other than refused input (InvalidInput, NotFound, Conflict).",
                  ["civil-affairs", "services", "zhonglou"],
                  [datasource_variable(),
                   query_variable("service", "Service", "entrypoint_calls_total", "service"),
                   query_variable("route", "Gateway route", "gateway_requests_total", "route")])
    svc = 'service=~"$service"'
    board.row("Entrypoints (RPC and HTTP of each service)")
    board.add("timeseries", "Calls per second per entrypoint", "",
              [series(f"sum by (service, entrypoint) (rate(entrypoint_calls_total{{{svc}}}[{RATE}]))",
                      "{{service}}.{{entrypoint}}")], unit="ops")
    board.add("timeseries", "Refused input per second per entrypoint", "Bad input answered with a typed "
              "error: the service working as it should.",
              [series(f'sum by (service, entrypoint) (rate(entrypoint_errors_total{{{svc}, kind=~"{REFUSED}"}}[{RATE}])) '
                      f"or 0 * sum by (service, entrypoint) (rate(entrypoint_calls_total{{{svc}}}[{RATE}]))",
                      "{{service}}.{{entrypoint}}")], unit="ops")
    board.add("timeseries", "Fault ratio per service (5m)", "Recording rule service:fault_ratio:rate5m; "
              "ServiceFaultRatioHigh fires above 5 %.",
              [series(f"service:fault_ratio:rate5m{{{svc}}}", "{{service}}")], unit="percentunit")
    board.add("timeseries", "Duration per entrypoint (p99)", "",
              [series(f"histogram_quantile(0.99, sum by (service, entrypoint, le) "
                      f"(rate(entrypoint_duration_seconds_bucket{{{svc}}}[{RATE}])))", "{{service}}.{{entrypoint}}")],
              unit="s")
    board.add("timeseries", "Duration per entrypoint (median)", "",
              [series(f"histogram_quantile(0.5, sum by (service, entrypoint, le) "
                      f"(rate(entrypoint_duration_seconds_bucket{{{svc}}}[{RATE}])))", "{{service}}.{{entrypoint}}")],
              unit="s")
    board.add("bargauge", "Malformed RPC requests dropped", "",
              [instant("sum by (service) (rpc_malformed_requests_total)", "{{service}}")])
    route = 'route=~"$route"'
    board.row("Gateway (HTTP API)")
    board.add("timeseries", "Requests per second per route", "",
              [series(f"sum by (route, method) (rate(gateway_requests_total{{{route}}}[{RATE}]))",
                      "{{method}} {{route}}")], unit="ops")
    board.add("timeseries", "Answers per second by status", "",
              [series(f"sum by (status) (rate(gateway_requests_total{{{route}}}[{RATE}]))", "{{status}}")], unit="ops")
    board.add("timeseries", "Server errors (5xx) ratio per route (5m)", "Recording rule "
              "route:gateway_server_error_ratio:rate5m; GatewayServerErrorRatioHigh fires above 5 %.",
              [series(f"route:gateway_server_error_ratio:rate5m{{{route}}}", "{{route}}")], unit="percentunit")
    board.add("timeseries", "Duration per route (p99)", "",
              [series(f"histogram_quantile(0.99, sum by (route, le) "
                      f"(rate(gateway_request_duration_seconds_bucket{{{route}}}[{RATE}])))", "{{route}}")], unit="s")
    board.add("timeseries", "Requests refused by the rate limit", "",
              [series(f"sum(rate(gateway_rate_limited_total[{RATE}]))", "429")], unit="ops")
    return board.json()


# --- rendering -------------------------------------------------------------------------------------

def text(board: dict) -> str:
    return json.dumps(board, ensure_ascii=False, indent=2) + "\n"


def files(found) -> dict[str, str]:
    """The generated dashboards: path -> text, for deploy/render.py (the targets are always
    the checkout's data/targets/, whatever directory the rendering is written to)."""
    sections = {}
    for domain in found:
        if domain.report:
            sections[domain.name] = (domain.title, tuple(domain.load("report").TARGETS))
    return {"deploy/grafana/district_plan.json": text(district_plan(sections, plan_targets())),
            "deploy/grafana/event_flow.json": text(event_flow()),
            "deploy/grafana/services.json": text(services())}
