"""Interface layer: what every domain's demo scenario needs, once.

The demo (`python -m deploy.demo`) iterates the registered domains that declare a `demo` part
(`shared.domains.with_part("demo")`). A scenario module (`services/<domain>/demo.py`) exposes:

    TITLE                                           # for the summary
    plan(seed, size, run, reference=None) -> Plan   # pure: no I/O beyond reading reference data
    run(plan, kit) -> Outcome                       # drives the plan; Outcome.ok, prints a summary
    runs_done(kit) -> int                           # optional: earlier demo runs, asked over RPC
    report_ready(section, plan, outcome) -> bool    # optional: has the read model caught up?
    print_report(section, plan, outcome, out)       # optional: its /report section vs the plan

`size` is a scale (1.0 the plan's full figures; `SIZES` names a few); `run` the run number on
this database (1 on an empty one): people are drawn from a space keyed by it (`People`), so
a second run meets new people, and once-a-year actions a run >= 2 repeats are expected to be
refused as "already done" (`Expect.done`) or skipped after asking the service.

Here: the people generator (valid, unique GB 11643-1999 identity numbers), the steps (a named
RPC call, its arguments and its expected outcome), the `Kit` that executes them (retrying RPC
calls over per-thread Nameko proxies from shared/rpc.py, lanes in parallel, tqdm progress
bars), outcome counting per command (`Tally`), the summary table, and reading /report.
No Nameko import at module level.
"""
from __future__ import annotations

import json
import random
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date

from stdnum.cn import ric

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国红梅志文斌国庆金凤海燕"
SIZES = {"small": 0.03, "medium": 0.2, "full": 1.0}
DEFAULT_SIZE = "full"
NOT_RUNNING = "start the platform with `make run` in another shell"


def parse_size(text: str | float) -> float:
    """`small`, `medium`, `full` or a scale in (0, 1]."""
    if isinstance(text, str) and text in SIZES:
        return SIZES[text]
    try:
        scale = float(text)
    except ValueError:
        raise ValueError(f"size must be one of {', '.join(SIZES)} or a scale in (0, 1]") from None
    if not 0 < scale <= 1:
        raise ValueError("a size scale must be in (0, 1]")
    return scale


# --- people ------------------------------------------------------------------------------------

MAX_RUNS = 50     # sequence blocks (10) x birth-date phases (5)


@dataclass(frozen=True)
class Person:
    id_number: str
    name: str
    birth_date: str
    sex: str                 # 'M' | 'F' (the sequence digit's parity; not sent)
    monthly_income: str = "0"

    def rpc(self) -> dict:
        """As a dibao household member."""
        return {"id_number": self.id_number, "name": self.name, "birth_date": self.birth_date,
                "monthly_income": self.monthly_income}

    def identity(self) -> dict:
        return {"id_number": self.id_number, "name": self.name, "birth_date": self.birth_date}


class People:
    """Valid, unique GB 11643-1999 identity numbers with plausible names and birth dates.

    The run number keys the space: the sequence number's first digit is (run - 1) mod 10 and the
    birth date's day number is congruent to (run - 1) // 10 mod 5, so two runs never draw the
    same number (`run_of` reads it back)."""

    def __init__(self, rng: random.Random, run: int = 1, codes: dict[str, int] | None = None):
        if not 1 <= run <= MAX_RUNS:
            raise ValueError(f"run number must be 1..{MAX_RUNS} (a fresh database starts again at 1)")
        self.rng, self.run = rng, run
        self.block, self.phase = (run - 1) % 10, (run - 1) // 10
        codes = codes or {"320404": 1}
        self.codes, self.weights = list(codes), list(codes.values())
        self.used: set[str] = set()

    def name(self) -> str:
        rng = self.rng
        return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))

    def person(self, born_from: int, born_to: int, income: int | str = 0) -> Person:
        rng = self.rng
        first, last = date(born_from, 1, 1).toordinal(), date(born_to, 12, 31).toordinal()
        while True:
            day = rng.randint(first, last)
            day -= (day - self.phase) % 5
            if day < first:
                day += 5
            born = date.fromordinal(day)
            sex = rng.choice("MF")
            seq = self.block * 100 + rng.randrange(0, 50) * 2 + (1 if sex == "M" else 0)
            code = rng.choices(self.codes, self.weights)[0] if len(self.codes) > 1 else self.codes[0]
            body = f"{code}{born:%Y%m%d}{seq:03d}"
            number = body + ric.calc_check_digit(body + "0")
            if seq and number not in self.used:
                self.used.add(number)
                return Person(number, self.name(), born.isoformat(), sex, str(income))


def run_of(id_number: str) -> int:
    """The run number whose space an identity number People drew is in."""
    born = date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    return (born.toordinal() % 5) * 10 + int(id_number[14]) + 1


# --- steps -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ref:
    """The id an earlier step returned (saved under `key`), filled in when the step runs."""
    key: str


@dataclass(frozen=True)
class Expect:
    """A step's expected outcome: accepted (`error` None) or refused with the typed error (and
    field, if given). `done` = (error, field): an "already done" refusal, also expected."""
    error: str | None = None
    field: str | None = None
    done: tuple[str, str] | None = None

    def describe(self) -> str:
        return "ok" if self.error is None else self.error + (f" on {self.field}" if self.field else "")


OK = Expect()


def refused(error: str, field: str | None = None) -> Expect:
    return Expect(error, field)


@dataclass(frozen=True)
class Step:
    """A named RPC call of the plan with its arguments and expected outcome."""
    label: str
    method: str
    args: tuple = ()
    expect: Expect = OK
    saves: str | None = None      # remember the returned id under this key
    month: int = 0
    phase: int = 1                # within a month: 0 registrations, 1 the work, 2 bad commands
    lane: str = ""                # steps of one lane run in order; lanes run in parallel


def resolve(value, ids: dict):
    """Arguments with every Ref replaced by the id it names (KeyError if it was not saved)."""
    if isinstance(value, Ref):
        return ids[value.key]
    if isinstance(value, (list, tuple)):
        return type(value)(resolve(v, ids) for v in value)
    return value


# --- outcomes ----------------------------------------------------------------------------------

OUTCOMES = ("ok", "refused as expected", "already done", "skipped", "unexpected")


class Tally:
    """Outcome counting per command: ok / refused as expected / already done / skipped /
    unexpected (a refusal not planned, an acceptance where a refusal was, or a fault)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts: dict[str, Counter] = {}
        self.problems: list[str] = []
        self.refusals: list[tuple[str, str, str]] = []    # (label, expected, got) of planned refusals
        self.version_retries = 0

    def add(self, method: str, outcome: str, problem: str | None = None) -> None:
        with self.lock:
            self.counts.setdefault(method, Counter())[outcome] += 1
            if problem:
                self.problems.append(problem)

    def total(self, outcome: str) -> int:
        return sum(c[outcome] for c in self.counts.values())

    @property
    def refused(self) -> Counter:
        """Error type -> planned refusals it refused."""
        return Counter(got for _, expected, got in self.refusals if got == expected)

    @property
    def ok(self) -> bool:
        return not self.problems

    def print(self, out=sys.stdout, title: str = "commands") -> None:
        rows = [[method] + [c[o] or "" for o in OUTCOMES] for method, c in sorted(self.counts.items())]
        rows.append(["total"] + [self.total(o) for o in OUTCOMES])
        table([title] + list(OUTCOMES), rows, out)
        if self.version_retries:
            print(f"optimistic-concurrency races retried: {self.version_retries}", file=out)
        for line in self.problems[:10]:
            print(f"  UNEXPECTED {line}", file=out)
        if len(self.problems) > 10:
            print(f"  ... and {len(self.problems) - 10} more", file=out)


# --- calling the service -----------------------------------------------------------------------

class Unreachable(Exception):
    """The message bus or the service cannot be reached."""


class ServiceBroken(Exception):
    """The service answers, but its first, harmless query fails."""


def infrastructure_errors() -> tuple:
    """What a call raises when the bus or the service is away (not a typed domain refusal)."""
    from amqp.exceptions import AMQPError
    from kombu.exceptions import OperationalError
    from nameko.exceptions import RpcTimeout, UnknownService
    return (RpcTimeout, UnknownService, OSError, OperationalError, AMQPError)


def quiet_libraries() -> None:
    """Nameko imports eventlet, which warns that it is deprecated, and py-amqp warns about
    frames on a channel closed after a refused call: not the demo's news."""
    import logging
    import warnings
    warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")
    logging.getLogger("amqp").setLevel(logging.ERROR)


def safe_uri(uri: str) -> str:
    """An AMQP URI without its password."""
    if "@" in uri and "://" in uri:
        scheme, rest = uri.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return uri


def cluster_factory(amqp_uri: str, timeout: float = 60) -> Callable:
    """A factory of Nameko cluster proxies (shared.rpc.cluster) on `amqp_uri`."""
    def factory(seconds: float = timeout):
        from shared.rpc import cluster
        return cluster(amqp_uri, timeout=seconds)
    return factory


def _short(args) -> str:
    text = repr(tuple(args))
    return text if len(text) < 120 else text[:117] + "..."


class Kit:
    """One domain's run: calls `service` through `rpc_factory()` proxies (a context manager
    yielding an object whose attribute `<service>` is the service; one per worker thread, plus a
    long-timeout one for bulk commands), counts every outcome in `tally`, draws progress bars."""

    VERSION_RETRIES = 8

    def __init__(self, service: str, rpc_factory: Callable, *, concurrency: int = 8,
                 progress: bool = True, out=sys.stdout, err=sys.stderr, bulk_timeout: float = 1800):
        quiet_libraries()
        from shared import errors
        self.errors, self.infra = errors, infrastructure_errors()
        self.service, self.rpc_factory = service, rpc_factory
        self.concurrency, self.progress, self.out, self.err = concurrency, progress, out, err
        self.bulk_timeout = bulk_timeout
        self.local, self.lock = threading.local(), threading.Lock()
        self.proxies = ExitStack()
        self.bulk_proxy = None
        self.tally = Tally()
        self.aborted: str | None = None
        self.started = time.monotonic()
        self._pool: ThreadPoolExecutor | None = None

    # proxies ------------------------------------------------------------------------------
    def _open(self, *args):
        try:
            with self.lock:
                return self.proxies.enter_context(self.rpc_factory(*args))
        except self.infra as error:
            raise Unreachable(f"cannot reach RabbitMQ: {error!r}") from None

    def _proxy(self, bulk: bool = False):
        if bulk:
            if self.bulk_proxy is None:
                try:
                    self.bulk_proxy = self._open(self.bulk_timeout)
                except TypeError:          # a factory that takes no timeout (tests)
                    self.bulk_proxy = self._open()
            return self.bulk_proxy
        proxy = getattr(self.local, "proxy", None)
        if proxy is None:
            proxy = self.local.proxy = self._open()
        return proxy

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        try:
            self.proxies.close()
        except Exception:  # noqa: BLE001  (closing a broken connection must not hide the cause)
            pass

    @property
    def pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix=self.service)
        return self._pool

    # calls --------------------------------------------------------------------------------
    def call(self, method: str, *args, bulk: bool = False):
        """One RPC; retries a lost optimistic-concurrency race (Conflict on 'version'); the
        first call that gets no answer stops every later one with Unreachable."""
        if self.aborted:
            raise Unreachable(self.aborted)
        service = getattr(self._proxy(bulk), self.service)
        for attempt in range(self.VERSION_RETRIES):
            try:
                return getattr(service, method)(*args)
            except self.errors.Conflict as error:
                if error.field != "version" or attempt == self.VERSION_RETRIES - 1:
                    raise
                with self.tally.lock:
                    self.tally.version_retries += 1
                time.sleep(random.uniform(0.02, 0.2) * (attempt + 1))
            except self.infra as error:
                self.aborted = f"{self.service}.{method} got no answer: {error!r}"
                raise Unreachable(self.aborted) from None

    def do(self, label: str, method: str, *args, expect: Expect = OK, bulk: bool = False):
        """A command of the plan, its outcome counted against `expect`. Returns the result if
        the service accepted it, else None (the demo goes on)."""
        try:
            result = self.call(method, *args, bulk=bulk)
        except Unreachable:
            raise
        except self.errors.DomainError as error:
            got = type(error).__name__
            if expect.error is not None:
                with self.tally.lock:
                    self.tally.refusals.append((label, expect.error, got))
            if expect.error == got and expect.field in (None, error.field):
                self.tally.add(method, "refused as expected")
            elif expect.done == (got, error.field):
                self.tally.add(method, "already done")
            else:
                self.tally.add(method, "unexpected", f"{label}: {method} refused with {got} "
                               f"({error.field}: {error.rule}); expected {expect.describe()}")
            return None
        except Exception as error:  # noqa: BLE001  (a service fault is reported, not fatal)
            if expect.error is not None:
                with self.tally.lock:
                    self.tally.refusals.append((label, expect.error, f"fault {type(error).__name__}"))
            self.tally.add(method, "unexpected", f"{label}: {method}{_short(args)} failed: "
                           f"{type(error).__name__}: {error}")
            return None
        if expect.error is not None:
            with self.tally.lock:
                self.tally.refusals.append((label, expect.error, "ACCEPTED"))
            self.tally.add(method, "unexpected", f"{label}: accepted, expected {expect.describe()}")
            return None
        self.tally.add(method, "ok")
        return result

    def skip(self, method: str, why: str | None = None) -> None:
        """A step not sent: its precondition failed earlier (counted, and why, if a problem)."""
        self.tally.add(method, "skipped", why)

    def step(self, step: Step, ids: dict) -> object:
        """Executes a Step: resolves its Refs from `ids`, saves its result under `step.saves`."""
        try:
            args = resolve(step.args, ids)
        except KeyError as missing:
            self.skip(step.method, f"{step.label}: {step.method} skipped, {missing} was not created")
            return None
        result = self.do(step.label or step.method, step.method, *args, expect=step.expect)
        if result is not None and step.saves:
            with self.lock:
                ids[step.saves] = result
        return result

    # progress and parallel lanes -------------------------------------------------------------
    def bar(self, label: str, total: int):
        from tqdm import tqdm
        return tqdm(total=total, desc=label, unit="cmd", file=self.err, leave=True,
                    disable=not self.progress, dynamic_ncols=True)

    def parallel(self, tasks: list[tuple[int, Callable, tuple]], bar) -> None:
        """(units of progress, function, arguments) in the pool; re-raises Unreachable."""
        units = {self.pool.submit(fn, *args): n for n, fn, args in tasks}
        pending = set(units)
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_EXCEPTION)
            for future in done:
                future.result()
            bar.update(sum(units[f] for f in done))

    def lanes(self, lanes: list[list[Step]], ids: dict, bar) -> None:
        """Each lane's steps in order; lanes in parallel."""
        def lane(steps):
            for s in steps:
                self.step(s, ids)
        self.parallel([(len(steps), lane, (steps,)) for steps in lanes if steps], bar)

    def months(self, plan, label: Callable[[int], str], months=range(1, 13)) -> dict:
        """A plan's year (`plan.month(m)` -> steps), month by month: phases 0 and 1 as parallel
        lanes (each lane in order), then phase 2 step by step; returns the ids the steps made."""
        ids: dict[str, str] = {}
        for month in months:
            steps = plan.month(month)
            with self.bar(label(month), len(steps)) as bar:
                for phase in (0, 1):
                    lanes: dict[str, list[Step]] = {}
                    for s in steps:
                        if s.phase == phase:
                            lanes.setdefault(s.lane, []).append(s)
                    self.lanes(list(lanes.values()), ids, bar)
                for s in steps:
                    if s.phase == 2:
                        self.step(s, ids)
                        bar.update(1)
        return ids


def command_summary(tally: Tally) -> dict:
    """What every scenario's summary says of its commands: accepted per method, the bad
    commands with what they got, the unexpected outcomes, and whether anything went wrong."""
    accepted = {method: c["ok"] for method, c in tally.counts.items() if c["ok"]}
    return {"accepted": accepted, "commands": sum(accepted.values()),
            "bad_commands": [{"label": label, "expected": expected, "got": got}
                             for label, expected, got in tally.refusals],
            "unexpected": list(tally.problems), "already_done": tally.total("already done"),
            "problems": not tally.ok}


@dataclass
class Outcome:
    """What a scenario's `run()` did: its summary (command_summary and what it planned);
    `ok` is False if a planned command was refused, a bad one was not refused as expected, a
    step was skipped or the service faulted."""
    summary: dict
    tally: Tally | None = None

    @property
    def ok(self) -> bool:
        return not self.summary["problems"]

    @property
    def unexpected(self) -> list[str]:
        return self.summary["unexpected"]

    @property
    def refused(self) -> dict:
        """The bad commands refused as expected, by error type."""
        return dict(Counter(b["got"] for b in self.summary["bad_commands"] if b["got"] == b["expected"]))


# --- the summary table -------------------------------------------------------------------------

def table(headers: list, rows: list[list], out=sys.stdout) -> None:
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(headers))]

    def line(row):
        return "  ".join(c + " " * (w - _width(c)) if i == 0 else " " * (w - _width(c)) + c
                         for i, (c, w) in enumerate(zip(row, widths)))
    print(line(cells[0]), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in cells[1:]:
        print(line(row), file=out)


def _width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


# --- the report ----------------------------------------------------------------------------------

def fetch_report(url: str, year: int, ready: Callable[[dict], bool] = lambda r: True,
                 wait_seconds: float = 60, out=sys.stdout) -> dict | None:
    """The reporting service's /report (one key per domain), once `ready(report)` (the read
    model has caught up) or the time is up; None if the service is not reachable."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            with urllib.request.urlopen(f"{url.rstrip('/')}/report?year={year}", timeout=10) as response:
                report = json.loads(response.read().decode("utf-8"))
        except (urllib.error.URLError, OSError, ValueError) as error:
            print(f"\nreporting service not reachable at {url}/report ({error}): is `make run` running?",
                  file=out)
            return None
        if ready(report):
            return report
        if time.monotonic() > deadline:
            print(f"(the read model has not caught up after {wait_seconds:.0f} s; showing it as it is)",
                  file=out)
            return report
        time.sleep(2)


def district_metrics(section: dict | None) -> dict:
    try:
        return section["district"]["metrics"] or {}
    except (KeyError, TypeError):
        return {}


def print_targets(title: str, section: dict | None, planned: dict | None = None, out=sys.stdout) -> None:
    """A section's district metrics that have a target: value, target, met (and planned)."""
    planned = planned or {}
    rows = []
    for name, m in sorted(district_metrics(section).items()):
        if not isinstance(m, dict) or m.get("target") is None:
            continue
        value = m.get("value")
        shown = "-" if value is None else (f"{value:.2%}" if m.get("unit") == "ratio" else f"{value:g}"
                                           if isinstance(value, float) else str(value))
        target = m["target"]
        rows.append([name, shown, f"{m.get('op') or '>='} "
                     + (f"{target:.1%}" if m.get("unit") == "ratio" else f"{target:g}"),
                     {True: "met", False: "NOT met", None: "-"}[m.get("met")], planned.get(name, "")])
    print("", file=out)
    if not rows:
        print(f"{title}: no targets in the report section", file=out)
        return
    table([title, "value", "target", "", "planned"], rows, out)
