"""The machinery of `make bench`: the cluster, the server, wrk, and the readings.

Readings per scenario, all taken over the same measured window:
requests/s, p50 and p99 latency (wrk --latency), SQL statements per request
(pg_stat_statements calls on the server's database / requests), server CPU
milliseconds per request (utime + stime of the uvicorn workers / requests),
and peak RSS per worker (VmHWM).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

CLK_TCK = os.sysconf("SC_CLK_TCK")
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclasses.dataclass
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    non_2xx: int
    failures: int  # non-2xx, or GraphQL errors in a 200 (counted by the Lua script)
    paths_reused: int = 0


def _latency_ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", value.strip())
    if not match:
        raise ValueError(f"unexpected wrk latency {value!r}")
    return float(match[1]) * _UNITS[match[2]]


def parse_wrk(output: str) -> WrkResult:
    requests = re.search(r"(\d+) requests in ([\d.]+)(s|m)", output)
    if not requests:
        raise RuntimeError(f"wrk printed no totals:\n{output}")
    seconds = float(requests[2]) * (60 if requests[3] == "m" else 1)
    p50 = re.search(r"^\s*50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s*99%\s+(\S+)", output, re.M)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    failures = re.search(r"docgraph-failures: (\d+)", output)
    reused = re.search(r"docgraph-paths-reused: (\d+)", output)
    assert p50 and p99 and rps and failures
    return WrkResult(
        requests=int(requests[1]), seconds=seconds, rps=float(rps[1]),
        p50_ms=_latency_ms(p50[1]), p99_ms=_latency_ms(p99[1]),
        errors=sum(int(g) for g in errors.groups()) if errors else 0,
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        failures=int(failures[1]), paths_reused=int(reused[1]) if reused else 0,
    )


def run_wrk(url: str, script: Path, *, seconds: int, connections: int, threads: int = 2,
            timeout_s: int = 10) -> WrkResult:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", f"--timeout={timeout_s}s",
           "--latency", "-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         timeout=seconds + 60).stdout
    return parse_wrk(out)


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                kids.append(int(entry.name))
    return kids


def cpu_seconds(pids: list[int]) -> float:
    user, system = cpu_times(pids)
    return user + system


def cpu_times(pids: list[int]) -> tuple[float, float]:
    """The processes' CPU seconds so far, in user space and in the kernel (a process
    gone meanwhile counts nothing)."""
    user = system = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        user += int(fields[11])  # utime
        system += int(fields[12])  # stime
    return user / CLK_TCK, system / CLK_TCK


def postgres_pids(pgdata: Path) -> list[int]:
    """The cluster's postmaster and every process it started (backends, writers…)."""
    postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    return [postmaster, *_children(postmaster)]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def current_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Server:
    """`docgraph serve` as production runs it: uvicorn workers, access log off."""

    def __init__(self, database_url: str, port: int, *, workers: int = 2,
                 data_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        self.url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "DOCGRAPH_DATABASE_URL": database_url, "DOCGRAPH_PORT": str(port),
               "DOCGRAPH_WORKERS": str(workers), "DOCGRAPH_ACCESS_LOG": "false",
               "DOCGRAPH_LOG_LEVEL": "warning", "DOCGRAPH_DATA_DIR": str(data_dir),
               **(extra_env or {})}
        self.workers = workers
        self.proc = subprocess.Popen([sys.executable, "-m", "docgraph", "serve"], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stderr.read()}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200 and \
                        len(self.worker_pids()) == self.workers:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("server did not become ready")

    def worker_pids(self) -> list[int]:
        # uvicorn with workers > 1: master → spawned workers (multiprocessing);
        # with 1 worker the server process itself serves.
        if self.workers == 1:
            return [self.proc.pid]
        return [p for p in _children(self.proc.pid)
                if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def write_results(directory: Path, name: str, payload: dict) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path
