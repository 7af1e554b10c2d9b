"""Domain layer: the typed errors every service raises for bad input and conflicts.

Each error names the field and the rule it broke. The classes are registered with Nameko's
remote-error registry under a stable path, so an RPC caller gets the same type back
(`shared.errors.InvalidInput`, not a generic RemoteError), with field and rule intact.
Importing nameko here is deliberately avoided: registration lives in `shared.nameko_support`.
"""
from __future__ import annotations


class DomainError(Exception):
    """Base of every expected, user-facing error. Nothing is stored when one is raised."""

    def __init__(self, field: str, rule: str, message: str | None = None, *, code: str | None = None):
        self.field = field
        self.rule = rule
        self.code = code
        self.message = message or f"{field}: {rule}"
        super().__init__(field, rule, self.message)

    def __str__(self) -> str:
        return self.message

    def as_dict(self) -> dict:
        return {"error": type(self).__name__, "field": self.field, "rule": self.rule,
                "code": self.code, "message": self.message}


class InvalidInput(DomainError):
    """The command's input breaks a rule (bad check digit, negative income, unknown area...)."""


class NotFound(DomainError):
    """The command names something that does not exist."""


class Conflict(DomainError):
    """The command conflicts with the current state (a person already in an active case,
    approval by the verifier, a concurrent change that won the race...)."""


ALL = (DomainError, InvalidInput, NotFound, Conflict)
