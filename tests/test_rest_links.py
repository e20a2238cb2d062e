"""REST links (seed 001): link (201 new, 200 existing), unlink, list a document's links."""

import asyncio
import uuid

import pytest

from tests.rest import LINK_FIELDS, TIMESTAMP, assert_error, bad_fields

ENTITY_TYPES = ["contact", "company", "deal", "event", "matter", "task"]


@pytest.mark.parametrize("entity_type", ENTITY_TYPES)
async def test_link_to_each_entity_type_answers_201_with_the_seed_link(api, entity_type):
    doc = await api.create_document()
    entity = await api.create_entity(entity_type, name="Acme")
    r = await api.post(f"/v1/documents/{doc['id']}/link",
                       json={"entity_type": entity_type, "entity_id": entity["id"],
                             "role": "signed"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"data"}
    link = body["data"]
    assert set(link) == LINK_FIELDS
    assert uuid.UUID(link["link_id"])
    assert (link["document_id"], link["entity_type"], link["entity_id"], link["role"]) == \
        (doc["id"], entity_type, entity["id"], "signed")
    assert TIMESTAMP.match(link["created_at"])


async def test_linking_again_answers_200_with_the_existing_link_unchanged(api):
    doc = await api.create_document()
    contact = await api.create_contact()
    path = f"/v1/documents/{doc['id']}/link"
    first = await api.post(path, json={"entity_type": "contact", "entity_id": contact["id"],
                                       "role": "signed"})
    again = await api.post(path, json={"entity_type": "contact",
                                       "entity_id": f"urn:uuid:{contact['id']}",
                                       "role": "draft"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()  # role kept: signed
    links = (await api.ok("GET", f"/v1/documents/{doc['id']}/links"))["data"]["links"]
    assert links == [first.json()["data"]]


async def test_concurrent_identical_links_create_one(api):
    doc = await api.create_document()
    contact = await api.create_contact()
    body = {"entity_type": "contact", "entity_id": contact["id"]}
    responses = await asyncio.gather(*[api.post(f"/v1/documents/{doc['id']}/link", json=body)
                                       for _ in range(8)])
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201]
    assert len({r.json()["data"]["link_id"] for r in responses}) == 1


async def test_a_role_is_optional_and_at_most_64_characters(api):
    doc = await api.create_document()
    contact = await api.create_contact()
    path = f"/v1/documents/{doc['id']}/link"
    r = await api.post(path, json={"entity_type": "contact", "entity_id": contact["id"],
                                   "role": "x" * 65})
    assert set(bad_fields(r)) == {"role"}
    link = await api.link(doc["id"], "contact", contact["id"])
    assert link["role"] is None
    deal = await api.create_entity("deal")
    assert (await api.link(doc["id"], "deal", deal["id"], "x" * 64))["role"] == "x" * 64


@pytest.mark.parametrize(("body", "fields"), [
    ({"entity_id": str(uuid.uuid4())}, {"entity_type"}),
    ({"entity_type": "contact"}, {"entity_id"}),
    ({"entity_type": "person", "entity_id": str(uuid.uuid4())}, {"entity_type"}),
    ({"entity_type": "contact", "entity_id": "deal_01HY1"}, {"entity_id"}),
    ({"entity_type": "contact", "entity_id": 12}, {"entity_id"}),
    ({"entity_type": ["contact"], "entity_id": str(uuid.uuid4())}, {"entity_type"}),
    ({"entity_type": "contact", "entity_id": str(uuid.uuid4()), "role": 5}, {"role"}),
    ({"entity_type": "contact", "entity_id": str(uuid.uuid4()), "role": ""}, {"role"}),
    ({"entity_type": "contact", "entity_id": str(uuid.uuid4()), "note": "x"}, {"note"}),
    ({"entity_type": "contact", "entity_id": str(uuid.uuid4()),
      "document_id": str(uuid.uuid4())}, {"document_id"}),
    ({}, {"entity_type", "entity_id"}),
])
async def test_bad_link_bodies_are_400(api, body, fields):
    doc = await api.create_document()
    r = await api.post(f"/v1/documents/{doc['id']}/link", json=body)
    assert set(bad_fields(r)) == fields


async def test_unknown_document_or_entity_is_404(api, other_api):
    doc = await api.create_document()
    contact = await api.create_contact()
    r = await api.post(f"/v1/documents/{uuid.uuid4()}/link",
                       json={"entity_type": "contact", "entity_id": contact["id"]})
    assert assert_error(r, 404, "not_found")["message"] == "No such document."
    r = await api.post(f"/v1/documents/{doc['id']}/link",
                       json={"entity_type": "contact", "entity_id": str(uuid.uuid4())})
    assert assert_error(r, 404, "not_found")["message"] == "No such contact."
    # An entity of another type is not found under the type named.
    r = await api.post(f"/v1/documents/{doc['id']}/link",
                       json={"entity_type": "company", "entity_id": contact["id"]})
    assert assert_error(r, 404, "not_found")["message"] == "No such company."
    # Other workspaces' documents and entities are not found either.
    their_doc = await other_api.create_document()
    their_contact = await other_api.create_contact()
    r = await api.post(f"/v1/documents/{their_doc['id']}/link",
                       json={"entity_type": "contact", "entity_id": contact["id"]})
    assert assert_error(r, 404, "not_found")["message"] == "No such document."
    r = await api.post(f"/v1/documents/{doc['id']}/link",
                       json={"entity_type": "contact", "entity_id": their_contact["id"]})
    assert assert_error(r, 404, "not_found")["message"] == "No such contact."
    assert (await other_api.ok("GET", f"/v1/documents/{their_doc['id']}/links")) == \
        {"data": {"links": []}}


async def test_a_deleted_document_cannot_be_linked(api):
    doc = await api.create_document()
    contact = await api.create_contact()
    await api.ok("DELETE", f"/v1/documents/{doc['id']}")
    r = await api.post(f"/v1/documents/{doc['id']}/link",
                       json={"entity_type": "contact", "entity_id": contact["id"]})
    assert_error(r, 404, "not_found")


async def test_linking_needs_write_and_listing_read(api, tenant):
    doc = await api.create_document()
    contact = await api.create_contact()
    body = {"entity_type": "contact", "entity_id": contact["id"]}
    r = await api.post(f"/v1/documents/{doc['id']}/link", json=body, key=tenant.read_key)
    assert_error(r, 403, "insufficient_permissions")
    r = await api.post(f"/v1/documents/{doc['id']}/link", json=body, key=tenant.write_key)
    assert r.status_code == 201
    r = await api.get(f"/v1/documents/{doc['id']}/links", key=tenant.write_key)
    assert_error(r, 403, "insufficient_permissions")
    r = await api.delete(f"/v1/documents/{doc['id']}/link",
                         params={"entity_type": "contact", "entity_id": contact["id"]},
                         key=tenant.read_key)
    assert_error(r, 403, "insufficient_permissions")


async def test_links_are_listed_oldest_first(api):
    doc = await api.create_document()
    made = []
    for entity_type in ("contact", "company", "task"):
        entity = await api.create_entity(entity_type, name="N")
        made.append(await api.link(doc["id"], entity_type, entity["id"], entity_type + "-role"))
    body = await api.ok("GET", f"/v1/documents/{doc['id']}/links")
    assert body == {"data": {"links": made}}


async def test_unlink_removes_the_link_and_answers_it(api):
    doc = await api.create_document()
    contact = await api.create_contact()
    deal = await api.create_entity("deal")
    link = await api.link(doc["id"], "contact", contact["id"], "signed")
    kept = await api.link(doc["id"], "deal", deal["id"])
    path = f"/v1/documents/{doc['id']}/link"
    target = {"entity_type": "contact", "entity_id": contact["id"]}
    r = await api.delete(path, params=target)
    assert r.status_code == 200, r.text
    assert r.json() == {"data": link}
    assert (await api.ok("GET", f"/v1/documents/{doc['id']}/links"))["data"]["links"] == [kept]
    contact_docs = await api.ok("GET", f"/v1/contacts/{contact['id']}/documents")
    assert contact_docs["data"]["documents"] == []
    assert assert_error(await api.delete(path, params=target), 404,
                        "not_found")["message"] == "No such link."
    # Linking again makes a new link.
    again = await api.post(path, json=target)
    assert again.status_code == 201 and again.json()["data"]["link_id"] != link["link_id"]


@pytest.mark.parametrize(("params", "fields"), [
    ({}, {"entity_type", "entity_id"}),
    ({"entity_type": "contact"}, {"entity_id"}),
    ({"entity_type": "client", "entity_id": str(uuid.uuid4())}, {"entity_type"}),
    ({"entity_type": "contact", "entity_id": "nope"}, {"entity_id"}),
    ({"entity_type": "contact", "entity_id": str(uuid.uuid4()), "role": "x"}, {"role"}),
])
async def test_bad_unlink_parameters_are_400(api, params, fields):
    doc = await api.create_document()
    r = await api.delete(f"/v1/documents/{doc['id']}/link", params=params)
    assert set(bad_fields(r)) == fields


async def test_unlink_in_another_workspace_is_404_and_removes_nothing(api, other_api):
    doc = await other_api.create_document()
    contact = await other_api.create_contact()
    link = await other_api.link(doc["id"], "contact", contact["id"])
    r = await api.delete(f"/v1/documents/{doc['id']}/link",
                         params={"entity_type": "contact", "entity_id": contact["id"]})
    assert assert_error(r, 404, "not_found")["message"] == "No such document."
    assert (await other_api.ok("GET", f"/v1/documents/{doc['id']}/links"))["data"]["links"] \
        == [link]


async def test_links_of_an_unknown_document_are_404(api):
    assert_error(await api.get(f"/v1/documents/{uuid.uuid4()}/links"), 404, "not_found")
    assert set(bad_fields(await api.get("/v1/documents/doc_01HY1/links"))) == {"id"}
