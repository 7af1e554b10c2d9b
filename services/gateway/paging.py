"""Interface layer of the gateway: lists shown only in the caller's areas, and paged.

A list query (`Command.lists`) answers the whole list over RPC; the gateway then
1. keeps the items the token's areas cover (`visible`): an item's `area`, or every one of its
   `areas`, must be among the token's (`policy.area_allowed`, the same rule as a get or a command
   on that record, so a record hidden from the list is also refused by its get and its commands);
   an item with neither is district-wide and shown only to an `areas: "*"` token;
2. pages what is left: `limit` (1..200, default 50) items from the cursor, answered as
   `{"result": [...], "next": <cursor or null>}`.

The cursor is opaque (base64url of JSON): the position after the last item given, a fingerprint
of that item, and a fingerprint of the query (operation, arguments, the token's areas). The next
page starts after that item where it is now (items added before it do not repeat it), or at the
same position when it changed or went. A cursor of another query, or not made here, is refused:
422 `input.bad_cursor`. No web framework here.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass

from services.gateway import policy
from services.gateway import routes as routing
from shared.commands import Arg, Integer, Optional, Text
from shared.errors import InvalidInput

LIMIT = Arg("limit", Integer(1, 200), default=50, doc="items per page (1 to 200)")
CURSOR = Arg("cursor", Optional(Text(200, 1, pattern=r"[A-Za-z0-9_\-]+")), default=None,
             doc="the `next` of the page before (opaque)")
ARGS = (LIMIT, CURSOR)
_MAX_POSITION = 10 ** 9


@dataclass(frozen=True)
class PageRequest:
    limit: int
    position: int = 0
    last: str | None = None     # fingerprint of the last item of the page before
    query: str = ""             # fingerprint of the query the cursor belongs to


@dataclass(frozen=True)
class Page:
    items: list
    next: str | None

    def body(self) -> dict:
        return {"result": self.items, "next": self.next}


def _fingerprint(value) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def query_fingerprint(route: routing.Route, values: dict, token_areas) -> str:
    areas = token_areas if token_areas == "*" else sorted(token_areas)
    return _fingerprint([route.operation_id, values, areas])


def take(given: dict, from_query: bool) -> tuple[dict, int, str | None]:
    """Split the page parameters off a request's parameters: (the rest, limit, raw cursor),
    each checked by its declaration (422 with the field and code)."""
    rest = {k: v for k, v in given.items() if k not in (LIMIT.name, CURSOR.name)}
    limit = given.get(LIMIT.name)
    if from_query and limit is not None:
        limit = routing.from_query_string(LIMIT, limit)
    cursor = given.get(CURSOR.name)
    if from_query and cursor is not None:
        cursor = routing.from_query_string(CURSOR, cursor)
    return rest, LIMIT.check(LIMIT.name, limit), CURSOR.check(CURSOR.name, cursor)


def decode(cursor: str | None, limit: int, query: str) -> PageRequest:
    if cursor is None:
        return PageRequest(limit, query=query)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position, last, of = json.loads(raw)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        position = last = of = None
    if (not isinstance(position, int) or isinstance(position, bool) or not 0 < position < _MAX_POSITION
            or not isinstance(last, str) or not isinstance(of, str)):
        raise InvalidInput(CURSOR.name, "is not a cursor of this list (give the `next` of a page)",
                           code="input.bad_cursor")
    if of != query:
        raise InvalidInput(CURSOR.name, "belongs to another list, other arguments or other areas: "
                           "start again without it", code="input.bad_cursor")
    return PageRequest(limit, position, last, query)


def encode(position: int, last_item, query: str) -> str:
    text = json.dumps([position, _fingerprint(last_item), query], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def item_areas(item) -> list:
    """The areas an item is in: its `area`, its `areas`, else the whole district ("*")."""
    if isinstance(item, dict) and isinstance(item.get("area"), str):
        return [item["area"]]
    if isinstance(item, dict) and isinstance(item.get("areas"), list) and item["areas"]:
        return list(item["areas"])
    return ["*"]


def visible(items: list, token_areas) -> list:
    return [item for item in items if policy.area_allowed(token_areas, item_areas(item))]


def _start(items: list, request: PageRequest) -> int:
    if request.last is None:
        return 0
    at = request.position
    if 0 < at <= len(items) and _fingerprint(items[at - 1]) == request.last:
        return at
    for index, item in enumerate(items):       # it moved: resume after it
        if _fingerprint(item) == request.last:
            return index + 1
    return min(at, len(items))                  # it changed or went: the same position


def page(result, token_areas, request: PageRequest) -> Page:
    """The page of a list query's answer the token may see."""
    if not isinstance(result, list):
        raise TypeError(f"a list query answered {type(result).__name__}, not a list")
    items = visible(result, token_areas)
    start = _start(items, request)
    chunk = items[start:start + request.limit]
    end = start + len(chunk)
    more = end < len(items) and chunk
    return Page(chunk, encode(end, chunk[-1], request.query) if more else None)
