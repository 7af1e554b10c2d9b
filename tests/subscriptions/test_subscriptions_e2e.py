"""End-to-end tier: a municipal system subscribes through the gateway, the real delivery process
(`python -m services.subscriptions.delivery`) validates its sink with the handshake and delivers
the bureau's events, signed, in order and scoped, to the example receiver of docs/examples (which
verifies every signature with the independent `standardwebhooks` package)."""
from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading

import pytest
import requests

from tests.e2e.conftest import platform  # noqa: F401  (the fixture)
from tests.e2e.platform import ROOT, free_port, stop_group
from tests.support import member

pytestmark = pytest.mark.e2e
ORIGIN = "zhonglou-civil-affairs"


def start(command: list[str], env: dict, log) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log,
                            text=True, start_new_session=True)


def lines_of(process: subprocess.Popen) -> "queue.Queue[dict]":
    found: queue.Queue = queue.Queue()

    def read():
        for line in process.stdout:
            if line.startswith("{"):
                found.put(json.loads(line))
    threading.Thread(target=read, daemon=True).start()
    return found


def test_a_municipal_webhook_gets_the_events_signed_in_order_and_reduced(platform, tmp_path):
    admin = {"Authorization": "Bearer " + platform.token("admin-zhou", ["administrator"], "*")}
    officer = {"Authorization": "Bearer " + platform.token("officer-li", ["social_assistance.officer"], ["beigang"])}
    port = free_port()
    answer = platform.wait_until(lambda: requests.post(platform.gateway_url("/subscriptions"), headers=admin, json={
        "subscriber": "市统计局", "purpose": "monthly statistics of new households", "legal_basis": "statistics",
        "source": "social_assistance", "sink": f"http://127.0.0.1:{port}/hooks",
        "types": ["HouseholdRegistered"]}, timeout=30), what="the subscription created")
    assert answer.status_code == 201, answer.text
    created = answer.json()["result"]
    assert answer.headers["Location"] == f"/subscriptions/{created['id']}"
    log = open(tmp_path / "delivery.log", "a")
    receiver = start([sys.executable, "docs/examples/webhook_receiver.py", "--port", str(port),
                      "--secret", created["secret"], "--allowed-origin", ORIGIN], platform.env, log)
    delivery = start([sys.executable, "-m", "services.subscriptions.delivery"],
                     {**platform.env, "SUBSCRIPTIONS_ALLOW_NETWORKS": "127.0.0.0/8",
                      "METRICS_PORT": str(free_port())}, log)
    try:
        received = lines_of(receiver)
        assert received.get(timeout=30) == {"listening": port}
        people = [member(name=name) for name in ("王芳", "李强", "赵敏")]
        for person in people:
            response = requests.post(platform.gateway_url("/social-assistance/households"), headers=officer,
                                     json={"area": "beigang", "registration": "urban", "members": [person]},
                                     timeout=30)
            assert response.status_code == 201, response.text
        events = [received.get(timeout=60) for _ in people]
        assert [e["type"] for e in events] == ["HouseholdRegistered"] * 3
        sequences = [int(e["sequence"]) for e in events]
        assert sequences == sorted(sequences) and len(set(sequences)) == 3
        names = [m["name"] for e in events for m in e["data"]["members"]]
        assert names == ["王*", "李*", "赵*"]                  # statistics: a reduced scope
        assert all("monthly_income" not in m for e in events for m in e["data"]["members"])
        # acknowledged, with the record of what was disclosed to whom
        def shown():
            return requests.get(platform.gateway_url(f"/subscriptions/{created['id']}"), headers=admin,
                                timeout=30).json()["result"]
        state = platform.wait_until(lambda: (s := shown())["position"] == sequences[-1] and s, what="the acknowledgement")
        assert state["state"] == "active" and state["delivered"] == 3 and state["dead_letters"] == []
    finally:
        stop_group(delivery, signal.SIGTERM)
        stop_group(receiver, signal.SIGTERM)
        log.close()
