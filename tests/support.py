"""Test helpers shared by every tier: identity numbers, household members, an in-memory app."""
from __future__ import annotations

import contextlib
import itertools
from datetime import date, timedelta
from collections.abc import Callable
from pathlib import Path

from eventsourcing.cryptography import AESCipher
from stdnum.cn import ric

_sequence = itertools.count(1)
ROOT = Path(__file__).resolve().parents[1]


def id_number(born: str = "19600101", area_code: str = "320404", seq: int | None = None) -> str:
    """A valid GB 11643-1999 number (stdnum computes the check digit over 17 digits + 1 slot)."""
    body = f"{area_code}{born}{(seq if seq is not None else next(_sequence) % 1000):03d}"
    return body + ric.calc_check_digit(body + "0")


def member(name: str = "王芳", born: str | None = None, income: str = "0",
           number: str | None = None) -> dict:
    """A household member; without a birth date, each call gets a different person."""
    if born is None:
        n = next(_sequence)
        born = (date(1930, 1, 1) + timedelta(days=n // 999)).isoformat()
        number = number or id_number(born.replace("-", ""), seq=n % 999 + 1)
    return {"id_number": number or id_number(born.replace("-", "")), "name": name,
            "birth_date": born, "monthly_income": income}


def memory_app(today: date = date(2007, 12, 31)):
    from services.social_assistance.application import SocialAssistance
    app = SocialAssistance({"PERSISTENCE_MODULE": "eventsourcing.popo",
                            "CIPHER_KEY": AESCipher.create_key(32)}, today=lambda: today)
    app.load_reference_standards()
    return app


def postgres_app(today: date = date(2007, 12, 31)):
    """The application on the session's real PostgreSQL database (see tests/conftest.py)."""
    from services.social_assistance.application import SocialAssistance
    app = SocialAssistance(today=lambda: today)
    app.load_reference_standards()
    return app


def drive_year(app, households: int = 6) -> list[str]:
    """A small year: households apply, are approved, paid, reviewed, raised, paid at year end."""
    cases = []
    for i in range(households):
        hh = app.register_household(["beigang", "xilin", "yonghong"][i % 3], ["urban", "rural"][i % 2],
                                    [member(f"户主{i}", income=str(10 * i)), member(f"成员{i}")])
        case = app.apply(hh, "officer-li")
        app.verify(case, "officer-li", str(20 * i))
        app.approve(case, "officer-wang", "2007-01")
        cases.append(case)
    app.run_payments("2007-01")
    app.review(cases[0], "officer-zhao", "900")
    app.raise_standards("20", "30", "2007-02")
    app.run_payments("2007-02")
    app.merge_rural_into_urban("xilin", "2007-03")
    app.pay_year_end_extra(2007)
    return cases


def drop_schemas(settings, *schemas: str) -> None:
    """Drop these schemas (event stores, read models) so that a test starts from nothing."""
    import psycopg
    from psycopg import sql
    with psycopg.connect(settings.pg_conninfo(), autocommit=True) as conn:
        for schema in schemas:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


# Ports for the programs a test starts come from below the kernel's ephemeral range
# (net.ipv4.ip_local_port_range, 32768-60999 by default), so that no outgoing connection of another
# process (to PostgreSQL, RabbitMQ, a receiver) takes one between its choice and its program's bind,
# and none is handed out twice in one run: the kernel's bind(0) may give a closed port again, and two
# programs of one platform on one port had the second answer the first's URL (a relay's metrics text
# read as the service's feed).
_PORTS = range(20000, 32000)
_handed_out: set[int] = set()


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now and that this run has not handed out."""
    import os
    import random
    import socket
    rng = random.Random(os.getpid() ^ len(_handed_out))
    for _ in range(2000):
        port = rng.choice(_PORTS)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port left in {_PORTS.start}-{_PORTS.stop - 1}: stop the programs earlier tests left running")


def http_get(url: str, timeout: float = 10) -> tuple[int, bytes]:
    """The status and body of a GET; an HTTP error status is returned, not raised."""
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def get_json(url: str) -> dict:
    """The JSON body of a GET that must succeed."""
    import json
    status, body = http_get(url)
    assert status == 200, f"GET {url} answered {status}: {body[:300]!r}"
    return json.loads(body)


@contextlib.contextmanager
def nameko_service(module: str, amqp_uri: str, log_dir, *, env: dict | None = None,
                   startup: float = 60):
    """`nameko run <module>` as a process on a free HTTP port; yields its base URL once /healthz
    answers 200, and stops it afterwards. A service that does not start fails the test with its log."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    import pytest
    port = free_port()
    log = Path(log_dir) / f"{module.rsplit('.', 2)[-2]}.log"
    process_env = dict(os.environ, AMQP_URI=amqp_uri, WEB_SERVER_ADDRESS=f"127.0.0.1:{port}", **(env or {}))
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "nameko", "run", "--config", "deploy/nameko.yml",
                                    module], cwd=ROOT, env=process_env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + startup
    try:
        while True:
            try:
                if http_get(f"{base}/healthz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{module} did not start:\n{log.read_text(errors='replace')[-4000:]}")
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def check_relay_publishes_the_store(app, amqp_uri: str, service: str, drive: Callable, batch_size: int = 50) -> list:
    """`drive(app)`, then a Relay publishes the store: every stored event arrives on
    `<service>.events`, in the notification log's order, as a CloudEvent valid against its schema,
    routed by its type and named with the service's source. Returns the decoded events."""
    import amqp

    from shared import contract, schemas
    from shared.bus import AmqpAddress, declare_events_exchange
    from shared.config import settings
    from shared.relay import Relay
    tap = f"tap-{service}"
    connection = amqp.Connection(**AmqpAddress.parse(amqp_uri).connection_kwargs())
    connection.connect()
    channel = connection.channel()
    declare_events_exchange(channel, service)
    channel.queue_declare(tap, durable=False, auto_delete=True)
    channel.queue_bind(tap, f"{service}.events", "#")
    try:
        drive(app)
        relay = Relay(app, settings(), batch_size=batch_size)
        while relay.run_once():
            pass
        relay.publisher.close()
        messages = []
        while (message := channel.basic_get(tap, no_ack=True)) is not None:
            messages.append(message)
    finally:
        connection.close()
    head = app.recorder.max_notification_id()
    assert [int(contract.decode(m.body).get_extension("sequence")) for m in messages] == list(range(1, head + 1))
    # The relay encodes without the SDK's CloudEvent (contract.to_outgoing): byte for byte the SDK's.
    stored = app.recorder.select_notifications(start=1, limit=head)
    assert [m.body for m in messages] == [contract.encode(e) for e in contract.to_cloudevents(app, stored, previous=0)]
    events = []
    for message in messages:
        event = schemas.validate(contract.as_dict(contract.decode(message.body)))
        assert message.delivery_info["routing_key"] == event["type"]
        assert event["source"] == f"urn:zhonglou-civil-affairs:{service}"
        events.append(event)
    return events


def metric_samples(text: bytes) -> dict:
    """A Prometheus text exposition as {(sample name, sorted labels): value}."""
    from prometheus_client.parser import text_string_to_metric_families
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text.decode()) for s in family.samples}


def metric_value(found: dict, name: str, **labels):
    """One sample of metric_samples(), or None when the exposition has none with these labels."""
    return found.get((name, tuple(sorted(labels.items()))))


def check_with_promtool(exposition: bytes) -> None:
    """`promtool check metrics` must accept the exposition; a missing promtool is a failure."""
    import shutil
    import subprocess

    import pytest
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed: install the Debian package prometheus "
                    "(apt-get install -y prometheus), which provides /usr/bin/promtool")
    result = subprocess.run([promtool, "check", "metrics"], input=exposition, capture_output=True, timeout=60)
    problems = (result.stdout + result.stderr).decode()
    assert result.returncode == 0 and not problems.strip(), f"promtool check metrics:\n{problems}"
