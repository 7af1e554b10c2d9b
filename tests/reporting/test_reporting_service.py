"""The reporting service as it runs: `nameko run --config deploy/nameko.yml
services.reporting.service` in its own process (eventlet, psycopg with wait_select, the pool),
over the scenario's read model; HTTP on a free port, RPC through RabbitMQ on the session's vhost."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


@contextmanager
def running_service(log_path: Path, dbname: str, amqp: str):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "CIPHER_KEY"}  # reporting needs no key
    env.update(WEB_SERVER_ADDRESS=f"127.0.0.1:{port}", POSTGRES_DBNAME=dbname, AMQP_URI=amqp,
               REPORT_YEAR="2007", LOG_LEVEL="WARNING")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "nameko", "run", "--config", "deploy/nameko.yml",
             "services.reporting.service"], cwd=ROOT, env=env, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, f"nameko run exited:\n{log_path.read_text(errors='replace')}"
                try:
                    if get(base + "/healthz")[0] in (200, 503):
                        break
                except OSError:
                    pass
                assert time.monotonic() < deadline, \
                    f"the service did not answer /healthz in 60 s:\n{log_path.read_text(errors='replace')}"
                time.sleep(0.5)
            yield base
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture(scope="module")
def amqp(amqp_uri):
    """The session's own RabbitMQ vhost (tests/conftest.py), so no other `reporting` instance
    answers this module's RPC."""
    return amqp_uri


@pytest.fixture(scope="module")
def service(reporting_db, scenario, amqp, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("reporting-service") / "nameko.log"
    with running_service(log_path, reporting_db[0].pg_dbname, amqp) as base:
        yield {"base": base, "amqp": amqp}


def test_healthz(service):
    status, _, body = get(service["base"] + "/healthz")
    assert status == 200
    health = json.loads(body)
    assert health["status"] == "ok" and health["service"] == "reporting" and health["year"] == 2007
    assert health["read_model"]["initialised"] is True
    assert health["read_model"]["domains"]["social_assistance"] == {"initialised": True, "missing": []}


def test_report_over_http(service):
    status, content_type, body = get(service["base"] + "/report")
    assert status == 200 and content_type.startswith("application/json")
    report = json.loads(body)
    assert report["year"] == 2007
    assert {"social_assistance", "disaster_relief", "welfare"} <= set(report["domains"]) <= set(report)
    beigang = report["social_assistance"]["areas"]["beigang"]["metrics"]
    assert beigang["persons_covered"]["by_scheme"]["urban"] == 6
    assert beigang["coverage_ratio"]["urban"]["value"] == pytest.approx(6 / 45000)
    assert beigang["coverage_ratio"]["urban"]["met"] is False
    assert report["social_assistance"]["district"]["metrics"]["year_end_extra_ratio"]["value"] == 0.5
    status, _, body = get(service["base"] + "/report?year=2006")
    assert status == 200 and json.loads(body)["social_assistance"]["district"]["metrics"]["donations_yuan"]["value"] == "30.00"
    status, _, body = get(service["base"] + "/report?year=abc")
    assert status == 400 and json.loads(body)["field"] == "year"


def test_metrics_serve_both_registries(service, promtool_check):
    get(service["base"] + "/report")  # at least one entrypoint call counted
    status, content_type, body = get(service["base"] + "/metrics")
    assert status == 200 and content_type.startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    assert "entrypoint_calls" in families
    assert any(s.labels.get("service") == "reporting" for s in families["entrypoint_calls"].samples)
    active = {s.labels["area"]: s.value for s in families["dibao_active_cases"].samples}
    assert active["beigang"] == 4
    promtool_check(body)
    status, _, body = get(service["base"] + "/metrics?year=2006")
    assert status == 200 and b'charity_donations_yuan{area="xinzha",year="2006"} 30.0' in body
    assert get(service["base"] + "/metrics?year=x")[0] == 400


def test_report_over_rpc(service):
    from nameko.standalone.rpc import ClusterRpcProxy

    from shared import nameko_support  # noqa: F401  (registers the domain errors for RPC callers)
    from shared.errors import InvalidInput
    with ClusterRpcProxy({"AMQP_URI": service["amqp"]}, timeout=30) as cluster:
        report = cluster.reporting.report(2007)
        assert report["social_assistance"]["areas"]["beigang"]["metrics"]["active_cases"]["value"] == 4
        assert cluster.reporting.report()["year"] == 2007
        with pytest.raises(InvalidInput) as refused:
            cluster.reporting.report("nope")
        assert (refused.value.field, refused.value.code) == ("year", "report.year_not_number")


def test_audit_over_rpc_checks_its_arguments_and_pages(service, scenario):
    from nameko.standalone.rpc import ClusterRpcProxy

    from shared import nameko_support  # noqa: F401  (registers the domain errors for RPC callers)
    from shared.errors import InvalidInput
    with ClusterRpcProxy({"AMQP_URI": service["amqp"]}, timeout=30) as cluster:
        first = cluster.reporting.audit(limit=5)
        assert first["order"] == "newest first" and len(first["events"]) == 5 and first["next"]
        assert first["events"][0]["sequence"] == scenario.sequence       # the newest event first
        second = cluster.reporting.audit(limit=5, after=first["next"])
        assert [e["sequence"] for e in second["events"]] == \
            list(range(scenario.sequence - 5, scenario.sequence - 10, -1))
        for kwargs, field, code in (({"limit": 0}, "limit", "input.below_minimum"),
                                    ({"after": "Zm9v"}, "after", "report.audit_bad_cursor"),
                                    ({"who": "x"}, "who", "input.unknown_field")):
            with pytest.raises(InvalidInput) as refused:
                cluster.reporting.audit(**kwargs)
            assert (refused.value.field, refused.value.code) == (field, code)


def test_before_the_projection_created_the_database(amqp, tmp_path):
    """Reporting started first: the database does not exist yet. Zeros and a note, not a 500,
    and without waiting for the pool's timeout."""
    dbname = f"civil_affairs_test_reporting_absent_{uuid.uuid4().hex[:8]}"
    with running_service(tmp_path / "nameko.log", dbname, amqp) as base:
        started = time.monotonic()
        status, _, body = get(base + "/report")
        assert time.monotonic() - started < 4
        assert status == 200
        report = json.loads(body)
        assert report["social_assistance"]["note"] == "read model not initialised; start the projection"
        assert report["social_assistance"]["read_model"]["missing"] == [f"database {dbname}"]
        assert report["social_assistance"]["district"]["metrics"]["active_cases"]["value"] == 0
        status, _, body = get(base + "/healthz")
        assert status == 200 and json.loads(body)["read_model"]["initialised"] is False
        status, _, body = get(base + "/metrics")
        assert status == 200 and b"reporting_read_model_initialised 0.0" in body
