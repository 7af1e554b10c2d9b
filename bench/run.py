"""`python -m bench`: one run of every baseline and every platform figure, side by side.

Order (each step prints its progress):
  1. private database + vhost + key
  2. baselines that need no platform: pgbench -N, eventsourcing save loop, pika (confirm per
     message, batched confirms, consume with acks)
  3. the platform (tests/e2e/platform.py): commands/s at each concurrency; the RPC ceiling (a
     command refused before any I/O); the gateway (bench/gateway.py: the same commands through
     HTTP beside RPC, closed loop and at 50/s); command-to-read-model latency at an informative rate
     (50/s) and at the target's offered load (100/s); then relay and projection throughput:
     both stopped, N events pre-loaded, relay started and timed to the head, then the
     projection likewise
  4. peak RSS of each program; the platform is stopped
  5. ProjectionRunner baseline over the same event store
  6. the payment run (bench/payments.py): N active cases stored, then the month, the year-end
     extra month and the month again timed, against the eventsourcing batched save loop
  7. the ratio table; figures written to bench/results/<timestamp>.json
"""
from __future__ import annotations

import json
import os
import platform as host
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from bench import baselines, payments, probes, report
from bench.environment import PrivateEnvironment
from bench.workload import Households

RESULTS = Path(__file__).resolve().parent / "results"
PAYMENTS_START = 3_000_000    # households no other phase makes (they start at 0, 5, 7 and 8 million)


class Progress:
    def __init__(self):
        self.start = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[{time.monotonic() - self.start:6.1f}s] {message}", flush=True)

    def phase(self, title: str) -> None:
        self(f"== {title}")


def machine() -> dict:
    return {"host": host.node(), "cpus": os.cpu_count(), "python": sys.version.split()[0],
            "loadavg": os.getloadavg(), "kernel": host.release()}


def git_state() -> dict:
    """The commit measured, and whether the working tree differed from it."""
    import subprocess
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--", "shared", "services"], cwd=root,
                                 capture_output=True, text=True).stdout.split("\n")
        return {"commit": commit, "changed_in_shared_or_services": [c.strip() for c in changed if c.strip()]}
    except OSError:
        return {}


def infrastructure_restarted(error: BaseException) -> bool:
    """Someone restarted PostgreSQL or RabbitMQ under the run (the fault suite does, on purpose)."""
    text = f"{type(error).__name__}: {error}"
    return any(mark in text for mark in ("AdminShutdown", "terminating connection", "ConnectionRefused",
                                         "Connection refused", "server closed the connection",
                                         "RecoverableConnectionError", "CONNECTION_FORCED"))


def run_bench(args) -> int:
    try:
        return _run_bench(args)
    except Exception as error:
        if infrastructure_restarted(error):
            print(f"\nbench: PostgreSQL or RabbitMQ went away during the run ({type(error).__name__}: "
                  f"{str(error)[:200]}); someone restarted it (the fault suite does). Figures discarded; "
                  "run again.", flush=True)
            return 3
        raise


def wait_quiet(minutes: float, log, threshold: float = 0.25) -> float:
    """Wait (up to `minutes`) until the machine is less than `threshold` busy over 5 s."""
    deadline = time.monotonic() + minutes * 60
    while True:
        account = probes.CpuAccount({}).start()
        time.sleep(5)
        busy = account.stop()["machine_busy_fraction"] or 0.0
        if busy < threshold or time.monotonic() >= deadline:
            log(f"machine {busy:.0%} busy before the run" + ("" if busy < threshold else " (stopped waiting)"))
            return busy
        log(f"machine {busy:.0%} busy (other work); waiting for it to quieten")


def _run_bench(args) -> int:
    log = Progress()
    if getattr(args, "wait_quiet", 0):
        wait_quiet(args.wait_quiet, log)
    figures: dict = {"options": vars(args) | {"func": None}, "started": datetime.now().isoformat(timespec="seconds"),
                     "machine": machine(), "git": git_state()}
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    with PrivateEnvironment() as env:
        log(f"private database and vhost {env.name}; load average {figures['machine']['loadavg']}")
        figures["environment"] = env.name
        try:
            if not args.skip_baselines:
                standalone_baselines(args, env, figures, log)
            if set(args.phases) - {"payments"}:
                platform_figures(args, env, figures, log, stamp)
            if not args.skip_baselines and "projection_eps" in figures:
                log.phase("baseline: eventsourcing ProjectionRunner over the same event store")
                figures.update(baselines.run("projection_runner"))
                log(f"ProjectionRunner: {figures['projection_runner_eps']:.0f} events/s "
                    f"({figures['projection_runner_events']} events)")
            if "payments" in args.phases:    # after the ProjectionRunner: it reads the whole store
                payment_runs(args, figures, log)
        finally:
            figures["finished"] = datetime.now().isoformat(timespec="seconds")
            figures["machine"]["loadavg_end"] = os.getloadavg()
            path = RESULTS / f"{stamp}.json"
            path.write_text(json.dumps(figures, indent=2, default=str))
    rows = [report.evaluate(t, figures, BASELINE_LABELS)
            for t in report.TARGETS + report.rss_targets(sorted(figures.get("rss_mb", {})))]
    print()
    print(report.table(info_rows(figures) + rows))
    print()
    print(baseline_lines(figures))
    print()
    print(noise_lines(figures))
    print(f"\nfigures: {path}")
    return 0


BASELINE_LABELS = {"pika_batched_confirm_mps": "pika batched confirms",
                   "es_save_batched_eps": "es save, batched",
                   "rpc_ceiling_cps": "RPC ceiling",
                   "subscriptions.post_ceiling_ps": "plain POSTs, 1 thread",
                   "subscriptions.feed_eps": "feed pages alone",
                   "gateway.rpc_commands_ps": "same over RPC",
                   "projection_runner_eps": "ProjectionRunner",
                   "pgbench_tps": "pgbench -N tps"}


def info_rows(figures: dict) -> list[report.Row]:
    """Figures without a target of their own, shown above the targets for context."""
    rows = []
    for level in figures.get("commands", []):
        rows.append(report.Row(f"commands/s at concurrency {level['concurrency']}", level["commands_ps"],
                               "pgbench -N tps", figures.get("pgbench_tps"),
                               level["commands_ps"] / figures["pgbench_tps"] if figures.get("pgbench_tps") else None,
                               "(info)"))
    if figures.get("rpc_ceiling_cps"):
        rows.append(report.Row("RPC ceiling: refused command, no I/O (calls/s)", figures["rpc_ceiling_cps"],
                               "pgbench -N tps", figures.get("pgbench_tps"),
                               figures["rpc_ceiling_cps"] / figures["pgbench_tps"] if figures.get("pgbench_tps") else None,
                               "(info)"))
    gateway = figures.get("gateway") or {}
    if gateway:
        for via in ("rpc", "http"):
            for p in ("p50", "p99"):
                rows.append(report.Row(f"gateway {p} per command over {via.upper()}, concurrency "
                                       f"{gateway['concurrency']} (ms)", gateway[f"{via}_command_ms"].get(p),
                                       target="(info)"))
        rows.append(report.Row(f"gateway p99 at {gateway['rate']:.0f}/s over RPC directly (ms)",
                               gateway["rpc_at_rate_ms"].get("p99"), target="(info)"))
    rows.extend(subscription_rows(figures.get("subscriptions") or {}))
    rows.extend(scale_rows(figures))
    latency = figures.get("latency_ms")
    if latency:
        for p in ("p50", "p95"):
            rows.append(report.Row(f"{p} command -> read model (ms)", latency.get(p), target="(info)"))
    info = figures.get("latency_at_info_rate") or {}
    if info.get("latency_ms", {}).get("count"):
        for p in ("p50", "p95", "p99"):
            rows.append(report.Row(f"{p} command -> read model at {info['latency_offered_rate']:.0f}/s (ms)",
                                   info["latency_ms"].get(p), target="(info)"))
    return rows


def scale_rows(figures: dict) -> list[report.Row]:
    """Scale-out (bench/scale.py): each figure against its single-process run in the same run."""
    rows = []
    if figures.get("scale_commands_ps_2") is not None:
        level = figures["scale_commands"]["replicas_2"]["concurrency"]
        rows.append(report.Row(f"commands/s, 2 social_assistance replicas, concurrency {level}",
                               figures["scale_commands_ps_2"], "same, 1 replica",
                               figures.get("scale_commands_ps_1"), figures.get("scale_commands_ratio"), "(info)"))
    if figures.get("scale_projection_eps_per_source") is not None:
        rows.append(report.Row("projection events/s, a worker per source (2 sources loaded)",
                               figures["scale_projection_eps_per_source"], "same, 1 worker",
                               figures.get("scale_projection_eps_1"), figures.get("scale_projection_ratio"),
                               "(info)"))
    return rows


def subscription_rows(s: dict) -> list[report.Row]:
    """The engine beside its baselines (the targets themselves are absolute: report.TARGETS)."""
    rows = []
    if s.get("deliveries_ps") is not None:
        rows.append(report.Row("webhook deliveries/s vs plain POSTs (ratio)", s["deliveries_ps"],
                               "plain POSTs, 1 thread", s.get("post_ceiling_ps"),
                               s["deliveries_ps"] / s["post_ceiling_ps"] if s.get("post_ceiling_ps") else None,
                               "(info)"))
    for mode, eps in (s.get("replays") or {}).items():   # each replay mode against the target and the feed
        rows.append(report.Row(f"replay events/s, {mode} (vs the feed alone)", eps, "feed pages alone",
                               s.get("feed_eps"), eps / s["feed_eps"] if s.get("feed_eps") else None,
                               ">= 5,000 (info)", "met" if eps >= 5000 else "MISSED"))
    lag = s.get("lag_ms") or {}
    for p in ("p50", "max"):
        if lag.get(p) is not None:
            rows.append(report.Row(f"{p} delivery lag of the nine (ms)", lag[p], target="(info)"))
    return rows


def baseline_lines(figures: dict) -> str:
    names = [("pgbench -N -c 2 -j 2 tps", "pgbench_tps"),
             ("eventsourcing save, 1 aggregate/transaction, events/s", "es_save_single_eps"),
             ("eventsourcing save, 100 x 10 events/transaction, events/s", "es_save_batched_eps"),
             ("  same without cipher and compression: 1 per transaction", "es_save_plain_single_eps"),
             ("  same without cipher and compression: 100 x 10 per transaction", "es_save_plain_batched_eps"),
             ("pika publish, confirm per message, msgs/s", "pika_confirm_each_mps"),
             ("pika publish, batched confirms (500), msgs/s", "pika_batched_confirm_mps"),
             ("pika consume, manual ack per message, msgs/s", "pika_consume_mps"),
             ("eventsourcing ProjectionRunner (trivial projection), events/s", "projection_runner_eps"),
             ("platform pre-load (application, 25 cycles/transaction), events/s", "preload_eps")]
    return "baselines:\n" + "\n".join(f"  {label:66s} {report.fmt(figures.get(key)):>10s}"
                                      for label, key in names)


def noise_lines(figures: dict) -> str:
    """How much of the machine other processes (other engineers' tests) took in each phase."""
    phases = [(f"commands c={r['concurrency']}", r.get("cpu")) for r in figures.get("commands", [])]
    gateway = figures.get("gateway") or {}
    phases += [(f"gateway {via}", (gateway.get(via) or {}).get("cpu")) for via in ("rpc", "http")]
    phases += [("latency", figures.get("latency_cpu")),
               ("latency (info rate)", (figures.get("latency_at_info_rate") or {}).get("latency_cpu")),
               ("relay catch-up", (figures.get("relay") or {}).get("cpu")),
               ("projection catch-up", (figures.get("projection") or {}).get("cpu"))]
    scale_commands = figures.get("scale_commands") or {}
    phases += [(f"scale commands, {n} replica(s)", (scale_commands.get(f"replicas_{n}") or {}).get("cpu"))
               for n in (1, 2)]
    scale_projection = figures.get("scale_projection") or {}
    phases += [(f"scale projection, {mode} worker(s)", (scale_projection.get(mode) or {}).get("cpu"))
               for mode in ("1", "per-source")]
    parts = []
    for name, cpu in phases:
        if cpu and cpu.get("wall_seconds"):
            share = cpu["cpu_seconds"].get("other processes", 0) / (cpu["wall_seconds"] * (os.cpu_count() or 1))
            steal = cpu.get("steal_fraction") or 0
            parts.append(f"{name} {share:.0%}" + (f" (+{steal:.0%} stolen by the host)" if steal >= 0.01 else ""))
    return ("share of the machine taken by other processes (other engineers' work on this shared "
            "machine; high = noisy figures): " + ", ".join(parts))


def standalone_baselines(args, env, figures: dict, log) -> None:
    log.phase(f"baseline: pgbench -N -c 2 -j 2 -T {args.pgbench_seconds} (scratch database)")
    env.create_scratch_database(env.pgbench_db)
    try:
        figures.update(baselines.run("pgbench", dbname=env.pgbench_db, seconds=args.pgbench_seconds))
    finally:
        env.drop_database(env.pgbench_db)
    log(f"pgbench: {figures['pgbench_tps']:.0f} tps")

    log.phase("baseline: eventsourcing save loop (AES + zlib as the platform, and plain)")
    figures.update(baselines.run("es_save", seconds=args.baseline_seconds))
    log(f"save: {figures['es_save_single_eps']:.0f} events/s one per transaction, "
        f"{figures['es_save_batched_eps']:.0f} events/s batched; plain {figures['es_save_plain_single_eps']:.0f} "
        f"and {figures['es_save_plain_batched_eps']:.0f}")

    log.phase("baseline: pika publish, one confirm per message")
    figures.update(baselines.run("pika_confirm_each", seconds=args.baseline_seconds))
    log(f"confirm each: {figures['pika_confirm_each_mps']:.0f} msgs/s")

    log.phase(f"baseline: pika publish, batched confirms ({args.events} messages, batches of 500)")
    figures.update(baselines.run("pika_batched", count=args.events))
    log(f"batched confirms: {figures['pika_batched_confirm_mps']:.0f} msgs/s "
        f"(mean body {figures['message_bytes_mean']:.0f} bytes)")

    log.phase("baseline: pika consume with manual acks")
    figures.update(baselines.run("pika_consume", count=args.events))
    log(f"consume: {figures['pika_consume_mps']:.0f} msgs/s")


def platform_figures(args, env, figures: dict, log, stamp: str) -> None:
    from bench.platform_runs import BenchPlatform
    households = Households(0)
    log.phase("platform: starting (shared.setup + every program of deploy/supervisord.conf)")
    phases = getattr(args, "phases", ["commands", "gateway", "latency", "throughput", "subscriptions"])
    # The scale phase needs a second replica of social_assistance: rendered, started, then
    # stopped until that phase (every other phase measures one).
    bench = BenchPlatform(env.amqp_uri, replicas=2 if "scale" in phases else 1)
    bench.platform.env["GATEWAY_RATE_LIMIT"] = "0"  # a platform's own gateway: the bench is one client
    bench.platform.env["SUBSCRIPTIONS_ALLOW_NETWORKS"] = "127.0.0.0/8"  # the bench's receivers are on loopback
    extra = dict(item.split("=", 1) for item in getattr(args, "env", []))
    bench.platform.env.update(extra)
    os.environ.update(extra)  # and the harness's own child processes (pre-load, ProjectionRunner)
    figures["platform_env"] = extra
    if extra:
        log(f"what-if environment of the programs: {extra}")
    figures["logs"] = str(bench.logs)
    try:
        bench.start_all()
        log(f"platform up; process logs in {bench.logs}")
        if "scale" in phases:
            from bench import scale
            scale.stop_extra_replicas(bench, log)
        if "commands" in phases:
            commands(args, env, bench, households, figures, log, stamp)
        if "gateway" in phases:
            from bench import gateway
            gateway.run_phase(args, env, bench, households, figures, log)
            wait_caught_up(env, log)
        if "latency" in phases:
            if getattr(args, "info_rate", 0):  # first: below saturation, nothing queued before it
                info = {}
                latency(args, env, bench, households, info, log, rate=args.info_rate)
                figures["latency_at_info_rate"] = info
            latency(args, env, bench, households, figures, log)
        if "throughput" in phases:
            relay_and_projection(args, env, bench, figures, log, stamp)
        if "subscriptions" in phases:
            from bench import subscriptions
            subscriptions.run_phase(args, env, bench, households, figures, log, stamp)
        if "scale" in phases:
            from bench import scale
            scale.run_phase(args, env, bench, households, figures, log)
        figures["rss_mb"] = bench.note_peaks()
        figures["restarts"] = bench.restarts
        if bench.restarts:
            log(f"programs that exited and were restarted during the run: {bench.restarts}")
        log("peak RSS (VmHWM) MB: " + ", ".join(f"{k} {v:.0f}" for k, v in figures["rss_mb"].items()))
    finally:
        bench.stop_all()


def commands(args, env, bench, households, figures, log, stamp: str) -> None:
    from bench.load import closed_loop
    figures["commands"] = []
    for concurrency in args.concurrency:
        log.phase(f"platform: commands/s at concurrency {concurrency} for {args.seconds:.0f}s "
                  "(register_household / apply / verify)")
        profiler = None
        if args.profile and concurrency == max(args.concurrency):
            from bench.platform_runs import Profiler
            profiler = Profiler(bench.pid("social_assistance"),
                                bench.logs / f"{stamp}-social_assistance-c{concurrency}.collapsed")
        account = probes.CpuAccount(bench.pids()).start()
        result = closed_loop(env.amqp_uri, households, concurrency, args.seconds, log)
        result["cpu"] = account.stop()
        if profiler is not None and (output := profiler.stop()) is not None:
            result["profile"] = report.profile_summary(output.read_text(), top=25)
            result["profile_file"] = str(output)
            print(report.format_profile(result["profile"],
                                        f"py-spy profile of social_assistance at concurrency {concurrency}"))
        figures["commands"].append(result)
        log(f"concurrency {concurrency}: {result['commands_ps']:.1f} commands/s, command p50 "
            f"{result['command_ms'].get('p50', 0):.1f} ms, p99 {result['command_ms'].get('p99', 0):.1f} ms"
            + (f", errors {result['errors']}" if result["errors"] else ""))
        log("  " + probes.cpu_line(result["cpu"], result["commands"]))
    rpc_ceiling(args, env, bench, figures, log)
    best = max(figures["commands"], key=lambda r: r["commands_ps"])
    figures["commands_ps_best"] = best["commands_ps"]
    figures["commands_best_concurrency"] = best["concurrency"]
    wait_caught_up(env, log)


def rpc_ceiling(args, env, bench, figures, log, concurrency: int = 4, seconds: float = 10) -> None:
    """What the public interface costs by itself: a command refused before any I/O (get_case of
    a malformed id raises InvalidInput in the service) - Nameko RPC over RabbitMQ and nothing else."""
    from bench.load import closed_loop_calls
    log.phase(f"platform: RPC ceiling, a command refused before any I/O, concurrency {concurrency} "
              f"for {seconds:.0f}s")
    account = probes.CpuAccount(bench.pids()).start()
    result = closed_loop_calls(env.amqp_uri, concurrency, seconds)
    result["cpu"] = account.stop()
    figures["rpc_ceiling"] = result
    figures["rpc_ceiling_cps"] = result["calls_ps"]
    log(f"RPC ceiling: {result['calls_ps']:.0f} calls/s")
    log("  " + probes.cpu_line(result["cpu"], result["calls"], "call"))


def wait_caught_up(env, log, timeout: float = 300) -> dict:
    positions = probes.Positions(env.conninfo())
    try:
        return probes.wait_for(lambda: (p := positions.read())["projection"] >= p["head"] and p,
                               timeout, 0.1, "the projection to reach the head")
    finally:
        positions.close()


def latency(args, env, bench, households, figures, log, rate: float | None = None) -> None:
    from bench.load import OpenLoop, PositionPoller
    rate, seconds, warmup = rate or args.rate, args.latency_seconds, args.warmup
    log.phase(f"platform: command -> read model latency at {rate:.0f} register_household/s for "
              f"{seconds:.0f}s (+{warmup:.0f}s warm-up)")

    def register(rpc, _state):
        area, registration, members = households.next()
        return {"household_id": rpc.social_assistance.register_household(area, registration, members)}
    poller = PositionPoller(env.conninfo(), interval=args.poll_interval)
    poller.start()
    load = OpenLoop(env.amqp_uri, rate, args.senders, register, max_lateness=args.max_lateness)
    checkpoints = probes.checkpoints(env.conninfo())
    account = probes.CpuAccount(bench.pids()).start()
    load.run(seconds + warmup, on_tick=lambda t: log(f"latency: {len(load.records)} sent in {t:.0f}s"))
    cpu = account.stop()
    wait_caught_up(env, log)
    time.sleep(0.1)
    poller.stop()
    figures.update(latency_figures(env, load, poller, warmup, rate, seconds))
    figures["latency_cpu"] = cpu
    figures["latency_checkpoints"] = probes.checkpoints(env.conninfo()) - checkpoints
    if load.saturated_at is not None:
        figures["latency_saturated_after_s"] = load.saturated_at
        log(f"SATURATED: {args.max_lateness:.0f}s behind the schedule after {load.saturated_at:.0f}s; the "
            f"platform does not take {rate:.0f} commands/s here, so the latency is the queue's")
    lat = figures["latency_ms"]
    if not lat.get("count"):
        log("latency: no command completed after the warm-up")
        return
    log(f"latency p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms, p99 {lat['p99']:.1f} ms over "
        f"{lat['count']} commands (achieved {figures['latency_achieved_rate']:.1f}/s; poll every "
        f"{figures['latency_poll_ms']:.1f} ms)")
    parts = figures["latency_breakdown_ms"]
    log("  p50 / p99 ms of the parts: RPC reply {:.1f} / {:.1f}, reply -> published {:.1f} / {:.1f}, "
        "published -> visible {:.1f} / {:.1f}".format(
            *(parts[k].get(p, 0) for k in ("rpc_reply", "reply_to_published", "published_to_visible")
              for p in ("p50", "p99"))))
    log("  " + probes.cpu_line(cpu, len(load.records)))
    slow = figures["latency_slowest"]
    if slow:
        log("  slowest: " + ", ".join(f"{ms:.0f} ms at {at:.1f}s" for at, ms, _rpc in slow[:5])
            + f"; PostgreSQL checkpoints during the run (all databases): {figures['latency_checkpoints']}")


def latency_figures(env, load, poller, warmup: float, rate: float, seconds: float) -> dict:
    import psycopg
    records = [r for r in load.records if r["scheduled"] >= load.t0 + warmup]
    ids = [r["household_id"] for r in records]
    with psycopg.connect(env.conninfo(), autocommit=True) as conn:
        rows = conn.execute("SELECT originator_id::text, notification_id FROM social_assistance.social_assistance_events "
                            "WHERE originator_id = ANY(%s::uuid[]) AND originator_version = 1", (ids,)).fetchall()
    notification = dict(rows)
    total, rpc, relay, projection = [], [], [], []
    slowest = []
    missing = 0
    for r in records:
        nid = notification.get(r["household_id"])
        published = report.first_time_reaching(poller.times, poller.relay, nid) if nid else None
        visible = report.first_time_reaching(poller.times, poller.projection, nid) if nid else None
        if visible is None or published is None:
            missing += 1
            continue
        total.append(visible - r["scheduled"])
        rpc.append(r["reply"] - r["scheduled"])
        slowest.append((r["scheduled"] - load.t0, 1000 * (visible - r["scheduled"]), 1000 * (r["reply"] - r["scheduled"])))
        relay.append(published - r["reply"])
        projection.append(visible - published)
    sent = [r["sent"] for r in records]
    achieved = (len(sent) - 1) / (max(sent) - min(sent)) if len(sent) > 1 else None
    return {"latency_ms": report.summary(total, 1000),
            "latency_breakdown_ms": {"rpc_reply": report.summary(rpc, 1000),
                                     "reply_to_published": report.summary(relay, 1000),
                                     "published_to_visible": report.summary(projection, 1000)},
            "latency_missing": missing, "latency_errors": load.errors[:10],
            "latency_slowest": sorted(slowest, key=lambda x: -x[1])[:10],
            "latency_offered_rate": rate, "latency_achieved_rate": achieved, "latency_seconds": seconds,
            "latency_poll_ms": poller.mean_interval * 1000}


def relay_and_projection(args, env, bench, figures, log, stamp: str) -> None:
    from bench.platform_runs import Profiler
    positions = probes.Positions(env.conninfo())
    log.phase(f"platform: relay throughput ({args.events} events pre-loaded with the relay and the "
              "projection stopped)")
    bench.stop("relay_social_assistance")
    # Its standby would take the lease and publish the pre-load meanwhile: stopped too, started
    # again once the timed relay holds the lease.
    standby = "relay_social_assistance_2" if "relay_social_assistance_2" in bench.platform.processes else None
    if standby:
        bench.stop(standby)
    bench.stop("projection")
    preload = run_preload(args.events, start=5_000_000)
    figures.update(preload)
    log(f"pre-loaded {preload['preloaded_events']} events in {preload['preload_seconds']:.1f}s "
        f"({preload['preload_eps']:.0f} events/s straight through the application)")
    before = positions.read()
    head = before["head"]

    def timed_catch_up(name: str, key: str) -> dict:
        start_position = before[key]
        bench.start(name)
        url = bench.metrics_url(name)
        probes.wait_for(lambda: probes.scrape(url, 2), 120, 0.02, f"{name} /metrics")
        t0 = time.perf_counter()
        account = probes.CpuAccount(bench.pids()).start()
        profiler = Profiler(bench.pid(name), bench.logs / f"{stamp}-{name}.collapsed") if args.profile else None
        last_log = t0
        while True:
            now_position = positions.read()[key]
            now = time.perf_counter()
            if now_position >= head:
                break
            if now - last_log >= 2:
                log(f"{name}: {now_position - start_position} of {head - start_position} events "
                    f"({(now_position - start_position) / (now - t0):.0f}/s)")
                last_log = now
            if now - t0 > 600:
                raise TimeoutError(f"{name} did not reach the head in 600s")
            time.sleep(0.02)
        elapsed = time.perf_counter() - t0
        cpu = account.stop()
        events = head - start_position
        result = {"events": events, "seconds": elapsed, "eps": events / elapsed, "cpu": cpu,
                  "cpu_seconds": cpu["cpu_seconds"].get(name)}
        log("  " + probes.cpu_line(cpu, events, "event"))
        if profiler is not None:
            output = profiler.stop()
            if output is not None:
                result["profile"] = report.profile_summary(output.read_text(), top=25,
                                                           only="_run_module_as_main")  # main thread
                result["profile_file"] = str(output)
                print(report.format_profile(result["profile"], f"py-spy profile of {name}"), flush=True)
        return result

    relay = timed_catch_up("relay_social_assistance", "relay")
    if standby:
        bench.start(standby)
    metrics = probes.scrape(bench.metrics_url("relay_social_assistance"))
    relay["batch_seconds_total"] = metrics.get("relay_batch_duration_seconds_sum")
    figures["relay"] = relay
    figures["relay_eps"] = relay["eps"]
    log(f"relay: {relay['events']} events in {relay['seconds']:.2f}s = {relay['eps']:.0f} events/s "
        f"({relay['batch_seconds_total'] or 0:.2f}s waiting for confirms)")

    log.phase("platform: projection throughput (the relay's messages waiting in its queue)")
    projection = timed_catch_up("projection", "projection")
    figures["projection"] = projection
    figures["projection_eps"] = projection["eps"]
    log(f"projection: {projection['events']} events in {projection['seconds']:.2f}s = "
        f"{projection['eps']:.0f} events/s")
    positions.close()


def payment_runs(args, figures: dict, log) -> None:
    cases = args.payment_cases
    log.phase(f"payment run: {cases:,} active cases; the month, the year-end extra month, the month again, "
              f"then the months to {payments.LAST_MONTH}")
    done = subprocess.run([sys.executable, "-m", "bench", "payments", str(cases), str(PAYMENTS_START)],
                          stdout=subprocess.PIPE, text=True, timeout=7200)  # stderr: its progress
    result = child_result(done, "payment run")
    figures["payments"] = result
    for key, label in (("monthly", f"month {payments.MONTH}"), ("year_end", f"year-end extra {payments.YEAR}"),
                       ("again", f"month {payments.MONTH} again"),
                       ("later", f"month {payments.LAST_MONTH}, after the months between")):
        run = result[key]
        log(f"{label}: {run['paid']:,} paid of {run['active_cases']:,} active in {run['seconds']:.1f}s"
            + (f" = {run['eps']:,.0f} events/s" if run["paid"] else " (nobody paid twice)"))
    for cases_, seconds in result["projected_seconds"].items():
        log(f"projected monthly run for {int(cases_):,} cases: {seconds / 60:,.1f} min at the measured rate")


def child_result(done, what: str) -> dict:
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"{what} failed (exit {done.returncode}); its output is above")


def run_preload(events: int, start: int) -> dict:
    done = subprocess.run([sys.executable, "-m", "bench", "preload", str(events), str(start)],
                          capture_output=True, text=True, timeout=900)
    if done.returncode:
        print(done.stderr[-3000:], file=sys.stderr)
    return child_result(done, "pre-load")
