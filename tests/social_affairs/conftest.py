"""Fixtures of the social affairs tests (helpers are in sa_support.py)."""
import pytest

from tests.social_affairs.sa_support import memory_app


@pytest.fixture
def app():
    return memory_app()
