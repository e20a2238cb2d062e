"""The REST shim behind the protections every route has: request ids, rate limits, body
limits and Idempotency-Key on every POST."""

import uuid

import pytest

from docgraph.resolvers import auth
from tests.rest import RATE_LIMIT_HEADERS, assert_common_headers, assert_error


async def test_every_kind_of_response_carries_the_request_id_and_rate_limit(api, client):
    doc = await api.create_document()
    responses = [
        await api.get(f"/v1/documents/{doc['id']}"),  # 200
        await api.get("/v1/documents/nope"),  # 400
        await api.get(f"/v1/documents/{uuid.uuid4()}"),  # 404
        await api.get("/v1/no/such/path"),  # 404, no route
        await api.request("PUT", "/v1/documents"),  # 405
        await client.get(f"/v1/documents/{doc['id']}"),  # 401, counted by address
        await client.get("/v1/openapi.json"),  # public
    ]
    assert [r.status_code for r in responses] == [200, 400, 404, 404, 405, 401, 200]
    for r in responses:
        assert_common_headers(r)


async def test_over_the_limit_rest_answers_429_with_retry_after(api, db, tenant):
    key, _ = await auth.create_key(db, tenant.id, auth.SCOPES, rate_limit=3)
    contact = await api.create_contact()
    path = f"/v1/contacts/{contact['id']}/documents"
    remaining = [int((await api.get(path, key=key)).headers["x-ratelimit-remaining"])
                 for _ in range(3)]
    assert remaining == [2, 1, 0]
    r = await api.get(path, key=key)
    error = assert_error(r, 429, "rate_limited")
    assert error["details"]["limit"] == 3
    assert int(r.headers["retry-after"]) >= 1
    assert r.headers["x-ratelimit-limit"] == "3"
    assert r.headers["x-ratelimit-remaining"] == "0"
    # Writes are refused as well, and do nothing.
    r = await api.post("/v1/contacts", key=key, json={"name": "Not made"})
    assert_error(r, 429, "rate_limited")


async def test_a_body_over_the_limit_is_413(api, server):
    limit = server.app.state.settings.max_body_bytes
    big = {"name": "a.pdf", "mime_type": "application/pdf", "storage_path": "x",
           "description": "x" * limit}
    r = await api.post("/v1/documents", json=big)
    assert assert_error(r, 413, "payload_too_large")["details"] == {"max_bytes": limit}


async def post_endpoints(api, doc_id: str,
                         contact_id: str) -> list[tuple[str, dict, dict]]:
    """Each REST POST: its path, a body, and another body for the same key."""
    uploaded = [(await api.upload(f"%PDF-1.4 {i}".encode()))["storage_path"] for i in (1, 2)]
    return [
        ("/v1/documents", {"name": "a.pdf", "mime_type": "application/pdf",
                           "storage_path": uploaded[0]},
         {"name": "b.pdf", "mime_type": "application/pdf", "storage_path": uploaded[1]}),
        ("/v1/documents/upload-url", {"file_name": "a.pdf", "mime_type": "application/pdf",
                                      "size_bytes": 10},
         {"file_name": "a.pdf", "mime_type": "application/pdf", "size_bytes": 11}),
        (f"/v1/documents/{doc_id}/link", {"entity_type": "contact", "entity_id": contact_id},
         {"entity_type": "contact", "entity_id": contact_id, "role": "x"}),
        ("/v1/contacts", {"name": "Ada"}, {"name": "Grace"}),
        ("/v1/businesses", {"name": "Acme"}, {"name": "Initech"}),
        ("/v1/entities", {"entity_type": "deal"}, {"entity_type": "task"}),
    ]


ENTITIES_OF_TYPE = "query($t: EntityType) { entities(type: $t) { totalCount } }"
CREATED_TYPE = {"/v1/contacts": "CONTACT", "/v1/businesses": "COMPANY", "/v1/entities": "DEAL"}


PENDING_UPLOADS = "select count(*) from uploads where workspace_id = $1"


@pytest.mark.parametrize("index", range(6))
async def test_every_post_honours_idempotency_key(api, gql, db, tenant, index):
    doc = await api.create_document()
    contact = await api.create_contact()
    path, body, other = (await post_endpoints(api, doc["id"], contact["id"]))[index]
    pending = await db.fetchval(PENDING_UPLOADS, tenant.id)
    kind = CREATED_TYPE.get(path)
    before = (await gql(ENTITIES_OF_TYPE, {"t": kind}))["entities"]["totalCount"] if kind else 0
    key = str(uuid.uuid4())
    first = await api.post(path, json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    replay = await api.post(path, json=body, headers={"Idempotency-Key": key})
    # The first answer byte for byte: not "already linked" (200), not storage_conflict (409).
    assert replay.status_code == 201
    assert replay.content == first.content
    assert replay.headers["idempotent-replayed"] == "true"
    assert_common_headers(replay)
    # The work was done once.
    if kind:
        after = (await gql(ENTITIES_OF_TYPE, {"t": kind}))["entities"]["totalCount"]
        assert after == before + 1
    elif path.endswith("/upload-url"):
        assert await db.fetchval(PENDING_UPLOADS, tenant.id) == pending + 1
    elif path.endswith("/link"):
        links = (await api.ok("GET", f"/v1/documents/{doc['id']}/links"))["data"]["links"]
        assert [link["link_id"] for link in links] == [first.json()["data"]["link_id"]]
    else:  # the storage path is taken by the one document
        assert_error(await api.post(path, json=body), 409, "storage_conflict")
    reused = await api.post(path, json=other, headers={"Idempotency-Key": key})
    assert_error(reused, 422, "idempotency_key_reused")


async def test_errors_are_replayed_too(api):
    key = str(uuid.uuid4())
    body = {"name": "", "mime_type": "nope"}
    first = await api.post("/v1/documents", json=body, headers={"Idempotency-Key": key})
    assert_error(first, 400, "validation_error")
    replay = await api.post("/v1/documents", json=body, headers={"Idempotency-Key": key})
    assert replay.content == first.content
    assert replay.headers["idempotent-replayed"] == "true"


@pytest.mark.parametrize("value", [b"", b"x" * 256, b"has space", "naïve".encode()])
async def test_a_malformed_idempotency_key_is_400(api, value):
    r = await api.post("/v1/contacts", json={"name": "Ada"},
                       headers={"Idempotency-Key": value})
    error = assert_error(r, 400, "validation_error")
    assert error["details"] == {"header": "Idempotency-Key"}


def test_the_rate_limit_headers_are_the_documented_ones():
    assert RATE_LIMIT_HEADERS == ("x-ratelimit-limit", "x-ratelimit-remaining",
                                  "x-ratelimit-reset")
