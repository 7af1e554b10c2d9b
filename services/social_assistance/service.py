"""Interface layer of social assistance: the Nameko service. It only translates and delegates.

RPC methods (`social_assistance.<method>`) take and return primitives and raise the typed
domain errors (`shared.errors`), which Nameko returns to the caller as the same types.
HTTP: GET /metrics (Prometheus), GET /healthz, GET /events?after=N&limit=M (the notification
log as CloudEvents, for consumers catching up on a gap or rebuilding).
"""
from shared import nameko_support  # noqa: I001  (first: sets PSYCOPG_WAIT_FUNC before psycopg loads)
from shared.nameko_support import ApplicationProvider, EntrypointMetrics

from nameko.rpc import rpc

from services.social_assistance.application import SocialAssistance
from shared.errors import DomainError

assert nameko_support


def build_application() -> SocialAssistance:
    """Composition root of the service process."""
    app = SocialAssistance()
    app.load_reference_standards()
    return app


EXPECTED = (DomainError,)


# The base is reached through its module: `nameko run` would take an imported class for a service.
class SocialAssistanceService(nameko_support.EventStoreEndpoints):
    name = "social_assistance"

    app: SocialAssistance = ApplicationProvider(build_application)
    metrics = EntrypointMetrics()

    # --- households and cases ---------------------------------------------------------------
    @rpc(expected_exceptions=EXPECTED)
    def register_household(self, area, registration, members, address=""):
        return self.app.register_household(area, registration, members, address)

    @rpc(expected_exceptions=EXPECTED)
    def get_household(self, household_id, reveal_identity=False):
        return self.app.get_household(household_id, reveal_identity=reveal_identity)

    @rpc(expected_exceptions=EXPECTED)
    def apply(self, household_id, officer):
        return self.app.apply(household_id, officer)

    @rpc(expected_exceptions=EXPECTED)
    def verify(self, case_id, officer, household_monthly_income, assets="0"):
        return self.app.verify(case_id, officer, household_monthly_income, assets)

    @rpc(expected_exceptions=EXPECTED)
    def approve(self, case_id, officer, effective_month=None):
        return self.app.approve(case_id, officer, effective_month)

    @rpc(expected_exceptions=EXPECTED)
    def reject(self, case_id, officer, reason):
        return self.app.reject(case_id, officer, reason)

    @rpc(expected_exceptions=EXPECTED)
    def review(self, case_id, officer, household_monthly_income, effective_month=None):
        return self.app.review(case_id, officer, household_monthly_income, effective_month)

    @rpc(expected_exceptions=EXPECTED)
    def terminate(self, case_id, officer, reason, effective_month=None):
        return self.app.terminate(case_id, officer, reason, effective_month)

    @rpc(expected_exceptions=EXPECTED)
    def get_case(self, case_id):
        return self.app.get_case(case_id)

    # --- standards and payments -----------------------------------------------------------------
    @rpc(expected_exceptions=EXPECTED)
    def set_standard(self, area, registration, amount, effective_month, reason=""):
        return self.app.set_standard(area, registration, amount, effective_month, reason)

    @rpc(expected_exceptions=EXPECTED)
    def raise_standards(self, urban_delta, rural_delta, effective_month):
        return self.app.raise_standards(urban_delta, rural_delta, effective_month)

    @rpc(expected_exceptions=EXPECTED)
    def standard(self, area, registration, month):
        return self.app.standard(area, registration, month)

    @rpc(expected_exceptions=EXPECTED)
    def run_payments(self, month):
        return self.app.run_payments(month)

    @rpc(expected_exceptions=EXPECTED)
    def pay_year_end_extra(self, year):
        return self.app.pay_year_end_extra(year)

    # --- marginal households, charity, Xilin merge --------------------------------------------------
    @rpc(expected_exceptions=EXPECTED)
    def register_marginal(self, household_id, officer):
        return self.app.register_marginal(household_id, officer)

    @rpc(expected_exceptions=EXPECTED)
    def review_marginal(self, household_id, officer, household_monthly_income):
        return self.app.review_marginal(household_id, officer, household_monthly_income)

    @rpc(expected_exceptions=EXPECTED)
    def pay_marginal_relief(self, year, amount_per_household):
        return self.app.pay_marginal_relief(year, amount_per_household)

    @rpc(expected_exceptions=EXPECTED)
    def record_donation(self, year, donor, amount, area, received_on):
        return self.app.record_donation(year, donor, amount, area, received_on)

    @rpc(expected_exceptions=EXPECTED)
    def donation_totals(self, year):
        return self.app.donation_totals(year)

    @rpc(expected_exceptions=EXPECTED)
    def merge_rural_into_urban(self, area, effective_month):
        return self.app.merge_rural_into_urban(area, effective_month)

