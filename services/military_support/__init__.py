"""Military support (双拥 and 优抚安置): preferential-treatment beneficiaries and their periodic
benefits, medical coverage, workers without military status (无军籍职工), and double-support work
(army-support activities by the plan's eight channels, national-defence education, civil-military
co-building) with the evidence file of the provincial model-district application.

The domain's one declaration (shared/domains.py); registered in services/registry.py.
"""
from shared.domains import Domain

DOMAIN = Domain.in_package(__name__, title="military support (双拥 and 优抚安置)",
                           application="MilitarySupport", http_port=8008, relay_port=9108)
