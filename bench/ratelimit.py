"""What the rate limiter costs per request.

Starts a private PostgreSQL (fsync on, as in production) and measures, in one run:

1. the rate-limit upsert on its own, through docgraph's pool: sequential
   latency against ``select 1`` (the cheapest round trip), and throughput with
   concurrent clients on one hot key and on distinct keys;
2. through HTTP with wrk, against one ``docgraph serve`` process: ``/healthz``
   (not limited, no SQL) against an authenticated request that only the
   limiter sends SQL for (an unknown path: key from the cache, one upsert,
   404). The difference of their per-request times is what the limiter adds.

Medians of several rounds; the machine is shared, so compare figures of one
run, not across runs. Usage: ``.venv/bin/python -m bench.ratelimit [--rounds N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from docgraph.db import rate_limits, workspaces  # noqa: E402
from docgraph.db.database import Database  # noqa: E402
from docgraph.db.migrate import migrate  # noqa: E402
from docgraph.ops.embedded import EmbeddedPostgres, free_port  # noqa: E402
from docgraph.resolvers import auth  # noqa: E402

LIMIT = 1_000_000_000
WINDOW = 3600


async def sequential_us(db: Database, statement, n: int) -> float:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        await statement()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1e6


async def throughput(db: Database, statement_for, workers: int, per_worker: int) -> float:
    async def worker(i: int) -> None:
        statement = statement_for(i)
        for _ in range(per_worker):
            await statement()

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(workers)))
    return workers * per_worker / (time.perf_counter() - started)


async def statement_figures(url: str, rounds: int) -> dict[str, float]:
    db = await Database.connect(url, min_size=10, max_size=10)
    try:
        def select_one():
            return db.fetchval("select 1")

        def hit(bucket: str):
            return lambda: rate_limits.hit(db, bucket, cost=1, limit=LIMIT,
                                           window_seconds=WINDOW)

        hot = "k:" + str(uuid.uuid4())
        figures: dict[str, list[float]] = {k: [] for k in (
            "select_1_us", "hit_us", "select_1_per_s", "hit_hot_key_per_s",
            "hit_distinct_keys_per_s")}
        for _ in range(rounds):
            figures["select_1_us"].append(await sequential_us(db, select_one, 2000))
            figures["hit_us"].append(await sequential_us(db, hit(hot), 2000))
            figures["select_1_per_s"].append(
                await throughput(db, lambda i: select_one, 32, 300))
            figures["hit_hot_key_per_s"].append(
                await throughput(db, lambda i: hit(hot), 32, 300))
            figures["hit_distinct_keys_per_s"].append(
                await throughput(db, lambda i: hit(f"k:{uuid.uuid4()}"), 32, 300))
        return {k: round(statistics.median(v), 1) for k, v in figures.items()}
    finally:
        await db.close()


def wrk(url: str, seconds: int, headers: dict[str, str]) -> tuple[float, float]:
    """Requests per second and median latency (ms) of one wrk run."""
    args = ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps_match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    if rps_match is None or p50 is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    rps = float(rps_match.group(1))
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p50.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if url.endswith("/healthz") and non2xx:
        raise RuntimeError(f"/healthz failed during the benchmark:\n{out}")
    return rps, float(p50.group(1)) * scale


def http_figures(url: str, key: str, rounds: int, seconds: int, tmp: Path) -> dict[str, float]:
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DOCGRAPH_")},
           "DOCGRAPH_DATABASE_URL": url, "DOCGRAPH_PORT": str(port),
           "DOCGRAPH_DATA_DIR": str(tmp / "data"), "DOCGRAPH_ACCESS_LOG": "false",
           "DOCGRAPH_STORAGE_SIGNING_SECRET": secrets.token_urlsafe(32),
           "DOCGRAPH_SWEEP_INTERVAL_SECONDS": "0",
           "DOCGRAPH_LOG_LEVEL": "warning", "DOCGRAPH_RATE_LIMIT": str(LIMIT),
           "DOCGRAPH_RATE_LIMIT_WINDOW_SECONDS": str(WINDOW)}
    server = subprocess.Popen([sys.executable, "-m", "docgraph", "serve"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        limited = httpx.get(base + "/v1/bench-nothing",
                            headers={"Authorization": f"Bearer {key}"})
        assert limited.status_code == 404 and "x-ratelimit-limit" in limited.headers
        auth_header = {"Authorization": f"Bearer {key}"}
        wrk(base + "/healthz", 2, {})  # warm up
        wrk(base + "/v1/bench-nothing", 2, auth_header)
        plain, counted = [], []
        for _ in range(rounds):
            plain.append(wrk(base + "/healthz", seconds, {}))
            counted.append(wrk(base + "/v1/bench-nothing", seconds, auth_header))
    finally:
        server.terminate()
        server.wait(timeout=30)
    plain_rps = statistics.median(r for r, _ in plain)
    counted_rps = statistics.median(r for r, _ in counted)
    return {
        "healthz_per_s": round(plain_rps, 1),
        "healthz_p50_ms": round(statistics.median(p for _, p in plain), 2),
        "limited_per_s": round(counted_rps, 1),
        "limited_p50_ms": round(statistics.median(p for _, p in counted), 2),
        "limited_to_healthz_ratio": round(counted_rps / plain_rps, 3),
        "added_ms_per_request_at_saturation": round((1 / counted_rps - 1 / plain_rps) * 1000, 3),
    }


async def prepare(cluster: EmbeddedPostgres) -> tuple[str, str]:
    admin = await asyncpg.connect(cluster.url("postgres"))
    try:
        await admin.execute("create database bench")
    finally:
        await admin.close()
    url = cluster.url("bench")
    await migrate(url)
    db = await Database.connect(url, min_size=1, max_size=2)
    try:
        workspace = await workspaces.create_workspace(db, "bench")
        key, _ = await auth.create_key(db, workspace["id"], auth.SCOPES)
    finally:
        await db.close()
    return url, key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run")
    parser.add_argument("--no-http", action="store_true", help="skip the wrk part")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="docgraph-bench-"))
    os.chmod(tmp, 0o755)  # noqa: S103 - the postgres user must reach it when run as root
    cluster = EmbeddedPostgres(tmp / "pgdata")
    cluster.start()
    try:
        url, key = asyncio.run(prepare(cluster))
        result = {"statement": asyncio.run(statement_figures(url, args.rounds))}
        if not args.no_http and shutil.which("wrk"):
            result["http"] = http_figures(url, key, args.rounds, args.seconds, tmp)
    finally:
        cluster.destroy()
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result, indent=2))
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "ratelimit.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
