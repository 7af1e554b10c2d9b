"""The gateway's whole permission policy, as one table (docs/gateway.md shows the same table).

A token carries `roles` (the bureau's roles below) and `areas` (area codes, or "*": the whole
district). `POLICY` says, for each token role, which declared command roles it holds (the `role`
of each `Command` in `services/<domain>/commands.py`), which single commands or queries it holds
besides (`commands`: "domain.command"), whether it holds every query of every domain
(`all_queries`), and whether it may see identity numbers unmasked (`reveal`: the
`reveal_identity` argument of the get-queries).

No framework here: `allowed(token_roles, domain, command)` is a pure function of the table, so a
test can walk every role against every route.
"""
from __future__ import annotations

from dataclasses import dataclass

from shared import audit
from shared.commands import QUERY, Command


@dataclass(frozen=True)
class Grant:
    roles: frozenset = frozenset()        # declared command roles held
    commands: frozenset = frozenset()     # single commands/queries held, as "domain.name"
    all_queries: bool = False             # every query of every domain
    reveal: bool = False                  # may pass reveal_identity=true


def _grant(*roles, commands=(), all_queries=False, reveal=False) -> Grant:
    return Grant(frozenset(roles), frozenset(commands), all_queries, reveal)


SA, DR, WF, RP, SB = "social_assistance", "disaster_relief", "welfare", "reporting", "subscriptions"
SF, MS, CS = "social_affairs", "military_support", "conduct_supervision"
CM = "community"

#  token role                     declared command roles held                      extra                reveal
POLICY: dict[str, Grant] = {
    # social assistance (dibao)
    "social_assistance.officer":  _grant(f"{SA}.officer", f"{SA}.reader",                               reveal=True),
    "social_assistance.approver": _grant(f"{SA}.approver", f"{SA}.reader",                              reveal=True),
    "social_assistance.finance":  _grant(f"{SA}.finance", f"{SA}.reader"),
    "social_assistance.reader":   _grant(f"{SA}.reader"),
    # disaster relief
    "disaster_relief.officer":    _grant(f"{DR}.officer", f"{DR}.reader",                               reveal=True),
    "disaster_relief.finance":    _grant(f"{DR}.finance", f"{DR}.reader"),
    "disaster_relief.reader":     _grant(f"{DR}.reader"),
    # social welfare
    "welfare.officer":            _grant(f"{WF}.officer", f"{WF}.reader",                               reveal=True),
    "welfare.enterprises":        _grant(f"{WF}.enterprises", f"{WF}.reader",                           reveal=True),
    "welfare.finance":            _grant(f"{WF}.finance", f"{WF}.reader"),
    "welfare.reader":             _grant(f"{WF}.reader"),
    # social affairs: funeral reform and grave mounds; marriage registration
    "social_affairs.funeral":     _grant(f"{SF}.funeral", f"{SF}.reader",                               reveal=True),
    "social_affairs.registrar":   _grant(f"{SF}.registrar", f"{SF}.reader",                             reveal=True),
    "social_affairs.reader":      _grant(f"{SF}.reader"),
    # military support: beneficiaries and workers; their payments; double support
    "military_support.officer":   _grant(f"{MS}.officer", f"{MS}.reader",                               reveal=True),
    "military_support.finance":   _grant(f"{MS}.finance", f"{MS}.reader"),
    "military_support.double_support": _grant(f"{MS}.double_support", f"{MS}.reader"),
    "military_support.reader":    _grant(f"{MS}.reader"),
    # conduct supervision: the conduct-building office; officers' visits and answers; personnel
    "conduct_supervision.supervision": _grant(f"{CS}.supervision", f"{CS}.reader",                    reveal=True),
    "conduct_supervision.officer":     _grant(f"{CS}.officer", f"{CS}.reader"),
    "conduct_supervision.personnel":   _grant(f"{CS}.personnel", f"{CS}.reader"),
    "conduct_supervision.reader":      _grant(f"{CS}.reader"),
    # community building: communities and workers; civil organisations; villages; facilities
    "community.officer":          _grant(f"{CM}.officer", f"{CM}.reader",                               reveal=True),
    "community.organisations":    _grant(f"{CM}.organisations", f"{CM}.reader"),
    "community.villages":         _grant(f"{CM}.villages", f"{CM}.reader"),
    "community.facilities":       _grant(f"{CM}.facilities", f"{CM}.reader"),
    "community.reader":           _grant(f"{CM}.reader"),
    # across the bureau
    "auditor":                    _grant(all_queries=True),                      # every query, no command, masked
    "administrator":              _grant(f"{RP}.auditor", f"{SB}.administrator", # the audit trail, subscriptions,
                                         commands=(f"{SA}.set_standard", f"{SA}.raise_standards",  # reference data
                                                   f"{SA}.standard", f"{WF}.rules", f"{SF}.rules",  # and standards
                                                   f"{MS}.rules", f"{MS}.benefit_standard", f"{CS}.rules",
                                                   f"{CM}.rules")),
}

# Held by every role of the table besides its own row: the district report (aggregates, no
# person's record) is read by every department, the auditor and the administrator.
EVERY_ROLE_HOLDS = frozenset({f"{RP}.reader"})

# Read whatever the token's areas: the district report is the whole district's figures, no record
# of any area (every other district-wide query or command needs areas "*").
AREA_FREE = frozenset({f"{RP}.report"})

REVEAL_ARGUMENT = audit.REVEAL


def grants(token_roles) -> list[Grant]:
    """The grants of a token's roles (roles the table does not know grant nothing)."""
    return [POLICY[role] for role in token_roles if role in POLICY]


def allowed(token_roles, domain: str, command: Command) -> bool:
    """Whether a token with these roles may call this command (its area aside)."""
    qualified = f"{domain}.{command.name}"
    return any(command.role in g.roles or qualified in g.commands or command.role in EVERY_ROLE_HOLDS
               or (g.all_queries and command.kind == QUERY) for g in grants(token_roles))


def area_free(domain: str, command: Command) -> bool:
    return f"{domain}.{command.name}" in AREA_FREE


def may_reveal(token_roles) -> bool:
    return any(g.reveal for g in grants(token_roles))


def area_allowed(token_areas, wanted) -> bool:
    """Whether a token's areas cover every area in `wanted` ("*" in wanted: the whole district,
    which only a "*" token covers)."""
    if token_areas == "*":
        return True
    return all(area != "*" and area in token_areas for area in wanted)
