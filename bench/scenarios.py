"""What `make bench` measures: the request each scenario sends, and its floor.

Every scenario has a wrk request (a path, body and headers with ``__ID__``
replaced by a random id of the right kind) and a ``floor``: the same SQL the
server sends for that request, run through a bare asyncpg pool with no HTTP
and no GraphQL. The ratio of the two is how much docgraph costs on top of
its database work.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from graphql import FieldNode, parse

from docgraph.db.database import GENERIC_PLAN_SETTINGS
from docgraph.db.documents import DocumentFilters, EntityPageShape, entity_document_pages
from docgraph.db.page_json import entity_document_page_json
from docgraph.db.search import SEARCH_DOCUMENTS, SEARCH_RESEMBLING_NAMES
from docgraph.resolvers.search import SNIPPET_OPTIONS, SNIPPET_SCAN_CHARS, split_query
from docgraph.schema.lookahead import connection_selection

# The statements of the floors: the same docgraph sends for scenarios 1 to 3 (1's below).
CONTACT_PAGE = entity_document_pages(EntityPageShape(one_owner=True))
BUSINESS_PAGE = entity_document_pages(EntityPageShape(type=True, status=True, one_owner=True))

CONTACT_DOCUMENTS_QUERY = """\
query ContactDocuments($id: ID!) {
  contact(id: $id) {
    documents(first: 25) {
      totalCount
      edges {
        role
        linkedAt
        node {
          id name mimeType sizeBytes folder tags createdAt
          links { entityType entityId role }
        }
      }
    }
  }
}"""

BUSINESS_DOCUMENTS_QUERY = """\
query BusinessDocuments($id: ID!) {
  business(id: $id) {
    documents(first: 25, type: CONTRACT, status: VERIFIED) {
      totalCount
      nodes { id name type status mimeType sizeBytes userData verifiedAt createdAt updatedAt }
    }
  }
}"""


# What a search page shows: ten results, each with its snippet, and how many there are.
SEARCH_QUERY = """\
query Search($q: String!) {
  searchDocuments(query: $q, first: 10) {
    totalCount
    edges {
      rank
      snippet
      node { id name mimeType sizeBytes folder tags createdAt textStatus }
    }
  }
}"""


def graphql_body(query: str, variables: dict[str, Any]) -> str:
    return json.dumps({"query": query, "variables": variables}, separators=(",", ":"))


Floor = Callable[[asyncpg.Connection, Any, str], Awaitable[None]]


CREATE_DOCUMENT_MUTATION = """\
mutation Create($input: CreateDocumentInput!) {
  createDocument(input: $input) { id name sizeBytes createdAt }
}"""

LINK_DOCUMENT_MUTATION = """\
mutation Link($doc: ID!, $contact: ID!) {
  linkDocument(documentId: $doc, entityType: CONTACT, entityId: $contact, role: "signed") {
    created link { id createdAt }
  }
}"""

REQUEST_UPLOAD_URL_MUTATION = """\
mutation Upload($input: RequestUploadUrlInput!) {
  requestUploadUrl(input: $input) {
    uploadUrl method headers { name value } storagePath expiresAt
  }
}"""

# What scenario 4 records: every create needs a file really uploaded first.
UPLOADED_BYTES = b"%PDF-1.4\n% docgraph benchmark\n%%EOF\n"


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    method: str
    path: str
    ids: str  # "contacts", "businesses" or "search-queries" (the lines of DIR/IDS.txt)
    body: str | None = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    floor: Floor | None = None
    # The floor's connections' settings, as docgraph's for the same statements.
    floor_settings: dict[str, str] = dataclasses.field(default_factory=dict)
    # "random": one request per id; "create_and_link": scenario 4's pairs of mutations
    kind: str = "random"


def _written_page(query: str) -> str:
    """The statement docgraph sends for ``query``'s one documents connection, which asks
    only for stored values: the page written as JSON by PostgreSQL (db.page_json)."""
    node = next(n for n in _fields(parse(query)) if n.name.value == "documents")
    selection = connection_selection(node)
    assert selection is not None, "the scenario's page is one docgraph writes as JSON"
    return entity_document_page_json(EntityPageShape(one_owner=True), selection.lists)


def _fields(node: Any) -> list[FieldNode]:
    found = []
    for child in getattr(node, "definitions", None) or (
            node.selection_set.selections if getattr(node, "selection_set", None) else ()):
        if isinstance(child, FieldNode):
            found.append(child)
        found += _fields(child)
    return found


CONTACT_PAGE_JSON = _written_page(CONTACT_DOCUMENTS_QUERY)


async def contact_documents_floor(conn: asyncpg.Connection, workspace_id: Any,
                                  entity_id: str) -> None:
    # The page, its total and its documents' links in one statement, written as JSON.
    await conn.fetch(CONTACT_PAGE_JSON, workspace_id, entity_id, 0, 26, 25)


async def contact_page_floor(conn: asyncpg.Connection, workspace_id: Any,
                             entity_id: str) -> None:
    await conn.fetch(CONTACT_PAGE, workspace_id, entity_id, 0, 26)


async def business_documents_floor(conn: asyncpg.Connection, workspace_id: Any,
                                   entity_id: str) -> None:
    await conn.fetch(BUSINESS_PAGE, workspace_id, entity_id, "contract", "verified", 0, 26)


async def search_floor(conn: asyncpg.Connection, workspace_id: Any, line: str) -> None:
    # The line is the query as it stands inside a JSON string.
    query = json.loads(f'"{line}"')
    terms = split_query(query)
    arguments = (workspace_id, query, terms.name_words, terms.excluded,
                 *DocumentFilters().arguments(), None, None, None, 0, 11, True, True,
                 SNIPPET_SCAN_CHARS, SNIPPET_OPTIONS, False)
    rows = await conn.fetch(SEARCH_DOCUMENTS, *arguments)
    if terms.name_words and not rows[0]["matched"]:
        await conn.fetch(SEARCH_RESEMBLING_NAMES, *arguments)


SCENARIOS: list[Scenario] = [
    Scenario(
        name="graphql_contact_documents",
        title="GraphQL: contact's 25 newest documents + links",
        method="POST", path="/graphql", ids="contacts",
        body=graphql_body(CONTACT_DOCUMENTS_QUERY, {"id": "__ID__"}),
        headers={"Content-Type": "application/json"},
        floor=contact_documents_floor,
    ),
    Scenario(
        name="rest_contact_documents",
        title="REST: GET /v1/contacts/{id}/documents",
        method="GET", path="/v1/contacts/__ID__/documents?per_page=25", ids="contacts",
        floor=contact_page_floor,
    ),
    Scenario(
        name="graphql_business_documents",
        title="GraphQL: business's documents by type and status",
        method="POST", path="/graphql", ids="businesses",
        body=graphql_body(BUSINESS_DOCUMENTS_QUERY, {"id": "__ID__"}),
        headers={"Content-Type": "application/json"},
        floor=business_documents_floor,
    ),
    Scenario(
        name="graphql_create_and_link",
        title="GraphQL: createDocument + linkDocument (Idem.-Key)",
        method="POST", path="/graphql", ids="contacts", kind="create_and_link",
        body=graphql_body(CREATE_DOCUMENT_MUTATION, {"input": {
            "name": "bench.pdf", "mimeType": "application/pdf", "storagePath": "__PATH__",
            "tags": ["bench"]}}),
        headers={"Content-Type": "application/json"},
    ),
    Scenario(
        name="graphql_request_upload_url",
        title="GraphQL: requestUploadUrl",
        method="POST", path="/graphql", ids="contacts",
        body=graphql_body(REQUEST_UPLOAD_URL_MUTATION, {"input": {
            "fileName": "scan-__N__.pdf", "mimeType": "application/pdf",
            "sizeBytes": 183204}}),
        headers={"Content-Type": "application/json"},
    ),
    Scenario(
        name="graphql_search",
        title="GraphQL: searchDocuments, 10 results + snippets",
        method="POST", path="/graphql", ids="search-queries",
        body=graphql_body(SEARCH_QUERY, {"q": "__ID__"}),
        headers={"Content-Type": "application/json"},
        floor=search_floor, floor_settings=GENERIC_PLAN_SETTINGS,  # as db.search runs
    ),
]

LINK_BODY = graphql_body(LINK_DOCUMENT_MUTATION, {"doc": "__DOC__", "contact": "__ID__"})
