"""Fixtures of the conduct supervision tests (helpers are in cs_support.py)."""
import pytest

from tests.conduct_supervision.cs_support import memory_app


@pytest.fixture
def app():
    return memory_app()
