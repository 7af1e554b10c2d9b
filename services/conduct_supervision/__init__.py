"""Conduct supervision (行风建设): conduct supervisors recruited in communities and villages,
public reviews (民主评议) of service windows and officers, complaints and suggestions with their
handling deadlines, officers' contact communities and visits, window efficiency assessments,
breaches of the "eight prohibitions" (八不准) and the year-end assessment of every officer on
integrity, ability, diligence and results (德能勤绩), which feeds the rewards list.

The domain's one declaration (shared/domains.py); registered in services/registry.py.
"""
from shared.domains import Domain

DOMAIN = Domain.in_package(__name__, title="conduct supervision (行风建设)",
                           application="ConductSupervision", http_port=8009, relay_port=9109)
