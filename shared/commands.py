"""Domain-layer support: a domain's commands and queries, declared once, every argument bounded.

Each domain lists its RPC methods in `services/<domain>/commands.py` as `COMMANDS = (Command(...),
...)`: the name, the arguments in order with their types and defaults, whether it changes state
(`kind="command"`) or only reads (`kind="query"`), the department role allowed to call it, which
argument locates the area it acts in, and the application method it calls. The Nameko service
is generated from that (`shared.nameko_support.domain_service`), and the HTTP gateway builds its
routes and OpenAPI document from it (`Command.schema()`).

Every argument type bounds its values (text length, counts, amounts to the fen under a ceiling,
dates in a sane range) and `check(field, value)` returns the normalised value or raises
`InvalidInput(field, rule, code="input.<rule>")`. Codes are stable; the English is for people.
The declaration checks shape and bounds; business rules (check digits, known areas, a free order
costs 0 ...) stay in the domain. No framework here (only the standard library).
"""
from __future__ import annotations

import functools
import inspect
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from shared.errors import InvalidInput

# Stable error codes of the declaration (callers and the gateway match on these, never on English).
REQUIRED = "input.required"
UNKNOWN_FIELD = "input.unknown_field"
TOO_MANY_ARGUMENTS = "input.too_many_arguments"
NOT_TEXT = "input.not_text"
TOO_LONG = "input.too_long"
TOO_SHORT = "input.too_short"
BAD_FORMAT = "input.bad_format"
CONTROL_CHARACTER = "input.control_character"
NOT_ONE_OF = "input.not_one_of"
NOT_A_WHOLE_NUMBER = "input.not_a_whole_number"
NOT_A_NUMBER = "input.not_a_number"
TOO_MANY_DECIMALS = "input.too_many_decimals"
ABOVE_CEILING = "input.above_ceiling"
BELOW_MINIMUM = "input.below_minimum"
NOT_A_DATE = "input.not_a_date"
NOT_A_DATETIME = "input.not_a_datetime"
NOT_A_MONTH = "input.not_a_month"
DATE_OUT_OF_RANGE = "input.date_out_of_range"
NOT_A_BOOLEAN = "input.not_a_boolean"
NOT_A_UUID = "input.not_a_uuid"
NOT_AN_ID_NUMBER = "input.not_an_id_number"
NOT_A_LIST = "input.not_a_list"
TOO_MANY_ITEMS = "input.too_many_items"
TOO_FEW_ITEMS = "input.too_few_items"
NOT_AN_OBJECT = "input.not_an_object"

EARLIEST_DATE, LATEST_DATE = date(1900, 1, 1), date(2100, 12, 31)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")      # tab, newline, CR are allowed
_CONTROL_ONE_LINE = re.compile(r"[\x00-\x1f\x7f]")
_PLAIN_DECIMAL = re.compile(r"^[+-]?\d+(\.\d+)?$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_ID_NUMBER = re.compile(r"^\d{17}[\dXx]$")
_MAX_NUMBER_TEXT = 100  # characters of an amount written as text (more is never a real amount)
ABSOLUTE_CEILING = 10 ** 15  # yuan: no amount of the bureau's comes near; keeps Decimal exact


def _refuse(field_name: str, rule: str, code: str):
    raise InvalidInput(field_name, rule, code=code)


class ArgType:
    """An argument type: `check(field, value)` normalises or raises InvalidInput with a code."""

    def check(self, field_name: str, value):  # pragma: no cover - every type overrides
        raise NotImplementedError

    def schema(self) -> dict:
        """The JSON Schema of the type (for the gateway's OpenAPI document)."""
        raise NotImplementedError

    def unbounded(self) -> list[str]:
        """What this type leaves unbounded (empty: every value it accepts is bounded)."""
        return []


@dataclass(frozen=True)
class Text(ArgType):
    """Text of at most `max_length` characters (after stripping surrounding whitespace), at
    least `min_length`; `pattern` (a regex the whole text must match) optional. Control
    characters are refused (`multiline` allows newlines and tabs)."""
    max_length: int | None
    min_length: int = 0
    pattern: str | None = None
    multiline: bool = False
    strip: bool = True

    def check(self, field_name, value):
        if not isinstance(value, str):
            _refuse(field_name, "must be text", NOT_TEXT)
        text = value.strip() if self.strip else value
        if self.max_length is not None and len(text) > self.max_length:
            _refuse(field_name, f"must be at most {self.max_length} characters", TOO_LONG)
        if len(text) < self.min_length:
            _refuse(field_name, "must not be empty" if self.min_length == 1
                    else f"must be at least {self.min_length} characters", TOO_SHORT)
        if (_CONTROL if self.multiline else _CONTROL_ONE_LINE).search(text):
            _refuse(field_name, "must not contain control characters", CONTROL_CHARACTER)
        if self.pattern is not None and not re.fullmatch(self.pattern, text):
            _refuse(field_name, f"must match {self.pattern}", BAD_FORMAT)
        return text

    def schema(self):
        out = {"type": "string", "minLength": self.min_length}
        if self.max_length is not None:
            out["maxLength"] = self.max_length
        if self.pattern is not None:
            out["pattern"] = self.pattern
        return out

    def unbounded(self):
        return [] if self.max_length is not None else ["max_length"]


@dataclass(frozen=True)
class Choice(ArgType):
    """One of a fixed set of values (declared in code: for sets kept in reference data, use a
    bounded Text and let the domain check it against the data)."""
    values: tuple

    def check(self, field_name, value):
        if isinstance(value, bool) or value not in self.values:
            _refuse(field_name, "must be one of: " + ", ".join(map(str, self.values)), NOT_ONE_OF)
        return value

    def schema(self):
        return {"enum": list(self.values)}


@dataclass(frozen=True)
class Integer(ArgType):
    """A whole number (not a bool, not a float) from `minimum` to `maximum`."""
    minimum: int | None
    maximum: int | None

    def check(self, field_name, value):
        if isinstance(value, bool) or not isinstance(value, int):
            _refuse(field_name, "must be a whole number", NOT_A_WHOLE_NUMBER)
        if self.minimum is not None and value < self.minimum:
            _refuse(field_name, f"must be at least {self.minimum}", BELOW_MINIMUM)
        if self.maximum is not None and value > self.maximum:
            _refuse(field_name, f"must be at most {self.maximum}", ABOVE_CEILING)
        return value

    def schema(self):
        out = {"type": "integer"}
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        return out

    def unbounded(self):
        return [name for name in ("minimum", "maximum") if getattr(self, name) is None]


def Year(minimum: int = 1949, maximum: int = 2100) -> Integer:  # noqa: N802 (a type, as the others)
    """A calendar year (the People's Republic's records start in 1949)."""
    return Integer(minimum, maximum)


@dataclass(frozen=True)
class Amount(ArgType):
    """Yuan to the fen: a decimal string ("1234.56") or an integer; a float only when its
    shortest decimal form has at most 2 decimals (12.5, not 0.1 + 0.2). At most `ceiling`, at
    least `minimum`. Scientific notation, NaN and Infinity are refused. Returns the amount as a
    string with 2 decimals ("1234.50"), which `shared.money.yuan` reads exactly."""
    ceiling: Decimal | int | str | None
    minimum: Decimal | int | str = 0

    def check(self, field_name, value):
        if isinstance(value, bool):
            _refuse(field_name, "must be an amount in yuan, not true/false", NOT_A_NUMBER)
        if isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                _refuse(field_name, "must be a finite amount in yuan", NOT_A_NUMBER)
            text = repr(value)
            if "e" in text or "E" in text:
                _refuse(field_name, "must be an amount written without an exponent", NOT_A_NUMBER)
        elif isinstance(value, int):
            text = str(value)
        elif isinstance(value, (str, Decimal)):
            text = str(value).strip()
        else:
            _refuse(field_name, "must be an amount in yuan (a decimal string)", NOT_A_NUMBER)
        if len(text) > _MAX_NUMBER_TEXT:
            _refuse(field_name, f"must be at most {_MAX_NUMBER_TEXT} characters", TOO_LONG)
        if not _PLAIN_DECIMAL.match(text):
            _refuse(field_name, "must be a decimal amount in yuan, like 1234.56", NOT_A_NUMBER)
        amount = Decimal(text)   # plain notation: always exact; comparisons are exact too
        if amount > self._ceiling():
            _refuse(field_name, f"must be at most {self._ceiling()} yuan", ABOVE_CEILING)
        if amount < Decimal(str(self.minimum)):
            _refuse(field_name, f"must be at least {self.minimum} yuan", BELOW_MINIMUM)
        # within the ceiling, quantizing to the fen is exact arithmetic (no InvalidOperation)
        if amount != amount.quantize(Decimal("0.01")):
            _refuse(field_name, "must be given to the fen (at most 2 decimal places)", TOO_MANY_DECIMALS)
        return str(amount.quantize(Decimal("0.01")))

    def _ceiling(self) -> Decimal:
        return Decimal(str(self.ceiling if self.ceiling is not None else ABSOLUTE_CEILING))

    def schema(self):
        pattern = r"^-?\d+(\.\d{1,2})?$" if Decimal(str(self.minimum)) < 0 else r"^\d+(\.\d{1,2})?$"
        out = {"type": ["string", "integer"], "pattern": pattern,
               "x-minimum": str(Decimal(str(self.minimum)).quantize(Decimal("0.01"))),
               "maxLength": _MAX_NUMBER_TEXT}
        if self.ceiling is not None:
            out["x-ceiling"] = str(self._ceiling().quantize(Decimal("0.01")))
        return out

    def unbounded(self):
        return [] if self.ceiling is not None else ["ceiling"]


def _date_in_range(field_name: str, day: date, earliest: date, latest: date) -> None:
    if not earliest <= day <= latest:
        _refuse(field_name, f"must be from {earliest.isoformat()} to {latest.isoformat()}",
                DATE_OUT_OF_RANGE)


@dataclass(frozen=True)
class Date(ArgType):
    """A date written YYYY-MM-DD, from `earliest` to `latest`. Returns it as written (ISO)."""
    earliest: date = EARLIEST_DATE
    latest: date = LATEST_DATE

    def check(self, field_name, value):
        if not isinstance(value, str) or len(value) != 10:
            _refuse(field_name, "must be a date written YYYY-MM-DD", NOT_A_DATE)
        try:
            day = date.fromisoformat(value)
        except ValueError:
            _refuse(field_name, "must be a date written YYYY-MM-DD", NOT_A_DATE)
        _date_in_range(field_name, day, self.earliest, self.latest)
        return day.isoformat()

    def schema(self):
        return {"type": "string", "format": "date", "maxLength": 10,
                "x-earliest": self.earliest.isoformat(), "x-latest": self.latest.isoformat()}


@dataclass(frozen=True)
class DateTime(ArgType):
    """A date and time, ISO 8601 (YYYY-MM-DDTHH:MM[:SS][+08:00]); its date from `earliest` to
    `latest`. Returns it as written (the domain decides what a missing offset means)."""
    earliest: date = EARLIEST_DATE
    latest: date = LATEST_DATE

    def check(self, field_name, value):
        rule = "must be a date and time written YYYY-MM-DDTHH:MM[:SS][+08:00]"
        if not isinstance(value, str) or not 16 <= len(value) <= 32:
            _refuse(field_name, rule, NOT_A_DATETIME)
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            _refuse(field_name, rule, NOT_A_DATETIME)
        _date_in_range(field_name, moment.date(), self.earliest, self.latest)
        return value

    def schema(self):
        return {"type": "string", "format": "date-time", "maxLength": 32}


@dataclass(frozen=True)
class Month(ArgType):
    """A month written YYYY-MM, from `earliest` to `latest` (both YYYY-MM)."""
    earliest: str = "1949-01"
    latest: str = "2100-12"

    def check(self, field_name, value):
        match = _MONTH.match(value) if isinstance(value, str) else None
        if match is None or not 1 <= int(match.group(2)) <= 12:
            _refuse(field_name, "must be a month written YYYY-MM", NOT_A_MONTH)
        if not self.earliest <= value <= self.latest:
            _refuse(field_name, f"must be from {self.earliest} to {self.latest}", DATE_OUT_OF_RANGE)
        return value

    def schema(self):
        return {"type": "string", "pattern": r"^\d{4}-(0[1-9]|1[0-2])$", "maxLength": 7}


@dataclass(frozen=True)
class Bool(ArgType):
    """true or false (not 0/1, not "yes")."""

    def check(self, field_name, value):
        if not isinstance(value, bool):
            _refuse(field_name, "must be true or false", NOT_A_BOOLEAN)
        return value

    def schema(self):
        return {"type": "boolean"}


@dataclass(frozen=True)
class Uuid(ArgType):
    """An id issued by the platform (a UUID, as text). Returns its canonical form."""

    def check(self, field_name, value):
        if not isinstance(value, str) or len(value) > 45:
            _refuse(field_name, "must be a UUID", NOT_A_UUID)
        try:
            return str(UUID(value))
        except ValueError:
            _refuse(field_name, "must be a UUID", NOT_A_UUID)

    def schema(self):
        return {"type": "string", "format": "uuid", "maxLength": 36}


@dataclass(frozen=True)
class IdNumber(ArgType):
    """A resident identity number's shape: 17 digits and a digit or X (GB 11643-1999). Its check
    digit, birth date and address code are the domain's business (`shared.identity`)."""

    def check(self, field_name, value):
        if not isinstance(value, str) or not _ID_NUMBER.match(value):
            _refuse(field_name, "must be 18 characters: 17 digits and a check digit or X "
                                "(GB 11643-1999)", NOT_AN_ID_NUMBER)
        return value

    def schema(self):
        return {"type": "string", "pattern": _ID_NUMBER.pattern, "minLength": 18, "maxLength": 18}


@dataclass(frozen=True)
class ListOf(ArgType):
    """A list of `min_items` to `max_items` items, each checked as `item` (`field[i]`)."""
    item: ArgType
    max_items: int | None
    min_items: int = 0

    def check(self, field_name, value):
        if not isinstance(value, (list, tuple)):
            _refuse(field_name, "must be a list", NOT_A_LIST)
        if self.max_items is not None and len(value) > self.max_items:
            _refuse(field_name, f"must list at most {self.max_items}", TOO_MANY_ITEMS)
        if len(value) < self.min_items:
            _refuse(field_name, f"must list at least {self.min_items}", TOO_FEW_ITEMS)
        return [self.item.check(f"{field_name}[{index}]", v) for index, v in enumerate(value)]

    def schema(self):
        out = {"type": "array", "items": self.item.schema(), "minItems": self.min_items}
        if self.max_items is not None:
            out["maxItems"] = self.max_items
        return out

    def unbounded(self):
        return (([] if self.max_items is not None else ["max_items"])
                + [f"item.{what}" for what in self.item.unbounded()])


@dataclass(frozen=True)
class Optional(ArgType):
    """`inner`, or None (absent)."""
    inner: ArgType

    def check(self, field_name, value):
        return None if value is None else self.inner.check(field_name, value)

    def schema(self):
        return {"anyOf": [self.inner.schema(), {"type": "null"}]}

    def unbounded(self):
        return self.inner.unbounded()


_REQUIRED = object()


@dataclass(frozen=True)
class Arg:
    """One argument (or one key of a Record): its name, type, default, one-line doc.
    Without a default it is required; None for an argument with a default means the default."""
    name: str
    type: ArgType
    default: object = _REQUIRED
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def check(self, field_name: str, value):
        if value is None and not self.required:
            return self.default
        if value is None and not isinstance(self.type, Optional):
            _refuse(field_name, "is required", REQUIRED)
        return self.type.check(field_name, value)


@dataclass(frozen=True)
class Record(ArgType):
    """An object with these keys (`Arg`s): required keys must be there, unknown keys are
    refused, each value is checked (`field.key`). Keys left out stay out."""
    fields: tuple[Arg, ...]

    def __init__(self, *fields: Arg):
        object.__setattr__(self, "fields", tuple(fields))

    def check(self, field_name, value):
        if not isinstance(value, dict):
            _refuse(field_name, "must be an object with " + ", ".join(f.name for f in self.fields),
                    NOT_AN_OBJECT)
        known = {f.name: f for f in self.fields}
        for key in value:
            if key not in known:
                _refuse(f"{field_name}.{key}" if isinstance(key, str) else field_name,
                        "is not a field; the fields are " + ", ".join(known), UNKNOWN_FIELD)
        checked = {}
        for name, arg in known.items():
            if name in value:
                checked[name] = arg.check(f"{field_name}.{name}", value[name])
            elif arg.required:
                _refuse(f"{field_name}.{name}", "is required", REQUIRED)
        return checked

    def schema(self):
        return {"type": "object", "additionalProperties": False,
                "properties": {f.name: _described(f) for f in self.fields},
                "required": [f.name for f in self.fields if f.required]}

    def unbounded(self):
        return [f"{f.name}.{what}" for f in self.fields for what in f.type.unbounded()]


def _described(arg: Arg) -> dict:
    out = dict(arg.type.schema())
    if arg.doc:
        out["description"] = arg.doc
    if not arg.required and arg.default is not None:
        out["default"] = arg.default
    return out


COMMAND, QUERY = "command", "query"


@functools.lru_cache(maxsize=None)
def _parameters(cls, method: str) -> tuple[frozenset, frozenset]:
    """(every parameter name, the keyword-only ones) of an application method, once per class
    (inspect.signature on every call was a measurable part of a command's CPU)."""
    parameters = inspect.signature(getattr(cls, method)).parameters
    return (frozenset(parameters),
            frozenset(n for n, p in parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY))


@dataclass(frozen=True)
class Command:
    """One RPC method of a domain, declared once.

    `args`: in the order callers pass them positionally. `kind`: "command" (changes state) or
    "query". `role`: the department role allowed to call it (the domain's vocabulary, e.g.
    `social_assistance.officer`). `area`: the argument that locates the area it acts in (None:
    district-wide); `area_via`: when that argument is an id, the kind of record whose area it is
    (e.g. "case"), None when it holds area codes. `method`: the application method (default the
    name). `path`: the HTTP path, for the few whose path the gateway's rule would make odd (e.g.
    `/audit`), None for the rule's. `lists`: a query answering a list of records that each carry
    `area` or `areas`: the gateway shows only the caller's areas and pages the list. `reveals`:
    the personal-data fields a `reveal_identity=true` answer shows unmasked (what its Disclosure
    records; identity numbers unless the command says otherwise)."""
    name: str
    args: tuple[Arg, ...]
    role: str
    kind: str = COMMAND
    area: str | None = None
    area_via: str | None = None
    method: str | None = None
    doc: str = ""
    path: str | None = None
    lists: bool = False
    reveals: tuple[str, ...] = ("id_number",)
    _index: dict = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        names = [a.name for a in self.args]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: an argument is declared twice")
        if self.kind not in (COMMAND, QUERY):
            raise ValueError(f"{self.name}: kind must be 'command' or 'query'")
        if self.area is not None and self.area not in names:
            raise ValueError(f"{self.name}: area names no argument ({self.area!r})")
        if self.path is not None and not self.path.startswith("/"):
            raise ValueError(f"{self.name}: path must start with / ({self.path!r})")
        if self.lists and self.kind != QUERY:
            raise ValueError(f"{self.name}: only a query lists records")
        seen_default = False
        for arg in self.args:
            if arg.required and seen_default:
                raise ValueError(f"{self.name}: required {arg.name} after an argument with a default")
            seen_default = seen_default or not arg.required
        object.__setattr__(self, "_index", {a.name: a for a in self.args})

    @property
    def application_method(self) -> str:
        return self.method or self.name

    def bind(self, args=(), kwargs=None) -> dict:
        """Map RPC arguments (positional and keyword) onto the declaration and check each:
        the checked values by name, in declared order. Unknown, repeated, surplus or missing
        arguments raise InvalidInput with a code, as do values breaking their type's bounds."""
        kwargs = dict(kwargs or {})
        if len(args) > len(self.args):
            _refuse(self.name, f"takes at most {len(self.args)} arguments ({len(args)} given)",
                    TOO_MANY_ARGUMENTS)
        for key in kwargs:
            if key not in self._index:
                _refuse(str(key), f"is not an argument of {self.name}; the arguments are "
                        + ", ".join(self._index), UNKNOWN_FIELD)
        given = dict(zip((a.name for a in self.args), args))
        for key, value in kwargs.items():
            if key in given:
                _refuse(key, "is given twice (by position and by name)", UNKNOWN_FIELD)
            given[key] = value
        checked = {}
        for arg in self.args:
            if arg.name in given:
                checked[arg.name] = arg.check(arg.name, given[arg.name])
            elif arg.required:
                _refuse(arg.name, "is required", REQUIRED)
            else:
                checked[arg.name] = arg.default
        return checked

    def invoke(self, target, values: dict, **optional):
        """Call the application method with checked values: positionally in declared order,
        except the parameters the method takes by keyword only. `optional` maps a keyword to
        what makes its value (the service's `on_progress`); made only for a method taking it."""
        method = getattr(target, self.application_method)
        parameters, keyword_only = _parameters(type(target), self.application_method)
        positional = [v for name, v in values.items() if name not in keyword_only]
        keywords = {name: v for name, v in values.items() if name in keyword_only}
        keywords.update({name: make() for name, make in optional.items() if name in parameters})
        return method(*positional, **keywords)

    def signature(self, *, with_self: bool = True) -> inspect.Signature:
        """The declared signature (what `inspect.signature` shows of the RPC method)."""
        params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)] if with_self else []
        params += [inspect.Parameter(a.name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                     default=inspect.Parameter.empty if a.required else a.default)
                   for a in self.args]
        return inspect.Signature(params)

    def schema(self) -> dict:
        """The JSON Schema of the arguments as one object (a gateway's request body)."""
        return {"type": "object", "additionalProperties": False,
                "properties": {a.name: _described(a) for a in self.args},
                "required": [a.name for a in self.args if a.required]}

    def unbounded(self) -> list[str]:
        """Every bound the declaration leaves open, as `argument.bound` (empty when none)."""
        return [f"{a.name}.{what}" for a in self.args for what in a.type.unbounded()]


def by_name(commands) -> dict[str, Command]:
    table = {}
    for command in commands:
        if command.name in table:
            raise ValueError(f"command {command.name} is declared twice")
        table[command.name] = command
    return table


# --- argument types every domain uses, bounded once ---------------------------------------------
AREA = Text(40, 1, pattern=r"[a-z][a-z0-9_]*")       # an area code of data/areas.json
PERSON_NAME = Text(50, 1)
OFFICER_NAME = Text(50, 1)                            # the acting officer
REASON = Text(500, 1, multiline=True)


def roles(domain: str, *names: str) -> tuple[str, ...]:
    """A domain's department roles, e.g. roles("welfare", "officer", "reader")."""
    return tuple(f"{domain}.{name}" for name in names)
