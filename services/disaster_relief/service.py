"""Interface layer of disaster relief: the Nameko service. It only translates and delegates.

RPC methods (`disaster_relief.<method>`) take and return primitives and raise the typed domain
errors (`shared.errors`), which Nameko returns to the caller as the same types.
HTTP: GET /metrics (Prometheus), GET /healthz, GET /events?after=N&limit=M (the notification
log as CloudEvents, for consumers catching up on a gap or rebuilding).
Run: WEB_SERVER_ADDRESS=0.0.0.0:8004 nameko run --config deploy/nameko.yml services.disaster_relief.service
"""
from shared import nameko_support  # noqa: I001  (first: sets PSYCOPG_WAIT_FUNC before psycopg loads)
from shared.nameko_support import ApplicationProvider, EntrypointMetrics

from nameko.rpc import rpc

from services.disaster_relief.application import DisasterRelief
from shared.errors import DomainError

assert nameko_support


def build_application() -> DisasterRelief:
    """Composition root of the service process."""
    return DisasterRelief()


EXPECTED = (DomainError,)


# The base is reached through its module: `nameko run` would take an imported class for a service.
class DisasterReliefService(nameko_support.EventStoreEndpoints):
    name = "disaster_relief"

    app: DisasterRelief = ApplicationProvider(build_application)
    metrics = EntrypointMetrics()

    # --- incidents and their reports ----------------------------------------------------------
    @rpc(expected_exceptions=EXPECTED)
    def register_incident(self, incident_type, areas, occurred_at, officer, description=""):
        return self.app.register_incident(incident_type, areas, occurred_at, officer, description)

    @rpc(expected_exceptions=EXPECTED)
    def report(self, incident_id, stage, figures, reported_at, officer):
        return self.app.report(incident_id, stage, figures, reported_at, officer)

    @rpc(expected_exceptions=EXPECTED)
    def close_incident(self, incident_id, officer, closed_on=None):
        return self.app.close_incident(incident_id, officer, closed_on)

    @rpc(expected_exceptions=EXPECTED)
    def get_incident(self, incident_id):
        return self.app.get_incident(incident_id)

    @rpc(expected_exceptions=EXPECTED)
    def list_incidents(self, year=None):
        return self.app.list_incidents(year)

    @rpc(expected_exceptions=EXPECTED)
    def late_reports(self, year=None):
        return self.app.late_reports(year)

    @rpc(expected_exceptions=EXPECTED)
    def overdue_reports(self, year=None):
        return self.app.overdue_reports(year)

    # --- relief roster and relief cards -----------------------------------------------------------
    @rpc(expected_exceptions=EXPECTED)
    def add_to_roster(self, incident_id, household_id, id_number, name, area, members, needs,
                      officer, listed_on=None):
        return self.app.add_to_roster(incident_id, household_id, id_number, name, area, members,
                                      needs, officer, listed_on)

    @rpc(expected_exceptions=EXPECTED)
    def get_roster(self, incident_id, reveal_identity=False):
        return self.app.get_roster(incident_id, reveal_identity=reveal_identity)

    @rpc(expected_exceptions=EXPECTED)
    def get_card(self, incident_id, household_id):
        return self.app.get_card(incident_id, household_id)

    @rpc(expected_exceptions=EXPECTED)
    def record_aid(self, incident_id, household_id, item, quantity, officer, given_on=None):
        return self.app.record_aid(incident_id, household_id, item, quantity, officer, given_on)

    @rpc(expected_exceptions=EXPECTED)
    def disburse(self, incident_id, household_id, recipient, amount, officer, disbursed_on=None):
        return self.app.disburse(incident_id, household_id, recipient, amount, officer, disbursed_on)

    # --- relief reserves ----------------------------------------------------------------------------
    @rpc(expected_exceptions=EXPECTED)
    def deposit(self, area, amount, source, officer, deposited_on=None):
        return self.app.deposit(area, amount, source, officer, deposited_on)

    @rpc(expected_exceptions=EXPECTED)
    def get_reserve(self, area):
        return self.app.get_reserve(area)

    @rpc(expected_exceptions=EXPECTED)
    def reserves(self):
        return self.app.reserves()

