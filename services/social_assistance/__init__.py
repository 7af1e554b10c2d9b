"""Social assistance (低保, dibao): households, cases with maker-checker approval, effective-dated
standards, payment runs, marginal households, the donation drive and the Xilin merge.

The domain's one declaration (shared/domains.py); registered in services/registry.py.
"""
from shared.domains import Domain

DOMAIN = Domain(
    name="social_assistance",
    title="social assistance (低保)",
    package="services.social_assistance",
    application="services.social_assistance.application:SocialAssistance",
    readmodel="services.social_assistance.readmodel",
    report="services.social_assistance.report",
    demo="services.social_assistance.demo",
    commands="services.social_assistance.commands",
    service="services.social_assistance.service",
    prepare="load_reference_standards",
    http_port=8001,
    relay_port=9101,
)
