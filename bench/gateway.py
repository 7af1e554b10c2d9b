"""The gateway's figures (bench phase "gateway"): the same commands through HTTP and over RPC
directly, in the same run, against the same platform.

- `served()`: the gateway process beside the platform (`python -m services.gateway`, a fresh
  development JWKS, a free port, its rate limit off), or the platform's own gateway program
  when tests/e2e/platform.py starts one;
- `HttpClient`: one httpx client per load thread, with a real token: an officer's, signed by
  the JWKS the gateway verifies, listing the areas (so every `apply` and `verify` pays the
  gateway's area resolution, one more RPC, as an officer's request does);
- `http_cycle`: register_household -> apply -> verify over HTTP, the shape of
  `bench.workload.household_cycle` over RPC;
- `cycle_job`: one command per slot of `bench.load.OpenLoop`, walking the cycle.

No timed assertions: the figures go to the run's table as ratios to the RPC figures measured
in the same run (bench/report.py TARGETS)."""
from __future__ import annotations

import contextlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench import probes
from bench.workload import AREAS, Households
from shared.errors import DomainError

ROLES = ("social_assistance.officer",)
OFFICER = "bench-officer"


@dataclass
class Served:
    base: str
    key: object          # the private key whose JWKS the gateway verifies
    pid: int | None

    def token(self, areas="listed") -> str:
        """An officer's token; areas "listed" (the seven, each id's area looked up by the
        gateway) or "*" (the whole district: no lookup, what the lookup costs shows)."""
        from services.gateway import tokens
        return tokens.issue(self.key, OFFICER, ROLES, "*" if areas == "*" else list(AREAS), minutes=240)


@contextlib.contextmanager
def served(bench, log, timeout: float = 120):
    """A live gateway on the bench's platform, stopped at the end when started here."""
    from services.gateway import tokens
    from tests.e2e.platform import ROOT, free_port
    platform = bench.platform
    if "gateway" in platform.processes:      # the platform's own program (GATEWAY_JWKS beside its key)
        jwks = Path(platform.env["GATEWAY_JWKS"])
        gateway = Served(platform.url("GATEWAY_PORT", ""), tokens.load_key(jwks.parent),
                         platform.processes["gateway"].pid)
        _wait_ready(gateway, timeout)
        yield gateway
        return
    jwks = tokens.write_keys(bench.logs / "gateway-keys")
    port = free_port()
    with open(bench.logs / "gateway.log", "ab") as output:
        process = subprocess.Popen([sys.executable, "-m", "services.gateway"], cwd=ROOT,
                                   env={**platform.env, "GATEWAY_JWKS": str(jwks), "GATEWAY_PORT": str(port),
                                        "GATEWAY_RATE_LIMIT": "0"},  # the bench is one client, far over any limit
                                   stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        gateway = Served(f"http://127.0.0.1:{port}", tokens.load_key(jwks.parent), process.pid)
        _wait_ready(gateway, timeout, process)
        log(f"gateway up on {gateway.base} (pid {process.pid}; log {bench.logs / 'gateway.log'})")
        yield gateway
    finally:
        if (peak := probes.peak_rss_mb(process.pid)) is not None:  # before it exits
            bench.peaks["gateway"] = max(bench.peaks.get("gateway", 0.0), peak)
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(15)


def _wait_ready(gateway: Served, timeout: float, process=None) -> None:
    def answering():
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the gateway exited with {process.returncode}; see its log")
        with HttpClient(gateway.base, gateway.token(), timeout=5) as client:
            warm(client)
            return True
    probes.wait_for(lambda: _quietly(answering), timeout, 0.5, "the gateway answering through RPC")


def _quietly(check):
    try:
        return check()
    except RuntimeError:
        raise
    except Exception:  # not up yet
        return False


class HttpClient:
    """An httpx client with the officer's token (keep-alive: one connection per load thread)."""

    def __init__(self, base: str, token: str, timeout: float = 60):
        import httpx
        self.http = httpx.Client(base_url=base, timeout=timeout,
                                 headers={"Authorization": f"Bearer {token}"})

    def __enter__(self) -> "HttpClient":
        return self

    def __exit__(self, *exc) -> None:
        self.http.close()

    def call(self, method: str, path: str, **kwargs):
        """The answer's `result`; a refusal raises DomainError (code and field of the problem)."""
        response = self.http.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {}
            raise DomainError(problem.get("field") or "http", f"HTTP {response.status_code}: "
                              f"{problem.get('detail', response.text[:200])}", code=problem.get("code"))
        return response.json()["result"]


def warm(client: HttpClient) -> None:
    client.call("GET", "/social-assistance/standard",
                params={"area": "beigang", "registration": "urban", "month": "2007-01"})


def http_cycle(client: HttpClient, households: Households):
    """register_household -> apply -> verify through the gateway; yields after each command."""
    area, registration, members = households.next()
    household_id = client.call("POST", "/social-assistance/households",
                               json={"area": area, "registration": registration, "members": members})
    yield "register_household", household_id
    case_id = client.call("POST", f"/social-assistance/households/{household_id}/apply", json={})
    yield "apply", case_id
    client.call("POST", f"/social-assistance/cases/{case_id}/verify", json={"household_monthly_income": "100"})
    yield "verify", case_id


def rpc_cycle(rpc, households: Households):
    from bench.workload import household_cycle
    return household_cycle(rpc, households)


def cycle_job(cycle, households: Households):
    """An OpenLoop job: each call sends the sender's next command of its current cycle."""
    def job(client, state: dict) -> dict:
        while True:
            steps = state.get("steps")
            if steps is None or state.get("client") is not client:
                steps = state["steps"] = cycle(client, households)
                state["client"] = client
            try:
                name, _result = next(steps)
                return {"command": name}
            except StopIteration:
                state["steps"] = None
            except DomainError:
                state["steps"] = None   # refused: the next slot starts a new cycle
                raise
    return job


# --- the phase -------------------------------------------------------------------------------------

def run_phase(args, env, bench, households: Households, figures: dict, log) -> None:
    """Closed loop at one concurrency, RPC then HTTP, the same seconds; then the open loop at
    `--gateway-rate` commands/s over HTTP and over RPC. Figures in figures["gateway"]."""
    from bench.load import closed_loop
    concurrency, seconds, rate = args.gateway_concurrency, args.gateway_seconds, args.gateway_rate
    with served(bench, log) as gateway:
        token = gateway.token(args.gateway_areas)

        def connect():
            return HttpClient(gateway.base, token)
        pids = lambda: {**bench.pids(), **({"gateway": gateway.pid} if gateway.pid else {})}  # noqa: E731
        result: dict = {"concurrency": concurrency, "seconds": seconds, "rate": rate,
                        "token": {"sub": OFFICER, "roles": list(ROLES),
                                  "areas": "*" if args.gateway_areas == "*" else list(AREAS)}}
        for via, kwargs in (("rpc", {}), ("http", {"connect": connect, "cycle": http_cycle, "warm": warm})):
            log.phase(f"gateway: commands/s over {via.upper()} at concurrency {concurrency} for {seconds:.0f}s "
                      "(register_household / apply / verify)")
            account = probes.CpuAccount(pids()).start()
            level = closed_loop(env.amqp_uri, households, concurrency, seconds, log, **kwargs)
            level["cpu"] = account.stop()
            result[via] = level
            log(f"{via.upper()}: {level['commands_ps']:.1f} commands/s, p50 {level['command_ms'].get('p50', 0):.1f} ms, "
                f"p99 {level['command_ms'].get('p99', 0):.1f} ms" + (f", errors {level['errors']}" if level["errors"] else ""))
            log("  " + probes.cpu_line(level["cpu"], level["commands"]))
        for via, extra in (("http", {"connect": connect, "warm": warm}), ("rpc", {})):
            result[f"{via}_at_rate"] = open_loop(args, env, households, rate, via, extra, log)
    figures["gateway"] = {**result, **headline(result)}
    g = figures["gateway"]
    log(f"gateway: HTTP {g['http_commands_ps']:.1f} / RPC {g['rpc_commands_ps']:.1f} commands/s = "
        f"{g['http_to_rpc']:.0%} (target >= 80%); at {rate:.0f}/s p99 HTTP "
        f"{report_ms(g['http_at_rate_ms'], 'p99')} ms, RPC {report_ms(g['rpc_at_rate_ms'], 'p99')} ms (target HTTP < 50 ms)")


def open_loop(args, env, households: Households, rate: float, via: str, extra: dict, log) -> dict:
    from bench.load import OpenLoop
    from bench.report import summary
    seconds, warmup = args.gateway_seconds, args.warmup
    log.phase(f"gateway: {rate:.0f} commands/s over {via.upper()} for {seconds:.0f}s (+{warmup:.0f}s warm-up), "
              "open loop, the same command mix")
    cycle = http_cycle if via == "http" else rpc_cycle
    load = OpenLoop(env.amqp_uri, rate, max(4, min(16, int(rate // 5))), cycle_job(cycle, households),
                    max_lateness=args.max_lateness, **extra)
    load.run(seconds + warmup)
    records = [r for r in load.records if r["scheduled"] >= load.t0 + warmup]
    # from the scheduled time: a late send counts its wait (no coordinated omission)
    took = summary([r["reply"] - r["scheduled"] for r in records], 1000)
    sent = sorted(r["sent"] for r in records)
    achieved = (len(sent) - 1) / (sent[-1] - sent[0]) if len(sent) > 1 else None
    out = {"latency_ms": took, "achieved_rate": achieved, "errors": load.errors[:10],
           "saturated_after_s": load.saturated_at}
    log(f"{via.upper()} at {rate:.0f}/s: p50 {report_ms(took, 'p50')} ms, p99 {report_ms(took, 'p99')} ms over "
        f"{took.get('count', 0)} commands (achieved {achieved or 0:.1f}/s)"
        + (f"; SATURATED after {load.saturated_at:.0f}s" if load.saturated_at is not None else "")
        + (f"; errors {load.errors[:3]}" if load.errors else ""))
    return out


def headline(result: dict) -> dict:
    """The figures the targets read (bench/report.py)."""
    http, rpc = result["http"]["commands_ps"], result["rpc"]["commands_ps"]
    return {"http_commands_ps": http, "rpc_commands_ps": rpc, "http_to_rpc": http / rpc if rpc else 0.0,
            "http_command_ms": result["http"]["command_ms"], "rpc_command_ms": result["rpc"]["command_ms"],
            "http_at_rate_ms": result["http_at_rate"]["latency_ms"],
            "rpc_at_rate_ms": result["rpc_at_rate"]["latency_ms"]}


def report_ms(summary_: dict, p: str) -> str:
    value = summary_.get(p)
    return "-" if value is None else f"{value:.1f}"
