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
      # management (the UI, the subscription service's API) and prometheus (:15692) plugins
      - ./deploy/rabbitmq/enabled_plugins:/etc/rabbitmq/enabled_plugins:ro
    ports:
      - "${{PUBLISH_ADDRESS:-127.0.0.1}}:${{RABBITMQ_PUBLISHED_PORT:-5672}}:5672"
      - "${{PUBLISH_ADDRESS:-127.0.0.1}}:15672:15672"     # management UI
      - "${{PUBLISH_ADDRESS:-127.0.0.1}}:15692:15692"     # rabbitmq_prometheus
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
        head = (f"  # The ordered publisher of {process.domain.slug}'s events (a second copy would only wait on\n"
                "  # its PostgreSQL lease, docs/deployment.md).\n")
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


PROMETHEUS_IMAGE = "prom/prometheus:v2.53.2"
ALERTMANAGER_IMAGE = "prom/alertmanager:v0.27.0"
GRAFANA_IMAGE = "grafana/grafana:11.2.0"
PROMETHEUS_COMPOSE = "deploy/prometheus/prometheus.compose.yml"

COMPOSE_MONITORING = """
  # --- monitoring (docs/deployment.md, "Monitoring with compose") ---------------------------------
  # The database's metrics (pg_up: the PostgresDown alert; the event-flow dashboard).
  postgres-exporter:
    image: {exporter}
    environment:
      DATA_SOURCE_URI: postgres:5432/civil_affairs?sslmode=disable
      DATA_SOURCE_USER: ${{POSTGRES_USER:-postgres}}
      DATA_SOURCE_PASS: ${{POSTGRES_PASSWORD:-civil_affairs}}
    depends_on:
      postgres:
        condition: service_healthy
    ports:
      - "${{PUBLISH_ADDRESS:-127.0.0.1}}:9187:9187"
    mem_limit: 128m
    restart: unless-stopped

  # Scrapes every process, the broker's plugin and the exporter ({config}, rendered), and
  # evaluates deploy/prometheus/alerts.yml, the same file the Kubernetes PrometheusRule is made of.
  prometheus:
    image: {prometheus}
    command: ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus",
              "--storage.tsdb.retention.time=15d", "--web.enable-lifecycle"]
    volumes:
      - ./{config}:/etc/prometheus/prometheus.yml:ro
      - ./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro
      - prometheus-data:/prometheus
    ports:
      - "${{PUBLISH_ADDRESS:-127.0.0.1}}:9090:9090"
    mem_limit: 512m
    restart: unless-stopped

  # Routes the alerts (deploy/alertmanager/alertmanager.yml); the webhook token and the SMTP
  # password are files in deploy/alertmanager/secrets/ (git-ignored; create them first).
  alertmanager:
    image: {alertmanager}
    command: ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"]
    volumes:
      - ./deploy/alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro
      - ${{ALERTMANAGER_SECRETS_DIR:-./deploy/alertmanager/secrets}}:/etc/alertmanager/secrets:ro
      - alertmanager-data:/alertmanager
    ports:
      - "${{PUBLISH_ADDRESS:-127.0.0.1}}:9093:9093"
    mem_limit: 128m
    restart: unless-stopped

  # The dashboards of deploy/grafana/ over the Prometheus above (provisioned, read-only). The
  # admin password is the secret below, a file that is never committed.
  grafana:
    image: {grafana}
    environment:
      GF_SECURITY_ADMIN_USER: admin
      GF_SECURITY_ADMIN_PASSWORD__FILE: /run/secrets/grafana-admin-password
      GF_USERS_ALLOW_SIGN_UP: "false"
      GF_AUTH_ANONYMOUS_ENABLED: "false"
    volumes:
      - ./deploy/grafana/provisioning:/etc/grafana/provisioning:ro
      - ./deploy/grafana:/var/lib/grafana/dashboards:ro
      - grafana-data:/var/lib/grafana
    secrets:
      - grafana-admin-password
    depends_on:
      - prometheus
    ports:
      - "${{PUBLISH_ADDRESS:-127.0.0.1}}:3000:3000"
    mem_limit: 256m
    restart: unless-stopped
"""

COMPOSE_GRAFANA_SECRET = """  # Grafana's admin password: one line in a file of your own (.secrets/ is git-ignored).
  grafana-admin-password:
    file: ${GRAFANA_ADMIN_PASSWORD_FILE:-./.secrets/grafana-admin-password}
"""


def prometheus_compose(found: tuple[Domain, ...]) -> str:
    """Prometheus's configuration under compose: one job per process named as its service (so
    the alerts' `up{job=~".*relay.*"}` holds), the broker's plugin aggregated and per queue,
    the exporter; the rules file and the alertmanager."""
    jobs = [{"job_name": p.name, "static_configs": [{"targets": [f"{p.name}:{p.container_port}"]}]}
            for p in processes(found)]
    jobs += [{"job_name": "rabbitmq", "static_configs": [{"targets": ["rabbitmq:15692"]}]},
             {"job_name": "rabbitmq-queues", "metrics_path": "/metrics/detailed",
              "params": {"family": ["queue_coarse_metrics", "queue_consumer_count"]},
              "static_configs": [{"targets": ["rabbitmq:15692"]}]},
             {"job_name": "postgres", "static_configs": [{"targets": ["postgres-exporter:9187"]}]}]
    config = {"global": {"scrape_interval": "15s", "evaluation_interval": "15s"},
              "rule_files": ["/etc/prometheus/alerts.yml"],
              "alerting": {"alertmanagers": [{"static_configs": [{"targets": ["alertmanager:9093"]}]}]},
              "scrape_configs": jobs}
    return ("# Prometheus under docker compose (docker-compose.yml mounts it with deploy/prometheus/alerts.yml).\n"
            + YAML_NOTE + _yaml(config))


def docker_compose(found: tuple[Domain, ...]) -> str:
    text = COMPOSE_HEAD.format(service_port=SERVICE_PORT, relay_port=RELAY_PORT, note=YAML_NOTE.rstrip())
    for process in processes(found):
        text += "\n" + _compose_process(process, found)
    text += COMPOSE_MONITORING.format(exporter=POSTGRES_EXPORTER_IMAGE, prometheus=PROMETHEUS_IMAGE,
                                      alertmanager=ALERTMANAGER_IMAGE, grafana=GRAFANA_IMAGE,
                                      config=PROMETHEUS_COMPOSE)
    return (text + "\nvolumes:\n  postgres-data:\n  rabbitmq-data:\n  prometheus-data:\n  alertmanager-data:\n"
            "  grafana-data:\n" + COMPOSE_SECRETS + COMPOSE_GRAFANA_SECRET)


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


def _k8s_secrets(process: Process) -> list[str]:
    secrets = (["CIPHER_KEY"] if process.key_holder else []) + \
        ([] if process.role == "gateway" else ["POSTGRES_PASSWORD"])
    if process.role == "subscriptions":
        # The management API's administrator: only this service makes broker users.
        secrets += ["RABBITMQ_MANAGEMENT_USER", "RABBITMQ_MANAGEMENT_PASSWORD"]
    return secrets


def _k8s_env(process: Process) -> list[tuple[str, str]]:
    """The base Deployment's `env` entries in order: (name, YAML text). The operators component
    patches some of them by position (k8s/components/operators), so the order is its contract."""
    variable, value = process.listen_env(process.container_port)
    shown = value if process.nameko else f'"{value}"'
    entries = [(variable, f"            - name: {variable}\n              value: {shown}\n")]
    if process.role == "gateway":
        text = GATEWAY_ENV.format(mount=GATEWAY_JWKS_MOUNT)
        entries += [("GATEWAY_HOST", text[:text.index("            # The JWKS")]),
                    ("GATEWAY_JWKS", text[text.index("            # The JWKS"):])]
    if process.nameko:
        entries.append(("PSYCOPG_WAIT_FUNC",
                        "            # psycopg must wait through eventlet's hub, or one query blocks every Nameko worker.\n"
                        "            - name: PSYCOPG_WAIT_FUNC\n              value: wait_select\n"))
    if process.role == "delivery":
        entries.append(("SUBSCRIPTIONS_ALLOW_NETWORKS", DELIVERY_ENV))
    entries += [(key, SECRET_ENV.format(name=key, key=key)) for key in _k8s_secrets(process)]
    # Its own broker user (shared/broker_users.py): the pod sees no other process's credentials.
    entries.append(("AMQP_URI", SECRET_ENV.format(name="AMQP_URI", key=amqp_variable(process))))
    return entries


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
                 "# Active + standby: one delivery process per platform holds the PostgreSQL advisory lock\n"
                 "# (shared/lease.py) and keeps each subscription's deliveries in order; another replica\n"
                 "# waits as a standby until the holder's database session ends, so an overlap delays, never\n"
                 "# duplicates. One replica here, 2 in production; strategy Recreate. No autoscaler.\n")
    elif process.role == "relay":
        intro = (f"# {name}: publishes {process.domain.slug}'s stored events, in notification order,\n"
                 "# to RabbitMQ (shared/relay.py), and records the published position.\n#\n"
                 "# Active + standby: the relay holding its PostgreSQL lease publishes; another replica waits\n"
                 "# and takes over when the holder dies, so two never publish at once. One replica here, 2 in\n"
                 "# production; strategy Recreate (the old pods stop before the new ones start). No autoscaler.\n")
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
    env = "".join(text for _, text in _k8s_env(process))
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


# --- Kubernetes: operators, monitoring, network policies, overlays ----------------------------
# k8s/components/operators: RabbitMQ through the RabbitMQ Cluster Operator and its Messaging
# Topology Operator, PostgreSQL through CloudNativePG. k8s/components/monitoring: ServiceMonitors,
# the PrometheusRule (from deploy/prometheus/alerts.yml), the dashboards as ConfigMaps for
# Grafana's sidecar, a postgres_exporter. k8s/components/network-policies: deny by default, then
# the flows below. The overlays dev and production combine the base with all three.
VHOST = "civil_affairs"                 # the platform's vhost (as under `make run`: the database's name)
RABBITMQ_CLUSTER = "rabbitmq"           # the RabbitmqCluster: its client Service is `rabbitmq`
RABBITMQ_IMAGE = "rabbitmq:3.13-management"   # defaultQueueType needs >= 3.11.12
POSTGRES_CLUSTER = "postgres"           # the CNPG Cluster: Services postgres-rw, -ro, -r
POSTGRES_IMAGE = "ghcr.io/cloudnative-pg/postgresql:15"
POSTGRES_APP_SECRET = f"{POSTGRES_CLUSTER}-app"   # made by CloudNativePG: username, password, ...
POSTGRES_EXPORTER = "postgres-exporter"
POSTGRES_EXPORTER_IMAGE = "quay.io/prometheuscommunity/postgres-exporter:v0.15.0"
POSTGRES_EXPORTER_PORT = 9187
BROKER_ADMIN = "subscriptions-admin"    # the management API's administrator (the subscription service)
BACKUP_SECRET = "postgres-backup-s3"    # ACCESS_KEY_ID, ACCESS_SECRET_KEY: created by hand
BACKUP_BUCKET = "s3://civil-affairs-backups/postgres"   # placeholders: set yours in the overlay
BACKUP_ENDPOINT = "https://s3.example.org"
RABBITMQ_TLS_SECRET = "rabbitmq-tls"    # production: the broker's certificate for amqps (5671)
# Where the cluster's own components run (placeholders of the common installs; change them in an
# overlay if yours differ): the ingress controller, Prometheus (kube-prometheus-stack), the
# operators, the DNS.
INGRESS_NAMESPACE = "ingress-nginx"
MONITORING_NAMESPACE = "monitoring"
PROMETHEUS_POD = {"app.kubernetes.io/name": "prometheus"}
CNPG_NAMESPACE = "cnpg-system"
TOPOLOGY_NAMESPACE = "rabbitmq-system"
PRIVATE_NETWORKS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16")
KUBE_API_PORTS = (443, 6443)
RABBITMQ_PORTS = {"amqp": 5672, "amqps": 5671, "management": 15672, "prometheus": 15692}
RABBITMQ_POD = {"app.kubernetes.io/name": RABBITMQ_CLUSTER, "app.kubernetes.io/component": "rabbitmq"}
POSTGRES_POD = {"cnpg.io/cluster": POSTGRES_CLUSTER}
SETUP_JOB = "platform-setup"
COMPONENT_NOTE = "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"


def _yaml(*docs: dict) -> str:
    import yaml
    return "---\n".join(yaml.safe_dump(doc, sort_keys=False, width=100, allow_unicode=True) for doc in docs)


def _secret_env(name: str, secret: str, key: str) -> dict:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def broker_user(process: Process) -> str:
    """The topology operator's User of a process; its generated credentials are in the Secret
    `<user>-user-credentials` (keys username, password: URL-safe, made by the operator)."""
    return f"broker-{process.name}"


def credentials_secret(user: str) -> str:
    return f"{user}-user-credentials"


def amqp_uri_template() -> str:
    """The AMQP_URI of every process under the operators component: the kubelet expands
    $(AMQP_USERNAME) and $(AMQP_PASSWORD), the two entries just before it."""
    return f"amqp://$(AMQP_USERNAME):$(AMQP_PASSWORD)@{RABBITMQ_CLUSTER}:{RABBITMQ_PORTS['amqp']}/{VHOST}"


def _env_patch(process: Process) -> list[dict]:
    """JSON patch of a base Deployment: the broker user's generated credentials instead of the
    hand-made AMQP_URI_<PROCESS>, CloudNativePG's app password instead of POSTGRES_PASSWORD, the
    topology operator's administrator for the management API. Each replaced entry is tested by
    name first, so a base whose order changed fails `kubectl kustomize` instead of being
    patched in the wrong place."""
    path = "/spec/template/spec/containers/0/env"
    names = [name for name, _ in _k8s_env(process)]
    ops = []

    def swap(name: str, secret: str, key: str):
        index = names.index(name)
        ops.extend([{"op": "test", "path": f"{path}/{index}/name", "value": name},
                    {"op": "replace", "path": f"{path}/{index}", "value": _secret_env(name, secret, key)}])
    if "POSTGRES_PASSWORD" in names:
        swap("POSTGRES_PASSWORD", POSTGRES_APP_SECRET, "password")
    if "RABBITMQ_MANAGEMENT_USER" in names:
        swap("RABBITMQ_MANAGEMENT_USER", credentials_secret(f"broker-{BROKER_ADMIN}"), "username")
        swap("RABBITMQ_MANAGEMENT_PASSWORD", credentials_secret(f"broker-{BROKER_ADMIN}"), "password")
    index = names.index("AMQP_URI")
    secret = credentials_secret(broker_user(process))
    ops += [{"op": "test", "path": f"{path}/{index}/name", "value": "AMQP_URI"},
            {"op": "replace", "path": f"{path}/{index}", "value": {"name": "AMQP_URI", "value": amqp_uri_template()}},
            {"op": "add", "path": f"{path}/{index}", "value": _secret_env("AMQP_PASSWORD", secret, "password")},
            {"op": "add", "path": f"{path}/{index}", "value": _secret_env("AMQP_USERNAME", secret, "username")}]
    return ops


SETUP_ENV = ("CIPHER_KEY", "POSTGRES_PASSWORD")   # k8s/base/setup-job.yaml's env, in order


def operators_kustomization(found: tuple[Domain, ...]) -> str:
    import json
    head = ("# RabbitMQ and PostgreSQL run by their operators (docs/deployment.md, \"Kubernetes\"):\n"
            "#   rabbitmq.yaml      RabbitmqCluster `rabbitmq` and the vhost civil_affairs (default queue type quorum)\n"
            "#   broker-users.yaml  one topology-operator User + Permission (+ TopicPermission on nameko-rpc)\n"
            "#                      per process, from shared/broker_users.py's table, and the administrator\n"
            "#                      the subscription service makes AMQP subscribers' users with\n"
            "#   postgres.yaml      CloudNativePG Cluster `postgres` (database civil_affairs, owner civil_affairs)\n"
            "# and patches making every process use them: POSTGRES_HOST postgres-rw, the password from the\n"
            "# Secret CloudNativePG makes (postgres-app), each process's broker credentials from the Secret\n"
            "# the topology operator makes for its User. No credential is in here: the operators generate\n"
            "# them in the cluster. Replicas, backups and TLS are the overlays' (dev: 1, production: 3).\n")
    text = head + YAML_NOTE + COMPONENT_NOTE + "\nresources:\n  - rabbitmq.yaml\n  - broker-users.yaml\n  - postgres.yaml\n"
    text += ("\nconfigMapGenerator:\n  - name: platform-config\n    behavior: merge\n    literals:\n"
             f"      - POSTGRES_HOST={POSTGRES_CLUSTER}-rw\n"
             f"      - RABBITMQ_MANAGEMENT_URL=http://{RABBITMQ_CLUSTER}:{RABBITMQ_PORTS['management']}\n")
    text += "\npatches:\n"
    for process in processes(found):
        text += (f"  - target: {{kind: Deployment, name: {process.name}}}\n    patch: |-\n" +
                 "".join(f"      - {json.dumps(op)}\n" for op in _env_patch(process)))
    index = SETUP_ENV.index("POSTGRES_PASSWORD")
    path = "/spec/template/spec/containers/0/env"
    ops = [{"op": "test", "path": f"{path}/{index}/name", "value": "POSTGRES_PASSWORD"},
           {"op": "replace", "path": f"{path}/{index}", "value": _secret_env("POSTGRES_PASSWORD", POSTGRES_APP_SECRET, "password")}]
    text += (f"  - target: {{kind: Job, name: {SETUP_JOB}}}\n    patch: |-\n" +
             "".join(f"      - {json.dumps(op)}\n" for op in ops))
    return text


def rabbitmq_manifests() -> str:
    cluster = {
        "apiVersion": "rabbitmq.com/v1beta1", "kind": "RabbitmqCluster",
        "metadata": {"name": RABBITMQ_CLUSTER},
        "spec": {"replicas": 1, "image": RABBITMQ_IMAGE,
                 "resources": {"requests": {"cpu": "250m", "memory": "1Gi"},
                               "limits": {"cpu": "2", "memory": "2Gi"}},
                 "persistence": {"storage": "10Gi"},
                 "rabbitmq": {"additionalConfig": (
                     "# A minority partition pauses instead of diverging (quorum queues need a majority).\n"
                     "cluster_partition_handling = pause_minority\n"
                     "# The platform's vhost only; no guest user over the network.\n"
                     "loopback_users.guest = true\n")}}}
    vhost = {
        "apiVersion": "rabbitmq.com/v1beta1", "kind": "Vhost", "metadata": {"name": "civil-affairs"},
        "spec": {"name": VHOST, "defaultQueueType": "quorum", "deletionPolicy": "retain",
                 "rabbitmqClusterReference": {"name": RABBITMQ_CLUSTER}}}
    return ("# The broker (RabbitMQ Cluster Operator) and the platform's vhost (Messaging Topology Operator).\n"
            "# Management (15672) and Prometheus (15692) plugins are on in every RabbitmqCluster. Queues\n"
            "# declared without x-queue-type in the vhost become quorum queues (docs/deployment.md).\n"
            + YAML_NOTE + _yaml(cluster, vhost))


def broker_users_manifests(found: tuple[Domain, ...]) -> str:
    from shared import broker_users
    names = tuple(d.name for d in found)
    ref = {"name": RABBITMQ_CLUSTER}
    docs = []
    for process in processes(found):
        g = broker_users.grant(process.program, names)
        user = broker_user(process)
        docs.append({"apiVersion": "rabbitmq.com/v1beta1", "kind": "User",
                     "metadata": {"name": user, "labels": {"app.kubernetes.io/name": process.name}},
                     "spec": {"rabbitmqClusterReference": ref}})
        docs.append({"apiVersion": "rabbitmq.com/v1beta1", "kind": "Permission",
                     "metadata": {"name": user},
                     "spec": {"vhost": VHOST, "userReference": {"name": user},
                              "permissions": {"configure": g.configure, "write": g.write, "read": g.read},
                              "rabbitmqClusterReference": ref}})
        if g.rpc_write is not None:
            docs.append({"apiVersion": "rabbitmq.com/v1beta1", "kind": "TopicPermission",
                         "metadata": {"name": f"{user}-rpc"},
                         "spec": {"vhost": VHOST, "userReference": {"name": user},
                                  "permissions": {"exchange": broker_users.RPC_EXCHANGE,
                                                  "write": g.rpc_write, "read": g.rpc_read},
                                  "rabbitmqClusterReference": ref}})
    admin = f"broker-{BROKER_ADMIN}"
    docs.append({"apiVersion": "rabbitmq.com/v1beta1", "kind": "User", "metadata": {"name": admin},
                 "spec": {"tags": ["administrator"], "rabbitmqClusterReference": ref}})
    docs.append({"apiVersion": "rabbitmq.com/v1beta1", "kind": "Permission", "metadata": {"name": admin},
                 "spec": {"vhost": VHOST, "userReference": {"name": admin},
                          "permissions": {"configure": ".*", "write": ".*", "read": ".*"},
                          "rabbitmqClusterReference": ref}})
    return ("# One broker user per process, with the least permissions it needs (shared/broker_users.py's\n"
            "# table, docs/broker.md). The Messaging Topology Operator generates each user's name and\n"
            "# password into the Secret <User>-user-credentials, which only that process's pod reads.\n"
            f"# {admin}: the administrator the subscription service makes AMQP subscribers' queues and\n"
            "# users with through the management API (only the subscriptions Deployment reads it).\n"
            + YAML_NOTE + _yaml(*docs))


def postgres_manifests() -> str:
    cluster = {
        "apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": POSTGRES_CLUSTER},
        "spec": {"instances": 1, "imageName": POSTGRES_IMAGE,
                 "bootstrap": {"initdb": {"database": "civil_affairs", "owner": "civil_affairs"}},
                 "storage": {"size": "20Gi"},
                 "resources": {"requests": {"cpu": "250m", "memory": "512Mi"},
                               "limits": {"cpu": "2", "memory": "2Gi"}},
                 "postgresql": {"parameters": {"max_connections": "200"}}}}
    return ("# PostgreSQL through CloudNativePG: the database civil_affairs owned by civil_affairs (the\n"
            "# platform's POSTGRES_USER); CloudNativePG generates its password into the Secret\n"
            f"# {POSTGRES_APP_SECRET}. The set-up Job creates the schemas and tables. Instances and backups: the overlays.\n"
            + YAML_NOTE + _yaml(cluster))


# --- monitoring component ---------------------------------------------------------------------
def _endpoint(port: str, path: str = "/metrics", params: dict | None = None) -> dict:
    found = {"port": port, "path": path, "interval": "30s"}
    if params:
        found["params"] = params
    return found


def service_monitors(found: tuple[Domain, ...]) -> str:
    docs = []
    for process in processes(found):
        docs.append({"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
                     "metadata": {"name": process.name},
                     "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": process.name}},
                              "endpoints": [_endpoint("http" if process.http else "metrics")]}})
    # The broker's plugin: aggregated, and per queue (the event-flow dashboard), as the e2e test scrapes.
    docs.append({"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
                 "metadata": {"name": "rabbitmq"},
                 "spec": {"selector": {"matchLabels": dict(RABBITMQ_POD)},
                          "endpoints": [_endpoint("prometheus"),
                                        _endpoint("prometheus", "/metrics/detailed",
                                                  {"family": ["queue_coarse_metrics", "queue_consumer_count"]})]}})
    docs.append({"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
                 "metadata": {"name": POSTGRES_EXPORTER},
                 "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": POSTGRES_EXPORTER}},
                          "endpoints": [_endpoint("metrics")]}})
    return ("# One ServiceMonitor per process (the job label is the Service's name: `<slug>-relay`,\n"
            "# `projection`, ..., as the alerts' up{job=~\".*relay.*\"} expects), the broker's\n"
            "# rabbitmq_prometheus plugin (/metrics and /metrics/detailed) and the postgres_exporter.\n"
            + YAML_NOTE + _yaml(*docs))


def prometheus_rule(root: Path) -> str:
    import yaml
    rules = yaml.safe_load((root / "deploy/prometheus/alerts.yml").read_text(encoding="utf-8"))
    doc = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
           "metadata": {"name": "civil-affairs"}, "spec": {"groups": rules["groups"]}}
    return ("# deploy/prometheus/alerts.yml as a PrometheusRule (the same groups; rendered, and\n"
            "# tests/deploy/test_cluster.py checks they stay equal): edit alerts.yml, then render.\n"
            + YAML_NOTE + _yaml(doc))


def dashboard_texts(found: tuple[Domain, ...], root: Path) -> dict[str, str]:
    """Every dashboard of deploy/grafana/ (file name -> JSON text): the rendered ones as this
    rendering makes them, the others as committed."""
    rendered = {Path(path).name: text for path, text in dashboards.files(found).items()}
    texts = {p.name: p.read_text(encoding="utf-8") for p in sorted((root / "deploy/grafana").glob("*.json"))}
    texts.update(rendered)
    return dict(sorted(texts.items()))


def dashboard_configmaps(found: tuple[Domain, ...], root: Path) -> str:
    docs = []
    for name, text in dashboard_texts(found, root).items():
        docs.append({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": "dashboard-" + name.removesuffix(".json").replace("_", "-"),
                                  "labels": {"grafana_dashboard": "1"}},
                     "data": {name: text}})
    return ("# The dashboards of deploy/grafana/, one ConfigMap each, for Grafana's dashboard sidecar\n"
            "# (label grafana_dashboard: \"1\"). Rendered: kustomize cannot read files outside k8s/.\n"
            + YAML_NOTE + _yaml(*docs))


def postgres_exporter_manifest() -> str:
    name, port = POSTGRES_EXPORTER, POSTGRES_EXPORTER_PORT
    probe = {"httpGet": {"path": "/", "port": "metrics"}, "periodSeconds": 15, "timeoutSeconds": 3}
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": name}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                 "template": {"metadata": {"labels": {"app.kubernetes.io/name": name}},
                              "spec": {"automountServiceAccountToken": False,
                                       "securityContext": {"runAsNonRoot": True, "runAsUser": 65534,
                                                           "runAsGroup": 65534,
                                                           "seccompProfile": {"type": "RuntimeDefault"}},
                                       "containers": [{
                                           "name": name, "image": POSTGRES_EXPORTER_IMAGE,
                                           "ports": [{"name": "metrics", "containerPort": port}],
                                           "env": [{"name": "DATA_SOURCE_URI",
                                                    "value": f"{POSTGRES_CLUSTER}-rw:5432/civil_affairs?sslmode=require"},
                                                   _secret_env("DATA_SOURCE_USER", POSTGRES_APP_SECRET, "username"),
                                                   _secret_env("DATA_SOURCE_PASS", POSTGRES_APP_SECRET, "password")],
                                           "readinessProbe": probe, "livenessProbe": {**probe, "failureThreshold": 4},
                                           "resources": {"requests": {"cpu": "20m", "memory": "32Mi"},
                                                         "limits": {"cpu": "200m", "memory": "128Mi"}},
                                           "securityContext": {"allowPrivilegeEscalation": False,
                                                               "readOnlyRootFilesystem": True,
                                                               "capabilities": {"drop": ["ALL"]}}}]}}}}
    service = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": name, "labels": {"app.kubernetes.io/name": name}},
               "spec": {"selector": {"app.kubernetes.io/name": name},
                        "ports": [{"name": "metrics", "port": port, "targetPort": "metrics"}]}}
    return ("# pg_up and the database's metrics (the PostgresDown alert, the event-flow dashboard), read\n"
            f"# as the platform's own database user from CloudNativePG's Secret {POSTGRES_APP_SECRET}.\n"
            + YAML_NOTE + _yaml(deployment, service))


def monitoring_kustomization() -> str:
    return ("# What Prometheus (prometheus-operator) and Grafana (its dashboard sidecar) need: the\n"
            "# ServiceMonitors, the PrometheusRule, the dashboards, a postgres_exporter.\n"
            "# Your Prometheus must select ServiceMonitors and PrometheusRules in this namespace (with\n"
            "# kube-prometheus-stack: serviceMonitorSelectorNilUsesHelmValues: false, or its release label).\n"
            + YAML_NOTE + COMPONENT_NOTE +
            "\nresources:\n  - servicemonitors.yaml\n  - prometheusrule.yaml\n  - dashboards.yaml\n"
            "  - postgres-exporter.yaml\n")


# --- network policies -------------------------------------------------------------------------
def _ns(namespace: str, pods: dict | None = None) -> dict:
    peer = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
    if pods:
        peer["podSelector"] = {"matchLabels": dict(pods)}
    return peer


def _pods(labels: dict) -> dict:
    return {"podSelector": {"matchLabels": dict(labels)}}


def _ports(*ports: int, protocol: str = "TCP") -> list[dict]:
    return [{"protocol": protocol, "port": port} for port in ports]


def _app(name: str) -> dict:
    return {"app.kubernetes.io/name": name}


def network_policies(found: tuple[Domain, ...]) -> str:
    listed = processes(found)
    services = [p for p in listed if p.role == "service"]
    database_users = [p for p in listed if p.role != "gateway"]
    docs = [{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
             "metadata": {"name": "default-deny"},
             "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}},
            {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
             "metadata": {"name": "dns"},
             "spec": {"podSelector": {}, "policyTypes": ["Egress"],
                      "egress": [{"to": [_ns("kube-system", {"k8s-app": "kube-dns"})],
                                  "ports": _ports(53, protocol="UDP") + _ports(53)}]}}]
    prometheus = [_ns(MONITORING_NAMESPACE, PROMETHEUS_POD)]
    public = [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(PRIVATE_NETWORKS)}}]
    anywhere = [{"ipBlock": {"cidr": "0.0.0.0/0"}}]
    for process in listed:
        ingress = [{"from": prometheus, "ports": _ports(process.container_port)}]
        if process.role == "service":
            readers = [_pods(_app(p.name)) for p in listed if p.feed_reader]
            ingress.append({"from": readers, "ports": _ports(SERVICE_PORT)})
        if process.role == "gateway":
            ingress.append({"from": [_ns(INGRESS_NAMESPACE)], "ports": _ports(SERVICE_PORT)})
        egress = [{"to": [_pods(RABBITMQ_POD)], "ports": _ports(RABBITMQ_PORTS["amqp"])}]
        if process in database_users:
            egress.append({"to": [_pods(POSTGRES_POD)], "ports": _ports(5432)})
        if process.role == "subscriptions":
            egress.append({"to": [_pods(RABBITMQ_POD)], "ports": _ports(RABBITMQ_PORTS["management"])})
        if process.feed_reader:
            egress.append({"to": [_pods(_app(p.name)) for p in services], "ports": _ports(SERVICE_PORT)})
        if process.role == "delivery":
            # Webhook and AMQP sinks on public networks (SUBSCRIPTIONS_ALLOW_NETWORKS empty):
            # any port, never the cluster's or a private network.
            egress.append({"to": public})
        docs.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                     "metadata": {"name": process.name},
                     "spec": {"podSelector": {"matchLabels": _app(process.name)},
                              "policyTypes": ["Ingress", "Egress"], "ingress": ingress, "egress": egress}})
    docs.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                 "metadata": {"name": SETUP_JOB},
                 "spec": {"podSelector": {"matchLabels": _app(SETUP_JOB)}, "policyTypes": ["Ingress", "Egress"],
                          "egress": [{"to": [_pods(POSTGRES_POD)], "ports": _ports(5432)}]}})
    docs.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                 "metadata": {"name": POSTGRES_EXPORTER},
                 "spec": {"podSelector": {"matchLabels": _app(POSTGRES_EXPORTER)},
                          "policyTypes": ["Ingress", "Egress"],
                          "ingress": [{"from": prometheus, "ports": _ports(POSTGRES_EXPORTER_PORT)}],
                          "egress": [{"to": [_pods(POSTGRES_POD)], "ports": _ports(5432)}]}})
    broker_clients = [_pods(_app(p.name)) for p in listed]
    docs.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                 "metadata": {"name": "rabbitmq"},
                 "spec": {"podSelector": {"matchLabels": dict(RABBITMQ_POD)}, "policyTypes": ["Ingress", "Egress"],
                          "ingress": [
                              {"from": broker_clients, "ports": _ports(RABBITMQ_PORTS["amqp"])},
                              {"from": [_pods(_app(p.name)) for p in listed if p.role == "subscriptions"]
                               + [_ns(TOPOLOGY_NAMESPACE)], "ports": _ports(RABBITMQ_PORTS["management"])},
                              {"from": prometheus, "ports": _ports(RABBITMQ_PORTS["prometheus"])},
                              # AMQP subscribers from outside the cluster, over TLS only.
                              {"from": anywhere, "ports": _ports(RABBITMQ_PORTS["amqps"])},
                              # The nodes of the cluster among themselves (epmd, distribution, CLI).
                              {"from": [_pods(RABBITMQ_POD)]}],
                          "egress": [{"to": [_pods(RABBITMQ_POD)]},
                                     # peer discovery asks the Kubernetes API for the other nodes
                                     {"to": anywhere, "ports": _ports(*KUBE_API_PORTS)}]}})
    docs.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                 "metadata": {"name": "postgres"},
                 "spec": {"podSelector": {"matchLabels": dict(POSTGRES_POD)}, "policyTypes": ["Ingress", "Egress"],
                          "ingress": [
                              {"from": [_pods(_app(p.name)) for p in database_users]
                               + [_pods(_app(SETUP_JOB)), _pods(_app(POSTGRES_EXPORTER))], "ports": _ports(5432)},
                              # the operator's status checks (8000) and its connections
                              {"from": [_ns(CNPG_NAMESPACE)], "ports": _ports(8000, 5432)},
                              # the instances among themselves (streaming replication, status)
                              {"from": [_pods(POSTGRES_POD)], "ports": _ports(5432, 8000)}],
                          "egress": [{"to": [_pods(POSTGRES_POD)], "ports": _ports(5432, 8000)},
                                     # the Kubernetes API (the instance manager) and the backup bucket
                                     {"to": anywhere, "ports": _ports(*KUBE_API_PORTS)}]}})
    return ("# Deny by default, then exactly the flows the platform needs (docs/deployment.md has the\n"
            "# table; tests/deploy/test_cluster.py computes the allowed flows from these policies and\n"
            "# compares). The namespaces of the ingress controller, Prometheus and the operators are the\n"
            "# common installs' (ingress-nginx, monitoring, cnpg-system, rabbitmq-system): patch the\n"
            "# policies in an overlay if yours differ.\n" + YAML_NOTE + _yaml(*docs))


def network_policies_kustomization() -> str:
    return ("# NetworkPolicies: default deny (ingress and egress) for every pod of the namespace, DNS, then\n"
            "# one policy per workload with its flows.\n" + YAML_NOTE + COMPONENT_NOTE +
            "\nresources:\n  - networkpolicies.yaml\n")


# --- overlays ---------------------------------------------------------------------------------
COMPONENTS = ("operators", "monitoring", "network-policies")


def replicated(found: tuple[Domain, ...]) -> dict[str, int]:
    """Production's replicas per Deployment: the stateless ones (every domain's service,
    reporting, subscriptions, the gateway) 2, the relays and the delivery process 2 as active +
    standby (a PostgreSQL lease keeps one publisher; the standby takes over when the holder's
    session ends); the projection is absent: it stays at 1 (one ordered consumer per source
    inside one process)."""
    return {p.name: 2 for p in processes(found) if p.role != "projection"}


def _overlay_head(name: str, what: str) -> str:
    return (f"# {what}\n#     kubectl kustomize k8s/overlays/{name}      # render\n"
            f"#     kubectl apply --server-side -k k8s/overlays/{name}   # apply (docs/deployment.md first)\n")


def _overlay_common() -> str:
    return ("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\n"
            "# Also applies to what this overlay and its components add (the base's covers only the base).\n"
            "namespace: civil-affairs\n\n"
            "labels:\n  - pairs:\n      app.kubernetes.io/part-of: civil-affairs-platform\n"
            "    includeSelectors: false\n\n")


def dev_kustomization(found: tuple[Domain, ...]) -> str:
    text = _overlay_head("dev", "Dev: the base with the operators' single instances (one RabbitMQ node, one\n"
                                "# PostgreSQL instance, no backups), monitoring and network policies; one replica each.")
    text += YAML_NOTE + _overlay_common() + "resources:\n  - ../../base\n\ncomponents:\n"
    text += "".join(f"  - ../../components/{c}\n" for c in COMPONENTS)
    text += ("\n# The image as built locally (`docker build -f deploy/Dockerfile -t civil-affairs-platform:local .`,\n"
             "# then loaded into the dev cluster: kind load docker-image / minikube image load).\n"
             "images:\n  - name: civil-affairs-platform\n    newTag: local\n")
    return text


def production_kustomization(found: tuple[Domain, ...]) -> str:
    counts = replicated(found)
    singles = [p.name for p in processes(found) if p.name not in counts]
    text = _overlay_head("production", "Production: the base with the registry image, RabbitMQ as 3 nodes (quorum queues), PostgreSQL as\n"
                         "# 3 instances with backups, 2 replicas of every process but the projection, disruption budgets.")
    text += YAML_NOTE + _overlay_common()
    text += "resources:\n  - ../../base\n  - pdb.yaml\n  - scheduledbackup.yaml\n\ncomponents:\n"
    text += "".join(f"  - ../../components/{c}\n" for c in COMPONENTS)
    text += ("\n# Replace with your registry and the released tag; pin a tag (or a digest), never `latest`.\n"
             "images:\n  - name: civil-affairs-platform\n    newName: registry.example.org/civil-affairs/platform\n"
             "    newTag: \"0.1.0\"\n\n"
             "# The Nameko services, reporting, subscriptions and the gateway are stateless. The relays and\n"
             "# the delivery process run active + standby: a PostgreSQL lease lets one publish, the other\n"
             "# waits and takes over when the holder dies. Never listed here (one ordered consumer):\n")
    text += "".join(f"#   {name}\n" for name in singles)
    text += "replicas:\n" + "".join(f"  - name: {name}\n    count: {count}\n" for name, count in counts.items())
    text += f"""
patches:
  # Three RabbitMQ nodes: quorum queues keep every acknowledged message with one node lost. amqps
  # (5671) for AMQP subscribers outside the cluster, with the certificate's Secret (by hand).
  - target: {{kind: RabbitmqCluster, name: {RABBITMQ_CLUSTER}}}
    patch: |-
      apiVersion: rabbitmq.com/v1beta1
      kind: RabbitmqCluster
      metadata:
        name: {RABBITMQ_CLUSTER}
      spec:
        replicas: 3
        tls:
          secretName: {RABBITMQ_TLS_SECRET}
  # Three PostgreSQL instances (one synchronous standby: a commit is on two nodes), spread over
  # nodes, with base backups and WAL archived to an S3-compatible bucket (the credentials'
  # Secret by hand; the bucket and endpoint are placeholders: set yours).
  - target: {{kind: Cluster, name: {POSTGRES_CLUSTER}}}
    patch: |-
      apiVersion: postgresql.cnpg.io/v1
      kind: Cluster
      metadata:
        name: {POSTGRES_CLUSTER}
      spec:
        instances: 3
        minSyncReplicas: 1
        maxSyncReplicas: 1
        affinity:
          enablePodAntiAffinity: true
          topologyKey: kubernetes.io/hostname
        backup:
          retentionPolicy: 30d
          barmanObjectStore:
            destinationPath: {BACKUP_BUCKET}
            endpointURL: {BACKUP_ENDPOINT}
            s3Credentials:
              accessKeyId: {{name: {BACKUP_SECRET}, key: ACCESS_KEY_ID}}
              secretAccessKey: {{name: {BACKUP_SECRET}, key: ACCESS_SECRET_KEY}}
            wal:
              compression: gzip
            data:
              compression: gzip

# Merge only what differs from the base (and the operators component).
configMapGenerator:
  - name: platform-config
    behavior: merge
    literals:
      - LOG_LEVEL=INFO
"""
    return text


def scheduled_backup() -> str:
    doc = {"apiVersion": "postgresql.cnpg.io/v1", "kind": "ScheduledBackup",
           "metadata": {"name": f"{POSTGRES_CLUSTER}-daily"},
           "spec": {"schedule": "0 0 2 * * *", "immediate": True, "backupOwnerReference": "self",
                    "method": "barmanObjectStore", "cluster": {"name": POSTGRES_CLUSTER}}}
    return ("# A base backup every night at 02:00 (the WAL is archived continuously), kept 30 days\n"
            "# (the Cluster's retentionPolicy). The CIPHER_KEY is not in it: back the key up apart.\n"
            + YAML_NOTE + _yaml(doc))


def pdb(found: tuple[Domain, ...]) -> str:
    text = ("# Keep one pod of each Deployment that runs 2 replicas up during node drains (for the relays\n"
            "# and the delivery process: the standby, which takes the lease). None for the projection: with\n"
            "# a single replica a budget would block drains forever; it resumes from its recorded positions.\n"
            ) + YAML_NOTE
    blocks = [f"apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: {name}\n"
              f"spec:\n  minAvailable: 1\n  selector:\n    matchLabels:\n"
              f"      app.kubernetes.io/name: {name}\n" for name in replicated(found)]
    return text + "---\n".join(blocks)


def cluster_files(found: tuple[Domain, ...], root: Path) -> dict[str, str]:
    """The Kubernetes files besides the base: components and overlays."""
    return {"k8s/components/operators/kustomization.yaml": operators_kustomization(found),
            "k8s/components/operators/rabbitmq.yaml": rabbitmq_manifests(),
            "k8s/components/operators/broker-users.yaml": broker_users_manifests(found),
            "k8s/components/operators/postgres.yaml": postgres_manifests(),
            "k8s/components/monitoring/kustomization.yaml": monitoring_kustomization(),
            "k8s/components/monitoring/servicemonitors.yaml": service_monitors(found),
            "k8s/components/monitoring/prometheusrule.yaml": prometheus_rule(root),
            "k8s/components/monitoring/dashboards.yaml": dashboard_configmaps(found, root),
            "k8s/components/monitoring/postgres-exporter.yaml": postgres_exporter_manifest(),
            "k8s/components/network-policies/kustomization.yaml": network_policies_kustomization(),
            "k8s/components/network-policies/networkpolicies.yaml": network_policies(found),
            "k8s/overlays/dev/kustomization.yaml": dev_kustomization(found),
            "k8s/overlays/production/kustomization.yaml": production_kustomization(found),
            "k8s/overlays/production/pdb.yaml": pdb(found),
            "k8s/overlays/production/scheduledbackup.yaml": scheduled_backup()}


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
                PROMETHEUS_COMPOSE: prometheus_compose(found),
                "k8s/base/kustomization.yaml": kustomization(found)}
    rendered.update(cluster_files(found, root))
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
