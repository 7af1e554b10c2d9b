"""The platform's processes under the harness: started the way the end-to-end tests start them
(tests/e2e/platform.py: `python -m shared.setup`, then every program of deploy/supervisord.conf
in a process group of its own), so single programs can be stopped and started again."""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import probes
from tests.e2e.platform import Platform

PORTS = {"social_assistance": "SOCIAL_ASSISTANCE_PORT", "relay_social_assistance": "RELAY_SOCIAL_ASSISTANCE_PORT",
         "projection": "PROJECTION_PORT", "reporting": "REPORTING_PORT"}


class BenchPlatform:
    def __init__(self, amqp_uri: str, logs: Path | None = None, replicas: int = 1):
        self.logs = logs or Path(tempfile.mkdtemp(prefix="bench-logs-"))
        self.platform = Platform(amqp_uri, self.logs, replicas=replicas)
        self.platform.env.pop("PSYCOPG_WAIT_FUNC", None)  # as under make run (see environment.py)
        self.amqp_uri = amqp_uri
        self.peaks: dict[str, float] = {}

    # --- lifecycle ---------------------------------------------------------------------------------

    def start_all(self, timeout: float = 120) -> None:
        self.platform.start_all()
        self.wait_ready(list(PORTS), timeout)

    def start(self, name: str) -> None:
        self.platform.start(name)

    def stop(self, name: str) -> None:
        """SIGTERM (a clean stop), after noting the process's peak RSS."""
        self.note_peaks()
        self.platform.kill(name, signal.SIGTERM)

    def stop_all(self) -> None:
        self.note_peaks()
        if hasattr(self.platform, "_stopping"):
            self.platform._stopping = True  # its supervisor thread must not start them again
        for name in list(self.platform.processes):
            try:
                self.platform.kill(name, signal.SIGTERM)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                process = self.platform.processes.pop(name, None)
                if process is not None:
                    process.kill()

    @property
    def restarts(self) -> list[str]:
        """Programs that exited by themselves and were started again (crash or watchdog)."""
        return list(getattr(self.platform, "restarts", []))

    def pid(self, name: str) -> int | None:
        process = self.platform.processes.get(name)
        return None if process is None else process.pid

    def pids(self) -> dict[str, int]:
        return {name: process.pid for name, process in self.platform.processes.items()}

    def metrics_url(self, name: str) -> str:
        return self.platform.url(PORTS[name], "/metrics")

    def wait_ready(self, names: list[str], timeout: float = 120) -> None:
        for name in names:
            probes.wait_for(lambda n=name: self._alive(n) and probes.scrape(self.metrics_url(n)),
                            timeout, 0.2, f"{name} /metrics (logs in {self.logs})")
        if "social_assistance" in names:
            from shared.rpc import cluster
            with cluster(self.amqp_uri, timeout=10) as rpc:
                probes.wait_for(lambda: rpc.social_assistance.standard("beigang", "urban", "2007-01"),
                                timeout, 0.5, "RPC to social_assistance")

    def _alive(self, name: str) -> bool:
        process = self.platform.processes[name]
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}; see {self.logs}/{name}.log")
        return True

    # --- memory ------------------------------------------------------------------------------------

    def note_peaks(self) -> dict[str, float]:
        """Peak RSS (VmHWM) of every running program, kept as the maximum over restarts."""
        for name in self.platform.processes:
            peak = probes.peak_rss_mb(self.pid(name))
            if peak is not None:
                self.peaks[name] = max(self.peaks.get(name, 0.0), peak)
        return dict(self.peaks)

    def rss(self) -> dict[str, float | None]:
        return {name: probes.rss_mb(self.pid(name)) for name in self.platform.processes}

    def cpu_seconds(self, name: str) -> float | None:
        """utime + stime of a program so far."""
        try:
            fields = Path(f"/proc/{self.pid(name)}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, TypeError):
            return None
        import os
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Profiler:
    """py-spy record of one process, as collapsed stacks (optional: --profile)."""

    def __init__(self, pid: int, output: Path, rate: int = 100):
        self.output = output
        local = Path(sys.executable).parent / "py-spy"
        spy = str(local) if local.exists() else shutil.which("py-spy")
        if spy is None:
            raise SystemExit("bench: --profile needs py-spy (pip install py-spy)")
        self.process = subprocess.Popen([spy, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw",
                                         "--output", str(output), "--nonblocking"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.3)

    def stop(self) -> Path | None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        return self.output if self.output.exists() else None
