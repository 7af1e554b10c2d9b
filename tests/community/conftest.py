"""Fixtures of the community-building tests (helpers are in cm_support.py)."""
import pytest

from tests.community.cm_support import memory_app


@pytest.fixture
def app():
    return memory_app()
