"""The seeds' own code examples, run as written against a live server.

The snippets are read from the seed pages (``docs/seeds/``, verbatim copies of
the API pages docgraph is built from) at test time, never retyped. Only the
base URL, the key and the ids that are not UUIDs are replaced (seed 003's
one curl example needs two more repairs, see its test); ids that are
UUIDs (seed 000's contact, seed 004's business) are kept, and the test's
workspace is given entities with exactly those ids. curl runs in bash, the
Python examples with ``exec`` (they import ``requests``), the JavaScript ones
with ``node`` (fetch is built into Node 20; seed 004's example requires axios,
installed by npm from ``tests/seed_js/`` into ``.cache/seed-js/``).
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import hashlib
import io
import json
import re
import shutil
import subprocess
import tempfile
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.rest import BUSINESS_DOCUMENT_FIELDS, CONTACT_DOCUMENT_FIELDS, DOCUMENT_RECORD_FIELDS

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "docs" / "seeds"
SEED_JS = Path(__file__).resolve().parent / "seed_js"
JS_CACHE = ROOT / ".cache" / "seed-js"

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


@pytest.fixture(scope="session")
def axios_dir() -> Path:
    """A folder whose node_modules holds axios, installed with ``npm ci`` once per lockfile."""
    manifest = [(SEED_JS / name).read_bytes() for name in ("package.json", "package-lock.json")]
    target = JS_CACHE / hashlib.sha256(b"\0".join(manifest)).hexdigest()[:16]
    if not (target / "node_modules" / "axios" / "package.json").is_file():
        JS_CACHE.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=JS_CACHE, prefix="install-"))
        for name in ("package.json", "package-lock.json"):
            shutil.copy(SEED_JS / name, staging / name)
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
                              cwd=staging, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
        if target.exists():  # another run finished first
            shutil.rmtree(staging)
        else:
            staging.rename(target)
    return target


def test_the_seed_pages_hold_every_example():
    assert "~~~cURL curl -X GET" in seed("003")
    assert set(code_group(seed("000"))) == {"cURL", "Python", "JavaScript"}
    assert set(code_group(seed("001"))) == {"cURL", "Python", "JavaScript"}
    assert seed("002").count("\ncurl ") == 2
    text = seed("004")
    for title in ("cURL", "Python", "JavaScript (Node.js)"):
        assert f"\n{title}\n" in text


def shared_seeds() -> Path:
    return ROOT.parent / "shared" / "seeds"


@pytest.mark.skipif(not shared_seeds().is_dir(), reason="no ../shared/seeds beside the repo")
def test_the_copies_are_the_shared_seed_pages():
    for path in shared_seeds().glob("*.txt"):
        assert (SEEDS / path.name).read_bytes() == path.read_bytes(), path.name


async def test_seed_000_examples(api, server, tenant):
    """List Contact Documents: curl prints the JSON, Python each name and role, JS the count."""
    await api.create_contact(id=SEED_CONTACT_ID)
    for name, role in [("Acme-NDA-2026.pdf", "signed"), ("notes.txt", None)]:
        doc = await api.create_document(name=name, folder="/clients/acme/ndas", tags=["nda"])
        await api.link(doc["id"], "contact", SEED_CONTACT_ID, role)
    ours = await api.ok("GET", f"/v1/contacts/{SEED_CONTACT_ID}/documents")
    snippets = code_group(seed("000"))
    replace = {LEADLEX_BASE: server.url, LEADLEX_KEY: tenant.key}

    assert await run_curl(substitute(snippets["cURL"], replace)) == ours
    printed = await run_python(substitute(snippets["Python"], replace))
    assert printed.splitlines() == ["notes.txt None", "Acme-NDA-2026.pdf signed"]
    assert await run_node(substitute(snippets["JavaScript"], replace), module=True) == "2\n"

    # The same fields as the seed's example response.
    example = example_json(seed("000"), "### Example Response")
    assert set(ours) == set(example)
    assert set(ours["data"]) == set(example["data"])
    assert set(ours["meta"]) == set(example["meta"]) == {"page", "per_page", "total"}
    assert set(ours["data"]["documents"][1]) == set(example["data"]["documents"][0]) == \
        CONTACT_DOCUMENT_FIELDS
    assert ours["meta"] == {"page": 1, "per_page": 25, "total": 2}


async def test_seed_001_examples(api, server, tenant):
    """Link Document to Entity: curl links to the contact; Python and JS to the deal."""
    await api.create_contact(id=SEED_CONTACT_ID)
    doc = await api.create_document(name="Acme-NDA-2026.pdf")
    deal = await api.create_entity("deal", name="Acme renewal")
    snippets = code_group(seed("001"))
    replace = {LEADLEX_BASE: server.url, LEADLEX_KEY: tenant.key, SEED_DOCUMENT_ID: doc["id"]}

    linked = await run_curl(substitute(snippets["cURL"], replace))
    assert set(linked) == {"data"}
    assert {k: linked["data"][k] for k in ("document_id", "entity_type", "entity_id", "role")} \
        == {"document_id": doc["id"], "entity_type": "contact", "entity_id": SEED_CONTACT_ID,
            "role": "signed"}
    replace[SEED_DEAL_ID] = deal["id"]
    from_python = (await run_python(substitute(snippets["Python"], replace))).strip()
    from_node = (await run_node(substitute(snippets["JavaScript"], replace), module=True)).strip()
    assert uuid.UUID(from_python)
    assert from_node == from_python  # the same triple again: the existing link
    links = (await api.ok("GET", f"/v1/documents/{doc['id']}/links"))["data"]["links"]
    assert [(x["link_id"], x["entity_type"], x["entity_id"], x["role"]) for x in links] == [
        (linked["data"]["link_id"], "contact", SEED_CONTACT_ID, "signed"),
        (from_python, "deal", deal["id"], "signed"),
    ]
    example = example_json(seed("001"), "### Example Response")
    assert set(linked["data"]) == set(example["data"])


async def seed_upload(api) -> str:
    """Seed 002's bytes, uploaded through the signed-upload step: the path it gave."""
    content = b"%PDF-1.4\n" + b"0" * (183204 - 9)  # the seed's size_bytes
    ticket = await api.upload(content, file_name="new-upload.pdf")
    return ticket["storage_path"]


async def test_seed_002_examples(api, server, tenant):
    """Create Document Record: the example records the document; the API reference's
    request template sends no key (and placeholder values), so it gets the 401 body."""
    text = seed("002")
    storage_path = await seed_upload(api)
    example = between(text, "curl -X POST", "\nExample Response")
    created = await run_curl(substitute(example, {
        LEADLEX_BASE: server.url, LEADLEX_KEY: tenant.key, SEED_STORAGE_PATH: storage_path}))
    assert set(created) == {"data"}
    record = created["data"]
    assert set(record) == DOCUMENT_RECORD_FIELDS == set(example_json(text, "Example Response")
                                                         ["data"])
    assert {k: record[k] for k in ("name", "mime_type", "storage_path", "size_bytes", "folder",
                                   "tags", "description")} == {
        "name": "Acme-NDA-2026.pdf", "mime_type": "application/pdf",
        "storage_path": storage_path, "size_bytes": 183204, "folder": "/clients/acme/ndas",
        "tags": ["nda", "confidentiality"], "description": None}
    assert await api.ok("GET", f"/v1/documents/{record['id']}") == created

    template = between(text, "curl --request POST", "'\n")
    answer = await run_curl(substitute(template, {EXAMPLE_BASE: server.url}) + "\n'")
    assert answer["error"]["code"] == "invalid_key"


async def test_seed_004_examples(api, gql, server, tenant, axios_dir):
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
    text = seed("004")
    replace = {EXAMPLE_BASE: server.url, EXAMPLE_TOKEN: tenant.key}

    listed = await run_curl(substitute(between(text, "curl -X GET", "Python\n"), replace))
    assert listed["total_count"] == 1 and (listed["limit"], listed["offset"]) == (10, 0)
    [doc] = listed["documents"]
    assert doc["id"] == f"urn:uuid:{made['drivers_license.pdf']['id']}"
    assert doc["business_id"] == f"urn:uuid:{SEED_BUSINESS_ID}"
    assert (doc["filename"], doc["type"], doc["status"]) == \
        ("drivers_license.pdf", "identification", "verified")
    example = example_json(text, "Success Response (200 OK)")
    assert set(listed) == set(example)
    verified, pending = example["documents"]
    assert set(doc) == set(verified) == BUSINESS_DOCUMENT_FIELDS | {"verified_at"}
    everything = await api.ok("GET", f"/v1/businesses/{SEED_BUSINESS_ID}/documents")
    assert {d["filename"]: set(d) for d in everything["documents"]}["bank_statement.pdf"] == \
        set(pending)

    printed = await run_python(substitute(
        between(text, "import requests", "JavaScript \\(Node.js\\)\n"), replace))
    assert ast.literal_eval(printed) == listed

    logged = await run_node(substitute(between(text, "const axios", "Usage Notes"), replace),
                            module=False, cwd=axios_dir)
    assert "filename: 'drivers_license.pdf'" in logged
    assert f"business_id: 'urn:uuid:{SEED_BUSINESS_ID}'" in logged
    assert "total_count: 1" in logged and "limit: 10" in logged


async def test_seed_003_example(api, server, tenant):
    """ListAttachments, as its page's curl sends it: GET with contactId in a JSON body.

    Beyond the base URL and the key, two repairs: the page was flattened onto one
    line, so its line continuation became an escaped space (which curl would take
    for a URL), and its Authorization header is empty (the key goes there).
    """
    await api.create_contact(id=SEED_003_CONTACT_ID)
    for name in ("a.pdf", "b.pdf"):
        doc = await api.create_document(name=name)
        await api.link(doc["id"], "contact", SEED_003_CONTACT_ID)
    found = re.search(r"~~~cURL (curl .*?) ~~~", seed("003"))
    assert found
    snippet = found.group(1)
    listed = await run_curl(substitute(snippet, {
        WIX_BASE: server.url, "curl -X GET \\ '": "curl -X GET '",
        "'Authorization: '": f"'Authorization: Bearer {tenant.key}'"}))
    assert listed == await api.ok("GET", f"/contacts/v4/attachments/{SEED_003_CONTACT_ID}")
    assert [a["fileName"] for a in listed["attachments"]] == ["b.pdf", "a.pdf"]
    assert listed["metadata"] == {"count": 2, "offset": 0, "total": 2, "tooManyToCount": False}
