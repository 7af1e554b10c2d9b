"""Domain-layer declarations of the subscription service's RPC commands and queries
(shared/commands.py), so that the gateway builds their routes like the domains' and reporting's.

Not a registered domain: `SERVICE` is the Nameko service's name; every path is explicit. All are
district-wide (no area) and need the role `subscriptions.administrator` (the gateway grants it to
`administrator`):

| RPC                    | HTTP                                                  |
|------------------------|-------------------------------------------------------|
| register_subscription  | POST /subscriptions (201 + Location; the secret once) |
| list_subscriptions     | GET /subscriptions[?state=] (paged by the gateway)    |
| get_subscription       | GET /subscriptions/{subscription_id}                  |
| update_subscription    | POST /subscriptions/{subscription_id}                 |
| delete_subscription    | POST /subscriptions/{subscription_id}/delete          |
| rotate_secret          | POST /subscriptions/{subscription_id}/rotate-secret   |
| suspend_subscription   | POST /subscriptions/{subscription_id}/suspend         |
| resume_subscription    | POST /subscriptions/{subscription_id}/resume          |
| replay_subscription    | POST /subscriptions/{subscription_id}/replay          |
| redrive_dead_letters   | POST /subscriptions/{subscription_id}/redrive         |

The filters and settings types delegate to the domain's checks (the same codes at the gateway
and over RPC); their bounds are the domain's (services/subscriptions/domain.py, filters.py).
"""
from __future__ import annotations

from dataclasses import dataclass

from services.subscriptions import domain, filters
from shared.commands import (QUERY, REASON, Arg, ArgType, Bool, Choice, Command, DateTime, Integer,
                             ListOf, Optional, Text, Uuid)

SERVICE = "subscriptions"
ADMINISTRATOR = "subscriptions.administrator"
ID = Arg("subscription_id", Uuid())
ITEM = f"/subscriptions/{{{ID.name}}}"


@dataclass(frozen=True)
class Filters(ArgType):
    """A list of CloudEvents Subscriptions API filter expressions (filters.check)."""

    def check(self, field_name, value):
        return filters.check(value, field_name)

    def schema(self):
        return {"type": "array", "maxItems": filters.MAX_EXPRESSIONS,
                "description": "filter expressions, every one must match: exact, prefix, suffix "
                               "({attribute: value}), all, any (lists), not (one expression); "
                               f"at most {filters.MAX_DEPTH} levels, {filters.MAX_EXPRESSIONS} in all",
                "items": {"type": "object", "minProperties": 1, "maxProperties": 1,
                          "propertyNames": {"enum": list(filters.DIALECTS)}}}


@dataclass(frozen=True)
class Settings(ArgType):
    """`protocolsettings` or `config`: at most 20 keys of scalar values (domain.check_settings)."""

    def check(self, field_name, value):
        return domain.check_settings(field_name, value)

    def schema(self):
        scalar = [{"type": "string", "maxLength": domain.MAX_SETTING_TEXT},
                  {"type": "integer", "maximum": 10 ** 15 - 1, "minimum": 1 - 10 ** 15},
                  {"type": "boolean"}, {"type": "null"}]
        return {"type": "object", "maxProperties": domain.MAX_SETTINGS,
                "propertyNames": {"maxLength": domain.MAX_KEY, "pattern": r"^[A-Za-z][A-Za-z0-9_.\-]*$"},
                "additionalProperties": {"anyOf": scalar}}


TYPES = ListOf(Text(domain.MAX_TYPE, 1, pattern=r"[A-Za-z][A-Za-z0-9._\-]*"), max_items=domain.MAX_TYPES)
SINK = Text(domain.MAX_SINK, 1, strip=False)
POSITION = Integer(0, domain.MAX_POSITION)
SUBSCRIBER = Text(domain.MAX_SUBSCRIBER, 1)
PURPOSE = Text(domain.MAX_PURPOSE, 1, multiline=True)
LEGAL_BASIS = Choice(domain.LEGAL_BASES)
SINCE = Optional(DateTime())    # the domain requires the offset (subscription.bad_since)
AFTER_DOC = "not with since"
SINCE_DOC = ("a date-time with its offset (RFC 3339, e.g. 2007-03-01T08:00:00+08:00): start with the "
             "events stored from then on (the source's feed resolves it to a sequence); not with after")

COMMANDS = (
    Command("register_subscription", (
        Arg("subscriber", SUBSCRIBER, doc="the receiving organisation"),
        Arg("purpose", PURPOSE, doc="why it receives the events (recorded, shown to auditors)"),
        Arg("legal_basis", LEGAL_BASIS, doc="service_delivery and law_enforcement receive the full "
                                            "field set; statistics and oversight a reduced one"),
        Arg("source", Text(40, 1, pattern=r"[a-z][a-z0-9_]*"), doc="the source domain"),
        Arg("sink", SINK, doc="http(s):// URL for HTTP, amqp:// for AMQP"),
        Arg("protocol", Choice(domain.PROTOCOLS), default="HTTP"),
        Arg("types", TYPES, default=[], doc="event types (empty: every type)"),
        Arg("filters", Filters(), default=[]),
        Arg("protocolsettings", Settings(), default={}),
        Arg("config", Settings(), default={}),
        Arg("after", Optional(POSITION), default=None,
            doc="deliver events after this sequence (default 0: from the start); " + AFTER_DOC),
        Arg("since", SINCE, default=None, doc=SINCE_DOC)),
        role=ADMINISTRATOR, path="/subscriptions", method="create",
        doc="Create a subscription; the answer shows its webhook secret (HTTP) this once."),
    Command("list_subscriptions", (
        Arg("state", Optional(Choice(domain.STATES)), default=None, doc="only subscriptions in this state"),),
        role=ADMINISTRATOR, kind=QUERY, path="/subscriptions", method="list", lists=True,
        doc="Every subscription (not deleted ones), without secrets."),
    Command("get_subscription", (ID,), role=ADMINISTRATOR, kind=QUERY, path=ITEM, method="get",
            doc="A subscription, without secrets (their count and the newest one's fingerprint)."),
    Command("update_subscription", (
        ID, Arg("sink", Optional(SINK), default=None, doc="a new sink is validated again"),
        Arg("types", Optional(TYPES), default=None), Arg("filters", Optional(Filters()), default=None),
        Arg("protocolsettings", Optional(Settings()), default=None),
        Arg("config", Optional(Settings()), default=None), Arg("purpose", Optional(PURPOSE), default=None),
        Arg("legal_basis", Optional(LEGAL_BASIS), default=None)),
        role=ADMINISTRATOR, path=ITEM, method="update",
        doc="Change what is given; a new sink puts the subscription back to created."),
    Command("delete_subscription", (ID,), role=ADMINISTRATOR, path=ITEM + "/delete", method="delete",
            doc="Delete a subscription: nothing more is delivered, its secrets are dropped."),
    Command("rotate_secret", (ID, Arg("keep_previous", Bool(), default=True,
                                      doc="the previous secret stays valid beside the new one")),
            role=ADMINISTRATOR, path=ITEM + "/rotate-secret",
            doc="A new webhook secret, shown this once."),
    Command("suspend_subscription", (ID, Arg("reason", REASON)), role=ADMINISTRATOR,
            path=ITEM + "/suspend", method="suspend", doc="Stop deliveries, with the reason."),
    Command("resume_subscription", (ID,), role=ADMINISTRATOR, path=ITEM + "/resume", method="resume",
            doc="Resume a suspended subscription (its sink is validated again first)."),
    Command("replay_subscription", (
        ID, Arg("after", Optional(POSITION), default=None, doc="replay every event after this sequence; " + AFTER_DOC),
        Arg("since", SINCE, default=None, doc=SINCE_DOC)),
        role=ADMINISTRATOR, path=ITEM + "/replay", method="replay",
        doc="Deliver again every event after a sequence number or from a time on, then continue live."),
    Command("redrive_dead_letters", (
        ID, Arg("sequences", Optional(ListOf(POSITION, max_items=domain.DEAD_LETTERS_KEPT)), default=None,
                doc="HTTP: the dead letters' sequences (default: every one); AMQP: give none"),
        Arg("limit", Integer(1, domain.MAX_REDRIVE), default=domain.DEAD_LETTERS_KEPT,
            doc="at most this many, oldest first")),
        role=ADMINISTRATOR, path=ITEM + "/redrive", method="redrive",
        doc="Deliver dead letters again: HTTP ones by the delivery process (listed in `redrive` "
            "until delivered), AMQP ones moved back into the subscription's queue now."),
)
