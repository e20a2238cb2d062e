"""An entity's documents from the links' indexes: both orders, cursors that name their
order, totals only when asked, and links that always carry their document's time."""

from __future__ import annotations

import uuid

from docgraph.db.migrate import migrate
from tests.test_graphql_lists import walk

PAGE = """
query($id: ID!, $order: LinkedDocumentOrder, $first: Int, $after: String, $offset: Int,
      $role: String) {
  contact(id: $id) {
    documents(orderBy: $order, first: $first, after: $after, offset: $offset, role: $role) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor role node { id } }
    }
  }
}
"""
# The same page without totalCount: nothing counts the list.
PAGE_WITHOUT_TOTAL = PAGE.replace("      totalCount\n", "")


async def linked_in_another_order(gql, n=5):
    """A contact and documents recorded in one order but linked in the reverse one."""
    contact = await gql.create_entity("CONTACT")
    made = [(await gql.create_document())["id"] for _ in range(n)]
    for document in reversed(made):
        await gql.link(document, "CONTACT", contact, role="signed")
    return contact, made


async def page_of(gql, contact, query=PAGE, **variables):
    data = await gql(query, {"id": contact, **variables})
    return data["contact"]["documents"]


async def test_newest_document_first_by_default_and_newest_link_first_when_asked(gql):
    contact, made = await linked_in_another_order(gql)
    by_document = await page_of(gql, contact)
    assert [e["node"]["id"] for e in by_document["edges"]] == made[::-1]
    assert by_document == await page_of(gql, contact, order="CREATED_AT")
    by_link = await page_of(gql, contact, order="LINKED_AT")
    # Linked last to first: the first document recorded was linked last.
    assert [e["node"]["id"] for e in by_link["edges"]] == made
    assert by_link["totalCount"] == by_document["totalCount"] == 5


async def test_cursors_walk_either_order_once(gql):
    contact, made = await linked_in_another_order(gql, n=7)
    for order, expected in (("CREATED_AT", made[::-1]), ("LINKED_AT", made)):
        seen, pages, last = await walk(gql, PAGE, {"id": contact, "order": order},
                                       lambda d: d["contact"]["documents"], first=3)
        assert seen == expected and pages == 3, order
        assert last["totalCount"] == 7 and len(last["edges"]) == 1


async def test_a_cursor_serves_only_the_order_it_came_from(gql):
    contact, _ = await linked_in_another_order(gql)
    page = await page_of(gql, contact, order="LINKED_AT", first=2)
    error = await gql.error(PAGE, {"id": contact, "order": "CREATED_AT", "first": 2,
                                   "after": page["pageInfo"]["endCursor"]},
                            code="validation_error")
    assert error["extensions"]["details"]["fields"] == {
        "after": "is a cursor of the list in another order"}


async def test_pages_are_the_same_with_or_without_the_total(gql):
    contact, _ = await linked_in_another_order(gql, n=6)
    for order in ("CREATED_AT", "LINKED_AT"):
        for page in ({"first": 2}, {"first": 2, "offset": 2}, {"first": 4, "offset": 4}):
            counted = await page_of(gql, contact, order=order, **page)
            uncounted = await page_of(gql, contact, PAGE_WITHOUT_TOTAL, order=order, **page)
            assert counted.pop("totalCount") == 6
            assert counted == uncounted, (order, page)


async def test_the_last_and_past_the_last_page_know_they_are_last(gql):
    contact, made = await linked_in_another_order(gql, n=4)
    page = await page_of(gql, contact, PAGE_WITHOUT_TOTAL, first=4)
    assert [e["node"]["id"] for e in page["edges"]] == made[::-1]
    assert page["pageInfo"]["hasNextPage"] is False
    past = await page_of(gql, contact, PAGE_WITHOUT_TOTAL, first=4,
                         after=page["pageInfo"]["endCursor"])
    assert past["edges"] == [] and past["pageInfo"]["hasNextPage"] is False
    assert past["pageInfo"]["hasPreviousPage"] is True


async def test_the_role_filter_and_the_total_agree(gql):
    contact = await gql.create_entity("CONTACT")
    signed = []
    for i in range(5):
        document = (await gql.create_document())["id"]
        await gql.link(document, "CONTACT", contact, role="signed" if i % 2 else "draft")
        if i % 2:
            signed.append(document)
    page = await page_of(gql, contact, role="signed")
    assert [e["node"]["id"] for e in page["edges"]] == signed[::-1]
    assert page["totalCount"] == 2 and {e["role"] for e in page["edges"]} == {"signed"}


async def test_a_deleted_document_leaves_the_lists_and_its_links_go(gql, db, tenant):
    contact, made = await linked_in_another_order(gql, n=3)
    await gql("mutation($id: ID!) { deleteDocument(id: $id) { id } }", {"id": made[1]})
    page = await page_of(gql, contact)
    assert [e["node"]["id"] for e in page["edges"]] == [made[2], made[0]]
    assert page["totalCount"] == 2
    assert await db.fetchval("select count(*) from links where workspace_id = $1 "
                             "and document_id = $2", tenant.id, uuid.UUID(made[1])) == 0


async def test_every_link_carries_its_documents_time(gql, db, tenant):
    await linked_in_another_order(gql, n=2)
    rows = await db.fetch(
        "select l.document_created_at, d.created_at from links l join documents d "
        "on d.workspace_id = l.workspace_id and d.id = l.document_id "
        "where l.workspace_id = $1", tenant.id)
    assert len(rows) == 2
    assert all(row["document_created_at"] == row["created_at"] for row in rows)


async def test_links_a_bulk_load_left_without_the_time_are_completed(gql, db, tenant,
                                                                    database_url):
    """A load with triggers off (as the benchmarks' loaders do) names only the old
    columns; `docgraph migrate`, which every serving command runs, completes them."""
    contact = await gql.create_entity("CONTACT")
    documents = [(await gql.create_document())["id"] for _ in range(3)]
    async with db.transaction() as conn:
        await conn.execute("set local session_replication_role = replica")
        for document in documents:
            await conn.execute(
                "insert into links (workspace_id, id, document_id, entity_type, entity_id) "
                "values ($1, $2, $3, 'contact', $4)",
                tenant.id, uuid.uuid4(), uuid.UUID(document), uuid.UUID(contact))
    missing = ("select count(*) from links where workspace_id = $1 "
               "and document_created_at is null")
    assert await db.fetchval(missing, tenant.id) == 3
    await migrate(database_url)
    assert await db.fetchval(missing, tenant.id) == 0
    page = await page_of(gql, contact)
    assert [e["node"]["id"] for e in page["edges"]] == documents[::-1]


async def test_the_rest_shims_keep_their_order_and_totals(api, gql):
    contact, made = await linked_in_another_order(gql, n=3)
    r = await api.get(f"/v1/contacts/{contact}/documents", params={"per_page": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [d["id"] for d in body["data"]["documents"]] == made[::-1][:2]
    assert body["meta"] == {"page": 1, "per_page": 2, "total": 3}


BUSINESS_PAGE = """
query($id: ID!, $order: LinkedDocumentOrder, $first: Int, $after: String, $offset: Int) {
  business(id: $id) {
    documents(type: CONTRACT, orderBy: $order, first: $first, after: $after,
              offset: $offset) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id type } }
    }
  }
}
"""


async def test_pages_filtered_by_the_documents_type_walk_and_count_alike(gql):
    """Filtered by the document's type, the page and its total come from one pass over
    the matching documents: cursors, offsets and the page past the end agree with it."""
    business = await gql.create_entity("COMPANY", name="Acme")
    contracts = []
    for i in range(7):
        kind = "CONTRACT" if i % 3 else "OTHER"
        document = (await gql.create_document(type=kind))["id"]
        await gql.link(document, "COMPANY", business)
        if kind == "CONTRACT":
            contracts.append(document)
    for order in ("CREATED_AT", "LINKED_AT"):
        seen, pages, last = await walk(gql, BUSINESS_PAGE, {"id": business, "order": order},
                                       lambda d: d["business"]["documents"], first=2)
        assert seen == contracts[::-1] and pages == 2, order
        assert last["totalCount"] == 4
        past = (await gql(BUSINESS_PAGE, {"id": business, "order": order, "first": 2,
                                          "after": last["pageInfo"]["endCursor"]}))
        past = past["business"]["documents"]
        assert past["edges"] == [] and past["totalCount"] == 4
        assert past["pageInfo"]["hasPreviousPage"] is True
        assert past["pageInfo"]["hasNextPage"] is False
    offset = (await gql(BUSINESS_PAGE, {"id": business, "first": 3, "offset": 2}))
    offset = offset["business"]["documents"]
    assert [e["node"]["id"] for e in offset["edges"]] == contracts[::-1][2:]
    assert offset["totalCount"] == 4 and offset["pageInfo"]["hasPreviousPage"] is True


async def test_a_link_order_cursor_is_refused_by_the_other_lists(gql):
    """A cursor names its order: one from an entity's list by link time is not a
    place in the workspace's documents or entities (no silent other order)."""
    contact, _ = await linked_in_another_order(gql, n=3)
    cursor = (await page_of(gql, contact, order="LINKED_AT", first=1))["pageInfo"]["endCursor"]
    for query in ("query($a: String) { documents(first: 2, after: $a) { nodes { id } } }",
                  "query($a: String) { entities(first: 2, after: $a) { nodes { id } } }"):
        error = await gql.error(query, {"a": cursor}, code="validation_error")
        assert error["extensions"]["details"]["fields"] == {
            "after": "is a cursor of the list in another order"}
