"""Entities over GraphQL, and their document lists (seeds 000, 003, 004)."""

import uuid

import pytest

ENTITY_FIELDS = "__typename id entityType name attributes createdAt updatedAt"
CREATE_CONTACT = f"""
mutation($input: CreateContactInput!) {{ createContact(input: $input) {{ {ENTITY_FIELDS} }} }}
"""
UPDATE_CONTACT = f"""
mutation($id: ID!, $input: UpdateContactInput!) {{
  updateContact(id: $id, input: $input) {{ {ENTITY_FIELDS} }}
}}
"""
CREATE_BUSINESS = f"""
mutation($input: CreateBusinessInput!) {{ createBusiness(input: $input) {{ {ENTITY_FIELDS} }} }}
"""
UPDATE_BUSINESS = f"""
mutation($id: ID!, $input: UpdateBusinessInput!) {{
  updateBusiness(id: $id, input: $input) {{ {ENTITY_FIELDS} }}
}}
"""
CREATE_ENTITY = f"""
mutation($input: CreateEntityInput!) {{ createEntity(input: $input) {{ {ENTITY_FIELDS} }} }}
"""
UPDATE_ENTITY = f"""
mutation($id: ID!, $input: UpdateEntityInput!) {{
  updateEntity(id: $id, input: $input) {{ {ENTITY_FIELDS} }}
}}
"""
GET_ALL = f"""
query($id: ID!) {{
  contact(id: $id) {{ {ENTITY_FIELDS} }}
  business(id: $id) {{ {ENTITY_FIELDS} }}
  entity(id: $id) {{ {ENTITY_FIELDS} }}
}}
"""
CONTACT_DOCUMENTS = """
query($id: ID!, $role: String, $first: Int, $offset: Int) {
  contact(id: $id) {
    name
    documents(role: $role, first: $first, offset: $offset) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage }
      edges { role linkedAt link { id entityType entityId role } node { id name folder tags } }
      nodes { id }
    }
  }
}
"""
BUSINESS_DOCUMENTS = """
query($id: ID!, $type: DocumentType, $status: DocumentStatus, $first: Int, $offset: Int) {
  business(id: $id) {
    documents(type: $type, status: $status, first: $first, offset: $offset) {
      totalCount
      nodes { id name type status userData verifiedAt rejectionReason createdAt }
    }
  }
}
"""


async def test_create_and_read_a_contact(gql):
    own_id = str(uuid.uuid4())
    data = await gql(CREATE_CONTACT, {"input": {"id": own_id, "name": "Ada Lovelace",
                                                "attributes": {"email": "ada@example.com"}}})
    contact = data["createContact"]
    assert contact["__typename"] == "Contact"
    assert (contact["id"], contact["entityType"], contact["name"], contact["attributes"]) == \
        (own_id, "CONTACT", "Ada Lovelace", {"email": "ada@example.com"})
    read = await gql(GET_ALL, {"id": own_id})
    assert read == {"contact": contact, "business": None, "entity": contact}


async def test_create_and_read_a_business(gql):
    data = await gql(CREATE_BUSINESS, {"input": {"name": "Acme Inc."}})
    business = data["createBusiness"]
    assert (business["__typename"], business["entityType"], business["attributes"]) == \
        ("Business", "COMPANY", {})
    read = await gql(GET_ALL, {"id": business["id"]})
    assert read == {"contact": None, "business": business, "entity": business}


@pytest.mark.parametrize(("entity_type", "typename"), [
    ("DEAL", "Deal"), ("EVENT", "Event"), ("MATTER", "Matter"), ("TASK", "Task"),
    ("CONTACT", "Contact"), ("COMPANY", "Business"),
])
async def test_create_entity_of_each_type(gql, entity_type, typename):
    data = await gql(CREATE_ENTITY, {"input": {"entityType": entity_type, "name": "Thing",
                                               "attributes": {"stage": 2}}})
    entity = data["createEntity"]
    assert (entity["__typename"], entity["entityType"], entity["name"], entity["attributes"]) \
        == (typename, entity_type, "Thing", {"stage": 2})
    assert (await gql(GET_ALL, {"id": entity["id"]}))["entity"] == entity


async def test_deals_events_matters_and_tasks_may_go_without_a_name(gql):
    data = await gql(CREATE_ENTITY, {"input": {"entityType": "TASK"}})
    assert data["createEntity"]["name"] is None
    data = await gql(UPDATE_ENTITY, {"id": data["createEntity"]["id"],
                                     "input": {"name": "Call Ada"}})
    assert data["updateEntity"]["name"] == "Call Ada"
    data = await gql(UPDATE_ENTITY, {"id": data["updateEntity"]["id"], "input": {"name": None}})
    assert data["updateEntity"]["name"] is None


async def test_contacts_and_businesses_need_a_name(gql):
    for entity_type in ("CONTACT", "COMPANY"):
        error = await gql.error(CREATE_ENTITY, {"input": {"entityType": entity_type}},
                                code="validation_error")
        assert error["extensions"]["details"] == {
            "fields": {"name": "is required for contacts and companies"}}
    contact = (await gql(CREATE_CONTACT, {"input": {"name": "Ada"}}))["createContact"]
    for mutation in (UPDATE_CONTACT, UPDATE_ENTITY):
        error = await gql.error(mutation, {"id": contact["id"], "input": {"name": None}},
                                code="validation_error")
        assert list(error["extensions"]["details"]["fields"]) == ["name"]
    assert (await gql(GET_ALL, {"id": contact["id"]}))["contact"]["name"] == "Ada"


async def test_update_contact_and_business(gql):
    contact = (await gql(CREATE_CONTACT, {"input": {"name": "Ada", "attributes": {"a": 1}}}))[
        "createContact"]
    updated = (await gql(UPDATE_CONTACT, {"id": contact["id"],
                                          "input": {"attributes": {"b": 2}}}))["updateContact"]
    assert (updated["name"], updated["attributes"]) == ("Ada", {"b": 2})  # replaced
    assert updated["updatedAt"] > contact["updatedAt"]
    business = (await gql(CREATE_BUSINESS, {"input": {"name": "Acme"}}))["createBusiness"]
    updated = (await gql(UPDATE_BUSINESS, {"id": business["id"],
                                           "input": {"name": "Acme Corp"}}))["updateBusiness"]
    assert (updated["name"], updated["attributes"]) == ("Acme Corp", {})
    # A contact is not a business, and the reverse.
    error = await gql.error(UPDATE_BUSINESS, {"id": contact["id"], "input": {"name": "x"}},
                            code="not_found")
    assert error["message"] == "No such company."
    error = await gql.error(UPDATE_CONTACT, {"id": business["id"], "input": {"name": "x"}},
                            code="not_found")
    assert error["message"] == "No such contact."
    await gql.error(UPDATE_ENTITY, {"id": str(uuid.uuid4()), "input": {"name": "x"}},
                    code="not_found")


async def test_a_taken_id_is_a_conflict(gql):
    contact = (await gql(CREATE_CONTACT, {"input": {"name": "Ada"}}))["createContact"]
    error = await gql.error(CREATE_ENTITY, {"input": {"entityType": "DEAL", "id": contact["id"]}},
                            code="conflict")
    assert error["extensions"]["details"] == {"id": contact["id"]}


@pytest.mark.parametrize(("mutation", "values", "field"), [
    (CREATE_CONTACT, {"name": ""}, "name"),
    (CREATE_CONTACT, {"name": "n" * 256}, "name"),
    (CREATE_CONTACT, {"name": "Ada", "id": "not-a-uuid"}, "id"),
    (CREATE_CONTACT, {"name": "Ada", "attributes": [1]}, "attributes"),
    (CREATE_CONTACT, {"name": "Ada", "attributes": {"deep": "\u0000"}}, "attributes"),
    (CREATE_BUSINESS, {"name": "Acme", "attributes": None}, "attributes"),
])
async def test_entity_input_is_validated(gql, mutation, values, field):
    error = await gql.error(mutation, {"input": values}, code="validation_error")
    if "details" in error["extensions"]:
        assert list(error["extensions"]["details"]["fields"]) == [field]
    else:  # refused by the schema itself
        assert field in error["message"]


async def test_json_numbers_that_would_not_be_kept_are_refused(gql):
    # (Every case, on both faces: tests/test_json_numbers.py.)
    error = await gql.error("""mutation { createEntity(input: {entityType: DEAL,
                               attributes: {n: 1180591620717411303424}}) { id } }""",
                            code="validation_error")
    assert error["extensions"]["details"] == {"fields": {"attributes": (
        "must not contain numbers beyond ±9007199254740991 (2^53 - 1): "
        "they would not be kept exactly")}}


async def test_entities_list_filters_and_pages(gql):
    tag = uuid.uuid4().hex[:6]
    made = [await gql.create_entity("DEAL", name=f"Deal {tag} {i}") for i in range(3)]
    await gql.create_entity("CONTACT", name=f"Contact {tag}")
    data = await gql("""
        query($q: String) {
          deals: entities(type: DEAL, nameContains: $q) {
            totalCount nodes { __typename id name } }
          all: entities(nameContains: $q) { totalCount }
          none: entities(nameContains: "no such name at all") { totalCount edges { cursor } }
        }""", {"q": tag.upper()})
    assert data["deals"]["totalCount"] == 3
    assert [n["id"] for n in data["deals"]["nodes"]] == made[::-1]  # newest first
    assert {n["__typename"] for n in data["deals"]["nodes"]} == {"Deal"}
    assert data["all"]["totalCount"] == 4
    assert data["none"] == {"totalCount": 0, "edges": []}


async def contact_with_documents(gql, roles):
    contact = await gql.create_entity("CONTACT", name="Ada")
    docs = []
    for i, role in enumerate(roles):
        doc = await gql.create_document(name=f"doc-{i}.pdf", folder="/clients/acme",
                                        tags=["t"])
        await gql.link(doc["id"], "CONTACT", contact, role)
        docs.append(doc)
    return contact, docs


async def test_a_contacts_documents_carry_their_role_and_linked_at(gql):
    contact, docs = await contact_with_documents(gql, ["signed", None, "signed"])
    data = await gql(CONTACT_DOCUMENTS, {"id": contact})
    page = data["contact"]["documents"]
    assert page["totalCount"] == 3
    assert page["pageInfo"] == {"hasNextPage": False, "hasPreviousPage": False}
    assert [e["node"]["id"] for e in page["edges"]] == [d["id"] for d in docs[::-1]]
    assert [n["id"] for n in page["nodes"]] == [d["id"] for d in docs[::-1]]
    assert [e["role"] for e in page["edges"]] == ["signed", None, "signed"]
    for edge in page["edges"]:
        assert edge["link"]["entityId"] == contact and edge["link"]["entityType"] == "CONTACT"
        assert edge["link"]["role"] == edge["role"]
        assert edge["linkedAt"]
        assert edge["node"]["folder"] == "/clients/acme" and edge["node"]["tags"] == ["t"]
    signed = (await gql(CONTACT_DOCUMENTS, {"id": contact, "role": "signed"}))["contact"]
    assert signed["documents"]["totalCount"] == 2
    assert [e["node"]["id"] for e in signed["documents"]["edges"]] == [docs[2]["id"],
                                                                       docs[0]["id"]]


async def test_an_unknown_contact_is_null(gql):
    assert (await gql(CONTACT_DOCUMENTS, {"id": str(uuid.uuid4())}))["contact"] is None
    business = await gql.create_entity("COMPANY", name="Acme")
    assert (await gql(CONTACT_DOCUMENTS, {"id": business}))["contact"] is None


async def test_a_businesss_documents_by_type_and_status_newest_first(gql):
    business = await gql.create_entity("COMPANY", name="Acme")
    made = {}
    for name, doc_type in [("id.pdf", "IDENTIFICATION"), ("bank.pdf", "BANK_STATEMENT"),
                           ("id2.pdf", "IDENTIFICATION")]:
        doc = await gql.create_document(name=name, type=doc_type,
                                        userData={"purpose": name})
        await gql.link(doc["id"], "COMPANY", business)
        made[name] = doc
    await gql("mutation($id: ID!) { verifyDocument(id: $id) { id } }",
              {"id": made["id.pdf"]["id"]})
    await gql("mutation($id: ID!) { rejectDocument(id: $id, reason: \"expired ID\") { id } }",
              {"id": made["id2.pdf"]["id"]})

    everything = (await gql(BUSINESS_DOCUMENTS, {"id": business}))["business"]["documents"]
    assert everything["totalCount"] == 3
    assert [n["name"] for n in everything["nodes"]] == ["id2.pdf", "bank.pdf", "id.pdf"]
    by_name = {n["name"]: n for n in everything["nodes"]}
    assert by_name["id.pdf"]["verifiedAt"] and by_name["id.pdf"]["rejectionReason"] is None
    assert by_name["id2.pdf"]["rejectionReason"] == "expired ID"
    assert by_name["id2.pdf"]["verifiedAt"] is None
    assert by_name["bank.pdf"]["userData"] == {"purpose": "bank.pdf"}

    ids = (await gql(BUSINESS_DOCUMENTS, {"id": business, "type": "IDENTIFICATION"}))
    assert [n["name"] for n in ids["business"]["documents"]["nodes"]] == ["id2.pdf", "id.pdf"]
    verified_ids = await gql(BUSINESS_DOCUMENTS, {"id": business, "type": "IDENTIFICATION",
                                                  "status": "VERIFIED"})
    assert [n["name"] for n in verified_ids["business"]["documents"]["nodes"]] == ["id.pdf"]
    pending = await gql(BUSINESS_DOCUMENTS, {"id": business, "status": "PENDING"})
    assert [n["name"] for n in pending["business"]["documents"]["nodes"]] == ["bank.pdf"]
    none = await gql(BUSINESS_DOCUMENTS, {"id": business, "status": "EXPIRED"})
    assert none["business"]["documents"] == {"totalCount": 0, "nodes": []}


async def test_entity_document_filters_are_validated(gql):
    contact = await gql.create_entity("CONTACT")
    error = await gql.error(CONTACT_DOCUMENTS, {"id": contact, "role": "r" * 65},
                            code="validation_error")
    assert error["path"] == ["contact", "documents"]
    error = await gql.error(BUSINESS_DOCUMENTS, {"id": contact, "status": "LOST"},
                            code="validation_error")
    assert "DocumentStatus" in error["message"]


async def test_every_entity_type_lists_its_documents(gql):
    deal = await gql.create_entity("DEAL", name=None)
    doc = await gql.create_document()
    await gql.link(doc["id"], "DEAL", deal, "evidence")
    data = await gql("""
        query($id: ID!) {
          entity(id: $id) {
            __typename
            documents { totalCount edges { role node { id } } }
          }
        }""", {"id": deal})
    assert data["entity"] == {"__typename": "Deal", "documents": {
        "totalCount": 1, "edges": [{"role": "evidence", "node": {"id": doc["id"]}}]}}


async def test_entity_scopes(gql, tenant):
    await gql.error(CREATE_CONTACT, {"input": {"name": "Ada"}}, code="insufficient_permissions",
                    key=tenant.read_key)
    contact = (await gql(CREATE_CONTACT, {"input": {"name": "Ada"}}, key=tenant.write_key))[
        "createContact"]
    await gql.error(UPDATE_CONTACT, {"id": contact["id"], "input": {"name": "Bob"}},
                    code="insufficient_permissions", key=tenant.read_key)
    await gql.error("query($id: ID!) { contact(id: $id) { name } }", {"id": contact["id"]},
                    code="insufficient_permissions", key=tenant.write_key)
    await gql.error("{ entities { totalCount } }", code="insufficient_permissions",
                    key=tenant.write_key)
    data = await gql("query($id: ID!) { contact(id: $id) { name } }", {"id": contact["id"]},
                     key=tenant.read_key)
    assert data["contact"]["name"] == "Ada"


async def test_a_write_only_key_needs_no_read_scope_to_change(gql, tenant):
    contact = (await gql(CREATE_CONTACT, {"input": {"name": "Ada"}}))["createContact"]
    error = await gql.error(UPDATE_ENTITY, {"id": contact["id"], "input": {"name": None}},
                            code="validation_error", key=tenant.write_key)
    assert list(error["extensions"]["details"]["fields"]) == ["name"]
    data = await gql(UPDATE_CONTACT, {"id": contact["id"], "input": {"name": "Bo"}},
                     key=tenant.write_key)
    assert data["updateContact"]["name"] == "Bo"
    await gql.error(UPDATE_CONTACT, {"id": str(uuid.uuid4()), "input": {"name": "Bo"}},
                    code="not_found", key=tenant.write_key)
    # An empty update would only read: it needs read:documents (tests/test_write_only_keys.py).
    await gql.error(UPDATE_CONTACT, {"id": contact["id"], "input": {}},
                    code="insufficient_permissions", key=tenant.write_key)
