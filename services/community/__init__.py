"""Community building (社区建设): communities with their star ratings (awarded, revoked, the
history kept), brand and digital-management designations per street, the four meetings (四会);
civil organisations (民间组织) registered or filed and inspected every year; villages with their
village-affairs openness, model status and committee elections; community service centres and
residents' committee offices with their floor areas and the named 2007 projects; community
professional workers hired through three channels and trained.

The domain's one declaration (shared/domains.py); registered in services/registry.py.
"""
from shared.domains import Domain

DOMAIN = Domain.in_package(__name__, title="community building (社区建设)",
                           application="CommunityBuilding", http_port=8011, relay_port=9111)
