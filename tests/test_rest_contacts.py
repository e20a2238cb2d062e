"""REST contacts, and a contact's documents (seed 000): page/per_page, role, {data, meta}."""

import asyncio
import uuid

import pytest

from tests.rest import CONTACT_DOCUMENT_FIELDS, ENTITY_FIELDS, TIMESTAMP, assert_error, bad_fields


async def test_create_and_read_a_contact(api):
    r = await api.post("/v1/contacts", json={"name": "Ada Lovelace",
                                             "attributes": {"email": "ada@example.com"}})
    assert r.status_code == 201, r.text
    contact = r.json()["data"]
    assert set(r.json()) == {"data"}
    assert set(contact) == ENTITY_FIELDS
    assert (contact["entity_type"], contact["name"], contact["attributes"]) == \
        ("contact", "Ada Lovelace", {"email": "ada@example.com"})
    assert TIMESTAMP.match(contact["created_at"])
    assert await api.ok("GET", f"/v1/contacts/{contact['id']}") == {"data": contact}


async def test_a_contact_may_bring_its_own_id_once(api, other_api):
    own = str(uuid.uuid4())
    contact = await api.create_contact(id=own)
    assert contact["id"] == own
    r = await api.post("/v1/contacts", json={"id": own, "name": "Again"})
    assert_error(r, 409, "conflict")
    # Ids are per workspace: another workspace may use the same one.
    assert (await other_api.create_contact(id=f"urn:uuid:{own}"))["id"] == own


async def test_update_a_contact(api):
    contact = await api.create_contact(attributes={"a": 1})
    r = await api.patch(f"/v1/contacts/{contact['id']}", json={"name": "Ada King"})
    assert r.status_code == 200, r.text
    changed = r.json()["data"]
    assert (changed["name"], changed["attributes"]) == ("Ada King", {"a": 1})
    r = await api.patch(f"/v1/contacts/{contact['id']}", json={"attributes": {"b": 2}})
    assert r.json()["data"]["attributes"] == {"b": 2}
    assert set(bad_fields(await api.patch(f"/v1/contacts/{contact['id']}",
                                          json={"name": None}))) == {"name"}


@pytest.mark.parametrize(("body", "fields"), [
    ({}, {"name"}),
    ({"name": ""}, {"name"}),
    ({"name": None}, {"name"}),
    ({"name": 5}, {"name"}),
    ({"name": "A", "attributes": []}, {"attributes"}),
    ({"name": "A", "id": "c_01"}, {"id"}),
    ({"name": "A", "entity_type": "deal"}, {"entity_type"}),
    ({"name": "A", "email": "a@example.com"}, {"email"}),
])
async def test_bad_contacts_are_400(api, body, fields):
    assert set(bad_fields(await api.post("/v1/contacts", json=body))) == fields


async def test_contact_paths_name_contacts_only(api, other_api):
    business = await api.create_business()
    assert_error(await api.get(f"/v1/contacts/{business['id']}"), 404, "not_found")
    assert_error(await api.patch(f"/v1/contacts/{business['id']}", json={"name": "x"}),
                 404, "not_found")
    assert_error(await api.get(f"/v1/contacts/{business['id']}/documents"), 404, "not_found")
    theirs = await other_api.create_contact()
    assert_error(await api.get(f"/v1/contacts/{theirs['id']}"), 404, "not_found")
    assert_error(await api.patch(f"/v1/contacts/{theirs['id']}", json={"name": "x"}),
                 404, "not_found")
    assert (await other_api.ok("GET", f"/v1/contacts/{theirs['id']}"))["data"] == theirs


# -- seed 000 ------------------------------------------------------------------------


async def linked_documents(api, contact_id, count, role="signed"):
    """``count`` documents linked to the contact, oldest first."""
    docs = []
    for i in range(count):
        doc = await api.create_document(name=f"doc-{i:03}.pdf", folder="/clients/acme",
                                        tags=["nda"])
        link = await api.link(doc["id"], "contact", contact_id, role)
        docs.append((doc, link))
    return docs


async def test_a_contacts_documents_in_the_seed_envelope(api):
    contact = await api.create_contact()
    [(doc, link)] = await linked_documents(api, contact["id"], 1)
    r = await api.get(f"/v1/contacts/{contact['id']}/documents")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"data", "meta"}
    assert set(body["data"]) == {"documents"}
    assert body["meta"] == {"page": 1, "per_page": 25, "total": 1}
    [item] = body["data"]["documents"]
    assert set(item) == CONTACT_DOCUMENT_FIELDS
    assert item == {
        "id": doc["id"], "name": doc["name"], "mime_type": "application/pdf",
        "size_bytes": doc["size_bytes"], "folder": "/clients/acme", "tags": ["nda"],
        "role": "signed", "linked_at": link["created_at"], "created_at": doc["created_at"],
    }


async def test_pages_are_newest_first_with_the_total(api):
    contact = await api.create_contact()
    docs = await linked_documents(api, contact["id"], 7)
    newest_first = [doc["id"] for doc, _ in reversed(docs)]
    seen = []
    for page in (1, 2, 3):
        body = await api.ok("GET", f"/v1/contacts/{contact['id']}/documents",
                            params={"page": page, "per_page": 3})
        assert body["meta"] == {"page": page, "per_page": 3, "total": 7}
        seen += [d["id"] for d in body["data"]["documents"]]
    assert seen == newest_first
    past = await api.ok("GET", f"/v1/contacts/{contact['id']}/documents",
                        params={"page": 9, "per_page": 3})
    assert past == {"data": {"documents": []}, "meta": {"page": 9, "per_page": 3, "total": 7}}


async def test_per_page_defaults_to_25_and_allows_100(api):
    contact = await api.create_contact()
    docs = [await api.create_document() for _ in range(27)]
    await asyncio.gather(*[api.link(d["id"], "contact", contact["id"]) for d in docs])
    body = await api.ok("GET", f"/v1/contacts/{contact['id']}/documents")
    assert len(body["data"]["documents"]) == 25
    assert body["meta"] == {"page": 1, "per_page": 25, "total": 27}
    body = await api.ok("GET", f"/v1/contacts/{contact['id']}/documents",
                        params={"per_page": 100})
    assert len(body["data"]["documents"]) == 27
    body = await api.ok("GET", f"/v1/contacts/{contact['id']}/documents",
                        params={"page": 2})
    assert len(body["data"]["documents"]) == 2
    assert body["meta"] == {"page": 2, "per_page": 25, "total": 27}


async def test_the_role_filter(api):
    contact = await api.create_contact()
    signed = await linked_documents(api, contact["id"], 2, "signed")
    await linked_documents(api, contact["id"], 1, "draft")
    await linked_documents(api, contact["id"], 1, None)
    body = await api.ok("GET", f"/v1/contacts/{contact['id']}/documents",
                        params={"role": "signed"})
    assert [d["id"] for d in body["data"]["documents"]] == \
        [doc["id"] for doc, _ in reversed(signed)]
    assert {d["role"] for d in body["data"]["documents"]} == {"signed"}
    assert body["meta"]["total"] == 2
    everything = await api.ok("GET", f"/v1/contacts/{contact['id']}/documents")
    assert everything["meta"]["total"] == 4
    assert sorted(d["role"] or "" for d in everything["data"]["documents"]) == \
        ["", "draft", "signed", "signed"]
    none = await api.ok("GET", f"/v1/contacts/{contact['id']}/documents",
                        params={"role": "witness"})
    assert none["data"]["documents"] == [] and none["meta"]["total"] == 0


async def test_deleted_documents_leave_the_list(api):
    contact = await api.create_contact()
    (gone, _), (kept, _) = await linked_documents(api, contact["id"], 2)
    await api.ok("DELETE", f"/v1/documents/{gone['id']}")
    body = await api.ok("GET", f"/v1/contacts/{contact['id']}/documents")
    assert [d["id"] for d in body["data"]["documents"]] == [kept["id"]]
    assert body["meta"]["total"] == 1


@pytest.mark.parametrize(("params", "fields"), [
    ({"per_page": "101"}, {"per_page"}),
    ({"per_page": "-1"}, {"per_page"}),
    ({"per_page": "ten"}, {"per_page"}),
    ({"per_page": "2.5"}, {"per_page"}),
    ({"per_page": ""}, {"per_page"}),
    ({"page": "0"}, {"page"}),
    ({"page": "-3"}, {"page"}),
    ({"page": "first"}, {"page"}),
    ({"page": "99999999999999999999"}, {"page"}),
    ({"page": "999999999", "per_page": "100"}, {"page"}),
    ({"page": "0", "per_page": "500"}, {"page", "per_page"}),
    ({"role": ""}, {"role"}),
    ({"role": "x" * 65}, {"role"}),
    ({"sort": "name"}, {"sort"}),
    ({"limit": "10"}, {"limit"}),
])
async def test_bad_query_parameters_are_400(api, params, fields):
    contact = await api.create_contact()
    r = await api.get(f"/v1/contacts/{contact['id']}/documents", params=params)
    assert set(bad_fields(r)) == fields


async def test_a_repeated_query_parameter_is_400(api):
    contact = await api.create_contact()
    r = await api.get(f"/v1/contacts/{contact['id']}/documents?page=1&page=2")
    assert bad_fields(r) == {"page": "must be given at most once"}


async def test_unknown_malformed_and_foreign_contacts(api, other_api):
    assert assert_error(await api.get(f"/v1/contacts/{uuid.uuid4()}/documents"), 404,
                        "not_found")["message"] == "No such contact."
    assert bad_fields(await api.get("/v1/contacts/not-a-uuid/documents")) == \
        {"id": "must be a UUID"}
    theirs = await other_api.create_contact()
    await linked_documents(other_api, theirs["id"], 1)
    assert_error(await api.get(f"/v1/contacts/{theirs['id']}/documents"), 404, "not_found")


async def test_reading_needs_read_documents(api, tenant):
    contact = await api.create_contact()
    r = await api.get(f"/v1/contacts/{contact['id']}/documents", key=tenant.write_key)
    assert_error(r, 403, "insufficient_permissions")
    r = await api.get(f"/v1/contacts/{contact['id']}", key=tenant.write_key)
    assert_error(r, 403, "insufficient_permissions")
    r = await api.post("/v1/contacts", json={"name": "x"}, key=tenant.read_key)
    assert_error(r, 403, "insufficient_permissions")
    r = await api.get(f"/v1/contacts/{contact['id']}/documents", key=tenant.read_key)
    assert r.status_code == 200


async def test_one_statement_answers_the_list(api):
    """The contact, its page and its total come from one statement (plus the rate
    limiter's and the key's lookup: the tests' servers cache no keys)."""
    contact = await api.create_contact()
    await linked_documents(api, contact["id"], 3)
    r = await api.get(f"/v1/contacts/{contact['id']}/documents")
    assert r.status_code == 200
    assert r.headers["x-statement-count"] == "3"
