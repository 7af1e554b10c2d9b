"""Interface layer of disaster relief: the Nameko service, generated from the declaration.

RPC methods (`disaster_relief.<method>`) are the commands and queries declared once in
services/disaster_relief/commands.py: each checks its arguments against the declared bounds,
calls the application with primitives and raises the typed domain errors (`shared.errors`), which
Nameko returns to the caller as the same types, with field, rule and code.
HTTP: GET /metrics (Prometheus), GET /healthz, GET /events?after=N&limit=M (the notification
log as CloudEvents, for consumers catching up on a gap or rebuilding).
Run: WEB_SERVER_ADDRESS=0.0.0.0:8004 nameko run --config deploy/nameko.yml services.disaster_relief.service
"""
from shared import nameko_support  # noqa: I001  (first: sets PSYCOPG_WAIT_FUNC before psycopg loads)

from services.disaster_relief import DOMAIN
from services.disaster_relief.application import DisasterRelief


def build_application() -> DisasterRelief:
    """Composition root of the service process."""
    return DisasterRelief()


# The base is reached through its module: `nameko run` would take an imported class for a service.
class DisasterReliefService(nameko_support.domain_service(DOMAIN, build_application)):
    """`disaster_relief`: RPC methods from services/disaster_relief/commands.py."""
