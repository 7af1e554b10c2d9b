"""The subscriptions' figures (bench phase "subscriptions", issue 10): the real delivery engine
(`python -m services.subscriptions.delivery`, or the platform's own program
`subscriptions_delivery` when deploy/supervisord.conf has one), the real subscriptions store
(the `Subscriptions` application on the run's database) and a real source feed (the
social_assistance service's GET /events), delivering to fast receivers on loopback.

- `Receiver`: one asyncio HTTP/1.1 server on 127.0.0.1 (keep-alive, TCP_NODELAY) in a thread of
  its own; each subscription has a path `/hook/<name>`; it answers the validation handshake
  with consent, verifies nothing and answers 200 to every POST, recording the arrival time and
  the body. A name marked stalled reads each POST and never answers (the engine's read timeout
  ends it).
- a. deliveries/s to one receiver: a subscription after=0 on a store holding N events, the
  arrivals over `--subscriptions-seconds` from the first one; baseline: the same bodies POSTed
  back to back over one kept-alive connection from one thread of a child process
  (`baselines.webhook_posts`), to the same receiver (the ceiling);
- b. replay to a new subscriber, three ways: a webhook subscription with batchsize 1 (structured
  mode, one request per event), one with batchsize `REPLAY_BATCH` (batched mode), and an AMQP
  subscription (its queue and broker user made through the application by the real amqp_sink
  provisioner, on the bench's private vhost; a py-amqp consumer in the bench counts the
  messages; deprovisioned at the end). Each after=0, timed from its creation until the head's
  event arrived; baseline: reading the same feed pages alone (`FeedReader`). The headline is the
  best of the three, named.
- c. delivery lag at `--subscriptions-rate` events/s (stored on a fixed schedule by a child
  process, one registered household per transaction: the command path is the other phases'
  figure) for `--latency-seconds`, ten subscriptions of which one receiver stalls: lag = arrival
  minus the event's `time` (set when the household was made, just before it was stored),
  p50/p99/max of the nine, and the stalled one's lag as the engine's `subscription_lag_seconds`
  shows it.

No timed assertions: the figures go to the run's table (bench/report.py TARGETS)."""
from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import subprocess
import sys
import threading
import time

from bench import probes, report

ALLOW = "127.0.0.0/8"          # the receivers are on loopback (SUBSCRIPTIONS_ALLOW_NETWORKS)
PROGRAM = "subscriptions_delivery"
PORT_VARIABLE = "SUBSCRIPTIONS_DELIVERY_PORT"
SEQUENCE = re.compile(rb'"sequence":\s*"(\d+)"')
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
CONSENT = (b"HTTP/1.1 200 OK\r\nWebHook-Allowed-Origin: *\r\nWebHook-Allowed-Rate: *\r\n"
           b"Content-Length: 0\r\n\r\n")
MAX_HEAD = 65536               # bytes of a request's head; a longer one closes the connection
MAX_BODY = 16 << 20           # a batch of REPLAY_BATCH events
REPLAY_BATCH = 500             # protocolsettings.batchsize of the batched replay


# --- the receiver ----------------------------------------------------------------------------------

class Receiver:
    """Fast webhook receivers on loopback, one path per subscription (see the module docstring)."""

    def __init__(self):
        self.records: dict[str, list[tuple[float, bytes]]] = {}
        self.counts: dict[str, int] = {}     # events received per name (a batch holds several)
        self.stalled: set[str] = set()
        self.stalled_posts: dict[str, int] = {}
        self.handshakes = 0
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(started,), name="bench-receiver", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the bench receiver did not start")

    def _serve(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._connection, "127.0.0.1", 0, limit=MAX_HEAD))
        self.port = self.server.sockets[0].getsockname()[1]
        started.set()
        self.loop.run_forever()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/hook/{name}"

    def received(self, name: str) -> list[tuple[float, bytes]]:
        return self.records.get(name, [])

    def events(self, name: str) -> int:
        return self.counts.get(name, 0)

    def last_sequence(self, name: str) -> int:
        got = self.records.get(name)
        if not got:
            return 0
        found = SEQUENCE.findall(got[-1][1])   # a batch: its last event's
        return int(found[-1]) if found else 0

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while await self._request(reader, writer):
                pass
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError,
                asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _request(self, reader, writer) -> bool:
        """One request; False when the connection is to end."""
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        method, target, _version = lines[0].split(b" ", 2)
        length = 0
        for line in lines[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if not 0 <= length <= MAX_BODY:
            return False
        body = await reader.readexactly(length) if length else b""
        name = target.rsplit(b"/", 1)[-1].decode("ascii", "replace")
        if method == b"OPTIONS":
            self.handshakes += 1
            writer.write(CONSENT)
        elif name in self.stalled:
            self.stalled_posts[name] = self.stalled_posts.get(name, 0) + 1
            await reader.read()          # never answer: wait for the sender to give up
            return False
        else:
            self.records.setdefault(name, []).append((time.time(), body))
            self.counts[name] = self.counts.get(name, 0) + events_in(body)
            writer.write(OK)
        await writer.drain()
        return True

    def close(self) -> None:
        async def stop():
            self.server.close()
            for task in asyncio.all_tasks(self.loop) - {asyncio.current_task()}:
                task.cancel()       # open connections (a stalled one waits for its sender)
            self.loop.stop()
        asyncio.run_coroutine_threadsafe(stop(), self.loop)
        self._thread.join(10)


# --- pure figures ----------------------------------------------------------------------------------

def events_in(body: bytes) -> int:
    """Events in a POST's body: one (structured mode) or the batch's (a JSON array)."""
    return len(SEQUENCE.findall(body)) if body[:1] == b"[" else 1


def window_rate(arrivals: list[float], seconds: float) -> dict:
    """Deliveries/s over the first `seconds` after the first arrival (or until the last one,
    when the backlog ran out sooner): (count - 1) / (last - first) of the arrivals in it."""
    if len(arrivals) < 2:
        return {"count": len(arrivals), "seconds": 0.0, "rate": None}
    first = arrivals[0]
    inside = [t for t in arrivals if t <= first + seconds]
    span = inside[-1] - first
    return {"count": len(inside), "seconds": span, "rate": (len(inside) - 1) / span if span > 0 else None}


def lags(records: list[tuple[float, bytes]], since: float) -> list[float]:
    """Seconds from each event's `time` to its first arrival (redeliveries left out), for the
    events made at or after `since` (Unix seconds)."""
    from services.subscriptions.delivery import stored_at
    seen: set[str] = set()
    out = []
    for arrival, body in records:
        parsed = json.loads(body)
        for event in parsed if isinstance(parsed, list) else [parsed]:
            made = stored_at(event)
            if event.get("id") in seen or made is None or made < since:
                continue
            seen.add(event.get("id"))
            out.append(arrival - made)
    return out


def in_order(records: list[tuple[float, bytes]]) -> bool:
    """The sequences of the arrivals never go down (at-least-once redeliveries repeat, in order)."""
    return ordered([int(s) for _t, body in records for s in SEQUENCE.findall(body)])


def ordered(sequences: list[int]) -> bool:
    """Never down from one arrival to the next, nor within a batch."""
    return all(a <= b for a, b in zip(sequences, sequences[1:]))


# --- the delivery process --------------------------------------------------------------------------

@contextlib.contextmanager
def delivery_process(bench, log, timeout: float = 60):
    """(pid, metrics URL) of the delivery engine: the platform's program when it has one, else
    `python -m services.subscriptions.delivery` beside it, stopped at the end."""
    from tests.e2e.platform import ROOT, free_port, stop_group
    platform = bench.platform
    if PROGRAM in platform.processes:
        url = platform.url(PORT_VARIABLE, "/metrics")
        probes.wait_for(lambda: probes.scrape(url, 2), timeout, 0.2, f"{PROGRAM} /metrics")
        yield platform.processes[PROGRAM].pid, url
        return
    port = free_port()
    with open(bench.logs / f"{PROGRAM}.log", "ab") as output:
        process = subprocess.Popen([sys.executable, "-m", "services.subscriptions.delivery"], cwd=ROOT,
                                   env={**platform.env, "METRICS_PORT": str(port),
                                        "SUBSCRIPTIONS_ALLOW_NETWORKS": ALLOW},
                                   stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        def up():
            if process.poll() is not None:
                raise RuntimeError(f"the delivery process exited with {process.returncode}; "
                                   f"see {bench.logs / (PROGRAM + '.log')}")
            return probes.scrape(url, 2)
        probes.wait_for(up, timeout, 0.2, "the delivery process's /metrics")
        log(f"delivery process started beside the platform (pid {process.pid}; log {bench.logs / (PROGRAM + '.log')})")
        yield process.pid, url
    finally:
        if (peak := probes.peak_rss_mb(process.pid)) is not None:
            bench.peaks[PROGRAM] = max(bench.peaks.get(PROGRAM, 0.0), peak)
        stop_group(process, __import__("signal").SIGTERM)


class Store:
    """The subscriptions application on the run's database, as an administrator would use it,
    with the real AMQP sink provisioning (amqp_sink on the bench's vhost) as the service's
    composition root gives it (services/subscriptions/service.py)."""

    def __init__(self):
        from services.subscriptions.application import Subscriptions
        self.app = Subscriptions(provisioner=provision, deprovisioner=deprovision)
        self.made: list[str] = []

    def create(self, sink: str, after: int = 0, name: str = "bench", protocol: str = "HTTP",
               protocolsettings: dict | None = None) -> dict:
        """The view as created (an AMQP subscription's with its `credentials`, shown once)."""
        made = self.app.create(subscriber=f"bench {name}", purpose="benchmark of the delivery engine",
                               legal_basis="service_delivery", source="social_assistance", sink=sink,
                               after=after, protocol=protocol, protocolsettings=protocolsettings)
        self.made.append(made["id"])
        return made

    def wait_active(self, ids: list[str], timeout: float = 120) -> None:
        probes.wait_for(lambda: all(self.app.get(i)["state"] == "active" for i in ids), timeout, 0.1,
                        "the subscriptions to be validated and active")

    def delete_all(self) -> None:
        """Deleted (an AMQP one's queues and user deprovisioned)."""
        for sid in self.made:
            with contextlib.suppress(Exception):    # already deleted
                self.app.delete(sid)
        self.made.clear()

    def close(self) -> None:
        self.delete_all()
        self.app.close()


def _vhost() -> str:
    from shared.broker_users import vhost_of
    from shared.config import settings
    return vhost_of(settings().amqp_uri)


def provision(view: dict) -> dict:
    """amqp_sink's provisioning, as services/subscriptions/service.py `provision` (not imported:
    it loads the Nameko service): the queues and user on the bench's vhost, and the URI."""
    from services.subscriptions import amqp_sink
    credentials = amqp_sink.provision(view["id"], _vhost())
    return {**credentials.as_dict(), "uri": credentials.uri()}


def deprovision(view: dict) -> None:
    from services.subscriptions import amqp_sink
    amqp_sink.deprovision(view["id"], _vhost())


class Consumer:
    """An AMQP subscriber in a thread (py-amqp, automatic acknowledgement, prefetch 1000): counts
    the messages of its queue and keeps the arrival time and `sequence` of each."""

    def __init__(self, uri: str, queue: str):
        import amqp

        from shared.bus import AmqpAddress
        self.arrivals: list[float] = []
        self.sequences: list[int] = []
        self.connection = amqp.Connection(**{**AmqpAddress.parse(uri).connection_kwargs(), "heartbeat": 0})
        self.connection.connect()
        channel = self.connection.channel()
        channel.basic_qos(0, 1000, False)
        channel.basic_consume(queue, callback=self._message, no_ack=True)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-amqp-consumer", daemon=True)
        self._thread.start()

    def _message(self, message) -> None:
        found = SEQUENCE.search(message.body if isinstance(message.body, bytes) else message.body.encode())
        self.arrivals.append(time.time())
        self.sequences.append(int(found.group(1)) if found else 0)

    def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(socket.timeout, TimeoutError):
                self.connection.drain_events(timeout=0.2)

    def last_sequence(self) -> int:
        return self.sequences[-1] if self.sequences else 0

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(10)
        with contextlib.suppress(Exception):
            self.connection.close()


def feed_url(bench) -> str:
    return bench.platform.env["SOCIAL_ASSISTANCE_URL"]


def feed_head(bench) -> int:
    from services.subscriptions.delivery import FeedReader
    return int(FeedReader(feed_url(bench)).page(0, 1).get("head") or 0)


def wait_quiet_receiver(receiver: Receiver, name: str, quiet: float = 2.0, timeout: float = 60) -> None:
    """Until no POST arrived for `quiet` seconds (a deleted subscription's worker has stopped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = receiver.received(name)
        if not got or time.time() - got[-1][0] >= quiet:
            return
        time.sleep(0.2)


# --- the phase -------------------------------------------------------------------------------------

def run_phase(args, env, bench, households, figures: dict, log, stamp: str = "") -> None:
    """c (live lag, nothing pre-loaded yet), then the pre-load, then a and b. Figures in
    figures["subscriptions"]."""
    result: dict = {}
    figures["subscriptions"] = result
    receiver = Receiver()
    store = Store()
    try:
        with delivery_process(bench, log) as (pid, metrics):
            pids = lambda: {**bench.pids(), PROGRAM: pid}  # noqa: E731
            lag(args, bench, store, receiver, metrics, pids, result, log)
            store.delete_all()
            preload(args, bench, result, log)
            throughput(args, bench, store, receiver, pids, result, log, stamp, pid)
            store.delete_all()
            replay(args, bench, store, receiver, pids, result, log)
    finally:
        store.close()
        receiver.close()
        for name in ("relay_social_assistance", "projection"):   # as the phase found the platform
            if name not in bench.platform.processes:
                bench.start(name)
    result.update(headline(result))


def preload(args, bench, result: dict, log) -> None:
    from bench.run import run_preload
    head = feed_head(bench)
    missing = max(0, args.events - head)
    log.phase(f"subscriptions: {args.events} events in the social_assistance store ({head} there; "
              f"pre-loading {missing}, relay and projection stopped meanwhile)")
    if not missing:
        return
    bench.stop("relay_social_assistance")
    bench.stop("projection")
    loaded = run_preload(missing, start=7_000_000)
    result["preload"] = loaded
    log(f"pre-loaded {loaded['preloaded_events']} events in {loaded['preload_seconds']:.1f}s")


def throughput(args, bench, store: Store, receiver: Receiver, pids, result: dict, log, stamp: str,
               pid: int) -> None:
    seconds = args.subscriptions_seconds
    log.phase(f"subscriptions: webhook deliveries/s to one fast receiver for {seconds:.0f}s "
              "(a subscription after=0 on the stored events)")
    profiler = _profiler(args, bench, pid, f"{stamp}-{PROGRAM}-throughput.collapsed")
    account = probes.CpuAccount(pids()).start()
    store.create(receiver.url("throughput"), after=0, name="throughput")
    probes.wait_for(lambda: receiver.received("throughput"), 120, 0.05, "the first delivery")
    first = receiver.received("throughput")[0][0]
    while time.time() < first + seconds:
        time.sleep(min(2.0, max(0.05, first + seconds - time.time())))
        log(f"delivered {len(receiver.received('throughput'))} in {time.time() - first:.0f}s")
    store.delete_all()
    cpu = account.stop()
    wait_quiet_receiver(receiver, "throughput")
    got = receiver.received("throughput")
    rate = window_rate([t for t, _ in got], seconds)
    out = {"deliveries": rate["count"], "seconds": rate["seconds"], "deliveries_ps": rate["rate"],
           "in_order": in_order(got), "cpu": cpu, "cpu_seconds": cpu["cpu_seconds"].get(PROGRAM)}
    _profile(profiler, out, "the delivery process while delivering")
    log(f"engine: {fmt(out['deliveries_ps'])} deliveries/s over {rate['seconds']:.1f}s "
        f"({rate['count']} deliveries; target >= 1,000/s)")
    log("  " + probes.cpu_line(cpu, rate["count"], "delivery"))
    bodies = [body for _t, body in got[:max(1000, rate["count"])]]
    path = bench.logs / "webhook-bodies.jsonl"
    path.write_text("\n".join(body.decode() for body in bodies))
    log.phase(f"baseline: {len(bodies)} plain keep-alive POSTs of the same bodies from one thread")
    from bench import baselines
    ceiling = baselines.run("webhook_posts", url=receiver.url("ceiling"), bodies=str(path))
    out["ceiling"] = ceiling
    log(f"plain POSTs: {fmt(ceiling['webhook_posts_ps'])}/s; engine/ceiling "
        f"{report.fmt_ratio(out['deliveries_ps'] / ceiling['webhook_posts_ps'] if out['deliveries_ps'] else None)}")
    result["throughput"] = out


def replay(args, bench, store: Store, receiver: Receiver, pids, result: dict, log) -> None:
    """The feed alone, then the three replays: webhook batchsize 1, webhook batchsize
    REPLAY_BATCH, AMQP."""
    from services.subscriptions.delivery import FeedReader, Settings
    head = feed_head(bench)
    log.phase(f"baseline: reading the social_assistance feed pages alone, after=0 up to {head}")
    reader = FeedReader(feed_url(bench))
    limit = Settings.from_env(bench.platform.env).page_limit     # the pages the engine reads
    began, position, events = time.perf_counter(), 0, 0
    while position < head:
        page = reader.page(position, limit)["events"]
        if not page:
            break
        events += len(page)
        position = int(page[-1]["sequence"])
    feed_seconds = time.perf_counter() - began
    feed = {"events": events, "head": head, "page_limit": limit, "feed_seconds": feed_seconds,
            "feed_eps": events / feed_seconds}
    log(f"feed alone: {events} events in {feed_seconds:.2f}s = {fmt(feed['feed_eps'])} events/s "
        f"(pages of {limit})")
    for key, mode, run in (("replay", "webhook, batchsize 1", lambda: _replay_webhook(store, receiver, "replay", 1)),
                           ("replay_batched", f"webhook, batchsize {REPLAY_BATCH}",
                            lambda: _replay_webhook(store, receiver, "replay_batched", REPLAY_BATCH)),
                           ("replay_amqp", "AMQP", lambda: _replay_amqp(store))):
        log.phase(f"subscriptions: replay of {events} events to a new subscriber (after=0), {mode}")
        account = probes.CpuAccount(pids()).start()
        got = _until_head(run(), head, events, log)
        cpu = account.stop()
        store.delete_all()
        out = {**feed, "mode": mode, **got, "cpu": cpu, "cpu_seconds": cpu["cpu_seconds"].get(PROGRAM)}
        log(f"replay, {mode}: {out['delivered']} events in {out['seconds']:.1f}s = {fmt(out['eps'])} events/s "
            f"(first after {out['first_after_s']:.1f}s: handshake and the store's refresh; "
            f"{fmt(out['steady_eps'])}/s from the first; target >= 5,000/s); "
            f"{report.fmt_ratio(out['eps'] / feed['feed_eps'])} of the feed alone ({fmt(feed['feed_eps'])}/s)")
        log("  " + probes.cpu_line(cpu, out["delivered"], "event"))
        result[key] = out


class _Replay:
    """One replay under way: where its events arrive (count, last sequence, arrival times)."""

    def __init__(self, t0: float, count, last, arrivals, ordered_now, close=lambda: None):
        self.t0, self.count, self.last, self.arrivals, self.ordered, self.close = (
            t0, count, last, arrivals, ordered_now, close)


def _replay_webhook(store: Store, receiver: Receiver, name: str, batchsize: int) -> _Replay:
    t0 = time.time()
    store.create(receiver.url(name), after=0, name=name, protocolsettings={"batchsize": batchsize})
    return _Replay(t0, lambda: receiver.events(name), lambda: receiver.last_sequence(name),
                   lambda: [t for t, _ in receiver.received(name)], lambda: in_order(receiver.received(name)))


def _replay_amqp(store: Store) -> _Replay:
    t0 = time.time()
    made = store.create("amqp://bench/replay", after=0, name="replay_amqp", protocol="AMQP")
    consumer = Consumer(made["credentials"]["uri"], made["credentials"]["queue"])
    return _Replay(t0, lambda: len(consumer.sequences), consumer.last_sequence, lambda: consumer.arrivals,
                   lambda: ordered(consumer.sequences), consumer.close)


def _until_head(replay: _Replay, head: int, events: int, log) -> dict:
    """Waits for the head's event; the replay's figures (`eps` from the creation)."""
    try:
        last = time.monotonic()
        while replay.last() < head:
            if time.time() - replay.t0 > 900:
                raise TimeoutError("the replay did not reach the head in 900s")
            if time.monotonic() - last >= 2:
                log(f"replay: {replay.count()} of {events} in {time.time() - replay.t0:.0f}s")
                last = time.monotonic()
            time.sleep(0.02)
        arrivals = replay.arrivals()
        seconds = arrivals[-1] - replay.t0
        return {"delivered": replay.count(), "requests": len(arrivals), "seconds": seconds,
                "first_after_s": arrivals[0] - replay.t0, "eps": replay.count() / seconds,
                "in_order": replay.ordered(),
                "steady_eps": (replay.count() - 1) / (arrivals[-1] - arrivals[0]) if arrivals[-1] > arrivals[0] else None}
    finally:
        replay.close()


def lag(args, bench, store: Store, receiver: Receiver, metrics: str, pids,
        result: dict, log) -> None:
    rate, seconds, warmup = args.subscriptions_rate, args.latency_seconds, args.warmup
    log.phase(f"subscriptions: delivery lag at {rate:.0f} events/s for {seconds:.0f}s (+{warmup:.0f}s "
              "warm-up), ten webhook subscriptions, one receiver stalled")
    head = feed_head(bench)
    names = [f"live{i}" for i in range(9)]
    receiver.stalled.add("stalled")
    ids = {name: store.create(receiver.url(name), after=head, name=name)["id"] for name in [*names, "stalled"]}
    store.wait_active(list(ids.values()))
    stalled_lag: list[tuple[float, float | None]] = []
    account = probes.CpuAccount(pids()).start()
    writer = Steady(rate, seconds + warmup, start=8_000_000)
    began = time.monotonic()
    while writer.running():
        time.sleep(5 - (time.monotonic() - began) % 5)
        t = time.monotonic() - began
        value = probes.scrape(metrics, 2).get(f'subscription_lag_seconds{{subscription="{ids["stalled"]}"}}')
        stalled_lag.append((t, value))
        least = min(len(receiver.received(n)) for n in names)
        log(f"lag: {t:.0f}s; the nine received >= {least} events each; the stalled one's lag {fmt(value)} s "
            f"({receiver.stalled_posts.get('stalled', 0)} POSTs left unanswered)")
    stored = writer.result()
    cpu = account.stop()
    end_head = feed_head(bench)
    try:
        probes.wait_for(lambda: all(receiver.last_sequence(n) >= end_head for n in names), 60, 0.05,
                        "the nine receivers to get every event")
    except TimeoutError as error:
        log(f"lag: {error}")
    per_receiver = {n: lags(receiver.received(n), stored["t0"] + warmup) for n in names}
    every = [v for values in per_receiver.values() for v in values]
    result["lag"] = {"offered_rate": rate, "seconds": seconds, "stored": stored,
                     "lag_ms": report.summary(every, 1000),
                     "p99_ms_per_receiver": {n: 1000 * report.percentile(v, 99) if v else None
                                             for n, v in per_receiver.items()},
                     "in_order": all(in_order(receiver.received(n)) for n in names),
                     "stalled_lag_s": stalled_lag, "stalled_posts": receiver.stalled_posts.get("stalled", 0),
                     "stalled_received": len(receiver.received("stalled")), "cpu": cpu}
    lag_ms = result["lag"]["lag_ms"]
    log(f"stored {stored['stored']} events in {stored['seconds']:.1f}s (at most {stored['max_late_s'] * 1000:.0f} ms "
        "behind the schedule)")
    log(f"lag of the nine: p50 {fmt(lag_ms.get('p50'))} ms, p99 {fmt(lag_ms.get('p99'))} ms, max "
        f"{fmt(lag_ms.get('max'))} ms over {lag_ms.get('count', 0)} deliveries (target p99 < 1,000 ms); "
        "the stalled one's lag: " + ", ".join(f"{fmt(v)} s at {t:.0f}s" for t, v in stalled_lag))
    log("  " + probes.cpu_line(cpu, stored["stored"], "event"))
    receiver.stalled.discard("stalled")


class Steady:
    """`python -m bench steady`: events stored at a fixed rate by a child process (one
    registered household per transaction, bench/preload.py `steady`)."""

    def __init__(self, rate: float, seconds: float, start: int):
        self.process = subprocess.Popen([sys.executable, "-m", "bench", "steady", str(rate), str(seconds),
                                         str(start)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.deadline = time.monotonic() + seconds + 120

    def running(self) -> bool:
        if time.monotonic() > self.deadline:
            self.process.kill()
        return self.process.poll() is None

    def result(self) -> dict:
        out, err = self.process.communicate(timeout=60)
        for line in reversed(out.splitlines()):
            if line.startswith("RESULT "):
                return json.loads(line[len("RESULT "):])
        raise RuntimeError(f"the steady writer failed (exit {self.process.returncode}): {err[-3000:]}")


REPLAYS = ("replay", "replay_batched", "replay_amqp")


def headline(result: dict) -> dict:
    """The figures the targets read (bench/report.py)."""
    out = {}
    if "throughput" in result:
        t = result["throughput"]
        out["deliveries_ps"] = t["deliveries_ps"]
        out["post_ceiling_ps"] = t["ceiling"]["webhook_posts_ps"]
    replays = {key: result[key] for key in REPLAYS if key in result}
    if replays:
        best = max(replays.values(), key=lambda r: r["eps"])
        out["replay_eps"], out["replay_mode"] = best["eps"], best["mode"]   # the target's row
        out["feed_eps"] = best["feed_eps"]
        out["replays"] = {r["mode"]: r["eps"] for r in replays.values()}     # the table keeps all
    if "lag" in result:
        out["lag_ms"] = result["lag"]["lag_ms"]
    return out


def fmt(value) -> str:
    return report.fmt(value)


def _profiler(args, bench, pid: int, name: str):
    if not getattr(args, "profile", False):
        return None
    from bench.platform_runs import Profiler
    return Profiler(pid, bench.logs / name)


def _profile(profiler, out: dict, title: str) -> None:
    if profiler is None or (output := profiler.stop()) is None:
        return
    out["profile"] = report.profile_summary(output.read_text(), top=25)
    out["profile_file"] = str(output)
    print(report.format_profile(out["profile"], f"py-spy profile of {title}"), flush=True)
