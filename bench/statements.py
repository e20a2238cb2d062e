"""PostgreSQL's CPU for one statement, alone: scenario 1's page, or variants of it.

    python -m bench.statements [--sql FILE ...] [--contacts N] [--rounds R] [--any-page]

Runs the page statement docgraph sends for scenario 1 (``CONTACT_PAGE_JSON``),
and each ``--sql`` file (the same parameters: workspace, contact id, offset,
rows to read, page size), for N contacts of the benchmark's dataset on one
connection, in R interleaved rounds, and prints the backend's CPU per
execution (utime + stime from ``/proc``, so the server is on this machine):
the minimum and the median of the rounds. Every statement's page must be the
same JSON as the first's, or the run stops; with ``--any-page`` it may differ,
to price a part of the statement (a variant without it, say). Steadier than a
wrk run for a change to the SQL alone; ``make bench`` and the anchor remain the
measure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
from pathlib import Path

import asyncpg

from bench.run import PG_OPTIONS, bench_dir, prepare
from bench.scenarios import CONTACT_PAGE_JSON
from docgraph.ops.embedded import EmbeddedPostgres

PAGE_SIZE = 25


def _backend_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks


async def measure(url: str, workspace_id: str, statements: dict[str, str], contacts: int,
                  rounds: int, *, same_page: bool = True) -> dict[str, list[float]]:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("set jit = off")
        ids = [r["id"] for r in await conn.fetch(
            "select id from entities where workspace_id = $1 and entity_type = 'contact' "
            "order by id limit $2", workspace_id, contacts)]
        prepared = {name: await conn.prepare(sql) for name, sql in statements.items()}
        arguments = (0, PAGE_SIZE + 1, PAGE_SIZE)
        pages = {name: [json.loads(r["list_0"]) for r in await statement.fetch(
                     workspace_id, ids[0], *arguments)]
                 for name, statement in prepared.items()}
        reference = next(iter(pages.values()))
        for name, page in pages.items():
            if same_page and page != reference:
                raise SystemExit(f"{name} writes another page than the first statement")
        pid = await conn.fetchval("select pg_backend_pid()")
        spent: dict[str, list[float]] = {name: [] for name in statements}
        for _ in range(rounds):
            for name, statement in prepared.items():
                before = _backend_cpu_seconds(pid)
                for entity_id in ids:
                    await statement.fetch(workspace_id, entity_id, *arguments)
                spent[name].append((_backend_cpu_seconds(pid) - before) * 1000 / len(ids))
        return spent
    finally:
        await conn.close()


async def run(args: argparse.Namespace, statements: dict[str, str]) -> None:
    directory = bench_dir(1)
    cluster = EmbeddedPostgres(directory / "pgdata", ephemeral=True)
    cluster.start(options=PG_OPTIONS)
    try:
        meta = await prepare(cluster, directory, 1)
        spent = await measure(cluster.url("postgres"), meta["workspace_id"], statements,
                              args.contacts, args.rounds, same_page=not args.any_page)
    finally:
        cluster.stop()
    print(f"PostgreSQL CPU ms per execution, {args.contacts} contacts x {args.rounds} rounds:")
    for name, values in spent.items():
        print(f"  min {min(values):.3f}  median {statistics.median(values):.3f}  {name}")
    print(json.dumps({name: [round(v, 3) for v in values] for name, values in spent.items()}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.statements",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--sql", action="append", default=[], metavar="FILE")
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--any-page", action="store_true",
                        help="measure variants that write another page too")
    args = parser.parse_args(argv)
    statements = {"docgraph's page (CONTACT_PAGE_JSON)": CONTACT_PAGE_JSON}
    statements |= {path: Path(path).read_text() for path in args.sql}
    asyncio.run(run(args, statements))
    return 0


if __name__ == "__main__":
    sys.exit(main())
