"""Infrastructure: a liveness watchdog for the platform's long-running loops (relay, consumer).

Every blocking call in those loops has a timeout, but a client library can still wait forever on
a half-dead socket. The loop calls `beat()` each turn; if no beat comes for `limit` seconds the
process exits with a clear message, and its supervisor (supervisord under `make run`, Kubernetes
in production) starts it again — it resumes from its recorded position, so nothing is lost.
"""
from __future__ import annotations

import logging
import os
import threading
import time

log = logging.getLogger("watchdog")


class Watchdog:
    def __init__(self, name: str, limit: float = 300.0):
        self.name = name
        self.limit = limit
        self.last = time.monotonic()
        threading.Thread(target=self._watch, name=f"{name}-watchdog", daemon=True).start()

    def beat(self) -> None:
        self.last = time.monotonic()

    def _watch(self) -> None:
        while True:
            time.sleep(min(10.0, self.limit / 4))
            stalled = time.monotonic() - self.last
            if stalled > self.limit:
                log.critical("%s: main loop stuck for %.0fs; exiting so that the supervisor "
                             "restarts it (it resumes from its recorded position)", self.name, stalled)
                logging.shutdown()
                os._exit(3)
