"""Disaster relief (救灾应急): incidents and their rapid reports, relief rosters and cards, and the
relief reserve of each town and street.

The domain's one declaration (shared/domains.py); registered in services/registry.py.
"""
from shared.domains import Domain

DOMAIN = Domain(
    name="disaster_relief",
    title="disaster relief (救灾应急)",
    package="services.disaster_relief",
    application="services.disaster_relief.application:DisasterRelief",
    readmodel="services.disaster_relief.readmodel",
    report="services.disaster_relief.report",
    demo="services.disaster_relief.demo",
    commands="services.disaster_relief.commands",
    service="services.disaster_relief.service",
    prepare=None,
    http_port=8004,
    relay_port=9104,
)
