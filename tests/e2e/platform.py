"""Starts the platform's processes the way `make run` does: `python -m shared.setup`, then each
program of deploy/supervisord.conf (as `python -m deploy.render` renders it for the registered
domains, PLATFORM_EXTRA_DOMAINS included; tests/deploy/test_rendered.py keeps the committed file
equal to it), each in a process group of its own so that one can be SIGKILLed and started again
(under `make run`, supervisord restarts it by itself).

Every relay runs twice, as under `make run`: `relay_<domain>` and its standby `relay_<domain>_2`
(`RELAY_<NAME>_PORT_2`); whichever holds the lease publishes (`relay_active` 1). With
`Platform(..., replicas=N)` every stateless program runs N times (`<program>_<i>`, `<VARIABLE>_<i>`).

Ports are free ones, under the names `make run` reads: `<NAME>_PORT` and `RELAY_<NAME>_PORT` of
every registered domain (SOCIAL_ASSISTANCE_PORT, RELAY_WELFARE_PORT, ...), PROJECTION_PORT and
REPORTING_PORT, SUBSCRIPTIONS_PORT, SUBSCRIPTIONS_DELIVERY_PORT, GATEWAY_PORT; `<NAME>_URL` points at
each domain's service. The subscriptions delivery process (one per platform: it holds a lease)
is one of the programs, with SUBSCRIPTIONS_ALLOW_NETWORKS=127.0.0.0/8 unless the environment
sets it, so receivers on loopback can be delivered to.

The gateway (`python -m services.gateway`, one of the programs) verifies tokens against a key set
made in the logs folder (the test's tmp dir) by start_all(); `token(...)` issues one signed with
it and `gateway_url(path)` is where the gateway answers.

The broker: each program connects as its own user (shared/broker_users.py), like under `make run`:
`AMQP_URI_<PROGRAM>`, given to the program as its AMQP_URI. The users are the session's
(tests/conftest.py `amqp_uri` creates them for its vhost and exports BROKER_USERS_VHOST and the
AMQP_PASSWORD_<PROCESS> passwords); a process the session has no user for (a domain a test
registers through PLATFORM_EXTRA_DOMAINS) gets one here, and the table is applied again so the
projection may bind that domain's exchange. On another vhost (the benchmark's, a rendering test)
there are no users: every program gets `amqp_uri` (listed in `shared_uri`)."""
from __future__ import annotations

import configparser
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]


def programs(env: dict, replicas: int = 1) -> dict[str, tuple[str, dict]]:
    """{name: (command, environment)} of deploy/supervisord.conf (rendered with `replicas`, as
    `make run REPLICAS=N` does), with %(ENV_X)s expanded."""
    from deploy import render
    from shared import domains
    config = configparser.RawConfigParser()
    config.read_string(render.supervisord_conf(domains.registered(), replicas))

    def expand(text: str) -> str:
        return re.sub(r"%\(ENV_(\w+)\)s", lambda m: env[m.group(1)], text)
    found = {}
    for section in config.sections():
        if section.startswith("program:"):
            extra = dict(item.split("=", 1) for item in config[section].get("environment", "").split(",") if item)
            found[section.split(":", 1)[1]] = (expand(config[section]["command"]),
                                               {k.strip(): expand(v.strip().strip('"')) for k, v in extra.items()})
    return found


def stop_group(process: subprocess.Popen, sig) -> None:
    """Signal the process's group; SIGKILL it when it has not exited within 10 s."""
    stop_groups([process], sig)


def stop_groups(processes: list[subprocess.Popen], sig, grace: float = 10.0) -> None:
    """Signal every process's group at once, then SIGKILL the groups still there after `grace`
    seconds. (One at a time, a platform of thirty processes took forty seconds to stop.)"""
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def broker_uris(amqp_uri: str) -> tuple[dict[str, str], list[str], tuple | None]:
    """({program: its own user's URI}, [programs left on amqp_uri], (vhost, passwords) to apply
    first or None). Users exist only for the vhost the session made them for."""
    from deploy import render
    from shared import broker_users
    programs_ = [p.program for p in render.processes()]
    vhost = broker_users.vhost_of(amqp_uri)
    if os.environ.get("BROKER_USERS_VHOST") != vhost:
        return {}, programs_, None
    passwords, new = {}, False
    for grant in broker_users.table():
        variable = broker_users.password_variable(grant.process)
        if not os.environ.get(variable):
            os.environ[variable] = broker_users.new_password()  # the session's delete finds it by prefix
            new = True
        passwords[grant.process] = os.environ[variable]
    uris = broker_users.process_uris(amqp_uri, passwords)
    extra = bool(os.environ.get("PLATFORM_EXTRA_DOMAINS"))  # the projection's grant changes too
    return ({p: uris[p] for p in programs_ if p in uris}, [p for p in programs_ if p not in uris],
            (vhost, passwords) if new or extra else None)


class Platform:
    """`replicas`: as `make run REPLICAS=N`, every stateless program N times (`<program>_<i>` on
    `<PORT_VARIABLE>_<i>`); every relay runs twice in any case (`relay_<domain>_2`, its standby)."""

    def __init__(self, amqp_uri: str, logs: Path, replicas: int = 1):
        from deploy import render
        from shared import domains
        self.replicas = replicas
        self.ports = {instance.port_variable: free_port() for instance in render.instances(replicas=replicas)}
        urls = {render.url_variable(domain): f"http://127.0.0.1:{self.ports[render.domain_processes(domain)[0].port_variable]}"
                for domain in domains.registered()}
        self.env = dict(os.environ, AMQP_URI=amqp_uri, PYTHONUNBUFFERED="1",
                        PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
                        REPORTING_URL=f"http://127.0.0.1:{self.ports['REPORTING_PORT']}",
                        **urls, **{k: str(v) for k, v in self.ports.items()})
        # As under `make run`: the delivery process may deliver to receivers on loopback.
        self.env.setdefault("SUBSCRIPTIONS_ALLOW_NETWORKS", render.LOCAL_ALLOW_NETWORKS)
        self.broker_uris, self.shared_uri, self._apply_users = broker_uris(amqp_uri)
        for process in render.processes():
            self.env[render.amqp_variable(process)] = self.broker_uris.get(process.program, amqp_uri)
        self.logs = logs
        self._gateway_key = None
        self.processes: dict[str, subprocess.Popen] = {}
        self.restarts: list[str] = []
        self._stopping = False
        self._lock = threading.RLock()

    def url(self, port_name: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[port_name]}{path}"

    def setup(self) -> None:
        if self._apply_users:
            from shared import broker_users
            broker_users.apply(self._apply_users[0], self._apply_users[1])
            self._apply_users = None
        subprocess.run([sys.executable, "-m", "shared.setup"], cwd=ROOT, env=self.env, check=True)

    def start(self, name: str) -> None:
        log = open(self.logs / f"{name}.log", "ab")
        command, extra = programs(self.env, self.replicas)[name]
        with self._lock:
            self.processes[name] = subprocess.Popen(["/bin/sh", "-c", f"exec {command}"], cwd=ROOT,
                                                    env={**self.env, **extra}, stdout=log,
                                                    stderr=subprocess.STDOUT, start_new_session=True)

    def start_all(self) -> None:
        self.gateway_keys()
        self.setup()
        try:
            for name in programs(self.env, self.replicas):
                self.start(name)
        except BaseException:
            self.stop_all()     # never leave half a platform running
            raise
        self._supervisor = threading.Thread(target=self._supervise, daemon=True)
        self._supervisor.start()

    def gateway_keys(self) -> Path:
        """A development key pair and JWKS in the logs folder, once; GATEWAY_JWKS points at it."""
        from services.gateway import tokens
        folder = self.logs / "gateway-keys"
        jwks = folder / "jwks.json" if (folder / "private.pem").is_file() else tokens.write_keys(folder)
        self._gateway_key = tokens.load_key(folder)
        self.env["GATEWAY_JWKS"] = str(jwks)
        return jwks

    def signing_key(self):
        """The private key the platform's gateway trusts (for tests issuing their own tokens)."""
        if self._gateway_key is None:
            self.gateway_keys()
        return self._gateway_key

    def token(self, sub: str = "officer-li", roles=(), areas=(), **claims) -> str:
        """A token the platform's gateway accepts (areas: a list of codes, or "*")."""
        from services.gateway import tokens
        if self._gateway_key is None:
            self.gateway_keys()
        return tokens.issue(self._gateway_key, sub, roles, areas, **claims)

    def gateway_url(self, path: str) -> str:
        return self.url("GATEWAY_PORT", path)

    def _supervise(self) -> None:
        """Like supervisord under `make run` (autorestart=true): a process that exits by itself
        is started again. (A Nameko service stops itself when it cannot send a reply while the
        broker is away.) Processes stopped with kill() stay down until start(). The lock keeps a
        restart from racing stop_all(): a process started after stop_all() took its list would
        outlive the test and answer the next test's RPC calls from a dropped schema."""
        while True:
            with self._lock:
                if self._stopping:
                    return
                for name, process in list(self.processes.items()):
                    if process.poll() is not None:
                        self.restarts.append(name)
                        self.start(name)
            time.sleep(0.5)

    def kill(self, name: str, sig=signal.SIGKILL) -> None:
        with self._lock:
            process = self.processes.pop(name)
        stop_group(process, sig)

    def stop_all(self) -> None:
        with self._lock:
            self._stopping = True
            stopping, self.processes = list(self.processes.values()), {}
        stop_groups(stopping, signal.SIGTERM)

    def get(self, port_name: str, path: str):
        with urllib.request.urlopen(self.url(port_name, path), timeout=10) as response:
            body = response.read().decode()
        return json.loads(body) if response.headers.get_content_type() == "application/json" else body

    def wait_until(self, condition, timeout: float = 90.0, what: str = "condition"):
        deadline = time.monotonic() + timeout
        last_error = None
        while time.monotonic() < deadline:
            try:
                value = condition()
                if value:
                    return value
            except Exception as error:  # not up yet
                last_error = error
            time.sleep(0.25)
        raise AssertionError(f"timed out waiting for {what} (last error: {last_error}); "
                             f"process logs are in {self.logs}")

    def metric(self, port_name: str, name: str, **labels: str) -> float | None:
        """A sample's value; with labels, the sample that has them all (e.g. source=...)."""
        wanted = [f'{key}="{value}"' for key, value in labels.items()]
        for line in self.get(port_name, "/metrics").splitlines():
            if (line.startswith(name + "{") or line.startswith(name + " ")) and all(w in line for w in wanted):
                return float(line.rsplit(" ", 1)[1])
        return None
