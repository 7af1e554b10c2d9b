"""Social welfare (社会福利): elderly-care institutions and beds, admissions, care-worker training,
three-no and five-guarantee support, home-care orders, welfare enterprises and their rebates.

The domain's one declaration (shared/domains.py); registered in services/registry.py.
"""
from shared.domains import Domain

DOMAIN = Domain(
    name="welfare",
    title="social welfare (社会福利)",
    package="services.welfare",
    application="services.welfare.application:Welfare",
    readmodel="services.welfare.readmodel",
    report="services.welfare.report",
    demo="services.welfare.demo",
    commands="services.welfare.commands",
    service="services.welfare.service",
    prepare=None,
    http_port=8005,
    relay_port=9105,
)
