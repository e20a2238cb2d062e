"""A small REST client over the test server, fixtures that build data through it, and checks."""

from __future__ import annotations

import io
import re
import uuid
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.conftest import Tenant
from tests.gql import default_content

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

# The exact field sets of each seed's objects.
DOCUMENT_RECORD_FIELDS = {"id", "name", "description", "mime_type", "size_bytes",
                          "storage_path", "folder", "tags", "created_by", "created_at",
                          "updated_at"}  # seed 002
CONTACT_DOCUMENT_FIELDS = {"id", "name", "mime_type", "size_bytes", "folder", "tags", "role",
                           "linked_at", "created_at"}  # seed 000
LINK_FIELDS = {"link_id", "document_id", "entity_type", "entity_id", "role",
               "created_at"}  # seed 001
BUSINESS_DOCUMENT_FIELDS = {"id", "business_id", "filename", "type", "status", "mime_type",
                            "size_bytes", "user_data", "created_at", "updated_at"}  # seed 004
ENTITY_FIELDS = {"id", "entity_type", "name", "attributes", "created_at", "updated_at"}


RATE_LIMIT_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


def png(width: int, height: int) -> bytes:
    """A real PNG image of that size."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (20, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def assert_common_headers(r: httpx.Response) -> None:
    """What every REST response carries, errors included: its request id and rate limit."""
    assert r.headers.get("x-request-id"), "every response carries X-Request-ID"
    for name in RATE_LIMIT_HEADERS:
        assert r.headers.get(name, "").isdigit(), f"{name} missing or malformed: {r.headers}"


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is the error body of DESIGN.md with this status and code."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details", "request_id"}
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    assert body["error"]["request_id"] == r.headers["x-request-id"]
    return body["error"]


def bad_fields(r: httpx.Response) -> dict[str, str]:
    """The fields a 400 validation_error names."""
    return assert_error(r, 400, "validation_error")["details"]["fields"]


class RestAPI:
    """Calls the REST shim with one tenant's keys (the full key unless told otherwise)."""

    def __init__(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        self.client = client
        self.tenant = tenant

    async def request(self, method: str, path: str, *, key: str | None = None,
                      **kwargs: Any) -> httpx.Response:
        headers = {**self.tenant.headers(key), **kwargs.pop("headers", {})}
        r = await self.client.request(method, path, headers=headers, **kwargs)
        assert_common_headers(r)
        return r

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kwargs)

    async def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        r = await self.request(method, path, **kwargs)
        assert r.status_code == status, r.text
        assert r.headers["content-type"].startswith("application/json")
        return r.json()

    # -- building data ---------------------------------------------------------

    async def upload(self, content: bytes, *, file_name: str = "file.pdf",
                     mime_type: str = "application/pdf", **fields: Any) -> dict[str, Any]:
        """POST /v1/documents/upload-url, then PUT ``content`` there: the ticket."""
        ticket = (await self.ok("POST", "/v1/documents/upload-url", 201, json={
            "file_name": file_name, "mime_type": mime_type, "size_bytes": len(content),
            **fields}))["data"]
        r = await self.client.request(ticket["method"], ticket["upload_url"], content=content,
                                      headers=ticket["headers"])
        assert r.status_code == 200, r.text
        return ticket

    async def create_document(self, content: bytes | None = None,
                              **fields: Any) -> dict[str, Any]:
        """A document recorded the real way: upload ``content`` (default: a few bytes),
        then POST /v1/documents with ``fields`` (defaults for name and mime_type)."""
        n = uuid.uuid4().hex[:8]
        body = {"name": f"doc-{n}.pdf", "mime_type": "application/pdf", **fields}
        if "storage_path" not in body:
            data = content if content is not None else default_content(body["mime_type"], n)
            ticket = await self.upload(data, file_name=body["name"],
                                       mime_type=body["mime_type"])
            body["storage_path"] = ticket["storage_path"]
        return (await self.ok("POST", "/v1/documents", 201, json=body))["data"]

    async def create_contact(self, name: str = "Ada Lovelace", **fields: Any) -> dict[str, Any]:
        return (await self.ok("POST", "/v1/contacts", 201,
                              json={"name": name, **fields}))["data"]

    async def create_business(self, name: str = "Acme", **fields: Any) -> dict[str, Any]:
        return (await self.ok("POST", "/v1/businesses", 201,
                              json={"name": name, **fields}))["data"]

    async def create_entity(self, entity_type: str, **fields: Any) -> dict[str, Any]:
        return (await self.ok("POST", "/v1/entities", 201,
                              json={"entity_type": entity_type, **fields}))["data"]

    async def link(self, document_id: str, entity_type: str, entity_id: str,
                   role: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"entity_type": entity_type, "entity_id": entity_id}
        if role is not None:
            body["role"] = role
        r = await self.post(f"/v1/documents/{document_id}/link", json=body)
        assert r.status_code in (200, 201), r.text
        return r.json()["data"]


@pytest.fixture
def api(client: httpx.AsyncClient, tenant: Tenant) -> RestAPI:
    return RestAPI(client, tenant)


@pytest.fixture
def other_api(client: httpx.AsyncClient, other_tenant: Tenant) -> RestAPI:
    return RestAPI(client, other_tenant)
