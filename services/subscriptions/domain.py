"""Domain layer of the subscription service: the `Subscription` aggregate and its rules.

A subscription (shaped after the CloudEvents Subscriptions API) names who receives what and why:
the subscriber organisation, the purpose, the legal basis (which sets the data scope: `full` for
service delivery and law enforcement, `reduced` otherwise), the source domain, event `types`
(empty: all), `filters` (services/subscriptions/filters.py), the `sink` and its `protocol`
(`HTTP` webhooks or `AMQP`), `protocolsettings` and `config`.

States: `created` → `validated` (the sink's handshake succeeded) → `active`; `suspended` (with
a reason) from any of those; `resume` goes back to `created` (the sink is validated again before
the next delivery); `deleted` is final. Changing the sink puts a validated or active subscription
back to `created`. `position` is the last acknowledged `sequence` of the source (an int;
acknowledgements never move it back, `rewind` does, for a replay).

HTTP subscriptions hold up to two webhook secrets (`whsec_` + base64 of 32 random bytes, the
Standard Webhooks form): the newest first; a rotation keeps the previous one valid beside it until
the next rotation. Secrets live only in the (encrypted) event store: `view()` shows their count
and the newest one's fingerprint, never a secret.

Public command methods check and raise typed errors; private past-tense `@event` methods change
state. No framework here (eventsourcing's aggregate base and the standard library only).
"""
from __future__ import annotations

import base64
import hashlib
import re
import secrets as random_secrets
from datetime import datetime
from urllib.parse import urlsplit
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from services.subscriptions import filters as filtering
from shared.audit import AuditedAggregate
from shared.errors import Conflict, InvalidInput, NotFound

LEGAL_BASES = ("statistics", "oversight", "service_delivery", "law_enforcement")
FULL_SCOPE_BASES = ("service_delivery", "law_enforcement")
PROTOCOLS = ("HTTP", "AMQP")
SINK_SCHEMES = {"HTTP": ("http", "https"), "AMQP": ("amqp", "amqps")}
CREATED, VALIDATED, ACTIVE, SUSPENDED, DELETED = "created", "validated", "active", "suspended", "deleted"
STATES = (CREATED, VALIDATED, ACTIVE, SUSPENDED, DELETED)
MAX_SUBSCRIBER, MAX_PURPOSE, MAX_REASON = 100, 500, 500
MAX_TYPES, MAX_TYPE = 50, 200
MAX_SINK = 500
MAX_SETTINGS, MAX_KEY, MAX_SETTING_TEXT = 20, 64, 200
MAX_BATCHSIZE = 1000                 # events per batched webhook request (the feed's page)
MAX_POSITION = 10 ** 20 - 1          # a sequence has 20 digits
DEAD_LETTERS_KEPT = 1000             # the newest dead letters an operator sees
MAX_REDRIVE = 10_000                 # dead letters one re-drive moves at most (AMQP: amqp_sink's bound)
MAX_SINCE = 40                       # characters of a `since` time
MAX_DELIVERIES = 1000                # delivery records per acknowledgement (the engine's page)
_DELIVERY_KEYS = ("id", "type", "subject", "sequence", "scope", "at")
SECRET_PREFIX = "whsec_"
MAX_SECRETS = 2
_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9._\-]*$")
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")   # tab, newline, CR allowed


def scope_of(legal_basis: str) -> str:
    """The data scope a legal basis entitles: "full" or "reduced"."""
    return "full" if legal_basis in FULL_SCOPE_BASES else "reduced"


def new_secret() -> str:
    """A webhook secret: `whsec_` + base64 of 32 random bytes (Standard Webhooks)."""
    return SECRET_PREFIX + base64.b64encode(random_secrets.token_bytes(32)).decode()


def fingerprint(secret: str) -> str:
    """Names a secret without showing it: the first 16 hex digits of its SHA-256."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:16]


# --- checks: each returns the normalised value or raises InvalidInput ---------------------------

def check_text(field: str, value, max_length: int, multiline: bool = False) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, "must be non-empty text", code="subscription.empty_text")
    text = value.strip()
    if len(text) > max_length:
        raise InvalidInput(field, f"must be at most {max_length} characters", code="subscription.text_too_long")
    if (_CONTROL_MULTILINE if multiline else _CONTROL).search(text):
        raise InvalidInput(field, "must not contain control characters", code="subscription.control_character")
    return text


def check_legal_basis(value) -> str:
    if value not in LEGAL_BASES:
        raise InvalidInput("legal_basis", "must be one of " + ", ".join(LEGAL_BASES),
                           code="subscription.unknown_legal_basis")
    return value


def check_protocol(value) -> str:
    if value not in PROTOCOLS:
        raise InvalidInput("protocol", "must be HTTP or AMQP", code="subscription.unknown_protocol")
    return value


def check_source(value, sources) -> str:
    if not isinstance(value, str) or value not in tuple(sources):
        raise InvalidInput("source", "must be a registered domain: " + ", ".join(sources),
                           code="subscription.unknown_source")
    return value


def check_types(value) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput("types", "must be a list of event types", code="subscription.types_not_a_list")
    if len(value) > MAX_TYPES:
        raise InvalidInput("types", f"must list at most {MAX_TYPES} event types", code="subscription.too_many_types")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not 0 < len(item) <= MAX_TYPE or not _TYPE.match(item):
            raise InvalidInput(f"types[{index}]", f"an event type is 1 to {MAX_TYPE} letters, digits, "
                               "'.', '_' or '-', starting with a letter", code="subscription.bad_type")
    return sorted(set(value))


def check_sink(value, protocol: str) -> str:
    """The sink URL's syntax for its protocol (the network allow-list is the delivery's)."""
    if not isinstance(value, str) or not value or len(value) > MAX_SINK:
        raise InvalidInput("sink", f"must be a URL of 1 to {MAX_SINK} characters", code="subscription.bad_sink")
    if _CONTROL.search(value) or " " in value:
        raise InvalidInput("sink", "must not contain spaces or control characters", code="subscription.bad_sink")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        raise InvalidInput("sink", "is not a URL", code="subscription.bad_sink") from None
    schemes = SINK_SCHEMES[protocol]
    if parts.scheme not in schemes:
        raise InvalidInput("sink", f"the scheme of a {protocol} sink is " + " or ".join(schemes),
                           code="subscription.sink_scheme")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("sink", "must not carry credentials (the platform issues them)",
                           code="subscription.sink_credentials")
    if protocol == "HTTP" and (not parts.hostname or parts.fragment):
        raise InvalidInput("sink", "an HTTP sink names a host and has no #fragment", code="subscription.bad_sink")
    return value


def check_settings(field: str, value) -> dict:
    """`protocolsettings` or `config`: at most 20 keys, each value a scalar (text at most 200)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(field, "must be an object", code="subscription.settings_not_an_object")
    if len(value) > MAX_SETTINGS:
        raise InvalidInput(field, f"at most {MAX_SETTINGS} keys", code="subscription.too_many_settings")
    checked = {}
    for key, item in value.items():
        if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY or not _KEY.match(key):
            raise InvalidInput(field, f"a key is 1 to {MAX_KEY} letters, digits, '_', '.' or '-'",
                               code="subscription.bad_setting_key")
        checked[key] = _setting_value(f"{field}.{key}", item)
    if field == "protocolsettings" and "batchsize" in checked:
        check_batchsize(checked["batchsize"])
    return checked


def check_batchsize(value) -> int:
    """`protocolsettings.batchsize`: events per webhook request, 1 (structured mode, the default)
    to MAX_BATCHSIZE (batched mode above 1). An AMQP subscription has no use for it (each event is
    its own message; a page goes to the broker as one confirmed batch anyway)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_BATCHSIZE:
        raise InvalidInput("protocolsettings.batchsize", f"must be a whole number from 1 to {MAX_BATCHSIZE}",
                           code="subscription.bad_batchsize")
    return value


def _setting_value(field: str, value):
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) < 10 ** 15:
        return value
    if isinstance(value, str) and len(value) <= MAX_SETTING_TEXT and not _CONTROL.search(value):
        return value
    raise InvalidInput(field, f"must be a scalar: true/false, null, a whole number under 10**15 or "
                       f"text of at most {MAX_SETTING_TEXT} characters", code="subscription.bad_setting_value")


def check_position(field: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_POSITION:
        raise InvalidInput(field, "must be a sequence number from 0 to 10**20-1",
                           code="subscription.bad_position")
    return value


def check_since(value) -> str:
    """A replay's start time: an RFC 3339 date-time with its offset, normalised (isoformat)."""
    rule = "must be a date and time with its offset, e.g. 2007-03-01T08:00:00+08:00"
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) and len(value) <= MAX_SINCE else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidInput("since", rule, code="subscription.bad_since")
    return moment.isoformat()


def check_start(after, since, required: bool = False) -> tuple[int | None, str | None]:
    """Where delivery (re)starts: `after` (a sequence) or `since` (a time), never both; with
    neither, 0 when not `required` (creation), refused when it is (a replay)."""
    if after is not None and since is not None:
        raise InvalidInput("since", "give either after (a sequence) or since (a time), not both",
                           code="subscription.after_and_since")
    if since is not None:
        return None, check_since(since)
    if after is None and required:
        raise InvalidInput("after", "give after (a sequence) or since (a time) to replay from",
                           code="subscription.replay_needs_start")
    return check_position("after", 0 if after is None else after), None


def check_sequences(field: str, value) -> list[int]:
    """Sequences of dead letters: a list of at most DEAD_LETTERS_KEPT, sorted, without repeats."""
    if not isinstance(value, (list, tuple)) or len(value) > DEAD_LETTERS_KEPT:
        raise InvalidInput(field, f"must be a list of at most {DEAD_LETTERS_KEPT} sequences",
                           code="subscription.bad_sequences")
    return sorted({check_position(f"{field}[{i}]", v) for i, v in enumerate(value)})


def check_redrive_limit(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_REDRIVE:
        raise InvalidInput("limit", f"must be a whole number from 1 to {MAX_REDRIVE}", code="subscription.redrive_limit")
    return value


def check_deliveries(deliveries) -> list[dict]:
    """The record of what an acknowledgement disclosed: each {"id", "type", "subject",
    "sequence", "scope", "at"}, as text or whole numbers of bounded length."""
    if not isinstance(deliveries, (list, tuple)) or len(deliveries) > MAX_DELIVERIES:
        raise InvalidInput("deliveries", f"must be a list of at most {MAX_DELIVERIES} records",
                           code="subscription.bad_deliveries")
    records = []
    for index, record in enumerate(deliveries):
        if not isinstance(record, dict) or set(record) - set(_DELIVERY_KEYS) or not all(
                isinstance(v, (str, int)) and not isinstance(v, bool) and len(str(v)) <= 100
                for v in record.values()):
            raise InvalidInput(f"deliveries[{index}]", "must be a record of " + ", ".join(_DELIVERY_KEYS),
                               code="subscription.bad_deliveries")
        records.append({key: record.get(key) for key in _DELIVERY_KEYS})
    return records


class Subscription(AuditedAggregate):
    """One subscriber's subscription to one source's events."""

    @classmethod
    def create(cls, *, subscriber, purpose, legal_basis, source, sources, sink, protocol="HTTP",
               types=None, filters=None, protocolsettings=None, config=None, after=0,
               secret: str | None = None, since: str | None = None) -> "Subscription":
        """`after` is where delivery starts; `since`, when given, the time it was resolved from
        (the application asks the source's feed), recorded with it."""
        protocol = check_protocol(protocol)
        if protocol == "HTTP" and not (isinstance(secret, str) and secret.startswith(SECRET_PREFIX)):
            raise InvalidInput("secret", "an HTTP subscription needs a webhook secret", code="subscription.no_secret")
        return cls(subscriber=check_text("subscriber", subscriber, MAX_SUBSCRIBER),
                   purpose=check_text("purpose", purpose, MAX_PURPOSE, multiline=True),
                   legal_basis=check_legal_basis(legal_basis), source=check_source(source, sources),
                   types=check_types(types), filters=filtering.check(filters),
                   sink=check_sink(sink, protocol), protocol=protocol,
                   protocolsettings=check_settings("protocolsettings", protocolsettings),
                   config=check_settings("config", config), position=check_position("after", after),
                   secrets=[secret] if protocol == "HTTP" else [],
                   since=None if since is None else check_since(since))

    @event("Created")
    def __init__(self, *, subscriber, purpose, legal_basis, source, types, filters, sink, protocol,
                 protocolsettings, config, position, secrets, since=None):
        self.subscriber, self.purpose, self.legal_basis = subscriber, purpose, legal_basis
        self.source, self.types, self.filters = source, list(types), list(filters)
        self.sink, self.protocol = sink, protocol
        self.protocolsettings, self.config = dict(protocolsettings), dict(config)
        self.position, self.secrets = position, list(secrets)
        self.state, self.reason = CREATED, None
        self.since = since

    # --- reading -----------------------------------------------------------------------------

    @property
    def scope(self) -> str:
        return scope_of(self.legal_basis)

    @property
    def redrive(self) -> list[int]:
        """Sequences of the dead letters an operator asked to deliver again, oldest first."""
        return sorted({letter["sequence"] for letter in getattr(self, "redriving", ())})

    def view(self) -> dict:
        """The subscription as shown to administrators: never a secret. (`allowed_rate`,
        `delivered`, `dead_letters`, `redrive` and `since` default for subscriptions stored
        before they existed.) `since`: the time the last creation or replay asked for (None when
        it gave a sequence); `dead_letters`: the newest DEAD_LETTERS_KEPT not asked to be
        re-driven; `redrive`: the sequences asked to be re-driven, not yet delivered again."""
        return {"id": str(self.id), "subscriber": self.subscriber, "purpose": self.purpose,
                "legal_basis": self.legal_basis, "scope": self.scope, "source": self.source,
                "types": list(self.types), "filters": list(self.filters), "sink": self.sink,
                "protocol": self.protocol, "protocolsettings": dict(self.protocolsettings),
                "config": dict(self.config), "state": self.state, "reason": self.reason,
                "position": self.position, "secret_count": len(self.secrets),
                "allowed_rate": getattr(self, "allowed_rate", None),
                "delivered": getattr(self, "delivered", 0),
                "dead_letters": list(getattr(self, "dead_letters", ())), "redrive": self.redrive,
                "since": getattr(self, "since", None),
                "secret_fingerprint": fingerprint(self.secrets[0]) if self.secrets else None,
                "created_on": self.created_on.isoformat(), "modified_on": self.modified_on.isoformat(),
                "version": self.version}

    # --- commands ------------------------------------------------------------------------------

    def _not_deleted(self) -> None:
        if self.state == DELETED:
            raise Conflict("subscription_id", "the subscription is deleted", code="subscription.deleted")

    def validate_sink(self, allowed_rate=None) -> None:
        """The sink's handshake succeeded (recorded only from `created`), with the rate the
        receiver allowed (WebHook-Allowed-Rate, requests a minute; None: unlimited)."""
        self._not_deleted()
        if self.state != CREATED:
            raise Conflict("state", f"only a created subscription's sink is validated (it is {self.state})",
                           code="subscription.not_created")
        if allowed_rate is not None and (isinstance(allowed_rate, bool) or not isinstance(allowed_rate, int)
                                         or not 0 < allowed_rate <= 1_000_000):
            raise InvalidInput("allowed_rate", "must be a whole number of requests from 1 to 1,000,000",
                               code="subscription.bad_allowed_rate")
        self._sink_validated(allowed_rate=allowed_rate)

    @event("SinkValidated")
    def _sink_validated(self, allowed_rate=None):
        self.state = VALIDATED
        self.allowed_rate = allowed_rate

    def activate(self) -> None:
        self._not_deleted()
        if self.state != VALIDATED:
            raise Conflict("state", f"only a validated subscription is activated (it is {self.state})",
                           code="subscription.not_validated")
        self._activated()

    @event("Activated")
    def _activated(self):
        self.state = ACTIVE

    def suspend(self, reason) -> None:
        self._not_deleted()
        reason = check_text("reason", reason, MAX_REASON, multiline=True)
        if self.state == SUSPENDED:
            raise Conflict("state", "the subscription is already suspended", code="subscription.already_suspended")
        self._suspended(reason=reason)

    @event("Suspended")
    def _suspended(self, reason):
        self.state, self.reason = SUSPENDED, reason

    def resume(self) -> None:
        self._not_deleted()
        if self.state != SUSPENDED:
            raise Conflict("state", f"only a suspended subscription is resumed (it is {self.state})",
                           code="subscription.not_suspended")
        self._resumed()

    @event("Resumed")
    def _resumed(self):
        self.state, self.reason = CREATED, None     # the sink is validated again first

    def update(self, *, sources, sink=None, types=None, filters=None, protocolsettings=None,
               config=None, purpose=None, legal_basis=None) -> bool:
        """Change what is given (None: unchanged); False when nothing changes."""
        self._not_deleted()
        changes = self._changes(sink=None if sink is None else check_sink(sink, self.protocol),
                                types=None if types is None else check_types(types),
                                filters=None if filters is None else filtering.check(filters),
                                protocolsettings=None if protocolsettings is None
                                else check_settings("protocolsettings", protocolsettings),
                                config=None if config is None else check_settings("config", config),
                                purpose=None if purpose is None
                                else check_text("purpose", purpose, MAX_PURPOSE, multiline=True),
                                legal_basis=None if legal_basis is None else check_legal_basis(legal_basis))
        if not changes:
            return False
        self._updated(changes=changes)
        return True

    def _changes(self, **given) -> dict:
        return {key: value for key, value in given.items()
                if value is not None and value != getattr(self, key)}

    @event("Updated")
    def _updated(self, changes):
        for key, value in changes.items():
            setattr(self, key, value)
        if "sink" in changes and self.state in (VALIDATED, ACTIVE):
            self.state = CREATED                    # a new sink is validated before delivery

    def rotate_secret(self, secret: str, keep_previous: bool = True) -> None:
        self._not_deleted()
        if self.protocol != "HTTP":
            raise Conflict("protocol", "only an HTTP subscription has webhook secrets",
                           code="subscription.no_webhook_secret")
        if not (isinstance(secret, str) and secret.startswith(SECRET_PREFIX)):
            raise InvalidInput("secret", "must be a webhook secret (whsec_...)", code="subscription.no_secret")
        kept = self.secrets[:MAX_SECRETS - 1] if keep_previous else []
        self._secret_rotated(secrets=[secret, *kept])

    @event("SecretRotated")
    def _secret_rotated(self, secrets):
        self.secrets = list(secrets)

    def acknowledge(self, position, previous=None, deliveries=()) -> bool:
        """Deliveries up to `position` are done; an older or equal position changes nothing, nor
        does one acknowledged from a `previous` position that is no longer the subscription's (a
        replay moved it meanwhile). `deliveries` records what was disclosed to the subscriber:
        one {"id", "type", "subject", "sequence", "scope", "at"} per event delivered."""
        self._not_deleted()
        position = check_position("position", position)
        if previous is not None and check_position("previous", previous) != self.position:
            return False
        if position <= self.position:
            return False
        self._deliveries_acknowledged(position=position, deliveries=check_deliveries(deliveries))
        return True

    @event("DeliveriesAcknowledged")
    def _deliveries_acknowledged(self, position, deliveries=()):
        self.position = position
        self.delivered = getattr(self, "delivered", 0) + len(deliveries)

    def dead_letter(self, event_id, sequence, event_type, reason) -> None:
        """An event given up after the retry budget: kept for an operator to see and replay."""
        self._not_deleted()
        for name, value, limit in (("event_id", event_id, 100), ("event_type", event_type, 100),
                                   ("reason", reason, 500)):
            if not isinstance(value, str) or not 0 < len(value) <= limit:
                raise InvalidInput(name, f"must be text of 1 to {limit} characters", code="input.too_long")
        self._dead_lettered(event_id=event_id, sequence=check_position("sequence", sequence),
                            event_type=event_type, reason=reason)

    @event("DeadLettered")
    def _dead_lettered(self, event_id, sequence, event_type, reason):
        letters = list(getattr(self, "dead_letters", ()))
        letters.append({"event_id": event_id, "sequence": sequence, "type": event_type, "reason": reason})
        self.dead_letters = letters[-DEAD_LETTERS_KEPT:]

    def request_redrive(self, sequences=None, limit=DEAD_LETTERS_KEPT) -> list[int]:
        """An operator asks the delivery process to deliver these HTTP dead letters again (None:
        every one), at most `limit`, oldest first. They leave `dead_letters` for `redrive` until
        the delivery process reports them `redriven` (a new failure is a new dead letter)."""
        self._not_deleted()
        if self.protocol != "HTTP":
            raise Conflict("protocol", "an AMQP subscription's dead letters are in its dead-letter queue, "
                           "not here", code="subscription.redrive_not_http")
        limit = check_redrive_limit(limit)
        held = sorted({letter["sequence"] for letter in getattr(self, "dead_letters", ())})
        if not held:
            raise Conflict("sequences", "the subscription has no dead letters", code="subscription.nothing_to_redrive")
        chosen = held if sequences is None else check_sequences("sequences", sequences)
        unknown = sorted(set(chosen) - set(held))
        if unknown:
            raise NotFound("sequences", "not among the dead letters: " + ", ".join(map(str, unknown[:10])),
                           code="subscription.unknown_dead_letter")
        chosen = chosen[:limit]
        if len(self.redrive) + len(chosen) > DEAD_LETTERS_KEPT:
            raise Conflict("sequences", f"at most {DEAD_LETTERS_KEPT} dead letters wait to be re-driven: wait "
                           "until the delivery process has delivered those", code="subscription.redrive_full")
        self._dead_letters_redrive_requested(sequences=chosen)
        return chosen

    @event("DeadLettersRedriveRequested")
    def _dead_letters_redrive_requested(self, sequences):
        wanted = set(sequences)
        letters = list(getattr(self, "dead_letters", ()))
        self.redriving = [*getattr(self, "redriving", ()), *(x for x in letters if x["sequence"] in wanted)]
        self.dead_letters = [x for x in letters if x["sequence"] not in wanted]

    def redriven(self, sequences, deliveries=()) -> bool:
        """The delivery process delivered these re-driven dead letters again (or gave them up
        again: then they are new dead letters). `deliveries` records what was disclosed by the
        re-drive, as an acknowledgement does. False when none of them was waiting."""
        self._not_deleted()
        done = sorted(set(check_sequences("sequences", sequences)) & set(self.redrive))
        if not done:
            return False
        self._dead_letters_redriven(sequences=done, deliveries=check_deliveries(deliveries))
        return True

    @event("DeadLettersRedriven")
    def _dead_letters_redriven(self, sequences, deliveries=()):
        done = set(sequences)
        self.redriving = [x for x in getattr(self, "redriving", ()) if x["sequence"] not in done]
        self.delivered = getattr(self, "delivered", 0) + len(deliveries)

    def check_queue_redrive(self, sequences, limit) -> int:
        """An AMQP subscription's dead-letter queue is re-driven oldest first, up to `limit`: the
        broker's queue, not the sequences, decides which."""
        self._not_deleted()
        if self.protocol != "AMQP":
            raise Conflict("protocol", "an HTTP subscription's dead letters are re-driven by sequence",
                           code="subscription.redrive_not_amqp")
        if sequences is not None:
            raise InvalidInput("sequences", "an AMQP subscription's dead letters are re-driven oldest first: "
                               "give no sequences", code="subscription.redrive_sequences_amqp")
        return check_redrive_limit(limit)

    def queue_redriven(self, moved: int) -> None:
        """Record that `moved` messages went back from the dead-letter queue (who asked: the audit)."""
        self._queue_redriven(moved=check_redrive_limit(moved))

    @event("DeadLetterQueueRedriven")
    def _queue_redriven(self, moved):
        pass

    def rewind(self, after, since=None) -> None:
        """Replay: deliver again every event after this sequence number (it may be earlier);
        `since`: the time it was resolved from, recorded with it."""
        self._not_deleted()
        self._rewound(position=check_position("after", after), since=None if since is None else check_since(since))

    @event("Rewound")
    def _rewound(self, position, since=None):
        self.position, self.since = position, since

    def delete(self) -> None:
        self._not_deleted()
        self._deleted()

    @event("Deleted")
    def _deleted(self):
        self.state, self.secrets = DELETED, []


class Directory(AuditedAggregate):
    """Every subscription's id (one per store, at a fixed id): what `list` reads."""

    MAX = 1000
    ID = uuid5(NAMESPACE_URL, "urn:zhonglou-civil-affairs:subscriptions:directory")

    @staticmethod
    def create_id() -> UUID:
        return Directory.ID

    @event("Created")
    def __init__(self):
        self.ids: list[str] = []

    def add(self, subscription_id) -> None:
        if len(self.ids) >= self.MAX:
            raise Conflict("subscription", f"at most {self.MAX} subscriptions", code="subscription.too_many")
        self._added(subscription_id=str(subscription_id))

    @event("Added")
    def _added(self, subscription_id):
        self.ids.append(subscription_id)

    def remove(self, subscription_id) -> None:
        if str(subscription_id) in self.ids:
            self._removed(subscription_id=str(subscription_id))

    @event("Removed")
    def _removed(self, subscription_id):
        self.ids.remove(subscription_id)
