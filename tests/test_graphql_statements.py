"""A query's SQL statements depend on its depth, not on the length of its lists.

Counted by the server itself (``X-Statement-Count``). Every request's count
includes the rate limiter's statement ("limit" below: the tests' server counts
every request in PostgreSQL, DOCGRAPH_RATE_LIMIT_LEASE=1; by default most
requests spend a lease and send none) and, as the tests' servers cache no
keys, one statement to look its key up.
"""

import pytest

CONTACT_DOCUMENTS = """
query($id: ID!) {
  contact(id: $id) {
    id name
    documents(first: 25) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges {
        role linkedAt
        node {
          id name mimeType sizeBytes folder tags createdAt
          links { entityType entityId role %s }
        }
      }
    }
  }
}
"""
WITH_ENTITIES = CONTACT_DOCUMENTS % "entity { __typename id name }"
WITHOUT_ENTITIES = CONTACT_DOCUMENTS % ""
# Signed URLs are computed, not looked up: the same cost as without them.
WITH_URLS = CONTACT_DOCUMENTS.replace(
    "id name mimeType", "id name mimeType image { width height } download { url expiresAt } "
    "previewImage(expiresIn: 60) { url width height expiresAt }") % ""
WITH_ENTITY_DOCUMENTS = CONTACT_DOCUMENTS % """
    entity { __typename id documents(first: 5) { totalCount nodes { id } } }"""
WORKSPACE_DOCUMENTS = """
{
  documents(first: 25) {
    totalCount
    nodes { id name download { url } links { role entity { __typename id name } } }
  }
}
"""


async def contact_with_documents(gql, n: int) -> str:
    """A contact with n documents, each also linked to its own deal and a shared business."""
    contact = await gql.create_entity("CONTACT", name="Ada")
    business = await gql.create_entity("COMPANY", name="Acme")
    for i in range(n):
        doc = await gql.create_document(name=f"doc-{i}.pdf", folder="/clients/acme",
                                        tags=["nda"])
        await gql.link(doc["id"], "CONTACT", contact, "signed")
        await gql.link(doc["id"], "DEAL", await gql.create_entity("DEAL", name=f"Deal {i}"))
        await gql.link(doc["id"], "COMPANY", business, "client")
    return contact


async def statements(gql, query, variables=None) -> tuple[int, dict]:
    r = await gql.post(query, variables)
    assert r.status_code == 200
    body = r.json()
    assert "errors" not in body, body["errors"]
    return int(r.headers["x-statement-count"]), body["data"]


@pytest.mark.parametrize(("query", "expected"), [
    # limit + key + (the contact, its page with the total and the page's links: one
    # statement) + entities
    (WITH_ENTITIES, 4),
    # limit + key + the contact, its page and their links: the shape the benchmark of a
    # later issue uses (2 statements once the key is cached, as in production)
    (WITHOUT_ENTITIES, 3),
    # signing download and preview URLs sends no SQL
    (WITH_URLS, 3),
    # ... + the linked entities' own pages of documents: one statement for all of them
    # (the compiled executor resolves a whole level before the dataloaders dispatch)
    (WITH_ENTITY_DOCUMENTS, 5),
])
async def test_a_page_of_1_costs_what_a_page_of_25_costs(gql, other_gql, query, expected):
    one = await contact_with_documents(other_gql, 1)
    many = await contact_with_documents(gql, 25)

    count_one, data_one = await statements(other_gql, query, {"id": one})
    count_many, data_many = await statements(gql, query, {"id": many})

    assert count_one == count_many == expected
    assert data_one["contact"]["documents"]["totalCount"] == 1
    page = data_many["contact"]["documents"]
    assert page["totalCount"] == 25 and len(page["edges"]) == 25
    for edge in page["edges"]:
        assert edge["role"] == "signed"
        links = edge["node"]["links"]
        assert [link["entityType"] for link in links] == ["CONTACT", "DEAL", "COMPANY"]
        if "entity" in links[0]:
            assert [link["entity"]["__typename"] for link in links] == \
                ["Contact", "Deal", "Business"]
            assert links[1]["entity"]["id"] == links[1]["entityId"]
            if "documents" in links[1]["entity"]:
                assert links[1]["entity"]["documents"]["totalCount"] == 1
                assert links[0]["entity"]["documents"]["totalCount"] == 25
                assert len(links[0]["entity"]["documents"]["nodes"]) == 5
            else:
                assert links[1]["entity"]["name"].startswith("Deal ")
        if "download" in edge["node"]:
            assert edge["node"]["download"]["url"].startswith("http")
            assert edge["node"]["previewImage"] is None


async def test_the_workspace_list_costs_the_same_for_1_and_25(gql, other_gql):
    await contact_with_documents(other_gql, 1)
    await contact_with_documents(gql, 25)
    count_one, data_one = await statements(other_gql, WORKSPACE_DOCUMENTS)
    count_many, data_many = await statements(gql, WORKSPACE_DOCUMENTS)
    # limit + key + page with its total + links + entities
    assert count_one == count_many == 5
    assert len(data_one["documents"]["nodes"]) == 1
    assert len(data_many["documents"]["nodes"]) == 25
    assert all(len(node["links"]) == 3 for node in data_many["documents"]["nodes"])


async def test_documents_by_id_load_in_one_statement(gql):
    docs = [(await gql.create_document())["id"] for _ in range(5)]
    query = "{ " + " ".join(f'd{i}: document(id: "{d}") {{ id name }}'
                            for i, d in enumerate(docs)) + " }"
    count, data = await statements(gql, query)
    assert count == 3  # limit + key + all five documents
    assert [data[f"d{i}"]["id"] for i in range(5)] == docs


async def test_looking_ahead_changes_the_cost_not_the_answer(gql):
    """contact(id) reads the contact and its page at once when it sees the page's arguments."""
    contact = await contact_with_documents(gql, 3)
    selection = ('documents(first: $n, role: "signed") '
                 "{ totalCount edges { cursor role node { id } } }")
    direct = "query($id: ID!, $n: Int) { contact(id: $id) { name SELECTION } }"
    hidden = "query($id: ID!, $n: Int) { contact(id: $id) { name ... on Contact { SELECTION } } }"
    direct, hidden = direct.replace("SELECTION", selection), hidden.replace("SELECTION", selection)
    count_direct, direct_data = await statements(gql, direct, {"id": contact, "n": 2})
    count_hidden, hidden_data = await statements(gql, hidden, {"id": contact, "n": 2})
    assert direct_data == hidden_data
    assert direct_data["contact"]["documents"]["totalCount"] == 3
    assert len(direct_data["contact"]["documents"]["edges"]) == 2
    assert (count_direct, count_hidden) == (3, 4)


async def test_several_contacts_and_their_pages_load_in_one_statement(gql):
    """Each owner's own columns come on its first row only; every owner still gets its own."""
    ada = await contact_with_documents(gql, 2)
    bob = await gql.create_entity("CONTACT", name="Bob", attributes={"tier": "gold"})
    nobody = await gql.create_entity("CONTACT", name="Nobody")  # no documents at all
    for i in range(3):
        doc = await gql.create_document(name=f"bob-{i}.pdf")
        await gql.link(doc["id"], "CONTACT", bob)
    query = """query($a: ID!, $b: ID!, $c: ID!) {
        a: contact(id: $a) { name attributes documents(first: 25) { totalCount nodes { id } } }
        b: contact(id: $b) { name attributes documents(first: 25) { totalCount nodes { id } } }
        c: contact(id: $c) { name attributes documents(first: 25) { totalCount nodes { id } } }
    }"""
    count, data = await statements(gql, query, {"a": ada, "b": bob, "c": nobody})
    assert count == 3  # limit + key + the three contacts with their pages
    assert [(data[k]["name"], data[k]["attributes"], data[k]["documents"]["totalCount"],
             len(data[k]["documents"]["nodes"])) for k in "abc"] == [
        ("Ada", {}, 2, 2), ("Bob", {"tier": "gold"}, 3, 3), ("Nobody", {}, 0, 0)]


async def test_links_load_with_the_page_only_when_written_out(gql):
    """A page's documents' links come in the page's statement when the selection names
    them directly; through a fragment they load apart, with the same answer."""
    contact = await contact_with_documents(gql, 3)
    direct = """query($id: ID!) { contact(id: $id) { documents(first: 10) {
        nodes { id links { entityType role createdAt } }
        edges { linkedAt node { id } } } } }"""
    hidden = """fragment Links on Document { links { entityType role createdAt } }
        query($id: ID!) { contact(id: $id) { documents(first: 10) {
        nodes { id ...Links } edges { linkedAt node { id } } } } }"""
    count_direct, direct_data = await statements(gql, direct, {"id": contact})
    count_hidden, hidden_data = await statements(gql, hidden, {"id": contact})
    assert direct_data == hidden_data
    page = direct_data["contact"]["documents"]
    assert [[(link["entityType"], link["role"]) for link in node["links"]]
            for node in page["nodes"]] == \
        [[("CONTACT", "signed"), ("DEAL", None), ("COMPANY", "client")]] * 3
    # The page's own link (the contact's) is the first of each document's links.
    assert [edge["linkedAt"] for edge in page["edges"]] == \
        [node["links"][0]["createdAt"] for node in page["nodes"]]
    assert (count_direct, count_hidden) == (3, 4)


async def test_one_query_text_reads_each_entitys_page_with_its_own_arguments(gql):
    """The look-ahead's work is kept per query text and argument values, never per
    entity: each request still gets its own entity's page, in one statement."""
    ada = await contact_with_documents(gql, 3)
    bob = await contact_with_documents(gql, 2)
    query = """query($id: ID!, $n: Int, $role: String, $after: String) {
        contact(id: $id) { name documents(first: $n, role: $role, after: $after) {
            totalCount pageInfo { endCursor } nodes { id name } } } }"""

    async def page(**variables):
        count, data = await statements(gql, query, variables)
        assert count == 3, variables  # limit + key + the contact with its page
        return data["contact"]

    first_ada = await page(id=ada, n=2, role="signed")
    first_bob = await page(id=bob, n=2, role="signed")
    assert (first_ada["name"], first_ada["documents"]["totalCount"]) == ("Ada", 3)
    assert first_bob["documents"]["totalCount"] == 2
    assert not {n["id"] for n in first_ada["documents"]["nodes"]} & \
        {n["id"] for n in first_bob["documents"]["nodes"]}
    assert len((await page(id=ada, n=1, role="signed"))["documents"]["nodes"]) == 1
    assert (await page(id=ada, n=2, role="client"))["documents"]["totalCount"] == 0
    assert await page(id=ada, n=2, role="signed") == first_ada  # the same again
    # A cursor walk: every page of its own cursor.
    seen, after = [], None
    while True:
        walked = (await page(id=ada, n=1, role="signed", after=after))["documents"]
        if not walked["nodes"]:
            break
        seen += [n["id"] for n in walked["nodes"]]
        after = walked["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 3
    # Arguments the page refuses are refused as before, whoever asked first.
    for variables in ({"id": ada, "n": -1}, {"id": "not-a-uuid", "n": 2}):
        r = await gql.post(query, variables)
        assert r.status_code == 200
        assert r.json()["errors"][0]["extensions"]["code"] == "validation_error", r.json()
