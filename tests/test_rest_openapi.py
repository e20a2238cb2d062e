"""The OpenAPI document: public, valid 3.1, in step with the live routes, and true.

"True" is checked twice: here, every endpoint's happy path (and each error
body) is validated against the schema the document gives for it; the fuzz
tests (``test_fuzz.py``) then throw generated requests at every operation.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import jsonschema
import pytest
from openapi_spec_validator import validate as validate_spec
from starlette.routing import Route

from tests.rest import assert_error, png

SHIM_PREFIXES = ("/v1/", "/contacts/v4/")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@pytest.fixture(scope="module")
async def spec(server) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.url) as c:
        r = await c.get("/v1/openapi.json")  # no key
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.headers["x-request-id"]
    return r.json()


def test_the_document_is_valid_openapi_3_1(spec):
    assert spec["openapi"] == "3.1.0"
    validate_spec(spec)
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        **spec["components"]["securitySchemes"]["bearerAuth"], "type": "http",
        "scheme": "bearer"}
    assert spec["security"] == [{"bearerAuth": []}]


def live_routes(app) -> set[tuple[str, str]]:
    found = set()
    for route in app.routes:
        if isinstance(route, Route) and route.path.startswith(SHIM_PREFIXES):
            found |= {(route.path, m.lower()) for m in route.methods or () if m != "HEAD"}
    return found


def documented_routes(spec) -> set[tuple[str, str]]:
    return {(path, method) for path, item in spec["paths"].items()
            for method in item if method in METHODS}


def test_every_live_route_is_documented_and_nothing_else(spec, server):
    live = live_routes(server.app)
    assert live  # the comparison below cannot pass vacuously
    assert ("/v1/contacts/{id}/documents", "get") in live
    assert documented_routes(spec) == live


def test_every_operation_documents_its_errors_and_headers(spec):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            responses = op["responses"]
            where = (path, method)
            assert any(s.startswith("2") for s in responses), where
            assert "429" in responses, where
            if op.get("security") != []:
                assert {"400", "401", "404", "503"} <= set(responses), where
            if "requestBody" in op:
                assert "413" in responses, where
            params = {p["name"] for p in op.get("parameters", [])}
            assert ("Idempotency-Key" in params) == (method == "post"), where
            if method == "post":
                assert {"409", "422"} <= set(responses), where
            for status, response in responses.items():
                headers = resolve(spec, response)["headers"]
                assert headers["X-Request-ID"]["required"] is True, (*where, status)
                if status != "503":  # no database: nothing counted
                    for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining",
                                 "X-RateLimit-Reset"):
                        assert headers[name]["required"] is True, (*where, status, name)
                if status in ("429", "503"):
                    assert headers["Retry-After"]["required"] is True, (*where, status)


def test_the_error_codes_include_every_app_error(spec):
    codes = spec["components"]["schemas"]["Error"]["properties"]["error"]["properties"][
        "code"]["enum"]
    assert {"validation_error", "invalid_key", "insufficient_permissions", "not_found",
            "storage_conflict", "conflict", "rate_limited", "unavailable",
            "method_not_allowed"} <= set(codes)



async def wait_for_preview(api, path: str) -> None:
    """Until the background job has made the contact's image's preview."""
    for _ in range(200):
        body = (await api.ok("GET", path))
        if any("previewImage" in a for a in body["attachments"]):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("no preview was made")


def resolve(spec: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in item:
        node: Any = spec
        for part in item["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        item = node
    return item


def assert_conforms(spec: dict[str, Any], method: str, template: str,
                    r: httpx.Response) -> None:
    """The response is documented for this operation, and its body and headers match."""
    op = spec["paths"][template][method.lower()]
    assert str(r.status_code) in op["responses"], (template, method, r.status_code, r.text)
    documented = resolve(spec, op["responses"][str(r.status_code)])
    for name, header in documented.get("headers", {}).items():
        if header.get("required"):
            assert name.lower() in r.headers, (template, name)
    schema = documented["content"]["application/json"]["schema"]
    validator = jsonschema.Draft202012Validator({**schema, "components": spec["components"]})
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in validator.iter_errors(r.json())]
    assert not errors, (template, method, r.status_code, errors)


async def test_happy_paths_and_errors_conform_to_the_document(spec, api, gql, tenant, db):
    contact = await api.create_contact()
    business = await api.create_business()
    deal = await api.create_entity("deal")
    calls: list[tuple[str, str, str, dict[str, Any]]] = []

    async def call(method: str, template: str, path: str, status: int,
                   **kwargs: Any) -> httpx.Response:
        r = await api.request(method, path, **kwargs)
        assert r.status_code == status, r.text
        assert_conforms(spec, method, template, r)
        calls.append((method, template, path, kwargs))
        return r

    content = b"%PDF-1.4 ten"
    r = await call("POST", "/v1/documents/upload-url", "/v1/documents/upload-url", 201,
                   json={"file_name": "a.pdf", "mime_type": "application/pdf",
                         "size_bytes": len(content)})
    ticket = r.json()["data"]
    put = await api.client.put(ticket["upload_url"], content=content, headers=ticket["headers"])
    assert put.status_code == 200, put.text
    r = await call("POST", "/v1/documents", "/v1/documents", 201,
                   json={"name": "a.pdf", "mime_type": "application/pdf",
                         "storage_path": ticket["storage_path"], "size_bytes": len(content),
                         "tags": ["nda"], "folder": "/x"})
    doc = r.json()["data"]
    await call("GET", "/v1/documents/{id}/download-url", f"/v1/documents/{doc['id']}/"
               "download-url", 200, params={"expires_in": 60})
    await call("GET", "/v1/documents/{id}/file", f"/v1/documents/{doc['id']}/file", 200)
    image = await api.create_document(png(40, 30), name="photo.png", mime_type="image/png")
    await api.link(image["id"], "contact", contact["id"])
    octets = await api.create_document(b"\x00\x01", name="blob.bin",
                                       mime_type="application/octet-stream")
    await api.link(octets["id"], "contact", contact["id"])
    others = [await api.create_document(type=t) for t in ("identification", "license", "other")]
    await gql("mutation($id: ID!) { verifyDocument(id: $id) { id } }", {"id": others[0]["id"]})
    await gql("mutation($id: ID!) { rejectDocument(id: $id, reason: \"No\") { id } }",
              {"id": others[1]["id"]})
    d = f"/v1/documents/{doc['id']}"
    await call("GET", "/v1/documents/{id}", d, 200)
    await call("PATCH", "/v1/documents/{id}", d, 200, json={"description": "x"})
    link = {"entity_type": "contact", "entity_id": contact["id"], "role": "signed"}
    await call("POST", "/v1/documents/{id}/link", f"{d}/link", 201, json=link)
    await call("POST", "/v1/documents/{id}/link", f"{d}/link", 200, json=link)
    await call("POST", "/v1/documents/{id}/link", f"{d}/link", 201,
               json={"entity_type": "deal", "entity_id": deal["id"]})
    for other in [doc, *others]:
        await api.link(other["id"], "company", business["id"])
    await call("GET", "/v1/documents/{id}/links", f"{d}/links", 200)
    await call("GET", "/v1/documents/{id}/text", f"{d}/text", 200)
    r = await call("GET", "/v1/documents/search", "/v1/documents/search", 200,
                   params={"q": "a.pdf", "tags": "nda", "include_subfolders": "false",
                           "per_page": 5})
    assert [x["id"] for x in r.json()["data"]["documents"]] == [doc["id"]]
    attachments_path = f"/contacts/v4/attachments/{contact['id']}"
    await wait_for_preview(api, attachments_path)
    r = await call("GET", "/contacts/v4/attachments/{contactId}", attachments_path, 200,
                   params={"paging.limit": 10})
    kinds = {a["attachmentType"] for a in r.json()["attachments"]}
    assert kinds == {"IMAGE", "OTHER", "UNKNOWN"}
    await call("GET", "/contacts/v4/attachments", "/contacts/v4/attachments", 200,
               json={"contactId": contact["id"], "paging": {"limit": 2, "offset": 1}})
    await call("GET", "/v1/contacts/{id}/documents", f"/v1/contacts/{contact['id']}/documents",
               200, params={"role": "signed", "per_page": 5})
    r = await call("GET", "/v1/businesses/{id}/documents",
                   f"/v1/businesses/{business['id']}/documents", 200)
    assert {x["status"] for x in r.json()["documents"]} == {"pending", "verified", "rejected"}
    await call("DELETE", "/v1/documents/{id}/link", f"{d}/link", 200,
               params={"entity_type": "deal", "entity_id": deal["id"]})
    for collection in ("contacts", "businesses", "entities"):
        body: dict[str, Any] = {"name": "N"}
        if collection == "entities":
            body["entity_type"] = "matter"
        r = await call("POST", f"/v1/{collection}", f"/v1/{collection}", 201, json=body)
        e = f"/v1/{collection}/{r.json()['data']['id']}"
        await call("GET", f"/v1/{collection}/{{id}}", e, 200)
        await call("PATCH", f"/v1/{collection}/{{id}}", e, 200, json={"attributes": {"a": 1}})
    await call("GET", "/v1/workspace", "/v1/workspace", 200)
    await call("DELETE", "/v1/documents/{id}", d, 200)
    r = await call("GET", "/v1/events", "/v1/events", 200, params={"per_page": 3})
    await call("GET", "/v1/events", "/v1/events", 200,
               params={"after": r.json()["meta"]["next_cursor"], "document_id": doc["id"],
                       "type": "document.deleted"})
    await call("GET", "/v1/events", "/v1/events", 400, params={"since": "yesterday"})
    # Webhooks (the test servers make no deliveries: one is queued by hand).
    r = await call("POST", "/v1/webhooks", "/v1/webhooks", 201,
                   json={"url": "https://93.184.215.14/hooks", "description": "CRM",
                         "event_types": ["document.created"]})
    hook = r.json()["data"]
    h = f"/v1/webhooks/{hook['id']}"
    await call("GET", "/v1/webhooks", "/v1/webhooks", 200)
    await call("GET", "/v1/webhooks/{id}", h, 200)
    await call("PATCH", "/v1/webhooks/{id}", h, 200, json={"enabled": False})
    await call("PATCH", "/v1/webhooks/{id}", h, 200, json={"enabled": True, "event_types": []})
    await call("POST", "/v1/webhooks/{id}/rotate-secret", f"{h}/rotate-secret", 200)
    event = await db.fetchrow("select txid, seq from events where workspace_id = $1 "
                              "order by seq limit 1", tenant.id)
    delivery = await db.fetchval(
        "insert into webhook_deliveries (workspace_id, endpoint_id, event_txid, event_seq, "
        "event_type, status, attempts, next_attempt_at) values ($1, $2, $3, $4, "
        "'document.created', 'failed', 1, null) returning id",
        tenant.id, uuid.UUID(hook["id"]), event["txid"], event["seq"])
    await db.execute("insert into webhook_attempts (workspace_id, delivery_id, number, status, "
                     "duration_ms, response_status, response_body) values ($1, $2, 1, "
                     "'failed', 12, 500, 'oops')", tenant.id, delivery)
    await call("GET", "/v1/webhooks/{id}/deliveries", f"{h}/deliveries", 200,
               params={"status": "failed", "per_page": 1})
    w = f"/v1/webhook-deliveries/{delivery}"
    await call("GET", "/v1/webhook-deliveries/{id}", w, 200)
    await call("POST", "/v1/webhook-deliveries/{id}/retry", f"{w}/retry", 200)
    await call("PATCH", "/v1/webhooks/{id}", h, 200, json={"enabled": False})
    await call("POST", "/v1/webhook-deliveries/{id}/retry", f"{w}/retry", 409)
    await call("POST", "/v1/webhooks", "/v1/webhooks", 400, json={"url": "http://[::1]/"})
    await call("DELETE", "/v1/webhooks/{id}", h, 200)

    # Errors conform too: 400, 401, 403, 404, 409.
    await call("GET", "/v1/documents/{id}", "/v1/documents/nope", 400)
    await call("GET", "/v1/documents/{id}", d, 404)
    await call("GET", "/v1/documents/{id}", d, 403, key=tenant.write_key)
    await call("POST", "/v1/documents", "/v1/documents", 409,
               json={"name": "b", "mime_type": "text/plain",
                     "storage_path": others[0]["storage_path"]})
    await call("POST", "/v1/contacts", "/v1/contacts", 409,
               json={"id": contact["id"], "name": "Twin"})
    await call("GET", "/v1/contacts/{id}/documents", "/v1/contacts/x/documents", 400)
    await call("GET", "/v1/documents/search", "/v1/documents/search", 400, params={"q": "-x"})
    await call("GET", "/v1/businesses/{id}/documents",
               f"/v1/businesses/{business['id']}/documents", 400, params={"limit": 101})
    r = await api.client.get(f"/v1/contacts/{contact['id']}/documents")
    assert_error(r, 401, "invalid_key")
    assert_conforms(spec, "GET", "/v1/contacts/{id}/documents", r)
    # Every documented operation was exercised.
    exercised = {(template, method.lower()) for method, template, _, _ in calls}
    assert documented_routes(spec) - exercised == {("/v1/openapi.json", "get")}


BUSINESS_DOC = {
    "id": f"urn:uuid:{uuid.uuid4()}", "business_id": f"urn:uuid:{uuid.uuid4()}",
    "filename": "a.pdf", "type": "identification", "status": "verified",
    "mime_type": "application/pdf", "size_bytes": 1, "user_data": {},
    "created_at": "2022-01-01T00:00:00.000Z", "updated_at": "2022-01-01T12:00:00.000Z",
    "verified_at": "2022-01-01T01:30:00.000Z",
}


@pytest.mark.parametrize(("change", "conforms"), [
    ({}, True),
    ({"status": "pending", "verified_at": None}, True),
    ({"status": "rejected", "verified_at": None, "rejection_reason": "Blurry"}, True),
    ({"status": "pending"}, False),  # verified_at only on verified documents
    ({"verified_at": None}, False),  # ... and always on them
    ({"rejection_reason": "x"}, False),  # rejection_reason only on rejected ones
    ({"status": "rejected", "verified_at": None}, False),
    ({"folder": "/x"}, False),  # no field beyond the seed's
    ({"filename": None}, False),
    ({"created_at": "2022-01-01T00:00:00Z"}, False),  # always milliseconds
    ({"id": "document-123"}, False),
])
def test_the_response_schemas_are_strict(spec, change, conforms):
    doc = {k: v for k, v in {**BUSINESS_DOC, **change}.items() if v is not None}
    body = {"documents": [doc], "total_count": 1, "limit": 50, "offset": 0}
    r = httpx.Response(200, json=body, headers={
        "X-Request-ID": "req_1", "X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "9",
        "X-RateLimit-Reset": "60"})
    if conforms:
        assert_conforms(spec, "GET", "/v1/businesses/{id}/documents", r)
    else:
        with pytest.raises(AssertionError):
            assert_conforms(spec, "GET", "/v1/businesses/{id}/documents", r)
    for missing in r.headers:
        if missing.startswith("x-"):
            headers = {k: v for k, v in r.headers.items() if k != missing}
            with pytest.raises(AssertionError):
                assert_conforms(spec, "GET", "/v1/businesses/{id}/documents",
                                httpx.Response(200, json=body, headers=headers))
