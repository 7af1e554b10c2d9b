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
        (SELECT coalesce(max(notification_id), 0) FROM social_assistance.stored_events) AS head,
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
