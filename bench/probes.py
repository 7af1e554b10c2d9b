"""Reading the running processes: RSS from /proc, Prometheus text, tracking positions."""
from __future__ import annotations

import time
import urllib.request


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in kB; {} when it is gone."""
    found = {}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    found[key] = int(value.split()[0])
    except (FileNotFoundError, ProcessLookupError):
        return {}
    return found


def rss_mb(pid: int) -> float | None:
    kb = proc_status(pid).get("VmRSS")
    return None if kb is None else kb / 1024


def peak_rss_mb(pid: int) -> float | None:
    kb = proc_status(pid).get("VmHWM")
    return None if kb is None else kb / 1024


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text format -> {'name{labels}': value} and {'name': sum over labels}."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        try:
            key, number = line.rsplit(" ", 1)
            value = float(number)
        except ValueError:
            continue
        values[key] = value
        name = key.split("{", 1)[0]
        if "{" in key:
            values[name] = values.get(name, 0.0) + value
    return values


def scrape(url: str, timeout: float = 5.0) -> dict[str, float]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return parse_metrics(response.read().decode())


class Positions:
    """Stored head, relay position and projection position, read straight from PostgreSQL
    (each is one indexed row; cheap enough to poll every few milliseconds)."""

    QUERY = """SELECT
        (SELECT coalesce(max(notification_id), 0) FROM social_assistance.social_assistance_events) AS head,
        (SELECT notification_id FROM social_assistance.relay_tracking
          WHERE application_name = 'social_assistance.relay') AS relay,
        (SELECT notification_id FROM read_model.notification_tracking
          WHERE application_name = 'social_assistance') AS projection"""

    def __init__(self, conninfo: str):
        import psycopg
        self.conn = psycopg.connect(conninfo, autocommit=True)
        self.conn.execute("SET statement_timeout = '5s'")

    def read(self) -> dict[str, int]:
        head, relay, projection = self.conn.execute(self.QUERY).fetchone()
        return {"head": head or 0, "relay": relay or 0, "projection": projection or 0}

    def read_fast(self) -> tuple[int, int]:
        """(relay, projection) only: two primary-key lookups."""
        row = self.conn.execute(
            "SELECT (SELECT notification_id FROM social_assistance.relay_tracking "
            "WHERE application_name = 'social_assistance.relay'), "
            "(SELECT notification_id FROM read_model.notification_tracking "
            "WHERE application_name = 'social_assistance')").fetchone()
        return row[0] or 0, row[1] or 0

    def close(self) -> None:
        self.conn.close()


def checkpoints(conninfo: str) -> int:
    """PostgreSQL checkpoints so far (timed + requested), server-wide."""
    import psycopg
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            return sum(conn.execute("SELECT checkpoints_timed, checkpoints_req FROM pg_stat_bgwriter").fetchone())
    except psycopg.Error:
        return 0


def wait_for(condition, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as error:  # not up yet
            last = error
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what} (last error: {last})")


# --- CPU accounting ---------------------------------------------------------------------------------

def _ticks() -> float:
    import os
    return float(os.sysconf("SC_CLK_TCK"))


def process_cpu(pid: int) -> float | None:
    """utime + stime of a process, in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (int(fields[11]) + int(fields[12])) / _ticks()


def _server_processes(dbname: str | None) -> dict[int, str]:
    """{pid: group} of RabbitMQ (beam.smp) and of PostgreSQL: the server's own processes
    (checkpointer, WAL writer, ...) and the backends of `dbname`; other databases' backends
    (other engineers' tests) are left to "other processes"."""
    import os
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as comm:
                name = comm.read().strip()
            if name.startswith("beam"):
                found[int(entry)] = "rabbitmq"
            elif name.startswith("postgres"):
                with open(f"/proc/{entry}/cmdline") as cmdline:
                    title = cmdline.read()
                # backend titles read 'postgres: 15/main: <user> <database> <client> <state>'
                parts = title.split()
                if len(parts) >= 4 and parts[0] == "postgres:" and "(" in title:
                    if dbname is not None and parts[3] == dbname:
                        found[int(entry)] = "postgresql"
                else:
                    found[int(entry)] = "postgresql"
        except OSError:
            continue
    return found


def _machine() -> tuple[float, float, float]:
    """(busy, total, steal) CPU seconds of the whole machine, all cores; steal is time the
    hypervisor gave to other virtual machines on the host (not in busy)."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    steal = values[7] if len(values) > 7 else 0
    total = sum(values[:8])
    return (total - idle - steal) / _ticks(), total / _ticks(), steal / _ticks()


class CpuAccount:
    """Where the machine's CPU went between start() and stop(): each named process, the bench
    process itself, RabbitMQ, PostgreSQL (every backend, other users' included) and the rest."""

    def __init__(self, pids: dict[str, int], dbname: str | None = None):
        import os
        self.pids = pids
        self.dbname = dbname or os.environ.get("POSTGRES_DBNAME")

    def _snapshot(self) -> dict:
        import os
        per_pid = {pid: (name, process_cpu(pid)) for name, pid in self.pids.items()}
        per_pid.update({pid: (group, process_cpu(pid)) for pid, group in _server_processes(self.dbname).items()})
        times = os.times()
        return {"pids": per_pid, "bench": times.user + times.system, "machine": _machine()}

    def start(self) -> "CpuAccount":
        self.before = self._snapshot()
        return self

    def stop(self) -> dict:
        import os
        after = self._snapshot()
        used = {name: 0.0 for name in self.pids}
        used.update({"bench (load generator)": after["bench"] - self.before["bench"],
                     "rabbitmq": 0.0, "postgresql": 0.0})
        for pid, (group, cpu) in after["pids"].items():
            if cpu is None:
                continue
            before = self.before["pids"].get(pid, (group, 0.0))[1] or 0.0
            used[group] = used.get(group, 0.0) + cpu - before   # a new backend counts whole
        busy = after["machine"][0] - self.before["machine"][0]
        total = after["machine"][1] - self.before["machine"][1]
        steal = after["machine"][2] - self.before["machine"][2]
        named = sum(used.values())
        used["other processes"] = max(0.0, busy - named)
        cores = os.cpu_count() or 1
        return {"wall_seconds": total / cores, "machine_busy_fraction": busy / total if total else None,
                "steal_fraction": steal / total if total else None,
                "cpu_seconds": {k: round(v, 3) for k, v in used.items()}}


def cpu_line(account: dict, count: int | None = None, unit: str = "command") -> str:
    """'machine 97% busy; ms CPU per command: social_assistance 10.3, ...' (or seconds)."""
    parts = sorted(account["cpu_seconds"].items(), key=lambda kv: -kv[1])
    if count:
        body = ", ".join(f"{k} {1000 * v / count:.2f}" for k, v in parts if v > 0.005)
        head = f"ms CPU per {unit}"
    else:
        body = ", ".join(f"{k} {v:.1f}" for k, v in parts if v > 0.005)
        head = "CPU seconds"
    steal = account.get("steal_fraction") or 0
    return (f"machine {account['machine_busy_fraction']:.0%} busy" + (f" ({steal:.0%} stolen by the host)" if steal >= 0.01 else "")
            + f"; {head}: {body}")
