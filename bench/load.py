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


def _warm(rpc) -> None:
    rpc.social_assistance.standard("beigang", "urban", "2007-01")


@dataclass
class Completed:
    at: list = field(default_factory=list)        # completion times (perf_counter)
    took: list = field(default_factory=list)      # durations of each command, seconds
    errors: list = field(default_factory=list)


def closed_loop(amqp_uri: str, households: Households, concurrency: int, seconds: float,
                progress: Callable[[str], None] = lambda _m: None) -> dict:
    stop = threading.Event()
    ready = threading.Barrier(concurrency + 1, timeout=60)
    stats = [Completed() for _ in range(concurrency)]

    def worker(mine: Completed) -> None:
        from shared.errors import DomainError
        with _proxy(amqp_uri) as rpc:
            _warm(rpc)
            ready.wait()
            while not stop.is_set():
                began = time.perf_counter()
                try:
                    for _name, _result in household_cycle(rpc, households):
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


class OpenLoop:
    """Send `job(rpc, state)` at `rate` per second from `senders` threads."""

    def __init__(self, amqp_uri: str, rate: float, senders: int, job: Callable, state_factory=dict):
        self.amqp_uri = amqp_uri
        self.rate = rate
        self.senders = senders
        self.job = job
        self.state_factory = state_factory
        self.records: list[dict] = []
        self.errors: list[str] = []
        self.stop = threading.Event()

    def run(self, seconds: float | None, on_tick: Callable[[float], None] | None = None,
            tick: float = 5.0) -> float:
        """Send for `seconds` (None: until `stop` is set); returns the schedule's t0."""
        slots = itertools.count()
        lock = threading.Lock()
        ready = threading.Barrier(self.senders + 1, timeout=60)
        self.t0 = 0.0
        end = float("inf")

        def sender() -> None:
            state = self.state_factory()
            with _proxy(self.amqp_uri) as rpc:
                _warm(rpc)
                ready.wait()
                while not self.stop.is_set():
                    with lock:
                        i = next(slots)
                    scheduled = self.t0 + i / self.rate
                    if scheduled >= end:
                        return
                    delay = scheduled - time.perf_counter()
                    if delay > 0 and self.stop.wait(delay):
                        return
                    sent = time.perf_counter()
                    try:
                        info = self.job(rpc, state)
                    except Exception as error:  # counted and shown, the load goes on
                        self.errors.append(repr(error)[:300])
                        continue
                    self.records.append({"i": i, "scheduled": scheduled, "sent": sent,
                                         "reply": time.perf_counter(), **(info or {})})

        threads = [threading.Thread(target=sender, daemon=True) for _ in range(self.senders)]
        for thread in threads:
            thread.start()
        ready.wait()
        self.t0 = time.perf_counter() + 0.2
        if seconds is not None:
            end = self.t0 + seconds
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
