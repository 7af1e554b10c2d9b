"""Integration tier: the `subscriptions` Nameko service as it runs (`nameko run` in its own
process) on the real RabbitMQ and PostgreSQL: created over RPC (the secret once), read and listed
without secrets, refused input as typed errors with codes (nothing stored), the events in its own
encrypted store carrying the caller, and no /events feed served."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from uuid import UUID

import pytest

from shared.errors import Conflict, InvalidInput, NotFound
from shared.rpc import cluster
from tests.support import drop_schemas, free_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def status(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture(scope="module")
def service(database, amqp_uri, tmp_path_factory):
    drop_schemas(database, "subscriptions")
    log = tmp_path_factory.mktemp("subscriptions") / "service.log"
    port = free_port()
    env = dict(os.environ, AMQP_URI=amqp_uri, WEB_SERVER_ADDRESS=f"127.0.0.1:{port}")
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "nameko", "run", "--config", "deploy/nameko.yml",
                                    "services.subscriptions.service"], cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 60
    try:
        while True:
            try:
                if status(base + "/healthz")[0] == 200:
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("subscriptions did not start:\n" + log.read_text(errors="replace"))
                time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        process.wait(20)
    text = log.read_text(errors="replace")
    assert " ERROR " not in text, text[-3000:]     # refusals are "(expected)" warnings


@pytest.fixture(scope="module")
def rpc(service, amqp_uri):
    with cluster(amqp_uri, timeout=60, actor="admin-zhou", request_id="req-subs-1") as proxy:
        yield proxy


BODY = dict(subscriber="City Statistics Bureau", purpose="monthly caseload statistics",
            legal_basis="statistics", source="social_assistance", sink="https://stats.example/hooks",
            types=["CaseApproved"], filters=[{"prefix": {"subject": "case"}}])


def head(service) -> int:
    return json.loads(status(service + "/healthz")[1])["head"]


def test_create_get_list_over_rpc(service, rpc):
    created = rpc.subscriptions.register_subscription(**BODY)
    secret = created.pop("secret")
    assert secret.startswith("whsec_") and created["state"] == "created" and created["scope"] == "reduced"
    sid = created["id"]
    shown = rpc.subscriptions.get_subscription(sid)
    assert shown["secret_count"] == 1 and secret not in json.dumps(shown)
    assert sid in [s["id"] for s in rpc.subscriptions.list_subscriptions()]
    assert rpc.subscriptions.list_subscriptions(state="suspended") == []
    rotated = rpc.subscriptions.rotate_secret(sid)
    assert rotated["secret_count"] == 2 and rotated["secret"] not in (secret,)
    assert rpc.subscriptions.suspend_subscription(sid, "maintenance window")["state"] == "suspended"
    assert rpc.subscriptions.resume_subscription(sid)["state"] == "created"
    assert rpc.subscriptions.replay_subscription(sid, 5)["position"] == 5
    assert rpc.subscriptions.delete_subscription(sid)["state"] == "deleted"


def test_typed_errors_over_rpc_and_nothing_stored(service, rpc):
    before = head(service)
    refusals = ((dict(BODY, filters=[{"sql": "true"}]), InvalidInput, "subscription.unsupported_dialect"),
                (dict(BODY, filters=[{"regex": {"type": "x"}}]), InvalidInput, "subscription.unknown_dialect"),
                (dict(BODY, source="taxes"), InvalidInput, "subscription.unknown_source"),
                (dict(BODY, sink="ftp://stats.example/"), InvalidInput, "subscription.sink_scheme"),
                (dict(BODY, legal_basis="curiosity"), InvalidInput, "input.not_one_of"),
                (dict(BODY, secret="whsec_mine"), InvalidInput, "input.unknown_field"))
    for body, error, code in refusals:
        with pytest.raises(error) as refused:
            rpc.subscriptions.register_subscription(**body)
        assert refused.value.code == code, body
    with pytest.raises(NotFound) as missing:
        rpc.subscriptions.get_subscription("6f1c2a3e-0000-4000-8000-000000000009")
    assert missing.value.code == "store.not_found"
    assert head(service) == before
    sid = rpc.subscriptions.register_subscription(**BODY)["id"]
    rpc.subscriptions.delete_subscription(sid)
    with pytest.raises(Conflict) as deleted:
        rpc.subscriptions.resume_subscription(sid)
    assert deleted.value.code == "subscription.deleted" and deleted.value.field == "subscription_id"


def test_events_carry_the_caller_and_no_feed_is_served(service, rpc):
    from services.subscriptions.application import Subscriptions
    sid = rpc.subscriptions.register_subscription(**BODY)["id"]
    app = Subscriptions()
    try:
        (created,) = app.events.get(UUID(sid))
        assert created.audit["actor"] == "admin-zhou" and created.audit["request_id"] == "req-subs-1"
        assert app.delivery(sid)["secrets"][0].startswith("whsec_")    # the delivery process's read
    finally:
        app.close()
    assert status(service + "/events?after=0")[0] == 404
