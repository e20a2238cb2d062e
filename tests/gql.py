"""A small GraphQL client over the test server, and fixtures that build graph data."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant

DOCUMENT_FIELDS = """
    id name description mimeType sizeBytes storagePath folder tags type status userData
    verifiedAt rejectionReason createdBy createdAt updatedAt attachmentType
"""


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

    async def create_document(self, **fields: Any) -> dict[str, Any]:
        n = uuid.uuid4().hex[:8]
        values = {"name": f"doc-{n}.pdf", "mimeType": "application/pdf",
                  "storagePath": f"uploads/{n}.pdf", "sizeBytes": 1000, **fields}
        data = await self(
            f"mutation($input: CreateDocumentInput!) {{ createDocument(input: $input) "
            f"{{ {DOCUMENT_FIELDS} }} }}", {"input": values})
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
