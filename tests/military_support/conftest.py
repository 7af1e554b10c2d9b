"""Fixtures of the military support tests (helpers are in ms_support.py).

Until the lead registers the domain in services/registry.py, every test here (and every process
a test starts) registers it for the run through PLATFORM_EXTRA_DOMAINS (shared/domains.py)."""
import os

import pytest

from shared.domains import EXTRA_ENV
from tests.military_support.ms_support import memory_app

PACKAGE = "services.military_support"
if PACKAGE not in os.environ.get(EXTRA_ENV, "").split(","):
    os.environ[EXTRA_ENV] = ",".join(p for p in (os.environ.get(EXTRA_ENV, ""), PACKAGE) if p)


@pytest.fixture
def app():
    return memory_app()
