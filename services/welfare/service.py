"""Interface layer of social welfare: the Nameko service. It only translates and delegates.

RPC methods (`welfare.<method>`) take and return primitives and raise the typed domain errors
(`shared.errors`), which Nameko returns to the caller as the same types.
HTTP: GET /metrics (Prometheus), GET /healthz, GET /events?after=N&limit=M (the notification
log as CloudEvents, for consumers catching up on a gap or rebuilding).
Run: WEB_SERVER_ADDRESS=0.0.0.0:8005 nameko run --config deploy/nameko.yml services.welfare.service
"""
from shared import nameko_support  # noqa: I001  (first: sets PSYCOPG_WAIT_FUNC before psycopg loads)
from shared.nameko_support import ApplicationProvider, EntrypointMetrics

from nameko.rpc import rpc

from services.welfare.application import Welfare
from shared.errors import DomainError

assert nameko_support


def build_application() -> Welfare:
    """Composition root of the service process."""
    return Welfare()


EXPECTED = (DomainError,)


# The base is reached through its module: `nameko run` would take an imported class for a service.
class WelfareService(nameko_support.EventStoreEndpoints):
    name = "welfare"

    app: Welfare = ApplicationProvider(build_application)
    metrics = EntrypointMetrics()

    # --- elderly-care institutions and admissions ----------------------------------------------
    @rpc(expected_exceptions=EXPECTED)
    def register_institution(self, area, name, kind, beds, registered_on):
        return self.app.register_institution(area, name, kind, beds, registered_on)

    @rpc(expected_exceptions=EXPECTED)
    def change_beds(self, institution_id, beds, changed_on, reason):
        return self.app.change_beds(institution_id, beds, changed_on, reason)

    @rpc(expected_exceptions=EXPECTED)
    def get_institution(self, institution_id):
        return self.app.get_institution(institution_id)

    @rpc(expected_exceptions=EXPECTED)
    def admit(self, institution_id, id_number, name, birth_date, admitted_on, bed=None):
        return self.app.admit(institution_id, id_number, name, birth_date, admitted_on, bed)

    @rpc(expected_exceptions=EXPECTED)
    def discharge(self, admission_id, discharged_on, reason):
        return self.app.discharge(admission_id, discharged_on, reason)

    @rpc(expected_exceptions=EXPECTED)
    def get_admission(self, admission_id, reveal_identity=False):
        return self.app.get_admission(admission_id, reveal_identity)

    # --- care workers -----------------------------------------------------------------------------
    @rpc(expected_exceptions=EXPECTED)
    def register_care_worker(self, institution_id, id_number, name, registered_on):
        return self.app.register_care_worker(institution_id, id_number, name, registered_on)

    @rpc(expected_exceptions=EXPECTED)
    def record_training(self, worker_id, course, completed_on, passed):
        return self.app.record_training(worker_id, course, completed_on, passed)

    @rpc(expected_exceptions=EXPECTED)
    def get_care_worker(self, worker_id, reveal_identity=False):
        return self.app.get_care_worker(worker_id, reveal_identity)

    # --- persons under special support ----------------------------------------------------------------
    @rpc(expected_exceptions=EXPECTED)
    def register_supported_person(self, category, area, id_number, name, birth_date, registered_on):
        return self.app.register_supported_person(category, area, id_number, name, birth_date,
                                                  registered_on)

    @rpc(expected_exceptions=EXPECTED)
    def arrange_support(self, person_id, mode, arranged_on, admission_id=None):
        return self.app.arrange_support(person_id, mode, arranged_on, admission_id)

    @rpc(expected_exceptions=EXPECTED)
    def arrange_medical_care(self, person_id, provider, arranged_on):
        return self.app.arrange_medical_care(person_id, provider, arranged_on)

    @rpc(expected_exceptions=EXPECTED)
    def get_supported_person(self, person_id, reveal_identity=False):
        return self.app.get_supported_person(person_id, reveal_identity)

    # --- home-care service orders --------------------------------------------------------------------
    @rpc(expected_exceptions=EXPECTED)
    def place_order(self, area, client, service, payment, price, placed_on, volunteer=""):
        return self.app.place_order(area, client, service, payment, price, placed_on, volunteer)

    @rpc(expected_exceptions=EXPECTED)
    def deliver_order(self, order_id, delivered_on):
        return self.app.deliver_order(order_id, delivered_on)

    @rpc(expected_exceptions=EXPECTED)
    def cancel_order(self, order_id, cancelled_on, reason):
        return self.app.cancel_order(order_id, cancelled_on, reason)

    @rpc(expected_exceptions=EXPECTED)
    def get_order(self, order_id):
        return self.app.get_order(order_id)

    # --- welfare enterprises ------------------------------------------------------------------------------
    @rpc(expected_exceptions=EXPECTED)
    def register_enterprise(self, area, name, ownership, other_staff, registered_on):
        return self.app.register_enterprise(area, name, ownership, other_staff, registered_on)

    @rpc(expected_exceptions=EXPECTED)
    def hire_disabled_employee(self, enterprise_id, id_number, name, hired_on):
        return self.app.hire_disabled_employee(enterprise_id, id_number, name, hired_on)

    @rpc(expected_exceptions=EXPECTED)
    def disabled_employee_left(self, enterprise_id, id_number, left_on, reason):
        return self.app.disabled_employee_left(enterprise_id, id_number, left_on, reason)

    @rpc(expected_exceptions=EXPECTED)
    def report_staff(self, enterprise_id, other_staff, as_of):
        return self.app.report_staff(enterprise_id, other_staff, as_of)

    @rpc(expected_exceptions=EXPECTED)
    def record_wages(self, enterprise_id, month, wages):
        return self.app.record_wages(enterprise_id, month, wages)

    @rpc(expected_exceptions=EXPECTED)
    def restructure(self, enterprise_id, completed_on, form):
        return self.app.restructure(enterprise_id, completed_on, form)

    @rpc(expected_exceptions=EXPECTED)
    def grant_rebate(self, enterprise_id, period, amount, granted_on):
        return self.app.grant_rebate(enterprise_id, period, amount, granted_on)

    @rpc(expected_exceptions=EXPECTED)
    def get_enterprise(self, enterprise_id, reveal_identity=False):
        return self.app.get_enterprise(enterprise_id, reveal_identity)

    @rpc(expected_exceptions=EXPECTED)
    def rules(self):
        return self.app.rules_in_force()

