"""The deployment files, rendered from the registry of domains (services/registry.py).

    python -m deploy.render               write every rendered file (commit them)
    python -m deploy.render --check       exit 1, listing the files that differ from a rendering
    python -m deploy.render --out DIR     write the rendering under DIR instead of the checkout
    python -m deploy.render env           shell lines exporting the `make run` ports and URLs
    python -m deploy.render banner        what `make run` started, and where (reads the ports)
    python -m deploy.render supervisord   the supervisord.conf of the registered domains, to stdout
    python -m deploy.render targets       Prometheus file_sd JSON: every `make run` process's port
    ... --replicas N                      (env, banner, supervisord, targets) N processes of every
                                          stateless program (`make run REPLICAS=N`), 1..8

Rendered: deploy/supervisord.conf (`make run`), docker-compose.yml, k8s/base/<slug>.yaml and
<slug>-relay.yaml per domain, k8s/base/projection.yaml, reporting.yaml, subscriptions.yaml,
subscriptions-delivery.yaml, gateway.yaml (with its Ingress), kustomization.yaml,
k8s/overlays/production/kustomization.yaml and pdb.yaml, and the ports table of
docs/deployment.md. tests/deploy/test_rendered.py fails when what is committed differs from what
this renders. Adding a domain to every deployment is its registry entry, then this command.

Ports: inside a container every domain service (and reporting) listens on SERVICE_PORT and every
relay (and the projection's and the subscriptions delivery process's metrics) on RELAY_PORT
(shared/domains.py). On one host (`make run`,
the ports docker-compose publishes) each process has its own: a domain's `http_port` and
`relay_port` from its declaration, the projection's and reporting's below. Every host port can be
overridden through its environment variable (`<NAME>_PORT`, `RELAY_<NAME>_PORT`,
`PROJECTION_PORT`, `REPORTING_PORT`, `SUBSCRIPTIONS_PORT`, `SUBSCRIPTIONS_DELIVERY_PORT`, `GATEWAY_PORT`).

Instances on one host (`make run`, supervisord): every relay runs twice, `relay_<domain>` and
`relay_<domain>_2` (active and standby on the lease `relay:<domain>`, shared/relay.py), and with
`--replicas N` every domain's Nameko service, reporting, the subscription service and the gateway
run N times: instance i > 1 is the program `<program>_<i>` on the port variable `<VARIABLE>_<i>`,
by default the first instance's port + 100 * (i - 1) (SOCIAL_ASSISTANCE_PORT_2=8101,
RELAY_WELFARE_PORT_2=9205, GATEWAY_PORT_2=8110). The first instance keeps its program name and port,
so nothing else changes. The projection (one process, a worker thread per source) and the delivery
process (one per platform) run once. Compose and Kubernetes scale with replicas instead.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from deploy import dashboards
from shared import domains
from shared.domains import RELAY_PORT, SERVICE_PORT, Domain

ROOT = Path(__file__).resolve().parent.parent
NAMEKO_CONFIG = "deploy/nameko.yml"
# The generic processes' host ports under `make run` (the domains declare theirs).
PROJECTION_HOST_PORT = 9102
REPORTING_HOST_PORT = 8003
SUBSCRIPTIONS_HOST_PORT = 8006
SUBSCRIPTIONS_DELIVERY_HOST_PORT = 9110
# Where the delivery process may deliver webhooks besides public addresses (comma-separated
# CIDRs). On one host (`make run`, the tests' platform) loopback, so local receivers work; in
# compose and Kubernetes nothing by default: public networks only (docs/subscriptions.md).
LOCAL_ALLOW_NETWORKS = "127.0.0.0/8"
# Inside compose and Kubernetes: the broker's management API (the subscription service makes the
# AMQP sinks through it).
MANAGEMENT_URL = "http://rabbitmq:15672"
# Where an AMQP subscriber reaches the broker from outside the cluster (handed out with its
# credentials): a placeholder, like the Ingress host; set yours in an overlay.
K8S_BROKER_URL = "amqps://broker.civil-affairs.example.org:5671"
GATEWAY_HOST_PORT = 8010
# Where the gateway's containers read the JWKS (a mounted Secret in k8s, a compose secret).
GATEWAY_JWKS_MOUNT = "/etc/gateway-jwks"
DOCS = "docs/deployment.md"
DOCS_BEGIN = "<!-- ports: rendered by `python -m deploy.render` from the registry; do not edit -->"
DOCS_END = "<!-- end of the rendered ports -->"
YAML_NOTE = ("# Rendered by `python -m deploy.render` from services/registry.py: edit deploy/render.py\n"
             "# (or the registry), not this file; tests/deploy/test_rendered.py checks it.\n")


@dataclass(frozen=True)
class Process:
    """One long-running process of the platform, in every deployment."""
    program: str              # supervisord program: social_assistance, relay_social_assistance
    name: str                 # compose service, k8s Deployment/Service: social-assistance-relay
    command: tuple[str, ...]
    role: str                 # service | relay | projection | reporting | subscriptions | delivery | gateway
    port_variable: str        # where `make run` reads its host port: SOCIAL_ASSISTANCE_PORT
    host_port: int            # its default on one host
    domain: Domain | None = None

    @property
    def http(self) -> bool:
        """Answers HTTP with /healthz (a Nameko service or the gateway); otherwise metrics only."""
        return self.role in ("service", "reporting", "subscriptions", "gateway")

    @property
    def nameko(self) -> bool:
        """A Nameko service: eventlet, WEB_SERVER_ADDRESS, PSYCOPG_WAIT_FUNC."""
        return self.role in ("service", "reporting", "subscriptions")

    @property
    def container_port(self) -> int:
        return SERVICE_PORT if self.http else RELAY_PORT

    @property
    def health(self) -> str:
        return "/healthz" if self.http else "/metrics"

    @property
    def key_holder(self) -> bool:
        """Opens an event store, so it needs CIPHER_KEY (the projection and reporting never; the
        delivery process opens the subscriptions' store)."""
        return self.role in ("service", "relay", "subscriptions", "delivery")

    @property
    def feed_reader(self) -> bool:
        """Reads every domain's /events feed through <NAME>_URL."""
        return self.role in ("projection", "delivery")

    def listen_env(self, port) -> tuple[str, str]:
        if self.role == "gateway":
            return ("GATEWAY_PORT", str(port))
        return ("WEB_SERVER_ADDRESS", f"0.0.0.0:{port}") if self.http else ("METRICS_PORT", str(port))


def amqp_variable(process: Process) -> str:
    """Where a process finds its own broker user's URI (shared/broker_users.py): AMQP_URI_RELAY_WELFARE.
    `make run` exports one per program; each program gets it as its AMQP_URI."""
    from shared import broker_users
    return broker_users.uri_variable(process.program)


def _nameko(module: str) -> tuple[str, ...]:
    return ("nameko", "run", "--config", NAMEKO_CONFIG, module)


def url_variable(domain: Domain) -> str:
    """Where the projection (and the tools) find a domain's HTTP interface: SOCIAL_ASSISTANCE_URL."""
    return f"{domain.name.upper()}_URL"


def domain_processes(domain: Domain) -> tuple[Process, Process]:
    if domain.service is None:
        raise domains.RegistryError(f"domain {domain.name} declares no service: every deployment "
                                    "runs one Nameko service per domain")
    if not domain.http_port or not domain.relay_port:
        raise domains.RegistryError(f"domain {domain.name} declares no http_port/relay_port "
                                    "(its host ports under `make run`)")
    upper = domain.name.upper()
    return (Process(domain.name, domain.slug, _nameko(domain.service), "service", f"{upper}_PORT",
                    domain.http_port, domain),
            Process(f"relay_{domain.name}", f"{domain.slug}-relay",
                    ("python", "-m", "shared.relay", domain.name), "relay", f"RELAY_{upper}_PORT",
                    domain.relay_port, domain))


def processes(found: tuple[Domain, ...] | None = None) -> list[Process]:
    """Every long-running process: each domain's service and relay, the projection, reporting,
    the subscription service and its delivery process, the HTTP gateway."""
    found = domains.registered() if found is None else found
    listed = [p for domain in found for p in domain_processes(domain)]
    listed += [Process("projection", "projection", ("python", "-m", "services.projection"),
                       "projection", "PROJECTION_PORT", PROJECTION_HOST_PORT),
               Process("reporting", "reporting", _nameko("services.reporting.service"),
                       "reporting", "REPORTING_PORT", REPORTING_HOST_PORT),
               Process("subscriptions", "subscriptions", _nameko("services.subscriptions.service"),
                       "subscriptions", "SUBSCRIPTIONS_PORT", SUBSCRIPTIONS_HOST_PORT),
               Process("subscriptions_delivery", "subscriptions-delivery",
                       ("python", "-m", "services.subscriptions.delivery"), "delivery",
                       "SUBSCRIPTIONS_DELIVERY_PORT", SUBSCRIPTIONS_DELIVERY_HOST_PORT),
               Process("gateway", "gateway", ("python", "-m", "services.gateway"), "gateway",
                       "GATEWAY_PORT", GATEWAY_HOST_PORT)]
    ports: dict[int, str] = {}
    for process in listed:
        if process.host_port in ports:
            raise domains.RegistryError(f"{process.name} and {ports[process.host_port]} both use "
                                        f"host port {process.host_port}; give one another port")
        ports[process.host_port] = process.name
    return listed


MAX_REPLICAS = 8
REPLICA_PORT_STEP = 100
RELAY_INSTANCES = 2          # the active relay and its standby, on one lease
STATELESS = ("service", "reporting", "subscriptions", "gateway")


@dataclass(frozen=True)
class Instance:
    """One copy of a process on one host (`make run`): the first keeps the process's names."""
    process: Process
    index: int                # 1, 2, ...

    @property
    def program(self) -> str:
        return self.process.program if self.index == 1 else f"{self.process.program}_{self.index}"

    @property
    def port_variable(self) -> str:
        return self.process.port_variable if self.index == 1 else f"{self.process.port_variable}_{self.index}"

    @property
    def host_port(self) -> int:
        return self.process.host_port + REPLICA_PORT_STEP * (self.index - 1)

    @property
    def standby(self) -> bool:
        """A relay's second copy: it starts as the standby (whichever holds the lease publishes)."""
        return self.process.role == "relay" and self.index > 1


def copies(process: Process, replicas: int) -> int:
    """How many instances of a process one host runs."""
    if process.role == "relay":
        return RELAY_INSTANCES
    return replicas if process.role in STATELESS else 1


def check_replicas(replicas) -> int:
    if not isinstance(replicas, int) or isinstance(replicas, bool) or not 1 <= replicas <= MAX_REPLICAS:
        raise domains.RegistryError(f"replicas must be a whole number from 1 to {MAX_REPLICAS}, not {replicas!r}")
    return replicas


def instances(found: tuple[Domain, ...] | None = None, replicas: int = 1) -> list[Instance]:
    """Every process instance `make run` starts, in order; a host port taken twice is refused."""
    check_replicas(replicas)
    listed = [Instance(p, i) for p in processes(found) for i in range(1, copies(p, replicas) + 1)]
    ports: dict[int, str] = {}
    for instance in listed:
        if instance.host_port in ports:
            raise domains.RegistryError(f"{instance.program} and {ports[instance.host_port]} both use host "
                                        f"port {instance.host_port}; give one another port")
        ports[instance.host_port] = instance.program
    return listed


def _flow(items) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


# --- supervisord (make run) ---------------------------------------------------------------------
SUPERVISORD_HEAD = """\
; The processes of `make run`, kept alive by supervisord: one that dies (even by SIGKILL) is
; started again and resumes from its recorded position. Ports and settings come from the
; environment deploy/run.sh prepares (%(ENV_X)s is supervisord's way of reading it).
; Rendered by `python -m deploy.render` from services/registry.py: edit deploy/render.py (or the
; registry), not this file; tests/deploy/test_rendered.py checks it.
[supervisord]
nodaemon=true
logfile=%(here)s/../.run/supervisord.log
pidfile=%(here)s/../.run/supervisord.pid
childlogdir=%(here)s/../.run

[unix_http_server]
file=%(here)s/../.run/supervisor.sock

[supervisorctl]
serverurl=unix://%(here)s/../.run/supervisor.sock

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
"""

SUPERVISORD_PROGRAM = """
[program:{program}]
command={command}
environment={variable}="{value}",AMQP_URI="%(ENV_{amqp_variable})s"{extra}
directory=%(here)s/..
autorestart=true
startsecs=2
stopasgroup=true
killasgroup=true
redirect_stderr=true
stdout_logfile=/dev/stdout
stdout_logfile_maxbytes=0
"""


def supervisord_conf(found: tuple[Domain, ...], replicas: int = 1) -> str:
    """Every instance a program (a relay twice: active and standby; with `replicas` N, each
    stateless process N times, on its own port); copies share their process's broker user."""
    text = SUPERVISORD_HEAD
    listed = instances(found, replicas)
    for instance in listed:
        process = instance.process
        variable, value = process.listen_env(f"%(ENV_{instance.port_variable})s")
        # The delivery process's allow-list: deploy/run.sh (shell_env) defaults it to loopback.
        extra = (',SUBSCRIPTIONS_ALLOW_NETWORKS="%(ENV_SUBSCRIPTIONS_ALLOW_NETWORKS)s"'
                 if process.role == "delivery" else "")
        if instance.standby:
            text += (f"\n; The standby of {process.program}: waits on the lease relay:{process.domain.name} "
                     "and takes over when the active relay dies.")
        text += SUPERVISORD_PROGRAM.format(program=instance.program, command=" ".join(process.command),
                                           variable=variable, value=value, extra=extra,
                                           amqp_variable=amqp_variable(process))
    text += "\n; Settings every program shares.\n[group:platform]\n"
    text += "programs=" + ",".join(i.program for i in listed) + "\n"
    return text


# --- docker-compose -----------------------------------------------------------------------------
COMPOSE_HEAD = """\
# The whole platform on one machine, including its own PostgreSQL and RabbitMQ: for machines
# that have neither installed locally. See docs/deployment.md.
#
#     export CIPHER_KEY=$(python -m shared.keys)   # keep it: events written with it need it
#     docker compose up --build -d
#
# Published ports bind to 127.0.0.1 by default (the API serves personal data); set
# PUBLISH_ADDRESS=0.0.0.0 to expose them on the network. Inside its container every service
# listens on {service_port} and every relay (and the metrics of the projection and of the
# subscriptions delivery process) on {relay_port}; each is published on its own host port (the
# same as under `make run`).
#
{note}
name: civil-affairs

# Settings every platform process reads (shared/config.py). Merged into each service below.
x-platform-env: &platform-env
  AMQP_URI: &amqp-uri amqp://${{RABBITMQ_USER:-guest}}:${{RABBITMQ_PASSWORD:-guest}}@rabbitmq:5672/
  POSTGRES_HOST: postgres
  POSTGRES_PORT: "5432"
  POSTGRES_USER: ${{POSTGRES_USER:-postgres}}
  POSTGRES_PASSWORD: ${{POSTGRES_PASSWORD:-civil_affairs}}
  POSTGRES_DBNAME: civil_affairs
  LOG_LEVEL: ${{LOG_LEVEL:-INFO}}

# ... plus the AES key of the event store, for the processes that open one (set-up, the services
# and their relays; the projection and reporting never see it). No default on purpose: a made-up
# key would encrypt events that nothing else can read. They all need the same key.
x-event-store-env: &event-store-env
  <<: *platform-env
  CIPHER_KEY: ${{CIPHER_KEY:?set CIPHER_KEY, generate one with python -m shared.keys}}

# What the long-running processes share: the image, the wait for the set-up step and the
# infrastructure, restarts, and the memory ceiling (the services target <= 150 MB RSS; the same
# 256 MiB limit as in k8s/, so a leak shows here first).
x-platform-process: &platform-process
  image: civil-affairs-platform:local
  init: true            # tini as PID 1: forwards SIGTERM, reaps children
  restart: unless-stopped
  mem_limit: 256m
  depends_on:
    setup:
      condition: service_completed_successfully
    postgres:
      condition: service_healthy
    rabbitmq:
      condition: service_healthy

services:
  postgres:
    image: postgres:15
    environment:
      POSTGRES_USER: ${{POSTGRES_USER:-postgres}}
      POSTGRES_PASSWORD: ${{POSTGRES_PASSWORD:-civil_affairs}}
      # The civil_affairs database itself is created by the setup step, not by the image.
    volumes:
      - postgres-data:/var/lib/postgresql/data
    ports:
      - "${{PUBLISH_ADDRESS:-127.0.0.1}}:${{POSTGRES_PUBLISHED_PORT:-5432}}:5432"
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U \\"$$POSTGRES_USER\\" -d postgres -h 127.0.0.1"]
      interval: 5s
      timeout: 5s
      retries: 20
    restart: unless-stopped

  rabbitmq:
    image: rabbitmq:3.13-management
    # RabbitMQ names its node (and so its data directory) after the host name: a fixed one keeps
    # the queues in the volume across container re-creation.
    hostname: rabbitmq
    environment:
      RABBITMQ_DEFAULT_USER: ${{RABBITMQ_USER:-guest}}
      RABBITMQ_DEFAULT_PASS: ${{RABBITMQ_PASSWORD:-guest}}
    volumes:
      - rabbitmq-data:/var/lib/rabbitmq
    ports:
      - "${{PUBLISH_ADDRESS:-127.0.0.1}}:${{RABBITMQ_PUBLISHED_PORT:-5672}}:5672"
      - "${{PUBLISH_ADDRESS:-127.0.0.1}}:15672:15672"     # management UI
    healthcheck:
      # Checks that the AMQP listener accepts connections, not just that the node is up.
      test: ["CMD", "rabbitmq-diagnostics", "-q", "check_port_connectivity"]
      interval: 10s
      timeout: 10s
      retries: 12
      start_period: 20s
    restart: unless-stopped

  # One-shot: creates the database, the schemas and the tables (idempotent), then exits 0.
  # It is the one service that builds the image; the others use the same tag (compose builds it
  # once and does not try to pull it for them).
  setup:
    image: civil-affairs-platform:local
    build:
      context: .
      dockerfile: deploy/Dockerfile
    command: ["python", "-m", "shared.setup"]
    environment:
      <<: *event-store-env
    depends_on:
      postgres:
        condition: service_healthy
      rabbitmq:
        condition: service_healthy
    restart: "no"
"""

COMPOSE_HEALTHCHECK = """\
    ports:
      - "${{PUBLISH_ADDRESS:-127.0.0.1}}:{host}:{port}"
    healthcheck:
      # The image has no curl; urlopen raises (exit 1) on refusal or an HTTP error status.
      test: ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}{health}', timeout=3)"]
      interval: 10s
      timeout: 5s
      retries: 3
      start_period: 30s
"""


COMPOSE_GATEWAY = """\
  # The HTTP gateway (docs/gateway.md): every domain's commands and queries behind Bearer tokens,
  # verified against the JWKS mounted read-only from the secret below. It reaches the services
  # over RPC only: no database settings, no cipher key.
  gateway:
    <<: *platform-process
    command: {command}
    environment:
      AMQP_URI: *amqp-uri
      LOG_LEVEL: ${{LOG_LEVEL:-INFO}}
      GATEWAY_HOST: 0.0.0.0
      GATEWAY_PORT: "{port}"
      # The mounted file, or the https URL of an OIDC provider's JWKS.
      GATEWAY_JWKS: ${{GATEWAY_JWKS_URL:-/run/secrets/gateway-jwks}}
      # Passed on when set in the caller's environment; else the gateway's defaults.
      GATEWAY_ISSUER:
      GATEWAY_AUDIENCE:
      GATEWAY_RATE_LIMIT:
      GATEWAY_RATE_BURST:
    secrets:
      - gateway-jwks
"""

COMPOSE_SECRETS = """
secrets:
  # The public keys the gateway verifies tokens with: by default the development key set
  # `make run` writes (deploy/run.sh; or `python -m services.gateway.tokens keys .gateway-keys`);
  # point GATEWAY_JWKS_FILE at your identity provider's JWKS saved to a file. Only the public
  # jwks.json is mounted, never private.pem.
  gateway-jwks:
    file: ${GATEWAY_JWKS_FILE:-./.gateway-keys/jwks.json}
"""


COMPOSE_MANAGEMENT = """\
      # It makes each AMQP subscription's queues and user through the broker's management API,
      # as the broker's administrator (the rabbitmq service's own user here).
      RABBITMQ_MANAGEMENT_URL: {url}
      RABBITMQ_MANAGEMENT_USER: ${{RABBITMQ_USER:-guest}}
      RABBITMQ_MANAGEMENT_PASSWORD: ${{RABBITMQ_PASSWORD:-guest}}
      # Where a subscriber reaches the broker (handed out with its credentials): the published port.
      SUBSCRIPTIONS_BROKER_URL: ${{SUBSCRIPTIONS_BROKER_URL:-amqp://127.0.0.1:5672}}
"""

COMPOSE_DELIVERY = """\
      RABBITMQ_MANAGEMENT_URL: {url}
      # Webhook sinks must resolve to public addresses unless a network listed here contains
      # them (comma-separated CIDRs); empty: public networks only.
      SUBSCRIPTIONS_ALLOW_NETWORKS: ${{SUBSCRIPTIONS_ALLOW_NETWORKS:-}}
"""


def _compose_process(process: Process, found: tuple[Domain, ...]) -> str:
    if process.role == "gateway":
        return COMPOSE_GATEWAY.format(command=_flow(process.command), port=process.container_port) + \
            COMPOSE_HEALTHCHECK.format(host=process.host_port, port=process.container_port,
                                       health=process.health)
    if process.role == "service":
        head = f"  # {process.domain.title}: HTTP API and /events feed; RPC over AMQP.\n"
    elif process.role == "relay":
        head = f"  # Single ordered publisher of {process.domain.slug}'s events: never scale it (see docs).\n"
    elif process.role == "projection":
        head = "  # Single ordered consumer building the read model: never scale it (see docs).\n"
    elif process.role == "subscriptions":
        head = "  # Event subscriptions (docs/subscriptions.md): RPC over AMQP, its own event store.\n"
    elif process.role == "delivery":
        head = ("  # Delivers the subscriptions' events (webhooks, AMQP queues): one per platform, a second\n"
                "  # copy waits as a standby (shared/lease.py); metrics only.\n")
    else:
        head = "  # The report (/report) over the read model.\n"
    env_anchor = "event-store-env" if process.key_holder else "platform-env"
    variable, value = process.listen_env(process.container_port)
    lines = [head, f"  {process.name}:\n", "    <<: *platform-process\n",
             f"    command: {_flow(process.command)}\n", "    environment:\n",
             f"      <<: *{env_anchor}\n", f'      {variable}: "{value}"\n']
    if process.nameko:
        lines.append("      # psycopg must wait through eventlet's hub, or one query blocks the whole "
                     "Nameko worker pool.\n      PSYCOPG_WAIT_FUNC: wait_select\n")
    if process.role == "subscriptions":
        lines.append(COMPOSE_MANAGEMENT.format(url=MANAGEMENT_URL))
    if process.role == "delivery":
        lines.append(COMPOSE_DELIVERY.format(url=MANAGEMENT_URL))
    if process.feed_reader:
        lines.append("      # It catches up from each source's /events feed.\n")
        lines += [f"      {url_variable(d)}: http://{d.slug}:{SERVICE_PORT}\n" for d in found]
        lines.append("    depends_on:\n")
        for dependency, condition in [("setup", "service_completed_successfully"),
                                      ("postgres", "service_healthy"), ("rabbitmq", "service_healthy"),
                                      *((d.slug, "service_healthy") for d in found)]:
            lines.append(f"      {dependency}:\n        condition: {condition}\n")
    lines.append(COMPOSE_HEALTHCHECK.format(host=process.host_port, port=process.container_port,
                                            health=process.health))
    return "".join(lines)


def docker_compose(found: tuple[Domain, ...]) -> str:
    text = COMPOSE_HEAD.format(service_port=SERVICE_PORT, relay_port=RELAY_PORT, note=YAML_NOTE.rstrip())
    for process in processes(found):
        text += "\n" + _compose_process(process, found)
    return text + "\nvolumes:\n  postgres-data:\n  rabbitmq-data:\n" + COMPOSE_SECRETS


# --- Kubernetes ---------------------------------------------------------------------------------
POD_SECURITY = """\
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        runAsGroup: 10001
        seccompProfile:
          type: RuntimeDefault
"""

CONTAINER_TAIL = """\
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: ["ALL"]
          volumeMounts:
            - {name: tmp, mountPath: /tmp}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
"""

SECRET_ENV = """\
            - name: {name}
              valueFrom:
                secretKeyRef: {{name: platform-secrets, key: {key}}}
"""

HTTP_PROBES = """\
          # The startup probe gives Nameko up to 2 minutes to connect to RabbitMQ and PostgreSQL
          # before the liveness probe may restart it.
          startupProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 2
            failureThreshold: 60
          readinessProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 5
            timeoutSeconds: 2
            failureThreshold: 3
          # /healthz may read PostgreSQL (a service's reads the event store's head), so it also
          # fails while the database is away: a minute of failures before a restart keeps a
          # database blip from restarting pods.
          livenessProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 6
          # The services target <= 150 MB RSS; the limit leaves headroom, the request reserves
          # the target.
          resources:
            requests: {cpu: 100m, memory: 160Mi}
            limits: {cpu: "1", memory: 256Mi}
"""

METRICS_PROBES = """\
          # No HTTP health endpoint of its own: the Prometheus endpoint answering shows the
          # process is up{why}.
          startupProbe:
            httpGet: {{path: /metrics, port: metrics}}
            periodSeconds: 2
            failureThreshold: 60
          readinessProbe:
            httpGet: {{path: /metrics, port: metrics}}
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          livenessProbe:
            httpGet: {{path: /metrics, port: metrics}}
            periodSeconds: 15
            timeoutSeconds: 3
            failureThreshold: 4
          resources:
            requests: {{cpu: 50m, memory: 160Mi}}
            limits: {{cpu: "1", memory: 256Mi}}
"""


GATEWAY_PROBES = """\
          # /healthz answers from memory (no RPC, no database): a failing probe is the process.
          startupProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 2
            failureThreshold: 30
          readinessProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 5
            timeoutSeconds: 2
            failureThreshold: 3
          livenessProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 6
          resources:
            requests: {cpu: 100m, memory: 160Mi}
            limits: {cpu: "1", memory: 256Mi}
"""

GATEWAY_ENV = """\
            - name: GATEWAY_HOST
              value: "0.0.0.0"
            # The JWKS file of the mounted Secret gateway-jwks; or set it to the https URL of an
            # OIDC provider's JWKS (then GATEWAY_ISSUER and GATEWAY_AUDIENCE too, docs/gateway.md).
            - name: GATEWAY_JWKS
              value: {mount}/jwks.json
"""

DELIVERY_ENV = """\
            # Webhook sinks must resolve to public addresses unless a network listed here (comma-
            # separated CIDRs) contains them. Empty: public networks only; add e.g. a municipal
            # network's CIDR in an overlay.
            - name: SUBSCRIPTIONS_ALLOW_NETWORKS
              value: ""
"""

GATEWAY_VOLUME = """\
        # The public key set tokens are verified with; created by hand (docs/gateway.md), like
        # platform-secrets: kubectl create secret generic gateway-jwks --from-file=jwks.json
        - name: gateway-jwks
          secret:
            secretName: gateway-jwks
            defaultMode: 0444
"""

INGRESS = """\
---
# The gateway from outside the cluster, over TLS (the host and the certificate's Secret are
# placeholders: set yours in an overlay). Only the API's paths are routed, so /metrics and
# /healthz (no token) stay inside the cluster. Bodies are bounded here (the gateway has no limit
# of its own; the annotation is ingress-nginx's).
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: gateway
  labels:
    app.kubernetes.io/name: gateway
  annotations:
    nginx.ingress.kubernetes.io/proxy-body-size: 1m
spec:
  tls:
    - hosts: [{host}]
      secretName: gateway-tls
  rules:
    - host: {host}
      http:
        paths:
{paths}"""
INGRESS_HOST = "civil-affairs.example.org"
INGRESS_PATH = """\
          - path: {path}
            pathType: {kind}
            backend:
              service: {{name: gateway, port: {{name: http}}}}
"""


def gateway_prefixes(found: tuple[Domain, ...]) -> list[str]:
    """The first path segment of every gateway route (from the same declarations as the app)."""
    from services.gateway import routes
    built = routes.build(tuple(d for d in found if d.commands))
    return sorted({"/" + route.path.split("/")[1] for route in built})


def _ingress(found: tuple[Domain, ...]) -> str:
    paths = [INGRESS_PATH.format(path=prefix, kind="Prefix") for prefix in gateway_prefixes(found)]
    paths.append(INGRESS_PATH.format(path="/openapi.json", kind="Exact"))
    return INGRESS.format(host=INGRESS_HOST, paths="".join(paths))


def _k8s_manifest(process: Process, found: tuple[Domain, ...]) -> str:
    name, port = process.name, process.container_port
    port_name = "http" if process.http else "metrics"
    if process.role == "service":
        intro = (f"# {name}: the Nameko service of {process.domain.title} (HTTP API, /events feed).\n"
                 "# Stateless between requests (state is in PostgreSQL): it can run several replicas.\n")
    elif process.role == "gateway":
        intro = ("# gateway: the HTTP API with identity (docs/gateway.md), calling the services over RPC.\n"
                 "# Stateless: it can run several replicas (its rate limit is per replica).\n")
    elif process.role == "reporting":
        intro = ("# reporting: the Nameko service behind /report (HTTP API).\n"
                 "# Stateless between requests (state is in PostgreSQL): it can run several replicas.\n")
    elif process.role == "subscriptions":
        intro = ("# subscriptions: the Nameko service of the event subscriptions (docs/subscriptions.md).\n"
                 "# Stateless between requests (state is in PostgreSQL): it can run several replicas.\n")
    elif process.role == "delivery":
        intro = ("# subscriptions-delivery: delivers the events of every active subscription (webhooks, AMQP\n"
                 "# queues), reading each source's /events feed (services/subscriptions/delivery.py).\n#\n"
                 "# Exactly ONE replica, strategy Recreate: one delivery process per platform keeps each\n"
                 "# subscription's deliveries in order. A second copy (a RollingUpdate's new pod, a scaled\n"
                 "# replica) only waits as a standby on a PostgreSQL advisory lock (shared/lease.py) until\n"
                 "# the holder's database session ends, so an overlap delays, never duplicates. Do not scale it.\n")
    elif process.role == "relay":
        intro = (f"# {name}: publishes {process.domain.slug}'s stored events, in notification order,\n"
                 "# to RabbitMQ (shared/relay.py), and records the published position.\n#\n"
                 "# Exactly ONE replica, strategy Recreate: it is a single ordered publisher. Two relays would\n"
                 "# publish the same events twice and could interleave batches out of order; a RollingUpdate\n"
                 "# would run the old and the new pod side by side for a while. Recreate stops the old pod\n"
                 "# before the new one starts. Do not scale it, and do not add an autoscaler.\n")
    else:
        intro = (f"# projection: consumes the events of {', '.join(d.slug for d in found)}, each\n"
                 "# source in order (one quorum queue, catching up from each source's /events feed), and\n"
                 "# maintains the read model.\n#\n"
                 "# Exactly ONE replica, strategy Recreate: it is a single ordered consumer. A second consumer\n"
                 "# on the queue would take every other event and apply them out of order; a RollingUpdate would\n"
                 "# run the old and the new pod side by side for a while. Recreate stops the old pod before the\n"
                 "# new one starts. Do not scale it, and do not add an autoscaler.\n")
    if process.http:
        strategy = "    type: RollingUpdate\n    rollingUpdate:\n      maxUnavailable: 0\n      maxSurge: 1\n"
    else:
        strategy = "    type: Recreate\n"
    container = "relay" if process.role == "relay" else name
    variable, value = process.listen_env(port)
    configmap_note = ""
    if process.feed_reader:
        configmap_note = "     # includes " + ", ".join(url_variable(d) for d in found)
    shown = value if process.nameko else f'"{value}"'
    env = f"            - name: {variable}\n              value: {shown}\n"
    if process.role == "gateway":
        env += GATEWAY_ENV.format(mount=GATEWAY_JWKS_MOUNT)
    if process.nameko:
        env += ("            # psycopg must wait through eventlet's hub, or one query blocks every Nameko worker.\n"
                "            - name: PSYCOPG_WAIT_FUNC\n              value: wait_select\n")
    secrets = (["CIPHER_KEY"] if process.key_holder else []) + \
        ([] if process.role == "gateway" else ["POSTGRES_PASSWORD"])
    if process.role == "subscriptions":
        # The management API's administrator: only this service makes broker users.
        secrets += ["RABBITMQ_MANAGEMENT_USER", "RABBITMQ_MANAGEMENT_PASSWORD"]
    if process.role == "delivery":
        env += DELIVERY_ENV
    env += "".join(SECRET_ENV.format(name=key, key=key) for key in secrets)
    # Its own broker user (shared/broker_users.py): the pod sees no other process's credentials.
    env += SECRET_ENV.format(name="AMQP_URI", key=amqp_variable(process))
    tail = CONTAINER_TAIL
    if process.role == "gateway":
        probes = GATEWAY_PROBES
        tail = tail.replace("/tmp}\n", f"/tmp}}\n            - {{name: gateway-jwks, mountPath: "
                            f"{GATEWAY_JWKS_MOUNT}, readOnly: true}}\n", 1) + GATEWAY_VOLUME
    elif process.http:
        probes = HTTP_PROBES
    else:
        why = {"relay": " (its lag is watched through relay_lag_events, not by the kubelet)",
               "delivery": " (also while it waits as a standby; delivery lag is watched through\n"
                           "          # subscription_lag_seconds, not by the kubelet)"}.get(process.role, "")
        probes = METRICS_PROBES.format(why=why)
    deployment = (
        f"{intro}{YAML_NOTE}apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n"
        f"  labels:\n    app.kubernetes.io/name: {name}\nspec:\n  replicas: 1\n  selector:\n"
        f"    matchLabels:\n      app.kubernetes.io/name: {name}\n  strategy:\n{strategy}"
        f"  template:\n    metadata:\n      labels:\n        app.kubernetes.io/name: {name}\n"
        f"      annotations:\n        prometheus.io/scrape: \"true\"\n        prometheus.io/port: \"{port}\"\n"
        f"        prometheus.io/path: /metrics\n    spec:\n{POD_SECURITY}      containers:\n"
        f"        - name: {container}\n          image: civil-affairs-platform\n"
        f"          imagePullPolicy: IfNotPresent\n          command: {_flow(process.command)}\n"
        f"          ports:\n            - name: {port_name}\n              containerPort: {port}\n"
        f"          envFrom:\n            - configMapRef:\n                name: platform-config{configmap_note}\n"
        f"          env:\n{env}{probes}{tail}")
    if process.role == "service":
        service_note = f"# Called by the projection ({url_variable(process.domain)} in the ConfigMap) and the tools.\n"
    elif process.role == "reporting":
        service_note = "# The reporting HTTP API.\n"
    elif process.role == "subscriptions":
        service_note = "# Its /healthz and /metrics (the gateway calls it over RPC).\n"
    elif process.role == "gateway":
        service_note = "# The gateway's HTTP API, behind the Ingress below.\n"
    elif process.role == "delivery":
        service_note = "# Only for scraping (e.g. a ServiceMonitor); nothing calls the delivery process.\n"
    else:
        service_note = f"# Only for scraping (e.g. a ServiceMonitor); nothing calls the {process.role}.\n"
    service = (f"---\n{service_note}apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n"
               f"  labels:\n    app.kubernetes.io/name: {name}\nspec:\n  selector:\n"
               f"    app.kubernetes.io/name: {name}\n  ports:\n    - name: {port_name}\n"
               f"      port: {port}\n      targetPort: {port_name}\n")
    return deployment + service + (_ingress(found) if process.role == "gateway" else "")


KUSTOMIZATION_HEAD = """\
# Base of the platform on Kubernetes: `kubectl kustomize k8s/base` renders it offline.
#
# Not in here, on purpose:
#   - PostgreSQL and RabbitMQ: external dependencies, reached by the host names in the
#     ConfigMap below (`postgres`, `rabbitmq`; e.g. Services or ExternalName Services in this
#     namespace pointing at the managed instances).
#   - The Secret `platform-secrets` (CIPHER_KEY, POSTGRES_PASSWORD, one AMQP_URI_<PROCESS> per
#     process: its own broker user, `python -m shared.broker_users k8s-secret`; and
#     RABBITMQ_MANAGEMENT_USER / RABBITMQ_MANAGEMENT_PASSWORD, the broker administrator the
#     subscription service makes AMQP subscribers' users with): created once per cluster with
#     `kubectl create secret generic`, see docs/deployment.md. Keeping it out of
#     the manifests means no key is ever committed, and `kubectl apply -k` can never overwrite
#     the real key (events encrypted with one key cannot be read with another).
"""

KUSTOMIZATION_TAIL = """
labels:
  - pairs:
      app.kubernetes.io/part-of: civil-affairs-platform
    includeSelectors: false   # selectors are immutable; keep them to app.kubernetes.io/name
    includeTemplates: true

# Overlays set newName/newTag to the registry image (see overlays/production).
images:
  - name: civil-affairs-platform
    newTag: local

# Non-secret settings every process reads (shared/config.py). The name gets a content hash,
# so changing a value rolls the Deployments.
configMapGenerator:
  - name: platform-config
    literals:
      - POSTGRES_HOST=postgres
      - POSTGRES_PORT=5432
      - POSTGRES_USER=civil_affairs
      - POSTGRES_DBNAME=civil_affairs
      - LOG_LEVEL=INFO
      # The broker's management API (the subscription service makes AMQP sinks through it), and
      # where AMQP subscribers reach the broker from outside (a placeholder: set yours).
      - RABBITMQ_MANAGEMENT_URL={management}
      - SUBSCRIPTIONS_BROKER_URL={broker}
      # Where the projection and the subscriptions delivery process read each source's /events
      # feed (one Service each).
"""


def kustomization(found: tuple[Domain, ...]) -> str:
    listed = processes(found)
    resources = ["namespace.yaml", "setup-job.yaml", *(f"{p.name}.yaml" for p in listed)]
    text = KUSTOMIZATION_HEAD + YAML_NOTE + ("apiVersion: kustomize.config.k8s.io/v1beta1\n"
                                             "kind: Kustomization\n\nnamespace: civil-affairs\n\n"
                                             "resources:\n")
    text += "".join(f"  - {resource}\n" for resource in resources)
    text += KUSTOMIZATION_TAIL.format(management=MANAGEMENT_URL, broker=K8S_BROKER_URL)
    text += "".join(f"      - {url_variable(d)}=http://{d.slug}:{SERVICE_PORT}\n" for d in found)
    return text


PRODUCTION_HEAD = """\
# Production: the base with the registry image, more replicas of the Nameko services and
# disruption budgets for them.
#     kubectl kustomize k8s/overlays/production      # render
#     kubectl apply -k k8s/overlays/production       # apply (see docs/deployment.md first)
"""

PRODUCTION_TAIL = """
# Where PostgreSQL and RabbitMQ are in this cluster. Merge only what differs from the base.
configMapGenerator:
  - name: platform-config
    behavior: merge
    literals:
      - LOG_LEVEL=INFO
      # - POSTGRES_HOST=pg.databases.svc.cluster.local
"""


def scaled(found: tuple[Domain, ...]) -> list[Process]:
    """The Nameko services: stateless, they scale horizontally (never a relay or the projection)."""
    return [p for p in processes(found) if p.http]


def production_kustomization(found: tuple[Domain, ...]) -> str:
    singles = [p.name for p in processes(found) if not p.http]
    text = PRODUCTION_HEAD + YAML_NOTE + (
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\n"
        "# Also applies to what this overlay adds (the base's namespace covers only the base).\n"
        "namespace: civil-affairs\n\nresources:\n  - ../../base\n  - pdb.yaml\n\n"
        "# Replace with your registry and the released tag; pin a tag (or a digest), never `latest`.\n"
        "images:\n  - name: civil-affairs-platform\n    newName: registry.example.org/civil-affairs/platform\n"
        "    newTag: \"0.1.0\"\n\n"
        "# Only the Nameko services and the gateway scale horizontally (stateless; RabbitMQ spreads RPC and events\n"
        "# across their replicas). The relays and the projection stay at exactly 1: they are single\n"
        "# ordered publishers/consumer (see their manifests); never list them here:\n")
    text += "".join(f"#   {name}\n" for name in singles)
    text += "replicas:\n" + "".join(f"  - name: {p.name}\n    count: 2\n" for p in scaled(found))
    return text + PRODUCTION_TAIL


def pdb(found: tuple[Domain, ...]) -> str:
    text = ("# Keep one pod of each scaled Nameko service up during node drains. None for the relays and\n"
            "# the projection: with a single replica a budget would block drains forever; they tolerate a\n"
            "# short stop (they resume from their recorded positions).\n") + YAML_NOTE
    blocks = [f"apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: {p.name}\n"
              f"spec:\n  minAvailable: 1\n  selector:\n    matchLabels:\n"
              f"      app.kubernetes.io/name: {p.name}\n" for p in scaled(found)]
    return text + "---\n".join(blocks)


# --- docs ---------------------------------------------------------------------------------------
def ports_table(found: tuple[Domain, ...]) -> str:
    rows = ["| process | command | port in a container | host port (`make run`, compose) | "
            "variable | health |", "| --- | --- | --- | --- | --- | --- |",
            "| set-up (one-shot) | `python -m shared.setup` | – | – | – | exits 0 |"]
    for p in processes(found):
        paths = {"service": "`/healthz`, `/metrics`, `/events`", "reporting": "`/healthz`, `/metrics`, `/report`",
                 "subscriptions": "`/healthz`, `/metrics`",
                 "gateway": "`/healthz`, `/metrics`, `/openapi.json`"}
        rows.append(f"| {p.name} | `{' '.join(p.command)}` | {p.container_port} | {p.host_port} | "
                    f"`{p.port_variable}` | {paths.get(p.role, '`/metrics`')} |")
        if p.role == "relay":  # `make run` only: compose and Kubernetes restart the one relay instead
            standby = Instance(p, 2)
            rows.append(f"| {p.name} standby (`make run`) | `{' '.join(p.command)}` | – | {standby.host_port} | "
                        f"`{standby.port_variable}` | `/metrics` (`relay_active` 0) |")
    return "\n".join(rows) + "\n"


def docs(found: tuple[Domain, ...], current: str) -> str:
    """docs/deployment.md with its ports table (between the markers) rendered."""
    if DOCS_BEGIN not in current or DOCS_END not in current:
        raise SystemExit(f"{DOCS} lacks the markers of the rendered ports table:\n{DOCS_BEGIN}\n{DOCS_END}")
    before, rest = current.split(DOCS_BEGIN, 1)
    _, after = rest.split(DOCS_END, 1)
    return f"{before}{DOCS_BEGIN}\n{ports_table(found)}{DOCS_END}{after}"


# --- all of it ----------------------------------------------------------------------------------
def files(found: tuple[Domain, ...] | None = None, root: Path = ROOT) -> dict[str, str]:
    """Every rendered file: path relative to the repository root -> its text."""
    found = domains.registered() if found is None else found
    rendered = {"deploy/supervisord.conf": supervisord_conf(found),
                "docker-compose.yml": docker_compose(found),
                "k8s/base/kustomization.yaml": kustomization(found),
                "k8s/overlays/production/kustomization.yaml": production_kustomization(found),
                "k8s/overlays/production/pdb.yaml": pdb(found)}
    for process in processes(found):
        rendered[f"k8s/base/{process.name}.yaml"] = _k8s_manifest(process, found)
    rendered[DOCS] = docs(found, (root / DOCS).read_text(encoding="utf-8"))
    rendered.update(dashboards.files(found))
    return rendered


def write(out: Path, found: tuple[Domain, ...] | None = None, root: Path = ROOT) -> list[str]:
    """Write the rendering under `out`; returns the paths written."""
    written = []
    for path, text in files(found, root).items():
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            written.append(path)
    return written


def differences(root: Path = ROOT, found: tuple[Domain, ...] | None = None) -> list[str]:
    """The rendered files whose committed text differs (or that are missing)."""
    return [path for path, text in files(found, root).items()
            if not (root / path).is_file() or (root / path).read_text(encoding="utf-8") != text]


def stale_manifests(root: Path = ROOT, found: tuple[Domain, ...] | None = None) -> list[str]:
    """Per-process k8s manifests no process renders any more (a domain taken off the registry)."""
    known = {f"{p.name}.yaml" for p in processes(found)} | {"kustomization.yaml", "namespace.yaml",
                                                            "setup-job.yaml"}
    return sorted(f"k8s/base/{p.name}" for p in (root / "k8s" / "base").glob("*.yaml")
                  if p.name not in known)


# --- make run -------------------------------------------------------------------------------------
def shell_env(found: tuple[Domain, ...] | None = None, replicas: int = 1) -> str:
    """Shell lines giving each `make run` port and URL its default unless already set."""
    lines = []
    listed = instances(found, replicas)
    for instance in listed:
        lines.append(f': "${{{instance.port_variable}:={instance.host_port}}}"; export {instance.port_variable}')
    found = domains.registered() if found is None else found
    for domain in found:
        variable = url_variable(domain)
        lines.append(f': "${{{variable}:=http://127.0.0.1:${domain.name.upper()}_PORT}}"; export {variable}')
    lines.append(': "${REPORTING_URL:=http://127.0.0.1:$REPORTING_PORT}"; export REPORTING_URL')
    # One host: the delivery process may deliver to receivers on loopback (set it to "" for
    # public networks only, or to other CIDRs).
    lines.append(f': "${{SUBSCRIPTIONS_ALLOW_NETWORKS={LOCAL_ALLOW_NETWORKS}}}"; export SUBSCRIPTIONS_ALLOW_NETWORKS')
    # Every process's port variable, for a Prometheus config (or `python -m deploy.render targets`).
    lines.append(f'PLATFORM_REPLICAS={replicas}; export PLATFORM_REPLICAS')
    lines.append(f'PLATFORM_PORT_VARIABLES="{" ".join(i.port_variable for i in listed)}"; export PLATFORM_PORT_VARIABLES')
    return "\n".join(lines) + "\n"


def _job(process: Process) -> str:
    return process.name


def targets(environ=None, found: tuple[Domain, ...] | None = None, replicas: int = 1) -> list[dict]:
    """Prometheus file_sd groups: one per process (job = its name), every instance's
    127.0.0.1:<port> (from the environment, else the default), labelled with the program."""
    env = os.environ if environ is None else environ
    groups = []
    for instance in instances(found, replicas):
        port = env.get(instance.port_variable, instance.host_port)
        groups.append({"targets": [f"127.0.0.1:{port}"],
                       "labels": {"job": _job(instance.process), "program": instance.program}})
    return groups


def banner(environ=None, found: tuple[Domain, ...] | None = None, replicas: int = 1) -> str:
    """What `make run` starts and where it answers, with the ports of the environment."""
    env = os.environ if environ is None else environ

    def at(instance: Instance, path: str) -> str:
        return f"http://127.0.0.1:{env.get(instance.port_variable, instance.host_port)}{path}"
    amqp = env.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
    lines = ["run: starting the platform (Ctrl-C stops every process)",
             f"  broker {amqp}   database {env.get('POSTGRES_DBNAME', 'civil_affairs')}"
             + (f"   {replicas} replicas of every stateless process" if replicas > 1 else "")]
    for instance in instances(found, replicas):
        process = instance.process
        if process.role == "service":
            what = f"{at(instance, '/healthz')}  /metrics  /events?after=0&limit=100  (RPC: service {process.domain.name})"
        elif process.role == "relay":
            what = (f"{at(instance, '/metrics')}  -> exchange {process.domain.name}.events"
                    f"  (lease relay:{process.domain.name}: one publishes, the other stands by)")
        elif process.role == "projection":
            what = f"{at(instance, '/metrics')}  -> PostgreSQL schema read_model (a worker per source)"
        elif process.role == "subscriptions":
            what = f"{at(instance, '/healthz')}  /metrics  (RPC: service subscriptions)"
        elif process.role == "delivery":
            allowed = env.get("SUBSCRIPTIONS_ALLOW_NETWORKS") or "public networks only"
            what = f"{at(instance, '/metrics')}  -> the subscriptions' sinks (allowed: {allowed})"
        elif process.role == "gateway":
            jwks = env.get("GATEWAY_JWKS", "")
            keys = os.path.dirname(jwks) if jwks and "://" not in jwks else "DIR"
            what = (f"{at(instance, '/openapi.json')}  /healthz  /metrics  (a token: python -m "
                    f"services.gateway.tokens issue --keys {keys} --sub ... --roles ... --areas ...)")
        else:
            what = f"{at(instance, '/report')}  /healthz  /metrics"
        lines.append(f"  {instance.program:<28}{what}")
    first_relay = next((p.program for p in processes(found) if p.role == "relay"), "projection")
    lines += ["  then, in another shell: make demo",
              f"  one process: supervisorctl -c deploy/supervisord.conf status | restart {first_relay}",
              "  Prometheus targets of every process: python -m deploy.render targets"
              + (f" --replicas {replicas}" if replicas > 1 else "")]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.render", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", default="write",
                        choices=["write", "env", "banner", "supervisord", "targets"])
    parser.add_argument("--replicas", type=int, default=1,
                        help=f"instances of every stateless process under `make run` (1..{MAX_REPLICAS}; "
                             "env, banner, supervisord, targets)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 listing the files that differ from the rendering")
    parser.add_argument("--out", type=Path, default=None,
                        help="write the rendering under this directory (default: the checkout)")
    args = parser.parse_args(argv)
    try:
        check_replicas(args.replicas)
    except domains.RegistryError as error:
        parser.error(str(error))
    if args.command == "env":
        sys.stdout.write(shell_env(replicas=args.replicas))
        return 0
    if args.command == "banner":
        sys.stdout.write(banner(replicas=args.replicas))
        return 0
    if args.command == "supervisord":
        sys.stdout.write(supervisord_conf(domains.registered(), args.replicas))
        return 0
    if args.command == "targets":
        import json
        sys.stdout.write(json.dumps(targets(replicas=args.replicas), indent=2) + "\n")
        return 0
    if args.check:
        differ = differences(args.out or ROOT)
        stale = stale_manifests(args.out or ROOT)
        for path in differ:
            print(f"differs from its rendering: {path}")
        for path in stale:
            print(f"rendered by no registered domain (delete it): {path}")
        if differ or stale:
            print("run `python -m deploy.render` and commit the result", file=sys.stderr)
            return 1
        return 0
    out = args.out or ROOT
    written = write(out, root=ROOT)
    for path in written:
        print(f"wrote {out / path}")
    for path in stale_manifests(out):
        print(f"rendered by no registered domain (delete it): {out / path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
