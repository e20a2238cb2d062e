"""A key without read:documents gets back what its mutation changed, and nothing more.

The object a mutation created, changed, verified, linked or removed comes
back with its own fields; every step from it to another object (a
document's links, a link's document or entity, an entity's documents) and
every signed URL needs read:documents. GraphQL answers such a field null
with an ``insufficient_permissions`` error, the rest of the payload intact.
An empty update changes nothing and would only read: it needs
read:documents too, and is refused before any lookup.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from docgraph.errors import InsufficientPermissions
from docgraph.resolvers import auth
from docgraph.resolvers.context import RequestContext
from docgraph.schema import build_schema
from docgraph.schema.relations import RELATION_ATTRIBUTE
from tests.gql import GraphQL
from tests.rest import DOCUMENT_RECORD_FIELDS, ENTITY_FIELDS, LINK_FIELDS, assert_error

READ_NEEDED = {"requiredScope": "read:documents"}

# What a key must not read through a mutation: the graph around the object it changed.
DEEP_DOCUMENT = "name storagePath userData links { role entity { name } }"
DEEP_ENTITY = f"documents {{ totalCount nodes {{ {DEEP_DOCUMENT} }} }}"

UPDATE_CONTACT = f"""
mutation($id: ID!, $input: UpdateContactInput!) {{
  updateContact(id: $id, input: $input) {{ id name {DEEP_ENTITY} }}
}}"""
UPDATE_ENTITY = f"""
mutation($id: ID!, $input: UpdateEntityInput!) {{
  updateEntity(id: $id, input: $input) {{ id name {DEEP_ENTITY} }}
}}"""
CREATE_ENTITY = f"""
mutation($input: CreateEntityInput!) {{ createEntity(input: $input) {{ id name {DEEP_ENTITY} }} }}
"""
LINK_DOCUMENT = f"""
mutation($d: ID!, $t: EntityType!, $e: ID!) {{
  linkDocument(documentId: $d, entityType: $t, entityId: $e, role: "copy") {{
    created
    link {{ documentId entityId role
            entity {{ id name {DEEP_ENTITY} }}
            document {{ {DEEP_DOCUMENT} }} }}
  }}
}}"""
UNLINK_DOCUMENT = f"""
mutation($d: ID!, $t: EntityType!, $e: ID!) {{
  unlinkDocument(documentId: $d, entityType: $t, entityId: $e) {{
    link {{ documentId entityId role entity {{ name }} document {{ {DEEP_DOCUMENT} }} }}
  }}
}}"""
VERIFY_DOCUMENT = """
mutation($id: ID!) {
  verifyDocument(id: $id) {
    id status download { url } previewImage { url } links { entity { name } }
  }
}"""
UPDATE_DOCUMENT = f"""
mutation($id: ID!, $input: UpdateDocumentInput!) {{
  updateDocument(id: $id, input: $input) {{ id {DEEP_DOCUMENT} }}
}}"""
CREATE_DOCUMENT = """
mutation($input: CreateDocumentInput!) {
  createDocument(input: $input) { id name links { id } download { url } }
}"""


async def linked_graph(gql: GraphQL) -> dict[str, Any]:
    """A contact and a deal with a document linked to both (made with the full key)."""
    contact = await gql.create_entity("CONTACT", name="Ada")
    deal = await gql.create_entity("DEAL", name="Secret deal")
    doc = await gql.create_document(name="salary.pdf", userData={"salary": 1})
    await gql.link(doc["id"], "CONTACT", contact, "signed")
    await gql.link(doc["id"], "DEAL", deal)
    return {"contact": contact, "deal": deal, "doc": doc}


def refused(body: dict[str, Any], *paths: list[Any]) -> None:
    """``body``'s errors are exactly one insufficient_permissions per path, each
    asking for read:documents, and each of those fields is null."""
    errors = body.get("errors", [])
    assert sorted(e["path"] for e in errors) == sorted(paths), errors
    for error in errors:
        assert error["extensions"]["code"] == "insufficient_permissions", error
        assert error["extensions"]["details"] == READ_NEEDED
        value: Any = body["data"]
        for step in error["path"]:
            value = value[step]
        assert value is None


# -- GraphQL: the leak paths of the issue -------------------------------------------


async def test_update_contact_does_not_read_the_contacts_documents(gql, tenant):
    graph = await linked_graph(gql)
    body = await gql.result(UPDATE_CONTACT, {"id": graph["contact"], "input": {"name": "Bo"}},
                            key=tenant.write_key)
    refused(body, ["updateContact", "documents"])
    assert body["data"]["updateContact"] == {"id": graph["contact"], "name": "Bo",
                                             "documents": None}
    # The change happened; a key that may read sees all of it.
    body = await gql.result(UPDATE_CONTACT, {"id": graph["contact"], "input": {}})
    assert "errors" not in body
    contact = body["data"]["updateContact"]
    assert contact["name"] == "Bo"
    assert contact["documents"]["nodes"][0]["userData"] == {"salary": 1}


async def test_link_document_does_not_read_the_entity_or_the_document(gql, tenant):
    graph = await linked_graph(gql)
    other = await gql.create_entity("CONTACT", name="Bob")
    variables = {"d": graph["doc"]["id"], "t": "CONTACT", "e": other}
    body = await gql.result(LINK_DOCUMENT, variables, key=tenant.write_key)
    refused(body, ["linkDocument", "link", "entity"], ["linkDocument", "link", "document"])
    assert body["data"]["linkDocument"] == {
        "created": True,
        "link": {"documentId": graph["doc"]["id"], "entityId": other, "role": "copy",
                 "entity": None, "document": None}}
    # Linking again (the existing link, unchanged) reads no further either.
    body = await gql.result(LINK_DOCUMENT, variables, key=tenant.write_key)
    refused(body, ["linkDocument", "link", "entity"], ["linkDocument", "link", "document"])
    assert body["data"]["linkDocument"]["created"] is False
    # With read:documents the same selection answers in full.
    body = await gql.result(LINK_DOCUMENT, variables)
    assert "errors" not in body
    entity = body["data"]["linkDocument"]["link"]["entity"]
    assert entity["documents"]["nodes"][0]["links"][1]["entity"]["name"] == "Secret deal"


async def test_unlink_document_does_not_read_the_entity_or_the_document(gql, tenant):
    graph = await linked_graph(gql)
    body = await gql.result(UNLINK_DOCUMENT, {"d": graph["doc"]["id"], "t": "DEAL",
                                              "e": graph["deal"]}, key=tenant.write_key)
    refused(body, ["unlinkDocument", "link", "entity"],
            ["unlinkDocument", "link", "document"])
    assert body["data"]["unlinkDocument"]["link"]["entityId"] == graph["deal"]


async def test_verify_document_gives_no_urls_and_no_links(gql, tenant):
    graph = await linked_graph(gql)
    body = await gql.result(VERIFY_DOCUMENT, {"id": graph["doc"]["id"]}, key=tenant.write_key)
    refused(body, ["verifyDocument", "download"], ["verifyDocument", "previewImage"],
            ["verifyDocument", "links"])
    assert body["data"]["verifyDocument"]["status"] == "VERIFIED"


async def test_create_document_gives_no_links_and_no_url(gql, tenant):
    ticket = await gql.upload(b"%PDF-1.4 mine", key=tenant.write_key)
    body = await gql.result(CREATE_DOCUMENT, {"input": {
        "name": "mine.pdf", "mimeType": "application/pdf",
        "storagePath": ticket["storagePath"]}}, key=tenant.write_key)
    refused(body, ["createDocument", "links"], ["createDocument", "download"])
    assert body["data"]["createDocument"]["name"] == "mine.pdf"


async def test_update_document_gives_the_document_but_not_its_links(gql, tenant):
    graph = await linked_graph(gql)
    body = await gql.result(UPDATE_DOCUMENT, {"id": graph["doc"]["id"],
                                              "input": {"name": "renamed.pdf"}},
                            key=tenant.write_key)
    refused(body, ["updateDocument", "links"])
    document = body["data"]["updateDocument"]
    assert (document["name"], document["userData"]) == ("renamed.pdf", {"salary": 1})


async def test_update_and_create_entity_do_not_read_documents(gql, tenant):
    graph = await linked_graph(gql)
    body = await gql.result(UPDATE_ENTITY, {"id": graph["deal"], "input": {"name": "D"}},
                            key=tenant.write_key)
    refused(body, ["updateEntity", "documents"])
    assert body["data"]["updateEntity"]["name"] == "D"
    body = await gql.result(CREATE_ENTITY, {"input": {"entityType": "MATTER", "name": "M"}},
                            key=tenant.write_key)
    refused(body, ["createEntity", "documents"])
    assert body["data"]["createEntity"]["name"] == "M"


# -- empty updates -------------------------------------------------------------------


@pytest.mark.parametrize(("mutation", "target"), [
    (UPDATE_DOCUMENT, "doc"), (UPDATE_CONTACT, "contact"), (UPDATE_ENTITY, "deal")])
async def test_an_empty_update_is_a_read(gql, tenant, mutation, target):
    graph = await linked_graph(gql)
    ident = graph[target] if target != "doc" else graph["doc"]["id"]
    for id in (ident, str(uuid.uuid4())):  # known or not: the same answer, no lookup
        error = await gql.error(mutation, {"id": id, "input": {}},
                                code="insufficient_permissions", key=tenant.write_key)
        assert error["extensions"]["details"] == READ_NEEDED
    # A key that may read gets the record, unchanged.
    body = await gql.result(mutation, {"id": ident, "input": {}})
    assert "errors" not in body


# -- REST ----------------------------------------------------------------------------


async def test_rest_empty_patch_is_a_read(api, tenant):
    doc = await api.create_document(name="salary.pdf")
    contact = await api.create_contact()
    for path in (f"/v1/documents/{doc['id']}", f"/v1/documents/{uuid.uuid4()}",
                 f"/v1/contacts/{contact['id']}", f"/v1/entities/{contact['id']}"):
        r = await api.patch(path, json={}, key=tenant.write_key)
        error = assert_error(r, 403, "insufficient_permissions")
        assert error["details"] == {"required_scope": "read:documents"}
    assert (await api.ok("PATCH", f"/v1/documents/{doc['id']}", json={}))["data"] == doc


async def test_rest_mutations_answer_only_the_changed_object(api, tenant):
    doc = await api.create_document()
    contact = await api.create_contact()
    r = await api.patch(f"/v1/documents/{doc['id']}", json={"name": "b.pdf"},
                        key=tenant.write_key)
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"data"} and set(r.json()["data"]) == DOCUMENT_RECORD_FIELDS
    r = await api.post(f"/v1/documents/{doc['id']}/link", key=tenant.write_key,
                       json={"entity_type": "contact", "entity_id": contact["id"]})
    assert r.status_code == 201, r.text
    assert set(r.json()) == {"data"} and set(r.json()["data"]) == LINK_FIELDS
    r = await api.patch(f"/v1/contacts/{contact['id']}", json={"name": "Bo"},
                        key=tenant.write_key)
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"data"} and set(r.json()["data"]) == ENTITY_FIELDS


# -- structurally: every loader a relation names --------------------------------------


def _relation_loaders() -> set[str]:
    schema = build_schema()
    names = set()
    for graphql_type in schema._schema.type_map.values():
        for field in getattr(graphql_type, "fields", {}).values():
            definition = (field.extensions or {}).get("strawberry-definition")
            resolver = getattr(definition, "base_resolver", None)
            relation = getattr(getattr(resolver, "wrapped_func", None), RELATION_ATTRIBUTE,
                               None)
            if relation is not None:
                names.add(relation[0])
    return names


def test_every_relation_loader_needs_the_read_scope(db):
    """The compiled executor calls a relation's loader straight off the context,
    past the resolver: the context itself refuses a key that may not read."""
    services: Any = type("Services", (), {"db": db, "store": None, "jobs": None,
                                          "settings": None, "keys": None,
                                          "scanner": None})()
    names = _relation_loaders() | {"document_page_by_entity"}
    assert {"links_by_document", "document_by_id", "entity_by_id"} <= names
    for scopes, allowed in [({auth.WRITE_DOCUMENTS}, False), ({auth.READ_DOCUMENTS}, True)]:
        principal = auth.Principal(uuid.uuid4(), uuid.uuid4(), frozenset(scopes))
        ctx = RequestContext(services, principal, "req_test")
        for name in names:
            if allowed:
                assert getattr(ctx, name) is getattr(ctx, name)
                continue
            with pytest.raises(InsufficientPermissions) as raised:
                getattr(ctx, name)
            assert raised.value.details == {"required_scope": auth.READ_DOCUMENTS}
            # A mutation still primes and clears what it changed.
            assert getattr(ctx.loaders, name) is getattr(ctx.loaders, name)
