"""Lists: the workspace's documents and their filters, and pagination on every list."""

import base64
import uuid

import pytest

DOCUMENTS = """
query($filter: DocumentFilter, $first: Int, $after: String, $offset: Int) {
  documents(filter: $filter, first: $first, after: $after, offset: $offset) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id name } }
    nodes { id }
  }
}
"""
CONTACT_DOCUMENTS = """
query($id: ID!, $first: Int, $after: String, $offset: Int) {
  contact(id: $id) {
    documents(first: $first, after: $after, offset: $offset) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id } }
    }
  }
}
"""
ENTITIES = """
query($first: Int, $after: String, $offset: Int) {
  entities(type: MATTER, first: $first, after: $after, offset: $offset) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id } }
  }
}
"""


async def listed(gql, filter=None, **page):
    data = await gql(DOCUMENTS, {"filter": filter, **page})
    return data["documents"]


async def names(gql, filter):
    return [e["node"]["name"] for e in (await listed(gql, filter, first=100))["edges"]]


async def test_documents_newest_first_with_totals(gql):
    made = [await gql.create_document(name=f"n{i}") for i in range(3)]
    page = await listed(gql)
    assert page["totalCount"] == 3
    assert [e["node"]["id"] for e in page["edges"]] == [d["id"] for d in made[::-1]]
    assert [n["id"] for n in page["nodes"]] == [d["id"] for d in made[::-1]]
    assert page["pageInfo"] == {"hasNextPage": False, "hasPreviousPage": False,
                                "startCursor": page["edges"][0]["cursor"],
                                "endCursor": page["edges"][-1]["cursor"]}


async def test_document_filters(gql):
    contact = await gql.create_entity("CONTACT")
    await gql.create_document(name="Acme NDA.pdf", folder="/clients/acme", tags=["nda", "2026"])
    await gql.create_document(name="acme-logo.png", mimeType="image/png",
                              folder="/clients/acme/brand", tags=["brand"])
    await gql.create_document(name="Passport.jpg", mimeType="image/jpeg", type="IDENTIFICATION",
                              tags=["nda"])
    linked = await gql.create_document(name="Statement.pdf", type="BANK_STATEMENT",
                                       folder="/clients")
    await gql.link(linked["id"], "CONTACT", contact)
    passport = (await listed(gql, {"nameContains": "passport"}))["edges"][0]["node"]
    await gql("mutation($id: ID!) { verifyDocument(id: $id) { id } }", {"id": passport["id"]})

    assert await names(gql, {"folder": "/clients/acme"}) == ["Acme NDA.pdf"]
    assert await names(gql, {"folder": "/clients/acme/"}) == ["Acme NDA.pdf"]
    assert await names(gql, {"folder": "/clients/acme", "includeSubfolders": True}) == \
        ["acme-logo.png", "Acme NDA.pdf"]
    assert await names(gql, {"folder": "/clients", "includeSubfolders": True}) == \
        ["Statement.pdf", "acme-logo.png", "Acme NDA.pdf"]
    assert await names(gql, {"folder": "/", "includeSubfolders": True}) == \
        ["Statement.pdf", "acme-logo.png", "Acme NDA.pdf"]
    assert await names(gql, {"folder": "/clients/acm"}) == []
    assert await names(gql, {"tags": ["nda"]}) == ["Passport.jpg", "Acme NDA.pdf"]
    assert await names(gql, {"tags": ["nda", "2026"]}) == ["Acme NDA.pdf"]
    assert await names(gql, {"type": "IDENTIFICATION"}) == ["Passport.jpg"]
    assert await names(gql, {"status": "VERIFIED"}) == ["Passport.jpg"]
    assert await names(gql, {"status": "PENDING", "type": "IDENTIFICATION"}) == []
    assert await names(gql, {"mimeType": "image/png"}) == ["acme-logo.png"]
    assert await names(gql, {"mimeType": "IMAGE/*"}) == ["Passport.jpg", "acme-logo.png"]
    assert await names(gql, {"nameContains": "ACME"}) == ["acme-logo.png", "Acme NDA.pdf"]
    assert await names(gql, {"nameContains": "%"}) == []  # no wildcards
    assert await names(gql, {"linkedTo": {"entityType": "CONTACT", "entityId": contact}}) == \
        ["Statement.pdf"]
    assert await names(gql, {"linkedTo": {"entityType": "DEAL", "entityId": contact}}) == []
    assert await names(gql, {"folder": None, "tags": None, "linkedTo": None}) == \
        await names(gql, None)
    combined = {"nameContains": "acme", "mimeType": "application/pdf", "tags": ["nda"],
                "folder": "/clients", "includeSubfolders": True}
    assert await names(gql, combined) == ["Acme NDA.pdf"]


@pytest.mark.parametrize(("filter", "field"), [
    ({"folder": "relative"}, "folder"),
    ({"folder": "/a/../b"}, "folder"),
    ({"mimeType": "pdf"}, "mimeType"),
    ({"mimeType": "*/*"}, "mimeType"),
    ({"nameContains": ""}, "nameContains"),
    ({"nameContains": "a\u0000b"}, "nameContains"),
    ({"tags": ["t" * 65]}, "tags"),
    ({"linkedTo": {"entityType": "CONTACT", "entityId": "nope"}}, "linkedTo"),
])
async def test_document_filters_are_validated(gql, filter, field):
    data = await gql.result(DOCUMENTS, {"filter": filter})
    (error,) = data["errors"]
    assert error["extensions"]["code"] == "validation_error"
    assert list(error["extensions"]["details"]["fields"]) == [field]


async def walk(gql, query, variables, key, first):
    """Every item of a list, page by page through the cursors."""
    seen, after, pages = [], None, 0
    while True:
        data = await gql(query, {**variables, "first": first, "after": after})
        page = key(data)
        seen += [e["node"]["id"] for e in page["edges"]]
        pages += 1
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            return seen, pages, page
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        after = page["pageInfo"]["endCursor"]


async def test_cursor_pages_walk_the_whole_list_once(gql):
    made = [(await gql.create_document())["id"] for _ in range(7)]
    seen, pages, last = await walk(gql, DOCUMENTS, {}, lambda d: d["documents"], first=3)
    assert seen == made[::-1]
    assert pages == 3
    assert last["totalCount"] == 7 and len(last["edges"]) == 1


async def test_a_cursor_survives_inserts_at_the_top(gql):
    made = [(await gql.create_document())["id"] for _ in range(4)]
    first = await listed(gql, first=2)
    await gql.create_document()  # lands before the page we already have
    second = await listed(gql, first=2, after=first["pageInfo"]["endCursor"])
    assert [e["node"]["id"] for e in second["edges"]] == [made[1], made[0]]
    assert second["totalCount"] == 5
    assert second["pageInfo"]["hasNextPage"] is False
    # While an offset would show the second page's first item again.
    shifted = await listed(gql, first=2, offset=2)
    assert [e["node"]["id"] for e in shifted["edges"]] == [made[2], made[1]]


async def test_a_cursor_of_a_deleted_item_still_works(gql):
    made = [(await gql.create_document())["id"] for _ in range(4)]
    first = await listed(gql, first=2)
    await gql("mutation($id: ID!) { deleteDocument(id: $id) { id } }", {"id": made[2]})
    second = await listed(gql, first=2, after=first["pageInfo"]["endCursor"])
    assert [e["node"]["id"] for e in second["edges"]] == [made[1], made[0]]


async def test_offset_pages(gql):
    made = [(await gql.create_document())["id"] for _ in range(5)][::-1]
    page = await listed(gql, first=2, offset=2)
    assert [e["node"]["id"] for e in page["edges"]] == made[2:4]
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["pageInfo"]["hasPreviousPage"] is True
    # Cursors of an offset page continue where it ends.
    after = await listed(gql, first=2, after=page["pageInfo"]["endCursor"])
    assert [e["node"]["id"] for e in after["edges"]] == made[4:]
    beyond = await listed(gql, first=2, offset=10)
    assert beyond["edges"] == [] and beyond["totalCount"] == 5
    assert beyond["pageInfo"] == {"hasNextPage": False, "hasPreviousPage": True,
                                  "startCursor": None, "endCursor": None}


async def test_first_zero_counts_only(gql):
    for _ in range(2):
        await gql.create_document()
    page = await listed(gql, first=0)
    assert page["edges"] == [] and page["totalCount"] == 2
    assert page["pageInfo"]["hasNextPage"] is True


async def test_the_default_page_is_25_and_100_is_the_most(gql):
    for _ in range(26):
        await gql.create_document()
    data = await gql("{ documents { totalCount edges { cursor } } }")
    assert data["documents"]["totalCount"] == 26
    assert len(data["documents"]["edges"]) == 25
    assert len((await listed(gql, first=100))["edges"]) == 26


def cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(("page", "fields"), [
    ({"first": 101}, {"first": "must be between 0 and 100"}),
    ({"first": -1}, {"first": "must be between 0 and 100"}),
    ({"offset": -1}, {"offset": "must be between 0 and 2147483647"}),
    ({"after": "garbage!"}, {"after": "must be a cursor returned by this API"}),
    ({"after": cursor("v1|yesterday|nope")}, {"after": "must be a cursor returned by this API"}),
    ({"after": cursor(f"v1|2026-01-01T00:00:00|{uuid.uuid4()}")},
     {"after": "must be a cursor returned by this API"}),  # no time zone
    ({"after": cursor(f"v9|2026-01-01T00:00:00+00:00|{uuid.uuid4()}")},
     {"after": "must be a cursor returned by this API"}),
    ({"after": "A" * 500}, {"after": "must be a cursor returned by this API"}),
    ({"after": cursor(f"v1|2026-01-01T00:00:00+00:00|{uuid.uuid4()}"), "offset": 0},
     {"offset": "cannot be combined with after"}),
    ({"first": 500, "offset": -5}, {"first": "must be between 0 and 100",
                                    "offset": "must be between 0 and 2147483647"}),
])
async def test_page_arguments_are_validated_on_every_list(gql, page, fields):
    contact = await gql.create_entity("CONTACT")
    for query, variables in [(DOCUMENTS, {}), (CONTACT_DOCUMENTS, {"id": contact}),
                             (ENTITIES, {})]:
        error = await gql.error(query, {**variables, **page}, code="validation_error")
        assert error["extensions"]["details"] == {"fields": fields}


async def test_page_size_must_be_an_int(gql):
    error = await gql.error(DOCUMENTS, {"first": "ten"}, code="validation_error")
    assert "$first" in error["message"]


async def test_a_contacts_documents_page_through_cursors_and_offsets(gql):
    contact = await gql.create_entity("CONTACT")
    made = []
    for _ in range(5):
        doc = await gql.create_document()
        await gql.link(doc["id"], "CONTACT", contact)
        made.append(doc["id"])
    seen, pages, last = await walk(gql, CONTACT_DOCUMENTS, {"id": contact},
                                   lambda d: d["contact"]["documents"], first=2)
    assert seen == made[::-1] and pages == 3 and last["totalCount"] == 5
    data = await gql(CONTACT_DOCUMENTS, {"id": contact, "first": 2, "offset": 4})
    page = data["contact"]["documents"]
    assert [e["node"]["id"] for e in page["edges"]] == [made[0]]
    assert page["pageInfo"]["hasNextPage"] is False and page["pageInfo"]["hasPreviousPage"]


async def test_entities_page_through_cursors(gql):
    made = [await gql.create_entity("MATTER", name=f"m{i}") for i in range(5)]
    seen, pages, _ = await walk(gql, ENTITIES, {}, lambda d: d["entities"], first=2)
    assert seen == made[::-1] and pages == 3
    data = await gql(ENTITIES, {"first": 1, "offset": 4})
    assert [e["node"]["id"] for e in data["entities"]["edges"]] == [made[0]]


# Cursors that decode to instants outside what asyncpg and PostgreSQL take: the
# offset pushes them out of Python's years 1-9999 once converted to UTC, or they
# land on the ends that asyncpg silently turns into -infinity/+infinity.
@pytest.mark.parametrize("stamp", [
    "0001-01-01T00:00:00+14:00",          # year 0 in UTC
    "0001-01-01T13:59:59.999999+14:00",   # a microsecond before year 1 in UTC
    "9999-12-31T23:00:00-14:00",          # year 10000 in UTC
    "9999-12-31T10:00:00-23:59:59",       # year 10000 in UTC, the widest offset
    "0001-01-01T00:00:00+00:00",          # asyncpg sends -infinity
    "9999-12-31T23:59:59.999999+00:00",   # asyncpg sends +infinity
    "9999-12-31T20:59:59.999999-03:00",   # +infinity, from another offset
])
async def test_a_cursor_out_of_the_databases_range_is_a_validation_error(gql, stamp):
    contact = await gql.create_entity("CONTACT")
    await gql.create_entity("MATTER")
    await gql.link((await gql.create_document())["id"], "CONTACT", contact)
    after = cursor(f"v1|{stamp}|{uuid.uuid4()}")
    for query, variables in [(DOCUMENTS, {}), (CONTACT_DOCUMENTS, {"id": contact}),
                             (ENTITIES, {})]:
        error = await gql.error(query, {**variables, "after": after}, code="validation_error")
        assert error["extensions"]["details"] == {
            "fields": {"after": "must be a cursor returned by this API"}}


async def test_cursors_at_the_ends_of_the_range_still_work(gql):
    await gql.create_document()
    for stamp in ["0001-01-01T00:00:00.000001+00:00", "9999-12-31T23:59:59.999998+00:00",
                  "0001-01-01T14:00:00.000001+14:00", "9999-12-31T09:59:59-14:00"]:
        after = cursor(f"v1|{stamp}|{uuid.uuid4()}")
        page = (await gql(DOCUMENTS, {"after": after}))["documents"]
        assert page["totalCount"] == 1


async def test_the_lists_are_the_same_with_or_without_their_total(gql):
    """totalCount is counted only when selected: the pages and their pageInfo do not
    depend on it (the last page knows it is last, a cursor page has a previous one)."""
    for _ in range(5):
        await gql.create_document()
        await gql.create_entity("MATTER")
    for query, key, filter_ in ((DOCUMENTS, "documents", {"filter": None}),
                                (ENTITIES, "entities", {})):
        uncounted = query.replace("    totalCount\n", "")
        after = None
        for page in ({"first": 2}, {"first": 2, "offset": 3}, {"first": 10},
                     {"first": 2, "after": "next"}):
            if page.get("after") == "next":
                page = {"first": 2, "after": after}
            counted = (await gql(query, {**filter_, **page}))[key]
            plain = (await gql(uncounted, {**filter_, **page}))[key]
            assert counted.pop("totalCount") >= 5
            assert counted == plain, (key, page)
            after = counted["pageInfo"]["endCursor"]
        last = (await gql(uncounted, {**filter_, "first": 100}))[key]
        assert last["pageInfo"]["hasNextPage"] is False
        second = (await gql(uncounted, {**filter_, "first": 1,
                                        "after": last["edges"][0]["cursor"]}))[key]
        assert second["pageInfo"]["hasPreviousPage"] is True
        assert second["pageInfo"]["hasNextPage"] is (len(last["edges"]) > 2)
