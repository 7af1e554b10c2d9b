"""RPC to the domains' Nameko services from the gateway's worker threads.

Nameko's standalone `ClusterRpcProxy` is single-threaded, so each worker thread of the gateway
(FastAPI runs sync endpoints in its threadpool) starts one proxy on first use and reuses it for
every later call (thread-local). A proxy whose connection broke is discarded and started anew on
the next call. Domain errors are registered with Nameko's remote-error registry here (the same
three classes `shared.nameko_support` registers), so a refused command raises `InvalidInput`,
`NotFound` or `Conflict` with field, rule and code. Each call sends the request's audit context
(who acts, request id, traceparent: shared/audit.py) as Nameko context data, so the service
stores it in every event the call triggers. Nothing here imports eventlet's monkey patching or
`shared.nameko_support`.
"""
from __future__ import annotations

import logging
import os
import threading
import warnings

warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")

from nameko.exceptions import RemoteError, deserialize_to_instance  # noqa: E402
from nameko.standalone.rpc import ClusterRpcProxy  # noqa: E402

from shared import errors  # noqa: E402

for _error in errors.ALL:
    deserialize_to_instance(_error)

log = logging.getLogger("gateway.rpc")
DEFAULT_TIMEOUT = 30.0
# Remote errors that mean the service is up but its store is not (psycopg, psycopg_pool): 503.
STORE_UNAVAILABLE = frozenset({"OperationalError", "PoolTimeout", "ConnectionTimeout", "InterfaceError"})


class Unavailable(Exception):
    """The service could not be reached or did not answer in time."""


def config(amqp_uri: str | None = None) -> dict:
    return {"AMQP_URI": amqp_uri or os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"),
            "SERIALIZER": "json", "ACCEPT": ["json"]}


class ThreadProxies:
    """One started ClusterRpcProxy per thread, reused."""

    def __init__(self, amqp_uri: str | None = None, timeout: float | None = None):
        self.config = config(amqp_uri)
        self.timeout = timeout or float(os.environ.get("GATEWAY_RPC_TIMEOUT", DEFAULT_TIMEOUT))
        self._local = threading.local()
        self._all: list[ClusterRpcProxy] = []
        self._lock = threading.Lock()
        self.started = 0           # proxies started (a test checks they are reused)

    def _proxy(self):
        cluster = getattr(self._local, "cluster", None)
        if cluster is None:
            # The proxy keeps this dict as its worker context's data: the headers of every call.
            self._local.context = {}
            runner = ClusterRpcProxy(self.config, context_data=self._local.context, timeout=self.timeout)
            cluster = runner.start()
            self._local.runner, self._local.cluster = runner, cluster
            with self._lock:
                self._all.append(runner)
                self.started += 1
        return cluster

    def _discard(self):
        runner = getattr(self._local, "runner", None)
        self._local.runner = self._local.cluster = None
        if runner is not None:
            with self._lock:
                if runner in self._all:
                    self._all.remove(runner)
            try:
                runner.stop()
            except Exception:  # already broken
                log.debug("stopping a broken proxy failed", exc_info=True)

    def call(self, service: str, method: str, context: dict | None = None, /, **kwargs):
        # positional-only: a command may have an argument named `service` or `method`
        # (welfare.place_order has `service`), which must reach the RPC as a keyword;
        # `context` is the call's audit context data (shared/audit.py)
        from nameko.exceptions import RpcTimeout, UnknownService
        try:
            proxy = self._proxy()
            # This thread's alone: the next call's headers (a started proxy has no per-call data).
            self._local.context.clear()
            self._local.context.update(context or {})
            return getattr(getattr(proxy, service), method)(**kwargs)
        except errors.DomainError:
            raise
        except (RpcTimeout, UnknownService) as error:
            self._discard()
            raise Unavailable(f"{service} did not answer ({type(error).__name__})") from error
        except (OSError, ConnectionError) as error:
            self._discard()
            raise Unavailable(f"{service} is unreachable ({error})") from error
        except RemoteError as error:
            if error.exc_type in STORE_UNAVAILABLE:     # the service's database is away
                raise Unavailable(f"{service} cannot reach its database ({error.exc_type})") from error
            raise
        except Exception as error:
            if type(error).__module__.startswith(("kombu", "amqp")):
                self._discard()
                raise Unavailable(f"{service} is unreachable ({type(error).__name__})") from error
            raise

    def stop(self):
        with self._lock:
            runners, self._all = self._all, []
        for runner in runners:
            try:
                runner.stop()
            except Exception:
                log.debug("stopping a proxy failed", exc_info=True)
