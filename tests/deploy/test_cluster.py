"""Offline checks of what k8s/components and the overlays add to the base: the operators'
custom resources against their CRD schemas (tests/deploy/crds/), the broker users against
shared/broker_users.py's table, the NetworkPolicies as the flows they allow, the PrometheusRule
against deploy/prometheus/alerts.yml, the dashboards' ConfigMaps against deploy/grafana/, and
the Prometheus configuration docker compose runs. Each rule is a `*_problems` function (or an
evaluator) with a test showing it rejects broken input.
"""
from __future__ import annotations

import copy
import ipaddress
import json
import shutil
from pathlib import Path

import jsonschema
import pytest
import yaml

from deploy import render as renderer
from shared import broker_users, domains
from shared.domains import RELAY_PORT, SERVICE_PORT
from tests.deploy.test_manifests import ROOT, by_kind, kustomize, render

CRDS = Path(__file__).resolve().parent / "crds"
OVERLAYS = ("overlays/dev", "overlays/production")
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
GRAFANA = ROOT / "deploy" / "grafana"
PROCESSES = renderer.processes()
NAMES = [p.name for p in PROCESSES]


def crd_schemas() -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) -> schema, from the copied files `<group>/<kind>_<version>.json`."""
    found = {}
    for path in CRDS.glob("*/*.json"):
        kind, _, version = path.stem.rpartition("_")
        found[(f"{path.parent.name}/{version}", kind)] = json.loads(path.read_text())
    return found


SCHEMAS = crd_schemas()


def custom(doc: dict) -> bool:
    """Not a built-in kind: its apiVersion's group has a dot and is not a k8s.io group."""
    group = doc["apiVersion"].rpartition("/")[0]
    return "." in group and not group.endswith("k8s.io")


def crd_problems(docs: list[dict]) -> list[str]:
    problems = []
    for doc in docs:
        if not custom(doc):
            continue
        where = f"{doc['kind']} {doc['metadata']['name']}"
        schema = next((s for (version, kind), s in SCHEMAS.items()
                       if version == doc["apiVersion"] and kind == doc["kind"].lower()), None)
        if schema is None:
            problems.append(f"{where}: no CRD schema for {doc['apiVersion']} in tests/deploy/crds/")
            continue
        for error in jsonschema.Draft7Validator(schema).iter_errors(doc):
            problems.append(f"{where}: {'/'.join(map(str, error.absolute_path))}: {error.message}")
    return problems


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request) -> tuple[str, list[dict]]:
    return request.param, render(ROOT / "k8s" / request.param)


@pytest.fixture(scope="module")
def production() -> list[dict]:
    return render(ROOT / "k8s" / "overlays" / "production")


@pytest.fixture(scope="module")
def dev() -> list[dict]:
    return render(ROOT / "k8s" / "overlays" / "dev")


def one(docs, kind) -> dict:
    (found,) = by_kind(docs, kind).values()
    return found


# --- custom resources against their CRDs ----------------------------------------------------------
def test_every_custom_resource_validates_against_its_crd(overlay):
    name, docs = overlay
    kinds = {d["kind"] for d in docs if custom(d)}
    assert {"RabbitmqCluster", "Vhost", "User", "Permission", "TopicPermission", "Cluster",
            "ServiceMonitor", "PrometheusRule"} <= kinds, kinds
    assert crd_problems(docs) == [], f"k8s/{name}"


def test_crd_validation_rejects_a_misspelt_field_a_bad_enum_and_an_unknown_kind(production):
    docs = copy.deepcopy(production)
    one(docs, "RabbitmqCluster")["spec"]["replica"] = 3
    one(docs, "Vhost")["spec"]["defaultQueueType"] = "quorom"
    one(docs, "Cluster")["spec"]["instances"] = "three"
    docs.append({"apiVersion": "keda.sh/v1alpha1", "kind": "TriggerAuthentication",
                 "metadata": {"name": "x"}, "spec": {}})
    problems = crd_problems(docs)
    assert any("RabbitmqCluster rabbitmq" in p and "replica" in p for p in problems), problems
    assert any("Vhost" in p and "quorom" in p for p in problems), problems
    assert any("Cluster postgres: spec/instances" in p for p in problems), problems
    assert any("TriggerAuthentication x: no CRD schema" in p for p in problems), problems


# --- operators: replicas, quorum, backups -----------------------------------------------------------
def data_problems(docs: list[dict], production: bool) -> list[str]:
    problems = []
    broker, database = one(docs, "RabbitmqCluster"), one(docs, "Cluster")
    nodes, instances = (3, 3) if production else (1, 1)
    if broker["spec"].get("replicas") != nodes:
        problems.append(f"RabbitmqCluster must run {nodes} replicas, has {broker['spec'].get('replicas')}")
    vhost = one(docs, "Vhost")["spec"]
    if vhost.get("name") != renderer.VHOST or vhost.get("defaultQueueType") != "quorum":
        problems.append(f"the vhost {renderer.VHOST} needs defaultQueueType quorum, has {vhost}")
    if database["spec"].get("instances") != instances:
        problems.append(f"Cluster must run {instances} instances, has {database['spec'].get('instances')}")
    initdb = database["spec"].get("bootstrap", {}).get("initdb", {})
    if (initdb.get("database"), initdb.get("owner")) != ("civil_affairs", "civil_affairs"):
        problems.append("Cluster must bootstrap the database civil_affairs owned by civil_affairs")
    store = database["spec"].get("backup", {}).get("barmanObjectStore")
    backups = by_kind(docs, "ScheduledBackup")
    if production:
        credentials = (store or {}).get("s3Credentials", {})
        if not store or not store.get("destinationPath", "").startswith("s3://"):
            problems.append("production's Cluster needs backups to an S3 bucket (barmanObjectStore)")
        elif {credentials.get(k, {}).get("name") for k in ("accessKeyId", "secretAccessKey")} != {renderer.BACKUP_SECRET}:
            problems.append(f"the bucket's credentials must come from the Secret {renderer.BACKUP_SECRET}")
        if [b["spec"]["cluster"]["name"] for b in backups.values()] != [database["metadata"]["name"]]:
            problems.append("production needs one ScheduledBackup of the Cluster")
        if broker["spec"].get("tls", {}).get("secretName") != renderer.RABBITMQ_TLS_SECRET:
            problems.append("production's broker needs TLS (amqps for subscribers outside)")
    elif store or backups:
        problems.append("dev takes no backups")
    return problems


def test_production_runs_three_nodes_three_instances_with_backups(production):
    assert data_problems(production, production=True) == []


def test_dev_runs_single_instances_without_backups(dev):
    assert data_problems(dev, production=False) == []


def test_data_rules_catch_too_few_replicas_a_classic_vhost_and_missing_backups(production):
    docs = copy.deepcopy(production)
    one(docs, "RabbitmqCluster")["spec"]["replicas"] = 1
    one(docs, "Vhost")["spec"]["defaultQueueType"] = "classic"
    one(docs, "Cluster")["spec"].pop("backup")
    docs = [d for d in docs if d["kind"] != "ScheduledBackup"]
    problems = data_problems(docs, production=True)
    assert any("3 replicas" in p for p in problems), problems
    assert any("defaultQueueType quorum" in p for p in problems), problems
    assert any("backups to an S3 bucket" in p for p in problems), problems
    assert any("one ScheduledBackup" in p for p in problems), problems


# --- broker users -----------------------------------------------------------------------------------
def env_of(deployment: dict) -> dict[str, dict]:
    return {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0].get("env", [])}


def broker_user_problems(docs: list[dict]) -> list[str]:
    """One User + Permission per process with exactly its grant of the table; the process reads
    its credentials from its own User's Secret, and nobody else's."""
    problems = []
    users, permissions = by_kind(docs, "User"), by_kind(docs, "Permission")
    topics = {t["spec"]["userReference"]["name"]: t for t in by_kind(docs, "TopicPermission").values()}
    deployments = by_kind(docs, "Deployment")
    secret_of = {f"{name}-user-credentials": name for name in users}
    for process in PROCESSES:
        grant = broker_users.grant(process.program)
        user = renderer.broker_user(process)
        if user not in users:
            problems.append(f"{process.name} has no broker User {user}")
            continue
        permission = next((p for p in permissions.values() if p["spec"].get("userReference", {}).get("name") == user), None)
        wanted = {"configure": grant.configure, "write": grant.write, "read": grant.read}
        if permission is None or permission["spec"]["permissions"] != wanted or \
                permission["spec"]["vhost"] != renderer.VHOST:
            problems.append(f"{user}'s Permission must be {wanted} on {renderer.VHOST}")
        topic = topics.get(user)
        if grant.rpc_write is None and topic is not None:
            problems.append(f"{user} must have no topic permission")
        if grant.rpc_write is not None and (topic is None or topic["spec"]["permissions"] != {
                "exchange": broker_users.RPC_EXCHANGE, "write": grant.rpc_write, "read": grant.rpc_read}):
            problems.append(f"{user} needs its topic permission on {broker_users.RPC_EXCHANGE}")
        env = env_of(deployments.get(process.name, {"spec": {"template": {"spec": {"containers": [{}]}}}}))
        names = list(env)
        for key in ("AMQP_USERNAME", "AMQP_PASSWORD"):
            ref = env.get(key, {}).get("valueFrom", {}).get("secretKeyRef", {})
            if secret_of.get(ref.get("name")) != user:
                problems.append(f"{process.name}'s {key} must come from {user}-user-credentials, not {ref.get('name')}")
        uri = env.get("AMQP_URI", {}).get("value", "")
        if uri != renderer.amqp_uri_template() or "AMQP_URI" not in names or \
                names.index("AMQP_URI") < max(names.index(k) for k in ("AMQP_USERNAME", "AMQP_PASSWORD") if k in names):
            problems.append(f"{process.name}'s AMQP_URI must be {renderer.amqp_uri_template()} after "
                            "AMQP_USERNAME and AMQP_PASSWORD (the kubelet expands earlier entries only)")
    admins = [u for u in users.values() if "administrator" in u["spec"].get("tags", [])]
    if [u["metadata"]["name"] for u in admins] != [f"broker-{renderer.BROKER_ADMIN}"]:
        problems.append(f"exactly one administrator user, broker-{renderer.BROKER_ADMIN}, found {admins}")
    for name, deployment in deployments.items():
        for key, entry in env_of(deployment).items():
            ref = entry.get("valueFrom", {}).get("secretKeyRef", {}).get("name", "")
            if ref == f"broker-{renderer.BROKER_ADMIN}-user-credentials" and name != "subscriptions":
                problems.append(f"{name} must not read the broker administrator's credentials")
    return problems


def test_each_process_has_its_own_broker_user_with_the_tables_permissions(overlay):
    name, docs = overlay
    assert broker_user_problems(docs) == [], f"k8s/{name}"


def test_broker_user_rules_catch_a_borrowed_secret_a_widened_permission_and_a_missing_user(production):
    docs = copy.deepcopy(production)
    deployments = by_kind(docs, "Deployment")
    env_of(deployments["welfare-relay"])["AMQP_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] = \
        "broker-projection-user-credentials"
    env_of(deployments["gateway"])["AMQP_USERNAME"]["valueFrom"]["secretKeyRef"]["name"] = \
        f"broker-{renderer.BROKER_ADMIN}-user-credentials"
    by_kind(docs, "Permission")["broker-projection"]["spec"]["permissions"]["write"] = ".*"
    docs = [d for d in docs if not (d["kind"] == "User" and d["metadata"]["name"] == "broker-reporting")]
    problems = broker_user_problems(docs)
    assert any("welfare-relay's AMQP_PASSWORD must come from broker-welfare-relay" in p for p in problems), problems
    assert any("gateway must not read the broker administrator" in p for p in problems), problems
    assert any("broker-projection's Permission" in p for p in problems), problems
    assert any("reporting has no broker User" in p for p in problems), problems


def test_the_operators_patches_refuse_a_base_whose_env_order_changed(tmp_path):
    """The component patches env entries by position, each tested by name first: a base whose
    entries moved makes kustomize fail instead of patching the wrong entry."""
    shutil.copytree(ROOT / "k8s", tmp_path / "k8s")
    manifest = tmp_path / "k8s" / "base" / "welfare-relay.yaml"
    text = manifest.read_text()
    marker = "            - name: CIPHER_KEY\n"
    assert marker in text
    manifest.write_text(text.replace(marker, "            - name: EXTRA\n              value: x\n" + marker, 1))
    assert kustomize(tmp_path / "k8s" / "base").returncode == 0
    result = kustomize(tmp_path / "k8s" / "overlays" / "dev")
    assert result.returncode != 0 and "test" in result.stderr.lower(), result.stderr


# --- network policies -------------------------------------------------------------------------------
# Every endpoint a flow may start or end at: pods of the namespace (as the workloads label them),
# the cluster's own components in theirs, and addresses outside the cluster. name -> namespace
# (None: an address), labels (or the address), the ports it listens on.
NS = "civil-affairs"
TCP, UDP = "TCP", "UDP"
BROKER_PORTS = [(p, TCP) for p in (5672, 5671, 15672, 15692, 4369, 25672)]
ENDPOINTS = {
    **{p.name: (NS, {"app.kubernetes.io/name": p.name}, [(p.container_port, TCP)]) for p in PROCESSES},
    "platform-setup": (NS, {"app.kubernetes.io/name": "platform-setup"}, []),
    "postgres-exporter": (NS, {"app.kubernetes.io/name": "postgres-exporter"}, [(9187, TCP)]),
    "rabbitmq": (NS, {"app.kubernetes.io/name": "rabbitmq", "app.kubernetes.io/component": "rabbitmq"}, BROKER_PORTS),
    "postgres": (NS, {"cnpg.io/cluster": "postgres", "cnpg.io/instanceRole": "primary"}, [(5432, TCP), (8000, TCP)]),
    "ingress-controller": ("ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"}, []),
    "prometheus": ("monitoring", {"app.kubernetes.io/name": "prometheus"}, []),
    "kube-dns": ("kube-system", {"k8s-app": "kube-dns"}, [(53, UDP), (53, TCP)]),
    "cnpg-operator": ("cnpg-system", {"app.kubernetes.io/name": "cloudnative-pg"}, []),
    "topology-operator": ("rabbitmq-system", {"app.kubernetes.io/name": "messaging-topology-operator"}, []),
    "other-namespace": ("elsewhere", {"app": "other"}, [(8000, TCP)]),
    "internet": (None, "203.0.113.10", [(443, TCP), (80, TCP), (5671, TCP), (8443, TCP)]),
    "kube-api": (None, "10.96.0.1", [(443, TCP), (6443, TCP)]),
    "private-network": (None, "192.168.10.20", [(443, TCP), (8080, TCP)]),
}


def _selects(selector: dict | None, labels) -> bool:
    return isinstance(labels, dict) and all(labels.get(k) == v for k, v in (selector or {}).get("matchLabels", {}).items())


def _peer_matches(peer: dict, endpoint: str, policy_ns: str) -> bool:
    namespace, labels, _ = ENDPOINTS[endpoint]
    if "ipBlock" in peer:
        if namespace is not None:
            return False
        address = ipaddress.ip_address(labels)
        block = peer["ipBlock"]
        return address in ipaddress.ip_network(block["cidr"]) and \
            not any(address in ipaddress.ip_network(e) for e in block.get("except", []))
    if namespace is None:
        return False
    if "namespaceSelector" in peer:
        if not _selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": namespace}):
            return False
    elif namespace != policy_ns:
        return False
    return "podSelector" not in peer or _selects(peer["podSelector"], labels)


def _port_matches(rule: dict, port: int, protocol: str) -> bool:
    ports = rule.get("ports")
    return not ports or any(p.get("protocol", TCP) == protocol and p.get("port") in (None, port) for p in ports)


def _allowed(policies: list[dict], endpoint: str, peer: str, port: int, protocol: str, direction: str) -> bool:
    namespace, labels, _ = ENDPOINTS[endpoint]
    if namespace is None:
        return True                      # an address outside: no policy of ours applies
    selecting = [p for p in policies if p["metadata"].get("namespace") == namespace
                 and _selects(p["spec"].get("podSelector"), labels)
                 and direction in p["spec"].get("policyTypes", ["Ingress"])]
    if not selecting:
        return True                      # not isolated in this direction
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    return any(_port_matches(rule, port, protocol)
               and (not rule.get(peers_key) or any(_peer_matches(x, peer, namespace) for x in rule[peers_key]))
               for p in selecting for rule in p["spec"].get(key, []))


def allowed_flows(docs: list[dict]) -> set[tuple[str, str, int, str]]:
    """(source, destination, port, protocol) that the NetworkPolicies let through: the source's
    egress and the destination's ingress both allow it (for every pair with an end in the
    namespace; what happens between other namespaces is not ours)."""
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    return {(source, target, port, protocol)
            for source in ENDPOINTS for target, (_, _, ports) in ENDPOINTS.items() for port, protocol in ports
            if NS in (ENDPOINTS[source][0], ENDPOINTS[target][0])   # flows our policies govern
            and _allowed(policies, source, target, port, protocol, "Egress")
            and _allowed(policies, target, source, port, protocol, "Ingress")}


def expected_flows() -> set[tuple[str, str, int, str]]:
    """The flows the architecture needs (docs/deployment.md, "Network policies"), from the roles."""
    inside = [name for name, (namespace, _, _) in ENDPOINTS.items() if namespace == NS]
    flows = {(name, "kube-dns", 53, protocol) for name in inside for protocol in (UDP, TCP)}
    flows.add(("ingress-controller", "gateway", SERVICE_PORT, TCP))
    for p in PROCESSES:
        flows.add(("prometheus", p.name, p.container_port, TCP))
        flows.add((p.name, "rabbitmq", 5672, TCP))
        if p.role != "gateway":
            flows.add((p.name, "postgres", 5432, TCP))
        if p.role in ("projection", "delivery"):
            flows |= {(p.name, s.name, SERVICE_PORT, TCP) for s in PROCESSES if s.role == "service"}
        if p.role == "subscriptions":
            flows.add((p.name, "rabbitmq", 15672, TCP))
        if p.role == "delivery":   # webhook and AMQP sinks on public networks, any port
            flows |= {(p.name, "internet", port, protocol) for port, protocol in ENDPOINTS["internet"][2]}
    flows |= {("platform-setup", "postgres", 5432, TCP), ("postgres-exporter", "postgres", 5432, TCP),
              ("prometheus", "postgres-exporter", 9187, TCP), ("prometheus", "rabbitmq", 15692, TCP),
              ("topology-operator", "rabbitmq", 15672, TCP),
              ("internet", "rabbitmq", 5671, TCP), ("kube-api", "rabbitmq", 5671, TCP),
              ("private-network", "rabbitmq", 5671, TCP),
              ("cnpg-operator", "postgres", 8000, TCP), ("cnpg-operator", "postgres", 5432, TCP),
              ("postgres", "postgres", 5432, TCP), ("postgres", "postgres", 8000, TCP)}
    flows |= {("rabbitmq", "rabbitmq", port, protocol) for port, protocol in BROKER_PORTS}
    for database_or_broker in ("rabbitmq", "postgres"):   # the Kubernetes API (and the backup bucket)
        flows |= {(database_or_broker, target, 443, TCP) for target in ("internet", "kube-api", "private-network")}
        flows.add((database_or_broker, "kube-api", 6443, TCP))
    return flows


def test_network_policies_allow_exactly_the_flows_of_the_architecture(overlay):
    name, docs = overlay
    assert by_kind(docs, "NetworkPolicy")["default-deny"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    allowed, expected = allowed_flows(docs), expected_flows()
    assert sorted(allowed - expected) == [], f"k8s/{name}: flows allowed that the architecture does not need"
    assert sorted(expected - allowed) == [], f"k8s/{name}: flows the architecture needs that are refused"


def test_flow_check_catches_an_allow_all_policy_and_a_missing_one(production):
    docs = copy.deepcopy(production)
    docs = [d for d in docs if not (d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "projection")]
    docs.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                 "metadata": {"name": "oops", "namespace": NS},
                 "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "gateway"}},
                          "policyTypes": ["Egress"], "egress": [{}]}})
    docs.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                 "metadata": {"name": "oops-too", "namespace": NS},
                 "spec": {"podSelector": {"matchLabels": {"cnpg.io/cluster": "postgres"}},
                          "policyTypes": ["Ingress"], "ingress": [{}]}})
    allowed, expected = allowed_flows(docs), expected_flows()
    assert ("gateway", "postgres", 5432, TCP) in allowed - expected
    assert ("gateway", "internet", 443, TCP) in allowed - expected
    assert ("projection", "welfare", SERVICE_PORT, TCP) in expected - allowed
    assert ("prometheus", "projection", RELAY_PORT, TCP) in expected - allowed



# --- monitoring -------------------------------------------------------------------------------------
def test_the_prometheus_rule_is_alerts_yml(overlay):
    name, docs = overlay
    rule = one(docs, "PrometheusRule")
    assert rule["spec"]["groups"] == yaml.safe_load(ALERTS.read_text())["groups"], \
        "run `python -m deploy.render`: the PrometheusRule is rendered from deploy/prometheus/alerts.yml"


def test_a_changed_alerts_file_makes_the_committed_rule_stale(tmp_path):
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    alerts = tmp_path / "deploy" / "prometheus" / "alerts.yml"
    alerts.write_text(alerts.read_text().replace("for: 2m", "for: 3m", 1))
    rendered = renderer.prometheus_rule(tmp_path)
    committed = (ROOT / "k8s" / "components" / "monitoring" / "prometheusrule.yaml").read_text()
    assert rendered != committed and "for: 3m" in rendered


def dashboard_problems(docs: list[dict]) -> list[str]:
    problems = []
    maps = {name: cm for cm in by_kind(docs, "ConfigMap").values()
            if cm["metadata"].get("labels", {}).get("grafana_dashboard") == "1" for name in cm.get("data", {})}
    files = {p.name: json.loads(p.read_text()) for p in GRAFANA.glob("*.json")}
    if set(maps) != set(files):
        problems.append(f"dashboard ConfigMaps hold {sorted(maps)}, deploy/grafana/ has {sorted(files)}")
    for name, cm in maps.items():
        if name in files and json.loads(cm["data"][name]) != files[name]:
            problems.append(f"the ConfigMap of {name} differs from deploy/grafana/{name}")
        # kubectl apply (client-side) keeps the whole object in an annotation of at most 256 KiB
        if len(cm["data"][name].encode()) > 200 * 1024:
            problems.append(f"{name} is too big for one ConfigMap applied by kubectl")
    return problems


def test_the_dashboards_configmaps_are_deploy_grafana(overlay):
    name, docs = overlay
    assert dashboard_problems(docs) == [], f"k8s/{name}"


def test_dashboard_rules_catch_a_changed_and_a_missing_dashboard(production):
    docs = copy.deepcopy(production)
    maps = [cm for cm in by_kind(docs, "ConfigMap").values() if "dibao.json" in cm.get("data", {})]
    board = json.loads(maps[0]["data"]["dibao.json"])
    board["title"] = "changed"
    maps[0]["data"]["dibao.json"] = json.dumps(board)
    docs = [d for d in docs if "services.json" not in d.get("data", {})]
    problems = dashboard_problems(docs)
    assert any("dibao.json differs" in p for p in problems), problems
    assert any("deploy/grafana/ has" in p and "services.json" in p for p in problems), problems


def monitor_problems(docs: list[dict]) -> list[str]:
    """Every process's Service has a ServiceMonitor on one of its port names; the job (the
    Service's name) is matched by the alert meant for it and by no other."""
    problems = []
    services = by_kind(docs, "Service")
    monitors = list(by_kind(docs, "ServiceMonitor").values())
    import re
    for process in PROCESSES:
        service = services.get(process.name)
        ports = {p.get("name") for p in (service or {}).get("spec", {}).get("ports", [])}
        matched = [m for m in monitors if service and _selects(m["spec"]["selector"], service["metadata"].get("labels", {}))]
        if not any(e.get("port") in ports for m in matched for e in m["spec"]["endpoints"]):
            problems.append(f"{process.name}: no ServiceMonitor scrapes a port of its Service")
        relay, projection = bool(re.fullmatch(".*relay.*", process.name)), bool(re.fullmatch(".*projection.*", process.name))
        if relay != (process.role == "relay") or projection != (process.role == "projection"):
            problems.append(f"{process.name}: its job would be matched by the wrong alert")
    rabbit = [m for m in monitors if _selects(m["spec"]["selector"], ENDPOINTS["rabbitmq"][1])]
    paths = {e.get("path") for m in rabbit for e in m["spec"]["endpoints"] if e.get("port") == "prometheus"}
    if paths != {"/metrics", "/metrics/detailed"}:
        problems.append(f"the broker's plugin must be scraped at /metrics and /metrics/detailed, is {paths}")
    return problems


def test_every_process_and_the_broker_have_a_service_monitor(overlay):
    name, docs = overlay
    assert monitor_problems(docs) == [], f"k8s/{name}"


def test_monitor_rules_catch_a_wrong_port_name(production):
    docs = copy.deepcopy(production)
    by_kind(docs, "ServiceMonitor")["welfare-relay"]["spec"]["endpoints"][0]["port"] = "http"
    docs = [d for d in docs if not (d["kind"] == "ServiceMonitor" and d["metadata"]["name"] == "rabbitmq")]
    problems = monitor_problems(docs)
    assert any("welfare-relay: no ServiceMonitor" in p for p in problems), problems
    assert any("/metrics/detailed" in p for p in problems), problems


# --- the compose Prometheus ---------------------------------------------------------------------------
def compose_prometheus_problems(config: dict) -> list[str]:
    import re
    problems = []
    jobs = {job["job_name"]: job for job in config.get("scrape_configs", [])}
    for process in PROCESSES:
        targets = [t for c in jobs.get(process.name, {}).get("static_configs", []) for t in c["targets"]]
        if targets != [f"{process.name}:{process.container_port}"]:
            problems.append(f"job {process.name} must scrape {process.name}:{process.container_port}, not {targets}")
    for name in jobs:
        if bool(re.fullmatch(".*relay.*", name)) != any(p.name == name and p.role == "relay" for p in PROCESSES):
            problems.append(f"job {name} is matched by the relay alerts but is no relay (or the reverse)")
    detailed = jobs.get("rabbitmq-queues", {})
    if detailed.get("metrics_path") != "/metrics/detailed" or \
            set(detailed.get("params", {}).get("family", [])) != {"queue_coarse_metrics", "queue_consumer_count"}:
        problems.append("rabbitmq-queues must scrape /metrics/detailed with the queue families")
    if "postgres" not in jobs or "rabbitmq" not in jobs:
        problems.append("jobs postgres (the exporter) and rabbitmq (the plugin) are needed")
    if config.get("rule_files") != ["/etc/prometheus/alerts.yml"]:
        problems.append("rule_files must be the mounted alerts.yml")
    return problems


def test_the_compose_prometheus_scrapes_every_process_and_reads_the_rules():
    config = yaml.safe_load((ROOT / renderer.PROMETHEUS_COMPOSE).read_text())
    assert compose_prometheus_problems(config) == []


def test_compose_prometheus_rules_catch_a_missing_job_and_a_misnamed_one():
    config = yaml.safe_load((ROOT / renderer.PROMETHEUS_COMPOSE).read_text())
    config["scrape_configs"] = [j for j in config["scrape_configs"] if j["job_name"] != "welfare"]
    config["scrape_configs"].append({"job_name": "relay-exporter", "static_configs": [{"targets": ["x:1"]}]})
    config["rule_files"] = ["alerts.yml"]
    problems = compose_prometheus_problems(config)
    assert any("job welfare must scrape" in p for p in problems), problems
    assert any("job relay-exporter" in p for p in problems), problems
    assert any("rule_files" in p for p in problems), problems
