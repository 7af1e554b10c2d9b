"""Fixtures of the welfare tests (helpers are in welfare_support.py)."""
import pytest

from tests.welfare.welfare_support import memory_welfare


@pytest.fixture
def app():
    return memory_welfare()
