"""Domain layer: what a subscriber may see of an event — its data scope.

A subscription's legal basis decides its scope (domain.py): "full" receives the CloudEvent as the
relay publishes it (identity numbers are masked even there, birth dates dropped: shared/contract.py);
"reduced" (the default) receives it with, in addition:
- names of persons reduced to their first character and "*" (王芳 -> 王*),
- incomes, assets and amounts paid to or by persons left out, and postal addresses left out,
- the actor extensions (`actor`, `actorroles`, `actorclient`: who at the bureau acted) removed.
`requestid` and `traceparent` identify a request, not a person, and travel to every scope.
The rules apply at any depth of `data` (household members are a list of objects). The function
is pure: the event given is not changed.
"""
from __future__ import annotations

SCOPES = ("reduced", "full")
NAME_FIELDS = frozenset({"name", "head_name", "recipient", "donor", "volunteer", "officer"})
AMOUNT_FIELDS = frozenset({
    "monthly_income", "household_income", "per_capita_income", "assets", "allowance",
    "back_pay", "wage", "wages", "amount", "amounts",
})
REMOVED_FIELDS = AMOUNT_FIELDS | {"address"}
ACTOR_EXTENSIONS = frozenset({"actor", "actorroles", "actorclient"})
# Events whose amounts are the bureau's own money, not a person's (kept in the reduced scope).
INSTITUTIONAL_TYPES = frozenset({"ReserveOpened", "ReserveDeposited"})


def scoped(event: dict, scope: str) -> dict:
    """The CloudEvent `event` as a subscriber of `scope` may receive it (a new dict)."""
    if scope == "full":
        return event
    if scope != "reduced":
        raise ValueError(f"scope must be one of {SCOPES}, not {scope!r}")
    reduced = {k: v for k, v in event.items() if k not in ACTOR_EXTENSIONS}
    if "data" in event:
        institutional = event.get("type") in INSTITUTIONAL_TYPES
        reduced["data"] = _reduce(event["data"], REMOVED_FIELDS - AMOUNT_FIELDS if institutional
                                  else REMOVED_FIELDS)
    return reduced


def reduce_name(name):
    """First character and "*"; an empty or non-text value is returned as it is."""
    if not isinstance(name, str) or not name:
        return name
    return name[0] + "*"


def _reduce(value, removed: frozenset):
    if isinstance(value, dict):
        return {k: reduce_name(v) if k in NAME_FIELDS else _reduce(v, removed)
                for k, v in value.items() if k not in removed}
    if isinstance(value, list):
        return [_reduce(v, removed) for v in value]
    return value


FULL_SCOPE_BASES = frozenset({"service_delivery", "law_enforcement"})


def scope_of(legal_basis: str) -> str:
    """The data scope a legal basis entitles (domain.py's LEGAL_BASES): full or reduced."""
    return "full" if legal_basis in FULL_SCOPE_BASES else "reduced"
