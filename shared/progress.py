"""Interface support: the progress of a long command (a payment run over a city's caseload, a
recomputation after a raise), for the operator watching it, in the service's log and as gauges
(`bulk_command_done` / `bulk_command_items{service,entrypoint}`: done / items of the running or
last such command). An application method that takes `on_progress(done, total)` gets one of
these from the service (shared/nameko_support.py); the benchmark prints with the same class."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable

from prometheus_client import Gauge

DONE = Gauge("bulk_command_done", "Items done by the running (or last) bulk command",
             ["service", "entrypoint"])
ITEMS = Gauge("bulk_command_items", "Items of the running (or last) bulk command", ["service", "entrypoint"])
log = logging.getLogger("progress")


class Progress:
    """`progress(done, total)`: every call sets the gauges (when labelled), and a line
    `label: done/total (rate/s, about N s left)` is written at most every `every` seconds and
    at the end."""

    def __init__(self, label: str, labels: dict | None = None, every: float = 2.0,
                 write: Callable[[str], None] | None = None):
        self.label, self.every = label, every
        self.write = write or log.info
        self.gauges = (DONE.labels(**labels), ITEMS.labels(**labels)) if labels else None
        self.began = self.last = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        if self.gauges:
            self.gauges[0].set(done)
            self.gauges[1].set(total)
        now = time.monotonic()
        if now - self.last < self.every and done < total:
            return
        self.last = now
        rate = done / max(now - self.began, 1e-9)
        left = f", about {(total - done) / rate:,.0f} s left" if done < total and rate else ""
        self.write(f"{self.label}: {done:,}/{total:,} ({rate:,.0f}/s{left})")
