"""REST businesses, and a business's documents (seed 004): its own envelope, filters, paging."""

import uuid

import pytest

from tests.rest import BUSINESS_DOCUMENT_FIELDS, ENTITY_FIELDS, TIMESTAMP, assert_error, bad_fields

SEED_BUSINESS_ID = "9b397b0d-69bc-b09f-9d82-0e02637042fc"


async def test_create_read_and_update_a_business(api):
    r = await api.post("/v1/businesses", json={"name": "Acme Corp",
                                               "attributes": {"country": "NL"}})
    assert r.status_code == 201, r.text
    business = r.json()["data"]
    assert set(business) == ENTITY_FIELDS
    assert (business["entity_type"], business["name"]) == ("company", "Acme Corp")
    assert await api.ok("GET", f"/v1/businesses/{business['id']}") == {"data": business}
    assert await api.ok("GET", f"/v1/businesses/urn:uuid:{business['id']}") == \
        {"data": business}
    changed = await api.ok("PATCH", f"/v1/businesses/{business['id']}", json={"name": "Acme"})
    assert changed["data"]["name"] == "Acme"
    assert set(bad_fields(await api.post("/v1/businesses", json={}))) == {"name"}


async def test_business_paths_name_businesses_only(api):
    contact = await api.create_contact()
    assert_error(await api.get(f"/v1/businesses/{contact['id']}"), 404, "not_found")
    assert_error(await api.get(f"/v1/businesses/{contact['id']}/documents"), 404, "not_found")


async def business_with_documents(api, gql):
    """A business with one document of each status, created in the order below."""
    business = await api.create_business(id=f"urn:uuid:{uuid.uuid4()}")
    docs = {}
    for status, doc_type in [("pending", "bank_statement"), ("verified", "identification"),
                             ("rejected", "tax_form"), ("expired", "identification")]:
        doc = await api.create_document(name=f"{status}.pdf", type=doc_type,
                                        user_data={"status": status})
        await api.link(doc["id"], "company", business["id"], "kyc")
        if status in ("verified", "expired"):
            await gql("mutation($id: ID!) { verifyDocument(id: $id) { id } }", {"id": doc["id"]})
        if status == "expired":
            await gql("mutation($id: ID!) { expireDocument(id: $id) { id } }", {"id": doc["id"]})
        if status == "rejected":
            await gql("mutation($id: ID!) { rejectDocument(id: $id, reason: \"Blurry scan\") "
                      "{ id } }", {"id": doc["id"]})
        docs[status] = doc
    return business, docs


async def test_a_business_documents_in_the_seed_envelope(api, gql):
    business, docs = await business_with_documents(api, gql)
    r = await api.get(f"/v1/businesses/{business['id']}/documents")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"documents", "total_count", "limit", "offset"}
    assert (body["total_count"], body["limit"], body["offset"]) == (4, 50, 0)
    # Newest first.
    assert [d["filename"] for d in body["documents"]] == \
        ["expired.pdf", "rejected.pdf", "verified.pdf", "pending.pdf"]
    by_status = {d["status"]: d for d in body["documents"]}
    for status, doc in by_status.items():
        extra = {"verified": {"verified_at"}, "rejected": {"rejection_reason"}}.get(status, set())
        assert set(doc) == BUSINESS_DOCUMENT_FIELDS | extra, status
        assert doc["id"] == f"urn:uuid:{docs[status]['id']}"
        assert doc["business_id"] == f"urn:uuid:{business['id']}"
        assert doc["user_data"] == {"status": status}
        assert doc["mime_type"] == "application/pdf"
        assert doc["size_bytes"] == docs[status]["size_bytes"]
        assert doc["created_at"] == docs[status]["created_at"]
        assert TIMESTAMP.match(doc["updated_at"])
    assert TIMESTAMP.match(by_status["verified"]["verified_at"])
    assert by_status["rejected"]["rejection_reason"] == "Blurry scan"
    assert by_status["verified"]["type"] == "identification"
    assert by_status["pending"]["type"] == "bank_statement"


@pytest.mark.parametrize(("params", "statuses"), [
    ({"status": "verified"}, ["verified"]),
    ({"status": "pending"}, ["pending"]),
    ({"type": "identification"}, ["expired", "verified"]),
    ({"type": "identification", "status": "verified"}, ["verified"]),
    ({"type": "tax_form", "status": "rejected"}, ["rejected"]),
    ({"type": "contract"}, []),
    ({"type": "other", "status": "expired"}, []),
])
async def test_type_and_status_filters(api, gql, params, statuses):
    business, _ = await business_with_documents(api, gql)
    body = await api.ok("GET", f"/v1/businesses/{business['id']}/documents", params=params)
    assert [d["status"] for d in body["documents"]] == statuses
    assert body["total_count"] == len(statuses)


async def test_limit_and_offset(api, gql):
    business, _ = await business_with_documents(api, gql)
    path = f"/v1/businesses/{business['id']}/documents"
    first = await api.ok("GET", path, params={"limit": 3})
    rest = await api.ok("GET", path, params={"limit": 3, "offset": 3})
    assert (first["limit"], first["offset"], first["total_count"]) == (3, 0, 4)
    assert (rest["limit"], rest["offset"], rest["total_count"]) == (3, 3, 4)
    assert [d["filename"] for d in first["documents"] + rest["documents"]] == \
        ["expired.pdf", "rejected.pdf", "verified.pdf", "pending.pdf"]
    none = await api.ok("GET", path, params={"limit": 0})
    assert (none["documents"], none["total_count"]) == ([], 4)
    past = await api.ok("GET", path, params={"offset": 100, "limit": 100})
    assert (past["documents"], past["total_count"], past["offset"]) == ([], 4, 100)


@pytest.mark.parametrize(("params", "fields"), [
    ({"limit": "101"}, {"limit"}),
    ({"limit": "-1"}, {"limit"}),
    ({"limit": "ten"}, {"limit"}),
    ({"offset": "-1"}, {"offset"}),
    ({"offset": "1e3"}, {"offset"}),
    ({"offset": "2147483648"}, {"offset"}),
    ({"type": "passport"}, {"type"}),
    ({"type": ""}, {"type"}),
    ({"status": "approved"}, {"status"}),
    ({"status": "VERIFIED"}, {"status"}),
    ({"page": "1"}, {"page"}),
    ({"after": "abc"}, {"after"}),
])
async def test_bad_query_parameters_are_400(api, params, fields):
    business = await api.create_business()
    r = await api.get(f"/v1/businesses/{business['id']}/documents", params=params)
    assert set(bad_fields(r)) == fields


async def test_the_seed_business_id_spelled_as_in_the_seed(api):
    await api.create_business(id=SEED_BUSINESS_ID)
    doc = await api.create_document()
    await api.link(doc["id"], "company", SEED_BUSINESS_ID)
    body = await api.ok("GET", f"/v1/businesses/urn:uuid:{SEED_BUSINESS_ID}/documents")
    assert [d["business_id"] for d in body["documents"]] == [f"urn:uuid:{SEED_BUSINESS_ID}"]


async def test_an_unknown_business_is_404(api, other_api):
    r = await api.get(f"/v1/businesses/urn:uuid:{uuid.uuid4()}/documents")
    missing = assert_error(r, 404, "not_found")
    theirs = await other_api.create_business()
    doc = await other_api.create_document()
    await other_api.link(doc["id"], "company", theirs["id"])
    r = await api.get(f"/v1/businesses/{theirs['id']}/documents")
    assert assert_error(r, 404, "not_found")["message"] == missing["message"]
    assert bad_fields(await api.get("/v1/businesses/urn:uuid:document-123/documents")) == \
        {"id": "must be a UUID"}


async def test_an_empty_business(api):
    business = await api.create_business()
    body = await api.ok("GET", f"/v1/businesses/{business['id']}/documents")
    assert body == {"documents": [], "total_count": 0, "limit": 50, "offset": 0}


async def test_reading_needs_read_documents(api, tenant):
    business = await api.create_business()
    r = await api.get(f"/v1/businesses/{business['id']}/documents", key=tenant.write_key)
    assert_error(r, 403, "insufficient_permissions")
