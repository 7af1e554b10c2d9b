"""Infrastructure: the RabbitMQ topology every service shares.

Each service publishes to its durable topic exchange `<service>.events` (the Nameko naming, so a
plain Nameko `@event_handler(service, type)` can subscribe). Consumers that need every event of a
source in order (the projection) use one quorum queue bound with `#`.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlparse


@dataclass(frozen=True)
class AmqpAddress:
    host: str
    port: int
    user: str
    password: str
    vhost: str

    @classmethod
    def parse(cls, uri: str) -> "AmqpAddress":
        parts = urlparse(uri)
        vhost = unquote(parts.path[1:]) if parts.path not in ("", "/") else "/"
        return cls(parts.hostname or "127.0.0.1", parts.port or 5672,
                   unquote(parts.username or "guest"), unquote(parts.password or "guest"), vhost)

    def connection_kwargs(self) -> dict:
        return {"host": f"{self.host}:{self.port}", "userid": self.user,
                "password": self.password, "virtual_host": self.vhost,
                "heartbeat": 30, "connect_timeout": 5}


def events_exchange(service: str) -> str:
    return f"{service}.events"


def declare_events_exchange(channel, service: str) -> None:
    """Same flags as Nameko's declaration (topic, durable, not auto-delete): no conflicts."""
    channel.exchange_declare(events_exchange(service), "topic", durable=True, auto_delete=False)
