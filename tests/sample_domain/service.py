"""Interface layer of the test domain: the Nameko service, generated from its declaration."""
from shared import nameko_support  # noqa: I001  (first: sets PSYCOPG_WAIT_FUNC before psycopg loads)

from tests.sample_domain import DOMAIN


class VolunteeringService(nameko_support.domain_service(DOMAIN)):
    """`volunteering`: RPC methods from tests/sample_domain/commands.py."""
