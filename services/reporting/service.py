"""Interface layer of reporting: the Nameko service. It only translates and delegates.

The district measured against the year's targets file (data/targets/<year>.json): every
registered domain's report section (application.py), computed from the projection's read model
(schema `read_model`) on every request or scrape.

RPC: `reporting.report(year=None)` → the report dict, one key per domain (docs/reporting.md);
`reporting.audit(aggregate=None, actor=None, request=None, since=None, until=None, limit=100,
after=None)` → one page of the audit trail, newest first (services/reporting/audit.py), its
arguments checked by the declaration (services/reporting/commands.py) before any query.
HTTP: GET /report[?year=2007] (JSON), GET /metrics[?year=2007] (Prometheus: every section's
metrics plus the process's entrypoint metrics), GET /healthz (200 if the read model database
answers, with each domain's section initialised or missing).
Run: WEB_SERVER_ADDRESS=0.0.0.0:8003 nameko run --config deploy/nameko.yml services.reporting.service
Environment: POSTGRES_* (shared.config), REPORT_YEAR (default 2007), REPORTING_POOL_SIZE (2),
REPORTING_DB_TIMEOUT seconds (5), READ_MODEL_SCHEMA (read_model).
"""
from shared import nameko_support  # noqa: I001  (first: sets PSYCOPG_WAIT_FUNC before psycopg loads)
from shared.nameko_support import EntrypointMetrics, error_response, json_response
from shared.nameko_support import guarded_rpc as rpc  # nameko's @rpc, malformed requests dropped

import logging
import os

import psycopg
from nameko.extensions import DependencyProvider
from nameko.web.handlers import http
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry
from psycopg_pool import ConnectionPool, PoolTimeout
from werkzeug.wrappers import Response

from services.reporting.application import (ReportCollector, Reporting, default_year, parse_year,
                                            render)
from services.reporting.commands import COMMANDS
from services.reporting.connections import PooledConnections
from shared.commands import by_name
from shared.config import settings
from shared.errors import DomainError
from shared.report_kit import DEFAULT_SCHEMA

assert nameko_support

log = logging.getLogger(__name__)
UNAVAILABLE = (psycopg.Error, PoolTimeout)
EXPECTED = (DomainError,)
AUDIT = by_name(COMMANDS)["audit"]


def build_reporting(environ=None) -> tuple[ConnectionPool, Reporting]:
    """Composition root of the service process: one small pool, not opened yet."""
    env = dict(os.environ if environ is None else environ)
    cfg = settings(env)
    pool = ConnectionPool(cfg.pg_conninfo(), min_size=1,
                          max_size=int(env.get("REPORTING_POOL_SIZE", "2")), open=False,
                          name="reporting", check=ConnectionPool.check_connection,
                          kwargs={"application_name": "reporting"})
    connect = PooledConnections(pool, cfg.pg_dbname, cfg.pg_conninfo("postgres"),
                                timeout=float(env.get("REPORTING_DB_TIMEOUT", "5")))
    reporting = Reporting(connect,
                          schema=env.get("READ_MODEL_SCHEMA", DEFAULT_SCHEMA),
                          year=default_year(env))
    return pool, reporting


class ReportingProvider(DependencyProvider):
    """The `Reporting` application, its connection pool and its own Prometheus registry."""

    def setup(self):
        self.pool, self.reporting = build_reporting()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(ReportCollector(self.reporting, lambda: self.reporting.year))

    def start(self):
        self.pool.open(wait=False)  # the service starts even while PostgreSQL is down

    def stop(self):
        self.pool.close()

    def kill(self):
        self.pool.close(timeout=0)

    def get_dependency(self, worker_ctx):
        return self

    def metrics_registry(self, year=None) -> CollectorRegistry:
        """The service's registry, or a one-off one for another year."""
        if year is None or year == self.reporting.year:
            return self.registry
        registry = CollectorRegistry(auto_describe=False)
        registry.register(ReportCollector(self.reporting, lambda: year))
        return registry

    def report(self, year=None) -> dict:
        return self.reporting.report(year)


def _unavailable(error: Exception) -> Response:
    log.warning("reporting: read model database unavailable: %s", error)
    return json_response({"error": "ReadModelUnavailable",
                          "message": f"the read model database cannot be reached: {error}"}, 503)


class ReportingService:
    name = "reporting"

    source: ReportingProvider = ReportingProvider()
    metrics = EntrypointMetrics()

    @rpc(expected_exceptions=EXPECTED)
    def report(self, year=None):
        return self.source.report(year)

    @rpc(expected_exceptions=EXPECTED)
    def audit(self, *args, **kwargs):
        # Bound and checked by the declaration: unknown, surplus or out-of-bounds arguments are
        # InvalidInput with a code, before the database is asked.
        return self.source.reporting.audit(**AUDIT.bind(args, kwargs))

    @http("GET", "/report")
    def get_report(self, request):
        try:
            return json_response(self.source.report(request.args.get("year")))
        except DomainError as error:
            return error_response(error)
        except UNAVAILABLE as error:
            return _unavailable(error)

    @http("GET", "/metrics")
    def get_metrics(self, request):
        try:
            year = parse_year(request.args.get("year"), self.source.reporting.year)
        except DomainError as error:
            return error_response(error)
        body = render(REGISTRY, self.source.metrics_registry(year))
        return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    @http("GET", "/healthz")
    def healthz(self, request):
        try:
            health = self.source.reporting.health()
        except UNAVAILABLE as error:
            return json_response({"status": "unavailable", "service": self.name,
                                  "message": f"the read model database cannot be reached: {error}"},
                                 503)
        return json_response({"status": "ok", "service": self.name,
                              "year": self.source.reporting.year, "read_model": health})
