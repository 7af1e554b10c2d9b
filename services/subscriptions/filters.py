"""Domain layer of the subscription service: filter expressions, after the CloudEvents
Subscriptions API (section "Filters"), checked once at the edge and matched against CloudEvents.

A subscription's `filters` is a list of filter expressions; an event passes when *every* one of
them matches (an empty list passes everything). A filter expression is a JSON object with exactly
one key, its dialect:

- `{"exact":  {"<attribute>": "<value>"}}`: the attribute is there and equals the value;
- `{"prefix": {"<attribute>": "<value>"}}`: it starts with the value;
- `{"suffix": {"<attribute>": "<value>"}}`: it ends with the value;
  (one attribute per expression, name and value non-empty, case-sensitive comparison);
- `{"all": [<expression>, ...]}`: every nested expression matches (at least one);
- `{"any": [<expression>, ...]}`: at least one matches (at least one given);
- `{"not": <expression>}`: the nested expression does not match.

An attribute missing from the event matches no `exact`/`prefix`/`suffix` (so `not` of it
matches). Attribute values that are not text compare in their canonical CloudEvents string form
(`true`/`false`, decimal integers). `data` is not an attribute: filters see the context only.
The `sql` dialect (CESQL) is known but not offered here (`subscription.unsupported_dialect`);
any other dialect is `subscription.unknown_dialect`.

Bounds: nesting at most `MAX_DEPTH` levels (a top-level expression is level 1), at most
`MAX_EXPRESSIONS` expressions in all (nested ones counted), values at most `MAX_VALUE` characters,
attribute names as CloudEvents 1.0 allows (`[a-z0-9]`, at most 20 characters).
No framework here (only the standard library).
"""
from __future__ import annotations

import re

from shared.errors import InvalidInput

ATTRIBUTE_DIALECTS = ("exact", "prefix", "suffix")
NESTING_DIALECTS = ("all", "any", "not")
DIALECTS = ATTRIBUTE_DIALECTS + NESTING_DIALECTS
UNSUPPORTED = ("sql",)
MAX_DEPTH = 3
MAX_EXPRESSIONS = 20
MAX_VALUE = 200
_ATTRIBUTE = re.compile(r"^[a-z0-9]{1,20}$")
_NOT_ATTRIBUTES = ("data", "data_base64")


def check(filters, field: str = "filters") -> list[dict]:
    """The filters as a normalised list, or InvalidInput naming the offending place."""
    if filters is None:
        return []
    if not isinstance(filters, list):
        raise InvalidInput(field, "must be a list of filter expressions", code="subscription.filters_not_a_list")
    budget = [0]
    return [_expression(f"{field}[{i}]", item, 1, budget) for i, item in enumerate(filters)]


def _count(field: str, budget: list) -> None:
    budget[0] += 1
    if budget[0] > MAX_EXPRESSIONS:
        raise InvalidInput(field, f"at most {MAX_EXPRESSIONS} filter expressions in all (nested ones "
                           "counted)", code="subscription.too_many_filters")


def _expression(field: str, value, depth: int, budget: list) -> dict:
    if depth > MAX_DEPTH:
        raise InvalidInput(field, f"filters nest at most {MAX_DEPTH} levels deep",
                           code="subscription.filter_too_deep")
    _count(field, budget)
    if not isinstance(value, dict) or len(value) != 1:
        raise InvalidInput(field, "a filter expression is an object with exactly one dialect key",
                           code="subscription.bad_filter")
    ((dialect, argument),) = value.items()
    if dialect in UNSUPPORTED:
        raise InvalidInput(f"{field}.{dialect}", "the sql (CESQL) dialect is not supported; use "
                           "exact, prefix, suffix, all, any, not", code="subscription.unsupported_dialect")
    if dialect not in DIALECTS:
        raise InvalidInput(f"{field}.{str(dialect)[:40]}", "unknown filter dialect; the dialects are "
                           + ", ".join(DIALECTS), code="subscription.unknown_dialect")
    where = f"{field}.{dialect}"
    if dialect in ATTRIBUTE_DIALECTS:
        return {dialect: _attribute_value(where, argument)}
    if dialect == "not":
        return {"not": _expression(where, argument, depth + 1, budget)}
    if not isinstance(argument, list) or not argument:
        raise InvalidInput(where, f"{dialect} takes a non-empty list of filter expressions",
                           code="subscription.bad_filter")
    return {dialect: [_expression(f"{where}[{i}]", item, depth + 1, budget)
                      for i, item in enumerate(argument)]}


def _attribute_value(field: str, argument) -> dict:
    if not isinstance(argument, dict) or len(argument) != 1:
        raise InvalidInput(field, "takes an object with exactly one attribute and its value",
                           code="subscription.bad_filter")
    ((name, value),) = argument.items()
    if not isinstance(name, str) or not _ATTRIBUTE.match(name) or name in _NOT_ATTRIBUTES:
        raise InvalidInput(field, "the attribute must be a CloudEvents context attribute name "
                           "(a-z, 0-9, at most 20 characters; not data)", code="subscription.bad_attribute")
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{field}.{name}", "the value must be non-empty text",
                           code="subscription.bad_filter_value")
    if len(value) > MAX_VALUE:
        raise InvalidInput(f"{field}.{name}", f"the value must be at most {MAX_VALUE} characters",
                           code="subscription.filter_value_too_long")
    return {name: value}


# --- matching (filters already checked) ------------------------------------------------------------

def matches(filters, event: dict) -> bool:
    """Whether a CloudEvent (a dict of its attributes, as published) passes every filter."""
    return all(_matches(expression, event) for expression in filters or ())


def _canonical(value) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _matches(expression: dict, event: dict) -> bool:
    ((dialect, argument),) = expression.items()
    if dialect == "all":
        return all(_matches(e, event) for e in argument)
    if dialect == "any":
        return any(_matches(e, event) for e in argument)
    if dialect == "not":
        return not _matches(argument, event)
    ((name, wanted),) = argument.items()
    actual = None if name in _NOT_ATTRIBUTES else _canonical(event.get(name))
    if actual is None:
        return False
    if dialect == "exact":
        return actual == wanted
    if dialect == "prefix":
        return actual.startswith(wanted)
    return actual.endswith(wanted)
