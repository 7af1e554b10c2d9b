"""Composition layer (deployment data): who may do what on the RabbitMQ broker, one table.

Every process of the platform connects to RabbitMQ as its own user, `<vhost>.<process>`, with
the least permissions it needs. RabbitMQ grants per virtual host three regular expressions over
the names of queues and exchanges:

    configure   declare or delete a queue or an exchange
    write       publish to an exchange; bind a queue (write on the queue)
    read        consume from or get a queue; bind a queue (read on the exchange)

and, for a topic exchange, two more over routing keys ("topic permissions"): write = the routing
keys it may publish with, read = the routing keys it may bind a queue with. Nameko's RPC
exchange `nameko-rpc` is a topic exchange, so topic permissions tell a request (routing key
`<service>.<method>`) from a reply (routing key = the caller's reply-queue UUID).

What each kind of process does on the broker (read from the code, not guessed):

- A domain's Nameko service (nameko/rpc.py `RpcConsumer`, `Responder`): declares the exchange
  `nameko-rpc` and its queue `rpc-<service>`, binds it with `<service>.*`, consumes it, and
  publishes each reply to `nameko-rpc` with the caller's reply key. Reporting and the
  subscription service (services/subscriptions) are the same.
- A domain's relay (shared/relay.py): declares and publishes to `<domain>.events`. Nothing else.
- The subscription service also re-drives an AMQP subscription's dead letters for an operator
  (services/subscriptions/amqp_sink.py `redrive`): gets from `subscription.<id>.dead`, publishes
  to `subscriptions.deliveries`. Its exchanges, queues and subscriber users are made through the
  RabbitMQ management API (the administrator's credentials), not with AMQP permissions.
- The subscriptions delivery process (services/subscriptions/delivery.py): publishes AMQP
  subscriptions' events to `subscriptions.deliveries` (amqp_sink.DELIVERY_PERMISSIONS). Nothing else.
- The projection (shared/consumer.py): declares every domain's `<domain>.events` exchange (so its
  queues can be bound before a relay ever ran), one quorum queue per domain
  `projection.read_model.<domain>` bound with `#` to that domain's exchange, and
  `projection.read_model.dead-letter`; consumes its queues; publishes dead letters (and
  `dead-letters requeue`) through the default exchange (`amq.default`); deletes the shared queue
  `projection.read_model` of the earlier single-consumer topology if it is still there.
- An RPC caller (the gateway, the demo runner, the benchmark; nameko/standalone/rpc.py):
  declares `nameko-rpc` and a reply queue `rpc.reply-standalone_rpc_proxy-<uuid>`, binds it with
  the UUID, consumes it, and publishes requests to `nameko-rpc` as `<service>.<method>`.
- Set-up (`python -m shared.setup`) never opens the broker: it has no user.

The limits, said plainly: a Nameko service must be able to write to `nameko-rpc` to reply;
its topic permission keeps it to reply keys (UUIDs: they never match a `<service>.*` binding, so
a service cannot send a request). A process that declares an exchange (configure) could also
delete it; RabbitMQ has no "declare but not delete". The projection's write on `amq.default`
lets it publish to any queue by name; Nameko dispatches RPC on the routing key
`<service>.<method>`, and a default-exchange message carries the queue's name instead, so that
cannot call a service method (tests/integration/test_broker_permissions.py shows the refusal).

    python -m shared.broker_users table                markdown of the table (docs/broker.md)
    python -m shared.broker_users commands VHOST       the rabbitmqctl commands, to run by hand
    python -m shared.broker_users apply VHOST          create or update every user (rabbitmqctl)
    python -m shared.broker_users delete VHOST         delete every user of the vhost
    python -m shared.broker_users passwords ENV_FILE   add missing AMQP_PASSWORD_<PROCESS> lines
    python -m shared.broker_users env                  `export AMQP_URI_<PROCESS>=...` lines
    python -m shared.broker_users uri PROCESS          one process's AMQP URI
    python -m shared.broker_users k8s-secret           a Secret manifest of the per-process URIs
Passwords come from the environment (`AMQP_PASSWORD_<PROCESS>`, as .env.local keeps them); the
broker's host, port and vhost from `AMQP_URI`.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from shared.errors import InvalidInput

RPC_EXCHANGE = "nameko-rpc"           # deploy/nameko.yml rpc_exchange, and Nameko's default
DEFAULT_EXCHANGE = "amq.default"      # what RabbitMQ checks for a publish to the "" exchange
PROJECTION_QUEUE = "projection.read_model"   # services/projection/__main__.py QUEUE
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# nameko/standalone/rpc.py: service_name "standalone_rpc_proxy"; rpc.py RPC_REPLY_QUEUE_TEMPLATE.
REPLY_QUEUE = rf"rpc\.reply-standalone_rpc_proxy-{UUID}"
METHOD = r"[A-Za-z_][A-Za-z0-9_]*"
NOTHING = "^$"                        # RabbitMQ's way of granting nothing
MAX_NAME = 100                        # vhost and process names: bounded (they make usernames)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
HASHING = "rabbit_password_hashing_sha256"
CALLERS = ("gateway", "demo", "bench")   # the only RPC callers: the gateway and internal systems


@dataclass(frozen=True)
class Grant:
    """One process's user: its permissions in the vhost, and on `nameko-rpc`'s routing keys."""
    process: str          # supervisord program / table key: social_assistance, relay_welfare, ...
    kind: str             # service | relay | projection | rpc caller
    does: str             # what it does on the broker, in words
    configure: str
    write: str
    read: str
    rpc_write: str | None = None  # topic permission on nameko-rpc: routing keys it may publish
    rpc_read: str | None = None   # ... and the routing keys it may bind a queue with


def _exactly(*names: str) -> str:
    """A regex matching exactly these names (RabbitMQ matches anywhere unless anchored)."""
    return "^(" + "|".join(re.escape(name) for name in names) + ")$"


def _service(name: str, kind: str = "service") -> Grant:
    queue = f"rpc-{name}"
    both = _exactly(RPC_EXCHANGE, queue)
    return Grant(name, kind, f"consumes {queue}, replies through {RPC_EXCHANGE}",
                 configure=both, write=both, read=both,
                 rpc_write=f"^{UUID}$", rpc_read=f"^{re.escape(name)}\\.\\*$")


def _relay(domain: str) -> Grant:
    exchange = f"{domain}.events"
    return Grant(f"relay_{domain}", "relay", f"publishes to {exchange} only",
                 configure=_exactly(exchange), write=_exactly(exchange), read=NOTHING)


def _projection(domains: tuple[str, ...]) -> Grant:
    # One queue per source (services/projection/__main__.py source_queues), the shared dead
    # letters, and the retired shared queue (configure: to unbind and delete it).
    queues = (*(f"{PROJECTION_QUEUE}.{d}" for d in domains), PROJECTION_QUEUE, f"{PROJECTION_QUEUE}.dead-letter")
    exchanges = tuple(f"{d}.events" for d in domains)
    return Grant("projection", "projection",
                 f"consumes {PROJECTION_QUEUE}.<domain> (each bound to its domain's events exchange); "
                 f"dead-letters through the default exchange; never nameko-rpc",
                 configure=_exactly(*exchanges, *queues), write=_exactly(*queues, DEFAULT_EXCHANGE),
                 read=_exactly(*exchanges, *queues))


def _subscriptions() -> Grant:
    """The subscription service: a Nameko service, and the operator's re-drive of an AMQP
    subscription's dead letters (services/subscriptions/amqp_sink.py `redrive`: basic.get from
    `subscription.<id>.dead`, publish to the deliveries exchange, confirmed before the ack). Its
    queues, exchanges and subscriber users are made through the management API, not over AMQP."""
    from services.subscriptions import amqp_sink
    base = _service("subscriptions")
    queue, dead = "rpc-subscriptions", rf"subscription\.{UUID}\.dead"
    return Grant(base.process, base.kind, f"{base.does}; re-drives dead letters: gets from "
                 f"subscription.<id>.dead, publishes to {amqp_sink.DELIVERIES_EXCHANGE}",
                 configure=base.configure,
                 write=_exactly(RPC_EXCHANGE, queue, amqp_sink.DELIVERIES_EXCHANGE),
                 read=f"^({re.escape(RPC_EXCHANGE)}|{re.escape(queue)}|{dead})$",
                 rpc_write=base.rpc_write, rpc_read=base.rpc_read)


def _delivery() -> Grant:
    """The delivery process (services/subscriptions/delivery.py): publishes each AMQP
    subscription's events to the deliveries exchange; reads its feeds over HTTP, not the broker."""
    from services.subscriptions import amqp_sink
    allowed = amqp_sink.DELIVERY_PERMISSIONS
    return Grant("subscriptions_delivery", "delivery",
                 f"publishes to {amqp_sink.DELIVERIES_EXCHANGE} only (AMQP subscriptions' events)",
                 configure=allowed["configure"], write=allowed["write"], read=allowed["read"])


def _caller(name: str, services: tuple[str, ...], what: str) -> Grant:
    both = f"^({re.escape(RPC_EXCHANGE)}|{REPLY_QUEUE})$"
    callees = "(" + "|".join(re.escape(s) for s in services) + ")"
    return Grant(name, "rpc caller", f"{what}: calls {', '.join(services)} over RPC",
                 configure=both, write=both, read=both,
                 rpc_write=f"^{callees}\\.{METHOD}$", rpc_read=f"^{UUID}$")


def table(domains: tuple[str, ...] | None = None) -> list[Grant]:
    """Every broker user of the platform, for the registered domains (or the ones given)."""
    if domains is None:
        from shared import domains as registry
        domains = registry.names()
    services = (*domains, "reporting", "subscriptions")
    grants = [g for d in domains for g in (_service(d), _relay(d))]
    grants += [_projection(domains), _service("reporting", "service"), _subscriptions(), _delivery(),
               _caller("gateway", services, "the HTTP gateway"),
               _caller("demo", services, "the demo runner (deploy/demo.py)"),
               _caller("bench", services, "the benchmark (make bench)")]
    return grants


def grant(process: str, domains: tuple[str, ...] | None = None) -> Grant:
    for found in table(domains):
        if found.process == process:
            return found
    raise InvalidInput("process", "must be a process of the broker-users table", code="input.unknown_process",
                       message=f"process: {process[:MAX_NAME]!r} is not in the broker-users table "
                               f"({', '.join(g.process for g in table(domains))})")


# --- names, passwords, URIs ---------------------------------------------------------------------

def checked(field: str, name: str) -> str:
    """A vhost or process name fit to be part of a username; InvalidInput otherwise."""
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME or not NAME.match(name):
        raise InvalidInput(field, f"must be 1..{MAX_NAME} letters, digits, '_', '.' or '-', "
                                  "starting with a letter or digit", code="input.broker_name")
    return name


def username(vhost: str, process: str) -> str:
    """Per vhost, so two platforms (or two test sessions) on one broker never share a user."""
    return f"{checked('vhost', vhost)}.{checked('process', process)}"


def password_variable(process: str) -> str:
    return f"AMQP_PASSWORD_{checked('process', process).upper()}"


def uri_variable(process: str) -> str:
    return f"AMQP_URI_{checked('process', process).upper()}"


def new_password() -> str:
    return secrets.token_urlsafe(24)   # URL-safe: it goes into an AMQP URI as it is


def passwords(environ=None, domains: tuple[str, ...] | None = None) -> dict[str, str]:
    """{process: password} from AMQP_PASSWORD_<PROCESS>; a missing one is an error naming it."""
    env = os.environ if environ is None else environ
    found = {}
    for g in table(domains):
        value = env.get(password_variable(g.process), "")
        if not value:
            raise InvalidInput(password_variable(g.process), "must be set (make run keeps it in .env.local)",
                               code="input.required")
        found[g.process] = value
    return found


def vhost_of(amqp_uri: str) -> str:
    """py-amqp's reading: an empty path is the default vhost "/"."""
    path = urlsplit(amqp_uri).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def process_uri(amqp_uri: str, process: str, password: str) -> str:
    """`amqp_uri`'s broker and vhost, with the process's own user and password."""
    parts = urlsplit(amqp_uri)
    user = username(vhost_of(amqp_uri), process)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme or "amqp", netloc, parts.path, parts.query, ""))


def process_uris(amqp_uri: str, secrets_by_process: dict[str, str]) -> dict[str, str]:
    return {process: process_uri(amqp_uri, process, pw) for process, pw in secrets_by_process.items()}


# --- what the broker is told ----------------------------------------------------------------------

def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's salted SHA-256 (rabbit_password_hashing_sha256), so no password is ever on a
    command line or in a file: base64(salt[4] + sha256(salt + password))."""
    salt = os.urandom(4) if salt is None else salt
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def definitions(vhost: str, secrets_by_process: dict[str, str],
                domains: tuple[str, ...] | None = None) -> dict:
    """The users, permissions and topic permissions as RabbitMQ definitions (import_definitions
    merges them: users and vhosts not named here stay as they are)."""
    grants = table(domains)
    users, permissions, topics = [], [], []
    for g in grants:
        user = username(vhost, g.process)
        users.append({"name": user, "password_hash": password_hash(secrets_by_process[g.process]),
                      "hashing_algorithm": HASHING, "tags": []})
        permissions.append({"user": user, "vhost": vhost, "configure": g.configure,
                            "write": g.write, "read": g.read})
        if g.rpc_write is not None:
            topics.append({"user": user, "vhost": vhost, "exchange": RPC_EXCHANGE,
                           "write": g.rpc_write, "read": g.rpc_read})
    return {"vhosts": [{"name": vhost}], "users": users, "permissions": permissions,
            "topic_permissions": topics}


def commands(vhost: str, secrets_by_process: dict[str, str] | None = None,
             domains: tuple[str, ...] | None = None) -> list[list[str]]:
    """The same as rabbitmqctl command lines, for an operator on the broker's host. Without
    passwords, `$AMQP_PASSWORD_<PROCESS>` stands for each (the shell expands it)."""
    lines = []
    for g in table(domains):
        user = username(vhost, g.process)
        pw = (secrets_by_process or {}).get(g.process) or f"${password_variable(g.process)}"
        lines += [["rabbitmqctl", "add_user", user, pw],
                  ["rabbitmqctl", "set_permissions", "-p", vhost, user, g.configure, g.write, g.read]]
        if g.rpc_write is not None:
            lines.append(["rabbitmqctl", "set_topic_permissions", "-p", vhost, user, RPC_EXCHANGE,
                          g.rpc_write, g.rpc_read])
    return lines


def shell_line(argv: list[str]) -> str:
    def word(w: str) -> str:
        if w.startswith("$AMQP_PASSWORD_"):
            return f'"{w}"'
        return w if re.fullmatch(r"[A-Za-z0-9_./:=@-]+", w) else "'" + w.replace("'", "'\\''") + "'"
    return " ".join(word(w) for w in argv)


class BrokerToolMissing(RuntimeError):
    """rabbitmqctl is not on this machine (a remote broker): say what to run where."""


def _ctl(ctl: str | None) -> str:
    found = ctl or shutil.which("rabbitmqctl")
    if not found:
        raise BrokerToolMissing("rabbitmqctl not found: run `python -m shared.broker_users commands "
                                "VHOST` and those commands on the broker's host")
    return found


def apply(vhost: str, secrets_by_process: dict[str, str], *, ctl: str | None = None,
          domains: tuple[str, ...] | None = None, timeout: float = 30.0) -> list[str]:
    """Create or update every user of the table in `vhost` (idempotent): one
    `rabbitmqctl import_definitions` (about a second, however many users), then waits until the
    broker shows every user's permissions (the import is asynchronous). Returns the usernames."""
    ctl = _ctl(ctl)
    wanted = definitions(vhost, secrets_by_process, domains)
    # On stdin: the broker node (another OS user) need not read a file of ours.
    run = subprocess.run([ctl, "-q", "import_definitions", "--format", "json"], input=json.dumps(wanted),
                         capture_output=True, text=True, timeout=timeout)
    if run.returncode != 0:
        raise RuntimeError(f"rabbitmqctl import_definitions failed: {(run.stderr or run.stdout).strip()[:500]}")
    names = [u["name"] for u in wanted["users"]]
    _wait_for_permissions(ctl, vhost, names, timeout)
    return names


def _wait_for_permissions(ctl: str, vhost: str, names: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        listed = subprocess.run([ctl, "-q", "list_permissions", "-p", vhost], capture_output=True,
                                text=True, timeout=timeout)
        present = {line.split("\t", 1)[0] for line in listed.stdout.splitlines()}
        missing = [n for n in names if n not in present]
        if not missing:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the broker still lacks the permissions of {', '.join(missing)}")
        time.sleep(0.2)


def delete(vhost: str, *, ctl: str | None = None, domains: tuple[str, ...] | None = None) -> None:
    """Delete every user of the table in `vhost`. One `rabbitmqctl eval` deletes them all (a
    rabbitmqctl call costs about a second; the names are checked, so they are safe inside an
    Erlang binary); if the broker refuses eval, one delete_user each, in parallel."""
    ctl = _ctl(ctl)
    names = {username(vhost, g.process) for g in table(domains)}
    # ... and any other `<vhost>.` user (a domain since taken off the registry, a test's domain).
    users = subprocess.run([ctl, "-q", "list_users"], capture_output=True, text=True, timeout=60).stdout
    names |= {line.split("\t", 1)[0] for line in users.splitlines()
              if line.startswith(f"{vhost}.") and NAME.match(line.split("\t", 1)[0])}
    names = sorted(names)
    listed = ", ".join(f'<<"{name}">>' for name in names)
    code = f'[catch rabbit_auth_backend_internal:delete_user(U, <<"broker_users">>) || U <- [{listed}]], ok.'
    if subprocess.run([ctl, "-q", "eval", code], capture_output=True, timeout=60).returncode == 0:
        return
    running = [subprocess.Popen([ctl, "-q", "delete_user", name], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL) for name in names]
    for process in running:
        process.wait(60)


# --- the table for people -------------------------------------------------------------------------

def markdown(domains: tuple[str, ...] | None = None) -> str:
    def code(regex: str) -> str:
        return "`" + regex.replace("|", "\\|") + "`"   # a bare | would end the table cell
    rows = ["| process (user `<vhost>.<process>`) | kind | what it does | configure | write | read | "
            "nameko-rpc routing keys: publish / bind |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for g in table(domains):
        topic = f"{code(g.rpc_write)} / {code(g.rpc_read)}" if g.rpc_write else "– (no access)"
        rows.append(f"| {g.process} | {g.kind} | {g.does} | {code(g.configure)} | {code(g.write)} | "
                    f"{code(g.read)} | {topic} |")
    return "\n".join(rows) + "\n"


def k8s_secret(amqp_uri: str, secrets_by_process: dict[str, str] | None = None) -> str:
    """A Secret with one `AMQP_URI_<PROCESS>` key per process (placeholders without passwords),
    to merge into `platform-secrets`; never commit it filled in."""
    lines = ["apiVersion: v1", "kind: Secret", "metadata:", "  name: platform-secrets",
             "  namespace: civil-affairs", "type: Opaque", "stringData:"]
    for g in table():
        pw = (secrets_by_process or {}).get(g.process, f"CHANGE-ME-{g.process}")
        lines.append(f"  {uri_variable(g.process)}: \"{process_uri(amqp_uri, g.process, pw)}\"")
    return "\n".join(lines) + "\n"


# --- the command line -----------------------------------------------------------------------------

def add_missing_passwords(env_file: str, environ=None) -> list[str]:
    """Append a fresh AMQP_PASSWORD_<PROCESS> line for each process the file (and environment)
    lacks; generated once, so a second `make run` keeps the same passwords."""
    env = os.environ if environ is None else environ
    try:
        with open(env_file, encoding="utf-8") as f:
            present = {line.split("=", 1)[0].strip() for line in f if "=" in line}
    except FileNotFoundError:
        present = set()
    added = [password_variable(g.process) for g in table()
             if password_variable(g.process) not in present and not env.get(password_variable(g.process))]
    if added:
        with open(env_file, "a", encoding="utf-8") as f:
            f.writelines(f"{variable}={new_password()}\n" for variable in added)
    return added


def _amqp_uri(environ) -> str:
    return environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")


def main(argv=None, environ=None) -> int:
    env = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(prog="python -m shared.broker_users", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["table", "commands", "apply", "delete", "passwords", "env",
                                           "uri", "k8s-secret"])
    parser.add_argument("argument", nargs="?", default=None,
                        help="VHOST (commands, apply, delete), ENV_FILE (passwords), PROCESS (uri)")
    args = parser.parse_args(argv)
    try:
        return _run(args.action, args.argument, env)
    except (InvalidInput, BrokerToolMissing, RuntimeError) as error:
        print(f"broker_users: {error}", file=sys.stderr)
        return 2


def _run(action: str, argument: str | None, env) -> int:
    if action == "table":
        sys.stdout.write(markdown())
    elif action == "passwords":
        added = add_missing_passwords(argument or ".env.local", env)
        if added:
            print(f"broker_users: wrote {len(added)} new broker passwords to {argument or '.env.local'}",
                  file=sys.stderr)
    elif action == "env":
        for process, uri in process_uris(_amqp_uri(env), passwords(env)).items():
            print(f"export {uri_variable(process)}='{uri}'")
    elif action == "uri":
        process = grant(argument or "").process
        print(process_uri(_amqp_uri(env), process, passwords(env)[process]))
    elif action == "k8s-secret":
        sys.stdout.write(k8s_secret(_amqp_uri(env)))
    else:
        vhost = checked("vhost", argument or vhost_of(_amqp_uri(env)))
        if action == "commands":
            known = {g.process: env.get(password_variable(g.process), "") for g in table()}
            for line in commands(vhost, {k: v for k, v in known.items() if v}):
                print(shell_line(line))
        elif action == "apply":
            names = apply(vhost, passwords(env))
            print(f"broker_users: {len(names)} users of vhost {vhost} created or updated", file=sys.stderr)
        else:
            delete(vhost)
    return 0


if __name__ == "__main__":
    sys.exit(main())
