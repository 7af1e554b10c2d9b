"""The deployment files are rendered from the registry (deploy/render.py) and committed: what is
committed must equal what the registry renders, and a domain added to the registry must show up
in every deployment (`make run`, docker-compose, Kubernetes, the docs' ports table).

The added domain is tests/sample_domain, registered for the test only through
PLATFORM_EXTRA_DOMAINS and rendered into a temporary directory.
"""
from __future__ import annotations

import configparser
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from deploy import render
from shared import domains
from shared.domains import EXTRA_ENV, RELAY_PORT, SERVICE_PORT
from tests.deploy import test_manifests as manifests

ROOT = render.ROOT
SAMPLE = "tests.sample_domain"


@pytest.fixture
def registry_only(monkeypatch):
    """The registry's domains, without any a test session added through the environment."""
    monkeypatch.delenv(EXTRA_ENV, raising=False)
    return domains.registered()


@pytest.fixture
def with_sample(monkeypatch):
    monkeypatch.setenv(EXTRA_ENV, SAMPLE)
    found = domains.registered()
    assert found[-1].package == SAMPLE
    return found


def test_what_is_committed_is_what_the_registry_renders(registry_only):
    assert render.differences(ROOT, registry_only) == [], \
        "run `python -m deploy.render` and commit the result"
    assert render.stale_manifests(ROOT, registry_only) == []


def test_check_exits_1_listing_the_file_that_differs(tmp_path, registry_only):
    shutil.copytree(ROOT / "k8s", tmp_path / "k8s")
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    shutil.copy(ROOT / "docker-compose.yml", tmp_path)
    assert render.main(["--check", "--out", str(tmp_path)]) == 0
    manifest = tmp_path / "k8s" / "base" / "welfare-relay.yaml"
    manifest.write_text(manifest.read_text().replace(f"containerPort: {RELAY_PORT}", "containerPort: 9105"))
    (tmp_path / "k8s" / "base" / "retired-domain.yaml").write_text("{}\n")
    result = subprocess.run([sys.executable, "-m", "deploy.render", "--check", "--out", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, env=_env_without_extra())
    assert result.returncode == 1
    assert "k8s/base/welfare-relay.yaml" in result.stdout
    assert "k8s/base/retired-domain.yaml" in result.stdout
    assert "python -m deploy.render" in result.stderr


def _env_without_extra() -> dict:
    import os
    return {k: v for k, v in os.environ.items() if k != EXTRA_ENV}


def test_inside_containers_every_service_and_every_relay_listen_on_the_same_port(registry_only):
    for process in render.processes(registry_only):
        assert process.container_port == (SERVICE_PORT if process.http else RELAY_PORT)
    # ... and on one host each has its own, taken from the domain's declaration.
    hosts = [p.host_port for p in render.processes(registry_only)]
    assert len(set(hosts)) == len(hosts)
    for domain in registry_only:
        service, relay = render.domain_processes(domain)
        assert (service.host_port, relay.host_port) == (domain.http_port, domain.relay_port)


def test_an_added_domain_shows_up_in_every_rendering(tmp_path, with_sample):
    sample = with_sample[-1]
    service, relay = sample.slug, f"{sample.slug}-relay"
    written = render.write(tmp_path, with_sample)
    assert f"k8s/base/{service}.yaml" in written and f"k8s/base/{relay}.yaml" in written

    # make run: two supervisord programs, in the group, with their ports from the environment.
    config = configparser.RawConfigParser()
    config.read(tmp_path / "deploy" / "supervisord.conf")
    assert config[f"program:{sample.name}"]["command"] == \
        f"nameko run --config deploy/nameko.yml {sample.service}"
    assert "%(ENV_VOLUNTEERING_PORT)s" in config[f"program:{sample.name}"]["environment"]
    assert config[f"program:relay_{sample.name}"]["command"] == f"python -m shared.relay {sample.name}"
    assert "%(ENV_RELAY_VOLUNTEERING_PORT)s" in config[f"program:relay_{sample.name}"]["environment"]
    group = config["group:platform"]["programs"].split(",")
    assert {sample.name, f"relay_{sample.name}", "projection", "reporting"} <= set(group)
    env = render.shell_env(with_sample)
    for line in (': "${VOLUNTEERING_PORT:=8091}"', ': "${RELAY_VOLUNTEERING_PORT:=9191}"',
                 ': "${VOLUNTEERING_URL:=http://127.0.0.1:$VOLUNTEERING_PORT}"'):
        assert line in env
    assert f"{sample.name} " in render.banner({}, with_sample)

    # docker-compose: service and relay on the shared container ports, published on the domain's
    # host ports; the projection reads its feed and waits for it.
    result = manifests.compose(["config", "--format", "json"],
                               manifests.compose_env(tmp_path, CIPHER_KEY=manifests.made_up_key()),
                               file=tmp_path / "docker-compose.yml")
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert services[service]["command"] == ["nameko", "run", "--config", "deploy/nameko.yml", sample.service]
    assert services[service]["environment"]["WEB_SERVER_ADDRESS"] == f"0.0.0.0:{SERVICE_PORT}"
    assert {(int(p["target"]), int(p["published"])) for p in services[service]["ports"]} == \
        {(SERVICE_PORT, sample.http_port)}
    assert services[relay]["environment"]["METRICS_PORT"] == str(RELAY_PORT)
    assert "CIPHER_KEY" in services[relay]["environment"]
    assert {(int(p["target"]), int(p["published"])) for p in services[relay]["ports"]} == \
        {(RELAY_PORT, sample.relay_port)}
    projection = services["projection"]
    assert projection["environment"]["VOLUNTEERING_URL"] == f"http://{service}:{SERVICE_PORT}"
    assert projection["depends_on"][service]["condition"] == "service_healthy"

    # Kubernetes: both overlays render, with a Deployment and a Service each, the projection's
    # URL in the ConfigMap, the service and its relay (active + standby) scaled and budgeted in
    # production, the projection not.
    for name in ("namespace.yaml", "setup-job.yaml"):
        shutil.copy(ROOT / "k8s" / "base" / name, tmp_path / "k8s" / "base" / name)
    base = manifests.render(tmp_path / "k8s" / "base")
    deployments = manifests.by_kind(base, "Deployment")
    assert {service, relay} <= set(deployments)
    assert deployments[relay]["spec"]["strategy"]["type"] == "Recreate"
    container = deployments[relay]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", "shared.relay", sample.name]
    assert {service, relay} <= set(manifests.by_kind(base, "Service"))
    configmap = next(iter(manifests.by_kind(base, "ConfigMap").values()))
    assert configmap["data"]["VOLUNTEERING_URL"] == f"http://{service}:{SERVICE_PORT}"
    production = manifests.render(tmp_path / "k8s" / "overlays" / "production")
    deployments = manifests.by_kind(production, "Deployment")
    assert deployments[service]["spec"]["replicas"] == 2
    assert deployments[relay]["spec"]["replicas"] == 2     # active + standby on its lease
    assert deployments["projection"]["spec"]["replicas"] == 1
    budgets = {b["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
               for b in manifests.by_kind(production, "PodDisruptionBudget").values()}
    assert {service, relay} <= budgets and "projection" not in budgets
    # ... its broker user, its ServiceMonitor, its NetworkPolicy, and the feed readers reach it.
    assert f"broker-{relay}" in manifests.by_kind(production, "User")
    assert {service, relay} <= set(manifests.by_kind(production, "ServiceMonitor"))
    policies = manifests.by_kind(production, "NetworkPolicy")
    readers = [peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
               for rule in policies[service]["spec"]["ingress"] for peer in rule["from"] if "podSelector" in peer]
    assert {"projection", "subscriptions-delivery"} <= set(readers)

    # The docs' ports table.
    docs = (tmp_path / "docs" / "deployment.md").read_text()
    assert f"| {service} | `nameko run --config deploy/nameko.yml {sample.service}` | {SERVICE_PORT} | 8091 |" in docs
    assert f"| {relay} | `python -m shared.relay {sample.name}` | {RELAY_PORT} | 9191 |" in docs


def test_the_e2e_platform_starts_every_registered_domain(with_sample):
    from tests.e2e.platform import Platform, programs
    platform = Platform("amqp://guest:guest@127.0.0.1:5672/unused", logs=ROOT)
    for name in ("SOCIAL_ASSISTANCE_PORT", "RELAY_SOCIAL_ASSISTANCE_PORT", "PROJECTION_PORT",
                 "REPORTING_PORT", "GATEWAY_PORT", "WELFARE_PORT", "VOLUNTEERING_PORT", "RELAY_VOLUNTEERING_PORT"):
        assert name in platform.ports
    assert platform.env["VOLUNTEERING_URL"] == f"http://127.0.0.1:{platform.ports['VOLUNTEERING_PORT']}"
    found = programs(platform.env)
    assert found["relay_volunteering"] == (
        "python -m shared.relay volunteering",
        {"METRICS_PORT": str(platform.ports["RELAY_VOLUNTEERING_PORT"]),
         "AMQP_URI": platform.env["AMQP_URI_RELAY_VOLUNTEERING"]})


def test_a_port_taken_twice_is_refused(registry_only):
    import dataclasses
    clash = dataclasses.replace(registry_only[0], name="clash", http_port=registry_only[1].http_port)
    with pytest.raises(domains.RegistryError, match="host port"):
        render.processes((*registry_only, clash))


def test_rendered_yaml_parses(registry_only):
    for path, text in render.files(registry_only).items():
        if path.endswith(".yaml") or path.endswith(".yml"):
            assert list(yaml.safe_load_all(text)), path


def test_make_run_starts_the_gateway_on_its_port(registry_only):
    config = configparser.RawConfigParser()
    config.read_string(render.supervisord_conf(registry_only))
    assert config["program:gateway"]["command"] == "python -m services.gateway"
    assert config["program:gateway"]["environment"] == (
        'GATEWAY_PORT="%(ENV_GATEWAY_PORT)s",AMQP_URI="%(ENV_AMQP_URI_GATEWAY)s"')
    assert "gateway" in config["group:platform"]["programs"].split(",")
    assert ': "${GATEWAY_PORT:=8010}"; export GATEWAY_PORT' in render.shell_env(registry_only)
    shown = render.banner({"GATEWAY_PORT": "8123", "GATEWAY_JWKS": "./.gateway-keys/jwks.json"}, registry_only)
    assert "http://127.0.0.1:8123/openapi.json" in shown and "--keys ./.gateway-keys" in shown
    docs = render.ports_table(registry_only)
    assert "| gateway | `python -m services.gateway` | 8000 | 8010 | `GATEWAY_PORT` |" in docs


GATEWAY_KEYS_SECTION = "# --- the gateway's development identity"


def run_gateway_keys_section(env_file, **env) -> subprocess.CompletedProcess:
    """Only run.sh's gateway-key section (the rest needs a broker), with ENV_FILE as run.sh has it."""
    script = (ROOT / "deploy" / "run.sh").read_text()
    assert GATEWAY_KEYS_SECTION in script
    section = script.split(GATEWAY_KEYS_SECTION, 1)[1].split("\n", 1)[1].split("\n# --- ", 1)[0]
    import os
    return subprocess.run(["bash", "-c", "set -euo pipefail\n" + section + '\necho "GATEWAY_JWKS=$GATEWAY_JWKS"'],
                          cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
                               "ENV_FILE": str(env_file), **env})


def test_run_sh_makes_dev_keys_beside_the_env_file_once_and_respects_a_given_jwks(tmp_path):
    from services.gateway import tokens
    from services.gateway.auth import Verifier
    env_file = tmp_path / "env.local"
    env_file.write_text("CIPHER_KEY=x\n")
    first = run_gateway_keys_section(env_file)
    assert first.returncode == 0, first.stderr
    jwks = tmp_path / ".gateway-keys" / "jwks.json"
    assert f"GATEWAY_JWKS={jwks}" in first.stdout
    assert env_file.read_text().splitlines()[-1] == f"GATEWAY_JWKS={jwks}"
    # a token issued with the private key verifies against the written JWKS
    principal = Verifier.from_env({"GATEWAY_JWKS": str(jwks)}).verify(
        tokens.issue(tokens.load_key(jwks.parent), "officer-li", ["auditor"], "*"))
    assert principal.sub == "officer-li"
    # run.sh sources the file before this section: a second run finds GATEWAY_JWKS set
    written = jwks.read_text()
    again = run_gateway_keys_section(env_file, GATEWAY_JWKS=str(jwks))
    assert again.returncode == 0 and jwks.read_text() == written
    assert env_file.read_text().count("GATEWAY_JWKS=") == 1
    # an identity provider's JWKS URL is kept as it is, and no keys are made
    other = tmp_path / "other"
    other.mkdir()
    given = run_gateway_keys_section(other / "env.local", GATEWAY_JWKS="https://id.example/jwks")
    assert "GATEWAY_JWKS=https://id.example/jwks" in given.stdout
    assert not (other / ".gateway-keys").exists() and not (other / "env.local").exists()


def test_the_delivery_process_is_a_program_everywhere_with_loopback_only_on_one_host(registry_only):
    config = configparser.RawConfigParser()
    config.read_string(render.supervisord_conf(registry_only))
    program = config["program:subscriptions_delivery"]
    assert program["command"] == "python -m services.subscriptions.delivery"
    assert program["environment"] == ('METRICS_PORT="%(ENV_SUBSCRIPTIONS_DELIVERY_PORT)s",'
                                      'AMQP_URI="%(ENV_AMQP_URI_SUBSCRIPTIONS_DELIVERY)s",'
                                      'SUBSCRIPTIONS_ALLOW_NETWORKS="%(ENV_SUBSCRIPTIONS_ALLOW_NETWORKS)s"')
    env = render.shell_env(registry_only)
    assert ': "${SUBSCRIPTIONS_DELIVERY_PORT:=9110}"' in env
    assert ': "${SUBSCRIPTIONS_ALLOW_NETWORKS=127.0.0.0/8}"' in env     # "" given stays "" (public only)
    assert "| subscriptions-delivery | `python -m services.subscriptions.delivery` | 9100 | 9110 |" in \
        render.ports_table(registry_only)
    rendered = render.files(registry_only)

    compose = yaml.safe_load(rendered["docker-compose.yml"])["services"]
    delivery = compose["subscriptions-delivery"]["environment"]
    assert delivery["SUBSCRIPTIONS_ALLOW_NETWORKS"] == "${SUBSCRIPTIONS_ALLOW_NETWORKS:-}"
    assert delivery["RABBITMQ_MANAGEMENT_URL"] == "http://rabbitmq:15672"
    assert "RABBITMQ_MANAGEMENT_PASSWORD" not in delivery              # it makes no broker users
    assert compose["subscriptions"]["environment"]["RABBITMQ_MANAGEMENT_PASSWORD"] == "${RABBITMQ_PASSWORD:-guest}"

    deployment = next(yaml.safe_load_all(rendered["k8s/base/subscriptions-delivery.yaml"]))
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    values = {e["name"]: e for e in container["env"]}
    assert values["SUBSCRIPTIONS_ALLOW_NETWORKS"]["value"] == ""
    assert values["AMQP_URI"]["valueFrom"]["secretKeyRef"]["key"] == "AMQP_URI_SUBSCRIPTIONS_DELIVERY"
    service = next(yaml.safe_load_all(rendered["k8s/base/subscriptions.yaml"]))
    env = {e["name"]: e for e in service["spec"]["template"]["spec"]["containers"][0]["env"]}
    for name in ("RABBITMQ_MANAGEMENT_USER", "RABBITMQ_MANAGEMENT_PASSWORD"):
        assert env[name] == {"name": name, "valueFrom": {"secretKeyRef": {"name": "platform-secrets", "key": name}}}
    # Production runs it as active + standby (its lease), with a budget keeping one up in drains.
    assert "name: subscriptions-delivery\n" in rendered["k8s/overlays/production/pdb.yaml"]
    assert "  - name: subscriptions-delivery\n    count: 2\n" in rendered["k8s/overlays/production/kustomization.yaml"]
    assert "RABBITMQ_MANAGEMENT_URL=http://rabbitmq:15672" in rendered["k8s/base/kustomization.yaml"]
