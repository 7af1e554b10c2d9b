"""Benchmark harness of the platform (issue 3).

  python -m bench [run] [options]      every baseline and platform figure, the ratio table
  python -m bench soak [--minutes 10]  a fixed load; RSS, lag and throughput every 10 s

Both run on this machine's PostgreSQL and RabbitMQ in a private database and vhost, dropped at
the end. See bench/README.md.
"""
from __future__ import annotations

import argparse
import signal
import sys
import warnings

warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")


def _floats(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = root.add_subparsers(dest="command")
    run = sub.add_parser("run", help="the full benchmark (the default)")
    run.add_argument("--seconds", type=float, default=20, help="duration of each commands/s level (20)")
    run.add_argument("--concurrency", type=_floats, default=[1, 4, 16], help="RPC client threads per level (1,4,16)")
    run.add_argument("--events", type=int, default=20000,
                     help="events pre-loaded for the relay and projection runs, and messages of the pika baselines (20000)")
    run.add_argument("--rate", type=float, default=100, help="offered commands/s of the latency run (100)")
    run.add_argument("--info-rate", type=float, default=50,
                     help="a second latency run at this rate, for information (50; 0 to skip)")
    run.add_argument("--latency-seconds", type=float, default=30, help="duration of the latency run (30)")
    run.add_argument("--warmup", type=float, default=3, help="seconds of the latency run left out (3)")
    run.add_argument("--senders", type=int, default=16, help="sender threads of the latency run (16)")
    run.add_argument("--max-lateness", type=float, default=5,
                     help="stop the latency run when sends fall this many seconds behind schedule (5)")
    run.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                     help="extra environment of the platform's programs, for what-if runs (repeatable)")
    run.add_argument("--poll-interval", type=float, default=0.002,
                     help="seconds between reads of the tracking positions (0.002)")
    run.add_argument("--pgbench-seconds", type=int, default=15, help="pgbench -T (15)")
    run.add_argument("--baseline-seconds", type=float, default=5, help="duration of timed baselines (5)")
    run.add_argument("--phases", type=lambda t: t.split(","),
                     default=["commands", "gateway", "latency", "throughput", "subscriptions", "scale", "payments"],
                     help="platform phases to run (commands,gateway,latency,throughput,subscriptions,scale,"
                          "payments)")
    run.add_argument("--only", type=lambda t: t.split(","), metavar="PHASES",
                     help="only these platform phases and no baselines, e.g. --only gateway")
    run.add_argument("--gateway-concurrency", type=int, default=4,
                     help="client threads of the gateway's commands/s, over HTTP and over RPC (4)")
    run.add_argument("--gateway-seconds", type=float, default=15,
                     help="duration of each gateway measurement (15)")
    run.add_argument("--gateway-areas", choices=["listed", "*"], default="listed",
                     help='the token\'s areas: "listed" (the seven; the gateway looks up the area of '
                          'each id, one RPC more) or "*" (the whole district, no lookup)')
    run.add_argument("--gateway-rate", type=float, default=50,
                     help="offered commands/s of the gateway's latency, over HTTP and over RPC (50)")
    run.add_argument("--subscriptions-seconds", type=float, default=10,
                     help="window of the webhook deliveries/s to one receiver (10)")
    run.add_argument("--subscriptions-rate", type=float, default=100,
                     help="events/s offered while the ten subscriptions' delivery lag is measured (100)")
    run.add_argument("--scale-concurrency", type=int, default=8,
                     help="client threads of the scale phase's commands/s with 1 and 2 replicas (8)")
    run.add_argument("--scale-events", type=int, default=5000,
                     help="events pre-loaded into each of two sources per projection run of the scale phase (5000)")
    run.add_argument("--payment-cases", type=int, default=20000,
                     help="active cases of the payments phase's monthly run (20000)")
    run.add_argument("--wait-quiet", type=float, default=0, metavar="MINUTES",
                     help="first wait up to MINUTES for the shared machine to be under 25%% busy (0)")
    run.add_argument("--skip-baselines", action="store_true", help="platform figures only")
    run.add_argument("--profile", action="store_true",
                     help="py-spy record the service at the highest concurrency and the relay and the "
                          "projection while they catch up (summaries printed and in the JSON; needs py-spy)")
    run.add_argument("--quick", action="store_true",
                     help="a short smoke run: 5 s levels, 3,000 events, 10 s latency, 5 s pgbench")
    soak = sub.add_parser("soak", help="fixed load, sampling RSS, lag and throughput")
    soak.add_argument("--minutes", type=float, default=10, help="duration (10)")
    soak.add_argument("--rate", type=float, default=50, help="offered commands/s (50)")
    soak.add_argument("--interval", type=float, default=10, help="seconds between samples (10)")
    soak.add_argument("--senders", type=int, default=8, help="sender threads (8)")
    base = sub.add_parser("baseline", help=argparse.SUPPRESS)
    base.add_argument("name")
    base.add_argument("kwargs", nargs="?", default="{}")
    pre = sub.add_parser("preload", help=argparse.SUPPRESS)
    pre.add_argument("events")
    pre.add_argument("start")
    scale = sub.add_parser("preload-scale", help=argparse.SUPPRESS)
    scale.add_argument("events", type=int)
    scale.add_argument("start", type=int)
    pay = sub.add_parser("payments", help=argparse.SUPPRESS)
    pay.add_argument("cases")
    pay.add_argument("start")
    steady = sub.add_parser("steady", help=argparse.SUPPRESS)
    steady.add_argument("rate", type=float)
    steady.add_argument("seconds", type=float)
    steady.add_argument("start", type=int)
    return root


def _terminate(*_args):
    raise SystemExit(143)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv.insert(0, "run")
    args = parser().parse_args(argv)
    if args.command == "baseline":
        from bench.baselines import child_main
        return child_main(args.name, args.kwargs)
    if args.command == "preload":
        from bench.preload import child_main
        return child_main(args.events, args.start)
    if args.command == "payments":
        from bench.payments import child_main
        return child_main(args.cases, args.start)
    if args.command == "preload-scale":
        import json

        from bench.scale import preload_child
        print("RESULT " + json.dumps(preload_child(args.events, args.start)), flush=True)
        return 0
    if args.command == "steady":
        import json

        from bench.preload import steady
        print("RESULT " + json.dumps(steady(args.rate, args.seconds, args.start)), flush=True)
        return 0
    signal.signal(signal.SIGTERM, _terminate)  # clean up the private database and vhost
    if args.command == "soak":
        from bench.soak import run_soak
        return run_soak(args)
    if args.only:
        args.phases, args.skip_baselines = args.only, True
    if args.quick:
        args.seconds, args.events, args.latency_seconds, args.pgbench_seconds = 5, 3000, 10, 5
        args.gateway_seconds = 5
        args.subscriptions_seconds = 5
        args.scale_events = 1000
        args.payment_cases = 2000
        args.info_rate = 0
        args.baseline_seconds = 2
    from bench.run import run_bench
    return run_bench(args)


if __name__ == "__main__":
    sys.exit(main())
