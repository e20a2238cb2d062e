"""No tenant ever sees or changes another's data; deleted documents vanish everywhere."""

import uuid

import pytest

ID_QUERIES = [
    "query($id: ID!) { document(id: $id) { id } }",
    "query($id: ID!) { contact(id: $id) { id } }",
    "query($id: ID!) { business(id: $id) { id } }",
    "query($id: ID!) { entity(id: $id) { id } }",
    "query($id: ID!) { contact(id: $id) { documents { totalCount } } }",
    "query($id: ID!) { business(id: $id) { documents { totalCount } } }",
    "query($id: ID!) { entity(id: $id) { documents { totalCount } } }",
]
ID_MUTATIONS = [
    ('mutation($id: ID!) { updateDocument(id: $id, input: {name: "x"}) { id } }', {}),
    ("mutation($id: ID!) { updateDocument(id: $id, input: {}) { id } }", {}),
    ("mutation($id: ID!) { deleteDocument(id: $id) { id } }", {}),
    ("mutation($id: ID!) { verifyDocument(id: $id) { id } }", {}),
    ('mutation($id: ID!) { rejectDocument(id: $id, reason: "r") { id } }', {}),
    ("mutation($id: ID!) { expireDocument(id: $id) { id } }", {}),
    ('mutation($id: ID!) { updateContact(id: $id, input: {name: "x"}) { id } }', {}),
    ('mutation($id: ID!) { updateBusiness(id: $id, input: {name: "x"}) { id } }', {}),
    ('mutation($id: ID!) { updateEntity(id: $id, input: {name: "x"}) { id } }', {}),
    ('mutation($id: ID!) { updateContact(id: $id, input: {}) { id } }', {}),
]


@pytest.fixture
async def graph_of_a(gql):
    """Tenant A's graph: a document linked to a contact, a business and a deal."""
    doc = await gql.create_document(name="A-secret.pdf", folder="/a-only", tags=["a-tag"])
    contact = await gql.create_entity("CONTACT", name="A person")
    business = await gql.create_entity("COMPANY", name="A company")
    deal = await gql.create_entity("DEAL", name="A deal")
    for entity_type, entity in [("CONTACT", contact), ("COMPANY", business), ("DEAL", deal)]:
        await gql.link(doc["id"], entity_type, entity, "signed")
    return {"document": doc["id"], "contact": contact, "business": business, "deal": deal,
            "storage_path": doc["storagePath"]}


async def test_reads_of_other_tenants_ids_answer_like_unknown_ids(gql, other_gql, graph_of_a):
    unknown = str(uuid.uuid4())
    for query in ID_QUERIES:
        for their_id in (graph_of_a["document"], graph_of_a["contact"],
                         graph_of_a["business"], graph_of_a["deal"]):
            assert await other_gql.result(query, {"id": their_id}) == \
                await other_gql.result(query, {"id": unknown})


async def test_changes_to_other_tenants_ids_answer_like_unknown_ids(gql, other_gql, graph_of_a):
    unknown = str(uuid.uuid4())
    for mutation, extra in ID_MUTATIONS:
        for their_id in (graph_of_a["document"], graph_of_a["contact"],
                         graph_of_a["business"], graph_of_a["deal"]):
            theirs = await other_gql.result(mutation, {"id": their_id, **extra})
            assert theirs == await other_gql.result(mutation, {"id": unknown, **extra})
            assert theirs["errors"][0]["extensions"]["code"] == "not_found"
    # A's data is untouched.
    data = await gql("""query($d: ID!, $c: ID!) {
        document(id: $d) { name status links { role } }
        contact(id: $c) { name } }""", {"d": graph_of_a["document"], "c": graph_of_a["contact"]})
    assert data == {"document": {"name": "A-secret.pdf", "status": "PENDING",
                                 "links": [{"role": "signed"}] * 3},
                    "contact": {"name": "A person"}}


async def test_links_never_cross_tenants(gql, other_gql, graph_of_a):
    link = """mutation($d: ID!, $t: EntityType!, $e: ID!) {
        linkDocument(documentId: $d, entityType: $t, entityId: $e) { created } }"""
    unlink = """mutation($d: ID!, $t: EntityType!, $e: ID!) {
        unlinkDocument(documentId: $d, entityType: $t, entityId: $e) { link { id } } }"""
    own_doc = (await other_gql.create_document())["id"]
    own_contact = await other_gql.create_entity("CONTACT")
    unknown = str(uuid.uuid4())
    cases = [
        (own_doc, "CONTACT", graph_of_a["contact"], own_doc, "CONTACT", unknown),
        (graph_of_a["document"], "CONTACT", own_contact, unknown, "CONTACT", own_contact),
        (graph_of_a["document"], "CONTACT", graph_of_a["contact"], unknown, "CONTACT", unknown),
    ]
    for d, t, e, ud, ut, ue in cases:
        for mutation in (link, unlink):
            theirs = await other_gql.result(mutation, {"d": d, "t": t, "e": e})
            assert theirs == await other_gql.result(mutation, {"d": ud, "t": ut, "e": ue})
            assert theirs["errors"][0]["extensions"]["code"] == "not_found"
    links = await gql("query($d: ID!) { document(id: $d) { links { entityId } } }",
                      {"d": graph_of_a["document"]})
    assert len(links["document"]["links"]) == 3


async def test_lists_and_nested_fields_show_only_the_callers_data(gql, other_gql, graph_of_a):
    own_doc = await other_gql.create_document(name="B.pdf", folder="/a-only", tags=["a-tag"])
    own_contact = await other_gql.create_entity("CONTACT", name="B person")
    await other_gql.link(own_doc["id"], "CONTACT", own_contact)
    data = await other_gql("""
        query($a: ID!, $ad: ID!, $b: ID!, $bd: ID!) {
          documents(first: 100) { totalCount nodes { id links { entityId entity { id } } } }
          byFolder: documents(filter: {folder: "/a-only"}) { totalCount nodes { id } }
          byTag: documents(filter: {tags: ["a-tag"]}) { totalCount }
          byName: documents(filter: {nameContains: "secret"}) { totalCount }
          linkedToA: documents(filter: {linkedTo: {entityType: CONTACT, entityId: $a}}) {
            totalCount }
          entities(first: 100) { totalCount nodes { id } }
          theirs: document(id: $ad) { id }
          mine: document(id: $bd) { id links { entity { id ... on Contact { name } } } }
          theirContact: contact(id: $a) { id }
          myContact: contact(id: $b) { documents { totalCount edges { node { id } } } }
        }""", {"a": graph_of_a["contact"], "ad": graph_of_a["document"],
               "b": own_contact, "bd": own_doc["id"]})
    assert data["documents"] == {"totalCount": 1, "nodes": [
        {"id": own_doc["id"], "links": [{"entityId": own_contact, "entity": {"id": own_contact}}]}]}
    assert data["byFolder"] == {"totalCount": 1, "nodes": [{"id": own_doc["id"]}]}
    assert data["byTag"]["totalCount"] == 1
    assert data["byName"]["totalCount"] == 0
    assert data["linkedToA"]["totalCount"] == 0
    assert data["entities"] == {"totalCount": 1, "nodes": [{"id": own_contact}]}
    assert data["theirs"] is None and data["theirContact"] is None
    assert data["mine"]["links"] == [{"entity": {"id": own_contact, "name": "B person"}}]
    assert data["myContact"]["documents"]["totalCount"] == 1


async def test_the_same_ids_in_two_workspaces_stay_apart(gql, other_gql, graph_of_a):
    """B may use A's contact id: nothing reveals A has it."""
    made = await other_gql(
        "mutation($id: ID!) { createContact(input: {id: $id, name: \"B twin\"}) { id name } }",
        {"id": graph_of_a["contact"]})
    assert made["createContact"] == {"id": graph_of_a["contact"], "name": "B twin"}
    doc = await other_gql.create_document()
    await other_gql.link(doc["id"], "CONTACT", graph_of_a["contact"])
    mine = await other_gql("query($id: ID!) { contact(id: $id) { name documents { "
                           "totalCount nodes { id } } } }", {"id": graph_of_a["contact"]})
    assert mine["contact"] == {"name": "B twin", "documents": {"totalCount": 1,
                                                               "nodes": [{"id": doc["id"]}]}}
    theirs = await gql("query($id: ID!) { contact(id: $id) { name documents { totalCount } } }",
                       {"id": graph_of_a["contact"]})
    assert theirs["contact"] == {"name": "A person", "documents": {"totalCount": 1}}


async def test_another_workspaces_storage_path_answers_like_a_path_never_used(
        gql, other_gql, graph_of_a, tenant):
    """B cannot record A's bytes, nor learn that A has them."""
    create = ("mutation($input: CreateDocumentInput!) { createDocument(input: $input) "
              "{ id } }")
    never = f"workspaces/{tenant.id}/uploads/{uuid.uuid4().hex}.pdf"
    answers = [await other_gql.result(create, {"input": {
        "name": "x.pdf", "mimeType": "application/pdf", "storagePath": path}})
        for path in (graph_of_a["storage_path"], never)]
    assert answers[0] == answers[1]
    assert answers[0]["data"] is None
    assert answers[0]["errors"][0]["extensions"]["code"] == "validation_error"


async def test_a_deleted_document_disappears_from_every_query(gql, graph_of_a):
    doc = graph_of_a["document"]
    keep = await gql.create_document(name="keep.pdf", folder="/a-only", tags=["a-tag"])
    await gql.link(keep["id"], "CONTACT", graph_of_a["contact"])
    deleted = await gql("mutation($id: ID!) { deleteDocument(id: $id) { id deletedAt } }",
                        {"id": doc})
    assert deleted["deleteDocument"]["id"] == doc and deleted["deleteDocument"]["deletedAt"]

    data = await gql("""
        query($d: ID!, $c: ID!, $b: ID!, $deal: ID!) {
          document(id: $d) { id }
          documents(first: 100) { totalCount nodes { id } }
          byFolder: documents(filter: {folder: "/a-only"}) { totalCount nodes { id } }
          byTag: documents(filter: {tags: ["a-tag"]}) { totalCount }
          byName: documents(filter: {nameContains: "secret"}) { totalCount }
          linked: documents(filter: {linkedTo: {entityType: CONTACT, entityId: $c}}) {
            totalCount }
          contact(id: $c) { documents { totalCount nodes { id } } }
          business(id: $b) { documents { totalCount } }
          deal: entity(id: $deal) { documents(role: "signed") { totalCount } }
        }""", {"d": doc, "c": graph_of_a["contact"], "b": graph_of_a["business"],
               "deal": graph_of_a["deal"]})
    assert data == {
        "document": None,
        "documents": {"totalCount": 1, "nodes": [{"id": keep["id"]}]},
        "byFolder": {"totalCount": 1, "nodes": [{"id": keep["id"]}]},
        "byTag": {"totalCount": 1},
        "byName": {"totalCount": 0},
        "linked": {"totalCount": 1},
        "contact": {"documents": {"totalCount": 1, "nodes": [{"id": keep["id"]}]}},
        "business": {"documents": {"totalCount": 0}},
        "deal": {"documents": {"totalCount": 0}},
    }
    for mutation in [
        'mutation($id: ID!) { updateDocument(id: $id, input: {name: "x"}) { id } }',
        "mutation($id: ID!) { deleteDocument(id: $id) { id } }",
        "mutation($id: ID!) { verifyDocument(id: $id) { id } }",
        'mutation($id: ID!) { rejectDocument(id: $id, reason: "r") { id } }',
        f'mutation($id: ID!) {{ linkDocument(documentId: $id, entityType: DEAL, '
        f'entityId: "{graph_of_a["deal"]}") {{ created }} }}',
        f'mutation($id: ID!) {{ unlinkDocument(documentId: $id, entityType: DEAL, '
        f'entityId: "{graph_of_a["deal"]}") {{ link {{ id }} }} }}',
    ]:
        error = await gql.error(mutation, {"id": doc}, code="not_found")
        assert error["message"] == "No such document."
