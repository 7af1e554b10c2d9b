"""Social assistance (低保, dibao): households, cases with maker-checker approval, effective-dated
standards, payment runs, marginal households, the donation drive and the Xilin merge.

The domain's one declaration (shared/domains.py); registered in services/registry.py.
"""
from shared.domains import Domain

DOMAIN = Domain.in_package(__name__, title="social assistance (低保)", application="SocialAssistance",
                           http_port=8001, relay_port=9101, prepare="load_reference_standards")
