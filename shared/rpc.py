"""Interface layer: calling the platform's Nameko services from outside (demo, tests, tools).

Importing this registers the platform's domain errors with Nameko, so a refused command raises
`InvalidInput` / `Conflict` / `NotFound` here, with `.field` and `.rule`, not a RemoteError.
Every call names its caller as an internal system (`system:<name>`: PLATFORM_ACTOR, else the
program's name), the actor the services record in the events it triggers (shared/audit.py).
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

from shared import audit, nameko_support  # noqa: F401  (registers the error types)
from shared.nameko_support import NAMEKO_SERIALIZERS


def client_config(amqp_uri: str | None = None) -> dict:
    return {"AMQP_URI": amqp_uri or os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"),
            "SERIALIZERS": NAMEKO_SERIALIZERS, "ACCEPT": ["json", "cloudevents"]}


def system_actor() -> str:
    """This program as an internal system: PLATFORM_ACTOR, else `system:<program name>`."""
    program = Path(sys.argv[0] or "python")
    name = program.parent.name if program.stem == "__main__" else program.stem   # python -m pkg
    return os.environ.get("PLATFORM_ACTOR") or f"system:{name}"


@contextmanager
def cluster(amqp_uri: str | None = None, timeout: float | None = 120, actor: str | None = None,
            **context):
    """A ClusterRpcProxy: `with cluster() as rpc: rpc.social_assistance.apply(...)`; its calls
    carry `actor` (default `system_actor()`) and any other audit context (request_id, reason)."""
    from nameko.standalone.rpc import ClusterRpcProxy
    data = audit.to_context(actor or system_actor(), **context)
    with ClusterRpcProxy(client_config(amqp_uri), context_data=data, timeout=timeout) as proxy:
        yield proxy
