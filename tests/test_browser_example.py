"""The example app (examples/index.html) in a real browser, served from another origin.

It lists a contact's documents and uploads a real PNG through
requestUploadUrl -> PUT to the signed URL -> createDocument -> linkDocument,
across origins: every request the page makes is a CORS request. Its
operations go out as automatic persisted queries (hashes alone once docgraph
knows them), and it works against a docgraph that runs trusted documents only.
Its list updates live (a subscription over WebSocket) when the API changes the
contact's documents, and catches up after its connection drops.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
import pytest
from PIL import Image
from playwright.async_api import Page, Request

from docgraph.ops.embedded import free_port
from docgraph.schema import build_schema
from docgraph.schema.persisted import manifest

from .browser import ConsoleLog, browser  # noqa: F401 - the fixture
from .conftest import LiveServer, make_settings, served
from .gql import GraphQL
from .test_search import finished as text_extracted
from .textfiles import pdf_with_text

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


class QuietHandler(SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=str(EXAMPLES), **kwargs)

    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def example_origin() -> Iterator[str]:
    """The example folder on a static server of its own: another origin than docgraph."""
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), QuietHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def cors_server(tmp_root, database_url, example_origin) -> Iterator[LiveServer]:
    settings = make_settings(tmp_root, cors_origins=(example_origin,), text_jobs=1)
    with served(settings, database_url) as live:
        yield live


@pytest.fixture(scope="module")
def trusted_server(tmp_root, database_url, example_origin) -> Iterator[LiveServer]:
    """Only the example's operations run (the manifest `docgraph persisted-documents
    examples/operations.json` prints)."""
    operations = orjson.loads((EXAMPLES / "operations.json").read_bytes())
    path = tmp_root / "example-manifest.json"
    path.write_bytes(orjson.dumps(manifest(operations.values(), build_schema())))
    settings = make_settings(tmp_root, cors_origins=(example_origin,), trusted_documents=path)
    with served(settings, database_url) as live:
        yield live


def graphql_bodies(page: Page) -> list[dict]:
    """The bodies of the page's GraphQL requests, as they are sent (filled in live)."""
    bodies: list[dict] = []

    def sent(request: Request) -> None:
        if request.url.endswith("/graphql") and request.method == "POST":
            bodies.append(orjson.loads(request.post_data or "null"))

    page.on("request", sent)
    return bodies


def png(width: int, height: int) -> bytes:
    image = Image.new("RGB", (width, height), (30, 120, 200))
    for x in range(0, width, 7):
        image.putpixel((x, x * height // width), (250, 250, 0))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def test_upload_a_png_and_see_it_listed_with_its_preview(
        browser, cors_server, example_origin, tenant, gql, tmp_path):  # noqa: F811
    contact = await gql.create_entity("CONTACT", name="Browser Ada")
    picture = tmp_path / "scan.png"
    picture.write_bytes(png(640, 480))

    context = await browser.new_context()
    page = await context.new_page()
    log = ConsoleLog(page)
    bodies = graphql_bodies(page)
    try:
        query = urlencode({"base": cors_server.url, "key": tenant.key, "contact": contact})
        await page.goto(f"{example_origin}/index.html?{query}")
        await page.locator("#status").get_by_text("0 document(s)").wait_for(timeout=15_000)
        # Automatic persisted queries: the hash alone, then (unknown yet) with the text.
        assert [sorted(body) for body in bodies] == [
            ["extensions", "variables"], ["extensions", "query", "variables"]]
        assert bodies[0]["extensions"] == bodies[1]["extensions"]
        assert bodies[0]["extensions"]["persistedQuery"]["version"] == 1

        await page.set_input_files("#file", str(picture))
        await page.click("#upload")
        await page.locator("#status").get_by_text("Uploaded scan.png.").wait_for(
            timeout=30_000)
        assert await page.locator("#progress").get_attribute("value") == "100"

        item = page.locator("ul#documents li", has_text="scan.png")
        await item.wait_for(timeout=10_000)
        assert "image/png" in await item.locator(".meta").inner_text()
        # The preview is made in the background; the page looks again until it shows.
        preview = item.locator("img.preview")
        await preview.wait_for(timeout=30_000)
        await page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=await preview.element_handle(),
            timeout=15_000)
        natural = await preview.evaluate("img => [img.naturalWidth, img.naturalHeight]")
        assert natural == [256, 192]  # 640x480 reduced to 256 px on the long side
        href = await item.locator("a.name").get_attribute("href")
        assert href and href.startswith(cors_server.url + "/storage/")

        # Loaded again, the page sends hashes alone: docgraph knows every one now.
        bodies.clear()
        await page.reload()
        await page.locator("#status").get_by_text("1 document(s)").wait_for(timeout=15_000)
        assert bodies and all(set(body) == {"variables", "extensions"} for body in bodies), bodies
        await page.locator("ul#documents li", has_text="scan.png").wait_for(timeout=10_000)
    finally:
        await context.close()
    cors_trouble = [m for m in log.messages + log.errors if "CORS" in m or "cross-origin" in m]
    assert cors_trouble == []
    assert log.errors == [], log.errors
    documents = await gql(
        "query($id: ID!) { contact(id: $id) { documents { edges { role node { name "
        "sizeBytes image { width height } } } } } }", {"id": contact})
    edges = documents["contact"]["documents"]["edges"]
    assert [(e["role"], e["node"]["name"], e["node"]["image"]) for e in edges] == [
        ("uploaded", "scan.png", {"width": 640, "height": 480})]
    assert edges[0]["node"]["sizeBytes"] == picture.stat().st_size


async def test_the_example_runs_against_trusted_documents_only(
        browser, trusted_server, example_origin, tenant):  # noqa: F811
    context = await browser.new_context()
    page = await context.new_page()
    log = ConsoleLog(page)
    bodies = graphql_bodies(page)
    try:
        query = urlencode({"base": trusted_server.url, "key": tenant.key, "contact": ""})
        await page.goto(f"{example_origin}/index.html?{query}")
        await page.click("#new-contact")
        await page.locator("#status").get_by_text("0 document(s)").wait_for(timeout=15_000)
        assert await page.locator("#contact").input_value()
    finally:
        await context.close()
    assert log.errors == [], log.errors
    # The manifest holds every operation: none is ever sent as text.
    assert [body["extensions"]["persistedQuery"]["version"] for body in bodies] == [1, 1]
    assert all("query" not in body for body in bodies), bodies


async def test_the_list_updates_live_without_reloading(
        browser, cors_server, example_origin, tenant, gql, api):  # noqa: F811
    """Changes made through the API (here: another docgraph instance, REST and GraphQL)
    appear on the open page: it subscribes to the contact's document events."""
    contact = await gql.create_entity("CONTACT", name="Live Ada")
    context = await browser.new_context()
    page = await context.new_page()
    log = ConsoleLog(page)
    loads: list[str] = []
    page.on("load", lambda: loads.append(page.url))
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    try:
        query = urlencode({"base": cors_server.url, "key": tenant.key, "contact": contact})
        await page.goto(f"{example_origin}/index.html?{query}")
        await page.locator("#status").get_by_text("0 document(s)").wait_for(timeout=15_000)
        await page.locator("#live").get_by_text("● live", exact=True).wait_for(timeout=15_000)
        assert await page.locator("#live").inner_text() == "● live"

        # Added: recorded, then linked over REST.
        document = await api.create_document(name="arrived-live.pdf")
        await api.link(document["id"], "contact", contact, role="kyc")
        item = page.locator("ul#documents li", has_text="arrived-live.pdf")
        await item.wait_for(timeout=15_000)
        assert "kyc" in await item.locator(".meta").inner_text()
        # Verified, over GraphQL.
        await gql("mutation($id: ID!) { verifyDocument(id: $id) { id } }",
                  {"id": document["id"]})
        await item.locator(".meta", has_text="VERIFIED").wait_for(timeout=15_000)
        # Deleted, over REST.
        assert (await api.delete(f"/v1/documents/{document['id']}")).status_code in (200, 204)
        await item.wait_for(state="detached", timeout=15_000)
        assert await page.locator("ul#documents li").count() == 0
    finally:
        await context.close()
    assert loads == [f"{example_origin}/index.html?{query}"], loads  # never reloaded
    assert sockets == [cors_server.url.replace("http", "ws") + "/graphql"], sockets
    assert log.errors == [], log.errors


async def test_a_dropped_connection_comes_back_and_catches_up(
        browser, cors_server, example_origin, tenant, gql, api):  # noqa: F811
    """The page's WebSocket is cut (as a network would); changes made meanwhile appear
    once it has reconnected, resuming after the last event it saw."""
    contact = await gql.create_entity("CONTACT", name="Offline Ada")
    context = await browser.new_context()
    page = await context.new_page()
    log = ConsoleLog(page)
    routes: list[Any] = []
    subscribes: list[dict] = []

    def through(route: Any) -> None:  # forward both ways, keeping the page's subscribes
        server = route.connect_to_server()

        def from_page(message: str | bytes) -> None:
            parsed = orjson.loads(message)
            if parsed.get("type") == "subscribe":
                subscribes.append(parsed)
            server.send(message)

        route.on_message(from_page)
        routes.append(route)

    await page.route_web_socket(cors_server.url.replace("http", "ws") + "/graphql", through)
    live = page.locator("#live")
    try:
        query = urlencode({"base": cors_server.url, "key": tenant.key, "contact": contact})
        await page.goto(f"{example_origin}/index.html?{query}")
        await live.get_by_text("● live", exact=True).wait_for(timeout=15_000)
        first = await api.create_document(name="before-the-cut.pdf")
        await api.link(first["id"], "contact", contact)
        await page.locator("ul#documents li", has_text="before-the-cut.pdf").wait_for(
            timeout=15_000)

        await routes[0].close(code=1011, reason="cut")
        await live.get_by_text("reconnecting").wait_for(timeout=15_000)
        second = await api.create_document(name="while-offline.pdf")
        await api.link(second["id"], "contact", contact)
        await page.locator("ul#documents li", has_text="while-offline.pdf").wait_for(
            timeout=30_000)
        await live.get_by_text("● live", exact=True).wait_for(timeout=15_000)
    finally:
        await context.close()
    assert len(routes) == 2 and len(subscribes) == 2
    assert subscribes[0]["payload"]["variables"]["after"] is None
    # Resumed after the last event seen before the cut (the first document's link).
    resumed = subscribes[1]["payload"]["variables"]["after"]
    assert resumed and resumed.startswith("evt_")
    events = (await gql("query($d: ID) { events(filter: {documentId: $d}, first: 1) "
                        "{ nodes { id type } } }", {"d": first["id"]}))["events"]["nodes"]
    assert events == [{"id": resumed, "type": "document.linked"}]
    assert log.errors == [], log.errors


async def test_search_box_finds_a_document_by_the_text_in_its_file(
        browser, cors_server, example_origin, tenant):  # noqa: F811
    # Recorded through cors_server, which runs text extraction jobs.
    async with httpx.AsyncClient(base_url=cors_server.url, timeout=30) as client:
        await search_box_finds_a_document(browser, cors_server, example_origin, tenant,
                                          GraphQL(client, tenant))


async def search_box_finds_a_document(browser, cors_server, example_origin, tenant,  # noqa: F811
                                      gql):
    pdf = pdf_with_text("Minutes of the Armadillidium steering committee.")
    document = await gql.create_document(pdf, name="minutes-0417.pdf",
                                         mimeType="application/pdf")
    await gql.create_document(b"Nothing relevant here.", name="other.txt",
                              mimeType="text/plain")
    await text_extracted(gql, document["id"])

    context = await browser.new_context()
    page = await context.new_page()
    log = ConsoleLog(page)
    try:
        query = urlencode({"base": cors_server.url, "key": tenant.key})
        await page.goto(f"{example_origin}/index.html?{query}")
        await page.fill("#query", "armadillidium committee")
        await page.press("#query", "Enter")
        await page.locator("#status").get_by_text(
            "1 result(s) for armadillidium committee.").wait_for(timeout=15_000)
        item = page.locator("ul#results li")
        assert await item.count() == 1
        assert await item.locator("a.name").inner_text() == "minutes-0417.pdf"
        marks = await item.locator(".snippet mark").all_inner_texts()
        assert marks == ["Armadillidium", "committee"]
        href = await item.locator("a.name").get_attribute("href")
        assert href and href.startswith(cors_server.url + "/storage/")
        # An exclusion leaves it out.
        await page.fill("#query", "armadillidium -steering")
        await page.click("#search-button")
        await page.locator("#status").get_by_text(
            "0 result(s) for armadillidium -steering.").wait_for(timeout=15_000)
        assert await page.locator("ul#results li").count() == 0
    finally:
        await context.close()
    assert log.errors == [], log.errors
