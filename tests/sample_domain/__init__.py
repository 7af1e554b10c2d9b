"""A domain that exists only in the tests: volunteers of the district's communities and the hours
they give. It is registered by the tests alone (PLATFORM_EXTRA_DOMAINS=tests.sample_domain) and
shows that a domain is its folder, one registry entry and its targets: the projection, reporting,
the relay, the demo kit and the deployment renderer pick it up without any other edit
(tests/e2e/test_new_domain.py, tests/deploy/test_rendered.py).
"""
from shared.domains import Domain

DOMAIN = Domain.in_package(__name__, name="volunteering", title="volunteer service (a test domain)",
                           application="Volunteering", http_port=8091, relay_port=9191)
