"""`python -m bench soak`: the platform under a fixed load for a long while.

Household cycles (register_household -> apply -> verify) are offered at a fixed rate of
commands (50/s by default) on a fixed schedule, for `--minutes`. Every `--interval` seconds
one sample: RSS of each program (VmRSS), relay lag and projection lag (stored head minus each
tracking position, read from PostgreSQL), and throughput over the interval (commands completed,
events stored, events applied). At the end, a verdict per series: the least-squares growth over
the run after a 20 % warm-up must stay within a tolerance (RSS 5 MB per program, lag 100 events).
"""
from __future__ import annotations

import json
import time
from datetime import datetime

from bench import probes, report
from bench.environment import PrivateEnvironment
from bench.run import RESULTS, Progress, git_state, machine
from bench.workload import Households, household_cycle

RSS_TOLERANCE_MB = 5.0
LAG_TOLERANCE_EVENTS = 100.0


def run_soak(args) -> int:
    from bench.load import OpenLoop
    from bench.platform_runs import BenchPlatform
    log = Progress()
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    RESULTS.mkdir(exist_ok=True)
    result: dict = {"kind": "soak", "started": datetime.now().isoformat(timespec="seconds"),
                    "options": {k: v for k, v in vars(args).items() if k != "func"},
                    "machine": machine(), "git": git_state(), "samples": []}
    households = Households(0)

    def job(rpc, state):
        cycle = state.get("cycle")
        while True:
            if cycle is None:
                cycle = household_cycle(rpc, households)
            try:
                name, _ = next(cycle)
                state["cycle"] = cycle
                return {"command": name}
            except StopIteration:
                cycle = None
            except Exception:
                state["cycle"] = None
                raise

    with PrivateEnvironment() as env:
        bench = BenchPlatform(env.amqp_uri)
        result["environment"], result["logs"] = env.name, str(bench.logs)
        path = RESULTS / f"soak-{stamp}.json"
        try:
            log(f"soak: {args.minutes:g} min at {args.rate:g} commands/s; private database and vhost {env.name}")
            bench.start_all()
            log(f"platform up; process logs in {bench.logs}")
            positions = probes.Positions(env.conninfo())
            load = OpenLoop(env.amqp_uri, args.rate, args.senders, job)
            started = time.perf_counter()
            last = {"t": started, "done": 0, **positions.read()}
            account = probes.CpuAccount(bench.pids()).start()
            print(f"{'t(s)':>6} {'cmd/s':>6} {'stored/s':>8} {'applied/s':>9} {'relay lag':>9} "
                  f"{'proj lag':>8} {'broken':>6}  RSS MB: " + " ".join(f"{n}" for n in bench.pids()), flush=True)

            def sample(_t: float) -> None:
                now = time.perf_counter()
                pos = positions.read()
                done = len(load.records)
                span = now - last["t"]
                row = {"t": round(now - started, 1), "commands_ps": (done - last["done"]) / span,
                       "stored_eps": (pos["head"] - last["head"]) / span,
                       "applied_eps": (pos["projection"] - last["projection"]) / span,
                       "relay_lag": pos["head"] - pos["relay"], "projection_lag": pos["head"] - pos["projection"],
                       "rss_mb": bench.rss(), "errors": len(load.errors),
                       "interruptions": len(load.interruptions)}
                result["samples"].append(row)
                last.update(t=now, done=done, **pos)
                print(f"{row['t']:6.0f} {row['commands_ps']:6.1f} {row['stored_eps']:8.1f} {row['applied_eps']:9.1f} "
                      f"{row['relay_lag']:9d} {row['projection_lag']:8d} {row['interruptions']:6d}  "
                      + " ".join(f"{v:.1f}" if v is not None else "-" for v in row["rss_mb"].values()),
                      flush=True)
            load.run(args.minutes * 60, on_tick=sample, tick=args.interval)
            result["cpu"] = account.stop()
            result["commands"] = len(load.records)
            result["errors"] = load.errors[:20]
            result["error_count"] = len(load.errors)
            result["interruptions"] = load.interruptions[:50]
            result["peak_rss_mb"] = bench.note_peaks()
            result["restarts"] = bench.restarts
            positions.close()
        finally:
            bench.stop_all()
            result["finished"] = datetime.now().isoformat(timespec="seconds")
            result["verdicts"] = verdicts(result["samples"])
            path.write_text(json.dumps(result, indent=2, default=str))
    print()
    print(verdict_text(result))
    print(f"\nfigures: {path}")
    return 0 if all(v["flat"] for v in result["verdicts"]) else 1


def verdicts(samples: list[dict]) -> list[dict]:
    """One verdict per series (RSS of each program, relay lag, projection lag)."""
    if not samples:
        return []
    series = {f"RSS {name} (MB)": ([(s["t"], s["rss_mb"].get(name)) for s in samples], RSS_TOLERANCE_MB)
              for name in samples[0]["rss_mb"]}
    series["relay lag (events)"] = ([(s["t"], s["relay_lag"]) for s in samples], LAG_TOLERANCE_EVENTS)
    series["projection lag (events)"] = ([(s["t"], s["projection_lag"]) for s in samples], LAG_TOLERANCE_EVENTS)
    out = []
    for name, (points, tolerance) in series.items():
        f = report.flatness(name, points, tolerance)
        out.append({"series": name, "flat": f.flat, "growth": f.growth, "slope_per_min": f.slope_per_min,
                    "tolerance": tolerance, "first": f.first, "last": f.last, "peak": f.peak})
    return out


def verdict_text(result: dict) -> str:
    samples = result["samples"]
    lines = []
    if samples:
        rates = [s["commands_ps"] for s in samples[1:]] or [samples[0]["commands_ps"]]
        applied = [s["applied_eps"] for s in samples[1:]] or [samples[0]["applied_eps"]]
        lines.append(f"soak: {len(samples)} samples over {samples[-1]['t']:.0f}s; commands/s mean "
                     f"{sum(rates) / len(rates):.1f} (min {min(rates):.1f}); events applied/s mean "
                     f"{sum(applied) / len(applied):.1f}; {result.get('commands', 0)} commands, "
                     f"{result.get('error_count', 0)} refused by the domain, "
                     f"{len(result.get('interruptions', []))} broken connections")
    lines.append(f"{'series':34s} {'first':>8s} {'last':>8s} {'peak':>8s} {'growth':>8s} {'per min':>8s} "
                 f"{'tolerance':>9s}  verdict")
    for v in result["verdicts"]:
        verdict = "n/a" if v["flat"] is None else "flat" if v["flat"] else "GROWING"
        lines.append(f"{v['series']:34s} {report.fmt(v['first']):>8s} {report.fmt(v['last']):>8s} "
                     f"{report.fmt(v['peak']):>8s} {report.fmt(v['growth']):>8s} "
                     f"{report.fmt(v['slope_per_min']):>8s} {report.fmt(v['tolerance']):>9s}  {verdict}")
    if result.get("interruptions"):
        first = result["interruptions"][0]
        lines.append(f"the load was interrupted (RabbitMQ or PostgreSQL restarted by someone else?) from "
                     f"{first[0]:.0f}s: {first[1]}; the verdicts cover a disturbed run")
    if result.get("restarts"):
        lines.append(f"programs that exited and were restarted: {result['restarts']}")
    if result.get("cpu"):
        lines.append(probes.cpu_line(result["cpu"], result.get("commands")))
    return "\n".join(lines)

