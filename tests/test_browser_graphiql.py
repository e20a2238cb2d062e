"""GraphiQL in a real browser with every network but docgraph's blocked."""

from __future__ import annotations

import asyncio
import json

from playwright.async_api import Route

from .browser import ConsoleLog, browser  # noqa: F401 - the fixture

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


SUBSCRIPTION = "subscription LiveEvents { events { id type data } }"


async def test_graphiql_runs_a_subscription_over_websocket(browser, server, tenant,  # noqa: F811
                                                           gql):
    hub = server.app.state.services.events
    context = await browser.new_context()
    page = await context.new_page()
    log = ConsoleLog(page)
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    try:
        await page.goto(f"{server.url}/graphql")
        await page.wait_for_selector(".graphiql-query-editor .CodeMirror", timeout=30_000)
        await page.locator('button[data-name="headers"]').click()
        headers_editor = page.locator(".graphiql-editor-tool .CodeMirror:visible")
        await headers_editor.click()
        await page.keyboard.press("Control+A")
        await page.keyboard.press("Delete")
        await page.keyboard.insert_text(json.dumps({"Authorization": f"Bearer {tenant.key}"}))
        log.errors.clear()  # the schema fetch before the key was set got its 401
        await page.locator(".graphiql-query-editor .CodeMirror").click()
        await page.keyboard.press("Control+A")
        await page.keyboard.press("Delete")
        await page.keyboard.insert_text(SUBSCRIPTION)
        await page.wait_for_function(
            "() => (localStorage.getItem('graphiql:tabState') || '').includes('LiveEvents')",
            timeout=15_000)
        before = hub.active
        await page.locator(".graphiql-execute-button").click()
        # Subscribed once the server holds one more subscription (its start is then fixed).
        for _ in range(3000):
            if hub.active > before:
                break
            await asyncio.sleep(0.01)
        assert hub.active > before, log.messages
        created = await gql.create_entity("CONTACT", name="Seen live in GraphiQL")
        result = page.locator(".graphiql-response .CodeMirror")
        await result.locator("text=Seen live in GraphiQL").wait_for(timeout=15_000)
        shown = await result.inner_text()
        assert '"entity.created"' in shown and created in shown
        assert "errors" not in shown
    finally:
        await context.close()
    assert sockets == [server.url.replace("http", "ws") + "/graphql"], sockets
    assert log.errors == [], log.errors
