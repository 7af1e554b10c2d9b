"""Disaster relief (救灾应急): incidents and their rapid reports, relief rosters and cards, and the
relief reserve of each town and street.

The domain's one declaration (shared/domains.py); registered in services/registry.py.
"""
from shared.domains import Domain

DOMAIN = Domain.in_package(__name__, title="disaster relief (救灾应急)", application="DisasterRelief",
                           http_port=8004, relay_port=9104)
