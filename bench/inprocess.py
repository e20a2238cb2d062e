"""The app's own CPU per request, without HTTP: a quick loop for profiling.

    python -m bench.inprocess [--scenario NAME] [--requests N] [--concurrency C]
                              [--profile tottime|cumulative]

Serves scenario requests straight to the ASGI application (no uvicorn, no
wrk, no sockets but the database's), CONCURRENCY at a time, on the
benchmark's dataset (seeded by `make bench` under DOCGRAPH_DATA_DIR/bench-x1),
and prints the process CPU milliseconds per request. Steadier than a wrk run
on a shared machine, so small changes show; `make bench` remains the measure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import pstats
import random
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvloop

from bench.run import PG_OPTIONS, SERVER_ENV, bench_dir, prepare
from bench.scenarios import SCENARIOS, Scenario
from docgraph.app import create_app
from docgraph.config import Settings
from docgraph.ops.embedded import EmbeddedPostgres

WARMUP_REQUESTS = 300


class Driver:
    """Sends a scenario's requests to the app through ASGI, as uvicorn would."""

    def __init__(self, app: Any, scenario: Scenario, key: str, ids: list[str]) -> None:
        self.app = app
        self.scenario = scenario
        self.ids = ids
        self.rng = random.Random(1)
        self.headers = [(b"authorization", f"Bearer {key}".encode())] + [
            (name.lower().encode(), value.encode()) for name, value in scenario.headers.items()]

    async def request(self) -> None:
        some_id = self.ids[self.rng.randrange(len(self.ids))]
        body = (self.scenario.body or "").replace("__ID__", some_id).encode()
        path, _, query = self.scenario.path.replace("__ID__", some_id).partition("?")
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": self.scenario.method, "scheme": "http", "path": path,
                 "raw_path": path.encode(), "query_string": query.encode(),
                 "headers": [*self.headers, (b"content-length", str(len(body)).encode())],
                 "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
                 "state": {}, "app": self.app}
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:  # the app only asks again to watch for a disconnect
                await asyncio.Event().wait()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        messages: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            messages.append(message)

        await self.app(scope, receive, send)
        status = messages[0]["status"]
        if status != 200 or b'"errors":' in messages[1]["body"]:
            raise RuntimeError(f"{status}: {messages[1]['body'][:300]!r}")

    async def run(self, requests: int, concurrency: int) -> None:
        remaining = iter(range(requests))

        async def worker() -> None:
            for _ in remaining:
                await self.request()

        await asyncio.gather(*(worker() for _ in range(concurrency)))


async def measure(cluster: EmbeddedPostgres, directory: Path, scenario: Scenario,
                  args: argparse.Namespace) -> None:
    meta = await prepare(cluster, directory, 1)
    url = cluster.url("postgres")
    settings = Settings.from_env({**SERVER_ENV, "DOCGRAPH_ACCESS_LOG": "false",
                                  "DOCGRAPH_DATA_DIR": str(directory / "data")},
                                 database_url=url)
    app = create_app(settings, url)
    async with running(app):
        ids = (directory / f"{scenario.ids}.txt").read_text().splitlines()  # a query a line
        driver = Driver(app, scenario, meta["key"], ids)
        await driver.run(WARMUP_REQUESTS, args.concurrency)
        profile = cProfile.Profile() if args.profile else None
        if profile:
            profile.enable()
        cpu, wall = time.process_time(), time.perf_counter()
        await driver.run(args.requests, args.concurrency)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        if profile:
            profile.disable()
            pstats.Stats(profile).sort_stats(args.profile).print_stats(40)
    print(f"{scenario.name}: {cpu * 1000 / args.requests:.3f} CPU ms/request "
          f"({args.requests / wall:.0f} requests/s, {args.concurrency} at a time, one process"
          f"{', profiled' if profile else ''})")


@contextlib.asynccontextmanager
async def running(app: Any) -> AsyncIterator[None]:
    """The app's lifespan (pool, background jobs) around the measurement."""
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    started = asyncio.Event()
    answers: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return await events.get()

    async def send(message: dict[str, Any]) -> None:
        answers.append(message)
        started.set()

    await events.put({"type": "lifespan.startup"})
    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"},
                                    "state": {}}, receive, send))
    await started.wait()
    if answers[0]["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"the app did not start: {answers[0]}")
    try:
        yield
    finally:
        await events.put({"type": "lifespan.shutdown"})
        await task


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.inprocess",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=SCENARIOS[0].name,
                        choices=[s.name for s in SCENARIOS if s.kind == "random"])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--profile", choices=["tottime", "cumulative"])
    args = parser.parse_args(argv)
    scenario = next(s for s in SCENARIOS if s.name == args.scenario)
    directory = bench_dir(1)
    cluster = EmbeddedPostgres(directory / "pgdata", ephemeral=True)
    cluster.start(options=PG_OPTIONS)
    try:
        uvloop.run(measure(cluster, directory, scenario, args))
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
