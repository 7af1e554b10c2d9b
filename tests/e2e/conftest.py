"""The e2e tier's platform: the processes of `make run` on the session's database and vhost."""
from __future__ import annotations

import pytest

from tests.e2e.platform import Platform


@pytest.fixture
def platform(fresh_schemas, amqp_uri, tmp_path):
    running = Platform(amqp_uri, tmp_path)
    try:
        running.start_all()
        yield running
    finally:            # also when start-up fails: never leave processes behind
        running.stop_all()
