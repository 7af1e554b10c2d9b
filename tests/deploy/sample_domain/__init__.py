"""A domain that exists only for tests/deploy/test_rendered.py: registered through
PLATFORM_EXTRA_DOMAINS=tests.deploy.sample_domain, it must show up in every rendered deployment
file. Nothing here runs (the parts it names do not exist); only its declaration is read."""
from shared.domains import Domain

DOMAIN = Domain(
    name="sample_register",
    title="a sample domain of the deployment tests",
    package="tests.deploy.sample_domain",
    application="tests.deploy.sample_domain.application:SampleRegister",
    readmodel="tests.deploy.sample_domain.readmodel",
    service="tests.deploy.sample_domain.service",
    http_port=8099,
    relay_port=9199,
)
