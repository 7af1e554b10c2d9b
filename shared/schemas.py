"""Interface layer: validation of published events against the platform's contract.

Each event type of a service has one JSON Schema (draft 2020-12) per contract version in
services/<service>/schemas/<Type>.v<N>.json (package data), describing the CloudEvent's `data`. `validate()` checks
the CloudEvents envelope the way `shared.contract` builds it and then `data` against the schema
its `dataschema` names; anything wrong raises `SchemaViolation` naming the event type, the
failing path and the rule broken.
Event types every domain may store (shared/audit.py: `DisclosureRecorded`) have one schema in
shared/schemas/ under the source name `platform`; a domain's events of such a type are checked
against it (its `$id` read as the domain's own).
"""
from __future__ import annotations

import copy
import json
import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from cloudevents.core.v1.event import CloudEvent
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError, ValidationError, best_match

from shared import contract, domains

SPECVERSION = "1.0"
DATA_CONTENT_TYPE = "application/json"
SEQUENCE = re.compile(rf"^\d{{{contract.SEQUENCE_DIGITS}}}$")
TRACEPARENT = re.compile(r"^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
SOURCE = re.compile(r"^urn:zhonglou-civil-affairs:([a-z][a-z0-9_]*)$")
DATASCHEMA = re.compile(r"^urn:zhonglou-civil-affairs:schema:([a-z][a-z0-9_]*):([A-Za-z0-9]+):v(\d+)$")
SCHEMA_FILE = re.compile(r"^([A-Za-z0-9]+)\.v(\d+)\.json$")
_FORMATS = FormatChecker()


class SchemaViolation(ValueError):
    """A published event breaks the contract. `path` is where ('data.members[0].id_number',
    'dataschema', ...), `rule` what it broke."""

    def __init__(self, event_type: str | None, path: str, rule: str,
                 errors: list[str] | None = None):
        self.event_type = event_type or "<unknown type>"
        self.path = path
        self.rule = rule
        self.errors = errors or [f"{path}: {rule}"]  # every failure found, not only the first
        super().__init__(f"{self.event_type}: {path}: {rule}")

    def as_dict(self) -> dict:
        return {"error": type(self).__name__, "type": self.event_type, "path": self.path,
                "rule": self.rule}


class UnknownSchema(SchemaViolation):
    """No schema file exists for this service, type and version."""


def load(service: str, event_type: str, version: int = 1) -> dict:
    """The JSON Schema of an event type's `data` (a copy: the cached one stays intact)."""
    return copy.deepcopy(_load(service, event_type, version))


PLATFORM = "platform"
PLATFORM_DIR = Path(__file__).resolve().parent / "schemas"


def platform_types(version: int = 1) -> frozenset[str]:
    """Event types any domain may store, with their one schema in shared/schemas/."""
    return frozenset(m.group(1) for p in PLATFORM_DIR.glob("*.json")
                     if (m := SCHEMA_FILE.match(p.name)) and int(m.group(2)) == version)


def _read(path: Path, urn: str) -> dict:
    schema = json.loads(path.read_text(encoding="utf-8"))
    if schema.get("$id") != urn:
        raise SchemaError(f"{path}: $id is {schema.get('$id')!r}, expected {urn!r}")
    Draft202012Validator.check_schema(schema)
    return schema


@lru_cache(maxsize=None)
def _load(service: str, event_type: str, version: int) -> dict:
    try:
        path = contract.schema_path(service, event_type, version)
    except domains.RegistryError:
        raise UnknownSchema(event_type, "source", f"{service} is not a registered domain") from None
    expected = contract.schema_urn(service, event_type, version)
    if path.is_file():
        return _read(path, expected)
    shared_path = PLATFORM_DIR / path.name
    if shared_path.is_file():
        schema = _read(shared_path, contract.schema_urn(PLATFORM, event_type, version))
        return {**schema, "$id": expected}
    raise UnknownSchema(event_type, "type",
                        f"no schema v{version} for {service} events of this type "
                        f"(expected {path.parent.name}/{path.name} in the {service} package)")


@lru_cache(maxsize=None)
def validator(service: str, event_type: str, version: int = 1) -> Draft202012Validator:
    return Draft202012Validator(_load(service, event_type, version), format_checker=_FORMATS)


def known_types(service: str, version: int | None = None) -> frozenset[str]:
    """Event types with a schema file for the service (of one contract version, if given)."""
    try:
        folder = contract.schema_dir(service)
    except domains.RegistryError:
        return frozenset()
    if not folder.is_dir():
        return frozenset()
    found = set()
    for path in folder.iterdir():
        match = SCHEMA_FILE.match(path.name)
        if match and (version is None or int(match.group(2)) == version):
            found.add(match.group(1))
    return frozenset(found)


def _as_dict(event: CloudEvent | dict | bytes | str) -> dict:
    if isinstance(event, CloudEvent):
        return contract.as_dict(event)
    if isinstance(event, (bytes, str)):
        try:
            event = json.loads(event)
        except ValueError as error:
            raise SchemaViolation(None, "$", f"is not JSON ({error})") from None
    if not isinstance(event, dict):
        raise SchemaViolation(None, "$", "must be a CloudEvent (structured mode JSON object)")
    return event


def _json_path(error: ValidationError) -> str:
    path = "data"
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _rule(error: ValidationError) -> str:
    keyword = error.validator
    if keyword == "additionalProperties" and isinstance(error.instance, dict):
        allowed = error.schema.get("properties", {})
        extra = sorted(k for k in error.instance if k not in allowed)
        return f"additionalProperties: unexpected field(s) {', '.join(extra)}"
    return f"{keyword}: {error.message}"


def check_envelope(event: dict) -> tuple[str, str, int]:
    """Check the CloudEvents attributes; returns (service, type, contract version)."""
    event_type = event.get("type") if isinstance(event.get("type"), str) else None

    def fail(path: str, rule: str):
        raise SchemaViolation(event_type, path, rule)

    if event.get("specversion") != SPECVERSION:
        fail("specversion", f"must be {SPECVERSION!r}")
    for name in ("id", "source", "type", "subject", "time"):
        if not isinstance(event.get(name), str) or not event[name]:
            fail(name, "required: must be a non-empty string")
    source = SOURCE.match(event["source"])
    if not source:
        fail("source", "must be urn:zhonglou-civil-affairs:<service>")
    service = source.group(1)
    try:
        if not TIMESTAMP.match(event["time"]):
            raise ValueError(event["time"])
        datetime.fromisoformat(event["time"])
    except ValueError:
        fail("time", "must be an RFC 3339 timestamp with a time zone")
    if event.get("datacontenttype") != DATA_CONTENT_TYPE:
        fail("datacontenttype", f"must be {DATA_CONTENT_TYPE!r}")
    schema_ref = DATASCHEMA.match(event.get("dataschema") or "")
    if not schema_ref:
        fail("dataschema", "must be urn:zhonglou-civil-affairs:schema:<service>:<Type>:v<N>")
    version = int(schema_ref.group(3))
    expected = contract.schema_urn(service, event_type, version)
    if event["dataschema"] != expected:
        fail("dataschema", f"must name this source's service and this type: {expected!r}")
    if not isinstance(event.get("sequence"), str) or not SEQUENCE.match(event["sequence"]):
        fail("sequence", f"must be the notification id as a {contract.SEQUENCE_DIGITS}-digit "
                         "zero-padded string")
    if "traceparent" in event and not (isinstance(event["traceparent"], str)
                                       and TRACEPARENT.match(event["traceparent"])):
        fail("traceparent", "must be a W3C trace context: 00-<32 hex trace id>-<16 hex span id>-<2 hex flags>")
    if "data_base64" in event:
        fail("data_base64", "data must be JSON, not base64")
    if not isinstance(event.get("data"), dict):
        fail("data", "required: must be a JSON object")
    if event["data"].get("aggregate_id") != event["subject"]:
        fail("subject", "must equal data.aggregate_id")
    return service, event_type, version


def validate(event: CloudEvent | dict | bytes | str) -> dict:
    """Check a published event (CloudEvent, its structured-mode dict, or JSON text) against the
    contract; returns the event as a dict, or raises SchemaViolation."""
    event = _as_dict(event)
    service, event_type, version = check_envelope(event)
    errors = list(validator(service, event_type, version).iter_errors(event["data"]))
    if errors:
        error = best_match(errors)
        raise SchemaViolation(event_type, _json_path(error), _rule(error),
                              sorted(f"{_json_path(e)}: {_rule(e)}" for e in errors))
    return event


def is_valid(event: Any) -> bool:
    try:
        validate(event)
    except SchemaViolation:
        return False
    return True


__all__ = ["SchemaViolation", "UnknownSchema", "load", "validator", "known_types", "platform_types", "validate",
           "is_valid", "check_envelope"]
