"""The seeds' own code examples, run against a live server.

The seed pages, the five third-party API pages docgraph is built from, are not
part of the repository: the workplace keeps them in ``../shared/seeds/``,
beside the clone. When they are there, the snippets are read from them at test
time, never retyped, and run as written: only the base URL, the key and the
ids that are not UUIDs are replaced (seed 003's one curl example needs two
more repairs, see its test); ids that are UUIDs (seed 000's contact, seed
004's business) are kept, and the test's workspace is given entities with
exactly those ids. curl runs in bash, the Python examples with ``exec`` (they
import ``requests``), the JavaScript ones with ``node`` (fetch is built into
Node 20; seed 004's example requires axios, installed by npm from
``tests/seed_js/`` into ``.cache/seed-js/``). They reach the server through a
recorder that notes the request each one makes.

``tests/fixtures/seed_requests.json`` is the project's own account of those
examples: each one's request as data (method, path, query, headers, JSON body)
and the status and key sets the tests expect. Every test runs twice: from the
pages (skipped when they are absent), where each recorded request must equal
its fixture, and from the fixtures, sent with httpx, so a clone anywhere runs
the same checks and the fixtures cannot drift from the pages unnoticed.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import dataclasses
import io
import json
import os
import re
import subprocess
import textwrap
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx
import pytest

from tests.conftest import LiveServer, Tenant
from tests.npm import npm_ci
from tests.rest import (
    BUSINESS_DOCUMENT_FIELDS,
    CONTACT_DOCUMENT_FIELDS,
    DOCUMENT_RECORD_FIELDS,
    LINK_FIELDS,
)

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT.parent / "shared" / "seeds"  # the workplace's copy of the pages, beside the clone
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "seed_requests.json"
SPECS: dict[str, Any] = json.loads(FIXTURES.read_text())["seeds"]
SEED_JS = Path(__file__).resolve().parent / "seed_js"

PAGES, OWN = "pages", "fixtures"  # where a test takes its examples from
pages_only = pytest.mark.skipif(not SEEDS.is_dir(), reason=f"no seed pages at {SEEDS}")

LEADLEX_BASE = "https://data.leadlex.com/functions/v1/api-gateway"
LEADLEX_KEY = "wbk_your_api_key_here"
SEED_CONTACT_ID = "123e4567-e89b-12d3-a456-426614174000"  # seeds 000 and 001
SEED_DOCUMENT_ID = "doc_01HY1"  # seed 001: not a UUID, replaced
SEED_DEAL_ID = "deal_01HY1"  # seed 001: not a UUID, replaced
SEED_STORAGE_PATH = "workspaces/ws_123/documents/new-upload.pdf"  # seed 002: replaced
EXAMPLE_BASE = "https://api.example.com"  # seeds 002 (reference block) and 004
EXAMPLE_TOKEN = "YOUR_ACCESS_TOKEN"  # seed 004
SEED_BUSINESS_ID = "9b397b0d-69bc-b09f-9d82-0e02637042fc"  # seed 004
WIX_BASE = "https://www.wixapis.com"  # seed 003
SEED_003_CONTACT_ID = "513c1bfc-61b6-427d-a7f8-ceeedb1eb763"
# The line each page's example response follows (seed 003's page has none).
EXAMPLE_RESPONSES = {"000": "### Example Response", "001": "### Example Response",
                     "002": "Example Response", "004": "Success Response (200 OK)"}


def seed(number: str) -> str:
    [path] = SEEDS.glob(f"{number}_*.txt")
    return path.read_text()


def code_group(text: str) -> dict[str, str]:
    """Seeds 000 and 001: the fenced blocks of their <CodeGroup>, by title."""
    blocks = re.finditer(r"^( *)```\w+ (\S+) theme=\{null\}\n(.*?)^\1```", text, re.M | re.S)
    return {m.group(2): textwrap.dedent(m.group(3)) for m in blocks}


def example_json(text: str, after: str) -> Any:
    """The first JSON object after the line ``after`` (the seed's example response)."""
    rest = text[text.index(after):]
    start = re.search(r"^\{", rest, re.M)
    assert start, f"no JSON after {after!r}"
    return json.JSONDecoder().raw_decode(rest[start.start():])[0]


def between(text: str, start: str, end: str) -> str:
    """Seeds 002 and 004 are plain text: the lines from ``start`` up to ``end``."""
    match = re.search(f"^({re.escape(start)}.*?)\n{end}", text, re.M | re.S)
    assert match, f"no snippet starting with {start!r}"
    return match.group(1)


def substitute(snippet: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        assert old in snippet, f"{old!r} is not in the snippet"
        snippet = snippet.replace(old, new)
    return snippet


async def run_curl(snippet: str) -> Any:
    done = await asyncio.to_thread(subprocess.run, ["bash", "-c", snippet],
                                   capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _exec(code: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<seed example>", "exec"), {"__name__": "__seed__"})  # noqa: S102 - the seed's own example, against the test server
    return out.getvalue()


async def run_python(snippet: str) -> str:
    return await asyncio.to_thread(_exec, snippet)


async def run_node(snippet: str, *, module: bool, cwd: Path | None = None) -> str:
    command = ["node", "--input-type=module", "-e", snippet] if module else \
        ["node", "-e", snippet]
    done = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True,
                                   timeout=60, cwd=cwd)
    assert done.returncode == 0, done.stderr
    assert not done.stderr, done.stderr
    return done.stdout


def keys_at(value: Any, path: str) -> set[str]:
    """The keys of the object at ``path`` in a JSON value: dotted, a number picks a list item."""
    for step in path.split(".") if path else []:
        value = value[int(step)] if isinstance(value, list) else value[step]
    assert isinstance(value, dict), f"{path!r} is not an object"
    return set(value)


def render(value: Any, values: dict[str, str]) -> Any:
    """A fixture with its placeholders (``{key}``, ``{document_id}``...) filled in."""
    if isinstance(value, str):
        for name, new in values.items():
            value = value.replace(f"{{{name}}}", new)
        assert not re.search(r"\{\w+\}", value), f"a placeholder is left in {value!r}"
        return value
    if isinstance(value, list):
        return [render(item, values) for item in value]
    if isinstance(value, dict):
        return {name: render(item, values) for name, item in value.items()}
    return value


def request_of(example: dict[str, Any]) -> dict[str, Any]:
    """A fixture's request, in the form the recorder notes requests (header names lowered)."""
    return {"method": example["method"], "path": example["path"], "query": example["query"],
            "headers": {name.lower(): value for name, value in example["headers"].items()},
            "body": example["body"]}


def as_described(recorded: dict[str, Any], want: dict[str, Any]) -> dict[str, Any]:
    """A recorded request with the headers a fixture speaks of: those it names, and always
    Authorization and Content-Type (so a key or a body type too many shows)."""
    names = set(want["headers"]) | {"authorization", "content-type"}
    return {**recorded,
            "headers": {k: v for k, v in recorded["headers"].items() if k in names}}


@dataclasses.dataclass
class Exchange:
    request: dict[str, Any]  # as request_of gives it
    status: int
    body: Any


# Not passed on, either way: the recorder sets its own framing.
HOP_HEADERS = {"host", "content-length", "connection", "keep-alive", "transfer-encoding",
               "accept-encoding", "content-encoding"}


class Recorder:
    """A pass-through HTTP server in front of the live server: the pages' examples are
    pointed at it, and it notes each request they make and the answer they got."""

    def __init__(self, target: str) -> None:
        self.client = httpx.Client(base_url=target, timeout=60)
        self.exchanges: list[Exchange] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def forward(self) -> None:
                recorder.forward(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = forward

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def forward(self, handler: BaseHTTPRequestHandler) -> None:
        assert "chunked" not in handler.headers.get("Transfer-Encoding", ""), "chunked body"
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        headers = [(k, v) for k, v in handler.headers.items() if k.lower() not in HOP_HEADERS]
        r = self.client.request(handler.command, handler.path, headers=headers, content=raw)
        target = urlsplit(handler.path)
        query = parse_qsl(target.query, keep_blank_values=True)
        assert len(dict(query)) == len(query), f"a repeated query parameter: {target.query}"
        self.exchanges.append(Exchange(
            request={"method": handler.command, "path": unquote(target.path),
                     "query": dict(query),
                     "headers": {k.lower(): v for k, v in handler.headers.items()},
                     "body": json.loads(raw) if raw else None},
            status=r.status_code, body=r.json() if r.content else None))
        handler.send_response(r.status_code)
        for name, value in r.headers.multi_items():
            if name.lower() not in HOP_HEADERS:
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(r.content)))
        handler.end_headers()
        handler.wfile.write(r.content)

    def take(self) -> list[Exchange]:
        taken, self.exchanges = self.exchanges, []
        return taken

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.client.close()


@dataclasses.dataclass
class Ran:
    """One example's answer; ``output`` is what the page's example printed (None when the
    fixture's request was sent instead)."""

    status: int
    body: Any
    output: Any


class Examples:
    """One seed's examples, from the pages (run as written through the recorder, each
    request checked against its fixture) or from the fixtures (sent with httpx)."""

    def __init__(self, number: str, source: str, client: httpx.AsyncClient,
                 recorder: Recorder, values: dict[str, str]) -> None:
        self.number = number
        self.from_pages = source == PAGES
        self.client = client
        self.recorder = recorder
        self.values = values
        self.spec = SPECS[number]
        self.not_run = set(self.spec["examples"])
        self.base = recorder.url  # what the pages' base URLs become
        self.key = values["key"]

    @property
    def page(self) -> str:
        assert self.from_pages
        return seed(self.number)

    def keys(self, path: str) -> set[str]:
        """A key set of the page's example response, as the fixture records it."""
        return set(self.spec["example_keys"][path])

    async def run(self, name: str, page: Callable[[], Awaitable[Any]]) -> Ran:
        """Example ``name``: ``page`` runs it from the page (and gives what it printed)."""
        self.not_run.remove(name)
        example = render(self.spec["examples"][name], self.values)
        want = request_of(example)
        if self.from_pages:
            output = await page()
            exchanges = self.recorder.take()
            assert len(exchanges) == 1, f"{name} made {len(exchanges)} requests"
            [exchange] = exchanges
            assert as_described(exchange.request, want) == want, \
                f"seed {self.number}'s {name} example no longer makes its fixture's request"
            ran = Ran(exchange.status, exchange.body, output)
        else:
            body = None if want["body"] is None else json.dumps(want["body"]).encode()
            r = await self.client.request(want["method"], want["path"], params=want["query"],
                                          headers=want["headers"], content=body)
            ran = Ran(r.status_code, r.json(), None)
        assert ran.status == example["status"], ran.body
        return ran

    def done(self) -> None:
        assert not self.not_run, f"seed {self.number}'s examples not run: {self.not_run}"


@pytest.fixture(params=[PAGES, OWN])
def source(request: pytest.FixtureRequest) -> str:
    """Each test runs from the pages (when they are there) and from the fixtures."""
    if request.param == PAGES and not SEEDS.is_dir():
        pytest.skip(f"no seed pages at {SEEDS}; the fixtures' requests stand in for them")
    return str(request.param)


@pytest.fixture
def recorder(server: LiveServer) -> Iterator[Recorder]:
    rec = Recorder(server.url)
    try:
        yield rec
    finally:
        rec.close()


@pytest.fixture
def examples(source: str, client: httpx.AsyncClient, recorder: Recorder,
             tenant: Tenant) -> Callable[..., Examples]:
    def make(number: str, **values: str) -> Examples:
        return Examples(number, source, client, recorder, {"key": tenant.key, **values})
    return make


@pytest.fixture(scope="session")
def axios_dir() -> Path:
    """A folder whose node_modules holds axios, installed with ``npm ci`` once per lockfile."""
    return npm_ci(SEED_JS, "seed-js", installed="axios")


@pages_only
def test_the_seed_pages_hold_every_example():
    assert "~~~cURL curl -X GET" in seed("003")
    assert set(code_group(seed("000"))) == set(SPECS["000"]["examples"])
    assert set(code_group(seed("001"))) == set(SPECS["001"]["examples"])
    assert seed("002").count("\ncurl ") == len(SPECS["002"]["examples"]) == 2
    text = seed("004")
    for title in SPECS["004"]["examples"]:
        assert f"\n{title}\n" in text


@pages_only
def test_the_fixtures_key_sets_are_the_pages():
    """The key sets the fixtures hold are those of each page's example response."""
    for number, spec in SPECS.items():
        after = EXAMPLE_RESPONSES.get(number)
        if after is None:
            assert spec["example_keys"] == {}
            continue
        example = example_json(seed(number), after)
        assert {path: keys_at(example, path) for path in spec["example_keys"]} == \
            {path: set(keys) for path, keys in spec["example_keys"].items()}, number


@pages_only
def test_the_repository_keeps_no_copy_of_the_pages():
    pages = {path.read_bytes() for path in SEEDS.glob("*.txt")}
    sizes = {len(page) for page in pages}
    copies = []
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [d for d in subfolders if not d.startswith(".") and d not in
                         {"node_modules", "__pycache__", "build", "dist"}
                         and not d.endswith(".egg-info")]
        for name in files:
            path = Path(folder, name)
            if path.stat().st_size in sizes and path.read_bytes() in pages:
                copies.append(path.relative_to(ROOT))
    assert copies == []


async def test_seed_000_examples(api, examples):
    """List Contact Documents: curl prints the JSON, Python each name and role, JS the count."""
    await api.create_contact(id=SEED_CONTACT_ID)
    for name, role in [("Acme-NDA-2026.pdf", "signed"), ("notes.txt", None)]:
        doc = await api.create_document(name=name, folder="/clients/acme/ndas", tags=["nda"])
        await api.link(doc["id"], "contact", SEED_CONTACT_ID, role)
    ours = await api.ok("GET", f"/v1/contacts/{SEED_CONTACT_ID}/documents")
    assert [(d["name"], d["role"]) for d in ours["data"]["documents"]] == \
        [("notes.txt", None), ("Acme-NDA-2026.pdf", "signed")]
    ex = examples("000")
    replace = {LEADLEX_BASE: ex.base, LEADLEX_KEY: ex.key}

    def snippet(title: str) -> str:
        return substitute(code_group(ex.page)[title], replace)

    curl = await ex.run("cURL", lambda: run_curl(snippet("cURL")))
    python = await ex.run("Python", lambda: run_python(snippet("Python")))
    node = await ex.run("JavaScript", lambda: run_node(snippet("JavaScript"), module=True))
    ex.done()
    for ran in (curl, python, node):
        assert ran.body == ours
    if ex.from_pages:
        assert curl.output == ours
        assert python.output.splitlines() == ["notes.txt None", "Acme-NDA-2026.pdf signed"]
        assert node.output == "2\n"

    # The same fields as the seed's example response.
    assert set(ours) == ex.keys("")
    assert set(ours["data"]) == ex.keys("data")
    assert set(ours["meta"]) == ex.keys("meta") == {"page", "per_page", "total"}
    assert set(ours["data"]["documents"][1]) == ex.keys("data.documents.0") == \
        CONTACT_DOCUMENT_FIELDS
    assert ours["meta"] == {"page": 1, "per_page": 25, "total": 2}


async def test_seed_001_examples(api, examples):
    """Link Document to Entity: curl links to the contact; Python and JS to the deal."""
    await api.create_contact(id=SEED_CONTACT_ID)
    doc = await api.create_document(name="Acme-NDA-2026.pdf")
    deal = await api.create_entity("deal", name="Acme renewal")
    ex = examples("001", document_id=doc["id"], deal_id=deal["id"])
    replace = {LEADLEX_BASE: ex.base, LEADLEX_KEY: ex.key, SEED_DOCUMENT_ID: doc["id"]}

    def snippet(title: str) -> str:
        return substitute(code_group(ex.page)[title], replace)

    linked = (await ex.run("cURL", lambda: run_curl(snippet("cURL")))).body
    assert set(linked) == ex.keys("") == {"data"}
    assert {k: linked["data"][k] for k in ("document_id", "entity_type", "entity_id", "role")} \
        == {"document_id": doc["id"], "entity_type": "contact", "entity_id": SEED_CONTACT_ID,
            "role": "signed"}
    replace[SEED_DEAL_ID] = deal["id"]
    python = await ex.run("Python", lambda: run_python(snippet("Python")))
    node = await ex.run("JavaScript", lambda: run_node(snippet("JavaScript"), module=True))
    ex.done()
    from_python = python.body["data"]["link_id"]
    assert uuid.UUID(from_python)
    assert node.body == python.body  # the same triple again: the existing link
    if ex.from_pages:
        assert python.output.strip() == node.output.strip() == from_python
    links = (await api.ok("GET", f"/v1/documents/{doc['id']}/links"))["data"]["links"]
    assert [(x["link_id"], x["entity_type"], x["entity_id"], x["role"]) for x in links] == [
        (linked["data"]["link_id"], "contact", SEED_CONTACT_ID, "signed"),
        (from_python, "deal", deal["id"], "signed"),
    ]
    assert set(linked["data"]) == ex.keys("data") == LINK_FIELDS


async def seed_upload(api) -> str:
    """Seed 002's bytes, uploaded through the signed-upload step: the path it gave."""
    content = b"%PDF-1.4\n" + b"0" * (183204 - 9)  # the seed's size_bytes
    ticket = await api.upload(content, file_name="new-upload.pdf")
    return ticket["storage_path"]


async def test_seed_002_examples(api, examples):
    """Create Document Record: the example records the document; the API reference's
    request template sends no key (and placeholder values), so it gets the 401 body."""
    storage_path = await seed_upload(api)
    ex = examples("002", storage_path=storage_path)

    async def example() -> Any:
        return await run_curl(substitute(between(ex.page, "curl -X POST", "\nExample Response"), {
            LEADLEX_BASE: ex.base, LEADLEX_KEY: ex.key, SEED_STORAGE_PATH: storage_path}))

    async def reference() -> Any:
        template = between(ex.page, "curl --request POST", "'\n")
        return await run_curl(substitute(template, {EXAMPLE_BASE: ex.base}) + "\n'")

    created = (await ex.run("example", example)).body
    assert set(created) == ex.keys("") == {"data"}
    record = created["data"]
    assert set(record) == DOCUMENT_RECORD_FIELDS == ex.keys("data")
    assert {k: record[k] for k in ("name", "mime_type", "storage_path", "size_bytes", "folder",
                                   "tags", "description")} == {
        "name": "Acme-NDA-2026.pdf", "mime_type": "application/pdf",
        "storage_path": storage_path, "size_bytes": 183204, "folder": "/clients/acme/ndas",
        "tags": ["nda", "confidentiality"], "description": None}
    assert await api.ok("GET", f"/v1/documents/{record['id']}") == created

    answer = (await ex.run("reference", reference)).body
    ex.done()
    assert answer["error"]["code"] == "invalid_key"


async def test_seed_004_examples(api, gql, examples, request):
    """Get Documents: each example asks for 10 verified identification documents."""
    await api.create_business(id=SEED_BUSINESS_ID)
    made = {}
    for name, doc_type, status in [("drivers_license.pdf", "identification", "verified"),
                                   ("bank_statement.pdf", "bank_statement", "pending"),
                                   ("passport.pdf", "identification", "pending")]:
        doc = await api.create_document(name=name, type=doc_type,
                                        user_data={"purpose": "Identity verification"})
        await api.link(doc["id"], "company", SEED_BUSINESS_ID)
        if status == "verified":
            await gql("mutation($id: ID!) { verifyDocument(id: $id) { id } }", {"id": doc["id"]})
        made[name] = doc
    ex = examples("004")
    replace = {EXAMPLE_BASE: ex.base, EXAMPLE_TOKEN: ex.key}

    def snippet(start: str, end: str) -> str:
        return substitute(between(ex.page, start, end), replace)

    async def node() -> str:
        return await run_node(snippet("const axios", "Usage Notes"), module=False,
                              cwd=request.getfixturevalue("axios_dir"))

    curl = await ex.run("cURL", lambda: run_curl(snippet("curl -X GET", "Python\n")))
    listed = curl.body
    assert listed["total_count"] == 1 and (listed["limit"], listed["offset"]) == (10, 0)
    [doc] = listed["documents"]
    assert doc["id"] == f"urn:uuid:{made['drivers_license.pdf']['id']}"
    assert doc["business_id"] == f"urn:uuid:{SEED_BUSINESS_ID}"
    assert (doc["filename"], doc["type"], doc["status"]) == \
        ("drivers_license.pdf", "identification", "verified")
    assert set(listed) == ex.keys("")
    assert set(doc) == ex.keys("documents.0") == BUSINESS_DOCUMENT_FIELDS | {"verified_at"}
    everything = await api.ok("GET", f"/v1/businesses/{SEED_BUSINESS_ID}/documents")
    assert {d["filename"]: set(d) for d in everything["documents"]}["bank_statement.pdf"] == \
        ex.keys("documents.1") == BUSINESS_DOCUMENT_FIELDS

    python = await ex.run("Python", lambda: run_python(
        snippet("import requests", "JavaScript \\(Node.js\\)\n")))
    logged = await ex.run("JavaScript (Node.js)", node)
    ex.done()
    assert python.body == logged.body == listed
    if ex.from_pages:
        assert curl.output == listed
        assert ast.literal_eval(python.output) == listed
        assert "filename: 'drivers_license.pdf'" in logged.output
        assert f"business_id: 'urn:uuid:{SEED_BUSINESS_ID}'" in logged.output
        assert "total_count: 1" in logged.output and "limit: 10" in logged.output


async def test_seed_003_example(api, examples):
    """ListAttachments, as its page's curl sends it: GET with contactId in a JSON body.

    Beyond the base URL and the key, two repairs: the page was flattened onto one
    line, so its line continuation became an escaped space (which curl would take
    for a URL), and its Authorization header is empty (the key goes there).
    """
    await api.create_contact(id=SEED_003_CONTACT_ID)
    for name in ("a.pdf", "b.pdf"):
        doc = await api.create_document(name=name)
        await api.link(doc["id"], "contact", SEED_003_CONTACT_ID)
    ex = examples("003")

    async def page() -> Any:
        found = re.search(r"~~~cURL (curl .*?) ~~~", ex.page)
        assert found
        return await run_curl(substitute(found.group(1), {
            WIX_BASE: ex.base, "curl -X GET \\ '": "curl -X GET '",
            "'Authorization: '": f"'Authorization: Bearer {ex.key}'"}))

    ran = await ex.run("cURL", page)
    ex.done()
    listed = ran.body
    if ex.from_pages:
        assert ran.output == listed
    assert listed == await api.ok("GET", f"/contacts/v4/attachments/{SEED_003_CONTACT_ID}")
    assert [a["fileName"] for a in listed["attachments"]] == ["b.pdf", "a.pdf"]
    assert listed["metadata"] == {"count": 2, "offset": 0, "total": 2, "tooManyToCount": False}
