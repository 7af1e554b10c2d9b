"""Fixtures of the military support tests (helpers are in ms_support.py)."""
import pytest

from tests.military_support.ms_support import memory_app


@pytest.fixture
def app():
    return memory_app()
