"""`make bench`: seed, serve as production does, load with wrk, print a table.

    python -m bench.run [--scale N] [--duration S] [--warmup S] [--scenario NAME ...]
                        [--long REQUESTS] [--webhook]

``--webhook``: scenario 4 (createDocument + linkDocument) is measured twice in
one run, without any webhook endpoint and with one endpoint registered (every
event type) to a local receiver that answers 204 (``bench.receiver``): the
cost of the deliveries, as requests/s, latency, SQL statements and CPU per
request (the background work of the instance's workers included), and whether
the deliveries kept up.

The dataset is seeded once per scale under DOCGRAPH_DATA_DIR/bench-xN and
reused by later runs. Results are printed and written as JSON under
bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import fcntl
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench import deep, harness, lua, profile, search, webhook
from bench.scenarios import (
    LINK_BODY,
    REQUEST_UPLOAD_URL_MUTATION,
    SCENARIOS,
    UPLOADED_BYTES,
    Scenario,
)
from bench.seed import seed
from docgraph.db.database import Database
from docgraph.db.migrate import migrate
from docgraph.ops.embedded import EmbeddedPostgres, free_port

RESULTS_DIR = Path(__file__).with_name("results")
CONNECTIONS = 64
# Statements are counted at the top level: those docgraph sends, not those PostgreSQL
# runs inside them (the foreign-key checks of an insert).
PG_OPTIONS = ["-c shared_preload_libraries=pg_stat_statements",
              "-c pg_stat_statements.track=top", "-c shared_buffers=256MB",
              "-c max_connections=300"]
STATEMENT_CALLS = """
select coalesce(sum(calls), 0)::bigint from pg_stat_statements
where dbid = (select oid from pg_database where datname = current_database())
"""


@dataclasses.dataclass
class Reading:
    scenario: str
    title: str
    rps: float
    p50_ms: float
    p99_ms: float
    statements_per_request: float
    cpu_ms_per_request: float
    peak_rss_mb: float
    requests: int
    failures: int
    socket_errors: int
    # Of the workers' CPU, the share spent in the kernel (sockets, mostly), and the
    # CPU of every PostgreSQL process per request.
    kernel_share: float = 0.0
    pg_cpu_ms_per_request: float | None = None
    floor_rps: float | None = None
    all_rps: list[float] | None = None  # every repetition's, when --repeat > 1

    @property
    def ratio(self) -> float | None:
        return self.rps / self.floor_rps if self.floor_rps else None


# Locks on the datasets this process uses (by directory), held until it exits.
_held_locks: dict[Path, int] = {}


def bench_dir(scale: int, variant: str = "") -> Path:
    """The dataset's directory, locked for this process.

    Another benchmark on the same dataset would take its cluster over (and stop
    it) and skew both measurements: it is refused instead.
    """
    base = Path(os.environ.get("DOCGRAPH_DATA_DIR", ".docgraph")).resolve()
    directory = base / f"bench-x{scale}{variant and '-' + variant}"
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o755)  # noqa: S103 - the postgres user must reach pgdata as root
    if directory in _held_locks:  # this process holds it already (a second pass)
        return directory
    lock = os.open(directory / "bench.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock)
        raise SystemExit(f"another benchmark is using {directory}; run one at a time") from None
    _held_locks[directory] = lock
    return directory


async def prepare(cluster: EmbeddedPostgres, directory: Path, scale: int,
                  variant: str = "") -> dict[str, Any]:
    """Migrate and seed once; later runs read the dataset's ids from disk.

    ``variant`` ``deep``: the same dataset and one more contact, linked to
    100,000 of its documents (``bench.deep``).
    """
    meta_file = directory / "dataset.json"
    url = cluster.url("postgres")
    await migrate(url)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("create extension if not exists pg_stat_statements")
    finally:
        await conn.close()
    if meta_file.exists():
        meta: dict[str, Any] = json.loads(meta_file.read_text())
        if "texts" not in meta:  # seeded before search existed
            meta |= await add_texts(url, directory, meta)
            meta_file.write_text(json.dumps(meta, indent=2))
        return meta
    print(f"seeding scale {scale} ...", file=sys.stderr, flush=True)
    started = time.monotonic()
    db = await Database.connect(url, statement_timeout_ms=0)
    try:
        dataset = await seed(db, scale=scale)
    finally:
        await db.close()
    (directory / "contacts.txt").write_text("\n".join(map(str, dataset.contact_ids)) + "\n")
    (directory / "businesses.txt").write_text("\n".join(map(str, dataset.business_ids)) + "\n")
    meta = {"workspace_id": str(dataset.workspace_id), "key": dataset.key, "scale": scale,
            "documents": dataset.documents, "links": dataset.links,
            "contacts": len(dataset.contact_ids), "businesses": len(dataset.business_ids),
            "seconds": round(time.monotonic() - started, 1)}
    if variant == "deep":
        meta |= await deep.add_deep_contact(url, directory, dataset.workspace_id)
    meta |= await deep.shallow_contacts(url, directory, dataset.workspace_id)
    meta |= await add_texts(url, directory, meta)
    meta_file.write_text(json.dumps(meta, indent=2))
    print(f"seeded in {meta['seconds']} s", file=sys.stderr)
    return meta


async def add_texts(url: str, directory: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """The search scenario's data: every document's extracted text, and the queries."""
    print("seeding extracted texts ...", file=sys.stderr, flush=True)
    started = time.monotonic()
    db = await Database.connect(url, statement_timeout_ms=0)
    try:
        count = await search.seed_texts(db, uuid.UUID(meta["workspace_id"]))
    finally:
        await db.close()
    search.write_queries(directory / "search-queries.txt", count)
    seconds = round(time.monotonic() - started, 1)
    print(f"texts seeded in {seconds} s", file=sys.stderr)
    return {"texts": count, "texts_seconds": seconds}


async def statement_calls(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(STATEMENT_CALLS))
    finally:
        await conn.close()


async def run_floor(scenario: Scenario, url: str, workspace_id: str, ids: list[str],
                    seconds: float) -> float:
    """Requests/s of the scenario's bare SQL, CONNECTIONS at a time."""
    assert scenario.floor is not None
    # Without JIT, as docgraph's own pool (db.database): the floor runs the same plans.
    pool = await asyncpg.create_pool(url, min_size=20, max_size=20,
                                     server_settings={"jit": "off", **scenario.floor_settings})
    ws = uuid.UUID(workspace_id)
    done = 0
    deadline = time.monotonic() + seconds
    rng = random.Random(7)

    async def worker() -> None:
        nonlocal done
        while time.monotonic() < deadline:
            async with pool.acquire() as conn:
                await scenario.floor(conn, ws, ids[rng.randrange(len(ids))])  # type: ignore[misc]
            done += 1

    started = time.monotonic()
    try:
        await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
    finally:
        await pool.close()
    return done / (time.monotonic() - started)


async def preupload(base_url: str, key: str, count: int) -> list[str]:
    """Scenario 4's files: ``count`` uploads through the API (URL, then PUT)."""
    paths: list[str] = []
    headers = {"Authorization": f"Bearer {key}"}
    body = {"query": REQUEST_UPLOAD_URL_MUTATION, "variables": {"input": {
        "fileName": "bench.pdf", "mimeType": "application/pdf",
        "sizeBytes": len(UPLOADED_BYTES)}}}
    remaining = iter(range(count))

    async def worker(client: httpx.AsyncClient) -> None:
        for _ in remaining:
            r = await client.post("/graphql", json=body, headers=headers)
            ticket = r.json()["data"]["requestUploadUrl"]
            put = await client.request(ticket["method"], ticket["uploadUrl"],
                                       content=UPLOADED_BYTES,
                                       headers={h["name"]: h["value"]
                                                for h in ticket["headers"]})
            put.raise_for_status()
            paths.append(ticket["storagePath"])

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(32)))
    return paths


def check_response(server: harness.Server, scenario: Scenario, key: str, some_id: str) -> None:
    """One request by hand: the scenario must succeed before it is measured."""
    if scenario.kind == "create_and_link":
        return  # its requests need uploads; the Lua script counts its failures
    body = scenario.body.replace("__ID__", some_id) if scenario.body else None
    headers = {**scenario.headers, "Authorization": f"Bearer {key}"}
    headers = {k: v.replace("__N__", uuid.uuid4().hex) for k, v in headers.items()}
    r = httpx.request(scenario.method, server.url + scenario.path.replace("__ID__", some_id),
                      content=body.replace("__N__", uuid.uuid4().hex) if body else None,
                      headers=headers, timeout=30)
    if r.status_code >= 300 or (scenario.path == "/graphql" and r.json().get("errors")):
        raise RuntimeError(f"{scenario.name}: {r.status_code} {r.text[:500]}")


def measure(server: harness.Server, scenario: Scenario, meta: dict[str, Any],
            directory: Path, db_url: str, *, warmup: int, duration: int,
            py_spy: bool = False) -> Reading:
    ids_file = directory / f"{scenario.ids}.txt"
    ids = ids_file.read_text().splitlines()
    check_response(server, scenario, meta["key"], ids[0])
    headers = {**scenario.headers, "Authorization": f"Bearer {meta['key']}"}
    with tempfile.TemporaryDirectory() as tmp:
        if scenario.kind == "create_and_link":
            # Enough files for creates at up to 1,500 requests/s (half of them creates).
            # Each path is recorded once: the warm-up and the measured run get their own.
            scripts = []
            for phase, seconds in (("warmup", warmup), ("measured", duration)):
                count = 750 * seconds
                print(f"  uploading {count:,} files for the {phase} run ...",
                      file=sys.stderr, flush=True)
                paths_file = Path(tmp) / f"{phase}-paths.txt"
                paths_file.write_text(
                    "\n".join(asyncio.run(preupload(server.url, meta["key"], count))) + "\n")
                scripts.append(lua.create_and_link_script(
                    Path(tmp) / f"{scenario.name}-{phase}.lua", ids_file=ids_file,
                    paths_file=paths_file, create_body=scenario.body or "",
                    link_body=LINK_BODY, headers=headers, threads=2))
            warmup_script, script = scripts
        else:
            script = lua.random_id_script(
                Path(tmp) / f"{scenario.name}.lua", ids_file=ids_file,
                method=scenario.method, url_path=scenario.path, headers=headers,
                body=scenario.body)
            warmup_script = script
        if warmup:
            harness.run_wrk(server.url, warmup_script, seconds=warmup, connections=CONNECTIONS)
        workers = server.worker_pids()
        calls_before = asyncio.run(statement_calls(db_url))
        postgres = harness.postgres_pids(directory / "pgdata")
        cpu_before = harness.cpu_times(workers)
        pg_cpu_before = harness.cpu_seconds(postgres)
        recording = profile.Recording.start(workers, RESULTS_DIR / "profiles", scenario.name,
                                            duration) if py_spy else None
        result = harness.run_wrk(server.url, script, seconds=duration, connections=CONNECTIONS)
        cpu_after = harness.cpu_times(workers)
        pg_cpu = harness.cpu_seconds(postgres) - pg_cpu_before
        if recording is not None:
            print(recording.finish().report(), file=sys.stderr, flush=True)
        calls_after = asyncio.run(statement_calls(db_url))
    # The two statement_calls readings themselves add one statement each.
    statements = max(0, calls_after - calls_before - 1)
    requests = max(1, result.requests)
    user, system = (after - before for after, before in zip(cpu_after, cpu_before, strict=True))
    return Reading(
        scenario=scenario.name, title=scenario.title, rps=result.rps, p50_ms=result.p50_ms,
        p99_ms=result.p99_ms, statements_per_request=statements / requests,
        cpu_ms_per_request=(user + system) * 1000 / requests,
        kernel_share=system / (user + system) if user + system else 0.0,
        pg_cpu_ms_per_request=pg_cpu * 1000 / requests,
        peak_rss_mb=max(harness.peak_rss_mb(p) for p in workers),
        requests=result.requests, failures=result.failures + result.paths_reused,
        socket_errors=result.errors)


def long_run(server: harness.Server, meta: dict[str, Any], directory: Path,
             total_requests: int) -> dict[str, Any]:
    """Scenario 1 until ``total_requests``: RSS per worker at the half and at the end."""
    scenario = SCENARIOS[0]
    ids_file = directory / f"{scenario.ids}.txt"
    samples: list[dict[str, Any]] = []
    done = 0
    with tempfile.TemporaryDirectory() as tmp:
        script = lua.random_id_script(
            Path(tmp) / "long.lua", ids_file=ids_file, method=scenario.method,
            url_path=scenario.path,
            headers={**scenario.headers, "Authorization": f"Bearer {meta['key']}"},
            body=scenario.body)
        while done < total_requests:
            result = harness.run_wrk(server.url, script, seconds=30, connections=CONNECTIONS)
            done += result.requests
            samples.append({"requests": done, "rss_mb": [
                round(harness.current_rss_mb(p), 1) for p in server.worker_pids()],
                "peak_rss_mb": [round(harness.peak_rss_mb(p), 1)
                                for p in server.worker_pids()]})
            print(f"  long run: {done:,} requests, RSS {samples[-1]['rss_mb']} MB",
                  file=sys.stderr, flush=True)
    half = next(s for s in samples if s["requests"] >= done / 2)
    return {"requests": done, "samples": samples,
            "rss_at_half_mb": half["rss_mb"], "rss_at_end_mb": samples[-1]["rss_mb"],
            "peak_rss_mb": samples[-1]["peak_rss_mb"]}


def print_table(readings: list[Reading]) -> None:
    header = (f"{'scenario':<48} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'SQL/req':>7} "
              f"{'CPU ms/req':>10} {'kernel':>6} {'PG ms/req':>9} {'RSS MB':>7} "
              f"{'floor req/s':>11} {'ratio':>6}")
    print(header)
    print("-" * len(header))
    for r in readings:
        floor = f"{r.floor_rps:>11.0f}" if r.floor_rps else f"{'-':>11}"
        ratio = f"{r.ratio:>6.2f}" if r.ratio else f"{'-':>6}"
        pg = f"{r.pg_cpu_ms_per_request:.3f}" if r.pg_cpu_ms_per_request is not None else "-"
        print(f"{r.title:<48} {r.rps:>8.0f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f} "
              f"{r.statements_per_request:>7.2f} {r.cpu_ms_per_request:>10.3f} "
              f"{r.kernel_share:>6.0%} {pg:>9} {r.peak_rss_mb:>7.1f} {floor} {ratio}")
        if r.failures or r.socket_errors:
            print(f"  !! {r.failures} failed responses, {r.socket_errors} socket errors")


SERVER_ENV = {
    "DOCGRAPH_DB_POOL_MAX": "40",
    # PostgreSQL shares these two cores: past a few requests in progress per
    # worker, more only add busy backends competing with the workers for CPU,
    # and the order requests finish in (the tail latency) goes to chance.
    "DOCGRAPH_MAX_ACTIVE_REQUESTS": "3",
    "DOCGRAPH_SWEEP_INTERVAL_SECONDS": "0",
    "DOCGRAPH_KEY_CACHE_SECONDS": "30",
    # wrk and the uploads all come from 127.0.0.1
    "DOCGRAPH_ADDRESS_RATE_LIMIT": str(10**9),
    "DOCGRAPH_STORAGE_SIGNING_SECRET": "b" * 40,
    # Text extraction is background work whose cost is the files' (scenario 4's are
    # 40-byte placeholders): left out, so that it never runs into a later scenario's
    # window. The search scenario's texts are seeded as extracted.
    "DOCGRAPH_TEXT_JOBS": "0",
    # --webhook's receiver is on 127.0.0.1 (no endpoint is registered otherwise).
    "DOCGRAPH_WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true",
}


@dataclasses.dataclass
class Served:
    """A dataset's cluster and docgraph serving it, for the length of a ``served`` block."""

    scale: int
    directory: Path
    meta: dict[str, Any]
    db_url: str
    server: harness.Server | None


@contextlib.contextmanager
def served(scale: int, args: argparse.Namespace, variant: str = "") -> Iterator[Served]:
    """Seed (once) and serve the dataset of ``scale`` (and ``variant``); stop both when
    done."""
    directory = bench_dir(scale, variant)
    cluster = EmbeddedPostgres(directory / "pgdata", ephemeral=True)
    cluster.start(options=PG_OPTIONS)
    target = None
    try:
        meta = asyncio.run(prepare(cluster, directory, scale, variant))
        db_url = cluster.url("postgres")
        target = Served(scale, directory, meta, db_url, harness.Server(
            db_url, free_port(), workers=args.workers, data_dir=directory / "data",
            extra_env=SERVER_ENV))
        yield target
    finally:
        if target is not None and target.server is not None:
            target.server.stop()
        cluster.stop()


def measure_once(target: Served, scenario: Scenario, args: argparse.Namespace,
                 attempt: int) -> Reading:
    print(f"measuring {scenario.name} (x{target.scale}, {attempt + 1}/{args.repeat}) ...",
          file=sys.stderr, flush=True)
    assert target.server is not None
    return measure(target.server, scenario, target.meta, target.directory, target.db_url,
                   warmup=args.warmup, duration=args.duration, py_spy=args.py_spy)


def median_run(runs: list[Reading]) -> Reading:
    """This machine is shared and noisy: the run of median throughput stands for all."""
    runs = sorted(runs, key=lambda r: r.rps)
    median = runs[len(runs) // 2]
    median.all_rps = [round(r.rps, 1) for r in runs]
    return median


def add_floors(target: Served, pairs: list[tuple[Scenario, Reading]],
               args: argparse.Namespace) -> None:
    """The scenarios' floors, with docgraph stopped (it would share the machine)."""
    if target.server is not None:
        target.server.stop()
        target.server = None
    if args.no_floor:
        return
    for scenario, reading in pairs:
        if scenario.floor is not None:
            ids = (target.directory / f"{scenario.ids}.txt").read_text().splitlines()
            reading.floor_rps = asyncio.run(run_floor(
                scenario, target.db_url, target.meta["workspace_id"], ids, args.duration))


def run_scale(scale: int, chosen: list[Scenario], args: argparse.Namespace,
              *, long_requests: int = 0) -> tuple[dict[str, Any], list[Reading], Any]:
    """Measure ``chosen`` (each ``repeat`` times) and their floors on the dataset of ``scale``."""
    with served(scale, args) as target:
        readings = [median_run([measure_once(target, scenario, args, attempt)
                                for attempt in range(args.repeat)]) for scenario in chosen]
        assert target.server is not None
        long_result = long_run(target.server, target.meta, target.directory, long_requests) \
            if long_requests else None
        add_floors(target, list(zip(chosen, readings, strict=True)), args)
        return target.meta, readings, long_result


def run_webhook(args: argparse.Namespace) -> tuple[dict[str, Any], list[Reading],
                                                    dict[str, Any]]:
    """Scenario 4 without an endpoint and with one, in turns (each ``repeat`` times)."""
    scenario = next(s for s in SCENARIOS if s.name == webhook.SCENARIO)
    with served(args.scale, args) as target, webhook.receiving() as receiver_url:
        plain: list[Reading] = []
        hooked: list[Reading] = []
        drains: list[dict[str, Any]] = []
        for attempt in range(args.repeat):
            plain.append(measure_once(target, scenario, args, attempt))
            endpoint = asyncio.run(webhook.register(target.db_url, target.meta["workspace_id"],
                                                    receiver_url))
            try:
                reading = measure_once(target, scenario, args, attempt)
                reading.title = webhook.TITLE
                hooked.append(reading)
                drains.append(asyncio.run(webhook.drain(target.db_url, endpoint)))
            finally:
                asyncio.run(webhook.unregister(target.db_url, target.meta["workspace_id"],
                                               endpoint))
        first, second = median_run(plain), median_run(hooked)
        add_floors(target, [], args)
        return target.meta, [first, second], {"deliveries": drains,
                                              "rps_change": second.rps / first.rps - 1,
                                              "p99_change": second.p99_ms / first.p99_ms - 1}


# Measured on the base and on the grown dataset by --growth: scenario 1, and search.
GROWTH_SCENARIOS = ("graphql_contact_documents", "graphql_search")


def run_growth(args: argparse.Namespace) -> tuple[dict[str, Any], list[tuple[Reading, Reading]]]:
    """Scenario 1 and the search scenario on the base dataset and on the grown one,
    served side by side: for each, the base reading and the grown one.

    The two are measured in turns (base, grown, base, grown, ...), so a swing
    in this shared machine's speed falls on both alike rather than on whichever
    happened to run later.
    """
    chosen = [s for s in SCENARIOS if s.name in GROWTH_SCENARIOS]
    with served(args.scale, args) as base, served(args.growth, args) as grown:
        pairs = []
        for scenario in chosen:
            runs: dict[int, list[Reading]] = {args.scale: [], args.growth: []}
            for attempt in range(args.repeat):
                for target in (base, grown):
                    runs[target.scale].append(measure_once(target, scenario, args, attempt))
            pairs.append((median_run(runs[args.scale]), median_run(runs[args.growth])))
        add_floors(base, [(s, first) for s, (first, _) in zip(chosen, pairs, strict=True)],
                   args)
        add_floors(grown, [(s, second) for s, (_, second) in zip(chosen, pairs, strict=True)],
                   args)
        return grown.meta, pairs


def describe(meta: dict[str, Any], args: argparse.Namespace) -> str:
    return (f"dataset: {meta['documents']:,} documents, {meta['links']:,} links, "
            f"{meta['contacts']:,} contacts, {meta['businesses']:,} businesses; "
            f"{args.workers} workers, {CONNECTIONS} connections, {args.duration} s each")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--duration", type=int, default=15, help="measured seconds per scenario")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--scenario", action="append", default=None,
                        choices=[s.name for s in SCENARIOS])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1,
                        help="measure each scenario this many times and report the median run")
    parser.add_argument("--long", type=int, default=0, metavar="REQUESTS",
                        help="afterwards, run scenario 1 for this many requests, watching RSS")
    parser.add_argument("--growth", type=int, default=0, metavar="SCALE",
                        help="afterwards, scenario 1 and search on this run's dataset and on "
                             "the dataset "
                             "of this scale (10: 2,000,000 documents), served side by side "
                             "and measured in turns, and the latency change between them")
    parser.add_argument("--webhook", action="store_true",
                        help="instead: scenario 4 without a webhook endpoint and with one "
                             "(to a local receiver answering 204), in one run")
    parser.add_argument("--no-floor", action="store_true")
    parser.add_argument("--py-spy", action="store_true",
                        help="sample the workers with py-spy during each measured run and "
                             "print where their CPU goes (bench.profile)")
    parser.add_argument("--deep", action="store_true",
                        help="instead: pages of a contact with 100,000 documents, and of "
                             "30-document contacts with and without such a neighbour "
                             "(bench.deep)")
    args = parser.parse_args(argv)
    if args.deep:
        return deep.main(args)
    if args.webhook:
        meta, readings, hooks = run_webhook(args)
        print()
        print(describe(meta, args))
        print_table(readings)
        for drained in hooks["deliveries"]:
            print(f"webhook: {drained['delivered']:,} deliveries made, "
                  f"{drained['pending_at_end']:,} still pending when the load stopped, "
                  f"all made {drained['drain_seconds']:.1f} s later"
                  + (f"; {drained['failed']:,} FAILED" if drained["failed"] else ""))
        print(f"with one endpoint: req/s {hooks['rps_change']:+.1%}, "
              f"p99 {hooks['p99_change']:+.1%}")
        path = harness.write_results(RESULTS_DIR, f"x{args.scale}-webhook", {
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "dataset": meta | {"key": None}, "workers": args.workers,
            "connections": CONNECTIONS, "duration_s": args.duration,
            "readings": [dataclasses.asdict(r) for r in readings], "webhook": hooks})
        print(f"\nresults: {path}")
        return 0

    chosen = [s for s in SCENARIOS if args.scenario is None or s.name in args.scenario]
    meta, readings, long_result = run_scale(args.scale, chosen, args, long_requests=args.long)
    growth: dict[str, Any] | None = None
    if args.growth:
        grown_meta, pairs = run_growth(args)
        growth = {"grown_dataset": grown_meta | {"key": None}, "scenarios": [
            {"scenario": first.scenario, "base": dataclasses.asdict(first),
             "grown": dataclasses.asdict(grown),
             "p50_change": grown.p50_ms / first.p50_ms - 1,
             "p99_change": grown.p99_ms / first.p99_ms - 1,
             "rps_change": grown.rps / first.rps - 1} for first, grown in pairs]}

    print()
    print(describe(meta, args))
    print_table(readings)
    if long_result:
        print(f"\nlong run: {long_result['requests']:,} requests; RSS per worker at the half "
              f"{long_result['rss_at_half_mb']} MB, at the end {long_result['rss_at_end_mb']} MB,"
              f" peak {long_result['peak_rss_mb']} MB")
    if growth:
        print(f"\n{describe(grown_meta, args)}")
        print_table([grown for _, grown in pairs])
        for change in growth["scenarios"]:
            print(f"{change['scenario']} as data grows x{args.growth // args.scale}: p50 "
                  f"{change['p50_change']:+.0%}, p99 {change['p99_change']:+.0%}, "
                  f"req/s {change['rps_change']:+.0%}")
    payload = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "dataset": meta | {"key": None}, "workers": args.workers,
        "connections": CONNECTIONS, "duration_s": args.duration,
        "readings": [dataclasses.asdict(r) | {"ratio_to_floor": r.ratio} for r in readings],
        "long_run": long_result,
        "growth": growth,
        "median_p99_ms": statistics.median(r.p99_ms for r in readings) if readings else None,
    }
    path = harness.write_results(RESULTS_DIR, f"x{args.scale}", payload)
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
