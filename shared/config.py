"""Composition support: every setting the platform reads from the environment, in one place.

Services, relays and the projection read their configuration through `settings()`, so a
deployment (make run, docker-compose, Kubernetes) only ever sets environment variables.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from psycopg.conninfo import make_conninfo

from shared.errors import InvalidInput


class ConfigurationError(RuntimeError):
    """A setting is missing or wrong; the message says what the operator should do."""


@dataclass(frozen=True)
class Settings:
    amqp_uri: str
    pg_host: str
    pg_port: int
    pg_user: str
    pg_password: str
    pg_dbname: str
    cipher_key: str

    def pg_conninfo(self, dbname: str | None = None) -> str:
        return make_conninfo(host=self.pg_host, port=self.pg_port, user=self.pg_user,
                             password=self.pg_password or None, dbname=dbname or self.pg_dbname)

    def eventsourcing_env(self) -> dict[str, str]:
        """The event store's settings. Only processes that open an event store (the services,
        their relays, set-up) need the key; the projection and reporting never get it."""
        if not self.cipher_key:
            raise ConfigurationError(
                "CIPHER_KEY is not set. Generate one with `python -m shared.keys` and export it "
                "(make run keeps one in .env.local); every process that opens an event store "
                "needs the same key.")
        return {"POSTGRES_HOST": self.pg_host, "POSTGRES_PORT": str(self.pg_port),
                "POSTGRES_USER": self.pg_user, "POSTGRES_PASSWORD": self.pg_password,
                "POSTGRES_DBNAME": self.pg_dbname, "CIPHER_KEY": self.cipher_key}


def settings(environ=None) -> Settings:
    env = os.environ if environ is None else environ
    return Settings(
        amqp_uri=env.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"),
        pg_host=env.get("POSTGRES_HOST", "127.0.0.1"),
        pg_port=int(env.get("POSTGRES_PORT", "5432")),
        pg_user=env.get("POSTGRES_USER", "postgres"),
        pg_password=env.get("POSTGRES_PASSWORD", ""),
        pg_dbname=env.get("POSTGRES_DBNAME", "civil_affairs"),
        cipher_key=env.get("CIPHER_KEY", ""),
    )


def service_url(service: str, environ=None) -> str:
    """Where a service's HTTP interface listens, e.g. SOCIAL_ASSISTANCE_URL."""
    env = os.environ if environ is None else environ
    value = env.get(f"{service.upper()}_URL")
    if not value:
        raise ConfigurationError(f"{service.upper()}_URL is not set: point it at the {service} "
                                 "service's HTTP address, e.g. http://127.0.0.1:8001")
    return value.rstrip("/")


__all__ = ["Settings", "settings", "service_url", "ConfigurationError", "InvalidInput"]
