"""Interface layer of social assistance: the Nameko service, generated from the declaration.

RPC methods (`social_assistance.<method>`) are the commands and queries declared once in
services/social_assistance/commands.py: each checks its arguments against the declared bounds,
calls the application with primitives and raises the typed domain errors (`shared.errors`), which
Nameko returns to the caller as the same types, with field, rule and code.
HTTP: GET /metrics (Prometheus), GET /healthz, GET /events?after=N&limit=M (the notification
log as CloudEvents, for consumers catching up on a gap or rebuilding).
"""
from shared import nameko_support  # noqa: I001  (first: sets PSYCOPG_WAIT_FUNC before psycopg loads)

from services.social_assistance import DOMAIN
from services.social_assistance.application import SocialAssistance


def build_application() -> SocialAssistance:
    """Composition root of the service process."""
    app = SocialAssistance()
    app.load_reference_standards()
    return app


# The base is reached through its module: `nameko run` would take an imported class for a service.
class SocialAssistanceService(nameko_support.domain_service(DOMAIN, build_application)):
    """`social_assistance`: RPC methods from services/social_assistance/commands.py."""
