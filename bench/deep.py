"""`make bench BENCH_ARGS=--deep`: a deep entity, and what it does to its neighbours.

Two datasets, served side by side: the benchmark's own (scale 1), and the same
with one more contact linked to 100,000 of the workspace's documents (the
company that owns thousands of invoices). Measured in turns, each with wrk
(64 connections: throughput and latency under load) and one request at a time
(the time a page takes on its own):

* ``shallow``: pages of the contacts that have exactly 30 documents, on the
  dataset without the deep contact;
* ``shallow, deep neighbour``: the same pages, on the dataset with it;
* ``deep, first page``: the deep contact's first page;
* ``deep, page 2,001``: its page after the 50,000th document, through a cursor;
* ``deep, first page + totalCount``: the first page, counting all 100,000.

Every page is scenario 1's query (25 documents with every link of each)
without ``totalCount``, but the last.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import random
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.scenarios import CONTACT_DOCUMENTS_QUERY, Scenario, graphql_body

DEEP_LINKS = 100_000
SHALLOW_DOCUMENTS = 30
DEEP_CURSOR_POSITION = 50_000
SERIAL_REQUESTS = 200

# Scenario 1's query, after a cursor and without its total.
PAGE_QUERY = (CONTACT_DOCUMENTS_QUERY
              .replace("query ContactDocuments($id: ID!)", "query Page($id: ID!, $after: String)")
              .replace("documents(first: 25) {\n      totalCount",
                       "documents(first: 25, after: $after) {"))
assert "totalCount" not in PAGE_QUERY and "$after" in PAGE_QUERY
PAGE_WITH_TOTAL_QUERY = PAGE_QUERY.replace("documents(first: 25, after: $after) {",
                                           "documents(first: 25, after: $after) {\n"
                                           "      totalCount")


async def add_deep_contact(url: str, directory: Path, workspace_id: Any) -> dict[str, Any]:
    """One more contact, linked to 100,000 of the workspace's documents; ``deep.txt``
    holds its id, and the dataset's metadata the cursor after its 50,000th document."""
    rng = random.Random(7)
    contact = uuid.UUID(int=rng.getrandbits(128), version=4)
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute(
                "insert into entities (workspace_id, id, entity_type, name) "
                "values ($1, $2, 'contact', 'Deep')", workspace_id, contact)
            # The links name only the columns every version has: the database gives
            # them the rest.
            await conn.execute(
                "insert into links (workspace_id, id, document_id, entity_type, entity_id, "
                "                   role, created_at) "
                "select $1, gen_random_uuid(), d.id, 'contact', $2, 'invoice', "
                "       d.created_at + interval '5 minutes' "
                "from documents d where d.workspace_id = $1 "
                "order by md5(d.id::text) limit $3", workspace_id, contact, DEEP_LINKS)
        row = await conn.fetchrow(
            "select d.created_at, d.id from links l join documents d "
            "on d.workspace_id = l.workspace_id and d.id = l.document_id "
            "where l.workspace_id = $1 and l.entity_type = 'contact' and l.entity_id = $2 "
            "order by d.created_at desc, d.id desc offset $3 limit 1",
            workspace_id, contact, DEEP_CURSOR_POSITION - 1)
        await conn.execute("vacuum (freeze, analyze) links")
    finally:
        await conn.close()
    (directory / "deep.txt").write_text(f"{contact}\n")
    # The cursor GraphQL gives the 50,000th document (newest document first).
    raw = f"v1|{row['created_at'].isoformat()}|{row['id']}"
    cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    return {"deep_contact": str(contact), "deep_links": DEEP_LINKS, "deep_cursor": cursor}


async def shallow_contacts(url: str, directory: Path, workspace_id: Any) -> dict[str, Any]:
    """``shallow.txt``: the contacts with exactly 30 documents."""
    conn = await asyncpg.connect(url)
    try:
        ids = await conn.fetch(
            "select entity_id from links where workspace_id = $1 and entity_type = 'contact' "
            "group by entity_id having count(*) = $2 order by entity_id",
            workspace_id, SHALLOW_DOCUMENTS)
    finally:
        await conn.close()
    (directory / "shallow.txt").write_text("".join(f"{r['entity_id']}\n" for r in ids))
    return {"shallow_contacts": len(ids)}


def _scenario(name: str, title: str, ids: str, query: str,
              after: str | None = None) -> Scenario:
    variables: dict[str, Any] = {"id": "__ID__"}
    if after is not None:
        variables["after"] = after
    return Scenario(name=name, title=title, method="POST", path="/graphql", ids=ids,
                    body=graphql_body(query, variables),
                    headers={"Content-Type": "application/json"})


def serial_ms(url: str, scenario: Scenario, key: str, ids: list[str]) -> float:
    """The median time of one request at a time (the page on its own)."""
    headers = {**scenario.headers, "Authorization": f"Bearer {key}"}
    assert scenario.body is not None
    times = []
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        for i in range(SERIAL_REQUESTS + 20):
            body = scenario.body.replace("__ID__", ids[i % len(ids)])
            started = time.perf_counter()
            r = client.post(scenario.path, content=body)
            elapsed = time.perf_counter() - started
            if r.status_code != 200 or b'"errors"' in r.content:
                raise RuntimeError(f"{scenario.name}: {r.status_code} {r.text[:300]}")
            if i >= 20:  # the first ones warm up
                times.append(elapsed * 1000)
    return statistics.median(times)


@dataclasses.dataclass
class DeepReading:
    title: str
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float
    statements_per_request: float
    serial_ms: float


def main(args: argparse.Namespace) -> int:
    from bench import harness
    from bench.run import RESULTS_DIR, measure, served

    readings: dict[str, list[DeepReading]] = {}
    with served(args.scale, args) as base, served(args.scale, args, "deep") as deep:
        if not (base.directory / "shallow.txt").exists():  # seeded before this existed
            asyncio.run(shallow_contacts(base.db_url, base.directory,
                                         base.meta["workspace_id"]))
        runs = [
            (base, _scenario("shallow", "30-document contacts", "shallow", PAGE_QUERY)),
            (deep, _scenario("shallow_deep_neighbour",
                             "30-document contacts, deep neighbour", "shallow", PAGE_QUERY)),
            (deep, _scenario("deep_first", "deep contact, first page", "deep", PAGE_QUERY)),
            (deep, _scenario("deep_cursor", "deep contact, page 2,001 (cursor)", "deep",
                             PAGE_QUERY, after=deep.meta["deep_cursor"])),
            (deep, _scenario("deep_total", "deep contact, first page + totalCount", "deep",
                             PAGE_WITH_TOTAL_QUERY)),
        ]
        for attempt in range(args.repeat):
            for target, scenario in runs:
                print(f"measuring {scenario.name} ({attempt + 1}/{args.repeat}) ...",
                      flush=True)
                assert target.server is not None
                reading = measure(target.server, scenario, target.meta, target.directory,
                                  target.db_url, warmup=args.warmup, duration=args.duration)
                ids = (target.directory / f"{scenario.ids}.txt").read_text().splitlines()
                readings.setdefault(scenario.name, []).append(DeepReading(
                    scenario.title, reading.rps, reading.p50_ms, reading.p99_ms,
                    reading.cpu_ms_per_request, reading.statements_per_request,
                    serial_ms(target.server.url, scenario, target.meta["key"], ids)))
    medians = {name: sorted(runs_, key=lambda r: r.serial_ms)[len(runs_) // 2]
               for name, runs_ in readings.items()}
    print(f"\n{args.workers} workers, 64 connections, {args.duration} s each; "
          f"serial: median of {SERIAL_REQUESTS} requests one at a time")
    print(f"{'':42} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'CPU ms':>7} "
          f"{'SQL/req':>7} {'serial ms':>9}")
    for median in medians.values():
        print(f"{median.title:42} {median.rps:7.0f} {median.p50_ms:7.1f} "
              f"{median.p99_ms:7.1f} {median.cpu_ms_per_request:7.3f} "
              f"{median.statements_per_request:7.2f} {median.serial_ms:9.2f}")
    shallow = medians["shallow"].serial_ms
    ratios = {name: medians[name].serial_ms / shallow
              for name in ("shallow_deep_neighbour", "deep_first", "deep_cursor", "deep_total")}
    print("serial time against a 30-document contact's: "
          + ", ".join(f"{name} {ratio:.2f}x" for name, ratio in ratios.items()))
    payload = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "workers": args.workers, "duration_s": args.duration,
               "readings": {name: [dataclasses.asdict(r) for r in runs_]
                            for name, runs_ in readings.items()},
               "serial_ratios": ratios}
    path = harness.write_results(RESULTS_DIR, f"x{args.scale}-deep", payload)
    print(f"\nresults: {path}")
    return 0
