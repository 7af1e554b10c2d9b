"""Domain layer: the typed errors every service raises for bad input and conflicts.

Each error names the field, the rule it broke (an English sentence, for people) and the rule's
`code`: a stable machine-readable identifier `<prefix>.<rule_name>` such as `dibao.maker_checker`
(prefixes: `dibao`, `relief`, `welfare`, `affairs` (social affairs), `input`, `identity`, `money`, `feed`, `report`, `store`).
A code names a rule, never a value, and never changes once published; programs (and tests) test
the code, not the English. Every raise site passes `code=` (tests/unit/test_error_codes.py checks
that, and that docs/errors.md lists every code).
The classes are registered with Nameko's remote-error registry under a stable path, so an RPC
caller gets the same type back (`shared.errors.InvalidInput`, not a generic RemoteError), with
field, rule and code intact: Nameko rebuilds the error as `cls(*exc.args)`, so `args` is
`(field, rule, message, code)`, the order of the constructor's parameters.
Importing nameko here is deliberately avoided: registration lives in `shared.nameko_support`.
"""
from __future__ import annotations


class DomainError(Exception):
    """Base of every expected, user-facing error. Nothing is stored when one is raised."""

    def __init__(self, field: str, rule: str, message: str | None = None, code: str | None = None):
        self.field = field
        self.rule = rule
        self.message = message or f"{field}: {rule}"
        self.code = code
        # No trailing None: Nameko would serialise it as the string "None".
        super().__init__(field, rule, self.message, *(() if code is None else (code,)))

    def __str__(self) -> str:
        return self.message

    def as_dict(self) -> dict:
        return {"error": type(self).__name__, "code": self.code, "field": self.field,
                "rule": self.rule, "message": self.message}


class InvalidInput(DomainError):
    """The command's input breaks a rule (bad check digit, negative income, unknown area...)."""


class NotFound(DomainError):
    """The command names something that does not exist."""


class Conflict(DomainError):
    """The command conflicts with the current state (a person already in an active case,
    approval by the verifier, a concurrent change that won the race...)."""


class ServiceUnavailable(DomainError):
    """Something the command needs (another service, the broker) did not answer or is not
    configured: nothing was changed, and the same command may succeed later. HTTP 503 with
    `Retry-After`; the rule says what to do (retry, or fix the setting it names)."""


ALL = (DomainError, InvalidInput, NotFound, Conflict, ServiceUnavailable)
