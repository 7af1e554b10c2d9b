"""Deploy tooling: what the demos share to drive a service over Nameko RPC from worker threads."""
from __future__ import annotations

import random
import time


class Unreachable(Exception):
    """The message bus or the service cannot be reached."""


def infrastructure_errors() -> tuple:
    """What a call raises when the bus or the service is away (not a typed domain refusal)."""
    from amqp.exceptions import AMQPError
    from kombu.exceptions import OperationalError
    from nameko.exceptions import RpcTimeout, UnknownService
    return (RpcTimeout, UnknownService, OSError, OperationalError, AMQPError)


class RetryingCalls:
    """Mixin of the demo runners. Needs `errors` (shared.errors), `infra`, `lock`, `aborted`,
    `version_retries` and a per-thread `_proxy()`."""

    VERSION_RETRIES = 8

    def _call_service(self, service: str, method: str, args: tuple, proxy=None):
        """One RPC; retries a lost optimistic-concurrency race (Conflict on 'version'); the
        first call that gets no answer stops every later one with Unreachable."""
        if self.aborted:
            raise Unreachable(self.aborted)
        proxy = proxy or self._proxy()
        for attempt in range(self.VERSION_RETRIES):
            try:
                return getattr(getattr(proxy, service), method)(*args)
            except self.errors.Conflict as error:
                if error.field != "version" or attempt == self.VERSION_RETRIES - 1:
                    raise
                with self.lock:
                    self.version_retries += 1
                time.sleep(random.uniform(0.02, 0.2) * (attempt + 1))
            except self.infra as error:
                self.aborted = f"{service}.{method} got no answer: {error!r}"
                raise Unreachable(self.aborted) from None
