"""GraphiQL in a real browser: offline, and the first five minutes.

Under ``docgraph serve`` a person types the key into the headers; under
``docgraph dev`` (``make run``) the development key is there already, so the
first query runs as the page opens with it, and no key is ever on a
``docgraph serve`` page.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from playwright.async_api import Response, Route

from docgraph.ops.embedded import free_port

from .browser import ConsoleLog, browser  # noqa: F401 - the fixture
from .instances import Instance, fresh_database

QUERY = "query FiveDocuments { documents(first: 5) { totalCount nodes { id name } } }"


async def test_graphiql_runs_a_typed_query_offline(browser, server, tenant, gql):  # noqa: F811
    await gql.create_entity("CONTACT", name="Offline Ada")
    context = await browser.new_context()
    page = await context.new_page()
    log = ConsoleLog(page)
    elsewhere: list[str] = []

    async def only_docgraph(route: Route) -> None:
        if route.request.url.startswith(server.url + "/") or route.request.url == server.url:
            await route.continue_()
        else:
            elsewhere.append(route.request.url)
            await route.abort("internetdisconnected")

    await context.route("**/*", only_docgraph)
    try:
        await page.goto(f"{server.url}/graphql")
        await page.wait_for_selector(".graphiql-query-editor .CodeMirror", timeout=30_000)

        # The headers, as a person does it: open the Headers tab and type the key.
        await page.locator('button[data-name="headers"]').click()
        headers_editor = page.locator(".graphiql-editor-tool .CodeMirror:visible")
        await headers_editor.click()
        await page.keyboard.press("Control+A")
        await page.keyboard.press("Delete")
        await page.keyboard.insert_text(json.dumps({"Authorization": f"Bearer {tenant.key}"}))

        # Before the key was set, GraphiQL's schema fetch got a 401: that is expected.
        log.errors.clear()
        query_editor = page.locator(".graphiql-query-editor .CodeMirror")
        await query_editor.click()
        await page.keyboard.press("Control+A")
        await page.keyboard.press("Delete")
        await page.keyboard.insert_text(QUERY)
        # GraphiQL takes in an edit after a short debounce; it is done once its saved
        # tab state holds the new operation.
        await page.wait_for_function(
            "() => (localStorage.getItem('graphiql:tabState') || '').includes('FiveDocuments')",
            timeout=15_000)
        async with page.expect_response(lambda r: r.url == f"{server.url}/graphql"
                                        and r.request.method == "POST") as response_info:
            await page.locator(".graphiql-execute-button").click()
        response = await response_info.value
        assert response.status == 200, (await response.text(), response.request.post_data)
        result = page.locator(".graphiql-response .CodeMirror")
        await result.locator("text=totalCount").wait_for(timeout=15_000)
        shown = await result.inner_text()
        assert '"documents"' in shown and '"totalCount"' in shown
        assert "errors" not in shown
        body = await response.json()
        assert body["data"]["documents"]["totalCount"] >= 0
    finally:
        await context.close()
    assert elsewhere == [], f"GraphiQL tried the network beyond docgraph: {elsewhere}"
    assert log.errors == [], log.errors


@contextlib.contextmanager
def docgraph_dev(database_url: str, data_dir: Path) -> Iterator[str]:
    """``docgraph dev`` (what ``make run`` runs) as a process of its own, on a free port."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCGRAPH_")}
    env.update({"DOCGRAPH_DATABASE_URL": database_url, "DOCGRAPH_DATA_DIR": str(data_dir),
                "DOCGRAPH_PORT": str(port), "DOCGRAPH_SWEEP_INTERVAL_SECONDS": "0"})
    data_dir.mkdir(parents=True, exist_ok=True)
    log = (data_dir / "dev.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "docgraph", "dev"], env=env, stdout=log,
                            stderr=log, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (data_dir / "dev.log").read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, (data_dir / "dev.log").read_text()
            time.sleep(0.05)
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        log.close()


async def test_graphiql_under_dev_runs_its_first_query_with_no_typing(
        browser, cluster, tmp_path):  # noqa: F811
    database_url = await fresh_database(cluster, "first_five_minutes")
    data_dir = tmp_path / "dev-data"
    with docgraph_dev(database_url, data_dir) as url:
        # What a newcomer does after `make run`: upload a file with the command line
        # (it finds make run's key by itself), then open GraphiQL.
        sample = tmp_path / "first-five-minutes.pdf"
        sample.write_bytes(b"%PDF-1.4 hello")
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCGRAPH_")}
        done = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "docgraph", "upload", "--url", url,
                             str(sample)],
            capture_output=True, text=True, timeout=60,
            env={**env, "DOCGRAPH_DATA_DIR": str(data_dir)})
        assert done.returncode == 0, done.stderr
        key = (data_dir / "dev-api-key").read_text().strip()

        context = await browser.new_context()
        page = await context.new_page()
        log = ConsoleLog(page)
        answers: list[tuple[int, str]] = []

        async def record(response: Response) -> None:
            if response.url == f"{url}/graphql" and response.request.method == "POST":
                answers.append((response.status, await response.text()))

        page.on("response", record)
        try:
            await page.goto(f"{url}/graphql")
            await page.wait_for_selector(".graphiql-query-editor .CodeMirror", timeout=30_000)
            # The schema came with the first request: the Docs pane has the Query type.
            await page.locator('button[aria-label="Show Documentation Explorer"]').click()
            await page.locator(".graphiql-doc-explorer >> text=Query").first.wait_for(
                timeout=15_000)
            # No typing: the example query, the key already in the headers. Run it.
            headers_text = await page.evaluate(
                "() => JSON.parse(localStorage.getItem('graphiql:tabState')).tabs[0].headers")
            assert json.loads(headers_text) == {"Authorization": f"Bearer {key}"}
            async with page.expect_response(
                    lambda r: r.url == f"{url}/graphql" and r.request.method == "POST"
                    and "RecentDocuments" in (r.request.post_data or "")) as response_info:
                await page.locator(".graphiql-execute-button").click()
            response = await response_info.value
            assert response.status == 200
            result = page.locator(".graphiql-response .CodeMirror")
            await result.locator("text=first-five-minutes.pdf").wait_for(timeout=15_000)
            body = await response.json()
            assert [n["name"] for n in body["data"]["documents"]["nodes"]] == [
                "first-five-minutes.pdf"]
        finally:
            await context.close()
    # Nothing failed on the way: not the schema's request, not the query.
    assert log.errors == [], log.errors
    assert answers and all(status == 200 and '"errors"' not in text
                           for status, text in answers), answers


async def test_graphiql_under_serve_holds_no_key(browser, cluster, tmp_path):  # noqa: F811
    database_url = await fresh_database(cluster, "serve_no_key")
    with docgraph_dev(database_url, tmp_path / "dev-data"):
        pass  # a development key now exists in this database
    key = (tmp_path / "dev-data" / "dev-api-key").read_text().strip()
    instance = Instance(database_url, tmp_path).start()
    try:
        context = await browser.new_context()
        page = await context.new_page()
        try:
            await page.goto(f"{instance.url}/graphql")
            await page.wait_for_selector(".graphiql-query-editor .CodeMirror", timeout=30_000)
            html = await page.content()
            storage = await page.evaluate("() => JSON.stringify(localStorage)")
            await page.locator('button[data-name="headers"]').click()
            shown = await page.locator(".graphiql-editor-tool .CodeMirror:visible").inner_text()
        finally:
            await context.close()
    finally:
        instance.stop()
    assert key not in html and key not in storage
    assert re.findall(r"wbk_[A-Za-z0-9_-]{43}", html + storage) == []
    assert "wbk_your_api_key_here" in shown
