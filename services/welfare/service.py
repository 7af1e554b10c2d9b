"""Interface layer of social welfare: the Nameko service, generated from the declaration.

RPC methods (`welfare.<method>`) are the commands and queries declared once in
services/welfare/commands.py: each checks its arguments against the declared bounds, calls the
application with primitives and raises the typed domain errors (`shared.errors`), which Nameko
returns to the caller as the same types, with field, rule and code.
HTTP: GET /metrics (Prometheus), GET /healthz, GET /events?after=N&limit=M (the notification
log as CloudEvents, for consumers catching up on a gap or rebuilding).
Run: WEB_SERVER_ADDRESS=0.0.0.0:8005 nameko run --config deploy/nameko.yml services.welfare.service
"""
from shared import nameko_support  # noqa: I001  (first: sets PSYCOPG_WAIT_FUNC before psycopg loads)

from services.welfare import DOMAIN
from services.welfare.application import Welfare


def build_application() -> Welfare:
    """Composition root of the service process."""
    return Welfare()


# The base is reached through its module: `nameko run` would take an imported class for a service.
class WelfareService(nameko_support.domain_service(DOMAIN, build_application)):
    """`welfare`: RPC methods from services/welfare/commands.py."""
