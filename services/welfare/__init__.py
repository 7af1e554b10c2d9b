"""Social welfare (社会福利): elderly-care institutions and beds, admissions, care-worker training,
three-no and five-guarantee support, home-care orders, welfare enterprises and their rebates.

The domain's one declaration (shared/domains.py); registered in services/registry.py.
"""
from shared.domains import Domain

DOMAIN = Domain.in_package(__name__, title="social welfare (社会福利)", application="Welfare",
                           http_port=8005, relay_port=9105)
