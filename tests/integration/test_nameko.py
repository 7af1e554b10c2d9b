"""Integration tier: Nameko processes on the real RabbitMQ and PostgreSQL."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shared.rpc import cluster
from shared.relay import Relay
from shared.config import settings
from tests.support import member, postgres_app

ROOT = Path(__file__).resolve().parents[2]


def start_probe(amqp_uri: str, output: Path, wait_func: str | None) -> subprocess.Popen:
    env = dict(os.environ, AMQP_URI=amqp_uri, PROBE_OUTPUT=str(output), WEB_SERVER_ADDRESS="127.0.0.1:0")
    env.pop("PSYCOPG_WAIT_FUNC", None)
    if wait_func:
        env["PSYCOPG_WAIT_FUNC"] = wait_func
    return subprocess.Popen([sys.executable, "-m", "nameko", "run", "--config", "deploy/nameko.yml",
                             "tests.integration.nameko_probe"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_until_up(rpc, timeout: float = 30.0) -> None:
    from nameko.exceptions import UnknownService
    deadline = time.monotonic() + timeout
    while True:
        try:
            rpc.probe.sleep_in_db(0)
            return
        except UnknownService:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def call_concurrently(amqp_uri: str, calls: int, seconds: float) -> list[list[float]]:
    with cluster(amqp_uri, timeout=60) as rpc:
        wait_until_up(rpc)
        replies = [rpc.probe.sleep_in_db.call_async(seconds) for _ in range(calls)]
        return [reply.result() for reply in replies]


@pytest.fixture
def probe(database, amqp_uri, tmp_path):
    processes = []

    def start(wait_func=None):
        process = start_probe(amqp_uri, tmp_path / "events.jsonl", wait_func)
        processes.append(process)
        return process
    yield start
    for process in processes:
        process.terminate()
        process.wait(10)


def overlapping(intervals: list[list[float]]) -> bool:
    return max(start for start, _ in intervals) < min(end for _, end in intervals)


def test_database_waits_do_not_block_other_workers_with_wait_select(probe, amqp_uri):
    probe()  # nameko_support sets PSYCOPG_WAIT_FUNC=wait_select
    intervals = call_concurrently(amqp_uri, 6, 0.5)
    assert overlapping(intervals), "six calls each sleeping in PostgreSQL ran one after another"


def test_the_trap_psycopg_c_wait_serialises_every_worker(probe, amqp_uri):
    probe(wait_func="wait_c")  # what psycopg-binary picks under eventlet by itself
    intervals = sorted(call_concurrently(amqp_uri, 4, 0.3))
    assert all(later[0] >= earlier[1] - 0.01 for earlier, later in zip(intervals, intervals[1:]))


def test_a_plain_nameko_event_handler_receives_the_relays_cloudevents(probe, amqp_uri, fresh_schemas, tmp_path):
    probe()
    with cluster(amqp_uri, timeout=60) as rpc:
        wait_until_up(rpc)  # up, and its event queue is bound
    app = postgres_app()
    person = member("赵敏")
    app.register_household("yonghong", "urban", [person])
    relay = Relay(app, settings())
    while relay.run_once():
        pass
    output = tmp_path / "events.jsonl"
    deadline = time.monotonic() + 30
    while not output.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    received = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [e["type"] for e in received] == ["HouseholdRegistered"]
    event = received[0]
    assert event["specversion"] == "1.0" and int(event["sequence"]) >= 1
    assert event["data"]["members"][0]["id_number"] == person["id_number"][:6] + "********" + person["id_number"][-4:]
    assert "birth_date" not in event["data"]["members"][0]
    relay.publisher.close()
    app.close()


def test_an_rpc_caller_gets_the_typed_error_back_with_code_field_and_rule(probe, amqp_uri):
    from shared.errors import Conflict, InvalidInput
    probe()
    with cluster(amqp_uri, timeout=60) as rpc:
        wait_until_up(rpc)
        with pytest.raises(Conflict) as refused:
            rpc.probe.refuse()
        with pytest.raises(InvalidInput) as uncoded:
            rpc.probe.refuse(False)
    assert type(refused.value) is Conflict
    assert (refused.value.code, refused.value.field, refused.value.rule) == (
        "dibao.maker_checker", "officer",
        "approval must be by a different officer than the verifier (maker-checker)")
    assert refused.value.as_dict()["code"] == "dibao.maker_checker"
    assert (uncoded.value.code, uncoded.value.field, uncoded.value.rule) == (None, "amount", "must not be negative")
