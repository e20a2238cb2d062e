"""A small GraphQL client over the test server, and fixtures that build graph data."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from docgraph.http.paths import GRAPHQL_PATH
from tests.conftest import LiveServer, Tenant, make_settings, served

DOCUMENT_FIELDS = """
    id name description mimeType sizeBytes storagePath folder tags type status userData
    verifiedAt rejectionReason createdBy createdAt updatedAt attachmentType sha256
    image { width height }
"""
REQUEST_UPLOAD_URL = """
mutation($input: RequestUploadUrlInput!) {
  requestUploadUrl(input: $input) {
    uploadUrl method headers { name value } storagePath expiresAt
  }
}
"""
CREATE_DOCUMENT = f"""
mutation($input: CreateDocumentInput!) {{ createDocument(input: $input) {{ {DOCUMENT_FIELDS} }} }}
"""


async def put_upload(client: httpx.AsyncClient, ticket: dict[str, Any],
                     content: bytes) -> httpx.Response:
    """PUT ``content`` to a requestUploadUrl answer, as any HTTP client would (no API key)."""
    headers = {h["name"]: h["value"] for h in ticket["headers"]}
    return await client.request(ticket["method"], ticket["uploadUrl"], content=content,
                                headers=headers)


PDF = b"%PDF-1.4\n% docgraph test document\n%%EOF\n"


def default_content(mime_type: Any, n: str) -> bytes:
    """A test document's bytes when a test gives none: a PDF's first line for a PDF,
    else a line of text (the type detector cannot tell it from any declared type)."""
    if mime_type == "application/pdf":
        return f"%PDF-1.4 {n}".encode()
    return f"docgraph test document {n}\n".encode()


async def request_upload(client: httpx.AsyncClient, headers: dict[str, str],
                         content: bytes = PDF, *, file_name: str = "contract.pdf",
                         mime_type: str = "application/pdf") -> httpx.Response:
    """POST requestUploadUrl with ``headers`` (a key); the raw answer."""
    return await client.post("/graphql", headers=headers, json={
        "query": REQUEST_UPLOAD_URL, "variables": {"input": {
            "fileName": file_name, "mimeType": mime_type, "sizeBytes": len(content)}}})


async def uploaded_path(client: httpx.AsyncClient, headers: dict[str, str],
                        content: bytes = PDF, *, file_name: str = "contract.pdf",
                        mime_type: str = "application/pdf") -> str:
    """requestUploadUrl, then PUT ``content``: the storage path, its bytes in place."""
    r = await request_upload(client, headers, content, file_name=file_name,
                             mime_type=mime_type)
    assert r.status_code == 200 and "errors" not in r.json(), r.text
    ticket = r.json()["data"]["requestUploadUrl"]
    put = await put_upload(client, ticket, content)
    assert put.status_code == 200, put.text
    return str(ticket["storagePath"])


GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"


def assert_graphql_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """A refusal at /graphql: a GraphQL response whose one error carries ``code``, no data."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].split(";")[0] in ("application/json",
                                                        GRAPHQL_RESPONSE_JSON), r.headers
    body = r.json()
    assert set(body) == {"errors"}, body
    [error] = body["errors"]
    assert set(error) <= {"message", "locations", "extensions"}, error
    assert error["message"]
    assert error["extensions"]["code"] == code, error
    assert r.headers["x-request-id"]
    return dict(error)


class GraphQL:
    """Posts operations to /graphql with one tenant's keys."""

    def __init__(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        self.client = client
        self.tenant = tenant

    async def post(self, query: str, variables: dict[str, Any] | None = None, *,
                   key: str | None = None) -> httpx.Response:
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        return await self.client.post("/graphql", json=body, headers=self.tenant.headers(key))

    async def result(self, query: str, variables: dict[str, Any] | None = None, *,
                     key: str | None = None) -> dict[str, Any]:
        r = await self.post(query, variables, key=key)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/json")
        return r.json()

    async def __call__(self, query: str, variables: dict[str, Any] | None = None, *,
                       key: str | None = None) -> dict[str, Any]:
        """The operation's data; fails the test on any error."""
        body = await self.result(query, variables, key=key)
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def error(self, query: str, variables: dict[str, Any] | None = None, *,
                    code: str, key: str | None = None) -> dict[str, Any]:
        """The operation's one error, which must carry ``code``."""
        body = await self.result(query, variables, key=key)
        assert "errors" in body, body
        assert len(body["errors"]) == 1, body["errors"]
        error = body["errors"][0]
        assert error["extensions"]["code"] == code, error
        assert error["message"]
        return error

    # -- building data ---------------------------------------------------------

    async def upload(self, content: bytes, *, file_name: str = "file.pdf",
                     mime_type: str = "application/pdf", sha256: str | None = None,
                     key: str | None = None) -> dict[str, Any]:
        """requestUploadUrl, then PUT ``content`` to it: the ticket, bytes in place."""
        values: dict[str, Any] = {"fileName": file_name, "mimeType": mime_type,
                                  "sizeBytes": len(content)}
        if sha256 is not None:
            values["sha256"] = sha256
        ticket = (await self(REQUEST_UPLOAD_URL, {"input": values}, key=key))[
            "requestUploadUrl"]
        r = await put_upload(self.client, ticket, content)
        assert r.status_code == 200, r.text
        return ticket

    async def create_document(self, content: bytes | None = None, *, key: str | None = None,
                              **fields: Any) -> dict[str, Any]:
        """A document recorded the real way: upload ``content`` (default: a few bytes,
        a PDF's first line for a PDF, else a line of text, which any declared type
        accepts), then createDocument with ``fields`` (camelCase; defaults for name
        and mimeType)."""
        n = uuid.uuid4().hex[:8]
        values = {"name": f"doc-{n}.pdf", "mimeType": "application/pdf", **fields}
        if "storagePath" not in values:
            body = content if content is not None else default_content(values["mimeType"], n)
            ticket = await self.upload(body, file_name=values["name"],
                                       mime_type=values["mimeType"], key=key)
            values["storagePath"] = ticket["storagePath"]
        data = await self(CREATE_DOCUMENT, {"input": values}, key=key)
        return data["createDocument"]

    async def create_entity(self, entity_type: str = "CONTACT", name: str | None = "Ada",
                            **fields: Any) -> str:
        values = {"entityType": entity_type, **fields}
        if name is not None:
            values["name"] = name
        data = await self("mutation($input: CreateEntityInput!) { createEntity(input: $input) "
                          "{ id } }", {"input": values})
        return data["createEntity"]["id"]

    async def link(self, document_id: str, entity_type: str, entity_id: str,
                   role: str | None = None) -> dict[str, Any]:
        data = await self(
            "mutation($d: ID!, $t: EntityType!, $e: ID!, $r: String) { "
            "linkDocument(documentId: $d, entityType: $t, entityId: $e, role: $r) "
            "{ created link { id documentId entityType entityId role createdAt } } }",
            {"d": document_id, "t": entity_type, "e": entity_id, "r": role})
        return data["linkDocument"]


@pytest.fixture
def gql(client: httpx.AsyncClient, tenant: Tenant) -> GraphQL:
    return GraphQL(client, tenant)


@pytest.fixture
def other_gql(client: httpx.AsyncClient, other_tenant: Tenant) -> GraphQL:
    return GraphQL(client, other_tenant)


# A second server with the compiled path off, on the same database: what graphql-core's
# own executor answers, to compare the compiled path's answers with.
@pytest.fixture(scope="module")
def uncompiled_server(tmp_root, database_url) -> Iterator[LiveServer]:
    settings = make_settings(tmp_root, graphql_compiled=False)
    with served(settings, database_url) as live:
        yield live


@pytest.fixture
def executions(server) -> dict[str, int]:
    """How the compiled server's fast path executed operations (its counters)."""
    route = next(r for r in server.app.routes if getattr(r, "path", None) == GRAPHQL_PATH)
    return route.endpoint.fast.executions


@pytest.fixture
async def uncompiled_gql(uncompiled_server, tenant) -> AsyncIterator[GraphQL]:
    async with httpx.AsyncClient(base_url=uncompiled_server.url, timeout=30) as c:
        yield GraphQL(c, tenant)
