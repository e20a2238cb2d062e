"""Links over GraphQL (seed 001): one per (document, entity), repeated links are found."""

import asyncio
import uuid

import pytest

LINK = """
mutation($d: ID!, $t: EntityType!, $e: ID!, $r: String) {
  linkDocument(documentId: $d, entityType: $t, entityId: $e, role: $r) {
    created
    link {
      id documentId entityType entityId role createdAt
      document { id name }
      entity { __typename id entityType name }
    }
  }
}
"""
UNLINK = """
mutation($d: ID!, $t: EntityType!, $e: ID!) {
  unlinkDocument(documentId: $d, entityType: $t, entityId: $e) {
    link { id documentId entityType entityId role document { id } }
  }
}
"""
LINKS = "query($id: ID!) { document(id: $id) { links { id entityType entityId role createdAt } } }"

ENTITY_TYPES = [("CONTACT", "Contact"), ("COMPANY", "Business"), ("DEAL", "Deal"),
                ("EVENT", "Event"), ("MATTER", "Matter"), ("TASK", "Task")]


@pytest.mark.parametrize(("entity_type", "typename"), ENTITY_TYPES)
async def test_link_a_document_to_each_entity_type(gql, entity_type, typename):
    doc = await gql.create_document(name="Acme-NDA-2026.pdf")
    entity = await gql.create_entity(entity_type, name="Acme")
    data = await gql(LINK, {"d": doc["id"], "t": entity_type, "e": entity, "r": "signed"})
    result = data["linkDocument"]
    assert result["created"] is True
    link = result["link"]
    assert uuid.UUID(link["id"])
    assert (link["documentId"], link["entityType"], link["entityId"], link["role"]) == \
        (doc["id"], entity_type, entity, "signed")
    assert link["document"] == {"id": doc["id"], "name": "Acme-NDA-2026.pdf"}
    assert link["entity"] == {"__typename": typename, "id": entity, "entityType": entity_type,
                              "name": "Acme"}


async def test_linking_again_returns_the_existing_link_unchanged(gql):
    doc = await gql.create_document()
    contact = await gql.create_entity("CONTACT")
    first = (await gql(LINK, {"d": doc["id"], "t": "CONTACT", "e": contact, "r": "signed"}))
    again = (await gql(LINK, {"d": doc["id"], "t": "CONTACT", "e": contact, "r": "draft"}))
    assert first["linkDocument"]["created"] is True
    assert again["linkDocument"]["created"] is False
    assert again["linkDocument"]["link"] == first["linkDocument"]["link"]  # role kept: signed
    links = (await gql(LINKS, {"id": doc["id"]}))["document"]["links"]
    assert [link["id"] for link in links] == [first["linkDocument"]["link"]["id"]]


async def test_a_document_links_to_many_entities_oldest_first(gql):
    doc = await gql.create_document()
    targets = [("CONTACT", await gql.create_entity("CONTACT")),
               ("COMPANY", await gql.create_entity("COMPANY")),
               ("DEAL", await gql.create_entity("DEAL", name=None))]
    made = [(await gql.link(doc["id"], t, e))["link"] for t, e in targets]
    links = (await gql(LINKS, {"id": doc["id"]}))["document"]["links"]
    assert [(link["entityType"], link["entityId"]) for link in links] == targets
    assert [link["id"] for link in links] == [m["id"] for m in made]
    assert links[0]["role"] is None


async def test_repeating_a_link_in_one_request_sees_the_link(gql):
    """Mutations run in order; the second finds what the first made."""
    doc = await gql.create_document()
    contact = await gql.create_entity("CONTACT")
    data = await gql("""
        mutation($d: ID!, $e: ID!) {
          a: linkDocument(documentId: $d, entityType: CONTACT, entityId: $e, role: "x") {
            created link { id document { links { id } } } }
          b: linkDocument(documentId: $d, entityType: CONTACT, entityId: $e) {
            created link { id document { links { id } } } }
        }""", {"d": doc["id"], "e": contact})
    assert (data["a"]["created"], data["b"]["created"]) == (True, False)
    assert data["a"]["link"]["id"] == data["b"]["link"]["id"]
    assert data["b"]["link"]["document"]["links"] == [{"id": data["a"]["link"]["id"]}]


async def test_linking_to_what_does_not_exist_is_not_found(gql):
    doc = await gql.create_document()
    contact = await gql.create_entity("CONTACT")
    deal = await gql.create_entity("DEAL")
    error = await gql.error(LINK, {"d": str(uuid.uuid4()), "t": "CONTACT", "e": contact},
                            code="not_found")
    assert error["message"] == "No such document."
    error = await gql.error(LINK, {"d": doc["id"], "t": "CONTACT", "e": str(uuid.uuid4())},
                            code="not_found")
    assert error["message"] == "No such contact."
    # An entity of another type than the one named is not that entity.
    error = await gql.error(LINK, {"d": doc["id"], "t": "CONTACT", "e": deal}, code="not_found")
    assert error["message"] == "No such contact."
    assert (await gql(LINKS, {"id": doc["id"]}))["document"]["links"] == []


@pytest.mark.parametrize(("variables", "fields"), [
    ({"r": "r" * 65}, {"role": "must be 1-64 characters long"}),
    ({"r": ""}, {"role": "must be 1-64 characters long"}),
    ({"d": "not-a-uuid"}, {"documentId": "must be a UUID"}),
    ({"e": "not-a-uuid"}, {"entityId": "must be a UUID"}),
    ({"d": "x", "e": "y"}, {"documentId": "must be a UUID", "entityId": "must be a UUID"}),
])
async def test_link_refuses_bad_input(gql, variables, fields):
    doc = await gql.create_document()
    contact = await gql.create_entity("CONTACT")
    error = await gql.error(LINK, {"d": doc["id"], "t": "CONTACT", "e": contact, **variables},
                            code="validation_error")
    assert error["extensions"]["details"] == {"fields": fields}


async def test_an_unsupported_entity_type_is_refused_by_the_schema(gql):
    doc = await gql.create_document()
    error = await gql.error(LINK, {"d": doc["id"], "t": "PERSON", "e": str(uuid.uuid4())},
                            code="validation_error")
    assert "EntityType" in error["message"]


async def test_a_role_of_64_characters_is_fine(gql):
    doc = await gql.create_document()
    contact = await gql.create_entity("CONTACT")
    assert (await gql.link(doc["id"], "CONTACT", contact, "r" * 64))["link"]["role"] == "r" * 64


async def test_unlink_removes_the_link(gql):
    doc = await gql.create_document()
    contact = await gql.create_entity("CONTACT")
    deal = await gql.create_entity("DEAL")
    made = (await gql.link(doc["id"], "CONTACT", contact, "signed"))["link"]
    await gql.link(doc["id"], "DEAL", deal)
    data = await gql(UNLINK, {"d": doc["id"], "t": "CONTACT", "e": contact})
    assert data["unlinkDocument"]["link"] == {
        "id": made["id"], "documentId": doc["id"], "entityType": "CONTACT", "entityId": contact,
        "role": "signed", "document": {"id": doc["id"]}}
    links = (await gql(LINKS, {"id": doc["id"]}))["document"]["links"]
    assert [link["entityId"] for link in links] == [deal]
    error = await gql.error(UNLINK, {"d": doc["id"], "t": "CONTACT", "e": contact},
                            code="not_found")
    assert error["message"] == "No such link."
    # Linking again makes a new link.
    again = await gql.link(doc["id"], "CONTACT", contact)
    assert again["created"] is True and again["link"]["id"] != made["id"]


async def test_link_scopes(gql, tenant):
    doc = await gql.create_document()
    contact = await gql.create_entity("CONTACT")
    await gql.error(LINK, {"d": doc["id"], "t": "CONTACT", "e": contact},
                    code="insufficient_permissions", key=tenant.read_key)
    await gql.link(doc["id"], "CONTACT", contact)
    await gql.error(UNLINK, {"d": doc["id"], "t": "CONTACT", "e": contact},
                    code="insufficient_permissions", key=tenant.read_key)
    assert len((await gql(LINKS, {"id": doc["id"]}))["document"]["links"]) == 1


async def test_a_write_only_key_gets_the_same_answers(gql, tenant):
    doc = await gql.create_document()
    contact = await gql.create_entity("CONTACT")
    error = await gql.error(UNLINK, {"d": doc["id"], "t": "CONTACT", "e": contact},
                            code="not_found", key=tenant.write_key)
    assert error["message"] == "No such link."
    error = await gql.error(UNLINK, {"d": str(uuid.uuid4()), "t": "CONTACT", "e": contact},
                            code="not_found", key=tenant.write_key)
    assert error["message"] == "No such document."


async def test_concurrent_identical_links_make_one_link(gql):
    doc = await gql.create_document()
    contact = await gql.create_entity("CONTACT")
    variables = {"d": doc["id"], "t": "CONTACT", "e": contact, "r": "signed"}
    results = await asyncio.gather(*[gql(LINK, variables) for _ in range(8)])
    created = [r["linkDocument"]["created"] for r in results]
    assert created.count(True) == 1
    assert len({r["linkDocument"]["link"]["id"] for r in results}) == 1
    links = (await gql(LINKS, {"id": doc["id"]}))["document"]["links"]
    assert len(links) == 1
