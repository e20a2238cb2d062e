"""Pages the database writes (``resolvers.rendered_pages``) answer byte for byte
as the records would.

Each query runs on two live servers over the same database: the compiled one,
which takes an entity's page as JSON written by PostgreSQL when the query asks
only for stored values, and one with the compiled path off, which builds every
value from records. The documents carry the values whose spelling could differ:
quotes, backslashes, control characters, emoji and right-to-left text, empty and
missing values, times with and without microseconds.
"""

from __future__ import annotations

import random
import uuid

import pytest

from docgraph.db.page_json import Form
from docgraph.resolvers.rendered_pages import DOCUMENT_COLUMNS, LINK_COLUMNS

STORED = """id name description mimeType sizeBytes storagePath folder tags type status
            verifiedAt rejectionReason createdBy createdAt updatedAt detectedMimeType
            scanStatus scanSignature scannedAt pageCount textStatus textLength
            textStatusReason"""
LINKS = "links { id documentId entityType entityId role createdAt }"

RENDERED = {
    "every stored value, by edges": f"""
        query($id: ID!) {{
          contact(id: $id) {{
            id name
            documents(first: 25) {{
              totalCount
              pageInfo {{ hasNextPage hasPreviousPage }}
              edges {{ role linkedAt node {{ {STORED} {LINKS} }} }}
            }}
          }}
        }}""",
    "aliases, nodes and edges together, past an offset": """
        query($id: ID!) {
          person: contact(id: $id) {
            page: documents(first: 2, offset: 3) {
              all: totalCount
              docs: nodes { key: id title: name labels: tags made: createdAt }
              e: edges { node { id } how: role when: linkedAt }
              info: pageInfo { more: hasNextPage before: hasPreviousPage }
            }
          }
        }""",
    "newest link first, filtered by role": """
        query($id: ID!) {
          contact(id: $id) {
            documents(first: 3, orderBy: LINKED_AT, role: "signed") {
              totalCount edges { role linkedAt node { id name links { entityType role } } }
            }
          }
        }""",
    "a business's page filtered by type and status, without a total": """
        query($business: ID!) {
          business(id: $business) {
            documents(first: 4, type: CONTRACT, status: PENDING) {
              nodes { id type status verifiedAt }
              pageInfo { hasNextPage }
            }
          }
        }""",
    "a business's page filtered by type, with its total": """
        query($business: ID!) {
          business(id: $business) {
            documents(first: 2, type: CONTRACT) { totalCount nodes { id name } }
          }
        }""",
    "several contacts in one query": """
        query($id: ID!, $business: ID!, $missing: ID!) {
          a: contact(id: $id) { documents(first: 2) { totalCount nodes { id } } }
          b: business(id: $business) { documents(first: 2) { totalCount nodes { id } } }
          c: contact(id: $missing) { documents(first: 2) { totalCount nodes { id } } }
        }""",
    "only the total and whether pages follow (no list)": """
        query($id: ID!) {
          contact(id: $id) {
            documents(first: 1) { totalCount pageInfo { hasNextPage hasPreviousPage } }
          }
        }""",
    "an empty page": """
        query($id: ID!) {
          contact(id: $id) {
            documents(first: 5, role: "nobody") { totalCount nodes { id } edges { role } }
          }
        }""",
    "past the end": """
        query($id: ID!) {
          contact(id: $id) { documents(first: 5, offset: 40) { totalCount nodes { id } } }
        }""",
    "an unknown contact": """
        query($missing: ID!) {
          contact(id: $missing) { documents(first: 3) { totalCount nodes { id } } }
        }""",
    "a business asked for as a contact": """
        query($business: ID!) {
          contact(id: $business) { documents(first: 3) { nodes { id } } }
        }""",
}

# Asked of the same pages, but with a value the server computes: the usual path.
NOT_RENDERED = {
    "a cursor": """
        query($id: ID!) { contact(id: $id) { documents(first: 2) { edges { cursor } } } }""",
    "the user's data (JSON)": """
        query($id: ID!) { contact(id: $id) { documents(first: 2) { nodes { userData } } } }""",
    "a fragment": """
        fragment F on Document { id }
        query($id: ID!) { contact(id: $id) { documents(first: 2) { nodes { ...F } } } }""",
    "a link's entity": """
        query($id: ID!) {
          contact(id: $id) { documents(first: 2) { nodes { links { entity { id } } } } }
        }""",
    "__typename": """
        query($id: ID!) { contact(id: $id) { documents(first: 2) { __typename } } }""",
    "a field asked twice": """
        query($id: ID!) { contact(id: $id) { documents(first: 2) { nodes { id id } } } }""",
    "more keys than one object can be written with": (  # 24 fields and 28 aliases
        "query($id: ID!) { contact(id: $id) { documents(first: 2) { nodes { "
        + STORED + " " + LINKS + " " + " ".join(f"k{i}: name" for i in range(28))
        + " } } } }"),
    "two pages of one contact": """
        query($id: ID!) {
          contact(id: $id) { a: documents(first: 1) { nodes { id } }
                             b: documents(first: 2) { nodes { id } } }
        }""",
}

NAMES = ['quote " and back\\slash', "tab\tnew\nline\x01\x1f", "emoji 📄 and עברית",
         "<b>&amp;</b> 'single'", "\u2028 line separator", "plain.pdf", "zero µs"]


async def pages(gql, db) -> dict[str, str]:
    contact = await gql.create_entity("CONTACT", name='Ada "Lovelace"')
    business = await gql.create_entity("COMPANY", name="Acme")
    for i, name in enumerate(NAMES):
        document = await gql.create_document(
            type="CONTRACT", **({"folder": f"/clients/{i}"} if i % 3 == 0 else {}))
        await gql.link(document["id"], "CONTACT", contact, "signed" if i % 2 else None)
        await gql.link(document["id"], "COMPANY", business, "client")
        # Written as stored data (the API refuses control characters in names).
        await db.execute(
            "update documents set name = $2, tags = $3, description = $4 where id = $1",
            uuid.UUID(document["id"]), name, [name[:10], "nda"] if i % 2 else [],
            f"about {name}" if i % 3 == 0 else None)
        if name == "zero µs":  # times on a whole second: no fraction is written
            await db.execute(
                "update documents set created_at = date_trunc('second', created_at), "
                "verified_at = '2026-01-02T03:04:05Z', status = 'verified' "
                "where id = $1", uuid.UUID(document["id"]))
            # (Links carry their document's time: documents never change it.)
            await db.execute("update links set created_at = date_trunc('second', created_at), "
                             "document_created_at = date_trunc('second', document_created_at) "
                             "where document_id = $1", uuid.UUID(document["id"]))
    return {"id": contact, "business": business, "missing": str(uuid.uuid4())}


async def both(gql, uncompiled_gql, query, variables):
    used = {k: v for k, v in variables.items() if f"${k}" in query}
    compiled = await gql.post(query, used)
    reference = await uncompiled_gql.post(query, used)
    assert compiled.status_code == reference.status_code == 200
    assert compiled.content == reference.content
    body = compiled.json()
    assert "errors" not in body, body
    return body


@pytest.mark.parametrize("name", list(RENDERED))
async def test_a_page_the_database_writes_is_the_same_answer(gql, uncompiled_gql, executions,
                                                             db, name):
    variables = await pages(gql, db)
    before = dict(executions)
    body = await both(gql, uncompiled_gql, RENDERED[name], variables)
    assert executions["compiled"] == before["compiled"] + 1
    unknown = "unknown" in name or "as a contact" in name
    assert executions["rendered"] == before["rendered"] + (
        0 if unknown else 2 if "several" in name else 1)
    if unknown:
        assert body["data"] == {"contact": None}


@pytest.mark.parametrize("name", list(NOT_RENDERED))
async def test_a_value_the_server_computes_takes_the_usual_path(gql, uncompiled_gql,
                                                                executions, db, name):
    variables = await pages(gql, db)
    before = dict(executions)
    await both(gql, uncompiled_gql, NOT_RENDERED[name], variables)
    assert executions["rendered"] == before["rendered"]
    assert executions["fell_back"] == before["fell_back"]  # decided before, not by failing


async def test_a_page_after_a_cursor(gql, uncompiled_gql, executions, db):
    """A cursor from one query serves a written page in another, in both orders."""
    variables = await pages(gql, db)
    for order in ("CREATED_AT", "LINKED_AT"):
        first = await gql.result(
            "query($id: ID!, $o: LinkedDocumentOrder!) { contact(id: $id) { "
            "documents(first: 2, orderBy: $o) { edges { cursor } } } }",
            {"id": variables["id"], "o": order})
        cursor = first["data"]["contact"]["documents"]["edges"][-1]["cursor"]
        before = executions["rendered"]
        body = await both(gql, uncompiled_gql, """
            query($id: ID!, $after: String, $o: LinkedDocumentOrder!) {
              contact(id: $id) {
                documents(first: 3, after: $after, orderBy: $o) {
                  totalCount nodes { id name } pageInfo { hasNextPage hasPreviousPage }
                }
              }
            }""", {"id": variables["id"], "after": cursor, "o": order})
        assert executions["rendered"] == before + 1
        page = body["data"]["contact"]["documents"]
        assert page["pageInfo"] == {"hasNextPage": True, "hasPreviousPage": True}
        assert len(page["nodes"]) == 3


async def test_the_written_page_holds_the_stored_values(gql, db):
    """Not only alike: right. The first page, newest first, with every link."""
    variables = await pages(gql, db)
    body = await gql.result(RENDERED["every stored value, by edges"], {"id": variables["id"]})
    page = body["data"]["contact"]["documents"]
    assert page["totalCount"] == len(NAMES)
    assert page["pageInfo"] == {"hasNextPage": False, "hasPreviousPage": False}
    newest_first = await db.fetch(
        "select d.name from documents d join links l on l.document_id = d.id "
        "where l.entity_id = $1 order by d.created_at desc, d.id desc",
        uuid.UUID(variables["id"]))
    assert [e["node"]["name"] for e in page["edges"]] == [r["name"] for r in newest_first]
    assert sorted(e["node"]["name"] for e in page["edges"]) == sorted(NAMES)
    zero = next(e for e in page["edges"] if e["node"]["name"] == "zero µs")
    assert zero["node"]["verifiedAt"] == "2026-01-02T03:04:05+00:00"
    assert "." not in zero["node"]["createdAt"] and "." not in zero["linkedAt"]
    assert all(len(e["node"]["links"]) == 2 for e in page["edges"])
    assert {link["entityType"] for e in page["edges"] for link in e["node"]["links"]} == {
        "CONTACT", "COMPANY"}


async def test_another_workspaces_contact_is_null(gql, other_gql, executions, db):
    """The page is written for the caller's workspace only: another tenant's contact
    id answers null, and nothing of its documents."""
    theirs = await pages(other_gql, db)
    body = await gql.result(RENDERED["every stored value, by edges"], {"id": theirs["id"]})
    assert body == {"data": {"contact": None}}


def test_the_declared_columns_are_the_documents_and_links_stored_fields():
    assert {"id", "name", "mime_type", "size_bytes", "tags", "created_at",
            "text_status"} <= set(DOCUMENT_COLUMNS)
    # Computed or JSON values are never written by the database.
    assert not {"user_data", "sha256", "attachment_type", "image"} & set(DOCUMENT_COLUMNS)
    assert set(LINK_COLUMNS) == {"id", "document_id", "entity_type", "entity_id", "role",
                                 "created_at"}


async def test_columns_written_as_uuids_are_uuids_in_the_database(db):
    """A UUID's text needs no escaping: only uuid columns are written without it."""
    declared = {("documents", c.name) for c in DOCUMENT_COLUMNS.values()
                if c.form is Form.UUID}
    declared |= {("links", c.name) for c in LINK_COLUMNS.values() if c.form is Form.UUID}
    assert ("documents", "id") in declared and ("links", "entity_id") in declared
    types = {(r["table_name"], r["column_name"]): r["data_type"] for r in await db.fetch(
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_schema = current_schema() and table_name in ('documents', 'links')")}
    assert {types[column] for column in declared} == {"uuid"}


def random_selection(rng: random.Random) -> str:
    """A documents connection asking for stored values only, in a random order, some
    under aliases."""
    def pick(names: list[str], low: int) -> str:
        chosen = rng.sample(names, rng.randint(low, len(names)))
        return " ".join(f"{name[:3]}{i}: {name}" if rng.random() < 0.2 else name
                        for i, name in enumerate(chosen))

    document = pick(STORED.split(), 1)
    if rng.random() < 0.6:
        document += " links { " + pick(
            ["id", "documentId", "entityType", "entityId", "role", "createdAt"], 1) + " }"
    parts = []
    if rng.random() < 0.5:
        parts.append("totalCount")
    if rng.random() < 0.7:
        parts.append("edges { " + " ".join(rng.sample(
            ["role", "linkedAt", f"node {{ {document} }}"], rng.randint(1, 3))) + " }")
    if rng.random() < 0.5 or not parts:
        parts.append(f"nodes {{ {document} }}")
    if rng.random() < 0.4:
        parts.append("pageInfo { " + " ".join(rng.sample(
            ["hasNextPage", "hasPreviousPage"], rng.randint(1, 2))) + " }")
    rng.shuffle(parts)
    arguments = rng.choice(["first: 3", "first: 2, offset: 1", "first: 4, orderBy: LINKED_AT",
                            'first: 5, role: "signed"', "first: 1, type: CONTRACT"])
    return f"query($id: ID!) {{ contact(id: $id) {{ documents({arguments}) {{ " \
           f"{' '.join(parts)} }} }} }}"


async def test_random_selections_are_written_as_the_records_would(gql, uncompiled_gql,
                                                                   executions, db):
    variables = await pages(gql, db)
    rng = random.Random(16)
    for _ in range(40):
        query = random_selection(rng)
        before = executions["rendered"]
        await both(gql, uncompiled_gql, query, variables)
        assert executions["rendered"] == before + 1, query


@pytest.mark.parametrize("name", ["every stored value, by edges", "several contacts in one query"])
async def test_a_key_that_may_not_read_is_refused_alike(gql, uncompiled_gql, executions, db,
                                                        tenant, name):
    """Without read:documents, the same refusals from both executors; nothing is written."""
    variables = await pages(gql, db)
    query = RENDERED[name]
    used = {k: v for k, v in variables.items() if f"${k}" in query}
    before = executions["rendered"]
    compiled = await gql.post(query, used, key=tenant.write_key)
    reference = await uncompiled_gql.post(query, used, key=tenant.write_key)
    assert compiled.status_code == reference.status_code == 200
    assert compiled.content == reference.content
    assert {e["extensions"]["code"] for e in compiled.json()["errors"]} == {
        "insufficient_permissions"}
    assert executions["rendered"] == before


@pytest.mark.parametrize("arguments", ['first: 101', 'first: -1', 'offset: 100000000000',
                                       'after: "bm90IGEgY3Vyc29y"', 'role: ""'])
async def test_bad_page_arguments_get_the_same_errors(gql, uncompiled_gql, db, arguments):
    variables = await pages(gql, db)
    query = ("query($id: ID!) { contact(id: $id) { documents(" + arguments
             + ") { totalCount nodes { id name } } } }")
    compiled = await gql.post(query, {"id": variables["id"]})
    reference = await uncompiled_gql.post(query, {"id": variables["id"]})
    assert compiled.status_code == reference.status_code
    assert compiled.content == reference.content
    assert compiled.json()["errors"]


@pytest.mark.parametrize("order", ["CREATED_AT", "LINKED_AT"])
async def test_a_filtered_page_after_a_cursor_and_past_the_end(gql, uncompiled_gql, executions,
                                                               db, order):
    """Filtered by the documents' columns, the page counts its total and what precedes
    the cursor in its own pass; past the end (no row), they are counted apart."""
    variables = await pages(gql, db)
    walk = await gql.result(
        "query($id: ID!, $o: LinkedDocumentOrder!) { contact(id: $id) { "
        "documents(first: 100, orderBy: $o, status: PENDING) { edges { cursor } } } }",
        {"id": variables["id"], "o": order})
    cursors = [e["cursor"] for e in walk["data"]["contact"]["documents"]["edges"]]
    assert len(cursors) == len(NAMES) - 1  # one document is verified
    for after, rows in ((cursors[1], 3), (cursors[-1], 0)):
        before = executions["rendered"]
        body = await both(gql, uncompiled_gql, """
            query($id: ID!, $after: String, $o: LinkedDocumentOrder!) {
              contact(id: $id) {
                documents(first: 3, after: $after, orderBy: $o, type: CONTRACT,
                          status: PENDING) {
                  totalCount pageInfo { hasNextPage hasPreviousPage } edges { role node { id } }
                }
              }
            }""", {"id": variables["id"], "after": after, "o": order})
        assert executions["rendered"] == before + 1
        page = body["data"]["contact"]["documents"]
        assert page["totalCount"] == len(NAMES) - 1
        assert page["pageInfo"] == {"hasNextPage": rows > 0, "hasPreviousPage": True}
        assert len(page["edges"]) == rows
