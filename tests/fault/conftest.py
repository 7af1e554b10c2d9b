"""Fault suite set-up: the platform's processes, a steady stream of commands, and the final check
that nothing was lost and nothing applied twice."""
from __future__ import annotations

import random
import threading
import time

import pytest

from services.projection.readmodel import ReadModel
from shared import domains
from shared.config import settings
from shared.consumer import FeedClient
from shared.rpc import cluster
from tests.e2e.platform import Platform
from tests.support import drop_schemas, member

SA, RELAY, PROJECTION = "SOCIAL_ASSISTANCE_PORT", "RELAY_SOCIAL_ASSISTANCE_PORT", "PROJECTION_PORT"
SOURCE_NAMES = list(domains.names())
AREAS = ["beigang", "xilin", "yonghong", "xinzha", "wuxing"]


@pytest.fixture
def platform(fresh_schemas, amqp_uri, tmp_path):
    drop_schemas(fresh_schemas, "read_model_replay")
    running = Platform(amqp_uri, tmp_path)
    try:
        running.start_all()
        running.wait_until(lambda: running.get(SA, "/healthz"), what="social_assistance")
        running.wait_until(lambda: running.metric(PROJECTION, "projection_source_head", source="social_assistance") is not None,
                           what="projection")
        yield running
    finally:            # also when start-up fails: never leave processes behind
        running.stop_all()


class Traffic:
    """A steady stream of dibao cases (register, apply, verify, approve) from a thread of its own.
    Commands may fail while a fault lasts; they are counted, and the stream goes on."""

    def __init__(self, amqp_uri: str, rate: float = 15.0):
        self.amqp_uri = amqp_uri
        self.interval = 1.0 / rate
        self.stopping = threading.Event()
        self.done = 0
        self.failed = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(60)

    def wait_for(self, commands: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        target = self.done + commands
        while self.done < target and time.monotonic() < deadline:
            time.sleep(0.1)
        assert self.done >= target, f"the command stream stalled ({self.done} done, {self.failed} failed)"

    def _run(self) -> None:
        rng = random.Random(7)
        while not self.stopping.is_set():
            try:
                with cluster(self.amqp_uri, timeout=10) as rpc:
                    self.rpc = rpc
                    while not self.stopping.is_set():
                        self._one_case(rpc.social_assistance, rng)
            except Exception:  # the broker is away, a call timed out: count and reconnect
                self.failed += 1
                self.stopping.wait(0.5)

    def _one_case(self, sa, rng) -> None:
        hh = sa.register_household(rng.choice(AREAS), rng.choice(["urban", "rural"]),
                                   [member(income=str(rng.randint(0, 150)))])
        case = sa.apply(hh, "officer-li")
        sa.verify(case, "officer-li", str(rng.randint(0, 150)))
        sa.approve(case, "officer-wang", "2007-01")
        self.done += 4
        self.other_services(rng)
        time.sleep(self.interval)

    def other_services(self, rng) -> None:
        """A command for each of the other services too, so every relay has a stream to carry."""
        area = rng.choice(AREAS)
        self.rpc.disaster_relief.deposit(area, f"{rng.randint(1, 500)}.00", "district budget",
                                         "officer-li", "2007-03-01")
        self.rpc.welfare.register_institution(area, f"{area}敬老院{self.done}", "public",
                                              rng.randint(10, 60), "2007-01-15")
        self.done += 2
        if "military_support" in SOURCE_NAMES:
            self.rpc.military_support.record_activity(
                rng.choice(("window", "policy", "culture", "socialized")), area, "拥军慰问", "某部三营",
                "2007-04-01", rng.randint(10, 100))
            self.done += 1
        if "community" in SOURCE_NAMES:
            self.rpc.community.register_community(area, f"{area}第{self.done}社区", "2007-01-15")
            self.done += 1


def snapshot(model: ReadModel) -> dict:
    return {name: model.table_rows(name) for name in [*model.tables, *model.views]}


def assert_converged(platform: Platform, timeout: float = 180.0) -> int:
    """Every stored event of every source was published, and the live read model equals a fresh
    replay of the event stores, table by table, row by row. Returns social assistance's head."""
    feeds = {name: FeedClient(platform.env[f"{name.upper()}_URL"]) for name in SOURCE_NAMES}
    heads = {}
    for name, feed in feeds.items():
        head = heads[name] = platform.wait_until(lambda: feed.head() + 1, what=f"{name}'s head") - 1
        relay_port = f"RELAY_{name.upper()}_PORT"
        platform.wait_until(lambda: (platform.metric(relay_port, "relay_published_position") or 0) == head,
                            timeout, what=f"the {name} relay to publish up to {head}")
        platform.wait_until(lambda: (platform.metric(PROJECTION, "projection_position", source=name) or 0) == head,
                            timeout, what=f"the projection to apply {name} up to {head}")
    live = ReadModel.connect(settings())
    replay = ReadModel.connect(settings(), schema="read_model_replay")
    replay.rebuild(list(feeds), lambda source: feeds[source].pages())
    assert snapshot(replay) == snapshot(live)
    return heads["social_assistance"]
