"""Routes built from every registered domain's command declarations, and those of the
platform's other services (`SERVICES`: reporting), never by hand.

The path rule (docs/gateway.md), deterministic:
1. prefix `/<domain slug>` (`social_assistance` → `/social-assistance`);
2. each *required* argument named `<thing>_id` of type `Uuid`, in declared order, adds
   `/<things>/{<thing>_id}` (`<thing>` in kebab case, plural by adding "s");
3. then the command's own segment, the name in kebab case, except:
   `get_<thing>` whose last path id is `<thing>_id` adds nothing (`GET /cases/{case_id}`),
   other `get_<x>` add `/<x>`; `register_<thing>` with no path ids is the collection,
   `/<things>` (`POST /social-assistance/households`);
4. kind "command" → POST, "query" → GET.
A declaration with an explicit `path` (e.g. reporting's `/audit`, `/reports/district`) keeps it:
the rule would give `/reporting/audit`. Its `{name}` segments are its path arguments.
A list query (`lists=True`) takes two more query parameters, the gateway's own: `limit` (1..200,
default 50) and `cursor` (services/gateway/paging.py); the declaration may not use those names.
Ids are in the path; a command's other arguments are a JSON object body, a query's are query
parameters. The argument `officer` (the acting officer) is never public: the gateway fills it
with the token's `sub`.
No web framework here.
"""
from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field

from shared import audit, domains
from shared.commands import QUERY, Command, Uuid

OFFICER = "officer"
REVEAL_REASON = "reveal_reason"     # the gateway's own query parameter of revealing queries
# Services that are not registered domains but declare commands for the gateway (their module
# has SERVICE, the Nameko service's name, and COMMANDS).
SERVICES = ("services.reporting.commands", "services.subscriptions.commands")
PAGE_ARGS = ("limit", "cursor")
_PATH_ARG = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


@dataclass(frozen=True)
class Service:
    """A service declaring commands without being a domain: what `route_for` needs of it."""
    name: str
    commands: tuple

    @property
    def slug(self) -> str:
        return self.name.replace("_", "-")


def platform_services() -> list[Service]:
    found = []
    for module in SERVICES:
        loaded = importlib.import_module(module)
        found.append(Service(loaded.SERVICE, tuple(loaded.COMMANDS)))
    return found


def _kebab(name: str) -> str:
    return name.replace("_", "-")


def _plural(thing: str) -> str:
    return thing + "s"


@dataclass(frozen=True)
class Route:
    domain: str
    command: Command
    method: str
    path: str
    path_args: tuple[str, ...]
    public_args: tuple = field(default=())     # the Args a client gives (body or query)

    @property
    def operation_id(self) -> str:
        return f"{self.domain}.{self.command.name}"

    @property
    def reveals(self) -> bool:
        """A query that can show identity numbers unmasked (then `reveal_reason` is asked)."""
        return any(a.name == audit.REVEAL for a in self.command.args)

    @property
    def pages(self) -> bool:
        """A list: filtered by the caller's areas and paged by the gateway."""
        return self.command.lists

    @property
    def fills_officer(self) -> bool:
        return any(a.name == OFFICER for a in self.command.args)

    def body_schema(self) -> dict:
        """The declaration's schema (`Command.schema()`) without the path ids and `officer`."""
        schema = self.command.schema()
        hidden = set(self.path_args) | {OFFICER}
        return {**schema,
                "properties": {k: v for k, v in schema["properties"].items() if k not in hidden},
                "required": [k for k in schema["required"] if k not in hidden]}


def path_ids(command: Command) -> tuple[str, ...]:
    return tuple(a.name for a in command.args
                 if a.required and a.name.endswith("_id") and isinstance(a.type, Uuid))


def route_for(domain, command: Command) -> Route:
    if command.path is not None:
        return _explicit_route(domain, command)
    ids = path_ids(command)
    path = "/" + domain.slug
    for name in ids:
        path += f"/{_plural(_kebab(name[:-3]))}/{{{name}}}"
    name = command.name
    if name.startswith("get_"):
        thing = name[4:]
        if not (ids and ids[-1] == f"{thing}_id"):
            path += "/" + _kebab(thing)
    elif name.startswith("register_") and not ids:
        path += "/" + _plural(_kebab(name[len("register_"):]))
    else:
        path += "/" + _kebab(name)
    public = tuple(a for a in command.args if a.name not in ids and a.name != OFFICER)
    return Route(domain.name, command, "GET" if command.kind == QUERY else "POST", path, ids, public)


def _explicit_route(domain, command: Command) -> Route:
    ids = tuple(_PATH_ARG.findall(command.path))
    names = {a.name for a in command.args}
    if not set(ids) <= names:
        raise ValueError(f"{domain.name}.{command.name}: its path names no argument "
                         f"{sorted(set(ids) - names)}")
    public = tuple(a for a in command.args if a.name not in ids and a.name != OFFICER)
    return Route(domain.name, command, "GET" if command.kind == QUERY else "POST", command.path,
                 ids, public)


def _declared(registered, services):
    """(domain or service, command) pairs: the registered domains', then the services'."""
    registered = domains.with_part("commands") if registered is None else registered
    services = platform_services() if services is None else services
    for domain in registered:
        for command in domain.load("commands").COMMANDS:
            yield domain, command
    for service in services:
        for command in service.commands:
            yield service, command


def build(registered=None, services=None) -> list[Route]:
    """Every registered domain's commands and every service's (`SERVICES`), one route each;
    refuses two on one method and path, and a list declaring an argument named like a page
    parameter."""
    routes, seen = [], {}
    for domain, command in _declared(registered, services):
        if command.lists and {a.name for a in command.args} & set(PAGE_ARGS):
            raise ValueError(f"{domain.name}.{command.name}: a list may not declare "
                             f"{', '.join(PAGE_ARGS)}: the gateway pages lists")
        route = route_for(domain, command)
        key = (route.method, route.path)
        if key in seen:
            raise ValueError(f"{route.operation_id} and {seen[key]} map to {route.method} {route.path}")
        seen[key] = route.operation_id
        routes.append(route)
    return routes


_INTEGER = re.compile(r"^[+-]?\d{1,20}$")


def _json_type(schema: dict):
    if "anyOf" in schema:
        for option in schema["anyOf"]:
            if option.get("type") != "null":
                return _json_type(option)
    return schema.get("type")


def from_query_string(arg, raw: str):
    """A query parameter's text as the value its declared type checks: whole numbers and
    true/false are converted, everything else stays text (the type's check refuses bad text)."""
    kind = _json_type(arg.type.schema())
    if kind == "integer" and _INTEGER.match(raw.strip()):
        return int(raw)
    if kind == "boolean" and raw.lower() in ("true", "false", "1", "0"):
        return raw.lower() in ("true", "1")
    return raw          # "" too: an empty value is not an absent one (the type refuses it)
