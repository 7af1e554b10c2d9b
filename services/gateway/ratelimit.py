"""Interface layer (gateway): the per-client rate limit, a token bucket per client in this
process's memory.

A client is the token's `sub` when the token verifies, else the caller's address (so a flood of
bad or missing tokens is throttled too, per address). Each bucket holds up to `burst` requests
and refills at `rate` requests per second; a request finding less than one in its bucket is
refused with the whole seconds until one is there (`Retry-After`, at least 1). A refused request
takes nothing from the bucket. The limit is per gateway process (per replica): N replicas let
a client through N times as fast. Settings: GATEWAY_RATE_LIMIT (requests/s, default 50; 0
disables), GATEWAY_RATE_BURST (default 100).

No web framework here: the app asks `take(client)` before anything else of a request.
"""
from __future__ import annotations

import math
import os
import threading
import time
from collections import OrderedDict

DEFAULT_RATE = 50.0
DEFAULT_BURST = 100
MAX_RATE = 100_000.0
MAX_BURST = 1_000_000
# Buckets kept at most: beyond it the least recently seen client's bucket is dropped. A dropped
# bucket comes back full, which is what an idle client's bucket would be anyway; the bound keeps
# a spray of addresses from growing the process without end.
MAX_CLIENTS = 10_000


class SettingError(ValueError):
    """A rate-limit setting out of its bounds; names the variable, the rule and a stable code."""

    def __init__(self, field: str, rule: str, code: str = "gateway.bad_rate_setting"):
        super().__init__(f"{field} {rule}")
        self.field, self.rule, self.code = field, rule, code


class RateLimiter:
    def __init__(self, rate: float = DEFAULT_RATE, burst: int = DEFAULT_BURST, *,
                 clock=time.monotonic, max_clients: int = MAX_CLIENTS):
        _check_rate("rate", rate)
        if rate and not (isinstance(burst, int) and 1 <= burst <= MAX_BURST):
            raise SettingError("burst", f"must be a whole number from 1 to {MAX_BURST}")
        if not (isinstance(max_clients, int) and 1 <= max_clients <= 10 * MAX_CLIENTS):
            raise SettingError("max_clients", f"must be a whole number from 1 to {10 * MAX_CLIENTS}")
        self.rate, self.burst, self.max_clients = float(rate), burst, max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, at)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    @classmethod
    def from_env(cls, env=None) -> "RateLimiter":
        env = os.environ if env is None else env
        rate = _number(env, "GATEWAY_RATE_LIMIT", DEFAULT_RATE, float)
        _check_rate("GATEWAY_RATE_LIMIT", rate)
        burst = _number(env, "GATEWAY_RATE_BURST", DEFAULT_BURST, int)
        if rate and not 1 <= burst <= MAX_BURST:
            raise SettingError("GATEWAY_RATE_BURST", f"must be a whole number from 1 to {MAX_BURST}")
        return cls(rate, burst)

    def take(self, client: str) -> int:
        """0 when the request may go on (one is taken from the client's bucket), else the whole
        seconds until the bucket holds one again (>= 1)."""
        if not self.enabled:
            return 0
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.pop(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + max(0.0, now - at) * self.rate)
            allowed = tokens >= 1.0
            self._buckets[client] = (tokens - 1.0 if allowed else tokens, now)   # most recent last
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        return 0 if allowed else max(1, math.ceil((1.0 - tokens) / self.rate))


def client_of(verifier, authorization: str | None, address: str | None) -> str:
    """Whom a request is counted against: `sub:<subject>` of a token that verifies, else
    `address:<peer address>` (the TCP peer; behind a proxy, the proxy's)."""
    from services.gateway.auth import Unauthorized, bearer
    try:
        return "sub:" + verifier.verify(bearer(authorization)).sub
    except Unauthorized:
        return "address:" + (address or "unknown")


def _check_rate(field: str, rate) -> None:
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate) \
            or not 0 <= rate <= MAX_RATE:
        raise SettingError(field, f"must be a number of requests per second from 0 (no limit) to {MAX_RATE:g}")


def _number(env, name: str, default, kind):
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise SettingError(name, f"must be {what}, not {text[:20]!r}") from None
