"""Composition support: what a domain (one line of the bureau's work) declares about itself, once.

Each domain package (`services/<name>/`) defines `DOMAIN = Domain.in_package(__name__, ...)` in
its `__init__.py`: its parts are the modules of the usual names found in its folder (readmodel,
report, demo, commands, service), named by import path, so that declaring a domain imports
nothing heavy. The list of
registered domains is `services/registry.py` (one entry per domain); every generic runner takes it
from `registered()`: set-up, the relay (`python -m shared.relay <domain>`), the projection,
reporting, the demo, the deployment renderer, the fault suite and the test fixtures.

`PLATFORM_EXTRA_DOMAINS` (comma-separated package names) adds domains for one run, so that a
test can register a domain of its own and every process it starts picks it up.
No framework here.
"""
from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

REGISTRY_MODULE = "services.registry"
EXTRA_ENV = "PLATFORM_EXTRA_DOMAINS"
SERVICE_PORT = 8000   # every service's HTTP interface, inside a container
RELAY_PORT = 9100     # every relay's /metrics, inside a container
PARTS = ("readmodel", "report", "demo", "commands", "service")


@dataclass(frozen=True)
class Domain:
    """A domain's parts, by import path ("package.module" or "package.module:attribute")."""
    name: str                 # event-store schema, exchange `<name>.events`, Nameko service, CloudEvent source
    title: str                # in English, for people
    package: str              # e.g. "services.welfare"
    application: str          # the eventsourcing Application class
    readmodel: str            # tables, views, handlers (no eventsourcing, no Nameko)
    report: str | None = None         # the report section (no eventsourcing, no Nameko)
    demo: str | None = None           # the demo scenario
    commands: str | None = None       # typed command and query declarations
    service: str | None = None        # the Nameko service module (`nameko run <service>`)
    prepare: str | None = None        # an application method `shared.setup` calls once, idempotent
    http_port: int = 0        # where `make run` puts the service's HTTP on this host
    relay_port: int = 0       # where `make run` puts the relay's /metrics on this host

    @property
    def folder(self) -> Path:
        return Path(importlib.import_module(self.package).__file__).resolve().parent

    @property
    def schema_dir(self) -> Path:
        """The JSON Schemas of the domain's events (package data)."""
        return self.folder / "schemas"

    @property
    def reference_dir(self) -> Path:
        """The domain's own reference data files (package data)."""
        return self.folder / "reference"

    @property
    def slug(self) -> str:
        """The name in deployment objects: `social-assistance`."""
        return self.name.replace("_", "-")

    def load(self, part: str):
        """The module (or `module:attribute`) a part names, imported now."""
        path = getattr(self, part)
        if path is None:
            raise LookupError(f"domain {self.name} declares no {part}")
        module, _, attribute = path.partition(":")
        loaded = importlib.import_module(module)
        return getattr(loaded, attribute) if attribute else loaded

    @classmethod
    def in_package(cls, package: str, *, application: str, title: str, http_port: int,
                   relay_port: int, prepare: str | None = None, name: str | None = None,
                   **parts) -> "Domain":
        """The usual declaration: named after the package (unless `name`), the application class of its
        `application.py`, and each part whose module (`<part>.py`) is in the folder."""
        folder = Path(sys.modules[package].__file__).resolve().parent
        found = {part: f"{package}.{part}" for part in PARTS if (folder / f"{part}.py").is_file()}
        if "readmodel" not in {**found, **parts}:
            raise RegistryError(f"{package} has no readmodel.py: every domain has a read model")
        return cls(name=name or package.rsplit(".", 1)[-1], title=title, package=package,
                   application=f"{package}.application:{application}", prepare=prepare,
                   http_port=http_port, relay_port=relay_port, **{**found, **parts})

    def build_application(self, env=None):
        """A new instance of the domain's application (opens its event store)."""
        return self.load("application")(env)

    def prepared_application(self):
        """The application of a service process: built, and its `prepare` step run (idempotent)."""
        app = self.build_application()
        if self.prepare:
            getattr(app, self.prepare)()
        return app


class RegistryError(RuntimeError):
    """The registry is inconsistent; the message names the domain and what to fix."""


def _packages() -> list[str]:
    packages = list(importlib.import_module(REGISTRY_MODULE).PACKAGES)
    extra = [p.strip() for p in os.environ.get(EXTRA_ENV, "").split(",") if p.strip()]
    return packages + [p for p in extra if p not in packages]


@lru_cache(maxsize=8)
def _load(packages: tuple[str, ...]) -> tuple[Domain, ...]:
    found: list[Domain] = []
    for package in packages:
        domain = getattr(importlib.import_module(package), "DOMAIN", None)
        if not isinstance(domain, Domain):
            raise RegistryError(f"{package} is registered but defines no DOMAIN = Domain(...) "
                                "in its __init__.py")
        if any(d.name == domain.name for d in found):
            raise RegistryError(f"two registered packages declare the domain {domain.name!r}")
        found.append(domain)
    return tuple(found)


def registered() -> tuple[Domain, ...]:
    """Every registered domain, in registry order."""
    return _load(tuple(_packages()))


def names() -> tuple[str, ...]:
    return tuple(d.name for d in registered())


def get(name: str) -> Domain:
    for domain in registered():
        if domain.name == name:
            return domain
    raise RegistryError(f"no registered domain {name!r}; registered: {', '.join(names())} "
                        f"({REGISTRY_MODULE}.PACKAGES, {EXTRA_ENV})")


def with_part(part: str) -> tuple[Domain, ...]:
    """The registered domains that declare a part (e.g. a report section or a demo)."""
    return tuple(d for d in registered() if getattr(d, part) is not None)
