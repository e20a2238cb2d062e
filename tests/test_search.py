"""Full-text search (issue 19): real files recorded through the API, their text extracted
in the background (a PDF's text layer, OCR of a picture), then found by what they say;
phrases, exclusions, misspelt names, filters, pages, and workspaces that never meet."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from docgraph.db import search as search_db
from docgraph.db.database import Database, StatementTally, statement_counter
from docgraph.db.documents import DocumentFilters
from docgraph.resolvers.search import SNIPPET_OPTIONS, SNIPPET_SCAN_CHARS
from tests.conftest import LiveServer
from tests.gql import GraphQL
from tests.instances import fresh_database, serving, waiting_on_a_lock
from tests.rest import DOCUMENT_RECORD_FIELDS, assert_common_headers, assert_error
from tests.textfiles import docx_with_text, pdf_with_text, scanned_pdf, text_picture


@pytest.fixture(scope="module")
def search_server(tmp_root, database_url) -> Iterator[LiveServer]:
    """The app with its text extraction jobs, as deployed (the session's server has none)."""
    with serving(tmp_root, database_url, text_jobs=1) as live:
        yield live


@pytest.fixture
async def client(search_server) -> AsyncIterator[httpx.AsyncClient]:
    """This module's clients (gql, api) talk to ``search_server``."""
    async with httpx.AsyncClient(base_url=search_server.url, timeout=30) as c:
        yield c


SEARCH = """
query($q: String!, $filter: DocumentFilter, $first: Int, $after: String, $offset: Int) {
  searchDocuments(query: $q, filter: $filter, first: $first, after: $after, offset: $offset) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor rank snippet node { id name textStatus } }
  }
}"""
TEXT = "query($id: ID!) { document(id: $id) { textStatus textLength textStatusReason text } }"


async def finished(gql: GraphQL, document_id: str, *, seconds: float = 60) -> dict[str, Any]:
    """The document's text fields once its extraction job has finished."""
    deadline = time.monotonic() + seconds
    while True:
        document = (await gql(TEXT, {"id": document_id}))["document"]
        if document["textStatus"] != "PENDING":
            return dict(document)
        assert time.monotonic() < deadline, f"extraction of {document_id} never finished"
        await asyncio.sleep(0.05)


async def recorded(gql: GraphQL, content: bytes, *, name: str, mime_type: str,
                   **fields: Any) -> str:
    """A document of these bytes, recorded the real way, its text extracted."""
    document = await gql.create_document(content, name=name, mimeType=mime_type, **fields)
    await finished(gql, document["id"])
    return str(document["id"])


async def search(gql: GraphQL, query: str, **variables: Any) -> dict[str, Any]:
    return dict((await gql(SEARCH, {"q": query, **variables}))["searchDocuments"])


def names(found: dict[str, Any]) -> list[str]:
    return [edge["node"]["name"] for edge in found["edges"]]


async def test_a_pdf_is_found_by_a_word_of_its_sentence(gql, other_gql):
    pdf = pdf_with_text("The indemnification clause was negotiated with Zyxwidget Ltd",
                        "and countersigned in the spring.")
    doc_id = await recorded(gql, pdf, name="scan-0041.pdf", mime_type="application/pdf")
    text = (await gql(TEXT, {"id": doc_id}))["document"]
    assert text["textStatus"] == "DONE" and text["textStatusReason"] is None
    assert "negotiated with Zyxwidget Ltd" in text["text"]
    assert text["textLength"] == len(text["text"])

    found = await search(gql, "zyxwidget")
    assert names(found) == ["scan-0041.pdf"] and found["totalCount"] == 1
    [edge] = found["edges"]
    assert edge["rank"] > 0
    assert "<mark>Zyxwidget</mark>" in edge["snippet"]
    # Stemmed: the sentence says "negotiated" and "countersigned".
    assert names(await search(gql, "negotiating countersign zyxwidget")) == ["scan-0041.pdf"]
    # The other workspace never finds it, whatever it asks.
    assert (await search(other_gql, "zyxwidget"))["totalCount"] == 0
    assert (await search(other_gql, "scan-0041"))["edges"] == []


async def test_a_picture_of_text_is_found_after_ocr(gql):
    picture = text_picture("Passport expires Quetzalcoatl March")
    doc_id = await recorded(gql, picture, name="IMG_2093.png", mime_type="image/png")
    text = (await gql(TEXT, {"id": doc_id}))["document"]
    assert text["textStatus"] == "DONE", text
    assert "Quetzalcoatl" in text["text"]
    found = await search(gql, "quetzalcoatl passport")
    assert names(found) == ["IMG_2093.png"]


async def test_phrases_exclusions_and_alternatives(gql):
    word = "Brontosaurus"
    await recorded(gql, pdf_with_text(f"The lease was signed with {word} Holdings."),
                   name="lease-a.pdf", mime_type="application/pdf")
    await recorded(gql, pdf_with_text(f"{word} Holdings signed, with reservations, a draft."),
                   name="lease-b.pdf", mime_type="application/pdf")
    await recorded(gql, b"Minutes: nothing about the " + word.encode() + b" lease at all.",
                   name="minutes.txt", mime_type="text/plain")

    assert sorted(names(await search(gql, word))) == ["lease-a.pdf", "lease-b.pdf",
                                                      "minutes.txt"]
    # A quoted phrase: those words, in that order.
    assert names(await search(gql, f'"signed with {word}"')) == ["lease-a.pdf"]
    # An exclusion: not the documents that say draft.
    assert sorted(names(await search(gql, f"{word} -draft"))) == ["lease-a.pdf",
                                                                  "minutes.txt"]
    # ("with" is a stop word: the excluded phrase is "signed", in both leases.)
    assert names(await search(gql, f'{word} -"signed with"')) == ["minutes.txt"]
    # Alternatives.
    assert sorted(names(await search(gql, f"{word} minutes or reservations"))) == [
        "lease-b.pdf", "minutes.txt"]


async def test_a_misspelt_or_partial_name_finds_the_document_and_nothing_else(gql):
    await recorded(gql, b"0", name="Quarterly-Reconciliation-Vandermeer.xlsx",
                   mime_type="application/vnd.ms-excel")
    await recorded(gql, b"0", name="Annual-Report-Vandermeer.xlsx",
                   mime_type="application/vnd.ms-excel")
    for query in ("reconcilation vandermer", "Reconcil", "quartely reconciliaton"):
        assert names(await search(gql, query)) == ["Quarterly-Reconciliation-Vandermeer.xlsx"], \
            query
    # A word of the name, spelt right, ranks the exact match first.
    assert names(await search(gql, "vandermeer annual")) == ["Annual-Report-Vandermeer.xlsx"]
    # An excluded word keeps even a name that merely resembles the query out.
    assert names(await search(gql, "reconcilation -vandermeer")) == []


async def test_names_tags_folders_and_descriptions_are_searched_and_ranked(gql):
    word = "Xylophonics"
    await recorded(gql, pdf_with_text(f"Appendix mentioning {word} once."),
                   name="appendix.pdf", mime_type="application/pdf")
    await recorded(gql, b"0", name=f"{word}-agreement.pdf", mime_type="application/pdf")
    await recorded(gql, b"0", name="described.pdf", mime_type="application/pdf",
                   description=f"About the {word} deal")
    await recorded(gql, b"0", name="tagged.pdf", mime_type="application/pdf",
                   tags=[word.lower()], folder=f"/clients/{word.lower()}")
    found = await search(gql, word)
    # Name first, then tags and folder, description, and the text inside last.
    assert names(found) == [f"{word}-agreement.pdf", "tagged.pdf", "described.pdf",
                            "appendix.pdf"]
    ranks = [edge["rank"] for edge in found["edges"]]
    assert ranks == sorted(ranks, reverse=True)


async def test_every_document_filter_combines_with_the_query(gql):
    word = "Quillwort"
    contact = await gql.create_entity("CONTACT", name="Filter Ada")
    ids = {}
    for name, fields in {
        "a.pdf": {"type": "CONTRACT", "tags": ["nda", "signed"], "folder": "/legal/ndas"},
        "b.pdf": {"type": "CONTRACT", "tags": ["nda"], "folder": "/legal/ndas/old"},
        "c.pdf": {"type": "LICENSE", "tags": ["nda", "signed"], "folder": "/hr"},
    }.items():
        ids[name] = await recorded(gql, pdf_with_text(f"{word} terms for {name}"), name=name,
                                   mime_type="application/pdf", **fields)
    await gql.link(ids["b.pdf"], "CONTACT", contact)
    await gql(f'mutation {{ verifyDocument(id: "{ids["c.pdf"]}") {{ id }} }}')

    async def matching(**filter: Any) -> list[str]:
        return sorted(names(await search(gql, word, filter=filter)))

    assert await matching() == ["a.pdf", "b.pdf", "c.pdf"]
    assert await matching(type="CONTRACT") == ["a.pdf", "b.pdf"]
    assert await matching(status="VERIFIED") == ["c.pdf"]
    assert await matching(tags=["signed"]) == ["a.pdf", "c.pdf"]
    assert await matching(folder="/legal/ndas") == ["a.pdf"]
    assert await matching(folder="/legal/ndas", includeSubfolders=True) == ["a.pdf", "b.pdf"]
    assert await matching(linkedTo={"entityType": "CONTACT", "entityId": contact}) == ["b.pdf"]
    assert await matching(mimeType="application/*", nameContains="c.") == ["c.pdf"]
    assert await matching(type="CONTRACT", tags=["signed"]) == ["a.pdf"]
    created = {d["name"]: d["createdAt"] for d in (await gql(
        "query($f: DocumentFilter) { documents(filter: $f, first: 100) "
        "{ nodes { name createdAt } } }", {"f": {"nameContains": ".pdf"}}))["documents"]["nodes"]
        if d["name"] in ids}
    assert await matching(createdAfter=created["b.pdf"]) == ["b.pdf", "c.pdf"]
    assert await matching(createdBefore=created["b.pdf"]) == ["a.pdf"]
    assert await matching(createdAfter=created["b.pdf"], createdBefore=created["c.pdf"]) == [
        "b.pdf"]
    # The plain list has the time range too.
    listed = (await gql("query($f: DocumentFilter) { documents(filter: $f) { nodes { name } } }",
                        {"f": {"createdAfter": created["c.pdf"], "nameContains": "c.pdf"}}))
    assert [d["name"] for d in listed["documents"]["nodes"]] == ["c.pdf"]


async def test_pages_of_results_by_cursor_and_offset(gql):
    word = "Pangolinite"
    for i in range(7):
        doc = await gql.create_document(f"{word} appears {'again ' * i}".encode(),
                                        name=f"page-{i}.txt", mimeType="text/plain")
        await finished(gql, doc["id"])
    everything = await search(gql, word, first=100)
    assert everything["totalCount"] == 7
    seen: list[str] = []
    after = None
    while True:
        page = await search(gql, word, first=3, after=after)
        seen += names(page)
        # Every result of every page has its snippet (the row read past a page has none).
        assert all(f"<mark>{word}</mark>" in e["snippet"] for e in page["edges"]), page
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == names(everything)
    offset_page = await search(gql, word, first=2, offset=3)
    assert names(offset_page) == names(everything)[3:5]
    assert all(f"<mark>{word}</mark>" in e["snippet"] for e in offset_page["edges"])
    assert offset_page["pageInfo"]["hasPreviousPage"] is True
    # Any edge's cursor continues after that edge.
    middle = everything["edges"][2]["cursor"]
    assert names(await search(gql, word, first=100, after=middle)) == names(everything)[3:]


async def test_a_corrupt_pdf_fails_and_the_worker_goes_on(gql):
    broken = await gql.create_document(b"%PDF-1.7\n1 0 obj << /Type /Catalog garbage",
                                       name="broken.pdf", mimeType="application/pdf")
    fine = await gql.create_document(pdf_with_text("Afterwards a Marsupialis memo."),
                                     name="fine.pdf", mimeType="application/pdf")
    failed = await finished(gql, broken["id"])
    assert failed["textStatus"] == "FAILED"
    assert "PDF" in failed["textStatusReason"] and failed["text"] is None
    assert failed["textLength"] is None
    assert (await finished(gql, fine["id"]))["textStatus"] == "DONE"
    assert names(await search(gql, "marsupialis")) == ["fine.pdf"]
    # The broken document is still found by its name.
    assert names(await search(gql, "broken")) == ["broken.pdf"]


async def test_files_without_text_are_skipped_with_the_reason(gql):
    doc = await gql.create_document(b"PK\x03\x04 not much", name="archive.zip",
                                    mimeType="application/zip")
    skipped = await finished(gql, doc["id"])
    assert skipped["textStatus"] == "SKIPPED"
    assert "application/zip" in skipped["textStatusReason"]


async def test_docx_and_csv_are_read(gql):
    await recorded(gql, docx_with_text("Board resolution about Ocelotville", "Second line"),
                   name="resolution.docx",
                   mime_type="application/vnd.openxmlformats-officedocument."
                             "wordprocessingml.document")
    await recorded(gql, b"name,city\nAda,Ocelotville\n", name="people.csv",
                   mime_type="text/csv")
    assert sorted(names(await search(gql, "ocelotville"))) == ["people.csv", "resolution.docx"]


async def test_snippets_are_escaped_html(gql):
    await recorded(gql, b"<script>alert(1)</script> the Wombatron & co. report",
                   name="evil.txt", mime_type="text/plain")
    [edge] = (await search(gql, "wombatron"))["edges"]
    assert "<script>" not in edge["snippet"]
    assert "<mark>Wombatron</mark>" in edge["snippet"]
    assert "&amp;" in edge["snippet"]


async def test_renaming_keeps_the_text_searchable(gql):
    doc_id = await recorded(gql, pdf_with_text("Contents about Axolotlium."),
                            name="old-name.pdf", mime_type="application/pdf")
    await gql('mutation($id: ID!) { updateDocument(id: $id, input: {name: "Fresh-Title.pdf",'
              ' tags: ["renamed"]}) { id } }', {"id": doc_id})
    assert names(await search(gql, "axolotlium")) == ["Fresh-Title.pdf"]
    assert names(await search(gql, "fresh title renamed axolotlium")) == ["Fresh-Title.pdf"]
    assert await search(gql, "old-name") == await search(gql, "old-name")
    assert "Fresh-Title.pdf" not in names(await search(gql, '"old name"'))


async def test_deleted_documents_are_not_found(gql):
    doc_id = await recorded(gql, b"Gone Tapirium soon", name="gone.txt",
                            mime_type="text/plain")
    assert names(await search(gql, "tapirium")) == ["gone.txt"]
    await gql('mutation($id: ID!) { deleteDocument(id: $id) { id } }', {"id": doc_id})
    assert (await search(gql, "tapirium"))["totalCount"] == 0


@pytest.mark.parametrize(("variables", "field"), [
    ({"q": ""}, "query"),
    ({"q": "   "}, "query"),
    ({"q": "x" * 501}, "query"),
    ({"q": "-draft -old"}, "query"),
    ({"q": "bad\x00byte"}, "query"),
    ({"q": "nda", "first": 101}, "first"),
    ({"q": "nda", "after": "bm90IGEgY3Vyc29y"}, "after"),
    ({"q": "nda", "after": "djF8MjAyNi0wMS0wMVQwMDowMDowMCswMDowMHwx"}, "after"),
    ({"q": "nda", "filter": {"folder": "relative"}}, "folder"),
    ({"q": "nda", "filter": {"createdAfter": "yesterday"}}, None),
])
async def test_bad_arguments_are_validation_errors(gql, variables, field):
    error = await gql.error(SEARCH, variables, code="validation_error")
    if field is not None:
        assert field in error["extensions"]["details"]["fields"], error


async def test_scopes(gql, tenant):
    doc_id = await recorded(gql, b"Scoped Capybarine text", name="scoped.txt",
                            mime_type="text/plain")
    await gql.error(SEARCH, {"q": "capybarine"}, code="insufficient_permissions",
                    key=tenant.write_key)
    found = await gql(SEARCH, {"q": "capybarine"}, key=tenant.read_key)
    assert [e["node"]["id"] for e in found["searchDocuments"]["edges"]] == [doc_id]
    # A write-only key's mutation answer holds no text.
    body = await gql.result('mutation($id: ID!) { updateDocument(id: $id, input: {tags: ["x"]})'
                            ' { id text } }', {"id": doc_id}, key=tenant.write_key)
    assert body["data"]["updateDocument"] == {"id": doc_id, "text": None}
    assert body["errors"][0]["extensions"]["code"] == "insufficient_permissions"


# -- REST ---------------------------------------------------------------------------------

async def test_rest_search_pages_with_seed_fields(gql, api, tenant, other_tenant):
    for i in range(3):
        await recorded(gql, f"Restful Okapiform number {i}".encode(), name=f"rest-{i}.txt",
                       mime_type="text/plain", tags=["rest"])
    r = await api.client.get("/v1/documents/search", params={"q": "okapiform", "per_page": 2},
                             headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert_common_headers(r)
    body = r.json()
    assert set(body) == {"data", "meta"}
    assert body["meta"] == {"page": 1, "per_page": 2, "total": 3}
    assert len(body["data"]["documents"]) == 2
    for result in body["data"]["documents"]:
        assert set(result) == DOCUMENT_RECORD_FIELDS | {"rank", "snippet"}
        assert "<mark>Okapiform</mark>" in result["snippet"]
    page2 = (await api.client.get("/v1/documents/search", headers=tenant.headers(),
                                  params={"q": "okapiform", "per_page": 2, "page": 2})).json()
    assert len(page2["data"]["documents"]) == 1
    seen = {d["id"] for d in body["data"]["documents"] + page2["data"]["documents"]}
    assert len(seen) == 3
    filtered = (await api.client.get(
        "/v1/documents/search", headers=tenant.headers(),
        params={"q": "okapiform", "tags": "rest", "name_contains": "rest-1"})).json()
    assert [d["name"] for d in filtered["data"]["documents"]] == ["rest-1.txt"]
    other = (await api.client.get("/v1/documents/search", params={"q": "okapiform"},
                                  headers=other_tenant.headers())).json()
    assert other == {"data": {"documents": []}, "meta": {"page": 1, "per_page": 25, "total": 0}}


@pytest.mark.parametrize("params", [
    {}, {"q": ""}, {"q": "-only"}, {"q": "a", "per_page": "101"}, {"q": "a", "page": "0"},
    {"q": "a", "include_subfolders": "maybe"}, {"q": "a", "entity_type": "contact"},
    {"q": "a", "type": "receipt"}, {"q": "a", "created_after": "soon"}, {"q": "a", "x": "1"},
])
async def test_rest_search_refuses_bad_parameters(api, tenant, params):
    r = await api.client.get("/v1/documents/search", params=params, headers=tenant.headers())
    assert_error(r, 400, "validation_error")


async def test_rest_document_text(gql, api, tenant, other_tenant):
    doc_id = await recorded(gql, pdf_with_text("Rest text of Gharialine."), name="t.pdf",
                            mime_type="application/pdf")
    r = await api.client.get(f"/v1/documents/{doc_id}/text", headers=tenant.headers())
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["id"] == doc_id and data["text_status"] == "done"
    assert data["text"] == "Rest text of Gharialine." and data["text_length"] == 24
    assert data["text_status_reason"] is None
    r = await api.client.get(f"/v1/documents/{doc_id}/text", headers=other_tenant.headers())
    assert_error(r, 404, "not_found")
    r = await api.client.get(f"/v1/documents/{doc_id}/text",
                             headers=tenant.headers(tenant.write_key))
    assert_error(r, 403, "insufficient_permissions")


async def test_a_word_deep_in_a_long_text_is_shown_in_its_snippet(gql):
    filler = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 800  # 45,600
    await recorded(gql, (filler + "At last the Thylacinus clause. " + filler).encode(),
                   name="long.txt", mime_type="text/plain")
    [edge] = (await search(gql, "thylacinus"))["edges"]
    assert "<mark>Thylacinus</mark> clause" in edge["snippet"]


async def test_a_scanned_pdf_page_is_read_by_ocr(gql):
    doc_id = await recorded(gql, scanned_pdf("Invoice Pachycephalosaurus 2026"),
                            name="scan.pdf", mime_type="application/pdf")
    text = (await gql(TEXT, {"id": doc_id}))["document"]
    assert text["textStatus"] == "DONE" and "Pachycephalosaurus" in text["text"]
    assert names(await search(gql, "pachycephalosaurus invoice")) == ["scan.pdf"]


PREPARED_PLANS = """
select generic_plans, custom_plans from pg_prepared_statements where statement = $1
"""


async def test_searches_run_generic_plans_and_nothing_else_does(database_url, tenant):
    """Each search statement is planned once per connection (PostgreSQL would plan
    it again at every search), the trigram one only when nothing matched, on
    connections of their own: the pool's other connections plan every statement as
    before, and a failed search leaves nothing open behind it."""
    db = await Database.connect(database_url, min_size=1, max_size=1)

    async def search(query: str, name_like: list[str] | None = None,
                     offset: int = 0) -> list[Any]:
        return await search_db.search_documents(
            db, tenant.id, query=query, name_like=name_like, excluded=None,
            filters=DocumentFilters(), after=None, offset=offset, limit=10, with_total=True,
            with_snippet=True, snippet_chars=SNIPPET_SCAN_CHARS,
            snippet_options=SNIPPET_OPTIONS)

    async def plans(statement: str) -> dict[str, int] | None:
        async with db.generic_plans() as conn:  # max_size=1: the searches' connection
            row = await conn.fetchrow(PREPARED_PLANS, statement)
        return dict(row) if row is not None else None

    try:
        counter = StatementTally()
        token = statement_counter.set(counter)
        try:
            for word in ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"):
                assert [row["id"] for row in await search(word)] == [None]  # nothing, one row
        finally:
            statement_counter.reset(token)
        assert counter.count == 8  # the statements themselves: nothing set, nothing reset
        assert await plans(search_db.SEARCH_DOCUMENTS) == {"generic_plans": 8,
                                                           "custom_plans": 0}
        assert await plans(search_db.SEARCH_RESEMBLING_NAMES) is None
        await search("alphx", name_like=["alphx"])
        assert await plans(search_db.SEARCH_RESEMBLING_NAMES) == {"generic_plans": 1,
                                                                  "custom_plans": 0}

        assert await db.fetchval("show plan_cache_mode") == "auto"
        with pytest.raises(asyncpg.InvalidRowCountInResultOffsetClauseError):
            await search("x", offset=-1)  # refused by the server
        assert await db.fetchval("show plan_cache_mode") == "auto"
        async with db.generic_plans() as conn:
            assert not conn.raw.is_in_transaction()
            assert await conn.fetchval("show plan_cache_mode") == "force_generic_plan"
        # Both pools together never have more connections in use than max_size: a
        # search waits for the other pool's connection to come back.
        async with db.connection():
            waiting = asyncio.create_task(search("alpha"))
            await asyncio.sleep(0.2)
            assert not waiting.done() and db.stats().waiting == 1
        assert [row["id"] for row in await waiting] == [None]
        # Never compiled: at millions of documents a generic plan's estimate is past
        # jit_above_cost, and compiling cost 50 times what the search does.
        assert await db.fetchval("show jit") == "off"
    finally:
        await db.close()


async def test_a_search_cancelled_in_flight_is_cancelled_and_leaves_the_connection_clean(
        cluster):
    """Cancelled while PostgreSQL runs it (here: waits on a lock), a search ends in
    CancelledError (what timeouts and shutdown rely on), and its connection comes
    back to the pool out of the transaction, planning as before."""
    url = await fresh_database(cluster, "search_cancel")
    db = await Database.connect(url, min_size=1, max_size=1)
    locker = await asyncpg.connect(url)
    try:
        workspace = uuid.uuid4()
        await db.execute("insert into workspaces (id, name) values ($1, 'Cancel')", workspace)
        async with locker.transaction():
            await locker.execute("lock table workspaces in access exclusive mode")
            search = asyncio.create_task(search_db.search_documents(
                db, workspace, query="anything", name_like=None, excluded=None,
                filters=DocumentFilters(), after=None, offset=0, limit=10,
                with_total=True, with_snippet=True, snippet_chars=SNIPPET_SCAN_CHARS,
                snippet_options=SNIPPET_OPTIONS))
            await waiting_on_a_lock(url)
            search.cancel()
            with pytest.raises(asyncio.CancelledError):
                await search
        async with db.connection() as conn:
            assert not conn.raw.is_in_transaction()
            assert await conn.fetchval("show plan_cache_mode") == "auto"
    finally:
        await locker.close()
        await db.close()

