"""The README's subscription examples, run as written: JavaScript with graphql-ws's own
client (the protocol's reference implementation), Python with ``websockets``.

Each follows the workspace's document events from a known id, sees the events of
changes made through the API, and, when the server restarts under it (uvicorn
closes its WebSockets with 1012), reconnects on its own and resumes after the
last id it printed: every event once, in order, none missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from docgraph.ops.embedded import free_port
from tests.gql import GraphQL
from tests.instances import serving
from tests.npm import npm_ci
from tests.ws import ws_url

ROOT = Path(__file__).resolve().parents[1]
CLIENT_JS = Path(__file__).parent / "graphql_ws_js"
# How long the test waits for a line that must come (a failure, not a measurement).
WAIT = 60.0


def readme_snippet(language: str) -> str:
    """The ``language`` code block of the README's *Subscriptions* section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### Subscriptions\n"):]
    section = section[:section.index("\n## ")]
    match = re.search(rf"```{language}\n(.*?)```", section, re.S)
    assert match, f"no {language} block in the README's Subscriptions section"
    return match.group(1)


class Follower:
    """A running example: the lines it prints, one event each (``<id> <type>``)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def events(self, count: int) -> list[tuple[str, str]]:
        found = []
        assert self.process.stdout is not None
        while len(found) < count:
            line = await asyncio.wait_for(self.process.stdout.readline(), WAIT)
            if not line:
                stderr = await self.process.stderr.read() if self.process.stderr else b""
                raise AssertionError(f"the example ended: {stderr.decode()[-2000:]}")
            event_id, event_type = line.decode().split()
            found.append((event_id, event_type))
        return found


@pytest.fixture(scope="module")
def graphql_ws_dir() -> Path:
    """A folder whose node_modules holds graphql-ws and ws (npm ci once per lockfile)."""
    return npm_ci(CLIENT_JS, "graphql-ws-client", installed="graphql-ws")


@contextlib.asynccontextmanager
async def following(command: list[str], *, cwd: Path,
                    env: dict[str, str]) -> AsyncIterator[Follower]:
    process = await asyncio.create_subprocess_exec(
        *command, cwd=cwd, env={**os.environ, **env}, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        yield Follower(process)
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


LINK = ("mutation($d: ID!, $e: ID!) { linkDocument(documentId: $d, entityType: CONTACT, "
        "entityId: $e) { created } }")
LAST_EVENT = "{ events(first: 1) { nodes { id } } }"


async def exercise(tmp_root: Path, database_url: str, gql: GraphQL, command: list[str], *,
                   cwd: Path, extra_env: dict[str, str] | None = None) -> None:
    """Run the example against a server that restarts halfway; check what it prints."""
    port = free_port()
    contact = await gql.create_entity("CONTACT", name="Followed")
    after = (await gql(LAST_EVENT))["events"]["nodes"][0]["id"]
    env = {"KEY": gql.tenant.key, "AFTER": after, **(extra_env or {})}
    with serving(tmp_root, database_url, port=port) as live:
        env["DOCGRAPH_WS"] = ws_url(live.url)
        async with following(command, cwd=cwd, env=env) as follower:
            first = await gql.create_document(name="first.pdf")
            await gql(LINK, {"d": first["id"], "e": contact})
            before_restart = await follower.events(2)
            assert [t for _, t in before_restart] == ["document.created", "document.linked"]
            assert before_restart[0][0] > after
            # The server goes (its clients get 1012); changes go on through another one.
            live.stop()
            second = await gql.create_document(name="second.pdf")
            await gql(LINK, {"d": second["id"], "e": contact})
            with serving(tmp_root, database_url, port=port):
                await gql("mutation($id: ID!) { verifyDocument(id: $id) { id } }",
                          {"id": second["id"]})
                after_restart = await follower.events(3)
    assert [t for _, t in after_restart] == [
        "document.created", "document.linked", "document.verified"]
    ids = [i for i, _ in before_restart + after_restart]
    assert ids == sorted(ids) and len(set(ids)) == 5


async def test_the_javascript_example_with_graphql_ws(tmp_root, database_url, gql,
                                                      graphql_ws_dir):
    script = graphql_ws_dir / "follow.mjs"
    script.write_text(readme_snippet("js"), encoding="utf-8")
    await exercise(tmp_root, database_url, gql, ["node", str(script)], cwd=graphql_ws_dir)


async def test_the_python_example(tmp_root, database_url, gql, tmp_path):
    # Reconnecting to a server that is restarting: retry soon (websockets waits 3+ s).
    await exercise(tmp_root, database_url, gql,
                   [sys.executable, "-c", readme_snippet("python")], cwd=tmp_path,
                   extra_env={"WEBSOCKETS_BACKOFF_INITIAL_DELAY": "0.1",
                              "WEBSOCKETS_BACKOFF_MIN_DELAY": "0.1"})
