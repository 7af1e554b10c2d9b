"""Load on the platform's public RPC interface (`shared.rpc.cluster`), from threads that each
own a ClusterRpcProxy (a standalone proxy is not thread-safe).

- `closed_loop`: N threads run household cycles back to back for a duration: commands/s at
  concurrency N.
- `OpenLoop`: commands sent on a fixed schedule (command i at t0 + i / rate) whatever the
  replies do, by a pool of senders; a late send counts from its scheduled time, so a stall
  shows up in the latency instead of silently lowering the offered load (no coordinated
  omission).
- `PositionPoller`: the relay's and the projection's tracking positions, polled from
  PostgreSQL every few milliseconds, to time each event's publication and application.
"""
from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.workload import Households, household_cycle


def _proxy(amqp_uri: str):
    from shared.rpc import cluster
    return cluster(amqp_uri, timeout=60)


def _import_in_main_thread() -> None:
    """Import Nameko (and eventlet) before any sender thread starts: imported first inside a
    thread, it leaves that thread's end unnoticed by Thread.join (which then waits its timeout)."""
    import shared.rpc  # noqa: F401


def _warm(rpc) -> None:
    rpc.social_assistance.standard("beigang", "urban", "2007-01")


@dataclass
class Completed:
    at: list = field(default_factory=list)        # completion times (perf_counter)
    took: list = field(default_factory=list)      # durations of each command, seconds
    errors: list = field(default_factory=list)


def closed_loop(amqp_uri: str, households: Households, concurrency: int, seconds: float,
                progress: Callable[[str], None] = lambda _m: None, *, connect: Callable | None = None,
                cycle: Callable = household_cycle, warm: Callable = _warm) -> dict:
    """`connect()` gives each thread its client (default: its own RPC proxy); `cycle(client,
    households)` yields after each command (bench.gateway passes the HTTP ones)."""
    _import_in_main_thread()
    connect = connect or (lambda: _proxy(amqp_uri))
    stop = threading.Event()
    ready = threading.Barrier(concurrency + 1, timeout=60)
    stats = [Completed() for _ in range(concurrency)]

    def worker(mine: Completed) -> None:
        from shared.errors import DomainError
        with connect() as rpc:
            warm(rpc)
            ready.wait()
            while not stop.is_set():
                began = time.perf_counter()
                try:
                    for _name, _result in cycle(rpc, households):
                        now = time.perf_counter()
                        mine.at.append(now)
                        mine.took.append(now - began)
                        began = now
                        if stop.is_set():
                            break
                except DomainError as error:
                    mine.errors.append(repr(error))

    threads = [threading.Thread(target=worker, args=(s,), daemon=True) for s in stats]
    for thread in threads:
        thread.start()
    ready.wait()
    start = time.perf_counter()
    end = start + seconds
    while (now := time.perf_counter()) < end:
        time.sleep(min(5.0, end - now))
        done = sum(1 for s in stats for t in s.at if t <= time.perf_counter())
        progress(f"concurrency {concurrency}: {done} commands in {time.perf_counter() - start:.0f}s "
                 f"({done / max(1e-9, time.perf_counter() - start):.0f}/s)")
    stop.set()
    for thread in threads:
        thread.join(120)
    counted = [t for s in stats for t in s.at if start <= t <= end]
    took = [d for s in stats for t, d in zip(s.at, s.took) if start <= t <= end]
    from bench.report import summary
    return {"concurrency": concurrency, "seconds": seconds, "commands": len(counted),
            "commands_ps": len(counted) / seconds, "command_ms": summary(took, 1000),
            "errors": [e for s in stats for e in s.errors][:10]}


def closed_loop_calls(amqp_uri: str, concurrency: int, seconds: float) -> dict:
    """Back-to-back `get_case('-')` calls, refused with InvalidInput before any I/O."""
    _import_in_main_thread()
    from shared.errors import InvalidInput
    stop = threading.Event()
    ready = threading.Barrier(concurrency + 1, timeout=60)
    counts = [0] * concurrency

    def worker(index: int) -> None:
        with _proxy(amqp_uri) as rpc:
            _warm(rpc)
            ready.wait()
            while not stop.is_set():
                try:
                    rpc.social_assistance.get_case("-")
                except InvalidInput:
                    counts[index] += 1

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    ready.wait()
    start = time.perf_counter()
    time.sleep(seconds)
    done = sum(counts)
    elapsed = time.perf_counter() - start
    stop.set()
    for thread in threads:
        thread.join(60)
    return {"concurrency": concurrency, "seconds": elapsed, "calls": done, "calls_ps": done / elapsed}


class OpenLoop:
    """Send `job(rpc, state)` at `rate` per second from `senders` threads."""

    def __init__(self, amqp_uri: str, rate: float, senders: int, job: Callable, state_factory=dict,
                 max_lateness: float | None = None, connect: Callable | None = None, warm: Callable = _warm):
        self.amqp_uri = amqp_uri
        self.connect = connect or (lambda: _proxy(amqp_uri))  # each sender's client
        self.warm = warm
        self.max_lateness = max_lateness  # stop offering when this far behind the schedule
        self.saturated_at: float | None = None
        self.rate = rate
        self.senders = senders
        self.job = job
        self.state_factory = state_factory
        self.records: list[dict] = []
        self.errors: list[str] = []
        self.interruptions: list[tuple[float, str]] = []  # (seconds into the run, error)
        self.stop = threading.Event()

    def run(self, seconds: float | None, on_tick: Callable[[float], None] | None = None,
            tick: float = 5.0) -> float:
        """Send for `seconds` (None: until `stop` is set); returns the schedule's t0."""
        _import_in_main_thread()
        slots = itertools.count()
        lock = threading.Lock()
        ready = threading.Barrier(self.senders + 1, timeout=60)
        go = threading.Event()  # set once t0 is known
        self.t0 = 0.0
        end = float("inf")

        def sender() -> None:
            from shared.errors import DomainError
            state = self.state_factory()
            started = False
            while not self.stop.is_set():
                try:
                    with self.connect() as rpc:
                        self.warm(rpc)
                        if not started:
                            started = True
                            ready.wait()
                            go.wait()
                        if not send(rpc, state, DomainError):
                            return
                except Exception as error:
                    # The broker went away (someone restarted it) or the reply timed out: note it,
                    # open a new proxy and carry on with the schedule.
                    self.interruptions.append((time.perf_counter() - self.t0, repr(error)[:200]))
                    if not started:
                        started = True
                        ready.abort()
                        return
                    self.stop.wait(1.0)

        def send(rpc, state, domain_error) -> bool:
            """Send on schedule until the end (False) or a broken connection (raises)."""
            while not self.stop.is_set():
                with lock:
                    i = next(slots)
                scheduled = self.t0 + i / self.rate
                if scheduled >= end:
                    return False
                delay = scheduled - time.perf_counter()
                if delay > 0 and self.stop.wait(delay):
                    return False
                if self.max_lateness is not None and -delay > self.max_lateness:
                    # The platform cannot take the offered rate: the backlog would only grow.
                    self.saturated_at = scheduled - self.t0
                    self.stop.set()
                    return False
                sent = time.perf_counter()
                try:
                    info = self.job(rpc, state)
                except domain_error as error:  # refused by the domain: counted, the load goes on
                    self.errors.append(repr(error)[:300])
                    continue
                self.records.append({"i": i, "scheduled": scheduled, "sent": sent,
                                     "reply": time.perf_counter(), **(info or {})})
            return False

        threads = [threading.Thread(target=sender, daemon=True) for _ in range(self.senders)]
        for thread in threads:
            thread.start()
        ready.wait()
        self.t0 = time.perf_counter() + 0.2
        if seconds is not None:
            end = self.t0 + seconds
        go.set()
        next_tick = self.t0 + tick
        while any(t.is_alive() for t in threads):
            time.sleep(0.2)
            if on_tick and time.perf_counter() >= next_tick:
                on_tick(time.perf_counter() - self.t0)
                next_tick += tick
        return self.t0


class PositionPoller(threading.Thread):
    """Records (time, relay position, projection position) whenever either changes."""

    def __init__(self, conninfo: str, interval: float = 0.002):
        super().__init__(daemon=True)
        from bench.probes import Positions
        self.positions = Positions(conninfo)
        self.interval = interval
        self.times: list[float] = []
        self.relay: list[int] = []
        self.projection: list[int] = []
        self.polls = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        last = None
        self.started = time.perf_counter()
        while not self.stopping.is_set():
            current = self.positions.read_fast()
            # The time after the read: an upper bound of when the position was reached, so
            # latencies are never under-stated (by at most one poll interval).
            now = time.perf_counter()
            self.polls += 1
            if current != last:
                self.times.append(now)
                self.relay.append(current[0])
                self.projection.append(current[1])
                last = current
            self.stopping.wait(self.interval)
        self.ended = time.perf_counter()

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)
        self.positions.close()

    @property
    def mean_interval(self) -> float:
        return (self.ended - self.started) / max(1, self.polls)
