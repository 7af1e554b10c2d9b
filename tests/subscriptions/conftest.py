"""Fixtures of the subscription tests: the gateway's (generated keys, minted tokens, the app with a
recording fake RPC) for the routes' app tests, and for the delivery engine's tests a real feed of
a dibao year on loopback and real webhook receivers (tests/subscriptions/delivery_support.py)."""
import pytest

from tests.gateway.conftest import auth, client, key, rpc, token, verifier  # noqa: F401 (fixtures)
from tests.subscriptions.delivery_support import FeedServer, Receiver
from tests.support import drive_year, memory_app


@pytest.fixture
def source():
    """A dibao year of two households (34 events), served as a feed on loopback."""
    app = memory_app()
    drive_year(app, households=2)
    served = FeedServer(app)
    yield served
    served.stop()


@pytest.fixture
def receivers():
    """make(**kwargs) -> a started Receiver; every one is stopped at the end."""
    started = []

    def make(**kwargs):
        started.append(Receiver(**kwargs))
        return started[-1]
    yield make
    for r in started:
        r.stop()
