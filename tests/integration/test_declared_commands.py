"""Integration tier: the three services generated from their declared commands, as one
`nameko run` process on the real RabbitMQ and PostgreSQL. Input a new user would try (amounts
of "1e400" or fifty digits, 10**30 beds, a name of 100,000 characters, unknown or missing
arguments) comes back as InvalidInput naming the field, with a stable code; nothing is stored
(the event store head is unchanged) and the service answers the next valid call."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from shared.errors import InvalidInput
from shared.rpc import cluster
from tests.support import drop_schemas, free_port, member

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("social_assistance", "disaster_relief", "welfare")


def healthz(base: str) -> dict:
    with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def services(database, amqp_uri, tmp_path_factory):
    """The three services, each its own `nameko run` process; yields their HTTP base URLs."""
    drop_schemas(database, *SERVICES)
    folder = tmp_path_factory.mktemp("declared")
    processes, bases = {}, {}
    for name in SERVICES:
        port = free_port()
        env = dict(os.environ, AMQP_URI=amqp_uri, WEB_SERVER_ADDRESS=f"127.0.0.1:{port}")
        with open(folder / f"{name}.log", "wb") as out:
            processes[name] = subprocess.Popen(
                [sys.executable, "-m", "nameko", "run", "--config", "deploy/nameko.yml",
                 f"services.{name}.service"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        bases[name] = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        for name, base in bases.items():
            while True:
                try:
                    assert healthz(base)["service"] == name
                    break
                except OSError:
                    if processes[name].poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"{name} did not start:\n"
                                    + (folder / f"{name}.log").read_text(errors="replace"))
                    time.sleep(0.3)
        yield bases
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            process.wait(20)
    for name in SERVICES:
        text = (folder / f"{name}.log").read_text(errors="replace")
        # refusals are logged as "(expected) error handling worker"; faults would be ERROR lines
        assert "InvalidOperation" not in text and " ERROR " not in text, text[-3000:]


@pytest.fixture(scope="module")
def rpc(services, amqp_uri):
    with cluster(amqp_uri, timeout=60) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def heads():
    """Each service's event store head, read from its own schema."""
    from services.disaster_relief.application import DisasterRelief
    from services.social_assistance.application import SocialAssistance
    from services.welfare.application import Welfare
    apps = {"social_assistance": SocialAssistance(), "disaster_relief": DisasterRelief(),
            "welfare": Welfare()}
    yield lambda: {name: app.recorder.max_notification_id() or 0 for name, app in apps.items()}
    for app in apps.values():
        app.close()


def refused(heads, call, *args, **kwargs) -> InvalidInput:
    before = heads()
    with pytest.raises(InvalidInput) as caught:
        call(*args, **kwargs)
    assert heads() == before, "a refused command stored something"
    return caught.value


def test_amounts_decimal_would_choke_on_are_refused_with_a_code(rpc, heads):
    sa = rpc.social_assistance
    for amount, code in (("1e400", "input.not_a_number"), ("1" * 50, "input.above_ceiling"),
                         ("NaN", "input.not_a_number"), ("12.345", "input.too_many_decimals"),
                         ("1000000.01", "input.above_ceiling")):
        error = refused(heads, sa.set_standard, "beigang", "urban", amount, "2007-01")
        assert (error.field, error.code) == ("amount", code), amount
    error = refused(heads, sa.set_standard, "beigang", "urban", effective_month="2007-01", amount="1e400")
    assert (error.field, error.code) == ("amount", "input.not_a_number")
    error = refused(heads, sa.raise_standards, "1e400", "10", "2007-02")
    assert (error.field, error.code) == ("urban_delta", "input.not_a_number")
    error = refused(heads, sa.raise_standards, "10", "9" * 50, "2007-02")
    assert (error.field, error.code) == ("rural_delta", "input.above_ceiling")
    error = refused(heads, rpc.disaster_relief.deposit, "beigang", "1e400", "镇财政", "officer-wang", "2007-01-15")
    assert (error.field, error.code) == ("amount", "input.not_a_number")
    error = refused(heads, rpc.disaster_relief.deposit, "beigang", "1" * 50, "镇财政", "officer-wang")
    assert (error.field, error.code) == ("amount", "input.above_ceiling")
    error = refused(heads, rpc.welfare.place_order, "wuxing", "某", "housekeeping", "paid", "1e400", "2007-02-02")
    assert (error.field, error.code) == ("price", "input.not_a_number")
    error = refused(heads, rpc.welfare.place_order, "wuxing", "某", "housekeeping", "paid", "Infinity", "2007-02-02")
    assert (error.field, error.code) == ("price", "input.not_a_number")
    # the services keep serving
    assert sa.set_standard("beigang", "urban", "1200", "2007-01", "test")["effective_month"] == "2007-01"
    assert sa.standard("beigang", "urban", "2007-01") == "1200.00"
    assert rpc.disaster_relief.deposit("beigang", "20000.00", "镇财政", "officer-wang", "2007-01-15")["balance"] == "20000.00"


def test_counts_and_text_beyond_their_bounds_are_refused(rpc, heads):
    wf, sa = rpc.welfare, rpc.social_assistance
    error = refused(heads, wf.register_institution, "beigang", "北港敬老院", "public", 10 ** 30, "2000-01-01")
    assert (error.field, error.code) == ("beds", "input.above_ceiling")
    error = refused(heads, wf.register_institution, "beigang", "院" * 100_000, "public", 5, "2000-01-01")
    assert (error.field, error.code) == ("name", "input.too_long")
    error = refused(heads, sa.register_household, "beigang", "urban", [member("王" * 100_000)])
    assert (error.field, error.code) == ("members[0].name", "input.too_long")
    error = refused(heads, sa.register_household, "beigang", "urban", [member() for _ in range(21)])
    assert (error.field, error.code) == ("members", "input.too_many_items")
    error = refused(heads, sa.register_household, "beigang", "urban", [dict(member(), colour="red")])
    assert (error.field, error.code) == ("members[0].colour", "input.unknown_field")
    error = refused(heads, sa.register_household, "beigang", "urban", [member()], "路" * 201)
    assert (error.field, error.code) == ("address", "input.too_long")
    error = refused(heads, wf.register_institution, "beigang", "北港敬老院", "public", 5, "9999-01-01")
    assert (error.field, error.code) == ("registered_on", "input.date_out_of_range")
    # and the next valid calls are served
    home = wf.register_institution("beigang", "北港敬老院", "public", 5, "2000-01-01")
    assert wf.get_institution(home)["beds"] == 5
    household = sa.register_household("beigang", "urban", [member("王芳")])
    assert sa.get_household(household)["members"][0]["name"] == "王芳"
    error = refused(heads, sa.get_household, household, reveal_identity=True)
    assert (error.field, error.code) == ("reason", "audit.reveal_reason_required")


def test_the_heads_the_services_report_are_the_stores_heads(services, heads):
    assert {name: healthz(base)["head"] for name, base in services.items()} == heads()


def test_a_bad_call_gets_a_typed_error_not_incorrect_signature(rpc, heads):
    sa = rpc.social_assistance
    error = refused(heads, sa.set_standard, "beigang", "urban", "1200", "2007-01", colour="red")
    assert (error.field, error.code) == ("colour", "input.unknown_field")
    error = refused(heads, sa.set_standard, "beigang", "urban", "1200")
    assert (error.field, error.code) == ("effective_month", "input.required")
    error = refused(heads, sa.run_payments, "2007-01", "extra")
    assert error.code == "input.too_many_arguments"
    error = refused(heads, rpc.welfare.get_order, "not-a-uuid")
    assert (error.field, error.code) == ("order_id", "input.not_a_uuid")
    assert rpc.welfare.rules()["restructuring"]["deadline"] == "2007-06-30"


def test_refusals_are_counted_as_refused_input_in_the_metrics(services, rpc):
    with urllib.request.urlopen(f"{services['social_assistance']}/metrics", timeout=10) as response:
        body = response.read().decode()
    assert 'entrypoint_errors_total{entrypoint="set_standard",kind="InvalidInput",service="social_assistance"}' in body


def test_a_malformed_request_is_dropped_and_the_service_keeps_serving(services, rpc, amqp_uri):
    """A message no Nameko caller sends (no content type, no reply address, a body that is not an
    object) used to kill the service container, and its redelivery the restarted one: now it is
    acknowledged, logged and counted, and the next call is served."""
    import amqp

    from shared.bus import AmqpAddress
    address = AmqpAddress.parse(amqp_uri)
    with amqp.Connection(**address.connection_kwargs()) as conn:
        conn.connect()
        channel = conn.channel()
        for body, properties in ((b"{}", {}), (b"[1]", {"content_type": "application/json"}),
                                 (b'{"args": [], "kwargs": {}}', {"content_type": "application/json"})):
            channel.basic_publish(amqp.Message(body, **properties), exchange="nameko-rpc",
                                  routing_key="social_assistance.standard")
    base = services["social_assistance"]
    deadline = time.monotonic() + 30
    while dropped(base) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert dropped(base) == 3
    assert rpc.social_assistance.standard("beigang", "urban", "2007-01")
    assert healthz(base)["status"] == "ok"


def dropped(base: str) -> float:
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("rpc_malformed_requests_total{"):
                return float(line.rsplit(" ", 1)[1])
    return 0.0
