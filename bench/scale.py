"""The scale-out phase (`python -m bench --only scale`): in one run, on the same platform,

1. commands/s of the household cycle (register_household -> apply -> verify) at
   `--scale-concurrency` client threads (8) for `--seconds`, with ONE social_assistance process and
   then with TWO (the second replica `social_assistance_2` started beside it on its own port; RPC
   spreads the calls over both on their shared queue); the ratio 2 / 1;
2. projection events/s with ONE worker for every source (PROJECTION_WORKERS=1) and then with one
   worker per source (the default): each time the projection is stopped, `--scale-events` events
   are pre-loaded into each of two sources (social assistance household cycles straight through the
   application, as the relay phase does, and disaster relief reserve deposits, one per
   transaction), the relays publish them into the projection's per-source queues, then the
   projection is started and timed from its /metrics answering until both sources' positions reach
   their heads; the ratio per-source / one.

Two CPUs: a second replica and parallel workers only help where one process was the bottleneck
and a core is left; the CPU of every program in each step is printed beside the figure.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time

from bench import probes

SOURCES = ("social_assistance", "disaster_relief")
STATELESS_COPY = "_2"


def stop_extra_replicas(bench, log) -> None:
    """The bench platform renders two replicas (for this phase); every other phase measures one:
    stop the second instance of every stateless program (the relays' standbys stay: they are part
    of every platform)."""
    from deploy import render
    for instance in render.instances(replicas=bench.platform.replicas):
        if instance.index > 1 and not instance.standby and instance.program in bench.platform.processes:
            bench.stop(instance.program)
    log("second replicas stopped; the scale phase starts social_assistance_2 when it measures two")


def positions(conninfo: str) -> dict[str, tuple[int, int, int]]:
    """{source: (stored head, relay position, projection position)} from PostgreSQL."""
    import psycopg
    found = {}
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for source in SOURCES:
            head, relay, projection = conn.execute(
                f"SELECT (SELECT coalesce(max(notification_id), 0) FROM {source}.{source}_events), "
                f"(SELECT notification_id FROM {source}.relay_tracking WHERE application_name = %s), "
                "(SELECT notification_id FROM read_model.notification_tracking WHERE application_name = %s)",
                (f"{source}.relay", source)).fetchone()
            found[source] = (head or 0, relay or 0, projection or 0)
    return found


def commands_with_replicas(args, env, bench, households, figures: dict, log) -> None:
    from bench.load import closed_loop
    result = {}
    for replicas in (1, 2):
        if replicas == 2:
            bench.start("social_assistance_2")
            port = "SOCIAL_ASSISTANCE_PORT_2"
            probes.wait_for(lambda: probes.scrape(bench.platform.url(port, "/metrics")), 120, 0.2,
                            f"social_assistance_2 /metrics (logs in {bench.logs})")
        log.phase(f"scale: commands/s with {replicas} social_assistance process(es), concurrency "
                  f"{args.scale_concurrency} for {args.seconds:.0f}s")
        account = probes.CpuAccount(bench.pids()).start()
        level = closed_loop(env.amqp_uri, households, args.scale_concurrency, args.seconds, log)
        level["cpu"] = account.stop()
        result[f"replicas_{replicas}"] = level
        log(f"{replicas} replica(s): {level['commands_ps']:.1f} commands/s (p50 "
            f"{level['command_ms'].get('p50', 0):.1f} ms, p99 {level['command_ms'].get('p99', 0):.1f} ms)"
            + (f", errors {level['errors']}" if level["errors"] else ""))
        log("  " + probes.cpu_line(level["cpu"], level["commands"]))
    bench.stop("social_assistance_2")
    one, two = result["replicas_1"]["commands_ps"], result["replicas_2"]["commands_ps"]
    figures["scale_commands"] = result
    figures["scale_commands_ps_1"], figures["scale_commands_ps_2"] = one, two
    figures["scale_commands_ratio"] = two / one if one else None


def preload_sources(events: int, start: int) -> dict:
    done = subprocess.run([sys.executable, "-m", "bench", "preload-scale", str(events), str(start)],
                          capture_output=True, text=True, timeout=1800)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"pre-load failed (exit {done.returncode}): {done.stderr[-3000:]}")


def projection_workers(args, env, bench, figures: dict, log) -> None:
    result = {}
    start = 7_000_000
    for mode in ("1", "per-source"):
        log.phase(f"scale: projection with PROJECTION_WORKERS={mode}: {args.scale_events} events into each "
                  f"of {', '.join(SOURCES)} with the projection stopped")
        bench.stop("projection")
        loaded = preload_sources(args.scale_events, start)
        start += 1_000_000
        before = positions(env.conninfo())
        # The relays publish them into the per-source queues while the projection is stopped.
        probes.wait_for(lambda: all(relay >= head for head, relay, _ in positions(env.conninfo()).values()),
                        600, 0.2, "the relays to publish the pre-loaded events")
        heads = {source: head for source, (head, _, _) in positions(env.conninfo()).items()}
        events = sum(heads[s] - before[s][2] for s in SOURCES)
        bench.platform.env["PROJECTION_WORKERS"] = mode
        bench.start("projection")
        probes.wait_for(lambda: probes.scrape(bench.metrics_url("projection"), 2), 120, 0.02, "projection /metrics")
        t0 = time.perf_counter()
        account = probes.CpuAccount(bench.pids()).start()
        last = t0
        while True:
            now = positions(env.conninfo())
            if all(now[s][2] >= heads[s] for s in SOURCES):
                break
            if time.perf_counter() - last >= 2:
                last = time.perf_counter()
                log(f"  {mode}: " + ", ".join(f"{s} {now[s][2] - before[s][2]} of {heads[s] - before[s][2]}"
                                             for s in SOURCES))
            if time.perf_counter() - t0 > 900:
                raise TimeoutError(f"the projection ({mode}) did not reach the heads in 900 s")
            time.sleep(0.02)
        elapsed = time.perf_counter() - t0
        cpu = account.stop()
        result[mode] = {"events": events, "seconds": elapsed, "eps": events / elapsed, "cpu": cpu,
                        "preload": loaded}
        log(f"projection, {mode} worker(s): {events} events in {elapsed:.2f}s = {events / elapsed:.0f} events/s")
        log("  " + probes.cpu_line(cpu, events, "event"))
    bench.platform.env.pop("PROJECTION_WORKERS", None)
    figures["scale_projection"] = result
    one, per_source = result["1"]["eps"], result["per-source"]["eps"]
    figures["scale_projection_eps_1"], figures["scale_projection_eps_per_source"] = one, per_source
    figures["scale_projection_ratio"] = per_source / one if one else None


def run_phase(args, env, bench, households, figures: dict, log) -> None:
    commands_with_replicas(args, env, bench, households, figures, log)
    projection_workers(args, env, bench, figures, log)


def preload_child(events: int, start: int) -> dict:
    """`python -m bench preload-scale EVENTS START`: EVENTS social assistance events (household
    cycles, 25 per transaction) and EVENTS disaster relief deposits (one per transaction)."""
    from bench.preload import preload
    from services.disaster_relief.application import DisasterRelief
    sa = preload(events, start)
    app = DisasterRelief()
    areas = sorted(app.reference.areas)       # spread over every area's reserve
    before = app.recorder.max_notification_id() or 0
    began = time.perf_counter()
    stored = 0
    while stored < events:
        app.deposit(areas[stored % len(areas)], "10.00", "district budget", "officer-li", "2007-03-01")
        stored = (app.recorder.max_notification_id() or 0) - before
    elapsed = time.perf_counter() - began
    app.close()
    return {"social_assistance": sa, "disaster_relief": {"stored": stored, "seconds": elapsed,
                                                         "eps": stored / elapsed}}
