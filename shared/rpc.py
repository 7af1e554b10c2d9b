"""Interface layer: calling the platform's Nameko services from outside (demo, tests, tools).

Importing this registers the platform's domain errors with Nameko, so a refused command raises
`InvalidInput` / `Conflict` / `NotFound` here, with `.field` and `.rule`, not a RemoteError.
"""
from __future__ import annotations

import os
from contextlib import contextmanager

from shared import nameko_support  # noqa: F401  (registers the error types)
from shared.nameko_support import NAMEKO_SERIALIZERS


def client_config(amqp_uri: str | None = None) -> dict:
    return {"AMQP_URI": amqp_uri or os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"),
            "SERIALIZERS": NAMEKO_SERIALIZERS, "ACCEPT": ["json", "cloudevents"]}


@contextmanager
def cluster(amqp_uri: str | None = None, timeout: float | None = 120):
    """A ClusterRpcProxy: `with cluster() as rpc: rpc.social_assistance.apply(...)`."""
    from nameko.standalone.rpc import ClusterRpcProxy
    with ClusterRpcProxy(client_config(amqp_uri), timeout=timeout) as proxy:
        yield proxy
