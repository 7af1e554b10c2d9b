"""The demo: a simulated 2007 of Zhonglou district, driven through the running services' RPC.

    make demo                                   # after `make run` in another shell
    make demo DEMO_ARGS="--size small"          # a few dozen households a domain
    python -m deploy.demo --size 0.1 --seed 7 --domains social_assistance,welfare

The runner is generic: it iterates the registered domains that declare a demo scenario
(`shared.domains.with_part("demo")`; the interface is in shared/demo_kit.py), plans each one's
year as a pure function of (seed, size, reference data, run number) and drives it through the
domain's service, prints each domain's summary and, at the end, the reporting service's /report,
one section per domain, against the plans.

The run number: 1 + the earlier demo runs the platform holds (the most any scenario's
`runs_done` finds over RPC), or `--run N`. Run N draws people from its own identity-number
space and expects the once-a-year commands an earlier run did to be refused as already done, so
running the demo again on the same database builds on the earlier runs.
"""
from __future__ import annotations

import argparse
import os
import sys

from shared import domains
from shared.demo_kit import (DEFAULT_SIZE, MAX_RUNS, NOT_RUNNING, SIZES, Kit, ServiceBroken,
                             Unreachable, cluster_factory, fetch_report, parse_size, safe_uri)

YEAR = 2007
DEFAULT_SEED = 2007


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m deploy.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default=DEFAULT_SIZE,
                        help=f"{', '.join(f'{k} ({v:g})' for k, v in SIZES.items())} or a scale in (0, 1] "
                             f"of the full plan (default {DEFAULT_SIZE})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument("--domains", default="",
                        help="comma-separated domains (default: every registered domain with a demo)")
    parser.add_argument("--run", type=int, default=None,
                        help="the run number (default: 1 + the earlier runs the platform holds)")
    parser.add_argument("--amqp-uri", default=os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"),
                        help="RabbitMQ the services listen on (default $AMQP_URI or local guest)")
    parser.add_argument("--concurrency", type=int, default=8, help="RPC calls in flight (default 8)")
    parser.add_argument("--reporting-url", default=os.environ.get("REPORTING_URL", "http://127.0.0.1:8003"),
                        help="the reporting service (default $REPORTING_URL or http://127.0.0.1:8003)")
    parser.add_argument("--report-wait", type=float, default=60,
                        help="seconds to wait for the read model to catch up (default 60)")
    parser.add_argument("--no-report", action="store_true", help="do not read /report at the end")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    try:
        args.scale = parse_size(args.size)
    except ValueError as error:
        parser.error(str(error))
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    if args.run is not None and not 1 <= args.run <= MAX_RUNS:
        parser.error(f"--run must be 1..{MAX_RUNS}")
    available = {d.name: d for d in domains.with_part("demo")}
    wanted = [n.strip() for n in args.domains.split(",") if n.strip()] or list(available)
    unknown = [n for n in wanted if n not in available]
    if unknown:
        parser.error(f"no demo for {', '.join(unknown)}; the domains with one: {', '.join(available)}")
    args.selected = [available[n] for n in wanted]
    return args


def run_number(scenarios: dict, kits: dict) -> int:
    """1 + the earlier demo runs: the most any registered scenario's `runs_done` finds."""
    done = 0
    for name, scenario in scenarios.items():
        if hasattr(scenario, "runs_done"):
            done = max(done, scenario.runs_done(kits[name]))
    return done + 1


def main(argv=None, out=sys.stdout, err=sys.stderr) -> int:
    args = parse_args(argv)
    factory = cluster_factory(args.amqp_uri)
    # every registered demo tells its earlier runs, so that a subset run still counts them
    scenarios = {d.name: d.load("demo") for d in domains.with_part("demo")}

    def kit(name: str) -> Kit:
        return Kit(name, factory, concurrency=args.concurrency, progress=not args.no_progress,
                   out=out, err=err)
    kits = {name: kit(name) for name in scenarios}
    outcomes, plans = {}, {}
    try:
        try:
            number = args.run or run_number(scenarios, kits)
        except Unreachable as error:
            print(f"demo: {error}\ndemo: {NOT_RUNNING} (RabbitMQ at {safe_uri(args.amqp_uri)})", file=err)
            return 2
        print(f"demo: run {number} on this database, seed {args.seed}, size {args.size}; domains: "
              f"{', '.join(d.name for d in args.selected)}", file=out)
        for domain in args.selected:
            scenario = scenarios[domain.name]
            plans[domain.name] = plan = scenario.plan(args.seed, args.scale, number)
            print(f"\n=== {getattr(scenario, 'TITLE', domain.title)} ===", file=out)
            try:
                outcomes[domain.name] = scenario.run(plan, kits[domain.name])
            except Unreachable as error:
                print(f"\ndemo: {error}\ndemo: {NOT_RUNNING}", file=err)
                return 2
            except ServiceBroken as error:
                print(f"\ndemo: {error}\ndemo: check the {domain.name} log (make run's output)", file=err)
                return 1
    except KeyboardInterrupt:
        print("\ndemo: interrupted", file=err)
        return 130
    finally:
        for k in kits.values():
            k.close()
    if not args.no_report:
        print_reports(args, scenarios, plans, outcomes, out)
    failed = [name for name, outcome in outcomes.items() if not outcome.ok]
    print(f"\ndemo: run {number}: " + (f"unexpected outcomes in {', '.join(failed)}" if failed
                                      else "every command had its expected outcome"), file=out)
    return 1 if failed else 0


def print_reports(args, scenarios: dict, plans: dict, outcomes: dict, out=sys.stdout) -> None:
    """The reporting service's /report (one key per domain), once every domain's part is in."""
    def ready(report: dict) -> bool:
        return all(scenarios[name].report_ready(report.get(name), plans[name], outcome)
                   for name, outcome in outcomes.items() if hasattr(scenarios[name], "report_ready"))
    report = fetch_report(args.reporting_url, YEAR, ready, args.report_wait, out)
    if report is None:
        return
    for name, outcome in outcomes.items():
        if hasattr(scenarios[name], "print_report"):
            scenarios[name].print_report(report.get(name), plans[name], outcome, out)
    print(f"\nreporting metrics (Prometheus): {args.reporting_url.rstrip('/')}/metrics", file=out)


if __name__ == "__main__":
    sys.exit(main())
